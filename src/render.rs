//! Metric families -> exposition text: the exporter's own families (build,
//! reloads, publishes, collector statuses), the runbook checks' families,
//! and the [`Families`] that each collector renders its own families into
//! (`collect/<name>.rs`; the CloudWatch collector's are named by data, a
//! [`DynamicFamily`] each). Nothing here calls back into a collector: the
//! publish (`collect::publish`) calls each collector's families, then the
//! checks', top-down.
//!
//! Rendering is pure: plain values in, text out, so every series the
//! contract names is unit-tested without AWS. [`Families`] writes each
//! sample's line as it is added ([`crate::exposition::text`]) and
//! [`Families::encode`] hands the part over; the live registries (API-call
//! telemetry) go through prometheus-client ([`crate::exposition::encode_registry`]).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use crate::diagnose::{self, LinkReport};
use crate::exposition::{Encoded, text};
use crate::inventory::{Inventory, Scope};

/// Label names and values of one sample, in the order they are written.
pub type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    /// Written with a `_total` suffix added to the family name.
    Counter,
}

/// The outcome of a collector's latest poll of one scope.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectorStatus {
    /// The collector's config key (`vpc_links`, ...).
    pub collector: &'static str,
    pub scope: Scope,
    pub success: bool,
    pub duration: Duration,
    pub last_success: Option<SystemTime>,
    /// Polls cancelled because they ran past the collector's timeout, since start.
    pub timeouts: u64,
    /// Polls finished (succeeded, failed or timed out), since start.
    pub polls: u64,
}

/// Version facts for `awsconn_build_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    pub version: &'static str,
    pub revision: &'static str,
    pub branch: &'static str,
    pub rustc_version: &'static str,
    /// The target triple (`x86_64-unknown-linux-gnu`).
    pub target: &'static str,
}

impl BuildInfo {
    pub fn current() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION"),
            revision: env!("AWSCONN_BUILD_REVISION"),
            branch: env!("AWSCONN_BUILD_BRANCH"),
            rustc_version: env!("AWSCONN_RUSTC_VERSION"),
            target: env!("AWSCONN_TARGET"),
        }
    }

    /// `0.1.0 (revision abc123, branch main, rustc 1.95.0, x86_64-unknown-linux-gnu)`:
    /// what `--version` and the startup log line say.
    pub fn long_version() -> &'static str {
        concat!(
            env!("CARGO_PKG_VERSION"),
            " (revision ",
            env!("AWSCONN_BUILD_REVISION"),
            ", branch ",
            env!("AWSCONN_BUILD_BRANCH"),
            ", rustc ",
            env!("AWSCONN_RUSTC_VERSION"),
            ", ",
            env!("AWSCONN_TARGET"),
            ")"
        )
    }
}

/// How the latest configuration reload went (`awsconn_config_last_reload_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadStatus {
    pub successful: bool,
    /// When a configuration was last loaded successfully (the start counts).
    pub last_success: SystemTime,
    /// Reloads so far: of a changed file, of an unchanged one (nothing
    /// done), and refused.
    pub applied: u64,
    pub unchanged: u64,
    pub failed: u64,
}

impl Default for ReloadStatus {
    fn default() -> Self {
        Self {
            successful: true,
            last_success: SystemTime::UNIX_EPOCH,
            applied: 0,
            unchanged: 0,
            failed: 0,
        }
    }
}

/// Everything one rendering reads.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// How the latest configuration reload went.
    pub reload: ReloadStatus,
    pub inventories: BTreeMap<Scope, std::sync::Arc<Inventory>>,
    /// The store's revision of each scope's data: a scope rendered at the
    /// same revision keeps its part. A scope without one is rendered every
    /// publish.
    pub revisions: BTreeMap<Scope, u64>,
    pub statuses: Vec<std::sync::Arc<CollectorStatus>>,
    /// Export `awsconn_target_health` per target (opt-in: cardinality).
    pub per_target_health: bool,
    /// When the snapshot was taken and how the checks judge time.
    pub diagnosis: diagnose::Clock,
    /// Which of the shards this process is.
    pub shard: crate::config::Shard,
    /// The accounts this process polls, by account label.
    pub accounts: BTreeMap<String, AccountInfo>,
    /// How the latest listing of the organisation went, when discovery is on.
    pub discovery: Option<DiscoveryStatus>,
}

/// What `awsconn_account_info` says of a polled account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// Its alias, or the name Organizations gives it; never its e-mail.
    pub name: Option<String>,
    pub source: crate::accounts::Source,
    /// Its tags named in `tags_as_labels`.
    pub tags: BTreeMap<String, String>,
}

/// How the latest listing of the organisation's accounts went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscoveryStatus {
    pub successful: bool,
    pub last_success: Option<SystemTime>,
    pub census: crate::accounts::Census,
}

/// The publisher's own figures, shown among the exporter's families.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PublishStats {
    /// Publishes so far, this one included.
    pub publishes: u64,
    /// How long the previous publish took (snapshot to swap).
    pub previous_duration: Duration,
    /// Scopes rendered so far, this publish's included (counted where the
    /// rendering happens, `collect::publish`).
    pub scope_renders: u64,
}

/// One family as its samples are added: its sample lines so far.
struct FamilyText {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    lines: String,
}

