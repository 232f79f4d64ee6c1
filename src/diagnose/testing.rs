//! Builders the diagnosis's tests share: a VPC link in a state, a whole
//! path (API → link → NLB → listener → target group) to break one hop of,
//! and the report of one link.

use crate::diagnose::{Check, Clock, LinkReport, diagnose};
use crate::inventory::{ApiType, Inventory, LoadBalancer, VpcLink};
use crate::testkit;

pub fn link(status: &str, api_type: ApiType) -> VpcLink {
    VpcLink {
        name: "orders".into(),
        api_type,
        status: status.into(),
        status_message: Some("NLB not found".into()),
        ..testkit::vpc_link("abc123")
    }
}

pub fn path_inventory(listener_port: u16, target_state: &str) -> (Inventory, VpcLink) {
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
            ..Default::default()
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
            ..Default::default()
        }),
        ..Default::default()
    };
    (inventory, link)
}

pub fn run(inventory: &Inventory) -> LinkReport {
    let scope = testkit::scope();
    diagnose([(&scope, inventory)], &Clock::default()).remove(0)
}

pub fn only(report: &LinkReport, check: &str) -> Vec<Check> {
    report
        .checks
        .iter()
        .filter(|c| c.check == check)
        .cloned()
        .collect()
}
