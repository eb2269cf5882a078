//! Micro-benchmarks of the segment format: bit-unpacking, equality filters over 10 M rows
//! through the inverted index and by scanning ids, range filters, and segment build speed.
//! `cargo bench -p cuvee-segments`; `CUVEE_BENCH_ROWS` changes the 10 M.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_segments::bitpack::{self, BLOCK};
use cuvee_segments::{EvalOptions, FieldValue, ImmutableSegment, Predicate, SegmentBuilder, SegmentIdentity};
use std::hint::black_box;

fn rows() -> usize {
    std::env::var("CUVEE_BENCH_ROWS").ok().and_then(|r| r.parse().ok()).unwrap_or(10_000_000)
}

fn table(index_config: &str) -> Table {
    let schema = Schema::from_json(
        r#"{"schemaName":"events","dimensionFieldSpecs":[{"name":"user","dataType":"INT"},{"name":"country","dataType":"STRING"}],
            "metricFieldSpecs":[{"name":"latency","dataType":"LONG"}]}"#,
    )
    .unwrap();
    let config = TableConfigJson::from_json(&format!(
        r#"{{"tableName":"events","tableType":"OFFLINE","tableIndexConfig":{index_config}}}"#
    ))
    .unwrap();
    Table::new(schema, config).unwrap()
}

/// Deterministic rows: user has 100 k values, country 200, latency is a raw metric.
fn build(table: &Table, n: usize) -> ImmutableSegment {
    let mut builder = SegmentBuilder::new(table);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let row = [
            FieldValue::Single(Value::Int((x % 100_000) as i32)),
            FieldValue::Single(Value::String(format!("c{}", (x >> 20) % 200))),
            FieldValue::Single(Value::Long(((x >> 32) % 5_000) as i64)),
        ];
        builder.push(&row).unwrap();
    }
    let bytes = builder.build(&SegmentIdentity { name: "events_0".into(), ..Default::default() }).unwrap();
    ImmutableSegment::from_bytes("events_0.cvs".into(), bytes).unwrap()
}

fn unpack(c: &mut Criterion) {
    let n = 10 * 1024 * 1024;
    let mut group = c.benchmark_group("bitpack_unpack");
    group.throughput(Throughput::Elements(n as u64));
    for width in [3u32, 9, 17] {
        let values: Vec<u32> = (0..n as u32).map(|i| i.wrapping_mul(2_654_435_761) & ((1 << width) - 1)).collect();
        let mut packed = Vec::new();
        bitpack::pack(&values, width, &mut packed);
        let words = bitpack::block_words(width);
        group.bench_with_input(BenchmarkId::from_parameter(width), &width, |b, &width| {
            let mut out = [0u32; BLOCK];
            b.iter(|| {
                let mut sum = 0u32;
                for block in packed.chunks_exact(words) {
                    bitpack::unpack_block(block, width, &mut out);
                    sum = sum.wrapping_add(out[1023]);
                }
                black_box(sum)
            })
        });
    }
    group.finish();
}

fn filters(c: &mut Criterion) {
    let n = rows();
    let indexed = build(
        &table(
            r#"{"invertedIndexColumns":["user","country"],"rangeIndexColumns":["latency"],"noDictionaryColumns":["latency"]}"#,
        ),
        n,
    );
    let plain = build(&table(r#"{"noDictionaryColumns":["latency"]}"#), n);
    let mut group = c.benchmark_group(format!("filter_{n}_rows"));
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(20);
    let user = Predicate::eq("user", Value::Int(4242));
    let country = Predicate::eq("country", Value::String("c17".into()));
    let latency = Predicate::between("latency", Value::Long(100), Value::Long(149));
    for (name, segment) in [("inverted", &indexed), ("scan", &plain)] {
        group.bench_function(format!("user_eq/{name}"), |b| {
            b.iter(|| black_box(segment.evaluate(&user, EvalOptions::default()).unwrap().docs.len()))
        });
        group.bench_function(format!("country_eq/{name}"), |b| {
            b.iter(|| black_box(segment.evaluate(&country, EvalOptions::default()).unwrap().docs.len()))
        });
    }
    for (name, segment) in [("range_index", &indexed), ("scan_raw", &plain)] {
        group.bench_function(format!("latency_1pct/{name}"), |b| {
            b.iter(|| black_box(segment.evaluate(&latency, EvalOptions::default()).unwrap().docs.len()))
        });
    }
    group.finish();
}

fn build_speed(c: &mut Criterion) {
    let n = 1_000_000;
    let table = table(
        r#"{"invertedIndexColumns":["user","country"],"rangeIndexColumns":["latency"],"noDictionaryColumns":["latency"]}"#,
    );
    let mut group = c.benchmark_group("segment_build");
    group.throughput(Throughput::Elements(n as u64));
    group.sample_size(10);
    group.bench_function("1M_rows_all_indexes", |b| b.iter(|| black_box(build(&table, n).num_docs())));
    group.finish();
}

criterion_group!(benches, unpack, filters, build_speed);
criterion_main!(benches);
