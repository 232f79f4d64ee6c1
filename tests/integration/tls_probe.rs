//! The TLS probe against real TLS servers on loopback, each with
//! certificates made here: a good one, a wrong host name, an expired
//! certificate, one signed by a CA nobody trusts, a handshake signed by
//! another key than the certificate's, and a server that speaks TLS and
//! then not HTTP. Each is named with the class API Gateway's execution log
//! would show. Then the probe as a collector in the exporter, against the
//! emulator's world with one load balancer's address pointing at one of
//! these servers: its metrics and its runbook check.

use std::sync::Arc;
use std::time::Duration;

use awsconn::classify::ErrorClass;
use awsconn::inventory::{ProbeOutcome, ProbeTarget};
use awsconn::probe::Prober;
use rcgen::{CertificateParams, DnType, Issuer, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

use crate::harness::{Emulator, config_file, once, sample, test_ca as ca};

/// The host name every probe sends and checks.
const HOST: &str = "orders.internal.example.com";

/// A self-signed certificate for `names` marked as a CA, as
/// `openssl req -x509` makes them by default, and its key.
fn self_signed_ca_leaf(names: &[&str]) -> (CertificateDer<'static>, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    (cert.der().clone(), key)
}

/// A leaf for `names`, valid `valid` (years from, to), and its key.
fn leaf(
    names: &[&str],
    issuer: &Issuer<'_, KeyPair>,
    valid: Option<(i32, i32)>,
) -> (CertificateDer<'static>, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    if let Some((from, to)) = valid {
        params.not_before = rcgen::date_time_ymd(from, 1, 1);
        params.not_after = rcgen::date_time_ymd(to, 1, 1);
    }
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.der().clone(), key)
}

/// Serves `cert` with the signing key `key` (which need not be the
/// certificate's), answering each connection's request with `answer`.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A TLS server on loopback; returns its address.
async fn serve(cert: CertificateDer<'static>, key: &KeyPair, answer: &'static [u8]) -> String {
    serve_versions(cert, key, answer, rustls::DEFAULT_VERSIONS).await
}

/// A TLS server on loopback speaking only `versions`; returns its address.
async fn serve_versions(
    cert: CertificateDer<'static>,
    key: &KeyPair,
    answer: &'static [u8],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> String {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let signing = provider.key_provider.load_private_key(der).unwrap();
    let certified = Arc::new(CertifiedKey::new(vec![cert], signing));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(certified)));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let _ = tls.write_all(answer).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    address
}

const HTTP: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
/// A backend that closes the session without a word (an NLB whose target
/// refused the connection).
const NOTHING: &[u8] = b"";
/// What a target that expects TLS answers a plain request with: an alert.
const TLS_ALERT: &[u8] = b"\x15\x03\x03\x00\x02\x02\x32";

#[test]
fn each_tls_failure_is_named_as_api_gateway_logs_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (ca_cert, trusted) = ca("awsconn probe test CA");
        let (_, stranger) = ca("nobody trusts this CA");
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca_cert.pem()).unwrap();
        let prober = Prober::new(Some(&ca_file), Duration::from_secs(5)).unwrap();

        let (good, good_key) = leaf(&[HOST], &trusted, None);
        let (wrong, wrong_key) = leaf(&["other.example.com"], &trusted, None);
        let (expired, expired_key) = leaf(&[HOST], &trusted, Some((2020, 2021)));
        let (untrusted, untrusted_key) = leaf(&[HOST], &stranger, None);
        let other_key = KeyPair::generate().unwrap();
        let (own, own_key) = self_signed_ca_leaf(&[HOST]);

        let cases: Vec<(&str, String, bool, Option<ErrorClass>)> = vec![
            (
                "good",
                serve(good.clone(), &good_key, HTTP).await,
                false,
                None,
            ),
            (
                "wrong host name",
                serve(wrong, &wrong_key, HTTP).await,
                false,
                Some(ErrorClass::TlsHostnameMismatch),
            ),
            (
                "expired",
                serve(expired, &expired_key, HTTP).await,
                false,
                Some(ErrorClass::TlsCertificateExpired),
            ),
            (
                "unknown CA",
                serve(untrusted.clone(), &untrusted_key, HTTP).await,
                false,
                Some(ErrorClass::TlsUntrustedCertificate),
            ),
            (
                "unknown CA with insecureSkipVerification",
                serve(untrusted, &untrusted_key, HTTP).await,
                true,
                None,
            ),
            (
                "self-signed CA certificate with insecureSkipVerification",
                serve(own.clone(), &own_key, HTTP).await,
                true,
                None,
            ),
            (
                "self-signed CA certificate",
                serve(own, &own_key, HTTP).await,
                false,
                Some(ErrorClass::TlsUntrustedCertificate),
            ),
            (
                "closed after the handshake",
                serve(good.clone(), &good_key, NOTHING).await,
                false,
                Some(ErrorClass::TargetReset),
            ),
            (
                "key not the certificate's",
                serve(good.clone(), &other_key, HTTP).await,
                false,
                Some(ErrorClass::TlsKeyMismatch),
            ),
            (
                // API Gateway's "Cannot verify ECDH ServerKeyExchange signature".
                "key not the certificate's, TLS 1.2",
                serve_versions(good.clone(), &other_key, HTTP, &[&rustls::version::TLS12]).await,
                false,
                Some(ErrorClass::TlsKeyMismatch),
            ),
            (
                "TLS, then not HTTP",
                serve(good, &good_key, TLS_ALERT).await,
                false,
                Some(ErrorClass::InvalidHttpResponse),
            ),
        ];
        for (name, address, insecure, want) in cases {
            let outcome: ProbeOutcome = prober
                .probe(&ProbeTarget {
                    address: address.clone(),
                    host: HOST.into(),
                    insecure_skip_verification: insecure,
                })
                .await;
            assert_eq!(
                outcome.failure.as_ref().map(|f| f.class),
                want,
                "{name}: {outcome:?}"
            );
            assert_eq!(outcome.address, address);
            // The certificate presented is read whatever failed after it.
            let certificate = outcome.certificate.as_ref().expect(name);
            assert!(certificate.not_after_s > 0, "{name}");
            assert!(!certificate.issuer.is_empty(), "{name}");
            if let Some(failure) = &outcome.failure {
                assert!(!failure.detail.is_empty(), "{name}");
            }
        }

        // Nothing listening, and a server that never answers the handshake.
        let closed = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().to_string()
        };
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let silent_address = silent.local_addr().unwrap().to_string();
        let quick = Prober::new(None, Duration::from_millis(500)).unwrap();
        for (address, want) in [
            (closed, ErrorClass::Other),
            (silent_address, ErrorClass::IntegrationTimeout),
        ] {
            let outcome = quick
                .probe(&ProbeTarget {
                    address,
                    host: HOST.into(),
                    insecure_skip_verification: false,
                })
                .await;
            assert_eq!(outcome.failure.map(|f| f.class), Some(want));
        }
        drop(silent);
    });
}

