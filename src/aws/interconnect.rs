//! AWS Interconnect – multicloud: connections and environments. The service
//! speaks Smithy RPC v2 CBOR; the SDK handles the protocol.

use aws_sdk_interconnect::types::{AttachPoint, Provider};

use super::AwsError;
use crate::inventory::{
    Interconnect, InterconnectConnection, InterconnectEnvironment, normalize_state, parse_bandwidth,
};

/// Page size for the list calls.
const PAGE_SIZE: i32 = 100;

pub(super) async fn inventory(
    client: &aws_sdk_interconnect::Client,
) -> Result<Interconnect, AwsError> {
    let (connections, environments) = tokio::try_join!(connections(client), environments(client))?;
    Ok(Interconnect {
        connections,
        environments,
    })
}

fn provider_name(provider: Option<&Provider>) -> String {
    match provider {
        Some(Provider::CloudServiceProvider(name)) | Some(Provider::LastMileProvider(name)) => {
            name.clone()
        }
        Some(_) => "unknown".to_owned(),
        None => String::new(),
    }
}

fn attach_point_name(point: Option<&AttachPoint>) -> String {
    match point {
        Some(AttachPoint::DirectConnectGateway(id)) => id.clone(),
        Some(AttachPoint::Arn(arn)) => arn.clone(),
        Some(_) => "unknown".to_owned(),
        None => String::new(),
    }
}

async fn connections(
    client: &aws_sdk_interconnect::Client,
) -> Result<Vec<InterconnectConnection>, AwsError> {
    let mut pages = client
        .list_connections()
        .max_results(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("interconnect", "ListConnections", e))?;
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
            });
        }
    }
    Ok(out)
}

async fn environments(
    client: &aws_sdk_interconnect::Client,
) -> Result<Vec<InterconnectEnvironment>, AwsError> {
    let mut pages = client
        .list_environments()
        .max_results(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk("interconnect", "ListEnvironments", e))?;
        for e in page.environments() {
            out.push(InterconnectEnvironment {
                id: e.environment_id().to_owned(),
                provider: provider_name(e.provider()),
                location: e.location().to_owned(),
                state: normalize_state(e.state().as_str()),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
