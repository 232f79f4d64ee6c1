//! Builders of the domain's plain values for every unit test, in one place:
//! a scope, a VPC link, whole V1 and V2 paths whose hops the tests break one
//! at a time, and the network rules they pass through. Override a field with
//! struct update syntax (`VpcLink { status: "failed".into(), ..vpc_link("l1") }`).

use crate::diagnose::{Clock, LinkView, views};
use crate::inventory::{
    Api, ApiType, Integration, InterconnectConnection, Inventory, Listener, LoadBalancer,
    LoadBalancing, NetworkAcl, NetworkAclEntry, NetworkInterface, NetworkRules, Scope,
    SecurityGroup, SecurityGroupRule, Stage, Subnet, TargetGroup, TargetHealth, VpcLink,
};

/// The account every test scope is in.
pub const ACCOUNT: &str = "123456789012";

/// The test account in `region`.
pub fn scope_in(region: &str) -> Scope {
    Scope {
        account: ACCOUNT.into(),
        region: region.into(),
    }
}

/// The test account in us-east-1.
pub fn scope() -> Scope {
    scope_in("us-east-1")
}

/// An available REST (V1) link named after its id, with no targets,
/// subnets or security groups.
pub fn vpc_link(id: &str) -> VpcLink {
    VpcLink {
        id: id.into(),
        name: id.into(),
        api_type: ApiType::Rest,
        status: "available".into(),
        status_message: None,
        target_arns: vec![],
        subnet_ids: vec![],
        security_group_ids: vec![],
        tags: Default::default(),
    }
}

/// An Interconnect connection to Google Cloud, `down`, in `environment_id`,
/// attached to `attach_point`.
pub fn interconnect_connection(
    id: &str,
    environment_id: &str,
    attach_point: &str,
) -> InterconnectConnection {
    InterconnectConnection {
        id: id.into(),
        arn: format!("arn:aws:interconnect:us-east-1:{ACCOUNT}:connection/{id}"),
        description: "to gcp".into(),
        provider: "google".into(),
        location: "us-east4".into(),
        environment_id: environment_id.into(),
        attach_point: attach_point.into(),
        state: "down".into(),
        bandwidth: "1Gbps".into(),
        bandwidth_bps: Some(1e9),
        product_type: "dedicated".into(),
        shared_id: "0e4f8a52-7c3e-4d7b-9f6a-1b2c3d4e5f60".into(),
        provider_kind: "multicloud".into(),
        billing_tier: Some(3),
        tags: Default::default(),
        tags_unread: false,
    }
}

/// An active internal NLB named `lb` in vpc-1, without subnets, security
/// groups or listeners.
pub fn load_balancer(arn: &str) -> LoadBalancer {
    LoadBalancer {
        arn: arn.into(),
        name: "lb".into(),
        dns_name: "lb-1.elb.us-east-1.amazonaws.com".into(),
        lb_type: "network".into(),
        state: "active".into(),
        state_reason: None,
        scheme: "internal".into(),
        vpc_id: "vpc-1".into(),
        subnet_ids: vec![],
        security_group_ids: vec![],
        privatelink_inbound_rules: None,
        listeners: vec![],
        listeners_unread: None,
        tags: Default::default(),
        tags_unread: false,
    }
}

pub const ALB: &str = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/1";
pub const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/web/1/2";
pub const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/3";

pub fn tcp(port: u16, cidrs: &[&str], groups: &[&str]) -> SecurityGroupRule {
    SecurityGroupRule {
        protocol: "tcp".into(),
        ports: Some((port, port)),
        ipv4_cidrs: cidrs.iter().map(|c| c.to_string()).collect(),
        security_group_ids: groups.iter().map(|g| g.to_string()).collect(),
        ..Default::default()
    }
}

pub fn everything() -> SecurityGroupRule {
    SecurityGroupRule {
        protocol: "-1".into(),
        ipv4_cidrs: vec!["0.0.0.0/0".into()],
        ..Default::default()
    }
}

pub fn sg(id: &str, ingress: Vec<SecurityGroupRule>) -> SecurityGroup {
    SecurityGroup {
        id: id.into(),
        vpc_id: "vpc-1".into(),
        ingress,
        egress: vec![everything()],
    }
}

pub fn subnet(id: &str, cidr: &str) -> Subnet {
    Subnet {
        id: id.into(),
        vpc_id: "vpc-1".into(),
        availability_zone: "us-east-1a".into(),
        cidrs: vec![cidr.into()],
    }
}

