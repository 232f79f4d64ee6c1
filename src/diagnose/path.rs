//! A VPC link's path hop by hop, for the `/links` page: what the link
//! connects in the order traffic flows (API → integration → VPC link →
//! endpoint service and connection → load balancer → listener → target
//! group → target), with every check of the report on the hop it judges
//! (`Check::place`, set by the check). A hop a check judges takes its
//! colour from its checks; its own state colours it only when no check
//! could be made for it (its collector failed), and members no check judges
//! one by one (a target, one endpoint connection among several) show their
//! own state.
//! Pure: topology and report in, hops out.

use std::collections::BTreeMap;

use super::{LinkReport, Place};
use crate::inventory::{ApiType, TargetGroup};
use crate::topology::LinkPath;

/// At most this many targets are listed per target group; the rest are counted.
pub const TARGETS_SHOWN: usize = 10;

/// What a hop is, which decides its console page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HopKind {
    Api(ApiType),
    Integration(ApiType),
    VpcLink(ApiType),
    EndpointService,
    EndpointConnection,
    LoadBalancer,
    Listener,
    TargetGroup,
    Target,
}

impl HopKind {
    pub fn title(self) -> &'static str {
        match self {
            HopKind::Api(_) => "API",
            HopKind::Integration(_) => "Integration",
            HopKind::VpcLink(_) => "VPC link",
            HopKind::EndpointService => "Endpoint service",
            HopKind::EndpointConnection => "Endpoint connection",
            HopKind::LoadBalancer => "Load balancer",
            HopKind::Listener => "Listener",
            HopKind::TargetGroup => "Target group",
            HopKind::Target => "Target",
        }
    }
}

/// One hop of the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hop {
    pub kind: HopKind,
    /// Nesting under the hop before it (0 = top).
    pub depth: u8,
    /// The AWS id or ARN; empty for a hop that does not exist (a missing listener).
    pub id: String,
    /// What a person reads first: a name, a port.
    pub label: String,
    /// State and facts: "available", "TCP", "2 healthy, 1 unused".
    pub detail: String,
    /// False when the hop's own state is bad where no check judges it one
    /// by one: an unhealthy target, a rejected endpoint connection.
    pub state_ok: bool,
    /// Indices into the report's checks that judge this hop.
    pub checks: Vec<usize>,
}

impl Hop {
    fn new(kind: HopKind, depth: u8, id: &str, mut label: String, mut detail: String) -> Hop {
        // Kept as long as the findings: no spare room from `format!`.
        label.shrink_to_fit();
        detail.shrink_to_fit();
        Hop {
            kind,
            depth,
            id: id.to_owned(),
            label,
            detail,
            state_ok: true,
            checks: Vec::new(),
        }
    }

    fn bad(mut self) -> Hop {
        self.state_ok = false;
        self
    }

    /// Green: its own state is good and every check placed on it passes.
    pub fn ok(&self, report: &LinkReport) -> bool {
        self.state_ok && self.checks.iter().all(|&i| report.checks[i].ok)
    }
}

/// A report and the path it judges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkView {
    pub report: LinkReport,
    pub hops: Vec<Hop>,
}

/// Hops under construction, each with the place it stands for (if any).
#[derive(Default)]
struct Builder {
    hops: Vec<Hop>,
    places: Vec<Option<Place>>,
    /// Per hop: whether its own state is good, for when no check lands on it.
    own_ok: Vec<bool>,
}

impl Builder {
    fn push(&mut self, hop: Hop, place: Option<Place>) {
        self.push_judged(hop, place, true);
    }

    /// A hop a check judges; `own_ok` colours it only if no check lands on it.
    fn push_judged(&mut self, hop: Hop, place: Option<Place>, own_ok: bool) {
        self.hops.push(hop);
        self.places.push(place);
        self.own_ok.push(own_ok);
    }

    /// After the checks are placed: a hop no check landed on shows its own state.
    fn finish(mut self) -> Vec<Hop> {
        for (hop, own_ok) in self.hops.iter_mut().zip(&self.own_ok) {
            if hop.checks.is_empty() && !own_ok {
                hop.state_ok = false;
            }
            hop.checks.shrink_to_fit();
        }
        // Held until the scope is rendered again: no room to spare.
        self.hops.shrink_to_fit();
        self.hops
    }

