//! Load balancers the VPC links lead to (or all, by config): state,
//! listeners, target groups and target health.

use crate::inventory::{LoadBalancer, Scope, TargetHealth};
use crate::render::{Families, Kind, Snapshot, scope_labels};
use async_trait::async_trait;

use super::{Collector, Descriptor, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::config::LoadBalancerScope;
use crate::inventory::{Inventory, LoadBalancing};
use crate::topology::Topology;
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct LoadBalancers {
    pub scope: LoadBalancerScope,
}

#[async_trait]
impl Collector for LoadBalancers {
    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError> {
        let lb = match self.scope {
            LoadBalancerScope::All => aws.load_balancing(None).await?,
            LoadBalancerScope::Linked => {
                let wanted = Topology::build(known).linked_load_balancers();
                if wanted.is_empty() {
                    // No link leads anywhere: nothing to ask AWS.
                    LoadBalancing::default()
                } else {
                    aws.load_balancing(Some(&wanted)).await?
                }
            }
        };
        Ok(Fragment::LoadBalancing(lb))
    }
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "load_balancers",
    stage: 1,
    operations: &[
        ("elasticloadbalancingv2", "DescribeLoadBalancers"),
        ("elasticloadbalancingv2", "DescribeListeners"),
        ("elasticloadbalancingv2", "DescribeTargetGroups"),
        ("elasticloadbalancingv2", "DescribeTargetHealth"),
    ],
    schedule: |c| c.load_balancers.schedule(),
    build: |config| {
        Arc::new(LoadBalancers {
            scope: config.collectors.load_balancers.scope,
        })
    },
    forget: |inventory| inventory.load_balancing = None,
    render,
};

/// `awsconn_load_balancer_*` and `awsconn_target_*`.
fn render(f: &mut Families, scope: &Scope, topology: &Topology, snapshot: &Snapshot) {
    if let Some(lb) = &topology.inventory.load_balancing {
        load_balancing_families(f, scope, lb, snapshot.per_target_health);
    }
}

fn load_balancing_families(f: &mut Families, scope: &Scope, lb: &LoadBalancing, per_target: bool) {
    for balancer in &lb.load_balancers {
        let mut base = scope_labels(scope);
        base.push(("load_balancer", balancer.arn.clone()));
        let mut state = base.clone();
        state.push(("type", balancer.lb_type.clone()));
        f.state_set(
            "awsconn_load_balancer_state",
            "State of the load balancer: 1 for the current state, 0 for the others",
            &state,
            "state",
            LoadBalancer::KNOWN_STATES,
            &balancer.state,
        );
        for listener in &balancer.listeners {
            let mut labels = base.clone();
            labels.push(("port", listener.port.to_string()));
            labels.push(("protocol", listener.protocol.to_ascii_lowercase()));
            f.add(
                "awsconn_load_balancer_listener_info",
                "A listener of the load balancer; always 1",
                Kind::Gauge,
                labels,
                1.0,
            );
        }
        if let Some(enforced) = &balancer.privatelink_inbound_rules {
            f.add(
                "awsconn_load_balancer_privatelink_inbound_rules_enforced",
                "1 if security group inbound rules are enforced on PrivateLink traffic to the load balancer",
                Kind::Gauge,
                base,
                f64::from(u8::from(enforced == "on")),
            );
        }
    }
    // A load balancer a link targets that AWS no longer knows: deleted.
    for arn in &lb.missing_load_balancers {
        let mut labels = scope_labels(scope);
        labels.push(("load_balancer", arn.clone()));
        labels.push(("type", String::new()));
        f.state_set(
            "awsconn_load_balancer_state",
            "State of the load balancer: 1 for the current state, 0 for the others",
            &labels,
            "state",
            LoadBalancer::KNOWN_STATES,
            "not_found",
        );
    }
    // A group whose health could not be read has no counts: zeros would
    // read as "no healthy target" (its runbook check says unknown instead).
    for group in lb
        .target_groups
        .iter()
        .filter(|g| g.health_unread.is_none())
    {
        let mut counts: BTreeMap<&str, u32> =
            TargetHealth::KNOWN_STATES.iter().map(|s| (*s, 0)).collect();
        let mut reasons: BTreeMap<&str, u32> = BTreeMap::new();
        for target in &group.targets {
            *counts.entry(target.state.as_str()).or_insert(0) += 1;
            if let Some(reason) = target
                .reason
                .as_deref()
                .filter(|_| target.state != "healthy")
            {
                *reasons.entry(reason).or_insert(0) += 1;
            }
        }
        for balancer in &group.load_balancer_arns {
            let mut base = scope_labels(scope);
            base.push(("load_balancer", balancer.clone()));
            base.push(("target_group", group.arn.clone()));
            for (state, n) in &counts {
                f.add_with(
                    "awsconn_target_group_targets",
                    "Targets of the target group by health state",
                    Kind::Gauge,
                    &base,
                    ("state", state),
                    f64::from(*n),
                );
            }
            for (reason, n) in &reasons {
                f.add_with(
                    "awsconn_target_group_unhealthy_reasons",
                    "Targets of the target group that are not healthy, by reason",
                    Kind::Gauge,
                    &base,
                    ("reason", reason),
                    f64::from(*n),
                );
            }
        }
        if per_target {
            for target in &group.targets {
                let mut labels = scope_labels(scope);
                labels.extend([
                    ("target_group", group.arn.clone()),
                    ("target", target.id.clone()),
                    (
                        "port",
                        target.port.map(|p| p.to_string()).unwrap_or_default(),
                    ),
                ]);
                f.state_set(
                    "awsconn_target_health",
                    "Health of one target: 1 for the current state, 0 for the others",
                    &labels,
                    "state",
                    TargetHealth::KNOWN_STATES,
                    &target.state,
                );
            }
        }
    }
}
