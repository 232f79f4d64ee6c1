//! `no_tls_errors`: no TLS-class execution error in the recent window; and
//! `tls_probe`: the TLS probe of each integration's target passed.

use super::super::finding::{Check, Clock, Place, failed, passed, unknown};
use super::super::object::Object;
use crate::classify::ErrorClass;
use crate::inventory::LogRead;
use crate::topology::LinkPath;

/// What to do about what the TLS probe met: for a TLS class, and a backend
/// that does not speak HTTP, the catalogue's words (the alerts say them
/// too); for what has no execution log to read, the probe's own.
fn probe_fix(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::IntegrationTimeout => {
            "Nothing answered in time: check that the listener's port is open to the VPC link (security groups, network ACLs) and that the targets are healthy; where the probe runs, check that it reaches the load balancer."
        }
        c if c.is_tls() || c == ErrorClass::InvalidHttpResponse => c.catalogue().fix,
        _ => "Check the TLS configuration of the listener and the target.",
    }
}

impl LinkPath<'_> {
    /// `tls_probe`: each TLS connection the integrations make was probed,
    /// and passed every check API Gateway makes.
    pub(in crate::diagnose) fn tls_probe(&self) -> Vec<Check> {
        let Some(probes) = &self.inventory.tls_probes else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for call in self.topology.tls_calls(self.link) {
            let object = Object::from([
                ("load_balancer", call.load_balancer.arn.clone()),
                ("port", call.port.to_string()),
                ("host", call.host.clone()),
            ]);
            let place = Place::Listener(call.load_balancer.arn.clone(), call.port);
            let key = call.probe_key();
            // Left out by `only_addresses`: a TLS listener's certificate is
            // judged by the certificates checks, and a pass-through call's
            // certificate check says that nothing judges it.
            if probes.unaddressed.contains(&key) {
                continue;
            }
            let Some(outcome) = probes.outcomes.get(&key) else {
                out.push(unknown(
                    "tls_probe",
                    object,
                    place,
                    "tls_probe",
                    "this connection has not been probed yet",
                ));
                continue;
            };
            match &outcome.failure {
                None => out.push(passed("tls_probe", object, place)),
                // No TLS to judge: the probe did not reach the load balancer
                // (from where the exporter runs), which says nothing of
                // what API Gateway meets.
                Some(failure)
                    if outcome.certificate.is_none()
                        && matches!(
                            failure.class,
                            ErrorClass::Other | ErrorClass::IntegrationTimeout
                        ) =>
                {
                    out.push(unknown(
                        "tls_probe",
                        object,
                        place,
                        "tls_probe",
                        &format!("the probe did not reach the load balancer: {}", failure.detail),
                    ))
                }
                Some(failure) => out.push(failed(
                    "tls_probe",
                    object,
                    place,
                    format!(
                        "Connecting to {} as API Gateway does for stage {} (SNI {}): {}. API Gateway logs this as {}.",
                        if outcome.address.is_empty() { "the load balancer" } else { &outcome.address },
                        call.stage,
                        call.host,
                        failure.detail,
                        failure.class
                    ),
                    probe_fix(failure.class).into(),
                )),
            }
        }
        out
    }

    /// `no_tls_errors`: no TLS-class execution error in the last window, for
    /// every stage that uses the link and whose log is read; unknown while
    /// one of the stage's log groups cannot be read (and no error is known).
    pub(in crate::diagnose) fn no_tls_errors(&self, clock: &Clock) -> Vec<Check> {
        let Some(logs) = &self.inventory.execution_logs else {
            return Vec::new();
        };
        let mut stages: Vec<(String, String)> = self
            .uses
            .iter()
            .map(|u| (u.api_id.clone(), u.stage.clone()))
            .collect();
        stages.sort();
        stages.dedup();
        let mut out = Vec::new();
        for (api_id, stage) in stages {
            let mut groups = logs
                .groups
                .iter()
                .filter(|(_, g)| g.api_id == api_id && g.stage == stage)
                .peekable();
            if groups.peek().is_none() {
                // Its log is not read (logging off): nothing to judge.
                continue;
            }
            let unread = groups.find(|(_, g)| g.unread());
            let object = Object::from([("api_id", api_id.clone()), ("stage", stage.clone())]);
            let place = Place::Api(api_id.clone(), stage.clone());
            let since = clock.now_ms - clock.tls_error_window_ms;
            let recent: Vec<(ErrorClass, i64)> = logs
                .newest_errors
                .get(&(api_id.clone(), stage.clone()))
                .into_iter()
                .flatten()
                .filter(|(class, at)| class.is_tls() && **at >= since)
                .map(|(class, at)| (*class, *at))
                .collect();
            let Some((class, _)) = recent.iter().max_by_key(|(_, at)| *at) else {
                // No TLS error seen; but one the log holds and that could
                // not be read would not be seen either.
                match unread {
                    Some((group, status)) => {
                        let mut object = object;
                        object.insert("log_group", group.clone());
                        let why = match &status.read {
                            LogRead::Failed { message, .. } => format!(
                                "log group {group} could not be read ({message}), so the TLS errors it may hold are not known"
                            ),
                            _ => format!(
                                "log group {group} has not been read yet (the FilterLogEvents quota left it for a later poll)"
                            ),
                        };
                        out.push(unknown(
                            "no_tls_errors",
                            object,
                            place,
                            "execution_logs",
                            &why,
                        ));
                    }
                    None => out.push(passed("no_tls_errors", object, place)),
                }
                continue;
            };
            let counts = logs.counts.get(&(api_id.clone(), stage.clone()));
            let total = counts.map_or(0, |t| t.class_count(*class));
            let counted = if total > 0 {
                format!("{total} counted since the exporter started")
            } else {
                "read before the exporter last restarted".to_owned()
            };
            out.push(failed(
                "no_tls_errors",
                object,
                place,
                format!(
                    "Stage {stage} of API {api_id} logged {class} errors in the last {} min ({counted}).",
                    clock.tls_error_window_ms / 60_000
                ),
                class.catalogue().fix.into(),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::classify::ErrorClass;
    use crate::diagnose::Place;
    use crate::diagnose::testing::{only, path_inventory};
    use crate::diagnose::{Clock, diagnose};
    use crate::testkit;
    use crate::testkit::{ALB, HOST, v1_path, view_one, with_probe};

    fn probe_checks(inventory: &crate::inventory::Inventory) -> Vec<crate::diagnose::Check> {
        view_one(inventory)
            .report
            .checks
            .into_iter()
            .filter(|c| c.check == "tls_probe")
            .collect()
    }

    #[test]
    fn a_probe_that_passed_passes_on_the_listener() {
        let checks = probe_checks(&with_probe(v1_path(&["available"]), None));
        assert_eq!(checks.len(), 1, "{checks:?}");
        assert!(checks[0].ok);
        assert_eq!(checks[0].object["host"], HOST);
        assert_eq!(checks[0].place, Place::Listener(ALB.into(), 443));
    }

    #[test]
    fn a_failed_probe_says_what_api_gateway_will_log_and_the_fix() {
        let inventory = with_probe(
            v1_path(&["available"]),
            Some((
                ErrorClass::InvalidHttpResponse,
                "the answer is a TLS record",
            )),
        );
        let checks = probe_checks(&inventory);
        let cause = checks[0].cause.as_deref().unwrap();
        assert!(!checks[0].ok);
        assert!(cause.contains("the answer is a TLS record"), "{cause}");
        assert!(cause.contains("invalid_http_response"), "{cause}");
        assert!(cause.contains("SNI web.internal"), "{cause}");
        assert!(checks[0].fix.as_deref().unwrap().contains("TCP"));
    }

    /// A probe that did not reach the load balancer judged no TLS: unknown,
    /// not failed; a reset after the handshake is a failure.
    #[test]
    fn an_unreachable_load_balancer_is_unknown_a_reset_is_not() {
        let unreachable = with_probe(
            v1_path(&["available"]),
            Some((ErrorClass::Other, "cannot connect: connection refused")),
        );
        let checks = probe_checks(&unreachable);
        assert_eq!(checks[0].unknown, Some("tls_probe"), "{checks:?}");
        let reset = with_probe(
            v1_path(&["available"]),
            Some((ErrorClass::TargetReset, "closed after the handshake")),
        );
        let checks = probe_checks(&reset);
        assert!(!checks[0].ok && checks[0].unknown.is_none(), "{checks:?}");
    }

    /// A call the probe has not reached is unknown; with the probe off
    /// there is no check at all.
    #[test]
    fn a_call_not_probed_is_unknown_and_no_probe_says_nothing() {
        let mut inventory = with_probe(v1_path(&["available"]), None);
        inventory.tls_probes.as_mut().unwrap().outcomes.clear();
        let checks = probe_checks(&inventory);
        assert_eq!(checks[0].unknown, Some("tls_probe"));
        assert!(!checks[0].ok);
        assert!(probe_checks(&v1_path(&["available"])).is_empty());
    }

    /// A call `only_addresses` left out has no tls_probe check: neither
    /// unknown (which would keep its link from healthy) nor passed.
    #[test]
    fn a_call_left_out_by_only_addresses_has_no_check() {
        let mut inventory = with_probe(v1_path(&["available"]), None);
        let probes = inventory.tls_probes.as_mut().unwrap();
        let key = probes.outcomes.keys().next().unwrap().clone();
        probes.outcomes.clear();
        probes.unaddressed.insert(key);
        assert!(probe_checks(&inventory).is_empty());
        assert!(view_one(&inventory).report.checks.iter().all(|c| c.ok));
    }

    #[test]
    fn recent_tls_errors_fail_and_old_ones_do_not() {
        use crate::inventory::{ExecutionLogs, LogGroupStatus};
        let (mut inventory, _) = path_inventory(8443, "healthy");
        let stage = ("api1".to_owned(), "prod".to_owned());
        let mut logs = ExecutionLogs::default();
        logs.groups.insert(
            "API-Gateway-Execution-Logs_api1/prod".into(),
            LogGroupStatus {
                api_id: "api1".into(),
                stage: "prod".into(),
                read: crate::inventory::LogRead::Ok,
            },
        );
        logs.newest_errors
            .entry(stage.clone())
            .or_default()
            .insert(ErrorClass::TlsHostnameMismatch, 1_000_000);
        logs.newest_errors
            .entry(stage)
            .or_default()
            .insert(ErrorClass::IntegrationTimeout, 1_900_000);
        inventory.execution_logs = Some(logs);
        let scope = testkit::scope();
        let recent = Clock {
            now_ms: 1_500_000,
            tls_error_window_ms: 600_000,
            ..Clock::default()
        };
        let report = diagnose([(&scope, &inventory)], &recent).remove(0);
        let tls = report
            .checks
            .iter()
            .find(|c| c.check == "no_tls_errors")
            .unwrap();
        assert!(!tls.ok);
        assert_eq!(tls.object["stage"], "prod");
        assert!(
            tls.cause
                .as_deref()
                .unwrap()
                .contains("tls_hostname_mismatch"),
            "{tls:?}"
        );
        assert!(tls.fix.as_deref().unwrap().contains("serverNameToVerify"));
        // An hour later the window has passed; timeouts are not TLS errors.
        let later = Clock {
            now_ms: 1_000_000 + 3_600_000,
            tls_error_window_ms: 600_000,
            ..Clock::default()
        };
        let report = diagnose([(&scope, &inventory)], &later).remove(0);
        assert!(
            report
                .checks
                .iter()
                .find(|c| c.check == "no_tls_errors")
                .unwrap()
                .ok
        );
        // An expired certificate, newer than the mismatch: its own cause and fix.
        let logs = inventory.execution_logs.as_mut().unwrap();
        logs.newest_errors
            .entry(("api1".to_owned(), "prod".to_owned()))
            .or_default()
            .insert(ErrorClass::TlsCertificateExpired, 1_200_000);
        let report = diagnose([(&scope, &inventory)], &recent).remove(0);
        let tls = only(&report, "no_tls_errors").remove(0);
        assert!(!tls.ok);
        assert!(
            tls.cause
                .as_deref()
                .unwrap()
                .contains("tls_certificate_expired"),
            "{tls:?}"
        );
        let fix = tls.fix.as_deref().unwrap();
        assert!(fix.contains("Renew or replace the certificate"), "{fix}");
        assert!(fix.contains("even with insecureSkipVerification"), "{fix}");
    }

    /// A log group that could not be read (or not yet) leaves no_tls_errors
    /// unknown, naming the group and the error, and the link not healthy;
    /// an error already known still fails it.
    #[test]
    fn an_unread_log_group_leaves_no_tls_errors_unknown() {
        use crate::inventory::{ExecutionLogs, LogGroupStatus, LogRead};
        let (mut inventory, _) = path_inventory(8443, "healthy");
        let group = "API-Gateway-Execution-Logs_api1/prod";
        let with = |read: LogRead| {
            let mut logs = ExecutionLogs::default();
            logs.groups.insert(
                group.into(),
                LogGroupStatus {
                    api_id: "api1".into(),
                    stage: "prod".into(),
                    read,
                },
            );
            logs
        };
        let scope = testkit::scope();
        let clock = Clock {
            now_ms: 1_500_000,
            tls_error_window_ms: 600_000,
            ..Clock::default()
        };
        inventory.execution_logs = Some(with(LogRead::Ok));
        let report = diagnose([(&scope, &inventory)], &clock).remove(0);
        assert!(only(&report, "no_tls_errors")[0].ok);

        inventory.execution_logs = Some(with(LogRead::Failed {
            code: "AccessDeniedException".into(),
            message: "cloudwatchlogs FilterLogEvents failed: AccessDeniedException: not allowed"
                .into(),
        }));
        let report = diagnose([(&scope, &inventory)], &clock).remove(0);
        let tls = only(&report, "no_tls_errors").remove(0);
        assert!(!tls.ok && tls.unknown == Some("execution_logs"), "{tls:?}");
        assert_eq!(tls.object["log_group"], group);
        let cause = tls.cause.as_deref().unwrap();
        assert!(
            cause.contains(group) && cause.contains("AccessDeniedException"),
            "{cause}"
        );
        assert!(!report.healthy);

        inventory.execution_logs = Some(with(LogRead::Pending));
        let report = diagnose([(&scope, &inventory)], &clock).remove(0);
        let tls = only(&report, "no_tls_errors").remove(0);
        assert!(tls.unknown.is_some(), "{tls:?}");
        assert!(
            tls.cause.as_deref().unwrap().contains("not been read yet"),
            "{tls:?}"
        );

        // An error read before the group became unreadable still fails it.
        let mut logs = with(LogRead::Failed {
            code: "error".into(),
            message: "timeout".into(),
        });
        logs.newest_errors
            .entry(("api1".to_owned(), "prod".to_owned()))
            .or_default()
            .insert(ErrorClass::TlsKeyMismatch, 1_400_000);
        inventory.execution_logs = Some(logs);
        let report = diagnose([(&scope, &inventory)], &clock).remove(0);
        let tls = only(&report, "no_tls_errors").remove(0);
        assert!(!tls.ok && tls.unknown.is_none(), "{tls:?}");
        assert!(
            tls.cause
                .as_deref()
                .unwrap()
                .contains("before the exporter last restarted"),
            "{tls:?}"
        );
    }
}
