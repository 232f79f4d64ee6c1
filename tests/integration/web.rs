//! The web port as its users and its attackers meet it: TLS with client
//! certificates and basic auth from a web configuration file (re-read when
//! it changes), checked with curl and scraped by a real Prometheus; and
//! 1 000 slowloris connections against an exporter with 256 file
//! descriptors, which must still answer a scrape and end on SIGTERM within
//! its deadline.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{
    EXPORTER, Emulator, KillOnDrop, config_file, exporter, free_port, http_get, query, sample,
    wait_for, with_exporter_env,
};

/// A CA, a server certificate for localhost signed by it, a client
/// certificate it signed, and a client certificate from another CA.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Pki {
        use crate::harness::test_ca as ca;
        use rcgen::{CertificateParams, Issuer, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        let leaf = |names: &[&str], issuer: &Issuer<'_, KeyPair>, file: &str| {
            let key = KeyPair::generate().unwrap();
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, issuer)
                .unwrap();
            write(&format!("{file}.pem"), cert.pem());
            write(&format!("{file}.key"), key.serialize_pem());
        };
        let (ca_cert, ca_issuer) = ca("awsconn test CA");
        write("ca.pem", ca_cert.pem());
        let (_, other) = ca("somebody else's CA");
        leaf(&["localhost", "127.0.0.1"], &ca_issuer, "server");
        leaf(&["scraper.example"], &ca_issuer, "client");
        leaf(&["scraper.example"], &other, "stranger");
        Pki { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A curl answer: exit success, status, HTTP version, headers (lower-case), body.
struct Curl {
    ok: bool,
    status: u16,
    version: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Curl {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// curl, the client most people test an exporter with, over loopback.
fn curl(args: &[&str]) -> Curl {
    let out = Command::new("curl")
        .args([
            "-s",
            "-i",
            "--max-time",
            "10",
            "-w",
            "\n%{http_code} %{http_version}",
        ])
        .args(args)
        .output()
        .expect("curl (scripts/setup installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (response, trailer) = text.rsplit_once('\n').unwrap_or(("", &text));
    let mut trailer = trailer.split(' ');
    let status = trailer.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let version = trailer.next().unwrap_or("").to_string();
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Curl {
        ok: out.status.success(),
        status,
        version,
        headers,
        body: body.to_string(),
    }
}

/// The exporter serving with a web configuration file, killed on drop.
struct Exporter {
    _child: KillOnDrop,
    port: u16,
}

impl Exporter {
    fn start(
        emulator: &Emulator,
        config: &Path,
        web: &Path,
        ready: impl Fn(u16) -> bool,
    ) -> Exporter {
        let port = free_port();
        let child = exporter(&emulator.url)
            .arg("--config")
            .arg(config)
            .arg(format!("--web.config.file={}", web.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("start the exporter");
        let exporter = Exporter {
            _child: KillOnDrop(child),
            port,
        };
        wait_for(
            "the exporter to answer over TLS",
            Duration::from_secs(30),
            || ready(port).then_some(()),
        );
        exporter
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }
}

/// A Prometheus on loopback with one scrape config; killed on drop.
struct Prometheus {
    _child: KillOnDrop,
    url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(scrape: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\nscrape_configs:\n{scrape}"
            ),
        )
        .unwrap();
        let address = format!("127.0.0.1:{}", free_port());
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (scripts/setup installs it)");
        Prometheus {
            _child: KillOnDrop(child),
            url: format!("http://{address}"),
            _dir: dir,
        }
    }

    /// The value of a query that returns one series, once it does.
    fn value(&self, expr: &str) -> Option<f64> {
        let result = crate::harness::try_http_get(&self.url, "/-/ready", &[]).ok()?;
        if result.0 != 200 {
            return None;
        }
        let series = query(&self.url, expr);
        series.first()?["value"][1].as_str()?.parse().ok()
    }
}

const PASSWORD: &str = "correct horse";

fn web_config(client_auth: &str, password: &str) -> String {
    let hash = bcrypt::hash(password, 4).unwrap();
    format!(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_ca_file: ca.pem\n  client_auth_type: {client_auth}\nbasic_auth_users:\n  prometheus: '{hash}'\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n",
    )
}

/// Rewrites the web configuration so that the server notices: a new size
/// or modification time (it looks at most once a second).
fn rewrite(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn tls_client_certificates_basic_auth_reloads_and_a_real_prometheus() {
    let emulator = Emulator::start("{}");
    let pki = Pki::new();
    let web = pki.path("web.yml");
    std::fs::write(&web, web_config("RequireAndVerifyClientCert", PASSWORD)).unwrap();
    let config =
        config_file("regions: [us-east-1]\ncollectors:\n  interconnect: {enabled: false}\n");
    let (ca, cert, key) = (
        pki.path("ca.pem").display().to_string(),
        pki.path("client.pem").display().to_string(),
        pki.path("client.key").display().to_string(),
    );
    let with_client = |extra: &[&str], url: &str| {
        let mut args = vec!["--cacert", &ca, "--cert", &cert, "--key", &key];
        args.extend_from_slice(extra);
        args.push(url);
        curl(&args)
    };
    let exporter = Exporter::start(&emulator, config.path(), &web, |port| {
        let url = format!("https://localhost:{port}/healthz");
        with_client(&[], &url).status == 401
    });
    let metrics = exporter.url("/metrics");
    let userpass = format!("prometheus:{PASSWORD}");

    // No credentials, wrong ones, right ones.
    let none = with_client(&[], &metrics);
    assert_eq!(none.status, 401);
    assert!(
        none.header("www-authenticate")
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(
        none.header("x-frame-options"),
        Some("deny"),
        "configured headers on a 401 too"
    );
    assert_eq!(
        with_client(&["-u", "prometheus:wrong"], &metrics).status,
        401
    );
    assert_eq!(with_client(&["-u", "nobody:wrong"], &metrics).status, 401);
    let right = with_client(&["-u", &userpass], &metrics);
    assert_eq!(right.status, 200);
    assert_eq!(right.header("x-content-type-options"), Some("nosniff"));
    assert!(right.body.contains("awsconn_build_info"), "{}", right.body);
    // HTTP/2 when the client offers it (ALPN), as the toolkit's default.
    let h2 = with_client(&["--http2", "-u", &userpass], &exporter.url("/healthz"));
    assert_eq!((h2.status, h2.version.as_str()), (200, "2"));

    // Without a client certificate, with one from another CA, in plain HTTP: no answer.
    let no_cert = curl(&["--cacert", &ca, "-u", &userpass, &metrics]);
    assert!(
        !no_cert.ok && no_cert.status == 0,
        "answered without a client certificate"
    );
    // A client certificate from somebody else's CA.
    let (stranger_cert, stranger_key) = (
        pki.path("stranger.pem").display().to_string(),
        pki.path("stranger.key").display().to_string(),
    );
    let as_stranger = || {
        curl(&[
            "--cacert",
            &ca,
            "--cert",
            &stranger_cert,
            "--key",
            &stranger_key,
            "-u",
            &userpass,
            &metrics,
        ])
    };
    let stranger = as_stranger();
    assert!(
        !stranger.ok && stranger.status == 0,
        "answered a certificate of another CA"
    );
    let plain = curl(&[
        "-u",
        &userpass,
        &format!("http://127.0.0.1:{}/metrics", exporter.port),
    ]);
    assert!(
        plain.status == 0 || plain.status == 400,
        "plain HTTP answered on the TLS port"
    );

    // A real Prometheus scrapes through TLS, its client certificate and basic auth.
    let password_file = pki.path("password");
    std::fs::write(&password_file, PASSWORD).unwrap();
    let prometheus = Prometheus::start(&format!(
        "  - job_name: awsconn\n    scheme: https\n    tls_config: {{ca_file: {ca}, cert_file: {cert}, key_file: {key}, server_name: localhost}}\n    basic_auth: {{username: prometheus, password_file: {}}}\n    static_configs: [{{targets: ['localhost:{}']}}]\n",
        password_file.display(),
        exporter.port
    ));
    wait_for(
        "Prometheus to scrape the exporter",
        Duration::from_secs(60),
        || {
            prometheus
                .value("up{job=\"awsconn\"} == 1 and on() awsconn_build_info")
                .map(|_| ())
        },
    );
    let refused = prometheus
        .value("awsconn_web_requests_refused_total{reason=\"unauthorized\"}")
        .unwrap();
    assert!(refused >= 3.0, "the 401s above are counted: {refused}");
    let handshakes = prometheus
        .value("awsconn_web_connections_closed_total{reason=\"tls_handshake_failed\"}")
        .unwrap();
    assert!(
        handshakes >= 2.0,
        "the refused certificates are counted: {handshakes}"
    );

    // A new password in the file: taken without a restart, the old one refused.
    rewrite(
        &web,
        &web_config("RequireAndVerifyClientCert", "battery staple"),
    );
    wait_for(
        "the new password to be taken",
        Duration::from_secs(10),
        || {
            (with_client(&["-u", "prometheus:battery staple"], &metrics).status == 200)
                .then_some(())
        },
    );
    assert_eq!(with_client(&["-u", &userpass], &metrics).status, 401);
    wait_for(
        "Prometheus to see the target refuse it",
        Duration::from_secs(30),
        || prometheus.value("up{job=\"awsconn\"} == 0").map(|_| ()),
    );

    // Client certificates optional: the same server takes a client without one.
    rewrite(&web, &web_config("VerifyClientCertIfGiven", PASSWORD));
    wait_for(
        "client certificates to become optional",
        Duration::from_secs(10),
        || (curl(&["--cacert", &ca, "-u", &userpass, &metrics]).status == 200).then_some(()),
    );
    assert_eq!(
        as_stranger().status,
        0,
        "a certificate given is still verified"
    );

    // A broken file is refused; the last good one stays in force, and says so.
    rewrite(
        &web,
        "tls_server_config:\n  cert_file: server.pem\n  key_fil: typo\n",
    );
    let text = wait_for(
        "the broken file to be noticed",
        Duration::from_secs(10),
        || {
            let answer = curl(&["--cacert", &ca, "-u", &userpass, &metrics]);
            assert_eq!(answer.status, 200, "the last good configuration serves on");
            (sample(&answer.body, "awsconn_web_config_last_reload_successful") == Some(0.0))
                .then_some(answer.body)
        },
    );
    assert!(
        sample(
            &text,
            "awsconn_web_config_last_reload_success_timestamp_seconds"
        )
        .unwrap()
            > 0.0
    );
}

/// Opens a connection that sends part of a request header, or nothing.
fn slowloris(port: u16, partial: bool) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    if partial {
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .ok()?;
    }
    Some(stream)
}

#[test]
fn slowloris_past_the_fd_limit_then_sigterm_within_its_deadline() {
    // 1 300 sockets on this side: lift this process' own limit if it is low.
    if let Ok((soft, hard)) = rlimit::Resource::NOFILE.get()
        && soft < 4096
    {
        let _ = rlimit::Resource::NOFILE.set(hard.min(4096), hard);
    }
    let emulator = Emulator::start("{}");
    let config =
        config_file("regions: [us-east-1]\ncollectors:\n  interconnect: {enabled: false}\n");
    let port = free_port();
    // 256 file descriptors, as a tight container would give.
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$@\"")
        .arg("sh")
        .arg(EXPORTER)
        .arg("--config")
        .arg(config.path())
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .args(["--web.read-header-timeout=2s", "--web.shutdown-timeout=2s"])
        .stdout(Stdio::null());
    let mut child = KillOnDrop(with_exporter_env(shell, &emulator.url).spawn().unwrap());
    let base = format!("http://127.0.0.1:{port}");
    wait_for("the exporter to listen", Duration::from_secs(30), || {
        crate::harness::try_http_get(&base, "/ready", &[])
            .ok()
            .filter(|r| r.0 == 200)
    });

    let flood: Vec<TcpStream> = (0..1000)
        .filter_map(|i| slowloris(port, i % 2 == 0))
        .collect();

    assert!(flood.len() >= 990, "opened {} of 1000", flood.len());
    // A scrape gets in and is answered while they hang.
    let (status, _, body) = http_get(&base, "/metrics", &[]);
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let limit = sample(&text, "awsconn_web_connections_limit").unwrap();
    assert_eq!(
        limit, 192.0,
        "512 lowered to 256 less the 64 kept for the rest"
    );
    assert!(sample(&text, "awsconn_web_connections_open").unwrap() <= limit + 1.0);
    assert!(sample(&text, "process_open_fds").unwrap() < 256.0);
    // Every flood connection is closed: past the limit to make room, the
    // rest at the header deadline (how many of each depends on how fast the
    // flood came in: one that waited 2 s before its turn to be shed is
    // closed at the deadline instead; the limit held either way, above).
    let flooded = flood.len() as f64;
    let text = wait_for("the flood to be closed", Duration::from_secs(20), || {
        let text = String::from_utf8(http_get(&base, "/metrics", &[]).2).unwrap();
        let closed = |reason: &str| {
            let series = format!("awsconn_web_connections_closed_total{{reason=\"{reason}\"}}");
            sample(&text, &series).unwrap_or(0.0)
        };
        let (over, late) = (closed("over_limit"), closed("header_timeout"));
        (over > 0.0 && over + late >= flooded).then_some(text)
    });
    assert!(sample(&text, "process_open_fds").unwrap() < 256.0);
    drop(flood);

    // SIGTERM with slow clients holding connections: gone within the deadline.
    let _held: Vec<TcpStream> = (0..300)
        .filter_map(|i| slowloris(port, i % 2 == 0))
        .collect();
    let signalled = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(signalled.success());
    // The 2 s deadline, and half a second for blocking work at exit.
    let status = wait_for(
        "the exporter to end after SIGTERM",
        Duration::from_secs(4),
        || child.0.try_wait().unwrap(),
    );
    assert!(status.success(), "{status:?}");
}
