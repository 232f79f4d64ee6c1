//! EC2: PrivateLink endpoint services and their connections, security
//! groups, network ACLs, managed prefix lists and network interfaces.
//!
//! EC2 sends some enum values in camelCase (`pendingAcceptance`) that the
//! SDK's enums expect in PascalCase, so they arrive as `Unknown`: every
//! value is read with `as_str()` and lower-cased, never matched on variants.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;

use super::error::AwsError;
use super::listing::Listing;
use super::telemetry::ApiTelemetry;
use crate::inventory::{
    EndpointConnection, EndpointService, NetworkAcl, NetworkAclEntry, NetworkInterface,
    NetworkRules, SecurityGroup, SecurityGroupRule, Subnet, normalize_state,
};

/// The SDK crate's name for the service, as in every self-metric.
const SERVICE: &str = "ec2";

/// Values per filter: EC2 accepts up to 200.
const FILTER_CHUNK: usize = 200;

fn filter(name: &str, values: &[String]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.to_vec()))
        .build()
}

/// EC2's tag list as a map; a tag without a key is no tag.
fn ec2_tags(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect()
}

fn port_range(from: Option<i32>, to: Option<i32>) -> Option<(u16, u16)> {
    match (from, to) {
        (Some(f), Some(t)) if f >= 0 && t >= 0 => {
            Some((u16::try_from(f).ok()?, u16::try_from(t).ok()?))
        }
        _ => None,
    }
}

/// The regions enabled for the account: those every account has and the
/// opt-in regions it opted into (DescribeRegions without `AllRegions`
/// lists just these; an entry that says `not-opted-in` is dropped all the
/// same). An entry without a name is skipped and counted.
pub(super) async fn enabled_regions(
    client: &aws_sdk_ec2::Client,
    telemetry: &ApiTelemetry,
) -> Result<Vec<String>, AwsError> {
    let out = client
        .describe_regions()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeRegions", e))?;
    let mut regions = Vec::new();
    for region in out.regions() {
        let Some(name) = region.region_name().filter(|n| !n.is_empty()) else {
            telemetry.skipped_item(SERVICE, "DescribeRegions", "missing RegionName");
            continue;
        };
        if region.opt_in_status() == Some("not-opted-in") {
            continue;
        }
        regions.push(name.to_owned());
    }
    regions.sort();
    regions.dedup();
    Ok(regions)
}

/// Endpoint services whose NLBs are in `load_balancers`, with their connections.
pub(super) async fn endpoint_services(
    client: &aws_sdk_ec2::Client,
    load_balancers: &BTreeSet<String>,
    tags: &[String],
    telemetry: &ApiTelemetry,
) -> Result<Vec<EndpointService>, AwsError> {
    let mut services = Vec::new();
    let mut pages = client
        .describe_vpc_endpoint_service_configurations()
        .max_results(1000)
        .into_paginator()
        .send();
    let call = Listing::new(
        telemetry,
        SERVICE,
        "DescribeVpcEndpointServiceConfigurations",
    );
    while let Some(page) = call.page(pages.next().await)? {
        for s in page.service_configurations() {
            let nlbs = s.network_load_balancer_arns().to_vec();
            if !nlbs.iter().any(|a| load_balancers.contains(a)) {
                continue;
            }
            let Some(id) = call.named(s.service_id(), "serviceId") else {
                continue;
            };
            services.push(EndpointService {
                service_id: id.to_owned(),
                service_name: s.service_name().unwrap_or_default().to_owned(),
                state: normalize_state(s.service_state().map(|st| st.as_str()).unwrap_or_default()),
                load_balancer_arns: nlbs,
                acceptance_required: s.acceptance_required().unwrap_or(false),
                connections: Vec::new(),
                connections_unread: None,
                tags: crate::tags::keep(ec2_tags(s.tags()), tags),
            });
        }
    }
    let ids: Vec<String> = services.iter().map(|s| s.service_id.clone()).collect();
    let mut by_service: BTreeMap<String, Vec<EndpointConnection>> = BTreeMap::new();
    // Services whose connections could not be read, and why: their own state
    // is still reported, their connections are unknown.
    let mut unread: BTreeMap<String, String> = BTreeMap::new();
    'chunks: for chunk in ids.chunks(FILTER_CHUNK) {
        let mut pages = client
            .describe_vpc_endpoint_connections()
            .filters(filter("service-id", chunk))
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(e) => {
                    let e = AwsError::from_sdk(SERVICE, "DescribeVpcEndpointConnections", e);
                    tracing::debug!(error = %e, "endpoint connections unread");
                    for id in chunk {
                        by_service.remove(id);
                        unread.insert(id.clone(), e.to_string());
                    }
                    continue 'chunks;
                }
            };
            for c in page.vpc_endpoint_connections() {
                let (Some(service), Some(endpoint)) = (c.service_id(), c.vpc_endpoint_id()) else {
                    let reason = if c.service_id().is_none() {
                        "missing serviceId"
                    } else {
                        "missing vpcEndpointId"
                    };
                    telemetry.skipped_item(SERVICE, "DescribeVpcEndpointConnections", reason);
                    continue;
                };
                by_service
                    .entry(service.to_owned())
                    .or_default()
                    .push(EndpointConnection {
                        vpc_endpoint_id: endpoint.to_owned(),
                        owner: c.vpc_endpoint_owner().unwrap_or_default().to_owned(),
                        state: normalize_state(
                            c.vpc_endpoint_state()
                                .map(|s| s.as_str())
                                .unwrap_or_default(),
                        ),
                    });
            }
        }
    }
    for service in &mut services {
        service.connections = by_service.remove(&service.service_id).unwrap_or_default();
        service.connections_unread = unread.remove(&service.service_id);
    }
    Ok(services)
}

