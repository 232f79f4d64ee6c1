//! One publish at organisation scale: a synthetic inventory of 1 000 VPC
//! links, 5 000 load balancers and 20 000 targets over 200 account×region
//! scopes, recorded into the real store, then published (topology, one
//! diagnosis, render, encode, gzip) as the exporter does after a round of
//! polls.
//!
//! `cargo bench --bench publish` prints the time of one publish beside the
//! goal (50 ms), the cost per link at 2, 16 and 200 scopes (it must not grow
//! with the scopes), and the peak RSS beside its goal (64 MiB).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use awsconn::aws::ApiTelemetry;
use awsconn::collect::{Fragment, Store};
use awsconn::inventory::{
    Api, ApiType, EndpointConnection, EndpointService, Integration, Inventory, Listener,
    LoadBalancer, LoadBalancing, NetworkAcl, NetworkAclEntry, NetworkInterface, NetworkRules,
    Scope, SecurityGroup, SecurityGroupRule, Stage, Subnet, TargetGroup, TargetHealth, VpcLink,
};
use awsconn::render::{self, BuildInfo, Snapshot};
use awsconn::topology::Topology;
use criterion::{Criterion, criterion_group, criterion_main};

const LINKS_PER_SCOPE: usize = 5;
const LOAD_BALANCERS_PER_SCOPE: usize = 25;
const TARGETS_PER_GROUP: usize = 4;
const COLLECTORS: &[&str] = &["vpc_links", "load_balancers", "endpoints", "network_rules"];

fn arn(scope: usize, kind: &str, i: usize) -> String {
    let account = 100_000_000_000 + scope;
    match kind {
        "lb" => format!(
            "arn:aws:elasticloadbalancing:us-east-1:{account}:loadbalancer/net/lb{i}/{i:016x}"
        ),
        "listener" => format!(
            "arn:aws:elasticloadbalancing:us-east-1:{account}:listener/net/lb{i}/{i:016x}/{i:016x}"
        ),
        _ => format!("arn:aws:elasticloadbalancing:us-east-1:{account}:targetgroup/tg{i}/{i:016x}"),
    }
}

fn tcp(port: u16, cidr: &str) -> SecurityGroupRule {
    SecurityGroupRule {
        protocol: "tcp".into(),
        ports: Some((port, port)),
        ipv4_cidrs: vec![cidr.into()],
        ..Default::default()
    }
}

fn open_acl(id: String, subnets: Vec<String>) -> NetworkAcl {
    let entry = |egress| NetworkAclEntry {
        rule_number: 100,
        egress,
        protocol: "-1".into(),
        allow: true,
        ipv4_cidr: Some("0.0.0.0/0".into()),
        ipv6_cidr: None,
        ports: None,
        unreadable: None,
    };
    NetworkAcl {
        id,
        vpc_id: "vpc-1".into(),
        subnet_ids: subnets,
        entries: vec![entry(false), entry(true)],
    }
}

