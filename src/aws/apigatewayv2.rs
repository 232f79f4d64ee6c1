//! API Gateway V2 (HTTP APIs): VPC links V2. The list calls of this API have
//! no SDK paginator, so this follows `nextToken` itself.

use super::{AwsError, telemetry::ApiTelemetry};
use crate::inventory::{ApiType, VpcLink, normalize_state};

/// Page size for GetVpcLinks (a string in this API).
const PAGE_SIZE: &str = "500";

/// Stops a server that keeps answering with the same token from looping forever.
const MAX_PAGES: usize = 10_000;

pub(super) async fn vpc_links(
    client: &aws_sdk_apigatewayv2::Client,
    telemetry: &ApiTelemetry,
) -> Result<Vec<VpcLink>, AwsError> {
    let mut links = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = client
            .get_vpc_links()
            .max_results(PAGE_SIZE)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("apigatewayv2", "GetVpcLinks", e))?;
        for item in page.items() {
            let Some(id) = item.vpc_link_id().filter(|id| !id.is_empty()) else {
                telemetry.skipped_item("apigatewayv2", "GetVpcLinks", "missing id");
                continue;
            };
            links.push(VpcLink {
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
            });
        }
        match page.next_token().filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next.to_owned()),
            None => return Ok(links),
        }
    }
    Err(AwsError {
        service: "apigatewayv2",
        operation: "GetVpcLinks",
        code: None,
        message: format!("still paging after {MAX_PAGES} pages; giving up"),
    })
}
