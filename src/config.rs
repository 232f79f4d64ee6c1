//! The YAML configuration file and its validation.
//!
//! Parsing is strict: an unknown or mistyped field is an error that names the
//! field and its line, because a silently ignored typo (`intervall: 5m`) is
//! worse than a refused start. `examples/config.yaml` documents every field.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Accounts to poll; empty means the ambient credentials only (unless
    /// `discovery.organizations` finds them).
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
    /// Regions to poll in every account that names none of its own.
    pub regions: Vec<String>,
    /// Accounts and regions found in AWS rather than listed.
    #[serde(default)]
    pub discovery: DiscoveryConfig,
    /// AWS tags (`Team`, `Owner`) put on the `_info` series of VPC links,
    /// APIs, load balancers, endpoint services, Interconnect connections
    /// and accounts as labels (`team`, `owner`), for alerts to route by.
    #[serde(default)]
    pub tags_as_labels: Vec<String>,
    /// Which VPC links and APIs are watched, by name and tag (default: all).
    #[serde(default)]
    pub watch: crate::watch::WatchConfig,
    #[serde(default)]
    pub collectors: CollectorsConfig,
    #[serde(default)]
    pub aws: AwsConfig,
    #[serde(default)]
    pub diagnosis: DiagnosisConfig,
    /// Which scopes this process polls: from the command line, not the file.
    #[serde(skip)]
    pub shard: Shard,
}

/// One of `total` shards: the (account, region) scopes it polls are those
/// a stable hash of their identity assigns to `index`. The key's hash (the
/// first eight bytes of the SHA-256 of the role ARN and the region) is the
/// same in every build and on every machine, so the shards of one
/// configuration never overlap or miss a scope; it spreads keys that differ
/// in a digit or two as evenly as any (CRC-32, tried first, put 80, 80, 20
/// and 20 of 200 such scopes on four shards). Jump consistent hash
/// (Lamping and Veach, 2014) turns it into a shard, so that going from N to
/// N+1 shards moves about 1/(N+1) of the scopes, all of them to the new
/// shard, where `hash % N` moved about N/(N+1) and every shard's cursors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub total: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard { index: 0, total: 1 }
    }
}

impl Config {
    /// This configuration as shard `shard` runs it: its scopes, and its own
    /// execution-log state file (`state.json` becomes
    /// `state.shard-1-of-3.json`): each shard holds the cursors of its own
    /// log groups, and shards sharing one file would overwrite each other's.
    pub fn for_shard(mut self, shard: Shard) -> Config {
        self.shard = shard;
        if shard.total > 1
            && let Some(path) = &mut self.collectors.execution_logs.state_file
        {
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let name = match path.extension() {
                Some(ext) => format!(
                    "{stem}.shard-{}-of-{}.{}",
                    shard.index,
                    shard.total,
                    ext.to_string_lossy()
                ),
                None => format!("{stem}.shard-{}-of-{}", shard.index, shard.total),
            };
            path.set_file_name(name);
        }
        self
    }
}

impl Shard {
    /// A shard of `total`; `index` must be below it.
    pub fn new(index: u32, total: u32) -> Result<Shard, String> {
        if total == 0 || index >= total {
            return Err(format!(
                "shard {index} of {total}: the shard must be below --total-shards (0 to {})",
                total.saturating_sub(1)
            ));
        }
        Ok(Shard { index, total })
    }

    /// The shard of a StatefulSet pod's host name: its trailing ordinal
    /// (`awsconn-2`, or `awsconn-2.awsconn.monitoring.svc`).
    pub fn from_hostname(hostname: &str, total: u32) -> Result<Shard, String> {
        let name = hostname.split('.').next().unwrap_or_default();
        let ordinal = name
            .rsplit_once('-')
            .and_then(|(_, n)| n.parse::<u32>().ok())
            .ok_or_else(|| {
                format!("host name {hostname:?} does not end in a StatefulSet ordinal (NAME-N)")
            })?;
        Shard::new(ordinal, total)
    }

    /// Whether this shard polls `account` in `region`.
    pub fn owns(&self, account: &AccountConfig, region: &str) -> bool {
        let key = format!("{}|{region}", account.role_arn.as_deref().unwrap_or(""));
        jump_consistent_hash(shard_hash(&key), self.total) == self.index
    }
}

/// The bucket of `key` among `buckets` by jump consistent hash: when the
/// number of buckets grows by one, a key either stays or moves to the new
/// bucket, and about 1/(N+1) of the keys move. Ten lines from the paper
/// (arXiv:1406.2294), written out rather than taken from a crate because
/// the crates hash the key themselves, and the key's hash here is pinned.
fn jump_consistent_hash(mut key: u64, buckets: u32) -> u32 {
    let (mut bucket, mut next): (i64, i64) = (-1, 0);
    while next < i64::from(buckets) {
        bucket = next;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        let divisor = ((key >> 33) + 1) as f64;
        next = ((bucket + 1) as f64 * ((1u64 << 31) as f64 / divisor)) as i64;
    }
    u32::try_from(bucket).unwrap_or(0)
}

/// The shard hash of a scope's key (`ROLE_ARN|REGION`).
fn shard_hash(key: &str) -> u64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    let mut head = [0; 8];
    head.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(head)
}

/// Settings of the runbook checks.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DiagnosisConfig {
    /// `no_tls_errors` fails while a TLS-class execution error is newer than this.
    #[serde(
        default = "default_tls_error_window",
        deserialize_with = "error_window"
    )]
    pub tls_error_window: Duration,
    /// `certificate_valid` fails this long before a listener's certificate
    /// expires.
    #[serde(
        default = "default_certificate_expiry_warning",
        deserialize_with = "expiry_warning"
    )]
    pub certificate_expiry_warning: Duration,
}

impl Default for DiagnosisConfig {
    fn default() -> Self {
        Self {
            tls_error_window: default_tls_error_window(),
            certificate_expiry_warning: default_certificate_expiry_warning(),
        }
    }
}

fn default_certificate_expiry_warning() -> Duration {
    Duration::from_secs(14 * 86_400)
}

fn default_tls_error_window() -> Duration {
    Duration::from_secs(3600)
}

/// How the exporter signs in to one account: the identity of its scopes
/// (what a reload, the quota buckets and the shard hash know it by).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountConfig {
    /// Role to assume for this account; absent means the ambient credentials.
    pub role_arn: Option<String>,
    /// External id required by the role's trust policy.
    pub external_id: Option<String>,
    /// Session name for the assumed role.
    pub session_name: Option<String>,
}

/// One entry of `accounts:`: how to sign in, and what is the account's own.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
    /// The account's name on `awsconn_account_info` (default: the name
    /// Organizations gives it, when discovery finds it).
    pub alias: Option<String>,
    /// The account's own regions (default: the top-level `regions`).
    pub regions: Option<Regions>,
}

impl AccountEntry {
    /// How this entry signs in.
    pub fn credentials(&self) -> AccountConfig {
        AccountConfig {
            role_arn: self.role_arn.clone(),
            external_id: self.external_id.clone(),
            session_name: self.session_name.clone(),
        }
    }
}

/// Which regions of an account are polled: a list, or `enabled`, the
/// regions enabled for the account (EC2 DescribeRegions: the regions every
/// account has, and the opt-in regions it opted into).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Regions {
    Listed(Vec<String>),
    Enabled,
}

impl<'de> Deserialize<'de> for Regions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Regions, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Regions;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("regions: a list of regions, or `enabled`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Regions, E> {
                match v {
                    "enabled" => Ok(Regions::Enabled),
                    other => Err(E::custom(format!(
                        "regions: {other:?} is neither a list of regions nor `enabled`"
                    ))),
                }
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Regions, A::Error> {
                let mut regions = Vec::new();
                while let Some(region) = seq.next_element::<String>()? {
                    regions.push(region);
                }
                Ok(Regions::Listed(regions))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Accounts and regions found in AWS: read at start and every `refresh`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DiscoveryConfig {
    /// How often the organisation's accounts and the `enabled` regions are
    /// read again; a new account is polled from the next refresh.
    #[serde(default = "default_refresh", deserialize_with = "refresh")]
    pub refresh: Duration,
    pub organizations: Option<OrganizationsConfig>,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            refresh: default_refresh(),
            organizations: None,
        }
    }
}

fn default_refresh() -> Duration {
    Duration::from_secs(3600)
}

fn refresh<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    duration_in(d, 10 * S, DAY)
}

/// The accounts of an AWS organisation, listed from its management account
/// or a delegated administrator, each polled through a role of one name.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OrganizationsConfig {
    /// The role the exporter assumes in every member account.
    pub role_name: String,
    pub external_id: Option<String>,
    pub session_name: Option<String>,
    /// A role to assume for listing the accounts (default: the ambient
    /// credentials, which must be the management account's or a delegated
    /// administrator's).
    pub role_arn: Option<String>,
    /// Only the accounts under these OUs (`ou-…`) or roots (`r-…`), at any
    /// depth; default: every account.
    #[serde(default)]
    pub include_ous: Vec<String>,
    /// Discovered accounts not polled (12-digit ids); one listed in
    /// `accounts:` is polled as listed.
    #[serde(default)]
    pub exclude_accounts: Vec<String>,
    /// The discovered accounts' regions (default: the top-level `regions`).
    pub regions: Option<Regions>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CollectorsConfig {
    #[serde(default)]
    pub vpc_links: VpcLinksConfig,
    #[serde(default)]
    pub load_balancers: LoadBalancersConfig,
    #[serde(default = "CollectorConfig::standard")]
    pub endpoints: CollectorConfig,
    #[serde(default = "CollectorConfig::standard")]
    pub network_rules: CollectorConfig,
    #[serde(default)]
    pub execution_logs: ExecutionLogsConfig,
    #[serde(default)]
    pub cloudwatch: CloudWatchConfig,
    #[serde(default)]
    pub interconnect: InterconnectConfig,
    #[serde(default = "CollectorConfig::standard")]
    pub certificates: CollectorConfig,
    #[serde(default)]
    pub tls_probe: TlsProbeConfig,
}

