//! Polling: one collector per signal family, each with its own interval and
//! timeout, for every configured account and region.
//!
//! A collector lives in one file, `collect/<name>.rs`: its [`Descriptor`]
//! (name, first-round stage, the AWS operations it calls, its config
//! section, what it contributes to the inventory and forgets when disabled,
//! and the metric families it renders) and its [`Collector`] impl; it is
//! listed once, in [`COLLECTORS`]. The enabled list, `iam-policy`, the
//! store and the exposition are derived from that table (node_exporter's
//! `registerCollector`, YACE's service table).
//!
//! A collector returns a [`Fragment`] of the inventory; the [`Store`] keeps
//! the last good fragment of every collector and scope, so one collector's
//! failure never blanks another's metrics, nor its own previous data.
//!
//! Beside the collectors: the polling loop is here (each collector's polls
//! of each scope, in stages on the first round); `schedule` remembers when
//! each poll last started, so a reload resumes rather than polls all at
//! once; `store` keeps the fragments and statuses and runs the publisher,
//! which renders through `publish` (each changed scope once, joined in
//! blocks); `state_file` keeps the execution logs' cursors across restarts.

pub mod certificates;
pub mod cloudwatch;
pub mod endpoints;
pub mod execution_logs;
pub mod interconnect;
pub mod load_balancers;
pub mod network_rules;
pub(crate) mod publish;
pub mod schedule;
pub mod state_file;
mod store;
pub mod tls_probe;
pub mod vpc_links;

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use tokio::task::JoinSet;

pub use store::{Findings, Published, Store, TIMEOUT};

use crate::aws::{Aws, AwsError, AwsScope};
use crate::config::{AccountConfig, CollectorConfig, CollectorsConfig, Config};
use crate::inventory::{
    Api, Certificates, EndpointService, ExecutionLogs, Interconnect, Inventory, LoadBalancing,
    NetworkRules, Scope, VpcLink,
};
use crate::render::{Families, Snapshot};
use crate::topology::Topology;

/// The part of a scope's inventory that one collector produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Fragment {
    /// The VPC links and the APIs that the `watch` filters keep, and what
    /// they left out.
    VpcLinks(Vec<VpcLink>, Vec<Api>, crate::inventory::Unwatched),
    LoadBalancing(LoadBalancing),
    EndpointServices(Vec<EndpointService>),
    NetworkRules(NetworkRules),
    /// New counts (added to the totals), new cursors and group statuses (replacing).
    ExecutionLogs(ExecutionLogs),
    /// Metric values, and the V2 links' last requests (`None` when not asked for).
    CloudWatch(
        Vec<(crate::inventory::MetricQuery, f64)>,
        Option<crate::inventory::LinkActivity>,
    ),
    Interconnect(Interconnect),
    Certificates(Certificates),
    TlsProbes(crate::inventory::TlsProbes),
}

impl Fragment {
    /// Drops the room the readers' vectors have to spare: what is kept is
    /// held until the next poll changes it (a tenth of the inventory, at
    /// organisation scale).
    fn shrink(&mut self) {
        match self {
            Fragment::VpcLinks(links, apis, _) => {
                links.shrink_to_fit();
                apis.shrink_to_fit();
                for api in apis {
                    api.integrations.shrink_to_fit();
                    api.stages.shrink_to_fit();
                }
            }
            Fragment::LoadBalancing(lb) => {
                lb.load_balancers.shrink_to_fit();
                for balancer in &mut lb.load_balancers {
                    balancer.listeners.shrink_to_fit();
                }
                lb.target_groups.shrink_to_fit();
                for group in &mut lb.target_groups {
                    group.targets.shrink_to_fit();
                }
            }
            Fragment::EndpointServices(services) => {
                services.shrink_to_fit();
                for service in services {
                    service.connections.shrink_to_fit();
                }
            }
            Fragment::NetworkRules(rules) => {
                rules.security_groups.shrink_to_fit();
                rules.network_acls.shrink_to_fit();
                rules.subnets.shrink_to_fit();
                rules.interfaces.shrink_to_fit();
            }
            _ => {}
        }
    }
}

