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

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Collector, Descriptor, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::classify::Tally;
use crate::config::ExecutionLogsConfig;
use crate::inventory::{ApiType, ExecutionLogs, Inventory, LogGroupStatus};
use crate::logs::{self, EXECUTION_LOG_FILTER, LineFormat, LogCursor};
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

/// The state file: each log group's cursor, by account and region.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    /// "account/region" -> log group -> cursor.
    scopes: BTreeMap<String, BTreeMap<String, LogCursor>>,
}

/// Reads the state file, trusting what can be trusted: a file that is not
/// JSON (truncated, overwritten) or of another format is set aside beside it
/// (`.corrupt`, `.foreign`) for a person to look at, never overwritten, and
/// every group starts from the lookback; in a good file a malformed cursor
/// is dropped alone and the others are kept. Each problem is logged and
/// counted (the second value).
fn load_state(path: &Path) -> (StateFile, BTreeMap<&'static str, u64>) {
    let mut problems = BTreeMap::new();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (StateFile::default(), problems);
        }
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the execution-log state file; every log group starts from the lookback");
            problems.insert("unreadable", 1);
            return (StateFile::default(), problems);
        }
    };
    let (state, bad_entries) = match parse_state(&bytes) {
        Ok(parsed) => parsed,
        Err(kind) => {
            let aside = set_aside(path, kind);
            tracing::warn!(
                path = %path.display(),
                set_aside = %aside.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
                problem = kind,
                "the execution-log state file cannot be used (not JSON, or not this exporter's format); it is set aside and every log group starts from the lookback"
            );
            problems.insert(kind, 1);
            return (StateFile::default(), problems);
        }
    };
    if bad_entries > 0 {
        tracing::warn!(path = %path.display(), dropped = bad_entries, "malformed cursors in the execution-log state file were dropped; their log groups start from the lookback, the others resume");
        problems.insert("bad_entry", bad_entries);
    }
    (state, problems)
}

/// Renames an unusable state file to `FILE.KIND` (`FILE.KIND.1`, ... when
/// taken), never over an earlier one; `None` when it cannot be moved.
fn set_aside(path: &Path, kind: &str) -> Option<PathBuf> {
    let free = (0..100).map(|n| {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".{kind}"));
        if n > 0 {
            name.push(format!(".{n}"));
        }
        PathBuf::from(name)
    });
    let aside = free.into_iter().find(|p| !p.exists())?;
    std::fs::rename(path, &aside).ok()?;
    Some(aside)
}

/// Parses a state file: `Err("corrupt")` when it is not JSON, `Err("foreign")`
/// when it is JSON of another shape or version; else the state with the
/// number of malformed cursors left out.
fn parse_state(bytes: &[u8]) -> Result<(StateFile, u64), &'static str> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| "corrupt")?;
    if value.get("version").and_then(serde_json::Value::as_u64) != Some(1) {
        return Err("foreign");
    }
    let scopes = value
        .get("scopes")
        .and_then(serde_json::Value::as_object)
        .ok_or("foreign")?;
    let mut state = StateFile {
        version: 1,
        scopes: BTreeMap::new(),
    };
    let mut bad = 0;
    for (scope, groups) in scopes {
        let Some(groups) = groups.as_object() else {
            bad += 1;
            continue;
        };
        let cursors = state.scopes.entry(scope.clone()).or_default();
        for (group, cursor) in groups {
            match serde_json::from_value::<LogCursor>(cursor.clone()) {
                Ok(cursor) => {
                    cursors.insert(group.clone(), cursor);
                }
                Err(_) => bad += 1,
            }
        }
    }
    Ok((state, bad))
}

/// Writes the state atomically: a reader sees the old file or the new one, never half.
fn save_state(path: &Path, state: &StateFile) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec(state).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, path)
}

pub struct ExecutionLogsCollector {
    config: ExecutionLogsConfig,
    /// Cursors from the state file, for groups this process has not read yet.
    saved: Mutex<StateFile>,
    /// Problems met loading the state file, reported by the first poll.
    load_problems: Mutex<BTreeMap<&'static str, u64>>,
    /// The last read error per group, so a persistent one is logged once.
    errors: Mutex<BTreeMap<String, String>>,
    /// Per scope (`account/region`), when each group was last read: the
    /// order of the next poll's reads, least recently read first.
    last_read: Mutex<BTreeMap<String, BTreeMap<String, std::time::Instant>>>,
}

