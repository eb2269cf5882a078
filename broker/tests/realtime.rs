//! Realtime tables end to end: a real Kafka-protocol broker (tansu) on 127.0.0.1, a topic of
//! several partitions, cuvee consuming it behind its HTTP API, and restarts in between.

mod common;

use common::kafka::{create_topic, Producer, Tansu};
use common::request;
use cuvee_broker::{Broker, BrokerOptions, RealtimeOptions};
use serde_json::{json, Value as Json};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCHEMA: &str = r#"{"schemaName": "events",
  "dimensionFieldSpecs": [{"name": "id", "dataType": "LONG"}, {"name": "country", "dataType": "STRING"}],
  "metricFieldSpecs": [{"name": "amount", "dataType": "DOUBLE"}],
  "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;

fn table_config(topic: &str, bootstrap: &str, flush_rows: u32) -> String {
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

struct Server {
    addr: SocketAddr,
    broker: Arc<Broker>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn open(dir: &Path) -> Server {
        let (server, warnings) = Server::open_with(dir, None).await;
        assert!(warnings.is_empty(), "{warnings:?}");
        server
    }

    async fn open_with(dir: &Path, deep_store: Option<String>) -> (Server, Vec<String>) {
        Server::open_as(dir, deep_store, None).await
    }

    /// A server keeping its manifest in the deep store as `owner` (a cluster server).
    async fn open_as(dir: &Path, deep_store: Option<String>, deep_store_owner: Option<&str>) -> (Server, Vec<String>) {
        let realtime = RealtimeOptions { partition_discovery_interval: Duration::from_millis(300), ..Default::default() };
        let deep_store_owner = deep_store_owner.map(str::to_string);
        let (broker, warnings) = Broker::open_with(dir, BrokerOptions { realtime, deep_store, deep_store_owner, ..BrokerOptions::default() }).unwrap();
        let broker = Arc::new(broker);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let serving = Arc::clone(&broker);
        let task = tokio::spawn(async move {
            let _ = cuvee_broker::serve(listener, serving).await;
        });
        (Server { addr, broker, task }, warnings)
    }

    async fn stop(self) {
        self.task.abort();
        let broker = self.broker;
        tokio::task::spawn_blocking(move || broker.metastore().unwrap().stop_ingestion()).await.unwrap();
    }

    async fn sql(&self, sql: &str) -> Json {
        let (status, _, body) = request(self.addr, "POST", "/query/sql", &json!({ "sql": sql }).to_string(), "").await;
        assert_eq!(status, 200, "{body}");
        assert!(body["exceptions"].as_array().is_none_or(|e| e.is_empty()), "{sql}: {body}");
        body
    }

    async fn scalar(&self, sql: &str) -> i64 {
        self.sql(sql).await["resultTable"]["rows"][0][0].as_i64().unwrap_or(-1)
    }

    /// Polls until `sql` answers `expected` (ingestion is asynchronous by nature).
    async fn wait_for(&self, sql: &str, expected: i64) {
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

    async fn get(&self, path: &str) -> Json {
        let (status, _, body) = request(self.addr, "GET", path, "", "").await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: &str) -> (u16, Json) {
        let (status, _, body) = request(self.addr, "POST", path, body, "").await;
        (status, body)
    }
}

fn event(id: i64) -> Vec<u8> {
    let countries = ["FR", "US", "DE", "JP", "BR"];
    json!({ "id": id, "country": countries[id as usize % countries.len()], "amount": id as f64 / 4.0, "ts": 1_700_000_000_000i64 + id }).to_string().into_bytes()
}

/// librdkafka's mock cluster with one topic, and a producer to it (for the fault tests).
fn mock_topic(topic: &str, partitions: i32) -> (rdkafka::mocking::MockCluster<'static, rdkafka::producer::DefaultProducerContext>, String, Producer) {
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let bootstrap = mock.bootstrap_servers();
    mock.create_topic(topic, partitions, 1).unwrap();
    let producer = Producer::new(&bootstrap, topic);
    (mock, bootstrap, producer)
}

fn produce(producer: &Producer, ids: std::ops::Range<i64>, partitions: i32) {
    for id in ids {
        producer.send((id % partitions as i64) as i32, &id.to_string(), &event(id));
    }
    producer.flush();
}

const COUNT: &str = "SELECT COUNT(*) FROM events";
const DISTINCT: &str = "SELECT COUNT(DISTINCT id) FROM events";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_lands_once_across_seals_restarts_and_bad_input() {
    let kafka = Tansu::start();
    create_topic(&kafka.bootstrap, "events", 3).await;
    let producer = Producer::new(&kafka.bootstrap, "events");
    produce(&producer, 0..400, 3);
    // Bad input: not JSON, a wrong type, a tombstone-like empty object missing nothing.
    producer.send(0, "bad-1", b"{not json");
    producer.send(1, "bad-2", br#"{"id": "forty-two", "country": "FR", "amount": 1, "ts": 1700000000000}"#);
    producer.flush();

    let dir = tempfile::tempdir().unwrap();
    let server = Server::open(dir.path()).await;
    assert_eq!(server.post("/schemas", SCHEMA).await.0, 200);
    let (status, body) = server.post("/tables", &table_config("events", &kafka.bootstrap, 50)).await;
    assert_eq!(status, 200, "{body}");

    server.wait_for(COUNT, 400).await;
    assert_eq!(server.scalar(DISTINCT).await, 400);
    assert_eq!(server.scalar("SELECT COUNT(*) FROM events WHERE country = 'FR'").await, 80);
    let sum = server.sql("SELECT SUM(id) FROM events WHERE amount >= 50").await;
    assert_eq!(sum["resultTable"]["rows"][0][0].as_f64(), Some((200..400).sum::<i64>() as f64), "{sum}");

    // Sealed segments are published with Pinot's names and their offsets.
    let segments = server.get("/segments/events").await;
    let names = segments[0]["REALTIME"].as_array().unwrap().clone();
    assert!(names.len() >= 6, "{segments}");
    assert!(names.iter().all(|n| n.as_str().unwrap().starts_with("events__")), "{segments}");
    let manifest: Json = serde_json::from_slice(&std::fs::read(dir.path().join("tables/events/manifest.json")).unwrap()).unwrap();
    for entry in manifest["segments"].as_array().unwrap() {
        assert!(entry["start_offset"].as_i64().unwrap() < entry["end_offset"].as_i64().unwrap(), "{entry}");
    }

    // Both bad messages are kept with partition, offset, reason and bytes.
    let letters = server.get("/tables/events/deadLetters").await;
    let letters = letters["deadLetters"].as_array().unwrap();
    assert_eq!(letters.len(), 2, "{letters:?}");
    assert!(letters.iter().any(|l| l["partition"] == 0 && l["reason"].as_str().unwrap().contains("not JSON")), "{letters:?}");
    assert!(letters.iter().any(|l| l["partition"] == 1 && l["reason"].as_str().unwrap().contains("id")), "{letters:?}");

    // Fresh rows are reported as such in query stats.
    let body = server.sql("SELECT COUNT(*) FROM events WHERE amount >= 0").await;
    assert!(body["numConsumingSegmentsQueried"].as_u64().unwrap() >= 3, "{body}");
    let fresh = body["minConsumingFreshnessTimeMs"].as_i64().unwrap();
    assert!(fresh > 1_700_000_000_000, "{body}");

    let info = server.get("/tables/events/consumingSegmentsInfo").await;
    let partitions = info["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 3, "{info}");
    assert_eq!(partitions.iter().map(|p| p["deadLetters"].as_u64().unwrap()).sum::<u64>(), 2, "{info}");
    assert!(partitions.iter().all(|p| p["recordsLag"] == 0), "{info}");
    assert_eq!(info["_segmentToConsumingInfoMap"].as_object().unwrap().len(), 3, "{info}");

    // Restart: the consuming rows are rebuilt from the published offsets, nothing twice.
    server.stop().await;
    produce(&producer, 400..700, 3);
    let server = Server::open(dir.path()).await;
    server.wait_for(COUNT, 700).await;
    assert_eq!(server.scalar(DISTINCT).await, 700);
    let letters = server.get("/tables/events/deadLetters").await;
    assert_eq!(letters["deadLetters"].as_array().unwrap().len(), 2, "a restart lists each dead letter once");

    // Deleting the table stops its consumers and removes its data.
    let (status, _, body) = request(server.addr, "DELETE", "/tables/events", "", "").await;
    assert_eq!(status, 200, "{body}");
    assert!(!dir.path().join("tables/events").exists());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_force_commit() {
    let kafka = Tansu::start();
    create_topic(&kafka.bootstrap, "clicks", 1).await;
    let producer = Producer::new(&kafka.bootstrap, "clicks");
    let dir = tempfile::tempdir().unwrap();
    let server = Server::open(dir.path()).await;
    assert_eq!(server.post("/schemas", SCHEMA).await.0, 200);
    let (status, body) = server.post("/tables", &table_config("clicks", &kafka.bootstrap, 1_000_000)).await;
    assert_eq!(status, 200, "{body}");
    produce(&producer, 0..100, 1);
    server.wait_for(COUNT, 100).await;

    // forceCommit seals the consuming segment although no threshold is reached.
    let (status, body) = server.post("/tables/events/forceCommit", "").await;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.get("/segments/events").await[0]["REALTIME"].as_array().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "forceCommit published nothing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.scalar(COUNT).await, 100);

    // Paused, the table takes nothing; resumed, it catches up.
    let (status, body) = server.post("/tables/events/pauseConsumption", "").await;
    assert_eq!((status, body["pauseFlag"].clone()), (200, json!(true)), "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    produce(&producer, 100..150, 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.scalar(COUNT).await, 100);
    assert_eq!(server.get("/tables/events/pauseStatus").await["pauseFlag"], json!(true));
    let (status, body) = server.post("/tables/events/resumeConsumption", "").await;
    assert_eq!((status, body["pauseFlag"].clone()), (200, json!(false)), "{body}");
    server.wait_for(COUNT, 150).await;

    // Published segments are the stream's checkpoint: deleting one by hand is refused.
    let (status, _, body) = request(server.addr, "DELETE", "/segments/events/whatever", "", "").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("checkpoint"), "{body}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_stream_configs_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::open(dir.path()).await;
    assert_eq!(server.post("/schemas", SCHEMA).await.0, 200);
    let mut config: Json = serde_json::from_str(&table_config("t", "127.0.0.1:1", 10)).unwrap();
    config["tableIndexConfig"]["streamConfigs"]["stream.kafka.consumer.prop.max.poll.records"] = json!("500");
    let (status, body) = server.post("/tables", &config.to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("max.poll.records"), "{body}");
    let mut config: Json = serde_json::from_str(&table_config("t", "127.0.0.1:1", 10)).unwrap();
    config["tableIndexConfig"]["streamConfigs"]["stream.kafka.decoder.class.name"] = json!("com.example.ProtoDecoder");
    let (status, body) = server.post("/tables", &config.to_string()).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("stream.kafka.decoder.class.name"), "{body}");
    server.stop().await;
}


/// Polls the ingestion report until `check` holds for partition 0's entry.
async fn wait_for_status(server: &Server, what: &str, check: impl Fn(&Json) -> bool) -> Json {
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

/// librdkafka's mock cluster takes its broker down and up again: the consumer reports the
/// outage, retries, and loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_outage_is_reported_and_survived() {
    let (mock, bootstrap, producer) = mock_topic("flaky", 1);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::open(dir.path()).await;
    assert_eq!(server.post("/schemas", SCHEMA).await.0, 200);
    let (status, body) = server.post("/tables", &table_config("flaky", &bootstrap, 40)).await;
    assert_eq!(status, 200, "{body}");
    produce(&producer, 0..100, 1);
    server.wait_for(COUNT, 100).await;

    mock.broker_down(1).unwrap();
    wait_for_status(&server, "the outage", |p| p["lastError"].as_str().is_some_and(|e| e.contains("consuming partition 0"))).await;
    mock.broker_up(1).unwrap();
    produce(&producer, 100..200, 1);
    server.wait_for(COUNT, 200).await;
    assert_eq!(server.scalar(DISTINCT).await, 200);
    server.stop().await;
}

/// The offset a partition must resume at is gone (here: beyond the end, as after retention
/// or a recreated topic): the reset policy applies and the gap is reported, not hidden.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_offset_is_reset_by_policy_and_reported() {
    let (_mock, bootstrap, producer) = mock_topic("gone", 1);
    produce(&producer, 0..50, 1);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::open(dir.path()).await;
    assert_eq!(server.post("/schemas", SCHEMA).await.0, 200);
    let (status, body) = server.post("/tables", &table_config("gone", &bootstrap, 1_000_000)).await;
    assert_eq!(status, 200, "{body}");
    server.wait_for(COUNT, 50).await;
    server.stop().await;

    // Nothing was published; the partition's recorded start now points past Kafka's end.
    let path = dir.path().join("tables/events/manifest.json");
    let mut manifest: Json = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(manifest["partitionStarts"]["0"], json!(0), "{manifest}");
    manifest["partitionStarts"]["0"] = json!(1000);
    std::fs::write(&path, manifest.to_string()).unwrap();

    let server = Server::open(dir.path()).await;
    let info = wait_for_status(&server, "the gap", |p| p["offsetGaps"] == 1).await;
    let gap = info["partitions"][0]["lastGap"].as_str().unwrap().to_string();
    assert!(gap.contains("offset 1000 is not in Kafka") && gap.contains("smallest"), "{gap}");
    server.wait_for(COUNT, 50).await;
    server.stop().await;
}

/// With a deep store, a server whose disk is wiped gets its tables back: definition and
/// published segments from the deep store, the rest from Kafka at the published offsets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wiped_disk_is_restored_from_the_deep_store() {
    let (_mock, bootstrap, producer) = mock_topic("durable", 2);
    produce(&producer, 0..100, 2);
    let deep = tempfile::tempdir().unwrap();
    let deep_url = format!("file://{}/deep", deep.path().display());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, _) = Server::open_with(&data, Some(deep_url.clone())).await;
    assert_eq!(server.post("/schemas", SCHEMA).await.0, 200);
    let (status, body) = server.post("/tables", &table_config("durable", &bootstrap, 20)).await;
    assert_eq!(status, 200, "{body}");
    server.wait_for(COUNT, 100).await;
    let published = server.get("/segments/events").await[0]["REALTIME"].as_array().unwrap().len();
    assert!(published >= 4, "{published}");
    server.stop().await;

    std::fs::remove_dir_all(&data).unwrap();
    let (server, warnings) = Server::open_with(&data, Some(deep_url)).await;
    assert!(warnings.iter().any(|w| w.contains("restored from the deep store")), "{warnings:?}");
    server.wait_for(COUNT, 100).await;
    assert_eq!(server.scalar(DISTINCT).await, 100);
    assert!(server.get("/segments/events").await[0]["REALTIME"].as_array().unwrap().len() >= published);

    // Deleting the table deletes it from the deep store too.
    let (status, _, body) = request(server.addr, "DELETE", "/tables/events", "", "").await;
    assert_eq!(status, 200, "{body}");
    fn files_under(dir: &Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| entries.flatten().map(|e| if e.path().is_dir() { files_under(&e.path()) } else { 1 }).sum())
    }
    assert_eq!(files_under(&deep.path().join("deep/tables/events")), 0);
    server.stop().await;
}

/// The published segments of a server's table, as its manifest names them.
fn published(data: &Path) -> Vec<Json> {
    let text = std::fs::read(data.join("tables/events/manifest.json")).unwrap_or_default();
    let manifest: Json = serde_json::from_slice(&text).unwrap_or(Json::Null);
    let mut segments = manifest["segments"].as_array().cloned().unwrap_or_default();
    segments.sort_by_key(|s| s["name"].as_str().unwrap_or_default().to_string());
    segments
}

/// Waits until the server has published every offset below `end` of each partition.
async fn wait_published(data: &Path, partitions: u32, end: i64) -> Vec<Json> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let segments = published(data);
        let done = (0..partitions).all(|p| segments.iter().filter(|s| s["partition"] == p).filter_map(|s| s["end_offset"].as_i64()).max() == Some(end));
        if done {
            return segments;
        }
        assert!(Instant::now() < deadline, "{} did not publish up to {end}: {segments:#?}", data.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two servers consuming the same partitions (replicas) with their own flush thresholds
/// publish the same segments, byte for byte: each segment is claimed in the deep store
/// first, and the other server follows the claim (consumes up to its end, takes the
/// published copy, or consumes its range again). A replica whose disk is wiped comes back
/// from its own manifest in the deep store and takes what its peer published meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_consuming_one_partition_publish_the_same_segments() {
    let (_mock, bootstrap, producer) = mock_topic("replicated", 2);
    let deep = tempfile::tempdir().unwrap();
    let deep_url = format!("file://{}/deep", deep.path().display());
    let dir = tempfile::tempdir().unwrap();
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let (a, _) = Server::open_as(&data_a, Some(deep_url.clone()), Some("server-0")).await;
    let (b, _) = Server::open_as(&data_b, Some(deep_url.clone()), Some("server-1")).await;
    for (server, flush_rows) in [(&a, 50), (&b, 70)] {
        assert_eq!(server.post("/schemas", SCHEMA).await.0, 200);
        let (status, body) = server.post("/tables", &table_config("replicated", &bootstrap, flush_rows)).await;
        assert_eq!(status, 200, "{body}");
    }
    produce(&producer, 0..400, 2);
    for server in [&a, &b] {
        server.wait_for(COUNT, 400).await;
        assert_eq!(server.scalar(DISTINCT).await, 400);
    }
    // The tails are below both thresholds: a seals its own, and b follows a's claim.
    assert_eq!(a.post("/tables/events/forceCommit", "").await.0, 200);
    let on_a = wait_published(&data_a, 2, 200).await;
    let on_b = wait_published(&data_b, 2, 200).await;
    assert_eq!(on_a, on_b, "both replicas publish the same segments (names, offsets, checksums)");
    let mut ends: Vec<(i64, i64, i64)> = on_a.iter().map(|s| (s["partition"].as_i64().unwrap(), s["start_offset"].as_i64().unwrap(), s["end_offset"].as_i64().unwrap())).collect();
    ends.sort();
    for pair in ends.windows(2) {
        if pair[0].0 == pair[1].0 {
            assert_eq!(pair[0].2, pair[1].1, "a partition's segments follow each other: {ends:?}");
        }
    }

    // b loses its disk while a goes on; it comes back from the deep store and catches up.
    b.stop().await;
    std::fs::remove_dir_all(&data_b).unwrap();
    produce(&producer, 400..600, 2);
    a.wait_for(COUNT, 600).await;
    let on_a = wait_published(&data_a, 2, 300).await;
    let (b, warnings) = Server::open_as(&data_b, Some(deep_url.clone()), Some("server-1")).await;
    assert!(warnings.iter().any(|w| w.contains("restored from the deep store")), "{warnings:?}");
    b.wait_for(COUNT, 600).await;
    assert_eq!(b.scalar(DISTINCT).await, 600);
    assert_eq!(wait_published(&data_b, 2, 300).await, on_a);
    let info = b.get("/tables/events/consumingSegmentsInfo").await;
    let adopted: i64 = info["partitions"].as_array().unwrap().iter().map(|p| p["segmentsAdopted"].as_i64().unwrap()).sum();
    assert!(adopted >= 4, "b takes a's segments of each partition from the deep store: {info:#}");
    a.stop().await;
    b.stop().await;
}

/// A replica that claimed a segment and died before uploading it leaves a claim, not a
/// hole: the next replica to reach that segment consumes exactly the claimed range and
/// publishes it under the claimed name; its own segments follow from the claim's end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_whose_claimant_died_is_fulfilled_by_another_replica() {
    let (_mock, bootstrap, producer) = mock_topic("orphaned", 1);
    produce(&producer, 0..100, 1);
    let deep = tempfile::tempdir().unwrap();
    let claims = deep.path().join("deep/tables/events/claims/0");
    std::fs::create_dir_all(&claims).unwrap();
    let orphan = json!({"segment": "events__0__0__20200101T0000Z", "startOffset": 0, "endOffset": 30, "creationTimeMs": 1_577_836_800_000i64, "claimedBy": "server-9"});
    std::fs::write(claims.join("0.json"), orphan.to_string()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, _) = Server::open_as(&data, Some(format!("file://{}/deep", deep.path().display())), Some("server-0")).await;
    assert_eq!(server.post("/schemas", SCHEMA).await.0, 200);
    let (status, body) = server.post("/tables", &table_config("orphaned", &bootstrap, 50)).await;
    assert_eq!(status, 200, "{body}");
    server.wait_for(COUNT, 100).await;
    assert_eq!(server.scalar(DISTINCT).await, 100);
    let segments = wait_published(&data, 1, 80).await;
    let ranges: Vec<(&str, i64, i64)> = segments.iter().map(|s| (s["name"].as_str().unwrap(), s["start_offset"].as_i64().unwrap(), s["end_offset"].as_i64().unwrap())).collect();
    assert_eq!(ranges[0], ("events__0__0__20200101T0000Z", 0, 30), "{ranges:?}");
    assert_eq!((ranges[1].1, ranges[1].2), (30, 80), "{ranges:?}");
    assert!(deep.path().join("deep/tables/events/segments/events__0__0__20200101T0000Z.cvs").exists());
    server.stop().await;
}

