//! AWS's request quotas: an account with 300 REST APIs and 100 execution-log
//! groups, polled through a front that throttles as AWS does (a token
//! bucket per access key, region and quota), is read without one
//! throttled answer; its first read is spread over several polls by the
//! quota, then each poll finishes within its timeout reading only what
//! changed; and one API that cannot be read leaves the rest exported.
//!
//! Time runs ten times faster than AWS's: the front's rates are AWS's
//! defaults times ten (bucket sizes as they are), and so are the exporter's
//! quotas; the collectors' intervals and timeouts are a tenth of their
//! defaults (6 s and 3 s), `revalidate` and `full_refresh` a tenth of theirs.
//! `execution_logs` has 8 s (80 s at AWS's pace): 100 groups take 40 s at
//! the default half of `FilterLogEvents`' 5 a second, more than the default
//! 30 s (the test paces at nine tenths, where they take 22 s).

use std::time::Duration;

use serde_json::json;

use crate::harness::{Emulator, Server, config_file, sample, sample_sum, seed_py, wait_for};

const US: &str = "us-east-1";
const APIS: usize = 300;
const LOGGED: usize = 100;

/// Requests the front saw, by `service:Operation`.
fn seen(emulator: &Emulator, key: &str) -> u64 {
    emulator.requests()[key].as_u64().unwrap_or(0)
}

