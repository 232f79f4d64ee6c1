//! AWS's request quotas, kept on this side of the wire. AWS throttles each
//! account in each region with token buckets per service (and, for some
//! operations, per operation); the team's own deploys and consoles draw on
//! the same buckets. So the exporter paces itself with buckets of its own,
//! one per (account, region, quota), at a share of AWS's published
//! defaults, and should rarely see a throttled answer. The SDK's retries
//! still back off from the few it sees.
//!
//! The pacing sits in the HTTP layer ([`QuotaHttpClient`]), where a call
//! can wait without blocking: every attempt (retries and pages included)
//! takes a slot from each bucket that covers it before it is sent. A slot
//! that would come later than a second before the poll's deadline (or
//! more than four minutes away: the request is signed before it waits) is
//! not waited for: the call fails at once, saying so, and
//! `awsconn_aws_quota_exhausted_total` counts it.
//!
//! A call covered by two buckets (GetResources: its own and API Gateway's)
//! is charged in each when that bucket had its slot, which may be before
//! the call goes: a service bucket can then see its calls later than it
//! charged them, an approximation that the share below one absorbs.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

use super::telemetry::{ApiTelemetry, Call};
use crate::lock::LockOrRecover;
pub use crate::services::{AWS_DEFAULTS, Rate, quota_service};

/// The quotas the exporter paces itself with: AWS's defaults overridden
/// by `overrides`, each scaled to `share`.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    by_key: BTreeMap<String, Rate>,
    /// Whether a throttled answer slows the buckets that cover the call
    /// (`aws.retry_mode: adaptive`).
    adaptive: bool,
}

impl Limits {
    pub fn new(share: f64, overrides: &BTreeMap<String, Rate>) -> Limits {
        let mut by_key: BTreeMap<String, Rate> = AWS_DEFAULTS
            .iter()
            .map(|(k, r)| ((*k).to_owned(), *r))
            .collect();
        by_key.extend(overrides.iter().map(|(k, r)| (k.clone(), *r)));
        for r in by_key.values_mut() {
            r.rate *= share;
            // A bucket always holds one call: a share never forbids all.
            r.burst = (r.burst * share).max(1.0);
        }
        Limits {
            by_key,
            adaptive: false,
        }
    }

    /// The same limits, slowing down when AWS throttles ([`ScopeQuotas::throttled`]).
    pub fn adaptive(mut self, on: bool) -> Limits {
        self.adaptive = on;
        self
    }

    /// The quotas that cover one call: its service's and its operation's.
    fn covering(&self, service: &str, operation: &str) -> Vec<(String, Rate)> {
        let service = quota_service(service);
        let mut out = Vec::with_capacity(2);
        if let Some(r) = self.by_key.get(service) {
            out.push((service.to_owned(), *r));
        }
        let key = format!("{service}:{operation}");
        if let Some(r) = self.by_key.get(&key) {
            out.push((key, *r));
        }
        out
    }
}

/// Adaptive pacing: a throttled answer halves the rate of each bucket that
/// covers the call, down to this share of its rate...
const SLOWEST: f64 = 1.0 / 8.0;
/// ...at most once in this long (the answers of calls sent together are
/// one signal, not several)...
const SLOW_SPACING: Duration = Duration::from_millis(500);
/// ...and every this long without one doubles it again, up to its rate:
/// from the slowest back to full speed in three seconds. The recovery
/// runs on time, not on answers, so a collector whose calls all wait
/// cannot lock itself out (the SDK's own adaptive limiter, which waits
/// before a call's first attempt whatever the poll's deadline, did: with
/// a 2 s timeout no call completed, and its rate never rose again).
const DOUBLING: Duration = Duration::from_secs(1);

/// A token bucket kept as the time it is next empty of debt (GCRA): a
/// slot may be taken at `t` when `t >= tat - (burst - 1) / rate`, and
/// taking it moves `tat` on by `1 / rate` (longer while it is slowed).
#[derive(Debug)]
struct Bucket {
    rate: Rate,
    interval: Duration,
    tolerance: Duration,
    tat: Instant,
    /// When it was last slowed, and its speed (a share of its rate) then.
    slowed: Option<(Instant, f64)>,
}

impl Bucket {
    fn new(rate: Rate, now: Instant) -> Bucket {
        let mut bucket = Bucket {
            rate,
            interval: Duration::ZERO,
            tolerance: Duration::ZERO,
            tat: now,
            slowed: None,
        };
        bucket.retune(rate);
        bucket
    }

