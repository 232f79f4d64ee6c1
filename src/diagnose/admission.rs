//! `security_groups_admit` and `network_acls_admit`: the hops of a link's
//! path that security groups and network ACLs must let through.
//!
//! The hops, and who opens the connection on each:
//! - V2 links: the link's ENIs (its subnets and security groups) connect to
//!   the load balancer's listener port;
//! - every link: the load balancer connects to each target on the target
//!   port. Targets see the load balancer's addresses (its subnets), except
//!   behind an NLB of a V2 link with client IP preservation, where they see
//!   the link's: either source is accepted there.
//!
//! V1 links reach their NLB through PrivateLink from API Gateway's own
//! network: no subnet or security group of yours is on that hop except the
//! NLB's when "enforce inbound rules on PrivateLink traffic" is on, which
//! `privatelink_inbound_rules` checks.
//!
//! A hop whose facts are missing (no network-rules data yet, a target
//! without a known interface, a subnet not described) is left out, never
//! guessed.

use std::collections::BTreeMap;

use super::rules::{self, AclBlock, Cidr, EPHEMERAL_PORTS, End, Peer};
use super::{Check, LinkPath, failed, passed};
use crate::inventory::{
    ApiType, LoadBalancer, NetworkAcl, NetworkRules, SecurityGroup, Subnet, TargetGroup,
};

/// One end of a hop.
struct Side<'a> {
    /// What it is, for causes: "the VPC link's ENIs", "load balancer orders-nlb", "target i-0abc".
    what: String,
    security_groups: &'a [String],
    subnets: Vec<&'a Subnet>,
    /// The addresses it sends from: its subnets' (first) CIDRs, or a target's own addresses.
    cidrs: Vec<Cidr>,
}

impl Side<'_> {
    fn peer(&self) -> Peer {
        Peer {
            cidrs: self.cidrs.clone(),
            security_groups: self.security_groups.to_vec(),
        }
    }

    /// How a rule would name it: its security groups, else its addresses.
    fn as_source(&self) -> String {
        if self.security_groups.is_empty() {
            join(self.cidrs.iter().map(ToString::to_string))
        } else {
            format!("security group {}", self.security_groups.join(", "))
        }
    }
}

/// A connection the path needs: from `client` to `server` on `port`.
struct Hop<'a> {
    client: Side<'a>,
    server: Side<'a>,
    /// Another source the server may see instead (V2 NLB client IP preservation).
    preserved_client: Option<Side<'a>>,
    port: u16,
    /// The label naming the hop beside the rule set: `load_balancer` or `target_group`.
    via: (&'static str, String),
}