    /// The hop a check belongs on: its place exactly; for a connection
    /// failure that names none, the first connection of the service that is
    /// not available; else the link.
    fn hop_for(&self, want: &Place, link: usize) -> usize {
        let exact = self.places.iter().position(|p| p.as_ref() == Some(want));
        let loose = || match want {
            Place::Connection(service, None) => {
                self.places.iter().enumerate().position(|(i, p)| {
                    matches!(p, Some(Place::Connection(s, _)) if s == service)
                        && !self.hops[i].state_ok
                })
            }
            _ => None,
        };
        exact.or_else(loose).unwrap_or(link)
    }
}

impl LinkPath<'_> {
    /// The hops of this link's path, with the report's checks placed on them.
    pub(super) fn hops(&self, report: &LinkReport) -> Vec<Hop> {
        let mut b = Builder::default();
        self.api_hops(&mut b);
        let link = self.link;
        let link_hop = Hop::new(
            HopKind::VpcLink(link.api_type),
            0,
            &link.id,
            format!("{} ({})", link.name, link.id),
            format!(
                "{} · {}{}",
                link.status,
                link.api_type.link_version().to_ascii_uppercase(),
                report
                    .idle_days()
                    .map(|days| format!(" · last request {days} days ago"))
                    .unwrap_or_default()
            ),
        );
        let link_index = b.hops.len();
        b.push_judged(link_hop, Some(Place::Link), link.status == "available");

        let (called, used) = (&self.called, &self.used);
        // Listeners that pass API Gateway's TLS through to the targets.
        let passed_through: std::collections::BTreeSet<(&str, u16)> = self
            .topology
            .tls_calls(link)
            .into_iter()
            .filter(|c| c.at_targets())
            .map(|c| (c.load_balancer.arn.as_str(), c.port))
            .collect();
        for arn in self.targets {
            if link.api_type == ApiType::Rest {
                self.endpoint_hops(arn, &mut b);
            }
            let balancer = self.balancer(arn);
            let (label, detail, ok) = match balancer {
                Some(lb) => (
                    lb.name.clone(),
                    format!("{} · {}", lb.lb_type, lb.state),
                    lb.state == "active",
                ),
                None if self.is_missing(arn) => {
                    (arn.clone(), "not found: deleted".to_owned(), false)
                }
                None => (arn.clone(), "not collected yet".to_owned(), true),
            };
            b.push_judged(
                Hop::new(HopKind::LoadBalancer, 1, arn, label, detail),
                Some(Place::LoadBalancer(arn.clone())),
                ok,
            );
            let Some(lb) = balancer else { continue };
            // The listeners called, then the ports called that have none.
            let mut missing: Vec<u16> = called
                .keys()
                .filter(|(a, _)| a == arn)
                .map(|(_, p)| *p)
                .collect();
            for (_, listener) in used.iter().filter(|(b, _)| b.arn == lb.arn) {
                missing.retain(|p| *p != listener.port);
                b.push(
                    Hop::new(
                        HopKind::Listener,
                        2,
                        &listener.arn,
                        format!(":{}", listener.port),
                        if passed_through.contains(&(lb.arn.as_str(), listener.port)) {
                            format!("{} · TLS at the targets: see the probe", listener.protocol)
                        } else {
                            listener.protocol.clone()
                        },
                    ),
                    Some(Place::Listener(arn.clone(), listener.port)),
                );
                for group_arn in &listener.target_group_arns {
                    self.target_group_hops(group_arn, &mut b);
                }
            }
            for port in missing {
                let hop = |detail: &str| {
                    Hop::new(
                        HopKind::Listener,
                        2,
                        "",
                        format!(":{port}"),
                        detail.to_owned(),
                    )
                };
                let place = Some(Place::Listener(arn.clone(), port));
                // Unread listeners: the hop is as unknown as its check.
                if lb.listeners_unread.is_some() {
                    b.push(hop("listeners could not be read"), place);
                } else {
                    b.push_judged(hop("no listener on this port"), place, false);
                }
            }
        }

        for (i, check) in report.checks.iter().enumerate() {
            let at = b.hop_for(&check.place, link_index);
            b.hops[at].checks.push(i);
        }
        b.finish()
    }

    fn api_hops(&self, b: &mut Builder) {
        let mut by_stage: BTreeMap<(&str, &str), Vec<&crate::resolve::ResolvedIntegration>> =
            BTreeMap::new();
        for u in &self.uses {
            by_stage.entry((&u.api_id, &u.stage)).or_default().push(u);
        }
        for ((api_id, stage), uses) in by_stage {
            let api = self.topology.api(api_id);
            let api_type = api.map_or(uses[0].api_type, |a| a.api_type);
            let name = api.map_or(api_id, |a| a.name.as_str());
            b.push(
                Hop::new(
                    HopKind::Api(api_type),
                    0,
                    api_id,
                    format!("{name} ({api_id})"),
                    format!("stage {stage}"),
                ),
                Some(Place::Api(api_id.to_owned(), stage.to_owned())),
            );
            for u in uses {
                let port = u.port.map(|p| format!(":{p}")).unwrap_or_default();
                b.push(
                    Hop::new(
                        HopKind::Integration(api_type),
                        1,
                        api_id,
                        u.integration.clone(),
                        format!("→ {}{port}", u.target),
                    ),
                    None,
                );
            }
        }
    }

    fn endpoint_hops(&self, arn: &str, b: &mut Builder) {
        let Some(services) = &self.inventory.endpoint_services else {
            return;
        };
        let mine: Vec<_> = services
            .iter()
            .filter(|s| s.load_balancer_arns.iter().any(|a| a == arn))
            .collect();
        if mine.is_empty() && self.balancer(arn).is_some() {
            b.push_judged(
                Hop::new(
                    HopKind::EndpointService,
                    1,
                    "",
                    "none".to_owned(),
                    "no endpoint service fronts this NLB".to_owned(),
                ),
                Some(Place::NoService(arn.to_owned())),
                false,
            );
        }
        for service in mine {
            b.push_judged(
                Hop::new(
                    HopKind::EndpointService,
                    1,
                    &service.service_id,
                    service.service_id.clone(),
                    service.state.clone(),
                ),
                Some(Place::Service(service.service_id.clone())),
                service.state == "available",
            );
            if service.connections.is_empty() {
                b.push_judged(
                    Hop::new(
                        HopKind::EndpointConnection,
                        2,
                        &service.service_id,
                        "none".to_owned(),
                        "API Gateway has no connection to the service".to_owned(),
                    ),
                    Some(Place::Connection(service.service_id.clone(), None)),
                    false,
                );
            }
            for c in &service.connections {
                let hop = Hop::new(
                    HopKind::EndpointConnection,
                    2,
                    &service.service_id,
                    c.vpc_endpoint_id.clone(),
                    format!("{} · owner {}", c.state, c.owner),
                );
                b.push(
                    if c.state == "available" {
                        hop
                    } else {
                        hop.bad()
                    },
                    Some(Place::Connection(
                        service.service_id.clone(),
                        Some(c.vpc_endpoint_id.clone()),
                    )),
                );
            }
        }
    }

    fn target_group_hops(&self, arn: &str, b: &mut Builder) {
        let Some(group) = self.topology.target_group(arn) else {
            return;
        };
        b.push(
            Hop::new(
                HopKind::TargetGroup,
                3,
                &group.arn,
                group.name.clone(),
                target_summary(group),
            ),
            Some(Place::TargetGroup(group.arn.clone())),
        );
        for target in group.targets.iter().take(TARGETS_SHOWN) {
            let port = target
                .port
                .or(group.port)
                .map(|p| format!(":{p}"))
                .unwrap_or_default();
            let reason = target
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            let hop = Hop::new(
                HopKind::Target,
                4,
                &target.id,
                format!("{}{port}", target.id),
                format!("{}{reason}", target.state),
            );
            b.push(
                if target.state == "healthy" {
                    hop
                } else {
                    hop.bad()
                },
                None,
            );
        }
        if group.targets.len() > TARGETS_SHOWN {
            b.push(
                Hop::new(
                    HopKind::Target,
                    4,
                    "",
                    format!("… {} more", group.targets.len() - TARGETS_SHOWN),
                    String::new(),
                ),
                None,
            );
        }
    }
}

