//! Sharding: three shards of one configuration over a world of six regions
//! export together exactly what one process exports, each polls the
//! regions its pinned hash gives it and no other (and makes only their
//! AWS calls), and a shard that is given none is ready at once and says
//! which shard it is.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::harness::{Emulator, Server, config_file, exporter, sample, wait_for};

const REGIONS: [&str; 6] = [
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "sa-east-1",
];

/// The families that say what a scope holds (not how long a poll took).
const SCOPE_FAMILIES: &[&str] = &[
    "awsconn_vpc_link_info{",
    "awsconn_vpc_link_status{",
    "awsconn_vpc_link_check{",
    "awsconn_vpc_link_healthy{",
    "awsconn_load_balancer_state{",
    "awsconn_endpoint_service_state{",
    "awsconn_collector_success{",
];

/// `once` with extra arguments: its exposition.
fn once_with(emulator: &Emulator, config: &std::path::Path, args: &[&str]) -> String {
    let out = exporter(&emulator.url)
        .arg("once")
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("awsconn_build_info"),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn scope_lines(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| SCOPE_FAMILIES.iter().any(|f| l.starts_with(f)))
        .map(str::to_owned)
        .collect()
}

fn regions_in(lines: &BTreeSet<String>) -> BTreeSet<String> {
    lines
        .iter()
        .filter_map(|l| l.split("region=\"").nth(1)?.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn three_shards_export_together_what_one_process_exports() {
    let emulator = Emulator::start("{}");
    emulator.seed(&REGIONS);
    let config = config_file(&format!(
        "regions: [{}]\ncollectors: {{interconnect: {{enabled: false}}, cloudwatch: {{enabled: false}}}}\n",
        REGIONS.join(", ")
    ));
    // AWS calls the front has seen, all operations together.
    let calls = || -> u64 {
        emulator
            .requests()
            .as_object()
            .unwrap()
            .values()
            .filter_map(serde_json::Value::as_u64)
            .sum()
    };
    let before = calls();
    let whole = scope_lines(&once_with(&emulator, config.path(), &[]));
    let whole_calls = calls() - before;
    assert_eq!(regions_in(&whole).len(), REGIONS.len(), "{whole:#?}");

    // The jump hash of "|REGION" (the ambient account) among 3, fixed for
    // good: six keys fall unevenly, and shard 0 gets none of them.
    let pinned: [&[&str]; 3] = [
        &[],
        &["sa-east-1"],
        &[
            "ap-southeast-2",
            "eu-central-1",
            "eu-west-1",
            "us-east-1",
            "us-west-2",
        ],
    ];
    let mut union = BTreeSet::new();
    let mut polled: Vec<BTreeSet<String>> = Vec::new();
    let mut shard_calls = Vec::new();
    for shard in 0..3 {
        let shard = shard.to_string();
        let before = calls();
        let text = once_with(
            &emulator,
            config.path(),
            &["--shard", &shard, "--total-shards", "3"],
        );
        shard_calls.push(calls() - before);
        assert!(
            text.contains(&format!("awsconn_shard_ordinal {shard}\n")),
            "{text}"
        );
        assert!(text.contains("awsconn_total_shards 3\n"), "{text}");
        let lines = scope_lines(&text);
        polled.push(regions_in(&lines));
        union.extend(lines);
    }
    assert_eq!(
        union, whole,
        "the shards together export what one process does"
    );
    // No region is polled by two shards, and every one by some shard.
    let all: Vec<&String> = polled.iter().flatten().collect();
    let distinct: BTreeSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), distinct.len(), "{polled:?}");
    assert_eq!(distinct.len(), REGIONS.len(), "{polled:?}");
    for (shard, regions) in pinned.iter().enumerate() {
        let want: BTreeSet<String> = regions.iter().map(|r| (*r).to_owned()).collect();
        assert_eq!(polled[shard], want, "shard {shard}");
    }
    // No AWS call is made twice: each shard makes its regions' share of
    // the calls (the regions hold alike), and together they make what one
    // process makes, but for the account's GetCallerIdentity, which each
    // shard with a scope asks once.
    let per_region = whole_calls as f64 / REGIONS.len() as f64;
    for (shard, regions) in pinned.iter().enumerate() {
        let expected = per_region * regions.len() as f64;
        let got = shard_calls[shard] as f64;
        assert!(
            (got - expected).abs() <= 2.0,
            "shard {shard}: {got} calls, {expected} expected ({whole_calls} for all)"
        );
    }
    let together: u64 = shard_calls.iter().sum();
    let with_scopes = pinned.iter().filter(|r| !r.is_empty()).count() as u64;
    assert_eq!(
        together,
        whole_calls + with_scopes - 1,
        "{shard_calls:?} against {whole_calls}"
    );

    // A shard with no scope (shard 0 of 5 gets none of the six regions),
    // served: ready at once, and it says so.
    let server = Server::start(
        &emulator.url,
        config.path(),
        &["--shard", "0", "--total-shards", "5"],
    );
    wait_for(
        "the empty shard to be ready",
        Duration::from_secs(30),
        || (server.get("/ready").0 == 200).then_some(()),
    );
    let metrics = server.metrics();
    assert_eq!(
        sample(&metrics, "awsconn_shard_ordinal"),
        Some(0.0),
        "{metrics}"
    );
    assert_eq!(sample(&metrics, "awsconn_total_shards"), Some(5.0));
    assert!(!metrics.contains("region=\""), "no scope: {metrics}");

    // A shard the total does not have is refused before any AWS call.
    let out = exporter(&emulator.url)
        .args(["once", "--config"])
        .arg(config.path())
        .args(["--shard", "3", "--total-shards", "3"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("must be below --total-shards"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
