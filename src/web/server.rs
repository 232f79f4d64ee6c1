//! The HTTP server: accepts connections (with TLS when the web configuration
//! asks for it), holds each to its deadlines, keeps the number open below the
//! file-descriptor limit, checks credentials, and ends within a deadline.
//!
//! What a hostile or broken client can do, and what stops it:
//! - open connections and send nothing, or a header byte at a time
//!   (slowloris): `--web.read-header-timeout` closes them, counted from the
//!   accept (TLS handshake included) or from the first byte of a request
//!   after an answer (a partial request pipelined behind a whole one is
//!   held to the idle timeout instead);
//! - hold connections idle: `--web.idle-timeout` after the last answer;
//! - open more connections than there are file descriptors: at
//!   `--web.max-connections` a connection serving nothing is closed to make
//!   room (first those that never finished a request or wait for their
//!   credentials), so a scrape gets in unless the flood outpaces its
//!   handshake;
//! - flood wrong passwords: see `auth` (one bcrypt at a time, 16 waiting);
//! - send many requests at once: past `--web.max-requests` in flight, 503;
//! - keep the process alive after SIGTERM: `--web.shutdown-timeout` cuts
//!   whatever is still open.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tower::ServiceExt;

use super::auth::{BasicAuth, Verdict};
use super::config::{self, FileStamps, WebSettings};
use super::stats::{Closed, Refused, WebStats};
use crate::lock::LockOrRecover;

/// Limits and deadlines of the server (the `--web.*` flags).
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most requests in flight at once; 0 for no limit.
    pub max_requests: usize,
    /// Most connections open at once.
    pub max_connections: usize,
    /// From accept, or from a request's first byte, to its complete header.
    pub read_header_timeout: Duration,
    /// From an answer to the next request's first byte.
    pub idle_timeout: Duration,
    /// From the shutdown signal to the end, whatever is still open.
    pub shutdown_timeout: Duration,
}

/// File descriptors kept free of connections: the AWS clients, the state
/// file, the log and the listener need theirs.
const RESERVED_FDS: u64 = 64;

impl Limits {
    /// The connection limit actually applied: `max_connections`, but below
    /// the process' file-descriptor limit less what the rest needs.
    pub fn connection_limit(&self, fd_limit: Option<u64>) -> usize {
        let room = fd_limit.map_or(u64::MAX, |fds| {
            if fds > 2 * RESERVED_FDS {
                fds - RESERVED_FDS
            } else {
                fds / 2
            }
        });
        self.max_connections
            .min(usize::try_from(room).unwrap_or(usize::MAX))
            .max(1)
    }
}

/// The web configuration in force: read from `--web.config.file` and read
/// again when it or a file it names changes, as the exporter-toolkit does.
/// A changed file that is invalid is refused (logged and counted); the last
/// good one stays in force.
pub struct WebConfig {
    path: Option<PathBuf>,
    current: ArcSwap<WebSettings>,
    stamps: Mutex<FileStamps>,
    /// When the files were last looked at (ms since `start`).
    checked: AtomicU64,
    start: Instant,
    stats: Arc<WebStats>,
}

impl WebConfig {
    /// Reads the file (none: plain HTTP without authentication).
    pub fn load(
        path: Option<PathBuf>,
        stats: Arc<WebStats>,
    ) -> Result<WebConfig, config::WebConfigError> {
        let (settings, stamps) = match &path {
            Some(path) => config::load(path)?,
            None => (WebSettings::plain(), FileStamps::default()),
        };
        stats.config_read(true);
        Ok(WebConfig {
            path,
            current: ArcSwap::from_pointee(settings),
            stamps: Mutex::new(stamps),
            checked: AtomicU64::new(0),
            start: Instant::now(),
            stats,
        })
    }

    /// The file read, if any.
    pub fn file(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// The web server's metrics, counted here and by the server.
    pub fn stats(&self) -> Arc<WebStats> {
        self.stats.clone()
    }

    /// True when the server speaks TLS (fixed at start, as in the toolkit).
    pub fn tls(&self) -> bool {
        self.current.load().tls.is_some()
    }

    /// The settings in force, looking at the files at most once a second.
    pub fn settings(&self) -> Arc<WebSettings> {
        let now = self.start.elapsed().as_millis() as u64;
        let last = self.checked.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 1000
            && self
                .checked
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.reload_if_changed();
        }
        self.current.load_full()
    }