/// A collector as the rest of the exporter knows it, declared once in the
/// collector's own file.
pub struct Descriptor {
    /// The key under `collectors:` in the config, and the `collector` label.
    pub name: &'static str,
    /// The first round runs in stages: 0 reads AWS alone (API Gateway,
    /// Interconnect), 1 what the VPC links lead to, 2 what hangs off load
    /// balancers, 3 what needs all of those (CloudWatch queries).
    pub stage: u8,
    /// Every AWS operation it calls, as (SDK service label, operation):
    /// its part of the IAM policy.
    pub operations: &'static [(&'static str, &'static str)],
    /// Its schedule (enabled, interval, timeout) in the configuration.
    pub schedule: fn(&CollectorsConfig) -> CollectorConfig,
    /// Builds it from the configuration.
    pub build: fn(&Config) -> Arc<dyn Collector>,
    /// Drops what it contributed to an inventory (it is no longer enabled).
    pub forget: fn(&mut Inventory),
    /// Renders its families for one scope.
    pub render: fn(&mut Families, &Scope, &Topology, &Snapshot),
}

/// Every collector, in the order of the configuration and the exposition.
pub const COLLECTORS: &[&Descriptor] = &[
    &vpc_links::DESCRIPTOR,
    &load_balancers::DESCRIPTOR,
    &endpoints::DESCRIPTOR,
    &network_rules::DESCRIPTOR,
    &execution_logs::DESCRIPTOR,
    &cloudwatch::DESCRIPTOR,
    &interconnect::DESCRIPTOR,
    &certificates::DESCRIPTOR,
    &tls_probe::DESCRIPTOR,
];

/// The collector of this name.
/// Now, in Unix seconds (0 on a clock set before 1970), for the collectors
/// that date what they keep.
pub(crate) fn unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub fn descriptor(name: &str) -> Option<&'static Descriptor> {
    COLLECTORS.iter().copied().find(|d| d.name == name)
}

/// Whether some collector calls `operation` of a service that draws on the
/// quota of `quota_service` (`apigateway` for both API Gateway APIs): what
/// an `aws.quotas` key may name.
pub fn calls(quota_service: &str, operation: &str) -> bool {
    COLLECTORS.iter().any(|d| {
        d.operations
            .iter()
            .any(|(s, op)| crate::aws::quota::quota_service(s) == quota_service && *op == operation)
    })
}

/// The collectors the configuration enables.
pub fn enabled_descriptors(
    config: &CollectorsConfig,
) -> impl Iterator<Item = &'static Descriptor> + '_ {
    COLLECTORS
        .iter()
        .copied()
        .filter(|d| (d.schedule)(config).enabled)
}

/// Renders every collector's families of one scope (each renders only what
/// its part of the inventory holds).
pub fn render_scope(f: &mut Families, scope: &Scope, topology: &Topology, snapshot: &Snapshot) {
    for d in COLLECTORS {
        (d.render)(f, scope, topology, snapshot);
    }
}

/// Renders nothing: a collector whose findings show only through checks.
fn renders_nothing(_: &mut Families, _: &Scope, _: &Topology, _: &Snapshot) {}

