//! Records the build's facts for `awsconn_build_info` and `--version`: the
//! git revision and branch, the rustc version and the target triple.
//! `AWSCONN_GIT_REVISION` and `AWSCONN_GIT_BRANCH` in the build environment
//! win (release pipelines); otherwise git is asked, and `unknown` outside a
//! checkout.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=AWSCONN_GIT_REVISION");
    println!("cargo:rerun-if-env-changed=AWSCONN_GIT_BRANCH");
    let git = Path::new(".git");
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD")) {
        println!("cargo:rerun-if-changed=.git/HEAD");
        if let Some(reference) = head.trim().strip_prefix("ref: ")
            && git.join(reference).exists()
        {
            println!("cargo:rerun-if-changed=.git/{reference}");
        }
    }
    let revision = std::env::var("AWSCONN_GIT_REVISION")
        .ok()
        .or_else(|| output("git", &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=AWSCONN_BUILD_REVISION={revision}");
    let branch = std::env::var("AWSCONN_GIT_BRANCH")
        .ok()
        .or_else(|| output("git", &["rev-parse", "--abbrev-ref", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=AWSCONN_BUILD_BRANCH={branch}");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    // `rustc 1.95.0 (59807616e 2026-04-14)` -> `1.95.0`
    let version = output(&rustc, &["--version"])
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=AWSCONN_RUSTC_VERSION={version}");
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".to_owned());
    println!("cargo:rustc-env=AWSCONN_TARGET={target}");
}

/// A command's trimmed stdout, when it succeeds and says something.
fn output(program: &str, args: &[&str]) -> Option<String> {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}
