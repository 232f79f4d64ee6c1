//! Self-metrics of AWS API calls, recorded by one SDK interceptor on every
//! client: each HTTP attempt (retries included) is counted once with its
//! outcome and the account and region it was made for, so throttling shows
//! even when a retry later succeeds, and shows where.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use crate::lock::LockOrRecover;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextMut, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// How one attempt ended (the `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    Ok,
    Throttled,
    /// The credentials may not make this call: the IAM policy lacks an
    /// action (`iam-policy` prints the one the configuration needs).
    Denied,
    /// The service is not offered to the account or in the region (AWS's
    /// answer says so, not IAM's: `crate::aws::error::not_offered`).
    NotOffered,
    Error,
    /// The poll's deadline (the collector's timeout) passed while the
    /// attempt was in flight: it was sent, and never came back.
    Timeout,
    /// The caller stopped waiting before its deadline (a sibling call
    /// failed, a reload, shutdown) while the attempt was under way.
    Cancelled,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Throttled => "throttled",
            Outcome::Denied => "denied",
            Outcome::NotOffered => "not_offered",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Cancelled => "cancelled",
        }
    }
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CallLabels {
    service: String,
    operation: String,
    outcome: Outcome,
    account: String,
    region: String,
}

/// Whom a call is made for: the `account` and `region` labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CallScope {
    pub account: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct QuotaLabels {
    service: String,
    operation: String,
    account: String,
    region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OperationLabels {
    service: String,
    operation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct SkippedLabels {
    service: String,
    operation: String,
    reason: String,
}

/// Latency buckets from a fast describe call to a slow, retried page.
const DURATION_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

fn duration_histogram() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

/// The live API-call metrics; cheap to clone (the families are shared).
#[derive(Debug, Clone)]
pub struct ApiTelemetry {
    requests: Family<CallLabels, Counter>,
    durations: Family<OperationLabels, Histogram, fn() -> Histogram>,
    skipped: Family<SkippedLabels, Counter>,
    metrics_requested: Counter,
    quota_waits: Family<QuotaLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    quota_exhausted: Family<QuotaLabels, Counter>,
    /// The label sets each scope has in the families above, so that a
    /// scope a reload removed takes its series with it.
    by_scope: Arc<std::sync::Mutex<HashMap<CallScope, ScopeSeries>>>,
}

/// One scope's series.
#[derive(Debug, Default)]
struct ScopeSeries {
    requests: HashSet<CallLabels>,
    quotas: HashSet<QuotaLabels>,
}

impl Default for ApiTelemetry {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            durations: Family::new_with_constructor(duration_histogram),
            skipped: Family::default(),
            metrics_requested: Counter::default(),
            quota_waits: Family::default(),
            quota_exhausted: Family::default(),
            by_scope: Arc::default(),
        }
    }
}

impl ApiTelemetry {
    /// Counts one attempt; `seconds` is how long it was on the wire (a wait
    /// for the quota before it was sent is not part of it).
    pub fn record(
        &self,
        scope: &CallScope,
        service: &str,
        operation: &str,
        outcome: Outcome,
        seconds: Option<f64>,
    ) {
        let labels = CallLabels {
            service: service.to_owned(),
            operation: operation.to_owned(),
            outcome,
            account: scope.account.clone(),
            region: scope.region.clone(),
        };
        if self.requests.get_or_create(&labels).inc() == 0 {
            self.lock_scopes()
                .entry(scope.clone())
                .or_default()
                .requests
                .insert(labels);
        }
        if let Some(seconds) = seconds {
            self.durations
                .get_or_create(&OperationLabels {
                    service: service.to_owned(),
                    operation: operation.to_owned(),
                })
                .observe(seconds);
        }
    }

