//! Elastic Load Balancing v2: load balancers, listeners, target groups and
//! target health. A poll costs 1 DescribeLoadBalancers page per 400 load
//! balancers, 1 DescribeListeners per load balancer kept, 1 DescribeTargetGroups
//! page per 400 groups and 1 DescribeTargetHealth per target group kept.
//! The certificates collector adds 1 DescribeListenerCertificates per TLS
//! or HTTPS listener of a load balancer a link uses. With `tags_as_labels`,
//! 1 DescribeTags per 20 load balancers kept (the list calls carry none).

use std::collections::BTreeSet;

use super::error::AwsError;
use super::listing::Listing;
use super::telemetry::ApiTelemetry;
use crate::inventory::{
    Listener, ListenerCertificate, LoadBalancer, LoadBalancing, TargetGroup, TargetHealth,
    normalize_state, turn_start,
};

/// The API's maximum page size for the describe calls.
const PAGE_SIZE: i32 = 400;

const SERVICE: &str = "elasticloadbalancingv2";

/// DescribeTags' most resource ARNs in one call.
const TAGS_CHUNK: usize = 20;

fn port(value: Option<i32>) -> Option<u16> {
    value.and_then(|p| u16::try_from(p).ok())
}

/// The load balancers named in `wanted` (all of them when `None`), with
/// listeners, target groups and target health. ARNs in `wanted` that AWS does
/// not know are reported as missing, not as an error: a deleted NLB is a
/// finding about the link, not a failure of the exporter.
///
/// Target health is read group by group in ARN order, starting after
/// `health_after` (where the last poll the quota cut short stopped) and
/// wrapping around; when the quota has no slot left, the groups not
/// reached are `health_left` and the next poll starts with them, so every
/// group is read within a bounded number of polls.
///
/// The tags named in `tags` are read for the load balancers kept, 20 a call.
pub(super) async fn load_balancing(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    wanted: Option<&BTreeSet<String>>,
    health_after: Option<&str>,
    tags: &[String],
    telemetry: &ApiTelemetry,
) -> Result<LoadBalancing, AwsError> {
    let mut load_balancers = Vec::new();
    let mut unreadable = 0;
    let mut pages = client
        .describe_load_balancers()
        .page_size(PAGE_SIZE)
        .into_paginator()
        .send();
    let call = Listing::new(telemetry, SERVICE, "DescribeLoadBalancers");
    while let Some(page) = call.page(pages.next().await)? {
        for lb in page.load_balancers() {
            let Some(arn) = call.named(lb.load_balancer_arn(), "LoadBalancerArn") else {
                unreadable += 1;
                continue;
            };
            if wanted.is_some_and(|w| !w.contains(arn)) {
                continue;
            }
            load_balancers.push(LoadBalancer {
                arn: arn.to_owned(),
                name: lb.load_balancer_name().unwrap_or_default().to_owned(),
                dns_name: lb.dns_name().unwrap_or_default().to_owned(),
                lb_type: lb
                    .r#type()
                    .map(|t| t.as_str().to_ascii_lowercase())
                    .unwrap_or_default(),
                state: normalize_state(
                    lb.state()
                        .and_then(|s| s.code())
                        .map(|c| c.as_str())
                        .unwrap_or_default(),
                ),
                state_reason: lb.state().and_then(|s| s.reason()).map(str::to_owned),
                scheme: lb
                    .scheme()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                vpc_id: lb.vpc_id().unwrap_or_default().to_owned(),
                subnet_ids: lb
                    .availability_zones()
                    .iter()
                    .filter_map(|az| az.subnet_id().map(str::to_owned))
                    .collect(),
                security_group_ids: lb.security_groups().to_vec(),
                privatelink_inbound_rules: lb
                    .enforce_security_group_inbound_rules_on_private_link_traffic()
                    .map(|v| v.to_ascii_lowercase()),
                listeners: Vec::new(),
                listeners_unread: None,
                tags: Default::default(),
                tags_unread: false,
            });
        }
    }
    let found: BTreeSet<String> = load_balancers.iter().map(|lb| lb.arn.clone()).collect();
    // One listed without its ARN may be any of those not found.
    let missing_load_balancers = wanted
        .filter(|_| unreadable == 0)
        .map(|w| w.difference(&found).cloned().collect())
        .unwrap_or_default();

    // One load balancer whose listeners cannot be read (an IAM gap, a
    // throttle that outlasts the retries, the quota spent) leaves only its
    // own listeners unknown.
    for lb in &mut load_balancers {
        match listeners(client, &lb.arn, telemetry).await {
            Ok(listeners) => lb.listeners = listeners,
            Err(e) => {
                tracing::debug!(load_balancer = %lb.arn, error = %e, "listeners unread");
                telemetry.skipped_item(SERVICE, "DescribeListeners", "read failed");
                lb.listeners_unread = Some(e.to_string());
            }
        }
    }
    let target_groups = target_groups(client, &found, health_after, telemetry).await?;
    // Last: what the checks need comes before the owner's labels when the
    // quota is short (tags unread are kept as last read).
    if !tags.is_empty() {
        read_tags(client, &mut load_balancers, tags, telemetry).await;
    }
    Ok(LoadBalancing {
        load_balancers,
        target_groups,
        missing_load_balancers,
        unreadable_load_balancers: unreadable,
    })
}

