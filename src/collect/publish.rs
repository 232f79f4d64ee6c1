//! The rendering of one publish. Each account×region scope is its own
//! part: topology, one diagnosis, its collectors' families and its checks,
//! encoded. A scope whose data has not changed since it was last rendered
//! keeps its part, so a publish costs what changed, not the whole
//! organisation; the exporter's own families (statuses, self-metrics) are
//! rendered every time. The parts are joined into one exposition, and their
//! findings set beside it.
//!
//! The publisher renders within [`RENDER_BUDGET`]: when more scopes changed
//! than fit (the first polls, a reload), the rest keep their previous part
//! for one more publish, which follows at once. No publish then takes long,
//! and the exposition being served is never held beside a whole new one.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;

use crate::aws::ApiTelemetry;
use crate::diagnose::{self, LinkView};
use crate::exposition::{Encoded, Exposition};
use crate::inventory::{Inventory, Scope};
use crate::render::{self, BuildInfo, CollectorStatus, PublishStats, Snapshot};
use crate::topology::Topology;

/// A scope whose data has not changed is still rendered again once a
/// minute, so that what its checks read off the clock (the TLS-error window,
/// idle seconds) moves on. Each scope has its own moment in the minute
/// ([`due_after`]): unchanged scopes are rendered a few at a time, never
/// all in one publish.
const RERENDER_EVERY_MS: i64 = 60_000;

/// How long the publisher renders scopes in one publish (one scope at the
/// least): a few dozen scopes of an organisation.
pub const RENDER_BUDGET: Duration = Duration::from_millis(10);

/// One scope rendered: its links' findings and its encoded families.
#[derive(Debug, Default)]
struct ScopePart {
    links: Arc<[LinkView]>,
    encoded: Encoded,
}

/// Renders one scope: its paths resolved once, diagnosed once, and the
/// families of its collectors and checks encoded from those findings.
fn render_scope_part(scope: &Scope, inventory: &Inventory, snapshot: &Snapshot) -> ScopePart {
    let topology = Topology::build(inventory);
    let links = diagnose::views([(scope, &topology)], &snapshot.diagnosis);
    let families = render::scope_families(
        scope,
        &topology,
        links.iter().map(|v| &v.report),
        |f, scope, topology| super::render_scope(f, scope, topology, snapshot),
    );
    let dynamic = render::dynamic_families(scope, inventory);
    ScopePart {
        links: links.into(),
        encoded: families.encode(&dynamic),
    }
}

/// What a scope's part was rendered from: the same key, the same part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    /// The store's revision of the scope's data.
    revision: u64,
    per_target_health: bool,
    /// The checks' windows.
    settings: crate::diagnose::Clock,
}

struct Cached {
    key: Key,
    /// The scope's collector statuses as they were then: a scope left for
    /// the next publish shows these beside its part, so that a poll count
    /// shown always comes with that poll's data.
    statuses: Vec<CollectorStatus>,
    rendered_at_ms: i64,
    /// When it is rendered again even if its data stays (the clock moved).
    due_ms: i64,
    part: Arc<ScopePart>,
}

/// The next moment after `now_ms` at which `scope` is rendered for the
/// clock: its own phase of the minute, from a hash of its labels.
fn due_after(scope: &Scope, now_ms: i64) -> i64 {
    let mut hasher = std::hash::DefaultHasher::new();
    scope.hash(&mut hasher);
    let phase = (hasher.finish() % RERENDER_EVERY_MS as u64) as i64;
    let into_period = (now_ms - phase).rem_euclid(RERENDER_EVERY_MS);
    now_ms - into_period + RERENDER_EVERY_MS
}

/// The scopes' parts as last rendered, and how many renders there were.
#[derive(Default)]
pub struct Parts {
    by_scope: HashMap<Scope, Cached>,
    renders: u64,
}

/// What one publish renders: the exposition and the findings.
pub struct Rendered {
    pub exposition: Exposition,
    /// Each scope's links, in scope order.
    pub links_by_scope: Vec<Arc<[LinkView]>>,
    /// Scopes rendered by this publish (the others kept their parts).
    pub scopes_rendered: usize,
    /// Scopes due to be rendered that did not fit in the budget: another
    /// publish is needed.
    pub scopes_pending: usize,
}

