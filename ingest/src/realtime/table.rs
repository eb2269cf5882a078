//! One realtime table's ingestion: its partitions' consumers, found and started by a
//! discovery thread, and the controls and status the admin API exposes.

use super::kafka::{create_consumer, TopicWatcher};
use super::status::{PartitionStatus, SharedStatus};
use super::{Shared, SharedStore};
use crate::conform::Conformer;
use crate::error::IngestError;
use crate::message::MessageDecoder;
use crate::now_ms;
use cuvee_catalog::{StreamConfig, Table};
use cuvee_segments::SegmentHost;
use parking_lot::{Mutex, RwLock};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Clone)]
pub struct RealtimeOptions {
    /// How often the topic is asked for new partitions.
    pub partition_discovery_interval: Duration,
    /// Which partitions this process consumes.
    pub share: PartitionShare,
    /// Resolves `${NAME}` references in stream configs (Kafka passwords) when a consumer
    /// connects; the binary gives its environment, so no library reads it.
    pub secrets: SecretSource,
    /// Partitions of one table this process consumes at most: a topic grown to millions of
    /// partitions must not start millions of consumer threads.
    pub max_partitions: u32,
    /// Disk one partition's dead letters may take; past it the oldest half is dropped
    /// (and counted in the partition's status).
    pub dead_letter_bytes: u64,
}

/// Where `${NAME}` references get their values.
pub type SecretSource = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl std::fmt::Debug for RealtimeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealtimeOptions")
            .field("partition_discovery_interval", &self.partition_discovery_interval)
            .field("share", &self.share)
            .field("max_partitions", &self.max_partitions)
            .field("dead_letter_bytes", &self.dead_letter_bytes)
            .finish_non_exhaustive()
    }
}

impl Default for RealtimeOptions {
    fn default() -> Self {
        RealtimeOptions {
            partition_discovery_interval: Duration::from_secs(5),
            share: PartitionShare::ALL,
            secrets: Arc::new(|_| None),
            max_partitions: 1024,
            dead_letter_bytes: 64 << 20,
        }
    }
}

/// Partition ownership without consensus: server `ordinal` of `servers` consumes the
/// partitions `p` with `p mod servers = ordinal` (Kubernetes gives a StatefulSet's pods
/// stable ordinals), and with `replicas` R > 1 also those of the R − 1 servers before it:
/// partition `p` is consumed by servers `p mod N, p mod N + 1, …` (mod N), R of them, which
/// agree on its segments through the deep store's claims. One process alone is ordinal 0
/// of 1: every partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionShare {
    pub ordinal: u32,
    pub servers: u32,
    pub replicas: u32,
}

impl PartitionShare {
    pub const ALL: PartitionShare = PartitionShare { ordinal: 0, servers: 1, replicas: 1 };

    pub fn new(ordinal: u32, servers: u32) -> Result<PartitionShare, IngestError> {
        PartitionShare::replicated(ordinal, servers, 1)
    }

    pub fn replicated(ordinal: u32, servers: u32, replicas: u32) -> Result<PartitionShare, IngestError> {
        if servers == 0 || ordinal >= servers {
            return Err(IngestError::Share(format!(
                "server ordinal {ordinal} of {servers} servers: the ordinal must be below the server count"
            )));
        }
        if replicas == 0 || replicas > servers {
            return Err(IngestError::Share(format!(
                "{replicas} replicas of each partition on {servers} servers: replicas must be between 1 and the server count"
            )));
        }
        Ok(PartitionShare { ordinal, servers, replicas })
    }

    pub fn owns(&self, partition: u32) -> bool {
        // How many servers after the partition's first owner this one is.
        let behind = (self.ordinal + self.servers - partition % self.servers) % self.servers;
        behind < self.replicas
    }
}

pub(super) struct Partition {
    pub status: SharedStatus,
    /// Says when the consumer and its sealer are done (before the Kafka client is closed).
    pub done: std::sync::mpsc::Receiver<()>,
}

pub struct RealtimeIngestion {
    shared: Arc<Shared>,
    partitions: Arc<Mutex<BTreeMap<u32, Partition>>>,
    topic_error: Arc<Mutex<Option<String>>>,
    discovery: Mutex<Option<JoinHandle<()>>>,
    watcher: Mutex<Option<TopicWatcher>>,
}

