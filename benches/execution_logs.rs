//! The execution-log collector's path: 10^6 events through exactly-once
//! de-duplication and classification, and the memory it keeps afterwards
//! (only the ids inside the overlap window).
//!
//! `cargo bench --bench execution_logs` prints events/s and bytes allocated.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};

use awsconn::classify::Tally;
use awsconn::logs::{LineFormat, LogCursor, LogEvent, NewestErrors, absorb};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Counts live heap bytes, to report the memory a cursor keeps.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const EVENTS: usize = 1_000_000;
/// One hour of events, read with a five-minute overlap window.
const SPAN_MS: i64 = 3_600_000;
const OVERLAP_MS: i64 = 300_000;

fn events() -> Vec<LogEvent> {
    (0..EVENTS)
        .map(|i| {
            let message = match i % 25 {
                0 => "Execution failed due to configuration error: There was an internal error while executing your request",
                1 => "Execution failed due to a timeout error",
                _ => "Method completed with status: 200",
            };
            LogEvent {
                // CloudWatch event ids are 56-digit strings.
                id: format!("{:056}", i),
                timestamp_ms: 1_700_000_000_000 + (i as i64 * SPAN_MS) / EVENTS as i64,
                message: format!("({:08x}-1111-2222-3333-444455556666) {message}", i).into_bytes(),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let events = events();
    // Memory kept after 10^6 events, read in pages of 10,000 as the API returns them.
    let before = LIVE.load(Ordering::Relaxed);
    let mut cursor = LogCursor::default();
    let mut tally = Tally::new();
    for page in events.chunks(10_000) {
        absorb(
            &mut cursor,
            page,
            &LineFormat::Execution,
            OVERLAP_MS,
            &mut tally,
            &mut NewestErrors::new(),
        );
    }
    let kept = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    eprintln!(
        "after {} events: {} ids remembered (the {} s overlap window), {:.1} MiB kept by the cursor; {} lines counted",
        EVENTS,
        cursor.recent_ids.len(),
        OVERLAP_MS / 1000,
        kept as f64 / (1024.0 * 1024.0),
        tally.lines
    );

    let mut group = c.benchmark_group("execution_logs");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("absorb_1e6_events", |b| {
        b.iter(|| {
            let mut cursor = LogCursor::default();
            let mut tally = Tally::new();
            for page in events.chunks(10_000) {
                absorb(
                    &mut cursor,
                    black_box(page),
                    &LineFormat::Execution,
                    OVERLAP_MS,
                    &mut tally,
                    &mut NewestErrors::new(),
                );
            }
            tally
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
