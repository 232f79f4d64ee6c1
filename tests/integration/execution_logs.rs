//! Execution-log counts against moto's CloudWatch Logs: exactly what was
//! written, across pages, polls, late arrivals and restarts.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::harness::{Emulator, Server, config_file, once, sample, wait_for};

const US: &str = "us-east-1";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// What a batch of events should add to the counters.
#[derive(Default, Debug, Clone, PartialEq)]
struct Expected {
    lines: u64,
    classes: std::collections::BTreeMap<&'static str, u64>,
    statuses: std::collections::BTreeMap<u16, u64>,
}

/// A realistic batch: every class with each prefix form, responses, lines
/// that only mention a message, and `filler` benign lines (to cross pages).
fn batch(seq: &mut u64, base_ms: i64, filler: usize) -> (Vec<(i64, String)>, Expected) {
    let failures: [(&str, &str); 9] = [
        (
            "vpc_link_internal",
            "Execution failed due to configuration error: There was an internal error while executing your request",
        ),
        (
            "tls_hostname_mismatch",
            "Execution failed due to configuration error: Host name 'orders.internal' does not match the certificate subject provided by the peer (CN=*.example.net)",
        ),
        (
            "tls_untrusted_certificate",
            "Execution failed due to configuration error: PKIX path building failed: unable to find valid certification path to requested target",
        ),
        (
            "tls_certificate_expired",
            "Execution failed due to configuration error: PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed",
        ),
        (
            "tls_key_mismatch",
            "Execution failed due to configuration error: Cannot verify ECDH ServerKeyExchange signature",
        ),
        (
            "invalid_http_response",
            "Execution failed due to configuration error: Not a valid protocol version: HTTP/1.1",
        ),
        (
            "config_other",
            "Execution failed due to configuration error: Invalid endpoint address",
        ),
        ("target_reset", "Execution failed due to an internal error"),
        (
            "integration_timeout",
            "Execution failed due to a timeout error",
        ),
    ];
    let mut events = Vec::new();
    let mut expected = Expected::default();
    let mut push = |events: &mut Vec<(i64, String)>, message: String| {
        *seq += 1;
        events.push((base_ms + (*seq % 1000) as i64, message));
    };
    for (i, (class, message)) in failures.iter().enumerate() {
        let prefix = match i % 3 {
            0 => format!("({:08x}-1111-2222-3333-444455556666) ", i),
            1 => "(PDS1PEC4oAMFpyA=) ".to_owned(),
            _ => "Thu Aug 04 17:48:21 UTC 2022 : ".to_owned(),
        };
        push(&mut events, format!("{prefix}{message}"));
        *expected.classes.entry(class).or_default() += 1;
        push(
            &mut events,
            format!("{prefix}Method completed with status: 500"),
        );
        *expected.statuses.entry(500).or_default() += 1;
    }
    push(&mut events, "(x) Endpoint response body before transformations: Execution failed due to a timeout error".to_owned());
    push(
        &mut events,
        "(y) Method completed with status: 200".to_owned(),
    );
    *expected.statuses.entry(200).or_default() += 1;
    for i in 0..filler {
        push(
            &mut events,
            format!("(f{i}) Method completed with status: 200"),
        );
        *expected.statuses.entry(200).or_default() += 1;
    }
    expected.lines = events.len() as u64;
    (events, expected)
}

fn add(a: &Expected, b: &Expected) -> Expected {
    let mut out = a.clone();
    out.lines += b.lines;
    for (k, v) in &b.classes {
        *out.classes.entry(k).or_default() += v;
    }
    for (k, v) in &b.statuses {
        *out.statuses.entry(*k).or_default() += v;
    }
    out
}

fn check(text: &str, api: &str, expected: &Expected) -> Result<(), String> {
    let base = format!("account=\"123456789012\",region=\"{US}\",api_id=\"{api}\",stage=\"prod\"");
    let lines = sample(
        text,
        &format!("awsconn_execution_log_lines_total{{{base}}}"),
    );
    if lines != Some(expected.lines as f64) {
        return Err(format!("lines {lines:?}, want {}", expected.lines));
    }
    for class in [
        "vpc_link_internal",
        "tls_hostname_mismatch",
        "tls_untrusted_certificate",
        "tls_certificate_expired",
        "tls_key_mismatch",
        "invalid_http_response",
        "config_other",
        "target_reset",
        "integration_timeout",
        "other",
    ] {
        let got = sample(
            text,
            &format!("awsconn_execution_errors_total{{{base},class=\"{class}\"}}"),
        );
        let want = expected.classes.get(class).copied().unwrap_or(0) as f64;
        if got != Some(want) {
            return Err(format!("{class}: {got:?}, want {want}"));
        }
    }
    for (status, want) in &expected.statuses {
        let got = sample(
            text,
            &format!("awsconn_execution_responses_total{{{base},status=\"{status}\"}}"),
        );
        if got != Some(*want as f64) {
            return Err(format!("status {status}: {got:?}, want {want}"));
        }
    }
    Ok(())
}

