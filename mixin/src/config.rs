//! The mixin's one config (kubernetes-mixin's `_config`): the job selector,
//! thresholds, `for` durations, URL bases and dashboard settings. Every
//! generated file reads it; `mixin/config.yaml` holds the shipped values.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Deserializer};

/// A Prometheus duration (`90s`, `15m`, `1h30m`, `50d`), kept in whole
/// seconds and written back in Prometheus' own spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(u64);

impl Duration {
    pub fn from_seconds(seconds: u64) -> Self {
        Duration(seconds)
    }

    pub fn seconds(self) -> u64 {
        self.0
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let parsed = humantime::parse_duration(text.trim())
            .map_err(|e| format!("{text:?} is not a duration like 30s, 15m, 1h or 50d: {e}"))?;
        if parsed.subsec_nanos() != 0 {
            return Err(format!("{text:?}: use whole seconds"));
        }
        Ok(Duration(parsed.as_secs()))
    }
}

impl std::ops::Add for Duration {
    type Output = Duration;
    fn add(self, other: Duration) -> Duration {
        Duration(self.0.saturating_add(other.0))
    }
}

impl fmt::Display for Duration {
    /// The shortest Prometheus spelling: `0s`, `90s` -> `1m30s`, `86400s` -> `1d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.0;
        for (unit, name) in [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")] {
            if rest >= unit {
                write!(f, "{}{name}", rest / unit)?;
                rest %= unit;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// How long each alert's condition must hold before it fires (`for`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForDurations {
    pub exporter_down: Duration,
    pub collector_failing: Duration,
    pub data_stale: Duration,
    pub aws_api_throttled: Duration,
    pub aws_access_denied: Duration,
    /// `AwsconnAwsQuotaSpent`: the quota has cut polls short this long.
    pub aws_quota_spent: Duration,
    pub config_reload_failed: Duration,
    /// `AwsconnDiscoveryFailing`: the organisation could not be listed
    /// this long (the exporter retries every minute meanwhile).
    pub discovery_failing: Duration,
    pub vpc_link_failed: Duration,
    pub vpc_link_inactive: Duration,
    pub vpc_link_idle: Duration,
    pub integration_unresolved: Duration,
    /// The check alerts of breaks that do not flap: a state AWS reports or
    /// a configuration (a deleted load balancer, a missing listener, an
    /// endpoint service or connection that is gone or rejected, security
    /// group and network ACL rules, a certificate that does not cover the
    /// host, TLS errors the logs already hold). The exporter keeps its last
    /// good reading through a failed poll, so one bad evaluation is a real
    /// break: these page at once.
    pub check_broken: Duration,
    /// `AwsconnNoHealthyTargets`: target health flaps (a deploy, a slow
    /// health check), so it must hold a while.
    pub targets_unhealthy: Duration,
    /// `AwsconnTlsProbeFailing`: a probe can fail on a network blip.
    pub tls_probe_failing: Duration,
    /// `AwsconnVpcLinkCheckUnknown`: longer than `collector_failing`, whose
    /// alert explains (and mutes) it in the usual case.
    pub check_unknown: Duration,
    pub integration_errors: Duration,
    pub api_5xx_high: Duration,
    pub target_resets: Duration,
    /// `AwsconnLoadBalancerErrors`: an ALB's 5XXs and failed connections
    /// to targets come in bursts (a deploy, a slow target).
    pub load_balancer_errors: Duration,
    pub execution_log_unreadable: Duration,
    pub interconnect_connection_down: Duration,
    /// `failed` or `deleted`.
    pub interconnect_connection_gone: Duration,
    /// Stuck outside `available` (`pending`, `updating`, ...).
    pub interconnect_connection_stuck: Duration,
    pub interconnect_environment_degraded: Duration,
    /// `AwsconnInterconnectAttachPointMissing`: one list that leaves a
    /// gateway out is not paged (AWS's lists are eventually consistent).
    pub interconnect_attach_point_missing: Duration,
    /// `AwsconnCertificateExpiring`, both of its rules.
    pub certificate_expiring: Duration,
}

/// The thresholds of the alerts that compare a number.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// `AwsconnDataStale`: a collector's last success is older than this.
    pub data_stale_after: Duration,
    /// `AwsconnAwsApiThrottled`: share of a service's requests throttled.
    pub throttled_ratio: f64,
    /// `AwsconnVpcLinkIdle`: days without traffic (AWS makes a V2 link inactive at 60).
    pub vpc_link_idle_days: u64,
    /// `AwsconnIntegrationErrors`: execution errors of one class per second.
    pub integration_errors_per_second: f64,
    /// `AwsconnApi5xxHigh`: share of an API stage's requests answered 5XX.
    pub api_5xx_ratio: f64,
    /// `AwsconnTargetResets`: NLB target resets per CloudWatch period.
    pub target_resets: f64,
    /// `AwsconnLoadBalancerErrors`: an ALB's 502, 503 or 504 answers, or
    /// failed connections or TLS handshakes to its targets, per CloudWatch
    /// period.
    pub load_balancer_errors: f64,
    /// `AwsconnCertificateExpiring`: a listener's certificate expires within
    /// this (warning)...
    pub certificate_expiry_warning: Duration,
    /// ...or within this, or has expired (critical).
    pub certificate_expiry_critical: Duration,
}

/// Dashboard settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardSettings {
    /// Tags of every dashboard; the dashboards link to each other by the first.
    pub tags: Vec<String>,
    /// Auto-refresh (`30s`, `1m`, ...).
    pub refresh: Duration,
    /// Default time range: the last this long.
    pub time_range: Duration,
    /// How the browser reaches the exporter's `/links` page from a data
    /// link: `http` or `https`; the address is the scrape target's `instance`.
    pub exporter_scheme: String,
}