/// The tags named in `wanted` of each load balancer, 20 a DescribeTags. A
/// load balancer whose tags cannot be read (its chunk failed, or the
/// answer left it out) is `tags_unread` and counted in
/// `awsconn_aws_incomplete_items_total`: the collector keeps its last tags.
async fn read_tags(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    load_balancers: &mut [LoadBalancer],
    wanted: &[String],
    telemetry: &ApiTelemetry,
) {
    for chunk in load_balancers.chunks_mut(TAGS_CHUNK) {
        let arns: Vec<String> = chunk.iter().map(|lb| lb.arn.clone()).collect();
        for lb in chunk.iter_mut() {
            lb.tags_unread = true;
        }
        match client
            .describe_tags()
            .set_resource_arns(Some(arns))
            .send()
            .await
        {
            Ok(answer) => take_tags(chunk, &answer, wanted),
            Err(e) => {
                let e = AwsError::from_sdk(SERVICE, "DescribeTags", e);
                tracing::debug!(error = %e, "load balancer tags unread");
            }
        }
        for _ in chunk.iter().filter(|lb| lb.tags_unread) {
            telemetry.skipped_item(SERVICE, "DescribeTags", "read failed");
        }
    }
}

/// The tags of one DescribeTags answer, on the load balancers it names.
fn take_tags(
    chunk: &mut [LoadBalancer],
    answer: &aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsOutput,
    wanted: &[String],
) {
    for described in answer.tag_descriptions() {
        let Some(lb) = chunk
            .iter_mut()
            .find(|lb| described.resource_arn() == Some(lb.arn.as_str()))
        else {
            continue;
        };
        let all = described
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                ))
            })
            .collect();
        lb.tags = crate::tags::keep(all, wanted);
        lb.tags_unread = false;
    }
}

async fn listeners(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    lb_arn: &str,
    telemetry: &ApiTelemetry,
) -> Result<Vec<Listener>, AwsError> {
    let mut out = Vec::new();
    let mut pages = client
        .describe_listeners()
        .load_balancer_arn(lb_arn)
        .page_size(PAGE_SIZE)
        .into_paginator()
        .send();
    let call = Listing::new(telemetry, SERVICE, "DescribeListeners");
    while let Some(page) = call.page(pages.next().await)? {
        for l in page.listeners() {
            // A listener without a port cannot be matched to an integration:
            // counted, and the link's listener check says the port is not found.
            let Some(port) = port(l.port()) else {
                call.skipped("missing Port");
                continue;
            };
            let mut groups: Vec<String> = Vec::new();
            for action in l.default_actions() {
                groups.extend(action.target_group_arn().map(str::to_owned));
                if let Some(forward) = action.forward_config() {
                    groups.extend(
                        forward
                            .target_groups()
                            .iter()
                            .filter_map(|t| t.target_group_arn().map(str::to_owned)),
                    );
                }
            }
            groups.sort();
            groups.dedup();
            out.push(Listener {
                arn: l.listener_arn().unwrap_or_default().to_owned(),
                port,
                protocol: l
                    .protocol()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default(),
                certificate_arns: l
                    .certificates()
                    .iter()
                    .filter_map(|c| c.certificate_arn().map(str::to_owned))
                    .collect(),
                target_group_arns: groups,
            });
        }
    }
    Ok(out)
}

