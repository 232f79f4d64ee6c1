//! Load balancers the VPC links lead to (or all, by config): state,
//! listeners, target groups and target health.

use async_trait::async_trait;

use super::{Collector, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::config::LoadBalancerScope;
use crate::inventory::{Inventory, LoadBalancing};
use crate::topology::Topology;

pub struct LoadBalancers {
    pub scope: LoadBalancerScope,
}

#[async_trait]
impl Collector for LoadBalancers {
    fn name(&self) -> &'static str {
        "load_balancers"
    }

    fn stage(&self) -> u8 {
        1
    }

    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError> {
        let lb = match self.scope {
            LoadBalancerScope::All => aws.load_balancing(None).await?,
            LoadBalancerScope::Linked => {
                let wanted = Topology::build(known).linked_load_balancers();
                if wanted.is_empty() {
                    // No link leads anywhere: nothing to ask AWS.
                    LoadBalancing::default()
                } else {
                    aws.load_balancing(Some(&wanted)).await?
                }
            }
        };
        Ok(Fragment::LoadBalancing(lb))
    }
}
