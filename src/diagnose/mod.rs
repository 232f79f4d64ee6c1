//! The VPC-link runbook as data: topology in, one finding per check out.
//! Pure: no I/O, unit-tested with plain values.
//!
//! Every check is declared once in [`checks::CHECKS`] (name, the hops it
//! judges, its object labels, the collectors it needs, its evaluation); a
//! family of checks is one file under `checks/`, with its cause and fix
//! texts. Each finding says what it looked at (`object`) and which hop of
//! the path it judges (`place`, where `/links` shows it and what colours
//! that hop), and when it fails, the cause and the fix in the words an
//! on-call engineer needs.

pub mod checks;
mod object;
pub mod path;
pub mod rules;

pub use checks::{CHECKS, CheckSpec, Judges};
pub use object::Object;
pub use path::{Hop, HopKind, LinkView};

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inventory::{ApiType, Inventory, Listener, LoadBalancer, Scope, TargetGroup, VpcLink};
use crate::resolve::{ResolvedIntegration, load_balancer_arn};
use crate::topology::Topology;

/// One runbook check of one VPC link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The check's name (`link_available`, ...), the `check` label.
    pub check: &'static str,
    pub ok: bool,
    /// What was checked, as label name -> value (`vpc_link`, `load_balancer`, `port`, ...).
    pub object: Object,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Set when the check could not be made: the collector whose data it
    /// needs has not succeeded. Such a check is not `ok`, and not a failure
    /// of the path either.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<&'static str>,
    /// What a passing check wants said all the same: that it judged less
    /// than its name says, and where the rest is judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The hop it judges, set by the check that made it.
    #[serde(skip)]
    pub place: Place,
}

/// The hop of a link's path a check judges, by the object it names: where
/// `/links` shows the check, and the key of the hop that stands for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Place {
    /// The VPC link itself (and checks that could not be placed anywhere else).
    #[default]
    Link,
    /// A stage of an API.
    Api(String, String),
    /// An endpoint service.
    Service(String),
    /// A connection of a service: the one named, or (`None`) any that is not available.
    Connection(String, Option<String>),
    /// The endpoint service a load balancer lacks.
    NoService(String),
    LoadBalancer(String),
    Listener(String, u16),
    TargetGroup(String),
}

impl Place {
    /// The kind of hop this is.
    pub fn judges(&self) -> Judges {
        match self {
            Place::Link => Judges::Link,
            Place::Api(..) => Judges::Stage,
            Place::Service(_) | Place::NoService(_) => Judges::EndpointService,
            Place::Connection(..) => Judges::EndpointConnection,
            Place::LoadBalancer(_) => Judges::LoadBalancer,
            Place::Listener(..) => Judges::Listener,
            Place::TargetGroup(_) => Judges::TargetGroup,
        }
    }
}

/// The checks a link could not get because a collector they need has not
/// succeeded: unknown, with the collector and why, so that a link is never
/// reported healthy on data that is missing.
fn unknown_checks(inventory: &Inventory, link: &VpcLink, made: &[Check]) -> Vec<Check> {
    let mut out = Vec::new();
    for spec in CHECKS {
        if spec.rest_only && link.api_type != ApiType::Rest {
            continue;
        }
        if made.iter().any(|c| c.check == spec.name) {
            continue;
        }
        let Some((&collector, why)) = spec
            .needs
            .iter()
            .find_map(|c| inventory.unavailable.get_key_value(c))
        else {
            continue;
        };
        out.push(unknown(
            spec.name,
            Object::default(),
            Place::Link,
            collector,
            &format!("this check needs what the {collector} collector reads, and {why}"),
        ));
    }
    out
}

/// A check that could not be made: `collector` did not get what it needs.
fn unknown(
    check: &'static str,
    mut object: Object,
    place: Place,
    collector: &'static str,
    why: &str,
) -> Check {
    object.insert("collector", collector.to_owned());
    Check {
        check,
        ok: false,
        object,
        cause: Some(format!("Not known: {why}.")),
        fix: Some(format!(
            "Make the {collector} collector's calls succeed in this account and region: the exporter's log names the AWS error; AccessDenied means the IAM policy lacks an action (`aws-connectivity-exporter iam-policy` prints the right one)."
        )),
        unknown: Some(collector),
        note: None,
        place,
    }
}

/// Every check of one VPC link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkReport {
    pub vpc_link_id: String,
    pub name: String,
    pub api_type: &'static str,
    pub account: String,
    pub region: String,
    pub healthy: bool,
    pub checks: Vec<Check>,
    /// V2 links with CloudWatch data: seconds since the start of the newest
    /// day with requests through the APIs that use the link, or the whole
    /// lookback window when there were none (a lower bound). HTTP-side links
    /// go INACTIVE after 60 days without traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_seconds: Option<i64>,
    /// APIs that use the link and whose latest read failed: their
    /// integrations (and so this link's checks of them) are as last read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unread_apis: Vec<UnreadApi>,
}

