//! The publisher: it owns what it publishes. It takes a snapshot of the
//! [`Store`] when the store signals a change (coalescing a round of polls),
//! diagnoses and renders outside the store's lock (only the scopes whose
//! data changed: see [`super::publish`]), and swaps the exposition and the
//! findings in together, as one [`Published`]. Scrapes and `/links` read
//! that through an atomic swap: they never wait on AWS, on a poll, nor on a
//! publish in progress, and never see the exposition of one publish beside
//! the findings of another.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use super::Store;
use super::publish::{Parts, RENDER_BUDGET};
use super::store::Taken;
use crate::diagnose::LinkView;
use crate::exposition::Exposition;
use crate::lock::LockOrRecover;
use crate::render::{BuildInfo, PublishStats};

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

/// Publishes what a [`Store`] holds: see the module's opening.
pub struct Publisher {
    store: Arc<Store>,
    build: BuildInfo,
    published: ArcSwap<Published>,
    /// Held while a publish renders, so two publishes never race to swap an
    /// older snapshot over a newer one; it counts them, times the last,
    /// remembers which change it showed, and keeps the scopes' parts.
    publishing: Mutex<Publishing>,
}

impl Publisher {
    /// A publisher of `store`, with a first publish made (the build info
    /// and whatever the store holds).
    pub fn new(store: Arc<Store>) -> Arc<Publisher> {
        let publisher = Arc::new(Publisher {
            store,
            build: BuildInfo::current(),
            published: ArcSwap::from_pointee(Published::default()),
            publishing: Mutex::new(Publishing::default()),
        });
        publisher.publish();
        publisher
    }

    /// The store it publishes.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
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

    /// Publishes what the store holds now: a snapshot taken under the lock,
    /// then, outside it, the scopes whose data changed diagnosed once and
    /// rendered from those findings (the others keep their parts); the
    /// exposition and the findings are swapped in together, every scope
    /// rendered. `once`, `diagnose` and the tests call it; `serve` leaves
    /// publishing to [`Publisher::run`], which renders within its budget.
    pub fn publish(&self) -> Arc<Published> {
        self.publish_if(true, None)
            .unwrap_or_else(|| self.published())
    }

    /// One publish as the publisher makes it: the scopes due to be rendered,
    /// within `RENDER_BUDGET` (see `scopes_pending`).
    pub fn publish_step(&self) -> Arc<Published> {
        self.publish_if(true, Some(RENDER_BUDGET))
            .unwrap_or_else(|| self.published())
    }

    /// Publishes at once, within the render budget (a reload's outcome,
    /// read in the very next scrape); the scopes left over follow as the
    /// publisher goes.
    pub fn publish_now(&self) {
        if self.publish_step().scopes_pending > 0 {
            self.store.signal();
        }
    }

