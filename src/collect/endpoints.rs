//! PrivateLink: the endpoint services of the links' NLBs and API Gateway's
//! endpoint connections to them.

use async_trait::async_trait;

use super::{Collector, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::inventory::Inventory;
use crate::topology::Topology;

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
        let nlbs = Topology::build(known).network_load_balancers();
        if nlbs.is_empty() {
            return Ok(Fragment::EndpointServices(Vec::new()));
        }
        Ok(Fragment::EndpointServices(
            aws.endpoint_services(&nlbs).await?,
        ))
    }
}
