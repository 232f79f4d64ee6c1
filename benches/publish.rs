//! One publish at organisation scale: a synthetic inventory of 10 000 VPC
//! links, 10 000 load balancers and 40 000 targets over 2 000 account×region
//! scopes (sizes from the environment: `scope_count`,
//! `load_balancers_per_scope`), recorded into the real store, then
//! published as the exporter does after polls: for each scope whose data
//! changed, topology, one diagnosis, its families encoded; then the parts
//! joined.
//!
//! `cargo bench --bench publish` prints the time of one publish beside the
//! goal (50 ms) when one scope, none and every scope changed, the publishes
//! and renders of a round of polls through the real publisher, the CPU per
//! link at 2, 16 and every scope (it must not grow with the scopes), and the
//! memory: heap in use (counted by the allocator) and peak RSS, beside the
//! goal (64 MiB); then the same scopes split over 4 shards as
//! `--shard`/`--total-shards` split them, each shard in a process of its
//! own: its scopes, the CPU of a round, its longest publish, peak RSS and
//! heap, beside the one process. The counting allocator adds two atomic
//! operations to each allocation, in every figure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use awsconn::aws::ApiTelemetry;
use awsconn::collect::{Fragment, Publisher, Store};
use awsconn::commands::PUBLISH_DEBOUNCE;
use awsconn::config::{AccountConfig, Shard};
use awsconn::exposition::Exposition;
use awsconn::inventory::{
    Api, ApiType, EndpointConnection, EndpointService, Integration, Inventory, Listener,
    LoadBalancer, LoadBalancing, NetworkAcl, NetworkAclEntry, NetworkInterface, NetworkRules,
    Scope, SecurityGroup, SecurityGroupRule, Stage, Subnet, TargetGroup, TargetHealth, VpcLink,
};
use awsconn::render::{self, Snapshot};
use awsconn::topology::Topology;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

/// Counts heap bytes in use, and the most in use since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            grew(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap in use now, in MiB.
fn heap_mib() -> f64 {
    LIVE.load(Ordering::Relaxed) as f64 / 1048576.0
}