/// The probe as a collector: the emulator's paths world, with the orders
/// NLB's address pointing at a server whose certificate names another host;
/// and TLS that NLBs pass through to their targets (TCP listeners, HTTP API
/// integrations with a tlsConfig), one NLB per way a target's certificate
/// fails, each mapped to a real server: each gives exactly its class, and
/// REST integrations naming the first NLB or its listener give one path.
#[test]
fn the_probe_collector_feeds_metrics_and_the_runbook_check() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (ca_cert, trusted) = ca("awsconn probe test CA");
    let (_, stranger) = ca("nobody trusts this CA");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca_cert.pem()).unwrap();
    let (wrong, wrong_key) = leaf(&["other.example.com"], &trusted, None);
    let address = runtime.block_on(serve(wrong.clone(), &wrong_key, HTTP));
    let (good, good_key) = leaf(&[HOST], &trusted, None);
    let (expired, expired_key) = leaf(&[HOST], &trusted, Some((2020, 2021)));
    let (untrusted, untrusted_key) = leaf(&[HOST], &stranger, None);
    let other_key = KeyPair::generate().unwrap();
    let passed_through: Vec<(&str, String, Option<ErrorClass>)> = runtime.block_on(async {
        vec![
            ("good", serve(good.clone(), &good_key, HTTP).await, None),
            (
                "expired",
                serve(expired, &expired_key, HTTP).await,
                Some(ErrorClass::TlsCertificateExpired),
            ),
            (
                "wrong-host",
                serve(wrong, &wrong_key, HTTP).await,
                Some(ErrorClass::TlsHostnameMismatch),
            ),
            (
                "untrusted",
                serve(untrusted, &untrusted_key, HTTP).await,
                Some(ErrorClass::TlsUntrustedCertificate),
            ),
            (
                "key-mismatch",
                serve(good, &other_key, HTTP).await,
                Some(ErrorClass::TlsKeyMismatch),
            ),
        ]
    });

    let emulator = Emulator::start("{}");
    let seeded = emulator.seed_paths(&["us-east-1"]);
    let us = &seeded["us-east-1"];
    let nlb = us["nlb_arn"].as_str().unwrap();
    let link = us["vpc_links"]["orders-rest-link"].as_str().unwrap();
    let mut seed_args = vec![
        "--passthrough".to_owned(),
        emulator.url.clone(),
        "us-east-1".into(),
        HOST.into(),
    ];
    seed_args.extend(passed_through.iter().map(|(name, _, _)| (*name).to_owned()));
    let pass = crate::harness::seed_py(&seed_args);
    let mut addresses = vec![format!("\"{nlb}\": \"{address}\"")];
    for (name, address, _) in &passed_through {
        addresses.push(format!(
            "\"{}\": \"{address}\"",
            pass["nlbs"][name].as_str().unwrap()
        ));
    }
    let config = config_file(&format!(
        "regions: [us-east-1]\ncollectors:\n  interconnect: {{enabled: false}}\n  tls_probe:\n    enabled: true\n    probe_timeout: 2s\n    ca_file: {}\n    addresses: {{{}}}\n",
        ca_file.display(),
        addresses.join(", ")
    ));
    // The server runs on the runtime while the exporter polls.
    let (_ok, text, stderr) = runtime.block_on(async {
        tokio::task::spawn_blocking(move || once(&emulator.url, config.path()))
            .await
            .unwrap()
    });
    let l = format!(
        "account=\"123456789012\",region=\"us-east-1\",vpc_link_id=\"{link}\",load_balancer=\"{nlb}\",target=\"{HOST}\",port=\"443\""
    );
    assert_eq!(
        sample(&text, &format!("awsconn_tls_probe_success{{{l}}}")),
        Some(0.0),
        "{stderr}\n{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("awsconn_tls_probe_failure{{{l},class=\"tls_hostname_mismatch\"}}")
        ),
        Some(1.0),
        "{text}"
    );
    let expiry = text
        .lines()
        .find(|line| {
            line.starts_with(&format!(
                "awsconn_tls_certificate_expiry_timestamp_seconds{{{l}"
            ))
        })
        .unwrap_or_else(|| panic!("no certificate expiry:\n{text}"));
    assert!(
        expiry.contains("subject=\"CN=other.example.com\""),
        "{expiry}"
    );
    assert!(
        expiry.contains("issuer=\"CN=awsconn probe test CA\""),
        "{expiry}"
    );
    let check = format!(
        "awsconn_vpc_link_check{{account=\"123456789012\",region=\"us-east-1\",vpc_link_id=\"{link}\",check=\"tls_probe\",host=\"{HOST}\",load_balancer=\"{nlb}\",port=\"443\"}}"
    );
    assert_eq!(sample(&text, &check), Some(0.0), "{check}\n{text}");
    assert_eq!(
        sample(
            &text,
            "awsconn_collector_success{collector=\"tls_probe\",account=\"123456789012\",region=\"us-east-1\"}"
        ),
        Some(1.0),
        "{text}"
    );

    // TLS through TCP listeners: probed at the targets, each its class.
    let pass_link = pass["link"].as_str().unwrap();
    let http_api = pass["http_api"].as_str().unwrap();
    for (name, _, want) in &passed_through {
        let lb = pass["nlbs"][name].as_str().unwrap();
        let l = format!(
            "account=\"123456789012\",region=\"us-east-1\",vpc_link_id=\"{pass_link}\",load_balancer=\"{lb}\",target=\"{HOST}\",port=\"443\""
        );
        assert_eq!(
            sample(&text, &format!("awsconn_tls_probe_success{{{l}}}")),
            Some(if want.is_some() { 0.0 } else { 1.0 }),
            "{name}\n{text}"
        );
        let failures: Vec<&str> = text
            .lines()
            .filter(|line| line.starts_with(&format!("awsconn_tls_probe_failure{{{l},")))
            .collect();
        match want {
            Some(class) => assert_eq!(
                failures,
                [format!(
                    "awsconn_tls_probe_failure{{{l},class=\"{class}\"}} 1"
                )],
                "{name}"
            ),
            None => assert!(failures.is_empty(), "{name}: {failures:?}"),
        }
        let check = |name: &str| {
            format!(
                "awsconn_vpc_link_check{{account=\"123456789012\",region=\"us-east-1\",vpc_link_id=\"{pass_link}\",check=\"{name}\",host=\"{HOST}\",load_balancer=\"{lb}\",port=\"443\"}}"
            )
        };
        assert_eq!(
            sample(&text, &check("tls_probe")),
            Some(if want.is_some() { 0.0 } else { 1.0 }),
            "{name}\n{text}"
        );
        // ELB serves no certificate here: not a failure, and said so in diagnose.
        assert_eq!(
            sample(&text, &check("certificate_matches_host")),
            Some(1.0),
            "{name}\n{text}"
        );
        // What API Gateway speaks: HTTPS, through a TCP listener.
        let listener = pass["listeners"][name].as_str().unwrap();
        let info = format!(
            "awsconn_integration_info{{account=\"123456789012\",region=\"us-east-1\",api_id=\"{http_api}\",api_type=\"http\",stage=\"$default\",vpc_link_id=\"{pass_link}\",target=\"{listener}\",port=\"443\",protocol=\"https\"}}"
        );
        assert_eq!(sample(&text, &info), Some(1.0), "{info}\n{text}");
    }
    // A REST integration names the first NLB, another its listener: both
    // the NLB's port 443, spoken in HTTPS, and one TLS call (probed once).
    let rest_api = pass["rest_api"].as_str().unwrap();
    for target in [&pass["nlbs"]["good"], &pass["listeners"]["good"]] {
        let info = format!(
            "awsconn_integration_info{{account=\"123456789012\",region=\"us-east-1\",api_id=\"{rest_api}\",api_type=\"rest\",stage=\"prod\",vpc_link_id=\"{pass_link}\",target=\"{}\",port=\"443\",protocol=\"https\"}}",
            target.as_str().unwrap()
        );
        assert_eq!(sample(&text, &info), Some(1.0), "{info}\n{text}");
    }
}
