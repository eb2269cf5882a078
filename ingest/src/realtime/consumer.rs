//! One partition's consumer: poll → decode → transforms and filter → the consuming
//! segment, until a flush threshold hands the segment to the sealer and a new one starts
//! at the next offset (consumption never waits for a build, only for a full hand-off
//! queue: that is the backpressure).

use super::claims::SegmentClaim;
use super::dead_letter::{DeadLetter, DeadLetterWriter};
use super::failpoint;
use super::kafka::{is_offset_out_of_range, PartitionReader};
use super::sealer::{SealJob, SealWork};
use super::status::{ConsumerState, SharedStatus};
use super::Shared;
use crate::conform::{Conformed, Conformer};
use crate::message::{MessageDecoder, MessageMetadata};
use crate::now_ms;
use cuvee_catalog::{OffsetReset, Table};
use cuvee_segments::naming::{parse_segment_name, segment_name};
use cuvee_segments::{Manifest, MutableSegment, SegmentIdentity};
use rdkafka::message::{BorrowedMessage, Message};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod following;

const POLL: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The consuming segment's size is measured every this many rows (it walks every column).
const SIZE_CHECK_ROWS: u32 = 1024;

/// Where a partition resumes: after its last published segment, else where it first began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    pub offset: Option<i64>,
    pub sequence: u32,
}

pub fn resume_point(manifest: &Manifest, partition: u32) -> Resume {
    let mut offset = None;
    let mut sequence = 0;
    for entry in &manifest.segments {
        if entry.bounds.partition != Some(partition) {
            continue;
        }
        if let Some(end) = entry.bounds.end_offset {
            offset = Some(offset.map_or(end, |o: i64| o.max(end)));
        }
        if let Some((_, s)) = parse_segment_name(&manifest.table, &entry.name) {
            sequence = sequence.max(s + 1);
        }
    }
    Resume { offset: offset.or_else(|| manifest.partition_starts.get(&partition).copied()), sequence }
}

pub struct PartitionConsumer {
    shared: Arc<Shared>,
    partition: u32,
    status: SharedStatus,
    /// Shared so a polled message (which borrows it) can be handled by `&mut self`.
    reader: Arc<PartitionReader>,
    definition_generation: u64,
    table: Table,
    decoder: MessageDecoder,
    conformer: Conformer,
    consuming: Arc<MutableSegment>,
    segment_start: i64,
    segment_started: Instant,
    segment_created_ms: i64,
    sequence: u32,
    next_offset: i64,
    dead_letters: DeadLetterWriter,
    seal_queue: SyncSender<SealJob>,
    force_commits_seen: u64,
    backoff: Duration,
    /// A replica's claim on the consuming segment: it is sealed exactly at its end offset.
    target: Option<SegmentClaim>,
    /// While the claimed range is consumed again into a segment readers do not see yet: the
    /// consuming segment they see (frozen), which the claimed one will replace.
    shown: Option<String>,
    last_claim_check: Instant,
    /// After a failed claim: when to try again, and the backoff that led there.
    claim_retry: Option<(Instant, Duration)>,
}

