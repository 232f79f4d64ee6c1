//! CloudWatch metrics for the resources the inventory found (the default
//! set) and the ones the config adds, in as few GetMetricData calls as the
//! API allows (500 queries each).

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::{Collector, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::cloudwatch::{MetricQuery, default_queries, query_range};
use crate::config::CloudWatchConfig;
use crate::inventory::Inventory;

pub struct CloudWatch {
    pub config: CloudWatchConfig,
}

impl CloudWatch {
    fn queries(&self, known: &Inventory) -> Vec<MetricQuery> {
        let mut queries = if self.config.default_metrics {
            default_queries(known)
        } else {
            Vec::new()
        };
        for m in &self.config.metrics {
            let query = MetricQuery {
                namespace: m.namespace.clone(),
                metric: m.metric.clone(),
                stat: m.stat.clone(),
                dimensions: m
                    .dimensions
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            };
            if !queries.contains(&query) {
                queries.push(query);
            }
        }
        queries
    }
}

#[async_trait]
impl Collector for CloudWatch {
    fn name(&self) -> &'static str {
        "cloudwatch"
    }

    /// After the load balancers (1) and endpoint services (2) it builds queries for.
    fn stage(&self) -> u8 {
        3
    }

    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError> {
        let queries = self.queries(known);
        if queries.is_empty() {
            return Ok(Fragment::CloudWatch(Vec::new()));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let period = self.config.period.as_secs() as i64;
        let (start, end) = query_range(
            now,
            period,
            self.config.delay.as_secs() as i64,
            self.config.lookback.as_secs() as i64,
        );
        let values = aws
            .metric_values(&queries, start, end, i32::try_from(period).unwrap_or(60))
            .await?;
        Ok(Fragment::CloudWatch(
            queries
                .into_iter()
                .zip(values)
                .filter_map(|(q, v)| v.map(|v| (q, v)))
                .collect(),
        ))
    }
}
