//! Security-group and network-ACL evaluation: does a rule set admit a TCP
//! flow on a port from a peer? Pure; the runbook checks ask it.
//!
//! Security groups are stateful allow-lists: one matching rule admits.
//! Network ACLs are stateless and ordered: the lowest-numbered matching
//! entry decides (a deny before an allow wins), nothing matching denies, and
//! the return traffic must be admitted too, on the ephemeral ports. An entry
//! may cover only part of the addresses or ports asked about, so the ACL is
//! evaluated over the whole (address range × port range) rectangle: every
//! part of it must end at an allow.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::inventory::{NetworkAcl, SecurityGroup, SecurityGroupRule};

/// The ephemeral port range that return traffic uses (AWS's recommendation for NACLs).
pub const EPHEMERAL_PORTS: (u16, u16) = (1024, 65535);

/// An IPv4 or IPv6 network in CIDR form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u8>().ok()?),
            None => {
                let addr: IpAddr = text.parse().ok()?;
                (addr, if addr.is_ipv4() { 32 } else { 128 })
            }
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { addr, prefix })
    }

    fn bits(addr: IpAddr) -> (u128, u8) {
        match addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    /// The first and last address as integers, and the family's width (32 or 128).
    fn range(&self) -> (u128, u128, u8) {
        let (bits, width) = Self::bits(self.addr);
        let host_bits = u32::from(width - self.prefix);
        let host_mask = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        let first = bits & !host_mask;
        (first, first | host_mask, width)
    }

    /// True when every address of `other` is inside `self` (same family).
    pub fn contains(&self, other: &Cidr) -> bool {
        let (first, last, width) = self.range();
        let (other_first, other_last, other_width) = other.range();
        width == other_width && first <= other_first && other_last <= last
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Who sends (or receives) the traffic: its addresses and the security groups it carries.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    pub cidrs: Vec<Cidr>,
    pub security_groups: Vec<String>,
}

fn protocol_is_tcp(protocol: &str) -> bool {
    matches!(protocol, "-1" | "tcp" | "6" | "all")
}

fn port_in(ports: Option<(u16, u16)>, port: u16) -> bool {
    ports.is_none_or(|(from, to)| from <= port && port <= to)
}

/// The CIDRs a rule names, its prefix lists resolved.
fn rule_cidrs(rule: &SecurityGroupRule, prefix_lists: &BTreeMap<String, Vec<String>>) -> Vec<Cidr> {
    let listed = rule
        .prefix_list_ids
        .iter()
        .flat_map(|id| prefix_lists.get(id).into_iter().flatten());
    rule.ipv4_cidrs
        .iter()
        .chain(&rule.ipv6_cidrs)
        .chain(listed)
        .filter_map(|c| Cidr::parse(c))
        .collect()
}

/// Whether any of `groups` admits TCP `port` from `peer` (ingress) or to it
/// (`egress`): a rule on the port references one of the peer's security
/// groups, or each of the peer's addresses is inside a CIDR of some rule on
/// the port. A peer with neither is admitted by nothing.
pub fn security_groups_admit(
    groups: &[&SecurityGroup],
    egress: bool,
    port: u16,
    peer: &Peer,
    prefix_lists: &BTreeMap<String, Vec<String>>,
) -> bool {
    let rules: Vec<&SecurityGroupRule> = groups
        .iter()
        .flat_map(|g| if egress { &g.egress } else { &g.ingress })
        .filter(|r| protocol_is_tcp(&r.protocol) && port_in(r.ports, port))
        .collect();
    let by_group = rules.iter().any(|r| {
        peer.security_groups
            .iter()
            .any(|g| r.security_group_ids.contains(g))
    });
    if by_group {
        return true;
    }
    let cidrs: Vec<Cidr> = rules
        .iter()
        .flat_map(|r| rule_cidrs(r, prefix_lists))
        .collect();
    !peer.cidrs.is_empty()
        && peer
            .cidrs
            .iter()
            .all(|p| cidrs.iter().any(|c| c.contains(p)))
}

/// Why a network ACL stops (part of) some traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclBlock {
    pub egress: bool,
    /// The ports of the traffic that is stopped (inside the range asked about).
    pub ports: (u16, u16),
    /// The deny entry that matches first; `None` when no entry matches (the default deny).
    pub rule_number: Option<i32>,
}

