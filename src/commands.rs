//! The subcommands. Each returns the process exit code; errors that stop a
//! command are `anyhow` here, at the edge, with the context a user needs.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::aws::discovery::Roster;
use crate::aws::{ApiTelemetry, Aws};
use crate::classify::Tally;
use crate::cli::{GlobalArgs, OutputFormat};
use crate::collect::state_file::StateLock;
use crate::collect::{Poller, Publisher, Store};
use crate::config::{Config, ConfigError, Shard};
use crate::diagnose::LinkReport;
use crate::log_input::{Format, tally_file, tally_stream};
use crate::visible::visible;
use crate::web;

/// Exit code for an invalid configuration or command line.
pub const EXIT_INVALID: u8 = 2;

/// Loads the configuration named by `--config`, or explains what is missing.
pub fn load_config(global: &GlobalArgs) -> Result<Config, ConfigError> {
    let Some(path) = &global.config else {
        return Err(ConfigError::Invalid {
            path: "--config".into(),
            message: "no configuration file given (use --config FILE or AWSCONN_CONFIG); \
                      `regions: [us-east-1]` is a complete one"
                .into(),
        });
    };
    let shard = shard(global).map_err(|message| ConfigError::Invalid {
        path: "--shard".into(),
        message,
    })?;
    let config = Config::load(path)?;
    quota_operations_called(&config).map_err(|message| ConfigError::Invalid {
        path: path.display().to_string(),
        message,
    })?;
    Ok(config.for_shard(shard))
}

/// An `aws.quotas` key that names an operation no collector calls is a
/// typo (`FilterLogEvent`): its override would pace nothing.
fn quota_operations_called(config: &Config) -> Result<(), String> {
    for key in config.aws.quotas.keys() {
        if let Some((service, operation)) = key.split_once(':')
            && !crate::collect::calls(service, operation)
        {
            return Err(format!(
                "aws.quotas: no collector calls {operation} on {service}, so the quota {key:?} would pace nothing (`iam-policy` lists the operations the exporter calls)"
            ));
        }
    }
    Ok(())
}

/// The shard the command line names, by number or by host name.
fn shard(global: &GlobalArgs) -> Result<Shard, String> {
    if global.shard_from_hostname {
        let hostname = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
            .map(|h| h.trim().to_owned())
            .ok_or("--shard-from-hostname: the host name cannot be read")?;
        return Shard::from_hostname(&hostname, global.total_shards);
    }
    match global.shard {
        Some(index) => Shard::new(index, global.total_shards),
        None if global.total_shards > 1 => {
            Err("--total-shards needs --shard or --shard-from-hostname".into())
        }
        None => Ok(Shard::default()),
    }
}

/// Writes a command's answer to stdout. A reader that went away (`| head`)
/// is not an error of the command: it ends quietly, as `quiet_exit` says.
fn print_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

/// True for an error that only says stdout was closed by its reader.
pub fn is_closed_stdout(error: &anyhow::Error) -> bool {
    let broken = Some(std::io::ErrorKind::BrokenPipe);
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().map(|e| e.kind()) == broken
            || cause
                .downcast_ref::<serde_json::Error>()
                .and_then(|e| e.io_error_kind())
                == broken
    })
}

