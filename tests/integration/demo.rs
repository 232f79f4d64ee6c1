//! The README's demo command works: scripts/demo serves seeded links and
//! the runbook's broken paths.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::{EXPORTER, free_port, repo, try_http_get, wait_for};

/// The running demo; stopped (SIGTERM, which its trap passes on) when
/// dropped, so a failing assertion leaves no emulator or exporter behind.
struct Demo(Child);

impl Demo {
    fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        wait_for("the demo to stop", Duration::from_secs(20), || {
            self.0.try_wait().unwrap()
        })
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            self.terminate();
        }
    }
}

#[test]
fn demo_serves_seeded_links_from_the_emulator() {
    let port = free_port();
    let mut demo = Demo(
        Command::new(repo().join("scripts/demo"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .env("AWSCONN_BIN", EXPORTER)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run scripts/demo"),
    );
    let base = format!("http://127.0.0.1:{port}");
    wait_for(
        "the demo's first complete poll",
        Duration::from_secs(120),
        || {
            let (status, _, _) = try_http_get(&base, "/ready", &[]).ok()?;
            (status == 200).then_some(())
        },
    );
    let (status, _, body) = try_http_get(&base, "/metrics", &[]).unwrap();
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("region=\"eu-west-1\",vpc_link_id="), "{text}");
    assert!(text.contains("name=\"payments-rest-link\""), "{text}");
    assert!(text.contains("status=\"inactive\"} 1"), "{text}");
    // Interconnect series from the front's double, next to the VPC-link ones.
    assert!(
        text.contains("awsconn_interconnect_connection_state{account=\"123456789012\",region=\"us-east-1\",connection_id=\"mcc-azure-dr\",state=\"down\"} 1"),
        "{text}"
    );
    // The runbook paths, on the live page.
    let (status, _, body) = try_http_get(&base, "/links", &[]).unwrap();
    let page = String::from_utf8(body).unwrap();
    assert_eq!(status, 200);
    for link in ["nacl-deny-link", "tls-errors-link", "healthy-http-link"] {
        assert!(page.contains(link), "{link} missing:\n{page}");
    }
    assert!(page.contains("rule 90 denies inbound TCP 8080"), "{page}");

    let status = demo.terminate();
    assert!(status.success(), "{status:?}");
    // Its emulator and exporter are gone too.
    wait_for("the port to close", Duration::from_secs(10), || {
        try_http_get(&base, "/healthz", &[]).is_err().then_some(())
    });
}