/// AWS Interconnect – multicloud.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct InterconnectConfig {
    #[serde(default = "yes", deserialize_with = "enabled")]
    pub enabled: bool,
    #[serde(default = "default_interval", deserialize_with = "interval")]
    pub interval: Duration,
    #[serde(default = "unset", deserialize_with = "timeout")]
    pub timeout: Duration,
    /// How often to ask again where Interconnect has nothing to watch: no
    /// environment and no connection, or not offered to the account or in
    /// the region. Most regions have none; they cost a call an hour, not
    /// one a minute. Unset: 1h, or the interval where that is longer.
    #[serde(default = "unset", deserialize_with = "absent_interval")]
    pub absent_interval: Duration,
}

impl Default for InterconnectConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: default_interval(),
            timeout: default_timeout(),
            absent_interval: default_absent_interval(),
        }
    }
}

fn default_absent_interval() -> Duration {
    Duration::from_secs(3_600)
}

/// The TLS probe (off by default): it connects to the load balancers, so it
/// must run where they are reachable (see docs/operations.md).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TlsProbeConfig {
    #[serde(default, deserialize_with = "enabled")]
    pub enabled: bool,
    #[serde(default = "default_interval", deserialize_with = "interval")]
    pub interval: Duration,
    #[serde(default = "unset", deserialize_with = "timeout")]
    pub timeout: Duration,
    /// One probe (connect, handshake, request, status line) at most this long.
    #[serde(default = "unset", deserialize_with = "probe_timeout")]
    pub probe_timeout: Duration,
    /// Probes in flight at once, per account and region.
    #[serde(
        default = "default_probe_concurrency",
        deserialize_with = "probe_concurrency"
    )]
    pub concurrency: usize,
    /// A PEM file of CAs trusted besides Mozilla's roots: for private test
    /// set-ups only. API Gateway trusts only public CAs (or, with
    /// insecureSkipVerification, any), so a chain that only this file
    /// completes is one API Gateway refuses.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Where to connect instead of a load balancer's DNS name, by the load
    /// balancer's ARN, name or DNS name: `host` (the integration's port is
    /// kept) or `host:port`.
    #[serde(default)]
    pub addresses: std::collections::BTreeMap<String, String>,
    /// Probe only the load balancers `addresses` names: for an exporter that
    /// reaches some load balancers (those mapped) and not the rest, whose
    /// probes would only say "not reached" and keep their links unknown.
    #[serde(default, deserialize_with = "only_addresses")]
    pub only_addresses: bool,
}

impl Default for TlsProbeConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            interval: default_interval(),
            timeout: default_timeout(),
            probe_timeout: default_probe_timeout(),
            concurrency: default_probe_concurrency(),
            ca_file: None,
            addresses: Default::default(),
            only_addresses: false,
        }
    }
}

fn default_probe_timeout() -> Duration {
    Duration::from_secs(5)
}

fn default_probe_concurrency() -> usize {
    8
}

/// A CloudWatch metric to fetch besides the default set.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExtraMetric {
    pub namespace: String,
    pub metric: String,
    /// `Sum`, `Average`, `Minimum`, `Maximum`, `SampleCount`, `p99`, ...
    pub stat: String,
    #[serde(default)]
    pub dimensions: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CloudWatchConfig {
    #[serde(default = "yes", deserialize_with = "enabled")]
    pub enabled: bool,
    #[serde(default = "default_interval", deserialize_with = "interval")]
    pub interval: Duration,
    #[serde(default = "unset", deserialize_with = "timeout")]
    pub timeout: Duration,
    /// The statistics' period.
    #[serde(default = "default_period", deserialize_with = "cloudwatch_period")]
    pub period: Duration,
    /// How long CloudWatch needs to aggregate a period; newer data is not read.
    #[serde(default = "default_delay", deserialize_with = "cloudwatch_delay")]
    pub delay: Duration,
    /// How far back to look for the newest datapoint (sparse metrics): a
    /// count older than the newest period is 0, another statistic its
    /// newest value (`crate::cloudwatch::current_value`).
    #[serde(default = "unset", deserialize_with = "cloudwatch_lookback")]
    pub lookback: Duration,
    /// Fetch the default metric set for the resources found.
    #[serde(default = "yes", deserialize_with = "default_metrics")]
    pub default_metrics: bool,
    #[serde(default)]
    pub metrics: Vec<ExtraMetric>,
    /// How far back to look for requests through each V2 link's APIs
    /// (HTTP-side links go INACTIVE after 60 days without traffic); `0s`
    /// turns the lookup off.
    #[serde(
        default = "default_activity_window",
        deserialize_with = "activity_window"
    )]
    pub link_activity_window: Duration,
    /// How often to ask CloudWatch again: the answer has a resolution of one day.
    #[serde(
        default = "default_activity_refresh",
        deserialize_with = "activity_refresh"
    )]
    pub link_activity_refresh: Duration,
}

fn default_activity_window() -> Duration {
    Duration::from_secs(60 * 86_400)
}

fn default_activity_refresh() -> Duration {
    Duration::from_secs(3_600)
}

impl Default for CloudWatchConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: default_interval(),
            timeout: default_timeout(),
            period: default_period(),
            delay: default_delay(),
            lookback: default_cw_lookback(),
            default_metrics: true,
            metrics: Vec::new(),
            link_activity_window: default_activity_window(),
            link_activity_refresh: default_activity_refresh(),
        }
    }
}

fn default_period() -> Duration {
    Duration::from_secs(awsconn_catalogue::DEFAULT_CLOUDWATCH_PERIOD_SECONDS)
}
fn default_delay() -> Duration {
    Duration::from_secs(awsconn_catalogue::DEFAULT_CLOUDWATCH_DELAY_SECONDS)
}
fn default_cw_lookback() -> Duration {
    Duration::from_secs(600)
}

/// A log group to read besides the ones the REST stages' logging settings name.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExtraLogGroup {
    pub log_group: String,
    pub api_id: String,
    pub stage: String,
}

/// VPC links and the APIs whose integrations use them. The APIs are read
/// incrementally: API Gateway's management API allows 10 requests a second
/// per account (GetResources 5 every 2 seconds), too few to read every
/// API in full on every poll.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct VpcLinksConfig {
    #[serde(default = "yes", deserialize_with = "enabled")]
    pub enabled: bool,
    #[serde(default = "default_interval", deserialize_with = "interval")]
    pub interval: Duration,
    #[serde(default = "unset", deserialize_with = "timeout")]
    pub timeout: Duration,
    /// Each API's stages (their deployments, variables and logging) are
    /// read again at least this often, the APIs spread over the period; an
    /// API whose deployments changed has its integrations read again at once.
    /// `0s` (or anything up to the interval): on every poll.
    #[serde(default = "default_revalidate", deserialize_with = "revalidate")]
    pub revalidate: Duration,
    /// Each API's integrations are read again at least this often, changed
    /// deployments or not (an edit AWS gives no signal for).
    #[serde(default = "unset", deserialize_with = "full_refresh")]
    pub full_refresh: Duration,
}

impl Default for VpcLinksConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: default_interval(),
            timeout: default_timeout(),
            revalidate: default_revalidate(),
            full_refresh: default_full_refresh(),
        }
    }
}

fn default_revalidate() -> Duration {
    Duration::from_secs(5 * 60)
}
fn default_full_refresh() -> Duration {
    Duration::from_secs(60 * 60)
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExecutionLogsConfig {
    #[serde(default = "yes", deserialize_with = "enabled")]
    pub enabled: bool,
    #[serde(default = "default_interval", deserialize_with = "interval")]
    pub interval: Duration,
    #[serde(default = "unset", deserialize_with = "timeout")]
    pub timeout: Duration,
    /// How far back the first read of a log group goes.
    #[serde(default = "default_lookback", deserialize_with = "log_lookback")]
    pub lookback: Duration,
    /// How far behind the newest event each read starts again, for events
    /// CloudWatch delivers late; their ids are remembered for this long.
    #[serde(default = "unset", deserialize_with = "overlap")]
    pub overlap: Duration,
    /// Where to keep each log group's position across restarts (optional).
    #[serde(default)]
    pub state_file: Option<std::path::PathBuf>,
    /// Read the state file but never write it: a one-off run (`once`,
    /// `diagnose`) beside the server that holds it. From the command, not
    /// the file.
    #[serde(skip)]
    pub state_file_read_only: bool,
    #[serde(default)]
    pub log_groups: Vec<ExtraLogGroup>,
}

impl Default for ExecutionLogsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: default_interval(),
            timeout: default_timeout(),
            lookback: default_lookback(),
            overlap: default_overlap(),
            state_file: None,
            state_file_read_only: false,
            log_groups: Vec::new(),
        }
    }
}

fn default_lookback() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_overlap() -> Duration {
    Duration::from_secs(5 * 60)
}

impl Default for CollectorsConfig {
    fn default() -> Self {
        Self {
            vpc_links: VpcLinksConfig::default(),
            load_balancers: LoadBalancersConfig::default(),
            endpoints: CollectorConfig::standard(),
            network_rules: CollectorConfig::standard(),
            execution_logs: ExecutionLogsConfig::default(),
            cloudwatch: CloudWatchConfig::default(),
            interconnect: InterconnectConfig::default(),
            certificates: CollectorConfig::standard(),
            tls_probe: TlsProbeConfig::default(),
        }
    }
}