impl Fragment {
    /// Replaces this collector's part of the inventory with the new data;
    /// true if that changed it. A poll that found what the previous one
    /// found changes nothing, and its scope keeps its rendered part.
    pub fn apply(mut self, inventory: &mut Inventory) -> bool {
        self.shrink();
        /// Sets `slot` to `new`; true if it held something else.
        fn set<T: PartialEq>(slot: &mut Option<T>, new: T) -> bool {
            let changed = slot.as_ref() != Some(&new);
            if changed {
                *slot = Some(new);
            }
            changed
        }
        match self {
            Fragment::VpcLinks(links, apis, unwatched) => {
                // All three, whatever the first says.
                let unwatched_changed = inventory.unwatched != unwatched;
                inventory.unwatched = unwatched;
                set(&mut inventory.vpc_links, links)
                    | set(&mut inventory.apis, apis)
                    | unwatched_changed
            }
            Fragment::LoadBalancing(lb) => set(&mut inventory.load_balancing, lb),
            Fragment::EndpointServices(services) => set(&mut inventory.endpoint_services, services),
            Fragment::NetworkRules(rules) => set(&mut inventory.network_rules, rules),
            Fragment::ExecutionLogs(delta) => {
                let mut changed = inventory.execution_logs.is_none();
                let logs = inventory
                    .execution_logs
                    .get_or_insert_with(Default::default);
                for (group, cursor) in delta.cursors {
                    if logs.cursors.get(&group) != Some(&cursor) {
                        logs.cursors.insert(group, cursor);
                        changed = true;
                    }
                }
                changed |= logs.groups != delta.groups;
                logs.groups = delta.groups;
                changed |= logs.deferred != delta.deferred;
                logs.deferred = delta.deferred;
                changed |= delta.rejected_cursors > 0;
                logs.rejected_cursors += delta.rejected_cursors;
                for (kind, n) in delta.state_file_errors {
                    changed |= n > 0;
                    *logs.state_file_errors.entry(kind).or_default() += n;
                }
                for (stage, tally) in delta.counts {
                    // A stage seen for the first time shows, at zero.
                    let counts = logs.counts.entry(stage);
                    changed |= matches!(counts, std::collections::btree_map::Entry::Vacant(_))
                        || tally != Default::default();
                    counts.or_default().merge(&tally);
                }
                for (stage, newest) in delta.newest_errors {
                    let known = logs.newest_errors.entry(stage).or_default();
                    for (class, at) in newest {
                        let kept = known.entry(class).or_insert(i64::MIN);
                        changed |= at > *kept;
                        *kept = (*kept).max(at);
                    }
                }
                changed
            }
            Fragment::CloudWatch(values, activity) => {
                let changed = inventory.link_activity != activity;
                inventory.link_activity = activity;
                set(&mut inventory.cloudwatch, values) | changed
            }
            Fragment::Interconnect(interconnect) => set(&mut inventory.interconnect, interconnect),
            Fragment::Certificates(mut certificates) => {
                // A certificate ACM could not describe this time (a
                // throttle) keeps what it said before: its dates are as
                // true as they were, and its series do not flap.
                if let Some(known) = &inventory.certificates {
                    for arn in certificates.unread.keys() {
                        if let Some(detail) = known.details.get(arn) {
                            certificates.details.insert(arn.clone(), detail.clone());
                        }
                    }
                }
                set(&mut inventory.certificates, certificates)
            }
            Fragment::TlsProbes(probes) => set(&mut inventory.tls_probes, probes),
        }
    }
}

/// One signal family polled from AWS (its [`Descriptor`] says the rest).
#[async_trait]
pub trait Collector: Send + Sync + 'static {
    /// Polls AWS. `known` is the scope's inventory as the other collectors last left it.
    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError>;
}

/// An enabled collector: what it is, the built collector, and its schedule.
#[derive(Clone)]
pub struct Enabled {
    pub descriptor: &'static Descriptor,
    pub collector: Arc<dyn Collector>,
    pub settings: CollectorConfig,
}

/// The collectors the config enables, built, with their settings.
pub fn enabled_collectors(config: &Config) -> Vec<Enabled> {
    enabled_descriptors(&config.collectors)
        .map(|descriptor| Enabled {
            descriptor,
            collector: (descriptor.build)(config),
            settings: (descriptor.schedule)(&config.collectors),
        })
        .collect()
}

