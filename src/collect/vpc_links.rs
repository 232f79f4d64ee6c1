//! VPC links of REST APIs (V1) and HTTP APIs (V2), and the APIs whose
//! integrations use them (with their stages).
//!
//! The APIs are read incrementally. API Gateway's management API allows an
//! account 10 requests a second (GetResources 5 every 2 seconds), shared
//! with the team's own deploys, so 300 REST APIs read in full on every
//! poll (600 calls) would take four minutes at the exporter's half of
//! GetResources' quota. What runs
//! is a stage's deployment: an API whose stages still run the deployments
//! they ran keeps the integrations read before. So each poll lists the
//! APIs (one call per 500), reads the stages of the APIs due for it (each
//! at least every `revalidate`, the APIs spread over that period), reads
//! the integrations of an API that is new, whose deployments changed, or
//! that is due its `full_refresh`, and keeps the rest as they were.
//!
//! One API that cannot be read does not fail the poll: it keeps what was
//! read of it before (or is left out until it can be read) and is counted
//! in `awsconn_aws_incomplete_items_total`. When the quota has no slot
//! left before the poll's deadline, the APIs not reached wait for the next
//! poll, as they were.
//!
//! Links and APIs the `watch` filters leave out are dropped as soon as they
//! are listed (see `crate::watch`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::collector::{Collector, Descriptor, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::config::VpcLinksConfig;
use crate::inventory::{Api, ApiRef, ApiType, Inventory, Scope, Stage, Unwatched, VpcLink};
use crate::lock::LockOrRecover;
use crate::render::{Families, Kind, Snapshot, scope_labels};
use crate::topology::Topology;
use crate::watch::WatchConfig;

pub struct VpcLinks {
    revalidate: Duration,
    full_refresh: Duration,
    /// The tags kept on each link and API (`tags_as_labels`).
    tags: Vec<String>,
    /// Which links and APIs are watched (`watch`).
    watch: WatchConfig,
    /// Per scope (`account/region`): when each API is next due.
    books: Mutex<HashMap<String, Book>>,
}

/// When each API of a scope is next due, and its latest read error.
#[derive(Debug, Clone, Default)]
struct Book {
    apis: HashMap<(ApiType, String), Reads>,
}

#[derive(Debug, Clone)]
struct Reads {
    /// When its stages are next read.
    stages_due: Instant,
    /// When its integrations are next read, changed deployments or not.
    integrations_due: Instant,
    /// After a failed read: not tried again before this.
    retry_after: Option<Instant>,
    error: Option<String>,
}

/// What a poll reads of one API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Nothing: what was read before stands.
    Keep,
    /// Its stages; its integrations too if its deployments changed.
    Stages,
    /// Its stages and its integrations.
    Full,
}

/// A stable point in `[0, period)` for an API, so that APIs first read
/// together fall due spread over the period rather than all at once.
fn phase(id: &str, period: Duration) -> Duration {
    period.mul_f64(f64::from(crc32fast::hash(id.as_bytes())) / (f64::from(u32::MAX) + 1.0))
}

/// `now + period`, or a century on if that overflows.
fn after(now: Instant, period: Duration) -> Instant {
    now.checked_add(period)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
}

impl VpcLinks {
    pub fn new(config: &VpcLinksConfig, tags: &[String], watch: &WatchConfig) -> VpcLinks {
        VpcLinks {
            revalidate: config.revalidate,
            full_refresh: config.full_refresh,
            tags: tags.to_vec(),
            watch: watch.clone(),
            books: Mutex::default(),
        }
    }

    fn plan(&self, reads: Option<&Reads>, known: bool, now: Instant) -> Plan {
        match reads {
            Some(r) if r.retry_after.is_some_and(|t| now < t) => Plan::Keep,
            Some(r) if known => {
                if now >= r.integrations_due {
                    Plan::Full
                } else if now >= r.stages_due {
                    Plan::Stages
                } else {
                    Plan::Keep
                }
            }
            // In the inventory but not in the book: read before a reload.
            // Its stages say whether the integrations kept still run.
            None if known => Plan::Stages,
            _ => Plan::Full,
        }
    }

