//! `awsconn-mixin`: writes alerts/ and dashboards/ from mixin/config.yaml.
//!
//!   cargo run -p awsconn-mixin                      # rewrite the files in this repository
//!   cargo run -p awsconn-mixin -- --config my.yaml --out /tmp/mixin
//!   cargo run -p awsconn-mixin -- --check           # exit 1 if a file is not what it would write

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use awsconn_mixin::{Config, generate, stale_files, write_files};
use clap::Parser;

/// Generates the alert rules, their promtool tests, the Grafana dashboards and
/// the example Prometheus and Alertmanager configs from the mixin's config.
#[derive(Parser)]
#[command(name = "awsconn-mixin", version)]
struct Args {
    /// The mixin's settings.
    #[arg(long, value_name = "FILE", default_value_os_t = repo().join("mixin/config.yaml"))]
    config: PathBuf,
    /// Where alerts/ and dashboards/ are written.
    #[arg(long, value_name = "DIR", default_value_os_t = repo())]
    out: PathBuf,
    /// Write nothing; exit 1 if a file differs from what would be written.
    #[arg(long)]
    check: bool,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match Config::load(&args.config) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("awsconn-mixin: {e}");
            return ExitCode::from(2);
        }
    };
    let files = match generate(&config) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("awsconn-mixin: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.check {
        let stale = stale_files(&files, &args.out);
        for path in &stale {
            eprintln!(
                "awsconn-mixin: {path} is not what {} generates",
                args.config.display()
            );
        }
        if !stale.is_empty() {
            eprintln!("awsconn-mixin: run `cargo run -p awsconn-mixin` and commit the result");
            return ExitCode::FAILURE;
        }
        return ExitCode::SUCCESS;
    }
    if let Err(e) = write_files(&files, &args.out) {
        eprintln!("awsconn-mixin: {e}");
        return ExitCode::FAILURE;
    }
    for (path, _) in &files {
        println!("wrote {path}");
    }
    ExitCode::SUCCESS
}
