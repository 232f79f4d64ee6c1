//! The execution-log state file: what a restart must not forget.
//!
//! Per scope (`account/region`) it keeps each log group's cursor (where
//! reading stands, and the ids already counted inside the overlap window)
//! and the newest event time of each error class per API and stage that is
//! still inside the checks' window. Without the second, a restart would
//! resume after a TLS error and call the link healthy: the error is behind
//! the cursor and is never read again.
//!
//! The file is JSON, written atomically (a reader sees the old file or the
//! new one), versioned (version 1 held cursors only and is read as such),
//! and locked for as long as a process uses it: two exporters writing one
//! file would each overwrite the other's cursors.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::classify::ErrorClass;
use crate::logs::{LogCursor, NewestErrors};

/// The version this build writes; it reads this one and version 1.
pub const VERSION: u32 = 2;

/// What the state file holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StateFile {
    /// "account/region" -> what that scope's reading left.
    pub scopes: BTreeMap<String, ScopeState>,
}

/// One scope's part of the state file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScopeState {
    /// Log group -> cursor.
    pub cursors: BTreeMap<String, LogCursor>,
    /// (API id, stage) -> the newest event time of each error class.
    pub newest_errors: BTreeMap<(String, String), NewestErrors>,
    /// The error times behind the cursors are not known (a version 1 file,
    /// or a process that could not read them all yet): the window behind
    /// each cursor is read once for them.
    pub backfill: bool,
}

/// How long the file keeps a cursor no poll reads any more (from its
/// newest event): a week.
pub const STALE_MS: i64 = 7 * 86_400_000;

impl StateFile {
    /// Drops the scopes that hold nothing newer than [`STALE_MS`]: the
    /// file does not grow with every account and region there ever was.
    pub fn prune(&mut self, now_ms: i64) {
        let since = now_ms.saturating_sub(STALE_MS);
        self.scopes.retain(|_, scope| {
            scope.cursors.values().any(|c| c.position_ms >= since)
                || scope
                    .newest_errors
                    .values()
                    .flat_map(|e| e.values())
                    .any(|at| *at >= since)
        });
    }
}

/// One error class's newest time, as written.
#[derive(Debug, Serialize, Deserialize)]
struct ErrorEntry {
    api_id: String,
    stage: String,
    class: String,
    at_ms: i64,
}

#[derive(Serialize)]
struct ScopeOut<'a> {
    cursors: &'a BTreeMap<String, LogCursor>,
    newest_errors: Vec<ErrorEntry>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    backfill: bool,
}

#[derive(Serialize)]
struct FileOut<'a> {
    version: u32,
    scopes: BTreeMap<&'a str, ScopeOut<'a>>,
}

impl StateFile {
    /// The file's bytes.
    pub fn encode(&self) -> std::io::Result<Vec<u8>> {
        let scopes = self
            .scopes
            .iter()
            .map(|(key, scope)| {
                let newest_errors = scope
                    .newest_errors
                    .iter()
                    .flat_map(|((api_id, stage), newest)| {
                        newest.iter().map(move |(class, at)| ErrorEntry {
                            api_id: api_id.clone(),
                            stage: stage.clone(),
                            class: class.as_str().to_owned(),
                            at_ms: *at,
                        })
                    })
                    .collect();
                (
                    key.as_str(),
                    ScopeOut {
                        cursors: &scope.cursors,
                        newest_errors,
                        backfill: scope.backfill,
                    },
                )
            })
            .collect();
        serde_json::to_vec(&FileOut {
            version: VERSION,
            scopes,
        })
        .map_err(std::io::Error::other)
    }
}

/// Problems met reading the file, by kind (the `error` label of
/// `awsconn_execution_log_state_file_errors_total`).
pub type Problems = BTreeMap<&'static str, u64>;

