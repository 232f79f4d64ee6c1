//! The HTTP server: accepts connections (with TLS when the web configuration
//! asks for it), holds each to its deadlines, keeps the number open below the
//! file-descriptor limit, checks credentials, and ends within a deadline.
//!
//! What a hostile or broken client can do, and what stops it:
//! - open connections and send nothing, or a header byte at a time
//!   (slowloris): `--web.read-header-timeout` closes them, counted from the
//!   accept (TLS handshake included) or from the first byte of a request;
//! - hold connections idle: `--web.idle-timeout` after the last answer;
//! - open more connections than there are file descriptors: at
//!   `--web.max-connections` the connection that waited longest without a
//!   request in flight is closed to make room, so a scrape always gets in;
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

use super::auth::BasicAuth;
use super::config::{self, FileStamps, WebSettings};
use super::stats::{Closed, Refused, WebStats};

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
        let mut stamps = self.stamps.lock().unwrap_or_else(|e| e.into_inner());
        if !stamps.changed() {
            return;
        }
        match config::load(path) {
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
                // Remember the stamps of the bad file: one error per change.
                *stamps = FileStamps::of_paths(stamps.paths());
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
        let mut bucket = self.rate.lock().unwrap_or_else(|e| e.into_inner());
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
    /// Requests being answered now.
    in_flight: AtomicU32,
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
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn register(&self) -> (u64, Arc<Connection>) {
        let now = self.now();
        let conn = Arc::new(Connection {
            in_flight: AtomicU32::new(0),
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

    /// Closes the connection that waited longest with nothing in flight,
    /// those that never sent a whole request first. False when every
    /// connection is busy answering.
    fn shed_one(&self) -> bool {
        let open = self.lock();
        let victim = open
            .values()
            .filter(|c| {
                c.in_flight.load(Ordering::Relaxed) == 0 && !c.closing.load(Ordering::Relaxed)
            })
            .min_by_key(|c| {
                let requests = c.requests.load(Ordering::Relaxed);
                (
                    requests > 0,
                    if requests == 0 {
                        c.accepted
                    } else {
                        c.idle_since.load(Ordering::Relaxed)
                    },
                )
            });
        match victim {
            Some(c) => {
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

/// A request being answered: counted in flight on its connection until dropped.
struct Active<'a> {
    conn: &'a Connection,
    table: &'a Table,
}

impl<'a> Active<'a> {
    fn begin(conn: &'a Connection, table: &'a Table) -> Active<'a> {
        conn.in_flight.fetch_add(1, Ordering::Relaxed);
        conn.requests.fetch_add(1, Ordering::Relaxed);
        conn.pending_since.store(0, Ordering::Relaxed);
        Active { conn, table }
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.conn
            .idle_since
            .store(self.table.now(), Ordering::Relaxed);
        self.conn.in_flight.fetch_sub(1, Ordering::Relaxed);
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
                graceful = true;
                served.as_mut().graceful_shutdown();
                // Nothing in flight: nothing to wait for.
                if conn.in_flight.load(Ordering::Relaxed) == 0 {
                    return;
                }
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

async fn handle(request: Request<Incoming>, shared: &Shared, conn: &Connection) -> Response<Body> {
    let _active = Active::begin(conn, &shared.table);
    let settings = shared.config.settings();
    let mut response = respond(request, shared, &settings).await;
    let headers = response.headers_mut();
    for (name, value) in &settings.headers {
        headers.insert(name.clone(), value.clone());
    }
    response
}

async fn respond(
    request: Request<Incoming>,
    shared: &Shared,
    settings: &WebSettings,
) -> Response<Body> {
    if shared.rate_limited(settings) {
        shared.stats.refused(Refused::RateLimited);
        return plain(StatusCode::TOO_MANY_REQUESTS, "too many requests\n");
    }
    if !settings.users.is_empty()
        && !shared
            .auth
            .allows(
                &settings.users,
                request.headers().get(header::AUTHORIZATION),
            )
            .await
    {
        shared.stats.refused(Refused::Unauthorized);
        let mut response = plain(StatusCode::UNAUTHORIZED, "Unauthorized\n");
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"aws-connectivity-exporter\""),
        );
        return response;
    }
    let _permit = match &shared.in_flight {
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
        // Shutdown lets the request in flight finish.
        stop.send(()).unwrap();
        release.notify_one();
        assert!(slow.await.unwrap().contains("200"));
        server.await.unwrap().unwrap();
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
        let (_, idle) = t.register();
        idle.requests.store(3, Ordering::Relaxed);
        let (_, silent) = t.register();
        assert!(t.shed_one());
        assert!(silent.closing.load(Ordering::Relaxed));
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
