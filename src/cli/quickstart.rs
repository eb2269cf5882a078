//! `cuvee quickstart`: one process, no setup. Imports Pinot's sample tables (when their
//! folder is at hand), starts a Kafka-protocol broker inside the process (librdkafka's mock
//! cluster, reachable by any Kafka client on 127.0.0.1) unless `--kafka` names one, creates
//! a `clickstream` topic and a REALTIME table with indexes from the schema and config
//! shipped in `quickstart/`, streams events into it, and serves Pinot's HTTP API: the
//! count grows while you watch. Ctrl-C stops everything cleanly.

use super::clickstream::Stream;
use super::options::{NodeArgs, QueryArgs};
use crate::{load_table, table_dir};
use anyhow::{bail, Context, Result};
use cuvee::{Process, ProcessOptions};
use cuvee_http::ApiOptions;
use cuvee_ingest::{import, ImportOptions};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::types::RDKafkaErrorCode;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCHEMA: &str = include_str!("../../quickstart/clickstream_schema.json");
const TABLE_CONFIG: &str = include_str!("../../quickstart/clickstream_realtime_table_config.json");
const TOPIC: &str = "clickstream";
const PARTITIONS: i32 = 4;

pub struct Options {
    pub node: NodeArgs,
    pub query: QueryArgs,
    pub examples: Option<PathBuf>,
    pub listen: String,
    pub events_per_second: u32,
    /// Show the stream arriving for a few seconds, then exit (a smoke test).
    pub no_serve: bool,
    pub postgres: super::serve::PostgresArgs,
    pub flight: super::serve::FlightArgs,
    pub security: super::options::Security,
}

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

fn find_examples(given: Option<PathBuf>) -> Result<Option<PathBuf>> {
    if let Some(dir) = given {
        if !dir.join("baseballStats").is_dir() {
            bail!("{} is not Pinot's examples folder (no baseballStats in it)", dir.display());
        }
        return Ok(Some(dir));
    }
    Ok(["pinot-examples", "../shared/pinot-examples", "../../shared/pinot-examples"]
        .into_iter()
        .map(PathBuf::from)
        .find(|d| d.join("baseballStats").is_dir()))
}

