//! CloudWatch Logs: FilterLogEvents, every page.

use super::error::AwsError;
use super::listing::Listing;
use super::telemetry::ApiTelemetry;
use crate::logs::LogEvent;

/// The API's maximum events per page.
const PAGE_SIZE: i32 = 10_000;

pub(super) async fn events(
    client: &aws_sdk_cloudwatchlogs::Client,
    group: &str,
    start_ms: i64,
    end_ms: i64,
    pattern: Option<&str>,
    telemetry: &ApiTelemetry,
) -> Result<Vec<LogEvent>, AwsError> {
    let mut pages = client
        .filter_log_events()
        .log_group_name(group)
        .start_time(start_ms)
        .end_time(end_ms)
        .set_filter_pattern(pattern.map(str::to_owned))
        .limit(PAGE_SIZE)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    let call = Listing::new(telemetry, "cloudwatchlogs", "FilterLogEvents");
    while let Some(page) = call.page(pages.next().await)? {
        for e in page.events() {
            // An event without an id cannot be de-duplicated; without a
            // timestamp it cannot be placed. Neither happens in practice;
            // were it to, it is counted, never silently lost.
            let (Some(id), Some(ts)) = (e.event_id().filter(|i| !i.is_empty()), e.timestamp())
            else {
                let reason = if e.timestamp().is_none() {
                    "missing timestamp"
                } else {
                    "missing eventId"
                };
                call.skipped(reason);
                continue;
            };
            out.push(LogEvent {
                id: id.to_owned(),
                timestamp_ms: ts,
                message: e.message().unwrap_or_default().as_bytes().to_vec(),
            });
        }
    }
    Ok(out)
}
