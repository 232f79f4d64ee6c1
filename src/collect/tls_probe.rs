//! The TLS probe (off by default): for every integration that calls a load
//! balancer over TLS through a VPC link, a connection as API Gateway makes
//! it (`crate::probe`), on its own interval and timeout like any collector,
//! never on a scrape. What it finds feeds `awsconn_tls_probe_*` and the
//! `tls_probe` check.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;

use super::collector::{Collector, Descriptor, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::classify::ErrorClass;
use crate::config::TlsProbeConfig;
use crate::inventory::{
    Inventory, LoadBalancer, ProbeFailure, ProbeOutcome, ProbeTarget, Scope, TlsProbes,
};
use crate::probe::Prober;
use crate::render::{Families, Kind, Snapshot, scope_labels};
use crate::topology::{TlsCall, Topology};

pub struct TlsProbeCollector {
    /// The prober, or why it cannot be made (an unusable CA file): then
    /// every poll fails with that reason.
    prober: Result<Prober, String>,
    config: TlsProbeConfig,
}

impl TlsProbeCollector {
    pub fn new(config: &TlsProbeConfig) -> TlsProbeCollector {
        TlsProbeCollector {
            prober: Prober::new(config.ca_file.as_deref(), config.probe_timeout)
                .map_err(|e| e.to_string()),
            config: config.clone(),
        }
    }
}

/// Where a call is probed: the configured address of its load balancer
/// (by ARN, name or DNS name; `host` keeps the call's port), else the load
/// balancer's DNS name. `None` when AWS gave no DNS name and none is set.
pub fn address(config: &TlsProbeConfig, lb: &LoadBalancer, port: u16) -> Option<String> {
    match configured(config, lb) {
        Some(address) if has_port(address) => Some(address.clone()),
        Some(host) => Some(join(host, port)),
        None if !lb.dns_name.is_empty() => Some(join(&lb.dns_name, port)),
        None => None,
    }
}

/// The address `addresses` gives for the load balancer, by ARN, name or
/// DNS name.
fn configured<'c>(config: &'c TlsProbeConfig, lb: &LoadBalancer) -> Option<&'c String> {
    [&lb.arn, &lb.name, &lb.dns_name]
        .into_iter()
        .filter(|k| !k.is_empty())
        .find_map(|k| config.addresses.get(k.as_str()))
}

/// Whether `addresses` maps the load balancer (what `only_addresses` probes).
pub fn has_address(config: &TlsProbeConfig, lb: &LoadBalancer) -> bool {
    configured(config, lb).is_some()
}

/// `host:port`, with an IPv6 literal in brackets.
fn join(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn has_port(address: &str) -> bool {
    match address.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>().is_ok() && (!host.contains(':') || host.ends_with(']'))
        }
        None => false,
    }
}

/// What a call is probed as.
pub fn target(config: &TlsProbeConfig, call: &TlsCall) -> Option<ProbeTarget> {
    Some(ProbeTarget {
        address: address(config, call.load_balancer, call.port)?,
        host: call.host.clone(),
        insecure_skip_verification: call.insecure_skip_verification,
    })
}

