//! The README's demo, end to end with real parts, as one world: moto behind
//! the AWS front seeded with the runbook paths (one of them TLS through a
//! TCP listener to a target the front serves, which the TLS probe fails),
//! execution-log events, CloudWatch datapoints and a down Interconnect
//! connection; the real
//! exporter; a real Prometheus evaluating the generated rules (the demo's
//! short `for`s); a real Alertmanager with the example routes and
//! inhibitions, posting to a webhook this test listens on.
//!
//! It proves: the world raises exactly the alerts it must (each broken path
//! its check's alert, the healthy links none), they reach the webhook with
//! their labels and annotations, the inhibitions mute what they should,
//! every dashboard query returns data, a path broken while everything runs
//! pages within a bounded time, a failing collector mutes its alerts, and a
//! stopped exporter fires AwsconnExporterDown and mutes the rest.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use awsconn_mixin::dashboards::{
    ACCOUNT_NAME_REGEX, EXPORTER_UID, INTERCONNECT_UID, OVERVIEW_UID, VPC_LINK_UID,
    label_values_query, query_result_query, substitute_all,
};
use serde_json::Value;

use crate::harness::{
    EXPORTER, encode, free_port, get_json, http_get, http_request, query, repo, seed_py,
    try_http_get, wait_for, wait_for_or,
};

/// The running demo; stopped (SIGTERM, which its trap passes on) when
/// dropped, so a failing assertion leaves no process behind.
struct Demo(Child);

impl Demo {
    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        wait_for("the demo to stop", Duration::from_secs(20), || {
            self.0.try_wait().unwrap()
        })
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            self.terminate();
        }
    }
}

/// One notification Alertmanager posted: when, to which receiver path, what.
struct Notification {
    at: Instant,
    path: String,
    body: Value,
}

