//! AWS Interconnect – multicloud connections and environments.

use async_trait::async_trait;

use super::{Collector, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::inventory::Inventory;

pub struct InterconnectCollector;

#[async_trait]
impl Collector for InterconnectCollector {
    fn name(&self) -> &'static str {
        "interconnect"
    }

    async fn collect(&self, aws: &AwsScope, _known: &Inventory) -> Result<Fragment, AwsError> {
        Ok(Fragment::Interconnect(aws.interconnect().await?))
    }
}