/// A partition's status with the stream's side of it (latest offset, lag).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionReport {
    #[serde(flatten)]
    pub status: PartitionStatus,
    /// The next offset Kafka will write (its high watermark), when it answered.
    pub latest_offset: Option<i64>,
    pub records_lag: Option<i64>,
    /// How long ago the newest consumed message was produced, when behind; 0 when caught up.
    pub availability_lag_ms: Option<i64>,
    /// Upsert and dedup: primary keys held for the partition, and the bytes their map takes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_keys: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_map_bytes: Option<u64>,
    /// Rows whose key belongs to another partition by the table's `segmentPartitionConfig`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_off_partition: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestionStatus {
    pub table: String,
    pub topic: String,
    pub paused: bool,
    /// Why the topic's partitions cannot be listed, if they cannot.
    pub topic_error: Option<String>,
    pub partitions: Vec<PartitionReport>,
}

/// Reads the first stream config of a table (Pinot allows several — multi-topic tables —
/// which cuvee does not consume yet).
pub fn stream_config(table: &Table) -> Result<StreamConfig, IngestError> {
    let maps = table.config.stream_configs();
    if maps.len() > 1 {
        return Err(IngestError::Stream(format!(
            "table {}: {} stream configs given; consuming several topics into one table is not supported",
            table.name(),
            maps.len()
        )));
    }
    let Some(map) = maps.first() else {
        return Err(IngestError::Stream(format!("table {} has no stream config", table.name())));
    };
    let path = if table.config.ingestion_config.as_ref().and_then(|c| c.stream_ingestion_config.as_ref()).is_some() {
        "ingestionConfig.streamIngestionConfig.streamConfigMaps[0]"
    } else {
        "tableIndexConfig.streamConfigs"
    };
    StreamConfig::from_map(map, path).map_err(|problems| {
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        IngestError::Stream(format!("Invalid stream config of table {}: {}", table.name(), text.join("; ")))
    })
}

/// Everything about a realtime table that can be checked without Kafka: the stream config,
/// the decoder, transforms, and that librdkafka accepts every property.
pub fn validate(table: &Table, secrets: &SecretSource) -> Result<StreamConfig, IngestError> {
    let stream = resolve_references(stream_config(table)?, table.name(), secrets)?;
    MessageDecoder::new(&stream.decoder, &table.schema, stream.populate_metadata)
        .map_err(|e| IngestError::Stream(format!("table {}: {e}", table.name())))?;
    Conformer::new(table)?;
    create_consumer(&stream, "cuvee-validate", &group_of(&stream, table.name()))?;
    Ok(stream)
}

/// The stream config with every `${NAME}` property value replaced by its value; a reference
/// the source cannot resolve is an error naming the property and the name (never a value).
fn resolve_references(
    mut stream: StreamConfig,
    table: &str,
    secrets: &SecretSource,
) -> Result<StreamConfig, IngestError> {
    for (key, value) in stream.consumer_properties.iter_mut() {
        if let Some(name) = cuvee_catalog::secrets::reference(value) {
            *value = secrets(name).ok_or_else(|| {
                IngestError::Stream(format!(
                    "table {table}: {key} refers to ${{{name}}}, which the server's environment does not set"
                ))
            })?;
        }
    }
    Ok(stream)
}

fn group_of(stream: &StreamConfig, table: &str) -> String {
    stream.consumer_properties.get("group.id").cloned().unwrap_or_else(|| format!("cuvee-{table}"))
}

/// How long `stop` waits for a partition's threads (librdkafka's close can hang; a
/// consumer that does is left behind rather than hang the caller).
const STOP_WAIT: Duration = Duration::from_secs(15);

