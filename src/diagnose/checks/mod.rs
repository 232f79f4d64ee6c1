//! The runbook's checks, each declared once in [`CHECKS`]: its name (the
//! `check` label), the hops of the path it judges, its object labels, the
//! collectors whose data it needs, whether it applies to REST (V1) links
//! only, and its evaluation. A family of checks is one file here, with its
//! cause and fix texts. A new check is a function in one of these files
//! (or a new file) and one entry in the table.

mod certificates;
mod link;
mod load_balancer;
mod network;
mod privatelink;
mod targets;
mod tls;

pub use link::link_available;

use super::{Check, Clock};
use crate::topology::LinkPath;

/// The kinds of hop a check judges (what `/links` colours with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judges {
    Link,
    Stage,
    EndpointService,
    EndpointConnection,
    LoadBalancer,
    Listener,
    TargetGroup,
}

/// One check, declared.
pub struct CheckSpec {
    /// The `check` label.
    pub name: &'static str,
    /// The hops it judges; each finding names one (`Check::place`).
    pub judges: &'static [Judges],
    /// The labels of the objects it names, beside `vpc_link_id` and `check`.
    pub object: &'static [&'static str],
    /// The collectors whose data it reads besides `vpc_links` (which found
    /// the link): while one has not succeeded, the check is unknown.
    pub needs: &'static [&'static str],
    /// REST (V1) links only: the PrivateLink hop.
    pub rest_only: bool,
    /// The findings for one link (none when its facts are not collected).
    pub(in crate::diagnose) evaluate: fn(&LinkPath<'_>, &Clock) -> Vec<Check>,
}

/// Every check, in the order of the runbook (and of each report).
pub const CHECKS: &[CheckSpec] = &[
    CheckSpec {
        name: "link_available",
        judges: &[Judges::Link],
        object: &["vpc_link"],
        needs: &[],
        rest_only: false,
        evaluate: |path, _| vec![link_available(path.link)],
    },
    CheckSpec {
        name: "load_balancer_active",
        judges: &[Judges::LoadBalancer],
        object: &["load_balancer"],
        needs: &["load_balancers"],
        rest_only: false,
        evaluate: |path, _| path.load_balancer_active(),
    },
    CheckSpec {
        name: "listener_port",
        // A port without a listener shows as a listener hop that is missing;
        // a listener an integration names and the load balancer lacks, on
        // the load balancer.
        judges: &[Judges::Listener, Judges::LoadBalancer],
        object: &["load_balancer", "port", "listener"],
        needs: &["load_balancers"],
        rest_only: false,
        evaluate: |path, _| path.listener_port(),
    },
    CheckSpec {
        name: "endpoint_service_available",
        judges: &[Judges::EndpointService],
        object: &["load_balancer", "service_id"],
        // Of the link's NLBs, those that exist (load_balancers) have an endpoint service.
        needs: &["load_balancers", "endpoints"],
        rest_only: true,
        evaluate: |path, _| path.endpoint_service_available(),
    },
    CheckSpec {
        name: "endpoint_connection_available",
        judges: &[Judges::EndpointConnection],
        object: &["service_id", "vpc_endpoint_id"],
        needs: &["load_balancers", "endpoints"],
        rest_only: true,
        evaluate: |path, _| path.endpoint_connection_available(),
    },
    CheckSpec {
        name: "targets_healthy",
        judges: &[Judges::TargetGroup],
        object: &["target_group"],
        needs: &["load_balancers"],
        rest_only: false,
        evaluate: |path, _| path.targets_healthy(),
    },
    CheckSpec {
        name: "security_groups_admit",
        judges: &[Judges::LoadBalancer, Judges::TargetGroup],
        object: &[
            "security_group",
            "direction",
            "load_balancer",
            "target_group",
            "port",
        ],
        needs: &["load_balancers", "network_rules"],
        rest_only: false,
        evaluate: |path, _| path.security_groups_admit(),
    },
    CheckSpec {
        name: "network_acls_admit",
        judges: &[Judges::LoadBalancer, Judges::TargetGroup],
        // `subnet` instead of `network_acl` when the subnet's ACL was not read.
        object: &[
            "network_acl",
            "subnet",
            "load_balancer",
            "target_group",
            "port",
        ],
        needs: &["load_balancers", "network_rules"],
        rest_only: false,
        evaluate: |path, _| path.network_acls_admit(),
    },
    CheckSpec {
        name: "privatelink_inbound_rules",
        judges: &[Judges::LoadBalancer],
        object: &["load_balancer"],
        needs: &["load_balancers", "network_rules"],
        rest_only: true,
        evaluate: |path, _| path.privatelink_inbound_rules(),
    },
    CheckSpec {
        name: "no_tls_errors",
        judges: &[Judges::Stage],
        object: &["api_id", "stage"],
        needs: &["execution_logs"],
        rest_only: false,
        evaluate: |path, clock| path.no_tls_errors(clock),
    },
    CheckSpec {
        name: "certificate_matches_host",
        judges: &[Judges::Listener],
        object: &["load_balancer", "port", "host"],
        // Not load_balancers: without them there is no listener to judge,
        // and the load balancer's checks say unknown; with this collector
        // turned off, the check says nothing.
        needs: &["certificates"],
        rest_only: false,
        evaluate: |path, _| path.certificate_matches_host(),
    },
    CheckSpec {
        name: "certificate_valid",
        judges: &[Judges::Listener],
        object: &["load_balancer", "port", "certificate_arn"],
        // Not load_balancers: without them there is no listener to judge,
        // and the load balancer's checks say unknown; with this collector
        // turned off, the check says nothing.
        needs: &["certificates"],
        rest_only: false,
        evaluate: |path, clock| path.certificate_valid(clock),
    },
    CheckSpec {
        name: "tls_probe",
        judges: &[Judges::Listener],
        object: &["load_balancer", "port", "host"],
        needs: &["tls_probe"],
        rest_only: false,
        evaluate: |path, _| path.tls_probe(),
    },
];

