//! The last good data of every collector and scope, and what is published
//! from it. Collectors only record their outcome and signal; one publisher
//! ([`Store::run_publisher`]) coalesces the signals, takes a snapshot under
//! the lock, and outside it diagnoses once and renders the exposition from
//! those same findings (only the scopes whose data changed: see
//! [`super::publish`]), then swaps both in one [`Published`]. Scrapes and
//! `/links` read that through an atomic swap: they never wait on AWS, on a
//! poll, nor on a publish in progress, and never see the exposition of one
//! publish beside the findings of another.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::Fragment;
use super::publish::{Parts, RENDER_BUDGET};
use crate::aws::ApiTelemetry;
use crate::diagnose::LinkView;
use crate::exposition::Exposition;
use crate::inventory::{Inventory, Scope};
use crate::lock::LockOrRecover;
use crate::render::{BuildInfo, CollectorStatus, PublishStats, ReloadStatus, Snapshot};
use arc_swap::ArcSwap;

/// The runbook's latest findings: every link's checks and path, for `/links`.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Each scope's links, in scope order (shared with the scope's
    /// rendered part, which a later publish may keep).
    pub links_by_scope: Vec<Arc<[LinkView]>>,
    /// When the inventory they judge was published; `None` before the first publish.
    pub at: Option<SystemTime>,
    /// Whether every collector had finished its first poll then.
    pub ready: bool,
}

impl Findings {
    /// Every link's findings, scope by scope.
    pub fn links(&self) -> impl Iterator<Item = &LinkView> {
        self.links_by_scope.iter().flat_map(|links| links.iter())
    }
}

/// One publish: the exposition and the findings it was rendered from.
#[derive(Debug, Default)]
pub struct Published {
    pub exposition: Exposition,
    pub findings: Findings,
    /// Scopes this publish rendered; the others kept their parts.
    pub scopes_rendered: usize,
    /// Scopes left for the next publish (the publisher's render budget).
    pub scopes_pending: usize,
}

/// One target's data as the collectors left it.
struct Held {
    /// The scope labels as last known.
    scope: Scope,
    /// Shared with the snapshots that publishes take (a change copies one
    /// scope's inventory if a publish still holds it, never all of them).
    inventory: Arc<Inventory>,
    /// Moved on by every change of `inventory` (from the store-wide
    /// counter, so never reused): a publish keeps a scope's rendered part
    /// while its revision stays.
    revision: u64,
}

/// A store-wide counter, so that a revision is never handed out twice.
#[derive(Default)]
struct Revisions(u64);

