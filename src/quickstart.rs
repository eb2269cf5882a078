//! `cuvee quickstart`: import Pinot's sample tables into a local data folder and answer a few
//! questions through the indexes. Until SQL and Kafka ingestion land, the questions are
//! predicates evaluated by the segments directly; the answers are real, from real files.

use crate::{load_table, table_dir};
use anyhow::{bail, Context, Result};
use cuvee_catalog::Value;
use cuvee_ingest::{import, ImportOptions};
use cuvee_segments::{DecodeOptions, EvalOptions, ImmutableSegment, Predicate, TableStore};
use std::path::PathBuf;
use std::time::Instant;

struct Sample {
    folder: &'static str,
    schema: &'static str,
    config: &'static str,
    data: &'static str,
}

const SAMPLES: [Sample; 3] = [
    Sample {
        folder: "baseballStats",
        schema: "baseballStats_schema.json",
        config: "baseballStats_offline_table_config.json",
        data: "rawdata/baseballStats.zstd.parquet",
    },
    Sample {
        folder: "airlineStats",
        schema: "airlineStats_schema.json",
        config: "airlineStats_offline_table_config.json",
        data: "rawdata/airlineStats_data.avro",
    },
    Sample {
        folder: "githubEvents",
        schema: "githubEvents_schema.json",
        config: "githubEvents_offline_table_config.json",
        data: "rawdata/2021-07-21-few-hours.json",
    },
];

fn find_examples(given: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(dir) = given {
        return Ok(dir);
    }
    for candidate in ["pinot-examples", "../shared/pinot-examples", "../../shared/pinot-examples"] {
        let dir = PathBuf::from(candidate);
        if dir.join("baseballStats").is_dir() {
            return Ok(dir);
        }
    }
    bail!("Pinot's examples folder was not found; pass --examples DIR")
}

pub fn run(data_dir: &std::path::Path, examples: Option<PathBuf>) -> Result<()> {
    let examples = find_examples(examples)?;
    println!("cuvee quickstart: importing Pinot's sample tables into {}", data_dir.display());
    for sample in &SAMPLES {
        let folder = examples.join(sample.folder);
        let table = load_table(&folder.join(sample.schema), &folder.join(sample.config))?;
        let dir = table_dir(data_dir, &table);
        if dir.join("manifest.json").exists() {
            println!("  {:<14} already imported", table.name());
            continue;
        }
        let started = Instant::now();
        let report = import(&table, &[folder.join(sample.data)], &dir, &ImportOptions::default())?;
        println!(
            "  {:<14} {:>7} rows in {:>5.0} ms ({} bad rows skipped)",
            table.name(),
            report.rows_imported,
            started.elapsed().as_secs_f64() * 1000.0,
            report.bad_row_count
        );
    }
    println!();
    let baseball = open(data_dir, "baseballStats", &examples)?;
    answer(&baseball, "Players' seasons with the San Francisco Giants (teamID = 'SFN')", &Predicate::eq("teamID", Value::String("SFN".into())), &["playerName", "yearID", "homeRuns"])?;
    answer(
        &baseball,
        "Seasons since 2000 with at least 40 home runs",
        &Predicate::And(vec![
            Predicate::compare("yearID", cuvee_segments::CompareOp::Ge, Value::Int(2000)),
            Predicate::compare("homeRuns", cuvee_segments::CompareOp::Ge, Value::Int(40)),
        ]),
        &["playerName", "yearID", "teamID", "homeRuns"],
    )?;
    let airline = open(data_dir, "airlineStats", &examples)?;
    answer(&airline, "American Airlines flights (Carrier = 'AA') that were cancelled", &Predicate::And(vec![
        Predicate::eq("Carrier", Value::String("AA".into())),
        Predicate::eq("Cancelled", Value::Int(1)),
    ]), &["FlightDate", "Origin", "Dest", "CancellationCode"])?;
    let github = open(data_dir, "githubEvents", &examples)?;
    answer(&github, "GitHub push events", &Predicate::eq("type", Value::String("PushEvent".into())), &["id", "created_at"])?;
    println!();
    println!("Now try SQL over Pinot's HTTP API (pinotdb works too), for example:");
    println!("  curl -s -X POST localhost:8099/query/sql -H 'Content-Type: application/json' \\");
    println!("    -d '{{\"sql\": \"SELECT teamID, SUM(homeRuns) AS hr FROM baseballStats GROUP BY teamID ORDER BY hr DESC\"}}'");
    Ok(())
}

fn open(data_dir: &std::path::Path, name: &str, examples: &std::path::Path) -> Result<Vec<ImmutableSegment>> {
    let folder = examples.join(name);
    let sample = SAMPLES.iter().find(|s| s.folder == name).context("unknown sample")?;
    let table = load_table(&folder.join(sample.schema), &folder.join(sample.config))?;
    let store = TableStore::open_or_create(&table_dir(data_dir, &table), &table)?;
    let (segments, errors) = store.open_segments();
    for error in errors {
        eprintln!("warning: {error}");
    }
    Ok(segments)
}

fn answer(segments: &[ImmutableSegment], question: &str, predicate: &Predicate, show: &[&str]) -> Result<()> {
    let started = Instant::now();
    let mut matched = 0;
    let mut first_rows = Vec::new();
    let mut how = Vec::new();
    for segment in segments {
        let evaluation = segment.evaluate(predicate, EvalOptions::default())?;
        matched += evaluation.docs.len();
        how.extend(evaluation.trace.iter().map(|t| format!("{} via {}", t.column, t.access)));
        if first_rows.is_empty() && !evaluation.docs.is_empty() {
            let docs: Vec<u32> = evaluation.docs.iter().take(3).collect();
            let batch = segment.decode(show, &docs, DecodeOptions::default())?;
            first_rows.push(arrow_rows(&batch));
        }
    }
    how.dedup();
    println!("{question}: {matched} rows ({:.2} ms; {})", started.elapsed().as_secs_f64() * 1000.0, how.join(", "));
    for rows in first_rows {
        for row in rows {
            println!("    {row}");
        }
    }
    Ok(())
}

fn arrow_rows(batch: &arrow_array::RecordBatch) -> Vec<String> {
    (0..batch.num_rows())
        .map(|r| {
            batch
                .schema()
                .fields()
                .iter()
                .enumerate()
                .map(|(c, f)| format!("{}={}", f.name(), arrow_cast_display(batch.column(c), r)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn arrow_cast_display(array: &arrow_array::ArrayRef, row: usize) -> String {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    use arrow_schema::DataType;
    match array.data_type() {
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::Float32 => array.as_primitive::<Float32Type>().value(row).to_string(),
        DataType::Float64 => array.as_primitive::<Float64Type>().value(row).to_string(),
        DataType::Utf8 => array.as_string::<i32>().value(row).to_string(),
        DataType::Boolean => array.as_boolean().value(row).to_string(),
        other => format!("<{other}>"),
    }
}