    fn reload_if_changed(&self) {
        let Some(path) = &self.path else { return };
        let mut stamps = self.stamps.lock_or_recover();
        if !stamps.changed() {
            return;
        }
        match config::load(path) {
            Ok((_, new_stamps)) if new_stamps.empty_config() => {
                // Most likely a file being rewritten in place: serving
                // without credentials on its account would be wrong.
                *stamps = new_stamps;
                self.stats.config_read(false);
                tracing::error!(file = %path.display(), "web configuration not reloaded: the file is empty (to serve without one, restart without --web.config.file)");
            }
            Ok((settings, new_stamps))
                if settings.users.is_empty() && !self.current.load().users.is_empty() =>
            {
                // A half-written file, most likely; removing every user
                // would open the port to anyone.
                let _ = settings;
                *stamps = new_stamps;
                self.stats.config_read(false);
                tracing::error!(file = %path.display(), "web configuration not reloaded: it has no basic_auth_users while the running one has (to serve without authentication, restart)");
            }
            Ok((settings, new_stamps)) if settings.tls.is_some() == self.tls() => {
                self.current.store(Arc::new(settings));
                *stamps = new_stamps;
                self.stats.config_read(true);
                tracing::info!(file = %path.display(), "web configuration reloaded");
            }
            Ok((_, new_stamps)) => {
                *stamps = new_stamps;
                self.stats.config_read(false);
                tracing::error!(file = %path.display(), "web configuration not reloaded: turning TLS on or off takes a restart");
            }
            Err(e) => {
                // One error per change; a fix to any file it got to (a
                // certificate created later, say) is noticed.
                *stamps = e.stamps.clone();
                self.stats.config_read(false);
                tracing::error!(error = %e, "web configuration not reloaded; the previous one stays in force");
            }
        }
    }
}

/// What every connection task shares.
struct Shared {
    router: Router,
    config: Arc<WebConfig>,
    stats: Arc<WebStats>,
    auth: BasicAuth,
    in_flight: Option<Arc<Semaphore>>,
    rate: Mutex<Option<Bucket>>,
    limits: Limits,
    table: Table,
}

/// A token bucket for the web configuration's `rate_limit`.
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Shared {
    fn rate_limited(&self, settings: &WebSettings) -> bool {
        let Some(limit) = settings.rate_limit else {
            return false;
        };
        let mut bucket = self.rate.lock_or_recover();
        let now = Instant::now();
        let b = bucket.get_or_insert(Bucket {
            tokens: f64::from(limit.burst),
            at: now,
        });
        let refill = now.duration_since(b.at).as_secs_f64() / limit.interval.as_secs_f64();
        b.tokens = (b.tokens + refill).min(f64::from(limit.burst));
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            false
        } else {
            true
        }
    }
}

/// One open connection, as the sweeper and the limit see it.
struct Connection {
    /// Requests being answered now (waiting for their credentials included).
    in_flight: AtomicU32,
    /// Of those, the ones past authentication: a connection serving one is
    /// never closed to make room.
    serving: AtomicU32,
    /// HTTP/2: bytes are frames (pings, window updates), not the start of a
    /// request, so only the idle deadline applies between requests.
    h2: AtomicBool,
    /// Requests received so far.
    requests: AtomicU64,
    /// When the connection was accepted (ms since the table's start).
    accepted: u64,
    /// When the last answer was given, or the accept (ms).
    idle_since: AtomicU64,
    /// When the first byte of a request not yet complete arrived (ms + 1; 0: none).
    pending_since: AtomicU64,
    /// Set once the server decided to close it.
    closing: AtomicBool,
    close: Notify,
}

/// The open connections.
struct Table {
    start: Instant,
    next: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Connection>>>,
    /// Signalled when a connection is gone.
    freed: Notify,
}

impl Table {
    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Connection>>> {
        self.open.lock_or_recover()
    }