/// A TCP entry; the CIDR's family picks the IPv4 or IPv6 field.
pub fn acl_entry(
    rule_number: i32,
    egress: bool,
    allow: bool,
    cidr: &str,
    ports: Option<(u16, u16)>,
) -> NetworkAclEntry {
    NetworkAclEntry {
        rule_number,
        egress,
        protocol: "6".into(),
        allow,
        ipv4_cidr: (!cidr.contains(':')).then(|| cidr.to_owned()),
        ipv6_cidr: cidr.contains(':').then(|| cidr.to_owned()),
        ports,
        unreadable: None,
    }
}

pub fn open_acl(id: &str, subnets: &[&str]) -> NetworkAcl {
    NetworkAcl {
        id: id.into(),
        vpc_id: "vpc-1".into(),
        subnet_ids: subnets.iter().map(|s| s.to_string()).collect(),
        entries: vec![
            acl_entry(100, false, true, "0.0.0.0/0", None),
            acl_entry(100, true, true, "0.0.0.0/0", None),
        ],
    }
}

/// HTTP API -> V2 link (subnet-link, sg-link) -> ALB (subnet-lb, sg-lb)
/// listener 443 -> target group (ip, 8080) -> 10.0.3.10 (subnet-target, sg-target).
pub fn v2_path() -> Inventory {
    let link = VpcLink {
        name: "web".into(),
        api_type: ApiType::Http,
        subnet_ids: vec!["subnet-link".into()],
        security_group_ids: vec!["sg-link".into()],
        tags: Default::default(),
        ..vpc_link("v2link")
    };
    Inventory {
        vpc_links: Some(vec![link]),
        apis: Some(vec![Api {
            id: "http1".into(),
            name: "web".into(),
            api_type: ApiType::Http,
            integrations: vec![Integration {
                name: "int1".into(),
                connection_id: "v2link".into(),
                uri: LISTENER.into(),
                integration_target: None,
                tls_server_name: None,
                tls_config: false,
                insecure_skip_verification: false,
            }],
            stages: vec![Stage {
                name: "$default".into(),
                ..Default::default()
            }],
            ..Default::default()
        }]),
        load_balancing: Some(LoadBalancing {
            load_balancers: vec![LoadBalancer {
                name: "web".into(),
                lb_type: "application".into(),
                subnet_ids: vec!["subnet-lb".into()],
                security_group_ids: vec!["sg-lb".into()],
                listeners: vec![Listener {
                    arn: LISTENER.into(),
                    port: 443,
                    protocol: "HTTPS".into(),
                    certificate_arns: vec![],
                    target_group_arns: vec![TG.into()],
                }],
                ..load_balancer(ALB)
            }],
            target_groups: vec![TargetGroup {
                health_unread: None,
                health_left: false,
                arn: TG.into(),
                name: "web".into(),
                protocol: "HTTP".into(),
                port: Some(8080),
                health_check_port: None,
                target_type: "ip".into(),
                vpc_id: "vpc-1".into(),
                load_balancer_arns: vec![ALB.into()],
                targets: vec![TargetHealth {
                    id: "10.0.3.10".into(),
                    port: Some(8080),
                    state: "healthy".into(),
                    reason: None,
                    description: None,
                }],
            }],
            ..Default::default()
        }),
        network_rules: Some(NetworkRules {
            security_groups: vec![
                sg("sg-link", vec![]),
                sg("sg-lb", vec![tcp(443, &[], &["sg-link"])]),
                sg("sg-target", vec![tcp(8080, &[], &["sg-lb"])]),
            ],
            network_acls: vec![
                open_acl("acl-link", &["subnet-link"]),
                open_acl("acl-lb", &["subnet-lb"]),
                open_acl("acl-target", &["subnet-target"]),
            ],
            subnets: vec![
                subnet("subnet-link", "10.0.1.0/24"),
                subnet("subnet-lb", "10.0.2.0/24"),
                subnet("subnet-target", "10.0.3.0/24"),
            ],
            interfaces: vec![NetworkInterface {
                id: "eni-target".into(),
                subnet_id: "subnet-target".into(),
                vpc_id: "vpc-1".into(),
                private_ips: vec!["10.0.3.10".into()],
                security_group_ids: vec!["sg-target".into()],
                instance_id: None,
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The checks and path of the first link of an inventory, in [`scope`] at
/// the epoch (`Clock::default()`).
pub fn view_one(inventory: &Inventory) -> LinkView {
    view_in(&scope(), inventory)
}

/// The checks and path of the first link of an inventory in `scope`, at the epoch.
pub fn view_in(scope: &Scope, inventory: &Inventory) -> LinkView {
    let topology = crate::topology::Topology::build(inventory);
    views([(scope, &topology)], &Clock::default()).remove(0)
}

/// The fixture's path as a REST link (V1) to its load balancer, with an
/// endpoint service whose connections are `states`.
pub fn v1_path(states: &[&str]) -> Inventory {
    use crate::inventory::{EndpointConnection, EndpointService};
    let mut inventory = v2_path();
    let link = &mut inventory.vpc_links.as_mut().unwrap()[0];
    link.api_type = ApiType::Rest;
    link.target_arns = vec![ALB.into()];
    let api = &mut inventory.apis.as_mut().unwrap()[0];
    api.api_type = ApiType::Rest;
    api.integrations[0].uri = "https://web.internal/".into();
    inventory.endpoint_services = Some(vec![EndpointService {
        service_id: "vpce-svc-1".into(),
        service_name: "com.amazonaws.vpce.us-east-1.vpce-svc-1".into(),
        state: "available".into(),
        load_balancer_arns: vec![ALB.into()],
        acceptance_required: true,
        connections: states
            .iter()
            .enumerate()
            .map(|(i, state)| EndpointConnection {
                vpc_endpoint_id: format!("vpce-{i}"),
                owner: "392220576650".into(),
                state: (*state).into(),
            })
            .collect(),
        ..Default::default()
    }]);
    inventory
}

/// The inventory with every stage's execution log read, and no error in it.
pub fn with_logs_read(mut inventory: Inventory) -> Inventory {
    use crate::inventory::{ExecutionLogs, LogGroupStatus};
    let mut logs = ExecutionLogs::default();
    for api in inventory.apis.iter().flatten() {
        for stage in &api.stages {
            logs.groups.insert(
                format!("API-Gateway-Execution-Logs_{}/{}", api.id, stage.name),
                LogGroupStatus {
                    api_id: api.id.clone(),
                    stage: stage.name.clone(),
                    read: crate::inventory::LogRead::Ok,
                },
            );
        }
    }
    inventory.execution_logs = Some(logs);
    inventory
}

/// The fixture's ACM certificate.
pub const CERTIFICATE: &str = "arn:aws:acm:us-east-1:1:certificate/web";

/// The host name the fixture's integrations verify (the V1 URI's host; the
/// V2 integration's `tlsConfig.serverNameToVerify`).
pub const HOST: &str = "web.internal";

/// The inventory with its HTTPS listener serving one ACM certificate, the
/// default, for `names`, valid over `valid_s` (epoch seconds), and the
/// HTTP API verifying [`HOST`].
pub fn with_certificate(
    mut inventory: Inventory,
    names: &[&str],
    valid_s: (i64, i64),
) -> Inventory {
    use crate::inventory::{CertificateDetail, Certificates, ListenerCertificate};
    for api in inventory.apis.iter_mut().flatten() {
        if api.api_type == ApiType::Http {
            for integration in &mut api.integrations {
                integration.tls_server_name = Some(HOST.into());
            }
        }
    }
    let detail = CertificateDetail {
        domain: names.first().copied().unwrap_or_default().into(),
        names: names.iter().map(|n| (*n).to_owned()).collect(),
        not_before_s: Some(valid_s.0),
        not_after_s: Some(valid_s.1),
        status: "issued".into(),
        in_use_by: 1,
    };
    inventory.certificates = Some(Certificates {
        listeners: [(
            LISTENER.to_owned(),
            vec![ListenerCertificate {
                arn: CERTIFICATE.into(),
                is_default: true,
            }],
        )]
        .into(),
        details: [(CERTIFICATE.to_owned(), detail)].into(),
        ..Default::default()
    });
    inventory
}

/// The inventory with every TLS call of its first link probed: passed, or
/// failed with `failure` (a class and what happened).
pub fn with_probe(
    mut inventory: Inventory,
    failure: Option<(crate::classify::ErrorClass, &str)>,
) -> Inventory {
    use crate::inventory::{ProbeFailure, ProbeOutcome, TlsProbes};
    let topology = crate::topology::Topology::build(&inventory);
    let link = topology.vpc_links().next().expect("a link");
    let outcomes = topology
        .tls_calls(link)
        .into_iter()
        .map(|call| {
            let outcome = ProbeOutcome {
                address: format!("{}:{}", call.load_balancer.dns_name, call.port),
                failure: failure.map(|(class, detail)| ProbeFailure {
                    class,
                    detail: detail.into(),
                }),
                ..Default::default()
            };
            (call.probe_key(), outcome)
        })
        .collect();
    inventory.tls_probes = Some(TlsProbes {
        outcomes,
        ..Default::default()
    });
    inventory
}

/// Values of every kind for [`random_config_text`]: durations, numbers,
/// booleans, YAML oddities and words, valid and not.
pub fn config_values() -> impl proptest::strategy::Strategy<Value = Vec<&'static str>> {
    proptest::collection::vec(
        proptest::sample::select(vec![
            "0s",
            "1ms",
            "99ms",
            "100ms",
            "1s",
            "59s",
            "1m",
            "90s",
            "1h",
            "1d",
            "7d",
            "455d",
            "500d",
            "501d",
            "-1s",
            "1e9s",
            "abc",
            "0",
            "1",
            "-1",
            "0.001",
            "0.01",
            "0.5",
            "1e-300",
            "1e9",
            "1e300",
            ".nan",
            ".inf",
            "18446744073709551616",
            "3.5",
            "true",
            "false",
            "yes",
            "\"true\"",
            "~",
            "[]",
            "{}",
            "\"\"",
            "linked",
            "all",
            "standard",
            "adaptive",
            "x",
        ]),
        40,
    )
}

/// A configuration with `values` (taken in turn, round and round) in
/// every field of every section, for the tests that feed it random ones.
pub fn random_config_text(values: &[&str]) -> String {
    let v = |i: usize| values[i % values.len()];
    format!(
        "regions: [us-east-1]\n\
         accounts: [{{role_arn: 'arn:aws:iam::111122223333:role/r', session_name: {}, external_id: {}}}]\n\
         collectors:\n\
         \x20 vpc_links: {{enabled: {}, interval: {}, timeout: {}, revalidate: {}, full_refresh: {}}}\n\
         \x20 load_balancers: {{interval: {}, timeout: {}, scope: {}, per_target_health: {}}}\n\
         \x20 endpoints: {{interval: {}, timeout: {}}}\n\
         \x20 execution_logs: {{interval: {}, timeout: {}, lookback: {}, overlap: {}}}\n\
         \x20 cloudwatch: {{interval: {}, timeout: {}, period: {}, delay: {}, lookback: {}, link_activity_window: {}, link_activity_refresh: {}, default_metrics: {}}}\n\
         \x20 tls_probe: {{enabled: {}, interval: {}, timeout: {}, probe_timeout: {}, concurrency: {}}}\n\
         aws: {{retry_mode: {}, max_attempts: {}, connect_timeout: {}, max_concurrent_requests: {}, quota_share: {}, quotas: {{apigateway: {{rate: {}, burst: {}}}}}}}\n\
         diagnosis: {{tls_error_window: {}, certificate_expiry_warning: {}}}\n",
        v(0),
        v(1),
        v(2),
        v(3),
        v(4),
        v(5),
        v(6),
        v(7),
        v(8),
        v(9),
        v(10),
        v(11),
        v(12),
        v(13),
        v(14),
        v(15),
        v(16),
        v(17),
        v(18),
        v(19),
        v(20),
        v(21),
        v(22),
        v(23),
        v(24),
        v(25),
        v(26),
        v(27),
        v(28),
        v(29),
        v(30),
        v(31),
        v(32),
        v(33),
        v(34),
        v(35),
        v(36),
        v(37),
        v(38),
    )
}

/// A store expecting `collectors` in one scope, whose `vpc_links` found one link.
pub fn store_with_link(
    collectors: &[&'static str],
    id: &str,
) -> std::sync::Arc<crate::collect::Store> {
    let store = crate::collect::Store::new(crate::aws::ApiTelemetry::default());
    store.expect_collectors(collectors, 1);
    store.record_success(
        store.generation(),
        "vpc_links",
        0,
        scope(),
        crate::collect::Fragment::VpcLinks(vec![vpc_link(id)], vec![], Default::default()),
        std::time::Duration::ZERO,
    );
    store
}

/// An encoded part's text, as the exposition serves it.
pub fn encoded_text(encoded: &crate::exposition::Encoded) -> String {
    let exposition = crate::exposition::Exposition::assemble([encoded]);
    String::from_utf8(exposition.to_vec().unwrap()).unwrap()
}