#[async_trait]
impl Collector for TlsProbeCollector {
    async fn collect(&self, _aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError> {
        let prober = self.prober.as_ref().map_err(|why| AwsError {
            service: "tls_probe",
            operation: "setup",
            code: None,
            message: why.clone(),
        })?;
        let topology = Topology::build(known);
        // Each call by the target it is probed as; each target probed once.
        let mut calls: Vec<((String, u16, String), ProbeTarget)> = Vec::new();
        let mut out = TlsProbes::default();
        for call in topology
            .vpc_links()
            .flat_map(|link| topology.tls_calls(link))
        {
            let key = call.probe_key();
            if self.config.only_addresses && !has_address(&self.config, call.load_balancer) {
                out.unaddressed.insert(key);
                continue;
            }
            match target(&self.config, &call) {
                Some(target) => calls.push((key, target)),
                None => {
                    out.outcomes.insert(key, no_address());
                }
            }
        }
        let targets: BTreeSet<&ProbeTarget> = calls.iter().map(|(_, t)| t).collect();
        let limit = Arc::new(tokio::sync::Semaphore::new(self.config.concurrency.max(1)));
        let mut probes = tokio::task::JoinSet::new();
        for target in targets {
            let (prober, limit, target) = (prober.clone(), limit.clone(), target.clone());
            probes.spawn(async move {
                let _slot = limit.acquire_owned().await;
                let outcome = prober.probe(&target).await;
                (target, outcome)
            });
        }
        // Finish before the collector's timeout would throw every result
        // away: what is not probed by then is said so, the rest kept.
        let deadline = tokio::time::Instant::now() + self.config.timeout.mul_f64(0.9);
        let mut found = std::collections::BTreeMap::new();
        loop {
            match tokio::time::timeout_at(deadline, probes.join_next()).await {
                Ok(Some(Ok((target, outcome)))) => {
                    found.insert(target, outcome);
                }
                Ok(Some(Err(e))) => tracing::warn!(error = %e, "a TLS probe task failed"),
                Ok(None) => break,
                Err(_) => {
                    probes.abort_all();
                    break;
                }
            }
        }
        let late = |target: &ProbeTarget| ProbeOutcome {
            address: target.address.clone(),
            failure: Some(ProbeFailure {
                class: ErrorClass::IntegrationTimeout,
                detail: format!(
                    "not probed within the collector's timeout ({:?}): too many targets for collectors.tls_probe.concurrency",
                    self.config.timeout
                ),
            }),
            certificate: None,
        };
        for (key, target) in calls {
            let outcome = found.get(&target).cloned().unwrap_or_else(|| late(&target));
            out.outcomes.insert(key, outcome);
        }
        Ok(Fragment::TlsProbes(out))
    }
}

/// A call whose load balancer has no DNS name and no configured address.
fn no_address() -> ProbeOutcome {
    ProbeOutcome {
        address: String::new(),
        failure: Some(ProbeFailure {
            class: ErrorClass::Other,
            detail: "AWS gave the load balancer no DNS name to connect to; set collectors.tls_probe.addresses for it".into(),
        }),
        certificate: None,
    }
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    name: awsconn_catalogue::collector::TLS_PROBE,
    stage: 2,
    // It calls no AWS API: it connects to the load balancers.
    operations: &[],
    schedule: |c| c.tls_probe.schedule(),
    build: |config| Arc::new(TlsProbeCollector::new(&config.collectors.tls_probe)),
    forget: |inventory| inventory.tls_probes = None,
    render,
};

/// `awsconn_tls_probe_*`, per link and call.
fn render(f: &mut Families, scope: &Scope, topology: &Topology, _: &Snapshot) {
    let Some(probes) = &topology.inventory.tls_probes else {
        return;
    };
    f.add(
        "awsconn_tls_probe_unaddressed_calls",
        "TLS calls (load balancer, port, host name) the probe left out because collectors.tls_probe.only_addresses is on and addresses does not map their load balancer",
        Kind::Gauge,
        scope_labels(scope),
        probes.unaddressed.len() as f64,
    );
    for link in topology.vpc_links() {
        for call in topology.tls_calls(link) {
            let key = call.probe_key();
            let Some(outcome) = probes.outcomes.get(&key) else {
                continue;
            };
            let mut labels = scope_labels(scope);
            labels.extend([
                ("vpc_link_id", link.id.clone()),
                ("load_balancer", call.load_balancer.arn.clone()),
                ("target", call.host.clone()),
                ("port", call.port.to_string()),
            ]);
            f.add(
                "awsconn_tls_probe_success",
                "1 if the TLS probe of the integration's target passed every check API Gateway makes (chain, dates, host name, handshake key, an HTTP answer)",
                Kind::Gauge,
                labels.clone(),
                f64::from(u8::from(outcome.failure.is_none())),
            );
            if let Some(failure) = &outcome.failure {
                let mut failed = labels.clone();
                failed.push(("class", failure.class.as_str().to_owned()));
                f.add(
                    "awsconn_tls_probe_failure",
                    "The execution-log class of the TLS probe's failure; always 1, present while it fails",
                    Kind::Gauge,
                    failed,
                    1.0,
                );
            }
            if let Some(certificate) = &outcome.certificate {
                let mut presented = labels;
                presented.extend([
                    ("subject", certificate.subject.clone()),
                    ("issuer", certificate.issuer.clone()),
                ]);
                f.add(
                    "awsconn_tls_certificate_expiry_timestamp_seconds",
                    "When the certificate the target presented to the TLS probe expires, in seconds since the epoch",
                    Kind::Gauge,
                    presented,
                    certificate.not_after_s as f64,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::load_balancer;

    #[test]
    fn a_configured_address_wins_and_keeps_the_port_when_it_names_none() {
        let lb = load_balancer("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/lb/1");
        let mut config = TlsProbeConfig::default();
        assert_eq!(
            address(&config, &lb, 443).as_deref(),
            Some("lb-1.elb.us-east-1.amazonaws.com:443")
        );
        config.addresses.insert("lb".into(), "10.0.0.5".into());
        assert_eq!(
            address(&config, &lb, 8443).as_deref(),
            Some("10.0.0.5:8443")
        );
        config
            .addresses
            .insert(lb.arn.clone(), "127.0.0.1:9443".into());
        assert_eq!(
            address(&config, &lb, 443).as_deref(),
            Some("127.0.0.1:9443")
        );
        config.addresses.clear();
        config
            .addresses
            .insert(lb.dns_name.clone(), "fd00::5".into());
        assert_eq!(address(&config, &lb, 443).as_deref(), Some("[fd00::5]:443"));
        assert!(has_address(&config, &lb));
        assert!(!has_address(&TlsProbeConfig::default(), &lb));
        let nameless = LoadBalancer {
            dns_name: String::new(),
            ..lb
        };
        assert_eq!(address(&TlsProbeConfig::default(), &nameless, 443), None);
    }
}
