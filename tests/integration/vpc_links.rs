//! The VPC-link collector end to end: moto behind the AWS front, the real
//! SDK, the real binary in `once` and `serve`, promtool on the output.

use std::time::Duration;

use crate::harness::{
    Emulator, Server, config_file, header, http_get, once, promtool_check_metrics, sample,
    sample_sum, wait_for,
};

const DEMO_SCENARIO: &str = include_str!("../aws_front/scenarios/demo.json");

fn link_id<'a>(seeded: &'a serde_json::Value, region: &str, name: &str) -> &'a str {
    seeded[region]["vpc_links"][name].as_str().unwrap()
}

fn status_series(region: &str, id: &str, api_type: &str, status: &str) -> String {
    format!(
        "awsconn_vpc_link_status{{account=\"123456789012\",region=\"{region}\",vpc_link_id=\"{id}\",api_type=\"{api_type}\",status=\"{status}\"}}"
    )
}

#[test]
fn once_exports_every_link_with_its_state() {
    let emulator = Emulator::start(DEMO_SCENARIO);
    let seeded = emulator.seed(&["us-east-1"]);
    let config = config_file("regions: [us-east-1]\n");
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "once failed: {stderr}\n{text}");

    let region = "us-east-1";
    let nlb = seeded[region]["nlb_arn"].as_str().unwrap();
    let orders = link_id(&seeded, region, "orders-rest-link");
    let payments = link_id(&seeded, region, "payments-rest-link");
    let checkout = link_id(&seeded, region, "checkout-http-link");
    let legacy = link_id(&seeded, region, "legacy-http-link");

    let info = |id: &str, name: &str, api: &str, version: &str| {
        format!(
            "awsconn_vpc_link_info{{account=\"123456789012\",region=\"{region}\",vpc_link_id=\"{id}\",name=\"{name}\",api_type=\"{api}\",version=\"{version}\"}}"
        )
    };
    assert_eq!(
        sample(&text, &info(orders, "orders-rest-link", "rest", "v1")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &info(payments, "payments-rest-link", "rest", "v1")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &info(checkout, "checkout-http-link", "http", "v2")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &info(legacy, "legacy-http-link", "http", "v2")),
        Some(1.0)
    );

    // Healthy links: available = 1, every other known state 0.
    assert_eq!(
        sample(&text, &status_series(region, orders, "rest", "available")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &status_series(region, orders, "rest", "failed")),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, &status_series(region, checkout, "http", "available")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &status_series(region, checkout, "http", "inactive")),
        Some(0.0)
    );
    // The scenario's failed REST link and inactive HTTP link.
    assert_eq!(
        sample(&text, &status_series(region, payments, "rest", "failed")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &status_series(region, payments, "rest", "available")),
        Some(0.0)
    );
    assert_eq!(
        sample(&text, &status_series(region, legacy, "http", "inactive")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &status_series(region, legacy, "http", "available")),
        Some(0.0)
    );

    let payments_nlb = seeded[region]["payments_nlb_arn"].as_str().unwrap();
    for (id, nlb) in [(orders, nlb), (payments, payments_nlb)] {
        let target = format!(
            "awsconn_vpc_link_target_info{{account=\"123456789012\",region=\"{region}\",vpc_link_id=\"{id}\",target_arn=\"{nlb}\"}}"
        );
        assert_eq!(sample(&text, &target), Some(1.0), "{target}\n{text}");
    }

    let check = |id: &str| {
        format!(
            "awsconn_vpc_link_check{{account=\"123456789012\",region=\"{region}\",vpc_link_id=\"{id}\",check=\"link_available\"}}"
        )
    };
    assert_eq!(sample(&text, &check(orders)), Some(1.0));
    assert_eq!(sample(&text, &check(payments)), Some(0.0));
    assert_eq!(sample(&text, &check(legacy)), Some(0.0));

    let collector = "{collector=\"vpc_links\",account=\"123456789012\",region=\"us-east-1\"}";
    assert_eq!(
        sample(&text, &format!("awsconn_collector_success{collector}")),
        Some(1.0)
    );
    assert!(
        sample(
            &text,
            &format!("awsconn_collector_last_success_timestamp_seconds{collector}")
        )
        .unwrap()
            > 1.7e9
    );
    for (service, operation) in [
        ("sts", "GetCallerIdentity"),
        ("apigateway", "GetVpcLinks"),
        ("apigatewayv2", "GetVpcLinks"),
    ] {
        let series = format!(
            "awsconn_aws_api_requests_total{{service=\"{service}\",operation=\"{operation}\",outcome=\"ok\"}}"
        );
        assert_eq!(sample_sum(&text, &series), Some(1.0), "{series}\n{text}");
    }
    // Each attempt says which account and region it was made for; the
    // account's first GetCallerIdentity learns the id (no role: `unknown`).
    assert_eq!(
        sample(
            &text,
            "awsconn_aws_api_requests_total{service=\"apigateway\",operation=\"GetVpcLinks\",outcome=\"ok\",account=\"123456789012\",region=\"us-east-1\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "awsconn_aws_api_requests_total{service=\"sts\",operation=\"GetCallerIdentity\",outcome=\"ok\",account=\"unknown\",region=\"us-east-1\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(text.contains("awsconn_aws_api_request_duration_seconds_bucket{service=\"apigateway\",operation=\"GetVpcLinks\",le=\"+Inf\"} 1"));

    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("promtool check metrics: {e}\n{text}"));
}

