//! `cuvee infer`: a schema and REALTIME table config for a Kafka topic, proposed from a
//! sample of its newest messages (the same proposal as `POST /topics/{topic}/infer`).
//! Prints `{"schema", "tableConfig", "columns", "sample"}`, or with `--out DIR` writes
//! `<table>_schema.json` and `<table>_realtime_table_config.json` there, ready for
//! `POST /schemas` and `POST /tables` (or `cuvee import --schema … --table-config …`).

use anyhow::{Context, Result};
use cuvee_ingest::infer::{propose, SampleFormat};
use cuvee_ingest::realtime::topics::{Budget, Explorer, Range};
use std::path::PathBuf;
use std::time::Duration;

pub struct Options {
    pub kafka: String,
    pub topic: String,
    pub messages: u64,
    pub avro_schema: Option<PathBuf>,
    pub out: Option<PathBuf>,
}

pub fn run(options: Options) -> Result<()> {
    let format = match &options.avro_schema {
        None => SampleFormat::Json,
        Some(path) => SampleFormat::Avro {
            schema: std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        },
    };
    let explorer = Explorer::connect(&options.kafka)?;
    let budget = Budget {
        max_messages: usize::try_from(options.messages.clamp(1, 100_000)).unwrap_or(100_000),
        max_bytes: 256 << 20,
        deadline: Duration::from_secs(30),
    };
    let sampled = explorer.read(&options.topic, Range::Last(options.messages.clamp(1, 100_000)), budget)?;
    let payloads: Vec<&[u8]> = sampled.iter().map(|m| m.payload.as_slice()).collect();
    let proposal = propose(&options.topic, &options.kafka, &format, &payloads)?;
    match &options.out {
        None => println!("{}", serde_json::to_string_pretty(&proposal)?),
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let name = proposal.table_config["tableName"].as_str().unwrap_or("table").to_string();
            let schema = dir.join(format!("{name}_schema.json"));
            let config = dir.join(format!("{name}_realtime_table_config.json"));
            std::fs::write(&schema, serde_json::to_string_pretty(&proposal.schema)?)
                .with_context(|| format!("writing {}", schema.display()))?;
            std::fs::write(&config, serde_json::to_string_pretty(&proposal.table_config)?)
                .with_context(|| format!("writing {}", config.display()))?;
            println!(
                "sampled {} {} messages of {} ({} unreadable)",
                proposal.sample.messages, proposal.sample.format, options.topic, proposal.sample.skipped
            );
            for c in &proposal.columns {
                println!(
                    "  {:<32} {:<9}{} {:<9} {}",
                    c.name,
                    c.data_type,
                    if c.multi_value { "[]" } else { "  " },
                    c.role,
                    c.why
                );
            }
            println!("wrote {} and {}", schema.display(), config.display());
        }
    }
    Ok(())
}