/// What the network-rules collector needs to look up.
#[derive(Debug, Default)]
pub struct NetworkQuery {
    pub security_group_ids: BTreeSet<String>,
    pub subnet_ids: BTreeSet<String>,
    /// Private IPs of `ip` targets.
    pub target_ips: BTreeSet<String>,
    /// Instance ids of `instance` targets.
    pub target_instances: BTreeSet<String>,
}

pub(super) async fn network_rules(
    client: &aws_sdk_ec2::Client,
    query: &NetworkQuery,
    telemetry: &ApiTelemetry,
) -> Result<NetworkRules, AwsError> {
    let mut interfaces = Vec::new();
    for (name, values) in [
        ("addresses.private-ip-address", &query.target_ips),
        ("attachment.instance-id", &query.target_instances),
    ] {
        let values: Vec<String> = values.iter().cloned().collect();
        for chunk in values.chunks(FILTER_CHUNK) {
            let mut pages = client
                .describe_network_interfaces()
                .filters(filter(name, chunk))
                .into_paginator()
                .send();
            let call = Listing::new(telemetry, SERVICE, "DescribeNetworkInterfaces");
            while let Some(page) = call.page(pages.next().await)? {
                for eni in page.network_interfaces() {
                    let Some(id) = call.named(eni.network_interface_id(), "networkInterfaceId")
                    else {
                        continue;
                    };
                    if interfaces.iter().any(|i: &NetworkInterface| i.id == id) {
                        continue;
                    }
                    interfaces.push(NetworkInterface {
                        id: id.to_owned(),
                        subnet_id: eni.subnet_id().unwrap_or_default().to_owned(),
                        vpc_id: eni.vpc_id().unwrap_or_default().to_owned(),
                        private_ips: eni
                            .private_ip_addresses()
                            .iter()
                            .filter_map(|a| a.private_ip_address().map(str::to_owned))
                            .chain(eni.private_ip_address().map(str::to_owned))
                            .collect::<BTreeSet<_>>()
                            .into_iter()
                            .collect(),
                        security_group_ids: eni
                            .groups()
                            .iter()
                            .filter_map(|g| g.group_id().map(str::to_owned))
                            .collect(),
                        instance_id: eni
                            .attachment()
                            .and_then(|a| a.instance_id())
                            .map(str::to_owned),
                    });
                }
            }
        }
    }

    let mut group_ids = query.security_group_ids.clone();
    let mut subnet_ids = query.subnet_ids.clone();
    for eni in &interfaces {
        group_ids.extend(eni.security_group_ids.iter().cloned());
        subnet_ids.insert(eni.subnet_id.clone());
    }
    subnet_ids.remove("");

    let security_groups = security_groups(client, &group_ids, telemetry).await?;
    let network_acls = network_acls(client, &subnet_ids, telemetry).await?;
    let subnets = subnets(client, &subnet_ids, telemetry).await?;

    let mut prefix_lists = BTreeMap::new();
    let referenced: BTreeSet<String> = security_groups
        .iter()
        .flat_map(|g| g.ingress.iter().chain(&g.egress))
        .flat_map(|r| r.prefix_list_ids.iter().cloned())
        .collect();
    for id in referenced {
        let mut cidrs = Vec::new();
        let mut pages = client
            .get_managed_prefix_list_entries()
            .prefix_list_id(&id)
            .into_paginator()
            .send();
        let call = Listing::new(telemetry, SERVICE, "GetManagedPrefixListEntries");
        while let Some(page) = call.page(pages.next().await)? {
            for entry in page.entries() {
                match entry.cidr() {
                    Some(cidr) => cidrs.push(cidr.to_owned()),
                    None => call.skipped("missing cidr"),
                }
            }
        }
        prefix_lists.insert(id, cidrs);
    }

    Ok(NetworkRules {
        security_groups,
        network_acls,
        subnets,
        prefix_lists,
        interfaces,
    })
}

