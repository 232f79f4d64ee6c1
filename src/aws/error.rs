//! One error type for every failed AWS call, carrying what a log line and a
//! self-metric need: which service and operation, AWS's error code, the text.

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

/// The code of a call the exporter did not send because its share of the
/// quota had no slot before the poll's deadline (no AWS code uses it).
pub const QUOTA_EXHAUSTED: &str = "AwsconnQuotaExhausted";

impl AwsError {
    pub(crate) fn from_sdk<E>(service: &'static str, operation: &'static str, err: E) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        if let Some(exhausted) = find_in_chain::<super::quota::Exhausted>(&err) {
            return AwsError {
                service,
                operation,
                code: Some(QUOTA_EXHAUSTED.to_owned()),
                message: exhausted.to_string(),
            };
        }
        let message = match (err.code(), err.message()) {
            (Some(code), Some(text)) => format!("{code}: {text}"),
            (Some(code), None) => code.to_owned(),
            _ => error_chain(&err),
        };
        AwsError {
            service,
            operation,
            code: err.code().map(str::to_owned),
            message,
        }
    }

    /// A label value for what went wrong, from a bounded set: AWS's error
    /// code where it sent one that looks like a code, else `error`.
    pub fn kind_label(&self) -> String {
        match self.code.as_deref() {
            Some(code)
                if !code.is_empty()
                    && code.len() <= 64
                    && code
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_') =>
            {
                code.to_owned()
            }
            _ => "error".to_owned(),
        }
    }

    /// Not sent: the exporter's share of the quota had no slot in time.
    /// What was left unread waits for the next poll; AWS said nothing.
    pub fn is_quota_exhausted(&self) -> bool {
        self.code.as_deref() == Some(QUOTA_EXHAUSTED)
    }
}

fn find_in_chain<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// Every error in the `source` chain, once each, joined by `: ` — readable
/// in a log line, unlike the SDK's debug dump of the raw response.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn chains_read_as_one_line() {
        let err = Layer(
            "dispatch failure",
            Some(Box::new(Layer(
                "io error",
                Some(Box::new(Layer("Connection refused (os error 111)", None))),
            ))),
        );
        assert_eq!(
            error_chain(&err),
            "dispatch failure: io error: Connection refused (os error 111)"
        );
    }
}
