//! AWS Interconnect – multicloud: connections (with their tags, when
//! `tags_as_labels` names some), environments and their attach points;
//! where a scope has nothing to watch (no environment, or the service not
//! offered), it is asked again only every `absent_interval`.

use crate::config::InterconnectConfig;
use crate::inventory::{
    AttachPointFinding, Interconnect, InterconnectAvailability, InterconnectConnection,
    InterconnectEnvironment, Scope,
};
use crate::render::{Families, Kind, Snapshot, scope_labels};
use crate::topology::Topology;
use async_trait::async_trait;

use super::collector::{Collector, Descriptor, Fragment};
use crate::aws::{AwsError, AwsScope};
use crate::inventory::Inventory;
use std::sync::Arc;

pub struct InterconnectCollector {
    pub config: InterconnectConfig,
    /// The tags kept on each connection (`tags_as_labels`).
    pub tags: Vec<String>,
}

impl InterconnectCollector {
    /// The last answer, while it says there is nothing to watch and its
    /// next check is not due: AWS is not asked. A shorter `absent_interval`
    /// after a reload applies at once.
    fn still_absent<'a>(&self, known: &'a Inventory, now: i64) -> Option<&'a Interconnect> {
        let last = known.interconnect.as_ref()?;
        let due = last.next_check_at?.min(
            last.checked_at
                .saturating_add(self.config.absent_interval.as_secs() as i64),
        );
        (last.checked_at <= now && now < due).then_some(last)
    }

    /// What AWS's answer comes to. A scope with nothing to watch is dated
    /// and asked again after `absent_interval`; an offered one carries no
    /// date, so that an unchanged answer is an unchanged inventory. A "not
    /// offered" answer where the service was offered at the last poll is an
    /// error, not a verdict: the last connections stay (and the collector
    /// fails) rather than vanish for an hour on one odd answer.
    fn settle(
        &self,
        answer: Result<Interconnect, AwsError>,
        last: Option<&Interconnect>,
        now: i64,
    ) -> Result<Interconnect, AwsError> {
        let mut interconnect = match answer {
            Ok(interconnect) => interconnect,
            Err(e)
                if e.is_not_offered()
                    && last.is_none_or(|l| l.availability != InterconnectAvailability::Offered) =>
            {
                Interconnect {
                    availability: InterconnectAvailability::NotOffered(e.message),
                    ..Interconnect::default()
                }
            }
            Err(e) => return Err(e),
        };
        if interconnect.availability != InterconnectAvailability::Offered {
            interconnect.checked_at = now;
            interconnect.next_check_at =
                Some(now.saturating_add(self.config.absent_interval.as_secs() as i64));
        }
        Ok(interconnect)
    }
}

#[async_trait]
impl Collector for InterconnectCollector {
    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError> {
        let now = super::collector::unix_seconds();
        if let Some(last) = self.still_absent(known, now) {
            return Ok(Fragment::Interconnect(last.clone()));
        }
        let mut settled = self.settle(
            aws.interconnect(&self.tags).await,
            known.interconnect.as_ref(),
            now,
        )?;
        keep_tags_unread(&mut settled.connections, known.interconnect.as_ref());
        if let InterconnectAvailability::NotOffered(answer) = &settled.availability {
            tracing::info!(
                account = %aws.account_label(),
                region = aws.region(),
                answer = %answer,
                every = ?self.config.absent_interval,
                "AWS Interconnect is not offered to this account or in this region; asking again every absent_interval"
            );
        }
        Ok(Fragment::Interconnect(settled))
    }
}

/// A connection whose tags could not be read this poll keeps those last
/// read: its owner label, and the alerts routed by it, stay put.
fn keep_tags_unread(connections: &mut [InterconnectConnection], known: Option<&Interconnect>) {
    for c in connections.iter_mut().filter(|c| c.tags_unread) {
        if let Some(before) = known
            .into_iter()
            .flat_map(|k| &k.connections)
            .find(|b| b.id == c.id)
        {
            c.tags = before.tags.clone();
        }
    }
}