/// Families by name, in the order they first appear, so that every sample
/// of a family ends up in it (the exposition format allows each family
/// once). A sample is written as its line when it is added.
#[derive(Default)]
pub struct Families {
    families: Vec<FamilyText>,
    index: HashMap<&'static str, usize>,
    /// Families named by data, written after the others.
    dynamic: Vec<DynamicFamily>,
}

impl Families {
    /// Family `name` as written so far, begun if new (its first help and kind stay).
    fn family(&mut self, name: &'static str, help: &'static str, kind: Kind) -> &mut FamilyText {
        let families = &mut self.families;
        let i = *self.index.entry(name).or_insert_with(|| {
            families.push(FamilyText {
                name,
                help,
                kind,
                lines: String::new(),
            });
            families.len() - 1
        });
        &mut self.families[i]
    }

    /// Writes one sample's line into family `name`.
    fn sample<'l>(
        &mut self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: impl IntoIterator<Item = (&'l str, &'l str)>,
        value: f64,
    ) {
        let family = self.family(name, help, kind);
        let counter = family.kind == Kind::Counter;
        text::sample(&mut family.lines, name, counter, labels, value);
    }

    pub fn add(
        &mut self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: Labels,
        value: f64,
    ) {
        let labels = labels.iter().map(|(k, v)| (*k, v.as_str()));
        self.sample(name, help, kind, labels, value);
    }

    /// A sample labelled `base` and then `extra`: many samples that share
    /// their first labels without a copy of them each.
    pub fn add_with(
        &mut self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        base: &Labels,
        extra: (&'static str, &str),
        value: f64,
    ) {
        let labels = base.iter().map(|(k, v)| (*k, v.as_str())).chain([extra]);
        self.sample(name, help, kind, labels, value);
    }

    /// A state set: one sample per known state plus the current one if it is
    /// new, 1 for the current state and 0 for the others.
    pub fn state_set(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &Labels,
        state_label: &'static str,
        known: &[&str],
        current: &str,
    ) {
        let extra = (!known.contains(&current)).then_some(current);
        for state in known.iter().copied().chain(extra) {
            let value = f64::from(u8::from(state == current));
            self.add_with(name, help, Kind::Gauge, labels, (state_label, state), value);
        }
    }

    /// A family whose name comes from data (a CloudWatch metric), written
    /// after the others.
    pub fn add_dynamic(&mut self, family: DynamicFamily) {
        self.dynamic.push(family);
    }

    /// The families as one encoded part, those named by data after them.
    pub fn encode(self) -> Encoded {
        let header = |name: &str, counter: bool, help: &str| {
            let mut header = String::new();
            text::header(&mut header, name, counter, help);
            header
        };
        let own = self.families.into_iter().map(|f| {
            let counter = f.kind == Kind::Counter;
            // Named as written, as `Encoded::parse` names a family.
            let name = text::written_name(f.name, counter);
            (name, header(f.name, counter, f.help), f.lines)
        });
        let cloudwatch = self.dynamic.iter().map(|f| {
            let mut lines = String::new();
            for (labels, value) in &f.samples {
                let labels = labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                text::sample(&mut lines, &f.name, false, labels, *value);
            }
            (f.name.clone(), header(&f.name, false, &f.help), lines)
        });
        Encoded::from_families(own.chain(cloudwatch))
    }
}

pub fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// The `account` and `region` labels every scoped series starts with.
pub fn scope_labels(scope: &Scope) -> Labels {
    vec![
        ("account", scope.account.clone()),
        ("region", scope.region.clone()),
    ]
}

