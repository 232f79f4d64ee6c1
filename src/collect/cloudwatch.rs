//! CloudWatch metrics for the resources the inventory found (the default
//! set) and the ones the config adds, in as few GetMetricData calls as the
//! API allows (500 queries each).

use async_trait::async_trait;

use super::collector::{Collector, Descriptor, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::cloudwatch::{
    current_value, default_queries, last_requests, link_activity_queries, query_range,
};
use crate::config::CloudWatchConfig;
use crate::inventory::{DAY_S, Inventory, LinkActivity, MetricQuery, Scope};
use crate::render::{DynamicFamily, Families, Snapshot};
use crate::topology::Topology;
use std::collections::BTreeMap;
use std::sync::Arc;

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

impl CloudWatch {
    /// When requests last went through each V2 link's APIs: asked again once
    /// the last answer is older than `link_activity_refresh` or the links
    /// changed, else the last answer is kept (it has a one-day resolution).
    async fn link_activity(
        &self,
        aws: &AwsScope,
        known: &Inventory,
        now: i64,
    ) -> Result<Option<LinkActivity>, AwsError> {
        let window = self.config.link_activity_window.as_secs() as i64;
        if window == 0 {
            return Ok(None);
        }
        let queries = link_activity_queries(&crate::topology::Topology::build(known));
        let links: std::collections::BTreeSet<&String> =
            queries.iter().flat_map(|(_, links)| links).collect();
        let refresh = self.config.link_activity_refresh.as_secs() as i64;
        if let Some(last) = &known.link_activity {
            let same_links = last
                .last_request
                .keys()
                .collect::<std::collections::BTreeSet<_>>()
                == links;
            if same_links && last.window_s == window && now - last.checked_at < refresh {
                return Ok(Some(last.clone()));
            }
        }
        let mut activity = LinkActivity {
            checked_at: now,
            window_s: window,
            last_request: Default::default(),
        };
        if !queries.is_empty() {
            let start = (now - window).div_euclid(DAY_S) * DAY_S;
            let metric_queries: Vec<MetricQuery> = queries.iter().map(|(q, _)| q.clone()).collect();
            let newest: Vec<Option<i64>> = aws
                .newest_datapoints(&metric_queries, (start, now), DAY_S as i32, |v| v > 0.0)
                .await?
                .into_iter()
                .map(|d| d.map(|(day, _)| day))
                .collect();
            activity.last_request = last_requests(&queries, &newest);
        }
        Ok(Some(activity))
    }
}

#[async_trait]
impl Collector for CloudWatch {
    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError> {
        let now = super::collector::unix_seconds();
        let activity = self.link_activity(aws, known, now).await?;
        let queries = self.queries(known);
        if queries.is_empty() {
            return Ok(Fragment::CloudWatch(Vec::new(), activity));
        }
        let period = self.config.period.as_secs() as i64;
        let (start, end) = query_range(
            now,
            period,
            self.config.delay.as_secs() as i64,
            self.config.lookback.as_secs() as i64,
        );
        let newest = aws
            .newest_datapoints(
                &queries,
                (start, end),
                i32::try_from(period).unwrap_or(60),
                |_| true,
            )
            .await?;
        let newest_period = end - period;
        Ok(Fragment::CloudWatch(
            queries
                .into_iter()
                .zip(newest)
                .filter_map(|(q, d)| {
                    let value = current_value(&q, d?, newest_period);
                    Some((q, value))
                })
                .collect(),
            activity,
        ))
    }
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    name: awsconn_catalogue::collector::CLOUDWATCH,
    stage: 3,
    operations: &[("cloudwatch", "GetMetricData")],
    schedule: |c| c.cloudwatch.schedule(),
    build: |config| {
        Arc::new(CloudWatch {
            config: config.collectors.cloudwatch.clone(),
        })
    },
    forget: |inventory| {
        inventory.cloudwatch = None;
        inventory.link_activity = None;
    },
    // Its families are named after the metrics asked for; the link
    // activity shows in the checks.
    render,
};

/// The CloudWatch families of one scope, one per metric name
/// (`awsconn_cloudwatch_<namespace>_<metric>_<stat>`, dimensions as labels).
fn render(f: &mut Families, scope: &Scope, topology: &Topology, _: &Snapshot) {
    let mut by_name: BTreeMap<String, DynamicFamily> = BTreeMap::new();
    for (query, value) in topology.inventory.cloudwatch.iter().flatten() {
        let name = query.metric_name();
        let family = by_name
            .entry(name.clone())
            .or_insert_with(|| DynamicFamily {
                name,
                help: format!(
                    "CloudWatch {} {} ({}), newest complete period",
                    query.namespace, query.metric, query.stat
                ),
                samples: Vec::new(),
            });
        let mut labels = vec![
            ("account".to_owned(), scope.account.clone()),
            ("region".to_owned(), scope.region.clone()),
        ];
        for (k, v) in &query.dimensions {
            let key = crate::cloudwatch::snake_case(k);
            // A dimension named like a scope label keeps both, distinguishable.
            let key = if key == "account" || key == "region" {
                format!("dimension_{key}")
            } else {
                key
            };
            labels.push((key, v.clone()));
        }
        // Label sets must be unique within a family.
        if !family.samples.iter().any(|(l, _)| *l == labels) {
            family.samples.push((labels, *value));
        }
    }
    for family in by_name.into_values() {
        f.add_dynamic(family);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudwatch_metrics_become_snake_case_families() {
        let scope = crate::testkit::scope();
        let query = MetricQuery {
            namespace: "AWS/PrivateLinkServices".into(),
            metric: "RstPacketsSent".into(),
            stat: "Sum".into(),
            dimensions: vec![("Service Id".into(), "vpce-svc-1".into())],
        };
        let inventory = Inventory {
            cloudwatch: Some(vec![(query, 7.0)]),
            ..Default::default()
        };
        let mut families = Families::default();
        render(
            &mut families,
            &scope,
            &Topology::build(&inventory),
            &Snapshot::default(),
        );
        let encoded = families.encode();
        let text = crate::testkit::encoded_text(&encoded);
        assert!(
            text.contains(
                "# TYPE awsconn_cloudwatch_aws_private_link_services_rst_packets_sent_sum_per_period gauge"
            ),
            "{text}"
        );
        assert!(text.contains(
            "awsconn_cloudwatch_aws_private_link_services_rst_packets_sent_sum_per_period{account=\"123456789012\",region=\"us-east-1\",service_id=\"vpce-svc-1\"} 7"
        ), "{text}");
    }
}
