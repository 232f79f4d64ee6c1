//! Records the git revision for `awsconn_build_info{revision}`.
//! `AWSCONN_GIT_REVISION` in the build environment wins (release pipelines);
//! otherwise `git rev-parse`, and `unknown` outside a checkout.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=AWSCONN_GIT_REVISION");
    if std::env::var_os("AWSCONN_GIT_REVISION").is_some() {
        return;
    }
    let git = Path::new(".git");
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD")) {
        println!("cargo:rerun-if-changed=.git/HEAD");
        if let Some(reference) = head.trim().strip_prefix("ref: ")
            && git.join(reference).exists()
        {
            println!("cargo:rerun-if-changed=.git/{reference}");
        }
    }
    let revision = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if let Some(revision) = revision {
        println!("cargo:rustc-env=AWSCONN_GIT_REVISION={revision}");
    }
}