/// Reads the state file, trusting what can be trusted: a file that is not
/// JSON (truncated, overwritten) or of another format is set aside beside it
/// (`.corrupt`, `.foreign`) for a person to look at, never overwritten, and
/// every group starts from the lookback; in a good file a malformed entry
/// is dropped alone and the others are kept. Each problem is logged and
/// counted.
pub fn load(path: &Path) -> (StateFile, Problems) {
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
    let (state, bad_entries) = match parse(&bytes) {
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
        tracing::warn!(path = %path.display(), dropped = bad_entries, "malformed entries in the execution-log state file were dropped; their log groups start from the lookback, the others resume");
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
/// number of malformed entries left out. Version 1 (cursors only, a scope
/// mapping each group to its cursor) is read as a version 2 file without
/// error times.
fn parse(bytes: &[u8]) -> Result<(StateFile, u64), &'static str> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| "corrupt")?;
    let version = value.get("version").and_then(serde_json::Value::as_u64);
    if !matches!(version, Some(1 | 2)) {
        return Err("foreign");
    }
    let scopes = value
        .get("scopes")
        .and_then(serde_json::Value::as_object)
        .ok_or("foreign")?;
    let mut state = StateFile::default();
    let mut bad = 0;
    for (key, scope) in scopes {
        let Some(scope) = scope.as_object() else {
            bad += 1;
            continue;
        };
        let mut out = ScopeState {
            backfill: version == Some(1)
                || scope.get("backfill").and_then(serde_json::Value::as_bool) == Some(true),
            ..ScopeState::default()
        };
        let (cursors, errors) = if version == Some(1) {
            (Some(scope), None)
        } else {
            let cursors = scope.get("cursors").and_then(serde_json::Value::as_object);
            let errors = scope
                .get("newest_errors")
                .and_then(serde_json::Value::as_array);
            // A scope whose parts are missing or of another shape: its
            // groups start from the lookback, and that is counted.
            bad += u64::from(cursors.is_none()) + u64::from(errors.is_none());
            (cursors, errors)
        };
        for (group, cursor) in cursors.into_iter().flatten() {
            match serde_json::from_value::<LogCursor>(cursor.clone()) {
                Ok(cursor) => {
                    out.cursors.insert(group.clone(), cursor);
                }
                Err(_) => bad += 1,
            }
        }
        for entry in errors.into_iter().flatten() {
            let parsed = serde_json::from_value::<ErrorEntry>(entry.clone())
                .ok()
                .and_then(|e| Some((ErrorClass::from_label(&e.class)?, e)));
            match parsed {
                Some((class, e)) => {
                    let at = out
                        .newest_errors
                        .entry((e.api_id, e.stage))
                        .or_default()
                        .entry(class)
                        .or_insert(e.at_ms);
                    *at = (*at).max(e.at_ms);
                }
                None => bad += 1,
            }
        }
        state.scopes.insert(key.clone(), out);
    }
    Ok((state, bad))
}

/// Writes the state atomically: a reader sees the old file or the new one,
/// never half, and a write that fails leaves no temporary file behind.
pub fn save(path: &Path, state: &StateFile) -> std::io::Result<()> {
    write(path, &state.encode()?)
}

/// Writes encoded state as [`save`] does (blocking: call it off the runtime).
pub fn write(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// How far ahead of this machine's clock a saved time may be (clock skew
/// between the machine that wrote the state file and this one).
pub const CLOCK_SKEW_MS: i64 = 5 * 60_000;

/// The newest error times worth keeping: those inside `window` of `now_ms`
/// (up to [`CLOCK_SKEW_MS`] ahead of it: a time further ahead cannot be
/// true, and would fail the checks until it passed).
pub fn recent(
    newest: &BTreeMap<(String, String), NewestErrors>,
    now_ms: i64,
    window_ms: i64,
) -> BTreeMap<(String, String), NewestErrors> {
    let since = now_ms.saturating_sub(window_ms);
    let until = now_ms.saturating_add(CLOCK_SKEW_MS);
    newest
        .iter()
        .filter_map(|(stage, classes)| {
            let kept: NewestErrors = classes
                .iter()
                .filter(|(_, at)| (since..=until).contains(*at))
                .map(|(c, at)| (*c, *at))
                .collect();
            (!kept.is_empty()).then(|| (stage.clone(), kept))
        })
        .collect()
}

/// Why the state file cannot be used by this process.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "the execution-log state file {path} is in use by another process{holder}: two exporters on one state file would overwrite each other's cursors; give each its own `collectors.execution_logs.state_file` (shards get one each by themselves)"
    )]
    Held { path: String, holder: String },
    #[error("cannot lock the execution-log state file {path} (through {lock})")]
    Io {
        path: String,
        lock: String,
        source: std::io::Error,
    },
}

