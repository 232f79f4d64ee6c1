//! What a collector is: the [`Collector`] trait it implements, the
//! [`Descriptor`] that declares it to the rest of the exporter, and the
//! [`Fragment`] of a scope's inventory a poll of it returns (with how a
//! fragment replaces what the previous poll left).

use std::sync::Arc;

use async_trait::async_trait;

use crate::aws::{AwsError, AwsScope};
use crate::config::{CollectorConfig, CollectorsConfig, Config};
use crate::inventory::{
    Api, Certificates, EndpointService, ExecutionLogs, Interconnect, Inventory, LoadBalancing,
    NetworkRules, Scope, VpcLink,
};
use crate::render::{Families, Snapshot};
use crate::topology::Topology;

/// The part of a scope's inventory that one collector produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Fragment {
    /// The VPC links and the APIs that the `watch` filters keep, and what
    /// they left out.
    VpcLinks(Vec<VpcLink>, Vec<Api>, crate::inventory::Unwatched),
    LoadBalancing(LoadBalancing),
    EndpointServices(Vec<EndpointService>),
    NetworkRules(NetworkRules),
    /// New counts (added to the totals), new cursors and group statuses (replacing).
    ExecutionLogs(ExecutionLogs),
    /// Metric values, and the V2 links' last requests (`None` when not asked for).
    CloudWatch(
        Vec<(crate::inventory::MetricQuery, f64)>,
        Option<crate::inventory::LinkActivity>,
    ),
    Interconnect(Interconnect),
    Certificates(Certificates),
    TlsProbes(crate::inventory::TlsProbes),
}

impl Fragment {
    /// Drops the room the readers' vectors have to spare: what is kept is
    /// held until the next poll changes it (a tenth of the inventory, at
    /// organisation scale).
    fn shrink(&mut self) {
        match self {
            Fragment::VpcLinks(links, apis, _) => {
                links.shrink_to_fit();
                apis.shrink_to_fit();
                for api in apis {
                    api.integrations.shrink_to_fit();
                    api.stages.shrink_to_fit();
                }
            }
            Fragment::LoadBalancing(lb) => {
                lb.load_balancers.shrink_to_fit();
                for balancer in &mut lb.load_balancers {
                    balancer.listeners.shrink_to_fit();
                }
                lb.target_groups.shrink_to_fit();
                for group in &mut lb.target_groups {
                    group.targets.shrink_to_fit();
                }
            }
            Fragment::EndpointServices(services) => {
                services.shrink_to_fit();
                for service in services {
                    service.connections.shrink_to_fit();
                }
            }
            Fragment::NetworkRules(rules) => {
                rules.security_groups.shrink_to_fit();
                rules.network_acls.shrink_to_fit();
                rules.subnets.shrink_to_fit();
                rules.interfaces.shrink_to_fit();
            }
            _ => {}
        }
    }
}

/// A collector as the rest of the exporter knows it, declared once in the
/// collector's own file.
pub struct Descriptor {
    /// The key under `collectors:` in the config, and the `collector` label.
    pub name: &'static str,
    /// The first round runs in stages: 0 reads AWS alone (API Gateway,
    /// Interconnect), 1 what the VPC links lead to, 2 what hangs off load
    /// balancers, 3 what needs all of those (CloudWatch queries).
    pub stage: u8,
    /// Every AWS operation it calls, as (SDK service label, operation):
    /// its part of the IAM policy.
    pub operations: &'static [(&'static str, &'static str)],
    /// Its schedule (enabled, interval, timeout) in the configuration.
    pub schedule: fn(&CollectorsConfig) -> CollectorConfig,
    /// Builds it from the configuration.
    pub build: fn(&Config) -> Arc<dyn Collector>,
    /// Drops what it contributed to an inventory (it is no longer enabled).
    pub forget: fn(&mut Inventory),
    /// Renders its families for one scope.
    pub render: fn(&mut Families, &Scope, &Topology, &Snapshot),
}

/// Now, in Unix seconds (0 on a clock set before 1970), for the collectors
/// that date what they keep.
pub(crate) fn unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Renders nothing: a collector whose findings show only through checks.
pub(crate) fn renders_nothing(_: &mut Families, _: &Scope, _: &Topology, _: &Snapshot) {}

