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
#[cfg(test)]
mod testing;

pub use checks::{CHECKS, CheckSpec, Judges};
pub use object::Object;
pub use path::{Hop, HopKind, LinkView};

use serde::Serialize;

use crate::inventory::{ApiType, Inventory, Scope, VpcLink};
use crate::topology::{LinkPath, Topology};

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
        if spec.check.rest_only && link.api_type != ApiType::Rest {
            continue;
        }
        if made.iter().any(|c| c.check == spec.check.name) {
            continue;
        }
        let Some((&collector, why)) = spec
            .check
            .needs
            .iter()
            .find_map(|c| inventory.unavailable.get_key_value(c))
        else {
            continue;
        };
        out.push(unknown(
            spec.check.name,
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
                if !spec.check.rest_only || link.api_type == ApiType::Rest {
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
                unread_apis: unread_apis(&path),
            };
            let hops = path.hops(&report);
            views.push(LinkView { report, hops });
        }
    }
    views
}

/// The APIs using the link whose latest read failed, each once.
fn unread_apis(path: &LinkPath) -> Vec<UnreadApi> {
    let mut out: Vec<UnreadApi> = Vec::new();
    for u in &path.uses {
        let Some(api) = path.topology.api(&u.api_id) else {
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

#[cfg(test)]
mod tests {
    use super::*;

    use crate::diagnose::testing::{link, only};
    use crate::testkit;
    use std::collections::BTreeMap;

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
}
