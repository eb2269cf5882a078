//! The `cuvee` command: one binary for every role.

mod clickstream;
mod cluster;
mod definitions;
mod quickstart;
mod serve;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use cuvee_broker::QueryLimits;
use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_ingest::{import, FileFormat, ImportOptions};
use cuvee_segments::ImmutableSegment;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "cuvee", version, about = "A real-time OLAP store in the family of Apache Pinot")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One process, no setup: an embedded Kafka broker, a realtime table with events
    /// streaming in, Pinot's sample tables, and the HTTP API to query them.
    Quickstart {
        /// Where to keep the tables; tables already there are not imported again.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Pinot's examples folder (default: ./pinot-examples or ../shared/pinot-examples).
        #[arg(long)]
        examples: Option<PathBuf>,
        /// Where to serve Pinot's query API afterwards.
        #[arg(long, default_value = "127.0.0.1:8099")]
        listen: String,
        /// Show the stream arriving and a few answers, then exit instead of serving.
        #[arg(long)]
        no_serve: bool,
        /// Use this Kafka (host:port) instead of the embedded broker.
        #[arg(long)]
        kafka: Option<String>,
        /// Events produced per second into the clickstream topic.
        #[arg(long, default_value_t = 2_000)]
        events_per_second: u32,
        #[command(flatten)]
        postgres: serve::PostgresArgs,
        #[command(flatten)]
        flight: serve::FlightArgs,
    },
    /// Import CSV, JSON, Avro or Parquet files into a table.
    Import {
        /// Pinot schema JSON.
        #[arg(long)]
        schema: PathBuf,
        /// Pinot table config JSON.
        #[arg(long)]
        table_config: PathBuf,
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// csv, json, avro or parquet (default: from each file's extension).
        #[arg(long)]
        format: Option<String>,
        /// Stop at the first bad row instead of skipping it.
        #[arg(long)]
        strict: bool,
        #[arg(long, default_value_t = 5_000_000)]
        max_rows_per_segment: usize,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Serve every table in the data directory through Pinot's HTTP query API.
    Serve {
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// Address to listen on (Pinot's broker port by default).
        #[arg(long, default_value = "127.0.0.1:8099")]
        listen: String,
        /// Memory one query may use, in MiB (operators spill or fail past it).
        #[arg(long, default_value_t = 4096)]
        query_memory_mb: usize,
        /// Rows one result may have.
        #[arg(long, default_value_t = 1_000_000)]
        max_result_rows: usize,
        /// How often realtime tables look for partitions added to their topic, in ms.
        #[arg(long, default_value_t = 5_000)]
        partition_discovery_ms: u64,
        /// Keep tables in this deep store too (s3://bucket/prefix, file:///dir); tables it
        /// has and the data directory lacks are restored from it. S3 settings: AWS_* env.
        #[arg(long)]
        deep_store: Option<String>,
        #[command(flatten)]
        postgres: serve::PostgresArgs,
        #[command(flatten)]
        flight: serve::FlightArgs,
    },
    /// A cluster's server: holds the data directory's tables, consumes its share of each
    /// topic's partitions, answers brokers' plan fragments over gRPC (and its own HTTP API).
    Server {
        #[arg(long, env = "CUVEE_DATA_DIR", default_value = "data")]
        data_dir: PathBuf,
        /// The HTTP API (controller, local queries, /health for probes).
        #[arg(long, env = "CUVEE_LISTEN", default_value = "127.0.0.1:8097")]
        listen: String,
        /// Where brokers reach this server.
        #[arg(long, env = "CUVEE_GRPC_LISTEN", default_value = "127.0.0.1:8090")]
        grpc_listen: String,
        /// This server's ordinal (default: CUVEE_SERVER_ORDINAL, or the host name's -N ending).
        #[arg(long)]
        ordinal: Option<u32>,
        /// How many servers share the partitions: this one consumes p with p mod N = ordinal.
        #[arg(long, env = "CUVEE_SERVER_COUNT", default_value_t = 1)]
        servers: u32,
        /// How many servers consume each partition (1 to --servers). Above 1, replicas agree
        /// on segments through the deep store, which is then required.
        #[arg(long, env = "CUVEE_REPLICAS", default_value_t = 1)]
        replicas: u32,
        /// Schema and table config JSON files to apply at start (see `definitions`).
        #[arg(long, env = "CUVEE_TABLES")]
        tables: Option<PathBuf>,
        #[arg(long, env = "CUVEE_QUERY_MEMORY_MB", default_value_t = 4096)]
        query_memory_mb: usize,
        #[arg(long, default_value_t = 5_000)]
        partition_discovery_ms: u64,
        /// Shared deep store URL (s3://bucket/prefix, file:///dir).
        #[arg(long, env = "CUVEE_DEEP_STORE")]
        deep_store: Option<String>,
    },
    /// A cluster's broker: takes queries on every door and scatters them to the servers.
    Broker {
        /// host:port,host:port — or dns:NAME:PORT (a Kubernetes headless Service).
        #[arg(long, env = "CUVEE_SERVERS")]
        servers: String,
        #[arg(long, env = "CUVEE_LISTEN", default_value = "127.0.0.1:8099")]
        listen: String,
        #[arg(long, env = "CUVEE_QUERY_MEMORY_MB", default_value_t = 4096)]
        query_memory_mb: usize,
        #[arg(long, default_value_t = 1_000_000)]
        max_result_rows: usize,
        /// How often the servers are asked for their segments, in ms.
        #[arg(long, default_value_t = 1_000)]
        routing_refresh_ms: u64,
        #[command(flatten)]
        postgres: serve::PostgresArgs,
        #[command(flatten)]
        flight: serve::FlightArgs,
    },
    /// Look inside segment files.
    Segment {
        #[command(subcommand)]
        command: SegmentCommand,
    },
}

