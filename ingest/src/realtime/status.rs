//! What a partition consumer reports: where it is, how far behind, what went wrong.
//!
//! The consumer updates its counters for every message, so those are atomics written with
//! no lock; what changes on a transition (its state, its segment, an error, a gap, a
//! publish) sits behind a short lock. A reader takes a [`PartitionStatus`] snapshot of both.

use crate::now_ms;
use parking_lot::{Mutex, MutexGuard};
use serde::Serialize;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsumerState {
    /// Looking up where to start (the stream's offsets), or connecting.
    Starting,
    Consuming,
    Paused,
    /// Kafka (or the disk) answered with an error; retrying with backoff.
    Retrying,
    /// The consumer failed unexpectedly (a panic); it restarts from the checkpoint after a
    /// backoff. `lastError` says what happened.
    Error,
    Stopped,
}

impl ConsumerState {
    pub const ALL: [ConsumerState; 6] = [
        ConsumerState::Starting,
        ConsumerState::Consuming,
        ConsumerState::Paused,
        ConsumerState::Retrying,
        ConsumerState::Error,
        ConsumerState::Stopped,
    ];

    /// The state's name in metrics labels.
    pub fn label(self) -> &'static str {
        match self {
            ConsumerState::Starting => "starting",
            ConsumerState::Consuming => "consuming",
            ConsumerState::Paused => "paused",
            ConsumerState::Retrying => "retrying",
            ConsumerState::Error => "error",
            ConsumerState::Stopped => "stopped",
        }
    }
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
    /// Upsert: rows stored but hidden, being older than their key's latest row.
    pub rows_out_of_order: u64,
    /// Upsert and dedup: rows not stored because of their key (a duplicate, or an
    /// out-of-order row with `dropOutOfOrderRecord`).
    pub rows_dropped_by_key: u64,
    /// Messages that could not be decoded or did not fit the schema (kept as dead letters).
    pub dead_letters: u64,
    /// Of those, letters dropped from disk to keep the partition's dead letters within
    /// their limit (the oldest go first).
    pub dead_letters_dropped: u64,
    /// Times the offset we needed was gone (retention) or invalid and the reset policy applied.
    pub offset_gaps: u64,
    /// Messages skipped over by those resets.
    pub messages_skipped_by_gaps: u64,
    pub last_gap: Option<String>,
    pub segments_published: u64,
    /// Time spent sealing and publishing those segments, in µs.
    pub seal_micros_total: u64,
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

/// What changes on a transition, not per message.
#[derive(Debug, Clone)]
pub struct Transitions {
    pub state: ConsumerState,
    pub consuming_segment: Option<String>,
    pub segment_start_offset: Option<i64>,
    pub offset_gaps: u64,
    pub messages_skipped_by_gaps: u64,
    pub last_gap: Option<String>,
    pub segments_published: u64,
    pub seal_micros_total: u64,
    pub segments_adopted: u64,
    pub segments_reconsumed: u64,
    pub last_published_segment: Option<String>,
    pub last_error: Option<String>,
    pub last_error_time_ms: Option<i64>,
    pub errors: u64,
}

impl Transitions {
    pub fn record_error(&mut self, error: String) {
        self.errors += 1;
        self.last_error = Some(error);
        self.last_error_time_ms = Some(now_ms());
    }
}

/// `None` in an atomic slot.
const NONE: i64 = i64::MIN;

fn optional(v: i64) -> Option<i64> {
    (v != NONE).then_some(v)
}

/// Written by the consumer for every message; read by anyone without a lock.
#[derive(Debug)]
pub struct Counters {
    pub current_offset: AtomicI64,
    pub rows_in_consuming_segment: AtomicU32,
    pub consuming_segment_bytes: AtomicUsize,
    pub messages_consumed: AtomicU64,
    pub rows_indexed: AtomicU64,
    pub rows_filtered: AtomicU64,
    pub rows_out_of_order: AtomicU64,
    pub rows_dropped_by_key: AtomicU64,
    pub dead_letters: AtomicU64,
    pub dead_letters_dropped: AtomicU64,
    pub last_event_time_ms: AtomicI64,
    pub last_ingest_time_ms: AtomicI64,
    /// Written by the sealer; the consumer reads it for its advisory commits.
    pub published_end_offset: AtomicI64,
    /// Bytes per 1000 rows of the partition's last segment sealed here (0 = none yet).
    /// Written by the sealer; the consumer judges a size threshold, which is in sealed
    /// bytes, by it.
    pub sealed_bytes_per_1000_rows: AtomicU64,
}

impl Counters {
    pub fn set_offset(&self, offset: i64) {
        self.current_offset.store(offset, Ordering::Relaxed);
    }

    pub fn published_end_offset(&self) -> Option<i64> {
        optional(self.published_end_offset.load(Ordering::Acquire))
    }

    /// Notes what a segment built here became: `rows` rows in `sealed` bytes.
    pub fn note_seal(&self, sealed: u64, rows: u32) {
        if rows > 0 {
            let per_1000 = (u128::from(sealed) * 1000 / u128::from(rows)).clamp(1, u128::from(u64::MAX));
            self.sealed_bytes_per_1000_rows.store(per_1000 as u64, Ordering::Relaxed);
        }
    }