    /// The reads of an API first read at `now`: due again at its own
    /// point of each period, so that APIs read together fall due spread.
    fn first_reads(&self, id: &str, now: Instant) -> Reads {
        let next = |period| after(now, period - phase(id, period));
        Reads {
            stages_due: next(self.revalidate),
            integrations_due: next(self.full_refresh),
            retry_after: None,
            error: None,
        }
    }

    /// Whether what was read of an API is too old to stand for it when it
    /// cannot be read again: twice its full refresh.
    fn too_old(&self, reads: &Reads, now: Instant) -> bool {
        now > after(reads.integrations_due, self.full_refresh)
    }
}

/// An API not read this poll, as it was read, with the book's word on its
/// latest read: a failure recorded by a poll cut off by its timeout (whose
/// inventory was dropped) still shows until the API is read again. Not in
/// the book (read before a reload): as the inventory says.
fn kept(before: &Api, reads: Option<&Reads>) -> Api {
    Api {
        read_error: match reads {
            Some(reads) => reads.error.clone(),
            None => before.read_error.clone(),
        },
        ..before.clone()
    }
}

/// The deployment each stage runs, to compare two reads of an API.
fn deployments(stages: &[Stage]) -> Vec<(&str, Option<&str>)> {
    let mut out: Vec<_> = stages
        .iter()
        .map(|s| (s.name.as_str(), s.deployment_id.as_deref()))
        .collect();
    out.sort_unstable();
    out
}

