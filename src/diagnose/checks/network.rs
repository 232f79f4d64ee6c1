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

use super::super::finding::{Check, Place, failed, passed, unknown};
use super::super::object::Object;
use super::super::rules::{self, AclBlock, Cidr, EPHEMERAL_PORTS, End, Peer};
use crate::inventory::{
    ApiType, LoadBalancer, NetworkAcl, NetworkRules, SecurityGroup, Subnet, TargetGroup,
};
use crate::topology::LinkPath;

/// One end of a hop.
#[derive(Clone)]
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
    /// What the port carries, for causes: empty for requests, " (health checks)".
    purpose: &'static str,
    /// The label naming the hop beside the rule set: `load_balancer` or `target_group`.
    via: (&'static str, String),
    /// That hop of the path, where the finding shows.
    place: Place,
}

fn join(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(", ")
}

/// What was found for one object: a failure wins over a rule set that
/// could not be read, which wins over a pass; the first of a rank stays.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Passed,
    /// A rule set the hop needs was not in the answer: why.
    Unread(String),
    /// Cause and fix.
    Failed(String, String),
}

impl Outcome {
    fn rank(&self) -> u8 {
        match self {
            Outcome::Passed => 0,
            Outcome::Unread(_) => 1,
            Outcome::Failed(..) => 2,
        }
    }
}

impl From<Option<(String, String)>> for Outcome {
    fn from(failure: Option<(String, String)>) -> Self {
        match failure {
            None => Outcome::Passed,
            Some((cause, fix)) => Outcome::Failed(cause, fix),
        }
    }
}

/// Checks keyed by their object, each on its hop with its worst outcome.
#[derive(Default)]
struct Verdicts(BTreeMap<Object, (Place, Outcome)>);

impl Verdicts {
    fn record(&mut self, object: Object, place: &Place, outcome: impl Into<Outcome>) {
        let outcome = outcome.into();
        let entry = self
            .0
            .entry(object)
            .or_insert((place.clone(), Outcome::Passed));
        if outcome.rank() > entry.1.rank() {
            entry.1 = outcome;
        }
    }

    fn into_checks(self, check: &'static str) -> Vec<Check> {
        self.0
            .into_iter()
            .map(|(object, (place, outcome))| match outcome {
                Outcome::Passed => passed(check, object, place),
                Outcome::Failed(cause, fix) => failed(check, object, place, cause, fix),
                Outcome::Unread(why) => unknown(check, object, place, "network_rules", &why),
            })
            .collect()
    }
}

