//! STS: which account the credentials belong to (the `account` label).

use super::AwsError;

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
