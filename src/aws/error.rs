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

/// Error codes AWS services send to an account that has not signed up or
/// opted in to the service (the JSON services' `SubscriptionRequiredException`,
/// EC2's `OptInRequired`): not a gap in the IAM policy.
const NOT_OFFERED_CODES: &[&str] = &["SubscriptionRequiredException", "OptInRequired"];

/// What IAM writes in every denial it makes (identity policy, SCP, boundary,
/// session policy): "User: <arn> is not authorized to perform: <action>".
const IAM_DENIAL: &str = "is not authorized to perform";

/// What a service writes when it refuses an account or region it is not
/// offered to, where IAM's own wording is absent.
const NOT_OFFERED_PHRASES: &[&str] = &[
    "not available",
    "not supported",
    "not enabled",
    "not offered",
    "not subscribed",
    "subscription",
    "opt-in",
    "opt in",
    "opted in",
];

/// The services whose access denials are read for a not-offered wording:
/// those that answer an account or region they are not offered to with
/// AccessDenied. Elsewhere a denial is IAM's, whatever its text says.
const REFUSES_WITH_ACCESS_DENIED: &[&str] = &["interconnect"];

/// Whether AWS's error says the service is not offered to this account or
/// in this region, rather than that IAM denies the call: a not-offered
/// code, or (from a service in `REFUSES_WITH_ACCESS_DENIED`) an access
/// denial without IAM's wording that says so. An AccessDenied that says
/// neither is taken as IAM's (it pages: a human looks).
/// docs/operations.md says what this rests on.
pub fn not_offered(service: &str, code: &str, message: &str) -> bool {
    if NOT_OFFERED_CODES.contains(&code) {
        return true;
    }
    if !REFUSES_WITH_ACCESS_DENIED.contains(&service)
        || !matches!(code, "AccessDenied" | "AccessDeniedException")
        || message.contains(IAM_DENIAL)
    {
        return false;
    }
    let message = message.to_ascii_lowercase();
    NOT_OFFERED_PHRASES.iter().any(|p| message.contains(p))
}

/// What the resolver says of a name that does not exist (glibc, musl,
/// macOS, Windows): a service endpoint that AWS does not run in a region.
const NO_SUCH_NAME: &[&str] = &[
    "Name or service not known",
    "Name does not resolve",
    "nodename nor servname provided",
    "No such host is known",
];

impl AwsError {
    /// The service is not offered here: AWS answered so (`not_offered`), or
    /// its regional endpoint has no DNS name. A resolver that cannot be
    /// reached ("Temporary failure in name resolution") is not that.
    pub fn is_not_offered(&self) -> bool {
        match &self.code {
            Some(code) => not_offered(self.service, code, &self.message),
            None => {
                self.message.contains("dns error")
                    && NO_SUCH_NAME.iter().any(|p| self.message.contains(p))
            }
        }
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

    fn error(code: Option<&str>, message: &str) -> AwsError {
        AwsError {
            service: "interconnect",
            operation: "ListEnvironments",
            code: code.map(str::to_owned),
            message: message.to_owned(),
        }
    }

    #[test]
    fn not_offered_is_told_apart_from_an_iam_denial() {
        // IAM's own wording, whatever else the text says: the policy.
        let iam = "User: arn:aws:sts::123456789012:assumed-role/awsconn/s is not authorized to perform: interconnect:ListEnvironments on resource: * because no identity-based policy allows the interconnect:ListEnvironments action";
        assert!(!not_offered("interconnect", "AccessDeniedException", iam));
        assert!(!not_offered(
            "interconnect",
            "AccessDeniedException",
            "User: x is not authorized to perform: interconnect:ListEnvironments with an explicit deny in a service control policy; the service is not available"
        ));
        // Silent denials page too: a human looks.
        assert!(!not_offered("interconnect", "AccessDeniedException", ""));
        assert!(!not_offered(
            "interconnect",
            "AccessDenied",
            "Access Denied"
        ));
        // The service's own refusal.
        assert!(not_offered(
            "interconnect",
            "AccessDeniedException",
            "AWS Interconnect is not available in this Region for your account"
        ));
        assert!(not_offered(
            "interconnect",
            "AccessDeniedException",
            "The account is not enabled for this service"
        ));
        assert!(not_offered(
            "interconnect",
            "SubscriptionRequiredException",
            ""
        ));
        assert!(not_offered(
            "interconnect",
            "OptInRequired",
            "You are not subscribed"
        ));
        // Another service's denial is IAM's, whatever its text says.
        assert!(!not_offered(
            "elasticloadbalancing",
            "AccessDenied",
            "The feature is not supported"
        ));
        assert!(not_offered("ec2", "OptInRequired", ""));
        // Other codes are what they are.
        assert!(!not_offered(
            "interconnect",
            "ThrottlingException",
            "not available"
        ));
        assert!(!not_offered(
            "interconnect",
            "ResourceNotFoundException",
            "not available"
        ));
    }

    #[test]
    fn a_region_without_the_endpoint_is_not_offered() {
        let nxdomain = "dispatch failure: io error: client error (Connect): dns error: failed to lookup address information: Name or service not known";
        assert!(error(None, nxdomain).is_not_offered());
        let musl = "dispatch failure: dns error: Name does not resolve";
        assert!(error(None, musl).is_not_offered());
        // The resolver is down, not the name missing: every service fails.
        let no_resolver = "dispatch failure: io error: client error (Connect): dns error: failed to lookup address information: Temporary failure in name resolution";
        assert!(!error(None, no_resolver).is_not_offered());
        let refused = "dispatch failure: io error: Connection refused (os error 111)";
        assert!(!error(None, refused).is_not_offered());
        assert!(error(Some("OptInRequired"), "").is_not_offered());
        assert!(!error(Some("AccessDeniedException"), "").is_not_offered());
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
