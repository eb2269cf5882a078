//! What each block codec of a raw column (`compressionCodec`) costs in bytes and in reading
//! time, on integer columns shaped like the ones users keep raw: event times, a counter,
//! latencies, amounts. `cargo run --release -p cuvee-segments --example raw_codecs [values]`
//! (1 M by default). Reading is every chunk decompressed and its values read as keys, best
//! of five; the sizes are the whole `forward.raw` section.
#![allow(clippy::print_stdout)]

use cuvee_catalog::RawCodec;
use cuvee_segments::forward::{write_raw, RawForward};
use cuvee_segments::physical::{long_key, FixedKind, Physical};
use std::time::Instant;

const CODECS: [(RawCodec, &str); 6] = [
    (RawCodec::Zstd, "ZSTANDARD"),
    (RawCodec::Lz4, "LZ4"),
    (RawCodec::Snappy, "SNAPPY"),
    (RawCodec::PassThrough, "PASS_THROUGH"),
    (RawCodec::Delta, "DELTA"),
    (RawCodec::DeltaDelta, "DELTADELTA"),
];

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut uniform = move || (next() >> 11) as f64 / (1u64 << 53) as f64;
    // 50 k events/s in milliseconds, arriving up to 100 ms out of order.
    let times: Vec<i64> = (0..n as i64).map(|i| 1_750_000_000_000 + i / 50 + (uniform() * 100.0) as i64 - 50).collect();
    let in_order: Vec<i64> = (0..n as i64).map(|i| 1_750_000_000_000 + i / 50).collect();
    let counter: Vec<i64> = {
        let mut c = 1_000_000_000i64;
        (0..n)
            .map(|_| {
                c += 1 + (uniform() * 3.0) as i64;
                c
            })
            .collect()
    };
    let latency: Vec<i64> = (0..n).map(|_| (-(1.0 - uniform()).ln() * 40.0 + uniform() * 20.0) as i64).collect();
    let cents: Vec<i64> = (0..n).map(|_| (-(1.0 - uniform()).ln() * 2_500.0) as i64).collect();
    println!("{n} LONG values per column; bytes per value, and ns per value to read (best of 5)\n");
    println!("| column | {} |", CODECS.map(|(_, name)| name).join(" | "));
    println!("|---|{}", "---:|".repeat(CODECS.len()));
    for (name, values) in [
        ("event time, ms, in order", &in_order),
        ("event time, ms, 100 ms out of order", &times),
        ("counter, steps of 1-3", &counter),
        ("latency, ms", &latency),
        ("amount, cents", &cents),
    ] {
        let cells: Vec<String> = CODECS.iter().map(|&(codec, _)| measure(codec, values)).collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
}

fn measure(codec: RawCodec, values: &[i64]) -> String {
    let physical = Physical::Fixed(FixedKind::Long);
    let bytes = write_raw(values.len(), physical, false, codec, |doc, chunk| chunk.push_key(long_key(values[doc])));
    let raw = RawForward::open(&bytes, physical, false).expect("the section opens");
    let mut best = f64::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let mut sum = 0u64;
        for c in 0..raw.chunk_count() {
            let chunk = raw.read_chunk(c).expect("a chunk");
            for doc in raw.chunk_docs(c) {
                sum = sum.wrapping_add(chunk.key(doc));
            }
        }
        std::hint::black_box(sum);
        best = best.min(started.elapsed().as_nanos() as f64 / values.len() as f64);
    }
    format!("{:.2} B, {best:.1} ns", bytes.len() as f64 / values.len() as f64)
}
