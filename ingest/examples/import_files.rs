//! Times `import` of files into a fresh table folder, as `cuvee import` runs it, without
//! building the server: `cargo run --release -p cuvee-ingest --example import_files --
//! SCHEMA TABLE_CONFIG FILE...` (`REPEAT=n` runs it n times; `ROWS=1` takes every record through the general path;
//! `KEEP=DIR` imports into DIR and keeps it, for `cuvee segment inspect` or `open_segments`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_ingest::{import, ImportOptions};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [schema, config, files @ ..] = args.as_slice() else {
        return Err("usage: import_files SCHEMA TABLE_CONFIG FILE...".into());
    };
    let schema = Schema::from_json(&std::fs::read_to_string(schema)?)?;
    let config = TableConfigJson::from_json(&std::fs::read_to_string(config)?)?;
    let table = Table::new(schema, config)?;
    let files: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
    let options = ImportOptions { progress: false, direct: std::env::var("ROWS").is_err(), ..Default::default() };
    for _ in 0..std::env::var("REPEAT").ok().and_then(|r| r.parse().ok()).unwrap_or(1) {
        let temporary = tempfile::tempdir()?;
        let dir = std::env::var_os("KEEP").map_or_else(|| temporary.path().to_path_buf(), PathBuf::from);
        let start = std::time::Instant::now();
        let report = import(&table, &files, &dir, &options)?;
        let seconds = start.elapsed().as_secs_f64();
        let rows = report.rows_imported;
        println!("{rows} rows in {seconds:.2} s: {:.0} rows/s ({} bad)", rows as f64 / seconds, report.bad_row_count);
    }
    Ok(())
}
