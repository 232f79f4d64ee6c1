//! HTTP only: serves what the publisher last published (the exposition's
//! bytes, the findings). No handler calls AWS or waits on a poll.
//!
//! `server` owns connections (TLS, deadlines, limits, credentials), `config`
//! reads `--web.config.file`, `metrics` answers the telemetry path; the
//! routes below only answer.

mod auth;
pub mod config;
mod landing;
pub mod links;
mod metrics;
mod runbooks;
pub mod server;
pub mod stats;
mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Html;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::collect::Publisher;

/// The Prometheus text format content type.
pub const METRICS_CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// A configuration reload asked for: SIGHUP (no answer wanted) or
/// `POST /-/reload`, which waits for the outcome.
pub type ReloadRequest = Option<tokio::sync::oneshot::Sender<Result<String, String>>>;

#[derive(Clone)]
struct AppState {
    publisher: Arc<Publisher>,
    telemetry_path: Arc<str>,
    /// Where `POST /-/reload` asks for a reload (`serve --web.enable-lifecycle` only).
    reloads: Option<tokio::sync::mpsc::Sender<ReloadRequest>>,
    /// `/metrics`.
    scrapes: Arc<metrics::Scrapes>,
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
        telemetry_path: Arc::from(telemetry_path),
        reloads,
        scrapes: Arc::new(metrics::Scrapes::new(
            publisher.clone(),
            web_stats,
            process_metrics,
        )),
        publisher,
    };
    Router::new()
        .route("/-/reload", axum::routing::post(reload).put(reload))
        .route(
            telemetry_path,
            get(
                |State(state): State<AppState>, headers: HeaderMap| async move {
                    state.scrapes.respond(&headers).await
                },
            ),
        )
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