impl Fragment {
    /// Replaces this collector's part of the inventory with the new data;
    /// true if that changed it. A poll that found what the previous one
    /// found changes nothing, and its scope keeps its rendered part.
    pub fn apply(mut self, inventory: &mut Inventory) -> bool {
        self.shrink();
        /// Sets `slot` to `new`; true if it held something else.
        fn set<T: PartialEq>(slot: &mut Option<T>, new: T) -> bool {
            let changed = slot.as_ref() != Some(&new);
            if changed {
                *slot = Some(new);
            }
            changed
        }
        match self {
            Fragment::VpcLinks(links, apis, unwatched) => {
                // All three, whatever the first says.
                let unwatched_changed = inventory.unwatched != unwatched;
                inventory.unwatched = unwatched;
                set(&mut inventory.vpc_links, links)
                    | set(&mut inventory.apis, apis)
                    | unwatched_changed
            }
            Fragment::LoadBalancing(lb) => set(&mut inventory.load_balancing, lb),
            Fragment::EndpointServices(services) => set(&mut inventory.endpoint_services, services),
            Fragment::NetworkRules(rules) => set(&mut inventory.network_rules, rules),
            Fragment::ExecutionLogs(delta) => {
                let mut changed = inventory.execution_logs.is_none();
                let logs = inventory
                    .execution_logs
                    .get_or_insert_with(Default::default);
                for (group, cursor) in delta.cursors {
                    if logs.cursors.get(&group) != Some(&cursor) {
                        logs.cursors.insert(group, cursor);
                        changed = true;
                    }
                }
                changed |= logs.groups != delta.groups;
                logs.groups = delta.groups;
                changed |= logs.deferred != delta.deferred;
                logs.deferred = delta.deferred;
                changed |= delta.rejected_cursors > 0;
                logs.rejected_cursors += delta.rejected_cursors;
                for (kind, n) in delta.state_file_errors {
                    changed |= n > 0;
                    *logs.state_file_errors.entry(kind).or_default() += n;
                }
                for (stage, tally) in delta.counts {
                    // A stage seen for the first time shows, at zero.
                    let counts = logs.counts.entry(stage);
                    changed |= matches!(counts, std::collections::btree_map::Entry::Vacant(_))
                        || tally != Default::default();
                    counts.or_default().merge(&tally);
                }
                for (stage, newest) in delta.newest_errors {
                    let known = logs.newest_errors.entry(stage).or_default();
                    for (class, at) in newest {
                        let kept = known.entry(class).or_insert(i64::MIN);
                        changed |= at > *kept;
                        *kept = (*kept).max(at);
                    }
                }
                changed
            }
            Fragment::CloudWatch(values, activity) => {
                let changed = inventory.link_activity != activity;
                inventory.link_activity = activity;
                set(&mut inventory.cloudwatch, values) | changed
            }
            Fragment::Interconnect(interconnect) => set(&mut inventory.interconnect, interconnect),
            Fragment::Certificates(mut certificates) => {
                // A certificate ACM could not describe this time (a
                // throttle) keeps what it said before: its dates are as
                // true as they were, and its series do not flap.
                if let Some(known) = &inventory.certificates {
                    for arn in certificates.unread.keys() {
                        if let Some(detail) = known.details.get(arn) {
                            certificates.details.insert(arn.clone(), detail.clone());
                        }
                    }
                }
                set(&mut inventory.certificates, certificates)
            }
            Fragment::TlsProbes(probes) => set(&mut inventory.tls_probes, probes),
        }
    }
}

