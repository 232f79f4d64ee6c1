//! The example configurations: Prometheus (scrape job, rule file,
//! Alertmanager) and Alertmanager (routes and the inhibitions that make one
//! root cause page once), derived from the alert table.

use serde::Serialize;

use crate::alerts::{Alert, COLLECTORS, Scope};
use crate::config::{Config, Duration};
use crate::generated_yaml;
use crate::rules::RULES_FILE;

pub const PROMETHEUS_FILE: &str = "prometheus.example.yml";
pub const ALERTMANAGER_FILE: &str = "alertmanager.example.yml";

#[derive(Serialize)]
struct Prometheus {
    global: PromGlobal,
    rule_files: Vec<&'static str>,
    alerting: Alerting,
    scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Serialize)]
struct PromGlobal {
    scrape_interval: String,
    evaluation_interval: String,
}

#[derive(Serialize)]
struct Alerting {
    alertmanagers: Vec<StaticConfigs>,
}

#[derive(Serialize)]
struct StaticConfigs {
    static_configs: Vec<Targets>,
}

#[derive(Serialize)]
struct Targets {
    targets: Vec<String>,
}

#[derive(Serialize)]
struct ScrapeConfig {
    job_name: String,
    scrape_timeout: String,
    static_configs: Vec<Targets>,
}

/// `alerts/prometheus.example.yml`: rule files are relative to it.
pub fn prometheus(config: &Config) -> String {
    let p = &config.prometheus;
    let doc = Prometheus {
        global: PromGlobal {
            scrape_interval: p.scrape_interval.to_string(),
            evaluation_interval: p.evaluation_interval.to_string(),
        },
        rule_files: vec![RULES_FILE],
        alerting: Alerting {
            alertmanagers: vec![StaticConfigs {
                static_configs: vec![Targets {
                    targets: p.alertmanagers.clone(),
                }],
            }],
        },
        scrape_configs: vec![ScrapeConfig {
            job_name: config.job.clone(),
            // Scraping the pre-rendered exposition takes milliseconds; never
            // longer than the interval, which Prometheus refuses.
            scrape_timeout: p
                .scrape_interval
                .min(Duration::from_seconds(10))
                .to_string(),
            static_configs: vec![Targets {
                targets: p.targets.clone(),
            }],
        }],
    };
    generated_yaml(&doc)
}

#[derive(Serialize)]
struct Alertmanager {
    route: Route,
    receivers: Vec<Receiver>,
    inhibit_rules: Vec<Inhibit>,
}

#[derive(Serialize)]
struct Route {
    receiver: &'static str,
    group_by: Vec<String>,
    group_wait: String,
    group_interval: String,
    repeat_interval: String,
    routes: Vec<SubRoute>,
}

#[derive(Serialize)]
struct SubRoute {
    matchers: Vec<String>,
    receiver: String,
}

#[derive(Serialize)]
struct Receiver {
    name: String,
    webhook_configs: Vec<Webhook>,
}

#[derive(Serialize)]
struct Webhook {
    url: String,
    send_resolved: bool,
}

#[derive(Serialize)]
struct Inhibit {
    source_matchers: Vec<String>,
    target_matchers: Vec<String>,
    equal: Vec<&'static str>,
}

/// The inhibitions, each a (source, target, equal) triple. No alert matches
/// both sides of one rule.
fn inhibit_rules(all: &[Alert]) -> Vec<Inhibit> {
    let alternation = |names: &[&str]| format!("alertname=~\"{}\"", names.join("|"));
    let mut out = vec![Inhibit {
        source_matchers: vec!["alertname=\"AwsconnExporterDown\"".into()],
        target_matchers: vec![
            "alertname=~\"Awsconn.+\"".into(),
            "alertname!=\"AwsconnExporterDown\"".into(),
        ],
        equal: vec!["job", "instance"],
    }];
    // `absent(up)`: no target at all, so no instance to match on.
    out.push(Inhibit {
        source_matchers: vec![
            "alertname=\"AwsconnExporterDown\"".into(),
            "instance=\"\"".into(),
        ],
        target_matchers: vec![
            "alertname=~\"Awsconn.+\"".into(),
            "alertname!=\"AwsconnExporterDown\"".into(),
        ],
        equal: vec!["job"],
    });
    // A failing collector explains its own stale data and the checks it leaves unknown.
    out.push(Inhibit {
        source_matchers: vec!["alertname=\"AwsconnCollectorFailing\"".into()],
        target_matchers: vec![alternation(&[
            "AwsconnDataStale",
            "AwsconnVpcLinkCheckUnknown",
        ])],
        equal: vec!["job", "instance", "account", "region", "collector"],
    });
    for collector in COLLECTORS {
        let targets: Vec<&str> = all
            .iter()
            .filter(|a| a.collectors.contains(collector))
            .map(|a| a.name)
            .collect();
        if targets.is_empty() {
            continue;
        }
        out.push(Inhibit {
            source_matchers: vec![
                "alertname=\"AwsconnCollectorFailing\"".into(),
                format!("collector=\"{collector}\""),
            ],
            target_matchers: vec![alternation(&targets)],
            equal: vec!["job", "instance", "account", "region"],
        });
    }
    // An unreadable log group explains the checks it leaves unknown.
    out.push(Inhibit {
        source_matchers: vec!["alertname=\"AwsconnExecutionLogUnreadable\"".into()],
        target_matchers: vec!["alertname=\"AwsconnVpcLinkCheckUnknown\"".into()],
        equal: vec!["job", "instance", "account", "region", "log_group"],
    });
    let link_down = ["AwsconnVpcLinkFailed", "AwsconnVpcLinkInactive"];
    let link_alerts: Vec<&str> = all
        .iter()
        .filter(|a| a.scope == Scope::VpcLink && !link_down.contains(&a.name))
        .map(|a| a.name)
        .collect();
    out.push(Inhibit {
        source_matchers: vec![alternation(&link_down)],
        target_matchers: vec![alternation(&link_alerts)],
        equal: vec!["job", "instance", "account", "region", "vpc_link_id"],
    });
    // A certificate's expiry, graded by date, says more than the check that
    // also fails for it (once per link that uses it).
    out.push(Inhibit {
        source_matchers: vec!["alertname=\"AwsconnCertificateExpiring\"".into()],
        target_matchers: vec!["alertname=\"AwsconnCertificateInvalid\"".into()],
        equal: vec![
            "job",
            "instance",
            "account",
            "region",
            "load_balancer",
            "port",
            "certificate_arn",
        ],
    });
    out
}