    /// Publishes, unless `always` is false and nothing changed since the
    /// latest publish (a signal that came in while it was being made), or a
    /// reload is under way: then `None`. Scopes left over by the `budget`
    /// make the next publish due.
    fn publish_if(&self, always: bool, budget: Option<Duration>) -> Option<Arc<Published>> {
        let mut publishing = self.publishing.lock_or_recover();
        let started = std::time::Instant::now();
        let Taken {
            snapshot,
            ready,
            changes,
        } = self.store.take(always, publishing.shown)?;
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
        let rendered = publishing.parts.render(
            &snapshot,
            stats,
            &self.build,
            self.store.telemetry(),
            budget,
        );
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
    pub async fn run(self: Arc<Self>, debounce: Duration) {
        let mut pending = false;
        loop {
            if !pending {
                self.store.changed().await;
                tokio::time::sleep(debounce).await;
            }
            let publisher = self.clone();
            match tokio::task::spawn_blocking(move || {
                let published = publisher.publish_if(false, Some(RENDER_BUDGET));
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ApiTelemetry;
    use crate::collect::Fragment;
    use crate::inventory::Scope;
    use crate::testkit::{scope, scope_in, store_with_link, vpc_link as link};
    use std::collections::BTreeMap;

    /// Between a reload's new generation and its re-keyed targets the
    /// publisher publishes nothing (the new collector list beside the old
    /// data would show checks unknown that are not).
    #[test]
    fn the_publisher_waits_out_a_reload() {
        let store = store_with_link(&["vpc_links"], "kept");
        let publisher = Publisher::new(store.clone());
        let count = |p: &Published| {
            String::from_utf8_lossy(&p.exposition.to_vec().unwrap())
                .lines()
                .find_map(|l| l.strip_prefix("awsconn_exposition_publishes_total "))
                .map(str::to_owned)
        };
        store.next_generation();
        store.expect_collectors(&["vpc_links", "interconnect"], 1);
        assert!(publisher.publish_if(false, None).is_none(), "waits");
        store.retarget(&BTreeMap::from([(0, 0)]));
        let published = publisher.publish_if(false, None).unwrap();
        assert_eq!(count(&published).as_deref(), Some("2"));
        assert!(
            publisher.publish_if(false, None).is_none(),
            "no change since"
        );
    }

    /// A round of records (7 collectors × 2 scopes, as fast as they come)
    /// is one publish, not fourteen, and the exposition says how many.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_publisher_coalesces_a_round_into_one_publish() {
        let store = Store::new(ApiTelemetry::default());
        let publisher = Publisher::new(store.clone());
        let names = ["a", "b", "c", "d", "e", "f", "g"];
        store.expect_collectors(&names, 2);
        tokio::spawn(publisher.clone().run(Duration::from_millis(500)));
        let g = store.generation();
        for target in 0..2 {
            for name in names {
                store.record_failure(g, name, target, scope(), Duration::ZERO, "denied");
            }
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !publisher.is_ready() {
            assert!(std::time::Instant::now() < deadline, "never published");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Past two more pauses: the signals that came in during the first
        // changed nothing more, and publish nothing more.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let text = String::from_utf8(publisher.published().exposition.to_vec().unwrap()).unwrap();
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
        let publisher = Publisher::new(store.clone());
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
        assert_eq!(publisher.publish().scopes_rendered, 2);
        // Both polled again: one found the same, one a new link.
        record(0, "east");
        record(1, "west2");
        let published = publisher.publish();
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
        let again = publisher.publish();
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
        assert_eq!(publisher.publish().scopes_rendered, 0);
        // A reload renders every scope again.
        store.next_generation();
        store.retarget(&BTreeMap::from([(0, 0), (1, 1)]));
        assert_eq!(publisher.publish().scopes_rendered, 2);
    }

    /// The publisher renders within its budget: scopes left over keep
    /// their previous part, are pending, and the store is not ready until
    /// every scope is rendered. (A spent budget still renders one scope.)
    #[test]
    fn a_publish_within_the_budget_leaves_the_rest_for_the_next() {
        let store = Store::new(ApiTelemetry::default());
        let publisher = Publisher::new(store.clone());
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
        let step = || publisher.publish_if(true, Some(Duration::ZERO)).unwrap();
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
        assert!(publisher.is_ready());
    }

    /// What the checks say of a collector that never succeeded names its
    /// failure: a new failure renders the scope again, a repeat does not.
    #[test]
    fn a_new_reason_for_missing_data_renders_the_scope_again() {
        let store = store_with_link(&["vpc_links", "load_balancers"], "link");
        let publisher = Publisher::new(store.clone());
        let fail = |why: &str| {
            let g = store.generation();
            store.record_failure(g, "load_balancers", 0, scope(), Duration::ZERO, why);
        };
        fail("denied");
        assert_eq!(publisher.publish().scopes_rendered, 1);
        fail("denied");
        assert_eq!(publisher.publish().scopes_rendered, 0);
        fail("throttled");
        let published = publisher.publish();
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
}
