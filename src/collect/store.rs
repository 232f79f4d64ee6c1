//! The last good data of every collector and scope: collectors record
//! their outcome (a fragment of the inventory, or a failure) and signal;
//! the [`Publisher`](super::Publisher) waits on that signal and takes a
//! snapshot ([`Store::take`]) under the lock. The store keeps the statuses,
//! what each target's inventory does not know yet and why, the accounts,
//! the reloads, and the configuration's generation (so that a late poll of
//! an old configuration writes nothing).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use super::collector::Fragment;
use crate::aws::ApiTelemetry;
use crate::inventory::{Inventory, Scope};
use crate::lock::LockOrRecover;
use crate::render::{CollectorStatus, ReloadStatus, Snapshot};

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

/// A snapshot of the store for a publish (see [`Store::take`]).
pub(super) struct Taken {
    pub snapshot: Snapshot,
    /// Whether every (collector, target) pair had reported.
    pub ready: bool,
    /// The store's change count it shows.
    pub changes: u64,
}

/// The failure name of a poll cancelled at its timeout.
pub const TIMEOUT: &str = "timeout";

pub struct Store {
    state: Mutex<State>,
    reload: Mutex<ReloadStatus>,
    /// Signalled by every record; the publisher waits on it. A signal sent
    /// while nobody waits is kept, so none is lost, and many coalesce.
    changed: tokio::sync::Notify,
    telemetry: ApiTelemetry,
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
    /// An empty store; a [`Publisher`](super::Publisher) publishes what it
    /// comes to hold.
    pub fn new(telemetry: ApiTelemetry) -> Arc<Store> {
        Arc::new(Store {
            state: Mutex::new(State::default()),
            reload: Mutex::new(ReloadStatus {
                last_success: SystemTime::now(),
                ..ReloadStatus::default()
            }),
            changed: tokio::sync::Notify::new(),
            telemetry,
            expected_runs: AtomicUsize::new(usize::MAX),
            ready: AtomicBool::new(false),
            per_target_health: AtomicBool::new(false),
            reloading: AtomicBool::new(false),
            diagnosis: Mutex::default(),
            shard: Mutex::default(),
            accounts: Mutex::default(),
        })
    }

    /// What a publish is made from, taken under the lock: `None` when
    /// `always` is false and nothing changed since the change count `shown`
    /// (a signal that came in while the last publish was being made), or
    /// a reload is under way.
    pub(super) fn take(&self, always: bool, shown: Option<u64>) -> Option<Taken> {
        let mut state = self.lock();
        let reloading = self.reloading.load(Ordering::SeqCst);
        if !always && (reloading || shown == Some(state.changes)) {
            return None;
        }
        Some(Taken {
            snapshot: self.snapshot_of(&mut state),
            ready: self.ready.load(Ordering::SeqCst),
            changes: state.changes,
        })
    }

    /// Signals a change: the publisher publishes again.
    pub(super) fn signal(&self) {
        self.changed.notify_one();
    }

    /// Returns after the next change (at once if one came in since the
    /// last call): what the publisher waits on.
    pub(super) async fn changed(&self) {
        self.changed.notified().await;
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
    /// it changed anything; and when it worked): the caller publishes it at
    /// once ([`Publisher::publish_now`](super::Publisher::publish_now)).
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
            for d in super::registry::COLLECTORS
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

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock_or_recover()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::Publisher;
    use crate::testkit::{scope, store_with_link, vpc_link as link};
    /// Publishes what the store holds and returns the exposition.
    fn text(publisher: &Publisher) -> String {
        String::from_utf8(publisher.publish().exposition.to_vec().unwrap()).unwrap()
    }

    /// A reload re-keys what the store knows by target, forgets targets no
    /// longer configured, and drops a late record of the old configuration.
    #[test]
    fn a_reload_moves_targets_and_drops_late_records() {
        let store = Store::new(ApiTelemetry::default());
        let publisher = Publisher::new(store.clone());
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
        let t = text(&publisher);
        assert!(
            !t.contains("vpc_link_id=\"gone\"") && !t.contains("vpc_link_id=\"late\""),
            "{t}"
        );
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
        let publisher = Publisher::new(store.clone());
        store.expect_collectors(&["vpc_links"], 1);
        assert!(!publisher.is_ready());
        store.record_success(
            0,
            "vpc_links",
            0,
            scope(),
            Fragment::VpcLinks(vec![link("abc")], vec![], Default::default()),
            Duration::from_millis(5),
        );
        assert!(!publisher.is_ready(), "not before the poll is published");
        assert!(text(&publisher).contains("awsconn_vpc_link_info{account=\"123456789012\",region=\"us-east-1\",vpc_link_id=\"abc\""));
        assert!(publisher.is_ready());
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
        let after = text(&publisher);
        assert!(after.contains("vpc_link_id=\"abc\""), "{after}");
        assert!(after.contains("awsconn_collector_success{collector=\"vpc_links\",account=\"123456789012\",region=\"us-east-1\"} 0"), "{after}");
        assert!(
            after.contains(
                "awsconn_collector_last_success_timestamp_seconds{collector=\"vpc_links\""
            ),
            "{after}"
        );
    }

    #[test]
    fn a_failure_before_any_success_has_no_last_success() {
        let store = Store::new(ApiTelemetry::default());
        let publisher = Publisher::new(store.clone());
        store.record_failure(0, "vpc_links", 0, scope(), Duration::from_secs(1), "denied");
        let t = text(&publisher);
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
