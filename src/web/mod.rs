//! HTTP only: serves what the publisher last published (the exposition's
//! bytes, the findings). No handler calls AWS or waits on a poll.
//!
//! `server` owns connections (TLS, deadlines, limits, credentials), `config`
//! reads `--web.config.file`; the routes below only answer.

mod auth;
pub mod config;
mod landing;
pub mod links;
mod runbooks;
pub mod server;
pub mod stats;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::collect::Publisher;
use crate::exposition::{Encoding, Tail};

/// The Prometheus text format content type.
pub const METRICS_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// A configuration reload asked for: SIGHUP (no answer wanted) or
/// `POST /-/reload`, which waits for the outcome.
pub type ReloadRequest = Option<tokio::sync::oneshot::Sender<Result<String, String>>>;

#[derive(Clone)]
struct AppState {
    publisher: Arc<Publisher>,
    telemetry_path: Arc<str>,
    /// Append the process metrics (`process_*`) to every scrape.
    process_metrics: bool,
    /// Where `POST /-/reload` asks for a reload (`serve --web.enable-lifecycle` only).
    reloads: Option<tokio::sync::mpsc::Sender<ReloadRequest>>,
    /// The web server's own metrics, appended to every scrape.
    web_stats: Arc<stats::WebStats>,
    /// Those and the process's metrics as last read.
    live: Arc<LiveTail>,
}

/// The web server's, the runtime's and the process's own metrics, as sent
/// after the published exposition: read again when a web figure changed or
/// a second has passed, and shared by the scrapes in between (each reading
/// is a few files of /proc, a registry encoded and deflated: under a burst
/// of scrapes, nginx-like serving means not doing it per request).
#[derive(Default)]
struct LiveTail {
    last: std::sync::Mutex<Option<LiveReading>>,
}

struct LiveReading {
    at: std::time::Instant,
    /// `WebStats::changes` before it was read.
    changes: u64,
    tail: Arc<Tail>,
}

impl LiveTail {
    /// How long a reading of the process's figures is shown.
    const FRESH: std::time::Duration = std::time::Duration::from_secs(1);

    fn read(&self, web_stats: &stats::WebStats, process_metrics: bool) -> Arc<Tail> {
        use crate::lock::LockOrRecover;
        let mut last = self.last.lock_or_recover();
        let changes = web_stats.changes();
        if let Some(reading) = &*last
            && reading.changes == changes
            && reading.at.elapsed() < Self::FRESH
        {
            return reading.tail.clone();
        }
        let mut text = web_stats.exposition();
        text.push_str(&crate::process::runtime_exposition());
        if process_metrics {
            text.push_str(&crate::process::exposition());
        }
        let tail = Arc::new(Tail::new(text));
        *last = Some(LiveReading {
            at: std::time::Instant::now(),
            changes,
            tail: tail.clone(),
        });
        tail
    }
}

