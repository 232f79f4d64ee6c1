//! AWS Interconnect – multicloud: connections, environments, the attach
//! points of the environments that have connections, and (with
//! `tags_as_labels`) each connection's tags. The service speaks Smithy RPC
//! v2 CBOR; the SDK handles the protocol.

use aws_sdk_interconnect::types::{AttachPoint, Provider};

use super::error::AwsError;
use super::listing::Listing;
use super::telemetry::ApiTelemetry;
use crate::inventory::{
    Interconnect, InterconnectAttachPoint, InterconnectAvailability, InterconnectConnection,
    InterconnectEnvironment, UNKNOWN_UNION_MEMBER, normalize_state, parse_bandwidth,
};

/// Page size for the list calls.
const PAGE_SIZE: i32 = 100;

/// Connections, environments, and the attach points of each environment
/// that has connections (one ListAttachPoints a page per such environment,
/// one after the other: they are few, and the quota paces them anyway).
/// A scope with neither environments nor connections is `NoEnvironments`.
///
/// With tags named in `tags`, one ListTagsForResource per connection (the
/// list carries none): a connection whose tags cannot be read is exported
/// without them this poll, and counted.
pub(super) async fn inventory(
    client: &aws_sdk_interconnect::Client,
    tags: &[String],
    telemetry: &ApiTelemetry,
) -> Result<Interconnect, AwsError> {
    let (mut connections, environments) = tokio::try_join!(
        connections(client, telemetry),
        environments(client, telemetry)
    )?;
    if !tags.is_empty() {
        for c in connections.iter_mut() {
            let read = match c.arn.as_str() {
                "" => Err("the connection has no ARN".to_owned()),
                arn => tags_of(client, arn).await.map_err(|e| e.to_string()),
            };
            match read {
                Ok(all) => c.tags = crate::tags::keep(all, tags),
                Err(e) => {
                    tracing::debug!(connection_id = %c.id, error = %e, "Interconnect connection tags unread; the last read are kept");
                    telemetry.skipped_item("interconnect", "ListTagsForResource", "read failed");
                    c.tags_unread = true;
                }
            }
        }
    }
    let mut attach_points = std::collections::BTreeMap::new();
    for environment in Interconnect::environments_with_connections(&connections) {
        let points = match attach_points_of(client, &environment, telemetry).await {
            Ok(points) => Some(points),
            // One environment's list unread leaves only its connections'
            // checks unknown, this poll: an old list would say a deleted
            // gateway is still there.
            Err(e) => {
                tracing::warn!(environment_id = %environment, error = %e, "cannot list the attach points of an Interconnect environment; its connections' attach_point_present check is unknown");
                telemetry.skipped_item("interconnect", "ListAttachPoints", "read failed");
                None
            }
        };
        attach_points.insert(environment, points);
    }
    let availability = if connections.is_empty() && environments.is_empty() {
        InterconnectAvailability::NoEnvironments
    } else {
        InterconnectAvailability::Offered
    };
    Ok(Interconnect {
        connections,
        environments,
        attach_points,
        availability,
        checked_at: 0,
        next_check_at: None,
    })
}

async fn tags_of(
    client: &aws_sdk_interconnect::Client,
    arn: &str,
) -> Result<std::collections::BTreeMap<String, String>, AwsError> {
    let out = client
        .list_tags_for_resource()
        .arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("interconnect", "ListTagsForResource", e))?;
    Ok(super::listing::tag_map(out.tags()))
}

