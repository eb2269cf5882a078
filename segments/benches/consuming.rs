//! The consuming segment's side of ingest: appending the benchmark's events (the same
//! generator as `benches/harness`, already converted to rows, so no decoding is timed) to a
//! [`MutableSegment`] of the benchmark's realtime table, then sealing it; reading it as a
//! query does; and the bytes per row it holds, column by column, printed once. `cargo bench -p cuvee-segments --bench
//! consuming`; `CUVEE_BENCH_ROWS` changes the 1 M.
#![allow(clippy::print_stdout)] // the bytes per row are part of the report

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_segments::format::SectionKind;
use cuvee_segments::{
    DecodeOptions, EvalOptions, FieldValue, ImmutableSegment, Measure, MutableSegment, Predicate, SegmentIdentity,
    SumAs,
};
use std::hint::black_box;
use std::sync::Arc;

#[allow(dead_code)]
#[path = "../../benches/harness/events.rs"]
mod events;
#[path = "../../benches/harness/rng.rs"]
mod rng;

fn rows() -> u64 {
    std::env::var("CUVEE_BENCH_ROWS").ok().and_then(|r| r.parse().ok()).unwrap_or(1_000_000)
}

fn table() -> Table {
    table_without_inverted(None)
}

/// The benchmark's realtime table, with `column` (not the first listed) left out of its
/// inverted indexes.
fn table_without_inverted(column: Option<&str>) -> Table {
    let schema = Schema::from_json(include_str!("../../benches/harness/events_schema.json")).unwrap();
    let mut config = include_str!("../../benches/harness/events_realtime_table_config.json").to_string();
    if let Some(column) = column {
        config = config.replace(&format!(", \"{column}\""), "");
    }
    let config =
        config.replace("${KAFKA}", "127.0.0.1:9092").replace("${TOPIC}", "events").replace("${FLUSH_ROWS}", "1000000");
    Table::new(schema, TableConfigJson::from_json(&config).unwrap()).unwrap()
}

/// The events as rows in the table's column order.
fn event_rows(table: &Table, n: u64) -> Vec<Vec<FieldValue>> {
    let vocabulary = events::Vocabulary::new();
    let text = |s: &str| FieldValue::Single(Value::String(s.to_string()));
    events::events(&vocabulary, 0, n)
        .into_iter()
        .map(|e| {
            table
                .schema
                .columns()
                .iter()
                .map(|c| match c.name.as_str() {
                    "ts" => FieldValue::Single(Value::Long(e.ts)),
                    "user_id" => FieldValue::Single(Value::Long(e.user_id)),
                    "session_id" => text(&e.session_id),
                    "country" => text(&vocabulary.country_names[e.country]),
                    "device" => text(events::device_name(e.device)),
                    "event_type" => text(&vocabulary.event_type_names[e.event_type]),
                    "page" => text(&vocabulary.page_names[e.page]),
                    "latency_ms" => FieldValue::Single(Value::Int(e.latency_ms)),
                    "revenue" => FieldValue::Single(Value::Double(e.revenue)),
                    "tags" => FieldValue::Multi(
                        e.tags.iter().map(|&t| Value::String(vocabulary.tag_names[t].clone())).collect(),
                    ),
                    other => panic!("the benchmark's schema has no column {other}"),
                })
                .collect()
        })
        .collect()
}

fn fill(table: &Table, rows: &[Vec<FieldValue>]) -> Arc<MutableSegment> {
    let segment = Arc::new(MutableSegment::new(table, "events__0__0"));
    for row in rows {
        segment.append(row).unwrap();
    }
    segment
}