    /// Paces at `rate` from now on, keeping the slots already taken.
    fn retune(&mut self, rate: Rate) {
        // The configuration holds rate and burst to [0.001, 1e6] and
        // [1, 1e6]; whatever comes, no arithmetic here panics.
        let seconds =
            |s: f64| Duration::try_from_secs_f64(s).unwrap_or(Duration::from_secs(1 << 20));
        self.rate = rate;
        self.interval = seconds(1.0 / rate.rate.max(1e-6));
        self.tolerance = seconds(self.interval.as_secs_f64() * (rate.burst - 1.0).max(0.0));
    }

    /// The share of its rate it runs at, at `now`.
    fn speed(&self, now: Instant) -> f64 {
        match self.slowed {
            None => 1.0,
            Some((at, speed)) => {
                let doublings =
                    now.saturating_duration_since(at).as_secs_f64() / DOUBLING.as_secs_f64();
                (speed * doublings.exp2()).min(1.0)
            }
        }
    }

    fn slow(&mut self, now: Instant) {
        if let Some((at, _)) = self.slowed
            && now.saturating_duration_since(at) < SLOW_SPACING
        {
            return;
        }
        self.slowed = Some((now, (self.speed(now) / 2.0).max(SLOWEST)));
    }

    fn earliest(&self, now: Instant) -> Instant {
        self.tat
            .checked_sub(self.tolerance)
            .map_or(now, |t| t.max(now))
    }

    fn take(&mut self, at: Instant) {
        let interval = self.interval.div_f64(self.speed(at));
        self.tat = self.tat.max(at) + interval;
    }
}

/// The buckets of one account in one region.
#[derive(Debug)]
pub struct ScopeQuotas {
    limits: Mutex<Arc<Limits>>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

/// No slot in the quota before the deadline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not sent: the exporter's share of AWS's {quota} request quota has no slot before the collector's timeout (or within four minutes){}",
    if *retry { " for this retry (AWS refused the attempt before it: awsconn_aws_api_requests_total says how)" } else { " (raise the collector's timeout, aws.quota_share, or aws.quotas.<quota> where the account's quota is higher than AWS's default)" }
)]
pub struct Exhausted {
    pub quota: String,
    /// The call's first attempt was sent and failed (often: throttled).
    pub retry: bool,
}

impl ScopeQuotas {
    pub fn new(limits: Arc<Limits>) -> ScopeQuotas {
        ScopeQuotas {
            limits: Mutex::new(limits),
            buckets: Mutex::default(),
        }
    }

    fn limits(&self) -> Arc<Limits> {
        self.limits.lock_or_recover().clone()
    }

    /// Paces by `limits` from now on (a reload changed them): each bucket
    /// keeps the slots it gave, so a reload never refills one.
    pub fn set_limits(&self, limits: Arc<Limits>) {
        let mut buckets = self.buckets.lock_or_recover();
        buckets.retain(|key, bucket| match limits.by_key.get(key) {
            Some(rate) => {
                if *rate != bucket.rate {
                    bucket.retune(*rate);
                }
                true
            }
            None => false,
        });
        *self.limits.lock_or_recover() = limits;
    }

    /// AWS throttled a call: in adaptive mode the buckets that cover it slow down.
    pub fn throttled(&self, service: &str, operation: &str, now: Instant) {
        let limits = self.limits();
        if !limits.adaptive {
            return;
        }
        let mut buckets = self.buckets.lock_or_recover();
        for (key, rate) in limits.covering(service, operation) {
            buckets
                .entry(key)
                .or_insert_with(|| Bucket::new(rate, now))
                .slow(now);
        }
    }

    /// Takes a slot for one call from every bucket that covers it: how long
    /// to wait before sending it, or [`Exhausted`] (and nothing taken) when
    /// it would have to wait until `deadline` or later.
    pub fn reserve(
        &self,
        service: &str,
        operation: &str,
        now: Instant,
        deadline: Option<Instant>,
    ) -> Result<Duration, Exhausted> {
        let covering = self.limits().covering(service, operation);
        if covering.is_empty() {
            return Ok(Duration::ZERO);
        }
        let mut buckets = self.buckets.lock_or_recover();
        let mut at = now;
        let mut latest = &covering[0].0;
        let mut earliest = Vec::with_capacity(covering.len());
        for (key, rate) in &covering {
            let t = buckets
                .entry(key.clone())
                .or_insert_with(|| Bucket::new(*rate, now))
                .earliest(now);
            earliest.push(t);
            if t > at {
                at = t;
                latest = key;
            }
        }
        // A slot free now is taken whatever the deadline: the retry budget
        // decides whether an attempt still fits, the quota only whether
        // it must wait.
        if at > now && (deadline.is_some_and(|d| at >= d) || at - now > LONGEST_WAIT) {
            return Err(Exhausted {
                quota: latest.clone(),
                retry: false,
            });
        }
        // Each bucket is charged when it had the slot, not when the
        // narrowest one has: a call waiting on GetResources' bucket does
        // not hold back API Gateway's other calls.
        for ((key, _), t) in covering.iter().zip(earliest) {
            if let Some(bucket) = buckets.get_mut(key) {
                bucket.take(t);
            }
        }
        Ok(at - now)
    }
}

