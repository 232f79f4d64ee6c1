//! VPC links of REST APIs (V1) and HTTP APIs (V2).

use async_trait::async_trait;

use super::{Collector, Fragment};
use crate::aws::{AwsError, AwsScope};

pub struct VpcLinks;

#[async_trait]
impl Collector for VpcLinks {
    fn name(&self) -> &'static str {
        "vpc_links"
    }

    async fn collect(&self, aws: &AwsScope) -> Result<Fragment, AwsError> {
        let (mut links, http) = tokio::try_join!(aws.rest_vpc_links(), aws.http_vpc_links())?;
        links.extend(http);
        Ok(Fragment::VpcLinks(links))
    }
}
