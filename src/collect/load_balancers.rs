//! Load balancers the VPC links lead to (or all, by config): state,
//! listeners, target groups and target health.
//!
//! When the quota leaves target groups' health for later, the next poll
//! starts with them (the groups are read in turn, in ARN order), and a
//! group left keeps the health last read of it: every group is read within
//! ceil(groups / groups read a poll) polls.

use crate::inventory::{LoadBalancer, Scope, TargetGroup, TargetHealth, turn_start};
use crate::render::{Families, Kind, Snapshot, scope_labels};
use async_trait::async_trait;

use super::collector::{Collector, Descriptor, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::config::LoadBalancerScope;
use crate::inventory::{Inventory, LoadBalancing};
use crate::lock::LockOrRecover;
use crate::topology::Topology;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

pub struct LoadBalancers {
    pub scope: LoadBalancerScope,
    /// The tags kept on each load balancer (`tags_as_labels`).
    pub tags: Vec<String>,
    /// Per scope (`account/region`): the last target group whose health
    /// was read before the quota ran out; the next poll starts after it.
    health_after: Mutex<HashMap<String, String>>,
}

impl LoadBalancers {
    pub fn new(scope: LoadBalancerScope, tags: &[String]) -> LoadBalancers {
        LoadBalancers {
            scope,
            tags: tags.to_vec(),
            health_after: Mutex::default(),
        }
    }
}

#[async_trait]
impl Collector for LoadBalancers {
    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError> {
        let key = format!("{}/{}", aws.account_label(), aws.region());
        let after = self.health_after.lock_or_recover().get(&key).cloned();
        let mut lb = match self.scope {
            LoadBalancerScope::All => {
                aws.load_balancing(None, after.as_deref(), &self.tags)
                    .await?
            }
            LoadBalancerScope::Linked => {
                let wanted = Topology::build(known).linked_load_balancers();
                if wanted.is_empty() {
                    // No link leads anywhere: nothing to ask AWS.
                    LoadBalancing::default()
                } else {
                    aws.load_balancing(Some(&wanted), after.as_deref(), &self.tags)
                        .await?
                }
            }
        };
        let resume = resume_after(&lb.target_groups, after.as_deref());
        let mut books = self.health_after.lock_or_recover();
        match resume {
            Some(arn) => books.insert(key, arn),
            None => books.remove(&key),
        };
        drop(books);
        keep_health_left(&mut lb, known.load_balancing.as_ref());
        keep_tags_unread(&mut lb, known.load_balancing.as_ref());
        Ok(Fragment::LoadBalancing(lb))
    }
}

/// Where the next poll starts its health reads: after the last group read
/// before the quota ran out (in the order this poll read them, ARN order
/// from after `after`); `None` when nothing was left.
fn resume_after(groups: &[TargetGroup], after: Option<&str>) -> Option<String> {
    let mut order: Vec<&TargetGroup> = groups.iter().collect();
    order.sort_by(|a, b| a.arn.cmp(&b.arn));
    let first = turn_start(order.iter().map(|g| g.arn.as_str()), after);
    order.rotate_left(first);
    let left = order.iter().position(|g| g.health_left)?;
    match left {
        // Not one read this poll: start from the same place again.
        0 => after.map(str::to_owned),
        n => Some(order[n - 1].arn.clone()),
    }
}

/// A group whose health the quota left for later keeps what was last read
/// of it; one never read is unknown until it is.
fn keep_health_left(lb: &mut LoadBalancing, known: Option<&LoadBalancing>) {
    for group in lb.target_groups.iter_mut().filter(|g| g.health_left) {
        let before = known
            .into_iter()
            .flat_map(|k| &k.target_groups)
            .find(|g| g.arn == group.arn && g.health_unread.is_none());
        match before {
            Some(before) => group.targets = before.targets.clone(),
            None => {
                group.health_unread =
                    Some("not read yet: the quota left it for the next poll".to_owned())
            }
        }
    }
}

/// A load balancer whose tags could not be read this poll (DescribeTags
/// failed, or the quota left it) keeps those last read: its owner label,
/// and the alerts routed by it, stay put.
fn keep_tags_unread(lb: &mut LoadBalancing, known: Option<&LoadBalancing>) {
    for balancer in lb.load_balancers.iter_mut().filter(|b| b.tags_unread) {
        if let Some(before) = known
            .into_iter()
            .flat_map(|k| &k.load_balancers)
            .find(|b| b.arn == balancer.arn)
        {
            balancer.tags = before.tags.clone();
        }
    }
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    name: awsconn_catalogue::collector::LOAD_BALANCERS,
    stage: 1,
    operations: &[
        ("elasticloadbalancingv2", "DescribeLoadBalancers"),
        ("elasticloadbalancingv2", "DescribeListeners"),
        ("elasticloadbalancingv2", "DescribeTargetGroups"),
        ("elasticloadbalancingv2", "DescribeTargetHealth"),
        ("elasticloadbalancingv2", "DescribeTags"),
    ],
    schedule: |c| c.load_balancers.schedule(),
    build: |config| {
        Arc::new(LoadBalancers::new(
            config.collectors.load_balancers.scope,
            &config.tags_as_labels,
        ))
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
        let mut info = base.clone();
        info.extend([
            ("name", balancer.name.clone()),
            ("type", balancer.lb_type.clone()),
            ("scheme", balancer.scheme.clone()),
        ]);
        f.add(
            "awsconn_load_balancer_info",
            "A load balancer a link leads to (or any, with scope: all), with its tags named in tags_as_labels as labels; always 1",
            Kind::Gauge,
            crate::tags::with_tags(info, &balancer.tags),
            1.0,
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Tags that cannot be read this poll are those read before; a load
    /// balancer never read before has none; tags read are as read.
    #[test]
    fn unread_tags_are_kept_as_last_read() {
        let team = |t: &str| BTreeMap::from([("Team".to_owned(), t.to_owned())]);
        let known = LoadBalancing {
            load_balancers: vec![
                LoadBalancer {
                    tags: team("payments"),
                    ..crate::testkit::load_balancer("a")
                },
                LoadBalancer {
                    tags: team("search"),
                    ..crate::testkit::load_balancer("b")
                },
            ],
            ..Default::default()
        };
        let unread = |arn: &str| LoadBalancer {
            tags_unread: true,
            ..crate::testkit::load_balancer(arn)
        };
        let mut now = LoadBalancing {
            load_balancers: vec![
                unread("a"),
                LoadBalancer {
                    tags: team("orders"),
                    ..crate::testkit::load_balancer("b")
                },
                unread("new"),
            ],
            ..Default::default()
        };
        keep_tags_unread(&mut now, Some(&known));
        let tags: Vec<_> = now.load_balancers.iter().map(|b| b.tags.clone()).collect();
        assert_eq!(tags, [team("payments"), team("orders"), BTreeMap::new()]);
    }

    fn group(arn: &str) -> TargetGroup {
        TargetGroup {
            arn: arn.into(),
            name: arn.into(),
            protocol: "TCP".into(),
            port: Some(443),
            health_check_port: None,
            target_type: "ip".into(),
            vpc_id: "vpc-1".into(),
            load_balancer_arns: vec![],
            targets: vec![],
            health_unread: None,
            health_left: false,
        }
    }

    /// Whatever the number of groups and how many the quota lets a poll
    /// read, the groups are read in turn: each within ceil(n / k) polls.
    #[test]
    fn groups_left_by_the_quota_are_read_in_turn() {
        for n in 1..=9usize {
            for k in 1..=n {
                let arns: Vec<String> = (0..n).map(|i| format!("tg/{i:02}")).collect();
                let mut last_read = vec![None::<usize>; n];
                let mut after: Option<String> = None;
                let polls = n.div_ceil(k);
                for poll in 0..polls {
                    // As elbv2 reads them: in turn from `after`, k of them.
                    let start = turn_start(arns.iter().map(String::as_str), after.as_deref());
                    let mut groups: Vec<TargetGroup> = arns.iter().map(|a| group(a)).collect();
                    for step in 0..n {
                        let i = (start + step) % n;
                        if step < k {
                            last_read[i] = Some(poll);
                        } else {
                            groups[i].health_left = true;
                        }
                    }
                    after = resume_after(&groups, after.as_deref());
                }
                assert!(
                    last_read.iter().all(Option::is_some),
                    "{n} groups, {k} a poll: {last_read:?}"
                );
            }
        }
    }

    /// A group left for later keeps its last health; one never read is
    /// unknown, not "no targets".
    #[test]
    fn a_group_left_keeps_its_last_health() {
        let target = TargetHealth {
            id: "10.0.0.1".into(),
            port: Some(443),
            state: "healthy".into(),
            ..Default::default()
        };
        let known = LoadBalancing {
            target_groups: vec![TargetGroup {
                targets: vec![target.clone()],
                ..group("tg/a")
            }],
            ..Default::default()
        };
        let mut now = LoadBalancing {
            target_groups: vec![
                TargetGroup {
                    health_left: true,
                    ..group("tg/a")
                },
                TargetGroup {
                    health_left: true,
                    ..group("tg/b")
                },
            ],
            ..Default::default()
        };
        keep_health_left(&mut now, Some(&known));
        assert_eq!(now.target_groups[0].targets, vec![target]);
        assert_eq!(now.target_groups[0].health_unread, None);
        assert!(now.target_groups[1].health_unread.is_some());
    }
}