/// An API whose latest read failed, as a link that it uses names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadApi {
    pub api_id: String,
    pub name: String,
    pub error: String,
}

impl LinkReport {
    /// Whole days since the last request (`idle_seconds`), as people read it.
    pub fn idle_days(&self) -> Option<i64> {
        self.idle_seconds.map(|s| s / crate::inventory::DAY_S)
    }
}

/// The idle time of a V2 link, from the `link_activity` CloudWatch lookup.
pub fn idle_seconds(inventory: &Inventory, link: &VpcLink, now_ms: i64) -> Option<i64> {
    if link.api_type != ApiType::Http {
        return None;
    }
    let activity = inventory.link_activity.as_ref()?;
    let last = activity.last_request.get(&link.id)?;
    Some(match last {
        Some(day) => (now_ms / 1000 - day).max(0),
        None => activity.window_s,
    })
}

/// The time the checks judge by, and the windows they judge with: how
/// recent a TLS error must be to fail `no_tls_errors`, how soon a
/// certificate may expire before `certificate_valid` fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Clock {
    pub now_ms: i64,
    pub tls_error_window_ms: i64,
    pub certificate_warning_ms: i64,
}

impl Default for Clock {
    fn default() -> Self {
        Self::from_config(0, &crate::config::DiagnosisConfig::default())
    }
}

impl Clock {
    /// The clock at `now_ms` with the windows of the configuration.
    pub fn from_config(now_ms: i64, config: &crate::config::DiagnosisConfig) -> Clock {
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Clock {
            now_ms,
            tls_error_window_ms: ms(config.tls_error_window),
            certificate_warning_ms: ms(config.certificate_expiry_warning),
        }
    }

    /// The windows alone (what a render depends on besides the time).
    pub fn settings(&self) -> Clock {
        Clock { now_ms: 0, ..*self }
    }
}

/// Runs every check for every VPC link of every scope: the reports alone
/// (tests; the exporter publishes [`views`]).
#[cfg(test)]
pub fn diagnose<'a>(
    inventories: impl IntoIterator<Item = (&'a Scope, &'a Inventory)>,
    clock: &Clock,
) -> Vec<LinkReport> {
    let scopes: Vec<(&Scope, Topology)> = inventories
        .into_iter()
        .map(|(scope, inventory)| (scope, Topology::build(inventory)))
        .collect();
    views(scopes.iter().map(|(s, t)| (*s, t)), clock)
        .into_iter()
        .map(|v| v.report)
        .collect()
}

/// Runs every check for every VPC link of every scope, and lays each link's
/// path out hop by hop with its checks (the `/links` page).
pub fn views<'a>(
    scopes: impl IntoIterator<Item = (&'a Scope, &'a Topology<'a>)>,
    clock: &Clock,
) -> Vec<LinkView> {
    let mut views = Vec::new();
    for (scope, topology) in scopes {
        let inventory = topology.inventory;
        for link in topology.vpc_links() {
            let path = LinkPath::new(topology, link);
            let mut checks = Vec::new();
            for spec in CHECKS {
                if !spec.rest_only || link.api_type == ApiType::Rest {
                    checks.extend((spec.evaluate)(&path, clock));
                }
            }
            let unknown = unknown_checks(inventory, link, &checks);
            checks.extend(unknown);
            // Held until the scope is rendered again: no room to spare
            // (a third of the vector, at organisation scale).
            checks.shrink_to_fit();
            let report = LinkReport {
                vpc_link_id: link.id.clone(),
                name: link.name.clone(),
                api_type: link.api_type.as_str(),
                account: scope.account.clone(),
                region: scope.region.clone(),
                healthy: checks.iter().all(|c| c.ok),
                checks,
                idle_seconds: idle_seconds(inventory, link, clock.now_ms),
                unread_apis: path.unread_apis(),
            };
            let hops = path.hops(&report);
            views.push(LinkView { report, hops });
        }
    }
    views
}

fn failed(
    check: &'static str,
    object: Object,
    place: Place,
    mut cause: String,
    mut fix: String,
) -> Check {
    // Kept as long as the findings: no spare room from `format!`.
    cause.shrink_to_fit();
    fix.shrink_to_fit();
    Check {
        check,
        ok: false,
        object,
        cause: Some(cause),
        fix: Some(fix),
        unknown: None,
        note: None,
        place,
    }
}

fn passed(check: &'static str, object: Object, place: Place) -> Check {
    Check {
        check,
        ok: true,
        object,
        cause: None,
        fix: None,
        unknown: None,
        note: None,
        place,
    }
}