async fn security_groups(
    client: &aws_sdk_ec2::Client,
    ids: &BTreeSet<String>,
    telemetry: &ApiTelemetry,
) -> Result<Vec<SecurityGroup>, AwsError> {
    let ids: Vec<String> = ids.iter().filter(|i| !i.is_empty()).cloned().collect();
    let mut out = Vec::new();
    // A `group-id` filter, not GroupIds: a group deleted since it was
    // referenced is simply absent instead of failing the whole call.
    for chunk in ids.chunks(FILTER_CHUNK) {
        let mut pages = client
            .describe_security_groups()
            .filters(filter("group-id", chunk))
            .into_paginator()
            .send();
        let call = Listing::new(telemetry, SERVICE, "DescribeSecurityGroups");
        while let Some(page) = call.page(pages.next().await)? {
            for g in page.security_groups() {
                let Some(id) = call.named(g.group_id(), "groupId") else {
                    continue;
                };
                let rules = |permissions: &[aws_sdk_ec2::types::IpPermission]| {
                    permissions
                        .iter()
                        .filter_map(|p| rule(p).map_err(|reason| call.skipped(reason)).ok())
                        .collect()
                };
                out.push(SecurityGroup {
                    id: id.to_owned(),
                    vpc_id: g.vpc_id().unwrap_or_default().to_owned(),
                    ingress: rules(g.ip_permissions()),
                    egress: rules(g.ip_permissions_egress()),
                });
            }
        }
    }
    Ok(out)
}

/// Whether a protocol's rules and entries carry a port range (TCP and UDP, by
/// name or number): without one they cannot be read.
fn has_ports(protocol: &str) -> bool {
    matches!(protocol, "tcp" | "6" | "udp" | "17")
}

/// A security-group rule, or why it cannot be read. Rules only allow, so one
/// that cannot be read is left out (and counted): it can make a check fail,
/// never pass. Read as "all traffic", a rule without its protocol would.
fn rule(p: &aws_sdk_ec2::types::IpPermission) -> Result<SecurityGroupRule, &'static str> {
    let protocol = p
        .ip_protocol()
        .filter(|p| !p.is_empty())
        .ok_or("rule without ipProtocol")?
        .to_ascii_lowercase();
    let ports = port_range(p.from_port(), p.to_port());
    if has_ports(&protocol) && ports.is_none() {
        return Err("rule without fromPort/toPort");
    }
    Ok(SecurityGroupRule {
        ports: if protocol == "-1" { None } else { ports },
        protocol,
        ipv4_cidrs: p
            .ip_ranges()
            .iter()
            .filter_map(|r| r.cidr_ip().map(str::to_owned))
            .collect(),
        ipv6_cidrs: p
            .ipv6_ranges()
            .iter()
            .filter_map(|r| r.cidr_ipv6().map(str::to_owned))
            .collect(),
        security_group_ids: p
            .user_id_group_pairs()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_owned))
            .collect(),
        prefix_list_ids: p
            .prefix_list_ids()
            .iter()
            .filter_map(|l| l.prefix_list_id().map(str::to_owned))
            .collect(),
    })
}

/// The subnets' CIDRs: the addresses that load balancer nodes, link ENIs and
/// targets send from, which security groups and NACLs are evaluated against.
async fn subnets(
    client: &aws_sdk_ec2::Client,
    ids: &BTreeSet<String>,
    telemetry: &ApiTelemetry,
) -> Result<Vec<Subnet>, AwsError> {
    let ids: Vec<String> = ids.iter().cloned().collect();
    let mut out = Vec::new();
    // A `subnet-id` filter, not SubnetIds: a subnet deleted since it was
    // referenced is absent instead of failing the whole call.
    for chunk in ids.chunks(FILTER_CHUNK) {
        let mut pages = client
            .describe_subnets()
            .filters(filter("subnet-id", chunk))
            .into_paginator()
            .send();
        let call = Listing::new(telemetry, SERVICE, "DescribeSubnets");
        while let Some(page) = call.page(pages.next().await)? {
            for s in page.subnets() {
                let Some(id) = call.named(s.subnet_id(), "subnetId") else {
                    continue;
                };
                out.push(Subnet {
                    id: id.to_owned(),
                    vpc_id: s.vpc_id().unwrap_or_default().to_owned(),
                    availability_zone: s.availability_zone().unwrap_or_default().to_owned(),
                    cidrs: s
                        .cidr_block()
                        .map(str::to_owned)
                        .into_iter()
                        .chain(
                            s.ipv6_cidr_block_association_set()
                                .iter()
                                .filter_map(|a| a.ipv6_cidr_block().map(str::to_owned)),
                        )
                        .collect(),
                });
            }
        }
    }
    Ok(out)
}