#[test]
fn every_page_of_both_apis_is_read() {
    let scenario = r#"{"page_size": {"apigateway:GetVpcLinks": 1, "apigatewayv2:GetVpcLinks": 1}}"#;
    let emulator = Emulator::start(scenario);
    let seeded = emulator.seed(&["us-east-1"]);
    let config = config_file("regions: [us-east-1]\n");
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "{stderr}");
    for name in [
        "orders-rest-link",
        "payments-rest-link",
        "checkout-http-link",
        "legacy-http-link",
    ] {
        let id = link_id(&seeded, "us-east-1", name);
        assert!(
            text.contains(&format!("vpc_link_id=\"{id}\",name=\"{name}\"")),
            "{name} missing\n{text}"
        );
    }
    let requests = emulator.requests();
    assert_eq!(requests["apigateway:GetVpcLinks"], 2, "{requests}");
    assert_eq!(requests["apigatewayv2:GetVpcLinks"], 2, "{requests}");
}

#[test]
fn every_region_is_polled_with_its_own_labels() {
    let emulator = Emulator::start("{}");
    let seeded = emulator.seed(&["us-east-1", "eu-west-1"]);
    let config = config_file("regions: [us-east-1, eu-west-1]\n");
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "{stderr}");
    for region in ["us-east-1", "eu-west-1"] {
        let id = link_id(&seeded, region, "orders-rest-link");
        assert_eq!(
            sample(&text, &status_series(region, id, "rest", "available")),
            Some(1.0),
            "{region}\n{text}"
        );
        let success = format!(
            "awsconn_collector_success{{collector=\"vpc_links\",account=\"123456789012\",region=\"{region}\"}}"
        );
        assert_eq!(sample(&text, &success), Some(1.0));
    }
    // Links are regional: the us-east-1 link is not reported in eu-west-1.
    let us = link_id(&seeded, "us-east-1", "orders-rest-link");
    assert!(!text.contains(&format!("region=\"eu-west-1\",vpc_link_id=\"{us}\"")));
}

#[test]
fn throttling_is_counted_and_retried() {
    let scenario = r#"{"faults": [{"service": "apigateway", "operation": "GetVpcLinks", "kind": "throttle", "times": 1}]}"#;
    let emulator = Emulator::start(scenario);
    emulator.seed(&["us-east-1"]);
    let config =
        config_file("regions: [us-east-1]\naws: {retry_mode: standard, max_attempts: 3}\n");
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "the retry should succeed: {stderr}");
    let series = |outcome: &str| {
        format!(
            "awsconn_aws_api_requests_total{{service=\"apigateway\",operation=\"GetVpcLinks\",outcome=\"{outcome}\"}}"
        )
    };
    assert_eq!(sample_sum(&text, &series("throttled")), Some(1.0), "{text}");
    assert_eq!(sample_sum(&text, &series("ok")), Some(1.0), "{text}");
    assert_eq!(emulator.requests()["apigateway:GetVpcLinks"], 2);
}

#[test]
fn an_unreachable_aws_fails_the_collector_and_exits_1() {
    // Nothing listens on this port.
    let endpoint = format!("http://127.0.0.1:{}", crate::harness::free_port());
    let config = config_file("regions: [us-east-1]\naws: {max_attempts: 1, connect_timeout: 1s}\n");
    let (ok, text, _) = once(&endpoint, config.path());
    assert!(!ok);
    assert_eq!(
        sample(
            &text,
            "awsconn_collector_success{collector=\"vpc_links\",account=\"unknown\",region=\"us-east-1\"}"
        ),
        Some(0.0),
        "{text}"
    );
    // Each collector's poll asks STS for the account first, and fails there.
    let sts_errors = sample_sum(
        &text,
        "awsconn_aws_api_requests_total{service=\"sts\",operation=\"GetCallerIdentity\",outcome=\"error\"}",
    );
    assert!(sts_errors.is_some_and(|n| n >= 1.0), "{text}");
    assert!(!text.contains("awsconn_vpc_link_info"));
}