/// One scope's fragments: 5 links (3 REST to an NLB each, 2 HTTP to a
/// listener each), 25 NLBs with a listener and a target group of 4 targets,
/// their endpoint services, security groups, subnets, ACLs and interfaces.
fn fragments(s: usize) -> Vec<(&'static str, Fragment)> {
    let mut links = Vec::new();
    let mut apis = Vec::new();
    for l in 0..LINKS_PER_SCOPE {
        let rest = l < 3;
        let id = format!("link{s}x{l}");
        links.push(VpcLink {
            id: id.clone(),
            name: format!("orders-{l}"),
            api_type: if rest { ApiType::Rest } else { ApiType::Http },
            status: "available".into(),
            status_message: None,
            target_arns: if rest { vec![arn(s, "lb", l)] } else { vec![] },
            subnet_ids: if rest {
                vec![]
            } else {
                vec!["subnet-a".into()]
            },
            security_group_ids: if rest { vec![] } else { vec!["sg-link".into()] },
        });
        apis.push(Api {
            id: format!("api{s}x{l}"),
            name: format!("orders-api-{l}"),
            api_type: if rest { ApiType::Rest } else { ApiType::Http },
            integrations: (0..3)
                .map(|m| Integration {
                    name: format!("GET /r{m}"),
                    connection_id: id.clone(),
                    uri: if rest {
                        "https://orders.internal/".into()
                    } else {
                        arn(s, "listener", l)
                    },
                    integration_target: None,
                    tls_server_name: None,
                    insecure_skip_verification: false,
                })
                .collect(),
            stages: ["prod", "staging"]
                .into_iter()
                .map(|name| Stage {
                    name: name.into(),
                    ..Default::default()
                })
                .collect(),
        });
    }
    let mut load_balancers = Vec::new();
    let mut target_groups = Vec::new();
    let mut interfaces = Vec::new();
    let mut security_groups = vec![SecurityGroup {
        id: "sg-link".into(),
        vpc_id: "vpc-1".into(),
        ingress: vec![],
        egress: vec![tcp(443, "0.0.0.0/0")],
    }];
    for b in 0..LOAD_BALANCERS_PER_SCOPE {
        let lb = arn(s, "lb", b);
        let tg = arn(s, "tg", b);
        let targets = (0..TARGETS_PER_GROUP)
            .map(|t| TargetHealth {
                id: format!("10.0.{b}.{t}"),
                port: Some(8080),
                state: if t == 0 { "unhealthy" } else { "healthy" }.into(),
                reason: (t == 0).then(|| "Target.FailedHealthChecks".into()),
                description: None,
            })
            .collect();
        for t in 0..TARGETS_PER_GROUP {
            interfaces.push(NetworkInterface {
                id: format!("eni-{b}-{t}"),
                subnet_id: "subnet-b".into(),
                vpc_id: "vpc-1".into(),
                private_ips: vec![format!("10.0.{b}.{t}")],
                security_group_ids: vec![format!("sg-target{b}")],
                instance_id: None,
            });
        }
        security_groups.push(SecurityGroup {
            id: format!("sg-lb{b}"),
            vpc_id: "vpc-1".into(),
            ingress: vec![tcp(443, "10.0.0.0/8")],
            egress: vec![tcp(8080, "10.0.0.0/8")],
        });
        security_groups.push(SecurityGroup {
            id: format!("sg-target{b}"),
            vpc_id: "vpc-1".into(),
            ingress: vec![tcp(8080, "10.0.0.0/8")],
            egress: vec![tcp(443, "0.0.0.0/0")],
        });
        load_balancers.push(LoadBalancer {
            arn: lb.clone(),
            name: format!("lb{b}"),
            lb_type: "network".into(),
            state: "active".into(),
            state_reason: None,
            scheme: "internal".into(),
            vpc_id: "vpc-1".into(),
            subnet_ids: vec!["subnet-b".into()],
            security_group_ids: vec![format!("sg-lb{b}")],
            privatelink_inbound_rules: Some("off".into()),
            listeners: vec![Listener {
                arn: arn(s, "listener", b),
                port: 443,
                protocol: "TCP".into(),
                certificate_arns: vec![],
                target_group_arns: vec![tg.clone()],
            }],
        });
        target_groups.push(TargetGroup {
            arn: tg,
            name: format!("tg{b}"),
            protocol: "TCP".into(),
            port: Some(8080),
            health_check_port: None,
            target_type: "ip".into(),
            vpc_id: "vpc-1".into(),
            load_balancer_arns: vec![lb],
            targets,
            health_unread: None,
        });
    }
    let services = (0..3)
        .map(|l| EndpointService {
            service_id: format!("vpce-svc-{s}x{l}"),
            service_name: format!("com.amazonaws.vpce.us-east-1.vpce-svc-{s}x{l}"),
            state: "available".into(),
            load_balancer_arns: vec![arn(s, "lb", l)],
            acceptance_required: false,
            connections: vec![EndpointConnection {
                vpc_endpoint_id: format!("vpce-{s}x{l}"),
                owner: "392220576650".into(),
                state: "available".into(),
            }],
            connections_unread: None,
        })
        .collect();
    let subnets = ["subnet-a", "subnet-b"]
        .iter()
        .enumerate()
        .map(|(i, id)| Subnet {
            id: (*id).into(),
            vpc_id: "vpc-1".into(),
            availability_zone: "us-east-1a".into(),
            cidrs: vec![format!("10.{i}.0.0/16")],
        })
        .collect();
    vec![
        ("vpc_links", Fragment::VpcLinks(links, apis)),
        (
            "load_balancers",
            Fragment::LoadBalancing(LoadBalancing {
                load_balancers,
                target_groups,
                missing_load_balancers: vec![],
                unreadable_load_balancers: 0,
            }),
        ),
        ("endpoints", Fragment::EndpointServices(services)),
        (
            "network_rules",
            Fragment::NetworkRules(NetworkRules {
                security_groups,
                network_acls: vec![open_acl(
                    "acl-1".into(),
                    vec!["subnet-a".into(), "subnet-b".into()],
                )],
                subnets,
                prefix_lists: Default::default(),
                interfaces,
            }),
        ),
    ]
}

/// A store holding `scopes` scopes, every collector polled once.
fn store(scopes: usize) -> Arc<Store> {
    let store = Store::new(ApiTelemetry::default());
    store.expect_collectors(COLLECTORS, scopes);
    let generation = store.generation();
    for s in 0..scopes {
        let scope = Scope {
            account: format!("{}", 100_000_000_000 + s),
            region: "us-east-1".into(),
        };
        for (collector, fragment) in fragments(s) {
            let collector = COLLECTORS.iter().find(|c| **c == collector).unwrap();
            store.record_success(
                generation,
                collector,
                s,
                scope.clone(),
                fragment,
                Duration::from_millis(5),
            );
        }
    }
    store
}