    /// Counts an item AWS returned without a field the exporter cannot do
    /// without (an id): it is left out (or read in the way that admits
    /// least), and this says so: a warning the first time for each
    /// operation and reason, the counter every time.
    pub fn skipped_item(&self, service: &str, operation: &str, reason: &str) {
        let before = self
            .skipped
            .get_or_create(&SkippedLabels {
                service: service.to_owned(),
                operation: operation.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
        if before == 0 {
            tracing::warn!(
                service,
                operation,
                reason,
                "AWS returned an incomplete item; it was left out (awsconn_aws_incomplete_items_total counts the next ones)"
            );
        } else {
            tracing::debug!(
                service,
                operation,
                reason,
                "AWS returned an incomplete item"
            );
        }
    }

    /// Counts metrics requested from CloudWatch GetMetricData (what it bills).
    pub fn metrics_requested(&self, n: u64) {
        self.metrics_requested.inc_by(n);
    }

    /// How many attempts of `service`/`operation` for `scope` ended with `outcome`.
    pub fn count(
        &self,
        scope: &CallScope,
        service: &str,
        operation: &str,
        outcome: Outcome,
    ) -> u64 {
        self.requests
            .get(&CallLabels {
                service: service.to_owned(),
                operation: operation.to_owned(),
                outcome,
                account: scope.account.clone(),
                region: scope.region.clone(),
            })
            .map(|c| c.get())
            .unwrap_or(0)
    }

    fn quota_labels(scope: &CallScope, service: &str, operation: &str) -> QuotaLabels {
        QuotaLabels {
            service: service.to_owned(),
            operation: operation.to_owned(),
            account: scope.account.clone(),
            region: scope.region.clone(),
        }
    }

    fn lock_scopes(&self) -> std::sync::MutexGuard<'_, HashMap<CallScope, ScopeSeries>> {
        self.by_scope.lock_or_recover()
    }

    fn note_quota_series(&self, scope: &CallScope, labels: QuotaLabels) {
        self.lock_scopes()
            .entry(scope.clone())
            .or_default()
            .quotas
            .insert(labels);
    }

    /// A call waited `seconds` for its slot in the exporter's share of an AWS quota.
    pub fn quota_waited(&self, scope: &CallScope, service: &str, operation: &str, seconds: f64) {
        let labels = Self::quota_labels(scope, service, operation);
        if self.quota_waits.get_or_create(&labels).inc_by(seconds) == 0.0 {
            self.note_quota_series(scope, labels);
        }
    }

    /// A call was not sent: its quota had no slot before the poll's deadline.
    pub fn quota_exhausted(&self, scope: &CallScope, service: &str, operation: &str) {
        let labels = Self::quota_labels(scope, service, operation);
        if self.quota_exhausted.get_or_create(&labels).inc() == 0 {
            self.note_quota_series(scope, labels);
        }
    }

    /// Drops the series of every scope `keep` refuses (a reload removed
    /// its account or region): they would otherwise stay until a restart.
    pub fn retain_scopes(&self, keep: impl Fn(&CallScope) -> bool) {
        let mut scopes = self.lock_scopes();
        scopes.retain(|scope, series| {
            if keep(scope) {
                return true;
            }
            for labels in &series.requests {
                self.requests.remove(labels);
            }
            for labels in &series.quotas {
                self.quota_waits.remove(labels);
                self.quota_exhausted.remove(labels);
            }
            false
        });
    }

    /// Adds the families to a registry that is about to be encoded.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "awsconn_aws_api_requests",
            "AWS API requests (each attempt, retries included) by outcome",
            self.requests.clone(),
        );
        registry.register(
            "awsconn_aws_api_request_duration_seconds",
            "Duration of AWS API request attempts",
            self.durations.clone(),
        );
        registry.register(
            "awsconn_cloudwatch_metrics_requested",
            "Metrics requested from CloudWatch GetMetricData, what CloudWatch bills",
            self.metrics_requested.clone(),
        );
        registry.register(
            "awsconn_aws_incomplete_items",
            "Items left out of the inventory or kept as last read: AWS returned them without a required field, or their own read failed (reason=\"read failed\")",
            self.skipped.clone(),
        );
        registry.register(
            "awsconn_aws_quota_wait_seconds",
            "Time AWS calls waited for a slot in the exporter's share of AWS's request quota",
            self.quota_waits.clone(),
        );
        registry.register(
            "awsconn_aws_quota_exhausted",
            "AWS calls not sent because the exporter's share of the quota had no slot before the poll's deadline",
            self.quota_exhausted.clone(),
        );
    }
}

/// Error codes AWS services use for throttling (the SDK's own list, plus the
/// API Gateway and EC2 spellings).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Error codes AWS services use when IAM does not allow the call (EC2 says
/// `UnauthorizedOperation`, the query protocols `AccessDenied`, the JSON
/// ones `AccessDeniedException`).
const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnauthorizedAccess",
    "AuthorizationError",
    "AuthorizationErrorException",
    "NotAuthorized",
];