async fn network_acls(
    client: &aws_sdk_ec2::Client,
    subnets: &BTreeSet<String>,
    telemetry: &ApiTelemetry,
) -> Result<Vec<NetworkAcl>, AwsError> {
    let subnets: Vec<String> = subnets.iter().cloned().collect();
    let mut out: Vec<NetworkAcl> = Vec::new();
    for chunk in subnets.chunks(FILTER_CHUNK) {
        let mut pages = client
            .describe_network_acls()
            .filters(filter("association.subnet-id", chunk))
            .into_paginator()
            .send();
        let call = Listing::new(telemetry, SERVICE, "DescribeNetworkAcls");
        while let Some(page) = call.page(pages.next().await)? {
            for acl in page.network_acls() {
                let Some(id) = call.named(acl.network_acl_id(), "networkAclId") else {
                    continue;
                };
                if out.iter().any(|a| a.id == id) {
                    continue;
                }
                let mut entries = Vec::new();
                for e in acl.entries() {
                    let read = acl_entry(e);
                    if let Some(reason) = read.unreadable {
                        call.skipped(reason);
                    }
                    entries.extend(read.entries);
                }
                entries.sort_by_key(|e| (e.egress, e.rule_number));
                out.push(NetworkAcl {
                    id: id.to_owned(),
                    vpc_id: acl.vpc_id().unwrap_or_default().to_owned(),
                    subnet_ids: acl
                        .associations()
                        .iter()
                        .filter_map(|a| a.subnet_id().map(str::to_owned))
                        .collect(),
                    entries,
                });
            }
        }
    }
    Ok(out)
}

/// What an ACL entry is taken to be, and why it could not be read as sent.
#[derive(Debug, PartialEq)]
struct ReadEntry {
    entries: Vec<NetworkAclEntry>,
    unreadable: Option<&'static str>,
}

