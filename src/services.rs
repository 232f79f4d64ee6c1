//! The AWS services the exporter calls, in one table: each one's label (the
//! `service` label of `awsconn_aws_api_requests_total`), whether the
//! exporter paces it with quota buckets of its own, and AWS's published
//! default quotas. `config` checks quota keys against it, `aws::quota`
//! paces calls by it, and `aws` bounds the requests in flight per service
//! by it. Plain data: no SDK.

/// A request quota: `rate` requests a second sustained, up to `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub rate: f64,
    pub burst: f64,
}

pub(crate) const fn rate(rate: f64, burst: f64) -> Rate {
    Rate { rate, burst }
}

/// AWS's published default quotas per account and region, by `service`
/// (every operation of it) or `service:Operation`, in the services' label
/// names. A call takes a slot from each entry that covers it.
pub const AWS_DEFAULTS: &[(&str, Rate)] = &[
    // API Gateway's management API, REST and HTTP APIs together: 10 a
    // second, bursts of 40; GetResources 5 every 2 seconds besides.
    ("apigateway", rate(10.0, 40.0)),
    ("apigateway:GetResources", rate(2.5, 5.0)),
    // ELB API version 2: the bucket of the Describe* (non-mutating) actions.
    ("elasticloadbalancingv2", rate(10.0, 40.0)),
    // EC2's non-mutating actions.
    ("ec2", rate(20.0, 100.0)),
    ("cloudwatchlogs:FilterLogEvents", rate(5.0, 5.0)),
    ("cloudwatch:GetMetricData", rate(50.0, 50.0)),
    ("acm:DescribeCertificate", rate(10.0, 10.0)),
];

/// An AWS service the exporter calls, by the `service` label of
/// `awsconn_aws_api_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub name: &'static str,
    /// Paced by the exporter's own quota buckets, and so a name a quota may
    /// use. Not STS: AssumeRole goes through the SDK's own credential
    /// client, which the pacing does not see, and GetCallerIdentity is
    /// asked once per account.
    pub paced: bool,
}

const fn service(name: &'static str, paced: bool) -> Service {
    Service { name, paced }
}

/// Every service the exporter calls (`apigatewayv2` is counted, bounded
/// and paced as `apigateway`, see [`quota_service`]).
pub const SERVICES: &[Service] = &[
    service("sts", false),
    service("apigateway", true),
    service("elasticloadbalancingv2", true),
    service("ec2", true),
    service("interconnect", true),
    service("cloudwatchlogs", true),
    service("cloudwatch", true),
    service("acm", true),
];

/// The services a quota may name.
pub fn paced() -> impl Iterator<Item = &'static str> {
    SERVICES.iter().filter(|s| s.paced).map(|s| s.name)
}

/// The quota service of a call's service label: API Gateway's V2 API is
/// throttled with its V1 API.
pub fn quota_service(service: &str) -> &str {
    match service {
        "apigatewayv2" => "apigateway",
        other => other,
    }
}

/// Why a quota key in the configuration is refused.
pub fn check_key(key: &str) -> Result<(), String> {
    let (service, operation) = match key.split_once(':') {
        Some((s, op)) => (s, Some(op)),
        None => (key, None),
    };
    if service == "apigatewayv2" {
        return Err(format!(
            "quota {key:?}: API Gateway's V2 API draws on the apigateway quota; write apigateway"
        ));
    }
    if !paced().any(|s| s == service) {
        let known: Vec<&str> = paced().collect();
        return Err(format!(
            "unknown service {service:?} in quota {key:?} (one of: {})",
            known.join(", ")
        ));
    }
    if operation.is_some_and(|op| op.is_empty() || !op.chars().all(|c| c.is_ascii_alphanumeric())) {
        return Err(format!(
            "quota {key:?}: the operation must be an API name such as GetResources"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_keys_name_a_paced_service_and_an_api() {
        assert!(check_key("apigateway:GetResources").is_ok());
        assert!(check_key("interconnect").is_ok());
        assert!(check_key("apigatway").is_err());
        assert!(check_key("sts").is_err(), "STS is not paced");
        assert!(check_key("apigatewayv2").is_err());
        assert!(check_key("ec2:").is_err());
        assert!(check_key("ec2:Describe*").is_err());
    }

    /// Every default quota is of a paced service.
    #[test]
    fn every_default_quota_is_a_valid_key() {
        for (key, rate) in AWS_DEFAULTS {
            assert_eq!(check_key(key), Ok(()), "{key}");
            assert!(rate.rate > 0.0 && rate.burst >= 1.0, "{key}");
        }
    }
}