/// The named security groups the answer lacks (never guessed open).
fn unread<'g>(named: &'g [String], found: &[&SecurityGroup]) -> Vec<&'g str> {
    named
        .iter()
        .filter(|id| !found.iter().any(|g| &&g.id == id))
        .map(String::as_str)
        .collect()
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

    /// The targets of a group whose network interface is known, as servers,
    /// with each port the load balancer connects to: the traffic port, and
    /// the health-check port where the group sets another one.
    fn target_sides(&self, group: &'a TargetGroup) -> Vec<(Side<'a>, u16, &'static str)> {
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
            let side = Side {
                what: format!("target {}", target.id),
                security_groups: &eni.security_group_ids,
                subnets: self.subnet(&eni.subnet_id).into_iter().collect(),
                cidrs: addresses.iter().filter_map(|a| Cidr::parse(a)).collect(),
            };
            if let Some(health) = group.health_check_port.filter(|p| *p != port) {
                out.push((side.clone(), health, " (health checks)"));
            }
            out.push((side, port, ""));
        }
        out
    }

    /// Every connection the path needs, in path order.
    fn connections(&self) -> Vec<Hop<'a>> {
        let mut hops = Vec::new();
        let v2 = self.link.api_type == ApiType::Http;
        if v2 {
            for (lb, listener) in self.used.iter().copied() {
                hops.push(Hop {
                    client: self.link_side(),
                    server: self.balancer_side(lb),
                    preserved_client: None,
                    port: listener.port,
                    purpose: "",
                    via: ("load_balancer", lb.arn.clone()),
                    place: Place::LoadBalancer(lb.arn.clone()),
                });
            }
        }
        for (lb, group) in self.groups.iter().copied() {
            for (target, port, purpose) in self.target_sides(group) {
                hops.push(Hop {
                    client: self.balancer_side(lb),
                    server: target,
                    preserved_client: (v2 && lb.lb_type == "network").then(|| self.link_side()),
                    port,
                    purpose,
                    via: ("target_group", group.arn.clone()),
                    place: Place::TargetGroup(group.arn.clone()),
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
    pub(in crate::diagnose) fn security_groups_admit(&self) -> Vec<Check> {
        let Some(net) = self.network() else {
            return Vec::new();
        };
        let lists = &net.prefix_lists;
        let mut verdicts = Verdicts::default();
        for hop in self.connections() {
            let object = |groups: &[String], direction: &str| {
                Object::from([
                    ("security_group", groups.join(",")),
                    ("direction", direction.to_owned()),
                    (hop.via.0, hop.via.1.clone()),
                    ("port", hop.port.to_string()),
                ])
            };
            // Out of the client. No groups (an NLB without any): nothing to stop it.
            let client_groups = self.groups(hop.client.security_groups);
            let missing = unread(hop.client.security_groups, &client_groups);
            if !missing.is_empty() {
                verdicts.record(
                    object(hop.client.security_groups, "egress"),
                    &hop.place,
                    Outcome::Unread(format!(
                        "security group {} of {} was not in EC2's answer",
                        missing.join(", "),
                        hop.client.what
                    )),
                );
            } else if !client_groups.is_empty() {
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
                            "Security group {groups} of {} allows no outbound TCP {}{} to {} ({}).",
                            hop.client.what,
                            hop.port,
                            hop.purpose,
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
                verdicts.record(
                    object(hop.client.security_groups, "egress"),
                    &hop.place,
                    failure,
                );
            }
            // Into the server.
            let server_groups = self.groups(hop.server.security_groups);
            let missing = unread(hop.server.security_groups, &server_groups);
            if !missing.is_empty() {
                verdicts.record(
                    object(hop.server.security_groups, "ingress"),
                    &hop.place,
                    Outcome::Unread(format!(
                        "security group {} of {} was not in EC2's answer",
                        missing.join(", "),
                        hop.server.what
                    )),
                );
            } else if !server_groups.is_empty() {
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
                            "Security group {groups} of {} admits no TCP {}{} from {} ({}).",
                            hop.server.what,
                            hop.port,
                            hop.purpose,
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
                verdicts.record(
                    object(hop.server.security_groups, "ingress"),
                    &hop.place,
                    failure,
                );
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
    pub(in crate::diagnose) fn network_acls_admit(&self) -> Vec<Check> {
        if self.network().is_none() {
            return Vec::new();
        }
        let mut verdicts = Verdicts::default();
        for hop in self.connections() {
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
                    // Every subnet has an ACL (its VPC's default at least):
                    // one not in the answer is not known, never open.
                    for (subnet, acl) in [(client_subnet, client_acl), (server_subnet, server_acl)]
                    {
                        if acl.is_none() {
                            verdicts.record(
                                Object::from([
                                    ("subnet", subnet.id.clone()),
                                    (hop.via.0, hop.via.1.clone()),
                                    ("port", hop.port.to_string()),
                                ]),
                                &hop.place,
                                Outcome::Unread(format!(
                                    "the network ACL of subnet {} was not in EC2's answer",
                                    subnet.id
                                )),
                            );
                        }
                    }
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
                        verdicts.record(acl_object(acl, &hop), &hop.place, failure);
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
                        verdicts.record(acl_object(acl, &hop), &hop.place, failure);
                    }
                }
            }
        }
        verdicts.into_checks("network_acls_admit")
    }
}

fn acl_object(acl: &NetworkAcl, hop: &Hop) -> Object {
    Object::from([
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
    // An entry AWS sent without a field it needs was read as a deny of
    // everything: say so, rather than send anyone after a deny that may not be.
    let unreadable = block.rule_number.and_then(|n| {
        acl.entries
            .iter()
            .find(|e| e.rule_number == n && e.egress == block.egress)
            .and_then(|e| e.unreadable)
    });
    if let (Some(n), Some(why)) = (block.rule_number, unreadable) {
        return (
            format!(
                "Network ACL {} of subnet {} ({what}): an entry (number {n}) came from AWS without a field it needs ({why}), so it is read as a deny of everything; it may stop {action} TCP {ports} {toward} {peer} ({peer_what}).",
                acl.id, subnet.id
            ),
            format!(
                "Look at the entry in the VPC console (or `aws ec2 describe-network-acls --network-acl-ids {}`): if it allows this traffic the path may be fine; `awsconn_aws_incomplete_items_total` counts such answers.",
                acl.id
            ),
        );
    }
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

#[cfg(test)]
mod tests {
    use crate::diagnose::LinkReport;
    use crate::inventory::{ApiType, Inventory, SecurityGroup};
    use crate::testkit::{ALB, TG, acl_entry, tcp, v2_path, view_one};

    fn diagnose_one(inventory: &Inventory) -> LinkReport {
        view_one(inventory).report
    }

    /// `(check, object as k=v pairs, ok)` of the admission checks.
    fn admission(report: &LinkReport) -> Vec<(&'static str, String, bool)> {
        report
            .checks
            .iter()
            .filter(|c| c.check == "security_groups_admit" || c.check == "network_acls_admit")
            .map(|c| {
                let object: Vec<String> =
                    c.object.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (c.check, object.join(" "), c.ok)
            })
            .collect()
    }

    fn failures(report: &LinkReport) -> Vec<&super::Check> {
        report.checks.iter().filter(|c| !c.ok).collect()
    }

    #[test]
    fn an_open_v2_path_passes_every_hop() {
        let report = diagnose_one(&v2_path());
        assert!(report.healthy, "{report:#?}");
        let lb = format!("load_balancer={ALB}");
        let tg = format!("target_group={TG}");
        assert_eq!(
            admission(&report),
            [
                (
                    "security_groups_admit",
                    format!("direction=egress {lb} port=443 security_group=sg-link"),
                    true
                ),
                (
                    "security_groups_admit",
                    format!("direction=egress port=8080 security_group=sg-lb {tg}"),
                    true
                ),
                (
                    "security_groups_admit",
                    format!("direction=ingress {lb} port=443 security_group=sg-lb"),
                    true
                ),
                (
                    "security_groups_admit",
                    format!("direction=ingress port=8080 security_group=sg-target {tg}"),
                    true
                ),
                (
                    "network_acls_admit",
                    format!("{lb} network_acl=acl-lb port=443"),
                    true
                ),
                (
                    "network_acls_admit",
                    format!("{lb} network_acl=acl-link port=443"),
                    true
                ),
                (
                    "network_acls_admit",
                    format!("network_acl=acl-lb port=8080 {tg}"),
                    true
                ),
                (
                    "network_acls_admit",
                    format!("network_acl=acl-target port=8080 {tg}"),
                    true
                ),
            ]
        );
    }

    fn groups_mut(inventory: &mut Inventory) -> &mut Vec<SecurityGroup> {
        &mut inventory.network_rules.as_mut().unwrap().security_groups
    }

    /// A security group or an ACL the answer lacks (its id missing, say)
    /// is not known, never open: the hop it guards is unknown, the link
    /// not healthy.
    #[test]
    fn rule_sets_missing_from_the_answer_are_unknown_never_open() {
        let mut inventory = v2_path();
        groups_mut(&mut inventory).retain(|g| g.id != "sg-target");
        inventory
            .network_rules
            .as_mut()
            .unwrap()
            .network_acls
            .retain(|a| a.id != "acl-lb");
        let report = diagnose_one(&inventory);
        assert!(!report.healthy);
        let unknown: Vec<(&str, String)> = report
            .checks
            .iter()
            .filter(|c| c.unknown.is_some())
            .map(|c| (c.check, c.cause.clone().unwrap()))
            .collect();
        assert!(
            unknown
                .iter()
                .any(|(check, cause)| *check == "security_groups_admit"
                    && cause.contains(
                        "security group sg-target of target 10.0.3.10 was not in EC2's answer"
                    )),
            "{unknown:#?}"
        );
        assert!(
            unknown
                .iter()
                .any(|(check, cause)| *check == "network_acls_admit"
                    && cause.contains("subnet-lb was not in EC2's answer")),
            "{unknown:#?}"
        );
        assert!(
            report.checks.iter().all(|c| c.ok || c.unknown.is_some()),
            "nothing the answer had fails: {report:#?}"
        );
    }

    #[test]
    fn a_target_group_without_the_target_port_fails_alone() {
        let mut inventory = v2_path();
        groups_mut(&mut inventory)[2].ingress = vec![tcp(9090, &[], &["sg-lb"])];
        let report = diagnose_one(&inventory);
        let failed = failures(&report);
        assert_eq!(failed.len(), 1, "{failed:#?}");
        let check = failed[0];
        assert_eq!(check.check, "security_groups_admit");
        assert_eq!(check.object["security_group"], "sg-target");
        assert_eq!(check.object["direction"], "ingress");
        assert_eq!(check.object["target_group"], TG);
        assert_eq!(check.object["port"], "8080");
        assert_eq!(
            check.cause.as_deref().unwrap(),
            "Security group sg-target of target 10.0.3.10 admits no TCP 8080 from load balancer web (security group sg-lb)."
        );
        assert!(
            check
                .fix
                .as_deref()
                .unwrap()
                .contains("inbound rule to sg-target for TCP 8080")
        );
    }

    #[test]
    fn a_load_balancer_group_that_ignores_the_link_fails() {
        let mut inventory = v2_path();
        // Admits 443 from elsewhere only; the link's subnet 10.0.1.0/24 is outside.
        groups_mut(&mut inventory)[1].ingress = vec![tcp(443, &["10.9.0.0/16"], &[])];
        let report = diagnose_one(&inventory);
        let failed = failures(&report);
        assert_eq!(failed.len(), 1, "{failed:#?}");
        assert_eq!(failed[0].object["security_group"], "sg-lb");
        assert_eq!(failed[0].object["load_balancer"], ALB);
        assert!(
            failed[0]
                .cause
                .as_deref()
                .unwrap()
                .contains("from the VPC link's ENIs")
        );

        // ...while the link's subnet CIDR as the source is as good as its group.
        groups_mut(&mut inventory)[1].ingress = vec![tcp(443, &["10.0.0.0/16"], &[])];
        assert!(diagnose_one(&inventory).healthy);
    }

    #[test]
    fn a_link_group_without_egress_fails_on_the_link() {
        let mut inventory = v2_path();
        groups_mut(&mut inventory)[0].egress = vec![tcp(80, &["0.0.0.0/0"], &[])];
        let report = diagnose_one(&inventory);
        let failed = failures(&report);
        assert_eq!(failed.len(), 1, "{failed:#?}");
        assert_eq!(failed[0].object["direction"], "egress");
        assert_eq!(failed[0].object["security_group"], "sg-link");
        assert!(
            failed[0]
                .cause
                .as_deref()
                .unwrap()
                .contains("allows no outbound TCP 443 to load balancer web")
        );
    }

    #[test]
    fn a_nacl_deny_on_the_target_subnet_names_the_rule() {
        let mut inventory = v2_path();
        let acls = &mut inventory.network_rules.as_mut().unwrap().network_acls;
        acls[2].entries.push(acl_entry(
            50,
            false,
            false,
            "10.0.2.0/24",
            Some((8000, 8100)),
        ));
        let report = diagnose_one(&inventory);
        let failed = failures(&report);
        assert_eq!(failed.len(), 1, "{failed:#?}");
        let check = failed[0];
        assert_eq!(check.check, "network_acls_admit");
        assert_eq!(check.object["network_acl"], "acl-target");
        assert_eq!(check.object["port"], "8080");
        assert_eq!(
            check.cause.as_deref().unwrap(),
            "Network ACL acl-target of subnet subnet-target (target 10.0.3.10): rule 50 denies inbound TCP 8080 from 10.0.2.0/24 (load balancer web in subnet-lb)."
        );
        assert!(check.fix.as_deref().unwrap().contains("numbered below 50"));
    }

    #[test]
    fn a_nacl_without_return_ports_fails_on_the_client_side() {
        let mut inventory = v2_path();
        let acls = &mut inventory.network_rules.as_mut().unwrap().network_acls;
        // The link's subnet lets requests out but answers only back on 443.
        acls[0].entries = vec![
            acl_entry(100, true, true, "0.0.0.0/0", None),
            acl_entry(100, false, true, "0.0.0.0/0", Some((443, 443))),
        ];
        let report = diagnose_one(&inventory);
        let failed = failures(&report);
        assert_eq!(failed.len(), 1, "{failed:#?}");
        assert_eq!(failed[0].object["network_acl"], "acl-link");
        assert!(
            failed[0]
                .cause
                .as_deref()
                .unwrap()
                .contains("no rule allows inbound TCP 1024-65535 from 10.0.2.0/24"),
            "{failed:#?}"
        );
    }

    #[test]
    fn traffic_inside_one_subnet_skips_its_acl() {
        let mut inventory = v2_path();
        let net = inventory.network_rules.as_mut().unwrap();
        net.interfaces[0].subnet_id = "subnet-lb".into();
        net.network_acls[1].entries.clear(); // would deny everything
        net.network_acls[0].entries.clear();
        let link = inventory.vpc_links.as_mut().unwrap();
        link[0].subnet_ids = vec!["subnet-lb".into()];
        let report = diagnose_one(&inventory);
        assert!(
            report
                .checks
                .iter()
                .all(|c| c.check != "network_acls_admit"),
            "{report:#?}"
        );
        assert!(report.healthy);
    }

    #[test]
    fn v1_links_check_only_the_load_balancer_to_targets() {
        let mut inventory = v2_path();
        let link = &mut inventory.vpc_links.as_mut().unwrap()[0];
        link.api_type = ApiType::Rest;
        link.target_arns = vec![ALB.into()];
        link.subnet_ids.clear();
        link.security_group_ids.clear();
        let api = &mut inventory.apis.as_mut().unwrap()[0];
        api.api_type = ApiType::Rest;
        api.integrations[0].uri = "https://web.internal:443/".into();
        let report = diagnose_one(&inventory);
        let objects: Vec<String> = admission(&report).into_iter().map(|(_, o, _)| o).collect();
        assert!(
            objects.iter().all(|o| o.contains("target_group=")),
            "{objects:#?}"
        );
        assert_eq!(objects.len(), 4, "{objects:#?}");
    }

    #[test]
    fn an_nlb_of_a_v2_link_may_pass_the_link_address_through() {
        let mut inventory = v2_path();
        let lb = &mut inventory.load_balancing.as_mut().unwrap().load_balancers[0];
        lb.lb_type = "network".into();
        lb.security_group_ids.clear();
        // Client IP preservation: the target sees the link's subnet.
        groups_mut(&mut inventory)[2].ingress = vec![tcp(8080, &["10.0.1.0/24"], &[])];
        let report = diagnose_one(&inventory);
        assert!(report.healthy, "{report:#?}");
        // Neither the link's nor the NLB's addresses: fails.
        groups_mut(&mut inventory)[2].ingress = vec![tcp(8080, &["10.0.7.0/24"], &[])];
        let report = diagnose_one(&inventory);
        let failed = failures(&report);
        assert_eq!(failed.len(), 1, "{failed:#?}");
        assert!(
            failed[0]
                .cause
                .as_deref()
                .unwrap()
                .contains("from load balancer web (10.0.2.0/24)")
        );
    }

    #[test]
    fn no_network_facts_no_admission_checks() {
        let mut inventory = v2_path();
        inventory.network_rules = None;
        assert!(admission(&diagnose_one(&inventory)).is_empty());
        // A target whose interface is unknown is left out, not failed.
        let mut inventory = v2_path();
        inventory.network_rules.as_mut().unwrap().interfaces.clear();
        let report = diagnose_one(&inventory);
        assert!(report.healthy);
        assert!(
            admission(&report)
                .iter()
                .all(|(_, o, _)| !o.contains("target_group"))
        );
    }

    #[test]
    fn idle_time_of_v2_links_from_cloudwatch() {
        use crate::inventory::LinkActivity;
        let mut inventory = v2_path();
        assert_eq!(diagnose_one(&inventory).idle_seconds, None, "not looked up");
        let mut activity = LinkActivity {
            checked_at: 0,
            window_s: 60 * 86_400,
            last_request: [("v2link".to_owned(), None)].into(),
        };
        inventory.link_activity = Some(activity.clone());
        assert_eq!(
            diagnose_one(&inventory).idle_seconds,
            Some(60 * 86_400),
            "none in the window: at least the window"
        );
        activity
            .last_request
            .insert("v2link".into(), Some(-10 * 86_400));
        inventory.link_activity = Some(activity);
        // Clock::default() is the epoch: ten days after that day began.
        let report = diagnose_one(&inventory);
        assert_eq!(report.idle_seconds, Some(10 * 86_400));
        assert!(report.healthy, "idle time alone fails no check");
        inventory.vpc_links.as_mut().unwrap()[0].api_type = ApiType::Rest;
        assert_eq!(
            diagnose_one(&inventory).idle_seconds,
            None,
            "V1 links do not idle out"
        );
    }

    #[test]
    fn targets_must_admit_the_health_check_port_too() {
        let mut inventory = v2_path();
        let group = &mut inventory.load_balancing.as_mut().unwrap().target_groups[0];
        group.health_check_port = Some(8080);
        assert!(
            diagnose_one(&inventory).healthy,
            "the traffic port: no extra hop"
        );
        let before = admission(&diagnose_one(&inventory)).len();

        let group = &mut inventory.load_balancing.as_mut().unwrap().target_groups[0];
        group.health_check_port = Some(8081);
        let report = diagnose_one(&inventory);
        let failed = failures(&report);
        assert_eq!(failed.len(), 1, "{failed:#?}");
        assert_eq!(failed[0].object["port"], "8081");
        assert_eq!(failed[0].object["direction"], "ingress");
        assert!(
            failed[0]
                .cause
                .as_deref()
                .unwrap()
                .contains("admits no TCP 8081 (health checks) from load balancer web"),
            "{failed:#?}"
        );
        // Egress of the load balancer and both ACLs on the new port: four more checks.
        assert_eq!(admission(&report).len(), before + 4);

        groups_mut(&mut inventory)[2]
            .ingress
            .push(tcp(8081, &[], &["sg-lb"]));
        assert!(diagnose_one(&inventory).healthy);
    }
}
