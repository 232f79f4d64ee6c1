//! `targets_healthy`: every target group behind a listener an integration
//! calls has a healthy target.

use std::collections::BTreeMap;

use super::super::finding::{Check, Place, failed, passed, unknown};
use super::super::object::Object;
use crate::topology::LinkPath;

impl LinkPath<'_> {
    /// `targets_healthy`: each target group behind a used listener has a healthy target.
    pub(in crate::diagnose) fn targets_healthy(&self) -> Vec<Check> {
        let mut out = Vec::new();
        for (_, group) in &self.groups {
            let object = Object::from([("target_group", group.arn.clone())]);
            let place = Place::TargetGroup(group.arn.clone());
            if let Some(error) = &group.health_unread {
                out.push(unknown(
                    "targets_healthy",
                    object,
                    place,
                    "load_balancers",
                    &format!("the targets' health could not be read: {error}"),
                ));
                continue;
            }
            if group.targets.iter().any(|t| t.state == "healthy") {
                out.push(passed("targets_healthy", object, place));
                continue;
            }
            let mut counts: BTreeMap<String, u32> = BTreeMap::new();
            for t in &group.targets {
                let key = match &t.reason {
                    Some(reason) => format!("{} ({reason})", t.state),
                    None => t.state.clone(),
                };
                *counts.entry(key).or_default() += 1;
            }
            let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
            out.push(failed(
                "targets_healthy",
                object,
                place,
                if group.targets.is_empty() {
                    format!("The target group {} has no registered targets.", group.name)
                } else {
                    format!("No healthy target in {}: {}.", group.name, summary.join(", "))
                },
                "Check that the application listens on the target port and answers the health check, that the targets' security groups admit the load balancer, and that unused targets are in an enabled Availability Zone and running.".into(),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {

    use crate::diagnose::testing::{path_inventory, run};

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
}