impl PartitionConsumer {
    /// Connects and finds the start offset, retrying until it can or the table stops.
    pub fn start(
        shared: Arc<Shared>,
        partition: u32,
        status: SharedStatus,
        seal_queue: SyncSender<SealJob>,
    ) -> Option<PartitionConsumer> {
        let client_id = format!("cuvee-{}-{partition}", shared.table_name);
        let (definition_generation, table) = shared.definition();
        let reader = PartitionReader::new(&shared.stream, &client_id, &shared.group, partition);
        let decoder = MessageDecoder::new(&shared.stream.decoder, &table.schema, shared.stream.populate_metadata);
        let conformer = Conformer::new(&table);
        let (reader, decoder, conformer) = match (reader, decoder, conformer) {
            (Ok(r), Ok(d), Ok(c)) => (r, d, c),
            (r, d, c) => {
                // Checked when the table was created; only a changed environment gets here.
                let reason = [r.err(), d.err(), c.err().map(|e| e.to_string())]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join("; ");
                status.lock().record_error(reason);
                status.lock().state = super::status::ConsumerState::Stopped;
                return None;
            }
        };
        let resume = shared.store().manifest().clone();
        let resume = resume_point(&resume, partition);
        let start = match resume.offset {
            Some(offset) => offset,
            None => initial_offset(&shared, partition, &reader, &status)?,
        };
        if let Err(e) = reader.assign(start) {
            status.lock().record_error(format!("assigning partition {partition} at offset {start}: {e}"));
        }
        let (consuming, segment_created_ms) = new_segment(&table, &shared.table_name, partition, resume.sequence);
        let consumer = PartitionConsumer {
            dead_letters: DeadLetterWriter::new(&shared.table_dir, partition),
            force_commits_seen: shared.force_commits.load(Ordering::Acquire),
            shared,
            partition,
            status,
            reader: Arc::new(reader),
            definition_generation,
            table,
            decoder,
            conformer,
            consuming,
            segment_start: start,
            segment_started: Instant::now(),
            segment_created_ms,
            sequence: resume.sequence,
            next_offset: start,
            seal_queue,
            backoff: Duration::from_millis(100),
            target: None,
            shown: None,
            last_claim_check: Instant::now(),
            claim_retry: None,
        };
        let mut consumer = consumer;
        consumer.begin_segment(start);
        Some(consumer)
    }

