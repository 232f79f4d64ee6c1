//! The mixin as Kubernetes objects, for the Prometheus Operator and
//! kube-prometheus-stack's Grafana: a PrometheusRule with the very groups of
//! `alerts/awsconn.rules.yml`, the ServiceMonitor that scrapes the exporter
//! under the job those rules select, and one ConfigMap per dashboard with
//! the label Grafana's dashboard sidecar watches. Written below
//! `deploy/kubernetes/components/`, beside the hand-written kustomizations
//! that include them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::alerts::Alert;
use crate::config::Config;
use crate::rules::{Group, rule_groups};
use crate::{GENERATED_HEADER, generated_yaml};

/// Where the Prometheus Operator component lives.
pub const OPERATOR_DIR: &str = "deploy/kubernetes/components/prometheus-operator";
/// Where the Grafana dashboards component lives.
pub const DASHBOARDS_DIR: &str = "deploy/kubernetes/components/grafana-dashboards";

/// The exporter's name: its Service, ServiceMonitor and PrometheusRule.
const NAME: &str = "aws-connectivity-exporter";

/// The label and value kube-prometheus-stack's Grafana sidecar loads
/// dashboards from (its `sidecar.dashboards.label` default).
const DASHBOARD_LABEL: (&str, &str) = ("grafana_dashboard", "1");

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Object<Spec> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: Spec,
}

#[derive(Serialize)]
struct Metadata {
    name: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<&'static str, &'static str>,
}

fn metadata(name: &str) -> Metadata {
    Metadata {
        name: name.to_owned(),
        labels: BTreeMap::from([
            ("app.kubernetes.io/name", NAME),
            ("app.kubernetes.io/part-of", NAME),
        ]),
    }
}

#[derive(Serialize)]
struct RuleSpec {
    groups: Vec<Group>,
}

/// The PrometheusRule: the rule file's groups, unchanged.
pub fn prometheus_rule(config: &Config, alerts: &[Alert]) -> String {
    let mut metadata = metadata(NAME);
    // kube-prometheus' rule selector; kube-prometheus-stack selects its
    // `release` label instead (docs/deploy.md).
    metadata.labels.insert("role", "alert-rules");
    generated_yaml(&Object {
        api_version: "monitoring.coreos.com/v1",
        kind: "PrometheusRule",
        metadata,
        spec: RuleSpec {
            groups: rule_groups(config, alerts),
        },
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceMonitorSpec {
    selector: Selector,
    endpoints: Vec<Endpoint>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Selector {
    match_labels: BTreeMap<&'static str, &'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    port: &'static str,
    path: &'static str,
    relabelings: Vec<Relabeling>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relabeling {
    action: &'static str,
    target_label: &'static str,
    replacement: String,
}

/// The ServiceMonitor: scrapes the Service's `http` port, with `job` set
/// to the one every rule and panel selects (the operator would otherwise
/// name it after the Service).
pub fn service_monitor(config: &Config) -> String {
    generated_yaml(&Object {
        api_version: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: metadata(NAME),
        spec: ServiceMonitorSpec {
            selector: Selector {
                match_labels: BTreeMap::from([("app.kubernetes.io/name", NAME)]),
            },
            endpoints: vec![Endpoint {
                port: "http",
                path: "/metrics",
                relabelings: vec![Relabeling {
                    action: "replace",
                    target_label: "job",
                    replacement: config.job.clone(),
                }],
            }],
        },
    })
}

/// A dashboard as a ConfigMap for Grafana's sidecar: the JSON as a literal
/// block, byte for byte the file in `dashboards/`.
pub fn dashboard_config_map(file_name: &str, json: &str) -> String {
    let name = file_name.trim_end_matches(".json");
    let mut out = format!(
        "{GENERATED_HEADER}\
         apiVersion: v1\n\
         kind: ConfigMap\n\
         metadata:\n  \
           name: {name}\n  \
           labels:\n    \
             {}: \"{}\"\n    \
             app.kubernetes.io/part-of: {NAME}\n\
         data:\n  \
           {file_name}: |-\n",
        DASHBOARD_LABEL.0, DASHBOARD_LABEL.1
    );
    for line in json.trim_end().lines() {
        if !line.is_empty() {
            out.push_str("    ");
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_map_holds_the_dashboard_byte_for_byte() {
        let json = "{\n  \"title\": \"a: b # c\",\n  \"panels\": []\n}\n";
        let text = dashboard_config_map("awsconn-x.json", json);
        let doc: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(doc["metadata"]["name"], "awsconn-x");
        assert_eq!(doc["metadata"]["labels"]["grafana_dashboard"], "1");
        assert_eq!(doc["data"]["awsconn-x.json"], json.trim_end());
    }
}
