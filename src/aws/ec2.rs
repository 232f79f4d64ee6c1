//! EC2: PrivateLink endpoint services and their connections, security
//! groups, network ACLs, managed prefix lists and network interfaces.
//!
//! EC2 sends some enum values in camelCase (`pendingAcceptance`) that the
//! SDK's enums expect in PascalCase, so they arrive as `Unknown`: every
//! value is read with `as_str()` and lower-cased, never matched on variants.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;

use super::AwsError;
use crate::inventory::{
    EndpointConnection, EndpointService, NetworkAcl, NetworkAclEntry, NetworkInterface,
    NetworkRules, SecurityGroup, SecurityGroupRule, Subnet, normalize_state,
};

/// Values per filter: EC2 accepts up to 200.
const FILTER_CHUNK: usize = 200;

fn filter(name: &str, values: &[String]) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.to_vec()))
        .build()
}

fn port_range(from: Option<i32>, to: Option<i32>) -> Option<(u16, u16)> {
    match (from, to) {
        (Some(f), Some(t)) if f >= 0 && t >= 0 => {
            Some((u16::try_from(f).ok()?, u16::try_from(t).ok()?))
        }
        _ => None,
    }
}

/// Endpoint services whose NLBs are in `load_balancers`, with their connections.
pub(super) async fn endpoint_services(
    client: &aws_sdk_ec2::Client,
    load_balancers: &BTreeSet<String>,
) -> Result<Vec<EndpointService>, AwsError> {
    let mut services = Vec::new();
    let mut pages = client
        .describe_vpc_endpoint_service_configurations()
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            AwsError::from_sdk("ec2", "DescribeVpcEndpointServiceConfigurations", e)
        })?;
        for s in page.service_configurations() {
            let nlbs = s.network_load_balancer_arns().to_vec();
            if !nlbs.iter().any(|a| load_balancers.contains(a)) {
                continue;
            }
            let Some(id) = s.service_id().filter(|i| !i.is_empty()) else {
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
                    let e = AwsError::from_sdk("ec2", "DescribeVpcEndpointConnections", e);
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
            while let Some(page) = pages.next().await {
                let page =
                    page.map_err(|e| AwsError::from_sdk("ec2", "DescribeNetworkInterfaces", e))?;
                for eni in page.network_interfaces() {
                    let Some(id) = eni.network_interface_id() else {
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

    let security_groups = security_groups(client, &group_ids).await?;
    let network_acls = network_acls(client, &subnet_ids).await?;
    let subnets = subnets(client, &subnet_ids).await?;

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
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| AwsError::from_sdk("ec2", "GetManagedPrefixListEntries", e))?;
            cidrs.extend(
                page.entries()
                    .iter()
                    .filter_map(|e| e.cidr().map(str::to_owned)),
            );
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
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ec2", "DescribeSecurityGroups", e))?;
            for g in page.security_groups() {
                let Some(id) = g.group_id() else { continue };
                out.push(SecurityGroup {
                    id: id.to_owned(),
                    vpc_id: g.vpc_id().unwrap_or_default().to_owned(),
                    ingress: g.ip_permissions().iter().map(rule).collect(),
                    egress: g.ip_permissions_egress().iter().map(rule).collect(),
                });
            }
        }
    }
    Ok(out)
}

fn rule(p: &aws_sdk_ec2::types::IpPermission) -> SecurityGroupRule {
    let protocol = p.ip_protocol().unwrap_or("-1").to_ascii_lowercase();
    SecurityGroupRule {
        ports: if protocol == "-1" {
            None
        } else {
            port_range(p.from_port(), p.to_port())
        },
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
    }
}

/// The subnets' CIDRs: the addresses that load balancer nodes, link ENIs and
/// targets send from, which security groups and NACLs are evaluated against.
async fn subnets(
    client: &aws_sdk_ec2::Client,
    ids: &BTreeSet<String>,
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
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ec2", "DescribeSubnets", e))?;
            for s in page.subnets() {
                let Some(id) = s.subnet_id() else { continue };
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
) -> Result<Vec<NetworkAcl>, AwsError> {
    let subnets: Vec<String> = subnets.iter().cloned().collect();
    let mut out: Vec<NetworkAcl> = Vec::new();
    for chunk in subnets.chunks(FILTER_CHUNK) {
        let mut pages = client
            .describe_network_acls()
            .filters(filter("association.subnet-id", chunk))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ec2", "DescribeNetworkAcls", e))?;
            for acl in page.network_acls() {
                let Some(id) = acl.network_acl_id() else {
                    continue;
                };
                if out.iter().any(|a| a.id == id) {
                    continue;
                }
                let mut entries: Vec<NetworkAclEntry> = acl
                    .entries()
                    .iter()
                    .filter_map(|e| {
                        Some(NetworkAclEntry {
                            rule_number: e.rule_number()?,
                            egress: e.egress().unwrap_or(false),
                            protocol: e.protocol().unwrap_or("-1").to_owned(),
                            allow: e
                                .rule_action()
                                .is_some_and(|a| a.as_str().eq_ignore_ascii_case("allow")),
                            ipv4_cidr: e.cidr_block().map(str::to_owned),
                            ipv6_cidr: e.ipv6_cidr_block().map(str::to_owned),
                            ports: e.port_range().and_then(|r| port_range(r.from(), r.to())),
                        })
                    })
                    .collect();
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
