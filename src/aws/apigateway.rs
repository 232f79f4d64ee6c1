//! API Gateway (REST APIs): VPC links V1.

use super::{AwsError, telemetry::ApiTelemetry};
use crate::inventory::{ApiType, VpcLink, normalize_state};

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
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("apigateway", "GetVpcLinks", e))?;
        for item in page.items() {
            let Some(id) = item.id().filter(|id| !id.is_empty()) else {
                telemetry.skipped_item("apigateway", "GetVpcLinks", "missing id");
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
            });
        }
    }
    Ok(links)
}