/// `check-config`: the configuration loaded; say what it polls.
pub fn check_config(
    config: &Config,
    web: Option<&web::server::WebConfig>,
) -> anyhow::Result<ExitCode> {
    if let Some(web) = web.filter(|w| w.file().is_some()) {
        let settings = web.settings();
        print_stdout(&format!(
            "web configuration is valid: TLS {}, {} basic-auth user(s), {} header(s)\n",
            if settings.tls.is_some() { "on" } else { "off" },
            settings.users.len(),
            settings.headers.len(),
        ))?;
    }
    let discovered = if config.discovery.organizations.is_some() {
        " and the organisation's"
    } else {
        ""
    };
    print_stdout(&format!(
        "configuration is valid: {} listed account(s){discovered}, regions {}, collectors {}\n",
        Roster::listed(config).accounts.len(),
        config.regions.join(", "),
        config
            .collectors
            .enabled_names()
            .collect::<Vec<_>>()
            .join(", ")
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `iam-policy`: the least-privilege policy for the enabled collectors.
/// With `discovery.organizations`, two: the discovering account's (list
/// the accounts, assume the member role everywhere) and the member role's.
pub fn iam_policy(config: &Config) -> anyhow::Result<ExitCode> {
    let roles: Vec<String> = config
        .accounts
        .iter()
        .filter_map(|a| a.role_arn.clone())
        .collect();
    let enabled_regions = config
        .accounts
        .iter()
        .filter_map(|a| a.regions.as_ref())
        .chain(
            config
                .discovery
                .organizations
                .as_ref()
                .and_then(|o| o.regions.as_ref()),
        )
        .any(|r| *r == crate::config::Regions::Enabled);
    let describe_regions = [("ec2", "DescribeRegions")];
    // Tags are read (and granted) only when tags_as_labels names some.
    let reads_tags = !config.tags_as_labels.is_empty();
    let operations: Vec<&(&str, &str)> = crate::collect::enabled_descriptors(&config.collectors)
        .flat_map(|d| d.operations)
        .filter(|(_, op)| reads_tags || !crate::aws::iam::reads_tags(op))
        .chain(describe_regions.iter().filter(|_| enabled_regions))
        .collect();
    let read = crate::aws::iam::policy(operations.iter().copied(), &roles);
    let policy = match &config.discovery.organizations {
        None => read,
        Some(org) => {
            use crate::aws::iam;
            let partition = crate::accounts::partition_of(&config.regions[0]);
            let mut assumed = vec![format!("arn:{partition}:iam::*:role/{}", org.role_name)];
            assumed.extend(roles.iter().cloned());
            assumed.extend(org.role_arn.iter().cloned());
            let listing = iam::listing_statement(!org.include_ous.is_empty(), reads_tags);
            // The exporter's own credentials assume every role; they list
            // the organisation unless a listing role does; and they read
            // the listed account that uses them.
            let mut own = Vec::new();
            if org.role_arn.is_none() {
                own.push(listing.clone());
            }
            own.push(iam::assume_statement(&assumed));
            if config.accounts.iter().any(|a| a.role_arn.is_none())
                && let Some(reads) = read["Statement"].as_array()
            {
                own.extend(
                    reads
                        .iter()
                        .filter(|s| s["Sid"] != "AssumeReadRoles")
                        .cloned(),
                );
            }
            let member = iam::policy(operations.iter().copied(), &[]);
            let mut documents = serde_json::Map::new();
            documents.insert("discovering_account".into(), iam::document(own));
            if org.role_arn.is_some() {
                documents.insert("listing_role".into(), iam::document(vec![listing]));
            }
            documents.insert("member_role".into(), member);
            serde_json::Value::Object(documents)
        }
    };
    print_stdout(&format!(
        "{}\n",
        serde_json::to_string_pretty(&policy).unwrap_or_default()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Files at least this large are read by several threads at once.
const PARALLEL_FROM: u64 = 64 << 20;

/// Threads for one file: the machine's cores, at most 8.
fn parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

/// `classify`: counts the events of each file (or stdin), each read in
/// `format` or the one its head shows (`log_input::detect`).
pub fn classify(files: &[PathBuf], format: Option<Format>) -> anyhow::Result<ExitCode> {
    let mut tally = Tally::new();
    let stdin = || tally_stream(std::io::stdin().lock(), format).context("reading stdin");
    if files.is_empty() {
        tally.merge(&stdin()?);
    }
    for path in files {
        let counted = if path == Path::new("-") {
            stdin()?
        } else {
            tally_file(path, format, parallelism(), PARALLEL_FROM)
                .with_context(|| format!("cannot read {}", path.display()))?
        };
        tally.merge(&counted);
    }
    print_stdout(&format!("{}\n", tally.to_json()))?;
    Ok(ExitCode::SUCCESS)
}

/// Builds the store and the poller for a configuration, its accounts
/// discovered once; and whether discovery worked.
async fn poller(config: &Config) -> (Arc<Store>, Poller, bool) {
    let store = Store::new(ApiTelemetry::default());
    let aws = Aws::load(&config.aws, &config.regions[0], store.telemetry().clone()).await;
    let roster = aws.discover(config, None).await;
    let discovered = roster.organizations.as_ref().is_none_or(|o| o.successful);
    let poller = Poller::new(config, &roster, &aws, store.clone()).await;
    (store, poller, discovered)
}

/// The execution-log state file the configuration uses, if any.
fn state_file_of(config: &Config) -> Option<&Path> {
    let logs = &config.collectors.execution_logs;
    logs.state_file.as_deref().filter(|_| logs.enabled)
}

/// The server's lock on a state file, held as long as it lives: another
/// process holding it is an error (two writers would overwrite each
/// other's cursors). A lock that cannot be taken at all (a read-only or
/// foreign directory) is said once and the server runs without it; its
/// writes of the state file are counted as they fail.
fn lock_for_server(path: &Path) -> anyhow::Result<Option<StateLock>> {
    match StateLock::acquire(path) {
        Ok(lock) => Ok(Some(lock)),
        Err(e) if e.is_held() => Err(e.into()),
        Err(e) => {
            let e = anyhow::Error::from(e);
            tracing::warn!(error = %format!("{e:#}"), "running without the state file's lock: a second exporter on this file would not be refused");
            Ok(None)
        }
    }
}

fn lock_state_file(config: &Config) -> anyhow::Result<Option<StateLock>> {
    Ok(state_file_of(config)
        .map(lock_for_server)
        .transpose()?
        .flatten())
}

/// For a one-off run (`once`, `diagnose`): the state file's lock, or, when
/// another process holds it (a serving exporter) or it cannot be taken (a
/// user without write access), a run that reads the file (its cursors and
/// error times: the same checks as the server's) but never writes it, said
/// once.
fn lock_or_read_state_file(config: &mut Config) -> Option<StateLock> {
    let path = state_file_of(config)?;
    match StateLock::acquire(path) {
        Ok(lock) => Some(lock),
        Err(e) => {
            let e = anyhow::Error::from(e);
            tracing::warn!(error = %format!("{e:#}"), "this run reads the state file but does not write it");
            config.collectors.execution_logs.state_file_read_only = true;
            None
        }
    }
}

pub async fn once(mut config: Config) -> anyhow::Result<ExitCode> {
    let _lock = lock_or_read_state_file(&mut config);
    let (store, poller, discovered) = poller(&config).await;
    let all_ok = poller.poll_once().await && discovered;
    let published = Publisher::new(store).published();
    let mut out = std::io::stdout().lock();
    for text in published.exposition.text() {
        let text = text.context("inflating the exposition")?;
        out.write_all(&text).context("writing to stdout")?;
    }
    out.flush().context("writing to stdout")?;
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Reads `--web.config.file` (none: plain HTTP without authentication).
pub fn load_web_config(
    global: &GlobalArgs,
) -> Result<Arc<web::server::WebConfig>, web::config::WebConfigError> {
    let stats = Arc::new(web::stats::WebStats::default());
    web::server::WebConfig::load(global.web_config_file.clone(), stats).map(Arc::new)
}

/// How long the publisher waits after a collector records, for the others
/// finishing with it: a round of polls becomes one publish, not one each.
pub const PUBLISH_DEBOUNCE: Duration = Duration::from_millis(100);

pub async fn serve(
    global: &GlobalArgs,
    config: Config,
    web_config: Arc<web::server::WebConfig>,
) -> anyhow::Result<ExitCode> {
    // Registered first: a SIGHUP from now on reloads instead of ending the process.
    let hangups = hangup_signals();
    let state_lock = lock_state_file(&config)?;
    let listener = web::bind(&global.listen_address)
        .await
        .with_context(|| format!("cannot listen on {}", global.listen_address))?;
    let local_address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let store = Store::new(ApiTelemetry::default());
    let publisher = Publisher::new(store.clone());
    tokio::spawn(publisher.clone().run(PUBLISH_DEBOUNCE));
    let (reloads, mut requests) = tokio::sync::mpsc::channel::<web::ReloadRequest>(64);
    spawn_hangup_listener(hangups, reloads.clone());
    let router = web::router(
        publisher.clone(),
        &global.telemetry_path,
        !global.disable_exporter_metrics,
        global.enable_lifecycle.then_some(reloads),
        web_config.stats(),
    );
    // The server runs on its own task, from before the first discovery
    // (which may take a while in a large organisation): /healthz answers
    // at once, /ready once the first polls are published, and scrapes
    // never wait on a reload.
    let mut server = tokio::spawn(web::server::serve(
        listener,
        router,
        web_config.clone(),
        global.web_limits(),
        crate::process::fd_limit(),
        shutdown_signal(),
    ));
    tracing::info!(
        version = crate::render::BuildInfo::long_version(),
        address = %local_address,
        telemetry_path = %global.telemetry_path,
        tls = web_config.tls(),
        regions = %config.regions.join(","),
        "listening"
    );
    let aws = Aws::load(&config.aws, &config.regions[0], store.telemetry().clone()).await;
    let schedule = Arc::new(crate::collect::schedule::Schedule::default());
    let roster = aws.discover(&config, None).await;
    let poller = Poller::new(&config, &roster, &aws, store.clone())
        .await
        .resuming(schedule.clone());
    let mut running = Running {
        targets: poller.target_keys(),
        polls: poller.spawn(),
        files: referenced_files(&config),
        schedule,
        next_refresh: next_refresh(&config, &roster),
        roster,
        config,
        aws,
        state_lock,
    };
    let mut last_reload: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(running.next_refresh), if running.discovers() => {
                running.refresh(&store).await;
            }
            served = &mut server => {
                served
                    .context("HTTP server task failed")?
                    .context("HTTP server failed")?;
                break;
            }
            Some(first) = requests.recv() => {
                // Reloads are spaced by RELOAD_SPACING; the requests that
                // arrive meanwhile are answered by the one reload after it.
                if let Some(last) = last_reload {
                    tokio::time::sleep_until(last + RELOAD_SPACING).await;
                }
                let mut replies = vec![first];
                while let Ok(more) = requests.try_recv() {
                    replies.push(more);
                }
                let outcome = running.reload(global, &store).await;
                last_reload = Some(tokio::time::Instant::now());
                store.record_reload(match &outcome {
                    Ok(Reloaded::Applied) => Some(true),
                    Ok(Reloaded::Unchanged) => Some(false),
                    Err(_) => None,
                });
                // Published before the reload is answered: whoever asked
                // for it reads its outcome in the very next scrape.
                publisher.publish_now();
                let answer = match outcome {
                    Ok(Reloaded::Applied) => {
                        tracing::info!(requests = replies.len(), "configuration reloaded");
                        Ok("configuration reloaded".to_owned())
                    }
                    Ok(Reloaded::Unchanged) => {
                        tracing::info!(requests = replies.len(), "configuration unchanged; polls go on as they were");
                        Ok("configuration unchanged; nothing to reload".to_owned())
                    }
                    Err(e) => {
                        let reason = format!("{e:#}");
                        tracing::error!(error = %reason, "configuration reload failed; the previous one keeps running");
                        Err(reason)
                    }
                };
                for reply in replies.into_iter().flatten() {
                    let _ = reply.send(answer.clone());
                }
            }
        }
    }
    running.polls.abort_all();
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The shortest time between two reloads: a flapping config watcher or a
/// `POST /-/reload` loop reloads at most once a second, each request
/// answered by the reload that follows it.
pub const RELOAD_SPACING: Duration = Duration::from_secs(1);

/// What `serve` runs by: the configuration, its AWS clients and polls.
struct Running {
    config: Config,
    /// The files the configuration names, as they read when it was loaded.
    files: Vec<u8>,
    /// When each poll last started: a reload resumes the polls it keeps.
    schedule: Arc<crate::collect::schedule::Schedule>,
    aws: Aws,
    /// Each target's identity (configured account, region), by index.
    targets: Vec<(crate::config::AccountConfig, String)>,
    /// The accounts polled, as the latest discovery found them.
    roster: Roster,
    /// When discovery asks AWS again.
    next_refresh: tokio::time::Instant,
    polls: tokio::task::JoinSet<()>,
    state_lock: Option<StateLock>,
}

/// The contents of the files the configuration names beside itself (the
/// TLS probe's CA file): a reload of an unchanged configuration whose CA
/// file was replaced is a reload. A file that cannot be read reads empty.
fn referenced_files(config: &Config) -> Vec<u8> {
    config
        .collectors
        .tls_probe
        .ca_file
        .as_deref()
        .and_then(|path| std::fs::read(path).ok())
        .unwrap_or_default()
}

/// What a reload did.
enum Reloaded {
    /// The file says what the running configuration says: nothing changed,
    /// no poll restarted, no AWS call made.
    Unchanged,
    Applied,
}

impl Running {
    /// Reads the configuration file again and, when it is valid and
    /// different, polls by it: the old polls stop, what the store knows of
    /// targets still configured is kept under their new positions
    /// (execution-log counts and cursors among it), the AWS clients are
    /// kept (or rebuilt keeping their quota buckets and account ids), and
    /// the new polls start. An invalid file changes nothing.
    async fn reload(
        &mut self,
        global: &GlobalArgs,
        store: &Arc<Store>,
    ) -> anyhow::Result<Reloaded> {
        let config = load_config(global)?;
        let files = referenced_files(&config);
        if config == self.config && files == self.files {
            return Ok(Reloaded::Unchanged);
        }
        // The state file it names is locked before anything changes: one
        // that another process holds fails the reload, and the old one
        // keeps running.
        let new_lock = match (state_file_of(&config), self.state_lock.as_ref()) {
            (Some(path), Some(held)) if held.locks(path) => None,
            (wanted, _) => Some(wanted.map(lock_for_server).transpose()?.flatten()),
        };
        let aws = self.aws.reload(&config.aws, &config.regions[0]).await;
        let roster = aws.discover(&config, Some(&self.roster)).await;
        self.next_refresh = next_refresh(&config, &roster);
        self.apply(&config, roster, aws, store).await;
        self.files = files;
        self.config = config;
        if let Some(lock) = new_lock {
            self.state_lock = lock;
        }
        Ok(Reloaded::Applied)
    }

    /// Whether the configuration asks AWS which accounts or regions to poll.
    fn discovers(&self) -> bool {
        let config = &self.config;
        config.discovery.organizations.is_some()
            || config
                .accounts
                .iter()
                .any(|a| a.regions == Some(crate::config::Regions::Enabled))
    }

    /// Asks AWS again which accounts and regions to poll: when the answer
    /// differs, polls by it from now on (a new account at once, a removed
    /// one's series gone); when it is the same, nothing restarts. A failed
    /// listing keeps the last good list and is tried again sooner.
    async fn refresh(&mut self, store: &Arc<Store>) {
        let roster = self.aws.discover(&self.config, Some(&self.roster)).await;
        self.next_refresh = next_refresh(&self.config, &roster);
        if roster.accounts == self.roster.accounts {
            store.set_discovery(&roster);
            self.roster = roster;
            return;
        }
        tracing::info!(
            accounts = roster.accounts.len(),
            before = self.roster.accounts.len(),
            "the accounts to poll changed; polling the new list"
        );
        let config = self.config.clone();
        let aws = self.aws.clone();
        self.apply(&config, roster, aws, store).await;
    }

    /// Polls `roster` under `config` from now on: the old polls stop, what
    /// the store knows of targets still polled is kept under their new
    /// positions, and the new polls start.
    async fn apply(&mut self, config: &Config, roster: Roster, aws: Aws, store: &Arc<Store>) {
        self.polls.abort_all();
        while self.polls.join_next().await.is_some() {}
        // An aborted poll may still be finishing on another thread: from
        // here on its record is dropped, so it cannot land on a re-keyed target.
        store.next_generation();
        let poller = Poller::new(config, &roster, &aws, store.clone())
            .await
            .resuming(self.schedule.clone());
        let new_targets = poller.target_keys();
        let moved = self
            .targets
            .iter()
            .enumerate()
            .filter_map(|(old, key)| {
                new_targets
                    .iter()
                    .position(|k| k == key)
                    .map(|new| (old, new))
            })
            .collect();
        store.retarget(&moved);
        // What scopes no longer polled had: their quota buckets, their
        // polls' places in the schedule and the series of their AWS calls.
        // A series is kept while its account and its region are still
        // polled (in one scope or another): AssumeRole is counted in the
        // first region, a first GetCallerIdentity under the role's account
        // or `unknown`.
        aws.retain_scopes(&new_targets);
        self.schedule.retain(|(_, account, region)| {
            new_targets.contains(&(account.clone(), region.clone()))
        });
        let scopes = poller.scopes();
        let mut accounts: std::collections::BTreeSet<String> =
            scopes.iter().map(|s| s.account.clone()).collect();
        accounts.extend(
            roster
                .accounts
                .iter()
                .map(|a| crate::aws::fallback_account(&a.account)),
        );
        let mut regions: std::collections::BTreeSet<String> =
            scopes.iter().map(|s| s.region.clone()).collect();
        regions.insert(config.regions[0].clone());
        // Organizations is asked from its global endpoint's region, by the
        // lister's account (its role's, or `unknown` for ambient credentials).
        if let Some(org) = &config.discovery.organizations {
            let partition = crate::accounts::partition_of(&config.regions[0]);
            regions.insert(crate::accounts::organizations_region(partition).to_owned());
            accounts.insert(crate::aws::fallback_account(
                &crate::config::AccountConfig {
                    role_arn: org.role_arn.clone(),
                    ..Default::default()
                },
            ));
        }
        store
            .telemetry()
            .retain_scopes(|s| accounts.contains(&s.account) && regions.contains(&s.region));
        self.targets = new_targets;
        self.polls = poller.spawn();
        self.aws = aws;
        self.roster = roster;
    }
}

/// When discovery asks AWS again: after `discovery.refresh`, or after a
/// minute while the organisation cannot be listed (so a start during an
/// outage does not wait an hour for the accounts). An account whose
/// regions cannot be read waits for the next refresh: it is that
/// account's failure, not a reason to list the organisation every minute.
fn next_refresh(config: &Config, roster: &Roster) -> tokio::time::Instant {
    let failing = roster.organizations.as_ref().is_some_and(|o| !o.successful);
    let wait = if failing {
        config.discovery.refresh.min(Duration::from_secs(60))
    } else {
        config.discovery.refresh
    };
    tokio::time::Instant::now() + wait
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

/// SIGHUP asks for a reload, as it does of every Prometheus component.
fn hangup_signals() -> Hangups {
    #[cfg(unix)]
    {
        let hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup());
        if hangups.is_err() {
            tracing::warn!("cannot listen for SIGHUP; reload with POST /-/reload");
        }
        hangups.ok()
    }
}

fn spawn_hangup_listener(hangups: Hangups, reloads: tokio::sync::mpsc::Sender<web::ReloadRequest>) {
    #[cfg(unix)]
    if let Some(mut hangups) = hangups {
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                if reloads.send(None).await.is_err() {
                    return;
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = (hangups, reloads);
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}

pub async fn diagnose(
    mut config: Config,
    vpc_link: Option<&str>,
    output: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let _lock = lock_or_read_state_file(&mut config);
    let (store, poller, discovered) = poller(&config).await;
    let all_polled = poller.poll_once().await && discovered;
    // The findings this poll was published with: diagnosed once.
    let published = Publisher::new(store).published();
    let reports: Vec<&LinkReport> = published
        .findings
        .links()
        .map(|view| &view.report)
        .filter(|r| vpc_link.is_none_or(|id| r.vpc_link_id == id))
        .collect();
    if let Some(id) = vpc_link.filter(|_| reports.is_empty()) {
        let filtered = match config.watch.vpc_links.is_everything() {
            true => "",
            false => ", or the watch.vpc_links filters leave it out",
        };
        eprintln!("no VPC link {id} in the configured accounts and regions{filtered}");
        return Ok(ExitCode::FAILURE);
    }
    let stdout = std::io::stdout();
    let colour = stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = BufWriter::new(stdout.lock());
    match output {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &serde_json::json!({"vpc_links": reports}))?;
            writeln!(out)?;
        }
        OutputFormat::Text => write_text_report(&mut out, &reports, colour)?,
    }
    out.flush()?;
    if !all_polled {
        eprintln!("warning: some collectors failed; the report is incomplete (see the log)");
    }
    let all_healthy = reports.iter().all(|r| r.healthy);
    Ok(if all_healthy && all_polled {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn write_text_report(
    out: &mut impl Write,
    reports: &[&LinkReport],
    colour: bool,
) -> std::io::Result<()> {
    let paint = |code: &str, text: &str| {
        if colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    };
    if reports.is_empty() {
        writeln!(out, "no VPC links found")?;
    }
    for report in reports {
        let verdict = if report.healthy {
            paint("32", "healthy")
        } else if report.checks.iter().all(|c| c.ok || c.unknown.is_some()) {
            paint("33", "NOT KNOWN")
        } else {
            paint("31", "UNHEALTHY")
        };
        writeln!(
            out,
            "VPC link {} ({}, {} API) in {}/{}: {verdict}",
            visible(&report.vpc_link_id),
            visible(&report.name),
            report.api_type,
            visible(&report.account),
            visible(&report.region)
        )?;
        for api in &report.unread_apis {
            writeln!(
                out,
                "  {} API {} ({}) could not be read: {}; its integrations are as last read",
                paint("33", "?"),
                visible(&api.name),
                visible(&api.api_id),
                visible(&api.error)
            )?;
        }
        if let Some(days) = report.idle_days() {
            writeln!(
                out,
                "  last request {days} days ago (HTTP-side links go INACTIVE after 60 days without traffic)"
            )?;
        }
        for check in &report.checks {
            let mark = if check.ok {
                paint("32", "✔")
            } else if check.unknown.is_some() {
                paint("33", "?")
            } else {
                paint("31", "✘")
            };
            let object: Vec<String> = check
                .object
                .iter()
                .map(|(k, v)| format!("{k}={}", visible(v)))
                .collect();
            writeln!(out, "  {mark} {:<32} {}", check.check, object.join(" "))?;
            if let Some(cause) = &check.cause {
                writeln!(out, "      cause: {}", visible(cause))?;
            }
            if let Some(fix) = &check.fix {
                writeln!(out, "      fix:   {}", visible(fix))?;
            }
            if let Some(note) = &check.note {
                writeln!(out, "      note:  {}", visible(note))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Random values in every field of every section: what the
        /// configuration accepts can be used without a panic (quota
        /// buckets built and asked, every collector built, the checks'
        /// clock made).
        #[test]
        fn an_accepted_configuration_with_random_values_never_panics(
            values in crate::testkit::config_values(),
        ) {
            let text = crate::testkit::random_config_text(&values);
            if let Ok(config) = crate::config::Config::parse(&text) {
                let limits = crate::aws::quota::Limits::new(config.aws.quota_share, &config.aws.quotas)
                    .adaptive(true);
                let quotas = crate::aws::quota::ScopeQuotas::new(std::sync::Arc::new(limits));
                let now = std::time::Instant::now();
                for _ in 0..100 {
                    let _ = quotas.reserve("apigateway", "GetResources", now, Some(now + config.collectors.vpc_links.timeout));
                    quotas.throttled("apigateway", "GetResources", now);
                }
                let _ = crate::collect::enabled_collectors(&config);
                let _ = crate::diagnose::Clock::from_config(i64::MAX, &config.diagnosis);
            }
        }
    }

    /// One report with one failing `link_available` check.
    fn failed_link(name: &str, object: &str, cause: &str, idle_seconds: Option<i64>) -> LinkReport {
        LinkReport {
            vpc_link_id: "abc".into(),
            name: name.into(),
            api_type: "rest",
            account: "123456789012".into(),
            region: "us-east-1".into(),
            healthy: false,
            checks: vec![crate::diagnose::Check {
                check: "link_available",
                ok: false,
                object: [("vpc_link", object.to_owned())].into(),
                cause: Some(cause.into()),
                unknown: None,
                note: None,
                fix: Some("Recreate it.".into()),
                place: Default::default(),
            }],
            idle_seconds,
            unread_apis: Vec::new(),
        }
    }

    #[test]
    fn text_report_escapes_control_characters_from_aws() {
        let report = failed_link(
            "evil\x1b[2J\rname",
            "abc\x07",
            "AWS says: \x1b]0;title\x07",
            None,
        );
        let mut out = Vec::new();
        write_text_report(&mut out, &[&report], false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            !text.contains('\x1b') && !text.contains('\x07') && !text.contains('\r'),
            "{text:?}"
        );
        assert!(text.contains("evil\\u{1b}[2J\\u{d}name"), "{text}");
    }

    #[test]
    fn text_report_without_colour() {
        let report = failed_link(
            "orders",
            "abc",
            "The VPC link is FAILED.",
            Some(50 * 86_400 + 3_600),
        );
        let mut out = Vec::new();
        write_text_report(&mut out, &[&report], false).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("VPC link abc (orders, rest API) in 123456789012/us-east-1: UNHEALTHY"),
            "{text}"
        );
        assert!(text.contains("✘ link_available"), "{text}");
        assert!(text.contains("cause: The VPC link is FAILED."), "{text}");
        assert!(!text.contains('\x1b'));
        assert!(
            text.contains("last request 50 days ago (HTTP-side links go INACTIVE after 60 days without traffic)"),
            "{text}"
        );
    }
}