/// "2 healthy, 1 unused" (or "no targets").
fn target_summary(group: &TargetGroup) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for t in &group.targets {
        *counts.entry(t.state.as_str()).or_default() += 1;
    }
    if counts.is_empty() {
        return "no targets".to_owned();
    }
    let states: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let port = group.port.map(|p| format!(" :{p}")).unwrap_or_default();
    format!("{}{port} · {}", group.protocol, states.join(", "))
}

#[cfg(test)]
mod tests {
    use super::super::LinkView;
    use super::HopKind;
    use crate::testkit::{ALB, TG, tcp, v2_path, view_one as view};

    /// (kind, depth, label, green) of each hop.
    fn outline(v: &LinkView) -> Vec<(&'static str, u8, String, bool)> {
        v.hops
            .iter()
            .map(|h| (h.kind.title(), h.depth, h.label.clone(), h.ok(&v.report)))
            .collect()
    }

    fn every_check_placed_once(v: &LinkView) {
        let mut placed: Vec<usize> = v.hops.iter().flat_map(|h| h.checks.clone()).collect();
        placed.sort_unstable();
        assert_eq!(
            placed,
            (0..v.report.checks.len()).collect::<Vec<_>>(),
            "{v:#?}"
        );
    }

    #[test]
    fn a_healthy_v2_path_in_traffic_order() {
        let v = view(&v2_path());
        every_check_placed_once(&v);
        assert_eq!(
            outline(&v),
            [
                ("API", 0, "web (http1)".to_owned(), true),
                ("Integration", 1, "int1".to_owned(), true),
                ("VPC link", 0, "web (v2link)".to_owned(), true),
                ("Load balancer", 1, "web".to_owned(), true),
                ("Listener", 2, ":443".to_owned(), true),
                ("Target group", 3, "web".to_owned(), true),
                ("Target", 4, "10.0.3.10:8080".to_owned(), true),
            ]
        );
        let lb = &v.hops[3];
        assert_eq!(lb.id, ALB);
        let names: Vec<&str> = lb
            .checks
            .iter()
            .map(|&i| v.report.checks[i].check)
            .collect();
        assert_eq!(
            names,
            [
                "load_balancer_active",
                "security_groups_admit",
                "security_groups_admit",
                "network_acls_admit",
                "network_acls_admit"
            ]
        );
        assert_eq!(v.hops[2].checks.len(), 1, "link_available on the link");
    }

