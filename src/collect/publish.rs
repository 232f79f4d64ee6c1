//! What one publish does with a snapshot. Each scope is its own part:
//! topology, one diagnosis, its collectors' families and its checks,
//! encoded. A scope whose data has not changed since the previous publish
//! keeps its part, so a publish costs what changed, not the whole
//! organisation; the exporter's own families (statuses, self-metrics) are
//! rendered every time. The parts are then joined into one exposition, and
//! their findings set beside it.

use std::collections::HashMap;
use std::sync::Arc;

use prometheus_client::registry::Registry;

use crate::aws::ApiTelemetry;
use crate::diagnose::{self, LinkView};
use crate::exposition::{Encoded, Exposition};
use crate::inventory::{Inventory, Scope};
use crate::render::{self, BuildInfo, PublishStats, Snapshot};
use crate::topology::Topology;

/// A scope whose data has not changed is still rendered again once its
/// part is this old: what the checks read off the clock (the TLS-error
/// window, idle seconds) moves on, at most this far behind.
pub const RERENDER_AFTER_MS: i64 = 60_000;

/// One scope rendered: its links' findings and its encoded families.
#[derive(Debug, Default)]
pub struct ScopePart {
    pub links: Arc<[LinkView]>,
    pub encoded: Encoded,
}

/// Renders one scope: its paths resolved once, diagnosed once, and the
/// families of its collectors and checks encoded from those findings.
pub fn render_scope_part(scope: &Scope, inventory: &Inventory, snapshot: &Snapshot) -> ScopePart {
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
    tls_error_window_ms: i64,
}

struct Cached {
    key: Key,
    rendered_at_ms: i64,
    part: Arc<ScopePart>,
}

/// The parts of the previous publish, by scope.
#[derive(Default)]
pub struct Parts {
    by_scope: HashMap<Scope, Cached>,
}

/// One publish's result.
pub struct Assembled {
    pub exposition: Exposition,
    /// Every scope's findings, in scope order.
    pub links: Vec<Arc<[LinkView]>>,
    /// Scopes rendered by this publish (the others kept their parts).
    pub rendered: usize,
}

impl Parts {
    /// Renders the scopes of `snapshot` whose part is missing, stale or
    /// rendered from other data, keeps the others, forgets scopes that are
    /// gone, and assembles the exposition: the exporter's own families and
    /// `live` first, then every scope's. `stats.scope_renders` counts the
    /// renders before this publish; this publish's are added to it.
    pub fn publish(
        &mut self,
        snapshot: &Snapshot,
        stats: PublishStats,
        build: &BuildInfo,
        live: &ApiTelemetry,
    ) -> Assembled {
        let now = snapshot.diagnosis.now_ms;
        let key_of = |scope: &Scope| {
            snapshot.revisions.get(scope).map(|&revision| Key {
                revision,
                per_target_health: snapshot.per_target_health,
                tls_error_window_ms: snapshot.diagnosis.tls_error_window_ms,
            })
        };
        self.by_scope
            .retain(|scope, _| snapshot.inventories.contains_key(scope));
        let stale: Vec<(&Scope, &Inventory)> = snapshot
            .inventories
            .iter()
            .filter(|(scope, _)| {
                let key = key_of(scope);
                self.by_scope.get(*scope).is_none_or(|cached| {
                    key != Some(cached.key) || now - cached.rendered_at_ms >= RERENDER_AFTER_MS
                })
            })
            .map(|(scope, inventory)| (scope, &**inventory))
            .collect();
        let rendered = stale.len();
        let mut fresh: HashMap<&Scope, Arc<ScopePart>> = HashMap::new();
        // One thread: on two cores, rendering scopes in parallel cost a
        // third more CPU per link than it saved in time.
        for (scope, inventory) in stale {
            let part = Arc::new(render_scope_part(scope, inventory, snapshot));
            // Data without a revision (built by hand, not recorded by the
            // store) is rendered every time, never kept.
            if let Some(key) = key_of(scope) {
                let cached = Cached {
                    key,
                    rendered_at_ms: now,
                    part: part.clone(),
                };
                self.by_scope.insert(scope.clone(), cached);
            }
            fresh.insert(scope, part);
        }
        let mut registry = Registry::default();
        live.register(&mut registry);
        let stats = PublishStats {
            scope_renders: stats.scope_renders + rendered as u64,
            ..stats
        };
        let own = render::exporter_families(snapshot, &stats, build).encode(&[]);
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
        Assembled {
            exposition,
            links: parts.iter().map(|p| p.links.clone()).collect(),
            rendered,
        }
    }
}
