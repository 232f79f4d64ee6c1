//! deploy/ and dashboards/ checked offline, with the real tools and no
//! cluster: scripts/check-deploy renders every kustomization with kubectl,
//! validates each object against the Kubernetes schemas of two minor
//! versions and the Prometheus Operator CRDs, runs promtool on the
//! PrometheusRule, hadolint on the Containerfile, `systemd-analyze verify`
//! on the unit, and validates the dashboards against Grafana's schemas.
//! scripts/setup installs the tools into .venv.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn deploy_and_dashboards_pass_their_offline_checks() {
    let python = repo().join(".venv/bin/python");
    let out = Command::new(&python)
        .arg(repo().join("scripts/check-deploy"))
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (scripts/setup makes it): {e}",
                python.display()
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "scripts/check-deploy failed:\n{text}");
    for line in [
        "base: renders 5 objects",
        "sharded: renders 5 objects",
        "the ServiceMonitor selects Service/aws-connectivity-exporter",
        "sharded: the StatefulSet's pod is the base Deployment's",
        "the groups of alerts/awsconn.rules.yml, promtool SUCCESS",
        "Containerfile: hadolint finds nothing",
        "systemd unit: systemd-analyze verify says nothing",
        "self-test: a misspelt key fails each schema",
        "check-deploy: all passed",
    ] {
        assert!(text.contains(line), "no `{line}` in:\n{text}");
    }
}
