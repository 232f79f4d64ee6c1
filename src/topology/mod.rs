//! The resolved paths of one scope, built once per publish from its
//! inventory: API → stage → integration → VPC link → load balancer →
//! listener → target groups, with the API's name and the port each
//! integration calls. Rendering, the diagnosis (and so `/links`), the
//! load-balancer and endpoint collectors and the CloudWatch queries all read
//! it; nothing else resolves an integration or decides which load balancers
//! a link leads to. Pure, and indexed: a lookup by ARN is a hash lookup,
//! however many load balancers the scope has. [`LinkPath`] is one link's
//! part of it, worked out once for the checks and the hops of `/links`.

mod link_path;

pub use link_path::LinkPath;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::inventory::{Api, ApiType, Inventory, Listener, LoadBalancer, TargetGroup, VpcLink};
use crate::resolve::{self, ResolvedIntegration, Unresolved, load_balancer_arn};

/// One scope's paths. Borrows the inventory it was built from.
#[derive(Debug)]
pub struct Topology<'a> {
    pub inventory: &'a Inventory,
    /// Every integration through a VPC link, in every stage, resolved.
    pub resolved: Vec<ResolvedIntegration>,
    /// Integrations that cannot be resolved in a stage (a finding).
    pub unresolved: Vec<Unresolved>,
    apis: HashMap<&'a str, &'a Api>,
    load_balancers: HashMap<&'a str, &'a LoadBalancer>,
    listeners: HashMap<&'a str, (&'a LoadBalancer, &'a Listener)>,
    target_groups: HashMap<&'a str, &'a TargetGroup>,
    missing: BTreeSet<&'a str>,
    /// By VPC link id: what the link carries and where it leads.
    links: HashMap<&'a str, LinkRoutes>,
}

/// The integrations that use one VPC link and the load balancers it leads to.
#[derive(Debug, Default)]
struct LinkRoutes {
    /// Indices into `Topology::resolved`.
    uses: Vec<usize>,
    load_balancers: Vec<String>,
}

/// An integration's TLS connection to a load balancer: where API Gateway
/// connects, with which host name (SNI, and the name it checks), through
/// which listener. What the certificate checks judge and the TLS probe tries.
#[derive(Debug, Clone)]
pub struct TlsCall<'a> {
    pub load_balancer: &'a LoadBalancer,
    pub port: u16,
    /// The listener on that port: `None` when there is none (`listener_port`
    /// fails then).
    pub listener: Option<&'a Listener>,
    pub host: String,
    pub insecure_skip_verification: bool,
    /// A stage that calls it (`STAGE of API ID`), for a cause to name.
    pub stage: String,
}

impl TlsCall<'_> {
    /// What the TLS probe's outcome for this call is kept under: (load
    /// balancer ARN, port, host name).
    pub fn probe_key(&self) -> (String, u16, String) {
        (self.load_balancer.arn.clone(), self.port, self.host.clone())
    }

    /// Whether the listener passes TLS through to the targets (a `TCP`
    /// listener): then the certificate API Gateway checks is the
    /// targets', which only the probe sees, not ELB's.
    pub fn at_targets(&self) -> bool {
        self.listener.is_some_and(|l| {
            l.protocol.eq_ignore_ascii_case("tcp") || l.protocol.eq_ignore_ascii_case("tcp_udp")
        })
    }
}

/// The port an integration calls, and the protocol API Gateway speaks on
/// it: as the URI says (a REST integration that names a listener: its
/// port, the URI's scheme), or, for an HTTP API integration that names a
/// listener, `https` where it has a `tlsConfig` (whatever the listener's
/// protocol), else the listener's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub port: u16,
    /// `http`/`https` from the URI or the `tlsConfig`, else the listener's
    /// protocol lower-cased (`tcp`, `tls`, `http`, `https`).
    pub protocol: String,
}

