//! `load_balancer_active` and `listener_port`: the load balancers a link
//! leads to exist and are active, and listen where the integrations call.

use super::super::finding::{Check, Place, failed, passed, unknown};
use super::super::object::Object;
use crate::topology::LinkPath;

impl LinkPath<'_> {
    /// `load_balancer_active`: every target load balancer exists and is active.
    pub(in crate::diagnose) fn load_balancer_active(&self) -> Vec<Check> {
        if self.inventory.load_balancing.is_none() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for arn in self.targets {
            let object = Object::from([("load_balancer", arn.clone())]);
            let place = Place::LoadBalancer(arn.clone());
            if self.is_missing(arn) {
                out.push(failed(
                    "load_balancer_active",
                    object,
                    place,
                    format!("The load balancer {arn} that the VPC link leads to no longer exists."),
                    "Create the load balancer again, or create a VPC link to an existing one; point the integrations at it and redeploy the API.".into(),
                ));
                continue;
            }
            let Some(lb) = self.balancer(arn) else {
                let unreadable = self
                    .inventory
                    .load_balancing
                    .as_ref()
                    .map_or(0, |l| l.unreadable_load_balancers);
                if unreadable > 0 {
                    out.push(unknown(
                        "load_balancer_active",
                        object,
                        place,
                        "load_balancers",
                        &format!("AWS listed {unreadable} load balancers without their ARN, and this one may be among them"),
                    ));
                }
                continue;
            };
            if lb.state == "active" {
                out.push(passed("load_balancer_active", object, place));
            } else {
                let reason = lb
                    .state_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                out.push(failed(
                    "load_balancer_active",
                    object,
                    place,
                    format!("The load balancer is {}{reason}, not active.", lb.state.to_ascii_uppercase()),
                    "Wait while it is provisioning; if it is failed or impaired, check its subnets and Availability Zones in the EC2 console.".into(),
                ));
            }
        }
        out
    }

    /// `listener_port`: the load balancer listens on every port an integration
    /// calls, and has every listener an integration names; unknown where
    /// the load balancer's listeners could not be read.
    pub(in crate::diagnose) fn listener_port(&self) -> Vec<Check> {
        let mut out = self.unread_listeners();
        for (listener, (lb, stage)) in &self.missing {
            out.push(failed(
                "listener_port",
                Object::from([("load_balancer", lb.clone()), ("listener", listener.clone())]),
                Place::LoadBalancer(lb.clone()),
                format!("Stage {stage} integrates with listener {listener}, which the load balancer does not have (deleted, or not readable)."),
                "Point the integration at a listener the load balancer has (or create the listener again), and redeploy the API.".into(),
            ));
        }
        for ((arn, port), stage) in &self.called {
            let port = *port;
            let Some(lb) = self.balancer(arn) else {
                continue;
            };
            let object = Object::from([("load_balancer", arn.clone()), ("port", port.to_string())]);
            let place = Place::Listener(arn.clone(), port);
            if let Some(why) = &lb.listeners_unread {
                out.push(listeners_unread(object, place, why));
            } else if lb.listeners.iter().any(|l| l.port == port) {
                out.push(passed("listener_port", object, place));
            } else {
                let ports: Vec<String> = lb.listeners.iter().map(|l| l.port.to_string()).collect();
                let listening = if ports.is_empty() {
                    "none".to_owned()
                } else {
                    ports.join(", ")
                };
                out.push(failed(
                    "listener_port",
                    object,
                    place,
                    format!("Stage {stage} calls port {port}, but the load balancer has no listener on it (listeners: {listening})."),
                    format!("Add a listener on port {port}, or change the integration URI (or the stage variable it uses) to a port the load balancer listens on, and redeploy the API."),
                ));
            }
        }
        out
    }

    /// The listeners integrations name on a load balancer whose listeners
    /// could not be read: unknown, never missing.
    fn unread_listeners(&self) -> Vec<Check> {
        let mut out = Vec::new();
        for u in &self.uses {
            if u.port.is_some() || !crate::resolve::is_listener_arn(&u.target) {
                continue;
            }
            let Some(lb) = crate::resolve::load_balancer_arn(&u.target) else {
                continue;
            };
            let Some(why) = self
                .balancer(&lb)
                .and_then(|b| b.listeners_unread.as_deref())
            else {
                continue;
            };
            let object = Object::from([
                ("load_balancer", lb.clone()),
                ("listener", u.target.clone()),
            ]);
            if out.iter().any(|c: &Check| c.object == object) {
                continue;
            }
            out.push(listeners_unread(object, Place::LoadBalancer(lb), why));
        }
        out
    }
}

/// A `listener_port` check that cannot be made: the load balancer's
/// listeners could not be read (`why`).
fn listeners_unread(object: Object, place: Place, why: &str) -> Check {
    unknown(
        "listener_port",
        object,
        place,
        "load_balancers",
        &format!("the load balancer's listeners could not be read: {why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::diagnose::testing::{only, path_inventory, run};

    use crate::inventory::Inventory;
    use crate::testkit;

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
            .find(|h| h.kind == crate::diagnose::HopKind::Listener)
            .unwrap();
        assert_eq!(hop.detail, "listeners could not be read");
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
}
