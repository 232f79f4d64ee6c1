//! The VPC-link runbook as data: a link's path (`topology::LinkPath`) in,
//! one finding per check out, and the report each link gets. Pure: no I/O,
//! unit-tested with plain values.
//!
//! Every check is declared once in [`checks::CHECKS`] (its names and
//! labels from the catalogue, the hops it judges, its evaluation); a family
//! of checks is one file under `checks/`, with its cause and fix texts and
//! its tests. A finding ([`Check`], in `finding`) says what it looked at
//! (`object`) and which hop of the path it judges (`place`, where `/links`
//! shows it and what colours that hop), and when it fails, the cause and
//! the fix in the words an on-call engineer needs. Here: the checks that
//! stay unknown while a collector they need has not succeeded, the
//! [`LinkReport`], and the views `/links` lays out (`path`).

pub mod checks;
mod finding;
mod object;
pub mod path;
pub mod rules;
#[cfg(test)]
mod testing;

pub use checks::{CHECKS, CheckSpec};
use finding::unknown;
pub use finding::{Check, Clock, Judges, Place};
pub use object::Object;
pub use path::{Hop, HopKind, LinkView};

use serde::Serialize;

use crate::inventory::{ApiType, Inventory, Scope, VpcLink};
use crate::topology::{LinkPath, Topology};

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
