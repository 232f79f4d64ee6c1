//! The PrivateLink hop of REST (V1) links: `endpoint_service_available`,
//! `endpoint_connection_available` and `privatelink_inbound_rules`.

use super::super::finding::{Check, Place, failed, passed, unknown};
use super::super::object::Object;
use super::super::rules;
use crate::topology::LinkPath;

impl LinkPath<'_> {
    /// `endpoint_service_available` (V1): the NLB's endpoint service is available.
    pub(in crate::diagnose) fn endpoint_service_available(&self) -> Vec<Check> {
        let Some(services) = &self.inventory.endpoint_services else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for arn in self.nlb_targets() {
            let mine: Vec<_> = services
                .iter()
                .filter(|s| s.load_balancer_arns.contains(arn))
                .collect();
            if mine.is_empty() {
                out.push(failed(
                    "endpoint_service_available",
                    Object::from([("load_balancer", arn.clone())]),
                    Place::NoService(arn.clone()),
                    "No VPC endpoint service fronts the NLB: API Gateway cannot reach it through PrivateLink.".into(),
                    "API Gateway creates the endpoint service with the VPC link: recreate the VPC link for this NLB and redeploy the API.".into(),
                ));
            }
            for service in mine {
                let object = Object::from([
                    ("load_balancer", arn.clone()),
                    ("service_id", service.service_id.clone()),
                ]);
                let place = Place::Service(service.service_id.clone());
                if service.state == "available" {
                    out.push(passed("endpoint_service_available", object, place));
                } else {
                    out.push(failed(
                        "endpoint_service_available",
                        object,
                        place,
                        format!("The endpoint service {} is {}, not available.", service.service_id, service.state.to_ascii_uppercase()),
                        "A deleted or failed endpoint service does not come back: recreate the VPC link and redeploy the API.".into(),
                    ));
                }
            }
        }
        out
    }

    /// `endpoint_connection_available` (V1): API Gateway's endpoint connection is available.
    pub(in crate::diagnose) fn endpoint_connection_available(&self) -> Vec<Check> {
        let Some(services) = &self.inventory.endpoint_services else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for arn in self.nlb_targets() {
            for service in services
                .iter()
                .filter(|s| s.load_balancer_arns.contains(arn))
            {
                if let Some(error) = &service.connections_unread {
                    out.push(unknown(
                        "endpoint_connection_available",
                        Object::from([("service_id", service.service_id.clone())]),
                        Place::Connection(service.service_id.clone(), None),
                        "endpoints",
                        &format!("the endpoint service's connections could not be read: {error}"),
                    ));
                    continue;
                }
                if let Some(c) = service.connections.iter().find(|c| c.state == "available") {
                    out.push(passed(
                        "endpoint_connection_available",
                        Object::from([
                            ("service_id", service.service_id.clone()),
                            ("vpc_endpoint_id", c.vpc_endpoint_id.clone()),
                        ]),
                        Place::Connection(
                            service.service_id.clone(),
                            Some(c.vpc_endpoint_id.clone()),
                        ),
                    ));
                    continue;
                }
                let states: Vec<String> = service
                    .connections
                    .iter()
                    .map(|c| format!("{} is {}", c.vpc_endpoint_id, c.state))
                    .collect();
                let fix = if service
                    .connections
                    .iter()
                    .any(|c| c.state == "pendingacceptance")
                {
                    "Accept the pending endpoint connection on the endpoint service (VPC console, Endpoint services, Endpoint connections), or turn off 'acceptance required'."
                } else if service.connections.iter().any(|c| c.state == "rejected") {
                    "A rejected connection stays rejected: recreate the VPC link, accept its connection, and redeploy the API."
                } else {
                    "Recreate the VPC link so that API Gateway connects to the endpoint service again, and redeploy the API."
                };
                out.push(failed(
                    "endpoint_connection_available",
                    Object::from([("service_id", service.service_id.clone())]),
                    Place::Connection(service.service_id.clone(), None),
                    if states.is_empty() {
                        format!(
                            "The endpoint service {} has no endpoint connection from API Gateway.",
                            service.service_id
                        )
                    } else {
                        format!(
                            "No endpoint connection of {} is available: {}.",
                            service.service_id,
                            states.join(", ")
                        )
                    },
                    fix.into(),
                ));
            }
        }
        out
    }

    /// `privatelink_inbound_rules` (V1): enforcement is off, or the NLB's
    /// security groups admit the listener ports from anywhere (PrivateLink
    /// traffic from API Gateway has no address of yours to allow).
    pub(in crate::diagnose) fn privatelink_inbound_rules(&self) -> Vec<Check> {
        let mut out = Vec::new();
        for arn in self.targets {
            let Some(lb) = self.balancer(arn) else {
                continue;
            };
            let Some(enforced) = lb.privatelink_inbound_rules.as_deref() else {
                continue;
            };
            let object = Object::from([("load_balancer", arn.clone())]);
            let place = Place::LoadBalancer(arn.clone());
            if enforced != "on" {
                out.push(passed("privatelink_inbound_rules", object, place));
                continue;
            }
            // Without the security groups the verdict is unknown, not a failure.
            let Some(rules) = self.inventory.network_rules.as_ref() else {
                continue;
            };
            let groups: Vec<_> = rules
                .security_groups
                .iter()
                .filter(|g| lb.security_group_ids.contains(&g.id))
                .collect();
            let lists = rules.prefix_lists.clone();
            let anywhere = rules::Peer {
                cidrs: rules::Cidr::parse("0.0.0.0/0").into_iter().collect(),
                security_groups: Vec::new(),
            };
            let blocked: Vec<String> = lb
                .listeners
                .iter()
                .filter(|l| {
                    !rules::security_groups_admit(&groups, false, l.port, &anywhere, &lists)
                })
                .map(|l| l.port.to_string())
                .collect();
            if blocked.is_empty() {
                out.push(passed("privatelink_inbound_rules", object, place));
            } else {
                out.push(failed(
                    "privatelink_inbound_rules",
                    object,
                    place,
                    format!(
                        "\"Enforce inbound rules on PrivateLink traffic\" is on and the NLB's security groups do not admit port {} from the PrivateLink traffic.",
                        blocked.join(", ")
                    ),
                    "Turn the enforcement off in the NLB's security settings (API Gateway's traffic arrives through PrivateLink), or add inbound rules for the listener ports.".into(),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {

    use crate::diagnose::testing::only;

    use crate::testkit;
    use std::collections::BTreeMap;

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
