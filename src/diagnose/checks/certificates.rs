//! `certificate_matches_host` and `certificate_valid`: the certificates a
//! TLS listener serves cover the host name API Gateway checks, and are in
//! their validity period with time to spare. They find the causes behind
//! `tls_hostname_mismatch` and `tls_certificate_expired` before a request
//! fails, from what ELB and ACM say (no connection is made).

use super::super::finding::{Check, Clock, Place, failed, passed, unknown};
use super::super::object::Object;
use crate::inventory::{CertificateDetail, Certificates, Listener, ListenerCertificate};
use crate::topology::LinkPath;
use crate::topology::TlsCall;

const MATCHES_HOST: &str = "certificate_matches_host";
const VALID: &str = "certificate_valid";
const MS_PER_DAY: i64 = 86_400_000;

impl<'a> LinkPath<'a> {
    /// The integrations' TLS connections that a listener of the load
    /// balancer terminates, with that listener: its certificates are what
    /// API Gateway sees (a TCP listener passes TLS through to the targets,
    /// which the probe sees).
    fn terminated_calls(&self) -> Vec<(TlsCall<'a>, &'a Listener)> {
        self.topology
            .tls_calls(self.link)
            .into_iter()
            .filter_map(|call| {
                let listener = call.listener.filter(|l| l.terminates_tls())?;
                Some((call, listener))
            })
            .collect()
    }

    /// `certificate_matches_host`: a certificate of the listener covers the
    /// host name API Gateway sends and checks. Through a `TCP` listener ELB
    /// serves no certificate: the check passes and says so, and where the
    /// targets' certificate is judged (the TLS probe, or how to turn it on).
    pub(in crate::diagnose) fn certificate_matches_host(&self) -> Vec<Check> {
        let mut out: Vec<Check> = self
            .topology
            .tls_calls(self.link)
            .into_iter()
            .filter(|call| call.at_targets())
            .map(|call| self.passed_through(&call))
            .collect();
        let Some(certificates) = &self.inventory.certificates else {
            return out;
        };
        for (call, listener) in self.terminated_calls() {
            let load_balancer = &call.load_balancer.arn;
            let object = Object::from([
                ("load_balancer", load_balancer.clone()),
                ("port", call.port.to_string()),
                ("host", call.host.clone()),
            ]);
            let place = Place::Listener(load_balancer.clone(), call.port);
            let Some(served) = certificates.listeners.get(&listener.arn) else {
                out.push(not_read(MATCHES_HOST, object, place));
                continue;
            };
            if served.is_empty() {
                out.push(none_listed(MATCHES_HOST, object, place));
                continue;
            }
            if served.iter().any(|c| covers(certificates, c, &call.host)) {
                out.push(passed(MATCHES_HOST, object, place));
                continue;
            }
            if let Some(unnamed) = served
                .iter()
                .find(|c| !certificates.details.contains_key(&c.arn))
            {
                out.push(unknown(
                    MATCHES_HOST,
                    object,
                    place,
                    "certificates",
                    &unreadable(certificates, &unnamed.arn),
                ));
                continue;
            }
            let names: Vec<&str> = served
                .iter()
                .filter_map(|c| certificates.details.get(&c.arn))
                .flat_map(|d| d.checked_names())
                .collect();
            let names = if names.is_empty() {
                "no names".to_owned()
            } else {
                names.join(", ")
            };
            out.push(failed(
                MATCHES_HOST,
                object,
                place,
                format!(
                    "Stage {} calls {} on port {}, but the listener's certificates cover {names}: API Gateway will fail the TLS handshake with \"Host name '{}' does not match the certificate subject\".",
                    call.stage, call.host, call.port, call.host
                ),
                format!(
                    "Add a certificate that covers {} to the listener (request it in ACM, then add it to the listener's certificates), or make the integration's host name (or tlsConfig.serverNameToVerify) a name the certificate covers, and redeploy the API.",
                    call.host
                ),
            ));
        }
        out
    }