impl Parts {
    /// Renders the scopes of `snapshot` whose part is missing, due for the
    /// clock or rendered from other data, keeps the others, forgets scopes
    /// that are gone, and joins the exposition: the exporter's own families
    /// and the API-call telemetry first, then every scope's. The renders
    /// are counted into `stats.scope_renders`. With a `budget`, it stops
    /// rendering once the budget is spent: scopes without a part first,
    /// then those whose data changed, then those due for the clock.
    pub fn render(
        &mut self,
        snapshot: &Snapshot,
        stats: PublishStats,
        build: &BuildInfo,
        telemetry: &ApiTelemetry,
        budget: Option<Duration>,
    ) -> Rendered {
        let started = Instant::now();
        let now = snapshot.diagnosis.now_ms;
        let key_of = |scope: &Scope| {
            snapshot.revisions.get(scope).map(|&revision| Key {
                revision,
                per_target_health: snapshot.per_target_health,
                settings: snapshot.diagnosis.settings(),
            })
        };
        self.by_scope
            .retain(|scope, _| snapshot.inventories.contains_key(scope));
        // Why each scope must be rendered, most urgent first: no part yet,
        // other data, the clock (set back too: its checks judged a time
        // that has not come).
        let mut stale: Vec<(u8, &Scope, &Inventory)> = snapshot
            .inventories
            .iter()
            .filter_map(|(scope, inventory)| {
                let key = key_of(scope);
                let urgency = match self.by_scope.get(scope) {
                    None => 0,
                    Some(cached) if key != Some(cached.key) => 1,
                    Some(cached) if now >= cached.due_ms || now < cached.rendered_at_ms => 2,
                    Some(_) => return None,
                };
                Some((urgency, scope, &**inventory))
            })
            .collect();
        stale.sort_by_key(|(urgency, _, _)| *urgency);
        let mut fresh: HashMap<&Scope, Arc<ScopePart>> = HashMap::new();
        let mut statuses_of: HashMap<&Scope, Vec<CollectorStatus>> = HashMap::new();
        if !stale.is_empty() {
            for status in &snapshot.statuses {
                statuses_of
                    .entry(&status.scope)
                    .or_default()
                    .push(status.clone());
            }
        }
        let mut scopes_rendered = 0;
        // One thread: on two cores, rendering scopes in parallel cost a
        // third more CPU per link than it saved in time.
        for &(_, scope, inventory) in &stale {
            if scopes_rendered > 0 && budget.is_some_and(|b| started.elapsed() >= b) {
                break;
            }
            scopes_rendered += 1;
            let part = Arc::new(render_scope_part(scope, inventory, snapshot));
            // Data without a revision (built by hand, not recorded by the
            // store) is rendered every time, never kept.
            if let Some(key) = key_of(scope) {
                let cached = Cached {
                    key,
                    statuses: statuses_of.remove(scope).unwrap_or_default(),
                    rendered_at_ms: now,
                    due_ms: due_after(scope, now),
                    part: part.clone(),
                };
                self.by_scope.insert(scope.clone(), cached);
            }
            fresh.insert(scope, part);
        }
        self.renders += scopes_rendered as u64;
        let stats = PublishStats {
            scope_renders: self.renders,
            ..stats
        };
        // Statuses as of each scope's part: now, but for a scope left for
        // the next publish, as of its last render (none if it has no part
        // yet: it is not shown at all).
        let left: HashMap<&Scope, &[CollectorStatus]> = stale[scopes_rendered..]
            .iter()
            .map(|(_, scope, _)| {
                let then = self
                    .by_scope
                    .get(*scope)
                    .map_or(&[][..], |c| &c.statuses[..]);
                (*scope, then)
            })
            .collect();
        let statuses = snapshot
            .statuses
            .iter()
            .filter(|s| !left.contains_key(&s.scope))
            .chain(left.values().flat_map(|statuses| statuses.iter()));
        let own = render::exporter_families(snapshot, statuses, &stats, build).encode(&[]);
        let mut registry = Registry::default();
        telemetry.register(&mut registry);
        let telemetry = render::encode_registry(&registry);
        let parts: Vec<Arc<ScopePart>> = snapshot
            .inventories
            .keys()
            .filter_map(|scope| {
                fresh
                    .get(scope)
                    .or_else(|| self.by_scope.get(scope).map(|c| &c.part))
                    .cloned()
            })
            .collect();
        let exposition = Exposition::assemble(
            [&own, &telemetry]
                .into_iter()
                .chain(parts.iter().map(|p| &p.encoded)),
        );
        Rendered {
            exposition,
            links_by_scope: parts.iter().map(|p| p.links.clone()).collect(),
            scopes_rendered,
            scopes_pending: stale.len() - scopes_rendered,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    /// A snapshot of `n` scopes, each with one link, recorded at revision 1.
    fn snapshot(n: usize, now_ms: i64) -> Snapshot {
        let scopes: Vec<Scope> = (0..n)
            .map(|i| Scope {
                account: format!("{}", 100_000_000_000u64 + i as u64),
                region: "us-east-1".into(),
            })
            .collect();
        let inventory = Arc::new(Inventory {
            vpc_links: Some(vec![testkit::vpc_link("link")]),
            ..Default::default()
        });
        Snapshot {
            inventories: scopes
                .iter()
                .map(|s| (s.clone(), inventory.clone()))
                .collect(),
            revisions: scopes.iter().map(|s| (s.clone(), 1)).collect(),
            diagnosis: diagnose::Clock {
                now_ms,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn render(parts: &mut Parts, snapshot: &Snapshot) -> usize {
        let build = BuildInfo::current();
        parts
            .render(
                snapshot,
                PublishStats::default(),
                &build,
                &ApiTelemetry::default(),
                None,
            )
            .scopes_rendered
    }

    /// Unchanged scopes are rendered again for the clock once a minute
    /// each, at their own moment: never all in one publish.
    #[test]
    fn unchanged_scopes_are_rendered_again_once_a_minute_spread_out() {
        let start = 1_700_000_000_000;
        let mut parts = Parts::default();
        assert_eq!(render(&mut parts, &snapshot(100, start)), 100);
        assert_eq!(render(&mut parts, &snapshot(100, start + 1)), 0);
        let mut per_step = Vec::new();
        // Every 5 s over two minutes.
        for step in 1..=24 {
            per_step.push(render(&mut parts, &snapshot(100, start + step * 5_000)));
        }
        let first_minute: usize = per_step[..12].iter().sum();
        let second_minute: usize = per_step[12..].iter().sum();
        assert_eq!(first_minute, 100, "each scope once: {per_step:?}");
        assert_eq!(second_minute, 100, "{per_step:?}");
        assert!(per_step.iter().all(|&n| n < 30), "spread: {per_step:?}");
        // A clock set back an hour: everything is judged again at once.
        assert_eq!(render(&mut parts, &snapshot(100, start - 3_600_000)), 100);
        // A second later, only the few whose moment came.
        assert!(render(&mut parts, &snapshot(100, start - 3_599_000)) < 10);
    }

    /// What else a part is rendered from: a new revision, the per-target
    /// switch and the TLS-error window render it again; a scope that is
    /// gone is forgotten.
    #[test]
    fn a_part_is_rendered_again_when_what_it_was_rendered_from_changes() {
        let now = 1_700_000_000_000;
        let mut parts = Parts::default();
        let mut s = snapshot(3, now);
        assert_eq!(render(&mut parts, &s), 3);
        let first = s.revisions.keys().next().unwrap().clone();
        s.revisions.insert(first, 2);
        assert_eq!(render(&mut parts, &s), 1);
        s.per_target_health = true;
        assert_eq!(render(&mut parts, &s), 3);
        s.diagnosis.tls_error_window_ms += 1;
        assert_eq!(render(&mut parts, &s), 3);
        s.diagnosis.certificate_warning_ms += 1;
        assert_eq!(render(&mut parts, &s), 3);
        let gone = s.inventories.keys().next().unwrap().clone();
        s.inventories.remove(&gone);
        assert_eq!(render(&mut parts, &s), 0);
        assert_eq!(parts.by_scope.len(), 2);
        // Data the store did not record (no revision) is never kept.
        s.revisions.clear();
        assert_eq!(render(&mut parts, &s), 2);
        assert_eq!(render(&mut parts, &s), 2);
    }
}
