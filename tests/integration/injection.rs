//! Names and descriptions from AWS are untrusted. VPC links and APIs named
//! with markup, quotes, backslashes, a newline, a terminal escape,
//! exposition syntax and long unicode stay inert everywhere the exporter
//! shows them: the exposition stays valid, `/links` escapes them,
//! `diagnose --output json` stays valid JSON with the names intact, and
//! `diagnose`'s text passes no control character to the terminal.

use std::time::Duration;

use crate::harness::{Emulator, Server, config_file, exporter, promtool_check_metrics, wait_for};

const US: &str = "us-east-1";

#[test]
fn hostile_names_stay_inert_in_every_output() {
    let emulator = Emulator::start("{}");
    let seeded = emulator.seed_hostile(&[US]);
    let hostile = seeded[US]["hostile"].as_str().unwrap().to_string();
    let config =
        config_file("regions: [us-east-1]\ncollectors:\n  interconnect: {enabled: false}\n");
    let server = Server::start(&emulator.url, config.path(), &[]);
    wait_for("the first poll", Duration::from_secs(30), || {
        (server.get("/ready").0 == 200).then_some(())
    });

    // The exposition: valid, one sample per line, the name escaped as the format says.
    let text = server.metrics();
    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    for line in text.lines() {
        assert!(
            line.starts_with('#') || line.starts_with("awsconn_") || line.starts_with("process_"),
            "a name broke a line: {line:?}"
        );
    }
    let escaped = hostile
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n");
    let info = format!("name=\"{escaped}\"");
    for (family, what) in [
        ("awsconn_vpc_link_info{", "both links"),
        ("awsconn_api_info{", "both APIs"),
    ] {
        let named = text
            .lines()
            .filter(|l| l.starts_with(family) && l.contains(&info))
            .count();
        assert_eq!(named, 2, "{what} named, escaped\n{text}");
    }

    // /links: the markup is text, not markup.
    let (status, _, body) = server.get("/links");
    assert_eq!(status, 200);
    let page = String::from_utf8(body).unwrap();
    assert!(
        !page.contains("<script>alert(1)"),
        "markup from AWS reached the page"
    );
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("Ünïcødé ✓ 日本語 🚀"));
    // Characters that would reorder, break or hide the text around them
    // show as escapes.
    for raw in ['\u{202E}', '\u{2028}', '\u{200B}', '\u{FEFF}', '\u{1b}'] {
        assert!(!page.contains(raw), "{raw:?} reached the page");
    }
    assert!(
        page.contains("bidi\\u{202e}evil"),
        "the override shown as an escape"
    );
    // The page's query: a health it does not know is refused; the form's
    // "all" (an empty value) is all.
    assert_eq!(server.get("/links?health=%3Cscript%3E").0, 400);
    assert_eq!(server.get("/links?health=UNHEALTHY").0, 400);
    assert_eq!(server.get("/links?health=&account=&region=").0, 200);
    let (status, _, body) = server.get("/links?region=%3Cb%3E%22x");
    assert_eq!(status, 200);
    let filtered = String::from_utf8(body).unwrap();
    assert!(!filtered.contains("<b>\"x"), "a query reached the page raw");

    // diagnose --output json: valid JSON, the names exactly as AWS gave them.
    let out = exporter(&emulator.url)
        .args(["diagnose", "--output", "json", "--config"])
        .arg(config.path())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    let links = report["vpc_links"].as_array().unwrap();
    assert_eq!(links.len(), 2);
    assert!(
        links.iter().all(|l| l["name"] == hostile.as_str()),
        "{report}"
    );

    // diagnose's text: no control character reaches the terminal.
    let out = exporter(&emulator.url)
        .args(["diagnose", "--config"])
        .arg(config.path())
        .output()
        .unwrap();
    let said = String::from_utf8(out.stdout).unwrap();
    assert!(said.contains("<script>alert(1)</script>"), "{said}");
    assert!(
        !said
            .chars()
            .any(|c| c != '\n' && awsconn::visible::acts_on_screen(c)),
        "a character that acts on the screen reached the terminal:\n{said:?}"
    );
}
