//! VPC links of REST APIs (V1) and HTTP APIs (V2), and the APIs whose
//! integrations use them (with their stages).

use async_trait::async_trait;

use super::{Collector, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::inventory::Inventory;

pub struct VpcLinks;

#[async_trait]
impl Collector for VpcLinks {
    fn name(&self) -> &'static str {
        "vpc_links"
    }

    async fn collect(&self, aws: &AwsScope, _known: &Inventory) -> Result<Fragment, AwsError> {
        let (mut links, http, apis) =
            tokio::try_join!(aws.rest_vpc_links(), aws.http_vpc_links(), aws.apis())?;
        links.extend(http);
        Ok(Fragment::VpcLinks(links, apis))
    }
}
