//! The retry budget: a call's retries (and their waits, adaptive mode's
//! included) fit inside the collector's timeout, so that a poll under
//! sustained throttling ends as *throttled*, with AWS's error, instead of
//! being cut off as a timeout that says nothing about why. Not bounded: the
//! adaptive rate limiter's wait before a call's first attempt, and the
//! retries inside AssumeRole (its STS client is the SDK's own).
//!
//! The collector's deadline travels with the poll ([`super::deadline`]);
//! after every failed attempt an interceptor bounds the SDK's next wait by
//! the time left, and stops the retries when too little is left for
//! another attempt. Calls made outside a deadline retry as configured.

use std::time::{Duration, Instant};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;

/// What the retries of a call may still do, `left` before the deadline,
/// after an attempt that took `last`: `None` when no retry fits (another
/// attempt needs as long as the last one took, and at least a quarter
/// second), else the longest wait before it.
pub fn next_wait(left: Duration, last: Duration) -> Option<Duration> {
    let attempt = last.max(Duration::from_millis(250));
    let spare = left.checked_sub(attempt)?;
    // Half of what is spare: a throttled retry may be throttled again.
    Some(spare / 2)
}

/// Bounds each retry's wait by the time left, and stops retrying when none fits.
#[derive(Debug, Clone, Default)]
pub struct RetryBudget;

#[derive(Debug, Clone)]
struct AttemptStarted(Instant);

impl aws_smithy_types::config_bag::Storable for AttemptStarted {
    type Storer = aws_smithy_types::config_bag::StoreReplace<Self>;
}

impl Intercept for RetryBudget {
    fn name(&self) -> &'static str {
        "AwsconnRetryBudget"
    }

    fn read_before_attempt(
        &self,
        _context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state()
            .store_put(AttemptStarted(Instant::now()));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(deadline) = super::deadline::deadline() else {
            return Ok(());
        };
        let Some(retry) = cfg.load::<RetryConfig>().cloned() else {
            return Ok(());
        };
        let now = Instant::now();
        // Time on the wire: a wait for the quota is not what another
        // attempt would take.
        let last = cfg
            .load::<AttemptStarted>()
            .map_or(Duration::ZERO, |s| now.duration_since(s.0))
            .saturating_sub(super::telemetry::quota_wait_of(cfg));
        let attempts = cfg.load::<RequestAttempts>().map_or(1, |a| a.attempts());
        let bounded = match next_wait(deadline.saturating_duration_since(now), last) {
            Some(wait) => {
                let wait = retry.max_backoff().min(wait);
                retry.with_max_backoff(wait)
            }
            // No retry fits: this attempt is the last, and its error the answer.
            None => retry.with_max_attempts(attempts.max(1)),
        };
        cfg.interceptor_state().store_put(bounded);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_shrink_with_the_time_left_and_stop_when_no_attempt_fits() {
        let s = Duration::from_secs;
        assert_eq!(next_wait(s(30), s(1)), Some(Duration::from_millis(14_500)));
        assert_eq!(
            next_wait(s(2), Duration::from_millis(10)),
            Some(Duration::from_millis(875))
        );
        assert_eq!(
            next_wait(s(1), s(2)),
            None,
            "the last attempt took longer than what is left"
        );
        assert_eq!(next_wait(Duration::from_millis(100), Duration::ZERO), None);
    }
}
