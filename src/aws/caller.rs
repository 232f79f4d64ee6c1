//! Whom a scope's calls are made for and what bounds them: the account
//! (its credentials and id, shared by its regions), the [`Caller`] of one
//! scope (its labels and quota buckets), and the [`ServiceLimits`] on
//! requests in flight per service. The service modules and the quota
//! pacing read them; `Aws` makes them.

use std::sync::Arc;

use tokio::sync::OnceCell;

use super::quota;
use super::telemetry::CallScope;
use crate::config::AccountConfig;

/// The account label to use until STS answers: the role ARN's account, or `unknown`.
pub fn fallback_account(account: &AccountConfig) -> String {
    account
        .role_arn
        .as_deref()
        .and_then(|arn| arn.split(':').nth(4))
        .filter(|id| !id.is_empty())
        .unwrap_or("unknown")
        .to_owned()
}

/// What every region of one configured account shares: its credentials
/// (one AssumeRole per expiry, not one per region) and its id (one
/// GetCallerIdentity, not one per region).
#[derive(Debug)]
pub(super) struct AccountShared {
    pub(super) credentials: Option<aws_credential_types::provider::SharedCredentialsProvider>,
    pub(super) id: OnceCell<String>,
    /// The `account` label until STS answers: the role ARN's account, or `unknown`.
    pub(super) fallback: String,
}

impl AccountShared {
    pub(super) fn label(&self) -> String {
        self.id.get().unwrap_or(&self.fallback).clone()
    }
}

/// Whom one scope's calls are made for: the `account` and `region` labels
/// of the AWS self-metrics, the account as far as it is known.
#[derive(Debug)]
pub(crate) struct Caller {
    pub(super) account: Arc<AccountShared>,
    pub(super) region: String,
    /// The scope's quota buckets: AWS's throttles slow them (adaptive mode).
    pub(super) quotas: Arc<quota::ScopeQuotas>,
}

impl Caller {
    pub(super) fn call_scope(&self) -> CallScope {
        CallScope {
            account: self.account.label(),
            region: self.region.clone(),
        }
    }
}

/// A bound on requests in flight per AWS service, shared by every account
/// and region; a request holds its slot on the wire only, not while it
/// waits for its quota.
#[derive(Debug)]
pub(super) struct ServiceLimits {
    per_service: std::collections::BTreeMap<&'static str, tokio::sync::Semaphore>,
}

impl ServiceLimits {
    pub(super) fn new(permits: u32) -> ServiceLimits {
        let permits = usize::try_from(permits).unwrap_or(usize::MAX).max(1);
        ServiceLimits {
            per_service: crate::services::SERVICES
                .iter()
                .map(|s| s.name)
                .chain(["other"])
                .map(|s| (s, tokio::sync::Semaphore::new(permits)))
                .collect(),
        }
    }

    /// Waits for a slot for `service` (a label: `apigatewayv2` counts as
    /// `apigateway`); the slot is freed when the guard drops.
    pub(super) async fn acquire(&self, service: &str) -> Option<tokio::sync::SemaphorePermit<'_>> {
        let service = quota::quota_service(service);
        let semaphore = self
            .per_service
            .get(service)
            .or_else(|| self.per_service.get("other"))?;
        semaphore.acquire().await.ok()
    }
}