#[async_trait]
impl Collector for VpcLinks {
    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError> {
        let (mut links, http, mut listed) =
            tokio::try_join!(aws.rest_vpc_links(), aws.http_vpc_links(), aws.list_apis())?;
        links.extend(http);
        // What the filters leave out goes here, before anything else is
        // asked of it; then only the named tags are kept.
        let mut unwatched = Unwatched::default();
        links.retain(|l| {
            let watched = self.watch.vpc_links.watches(&l.name, &l.tags);
            if !watched {
                unwatched.vpc_links.insert(l.id.clone());
            }
            watched
        });
        let all_apis = listed.len();
        listed.retain(|a| self.watch.apis.watches(&a.name, &a.tags));
        unwatched.apis = all_apis - listed.len();
        for link in &mut links {
            link.tags = crate::tags::keep(std::mem::take(&mut link.tags), &self.tags);
        }
        for api in &mut listed {
            api.tags = crate::tags::keep(std::mem::take(&mut api.tags), &self.tags);
        }
        let scope = format!("{}/{}", aws.account_label(), aws.region());
        // Written back however the poll ends: a poll cut off by its timeout
        // keeps what it read due as read (its inventory is not recorded,
        // and the next stage check against it reads again what changed).
        let mut book = WriteBack {
            books: &self.books,
            book: self
                .books
                .lock_or_recover()
                .get(&scope)
                .cloned()
                .unwrap_or_default(),
            scope,
        };
        let previous: HashMap<(ApiType, &str), &Api> = known
            .apis
            .iter()
            .flatten()
            .map(|a| ((a.api_type, a.id.as_str()), a))
            .collect();
        let now = Instant::now();
        let mut apis = Vec::with_capacity(listed.len());
        let mut quota_spent = false;
        for api in &listed {
            let key = (api.api_type, api.id.clone());
            let before = previous.get(&(api.api_type, api.id.as_str())).copied();
            let plan = match quota_spent {
                true => Plan::Keep,
                false => self.plan(book.apis.get(&key), before.is_some(), now),
            };
            let read = match plan {
                // Kept while it is not too old: an API failing since
                // (retried later) stops standing for itself after a while.
                Plan::Keep
                    if before.is_some()
                        && book
                            .apis
                            .get(&key)
                            .is_some_and(|r| r.error.is_some() && self.too_old(r, now)) =>
                {
                    let error = before.and_then(|b| b.read_error.clone());
                    apis.push(api.read(Vec::new(), Vec::new(), error));
                    continue;
                }
                Plan::Keep => Ok(None),
                Plan::Stages | Plan::Full => read_api(aws, api, before, plan).await.map(Some),
            };
            match read {
                Ok(None) => apis.extend(before.map(|b| kept(b, book.apis.get(&key)))),
                Ok(Some((read, integrations_read))) => {
                    // A first read (or the first since a restart or reload)
                    // falls due again at the API's own point of each period:
                    // the APIs fall due spread, not all in one later poll.
                    let seen = book.apis.contains_key(&key);
                    let reads = book
                        .apis
                        .entry(key)
                        .or_insert_with(|| self.first_reads(&api.id, now));
                    if seen {
                        reads.stages_due = after(now, self.revalidate);
                        if integrations_read {
                            reads.integrations_due = after(now, self.full_refresh);
                        }
                    }
                    reads.retry_after = None;
                    if reads.error.take().is_some() {
                        tracing::info!(api_id = %api.id, "the API can be read again");
                    }
                    apis.push(read);
                }
                Err(e) if e.is_quota_exhausted() => {
                    tracing::debug!(api_id = %api.id, error = %e, "the API Gateway quota is spent for this poll; the APIs not reached wait for the next");
                    quota_spent = true;
                    apis.extend(before.cloned());
                }
                Err(e) => {
                    aws.incomplete_item(e.service, e.operation, "read failed");
                    let text = e.to_string();
                    let reads = book
                        .apis
                        .entry(key)
                        .or_insert_with(|| self.first_reads(&api.id, now));
                    // Not again before its next revalidation: a broken API
                    // does not spend every poll's quota on its retries.
                    reads.retry_after = Some(after(now, self.revalidate));
                    if reads.error.as_deref() == Some(text.as_str()) {
                        tracing::debug!(api_id = %api.id, error = %text, "cannot read the API again");
                    } else {
                        tracing::warn!(api_id = %api.id, error = %text, "cannot read the API; what was read of it before is kept (left out if nothing was, or if that is older than twice full_refresh), the rest of the scope is exported");
                        reads.error = Some(text);
                    }
                    // Kept as last read while not too old, else as an API
                    // known to exist and not read: either way it says why.
                    let error = reads.error.clone();
                    apis.push(match before.filter(|_| !self.too_old(reads, now)) {
                        Some(b) => Api {
                            read_error: error,
                            ..b.clone()
                        },
                        None => api.read(Vec::new(), Vec::new(), error),
                    });
                }
            }
        }
        // An API kept as read before carries its tags as listed now.
        let tags: HashMap<(ApiType, &str), &BTreeMap<String, String>> = listed
            .iter()
            .map(|a| ((a.api_type, a.id.as_str()), &a.tags))
            .collect();
        for api in &mut apis {
            if let Some(now) = tags.get(&(api.api_type, api.id.as_str()))
                && api.tags != **now
            {
                api.tags = (*now).clone();
            }
        }
        // APIs no longer listed (or no longer watched) are forgotten.
        book.apis
            .retain(|(t, id), _| listed.iter().any(|a| a.api_type == *t && a.id == *id));
        Ok(Fragment::VpcLinks(links, apis, unwatched))
    }
}

/// A scope's book, put back when the poll ends or is dropped.
struct WriteBack<'a> {
    books: &'a Mutex<HashMap<String, Book>>,
    scope: String,
    book: Book,
}

impl std::ops::Deref for WriteBack<'_> {
    type Target = Book;
    fn deref(&self) -> &Book {
        &self.book
    }
}

impl std::ops::DerefMut for WriteBack<'_> {
    fn deref_mut(&mut self) -> &mut Book {
        &mut self.book
    }
}

impl Drop for WriteBack<'_> {
    fn drop(&mut self) {
        let book = std::mem::take(&mut self.book);
        self.books
            .lock_or_recover()
            .insert(std::mem::take(&mut self.scope), book);
    }
}