/// The declaration of a check by name.
pub fn spec(name: &str) -> Option<&'static CheckSpec> {
    CHECKS.iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::ApiType;
    use crate::testkit::{
        v1_path, v2_path, view_one, with_certificate, with_logs_read, with_probe,
    };

    /// Every finding of the test paths (healthy and broken in many ways)
    /// is declared: its name is in the table, it names only the declared
    /// object labels, and it is placed on a hop of a declared kind.
    #[test]
    fn every_finding_keeps_to_its_declaration() {
        let mut broken = v2_path();
        let lb = broken.load_balancing.as_mut().unwrap();
        lb.load_balancers[0].state = "failed".into();
        lb.load_balancers[0].listeners[0].port = 8443;
        lb.target_groups[0].targets[0].state = "unhealthy".into();
        broken.network_rules.as_mut().unwrap().security_groups[1]
            .ingress
            .clear();
        let mut unknown = v1_path(&["rejected"]);
        unknown.load_balancing = None;
        unknown.unavailable =
            std::collections::BTreeMap::from([("load_balancers", "it fails".to_owned())]);
        let mut seen = std::collections::BTreeSet::new();
        for inventory in [
            with_logs_read(v2_path()),
            with_certificate(v1_path(&["available"]), &["other.example"], (0, 1)),
            with_probe(
                v1_path(&["available"]),
                Some((crate::classify::ErrorClass::TlsKeyMismatch, "bad")),
            ),
            v1_path(&["available"]),
            broken,
            unknown,
        ] {
            let report = view_one(&inventory).report;
            for check in &report.checks {
                let spec =
                    spec(check.check).unwrap_or_else(|| panic!("{} undeclared", check.check));
                seen.insert(spec.name);
                if spec.rest_only {
                    assert_eq!(report.api_type, ApiType::Rest.as_str(), "{check:?}");
                }
                for label in check.object.keys() {
                    assert!(
                        spec.object.contains(&label)
                            || (check.unknown.is_some() && label == "collector"),
                        "{}: undeclared label {label}",
                        spec.name
                    );
                }
                if check.unknown.is_none() {
                    assert!(
                        spec.judges.contains(&check.place.judges()),
                        "{}: placed on {:?}",
                        spec.name,
                        check.place
                    );
                }
            }
        }
        let declared: std::collections::BTreeSet<&str> = CHECKS.iter().map(|c| c.name).collect();
        assert_eq!(
            seen, declared,
            "every declared check is made by the test paths"
        );
    }
}
