//! AWS Interconnect – multicloud connections and environments.

use crate::inventory::{Interconnect, InterconnectConnection, InterconnectEnvironment, Scope};
use crate::render::{Families, Kind, Snapshot, scope_labels};
use crate::topology::Topology;
use async_trait::async_trait;

use super::{Collector, Descriptor, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::inventory::Inventory;
use std::sync::Arc;

pub struct InterconnectCollector;

#[async_trait]
impl Collector for InterconnectCollector {
    async fn collect(&self, aws: &AwsScope, _known: &Inventory) -> Result<Fragment, AwsError> {
        Ok(Fragment::Interconnect(aws.interconnect().await?))
    }
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "interconnect",
    stage: 0,
    operations: &[
        ("interconnect", "ListConnections"),
        ("interconnect", "ListEnvironments"),
    ],
    schedule: |c| c.interconnect,
    build: |_| Arc::new(InterconnectCollector),
    forget: |inventory| inventory.interconnect = None,
    render,
};

/// `awsconn_interconnect_*`.
fn render(f: &mut Families, scope: &Scope, topology: &Topology, _: &Snapshot) {
    if let Some(interconnect) = &topology.inventory.interconnect {
        interconnect_families(f, scope, interconnect);
    }
}

fn interconnect_families(f: &mut Families, scope: &Scope, interconnect: &Interconnect) {
    for c in &interconnect.connections {
        let mut base = scope_labels(scope);
        base.push(("connection_id", c.id.clone()));
        let mut info = base.clone();
        info.extend([
            ("description", c.description.clone()),
            ("provider", c.provider.clone()),
            ("provider_kind", c.provider_kind.clone()),
            ("location", c.location.clone()),
            ("environment_id", c.environment_id.clone()),
            ("attach_point", c.attach_point.clone()),
            ("type", c.product_type.clone()),
            ("shared_id", c.shared_id.clone()),
        ]);
        f.add(
            "awsconn_interconnect_connection_info",
            "An AWS Interconnect multicloud connection; always 1",
            Kind::Gauge,
            info,
            1.0,
        );
        f.state_set(
            "awsconn_interconnect_connection_state",
            "State of the Interconnect connection: 1 for the current state, 0 for the others",
            &base,
            "state",
            InterconnectConnection::KNOWN_STATES,
            &c.state,
        );
        // A number, not an info label: AWS re-rates a connection (a Cloud
        // WAN edge added), and a graph of the tier shows when.
        if let Some(tier) = c.billing_tier {
            f.add(
                "awsconn_interconnect_connection_billing_tier",
                "The billing tier AWS assigns the Interconnect connection (0 to 8): its hourly price follows it",
                Kind::Gauge,
                base.clone(),
                f64::from(tier),
            );
        }
        // Prometheus base units are bytes: `1Gbps` is exported as 1.25e8.
        if let Some(bps) = c.bandwidth_bps {
            f.add(
                "awsconn_interconnect_connection_bandwidth_bytes_per_second",
                "Provisioned bandwidth of the Interconnect connection, in bytes per second",
                Kind::Gauge,
                base,
                bps / 8.0,
            );
        }
    }
    for e in &interconnect.environments {
        let mut labels = scope_labels(scope);
        labels.extend([
            ("environment_id", e.id.clone()),
            ("provider", e.provider.clone()),
            ("location", e.location.clone()),
        ]);
        f.state_set(
            "awsconn_interconnect_environment_state",
            "State of the Interconnect environment: 1 for the current state, 0 for the others",
            &labels,
            "state",
            InterconnectEnvironment::KNOWN_STATES,
            &e.state,
        );
        let mut info = labels.clone();
        info.extend([
            ("provider_kind", e.provider_kind.clone()),
            ("type", e.product_type.clone()),
            ("remote_identifier_type", e.remote_identifier_type.clone()),
        ]);
        f.add(
            "awsconn_interconnect_environment_info",
            "An AWS Interconnect environment (a provider's location connections are made in); always 1",
            Kind::Gauge,
            info,
            1.0,
        );
        let mut id = scope_labels(scope);
        id.push(("environment_id", e.id.clone()));
        for (bandwidth, available) in environment_bandwidths(e) {
            let mut labels = id.clone();
            labels.extend([
                ("bandwidth", bandwidth.to_owned()),
                ("available", available.to_string()),
            ]);
            f.add(
                "awsconn_interconnect_environment_bandwidth_info",
                "A bandwidth the Interconnect environment supports, and whether a connection can be ordered with it now (available=\"true\"); always 1",
                Kind::Gauge,
                labels,
                1.0,
            );
        }
    }
}

/// Each bandwidth the environment supports or offers, once, with whether it
/// can be ordered now. One AWS lists as available but not as supported is
/// kept (available): what can be ordered is the fact that matters.
fn environment_bandwidths(e: &InterconnectEnvironment) -> Vec<(&str, bool)> {
    let mut out: Vec<(&str, bool)> = Vec::new();
    for b in e.bandwidths_supported.iter().chain(&e.bandwidths_available) {
        if !out.iter().any(|(seen, _)| *seen == b.as_str()) {
            out.push((b.as_str(), e.bandwidths_available.contains(b)));
        }
    }
    out
}