/// Reads an API's stages and, when `plan` says so or its deployments
/// changed since `before`, its integrations; true when they were read.
async fn read_api(
    aws: &AwsScope,
    api: &ApiRef,
    before: Option<&Api>,
    plan: Plan,
) -> Result<(Api, bool), AwsError> {
    let stages = aws.api_stages(api).await?;
    let unchanged =
        before.filter(|b| plan == Plan::Stages && deployments(&b.stages) == deployments(&stages));
    let (integrations, read) = match unchanged {
        Some(b) => (b.integrations.clone(), false),
        None => (aws.api_integrations(api).await?, true),
    };
    Ok((api.read(integrations, stages, None), read))
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    name: awsconn_catalogue::collector::VPC_LINKS,
    stage: 0,
    operations: &[
        ("apigateway", "GetVpcLinks"),
        ("apigateway", "GetRestApis"),
        ("apigateway", "GetResources"),
        ("apigateway", "GetStages"),
        ("apigatewayv2", "GetVpcLinks"),
        ("apigatewayv2", "GetApis"),
        ("apigatewayv2", "GetIntegrations"),
        ("apigatewayv2", "GetStages"),
    ],
    schedule: |c| c.vpc_links.schedule(),
    build: |config| {
        Arc::new(VpcLinks::new(
            &config.collectors.vpc_links,
            &config.tags_as_labels,
            &config.watch,
        ))
    },
    forget: |inventory| {
        inventory.vpc_links = None;
        inventory.apis = None;
        inventory.unwatched = Unwatched::default();
    },
    render,
};

/// `awsconn_vpc_link_*`, `awsconn_api_*`, `awsconn_integration_*` and
/// `awsconn_unwatched_resources`.
fn render(f: &mut Families, scope: &Scope, topology: &Topology, _: &Snapshot) {
    for link in topology.vpc_links() {
        vpc_link_families(f, scope, link);
    }
    if let Some(apis) = &topology.inventory.apis {
        unwatched_families(f, scope, &topology.inventory.unwatched);
        integration_families(f, scope, topology);
        for api in apis {
            let mut info = scope_labels(scope);
            info.extend([
                ("api_id", api.id.clone()),
                ("name", api.name.clone()),
                ("api_type", api.api_type.as_str().to_owned()),
            ]);
            f.add(
                "awsconn_api_info",
                "A REST or HTTP API of API Gateway, with its tags named in tags_as_labels as labels; always 1",
                Kind::Gauge,
                crate::tags::with_tags(info, &api.tags),
                1.0,
            );
        }
        for api in apis.iter().filter(|a| a.read_error.is_some()) {
            let mut labels = scope_labels(scope);
            labels.extend([
                ("api_id", api.id.clone()),
                ("api_type", api.api_type.as_str().to_owned()),
            ]);
            f.add(
                "awsconn_api_read_failed",
                "An API whose latest read failed: its integrations are as last read, or unknown if it was never read (the log names the error); always 1",
                Kind::Gauge,
                labels,
                1.0,
            );
        }
    }
}

/// How many links and APIs the `watch` filters leave out: a filter that
/// leaves out everything shows as such, not as an empty account.
fn unwatched_families(f: &mut Families, scope: &Scope, unwatched: &Unwatched) {
    for (resource, count) in [
        ("vpc_link", unwatched.vpc_links.len()),
        ("api", unwatched.apis),
    ] {
        let mut labels = scope_labels(scope);
        labels.push(("resource", resource.to_owned()));
        f.add(
            "awsconn_unwatched_resources",
            "VPC links and APIs listed but left out by the watch filters: not read further, not exported",
            Kind::Gauge,
            labels,
            count as f64,
        );
    }
}

fn vpc_link_families(f: &mut Families, scope: &Scope, link: &VpcLink) {
    let mut base = scope_labels(scope);
    base.push(("vpc_link_id", link.id.clone()));

    let mut info = base.clone();
    info.push(("name", link.name.clone()));
    info.push(("api_type", link.api_type.as_str().to_owned()));
    info.push(("version", link.api_type.link_version().to_owned()));
    f.add(
        "awsconn_vpc_link_info",
        "A VPC link of API Gateway, with its tags named in tags_as_labels as labels; always 1",
        Kind::Gauge,
        crate::tags::with_tags(info, &link.tags),
        1.0,
    );

    let mut status = base.clone();
    status.push(("api_type", link.api_type.as_str().to_owned()));
    f.state_set(
        "awsconn_vpc_link_status",
        "Status of the VPC link: 1 for the current status, 0 for the others",
        &status,
        "status",
        link.api_type.known_link_statuses(),
        &link.status,
    );

    if let Some(message) = link.status_message.as_deref().map(stable_message)
        && !message.is_empty()
    {
        let mut labels = base.clone();
        labels.push(("message", message));
        f.add(
            "awsconn_vpc_link_status_message_info",
            "Why AWS says the VPC link is in its status (statusMessage), request ids and times removed; always 1",
            Kind::Gauge,
            labels,
            1.0,
        );
    }

    for target in &link.target_arns {
        let mut labels = base.clone();
        labels.push(("target_arn", target.clone()));
        f.add(
            "awsconn_vpc_link_target_info",
            "A load balancer that a VPC link targets; always 1",
            Kind::Gauge,
            labels,
            1.0,
        );
    }
}

