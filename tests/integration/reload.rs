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
