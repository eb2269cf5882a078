//! What the realtime tests share: the `events` table over a Kafka topic, a cuvee process
//! (broker and its server) behind its HTTP API, and ways to wait for what ingestion does.
//! Included by `realtime.rs` and `replicas.rs`, next to `common`.

#![allow(dead_code)]

use super::common::kafka::Producer;
use super::common::request;
use cuvee::{Process as Broker, ProcessOptions};
use cuvee_deep_store::DeepStoreSettings;
use cuvee_node::{NodeOptions, RealtimeOptions};
use serde_json::{json, Value as Json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const SCHEMA: &str = r#"{"schemaName": "events",
  "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}, {"name": "country", "dataType": "STRING"}],
  "metricFieldSpecs": [{"name": "amount", "dataType": "DOUBLE"}],
  "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;

pub fn table_config(topic: &str, bootstrap: &str, flush_rows: u32) -> String {
    json!({
        "tableName": "events",
        "tableType": "REALTIME",
        "segmentsConfig": {"timeColumnName": "ts", "schemaName": "events", "replication": "1"},
        "tableIndexConfig": {
            "invertedIndexColumns": ["country"],
            "rangeIndexColumns": ["amount"],
            "sortedColumn": ["id"],
            "loadMode": "MMAP",
            "streamConfigs": {
                "streamType": "kafka",
                "stream.kafka.topic.name": topic,
                "stream.kafka.broker.list": bootstrap,
                "stream.kafka.consumer.type": "lowlevel",
                "stream.kafka.decoder.class.name": "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder",
                "stream.kafka.consumer.factory.class.name": "org.apache.pinot.plugin.stream.kafka20.KafkaConsumerFactory",
                "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
                "realtime.segment.flush.threshold.rows": flush_rows.to_string(),
            }
        },
        "tenants": {}, "metadata": {}
    })
    .to_string()
}

pub struct Server {
    pub addr: SocketAddr,
    pub broker: Arc<Broker>,
    pub task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub async fn open(dir: &Path) -> Server {
        let (server, warnings) = Server::open_with(dir, None).await;
        assert!(warnings.is_empty(), "{warnings:?}");
        server
    }

    pub async fn open_with(dir: &Path, deep_store: Option<String>) -> (Server, Vec<String>) {
        Server::open_as(dir, deep_store, None).await
    }

    /// A server keeping its manifest in the deep store as `owner` (a cluster server).
    pub async fn open_as(
        dir: &Path,
        deep_store: Option<String>,
        deep_store_owner: Option<&str>,
    ) -> (Server, Vec<String>) {
        let realtime =
            RealtimeOptions { partition_discovery_interval: Duration::from_millis(300), ..Default::default() };
        let deep_store_settings =
            DeepStoreSettings { owner: deep_store_owner.map(str::to_string), options: Vec::new() };
        let node = NodeOptions { realtime, deep_store, deep_store_settings, ..NodeOptions::default() };
        let (broker, warnings) = Broker::open_with(dir, ProcessOptions { node, ..ProcessOptions::default() }).unwrap();
        let broker = Arc::new(broker);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = Arc::clone(&broker);
        let task = tokio::spawn(async move {
            let _ = cuvee::serve(listener, serving).await;
        });
        (Server { addr, broker, task }, warnings)
    }

    pub async fn stop(self) {
        self.task.abort();
        let broker = self.broker;
        tokio::task::spawn_blocking(move || broker.node().unwrap().stop_ingestion()).await.unwrap();
    }

    pub async fn sql(&self, sql: &str) -> Json {
        let (status, _, body) = request(self.addr, "POST", "/query/sql", &json!({ "sql": sql }).to_string(), "").await;
        assert_eq!(status, 200, "{body}");
        assert!(body["exceptions"].as_array().is_none_or(|e| e.is_empty()), "{sql}: {body}");
        body
    }

    pub async fn scalar(&self, sql: &str) -> i64 {
        self.sql(sql).await["resultTable"]["rows"][0][0].as_i64().unwrap_or(-1)
    }

    /// Polls until `sql` answers `expected` (ingestion is asynchronous by nature).
    pub async fn wait_for(&self, sql: &str, expected: i64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.scalar(sql).await;
            if got == expected {
                return;
            }
            if Instant::now() > deadline {
                let (_, _, info) = request(self.addr, "GET", "/tables/events/consumingSegmentsInfo", "", "").await;
                panic!("{sql}: still {got}, expected {expected}; ingestion: {info:#}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn get(&self, path: &str) -> Json {
        let (status, _, body) = request(self.addr, "GET", path, "", "").await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    pub async fn post(&self, path: &str, body: &str) -> (u16, Json) {
        let (status, _, body) = request(self.addr, "POST", path, body, "").await;
        (status, body)
    }
}

pub fn event(id: i64) -> Vec<u8> {
    let countries = ["FR", "US", "DE", "JP", "BR"];
    json!({ "id": id, "country": countries[id as usize % countries.len()], "amount": id as f64 / 4.0, "ts": 1_700_000_000_000i64 + id }).to_string().into_bytes()
}

/// librdkafka's mock cluster with one topic, and a producer to it (for the fault tests).
pub fn mock_topic(
    topic: &str,
    partitions: i32,
) -> (rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>, String, Producer) {
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic(topic, partitions, 1).unwrap();
    let producer = Producer::new(&bootstrap, topic);
    (mock, bootstrap, producer)
}

pub fn produce(producer: &Producer, ids: std::ops::Range<i64>, partitions: i32) {
    for id in ids {
        producer.send((id % partitions as i64) as i32, &id.to_string(), &event(id));
    }
    producer.flush();
}

pub const COUNT: &str = "SELECT COUNT(*) FROM events";
pub const DISTINCT: &str = "SELECT COUNT(DISTINCT id) FROM events";

/// Polls the ingestion report until `check` holds for partition 0's entry.
pub async fn wait_for_status(server: &Server, what: &str, check: impl Fn(&Json) -> bool) -> Json {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let info = server.get("/tables/events/consumingSegmentsInfo").await;
        if info["partitions"].as_array().and_then(|p| p.first()).is_some_and(&check) {
            return info;
        }
        assert!(Instant::now() < deadline, "never saw {what}: {info:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The published segments of a server's table, as its manifest names them.
pub fn published(data: &Path) -> Vec<Json> {
    let text = std::fs::read(data.join("tables/events/manifest.json")).unwrap_or_default();
    let manifest: Json = serde_json::from_slice(&text).unwrap_or(Json::Null);
    let mut segments = manifest["segments"].as_array().cloned().unwrap_or_default();
    segments.sort_by_key(|s| s["name"].as_str().unwrap_or_default().to_string());
    segments
}

/// Waits until the server has published every offset below `end` of each partition.
pub async fn wait_published(data: &Path, partitions: u32, end: i64) -> Vec<Json> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let segments = published(data);
        let done = (0..partitions).all(|p| {
            segments.iter().filter(|s| s["partition"] == p).filter_map(|s| s["end_offset"].as_i64()).max() == Some(end)
        });
        if done {
            return segments;
        }
        assert!(Instant::now() < deadline, "{} did not publish up to {end}: {segments:#?}", data.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Samples `COUNT(*)` until the server has published a segment: it never exceeds `most`
/// meanwhile (no row is counted twice while a claim is followed).
pub async fn never_above_until_published(server: &Server, data: &Path, most: i64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while published(data).is_empty() {
        assert!(server.scalar(COUNT).await <= most, "a row counted twice while {what}");
        assert!(Instant::now() < deadline, "never published: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