    #[test]
    fn a_failure_turns_its_hop_red_and_only_that_hop() {
        let mut inventory = v2_path();
        inventory.network_rules.as_mut().unwrap().security_groups[2].ingress =
            vec![tcp(9090, &[], &["sg-lb"])];
        let v = view(&inventory);
        every_check_placed_once(&v);
        let red: Vec<_> = outline(&v).into_iter().filter(|h| !h.3).collect();
        assert_eq!(red, [("Target group", 3, "web".to_owned(), false)]);
        let group = v
            .hops
            .iter()
            .find(|h| h.kind == HopKind::TargetGroup)
            .unwrap();
        assert_eq!(group.id, TG);
        assert!(group.checks.iter().any(
            |&i| !v.report.checks[i].ok && v.report.checks[i].check == "security_groups_admit"
        ));
    }

    #[test]
    fn a_port_without_a_listener_is_a_red_hop_of_its_own() {
        let mut inventory = crate::testkit::v1_path(&["available"]);
        inventory.apis.as_mut().unwrap()[0].integrations[0].uri =
            "https://web.internal:8443/".into();
        let v = view(&inventory);
        every_check_placed_once(&v);
        let listener = v.hops.iter().find(|h| h.kind == HopKind::Listener).unwrap();
        assert_eq!(listener.label, ":8443");
        assert_eq!(listener.detail, "no listener on this port");
        assert!(!listener.ok(&v.report));
        assert_eq!(v.report.checks[listener.checks[0]].check, "listener_port");
    }

    #[test]
    fn v1_endpoint_service_and_connection_hops() {
        let mut inventory = crate::testkit::v1_path(&["rejected"]);
        inventory.apis = None;
        let v = view(&inventory);
        every_check_placed_once(&v);
        let kinds: Vec<&str> = v.hops.iter().map(|h| h.kind.title()).collect();
        assert_eq!(
            &kinds[..4],
            [
                "VPC link",
                "Endpoint service",
                "Endpoint connection",
                "Load balancer"
            ]
        );
        let connection = &v.hops[2];
        assert!(!connection.ok(&v.report));
        assert_eq!(
            v.report.checks[connection.checks[0]].check,
            "endpoint_connection_available"
        );
        assert!(v.hops[1].ok(&v.report), "the service itself is available");
    }

    /// The load balancers unread (their collector failing): the PrivateLink
    /// checks cannot be made, and the hops still show their own state.
    #[test]
    fn a_hop_no_check_could_judge_shows_its_own_state() {
        let mut inventory = crate::testkit::v1_path(&[]);
        inventory.endpoint_services.as_mut().unwrap()[0].state = "failed".into();
        inventory.load_balancing = None;
        inventory.unavailable =
            std::collections::BTreeMap::from([("load_balancers", "it fails".to_owned())]);
        let v = view(&inventory);
        let hop = |kind: &str| {
            v.hops
                .iter()
                .find(|h| h.kind.title() == kind)
                .unwrap_or_else(|| panic!("no {kind} hop: {:#?}", v.hops))
        };
        assert!(hop("Endpoint service").checks.is_empty());
        assert!(
            !hop("Endpoint service").ok(&v.report),
            "a failed service is not green"
        );
        assert!(
            !hop("Endpoint connection").ok(&v.report),
            "no connection is not green"
        );
        assert!(!v.report.healthy);
    }
}
