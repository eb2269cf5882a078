//! The open segment: where it starts, where it ends (its goal), and what happens at the
//! end — the dead letters are made durable, the segment is claimed (with a deep store),
//! handed to the sealer, and the next one opens at the next offset.

use super::PartitionConsumer;
use crate::realtime::claims::SegmentClaim;
use crate::realtime::sealer::{SealJob, SealWork};
use cuvee_segments::naming::segment_name;
use cuvee_segments::{MutableSegment, SegmentIdentity};
use std::sync::atomic::Ordering;
use std::sync::mpsc::TrySendError;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The consuming segment's size is measured every this many rows (it walks every column).
const SIZE_CHECK_ROWS: u32 = 1024;

/// Where the open segment ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Goal {
    /// At this server's flush thresholds (rows, time, size) or a force commit.
    Thresholds,
    /// Exactly at a replica's claimed end offset (catching up to it, or following a claim
    /// made before this segment began).
    Claimed(SegmentClaim),
    /// At a replica's claimed end, consuming its range again out of readers' sight: `shown`
    /// is the consuming segment readers see meanwhile, which this one replaces once
    /// published (so no range is seen twice).
    Reconsuming { claim: SegmentClaim, shown: String },
}

impl Goal {
    pub(super) fn claim(&self) -> Option<&SegmentClaim> {
        match self {
            Goal::Thresholds => None,
            Goal::Claimed(claim) | Goal::Reconsuming { claim, .. } => Some(claim),
        }
    }
}

pub(super) struct OpenSegment {
    pub segment: Arc<MutableSegment>,
    /// Its place in the partition (the name's sequence).
    pub sequence: u32,
    /// Offset of its first message.
    pub start_offset: i64,
    /// When it began, for the time threshold.
    pub started: Instant,
    pub created_ms: i64,
    pub goal: Goal,
}

impl OpenSegment {
    pub fn rows(&self) -> u32 {
        self.segment.num_docs()
    }

    /// The segment readers see now, which the published one replaces.
    fn shown(&self) -> String {
        match &self.goal {
            Goal::Reconsuming { shown, .. } => shown.clone(),
            _ => self.segment.name().to_string(),
        }
    }
}

impl PartitionConsumer {
    /// Opens segment `sequence` at `start` (the reader is at `reader_at`). A replica's claim
    /// on it is followed: its copy taken when published (again for the next sequence, so a
    /// replica that was away catches up from the deep store), else its range consumed
    /// under its name.
    pub(super) fn begin_segment(&mut self, mut sequence: u32, mut start: i64, reader_at: i64) {
        let mut goal = Goal::Thresholds;
        while let Some(claim) = self.existing_claim(sequence) {
            if claim.start_offset != start {
                let problem = format!(
                    "partition {}: a replica's segment {} starts at offset {} where this server's segments end at {start}; following the replica",
                    self.partition, claim.segment, claim.start_offset
                );
                tracing::warn!(table = %self.shared.table_name, partition = self.partition, segment = %claim.segment, "{problem}");
                self.status.record_error(problem);
                start = claim.start_offset;
            }
            let published = self.shared.claims.as_ref().map(|claims| claims.published_segment(&claim));
            let Some(Ok(Some(bytes))) = published else {
                goal = Goal::Claimed(claim);
                break;
            };
            let replaces = claim.segment.clone();
            if !self.adopt(&claim, bytes, replaces) {
                return;
            }
            sequence += 1;
            start = claim.end_offset;
        }
        if start != reader_at {
            self.seek(start);
        }
        self.next_offset = start;
        let (segment, created_ms) = match goal.claim() {
            Some(claim) => {
                (Arc::new(MutableSegment::new(&self.decoding.table, &claim.segment)), claim.creation_time_ms)
            }
            None => {
                let created_ms = crate::now_ms();
                let name = segment_name(&self.shared.table_name, self.partition, sequence, created_ms);
                (Arc::new(MutableSegment::new(&self.decoding.table, &name)), created_ms)
            }
        };
        if let Some(keyed) = &self.keyed {
            keyed.open(&segment);
        }
        self.open =
            Some(OpenSegment { segment, sequence, start_offset: start, started: Instant::now(), created_ms, goal });
        self.announce_segment();
    }

    /// Makes the open segment queryable and reports it.
    fn announce_segment(&mut self) {
        let Some(open) = &self.open else { return };
        self.shared.host.add_consuming(Arc::clone(&open.segment));
        tracing::debug!(table = %self.shared.table_name, partition = self.partition, segment = %open.segment.name(), offset = open.start_offset, "segment opened");
        {
            let mut status = self.status.transitions();
            status.consuming_segment = Some(open.segment.name().to_string());
            status.segment_start_offset = Some(open.start_offset);
        }
        let counters = self.status.counters();
        counters.set_offset(self.next_offset);
        counters.rows_in_consuming_segment.store(0, Ordering::Relaxed);
        counters.consuming_segment_bytes.store(0, Ordering::Relaxed);
    }

