//! When each collector last started a poll of each scope, kept across
//! configuration reloads: a reload resumes every poll whose collector,
//! scope and settings it keeps where it stood, and polls at once only what
//! is new or changed. Without it every reload polled every collector of
//! every scope at once, so a reload a second multiplied the AWS calls by
//! the interval in seconds.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::time::Instant;

use crate::config::{AccountConfig, CollectorConfig};
use crate::lock::LockOrRecover;

/// One collector of one scope: what identifies a poll across reloads.
pub type PollKey = (&'static str, AccountConfig, String);

/// The last start of every poll, with the settings it ran under.
#[derive(Debug, Default)]
pub struct Schedule {
    last: Mutex<HashMap<PollKey, (CollectorConfig, Instant)>>,
}

impl Schedule {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PollKey, (CollectorConfig, Instant)>> {
        self.last.lock_or_recover()
    }

    /// A poll of `key` under `settings` started at `at`.
    pub fn started(&self, key: PollKey, settings: CollectorConfig, at: Instant) {
        self.lock().insert(key, (settings, at));
    }

    /// When the next poll of `key` is due under `settings`: `None` when it
    /// never ran under them (it polls at once), else its last start plus
    /// the interval (now at the earliest).
    pub fn next_due(
        &self,
        key: &PollKey,
        settings: &CollectorConfig,
        now: Instant,
    ) -> Option<Instant> {
        let last = self.lock();
        let (ran_under, at) = last.get(key)?;
        (ran_under == settings).then(|| (*at + settings.interval).max(now))
    }

    /// Forgets every poll but those `keep` names (a reload dropped them).
    pub fn retain(&self, keep: impl Fn(&PollKey) -> bool) {
        self.lock().retain(|key, _| keep(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_kept_poll_resumes_and_a_changed_one_polls_at_once() {
        let schedule = Schedule::default();
        let key: PollKey = ("vpc_links", AccountConfig::default(), "us-east-1".into());
        let settings = CollectorConfig {
            enabled: true,
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
        };
        let start = Instant::now();
        assert_eq!(schedule.next_due(&key, &settings, start), None, "never ran");
        schedule.started(key.clone(), settings, start);
        let later = start + Duration::from_secs(10);
        assert_eq!(
            schedule.next_due(&key, &settings, later),
            Some(start + Duration::from_secs(60))
        );
        // Overdue: now.
        let late = start + Duration::from_secs(90);
        assert_eq!(schedule.next_due(&key, &settings, late), Some(late));
        // Other settings: at once.
        let faster = CollectorConfig {
            interval: Duration::from_secs(10),
            ..settings
        };
        assert_eq!(schedule.next_due(&key, &faster, later), None);
        schedule.retain(|_| false);
        assert_eq!(schedule.next_due(&key, &settings, later), None);
    }
}
