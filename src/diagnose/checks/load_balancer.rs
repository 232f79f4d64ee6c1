//! `load_balancer_active` and `listener_port`: the load balancers a link
//! leads to exist and are active, and listen where the integrations call.

use super::super::{Check, LinkPath, Object, Place, failed, passed, unknown};

impl LinkPath<'_> {
    /// `load_balancer_active`: every target load balancer exists and is active.
    pub(in crate::diagnose) fn load_balancer_active(&self) -> Vec<Check> {
        if self.inventory.load_balancing.is_none() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for arn in self.targets {
            let object = Object::from([("load_balancer", arn.clone())]);
            let place = Place::LoadBalancer(arn.clone());
            if self.is_missing(arn) {
                out.push(failed(
                    "load_balancer_active",
                    object,
                    place,
                    format!("The load balancer {arn} that the VPC link leads to no longer exists."),
                    "Create the load balancer again, or create a VPC link to an existing one; point the integrations at it and redeploy the API.".into(),
                ));
                continue;
            }
            let Some(lb) = self.balancer(arn) else {
                let unreadable = self
                    .inventory
                    .load_balancing
                    .as_ref()
                    .map_or(0, |l| l.unreadable_load_balancers);
                if unreadable > 0 {
                    out.push(unknown(
                        "load_balancer_active",
                        object,
                        place,
                        "load_balancers",
                        &format!("AWS listed {unreadable} load balancers without their ARN, and this one may be among them"),
                    ));
                }
                continue;
            };
            if lb.state == "active" {
                out.push(passed("load_balancer_active", object, place));
            } else {
                let reason = lb
                    .state_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                out.push(failed(
                    "load_balancer_active",
                    object,
                    place,
                    format!("The load balancer is {}{reason}, not active.", lb.state.to_ascii_uppercase()),
                    "Wait while it is provisioning; if it is failed or impaired, check its subnets and Availability Zones in the EC2 console.".into(),
                ));
            }
        }
        out
    }

    /// `listener_port`: the load balancer listens on every port an integration
    /// calls, and has every listener an integration names; unknown where
    /// the load balancer's listeners could not be read.
    pub(in crate::diagnose) fn listener_port(&self) -> Vec<Check> {
        let mut out = self.unread_listeners();
        for (listener, (lb, stage)) in &self.missing {
            out.push(failed(
                "listener_port",
                Object::from([("load_balancer", lb.clone()), ("listener", listener.clone())]),
                Place::LoadBalancer(lb.clone()),
                format!("Stage {stage} integrates with listener {listener}, which the load balancer does not have (deleted, or not readable)."),
                "Point the integration at a listener the load balancer has (or create the listener again), and redeploy the API.".into(),
            ));
        }
        for ((arn, port), stage) in &self.called {
            let port = *port;
            let Some(lb) = self.balancer(arn) else {
                continue;
            };
            let object = Object::from([("load_balancer", arn.clone()), ("port", port.to_string())]);
            let place = Place::Listener(arn.clone(), port);
            if let Some(why) = &lb.listeners_unread {
                out.push(listeners_unread(object, place, why));
            } else if lb.listeners.iter().any(|l| l.port == port) {
                out.push(passed("listener_port", object, place));
            } else {
                let ports: Vec<String> = lb.listeners.iter().map(|l| l.port.to_string()).collect();
                let listening = if ports.is_empty() {
                    "none".to_owned()
                } else {
                    ports.join(", ")
                };
                out.push(failed(
                    "listener_port",
                    object,
                    place,
                    format!("Stage {stage} calls port {port}, but the load balancer has no listener on it (listeners: {listening})."),
                    format!("Add a listener on port {port}, or change the integration URI (or the stage variable it uses) to a port the load balancer listens on, and redeploy the API."),
                ));
            }
        }
        out
    }

    /// The listeners integrations name on a load balancer whose listeners
    /// could not be read: unknown, never missing.
    fn unread_listeners(&self) -> Vec<Check> {
        let mut out = Vec::new();
        for u in &self.uses {
            if u.port.is_some() || !crate::resolve::is_listener_arn(&u.target) {
                continue;
            }
            let Some(lb) = crate::resolve::load_balancer_arn(&u.target) else {
                continue;
            };
            let Some(why) = self
                .balancer(&lb)
                .and_then(|b| b.listeners_unread.as_deref())
            else {
                continue;
            };
            let object = Object::from([
                ("load_balancer", lb.clone()),
                ("listener", u.target.clone()),
            ]);
            if out.iter().any(|c: &Check| c.object == object) {
                continue;
            }
            out.push(listeners_unread(object, Place::LoadBalancer(lb), why));
        }
        out
    }
}

/// A `listener_port` check that cannot be made: the load balancer's
/// listeners could not be read (`why`).
fn listeners_unread(object: Object, place: Place, why: &str) -> Check {
    unknown(
        "listener_port",
        object,
        place,
        "load_balancers",
        &format!("the load balancer's listeners could not be read: {why}"),
    )
}
