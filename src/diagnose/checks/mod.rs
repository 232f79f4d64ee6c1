//! The runbook's checks, each declared once in [`CHECKS`]: its names and
//! labels from the catalogue (`awsconn_catalogue::check`: the `check`
//! label, its object labels, the collectors it needs, whether it applies to
//! REST (V1) links only; the mixin's alerts read the same), the hops of the
//! path it judges, and its evaluation. A family of checks is one file here,
//! with its cause and fix texts and its tests. A new check is an entry in
//! the catalogue, a function in one of these files (or a new file) and one
//! entry in the table.

mod certificates;
mod link;
mod load_balancer;
mod network;
mod privatelink;
mod targets;
mod tls;

pub use link::link_available;

use awsconn_catalogue::check;

use super::{Check, Clock, Judges};
use crate::topology::LinkPath;

/// One check, declared: its names and labels (the catalogue's, which the
/// mixin's alerts read too), the hops it judges, and its evaluation.
pub struct CheckSpec {
    /// The `check` label, its object labels, the collectors it needs, REST only.
    pub check: &'static awsconn_catalogue::Check,
    /// The hops it judges; each finding names one (`Check::place`).
    pub judges: &'static [Judges],
    /// The findings for one link (none when its facts are not collected).
    pub(in crate::diagnose) evaluate: fn(&LinkPath<'_>, &Clock) -> Vec<Check>,
}

/// Every check, in the order of the runbook (and of each report).
pub const CHECKS: &[CheckSpec] = &[
    CheckSpec {
        check: &check::LINK_AVAILABLE,
        judges: &[Judges::Link],
        evaluate: |path, _| vec![link_available(path.link)],
    },
    CheckSpec {
        check: &check::LOAD_BALANCER_ACTIVE,
        judges: &[Judges::LoadBalancer],
        evaluate: |path, _| path.load_balancer_active(),
    },
    CheckSpec {
        check: &check::LISTENER_PORT,
        // A port without a listener shows as a listener hop that is missing;
        // a listener an integration names and the load balancer lacks, on
        // the load balancer.
        judges: &[Judges::Listener, Judges::LoadBalancer],
        evaluate: |path, _| path.listener_port(),
    },
    CheckSpec {
        check: &check::ENDPOINT_SERVICE_AVAILABLE,
        judges: &[Judges::EndpointService],
        evaluate: |path, _| path.endpoint_service_available(),
    },
    CheckSpec {
        check: &check::ENDPOINT_CONNECTION_AVAILABLE,
        judges: &[Judges::EndpointConnection],
        evaluate: |path, _| path.endpoint_connection_available(),
    },
    CheckSpec {
        check: &check::TARGETS_HEALTHY,
        judges: &[Judges::TargetGroup],
        evaluate: |path, _| path.targets_healthy(),
    },
    CheckSpec {
        check: &check::SECURITY_GROUPS_ADMIT,
        judges: &[Judges::LoadBalancer, Judges::TargetGroup],
        evaluate: |path, _| path.security_groups_admit(),
    },
    CheckSpec {
        check: &check::NETWORK_ACLS_ADMIT,
        judges: &[Judges::LoadBalancer, Judges::TargetGroup],
        evaluate: |path, _| path.network_acls_admit(),
    },
    CheckSpec {
        check: &check::PRIVATELINK_INBOUND_RULES,
        judges: &[Judges::LoadBalancer],
        evaluate: |path, _| path.privatelink_inbound_rules(),
    },
    CheckSpec {
        check: &check::NO_TLS_ERRORS,
        judges: &[Judges::Stage],
        evaluate: |path, clock| path.no_tls_errors(clock),
    },
    CheckSpec {
        check: &check::CERTIFICATE_MATCHES_HOST,
        judges: &[Judges::Listener],
        evaluate: |path, _| path.certificate_matches_host(),
    },
    CheckSpec {
        check: &check::CERTIFICATE_VALID,
        judges: &[Judges::Listener],
        evaluate: |path, clock| path.certificate_valid(clock),
    },
    CheckSpec {
        check: &check::TLS_PROBE,
        judges: &[Judges::Listener],
        evaluate: |path, _| path.tls_probe(),
    },
];

/// The declaration of a check by name.
pub fn spec(name: &str) -> Option<&'static CheckSpec> {
    CHECKS.iter().find(|c| c.check.name == name)
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
                seen.insert(spec.check.name);
                if spec.check.rest_only {
                    assert_eq!(report.api_type, ApiType::Rest.as_str(), "{check:?}");
                }
                for label in check.object.keys() {
                    assert!(
                        spec.check.object.contains(&label)
                            || (check.unknown.is_some() && label == "collector"),
                        "{}: undeclared label {label}",
                        spec.check.name
                    );
                }
                if check.unknown.is_none() {
                    assert!(
                        spec.judges.contains(&check.place.judges()),
                        "{}: placed on {:?}",
                        spec.check.name,
                        check.place
                    );
                }
            }
        }
        let declared: std::collections::BTreeSet<&str> =
            CHECKS.iter().map(|c| c.check.name).collect();
        assert_eq!(
            seen, declared,
            "every declared check is made by the test paths"
        );
        // Every check of the catalogue, in its order, and only those.
        let catalogue: Vec<&str> = awsconn_catalogue::CHECKS.iter().map(|c| c.name).collect();
        let table: Vec<&str> = CHECKS.iter().map(|c| c.check.name).collect();
        assert_eq!(table, catalogue);
    }
}
