//! `--web.config.file`: the exporter-toolkit web configuration that every
//! Prometheus exporter reads (TLS, client certificates, basic auth with bcrypt
//! hashes, response headers, a rate limit), turned into what the server needs.
//!
//! Parsing is strict as the toolkit's is: an unknown field is an error. Where
//! the TLS library (rustls) cannot do what the file asks (TLS 1.0, CBC cipher
//! suites, P-521), the error says so instead of serving something else.
//! Relative paths are relative to the file's directory, as in the toolkit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderName, HeaderValue};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;
use tokio_rustls::rustls;

/// Why a web configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct WebConfigError {
    pub path: String,
    pub message: String,
    /// The files it was read from, as far as it got: a fix to any of them
    /// (a certificate created later, say) is noticed.
    pub stamps: FileStamps,
}

/// What the server applies to every connection and request.
#[derive(Clone)]
pub struct WebSettings {
    /// TLS, when the file configures it.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Basic-auth users and their bcrypt hashes; empty means no authentication.
    pub users: BTreeMap<String, String>,
    /// Headers added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// At most `burst` requests, refilled one per `interval` (429 past it).
    pub rate_limit: Option<RateLimit>,
}

impl std::fmt::Debug for WebSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSettings")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("headers", &self.headers)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

impl WebSettings {
    /// Plain HTTP, no authentication: what serving without a file means.
    pub fn plain() -> WebSettings {
        WebSettings {
            tls: None,
            users: BTreeMap::new(),
            headers: Vec::new(),
            rate_limit: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub burst: u32,
    pub interval: Duration,
}

/// The files a loaded configuration came from, with their modification time
/// and size taken just before they were read: when any differs, the
/// configuration is read again (a change made while it was being read
/// included).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileStamps(Vec<(PathBuf, Stamp)>);

/// A file's modification time and size, if it exists.
type Stamp = Option<(SystemTime, u64)>;

impl FileStamps {
    /// True when the configuration file itself was empty when read.
    pub fn empty_config(&self) -> bool {
        matches!(self.0.first(), Some((_, Some((_, 0)))))
    }

    /// True when a file was changed, replaced, created or removed since.
    pub fn changed(&self) -> bool {
        self.0.iter().any(|(path, was)| stamp(path) != *was)
    }
}

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    tls_server_config: TlsFile,
    #[serde(default)]
    http_server_config: HttpFile,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
    #[serde(default)]
    rate_limit: Option<RateLimitFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_ca_file: Option<PathBuf>,
    client_auth_type: Option<String>,
    #[serde(default)]
    cipher_suites: Vec<String>,
    #[serde(default)]
    curve_preferences: Vec<String>,
    min_version: Option<String>,
    max_version: Option<String>,
    prefer_server_cipher_suites: Option<bool>,
    client_allowed_sans: Option<Vec<String>>,
}

impl TlsFile {
    fn enabled(&self) -> bool {
        self.cert.is_some()
            || self.key.is_some()
            || self.client_ca.is_some()
            || self.cert_file.is_some()
            || self.key_file.is_some()
            || self.client_ca_file.is_some()
            || self.client_auth_type.is_some()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    #[serde(default = "yes")]
    http2: bool,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

impl Default for HttpFile {
    fn default() -> Self {
        HttpFile {
            http2: true,
            headers: BTreeMap::new(),
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitFile {
    burst: u32,
    interval: String,
}

/// The headers the toolkit lets a file set, with their allowed values
/// (none listed: any value).
const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// Reads and validates a web configuration file, with the certificate and
/// key files it names; returns the settings and the stamps of every file
/// read, so a change to any of them is noticed.
pub fn load(path: &Path) -> Result<(WebSettings, FileStamps), WebConfigError> {
    let mut files = vec![(path.to_path_buf(), stamp(path))];
    let result = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|text| {
            let dir = path.parent().unwrap_or(Path::new("."));
            parse_into(&text, dir, &mut files)
        });
    let stamps = FileStamps(files);
    match result {
        Ok(settings) => Ok((settings, stamps)),
        Err(message) => Err(WebConfigError {
            path: path.display().to_string(),
            message,
            stamps,
        }),
    }
}

/// Parses configuration text whose relative paths are relative to `dir`,
/// adding each file it reads, stamped, to `files`.
fn parse_into(
    text: &str,
    dir: &Path,
    files: &mut Vec<(PathBuf, Stamp)>,
) -> Result<WebSettings, String> {
    let file: FileConfig = if text.trim().is_empty() {
        FileConfig::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())?
    };
    for (user, hash) in &file.basic_auth_users {
        hash.parse::<bcrypt::HashParts>().map_err(|e| {
            format!("basic_auth_users: {user:?}: not a bcrypt hash ({e}); make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`")
        })?;
    }
    let headers = headers(&file.http_server_config.headers)?;
    let rate_limit = match &file.rate_limit {
        None => None,
        Some(r) => {
            let interval = humantime::parse_duration(&r.interval)
                .map_err(|e| format!("rate_limit.interval: {:?}: {e}", r.interval))?;
            // As the toolkit: an interval of 0 turns the limiter off.
            (!interval.is_zero()).then_some(RateLimit {
                burst: r.burst,
                interval,
            })
        }
    };
    let tls = if file.tls_server_config.enabled() {
        Some(Arc::new(tls(
            &file.tls_server_config,
            file.http_server_config.http2,
            dir,
            files,
        )?))
    } else {
        None
    };
    Ok(WebSettings {
        tls,
        users: file.basic_auth_users,
        headers,
        rate_limit,
    })
}

fn headers(
    configured: &BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    configured
        .iter()
        .map(|(name, value)| {
            let Some((canonical, allowed)) = ALLOWED_HEADERS
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
            else {
                return Err(format!(
                    "http_server_config.headers: HTTP header {name:?} can not be configured"
                ));
            };
            if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
                return Err(format!(
                    "http_server_config.headers: invalid value for {canonical}: expected one of {allowed:?}, got {value:?}"
                ));
            }
            let value = HeaderValue::from_str(value).map_err(|_| {
                format!("http_server_config.headers: {canonical}: {value:?} is not a valid header value")
            })?;
            let name = HeaderName::from_bytes(canonical.as_bytes())
                .map_err(|_| format!("http_server_config.headers: {canonical}: not a header name"))?;
            Ok((name, value))
        })
        .collect()
}

/// How the server asks for client certificates (the toolkit's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    None,
    /// Asked for, not required, not verified.
    Request,
    /// Required, not verified.
    RequireAny,
    /// Verified against the client CAs when given.
    VerifyIfGiven,
    /// Required and verified against the client CAs.
    RequireAndVerify,
}

impl ClientAuth {
    fn parse(name: Option<&str>) -> Result<ClientAuth, String> {
        Ok(match name.unwrap_or("") {
            "" | "NoClientCert" => ClientAuth::None,
            "RequestClientCert" => ClientAuth::Request,
            "RequireAnyClientCert" | "RequireClientCert" => ClientAuth::RequireAny,
            "VerifyClientCertIfGiven" => ClientAuth::VerifyIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerify,
            other => {
                return Err(format!(
                    "tls_server_config.client_auth_type: invalid ClientAuth {other:?} (one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert)"
                ));
            }
        })
    }
}

/// A PEM from its file (stamped before it is read) or, without one, from
/// the inline field: the file wins, as in the toolkit.
fn read_pem(
    inline: &Option<String>,
    file: &Option<PathBuf>,
    field: &str,
    dir: &Path,
    files: &mut Vec<(PathBuf, Stamp)>,
) -> Result<Option<Vec<u8>>, String> {
    match (file, inline) {
        (Some(file), _) => {
            let path = dir.join(file);
            files.push((path.clone(), stamp(&path)));
            let bytes = std::fs::read(&path).map_err(|e| {
                format!(
                    "tls_server_config.{field}_file: cannot read {}: {e}",
                    path.display()
                )
            })?;
            Ok(Some(bytes))
        }
        (None, Some(text)) => Ok(Some(text.as_bytes().to_vec())),
        (None, None) => Ok(None),
    }
}

fn tls(
    c: &TlsFile,
    http2: bool,
    dir: &Path,
    files: &mut Vec<(PathBuf, Stamp)>,
) -> Result<rustls::ServerConfig, String> {
    let cert_pem = read_pem(&c.cert, &c.cert_file, "cert", dir, files)?
        .ok_or("tls_server_config: missing one of cert or cert_file")?;
    let key_pem = read_pem(&c.key, &c.key_file, "key", dir, files)?
        .ok_or("tls_server_config: missing one of key or key_file")?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("tls_server_config: certificate: {e}"))?;
    if certs.is_empty() {
        return Err("tls_server_config: the certificate holds no PEM CERTIFICATE block".into());
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("tls_server_config: key: {e}"))?;