fn join(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

/// Checks keyed by their object; a failure found for an object wins over a pass.
#[derive(Default)]
struct Verdicts(BTreeMap<BTreeMap<&'static str, String>, Option<(String, String)>>);

impl Verdicts {
    fn record(
        &mut self,
        object: BTreeMap<&'static str, String>,
        failure: Option<(String, String)>,
    ) {
        let entry = self.0.entry(object).or_insert(None);
        if entry.is_none() {
            *entry = failure;
        }
    }

    fn into_checks(self, check: &'static str) -> Vec<Check> {
        self.0
            .into_iter()
            .map(|(object, failure)| match failure {
                None => passed(check, object),
                Some((cause, fix)) => failed(check, object, cause, fix),
            })
            .collect()
    }
}

impl<'a> LinkPath<'a> {
    fn network(&self) -> Option<&'a NetworkRules> {
        self.inventory.network_rules.as_ref()
    }

    fn subnet(&self, id: &str) -> Option<&'a Subnet> {
        self.network()?.subnets.iter().find(|s| s.id == id)
    }

    fn subnet_side(&self, what: String, groups: &'a [String], subnet_ids: &[String]) -> Side<'a> {
        let subnets: Vec<&Subnet> = subnet_ids.iter().filter_map(|id| self.subnet(id)).collect();
        let cidrs = subnets
            .iter()
            .filter_map(|s| s.cidrs.first().and_then(|c| Cidr::parse(c)))
            .collect();
        Side {
            what,
            security_groups: groups,
            subnets,
            cidrs,
        }
    }

    fn balancer_side(&self, lb: &'a LoadBalancer) -> Side<'a> {
        self.subnet_side(
            format!("load balancer {}", lb.name),
            &lb.security_group_ids,
            &lb.subnet_ids,
        )
    }

    fn link_side(&self) -> Side<'a> {
        self.subnet_side(
            "the VPC link's ENIs".to_owned(),
            &self.link.security_group_ids,
            &self.link.subnet_ids,
        )
    }

    /// The targets of a group whose network interface is known, as servers.
    fn target_sides(&self, group: &'a TargetGroup) -> Vec<(Side<'a>, u16)> {
        let Some(net) = self.network() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for target in &group.targets {
            let Some(port) = target.port.or(group.port) else {
                continue;
            };
            let eni = net
                .interfaces
                .iter()
                .find(|i| match group.target_type.as_str() {
                    "instance" => i.instance_id.as_deref() == Some(target.id.as_str()),
                    "ip" => i.private_ips.contains(&target.id),
                    _ => false,
                });
            let Some(eni) = eni else { continue };
            let addresses: Vec<&String> = if group.target_type == "ip" {
                vec![&target.id]
            } else {
                eni.private_ips.iter().collect()
            };
            out.push((
                Side {
                    what: format!("target {}", target.id),
                    security_groups: &eni.security_group_ids,
                    subnets: self.subnet(&eni.subnet_id).into_iter().collect(),
                    cidrs: addresses.iter().filter_map(|a| Cidr::parse(a)).collect(),
                },
                port,
            ));
        }
        out
    }

    /// Every connection the path needs, in path order.
    fn hops(&self) -> Vec<Hop<'a>> {
        let mut hops = Vec::new();
        let v2 = self.link.api_type == ApiType::Http;
        if v2 {
            for (lb, listener) in self.used_listeners() {
                hops.push(Hop {
                    client: self.link_side(),
                    server: self.balancer_side(lb),
                    preserved_client: None,
                    port: listener.port,
                    via: ("load_balancer", lb.arn.clone()),
                });
            }
        }
        for (lb, group) in self.used_target_groups() {
            for (target, port) in self.target_sides(group) {
                hops.push(Hop {
                    client: self.balancer_side(lb),
                    server: target,
                    preserved_client: (v2 && lb.lb_type == "network").then(|| self.link_side()),
                    port,
                    via: ("target_group", group.arn.clone()),
                });
            }
        }
        hops
    }

    fn groups(&self, ids: &[String]) -> Vec<&'a SecurityGroup> {
        self.network()
            .map(|n| {
                n.security_groups
                    .iter()
                    .filter(|g| ids.contains(&g.id))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `security_groups_admit`: on every hop, the client's groups let the
    /// connection out and the server's let it in.
    pub(super) fn security_groups_admit(&self) -> Vec<Check> {
        let Some(net) = self.network() else {
            return Vec::new();
        };
        let lists = &net.prefix_lists;
        let mut verdicts = Verdicts::default();
        for hop in self.hops() {
            let object = |groups: &[String], direction: &str| {
                BTreeMap::from([
                    ("security_group", groups.join(",")),
                    ("direction", direction.to_owned()),
                    (hop.via.0, hop.via.1.clone()),
                    ("port", hop.port.to_string()),
                ])
            };
            // Out of the client. No groups (an NLB without any): nothing to stop it.
            let client_groups = self.groups(hop.client.security_groups);
            if !client_groups.is_empty() {
                let ok = rules::security_groups_admit(
                    &client_groups,
                    true,
                    hop.port,
                    &hop.server.peer(),
                    lists,
                );
                let failure = (!ok).then(|| {
                    let groups = hop.client.security_groups.join(", ");
                    (
                        format!(
                            "Security group {groups} of {} allows no outbound TCP {} to {} ({}).",
                            hop.client.what,
                            hop.port,
                            hop.server.what,
                            hop.server.as_source()
                        ),
                        format!(
                            "Add an outbound rule to {groups} for TCP {} with {} as the destination.",
                            hop.port,
                            hop.server.as_source()
                        ),
                    )
                });
                verdicts.record(object(hop.client.security_groups, "egress"), failure);
            }
            // Into the server.
            let server_groups = self.groups(hop.server.security_groups);
            if !server_groups.is_empty() {
                let admits = |client: &Side| {
                    rules::security_groups_admit(
                        &server_groups,
                        false,
                        hop.port,
                        &client.peer(),
                        lists,
                    )
                };
                let ok = admits(&hop.client) || hop.preserved_client.as_ref().is_some_and(admits);
                let failure = (!ok).then(|| {
                    let groups = hop.server.security_groups.join(", ");
                    (
                        format!(
                            "Security group {groups} of {} admits no TCP {} from {} ({}).",
                            hop.server.what,
                            hop.port,
                            hop.client.what,
                            hop.client.as_source()
                        ),
                        format!(
                            "Add an inbound rule to {groups} for TCP {} with {} as the source.",
                            hop.port,
                            hop.client.as_source()
                        ),
                    )
                });
                verdicts.record(object(hop.server.security_groups, "ingress"), failure);
            }
        }
        verdicts.into_checks("security_groups_admit")
    }

    fn acl_of(&self, subnet: &str) -> Option<&'a NetworkAcl> {
        self.network()?
            .network_acls
            .iter()
            .find(|a| a.subnet_ids.iter().any(|s| s == subnet))
    }

    /// `network_acls_admit`: on every hop that crosses subnets, the ACLs of
    /// both subnets let the connection through both ways.
    pub(super) fn network_acls_admit(&self) -> Vec<Check> {
        if self.network().is_none() {
            return Vec::new();
        }
        let mut verdicts = Verdicts::default();
        for hop in self.hops() {
            for client_subnet in &hop.client.subnets {
                let Some(client_cidr) = client_subnet.cidrs.first().and_then(|c| Cidr::parse(c))
                else {
                    continue;
                };
                for server_subnet in &hop.server.subnets {
                    // Traffic inside one subnet never meets its ACL.
                    if client_subnet.id == server_subnet.id {
                        continue;
                    }
                    let client_acl = self.acl_of(&client_subnet.id);
                    let server_acl = self.acl_of(&server_subnet.id);
                    // The client's ACL, toward each of the server's addresses.
                    if let Some(acl) = client_acl {
                        let blocked = hop.server.cidrs.iter().find_map(|peer| {
                            rules::network_acl_admits_flow(acl, End::Client, hop.port, peer)
                                .err()
                                .map(|b| (b, *peer))
                        });
                        let failure = blocked.map(|(block, peer)| {
                            acl_failure(
                                acl,
                                client_subnet,
                                &hop.client.what,
                                &block,
                                &peer,
                                &hop.server.what,
                            )
                        });
                        verdicts.record(acl_object(acl, &hop), failure);
                    }
                    // The server's ACL, from the client's subnet (or the preserved client's).
                    if let Some(acl) = server_acl {
                        let decide = |cidr: &Cidr| {
                            rules::network_acl_admits_flow(acl, End::Server, hop.port, cidr)
                        };
                        let preserved_ok = hop.preserved_client.as_ref().is_some_and(|p| {
                            !p.cidrs.is_empty() && p.cidrs.iter().all(|c| decide(c).is_ok())
                        });
                        let failure = match decide(&client_cidr) {
                            Err(block) if !preserved_ok => Some(acl_failure(
                                acl,
                                server_subnet,
                                &hop.server.what,
                                &block,
                                &client_cidr,
                                &format!("{} in {}", hop.client.what, client_subnet.id),
                            )),
                            _ => None,
                        };
                        verdicts.record(acl_object(acl, &hop), failure);
                    }
                }
            }
        }
        verdicts.into_checks("network_acls_admit")
    }
}

fn acl_object(acl: &NetworkAcl, hop: &Hop) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("network_acl", acl.id.clone()),
        (hop.via.0, hop.via.1.clone()),
        ("port", hop.port.to_string()),
    ])
}

/// The cause and fix of a blocked hop: which ACL, which direction and ports, which peer.
fn acl_failure(
    acl: &NetworkAcl,
    subnet: &Subnet,
    what: &str,
    block: &AclBlock,
    peer: &Cidr,
    peer_what: &str,
) -> (String, String) {
    let (toward, action) = if block.egress {
        ("to", "outbound")
    } else {
        ("from", "inbound")
    };
    let ports = if block.ports.0 == block.ports.1 {
        block.ports.0.to_string()
    } else {
        format!("{}-{}", block.ports.0, block.ports.1)
    };
    let placement = match block.rule_number {
        Some(n) => format!("numbered below {n} (or remove that deny)"),
        None => "(nothing allows it now: the default deny applies)".to_owned(),
    };
    (
        format!(
            "Network ACL {} of subnet {} ({what}): {block} {toward} {peer} ({peer_what}).",
            acl.id, subnet.id
        ),
        format!(
            "Add an allow entry to {} {placement} for {action} TCP {ports} {toward} {peer}. Network ACLs are stateless: requests and their answers (ports {}-{}) each need an allow.",
            acl.id, EPHEMERAL_PORTS.0, EPHEMERAL_PORTS.1
        ),
    )
}
