//! Realtime tables end to end: a real Kafka-protocol broker (tansu) on 127.0.0.1, a topic of
//! several partitions, cuvee consuming it behind its HTTP API, and restarts in between.
//! (Replicas and their claims: `replicas.rs`.)

mod common;
mod realtime_support;

use common::kafka::{create_topic, Producer, Tansu};
use common::request;
use realtime_support::*;
use serde_json::{json, Value as Json};
use std::path::Path;
use std::time::{Duration, Instant};

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

    // Sealed segments are published with Pinot's names and their offsets. Sealing runs
    // behind consumption (rows are queryable before their segment is sealed), so the 50-row
    // threshold's six seals (two per partition) are waited for, not expected at once.
    let deadline = Instant::now() + Duration::from_secs(60);
    let (segments, names) = loop {
        let segments = server.get("/segments/events").await;
        let names = segments[0]["REALTIME"].as_array().cloned().unwrap_or_default();
        if names.len() >= 6 {
            break (segments, names);
        }
        assert!(Instant::now() < deadline, "six seals never published: {segments}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(names.iter().all(|n| n.as_str().unwrap().starts_with("events__")), "{segments}");
    let manifest: Json =
        serde_json::from_slice(&std::fs::read(dir.path().join("tables/events/manifest.json")).unwrap()).unwrap();
    for entry in manifest["segments"].as_array().unwrap() {
        assert!(entry["start_offset"].as_i64().unwrap() < entry["end_offset"].as_i64().unwrap(), "{entry}");
    }

    // Both bad messages are kept with partition, offset, reason and bytes.
    let letters = server.get("/tables/events/deadLetters").await;
    let letters = letters["deadLetters"].as_array().unwrap();
    assert_eq!(letters.len(), 2, "{letters:?}");
    assert!(
        letters.iter().any(|l| l["partition"] == 0 && l["reason"].as_str().unwrap().contains("not JSON")),
        "{letters:?}"
    );
    assert!(letters.iter().any(|l| l["partition"] == 1 && l["reason"].as_str().unwrap().contains("id")), "{letters:?}");

    // Fresh rows are reported as such in query stats.
    let body = server.sql("SELECT COUNT(*) FROM events WHERE amount >= 0").await;
    assert!(body["numConsumingSegmentsQueried"].as_u64().unwrap() >= 3, "{body}");
    assert_eq!(body["numConsumingSegmentsProcessed"], body["numConsumingSegmentsQueried"], "{body}");
    let matched = body["numConsumingSegmentsMatched"].as_u64().unwrap();
    assert!(matched >= 1 && matched <= body["numConsumingSegmentsProcessed"].as_u64().unwrap(), "{body}");
    let none = server.sql("SELECT COUNT(*) FROM events WHERE amount < -1000000").await;
    assert_eq!(none["numConsumingSegmentsMatched"], 0, "{none}");
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

/// A force commit seals what was consumed when it was asked for: one that finds the
/// consuming segment empty does nothing, although rows arrive while the consumer waits in a
/// poll (it once sealed the first of them alone; a replica then sat below its threshold).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_force_commit_on_an_empty_segment_seals_nothing_that_comes_after() {
    let (_mock, bootstrap, producer) = mock_topic("forced", 1);
    produce(&producer, 0..50, 1);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::open(dir.path()).await;
    assert_eq!(server.post("/schemas", SCHEMA).await.0, 200);
    let (status, body) = server.post("/tables", &table_config("forced", &bootstrap, 50)).await;
    assert_eq!(status, 200, "{body}");
    wait_published(dir.path(), 1, 50).await;
    for round in 0..3 {
        let before = 50 + 2 * round;
        // The consumer idles in its poll; the request and the rows land inside one wait.
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(server.post("/tables/events/forceCommit", "").await.0, 200);
        produce(&producer, before..before + 2, 1);
        server.wait_for(COUNT, before + 2).await;
        assert_eq!(server.post("/tables/events/forceCommit", "").await.0, 200);
        let segments = wait_published(dir.path(), 1, before + 2).await;
        let mut ranges: Vec<(i64, i64)> =
            segments.iter().map(|s| (s["start_offset"].as_i64().unwrap(), s["end_offset"].as_i64().unwrap())).collect();
        ranges.sort();
        assert_eq!(ranges.last(), Some(&(before, before + 2)), "round {round}: {ranges:?}");
    }
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

/// `realtime.segment.flush.threshold.segment.size` is the sealed segment's size, as in
/// Pinot, not the consuming segment's memory (larger): once a seal has shown the bytes a
/// row takes sealed, segments are cut near the size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_size_threshold_sizes_the_sealed_segments() {
    const ROWS: i64 = 80_000;
    const LIMIT: u64 = 256 << 10;
    const NEAR: std::ops::RangeInclusive<u64> = LIMIT * 7 / 10..=LIMIT * 13 / 10;
    let kafka = Tansu::start();
    create_topic(&kafka.bootstrap, "sized", 1).await;
    let producer = Producer::new(&kafka.bootstrap, "sized");
    produce(&producer, 0..ROWS, 1);
    let dir = tempfile::tempdir().unwrap();
    let server = Server::open(dir.path()).await;
    assert_eq!(server.post("/schemas", SCHEMA).await.0, 200);
    let mut config: Json = serde_json::from_str(&table_config("sized", &kafka.bootstrap, 0)).unwrap();
    config["tableIndexConfig"]["streamConfigs"]["realtime.segment.flush.threshold.segment.size"] = json!("256K");
    let (status, body) = server.post("/tables", &config.to_string()).await;
    assert_eq!(status, 200, "{body}");
    server.wait_for(COUNT, ROWS).await;

    // Every published segment was cut by the size (the time threshold is hours away).
    let segments = published_more_than(dir.path(), 3).await;
    let sizes: Vec<u64> = segments.iter().map(|s| s["size_bytes"].as_u64().unwrap()).collect();
    // The first is cut by memory alone, before any seal has been measured: smaller. The
    // sealer runs beside the consumer, so on a loaded machine the next may be cut before
    // the first seal reports; from the first measured one on, every segment is near.
    let measured = sizes.iter().position(|size| NEAR.contains(size)).unwrap_or(sizes.len());
    assert!(measured >= 1 && sizes[..measured].iter().all(|&size| size < LIMIT), "{sizes:?}");
    assert!(sizes.len() - measured >= 2, "too few segments cut by a measured seal: {sizes:?}");
    for size in &sizes[measured..] {
        assert!(NEAR.contains(size), "a segment far from {LIMIT} bytes: {sizes:?}");
    }

    // A restarted server sizes its next segment by the last one published.
    server.stop().await;
    produce(&producer, ROWS..ROWS + ROWS / 4, 1);
    let server = Server::open(dir.path()).await;
    server.wait_for(COUNT, ROWS + ROWS / 4).await;
    let after = published_more_than(dir.path(), segments.len()).await;
    let size = after[segments.len()]["size_bytes"].as_u64().unwrap();
    assert!(NEAR.contains(&size), "after a restart, {size} bytes: {after:#?}");
    server.stop().await;
}

/// The published segments in offset order, once there are more than `count`.
async fn published_more_than(data: &Path, count: usize) -> Vec<Json> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut segments = published(data);
        if segments.len() > count {
            segments.sort_by_key(|s| (s["partition"].as_u64(), s["start_offset"].as_i64()));
            return segments;
        }
        assert!(Instant::now() < deadline, "never more than {count} segments published: {segments:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
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
    wait_for_status(&server, "the outage", |p| {
        p["lastError"].as_str().is_some_and(|e| e.contains("consuming partition 0"))
    })
    .await;
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
    // Rows are queryable before their segment is sealed and published: wait for the seals.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let published = loop {
        let published = server.get("/segments/events").await[0]["REALTIME"].as_array().unwrap().len();
        if published >= 4 {
            break published;
        }
        assert!(std::time::Instant::now() < deadline, "only {published} segments published");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
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
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries.flatten().map(|e| if e.path().is_dir() { files_under(&e.path()) } else { 1 }).sum()
        })
    }
    assert_eq!(files_under(&deep.path().join("deep/tables/events")), 0);
    server.stop().await;
}