    let client_auth = ClientAuth::parse(c.client_auth_type.as_deref())?;
    let client_ca = read_pem(&c.client_ca, &c.client_ca_file, "client_ca", dir, files)?;
    if client_ca.is_some() && client_auth == ClientAuth::None {
        return Err("tls_server_config: client CA's have been configured without a Client Auth Policy (client_auth_type)".into());
    }

    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    if !c.cipher_suites.is_empty() {
        let wanted = c
            .cipher_suites
            .iter()
            .map(|name| cipher_suite(name))
            .collect::<Result<Vec<_>, _>>()?;
        // As in Go: the list orders TLS 1.2 suites; TLS 1.3's are always on.
        let mut suites: Vec<_> = provider
            .cipher_suites
            .iter()
            .filter(|s| s.tls13().is_some())
            .copied()
            .collect();
        for want in wanted {
            if let Some(s) = provider.cipher_suites.iter().find(|s| s.suite() == want)
                && !suites.iter().any(|have| have.suite() == want)
            {
                suites.push(*s);
            }
        }
        provider.cipher_suites = suites;
    }
    if !c.curve_preferences.is_empty() {
        let mut groups = Vec::new();
        for name in &c.curve_preferences {
            let group = match name.as_str() {
                "X25519" => rustls::NamedGroup::X25519,
                "CurveP256" => rustls::NamedGroup::secp256r1,
                "CurveP384" => rustls::NamedGroup::secp384r1,
                "CurveP521" => {
                    return Err("tls_server_config.curve_preferences: CurveP521 is not offered by this exporter's TLS library (rustls); use X25519, CurveP256 or CurveP384".into());
                }
                other => {
                    return Err(format!(
                        "tls_server_config.curve_preferences: unknown curve {other:?}"
                    ));
                }
            };
            if let Some(g) = provider.kx_groups.iter().find(|g| g.name() == group) {
                groups.push(*g);
            }
        }
        provider.kx_groups = groups;
    }
    let versions = versions(c.min_version.as_deref(), c.max_version.as_deref())?;
    let provider = Arc::new(provider);

    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("tls_server_config: {e}"))?;
    let builder = match client_auth {
        ClientAuth::None => {
            if c.client_allowed_sans.is_some() {
                return Err(sans_need_certificates());
            }
            builder.with_no_client_auth()
        }
        auth => {
            let verifier = client_verifier(auth, client_ca.as_deref(), c, &provider)?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls_server_config: certificate and key: {e}"))?;
    config.ignore_client_order = c.prefer_server_cipher_suites.unwrap_or(true);
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

fn sans_need_certificates() -> String {
    "tls_server_config.client_allowed_sans requires client_auth_type to be one of RequireAnyClientCert or RequireAndVerifyClientCert".into()
}

fn versions(
    min: Option<&str>,
    max: Option<&str>,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    fn number(field: &str, name: &str) -> Result<u8, String> {
        match name {
            "TLS10" => Ok(10),
            "TLS11" => Ok(11),
            "TLS12" => Ok(12),
            "TLS13" => Ok(13),
            other => Err(format!(
                "tls_server_config.{field}: unknown TLS version {other:?} (TLS10, TLS11, TLS12 or TLS13)"
            )),
        }
    }
    let min = min
        .map(|m| number("min_version", m))
        .transpose()?
        .unwrap_or(12);
    let max = max
        .map(|m| number("max_version", m))
        .transpose()?
        .unwrap_or(13);
    if max < 12 {
        return Err("tls_server_config.max_version: TLS 1.0 and 1.1 are not offered by this exporter's TLS library (rustls); the lowest is TLS12".into());
    }
    if min > max {
        return Err("tls_server_config: min_version is above max_version".into());
    }
    // A minimum of TLS10 or TLS11 allows what rustls has: TLS 1.2 and up.
    let mut versions = Vec::new();
    if min <= 12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= 13 {
        versions.push(&rustls::version::TLS13);
    }
    Ok(versions)
}

/// A cipher-suite name as Go spells it (TLS 1.2 IANA names; TLS 1.3 names
/// are accepted and change nothing, as in Go).
fn cipher_suite(name: &str) -> Result<rustls::CipherSuite, String> {
    use rustls::CipherSuite as S;
    const OFFERED: &[(&str, S)] = &[
        (
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            S::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
            S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
            S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ),
        (
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            S::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ),
        (
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
            S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        (
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
            S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ),
        ("TLS_AES_128_GCM_SHA256", S::TLS13_AES_128_GCM_SHA256),
        ("TLS_AES_256_GCM_SHA384", S::TLS13_AES_256_GCM_SHA384),
        (
            "TLS_CHACHA20_POLY1305_SHA256",
            S::TLS13_CHACHA20_POLY1305_SHA256,
        ),
    ];
    if let Some((_, suite)) = OFFERED.iter().find(|(n, _)| *n == name) {
        return Ok(*suite);
    }
    // Go knows these; rustls offers no CBC, RC4, 3DES or RSA key exchange.
    let go_only = name.starts_with("TLS_RSA_")
        || name.starts_with("TLS_ECDHE_") && (name.contains("_CBC_") || name.contains("RC4"));
    if go_only {
        return Err(format!(
            "tls_server_config.cipher_suites: {name} is not offered by this exporter's TLS library (rustls), which has only the ECDHE AEAD suites"
        ));
    }
    Err(format!(
        "tls_server_config.cipher_suites: unknown cipher {name:?}"
    ))
}

fn client_verifier(
    auth: ClientAuth,
    client_ca: Option<&[u8]>,
    c: &TlsFile,
    provider: &Arc<rustls::crypto::CryptoProvider>,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, String> {
    let required = matches!(auth, ClientAuth::RequireAny | ClientAuth::RequireAndVerify);
    if c.client_allowed_sans.is_some() && !required {
        return Err(sans_need_certificates());
    }
    let inner: Arc<dyn rustls::server::danger::ClientCertVerifier> = match auth {
        ClientAuth::None => unreachable!("no verifier without client auth"),
        ClientAuth::Request | ClientAuth::RequireAny => {
            Arc::new(super::tls::AnyClientCertificate {
                mandatory: required,
                provider: provider.clone(),
            })
        }
        ClientAuth::VerifyIfGiven | ClientAuth::RequireAndVerify => {
            let pem = client_ca.ok_or_else(|| {
                format!("tls_server_config: client_auth_type {auth:?} needs client_ca_file (or client_ca) to verify against")
            })?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| format!("tls_server_config: client CA: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("tls_server_config: client CA: {e}"))?;
            }
            if roots.is_empty() {
                return Err(
                    "tls_server_config: the client CA holds no PEM CERTIFICATE block".into(),
                );
            }
            let builder = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            );
            let builder = if required {
                builder
            } else {
                builder.allow_unauthenticated()
            };
            builder
                .build()
                .map_err(|e| format!("tls_server_config: client CA: {e}"))?
        }
    };
    Ok(match &c.client_allowed_sans {
        Some(sans) => Arc::new(super::tls::AllowedSans {
            inner,
            allowed: sans.clone(),
        }),
        None => inner,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<WebSettings, String> {
        parse_into(text, Path::new("."), &mut Vec::new())
    }

    #[test]
    fn an_empty_file_is_plain_http_without_auth() {
        let s = parse_text("").unwrap();
        assert!(s.tls.is_none() && s.users.is_empty() && s.headers.is_empty());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = parse_text("basic_auth_user: {}\n").unwrap_err();
        assert!(e.contains("basic_auth_user"), "{e}");
        let e = parse_text("tls_server_config:\n  cert_fle: x\n").unwrap_err();
        assert!(e.contains("cert_fle"), "{e}");
    }

    #[test]
    fn users_must_have_bcrypt_hashes() {
        let e = parse_text("basic_auth_users:\n  alice: secret\n").unwrap_err();
        assert!(e.contains("alice") && e.contains("bcrypt"), "{e}");
        let hash = bcrypt::hash("pw", 4).unwrap();
        let s = parse_text(&format!("basic_auth_users:\n  alice: '{hash}'\n")).unwrap();
        assert_eq!(s.users["alice"], hash);
    }

    #[test]
    fn only_the_toolkit_headers_with_their_values() {
        let s = parse_text(
            "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Content-Security-Policy: \"default-src 'self'\"\n",
        )
        .unwrap();
        assert_eq!(s.headers.len(), 2);
        let e = parse_text("http_server_config:\n  headers:\n    X-Frame-Options: allow\n")
            .unwrap_err();
        assert!(e.contains("X-Frame-Options"), "{e}");
        let e = parse_text("http_server_config:\n  headers:\n    Set-Cookie: a=b\n").unwrap_err();
        assert!(e.contains("can not be configured"), "{e}");
    }

    #[test]
    fn tls_needs_both_certificate_and_key() {
        let e = parse_text("tls_server_config:\n  cert_file: /nonexistent/cert.pem\n").unwrap_err();
        assert!(e.contains("cert_file") && e.contains("cannot read"), "{e}");
        let e = parse_text("tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n")
            .unwrap_err();
        assert!(e.contains("missing one of cert or cert_file"), "{e}");
    }

    #[test]
    fn versions_follow_what_rustls_offers() {
        assert_eq!(versions(None, None).unwrap().len(), 2);
        assert_eq!(versions(Some("TLS13"), None).unwrap().len(), 1);
        assert_eq!(versions(Some("TLS10"), Some("TLS12")).unwrap().len(), 1);
        assert!(
            versions(None, Some("TLS11"))
                .unwrap_err()
                .contains("rustls")
        );
        assert!(versions(Some("TLS13"), Some("TLS12")).is_err());
        assert!(
            versions(Some("SSL3"), None)
                .unwrap_err()
                .contains("min_version")
        );
    }

    #[test]
    fn cipher_suites_by_go_names() {
        assert!(cipher_suite("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").is_ok());
        assert!(
            cipher_suite("TLS_RSA_WITH_AES_128_CBC_SHA")
                .unwrap_err()
                .contains("rustls")
        );
        assert!(
            cipher_suite("TLS_NOPE")
                .unwrap_err()
                .contains("unknown cipher")
        );
    }

    #[test]
    fn rate_limit_interval_is_a_duration() {
        let s = parse_text("rate_limit:\n  burst: 5\n  interval: 1s\n").unwrap();
        assert_eq!(
            s.rate_limit,
            Some(RateLimit {
                burst: 5,
                interval: Duration::from_secs(1)
            })
        );
        assert!(parse_text("rate_limit:\n  burst: 5\n  interval: soon\n").is_err());
        assert_eq!(
            parse_text("rate_limit:\n  burst: 5\n  interval: 0s\n")
                .unwrap()
                .rate_limit,
            None
        );
    }

    #[test]
    fn the_example_file_is_valid_beside_its_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let pem = super::super::tls::test_certificate(dir.path(), "server");
        std::fs::write(dir.path().join("ca.pem"), pem).unwrap();
        let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/web-config.yml");
        let path = dir.path().join("web-config.yml");
        std::fs::copy(example, &path).unwrap();
        let (settings, stamps) = load(&path).unwrap();
        assert!(settings.tls.is_some());
        assert_eq!(settings.users.len(), 1);
        assert_eq!(settings.headers.len(), 2);
        assert_eq!(stamps.0.len(), 4, "the file, certificate, key and CA");
    }

    #[test]
    fn file_stamps_notice_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, "").unwrap();
        let (_, stamps) = load(&path).unwrap();
        assert!(!stamps.changed());
        std::fs::write(&path, "basic_auth_users: {}\n").unwrap();
        assert!(stamps.changed());
    }
}