/// Which load balancers the `load_balancers` collector describes.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum LoadBalancerScope {
    /// Only those that VPC links and their integrations lead to.
    #[default]
    Linked,
    /// Every load balancer in the account and region.
    All,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancersConfig {
    #[serde(default = "yes", deserialize_with = "enabled")]
    pub enabled: bool,
    #[serde(default = "default_interval", deserialize_with = "interval")]
    pub interval: Duration,
    #[serde(default = "unset", deserialize_with = "timeout")]
    pub timeout: Duration,
    #[serde(default)]
    pub scope: LoadBalancerScope,
    /// Export `awsconn_target_health` per target (its cardinality grows with targets).
    #[serde(default, deserialize_with = "per_target_health")]
    pub per_target_health: bool,
}

impl Default for LoadBalancersConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: default_interval(),
            timeout: default_timeout(),
            scope: LoadBalancerScope::default(),
            per_target_health: false,
        }
    }
}

/// Collectors with settings of their own repeat the three schedule fields
/// inline (`deny_unknown_fields` cannot see through `flatten`); this gives
/// each the common view.
macro_rules! schedule_of {
    ($($config:ty),*) => {$(
        impl $config {
            pub fn schedule(&self) -> CollectorConfig {
                CollectorConfig {
                    enabled: self.enabled,
                    interval: self.interval,
                    timeout: self.timeout,
                }
            }
        }
    )*};
}

schedule_of!(
    VpcLinksConfig,
    LoadBalancersConfig,
    ExecutionLogsConfig,
    CloudWatchConfig,
    InterconnectConfig,
    TlsProbeConfig
);

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CollectorConfig {
    #[serde(default = "yes", deserialize_with = "enabled")]
    pub enabled: bool,
    /// Time between the starts of two polls.
    #[serde(default = "default_interval", deserialize_with = "interval")]
    pub interval: Duration,
    /// A poll still running after this long is cancelled and counts as failed.
    #[serde(default = "unset", deserialize_with = "timeout")]
    pub timeout: Duration,
}

impl CollectorConfig {
    fn standard() -> Self {
        Self {
            enabled: true,
            interval: default_interval(),
            timeout: default_timeout(),
        }
    }
}

/// How the AWS SDK retries.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum RetryMode {
    /// Exponential back-off with jitter.
    Standard,
    /// Standard plus a client-side rate limiter that slows down when throttled.
    #[default]
    Adaptive,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    #[serde(default)]
    pub retry_mode: RetryMode,
    /// Attempts per API call, the first included.
    #[serde(default = "default_max_attempts", deserialize_with = "max_attempts")]
    pub max_attempts: u32,
    /// TCP/TLS connect timeout for each request.
    #[serde(
        default = "default_connect_timeout",
        deserialize_with = "connect_timeout"
    )]
    pub connect_timeout: Duration,
    /// Requests on the wire at once to each AWS service, over all accounts
    /// and regions (a call waiting for its quota holds no place).
    #[serde(
        default = "default_max_concurrent_requests",
        deserialize_with = "max_concurrent_requests"
    )]
    pub max_concurrent_requests: u32,
    /// The share of each of AWS's request quotas (per account and region)
    /// the exporter may use; the rest is left to the team's own tools.
    #[serde(default = "default_quota_share", deserialize_with = "quota_share")]
    pub quota_share: f64,
    /// AWS's quotas where an account's differ from the published defaults
    /// (`crate::services::AWS_DEFAULTS`), by `service` or `service:Operation`.
    #[serde(default)]
    pub quotas: std::collections::BTreeMap<String, crate::services::Rate>,
}

impl Default for AwsConfig {
    fn default() -> Self {
        Self {
            retry_mode: RetryMode::default(),
            max_attempts: default_max_attempts(),
            connect_timeout: default_connect_timeout(),
            max_concurrent_requests: default_max_concurrent_requests(),
            quota_share: default_quota_share(),
            quotas: std::collections::BTreeMap::new(),
        }
    }
}

fn default_quota_share() -> f64 {
    0.5
}

fn yes() -> bool {
    true
}
fn default_interval() -> Duration {
    Duration::from_secs(awsconn_catalogue::DEFAULT_POLL_INTERVAL_SECONDS)
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_attempts() -> u32 {
    5
}
fn default_max_concurrent_requests() -> u32 {
    8
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}

/// The longest duration any setting takes: beyond every sensible interval
/// or window (`link_activity_window` goes to 455 days), and far below what
/// timers and clocks overflow on.
const LONGEST: Duration = Duration::from_secs(500 * 86_400);

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);
const MIN: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(86_400);

/// Durations are written the way Prometheus users write them: `30s`, `5m`, `1h30m`.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    let parsed = humantime::parse_duration(&text).map_err(|e| {
        serde::de::Error::custom(format!(
            "invalid duration {text:?} ({e}); write it like 30s, 5m or 1h"
        ))
    })?;
    if parsed > LONGEST {
        return Err(serde::de::Error::custom(format!(
            "duration {text:?} is longer than 500 days"
        )));
    }
    Ok(parsed)
}

/// A duration the file leaves out whose default follows another setting
/// (a timeout is at most its interval): [`Config::settle_defaults`] sets it.
const UNSET: Duration = Duration::MAX;

fn unset() -> Duration {
    UNSET
}

/// A boolean (YAML 1.2's `true` or `false` only), refused naming `field`.
fn flag<'de, D: Deserializer<'de>>(d: D, field: &str) -> Result<bool, D::Error> {
    bool::deserialize(d).map_err(|e| {
        // The parser puts the place in front of the message again.
        let text = e.to_string();
        let said = text.split(" at line ").next().unwrap_or(&text);
        serde::de::Error::custom(format!("{field}: {said}"))
    })
}

fn enabled<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    flag(d, "enabled")
}

fn per_target_health<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    flag(d, "per_target_health")
}

fn default_metrics<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    flag(d, "default_metrics")
}

fn only_addresses<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    flag(d, "only_addresses")
}

/// A duration as the file would say it: `100ms`, `30s`, `5m`, `1h`, `365d`.
fn short(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".to_owned();
    }
    let units = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    for (size, unit) in units {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// A number as a person reads it: plain, or in exponent form when tiny or huge.
fn readable(x: f64) -> String {
    if x != 0.0 && !(1e-3..1e9).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// A duration from `min` to `max`: refused at load, with the range, where
/// the file says it (the parser adds the line).
fn duration_in<'de, D: Deserializer<'de>>(
    d: D,
    min: Duration,
    max: Duration,
) -> Result<Duration, D::Error> {
    let value = duration(d)?;
    if !(min..=max).contains(&value) {
        return Err(serde::de::Error::custom(format!(
            "{} is out of range: it must be from {} to {}",
            short(value),
            short(min),
            short(max)
        )));
    }
    Ok(value)
}

/// A number from `min` to `max` (NaN and infinities are neither).
fn number_in<'de, D, T>(d: D, min: T, max: T) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + PartialOrd + Copy + Into<f64>,
{
    let value = T::deserialize(d)?;
    if !(min..=max).contains(&value) {
        return Err(serde::de::Error::custom(format!(
            "{} is out of range: it must be from {} to {}",
            readable(value.into()),
            readable(min.into()),
            readable(max.into())
        )));
    }
    Ok(value)
}

/// The range of every bounded setting, in one table (examples/config.yaml
/// says each beside its field). Relations between settings (a timeout at
/// most its interval, ...) are checked after parsing, in `validate`.
macro_rules! bounded {
    ($($name:ident $field:literal: $kind:ident $min:expr, $max:expr;)*) => {$(
        fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<bounded!(@type $kind), D::Error> {
            bounded!(@check $kind d, $min, $max).map_err(|e: D::Error| {
                serde::de::Error::custom(format!("{}: {e}", $field))
            })
        }
    )*};
    (@type duration) => { Duration };
    (@type u32) => { u32 };
    (@type usize) => { usize };
    (@type f64) => { f64 };
    (@check duration $d:ident, $min:expr, $max:expr) => { duration_in($d, $min, $max) };
    (@check usize $d:ident, $min:expr, $max:expr) => {
        number_in::<_, u32>($d, $min, $max).map(|n| n as usize)
    };
    (@check $t:ident $d:ident, $min:expr, $max:expr) => { number_in::<_, $t>($d, $min, $max) };
}

bounded! {
    interval "interval": duration S, DAY;
    timeout "timeout": duration 100 * MS, DAY;
    probe_timeout "probe_timeout": duration 100 * MS, DAY;
    revalidate "revalidate": duration Duration::ZERO, DAY;
    full_refresh "full_refresh": duration S, 7 * DAY;
    log_lookback "lookback": duration S, 7 * DAY;
    overlap "overlap": duration Duration::ZERO, DAY;
    cloudwatch_period "period": duration S, DAY;
    cloudwatch_delay "delay": duration Duration::ZERO, DAY;
    cloudwatch_lookback "lookback": duration S, 15 * DAY;
    activity_window "link_activity_window": duration Duration::ZERO, 455 * DAY;
    activity_refresh "link_activity_refresh": duration Duration::ZERO, 7 * DAY;
    absent_interval "absent_interval": duration S, 7 * DAY;
    connect_timeout "connect_timeout": duration 100 * MS, MIN;
    error_window "tls_error_window": duration MIN, 30 * DAY;
    expiry_warning "certificate_expiry_warning": duration Duration::ZERO, 365 * DAY;
    max_attempts "max_attempts": u32 1, 10;
    max_concurrent_requests "max_concurrent_requests": u32 1, 1024;
    probe_concurrency "concurrency": usize 1, 256;
    quota_share "quota_share": f64 0.01, 1.0;
}

/// The bounds of a quota override (`aws.quotas.<key>`).
pub const QUOTA_RATE: std::ops::RangeInclusive<f64> = 0.001..=1e6;
pub const QUOTA_BURST: std::ops::RangeInclusive<f64> = 1.0..=1e6;

/// The line a field is written on (`collectors.vpc_links.timeout`,
/// `accounts[0].role_arn`), or, when the file leaves it out, the line of
/// the nearest enclosing field it sets.
fn line_of(text: &str, path: &str) -> Option<usize> {
    let lines = field_lines(text);
    let mut path = path;
    loop {
        if let Some(line) = lines.get(path) {
            return Some(*line);
        }
        path = &path[..path.rfind(['.', '['])?];
    }
}

/// The line each field of a YAML file is written on, by dotted path
/// (`collectors.vpc_links.timeout`, `accounts[1].role_arn`), the way the
/// checks after parsing name fields: block and flow mappings and
/// sequences, comments and quotes understood. A field the file leaves out
/// (a default) has none. Tags, anchors and block scalars are read as text.
fn field_lines(text: &str) -> BTreeMap<String, usize> {
    struct Frame {
        indent: usize,
        path: String,
        next: usize,
    }
    let mut out = BTreeMap::new();
    let mut frames = vec![Frame {
        indent: 0,
        path: String::new(),
        next: 0,
    }];
    // A key whose value is on the lines below: (its indentation, its path).
    let mut pending: Option<(usize, String)> = None;
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = strip_comment(lines[i]);
        let mut body = line.trim_start();
        if body.is_empty() || body.starts_with("---") {
            i += 1;
            continue;
        }
        let mut indent = line.len() - body.len();
        let is_item = |b: &str| b == "-" || b.starts_with("- ");
        if let Some((key_indent, path)) = pending.take()
            && (indent > key_indent || (indent == key_indent && is_item(body)))
        {
            frames.push(Frame {
                indent,
                path,
                next: 0,
            });
        }
        while frames.len() > 1 && frames.last().is_some_and(|f| f.indent > indent) {
            frames.pop();
        }
        if is_item(body) {
            let Some(seq) = frames.last_mut() else { break };
            let item = format!("{}[{}]", seq.path, seq.next);
            seq.next += 1;
            out.insert(item.clone(), i + 1);
            let content = body[1..].trim_start();
            indent += body.len() - content.len();
            body = content;
            if body.is_empty() {
                pending = Some((indent.saturating_sub(1), item));
                i += 1;
                continue;
            }
            if body.starts_with(['{', '[']) {
                i += flow(&lines, i, line.len() - body.len(), &item, &mut out);
                continue;
            }
            frames.push(Frame {
                indent,
                path: item,
                next: 0,
            });
        }
        let Some((key, value)) = split_key(body) else {
            i += 1;
            continue;
        };
        let parent = frames.last().map_or("", |f| f.path.as_str());
        let path = join(parent, &key);
        out.insert(path.clone(), i + 1);
        let value = value.trim_start();
        if value.starts_with(['{', '[']) {
            i += flow(&lines, i, line.len() - value.len(), &path, &mut out);
            continue;
        }
        if value.is_empty() {
            pending = Some((indent, path));
        }
        i += 1;
    }
    out
}

/// The line without its comment (a `#` at its start or after white space,
/// outside quotes).
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' && prev.is_whitespace() => return &line[..i],
            None => {}
        }
        prev = c;
    }
    line
}