/// The exporter's routes: the telemetry path, `/healthz`, `/ready`, `/`,
/// `/links`, `/runbooks`, and `POST /-/reload` (403 unless reloads are
/// taken over HTTP).
pub fn router(
    publisher: Arc<Publisher>,
    telemetry_path: &str,
    process_metrics: bool,
    reloads: Option<tokio::sync::mpsc::Sender<ReloadRequest>>,
    web_stats: Arc<stats::WebStats>,
) -> Router {
    let state = AppState {
        publisher,
        telemetry_path: Arc::from(telemetry_path),
        process_metrics,
        reloads,
        web_stats,
        live: Arc::default(),
    };
    Router::new()
        .route("/-/reload", axum::routing::post(reload).put(reload))
        .route(telemetry_path, get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/", get(landing))
        .route("/links", get(links_page))
        .route("/runbooks", get(|| async { Html(runbooks::page()) }))
        .with_state(state)
}

/// Binds a Prometheus-style listen address: `:9740` means every interface.
pub async fn bind(address: &str) -> std::io::Result<TcpListener> {
    if let Some(port) = address.strip_prefix(':') {
        let port: u16 = port.parse().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("invalid port in listen address {address:?}"),
            )
        })?;
        // The IPv6 wildcard accepts IPv4 too where the host allows dual stack.
        return match TcpListener::bind(SocketAddr::from(([0u16; 8], port))).await {
            Ok(listener) => Ok(listener),
            Err(_) => TcpListener::bind(SocketAddr::from(([0u8; 4], port))).await,
        };
    }
    TcpListener::bind(address).await
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let published = state.publisher.published();
    let gzip = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(accepts_gzip);
    // The first scrape of a publish in an encoding packs the text for it
    // (on a blocking thread; concurrent scrapes wait for the same packing),
    // and every later one writes the packed bytes. Should packing fail,
    // the chunks are sent as they are kept (gzip) or inflated one by one.
    let encoding = if gzip {
        Encoding::Gzip
    } else {
        Encoding::Identity
    };
    if !published.exposition.is_packed(encoding) {
        let packing = published.clone();
        let packed = tokio::task::spawn_blocking(move || packing.exposition.pack(encoding)).await;
        if let Ok(Err(e)) = packed {
            tracing::warn!(error = %e, "packing the exposition failed; it is sent as kept");
        }
    }
    // The published exposition as it is; the web server's and process
    // metrics after it (in the same gzip member when compressed).
    let live = state.live.read(&state.web_stats, state.process_metrics);
    let exposition = &published.exposition;
    let mut response = if gzip {
        let buffers = exposition.gzip_with_tail(&live);
        let len = buffers.iter().map(|b| b.len()).sum::<usize>();
        let buffers = buffers.into_iter().map(Ok);
        let mut r = Body::new(Buffers::new(buffers, len)).into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        let len = exposition.len() + live.text().len();
        let buffers = exposition.text().chain([Ok(live.text().clone())]);
        Body::new(Buffers::new(buffers, len)).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(METRICS_CONTENT_TYPE),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    response
}

/// A body of buffers sent one after the other, with its exact length. The
/// buffers are read as they are sent: a plain scrape of a text too long to
/// be packed inflates the next chunks only when the client has taken the
/// ones before.
struct Buffers<I: Iterator> {
    rest: std::iter::Peekable<I>,
    /// Bytes left to send.
    len: u64,
}

impl<I: Iterator<Item = std::io::Result<bytes::Bytes>>> Buffers<I> {
    fn new(buffers: I, len: usize) -> Self {
        Self {
            rest: buffers.peekable(),
            len: len as u64,
        }
    }
}

impl<I> http_body::Body for Buffers<I>
where
    I: Iterator<Item = std::io::Result<bytes::Bytes>> + Unpin,
{
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        // Small buffers (a scope's samples of one family) go out joined, up
        // to FRAME bytes a frame: a few writes, not thousands. A big buffer
        // goes out as it is, never copied.
        const FRAME: usize = 64 * 1024;
        let small = |b: &std::io::Result<bytes::Bytes>| b.as_ref().is_ok_and(|b| b.len() < FRAME);
        let first = loop {
            match self.rest.next() {
                None => return std::task::Poll::Ready(None),
                Some(Ok(b)) if b.is_empty() => continue,
                Some(Ok(b)) => break b,
                // A chunk that does not inflate ends the body short of its
                // length: the client sees a broken transfer, not short text.
                Some(Err(e)) => return std::task::Poll::Ready(Some(Err(e))),
            }
        };
        let frame = if first.len() >= FRAME || !self.rest.peek().is_some_and(small) {
            first
        } else {
            let mut joined = bytes::BytesMut::with_capacity(FRAME * 2);
            joined.extend_from_slice(&first);
            while joined.len() < FRAME
                && let Some(Ok(next)) = self.rest.next_if(small)
            {
                joined.extend_from_slice(&next);
            }
            joined.freeze()
        };
        self.len = self.len.saturating_sub(frame.len() as u64);
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.len == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len)
    }
}

/// True when an `Accept-Encoding` value allows gzip (and does not give it q=0).
fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        if !(coding.eq_ignore_ascii_case("gzip") || coding == "*") {
            return false;
        }
        !parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        })
    })
}

