//! `awsconn-mixin`: writes alerts/ and dashboards/ from mixin/config.yaml.
//!
//!   cargo run -p awsconn-mixin                      # rewrite the files in this repository
//!   cargo run -p awsconn-mixin -- --config my.yaml --out /tmp/mixin
//!   cargo run -p awsconn-mixin -- --check           # exit 1 if a file is not what it would write

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use awsconn_mixin::{Config, generate};

const USAGE: &str = "usage: awsconn-mixin [--config FILE] [--out DIR] [--check]";

fn main() -> ExitCode {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut config_path = repo.join("mixin/config.yaml");
    let mut out = repo.clone();
    let mut check = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" => match args.next() {
                Some(path) => config_path = PathBuf::from(path),
                None => return usage(),
            },
            "--out" => match args.next() {
                Some(path) => out = PathBuf::from(path),
                None => return usage(),
            },
            "--check" => check = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => return usage(),
        }
    }
    let config = match Config::load(&config_path) {
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
    let mut stale = 0;
    for (path, text) in files {
        let target = out.join(&path);
        if check {
            if std::fs::read_to_string(&target).ok().as_deref() != Some(text.as_str()) {
                eprintln!("awsconn-mixin: {path} is not what mixin/config.yaml generates");
                stale += 1;
            }
            continue;
        }
        let written = target
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&target, text));
        if let Err(e) = written {
            eprintln!("awsconn-mixin: cannot write {}: {e}", target.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {path}");
    }
    if stale > 0 {
        eprintln!("awsconn-mixin: run `cargo run -p awsconn-mixin` and commit the result");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn usage() -> ExitCode {
    eprintln!("{USAGE}");
    ExitCode::from(2)
}
