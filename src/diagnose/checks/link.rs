//! `link_available`: the VPC link itself.

use super::super::{Check, Object, Place};
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
            return Check {
                check: "link_available",
                ok: true,
                object,
                cause: None,
                fix: None,
                unknown: None,
                note: None,
                place: Place::Link,
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
        unknown: None,
        note: None,
        place: Place::Link,
    }
}