    fn register(&self) -> (u64, Arc<Connection>) {
        let now = self.now();
        let conn = Arc::new(Connection {
            in_flight: AtomicU32::new(0),
            serving: AtomicU32::new(0),
            h2: AtomicBool::new(false),
            requests: AtomicU64::new(0),
            accepted: now,
            idle_since: AtomicU64::new(now),
            pending_since: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            close: Notify::new(),
        });
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, conn.clone());
        (id, conn)
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
        self.freed.notify_waiters();
    }

    /// Below `limit` open connections, closing others to get there (each
    /// counted); false when every one is busy answering. Waits for the
    /// closed ones to be gone, so the file descriptors are free before the
    /// next accept.
    async fn make_room(&self, limit: usize, stats: &WebStats) -> bool {
        loop {
            let freed = self.freed.notified();
            let (open, closing) = {
                let open = self.lock();
                let closing = open
                    .values()
                    .filter(|c| c.closing.load(Ordering::Relaxed))
                    .count();
                (open.len(), closing)
            };
            if open < limit {
                return true;
            }
            if open - closing >= limit {
                if !self.shed_one() {
                    return false;
                }
                stats.closed(Closed::OverLimit);
            }
            // A closed connection's task ends at its next poll; never wait long.
            let _ = tokio::time::timeout(Duration::from_millis(100), freed).await;
        }
    }

    /// Closes one connection to make room: of those serving nothing, first
    /// the ones that never finished a request or still wait for their
    /// credentials to be checked, longest first; then idle kept-alive ones.
    /// False when every connection is serving a request.
    fn shed_one(&self) -> bool {
        let open = self.lock();
        // Ties (the same millisecond) go to the one accepted first.
        let victim = open
            .iter()
            .filter(|(_, c)| {
                c.serving.load(Ordering::Relaxed) == 0 && !c.closing.load(Ordering::Relaxed)
            })
            .min_by_key(|(id, c)| {
                let requests = c.requests.load(Ordering::Relaxed);
                let waiting = c.in_flight.load(Ordering::Relaxed) > 0;
                if requests == 0 || waiting {
                    (0, c.accepted, **id)
                } else {
                    (1, c.idle_since.load(Ordering::Relaxed), **id)
                }
            });
        match victim {
            Some((_, c)) => {
                c.closing.store(true, Ordering::Relaxed);
                c.close.notify_one();
                true
            }
            None => false,
        }
    }

    /// Closes the connections past their deadlines, counting each by reason.
    fn sweep(&self, limits: &Limits, stats: &WebStats) {
        let now = self.now();
        let header = limits.read_header_timeout.as_millis() as u64;
        let idle = limits.idle_timeout.as_millis() as u64;
        for c in self.lock().values() {
            if c.in_flight.load(Ordering::Relaxed) > 0 || c.closing.load(Ordering::Relaxed) {
                continue;
            }
            let pending = c.pending_since.load(Ordering::Relaxed);
            let why = if c.requests.load(Ordering::Relaxed) == 0 {
                (now.saturating_sub(c.accepted) > header).then_some(Closed::HeaderTimeout)
            } else if pending > 0 {
                (now.saturating_sub(pending - 1) > header).then_some(Closed::HeaderTimeout)
            } else {
                (now.saturating_sub(c.idle_since.load(Ordering::Relaxed)) > idle)
                    .then_some(Closed::IdleTimeout)
            };
            if let Some(why) = why {
                c.closing.store(true, Ordering::Relaxed);
                c.close.notify_one();
                stats.closed(why);
            }
        }
    }
}