impl RealtimeIngestion {
    /// Starts consuming the table's topic into `host`, publishing into `store` (whose
    /// folder is `table_dir`). Returns at once; Kafka is reached in the background.
    pub fn start(
        table: Table,
        store: SharedStore,
        table_dir: &Path,
        host: Arc<dyn SegmentHost>,
        options: RealtimeOptions,
    ) -> Result<RealtimeIngestion, IngestError> {
        let stream = validate(&table, &options.secrets)?;
        let group = group_of(&stream, table.name());
        let watcher = TopicWatcher::new(&stream, &format!("cuvee-{}-watch", table.name()), &group)?;
        let claims = store.lock().deep_store().map(|deep| super::claims::Claims::new(Arc::clone(deep), table.name()));
        let shared = Arc::new(Shared {
            claims,
            table_name: table.name().to_string(),
            stream,
            group,
            definition: RwLock::new((0, table)),
            store,
            table_dir: table_dir.to_path_buf(),
            host,
            stop: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            force_commits: AtomicU64::new(0),
            dead_letter_bytes: options.dead_letter_bytes,
            keyed: Mutex::default(),
        });
        // Upsert and dedup: the key maps of the partitions this server holds are rebuilt
        // before this returns, so no query sees a superseded row while they load.
        let held: std::collections::BTreeSet<u32> = shared
            .store()
            .manifest()
            .segments
            .iter()
            .filter_map(|e| e.bounds.partition)
            .filter(|&p| options.share.owns(p))
            .collect();
        for partition in held {
            if let Some(keyed) = shared.keyed(partition) {
                keyed.rebuild(&shared.sealed_of(partition), &[]);
            }
        }
        let this = RealtimeIngestion {
            shared: Arc::clone(&shared),
            partitions: Arc::default(),
            topic_error: Arc::default(),
            discovery: Mutex::new(None),
            watcher: Mutex::new(None),
        };
        let partitions = Arc::clone(&this.partitions);
        let topic_error = Arc::clone(&this.topic_error);
        let discovery = std::thread::Builder::new()
            .name(format!("cuvee-discover-{}", shared.table_name))
            .spawn(move || discover(shared, watcher, partitions, topic_error, options))
            .map_err(IngestError::Thread)?;
        *this.discovery.lock() = Some(discovery);
        Ok(this)
    }

    pub fn pause(&self) {
        self.shared.paused.store(true, Ordering::Release);
    }

    pub fn resume(&self) {
        self.shared.paused.store(false, Ordering::Release);
    }

    pub fn is_paused(&self) -> bool {
        self.shared.paused.load(Ordering::Acquire)
    }

    /// Asks every partition to seal its consuming segment now (if it has rows).
    pub fn force_commit(&self) -> u64 {
        self.shared.force_commits.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// New consuming segments use this definition (a compatible schema or config change).
    pub fn update_definition(&self, table: Table) {
        let mut guard = self.shared.definition.write();
        let generation = guard.0 + 1;
        *guard = (generation, table);
    }

    /// A published segment was removed (retention): upsert and dedup forget its keys.
    pub fn forget_segment(&self, name: &str) {
        for keyed in self.shared.keyed.lock().values() {
            keyed.forget(name);
        }
    }

    /// Names of the consuming segments now.
    pub fn consuming_segments(&self) -> Vec<String> {
        self.partitions.lock().values().filter_map(|p| p.status.consuming_segment()).collect()
    }

    /// Status of every partition, with Kafka's latest offsets (asked now, briefly).
    pub fn status(&self) -> IngestionStatus {
        let statuses: Vec<PartitionStatus> = self.partitions.lock().values().map(|p| p.status.snapshot()).collect();
        let mut watcher = self.watcher.lock();
        if watcher.is_none() {
            *watcher = TopicWatcher::new(
                &self.shared.stream,
                &format!("cuvee-{}-status", self.shared.table_name),
                &self.shared.group,
            )
            .ok();
        }
        let now = now_ms();
        // One unanswered request means Kafka is away: do not wait once per partition.
        let mut kafka_answers = true;
        let partitions = statuses
            .into_iter()
            .map(|status| {
                let latest = match (kafka_answers, watcher.as_ref()) {
                    (true, Some(w)) => {
                        let high =
                            w.watermarks(status.partition, Duration::from_millis(1500)).ok().map(|(_, high)| high);
                        kafka_answers = high.is_some();
                        high
                    }
                    _ => None,
                };
                let lag = latest.zip(status.current_offset).map(|(l, c)| (l - c).max(0));
                let availability_lag_ms =
                    lag.map(|l| if l == 0 { 0 } else { status.last_event_time_ms.map_or(0, |t| (now - t).max(0)) });
                let keyed = self.shared.keyed.lock().get(&status.partition).cloned();
                PartitionReport {
                    primary_keys: keyed.as_ref().map(|k| k.key_count() as u64),
                    key_map_bytes: keyed.as_ref().map(|k| k.key_map_bytes() as u64),
                    rows_off_partition: keyed.as_ref().map(|k| k.rows_off_partition()),
                    status,
                    latest_offset: latest,
                    records_lag: lag,
                    availability_lag_ms,
                }
            })
            .collect();
        IngestionStatus {
            table: self.shared.table_name.clone(),
            topic: self.shared.stream.topic.clone(),
            paused: self.is_paused(),
            topic_error: self.topic_error.lock().clone(),
            partitions,
        }
    }

    /// Stops every consumer and waits for them (a sealer finishes the segment it is
    /// building). Consuming segments are taken out of the table; what they held is consumed
    /// again from the published offsets next time.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(discovery) = self.discovery.lock().take() {
            let _ = discovery.join();
        }
        let partitions = std::mem::take(&mut *self.partitions.lock());
        for (_, partition) in partitions {
            let consuming = partition.status.consuming_segment();
            if partition.done.recv_timeout(STOP_WAIT).is_err() {
                tracing::warn!(table = %self.shared.table_name, partition = partition.status.snapshot().partition, wait = ?STOP_WAIT, "a consumer did not stop in time; leaving it");
            }
            if let Some(name) = consuming {
                self.shared.host.remove_consuming(&name);
            }
        }
    }
}

