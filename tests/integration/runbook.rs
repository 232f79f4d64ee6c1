//! The runbook against moto, one failure of the AWS article per VPC link
//! (`seed.py --runbook`): each link fails exactly the check of its failure,
//! with the right object, and nothing else; the healthy links pass every
//! check. Then the same findings on the `/links` page, in headless Chromium.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::browser;
use crate::harness::{
    Emulator, Server, config_file, promtool_check_metrics, sample, sample_sum, wait_for,
};

const US: &str = "us-east-1";

const DAY_S: i64 = 86_400;
/// seed.py puts the healthy HTTP link's last requests this long ago.
const TEN_DAYS_S: i64 = 10 * DAY_S;

/// The world's configuration: the TLS probe reaches only the pass-through
/// path's target (the front serves it on loopback); every other load
/// balancer is left out, not probed in vain.
fn config(seeded: &Value) -> tempfile::NamedTempFile {
    config_file(&format!(
        "regions: [us-east-1]\ncollectors:\n  interconnect: {{enabled: false}}\n  tls_probe: {{enabled: true, only_addresses: true, addresses: {{tls-passthrough-nlb: \"{}\"}}}}\n",
        s(&seeded["links"]["tls-passthrough"]["tls_target"])
    ))
}

/// The seeded world: `seed.py --runbook` also sets the front's scenario,
/// the execution-log events and the CloudWatch datapoint.
fn world() -> (Emulator, Value) {
    let emulator = Emulator::start("{}");
    let seeded = emulator.seed_runbook(&[US])[US].clone();
    (emulator, seeded)
}

