//! The Prometheus rule file (`alerts/awsconn.rules.yml`) and its promtool
//! tests (`alerts/awsconn.rules.test.yml`), both from the alert table.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::alerts::{Alert, Case, Rule, Scope};
use crate::config::Config;
use crate::{MixinError, generated_yaml, template};

pub const RULES_FILE: &str = "awsconn.rules.yml";
pub const TESTS_FILE: &str = "awsconn.rules.test.yml";

#[derive(Serialize)]
struct RuleFile {
    groups: Vec<Group>,
}

/// A rule group, as a rule file and a PrometheusRule's `spec` both hold it.
#[derive(Serialize)]
pub struct Group {
    name: &'static str,
    rules: Vec<RuleOut>,
}

#[derive(Serialize)]
struct RuleOut {
    alert: &'static str,
    expr: String,
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    for_: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep_firing_for: Option<String>,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
}

fn group_of(scope: Scope) -> &'static str {
    match scope {
        Scope::Exporter => "awsconn-exporter",
        Scope::VpcLink => "awsconn-vpc-links",
        Scope::Resource => "awsconn-resources",
    }
}

/// The annotation templates of one rule.
pub fn annotations(config: &Config, alert: &Alert, rule: &Rule) -> BTreeMap<String, String> {
    let mut out = BTreeMap::from([
        ("summary".to_owned(), alert.summary.to_owned()),
        ("description".to_owned(), rule.description.clone()),
        ("runbook_url".to_owned(), config.runbook_url(alert.name)),
    ]);
    if alert.scope == Scope::VpcLink {
        out.insert(
            "links_url".into(),
            format!(
                "{}://{{{{ $labels.instance }}}}/links?vpc_link={{{{ $labels.vpc_link_id }}}}",
                config.dashboards.exporter_scheme
            ),
        );
        out.insert(
            "dashboard_url".into(),
            format!(
                "{}/d/{}?var-account={{{{ $labels.account }}}}&var-region={{{{ $labels.region }}}}&var-vpc_link_id={{{{ $labels.vpc_link_id }}}}",
                config.grafana_url,
                crate::dashboards::VPC_LINK_UID
            ),
        );
    }
    out
}

pub fn rule_file(config: &Config, alerts: &[Alert]) -> String {
    generated_yaml(&RuleFile {
        groups: rule_groups(config, alerts),
    })
}

/// Every alert's rules, in the groups of its scope.
pub fn rule_groups(config: &Config, alerts: &[Alert]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for alert in alerts {
        let name = group_of(alert.scope);
        let rules: Vec<RuleOut> = alert
            .rules
            .iter()
            .map(|rule| RuleOut {
                alert: alert.name,
                expr: rule.expr.clone(),
                // Written even when 0s: the rule says it pages at once on purpose.
                for_: Some(rule.for_.to_string()),
                // A resource alert outlives a failed scrape (see Config::hold).
                keep_firing_for: (alert.scope != Scope::Exporter).then(|| config.hold.to_string()),
                labels: std::iter::once(("severity", alert.severity.as_str().to_owned()))
                    .chain(rule.labels.iter().cloned())
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
                annotations: annotations(config, alert, rule),
            })
            .collect();
        match groups.iter_mut().find(|g| g.name == name) {
            Some(group) => group.rules.extend(rules),
            None => groups.push(Group { name, rules }),
        }
    }
    groups
}

#[derive(Serialize)]
struct TestFile {
    rule_files: Vec<&'static str>,
    evaluation_interval: &'static str,
    tests: Vec<TestGroup>,
}

#[derive(Serialize)]
struct TestGroup {
    name: String,
    interval: &'static str,
    input_series: Vec<InputSeries>,
    alert_rule_test: Vec<AlertTest>,
}

#[derive(Serialize)]
struct InputSeries {
    series: String,
    values: String,
}

#[derive(Serialize)]
struct AlertTest {
    eval_time: String,
    alertname: &'static str,
    exp_alerts: Vec<ExpAlert>,
}

#[derive(Serialize)]
struct ExpAlert {
    exp_labels: BTreeMap<String, String>,
    exp_annotations: BTreeMap<String, String>,
}

/// The promtool tests: for every rule, the case that fires (labels and every
/// annotation exact) and the cases that stay silent.
pub fn test_file(config: &Config, alerts: &[Alert]) -> Result<String, MixinError> {
    let mut tests = Vec::new();
    for alert in alerts {
        for (index, rule) in alert.rules.iter().enumerate() {
            let label = if alert.rules.len() > 1 {
                format!("{} (rule {})", alert.name, index + 1)
            } else {
                alert.name.to_owned()
            };
            for fires in &rule.cases.fires {
                let mut labels = fires.labels.clone();
                labels.insert("severity".into(), alert.severity.as_str().into());
                labels.extend(
                    rule.labels
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), v.clone())),
                );
                let mut expected = BTreeMap::new();
                for (key, text) in annotations(config, alert, rule) {
                    let rendered = template::render(&text, &labels, fires.value_text.as_deref())
                        .map_err(|source| MixinError::Annotation {
                            alert: label.clone(),
                            annotation: key.clone(),
                            source,
                        })?;
                    expected.insert(key, rendered);
                }
                tests.push(group(
                    &label,
                    alert.name,
                    fires,
                    vec![ExpAlert {
                        exp_labels: labels,
                        exp_annotations: expected,
                    }],
                ));
            }
            for case in &rule.cases.silent {
                tests.push(group(&label, alert.name, case, Vec::new()));
            }
        }
    }
    Ok(generated_yaml(&TestFile {
        rule_files: vec![RULES_FILE],
        evaluation_interval: "1m",
        tests,
    }))
}

fn group(
    label: &str,
    alertname: &'static str,
    case: &Case,
    exp_alerts: Vec<ExpAlert>,
) -> TestGroup {
    TestGroup {
        name: format!("{label}: {}", case.name),
        interval: "1m",
        input_series: case
            .series
            .iter()
            .map(|(series, values)| InputSeries {
                series: series.clone(),
                values: values.clone(),
            })
            .collect(),
        alert_rule_test: vec![AlertTest {
            eval_time: format!("{}m", case.eval_minutes),
            alertname,
            exp_alerts,
        }],
    }
}
