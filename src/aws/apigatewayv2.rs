//! API Gateway V2 (HTTP APIs): VPC links V2, and the HTTP APIs with their
//! integrations and stages. The list calls of this API have no SDK
//! paginator, so this follows `nextToken` itself.

use super::error::AwsError;
use super::listing::Listing;
use super::telemetry::ApiTelemetry;
use crate::inventory::{ApiRef, ApiType, Integration, Stage, VpcLink, normalize_state};

/// Page size for GetVpcLinks (a string in this API).
const PAGE_SIZE: &str = "500";

/// Stops a server that keeps answering with the same token from looping forever.
const MAX_PAGES: usize = 10_000;

/// Follows `nextToken` through every page of an apigatewayv2 list call.
macro_rules! all_pages {
    ($operation:literal, |$token:ident| $request:expr, |$page:ident| $items:expr) => {{
        let mut items = Vec::new();
        let mut $token: Option<String> = None;
        let mut done = false;
        for _ in 0..MAX_PAGES {
            let $page = $request
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("apigatewayv2", $operation, e))?;
            items.extend($items);
            match $page.next_token().filter(|t| !t.is_empty()) {
                Some(next) => $token = Some(next.to_owned()),
                None => {
                    done = true;
                    break;
                }
            }
        }
        if !done {
            return Err(AwsError {
                service: "apigatewayv2",
                operation: $operation,
                code: None,
                message: format!("still paging after {MAX_PAGES} pages; giving up"),
            });
        }
        items
    }};
}

pub(super) async fn vpc_links(
    client: &aws_sdk_apigatewayv2::Client,
    telemetry: &ApiTelemetry,
) -> Result<Vec<VpcLink>, AwsError> {
    Ok(all_pages!(
        "GetVpcLinks",
        |token| client
            .get_vpc_links()
            .max_results(PAGE_SIZE)
            .set_next_token(token.take()),
        |page| page
            .items()
            .iter()
            .filter_map(|item| {
                let id = Listing::new(telemetry, "apigatewayv2", "GetVpcLinks")
                    .named(item.vpc_link_id(), "id")?;
                Some(VpcLink {
                    id: id.to_owned(),
                    name: item.name().unwrap_or_default().to_owned(),
                    api_type: ApiType::Http,
                    status: normalize_state(
                        item.vpc_link_status()
                            .map(|s| s.as_str())
                            .unwrap_or_default(),
                    ),
                    status_message: item.vpc_link_status_message().map(str::to_owned),
                    target_arns: Vec::new(),
                    subnet_ids: item.subnet_ids().to_vec(),
                    security_group_ids: item.security_group_ids().to_vec(),
                    tags: super::listing::tag_map(item.tags()),
                })
            })
            .collect::<Vec<_>>()
    ))
}

/// Every HTTP API, by id and name (GetApis: one call per 500); WebSocket
/// APIs have no VPC-link integrations to follow.
pub(super) async fn list(
    client: &aws_sdk_apigatewayv2::Client,
    telemetry: &ApiTelemetry,
) -> Result<Vec<ApiRef>, AwsError> {
    Ok(all_pages!(
        "GetApis",
        |token| client
            .get_apis()
            .max_results(PAGE_SIZE)
            .set_next_token(token.take()),
        |page| page
            .items()
            .iter()
            .filter(|a| a.protocol_type().is_none_or(|p| p.as_str() == "HTTP"))
            .filter_map(|a| {
                let id =
                    Listing::new(telemetry, "apigatewayv2", "GetApis").named(a.api_id(), "id")?;
                Some(ApiRef {
                    id: id.to_owned(),
                    name: a.name().unwrap_or_default().to_owned(),
                    api_type: ApiType::Http,
                    tags: super::listing::tag_map(a.tags()),
                })
            })
            .collect::<Vec<_>>()
    ))
}

/// The VPC-link integrations of one HTTP API (GetIntegrations, every page).
pub(super) async fn integrations(
    client: &aws_sdk_apigatewayv2::Client,
    api_id: &str,
) -> Result<Vec<Integration>, AwsError> {
    Ok(all_pages!(
        "GetIntegrations",
        |token| client
            .get_integrations()
            .api_id(api_id)
            .max_results(PAGE_SIZE)
            .set_next_token(token.take()),
        |page| page
            .items()
            .iter()
            .filter(|i| i
                .connection_type()
                .is_some_and(|t| t.as_str().eq_ignore_ascii_case("VPC_LINK")))
            .map(|i| Integration {
                name: i.integration_id().unwrap_or_default().to_owned(),
                connection_id: i.connection_id().unwrap_or_default().to_owned(),
                uri: i.integration_uri().unwrap_or_default().to_owned(),
                integration_target: None,
                tls_server_name: i
                    .tls_config()
                    .and_then(|t| t.server_name_to_verify())
                    .map(str::to_owned),
                tls_config: i.tls_config().is_some(),
                insecure_skip_verification: false,
            })
            .collect::<Vec<_>>()
    ))
}

/// The stages of one HTTP API (GetStages, every page).
pub(super) async fn stages(
    client: &aws_sdk_apigatewayv2::Client,
    api_id: &str,
    telemetry: &ApiTelemetry,
) -> Result<Vec<Stage>, AwsError> {
    Ok(all_pages!(
        "GetStages",
        |token| client
            .get_stages()
            .api_id(api_id)
            .max_results(PAGE_SIZE)
            .set_next_token(token.take()),
        |page| page
            .items()
            .iter()
            .filter_map(|s| {
                let name = Listing::new(telemetry, "apigatewayv2", "GetStages")
                    .named(s.stage_name(), "stageName")?;
                Some(Stage {
                    name: name.to_owned(),
                    deployment_id: s.deployment_id().map(str::to_owned),
                    variables: s
                        .stage_variables()
                        .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default(),
                    logging_level: None,
                    access_log_arn: s
                        .access_log_settings()
                        .and_then(|a| a.destination_arn())
                        .map(str::to_owned),
                    access_log_format: s
                        .access_log_settings()
                        .and_then(|a| a.format())
                        .map(str::to_owned),
                })
            })
            .collect::<Vec<_>>()
    ))
}
