//! `no_tls_errors`: no TLS-class execution error in the recent window.

use std::collections::BTreeMap;

use super::super::{Check, Clock, LinkPath, Place, failed, passed};
use crate::classify::ErrorClass;

fn tls_fix(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::TlsHostnameMismatch => {
            "Make the integration's host name (or tlsConfig.serverNameToVerify) match the certificate the TLS listener or target presents."
        }
        ErrorClass::TlsUntrustedCertificate => {
            "Use a certificate from a CA that API Gateway trusts, served with its intermediate chain; insecureSkipVerification does not skip this check."
        }
        ErrorClass::TlsCertificateExpired => {
            "Renew or replace the certificate on the TLS listener or target: it is out of its validity period, and API Gateway checks validity even with insecureSkipVerification."
        }
        ErrorClass::TlsKeyMismatch => {
            "The key and the certificate do not belong together: check the CA, certificate and key files on the target."
        }
        _ => "Check the TLS configuration of the listener and the target.",
    }
}

impl LinkPath<'_> {
    /// `no_tls_errors`: no TLS-class execution error in the last window, for
    /// every stage that uses the link and whose log is read.
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
            let read = logs
                .groups
                .values()
                .any(|g| g.api_id == api_id && g.stage == stage);
            if !read {
                continue;
            }
            let object = BTreeMap::from([("api_id", api_id.clone()), ("stage", stage.clone())]);
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
                out.push(passed("no_tls_errors", object, place));
                continue;
            };
            let counts = logs.counts.get(&(api_id.clone(), stage.clone()));
            let total = counts.map_or(0, |t| t.class_count(*class));
            out.push(failed(
                "no_tls_errors",
                object,
                place,
                format!(
                    "Stage {stage} of API {api_id} logged {class} errors in the last {} min ({total} since the exporter started).",
                    clock.tls_error_window_ms / 60_000
                ),
                tls_fix(*class).into(),
            ));
        }
        out
    }
}
