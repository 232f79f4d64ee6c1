//! Execution-log classification throughput on a generated 200 MB log with a
//! realistic mix: an INFO-level execution log, where about 95 % of lines are
//! benign request/response chatter, one line per request says `Method
//! completed with status`, and a share of requests fail with each class.
//!
//! Set `AWSCONN_BENCH_LOG=/path` to also write the corpus there. The
//! binary against `grep -cF` on 1 GiB is `scripts/bench classify`.

use std::hint::black_box;

use awsconn::classify::Tally;
use awsconn::log_input::tally_plain;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const TARGET_BYTES: usize = 200 * 1024 * 1024;

const BENIGN: &[&str] = &[
    "Extended Request Id: PDS1PEC4oAMFpyA=",
    "Verifying Usage Plan for request: {id}. API Key:  API Stage: a1b2c3d4e5/prod",
    "API Key  authorized because method 'GET /orders/{proxy+}' does not require API Key. Request will not contribute to throttle or quota limits",
    "Usage Plan check succeeded for API Key  and API Stage a1b2c3d4e5/prod",
    "Starting execution for request: {id}",
    "HTTP Method: GET, Resource Path: /orders/123456",
    "Method request path: {proxy=123456}",
    "Method request query string: {}",
    "Method request headers: {Accept=application/json, Host=api.example.com, User-Agent=Mozilla/5.0, X-Forwarded-For=198.51.100.7}",
    "Method request body before transformations: ",
    "Endpoint request URI: http://orders.internal.example.com:8080/orders/123456",
    "Endpoint request headers: {x-amzn-apigateway-api-id=a1b2c3d4e5, Accept=application/json, User-Agent=AmazonAPIGateway_a1b2c3d4e5}",
    "Endpoint request body after transformations: ",
    "Sending request to http://orders.internal.example.com:8080/orders/123456",
    "Received response. Status: 200, Integration latency: 23 ms",
    "Endpoint response headers: {Content-Type=application/json, Content-Length=87, Date=Thu, 04 Aug 2022 17:48:21 GMT}",
    "Endpoint response body before transformations: {\"id\":123456,\"status\":\"shipped\",\"note\":\"Execution failed due to nothing\"}",
    "Method response body after transformations: {\"id\":123456,\"status\":\"shipped\"}",
    "Method response headers: {Content-Type=application/json, X-Amzn-Trace-Id=Root=1-62ec0155-5f7e7b4e3b2a1c0d9e8f7a6b}",
    "Successfully completed execution",
];

const FAILURES: &[(&str, &str)] = &[
    (
        "Execution failed due to configuration error: There was an internal error while executing your request",
        "500",
    ),
    (
        "Execution failed due to configuration error: Host name 'orders.internal.example.com' does not match the certificate subject provided by the peer (CN=*.example.net)",
        "500",
    ),
    ("Execution failed due to an internal error", "500"),
    ("Execution failed due to a timeout error", "504"),
];

/// A deterministic corpus of about `bytes` bytes.
fn corpus(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 4096);
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut request = 0u64;
    while out.len() < bytes {
        request += 1;
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            state as u32,
            (state >> 32) as u16,
            request & 0xfff,
            (state >> 20) & 0xfff,
            request
        );
        let fails = state.is_multiple_of(25);
        for line in BENIGN {
            out.extend_from_slice(format!("({id}) {}\n", line.replace("{id}", &id)).as_bytes());
        }
        let status = if fails {
            let (message, status) = FAILURES[(state >> 8) as usize % FAILURES.len()];
            out.extend_from_slice(format!("({id}) {message}\n").as_bytes());
            status
        } else {
            "200"
        };
        out.extend_from_slice(
            format!("({id}) Method completed with status: {status}\n").as_bytes(),
        );
    }
    out
}

fn bench(c: &mut Criterion) {
    let data = corpus(TARGET_BYTES);
    if let Some(path) = std::env::var_os("AWSCONN_BENCH_LOG") {
        std::fs::write(&path, &data).expect("write AWSCONN_BENCH_LOG");
    }
    let mut check = Tally::new();
    tally_plain(&data[..], &mut check).unwrap();
    eprintln!(
        "corpus: {} MB, {} lines, {} failures, {} responses",
        data.len() / (1024 * 1024),
        check.lines,
        check.classes().map(|(_, n)| n).sum::<u64>(),
        check.statuses.values().sum::<u64>()
    );

    let mut group = c.benchmark_group("classify");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("bytes", |b| {
        b.iter(|| {
            let mut tally = Tally::new();
            tally_plain(black_box(&data[..]), &mut tally).unwrap();
            tally
        })
    });
    group.throughput(Throughput::Elements(check.lines));
    group.bench_function("lines", |b| {
        b.iter(|| {
            let mut tally = Tally::new();
            tally_plain(black_box(&data[..]), &mut tally).unwrap();
            tally
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