/// One account in one region with its clients.
#[derive(Clone)]
pub struct Target {
    /// Position in the configured (account, region) list: the store's key,
    /// stable even before STS tells the account id.
    pub index: usize,
    pub region: String,
    pub aws: AwsScope,
    /// The configured account it polls (which, with the region, identifies
    /// the target across a configuration reload).
    account: AccountConfig,
    /// The store's generation when the target was made: its polls record
    /// only while the store is still in it.
    generation: u64,
}

impl Target {
    /// The scope labels as far as they are known now.
    pub fn scope(&self) -> Scope {
        Scope {
            account: self.aws.account_label(),
            region: self.region.clone(),
        }
    }
}

/// Every collector for every target: what `serve` runs forever and `once` runs once.
pub struct Poller {
    targets: Vec<Target>,
    collectors: Vec<Enabled>,
    store: Arc<Store>,
    /// When each poll last started (kept across reloads by `serve`).
    schedule: Arc<schedule::Schedule>,
}

impl Poller {
    /// The polls of `roster`'s scopes that this shard owns.
    pub async fn new(
        config: &Config,
        roster: &crate::aws::discovery::Roster,
        aws: &Aws,
        store: Arc<Store>,
    ) -> Poller {
        let generation = store.generation();
        let mut targets = Vec::new();
        let mut accounts = Vec::new();
        let mut scopes = 0;
        for (polled, region) in crate::accounts::scopes(&roster.accounts) {
            scopes += 1;
            if !config.shard.owns(&polled.account, region) {
                continue;
            }
            accounts.push(store::TargetAccount {
                fallback: crate::aws::fallback_account(&polled.account),
                name: polled.name.clone(),
                source: polled.source,
                tags: polled.tags.clone(),
            });
            targets.push(Target {
                index: targets.len(),
                region: region.to_owned(),
                aws: aws.scope(&polled.account, region).await,
                account: polled.account.clone(),
                generation,
            });
        }
        if config.shard.total > 1 {
            tracing::info!(
                shard = config.shard.index,
                total_shards = config.shard.total,
                scopes = targets.len(),
                of = scopes,
                "polling this shard's account and region scopes"
            );
        }
        store.set_accounts(accounts, roster);
        store.set_shard(config.shard);
        let collectors = enabled_collectors(config);
        let names: Vec<&'static str> = collectors.iter().map(|c| c.descriptor.name).collect();
        store.expect_collectors(&names, targets.len());
        store.set_per_target_health(config.collectors.load_balancers.per_target_health);
        store.set_diagnosis(config.diagnosis);
        Poller {
            targets,
            collectors,
            store,
            schedule: Arc::default(),
        }
    }

    /// Resumes the polls `schedule` says ran under the same settings
    /// (a reload): only new or changed ones poll at once.
    pub fn resuming(mut self, schedule: Arc<schedule::Schedule>) -> Poller {
        self.schedule = schedule;
        self
    }

    /// Each target's identity (the configured account and the region), by index.
    pub fn target_keys(&self) -> Vec<(AccountConfig, String)> {
        self.targets
            .iter()
            .map(|t| (t.account.clone(), t.region.clone()))
            .collect()
    }

    /// Each target's scope labels, as far as they are known now.
    pub fn scopes(&self) -> Vec<Scope> {
        self.targets.iter().map(Target::scope).collect()
    }

    /// Polls every collector for every target once, stage by stage (a
    /// stage's collectors run concurrently). True when all succeeded.
    pub async fn poll_once(&self) -> bool {
        let all: Vec<(&Enabled, &Target)> = self
            .collectors
            .iter()
            .flat_map(|c| self.targets.iter().map(move |t| (c, t)))
            .collect();
        poll_in_stages(&all, &self.store, &self.schedule).await
    }

