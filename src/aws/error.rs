//! One error type for every failed AWS call, carrying what a log line and a
//! self-metric need: which service and operation, AWS's error code, the text.

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{service} {operation} failed: {message}")]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    /// AWS's error code (`AccessDenied`, `ThrottlingException`, ...) when it sent one.
    pub code: Option<String>,
    pub message: String,
}

impl AwsError {
    pub(crate) fn from_sdk<E>(service: &'static str, operation: &'static str, err: E) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error,
    {
        AwsError {
            service,
            operation,
            code: err.code().map(str::to_owned),
            message: DisplayErrorContext(&err).to_string(),
        }
    }
}