/// Decides an attempt's outcome from the HTTP status, the `x-amzn-ErrorType`
/// header and the error body, whatever the protocol (JSON, XML or CBOR).
pub fn outcome_of(
    service: &str,
    status: u16,
    error_type_header: Option<&str>,
    body: Option<&[u8]>,
) -> Outcome {
    if (200..300).contains(&status) {
        return Outcome::Ok;
    }
    if status == 429 {
        return Outcome::Throttled;
    }
    let code = error_type_header
        .map(|h| h.as_bytes().to_vec())
        .or_else(|| body.and_then(error_code_in_body));
    let Some(code) = code else {
        return Outcome::Error;
    };
    let code = bare_code(&code);
    if THROTTLING_CODES.contains(&code) {
        return Outcome::Throttled;
    }
    let message = body.and_then(message_in_body);
    let message = message.as_deref().map(String::from_utf8_lossy);
    if super::error::not_offered(service, code, message.as_deref().unwrap_or("")) {
        Outcome::NotOffered
    } else if DENIED_CODES.contains(&code) {
        Outcome::Denied
    } else {
        Outcome::Error
    }
}

/// `aws.protocoltests#ThrottlingException` or `ThrottlingException:http://...`
/// -> `ThrottlingException`.
fn bare_code(code: &[u8]) -> &str {
    let code = code.split(|b| *b == b':').next().unwrap_or(code);
    let code = code.rsplit(|b| *b == b'#').next().unwrap_or(code);
    std::str::from_utf8(code).unwrap_or("").trim()
}

/// The error code of an error body: XML `<Code>`, JSON `__type`/`code`, or a
/// CBOR map's `__type` text value. Looks only at the head of the body.
fn error_code_in_body(body: &[u8]) -> Option<Vec<u8>> {
    field_in_body(
        body,
        "Code",
        &[&b"\"__type\""[..], b"\"code\"", b"\"Code\""],
        b"\x66__type",
    )
}

/// The message of an error body, found as its code is.
fn message_in_body(body: &[u8]) -> Option<Vec<u8>> {
    field_in_body(
        body,
        "Message",
        &[&b"\"message\""[..], b"\"Message\""],
        b"\x67message",
    )
}

/// A text field of an error body in any of AWS's protocols: the XML
/// element `tag`, the first JSON key of `json_keys`, or the CBOR map's text
/// key (`cbor_key`, its head byte included). A JSON text with an escaped
/// quote ends at the escape: enough for a code or a phrase to look for.
fn field_in_body(body: &[u8], tag: &str, json_keys: &[&[u8]], cbor_key: &[u8]) -> Option<Vec<u8>> {
    let body = &body[..body.len().min(8192)];
    let open_tag = format!("<{tag}>");
    if let Some(start) = memchr::memmem::find(body, open_tag.as_bytes()) {
        let rest = &body[start + open_tag.len()..];
        let end = memchr::memmem::find(rest, format!("</{tag}>").as_bytes())?;
        return Some(rest[..end].to_vec());
    }
    for key in json_keys {
        if let Some(start) = memchr::memmem::find(body, key) {
            let rest = &body[start + key.len()..];
            let open = memchr::memchr(b'"', rest)?;
            let value = &rest[open + 1..];
            let close = memchr::memchr(b'"', value)?;
            return Some(value[..close].to_vec());
        }
    }
    // CBOR: the text key, then a text value.
    let start = memchr::memmem::find(body, cbor_key)?;
    let rest = &body[start + cbor_key.len()..];
    let (&head, rest) = rest.split_first()?;
    let (len, rest) = match head {
        0x60..=0x77 => (usize::from(head - 0x60), rest),
        0x78 => {
            let (&n, rest) = rest.split_first()?;
            (usize::from(n), rest)
        }
        0x79 => {
            let (n, rest) = rest.split_first_chunk::<2>()?;
            (usize::from(u16::from_be_bytes(*n)), rest)
        }
        _ => return None,
    };
    rest.get(..len).map(<[u8]>::to_vec)
}

