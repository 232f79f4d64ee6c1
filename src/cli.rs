//! Command line: Prometheus-exporter style flags, accepted before or after
//! the subcommand, each also readable from an `AWSCONN_…` environment variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// YAML configuration file (see examples/config.yaml).
    #[arg(
        long = "config",
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

    /// Take configuration reloads over HTTP (`POST /-/reload`), as Prometheus'
    /// flag of the same name does; SIGHUP reloads either way.
    #[arg(
        long = "web.enable-lifecycle",
        global = true,
        env = "AWSCONN_WEB_ENABLE_LIFECYCLE"
    )]
    pub enable_lifecycle: bool,

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
        /// Files with one log event per line; none, or `-`, reads stdin.
        #[arg(value_name = "FILE")]
        files: Vec<PathBuf>,
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