impl Revisions {
    fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

#[derive(Default)]
struct State {
    /// By target index.
    inventories: BTreeMap<usize, Held>,
    /// Hands out the revisions of the inventories.
    revisions: Revisions,
    /// By (collector, target index).
    /// Shared with the snapshots: a publish holds a status by reference,
    /// and tells a changed one by its address.
    statuses: BTreeMap<(&'static str, usize), Arc<CollectorStatus>>,
    /// The latest failure of each (collector, target) that has not recovered since.
    failures: BTreeMap<(&'static str, usize), String>,
    /// The enabled collectors: one without a success for a target leaves
    /// that target's checks that need it unknown.
    enabled: Vec<&'static str>,
    /// Which configuration's polls may record: a reload moves it on, so a
    /// poll of the previous configuration that finishes late cannot write
    /// under a target index that now means another target.
    generation: u64,
    /// Bumped by every change a publish shows: a publish that would show
    /// no change since the last one is skipped.
    changes: u64,
}

/// What the publisher remembers between publishes.
#[derive(Default)]
struct Publishing {
    count: u64,
    last_duration: Duration,
    /// `State::changes` as the latest publish saw it.
    shown: Option<u64>,
    /// The scopes' rendered parts, kept while their data stays.
    parts: Parts,
}

/// The failure name of a poll cancelled at its timeout.
pub const TIMEOUT: &str = "timeout";

pub struct Store {
    state: Mutex<State>,
    reload: Mutex<ReloadStatus>,
    published: ArcSwap<Published>,
    /// Signalled by every record; the publisher waits on it. A signal sent
    /// while nobody waits is kept, so none is lost, and many coalesce.
    changed: tokio::sync::Notify,
    /// Held while a publish renders, so two publishes never race to swap an
    /// older snapshot over a newer one; it counts them, times the last,
    /// remembers which change it showed, and keeps the scopes' parts.
    publishing: Mutex<Publishing>,
    telemetry: ApiTelemetry,
    build: BuildInfo,
    expected_runs: AtomicUsize,
    ready: AtomicBool,
    per_target_health: AtomicBool,
    /// Set from a reload's new generation until its targets are re-keyed:
    /// the publisher waits, so no publish shows the new collector list
    /// beside the old configuration's data.
    reloading: AtomicBool,
    /// The windows of the checks (`diagnosis:` in the configuration).
    diagnosis: Mutex<crate::config::DiagnosisConfig>,
    /// This process's shard, shown among the exporter's families.
    shard: Mutex<crate::config::Shard>,
    /// Each target's account as the roster names it, by target index, and
    /// how the latest listing of the organisation went.
    accounts: Mutex<(Vec<TargetAccount>, Option<crate::render::DiscoveryStatus>)>,
}

/// The account of one target as the roster names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetAccount {
    /// The account label until STS tells it (`aws::fallback_account`).
    pub fallback: String,
    pub name: Option<String>,
    pub source: crate::accounts::Source,
    pub tags: BTreeMap<String, String>,
}

impl Store {
    /// A store with only the build info rendered.
    pub fn new(telemetry: ApiTelemetry) -> Arc<Store> {
        let store = Arc::new(Store {
            state: Mutex::new(State::default()),
            reload: Mutex::new(ReloadStatus {
                last_success: SystemTime::now(),
                ..ReloadStatus::default()
            }),
            published: ArcSwap::from_pointee(Published::default()),
            changed: tokio::sync::Notify::new(),
            publishing: Mutex::new(Publishing::default()),
            telemetry,
            build: BuildInfo::current(),
            expected_runs: AtomicUsize::new(usize::MAX),
            ready: AtomicBool::new(false),
            per_target_health: AtomicBool::new(false),
            reloading: AtomicBool::new(false),
            diagnosis: Mutex::default(),
            shard: Mutex::default(),
            accounts: Mutex::default(),
        });
        store.publish();
        store
    }

    /// Export per-target health series from now on (`load_balancers.per_target_health`).
    pub fn set_per_target_health(&self, on: bool) {
        self.per_target_health.store(on, Ordering::SeqCst);
    }

    /// This process's shard (`--shard`, `--total-shards`).
    pub fn set_shard(&self, shard: crate::config::Shard) {
        *self.shard.lock_or_recover() = shard;
    }

    /// The accounts of the targets (by index) and how discovery went:
    /// `awsconn_account_info` and the `awsconn_discovery_*` families.
    pub fn set_accounts(
        &self,
        targets: Vec<TargetAccount>,
        roster: &crate::aws::discovery::Roster,
    ) {
        let discovery = roster
            .organizations
            .as_ref()
            .map(|o| crate::render::DiscoveryStatus {
                successful: o.successful,
                last_success: o.last_success,
                census: o.census,
            });
        *self.accounts.lock_or_recover() = (targets, discovery);
        self.lock().changes += 1;
        self.changed.notify_one();
    }

    /// How the latest listing of the organisation went, when the accounts
    /// polled stay as they were.
    pub fn set_discovery(&self, roster: &crate::aws::discovery::Roster) {
        let targets = self.accounts.lock_or_recover().0.clone();
        self.set_accounts(targets, roster);
    }

    /// The windows of the checks (`no_tls_errors`, `certificate_valid`).
    pub fn set_diagnosis(&self, config: crate::config::DiagnosisConfig) {
        *self.diagnosis.lock_or_recover() = config;
    }

    /// Records a configuration reload (`None` when it failed, else whether
    /// it changed anything; and when it worked) and publishes it at once
    /// (within the publisher's render budget).
    pub fn record_reload(&self, applied: Option<bool>) {
        {
            let mut reload = self.reload.lock_or_recover();
            reload.successful = applied.is_some();
            match applied {
                Some(true) => reload.applied += 1,
                Some(false) => reload.unchanged += 1,
                None => reload.failed += 1,
            }
            if applied.is_some() {
                reload.last_success = SystemTime::now();
            }
        }
        // Published before the reload is answered: whoever asked for it
        // reads its outcome in the very next scrape. The scopes that the
        // new configuration renders anew follow, as the publisher goes.
        if self.publish_step().scopes_pending > 0 {
            self.changed.notify_one();
        }
    }