/// An ACL entry as AWS sent it, or, when a field it needs is missing, the
/// reading that admits least: an allow is left out, a deny (or an entry of
/// unknown action) denies every protocol and port, to every address when it
/// names none, in both directions when its direction is missing, and first
/// when its number is. A check can then fail on it, never pass.
fn acl_entry(e: &aws_sdk_ec2::types::NetworkAclEntry) -> ReadEntry {
    let protocol = e.protocol().filter(|p| !p.is_empty());
    let action = e.rule_action().map(|a| a.as_str().to_ascii_lowercase());
    let ports = e.port_range().and_then(|r| port_range(r.from(), r.to()));
    let ipv4_cidr = e.cidr_block().map(str::to_owned);
    let ipv6_cidr = e.ipv6_cidr_block().map(str::to_owned);
    let unreadable = if e.rule_number().is_none() {
        Some("entry without ruleNumber")
    } else if e.egress().is_none() {
        Some("entry without egress")
    } else if protocol.is_none() {
        Some("entry without protocol")
    } else if !matches!(action.as_deref(), Some("allow" | "deny")) {
        Some("entry without ruleAction")
    } else if protocol.is_some_and(has_ports) && ports.is_none() {
        Some("entry without portRange")
    } else if ipv4_cidr.is_none() && ipv6_cidr.is_none() {
        Some("entry without cidrBlock")
    } else {
        None
    };
    if unreadable.is_none() {
        let protocol = protocol.unwrap_or_default();
        return ReadEntry {
            entries: vec![NetworkAclEntry {
                rule_number: e.rule_number().unwrap_or_default(),
                egress: e.egress().unwrap_or_default(),
                protocol: protocol.to_owned(),
                allow: action.as_deref() == Some("allow"),
                ipv4_cidr,
                ipv6_cidr,
                ports: if protocol == "-1" { None } else { ports },
                unreadable: None,
            }],
            unreadable,
        };
    }
    if action.as_deref() == Some("allow") {
        return ReadEntry {
            entries: Vec::new(),
            unreadable,
        };
    }
    let directions = match e.egress() {
        Some(egress) => vec![egress],
        None => vec![false, true],
    };
    let cidrs: Vec<(Option<String>, Option<String>)> = match (ipv4_cidr, ipv6_cidr) {
        (None, None) => vec![
            (Some("0.0.0.0/0".to_owned()), None),
            (None, Some("::/0".to_owned())),
        ],
        (v4, v6) => vec![(v4, v6)],
    };
    let mut entries = Vec::new();
    for egress in directions {
        for (ipv4_cidr, ipv6_cidr) in &cidrs {
            entries.push(NetworkAclEntry {
                rule_number: e.rule_number().unwrap_or(0),
                egress,
                protocol: "-1".to_owned(),
                allow: false,
                ipv4_cidr: ipv4_cidr.clone(),
                ipv6_cidr: ipv6_cidr.clone(),
                ports: None,
                unreadable,
            });
        }
    }
    ReadEntry {
        entries,
        unreadable,
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::{IpPermission, NetworkAclEntry as Entry, PortRange, RuleAction};

    use super::*;

    fn entry() -> aws_sdk_ec2::types::builders::NetworkAclEntryBuilder {
        Entry::builder()
            .rule_number(100)
            .egress(false)
            .protocol("6")
            .rule_action(RuleAction::Allow)
            .cidr_block("10.0.0.0/16")
            .port_range(PortRange::builder().from(443).to(443).build())
    }

    #[test]
    fn a_whole_entry_is_read_as_sent() {
        let read = acl_entry(&entry().build());
        assert_eq!(read.unreadable, None);
        assert_eq!(read.entries.len(), 1);
        let e = &read.entries[0];
        assert!(e.allow && !e.egress && e.rule_number == 100);
        assert_eq!((e.protocol.as_str(), e.ports), ("6", Some((443, 443))));
    }

    /// Each field missing in turn: an allow is left out, a deny widens.
    #[test]
    fn an_entry_missing_a_field_admits_least() {
        let allow_cases = [
            (entry().set_rule_number(None), "entry without ruleNumber"),
            (entry().set_egress(None), "entry without egress"),
            (entry().set_protocol(None), "entry without protocol"),
            (entry().set_port_range(None), "entry without portRange"),
            (entry().set_cidr_block(None), "entry without cidrBlock"),
        ];
        for (builder, reason) in allow_cases {
            let read = acl_entry(&builder.build());
            assert_eq!(read.unreadable, Some(reason));
            assert!(
                read.entries.is_empty(),
                "an unreadable allow grants nothing"
            );
        }
        // No action: taken as a deny of everything, first, both ways, everywhere.
        let read = acl_entry(
            &entry()
                .set_rule_action(None)
                .set_rule_number(None)
                .set_egress(None)
                .set_cidr_block(None)
                .build(),
        );
        assert_eq!(read.unreadable, Some("entry without ruleNumber"));
        assert_eq!(read.entries.len(), 4, "{read:?}");
        assert!(
            read.entries
                .iter()
                .all(|e| !e.allow && e.rule_number == 0 && e.protocol == "-1" && e.ports.is_none())
        );
        assert!(read.entries.iter().any(|e| e.egress));
        assert!(
            read.entries
                .iter()
                .any(|e| e.ipv6_cidr.as_deref() == Some("::/0"))
        );
        // A deny without its ports denies every port of its addresses.
        let read = acl_entry(
            &entry()
                .rule_action(RuleAction::Deny)
                .set_port_range(None)
                .build(),
        );
        assert_eq!(read.unreadable, Some("entry without portRange"));
        assert_eq!(read.entries.len(), 1);
        let e = &read.entries[0];
        assert!(!e.allow && e.ports.is_none() && e.protocol == "-1");
        assert_eq!(e.ipv4_cidr.as_deref(), Some("10.0.0.0/16"));
    }

    #[test]
    fn a_rule_without_protocol_or_ports_is_left_out() {
        let whole = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(443)
            .to_port(443);
        let rule_read = rule(&whole.clone().build()).unwrap();
        assert_eq!(rule_read.ports, Some((443, 443)));
        assert_eq!(
            rule(&whole.clone().set_ip_protocol(None).build()),
            Err("rule without ipProtocol")
        );
        assert_eq!(
            rule(&whole.clone().set_to_port(None).build()),
            Err("rule without fromPort/toPort")
        );
        // All traffic and ICMP carry no ports.
        let all = rule(&IpPermission::builder().ip_protocol("-1").build()).unwrap();
        assert_eq!((all.protocol.as_str(), all.ports), ("-1", None));
        assert!(rule(&IpPermission::builder().ip_protocol("icmp").build()).is_ok());
    }
}
