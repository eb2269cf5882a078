//! The `cuvee` command: one binary for every role. It prints to its terminal (what a person
//! asked for) and logs through `tracing` (what an operator collects).
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use cli::options::{AccessArgs, ClusterArgs, LogArgs, NodeArgs, QueryArgs};
use cli::serve::{FlightArgs, PostgresArgs};
use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_ingest::{import, FileFormat, ImportOptions};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "cuvee", version, about = "A real-time OLAP store in the family of Apache Pinot")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    log: LogArgs,
}

#[derive(Subcommand)]
enum Command {
    /// One process, no setup: an embedded Kafka broker, a realtime table with events
    /// streaming in, Pinot's sample tables, and the HTTP API to query them.
    Quickstart {
        #[command(flatten)]
        node: NodeArgs,
        #[command(flatten)]
        query: QueryArgs,
        /// Pinot's examples folder (default: ./pinot-examples or ../shared/pinot-examples).
        #[arg(long)]
        examples: Option<PathBuf>,
        /// Where to serve Pinot's query API afterwards.
        #[arg(long, env = "CUVEE_LISTEN", default_value = "127.0.0.1:8099")]
        listen: String,
        /// Show the stream arriving and a few answers, then exit instead of serving.
        #[arg(long)]
        no_serve: bool,
        /// Events produced per second into the clickstream topic.
        #[arg(long, default_value_t = 2_000)]
        events_per_second: u32,
        #[command(flatten)]
        postgres: PostgresArgs,
        #[command(flatten)]
        flight: FlightArgs,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Import CSV, JSON, Avro or Parquet files into a table.
    Import {
        /// Pinot schema JSON.
        #[arg(long)]
        schema: PathBuf,
        /// Pinot table config JSON.
        #[arg(long)]
        table_config: PathBuf,
        #[arg(long, env = "CUVEE_DATA_DIR", default_value = "data")]
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
        #[command(flatten)]
        node: NodeArgs,
        #[command(flatten)]
        query: QueryArgs,
        /// Address to listen on (Pinot's broker port by default).
        #[arg(long, env = "CUVEE_LISTEN", default_value = "127.0.0.1:8099")]
        listen: String,
        #[command(flatten)]
        postgres: PostgresArgs,
        #[command(flatten)]
        flight: FlightArgs,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// A cluster's server: holds the data directory's tables, consumes its share of each
    /// topic's partitions, answers brokers' plan fragments over gRPC (and its own HTTP API).
    Server {
        #[command(flatten)]
        node: NodeArgs,
        #[command(flatten)]
        query: QueryArgs,
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
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// A cluster's broker: takes queries on every door and scatters them to the servers.
    Broker {
        #[command(flatten)]
        query: QueryArgs,
        /// host:port,host:port — or dns:NAME:PORT (a Kubernetes headless Service).
        #[arg(long, env = "CUVEE_SERVERS")]
        servers: String,
        #[arg(long, env = "CUVEE_LISTEN", default_value = "127.0.0.1:8099")]
        listen: String,
        /// How often the servers are asked for their segments, in ms.
        #[arg(long, env = "CUVEE_ROUTING_REFRESH_MS", default_value_t = 1_000)]
        routing_refresh_ms: u64,
        #[command(flatten)]
        cluster: ClusterArgs,
        #[command(flatten)]
        postgres: PostgresArgs,
        #[command(flatten)]
        flight: FlightArgs,
        #[command(flatten)]
        access: AccessArgs,
    },
    /// Propose a schema and REALTIME table config for a Kafka topic from its newest messages.
    Infer {
        /// The Kafka to read (host:port).
        #[arg(long, env = "CUVEE_KAFKA")]
        kafka: String,
        #[arg(long)]
        topic: String,
        /// Messages to sample (the newest ones).
        #[arg(long, default_value_t = 500)]
        messages: u64,
        /// The messages are Avro datums written with this schema (.avsc); JSON otherwise.
        #[arg(long)]
        avro_schema: Option<PathBuf>,
        /// Write <table>_schema.json and <table>_realtime_table_config.json into this folder
        /// instead of printing the proposal.
        #[arg(long)]
        out: Option<PathBuf>,
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
    cuvee::keep_freed_memory();
    let cli = Cli::parse();
    cli::logging::init(&cli.log);
    #[cfg(feature = "failpoints")]
    if let Ok(spec) = std::env::var("CUVEE_FAILPOINTS") {
        cuvee_ingest::realtime::failpoint::configure(&spec);
    }
    if let Err(error) = run(cli.command) {
        eprintln!("error: {error:#}");
        std::process::exit(1);
    }
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Quickstart {
            node,
            query,
            examples,
            listen,
            no_serve,
            events_per_second,
            postgres,
            flight,
            access,
        } => cli::quickstart::run(cli::quickstart::Options {
            node,
            query,
            examples,
            listen,
            events_per_second,
            no_serve,
            postgres,
            flight,
            security: access.security()?,
        }),
        Command::Import { schema, table_config, data_dir, format, strict, max_rows_per_segment, files } => {
            let table = load_table(&schema, &table_config)?;
            let format = match format {
                None => None,
                Some(name) => Some(
                    FileFormat::parse(&name)
                        .with_context(|| format!("unknown format \"{name}\" (expected csv, json, avro or parquet)"))?,
                ),
            };
            let options = ImportOptions { strict, max_rows_per_segment, format, ..ImportOptions::default() };
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
        Command::Serve { node, query, listen, postgres, flight, access } => {
            let security = access.security()?;
            let options =
                cuvee::ProcessOptions { limits: query.limits()?, node: node.options(None), api: node.api(&security) };
            cli::serve::run(&node.data_dir, &listen, options, &postgres, &flight, &security)
        }
        Command::Server { node, query, listen, grpc_listen, ordinal, servers, replicas, tables, cluster, access } => {
            cli::cluster::run_server(cli::cluster::ServerRole {
                node: &node,
                limits: query.limits()?,
                listen: &listen,
                grpc_listen: &grpc_listen,
                ordinal,
                servers,
                replicas,
                tables: tables.as_deref(),
                token: cluster.token()?,
                security: access.security()?,
            })
        }
        Command::Broker { query, servers, listen, routing_refresh_ms, postgres, flight, cluster, access } => {
            let routing_refresh = std::time::Duration::from_millis(routing_refresh_ms.max(100));
            cli::cluster::run_broker(cli::cluster::BrokerRole {
                listen: &listen,
                servers: &servers,
                limits: query.limits()?,
                routing_refresh,
                postgres: &postgres,
                flight: &flight,
                token: cluster.token()?,
                security: access.security()?,
            })
        }
        Command::Infer { kafka, topic, messages, avro_schema, out } => {
            cli::infer::run(cli::infer::Options { kafka, topic, messages, avro_schema, out })
        }
        Command::Segment { command: SegmentCommand::Inspect { file } } => cli::inspect::inspect(&file),
    }
}

/// A table from its schema and table config files; properties Pinot does not know are
/// warned about.
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