/// The SDK names services for people (`API Gateway`, `ApiGatewayV2`,
/// `CloudWatch Logs`); the label uses the crate-style name (`apigateway`,
/// `apigatewayv2`, `cloudwatchlogs`).
pub fn service_label(sdk_name: &str) -> String {
    sdk_name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// An attempt in flight, recorded exactly once: by `read_after_attempt`
/// when it ends, or, when the caller gives up on the call first (and the
/// SDK's state is dropped with it), when the last handle on it is dropped:
/// as a `timeout` when the poll's deadline has passed, else `cancelled`.
/// Without this, attempts cut off by a timeout reach AWS and are never
/// counted.
#[derive(Debug, Clone)]
struct AttemptInFlight(Arc<Attempt>);

/// What an attempt is, and what happened to it before it was sent.
#[derive(Debug)]
pub(super) struct Attempt {
    start: Instant,
    /// How long it waited for its quota before it was sent, in microseconds.
    waited_us: AtomicU64,
    /// Not sent (yet): it waits for its quota, or its quota had no slot in
    /// time (counted there, not here).
    unsent: AtomicBool,
    /// A retry: an attempt of the same call was sent before it.
    retry: bool,
    /// Taken by whoever records the attempt.
    unrecorded: std::sync::Mutex<Option<Recorder>>,
}

#[derive(Debug)]
struct Recorder {
    telemetry: ApiTelemetry,
    scope: CallScope,
    service: String,
    operation: String,
}

impl Attempt {
    fn take(&self) -> Option<Recorder> {
        self.unrecorded.lock_or_recover().take()
    }

    /// How long it waited for its quota before it was sent.
    fn waited_for_quota(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.waited_us.load(Ordering::Relaxed))
    }

    /// Seconds since it started, less its wait for the quota.
    fn seconds_on_the_wire(&self) -> f64 {
        self.start
            .elapsed()
            .saturating_sub(self.waited_for_quota())
            .as_secs_f64()
    }

    pub(super) fn waited(&self, wait: std::time::Duration) {
        let us = u64::try_from(wait.as_micros()).unwrap_or(u64::MAX);
        self.waited_us.fetch_add(us, Ordering::Relaxed);
    }

    pub(super) fn not_sent(&self) {
        self.unsent.store(true, Ordering::Relaxed);
    }

    pub(super) fn sent(&self) {
        self.unsent.store(false, Ordering::Relaxed);
    }

    pub(super) fn is_retry(&self) -> bool {
        self.retry
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if let Some(r) = self.take() {
            if self.unsent.load(Ordering::Relaxed) {
                return;
            }
            let seconds = self.seconds_on_the_wire();
            // Dropped inside the poll's scope: its deadline is known here.
            let outcome = if super::deadline::deadline_passed() {
                Outcome::Timeout
            } else {
                Outcome::Cancelled
            };
            r.telemetry
                .record(&r.scope, &r.service, &r.operation, outcome, Some(seconds));
        }
    }
}

impl Storable for AttemptInFlight {
    type Storer = StoreReplace<Self>;
}

/// What the HTTP layer learns of the attempt it sends (a request
/// extension): which operation it is, for the quota that paces it. The
/// attempt is held weakly: the request may outlive the call (in the HTTP
/// client's tasks), and the attempt is recorded when the call lets go.
#[derive(Debug, Clone)]
pub(super) struct Call {
    pub service: String,
    pub operation: String,
    pub attempt: std::sync::Weak<Attempt>,
}

/// How long the attempt under way waited for its quota (the retry budget
/// counts only its time on the wire as the attempt's).
pub(super) fn quota_wait_of(cfg: &ConfigBag) -> std::time::Duration {
    cfg.load::<AttemptInFlight>()
        .map_or(std::time::Duration::ZERO, |a| a.0.waited_for_quota())
}

fn service_and_operation(cfg: &ConfigBag) -> (String, String) {
    cfg.load::<Metadata>()
        .map(|m| (service_label(m.service()), m.name().to_owned()))
        .unwrap_or_else(|| ("unknown".into(), "unknown".into()))
}

/// The SDK interceptor that feeds [`ApiTelemetry`] for one account and region.
#[derive(Debug, Clone)]
pub struct TelemetryInterceptor {
    telemetry: ApiTelemetry,
    caller: Arc<super::caller::Caller>,
}

impl TelemetryInterceptor {
    pub(super) fn new(telemetry: ApiTelemetry, caller: Arc<super::caller::Caller>) -> Self {
        Self { telemetry, caller }
    }
}

