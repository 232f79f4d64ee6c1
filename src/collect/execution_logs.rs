//! Execution-log error counts, every event exactly once.
//!
//! Reads, for every REST stage with execution logging on, the group
//! `API-Gateway-Execution-Logs_{apiId}/{stage}` (only the lines it counts:
//! a server-side filter), for every HTTP API stage whose JSON access-log
//! format carries `$context.integrationErrorMessage` its access-log group,
//! and the groups the config names. A group that cannot be read fails alone.

use crate::inventory::Scope;
use crate::render::{Families, Kind, Snapshot, scope_labels};
use crate::topology::Topology;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::collector::{Collector, Descriptor, Fragment};
use super::state_file::{self, CLOCK_SKEW_MS, ScopeState, StateFile};
use crate::aws::{AwsError, AwsScope};
use crate::classify::Tally;
use crate::config::ExecutionLogsConfig;
use crate::inventory::{ApiType, ExecutionLogs, Inventory, LogGroupStatus, LogRead};
use crate::lock::LockOrRecover;
use crate::logs::{self, EXECUTION_LOG_FILTER, LineFormat, LogCursor};
use async_trait::async_trait;
use std::sync::Arc;

/// One log group to read and what its lines are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    pub group: String,
    pub api_id: String,
    pub stage: String,
    pub format: LineFormat,
}

/// The log groups of a scope's stages, plus the configured ones.
pub fn sources(known: &Inventory, extra: &[crate::config::ExtraLogGroup]) -> Vec<LogSource> {
    let mut out = Vec::new();
    for api in known.apis.iter().flatten() {
        for stage in &api.stages {
            match api.api_type {
                ApiType::Rest => {
                    if matches!(stage.logging_level.as_deref(), Some("info" | "error")) {
                        out.push(LogSource {
                            group: format!("API-Gateway-Execution-Logs_{}/{}", api.id, stage.name),
                            api_id: api.id.clone(),
                            stage: stage.name.clone(),
                            format: LineFormat::Execution,
                        });
                    }
                }
                ApiType::Http => {
                    let group = stage.access_log_arn.as_deref().and_then(log_group_of_arn);
                    let format = stage
                        .access_log_format
                        .as_deref()
                        .and_then(logs::access_log_keys);
                    if let (Some(group), Some(format)) = (group, format) {
                        out.push(LogSource {
                            group,
                            api_id: api.id.clone(),
                            stage: stage.name.clone(),
                            format,
                        });
                    }
                }
            }
        }
    }
    for e in extra {
        if !out.iter().any(|s| s.group == e.log_group) {
            out.push(LogSource {
                group: e.log_group.clone(),
                api_id: e.api_id.clone(),
                stage: e.stage.clone(),
                format: LineFormat::Execution,
            });
        }
    }
    out
}

/// `arn:aws:logs:region:account:log-group:NAME[:*]` -> `NAME`.
pub fn log_group_of_arn(arn: &str) -> Option<String> {
    let rest = arn.split_once(":log-group:")?.1;
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    (!name.is_empty()).then(|| name.to_owned())
}

pub struct ExecutionLogsCollector {
    config: ExecutionLogsConfig,
    /// How long an error class's newest time matters to the checks
    /// (`diagnosis.tls_error_window`): what the state file keeps of them.
    error_window_ms: i64,
    /// What the state file held, and since then what each scope's polls
    /// left: cursors for groups this process has not read yet, error times
    /// a restart must not forget.
    saved: Mutex<StateFile>,
    /// Problems met loading the state file, reported by the first poll.
    load_problems: Mutex<BTreeMap<&'static str, u64>>,
    /// The last read error per group, so a persistent one is logged once.
    errors: Mutex<BTreeMap<String, String>>,
    /// The last error writing the state file, so a persistent one is logged once.
    write_error: Mutex<Option<String>>,
    /// Snapshots of `saved` taken to be written, numbered in the order
    /// taken, and the number of the newest one written: scopes write
    /// concurrently, off the runtime, and an older snapshot never
    /// overwrites a newer one.
    snapshots: std::sync::atomic::AtomicU64,
    written: Arc<Mutex<u64>>,
    /// Per scope (`account/region`), when each group was last read: the
    /// order of the next poll's reads, least recently read first.
    last_read: Mutex<BTreeMap<String, BTreeMap<String, std::time::Instant>>>,
}

