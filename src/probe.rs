//! The TLS probe: connects where API Gateway connects through a VPC link,
//! with the host name API Gateway sends (SNI), and checks what API Gateway
//! checks, so that its TLS failures show before callers meet them: the chain
//! reaches a trusted root (Mozilla's, from `webpki-roots`, as API Gateway
//! trusts the public CAs; an extra CA file for private test set-ups), the
//! dates, the host name, a handshake signed by the certificate's key, and
//! then an HTTP status line for a request over the session. Each failure is
//! named with the execution-log class API Gateway's log would show.
//!
//! Network only: no AWS call, no shared state. The `tls_probe` collector
//! decides what to probe and when.

use std::sync::{Arc, Mutex};

use std::time::Duration;
use tokio_rustls::rustls;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::classify::ErrorClass;
use crate::inventory::{PresentedCertificate, ProbeFailure, ProbeOutcome, ProbeTarget};
use crate::lock::LockOrRecover;

/// An outcome of a probe of `target` that failed.
fn failed(
    target: &ProbeTarget,
    class: ErrorClass,
    detail: String,
    certificate: Option<PresentedCertificate>,
) -> ProbeOutcome {
    ProbeOutcome {
        address: target.address.clone(),
        failure: Some(ProbeFailure { class, detail }),
        certificate,
    }
}

/// The roots a probe trusts: Mozilla's, and any extra CAs.
#[derive(Debug, Clone)]
pub struct Prober {
    verifier: Arc<WebPkiServerVerifier>,
    provider: Arc<rustls::crypto::CryptoProvider>,
    /// The whole probe: connect, handshake, request, status line.
    pub timeout: Duration,
}

/// A configured CA file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProbeSetupError {
    #[error("cannot read the TLS probe's CA file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the TLS probe's CA file {path} holds no usable certificate{why}")]
    NoCertificate { path: String, why: String },
    #[error("cannot build the TLS probe's verifier: {0}")]
    Verifier(String),
}

impl Prober {
    /// A prober trusting Mozilla's roots and the certificates of `extra_ca`
    /// (a PEM file).
    pub fn new(
        extra_ca: Option<&std::path::Path>,
        timeout: Duration,
    ) -> Result<Prober, ProbeSetupError> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = extra_ca {
            let shown = path.display().to_string();
            let pem = std::fs::read(path).map_err(|source| ProbeSetupError::Read {
                path: shown.clone(),
                source,
            })?;
            let mut added = 0;
            let mut why = String::new();
            for cert in pem_certificates(&pem) {
                match cert.and_then(|c| roots.add(c).map_err(|e| e.to_string())) {
                    Ok(()) => added += 1,
                    Err(e) => why = format!(": {e}"),
                }
            }
            if added == 0 {
                return Err(ProbeSetupError::NoCertificate { path: shown, why });
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| ProbeSetupError::Verifier(e.to_string()))?;
        Ok(Prober {
            verifier,
            provider,
            timeout,
        })
    }

    /// Probes one target; never fails: what went wrong is the outcome.
    pub async fn probe(&self, target: &ProbeTarget) -> ProbeOutcome {
        let recorder = Arc::new(Recorder {
            inner: self.verifier.clone(),
            insecure_skip_verification: target.insecure_skip_verification,
            seen: Mutex::default(),
        });
        match tokio::time::timeout(self.timeout, self.attempt(target, &recorder)).await {
            Ok(outcome) => outcome,
            Err(_) => {
                // What was seen before time ran out still counts: the
                // certificate, and how far the probe got.
                let seen = recorder.seen();
                failed(
                    target,
                    ErrorClass::IntegrationTimeout,
                    format!(
                        "no answer from {} within {:?} while {}",
                        target.address,
                        self.timeout,
                        seen.stage.describe()
                    ),
                    seen.leaf.as_deref().and_then(presented),
                )
            }
        }
    }