/// One link and what it leads to: the integrations that use it (per stage),
/// the load balancers they reach, and the listeners and target groups in
/// use, worked out once per link for every check and the hops to read.
struct LinkPath<'a> {
    topology: &'a Topology<'a>,
    inventory: &'a Inventory,
    link: &'a VpcLink,
    uses: Vec<&'a ResolvedIntegration>,
    /// Target load balancer ARNs: V1 the link's targets, V2 the integrations'.
    targets: &'a [String],
    /// The (load balancer, port) pairs the integrations call, with a stage that calls each.
    called: BTreeMap<(String, u16), String>,
    /// Listeners that integrations name and their load balancer (which
    /// exists) does not have, with the load balancer and a stage naming each.
    missing: BTreeMap<String, (String, String)>,
    /// The listeners in use, with their load balancers.
    used: Vec<(&'a LoadBalancer, &'a Listener)>,
    /// The target groups behind them, each once, with the load balancer in front.
    groups: Vec<(&'a LoadBalancer, &'a TargetGroup)>,
}

impl<'a> LinkPath<'a> {
    fn new(topology: &'a Topology<'a>, link: &'a VpcLink) -> Self {
        let uses = topology.uses(&link.id);
        let targets = topology.link_load_balancers(&link.id);
        let called = called_ports(topology, link, &uses);
        let missing = missing_listeners(topology, &uses);
        // No port called at all: every listener may be, unless the
        // integrations name listeners that are gone (then none is used).
        let all = called.is_empty() && missing.is_empty();
        let used = used_listeners(topology, targets, &called, all);
        let groups = used_target_groups(topology, &used);
        Self {
            topology,
            inventory: topology.inventory,
            link,
            uses,
            targets,
            called,
            missing,
            used,
            groups,
        }
    }

    fn balancer(&self, arn: &str) -> Option<&'a LoadBalancer> {
        self.topology.load_balancer(arn)
    }

    /// The APIs using the link whose latest read failed, each once.
    fn unread_apis(&self) -> Vec<UnreadApi> {
        let mut out: Vec<UnreadApi> = Vec::new();
        for u in &self.uses {
            let Some(api) = self.topology.api(&u.api_id) else {
                continue;
            };
            let Some(error) = &api.read_error else {
                continue;
            };
            if out.iter().all(|a| a.api_id != api.id) {
                out.push(UnreadApi {
                    api_id: api.id.clone(),
                    name: api.name.clone(),
                    error: error.clone(),
                });
            }
        }
        out
    }

    fn is_missing(&self, arn: &str) -> bool {
        self.topology.is_missing(arn)
    }

    fn nlb_targets(&self) -> impl Iterator<Item = &String> {
        self.targets
            .iter()
            .filter(|arn| self.balancer(arn).is_some())
    }
}

/// The (load balancer, port) pairs the integrations call, with a stage that calls each.
fn called_ports(
    topology: &Topology,
    link: &VpcLink,
    uses: &[&ResolvedIntegration],
) -> BTreeMap<(String, u16), String> {
    let mut out = BTreeMap::new();
    for u in uses {
        let lbs = topology.called_load_balancers(link, u);
        if let Some(port) = topology.port(u).map(|p| p.port) {
            for lb in lbs {
                out.entry((lb, port))
                    .or_insert_with(|| format!("{} of API {}", u.stage, u.api_id));
            }
        }
    }
    out
}

/// Listeners that integrations name (HTTP APIs name a listener ARN) and
/// their load balancer, which exists, does not have: the stage that names
/// each. Such an integration calls no port at all.
fn missing_listeners(
    topology: &Topology,
    uses: &[&ResolvedIntegration],
) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for u in uses {
        if u.port.is_some() || !u.target.contains(":listener/") {
            continue;
        }
        let Some(lb) = load_balancer_arn(&u.target) else {
            continue;
        };
        // Listeners that could not be read are unknown, not missing.
        let read = topology
            .load_balancer(&lb)
            .is_some_and(|b| b.listeners_unread.is_none());
        if read && topology.listener(&u.target).is_none() {
            out.entry(u.target.clone())
                .or_insert_with(|| (lb, format!("{} of API {}", u.stage, u.api_id)));
        }
    }
    out
}

/// The listeners the integrations call, with their load balancers: every
/// listener of a target load balancer when `all`.
fn used_listeners<'a>(
    topology: &Topology<'a>,
    targets: &[String],
    called: &BTreeMap<(String, u16), String>,
    all: bool,
) -> Vec<(&'a LoadBalancer, &'a Listener)> {
    let mut out = Vec::new();
    for arn in targets {
        let Some(balancer) = topology.load_balancer(arn) else {
            continue;
        };
        out.extend(
            balancer
                .listeners
                .iter()
                .filter(|l| all || called.contains_key(&(arn.clone(), l.port)))
                .map(|l| (balancer, l)),
        );
    }
    out
}