impl Intercept for TelemetryInterceptor {
    fn name(&self) -> &'static str {
        "AwsconnApiTelemetry"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (service, operation) = service_and_operation(cfg);
        let retry = cfg
            .load::<aws_smithy_runtime_api::client::retries::RequestAttempts>()
            .is_some_and(|a| a.attempts() > 1);
        cfg.interceptor_state()
            .store_put(AttemptInFlight(Arc::new(Attempt {
                start: Instant::now(),
                waited_us: AtomicU64::new(0),
                // Until it is signed and handed to the HTTP layer: an
                // attempt whose credentials cannot be had never reaches
                // AWS, and is neither counted nor timed.
                unsent: AtomicBool::new(true),
                retry,
                unrecorded: std::sync::Mutex::new(Some(Recorder {
                    telemetry: self.telemetry.clone(),
                    // The account as known when the attempt starts: the
                    // first GetCallerIdentity is labelled with the role's
                    // account, or `unknown`.
                    scope: self.caller.call_scope(),
                    service,
                    operation,
                })),
            })));
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(attempt) = cfg.load::<AttemptInFlight>() {
            attempt.0.sent();
            let (service, operation) = service_and_operation(cfg);
            context.request_mut().add_extension(Call {
                service,
                operation,
                attempt: Arc::downgrade(&attempt.0),
            });
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(attempt) = cfg.load::<AttemptInFlight>().cloned() else {
            return Ok(());
        };
        let Some(r) = attempt.0.take() else {
            // Already recorded.
            return Ok(());
        };
        if attempt.0.unsent.load(Ordering::Relaxed) {
            return Ok(());
        }
        let seconds = attempt.0.seconds_on_the_wire();
        let failed_to_parse = matches!(context.output_or_error(), Some(Err(_)));
        let outcome = match context.response() {
            Some(response) => {
                let status = response.status().as_u16();
                let outcome = outcome_of(
                    &r.service,
                    status,
                    response.headers().get("x-amzn-errortype"),
                    response.body().bytes(),
                );
                // A 2xx the SDK could not read is an error, not a success.
                if outcome == Outcome::Ok && failed_to_parse {
                    Outcome::Error
                } else {
                    outcome
                }
            }
            // No response at all: connection refused, reset, timed out.
            None => Outcome::Error,
        };
        if outcome == Outcome::Throttled {
            self.caller
                .quotas
                .throttled(&r.service, &r.operation, Instant::now());
        }
        r.telemetry
            .record(&r.scope, &r.service, &r.operation, outcome, Some(seconds));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> CallScope {
        CallScope {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
        }
    }

    fn attempt(telemetry: &ApiTelemetry) -> Arc<Attempt> {
        Arc::new(Attempt {
            start: Instant::now(),
            waited_us: AtomicU64::new(0),
            unsent: AtomicBool::new(false),
            retry: false,
            unrecorded: std::sync::Mutex::new(Some(Recorder {
                telemetry: telemetry.clone(),
                scope: scope(),
                service: "ec2".to_string(),
                operation: "DescribeVpcEndpointConnections".to_string(),
            })),
        })
    }

    #[tokio::test]
    async fn an_attempt_dropped_in_flight_is_recorded_once_as_timeout_or_cancelled() {
        let telemetry = ApiTelemetry::default();
        let count =
            |outcome| telemetry.count(&scope(), "ec2", "DescribeVpcEndpointConnections", outcome);
        // Dropped when the last handle goes, outside a poll: cancelled.
        let cut = attempt(&telemetry);
        let copy = cut.clone();
        drop(cut);
        assert_eq!(count(Outcome::Cancelled), 0);
        drop(copy);
        assert_eq!(count(Outcome::Cancelled), 1);
        // Dropped in a poll whose deadline has passed: timed out.
        let late = attempt(&telemetry);
        let past = Instant::now() - std::time::Duration::from_secs(1);
        super::super::deadline::within(past, async move { drop(late) }).await;
        assert_eq!(count(Outcome::Timeout), 1);
        // Recorded when it ended: nothing more when dropped.
        let ended = attempt(&telemetry);
        assert!(ended.take().is_some());
        drop(ended);
        assert_eq!((count(Outcome::Timeout), count(Outcome::Cancelled)), (1, 1));
        // Never sent (no quota slot in time): not an attempt at all.
        let unsent = attempt(&telemetry);
        unsent.not_sent();
        drop(unsent);
        assert_eq!((count(Outcome::Timeout), count(Outcome::Cancelled)), (1, 1));
    }

    /// A scope a reload removed takes its quota series with it.
    #[test]
    fn removed_scopes_drop_their_quota_series() {
        let telemetry = ApiTelemetry::default();
        let scope = |region: &str| CallScope {
            account: "123456789012".into(),
            region: region.into(),
        };
        for region in ["us-east-1", "eu-west-1"] {
            telemetry.quota_waited(&scope(region), "apigateway", "GetStages", 0.5);
            telemetry.quota_exhausted(&scope(region), "apigateway", "GetStages");
        }
        telemetry.retain_scopes(|s| s.region == "us-east-1");
        let mut registry = Registry::default();
        telemetry.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        let quota: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("awsconn_aws_quota_"))
            .collect();
        assert_eq!(quota.len(), 2, "{text}");
        assert!(quota.iter().all(|l| l.contains("us-east-1")), "{text}");
    }