/// A replica's claim that ends before where this server already is (its threshold came
/// first, its upload has not): the claimed range is consumed again out of readers' sight
/// and replaces what they see in one step — no row is ever counted twice meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shorter_claim_is_followed_by_consuming_its_range_again() {
    let (_mock, bootstrap, producer) = mock_topic("overtaken", 1);
    produce(&producer, 0..40, 1);
    let deep = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (server, _) = Server::open_as(&data, Some(format!("file://{}/deep", deep.path().display())), Some("server-0")).await;
    assert_eq!(server.post("/schemas", SCHEMA).await.0, 200);
    let (status, body) = server.post("/tables", &table_config("overtaken", &bootstrap, 50)).await;
    assert_eq!(status, 200, "{body}");
    server.wait_for(COUNT, 40).await;
    // A peer claims the first 30 offsets and has not uploaded them yet.
    let claims = deep.path().join("deep/tables/events/claims/0");
    std::fs::create_dir_all(&claims).unwrap();
    let claim = json!({"segment": "events__0__0__20200101T0000Z", "startOffset": 0, "endOffset": 30, "creationTimeMs": 1_577_836_800_000i64, "claimedBy": "server-1"});
    std::fs::write(claims.join("0.json"), claim.to_string()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while published(&data).is_empty() {
        assert!(server.scalar(COUNT).await <= 40, "a row counted twice while the claim was followed");
        assert!(Instant::now() < deadline, "the claim was not followed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.wait_for(COUNT, 40).await;
    produce(&producer, 40..100, 1);
    server.wait_for(COUNT, 100).await;
    assert_eq!(server.scalar(DISTINCT).await, 100);
    let segments = wait_published(&data, 1, 80).await;
    let ranges: Vec<(&str, i64, i64)> = segments.iter().map(|s| (s["name"].as_str().unwrap(), s["start_offset"].as_i64().unwrap(), s["end_offset"].as_i64().unwrap())).collect();
    assert_eq!(ranges[0], ("events__0__0__20200101T0000Z", 0, 30), "{ranges:?}");
    assert_eq!((ranges[1].1, ranges[1].2), (30, 80), "{ranges:?}");
    let info = server.get("/tables/events/consumingSegmentsInfo").await;
    assert_eq!(info["partitions"][0]["segmentsReconsumed"], 1, "{info:#}");
    server.stop().await;
}

/// A replica's claim that ends before where this server already is, with the peer's
/// segment already uploaded: that copy is taken (the same bytes as the peer's) and
/// consumption goes on from its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shorter_published_segment_is_adopted() {
    let (_mock, bootstrap, producer) = mock_topic("adopted", 1);
    produce(&producer, 0..40, 1);
    let dir = tempfile::tempdir().unwrap();
    // The peer: flush at 30 rows, its own deep store (copied over below, as if shared).
    let (peer_deep, peer_data) = (dir.path().join("peer-deep"), dir.path().join("peer"));
    let (peer, _) = Server::open_as(&peer_data, Some(format!("file://{}", peer_deep.display())), Some("server-1")).await;
    assert_eq!(peer.post("/schemas", SCHEMA).await.0, 200);
    assert_eq!(peer.post("/tables", &table_config("adopted", &bootstrap, 30)).await.0, 200);
    let theirs = wait_published(&peer_data, 1, 30).await;
    peer.stop().await;

    let (deep, data) = (dir.path().join("deep"), dir.path().join("data"));
    let (server, _) = Server::open_as(&data, Some(format!("file://{}", deep.display())), Some("server-0")).await;
    assert_eq!(server.post("/schemas", SCHEMA).await.0, 200);
    assert_eq!(server.post("/tables", &table_config("adopted", &bootstrap, 50)).await.0, 200);
    server.wait_for(COUNT, 40).await;
    let name = theirs[0]["name"].as_str().unwrap();
    for file in ["claims/0/0.json".to_string(), format!("segments/{name}.cvs")] {
        let (from, to) = (peer_deep.join("tables/events").join(&file), deep.join("tables/events").join(&file));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while published(&data).is_empty() {
        assert!(server.scalar(COUNT).await <= 40, "a row counted twice while the peer's segment was adopted");
        assert!(Instant::now() < deadline, "the peer's segment was not adopted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    produce(&producer, 40..100, 1);
    server.wait_for(COUNT, 100).await;
    assert_eq!(server.scalar(DISTINCT).await, 100);
    let ours = wait_published(&data, 1, 80).await;
    assert_eq!(ours[0], theirs[0], "the peer's segment as it published it");
    assert_eq!((ours[1]["start_offset"].as_i64(), ours[1]["end_offset"].as_i64()), (Some(30), Some(80)));
    let info = server.get("/tables/events/consumingSegmentsInfo").await;
    assert_eq!(info["partitions"][0]["segmentsAdopted"], 1, "{info:#}");
    server.stop().await;
}

/// The deep store failing to take a claim does not stop consumption: fresh rows stay
/// queryable (the segment outgrows its threshold), the error is reported, and the segment
/// is claimed and published once the deep store answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_store_outage_delays_seals_not_rows() {
    let (_mock, bootstrap, producer) = mock_topic("outage", 1);
    produce(&producer, 0..10, 1);
    let dir = tempfile::tempdir().unwrap();
    let (deep, data) = (dir.path().join("deep"), dir.path().join("data"));
    let (server, _) = Server::open_as(&data, Some(format!("file://{}", deep.display())), Some("server-0")).await;
    assert_eq!(server.post("/schemas", SCHEMA).await.0, 200);
    assert_eq!(server.post("/tables", &table_config("outage", &bootstrap, 30)).await.0, 200);
    server.wait_for(COUNT, 10).await;
    // Claims cannot be written: a file stands where their folder should be.
    let claims = deep.join("tables/events/claims");
    std::fs::rename(&claims, deep.join("claims.away")).unwrap();
    std::fs::write(&claims, b"not a folder").unwrap();
    produce(&producer, 10..60, 1);
    server.wait_for(COUNT, 60).await;
    let info = wait_for_status(&server, "the failed claim reported", |p| p["lastError"].as_str().is_some_and(|e| e.contains("claiming segment 0"))).await;
    assert_eq!(info["partitions"][0]["segmentsPublished"], 0, "{info:#}");
    assert!(published(&data).is_empty());
    std::fs::remove_file(&claims).unwrap();
    std::fs::rename(deep.join("claims.away"), &claims).unwrap();
    let segments = wait_published(&data, 1, 60).await;
    assert_eq!((segments[0]["start_offset"].as_i64(), segments[0]["end_offset"].as_i64()), (Some(0), Some(60)), "{segments:?}");
    assert_eq!(server.scalar(DISTINCT).await, 60);
    server.stop().await;
}