/// With a timeout that a loaded machine's emulator still meets: the tests
/// that are about timeouts give theirs (`config_timed`).
fn config(state: &std::path::Path, interval: &str) -> tempfile::NamedTempFile {
    config_timed(state, interval, "5s")
}

fn config_timed(state: &std::path::Path, interval: &str, timeout: &str) -> tempfile::NamedTempFile {
    config_file(&format!(
        "regions: [us-east-1]\ncollectors:\n  interconnect: {{enabled: false}}\n  execution_logs: {{interval: {interval}, timeout: {timeout}, lookback: 30m, overlap: 10m, state_file: {}}}\n",
        state.display()
    ))
}

/// The whole-paths world (`seed.py --paths`): its REST API logs its prod
/// stage at INFO; a state file in a directory of its own.
struct LogWorld {
    emulator: Emulator,
    seeded: serde_json::Value,
    dir: tempfile::TempDir,
}

impl LogWorld {
    fn new() -> LogWorld {
        let emulator = Emulator::start("{}");
        let seeded = emulator.seed_paths(&[US]);
        LogWorld {
            emulator,
            seeded,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn api(&self) -> &str {
        self.seeded[US]["rest_api"].as_str().unwrap()
    }

    fn group(&self) -> String {
        format!("API-Gateway-Execution-Logs_{}/prod", self.api())
    }

    fn state(&self) -> std::path::PathBuf {
        self.dir.path().join("state.json")
    }
}

#[test]
fn counts_are_exact_across_pages_late_arrivals_and_restarts() {
    let world = LogWorld::new();
    let (emulator, seeded, api, group, state) = (
        &world.emulator,
        &world.seeded,
        world.api(),
        world.group(),
        world.state(),
    );
    let mut seq = 0;

    // More events than one FilterLogEvents page (10,000).
    let start = now_ms() - 5 * 60_000;
    let (events, first) = batch(&mut seq, start, 10_050);
    emulator.put_log_events(US, &group, &events);
    let (ok, text, stderr) = once(&emulator.url, config(&state, "60s").path());
    assert!(ok, "{stderr}");
    check(&text, api, &first).unwrap_or_else(|e| panic!("first run: {e}"));
    let read_ok = format!(
        "awsconn_execution_log_read_success{{account=\"123456789012\",region=\"{US}\",api_id=\"{api}\",stage=\"prod\",log_group=\"{group}\"}}"
    );
    assert_eq!(sample(&text, &read_ok), Some(1.0));
    // The batch has TLS errors: the link the prod stage uses fails `no_tls_errors`.
    let link = seeded[US]["vpc_links"]["orders-rest-link"]
        .as_str()
        .unwrap();
    let tls = format!(
        "awsconn_vpc_link_check{{account=\"123456789012\",region=\"{US}\",vpc_link_id=\"{link}\",check=\"no_tls_errors\",api_id=\"{api}\",stage=\"prod\"}}"
    );
    assert_eq!(sample(&text, &tls), Some(0.0), "{text}");

    // While the exporter is down: new events, and late ones with timestamps
    // older than the newest already counted (inside the overlap window).
    let (late, late_expected) = batch(&mut seq, start - 60_000, 0);
    let (events, second) = batch(&mut seq, now_ms() - 60_000, 5);
    emulator.put_log_events(US, &group, &late);
    emulator.put_log_events(US, &group, &events);
    let (ok, text, stderr) = once(&emulator.url, config(&state, "60s").path());
    assert!(ok, "{stderr}");
    // The restarted exporter counts only what it had not counted before.
    check(&text, api, &add(&late_expected, &second))
        .unwrap_or_else(|e| panic!("after restart: {e}"));

    // Nothing new: nothing counted. The TLS errors of the first run are
    // behind the cursor and no run reads them again, but they are inside
    // the window: the state file keeps them, and the check still fails.
    let (ok, text, _) = once(&emulator.url, config(&state, "60s").path());
    assert!(ok);
    check(&text, api, &Expected::default()).unwrap_or_else(|e| panic!("idle: {e}"));
    assert_eq!(sample(&text, &tls), Some(0.0), "{text}");
    let healthy = format!(
        "awsconn_vpc_link_healthy{{account=\"123456789012\",region=\"{US}\",vpc_link_id=\"{link}\"}}"
    );
    assert_eq!(sample(&text, &healthy), Some(0.0), "{text}");
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(file["version"], 2, "{file}");
    let kept = file["scopes"][format!("123456789012/{US}")]["newest_errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["api_id"] == api && e["class"].as_str().unwrap().starts_with("tls_"))
        .count();
    assert_eq!(kept, 4, "the newest time of each TLS class: {file}");

    // Upgraded from a version 1 file (cursors only): the window behind the
    // cursors is read once for the error times, nothing counted again.
    let scope = format!("123456789012/{US}");
    let v1 =
        serde_json::json!({"version": 1, "scopes": {&scope: file["scopes"][&scope]["cursors"]}});
    std::fs::write(&state, serde_json::to_vec(&v1).unwrap()).unwrap();
    // The backfill reads the whole window again (10 000 events behind the
    // cursor): more than the other polls' 1 s timeout allows on a loaded
    // machine, so these runs have 20 s. Should the quota still leave it to
    // the next run (the file says so), each run counts nothing again.
    for run in 1.. {
        let (ok, text, stderr) = once(&emulator.url, config_timed(&state, "60s", "20s").path());
        assert!(ok, "{stderr}");
        check(&text, api, &Expected::default())
            .unwrap_or_else(|e| panic!("run {run} after the upgrade: {e}"));
        assert_eq!(sample(&text, &tls), Some(0.0), "{text}");
        let file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
        assert_eq!(file["version"], 2);
        if file["scopes"][&scope].get("backfill").is_none() {
            break;
        }
        assert!(run < 3, "still to backfill after {run} runs: {stderr}");
    }
    // The same from diagnose, which says the errors came before the restart.
    let out = crate::harness::exporter(&emulator.url)
        .args(["diagnose", "--output", "json", "--config"])
        .arg(config(&state, "60s").path())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let check = report["vpc_links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["vpc_link_id"] == link)
        .and_then(|l| {
            l["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["check"] == "no_tls_errors")
        })
        .cloned()
        .unwrap();
    assert_eq!(check["ok"], false, "{check}");
    assert!(
        check["cause"]
            .as_str()
            .unwrap()
            .contains("read before the exporter last restarted"),
        "{check}"
    );
}

#[test]
fn serve_accumulates_every_event_once_over_many_polls() {
    let emulator = Emulator::start("{}");
    let seeded = emulator.seed_paths(&[US]);
    let api = seeded[US]["rest_api"].as_str().unwrap().to_owned();
    let group = format!("API-Gateway-Execution-Logs_{api}/prod");
    let dir = tempfile::tempdir().unwrap();
    let config = config_timed(&dir.path().join("state.json"), "1s", "1s");
    let mut seq = 0;
    let (events, first) = batch(&mut seq, now_ms() - 120_000, 20);
    emulator.put_log_events(US, &group, &events);
    let server = Server::start(&emulator.url, config.path(), &[]);
    wait_for("the first batch", Duration::from_secs(30), || {
        check(&server.metrics(), &api, &first).ok()
    });

    let (events, second) = batch(&mut seq, now_ms() - 150_000, 7);
    emulator.put_log_events(US, &group, &events);
    let total = add(&first, &second);
    wait_for("both batches", Duration::from_secs(30), || {
        check(&server.metrics(), &api, &total).ok()
    });
    // Several more polls re-read the overlap window: still counted once.
    let text = server.wait_polls("execution_logs", 1, server.polls("execution_logs") + 3);
    check(&text, &api, &total).unwrap();

    // The state file is the server's: a second server on it refuses to
    // start, naming the holder; a one-off run reads it (resuming where the
    // server stands: nothing new to count) but never writes it, and says so.
    let second = crate::harness::exporter(&emulator.url)
        .args([
            "--web.listen-address",
            &format!("127.0.0.1:{}", crate::harness::free_port()),
            "--config",
        ])
        .arg(config.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{said}");
    assert!(said.contains("in use by another process (pid "), "{said}");
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "{stderr}");
    assert_eq!(
        stderr
            .matches("reads the state file but does not write it")
            .count(),
        1,
        "{stderr}"
    );
    check(&text, &api, &Expected::default()).unwrap();
}

#[test]
fn a_missing_log_group_fails_alone() {
    let emulator = Emulator::start("{}");
    let seeded = emulator.seed_paths(&[US]);
    let api = seeded[US]["rest_api"].as_str().unwrap();
    let group = format!("API-Gateway-Execution-Logs_{api}/prod");
    let mut seq = 0;
    let (events, first) = batch(&mut seq, now_ms() - 60_000, 0);
    emulator.put_log_events(US, &group, &events);
    let config = config_file(
        "regions: [us-east-1]\ncollectors:\n  interconnect: {enabled: false}\n  execution_logs:\n    log_groups:\n      - {log_group: gone-group, api_id: legacy, stage: prod}\n",
    );
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "the collector succeeds: {stderr}");
    check(&text, api, &first).unwrap();
    let gone = format!(
        "awsconn_execution_log_read_success{{account=\"123456789012\",region=\"{US}\",api_id=\"legacy\",stage=\"prod\",log_group=\"gone-group\"}}"
    );
    assert_eq!(sample(&text, &gone), Some(0.0), "{text}");
    assert!(stderr.contains("gone-group"), "{stderr}");
}

/// HTTP APIs: the JSON access log's integrationErrorMessage, classified with
/// the same table; lines that are not JSON count as lines only.
#[test]
fn http_api_access_logs_are_classified() {
    let emulator = Emulator::start("{}");
    let seeded = emulator.seed_paths(&[US]);
    let api = seeded[US]["http_api"].as_str().unwrap();
    let t = now_ms() - 60_000;
    let line = |status: u16, error: &str| {
        serde_json::json!({"requestId": "r", "status": status.to_string(), "integrationError": error}).to_string()
    };
    emulator.put_log_events(
        US,
        "web-api-access",
        &[
            (t, line(200, "-")),
            (t + 1, line(500, "Host name 'web.internal' does not match the certificate subject provided by the peer (CN=x)")),
            (t + 2, line(504, "Execution failed due to a timeout error")),
            (t + 3, line(503, "Service Unavailable")),
            (t + 4, "plain text access log line".to_owned()),
        ],
    );
    let config =
        config_file("regions: [us-east-1]\ncollectors: {interconnect: {enabled: false}}\n");
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "{stderr}");
    let base = format!("account=\"123456789012\",region=\"{US}\",api_id=\"{api}\",stage=\"prod\"");
    assert_eq!(
        sample(
            &text,
            &format!("awsconn_execution_log_lines_total{{{base}}}")
        ),
        Some(5.0),
        "{text}"
    );
    for (class, want) in [
        ("tls_hostname_mismatch", 1.0),
        ("integration_timeout", 1.0),
        ("other", 1.0),
        ("vpc_link_internal", 0.0),
    ] {
        assert_eq!(
            sample(
                &text,
                &format!("awsconn_execution_errors_total{{{base},class=\"{class}\"}}")
            ),
            Some(want),
            "{class}\n{text}"
        );
    }
    for status in [200, 500, 503, 504] {
        assert_eq!(
            sample(
                &text,
                &format!("awsconn_execution_responses_total{{{base},status=\"{status}\"}}")
            ),
            Some(1.0),
            "{status}"
        );
    }
}

/// A restart while reads fail neither loses nor recounts an event: the
/// state file keeps the group's place. A saved cursor that cannot be true
/// (in the future) is refused with a self-metric, and its group is read from
/// the lookback rather than silenced.
#[test]
fn a_failed_read_keeps_the_saved_cursor_and_a_future_one_is_refused() {
    let world = LogWorld::new();
    let (emulator, api, group, state) =
        (&world.emulator, world.api(), world.group(), world.state());
    let mut seq = 0;
    let (events, first) = batch(&mut seq, now_ms() - 5 * 60_000, 20);
    emulator.put_log_events(US, &group, &events);
    let (ok, text, stderr) = once(&emulator.url, config(&state, "60s").path());
    assert!(ok, "{stderr}");
    check(&text, api, &first).unwrap_or_else(|e| panic!("first run: {e}"));
    let saved = |path: &std::path::Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let scope = format!("123456789012/{US}");
    let position = saved(&state)["scopes"][&scope]["cursors"][&group]["position_ms"].clone();
    assert!(position.as_i64().unwrap() > 0, "{}", saved(&state));

    // Restarted while FilterLogEvents is denied: the read fails, the cursor stays.
    emulator.set_scenario(&serde_json::json!({"faults": [{
        "service": "logs", "operation": "FilterLogEvents", "kind": "error",
        "status": 400, "code": "AccessDeniedException", "message": "not authorized"
    }]}));
    let (_, text, _) = once(&emulator.url, config(&state, "60s").path());
    let us = format!("account=\"123456789012\",region=\"{US}\"");
    assert_eq!(
        sample(
            &text,
            &format!(
                "awsconn_execution_log_read_error_info{{{us},api_id=\"{api}\",stage=\"prod\",log_group=\"{group}\",error=\"AccessDeniedException\"}}"
            )
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        saved(&state)["scopes"][&scope]["cursors"][&group]["position_ms"],
        position
    );
    // The TLS errors read before are still known: the check fails on them.
    let link = world.seeded[US]["vpc_links"]["orders-rest-link"]
        .as_str()
        .unwrap();
    let tls = format!(
        "awsconn_vpc_link_check{{{us},vpc_link_id=\"{link}\",check=\"no_tls_errors\",api_id=\"{api}\",stage=\"prod\"}}"
    );
    assert_eq!(sample(&text, &tls), Some(0.0), "{text}");
    // Without them (another state file: nothing read before), a group that
    // cannot be read passes nothing: the check is unknown, naming the group
    // and AWS's error, and the link is not healthy.
    let fresh = world.dir.path().join("fresh.json");
    let (_, text, _) = once(&emulator.url, config(&fresh, "60s").path());
    assert_eq!(
        sample(
            &text,
            &format!(
                "awsconn_vpc_link_check_unknown{{{us},vpc_link_id=\"{link}\",check=\"no_tls_errors\",api_id=\"{api}\",collector=\"execution_logs\",log_group=\"{group}\",stage=\"prod\"}}"
            )
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        !text.contains(&format!(
            "check=\"no_tls_errors\",api_id=\"{api}\",stage=\"prod\"}} "
        )),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("awsconn_vpc_link_healthy{{{us},vpc_link_id=\"{link}\"}}")
        ),
        Some(0.0)
    );
    let out = crate::harness::exporter(&emulator.url)
        .args(["diagnose", "--vpc-link", link, "--config"])
        .arg(config(&fresh, "60s").path())
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains(&format!("log group {group} could not be read")),
        "{shown}"
    );
    assert!(shown.contains("AccessDeniedException"), "{shown}");

    // Reads work again: nothing is counted twice.
    emulator.set_scenario(&serde_json::json!({}));
    let (ok, text, stderr) = once(&emulator.url, config(&state, "60s").path());
    assert!(ok, "{stderr}");
    check(&text, api, &Expected::default())
        .unwrap_or_else(|e| panic!("after the failed restart: {e}"));
    let rejected = format!(
        "awsconn_execution_log_cursors_rejected_total{{account=\"123456789012\",region=\"{US}\"}}"
    );
    assert_eq!(sample(&text, &rejected), Some(0.0), "{text}");

    // A cursor a day in the future would skip every event until then: refused.
    let mut file = saved(&state);
    file["scopes"][&scope]["cursors"][&group]["position_ms"] =
        serde_json::json!(now_ms() + 86_400_000);
    std::fs::write(&state, serde_json::to_vec(&file).unwrap()).unwrap();
    let (ok, text, stderr) = once(&emulator.url, config(&state, "60s").path());
    assert!(ok, "{stderr}");
    assert_eq!(sample(&text, &rejected), Some(1.0), "{text}");
    assert!(stderr.contains("cannot be true"), "{stderr}");
    // Read from the lookback: the events in it are counted (again, knowingly).
    check(&text, api, &first).unwrap_or_else(|e| panic!("after the refused cursor: {e}"));

    // A truncated state file: said, counted, set aside for a person, and
    // the groups start from the lookback.
    let whole = std::fs::read(&state).unwrap();
    std::fs::write(&state, &whole[..whole.len() / 2]).unwrap();
    let (ok, text, stderr) = once(&emulator.url, config(&state, "60s").path());
    assert!(ok, "{stderr}");
    let errors = |error: &str| {
        sample(
            &text,
            &format!(
                "awsconn_execution_log_state_file_errors_total{{account=\"123456789012\",region=\"{US}\",error=\"{error}\"}}"
            ),
        )
    };
    assert_eq!(errors("corrupt"), Some(1.0), "{text}");
    assert_eq!(errors("write_failed"), Some(0.0));
    assert!(stderr.contains("set aside"), "{stderr}");
    let aside = state.with_extension("json.corrupt");
    assert_eq!(std::fs::read(&aside).unwrap(), &whole[..whole.len() / 2]);
    assert!(
        saved(&state)["scopes"][&scope]["cursors"][&group]["position_ms"]
            .as_i64()
            .unwrap()
            > 0,
        "written anew"
    );
}