/// What a call is given to be sent and answered before the deadline.
const CALL_TIME: Duration = Duration::from_secs(1);

/// The longest a call waits for its quota: its request is signed before it
/// waits, and AWS refuses a signature older than five minutes.
const LONGEST_WAIT: Duration = Duration::from_secs(240);

/// The SDK's HTTP client, with each request paced by its scope's quotas.
#[derive(Debug, Clone)]
pub struct QuotaHttpClient {
    inner: SharedHttpClient,
    quotas: Arc<ScopeQuotas>,
    /// `aws.max_concurrent_requests`: taken once the quota's wait is over,
    /// so a call waiting for its account's quota holds no other's place.
    limits: Arc<super::caller::ServiceLimits>,
    telemetry: ApiTelemetry,
    caller: Arc<super::caller::Caller>,
}

impl QuotaHttpClient {
    pub(super) fn new(
        inner: SharedHttpClient,
        quotas: Arc<ScopeQuotas>,
        limits: Arc<super::caller::ServiceLimits>,
        telemetry: ApiTelemetry,
        caller: Arc<super::caller::Caller>,
    ) -> QuotaHttpClient {
        QuotaHttpClient {
            inner,
            quotas,
            limits,
            telemetry,
            caller,
        }
    }
}

impl HttpClient for QuotaHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(QuotaConnector {
            inner: self.inner.http_connector(settings, components),
            client: self.clone(),
        })
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder,
        cfg: &aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &RuntimeComponents,
        cfg: &aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[derive(Debug)]
struct QuotaConnector {
    inner: SharedHttpConnector,
    client: QuotaHttpClient,
}

