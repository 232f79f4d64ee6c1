//! Processes the tests run: the AWS front with its in-process moto server,
//! and the exporter binary; plus HTTP on loopback (ureq, one connection per request).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const EXPORTER: &str = env!("CARGO_BIN_EXE_aws-connectivity-exporter");

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    let python = repo().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup first",
        python.display()
    );
    python
}

/// The AWS front on a free loopback port, with moto inside it. Killed on drop.
pub struct Emulator {
    child: Option<Child>,
    pub url: String,
    _scenario: tempfile::NamedTempFile,
}

impl Emulator {
    /// Starts the front with a scenario (JSON text; `{}` for none).
    pub fn start(scenario: &str) -> Emulator {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(scenario.as_bytes()).unwrap();
        let mut child = Command::new(python())
            .arg(repo().join("tests/aws_front/front.py"))
            .args(["--moto", "--listen", "127.0.0.1:0", "--scenario"])
            .arg(file.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the AWS front");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("the AWS front did not start within 60s");
            }
        };
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("unexpected first line from the front: {line:?}"))
            .to_owned();
        Emulator {
            child: Some(child),
            url,
            _scenario: file,
        }
    }

    /// `lead`, the front's URL, then `rest`, as seed.py arguments.
    fn seed_args(&self, lead: &[&str], rest: &[&str]) -> Vec<std::ffi::OsString> {
        lead.iter()
            .chain(std::iter::once(&self.url.as_str()))
            .chain(rest)
            .map(std::ffi::OsString::from)
            .collect()
    }

    /// Seeds VPCs, an NLB and VPC links (tests/aws_front/seed.py) in each region;
    /// returns what it created.
    pub fn seed(&self, regions: &[&str]) -> serde_json::Value {
        seed_py(&self.seed_args(&[], regions))
    }

    /// Like `seed`, with whole network paths (`seed.py --paths`).
    pub fn seed_paths(&self, regions: &[&str]) -> serde_json::Value {
        seed_py(&self.seed_args(&["--paths"], regions))
    }

    /// One path per failure of the VPC-link runbook (`seed.py --runbook`).
    pub fn seed_runbook(&self, regions: &[&str]) -> serde_json::Value {
        seed_py(&self.seed_args(&["--runbook"], regions))
    }

    /// Paths whose freely chosen names are hostile (see seed.py's HOSTILE).
    pub fn seed_hostile(&self, regions: &[&str]) -> serde_json::Value {
        seed_py(&self.seed_args(&["--hostile"], regions))
    }

    /// Puts log events (timestamp in ms, message) into a group, creating it if needed.
    pub fn put_log_events(&self, region: &str, group: &str, events: &[(i64, String)]) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        serde_json::to_writer(&mut file, events).unwrap();
        let mut args = self.seed_args(&["--log-events"], &[region, group]);
        args.push(file.path().into());
        seed_py(&args);
    }

    /// Puts CloudWatch datapoints (`seed.py --metric-data`).
    pub fn put_metric_data(&self, region: &str, points: &serde_json::Value) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        serde_json::to_writer(&mut file, points).unwrap();
        let mut args = self.seed_args(&["--metric-data"], &[region]);
        args.push(file.path().into());
        seed_py(&args);
    }

    /// Replaces the front's scenario.
    pub fn set_scenario(&self, scenario: &serde_json::Value) {
        let body = serde_json::to_vec(scenario).unwrap();
        let (status, _, _) =
            http_request("PUT", &self.url, "/_front/scenario", &[], &body).unwrap();
        assert_eq!(status, 200);
    }

    /// Requests the front saw, by `service:Operation`.
    pub fn requests(&self) -> serde_json::Value {
        let (status, _, body) = http_get(&self.url, "/_front/requests", &[]);
        assert_eq!(status, 200);
        serde_json::from_slice(&body).unwrap()
    }

    /// Requests the front's `quotas` throttled, by `service:Operation`.
    pub fn throttled(&self) -> serde_json::Value {
        let (status, _, body) = http_get(&self.url, "/_front/throttled", &[]);
        assert_eq!(status, 200);
        serde_json::from_slice(&body).unwrap()
    }

    /// Stops the front and moto: AWS becomes unreachable.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `tests/aws_front/seed.py` with these arguments; returns the JSON it prints.