    /// A TLS call through a `TCP` listener: no ELB certificate to judge.
    fn passed_through(&self, call: &TlsCall) -> Check {
        let object = Object::from([
            ("load_balancer", call.load_balancer.arn.clone()),
            ("port", call.port.to_string()),
            ("host", call.host.clone()),
        ]);
        let place = Place::Listener(call.load_balancer.arn.clone(), call.port);
        let judged = match &self.inventory.tls_probes {
            Some(probes) if probes.unaddressed.contains(&call.probe_key()) => {
                "nothing here judges it: collectors.tls_probe.only_addresses leaves out load balancers that tls_probe.addresses does not map; map this one to an address the exporter can reach to have it checked as API Gateway checks it"
            }
            Some(_) => "the tls_probe check judges it, as API Gateway would",
            None => {
                "nothing here judges it: turn on collectors.tls_probe (enabled: true, and tls_probe.addresses mapping this load balancer to an address the exporter can reach) to have it checked as API Gateway checks it"
            }
        };
        Check {
            note: Some(format!(
                "TLS at the targets: the listener on port {} is TCP, so the load balancer passes API Gateway's TLS (stage {}, host name {}) through to its targets, and the certificate API Gateway checks is theirs, not one of ELB's; {judged}.",
                call.port, call.stage, call.host
            )),
            ..passed(MATCHES_HOST, object, place)
        }
    }

    /// `certificate_valid`: the certificate the listener serves for the
    /// host name is issued, in its validity period, and not expiring within
    /// the configured warning.
    pub(in crate::diagnose) fn certificate_valid(&self, clock: &Clock) -> Vec<Check> {
        let Some(certificates) = &self.inventory.certificates else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut judged: Vec<(&str, u16, &str)> = Vec::new();
        for (call, listener) in self.terminated_calls() {
            let load_balancer = call.load_balancer.arn.as_str();
            let place = Place::Listener(load_balancer.to_owned(), call.port);
            let Some(served) = certificates.listeners.get(&listener.arn) else {
                let object = Object::from([
                    ("load_balancer", load_balancer.to_owned()),
                    ("port", call.port.to_string()),
                ]);
                out.push(not_read(VALID, object, place));
                continue;
            };
            // What the listener answers the host name with: a certificate
            // that covers it (chosen by SNI), else the default. Of several
            // that cover it, the worst is judged: which one ELB serves
            // depends on more than dates (key type first), so an expired
            // one left beside its replacement may be it.
            let mut matching: Vec<(&ListenerCertificate, &CertificateDetail)> = served
                .iter()
                .filter_map(|c| Some((c, certificates.details.get(&c.arn)?)))
                .filter(|(_, d)| d.covers(&call.host))
                .collect();
            matching.sort_by_cached_key(|(_, d)| {
                std::cmp::Reverse((
                    matches!(judge(d, clock), Verdict::Valid),
                    d.not_after_s.unwrap_or(i64::MIN),
                ))
            });
            let unnamed = served
                .iter()
                .find(|c| !certificates.details.contains_key(&c.arn));
            let chosen = match (matching.last(), unnamed) {
                (Some(&(c, _)), _) => Some(c),
                // One whose names are unknown may be what SNI picks.
                (None, Some(c)) => Some(c),
                (None, None) => served.iter().find(|c| c.is_default),
            };
            let Some(certificate) = chosen else {
                let object = Object::from([
                    ("load_balancer", load_balancer.to_owned()),
                    ("port", call.port.to_string()),
                ]);
                out.push(none_listed(VALID, object, place));
                continue;
            };
            let key = (load_balancer, call.port, certificate.arn.as_str());
            if judged.contains(&key) {
                continue;
            }
            judged.push(key);
            let object = Object::from([
                ("load_balancer", load_balancer.to_owned()),
                ("port", call.port.to_string()),
                ("certificate_arn", certificate.arn.clone()),
            ]);
            let Some(detail) = certificates.details.get(&certificate.arn) else {
                out.push(unknown(
                    VALID,
                    object,
                    place,
                    "certificates",
                    &unreadable(certificates, &certificate.arn),
                ));
                continue;
            };
            out.push(match judge(detail, clock) {
                Verdict::Valid => passed(VALID, object, place),
                Verdict::Unknown(why) => unknown(VALID, object, place, "certificates", &why),
                Verdict::Invalid(cause) => failed(
                    VALID,
                    object,
                    place,
                    format!(
                        "The certificate the listener on port {} serves for {} ({}): {cause}.",
                        call.port, call.host, certificate.arn
                    ),
                    "Renew or replace the certificate (an ACM certificate validated by DNS renews itself while its validation record stays; an imported one must be imported again), and make it the listener's certificate. API Gateway checks validity even with insecureSkipVerification.".into(),
                ),
            });
        }
        out
    }
}