/// The exporter's own families: build, shard, accounts, discovery, reloads
/// and publishes (the part of the exposition that is not a scope's; the
/// collectors' statuses are [`status_families`], kept by the publish in
/// blocks of scopes).
pub fn exporter_families(snapshot: &Snapshot, stats: &PublishStats, build: &BuildInfo) -> Families {
    let mut f = Families::default();
    f.add(
        "awsconn_build_info",
        "Version of the exporter; always 1",
        Kind::Gauge,
        vec![
            ("version", build.version.to_owned()),
            ("revision", build.revision.to_owned()),
            ("branch", build.branch.to_owned()),
            ("rustc_version", build.rustc_version.to_owned()),
            ("target", build.target.to_owned()),
        ],
        1.0,
    );
    f.add(
        "awsconn_shard_ordinal",
        "This process's shard (--shard): it polls only the account and region scopes assigned to it",
        Kind::Gauge,
        vec![],
        f64::from(snapshot.shard.index),
    );
    f.add(
        "awsconn_total_shards",
        "How many shards split the account and region scopes (--total-shards); 1 when one process polls them all",
        Kind::Gauge,
        vec![],
        f64::from(snapshot.shard.total),
    );
    for (account, info) in &snapshot.accounts {
        f.add(
            "awsconn_account_info",
            "An account this process polls: its name (the alias in the configuration, else the name AWS Organizations gives it) and where it came from (config or organizations); always 1. Join on account to show names",
            Kind::Gauge,
            crate::tags::with_tags(
                vec![
                    ("account", account.clone()),
                    ("name", info.name.clone().unwrap_or_default()),
                    ("source", info.source.label().to_owned()),
                ],
                &info.tags,
            ),
            1.0,
        );
    }
    if let Some(discovery) = &snapshot.discovery {
        let source = || vec![("source", "organizations".to_owned())];
        f.add(
            "awsconn_discovery_success",
            "1 if the latest listing of the organisation's accounts worked; while it fails the last good list is polled",
            Kind::Gauge,
            source(),
            f64::from(u8::from(discovery.successful)),
        );
        f.add(
            "awsconn_discovery_last_success_timestamp_seconds",
            "When the organisation's accounts were last listed (Unix seconds); 0 if never",
            Kind::Gauge,
            source(),
            discovery.last_success.map_or(0.0, unix_seconds),
        );
        for (outcome, n) in discovery.census.outcomes() {
            f.add(
                "awsconn_discovery_accounts",
                "The organisation's accounts in its last good listing, by outcome: polled (through the member role), inactive (suspended or closed), excluded (exclude_accounts), listed (in accounts: too, polled as listed)",
                Kind::Gauge,
                vec![("source", "organizations".to_owned()), ("outcome", outcome.to_owned())],
                n as f64,
            );
        }
    }
    f.add(
        "awsconn_config_last_reload_successful",
        "1 if the latest configuration reload (SIGHUP, POST /-/reload) succeeded; a refused configuration leaves the previous one running",
        Kind::Gauge,
        vec![],
        f64::from(u8::from(snapshot.reload.successful)),
    );
    for (outcome, n) in [
        ("applied", snapshot.reload.applied),
        ("unchanged", snapshot.reload.unchanged),
        ("failed", snapshot.reload.failed),
    ] {
        f.add(
            "awsconn_config_reloads",
            "Configuration reloads by outcome: applied, unchanged (the file says what runs: nothing done) or failed (refused); requests that arrive within a second of a reload are answered by the next one",
            Kind::Counter,
            vec![("outcome", outcome.to_owned())],
            n as f64,
        );
    }
    f.add(
        "awsconn_config_last_reload_success_timestamp_seconds",
        "Unix time of the latest successful configuration load (the start counts)",
        Kind::Gauge,
        vec![],
        unix_seconds(snapshot.reload.last_success),
    );
    f.add(
        "awsconn_exposition_publishes",
        "Times the exposition and the findings were published (one per round of polls that finish together, after a short pause)",
        Kind::Counter,
        vec![],
        stats.publishes as f64,
    );
    f.add(
        "awsconn_exposition_publish_duration_seconds",
        "How long the previous publish took: snapshot, and for the scopes whose data changed topology, diagnosis, render and encode",
        Kind::Gauge,
        vec![],
        stats.previous_duration.as_secs_f64(),
    );
    f.add(
        "awsconn_exposition_scope_renders",
        "Account×region scopes rendered by publishes (topology, diagnosis, families): each scope when its data changes, and once a minute for the clock; otherwise it keeps its part",
        Kind::Counter,
        vec![],
        stats.scope_renders as f64,
    );
    f
}

/// The collectors' statuses of some scopes (a publish encodes them in
/// blocks of scopes, and keeps a block while its statuses stay).
pub fn status_families<'s>(statuses: impl IntoIterator<Item = &'s CollectorStatus>) -> Families {
    let mut f = Families::default();
    for status in statuses {
        collector_status(&mut f, status);
    }
    f
}

/// The runbook checks' families of one scope's links, from their reports.
pub fn check_families<'r>(f: &mut Families, reports: impl IntoIterator<Item = &'r LinkReport>) {
    for report in reports {
        link_checks(f, report);
    }
}

fn collector_status(f: &mut Families, s: &CollectorStatus) {
    // Borrowed, not cloned: a round of polls has every status written again.
    let labels = [
        ("collector", s.collector),
        ("account", s.scope.account.as_str()),
        ("region", s.scope.region.as_str()),
    ];
    f.sample(
        "awsconn_collector_success",
        "1 if the collector's latest poll of this account and region succeeded",
        Kind::Gauge,
        labels,
        f64::from(u8::from(s.success)),
    );
    f.sample(
        "awsconn_collector_duration_seconds",
        "Duration of the collector's latest poll of this account and region",
        Kind::Gauge,
        labels,
        s.duration.as_secs_f64(),
    );
    f.sample(
        "awsconn_collector_timeouts",
        "Polls cancelled because they ran past the collector's timeout",
        Kind::Counter,
        labels,
        s.timeouts as f64,
    );
    f.sample(
        "awsconn_collector_polls",
        "Polls of this account and region the collector finished (succeeded, failed or timed out); the exposition that shows a count includes that poll",
        Kind::Counter,
        labels,
        s.polls as f64,
    );
    if let Some(at) = s.last_success {
        f.sample(
            "awsconn_collector_last_success_timestamp_seconds",
            "Unix time of the collector's latest successful poll of this account and region",
            Kind::Gauge,
            labels,
            unix_seconds(at),
        );
    }
}