async fn target_groups(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    load_balancers: &BTreeSet<String>,
    health_after: Option<&str>,
    telemetry: &ApiTelemetry,
) -> Result<Vec<TargetGroup>, AwsError> {
    let mut groups = Vec::new();
    if load_balancers.is_empty() {
        return Ok(groups);
    }
    let mut pages = client
        .describe_target_groups()
        .page_size(PAGE_SIZE)
        .into_paginator()
        .send();
    let call = Listing::new(telemetry, SERVICE, "DescribeTargetGroups");
    while let Some(page) = call.page(pages.next().await)? {
        for tg in page.target_groups() {
            let Some(arn) = call.named(tg.target_group_arn(), "TargetGroupArn") else {
                continue;
            };
            let lbs = tg.load_balancer_arns().to_vec();
            if !lbs.iter().any(|a| load_balancers.contains(a)) {
                continue;
            }
            groups.push(TargetGroup {
                arn: arn.to_owned(),
                name: tg.target_group_name().unwrap_or_default().to_owned(),
                protocol: tg
                    .protocol()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default(),
                port: port(tg.port()),
                // `traffic-port` (or nothing readable): the health checks use the target's port.
                health_check_port: tg.health_check_port().and_then(|p| p.parse().ok()),
                target_type: tg
                    .target_type()
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
                vpc_id: tg.vpc_id().unwrap_or_default().to_owned(),
                load_balancer_arns: lbs,
                targets: Vec::new(),
                health_unread: None,
                health_left: false,
            });
        }
    }
    groups.sort_by(|a, b| a.arn.cmp(&b.arn));
    let first = turn_start(groups.iter().map(|g| g.arn.as_str()), health_after);
    let n = groups.len();
    let mut quota_spent = false;
    for i in (0..n).map(|k| (first + k) % n) {
        let group = &mut groups[i];
        if quota_spent {
            group.health_left = true;
            continue;
        }
        // One group whose health cannot be read (an IAM gap, a throttle that
        // outlasts the retries) leaves that health unknown; the load
        // balancers, listeners and other groups are still reported.
        let out = match client
            .describe_target_health()
            .target_group_arn(&group.arn)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let e = AwsError::from_sdk(SERVICE, "DescribeTargetHealth", e);
                if e.is_quota_exhausted() {
                    tracing::debug!(target_group = %group.arn, "the quota is spent for this poll; the target groups not reached are read first next poll");
                    quota_spent = true;
                    group.health_left = true;
                    continue;
                }
                tracing::debug!(target_group = %group.arn, error = %e, "target health unread");
                telemetry.skipped_item(SERVICE, "DescribeTargetHealth", "read failed");
                group.health_unread = Some(e.to_string());
                continue;
            }
        };
        group.targets = out
            .target_health_descriptions()
            .iter()
            .filter_map(|d| {
                let Some(id) = d.target().and_then(|t| t.id()).filter(|i| !i.is_empty()) else {
                    telemetry.skipped_item(SERVICE, "DescribeTargetHealth", "missing Target.Id");
                    return None;
                };
                let target = d.target()?;
                let health = d.target_health();
                Some(TargetHealth {
                    id: id.to_owned(),
                    port: port(target.port()),
                    state: normalize_state(
                        health
                            .and_then(|h| h.state())
                            .map(|s| s.as_str())
                            .unwrap_or_default(),
                    ),
                    reason: health
                        .and_then(|h| h.reason())
                        .map(|r| r.as_str().to_owned()),
                    description: health.and_then(|h| h.description()).map(str::to_owned),
                })
            })
            .collect();
    }
    Ok(groups)
}

/// The certificates a listener serves (DescribeListenerCertificates, every
/// page), the default first. A certificate listed without its ARN is
/// counted and left out.
pub(super) async fn listener_certificates(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    listener_arn: &str,
    telemetry: &ApiTelemetry,
) -> Result<Vec<ListenerCertificate>, AwsError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = client
            .describe_listener_certificates()
            .listener_arn(listener_arn)
            .page_size(PAGE_SIZE)
            .set_marker(marker.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeListenerCertificates", e))?;
        for c in page.certificates() {
            let Some(arn) = c.certificate_arn().filter(|a| !a.is_empty()) else {
                telemetry.skipped_item(
                    SERVICE,
                    "DescribeListenerCertificates",
                    "missing CertificateArn",
                );
                continue;
            };
            out.push(ListenerCertificate {
                arn: arn.to_owned(),
                is_default: c.is_default().unwrap_or(false),
            });
        }
        match page.next_marker().filter(|m| !m.is_empty()) {
            Some(next) => marker = Some(next.to_owned()),
            None => break,
        }
    }
    Ok(merged(out))
}

/// One entry per certificate: AWS lists the default certificate twice when
/// it is also in the listener's certificate list (once with IsDefault true,
/// once false). The default first, then by ARN: the same answer renders
/// the same.
fn merged(listed: Vec<ListenerCertificate>) -> Vec<ListenerCertificate> {
    let mut by_arn: std::collections::BTreeMap<String, bool> = Default::default();
    for c in listed {
        *by_arn.entry(c.arn).or_default() |= c.is_default;
    }
    let mut out: Vec<ListenerCertificate> = by_arn
        .into_iter()
        .map(|(arn, is_default)| ListenerCertificate { arn, is_default })
        .collect();
    out.sort_by(|a, b| b.is_default.cmp(&a.is_default).then(a.arn.cmp(&b.arn)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_certificate_listed_twice_is_one_entry_and_the_default() {
        let c = |arn: &str, is_default| ListenerCertificate {
            arn: arn.into(),
            is_default,
        };
        assert_eq!(
            merged(vec![
                c("b", false),
                c("c", false),
                c("a", false),
                c("c", true)
            ]),
            [c("c", true), c("a", false), c("b", false)]
        );
    }
}