/// One signal family polled from AWS (its [`Descriptor`] says the rest).
#[async_trait]
pub trait Collector: Send + Sync + 'static {
    /// Polls AWS. `known` is the scope's inventory as the other collectors last left it.
    async fn collect(&self, aws: &AwsScope, known: &Inventory) -> Result<Fragment, AwsError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{ErrorClass, Tally};
    use crate::inventory::{LinkActivity, LogGroupStatus};

    /// What a poll found a second time changes nothing, in every kind of
    /// fragment; what differs does (else its data would never be stored).
    #[test]
    fn a_fragment_says_whether_it_changed_the_inventory() {
        let mut inventory = Inventory::default();
        let links = || {
            Fragment::VpcLinks(
                vec![crate::testkit::vpc_link("a")],
                vec![],
                Default::default(),
            )
        };
        assert!(links().apply(&mut inventory));
        assert!(!links().apply(&mut inventory));
        let other = Fragment::VpcLinks(
            vec![crate::testkit::vpc_link("b")],
            vec![],
            Default::default(),
        );
        assert!(other.apply(&mut inventory));
        assert_eq!(inventory.vpc_links.as_ref().unwrap()[0].id, "b");

        let certificates = || {
            let with = crate::testkit::with_certificate(Inventory::default(), &["a"], (0, 1));
            Fragment::Certificates(with.certificates.unwrap())
        };
        assert!(certificates().apply(&mut inventory));
        assert!(!certificates().apply(&mut inventory));
        // Undescribed this time: what ACM said before stays.
        let mut unread = certificates();
        let Fragment::Certificates(c) = &mut unread else {
            unreachable!()
        };
        let arn = c.details.keys().next().unwrap().clone();
        c.details.clear();
        c.unread.insert(arn.clone(), "ThrottlingException".into());
        assert!(unread.apply(&mut inventory), "the unread note is news");
        assert!(
            inventory
                .certificates
                .as_ref()
                .unwrap()
                .details
                .contains_key(&arn)
        );
        assert!(Fragment::Certificates(Default::default()).apply(&mut inventory));

        let cloudwatch = |value: f64, checked_at: i64| {
            let activity = LinkActivity {
                checked_at,
                window_s: 60,
                last_request: Default::default(),
            };
            let query = crate::inventory::MetricQuery {
                namespace: "AWS/NetworkELB".into(),
                metric: "TCP_ELB_Reset_Count".into(),
                stat: "Sum".into(),
                ..Default::default()
            };
            Fragment::CloudWatch(vec![(query, value)], Some(activity))
        };
        assert!(cloudwatch(1.0, 10).apply(&mut inventory));
        assert!(!cloudwatch(1.0, 10).apply(&mut inventory));
        assert!(cloudwatch(2.0, 10).apply(&mut inventory), "a value");
        assert!(
            cloudwatch(2.0, 20).apply(&mut inventory),
            "the activity alone"
        );
        assert_eq!(inventory.link_activity.as_ref().unwrap().checked_at, 20);

        let group = "API-Gateway-Execution-Logs_api1/prod".to_owned();
        let stage = ("api1".to_owned(), "prod".to_owned());
        let read = |delta: &mut ExecutionLogs| {
            delta.groups.insert(
                group.clone(),
                LogGroupStatus {
                    api_id: "api1".into(),
                    stage: "prod".into(),
                    read: crate::inventory::LogRead::Ok,
                },
            );
        };
        let mut first = ExecutionLogs::default();
        read(&mut first);
        first.counts.insert(stage.clone(), Tally::new());
        assert!(
            Fragment::ExecutionLogs(first.clone()).apply(&mut inventory),
            "first read"
        );
        assert!(
            !Fragment::ExecutionLogs(first.clone()).apply(&mut inventory),
            "nothing new: the same groups, no count, no error"
        );
        let mut counted = first.clone();
        counted
            .counts
            .get_mut(&stage)
            .unwrap()
            .add_line(b"Execution failed due to a timeout error");
        assert!(
            Fragment::ExecutionLogs(counted).apply(&mut inventory),
            "a count"
        );
        let mut moved = first.clone();
        moved.cursors.insert(
            group.clone(),
            crate::logs::LogCursor {
                position_ms: 5,
                ..Default::default()
            },
        );
        assert!(
            Fragment::ExecutionLogs(moved.clone()).apply(&mut inventory),
            "a cursor moved"
        );
        assert!(!Fragment::ExecutionLogs(moved.clone()).apply(&mut inventory));
        let mut older = moved.clone();
        older
            .newest_errors
            .insert(stage.clone(), [(ErrorClass::Other, 7)].into());
        assert!(
            Fragment::ExecutionLogs(older.clone()).apply(&mut inventory),
            "a newest error"
        );
        older
            .newest_errors
            .insert(stage.clone(), [(ErrorClass::Other, 6)].into());
        assert!(
            !Fragment::ExecutionLogs(older).apply(&mut inventory),
            "an older error than the newest known changes nothing"
        );
        let mut failed = moved;
        failed.groups.get_mut(&group).unwrap().read = crate::inventory::LogRead::Failed {
            code: "AccessDeniedException".into(),
            message: "denied".into(),
        };
        assert!(
            Fragment::ExecutionLogs(failed).apply(&mut inventory),
            "a group's read failed"
        );
    }
}
