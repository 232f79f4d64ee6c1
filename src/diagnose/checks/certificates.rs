//! `certificate_matches_host` and `certificate_valid`: the certificates a
//! TLS listener serves cover the host name API Gateway checks, and are in
//! their validity period with time to spare. They find the causes behind
//! `tls_hostname_mismatch` and `tls_certificate_expired` before a request
//! fails, from what ELB and ACM say (no connection is made).

use std::collections::BTreeMap;

use super::super::{Check, Clock, LinkPath, Place, failed, passed, unknown};
use crate::collect::certificates::terminates_tls;
use crate::inventory::{CertificateDetail, Certificates, Listener, ListenerCertificate};

const MATCHES_HOST: &str = "certificate_matches_host";
const VALID: &str = "certificate_valid";
const MS_PER_DAY: i64 = 86_400_000;

/// One TLS listener an integration calls, with the host name it verifies.
struct TlsCall<'a> {
    load_balancer: &'a str,
    listener: &'a Listener,
    host: String,
    /// A stage that calls it, for the cause.
    stage: String,
}

impl<'a> LinkPath<'a> {
    /// Each (load balancer, TLS listener, host name) the integrations call,
    /// once.
    fn tls_calls(&self) -> Vec<TlsCall<'a>> {
        let mut out: Vec<TlsCall<'a>> = Vec::new();
        for &u in &self.uses {
            let Some(host) = u.tls_host.as_deref().filter(|h| !h.is_empty()) else {
                continue;
            };
            let Some(port) = self.topology.port(u) else {
                continue;
            };
            for arn in self.topology.called_load_balancers(self.link, u) {
                let Some(lb) = self.topology.load_balancer(&arn) else {
                    continue;
                };
                let Some(listener) = lb.listeners.iter().find(|l| l.port == port.port) else {
                    continue;
                };
                // Plain HTTP to a TLS listener is another failure; TLS to a
                // TCP listener is the target's to answer (the probe's).
                if port.protocol == "http" || !terminates_tls(listener) {
                    continue;
                }
                let known = out.iter().any(|c| {
                    c.load_balancer == lb.arn && c.listener.port == listener.port && c.host == host
                });
                if !known {
                    out.push(TlsCall {
                        load_balancer: &lb.arn,
                        listener,
                        host: host.to_owned(),
                        stage: format!("{} of API {}", u.stage, u.api_id),
                    });
                }
            }
        }
        out
    }

    /// `certificate_matches_host`: a certificate of the listener covers the
    /// host name API Gateway sends and checks.
    pub(in crate::diagnose) fn certificate_matches_host(&self) -> Vec<Check> {
        let Some(certificates) = &self.inventory.certificates else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for call in self.tls_calls() {
            let object = BTreeMap::from([
                ("load_balancer", call.load_balancer.to_owned()),
                ("port", call.listener.port.to_string()),
                ("host", call.host.clone()),
            ]);
            let place = Place::Listener(call.load_balancer.to_owned(), call.listener.port);
            let Some(served) = certificates.listeners.get(&call.listener.arn) else {
                out.push(not_read(MATCHES_HOST, object, place));
                continue;
            };
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
                .flat_map(|d| d.names.iter().map(String::as_str))
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
                    call.stage, call.host, call.listener.port, call.host
                ),
                format!(
                    "Add a certificate that covers {} to the listener (request it in ACM, then add it to the listener's certificates), or make the integration's host name (or tlsConfig.serverNameToVerify) a name the certificate covers, and redeploy the API.",
                    call.host
                ),
            ));
        }
        out
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
        let calls = self.tls_calls();
        for call in &calls {
            let place = Place::Listener(call.load_balancer.to_owned(), call.listener.port);
            let Some(served) = certificates.listeners.get(&call.listener.arn) else {
                let object = BTreeMap::from([
                    ("load_balancer", call.load_balancer.to_owned()),
                    ("port", call.listener.port.to_string()),
                ]);
                out.push(not_read(VALID, object, place));
                continue;
            };
            // What the listener answers the host name with: the certificates
            // that cover it (chosen by SNI), else the default.
            let matching: Vec<&ListenerCertificate> = served
                .iter()
                .filter(|c| covers(certificates, c, &call.host))
                .collect();
            let chosen = if matching.is_empty() {
                served.iter().filter(|c| c.is_default).collect()
            } else {
                matching
            };
            for certificate in chosen {
                let key = (
                    call.load_balancer,
                    call.listener.port,
                    certificate.arn.as_str(),
                );
                if judged.contains(&key) {
                    continue;
                }
                judged.push(key);
                let object = BTreeMap::from([
                    ("load_balancer", call.load_balancer.to_owned()),
                    ("port", call.listener.port.to_string()),
                    ("certificate_arn", certificate.arn.clone()),
                ]);
                let Some(detail) = certificates.details.get(&certificate.arn) else {
                    out.push(unknown(
                        VALID,
                        object,
                        place.clone(),
                        "certificates",
                        &unreadable(certificates, &certificate.arn),
                    ));
                    continue;
                };
                out.push(match invalid(detail, clock) {
                    None => passed(VALID, object, place.clone()),
                    Some(cause) => failed(
                        VALID,
                        object,
                        place.clone(),
                        format!(
                            "The certificate the listener on port {} serves for {} ({}): {cause}.",
                            call.listener.port, call.host, certificate.arn
                        ),
                        "Renew or replace the certificate (an ACM certificate validated by DNS renews itself while its validation record stays; an imported one must be imported again), and make it the listener's certificate. API Gateway checks validity even with insecureSkipVerification.".into(),
                    ),
                });
            }
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

/// Why a certificate is not good to serve now, if it is not.
fn invalid(detail: &CertificateDetail, clock: &Clock) -> Option<String> {
    let now_s = clock.now_ms.div_euclid(1000);
    let date = |s: i64| {
        u64::try_from(s)
            .ok()
            .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s))
            .map(|t| humantime::format_rfc3339_seconds(t).to_string())
            .unwrap_or_else(|| s.to_string())
    };
    if let Some(after) = detail.not_after_s
        && after <= now_s
    {
        return Some(format!("expired on {}", date(after)));
    }
    if let Some(before) = detail.not_before_s
        && before > now_s
    {
        return Some(format!("not valid before {}", date(before)));
    }
    if !detail.status.is_empty() && detail.status != "issued" {
        return Some(format!(
            "ACM says it is {}",
            detail.status.to_ascii_uppercase()
        ));
    }
    let after = detail.not_after_s?;
    let left_ms = (after - now_s).saturating_mul(1000);
    (left_ms < clock.certificate_warning_ms).then(|| {
        format!(
            "expires on {}, in {} days (the warning is {} days ahead)",
            date(after),
            left_ms / MS_PER_DAY,
            clock.certificate_warning_ms / MS_PER_DAY
        )
    })
}

/// A listener whose certificates the collector has not read yet.
fn not_read(check: &'static str, object: BTreeMap<&'static str, String>, place: Place) -> Check {
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
    /// serverNameToVerify), plain HTTP, or a TCP listener: no finding.
    #[test]
    fn calls_without_a_tls_listener_or_a_host_name_are_not_judged() {
        let mut no_host = with_certificate(v2_path(), &[HOST], VALID_S);
        no_host.apis.as_mut().unwrap()[0].integrations[0].tls_server_name = None;
        let mut tcp = with_certificate(v1_path(&["available"]), &[HOST], VALID_S);
        tcp.load_balancing.as_mut().unwrap().load_balancers[0].listeners[0].protocol = "TCP".into();
        let mut http = with_certificate(v1_path(&["available"]), &[HOST], VALID_S);
        http.apis.as_mut().unwrap()[0].integrations[0].uri = "http://web.internal:443/".into();
        for inventory in [no_host, tcp, http] {
            assert!(findings(&inventory).is_empty());
        }
    }
}