    async fn attempt(&self, target: &ProbeTarget, recorder: &Arc<Recorder>) -> ProbeOutcome {
        let Ok(server_name) = ServerName::try_from(target.host.clone()) else {
            return failed(
                target,
                ErrorClass::TlsHostnameMismatch,
                format!(
                    "{:?} is not a host name a certificate can be checked against",
                    target.host
                ),
                None,
            );
        };
        let tcp = match tokio::net::TcpStream::connect(&target.address).await {
            Ok(tcp) => tcp,
            Err(e) => {
                return failed(
                    target,
                    ErrorClass::Other,
                    format!("cannot connect to {}: {e}", target.address),
                    None,
                );
            }
        };
        recorder.record(|s| s.stage = Stage::Handshake);
        let config = match rustls::ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
        {
            Ok(builder) => builder
                .dangerous()
                .with_custom_certificate_verifier(recorder.clone())
                .with_no_client_auth(),
            Err(e) => {
                return failed(target, ErrorClass::Other, format!("TLS set-up: {e}"), None);
            }
        };
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let handshake = connector.connect(server_name, tcp).await;
        let seen = recorder.seen();
        let certificate = seen.leaf.as_deref().and_then(presented);
        let mut tls = match handshake {
            Ok(tls) => tls,
            Err(e) => {
                let class = seen.failure.unwrap_or(ErrorClass::Other);
                let detail = match (&seen.reason, class) {
                    (Some(reason), _) => reason.clone(),
                    (None, ErrorClass::Other) => format!("the TLS handshake failed: {e}"),
                    (None, _) => e.to_string(),
                };
                return failed(target, class, detail, certificate);
            }
        };
        recorder.record(|s| s.stage = Stage::Answer);
        let request = format!(
            "HEAD / HTTP/1.1\r\nHost: {}\r\nUser-Agent: aws-connectivity-exporter-tls-probe\r\nConnection: close\r\n\r\n",
            target.host
        );
        if let Err(e) = tls.write_all(request.as_bytes()).await {
            return failed(
                target,
                ErrorClass::TargetReset,
                format!("the backend closed the connection before the request was sent: {e}"),
                certificate,
            );
        }
        // The first bytes of the answer; what was read counts even when the
        // connection then breaks.
        let mut first = Vec::with_capacity(64);
        let mut buffer = [0u8; 64];
        let mut broken = None;
        while first.len() < 5 {
            match tls.read(&mut buffer).await {
                Ok(0) => break,
                Ok(n) => first.extend_from_slice(&buffer[..n]),
                Err(e) => {
                    broken = Some(e);
                    break;
                }
            }
        }
        if first.starts_with(b"HTTP/") {
            return ProbeOutcome {
                address: target.address.clone(),
                failure: None,
                certificate,
            };
        }
        if first.is_empty() {
            // Closed or reset after the handshake, with no answer: as an NLB
            // does when its target refuses or drops the connection. API
            // Gateway logs an internal error for it.
            let how = broken.map_or_else(|| "closed".to_owned(), |e| format!("broke it off ({e})"));
            return failed(
                target,
                ErrorClass::TargetReset,
                format!(
                    "the TLS handshake passed, then the backend {how} without an HTTP answer (a target that refuses or resets the load balancer's connection)"
                ),
                certificate,
            );
        }
        let detail = format!(
            "the answer over the TLS session is not HTTP (it starts {}{}), as when a TLS listener forwards to a target that speaks TLS too",
            hex(&first[..first.len().min(8)]),
            if first.first() == Some(&0x15) || first.first() == Some(&0x16) {
                ": a TLS record"
            } else {
                ""
            }
        );
        failed(target, ErrorClass::InvalidHttpResponse, detail, certificate)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The certificates of a PEM file.
fn pem_certificates(pem: &[u8]) -> Vec<Result<CertificateDer<'static>, String>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map_err(|e| e.to_string()))
        .collect()
}

/// The leaf certificate's subject, issuer and end of validity.
fn presented(der: &[u8]) -> Option<PresentedCertificate> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(PresentedCertificate {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_after_s: cert.validity().not_after.timestamp(),
    })
}

/// How far a probe got.
#[derive(Debug, Default, Clone, Copy)]
enum Stage {
    #[default]
    Connect,
    Handshake,
    Answer,
}

impl Stage {
    fn describe(self) -> &'static str {
        match self {
            Stage::Connect => "connecting",
            Stage::Handshake => "in the TLS handshake",
            Stage::Answer => {
                "waiting for the HTTP answer (the TLS checks had passed; API Gateway waits up to the integration's timeout, 29 s by default)"
            }
        }
    }
}

/// What one probe saw: how far it got, and what the verifier saw.
#[derive(Debug, Default, Clone)]
struct Seen {
    stage: Stage,
    leaf: Option<Vec<u8>>,
    failure: Option<ErrorClass>,
    reason: Option<String>,
}