/// The longest status message a label carries, in characters.
const MESSAGE_LABEL_CHARS: usize = 240;

/// AWS's status message of a VPC link as a label value that does not churn:
/// what changes each time AWS tries again (a request id, a time) is
/// removed, blanks are collapsed, and it is cut at
/// [`MESSAGE_LABEL_CHARS`]. What names the broken object (a load balancer's
/// ARN, an endpoint service's id) stays.
fn stable_message(message: &str) -> String {
    let words: Vec<&str> = message.split_whitespace().collect();
    let mut kept: Vec<&str> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        let bare = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
        // `Request ID: x`, `Extended Request ID: x`, `RequestId: x`: the id
        // goes with its name, its closing bracket stays.
        let named_id = match (bare.to_ascii_lowercase().as_str(), words.get(i + 1)) {
            ("requestid", Some(_)) if word.ends_with(':') => Some(1),
            ("request", Some(next)) if next.eq_ignore_ascii_case("id:") => Some(2),
            _ => None,
        };
        if let Some(skip) = named_id {
            if kept
                .last()
                .is_some_and(|w| w.eq_ignore_ascii_case("extended"))
            {
                kept.pop();
            }
            // A bracket that opened with the name closes with the id: both
            // go; one left open or closed alone stays.
            let id = words.get(i + skip).copied().unwrap_or("");
            let opening = &word[..word.len() - word.trim_start_matches(['(', '[']).len()];
            let closing = &id[id.trim_end_matches([')', ']']).len()..];
            match (opening.is_empty(), closing.is_empty()) {
                (false, true) => kept.push(opening),
                (true, false) => kept.push(closing),
                _ => {}
            }
            i += skip + 1;
            continue;
        }
        if !(is_uuid(bare) || is_iso_time(bare)) {
            kept.push(word);
        }
        i += 1;
    }
    let joined = kept
        .join(" ")
        .replace("; )", ")")
        .replace(" )", ")")
        .replace(" ]", "]")
        .replace("( ", "(")
        .replace("[ ", "[");
    match joined.char_indices().nth(MESSAGE_LABEL_CHARS) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