fn link_checks(f: &mut Families, report: &LinkReport) {
    let base: Labels = vec![
        ("account", report.account.clone()),
        ("region", report.region.clone()),
        ("vpc_link_id", report.vpc_link_id.clone()),
    ];
    for check in &report.checks {
        let mut labels = base.clone();
        labels.push(("check", check.check.to_owned()));
        // The link itself is already named by `vpc_link_id`.
        labels.extend(
            check
                .object
                .iter()
                .filter(|(k, _)| *k != "vpc_link")
                .map(|(k, v)| (k, v.clone())),
        );
        if check.unknown.is_some() {
            // Its object names the collector whose data is missing.
            f.add(
                "awsconn_vpc_link_check_unknown",
                "1 for a runbook check that could not be made: the collector it needs has not succeeded in this account and region, or one of its calls failed",
                Kind::Gauge,
                labels,
                1.0,
            );
        } else {
            f.add(
                "awsconn_vpc_link_check",
                "1 if the runbook check passes for the object it names, 0 if it fails",
                Kind::Gauge,
                labels,
                f64::from(u8::from(check.ok)),
            );
        }
    }
    if let Some(idle) = report.idle_seconds {
        f.add(
            "awsconn_vpc_link_idle_seconds",
            "Seconds since the newest day with requests through the APIs that use the V2 link (CloudWatch Count, one-day resolution; the lookback window when none); HTTP-side links go INACTIVE after 60 days",
            Kind::Gauge,
            base.clone(),
            idle as f64,
        );
    }
    f.add(
        "awsconn_vpc_link_healthy",
        "1 if every runbook check of the VPC link passes; 0 if one fails or cannot be made (awsconn_vpc_link_check_unknown)",
        Kind::Gauge,
        base,
        f64::from(u8::from(report.healthy)),
    );
}

/// A family whose name and label names come from data: CloudWatch metrics
/// (`awsconn_cloudwatch_<namespace>_<metric>_<stat>`, dimensions as labels).
#[derive(Debug, Clone, PartialEq)]
pub struct DynamicFamily {
    pub name: String,
    pub help: String,
    pub samples: Vec<(Vec<(String, String)>, f64)>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{
        ApiType, Interconnect, InterconnectConnection, InterconnectEnvironment, VpcLink,
    };
    use crate::testkit::{self, scope_in as scope};

    fn link(id: &str, api_type: ApiType, status: &str, targets: &[&str]) -> VpcLink {
        VpcLink {
            name: format!("{id}-name"),
            api_type,
            status: status.into(),
            target_arns: targets.iter().map(|t| t.to_string()).collect(),
            ..testkit::vpc_link(id)
        }
    }

    /// `icc-1` attached to a gateway its environment lists, `icc-2` to one
    /// it no longer does, `icc-3` in an environment whose list is unread.
    fn interconnect_connections() -> Vec<InterconnectConnection> {
        use crate::testkit::interconnect_connection as connection;
        vec![
            connection("icc-1", "env-1", "dxgw-1"),
            connection("icc-2", "env-1", "dxgw-gone"),
            connection("icc-3", "env-2", "dxgw-1"),
        ]
    }

    fn snapshot() -> Snapshot {
        let mut inventories = BTreeMap::new();
        inventories.insert(
            scope("us-east-1"),
            Inventory {
                vpc_links: Some(vec![
                    link("rest1", ApiType::Rest, "available", &["arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/a/1"]),
                    link("http1", ApiType::Http, "inactive", &[]),
                ]),
                link_activity: Some(crate::inventory::LinkActivity {
                    checked_at: 0,
                    window_s: 60 * 86_400,
                    last_request: [("http1".to_owned(), None)].into(),
                }),
                interconnect: Some(Interconnect {
                    connections: interconnect_connections(),
                    environments: vec![InterconnectEnvironment {
                        id: "env-1".into(),
                        provider: "google".into(),
                        provider_kind: "multicloud".into(),
                        location: "us-east4".into(),
                        state: "limited".into(),
                        product_type: "dedicated".into(),
                        bandwidths_supported: vec!["1Gbps".into(), "10Gbps".into()],
                        bandwidths_available: vec!["1Gbps".into()],
                        remote_identifier_type: "account".into(),
                    }],
                    attach_points: [
                        (
                            "env-1".to_owned(),
                            Some(vec![crate::inventory::InterconnectAttachPoint {
                                kind: "DirectConnectGateway".into(),
                                identifier: "dxgw-1".into(),
                                name: "prod <gateway>".into(),
                            }]),
                        ),
                        ("env-2".to_owned(), None),
                    ]
                    .into(),
                    availability: crate::inventory::InterconnectAvailability::Offered,
                    checked_at: 1_700_000_000,
                    next_check_at: None,
                }),
                ..Default::default()
            },
        );
        inventories.insert(
            scope("eu-west-1"),
            Inventory {
                vpc_links: Some(vec![link("rest2", ApiType::Rest, "quarantined", &[])]),
                interconnect: Some(Interconnect {
                    availability: crate::inventory::InterconnectAvailability::NotOffered(
                        "AccessDeniedException: not available".into(),
                    ),
                    checked_at: 1_700_000_000,
                    next_check_at: Some(1_700_003_600),
                    ..Default::default()
                }),
                ..Default::default()
            },
        );
        Snapshot {
            reload: ReloadStatus::default(),
            inventories: inventories
                .into_iter()
                .map(|(scope, inventory)| (scope, std::sync::Arc::new(inventory)))
                .collect(),
            statuses: vec![std::sync::Arc::new(CollectorStatus {
                collector: "vpc_links",
                scope: scope("us-east-1"),
                success: true,
                duration: Duration::from_millis(1500),
                last_success: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
                timeouts: 2,
                polls: 7,
            })],
            per_target_health: false,
            diagnosis: diagnose::Clock::default(),
            revisions: BTreeMap::new(),
            shard: crate::config::Shard::new(1, 3).unwrap(),
            accounts: BTreeMap::from([(
                "123456789012".to_owned(),
                AccountInfo {
                    name: Some("pay\"ments <prod>".to_owned()),
                    source: crate::accounts::Source::Organizations,
                    tags: BTreeMap::from([("Team".to_owned(), "payments".to_owned())]),
                },
            )]),
            discovery: Some(DiscoveryStatus {
                successful: false,
                last_success: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
                census: crate::accounts::Census {
                    polled: 27,
                    inactive: 1,
                    excluded: 1,
                    listed: 0,
                    management: 1,
                },
            }),
        }
    }