impl ExecutionLogsCollector {
    pub fn new(config: ExecutionLogsConfig) -> Self {
        let (saved, problems) = config
            .state_file
            .as_deref()
            .map(load_state)
            .unwrap_or_default();
        Self {
            config,
            saved: Mutex::new(saved),
            load_problems: Mutex::new(problems),
            errors: Mutex::new(BTreeMap::new()),
            last_read: Mutex::new(BTreeMap::new()),
        }
    }

    fn state_path(&self) -> Option<&PathBuf> {
        self.config.state_file.as_ref()
    }
}

/// How far ahead of this machine's clock a saved cursor may be (clock skew
/// between the machine that wrote the state file and this one).
const CLOCK_SKEW_MS: i64 = 5 * 60_000;

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

#[async_trait]
impl Collector for ExecutionLogsCollector {
    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError> {
        let account = aws.account_id().await?;
        let scope_key = format!("{account}/{}", aws.region());
        let previous = known.execution_logs.clone().unwrap_or_default();
        let saved: BTreeMap<String, LogCursor> = self
            .saved
            .lock()
            .map(|s| s.scopes.get(&scope_key).cloned().unwrap_or_default())
            .unwrap_or_default();
        let lookback = i64::try_from(self.config.lookback.as_millis()).unwrap_or(i64::MAX);
        let overlap = i64::try_from(self.config.overlap.as_millis()).unwrap_or(i64::MAX);

        // State-file problems are counted once, by whichever scope's poll
        // ends first: a poll cut short gives them back.
        let problems = Unreported::take(&self.load_problems);
        let mut delta = ExecutionLogs::default();
        let now = now_ms();
        // What the state file will hold: every cursor saved or read, so a
        // group that is not read this time (its read failed, or its API is
        // not known yet because another call failed) keeps its place.
        let mut all_cursors = saved.clone();
        all_cursors.extend(previous.cursors.clone());
        // Least recently read first (never read first of all): when the
        // quota cannot fit every group in one poll, the rest wait for the
        // next, and every group takes its turn.
        let mut last_read = self
            .last_read
            .lock()
            .map(|l| l.get(&scope_key).cloned().unwrap_or_default())
            .unwrap_or_default();
        let mut pending = sources(known, &self.config.log_groups);
        pending.sort_by_key(|s| last_read.get(&s.group).copied());
        last_read.retain(|group, _| pending.iter().any(|s| &s.group == group));
        let mut pending = pending.into_iter();
        while let Some(source) = pending.next() {
            let in_memory = previous.cursors.get(&source.group);
            let from_file = saved.get(&source.group).filter(|c| {
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
            let mut cursor = in_memory.or(from_file).cloned().unwrap_or_default();
            let (start, end) = logs::read_range(Some(&cursor), now, lookback, overlap);
            let pattern =
                matches!(source.format, LineFormat::Execution).then_some(EXECUTION_LOG_FILTER);
            let read = aws.log_events(&source.group, start, end, pattern).await;
            // Read, or tried until the quota ran out: to the back of the
            // order, so that a group with more pages than one poll's quota
            // does not hold up the others.
            last_read.insert(source.group.clone(), std::time::Instant::now());
            if let Err(e) = &read
                && e.is_quota_exhausted()
            {
                // Not a failure of the group: it, and the groups after it,
                // are read next poll from where their cursors stand.
                let deferred: Vec<LogSource> =
                    std::iter::once(source).chain(pending.by_ref()).collect();
                tracing::debug!(
                    groups = deferred.len(),
                    "the logs quota is spent for this poll; the rest of the log groups wait for the next"
                );
                for source in deferred {
                    if let Some(status) = previous.groups.get(&source.group) {
                        delta.groups.insert(source.group, status.clone());
                    }
                    delta.deferred += 1;
                }
                break;
            }
            let ok = match read {
                Ok(events) => {
                    let mut tally = Tally::new();
                    let newest = delta
                        .newest_errors
                        .entry((source.api_id.clone(), source.stage.clone()))
                        .or_default();
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
                    if let Ok(mut errors) = self.errors.lock() {
                        errors.remove(&source.group);
                    }
                    true
                }
                Err(error) => {
                    let text = error.to_string();
                    let repeated = self
                        .errors
                        .lock()
                        .map(|mut e| {
                            e.insert(source.group.clone(), text.clone()).as_deref()
                                == Some(text.as_str())
                        })
                        .unwrap_or(false);
                    if repeated {
                        tracing::debug!(log_group = %source.group, %error, "cannot read the log group again");
                    } else {
                        tracing::warn!(log_group = %source.group, %error, "cannot read the log group; its counts stay as they were");
                    }
                    false
                }
            };
            delta.groups.insert(
                source.group.clone(),
                LogGroupStatus {
                    api_id: source.api_id,
                    stage: source.stage,
                    ok,
                },
            );
        }

        if let Ok(mut l) = self.last_read.lock() {
            l.insert(scope_key.clone(), last_read);
        }
        if let Some(path) = self.state_path() {
            let mut saved = self.saved.lock().unwrap_or_else(|p| p.into_inner());
            saved.version = 1;
            saved.scopes.insert(scope_key, all_cursors);
            if let Err(e) = save_state(path, &saved) {
                tracing::warn!(path = %path.display(), error = %e, "cannot write the execution-log state file");
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
        let problems = std::mem::take(&mut *home.lock().unwrap_or_else(|p| p.into_inner()));
        Unreported { home, problems }
    }

    fn report(mut self) -> BTreeMap<&'static str, u64> {
        std::mem::take(&mut self.problems)
    }
}

impl Drop for Unreported<'_> {
    fn drop(&mut self) {
        if !self.problems.is_empty() {
            let mut home = self.home.lock().unwrap_or_else(|p| p.into_inner());
            for (kind, n) in std::mem::take(&mut self.problems) {
                *home.entry(kind).or_default() += n;
            }
        }
    }
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    name: "execution_logs",
    stage: 1,
    operations: &[("cloudwatchlogs", "FilterLogEvents")],
    schedule: |c| c.execution_logs.schedule(),
    build: |config| {
        Arc::new(ExecutionLogsCollector::new(
            config.collectors.execution_logs.clone(),
        ))
    },
    forget: |inventory| inventory.execution_logs = None,
    render,
};

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
        f.add(
            "awsconn_execution_log_read_success",
            "1 if the latest read of the log group succeeded",
            Kind::Gauge,
            labels,
            f64::from(u8::from(status.ok)),
        );
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
                    integrations: vec![],
                    stages: vec![
                        stage("prod", Some("info"), None, None),
                        stage("dev", Some("off"), None, None),
                    ],
                    read_error: None,
                },
                Api {
                    id: "http1".into(),
                    name: "h".into(),
                    api_type: ApiType::Http,
                    integrations: vec![],
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
                    read_error: None,
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

    #[test]
    fn state_file_round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut state = StateFile {
            version: 1,
            ..Default::default()
        };
        state
            .scopes
            .entry("1/us-east-1".into())
            .or_default()
            .insert(
                "g".into(),
                LogCursor {
                    position_ms: 42,
                    recent_ids: [("id".to_owned(), 42)].into(),
                },
            );
        save_state(&path, &state).unwrap();
        let (loaded, problems) = load_state(&path);
        assert_eq!(loaded.scopes, state.scopes);
        assert!(problems.is_empty());
        let (missing, problems) = load_state(&dir.path().join("missing.json"));
        assert!(
            missing.scopes.is_empty() && problems.is_empty(),
            "no file: no problem"
        );

        // Truncated: nothing to trust; set aside, not overwritten.
        let good = std::fs::read(&path).unwrap();
        std::fs::write(&path, &good[..good.len() / 2]).unwrap();
        let (loaded, problems) = load_state(&path);
        assert!(loaded.scopes.is_empty());
        assert_eq!(problems, [("corrupt", 1)].into());
        assert!(!path.exists());
        assert_eq!(
            std::fs::read(dir.path().join("state.json.corrupt")).unwrap(),
            &good[..good.len() / 2]
        );

        // Another format or version: set aside too.
        for foreign in [
            &b"{\"version\": 2, \"scopes\": {}}"[..],
            b"[1, 2, 3]",
            b"{\"cursors\": {}}",
        ] {
            std::fs::write(&path, foreign).unwrap();
            let (loaded, problems) = load_state(&path);
            assert!(loaded.scopes.is_empty());
            assert_eq!(
                problems,
                [("foreign", 1)].into(),
                "{}",
                String::from_utf8_lossy(foreign)
            );
            assert!(dir.path().join("state.json.foreign").exists());
        }

        // One malformed cursor: dropped alone, the others resume.
        std::fs::write(
            &path,
            br#"{"version": 1, "scopes": {"1/us-east-1": {"g": {"position_ms": 42, "recent_ids": {}}, "h": {"position_ms": "soon"}}, "2/eu-west-1": 7}}"#,
        )
        .unwrap();
        let (loaded, problems) = load_state(&path);
        assert_eq!(loaded.scopes["1/us-east-1"]["g"].position_ms, 42);
        assert!(!loaded.scopes["1/us-east-1"].contains_key("h"));
        assert_eq!(problems, [("bad_entry", 2)].into());
    }
}
