//! The rendering of one publish. Each account×region scope is its own
//! part: topology, one diagnosis, its collectors' families and its checks,
//! encoded. A scope whose data has not changed since it was last rendered
//! keeps its part, so a publish costs what changed, not the whole
//! organisation; the exporter's own families (build, accounts, publishes)
//! are rendered every time. The collectors' statuses are encoded in blocks of
//! scopes, again only where a status changed; the parts are joined in
//! blocks of consecutive scopes, again only where a part changed, and the
//! blocks into one exposition, with the findings set beside it. So a
//! publish costs what changed, plus a pass over the blocks.
//!
//! The publisher renders within [`RENDER_BUDGET`]: when more scopes changed
//! than fit (the first polls, a reload), the rest keep their previous part
//! for one more publish, which follows at once. No publish then takes long,
//! and no publish renders every scope's part again beside the parts being
//! served.

use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::registry::Registry;

use crate::aws::ApiTelemetry;
use crate::diagnose::{self, LinkView};
use crate::exposition::{Encoded, Exposition, Joined};
use crate::inventory::{Inventory, Scope};
use crate::render::{self, BuildInfo, CollectorStatus, Families, PublishStats, Snapshot};
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
    encoded: Arc<Encoded>,
}

/// Renders one scope: its paths resolved once, diagnosed once, and the
/// families of its collectors and checks encoded from those findings.
fn render_scope_part(scope: &Scope, inventory: &Inventory, snapshot: &Snapshot) -> ScopePart {
    let topology = Topology::build(inventory);
    let links = diagnose::views([(scope, &topology)], &snapshot.diagnosis);
    let mut families = Families::default();
    super::registry::render_scope(&mut families, scope, &topology, snapshot);
    render::check_families(&mut families, links.iter().map(|v| &v.report));
    ScopePart {
        links: links.into(),
        encoded: Arc::new(families.encode()),
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
    statuses: Vec<Arc<CollectorStatus>>,
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

/// Parts joined in blocks of this many: a publish joins every block, and
/// joins the parts again only of the blocks in which one changed.
const BLOCK: usize = 32;

/// Scopes whose statuses are encoded together: a round in which every
/// collector polls encodes every block again, and each block's families
/// are chunks of their own (a chunk ends in a full flush, which costs).
const STATUS_BLOCK: usize = 128;

/// What was made from a block of things (statuses encoded, parts joined),
/// kept with them: made again only when one of them is another.
struct Block<T, M> {
    members: Vec<Arc<T>>,
    made: Arc<M>,
}

/// Whether two lists hold the same things (by address: what is kept holds
/// them, so an address is not taken again while it is compared).
fn same<T>(a: &[Arc<T>], b: &[Arc<T>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| Arc::ptr_eq(a, b))
}

/// What is made from each of `blocks`, in order: kept from `kept` (the
/// blocks of the last publish, by position) where the block holds the same
/// things, else made by `make`.
fn reuse_or_make<T, M, B>(
    kept: &mut Vec<Block<T, M>>,
    blocks: impl Iterator<Item = B>,
    make: impl Fn(&[Arc<T>]) -> M,
) -> Vec<Arc<M>>
where
    B: AsRef<[Arc<T>]> + Into<Vec<Arc<T>>>,
{
    let mut last = std::mem::take(kept).into_iter();
    for members in blocks {
        let block = match last.next() {
            Some(block) if same(&block.members, members.as_ref()) => block,
            _ => Block {
                made: Arc::new(make(members.as_ref())),
                members: members.into(),
            },
        };
        kept.push(block);
    }
    kept.iter().map(|b| b.made.clone()).collect()
}

/// The scopes' parts as last rendered, how many renders there were, and
/// the joins of blocks of them.
#[derive(Default)]
pub struct Parts {
    by_scope: HashMap<Scope, Cached>,
    /// The collectors' statuses, encoded in blocks of [`STATUS_BLOCK`] scopes.
    statuses: Vec<Block<CollectorStatus, Encoded>>,
    /// The statuses' and the scopes' parts, joined in blocks of [`BLOCK`].
    blocks: Vec<Block<Encoded, Joined>>,
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
    /// and the API-call telemetry first, then the collectors' statuses,
    /// then every scope's. The renders are counted into
    /// `stats.scope_renders`. With a `budget`, it stops
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
        let mut statuses_of: HashMap<&Scope, Vec<Arc<CollectorStatus>>> = HashMap::new();
        for status in &snapshot.statuses {
            statuses_of
                .entry(&status.scope)
                .or_default()
                .push(status.clone());
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
                    statuses: statuses_of.get(scope).cloned().unwrap_or_default(),
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
        // the next publish, as last shown with its part (none if it has no
        // part yet: it is not shown at all). A kept scope shows them as
        // they are now, with the part they came with: remembered, so that
        // if it is left for a later publish it shows them again rather than
        // older ones (a poll count that went back would read as a reset).
        let left: HashSet<&Scope> = stale[scopes_rendered..].iter().map(|s| s.1).collect();
        for (scope, cached) in &mut self.by_scope {
            if let Some(now) = statuses_of.get(scope)
                && !left.contains(scope)
                && !same(&cached.statuses, now)
            {
                cached.statuses = now.clone();
            }
        }
        for scope in left {
            match self.by_scope.get(scope) {
                Some(cached) => statuses_of.insert(scope, cached.statuses.clone()),
                None => statuses_of.remove(scope),
            };
        }
        let status_parts = self.status_parts(statuses_of);
        let own = render::exporter_families(snapshot, &stats, build).encode();
        let mut registry = Registry::default();
        telemetry.register(&mut registry);
        let telemetry = crate::exposition::encode_registry(&registry);
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
        let members = status_parts
            .into_iter()
            .chain(parts.iter().map(|p| p.encoded.clone()));
        let blocks = self.join_blocks(members);
        let head = Joined::join([&own, &telemetry]);
        let exposition =
            Exposition::assemble_joined(std::iter::once(&head).chain(blocks.iter().map(|b| &**b)));
        Rendered {
            exposition,
            links_by_scope: parts.iter().map(|p| p.links.clone()).collect(),
            scopes_rendered,
            scopes_pending: stale.len() - scopes_rendered,
        }
    }
}

impl Parts {
    /// The statuses encoded in blocks of [`STATUS_BLOCK`] scopes, in scope
    /// order, each kept while its statuses stay. (Encoded a scope at a
    /// time, a round in which every collector polled made thousands of
    /// small chunks.)
    fn status_parts(
        &mut self,
        shown: HashMap<&Scope, Vec<Arc<CollectorStatus>>>,
    ) -> Vec<Arc<Encoded>> {
        let mut shown: Vec<(&Scope, Vec<Arc<CollectorStatus>>)> = shown.into_iter().collect();
        shown.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let blocks = shown.chunks(STATUS_BLOCK).map(|scopes| {
            scopes
                .iter()
                .flat_map(|(_, s)| s.iter().cloned())
                .collect::<Vec<_>>()
        });
        reuse_or_make(&mut self.statuses, blocks, |statuses| {
            render::status_families(statuses.iter().map(|s| &**s)).encode()
        })
    }

    /// The parts joined in blocks of [`BLOCK`], in order, each kept while
    /// its parts stay.
    fn join_blocks(&mut self, parts: impl Iterator<Item = Arc<Encoded>>) -> Vec<Arc<Joined>> {
        let parts: Vec<Arc<Encoded>> = parts.collect();
        reuse_or_make(
            &mut self.blocks,
            parts.chunks(BLOCK).map(<[_]>::to_vec),
            |members| Joined::join(members.iter().map(|m| &**m)),
        )
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

    /// A status of `scope` after its `polls`-th poll.
    fn status(scope: &Scope, polls: u64) -> Arc<CollectorStatus> {
        Arc::new(CollectorStatus {
            collector: "vpc_links",
            scope: scope.clone(),
            success: true,
            duration: Duration::from_millis(10),
            last_success: None,
            timeouts: 0,
            polls,
        })
    }

    fn text(parts: &mut Parts, snapshot: &Snapshot) -> String {
        let rendered = parts.render(
            snapshot,
            PublishStats::default(),
            &BuildInfo::current(),
            &ApiTelemetry::default(),
            None,
        );
        // Less the count of renders, which differs by how they came.
        String::from_utf8(rendered.exposition.to_vec().unwrap())
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("awsconn_exposition_scope_renders_total "))
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// A publish joins again only the blocks in which a part changed, and
    /// encodes again only the block of statuses in which one changed; what
    /// it serves is what making everything anew would.
    #[test]
    fn only_the_blocks_and_the_statuses_that_changed_are_made_again() {
        let now = 1_700_000_000_000;
        let mut parts = Parts::default();
        let mut s = snapshot(STATUS_BLOCK + BLOCK, now);
        let scopes: Vec<Scope> = s.inventories.keys().cloned().collect();
        s.statuses = scopes.iter().map(|scope| status(scope, 1)).collect();
        let before = text(&mut parts, &s);
        // Two blocks of statuses; then they and the scopes' parts joined
        // `BLOCK` at a time.
        assert_eq!(parts.statuses.len(), 2);
        let blocks = (2 + scopes.len()).div_ceil(BLOCK);
        assert_eq!(parts.blocks.len(), blocks);
        let joins: Vec<Arc<Joined>> = parts.blocks.iter().map(|b| b.made.clone()).collect();
        let encoded: Vec<Arc<Encoded>> = parts.statuses.iter().map(|p| p.made.clone()).collect();
        // The last scope polled again (its data the same); scope 40's data
        // changed.
        let last = scopes.len() - 1;
        s.statuses[last] = status(&scopes[last], 2);
        s.revisions.insert(scopes[40].clone(), 2);
        let after = text(&mut parts, &s);
        let made_again: Vec<usize> = (0..blocks)
            .filter(|&i| !Arc::ptr_eq(&joins[i], &parts.blocks[i].made))
            .collect();
        assert_eq!(made_again, [0, 1], "the statuses' block, scope 40's");
        let encoded_again: Vec<usize> = (0..2)
            .filter(|&i| !Arc::ptr_eq(&encoded[i], &parts.statuses[i].made))
            .collect();
        assert_eq!(encoded_again, [1]);
        let polls = |n: u32| {
            format!(
                "awsconn_collector_polls_total{{collector=\"vpc_links\",account=\"{}\",region=\"us-east-1\"}} {n}\n",
                scopes[last].account
            )
        };
        assert!(before.contains(&polls(1)), "{before}");
        assert_eq!(after, before.replace(&polls(1), &polls(2)));
        assert_eq!(after, text(&mut Parts::default(), &s));
        // A scope gone: its statuses and part leave, and the text is as if
        // made anew.
        s.inventories.remove(&scopes[1]);
        s.statuses.remove(1);
        let shrunk = text(&mut parts, &s);
        assert_eq!(shrunk, text(&mut Parts::default(), &s));
        assert!(!shrunk.contains(&scopes[1].account));
    }

    /// The polls of `scope` as the text shows them.
    fn polls_shown(text: &str, scope: &Scope) -> Option<u64> {
        let prefix = format!(
            "awsconn_collector_polls_total{{collector=\"vpc_links\",account=\"{}\",",
            scope.account
        );
        text.lines()
            .find(|l| l.starts_with(&prefix))
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
    }

    /// A scope left for the next publish shows its statuses as last shown
    /// with its part: a poll count never goes back.
    #[test]
    fn a_scope_left_for_later_never_shows_an_older_poll_count() {
        let now = 1_700_000_000_000;
        let mut parts = Parts::default();
        let mut s = snapshot(2, now);
        let scopes: Vec<Scope> = s.inventories.keys().cloned().collect();
        let poll = |s: &mut Snapshot, n| {
            s.statuses = scopes.iter().map(|scope| status(scope, n)).collect();
        };
        poll(&mut s, 1);
        text(&mut parts, &s);
        // A poll that found the same data: both kept, the count shown moves.
        poll(&mut s, 2);
        let kept = text(&mut parts, &s);
        assert_eq!(polls_shown(&kept, &scopes[1]), Some(2));
        // A poll whose data changed, and a budget that renders one scope.
        poll(&mut s, 3);
        for scope in &scopes {
            s.revisions.insert(scope.clone(), 2);
        }
        let rendered = parts.render(
            &s,
            PublishStats::default(),
            &BuildInfo::current(),
            &ApiTelemetry::default(),
            Some(Duration::ZERO),
        );
        assert_eq!((rendered.scopes_rendered, rendered.scopes_pending), (1, 1));
        let text = String::from_utf8(rendered.exposition.to_vec().unwrap()).unwrap();
        let shown: Vec<Option<u64>> = scopes.iter().map(|s| polls_shown(&text, s)).collect();
        assert_eq!(shown, [Some(3), Some(2)], "{text}");
    }
}