    /// Keeps what the store knows across a configuration reload: `moved`
    /// maps each old target index that is still configured to its new index
    /// (the execution-log counts and cursors go with it, so nothing is
    /// counted twice); targets no longer configured, and collectors no
    /// longer enabled, are dropped.
    pub fn retarget(&self, moved: &BTreeMap<usize, usize>) {
        let mut state = self.lock();
        let enabled = state.enabled.clone();
        let keep = |collector: &&'static str| enabled.contains(collector);
        state.inventories = std::mem::take(&mut state.inventories)
            .into_iter()
            .filter_map(|(old, entry)| moved.get(&old).map(|&new| (new, entry)))
            .collect();
        state.statuses = std::mem::take(&mut state.statuses)
            .into_iter()
            .filter(|((collector, _), _)| keep(collector))
            .filter_map(|((c, old), s)| moved.get(&old).map(|&new| ((c, new), s)))
            .collect();
        state.failures = std::mem::take(&mut state.failures)
            .into_iter()
            .filter(|((collector, _), _)| keep(collector))
            .filter_map(|((c, old), f)| moved.get(&old).map(|&new| ((c, new), f)))
            .collect();
        // What a collector no longer enabled found is not reported any more;
        // every scope is rendered again under the new configuration.
        let state = &mut *state;
        for held in state.inventories.values_mut() {
            for d in super::COLLECTORS
                .iter()
                .filter(|d| !enabled.contains(&d.name))
            {
                (d.forget)(Arc::make_mut(&mut held.inventory));
            }
            held.revision = state.revisions.next();
        }
        state.changes += 1;
        self.reloading.store(false, Ordering::SeqCst);
        self.changed.notify_one();
    }