impl HttpConnector for QuotaConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let Some(call) = request.extension::<Call>().cloned() else {
            return self.inner.call(request);
        };
        let client = &self.client;
        // The call itself needs time too: a slot in its last second would
        // be cut off by the deadline anyway.
        let deadline = super::deadline::deadline().map(|d| d.checked_sub(CALL_TIME).unwrap_or(d));
        let attempt = call.attempt.upgrade();
        let reserved =
            client
                .quotas
                .reserve(&call.service, &call.operation, Instant::now(), deadline);
        let wait = match reserved {
            Ok(wait) => wait,
            Err(mut exhausted) => {
                if let Some(attempt) = &attempt {
                    attempt.not_sent();
                    exhausted.retry = attempt.is_retry();
                }
                client.telemetry.quota_exhausted(
                    &client.caller.call_scope(),
                    &call.service,
                    &call.operation,
                );
                // A user error: the SDK does not retry it.
                return HttpConnectorFuture::ready(Err(ConnectorError::user(Box::new(exhausted))));
            }
        };
        if !wait.is_zero() {
            client.telemetry.quota_waited(
                &client.caller.call_scope(),
                &call.service,
                &call.operation,
                wait.as_secs_f64(),
            );
        }
        let (inner, limits) = (self.inner.clone(), client.limits.clone());
        HttpConnectorFuture::new(async move {
            let queued = Instant::now();
            if let Some(attempt) = &attempt {
                // Dropped while it waits, it was never an attempt.
                attempt.not_sent();
            }
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            let _slot = limits.acquire(&call.service).await;
            if let Some(attempt) = attempt {
                // Its time on the wire starts now: the waits for the quota
                // and for a slot of aws.max_concurrent_requests are not part.
                attempt.waited(queued.elapsed());
                attempt.sent();
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::rate;

    fn limits(share: f64) -> Arc<Limits> {
        Arc::new(Limits::new(share, &BTreeMap::new()))
    }

    /// How many calls of `n` go at once, and when the last one goes.
    fn pace(q: &ScopeQuotas, service: &str, op: &str, n: usize, now: Instant) -> (usize, Duration) {
        let waits: Vec<Duration> = (0..n)
            .map(|_| q.reserve(service, op, now, None).unwrap())
            .collect();
        (
            waits.iter().filter(|w| w.is_zero()).count(),
            *waits.last().unwrap(),
        )
    }

    #[test]
    fn a_burst_goes_at_once_and_the_rest_at_the_rate() {
        let now = Instant::now();
        let q = ScopeQuotas::new(limits(1.0));
        // API Gateway: 40 at once, then 10 a second.
        let (at_once, last) = pace(&q, "apigateway", "GetStages", 60, now);
        assert_eq!(at_once, 40);
        assert!((last.as_secs_f64() - 2.0).abs() < 1e-6, "{last:?}");
        // HTTP APIs draw on the same bucket.
        let next = q.reserve("apigatewayv2", "GetApis", now, None).unwrap();
        assert!((next.as_secs_f64() - 2.1).abs() < 1e-6, "{next:?}");
    }

    #[test]
    fn an_operation_quota_and_its_service_quota_both_pace_a_call() {
        let now = Instant::now();
        let q = ScopeQuotas::new(limits(1.0));
        // GetResources: 5 at once, then one every 0.4 s (5 per 2 s).
        let (at_once, last) = pace(&q, "apigateway", "GetResources", 9, now);
        assert_eq!(at_once, 5);
        assert!((last.as_secs_f64() - 1.6).abs() < 1e-6, "{last:?}");
        // They took slots of the service's bucket too.
        let (at_once, _) = pace(&q, "apigateway", "GetStages", 40, now);
        assert!(at_once < 40, "{at_once}");
    }

    #[test]
    fn the_share_scales_rate_and_burst_and_leaves_at_least_one() {
        let now = Instant::now();
        let q = ScopeQuotas::new(limits(0.5));
        let (at_once, last) = pace(&q, "cloudwatchlogs", "FilterLogEvents", 6, now);
        // 5/s burst 5 at half: 2.5/s, 2 at once and the half slot 0.2 s later.
        assert_eq!(at_once, 2);
        assert!((last.as_secs_f64() - 1.4).abs() < 1e-6, "{last:?}");
        // A hundredth of ACM's 10/s, bursts of 10: one call at once, the
        // next ten seconds later.
        let tiny = ScopeQuotas::new(Arc::new(Limits::new(0.01, &BTreeMap::new())));
        assert_eq!(
            tiny.reserve("acm", "DescribeCertificate", now, None),
            Ok(Duration::ZERO)
        );
        let next = tiny
            .reserve("acm", "DescribeCertificate", now, None)
            .unwrap();
        assert!((next.as_secs_f64() - 10.0).abs() < 1e-6, "{next:?}");
    }

    #[test]
    fn unquoted_calls_and_other_scopes_do_not_wait() {
        let now = Instant::now();
        let limits = limits(1.0);
        let (a, b) = (ScopeQuotas::new(limits.clone()), ScopeQuotas::new(limits));
        pace(&a, "ec2", "DescribeSecurityGroups", 100, now);
        assert!(a.reserve("ec2", "DescribeVpcs", now, None).unwrap() > Duration::ZERO);
        assert_eq!(
            b.reserve("ec2", "DescribeVpcs", now, None),
            Ok(Duration::ZERO)
        );
        for _ in 0..1000 {
            assert_eq!(
                a.reserve("sts", "GetCallerIdentity", now, None),
                Ok(Duration::ZERO)
            );
        }
    }

    #[test]
    fn a_slot_after_the_deadline_is_refused_and_nothing_is_taken() {
        let now = Instant::now();
        let q = ScopeQuotas::new(limits(1.0));
        pace(&q, "cloudwatchlogs", "FilterLogEvents", 5, now);
        let deadline = Some(now + Duration::from_millis(100));
        let refused = q.reserve("cloudwatchlogs", "FilterLogEvents", now, deadline);
        assert_eq!(
            refused,
            Err(Exhausted {
                quota: "cloudwatchlogs:FilterLogEvents".into(),
                retry: false,
            })
        );
        // The refused call took nothing: the next slot is still at 0.2 s.
        let next = q
            .reserve("cloudwatchlogs", "FilterLogEvents", now, None)
            .unwrap();
        assert!((next.as_secs_f64() - 0.2).abs() < 1e-6, "{next:?}");
    }

    #[test]
    fn time_refills_the_bucket_up_to_its_burst_only() {
        let now = Instant::now();
        let q = ScopeQuotas::new(limits(1.0));
        pace(&q, "acm", "DescribeCertificate", 10, now);
        let later = now + Duration::from_secs(60);
        let (at_once, _) = pace(&q, "acm", "DescribeCertificate", 12, later);
        assert_eq!(at_once, 10);
    }

    #[test]
    fn a_call_waiting_on_its_operation_does_not_hold_back_its_service() {
        let now = Instant::now();
        let overrides =
            BTreeMap::from([("ec2:DescribeSecurityGroups".to_owned(), rate(0.05, 1.0))]);
        let q = ScopeQuotas::new(Arc::new(Limits::new(1.0, &overrides)));
        assert_eq!(
            q.reserve("ec2", "DescribeSecurityGroups", now, None),
            Ok(Duration::ZERO)
        );
        let later = q
            .reserve("ec2", "DescribeSecurityGroups", now, None)
            .unwrap();
        assert_eq!(later, Duration::from_secs(20));
        assert_eq!(
            q.reserve("ec2", "DescribeVpcs", now, None),
            Ok(Duration::ZERO)
        );
    }

    #[test]
    fn no_call_waits_longer_than_its_signature_lives() {
        let now = Instant::now();
        let overrides = BTreeMap::from([("acm".to_owned(), rate(0.001, 1.0))]);
        let q = ScopeQuotas::new(Arc::new(Limits::new(1.0, &overrides)));
        assert_eq!(
            q.reserve("acm", "ListCertificates", now, None),
            Ok(Duration::ZERO)
        );
        // The next slot is 1000 s away: refused, even with no deadline.
        assert!(q.reserve("acm", "ListCertificates", now, None).is_err());
    }

    #[test]
    fn overrides_replace_and_add_quotas() {
        let overrides = BTreeMap::from([
            ("apigateway".to_owned(), rate(100.0, 100.0)),
            ("sts:GetCallerIdentity".to_owned(), rate(1.0, 1.0)),
        ]);
        let limits = Limits::new(1.0, &overrides);
        assert_eq!(
            limits.covering("apigatewayv2", "GetApis")[0].1,
            rate(100.0, 100.0)
        );
        assert_eq!(limits.covering("sts", "GetCallerIdentity").len(), 1);
    }

    #[test]
    fn throttles_slow_an_adaptive_bucket_and_time_brings_it_back() {
        let now = Instant::now();
        let adaptive = Arc::new(Limits::new(1.0, &BTreeMap::new()).adaptive(true));
        let q = ScopeQuotas::new(adaptive);
        // ACM: 10/s, bursts of 10. Spend the burst, then be throttled.
        pace(&q, "acm", "DescribeCertificate", 10, now);
        q.throttled("acm", "DescribeCertificate", now);
        // Answers of calls sent together count once.
        q.throttled(
            "acm",
            "DescribeCertificate",
            now + Duration::from_millis(100),
        );
        let next = |q: &ScopeQuotas, at: Instant| q.reserve("acm", "DescribeCertificate", at, None);
        let first = next(&q, now).unwrap();
        let second = next(&q, now).unwrap();
        // Slots 0.1 s apart at full speed; 0.2 s at half speed.
        assert!(
            (second - first).as_secs_f64() > 0.15,
            "{first:?} {second:?}"
        );
        // Throttled again and again: never below an eighth.
        for i in 1..20 {
            q.throttled(
                "acm",
                "DescribeCertificate",
                now + Duration::from_millis(500 * i),
            );
        }
        let slowest = now + Duration::from_millis(500 * 19);
        let bucket_speed = |q: &ScopeQuotas, at: Instant| {
            q.buckets.lock().unwrap()["acm:DescribeCertificate"].speed(at)
        };
        assert!((bucket_speed(&q, slowest) - SLOWEST).abs() < 1e-9);
        // Three seconds without a throttle: full speed, whatever the calls did.
        assert!((bucket_speed(&q, slowest + Duration::from_secs(3)) - 1.0).abs() < 1e-9);
        assert!(bucket_speed(&q, slowest + Duration::from_millis(1500)) < 1.0);
    }

    #[test]
    fn standard_mode_ignores_throttles() {
        let now = Instant::now();
        let q = ScopeQuotas::new(limits(1.0));
        q.throttled("acm", "DescribeCertificate", now);
        assert!(q.buckets.lock().unwrap().is_empty());
    }

    #[test]
    fn new_limits_keep_the_slots_already_taken() {
        let now = Instant::now();
        let q = ScopeQuotas::new(limits(1.0));
        let (at_once, _) = pace(&q, "acm", "DescribeCertificate", 10, now);
        assert_eq!(at_once, 10);
        // A reload that halves the share: the bucket is not refilled.
        q.set_limits(limits(0.5));
        let wait = q.reserve("acm", "DescribeCertificate", now, None).unwrap();
        assert!(wait > Duration::ZERO, "{wait:?}");
        // And the same limits again change nothing.
        q.set_limits(limits(0.5));
        let later = q.reserve("acm", "DescribeCertificate", now, None).unwrap();
        assert!(later > wait);
    }
}
