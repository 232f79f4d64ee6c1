//! Security-group and network-ACL evaluation: does a rule set admit a TCP
//! flow on a port from a peer? Pure; the runbook checks ask it.
//!
//! Security groups are stateful allow-lists: one matching rule admits.
//! Network ACLs are stateless and ordered: the lowest-numbered matching
//! entry decides (a deny before an allow wins), nothing matching denies, and
//! the return traffic must be admitted too, on the ephemeral ports.

use std::collections::BTreeMap;
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

    /// True when every address of `other` is inside `self` (same family).
    pub fn contains(&self, other: &Cidr) -> bool {
        let (mine, width) = Self::bits(self.addr);
        let (theirs, other_width) = Self::bits(other.addr);
        if width != other_width || other.prefix < self.prefix {
            return false;
        }
        if self.prefix == 0 {
            return true;
        }
        let shift = u32::from(width - self.prefix);
        (mine >> shift) == (theirs >> shift)
    }
}

/// Who sends the traffic: its addresses and the security groups it carries.
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

fn rule_admits(
    rule: &SecurityGroupRule,
    port: u16,
    peer: &Peer,
    prefix_lists: &BTreeMap<String, Vec<String>>,
) -> bool {
    if !protocol_is_tcp(&rule.protocol) || !port_in(rule.ports, port) {
        return false;
    }
    if peer
        .security_groups
        .iter()
        .any(|g| rule.security_group_ids.contains(g))
    {
        return true;
    }
    let listed = rule
        .prefix_list_ids
        .iter()
        .flat_map(|id| prefix_lists.get(id).into_iter().flatten());
    let cidrs: Vec<Cidr> = rule
        .ipv4_cidrs
        .iter()
        .chain(&rule.ipv6_cidrs)
        .chain(listed)
        .filter_map(|c| Cidr::parse(c))
        .collect();
    !peer.cidrs.is_empty()
        && peer
            .cidrs
            .iter()
            .all(|p| cidrs.iter().any(|c| c.contains(p)))
}

/// Whether any of `groups` admits TCP `port` from `peer` (ingress) or to it (`egress`).
pub fn security_groups_admit(
    groups: &[&SecurityGroup],
    egress: bool,
    port: u16,
    peer: &Peer,
    prefix_lists: &BTreeMap<String, Vec<String>>,
) -> bool {
    groups.iter().any(|g| {
        let rules = if egress { &g.egress } else { &g.ingress };
        rules
            .iter()
            .any(|r| rule_admits(r, port, peer, prefix_lists))
    })
}

/// The decision of one direction of a network ACL for TCP traffic on
/// `ports` to or from `peer`: the lowest-numbered entry that matches decides.
pub fn network_acl_allows(acl: &NetworkAcl, egress: bool, ports: (u16, u16), peer: &Cidr) -> bool {
    let mut entries: Vec<_> = acl.entries.iter().filter(|e| e.egress == egress).collect();
    entries.sort_by_key(|e| e.rule_number);
    for entry in entries {
        if !protocol_is_tcp(&entry.protocol) {
            continue;
        }
        // The entry must cover the whole port range asked about.
        if entry
            .ports
            .is_some_and(|(from, to)| !(from <= ports.0 && ports.1 <= to))
        {
            continue;
        }
        let cidr = entry
            .ipv4_cidr
            .as_deref()
            .or(entry.ipv6_cidr.as_deref())
            .and_then(Cidr::parse);
        if cidr.is_some_and(|c| c.contains(peer)) {
            return entry.allow;
        }
    }
    false
}

/// A TCP connection to `port` from `peer` through a subnet's ACL: inbound on
/// the port, and the answer outbound to the peer's ephemeral ports.
pub fn network_acl_admits_flow(acl: &NetworkAcl, port: u16, peer: &Cidr) -> bool {
    network_acl_allows(acl, false, (port, port), peer)
        && network_acl_allows(acl, true, EPHEMERAL_PORTS, peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::NetworkAclEntry;

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

    fn entry(
        rule_number: i32,
        egress: bool,
        allow: bool,
        cidr: &str,
        ports: Option<(u16, u16)>,
    ) -> NetworkAclEntry {
        NetworkAclEntry {
            rule_number,
            egress,
            protocol: "6".into(),
            allow,
            ipv4_cidr: (!cidr.contains(':')).then(|| cidr.to_owned()),
            ipv6_cidr: cidr.contains(':').then(|| cidr.to_owned()),
            ports,
        }
    }

    fn acl(entries: Vec<NetworkAclEntry>) -> NetworkAcl {
        NetworkAcl {
            id: "acl-1".into(),
            vpc_id: "vpc-1".into(),
            subnet_ids: vec!["subnet-1".into()],
            entries,
        }
    }

    #[test]
    fn network_acls_first_match_wins_both_ways() {
        let peer = cidr("10.0.1.0/24");
        let open = acl(vec![
            entry(100, false, true, "0.0.0.0/0", Some((443, 443))),
            entry(100, true, true, "0.0.0.0/0", Some((1024, 65535))),
        ]);
        assert!(network_acl_admits_flow(&open, 443, &peer));
        assert!(
            !network_acl_admits_flow(&open, 80, &peer),
            "no entry matches: the implicit deny"
        );

        let deny_first = acl(vec![
            entry(90, false, false, "10.0.0.0/16", Some((443, 443))),
            entry(100, false, true, "0.0.0.0/0", Some((443, 443))),
            entry(100, true, true, "0.0.0.0/0", None),
        ]);
        assert!(
            !network_acl_admits_flow(&deny_first, 443, &peer),
            "deny before allow"
        );

        let allow_first = acl(vec![
            entry(200, false, false, "10.0.0.0/16", Some((443, 443))),
            entry(100, false, true, "10.0.0.0/8", Some((443, 443))),
            entry(100, true, true, "0.0.0.0/0", None),
        ]);
        assert!(
            network_acl_admits_flow(&allow_first, 443, &peer),
            "the lower number decides, not the order listed"
        );

        let no_return = acl(vec![
            entry(100, false, true, "0.0.0.0/0", Some((443, 443))),
            entry(100, true, true, "0.0.0.0/0", Some((443, 443))),
        ]);
        assert!(
            !network_acl_admits_flow(&no_return, 443, &peer),
            "stateless: ephemeral return ports must be open"
        );

        let v6 = acl(vec![
            entry(100, false, true, "::/0", None),
            entry(100, true, true, "::/0", None),
        ]);
        assert!(network_acl_admits_flow(&v6, 443, &cidr("fd00::1")));
        assert!(
            !network_acl_admits_flow(&v6, 443, &peer),
            "IPv6 entries do not match IPv4 peers"
        );

        let mut all = entry(100, false, true, "0.0.0.0/0", None);
        all.protocol = "-1".into();
        let mut all_out = all.clone();
        all_out.egress = true;
        assert!(network_acl_admits_flow(
            &acl(vec![all, all_out]),
            8443,
            &peer
        ));
    }
}
