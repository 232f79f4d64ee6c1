//! aws-connectivity-exporter: API Gateway VPC links, PrivateLink and AWS
//! Interconnect state as Prometheus metrics, with the runbook that says why
//! a private integration fails.
//!
//! Data flows one way: [`accounts`] says which accounts and regions are
//! polled; [`aws`] (the only module that talks to AWS) fills the
//! [`inventory`], which [`collect::Store`] keeps; [`topology`] resolves a
//! scope's paths once each time the scope is rendered; [`diagnose`] turns
//! them into findings; [`render`] turns both into the scope's encoded
//! families, which [`exposition`] joins into what [`collect::Publisher`]
//! publishes and [`web`] serves. The names the exporter shares with its
//! mixin (collectors, checks, error classes) come from `awsconn_catalogue`.

pub mod accounts;
pub mod aws;
pub mod classify;
pub mod cli;
pub mod cloudwatch;
pub mod collect;
pub mod commands;
pub mod config;
pub mod diagnose;
pub mod exposition;
pub mod inventory;
pub mod lock;
pub mod log_input;
pub mod logging;
pub mod logs;
pub mod probe;
pub mod process;
pub mod render;
pub mod resolve;
pub mod services;
pub mod tags;
#[cfg(test)]
pub(crate) mod testkit;
pub mod topology;
pub mod visible;
pub mod watch;
pub mod web;