fn covers(certificates: &Certificates, certificate: &ListenerCertificate, host: &str) -> bool {
    certificates
        .details
        .get(&certificate.arn)
        .is_some_and(|d| d.covers(host))
}

/// A certificate's standing now.
enum Verdict {
    Valid,
    Invalid(String),
    /// ACM's answer lacks what it takes to say.
    Unknown(String),
}

/// A date as RFC 3339, or the raw seconds where it cannot be written so
/// (before 1970, after 9999).
fn date(s: i64) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let written = u64::try_from(s).ok().and_then(|s| {
        let t = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(s))?;
        write!(out, "{}", humantime::format_rfc3339_seconds(t)).ok()
    });
    match written {
        Some(()) => out,
        None => format!("{s} s after the epoch"),
    }
}

/// Whether a certificate is good to serve now, and if not why.
fn judge(detail: &CertificateDetail, clock: &Clock) -> Verdict {
    let now_s = clock.now_ms.div_euclid(1000);
    let Some(after) = detail.not_after_s else {
        return Verdict::Unknown("ACM gave no NotAfter for the certificate".into());
    };
    if after <= now_s {
        return Verdict::Invalid(format!("expired on {}", date(after)));
    }
    if let Some(before) = detail.not_before_s
        && before > now_s
    {
        return Verdict::Invalid(format!("not valid before {}", date(before)));
    }
    if detail.status.is_empty() {
        return Verdict::Unknown("ACM gave no status for the certificate".into());
    }
    if detail.status != "issued" {
        return Verdict::Invalid(format!(
            "ACM says it is {}",
            detail.status.to_ascii_uppercase()
        ));
    }
    let left_ms = after.saturating_sub(now_s).saturating_mul(1000);
    if left_ms < clock.certificate_warning_ms {
        return Verdict::Invalid(format!(
            "expires on {}, in {} days (the warning is {} days ahead)",
            date(after),
            left_ms / MS_PER_DAY,
            clock.certificate_warning_ms / MS_PER_DAY
        ));
    }
    Verdict::Valid
}

/// A listener for which AWS listed no certificate (or no default one).
fn none_listed(check: &'static str, object: Object, place: Place) -> Check {
    unknown(
        check,
        object,
        place,
        "certificates",
        "AWS listed no certificate for the listener that could be served for this host name",
    )
}

/// A listener whose certificates the collector has not read yet.
fn not_read(check: &'static str, object: Object, place: Place) -> Check {
    unknown(
        check,
        object,
        place,
        "certificates",
        "the listener's certificates have not been read yet",
    )
}