async fn attach_points_of(
    client: &aws_sdk_interconnect::Client,
    environment_id: &str,
    telemetry: &ApiTelemetry,
) -> Result<Vec<InterconnectAttachPoint>, AwsError> {
    let mut pages = client
        .list_attach_points()
        .environment_id(environment_id)
        .max_results(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    let call = Listing::new(telemetry, "interconnect", "ListAttachPoints");
    while let Some(page) = call.page(pages.next().await)? {
        out.extend(
            page.attach_points()
                .iter()
                .map(|p| InterconnectAttachPoint {
                    kind: p.r#type().as_str().to_owned(),
                    identifier: p.identifier().to_owned(),
                    name: p.name().to_owned(),
                }),
        );
    }
    Ok(out)
}

fn provider_name(provider: Option<&Provider>) -> String {
    match provider {
        Some(Provider::CloudServiceProvider(name)) | Some(Provider::LastMileProvider(name)) => {
            name.clone()
        }
        Some(_) => UNKNOWN_UNION_MEMBER.to_owned(),
        None => String::new(),
    }
}

/// Which member of the `provider` union names the partner.
fn provider_kind(provider: Option<&Provider>) -> String {
    match provider {
        Some(Provider::CloudServiceProvider(_)) => "multicloud",
        Some(Provider::LastMileProvider(_)) => "last_mile",
        Some(_) => "unknown",
        None => "",
    }
    .to_owned()
}

fn attach_point_name(point: Option<&AttachPoint>) -> String {
    match point {
        Some(AttachPoint::DirectConnectGateway(id)) => id.clone(),
        Some(AttachPoint::Arn(arn)) => arn.clone(),
        Some(_) => UNKNOWN_UNION_MEMBER.to_owned(),
        None => String::new(),
    }
}

async fn connections(
    client: &aws_sdk_interconnect::Client,
    telemetry: &ApiTelemetry,
) -> Result<Vec<InterconnectConnection>, AwsError> {
    let mut pages = client
        .list_connections()
        .max_results(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    let call = Listing::new(telemetry, "interconnect", "ListConnections");
    while let Some(page) = call.page(pages.next().await)? {
        for c in page.connections() {
            let bandwidth_bps = parse_bandwidth(c.bandwidth());
            if bandwidth_bps.is_none() {
                tracing::warn!(
                    connection_id = c.id(),
                    bandwidth = c.bandwidth(),
                    "cannot read the bandwidth of an Interconnect connection; it is not exported"
                );
            }
            out.push(InterconnectConnection {
                id: c.id().to_owned(),
                arn: c.arn().to_owned(),
                description: c.description().to_owned(),
                provider: provider_name(c.provider()),
                location: c.location().to_owned(),
                environment_id: c.environment_id().to_owned(),
                attach_point: attach_point_name(c.attach_point()),
                state: normalize_state(c.state().as_str()),
                bandwidth: c.bandwidth().to_owned(),
                bandwidth_bps,
                product_type: c.r#type().to_owned(),
                shared_id: c.shared_id().to_owned(),
                provider_kind: provider_kind(c.provider()),
                billing_tier: c.billing_tier(),
                tags: Default::default(),
                tags_unread: false,
            });
        }
    }
    Ok(out)
}

async fn environments(
    client: &aws_sdk_interconnect::Client,
    telemetry: &ApiTelemetry,
) -> Result<Vec<InterconnectEnvironment>, AwsError> {
    let mut pages = client
        .list_environments()
        .max_results(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    let call = Listing::new(telemetry, "interconnect", "ListEnvironments");
    while let Some(page) = call.page(pages.next().await)? {
        for e in page.environments() {
            let bandwidths = e.bandwidths();
            out.push(InterconnectEnvironment {
                id: e.environment_id().to_owned(),
                provider: provider_name(e.provider()),
                provider_kind: provider_kind(e.provider()),
                location: e.location().to_owned(),
                state: normalize_state(e.state().as_str()),
                product_type: e.r#type().to_owned(),
                bandwidths_supported: bandwidths
                    .map_or_else(Vec::new, |b| slowest_first(b.supported())),
                bandwidths_available: bandwidths
                    .map_or_else(Vec::new, |b| slowest_first(b.available())),
                remote_identifier_type: e
                    .remote_identifier_type()
                    .map_or_else(String::new, |t| normalize_state(t.as_str())),
            });
        }
    }
    Ok(out)
}

/// Bandwidths in one order whatever order AWS lists them in (slowest
/// first; what does not parse last, by name), so that a reordered list is
/// not a changed label (`available_bandwidths` is part of an alert).
fn slowest_first(bandwidths: &[String]) -> Vec<String> {
    let mut out = bandwidths.to_vec();
    out.sort_by(|a, b| {
        let (x, y) = (parse_bandwidth(a), parse_bandwidth(b));
        match (x, y) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
        .then_with(|| a.cmp(b))
    });
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidths_are_ordered_slowest_first_whatever_aws_sent() {
        let listed = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            slowest_first(&listed(&["10Gbps", "500Mbps", "1Gbps", "odd", "500Mbps"])),
            ["500Mbps", "1Gbps", "10Gbps", "odd"]
        );
    }

    /// Every member of the model's `ConnectionSummary`, `Environment` and
    /// `AttachPointDescriptor` (the SDK's types), and what becomes of it: exported (where), or not and why.
    /// docs/metrics.md lists the same; the tests hold both to the SDK.
    const MODEL_MEMBERS: &[(&str, &str, &str)] = &[
        ("ConnectionSummary", "id", "label `connection_id`"),
        (
            "ConnectionSummary",
            "arn",
            "not exported: `connection_id` with `account` and `region` names the connection",
        ),
        (
            "ConnectionSummary",
            "description",
            "`awsconn_interconnect_connection_info{description}`",
        ),
        (
            "ConnectionSummary",
            "bandwidth",
            "`awsconn_interconnect_connection_bandwidth_bytes_per_second`",
        ),
        (
            "ConnectionSummary",
            "attach_point",
            "`awsconn_interconnect_connection_info{attach_point}`",
        ),
        (
            "ConnectionSummary",
            "environment_id",
            "`awsconn_interconnect_connection_info{environment_id}`",
        ),
        (
            "ConnectionSummary",
            "provider",
            "`awsconn_interconnect_connection_info{provider, provider_kind}`",
        ),
        (
            "ConnectionSummary",
            "location",
            "`awsconn_interconnect_connection_info{location}`",
        ),
        (
            "ConnectionSummary",
            "type",
            "`awsconn_interconnect_connection_info{type}`",
        ),
        (
            "ConnectionSummary",
            "state",
            "`awsconn_interconnect_connection_state`",
        ),
        (
            "ConnectionSummary",
            "shared_id",
            "`awsconn_interconnect_connection_info{shared_id}`",
        ),
        (
            "ConnectionSummary",
            "billing_tier",
            "`awsconn_interconnect_connection_billing_tier`",
        ),
        (
            "Environment",
            "provider",
            "`awsconn_interconnect_environment_info{provider, provider_kind}`",
        ),
        (
            "Environment",
            "location",
            "`awsconn_interconnect_environment_info{location}`",
        ),
        ("Environment", "environment_id", "label `environment_id`"),
        (
            "Environment",
            "state",
            "`awsconn_interconnect_environment_state`",
        ),
        (
            "Environment",
            "bandwidths",
            "`awsconn_interconnect_environment_bandwidth_info`",
        ),
        (
            "Environment",
            "type",
            "`awsconn_interconnect_environment_info{type}`",
        ),
        (
            "Environment",
            "activation_page_url",
            "not exported: a page of the partner's console for making a connection, not a state",
        ),
        (
            "Environment",
            "remote_identifier_type",
            "`awsconn_interconnect_environment_info{remote_identifier_type}`",
        ),
        (
            "AttachPointDescriptor",
            "type",
            "not exported: the identifier's form (a gateway UUID, an ARN) says it",
        ),
        (
            "AttachPointDescriptor",
            "identifier",
            "compared with the connection's `attach_point`: `awsconn_interconnect_connection_check{check=\"attach_point_present\"}`",
        ),
        (
            "AttachPointDescriptor",
            "name",
            "`awsconn_interconnect_connection_check{attach_point_name}`",
        ),
    ];

    /// The field names of a derived `Debug` text (`Name { a: .., b: .. }`),
    /// at the outer level only.
    fn debug_fields(text: &str) -> Vec<String> {
        let body = &text[text.find('{').unwrap() + 1..text.rfind('}').unwrap()];
        let (mut depth, mut out, mut word) = (0, Vec::new(), String::new());
        let mut chars = body.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' | '[' | '(' => depth += 1,
                '}' | ']' | ')' => depth -= 1,
                '"' => {
                    // Skip a string, escapes included.
                    while let Some(s) = chars.next() {
                        match s {
                            '\\' => {
                                chars.next();
                            }
                            '"' => break,
                            _ => {}
                        }
                    }
                }
                ':' if depth == 0 && !word.is_empty() => out.push(std::mem::take(&mut word)),
                c if depth == 0 && (c.is_alphanumeric() || c == '_') => word.push(c),
                _ if depth == 0 => word.clear(),
                _ => {}
            }
        }
        out
    }

    /// Every member of the SDK's types is in MODEL_MEMBERS and the other
    /// way round, and docs/metrics.md names each not exported one.
    #[test]
    fn every_model_member_is_exported_or_said_why_not() {
        use aws_sdk_interconnect::types::{
            AttachPointDescriptor, AttachPointType, Bandwidths, ConnectionState, ConnectionSummary,
            Environment, EnvironmentState,
        };
        let connection = ConnectionSummary::builder()
            .id("mcc-abcdefgh")
            .arn("arn")
            .description("d")
            .bandwidth("1Gbps")
            .environment_id("e")
            .location("l")
            .r#type("t")
            .state(ConnectionState::Available)
            .shared_id("s")
            .build()
            .unwrap();
        let environment = Environment::builder()
            .location("l")
            .environment_id("e")
            .state(EnvironmentState::Available)
            .bandwidths(Bandwidths::builder().build())
            .r#type("t")
            .build()
            .unwrap();
        let attach_point = AttachPointDescriptor::builder()
            .r#type(AttachPointType::DirectConnectGateway)
            .identifier("i")
            .name("n")
            .build()
            .unwrap();
        let docs = include_str!("../../docs/metrics.md");
        for (name, debug) in [
            ("ConnectionSummary", format!("{connection:?}")),
            ("Environment", format!("{environment:?}")),
            ("AttachPointDescriptor", format!("{attach_point:?}")),
        ] {
            let mut sdk = debug_fields(&debug);
            sdk.sort();
            let mut listed: Vec<String> = MODEL_MEMBERS
                .iter()
                .filter(|(t, _, _)| *t == name)
                .map(|(_, m, _)| (*m).to_owned())
                .collect();
            listed.sort();
            assert_eq!(
                sdk, listed,
                "{name}: the SDK's members against MODEL_MEMBERS"
            );
        }
        for (name, member, whither) in MODEL_MEMBERS {
            let row = format!("| `{name}` | `{member}` | {whither} |");
            assert!(docs.contains(&row), "docs/metrics.md lacks the row {row}");
        }
    }

    #[test]
    fn provider_kinds() {
        assert_eq!(
            provider_kind(Some(&Provider::CloudServiceProvider("google".into()))),
            "multicloud"
        );
        assert_eq!(
            provider_kind(Some(&Provider::LastMileProvider("lumen".into()))),
            "last_mile"
        );
        assert_eq!(provider_kind(None), "");
    }

    #[test]
    fn union_values() {
        assert_eq!(
            provider_name(Some(&Provider::CloudServiceProvider("google".into()))),
            "google"
        );
        assert_eq!(
            provider_name(Some(&Provider::LastMileProvider("lumen".into()))),
            "lumen"
        );
        assert_eq!(
            attach_point_name(Some(&AttachPoint::DirectConnectGateway("dxgw-1".into()))),
            "dxgw-1"
        );
        assert_eq!(
            attach_point_name(Some(&AttachPoint::Arn("arn:aws:x".into()))),
            "arn:aws:x"
        );
        assert_eq!(attach_point_name(None), "");
    }
}