fn consuming(c: &mut Criterion) {
    let table = table();
    let n = rows();
    let rows = event_rows(&table, n);
    let filled = fill(&table, &rows);
    println!("consuming segment, {n} events: {:.1} B/row", filled.memory_bytes() as f64 / n as f64);
    for (column, memory) in filled.memory_by_column() {
        let per_row = |bytes: usize| bytes as f64 / n as f64;
        println!(
            "  {column:<12} {:>6.1} B/row (dictionary {:.1}, values {:.1}, indexes {:.1})",
            per_row(memory.total()),
            per_row(memory.dictionary),
            per_row(memory.values),
            per_row(memory.indexes)
        );
    }
    let mut group = c.benchmark_group("consuming");
    group.throughput(Throughput::Elements(n));
    group.sample_size(10);
    group.bench_function("append_events", |b| b.iter(|| black_box(fill(&table, &rows).num_docs())));
    // What a query pays to read the consuming segment: a snapshot per query, as a server
    // takes one; an equality on the nearly unique session id (a scan: it has no inverted
    // index), and one column of 1,000 scattered docs decoded (late materialisation).
    let column = table.schema.columns().iter().position(|c| c.name == "session_id").unwrap_or(0);
    let session = match &rows[n as usize / 2][column] {
        FieldValue::Single(value) => value.clone(),
        _ => Value::String(String::new()),
    };
    group.bench_function("session_id_eq", |b| {
        b.iter(|| {
            let snapshot = filled.snapshot();
            let predicate = Predicate::eq("session_id", session.clone());
            black_box(snapshot.evaluate(&predicate, EvalOptions::default()).unwrap().docs.len())
        })
    });
    let mut docs: Vec<u32> = (0..1_000u64).map(|i| (i * 7_919 * 131 % n) as u32).collect();
    docs.sort_unstable();
    group.bench_function("decode_session_id_1000_docs", |b| {
        b.iter(|| {
            let snapshot = filled.snapshot();
            black_box(snapshot.decode(&["session_id"], &docs, DecodeOptions::default()).unwrap().num_rows())
        })
    });
    // A multi-value column without an inverted index: equality scans its ids doc by doc.
    group.bench_function("tags_eq_scanning_ids", |b| {
        b.iter(|| {
            let snapshot = filled.snapshot();
            let predicate = Predicate::eq("tags", Value::String("tag07".into()));
            black_box(snapshot.evaluate(&predicate, EvalOptions::default()).unwrap().docs.len())
        })
    });
    // Aggregates as a realtime table's fragment computes them on the consuming segment:
    // S8's groups on ids (each group's values decoded from its first doc), S7's SUM, AVG
    // (a sum and the counts) and MAX over raw or id columns; against decoding the same
    // columns for every doc, which the plain partial aggregate does before it hashes.
    let all = roaring::RoaringBitmap::from_sorted_iter(0..n as u32).unwrap();
    let every_doc: Vec<u32> = (0..n as u32).collect();
    group.bench_function("group_country_device_on_ids", |b| {
        b.iter(|| {
            let snapshot = filled.snapshot();
            let groups = snapshot.aggregate_groups(&["country", "device"], &[], &all).unwrap().unwrap();
            let values = snapshot.decode(&["country", "device"], &groups.first_docs, DecodeOptions::default());
            black_box(values.unwrap().num_rows())
        })
    });
    group.bench_function("decode_country_device_every_doc", |b| {
        b.iter(|| {
            let snapshot = filled.snapshot();
            black_box(snapshot.decode(&["country", "device"], &every_doc, DecodeOptions::default()).unwrap().num_rows())
        })
    });
    let measure = |column: &str, sum: Option<SumAs>, max: bool| Measure {
        column: column.into(),
        sum,
        min: false,
        max,
        histogram: false,
    };
    let s7 = [
        measure("revenue", Some(SumAs::Float), false),
        measure("latency_ms", Some(SumAs::Float), false),
        measure("ts", None, true),
    ];
    group.bench_function("sum_avg_max_on_ids", |b| {
        b.iter(|| {
            let snapshot = filled.snapshot();
            black_box(snapshot.aggregate_groups(&[], &s7, &all).unwrap().unwrap().counts.len())
        })
    });
    group.bench_function("decode_revenue_latency_ts_every_doc", |b| {
        b.iter(|| {
            let snapshot = filled.snapshot();
            let batch = snapshot.decode(&["revenue", "latency_ms", "ts"], &every_doc, DecodeOptions::default());
            black_box(batch.unwrap().num_rows())
        })
    });
    // S5's COUNT(DISTINCT user_id): a bit per dictionary id, the distinct ids decoded from
    // the dictionary; against decoding the column of every doc.
    group.bench_function("distinct_user_id_on_ids", |b| {
        b.iter(|| {
            let snapshot = filled.snapshot();
            let distinct = snapshot.distinct_ids("user_id", &all).unwrap().unwrap();
            black_box(snapshot.decode_ids("user_id", &distinct).unwrap().len())
        })
    });
    group.bench_function("decode_user_id_every_doc", |b| {
        b.iter(|| {
            let snapshot = filled.snapshot();
            black_box(snapshot.decode(&["user_id"], &every_doc, DecodeOptions::default()).unwrap().num_rows())
        })
    });
    // The same rows sealed: what the consuming segment's aggregates are measured against
    // (issue 17 asks a realtime table to stay within 1.3× of an imported one).
    let identity = SegmentIdentity { name: "events__0__0".into(), ..Default::default() };
    let sealed = ImmutableSegment::from_bytes("events__0__0.cvs".into(), filled.seal(&identity).unwrap()).unwrap();
    println!("sealed segment, {n} events: {:.1} B/row", sealed.size_bytes() as f64 / n as f64);
    for column in &sealed.metadata().columns {
        let sections: Vec<String> =
            column.bytes.iter().map(|(kind, bytes)| format!("{kind} {:.1}", *bytes as f64 / n as f64)).collect();
        let total: u64 = column.bytes.values().sum();
        let codec = sealed.column(&column.name).ok().and_then(|c| c.codec(SectionKind::ForwardRaw));
        let codec = codec.map(|c| format!(" [{c}]")).unwrap_or_default();
        println!("  {:<12} {:>6.1} B/row ({}){codec}", column.name, total as f64 / n as f64, sections.join(", "));
    }
    // Reads of the sealed copy that depend on how a nearly unique string is stored.
    group.bench_function("sealed_session_id_eq", |b| {
        let predicate = Predicate::eq("session_id", session.clone());
        b.iter(|| black_box(sealed.evaluate(&predicate, EvalOptions::default()).unwrap().docs.len()))
    });
    group.bench_function("sealed_decode_session_id_1000_docs", |b| {
        b.iter(|| black_box(sealed.decode(&["session_id"], &docs, DecodeOptions::default()).unwrap().num_rows()))
    });
    // Reads of the sealed copy that walk multi-value offsets: every doc's (no inverted
    // index on `tags`), and 1,000 scattered docs'.
    group.bench_function("sealed_tags_eq_scanning_ids", |b| {
        let predicate = Predicate::eq("tags", Value::String("tag07".into()));
        b.iter(|| black_box(sealed.evaluate(&predicate, EvalOptions::default()).unwrap().docs.len()))
    });
    group.bench_function("sealed_decode_tags_1000_docs", |b| {
        b.iter(|| black_box(sealed.decode(&["tags"], &docs, DecodeOptions::default()).unwrap().num_rows()))
    });
    group.bench_function("sealed_group_country_device_on_ids", |b| {
        b.iter(|| {
            let groups = sealed.aggregate_groups(&["country", "device"], &[], &all).unwrap().unwrap();
            let values = sealed.decode(&["country", "device"], &groups.first_docs, DecodeOptions::default());
            black_box(values.unwrap().num_rows())
        })
    });
    group.bench_function("sealed_sum_avg_max_on_ids", |b| {
        b.iter(|| black_box(sealed.aggregate_groups(&[], &s7, &all).unwrap().unwrap().counts.len()))
    });
    group.bench_function("sealed_distinct_user_id_on_ids", |b| {
        b.iter(|| {
            let distinct = sealed.distinct_ids("user_id", &all).unwrap().unwrap();
            black_box(sealed.decode_ids("user_id", &distinct).unwrap().len())
        })
    });
    // Equality through the sealed inverted index, at three shares of the docs: the most
    // common country (~17 %), a page of the middle (~0.05 %), one user (a few docs).
    let user_column = table.schema.columns().iter().position(|c| c.name == "user_id").unwrap_or(0);
    let user = match &rows[n as usize / 3][user_column] {
        FieldValue::Single(value) => value.clone(),
        _ => Value::Long(0),
    };
    for (name, predicate) in [
        ("country_top", Predicate::eq("country", Value::String("c000".into()))),
        ("page_mid", Predicate::eq("page", Value::String("/p/0100".into()))),
        ("user_id", Predicate::eq("user_id", user)),
    ] {
        group.bench_function(format!("sealed_inverted_eq_{name}"), |b| {
            b.iter(|| black_box(sealed.evaluate(&predicate, EvalOptions::default()).unwrap().docs.len()))
        });
    }
    drop(sealed);
    drop(every_doc);
    // The same rows where `event_type` has no inverted index: equality scans its ids.
    let plain = table_without_inverted(Some("event_type"));
    let plain_filled = fill(&plain, &rows);
    group.bench_function("event_type_eq_scanning_ids", |b| {
        b.iter(|| {
            let snapshot = plain_filled.snapshot();
            let predicate = Predicate::eq("event_type", Value::String("event_05".into()));
            black_box(snapshot.evaluate(&predicate, EvalOptions::default()).unwrap().docs.len())
        })
    });
    drop(plain_filled);
    group.bench_function("seal_events", |b| b.iter(|| black_box(filled.seal(&identity).unwrap().len())));
    group.finish();
}

criterion_group!(benches, consuming);
criterion_main!(benches);
