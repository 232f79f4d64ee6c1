//! The deadline of the poll a call runs in: the collector's timeout,
//! carried with the poll as a task-local so that the layers under a call
//! (the retry budget, the quota pacing, the telemetry) can see it without
//! each being handed it. Calls made outside a poll have none.

use std::future::Future;
use std::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// True inside a poll whose deadline has passed (an attempt dropped then
/// was cut off by the collector's timeout).
pub fn deadline_passed() -> bool {
    DEADLINE
        .try_with(|deadline| Instant::now() >= *deadline)
        .unwrap_or(false)
}

/// The deadline of the poll this runs in, if any.
pub fn deadline() -> Option<Instant> {
    DEADLINE.try_with(|deadline| *deadline).ok()
}

/// Runs `poll` with `deadline` as the end of every AWS call's retries in it.
pub async fn within<F: Future>(deadline: Instant, poll: F) -> F::Output {
    DEADLINE.scope(deadline, poll).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn the_deadline_is_seen_inside_the_poll_only() {
        let end = Instant::now() + Duration::from_secs(5);
        let inside = within(end, async { deadline() }).await;
        assert_eq!(inside, Some(end));
        assert_eq!(deadline(), None);
        assert!(!deadline_passed());
    }

    #[tokio::test]
    async fn a_passed_deadline_is_seen_as_passed() {
        let past = Instant::now() - Duration::from_secs(1);
        assert!(within(past, async { deadline_passed() }).await);
    }
}
