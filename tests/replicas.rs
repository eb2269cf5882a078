//! Replicas consuming one partition agree on its segments through the deep store's claims
//! (`ingest::realtime::claims`): the same segments on every replica, and each way a server
//! follows a peer's claim — catch up, adopt the published copy, consume the range again —
//! without a row counted twice; a deep store outage delays seals, not rows.

mod common;
mod realtime_support;

use realtime_support::*;
use serde_json::{json, Value as Json};
use std::path::Path;

/// A server with data in `data`, keeping its manifest in the deep store folder `deep` as
/// `owner`, with the `events` table over `topic` flushing every `flush_rows` rows.
async fn replica(data: &Path, deep: &Path, owner: &str, topic: &str, bootstrap: &str, flush_rows: u32) -> Server {
    let (server, _) = Server::open_as(data, Some(format!("file://{}", deep.display())), Some(owner)).await;
    assert_eq!(server.post("/schemas", SCHEMA).await.0, 200);
    let (status, body) = server.post("/tables", &table_config(topic, bootstrap, flush_rows)).await;
    assert_eq!(status, 200, "{body}");
    server
}

/// (name, start offset, end offset) of published segments.
fn ranges(segments: &[Json]) -> Vec<(&str, i64, i64)> {
    segments
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default(),
                s["start_offset"].as_i64().unwrap_or(-1),
                s["end_offset"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
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
    let a = replica(&data_a, &deep.path().join("deep"), "server-0", "replicated", &bootstrap, 50).await;
    let b = replica(&data_b, &deep.path().join("deep"), "server-1", "replicated", &bootstrap, 70).await;
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
    let mut ends: Vec<(i64, i64, i64)> = on_a
        .iter()
        .map(|s| {
            (s["partition"].as_i64().unwrap(), s["start_offset"].as_i64().unwrap(), s["end_offset"].as_i64().unwrap())
        })
        .collect();
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
    let adopted: i64 =
        info["partitions"].as_array().unwrap().iter().map(|p| p["segmentsAdopted"].as_i64().unwrap()).sum();
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
    let server = replica(&data, &deep.path().join("deep"), "server-0", "orphaned", &bootstrap, 50).await;
    server.wait_for(COUNT, 100).await;
    assert_eq!(server.scalar(DISTINCT).await, 100);
    let segments = wait_published(&data, 1, 80).await;
    let ranges = ranges(&segments);
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
    let server = replica(&data, &deep.path().join("deep"), "server-0", "overtaken", &bootstrap, 50).await;
    server.wait_for(COUNT, 40).await;
    // A peer claims the first 30 offsets and has not uploaded them yet.
    let claims = deep.path().join("deep/tables/events/claims/0");
    std::fs::create_dir_all(&claims).unwrap();
    let claim = json!({"segment": "events__0__0__20200101T0000Z", "startOffset": 0, "endOffset": 30, "creationTimeMs": 1_577_836_800_000i64, "claimedBy": "server-1"});
    std::fs::write(claims.join("0.json"), claim.to_string()).unwrap();
    never_above_until_published(&server, &data, 40, "the claim was followed").await;
    server.wait_for(COUNT, 40).await;
    produce(&producer, 40..100, 1);
    server.wait_for(COUNT, 100).await;
    assert_eq!(server.scalar(DISTINCT).await, 100);
    let segments = wait_published(&data, 1, 80).await;
    let ranges = ranges(&segments);
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
    let peer = replica(&peer_data, &peer_deep, "server-1", "adopted", &bootstrap, 30).await;
    let theirs = wait_published(&peer_data, 1, 30).await;
    peer.stop().await;

    let (deep, data) = (dir.path().join("deep"), dir.path().join("data"));
    let server = replica(&data, &deep, "server-0", "adopted", &bootstrap, 50).await;
    server.wait_for(COUNT, 40).await;
    let name = theirs[0]["name"].as_str().unwrap();
    for file in ["claims/0/0.json".to_string(), format!("segments/{name}.cvs")] {
        let (from, to) = (peer_deep.join("tables/events").join(&file), deep.join("tables/events").join(&file));
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
    never_above_until_published(&server, &data, 40, "the peer's segment was adopted").await;
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
    let server = replica(&data, &deep, "server-0", "outage", &bootstrap, 30).await;
    server.wait_for(COUNT, 10).await;
    // Claims cannot be written: a file stands where their folder should be.
    let claims = deep.join("tables/events/claims");
    std::fs::rename(&claims, deep.join("claims.away")).unwrap();
    std::fs::write(&claims, b"not a folder").unwrap();
    produce(&producer, 10..60, 1);
    server.wait_for(COUNT, 60).await;
    let info = wait_for_status(&server, "the failed claim reported", |p| {
        p["lastError"].as_str().is_some_and(|e| e.contains("claiming segment 0"))
    })
    .await;
    assert_eq!(info["partitions"][0]["segmentsPublished"], 0, "{info:#}");
    assert!(published(&data).is_empty());
    std::fs::remove_file(&claims).unwrap();
    std::fs::rename(deep.join("claims.away"), &claims).unwrap();
    let segments = wait_published(&data, 1, 60).await;
    assert_eq!(
        (segments[0]["start_offset"].as_i64(), segments[0]["end_offset"].as_i64()),
        (Some(0), Some(60)),
        "{segments:?}"
    );
    assert_eq!(server.scalar(DISTINCT).await, 60);
    server.stop().await;
}