fn unreadable(certificates: &Certificates, arn: &str) -> String {
    match certificates.unread.get(arn) {
        Some(why) => format!("ACM could not describe certificate {arn}: {why}"),
        None => format!(
            "certificate {arn} is not in ACM (an IAM server certificate): its names and dates cannot be read"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::views;
    use crate::testkit::{CERTIFICATE, HOST, v1_path, v2_path, with_certificate};
    use crate::topology::Topology;

    /// TLS through a `TCP` listener: ELB serves no certificate, so the
    /// check passes, says where the certificate is (the targets), and how
    /// it gets judged; `/links` shows the listener hop as TLS at the targets.
    #[test]
    fn tls_through_a_tcp_listener_passes_and_names_the_targets() {
        let mut inventory = v2_path();
        inventory.apis.as_mut().unwrap()[0].integrations[0].tls_config = true;
        inventory.apis.as_mut().unwrap()[0].integrations[0].tls_server_name = Some(HOST.into());
        let lb = &mut inventory.load_balancing.as_mut().unwrap().load_balancers[0];
        lb.lb_type = "network".into();
        lb.listeners[0].protocol = "TCP".into();
        let note = |inventory: &crate::inventory::Inventory| {
            let view = crate::testkit::view_one(inventory);
            let check = view
                .report
                .checks
                .iter()
                .find(|c| c.check == MATCHES_HOST)
                .cloned()
                .expect("a certificate_matches_host check");
            assert!(check.ok && check.cause.is_none(), "{check:?}");
            let listener = view
                .hops
                .iter()
                .find(|h| h.kind == crate::diagnose::path::HopKind::Listener)
                .unwrap();
            assert_eq!(listener.detail, "TCP · TLS at the targets: see the probe");
            check.note.unwrap()
        };
        let off = note(&inventory);
        assert!(
            off.contains("TLS at the targets") && off.contains(HOST),
            "{off}"
        );
        assert!(off.contains("turn on collectors.tls_probe"), "{off}");
        let mut on = crate::testkit::with_probe(inventory, None);
        assert!(note(&on).contains("the tls_probe check judges it"));
        let probes = on.tls_probes.as_mut().unwrap();
        let key = probes.outcomes.keys().next().unwrap().clone();
        probes.outcomes.clear();
        probes.unaddressed.insert(key);
        let left_out = note(&on);
        assert!(left_out.contains("only_addresses"), "{left_out}");
    }

    const DAY_S: i64 = 86_400;
    /// The time of the tests: a year after the epoch.
    const NOW_S: i64 = 365 * DAY_S;

    fn clock() -> Clock {
        Clock {
            now_ms: NOW_S * 1000,
            ..Clock::default()
        }
    }

    /// The certificate findings of the inventory's link, by check.
    fn findings(inventory: &crate::inventory::Inventory) -> Vec<Check> {
        let topology = Topology::build(inventory);
        let scope = crate::testkit::scope();
        views([(&scope, &topology)], &clock())
            .remove(0)
            .report
            .checks
            .into_iter()
            .filter(|c| c.check.starts_with("certificate_"))
            .collect()
    }

    fn one<'c>(checks: &'c [Check], name: &str) -> &'c Check {
        let mut found = checks.iter().filter(|c| c.check == name);
        let check = found
            .next()
            .unwrap_or_else(|| panic!("no {name} in {checks:?}"));
        assert!(found.next().is_none(), "one {name}: {checks:?}");
        check
    }

    const VALID_S: (i64, i64) = (NOW_S - 30 * DAY_S, NOW_S + 90 * DAY_S);

    #[test]
    fn a_certificate_that_covers_the_host_and_is_valid_passes_on_the_listener() {
        for inventory in [
            with_certificate(v1_path(&["available"]), &[HOST], VALID_S),
            with_certificate(v2_path(), &["*.INTERNAL"], VALID_S),
        ] {
            let checks = findings(&inventory);
            let matches = one(&checks, "certificate_matches_host");
            assert!(matches.ok, "{matches:?}");
            assert_eq!(matches.object["host"], HOST);
            assert_eq!(matches.object["port"], "443");
            assert_eq!(
                matches.place,
                Place::Listener(crate::testkit::ALB.into(), 443)
            );
            let valid = one(&checks, "certificate_valid");
            assert!(valid.ok, "{valid:?}");
            assert_eq!(valid.object["certificate_arn"], CERTIFICATE);
        }
    }

    #[test]
    fn names_that_do_not_cover_the_host_fail_with_the_names_and_the_fix() {
        let inventory =
            with_certificate(v2_path(), &["api.example.com", "*.web.internal"], VALID_S);
        let checks = findings(&inventory);
        let matches = one(&checks, "certificate_matches_host");
        assert!(!matches.ok);
        let cause = matches.cause.as_deref().unwrap();
        assert!(cause.contains("api.example.com, *.web.internal"), "{cause}");
        assert!(cause.contains("web.internal"), "{cause}");
        assert!(
            matches
                .fix
                .as_deref()
                .unwrap()
                .contains("serverNameToVerify")
        );
        // The default certificate is what the host gets: it is judged.
        assert!(one(&checks, "certificate_valid").ok);
    }

    #[test]
    fn expired_expiring_early_and_revoked_certificates_fail() {
        let cases = [
            (
                (NOW_S - 400 * DAY_S, NOW_S - DAY_S),
                "expired on 1970-12-31",
            ),
            ((NOW_S - 30 * DAY_S, NOW_S + 3 * DAY_S), "in 3 days"),
            ((NOW_S + DAY_S, NOW_S + 400 * DAY_S), "not valid before"),
        ];
        for (valid_s, says) in cases {
            let checks = findings(&with_certificate(v1_path(&["available"]), &[HOST], valid_s));
            let valid = one(&checks, "certificate_valid");
            assert!(!valid.ok, "{valid_s:?}");
            let cause = valid.cause.as_deref().unwrap();
            assert!(cause.contains(says), "{cause}");
            assert!(
                valid
                    .fix
                    .as_deref()
                    .unwrap()
                    .contains("insecureSkipVerification")
            );
        }
        let mut revoked = with_certificate(v1_path(&["available"]), &[HOST], VALID_S);
        let certificates = revoked.certificates.as_mut().unwrap();
        certificates.details.get_mut(CERTIFICATE).unwrap().status = "revoked".into();
        let checks = findings(&revoked);
        let cause = one(&checks, "certificate_valid").cause.clone().unwrap();
        assert!(cause.contains("REVOKED"), "{cause}");
    }

    /// The warning is the configured one: 100 days ahead fails a
    /// certificate with 90 left.
    #[test]
    fn the_warning_window_is_the_clocks() {
        let inventory = with_certificate(v1_path(&["available"]), &[HOST], VALID_S);
        let topology = Topology::build(&inventory);
        let scope = crate::testkit::scope();
        let wary = Clock {
            certificate_warning_ms: 100 * DAY_S * 1000,
            ..clock()
        };
        let report = views([(&scope, &topology)], &wary).remove(0).report;
        let valid = report
            .checks
            .iter()
            .find(|c| c.check == "certificate_valid")
            .unwrap();
        assert!(!valid.ok);
        assert!(valid.cause.as_deref().unwrap().contains("in 90 days"));
    }

    /// Names that cannot be read never pass: an IAM server certificate, a
    /// certificate ACM could not describe, a listener not read yet.
    #[test]
    fn what_could_not_be_read_is_unknown() {
        let base = with_certificate(v1_path(&["available"]), &[HOST], VALID_S);
        let mut iam = base.clone();
        let certificates = iam.certificates.as_mut().unwrap();
        certificates.details.clear();
        let mut unread = iam.clone();
        unread
            .certificates
            .as_mut()
            .unwrap()
            .unread
            .insert(CERTIFICATE.into(), "AccessDeniedException".into());
        let mut not_read = base.clone();
        not_read.certificates.as_mut().unwrap().listeners.clear();
        for (inventory, says) in [
            (iam, "IAM server certificate"),
            (unread, "AccessDeniedException"),
            (not_read, "not been read"),
        ] {
            let checks = findings(&inventory);
            assert_eq!(checks.len(), 2, "{checks:?}");
            for check in &checks {
                assert!(!check.ok);
                assert_eq!(check.unknown, Some("certificates"));
                assert!(check.cause.as_deref().unwrap().contains(says), "{check:?}");
            }
        }
    }

    /// No host name to check (an HTTP API naming a listener without
    /// serverNameToVerify) or plain HTTP: no finding; a TCP listener: a
    /// pass that says the targets hold the certificate.
    #[test]
    fn calls_without_a_tls_listener_or_a_host_name_are_not_judged() {
        let mut no_host = with_certificate(v2_path(), &[HOST], VALID_S);
        no_host.apis.as_mut().unwrap()[0].integrations[0].tls_server_name = None;
        let mut tcp = with_certificate(v1_path(&["available"]), &[HOST], VALID_S);
        tcp.load_balancing.as_mut().unwrap().load_balancers[0].listeners[0].protocol = "TCP".into();
        let mut http = with_certificate(v1_path(&["available"]), &[HOST], VALID_S);
        http.apis.as_mut().unwrap()[0].integrations[0].uri = "http://web.internal:443/".into();
        for inventory in [no_host, http] {
            assert!(findings(&inventory).is_empty());
        }
        let passed = findings(&tcp);
        assert_eq!(passed.len(), 1, "{passed:?}");
        assert!(
            passed[0].ok
                && passed[0]
                    .note
                    .as_deref()
                    .unwrap()
                    .contains("TLS at the targets")
        );
    }

    /// AWS listing nothing, ACM giving no end date, a date no calendar
    /// writes: unknown or a cause, never a pass and never a panic.
    #[test]
    fn odd_answers_are_unknown_or_said_plainly() {
        let base = with_certificate(v1_path(&["available"]), &[HOST], VALID_S);
        let mut empty = base.clone();
        empty
            .certificates
            .as_mut()
            .unwrap()
            .listeners
            .values_mut()
            .for_each(Vec::clear);
        let checks = findings(&empty);
        assert_eq!(checks.len(), 2);
        assert!(checks.iter().all(|c| c.unknown == Some("certificates")));
        let mut no_end = base.clone();
        let detail = |i: &mut crate::inventory::Inventory| {
            i.certificates
                .as_mut()
                .unwrap()
                .details
                .get_mut(CERTIFICATE)
                .unwrap()
                .clone()
        };
        let mut d = detail(&mut no_end);
        d.not_after_s = None;
        no_end
            .certificates
            .as_mut()
            .unwrap()
            .details
            .insert(CERTIFICATE.into(), d);
        let valid = findings(&no_end)
            .into_iter()
            .find(|c| c.check == "certificate_valid")
            .unwrap();
        assert_eq!(valid.unknown, Some("certificates"), "{valid:?}");
        let mut far = base.clone();
        let mut d = detail(&mut far);
        d.not_before_s = Some(i64::MAX / 2);
        d.not_after_s = Some(i64::MAX);
        far.certificates
            .as_mut()
            .unwrap()
            .details
            .insert(CERTIFICATE.into(), d);
        let valid = findings(&far)
            .into_iter()
            .find(|c| c.check == "certificate_valid")
            .unwrap();
        assert!(valid.cause.unwrap().contains("s after the epoch"));
    }

    /// During a rotation both certificates are attached; ELB may serve
    /// either (it ranks key types before dates): the expired one fails,
    /// named, so that it is removed.
    #[test]
    fn of_two_certificates_for_the_host_the_worse_one_is_judged() {
        let mut inventory = with_certificate(v1_path(&["available"]), &[HOST], VALID_S);
        let certificates = inventory.certificates.as_mut().unwrap();
        let mut old = certificates.details[CERTIFICATE].clone();
        old.not_after_s = Some(NOW_S - DAY_S);
        certificates.details.insert("old".into(), old);
        for served in certificates.listeners.values_mut() {
            served.push(ListenerCertificate {
                arn: "old".into(),
                ..Default::default()
            });
        }
        let checks = findings(&inventory);
        let valid = one(&checks, "certificate_valid");
        assert!(!valid.ok, "{valid:?}");
        assert_eq!(valid.object["certificate_arn"], "old");
    }
}