/// Verifies as webpki does, remembering the leaf and which step failed: a
/// bad chain, date or name is the certificate's fault; a bad handshake
/// signature means the key is not the certificate's.
#[derive(Debug)]
struct Recorder {
    inner: Arc<WebPkiServerVerifier>,
    insecure_skip_verification: bool,
    seen: Mutex<Seen>,
}

impl Recorder {
    fn seen(&self) -> Seen {
        self.seen.lock_or_recover().clone()
    }

    fn record(&self, f: impl FnOnce(&mut Seen)) {
        f(&mut self.seen.lock_or_recover());
    }
}

/// The class of a certificate the verifier refused.
fn certificate_class(error: &rustls::Error) -> ErrorClass {
    match error {
        rustls::Error::InvalidCertificate(e) => match e {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                ErrorClass::TlsHostnameMismatch
            }
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => ErrorClass::TlsCertificateExpired,
            _ => ErrorClass::TlsUntrustedCertificate,
        },
        _ => ErrorClass::TlsUntrustedCertificate,
    }
}

/// A certificate's dates and names checked without its chain, as API
/// Gateway does with `insecureSkipVerification`.
fn dates_and_name(der: &[u8], host: &str, now: UnixTime) -> Result<(), rustls::Error> {
    use x509_parser::extensions::GeneralName;
    let bad = |e: CertificateError| rustls::Error::InvalidCertificate(e);
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|_| bad(CertificateError::BadEncoding))?;
    let now = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    if now > cert.validity().not_after.timestamp() {
        return Err(bad(CertificateError::Expired));
    }
    if now < cert.validity().not_before.timestamp() {
        return Err(bad(CertificateError::NotValidYet));
    }
    let mut names: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some((*d).to_owned()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if names.is_empty() {
        names.extend(
            cert.subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok().map(str::to_owned)),
        );
    }
    if names
        .iter()
        .any(|name| crate::inventory::name_matches(name, host))
    {
        Ok(())
    } else {
        Err(bad(CertificateError::NotValidForName))
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.record(|s| s.leaf = Some(end_entity.to_vec()));
        let verdict = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        // With insecureSkipVerification API Gateway accepts any chain (a
        // self-signed certificate, one marked as a CA), and still checks
        // the dates and the name.
        let verdict = match verdict {
            Err(e)
                if self.insecure_skip_verification
                    && certificate_class(&e) == ErrorClass::TlsUntrustedCertificate =>
            {
                dates_and_name(end_entity, &server_name.to_str(), now)
                    .map(|()| ServerCertVerified::assertion())
            }
            other => other,
        };
        if let Err(e) = &verdict {
            let class = certificate_class(e);
            let reason = match class {
                ErrorClass::TlsHostnameMismatch => format!(
                    "the certificate presented does not cover {} (Host name does not match the certificate subject)",
                    server_name.to_str()
                ),
                ErrorClass::TlsCertificateExpired => {
                    "the certificate presented is outside its validity period (PKIX path validation failed: validity check failed)".to_owned()
                }
                _ => format!(
                    "the certificate presented does not chain to a trusted CA ({e}; PKIX path building failed)"
                ),
            };
            self.record(|s| {
                s.failure = Some(class);
                s.reason = Some(reason);
            });
        }
        verdict
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner
            .verify_tls12_signature(message, cert, dss)
            .inspect_err(|e| self.signature_failed(e))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner
            .verify_tls13_signature(message, cert, dss)
            .inspect_err(|e| self.signature_failed(e))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

impl Recorder {
    /// A handshake signature that does not verify: the key is not the
    /// certificate's. Any other refusal (an algorithm or key size the
    /// client does not take) is said as it is.
    fn signature_failed(&self, error: &rustls::Error) {
        let bad = matches!(
            error,
            rustls::Error::InvalidCertificate(CertificateError::BadSignature)
        );
        self.record(|s| {
            if bad {
                s.failure = Some(ErrorClass::TlsKeyMismatch);
                s.reason = Some(format!(
                    "the handshake was not signed by the key of the certificate presented ({error}; Cannot verify ServerKeyExchange signature)"
                ));
            } else {
                s.failure = Some(ErrorClass::TlsUntrustedCertificate);
                s.reason = Some(format!(
                    "the handshake's signature cannot be checked ({error}): an algorithm or key size the client refuses"
                ));
            }
        });
    }
}
