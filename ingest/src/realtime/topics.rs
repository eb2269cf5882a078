//! Looking at a Kafka cluster before there is a table: its topics with their partitions and
//! offsets, and a bounded read of one topic's messages (the newest N, an offset range, or
//! everything since a time) for inference and for SQL over a topic.
//!
//! Only the server's own Kafka is ever contacted (`--kafka`): callers name topics, never
//! hosts. Every read is bounded by a message count, a byte budget and a deadline, and never
//! joins or commits to a consumer group.

use crate::error::IngestError;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;
use std::time::{Duration, Instant};

/// Topics listed at most (a cluster with more is listed in part, and says so).
pub const MAX_TOPICS: usize = 1_000;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicSummary {
    pub topic: String,
    pub partitions: Vec<PartitionOffsets>,
    /// Messages Kafka holds now (latest − earliest over partitions).
    pub messages: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionOffsets {
    pub partition: u32,
    pub earliest: i64,
    /// The next offset Kafka will write.
    pub latest: i64,
}

/// Which messages to read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Range {
    /// The newest `n` messages of the topic (the newest `n` of each partition, then the
    /// newest `n` of those by timestamp).
    Last(u64),
    /// Offsets `[start, end)` of one partition, or of every partition.
    Offsets { partition: Option<u32>, start: i64, end: Option<i64> },
    /// Everything produced at or after this time (epoch ms).
    Since(i64),
}

/// One message as read.
#[derive(Debug, Clone)]
pub struct Sampled {
    pub partition: u32,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
}

/// What a read may take.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Messages answered at most (for [`Range::Last`], up to this many per partition are
    /// read, and the newest this many kept).
    pub max_messages: usize,
    pub max_bytes: usize,
    pub deadline: Duration,
}

/// A Kafka topic name as Kafka allows it: 1 to 249 of `[A-Za-z0-9._-]`.
pub fn check_topic_name(topic: &str) -> Result<(), IngestError> {
    let ok = !topic.is_empty()
        && topic.len() <= 249
        && topic != "."
        && topic != ".."
        && topic.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(IngestError::Stream(format!(
            "{:?} is not a Kafka topic name (1 to 249 letters, digits, '.', '_' or '-')",
            topic.chars().take(100).collect::<String>()
        )))
    }
}

/// A client of one Kafka cluster.
pub struct Explorer {
    bootstrap: String,
    consumer: BaseConsumer,
}

fn consumer(bootstrap: &str) -> Result<BaseConsumer, IngestError> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "cuvee-explorer")
        .set("client.id", "cuvee-explorer")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", "earliest")
        .set("fetch.wait.max.ms", "50")
        .set("queued.max.messages.kbytes", "8192")
        .create::<BaseConsumer>()
        .map_err(|source| IngestError::Kafka { context: format!("connecting to Kafka at {bootstrap}"), source })
}

