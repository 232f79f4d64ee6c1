//! Static checks of the mixin, with the real tools: the generated files are
//! what the config generates; promtool lints the rules and runs their tests;
//! promtool and amtool accept the example configs; the alerts follow the
//! monitoring-mixins conventions and each has its runbook section; the
//! dashboards pass the rules of Grafana's dashboard linter; every metric a
//! rule or panel names is in docs/metrics.md.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use awsconn_mixin::alerts::{Scope, Severity, alerts};
use awsconn_mixin::dashboards::{
    EXPORTER_UID, INTERCONNECT_UID, OVERVIEW_UID, VPC_LINK_UID, dashboards, label_values_query,
    query_result_query, substitute_all,
};
use awsconn_mixin::{Config, generate, stale_files};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs a tool of the Prometheus packages (scripts/setup installs them) in the repository.
fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (scripts/setup installs it): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
    text
}

#[test]
fn generated_files_are_what_the_config_generates() {
    let config = Config::load(&repo().join("mixin/config.yaml")).unwrap();
    let files = generate(&config).unwrap();
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "alerts/awsconn.rules.yml",
            "alerts/awsconn.rules.test.yml",
            "alerts/prometheus.example.yml",
            "alerts/alertmanager.example.yml",
            "dashboards/awsconn-overview.json",
            "dashboards/awsconn-vpc-link.json",
            "dashboards/awsconn-interconnect.json",
            "dashboards/awsconn-exporter.json",
            "deploy/kubernetes/components/prometheus-operator/prometheusrule.yaml",
            "deploy/kubernetes/components/prometheus-operator/servicemonitor.yaml",
            "deploy/kubernetes/components/grafana-dashboards/awsconn-overview.yaml",
            "deploy/kubernetes/components/grafana-dashboards/awsconn-vpc-link.yaml",
            "deploy/kubernetes/components/grafana-dashboards/awsconn-interconnect.yaml",
            "deploy/kubernetes/components/grafana-dashboards/awsconn-exporter.yaml",
        ]
    );
    let stale = stale_files(&files, &repo());
    assert!(
        stale.is_empty(),
        "{stale:?} differ from what mixin/config.yaml generates: run `cargo run -p awsconn-mixin` and commit"
    );
}

#[test]
fn promtool_lints_the_rules_and_runs_their_tests() {
    let lint = tool(
        "promtool",
        &[
            "check",
            "rules",
            "--lint=all",
            "--lint-fatal",
            "alerts/awsconn.rules.yml",
        ],
    );
    assert!(lint.contains("SUCCESS"), "{lint}");
    let tests = tool(
        "promtool",
        &["test", "rules", "alerts/awsconn.rules.test.yml"],
    );
    assert!(
        tests.contains("SUCCESS") && !tests.contains("FAILED"),
        "{tests}"
    );
}