impl fmt::Display for AclBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let direction = if self.egress { "outbound" } else { "inbound" };
        let ports = if self.ports.0 == self.ports.1 {
            self.ports.0.to_string()
        } else {
            format!("{}-{}", self.ports.0, self.ports.1)
        };
        match self.rule_number {
            Some(n) => write!(f, "rule {n} denies {direction} TCP {ports}"),
            None => write!(f, "no rule allows {direction} TCP {ports}"),
        }
    }
}

/// A part of the traffic not decided yet: addresses × ports, both inclusive.
#[derive(Debug, Clone, Copy)]
struct Region {
    addrs: (u128, u128),
    ports: (u16, u16),
}

fn overlap<T: Ord + Copy>(a: (T, T), b: (T, T)) -> Option<(T, T)> {
    let from = a.0.max(b.0);
    let to = a.1.min(b.1);
    (from <= to).then_some((from, to))
}

impl Region {
    /// `self` without `other`: up to four regions.
    fn minus(self, addrs: (u128, u128), ports: (u16, u16)) -> Vec<Region> {
        let (Some(a), Some(p)) = (overlap(self.addrs, addrs), overlap(self.ports, ports)) else {
            return vec![self];
        };
        let mut out = Vec::new();
        if self.addrs.0 < a.0 {
            out.push(Region {
                addrs: (self.addrs.0, a.0 - 1),
                ports: self.ports,
            });
        }
        if a.1 < self.addrs.1 {
            out.push(Region {
                addrs: (a.1 + 1, self.addrs.1),
                ports: self.ports,
            });
        }
        if self.ports.0 < p.0 {
            out.push(Region {
                addrs: a,
                ports: (self.ports.0, p.0 - 1),
            });
        }
        if p.1 < self.ports.1 {
            out.push(Region {
                addrs: a,
                ports: (p.1 + 1, self.ports.1),
            });
        }
        out
    }
}

/// The decision of one direction of a network ACL for TCP traffic on
/// `ports` to or from `peer`: `Ok` when every address and port of it meets
/// an allow before any deny, else the first part that is stopped.
pub fn network_acl_decides(
    acl: &NetworkAcl,
    egress: bool,
    ports: (u16, u16),
    peer: &Cidr,
) -> Result<(), AclBlock> {
    let (first, last, width) = peer.range();
    let mut open = vec![Region {
        addrs: (first, last),
        ports,
    }];
    let mut entries: Vec<_> = acl
        .entries
        .iter()
        .filter(|e| e.egress == egress && protocol_is_tcp(&e.protocol))
        .collect();
    entries.sort_by_key(|e| e.rule_number);
    for entry in entries {
        let Some((entry_first, entry_last, entry_width)) = entry
            .ipv4_cidr
            .as_deref()
            .or(entry.ipv6_cidr.as_deref())
            .and_then(Cidr::parse)
            .map(|c| c.range())
        else {
            continue;
        };
        if entry_width != width {
            continue;
        }
        let entry_ports = entry.ports.unwrap_or((0, u16::MAX));
        let entry_addrs = (entry_first, entry_last);
        if !entry.allow {
            let hit = open.iter().find_map(|r| {
                overlap(r.addrs, entry_addrs)?;
                overlap(r.ports, entry_ports)
            });
            if let Some(ports) = hit {
                return Err(AclBlock {
                    egress,
                    ports,
                    rule_number: Some(entry.rule_number),
                });
            }
            continue;
        }
        open = open
            .into_iter()
            .flat_map(|r| r.minus(entry_addrs, entry_ports))
            .collect();
        if open.is_empty() {
            return Ok(());
        }
    }
    match open.first() {
        None => Ok(()),
        Some(r) => Err(AclBlock {
            egress,
            ports: r.ports,
            rule_number: None,
        }),
    }
}

/// Which end of a TCP connection a subnet's ACL guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The subnet that opens the connection: out on the port, back in on ephemeral ports.
    Client,
    /// The subnet that accepts it: in on the port, back out on ephemeral ports.
    Server,
}