impl Explorer {
    pub fn connect(bootstrap: &str) -> Result<Explorer, IngestError> {
        Ok(Explorer { bootstrap: bootstrap.to_string(), consumer: consumer(bootstrap)? })
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Every topic but Kafka's internal ones (`__…`), by name, with offsets.
    pub fn topics(&self, timeout: Duration) -> Result<Vec<TopicSummary>, IngestError> {
        let metadata = self.consumer.fetch_metadata(None, timeout).map_err(|source| IngestError::Kafka {
            context: format!("listing the topics of Kafka at {}", self.bootstrap),
            source,
        })?;
        let mut names: Vec<(String, Vec<u32>)> = metadata
            .topics()
            .iter()
            .filter(|t| !t.name().starts_with("__"))
            .map(|t| (t.name().to_string(), t.partitions().iter().map(|p| p.id() as u32).collect()))
            .collect();
        names.sort();
        names.truncate(MAX_TOPICS);
        // One watermark request per partition: a slow cluster gets names, not a stalled call.
        let deadline = Instant::now() + timeout * 2;
        Ok(names
            .into_iter()
            .map(|(topic, partitions)| {
                if Instant::now() < deadline {
                    self.summary(topic, partitions, timeout)
                } else {
                    let error = Some("offsets not read: listing the cluster took too long".to_string());
                    TopicSummary { topic, partitions: Vec::new(), messages: 0, error }
                }
            })
            .collect())
    }

    /// One topic; an unknown one is an error naming it.
    pub fn topic(&self, topic: &str, timeout: Duration) -> Result<TopicSummary, IngestError> {
        check_topic_name(topic)?;
        let metadata = self.consumer.fetch_metadata(Some(topic), timeout).map_err(|source| IngestError::Kafka {
            context: format!("reading metadata of topic {topic} on {}", self.bootstrap),
            source,
        })?;
        let found = metadata.topics().iter().find(|t| t.name() == topic);
        match found {
            Some(t) if t.error().is_none() && !t.partitions().is_empty() => {
                let partitions = t.partitions().iter().map(|p| p.id() as u32).collect();
                Ok(self.summary(topic.to_string(), partitions, timeout))
            }
            _ => Err(IngestError::Topic(format!("topic {topic} does not exist on Kafka at {}", self.bootstrap))),
        }
    }

    fn summary(&self, topic: String, mut partitions: Vec<u32>, timeout: Duration) -> TopicSummary {
        partitions.sort_unstable();
        let mut offsets = Vec::with_capacity(partitions.len());
        let mut error = None;
        for partition in partitions {
            match self.consumer.fetch_watermarks(&topic, partition as i32, timeout) {
                Ok((earliest, latest)) => offsets.push(PartitionOffsets { partition, earliest, latest }),
                Err(e) => {
                    error.get_or_insert_with(|| format!("partition {partition}: {e}"));
                }
            }
        }
        let messages = offsets.iter().map(|p| (p.latest - p.earliest).max(0)).sum();
        TopicSummary { topic, partitions: offsets, messages, error }
    }

    /// Reads `range` of `topic` within `budget`: messages in offset order per partition.
    pub fn read(&self, topic: &str, range: Range, budget: Budget) -> Result<Vec<Sampled>, IngestError> {
        let summary = self.topic(topic, budget.deadline)?;
        let started = Instant::now();
        // Where each partition starts and stops.
        let mut plan: Vec<(u32, i64, i64)> = Vec::new();
        for p in &summary.partitions {
            let (start, end) = match range {
                Range::Last(n) => (p.latest.saturating_sub(n as i64).max(p.earliest), p.latest),
                Range::Offsets { partition, start, end } => {
                    if partition.is_some_and(|wanted| wanted != p.partition) {
                        continue;
                    }
                    (start.max(p.earliest), end.unwrap_or(p.latest).min(p.latest))
                }
                Range::Since(time_ms) => {
                    let mut list = TopicPartitionList::new();
                    list.add_partition_offset(topic, p.partition as i32, Offset::Offset(time_ms)).map_err(
                        |source| IngestError::Kafka { context: format!("looking up {topic} by time"), source },
                    )?;
                    let found = self.consumer.offsets_for_times(list, budget.deadline).map_err(|source| {
                        IngestError::Kafka { context: format!("looking up offsets of {topic} by time"), source }
                    })?;
                    let start = found
                        .find_partition(topic, p.partition as i32)
                        .and_then(|e| match e.offset() {
                            Offset::Offset(o) => Some(o),
                            _ => None,
                        })
                        .unwrap_or(p.latest);
                    (start, p.latest)
                }
            };
            if start < end {
                plan.push((p.partition, start, end));
            }
        }
        if let Range::Offsets { partition: Some(wanted), .. } = range {
            if !summary.partitions.iter().any(|p| p.partition == wanted) {
                return Err(IngestError::Topic(format!("topic {topic} has no partition {wanted}")));
            }
        }
        if plan.is_empty() {
            return Ok(Vec::new());
        }
        // This explorer's own client: an assignment replaces the last one.
        let reader = &self.consumer;
        let mut list = TopicPartitionList::new();
        for (partition, start, _) in &plan {
            list.add_partition_offset(topic, *partition as i32, Offset::Offset(*start))
                .map_err(|source| IngestError::Kafka { context: format!("assigning {topic}/{partition}"), source })?;
        }
        reader
            .assign(&list)
            .map_err(|source| IngestError::Kafka { context: format!("assigning partitions of {topic}"), source })?;
        let mut open: Vec<(u32, i64)> = plan.iter().map(|(p, _, end)| (*p, *end)).collect();
        // The newest n of a topic are among the newest n of each partition: read them all,
        // then keep n (an early stop would keep whichever partitions answered first).
        let cap = match range {
            Range::Last(_) => budget.max_messages.saturating_mul(plan.len()),
            _ => budget.max_messages,
        };
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while !open.is_empty() && out.len() < cap && bytes < budget.max_bytes {
            let left = budget.deadline.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            let Some(polled) = reader.poll(left.min(Duration::from_millis(200))) else { continue };
            let message =
                polled.map_err(|source| IngestError::Kafka { context: format!("reading topic {topic}"), source })?;
            let partition = message.partition() as u32;
            let Some(slot) = open.iter().position(|(p, _)| *p == partition) else { continue };
            let end = open[slot].1;
            if message.offset() >= end {
                open.swap_remove(slot);
                continue;
            }
            let payload = message.payload().unwrap_or_default().to_vec();
            bytes += payload.len();
            out.push(Sampled {
                partition,
                offset: message.offset(),
                timestamp_ms: message.timestamp().to_millis(),
                key: message.key().map(<[u8]>::to_vec),
                payload,
            });
            if message.offset() + 1 >= end {
                open.swap_remove(slot);
            }
        }
        if let Range::Last(n) = range {
            // The newest n over the topic, kept in (partition, offset) order.
            out.sort_by_key(|m| std::cmp::Reverse((m.timestamp_ms, m.offset)));
            out.truncate(usize::try_from(n).unwrap_or(usize::MAX));
        }
        out.sort_by_key(|m| (m.partition, m.offset));
        Ok(out)
    }
}