/// The tests follow the config: other thresholds and the demo's seconds
/// still give rule files, tests and example configs the tools accept.
#[test]
fn other_configs_generate_files_the_tools_accept() {
    let shipped = std::fs::read_to_string(repo().join("mixin/config.yaml")).unwrap();
    let (head, thresholds) = shipped.split_at(shipped.find("thresholds:").unwrap());
    let strict = format!(
        "{head}{}",
        thresholds
            .replacen("throttled_ratio: 0.1", "throttled_ratio: 0.25", 1)
            .replacen("vpc_link_idle_days: 50", "vpc_link_idle_days: 30", 1)
            .replacen(
                "integration_errors_per_second: 0.05",
                "integration_errors_per_second: 2",
                1
            )
            .replacen("api_5xx_ratio: 0.05", "api_5xx_ratio: 0.3", 1)
            .replacen("target_resets: 0", "target_resets: 20", 1)
    );
    assert_ne!(strict, shipped);
    let demo = std::fs::read_to_string(repo().join("mixin/demo.yaml")).unwrap();
    for (name, text) in [("strict", strict), ("demo", demo)] {
        let config = Config::parse(&text, name).unwrap();
        let dir = tempfile_dir(name);
        awsconn_mixin::write_files(&generate(&config).unwrap(), &dir).unwrap();
        let alerts = dir.join("alerts");
        let path = |f: &str| alerts.join(f).display().to_string();
        let tests = tool(
            "promtool",
            &["test", "rules", &path("awsconn.rules.test.yml")],
        );
        assert!(!tests.contains("FAILED"), "{name}: {tests}");
        tool(
            "promtool",
            &["check", "config", &path("prometheus.example.yml")],
        );
        tool(
            "amtool",
            &["check-config", &path("alertmanager.example.yml")],
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("awsconn-mixin-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_rule_has_a_firing_case_and_silent_cases() {
    let config = Config::shipped();
    let all = alerts(&config);
    assert!(all.len() >= 23, "{} alerts", all.len());
    for alert in &all {
        for rule in &alert.rules {
            assert!(!rule.cases.fires.is_empty(), "{}", alert.name);
            assert!(
                !rule.cases.silent.is_empty(),
                "{}: no silent case",
                alert.name
            );
            for case in &rule.cases.fires {
                assert!(!case.labels.is_empty(), "{}: {}", alert.name, case.name);
                if alert.scope != Scope::Exporter {
                    for label in ["account", "region"] {
                        assert!(
                            case.labels.contains_key(label),
                            "{} keeps {label}",
                            alert.name
                        );
                    }
                }
                if alert.scope == Scope::VpcLink {
                    assert!(case.labels.contains_key("vpc_link_id"), "{}", alert.name);
                }
            }
            // Near misses: a rule with a `for` has a case one step short of it
            // or just under its threshold.
            if rule.for_.seconds() >= 120 {
                assert!(
                    rule.cases.silent.len() >= 2,
                    "{}: only a healthy case",
                    alert.name
                );
            }
        }
    }
    let tests = std::fs::read_to_string(repo().join("alerts/awsconn.rules.test.yml")).unwrap();
    for alert in &all {
        assert!(
            tests.contains(&format!("alertname: {}", alert.name)),
            "{}",
            alert.name
        );
    }
}

#[test]
fn the_example_configs_pass_promtool_and_amtool() {
    tool(
        "promtool",
        &["check", "config", "alerts/prometheus.example.yml"],
    );
    let am = tool(
        "amtool",
        &["check-config", "alerts/alertmanager.example.yml"],
    );
    assert!(am.contains("inhibit rules"), "{am}");
    let cases: [(&[&str], &str); 4] = [
        (
            &["alertname=AwsconnVpcLinkFailed", "severity=critical"],
            "pager",
        ),
        (&["alertname=AwsconnDataStale", "severity=warning"], "queue"),
        // A link tagged Team=payments: its alert carries team="payments"
        // and goes to the team, critical or not; another team's critical
        // alert pages as before.
        (
            &[
                "alertname=AwsconnVpcLinkFailed",
                "severity=critical",
                "team=payments",
            ],
            "team-payments",
        ),
        (
            &[
                "alertname=AwsconnVpcLinkFailed",
                "severity=critical",
                "team=search",
            ],
            "pager",
        ),
    ];
    for (labels, receiver) in cases {
        let mut args = vec![
            "config",
            "routes",
            "test",
            "--config.file=alerts/alertmanager.example.yml",
        ];
        args.extend(labels);
        let routed = tool("amtool", &args);
        assert_eq!(
            routed.lines().next().unwrap_or("").trim(),
            receiver,
            "{labels:?}: {routed}"
        );
    }
}

/// The monitoring-mixins style guide, and mimir-mixin's "every alert has a
/// runbook entry".
#[test]
fn alerts_follow_the_mixin_conventions_and_have_runbooks() {
    let config = Config::shipped();
    let rules: Value = serde_saphyr::from_str(
        &std::fs::read_to_string(repo().join("alerts/awsconn.rules.yml")).unwrap(),
    )
    .unwrap();
    let runbooks = std::fs::read_to_string(repo().join("docs/runbooks.md")).unwrap();
    let sections: BTreeSet<String> = runbooks
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.trim().to_owned())
        .collect();
    let mut names = BTreeSet::new();
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            let name = rule["alert"].as_str().unwrap();
            names.insert(name.to_owned());
            assert!(
                name.starts_with("Awsconn")
                    && name.chars().all(|c| c.is_ascii_alphanumeric())
                    && name[7..].starts_with(|c: char| c.is_ascii_uppercase()),
                "{name} is not CamelCase with the Awsconn prefix"
            );
            let severity = rule["labels"]["severity"].as_str().unwrap();
            assert!(
                ["critical", "warning", "info"].contains(&severity),
                "{name}: {severity}"
            );
            let a = &rule["annotations"];
            let summary = a["summary"].as_str().unwrap();
            assert!(!summary.contains("{{"), "{name}: summary must be static");
            assert!(
                summary.starts_with(|c: char| c.is_ascii_uppercase()) && summary.ends_with('.'),
                "{name}: {summary}"
            );
            let description = a["description"].as_str().unwrap();
            assert!(
                description.contains("{{ $labels."),
                "{name}: description must be templated"
            );
            assert!(
                description.contains("Fix:"),
                "{name}: the description names no fix"
            );
            assert_eq!(a["runbook_url"].as_str().unwrap(), config.runbook_url(name));
            assert!(
                sections.contains(name),
                "docs/runbooks.md has no section {name}"
            );
            assert!(rule["for"].as_str().is_some(), "{name}: no for");
        }
    }
    // The runbook's table of what a failing collector mutes is the inhibition's.
    for collector in awsconn_mixin::alerts::COLLECTORS {
        let row = runbooks
            .lines()
            .find(|l| l.starts_with(&format!("| `{collector}` |")))
            .unwrap_or_else(|| panic!("docs/runbooks.md: no row for {collector}"));
        let listed: BTreeSet<&str> = row
            .split('|')
            .nth(2)
            .unwrap()
            .split(',')
            .map(str::trim)
            .collect();
        let muted: BTreeSet<&str> = alerts(&config)
            .iter()
            .filter(|a| a.collectors.contains(collector))
            .map(|a| a.name)
            .collect();
        assert_eq!(
            listed, muted,
            "docs/runbooks.md: what a failing {collector} collector mutes"
        );
    }
    // The runbook's time-to-page table is what the settings give.
    let rows: Vec<String> = alerts(&config)
        .iter()
        .map(|a| awsconn_mixin::alerts::time_to_page_row(&config, a))
        .collect();
    assert!(
        rows.iter().all(|row| runbooks.lines().any(|l| l == row)),
        "docs/runbooks.md: the time-to-page table should read\n| alert | `for` | time to page |\n|---|---|---|\n{}",
        rows.join("\n")
    );
    let orphans: Vec<&String> = sections.difference(&names).collect();
    assert!(
        orphans.is_empty(),
        "runbook sections without an alert: {orphans:?}"
    );
    // The contract's names all exist.
    for name in [
        "AwsconnExporterDown",
        "AwsconnCollectorFailing",
        "AwsconnDataStale",
        "AwsconnAwsApiThrottled",
        "AwsconnAwsAccessDenied",
        "AwsconnVpcLinkFailed",
        "AwsconnVpcLinkInactive",
        "AwsconnVpcLinkIdle",
        "AwsconnLoadBalancerUnavailable",
        "AwsconnListenerPortMissing",
        "AwsconnEndpointServiceUnavailable",
        "AwsconnEndpointConnectionUnavailable",
        "AwsconnNoHealthyTargets",
        "AwsconnSecurityGroupBlocks",
        "AwsconnNetworkAclBlocks",
        "AwsconnPrivateLinkInboundRulesBlock",
        "AwsconnTlsErrors",
        "AwsconnIntegrationErrors",
        "AwsconnApi5xxHigh",
        "AwsconnTargetResets",
        "AwsconnInterconnectConnectionDown",
        "AwsconnInterconnectConnectionUnavailable",
        "AwsconnInterconnectEnvironmentDegraded",
    ] {
        assert!(names.contains(name), "{name} is missing");
    }
    let critical: Vec<&str> = alerts(&config)
        .iter()
        .filter(|a| a.severity == Severity::Critical)
        .map(|a| a.name)
        .collect();
    assert!(critical.contains(&"AwsconnExporterDown") && critical.contains(&"AwsconnTlsErrors"));
}