/// Peak resident memory of this process (Linux), in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// Where the time of one publish goes, step by step, on the same inventory.
fn breakdown(scopes: usize) -> Vec<(&'static str, Duration)> {
    let mut inventories = BTreeMap::new();
    for s in 0..scopes {
        let mut inventory = Inventory::default();
        for (_, fragment) in fragments(s) {
            fragment.apply(&mut inventory);
        }
        inventories.insert(
            Scope {
                account: format!("{}", 100_000_000_000 + s),
                region: "us-east-1".into(),
            },
            Arc::new(inventory),
        );
    }
    let mut steps = Vec::new();
    let t = Instant::now();
    let snapshot = Snapshot {
        inventories: black_box(inventories.clone()),
        ..Default::default()
    };
    steps.push(("snapshot (the inventories shared)", t.elapsed()));
    let t = Instant::now();
    let topologies: Vec<(&Scope, Topology)> = snapshot
        .inventories
        .iter()
        .map(|(scope, inventory)| (scope, Topology::build(inventory)))
        .collect();
    steps.push(("topology", t.elapsed()));
    let t = Instant::now();
    let views =
        awsconn::diagnose::views(topologies.iter().map(|(s, t)| (*s, t)), &snapshot.diagnosis);
    steps.push(("diagnosis (every check, and the /links hops)", t.elapsed()));
    let t = Instant::now();
    let families = render::families(
        &snapshot,
        &topologies,
        &BuildInfo::current(),
        views.iter().map(|v| &v.report),
        |f, scope, topology| awsconn::collect::render_scope(f, scope, topology, &snapshot),
    );
    steps.push(("families (labels and values)", t.elapsed()));
    let t = Instant::now();
    let text = render::encode(families, Vec::new(), &mut Default::default());
    steps.push(("encode (text format)", t.elapsed()));
    let t = Instant::now();
    black_box(awsconn::collect::gzip(text.as_bytes()));
    steps.push(("gzip", t.elapsed()));
    steps
}

/// The mean time of one publish over `rounds`, after one to warm up.
fn time_publish(store: &Store, rounds: u32) -> Duration {
    store.publish();
    let start = Instant::now();
    for _ in 0..rounds {
        black_box(store.publish());
    }
    start.elapsed() / rounds
}

fn bench(c: &mut Criterion) {
    let full = store(200);
    let published = full.publish();
    let links = published.findings.links.len();
    let checks: usize = published
        .findings
        .links
        .iter()
        .map(|v| v.report.checks.len())
        .sum();
    let publish = time_publish(&full, 10);
    let rss = peak_rss_mib();
    let mut per_link = Vec::new();
    for scopes in [2, 16, 200] {
        let s = if scopes == 200 {
            full.clone()
        } else {
            store(scopes)
        };
        let t = time_publish(&s, 20);
        per_link.push((scopes, t / (scopes * LINKS_PER_SCOPE) as u32));
    }
    let targets = 200 * LOAD_BALANCERS_PER_SCOPE * TARGETS_PER_GROUP;
    eprintln!();
    eprintln!(
        "inventory: 200 scopes, {links} VPC links, {} load balancers, {targets} targets; {checks} checks; exposition {:.1} MiB ({:.1} MiB gzip)",
        200 * LOAD_BALANCERS_PER_SCOPE,
        published.exposition.text.len() as f64 / 1048576.0,
        published.exposition.gzip.len() as f64 / 1048576.0,
    );
    eprintln!("| figure | measured | goal |");
    eprintln!("|---|---|---|");
    eprintln!(
        "| one publish (topology + diagnosis + render + encode + gzip) | {:.1} ms | < 50 ms |",
        publish.as_secs_f64() * 1e3
    );
    if let Some(rss) = rss {
        eprintln!("| peak RSS of this process | {rss:.1} MiB | < 64 MiB |");
    }
    for (scopes, t) in &per_link {
        eprintln!(
            "| publish time per link, {scopes} scopes | {:.1} µs | flat as scopes grow |",
            t.as_secs_f64() * 1e6
        );
    }
    eprintln!();
    eprintln!("| step of one publish, 200 scopes | time |");
    eprintln!("|---|---|");
    for (step, t) in breakdown(200) {
        eprintln!("| {step} | {:.1} ms |", t.as_secs_f64() * 1e3);
    }
    eprintln!();
    c.bench_function("publish/200 scopes, 1000 links", |b| {
        b.iter(|| black_box(full.publish()))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(10));
    targets = bench
}
criterion_main!(benches);
