//! The one list of collectors, [`COLLECTORS`], and what is read from it:
//! a collector by name, the operations they call, the enabled ones, and
//! every collector's families of a scope.

use super::collector::Descriptor;
use super::{
    certificates, cloudwatch, endpoints, execution_logs, interconnect, load_balancers,
    network_rules, tls_probe, vpc_links,
};
use crate::config::CollectorsConfig;
use crate::inventory::Scope;
use crate::render::{Families, Snapshot};
use crate::topology::Topology;

/// Every collector, in the order of the configuration and the exposition.
pub const COLLECTORS: &[&Descriptor] = &[
    &vpc_links::DESCRIPTOR,
    &load_balancers::DESCRIPTOR,
    &endpoints::DESCRIPTOR,
    &network_rules::DESCRIPTOR,
    &execution_logs::DESCRIPTOR,
    &cloudwatch::DESCRIPTOR,
    &interconnect::DESCRIPTOR,
    &certificates::DESCRIPTOR,
    &tls_probe::DESCRIPTOR,
];

/// The collector of this name.
pub fn descriptor(name: &str) -> Option<&'static Descriptor> {
    COLLECTORS.iter().copied().find(|d| d.name == name)
}

/// Whether some collector calls `operation` of a service that draws on the
/// quota of `quota_service` (`apigateway` for both API Gateway APIs): what
/// an `aws.quotas` key may name.
pub fn calls(quota_service: &str, operation: &str) -> bool {
    COLLECTORS.iter().any(|d| {
        d.operations
            .iter()
            .any(|(s, op)| crate::aws::quota::quota_service(s) == quota_service && *op == operation)
    })
}

/// The collectors the configuration enables.
pub fn enabled_descriptors(
    config: &CollectorsConfig,
) -> impl Iterator<Item = &'static Descriptor> + '_ {
    COLLECTORS
        .iter()
        .copied()
        .filter(|d| (d.schedule)(config).enabled)
}

/// Renders every collector's families of one scope (each renders only what
/// its part of the inventory holds).
pub fn render_scope(f: &mut Families, scope: &Scope, topology: &Topology, snapshot: &Snapshot) {
    for d in COLLECTORS {
        (d.render)(f, scope, topology, snapshot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::poller::enabled_collectors;
    use crate::config::Config;

    /// The mixin's time-to-page bounds (docs/runbooks.md) count on every
    /// collector polling at the catalogue's default interval, and on its
    /// CloudWatch period and delay; and the table lists the catalogue's
    /// collectors, in its order.
    #[test]
    fn the_defaults_and_names_are_the_catalogues() {
        let defaults = CollectorsConfig::default();
        for d in COLLECTORS {
            assert_eq!(
                (d.schedule)(&defaults).interval.as_secs(),
                awsconn_catalogue::DEFAULT_POLL_INTERVAL_SECONDS,
                "{}",
                d.name
            );
        }
        assert_eq!(
            defaults.cloudwatch.period.as_secs(),
            awsconn_catalogue::DEFAULT_CLOUDWATCH_PERIOD_SECONDS
        );
        assert_eq!(
            defaults.cloudwatch.delay.as_secs(),
            awsconn_catalogue::DEFAULT_CLOUDWATCH_DELAY_SECONDS
        );
        let names: Vec<&str> = COLLECTORS.iter().map(|d| d.name).collect();
        assert_eq!(names, awsconn_catalogue::COLLECTORS);
    }

    /// The table and the configuration's sections name the same
    /// collectors, in the same order, each with its own schedule.
    #[test]
    fn every_configured_collector_is_declared_and_built() {
        let config = Config::parse("regions: [us-east-1]").unwrap();
        let declared: Vec<_> = COLLECTORS
            .iter()
            .map(|d| (d.name, (d.schedule)(&config.collectors)))
            .collect();
        let configured: Vec<_> = config.collectors.iter().collect();
        assert_eq!(declared, configured);
        let built: Vec<_> = enabled_collectors(&config)
            .iter()
            .map(|c| c.descriptor.name)
            .collect();
        assert_eq!(built, config.collectors.enabled_names().collect::<Vec<_>>());
        for d in COLLECTORS {
            // The TLS probe connects to load balancers, not to AWS's APIs.
            let calls_aws = d.name != "tls_probe";
            assert_eq!(!d.operations.is_empty(), calls_aws, "{} calls AWS", d.name);
            assert!(d.stage <= 3, "{}", d.name);
        }
    }
}
