//! The only place that talks to AWS: builds SDK clients from the standard
//! configuration chain and turns answers into `crate::inventory` structs.
//!
//! Clients honour everything the SDK reads from the environment (credential
//! chain, `AWS_REGION`, `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`),
//! so the tests and the demo reach an emulator with no code path of their own.

mod apigateway;
mod apigatewayv2;
mod error;
mod interconnect;
mod sts;
pub mod telemetry;

use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use tokio::sync::OnceCell;

pub use error::AwsError;
pub use telemetry::{ApiTelemetry, Outcome};

use crate::config::{AccountConfig, AwsConfig, RetryMode};
use crate::inventory::{Interconnect, VpcLink};
use telemetry::TelemetryInterceptor;

/// Shared SDK configuration: loaded once, then specialised per account and region.
#[derive(Clone)]
pub struct Aws {
    base: SdkConfig,
    telemetry: ApiTelemetry,
}

impl Aws {
    /// Loads the ambient configuration with the exporter's retry and timeout policy.
    /// `home_region` is where account-wide calls go before a scope names its
    /// own region; giving it skips the SDK's region lookup (which may probe
    /// the instance metadata service).
    pub async fn load(settings: &AwsConfig, home_region: &str, telemetry: ApiTelemetry) -> Aws {
        let retry = match settings.retry_mode {
            RetryMode::Standard => RetryConfig::standard(),
            RetryMode::Adaptive => RetryConfig::adaptive(),
        }
        .with_max_attempts(settings.max_attempts);
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(settings.connect_timeout)
            .build();
        let base = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(home_region.to_owned()))
            .retry_config(retry)
            .timeout_config(timeouts)
            .load()
            .await;
        Aws { base, telemetry }
    }

    /// Clients for one account in one region. For an account with a role the
    /// credentials come from STS AssumeRole (refreshed by the SDK).
    pub async fn scope(&self, account: &AccountConfig, region: &str) -> AwsScope {
        let region = Region::new(region.to_owned());
        let mut builder = self.base.to_builder().region(region.clone());
        if let Some(role_arn) = &account.role_arn {
            let mut role = aws_config::sts::AssumeRoleProvider::builder(role_arn)
                .session_name(
                    account
                        .session_name
                        .clone()
                        .unwrap_or_else(|| "aws-connectivity-exporter".to_owned()),
                )
                .region(region);
            if let Some(id) = &account.external_id {
                role = role.external_id(id);
            }
            let provider = role.configure(&self.base).build().await;
            builder = builder.credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            );
        }
        AwsScope::new(builder.build(), self.telemetry.clone())
    }
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
    account_id: OnceCell<String>,
    telemetry: ApiTelemetry,
}

impl AwsScope {
    fn new(config: SdkConfig, telemetry: ApiTelemetry) -> AwsScope {
        let interceptor = TelemetryInterceptor::new(telemetry.clone());
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&config)
                .interceptor(interceptor.clone())
                .build(),
        );
        let apigateway = aws_sdk_apigateway::Client::from_conf(
            aws_sdk_apigateway::config::Builder::from(&config)
                .interceptor(interceptor.clone())
                .build(),
        );
        let apigatewayv2 = aws_sdk_apigatewayv2::Client::from_conf(
            aws_sdk_apigatewayv2::config::Builder::from(&config)
                .interceptor(interceptor.clone())
                .build(),
        );
        let interconnect = aws_sdk_interconnect::Client::from_conf(
            aws_sdk_interconnect::config::Builder::from(&config)
                .interceptor(interceptor)
                .build(),
        );
        AwsScope {
            inner: Arc::new(ScopeClients {
                sts,
                apigateway,
                apigatewayv2,
                interconnect,
                account_id: OnceCell::new(),
                telemetry,
            }),
        }
    }

    /// The account id the credentials belong to (STS GetCallerIdentity),
    /// asked once and then remembered; a failure is retried on the next call.
    pub async fn account_id(&self) -> Result<String, AwsError> {
        self.inner
            .account_id
            .get_or_try_init(|| sts::caller_account(&self.inner.sts))
            .await
            .cloned()
    }

    /// The account id if STS has already answered.
    pub fn known_account_id(&self) -> Option<String> {
        self.inner.account_id.get().cloned()
    }

    /// Every VPC link (V1) of API Gateway REST APIs, all pages.
    pub async fn rest_vpc_links(&self) -> Result<Vec<VpcLink>, AwsError> {
        apigateway::vpc_links(&self.inner.apigateway, &self.inner.telemetry).await
    }

    /// Interconnect connections and environments, all pages.
    pub async fn interconnect(&self) -> Result<Interconnect, AwsError> {
        interconnect::inventory(&self.inner.interconnect).await
    }

    /// Every VPC link (V2) of API Gateway HTTP APIs, all pages.
    pub async fn http_vpc_links(&self) -> Result<Vec<VpcLink>, AwsError> {
        apigatewayv2::vpc_links(&self.inner.apigatewayv2, &self.inner.telemetry).await
    }
}
