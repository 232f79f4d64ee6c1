//! The web server's own metrics (`awsconn_web_*`): open connections and their
//! limit, connections closed by the server and why, requests refused and
//! why, and whether the web configuration file last read was good. Counted
//! as things happen, encoded at each scrape after the poller's exposition.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Why the server closed a connection itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// No complete request header within `--web.read-header-timeout`.
    HeaderTimeout,
    /// Nothing asked within `--web.idle-timeout` after the last answer.
    IdleTimeout,
    /// Closed to make room at `--web.max-connections`.
    OverLimit,
    /// The TLS handshake failed (one that does not finish in time is a
    /// `HeaderTimeout`; a client that connects and closes counts here too).
    TlsHandshake,
}

impl Closed {
    const ALL: [Closed; 4] = [
        Closed::HeaderTimeout,
        Closed::IdleTimeout,
        Closed::OverLimit,
        Closed::TlsHandshake,
    ];

    fn label(self) -> &'static str {
        match self {
            Closed::HeaderTimeout => "header_timeout",
            Closed::IdleTimeout => "idle_timeout",
            Closed::OverLimit => "over_limit",
            Closed::TlsHandshake => "tls_handshake_failed",
        }
    }
}

/// Why a request was answered without reaching its handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// 401: no or wrong basic-auth credentials.
    Unauthorized,
    /// 503: `--web.max-requests` requests were already in flight.
    MaxRequests,
    /// 429: past the web configuration's `rate_limit`.
    RateLimited,
    /// 503: credentials not remembered while 16 others wait for bcrypt.
    AuthBusy,
}

impl Refused {
    const ALL: [Refused; 4] = [
        Refused::Unauthorized,
        Refused::MaxRequests,
        Refused::RateLimited,
        Refused::AuthBusy,
    ];

    fn label(self) -> &'static str {
        match self {
            Refused::Unauthorized => "unauthorized",
            Refused::MaxRequests => "max_requests",
            Refused::RateLimited => "rate_limited",
            Refused::AuthBusy => "auth_busy",
        }
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

pub struct WebStats {
    registry: Registry,
    open: Gauge,
    limit: Gauge,
    closed: Family<Reason, Counter>,
    refused: Family<Reason, Counter>,
    config_ok: Gauge,
    config_time: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Moved on by every change: a scrape reuses the text it encoded while
    /// this stays (`web::LiveTail`).
    changes: std::sync::atomic::AtomicU64,
}

impl Default for WebStats {
    fn default() -> Self {
        let mut registry = Registry::default();
        let open = Gauge::default();
        let limit = Gauge::default();
        let closed = Family::<Reason, Counter>::default();
        let refused = Family::<Reason, Counter>::default();
        let config_ok = Gauge::default();
        let config_time = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "awsconn_web_connections_open",
            "HTTP connections open now",
            open.clone(),
        );
        registry.register(
            "awsconn_web_connections_limit",
            "Most HTTP connections held open at once (--web.max-connections, kept below the file-descriptor limit)",
            limit.clone(),
        );
        registry.register(
            "awsconn_web_connections_closed",
            "HTTP connections the server closed itself, by reason",
            closed.clone(),
        );
        registry.register(
            "awsconn_web_requests_refused",
            "HTTP requests answered without reaching their handler, by reason",
            refused.clone(),
        );
        registry.register(
            "awsconn_web_config_last_reload_successful",
            "1 when the web configuration file last read (--web.config.file) was valid",
            config_ok.clone(),
        );
        registry.register(
            "awsconn_web_config_last_reload_success_timestamp_seconds",
            "When the web configuration was last read successfully, in seconds since the epoch",
            config_time.clone(),
        );
        // Every reason from the start: a rate() needs the zero.
        for c in Closed::ALL {
            drop(closed.get_or_create(&Reason { reason: c.label() }));
        }
        for r in Refused::ALL {
            drop(refused.get_or_create(&Reason { reason: r.label() }));
        }
        WebStats {
            registry,
            open,
            limit,
            closed,
            refused,
            config_ok,
            config_time,
            changes: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl WebStats {
    /// How many times a figure changed (moved on after the change): equal
    /// counts, equal text.
    pub fn changes(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::Acquire)
    }

    fn changed(&self) {
        self.changes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    pub fn set_limit(&self, limit: usize) {
        self.limit.set(i64::try_from(limit).unwrap_or(i64::MAX));
        self.changed();
    }

    pub fn opened(&self) {
        self.open.inc();
        self.changed();
    }

    pub fn finished(&self) {
        self.open.dec();
        self.changed();
    }

    pub fn closed(&self, why: Closed) {
        self.closed
            .get_or_create(&Reason {
                reason: why.label(),
            })
            .inc();
        self.changed();
    }

    pub fn refused(&self, why: Refused) {
        self.refused
            .get_or_create(&Reason {
                reason: why.label(),
            })
            .inc();
        self.changed();
    }

    /// Records the outcome of reading the web configuration file.
    pub fn config_read(&self, ok: bool) {
        self.config_ok.set(i64::from(ok));
        if ok {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            self.config_time.set(now);
        }
        self.changed();
    }

    /// The families in the Prometheus text format (no `# EOF`).
    pub fn exposition(&self) -> String {
        crate::exposition::encode_text(&self.registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_there_from_the_start() {
        let stats = WebStats::default();
        stats.config_read(true);
        stats.refused(Refused::Unauthorized);
        let text = stats.exposition();
        for line in [
            "awsconn_web_connections_closed_total{reason=\"header_timeout\"} 0",
            "awsconn_web_connections_closed_total{reason=\"over_limit\"} 0",
            "awsconn_web_requests_refused_total{reason=\"unauthorized\"} 1",
            "awsconn_web_requests_refused_total{reason=\"max_requests\"} 0",
            "awsconn_web_requests_refused_total{reason=\"auth_busy\"} 0",
            "awsconn_web_connections_closed_total{reason=\"tls_handshake_failed\"} 0",
            "awsconn_web_config_last_reload_successful 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
        assert!(!text.contains("# EOF"));
    }
}
