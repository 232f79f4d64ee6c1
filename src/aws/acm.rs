//! AWS Certificate Manager: the names and validity of the certificates on
//! TLS listeners. A poll costs one DescribeCertificate per ACM certificate.

use super::error::AwsError;
use super::telemetry::ApiTelemetry;
use crate::inventory::CertificateDetail;

const SERVICE: &str = "acm";

/// Whether an ARN names an ACM certificate (an IAM server certificate does
/// not: ACM cannot describe it).
pub(super) fn is_acm(arn: &str) -> bool {
    arn.split(':').nth(2) == Some("acm")
}

/// What ACM says of one certificate. ACM certificates live in the region of
/// the load balancer, so this scope's client asks.
pub(super) async fn describe(
    client: &aws_sdk_acm::Client,
    arn: &str,
    telemetry: &ApiTelemetry,
) -> Result<CertificateDetail, AwsError> {
    let out = client
        .describe_certificate()
        .certificate_arn(arn)
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeCertificate", e))?;
    let Some(c) = out.certificate() else {
        telemetry.skipped_item(SERVICE, "DescribeCertificate", "missing Certificate");
        return Err(AwsError {
            service: SERVICE,
            operation: "DescribeCertificate",
            code: None,
            message: "the answer holds no certificate".into(),
        });
    };
    // The names a client checks: the subject alternative names (ACM lists
    // the domain among them); the domain alone only when there are none.
    let names: Vec<String> = c.subject_alternative_names().to_vec();
    let domain = c.domain_name().unwrap_or_default().to_owned();
    Ok(CertificateDetail {
        domain,
        names,
        not_before_s: c.not_before().map(|t| t.secs()),
        not_after_s: c.not_after().map(|t| t.secs()),
        status: c
            .status()
            .map(|s| s.as_str().to_ascii_lowercase())
            .unwrap_or_default(),
        in_use_by: c.in_use_by().len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acm_and_iam_certificates_are_told_apart() {
        assert!(is_acm("arn:aws:acm:us-east-1:123456789012:certificate/abc"));
        assert!(!is_acm("arn:aws:iam::123456789012:server-certificate/web"));
        assert!(!is_acm(""));
    }
}