    /// The sealed size of a consuming segment of `rows` rows holding `memory` bytes: by
    /// the last seal's bytes per row (Pinot's size-based threshold also goes by rows,
    /// which a sealed size follows closely while memory has fixed costs per chunk); before
    /// any seal, its memory, so the first segment errs small.
    pub fn estimated_sealed_bytes(&self, rows: u32, memory: usize) -> u64 {
        match self.sealed_bytes_per_1000_rows.load(Ordering::Relaxed) {
            0 => memory as u64,
            per_1000 => (u128::from(rows) * u128::from(per_1000) / 1000).min(u128::from(u64::MAX)) as u64,
        }
    }

    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_time(slot: &AtomicI64, ms: Option<i64>) {
        if let Some(ms) = ms {
            slot.store(ms, Ordering::Relaxed);
        }
    }
}

#[derive(Debug)]
struct Cell {
    partition: u32,
    counters: Counters,
    transitions: Mutex<Transitions>,
}

/// A partition's status, shared between its consumer, its sealer and readers.
#[derive(Debug, Clone)]
pub struct SharedStatus(Arc<Cell>);

impl SharedStatus {
    pub fn new(partition: u32) -> SharedStatus {
        let counters = Counters {
            current_offset: AtomicI64::new(NONE),
            rows_in_consuming_segment: AtomicU32::new(0),
            consuming_segment_bytes: AtomicUsize::new(0),
            messages_consumed: AtomicU64::new(0),
            rows_indexed: AtomicU64::new(0),
            rows_filtered: AtomicU64::new(0),
            rows_out_of_order: AtomicU64::new(0),
            rows_dropped_by_key: AtomicU64::new(0),
            dead_letters: AtomicU64::new(0),
            dead_letters_dropped: AtomicU64::new(0),
            last_event_time_ms: AtomicI64::new(NONE),
            last_ingest_time_ms: AtomicI64::new(NONE),
            published_end_offset: AtomicI64::new(NONE),
            sealed_bytes_per_1000_rows: AtomicU64::new(0),
        };
        let transitions = Transitions {
            state: ConsumerState::Starting,
            consuming_segment: None,
            segment_start_offset: None,
            offset_gaps: 0,
            messages_skipped_by_gaps: 0,
            last_gap: None,
            segments_published: 0,
            seal_micros_total: 0,
            segments_adopted: 0,
            segments_reconsumed: 0,
            last_published_segment: None,
            last_error: None,
            last_error_time_ms: None,
            errors: 0,
        };
        SharedStatus(Arc::new(Cell { partition, counters, transitions: Mutex::new(transitions) }))
    }

    pub fn counters(&self) -> &Counters {
        &self.0.counters
    }

    /// The part that changes on transitions; hold the guard briefly.
    pub fn transitions(&self) -> MutexGuard<'_, Transitions> {
        self.0.transitions.lock()
    }

    pub fn set_state(&self, state: ConsumerState) {
        self.transitions().state = state;
    }

    pub fn state(&self) -> ConsumerState {
        self.transitions().state
    }

    pub fn record_error(&self, error: String) {
        self.transitions().record_error(error);
    }

    pub fn consuming_segment(&self) -> Option<String> {
        self.transitions().consuming_segment.clone()
    }

    pub fn snapshot(&self) -> PartitionStatus {
        let c = &self.0.counters;
        let t = self.transitions().clone();
        PartitionStatus {
            partition: self.0.partition,
            state: t.state,
            consuming_segment: t.consuming_segment,
            segment_start_offset: t.segment_start_offset,
            current_offset: optional(c.current_offset.load(Ordering::Relaxed)),
            rows_in_consuming_segment: c.rows_in_consuming_segment.load(Ordering::Relaxed),
            consuming_segment_bytes: c.consuming_segment_bytes.load(Ordering::Relaxed),
            messages_consumed: c.messages_consumed.load(Ordering::Relaxed),
            rows_indexed: c.rows_indexed.load(Ordering::Relaxed),
            rows_filtered: c.rows_filtered.load(Ordering::Relaxed),
            rows_out_of_order: c.rows_out_of_order.load(Ordering::Relaxed),
            rows_dropped_by_key: c.rows_dropped_by_key.load(Ordering::Relaxed),
            dead_letters: c.dead_letters.load(Ordering::Relaxed),
            dead_letters_dropped: c.dead_letters_dropped.load(Ordering::Relaxed),
            offset_gaps: t.offset_gaps,
            messages_skipped_by_gaps: t.messages_skipped_by_gaps,
            last_gap: t.last_gap,
            segments_published: t.segments_published,
            seal_micros_total: t.seal_micros_total,
            segments_adopted: t.segments_adopted,
            segments_reconsumed: t.segments_reconsumed,
            last_published_segment: t.last_published_segment,
            published_end_offset: c.published_end_offset(),
            last_event_time_ms: optional(c.last_event_time_ms.load(Ordering::Relaxed)),
            last_ingest_time_ms: optional(c.last_ingest_time_ms.load(Ordering::Relaxed)),
            last_error: t.last_error,
            last_error_time_ms: t.last_error_time_ms,
            errors: t.errors,
        }
    }
}
