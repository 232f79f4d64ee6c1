//! Integration tests: the real binary, the real AWS SDK, a real moto server
//! behind the project's AWS front (tests/aws_front), real promtool.
//!
//! One crate (one binary to link) with a module per area. `scripts/setup`
//! installs what these need.

mod browser;
mod cli;
mod cloudwatch;
mod demo;
mod deploy;
mod execution_logs;
mod faults;
mod harness;
mod injection;
mod interconnect;
mod network_paths;
mod organizations;
mod quotas;
mod reload;
mod runbook;
mod shards;
mod tls_probe;
mod vpc_links;
mod web;