pub const DESCRIPTOR: Descriptor = Descriptor {
    name: awsconn_catalogue::collector::INTERCONNECT,
    stage: 0,
    operations: &[
        ("interconnect", "ListConnections"),
        ("interconnect", "ListEnvironments"),
        ("interconnect", "ListAttachPoints"),
        ("interconnect", "ListTagsForResource"),
    ],
    schedule: |c| c.interconnect.schedule(),
    build: |config| {
        Arc::new(InterconnectCollector {
            config: config.collectors.interconnect,
            tags: config.tags_as_labels.clone(),
        })
    },
    forget: |inventory| inventory.interconnect = None,
    render,
};

/// `awsconn_interconnect_*`.
fn render(f: &mut Families, scope: &Scope, topology: &Topology, _: &Snapshot) {
    if let Some(interconnect) = &topology.inventory.interconnect {
        interconnect_families(f, scope, interconnect);
    }
}

fn interconnect_families(f: &mut Families, scope: &Scope, interconnect: &Interconnect) {
    let labels = scope_labels(scope);
    f.state_set(
        "awsconn_interconnect_availability",
        "Whether Interconnect has something to watch in this account and region: offered (environments or connections listed), no_environments, or not_offered (AWS said the service is not offered here); 1 for the current value",
        &labels,
        "availability",
        InterconnectAvailability::VALUES,
        interconnect.availability.as_str(),
    );
    if let Some(at) = interconnect.next_check_at {
        f.add(
            "awsconn_interconnect_next_check_timestamp_seconds",
            "Unix time AWS is next asked in a scope where Interconnect has nothing to watch (every collectors.interconnect.absent_interval, not every interval); absent where it is offered",
            Kind::Gauge,
            labels,
            at as f64,
        );
    }
    for c in &interconnect.connections {
        let mut base = scope_labels(scope);
        base.push(("connection_id", c.id.clone()));
        let mut info = base.clone();
        info.extend([
            ("description", c.description.clone()),
            ("provider", c.provider.clone()),
            ("provider_kind", c.provider_kind.clone()),
            ("location", c.location.clone()),
            ("environment_id", c.environment_id.clone()),
            ("attach_point", c.attach_point.clone()),
            ("type", c.product_type.clone()),
            ("shared_id", c.shared_id.clone()),
        ]);
        f.add(
            "awsconn_interconnect_connection_info",
            "An AWS Interconnect multicloud connection, with its tags named in tags_as_labels as labels; always 1",
            Kind::Gauge,
            crate::tags::with_tags(info, &c.tags),
            1.0,
        );
        f.state_set(
            "awsconn_interconnect_connection_state",
            "State of the Interconnect connection: 1 for the current state, 0 for the others",
            &base,
            "state",
            InterconnectConnection::KNOWN_STATES,
            &c.state,
        );
        // A number, not an info label: AWS re-rates a connection (a Cloud
        // WAN edge added), and a graph of the tier shows when.
        if let Some(tier) = c.billing_tier {
            f.add(
                "awsconn_interconnect_connection_billing_tier",
                "The billing tier AWS assigns the Interconnect connection (0 to 8): its hourly price follows it",
                Kind::Gauge,
                base.clone(),
                f64::from(tier),
            );
        }
        attach_point_check(f, interconnect, c, &base);
        // Prometheus base units are bytes: `1Gbps` is exported as 1.25e8.
        if let Some(bps) = c.bandwidth_bps {
            f.add(
                "awsconn_interconnect_connection_bandwidth_bytes_per_second",
                "Provisioned bandwidth of the Interconnect connection, in bytes per second",
                Kind::Gauge,
                base,
                bps / 8.0,
            );
        }
    }
    for e in &interconnect.environments {
        let mut labels = scope_labels(scope);
        labels.extend([
            ("environment_id", e.id.clone()),
            ("provider", e.provider.clone()),
            ("location", e.location.clone()),
        ]);
        f.state_set(
            "awsconn_interconnect_environment_state",
            "State of the Interconnect environment: 1 for the current state, 0 for the others",
            &labels,
            "state",
            InterconnectEnvironment::KNOWN_STATES,
            &e.state,
        );
        let mut info = labels.clone();
        info.extend([
            ("provider_kind", e.provider_kind.clone()),
            ("type", e.product_type.clone()),
            ("remote_identifier_type", e.remote_identifier_type.clone()),
            // One label with every bandwidth still offered, for the text of
            // an alert (PromQL cannot join the per-bandwidth series into one).
            ("available_bandwidths", e.bandwidths_available.join(",")),
        ]);
        f.add(
            "awsconn_interconnect_environment_info",
            "An AWS Interconnect environment (a provider's location connections are made in); always 1",
            Kind::Gauge,
            info,
            1.0,
        );
        let mut id = scope_labels(scope);
        id.push(("environment_id", e.id.clone()));
        for (bandwidth, available) in environment_bandwidths(e) {
            let mut labels = id.clone();
            labels.extend([
                ("bandwidth", bandwidth.to_owned()),
                ("available", available.to_string()),
            ]);
            f.add(
                "awsconn_interconnect_environment_bandwidth_info",
                "A bandwidth the Interconnect environment supports, and whether a connection can be ordered with it now (available=\"true\"); always 1",
                Kind::Gauge,
                labels,
                1.0,
            );
        }
    }
}

