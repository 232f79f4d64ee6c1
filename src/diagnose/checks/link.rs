//! `link_available`: the VPC link itself.

use super::super::finding::{Check, Place, failed, passed};
use super::super::object::Object;
use crate::inventory::{ApiType, VpcLink};

/// `link_available`: the link is AVAILABLE (an HTTP link must not be INACTIVE).
pub fn link_available(link: &VpcLink) -> Check {
    let object = Object::from([("vpc_link", link.id.clone())]);
    let detail = link
        .status_message
        .as_deref()
        .filter(|m| !m.is_empty())
        .map(|m| format!(" AWS says: {m}"))
        .unwrap_or_default();
    let (cause, fix) = match (link.status.as_str(), link.api_type) {
        ("available", _) => {
            return passed("link_available", object, Place::Link);
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
    failed("link_available", object, Place::Link, cause, fix)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::diagnose::testing::link;

    use crate::inventory::ApiType;

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
}
