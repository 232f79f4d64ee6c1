//! The command line without AWS: check-config, classify, flags and env vars.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::harness::{EXPORTER, config_file, repo, run_exporter as run};

#[test]
fn example_config_is_valid() {
    let example = repo().join("examples/config.yaml");
    let (code, stdout, stderr) = run(&["check-config", "--config", example.to_str().unwrap()]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("configuration is valid"), "{stdout}");
}

#[test]
fn minimal_config_is_valid_with_the_flag_before_the_subcommand() {
    let config = config_file("regions: [us-east-1]\n");
    let (code, _, stderr) = run(&["--config", config.path().to_str().unwrap(), "check-config"]);
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn unknown_field_exits_2_naming_field_and_line() {
    let config = config_file(
        "regions: [us-east-1]\ncollectors:\n  vpc_links:\n    enabled: true\n    intervall: 5m\n",
    );
    let (code, _, stderr) = run(&["check-config", "--config", config.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("intervall"), "{stderr}");
    assert!(stderr.contains("line 5"), "{stderr}");
}

/// A quota for an operation no collector calls is a typo, refused; one the
/// exporter calls is taken.
#[test]
fn a_quota_must_name_an_operation_the_exporter_calls() {
    for (key, ok) in [
        ("cloudwatchlogs:FilterLogEvent", false),
        ("apigateway:GetNothing", false),
        ("cloudwatchlogs:FilterLogEvents", true),
        ("apigateway:GetIntegrations", true),
    ] {
        let config = config_file(&format!(
            "regions: [us-east-1]\naws:\n  quotas:\n    {key}: {{rate: 25, burst: 25}}\n"
        ));
        let (code, _, stderr) = run(&["check-config", "--config", config.path().to_str().unwrap()]);
        if ok {
            assert_eq!(code, 0, "{key}: {stderr}");
        } else {
            assert_eq!(code, 2, "{key}: {stderr}");
            assert!(stderr.contains("no collector calls"), "{key}: {stderr}");
        }
    }
}

#[test]
fn invalid_config_stops_once_and_serve_with_exit_2() {
    let config = config_file("regions: not-a-list\n");
    for sub in ["once", "serve", "diagnose"] {
        let (code, _, stderr) = run(&[sub, "--config", config.path().to_str().unwrap()]);
        assert_eq!(code, 2, "{sub}: {stderr}");
        assert!(stderr.contains("invalid configuration"), "{sub}: {stderr}");
    }
    let (code, _, stderr) = run(&["once"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--config"), "{stderr}");
}

#[test]
fn an_invalid_web_config_stops_check_config_and_serve_with_exit_2() {
    let config = config_file("regions: [eu-west-1]\n");
    let web = config_file(
        "tls_server_config:\n  cert_file: missing.pem\nbasic_auth_users:\n  prometheus: plaintext\n",
    );
    let typo = config_file("basic_auth_users: {}\nhttp_server_config:\n  headerz: {}\n");
    for (file, says) in [(web.path(), "not a bcrypt hash"), (typo.path(), "line 3")] {
        for sub in ["check-config", "serve"] {
            let (code, _, stderr) = run(&[
                sub,
                "--config",
                config.path().to_str().unwrap(),
                "--web.config.file",
                file.to_str().unwrap(),
                "--web.listen-address=127.0.0.1:0",
            ]);
            assert_eq!(code, 2, "{sub}: {stderr}");
            assert!(
                stderr.contains("invalid web configuration"),
                "{sub}: {stderr}"
            );
            assert!(stderr.contains(says), "{sub}: {stderr}");
        }
    }
    for bad in [
        "--web.read-header-timeout=0s",
        "--web.max-connections=0",
        "--web.max-requests=18446744073709551615",
    ] {
        let (code, _, stderr) = run(&[bad, "check-config"]);
        assert_eq!(code, 2, "{bad}: {stderr}");
    }
}

#[test]
fn config_from_the_environment() {
    let config = config_file("regions: [eu-west-1]\n");
    let out = Command::new(EXPORTER)
        .arg("check-config")
        .env("AWSCONN_CONFIG", config.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("eu-west-1"));
}

#[test]
fn bad_flag_values_are_usage_errors() {
    let (code, _, stderr) = run(&["--log.format", "xml", "check-config"]);
    assert_eq!(code, 2, "{stderr}");
    let (code, _, stderr) = run(&["--web.telemetry-path", "metrics", "check-config"]);
    assert_eq!(code, 2, "{stderr}");
}

const SAMPLE_LOG: &[u8] = b"(0a1b2c3d-1111-2222-3333-444455556666) Execution failed due to configuration error: There was an internal error while executing your request\n\
(PDS1PEC4oAMFpyA=) Execution failed due to configuration error: Host name 'api.internal' does not match the certificate subject provided by the peer (CN=*.example.com)\r\n\
Thu Aug 04 17:48:21 UTC 2022 : Execution failed due to an internal error\n\
(x-1) Method completed with status: 500\n\
(x-2) Method completed with status: 500\n\
(x-3) Method completed with status: 200\n\
(x-4) Endpoint response body before transformations: Execution failed due to a timeout error\n\
\n\
\xff\xfe not utf-8\n\
(x-5) Execution failed due to a timeout error";

fn check_sample_counts(json: &serde_json::Value) {
    assert_eq!(json["lines"], 9, "{json}");
    assert_eq!(json["classes"]["vpc_link_internal"], 1, "{json}");
    assert_eq!(json["classes"]["tls_hostname_mismatch"], 1, "{json}");
    assert_eq!(json["classes"]["target_reset"], 1, "{json}");
    assert_eq!(json["classes"]["integration_timeout"], 1, "{json}");
    assert_eq!(json["classes"]["other"], 0, "{json}");
    assert_eq!(json["statuses"]["500"], 2, "{json}");
    assert_eq!(json["statuses"]["200"], 1, "{json}");
}

/// `classify` reading stdin from a pipe this test writes, its output piped back.
fn classify_from_a_pipe() -> std::process::Child {
    Command::new(EXPORTER)
        .arg("classify")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn classify_reads_stdin() {
    let mut child = classify_from_a_pipe();
    child.stdin.take().unwrap().write_all(SAMPLE_LOG).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    check_sample_counts(&serde_json::from_slice(&out.stdout).unwrap());
}

#[test]
fn classify_reads_files_and_adds_them_up() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(SAMPLE_LOG).unwrap();
    let path = file.path().to_str().unwrap();
    let (code, stdout, stderr) = run(&["classify", path]);
    assert_eq!(code, 0, "{stderr}");
    check_sample_counts(&serde_json::from_str(&stdout).unwrap());
    let (code, stdout, _) = run(&["classify", path, path]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["lines"], 18);
    assert_eq!(json["statuses"]["500"], 4);
}

/// Files in other formats, each found by itself and added up; a forced
/// format; malformed JSON named by its line (exit 1).
#[test]
fn classify_reads_each_file_in_its_own_format() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let json = write(
        "events.json",
        r#"{"events": [{"logStreamName": "s", "timestamp": 1, "message": "(a) Execution failed due to a timeout error", "ingestionTime": 2, "eventId": "1"}], "searchedLogStreams": []}"#,
    );
    let tail = write(
        "tail.txt",
        "2024-05-14T10:21:43.402000+00:00 6512bd43d9caa6e02c990b0a82652dca (a) Method completed with status: 504\n",
    );
    let csv = write(
        "insights.csv",
        "@timestamp,@message\n2024-05-14 10:21:33.412,\"(a) Execution failed due to configuration error: There was an internal error while executing your request\"\n",
    );
    let (code, stdout, stderr) = run(&["classify", &json, &tail, &csv]);
    assert_eq!(code, 0, "{stderr}");
    let counts: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(counts["lines"], 3, "{counts}");
    assert_eq!(counts["classes"]["integration_timeout"], 1, "{counts}");
    assert_eq!(counts["classes"]["vpc_link_internal"], 1, "{counts}");
    assert_eq!(counts["statuses"]["504"], 1, "{counts}");
    // Forced: the CSV read as plain lines holds no counted message.
    let (code, stdout, _) = run(&["classify", "--format", "plain", &csv]);
    assert_eq!(code, 0);
    let counts: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (
            counts["lines"].as_u64(),
            counts["classes"]["vpc_link_internal"].as_u64()
        ),
        (Some(2), Some(0))
    );
    let broken = write(
        "broken.json",
        "{\n  \"events\": [\n    {\"message\": oops}\n  ]\n}\n",
    );
    let (code, _, stderr) = run(&["classify", &broken]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("broken.json")
            && stderr.contains("malformed JSON")
            && stderr.contains("line 3"),
        "{stderr}"
    );
}

#[test]
fn classify_missing_file_is_a_clear_error() {
    let (code, _, stderr) = run(&["classify", "/nonexistent/execution.log"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("cannot read /nonexistent/execution.log: No such file"),
        "{stderr}"
    );
}

/// A reader that goes away (`| head`) ends a command quietly: exit 0, no
/// panic, no message. The pipe's read end is closed before the command
/// starts, so every write meets it closed.
#[test]
fn a_closed_stdout_ends_commands_quietly() {
    let config = config_file("regions: [us-east-1]\n");
    let config = config.path().to_str().unwrap();
    let log = repo().join("tests/aws_front/README.md");
    for args in [
        vec!["check-config", "--config", config],
        vec!["iam-policy", "--config", config],
        vec!["classify", log.to_str().unwrap()],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(EXPORTER)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
}

/// `--version` says the version, git revision and branch, rustc and target.
#[test]
#[cfg(target_os = "linux")]
fn version_names_the_build() {
    let (code, stdout, _) = run(&["--version"]);
    assert_eq!(code, 0);
    let line = stdout.trim();
    assert!(
        line.starts_with(&format!(
            "aws-connectivity-exporter {} (revision ",
            env!("CARGO_PKG_VERSION")
        )),
        "{line}"
    );
    for part in [", branch ", ", rustc 1."] {
        assert!(line.contains(part), "{line}");
    }
    assert!(
        line.ends_with("-linux-gnu)") || line.ends_with("-linux-musl)"),
        "{line}"
    );
    // The version is one the changelog has a section for.
    let changelog = std::fs::read_to_string(repo().join("CHANGELOG.md")).unwrap();
    let section = format!("\n## [{}]", env!("CARGO_PKG_VERSION"));
    assert!(
        changelog.contains(&section),
        "CHANGELOG.md has no `{section}`"
    );
}

/// The peak resident memory of a running process, in bytes (Linux).
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

/// Bytes a running process has read so far (Linux).
fn bytes_read(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("rchar:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// `classify` reads in constant memory: a 200 MB line through a pipe, and
/// /dev/zero (one endless line of NULs), stay far below their size.
#[test]
fn classify_holds_constant_memory_on_a_200_mb_line_and_dev_zero() {
    const LIMIT: u64 = 64 << 20;
    let mut child = classify_from_a_pipe();
    let mut stdin = child.stdin.take().unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..200 {
        stdin.write_all(&chunk).unwrap();
    }
    stdin
        .write_all(
            b"\n(0f0e0d0c-1111-2222-3333-444455556666) Execution failed due to a timeout error\n",
        )
        .unwrap();
    let peak = peak_rss(child.id());
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let counted: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(counted["lines"], 2);
    assert_eq!(counted["classes"]["integration_timeout"], 1);
    assert!(peak < LIMIT, "a 200 MB line took {peak} bytes");

    let mut zero = Command::new(EXPORTER)
        .args(["classify", "/dev/zero"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = zero.id();
    crate::harness::wait_for(
        "1 GB of /dev/zero to be read",
        std::time::Duration::from_secs(60),
        || (bytes_read(pid) > 1 << 30).then_some(()),
    );
    let peak = peak_rss(pid);
    zero.kill().unwrap();
    let _ = zero.wait();
    assert!(peak < LIMIT, "/dev/zero took {peak} bytes after 1 GB");
}