impl ExecutionLogsCollector {
    pub fn new(config: ExecutionLogsConfig, error_window: std::time::Duration) -> Self {
        let (saved, problems) = config
            .state_file
            .as_deref()
            .map(state_file::load)
            .unwrap_or_default();
        Self {
            config,
            error_window_ms: i64::try_from(error_window.as_millis()).unwrap_or(i64::MAX),
            saved: Mutex::new(saved),
            load_problems: Mutex::new(problems),
            errors: Mutex::new(BTreeMap::new()),
            write_error: Mutex::new(None),
            snapshots: std::sync::atomic::AtomicU64::new(0),
            written: Arc::default(),
            last_read: Mutex::new(BTreeMap::new()),
        }
    }

    fn state_path(&self) -> Option<&PathBuf> {
        self.config.state_file.as_ref()
    }

    /// Writes the scope's part of the state file; a failure is logged when
    /// it is new (not on every poll) and counted every time.
    async fn save(&self, path: &Path, scope_key: String, scope: ScopeState) -> bool {
        let snapshot = {
            let mut saved = lock(&self.saved);
            saved.scopes.insert(scope_key, scope);
            // Scopes no longer polled go once all they hold is stale.
            saved.prune(now_ms());
            let number = self
                .snapshots
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1;
            saved.encode().map(|bytes| (number, bytes))
        };
        let (path_owned, written) = (path.to_owned(), self.written.clone());
        // The write (and its fsync) runs off the runtime's workers, and no
        // scope's poll waits on another's but for the file itself.
        let written = match snapshot {
            Err(e) => Err(e),
            Ok((number, bytes)) => tokio::task::spawn_blocking(move || {
                let mut newest = lock(&written);
                if *newest > number {
                    return Ok(());
                }
                state_file::write(&path_owned, &bytes)?;
                *newest = number;
                Ok(())
            })
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e))),
        };
        let mut last = lock(&self.write_error);
        match written {
            Ok(()) => {
                if last.take().is_some() {
                    tracing::info!(path = %path.display(), "the execution-log state file is written again");
                }
                true
            }
            Err(e) => {
                let text = e.to_string();
                if last.as_deref() != Some(text.as_str()) {
                    tracing::warn!(path = %path.display(), error = %text, "cannot write the execution-log state file (counted in awsconn_execution_log_state_file_errors_total; repeats are logged at debug level)");
                } else {
                    tracing::debug!(path = %path.display(), error = %text, "cannot write the execution-log state file again");
                }
                *last = Some(text);
                false
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock_or_recover()
}

/// A cursor can be trusted when its position is not before the epoch nor
/// ahead of now (give or take clock skew): a cursor in the future would skip
/// every event until then.
fn cursor_is_possible(cursor: &LogCursor, now_ms: i64) -> bool {
    (0..=now_ms.saturating_add(CLOCK_SKEW_MS)).contains(&cursor.position_ms)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Adds `from`'s newest error times to `into`, keeping the newer of two.
fn merge_newest(
    into: &mut BTreeMap<(String, String), crate::logs::NewestErrors>,
    from: &BTreeMap<(String, String), crate::logs::NewestErrors>,
) {
    for (stage, classes) in from {
        let known = into.entry(stage.clone()).or_default();
        for (class, at) in classes {
            let kept = known.entry(*class).or_insert(*at);
            *kept = (*kept).max(*at);
        }
    }
}

#[async_trait]
impl Collector for ExecutionLogsCollector {
    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError> {
        let account = aws.account_id().await?;
        let scope_key = format!("{account}/{}", aws.region());
        let previous = known.execution_logs.clone().unwrap_or_default();
        let saved: ScopeState = lock(&self.saved)
            .scopes
            .get(&scope_key)
            .cloned()
            .unwrap_or_default();
        let lookback = i64::try_from(self.config.lookback.as_millis()).unwrap_or(i64::MAX);
        let overlap = i64::try_from(self.config.overlap.as_millis()).unwrap_or(i64::MAX);

        // State-file problems are counted once, by whichever scope's poll
        // ends first: a poll cut short gives them back.
        let problems = Unreported::take(&self.load_problems);
        let mut delta = ExecutionLogs::default();
        let now = now_ms();
        // The error times the state file kept: what a process before this
        // one read, behind the saved cursors, and will not be read again.
        // Merging keeps the newer of two times, so doing it every poll is
        // harmless.
        merge_newest(
            &mut delta.newest_errors,
            &state_file::recent(&saved.newest_errors, now, self.error_window_ms),
        );
        // What the state file will hold: every cursor saved or read, so a
        // group that is not read this time (its read failed, or its API is
        // not known yet because another call failed) keeps its place.
        let mut all_cursors = saved.cursors.clone();
        all_cursors.extend(previous.cursors.clone());
        // Least recently read first (never read first of all): when the
        // quota cannot fit every group in one poll, the rest wait for the
        // next, and every group takes its turn.
        let mut last_read = lock(&self.last_read)
            .get(&scope_key)
            .cloned()
            .unwrap_or_default();
        let mut pending = sources(known, &self.config.log_groups);
        // A cursor of a group no longer read (deleted, or its stage's
        // logging turned off) goes a week after its newest event: the
        // file does not grow with every group there ever was.
        all_cursors.retain(|group, cursor| {
            pending.iter().any(|s| &s.group == group)
                || cursor.position_ms >= now.saturating_sub(state_file::STALE_MS)
        });
        pending.sort_by_key(|s| last_read.get(&s.group).copied());
        last_read.retain(|group, _| pending.iter().any(|s| &s.group == group));
        let mut pending = pending.into_iter();
        // Whether a group resumed from a version 1 file is still to have
        // the window behind its cursor read (the next process does it then).
        let mut backfill_left = false;
        while let Some(source) = pending.next() {
            let in_memory = previous.cursors.get(&source.group);
            let from_file = saved.cursors.get(&source.group).filter(|c| {
                let possible = cursor_is_possible(c, now);
                if !possible && in_memory.is_none() {
                    // Never written back: refused once, not on every poll.
                    all_cursors.remove(&source.group);
                    tracing::warn!(
                        log_group = %source.group,
                        position_ms = c.position_ms,
                        "the saved cursor of this log group cannot be true (in the future or before 1970); reading it from the lookback instead"
                    );
                    delta.rejected_cursors += 1;
                }
                possible
            });
            let resumed_without_error_times =
                saved.backfill && in_memory.is_none() && from_file.is_some();
            let mut cursor = in_memory.or(from_file).cloned().unwrap_or_default();
            let (start, end) = logs::read_range(Some(&cursor), now, lookback, overlap);
            let pattern =
                matches!(source.format, LineFormat::Execution).then_some(EXECUTION_LOG_FILTER);
            // A cursor from a file that kept no error times (version 1):
            // this read starts at the window's beginning, and what it
            // finds behind the cursor (counted by the process that wrote
            // it) gives its error times only.
            let read_from = if resumed_without_error_times {
                now.saturating_sub(self.error_window_ms).clamp(0, start)
            } else {
                start
            };
            let read = aws.log_events(&source.group, read_from, end, pattern).await;
            // A group that does not exist holds no event to backfill; one
            // whose read failed otherwise is tried again by the next process.
            if resumed_without_error_times
                && read
                    .as_ref()
                    .is_err_and(|e| e.code.as_deref() != Some(NOT_FOUND))
            {
                backfill_left = true;
            }
            // Read, or tried until the quota ran out: to the back of the
            // order, so that a group with more pages than one poll's quota
            // does not hold up the others.
            last_read.insert(source.group.clone(), std::time::Instant::now());
            if let Err(e) = &read
                && e.is_quota_exhausted()
            {
                // Not a failure of the group: it, and the groups after it,
                // are read next poll from where their cursors stand. One
                // never read yet is pending: the checks that need it are
                // not known until it is read.
                let deferred: Vec<LogSource> =
                    std::iter::once(source).chain(pending.by_ref()).collect();
                tracing::debug!(
                    groups = deferred.len(),
                    "the logs quota is spent for this poll; the rest of the log groups wait for the next"
                );
                for source in deferred {
                    let status =
                        previous
                            .groups
                            .get(&source.group)
                            .cloned()
                            .unwrap_or(LogGroupStatus {
                                api_id: source.api_id,
                                stage: source.stage,
                                read: LogRead::Pending,
                            });
                    delta.groups.insert(source.group, status);
                    delta.deferred += 1;
                }
                break;
            }
            let read = match read {
                Ok(mut events) => {
                    let mut tally = Tally::new();
                    let newest = delta
                        .newest_errors
                        .entry((source.api_id.clone(), source.stage.clone()))
                        .or_default();
                    if resumed_without_error_times {
                        logs::note_error_times(&events, &source.format, newest);
                        events.retain(|e| e.timestamp_ms >= start);
                    }
                    logs::absorb(
                        &mut cursor,
                        &events,
                        &source.format,
                        overlap,
                        &mut tally,
                        newest,
                    );
                    delta
                        .counts
                        .entry((source.api_id.clone(), source.stage.clone()))
                        .or_default()
                        .merge(&tally);
                    all_cursors.insert(source.group.clone(), cursor.clone());
                    delta.cursors.insert(source.group.clone(), cursor);
                    lock(&self.errors).remove(&source.group);
                    LogRead::Ok
                }
                Err(error)
                    if matches!(source.format, LineFormat::Execution)
                        && error.code.as_deref() == Some(NOT_FOUND) =>
                {
                    // API Gateway has not logged a line to it yet.
                    let new = lock(&self.errors)
                        .insert(source.group.clone(), NOT_FOUND.to_owned())
                        .as_deref()
                        != Some(NOT_FOUND);
                    if new {
                        tracing::info!(log_group = %source.group, "the log group does not exist (yet): API Gateway creates it with the stage's first logged line, so it holds nothing to count");
                    }
                    LogRead::Absent
                }
                Err(error) => {
                    let text = error.to_string();
                    let repeated = lock(&self.errors)
                        .insert(source.group.clone(), text.clone())
                        .as_deref()
                        == Some(text.as_str());
                    if repeated {
                        tracing::debug!(log_group = %source.group, %error, "cannot read the log group again");
                    } else {
                        tracing::warn!(log_group = %source.group, %error, "cannot read the log group; its counts stay as they were, and the checks that need it are not known until it is read");
                    }
                    LogRead::Failed {
                        code: error.kind_label(),
                        message: text,
                    }
                }
            };
            delta.groups.insert(
                source.group.clone(),
                LogGroupStatus {
                    api_id: source.api_id,
                    stage: source.stage,
                    read,
                },
            );
        }
        delta.newest_errors.retain(|_, classes| !classes.is_empty());

        lock(&self.last_read).insert(scope_key.clone(), last_read);
        if let Some(path) = self
            .state_path()
            .filter(|_| !self.config.state_file_read_only)
        {
            let mut newest = previous.newest_errors.clone();
            merge_newest(&mut newest, &delta.newest_errors);
            let scope = ScopeState {
                cursors: all_cursors,
                newest_errors: state_file::recent(&newest, now, self.error_window_ms),
                backfill: backfill_left,
            };
            if !self.save(path, scope_key, scope).await {
                *delta.state_file_errors.entry("write_failed").or_default() += 1;
            }
        }
        for (kind, n) in problems.report() {
            *delta.state_file_errors.entry(kind).or_default() += n;
        }
        Ok(Fragment::ExecutionLogs(delta))
    }
}

/// State-file problems taken by a poll to report; given back unless reported.
struct Unreported<'a> {
    home: &'a Mutex<BTreeMap<&'static str, u64>>,
    problems: BTreeMap<&'static str, u64>,
}

impl<'a> Unreported<'a> {
    fn take(home: &'a Mutex<BTreeMap<&'static str, u64>>) -> Self {
        let problems = std::mem::take(&mut *home.lock_or_recover());
        Unreported { home, problems }
    }

    fn report(mut self) -> BTreeMap<&'static str, u64> {
        std::mem::take(&mut self.problems)
    }
}

