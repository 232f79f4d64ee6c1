//! Command line: Prometheus-exporter style flags, accepted before or after
//! the subcommand, each also readable from an `AWSCONN_…` environment variable.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::log_input::Format;

#[derive(Debug, Parser)]
#[command(
    name = "aws-connectivity-exporter",
    version = crate::render::BuildInfo::long_version(),
    about = "Prometheus exporter for API Gateway VPC links, PrivateLink and AWS Interconnect: \
             polls their state and says why a private integration fails"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// YAML configuration file (see examples/config.yaml). `--config.file`
    /// is the same flag, as Prometheus and its exporters spell it.
    #[arg(
        long = "config",
        visible_alias = "config.file",
        global = true,
        env = "AWSCONN_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    /// Address to listen on for HTTP requests; `:PORT` means every interface.
    #[arg(
        long = "web.listen-address",
        global = true,
        env = "AWSCONN_WEB_LISTEN_ADDRESS",
        default_value = ":9740",
        value_name = "ADDRESS"
    )]
    pub listen_address: String,

    /// Path under which to expose metrics.
    #[arg(
        long = "web.telemetry-path",
        global = true,
        env = "AWSCONN_WEB_TELEMETRY_PATH",
        default_value = "/metrics",
        value_name = "PATH",
        value_parser = telemetry_path
    )]
    pub telemetry_path: String,

    /// Web configuration file in the exporter-toolkit format: TLS (with client
    /// certificates), basic auth with bcrypt hashes, response headers, a rate
    /// limit. Read again when it or a certificate it names changes.
    #[arg(
        long = "web.config.file",
        global = true,
        env = "AWSCONN_WEB_CONFIG_FILE",
        value_name = "FILE"
    )]
    pub web_config_file: Option<PathBuf>,

    /// Most requests answered at once; past it the answer is 503. 0: no limit.
    #[arg(
        long = "web.max-requests",
        global = true,
        env = "AWSCONN_WEB_MAX_REQUESTS",
        default_value_t = 40,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(0..=1_000_000)
    )]
    pub max_requests: u32,

    /// Most connections open at once (lowered to stay below the
    /// file-descriptor limit); past it the connection that waited longest
    /// without a request in flight is closed.
    #[arg(
        long = "web.max-connections",
        global = true,
        env = "AWSCONN_WEB_MAX_CONNECTIONS",
        default_value_t = 512,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=1_000_000)
    )]
    pub max_connections: u32,

    /// Time a client has to send a request's header, from the connection
    /// (TLS handshake included) or from the request's first byte.
    #[arg(
        long = "web.read-header-timeout",
        global = true,
        env = "AWSCONN_WEB_READ_HEADER_TIMEOUT",
        default_value = "10s",
        value_name = "DURATION",
        value_parser = timeout
    )]
    pub read_header_timeout: Duration,

    /// Time a kept-alive connection may stay silent after an answer.
    #[arg(
        long = "web.idle-timeout",
        global = true,
        env = "AWSCONN_WEB_IDLE_TIMEOUT",
        default_value = "2m",
        value_name = "DURATION",
        value_parser = timeout
    )]
    pub idle_timeout: Duration,

    /// On SIGTERM, time left to requests in flight before every connection is cut.
    #[arg(
        long = "web.shutdown-timeout",
        global = true,
        env = "AWSCONN_WEB_SHUTDOWN_TIMEOUT",
        default_value = "5s",
        value_name = "DURATION",
        value_parser = timeout
    )]
    pub shutdown_timeout: Duration,

    /// Take configuration reloads over HTTP (`POST /-/reload`), as Prometheus'
    /// flag of the same name does; SIGHUP reloads either way.
    #[arg(
        long = "web.enable-lifecycle",
        global = true,
        env = "AWSCONN_WEB_ENABLE_LIFECYCLE"
    )]
    pub enable_lifecycle: bool,

    /// This process's shard (0-based): it polls and exports only the
    /// (account, region) scopes that a stable hash assigns to it, as
    /// kube-state-metrics' `--shard` does. Needs `--total-shards`.
    #[arg(
        long = "shard",
        global = true,
        env = "AWSCONN_SHARD",
        value_name = "N",
        conflicts_with = "shard_from_hostname"
    )]
    pub shard: Option<u32>,

    /// How many shards split the scopes; 1 polls them all.
    #[arg(
        long = "total-shards",
        global = true,
        env = "AWSCONN_TOTAL_SHARDS",
        default_value_t = 1,
        value_name = "N",
        value_parser = clap::value_parser!(u32).range(1..=10_000)
    )]
    pub total_shards: u32,

    /// Take the shard from the host name's trailing ordinal (`awsconn-2` is
    /// shard 2), as a Kubernetes StatefulSet names its pods.
    #[arg(
        long = "shard-from-hostname",
        global = true,
        env = "AWSCONN_SHARD_FROM_HOSTNAME"
    )]
    pub shard_from_hostname: bool,

    /// Leave the exporter's own process metrics (process_*) out of the telemetry path.
    #[arg(
        long = "web.disable-exporter-metrics",
        global = true,
        env = "AWSCONN_WEB_DISABLE_EXPORTER_METRICS"
    )]
    pub disable_exporter_metrics: bool,

    /// Only log messages with this severity or above.
    #[arg(
        long = "log.level",
        global = true,
        env = "AWSCONN_LOG_LEVEL",
        value_enum,
        default_value_t = LogLevel::Info
    )]
    pub log_level: LogLevel,

    /// Output format of log messages.
    #[arg(
        long = "log.format",
        global = true,
        env = "AWSCONN_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Logfmt
    )]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Poll in the background and serve /metrics, /healthz, /ready and / (the default).
    Serve,
    /// Poll every collector once and print the exposition; exit 1 if any collector failed.
    Once,
    /// Classify API Gateway execution-log lines (files, or stdin) and print counts as JSON.
    Classify {
        /// Files of execution logs, as plain lines or as the console, `aws
        /// logs`, Logs Insights or test-invoke-method give them; none, or
        /// `-`, reads stdin.
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The inputs' format; by default each input's own, from its first lines.
        #[arg(long, value_enum, value_name = "FORMAT")]
        format: Option<Format>,
    },
    /// Poll once and report every runbook check per VPC link; exit 1 if any check fails.
    Diagnose {
        /// Report only this VPC link.
        #[arg(long = "vpc-link", value_name = "ID")]
        vpc_link: Option<String>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Validate the configuration and exit: 0 valid, 2 invalid.
    CheckConfig,
    /// Print the least-privilege IAM policy (JSON) for the collectors the config enables.
    IamPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Logfmt,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

fn telemetry_path(value: &str) -> Result<String, String> {
    if !value.starts_with('/') {
        return Err("must start with /".into());
    }
    if matches!(value, "/" | "/healthz" | "/ready") {
        return Err(format!("{value} is already served by the exporter"));
    }
    Ok(value.to_owned())
}

/// A server timeout: above zero, at most a day.
fn timeout(value: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(value).map_err(|e| e.to_string())?;
    if d.is_zero() || d > Duration::from_secs(86_400) {
        return Err("must be above 0s and at most 1d".into());
    }
    Ok(d)
}

impl GlobalArgs {
    /// The web server's limits and deadlines, from the `--web.*` flags.
    pub fn web_limits(&self) -> crate::web::server::Limits {
        crate::web::server::Limits {
            max_requests: self.max_requests as usize,
            max_connections: self.max_connections as usize,
            read_header_timeout: self.read_header_timeout,
            idle_timeout: self.idle_timeout,
            shutdown_timeout: self.shutdown_timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(
            std::iter::once("aws-connectivity-exporter").chain(args.iter().copied()),
        )
        .unwrap()
    }

    #[test]
    fn defaults() {
        let cli = parse(&[]);
        assert!(cli.command.is_none());
        assert_eq!(cli.global.listen_address, ":9740");
        assert_eq!(cli.global.telemetry_path, "/metrics");
        assert_eq!(cli.global.log_format, LogFormat::Logfmt);
        let web = cli.global.web_limits();
        assert_eq!(web.max_requests, 40);
        assert_eq!(web.max_connections, 512);
        assert_eq!(web.read_header_timeout, Duration::from_secs(10));
        assert_eq!(web.idle_timeout, Duration::from_secs(120));
        assert_eq!(web.shutdown_timeout, Duration::from_secs(5));
    }

    #[test]
    fn server_timeouts_are_bounded() {
        assert!(timeout("0s").is_err());
        assert!(timeout("2d").is_err());
        assert!(timeout("soon").is_err());
        assert_eq!(timeout("250ms").unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn flags_before_or_after_the_subcommand() {
        let after = parse(&["once", "--config", "c.yaml", "--log.level", "debug"]);
        let before = parse(&["--config", "c.yaml", "--log.level", "debug", "once"]);
        for cli in [after, before] {
            assert!(matches!(cli.command, Some(Command::Once)));
            assert_eq!(cli.global.config, Some(PathBuf::from("c.yaml")));
            assert_eq!(cli.global.log_level, LogLevel::Debug);
        }
    }

    #[test]
    fn diagnose_options() {
        let cli = parse(&["diagnose", "--vpc-link", "abc", "--output", "json"]);
        match cli.command {
            Some(Command::Diagnose { vpc_link, output }) => {
                assert_eq!(vpc_link.as_deref(), Some("abc"));
                assert_eq!(output, OutputFormat::Json);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn telemetry_path_must_be_a_free_absolute_path() {
        assert!(telemetry_path("metrics").is_err());
        assert!(telemetry_path("/healthz").is_err());
        assert_eq!(telemetry_path("/probe").unwrap(), "/probe");
    }
}
