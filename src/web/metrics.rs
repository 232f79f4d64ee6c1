//! `/metrics`: the published exposition as stored bytes, then the web
//! server's, the runtime's and the process's own metrics ([`LiveTail`]).
//!
//! The first scrape of a publish in an encoding packs the exposition for
//! it (`Exposition::pack`: gzip as one stream at the default level, plain
//! as one buffer), within a share of the CPU ([`PackBudget`]); the scrapes
//! after it write the packed bytes. So a scrape in the common case costs
//! what nginx's `gzip_static` costs: writing bytes that are already there.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::METRICS_CONTENT_TYPE;
use super::stats::WebStats;
use crate::collect::Publisher;
use crate::exposition::{Encoding, Tail};
use crate::lock::LockOrRecover;

/// What `/metrics` answers from.
pub(super) struct Scrapes {
    publisher: Arc<Publisher>,
    /// The web server's own metrics, appended to every scrape.
    web_stats: Arc<WebStats>,
    /// Append the process metrics (`process_*`) to every scrape.
    process_metrics: bool,
    live: LiveTail,
    packing: Arc<PackBudget>,
}

impl Scrapes {
    pub(super) fn new(
        publisher: Arc<Publisher>,
        web_stats: Arc<WebStats>,
        process_metrics: bool,
    ) -> Scrapes {
        Scrapes {
            publisher,
            web_stats,
            process_metrics,
            live: LiveTail::default(),
            packing: Arc::default(),
        }
    }

    /// The answer to one scrape.
    pub(super) async fn respond(&self, headers: &HeaderMap) -> Response {
        let published = self.publisher.published();
        let gzip = accepts_gzip(
            headers
                .get_all(header::ACCEPT_ENCODING)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        );
        // The first scrape of a publish in an encoding packs the text for it
        // (on a blocking thread), within the packing budget, and every later
        // one writes the packed bytes. Unpacked (the budget spent, packing
        // failed), the chunks are sent as they are kept (gzip) or inflated one
        // by one.
        let encoding = if gzip {
            Encoding::Gzip
        } else {
            Encoding::Identity
        };
        if !published.exposition.is_packed(encoding)
            && let Some(ticket) = self.packing.try_start(Instant::now())
        {
            let packing = published.clone();
            // The ticket goes with the pack: a scrape that goes away does
            // not free the budget while its pack still runs.
            let packed = tokio::task::spawn_blocking(move || {
                let _ticket = ticket;
                packing.exposition.pack(encoding)
            })
            .await;
            if let Ok(Err(e)) = packed {
                tracing::warn!(error = %e, "packing the exposition failed; it is sent as kept");
            }
        }
        // The published exposition as it is; the web server's and process
        // metrics after it (in the same gzip member when compressed).
        let live = self.live.read(&self.web_stats, self.process_metrics);
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

/// True when the `Accept-Encoding` header lines (one list, RFC 9110 5.3)
/// allow gzip (12.5.3): an entry naming gzip decides by its weight, else a
/// `*` entry does; a weight of 0, or one that is not a number from 0 to 1,
/// refuses.
fn accepts_gzip<'a>(lines: impl IntoIterator<Item = &'a str>) -> bool {
    let mut named: Option<bool> = None;
    let mut any: Option<bool> = None;
    for item in lines.into_iter().flat_map(|line| line.split(',')) {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let slot = if coding.eq_ignore_ascii_case("gzip") {
            &mut named
        } else if coding == "*" {
            &mut any
        } else {
            continue;
        };
        let weight = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, q)| {
                q.trim()
                    .parse::<f32>()
                    .ok()
                    .filter(|q| (0.0..=1.0).contains(q))
            });
        let allows = weight.is_some_and(|q| q > 0.0);
        *slot = Some(slot.unwrap_or(false) || allows);
    }
    named.or(any).unwrap_or(false)
}

/// The web server's, the runtime's and the process's own metrics, as sent
/// after the published exposition: read again when a web figure changed or
/// a second has passed, and shared by the scrapes in between (each reading
/// is a few files of /proc, a registry encoded and deflated: under a burst
/// of scrapes, nginx-like serving means not doing it per request).
#[derive(Default)]
struct LiveTail {
    last: Mutex<Option<LiveReading>>,
}

struct LiveReading {
    at: Instant,
    /// `WebStats::changes` before it was read.
    changes: u64,
    tail: Arc<Tail>,
}