/// `diagnose --output json` over the world, which must find a failure (exit 1).
fn diagnose_failing(emulator: &Emulator, seeded: &Value) -> Value {
    let config = config(seeded);
    let out = crate::harness::exporter(&emulator.url)
        .args(["diagnose", "--output", "json", "--config"])
        .arg(config.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

/// The one check each broken link must fail: its name and its whole object.
fn expected_failures(
    seeded: &Value,
) -> BTreeMap<&'static str, (&'static str, BTreeMap<&'static str, String>)> {
    let l = |name: &str, key: &str| s(&seeded["links"][name][key]);
    let sg = |key: &str| s(&seeded["security_groups"][key]);
    BTreeMap::from([
        (
            "nlb-deleted",
            (
                "load_balancer_active",
                BTreeMap::from([("load_balancer", l("nlb-deleted", "nlb_arn"))]),
            ),
        ),
        (
            "listener-missing",
            (
                "listener_port",
                BTreeMap::from([
                    ("load_balancer", l("listener-missing", "nlb_arn")),
                    ("port", "8443".to_owned()),
                ]),
            ),
        ),
        (
            "connection-rejected",
            (
                "endpoint_connection_available",
                BTreeMap::from([(
                    "service_id",
                    l("connection-rejected", "endpoint_service_id"),
                )]),
            ),
        ),
        (
            "no-healthy-target",
            (
                "targets_healthy",
                BTreeMap::from([("target_group", l("no-healthy-target", "target_group"))]),
            ),
        ),
        (
            "sg-without-port",
            (
                "security_groups_admit",
                BTreeMap::from([
                    ("security_group", sg("wrong_port")),
                    ("direction", "ingress".to_owned()),
                    ("target_group", l("sg-without-port", "target_group")),
                    ("port", "8080".to_owned()),
                ]),
            ),
        ),
        (
            "health-check-blocked",
            (
                "security_groups_admit",
                BTreeMap::from([
                    ("security_group", sg("target")),
                    ("direction", "ingress".to_owned()),
                    ("target_group", l("health-check-blocked", "target_group")),
                    ("port", "8081".to_owned()),
                ]),
            ),
        ),
        (
            "nacl-deny",
            (
                "network_acls_admit",
                BTreeMap::from([
                    ("network_acl", s(&seeded["nacl"])),
                    ("target_group", l("nacl-deny", "target_group")),
                    ("port", "8080".to_owned()),
                ]),
            ),
        ),
        (
            "enforcement-on",
            (
                "privatelink_inbound_rules",
                BTreeMap::from([("load_balancer", l("enforcement-on", "nlb_arn"))]),
            ),
        ),
        (
            "tls-errors",
            (
                "no_tls_errors",
                BTreeMap::from([
                    ("api_id", l("tls-errors", "rest_api")),
                    ("stage", "prod".to_owned()),
                ]),
            ),
        ),
        (
            "certificate-mismatch",
            (
                "certificate_matches_host",
                BTreeMap::from([
                    ("load_balancer", l("certificate-mismatch", "nlb_arn")),
                    ("port", "443".to_owned()),
                    (
                        "host",
                        "certificate-mismatch.internal.example.com".to_owned(),
                    ),
                ]),
            ),
        ),
        (
            "certificate-expiring",
            (
                "certificate_valid",
                BTreeMap::from([
                    ("load_balancer", l("certificate-expiring", "nlb_arn")),
                    ("port", "443".to_owned()),
                    ("certificate_arn", l("certificate-expiring", "certificate")),
                ]),
            ),
        ),
        (
            "tls-passthrough",
            (
                "tls_probe",
                BTreeMap::from([
                    ("load_balancer", l("tls-passthrough", "nlb_arn")),
                    ("port", "443".to_owned()),
                    ("host", l("tls-passthrough", "host")),
                ]),
            ),
        ),
        (
            "http-inactive",
            (
                "link_available",
                BTreeMap::from([("vpc_link", l("http-inactive", "vpc_link_id"))]),
            ),
        ),
    ])
}

/// Words each failure's cause must contain: the finding names the real problem.
const CAUSES: &[(&str, &str)] = &[
    ("nlb-deleted", "no longer exists"),
    (
        "listener-missing",
        "calls port 8443, but the load balancer has no listener on it (listeners: 443)",
    ),
    ("connection-rejected", "is rejected"),
    (
        "no-healthy-target",
        "1 unhealthy (Target.FailedHealthChecks)",
    ),
    (
        "sg-without-port",
        "admits no TCP 8080 from load balancer sg-without-port-nlb",
    ),
    (
        "health-check-blocked",
        "admits no TCP 8081 (health checks) from load balancer health-check-blocked-nlb",
    ),
    (
        "nacl-deny",
        "rule 90 denies inbound TCP 8080 from 10.40.1.0/24",
    ),
    ("enforcement-on", "do not admit port 443"),
    ("tls-errors", "tls_hostname_mismatch"),
    (
        "certificate-mismatch",
        "the listener's certificates cover other.example.com, *.other.example.com",
    ),
    (
        "certificate-expiring",
        "days (the warning is 14 days ahead)",
    ),
    ("http-inactive", "INACTIVE"),
    ("tls-passthrough", "tls_untrusted_certificate"),
];

const REST_CHECKS: &[&str] = &[
    "link_available",
    "load_balancer_active",
    "listener_port",
    "endpoint_service_available",
    "endpoint_connection_available",
    "targets_healthy",
    "security_groups_admit",
    "network_acls_admit",
    "privatelink_inbound_rules",
    "no_tls_errors",
];

const HTTP_CHECKS: &[&str] = &[
    "link_available",
    "load_balancer_active",
    "listener_port",
    "targets_healthy",
    "security_groups_admit",
    "network_acls_admit",
];

#[test]
fn each_failure_of_the_article_fails_its_check_and_nothing_else() {
    let (emulator, seeded) = world();
    let report = diagnose_failing(&emulator, &seeded);
    let by_id: BTreeMap<String, &Value> = report["vpc_links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (s(&l["vpc_link_id"]), l))
        .collect();
    let expected = expected_failures(&seeded);
    let mut problems = Vec::new();
    for (name, link) in seeded["links"].as_object().unwrap() {
        let Some(found) = by_id.get(&s(&link["vpc_link_id"])) else {
            problems.push(format!("{name}: not in the report"));
            continue;
        };
        let checks = found["checks"].as_array().unwrap();
        let failures: Vec<&Value> = checks.iter().filter(|c| c["ok"] == false).collect();
        match expected.get(name.as_str()) {
            None => {
                if !failures.is_empty() || found["healthy"] != true {
                    problems.push(format!(
                        "{name}: should pass every check, fails {failures:?}"
                    ));
                }
                let all = if found["api_type"] == "rest" {
                    REST_CHECKS
                } else {
                    HTTP_CHECKS
                };
                for check in all {
                    if !checks.iter().any(|c| c["check"] == *check) {
                        problems.push(format!("{name}: no {check} check"));
                    }
                }
            }
            Some((check, object)) => {
                let want = json!({"check": check, "object": object});
                let got: Vec<Value> = failures
                    .iter()
                    .map(|c| json!({"check": c["check"], "object": c["object"]}))
                    .collect();
                if got != [want.clone()] {
                    problems.push(format!("{name}: wants exactly {want}, fails {got:?}"));
                    continue;
                }
                let cause = failures[0]["cause"].as_str().unwrap_or_default();
                let words = CAUSES
                    .iter()
                    .find(|(n, _)| n == name)
                    .unwrap_or_else(|| panic!("CAUSES has no words for {name}"))
                    .1;
                if !cause.contains(words) {
                    problems.push(format!("{name}: cause {cause:?} lacks {words:?}"));
                }
                if failures[0]["fix"].as_str().is_none_or(str::is_empty) {
                    problems.push(format!("{name}: no fix"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n\nreport: {report:#}",
        problems.join("\n")
    );
    assert_eq!(by_id.len(), seeded["links"].as_object().unwrap().len());

    // TLS through TCP listeners: the pass-through path's is probed (above:
    // it fails), the REST paths' (https through TCP 443) are left out by
    // only_addresses; each says so on its certificate check, and only the
    // probed one has a tls_probe check.
    let note = |name: &str| -> String {
        let link = by_id[&s(&seeded["links"][name]["vpc_link_id"])];
        let check = link["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == "certificate_matches_host")
            .unwrap_or_else(|| panic!("{name}: no certificate_matches_host: {link:#}"));
        assert_eq!(check["ok"], true, "{name}: {check}");
        s(&check["note"])
    };
    let probed = note("tls-passthrough");
    assert!(
        probed.contains("TLS at the targets") && probed.contains("the tls_probe check judges it"),
        "{probed}"
    );
    let left_out = note("healthy");
    assert!(
        left_out.contains("TLS at the targets") && left_out.contains("only_addresses"),
        "{left_out}"
    );
    let probe_checks: Vec<String> = by_id
        .values()
        .filter(|l| {
            l["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["check"] == "tls_probe")
        })
        .map(|l| s(&l["name"]))
        .collect();
    assert_eq!(probe_checks, ["tls-passthrough-link"]);

    // How long each V2 link has been idle, from CloudWatch Count: counted
    // from the start of the day of the last request; the whole 60-day
    // window when there was none. V1 links have none.
    let idle =
        |name: &str| by_id[&s(&seeded["links"][name]["vpc_link_id"])]["idle_seconds"].as_i64();
    let recent = idle("healthy-http").expect("idle time of the healthy HTTP link");
    assert!(
        (TEN_DAYS_S..TEN_DAYS_S + DAY_S).contains(&recent),
        "{recent}"
    );
    assert_eq!(idle("http-inactive"), Some(60 * DAY_S));
    assert_eq!(idle("healthy"), None);
}

/// The red part of a broken hop (its left border) in the page's stylesheet.
const BAD_RED: [u8; 3] = [0xe0, 0x31, 0x31];
const GOOD_GREEN: [u8; 3] = [0x2b, 0x8a, 0x3e];

#[test]
fn the_links_page_shows_each_hop_in_a_browser() {
    let (emulator, seeded) = world();
    let config = config(&seeded);
    let server = Server::start(&emulator.url, config.path(), &[]);
    wait_for("the first complete poll", Duration::from_secs(60), || {
        (server.get("/ready").0 == 200).then_some(())
    });
    let link = |name: &str| s(&seeded["links"][name]["vpc_link_id"]);

    // The metrics say what the page shows.
    let metrics = server.metrics();
    let l = "account=\"123456789012\",region=\"us-east-1\"";
    let nacl_check = format!(
        "awsconn_vpc_link_check{{{l},vpc_link_id=\"{}\",check=\"network_acls_admit\",network_acl=\"{}\",port=\"8080\",target_group=\"{}\"}}",
        link("nacl-deny"),
        s(&seeded["nacl"]),
        s(&seeded["links"]["nacl-deny"]["target_group"])
    );
    assert_eq!(
        sample(&metrics, &nacl_check),
        Some(0.0),
        "{nacl_check}\n{metrics}"
    );
    let healthy = format!(
        "awsconn_vpc_link_healthy{{{l},vpc_link_id=\"{}\"}}",
        link("healthy")
    );
    assert_eq!(sample(&metrics, &healthy), Some(1.0));
    promtool_check_metrics(&metrics).unwrap_or_else(|e| panic!("promtool: {e}"));
    // The probe's series: the one probed call, failed as untrusted.
    let passthrough = &seeded["links"]["tls-passthrough"];
    let call = format!(
        "{l},vpc_link_id=\"{}\",load_balancer=\"{}\",target=\"{}\",port=\"443\"",
        link("tls-passthrough"),
        s(&passthrough["nlb_arn"]),
        s(&passthrough["host"])
    );
    assert_eq!(
        sample(&metrics, &format!("awsconn_tls_probe_success{{{call}}}")),
        Some(0.0),
        "{call}\n{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            &format!("awsconn_tls_probe_failure{{{call},class=\"tls_untrusted_certificate\"}}")
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metrics
            .lines()
            .filter(|l| l.starts_with("awsconn_tls_probe_success{"))
            .count(),
        1,
        "only the addressed call is probed: {metrics}"
    );
    // The REST paths' https calls through TCP listeners (healthy,
    // listener-missing's 8443 and the rest but the two TLS listeners'), left
    // out and counted.
    let unaddressed = sample(
        &metrics,
        &format!("awsconn_tls_probe_unaddressed_calls{{{l}}}"),
    )
    .unwrap_or_else(|| panic!("{metrics}"));
    assert!(unaddressed >= 8.0, "{unaddressed}\n{metrics}");

    // The certificates of the TLS listeners, as ACM has them: the expiring
    // one's date, ten days after the seeding, and its listing.
    let expiring = &seeded["links"]["certificate-expiring"];
    let listener = format!(
        "{l},load_balancer=\"{}\",port=\"443\",certificate_arn=\"{}\",domain=\"certificate-expiring.internal.example.com\"",
        s(&expiring["nlb_arn"]),
        s(&expiring["certificate"])
    );
    let expiry = format!("awsconn_listener_certificate_expiry_timestamp_seconds{{{listener}}}");
    let at = sample(&metrics, &expiry).unwrap_or_else(|| panic!("{expiry}\n{metrics}")) as i64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now + 9 * DAY_S..now + 10 * DAY_S).contains(&at),
        "{at} vs {now}"
    );
    let info = format!(
        "awsconn_listener_certificate_info{{{listener},default=\"true\",status=\"issued\",in_use_by=\"1\"}}"
    );
    assert_eq!(sample(&metrics, &info), Some(1.0), "{info}\n{metrics}");
    // Every AWS operation of the poll, the certificate calls among them,
    // is granted by `iam-policy`.
    let seen = crate::harness::actions_seen(&metrics);
    assert!(seen.contains("acm:DescribeCertificate"), "{seen:?}");
    let granted = crate::harness::actions_granted(config.path());
    assert!(seen.is_subset(&granted), "{seen:?} not all in {granted:?}");

    let (status, headers, _) = server.get("/links");
    assert_eq!(status, 200);
    assert!(
        crate::harness::header(&headers, "content-type")
            .is_some_and(|v| v.starts_with("text/html")),
        "{headers:?}"
    );

    // The DOM the browser built: the broken hop of the NACL link is red and says the fix.
    let dom = browser::dump_dom(&format!("{}/links", server.base));
    let section = |id: &str| {
        dom.split("<section ")
            .find(|sec| sec.contains(&format!("data-vpc-link=\"{id}\"")))
            .unwrap_or_else(|| panic!("no section for {id}:\n{dom}"))
            .to_owned()
    };
    // The one red hop of a link's section.
    let red_hop = |section: &str| -> String {
        let red: Vec<&str> = section
            .split("<li ")
            .filter(|li| li.starts_with("class=\"hop bad"))
            .collect();
        assert_eq!(red.len(), 1, "one red hop: {section}");
        red[0].to_owned()
    };
    let nacl = section(&link("nacl-deny"));
    assert!(nacl.starts_with("class=\"link bad\""), "{nacl}");
    let red = red_hop(&nacl);
    assert!(red.contains("data-kind=\"target-group\""), "{red}");
    assert!(red.contains("rule 90 denies inbound TCP 8080"), "{red}");
    assert!(red.contains("Fix: Add an allow entry to"), "{red}");
    assert!(
        red.contains(&format!(
            "#NetworkAclDetails:networkAclId={}",
            s(&seeded["nacl"])
        )),
        "the NACL links to its console page: {red}"
    );
    // The listener whose certificate does not cover the host is red and
    // names what the certificate covers.
    let mismatch = red_hop(&section(&link("certificate-mismatch")));
    assert!(mismatch.contains("data-kind=\"listener\""), "{mismatch}");
    assert!(mismatch.contains("*.other.example.com"), "{mismatch}");
    // The pass-through path: its listener hop is TCP with TLS at the
    // targets, red with what the probe met.
    let passthrough = red_hop(&section(&link("tls-passthrough")));
    assert!(
        passthrough.contains("data-kind=\"listener\""),
        "{passthrough}"
    );
    assert!(passthrough.contains("TLS at the targets"), "{passthrough}");
    assert!(
        passthrough.contains("tls_untrusted_certificate"),
        "{passthrough}"
    );
    let good = section(&link("healthy"));
    assert!(good.starts_with("class=\"link ok\""), "{good}");
    assert!(!good.contains("class=\"hop bad"), "{good}");
    for kind in [
        "api",
        "integration",
        "vpc-link",
        "endpoint-service",
        "endpoint-connection",
        "load-balancer",
        "listener",
        "target-group",
        "target",
    ] {
        assert!(
            good.contains(&format!("data-kind=\"{kind}\"")),
            "{kind} hop missing: {good}"
        );
    }

    // What a person sees: red where the hop is broken, none on a healthy link.
    let dir = browser::artefacts();
    let whole = browser::screenshot(
        &format!("{}/links", server.base),
        &dir.join("links.png"),
        1280,
        4000,
    );
    assert_eq!((whole.width, whole.height), (1280, 4000));
    let broken = browser::screenshot(
        &format!("{}/links?vpc_link={}", server.base, link("nacl-deny")),
        &dir.join("links-nacl-deny.png"),
        1280,
        1000,
    );
    assert!(
        broken.count(BAD_RED) > 200,
        "red pixels: {}",
        broken.count(BAD_RED)
    );
    assert!(
        broken.count(GOOD_GREEN) > 200,
        "green pixels: {}",
        broken.count(GOOD_GREEN)
    );
    let fine = browser::screenshot(
        &format!("{}/links?vpc_link={}", server.base, link("healthy")),
        &dir.join("links-healthy.png"),
        1280,
        1000,
    );
    assert_eq!(fine.count(BAD_RED), 0);
    assert!(fine.count(GOOD_GREEN) > 200);

    // Paged and filtered, as the browser follows the pager: unhealthy
    // links first, three to a page, the filter kept from page to page.
    let sections = |dom: &str| -> Vec<String> {
        dom.split("<section ")
            .skip(1)
            .map(|s| s.split('>').next().unwrap_or("").to_owned())
            .collect()
    };
    let first = browser::dump_dom(&format!(
        "{}/links?health=unhealthy&per_page=3",
        server.base
    ));
    let shown = sections(&first);
    assert_eq!(shown.len(), 3, "{first}");
    assert!(
        shown.iter().all(|s| s.starts_with("class=\"link bad\"")),
        "{shown:?}"
    );
    assert!(first.contains("Links 1–3 of "), "{first}");
    let next = first
        .split("rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no next page: {first}"))
        .replace("&amp;", "&");
    assert_eq!(next, "/links?health=unhealthy&per_page=3&page=2");
    let second = browser::dump_dom(&format!("{}{next}", server.base));
    let more = sections(&second);
    assert!(
        !more.is_empty() && more.iter().all(|s| s.starts_with("class=\"link bad\"")),
        "{more:?}"
    );
    assert!(
        more.iter().all(|s| !shown.contains(s)),
        "page 2 repeats page 1"
    );
    let healthy = browser::dump_dom(&format!("{}/links?health=healthy", server.base));
    let ok = sections(&healthy);
    assert!(
        !ok.is_empty() && ok.iter().all(|s| s.starts_with("class=\"link ok\"")),
        "{ok:?}"
    );
    eprintln!("screenshots in {}", dir.display());
}

/// One IAM gap from start-up (DescribeTargetHealth denied), one load
/// balancer whose listeners cannot be read, and one load balancer that
/// fails meanwhile: each gap degrades only what that call feeds. No link is
/// reported healthy on the health it could not read (its `targets_healthy`
/// is unknown, naming the collector and the AWS error); the unread
/// listeners are unknown, never "no listener", and only on their own load
/// balancer; the failed load balancer is still seen as failed.
#[test]
fn a_call_denied_from_the_start_leaves_no_link_healthy_and_hides_nothing_else() {
    let (emulator, seeded) = world();
    let (_, _, body) = crate::harness::http_get(&emulator.url, "/_front/scenario", &[]);
    let mut scenario: Value = serde_json::from_slice(&body).unwrap();
    let unread_nlb = s(&seeded["links"]["listener-missing"]["nlb_arn"]);
    scenario["faults"] = json!([{
        "service": "elasticloadbalancing", "operation": "DescribeTargetHealth", "kind": "error",
        "status": 400, "code": "AccessDenied",
        "message": "User is not authorized to perform: elasticloadbalancing:DescribeTargetHealth"
    }, {
        "service": "elasticloadbalancing", "operation": "DescribeListeners", "kind": "error",
        "body_contains": unread_nlb, "status": 500, "code": "InternalFailure",
        "message": "listeners of one load balancer cannot be read"
    }]);
    scenario["load_balancers"][format!("{US}/tls-errors-nlb")] =
        json!({"state": "failed", "reason": "the load balancer failed"});
    emulator.set_scenario(&scenario);
    let report = diagnose_failing(&emulator, &seeded);
    let config = config(&seeded);
    let links = report["vpc_links"].as_array().unwrap();
    assert_eq!(links.len(), seeded["links"].as_object().unwrap().len());
    let by_name = |name: &str| links.iter().find(|l| l["name"] == name).unwrap();
    for link in links {
        let name = s(&link["name"]);
        assert_eq!(link["healthy"], false, "{name} reported healthy: {link:#}");
        for check in link["checks"].as_array().unwrap() {
            if check["check"] == "listener_port" {
                // Unknown on the one load balancer whose listeners are unread
                // (whose missing listener is then not known to be missing).
                if name == "listener-missing-link" {
                    assert_eq!(check["unknown"], "load_balancers", "{check}");
                    assert!(s(&check["cause"]).contains("cannot be read"), "{check}");
                } else {
                    assert!(check["unknown"].is_null(), "{name}: {check}");
                }
                continue;
            }
            if !check["unknown"].is_null() {
                assert_eq!(check["check"], "targets_healthy", "{name}: {check}");
                assert_eq!(check["unknown"], "load_balancers");
                assert_eq!(check["ok"], false);
                assert!(s(&check["cause"]).contains("AccessDenied"), "{check}");
            }
        }
    }
    // The healthy paths fail nothing they can check: only the health is unknown.
    for name in ["healthy-link", "healthy-http-link"] {
        let checks = by_name(name)["checks"].as_array().unwrap();
        let not_ok: Vec<(&Value, &Value)> = checks
            .iter()
            .filter(|c| c["ok"] == false)
            .map(|c| (&c["check"], &c["unknown"]))
            .collect();
        assert_eq!(
            not_ok,
            [(&json!("targets_healthy"), &json!("load_balancers"))],
            "{name}"
        );
    }
    // The load balancer that failed is seen as failed, denied health or not.
    let active: Vec<&Value> = by_name("tls-errors-link")["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["check"] == "load_balancer_active")
        .collect();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["ok"], false);
    assert!(active[0]["unknown"].is_null());

    // The exposition says the same: the collector succeeds, the health it
    // could not read is unknown (no zero counts), the link is not healthy.
    let (ok, text, stderr) = crate::harness::once(&emulator.url, config.path());
    assert!(ok, "the collector still succeeds: {stderr}");
    let id = s(&seeded["links"]["healthy"]["vpc_link_id"]);
    let tg = s(&seeded["links"]["healthy"]["target_group"]);
    let l = format!("account=\"123456789012\",region=\"{US}\",vpc_link_id=\"{id}\"");
    assert_eq!(
        sample(
            &text,
            &format!(
                "awsconn_vpc_link_check_unknown{{{l},check=\"targets_healthy\",collector=\"load_balancers\",target_group=\"{tg}\"}}"
            )
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("awsconn_vpc_link_healthy{{{l}}}")),
        Some(0.0)
    );
    assert!(
        !text.contains(&format!("target_group=\"{tg}\",state=")),
        "{text}"
    );
    assert!(
        sample_sum(
            &text,
            "awsconn_aws_api_requests_total{service=\"elasticloadbalancingv2\",operation=\"DescribeTargetHealth\",outcome=\"denied\"}"
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{text}"
    );
    let unknown_checks = links
        .iter()
        .flat_map(|l| l["checks"].as_array().unwrap())
        .filter(|c| !c["unknown"].is_null())
        .count();
    let unknown_series = text
        .lines()
        .filter(|l| l.starts_with("awsconn_vpc_link_check_unknown{"))
        .count();
    assert!(unknown_checks >= 2, "{report:#}");
    assert_eq!(unknown_series, unknown_checks, "{text}");
    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("promtool: {e}"));
}