/// A webhook receiver on loopback, as a pager or chat would be.
struct Webhook {
    url: String,
    received: Arc<Mutex<Vec<Notification>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Webhook {
    fn start() -> Webhook {
        let received: Arc<Mutex<Vec<Notification>>> = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let sink = received.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let app = axum::Router::new().fallback(
                    move |uri: axum::http::Uri, body: axum::body::Bytes| {
                        let sink = sink.clone();
                        async move {
                            if let Ok(body) = serde_json::from_slice(&body) {
                                sink.lock().unwrap().push(Notification {
                                    at: Instant::now(),
                                    path: uri.path().to_owned(),
                                    body,
                                });
                            }
                            "ok"
                        }
                    },
                );
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Webhook {
            url: format!("http://{addr}/"),
            received,
            _stop: stop,
        }
    }

    /// Every firing alert received so far, with its receiver path and arrival.
    fn firing(&self) -> Vec<(Instant, String, Value)> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .flat_map(|n| {
                n.body["alerts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|a| a["status"] == "firing")
                    .map(|a| (n.at, n.path.clone(), a.clone()))
            })
            .collect()
    }
}

/// Names what an alert is about: its link's name, or the resource label.
fn subject(labels: &Value, names: &BTreeMap<String, String>) -> String {
    if let Some(id) = labels["vpc_link_id"].as_str() {
        return names.get(id).cloned().unwrap_or_else(|| id.to_owned());
    }
    for key in ["connection_id", "environment_id", "api_name", "collector"] {
        if let Some(v) = labels[key].as_str() {
            return v.to_owned();
        }
    }
    if let Some(lb) = labels["load_balancer"].as_str() {
        // `app/NAME/ID` or an ARN: the name.
        return lb.rsplit('/').nth(1).unwrap_or(lb).to_owned();
    }
    String::new()
}

fn key(labels: &Value, names: &BTreeMap<String, String>) -> String {
    format!(
        "{} {} {}",
        labels["alertname"].as_str().unwrap_or(""),
        labels["region"].as_str().unwrap_or("-"),
        subject(labels, names)
    )
}

/// Firing alerts in Prometheus, as keys.
fn prometheus_firing(prometheus: &str, names: &BTreeMap<String, String>) -> BTreeSet<String> {
    let Some(answer) = get_json(prometheus, "/api/v1/alerts") else {
        return BTreeSet::new();
    };
    answer["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["state"] == "firing")
        .map(|a| key(&a["labels"], names))
        .collect()
}

/// Alertmanager's view of one alert: (state, inhibitedBy).
fn alertmanager_state(
    alertmanager: &str,
    wanted: &str,
    names: &BTreeMap<String, String>,
) -> Option<(String, usize)> {
    let alerts = get_json(alertmanager, "/api/v2/alerts")?;
    alerts.as_array()?.iter().find_map(|a| {
        (key(&a["labels"], names) == wanted).then(|| {
            (
                a["status"]["state"].as_str().unwrap_or("").to_owned(),
                a["status"]["inhibitedBy"].as_array().map_or(0, Vec::len),
            )
        })
    })
}

/// Waits until Alertmanager holds each of `keys` back, inhibited by another alert.
fn wait_suppressed(alertmanager: &str, keys: &[&str], names: &BTreeMap<String, String>) {
    for k in keys {
        wait_for(
            &format!("Alertmanager to inhibit {k}"),
            Duration::from_secs(30),
            || {
                let (state, by) = alertmanager_state(alertmanager, k, names)?;
                (state == "suppressed" && by >= 1).then_some(())
            },
        );
    }
}

/// The alerts the demo world must raise, as `alertname region subject`.
const EXPECTED: &[&str] = &[
    "AwsconnApi5xxHigh us-east-1 tls-errors-api",
    "AwsconnCertificateExpiring us-east-1 certificate-expiring-nlb",
    "AwsconnCertificateHostMismatch us-east-1 certificate-mismatch-link",
    "AwsconnCertificateInvalid us-east-1 certificate-expiring-link",
    "AwsconnEndpointConnectionUnavailable us-east-1 connection-rejected-link",
    "AwsconnInterconnectAttachPointMissing us-east-1 mcc-gcpstage",
    "AwsconnInterconnectConnectionDown us-east-1 mcc-azuredr1",
    "AwsconnInterconnectEnvironmentDegraded us-east-1 azure-eastus",
    "AwsconnListenerPortMissing us-east-1 listener-missing-link",
    "AwsconnLoadBalancerUnavailable eu-west-1 payments-rest-link",
    "AwsconnLoadBalancerUnavailable us-east-1 nlb-deleted-link",
    "AwsconnNetworkAclBlocks us-east-1 nacl-deny-link",
    "AwsconnNoHealthyTargets us-east-1 no-healthy-target-link",
    "AwsconnPrivateLinkInboundRulesBlock us-east-1 enforcement-on-link",
    "AwsconnSecurityGroupBlocks us-east-1 health-check-blocked-link",
    "AwsconnSecurityGroupBlocks us-east-1 sg-without-port-link",
    "AwsconnTargetResets us-east-1 no-healthy-target-nlb",
    "AwsconnTlsErrors us-east-1 tls-errors-link",
    "AwsconnTlsProbeFailing us-east-1 tls-passthrough-link",
    "AwsconnVpcLinkFailed eu-west-1 payments-rest-link",
    "AwsconnVpcLinkIdle us-east-1 http-inactive-link",
    "AwsconnVpcLinkInactive eu-west-1 legacy-http-link",
    "AwsconnVpcLinkInactive us-east-1 http-inactive-link",
];

/// Inhibited by the world's failed and inactive links.
const INHIBITED: &[&str] = &[
    "AwsconnCertificateInvalid us-east-1 certificate-expiring-link",
    "AwsconnLoadBalancerUnavailable eu-west-1 payments-rest-link",
    "AwsconnVpcLinkIdle us-east-1 http-inactive-link",
];

/// `$__rate_interval` as Grafana sets it with a 1 s scrape interval:
/// max(interval + scrape, 4 × scrape).
const RATE_INTERVAL: &str = "4s";

/// Every variable and panel query of every dashboard returns data; the
/// panels about single links keep `vpc_link_id` and `instance` and link to
/// the exporter's page of that link, which answers.
fn check_dashboards(
    prometheus: &str,
    exporter: &str,
    names: &BTreeMap<String, String>,
) -> (usize, usize) {
    let (mut panels, mut queries) = (0, 0);
    for file in [OVERVIEW_UID, VPC_LINK_UID, INTERCONNECT_UID, EXPORTER_UID] {
        let path = repo().join(format!("dashboards/{file}.json"));
        let board: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for var in board["templating"]["list"].as_array().unwrap() {
            let Some(definition) = var["definition"].as_str() else {
                continue;
            };
            if let Some(expr) = query_result_query(definition) {
                // Accounts by name: every line the regex reads gives an
                // id for the value and a name for the text.
                let result = query(prometheus, &substitute_all(expr, RATE_INTERVAL));
                assert!(
                    !result.is_empty(),
                    "{file}: variable {} has no values",
                    var["name"]
                );
                assert_eq!(var["regex"], ACCOUNT_NAME_REGEX);
                for series in &result {
                    let labels = &series["metric"];
                    assert!(
                        labels["account"].as_str().is_some_and(|a| a.len() == 12),
                        "{series}"
                    );
                    assert!(
                        labels["name"].as_str().is_some_and(|n| !n.is_empty()),
                        "{series}"
                    );
                }
                queries += 1;
                continue;
            }
            let (selector, label) = label_values_query(definition).unwrap();
            let values = get_json(
                prometheus,
                &format!(
                    "/api/v1/label/{label}/values?match[]={}",
                    encode(&substitute_all(selector, RATE_INTERVAL))
                ),
            )
            .unwrap();
            assert!(
                !values["data"].as_array().unwrap().is_empty(),
                "{file}: variable {} has no values",
                var["name"]
            );
            queries += 1;
        }
        for panel in board["panels"].as_array().unwrap() {
            panels += 1;
            let title = panel["title"].as_str().unwrap();
            let links: Vec<&str> = panel["fieldConfig"]["defaults"]["links"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["url"].as_str())
                .filter(|u| u.contains("/links?vpc_link="))
                .collect();
            for target in panel["targets"].as_array().unwrap() {
                let expr = substitute_all(target["expr"].as_str().unwrap(), RATE_INTERVAL);
                let result = query(prometheus, &expr);
                assert!(!result.is_empty(), "{file}: {title}: no series for\n{expr}");
                queries += 1;
                let per_link = result
                    .iter()
                    .all(|s| s["metric"]["vpc_link_id"].is_string());
                assert_eq!(
                    per_link,
                    !links.is_empty(),
                    "{file}: {title}: a panel whose series are VPC links (and only such a panel) links to /links"
                );
                if per_link {
                    let series = &result[0]["metric"];
                    let instance = series["instance"]
                        .as_str()
                        .expect("per-link series keep instance");
                    let id = series["vpc_link_id"].as_str().unwrap();
                    let url = links[0]
                        .replace("${__field.labels.instance}", instance)
                        .replace("${__data.fields.instance}", instance)
                        .replace("${__field.labels.vpc_link_id}", id)
                        .replace("${__data.fields.vpc_link_id}", id);
                    let path = url.split_once(instance).unwrap().1;
                    assert_eq!(instance, exporter, "{file}: {title}");
                    let (status, _, body) =
                        try_http_get(&format!("http://{instance}"), path, &[]).unwrap();
                    assert_eq!(status, 200, "{url}");
                    let page = String::from_utf8_lossy(&body);
                    assert!(
                        page.contains(&names[id]),
                        "{url} does not show {}",
                        names[id]
                    );
                }
            }
        }
    }
    (panels, queries)
}

#[test]
fn demo_world_pages_exactly_what_is_broken() {
    let webhook = Webhook::start();
    let port = free_port();
    let prometheus = format!("127.0.0.1:{}", free_port());
    let alertmanager = format!("127.0.0.1:{}", free_port());
    // The rules with the demo's short `for`s, generated as the demo would.
    let mixin = tempfile::tempdir().unwrap();
    let config = awsconn_mixin::Config::load(&repo().join("mixin/demo.yaml")).unwrap();
    for (path, text) in awsconn_mixin::generate(&config).unwrap() {
        let target = mixin.path().join(path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, text).unwrap();
    }
    let banner = tempfile::NamedTempFile::new().unwrap();
    let started = Instant::now();
    let mut demo = Demo(
        Command::new(repo().join("scripts/demo"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .env("AWSCONN_BIN", EXPORTER)
            .env("AWSCONN_DEMO_MIXIN", mixin.path())
            .env("AWSCONN_DEMO_PROMETHEUS", &prometheus)
            .env("AWSCONN_DEMO_ALERTMANAGER", &alertmanager)
            .env("AWSCONN_DEMO_WEBHOOK", &webhook.url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(banner.reopen().unwrap())
            .spawn()
            .expect("run scripts/demo"),
    );
    let exporter = format!("127.0.0.1:{port}");
    let base = format!("http://{exporter}");
    let prom = format!("http://{prometheus}");
    let am = format!("http://{alertmanager}");
    wait_for(
        "the demo's first complete poll",
        Duration::from_secs(120),
        || {
            if let Some(exit) = demo.0.try_wait().unwrap() {
                panic!(
                    "scripts/demo stopped ({exit}) before its first poll:\n{}",
                    std::fs::read_to_string(banner.path()).unwrap_or_default()
                );
            }
            let (status, _, _) = try_http_get(&base, "/ready", &[]).ok()?;
            (status == 200).then_some(())
        },
    );
    let banner_text = std::fs::read_to_string(banner.path()).unwrap();
    for url in [
        format!("http://{exporter}/links"),
        format!("http://{prometheus}/"),
        format!("amtool --alertmanager.url=http://{alertmanager} alert query --inhibited"),
    ] {
        assert!(
            banner_text.contains(&url),
            "the banner shows {url}:\n{banner_text}"
        );
    }
    // The alerts page the banner names is one this Prometheus serves.
    let alerts_page = banner_text
        .lines()
        .find(|l| l.starts_with("demo: prometheus"))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
        .expect("the banner names Prometheus's alerts page");
    let path = alerts_page.trim_start_matches(&format!("http://{prometheus}"));
    let (status, _, _) = try_http_get(&prom, path, &[]).unwrap();
    assert_eq!(status, 200, "{alerts_page}");
    let exporter_pid = banner_text
        .lines()
        .find(|l| l.starts_with("demo: exporter"))
        .and_then(|l| l.split("(pid ").nth(1))
        .and_then(|rest| rest.split(')').next())
        .expect("the banner names the exporter's process")
        .to_owned();
    let emulator = banner_text
        .lines()
        .find(|l| l.starts_with("demo: emulator"))
        .and_then(|l| l.split_whitespace().find(|w| w.starts_with("http://")))
        .expect("the banner names the emulator")
        .to_owned();

    // The exporter's own view: links by name, the runbook page.
    let (_, _, body) = try_http_get(&base, "/metrics", &[]).unwrap();
    let text = String::from_utf8(body).unwrap();
    let names: BTreeMap<String, String> = text
        .lines()
        .filter(|l| l.starts_with("awsconn_vpc_link_info{"))
        .map(|l| {
            let label = |k: &str| {
                l.split(&format!("{k}=\""))
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .to_owned()
            };
            (label("vpc_link_id"), label("name"))
        })
        .collect();
    assert_eq!(
        names.len(),
        19,
        "15 runbook links in us-east-1, 4 in eu-west-1: {names:?}"
    );
    let (status, _, body) = try_http_get(&base, "/links", &[]).unwrap();
    let page = String::from_utf8(body).unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("rule 90 denies inbound TCP 8080"), "{page}");
    // Healthy links pass every check.
    for name in [
        "healthy-link",
        "healthy-http-link",
        "orders-rest-link",
        "checkout-http-link",
    ] {
        let id = names.iter().find(|(_, n)| *n == name).unwrap().0;
        let healthy = text.lines().any(|l| {
            l.starts_with("awsconn_vpc_link_healthy{")
                && l.ends_with(&format!("vpc_link_id=\"{id}\"}} 1"))
        });
        assert!(healthy, "{name} is not healthy:\n{text}");
        let failing = text
            .lines()
            .filter(|l| {
                l.starts_with("awsconn_vpc_link_check{")
                    && l.contains(&format!("vpc_link_id=\"{id}\""))
                    && l.ends_with(" 0")
            })
            .count();
        assert_eq!(failing, 0, "{name} fails a check:\n{text}");
    }

    // Exactly the alerts the world must raise.
    let expected: BTreeSet<String> = EXPECTED.iter().map(|s| (*s).to_owned()).collect();
    let firing = wait_for_or(
        "the world's alerts to fire",
        Duration::from_secs(90),
        || {
            let firing = prometheus_firing(&prom, &names);
            if firing == expected {
                return Ok(firing);
            }
            Err(format!(
                "missing {:?}, unexpected {:?}",
                expected.difference(&firing).collect::<Vec<_>>(),
                firing.difference(&expected).collect::<Vec<_>>()
            ))
        },
    );
    let time_to_alerts = started.elapsed();

    // They reach the webhook, labels and annotations filled in, critical ones
    // on the pager and the rest on the queue; inhibited ones never do.
    let notified = wait_for(
        "every alert that is not inhibited to reach the webhook",
        Duration::from_secs(60),
        || {
            let got: BTreeMap<String, (String, Value)> = webhook
                .firing()
                .into_iter()
                .map(|(_, path, a)| (key(&a["labels"], &names), (path, a)))
                .collect();
            firing
                .iter()
                .filter(|k| !INHIBITED.contains(&k.as_str()))
                .all(|k| got.contains_key(k))
                .then_some(got)
        },
    );
    let (status, _, runbooks) = http_get(&base, "/runbooks", &[]);
    let runbooks = String::from_utf8(runbooks).unwrap();
    assert_eq!(status, 200, "{runbooks}");
    for (k, (path, alert)) in &notified {
        assert!(
            !INHIBITED.contains(&k.as_str()),
            "{k} was inhibited, yet notified"
        );
        let labels = &alert["labels"];
        let annotations = &alert["annotations"];
        let severity = labels["severity"].as_str().unwrap();
        assert_eq!(
            path,
            if severity == "critical" {
                "/pager"
            } else {
                "/queue"
            },
            "{k}"
        );
        assert_eq!(labels["account"], "123456789012", "{k}");
        assert_eq!(labels["job"], "awsconn", "{k}");
        let description = annotations["description"].as_str().unwrap();
        assert!(
            !description.contains("{{") && !description.contains("<no value>"),
            "{k}: {description}"
        );
        assert!(description.contains("Fix:"), "{k}: {description}");
        // The runbook opens where the alert came from: the exporter's page,
        // with the alert's section on it.
        let name = labels["alertname"].as_str().unwrap();
        let anchor = name.to_lowercase();
        assert_eq!(
            annotations["runbook_url"],
            format!("http://{exporter}/runbooks#{anchor}"),
            "{k}"
        );
        assert!(
            runbooks.contains(&format!(r#"<h2 id="{anchor}">{name}</h2>"#)),
            "{k}: no section #{anchor} on http://{exporter}/runbooks"
        );
        assert!(
            annotations["summary"].as_str().unwrap().ends_with('.'),
            "{k}"
        );
        if let Some(id) = labels["vpc_link_id"].as_str() {
            assert!(description.contains(id), "{k}: {description}");
            assert_eq!(
                annotations["links_url"],
                format!("http://{exporter}/links?vpc_link={id}"),
                "{k}"
            );
        }
    }
    let sg = &notified["AwsconnSecurityGroupBlocks us-east-1 sg-without-port-link"].1;
    let description = sg["annotations"]["description"].as_str().unwrap();
    assert!(
        description.contains(sg["labels"]["security_group"].as_str().unwrap())
            && description.contains("port 8080"),
        "{description}"
    );
    // The limited environment names what can still be ordered there; the
    // lost gateway is named.
    let degraded = &notified["AwsconnInterconnectEnvironmentDegraded us-east-1 azure-eastus"].1;
    let description = degraded["annotations"]["description"].as_str().unwrap();
    assert!(
        description.contains("can be ordered only at 500Mbps"),
        "{description}"
    );
    let lost = &notified["AwsconnInterconnectAttachPointMissing us-east-1 mcc-gcpstage"].1;
    // A browser opens the page's link at the alert's section.
    let dom = crate::browser::dump_dom(lost["annotations"]["runbook_url"].as_str().unwrap());
    assert!(
        dom.contains(r#"<h2 id="awsconninterconnectattachpointmissing">"#)
            && dom.contains("ListAttachPoints"),
        "{dom}"
    );
    assert_eq!(
        lost["labels"]["attach_point"], "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
        "{lost}"
    );
    wait_suppressed(&am, INHIBITED, &names);

    // Every dashboard query returns data, substituted as Grafana would.
    let (panels, queries) = check_dashboards(&prom, &exporter, &names);

    // Time to page: break the healthy REST path while everything runs.
    let healthy_id = names
        .iter()
        .find(|(_, n)| *n == "healthy-link")
        .unwrap()
        .0
        .clone();
    let broken_at = Instant::now();
    seed_py(&["--delete-listeners", &emulator, "us-east-1", "healthy-nlb"]);
    let paged_at = wait_for("the broken path to page", Duration::from_secs(90), || {
        webhook.firing().into_iter().find_map(|(at, path, a)| {
            (a["labels"]["alertname"] == "AwsconnListenerPortMissing"
                && a["labels"]["vpc_link_id"] == healthy_id.as_str()
                && path == "/pager")
                .then_some(at)
        })
    });
    let time_to_page = paged_at.duration_since(broken_at);

    // A collector that fails mutes the alerts built on its data.
    let mut scenario = get_json(&emulator, "/_front/scenario").unwrap();
    scenario["faults"] = serde_json::json!([{
        "service": "interconnect", "region": "us-east-1", "kind": "error",
        "status": 403, "code": "AccessDeniedException",
        "message": "User: arn:aws:iam::123456789012:user/demo is not authorized to perform: interconnect:ListConnections"
    }]);
    let (status, _, _) = http_request(
        "PUT",
        &emulator,
        "/_front/scenario",
        &[],
        &serde_json::to_vec(&scenario).unwrap(),
    )
    .unwrap();
    assert_eq!(status, 200);
    wait_for(
        "the failing collector to alert",
        Duration::from_secs(60),
        || {
            let firing = prometheus_firing(&prom, &names);
            (firing.contains("AwsconnCollectorFailing us-east-1 interconnect")
                && firing
                    .iter()
                    .any(|k| k.starts_with("AwsconnAwsAccessDenied ")))
            .then_some(())
        },
    );
    wait_suppressed(
        &am,
        &[
            "AwsconnInterconnectConnectionDown us-east-1 mcc-azuredr1",
            "AwsconnInterconnectEnvironmentDegraded us-east-1 azure-eastus",
            "AwsconnInterconnectAttachPointMissing us-east-1 mcc-gcpstage",
        ],
        &names,
    );
    // The other resource alerts of that scope still page.
    assert_eq!(
        alertmanager_state(&am, "AwsconnTlsErrors us-east-1 tls-errors-link", &names),
        Some(("active".to_owned(), 0))
    );

    // A stopped exporter: AwsconnExporterDown pages, the rest is muted.
    let killed = Command::new("kill")
        .args(["-TERM", &exporter_pid])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_for(
        "AwsconnExporterDown to page",
        Duration::from_secs(60),
        || {
            webhook
                .firing()
                .iter()
                .any(|(_, path, a)| {
                    a["labels"]["alertname"] == "AwsconnExporterDown" && path == "/pager"
                })
                .then_some(())
        },
    );
    wait_suppressed(
        &am,
        &[
            "AwsconnVpcLinkFailed eu-west-1 payments-rest-link",
            "AwsconnTlsErrors us-east-1 tls-errors-link",
            "AwsconnInterconnectConnectionDown us-east-1 mcc-azuredr1",
        ],
        &names,
    );

    let status = demo.terminate();
    assert!(status.success(), "{status:?}");
    for addr in [&base, &prom, &am] {
        wait_for(
            "the demo's processes to stop",
            Duration::from_secs(10),
            || try_http_get(addr, "/", &[]).is_err().then_some(()),
        );
    }
    let report = format!(
        "demo world: {} alerts firing {:.1}s after start; {} dashboard panels, {} queries with data; \
         time to page a broken path: {:.1}s (poll interval 10s, scrape and evaluation 1s, for 3s, group_interval 2s)\n",
        expected.len(),
        time_to_alerts.as_secs_f64(),
        panels,
        queries,
        time_to_page.as_secs_f64()
    );
    eprint!("{report}");
    let artefacts = repo().join("target/tmp/artefacts");
    std::fs::create_dir_all(&artefacts).unwrap();
    std::fs::write(artefacts.join("demo-world.txt"), report).unwrap();
}
