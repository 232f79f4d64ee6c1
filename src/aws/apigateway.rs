//! API Gateway (REST APIs): VPC links V1, and the REST APIs with their
//! integrations and stages.

use super::error::AwsError;
use super::listing::Listing;
use super::telemetry::ApiTelemetry;
use crate::inventory::{ApiRef, ApiType, Integration, Stage, VpcLink, normalize_state};

/// Page size for GetVpcLinks: the API's maximum, so a poll costs as few calls as it can.
const PAGE_SIZE: i32 = 500;

pub(super) async fn vpc_links(
    client: &aws_sdk_apigateway::Client,
    telemetry: &ApiTelemetry,
) -> Result<Vec<VpcLink>, AwsError> {
    let mut pages = client
        .get_vpc_links()
        .limit(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut links = Vec::new();
    let call = Listing::new(telemetry, "apigateway", "GetVpcLinks");
    while let Some(page) = call.page(pages.next().await)? {
        for item in page.items() {
            let Some(id) = call.named(item.id(), "id") else {
                continue;
            };
            links.push(VpcLink {
                id: id.to_owned(),
                name: item.name().unwrap_or_default().to_owned(),
                api_type: ApiType::Rest,
                status: normalize_state(item.status().map(|s| s.as_str()).unwrap_or_default()),
                status_message: item.status_message().map(str::to_owned),
                target_arns: item.target_arns().to_vec(),
                subnet_ids: Vec::new(),
                security_group_ids: Vec::new(),
                tags: super::listing::tag_map(item.tags()),
            });
        }
    }
    Ok(links)
}

/// Every REST API, by id and name (GetRestApis: one call per 500).
pub(super) async fn list(
    client: &aws_sdk_apigateway::Client,
    telemetry: &ApiTelemetry,
) -> Result<Vec<ApiRef>, AwsError> {
    let mut pages = client
        .get_rest_apis()
        .limit(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    let call = Listing::new(telemetry, "apigateway", "GetRestApis");
    while let Some(page) = call.page(pages.next().await)? {
        for api in page.items() {
            let Some(id) = call.named(api.id(), "id") else {
                continue;
            };
            out.push(ApiRef {
                id: id.to_owned(),
                name: api.name().unwrap_or_default().to_owned(),
                api_type: ApiType::Rest,
                tags: super::listing::tag_map(api.tags()),
            });
        }
    }
    Ok(out)
}

/// The VPC-link integrations of one REST API (GetResources with its
/// methods embedded, every page).
pub(super) async fn integrations(
    client: &aws_sdk_apigateway::Client,
    api_id: &str,
) -> Result<Vec<Integration>, AwsError> {
    let mut pages = client
        .get_resources()
        .rest_api_id(api_id)
        .embed("methods")
        .limit(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("apigateway", "GetResources", e))?;
        for resource in page.items() {
            let path = resource.path().unwrap_or("/");
            let mut methods: Vec<_> = resource.resource_methods().into_iter().flatten().collect();
            methods.sort_by(|a, b| a.0.cmp(b.0));
            for (verb, method) in methods {
                let Some(integration) = method.method_integration() else {
                    continue;
                };
                let is_vpc_link = integration
                    .connection_type()
                    .is_some_and(|t| t.as_str().eq_ignore_ascii_case("VPC_LINK"));
                if !is_vpc_link {
                    continue;
                }
                out.push(Integration {
                    name: format!("{verb} {path}"),
                    connection_id: integration.connection_id().unwrap_or_default().to_owned(),
                    uri: integration.uri().unwrap_or_default().to_owned(),
                    integration_target: integration.integration_target().map(str::to_owned),
                    tls_server_name: None,
                    // A REST integration speaks TLS when its URI is `https`.
                    tls_config: false,
                    insecure_skip_verification: integration
                        .tls_config()
                        .is_some_and(|t| t.insecure_skip_verification()),
                });
            }
        }
    }
    Ok(out)
}

/// The stages of one REST API (GetStages).
pub(super) async fn stages(
    client: &aws_sdk_apigateway::Client,
    api_id: &str,
    telemetry: &ApiTelemetry,
) -> Result<Vec<Stage>, AwsError> {
    let out = client
        .get_stages()
        .rest_api_id(api_id)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("apigateway", "GetStages", e))?;
    let call = Listing::new(telemetry, "apigateway", "GetStages");
    Ok(out
        .item()
        .iter()
        .filter_map(|stage| {
            let name = call.named(stage.stage_name(), "stageName")?;
            Some(Stage {
                name: name.to_owned(),
                deployment_id: stage.deployment_id().map(str::to_owned),
                variables: stage
                    .variables()
                    .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                logging_level: stage
                    .method_settings()
                    .and_then(|m| m.get("*/*"))
                    .and_then(|s| s.logging_level())
                    .map(normalize_state),
                access_log_arn: stage
                    .access_log_settings()
                    .and_then(|a| a.destination_arn())
                    .map(str::to_owned),
                access_log_format: stage
                    .access_log_settings()
                    .and_then(|a| a.format())
                    .map(str::to_owned),
            })
        })
        .collect())
}