    #[test]
    fn the_wait_for_the_quota_is_not_time_on_the_wire() {
        let telemetry = ApiTelemetry::default();
        let waited = attempt(&telemetry);
        waited.waited(std::time::Duration::from_secs(3600));
        assert_eq!(waited.seconds_on_the_wire(), 0.0);
    }

    #[test]
    fn service_labels_are_crate_style() {
        assert_eq!(service_label("API Gateway"), "apigateway");
        assert_eq!(service_label("ApiGatewayV2"), "apigatewayv2");
        assert_eq!(service_label("CloudWatch Logs"), "cloudwatchlogs");
        assert_eq!(
            service_label("Elastic Load Balancing v2"),
            "elasticloadbalancingv2"
        );
    }

    #[test]
    fn success_statuses_are_ok() {
        assert_eq!(
            outcome_of("interconnect", 200, None, Some(b"{}")),
            Outcome::Ok
        );
        assert_eq!(outcome_of("interconnect", 204, None, None), Outcome::Ok);
    }

    #[test]
    fn status_429_is_throttled() {
        assert_eq!(
            outcome_of("interconnect", 429, None, None),
            Outcome::Throttled
        );
    }

    #[test]
    fn rest_json_error_type_header() {
        assert_eq!(
            outcome_of(
                "interconnect",
                400,
                Some("TooManyRequestsException:http://internal.amazon.com/coral/"),
                None
            ),
            Outcome::Throttled
        );
        assert_eq!(
            outcome_of("interconnect", 403, Some("AccessDeniedException"), None),
            Outcome::Denied
        );
    }

    #[test]
    fn xml_error_codes() {
        let ec2 = b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors></Response>";
        assert_eq!(
            outcome_of("interconnect", 503, None, Some(ec2)),
            Outcome::Throttled
        );
        let elb = b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>";
        assert_eq!(
            outcome_of("interconnect", 400, None, Some(elb)),
            Outcome::Throttled
        );
        let denied = b"<ErrorResponse><Error><Code>AccessDenied</Code><Message>Throttling is not the issue</Message></Error></ErrorResponse>";
        assert_eq!(
            outcome_of("interconnect", 403, None, Some(denied)),
            Outcome::Denied
        );
        // The service's own refusal of an account or region, in each protocol.
        let json = br#"{"__type":"AccessDeniedException","message":"Interconnect is not available in this Region"}"#;
        assert_eq!(
            outcome_of("interconnect", 403, None, Some(json)),
            Outcome::NotOffered
        );
        // The same words from another service: an IAM denial.
        assert_eq!(outcome_of("logs", 403, None, Some(json)), Outcome::Denied);
        let iam = br#"{"__type":"AccessDeniedException","message":"User: arn:aws:iam::1:user/u is not authorized to perform: interconnect:ListEnvironments"}"#;
        assert_eq!(
            outcome_of("interconnect", 403, None, Some(iam)),
            Outcome::Denied
        );
        let mut cbor =
            b"\xa2\x66__type\x78\x30com.amazonaws.interconnect#AccessDeniedException\x67message"
                .to_vec();
        let text = format!(
            "{}: this account is not enabled for Interconnect",
            "x".repeat(300)
        );
        cbor.push(0x79);
        cbor.extend_from_slice(&(text.len() as u16).to_be_bytes());
        cbor.extend_from_slice(text.as_bytes());
        assert_eq!(
            outcome_of("interconnect", 403, None, Some(&cbor)),
            Outcome::NotOffered
        );
        let xml = b"<ErrorResponse><Error><Code>OptInRequired</Code><Message>x</Message></Error></ErrorResponse>";
        assert_eq!(
            outcome_of("interconnect", 401, None, Some(xml)),
            Outcome::NotOffered
        );
        let ec2 = b"<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized</Message></Error></Errors></Response>";
        assert_eq!(
            outcome_of("interconnect", 403, None, Some(ec2)),
            Outcome::Denied
        );
        let missing =
            b"<ErrorResponse><Error><Code>LoadBalancerNotFound</Code></Error></ErrorResponse>";
        assert_eq!(
            outcome_of("interconnect", 400, None, Some(missing)),
            Outcome::Error
        );
    }