#[test]
fn serve_keeps_the_last_good_data_when_aws_goes_away() {
    let mut emulator = Emulator::start(DEMO_SCENARIO);
    let seeded = emulator.seed(&["us-east-1"]);
    let config = config_file(
        "regions: [us-east-1]\ncollectors:\n  vpc_links: {interval: 1s, timeout: 1s}\naws: {max_attempts: 1, connect_timeout: 1s}\n",
    );
    let mut server = Server::start(&emulator.url, config.path(), &[]);

    wait_for("/ready", Duration::from_secs(30), || {
        (server.get("/ready").0 == 200).then_some(())
    });
    let (status, headers, body) = server.get("/metrics");
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = String::from_utf8(body).unwrap();
    let payments = link_id(&seeded, "us-east-1", "payments-rest-link");
    let failed = status_series("us-east-1", payments, "rest", "failed");
    assert_eq!(sample(&text, &failed), Some(1.0), "{text}");
    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("promtool: {e}"));

    // gzip when asked for, identical content.
    let (status, headers, gz) = http_get(&server.base, "/metrics", &[("Accept-Encoding", "gzip")]);
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
    // One gzip member: a reader that takes only the first (flate2's
    // GzDecoder, as curl and browsers) reads it whole.
    let mut plain = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    assert!(plain.contains(&failed));
    let curl = std::process::Command::new("curl")
        .args(["-sS", "--compressed", &format!("{}/metrics", server.base)])
        .output()
        .unwrap();
    assert!(curl.status.success(), "curl --compressed: {curl:?}");
    let curled = String::from_utf8(curl.stdout).unwrap();
    // The process metrics, read at each scrape, follow in every form.
    for text in [&text, &plain, &curled] {
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ] {
            assert!(
                text.lines().any(|l| l.starts_with(&format!("{name} "))),
                "{name}:\n{text}"
            );
        }
    }

    let (status, _, body) = server.get("/");
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("href=\"/metrics\""));
    assert_eq!(server.get("/healthz").0, 200);
    assert_eq!(server.get("/nope").0, 404);

    emulator.kill();
    let success = "awsconn_collector_success{collector=\"vpc_links\",account=\"123456789012\",region=\"us-east-1\"}";
    let after = wait_for(
        "the collector to report failure",
        Duration::from_secs(30),
        || {
            let text = server.metrics();
            (sample(&text, success) == Some(0.0)).then_some(text)
        },
    );
    // The last good data is still served.
    assert_eq!(sample(&after, &failed), Some(1.0), "{after}");
    assert!(
        after.contains("awsconn_collector_last_success_timestamp_seconds{collector=\"vpc_links\"")
    );
    // Whichever of the collector's first calls failed first, as an error.
    assert!(
        after.lines().any(
            |l| l.starts_with("awsconn_aws_api_requests_total{service=\"apigateway")
                && l.contains("outcome=\"error\"")
        ),
        "{after}"
    );
    assert_eq!(
        server.get("/ready").0,
        200,
        "stays ready after the first poll"
    );

    let status = server.terminate();
    assert!(status.success(), "exit after SIGTERM: {status:?}");
}

#[test]
fn ready_is_503_until_the_first_poll_completes() {
    // A front that delays every GetCallerIdentity keeps the first poll running.
    let scenario = r#"{"faults": [{"service": "sts", "operation": "GetCallerIdentity", "kind": "delay", "seconds": 3, "times": 1}]}"#;
    let emulator = Emulator::start(scenario);
    let config = config_file(
        "regions: [us-east-1]\ncollectors:\n  vpc_links: {interval: 10s, timeout: 8s}\n",
    );
    let server = Server::start(&emulator.url, config.path(), &["--log.format", "json"]);
    let (status, _, body) = server.get("/ready");
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    // /metrics answers at once, before any poll finished.
    let text = server.metrics();
    assert!(text.contains("awsconn_build_info{"), "{text}");
    wait_for("/ready", Duration::from_secs(30), || {
        (server.get("/ready").0 == 200).then_some(())
    });
}

/// `--web.disable-exporter-metrics` leaves the process metrics out.
#[test]
fn exporter_metrics_can_be_turned_off() {
    let emulator = Emulator::start("{}");
    let config =
        config_file("regions: [us-east-1]\ncollectors: {interconnect: {enabled: false}}\n");
    let server = Server::start(
        &emulator.url,
        config.path(),
        &["--web.disable-exporter-metrics"],
    );
    let text = server.metrics();
    assert!(text.contains("awsconn_build_info{"), "{text}");
    assert!(!text.contains("process_"), "{text}");
    // Reloads over HTTP are off unless --web.enable-lifecycle turns them on.
    let (status, _, _) =
        crate::harness::http_request("POST", &server.base, "/-/reload", &[], b"").unwrap();
    assert_eq!(status, 403);
}
