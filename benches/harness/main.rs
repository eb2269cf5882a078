//! The benchmark harness's Rust half (benches/bench.py drives it):
//!
//! - `generate --out DIR --rows N [--files K] [--draws D]`: the event stream as zstd Parquet
//!   files (`DIR/parquet/`), the query mix with its parameter draws (`DIR/queries.json`).
//! - `produce --bootstrap HOST:PORT --topic T --from A --to B [--rate R]`: rows `A..B` of the
//!   same stream as JSON messages, as fast as possible or at `R` events/s.
//! - `embedded --data-dir D --queries FILE --runs R --out FILE`: cuvee in process (the
//!   broker's Pinot query path, no HTTP): answers and p50/p99 of every query.
//! - `ingest --rows N --data-dir D --parquet-dir P --out FILE`: the consumer's path per core
//!   for JSON and Avro, consuming-segment bytes per row, seal time, and the imported
//!   table's bytes per row by index next to Parquet+zstd.
//!
//!   cargo run --release -p cuvee-bench --bin bench -- generate --out target/bench --rows 10000000
// A measuring tool: its output is what it is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod embedded;
mod events;
mod ingest;
mod produce;
mod queries;
mod rng;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// `--flag value` pairs after the subcommand.
pub struct Flags(HashMap<String, String>);

impl Flags {
    fn parse(args: impl Iterator<Item = String>) -> Result<Flags, Error> {
        let mut flags = HashMap::new();
        let mut args = args.peekable();
        while let Some(flag) = args.next() {
            let Some(name) = flag.strip_prefix("--") else {
                return Err(format!("expected a --flag, got {flag:?}").into());
            };
            let value = args.next().ok_or_else(|| format!("--{name} needs a value"))?;
            flags.insert(name.to_string(), value);
        }
        Ok(Flags(flags))
    }

    pub fn text(&self, name: &str) -> Result<String, Error> {
        self.0.get(name).cloned().ok_or_else(|| format!("--{name} is required").into())
    }

    pub fn path(&self, name: &str) -> Result<PathBuf, Error> {
        self.text(name).map(PathBuf::from)
    }

    pub fn number<T: std::str::FromStr>(&self, name: &str, default: Option<T>) -> Result<T, Error>
    where
        T::Err: std::fmt::Display,
    {
        match (self.0.get(name), default) {
            (Some(v), _) => v.replace('_', "").parse().map_err(|e| format!("--{name} {v:?}: {e}").into()),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(format!("--{name} is required").into()),
        }
    }
}

fn generate(flags: &Flags) -> Result<(), Error> {
    let out = flags.path("out")?;
    let rows: u64 = flags.number("rows", Some(10_000_000))?;
    let files: u64 = flags.number("files", Some(rows.div_ceil(1_000_000).max(1)))?;
    let draws: usize = flags.number("draws", Some(16))?;
    let parquet_dir = out.join("parquet");
    let _ = std::fs::remove_dir_all(&parquet_dir);
    std::fs::create_dir_all(&parquet_dir)?;
    let started = Instant::now();
    let vocabulary = events::Vocabulary::new();
    let per_file = rows.div_ceil(files);
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(parquet::basic::ZstdLevel::try_new(3)?))
        .build();
    let mut bytes = 0;
    for file in 0..files {
        let (from, to) = (file * per_file, ((file + 1) * per_file).min(rows));
        let path = parquet_dir.join(format!("events-{file:03}.parquet"));
        let mut writer = parquet::arrow::ArrowWriter::try_new(
            std::fs::File::create(&path)?,
            events::arrow_schema(),
            Some(properties.clone()),
        )?;
        let mut at = from;
        while at < to {
            let end = (at + 262_144).min(to);
            writer.write(&events::record_batch(&vocabulary, &events::events(&vocabulary, at, end))?)?;
            at = end;
        }
        writer.close()?;
        bytes += std::fs::metadata(&path)?.len();
    }
    let queries: Vec<serde_json::Value> =
        queries::queries(&vocabulary, rows, draws).iter().map(queries::Query::to_json).collect();
    std::fs::write(out.join("queries.json"), serde_json::to_string_pretty(&queries)?)?;
    let facts = serde_json::json!({ "rows": rows, "files": files, "parquet_bytes": bytes, "seconds": started.elapsed().as_secs_f64() });
    std::fs::write(out.join("generated.json"), facts.to_string())?;
    println!("{facts}");
    Ok(())
}

fn main() {
    // The allocator settings of the `cuvee` binary, so in-process numbers match it.
    cuvee::keep_freed_memory();
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let result = Flags::parse(args).and_then(|flags| match command.as_str() {
        "generate" => generate(&flags),
        "produce" => produce::run(&flags),
        "embedded" => embedded::run(&flags),
        "ingest" => ingest::run(&flags),
        other => Err(format!("unknown command {other:?}: generate, produce, embedded or ingest").into()),
    });
    if let Err(e) = result {
        eprintln!("bench {command}: {e}");
        std::process::exit(2);
    }
}

/// The value at rank ⌊n · p⌋ of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// The shared vocabulary is costly to build (1 M-entry CDF); build it once per command.
pub fn vocabulary() -> Arc<events::Vocabulary> {
    Arc::new(events::Vocabulary::new())
}