    /// The enabled collectors and the number of targets: every (collector,
    /// target) pair must report before the store is ready.
    pub fn expect_collectors(&self, collectors: &[&'static str], targets: usize) {
        self.expected_runs
            .store(collectors.len() * targets, Ordering::SeqCst);
        let mut state = self.lock();
        state.enabled = collectors.to_vec();
        self.update_readiness(&state);
        // Published even when no poll will come (a shard with no scopes):
        // the store is ready at once, and says which shard it is.
        state.changes += 1;
        self.changed.notify_one();
    }

    /// True once what is published includes every collector's first poll of
    /// every target.
    pub fn is_ready(&self) -> bool {
        self.published.load().findings.ready
    }

    /// The latest publish: the exposition and the findings it shows.
    pub fn published(&self) -> Arc<Published> {
        self.published.load_full()
    }

    pub fn telemetry(&self) -> &ApiTelemetry {
        &self.telemetry
    }

    /// The generation polls record under now (see `next_generation`).
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Starts a new generation: from now on, records of polls started under
    /// an older one are dropped. A reload calls it before it builds the new
    /// poller; the publisher then waits for [`Store::retarget`].
    pub fn next_generation(&self) -> u64 {
        self.reloading.store(true, Ordering::SeqCst);
        let mut state = self.lock();
        state.generation += 1;
        state.generation
    }

    /// Records a successful poll; returns true when it ends a run of failures.
    /// A poll of an older generation is dropped (false).
    pub fn record_success(
        &self,
        generation: u64,
        collector: &'static str,
        target: usize,
        scope: Scope,
        fragment: Fragment,
        duration: Duration,
    ) -> bool {
        let mut state = self.lock();
        if state.generation != generation {
            return false;
        }
        let revision = state.revisions.next();
        let held = state.inventories.entry(target).or_insert_with(|| Held {
            scope: scope.clone(),
            inventory: Arc::default(),
            revision,
        });
        held.scope = scope.clone();
        // A poll that found what the previous one did leaves the revision,
        // and so the scope's rendered part, as they are.
        if fragment.apply(Arc::make_mut(&mut held.inventory)) {
            held.revision = revision;
        }
        let recovered = state.failures.remove(&(collector, target)).is_some();
        Self::set_status(&mut state, collector, target, scope, true, duration, false);
        self.update_readiness(&state);
        state.changes += 1;
        self.changed.notify_one();
        recovered
    }

    /// Records a failed poll. `failure` names what went wrong (stable across
    /// repeats of the same problem); returns true when it differs from the
    /// previous poll's, so that a persistent problem is logged once, not on
    /// every poll.
    pub fn record_failure(
        &self,
        generation: u64,
        collector: &'static str,
        target: usize,
        scope: Scope,
        duration: Duration,
        failure: &str,
    ) -> bool {
        let mut state = self.lock();
        if state.generation != generation {
            return false;
        }
        let is_new = state.failures.get(&(collector, target)).map(String::as_str) != Some(failure);
        if is_new {
            state
                .failures
                .insert((collector, target), failure.to_owned());
        }
        if let Some(held) = state.inventories.get_mut(&target) {
            held.scope = scope.clone();
        }
        Self::set_status(
            &mut state,
            collector,
            target,
            scope,
            false,
            duration,
            failure == TIMEOUT,
        );
        self.update_readiness(&state);
        state.changes += 1;
        self.changed.notify_one();
        is_new
    }

    fn set_status(
        state: &mut State,
        collector: &'static str,
        target: usize,
        scope: Scope,
        success: bool,
        duration: Duration,
        timed_out: bool,
    ) {
        let previous = state.statuses.get(&(collector, target));
        let previous_success = previous.and_then(|s| s.last_success);
        let timeouts = previous.map_or(0, |s| s.timeouts) + u64::from(timed_out);
        let polls = previous.map_or(0, |s| s.polls) + 1;
        state.statuses.insert(
            (collector, target),
            Arc::new(CollectorStatus {
                collector,
                scope,
                success,
                duration,
                last_success: if success {
                    Some(SystemTime::now())
                } else {
                    previous_success
                },
                timeouts,
                polls,
            }),
        );
    }

    fn update_readiness(&self, state: &State) {
        if state.statuses.len() >= self.expected_runs.load(Ordering::SeqCst) {
            self.ready.store(true, Ordering::SeqCst);
        }
    }

    /// The inventory of one target as the collectors last left it.
    pub fn inventory(&self, target: usize) -> Arc<Inventory> {
        self.lock()
            .inventories
            .get(&target)
            .map(|held| held.inventory.clone())
            .unwrap_or_default()
    }

    /// What every inventory says it does not know, brought up to date (a
    /// copy only of the inventories whose answer changed, and a new
    /// revision for them).
    fn refresh_unavailable(state: &mut State) {
        let targets: Vec<usize> = state.inventories.keys().copied().collect();
        for target in targets {
            let unavailable = Self::unavailable(state, target);
            let state = &mut *state;
            if let Some(held) = state.inventories.get_mut(&target)
                && held.inventory.unavailable != unavailable
            {
                Arc::make_mut(&mut held.inventory).unavailable = unavailable;
                held.revision = state.revisions.next();
            }
        }
    }

    /// A snapshot: the inventories shared, not copied.
    fn snapshot_of(&self, state: &mut State) -> Snapshot {
        Self::refresh_unavailable(state);
        let accounts = self.accounts.lock_or_recover().clone();
        let inventories = state
            .inventories
            .values()
            .map(|held| (held.scope.clone(), held.inventory.clone()))
            .collect();
        let revisions = state
            .inventories
            .values()
            .map(|held| (held.scope.clone(), held.revision))
            .collect();
        Snapshot {
            reload: *self.reload.lock_or_recover(),
            inventories,
            revisions,
            statuses: state.statuses.values().cloned().collect(),
            per_target_health: self.per_target_health.load(Ordering::SeqCst),
            shard: *self.shard.lock_or_recover(),
            accounts: Self::account_infos(state, &accounts.0),
            discovery: accounts.1,
            diagnosis: crate::diagnose::Clock::from_config(
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
                    .unwrap_or(0),
                &self.diagnosis.lock_or_recover(),
            ),
        }
    }

    /// Each polled account once, under its label as the latest poll of any
    /// of its targets said it (STS's answer), else the role's account.
    fn account_infos(
        state: &State,
        targets: &[TargetAccount],
    ) -> BTreeMap<String, crate::render::AccountInfo> {
        let mut said: BTreeMap<usize, &str> = BTreeMap::new();
        for ((_, target), status) in &state.statuses {
            if status.scope.account != "unknown" {
                said.insert(*target, &status.scope.account);
            }
        }
        // A target whose account STS has not told yet (ambient credentials,
        // before their first poll) is named once it is: an `unknown`
        // account is nobody's name.
        targets
            .iter()
            .enumerate()
            .filter(|(i, t)| said.contains_key(i) || t.fallback != "unknown")
            .map(|(i, t)| {
                let label = said
                    .get(&i)
                    .map_or_else(|| t.fallback.clone(), |a| (*a).to_owned());
                let info = crate::render::AccountInfo {
                    name: t.name.clone(),
                    source: t.source,
                    tags: t.tags.clone(),
                };
                (label, info)
            })
            .collect()
    }

    /// The enabled collectors that have not succeeded for `target` yet, and why.
    fn unavailable(state: &State, target: usize) -> BTreeMap<&'static str, String> {
        state
            .enabled
            .iter()
            .filter(|&&c| {
                state
                    .statuses
                    .get(&(c, target))
                    .is_none_or(|s| s.last_success.is_none())
            })
            .map(|&c| {
                let why = state.failures.get(&(c, target)).map_or_else(
                    || "its first poll has not finished".to_owned(),
                    |failure| format!("it fails: {failure}"),
                );
                (c, why)
            })
            .collect()
    }

