//! What a partition consumer reports: where it is, how far behind, what went wrong.

use crate::now_ms;
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumerState {
    /// Looking up where to start (the stream's offsets), or connecting.
    Starting,
    Consuming,
    Paused,
    /// Kafka answered with an error; retrying with backoff.
    Retrying,
    Stopped,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionStatus {
    pub partition: u32,
    pub state: ConsumerState,
    pub consuming_segment: Option<String>,
    /// Offset of the first message of the consuming segment.
    pub segment_start_offset: Option<i64>,
    /// The next offset to consume.
    pub current_offset: Option<i64>,
    pub rows_in_consuming_segment: u32,
    pub consuming_segment_bytes: usize,
    pub messages_consumed: u64,
    pub rows_indexed: u64,
    pub rows_filtered: u64,
    /// Messages that could not be decoded or did not fit the schema (kept as dead letters).
    pub dead_letters: u64,
    /// Times the offset we needed was gone (retention) or invalid and the reset policy applied.
    pub offset_gaps: u64,
    /// Messages skipped over by those resets.
    pub messages_skipped_by_gaps: u64,
    pub last_gap: Option<String>,
    pub segments_published: u64,
    /// Of those, segments a replica published first and this server took as they were.
    pub segments_adopted: u64,
    /// Segments whose range this server consumed again to match a replica's claim.
    pub segments_reconsumed: u64,
    pub last_published_segment: Option<String>,
    /// End offset of the last segment published: where a restart resumes.
    pub published_end_offset: Option<i64>,
    /// Record timestamp (Kafka's) of the latest message consumed.
    pub last_event_time_ms: Option<i64>,
    /// Wall-clock time the latest row became queryable.
    pub last_ingest_time_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_error_time_ms: Option<i64>,
    pub errors: u64,
}

impl PartitionStatus {
    fn new(partition: u32) -> PartitionStatus {
        PartitionStatus {
            partition,
            state: ConsumerState::Starting,
            consuming_segment: None,
            segment_start_offset: None,
            current_offset: None,
            rows_in_consuming_segment: 0,
            consuming_segment_bytes: 0,
            messages_consumed: 0,
            rows_indexed: 0,
            rows_filtered: 0,
            dead_letters: 0,
            offset_gaps: 0,
            messages_skipped_by_gaps: 0,
            last_gap: None,
            segments_published: 0,
            segments_adopted: 0,
            segments_reconsumed: 0,
            last_published_segment: None,
            published_end_offset: None,
            last_event_time_ms: None,
            last_ingest_time_ms: None,
            last_error: None,
            last_error_time_ms: None,
            errors: 0,
        }
    }

    pub fn record_error(&mut self, error: String) {
        self.errors += 1;
        self.last_error = Some(error);
        self.last_error_time_ms = Some(now_ms());
    }
}

/// A partition's status, shared between its consumer, its sealer and readers.
#[derive(Debug, Clone)]
pub struct SharedStatus(Arc<Mutex<PartitionStatus>>);

impl SharedStatus {
    pub fn new(partition: u32) -> SharedStatus {
        SharedStatus(Arc::new(Mutex::new(PartitionStatus::new(partition))))
    }

    pub fn lock(&self) -> MutexGuard<'_, PartitionStatus> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn snapshot(&self) -> PartitionStatus {
        self.lock().clone()
    }
}