    #[test]
    fn json_error_codes() {
        let body =
            br#"{"__type":"com.amazonaws.logs#ThrottlingException","message":"Rate exceeded"}"#;
        assert_eq!(
            outcome_of("interconnect", 400, None, Some(body)),
            Outcome::Throttled
        );
        let body = br#"{"__type":"ResourceNotFoundException","message":"ThrottlingException"}"#;
        assert_eq!(
            outcome_of("interconnect", 400, None, Some(body)),
            Outcome::Error
        );
    }

    #[test]
    fn cbor_error_codes() {
        // {"__type": "com.amazonaws.interconnect#ThrottlingException"}
        let code = b"com.amazonaws.interconnect#ThrottlingException";
        let mut body = vec![0xa1, 0x66];
        body.extend_from_slice(b"__type");
        body.push(0x78);
        body.push(code.len() as u8);
        body.extend_from_slice(code);
        assert_eq!(
            outcome_of("interconnect", 400, None, Some(&body)),
            Outcome::Throttled
        );
        let mut short = vec![0xa1, 0x66];
        short.extend_from_slice(b"__type");
        short.push(0x60 + 12);
        short.extend_from_slice(b"AccessDenied");
        assert_eq!(
            outcome_of("interconnect", 403, None, Some(&short)),
            Outcome::Denied
        );
    }

    #[test]
    fn garbage_bodies_are_errors_not_panics() {
        for body in [
            &b""[..],
            b"<Code>",
            b"\"__type\"",
            b"\x66__type\x78",
            b"\xff\xfe",
        ] {
            assert_eq!(
                outcome_of("interconnect", 500, None, Some(body)),
                Outcome::Error
            );
        }
    }

    #[test]
    fn telemetry_counts_and_encodes() {
        let t = ApiTelemetry::default();
        let s = scope();
        t.record(
            &s,
            "apigateway",
            "GetVpcLinks",
            Outcome::Throttled,
            Some(0.2),
        );
        t.record(&s, "apigateway", "GetVpcLinks", Outcome::Ok, Some(0.1));
        t.record(&s, "apigateway", "GetVpcLinks", Outcome::Ok, None);
        assert_eq!(t.count(&s, "apigateway", "GetVpcLinks", Outcome::Ok), 2);
        assert_eq!(
            t.count(&s, "apigateway", "GetVpcLinks", Outcome::Throttled),
            1
        );
        t.quota_waited(&s, "apigateway", "GetResources", 0.5);
        t.quota_exhausted(&s, "apigateway", "GetResources");
        let mut registry = Registry::default();
        t.register(&mut registry);
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry).unwrap();
        assert!(out.contains(
            "awsconn_aws_api_requests_total{service=\"apigateway\",operation=\"GetVpcLinks\",outcome=\"throttled\",account=\"123456789012\",region=\"eu-west-1\"} 1"
        ), "{out}");
        assert!(out.contains(
            "awsconn_aws_quota_wait_seconds_total{service=\"apigateway\",operation=\"GetResources\",account=\"123456789012\",region=\"eu-west-1\"} 0.5"
        ), "{out}");
        assert!(out.contains(
            "awsconn_aws_quota_exhausted_total{service=\"apigateway\",operation=\"GetResources\",account=\"123456789012\",region=\"eu-west-1\"} 1"
        ), "{out}");
        assert!(out.contains("awsconn_aws_api_request_duration_seconds_count{service=\"apigateway\",operation=\"GetVpcLinks\"} 2"), "{out}");
    }
}
