//! STS: which account the credentials belong to (the `account` label).

use super::error::AwsError;

pub(super) async fn caller_account(client: &aws_sdk_sts::Client) -> Result<String, AwsError> {
    let out = client
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("sts", "GetCallerIdentity", e))?;
    out.account()
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| AwsError {
            service: "sts",
            operation: "GetCallerIdentity",
            code: None,
            message: "the answer named no account".into(),
        })
}

/// The credentials of an assumed role, with every AssumeRole counted in
/// `awsconn_aws_api_requests_total{service="sts",operation="AssumeRole"}`
/// (one per fetch: the SDK's retries happen inside it) and a failure logged
/// once until it recovers, rather than once per attempt.
#[derive(Debug)]
pub(super) struct CountedCredentials {
    inner: aws_config::sts::AssumeRoleProvider,
    role_arn: String,
    telemetry: super::telemetry::ApiTelemetry,
    /// The role's account, and the region STS is called in.
    scope: super::telemetry::CallScope,
    failing: std::sync::atomic::AtomicBool,
}

impl CountedCredentials {
    pub(super) fn new(
        inner: aws_config::sts::AssumeRoleProvider,
        role_arn: &str,
        telemetry: super::telemetry::ApiTelemetry,
        scope: super::telemetry::CallScope,
    ) -> CountedCredentials {
        CountedCredentials {
            inner,
            role_arn: role_arn.to_owned(),
            telemetry,
            scope,
            failing: std::sync::atomic::AtomicBool::new(false),
        }
    }

    async fn fetch(&self) -> aws_credential_types::provider::Result {
        use aws_credential_types::provider::ProvideCredentials;
        use std::sync::atomic::Ordering;
        let started = std::time::Instant::now();
        let result = self.inner.provide_credentials().await;
        let outcome = match &result {
            Ok(_) => super::telemetry::Outcome::Ok,
            Err(e) => outcome_of_failure(&format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(e)
            )),
        };
        self.telemetry.record(
            &self.scope,
            "sts",
            "AssumeRole",
            outcome,
            Some(started.elapsed().as_secs_f64()),
        );
        match &result {
            Ok(_) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(role_arn = %self.role_arn, "AssumeRole works again");
                }
            }
            Err(e) => {
                let error = aws_smithy_types::error::display::DisplayErrorContext(e).to_string();
                if self.failing.swap(true, Ordering::Relaxed) {
                    tracing::debug!(role_arn = %self.role_arn, %error, "AssumeRole still fails");
                } else {
                    tracing::warn!(role_arn = %self.role_arn, %error, "AssumeRole failed; the account's collectors fail until it works (repeats at debug level)");
                }
            }
        }
        result
    }
}

/// A credential failure's outcome, from the error code its text carries.
fn outcome_of_failure(error: &str) -> super::telemetry::Outcome {
    let has = |codes: &[&str]| codes.iter().any(|c| error.contains(c));
    if has(&["AccessDenied", "NotAuthorized", "InvalidClientTokenId"]) {
        super::telemetry::Outcome::Denied
    } else if has(&["Throttling", "RequestLimitExceeded", "TooManyRequests"]) {
        super::telemetry::Outcome::Throttled
    } else {
        super::telemetry::Outcome::Error
    }
}

impl aws_credential_types::provider::ProvideCredentials for CountedCredentials {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::new(self.fetch())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_failures_by_their_code() {
        use crate::aws::Outcome;
        assert_eq!(
            outcome_of_failure(
                "service error: AccessDenied: User is not authorized to perform: sts:AssumeRole"
            ),
            Outcome::Denied
        );
        assert_eq!(
            outcome_of_failure("Throttling: Rate exceeded"),
            Outcome::Throttled
        );
        assert_eq!(
            outcome_of_failure("dispatch failure: connection refused"),
            Outcome::Error
        );
    }
}