impl LiveTail {
    /// How long a reading of the process's figures is shown.
    const FRESH: Duration = Duration::from_secs(1);

    fn read(&self, web_stats: &WebStats, process_metrics: bool) -> Arc<Tail> {
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
            at: Instant::now(),
            changes,
            tail: tail.clone(),
        });
        tail
    }
}

/// Packing's share of the CPU: a pack starts only when the time since the
/// last one started is at least [`PackBudget::SHARE`] times what that one
/// took, and never beside another. Prometheus scraping every few seconds
/// never meets it; scrapes in a loop (a misconfigured scraper, someone
/// flooding the port) keep packing to a quarter of a core, and the scrapes
/// of a publish it leaves unpacked get the chunks as kept, at once.
#[derive(Default)]
struct PackBudget {
    /// When the last pack started, and what it took (`None` while it runs).
    last: Mutex<Option<(Instant, Option<Duration>)>>,
}

impl PackBudget {
    const SHARE: u32 = 4;

    /// A ticket for a pack starting at `now`, if one may: dropped when the
    /// pack ends, it records how long it took.
    fn try_start(self: &Arc<Self>, now: Instant) -> Option<PackTicket> {
        let mut last = self.last.lock_or_recover();
        let allowed = match *last {
            None => true,
            Some((_, None)) => false,
            Some((started, Some(took))) => {
                now.saturating_duration_since(started) >= took * Self::SHARE
            }
        };
        if !allowed {
            return None;
        }
        *last = Some((now, None));
        Some(PackTicket {
            budget: self.clone(),
            started: now,
        })
    }

    /// The pack under way took `took`.
    fn finished(&self, took: Duration) {
        if let Some((_, running)) = &mut *self.last.lock_or_recover() {
            *running = Some(took);
        }
    }
}

/// A pack under way (see [`PackBudget::try_start`]).
struct PackTicket {
    budget: Arc<PackBudget>,
    started: Instant,
}

impl Drop for PackTicket {
    fn drop(&mut self) {
        self.budget.finished(self.started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::{Buffers, LiveTail, PackBudget, accepts_gzip};
    use crate::web::stats;
    use bytes::Bytes;
    use http_body::Body;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

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

    /// A pack starts only a SHARE of its last duration after the last
    /// one started, and never beside another.
    #[test]
    fn packing_keeps_to_its_share_of_the_cpu() {
        let budget = Arc::new(PackBudget::default());
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // Durations set by hand: the ticket's own clock is not the test's.
        std::mem::forget(budget.try_start(t0).unwrap());
        assert!(budget.try_start(t0 + ms(500)).is_none(), "one at a time");
        budget.finished(ms(100));
        assert!(budget.try_start(t0 + ms(399)).is_none());
        std::mem::forget(budget.try_start(t0 + ms(400)).unwrap());
        budget.finished(ms(1));
        // A pack that ended frees the budget.
        drop(budget.try_start(t0 + ms(404)).unwrap());
        assert!(budget.try_start(Instant::now() + ms(1000)).is_some());
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
        assert!(accepts_gzip(["gzip"]));
        assert!(accepts_gzip(["deflate, gzip;q=0.5"]));
        assert!(accepts_gzip(["*"]));
        assert!(accepts_gzip(["GZIP"]));
        assert!(!accepts_gzip(["gzip;q=0"]));
        assert!(!accepts_gzip(["identity"]));
        assert!(!accepts_gzip(["br, deflate"]));
        // An entry naming gzip wins over `*`, whichever way.
        assert!(!accepts_gzip(["gzip;q=0, *"]));
        assert!(!accepts_gzip(["*, gzip;q=0"]));
        assert!(accepts_gzip(["*;q=0, gzip"]));
        assert!(!accepts_gzip(["*;q=0"]));
        // The weight's name is case-insensitive; a weight that is not one
        // refuses.
        assert!(!accepts_gzip(["gzip; Q=0"]));
        assert!(!accepts_gzip(["gzip;q=nan"]));
        assert!(!accepts_gzip(["gzip;q=2"]));
        assert!(accepts_gzip(["gzip;q=0.001"]));
        assert!(accepts_gzip(["identity, gzip ; q=1.0"]));
        assert!(!accepts_gzip([""]));
        // Header lines make one list.
        assert!(!accepts_gzip(["*", "gzip;q=0"]));
        assert!(accepts_gzip(["br", "gzip"]));
    }
}