/// `POST` (or `PUT`, as Prometheus takes) `/-/reload`: reads the configuration file again; 200 when the new
/// one runs, 500 with the reason when it is refused (the old one runs on).
async fn reload(State(state): State<AppState>) -> (StatusCode, String) {
    let Some(reloads) = state.reloads else {
        return (
            StatusCode::FORBIDDEN,
            "Lifecycle API is not enabled (--web.enable-lifecycle); SIGHUP reloads\n".into(),
        );
    };
    let (reply, outcome) = tokio::sync::oneshot::channel();
    if reloads.send(Some(reply)).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".into());
    }
    match outcome.await {
        Ok(Ok(done)) => (StatusCode::OK, format!("{done}\n")),
        Ok(Err(reason)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {reason}\n"),
        ),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n".into()),
    }
}

async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.publisher.is_ready() {
        (StatusCode::OK, "ready\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the first poll has not finished\n",
        )
    }
}

/// `/links`: one page of the links, filtered by `vpc_link`, `account`,
/// `region` and `health`, paged by `page` and `per_page` (see
/// [`links::LinksQuery`]). A query it cannot read is answered 400.
async fn links_page(
    State(state): State<AppState>,
    axum::extract::Query(query): axum::extract::Query<links::LinksQuery>,
) -> Html<String> {
    let published = state.publisher.published();
    Html(links::page(&published.findings, &query))
}

async fn landing(State(state): State<AppState>) -> Html<String> {
    Html(landing::page(
        &state.telemetry_path,
        state.publisher.is_ready(),
    ))
}

#[cfg(test)]
mod tests {
    use super::{Buffers, LiveTail, accepts_gzip, stats};
    use bytes::Bytes;
    use http_body::Body;
    use std::sync::Arc;

    /// Scrapes share a reading of the live figures until a web figure
    /// changes; the change shows in the next scrape.
    #[test]
    fn the_live_tail_is_read_again_when_a_web_figure_changes() {
        let live = LiveTail::default();
        let stats = stats::WebStats::default();
        let first = live.read(&stats, false);
        assert!(Arc::ptr_eq(&first, &live.read(&stats, false)));
        stats.refused(stats::Refused::Unauthorized);
        let after = live.read(&stats, false);
        assert!(!Arc::ptr_eq(&first, &after));
        let text = std::str::from_utf8(after.text()).unwrap();
        assert!(
            text.contains("awsconn_web_requests_refused_total{reason=\"unauthorized\"} 1\n"),
            "{text}"
        );
    }

    /// Small buffers go out joined, big ones as they are, empty ones not at
    /// all; the length announced is always what is left to send.
    #[test]
    fn buffers_send_every_byte_in_order_with_an_exact_length() {
        let small = |c: u8| Bytes::from(vec![c; 100]);
        let big = Bytes::from(vec![b'B'; 200_000]);
        let parts = vec![
            small(b'a'),
            Bytes::new(),
            small(b'b'),
            big.clone(),
            small(b'c'),
        ];
        let want: Vec<u8> = parts.iter().flat_map(|b| b.to_vec()).collect();
        let mut body = Buffers::new(parts.into_iter().map(Ok), want.len());
        let mut sent = Vec::new();
        let mut frames = Vec::new();
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        loop {
            let left = body.size_hint().exact().unwrap();
            assert_eq!(left as usize, want.len() - sent.len());
            match std::pin::Pin::new(&mut body).poll_frame(&mut cx) {
                std::task::Poll::Ready(Some(Ok(frame))) => {
                    let data = frame.into_data().unwrap();
                    frames.push(data.len());
                    sent.extend_from_slice(&data);
                }
                std::task::Poll::Ready(None) => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(sent, want);
        assert!(body.is_end_stream());
        // The two small ones joined; the big one as it is; the last alone.
        assert_eq!(frames, [200, 200_000, 100]);
    }

    #[test]
    fn accept_encoding_forms() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, gzip;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(accepts_gzip("GZIP"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip("br, deflate"));
    }
}
