//! The certificates of the TLS and HTTPS listeners on the load balancers the
//! links use, with their names and validity from ACM: what the
//! `certificate_matches_host` and `certificate_valid` checks judge before
//! any request fails.

use std::sync::Arc;

use async_trait::async_trait;

use super::collector::{Collector, Descriptor, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::inventory::{Certificates, Inventory, Scope};
use crate::render::{Families, Kind, Snapshot, scope_labels};
use crate::topology::Topology;

pub struct CertificatesCollector;

#[async_trait]
impl Collector for CertificatesCollector {
    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError> {
        let topology = Topology::build(known);
        let listeners: Vec<String> = topology
            .linked_load_balancers()
            .iter()
            .filter_map(|arn| topology.load_balancer(arn))
            .flat_map(|lb| &lb.listeners)
            .filter(|l| l.terminates_tls() && !l.arn.is_empty())
            .map(|l| l.arn.clone())
            .collect();
        if listeners.is_empty() {
            return Ok(Fragment::Certificates(Certificates::default()));
        }
        Ok(Fragment::Certificates(aws.certificates(&listeners).await?))
    }
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    name: awsconn_catalogue::collector::CERTIFICATES,
    stage: 2,
    operations: &[
        ("elasticloadbalancingv2", "DescribeListenerCertificates"),
        ("acm", "DescribeCertificate"),
    ],
    schedule: |c| c.certificates,
    build: |_| Arc::new(CertificatesCollector),
    forget: |inventory| inventory.certificates = None,
    render,
};

/// `awsconn_listener_certificate_*`: one series per certificate of each
/// TLS listener read.
fn render(f: &mut Families, scope: &Scope, topology: &Topology, _: &Snapshot) {
    let Some(certificates) = &topology.inventory.certificates else {
        return;
    };
    for (listener_arn, served) in &certificates.listeners {
        let Some((lb, listener)) = topology.listener(listener_arn) else {
            continue;
        };
        for certificate in served {
            let detail = certificates.details.get(&certificate.arn);
            let mut labels = scope_labels(scope);
            labels.extend([
                ("load_balancer", lb.arn.clone()),
                ("port", listener.port.to_string()),
                ("certificate_arn", certificate.arn.clone()),
                (
                    "domain",
                    detail.map(|d| d.domain.clone()).unwrap_or_default(),
                ),
            ]);
            if let Some(not_after) = detail.and_then(|d| d.not_after_s) {
                f.add(
                    "awsconn_listener_certificate_expiry_timestamp_seconds",
                    "When the certificate of a TLS listener expires (ACM's NotAfter), in seconds since the epoch",
                    Kind::Gauge,
                    labels.clone(),
                    not_after as f64,
                );
            }
            let status = match detail {
                Some(d) => d.status.clone(),
                None if certificates.unread.contains_key(&certificate.arn) => "unread".into(),
                None => "not_acm".into(),
            };
            labels.extend([
                ("default", certificate.is_default.to_string()),
                ("status", status),
                (
                    "in_use_by",
                    detail.map(|d| d.in_use_by.to_string()).unwrap_or_default(),
                ),
            ]);
            f.add(
                "awsconn_listener_certificate_info",
                "A certificate of a TLS listener on a load balancer a link uses, with ACM's status; always 1",
                Kind::Gauge,
                labels,
                1.0,
            );
        }
    }
}