pub fn seed_py<S: AsRef<std::ffi::OsStr> + std::fmt::Debug>(args: &[S]) -> serde_json::Value {
    let out = Command::new(python())
        .arg(repo().join("tests/aws_front/seed.py"))
        .args(args)
        .output()
        .expect("run seed.py");
    assert!(
        out.status.success(),
        "seed.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("seed.py prints JSON")
}

/// The exporter binary with an environment that reaches only the emulator.
pub fn exporter(endpoint: &str) -> Command {
    with_exporter_env(Command::new(EXPORTER), endpoint)
}

/// `cmd` (the exporter, or a shell that runs it) with an environment that
/// reaches only the emulator.
pub fn with_exporter_env(mut cmd: Command, endpoint: &str) -> Command {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .stdin(Stdio::null());
    cmd
}

/// The exporter with `args` and no AWS, stdin closed: its exit code (-1 if
/// a signal ended it), stdout and stderr.
pub fn run_exporter(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(EXPORTER)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes a config file for a test.
pub fn config_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

/// Runs `once` and returns (exit success, exposition, stderr).
pub fn once(endpoint: &str, config: &Path) -> (bool, String, String) {
    let out: Output = exporter(endpoint)
        .arg("once")
        .arg("--config")
        .arg(config)
        .output()
        .expect("run the exporter");
    (
        out.status.success(),
        String::from_utf8(out.stdout).expect("exposition is UTF-8"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP answer: status, headers (names lower-cased), body.
pub type Reply = (u16, Vec<(String, String)>, Vec<u8>);

/// A bare HTTP/1.1 GET on loopback.
pub fn http_get(base: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    try_http_get(base, path, headers).unwrap_or_else(|e| panic!("GET {base}{path}: {e}"))
}

pub fn try_http_get(base: &str, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Reply> {
    http_request("GET", base, path, headers, b"")
}

/// An HTTP/1.1 request on loopback, one connection each (nothing pooled,
/// so the exporter's connection counts see only the test's own). Any status
/// is an answer; only a transport failure is an error.
pub fn http_request(
    method: &str,
    base: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Reply> {
    static AGENT: std::sync::OnceLock<ureq::Agent> = std::sync::OnceLock::new();
    let agent = AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_connections(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into()
    });
    let mut request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{}{path}", base.trim_end_matches('/')));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = if body.is_empty() {
        agent.run(request.body(()).map_err(std::io::Error::other)?)
    } else {
        agent.run(request.body(body.to_vec()).map_err(std::io::Error::other)?)
    };
    let mut response = response.map_err(std::io::Error::other)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (k.as_str().to_owned(), value)
        })
        .collect();
    let body = response
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .map_err(std::io::Error::other)?;
    Ok((status, headers, body))
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Polls `check` every 100 ms until it returns Some, or panics after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    wait_for_or(what, limit, || check().ok_or_else(String::new))
}

/// [`wait_for`] where `check` says what it saw when it is not there yet:
/// the timeout's panic tells what the last try saw.
pub fn wait_for_or<T>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> T {
    let start = Instant::now();
    loop {
        let seen = match check() {
            Ok(v) => return v,
            Err(seen) => seen,
        };
        if start.elapsed() >= limit {
            panic!("timed out after {limit:?} waiting for {what}; {seen}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A JSON answer to a GET (None unless 200 with JSON).
pub fn get_json(base: &str, path: &str) -> Option<serde_json::Value> {
    let (status, _, body) = try_http_get(base, path, &[]).ok()?;
    (status == 200).then(|| serde_json::from_slice(&body).ok())?
}

pub fn encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// Runs an instant query on Prometheus; the result vector.
pub fn query(prometheus: &str, expr: &str) -> Vec<serde_json::Value> {
    let answer = get_json(prometheus, &format!("/api/v1/query?query={}", encode(expr)))
        .unwrap_or_else(|| panic!("query failed: {expr}"));
    assert_eq!(answer["status"], "success", "{expr}: {answer}");
    answer["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The value of one exact series in an exposition, if present.
pub fn sample(exposition: &str, series: &str) -> Option<f64> {
    exposition.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    })
}

/// The sum of every series that has the labels of `series` first and
/// possibly more after them (`awsconn_aws_api_requests_total{service="sts",
/// operation="AssumeRole",outcome="ok"}` over every account and region), if any.
pub fn sample_sum(exposition: &str, series: &str) -> Option<f64> {
    let open = series.strip_suffix('}').map(|s| format!("{s},"));
    let mut found = None;
    for line in exposition.lines() {
        let Some((name_and_labels, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let matches = name_and_labels == series
            || open
                .as_deref()
                .is_some_and(|o| name_and_labels.starts_with(o));
        if let (true, Ok(value)) = (matches, value.parse::<f64>()) {
            *found.get_or_insert(0.0) += value;
        }
    }
    found
}

/// `awsconn_collector_polls_total` of `collector`, one per scope.
pub fn polls_in(exposition: &str, collector: &str) -> Vec<u64> {
    let prefix = format!("awsconn_collector_polls_total{{collector=\"{collector}\",");
    exposition
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .collect()
}

/// Runs `promtool check metrics` on an exposition; returns its output on failure.
/// A CA made for a test: its certificate, and the issuer that signs with it.
pub fn test_ca(name: &str) -> (rcgen::Certificate, rcgen::Issuer<'static, rcgen::KeyPair>) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let cert = params.self_signed(&key).unwrap();
    (cert, Issuer::new(params, key))
}

/// The AWS operations an exposition's self-metrics saw, as IAM actions.
pub fn actions_seen(exposition: &str) -> std::collections::BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("awsconn_aws_api_requests_total{service=\""))
        .filter_map(|rest| {
            let (service, rest) = rest.split_once('"')?;
            let operation = rest.strip_prefix(",operation=\"")?.split('"').next()?;
            Some(awsconn::aws::iam::action(service, operation))
        })
        .collect()
}

/// The IAM actions `iam-policy` grants for a configuration.
pub fn actions_granted(config: &Path) -> std::collections::BTreeSet<String> {
    let out = Command::new(EXPORTER)
        .args(["iam-policy", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(out.status.success());
    let policy: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // One policy, or with discovery one per principal (the exporter's own,
    // the listing role, the member role).
    let policies = match policy.get("Statement") {
        Some(_) => vec![policy],
        None => policy.as_object().unwrap().values().cloned().collect(),
    };
    policies
        .iter()
        .flat_map(|p| p["Statement"].as_array().unwrap().iter())
        .flat_map(|s| s["Action"].as_array().unwrap().iter())
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

pub fn promtool_check_metrics(exposition: &str) -> Result<(), String> {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run promtool (run scripts/setup): {e}"))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        return Ok(());
    }
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Every lint promtool has is an error: the CloudWatch families of a
    // `Sum` or `SampleCount` end in `_sum_per_period` and `_sample_count_per_period`.
    let other: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
    if other.is_empty() { Ok(()) } else { Err(said) }
}

/// A child process (Prometheus, a shell running the exporter) killed and
/// reaped on drop, so a failing test leaves none behind.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `serve` process, stopped with SIGTERM on drop.
pub struct Server {
    child: Option<Child>,
    pub base: String,
}

impl Server {
    pub fn start(endpoint: &str, config: &Path, extra: &[&str]) -> Server {
        Self::start_with_log(endpoint, config, extra, Stdio::inherit())
    }

    /// Like `start`, with the exporter's log (stderr) going to `log`.
    pub fn start_with_log(
        endpoint: &str,
        config: &Path,
        extra: &[&str],
        log: impl Into<Stdio>,
    ) -> Server {
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let child = exporter(endpoint)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the exporter");
        let server = Server {
            child: Some(child),
            base,
        };
        wait_for("the exporter to listen", Duration::from_secs(30), || {
            try_http_get(&server.base, "/healthz", &[]).ok()
        });
        server
    }

    pub fn get(&self, path: &str) -> Reply {
        http_get(&self.base, path, &[])
    }

    pub fn metrics(&self) -> String {
        let (status, _, body) = self.get("/metrics");
        assert_eq!(status, 200);
        String::from_utf8(body).unwrap()
    }

    /// The fewest polls `collector` has finished in any scope, as the
    /// exposition says (0 before the first is published).
    pub fn polls(&self, collector: &str) -> u64 {
        polls_in(&self.metrics(), collector)
            .into_iter()
            .min()
            .unwrap_or(0)
    }

    /// Waits until `collector` has finished at least `n` polls in each of
    /// its `scopes` scopes, and returns the exposition that shows it (which
    /// includes what those polls found: counts and data are published
    /// together).
    pub fn wait_polls(&self, collector: &str, scopes: usize, n: u64) -> String {
        wait_for(
            &format!("{n} polls of {collector} in {scopes} scopes"),
            Duration::from_secs(60),
            || {
                let text = self.metrics();
                let polls = polls_in(&text, collector);
                (polls.len() >= scopes && polls.iter().all(|p| *p >= n)).then_some(text)
            },
        )
    }

    /// Sends a signal (`HUP`, ...) to the exporter.
    pub fn signal(&self, name: &str) {
        let child = self.child.as_ref().expect("running");
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{name}");
    }

    /// True while the exporter process runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > Duration::from_secs(15) {
                let _ = child.kill();
                panic!("the exporter did not stop within 15s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
