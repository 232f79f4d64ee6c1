//! PrivateLink: the endpoint services of the links' NLBs and API Gateway's
//! endpoint connections to them.

use crate::inventory::{EndpointConnection, EndpointService, Scope};
use crate::render::{Families, Kind, Snapshot, scope_labels};
use async_trait::async_trait;

use super::collector::{Collector, Descriptor, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::inventory::Inventory;
use crate::topology::Topology;
use std::sync::Arc;

pub struct Endpoints {
    /// The tags kept on each service (`tags_as_labels`).
    tags: Vec<String>,
}

#[async_trait]
impl Collector for Endpoints {
    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError> {
        let nlbs = Topology::build(known).network_load_balancers();
        if nlbs.is_empty() {
            return Ok(Fragment::EndpointServices(Vec::new()));
        }
        Ok(Fragment::EndpointServices(
            aws.endpoint_services(&nlbs, &self.tags).await?,
        ))
    }
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    name: awsconn_catalogue::collector::ENDPOINTS,
    stage: 2,
    operations: &[
        ("ec2", "DescribeVpcEndpointServiceConfigurations"),
        ("ec2", "DescribeVpcEndpointConnections"),
    ],
    schedule: |c| c.endpoints,
    build: |config| {
        Arc::new(Endpoints {
            tags: config.tags_as_labels.clone(),
        })
    },
    forget: |inventory| inventory.endpoint_services = None,
    render,
};

/// `awsconn_endpoint_*`.
fn render(f: &mut Families, scope: &Scope, topology: &Topology, _: &Snapshot) {
    for service in topology.inventory.endpoint_services.iter().flatten() {
        endpoint_service_families(f, scope, service);
    }
}

fn endpoint_service_families(f: &mut Families, scope: &Scope, service: &EndpointService) {
    let mut info = scope_labels(scope);
    info.push(("service_id", service.service_id.clone()));
    info.push(("service_name", service.service_name.clone()));
    f.add(
        "awsconn_endpoint_service_info",
        "A PrivateLink endpoint service of a link's NLB, with its tags named in tags_as_labels as labels; always 1",
        Kind::Gauge,
        crate::tags::with_tags(info, &service.tags),
        1.0,
    );
    for balancer in &service.load_balancer_arns {
        let mut labels = scope_labels(scope);
        labels.push(("service_id", service.service_id.clone()));
        labels.push(("load_balancer", balancer.clone()));
        f.state_set(
            "awsconn_endpoint_service_state",
            "State of the PrivateLink endpoint service: 1 for the current state, 0 for the others",
            &labels,
            "state",
            EndpointService::KNOWN_STATES,
            &service.state,
        );
    }
    for connection in &service.connections {
        let mut labels = scope_labels(scope);
        labels.extend([
            ("service_id", service.service_id.clone()),
            ("vpc_endpoint_id", connection.vpc_endpoint_id.clone()),
            ("endpoint_owner", connection.owner.clone()),
        ]);
        f.state_set(
            "awsconn_endpoint_connection_state",
            "State of the endpoint connection: 1 for the current state, 0 for the others",
            &labels,
            "state",
            EndpointConnection::KNOWN_STATES,
            &connection.state,
        );
    }
}