/// `awsconn_interconnect_connection_check{check="attach_point_present"}`:
/// whether the environment still offers the connection's attach point (the
/// Direct Connect gateway was not deleted), or `_check_unknown` when its
/// list could not be read. An `arn` attach point the list does not hold
/// has neither: the list names Direct Connect gateways only.
fn attach_point_check(
    f: &mut Families,
    interconnect: &Interconnect,
    c: &InterconnectConnection,
    base: &[(&'static str, String)],
) {
    let mut labels = base.to_vec();
    labels.push(("check", ATTACH_POINT_PRESENT.to_owned()));
    let passed = match interconnect.attach_point_finding(c) {
        AttachPointFinding::Present(point) => {
            labels.extend([
                ("attach_point", c.attach_point.clone()),
                ("attach_point_name", point.name.clone()),
            ]);
            1.0
        }
        // No name: AWS names only the attach points it lists.
        AttachPointFinding::Missing => {
            labels.push(("attach_point", c.attach_point.clone()));
            0.0
        }
        AttachPointFinding::NotListable | AttachPointFinding::Retired => return,
        AttachPointFinding::Unknown => {
            f.add(
                "awsconn_interconnect_connection_check_unknown",
                "A check of an Interconnect connection that could not be made (its environment's list could not be read, or AWS named a kind of attach point the exporter does not know); always 1",
                Kind::Gauge,
                labels,
                1.0,
            );
            return;
        }
    };
    f.add(
        "awsconn_interconnect_connection_check",
        "A check of an Interconnect connection: 1 when it passes (attach_point_present: the environment still offers the connection's attach point, ListAttachPoints)",
        Kind::Gauge,
        labels,
        passed,
    );
}

/// The check of an Interconnect connection's attach point.
pub const ATTACH_POINT_PRESENT: &str = "attach_point_present";

/// Each bandwidth the environment supports or offers, once, with whether it
/// can be ordered now. One AWS lists as available but not as supported is
/// kept (available): what can be ordered is the fact that matters.
fn environment_bandwidths(e: &InterconnectEnvironment) -> Vec<(&str, bool)> {
    let mut out: Vec<(&str, bool)> = Vec::new();
    for b in e.bandwidths_supported.iter().chain(&e.bandwidths_available) {
        if !out.iter().any(|(seen, _)| *seen == b.as_str()) {
            out.push((b.as_str(), e.bandwidths_available.contains(b)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn collector(absent: u64) -> InterconnectCollector {
        InterconnectCollector {
            config: InterconnectConfig {
                absent_interval: Duration::from_secs(absent),
                ..InterconnectConfig::default()
            },
            tags: Default::default(),
        }
    }

    fn known(availability: InterconnectAvailability, next: Option<i64>) -> Inventory {
        Inventory {
            interconnect: Some(Interconnect {
                availability,
                checked_at: 1_000,
                next_check_at: next,
                ..Interconnect::default()
            }),
            ..Inventory::default()
        }
    }

    #[test]
    fn a_scope_without_interconnect_is_asked_again_only_when_due() {
        let c = collector(3_600);
        let absent = known(InterconnectAvailability::NoEnvironments, Some(4_600));
        assert!(c.still_absent(&absent, 1_000).is_some());
        assert!(c.still_absent(&absent, 4_599).is_some());
        assert!(c.still_absent(&absent, 4_600).is_none(), "due");
        // A clock set back before the last check: ask.
        assert!(c.still_absent(&absent, 999).is_none());
        // A shorter absent_interval after a reload applies at once.
        assert!(collector(60).still_absent(&absent, 1_060).is_none());
        assert!(collector(60).still_absent(&absent, 1_059).is_some());
        let refused = known(
            InterconnectAvailability::NotOffered("OptInRequired".into()),
            Some(4_600),
        );
        assert!(c.still_absent(&refused, 2_000).is_some());
        // Offered, or never asked: every interval.
        let offered = known(InterconnectAvailability::Offered, None);
        assert!(c.still_absent(&offered, 1_001).is_none());
        assert!(c.still_absent(&Inventory::default(), 1_001).is_none());
    }

    #[test]
    fn bandwidths_are_listed_once_with_whether_they_can_be_ordered() {
        let e = InterconnectEnvironment {
            id: "e".into(),
            provider: "google".into(),
            provider_kind: "multicloud".into(),
            location: "l".into(),
            state: "limited".into(),
            product_type: "t".into(),
            bandwidths_supported: vec!["1Gbps".into(), "10Gbps".into()],
            bandwidths_available: vec!["1Gbps".into(), "50Mbps".into()],
            ..Default::default()
        };
        assert_eq!(
            environment_bandwidths(&e),
            [("1Gbps", true), ("10Gbps", false), ("50Mbps", true)]
        );
    }

    fn refusal() -> AwsError {
        AwsError {
            service: "interconnect",
            operation: "ListEnvironments",
            code: Some("SubscriptionRequiredException".into()),
            message: "The AWS Access Key Id needs a subscription for the service".into(),
        }
    }

    #[test]
    fn a_refusal_is_a_verdict_only_where_the_service_was_not_offered_before() {
        let c = collector(3_600);
        let settled = c.settle(Err(refusal()), None, 5_000).unwrap();
        assert_eq!(settled.availability.as_str(), "not_offered");
        assert_eq!(
            (settled.checked_at, settled.next_check_at),
            (5_000, Some(8_600))
        );
        let before = known(InterconnectAvailability::NoEnvironments, Some(4_600));
        let settled = c
            .settle(Err(refusal()), before.interconnect.as_ref(), 5_000)
            .unwrap();
        assert_eq!(settled.availability.as_str(), "not_offered");
        // Connections seen at the last poll: an error, so they stay.
        let offered = known(InterconnectAvailability::Offered, None);
        let err = c
            .settle(Err(refusal()), offered.interconnect.as_ref(), 5_000)
            .unwrap_err();
        assert!(err.is_not_offered());
    }

    #[test]
    fn an_offered_scope_carries_no_date() {
        let c = collector(3_600);
        let answer = || Interconnect {
            availability: InterconnectAvailability::Offered,
            ..Interconnect::default()
        };
        let first = c.settle(Ok(answer()), None, 5_000).unwrap();
        let second = c.settle(Ok(answer()), Some(&first), 5_060).unwrap();
        assert_eq!(
            first, second,
            "an unchanged answer is an unchanged inventory"
        );
        assert_eq!((second.checked_at, second.next_check_at), (0, None));
    }
}