impl Drop for Unreported<'_> {
    fn drop(&mut self) {
        if !self.problems.is_empty() {
            let mut home = self.home.lock_or_recover();
            for (kind, n) in std::mem::take(&mut self.problems) {
                *home.entry(kind).or_default() += n;
            }
        }
    }
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    name: awsconn_catalogue::collector::EXECUTION_LOGS,
    stage: 1,
    operations: &[("cloudwatchlogs", "FilterLogEvents")],
    schedule: |c| c.execution_logs.schedule(),
    build: |config| {
        Arc::new(ExecutionLogsCollector::new(
            config.collectors.execution_logs.clone(),
            config.diagnosis.tls_error_window,
        ))
    },
    forget: |inventory| inventory.execution_logs = None,
    render,
};

/// CloudWatch Logs' answer for a log group that does not exist.
const NOT_FOUND: &str = "ResourceNotFoundException";

const READ_SUCCESS_HELP: &str = "1 if the latest read of the log group succeeded";

/// `awsconn_execution_*`.
fn render(f: &mut Families, scope: &Scope, topology: &Topology, _: &Snapshot) {
    if let Some(logs) = &topology.inventory.execution_logs {
        execution_log_families(f, scope, logs);
    }
}

fn execution_log_families(f: &mut Families, scope: &Scope, logs: &ExecutionLogs) {
    f.add(
        "awsconn_execution_log_cursors_rejected",
        "Saved execution-log cursors refused because they could not be true (in the future, or before 1970); those groups were read from the lookback",
        Kind::Counter,
        scope_labels(scope),
        logs.rejected_cursors as f64,
    );
    f.add(
        "awsconn_execution_log_groups_deferred",
        "Log groups the latest poll left for the next because the exporter's share of the FilterLogEvents quota had no slot for them before its timeout; their events are read then, none lost",
        Kind::Gauge,
        scope_labels(scope),
        logs.deferred as f64,
    );
    for kind in crate::inventory::STATE_FILE_ERRORS {
        let mut labels = scope_labels(scope);
        labels.push(("error", (*kind).to_string()));
        f.add(
            "awsconn_execution_log_state_file_errors",
            "Problems with the execution-log state file: unreadable, corrupt (set aside as FILE.corrupt), foreign (another format or version, set aside as FILE.foreign), bad_entry (one cursor dropped, the rest kept), write_failed",
            Kind::Counter,
            labels,
            logs.state_file_errors.get(kind).copied().unwrap_or(0) as f64,
        );
    }
    for ((api_id, stage), tally) in &logs.counts {
        let mut base = scope_labels(scope);
        base.push(("api_id", api_id.clone()));
        base.push(("stage", stage.clone()));
        f.add(
            "awsconn_execution_log_lines",
            "Execution-log events read (after the server-side filter)",
            Kind::Counter,
            base.clone(),
            tally.lines as f64,
        );
        for (class, n) in tally.classes() {
            let mut labels = base.clone();
            labels.push(("class", class.as_str().to_owned()));
            f.add(
                "awsconn_execution_errors",
                "Integration failures in the execution log, by class",
                Kind::Counter,
                labels,
                n as f64,
            );
        }
        for (status, n) in &tally.statuses {
            let mut labels = base.clone();
            labels.push(("status", status.to_string()));
            f.add(
                "awsconn_execution_responses",
                "Responses in the execution log (Method completed with status), by status",
                Kind::Counter,
                labels,
                *n as f64,
            );
        }
    }
    for (group, status) in &logs.groups {
        let mut labels = scope_labels(scope);
        labels.extend([
            ("api_id", status.api_id.clone()),
            ("stage", status.stage.clone()),
            ("log_group", group.clone()),
        ]);
        match &status.read {
            // Not read yet: neither a success nor a failure of the group
            // (awsconn_execution_log_groups_deferred counts it).
            LogRead::Pending => {}
            LogRead::Ok => f.add(
                "awsconn_execution_log_read_success",
                READ_SUCCESS_HELP,
                Kind::Gauge,
                labels,
                1.0,
            ),
            LogRead::Failed { .. } | LogRead::Absent => {
                f.add(
                    "awsconn_execution_log_read_success",
                    READ_SUCCESS_HELP,
                    Kind::Gauge,
                    labels.clone(),
                    0.0,
                );
                let code = match &status.read {
                    LogRead::Failed { code, .. } => code.clone(),
                    _ => NOT_FOUND.to_owned(),
                };
                labels.push(("error", code));
                f.add(
                    "awsconn_execution_log_read_error_info",
                    "1 while the latest read of the log group failed, with AWS's error code (or error): the runbook checks that need the group are unknown meanwhile, except for a REST execution-log group that does not exist (ResourceNotFoundException), which holds no event",
                    Kind::Gauge,
                    labels,
                    1.0,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Api, Stage};

    #[test]
    fn impossible_cursors_are_refused() {
        let at = |position_ms| LogCursor {
            position_ms,
            ..Default::default()
        };
        let now = 1_800_000_000_000;
        assert!(cursor_is_possible(&at(now - 60_000), now));
        assert!(
            cursor_is_possible(&at(now + CLOCK_SKEW_MS), now),
            "clock skew"
        );
        assert!(!cursor_is_possible(&at(now + CLOCK_SKEW_MS + 1), now));
        assert!(!cursor_is_possible(&at(-1), now));
        assert!(!cursor_is_possible(&at(i64::MAX), now));
    }

    #[test]
    fn log_group_names_from_arns() {
        assert_eq!(
            log_group_of_arn("arn:aws:logs:us-east-1:123456789012:log-group:/aws/http/web:*")
                .as_deref(),
            Some("/aws/http/web")
        );
        assert_eq!(
            log_group_of_arn("arn:aws:logs:us-east-1:1:log-group:g").as_deref(),
            Some("g")
        );
        assert_eq!(log_group_of_arn("arn:aws:firehose:x"), None);
    }

    #[test]
    fn sources_follow_the_stage_settings() {
        let stage =
            |name: &str, level: Option<&str>, arn: Option<&str>, format: Option<&str>| Stage {
                name: name.into(),
                logging_level: level.map(str::to_owned),
                access_log_arn: arn.map(str::to_owned),
                access_log_format: format.map(str::to_owned),
                ..Default::default()
            };
        let inventory = Inventory {
            apis: Some(vec![
                Api {
                    id: "rest1".into(),
                    name: "r".into(),
                    api_type: ApiType::Rest,
                    stages: vec![
                        stage("prod", Some("info"), None, None),
                        stage("dev", Some("off"), None, None),
                    ],
                    ..Default::default()
                },
                Api {
                    id: "http1".into(),
                    name: "h".into(),
                    api_type: ApiType::Http,
                    stages: vec![
                        stage(
                            "$default",
                            None,
                            Some("arn:aws:logs:us-east-1:1:log-group:web-access"),
                            Some(r#"{"e":"$context.integrationErrorMessage"}"#),
                        ),
                        stage(
                            "clf",
                            None,
                            Some("arn:aws:logs:us-east-1:1:log-group:clf"),
                            Some("$context.requestId"),
                        ),
                    ],
                    ..Default::default()
                },
            ]),
            ..Default::default()
        };
        let extra = [crate::config::ExtraLogGroup {
            log_group: "custom".into(),
            api_id: "x".into(),
            stage: "y".into(),
        }];
        let groups: Vec<String> = sources(&inventory, &extra)
            .into_iter()
            .map(|s| s.group)
            .collect();
        assert_eq!(
            groups,
            [
                "API-Gateway-Execution-Logs_rest1/prod",
                "web-access",
                "custom"
            ]
        );
    }
}