    /// Polls each collector for each target on its own schedule until the
    /// returned set is dropped or aborted: what ran under the same settings
    /// before (a reload) where it stood, the rest at once, in stages.
    pub fn spawn(self) -> JoinSet<()> {
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let now = tokio::time::Instant::now();
            let mut loops = JoinSet::new();
            let mut fresh = Vec::new();
            for enabled in &self.collectors {
                for target in &self.targets {
                    let key = poll_key(enabled, target);
                    match self.schedule.next_due(&key, &enabled.settings, now) {
                        Some(due) => {
                            loops.spawn(poll_loop(
                                enabled.clone(),
                                target.clone(),
                                self.store.clone(),
                                self.schedule.clone(),
                                due,
                            ));
                        }
                        None => fresh.push((enabled, target)),
                    }
                }
            }
            // The first round in stages, so that collectors that build on
            // others' findings have them; then every collector on its own clock.
            poll_in_stages(&fresh, &self.store, &self.schedule).await;
            for (enabled, target) in fresh {
                let first = tokio::time::Instant::now() + enabled.settings.interval;
                loops.spawn(poll_loop(
                    enabled.clone(),
                    target.clone(),
                    self.store.clone(),
                    self.schedule.clone(),
                    first,
                ));
            }
            while loops.join_next().await.is_some() {}
        });
        tasks
    }
}

fn poll_key(enabled: &Enabled, target: &Target) -> schedule::PollKey {
    (
        enabled.descriptor.name,
        target.account.clone(),
        target.region.clone(),
    )
}

/// Polls one collector for one target every interval from `first` on.
async fn poll_loop(
    enabled: Enabled,
    target: Target,
    store: Arc<Store>,
    schedule: Arc<schedule::Schedule>,
    first: tokio::time::Instant,
) {
    let mut ticks = tokio::time::interval_at(first, enabled.settings.interval);
    // A poll that overran its slot is not made up for with a burst.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        run_one(&enabled, &target, &store, &schedule).await;
    }
}

async fn poll_in_stages(
    polls: &[(&Enabled, &Target)],
    store: &Arc<Store>,
    schedule: &Arc<schedule::Schedule>,
) -> bool {
    let mut stages: Vec<u8> = polls.iter().map(|(c, _)| c.descriptor.stage).collect();
    stages.sort_unstable();
    stages.dedup();
    let mut all_ok = true;
    for stage in stages {
        let mut runs = JoinSet::new();
        for (enabled, target) in polls.iter().filter(|(c, _)| c.descriptor.stage == stage) {
            let (enabled, target, store, schedule) = (
                (*enabled).clone(),
                (*target).clone(),
                store.clone(),
                schedule.clone(),
            );
            runs.spawn(async move { run_one(&enabled, &target, &store, &schedule).await });
        }
        while let Some(done) = runs.join_next().await {
            all_ok &= done.unwrap_or(false);
        }
    }
    all_ok
}

