//! The polling loop: every enabled collector for every target (an account
//! in a region), each at its own interval and within its timeout, the first
//! round in stages (what a later collector reads, an earlier one found);
//! each outcome recorded in the [`Store`].

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;

use super::collector::{Collector, Descriptor};
use super::registry::enabled_descriptors;
use super::{Store, TIMEOUT, schedule};
use crate::aws::{Aws, AwsScope};
use crate::config::{AccountConfig, CollectorConfig, Config};
use crate::inventory::Scope;

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
            accounts.push(super::store::TargetAccount {
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