impl LockError {
    /// Another process holds the lock (not an I/O failure).
    pub fn is_held(&self) -> bool {
        matches!(self, LockError::Held { .. })
    }
}

/// The same file however the configuration spells it (`./state.json`,
/// a directory through a symbolic link): its directory resolved, its name
/// kept. A directory that cannot be resolved leaves the path as written.
pub fn canonical(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    match (dir.canonicalize(), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => path.to_owned(),
    }
}

/// An exclusive lock on a state file, held until dropped: a lock file
/// `FILE.lock` beside it, locked with the operating system's advisory lock
/// (released by the kernel when the process ends, however it ends) and
/// holding the holder's process id for the message another process gives.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
    _file: std::fs::File,
}

impl StateLock {
    /// Locks `path`'s lock file, or says who holds it.
    pub fn acquire(path: &Path) -> Result<StateLock, LockError> {
        let path = &canonical(path);
        let mut lock = path.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        let io = |source| LockError::Io {
            path: path.display().to_string(),
            lock: lock.display().to_string(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&lock)
                    .ok()
                    .and_then(|s| s.trim().parse::<u32>().ok())
                    .map(|pid| format!(" (pid {pid})"))
                    .unwrap_or_default();
                return Err(LockError::Held {
                    path: path.display().to_string(),
                    holder,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        write!(file, "{}", std::process::id()).map_err(io)?;
        Ok(StateLock {
            path: path.to_owned(),
            _file: file,
        })
    }

    /// Whether it locks `path`, however that is spelled.
    pub fn locks(&self, path: &Path) -> bool {
        self.path == canonical(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(position_ms: i64) -> LogCursor {
        LogCursor {
            position_ms,
            recent_ids: [("id".to_owned(), position_ms)].into(),
        }
    }

    fn sample() -> StateFile {
        let mut scope = ScopeState::default();
        scope.cursors.insert("g".into(), cursor(42));
        scope.newest_errors.insert(
            ("api".into(), "prod".into()),
            [
                (ErrorClass::TlsUntrustedCertificate, 40),
                (ErrorClass::TargetReset, 41),
            ]
            .into(),
        );
        StateFile {
            scopes: [("1/us-east-1".to_owned(), scope)].into(),
        }
    }

    #[test]
    fn round_trip_keeps_cursors_and_error_times() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        save(&path, &sample()).unwrap();
        let (loaded, problems) = load(&path);
        assert_eq!(loaded, sample());
        assert!(problems.is_empty());
        assert!(!dir.path().join("state.json.tmp").exists());
        let (missing, problems) = load(&dir.path().join("missing.json"));
        assert!(
            missing.scopes.is_empty() && problems.is_empty(),
            "no file: no problem"
        );
    }

    #[test]
    fn version_1_is_read_as_cursors_without_error_times() {
        let (state, bad) = parse(
            br#"{"version": 1, "scopes": {"1/us-east-1": {"g": {"position_ms": 42, "recent_ids": {"id": 42}}}}}"#,
        )
        .unwrap();
        assert_eq!(bad, 0);
        assert_eq!(state.scopes["1/us-east-1"].cursors["g"], cursor(42));
        assert!(state.scopes["1/us-east-1"].newest_errors.is_empty());
        assert!(
            state.scopes["1/us-east-1"].backfill,
            "the window behind is read once"
        );
    }

    #[test]
    fn unusable_files_are_set_aside_and_bad_entries_dropped_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        save(&path, &sample()).unwrap();
        // Truncated: nothing to trust; set aside, not overwritten.
        let good = std::fs::read(&path).unwrap();
        std::fs::write(&path, &good[..good.len() / 2]).unwrap();
        let (loaded, problems) = load(&path);
        assert!(loaded.scopes.is_empty());
        assert_eq!(problems, [("corrupt", 1)].into());
        assert!(!path.exists());
        assert_eq!(
            std::fs::read(dir.path().join("state.json.corrupt")).unwrap(),
            &good[..good.len() / 2]
        );
        // Another format or version: set aside too.
        for foreign in [
            &b"{\"version\": 3, \"scopes\": {}}"[..],
            b"[1, 2, 3]",
            b"{\"cursors\": {}}",
        ] {
            std::fs::write(&path, foreign).unwrap();
            let (loaded, problems) = load(&path);
            assert!(loaded.scopes.is_empty());
            assert_eq!(
                problems,
                [("foreign", 1)].into(),
                "{}",
                String::from_utf8_lossy(foreign)
            );
            assert!(dir.path().join("state.json.foreign").exists());
        }
        // A malformed cursor, an unknown class, a scope that is not a map:
        // each dropped alone, the rest kept.
        std::fs::write(
            &path,
            br#"{"version": 2, "scopes": {
                "1/us-east-1": {"cursors": {"g": {"position_ms": 42, "recent_ids": {}}, "h": {"position_ms": "soon"}},
                                "newest_errors": [{"api_id": "a", "stage": "s", "class": "tls_key_mismatch", "at_ms": 7},
                                                  {"api_id": "a", "stage": "s", "class": "gremlins", "at_ms": 8},
                                                  {"api_id": "a"}]},
                "2/eu-west-1": 7,
                "3/eu-west-2": {"g": {"position_ms": 1}}}}"#,
        )
        .unwrap();
        let (loaded, problems) = load(&path);
        let scope = &loaded.scopes["1/us-east-1"];
        assert_eq!(scope.cursors["g"].position_ms, 42);
        assert!(!scope.cursors.contains_key("h"));
        assert_eq!(
            scope.newest_errors[&("a".to_owned(), "s".to_owned())],
            [(ErrorClass::TlsKeyMismatch, 7)].into()
        );
        assert_eq!(problems, [("bad_entry", 6)].into());
    }

    #[test]
    fn a_failed_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a directory: the rename fails after the write.
        let path = dir.path().join("taken");
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("x"), b"").unwrap();
        assert!(save(&path, &sample()).is_err());
        assert!(!dir.path().join("taken.tmp").exists());
    }

    #[test]
    fn stale_scopes_are_pruned() {
        let mut state = sample();
        let mut old = ScopeState::default();
        old.cursors.insert("gone".into(), cursor(1));
        state.scopes.insert("9/eu-west-1".into(), old);
        state.prune(STALE_MS + 41);
        assert_eq!(state.scopes.keys().collect::<Vec<_>>(), ["1/us-east-1"]);
        state.prune(STALE_MS + 43);
        assert!(state.scopes.is_empty());
    }

    #[test]
    fn only_error_times_inside_the_window_are_kept() {
        let newest = sample().scopes["1/us-east-1"].newest_errors.clone();
        let kept = recent(&newest, 100, 59);
        assert_eq!(
            kept[&("api".to_owned(), "prod".to_owned())],
            [(ErrorClass::TargetReset, 41)].into()
        );
        assert!(recent(&newest, 1_000, 10).is_empty());
        // A day ahead of the clock cannot be true.
        assert!(recent(&newest, 41 - 86_400_000, i64::MAX / 2).is_empty());
    }

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let first = StateLock::acquire(&path).unwrap();
        let second = StateLock::acquire(&path).unwrap_err().to_string();
        assert!(second.contains("in use by another process"), "{second}");
        assert!(
            second.contains(&format!("pid {}", std::process::id())),
            "{second}"
        );
        // The same file spelled another way is the same lock.
        let other = dir.path().join(".").join("state.json");
        assert!(first.locks(&other));
        assert!(StateLock::acquire(&other).unwrap_err().is_held());
        drop(first);
        StateLock::acquire(&path).expect("free again once dropped");
    }
}
