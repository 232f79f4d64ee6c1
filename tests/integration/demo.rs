//! The README's demo command works: scripts/demo serves seeded links.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::{EXPORTER, free_port, repo, try_http_get, wait_for};

#[test]
fn demo_serves_seeded_links_from_the_emulator() {
    let port = free_port();
    let mut demo = Command::new(repo().join("scripts/demo"))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .env("AWSCONN_BIN", EXPORTER)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run scripts/demo");
    let base = format!("http://127.0.0.1:{port}");
    let text = wait_for("the demo to serve links", Duration::from_secs(90), || {
        let (status, _, body) = try_http_get(&base, "/metrics", &[]).ok()?;
        let text = String::from_utf8(body).ok()?;
        (status == 200 && text.contains("region=\"eu-west-1\",vpc_link_id=")).then_some(text)
    });
    assert!(text.contains("name=\"payments-rest-link\""), "{text}");
    assert!(text.contains("status=\"inactive\"} 1"), "{text}");
    // Interconnect series from the front's double, next to the VPC-link ones.
    assert!(
        text.contains("awsconn_interconnect_connection_state{account=\"123456789012\",region=\"us-east-1\",connection_id=\"mcc-azure-dr\",state=\"down\"} 1"),
        "{text}"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &demo.id().to_string()])
        .status();
    let status = wait_for("the demo to stop", Duration::from_secs(20), || {
        demo.try_wait().unwrap()
    });
    assert!(status.success(), "{status:?}");
    // Its emulator and exporter are gone too.
    wait_for("the port to close", Duration::from_secs(10), || {
        try_http_get(&base, "/healthz", &[]).is_err().then_some(())
    });
}