#[derive(Subcommand)]
enum SegmentCommand {
    /// Verify a segment file's checksums and print its metadata and per-index sizes.
    Inspect { file: PathBuf },
}

fn main() {
    cuvee_broker::execution::keep_freed_memory();
    if let Err(error) = run(Cli::parse()) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Quickstart { data_dir, examples, listen, no_serve, kafka, events_per_second, postgres, flight } => {
            let data_dir = data_dir.unwrap_or_else(|| PathBuf::from("data"));
            quickstart::run(quickstart::Options {
                data_dir,
                examples,
                listen,
                kafka,
                events_per_second,
                no_serve,
                postgres,
                flight,
            })
        }
        Command::Import { schema, table_config, data_dir, format, strict, max_rows_per_segment, files } => {
            let table = load_table(&schema, &table_config)?;
            let format = match format {
                None => None,
                Some(name) => Some(
                    FileFormat::parse(&name)
                        .with_context(|| format!("unknown format \"{name}\" (expected csv, json, avro or parquet)"))?,
                ),
            };
            let options = ImportOptions { strict, max_rows_per_segment, format, progress: true };
            let dir = table_dir(&data_dir, &table);
            let report = import(&table, &files, &dir, &options)?;
            println!(
                "{}: read {} rows, imported {}, filtered {}, skipped {} bad rows into {} segment(s) in {}",
                table.name(),
                report.rows_read,
                report.rows_imported,
                report.rows_filtered,
                report.bad_row_count,
                report.segments.len(),
                dir.display()
            );
            for bad in report.bad_rows.iter().take(20) {
                println!("  bad row: {bad}");
            }
            if report.bad_row_count > 20 {
                println!("  … and {} more bad rows", report.bad_row_count - 20);
            }
            Ok(())
        }
        Command::Serve {
            data_dir,
            listen,
            query_memory_mb,
            max_result_rows,
            partition_discovery_ms,
            deep_store,
            postgres,
            flight,
        } => {
            let realtime = cuvee_broker::RealtimeOptions {
                partition_discovery_interval: std::time::Duration::from_millis(partition_discovery_ms.max(100)),
                ..Default::default()
            };
            let limits = QueryLimits { memory_bytes: query_memory_mb << 20, max_result_rows };
            serve::run(
                &data_dir,
                &listen,
                cuvee_broker::BrokerOptions { limits, realtime, deep_store, deep_store_owner: None },
                &postgres,
                &flight,
            )
        }
        Command::Server {
            data_dir,
            listen,
            grpc_listen,
            ordinal,
            servers,
            replicas,
            tables,
            query_memory_mb,
            partition_discovery_ms,
            deep_store,
        } => {
            let share =
                cuvee_ingest::realtime::PartitionShare::replicated(cluster::ordinal(ordinal)?, servers, replicas)
                    .map_err(anyhow::Error::msg)?;
            if replicas > 1 && deep_store.is_none() {
                anyhow::bail!("--replicas {replicas}: replicas consuming one partition agree on its segments through the deep store; give --deep-store (or CUVEE_DEEP_STORE)");
            }
            let realtime = cuvee_broker::RealtimeOptions {
                partition_discovery_interval: std::time::Duration::from_millis(partition_discovery_ms.max(100)),
                share,
            };
            let limits = QueryLimits { memory_bytes: query_memory_mb << 20, ..QueryLimits::default() };
            // Each server keeps its own manifest in the shared deep store.
            let deep_store_owner = Some(format!("server-{}", share.ordinal));
            let options = cuvee_broker::BrokerOptions { limits, realtime, deep_store, deep_store_owner };
            cluster::run_server(cluster::ServerRole {
                data_dir: &data_dir,
                listen: &listen,
                grpc_listen: &grpc_listen,
                options,
                share,
                tables: tables.as_deref(),
            })
        }
        Command::Broker { servers, listen, query_memory_mb, max_result_rows, routing_refresh_ms, postgres, flight } => {
            let limits = QueryLimits { memory_bytes: query_memory_mb << 20, max_result_rows };
            let routing_refresh = std::time::Duration::from_millis(routing_refresh_ms.max(100));
            cluster::run_broker(cluster::BrokerRole {
                listen: &listen,
                servers: &servers,
                limits,
                routing_refresh,
                postgres: &postgres,
                flight: &flight,
            })
        }
        Command::Segment { command: SegmentCommand::Inspect { file } } => inspect(&file),
    }
}