    /// Consumes until the table stops; returns the Kafka client, to be closed last (its
    /// close may block) after the sealer has finished.
    pub fn run(mut self) -> Arc<PartitionReader> {
        let mut committed = None;
        while !self.shared.stopped() {
            let published = self.status.lock().published_end_offset;
            if published > committed {
                if let Some(offset) = published {
                    self.reader.commit_advisory(offset);
                }
                committed = published;
            }
            // Honoured while paused too: pause, then force-commit, seals what was consumed.
            let requested = self.shared.force_commits.load(Ordering::Acquire);
            if requested != self.force_commits_seen {
                self.force_commits_seen = requested;
                if self.consuming.num_docs() > 0 {
                    self.seal();
                }
            }
            if self.shared.paused.load(Ordering::Acquire) {
                self.status.lock().state = ConsumerState::Paused;
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            let reader = Arc::clone(&self.reader);
            let outcome = match reader.poll(POLL) {
                None => None,
                Some(Ok(message)) => {
                    self.handle(&message);
                    Some(Ok(()))
                }
                Some(Err(e)) => Some(Err(e)),
            };
            match outcome {
                None | Some(Ok(())) => self.backoff = Duration::from_millis(100),
                Some(Err(e)) if is_offset_out_of_range(&e) => self.skip_gap(),
                Some(Err(e)) => self.retry_after(format!("consuming partition {}: {e}", self.partition)),
            }
            if self.flush_due() {
                self.seal();
            }
        }
        self.status.lock().state = ConsumerState::Stopped;
        self.reader
    }

    fn handle(&mut self, message: &BorrowedMessage<'_>) {
        let offset = message.offset();
        if offset < self.next_offset {
            return;
        }
        let timestamp_ms = message.timestamp().to_millis();
        let outcome = match message.payload() {
            None => Err("the message has no value (a tombstone)".to_string()),
            Some(payload) => {
                let metadata = MessageMetadata { key: message.key().map(<[u8]>::to_vec), offset, timestamp_ms };
                self.decoder.decode(payload, &metadata).and_then(|record| self.conformer.conform(record))
            }
        };
        let outcome = match outcome {
            Ok(Conformed::Row(row, _)) => self.consuming.append(&row).map(|()| true).map_err(|e| e.to_string()),
            Ok(Conformed::Filtered) => Ok(false),
            Err(reason) => Err(reason),
        };
        let now = now_ms();
        if let Err(reason) = &outcome {
            let letter = DeadLetter::new(
                self.partition,
                offset,
                reason.clone(),
                timestamp_ms,
                message.key(),
                message.payload().unwrap_or_default(),
            );
            if let Err(e) = self.dead_letters.record(&letter) {
                // Never skip a message we could not keep: read it again after a pause.
                let _ = self.reader.assign(offset);
                self.retry_after(format!(
                    "writing a dead letter of partition {} at offset {offset}: {e}",
                    self.partition
                ));
                return;
            }
        }
        if outcome == Ok(true) {
            self.consuming.note_ingestion(now);
        }
        self.next_offset = offset + 1;
        failpoint::hit("consume.after_append");
        let mut status = self.status.lock();
        status.state = ConsumerState::Consuming;
        status.current_offset = Some(self.next_offset);
        status.messages_consumed += 1;
        status.rows_in_consuming_segment = self.consuming.num_docs();
        status.last_event_time_ms = timestamp_ms.or(status.last_event_time_ms);
        match outcome {
            Ok(true) => {
                status.rows_indexed += 1;
                status.last_ingest_time_ms = Some(now);
            }
            Ok(false) => status.rows_filtered += 1,
            Err(_) => status.dead_letters += 1,
        }
    }

    fn flush_due(&mut self) -> bool {
        if let Some(target) = &self.target {
            // A replica's claim decides where this segment ends, not our thresholds.
            return self.next_offset >= target.end_offset;
        }
        if self.peer_claimed() {
            return true;
        }
        let flush = self.shared.stream.flush;
        let rows = self.consuming.num_docs();
        let elapsed = self.segment_started.elapsed().as_millis() as u64;
        let time_due = flush.time_ms.is_some_and(|t| elapsed >= t);
        if rows == 0 {
            if time_due {
                // Nothing to seal: start the clock again rather than build an empty segment.
                self.segment_started = Instant::now();
            }
            return false;
        }
        if time_due || flush.rows.is_some_and(|r| rows as u64 >= r) {
            return true;
        }
        let Some(limit) = flush.segment_bytes else { return false };
        if !rows.is_multiple_of(SIZE_CHECK_ROWS) {
            return false;
        }
        let bytes = self.consuming.memory_bytes();
        self.status.lock().consuming_segment_bytes = bytes;
        bytes as u64 >= limit
    }

    /// Hands the consuming segment to the sealer and starts the next one at the next offset.
    /// With a deep store the segment is claimed first, and a replica's earlier claim on it
    /// is followed instead (see [`super::claims`]).
    fn seal(&mut self) {
        if let Err(e) = self.dead_letters.sync() {
            self.status.lock().record_error(format!("syncing dead letters of partition {}: {e}", self.partition));
            return;
        }
        let mut identity = SegmentIdentity {
            name: self.consuming.name().to_string(),
            partition: Some(self.partition),
            start_offset: Some(self.segment_start),
            end_offset: Some(self.next_offset),
            creation_time_ms: self.segment_created_ms,
        };
        if let Some(claims) = &self.shared.claims {
            let ours = SegmentClaim {
                segment: identity.name.clone(),
                start_offset: self.segment_start,
                end_offset: self.next_offset,
                creation_time_ms: self.segment_created_ms,
                claimed_by: String::new(),
            };
            if self.claim_retry.is_some_and(|(at, _)| Instant::now() < at) {
                return;
            }
            let claim = match claims.claim(self.partition, self.sequence, &ours) {
                Ok(claim) => claim,
                // Consumption goes on (fresh rows stay queryable; the segment outgrows its
                // threshold) and the claim is tried again after a backoff.
                Err(e) => {
                    return self.claim_failed(format!(
                        "claiming segment {} of partition {} in the deep store: {e}",
                        self.sequence, self.partition
                    ))
                }
            };
            self.claim_retry = None;
            if !claim.same_offsets(&ours) {
                return self.follow(claim);
            }
            identity.name = claim.segment;
            identity.creation_time_ms = claim.creation_time_ms;
        }
        // A segment consumed again out of readers' sight replaces the one they see before
        // the next one starts, so they never see a range twice.
        let wait = self.shown.is_some();
        let replaces = self.shown.take().unwrap_or_else(|| self.consuming.name().to_string());
        let (done, published) = std::sync::mpsc::channel();
        let job = SealJob {
            work: SealWork::Build { segment: Arc::clone(&self.consuming), identity },
            replaces,
            done: wait.then_some(done),
        };
        if !self.hand_off(job) || (wait && published.recv().is_err()) {
            return;
        }
        self.next_segment(self.next_offset);
    }

    /// The segment after the one just handed off (or adopted) starts at `start`.
    fn next_segment(&mut self, start: i64) {
        self.target = None;
        self.refresh_definition();
        self.sequence += 1;
        self.segment_start = start;
        self.begin_segment(self.next_offset);
    }

    fn hand_off(&self, mut job: SealJob) -> bool {
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

    /// Starts consuming segment `self.sequence` at `self.segment_start` (the reader is at
    /// `reader_at`). A replica's claim on it is followed: its copy taken when published
    /// (again for the next sequence, so a replica that was away catches up from the deep
    /// store), else its range consumed under its name.
    fn begin_segment(&mut self, reader_at: i64) {
        let mut name = None;
        while let Some(claim) = self.existing_claim() {
            if claim.start_offset != self.segment_start {
                let problem = format!(
                    "partition {}: a replica's segment {} starts at offset {} where this server's segments end at {}; following the replica",
                    self.partition, claim.segment, claim.start_offset, self.segment_start
                );
                eprintln!("cuvee: WARNING table {}: {problem}", self.shared.table_name);
                self.status.lock().record_error(problem);
                self.segment_start = claim.start_offset;
            }
            let published = self.shared.claims.as_ref().map(|claims| claims.published_segment(&claim));
            let Some(Ok(Some(bytes))) = published else {
                name = Some((claim.segment.clone(), claim.creation_time_ms));
                self.target = Some(claim);
                break;
            };
            if !self.adopt(&claim, bytes, claim.segment.clone()) {
                return;
            }
            self.sequence += 1;
            self.segment_start = claim.end_offset;
        }
        if self.segment_start != reader_at {
            self.seek(self.segment_start);
        }
        self.next_offset = self.segment_start;
        (self.consuming, self.segment_created_ms) = match name {
            Some((name, created_ms)) => (Arc::new(MutableSegment::new(&self.table, &name)), created_ms),
            None => new_segment(&self.table, &self.shared.table_name, self.partition, self.sequence),
        };
        self.segment_started = Instant::now();
        self.announce_segment();
    }

    fn seek(&mut self, offset: i64) {
        self.next_offset = offset;
        if let Err(e) = self.reader.assign(offset) {
            self.retry_after(format!("assigning partition {} at offset {offset}: {e}", self.partition));
        }
    }

    /// Makes the consuming segment queryable and reports it.
    fn announce_segment(&mut self) {
        self.shared.host.add_consuming(Arc::clone(&self.consuming));
        let mut status = self.status.lock();
        status.consuming_segment = Some(self.consuming.name().to_string());
        status.segment_start_offset = Some(self.segment_start);
        status.current_offset = Some(self.next_offset);
        status.rows_in_consuming_segment = 0;
        status.consuming_segment_bytes = 0;
    }

    /// A new table definition (schema evolution, index changes) applies from the next
    /// consuming segment on, as in Pinot.
    fn refresh_definition(&mut self) {
        let (generation, table) = self.shared.definition();
        if generation == self.definition_generation {
            return;
        }
        let decoder =
            MessageDecoder::new(&self.shared.stream.decoder, &table.schema, self.shared.stream.populate_metadata);
        match (decoder, Conformer::new(&table)) {
            (Ok(decoder), Ok(conformer)) => {
                self.decoder = decoder;
                self.conformer = conformer;
                self.table = table;
                self.definition_generation = generation;
            }
            (d, c) => {
                let reason =
                    [d.err(), c.err().map(|e| e.to_string())].into_iter().flatten().collect::<Vec<_>>().join("; ");
                self.status.lock().record_error(format!("the new table definition cannot be applied: {reason}"));
            }
        }
    }

    /// The offset we need is gone (retention) or beyond the end (a recreated topic): the
    /// reset policy picks where to go on, and the gap is reported loudly.
    fn skip_gap(&mut self) {
        let (low, high) = match self.reader.watermarks(Duration::from_secs(5)) {
            Ok(w) => w,
            Err(e) => {
                return self.retry_after(format!(
                    "partition {} offset {} is out of range and its watermarks cannot be read: {e}",
                    self.partition, self.next_offset
                ))
            }
        };
        let target = match self.shared.stream.offset_reset {
            OffsetReset::Smallest => low,
            OffsetReset::Largest => high,
        };
        let skipped = (target - self.next_offset).max(0) as u64;
        let gap = format!(
            "partition {}: offset {} is not in Kafka (it has [{low}, {high})); continuing at {target} by auto.offset.reset={}, {skipped} message(s) skipped",
            self.partition,
            self.next_offset,
            match self.shared.stream.offset_reset {
                OffsetReset::Smallest => "smallest",
                OffsetReset::Largest => "largest",
            }
        );
        eprintln!("cuvee: WARNING table {}: {gap}", self.shared.table_name);
        {
            let mut status = self.status.lock();
            status.offset_gaps += 1;
            status.messages_skipped_by_gaps += skipped;
            status.last_gap = Some(gap);
        }
        // A backwards jump (a recreated topic) reuses offsets already published; the
        // policy is followed anyway, and the gap report above says so.
        self.next_offset = target;
        if let Err(e) = self.reader.assign(target) {
            self.retry_after(format!("assigning partition {} at offset {target}: {e}", self.partition));
        }
    }

    fn retry_after(&mut self, error: String) {
        eprintln!("cuvee: table {}: {error} (retrying in {:?})", self.shared.table_name, self.backoff);
        {
            let mut status = self.status.lock();
            status.state = ConsumerState::Retrying;
            status.record_error(error);
        }
        let until = Instant::now() + self.backoff;
        while Instant::now() < until && !self.shared.stopped() {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }
}

/// The next consuming segment of a partition, named as Pinot names it, and its creation time.
fn new_segment(table: &Table, table_name: &str, partition: u32, sequence: u32) -> (Arc<MutableSegment>, i64) {
    let created_ms = now_ms();
    let name = segment_name(table_name, partition, sequence, created_ms);
    (Arc::new(MutableSegment::new(table, &name)), created_ms)
}

/// Where a partition with no checkpoint starts, by `auto.offset.reset`; recorded in the
/// manifest before the first row is consumed so a restart starts at the same place.
fn initial_offset(shared: &Shared, partition: u32, reader: &PartitionReader, status: &SharedStatus) -> Option<i64> {
    let mut backoff = Duration::from_millis(100);
    loop {
        if shared.stopped() {
            return None;
        }
        match reader.watermarks(Duration::from_secs(5)) {
            Ok((low, high)) => {
                let offset = match shared.stream.offset_reset {
                    OffsetReset::Smallest => low,
                    OffsetReset::Largest => high,
                };
                // Replicas begin where the first of them did.
                let offset = match shared.claims.as_ref().map(|claims| claims.partition_start(partition, offset)) {
                    None => Ok(offset),
                    Some(agreed) => agreed,
                };
                let recorded = offset.and_then(|offset| {
                    shared.store().record_partition_start(partition, offset).map(|()| offset).map_err(|e| e.to_string())
                });
                match recorded {
                    Ok(offset) => return Some(offset),
                    Err(e) => status.lock().record_error(format!("recording where partition {partition} starts: {e}")),
                }
            }
            Err(e) => {
                let mut status = status.lock();
                status.state = ConsumerState::Retrying;
                status.record_error(format!("reading the offsets of partition {partition}: {e}"));
            }
        }
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