/// The target groups behind the used listeners, each once, with the load balancer in front.
fn used_target_groups<'a>(
    topology: &Topology<'a>,
    used: &[(&'a LoadBalancer, &'a Listener)],
) -> Vec<(&'a LoadBalancer, &'a TargetGroup)> {
    let mut out: Vec<(&LoadBalancer, &TargetGroup)> = Vec::new();
    for &(balancer, listener) in used {
        for arn in &listener.target_group_arns {
            let Some(group) = topology.target_group(arn) else {
                continue;
            };
            if !out.iter().any(|(_, g)| g.arn == group.arn) {
                out.push((balancer, group));
            }
        }
    }
    out.sort_by(|a, b| a.1.arn.cmp(&b.1.arn));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::ErrorClass;
    use crate::diagnose::checks::link_available;
    use crate::testkit;

    fn link(status: &str, api_type: ApiType) -> VpcLink {
        VpcLink {
            name: "orders".into(),
            api_type,
            status: status.into(),
            status_message: Some("NLB not found".into()),
            ..testkit::vpc_link("abc123")
        }
    }

    #[test]
    fn available_passes() {
        let c = link_available(&link("available", ApiType::Rest));
        assert!(c.ok);
        assert_eq!(c.object["vpc_link"], "abc123");
        assert!(c.cause.is_none() && c.fix.is_none());
    }

    #[test]
    fn failed_pending_deleting_inactive_and_new_states_fail_with_a_fix() {
        for (status, api, needle) in [
            ("failed", ApiType::Rest, "FAILED"),
            ("pending", ApiType::Rest, "PENDING"),
            ("deleting", ApiType::Http, "being deleted"),
            ("inactive", ApiType::Http, "60 days"),
            ("quarantined", ApiType::Http, "QUARANTINED"),
        ] {
            let c = link_available(&link(status, api));
            assert!(!c.ok, "{status}");
            let cause = c.cause.unwrap();
            assert!(cause.contains(needle), "{status}: {cause}");
            assert!(cause.contains("NLB not found"), "{cause}");
            assert!(!c.fix.unwrap().is_empty());
        }
    }

    #[test]
    fn reports_cover_every_link_of_every_scope() {
        let scope = testkit::scope_in("eu-west-1");
        let inventory = Inventory {
            vpc_links: Some(vec![
                link("available", ApiType::Rest),
                link("failed", ApiType::Http),
            ]),
            ..Default::default()
        };
        let reports = diagnose([(&scope, &inventory)], &Clock::default());
        assert_eq!(reports.len(), 2);
        assert!(reports[0].healthy);
        assert!(!reports[1].healthy);
        assert_eq!(reports[1].region, "eu-west-1");
        let json = serde_json::to_value(&reports[1]).unwrap();
        assert_eq!(json["checks"][0]["check"], "link_available");
        assert_eq!(json["checks"][0]["object"]["vpc_link"], "abc123");
    }

    fn path_inventory(listener_port: u16, target_state: &str) -> (Inventory, VpcLink) {
        use crate::inventory::{
            Api, Integration, Listener, LoadBalancing, Stage, TargetGroup, TargetHealth,
        };
        let nlb = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/orders/1";
        let mut link = link("available", ApiType::Rest);
        link.target_arns = vec![nlb.into()];
        let inventory = Inventory {
            vpc_links: Some(vec![link.clone()]),
            apis: Some(vec![Api {
                id: "api1".into(),
                name: "orders".into(),
                api_type: ApiType::Rest,
                integrations: vec![Integration {
                    name: "GET /orders".into(),
                    connection_id: "${stageVariables.link}".into(),
                    uri: "https://orders.internal:8443/orders".into(),
                    integration_target: None,
                    tls_server_name: None,
                    tls_config: false,
                    insecure_skip_verification: false,
                }],
                stages: vec![Stage {
                    name: "prod".into(),
                    variables: [("link".to_owned(), link.id.clone())].into(),
                    ..Default::default()
                }],
                read_error: None,
                tags: Default::default(),
            }]),
            load_balancing: Some(LoadBalancing {
                load_balancers: vec![LoadBalancer {
                    name: "orders".into(),
                    privatelink_inbound_rules: Some("off".into()),
                    listeners: vec![Listener {
                        arn: "l1".into(),
                        port: listener_port,
                        protocol: "TLS".into(),
                        certificate_arns: vec![],
                        target_group_arns: vec!["tg1".into()],
                    }],
                    ..testkit::load_balancer(nlb)
                }],
                target_groups: vec![TargetGroup {
                    health_unread: None,
                    health_left: false,
                    arn: "tg1".into(),
                    name: "orders-tg".into(),
                    protocol: "TCP".into(),
                    port: Some(8080),
                    health_check_port: None,
                    target_type: "ip".into(),
                    vpc_id: "vpc-1".into(),
                    load_balancer_arns: vec![nlb.into()],
                    targets: vec![TargetHealth {
                        id: "10.0.0.5".into(),
                        port: Some(8080),
                        state: target_state.into(),
                        reason: Some("Target.FailedHealthChecks".into()),
                        description: None,
                    }],
                }],
                missing_load_balancers: vec![],
                unreadable_load_balancers: 0,
            }),
            ..Default::default()
        };
        (inventory, link)
    }

    fn run(inventory: &Inventory) -> LinkReport {
        let scope = testkit::scope();
        diagnose([(&scope, inventory)], &Clock::default()).remove(0)
    }

    #[test]
    fn a_listener_on_the_called_port_passes() {
        let (inventory, _) = path_inventory(8443, "healthy");
        let report = run(&inventory);
        assert!(report.healthy, "{report:?}");
        let names: Vec<_> = report.checks.iter().map(|c| c.check).collect();
        assert_eq!(
            names,
            [
                "link_available",
                "load_balancer_active",
                "listener_port",
                "targets_healthy",
                "privatelink_inbound_rules"
            ]
        );
    }

    /// One load balancer's listeners could not be read: its listener checks
    /// are unknown (never "no listener"), named with AWS's error, on a hop
    /// that says so; nothing fails.
    #[test]
    fn unread_listeners_are_unknown_never_missing() {
        let unread = |mut inventory: Inventory| {
            let lb = &mut inventory.load_balancing.as_mut().unwrap().load_balancers[0];
            lb.listeners.clear();
            lb.listeners_unread =
                Some("elasticloadbalancingv2 DescribeListeners failed: AccessDenied".into());
            inventory
        };
        for inventory in [
            unread(testkit::v2_path()),
            unread(testkit::v1_path(&["available"])),
        ] {
            let view = testkit::view_one(&inventory);
            let checks: Vec<&Check> = view
                .report
                .checks
                .iter()
                .filter(|c| c.check == "listener_port")
                .collect();
            assert_eq!(checks.len(), 1, "{checks:?}");
            assert_eq!(checks[0].unknown, Some("load_balancers"), "{checks:?}");
            assert!(checks[0].cause.as_deref().unwrap().contains("AccessDenied"));
            assert!(
                view.report
                    .checks
                    .iter()
                    .all(|c| c.ok || c.unknown.is_some()),
                "{:?}",
                view.report.checks
            );
            assert!(!view.report.healthy);
        }
        let view = testkit::view_one(&unread(testkit::v1_path(&["available"])));
        let hop = view
            .hops
            .iter()
            .find(|h| h.kind == path::HopKind::Listener)
            .unwrap();
        assert_eq!(hop.detail, "listeners could not be read");
    }

    #[test]
    fn a_missing_listener_and_no_healthy_target_fail_with_their_objects() {
        let (inventory, _) = path_inventory(443, "unhealthy");
        let report = run(&inventory);
        assert!(!report.healthy);
        let listener = report
            .checks
            .iter()
            .find(|c| c.check == "listener_port")
            .unwrap();
        assert!(!listener.ok);
        assert_eq!(listener.object["port"], "8443");
        assert!(
            listener
                .cause
                .as_deref()
                .unwrap()
                .contains("listeners: 443"),
            "{listener:?}"
        );
        // The listener that is called does not exist, so no target group is behind a used listener.
        assert!(report.checks.iter().all(|c| c.check != "targets_healthy"));

        let (inventory, _) = path_inventory(8443, "unhealthy");
        let report = run(&inventory);
        let targets = report
            .checks
            .iter()
            .find(|c| c.check == "targets_healthy")
            .unwrap();
        assert!(!targets.ok);
        assert_eq!(targets.object["target_group"], "tg1");
        assert!(
            targets
                .cause
                .as_deref()
                .unwrap()
                .contains("1 unhealthy (Target.FailedHealthChecks)"),
            "{targets:?}"
        );
    }

    #[test]
    fn recent_tls_errors_fail_and_old_ones_do_not() {
        use crate::inventory::{ExecutionLogs, LogGroupStatus};
        let (mut inventory, _) = path_inventory(8443, "healthy");
        let stage = ("api1".to_owned(), "prod".to_owned());
        let mut logs = ExecutionLogs::default();
        logs.groups.insert(
            "API-Gateway-Execution-Logs_api1/prod".into(),
            LogGroupStatus {
                api_id: "api1".into(),
                stage: "prod".into(),
                read: crate::inventory::LogRead::Ok,
            },
        );
        logs.newest_errors
            .entry(stage.clone())
            .or_default()
            .insert(ErrorClass::TlsHostnameMismatch, 1_000_000);
        logs.newest_errors
            .entry(stage)
            .or_default()
            .insert(ErrorClass::IntegrationTimeout, 1_900_000);
        inventory.execution_logs = Some(logs);
        let scope = testkit::scope();
        let recent = Clock {
            now_ms: 1_500_000,
            tls_error_window_ms: 600_000,
            ..Clock::default()
        };
        let report = diagnose([(&scope, &inventory)], &recent).remove(0);
        let tls = report
            .checks
            .iter()
            .find(|c| c.check == "no_tls_errors")
            .unwrap();
        assert!(!tls.ok);
        assert_eq!(tls.object["stage"], "prod");
        assert!(
            tls.cause
                .as_deref()
                .unwrap()
                .contains("tls_hostname_mismatch"),
            "{tls:?}"
        );
        assert!(tls.fix.as_deref().unwrap().contains("serverNameToVerify"));
        // An hour later the window has passed; timeouts are not TLS errors.
        let later = Clock {
            now_ms: 1_000_000 + 3_600_000,
            tls_error_window_ms: 600_000,
            ..Clock::default()
        };
        let report = diagnose([(&scope, &inventory)], &later).remove(0);
        assert!(
            report
                .checks
                .iter()
                .find(|c| c.check == "no_tls_errors")
                .unwrap()
                .ok
        );
        // An expired certificate, newer than the mismatch: its own cause and fix.
        let logs = inventory.execution_logs.as_mut().unwrap();
        logs.newest_errors
            .entry(("api1".to_owned(), "prod".to_owned()))
            .or_default()
            .insert(ErrorClass::TlsCertificateExpired, 1_200_000);
        let report = diagnose([(&scope, &inventory)], &recent).remove(0);
        let tls = only(&report, "no_tls_errors").remove(0);
        assert!(!tls.ok);
        assert!(
            tls.cause
                .as_deref()
                .unwrap()
                .contains("tls_certificate_expired"),
            "{tls:?}"
        );
        let fix = tls.fix.as_deref().unwrap();
        assert!(fix.contains("Renew or replace the certificate"), "{fix}");
        assert!(fix.contains("even with insecureSkipVerification"), "{fix}");
    }

    /// A log group that could not be read (or not yet) leaves no_tls_errors
    /// unknown, naming the group and the error, and the link not healthy;
    /// an error already known still fails it.
    #[test]
    fn an_unread_log_group_leaves_no_tls_errors_unknown() {
        use crate::inventory::{ExecutionLogs, LogGroupStatus, LogRead};
        let (mut inventory, _) = path_inventory(8443, "healthy");
        let group = "API-Gateway-Execution-Logs_api1/prod";
        let with = |read: LogRead| {
            let mut logs = ExecutionLogs::default();
            logs.groups.insert(
                group.into(),
                LogGroupStatus {
                    api_id: "api1".into(),
                    stage: "prod".into(),
                    read,
                },
            );
            logs
        };
        let scope = testkit::scope();
        let clock = Clock {
            now_ms: 1_500_000,
            tls_error_window_ms: 600_000,
            ..Clock::default()
        };
        inventory.execution_logs = Some(with(LogRead::Ok));
        let report = diagnose([(&scope, &inventory)], &clock).remove(0);
        assert!(only(&report, "no_tls_errors")[0].ok);

        inventory.execution_logs = Some(with(LogRead::Failed {
            code: "AccessDeniedException".into(),
            message: "cloudwatchlogs FilterLogEvents failed: AccessDeniedException: not allowed"
                .into(),
        }));
        let report = diagnose([(&scope, &inventory)], &clock).remove(0);
        let tls = only(&report, "no_tls_errors").remove(0);
        assert!(!tls.ok && tls.unknown == Some("execution_logs"), "{tls:?}");
        assert_eq!(tls.object["log_group"], group);
        let cause = tls.cause.as_deref().unwrap();
        assert!(
            cause.contains(group) && cause.contains("AccessDeniedException"),
            "{cause}"
        );
        assert!(!report.healthy);

        inventory.execution_logs = Some(with(LogRead::Pending));
        let report = diagnose([(&scope, &inventory)], &clock).remove(0);
        let tls = only(&report, "no_tls_errors").remove(0);
        assert!(tls.unknown.is_some(), "{tls:?}");
        assert!(
            tls.cause.as_deref().unwrap().contains("not been read yet"),
            "{tls:?}"
        );

        // An error read before the group became unreadable still fails it.
        let mut logs = with(LogRead::Failed {
            code: "error".into(),
            message: "timeout".into(),
        });
        logs.newest_errors
            .entry(("api1".to_owned(), "prod".to_owned()))
            .or_default()
            .insert(ErrorClass::TlsKeyMismatch, 1_400_000);
        inventory.execution_logs = Some(logs);
        let report = diagnose([(&scope, &inventory)], &clock).remove(0);
        let tls = only(&report, "no_tls_errors").remove(0);
        assert!(!tls.ok && tls.unknown.is_none(), "{tls:?}");
        assert!(
            tls.cause
                .as_deref()
                .unwrap()
                .contains("before the exporter last restarted"),
            "{tls:?}"
        );
    }

    fn only(report: &LinkReport, check: &str) -> Vec<Check> {
        report
            .checks
            .iter()
            .filter(|c| c.check == check)
            .cloned()
            .collect()
    }

    /// A collector that has not succeeded makes its checks unknown: the
    /// link is never healthy on missing data, and says which collector and why.
    #[test]
    fn missing_data_of_an_enabled_collector_is_unknown_never_healthy() {
        let mut inventory = testkit::v1_path(&["available"]);
        assert!(testkit::view_one(&inventory).report.healthy);
        inventory.load_balancing = None;
        inventory.unavailable = BTreeMap::from([(
            "load_balancers",
            "it fails: elasticloadbalancingv2 DescribeTargetHealth: AccessDenied".to_owned(),
        )]);
        let report = testkit::view_one(&inventory).report;
        assert!(!report.healthy, "{report:#?}");
        let unknown: Vec<&str> = report
            .checks
            .iter()
            .filter(|c| c.unknown.is_some())
            .map(|c| c.check)
            .collect();
        assert_eq!(
            unknown,
            [
                "load_balancer_active",
                "listener_port",
                "endpoint_service_available",
                "endpoint_connection_available",
                "targets_healthy",
                "security_groups_admit",
                "network_acls_admit",
                "privatelink_inbound_rules"
            ]
        );
        let check = &only(&report, "targets_healthy")[0];
        assert!(!check.ok);
        assert_eq!(check.unknown, Some("load_balancers"));
        assert_eq!(check.object["collector"], "load_balancers");
        assert!(
            check
                .cause
                .as_deref()
                .unwrap()
                .contains("DescribeTargetHealth: AccessDenied")
        );
        // The checks whose collectors answered are made as before.
        assert!(only(&report, "link_available")[0].ok);
        assert!(
            only(&report, "no_tls_errors")
                .iter()
                .all(|c| c.unknown.is_none())
        );

        // A collector that is disabled (not in `unavailable`) leaves its
        // checks out, as before: nothing is missing that was asked for.
        inventory.unavailable.clear();
        let report = testkit::view_one(&inventory).report;
        assert!(report.checks.iter().all(|c| c.unknown.is_none()));
    }

    /// One call that fails degrades only what it feeds: unread target health
    /// leaves `targets_healthy` unknown on that group while the load
    /// balancer's state is still judged; unread endpoint connections leave
    /// their check unknown while the service's state is still judged.
    #[test]
    fn one_unread_call_leaves_only_its_check_unknown() {
        let mut inventory = testkit::v1_path(&["healthy"]);
        let lb = inventory.load_balancing.as_mut().unwrap();
        lb.load_balancers[0].state = "failed".into();
        lb.target_groups[0].targets.clear();
        lb.target_groups[0].health_unread =
            Some("elasticloadbalancingv2 DescribeTargetHealth failed: AccessDenied".into());
        inventory.endpoint_services.as_mut().unwrap()[0].connections_unread =
            Some("ec2 DescribeVpcEndpointConnections failed: UnauthorizedOperation".into());
        let report = testkit::view_one(&inventory).report;
        assert!(!report.healthy);
        let targets = &only(&report, "targets_healthy")[0];
        assert_eq!(targets.unknown, Some("load_balancers"));
        assert_eq!(targets.object["target_group"], testkit::TG);
        assert!(
            targets
                .cause
                .as_deref()
                .unwrap()
                .contains("DescribeTargetHealth failed: AccessDenied")
        );
        let connection = &only(&report, "endpoint_connection_available")[0];
        assert_eq!(connection.unknown, Some("endpoints"));
        assert!(
            connection
                .cause
                .as_deref()
                .unwrap()
                .contains("UnauthorizedOperation")
        );
        // What the other calls read is still judged: the failed NLB is seen.
        let active = &only(&report, "load_balancer_active")[0];
        assert!(!active.ok && active.unknown.is_none(), "{active:#?}");
        assert!(
            only(&report, "endpoint_service_available")
                .iter()
                .all(|c| c.ok)
        );
    }

    /// An HTTP API integration names a listener its load balancer does not
    /// have (deleted, or left out of an answer it could not be read from):
    /// `listener_port` fails naming the listener, and the link is not healthy.
    #[test]
    fn a_listener_named_by_an_integration_and_gone_fails() {
        let mut inventory = testkit::v2_path();
        assert!(testkit::view_one(&inventory).report.healthy);
        let lb = inventory.load_balancing.as_mut().unwrap();
        lb.load_balancers[0].listeners.clear();
        let report = testkit::view_one(&inventory).report;
        assert!(!report.healthy);
        let check = &only(&report, "listener_port")[0];
        assert!(!check.ok && check.unknown.is_none(), "{check:#?}");
        assert_eq!(check.object["listener"], testkit::LISTENER);
        assert_eq!(check.object["load_balancer"], testkit::ALB);
        assert!(check.cause.as_deref().unwrap().contains("does not have"));
    }

    /// Enforcement on, and the security groups not read yet: unknown, not failed.
    #[test]
    fn privatelink_enforcement_without_security_groups_is_unknown() {
        let mut inventory = testkit::v1_path(&["available"]);
        let lb = &mut inventory.load_balancing.as_mut().unwrap().load_balancers[0];
        lb.privatelink_inbound_rules = Some("on".into());
        inventory.network_rules = None;
        inventory.unavailable = BTreeMap::from([(
            "network_rules",
            "its first poll has not finished".to_owned(),
        )]);
        let report = testkit::view_one(&inventory).report;
        let check = &only(&report, "privatelink_inbound_rules")[0];
        assert_eq!(check.unknown, Some("network_rules"), "{check:#?}");
        assert!(
            report.checks.iter().all(|c| c.ok || c.unknown.is_some()),
            "{report:#?}"
        );
    }

    #[test]
    fn load_balancer_active_passes_fails_and_finds_deleted_ones() {
        let mut inventory = testkit::v1_path(&["available"]);
        let report = testkit::view_one(&inventory).report;
        assert!(report.healthy, "{report:#?}");
        assert!(only(&report, "load_balancer_active")[0].ok);

        let lb = &mut inventory.load_balancing.as_mut().unwrap().load_balancers[0];
        lb.state = "active_impaired".into();
        lb.state_reason = Some("one AZ is impaired".into());
        let check = &only(
            &testkit::view_one(&inventory).report,
            "load_balancer_active",
        )[0];
        assert!(!check.ok);
        assert_eq!(check.object["load_balancer"], testkit::ALB);
        assert!(
            check
                .cause
                .as_deref()
                .unwrap()
                .contains("ACTIVE_IMPAIRED (one AZ is impaired)")
        );

        let lb = inventory.load_balancing.as_mut().unwrap();
        lb.load_balancers.clear();
        lb.missing_load_balancers = vec![testkit::ALB.into()];
        let report = testkit::view_one(&inventory).report;
        let check = &only(&report, "load_balancer_active")[0];
        assert!(!check.ok);
        assert!(check.cause.as_deref().unwrap().contains("no longer exists"));
        assert_eq!(
            report.checks.iter().filter(|c| !c.ok).count(),
            1,
            "nothing behind a deleted load balancer is judged: {report:#?}"
        );
    }

    #[test]
    fn endpoint_service_and_connection_checks() {
        let report = testkit::view_one(&testkit::v1_path(&["rejected", "available"])).report;
        let connection = &only(&report, "endpoint_connection_available")[0];
        assert!(connection.ok, "one available connection is enough");
        assert_eq!(connection.object["vpc_endpoint_id"], "vpce-1");
        assert!(only(&report, "endpoint_service_available")[0].ok);

        for (states, fix) in [
            (
                &["pendingacceptance"][..],
                "Accept the pending endpoint connection",
            ),
            (&["rejected"][..], "A rejected connection stays rejected"),
            (&["expired"][..], "Recreate the VPC link"),
            (&[][..], "Recreate the VPC link"),
        ] {
            let report = testkit::view_one(&testkit::v1_path(states)).report;
            let check = &only(&report, "endpoint_connection_available")[0];
            assert!(!check.ok, "{states:?}");
            assert_eq!(check.object["service_id"], "vpce-svc-1");
            assert!(
                check.fix.as_deref().unwrap().starts_with(fix),
                "{states:?}: {check:?}"
            );
        }

        let mut inventory = testkit::v1_path(&["available"]);
        inventory.endpoint_services.as_mut().unwrap()[0].state = "deleted".into();
        let check = &only(
            &testkit::view_one(&inventory).report,
            "endpoint_service_available",
        )[0];
        assert!(!check.ok);
        assert!(check.cause.as_deref().unwrap().contains("DELETED"));

        inventory.endpoint_services = Some(vec![]);
        let check = &only(
            &testkit::view_one(&inventory).report,
            "endpoint_service_available",
        )[0];
        assert!(!check.ok);
        assert!(
            check
                .cause
                .as_deref()
                .unwrap()
                .contains("No VPC endpoint service fronts the NLB")
        );

        // V2 links have no PrivateLink hop; without endpoint data no check either.
        let report = testkit::view_one(&testkit::v2_path()).report;
        assert!(only(&report, "endpoint_service_available").is_empty());
        let mut inventory = testkit::v1_path(&["available"]);
        inventory.endpoint_services = None;
        assert!(
            only(
                &testkit::view_one(&inventory).report,
                "endpoint_connection_available"
            )
            .is_empty()
        );
    }

    #[test]
    fn privatelink_inbound_rules_off_open_and_restrictive() {
        let enforced = |setting: Option<&str>, ingress| {
            let mut inventory = testkit::v1_path(&["available"]);
            inventory.load_balancing.as_mut().unwrap().load_balancers[0]
                .privatelink_inbound_rules = setting.map(str::to_owned);
            inventory.network_rules.as_mut().unwrap().security_groups[1].ingress = ingress;
            only(
                &testkit::view_one(&inventory).report,
                "privatelink_inbound_rules",
            )
        };
        assert!(
            enforced(None, vec![]).is_empty(),
            "no security groups: no setting"
        );
        assert!(enforced(Some("off"), vec![])[0].ok);
        assert!(enforced(Some("on"), vec![testkit::tcp(443, &["0.0.0.0/0"], &[])])[0].ok);
        let check = &enforced(Some("on"), vec![testkit::tcp(443, &["10.0.0.0/8"], &[])])[0];
        assert!(!check.ok);
        assert_eq!(check.object["load_balancer"], testkit::ALB);
        assert!(check.cause.as_deref().unwrap().contains("port 443"));
        assert!(
            check
                .fix
                .as_deref()
                .unwrap()
                .contains("Turn the enforcement off")
        );
    }
}