    /// Publishes what the store holds now: a snapshot taken under the lock,
    /// then, outside it, the scopes whose data changed diagnosed once and
    /// rendered from those findings (the others keep their parts); the
    /// exposition and the findings are swapped in together, every scope
    /// rendered. `once`, `diagnose` and the tests call it; `serve` leaves
    /// publishing to the publisher, which renders within its budget.
    pub fn publish(&self) -> Arc<Published> {
        self.publish_if(true, None)
            .unwrap_or_else(|| self.published())
    }

    /// One publish as the publisher makes it: the scopes due to be rendered,
    /// within [`RENDER_BUDGET`] (see `scopes_pending`).
    pub fn publish_step(&self) -> Arc<Published> {
        self.publish_if(true, Some(RENDER_BUDGET))
            .unwrap_or_else(|| self.published())
    }

    /// Publishes, unless `always` is false and nothing changed since the
    /// latest publish (a signal that came in while it was being made), or a
    /// reload is under way: then `None`. Scopes left over by the `budget`
    /// make the next publish due.
    fn publish_if(&self, always: bool, budget: Option<Duration>) -> Option<Arc<Published>> {
        let mut publishing = self.publishing.lock_or_recover();
        let started = std::time::Instant::now();
        let (snapshot, ready, changes) = {
            let mut state = self.lock();
            let reloading = self.reloading.load(Ordering::SeqCst);
            if !always && (reloading || publishing.shown == Some(state.changes)) {
                return None;
            }
            (
                self.snapshot_of(&mut state),
                self.ready.load(Ordering::SeqCst),
                state.changes,
            )
        };
        publishing.count += 1;
        publishing.shown = Some(changes);
        let stats = PublishStats {
            publishes: publishing.count,
            previous_duration: publishing.last_duration,
            // Counted by the parts.
            scope_renders: 0,
        };
        // Each changed scope's paths resolved once, diagnosed once, and
        // rendered from those findings; the others keep their parts.
        let rendered =
            publishing
                .parts
                .render(&snapshot, stats, &self.build, &self.telemetry, budget);
        if rendered.scopes_pending > 0 {
            publishing.shown = None;
        }
        let published = Arc::new(Published {
            exposition: rendered.exposition,
            findings: Findings {
                links_by_scope: rendered.links_by_scope,
                at: Some(SystemTime::now()),
                // Ready once every collector's first poll is shown: every
                // scope rendered from it.
                ready: ready && rendered.scopes_pending == 0,
            },
            scopes_rendered: rendered.scopes_rendered,
            scopes_pending: rendered.scopes_pending,
        });
        self.published.store(published.clone());
        publishing.last_duration = started.elapsed();
        Some(published)
    }

