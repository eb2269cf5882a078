//! The Kafka side: librdkafka consumers assigned to one partition by hand (no consumer
//! group, no rebalancing in the data path), and a watcher for the topic's partitions and
//! offsets. librdkafka runs its network I/O on its own threads; these wrappers only poll.

use crate::error::IngestError;
use cuvee_catalog::StreamConfig;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::BorrowedMessage;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use std::time::Duration;

/// Properties cuvee owns: offsets are published with segments, never by librdkafka.
const OWNED: &[&str] = &[
    "auto.offset.reset",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.partition.eof",
    "group.instance.id",
];

/// The librdkafka configuration for a table's stream. The user's
/// `stream.kafka.consumer.prop.*` and security properties pass through; a property
/// librdkafka does not know is refused when the consumer is created, by name.
///
/// librdkafka wants a `group.id` even for manual assignment; the group is never joined
/// (no subscribe, no rebalancing) and only receives advisory commits of published offsets,
/// so lag tools show the table's progress. The user's `group.id` wins, else
/// `cuvee-<table>`.
pub fn client_config(stream: &StreamConfig, client_id: &str, group: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("group.id", group);
    config.set("bootstrap.servers", &stream.bootstrap_servers);
    config.set("client.id", client_id);
    // Freshness: a fetch that finds nothing new waits at most this long (librdkafka's
    // default 500 ms would be the floor of our produce→visible latency).
    config.set("fetch.wait.max.ms", "10");
    // Bounded prefetch per partition: backpressure reaches Kafka instead of our memory.
    config.set("queued.max.messages.kbytes", "16384");
    config.set("reconnect.backoff.max.ms", "2000");
    for (key, value) in &stream.consumer_properties {
        if !OWNED.contains(&key.as_str()) {
            config.set(key, value);
        }
    }
    config.set("enable.auto.commit", "false");
    config.set("enable.auto.offset.store", "false");
    config.set("enable.partition.eof", "false");
    // An offset Kafka no longer has is reported to us, not silently reset.
    config.set("auto.offset.reset", "error");
    config
}

pub fn create_consumer(stream: &StreamConfig, client_id: &str, group: &str) -> Result<BaseConsumer, IngestError> {
    client_config(stream, client_id, group).create::<BaseConsumer>().map_err(|source| match source {
        // librdkafka refuses a property it does not know, or a bad value: the config's fault.
        KafkaError::ClientConfig(..) => {
            IngestError::Stream(format!("cannot create a Kafka consumer for topic {}: {source}", stream.topic))
        }
        source => {
            IngestError::Kafka { context: format!("creating a Kafka consumer for topic {}", stream.topic), source }
        }
    })
}

/// A consumer that reads one partition.
pub struct PartitionReader {
    consumer: BaseConsumer,
    topic: String,
    partition: i32,
}

impl PartitionReader {
    pub fn new(
        stream: &StreamConfig,
        client_id: &str,
        group: &str,
        partition: u32,
    ) -> Result<PartitionReader, IngestError> {
        Ok(PartitionReader {
            consumer: create_consumer(stream, client_id, group)?,
            topic: stream.topic.clone(),
            partition: partition as i32,
        })
    }

    /// Reads from `offset` on (replacing any previous position).
    pub fn assign(&self, offset: i64) -> KafkaResult<()> {
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&self.topic, self.partition, Offset::Offset(offset))?;
        self.consumer.assign(&list)
    }

    pub fn poll(&self, timeout: Duration) -> Option<KafkaResult<BorrowedMessage<'_>>> {
        self.consumer.poll(timeout)
    }

    /// Tells the group (advisory only) that everything before `offset` is published.
    pub fn commit_advisory(&self, offset: i64) {
        let mut list = TopicPartitionList::new();
        if list.add_partition_offset(&self.topic, self.partition, Offset::Offset(offset)).is_ok() {
            let _ = self.consumer.commit(&list, rdkafka::consumer::CommitMode::Async);
        }
    }

    /// `(low, high)`: the oldest offset Kafka still has and the next one it will write.
    pub fn watermarks(&self, timeout: Duration) -> KafkaResult<(i64, i64)> {
        self.consumer.fetch_watermarks(&self.topic, self.partition, timeout)
    }
}

/// True for the errors that mean "the offset asked for is not in the partition".
pub fn is_offset_out_of_range(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(RDKafkaErrorCode::AutoOffsetReset) | Some(RDKafkaErrorCode::OffsetOutOfRange)
    )
}

/// Topic-level questions: how many partitions, and where each one's offsets are.
pub struct TopicWatcher {
    consumer: BaseConsumer,
    topic: String,
}

impl TopicWatcher {
    pub fn new(stream: &StreamConfig, client_id: &str, group: &str) -> Result<TopicWatcher, IngestError> {
        Ok(TopicWatcher { consumer: create_consumer(stream, client_id, group)?, topic: stream.topic.clone() })
    }

    pub fn partition_count(&self, timeout: Duration) -> Result<u32, IngestError> {
        let metadata = self.consumer.fetch_metadata(Some(&self.topic), timeout).map_err(|source| {
            IngestError::Kafka { context: format!("reading metadata of topic {}", self.topic), source }
        })?;
        let Some(topic) = metadata.topics().iter().find(|t| t.name() == self.topic) else {
            return Err(IngestError::Topic(format!("topic {} not found", self.topic)));
        };
        if let Some(error) = topic.error() {
            return Err(IngestError::Topic(format!("topic {}: {}", self.topic, RDKafkaErrorCode::from(error))));
        }
        if topic.partitions().is_empty() {
            return Err(IngestError::Topic(format!("topic {} has no partitions (does it exist?)", self.topic)));
        }
        Ok(topic.partitions().len() as u32)
    }

    pub fn watermarks(&self, partition: u32, timeout: Duration) -> KafkaResult<(i64, i64)> {
        self.consumer.fetch_watermarks(&self.topic, partition as i32, timeout)
    }
}