    /// The tags named in `tags_as_labels` reach the `_info` series of the
    /// API, the load balancer, the endpoint service and the Interconnect
    /// connection, and no other series; what the filters left out is
    /// counted.
    #[test]
    fn resources_carry_their_owner_tags_on_their_info_series_only() {
        let team = || BTreeMap::from([("Team".to_owned(), "payments".to_owned())]);
        let mut inventory = testkit::v1_path(&["available"]);
        inventory.apis.as_mut().unwrap()[0].tags = team();
        inventory.load_balancing.as_mut().unwrap().load_balancers[0].tags = team();
        inventory.endpoint_services.as_mut().unwrap()[0].tags = team();
        let mut connection = testkit::interconnect_connection("mcc-1", "env-1", "dxgw-1");
        connection.tags = team();
        inventory.interconnect = Some(Interconnect {
            connections: vec![connection],
            ..Default::default()
        });
        inventory.unwatched.vpc_links = ["hidden".to_owned()].into();
        inventory.unwatched.apis = 3;
        let t = text_of(&Snapshot {
            inventories: [(scope("us-east-1"), std::sync::Arc::new(inventory))].into(),
            ..snapshot()
        });
        let us = "account=\"123456789012\",region=\"us-east-1\"";
        let alb = testkit::ALB;
        for series in [
            format!(
                "awsconn_api_info{{{us},api_id=\"http1\",name=\"web\",api_type=\"rest\",team=\"payments\"}}"
            ),
            format!(
                "awsconn_load_balancer_info{{{us},load_balancer=\"{alb}\",name=\"web\",type=\"application\",scheme=\"internal\",team=\"payments\"}}"
            ),
            format!(
                "awsconn_endpoint_service_info{{{us},service_id=\"vpce-svc-1\",service_name=\"com.amazonaws.vpce.us-east-1.vpce-svc-1\",team=\"payments\"}}"
            ),
        ] {
            assert_eq!(value_of(&t, &series).as_deref(), Some("1"), "{series}\n{t}");
        }
        let connection_info = t
            .lines()
            .find(|l| l.starts_with("awsconn_interconnect_connection_info{"))
            .unwrap();
        assert!(
            connection_info.ends_with(",team=\"payments\"} 1"),
            "{connection_info}"
        );
        // The four, and the account's own (`snapshot()` tags it too).
        assert_eq!(t.matches("team=").count(), 5, "{t}");
        assert_eq!(
            value_of(
                &t,
                &format!("awsconn_unwatched_resources{{{us},resource=\"vpc_link\"}}")
            )
            .as_deref(),
            Some("1")
        );
        assert_eq!(
            value_of(
                &t,
                &format!("awsconn_unwatched_resources{{{us},resource=\"api\"}}")
            )
            .as_deref(),
            Some("3")
        );
    }