/// `key: value` at the start of a block line: the key (unquoted) and the rest.
fn split_key(body: &str) -> Option<(String, &str)> {
    let mut quote = None;
    for (i, c) in body.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == ':' => {
                let after = &body[i + 1..];
                if after.is_empty() || after.starts_with([' ', '\t']) {
                    let key = body[..i].trim().trim_matches(['"', '\'']).to_owned();
                    return (!key.is_empty()).then_some((key, after));
                }
            }
            None if matches!(c, '{' | '}' | '[' | ']') => return None,
            None => {}
        }
    }
    None
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// Records the keys of the flow collection that opens at
/// `lines[line][column]` under `path`; returns how many lines it spans.
fn flow(
    lines: &[&str],
    line: usize,
    column: usize,
    path: &str,
    out: &mut BTreeMap<String, usize>,
) -> usize {
    struct Frame {
        path: String,
        seq: bool,
        next: usize,
        key: Option<String>,
        token: String,
        item: bool,
    }
    let mut stack: Vec<Frame> = Vec::new();
    let mut quote = None;
    for (l, text) in lines.iter().enumerate().skip(line) {
        let text = strip_comment(text);
        let from = if l == line { column } else { 0 };
        for (at, ch) in text.char_indices().filter(|(at, _)| *at >= from) {
            if let Some(q) = quote {
                if ch == q {
                    quote = None;
                }
                if let Some(f) = stack.last_mut() {
                    f.token.push(ch);
                }
                continue;
            }
            match ch {
                '"' | '\'' => {
                    quote = Some(ch);
                    if let Some(f) = stack.last_mut() {
                        f.token.push(ch);
                        f.item = true;
                    }
                }
                '{' | '[' => {
                    let child = match stack.last_mut() {
                        None => path.to_owned(),
                        Some(f) if f.seq => {
                            let item = format!("{}[{}]", f.path, f.next);
                            f.next += 1;
                            f.item = false;
                            item
                        }
                        Some(f) => {
                            let key = f.key.take().unwrap_or_default();
                            join(&f.path, &key)
                        }
                    };
                    if let Some(f) = stack.last_mut() {
                        f.token.clear();
                    }
                    stack.push(Frame {
                        path: child,
                        seq: ch == '[',
                        next: 0,
                        key: None,
                        token: String::new(),
                        item: false,
                    });
                }
                ':' if stack.last().is_some_and(|f| !f.seq)
                    && (text[at + 1..].is_empty()
                        || text[at + 1..].starts_with([' ', '\t', ',', '}', '{', '['])) =>
                {
                    if let Some(f) = stack.last_mut() {
                        let key = f.token.trim().trim_matches(['"', '\'']).to_owned();
                        if !key.is_empty() {
                            out.insert(join(&f.path, &key), l + 1);
                        }
                        f.key = Some(key);
                        f.token.clear();
                    }
                }
                ',' | '}' | ']' => {
                    if let Some(f) = stack.last_mut() {
                        if f.seq && f.item {
                            f.next += 1;
                        }
                        f.item = false;
                        f.key = None;
                        f.token.clear();
                    }
                    if ch != ',' {
                        stack.pop();
                        if stack.is_empty() {
                            return l - line + 1;
                        }
                    }
                }
                _ => {
                    if let Some(f) = stack.last_mut() {
                        f.token.push(ch);
                        if !ch.is_whitespace() {
                            f.item = true;
                        }
                    }
                }
            }
        }
    }
    lines.len() - line
}