    /// The publisher: after each change, waits `debounce` for the changes
    /// that follow (a round of collectors finishing together), then
    /// publishes, on a blocking thread so that no scrape waits behind the
    /// rendering, within the render budget, again at once while scopes are
    /// left over; a signal that arrived while it waited, and changed nothing
    /// since, publishes nothing more. Runs as long as the runtime.
    pub async fn run_publisher(self: Arc<Self>, debounce: Duration) {
        let mut pending = false;
        loop {
            if !pending {
                self.changed.notified().await;
                tokio::time::sleep(debounce).await;
            }
            let store = self.clone();
            match tokio::task::spawn_blocking(move || {
                let published = store.publish_if(false, Some(RENDER_BUDGET));
                if published.is_some() {
                    crate::process::release_free_memory();
                }
                published
            })
            .await
            {
                Ok(published) => pending = published.is_some_and(|p| p.scopes_pending > 0),
                Err(_) => {
                    pending = false;
                    tracing::error!("publishing the exposition panicked; the previous one is kept");
                }
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock_or_recover()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{scope, scope_in, vpc_link as link};

    /// Publishes what the store holds and returns the exposition.
    fn text(store: &Store) -> String {
        String::from_utf8(store.publish().exposition.to_vec().unwrap()).unwrap()
    }

    /// A reload re-keys what the store knows by target, forgets targets no
    /// longer configured, and drops a late record of the old configuration.
    #[test]
    fn a_reload_moves_targets_and_drops_late_records() {
        let store = Store::new(ApiTelemetry::default());
        store.expect_collectors(&["vpc_links"], 2);
        let old = store.generation();
        for (target, id) in [(0, "gone"), (1, "kept")] {
            store.record_success(
                old,
                "vpc_links",
                target,
                scope(),
                Fragment::VpcLinks(vec![link(id)], vec![], Default::default()),
                Duration::from_millis(5),
            );
        }
        let new = store.next_generation();
        assert_ne!(new, old);
        // A poll of the old configuration finishing now writes nothing.
        assert!(!store.record_success(
            old,
            "vpc_links",
            0,
            scope(),
            Fragment::VpcLinks(vec![link("late")], vec![], Default::default()),
            Duration::from_millis(5),
        ));
        store.retarget(&BTreeMap::from([(1, 0)]));
        let ids = |target| -> Vec<String> {
            store
                .inventory(target)
                .vpc_links
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|l| l.id)
                .collect()
        };
        assert_eq!(ids(0), ["kept"]);
        assert!(ids(1).is_empty());
        let t = text(&store);
        assert!(
            !t.contains("vpc_link_id=\"gone\"") && !t.contains("vpc_link_id=\"late\""),
            "{t}"
        );
    }

    /// A store expecting `collectors` in one scope, whose `vpc_links` found one link.
    fn store_with_link(collectors: &[&'static str], id: &str) -> Arc<Store> {
        let store = Store::new(ApiTelemetry::default());
        store.expect_collectors(collectors, 1);
        store.record_success(
            store.generation(),
            "vpc_links",
            0,
            scope(),
            Fragment::VpcLinks(vec![link(id)], vec![], Default::default()),
            Duration::ZERO,
        );
        store
    }

    /// Between a reload's new generation and its re-keyed targets the
    /// publisher publishes nothing (the new collector list beside the old
    /// data would show checks unknown that are not).
    #[test]
    fn the_publisher_waits_out_a_reload() {
        let store = store_with_link(&["vpc_links"], "kept");
        let count = |p: &Published| {
            String::from_utf8_lossy(&p.exposition.to_vec().unwrap())
                .lines()
                .find_map(|l| l.strip_prefix("awsconn_exposition_publishes_total "))
                .map(str::to_owned)
        };
        store.next_generation();
        store.expect_collectors(&["vpc_links", "interconnect"], 1);
        assert!(store.publish_if(false, None).is_none(), "waits");
        store.retarget(&BTreeMap::from([(0, 0)]));
        let published = store.publish_if(false, None).unwrap();
        assert_eq!(count(&published).as_deref(), Some("2"));
        assert!(store.publish_if(false, None).is_none(), "no change since");
    }

    /// A collector disabled by a reload takes its part of the inventory
    /// with it, and only its part.
    #[test]
    fn a_collector_disabled_by_a_reload_is_forgotten() {
        let store = store_with_link(&["vpc_links", "interconnect"], "kept");
        let g = store.generation();
        store.record_success(
            g,
            "interconnect",
            0,
            scope(),
            Fragment::Interconnect(Default::default()),
            Duration::ZERO,
        );
        assert!(store.inventory(0).interconnect.is_some());
        store.expect_collectors(&["vpc_links"], 1);
        store.retarget(&BTreeMap::from([(0, 0)]));
        let inventory = store.inventory(0);
        assert!(inventory.interconnect.is_none());
        assert_eq!(inventory.vpc_links.as_ref().unwrap()[0].id, "kept");
    }

    #[test]
    fn a_failure_keeps_the_last_good_data() {
        let store = Store::new(ApiTelemetry::default());
        store.expect_collectors(&["vpc_links"], 1);
        assert!(!store.is_ready());
        store.record_success(
            0,
            "vpc_links",
            0,
            scope(),
            Fragment::VpcLinks(vec![link("abc")], vec![], Default::default()),
            Duration::from_millis(5),
        );
        assert!(!store.is_ready(), "not before the poll is published");
        assert!(text(&store).contains("awsconn_vpc_link_info{account=\"123456789012\",region=\"us-east-1\",vpc_link_id=\"abc\""));
        assert!(store.is_ready());
        assert!(store.record_failure(0, "vpc_links", 0, scope(), Duration::from_secs(1), "denied"));
        assert!(!store.record_failure(
            0,
            "vpc_links",
            0,
            scope(),
            Duration::from_secs(1),
            "denied"
        ));
        assert!(store.record_failure(
            0,
            "vpc_links",
            0,
            scope(),
            Duration::from_secs(1),
            "refused"
        ));
        let after = text(&store);
        assert!(after.contains("vpc_link_id=\"abc\""), "{after}");
        assert!(after.contains("awsconn_collector_success{collector=\"vpc_links\",account=\"123456789012\",region=\"us-east-1\"} 0"), "{after}");
        assert!(
            after.contains(
                "awsconn_collector_last_success_timestamp_seconds{collector=\"vpc_links\""
            ),
            "{after}"
        );
    }

    /// A round of records (7 collectors × 2 scopes, as fast as they come)
    /// is one publish, not fourteen, and the exposition says how many.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_publisher_coalesces_a_round_into_one_publish() {
        let store = Store::new(ApiTelemetry::default());
        let names = ["a", "b", "c", "d", "e", "f", "g"];
        store.expect_collectors(&names, 2);
        tokio::spawn(store.clone().run_publisher(Duration::from_millis(500)));
        let g = store.generation();
        for target in 0..2 {
            for name in names {
                store.record_failure(g, name, target, scope(), Duration::ZERO, "denied");
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !store.is_ready() {
            assert!(std::time::Instant::now() < deadline, "never published");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Past two more pauses: the signals that came in during the first
        // changed nothing more, and publish nothing more.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let text = String::from_utf8(store.published().exposition.to_vec().unwrap()).unwrap();
        // The store's first publish (build info alone), then the round.
        assert!(
            text.contains("awsconn_exposition_publishes_total 2\n"),
            "{text}"
        );
        assert_eq!(text.matches("awsconn_collector_polls_total{").count(), 14);
    }

    /// A publish renders only the scopes whose data changed; the others
    /// keep their part, and the exposition reads as if all were rendered.
    #[test]
    fn a_publish_renders_only_the_scopes_that_changed() {
        let store = Store::new(ApiTelemetry::default());
        store.expect_collectors(&["vpc_links"], 2);
        let record = |target: usize, id: &str| {
            store.record_success(
                store.generation(),
                "vpc_links",
                target,
                scope_in(["us-east-1", "eu-west-1"][target]),
                Fragment::VpcLinks(vec![link(id)], vec![], Default::default()),
                Duration::ZERO,
            );
        };
        record(0, "east");
        record(1, "west");
        assert_eq!(store.publish().scopes_rendered, 2);
        // Both polled again: one found the same, one a new link.
        record(0, "east");
        record(1, "west2");
        let published = store.publish();
        assert_eq!(published.scopes_rendered, 1, "only the scope that changed");
        let text = String::from_utf8(published.exposition.to_vec().unwrap()).unwrap();
        assert!(text.contains("vpc_link_id=\"east\""), "{text}");
        assert!(text.contains("vpc_link_id=\"west2\""), "{text}");
        assert!(!text.contains("vpc_link_id=\"west\""), "{text}");
        assert_eq!(
            text.matches("# TYPE awsconn_vpc_link_info gauge").count(),
            1
        );
        assert!(
            text.contains("awsconn_exposition_scope_renders_total 3\n"),
            "{text}"
        );
        let ids: Vec<&str> = published
            .findings
            .links()
            .map(|v| v.report.vpc_link_id.as_str())
            .collect();
        assert_eq!(ids, ["west2", "east"], "scope order: eu-west-1 first");
        // Nothing new: nothing rendered, the same text but for the self-metrics.
        let again = store.publish();
        assert_eq!(again.scopes_rendered, 0);
        let scoped = |p: &Published| {
            String::from_utf8(p.exposition.to_vec().unwrap())
                .unwrap()
                .lines()
                .filter(|l| l.contains("vpc_link"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        assert_eq!(scoped(&again), scoped(&published));
        // A failed poll leaves the last good data standing: nothing to render.
        store.record_failure(
            store.generation(),
            "vpc_links",
            1,
            scope_in("eu-west-1"),
            Duration::ZERO,
            "denied",
        );
        assert_eq!(store.publish().scopes_rendered, 0);
        // A reload renders every scope again.
        store.next_generation();
        store.retarget(&BTreeMap::from([(0, 0), (1, 1)]));
        assert_eq!(store.publish().scopes_rendered, 2);
    }

    /// The publisher renders within its budget: scopes left over keep
    /// their previous part, are pending, and the store is not ready until
    /// every scope is rendered. (A spent budget still renders one scope.)
    #[test]
    fn a_publish_within_the_budget_leaves_the_rest_for_the_next() {
        let store = Store::new(ApiTelemetry::default());
        let scopes = 5;
        store.expect_collectors(&["vpc_links"], scopes);
        let record = |target: usize, id: &str| {
            store.record_success(
                store.generation(),
                "vpc_links",
                target,
                Scope {
                    account: format!("{}", 100_000_000_000u64 + target as u64),
                    region: "us-east-1".into(),
                },
                Fragment::VpcLinks(vec![link(id)], vec![], Default::default()),
                Duration::ZERO,
            );
        };
        for target in 0..scopes {
            record(target, "old");
        }
        let step = || store.publish_if(true, Some(Duration::ZERO)).unwrap();
        for shown in 1..=scopes {
            let published = step();
            assert_eq!(published.scopes_rendered, 1);
            assert_eq!(published.scopes_pending, scopes - shown);
            assert_eq!(published.findings.links().count(), shown);
            assert_eq!(published.findings.ready, shown == scopes);
        }
        // Every scope changed: until rendered, each shows its previous part.
        for target in 0..scopes {
            record(target, "new");
        }
        let published = step();
        let ids: Vec<&str> = published
            .findings
            .links()
            .map(|v| v.report.vpc_link_id.as_str())
            .collect();
        assert_eq!(ids, ["new", "old", "old", "old", "old"]);
        assert!(!published.findings.ready);
        // A poll count shown comes with that poll's data: 2 for the scope
        // rendered anew, still 1 for the others.
        let text = String::from_utf8(published.exposition.to_vec().unwrap()).unwrap();
        let polls: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("awsconn_collector_polls_total{"))
            .map(|l| l.rsplit(' ').next().unwrap())
            .collect();
        assert_eq!(polls.len(), scopes, "{text}");
        assert_eq!(polls.iter().filter(|&&n| n == "2").count(), 1, "{text}");
        while step().scopes_pending > 0 {}
        assert!(store.is_ready());
    }

    /// What the checks say of a collector that never succeeded names its
    /// failure: a new failure renders the scope again, a repeat does not.
    #[test]
    fn a_new_reason_for_missing_data_renders_the_scope_again() {
        let store = store_with_link(&["vpc_links", "load_balancers"], "link");
        let fail = |why: &str| {
            let g = store.generation();
            store.record_failure(g, "load_balancers", 0, scope(), Duration::ZERO, why);
        };
        fail("denied");
        assert_eq!(store.publish().scopes_rendered, 1);
        fail("denied");
        assert_eq!(store.publish().scopes_rendered, 0);
        fail("throttled");
        let published = store.publish();
        assert_eq!(published.scopes_rendered, 1);
        let unknown = published
            .findings
            .links()
            .flat_map(|v| &v.report.checks)
            .find(|c| c.unknown == Some("load_balancers"))
            .unwrap()
            .cause
            .clone()
            .unwrap();
        assert!(unknown.contains("throttled"), "{unknown}");
    }

    #[test]
    fn a_failure_before_any_success_has_no_last_success() {
        let store = Store::new(ApiTelemetry::default());
        store.record_failure(0, "vpc_links", 0, scope(), Duration::from_secs(1), "denied");
        let t = text(&store);
        assert!(
            t.contains("awsconn_collector_success{collector=\"vpc_links\""),
            "{t}"
        );
        assert!(
            !t.contains("awsconn_collector_last_success_timestamp_seconds{"),
            "{t}"
        );
    }
}
