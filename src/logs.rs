//! Reading execution logs exactly once: where each poll starts, which events
//! it has already counted, and what a poll adds. Pure; the collector does the I/O.
//!
//! CloudWatch Logs delivers events late (ingestion delay) and pages by
//! token, so a poll reads from the newest timestamp seen minus an overlap
//! window and skips the event ids it counted before. Only ids inside the
//! window are remembered, so memory stays bounded by the log rate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::classify::{ErrorClass, LineKind, Tally, classify_line};

/// Where a log group's reading stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogCursor {
    /// The newest event timestamp seen (ms since the epoch).
    pub position_ms: i64,
    /// Ids of the events counted whose timestamp is inside the overlap window, with that timestamp.
    pub recent_ids: BTreeMap<String, i64>,
}

/// One event as FilterLogEvents returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub id: String,
    pub timestamp_ms: i64,
    pub message: Vec<u8>,
}

/// The server-side filter: only the two kinds of line the exporter counts
/// travel (a few percent of an INFO-level execution log).
pub const EXECUTION_LOG_FILTER: &str =
    "?\"Execution failed due to\" ?\"Method completed with status\"";

/// The time range a poll reads: from the cursor minus the overlap (or the
/// lookback for a group read for the first time) to now.
pub fn read_range(
    cursor: Option<&LogCursor>,
    now_ms: i64,
    lookback_ms: i64,
    overlap_ms: i64,
) -> (i64, i64) {
    let start = match cursor {
        Some(c) if c.position_ms > 0 => c.position_ms - overlap_ms,
        _ => now_ms - lookback_ms,
    };
    (start.max(0), now_ms)
}

/// How a log group's lines are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineFormat {
    /// REST execution log: classify each message.
    Execution,
    /// HTTP API access log in JSON: the named keys carry
    /// `$context.integrationErrorMessage` and `$context.status`.
    AccessJson {
        error_key: String,
        status_key: Option<String>,
    },
}

/// The keys of a JSON access-log format that carry the integration error
/// message and the status; `None` when the format is not JSON or has no
/// `$context.integrationErrorMessage`.
pub fn access_log_keys(format: &str) -> Option<LineFormat> {
    let doc: serde_json::Map<String, serde_json::Value> = serde_json::from_str(format).ok()?;
    let key_of = |variable: &str| {
        doc.iter()
            .find(|(_, v)| v.as_str().is_some_and(|s| s.trim() == variable))
            .map(|(k, _)| k.clone())
    };
    Some(LineFormat::AccessJson {
        error_key: key_of("$context.integrationErrorMessage")?,
        status_key: key_of("$context.status"),
    })
}

/// The newest event time of each error class seen (ms since the epoch):
/// what "TLS errors in the last window" is judged by.
pub type NewestErrors = BTreeMap<ErrorClass, i64>;

/// Counts the events not counted before into `tally`, notes the newest time
/// of each error class in `newest`, advances the cursor and forgets ids older
/// than the overlap window. Returns how many were new.
pub fn absorb(
    cursor: &mut LogCursor,
    events: &[LogEvent],
    format: &LineFormat,
    overlap_ms: i64,
    tally: &mut Tally,
    newest: &mut NewestErrors,
) -> usize {
    let mut new = 0;
    for event in events {
        if cursor.recent_ids.contains_key(&event.id) {
            continue;
        }
        cursor
            .recent_ids
            .insert(event.id.clone(), event.timestamp_ms);
        cursor.position_ms = cursor.position_ms.max(event.timestamp_ms);
        if let Some(class) = count(format, &event.message, tally) {
            let at = newest.entry(class).or_insert(event.timestamp_ms);
            *at = (*at).max(event.timestamp_ms);
        }
        new += 1;
    }
    let horizon = cursor.position_ms - overlap_ms;
    cursor.recent_ids.retain(|_, ts| *ts >= horizon);
    new
}

/// Notes the newest time of each error class among `events` in `newest`,
/// counting nothing (events another process counted).
pub fn note_error_times(events: &[LogEvent], format: &LineFormat, newest: &mut NewestErrors) {
    let mut scratch = Tally::new();
    for event in events {
        if let Some(class) = count(format, &event.message, &mut scratch) {
            let at = newest.entry(class).or_insert(event.timestamp_ms);
            *at = (*at).max(event.timestamp_ms);
        }
    }
}