/// What the exporter's own defaults are, for the time-to-page bounds: how
/// long after a break the exporter can have seen it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExporterDefaults {
    /// Every collector's default `interval`.
    pub poll_interval: Duration,
    /// `collectors.cloudwatch.period`: a CloudWatch datapoint covers this
    /// long before the exporter can read it.
    pub cloudwatch_period: Duration,
    /// `collectors.cloudwatch.delay`: the exporter asks this far behind
    /// now, for datapoints CloudWatch has finished.
    pub cloudwatch_delay: Duration,
}

/// The example Prometheus configuration's scrape job.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusExample {
    pub targets: Vec<String>,
    pub scrape_interval: Duration,
    pub evaluation_interval: Duration,
    pub alertmanagers: Vec<String>,
}

/// The example Alertmanager configuration's routing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerExample {
    pub group_wait: Duration,
    pub group_interval: Duration,
    pub repeat_interval: Duration,
    /// Receives `critical` alerts (a pager).
    pub pager_webhook: String,
    /// Receives `warning` alerts (a ticket queue or chat).
    pub queue_webhook: String,
}

/// The owner labels alerts carry and the receivers they route to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owners {
    /// Labels joined into an alert from the `_info` series of what it is
    /// about (`alerts::Owner`: a VPC link, an API, a load balancer, an
    /// Interconnect connection): the exporter's `tags_as_labels` under
    /// their label names (`Team` is `team`).
    #[serde(default)]
    pub labels: Vec<String>,
    /// A receiver per value of the first label: the alerts of a resource
    /// owned by `payments` go to the webhook named for `payments`.
    #[serde(default)]
    pub receivers: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The scrape job's name (`job="..."`), which every rule and panel selects on.
    pub job: String,
    /// Where `docs/runbooks.md` is published (a team's wiki, a fork);
    /// `#<alertname in lower case>` is appended. Empty (the default): the
    /// exporter's own `/runbooks` page, at the alert's `instance`.
    #[serde(default)]
    pub runbook_url: String,
    /// Grafana's base URL, for the `dashboard_url` annotation (`<base>/d/<uid>`).
    pub grafana_url: String,
    /// Resource alerts (every alert about an AWS resource) keep firing this
    /// long after their condition stops (`keep_firing_for`), so a failed
    /// scrape does not resolve them silently before `AwsconnExporterDown`
    /// fires and inhibits them. Longer than `for.exporter_down` plus a scrape.
    pub hold: Duration,
    #[serde(rename = "for")]
    pub for_: ForDurations,
    pub thresholds: Thresholds,
    pub dashboards: DashboardSettings,
    pub prometheus: PrometheusExample,
    pub alertmanager: AlertmanagerExample,
    /// Who owns a resource, for routing its alerts.
    #[serde(default)]
    pub owners: Owners,
    pub exporter: ExporterDefaults,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