/// Whether a subnet's ACL lets a TCP connection on `port` with `peer` through,
/// both ways: the first direction that stops it, else `Ok`.
pub fn network_acl_admits_flow(
    acl: &NetworkAcl,
    end: End,
    port: u16,
    peer: &Cidr,
) -> Result<(), AclBlock> {
    let request_egress = end == End::Client;
    network_acl_decides(acl, request_egress, (port, port), peer)?;
    network_acl_decides(acl, !request_egress, EPHEMERAL_PORTS, peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::NetworkAclEntry;
    use crate::testkit::acl_entry as entry;

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).unwrap()
    }

    #[test]
    fn cidr_containment() {
        assert!(cidr("10.0.0.0/8").contains(&cidr("10.1.2.0/24")));
        assert!(cidr("10.0.0.0/8").contains(&cidr("10.1.2.3")));
        assert!(!cidr("10.1.2.0/24").contains(&cidr("10.0.0.0/8")));
        assert!(cidr("0.0.0.0/0").contains(&cidr("192.168.1.1/32")));
        assert!(!cidr("0.0.0.0/0").contains(&cidr("fd00::1")));
        assert!(cidr("::/0").contains(&cidr("fd00::/8")));
        assert!(cidr("fd00::/8").contains(&cidr("fd12:3456::1")));
        assert!(!cidr("fd00::/8").contains(&cidr("fe80::1")));
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("nonsense"), None);
    }

    fn rule(
        protocol: &str,
        ports: Option<(u16, u16)>,
        cidrs: &[&str],
        groups: &[&str],
    ) -> SecurityGroupRule {
        SecurityGroupRule {
            protocol: protocol.into(),
            ports,
            ipv4_cidrs: cidrs
                .iter()
                .filter(|c| !c.contains(':'))
                .map(|c| c.to_string())
                .collect(),
            ipv6_cidrs: cidrs
                .iter()
                .filter(|c| c.contains(':'))
                .map(|c| c.to_string())
                .collect(),
            security_group_ids: groups.iter().map(|g| g.to_string()).collect(),
            prefix_list_ids: vec![],
        }
    }

    fn group(ingress: Vec<SecurityGroupRule>) -> SecurityGroup {
        SecurityGroup {
            id: "sg-1".into(),
            vpc_id: "vpc-1".into(),
            ingress,
            egress: vec![rule("-1", None, &["0.0.0.0/0"], &[])],
        }
    }

    fn from(cidrs: &[&str], groups: &[&str]) -> Peer {
        Peer {
            cidrs: cidrs.iter().map(|c| cidr(c)).collect(),
            security_groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn security_group_rules() {
        let none = BTreeMap::new();
        let g = group(vec![
            rule("tcp", Some((443, 443)), &["10.0.0.0/16"], &[]),
            rule("tcp", Some((8000, 8100)), &[], &["sg-lb"]),
            rule("udp", Some((53, 53)), &["0.0.0.0/0"], &[]),
        ]);
        let admits = |port, peer: &Peer| security_groups_admit(&[&g], false, port, peer, &none);
        assert!(admits(443, &from(&["10.0.5.0/24"], &[])));
        assert!(
            !admits(443, &from(&["10.1.0.0/24"], &[])),
            "outside the CIDR"
        );
        assert!(!admits(80, &from(&["10.0.5.0/24"], &[])), "wrong port");
        assert!(
            admits(8080, &from(&[], &["sg-lb"])),
            "referenced group, port inside the range"
        );
        assert!(!admits(8101, &from(&[], &["sg-lb"])));
        assert!(
            !admits(53, &from(&["1.2.3.4"], &[])),
            "udp does not carry TCP"
        );
        // Egress of the group: all traffic.
        assert!(security_groups_admit(
            &[&g],
            true,
            5432,
            &from(&["172.16.0.1"], &[]),
            &none
        ));
    }

    #[test]
    fn all_protocols_ipv6_and_prefix_lists() {
        let mut lists = BTreeMap::new();
        lists.insert("pl-1".to_owned(), vec!["192.168.0.0/16".to_owned()]);
        let mut with_list = rule("6", Some((443, 443)), &[], &[]);
        with_list.prefix_list_ids = vec!["pl-1".into()];
        let g = group(vec![rule("-1", None, &["fd00::/8"], &[]), with_list]);
        assert!(security_groups_admit(
            &[&g],
            false,
            22,
            &from(&["fd00:1::5"], &[]),
            &lists
        ));
        assert!(!security_groups_admit(
            &[&g],
            false,
            22,
            &from(&["10.0.0.1"], &[]),
            &lists
        ));
        assert!(security_groups_admit(
            &[&g],
            false,
            443,
            &from(&["192.168.3.4"], &[]),
            &lists
        ));
        assert!(
            !security_groups_admit(&[], false, 443, &from(&["192.168.3.4"], &[]), &lists),
            "no group, no admission"
        );
    }

    fn acl(entries: Vec<NetworkAclEntry>) -> NetworkAcl {
        NetworkAcl {
            id: "acl-1".into(),
            vpc_id: "vpc-1".into(),
            subnet_ids: vec!["subnet-1".into()],
            entries,
        }
    }

    fn server(acl: &NetworkAcl, port: u16, peer: &Cidr) -> Result<(), AclBlock> {
        network_acl_admits_flow(acl, End::Server, port, peer)
    }

    #[test]
    fn network_acls_first_match_wins_both_ways() {
        let peer = cidr("10.0.1.0/24");
        let open = acl(vec![
            entry(100, false, true, "0.0.0.0/0", Some((443, 443))),
            entry(100, true, true, "0.0.0.0/0", Some((1024, 65535))),
        ]);
        assert_eq!(server(&open, 443, &peer), Ok(()));
        assert_eq!(
            server(&open, 80, &peer),
            Err(AclBlock {
                egress: false,
                ports: (80, 80),
                rule_number: None
            }),
            "no entry matches: the implicit deny"
        );

        let deny_first = acl(vec![
            entry(90, false, false, "10.0.0.0/16", Some((443, 443))),
            entry(100, false, true, "0.0.0.0/0", Some((443, 443))),
            entry(100, true, true, "0.0.0.0/0", None),
        ]);
        let blocked = server(&deny_first, 443, &peer).unwrap_err();
        assert_eq!(blocked.rule_number, Some(90), "deny before allow");
        assert_eq!(blocked.to_string(), "rule 90 denies inbound TCP 443");

        let allow_first = acl(vec![
            entry(200, false, false, "10.0.0.0/16", Some((443, 443))),
            entry(100, false, true, "10.0.0.0/8", Some((443, 443))),
            entry(100, true, true, "0.0.0.0/0", None),
        ]);
        assert_eq!(
            server(&allow_first, 443, &peer),
            Ok(()),
            "the lower number decides, not the order listed"
        );

        let no_return = acl(vec![
            entry(100, false, true, "0.0.0.0/0", Some((443, 443))),
            entry(100, true, true, "0.0.0.0/0", Some((443, 443))),
        ]);
        let blocked = server(&no_return, 443, &peer).unwrap_err();
        assert_eq!(
            blocked.to_string(),
            "no rule allows outbound TCP 1024-65535",
            "stateless: ephemeral return ports must be open"
        );

        let v6 = acl(vec![
            entry(100, false, true, "::/0", None),
            entry(100, true, true, "::/0", None),
        ]);
        assert_eq!(server(&v6, 443, &cidr("fd00::1")), Ok(()));
        assert!(
            server(&v6, 443, &peer).is_err(),
            "IPv6 entries do not match IPv4 peers"
        );

        let mut all = entry(100, false, true, "0.0.0.0/0", None);
        all.protocol = "-1".into();
        let mut all_out = all.clone();
        all_out.egress = true;
        assert_eq!(server(&acl(vec![all, all_out]), 8443, &peer), Ok(()));
    }

    #[test]
    fn network_acls_partial_overlaps() {
        let peer = cidr("10.0.1.0/24");
        // A deny over part of the ephemeral range, before an allow of all of it.
        let part_denied = acl(vec![
            entry(100, false, true, "0.0.0.0/0", Some((8080, 8080))),
            entry(50, true, false, "0.0.0.0/0", Some((32768, 40000))),
            entry(100, true, true, "0.0.0.0/0", Some((1024, 65535))),
        ]);
        assert_eq!(
            server(&part_denied, 8080, &peer),
            Err(AclBlock {
                egress: true,
                ports: (32768, 40000),
                rule_number: Some(50)
            })
        );
        // A deny of one address inside the peer's subnet stops part of it.
        let one_host = acl(vec![
            entry(10, false, false, "10.0.1.7/32", Some((8080, 8080))),
            entry(100, false, true, "10.0.0.0/16", None),
            entry(100, true, true, "0.0.0.0/0", None),
        ]);
        assert_eq!(
            server(&one_host, 8080, &peer).unwrap_err().rule_number,
            Some(10)
        );
        // ...but a deny after the allow that covered it changes nothing.
        let late_deny = acl(vec![
            entry(300, false, false, "10.0.1.7/32", Some((8080, 8080))),
            entry(100, false, true, "10.0.0.0/16", None),
            entry(100, true, true, "0.0.0.0/0", None),
        ]);
        assert_eq!(server(&late_deny, 8080, &peer), Ok(()));
        // Allows that together cover the ephemeral range (and the subnet) pass.
        let split = acl(vec![
            entry(100, false, true, "10.0.1.0/25", Some((8080, 8080))),
            entry(110, false, true, "10.0.1.128/25", Some((8000, 9000))),
            entry(100, true, true, "0.0.0.0/0", Some((1024, 30000))),
            entry(110, true, true, "0.0.0.0/0", Some((30001, 65535))),
        ]);
        assert_eq!(server(&split, 8080, &peer), Ok(()));
        // A gap between them is found, with its ports.
        let gap = acl(vec![
            entry(100, false, true, "0.0.0.0/0", Some((8080, 8080))),
            entry(100, true, true, "0.0.0.0/0", Some((1024, 30000))),
            entry(110, true, true, "0.0.0.0/0", Some((30002, 65535))),
        ]);
        assert_eq!(
            server(&gap, 8080, &peer),
            Err(AclBlock {
                egress: true,
                ports: (30001, 30001),
                rule_number: None
            })
        );
        // Half the subnet allowed: the other half meets the default deny.
        let half = acl(vec![
            entry(100, false, true, "10.0.1.0/25", Some((8080, 8080))),
            entry(100, true, true, "0.0.0.0/0", None),
        ]);
        assert_eq!(server(&half, 8080, &peer).unwrap_err().rule_number, None);
        // The client end: out on the port, back in on ephemeral ports.
        let client_only_out = acl(vec![entry(100, true, true, "0.0.0.0/0", Some((443, 443)))]);
        assert_eq!(
            network_acl_admits_flow(&client_only_out, End::Client, 443, &peer),
            Err(AclBlock {
                egress: false,
                ports: EPHEMERAL_PORTS,
                rule_number: None
            })
        );
        // The AWS default entry (*, 32767, deny all) behaves as the default deny it is.
        let mut star = entry(32767, false, false, "0.0.0.0/0", None);
        star.protocol = "-1".into();
        assert_eq!(
            server(&acl(vec![star]), 443, &peer)
                .unwrap_err()
                .rule_number,
            Some(32767)
        );
    }

    #[test]
    fn security_groups_admit_each_address_from_any_rule() {
        let none = BTreeMap::new();
        let g = group(vec![
            rule("tcp", Some((8080, 8080)), &["10.0.1.0/24"], &[]),
            rule("tcp", Some((8000, 8100)), &["10.0.2.0/24"], &[]),
        ]);
        let two_subnets = from(&["10.0.1.0/24", "10.0.2.0/24"], &[]);
        assert!(security_groups_admit(
            &[&g],
            false,
            8080,
            &two_subnets,
            &none
        ));
        assert!(!security_groups_admit(
            &[&g],
            false,
            8090,
            &two_subnets,
            &none
        ));
        assert!(!security_groups_admit(
            &[&g],
            false,
            8080,
            &Peer::default(),
            &none
        ));
    }
}
