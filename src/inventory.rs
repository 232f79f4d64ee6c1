//! What AWS said, as plain structs: nothing derived, nothing from the SDK.
//!
//! `src/aws/` fills these; diagnosis and rendering read them. Enum-like
//! values (statuses, states) are kept as lower-cased strings so that a value
//! AWS adds tomorrow is carried through and exported instead of dropped.

use std::fmt;

/// One account in one region: the unit a collector polls.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    /// The 12-digit account id (from STS), or the best name known before STS answered.
    pub account: String,
    pub region: String,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.account, self.region)
    }
}

/// Which API family a VPC link belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiType {
    /// API Gateway REST APIs (`apigateway`), VPC link V1 to an NLB.
    Rest,
    /// API Gateway HTTP APIs (`apigatewayv2`), VPC link V2 (ENIs in subnets).
    Http,
}

impl ApiType {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiType::Rest => "rest",
            ApiType::Http => "http",
        }
    }

    /// The link generation that this API family's `GetVpcLinks` lists.
    pub fn link_version(self) -> &'static str {
        match self {
            ApiType::Rest => "v1",
            ApiType::Http => "v2",
        }
    }

    /// Statuses the API documents; others are exported as they come.
    pub fn known_link_statuses(self) -> &'static [&'static str] {
        match self {
            ApiType::Rest => &["pending", "available", "deleting", "failed"],
            ApiType::Http => &["pending", "available", "deleting", "failed", "inactive"],
        }
    }
}

/// A VPC link as `GetVpcLinks` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VpcLink {
    pub id: String,
    pub name: String,
    pub api_type: ApiType,
    /// Lower-cased status (`available`, `failed`, ... or whatever AWS sent);
    /// `unknown` when AWS sent none.
    pub status: String,
    pub status_message: Option<String>,
    /// V1: the NLB ARNs the link targets. V2 links have no targets of their
    /// own; their integrations name them.
    pub target_arns: Vec<String>,
    /// V2: the subnets and security groups of the link's ENIs.
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
}

/// An AWS Interconnect – multicloud connection (ListConnections).
#[derive(Debug, Clone, PartialEq)]
pub struct InterconnectConnection {
    pub id: String,
    pub arn: String,
    pub description: String,
    /// The other cloud or last-mile partner: the value of the `provider` union.
    pub provider: String,
    pub location: String,
    pub environment_id: String,
    /// The Direct Connect gateway id or the ARN of the `attachPoint` union.
    pub attach_point: String,
    /// Lower-cased state (`available`, `down`, ... or whatever AWS sent).
    pub state: String,
    /// As AWS wrote it (`1Gbps`).
    pub bandwidth: String,
    /// `bandwidth` in bits per second; `None` when it could not be read.
    pub bandwidth_bps: Option<f64>,
}

impl InterconnectConnection {
    pub const KNOWN_STATES: &'static [&'static str] = &[
        "requested",
        "pending",
        "available",
        "updating",
        "down",
        "deleting",
        "deleted",
        "failed",
    ];
}

/// An environment (a provider's location) that connections can be made in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterconnectEnvironment {
    pub id: String,
    pub provider: String,
    pub location: String,
    pub state: String,
}

impl InterconnectEnvironment {
    pub const KNOWN_STATES: &'static [&'static str] = &["available", "limited", "unavailable"];
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interconnect {
    pub connections: Vec<InterconnectConnection>,
    pub environments: Vec<InterconnectEnvironment>,
}

/// Everything known about one scope, one field per collector. `None` means
/// that collector has not produced data for this scope yet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub vpc_links: Option<Vec<VpcLink>>,
    pub interconnect: Option<Interconnect>,
}

/// Reads an Interconnect bandwidth such as `1Gbps`, `500Mbps` or `1.5 Gbps`
/// as bits per second. `None` for anything else: a wrong number on a
/// dashboard is worse than none.
pub fn parse_bandwidth(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "bps" => 1.0,
        "kbps" => 1e3,
        "mbps" => 1e6,
        "gbps" => 1e9,
        "tbps" => 1e12,
        _ => return None,
    };
    (value.is_finite() && value >= 0.0).then_some(value * scale)
}

/// A lower-cased copy of an API enum value, the form every label uses.
pub fn normalize_state(raw: &str) -> String {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        "unknown".to_owned()
    } else {
        trimmed.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_lower_cased_and_never_empty() {
        assert_eq!(normalize_state("AVAILABLE"), "available");
        assert_eq!(normalize_state("pendingAcceptance"), "pendingacceptance");
        assert_eq!(normalize_state(" "), "unknown");
    }

    #[test]
    fn bandwidths() {
        assert_eq!(parse_bandwidth("1Gbps"), Some(1e9));
        assert_eq!(parse_bandwidth("500Mbps"), Some(5e8));
        assert_eq!(parse_bandwidth("1.5 Gbps"), Some(1.5e9));
        assert_eq!(parse_bandwidth("10GBPS"), Some(1e10));
        assert_eq!(parse_bandwidth("50Kbps"), Some(5e4));
        for bad in ["", "Gbps", "1", "1 Gbit", "fast", "1.2.3Gbps", "-1Gbps"] {
            assert_eq!(parse_bandwidth(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_links_know_inactive() {
        assert!(ApiType::Http.known_link_statuses().contains(&"inactive"));
        assert!(!ApiType::Rest.known_link_statuses().contains(&"inactive"));
    }
}