/// `alerts/alertmanager.example.yml`: the alerts of a resource whose owner
/// has a receiver go to it; other critical alerts page, warnings go to the
/// queue; grouped by alert, account, region and owner.
pub fn alertmanager(config: &Config, alerts: &[Alert]) -> String {
    let a = &config.alertmanager;
    let owners = &config.owners;
    let mut routes: Vec<SubRoute> = Vec::new();
    let mut receivers: Vec<Receiver> = Vec::new();
    if let Some(owner) = owners.labels.first() {
        for (value, webhook) in &owners.receivers {
            let name = format!("{owner}-{value}");
            routes.push(SubRoute {
                matchers: vec![format!("{owner}=\"{value}\"")],
                receiver: name.clone(),
            });
            receivers.push(Receiver {
                name,
                webhook_configs: vec![Webhook {
                    url: webhook.clone(),
                    send_resolved: true,
                }],
            });
        }
    }
    routes.push(SubRoute {
        matchers: vec!["severity=\"critical\"".into()],
        receiver: "pager".into(),
    });
    let doc = Alertmanager {
        route: Route {
            receiver: "queue",
            group_by: ["alertname", "account", "region"]
                .iter()
                .map(|l| (*l).to_owned())
                .chain(owners.labels.iter().cloned())
                .collect(),
            group_wait: a.group_wait.to_string(),
            group_interval: a.group_interval.to_string(),
            repeat_interval: a.repeat_interval.to_string(),
            routes,
        },
        receivers: receivers
            .into_iter()
            .chain([
                Receiver {
                    name: "pager".into(),
                    webhook_configs: vec![Webhook {
                        url: a.pager_webhook.clone(),
                        send_resolved: true,
                    }],
                },
                Receiver {
                    name: "queue".into(),
                    webhook_configs: vec![Webhook {
                        url: a.queue_webhook.clone(),
                        send_resolved: true,
                    }],
                },
            ])
            .collect(),
        inhibit_rules: inhibit_rules(alerts),
    };
    generated_yaml(&doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::alerts::alerts;

    #[test]
    fn no_alert_matches_both_sides_of_an_inhibition() {
        let all = alerts(&Config::shipped());
        let names: Vec<&str> = all.iter().map(|a| a.name).collect();
        for rule in inhibit_rules(&all) {
            let matches = |matchers: &[String], name: &str| {
                matchers.iter().all(|m| {
                    if let Some(v) = m.strip_prefix("alertname=\"") {
                        v.trim_end_matches('"') == name
                    } else if let Some(v) = m.strip_prefix("alertname!=\"") {
                        v.trim_end_matches('"') != name
                    } else if let Some(v) = m.strip_prefix("alertname=~\"") {
                        let v = v.trim_end_matches('"');
                        v == "Awsconn.+" || v.split('|').any(|n| n == name)
                    } else {
                        true // other labels: both sides may carry them
                    }
                })
            };
            for name in &names {
                assert!(
                    !(matches(&rule.source_matchers, name) && matches(&rule.target_matchers, name)),
                    "{name} matches both sides of {:?}",
                    rule.source_matchers
                );
            }
        }
    }

    #[test]
    fn a_failing_collector_mutes_what_it_feeds() {
        let rules = inhibit_rules(&alerts(&Config::shipped()));
        let endpoints = rules
            .iter()
            .find(|r| {
                r.source_matchers
                    .contains(&"collector=\"endpoints\"".to_owned())
            })
            .unwrap();
        assert_eq!(
            endpoints.target_matchers,
            vec![
                "alertname=~\"AwsconnEndpointServiceUnavailable|AwsconnEndpointConnectionUnavailable\""
            ]
        );
    }
}