impl<'a> Topology<'a> {
    /// Resolves every integration of the inventory and indexes what they lead to.
    pub fn build(inventory: &'a Inventory) -> Topology<'a> {
        let (mut resolved, mut unresolved) = inventory
            .apis
            .as_deref()
            .map(resolve::resolve_all)
            .unwrap_or_default();
        // A watched API's integration through a link the filters leave out
        // is left out with the link: resolved, or naming it outright.
        let unwatched = &inventory.unwatched.vpc_links;
        if !unwatched.is_empty() {
            resolved.retain(|r| !unwatched.contains(&r.vpc_link_id));
            let through_unwatched: BTreeSet<(&str, &str)> = inventory
                .apis
                .iter()
                .flatten()
                .flat_map(|a| {
                    a.integrations
                        .iter()
                        .filter(|i| unwatched.contains(&i.connection_id))
                        .map(move |i| (a.id.as_str(), i.name.as_str()))
                })
                .collect();
            unresolved.retain(|u| {
                !through_unwatched.contains(&(u.api_id.as_str(), u.integration.as_str()))
            });
        }
        let apis = inventory
            .apis
            .iter()
            .flatten()
            .map(|a| (a.id.as_str(), a))
            .collect();
        let mut load_balancers = HashMap::new();
        let mut listeners = HashMap::new();
        let mut target_groups = HashMap::new();
        let mut missing = BTreeSet::new();
        if let Some(lb) = &inventory.load_balancing {
            for balancer in &lb.load_balancers {
                load_balancers.insert(balancer.arn.as_str(), balancer);
                for listener in &balancer.listeners {
                    listeners.insert(listener.arn.as_str(), (balancer, listener));
                }
            }
            for group in &lb.target_groups {
                target_groups.insert(group.arn.as_str(), group);
            }
            missing.extend(lb.missing_load_balancers.iter().map(String::as_str));
        }
        let mut links: HashMap<&'a str, LinkRoutes> = inventory
            .vpc_links
            .iter()
            .flatten()
            .map(|l| (l.id.as_str(), LinkRoutes::default()))
            .collect();
        for (i, r) in resolved.iter().enumerate() {
            if let Some(routes) = links.get_mut(r.vpc_link_id.as_str()) {
                routes.uses.push(i);
            }
        }
        for link in inventory.vpc_links.iter().flatten() {
            let routes = links.entry(link.id.as_str()).or_default();
            // V1: the link's targets; V2 (or a V1 link that names none): the
            // load balancers its integrations name, directly or by listener.
            let mut targets = link.target_arns.clone();
            if link.api_type == ApiType::Http || targets.is_empty() {
                targets.extend(
                    routes
                        .uses
                        .iter()
                        .filter_map(|&i| load_balancer_arn(&resolved[i].target)),
                );
            }
            targets.sort();
            targets.dedup();
            routes.load_balancers = targets;
        }
        Topology {
            inventory,
            resolved,
            unresolved,
            apis,
            load_balancers,
            listeners,
            target_groups,
            missing,
            links,
        }
    }

    /// The VPC links of the scope, as the inventory lists them.
    pub fn vpc_links(&self) -> impl Iterator<Item = &'a VpcLink> + use<'a> {
        self.inventory.vpc_links.iter().flatten()
    }

    pub fn api(&self, id: &str) -> Option<&'a Api> {
        self.apis.get(id).copied()
    }

