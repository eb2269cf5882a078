//! Query latency through the broker's Pinot query path, in process: p50/p99 of a selective
//! equality on an inverted column, a range on the sorted column, a filtered group-by
//! top-10 and COUNT(*), over airlineStats and over a generated events table, each query
//! cycling through 16 literals (`QUERY_LATENCY_PLAN_CACHE=0` turns kept plans off). Writes the
//! generated rows as Parquet so `benches/query_latency.sh` can run DuckDB on the same rows
//! in the same run.
//!
//!     cargo run --release -p cuvee-broker --example query_latency -- <out-dir> [rows]
// A measuring tool: its output is what it is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use arrow_array::{Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema as ArrowSchema};
use cuvee::Process as Broker;
use cuvee_broker::QueryLimits;
use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_ingest::{import, ImportOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

const RUNS: usize = 60;

/// A small deterministic generator (SplitMix64), so every run sees the same rows.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn write_events(path: &Path, rows: usize) {
    let schema = Arc::new(ArrowSchema::new(vec![
        Field::new("ts", DataType::Int64, false),
        Field::new("user_id", DataType::Int64, false),
        Field::new("country", DataType::Utf8, false),
        Field::new("device", DataType::Utf8, false),
        Field::new("latency_ms", DataType::Float64, false),
    ]));
    let file = std::fs::File::create(path).expect("create parquet");
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, Arc::clone(&schema), None).expect("writer");
    let mut rng = Rng(42);
    let countries: Vec<String> = (0..200).map(|i| format!("C{i:03}")).collect();
    let devices = ["phone", "tablet", "desktop", "tv", "watch", "car", "console", "kiosk", "bot", "other"];
    let start_ms = 1_700_000_000_000i64;
    let mut done = 0;
    while done < rows {
        let n = (rows - done).min(1 << 20);
        let ts: Vec<i64> = (done..done + n).map(|i| start_ms + i as i64 * 10).collect();
        // Skewed ids: a few heavy users, a long tail (a power law over 1 M ids).
        let users: Vec<i64> = (0..n).map(|_| (1_000_000f64.powf(rng.unit()) as i64).min(999_999)).collect();
        let country: Vec<&str> =
            (0..n).map(|_| countries[(200f64.powf(rng.unit()) as usize).min(199)].as_str()).collect();
        let device: Vec<&str> = (0..n).map(|_| devices[(rng.next() % 10) as usize]).collect();
        let latency: Vec<f64> = (0..n).map(|_| (-rng.unit().max(1e-12).ln() * 80.0).round()).collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(ts)),
                Arc::new(Int64Array::from(users)),
                Arc::new(StringArray::from(country)),
                Arc::new(StringArray::from(device)),
                Arc::new(Float64Array::from(latency)),
            ],
        )
        .expect("batch");
        writer.write(&batch).expect("write");
        done += n;
    }
    writer.close().expect("close");
}

const EVENTS_SCHEMA: &str = r#"{"schemaName":"events","dimensionFieldSpecs":[{"name":"user_id","dataType":"LONG"},
  {"name":"country","dataType":"STRING"},{"name":"device","dataType":"STRING"}],
  "metricFieldSpecs":[{"name":"latency_ms","dataType":"DOUBLE"}],
  "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:MILLISECONDS:EPOCH","granularity":"1:MILLISECONDS"}]}"#;
const EVENTS_TABLE: &str = r#"{"tableName":"events","tableType":"OFFLINE","segmentsConfig":{"timeColumnName":"ts"},
  "tableIndexConfig":{"sortedColumn":["ts"],"invertedIndexColumns":["user_id","country","device"],"rangeIndexColumns":["latency_ms"]},
  "metadata":{},"tenants":{}}"#;