/// The most heap in use since the last call, in MiB (and starts anew).
fn heap_peak_mib() -> f64 {
    let peak = PEAK.swap(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    peak as f64 / 1048576.0
}

/// A size of the synthetic organisation, from the environment.
fn size(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// Account×region scopes of the organisation (`AWSCONN_BENCH_SCOPES`):
/// 2 000 by default, 10 000 VPC links.
fn scope_count() -> usize {
    size("AWSCONN_BENCH_SCOPES", 2000)
}

/// Load balancers per scope (`AWSCONN_BENCH_LOAD_BALANCERS`): one per link
/// by default, as a V1 link has; the first five are the links' targets.
/// `AWSCONN_BENCH_SCOPES=200 AWSCONN_BENCH_LOAD_BALANCERS=25` is the
/// world of the table before (200 scopes, 1 000 links, 5 000 load balancers).
fn load_balancers_per_scope() -> usize {
    size("AWSCONN_BENCH_LOAD_BALANCERS", LINKS_PER_SCOPE).max(LINKS_PER_SCOPE)
}

const LINKS_PER_SCOPE: usize = 5;
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
/// listener each), NLBs (5 by default) with a listener and a target group of 4 targets,
/// their endpoint services, security groups, subnets, ACLs and interfaces.
fn fragments(s: usize, round: usize) -> Vec<(&'static str, Fragment)> {
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
            tags: Default::default(),
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
                    tls_config: false,
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
            read_error: None,
            tags: Default::default(),
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
    for b in 0..load_balancers_per_scope() {
        let lb = arn(s, "lb", b);
        let tg = arn(s, "tg", b);
        let targets = (0..TARGETS_PER_GROUP)
            .map(|t| TargetHealth {
                id: format!("10.0.{b}.{t}"),
                port: Some(8080),
                state: if t == 0 { "unhealthy" } else { "healthy" }.into(),
                reason: (t == 0).then(|| "Target.FailedHealthChecks".into()),
                // Moves on with the round: a round whose data changed.
                description: (t == 0).then(|| format!("Health checks failed (round {round})")),
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
            dns_name: format!("lb{b}-{s}.elb.us-east-1.amazonaws.com"),
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
            listeners_unread: None,
            tags: Default::default(),
            tags_unread: false,
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
            health_left: false,
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
            tags: Default::default(),
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
        (
            "vpc_links",
            Fragment::VpcLinks(links, apis, Default::default()),
        ),
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

fn scope(s: usize) -> Scope {
    Scope {
        account: format!("{}", 100_000_000_000 + s),
        region: "us-east-1".into(),
    }
}

/// Records one poll of every collector of `scopes` scopes, as of `round`
/// (a round differs from the one before in one target's health per load
/// balancer; the same round recorded again changes nothing).
fn record_round(store: &Store, scopes: usize, round: usize) {
    let generation = store.generation();
    for s in 0..scopes {
        for (collector, fragment) in fragments(s, round) {
            let collector = COLLECTORS.iter().find(|c| **c == collector).unwrap();
            store.record_success(
                generation,
                collector,
                s,
                scope(s),
                fragment,
                Duration::from_millis(5),
            );
        }
    }
}

/// Records a poll of one scope's load balancers (scope `round` mod the scopes)
/// whose data differs from the round before.
fn change_one_scope(store: &Store, round: usize) {
    let s = round % scope_count();
    let (_, fragment) = fragments(s, round).swap_remove(1);
    let generation = store.generation();
    store.record_success(
        generation,
        "load_balancers",
        s,
        scope(s),
        fragment,
        Duration::ZERO,
    );
}

/// The publisher of a store holding `scopes` scopes, every collector
/// polled once.
fn store(scopes: usize) -> Arc<Publisher> {
    let store = Store::new(ApiTelemetry::default());
    store.expect_collectors(COLLECTORS, scopes);
    record_round(&store, scopes, 0);
    Publisher::new(store)
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

/// A step of rendering and its time.
type Step = (&'static str, Duration);
/// A kind of thing held and its heap, in MiB.
type Held = (&'static str, f64);

/// Where the time of rendering every scope goes, step by step; and what
/// each kind of thing the exporter holds takes of the heap, in MiB.
fn breakdown(scopes: usize) -> (Vec<Step>, Vec<Held>) {
    let start = heap_mib();
    let snapshot = Snapshot {
        inventories: (0..scopes)
            .map(|s| {
                let mut inventory = Inventory::default();
                for (_, fragment) in fragments(s, 0) {
                    fragment.apply(&mut inventory);
                }
                (scope(s), Arc::new(inventory))
            })
            .collect(),
        ..Default::default()
    };
    let mut steps = vec![
        ("topology", Duration::ZERO),
        (
            "diagnosis (every check, and the /links hops)",
            Duration::ZERO,
        ),
        (
            "families (labels, values, each sample's line)",
            Duration::ZERO,
        ),
        (
            "encode (the lines split by family, deflated into the scope's part)",
            Duration::ZERO,
        ),
    ];
    let mut parts = Vec::new();
    let mut findings = Vec::new();
    for (scope, inventory) in &snapshot.inventories {
        let t = Instant::now();
        let topology = Topology::build(inventory);
        steps[0].1 += t.elapsed();
        let t = Instant::now();
        let views = awsconn::diagnose::views([(scope, &topology)], &snapshot.diagnosis);
        steps[1].1 += t.elapsed();
        let t = Instant::now();
        let mut families = render::Families::default();
        awsconn::collect::render_scope(&mut families, scope, &topology, &snapshot);
        render::check_families(&mut families, views.iter().map(|v| &v.report));
        steps[2].1 += t.elapsed();
        let t = Instant::now();
        parts.push(families.encode());
        steps[3].1 += t.elapsed();
        findings.push(views);
    }
    let t = Instant::now();
    let exposition = black_box(Exposition::assemble(&parts));
    steps.push(("assemble (chunks shared, not copied)", t.elapsed()));
    let t = Instant::now();
    black_box(exposition.gzip());
    steps.push((
        "a compressed scrape's body (the chunks as kept)",
        t.elapsed(),
    ));
    let t = Instant::now();
    for text in exposition.text() {
        black_box(text.unwrap());
    }
    steps.push(("a plain scrape's body (every chunk inflated)", t.elapsed()));
    let before = heap_mib();
    drop(findings);
    let after_findings = heap_mib();
    drop(exposition);
    drop(parts);
    let after_parts = heap_mib();
    drop(snapshot);
    let held = vec![
        ("the inventory (AWS's answers)", after_parts - heap_mib()),
        (
            "the findings (every check and the /links hops)",
            before - after_findings,
        ),
        (
            "the encoded parts (the exposition, deflated)",
            after_findings - after_parts,
        ),
        ("in all", before - start),
    ];
    (steps, held)
}

/// The mean time of `publish` over `rounds`, each after `prepare` (not timed).
fn mean(
    rounds: usize,
    mut prepare: impl FnMut(usize),
    publish: impl Fn() -> usize,
) -> (Duration, usize) {
    let mut total = Duration::ZERO;
    let mut rendered = 0;
    for round in 0..rounds {
        prepare(round);
        let start = Instant::now();
        rendered += black_box(publish());
        total += start.elapsed();
    }
    (total / rounds as u32, rendered / rounds)
}

/// A round of polls as `serve` sees it: every collector of every scope
/// records, spread over `spread`, with the real publisher (its debounce)
/// running. Returns the publishes and the scope renders of the round.
fn poll_round(
    publisher: &Arc<Publisher>,
    scopes: usize,
    round: usize,
    spread: Duration,
) -> (u64, u64) {
    let store = publisher.store();
    // Read a chunk at a time, as a plain scrape of a text too long to pack
    // is: a chunk holds whole lines, and the text whole would be the
    // largest thing in memory.
    let counter = |name: &str| -> u64 {
        publisher
            .published()
            .exposition
            .text()
            .find_map(|chunk| {
                let chunk = chunk.unwrap();
                let text = std::str::from_utf8(&chunk).unwrap();
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0)
    };
    let before = (
        counter("awsconn_exposition_publishes_total "),
        counter("awsconn_exposition_scope_renders_total "),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let running = tokio::spawn(publisher.clone().run(PUBLISH_DEBOUNCE));
        let pause = spread / (scopes * COLLECTORS.len()) as u32;
        let generation = store.generation();
        for s in 0..scopes {
            for (collector, fragment) in fragments(s, round) {
                let collector = COLLECTORS.iter().find(|c| **c == collector).unwrap();
                store.record_success(generation, collector, s, scope(s), fragment, Duration::ZERO);
                tokio::time::sleep(pause).await;
            }
        }
        // The last records' publish: wait it out.
        tokio::time::sleep(PUBLISH_DEBOUNCE * 5).await;
        running.abort();
    });
    // The counters show the publishes before the one that shows them.
    publisher.publish();
    (
        counter("awsconn_exposition_publishes_total ") - before.0 - 1,
        counter("awsconn_exposition_scope_renders_total ") - before.1,
    )
}

/// CPU time this process has used, every thread (exited ones too).
fn cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write into.
    let ok = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) } == 0;
    assert!(ok, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// The CPU time per link of publishing `scopes` scopes whose data all
/// changed, over enough rounds to use a second of CPU or more.
fn cpu_per_link(publisher: &Publisher, scopes: usize) -> Duration {
    let store = publisher.store();
    let mut rounds = 0u32;
    let mut cpu = Duration::ZERO;
    while cpu < Duration::from_secs(1) {
        record_round(store, scopes, 3000 + rounds as usize);
        let before = cpu_time();
        black_box(publisher.publish());
        cpu += cpu_time() - before;
        rounds += 1;
    }
    cpu / rounds / (scopes * LINKS_PER_SCOPE) as u32
}

/// Set in the processes the bench starts for one shard each: `K/N`.
const SHARD_ENV: &str = "AWSCONN_BENCH_SHARD";
const SHARDS: u32 = 4;

/// The scopes as configured accounts (one role each), for the shard hash.
fn account(s: usize) -> AccountConfig {
    AccountConfig {
        role_arn: Some(format!(
            "arn:aws:iam::{}:role/awsconn-read",
            scope(s).account
        )),
        ..Default::default()
    }
}

/// The scopes that shard `k` of `n` polls, as `--shard` splits them.
fn shard_scopes(k: u32, n: u32) -> Vec<usize> {
    let shard = Shard::new(k, n).unwrap();
    (0..scope_count())
        .filter(|s| shard.owns(&account(*s), &scope(*s).region))
        .collect()
}

/// Records one poll of every collector of these scopes (the store's
/// indexes are their positions), as of `round`.
fn record_scopes(store: &Store, scopes: &[usize], round: usize) {
    let generation = store.generation();
    for (index, s) in scopes.iter().enumerate() {
        for (collector, fragment) in fragments(*s, round) {
            let collector = COLLECTORS.iter().find(|c| **c == collector).unwrap();
            store.record_success(
                generation,
                collector,
                index,
                scope(*s),
                fragment,
                Duration::from_millis(5),
            );
        }
    }
}

/// What one shard's process costs: its scopes' inventory, their publishes
/// when every scope changed, as `serve`'s publisher makes them, and the CPU
/// of one such round. Printed as one line for the parent to read.
fn run_shard(spec: &str) {
    let (k, n) = spec
        .split_once('/')
        .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)))
        .expect("AWSCONN_BENCH_SHARD=K/N");
    let scopes = shard_scopes(k, n);
    let store = Store::new(ApiTelemetry::default());
    store.expect_collectors(COLLECTORS, scopes.len());
    record_scopes(&store, &scopes, 0);
    let publisher = Publisher::new(store.clone());
    while publisher.publish_step().scopes_pending > 0 {}
    let steady_heap = heap_mib();
    let mut longest = Duration::ZERO;
    for round in 1..=5 {
        record_scopes(&store, &scopes, round);
        loop {
            let start = Instant::now();
            let pending = black_box(publisher.publish_step()).scopes_pending;
            longest = longest.max(start.elapsed());
            if pending == 0 {
                break;
            }
        }
    }
    let rss = peak_rss_mib().unwrap_or(f64::NAN);
    // CPU of a round in which every scope changed: the shard's share.
    let mut rounds = 0u32;
    let mut cpu = Duration::ZERO;
    while cpu < Duration::from_secs(1) {
        record_scopes(&store, &scopes, 3000 + rounds as usize);
        let before = cpu_time();
        black_box(publisher.publish());
        cpu += cpu_time() - before;
        rounds += 1;
    }
    let round_cpu = cpu / rounds;
    println!(
        "SHARD {k} {} {:.3} {:.3} {:.1} {:.1}",
        scopes.len(),
        round_cpu.as_secs_f64() * 1e3,
        longest.as_secs_f64() * 1e3,
        rss,
        steady_heap,
    );
}

/// Runs each shard in a process of its own (peak RSS is per process), one
/// after the other so that they do not share the CPU; their lines.
fn measure_shards() -> Vec<Vec<String>> {
    let exe = std::env::current_exe().unwrap();
    (0..SHARDS)
        .map(|k| {
            let out = std::process::Command::new(&exe)
                .arg("--bench")
                .env(SHARD_ENV, format!("{k}/{SHARDS}"))
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            stdout
                .lines()
                .find_map(|l| l.strip_prefix("SHARD "))
                .unwrap_or_else(|| panic!("shard {k}: {}", String::from_utf8_lossy(&out.stderr)))
                .split(' ')
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    // As the exporter starts (criterion's threads do not exist yet).
    awsconn::process::limit_malloc_arenas();
    if let Ok(spec) = std::env::var(SHARD_ENV) {
        run_shard(&spec);
        std::process::exit(0);
    }
    let n_scopes = scope_count();
    let full = store(n_scopes);
    let inventory_heap = heap_mib();
    let (links, checks) = {
        // As `serve` does: the publisher's publishes, within its budget.
        while full.publish_step().scopes_pending > 0 {}
        let published = full.published();
        let links = published.findings.links().count();
        let checks: usize = published
            .findings
            .links()
            .map(|v| v.report.checks.len())
            .sum();
        (links, checks)
    };
    let steady_heap = heap_mib();
    heap_peak_mib();
    // Every scope's data changed (the first polls, a reload, a round in
    // which every scope's targets moved): the publisher's publishes, each
    // within its render budget, until none is left.
    let mut all_changed = Vec::new();
    for round in 1..=5 {
        record_round(full.store(), scope_count(), round);
        let mut times = Vec::new();
        loop {
            let start = Instant::now();
            let pending = black_box(full.publish_step()).scopes_pending;
            times.push(start.elapsed());
            if pending == 0 {
                break;
            }
        }
        all_changed.push(times);
    }
    let all_publishes = all_changed.iter().map(Vec::len).sum::<usize>() as f64 / 5.0;
    let all_longest = all_changed
        .iter()
        .flatten()
        .max()
        .copied()
        .unwrap_or_default();
    let all_total = all_changed.iter().flatten().sum::<Duration>() / 5;
    let all_changed_peak = heap_peak_mib();
    let serve_rss = peak_rss_mib();
    // Rounds of polls through the real publisher on a runtime, as `serve`
    // runs them: before any publish of every scope at once, which only
    // `once` and `diagnose` make.
    let (publishes, renders) = poll_round(&full, scope_count(), 1000, Duration::from_secs(2));
    let (publishes_same, renders_same) =
        poll_round(&full, scope_count(), 1000, Duration::from_secs(2));
    let polls_rss = peak_rss_mib();
    // The same in one publish (`once`, `diagnose`): every scope at once.
    let (all_at_once, _) = mean(
        5,
        |r| record_round(full.store(), scope_count(), r + 10),
        || full.publish().scopes_rendered,
    );
    let all_at_once_peak = heap_peak_mib();
    // One scope's load balancers changed since the publish before.
    let (one_changed, one) = mean(
        20,
        |r| change_one_scope(full.store(), r + 100),
        || full.publish().scopes_rendered,
    );
    let one_changed_peak = heap_peak_mib();
    // Every collector polled every scope again and found the same.
    record_round(full.store(), scope_count(), 999);
    full.publish();
    let (none_changed, none) = mean(
        5,
        |_| record_round(full.store(), scope_count(), 999),
        || full.publish().scopes_rendered,
    );
    let once_rss = peak_rss_mib();
    let mut per_link = Vec::new();
    for scopes in [2, 16, scope_count()] {
        let s = if scopes == scope_count() {
            full.clone()
        } else {
            store(scopes)
        };
        per_link.push((scopes, cpu_per_link(&s, scopes)));
    }
    let published = full.publish();
    let targets = scope_count() * load_balancers_per_scope() * TARGETS_PER_GROUP;
    eprintln!();
    eprintln!(
        "inventory: {n_scopes} scopes, {links} VPC links, {} load balancers, {targets} targets; {checks} checks; exposition {:.1} MiB ({:.1} MiB gzip)",
        scope_count() * load_balancers_per_scope(),
        published.exposition.len() as f64 / 1048576.0,
        published
            .exposition
            .gzip()
            .iter()
            .map(|b| b.len())
            .sum::<usize>() as f64
            / 1048576.0,
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    eprintln!("| figure | measured | goal |");
    eprintln!("|---|---|---|");
    eprintln!(
        "| one publish, one scope's data changed ({one} scope rendered) | {:.1} ms | < 50 ms |",
        ms(one_changed)
    );
    eprintln!(
        "| one publish, a round that changed nothing ({none} scopes rendered) | {:.1} ms | < 50 ms |",
        ms(none_changed)
    );
    eprintln!(
        "| every scope's data changed (the first polls, a reload): the longest publish; {all_publishes:.1} publishes, {:.1} ms in all | {:.1} ms | < 50 ms |",
        ms(all_total),
        ms(all_longest)
    );
    eprintln!(
        "| every scope rendered in one publish (`once`, `diagnose`) | {:.1} ms | — |",
        ms(all_at_once)
    );
    eprintln!(
        "| a round of {} polls over 2 s, data changed: publishes, scopes rendered | {publishes}, {renders} | renders = scopes |",
        scope_count() * COLLECTORS.len()
    );
    eprintln!(
        "| a round of {} polls over 2 s, nothing changed: publishes, scopes rendered | {publishes_same}, {renders_same} | no renders |",
        scope_count() * COLLECTORS.len()
    );
    if let (Some(serving), Some(polls), Some(once)) = (serve_rss, polls_rss, once_rss) {
        eprintln!(
            "| peak RSS: the publisher's publishes; with rounds of polls through the publisher on a runtime (`serve`); with publishes of every scope at once (`once`, `diagnose`) | {serving:.1} MiB; {polls:.1} MiB; {once:.1} MiB | < 64 MiB |"
        );
    }
    eprintln!(
        "| heap in use: the inventory; with the published parts and findings | {inventory_heap:.1} MiB; {steady_heap:.1} MiB | < 64 MiB |"
    );
    eprintln!(
        "| peak heap: every scope changed, the publisher's publishes; one changed scope | {all_changed_peak:.1} MiB; {one_changed_peak:.1} MiB | < 64 MiB |"
    );
    eprintln!(
        "| peak heap: every scope rendered in one publish (`once`, `diagnose`) | {all_at_once_peak:.1} MiB | — |"
    );
    for (scopes, t) in &per_link {
        eprintln!(
            "| publish CPU per link, every scope changed, {scopes} scopes | {:.1} µs | flat as scopes grow |",
            t.as_secs_f64() * 1e6
        );
    }
    eprintln!();
    let shards = measure_shards();
    let whole_round = per_link.last().map(|(_, t)| *t).unwrap_or_default()
        * (scope_count() * LINKS_PER_SCOPE) as u32;
    eprintln!(
        "{SHARDS} shards of the same {n_scopes} scopes (`--shard K --total-shards {SHARDS}`), each in its own process, beside one process polling all:"
    );
    eprintln!(
        "| process | scopes | VPC links | CPU of a round in which every scope changed | longest publish | peak RSS | heap in use |"
    );
    eprintln!("|---|---|---|---|---|---|---|");
    eprintln!(
        "| one process | {n_scopes} | {} | {:.1} ms | {:.1} ms | {} | {steady_heap:.1} MiB |",
        scope_count() * LINKS_PER_SCOPE,
        ms(whole_round),
        ms(all_longest),
        serve_rss.map_or("—".into(), |r| format!("{r:.1} MiB")),
    );
    for fields in &shards {
        let [k, scopes, cpu, longest, rss, heap] = &fields[..] else {
            panic!("shard line: {fields:?}");
        };
        let scopes: usize = scopes.parse().unwrap();
        eprintln!(
            "| shard {k} | {scopes} | {} | {cpu} ms | {longest} ms | {rss} MiB | {heap} MiB |",
            scopes * LINKS_PER_SCOPE
        );
    }
    let total: usize = shards.iter().map(|f| f[1].parse::<usize>().unwrap()).sum();
    assert_eq!(total, scope_count(), "every scope in exactly one shard");
    eprintln!();
    eprintln!("| step of rendering {n_scopes} scopes | time |");
    eprintln!("|---|---|");
    let (steps, held) = breakdown(scope_count());
    for (step, t) in steps {
        eprintln!("| {step} | {:.1} ms |", ms(t));
    }
    eprintln!();
    eprintln!("| what {n_scopes} scopes hold | heap |");
    eprintln!("|---|---|");
    for (what, mib) in held {
        eprintln!("| {what} | {mib:.1} MiB |");
    }
    eprintln!();
    c.bench_function("publish/all scopes, one scope changed", |b| {
        let mut r = 0;
        // The change is recorded untimed; the publish is timed.
        b.iter_batched(
            || {
                r += 1;
                change_one_scope(full.store(), 5000 + r);
            },
            |()| black_box(full.publish()),
            BatchSize::PerIteration,
        )
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(10));
    targets = bench
}
criterion_main!(benches);