    pub fn load_balancer(&self, arn: &str) -> Option<&'a LoadBalancer> {
        self.load_balancers.get(arn).copied()
    }

    /// A listener by ARN, with its load balancer.
    pub fn listener(&self, arn: &str) -> Option<(&'a LoadBalancer, &'a Listener)> {
        self.listeners.get(arn).copied()
    }

    pub fn target_group(&self, arn: &str) -> Option<&'a TargetGroup> {
        self.target_groups.get(arn).copied()
    }

    /// A load balancer a link targets that AWS says does not exist.
    pub fn is_missing(&self, arn: &str) -> bool {
        self.missing.contains(arn)
    }

    /// The integrations (per stage) that use a link.
    pub fn uses(&self, link_id: &str) -> Vec<&ResolvedIntegration> {
        self.links
            .get(link_id)
            .map(|r| r.uses.iter().map(|&i| &self.resolved[i]).collect())
            .unwrap_or_default()
    }

    /// The load balancers a link leads to: a V1 link's targets; for a V2 link
    /// the load balancers its integrations name (directly or by listener).
    pub fn link_load_balancers(&self, link_id: &str) -> &[String] {
        self.links
            .get(link_id)
            .map_or(&[], |r| r.load_balancers.as_slice())
    }

    /// The load balancers an integration through `link` reaches: the one
    /// its target names (directly or by listener), else the link's targets
    /// (a REST integration calls a host name; the V1 link carries it to its NLB).
    pub fn called_load_balancers(&self, link: &VpcLink, r: &ResolvedIntegration) -> Vec<String> {
        match load_balancer_arn(&r.target) {
            Some(lb) => vec![lb],
            None => link.target_arns.clone(),
        }
    }

    /// The port an integration calls (see [`Port`]); `None` when the URI
    /// names no port and no listener that is known.
    pub fn port(&self, r: &ResolvedIntegration) -> Option<Port> {
        match (r.port, self.listener(&r.target)) {
            (Some(port), _) => Some(Port {
                port,
                protocol: r.protocol.clone(),
            }),
            (None, Some((_, l))) => Some(Port {
                port: l.port,
                protocol: if !r.protocol.is_empty() {
                    // A REST URI's scheme, through the listener it names.
                    r.protocol.clone()
                } else if r.tls_config {
                    "https".to_owned()
                } else {
                    l.protocol.to_ascii_lowercase()
                },
            }),
            (None, None) => None,
        }
    }

    /// Each TLS connection the integrations through `link` make to its load
    /// balancers, once per (load balancer, port, host name; skipping the
    /// chain's verification only if every such integration does): wherever
    /// API Gateway speaks TLS (an `https` URI, a TLS or HTTPS listener, an
    /// HTTP API's `tlsConfig`, whatever the listener's protocol), with a
    /// host name to verify (`tlsConfig.serverNameToVerify`, else the URI's
    /// host). Through a `TCP` listener the targets terminate it
    /// ([`TlsCall::at_targets`]).
    pub fn tls_calls(&self, link: &VpcLink) -> Vec<TlsCall<'a>> {
        let mut out: Vec<TlsCall<'a>> = Vec::new();
        for r in self.uses(&link.id) {
            let Some(host) = r.tls_host.as_deref().filter(|h| !h.is_empty()) else {
                continue;
            };
            let Some(port) = self.port(r) else {
                continue;
            };
            if !matches!(port.protocol.as_str(), "https" | "tls") {
                continue;
            }
            for arn in self.called_load_balancers(link, r) {
                let Some(lb) = self.load_balancer(&arn) else {
                    continue;
                };
                let known = out.iter_mut().find(|c| {
                    c.load_balancer.arn == lb.arn && c.port == port.port && c.host == host
                });
                if let Some(known) = known {
                    // One integration that verifies the chain is enough for
                    // the chain to matter.
                    known.insecure_skip_verification &= r.insecure_skip_verification;
                    continue;
                }
                out.push(TlsCall {
                    load_balancer: lb,
                    port: port.port,
                    listener: lb.listeners.iter().find(|l| l.port == port.port),
                    host: host.to_owned(),
                    insecure_skip_verification: r.insecure_skip_verification,
                    stage: format!("{} of API {}", r.stage, r.api_id),
                });
            }
        }
        out
    }

    /// The load balancers the scope's VPC links lead to, and those any
    /// integration names: what the load-balancer collector asks about.
    pub fn linked_load_balancers(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self
            .links
            .values()
            .flat_map(|r| r.load_balancers.iter().cloned())
            .collect();
        out.extend(
            self.resolved
                .iter()
                .filter_map(|r| load_balancer_arn(&r.target)),
        );
        out
    }

    /// The network load balancers that may have an endpoint service: those
    /// known to be NLBs, and the V1 links' targets (always NLBs), which are
    /// asked about even before the load-balancer collector has read them.
    pub fn network_load_balancers(&self) -> BTreeSet<String> {
        self.inventory
            .load_balancing
            .iter()
            .flat_map(|lb| &lb.load_balancers)
            .filter(|lb| lb.lb_type == "network")
            .map(|lb| lb.arn.clone())
            .chain(self.vpc_links().flat_map(|l| l.target_arns.iter().cloned()))
            .collect()
    }

    /// Per API, the V2 links its integrations route through.
    pub fn v2_links_by_api(&self) -> BTreeMap<&'a str, BTreeSet<String>> {
        let mut out: BTreeMap<&'a str, BTreeSet<String>> = BTreeMap::new();
        for link in self.vpc_links().filter(|l| l.api_type == ApiType::Http) {
            for r in self.uses(&link.id) {
                if let Some(api) = self.api(&r.api_id) {
                    out.entry(api.id.as_str())
                        .or_default()
                        .insert(link.id.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    /// The fixture's HTTP API with a `tlsConfig` naming [`testkit::HOST`],
    /// through a `TCP` listener of an NLB.
    fn passed_through() -> Inventory {
        let mut inventory = testkit::v2_path();
        let integration = &mut inventory.apis.as_mut().unwrap()[0].integrations[0];
        integration.tls_config = true;
        integration.tls_server_name = Some(testkit::HOST.into());
        let lb = &mut inventory.load_balancing.as_mut().unwrap().load_balancers[0];
        lb.lb_type = "network".into();
        lb.listeners[0].protocol = "TCP".into();
        inventory
    }

    #[test]
    fn a_tls_config_makes_a_tls_call_whatever_the_listener_protocol() {
        let inventory = passed_through();
        let topology = Topology::build(&inventory);
        let link = topology.vpc_links().next().unwrap();
        let calls = topology.tls_calls(link);
        assert_eq!(calls.len(), 1);
        assert_eq!(
            (calls[0].port, calls[0].host.as_str(), calls[0].at_targets()),
            (443, testkit::HOST, true)
        );
        assert_eq!(
            topology.port(&topology.resolved[0]).unwrap().protocol,
            "https"
        );
        // Without a tlsConfig, API Gateway speaks plain TCP through it.
        let mut plain = passed_through();
        plain.apis.as_mut().unwrap()[0].integrations[0].tls_config = false;
        plain.apis.as_mut().unwrap()[0].integrations[0].tls_server_name = None;
        let topology = Topology::build(&plain);
        let link = topology.vpc_links().next().unwrap();
        assert!(topology.tls_calls(link).is_empty());
        assert_eq!(
            topology.port(&topology.resolved[0]).unwrap().protocol,
            "tcp"
        );
        // Through a TLS listener ELB terminates it.
        let mut terminated = passed_through();
        terminated.load_balancing.as_mut().unwrap().load_balancers[0].listeners[0].protocol =
            "TLS".into();
        let topology = Topology::build(&terminated);
        let link = topology.vpc_links().next().unwrap();
        assert!(!topology.tls_calls(link)[0].at_targets());
    }

    /// A REST integration on a V2 link names its load balancer or its
    /// listener: the same path, the same port, the same TLS call.
    #[test]
    fn a_rest_integration_target_may_be_the_load_balancer_or_its_listener() {
        let through = |target: &str, uri: &str| {
            let mut inventory = testkit::v2_path();
            let api = &mut inventory.apis.as_mut().unwrap()[0];
            api.api_type = ApiType::Rest;
            api.integrations[0].uri = uri.into();
            api.integrations[0].integration_target = Some(target.into());
            inventory
        };
        let seen = |inventory: &Inventory| {
            let topology = Topology::build(inventory);
            let link = topology.vpc_links().next().unwrap();
            let calls: Vec<_> = topology
                .tls_calls(link)
                .iter()
                .map(|c| (c.load_balancer.arn.clone(), c.port, c.host.clone()))
                .collect();
            (
                topology.linked_load_balancers(),
                topology.link_load_balancers(&link.id).to_vec(),
                topology.port(&topology.resolved[0]),
                calls,
            )
        };
        let uri = format!("https://{}/orders", testkit::HOST);
        let by_balancer = seen(&through(testkit::ALB, &uri));
        assert_eq!(seen(&through(testkit::LISTENER, &uri)), by_balancer);
        assert_eq!(by_balancer.0, BTreeSet::from([testkit::ALB.to_owned()]));
        assert_eq!(by_balancer.3.len(), 1, "{by_balancer:?}");
        // The listener decides the port, whatever the URI says (8443).
        let bare = seen(&through(
            testkit::LISTENER,
            &format!("https://{}:8443/", testkit::HOST),
        ));
        assert_eq!(bare.2.unwrap().port, 443);
    }

    /// An integration of a watched API through a link the filters leave out
    /// goes with the link: no integration series, no load balancer to read.
    #[test]
    fn integrations_through_an_unwatched_link_are_left_out() {
        let mut inventory = testkit::v2_path();
        inventory.vpc_links = Some(Vec::new());
        inventory.unwatched.vpc_links = ["v2link".to_owned()].into();
        let t = Topology::build(&inventory);
        assert!(t.resolved.is_empty(), "{:?}", t.resolved);
        assert!(t.linked_load_balancers().is_empty());
        // One that names it but cannot be resolved is left out too.
        inventory.apis.as_mut().unwrap()[0].integrations[0].uri = "${stageVariables.nope}".into();
        assert!(Topology::build(&inventory).unresolved.is_empty());
        inventory.unwatched = Default::default();
        assert_eq!(Topology::build(&inventory).unresolved.len(), 1);
        inventory.apis.as_mut().unwrap()[0].integrations[0].uri = testkit::LISTENER.into();
        assert_eq!(Topology::build(&inventory).resolved.len(), 1);
    }

    #[test]
    fn a_v2_link_leads_to_the_load_balancer_of_the_listener_it_names() {
        let inventory = testkit::v2_path();
        let t = Topology::build(&inventory);
        assert_eq!(t.link_load_balancers("v2link"), [testkit::ALB]);
        let uses = t.uses("v2link");
        assert_eq!(uses.len(), 1);
        // The URI is the listener's ARN: the port is the listener's.
        assert_eq!(
            t.port(uses[0]),
            Some(Port {
                port: 443,
                protocol: "https".into()
            })
        );
        assert_eq!(t.listener(testkit::LISTENER).unwrap().1.port, 443);
        assert!(t.target_group(testkit::TG).is_some());
        assert_eq!(
            t.linked_load_balancers(),
            BTreeSet::from([testkit::ALB.to_owned()])
        );
        assert!(t.network_load_balancers().is_empty());
        assert_eq!(
            t.v2_links_by_api(),
            BTreeMap::from([("http1", BTreeSet::from(["v2link".to_owned()]))])
        );
    }

    #[test]
    fn a_v1_link_leads_to_its_targets_even_before_they_are_read() {
        let mut inventory = testkit::v1_path(&["healthy"]);
        inventory.load_balancing = None;
        let t = Topology::build(&inventory);
        let link = t.vpc_links().next().unwrap();
        assert_eq!(t.link_load_balancers(&link.id), link.target_arns.as_slice());
        assert_eq!(
            t.network_load_balancers(),
            link.target_arns.iter().cloned().collect()
        );
        assert!(t.load_balancer(&link.target_arns[0]).is_none());
        assert!(!t.is_missing(&link.target_arns[0]));
    }
}
