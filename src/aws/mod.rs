//! The only place that talks to AWS: builds SDK clients from the standard
//! configuration chain and turns answers into `crate::inventory` structs.
//!
//! Clients honour everything the SDK reads from the environment (credential
//! chain, `AWS_REGION`, `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`),
//! so the tests and the demo reach an emulator with no code path of their own.

/// A client of one SDK crate on `config`, with the self-metrics and the
/// retry budget on every call: one builder for every service.
macro_rules! client {
    ($sdk:ident, $config:expr, $interceptor:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from($config)
                .interceptor($interceptor.clone())
                .interceptor(budget::RetryBudget)
                .build(),
        )
    };
}

mod acm;
mod apigateway;
mod apigatewayv2;
pub mod budget;
mod caller;
mod cloudwatch;
pub mod deadline;
pub mod discovery;
mod ec2;
mod elbv2;
mod error;
pub mod iam;
mod interconnect;
mod listing;
mod logs;
mod organizations;
pub mod quota;
mod sts;
pub mod telemetry;

use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use tokio::sync::OnceCell;

pub use caller::fallback_account;
use caller::{AccountShared, Caller, ServiceLimits};
pub use ec2::NetworkQuery;
pub use error::AwsError;
pub use telemetry::{ApiTelemetry, CallScope, Outcome};

use crate::config::{AccountConfig, AwsConfig, RetryMode};
use std::collections::BTreeSet;

use crate::inventory::{
    ApiRef, ApiType, Certificates, EndpointService, Integration, Interconnect, LoadBalancing,
    NetworkRules, Stage, VpcLink,
};
use crate::lock::LockOrRecover;
use telemetry::TelemetryInterceptor;

/// Shared SDK configuration: loaded once, then specialised per account and
/// region. A reload keeps it whole when the `aws` settings did not change
/// ([`Aws::reload`]): credentials, account ids and quota buckets carry on.
#[derive(Clone)]
pub struct Aws {
    /// What it was loaded from, to tell whether a reload changes it.
    settings: AwsConfig,
    home_region: String,
    base: SdkConfig,
    /// The HTTP client of every scope (one connection pool), which each
    /// scope wraps in its own quotas' pacing.
    http: Option<aws_smithy_runtime_api::client::http::SharedHttpClient>,
    telemetry: ApiTelemetry,
    limits: Arc<ServiceLimits>,
    quotas: Arc<quota::Limits>,
    accounts: Arc<std::sync::Mutex<std::collections::HashMap<AccountConfig, Arc<AccountShared>>>>,
    /// Each AWS account's quota buckets in each region, kept across
    /// reloads: a reload must not refill them (50 reloads in 5 s would be 50
    /// bursts). AWS's quotas are per account and region, so two configured
    /// entries in one account (two roles, or a listed and a discovered one)
    /// share one set.
    buckets: Arc<std::sync::Mutex<std::collections::HashMap<QuotaKey, Arc<quota::ScopeQuotas>>>>,
    /// Account ids STS told an earlier configuration: a reload that
    /// rebuilds the clients does not ask again.
    known_ids: std::collections::HashMap<AccountConfig, String>,
}

/// A configured account in a region: what identifies a scope across reloads.
pub type ScopeKey = (AccountConfig, String);

/// An AWS account (as far as the configuration tells it) in a region: what
/// AWS's quotas are counted by.
type QuotaKey = (String, String);

/// The quota key of a configured account in a region: the role's account,
/// or `unknown` for the ambient credentials (one such entry at most).
fn quota_key(account: &AccountConfig, region: &str) -> QuotaKey {
    (fallback_account(account), region.to_owned())
}

