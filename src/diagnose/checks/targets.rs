//! `targets_healthy`: every target group behind a listener an integration
//! calls has a healthy target.

use std::collections::BTreeMap;

use super::super::{Check, LinkPath, Object, Place, failed, passed, unknown};

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