/// `8-4-4-4-12` hex digits.
fn is_uuid(word: &str) -> bool {
    let parts: Vec<&str> = word.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `2024-05-14T10:21:33...`: a date and a time joined by `T`.
fn is_iso_time(word: &str) -> bool {
    let b = word.as_bytes();
    b.len() >= 19
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
}

fn integration_families(f: &mut Families, scope: &Scope, topology: &Topology) {
    let mut seen = std::collections::BTreeSet::new();
    for r in &topology.resolved {
        let (port, protocol) = match topology.port(r) {
            Some(p) => (p.port.to_string(), p.protocol),
            None => (String::new(), r.protocol.clone()),
        };
        let mut labels = scope_labels(scope);
        labels.extend([
            ("api_id", r.api_id.clone()),
            ("api_type", r.api_type.as_str().to_owned()),
            ("stage", r.stage.clone()),
            ("vpc_link_id", r.vpc_link_id.clone()),
            ("target", r.target.clone()),
            ("port", port),
            ("protocol", protocol),
        ]);
        // Several methods calling the same target are one series.
        if seen.insert(labels.clone()) {
            f.add(
                "awsconn_integration_info",
                "An API integration through a VPC link in a stage, stage variables resolved; always 1",
                Kind::Gauge,
                labels,
                1.0,
            );
        }
    }
    for u in &topology.unresolved {
        let mut labels = scope_labels(scope);
        labels.extend([
            ("api_id", u.api_id.clone()),
            ("api_type", u.api_type.as_str().to_owned()),
            ("stage", u.stage.clone()),
            ("integration", u.integration.clone()),
            ("reason", u.reason.clone()),
        ]);
        f.add(
            "awsconn_integration_unresolved",
            "An integration that cannot be resolved in a stage (a missing stage variable, an unreadable URI); always 1",
            Kind::Gauge,
            labels,
            1.0,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collector() -> VpcLinks {
        VpcLinks::new(&VpcLinksConfig::default(), &[], &Default::default())
    }

    fn stage(name: &str, deployment: &str) -> Stage {
        Stage {
            name: name.into(),
            deployment_id: Some(deployment.into()),
            ..Default::default()
        }
    }

    /// The tags named in `tags_as_labels` label the link's info series,
    /// and no other of its series.
    #[test]
    fn a_link_carries_its_owner_tags_on_its_info_series_only() {
        let link = VpcLink {
            tags: std::collections::BTreeMap::from([
                ("Team".to_owned(), "payments".to_owned()),
                ("CostCenter".to_owned(), "42".to_owned()),
            ]),
            ..crate::testkit::vpc_link("l1")
        };
        let mut f = Families::default();
        vpc_link_families(&mut f, &crate::testkit::scope(), &link);
        let encoded = f.encode();
        let text = crate::testkit::encoded_text(&encoded);
        assert!(
            text.contains("awsconn_vpc_link_info{account=\"123456789012\",region=\"us-east-1\",vpc_link_id=\"l1\",name=\"l1\",api_type=\"rest\",version=\"v1\",cost_center=\"42\",team=\"payments\"} 1\n"),
            "{text}"
        );
        assert_eq!(text.matches("team=").count(), 1, "{text}");
    }

    #[test]
    fn an_api_is_read_in_full_first_then_its_stages_when_due_then_in_full_again() {
        let c = collector();
        let now = Instant::now();
        // Never read, or not in the inventory (its read failed): in full.
        assert_eq!(c.plan(None, false, now), Plan::Full);
        // In the inventory from before a reload: its stages first.
        assert_eq!(c.plan(None, true, now), Plan::Stages);
        let minutes = |m: u64| Duration::from_secs(60 * m);
        let read = Reads {
            stages_due: now + minutes(5),
            integrations_due: now + minutes(60),
            retry_after: None,
            error: None,
        };
        assert_eq!(c.plan(Some(&read), false, now), Plan::Full);
        assert_eq!(c.plan(Some(&read), true, now), Plan::Keep);
        assert_eq!(c.plan(Some(&read), true, now + minutes(4)), Plan::Keep);
        assert_eq!(c.plan(Some(&read), true, now + minutes(5)), Plan::Stages);
        assert_eq!(c.plan(Some(&read), true, now + minutes(60)), Plan::Full);
        // A failed read is not tried again before its retry time.
        let failed = Reads {
            retry_after: Some(now + minutes(5)),
            error: Some("boom".into()),
            ..read.clone()
        };
        assert_eq!(c.plan(Some(&failed), false, now + minutes(1)), Plan::Keep);
        assert_eq!(c.plan(Some(&failed), false, now + minutes(5)), Plan::Full);
        // What was read stands for a failing API up to twice full_refresh.
        assert!(!c.too_old(&failed, now + minutes(120)));
        assert!(c.too_old(&failed, now + minutes(121)));
    }

    #[test]
    fn apis_read_together_fall_due_spread_over_the_period() {
        let c = collector();
        let now = Instant::now();
        // 300 APIs first read in one poll: over the next five minutes, about
        // a fifth of them are due each minute, not all of them at the end.
        let reads: Vec<Reads> = (0..300)
            .map(|n| c.first_reads(&format!("api{n:04}"), now))
            .collect();
        for minute in 1..=5u64 {
            let at = now + Duration::from_secs(60 * minute);
            let due = reads
                .iter()
                .filter(|r| c.plan(Some(r), true, at) != Plan::Keep)
                .count();
            let expected = 60 * minute as usize;
            assert!(
                due.abs_diff(expected) <= 25,
                "{due} due after {minute} min, about {expected} expected"
            );
        }
        assert!(
            reads
                .iter()
                .all(|r| c.plan(Some(r), true, now + Duration::from_secs(300)) != Plan::Keep)
        );
    }

    #[test]
    fn an_api_kept_unread_carries_the_failure_its_book_recorded() {
        let c = collector();
        let now = Instant::now();
        let before = Api {
            id: "a1".into(),
            name: "orders".into(),
            api_type: ApiType::Rest,
            stages: vec![stage("prod", "d1")],
            ..Default::default()
        };
        // A poll cut off by its timeout recorded the failure in the book
        // only; the next poll keeps the API (its retry is not due) and
        // must still say why.
        let failed = Reads {
            retry_after: Some(now + Duration::from_secs(300)),
            error: Some("GetStages failed: InternalFailure".into()),
            ..c.first_reads("a1", now)
        };
        let kept_failed = kept(&before, Some(&failed));
        assert_eq!(kept_failed.read_error, failed.error);
        assert_eq!(kept_failed.stages, before.stages);
        // Read again since: the error is gone.
        let read = Reads {
            retry_after: None,
            error: None,
            ..failed.clone()
        };
        assert_eq!(kept(&kept_failed, Some(&read)).read_error, None);
        // Not in the book (read before a reload): the inventory's word.
        assert_eq!(kept(&kept_failed, None).read_error, failed.error);
    }

    #[test]
    fn status_messages_keep_what_names_the_object_and_drop_what_churns() {
        for (aws, label) in [
            (
                "NLB ARN is malformed or NLB not found: arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/orders/50dc6c495c0c9188",
                "NLB ARN is malformed or NLB not found: arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/orders/50dc6c495c0c9188",
            ),
            (
                "NLB is already associated with another VPC Endpoint Service: vpce-svc-0123456789abcdef0 (Service: AmazonEC2; Status Code: 400; Error Code: InvalidParameter; Request ID: 8c1b2f3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f; Proxy: null)",
                "NLB is already associated with another VPC Endpoint Service: vpce-svc-0123456789abcdef0 (Service: AmazonEC2; Status Code: 400; Error Code: InvalidParameter; Proxy: null)",
            ),
            (
                "Failed  to create\tENI at 2024-05-14T10:21:33.412Z (RequestId: 8c1b2f3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f)",
                "Failed to create ENI at",
            ),
            (
                "Could not attach (Request ID: 8c1b2f3e-4a5b-6c7d-8e9f-0a1b2c3d4e5f)",
                "Could not attach",
            ),
            (
                "Your vpc link is ready for use",
                "Your vpc link is ready for use",
            ),
            ("   ", ""),
        ] {
            assert_eq!(stable_message(aws), label, "{aws}");
        }
        // The same failure on two retries: one series.
        assert_eq!(
            stable_message(
                "Error at 2024-05-14T10:21:33Z, Request ID: 11111111-2222-3333-4444-555555555555"
            ),
            stable_message(
                "Error at 2024-05-14T10:29:01Z, Request ID: 66666666-7777-8888-9999-000000000000"
            ),
        );
        let long = "x".repeat(1000);
        let cut = stable_message(&format!("<b>{long}</b>"));
        assert_eq!(cut.chars().count(), MESSAGE_LABEL_CHARS + 1);
        assert!(cut.starts_with("<b>") && cut.ends_with('…'));
    }

    #[test]
    fn deployments_compare_whatever_the_order_of_the_stages() {
        let a = [stage("prod", "d1"), stage("dev", "d2")];
        let b = [stage("dev", "d2"), stage("prod", "d1")];
        assert_eq!(deployments(&a), deployments(&b));
        let redeployed = [stage("dev", "d2"), stage("prod", "d3")];
        assert_ne!(deployments(&a), deployments(&redeployed));
        let new_stage = [stage("dev", "d2"), stage("prod", "d1"), stage("qa", "d1")];
        assert_ne!(deployments(&a), deployments(&new_stage));
    }
}