    /// Accounts by name, quoted as the format wants; discovery's health and
    /// census; and none of it without discovery.
    #[test]
    fn accounts_and_discovery_are_exported() {
        let text = text();
        for line in [
            "awsconn_account_info{account=\"123456789012\",name=\"pay\\\"ments <prod>\",source=\"organizations\",team=\"payments\"} 1\n",
            "awsconn_discovery_success{source=\"organizations\"} 0\n",
            "awsconn_discovery_last_success_timestamp_seconds{source=\"organizations\"} 1700000000\n",
            "awsconn_discovery_accounts{source=\"organizations\",outcome=\"polled\"} 27\n",
            "awsconn_discovery_accounts{source=\"organizations\",outcome=\"listed\"} 0\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
        let plain = text_of(&Snapshot {
            discovery: None,
            ..snapshot()
        });
        assert!(!plain.contains("awsconn_discovery_"), "{plain}");
    }

    fn text() -> String {
        text_of(&snapshot())
    }

    /// The exposition of a snapshot, diagnosed and rendered as a publish does.
    fn text_of(snapshot: &Snapshot) -> String {
        let build = BuildInfo {
            version: "1.2.3",
            revision: "abc",
            branch: "main",
            rustc_version: "1.95.0",
            target: "x86_64-unknown-linux-gnu",
        };
        let stats = PublishStats {
            publishes: 3,
            previous_duration: Duration::from_millis(12),
            scope_renders: 0,
        };
        let rendered = crate::collect::publish::Parts::default().render(
            snapshot,
            stats,
            &build,
            &crate::aws::ApiTelemetry::default(),
            None,
        );
        String::from_utf8(rendered.exposition.to_vec().unwrap()).unwrap()
    }

    fn value_of(text: &str, series: &str) -> Option<String> {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(series)
                    .and_then(|rest| rest.strip_prefix(' '))
            })
            .map(str::to_owned)
    }

    #[test]
    fn vpc_link_series() {
        let t = text();
        let us = "account=\"123456789012\",region=\"us-east-1\"";
        assert_eq!(
            value_of(&t, &format!("awsconn_vpc_link_info{{{us},vpc_link_id=\"rest1\",name=\"rest1-name\",api_type=\"rest\",version=\"v1\"}}")).as_deref(),
            Some("1")
        );
        assert_eq!(
            value_of(&t, &format!("awsconn_vpc_link_info{{{us},vpc_link_id=\"http1\",name=\"http1-name\",api_type=\"http\",version=\"v2\"}}")).as_deref(),
            Some("1")
        );
        assert_eq!(
            value_of(&t, &format!("awsconn_vpc_link_target_info{{{us},vpc_link_id=\"rest1\",target_arn=\"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/a/1\"}}")).as_deref(),
            Some("1")
        );
    }

    #[test]
    fn status_is_a_state_set_with_unknown_states_kept() {
        let t = text();
        let http = "awsconn_vpc_link_status{account=\"123456789012\",region=\"us-east-1\",vpc_link_id=\"http1\",api_type=\"http\",status=";
        for (state, want) in [
            ("pending", "0"),
            ("available", "0"),
            ("deleting", "0"),
            ("failed", "0"),
            ("inactive", "1"),
        ] {
            assert_eq!(
                value_of(&t, &format!("{http}\"{state}\"}}")).as_deref(),
                Some(want),
                "{state}"
            );
        }
        let rest = "awsconn_vpc_link_status{account=\"123456789012\",region=\"eu-west-1\",vpc_link_id=\"rest2\",api_type=\"rest\",status=";
        assert_eq!(
            value_of(&t, &format!("{rest}\"quarantined\"}}")).as_deref(),
            Some("1")
        );
        assert_eq!(
            value_of(&t, &format!("{rest}\"available\"}}")).as_deref(),
            Some("0")
        );
        // REST links have no inactive state.
        assert_eq!(value_of(&t, &format!("{rest}\"inactive\"}}")), None);
    }

    #[test]
    fn each_family_appears_once_with_help_and_type() {
        let t = text();
        for name in [
            "awsconn_vpc_link_status",
            "awsconn_vpc_link_info",
            "awsconn_collector_success",
        ] {
            assert_eq!(
                t.matches(&format!("# TYPE {name} gauge\n")).count(),
                1,
                "{name}\n{t}"
            );
            assert_eq!(t.matches(&format!("# HELP {name} ")).count(), 1, "{name}");
        }
    }

    #[test]
    fn self_metrics() {
        let t = text();
        let labels = "{collector=\"vpc_links\",account=\"123456789012\",region=\"us-east-1\"}";
        assert_eq!(
            value_of(&t, &format!("awsconn_collector_success{labels}")).as_deref(),
            Some("1")
        );
        assert_eq!(
            value_of(&t, &format!("awsconn_collector_duration_seconds{labels}")).as_deref(),
            Some("1.5")
        );
        assert_eq!(
            value_of(
                &t,
                &format!("awsconn_collector_last_success_timestamp_seconds{labels}")
            )
            .as_deref(),
            Some("1700000000")
        );
        assert_eq!(
            value_of(&t, &format!("awsconn_collector_timeouts_total{labels}")).as_deref(),
            Some("2")
        );
        assert_eq!(
            value_of(&t, &format!("awsconn_collector_polls_total{labels}")).as_deref(),
            Some("7")
        );
        assert_eq!(
            value_of(&t, "awsconn_exposition_publishes_total").as_deref(),
            Some("3")
        );
        assert_eq!(
            value_of(&t, "awsconn_exposition_publish_duration_seconds").as_deref(),
            Some("0.012")
        );
        // This publish rendered both scopes.
        assert_eq!(
            value_of(&t, "awsconn_exposition_scope_renders_total").as_deref(),
            Some("2")
        );
        assert_eq!(
            value_of(&t, "awsconn_build_info{version=\"1.2.3\",revision=\"abc\",branch=\"main\",rustc_version=\"1.95.0\",target=\"x86_64-unknown-linux-gnu\"}").as_deref(),
            Some("1")
        );
    }

    /// A check that cannot be made is its own series, never a 0 or a 1 of
    /// `awsconn_vpc_link_check`, and keeps the link from being healthy.
    #[test]
    fn unknown_checks_are_their_own_series() {
        let mut snapshot = snapshot();
        for inventory in snapshot.inventories.values_mut() {
            std::sync::Arc::make_mut(inventory).unavailable = BTreeMap::from([(
                "execution_logs",
                "it fails: cloudwatchlogs FilterLogEvents: AccessDeniedException".to_owned(),
            )]);
        }
        let t = text_of(&snapshot);
        let us = "account=\"123456789012\",region=\"us-east-1\"";
        assert_eq!(
            value_of(
                &t,
                &format!("awsconn_vpc_link_check_unknown{{{us},vpc_link_id=\"rest1\",check=\"no_tls_errors\",collector=\"execution_logs\"}}")
            )
            .as_deref(),
            Some("1"),
            "{t}"
        );
        assert!(!t.contains("check=\"no_tls_errors\"} "), "{t}");
        assert_eq!(
            value_of(
                &t,
                &format!("awsconn_vpc_link_healthy{{{us},vpc_link_id=\"rest1\"}}")
            )
            .as_deref(),
            Some("0")
        );
    }

    #[test]
    fn checks_and_health() {
        let t = text();
        let us = "account=\"123456789012\",region=\"us-east-1\"";
        assert_eq!(
            value_of(
                &t,
                &format!(
                    "awsconn_vpc_link_check{{{us},vpc_link_id=\"rest1\",check=\"link_available\"}}"
                )
            )
            .as_deref(),
            Some("1")
        );
        assert_eq!(
            value_of(
                &t,
                &format!(
                    "awsconn_vpc_link_check{{{us},vpc_link_id=\"http1\",check=\"link_available\"}}"
                )
            )
            .as_deref(),
            Some("0")
        );
        assert_eq!(
            value_of(
                &t,
                &format!("awsconn_vpc_link_healthy{{{us},vpc_link_id=\"http1\"}}")
            )
            .as_deref(),
            Some("0")
        );
        assert_eq!(
            value_of(
                &t,
                &format!("awsconn_vpc_link_healthy{{{us},vpc_link_id=\"rest1\"}}")
            )
            .as_deref(),
            Some("1")
        );
        // No request in the 60-day window: idle for at least that long.
        assert_eq!(
            value_of(
                &t,
                &format!("awsconn_vpc_link_idle_seconds{{{us},vpc_link_id=\"http1\"}}")
            )
            .as_deref(),
            Some("5184000")
        );
        assert!(!t.contains("awsconn_vpc_link_idle_seconds{account=\"123456789012\",region=\"us-east-1\",vpc_link_id=\"rest1\""));
    }

    #[test]
    fn interconnect_series() {
        let t = text();
        let us = "account=\"123456789012\",region=\"us-east-1\"";
        assert_eq!(
            value_of(&t, &format!("awsconn_interconnect_connection_info{{{us},connection_id=\"icc-1\",description=\"to gcp\",provider=\"google\",provider_kind=\"multicloud\",location=\"us-east4\",environment_id=\"env-1\",attach_point=\"dxgw-1\",type=\"dedicated\",shared_id=\"0e4f8a52-7c3e-4d7b-9f6a-1b2c3d4e5f60\"}}")).as_deref(),
            Some("1")
        );
        assert_eq!(
            value_of(
                &t,
                &format!(
                    "awsconn_interconnect_connection_billing_tier{{{us},connection_id=\"icc-1\"}}"
                )
            )
            .as_deref(),
            Some("3")
        );
        assert_eq!(
            value_of(&t, &format!("awsconn_interconnect_environment_info{{{us},environment_id=\"env-1\",provider=\"google\",location=\"us-east4\",provider_kind=\"multicloud\",type=\"dedicated\",remote_identifier_type=\"account\",available_bandwidths=\"1Gbps\"}}")).as_deref(),
            Some("1")
        );
        // The attach point check: present (named), missing, unknown.
        assert_eq!(
            value_of(&t, &format!("awsconn_interconnect_connection_check{{{us},connection_id=\"icc-1\",check=\"attach_point_present\",attach_point=\"dxgw-1\",attach_point_name=\"prod <gateway>\"}}")).as_deref(),
            Some("1")
        );
        assert_eq!(
            value_of(&t, &format!("awsconn_interconnect_connection_check{{{us},connection_id=\"icc-2\",check=\"attach_point_present\",attach_point=\"dxgw-gone\"}}")).as_deref(),
            Some("0")
        );
        assert_eq!(
            value_of(&t, &format!("awsconn_interconnect_connection_check_unknown{{{us},connection_id=\"icc-3\",check=\"attach_point_present\"}}")).as_deref(),
            Some("1")
        );
        assert!(!t.contains("awsconn_interconnect_connection_check{account=\"123456789012\",region=\"us-east-1\",connection_id=\"icc-3\""));
        // Where it is offered: every interval, no next check.
        assert_eq!(
            value_of(
                &t,
                &format!("awsconn_interconnect_availability{{{us},availability=\"offered\"}}")
            )
            .as_deref(),
            Some("1")
        );
        assert!(!t.contains(&format!(
            "awsconn_interconnect_next_check_timestamp_seconds{{{us}}}"
        )));
        let eu = "account=\"123456789012\",region=\"eu-west-1\"";
        for (availability, value) in [
            ("offered", "0"),
            ("no_environments", "0"),
            ("not_offered", "1"),
        ] {
            assert_eq!(
                value_of(
                    &t,
                    &format!(
                        "awsconn_interconnect_availability{{{eu},availability=\"{availability}\"}}"
                    )
                )
                .as_deref(),
                Some(value),
                "{availability}"
            );
        }
        assert_eq!(
            value_of(
                &t,
                &format!("awsconn_interconnect_next_check_timestamp_seconds{{{eu}}}")
            )
            .as_deref(),
            Some("1700003600")
        );
        for (bandwidth, available) in [("1Gbps", "true"), ("10Gbps", "false")] {
            assert_eq!(
                value_of(&t, &format!("awsconn_interconnect_environment_bandwidth_info{{{us},environment_id=\"env-1\",bandwidth=\"{bandwidth}\",available=\"{available}\"}}")).as_deref(),
                Some("1"),
                "{bandwidth}"
            );
        }
        assert_eq!(
            value_of(&t, &format!("awsconn_interconnect_connection_state{{{us},connection_id=\"icc-1\",state=\"down\"}}")).as_deref(),
            Some("1")
        );
        assert_eq!(
            value_of(&t, &format!("awsconn_interconnect_connection_state{{{us},connection_id=\"icc-1\",state=\"available\"}}")).as_deref(),
            Some("0")
        );
        assert_eq!(
            value_of(&t, &format!("awsconn_interconnect_connection_bandwidth_bytes_per_second{{{us},connection_id=\"icc-1\"}}")).as_deref(),
            Some("125000000")
        );
        assert_eq!(
            value_of(&t, &format!("awsconn_interconnect_environment_state{{{us},environment_id=\"env-1\",provider=\"google\",location=\"us-east4\",state=\"limited\"}}")).as_deref(),
            Some("1")
        );
    }

    /// The families' own writer and prometheus-client write the same bytes
    /// for the same samples: names, counters' `_total`, escaping in help
    /// texts and label values, whole numbers, fractions, huge, tiny and
    /// non-finite values.
    #[test]
    fn families_are_written_as_prometheus_client_writes_them() {
        use prometheus_client::collector::Collector;
        use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
        use prometheus_client::metrics::MetricType;
        use prometheus_client::metrics::counter::ConstCounter;
        use prometheus_client::metrics::gauge::ConstGauge;

        type Samples = Vec<(Labels, f64)>;
        let values = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            3.0,
            0.5,
            -2.25,
            0.012,
            1e-7,
            1e21,
            9.5e15,
            1_700_000_000.0,
            125_000_000.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN_POSITIVE,
        ];
        let labels = |i: usize| -> Labels {
            match i % 4 {
                0 => vec![],
                1 => vec![("a", "plain".into())],
                2 => vec![
                    ("a", "quote \" back \\ new\nline".into()),
                    ("b", "ünïcode <b>".into()),
                ],
                _ => vec![
                    ("account", "123456789012".into()),
                    ("region", String::new()),
                ],
            }
        };
        let samples: Samples = values
            .iter()
            .enumerate()
            .map(|(i, v)| (labels(i), *v))
            .collect();
        let families: [(&'static str, &'static str, Kind); 3] = [
            (
                "awsconn_example_gauge",
                "A gauge; help with \\ and\na newline",
                Kind::Gauge,
            ),
            ("awsconn_example_events", "Events", Kind::Counter),
            ("awsconn_example_empty_help", "", Kind::Gauge),
        ];

        let mut ours = Families::default();
        for (name, help, kind) in families {
            for (labels, value) in &samples {
                ours.add(name, help, kind, labels.clone(), *value);
            }
        }
        ours.state_set(
            "awsconn_example_state",
            "A state set",
            &vec![("id", "x".into())],
            "state",
            &["up", "down"],
            "sideways",
        );
        let ours = testkit::encoded_text(&ours.encode());

        /// The samples as prometheus-client encodes them.
        #[derive(Debug)]
        struct Reference(Vec<(&'static str, &'static str, Kind, Samples)>);
        impl Collector for Reference {
            fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
                for (name, help, kind, samples) in &self.0 {
                    let metric_type = match kind {
                        Kind::Gauge => MetricType::Gauge,
                        Kind::Counter => MetricType::Counter,
                    };
                    let mut metric = encoder.encode_descriptor(name, help, None, metric_type)?;
                    for (labels, value) in samples {
                        let enc = metric.encode_family(labels)?;
                        let whole = value.fract() == 0.0 && value.abs() < 9.0e15;
                        match (kind, whole) {
                            (Kind::Gauge, true) => ConstGauge::new(*value as i64).encode(enc)?,
                            (Kind::Gauge, false) => ConstGauge::new(*value).encode(enc)?,
                            (Kind::Counter, true) if *value >= 0.0 => {
                                ConstCounter::new(*value as u64).encode(enc)?
                            }
                            (Kind::Counter, _) => ConstCounter::new(*value).encode(enc)?,
                        }
                    }
                }
                Ok(())
            }
        }
        let state: Samples = ["up", "down", "sideways"]
            .iter()
            .map(|s| {
                let labels = vec![("id", "x".to_owned()), ("state", (*s).to_owned())];
                (labels, f64::from(u8::from(*s == "sideways")))
            })
            .collect();
        let mut reference: Vec<_> = families
            .iter()
            .map(|&(name, help, kind)| (name, help, kind, samples.clone()))
            .collect();
        reference.push(("awsconn_example_state", "A state set", Kind::Gauge, state));
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(Reference(reference)));
        assert_eq!(ours, crate::exposition::encode_text(&registry));
    }
}