impl Drop for RealtimeIngestion {
    fn drop(&mut self) {
        self.stop();
    }
}

fn discover(
    shared: Arc<Shared>,
    watcher: TopicWatcher,
    partitions: Arc<Mutex<BTreeMap<u32, Partition>>>,
    topic_error: Arc<Mutex<Option<String>>>,
    options: RealtimeOptions,
) {
    tracing::info!(table = %shared.table_name, topic = %shared.stream.topic, "partition discovery started");
    let mut wait = Duration::from_millis(200);
    while !shared.stopped() {
        match watcher.partition_count(Duration::from_secs(5)) {
            Ok(found) => {
                let count = found.min(options.max_partitions);
                *topic_error.lock() = (found > count).then(|| {
                    format!(
                        "the topic has {found} partitions; this server consumes at most {count} per table (--max-partitions-per-table)"
                    )
                });
                if found > count {
                    tracing::warn!(table = %shared.table_name, topic = %shared.stream.topic, found, limit = count, "the topic has more partitions than a table may consume");
                }
                let mut running = partitions.lock();
                for p in (0..count).filter(|p| options.share.owns(*p)) {
                    if running.contains_key(&p) {
                        continue;
                    }
                    match super::partition::start(&shared, p) {
                        Ok(partition) => {
                            running.insert(p, partition);
                        }
                        Err(e) => {
                            tracing::error!(table = %shared.table_name, partition = p, error = %e, "cannot start the partition's consumer");
                            *topic_error.lock() = Some(e.to_string());
                        }
                    }
                }
                wait = options.partition_discovery_interval;
            }
            Err(e) => {
                tracing::warn!(table = %shared.table_name, topic = %shared.stream.topic, error = %e, retry_in = ?wait, "cannot list the topic's partitions");
                *topic_error.lock() = Some(e.to_string());
                wait = (wait * 2).min(options.partition_discovery_interval.max(Duration::from_millis(200)));
            }
        }
        let until = std::time::Instant::now() + wait;
        while std::time::Instant::now() < until && !shared.stopped() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    tracing::info!(table = %shared.table_name, "partition discovery stopped");
}

#[cfg(test)]
mod share_tests {
    use super::PartitionShare;

    #[test]
    fn each_partition_has_exactly_one_owner() {
        let shares: Vec<PartitionShare> = (0..3).map(|i| PartitionShare::new(i, 3).unwrap()).collect();
        for p in 0..12 {
            assert_eq!(shares.iter().filter(|s| s.owns(p)).count(), 1);
        }
        assert!(PartitionShare::ALL.owns(7));
        assert!(PartitionShare::new(3, 3).unwrap_err().to_string().contains("ordinal 3 of 3"));
        assert!(PartitionShare::new(0, 0).is_err());
    }

    #[test]
    fn each_partition_has_as_many_owners_as_replicas() {
        for (servers, replicas) in [(3, 2), (3, 3), (4, 2), (2, 2)] {
            let shares: Vec<PartitionShare> =
                (0..servers).map(|i| PartitionShare::replicated(i, servers, replicas).unwrap()).collect();
            for p in 0..12 {
                assert_eq!(
                    shares.iter().filter(|s| s.owns(p)).count(),
                    replicas as usize,
                    "{servers} servers, {replicas} replicas, partition {p}"
                );
            }
            // Every server consumes the same number of partitions of a round number of them.
            let per_server: Vec<usize> =
                shares.iter().map(|s| (0..servers * 4).filter(|p| s.owns(*p)).count()).collect();
            assert!(per_server.iter().all(|n| *n == per_server[0]), "{per_server:?}");
        }
        assert!(PartitionShare::replicated(0, 2, 3).unwrap_err().to_string().contains("3 replicas"));
        assert!(PartitionShare::replicated(0, 2, 0).is_err());
    }
}
