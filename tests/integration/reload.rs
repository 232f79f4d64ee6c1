//! Reloading the configuration while serving (SIGHUP and `POST /-/reload`):
//! a valid file is taken without losing what the exporter knows, an invalid
//! one is refused while the previous configuration keeps running.

use std::time::Duration;

use crate::harness::{Emulator, Server, http_request, sample, wait_for};

const US: &str = "us-east-1";
const EU: &str = "eu-west-1";

fn config(regions: &[&str], lookback: &str) -> String {
    format!(
        "regions: [{}]\ncollectors:\n  interconnect: {{enabled: false}}\n  execution_logs: {{interval: 1s, timeout: 1s, lookback: {lookback}, overlap: 15s}}\n",
        regions.join(", ")
    )
}

/// `n` integration timeouts in the execution log, `ago_ms` before now; `tag`
/// keeps their request ids apart from other batches.
fn timeout_events(n: i64, ago_ms: i64, tag: &str) -> Vec<(i64, String)> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    (0..n)
        .map(|i| {
            (
                now - ago_ms + i,
                format!(
                    "(0f0e0d0c-1111-2222-3333-{tag}{i:04}) Execution failed due to a timeout error"
                ),
            )
        })
        .collect()
}

#[test]
fn reload_takes_a_valid_config_keeps_counts_and_refuses_an_invalid_one() {
    let emulator = Emulator::start("{}");
    let seeded = emulator.seed_paths(&[US, EU]);
    let api = seeded[US]["rest_api"].as_str().unwrap();
    let group = format!("API-Gateway-Execution-Logs_{api}/prod");
    let events = timeout_events(7, 60_000, "44445555");
    emulator.put_log_events(US, &group, &events);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config(&[US], "30m")).unwrap();
    let mut server = Server::start(&emulator.url, &path, &["--web.enable-lifecycle"]);
    let us = format!("account=\"123456789012\",region=\"{US}\"");
    let timeouts = format!(
        "awsconn_execution_errors_total{{{us},api_id=\"{api}\",stage=\"prod\",class=\"integration_timeout\"}}"
    );
    let text = wait_for("the events to be counted", Duration::from_secs(30), || {
        let text = server.metrics();
        (sample(&text, &timeouts) == Some(7.0)).then_some(text)
    });
    assert_eq!(
        sample(&text, "awsconn_config_last_reload_successful"),
        Some(1.0)
    );
    let started = sample(
        &text,
        "awsconn_config_last_reload_success_timestamp_seconds",
    )
    .unwrap();
    assert!(
        !text.contains(&format!("region=\"{EU}\",vpc_link_id=")),
        "{text}"
    );

    // An invalid file is refused, named, and changes nothing.
    std::fs::write(&path, "regions: [us-east-1]\nbogus_field: 1\n").unwrap();
    let (status, _, body) = http_request("POST", &server.base, "/-/reload", &[], b"").unwrap();
    let body = String::from_utf8_lossy(&body);
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("bogus_field"), "{body}");
    let text = server.metrics();
    assert_eq!(
        sample(&text, "awsconn_config_last_reload_successful"),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            "awsconn_config_last_reload_success_timestamp_seconds"
        ),
        Some(started)
    );
    assert_eq!(sample(&text, &timeouts), Some(7.0));
    assert_eq!(server.get("/-/reload").0, 405, "a reload is a POST");

    // Events a few seconds old, counted before the reload.
    emulator.put_log_events(US, &group, &timeout_events(2, 5_000, "77778888"));
    wait_for(
        "the recent events to be counted",
        Duration::from_secs(30),
        || (sample(&server.metrics(), &timeouts) == Some(9.0)).then_some(()),
    );

    // SIGHUP with a valid file: the new region is polled first, so the
    // kept one moves to another position; it keeps its counts and cursors,
    // and the process lives on. An exporter that forgot its counts would
    // count from 0 (the new lookback cannot reach the first events); one
    // that forgot its cursors would count the recent events again (the new
    // lookback reaches them).
    std::fs::write(&path, config(&[EU, US], "20s")).unwrap();
    server.signal("HUP");
    let text = wait_for(
        "the reloaded configuration to poll",
        Duration::from_secs(30),
        || {
            let text = server.metrics();
            let eu = format!(
                "awsconn_collector_success{{collector=\"execution_logs\",account=\"123456789012\",region=\"{EU}\"}}"
            );
            (sample(&text, "awsconn_config_last_reload_successful") == Some(1.0)
                && sample(&text, &eu) == Some(1.0)
                && text.contains(&format!("region=\"{EU}\",vpc_link_id=")))
            .then_some(text)
        },
    );
    assert!(
        sample(
            &text,
            "awsconn_config_last_reload_success_timestamp_seconds"
        )
        .unwrap()
            >= started
    );
    // A few more polls of the kept region after the reload: still 9.
    let polled_at = |text: &str| {
        sample(
            text,
            &format!("awsconn_collector_last_success_timestamp_seconds{{collector=\"execution_logs\",{us}}}"),
        )
        .unwrap_or(0.0)
    };
    let after_reload = polled_at(&text);
    let text = wait_for("two more polls", Duration::from_secs(30), || {
        let text = server.metrics();
        (polled_at(&text) >= after_reload + 2.0).then_some(text)
    });
    assert_eq!(sample(&text, &timeouts), Some(9.0), "{text}");
    let more = timeout_events(3, 1_000, "55556666");
    emulator.put_log_events(US, &group, &more);
    wait_for(
        "the new events to be counted",
        Duration::from_secs(30),
        || (sample(&server.metrics(), &timeouts) == Some(12.0)).then_some(()),
    );
    assert!(server.is_running());
    // Reload through the API works too.
    let (status, _, body) = http_request("POST", &server.base, "/-/reload", &[], b"").unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(server.terminate().success());
}