fn count(format: &LineFormat, message: &[u8], tally: &mut Tally) -> Option<ErrorClass> {
    match format {
        LineFormat::Execution => tally.add_event(message),
        LineFormat::AccessJson {
            error_key,
            status_key,
        } => {
            // A line that is not JSON is counted as a line and nothing else.
            let Ok(doc) =
                serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(message)
            else {
                tally.add_other_line();
                return None;
            };
            let field = |key: &str| {
                doc.get(key).and_then(|v| match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
            };
            let error = field(error_key).filter(|e| !e.is_empty() && e != "-");
            let status = status_key
                .as_deref()
                .and_then(field)
                .and_then(|s| s.parse::<u16>().ok());
            let class = error
                .as_deref()
                .map(|e| classify_access_error(e.as_bytes()));
            tally.add_access_log_line(class, status);
            class
        }
    }
}

/// Classifies an HTTP API `integrationErrorMessage` with the execution-log table.
pub fn classify_access_error(message: &[u8]) -> ErrorClass {
    match classify_line(message) {
        LineKind::ExecutionFailure(class) => class,
        _ => {
            let mut prefixed = b"Execution failed due to configuration error: ".to_vec();
            prefixed.extend_from_slice(message);
            match classify_line(&prefixed) {
                LineKind::ExecutionFailure(ErrorClass::ConfigOther)
                | LineKind::Other
                | LineKind::MethodCompleted(_) => ErrorClass::Other,
                LineKind::ExecutionFailure(class) => class,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, ts: i64, message: &str) -> LogEvent {
        LogEvent {
            id: id.into(),
            timestamp_ms: ts,
            message: message.as_bytes().to_vec(),
        }
    }

    #[test]
    fn the_server_side_filter_lets_only_counted_lines_travel() {
        // CloudWatch Logs filter syntax: `?term ?term` is OR, a quoted term
        // matches the phrase. moto ignores OR patterns, so this is checked here.
        assert_eq!(
            EXECUTION_LOG_FILTER,
            r#"?"Execution failed due to" ?"Method completed with status""#
        );
        for phrase in ["Execution failed due to", "Method completed with status"] {
            assert!(EXECUTION_LOG_FILTER.contains(&format!("?\"{phrase}\"")));
        }
    }

    #[test]
    fn first_read_uses_the_lookback_then_the_cursor_minus_overlap() {
        assert_eq!(
            read_range(None, 1_000_000, 600_000, 60_000),
            (400_000, 1_000_000)
        );
        let cursor = LogCursor {
            position_ms: 900_000,
            ..Default::default()
        };
        assert_eq!(
            read_range(Some(&cursor), 1_000_000, 600_000, 60_000),
            (840_000, 1_000_000)
        );
        assert_eq!(read_range(None, 1_000, 600_000, 60_000), (0, 1_000));
    }

    #[test]
    fn every_event_is_counted_exactly_once_across_overlapping_reads() {
        let mut cursor = LogCursor::default();
        let mut tally = Tally::new();
        let first = [
            event("a", 1_000, "(1) Execution failed due to a timeout error"),
            event("b", 2_000, "(1) Method completed with status: 504"),
        ];
        assert_eq!(
            absorb(
                &mut cursor,
                &first,
                &LineFormat::Execution,
                5_000,
                &mut tally,
                &mut NewestErrors::new()
            ),
            2
        );
        // The next read overlaps: b again, plus a late event older than b, plus a new one.
        let second = [
            event("b", 2_000, "(1) Method completed with status: 504"),
            event(
                "late",
                1_500,
                "(2) Execution failed due to an internal error",
            ),
            event("c", 3_000, "(3) Method completed with status: 200"),
        ];
        assert_eq!(
            absorb(
                &mut cursor,
                &second,
                &LineFormat::Execution,
                5_000,
                &mut tally,
                &mut NewestErrors::new()
            ),
            2
        );
        assert_eq!(tally.lines, 4);
        assert_eq!(tally.class_count(ErrorClass::IntegrationTimeout), 1);
        assert_eq!(tally.class_count(ErrorClass::TargetReset), 1);
        assert_eq!(tally.statuses[&504], 1);
        assert_eq!(cursor.position_ms, 3_000);
    }

    #[test]
    fn the_newest_time_of_each_error_class_is_kept() {
        let mut cursor = LogCursor::default();
        let mut tally = Tally::new();
        let mut newest = NewestErrors::new();
        let events = [
            event("a", 5_000, "Execution failed due to a timeout error"),
            event("b", 9_000, "Execution failed due to a timeout error"),
            event(
                "c",
                7_000,
                "Execution failed due to configuration error: PKIX path building failed",
            ),
            event("d", 8_000, "Method completed with status: 200"),
        ];
        absorb(
            &mut cursor,
            &events,
            &LineFormat::Execution,
            60_000,
            &mut tally,
            &mut newest,
        );
        assert_eq!(newest.get(&ErrorClass::IntegrationTimeout), Some(&9_000));
        assert_eq!(
            newest.get(&ErrorClass::TlsUntrustedCertificate),
            Some(&7_000)
        );
        assert_eq!(newest.len(), 2);
    }

    #[test]
    fn error_times_are_noted_without_counting() {
        let mut newest = NewestErrors::new();
        note_error_times(
            &[
                event(
                    "a",
                    5,
                    "Execution failed due to configuration error: PKIX path building failed",
                ),
                event(
                    "b",
                    9,
                    "Execution failed due to configuration error: PKIX path building failed",
                ),
                event("c", 7, "Method completed with status: 200"),
            ],
            &LineFormat::Execution,
            &mut newest,
        );
        assert_eq!(newest, [(ErrorClass::TlsUntrustedCertificate, 9)].into());
    }

    #[test]
    fn ids_outside_the_window_are_forgotten() {
        let mut cursor = LogCursor::default();
        let mut tally = Tally::new();
        absorb(
            &mut cursor,
            &[event("old", 1_000, "x")],
            &LineFormat::Execution,
            500,
            &mut tally,
            &mut NewestErrors::new(),
        );
        absorb(
            &mut cursor,
            &[event("new", 10_000, "y")],
            &LineFormat::Execution,
            500,
            &mut tally,
            &mut NewestErrors::new(),
        );
        assert_eq!(cursor.recent_ids.keys().collect::<Vec<_>>(), ["new"]);
    }

    #[test]
    fn access_log_formats() {
        let format = r#"{"requestId":"$context.requestId","status":"$context.status","integrationError":"$context.integrationErrorMessage"}"#;
        assert_eq!(
            access_log_keys(format),
            Some(LineFormat::AccessJson {
                error_key: "integrationError".into(),
                status_key: Some("status".into())
            })
        );
        assert_eq!(
            access_log_keys(r#"{"requestId":"$context.requestId"}"#),
            None
        );
        assert_eq!(access_log_keys("$context.requestId $context.status"), None);
    }

    #[test]
    fn access_log_lines() {
        let format =
            access_log_keys(r#"{"s":"$context.status","e":"$context.integrationErrorMessage"}"#)
                .unwrap();
        let mut cursor = LogCursor::default();
        let mut tally = Tally::new();
        let events = [
            event("1", 1, r#"{"s":"200","e":"-"}"#),
            event(
                "2",
                2,
                r#"{"s":"500","e":"Host name 'a' does not match the certificate subject provided by the peer (CN=b)"}"#,
            ),
            event(
                "3",
                3,
                r#"{"s":504,"e":"Execution failed due to a timeout error"}"#,
            ),
            event("4", 4, r#"{"s":"503","e":"Service Unavailable"}"#),
            event("5", 5, "not json at all"),
        ];
        absorb(
            &mut cursor,
            &events,
            &format,
            1_000,
            &mut tally,
            &mut NewestErrors::new(),
        );
        assert_eq!(tally.lines, 5);
        assert_eq!(tally.class_count(ErrorClass::TlsHostnameMismatch), 1);
        assert_eq!(tally.class_count(ErrorClass::IntegrationTimeout), 1);
        assert_eq!(tally.class_count(ErrorClass::Other), 1);
        assert_eq!(tally.statuses[&500], 1);
        assert_eq!(tally.statuses[&504], 1);
        assert_eq!(tally.statuses.get(&200), Some(&1));
    }

    #[test]
    fn bad_events_never_panic() {
        let mut cursor = LogCursor::default();
        let mut tally = Tally::new();
        let huge = "x".repeat(256 * 1024);
        let events = [
            event("e", 1, ""),
            LogEvent {
                id: "bin".into(),
                timestamp_ms: 2,
                message: vec![0xff, 0xfe, b'\n'],
            },
            event("big", 3, &huge),
        ];
        assert_eq!(
            absorb(
                &mut cursor,
                &events,
                &LineFormat::Execution,
                10,
                &mut tally,
                &mut NewestErrors::new()
            ),
            3
        );
        let json = LineFormat::AccessJson {
            error_key: "e".into(),
            status_key: None,
        };
        absorb(
            &mut cursor,
            &[event("j", 4, "{\"e\": [1,2]}")],
            &json,
            10,
            &mut tally,
            &mut NewestErrors::new(),
        );
    }
}
