//! PrivateLink: the endpoint services of the links' NLBs and API Gateway's
//! endpoint connections to them.

use std::collections::BTreeSet;

use async_trait::async_trait;

use super::{Collector, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::inventory::Inventory;

pub struct Endpoints;

#[async_trait]
impl Collector for Endpoints {
    fn name(&self) -> &'static str {
        "endpoints"
    }

    fn stage(&self) -> u8 {
        2
    }

    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError> {
        let nlbs: BTreeSet<String> = known
            .load_balancing
            .iter()
            .flat_map(|lb| &lb.load_balancers)
            .filter(|lb| lb.lb_type == "network")
            .map(|lb| lb.arn.clone())
            .chain(
                known
                    .vpc_links
                    .iter()
                    .flatten()
                    .flat_map(|l| l.target_arns.iter().cloned()),
            )
            .collect();
        if nlbs.is_empty() {
            return Ok(Fragment::EndpointServices(Vec::new()));
        }
        Ok(Fragment::EndpointServices(
            aws.endpoint_services(&nlbs).await?,
        ))
    }
}
