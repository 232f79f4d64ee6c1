//! Security groups, network ACLs, prefix lists and target interfaces on the
//! paths from VPC links to targets: the facts the runbook's admission checks read.

use async_trait::async_trait;

use super::collector::{Collector, Descriptor, Fragment};
use crate::aws::{AwsError, AwsScope, NetworkQuery};
use crate::inventory::Inventory;
use std::sync::Arc;

pub struct NetworkRulesCollector;

/// What to look up for a scope: the load balancers' and V2 links' groups and
/// subnets, and the interfaces of IP and instance targets.
pub fn query(known: &Inventory) -> NetworkQuery {
    let mut q = NetworkQuery::default();
    for link in known.vpc_links.iter().flatten() {
        q.security_group_ids
            .extend(link.security_group_ids.iter().cloned());
        q.subnet_ids.extend(link.subnet_ids.iter().cloned());
    }
    if let Some(lb) = &known.load_balancing {
        for balancer in &lb.load_balancers {
            q.security_group_ids
                .extend(balancer.security_group_ids.iter().cloned());
            q.subnet_ids.extend(balancer.subnet_ids.iter().cloned());
        }
        for group in &lb.target_groups {
            for target in &group.targets {
                match group.target_type.as_str() {
                    "ip" => {
                        q.target_ips.insert(target.id.clone());
                    }
                    "instance" => {
                        q.target_instances.insert(target.id.clone());
                    }
                    _ => {}
                }
            }
        }
    }
    q
}

#[async_trait]
impl Collector for NetworkRulesCollector {
    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError> {
        Ok(Fragment::NetworkRules(
            aws.network_rules(&query(known)).await?,
        ))
    }
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    name: awsconn_catalogue::collector::NETWORK_RULES,
    stage: 2,
    operations: &[
        ("ec2", "DescribeNetworkInterfaces"),
        ("ec2", "DescribeSecurityGroups"),
        ("ec2", "DescribeNetworkAcls"),
        ("ec2", "DescribeSubnets"),
        ("ec2", "GetManagedPrefixListEntries"),
    ],
    schedule: |c| c.network_rules,
    build: |_| Arc::new(NetworkRulesCollector),
    forget: |inventory| inventory.network_rules = None,
    // What the security groups and ACLs say shows in the checks.
    render: super::collector::renders_nothing,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{
        ApiType, LoadBalancer, LoadBalancing, TargetGroup, TargetHealth, VpcLink,
    };

    fn target(id: &str) -> TargetHealth {
        TargetHealth {
            id: id.into(),
            port: Some(8080),
            state: "healthy".into(),
            reason: None,
            description: None,
        }
    }

    fn group(target_type: &str, ids: &[&str]) -> TargetGroup {
        TargetGroup {
            health_unread: None,
            health_left: false,
            arn: format!("tg-{target_type}"),
            name: target_type.into(),
            protocol: "TCP".into(),
            port: Some(8080),
            health_check_port: None,
            target_type: target_type.into(),
            vpc_id: "vpc-1".into(),
            load_balancer_arns: vec!["lb".into()],
            targets: ids.iter().map(|i| target(i)).collect(),
        }
    }

    #[test]
    fn query_covers_links_load_balancers_and_targets() {
        let inventory = Inventory {
            vpc_links: Some(vec![VpcLink {
                api_type: ApiType::Http,
                subnet_ids: vec!["subnet-link".into()],
                security_group_ids: vec!["sg-link".into()],
                tags: Default::default(),
                ..crate::testkit::vpc_link("v2")
            }]),
            load_balancing: Some(LoadBalancing {
                load_balancers: vec![LoadBalancer {
                    subnet_ids: vec!["subnet-lb".into()],
                    security_group_ids: vec!["sg-lb".into()],
                    privatelink_inbound_rules: Some("on".into()),
                    ..crate::testkit::load_balancer("lb")
                }],
                target_groups: vec![
                    group("ip", &["10.0.0.5"]),
                    group("instance", &["i-1", "i-2"]),
                    group("lambda", &["arn:aws:lambda:x"]),
                ],
                ..Default::default()
            }),
            ..Default::default()
        };
        let q = query(&inventory);
        assert_eq!(
            q.security_group_ids.into_iter().collect::<Vec<_>>(),
            ["sg-lb", "sg-link"]
        );
        assert_eq!(
            q.subnet_ids.into_iter().collect::<Vec<_>>(),
            ["subnet-lb", "subnet-link"]
        );
        assert_eq!(q.target_ips.into_iter().collect::<Vec<_>>(), ["10.0.0.5"]);
        assert_eq!(
            q.target_instances.into_iter().collect::<Vec<_>>(),
            ["i-1", "i-2"]
        );
    }
}
