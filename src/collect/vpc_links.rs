//! VPC links of REST APIs (V1) and HTTP APIs (V2), and the APIs whose
//! integrations use them (with their stages).

use crate::inventory::{Scope, VpcLink};
use crate::render::{Families, Kind, Snapshot, scope_labels};
use crate::topology::Topology;
use async_trait::async_trait;

use super::{Collector, Descriptor, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::inventory::Inventory;
use std::sync::Arc;

pub struct VpcLinks;

#[async_trait]
impl Collector for VpcLinks {
    async fn collect(&self, aws: &AwsScope, _known: &Inventory) -> Result<Fragment, AwsError> {
        let (mut links, http, apis) =
            tokio::try_join!(aws.rest_vpc_links(), aws.http_vpc_links(), aws.apis())?;
        links.extend(http);
        Ok(Fragment::VpcLinks(links, apis))
    }
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "vpc_links",
    stage: 0,
    operations: &[
        ("apigateway", "GetVpcLinks"),
        ("apigateway", "GetRestApis"),
        ("apigateway", "GetResources"),
        ("apigateway", "GetStages"),
        ("apigatewayv2", "GetVpcLinks"),
        ("apigatewayv2", "GetApis"),
        ("apigatewayv2", "GetIntegrations"),
        ("apigatewayv2", "GetStages"),
    ],
    schedule: |c| c.vpc_links,
    build: |_| Arc::new(VpcLinks),
    forget: |inventory| {
        inventory.vpc_links = None;
        inventory.apis = None;
    },
    render,
};

/// `awsconn_vpc_link_*` and `awsconn_integration_*`.
fn render(f: &mut Families, scope: &Scope, topology: &Topology, _: &Snapshot) {
    for link in topology.vpc_links() {
        vpc_link_families(f, scope, link);
    }
    if topology.inventory.apis.is_some() {
        integration_families(f, scope, topology);
    }
}

fn vpc_link_families(f: &mut Families, scope: &Scope, link: &VpcLink) {
    let mut base = scope_labels(scope);
    base.push(("vpc_link_id", link.id.clone()));

    let mut info = base.clone();
    info.push(("name", link.name.clone()));
    info.push(("api_type", link.api_type.as_str().to_owned()));
    info.push(("version", link.api_type.link_version().to_owned()));
    f.add(
        "awsconn_vpc_link_info",
        "A VPC link of API Gateway; always 1",
        Kind::Gauge,
        info,
        1.0,
    );

    let mut status = base.clone();
    status.push(("api_type", link.api_type.as_str().to_owned()));
    f.state_set(
        "awsconn_vpc_link_status",
        "Status of the VPC link: 1 for the current status, 0 for the others",
        &status,
        "status",
        link.api_type.known_link_statuses(),
        &link.status,
    );

    for target in &link.target_arns {
        let mut labels = base.clone();
        labels.push(("target_arn", target.clone()));
        f.add(
            "awsconn_vpc_link_target_info",
            "A load balancer that a VPC link targets; always 1",
            Kind::Gauge,
            labels,
            1.0,
        );
    }
}

fn integration_families(f: &mut Families, scope: &Scope, topology: &Topology) {
    let mut seen = std::collections::BTreeSet::new();
    for r in &topology.resolved {
        let (port, protocol) = match topology.port(r) {
            Some(p) => (p.port.to_string(), p.protocol),
            None => (String::new(), r.protocol.clone()),
        };
        let mut labels = scope_labels(scope);
        labels.extend([
            ("api_id", r.api_id.clone()),
            ("api_type", r.api_type.as_str().to_owned()),
            ("stage", r.stage.clone()),
            ("vpc_link_id", r.vpc_link_id.clone()),
            ("target", r.target.clone()),
            ("port", port),
            ("protocol", protocol),
        ]);
        // Several methods calling the same target are one series.
        if seen.insert(labels.clone()) {
            f.add(
                "awsconn_integration_info",
                "An API integration through a VPC link in a stage, stage variables resolved; always 1",
                Kind::Gauge,
                labels,
                1.0,
            );
        }
    }
    for u in &topology.unresolved {
        let mut labels = scope_labels(scope);
        labels.extend([
            ("api_id", u.api_id.clone()),
            ("api_type", u.api_type.as_str().to_owned()),
            ("stage", u.stage.clone()),
            ("integration", u.integration.clone()),
            ("reason", u.reason.clone()),
        ]);
        f.add(
            "awsconn_integration_unresolved",
            "An integration that cannot be resolved in a stage (a missing stage variable, an unreadable URI); always 1",
            Kind::Gauge,
            labels,
            1.0,
        );
    }
}
