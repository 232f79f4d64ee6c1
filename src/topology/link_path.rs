//! One VPC link's path, worked out once from its scope's [`Topology`]:
//! the integrations that use the link (per stage), the load balancers they
//! reach, the ports they call, and the listeners and target groups in use.
//! Every check of the diagnosis and every hop of `/links` reads it.

use std::collections::BTreeMap;

use super::Topology;
use crate::inventory::{Inventory, Listener, LoadBalancer, TargetGroup, VpcLink};
use crate::resolve::{ResolvedIntegration, load_balancer_arn};

/// One link and what it leads to: the integrations that use it (per stage),
/// the load balancers they reach, and the listeners and target groups in
/// use, worked out once per link for every check and the hops to read.
pub struct LinkPath<'a> {
    pub topology: &'a Topology<'a>,
    pub inventory: &'a Inventory,
    pub link: &'a VpcLink,
    pub uses: Vec<&'a ResolvedIntegration>,
    /// Target load balancer ARNs: V1 the link's targets, V2 the integrations'.
    pub targets: &'a [String],
    /// The (load balancer, port) pairs the integrations call, with a stage that calls each.
    pub called: BTreeMap<(String, u16), String>,
    /// Listeners that integrations name and their load balancer (which
    /// exists) does not have, with the load balancer and a stage naming each.
    pub missing: BTreeMap<String, (String, String)>,
    /// The listeners in use, with their load balancers.
    pub used: Vec<(&'a LoadBalancer, &'a Listener)>,
    /// The target groups behind them, each once, with the load balancer in front.
    pub groups: Vec<(&'a LoadBalancer, &'a TargetGroup)>,
}

impl<'a> LinkPath<'a> {
    pub fn new(topology: &'a Topology<'a>, link: &'a VpcLink) -> Self {
        let uses = topology.uses(&link.id);
        let targets = topology.link_load_balancers(&link.id);
        let called = called_ports(topology, link, &uses);
        let missing = missing_listeners(topology, &uses);
        // No port called at all: every listener may be, unless the
        // integrations name listeners that are gone (then none is used).
        let all = called.is_empty() && missing.is_empty();
        let used = used_listeners(topology, targets, &called, all);
        let groups = used_target_groups(topology, &used);
        Self {
            topology,
            inventory: topology.inventory,
            link,
            uses,
            targets,
            called,
            missing,
            used,
            groups,
        }
    }

    pub fn balancer(&self, arn: &str) -> Option<&'a LoadBalancer> {
        self.topology.load_balancer(arn)
    }

    pub fn is_missing(&self, arn: &str) -> bool {
        self.topology.is_missing(arn)
    }

    pub fn nlb_targets(&self) -> impl Iterator<Item = &String> {
        self.targets
            .iter()
            .filter(|arn| self.balancer(arn).is_some())
    }
}

/// The (load balancer, port) pairs the integrations call, with a stage that calls each.
fn called_ports(
    topology: &Topology,
    link: &VpcLink,
    uses: &[&ResolvedIntegration],
) -> BTreeMap<(String, u16), String> {
    let mut out = BTreeMap::new();
    for u in uses {
        let lbs = topology.called_load_balancers(link, u);
        if let Some(port) = topology.port(u).map(|p| p.port) {
            for lb in lbs {
                out.entry((lb, port))
                    .or_insert_with(|| format!("{} of API {}", u.stage, u.api_id));
            }
        }
    }
    out
}

/// Listeners that integrations name (HTTP APIs name a listener ARN) and
/// their load balancer, which exists, does not have: the stage that names
/// each. Such an integration calls no port at all.
fn missing_listeners(
    topology: &Topology,
    uses: &[&ResolvedIntegration],
) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for u in uses {
        if u.port.is_some() || !u.target.contains(":listener/") {
            continue;
        }
        let Some(lb) = load_balancer_arn(&u.target) else {
            continue;
        };
        // Listeners that could not be read are unknown, not missing.
        let read = topology
            .load_balancer(&lb)
            .is_some_and(|b| b.listeners_unread.is_none());
        if read && topology.listener(&u.target).is_none() {
            out.entry(u.target.clone())
                .or_insert_with(|| (lb, format!("{} of API {}", u.stage, u.api_id)));
        }
    }
    out
}

/// The listeners the integrations call, with their load balancers: every
/// listener of a target load balancer when `all`.
fn used_listeners<'a>(
    topology: &Topology<'a>,
    targets: &[String],
    called: &BTreeMap<(String, u16), String>,
    all: bool,
) -> Vec<(&'a LoadBalancer, &'a Listener)> {
    let mut out = Vec::new();
    for arn in targets {
        let Some(balancer) = topology.load_balancer(arn) else {
            continue;
        };
        out.extend(
            balancer
                .listeners
                .iter()
                .filter(|l| all || called.contains_key(&(arn.clone(), l.port)))
                .map(|l| (balancer, l)),
        );
    }
    out
}

/// The target groups behind the used listeners, each once, with the load balancer in front.
fn used_target_groups<'a>(
    topology: &Topology<'a>,
    used: &[(&'a LoadBalancer, &'a Listener)],
) -> Vec<(&'a LoadBalancer, &'a TargetGroup)> {
    let mut out: Vec<(&LoadBalancer, &TargetGroup)> = Vec::new();
    for &(balancer, listener) in used {
        for arn in &listener.target_group_arns {
            let Some(group) = topology.target_group(arn) else {
                continue;
            };
            if !out.iter().any(|(_, g)| g.arn == group.arn) {
                out.push((balancer, group));
            }
        }
    }
    out.sort_by(|a, b| a.1.arn.cmp(&b.1.arn));
    out
}