/// A request being answered: in flight on its connection until dropped,
/// which is when its whole body has been handed to the connection.
struct Active {
    conn: Arc<Connection>,
    start: Instant,
    serving: bool,
    /// Its `--web.max-requests` slot, held until the body is sent.
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Active {
    fn begin(conn: Arc<Connection>, start: Instant) -> Active {
        conn.in_flight.fetch_add(1, Ordering::Relaxed);
        conn.requests.fetch_add(1, Ordering::Relaxed);
        conn.pending_since.store(0, Ordering::Relaxed);
        Active {
            conn,
            start,
            serving: false,
            slot: None,
        }
    }

    /// Past authentication: its connection is no longer one to close for room.
    fn serving(&mut self) {
        if !self.serving {
            self.serving = true;
            self.conn.serving.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        if self.serving {
            self.conn.serving.fetch_sub(1, Ordering::Relaxed);
        }
        let now = self.start.elapsed().as_millis() as u64;
        self.conn.idle_since.store(now, Ordering::Relaxed);
        self.conn.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its request in flight until it is all sent
/// (or the connection drops it).
struct Guarded {
    body: Body,
    _active: Active,
}

impl http_body::Body for Guarded {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// A connection's byte stream, noting when a request starts arriving.
struct Tracked<S> {
    inner: S,
    conn: Arc<Connection>,
    start: Instant,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before
            && !self.conn.h2.load(Ordering::Relaxed)
            && self.conn.in_flight.load(Ordering::Relaxed) == 0
            && self.conn.pending_since.load(Ordering::Relaxed) == 0
        {
            let now = self.start.elapsed().as_millis() as u64 + 1;
            self.conn.pending_since.store(now, Ordering::Relaxed);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Serves `router` on `listener` until `shutdown` completes; then lets the
/// requests in flight finish, and cuts what is left at the shutdown deadline.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: Arc<WebConfig>,
    limits: Limits,
    fd_limit: Option<u64>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max_connections = limits.connection_limit(fd_limit);
    if max_connections < limits.max_connections {
        tracing::warn!(
            max_connections,
            asked = limits.max_connections,
            fd_limit = fd_limit.unwrap_or(0),
            "--web.max-connections lowered below the file-descriptor limit"
        );
    }
    let stats = config.stats();
    stats.set_limit(max_connections);
    let shared = Arc::new(Shared {
        router,
        config,
        stats: stats.clone(),
        auth: BasicAuth::default(),
        in_flight: (limits.max_requests > 0).then(|| Arc::new(Semaphore::new(limits.max_requests))),
        rate: Mutex::new(None),
        limits: limits.clone(),
        table: Table {
            start: Instant::now(),
            next: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            freed: Notify::new(),
        },
    });
    let (stop, stopping) = watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let mut shutdown = pin!(shutdown);
    let tick = (limits.read_header_timeout.min(limits.idle_timeout) / 4)
        .clamp(Duration::from_millis(20), Duration::from_millis(500));
    let mut sweep = tokio::time::interval(tick);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut accept_errors = 0u64;
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = sweep.tick() => shared.table.sweep(&shared.limits, &shared.stats),
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors or a connection reset
                        // before accept: wait a moment rather than spin.
                        accept_errors += 1;
                        if accept_errors.is_power_of_two() {
                            tracing::warn!(error = %e, count = accept_errors, "cannot accept a connection");
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if !shared.table.make_room(max_connections, &shared.stats).await {
                    // Every connection is answering a request: this one waits for none.
                    shared.stats.closed(Closed::OverLimit);
                    drop(stream);
                    continue;
                }
                let _ = stream.set_nodelay(true);
                // Counted from the accept, not from when its task first runs.
                let registered = shared.table.register();
                shared.stats.opened();
                connections.spawn(connection(stream, registered, shared.clone(), stopping.clone()));
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    let open = connections.len();
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            connections = connections.len(),
            of = open,
            deadline = %humantime::format_duration(limits.shutdown_timeout),
            "connections still open at the shutdown deadline are cut"
        );
        connections.abort_all();
    }
    Ok(())
}

async fn connection(
    stream: TcpStream,
    (id, conn): (u64, Arc<Connection>),
    shared: Arc<Shared>,
    mut stopping: watch::Receiver<bool>,
) {
    let _gone = scopeguard(|| {
        shared.table.remove(id);
        shared.stats.finished();
    });
    let settings = shared.config.settings();
    let tracked = Tracked {
        inner: stream,
        conn: conn.clone(),
        start: shared.table.start,
    };
    match settings.tls.clone() {
        None => serve_http(tracked, false, &shared, &conn, &mut stopping).await,
        Some(tls) => {
            let accept = tokio_rustls::TlsAcceptor::from(tls).accept(tracked);
            let stream = tokio::select! {
                accepted = accept => match accepted {
                    Ok(stream) => stream,
                    Err(e) => {
                        shared.stats.closed(Closed::TlsHandshake);
                        tracing::debug!(error = %e, "TLS handshake failed");
                        return;
                    }
                },
                () = conn.close.notified() => return,
                _ = stopping.changed() => return,
            };
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            conn.h2.store(h2, Ordering::Relaxed);
            serve_http(stream, h2, &shared, &conn, &mut stopping).await;
        }
    }
}

async fn serve_http<S>(
    io: S,
    h2: bool,
    shared: &Arc<Shared>,
    conn: &Arc<Connection>,
    stopping: &mut watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder = if h2 {
        builder.http2_only()
    } else {
        builder.http1_only()
    };
    let service = {
        let shared = shared.clone();
        let conn = conn.clone();
        hyper::service::service_fn(move |request| {
            let shared = shared.clone();
            let conn = conn.clone();
            async move { Ok::<_, Infallible>(handle(request, &shared, &conn).await) }
        })
    };
    let served = builder.serve_connection(TokioIo::new(io), service);
    let mut served = pin!(served);
    let mut graceful = false;
    loop {
        tokio::select! {
            _ = served.as_mut() => return,
            () = conn.close.notified() => return,
            changed = stopping.changed(), if !graceful => {
                let _ = changed;
                // Answers being written are finished; idle connections close
                // at once; the shutdown deadline cuts the rest.
                graceful = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Runs `f` when dropped.
fn scopeguard<F: FnOnce()>(f: F) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

async fn handle(
    request: Request<Incoming>,
    shared: &Shared,
    conn: &Arc<Connection>,
) -> Response<Body> {
    let mut active = Active::begin(conn.clone(), shared.table.start);
    let settings = shared.config.settings();
    let response = respond(request, shared, &settings, &mut active).await;
    let (mut parts, body) = response.into_parts();
    for (name, value) in &settings.headers {
        parts.headers.insert(name.clone(), value.clone());
    }
    Response::from_parts(
        parts,
        Body::new(Guarded {
            body,
            _active: active,
        }),
    )
}

async fn respond(
    request: Request<Incoming>,
    shared: &Shared,
    settings: &WebSettings,
    active: &mut Active,
) -> Response<Body> {
    if shared.rate_limited(settings) {
        shared.stats.refused(Refused::RateLimited);
        return plain(StatusCode::TOO_MANY_REQUESTS, "too many requests\n");
    }
    if !settings.users.is_empty() {
        let authorization = request.headers().get(header::AUTHORIZATION);
        match shared.auth.check(&settings.users, authorization).await {
            Verdict::Allowed => {}
            Verdict::Busy => {
                shared.stats.refused(Refused::AuthBusy);
                return plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many credentials waiting to be checked; try again\n",
                );
            }
            Verdict::Denied => {
                shared.stats.refused(Refused::Unauthorized);
                let mut response = plain(StatusCode::UNAUTHORIZED, "Unauthorized\n");
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"aws-connectivity-exporter\""),
                );
                return response;
            }
        }
    }
    active.serving();
    active.slot = match &shared.in_flight {
        None => None,
        Some(slots) => match slots.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                shared.stats.refused(Refused::MaxRequests);
                return plain(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too many requests in flight (--web.max-requests); try again\n",
                );
            }
        },
    };
    let request = request.map(Body::new);
    match shared.router.clone().oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_requests: 40,
            max_connections: 512,
            read_header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            shutdown_timeout: Duration::from_secs(5),
        }
    }

    /// Sends one request on a new loopback connection; the status line.
    async fn status_of(address: std::net::SocketAddr, path: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = TcpStream::connect(address).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer.lines().next().unwrap_or("").to_string()
    }

    #[tokio::test]
    async fn past_max_requests_in_flight_the_answer_is_503_and_shutdown_waits_for_the_rest() {
        let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (inside, held) = (entered.clone(), release.clone());
        let router = Router::new().route(
            "/slow",
            axum::routing::get(move || {
                let (inside, held) = (inside.clone(), held.clone());
                async move {
                    inside.notify_one();
                    held.notified().await;
                    "done"
                }
            }),
        );
        let stats = Arc::new(WebStats::default());
        let config = Arc::new(WebConfig::load(None, stats.clone()).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let mut l = limits();
        l.max_requests = 1;
        let server = tokio::spawn(serve(listener, router, config, l, None, async {
            let _ = stopped.await;
        }));
        let slow = tokio::spawn(status_of(address, "/slow"));
        entered.notified().await;
        let second = status_of(address, "/slow").await;
        assert!(second.contains("503"), "{second}");
        assert!(
            stats
                .exposition()
                .contains("awsconn_web_requests_refused_total{reason=\"max_requests\"} 1")
        );
        // Shutdown lets the request in flight finish: released only once
        // the listener is closed.
        stop.send(()).unwrap();
        while TcpStream::connect(address).await.is_ok() {
            tokio::task::yield_now().await;
        }
        release.notify_one();
        assert!(slow.await.unwrap().contains("200"));
        server.await.unwrap().unwrap();
    }

    #[test]
    fn reloads_refuse_an_empty_file_and_notice_a_certificate_that_appears_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        super::super::tls::test_certificate(dir.path(), "old");
        let tls = |name: &str| {
            format!(
                "tls_server_config: {{cert_file: {name}.pem, key_file: {name}.key}}\nbasic_auth_users: {{}}\n"
            )
        };
        std::fs::write(&path, tls("old")).unwrap();
        let stats = Arc::new(WebStats::default());
        let config = WebConfig::load(Some(path.clone()), stats.clone()).unwrap();
        let ok = || {
            stats
                .exposition()
                .lines()
                .any(|l| l == "awsconn_web_config_last_reload_successful 1")
        };
        let first = config.current.load_full();

        // Emptied in place (a rewrite half done): refused, the old one serves.
        std::fs::write(&path, "").unwrap();
        config.reload_if_changed();
        assert!(!ok());
        assert!(Arc::ptr_eq(&first, &config.current.load_full()));

        // Pointed at a certificate not there yet: refused...
        std::fs::write(&path, tls("new")).unwrap();
        config.reload_if_changed();
        assert!(!ok());
        // ...and taken once it appears, without touching the file.
        super::super::tls::test_certificate(dir.path(), "new");
        config.reload_if_changed();
        assert!(ok(), "{}", stats.exposition());
        assert!(!Arc::ptr_eq(&first, &config.current.load_full()));
    }

    #[test]
    fn the_connection_limit_stays_below_the_fd_limit() {
        let l = limits();
        assert_eq!(l.connection_limit(None), 512);
        assert_eq!(l.connection_limit(Some(65536)), 512);
        assert_eq!(l.connection_limit(Some(256)), 192);
        assert_eq!(l.connection_limit(Some(100)), 50);
        assert_eq!(l.connection_limit(Some(0)), 1);
    }

    fn table() -> Table {
        Table {
            start: Instant::now(),
            next: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
            freed: Notify::new(),
        }
    }

    #[test]
    fn shedding_picks_a_silent_connection_before_an_idle_one_and_never_a_busy_one() {
        let t = table();
        let (_, busy) = t.register();
        busy.in_flight.store(1, Ordering::Relaxed);
        busy.serving.store(1, Ordering::Relaxed);
        let (_, idle) = t.register();
        idle.requests.store(3, Ordering::Relaxed);
        let (_, silent) = t.register();
        let (_, waiting) = t.register();
        waiting.requests.store(1, Ordering::Relaxed);
        waiting.in_flight.store(1, Ordering::Relaxed);
        assert!(t.shed_one());
        assert!(silent.closing.load(Ordering::Relaxed));
        assert!(t.shed_one());
        assert!(
            waiting.closing.load(Ordering::Relaxed),
            "waiting for its credentials"
        );
        assert!(t.shed_one());
        assert!(idle.closing.load(Ordering::Relaxed));
        assert!(!t.shed_one(), "the busy one stays");
        assert!(!busy.closing.load(Ordering::Relaxed));
    }

    #[test]
    fn the_sweep_closes_by_header_and_idle_deadlines() {
        let t = table();
        let stats = WebStats::default();
        let mut l = limits();
        l.read_header_timeout = Duration::from_millis(0);
        l.idle_timeout = Duration::from_secs(3600);
        let (_, silent) = t.register();
        let (_, idle) = t.register();
        idle.requests.store(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(5));
        t.sweep(&l, &stats);
        assert!(silent.closing.load(Ordering::Relaxed));
        assert!(
            !idle.closing.load(Ordering::Relaxed),
            "idle for less than an hour"
        );
        idle.pending_since.store(1, Ordering::Relaxed);
        t.sweep(&l, &stats);
        assert!(
            idle.closing.load(Ordering::Relaxed),
            "a request started and stalled"
        );
        assert!(
            stats
                .exposition()
                .contains("awsconn_web_connections_closed_total{reason=\"header_timeout\"} 2")
        );
    }
}
