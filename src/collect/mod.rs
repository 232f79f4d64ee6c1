//! Polling: one collector per signal family, each with its own interval and
//! timeout, for every configured account and region.
//!
//! A collector lives in one file, `collect/<name>.rs`: its [`Descriptor`]
//! (name, first-round stage, the AWS operations it calls, its config
//! section, what it contributes to the inventory and forgets when disabled,
//! and the metric families it renders) and its [`Collector`] impl (both
//! declared in `collector`, which collectors import); it is listed once, in
//! [`COLLECTORS`] (`registry`). The enabled list, `iam-policy`, the store
//! and the exposition are derived from that table (node_exporter's
//! `registerCollector`, YACE's service table).
//!
//! A collector returns a [`Fragment`] of the inventory; the [`Store`] keeps
//! the last good fragment of every collector and scope, so one collector's
//! failure never blanks another's metrics, nor its own previous data.
//!
//! Beside the collectors: `poller` runs each collector's polls of each
//! scope (in stages on the first round); `schedule` remembers when each
//! poll last started, so a reload resumes rather than polls all at once;
//! `store` keeps the fragments and statuses; the [`Publisher`] publishes
//! what the store holds, rendering through `publish` (each changed scope
//! once, joined in blocks); `state_file` keeps the execution logs' cursors
//! across restarts.

pub mod certificates;
pub mod cloudwatch;
mod collector;
pub mod endpoints;
pub mod execution_logs;
pub mod interconnect;
pub mod load_balancers;
pub mod network_rules;
mod poller;
pub(crate) mod publish;
mod publisher;
mod registry;
pub mod schedule;
pub mod state_file;
mod store;
pub mod tls_probe;
pub mod vpc_links;

pub use collector::{Collector, Descriptor, Fragment};
pub use poller::{Enabled, Poller, Target, enabled_collectors};
pub use publisher::{Findings, Published, Publisher};
pub use registry::{COLLECTORS, calls, descriptor, enabled_descriptors, render_scope};
pub use store::{Store, TIMEOUT};