/// The rules of Grafana's dashboard-linter, and the project's own: stable
/// short uids, links between the dashboards, data links from VPC-link panels.
#[test]
fn dashboards_pass_the_dashboard_linter_rules() {
    let config = Config::shipped();
    let boards = dashboards(&config);
    let uids: Vec<&str> = boards
        .iter()
        .map(|(_, d)| d["uid"].as_str().unwrap())
        .collect();
    assert_eq!(
        uids,
        [OVERVIEW_UID, VPC_LINK_UID, INTERCONNECT_UID, EXPORTER_UID]
    );
    let mut exprs = Vec::new();
    for (file, d) in &boards {
        let uid = d["uid"].as_str().unwrap();
        assert!(uid.len() <= 40, "{uid}");
        assert!(d["schemaVersion"].as_u64().unwrap() >= 39, "{file}");
        assert!(!d["title"].as_str().unwrap().is_empty());
        let links = d["links"].as_array().unwrap();
        assert!(
            links.iter().any(|l| l["type"] == "dashboards"
                && l["tags"][0] == config.dashboards.tags[0]
                && l["includeVars"] == true
                && l["keepTime"] == true),
            "{file}: no link to the other dashboards"
        );
        let vars = d["templating"]["list"].as_array().unwrap();
        let datasource: Vec<&Value> = vars.iter().filter(|v| v["type"] == "datasource").collect();
        assert_eq!(datasource.len(), 1, "{file}: one datasource variable");
        assert_eq!(datasource[0]["name"], "datasource");
        assert_eq!(datasource[0]["query"], "prometheus");
        let names: Vec<&str> = vars.iter().map(|v| v["name"].as_str().unwrap()).collect();
        assert!(
            names.contains(&"account") && names.contains(&"region"),
            "{file}: {names:?}"
        );
        for v in vars.iter().filter(|v| v["type"] == "query") {
            assert_eq!(
                v["datasource"]["uid"], "${datasource}",
                "{file}: {}",
                v["name"]
            );
            assert_eq!(
                v["refresh"], 2,
                "{file}: {} refreshes on time range change",
                v["name"]
            );
            if v["includeAll"] == true {
                assert_eq!(v["allValue"], ".+");
            }
            exprs.push((
                format!("{file} variable {}", v["name"]),
                v["definition"].as_str().unwrap().to_owned(),
            ));
        }
        let mut ids = BTreeSet::new();
        for p in d["panels"].as_array().unwrap() {
            let title = p["title"].as_str().unwrap();
            assert!(
                !title.is_empty() && !p["description"].as_str().unwrap().is_empty(),
                "{file}: {title}"
            );
            assert!(
                ids.insert(p["id"].as_u64().unwrap()),
                "{file}: panel id {} twice",
                p["id"]
            );
            assert_eq!(p["datasource"]["uid"], "${datasource}", "{file}: {title}");
            assert!(
                !p["fieldConfig"]["defaults"]["unit"]
                    .as_str()
                    .unwrap()
                    .is_empty(),
                "{file}: {title} has no unit"
            );
            let pos = &p["gridPos"];
            assert!(
                pos["x"].as_u64().unwrap() + pos["w"].as_u64().unwrap() <= 24,
                "{file}: {title}"
            );
            let targets = p["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{file}: {title}");
            for t in targets {
                assert_eq!(t["datasource"]["uid"], "${datasource}", "{file}: {title}");
                let expr = t["expr"].as_str().unwrap();
                for func in ["rate(", "irate(", "increase("] {
                    for (i, _) in expr.match_indices(func) {
                        if expr[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                            continue;
                        }
                        let close = expr[i..]
                            .find("])")
                            .map(|j| &expr[i..i + j + 2])
                            .unwrap_or("");
                        assert!(
                            close.ends_with("[$__rate_interval])"),
                            "{file}: {title}: {func} over {close:?}"
                        );
                    }
                }
                exprs.push((format!("{file}: {title}"), expr.to_owned()));
            }
            // Which panels are about single VPC links (their series keep
            // `vpc_link_id`) is proven end to end against Prometheus; here,
            // the links those panels carry are well formed.
            for link in p["fieldConfig"]["defaults"]["links"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let url = link["url"].as_str().unwrap();
                assert!(
                    url.contains("/links?vpc_link=")
                        || url.starts_with(&format!("/d/{VPC_LINK_UID}?")),
                    "{file}: {title}: {url}"
                );
            }
        }
    }
    // Every query parses: promtool checks them as recording rules.
    let mut rules = String::from("groups:\n- name: dashboards\n  rules:\n");
    for (i, (_, expr)) in exprs.iter().enumerate() {
        // label_values(selector, label): the selector must parse.
        // query_result(expr): the expression must parse.
        let expr = label_values_query(expr)
            .map(|(selector, _)| selector)
            .or_else(|| query_result_query(expr))
            .unwrap_or(expr.as_str());
        rules.push_str(&format!(
            "  - record: dashboard:query{i}\n    expr: {}\n",
            serde_json::to_string(&substitute_all(expr, "4m")).unwrap()
        ));
    }
    let dir = tempfile_dir("dashboards");
    let file = dir.join("dashboards.rules.yml");
    std::fs::write(&file, rules).unwrap();
    let out = tool("promtool", &["check", "rules", file.to_str().unwrap()]);
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", exprs.len())),
        "{out}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The check alerts cover exactly the checks the catalogue lists, but
/// `link_available`, which AwsconnVpcLinkFailed/Inactive cover by status.
#[test]
fn every_documented_check_has_its_alert() {
    let catalogue = std::fs::read_to_string(repo().join("docs/metrics.md")).unwrap();
    let section = catalogue
        .split("The checks, each with the object")
        .nth(1)
        .unwrap();
    let documented: BTreeSet<&str> = section
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with('|') || l.trim().is_empty())
        .filter_map(|l| l.strip_prefix("| `")?.split('`').next())
        .filter(|check| *check != "check")
        .collect();
    let alerted: BTreeSet<&str> = awsconn_mixin::alerts::check_alerts_by_check()
        .map(|(check, _)| check)
        .chain(["link_available"])
        .collect();
    assert_eq!(documented, alerted);
}

fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(j) = text[i..].find("awsconn_") {
        let start = i + j;
        let before_ok =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let end = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(text.len(), |k| start + k);
        if before_ok {
            out.insert(text[start..end].to_owned());
        }
        i = end;
    }
    out
}

#[test]
fn every_metric_a_rule_or_panel_names_is_in_the_catalogue() {
    let catalogue = std::fs::read_to_string(repo().join("docs/metrics.md")).unwrap();
    let documented: BTreeSet<String> = metric_names(&catalogue)
        .into_iter()
        // A histogram is listed by its name, and queried by its buckets.
        .flat_map(|m| [format!("{m}_bucket"), m])
        .collect();
    let mut named: BTreeMap<String, String> = BTreeMap::new();
    let rules = std::fs::read_to_string(repo().join("alerts/awsconn.rules.yml")).unwrap();
    let rules: Value = serde_saphyr::from_str(&rules).unwrap();
    for group in rules["groups"].as_array().unwrap() {
        for rule in group["rules"].as_array().unwrap() {
            for m in metric_names(rule["expr"].as_str().unwrap()) {
                named.insert(m, rule["alert"].as_str().unwrap().to_owned());
            }
        }
    }
    for (file, d) in dashboards(&Config::shipped()) {
        for m in metric_names(&d.to_string()) {
            named.insert(m, file.clone());
        }
    }
    assert!(named.len() > 25, "{named:?}");
    for (metric, user) in &named {
        assert!(
            documented.contains(metric),
            "{user} uses {metric}, which docs/metrics.md does not list"
        );
    }
}