impl Config {
    /// The shipped configuration (`mixin/config.yaml`, compiled in).
    pub fn shipped() -> Config {
        Config::parse(DEFAULT_CONFIG, "mixin/config.yaml").expect("the shipped config is valid")
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, path: &str) -> Result<Config, ConfigError> {
        let config: Config = serde_saphyr::from_str(text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.validate().map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), String> {
        // `$` would be a Grafana variable in every panel's query.
        if self.job.is_empty() || self.job.contains(['"', '\\', '\n', '$']) {
            return Err(format!(
                "job {:?} must be a plain, non-empty name",
                self.job
            ));
        }
        if self.hold <= self.for_.exporter_down + self.prometheus.scrape_interval {
            return Err(format!(
                "hold ({}) must be longer than for.exporter_down ({}) plus a scrape, or a dead \
                 exporter's resource alerts resolve before it is noticed",
                self.hold, self.for_.exporter_down
            ));
        }
        let t = &self.thresholds;
        // The tests fire 5 points above a ratio, so at most 0.9.
        for (name, ratio) in [
            ("thresholds.throttled_ratio", t.throttled_ratio),
            ("thresholds.api_5xx_ratio", t.api_5xx_ratio),
        ] {
            if !(0.01..=0.9).contains(&ratio) {
                return Err(format!("{name} must be between 0.01 and 0.9, not {ratio}"));
            }
        }
        if !(1..=59).contains(&t.vpc_link_idle_days) {
            return Err(format!(
                "thresholds.vpc_link_idle_days must be 1 to 59 (AWS deactivates a link at 60), not {}",
                t.vpc_link_idle_days
            ));
        }
        if !(t.integration_errors_per_second > 0.0 && t.integration_errors_per_second <= 1000.0) {
            return Err(format!(
                "thresholds.integration_errors_per_second must be above 0 and at most 1000, not {}",
                t.integration_errors_per_second
            ));
        }
        if !(0.0..=100.0).contains(&t.target_resets) {
            return Err(format!(
                "thresholds.target_resets must be 0 to 100, not {}",
                t.target_resets
            ));
        }
        if !(0.0..=1e6).contains(&t.load_balancer_errors) {
            return Err(format!(
                "thresholds.load_balancer_errors must be 0 to 1000000, not {}",
                t.load_balancer_errors
            ));
        }
        if !(t.certificate_expiry_critical < t.certificate_expiry_warning
            && t.certificate_expiry_critical.seconds() >= 3600
            && t.certificate_expiry_warning.seconds() <= 365 * 86_400)
        {
            return Err(format!(
                "thresholds.certificate_expiry_critical ({}) must be at least 1h and shorter than thresholds.certificate_expiry_warning ({}), which must be at most 365d",
                t.certificate_expiry_critical, t.certificate_expiry_warning
            ));
        }
        let longest = Duration::from_seconds(30 * 86_400);
        let f = &self.for_;
        for (name, d) in [
            ("for.exporter_down", f.exporter_down),
            ("for.collector_failing", f.collector_failing),
            ("for.data_stale", f.data_stale),
            ("for.aws_api_throttled", f.aws_api_throttled),
            ("for.aws_access_denied", f.aws_access_denied),
            ("for.aws_quota_spent", f.aws_quota_spent),
            ("for.config_reload_failed", f.config_reload_failed),
            ("for.discovery_failing", f.discovery_failing),
            ("for.vpc_link_failed", f.vpc_link_failed),
            ("for.vpc_link_inactive", f.vpc_link_inactive),
            ("for.vpc_link_idle", f.vpc_link_idle),
            ("for.integration_unresolved", f.integration_unresolved),
            ("for.check_broken", f.check_broken),
            ("for.targets_unhealthy", f.targets_unhealthy),
            ("for.tls_probe_failing", f.tls_probe_failing),
            ("for.check_unknown", f.check_unknown),
            ("for.integration_errors", f.integration_errors),
            ("for.api_5xx_high", f.api_5xx_high),
            ("for.target_resets", f.target_resets),
            ("for.load_balancer_errors", f.load_balancer_errors),
            ("for.execution_log_unreadable", f.execution_log_unreadable),
            (
                "for.interconnect_connection_down",
                f.interconnect_connection_down,
            ),
            (
                "for.interconnect_connection_gone",
                f.interconnect_connection_gone,
            ),
            (
                "for.interconnect_connection_stuck",
                f.interconnect_connection_stuck,
            ),
            (
                "for.interconnect_environment_degraded",
                f.interconnect_environment_degraded,
            ),
            (
                "for.interconnect_attach_point_missing",
                f.interconnect_attach_point_missing,
            ),
            ("for.certificate_expiring", f.certificate_expiring),
            ("thresholds.data_stale_after", t.data_stale_after),
            ("hold", self.hold),
        ] {
            if d > longest {
                return Err(format!("{name} ({d}) is longer than 30 days"));
            }
        }
        let a = &self.alertmanager;
        let d = &self.dashboards;
        for (name, value) in [
            ("alertmanager.group_wait", a.group_wait),
            ("alertmanager.group_interval", a.group_interval),
            ("alertmanager.repeat_interval", a.repeat_interval),
            ("dashboards.refresh", d.refresh),
            ("dashboards.time_range", d.time_range),
            ("thresholds.data_stale_after", t.data_stale_after),
        ] {
            if value.seconds() == 0 {
                return Err(format!("{name} must be longer than 0s"));
            }
        }
        if !matches!(self.dashboards.exporter_scheme.as_str(), "http" | "https") {
            return Err("dashboards.exporter_scheme must be http or https".into());
        }
        if self.prometheus.scrape_interval.seconds() == 0
            || self.prometheus.evaluation_interval.seconds() == 0
        {
            return Err(
                "prometheus.scrape_interval and evaluation_interval must be positive".into(),
            );
        }
        let published =
            (!self.runbook_url.is_empty()).then_some(("runbook_url", &self.runbook_url));
        for (name, url) in published.into_iter().chain([
            ("grafana_url", &self.grafana_url),
            (
                "alertmanager.pager_webhook",
                &self.alertmanager.pager_webhook,
            ),
            (
                "alertmanager.queue_webhook",
                &self.alertmanager.queue_webhook,
            ),
        ]) {
            let plain = url.starts_with("http://") || url.starts_with("https://");
            if !plain || url.contains(['"', '{', '}', ' ', '\n']) {
                return Err(format!("{name} must be a plain http(s) URL, not {url:?}"));
            }
        }
        if self.dashboards.tags.is_empty() {
            return Err("dashboards.tags needs at least one tag".into());
        }
        Ok(())
    }

    /// `job="awsconn"`, the selector every rule and panel starts with.
    pub fn selector(&self) -> String {
        format!("job=\"{}\"", self.job)
    }

    /// An alert's `runbook_url`: its section of the published runbooks, or
    /// of the page the exporter that raised it serves (`/runbooks`, at
    /// `dashboards.exporter_scheme`), which every version serves with its
    /// own runbooks and which needs nothing published. An alert without an
    /// `instance` (no target at all) points at the published copy if there
    /// is one; with none, at a relative `/runbooks` to open on any exporter.
    pub fn runbook_url(&self, alert: &str) -> String {
        let anchor = alert.to_ascii_lowercase();
        if self.runbook_url.is_empty() {
            format!(
                "{{{{ if $labels.instance }}}}{}://{{{{ $labels.instance }}}}{{{{ else }}}}{{{{ end }}}}/runbooks#{anchor}",
                self.dashboards.exporter_scheme
            )
        } else {
            format!("{}#{anchor}", self.runbook_url)
        }
    }
}

pub const DEFAULT_CONFIG: &str = include_str!("../config.yaml");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_in_prometheus_spelling() {
        for (text, seconds, printed) in [
            ("0s", 0, "0s"),
            ("90s", 90, "1m30s"),
            ("15m", 900, "15m"),
            ("1h30m", 5400, "1h30m"),
            ("50d", 50 * 86_400, "50d"),
            ("1w", 7 * 86_400, "7d"),
        ] {
            let d = Duration::parse(text).unwrap();
            assert_eq!(d.seconds(), seconds, "{text}");
            assert_eq!(d.to_string(), printed, "{text}");
        }
        for bad in ["", "m", "five minutes", "1500ms", "99999999999999999999s"] {
            assert!(Duration::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shipped_config_is_valid() {
        let config = Config::shipped();
        // The time-to-page bounds count on the exporter's defaults.
        let exporter = &config.exporter;
        assert_eq!(
            (
                exporter.poll_interval.seconds(),
                exporter.cloudwatch_period.seconds(),
                exporter.cloudwatch_delay.seconds()
            ),
            (
                awsconn_catalogue::DEFAULT_POLL_INTERVAL_SECONDS,
                awsconn_catalogue::DEFAULT_CLOUDWATCH_PERIOD_SECONDS,
                awsconn_catalogue::DEFAULT_CLOUDWATCH_DELAY_SECONDS
            )
        );
        assert_eq!(config.selector(), "job=\"awsconn\"");
        assert_eq!(
            config.runbook_url("AwsconnVpcLinkFailed"),
            "{{ if $labels.instance }}http://{{ $labels.instance }}{{ else }}{{ end }}/runbooks#awsconnvpclinkfailed"
        );
        let published = Config {
            runbook_url: "https://wiki.example.com/awsconn/runbooks".into(),
            ..config
        };
        assert_eq!(
            published.runbook_url("AwsconnVpcLinkFailed"),
            "https://wiki.example.com/awsconn/runbooks#awsconnvpclinkfailed"
        );
    }

    #[test]
    fn unknown_fields_and_bad_values_are_named() {
        let typo = DEFAULT_CONFIG.replace("hold:", "hodl:");
        let err = Config::parse(&typo, "c.yaml").unwrap_err().to_string();
        assert!(err.contains("hodl"), "{err}");
        let short = DEFAULT_CONFIG.replace("hold: 10m", "hold: 1m");
        let err = Config::parse(&short, "c.yaml").unwrap_err().to_string();
        assert!(err.contains("exporter_down"), "{err}");
        for (from, to, named) in [
            (
                "throttled_ratio: 0.1",
                "throttled_ratio: 10",
                "throttled_ratio",
            ),
            (
                "vpc_link_idle_days: 50",
                "vpc_link_idle_days: 60",
                "vpc_link_idle_days",
            ),
            (
                "vpc_link_idle_days: 50",
                "vpc_link_idle_days: 18446744073709551615",
                "vpc_link_idle_days",
            ),
            (
                "integration_errors_per_second: 0.05",
                "integration_errors_per_second: -1",
                "integration_errors_per_second",
            ),
            (
                "integration_errors_per_second: 0.05",
                "integration_errors_per_second: .nan",
                "integration_errors_per_second",
            ),
            ("target_resets: 0\n", "target_resets: -5\n", "target_resets"),
            ("group_interval: 5m", "group_interval: 0s", "group_interval"),
            (
                "vpc_link_idle: 1h",
                "vpc_link_idle: 99999999w",
                "vpc_link_idle",
            ),
            ("job: awsconn", "job: aws$region", "job"),
            ("refresh: 1m", "refresh: soon", "refresh"),
        ] {
            assert!(DEFAULT_CONFIG.contains(from), "{from}");
            let bad = DEFAULT_CONFIG.replacen(from, to, 1);
            let err = Config::parse(&bad, "c.yaml").unwrap_err().to_string();
            assert!(err.contains(named), "{to}: {err}");
        }
    }
}