fn import_samples(data_dir: &Path, examples: &Path) -> Result<()> {
    for sample in &SAMPLES {
        let folder = examples.join(sample.folder);
        let table = load_table(&folder.join(sample.schema), &folder.join(sample.config))?;
        let dir = table_dir(data_dir, &table);
        if dir.join("manifest.json").exists() {
            continue;
        }
        let started = Instant::now();
        let report = import(&table, &[folder.join(sample.data)], &dir, &ImportOptions::default())?;
        println!(
            "  imported {:<14} {:>7} rows in {:>5.0} ms",
            table.name(),
            report.rows_imported,
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    Ok(())
}

/// Creates the topic on an external broker; one that exists already is fine.
async fn create_topic(bootstrap: &str) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new().set("bootstrap.servers", bootstrap).create()?;
    let results = admin
        .create_topics(
            &[NewTopic::new(TOPIC, PARTITIONS, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .with_context(|| format!("creating topic {TOPIC} on {bootstrap}"))?;
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => bail!("creating topic {topic} on {bootstrap}: {code}"),
        }
    }
    Ok(())
}

pub fn run(options: Options) -> Result<()> {
    let data_dir = &options.node.data_dir;
    println!("cuvee quickstart — data in {}", data_dir.display());
    match find_examples(options.examples.clone())? {
        Some(examples) => import_samples(data_dir, &examples)?,
        None => println!("  (Pinot's examples folder not found: only the streaming table; pass --examples DIR for the sample tables)"),
    }
    let runtime = tokio::runtime::Runtime::new()?;
    // The embedded broker lives (and its topic with it) as long as this process.
    let embedded = match &options.node.kafka {
        Some(_) => None,
        None => Some(rdkafka::mocking::MockCluster::new(1).context("starting the embedded Kafka broker")?),
    };
    let bootstrap = match (&options.node.kafka, &embedded) {
        (Some(kafka), _) => {
            runtime.block_on(create_topic(kafka))?;
            kafka.clone()
        }
        (None, Some(mock)) => {
            mock.create_topic(TOPIC, PARTITIONS, 1).context("creating the topic on the embedded broker")?;
            mock.bootstrap_servers()
        }
        (None, None) => unreachable!("an embedded broker exists when none is given"),
    };
    println!(
        "  Kafka: {bootstrap}{} — topic {TOPIC}, {PARTITIONS} partitions",
        if embedded.is_some() { " (embedded)" } else { "" }
    );

    // An embedded broker's topic is new each run: the table's stored offsets belong to the
    // last one, so the streaming table starts afresh.
    let stale = data_dir.join("tables").join(TOPIC);
    if embedded.is_some() && stale.exists() {
        std::fs::remove_dir_all(&stale).with_context(|| format!("removing {}", stale.display()))?;
    }
    // The console's topic browser looks at the quickstart's Kafka, embedded or given.
    let api = ApiOptions { kafka: Some(bootstrap.clone()), ..options.node.api(&options.security) };
    let process_options = ProcessOptions { limits: options.query.limits()?, node: options.node.options(None), api };
    let (broker, warnings) = Process::open_with(data_dir, process_options)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let broker = Arc::new(broker);
    broker.node()?.put_schema(SCHEMA, None)?;
    if broker.service.table(TOPIC).is_none() {
        broker.node()?.put_table(&TABLE_CONFIG.replace("${KAFKA}", &bootstrap), true, None)?;
    }
    let mut stream = Stream::start(&bootstrap, TOPIC, options.events_per_second)?;
    println!("  streaming {} events/s into table {TOPIC}", options.events_per_second);

    let result = if options.no_serve {
        runtime.block_on(watch(&broker))
    } else {
        runtime.block_on(serve(&broker, &options.listen, &options.postgres, &options.flight, &options.security))
    };
    stream.stop();
    println!("  {} events produced", stream.produced());
    broker.node()?.stop_ingestion();
    drop(embedded);
    result
}

const QUERIES: [&str; 3] = [
    "SELECT COUNT(*) FROM clickstream",
    "SELECT country, COUNT(*) AS events, SUM(revenue) AS revenue FROM clickstream GROUP BY country ORDER BY events DESC LIMIT 5",
    "SELECT event_type, PERCENTILE(latency_ms, 99) AS p99 FROM clickstream WHERE device = 'mobile' GROUP BY event_type",
];

/// `--no-serve`: shows rows arriving for a few seconds, answering the sample queries.
async fn watch(broker: &Process) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut counts = Vec::new();
    while counts.len() < 3 {
        let response = broker.service.query(QUERIES[0], None, &cuvee_access::Principal::anonymous()).await;
        if let Some(e) = response.exceptions.first() {
            bail!("{}: {}", QUERIES[0], e.message);
        }
        let count = response.result_table.as_ref().and_then(|t| t["rows"][0][0].as_i64()).unwrap_or(0);
        if count > 0 && counts.last() != Some(&count) {
            println!("  {}  →  {count}", QUERIES[0]);
            counts.push(count);
        }
        if Instant::now() > deadline {
            bail!("the streaming table did not grow within 30 s (counts seen: {counts:?})");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for sql in &QUERIES[1..] {
        let response = broker.service.query(sql, None, &cuvee_access::Principal::anonymous()).await;
        if let Some(e) = response.exceptions.first() {
            bail!("{sql}: {}", e.message);
        }
        println!("  {sql}\n    → {}", response.result_table.map(|t| t["rows"].to_string()).unwrap_or_default());
    }
    Ok(())
}

async fn serve(
    broker: &Arc<Process>,
    listen: &str,
    postgres: &super::serve::PostgresArgs,
    flight: &super::serve::FlightArgs,
    security: &super::options::Security,
) -> Result<()> {
    let listener = super::serve::bind_http(listen, security).await?;
    let address = listener.local_addr()?;
    let doors = super::serve::Doors::bind(postgres, flight, security).await?;
    println!();
    println!("Console: http://{address}/  (queries, charts, tables, segments, consumers, topics)");
    println!("Pinot's query API: http://{address}/query/sql (pinotdb works too). Ctrl-C stops.");
    println!("Run this a few times and watch the count grow:");
    println!(
        "  curl -s -X POST {address}/query/sql -H 'Content-Type: application/json' -d '{{\"sql\": \"{}\"}}'",
        QUERIES[0]
    );
    println!("More to try:");
    for sql in &QUERIES[1..] {
        println!("  {sql}");
    }
    println!("  SELECT teamID, SUM(homeRuns) AS hr FROM baseballStats GROUP BY teamID ORDER BY hr DESC");
    println!("Consumers, offsets and lag: curl -s {address}/tables/clickstream/consumingSegmentsInfo");
    if let Some((pg, _)) = &doors.postgres {
        let pg = pg.local_addr()?;
        println!("Postgres door (psql, Grafana, Superset, DBeaver, any driver):");
        println!(
            "  psql -h {} -p {} -d cuvee -c 'SELECT country, count(*) FROM clickstream GROUP BY country'",
            pg.ip(),
            pg.port()
        );
    }
    if let Some(flight) = &doors.flight {
        println!("Arrow Flight SQL door (pyarrow, ADBC, Flight SQL JDBC): grpc://{}", flight.local_addr()?);
    }
    super::serve::serve_doors(Arc::clone(broker), listener, doors).await?;
    println!("cuvee: stopped");
    Ok(())
}