impl Config {
    /// Reads, parses and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        Config::parse(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: shown.clone(),
                message,
            },
            ConfigError::Invalid { message, .. } => ConfigError::Invalid {
                path: shown.clone(),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates configuration text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        // YAML 1.2 booleans only: `enabled: yes` (or `on`, or "yes") is
        // an error, not a guess.
        let mut options = serde_saphyr::Options::default();
        options.strict_booleans = true;
        let mut config: Config =
            serde_saphyr::from_str_with_options(text, options).map_err(|e| ConfigError::Parse {
                path: "<config>".into(),
                message: e.to_string(),
            })?;
        config.settle_defaults();
        config.validate().map_err(|message| {
            let line = message
                .split_once(": ")
                .and_then(|(field, _)| line_of(text, field));
            ConfigError::Invalid {
                path: "<config>".into(),
                message: match line {
                    Some(line) => format!("{message} (line {line})"),
                    None => message,
                },
            }
        })?;
        Ok(config)
    }

    /// The defaults that follow another setting, for what the file leaves
    /// out: a collector's timeout is 30s or its interval when shorter; the
    /// probe's is 5s or 90 % of its collector's timeout; the logs' overlap
    /// 5m or the lookback; `full_refresh` 1h or `revalidate`; CloudWatch's
    /// lookback 10m or the period. `interval: 10s` alone is then valid.
    fn settle_defaults(&mut self) {
        fn settle(slot: &mut Duration, default: Duration) {
            if *slot == UNSET {
                *slot = default;
            }
        }
        let c = &mut self.collectors;
        for (timeout, interval) in [
            (&mut c.vpc_links.timeout, c.vpc_links.interval),
            (&mut c.load_balancers.timeout, c.load_balancers.interval),
            (&mut c.endpoints.timeout, c.endpoints.interval),
            (&mut c.network_rules.timeout, c.network_rules.interval),
            (&mut c.execution_logs.timeout, c.execution_logs.interval),
            (&mut c.cloudwatch.timeout, c.cloudwatch.interval),
            (&mut c.interconnect.timeout, c.interconnect.interval),
            (&mut c.certificates.timeout, c.certificates.interval),
            (&mut c.tls_probe.timeout, c.tls_probe.interval),
        ] {
            settle(timeout, default_timeout().min(interval));
        }
        let probe = &mut c.tls_probe;
        settle(
            &mut probe.probe_timeout,
            default_probe_timeout().min(probe.timeout.mul_f64(0.9)),
        );
        let logs = &mut c.execution_logs;
        settle(&mut logs.overlap, default_overlap().min(logs.lookback));
        let links = &mut c.vpc_links;
        settle(
            &mut links.full_refresh,
            default_full_refresh().max(links.revalidate),
        );
        let cw = &mut c.cloudwatch;
        settle(&mut cw.lookback, default_cw_lookback().max(cw.period));
        let interconnect = &mut c.interconnect;
        settle(
            &mut interconnect.absent_interval,
            default_absent_interval().max(interconnect.interval),
        );
    }

    fn validate(&self) -> Result<(), String> {
        if self.regions.is_empty() {
            return Err("regions: at least one region is required".into());
        }
        for region in &self.regions {
            if !is_region_name(region) {
                return Err(format!(
                    "regions: {region:?} is not a region name (like us-east-1)"
                ));
            }
        }
        if let Some(dup) = first_duplicate(&self.regions) {
            return Err(format!("regions: {dup:?} is listed twice"));
        }
        for (i, account) in self.accounts.iter().enumerate() {
            let at = format!("accounts[{i}]");
            check_assume_role(
                &at,
                account.session_name.as_deref(),
                account.external_id.as_deref(),
            )?;
            match &account.role_arn {
                Some(arn) if !is_role_arn(arn) => {
                    return Err(format!(
                        "{at}.role_arn: {arn:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/name)"
                    ));
                }
                None if account.external_id.is_some() || account.session_name.is_some() => {
                    return Err(format!(
                        "{at}: external_id and session_name need a role_arn"
                    ));
                }
                _ => {}
            }
            if let Some(alias) = &account.alias
                && !is_alias(alias)
            {
                return Err(format!(
                    "{at}.alias: {alias:?} must be 1 to 64 printable characters"
                ));
            }
            check_regions(&format!("{at}.regions"), account.regions.as_ref())?;
        }
        let credentials: Vec<AccountConfig> = self
            .accounts
            .iter()
            .map(AccountEntry::credentials)
            .collect();
        if let Some(dup) = first_duplicate(&credentials) {
            return Err(format!("accounts: {dup:?} is listed twice"));
        }
        if let Some(org) = &self.discovery.organizations {
            let at = "discovery.organizations";
            if !is_role_name(&org.role_name) {
                return Err(format!(
                    "{at}.role_name: {:?} is not an IAM role name (1 to 64 letters, digits or _+=,.@-, after an optional path)",
                    org.role_name
                ));
            }
            check_assume_role(at, org.session_name.as_deref(), org.external_id.as_deref())?;
            if let Some(arn) = org.role_arn.as_deref().filter(|a| !is_role_arn(a)) {
                return Err(format!(
                    "{at}.role_arn: {arn:?} is not an IAM role ARN (arn:aws:iam::123456789012:role/name)"
                ));
            }
            if let Some(ou) = org
                .include_ous
                .iter()
                .find(|ou| !is_organization_parent(ou))
            {
                return Err(format!(
                    "{at}.include_ous: {ou:?} is not an OU id (ou-xxxx-xxxxxxxx) or a root id (r-xxxx)"
                ));
            }
            if let Some(id) = org.exclude_accounts.iter().find(|id| !is_account_id(id)) {
                return Err(format!(
                    "{at}.exclude_accounts: {id:?} is not an account id (12 digits)"
                ));
            }
            check_regions(&format!("{at}.regions"), org.regions.as_ref())?;
        }
        crate::tags::check(&self.tags_as_labels).map_err(|e| format!("tags_as_labels: {e}"))?;
        if let Some(dup) = first_duplicate(&self.tags_as_labels) {
            return Err(format!("tags_as_labels: {dup:?} is listed twice"));
        }
        for (key, quota) in &self.aws.quotas {
            crate::services::check_key(key).map_err(|e| format!("aws.quotas.{key}: {e}"))?;
            if !QUOTA_RATE.contains(&quota.rate) {
                return Err(format!(
                    "aws.quotas.{key}.rate: {} is out of range: requests a second from 0.001 to a million",
                    quota.rate
                ));
            }
            if !QUOTA_BURST.contains(&quota.burst) {
                return Err(format!(
                    "aws.quotas.{key}.burst: {} is out of range: from 1 to a million",
                    quota.burst
                ));
            }
        }
        let links = &self.collectors.vpc_links;
        if links.full_refresh < links.revalidate {
            return Err(format!(
                "collectors.vpc_links.full_refresh: must be at least revalidate ({})",
                short(links.revalidate)
            ));
        }
        let cw = &self.collectors.cloudwatch;
        let period = cw.period.as_secs();
        if !(matches!(period, 1 | 5 | 10 | 30) || (period > 0 && period.is_multiple_of(60))) {
            return Err(
                "collectors.cloudwatch.period: must be 1s, 5s, 10s, 30s or a multiple of 60s"
                    .into(),
            );
        }
        if cw.lookback < cw.period {
            return Err(format!(
                "collectors.cloudwatch.lookback: must be at least the period ({})",
                short(cw.period)
            ));
        }
        let window_days = cw.link_activity_window.as_secs() as f64 / 86_400.0;
        if !cw.link_activity_window.is_zero() && !(1.0..=455.0).contains(&window_days) {
            return Err(
                "collectors.cloudwatch.link_activity_window: must be 0s (off) or between 1 day and 455 days (CloudWatch keeps daily data that long)"
                    .into(),
            );
        }
        let interconnect = &self.collectors.interconnect;
        if interconnect.absent_interval < interconnect.interval {
            return Err(format!(
                "collectors.interconnect.absent_interval: must be at least the interval ({})",
                short(interconnect.interval)
            ));
        }
        let probe = &self.collectors.tls_probe;
        // The probes of a poll must end before the collector's timeout
        // (they stop at 90 % of it, and report what was left).
        if probe.probe_timeout > probe.timeout.mul_f64(0.9) {
            return Err(format!(
                "collectors.tls_probe.probe_timeout: must be at most 90 % of the collector's timeout ({})",
                short(probe.timeout)
            ));
        }
        if let Some(path) = probe.ca_file.as_deref().filter(|_| probe.enabled)
            && let Err(e) = crate::probe::Prober::new(Some(path), probe.probe_timeout)
        {
            return Err(format!("collectors.tls_probe.ca_file: {e}"));
        }
        if probe.enabled && probe.only_addresses && probe.addresses.is_empty() {
            return Err(
                "collectors.tls_probe.only_addresses: true probes nothing while addresses is empty: map the load balancers to probe, or turn only_addresses off"
                    .into(),
            );
        }
        for (key, address) in &probe.addresses {
            if !is_probe_address(address) {
                return Err(format!(
                    "collectors.tls_probe.addresses.{key}: {address:?} is not a host, an IP address, host:port or [IPv6]:port"
                ));
            }
        }
        let logs = &self.collectors.execution_logs;
        if logs.overlap > logs.lookback {
            return Err(format!(
                "collectors.execution_logs.overlap: must be at most the lookback ({})",
                short(logs.lookback)
            ));
        }
        for (name, c) in self.collectors.iter() {
            if c.timeout > c.interval {
                return Err(format!(
                    "collectors.{name}.timeout: must be at most the interval ({})",
                    short(c.interval)
                ));
            }
        }
        Ok(())
    }

    /// The accounts listed by hand: those of `accounts:`, or, when it is
    /// empty and no discovery finds any, the ambient credentials.
    pub fn listed_accounts(&self) -> Vec<AccountEntry> {
        if self.accounts.is_empty() && self.discovery.organizations.is_none() {
            vec![AccountEntry::default()]
        } else {
            self.accounts.clone()
        }
    }
}

impl CollectorsConfig {
    /// The config keys of the enabled collectors.
    pub fn enabled_names(&self) -> impl Iterator<Item = &'static str> {
        self.iter().filter(|(_, c)| c.enabled).map(|(name, _)| name)
    }

    /// Every collector's schedule under its config key (the `collector` label).
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, CollectorConfig)> {
        use awsconn_catalogue::collector::*;
        [
            (VPC_LINKS, self.vpc_links.schedule()),
            (LOAD_BALANCERS, self.load_balancers.schedule()),
            (ENDPOINTS, self.endpoints),
            (NETWORK_RULES, self.network_rules),
            (EXECUTION_LOGS, self.execution_logs.schedule()),
            (CLOUDWATCH, self.cloudwatch.schedule()),
            (INTERCONNECT, self.interconnect.schedule()),
            (CERTIFICATES, self.certificates),
            (TLS_PROBE, self.tls_probe.schedule()),
        ]
        .into_iter()
    }
}

/// A host name, an IP address, `host:port` or `[IPv6]:port`.
fn is_probe_address(address: &str) -> bool {
    let host_name = |h: &str| {
        !h.is_empty()
            && h.len() <= 253
            && h.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
    };
    if address.parse::<std::net::IpAddr>().is_ok() || host_name(address) {
        return true;
    }
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split_once("]:").is_some_and(|(ip, port)| {
            ip.parse::<std::net::Ipv6Addr>().is_ok() && port.parse::<u16>().is_ok()
        });
    }
    address.rsplit_once(':').is_some_and(|(host, port)| {
        (host_name(host) || host.parse::<std::net::Ipv4Addr>().is_ok())
            && port.parse::<u16>().is_ok()
    })
}

/// AWS's own rules for AssumeRole's parameters: a value it would refuse is
/// refused here, at load, not on every poll.
fn check_assume_role(
    at: &str,
    session_name: Option<&str>,
    external_id: Option<&str>,
) -> Result<(), String> {
    if let Some(name) = session_name
        && !((2..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)))
    {
        return Err(format!(
            "{at}.session_name: {name:?} must be 2 to 64 letters, digits or _+=,.@-"
        ));
    }
    if let Some(id) = external_id
        && !((2..=1224).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c)))
    {
        return Err(format!(
            "{at}.external_id: must be 2 to 1224 letters, digits or _+=,.@:/-"
        ));
    }
    Ok(())
}

/// A list of regions names at least one region, each once; `enabled` is asked of AWS.
fn check_regions(at: &str, regions: Option<&Regions>) -> Result<(), String> {
    let Some(Regions::Listed(regions)) = regions else {
        return Ok(());
    };
    if regions.is_empty() {
        return Err(format!(
            "{at}: name at least one region, or write `enabled`"
        ));
    }
    if let Some(bad) = regions.iter().find(|r| !is_region_name(r)) {
        return Err(format!(
            "{at}: {bad:?} is not a region name (like us-east-1)"
        ));
    }
    if let Some(dup) = first_duplicate(regions) {
        return Err(format!("{at}: {dup:?} is listed twice"));
    }
    Ok(())
}

fn is_alias(s: &str) -> bool {
    (1..=64).contains(&s.chars().count()) && !s.chars().any(char::is_control)
}

