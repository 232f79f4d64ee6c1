//! CloudWatch GetMetricData, up to 500 queries per call (the API's maximum),
//! every page. The SDK speaks Smithy RPC v2 CBOR to CloudWatch.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_smithy_types::DateTime;

use super::error::AwsError;
use super::telemetry::ApiTelemetry;
use crate::inventory::MetricQuery;

/// The API's maximum queries per GetMetricData call.
pub const MAX_QUERIES_PER_CALL: usize = 500;

/// The newest datapoint (timestamp in seconds, value) of each query in
/// `[start_s, end_s)` whose value `keep` accepts, `None` where CloudWatch
/// has none; in the order of `queries`.
pub(super) async fn newest_datapoints(
    client: &aws_sdk_cloudwatch::Client,
    telemetry: &ApiTelemetry,
    queries: &[MetricQuery],
    (start_s, end_s): (i64, i64),
    period_s: i32,
    keep: fn(f64) -> bool,
) -> Result<Vec<Option<(i64, f64)>>, AwsError> {
    let mut newest: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    for (chunk_index, chunk) in queries.chunks(MAX_QUERIES_PER_CALL).enumerate() {
        let offset = chunk_index * MAX_QUERIES_PER_CALL;
        let data_queries: Vec<MetricDataQuery> = chunk
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let metric = Metric::builder()
                    .namespace(&q.namespace)
                    .metric_name(&q.metric)
                    .set_dimensions(Some(
                        q.dimensions
                            .iter()
                            .map(|(k, v)| Dimension::builder().name(k).value(v).build())
                            .collect(),
                    ))
                    .build();
                MetricDataQuery::builder()
                    .id(format!("q{}", offset + i))
                    .metric_stat(
                        MetricStat::builder()
                            .metric(metric)
                            .period(period_s)
                            .stat(&q.stat)
                            .build(),
                    )
                    .return_data(true)
                    .build()
            })
            .collect();
        let mut token: Option<String> = None;
        loop {
            telemetry.metrics_requested(chunk.len() as u64);
            let page = client
                .get_metric_data()
                .set_metric_data_queries(Some(data_queries.clone()))
                .start_time(DateTime::from_secs(start_s))
                .end_time(DateTime::from_secs(end_s))
                .scan_by(ScanBy::TimestampDescending)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("cloudwatch", "GetMetricData", e))?;
            for result in page.metric_data_results() {
                let Some(index) = result
                    .id()
                    .and_then(|id| id.strip_prefix('q'))
                    .and_then(|n| n.parse::<usize>().ok())
                else {
                    continue;
                };
                for (ts, value) in result.timestamps().iter().zip(result.values()) {
                    if !keep(*value) {
                        continue;
                    }
                    let ts = ts.as_secs_f64();
                    if newest.get(&index).is_none_or(|(t, _)| ts > *t) {
                        newest.insert(index, (ts, *value));
                    }
                }
            }
            match page.next_token().filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
    }
    Ok((0..queries.len())
        .map(|i| newest.get(&i).map(|(t, v)| (*t as i64, *v)))
        .collect())
}