fn import_table(data_dir: &Path, schema: &str, config: &str, files: &[PathBuf], rows_per_segment: usize) {
    let table =
        Table::new(Schema::from_json(schema).expect("schema"), TableConfigJson::from_json(config).expect("config"))
            .expect("table");
    let options = ImportOptions { progress: false, max_rows_per_segment: rows_per_segment, ..Default::default() };
    let started = Instant::now();
    let report = import(&table, files, &data_dir.join("tables").join(table.name()), &options).expect("import");
    eprintln!("imported {} rows of {} in {:.1?}", report.rows_imported, table.name(), started.elapsed());
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "target/query-latency".into()));
    let rows: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(10_000_000);
    std::fs::create_dir_all(&out).expect("out dir");
    let parquet = out.join("events.parquet");
    if !parquet.exists() {
        write_events(&parquet, rows);
    }
    let data_dir = out.join("cuvee-data");
    let _ = std::fs::remove_dir_all(&data_dir);
    import_table(&data_dir, EVENTS_SCHEMA, EVENTS_TABLE, &[parquet], 5_000_000);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pinot-examples/airlineStats");
    let airline_config = r#"{"tableName":"airlineStats","tableType":"OFFLINE","segmentsConfig":{"timeColumnName":"DaysSinceEpoch"},
      "tableIndexConfig":{"sortedColumn":["DaysSinceEpoch"],"invertedIndexColumns":["Origin","Carrier"]},"metadata":{},"tenants":{}}"#;
    // The conformance suite's copy of airlineStats' schema (the same columns, without the
    // derived ts/tsRaw), which the DuckDB side loads the rows with.
    let conformance = examples.join("../conformance/On_Time_On_Time_Performance_2014_100k_subset_nonulls.schema");
    let airline_schema =
        std::fs::read_to_string(conformance).expect("schema").replace("\"mytable\"", "\"airlineStats\"");
    import_table(
        &data_dir,
        &airline_schema,
        airline_config,
        &[examples.join("rawdata/airlineStats_data.avro")],
        5_000_000,
    );
    // `QUERY_LATENCY_PLAN_CACHE=0` plans every query from its text, for a same-binary comparison.
    let plan_cache_entries = std::env::var("QUERY_LATENCY_PLAN_CACHE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(QueryLimits::default().plan_cache_entries);
    let (broker, warnings) =
        Broker::open(&data_dir, QueryLimits { plan_cache_entries, ..QueryLimits::default() }).expect("broker");
    assert!(warnings.is_empty(), "{warnings:?}");
    // Each query cycles through 16 literals, as a dashboard's parameters do; `{k}` is 0..16.
    let devices = ["phone", "tablet", "desktop", "tv", "watch", "car", "console", "kiosk", "bot", "other"];
    let origins = [
        "SFO", "LAX", "ORD", "ATL", "DFW", "DEN", "JFK", "SEA", "BOS", "PHX", "LAS", "MSP", "DTW", "IAH", "EWR", "CLT",
    ];
    let carriers = ["AA", "DL", "UA", "WN", "B6", "AS", "EV", "OO", "US", "F9", "HA", "MQ", "VX", "FL", "9E", "YV"];
    type Sql = Box<dyn Fn(usize) -> String>;
    let queries: Vec<(&str, &str, Sql)> = vec![
        (
            "events",
            "equality on an inverted column",
            Box::new(|k| format!("SELECT COUNT(*), SUM(latency_ms) FROM events WHERE user_id = {}", 4242 + k)),
        ),
        (
            "events",
            "range on the sorted column",
            Box::new(|k| {
                format!(
                    "SELECT COUNT(*), AVG(latency_ms) FROM events WHERE ts BETWEEN {} AND {}",
                    1_700_010_000_000u64 + k as u64 * 1_000_000,
                    1_700_010_999_990u64 + k as u64 * 1_000_000
                )
            }),
        ),
        (
            "events",
            "group-by top-10 with a filter",
            Box::new(move |k| {
                format!("SELECT country, COUNT(*) FROM events WHERE device = '{}' GROUP BY country ORDER BY COUNT(*) DESC, country LIMIT 10", devices[k % devices.len()])
            }),
        ),
        ("events", "COUNT(*)", Box::new(|_| "SELECT COUNT(*) FROM events".to_string())),
        (
            "airlineStats",
            "equality on an inverted column",
            Box::new(move |k| {
                format!(
                    "SELECT COUNT(*), SUM(ArrDelay) FROM airlineStats WHERE Origin = '{}'",
                    origins[k % origins.len()]
                )
            }),
        ),
        (
            "airlineStats",
            "range on the sorted column",
            Box::new(|k| {
                format!(
                    "SELECT COUNT(*), AVG(ArrDelay) FROM airlineStats WHERE DaysSinceEpoch BETWEEN {} AND {}",
                    16075 + k,
                    16080 + k
                )
            }),
        ),
        (
            "airlineStats",
            "group-by top-10 with a filter",
            Box::new(move |k| {
                format!("SELECT Dest, COUNT(*) FROM airlineStats WHERE Carrier = '{}' GROUP BY Dest ORDER BY COUNT(*) DESC, Dest LIMIT 10", carriers[k % carriers.len()])
            }),
        ),
        ("airlineStats", "COUNT(*)", Box::new(|_| "SELECT COUNT(*) FROM airlineStats".to_string())),
    ];
    let mut results = Vec::new();
    for (table, name, sql) in &queries {
        for k in 0..5 {
            broker.service.query(&sql(k), None, &cuvee_access::Principal::anonymous()).await;
        }
        let mut times = Vec::with_capacity(RUNS);
        let mut answer = serde_json::Value::Null;
        for run in 0..RUNS {
            let text = sql(run % 16);
            let started = Instant::now();
            let response = broker.service.query(&text, None, &cuvee_access::Principal::anonymous()).await;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            assert!(response.exceptions.is_empty(), "{text}: {:?}", response.exceptions);
            if run % 16 == 0 {
                // The answer `sql(0)` gives, which query_latency.py checks against DuckDB.
                answer = serde_json::to_value(&response).expect("json")["resultTable"]["rows"].clone();
            }
        }
        times.sort_by(f64::total_cmp);
        let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
        eprintln!("{table:>12}  {name:<32} p50 {p50:7.3} ms  p99 {p99:7.3} ms");
        results.push(serde_json::json!({ "table": table, "query": name, "sql": sql(0), "p50_ms": p50, "p99_ms": p99, "rows": answer }));
    }
    eprintln!("plan cache: {:?}", broker.service.plan_cache_stats());
    // The part of a kept plan's fixed cost spent before planning: the Pinot dialect's parse,
    // rewrite and template, in full and from a kept shape of the text (stderr only; it
    // explains, it is not a result).
    let shapes = cuvee_broker::shapes::Shapes::new(16);
    for (table, name, sql) in &queries {
        let full = time_dialect(&|| cuvee_broker::dialect::prepare(&sql(3), None).expect("prepare"));
        shapes.prepare(&sql(2), None).expect("prepare");
        let kept = time_dialect(&|| shapes.prepare(&sql(3), None).expect("prepare"));
        eprintln!("{table:>12}  {name:<32} dialect {full:6.1} µs, from a kept shape {kept:6.1} µs");
    }
    let path = out.join("cuvee.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results).expect("json")).expect("write results");
    println!("{}", path.display());
}

/// The median time of 1,000 runs of a dialect step, in µs.
fn time_dialect(step: &dyn Fn() -> cuvee_broker::dialect::PinotQuery) -> f64 {
    let mut times: Vec<f64> = (0..1000)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(step());
            started.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    times.sort_by(f64::total_cmp);
    percentile(&times, 0.5)
}
