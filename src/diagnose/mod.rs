//! The VPC-link runbook as data: inventory in, one finding per check out.
//! Pure: no I/O, unit-tested with plain values.
//!
//! Each check says what it looked at (`object`), and when it fails, the
//! cause and the fix in the words an on-call engineer needs.

pub mod rules;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inventory::{ApiType, Inventory, Scope, VpcLink};

/// One runbook check of one VPC link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The check's name (`link_available`, ...), the `check` label.
    pub check: &'static str,
    pub ok: bool,
    /// What was checked, as label name -> value (`vpc_link`, `load_balancer`, `port`, ...).
    pub object: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// Every check of one VPC link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkReport {
    pub vpc_link_id: String,
    pub name: String,
    pub api_type: &'static str,
    pub account: String,
    pub region: String,
    pub healthy: bool,
    pub checks: Vec<Check>,
}

/// Runs every check for every VPC link of every scope.
pub fn diagnose<'a>(
    inventories: impl IntoIterator<Item = (&'a Scope, &'a Inventory)>,
) -> Vec<LinkReport> {
    let mut reports = Vec::new();
    for (scope, inventory) in inventories {
        for link in inventory.vpc_links.iter().flatten() {
            let checks = vec![link_available(link)];
            reports.push(LinkReport {
                vpc_link_id: link.id.clone(),
                name: link.name.clone(),
                api_type: link.api_type.as_str(),
                account: scope.account.clone(),
                region: scope.region.clone(),
                healthy: checks.iter().all(|c| c.ok),
                checks,
            });
        }
    }
    reports
}

/// `link_available`: the link is AVAILABLE (an HTTP link must not be INACTIVE).
pub fn link_available(link: &VpcLink) -> Check {
    let object = BTreeMap::from([("vpc_link", link.id.clone())]);
    let detail = link
        .status_message
        .as_deref()
        .filter(|m| !m.is_empty())
        .map(|m| format!(" AWS says: {m}"))
        .unwrap_or_default();
    let (cause, fix) = match (link.status.as_str(), link.api_type) {
        ("available", _) => {
            return Check {
                check: "link_available",
                ok: true,
                object,
                cause: None,
                fix: None,
            };
        }
        ("failed", _) => (
            format!("The VPC link is FAILED.{detail}"),
            "A failed link does not recover: create a new VPC link, point the API's integrations at it, and redeploy the API.".to_owned(),
        ),
        ("inactive", ApiType::Http) => (
            format!("The VPC link is INACTIVE: HTTP API links that carry no traffic for 60 days are deactivated.{detail}"),
            "Send a request through an integration that uses the link; API Gateway then reactivates it (PENDING, then AVAILABLE). Keep a synthetic probe on low-traffic routes.".to_owned(),
        ),
        ("pending", _) => (
            format!("The VPC link is still PENDING, so API Gateway cannot route through it yet.{detail}"),
            "Wait for it to become AVAILABLE; if it stays pending, check that the target load balancer exists and the link's subnets and security groups are valid.".to_owned(),
        ),
        ("deleting", _) => (
            format!("The VPC link is being deleted.{detail}"),
            "Create a new VPC link, point the API's integrations at it, and redeploy the API.".to_owned(),
        ),
        (other, _) => (
            format!("The VPC link reports status {}, not AVAILABLE.{detail}", other.to_ascii_uppercase()),
            "Check the link in the API Gateway console; recreate it if it does not become AVAILABLE.".to_owned(),
        ),
    };
    Check {
        check: "link_available",
        ok: false,
        object,
        cause: Some(cause),
        fix: Some(fix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(status: &str, api_type: ApiType) -> VpcLink {
        VpcLink {
            id: "abc123".into(),
            name: "orders".into(),
            api_type,
            status: status.into(),
            status_message: Some("NLB not found".into()),
            target_arns: vec![],
            subnet_ids: vec![],
            security_group_ids: vec![],
        }
    }

    #[test]
    fn available_passes() {
        let c = link_available(&link("available", ApiType::Rest));
        assert!(c.ok);
        assert_eq!(c.object["vpc_link"], "abc123");
        assert!(c.cause.is_none() && c.fix.is_none());
    }

    #[test]
    fn failed_pending_deleting_inactive_and_new_states_fail_with_a_fix() {
        for (status, api, needle) in [
            ("failed", ApiType::Rest, "FAILED"),
            ("pending", ApiType::Rest, "PENDING"),
            ("deleting", ApiType::Http, "being deleted"),
            ("inactive", ApiType::Http, "60 days"),
            ("quarantined", ApiType::Http, "QUARANTINED"),
        ] {
            let c = link_available(&link(status, api));
            assert!(!c.ok, "{status}");
            let cause = c.cause.unwrap();
            assert!(cause.contains(needle), "{status}: {cause}");
            assert!(cause.contains("NLB not found"), "{cause}");
            assert!(!c.fix.unwrap().is_empty());
        }
    }

    #[test]
    fn reports_cover_every_link_of_every_scope() {
        let scope = Scope {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
        };
        let inventory = Inventory {
            vpc_links: Some(vec![
                link("available", ApiType::Rest),
                link("failed", ApiType::Http),
            ]),
            ..Default::default()
        };
        let reports = diagnose([(&scope, &inventory)]);
        assert_eq!(reports.len(), 2);
        assert!(reports[0].healthy);
        assert!(!reports[1].healthy);
        assert_eq!(reports[1].region, "eu-west-1");
        let json = serde_json::to_value(&reports[1]).unwrap();
        assert_eq!(json["checks"][0]["check"], "link_available");
        assert_eq!(json["checks"][0]["object"]["vpc_link"], "abc123");
    }
}