    /// Whether the open segment has reached its goal.
    pub(super) fn flush_due(&mut self) -> bool {
        let Some(open) = &self.open else { return false };
        if let Some(claim) = open.goal.claim() {
            // A replica's claim decides where this segment ends, not our thresholds.
            return self.next_offset >= claim.end_offset;
        }
        let sequence = open.sequence;
        if self.peer_claimed(sequence) {
            return true;
        }
        let Some(open) = &mut self.open else { return false };
        let flush = self.shared.stream.flush;
        let rows = open.rows();
        let elapsed = open.started.elapsed().as_millis() as u64;
        let time_due = flush.time_ms.is_some_and(|t| elapsed >= t);
        if rows == 0 {
            if time_due {
                // Nothing to seal: start the clock again rather than build an empty segment.
                open.started = Instant::now();
            }
            return false;
        }
        if time_due || flush.rows.is_some_and(|r| u64::from(rows) >= r) {
            return true;
        }
        let Some(limit) = flush.segment_bytes else { return false };
        if !rows.is_multiple_of(SIZE_CHECK_ROWS) {
            return false;
        }
        // The threshold is the sealed segment's size, as in Pinot, not the memory consuming
        // takes (another measure, larger).
        let bytes = open.segment.memory_bytes();
        let counters = self.status.counters();
        counters.consuming_segment_bytes.store(bytes, Ordering::Relaxed);
        counters.estimated_sealed_bytes(rows, bytes) >= limit
    }

    /// Hands the open segment to the sealer and opens the next one at the next offset.
    /// With a deep store the segment is claimed first, and a replica's earlier claim on it
    /// is followed instead (see [`crate::realtime::claims`]).
    pub(super) fn seal(&mut self) {
        if let Err(e) = self.dead_letters.sync() {
            self.status.record_error(format!("syncing dead letters of partition {}: {e}", self.partition));
            return;
        }
        let Some(open) = &self.open else { return };
        let mut identity = SegmentIdentity {
            name: open.segment.name().to_string(),
            partition: Some(self.partition),
            start_offset: Some(open.start_offset),
            end_offset: Some(self.next_offset),
            creation_time_ms: open.created_ms,
        };
        let sequence = open.sequence;
        if let Some(claims) = &self.shared.claims {
            let ours = SegmentClaim {
                segment: identity.name.clone(),
                start_offset: open.start_offset,
                end_offset: self.next_offset,
                creation_time_ms: open.created_ms,
                claimed_by: String::new(),
            };
            if !self.claims.may_claim() {
                return;
            }
            let claim = match claims.claim(self.partition, sequence, &ours) {
                Ok(claim) => claim,
                // Consumption goes on (fresh rows stay queryable; the segment outgrows its
                // threshold) and the claim is tried again after a backoff.
                Err(e) => {
                    return self.claim_failed(format!(
                        "claiming segment {sequence} of partition {} in the deep store: {e}",
                        self.partition
                    ))
                }
            };
            self.claims.claimed();
            if !claim.same_offsets(&ours) {
                return self.follow(claim);
            }
            identity.name = claim.segment;
            identity.creation_time_ms = claim.creation_time_ms;
        }
        let Some(open) = &self.open else { return };
        // A segment consumed again out of readers' sight replaces the one they see before
        // the next one starts, so they never see a range twice.
        let wait = matches!(open.goal, Goal::Reconsuming { .. });
        let replaces = open.shown();
        let (done, published) = std::sync::mpsc::channel();
        let work = SealWork::Build { segment: Arc::clone(&open.segment), identity };
        let job = SealJob { work, replaces, done: wait.then_some(done) };
        if !self.hand_off(job) || (wait && published.recv().is_err()) {
            return;
        }
        self.next_segment(sequence + 1, self.next_offset);
    }

    /// The segment after the one just handed off (or adopted) opens at `start`.
    pub(super) fn next_segment(&mut self, sequence: u32, start: i64) {
        self.refresh_definition();
        let reader_at = self.next_offset;
        self.begin_segment(sequence, start, reader_at);
    }

    /// Queues a job for the sealer; waits while the queue is full (the backpressure).
    pub(super) fn hand_off(&self, mut job: SealJob) -> bool {
        loop {
            match self.seal_queue.try_send(job) {
                Ok(()) => return true,
                Err(TrySendError::Full(back)) if !self.shared.stopped() => {
                    job = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(_) => return false,
            }
        }
    }

    /// A new table definition (schema evolution, index changes) applies from the next
    /// consuming segment on, as in Pinot.
    fn refresh_definition(&mut self) {
        let (generation, table) = self.shared.definition();
        if generation == self.decoding.generation {
            return;
        }
        match super::Decoding::new(&self.shared, generation, table) {
            Ok(decoding) => self.decoding = decoding,
            Err(e) => {
                tracing::warn!(table = %self.shared.table_name, partition = self.partition, error = %e, "a new table definition cannot be applied");
                self.status.record_error(format!("the new table definition cannot be applied: {e}"));
            }
        }
    }
}
