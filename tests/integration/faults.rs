//! Faults from AWS, per service and operation, while `serve` runs: the
//! throttling error of each service, 500, 503, a delay past the collector's
//! timeout, a reset connection, a malformed body and a truncated one. For
//! each, every faulted collector's success goes to 0 and comes back, the
//! attempts are counted under the right outcome, the inventory keeps its
//! last good values, and `/metrics` answers throughout. Throttled for
//! three polls and cleared, a collector succeeds again within two polls,
//! at a 1 s timeout and at a 2 s one.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::harness::{
    Emulator, Server, config_file, promtool_check_metrics, sample, sample_sum, wait_for,
};

const US: &str = "us-east-1";

/// (front service, operation, collector, SDK service label) of one call per collector.
const CALLS: &[(&str, &str, &str, &str)] = &[
    ("apigateway", "GetVpcLinks", "vpc_links", "apigateway"),
    (
        "elasticloadbalancing",
        "DescribeLoadBalancers",
        "load_balancers",
        "elasticloadbalancingv2",
    ),
    (
        "ec2",
        "DescribeVpcEndpointServiceConfigurations",
        "endpoints",
        "ec2",
    ),
    ("ec2", "DescribeSecurityGroups", "network_rules", "ec2"),
    ("monitoring", "GetMetricData", "cloudwatch", "cloudwatch"),
    (
        "interconnect",
        "ListConnections",
        "interconnect",
        "interconnect",
    ),
];

/// Families of what AWS said: kept as they were while their collector fails.
const INVENTORY: &[&str] = &[
    "awsconn_vpc_link_info",
    "awsconn_vpc_link_status",
    "awsconn_load_balancer_state",
    "awsconn_endpoint_service_state",
    "awsconn_target_group_targets",
];

fn inventory(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| INVENTORY.iter().any(|f| l.starts_with(&format!("{f}{{"))))
        .map(str::to_owned)
        .collect()
}

fn success(text: &str, collector: &str) -> Option<f64> {
    sample(
        text,
        &format!(
            "awsconn_collector_success{{collector=\"{collector}\",account=\"123456789012\",region=\"{US}\"}}"
        ),
    )
}

fn attempts(text: &str, service: &str, operation: &str, outcome: &str) -> f64 {
    sample_sum(
        text,
        &format!("awsconn_aws_api_requests_total{{service=\"{service}\",operation=\"{operation}\",outcome=\"{outcome}\"}}"),
    )
    .unwrap_or(0.0)
}

#[test]
fn every_fault_of_every_call_fails_its_collector_and_recovers() {
    let emulator = Emulator::start("{}");
    emulator.seed_paths(&[US]);
    // The world has no Interconnect, which is then asked only every
    // absent_interval: here every poll, so that its faults strike.
    let config = config_file(
        "regions: [us-east-1]\ncollectors:\n  vpc_links: {interval: 2s, timeout: 2s}\n  load_balancers: {interval: 2s, timeout: 1s}\n  endpoints: {interval: 2s, timeout: 2s}\n  network_rules: {interval: 2s, timeout: 2s}\n  cloudwatch: {interval: 2s, timeout: 2s}\n  interconnect: {interval: 2s, timeout: 2s, absent_interval: 2s}\n  execution_logs: {interval: 2s, timeout: 2s}\naws: {max_attempts: 2}\n",
    );
    let server = Server::start(&emulator.url, config.path(), &[]);
    let all = |value: f64| {
        let text = server.metrics();
        CALLS
            .iter()
            .all(|(_, _, collector, _)| success(&text, collector) == Some(value))
            .then_some(text)
    };
    let good = wait_for(
        "every collector to succeed",
        Duration::from_secs(60),
        || all(1.0),
    );
    let kept = inventory(&good);
    assert!(kept.len() >= 5, "{good}");

    let kinds: &[(&str, serde_json::Value, &str)] = &[
        ("throttle", json!({"kind": "throttle"}), "throttled"),
        (
            "500",
            json!({"kind": "error", "status": 500, "code": "InternalFailure"}),
            "error",
        ),
        (
            "503",
            json!({"kind": "error", "status": 503, "code": "ServiceUnavailable"}),
            "error",
        ),
        ("delay", json!({"kind": "delay", "seconds": 3}), "timeout"),
        ("reset", json!({"kind": "reset"}), "error"),
        ("malformed", json!({"kind": "malformed"}), "error"),
        ("truncated", json!({"kind": "truncated"}), "error"),
    ];
    let mut figures = BTreeMap::new();
    for (name, fault, outcome) in kinds {
        let before = server.metrics();
        let faults: Vec<serde_json::Value> = CALLS
            .iter()
            .map(|(service, operation, _, _)| {
                let mut f = fault.clone();
                f["service"] = json!(service);
                f["operation"] = json!(operation);
                f
            })
            .collect();
        emulator.set_scenario(&json!({ "faults": faults }));
        // Every scrape meanwhile is answered (Server::metrics asserts 200).
        let failing = wait_for(
            &format!("{name}: every faulted collector to fail"),
            Duration::from_secs(60),
            || all(0.0),
        );
        promtool_check_metrics(&failing).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            inventory(&failing),
            kept,
            "{name}: the last good inventory is kept"
        );
        for (_, operation, collector, service) in CALLS {
            let counted = attempts(&failing, service, operation, outcome)
                - attempts(&before, service, operation, outcome);
            assert!(
                counted >= 1.0,
                "{name}: {service} {operation} ({collector}) not counted as {outcome}\n{failing}"
            );
            figures.insert((*name, *collector), counted);
        }
        if *name == "throttle" {
            // Throttled for at least three more polls (6 s), then cleared:
            // each collector succeeds again within two polls, at a 1 s
            // timeout (load_balancers) and a 2 s one (endpoints), in the
            // default adaptive retry mode.
            let watched = ["load_balancers", "endpoints"];
            let polls = |text: &str, c: &str| crate::harness::polls_in(text, c)[0];
            let start = server.metrics();
            wait_for(
                "three more throttled polls",
                Duration::from_secs(60),
                || {
                    let text = server.metrics();
                    watched
                        .iter()
                        .all(|c| {
                            polls(&text, c) >= polls(&start, c) + 3
                                && success(&text, c) == Some(0.0)
                        })
                        .then_some(())
                },
            );
            emulator.set_scenario(&json!({}));
            let cleared = server.metrics();
            let mut to_recover = BTreeMap::new();
            wait_for(
                "the throttled collectors to recover",
                Duration::from_secs(60),
                || {
                    let text = server.metrics();
                    for c in watched {
                        if success(&text, c) == Some(1.0) {
                            to_recover
                                .entry(c)
                                .or_insert(polls(&text, c) - polls(&cleared, c));
                        }
                    }
                    (to_recover.len() == watched.len()).then_some(())
                },
            );
            for (collector, polls) in &to_recover {
                assert!(
                    *polls <= 2,
                    "{collector} took {polls} polls to recover from throttling"
                );
            }
            eprintln!("polls to recover after throttling stopped: {to_recover:?}");
        }
        emulator.set_scenario(&json!({}));
        let recovered = wait_for(
            &format!("{name}: every collector to recover"),
            Duration::from_secs(60),
            || all(1.0),
        );
        assert_eq!(
            inventory(&recovered),
            kept,
            "{name}: the same inventory after recovery"
        );
    }
    assert_eq!(figures.len(), kinds.len() * CALLS.len());
}