/// Total AWS requests the front has seen.
fn aws_requests(emulator: &Emulator) -> u64 {
    emulator
        .requests()
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum()
}

/// 50 reloads in 5 s. Of an unchanged file: no reload at all (no poll
/// restarted, not one AWS call, STS included). Of a file whose vpc_links
/// settings change every time: reloads spaced a second apart and
/// coalesced, only vpc_links polled again (the other collectors keep their
/// schedule), the quota buckets kept, so the front, enforcing half of
/// AWS's quotas, throttles nothing from an exporter at 0.45 of them. A
/// region the last reload removes takes its request series with it.
#[test]
fn reload_storms_stay_within_the_quota_share() {
    let emulator = Emulator::start("{}");
    emulator.seed_paths(&[US, EU]);
    // Half of AWS's default quotas, per access key and region.
    emulator.set_scenario(&serde_json::json!({"quotas": {"limits": {
        "apigateway": [5.0, 20.0],
        "apigateway:GetResources": [1.25, 2.5],
        "elasticloadbalancing": [5.0, 20.0],
        "ec2": [10.0, 50.0],
        "logs:FilterLogEvents": [2.5, 2.5],
        "monitoring:GetMetricData": [25.0, 25.0],
        "acm:DescribeCertificate": [5.0, 5.0],
    }}}));
    let config = |regions: &[&str], links: &str| {
        format!(
            "regions: [{}]\ncollectors:\n  vpc_links: {{interval: {links}}}\n  load_balancers: {{interval: 60s}}\n  endpoints: {{interval: 60s}}\n  network_rules: {{interval: 60s}}\n  cloudwatch: {{interval: 60s}}\n  certificates: {{interval: 60s}}\n  interconnect: {{enabled: false}}\n  execution_logs: {{interval: 60s}}\naws: {{quota_share: 0.45}}\n",
            regions.join(", ")
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config(&[US, EU], "60s")).unwrap();
    let server = Server::start(&emulator.url, &path, &["--web.enable-lifecycle"]);
    wait_for("the first round", Duration::from_secs(60), || {
        (server.get("/ready").0 == 200).then_some(())
    });
    let reload = || {
        let (status, _, body) = http_request("POST", &server.base, "/-/reload", &[], b"").unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        String::from_utf8_lossy(&body).into_owned()
    };

    // Unchanged: 50 SIGHUPs, then a reload over HTTP, answered after them.
    let before = aws_requests(&emulator);
    let started = std::time::Instant::now();
    for _ in 0..50 {
        server.signal("HUP");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(reload().contains("unchanged"));
    assert_eq!(
        aws_requests(&emulator),
        before,
        "an unchanged file polls nothing again: {}",
        emulator.requests()
    );
    let unchanged = sample(
        &server.metrics(),
        "awsconn_config_reloads_total{outcome=\"unchanged\"}",
    )
    .unwrap();
    let first_storm = started.elapsed().as_secs_f64();
    assert!(
        (1.0..=first_storm + 2.0).contains(&unchanged),
        "the unchanged storm's 51 requests were answered by a reload a second: {unchanged} in {first_storm:.1} s"
    );

    // Changed every time: two files in turn.
    let apigateway = |emulator: &Emulator| -> u64 {
        let seen = emulator.requests();
        seen.as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| k.starts_with("apigateway"))
            .map(|(_, n)| n.as_u64().unwrap())
            .sum()
    };
    let apigateway_before = apigateway(&emulator);
    let others_before = aws_requests(&emulator) - apigateway_before;
    let storm = std::time::Instant::now();
    for i in 0..50 {
        let links = if i % 2 == 0 { "61s" } else { "62s" };
        std::fs::write(&path, config(&[US, EU], links)).unwrap();
        server.signal("HUP");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The last: without eu-west-1.
    std::fs::write(&path, config(&[US], "62s")).unwrap();
    assert!(reload().contains("reloaded"));
    let text = server.wait_polls("vpc_links", 1, 1);
    let seconds = storm.elapsed().as_secs_f64();
    // One reading of the front for both counts: two would race the calls
    // still arriving.
    let (total_now, apigateway_now) = (aws_requests(&emulator), apigateway(&emulator));
    let total_now = total_now.max(apigateway_now);
    let calls = apigateway_now - apigateway_before;
    // Only vpc_links changed: the other collectors kept their schedule
    // (next due a minute after the start), so they made no call at all.
    let others = (total_now - apigateway_now).saturating_sub(others_before);
    assert_eq!(
        others,
        0,
        "collectors the reloads did not change polled: {}",
        emulator.requests()
    );
    // Within the exporter's share of API Gateway's 10/s in bursts of 40
    // (per region; two regions polled), with a second's slack.
    let allowed = 2.0 * 0.45 * (10.0 * (seconds + 1.0) + 40.0);
    assert!(
        (calls as f64) <= allowed,
        "{calls} API Gateway calls in {seconds:.1} s, allowed {allowed:.0}"
    );
    let throttled = emulator.throttled();
    assert!(
        throttled.as_object().is_none_or(|t| t.is_empty()),
        "the front throttled {throttled} in {seconds:.1} s"
    );
    // Reloads at most one a second: the storm's 51 requests made few.
    let reloads = sample(&text, "awsconn_config_reloads_total{outcome=\"applied\"}").unwrap();
    assert!(
        reloads <= seconds + 3.0,
        "{reloads} reloads in {seconds:.1} s"
    );
    // eu-west-1's request series went with it; us-east-1's stay.
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("awsconn_aws_api_requests_total")
                && l.contains(&format!("region=\"{EU}\""))),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("awsconn_aws_api_requests_total")
                && l.contains(&format!("region=\"{US}\""))),
        "{text}"
    );
    eprintln!(
        "reload storms: unchanged 50 in {first_storm:.1} s: {unchanged} reloads, no AWS call; changed 50 in {seconds:.1} s: {reloads} reloads applied, {calls} API Gateway calls ({:.1}/s), no throttle",
        calls as f64 / seconds
    );
}