pub fn load_table(schema: &Path, table_config: &Path) -> Result<Table> {
    let schema_text = std::fs::read_to_string(schema).with_context(|| format!("reading {}", schema.display()))?;
    let config_text =
        std::fs::read_to_string(table_config).with_context(|| format!("reading {}", table_config.display()))?;
    let schema = Schema::from_json(&schema_text).with_context(|| schema.display().to_string())?;
    let config = TableConfigJson::from_json(&config_text).with_context(|| table_config.display().to_string())?;
    for (path, value) in config.unrecognized_properties() {
        eprintln!("warning: {}: unrecognized property {path} = {value}", table_config.display());
    }
    Ok(Table::new(schema, config)?)
}

pub fn table_dir(data_dir: &Path, table: &Table) -> PathBuf {
    data_dir.join("tables").join(table.name())
}

fn inspect(file: &Path) -> Result<()> {
    let segment = ImmutableSegment::open(file)?;
    let meta = segment.metadata();
    println!("segment   {}", meta.name);
    println!("table     {}", meta.table);
    println!(
        "format    v{} ({} bytes, all {} section checksums verified)",
        meta.format_version,
        segment.size_bytes(),
        meta.sections.len()
    );
    println!("docs      {}", meta.num_docs);
    if let (Some(start), Some(end)) = (meta.bounds.start_time_ms, meta.bounds.end_time_ms) {
        println!("time      {start} .. {end} ms ({})", meta.time_column.as_deref().unwrap_or("?"));
    }
    if let (Some(start), Some(end)) = (meta.bounds.start_offset, meta.bounds.end_offset) {
        println!(
            "offsets   [{start}, {end}) partition {}",
            meta.bounds.partition.map_or("-".into(), |p| p.to_string())
        );
    }
    if let Some(sorted) = &meta.sorted_column {
        println!("sorted by {sorted}");
    }
    println!();
    println!(
        "{:<28} {:<11} {:>3} {:>6} {:>10} {:>10}  indexes (bytes)",
        "column", "type", "sv", "dict", "card", "bytes"
    );
    for c in &meta.columns {
        let indexes: Vec<String> = c.bytes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{:<28} {:<11} {:>3} {:>6} {:>10} {:>10}  {}",
            c.name,
            c.data_type.name(),
            if c.single_value { "y" } else { "n" },
            if c.dictionary { "y" } else { "n" },
            c.cardinality,
            c.total_bytes(),
            indexes.join(" ")
        );
    }
    if meta.num_docs == 0 {
        bail!("segment {} has no rows", meta.name);
    }
    Ok(())
}