/// Runs one collector for one target within its timeout and records the result.
async fn run_one(
    enabled: &Enabled,
    target: &Target,
    store: &Store,
    schedule: &schedule::Schedule,
) -> bool {
    schedule.started(
        poll_key(enabled, target),
        enabled.settings,
        tokio::time::Instant::now(),
    );
    let (collector, settings) = (&enabled.collector, &enabled.settings);
    let started = Instant::now();
    let known = store.inventory(target.index);
    // The retries of every call fit inside the timeout: sustained
    // throttling ends the poll as throttled, not as a timeout.
    let deadline = started + settings.timeout;
    let result = tokio::time::timeout(
        settings.timeout,
        crate::aws::deadline::within(deadline, async {
            target.aws.account_id().await?;
            collector.collect(&target.aws, &known).await
        }),
    )
    .await;
    let duration = started.elapsed();
    let scope = target.scope();
    let name = enabled.descriptor.name;
    let failure = match result {
        Ok(Ok(fragment)) => {
            tracing::debug!(collector = name, %scope, ?duration, "poll succeeded");
            if store.record_success(
                target.generation,
                name,
                target.index,
                scope.clone(),
                fragment,
                duration,
            ) {
                tracing::info!(collector = name, %scope, "poll succeeded again");
            }
            return true;
        }
        Ok(Err(error)) => {
            // What identifies the problem: the service and AWS's error code
            // where there is one, so a denied service repeats as the same
            // failure whichever of its calls happened to fail first.
            let kind = format!(
                "{} {}",
                error.service,
                error.code.as_deref().unwrap_or(&error.message)
            );
            (kind, error.to_string())
        }
        Err(_) => (
            TIMEOUT.to_owned(),
            format!("timed out after {:?} and was cancelled", settings.timeout),
        ),
    };
    let (kind, error) = failure;
    if store.record_failure(
        target.generation,
        name,
        target.index,
        scope.clone(),
        duration,
        &kind,
    ) {
        tracing::warn!(
            collector = name,
            %scope,
            %error,
            "poll failed; keeping the last good data (repeats of this failure are logged at debug level)"
        );
    } else {
        tracing::debug!(collector = name, %scope, %error, "poll failed again");
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{ErrorClass, Tally};
    use crate::inventory::{LinkActivity, LogGroupStatus};

    /// The mixin's time-to-page bounds (docs/runbooks.md) count on every
    /// collector polling at its `exporter.poll_interval` by default, and on
    /// CloudWatch's default period.
    #[test]
    fn the_mixin_knows_the_default_poll_interval_and_period() {
        let mixin = awsconn_mixin::Config::shipped().exporter;
        let defaults = CollectorsConfig::default();
        for d in COLLECTORS {
            assert_eq!(
                (d.schedule)(&defaults).interval.as_secs(),
                mixin.poll_interval.seconds(),
                "{}",
                d.name
            );
        }
        assert_eq!(
            defaults.cloudwatch.period.as_secs(),
            mixin.cloudwatch_period.seconds()
        );
        assert_eq!(
            defaults.cloudwatch.delay.as_secs(),
            mixin.cloudwatch_delay.seconds()
        );
    }

    /// What a poll found a second time changes nothing, in every kind of
    /// fragment; what differs does (else its data would never be stored).
    #[test]
    fn a_fragment_says_whether_it_changed_the_inventory() {
        let mut inventory = Inventory::default();
        let links = || {
            Fragment::VpcLinks(
                vec![crate::testkit::vpc_link("a")],
                vec![],
                Default::default(),
            )
        };
        assert!(links().apply(&mut inventory));
        assert!(!links().apply(&mut inventory));
        let other = Fragment::VpcLinks(
            vec![crate::testkit::vpc_link("b")],
            vec![],
            Default::default(),
        );
        assert!(other.apply(&mut inventory));
        assert_eq!(inventory.vpc_links.as_ref().unwrap()[0].id, "b");

        let certificates = || {
            let with = crate::testkit::with_certificate(Inventory::default(), &["a"], (0, 1));
            Fragment::Certificates(with.certificates.unwrap())
        };
        assert!(certificates().apply(&mut inventory));
        assert!(!certificates().apply(&mut inventory));
        // Undescribed this time: what ACM said before stays.
        let mut unread = certificates();
        let Fragment::Certificates(c) = &mut unread else {
            unreachable!()
        };
        let arn = c.details.keys().next().unwrap().clone();
        c.details.clear();
        c.unread.insert(arn.clone(), "ThrottlingException".into());
        assert!(unread.apply(&mut inventory), "the unread note is news");
        assert!(
            inventory
                .certificates
                .as_ref()
                .unwrap()
                .details
                .contains_key(&arn)
        );
        assert!(Fragment::Certificates(Default::default()).apply(&mut inventory));

        let cloudwatch = |value: f64, checked_at: i64| {
            let activity = LinkActivity {
                checked_at,
                window_s: 60,
                last_request: Default::default(),
            };
            let query = crate::inventory::MetricQuery {
                namespace: "AWS/NetworkELB".into(),
                metric: "TCP_ELB_Reset_Count".into(),
                stat: "Sum".into(),
                dimensions: vec![],
            };
            Fragment::CloudWatch(vec![(query, value)], Some(activity))
        };
        assert!(cloudwatch(1.0, 10).apply(&mut inventory));
        assert!(!cloudwatch(1.0, 10).apply(&mut inventory));
        assert!(cloudwatch(2.0, 10).apply(&mut inventory), "a value");
        assert!(
            cloudwatch(2.0, 20).apply(&mut inventory),
            "the activity alone"
        );
        assert_eq!(inventory.link_activity.as_ref().unwrap().checked_at, 20);

        let group = "API-Gateway-Execution-Logs_api1/prod".to_owned();
        let stage = ("api1".to_owned(), "prod".to_owned());
        let read = |delta: &mut ExecutionLogs| {
            delta.groups.insert(
                group.clone(),
                LogGroupStatus {
                    api_id: "api1".into(),
                    stage: "prod".into(),
                    read: crate::inventory::LogRead::Ok,
                },
            );
        };
        let mut first = ExecutionLogs::default();
        read(&mut first);
        first.counts.insert(stage.clone(), Tally::new());
        assert!(
            Fragment::ExecutionLogs(first.clone()).apply(&mut inventory),
            "first read"
        );
        assert!(
            !Fragment::ExecutionLogs(first.clone()).apply(&mut inventory),
            "nothing new: the same groups, no count, no error"
        );
        let mut counted = first.clone();
        counted
            .counts
            .get_mut(&stage)
            .unwrap()
            .add_line(b"Execution failed due to a timeout error");
        assert!(
            Fragment::ExecutionLogs(counted).apply(&mut inventory),
            "a count"
        );
        let mut moved = first.clone();
        moved.cursors.insert(
            group.clone(),
            crate::logs::LogCursor {
                position_ms: 5,
                ..Default::default()
            },
        );
        assert!(
            Fragment::ExecutionLogs(moved.clone()).apply(&mut inventory),
            "a cursor moved"
        );
        assert!(!Fragment::ExecutionLogs(moved.clone()).apply(&mut inventory));
        let mut older = moved.clone();
        older
            .newest_errors
            .insert(stage.clone(), [(ErrorClass::Other, 7)].into());
        assert!(
            Fragment::ExecutionLogs(older.clone()).apply(&mut inventory),
            "a newest error"
        );
        older
            .newest_errors
            .insert(stage.clone(), [(ErrorClass::Other, 6)].into());
        assert!(
            !Fragment::ExecutionLogs(older).apply(&mut inventory),
            "an older error than the newest known changes nothing"
        );
        let mut failed = moved;
        failed.groups.get_mut(&group).unwrap().read = crate::inventory::LogRead::Failed {
            code: "AccessDeniedException".into(),
            message: "denied".into(),
        };
        assert!(
            Fragment::ExecutionLogs(failed).apply(&mut inventory),
            "a group's read failed"
        );
    }

    /// The table and the configuration's sections name the same
    /// collectors, in the same order, each with its own schedule.
    #[test]
    fn every_configured_collector_is_declared_and_built() {
        let config = Config::parse("regions: [us-east-1]").unwrap();
        let declared: Vec<_> = COLLECTORS
            .iter()
            .map(|d| (d.name, (d.schedule)(&config.collectors)))
            .collect();
        let configured: Vec<_> = config.collectors.iter().collect();
        assert_eq!(declared, configured);
        let built: Vec<_> = enabled_collectors(&config)
            .iter()
            .map(|c| c.descriptor.name)
            .collect();
        assert_eq!(built, config.collectors.enabled_names().collect::<Vec<_>>());
        for d in COLLECTORS {
            // The TLS probe connects to load balancers, not to AWS's APIs.
            let calls_aws = d.name != "tls_probe";
            assert_eq!(!d.operations.is_empty(), calls_aws, "{} calls AWS", d.name);
            assert!(d.stage <= 3, "{}", d.name);
        }
    }
}