#[test]
fn an_account_of_300_apis_is_read_within_aws_quotas_and_only_what_changed() {
    let emulator = Emulator::start("{}");
    let seeded = seed_py(&[
        "--many",
        &emulator.url,
        US,
        &APIS.to_string(),
        &LOGGED.to_string(),
    ]);
    let broken = seeded["apis"][APIS - 1].as_str().unwrap().to_owned();
    let flaky = seeded["apis"][0].as_str().unwrap().to_owned();
    // AWS's quotas, ten times faster; one API whose integrations AWS will
    // not give (its GetResources fails every time).
    let broken_fault = json!({"service": "apigateway", "operation": "GetResources",
                              "path_contains": format!("/restapis/{broken}/"),
                              "kind": "error", "status": 500, "code": "InternalFailure"});
    emulator.set_scenario(&json!({"quotas": {"scale": 10}, "faults": [broken_fault]}));
    let config = config_file(
        "regions: [us-east-1]
collectors:
  vpc_links: {interval: 6s, timeout: 5s, revalidate: 30s, full_refresh: 360s}
  execution_logs: {interval: 10s, timeout: 8s}
  load_balancers: {enabled: false}
  endpoints: {enabled: false}
  network_rules: {enabled: false}
  cloudwatch: {enabled: false}
  interconnect: {enabled: false}
  certificates: {enabled: false}
aws:
  max_attempts: 2
  # Nine tenths of what the front allows: a pacing that overshoots by
  # more than a ninth is throttled.
  quota_share: 0.9
  quotas:
    apigateway: {rate: 100, burst: 40}
    apigateway:GetResources: {rate: 25, burst: 5}
    cloudwatchlogs:FilterLogEvents: {rate: 50, burst: 5}
",
    );
    let server = Server::start(&emulator.url, config.path(), &[]);
    let integrations = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("awsconn_integration_info{"))
            .count()
    };

    // The first read of 300 APIs needs 300 GetResources: 13 s at nine
    // tenths of 25 a second, so the quota spreads it over several 5-second
    // polls, each of which succeeds with what it read.
    let first = server.wait_polls("vpc_links", 1, 1);
    let after_one = integrations(&first);
    assert!(
        (10..APIS - 1).contains(&after_one),
        "the first poll reads what its quota allows: {after_one}\n{first}"
    );
    let vpc_links_ok = "awsconn_collector_success{collector=\"vpc_links\",account=\"123456789012\",region=\"us-east-1\"}";
    assert_eq!(sample(&first, vpc_links_ok), Some(1.0), "{first}");
    let exhausted =
        "awsconn_aws_quota_exhausted_total{service=\"apigateway\",operation=\"GetResources\"}";
    assert!(
        sample_sum(&first, exhausted).is_some_and(|n| n >= 1.0),
        "{first}"
    );

    // Every API but the broken one, in time, and the broken one tried.
    let failed_reads = |text: &str| {
        sample(
            text,
            "awsconn_aws_incomplete_items_total{service=\"apigateway\",operation=\"GetResources\",reason=\"read failed\"}",
        )
        .unwrap_or(0.0)
    };
    let full = wait_for(
        "every readable API's integration, and the broken one tried",
        Duration::from_secs(120),
        || {
            let text = server.metrics();
            (integrations(&text) == APIS - 1 && failed_reads(&text) >= 1.0).then_some(text)
        },
    );
    // The broken API: no integration, and a finding that names it.
    let integration_of = |api: &str| {
        format!(
            "awsconn_integration_info{{account=\"123456789012\",region=\"us-east-1\",api_id=\"{api}\","
        )
    };
    assert!(!full.contains(&integration_of(&broken)), "{full}");
    let read_failed = |text: &str, api: &str| {
        sample(
            text,
            &format!(
                "awsconn_api_read_failed{{account=\"123456789012\",region=\"us-east-1\",api_id=\"{api}\",api_type=\"rest\"}}"
            ),
        )
    };
    assert_eq!(read_failed(&full, &broken), Some(1.0), "{full}");
    assert_eq!(read_failed(&full, &flaky), None, "{full}");
    assert_eq!(sample(&full, vpc_links_ok), Some(1.0), "{full}");

    // From now on, one API already read cannot be read again (its stages
    // fail): it keeps what was read of it, and is counted.
    emulator.set_scenario(&json!({"quotas": {"scale": 10}, "faults": [broken_fault, {
        "service": "apigateway", "operation": "GetStages",
        "path_contains": format!("/restapis/{flaky}/"),
        "kind": "error", "status": 500, "code": "InternalFailure"}]}));

    // Steady state: over five polls (one `revalidate` period), what each
    // poll asks of API Gateway, against the 600 calls a full read takes.
    let polls = server.polls("vpc_links");
    let before = (
        seen(&emulator, "apigateway:GetStages"),
        seen(&emulator, "apigateway:GetResources"),
    );
    let steady = server.wait_polls("vpc_links", 1, polls + 5);
    let after = (
        seen(&emulator, "apigateway:GetStages"),
        seen(&emulator, "apigateway:GetResources"),
    );
    let per_poll = |a: u64, b: u64| (b - a) as f64 / 5.0;
    let (stages, resources) = (per_poll(before.0, after.0), per_poll(before.1, after.1));
    eprintln!(
        "steady state for {APIS} REST APIs: {stages} GetStages and {resources} GetResources a poll (a full read: {APIS} and {APIS})"
    );
    // Each API's stages once a period (60 a poll), a sixtieth of them in
    // full (5 a poll), and the broken one's retry once a period.
    assert!(
        (30.0..=100.0).contains(&stages),
        "{stages} GetStages a poll"
    );
    assert!(resources <= 12.0, "{resources} GetResources a poll");
    assert_eq!(sample(&steady, vpc_links_ok), Some(1.0), "{steady}");
    // The flaky API's turn comes once a period, on the APIs' own clock:
    // at the edge of the five polls it may take one or two more.
    let steady = wait_for(
        "the flaky API's failed revalidation",
        Duration::from_secs(20),
        || {
            let text = server.metrics();
            (read_failed(&text, &flaky) == Some(1.0)).then_some(text)
        },
    );
    assert_eq!(integrations(&steady), APIS - 1, "{steady}");
    assert!(steady.contains(&integration_of(&flaky)), "kept: {steady}");
    assert!(
        sample(
            &steady,
            "awsconn_aws_incomplete_items_total{service=\"apigateway\",operation=\"GetStages\",reason=\"read failed\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{steady}"
    );

    // The execution logs of 100 groups: each of three polls reads them all
    // in time.
    let (polls, reads) = (
        server.polls("execution_logs"),
        seen(&emulator, "logs:FilterLogEvents"),
    );
    let logs = server.wait_polls("execution_logs", 1, polls + 3);
    // (The first of them may have begun before the count was taken.)
    let read = seen(&emulator, "logs:FilterLogEvents") - reads;
    assert!(read >= (2 * LOGGED) as u64, "{read} reads in three polls");
    assert_eq!(
        sample(
            &logs,
            "awsconn_collector_success{collector=\"execution_logs\",account=\"123456789012\",region=\"us-east-1\"}"
        ),
        Some(1.0),
        "{logs}"
    );
    assert_eq!(
        sample(
            &logs,
            "awsconn_execution_log_groups_deferred{account=\"123456789012\",region=\"us-east-1\"}"
        ),
        Some(0.0),
        "{logs}"
    );

    // Not one answer throttled, by the front or as the exporter saw it;
    // the exporter's own pacing shows instead.
    let throttled = emulator.throttled();
    assert!(
        throttled.as_object().is_some_and(|t| t.is_empty()),
        "{throttled}"
    );
    assert!(!logs.contains("outcome=\"throttled\""), "{logs}");
    assert!(
        sample_sum(
            &logs,
            "awsconn_aws_quota_wait_seconds_total{service=\"apigateway\",operation=\"GetResources\"}"
        )
        .is_some_and(|s| s > 0.0),
        "{logs}"
    );
    assert!(
        logs.contains("awsconn_aws_api_requests_total{service=\"apigateway\",operation=\"GetStages\",outcome=\"ok\",account=\"123456789012\",region=\"us-east-1\"}"),
        "{logs}"
    );
}