/// An IAM role name, with an optional path (`team/awsconn-read`).
fn is_role_name(s: &str) -> bool {
    let name = s.rsplit('/').next().unwrap_or_default();
    (1..=64).contains(&name.len())
        && s.len() <= 512
        && s.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
        })
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// An Organizations parent: an OU (`ou-` root part `-` OU part) or a root (`r-…`).
fn is_organization_parent(s: &str) -> bool {
    let lower_alnum = |p: &str, min: usize| {
        (min..=32).contains(&p.len())
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    match s.split('-').collect::<Vec<_>>().as_slice() {
        ["ou", root, ou] => lower_alnum(root, 4) && lower_alnum(ou, 8),
        ["r", root] => lower_alnum(root, 4),
        _ => false,
    }
}

fn first_duplicate<T: PartialEq>(items: &[T]) -> Option<&T> {
    items
        .iter()
        .enumerate()
        .find(|(i, a)| items[..*i].contains(a))
        .map(|(_, a)| a)
}

fn is_region_name(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_role_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "iam", "", account, resource]
        if partition.starts_with("aws")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("role/").is_some_and(|r| !r.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of the documented example, set to a value of the wrong
    /// kind in turn: one error, naming the line, and the field or its value.
    #[test]
    fn every_field_wrong_in_turn_is_named_with_its_line() {
        let example = include_str!("../examples/config.yaml");
        let lines: Vec<&str> = example.lines().collect();
        let mut tried = 0;
        for (i, line) in lines.iter().enumerate() {
            let body = line.trim_start();
            let indent = &line[..line.len() - body.len()];
            let (dash, body) = match body.strip_prefix("- ") {
                Some(rest) => ("- ", rest),
                None => ("", body),
            };
            if body.starts_with('#') {
                continue;
            }
            let Some((key, value)) = body.split_once(':') else {
                continue;
            };
            if value.trim().is_empty() || value.trim().starts_with('#') || key.contains(' ') {
                continue; // a mapping follows on the next lines
            }
            let wrong = format!("{indent}{dash}{key}: {{wrong: [1]}}");
            let mut edited = lines.clone();
            edited[i] = &wrong;
            let err = Config::parse(&edited.join("\n"))
                .expect_err(&format!("line {}: {key} took a mapping", i + 1))
                .to_string();
            assert!(
                err.contains(&format!("line {}", i + 1)),
                "{key} (line {}): {err}",
                i + 1
            );
            assert!(err.contains(key), "{key}: {err}");
            tried += 1;
        }
        assert!(tried >= 25, "only {tried} fields tried");
    }

    /// Every number, duration and boolean of the documented example, set out
    /// of its range (or to a YAML 1.1 boolean) in turn: refused, naming the
    /// field and its line.
    #[test]
    fn every_knob_out_of_range_in_turn_is_refused_with_field_and_line() {
        let example = include_str!("../examples/config.yaml");
        let lines: Vec<&str> = example.lines().collect();
        let mut tried = 0;
        for (i, line) in lines.iter().enumerate() {
            let body = line.trim_start();
            if body.starts_with('#') {
                continue;
            }
            let Some((key, value)) = body.split_once(':') else {
                continue;
            };
            let value = value.split('#').next().unwrap_or("").trim();
            let wrong = if humantime::parse_duration(value).is_ok() {
                // Beyond every duration's range.
                "499d"
            } else if value.parse::<f64>().is_ok() {
                "1e12"
            } else if value == "true" || value == "false" {
                "yes"
            } else {
                continue;
            };
            let edited_line = line.replacen(value, wrong, 1);
            let mut edited = lines.clone();
            edited[i] = &edited_line;
            let err = Config::parse(&edited.join("\n"))
                .expect_err(&format!("line {}: {key}: {wrong} was taken", i + 1))
                .to_string();
            assert!(
                err.contains(&format!("line {}", i + 1)),
                "{key} (line {}): {err}",
                i + 1
            );
            assert!(err.contains(key.trim()), "{key}: {err}");
            tried += 1;
        }
        assert!(tried >= 40, "only {tried} knobs tried");
    }

    /// What the checks after parsing refuse names the field and its line.
    #[test]
    fn relations_between_settings_name_the_line() {
        let text = "regions: [us-east-1]\ncollectors:\n  vpc_links:\n    interval: 10s\n    timeout: 20s\n";
        let err = Config::parse(text).unwrap_err().to_string();
        assert!(err.contains("collectors.vpc_links.timeout"), "{err}");
        assert!(err.contains("(line 5)"), "{err}");
        let flow = "regions: [us-east-1]\naws: {quotas: {apigateway: {rate: 1e-300, burst: 1}}}\n";
        let err = Config::parse(flow).unwrap_err().to_string();
        assert!(err.contains("aws.quotas.apigateway.rate"), "{err}");
        assert!(err.contains("(line 2)"), "{err}");
        assert_eq!(line_of("a:\n  b: {c: 1}\n", "a.b.c"), Some(2));
        assert_eq!(line_of("a:\n  bb: 1\n  b: 2\n", "a.b"), Some(3));
        assert_eq!(
            line_of("a: 1\n", "a.missing"),
            Some(1),
            "the enclosing field"
        );
        assert_eq!(line_of("b: 1\n", "a.missing"), None);
        // A field left at its default is not a sibling's, nor a comment's.
        let text = "collectors:\n  vpc_links:\n    interval: 10s   # timeout: default\n  load_balancers:\n    timeout: 5s\n";
        assert_eq!(line_of(text, "collectors.vpc_links.timeout"), Some(2));
        assert_eq!(line_of(text, "collectors.load_balancers.timeout"), Some(5));
        let text = "collectors: {cloudwatch: {period: 60s}, execution_logs: {\n  lookback: 1m}}\n";
        assert_eq!(line_of(text, "collectors.cloudwatch.lookback"), Some(1));
        assert_eq!(line_of(text, "collectors.execution_logs.lookback"), Some(2));
        // Sequences, block and flow, with the items counted.
        let text = "accounts:\n  - {}\n  - role_arn: x\n    external_id: 'a: b'\nregions: [us-east-1,\n  eu-west-1]\nlogs: [{g: 1}, {h: 2}]\nlist:\n- a\n- b: 1\n";
        let lines = field_lines(text);
        assert_eq!(lines.get("accounts[0]"), Some(&2));
        assert_eq!(lines.get("accounts[1].role_arn"), Some(&3));
        assert_eq!(lines.get("accounts[1].external_id"), Some(&4));
        assert_eq!(lines.get("regions"), Some(&5));
        assert_eq!(lines.get("logs[1].h"), Some(&7));
        assert_eq!(lines.get("list[1].b"), Some(&10));
        assert_eq!(line_of(text, "accounts[1].session_name"), Some(3));
    }

    /// What the file leaves out follows what it sets: `interval: 10s`
    /// alone is valid (its timeout is 10s), and so are a short lookback,
    /// a long revalidate, a long period and a short probe timeout.
    #[test]
    fn defaults_follow_the_settings_they_depend_on() {
        let c = Config::parse(
            "regions: [us-east-1]\ncollectors:\n  vpc_links: {interval: 10s, revalidate: 2h}\n  endpoints: {interval: 2m}\n  execution_logs: {lookback: 1m}\n  cloudwatch: {period: 1h}\n  tls_probe: {interval: 2s}\n",
        )
        .unwrap();
        let s = Duration::from_secs;
        assert_eq!(c.collectors.vpc_links.timeout, s(10));
        assert_eq!(c.collectors.vpc_links.full_refresh, s(7200));
        assert_eq!(c.collectors.endpoints.timeout, s(30));
        assert_eq!(c.collectors.execution_logs.overlap, s(60));
        assert_eq!(c.collectors.cloudwatch.lookback, s(3600));
        assert_eq!(c.collectors.tls_probe.timeout, s(2));
        assert_eq!(
            c.collectors.tls_probe.probe_timeout,
            Duration::from_millis(1800)
        );
        let plain = Config::parse("regions: [us-east-1]").unwrap();
        assert_eq!(plain.collectors.vpc_links.timeout, s(30));
        assert_eq!(plain.collectors.vpc_links.full_refresh, s(3600));
        assert_eq!(plain.collectors.execution_logs.overlap, s(300));
        assert_eq!(plain.collectors.cloudwatch.lookback, s(600));
        assert_eq!(plain.collectors.tls_probe.probe_timeout, s(5));
        assert_eq!(
            plain,
            Config::parse("regions: [us-east-1]\ncollectors: {vpc_links: {}}").unwrap()
        );
    }

    #[test]
    fn booleans_are_yaml_1_2_booleans_only() {
        for bad in ["yes", "\"yes\"", "on", "1", "\"enabled\""] {
            let text =
                format!("regions: [us-east-1]\ncollectors:\n  vpc_links: {{enabled: {bad}}}\n");
            let err = Config::parse(&text).expect_err(bad).to_string();
            assert!(err.contains("line 3"), "{bad}: {err}");
            assert!(err.contains("enabled: "), "{bad}: {err}");
        }
        for good in ["true", "false", "True", "FALSE"] {
            let text =
                format!("regions: [us-east-1]\ncollectors:\n  vpc_links: {{enabled: {good}}}\n");
            Config::parse(&text).expect(good);
        }
    }

    /// A billion laughs: refused by the parser's alias budget before it is
    /// expanded, whatever the schema (a self-describing value would take
    /// every expansion), and so by the loader.
    #[test]
    fn yaml_alias_bombs_are_refused() {
        let mut text = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for name in 'b'..='j' {
            text.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
            prev = name;
        }
        let err = serde_saphyr::from_str::<serde_json::Value>(&text)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("alias") || err.contains("budget") || err.contains("limit"),
            "{err}"
        );
        text.push_str("regions: [us-east-1]\n");
        assert!(Config::parse(&text).is_err());
        let nested = format!(
            "regions: [us-east-1]\nx: {}1{}\n",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let err = serde_saphyr::from_str::<serde_json::Value>(&nested)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("depth") || err.contains("limit") || err.contains("budget"),
            "{err}"
        );
    }

    proptest::proptest! {
        /// Whatever the text, parsing ends with a config or an error.
        #[test]
        fn parsing_never_panics(text in "\\PC{0,300}") {
            let _ = Config::parse(&text);
        }

        /// YAML-looking text built from the config's own keys: still no panic.
        #[test]
        fn parsing_config_like_text_never_panics(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "regions", "collectors", "vpc_links", "interval", "timeout", "enabled",
                    "aws", "max_attempts", "accounts", "role_arn", ":", " ", "\n", "  ",
                    "[", "]", "{", "}", ",", "-", "&a", "*a", "60s", "1e9", "-1", "~", "\"",
                    "us-east-1", "true", "!!str", "#",
                ]),
                0..60,
            )
        ) {
            let _ = Config::parse(&parts.concat());
        }

        /// Random values in every field of every section: never a panic
        /// (what is accepted is used without one in `commands`' tests).
        #[test]
        fn random_values_in_every_field_never_panic(
            values in crate::testkit::config_values(),
        ) {
            let _ = Config::parse(&crate::testkit::random_config_text(&values));
        }

        /// What goes in comes out: regions, intervals, timeouts and attempts.
        #[test]
        fn valid_settings_round_trip(
            regions in proptest::sample::subsequence(
                vec!["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1"], 1..5),
            interval in 1u64..86_400,
            timeout_share in 1u64..=100,
            attempts in 1u32..=10,
        ) {
            let timeout = (interval * timeout_share / 100).max(1);
            let text = format!(
                "regions: [{}]\ncollectors:\n  vpc_links: {{interval: {interval}s, timeout: {timeout}s}}\naws: {{max_attempts: {attempts}}}\n",
                regions.join(", ")
            );
            let config = Config::parse(&text).unwrap();
            proptest::prop_assert_eq!(&config.regions, &regions);
            proptest::prop_assert_eq!(config.collectors.vpc_links.interval, Duration::from_secs(interval));
            proptest::prop_assert_eq!(config.collectors.vpc_links.timeout, Duration::from_secs(timeout));
            proptest::prop_assert_eq!(config.aws.max_attempts, attempts);
        }
    }

    #[test]
    fn interconnect_absent_interval() {
        let config = Config::parse("regions: [us-east-1]\n").unwrap();
        assert_eq!(
            config.collectors.interconnect.absent_interval,
            Duration::from_secs(3600)
        );
        let config = Config::parse(
            "regions: [us-east-1]\ncollectors: {interconnect: {interval: 5m, absent_interval: 6h}}\n",
        )
        .unwrap();
        assert_eq!(
            config.collectors.interconnect.absent_interval,
            Duration::from_secs(6 * 3600)
        );
        let err = Config::parse(
            "regions: [us-east-1]\ncollectors:\n  interconnect:\n    interval: 5m\n    absent_interval: 1m\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(
                "collectors.interconnect.absent_interval: must be at least the interval (5m)"
            ),
            "{err}"
        );
        assert!(err.contains("(line 5)"), "{err}");
        // An interval past the default leaves the default behind.
        let config =
            Config::parse("regions: [us-east-1]\ncollectors: {interconnect: {interval: 2h}}\n")
                .unwrap();
        assert_eq!(
            config.collectors.interconnect.absent_interval,
            Duration::from_secs(2 * 3600)
        );
    }

    /// A duration that passes check-config must not overflow a timer later.
    #[test]
    fn durations_past_500_days_are_refused_with_their_field() {
        for text in [
            "regions: [us-east-1]\ncollectors: {vpc_links: {interval: 300000000000y}}\n",
            "regions: [us-east-1]\naws: {connect_timeout: 600d}\n",
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(
                err.contains("longer than 500 days") || err.contains("invalid duration"),
                "{err}"
            );
        }
        assert!(
            Config::parse(
                "regions: [us-east-1]\ncollectors: {vpc_links: {interval: 1h, timeout: 30s}}\n"
            )
            .is_ok()
        );
    }

    /// The configuration's sections are the catalogue's collectors, in
    /// its order (the mixin's inhibitions name them by these keys).
    #[test]
    fn the_sections_are_the_catalogues_collectors() {
        let keys: Vec<&str> = CollectorsConfig::default().iter().map(|(k, _)| k).collect();
        assert_eq!(keys, awsconn_catalogue::COLLECTORS);
    }

    /// Every scope falls to exactly one shard, the same one on every machine
    /// and in every build (the hash is pinned by a known value).
    #[test]
    fn shards_split_the_scopes_without_overlap_or_gap() {
        let accounts: Vec<AccountConfig> = std::iter::once(AccountConfig::default())
            .chain((0..20).map(|i| AccountConfig {
                role_arn: Some(format!("arn:aws:iam::{:012}:role/awsconn", 100_000 + i)),
                ..Default::default()
            }))
            .collect();
        let regions = ["us-east-1", "eu-west-1", "ap-southeast-2"];
        let shards: Vec<Shard> = (0..3).map(|i| Shard::new(i, 3).unwrap()).collect();
        let mut per_shard = [0; 3];
        for account in &accounts {
            for region in regions {
                let owners: Vec<u32> = shards
                    .iter()
                    .filter(|s| s.owns(account, region))
                    .map(|s| s.index)
                    .collect();
                assert_eq!(owners.len(), 1, "{account:?} {region}");
                per_shard[owners[0] as usize] += 1;
            }
        }
        assert!(per_shard.iter().all(|&n| n >= 15), "{per_shard:?}");
        // The hash of "|us-east-1" is 0x2a4193334c70cdbf: the ambient
        // account's us-east-1 is the same shard of 3 on every machine, in every build.
        assert_eq!(shard_hash("|us-east-1"), 0x2a41_9333_4c70_cdbf);
        assert_eq!(jump_consistent_hash(0x2a41_9333_4c70_cdbf, 3), 2);
        assert!(Shard::new(2, 3).unwrap().owns(&accounts[0], "us-east-1"));
        assert!(Shard::default().owns(&accounts[0], "us-east-1"));
        assert!(Shard::new(3, 3).is_err());
        assert_eq!(
            Shard::from_hostname("awsconn-2.awsconn.monitoring.svc", 3),
            Ok(Shard { index: 2, total: 3 })
        );
        // A role's key is pinned too: "arn:aws:iam::100000000000:role/a|eu-west-1".
        assert_eq!(
            shard_hash("arn:aws:iam::100000000000:role/a|eu-west-1"),
            0x7d77_e865_7080_4b6c
        );
        assert!(Shard::from_hostname("awsconn", 3).is_err());
        assert!(Shard::from_hostname("awsconn-5", 3).is_err());
    }

    /// The paper's reference implementation gives these buckets (the same
    /// vectors as other ports' tests): the function is jump hash, not a cousin.
    #[test]
    fn jump_hash_matches_the_reference_vectors() {
        for (key, buckets, bucket) in [
            (1, 1, 0),
            (42, 57, 43),
            (0xDEAD_10CC, 1, 0),
            (0xDEAD_10CC, 666, 361),
            (256, 1024, 520),
        ] {
            assert_eq!(
                jump_consistent_hash(key, buckets),
                bucket,
                "{key} {buckets}"
            );
        }
    }

    /// Scaling from 4 shards to 5 moves about a fifth of 2 000 scopes, each
    /// one to the new shard; from 5 back to 4 only those come back.
    #[test]
    fn a_fifth_shard_takes_a_fifth_of_the_scopes_and_moves_no_other() {
        let scopes: Vec<(AccountConfig, &str)> = (0..1000)
            .flat_map(|i| {
                let account = AccountConfig {
                    role_arn: Some(format!("arn:aws:iam::{:012}:role/awsconn", 200_000 + i)),
                    ..Default::default()
                };
                [(account.clone(), "us-east-1"), (account, "eu-west-1")]
            })
            .collect();
        let owner = |total: u32, (account, region): &(AccountConfig, &str)| {
            (0..total)
                .find(|&i| Shard::new(i, total).unwrap().owns(account, region))
                .unwrap()
        };
        let mut moved = 0;
        let mut on_new = [0; 5];
        for scope in &scopes {
            let (before, after) = (owner(4, scope), owner(5, scope));
            on_new[after as usize] += 1;
            if before != after {
                assert_eq!(after, 4, "{scope:?} moved between old shards");
                moved += 1;
            }
        }
        let share = f64::from(moved) / scopes.len() as f64;
        assert!(
            (0.16..=0.24).contains(&share),
            "moved {moved} of {}",
            scopes.len()
        );
        assert!(
            on_new.iter().all(|&n| (340..=460).contains(&n)),
            "{on_new:?}"
        );
    }

    /// Each shard keeps its own execution-log state file.
    #[test]
    fn a_shard_has_its_own_state_file() {
        let config = Config::parse(
            "regions: [us-east-1]\ncollectors: {execution_logs: {state_file: /var/lib/awsconn/state.json}}\n",
        )
        .unwrap();
        let file = |c: Config| c.collectors.execution_logs.state_file.unwrap();
        assert_eq!(
            file(config.clone().for_shard(Shard::new(1, 3).unwrap())),
            std::path::Path::new("/var/lib/awsconn/state.shard-1-of-3.json")
        );
        assert_eq!(
            file(config.for_shard(Shard::default())),
            std::path::Path::new("/var/lib/awsconn/state.json")
        );
    }

    /// The probe's settings are refused where they could not work.
    #[test]
    fn tls_probe_settings_that_cannot_work_are_refused() {
        let probe = |extra: &str| {
            Config::parse(&format!(
                "regions: [us-east-1]\ncollectors: {{tls_probe: {{enabled: true{extra}}}}}\n"
            ))
        };
        assert!(probe("").is_ok());
        assert!(probe(", only_addresses: true, addresses: {lb: 10.0.0.5}").is_ok());
        for (bad, says) in [
            (", timeout: 5s, probe_timeout: 5s", "90 %"),
            (", concurrency: 0", "concurrency"),
            (", ca_file: /nonexistent/ca.pem", "ca_file"),
            (", addresses: {lb: \"host:abc\"}", "addresses.lb"),
            (", addresses: {lb: \"10.0.0.5 \"}", "addresses.lb"),
            (", only_addresses: true", "only_addresses"),
            (", only_addresses: 1", "only_addresses"),
        ] {
            let e = probe(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        for good in [
            "10.0.0.5",
            "lb.internal",
            "lb.internal:8443",
            "[fd00::5]:443",
            "fd00::5",
        ] {
            assert!(is_probe_address(good), "{good}");
        }
    }

    /// Discovery and per-account regions: what AWS would refuse, and what
    /// makes no sense, is refused at load naming the field.
    #[test]
    fn discovery_and_account_regions_are_checked_at_load() {
        let ok = Config::parse(
            "regions: [us-east-1]\naccounts: [{alias: main, regions: enabled}]\ndiscovery:\n  refresh: 30m\n  organizations: {role_name: team/awsconn-read, include_ous: [ou-ab12-cd34ef56, r-ab12], exclude_accounts: ['111122223333'], regions: [eu-west-1]}\n",
        )
        .unwrap();
        assert_eq!(ok.accounts[0].regions, Some(Regions::Enabled));
        assert_eq!(ok.discovery.refresh, Duration::from_secs(1800));
        let org = ok.discovery.organizations.as_ref().unwrap();
        assert_eq!(org.regions, Some(Regions::Listed(vec!["eu-west-1".into()])));
        // With discovery and no account listed, the ambient credentials are
        // not an account of their own.
        assert!(
            Config::parse("regions: [us-east-1]\ndiscovery: {organizations: {role_name: r}}\n")
                .unwrap()
                .listed_accounts()
                .is_empty()
        );
        for (text, field) in [
            ("accounts: [{regions: all}]", "regions: \"all\" is neither"),
            ("accounts: [{regions: []}]", "accounts[0].regions"),
            ("accounts: [{regions: [mars-1]}]", "accounts[0].regions"),
            ("accounts: [{alias: ''}]", "accounts[0].alias"),
            ("accounts: [{alias: a}, {alias: b}]", "listed twice"),
            ("discovery: {refresh: 5s}", "refresh"),
            ("discovery: {organizations: {}}", "role_name"),
            (
                "discovery: {organizations: {role_name: 'a b'}}",
                "discovery.organizations.role_name",
            ),
            (
                "discovery: {organizations: {role_name: r, include_ous: [ou-1]}}",
                "include_ous",
            ),
            (
                "discovery: {organizations: {role_name: r, exclude_accounts: ['12']}}",
                "exclude_accounts",
            ),
            (
                "discovery: {organizations: {role_name: r, role_arn: nope}}",
                "role_arn",
            ),
            (
                "discovery: {organizations: {role_name: r, session_name: x}}",
                "session_name",
            ),
            (
                "discovery: {organizations: {role_name: r, regions: [us-east-1, us-east-1]}}",
                "listed twice",
            ),
        ] {
            let err = Config::parse(&format!("regions: [us-east-1]\n{text}\n"))
                .expect_err(text)
                .to_string();
            assert!(err.contains(field), "{text}: {err}");
        }
    }

    #[test]
    fn regions_alone_is_a_valid_config() {
        let c = Config::parse("regions: [us-east-1]").unwrap();
        assert_eq!(c.regions, vec!["us-east-1"]);
        assert!(c.collectors.vpc_links.enabled);
        assert_eq!(c.collectors.vpc_links.interval, Duration::from_secs(60));
        assert_eq!(c.listed_accounts(), vec![AccountEntry::default()]);
        assert_eq!(c.aws.retry_mode, RetryMode::Adaptive);
        assert_eq!(
            c.collectors.cloudwatch.link_activity_window,
            Duration::from_secs(60 * 86_400)
        );
        let off = Config::parse(
            "regions: [us-east-1]\ncollectors: {cloudwatch: {link_activity_window: 0s}}",
        )
        .unwrap();
        assert!(off.collectors.cloudwatch.link_activity_window.is_zero());
    }

    #[test]
    fn quotas_take_a_share_and_overrides_by_service_or_operation() {
        let c = Config::parse("regions: [us-east-1]").unwrap();
        assert_eq!(c.aws.quota_share, 0.5);
        assert!(c.aws.quotas.is_empty());
        let c = Config::parse(
            "regions: [us-east-1]\naws:\n  quota_share: 0.25\n  quotas:\n    apigateway: {rate: 20, burst: 80}\n    cloudwatchlogs:FilterLogEvents: {rate: 10, burst: 10}\n",
        )
        .unwrap();
        assert_eq!(c.aws.quota_share, 0.25);
        assert_eq!(c.aws.quotas["apigateway"].burst, 80.0);
        for (bad, says) in [
            ("quota_share: 0", "quota_share: 0 is out of range"),
            ("quota_share: 1.5", "quota_share: 1.5 is out of range"),
            (
                "quotas: {apigatway: {rate: 1, burst: 1}}",
                "unknown service \"apigatway\"",
            ),
            (
                "quotas: {apigateway: {rate: 0, burst: 1}}",
                "aws.quotas.apigateway.rate",
            ),
            (
                "quotas: {apigateway: {rate: 1, burst: 0.5}}",
                "aws.quotas.apigateway.burst",
            ),
            ("quotas: {apigateway: {rate: 1}}", "burst"),
            ("quotas: {ec2:Describe*: {rate: 1, burst: 1}}", "operation"),
            ("quotas: {sts: {rate: 1, burst: 1}}", "unknown service"),
            (
                "quotas: {apigatewayv2: {rate: 1, burst: 1}}",
                "write apigateway",
            ),
        ] {
            let err = Config::parse(&format!("regions: [us-east-1]\naws: {{{bad}}}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
        for bad in ["full_refresh: 0s", "revalidate: 2h, full_refresh: 1h"] {
            let err = Config::parse(&format!(
                "regions: [us-east-1]\ncollectors: {{vpc_links: {{{bad}}}}}\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(err.contains("full_refresh"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_design_example_is_valid() {
        let c = Config::parse(
            "accounts:\n  - role_arn: arn:aws:iam::111122223333:role/awsconn-read\n    external_id: example\nregions: [us-east-1, eu-west-1]\ncollectors:\n  vpc_links: {enabled: true, interval: 60s, timeout: 30s}\n",
        )
        .unwrap();
        assert_eq!(c.accounts.len(), 1);
        assert_eq!(c.accounts[0].external_id.as_deref(), Some("example"));
        assert_eq!(c.collectors.vpc_links.timeout, Duration::from_secs(30));
    }

    #[test]
    fn unknown_field_names_the_field_and_line() {
        let err =
            Config::parse("regions: [us-east-1]\ncollectors:\n  vpc_links:\n    intervall: 5m\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("intervall"), "{err}");
        assert!(err.contains("line 4"), "{err}");
    }

    #[test]
    fn mistyped_value_names_the_line() {
        let err =
            Config::parse("regions: [us-east-1]\ncollectors:\n  vpc_links:\n    enabled: maybe\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("line 4"), "{err}");
        let err = Config::parse("regions: [us-east-1]\naws:\n  max_attempts: many\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn bad_duration_is_explained() {
        let err =
            Config::parse("regions: [us-east-1]\ncollectors:\n  vpc_links: {interval: soon}\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("invalid duration \"soon\""), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn semantic_checks() {
        for (text, needle) in [
            ("regions: []", "at least one region"),
            ("regions: [US-EAST-1]", "not a region name"),
            ("regions: [us-east-1, us-east-1]", "listed twice"),
            (
                "regions: [us-east-1]\naccounts: [{role_arn: 'arn:aws:iam::1:role/x'}]",
                "not an IAM role ARN",
            ),
            (
                "regions: [us-east-1]\naccounts: [{external_id: xyz}]",
                "need a role_arn",
            ),
            (
                "regions: [us-east-1]\ncollectors: {cloudwatch: {link_activity_window: 12h}}",
                "link_activity_window: must be 0s (off) or between 1 day and 455 days",
            ),
            (
                "regions: [us-east-1]\ncollectors: {cloudwatch: {link_activity_window: 500d}}",
                "link_activity_window",
            ),
            (
                "regions: [us-east-1]\ncollectors: {vpc_links: {interval: 10s, timeout: 20s}}",
                "at most the interval",
            ),
            (
                "regions: [us-east-1]\ncollectors: {vpc_links: {interval: 100ms, timeout: 50ms}}",
                "interval: 100ms is out of range: it must be from 1s to 1d",
            ),
            (
                "regions: [us-east-1]\naws: {max_attempts: 0}",
                "max_attempts: 0 is out of range",
            ),
            (
                "regions: [us-east-1]\ncollectors: {cloudwatch: {period: 90s}}",
                "multiple of 60s",
            ),
            (
                "regions: [us-east-1]\ncollectors: {execution_logs: {lookback: 1m, overlap: 5m}}",
                "at most the lookback",
            ),
        ] {
            let err = Config::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn missing_regions_is_an_error() {
        let err = Config::parse("accounts: []\n").unwrap_err().to_string();
        assert!(err.contains("regions"), "{err}");
    }

    #[test]
    fn role_arn_forms() {
        assert!(is_role_arn("arn:aws:iam::111122223333:role/awsconn-read"));
        assert!(is_role_arn("arn:aws-cn:iam::111122223333:role/path/to/r"));
        assert!(!is_role_arn("arn:aws:iam::111122223333:user/bob"));
        assert!(!is_role_arn("arn:aws:sts::111122223333:role/x"));
    }

    #[test]
    fn example_config_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/config.yaml");
        let c = Config::load(&path).unwrap();
        assert!(!c.regions.is_empty());
    }
}