impl Aws {
    /// Loads the ambient configuration with the exporter's retry and timeout policy.
    /// `home_region` is where account-wide calls go before a scope names its
    /// own region; giving it skips the SDK's region lookup (which may probe
    /// the instance metadata service).
    pub async fn load(settings: &AwsConfig, home_region: &str, telemetry: ApiTelemetry) -> Aws {
        // The SDK always retries in standard mode: `adaptive` is the
        // exporter's own buckets slowing down ([`quota::ScopeQuotas::throttled`]),
        // which never make a call wait past its poll's deadline. The SDK's
        // adaptive limiter waits before a call's first attempt whatever the
        // deadline, and with short timeouts locked collectors out.
        let retry = RetryConfig::standard().with_max_attempts(settings.max_attempts);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(settings.connect_timeout)
            .build();
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(home_region.to_owned()))
            .retry_config(retry)
            .timeout_config(timeouts)
            .load()
            .await;
        let http = http_client(&base);
        Aws {
            settings: settings.clone(),
            home_region: home_region.to_owned(),
            base,
            http,
            telemetry,
            limits: Arc::new(ServiceLimits::new(settings.max_concurrent_requests)),
            quotas: Arc::new(
                quota::Limits::new(settings.quota_share, &settings.quotas)
                    .adaptive(settings.retry_mode == RetryMode::Adaptive),
            ),
            accounts: Arc::default(),
            buckets: Arc::default(),
            known_ids: std::collections::HashMap::new(),
        }
    }

    /// The clients for a reloaded configuration: these, when its `aws`
    /// settings and home region are the same; else new ones that keep the
    /// quota buckets (retuned to the new limits, never refilled) and the
    /// account ids already known.
    pub async fn reload(&self, settings: &AwsConfig, home_region: &str) -> Aws {
        if self.settings == *settings && self.home_region == home_region {
            return self.clone();
        }
        let mut fresh = Aws::load(settings, home_region, self.telemetry.clone()).await;
        for quotas in self.lock_buckets().values() {
            quotas.set_limits(fresh.quotas.clone());
        }
        fresh.buckets = self.buckets.clone();
        fresh.known_ids = self
            .lock_accounts()
            .iter()
            .filter_map(|(account, shared)| Some((account.clone(), shared.id.get()?.clone())))
            .chain(self.known_ids.clone())
            .collect();
        fresh
    }

    /// Forgets the buckets and clients of scopes no longer polled.
    pub fn retain_scopes(&self, keep: &[ScopeKey]) {
        let kept: BTreeSet<QuotaKey> = keep.iter().map(|(a, r)| quota_key(a, r)).collect();
        self.lock_buckets().retain(|key, _| kept.contains(key));
        self.lock_accounts()
            .retain(|account, _| keep.iter().any(|(a, _)| a == account));
    }

    fn lock_buckets(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<QuotaKey, Arc<quota::ScopeQuotas>>>
    {
        self.buckets.lock_or_recover()
    }

    /// Clients for one account in one region. For an account with a role the
    /// credentials come from STS AssumeRole (refreshed by the SDK), shared by
    /// the account's regions. Their requests are paced by the account's own
    /// share of AWS's quotas in the region.
    pub async fn scope(&self, account: &AccountConfig, region: &str) -> AwsScope {
        let (config, caller) = self.scope_config(account, region).await;
        AwsScope::new(config, self.telemetry.clone(), caller)
    }

    /// The SDK configuration of one account in one region, and whom its
    /// calls are counted for.
    async fn scope_config(
        &self,
        account: &AccountConfig,
        region: &str,
    ) -> (SdkConfig, Arc<Caller>) {
        let shared = self.account(account).await;
        let quotas = self
            .lock_buckets()
            .entry(quota_key(account, region))
            .or_insert_with(|| Arc::new(quota::ScopeQuotas::new(self.quotas.clone())))
            .clone();
        let caller = Arc::new(Caller {
            account: shared.clone(),
            region: region.to_owned(),
            quotas: quotas.clone(),
        });
        let mut builder = self
            .base
            .to_builder()
            .region(Region::new(region.to_owned()));
        if let Some(credentials) = &shared.credentials {
            builder = builder.credentials_provider(credentials.clone());
        }
        match &self.http {
            Some(http) => {
                builder = builder.http_client(quota::QuotaHttpClient::new(
                    http.clone(),
                    quotas,
                    self.limits.clone(),
                    self.telemetry.clone(),
                    caller.clone(),
                ));
            }
            None => tracing::warn!(
                "the AWS SDK has no HTTP client to pace: requests are not held to the quotas"
            ),
        }
        (builder.build(), caller)
    }

    /// The organisation's accounts (or those under `include_ous`), listed
    /// with `account`'s credentials from Organizations' global endpoint
    /// region `region`, and its management account.
    pub async fn organization_accounts(
        &self,
        account: &AccountConfig,
        region: &str,
        include_ous: &[String],
        tags: &[String],
    ) -> Result<(Vec<crate::accounts::OrgAccount>, Option<String>), AwsError> {
        let (config, caller) = self.scope_config(account, region).await;
        let interceptor = TelemetryInterceptor::new(self.telemetry.clone(), caller);
        let client = client!(aws_sdk_organizations, &config, interceptor);
        let management = organizations::management_account(&client).await?;
        let accounts = organizations::accounts(&client, include_ous, tags, &self.telemetry).await?;
        Ok((accounts, management))
    }

    async fn account(&self, account: &AccountConfig) -> Arc<AccountShared> {
        if let Some(known) = self.lock_accounts().get(account) {
            return known.clone();
        }
        let credentials = match &account.role_arn {
            None => None,
            Some(role_arn) => {
                let mut role = aws_config::sts::AssumeRoleProvider::builder(role_arn).session_name(
                    account
                        .session_name
                        .clone()
                        .unwrap_or_else(|| "aws-connectivity-exporter".to_owned()),
                );
                if let Some(id) = &account.external_id {
                    role = role.external_id(id);
                }
                let provider = role.configure(&self.base).build().await;
                let scope = CallScope {
                    account: fallback_account(account),
                    region: self
                        .base
                        .region()
                        .map(|r| r.to_string())
                        .unwrap_or_default(),
                };
                Some(
                    aws_credential_types::provider::SharedCredentialsProvider::new(
                        sts::CountedCredentials::new(
                            provider,
                            role_arn,
                            self.telemetry.clone(),
                            scope,
                        ),
                    ),
                )
            }
        };
        let shared = Arc::new(AccountShared {
            credentials,
            id: OnceCell::new_with(self.known_ids.get(account).cloned()),
            fallback: fallback_account(account),
        });
        self.lock_accounts()
            .entry(account.clone())
            .or_insert(shared)
            .clone()
    }

    fn lock_accounts(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<AccountConfig, Arc<AccountShared>>>
    {
        self.accounts.lock_or_recover()
    }
}

/// The HTTP client the SDK would choose (the one configured, else its
/// default HTTPS client), to wrap in the quotas' pacing.
fn http_client(base: &SdkConfig) -> Option<aws_smithy_runtime_api::client::http::SharedHttpClient> {
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
    base.http_client().or_else(|| {
        let plugin = aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(
            BehaviorVersion::latest(),
        )?;
        plugin
            .runtime_components(&RuntimeComponentsBuilder::new("awsconn"))
            .http_client()
    })
}

/// The clients of one account and region, with the account id cached once STS told it.
#[derive(Clone)]
pub struct AwsScope {
    inner: Arc<ScopeClients>,
}

struct ScopeClients {
    sts: aws_sdk_sts::Client,
    apigateway: aws_sdk_apigateway::Client,
    apigatewayv2: aws_sdk_apigatewayv2::Client,
    interconnect: aws_sdk_interconnect::Client,
    elbv2: aws_sdk_elasticloadbalancingv2::Client,
    ec2: aws_sdk_ec2::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    acm: aws_sdk_acm::Client,
    caller: Arc<Caller>,
    telemetry: ApiTelemetry,
}

impl AwsScope {
    fn new(config: SdkConfig, telemetry: ApiTelemetry, caller: Arc<Caller>) -> AwsScope {
        let interceptor = TelemetryInterceptor::new(telemetry.clone(), caller.clone());
        let sts = client!(aws_sdk_sts, &config, interceptor);
        let apigateway = client!(aws_sdk_apigateway, &config, interceptor);
        let apigatewayv2 = client!(aws_sdk_apigatewayv2, &config, interceptor);
        let interconnect = client!(aws_sdk_interconnect, &config, interceptor);
        let elbv2 = client!(aws_sdk_elasticloadbalancingv2, &config, interceptor);
        let ec2 = client!(aws_sdk_ec2, &config, interceptor);
        let logs = client!(aws_sdk_cloudwatchlogs, &config, interceptor);
        let cloudwatch = client!(aws_sdk_cloudwatch, &config, interceptor);
        let acm = client!(aws_sdk_acm, &config, interceptor);
        AwsScope {
            inner: Arc::new(ScopeClients {
                sts,
                apigateway,
                apigatewayv2,
                interconnect,
                elbv2,
                ec2,
                logs,
                cloudwatch,
                acm,
                caller,
                telemetry,
            }),
        }
    }

    /// The account id the credentials belong to (STS GetCallerIdentity),
    /// asked once per account (whichever region asks first) and then
    /// remembered; a failure is retried on the next call.
    pub async fn account_id(&self) -> Result<String, AwsError> {
        self.inner
            .caller
            .account
            .id
            .get_or_try_init(|| async { sts::caller_account(&self.inner.sts).await })
            .await
            .cloned()
    }

    /// The region these clients call.
    pub fn region(&self) -> &str {
        &self.inner.caller.region
    }

    /// The account label as far as it is known: the id once STS has
    /// answered, until then the role ARN's account, or `unknown`.
    pub fn account_label(&self) -> String {
        self.inner.caller.account.label()
    }

    /// The regions enabled for this account (EC2 DescribeRegions).
    pub async fn enabled_regions(&self) -> Result<Vec<String>, AwsError> {
        ec2::enabled_regions(&self.inner.ec2, &self.inner.telemetry).await
    }

    /// Every VPC link (V1) of API Gateway REST APIs, all pages.
    pub async fn rest_vpc_links(&self) -> Result<Vec<VpcLink>, AwsError> {
        apigateway::vpc_links(&self.inner.apigateway, &self.inner.telemetry).await
    }

    /// Interconnect connections, environments and the attach points of
    /// those with connections, all pages.
    /// With `tags` named, each connection's tags (one ListTagsForResource each).
    pub async fn interconnect(&self, tags: &[String]) -> Result<Interconnect, AwsError> {
        interconnect::inventory(&self.inner.interconnect, tags, &self.inner.telemetry).await
    }

    /// Every REST and HTTP API, by id and name: one call per 500 of each.
    pub async fn list_apis(&self) -> Result<Vec<ApiRef>, AwsError> {
        let (mut rest, http) = tokio::try_join!(
            apigateway::list(&self.inner.apigateway, &self.inner.telemetry),
            apigatewayv2::list(&self.inner.apigatewayv2, &self.inner.telemetry)
        )?;
        rest.extend(http);
        Ok(rest)
    }

    /// The stages of one API, with the deployment each runs.
    pub async fn api_stages(&self, api: &ApiRef) -> Result<Vec<Stage>, AwsError> {
        match api.api_type {
            ApiType::Rest => {
                apigateway::stages(&self.inner.apigateway, &api.id, &self.inner.telemetry).await
            }
            ApiType::Http => {
                apigatewayv2::stages(&self.inner.apigatewayv2, &api.id, &self.inner.telemetry).await
            }
        }
    }

    /// The VPC-link integrations of one API.
    pub async fn api_integrations(&self, api: &ApiRef) -> Result<Vec<Integration>, AwsError> {
        match api.api_type {
            ApiType::Rest => apigateway::integrations(&self.inner.apigateway, &api.id).await,
            ApiType::Http => apigatewayv2::integrations(&self.inner.apigatewayv2, &api.id).await,
        }
    }

    /// Counts an item left out of what a collector read, or kept as last
    /// read, in `awsconn_aws_incomplete_items_total`.
    pub fn incomplete_item(&self, service: &str, operation: &str, reason: &str) {
        self.inner
            .telemetry
            .skipped_item(service, operation, reason);
    }

    /// Load balancers (those in `wanted`, or all) with their tags named in
    /// `tags`, listeners, target groups, target health.
    pub async fn load_balancing(
        &self,
        wanted: Option<&BTreeSet<String>>,
        health_after: Option<&str>,
        tags: &[String],
    ) -> Result<LoadBalancing, AwsError> {
        elbv2::load_balancing(
            &self.inner.elbv2,
            wanted,
            health_after,
            tags,
            &self.inner.telemetry,
        )
        .await
    }

    /// Endpoint services of these load balancers, with their connections
    /// and their tags named in `tags` (inline in the list).
    pub async fn endpoint_services(
        &self,
        load_balancers: &BTreeSet<String>,
        tags: &[String],
    ) -> Result<Vec<EndpointService>, AwsError> {
        ec2::endpoint_services(&self.inner.ec2, load_balancers, tags, &self.inner.telemetry).await
    }

    /// Security groups, NACLs, prefix lists and interfaces for a query.
    pub async fn network_rules(&self, query: &NetworkQuery) -> Result<NetworkRules, AwsError> {
        ec2::network_rules(&self.inner.ec2, query, &self.inner.telemetry).await
    }

    /// Log events of a group in `[start_ms, end_ms]`, every page, optionally
    /// filtered on the server.
    pub async fn log_events(
        &self,
        group: &str,
        start_ms: i64,
        end_ms: i64,
        pattern: Option<&str>,
    ) -> Result<Vec<crate::logs::LogEvent>, AwsError> {
        logs::events(
            &self.inner.logs,
            group,
            start_ms,
            end_ms,
            pattern,
            &self.inner.telemetry,
        )
        .await
    }

    /// The newest datapoint (epoch seconds, value) of each query in
    /// `[start_s, end_s)` whose value `keep` accepts (GetMetricData, 500
    /// queries a call): `|_| true` for the newest complete value, `|v| v > 0.0`
    /// for when a `Count` last saw a request.
    pub async fn newest_datapoints(
        &self,
        queries: &[crate::inventory::MetricQuery],
        (start_s, end_s): (i64, i64),
        period_s: i32,
        keep: fn(f64) -> bool,
    ) -> Result<Vec<Option<(i64, f64)>>, AwsError> {
        cloudwatch::newest_datapoints(
            &self.inner.cloudwatch,
            &self.inner.telemetry,
            queries,
            (start_s, end_s),
            period_s,
            keep,
        )
        .await
    }

    /// The certificates of these listeners, and what ACM says of each ACM
    /// one. A listener whose certificates cannot be listed fails the poll;
    /// a certificate ACM cannot describe (gone, access denied) is recorded
    /// as unread, and the others are still reported.
    pub async fn certificates(&self, listeners: &[String]) -> Result<Certificates, AwsError> {
        let mut out = Certificates::default();
        for listener in listeners {
            let certificates =
                elbv2::listener_certificates(&self.inner.elbv2, listener, &self.inner.telemetry)
                    .await;
            match certificates {
                Ok(certificates) => {
                    out.listeners.insert(listener.clone(), certificates);
                }
                // Deleted since the load balancers were read: the next
                // poll of those no longer lists it.
                Err(e) if e.code.as_deref() == Some("ListenerNotFound") => {}
                Err(e) => return Err(e),
            }
        }
        let arns: BTreeSet<&String> = out
            .listeners
            .values()
            .flatten()
            .map(|c| &c.arn)
            .filter(|arn| acm::is_acm(arn))
            .collect();
        for arn in arns {
            match acm::describe(&self.inner.acm, arn, &self.inner.telemetry).await {
                Ok(detail) => {
                    out.details.insert(arn.clone(), detail);
                }
                Err(e) => {
                    tracing::debug!(certificate = %arn, error = %e, "certificate not described");
                    out.unread.insert(arn.clone(), e.to_string());
                }
            }
        }
        Ok(out)
    }

    /// Every VPC link (V2) of API Gateway HTTP APIs, all pages.
    pub async fn http_vpc_links(&self) -> Result<Vec<VpcLink>, AwsError> {
        apigatewayv2::vpc_links(&self.inner.apigatewayv2, &self.inner.telemetry).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_account_comes_from_the_role_arn() {
        let with_role = AccountConfig {
            role_arn: Some("arn:aws:iam::111122223333:role/r".into()),
            ..Default::default()
        };
        assert_eq!(fallback_account(&with_role), "111122223333");
        assert_eq!(fallback_account(&AccountConfig::default()), "unknown");
    }

    /// AWS counts its quotas per account and region: two roles in one
    /// account share one set of buckets in a region, another account or
    /// region has its own, and forgetting one entry keeps the buckets the
    /// other still uses.
    #[tokio::test]
    async fn entries_of_one_account_share_its_quota_buckets() {
        let role = |account: &str, name: &str| AccountConfig {
            role_arn: Some(format!("arn:aws:iam::{account}:role/{name}")),
            ..Default::default()
        };
        let (reader, auditor) = (
            role("111122223333", "reader"),
            role("111122223333", "auditor"),
        );
        let other = role("444455556666", "reader");
        let aws = Aws::load(&AwsConfig::default(), "us-east-1", ApiTelemetry::default()).await;
        let quotas = |scope: &AwsScope| scope.inner.caller.quotas.clone();
        let first = quotas(&aws.scope(&reader, "us-east-1").await);
        assert!(Arc::ptr_eq(
            &first,
            &quotas(&aws.scope(&auditor, "us-east-1").await)
        ));
        assert!(!Arc::ptr_eq(
            &first,
            &quotas(&aws.scope(&auditor, "eu-west-1").await)
        ));
        assert!(!Arc::ptr_eq(
            &first,
            &quotas(&aws.scope(&other, "us-east-1").await)
        ));
        aws.retain_scopes(&[(auditor.clone(), "us-east-1".to_owned())]);
        assert!(Arc::ptr_eq(
            &first,
            &quotas(&aws.scope(&auditor, "us-east-1").await)
        ));
        assert_eq!(aws.lock_buckets().len(), 1);
    }
}
