//! One partition's consumer, as an explicit state machine.
//!
//! ```text
//!            ┌────────── start found ──────────┐
//!  Starting ─┤                                 ▼
//!   (retry)  └─ Kafka/deep store fails ─▶ Starting      Consuming ◀──── resume ──── Paused
//!                                                  │  ▲     │   ────── pause ──────▶  │
//!                                  error (Kafka,   │  │     │                          │
//!                                  dead letters)   ▼  │ backoff over      force commit seals in
//!                                               Retrying                 every state but Starting
//!                         any state ── stop ──▶ Stopped
//! ```
//!
//! Events come in one at a time ([`Event`]: a message, an idle poll, a Kafka error, an
//! offset gap, an operator's pause, resume or force commit, a tick of the clock, stop);
//! [`PartitionConsumer::on`] is the one place transitions happen. Rows go into the open
//! segment ([`segment`]) until its goal is reached — this server's flush thresholds, or a
//! replica's claimed end offset ([`following`]) — then it is handed to the sealer and the
//! next one opens at once (consumption never waits for a build, only for a full hand-off
//! queue: that is the backpressure). A force commit seals the rows consumed before it was
//! asked for: one that arrives while a poll waits is taken before the message the poll
//! returns, and one that finds the segment empty is dropped, not kept for the next row.
//!
//! Status counters are atomics written per message; the state, segment and errors change
//! only on transitions ([`super::status`]).

mod following;
mod segment;

use super::dead_letter::{DeadLetter, DeadLetterWriter};
use super::failpoint;
use super::kafka::{is_offset_out_of_range, PartitionReader};
use super::keyed::{Appended, Keyed};
use super::sealer::SealJob;
use super::status::{ConsumerState, Counters, SharedStatus};
use super::Shared;
use crate::conform::{Conformed, Conformer, Rejected};
use crate::error::IngestError;
use crate::message::{MessageDecoder, MessageMetadata};
use crate::now_ms;
use cuvee_catalog::{OffsetReset, Table};
use cuvee_segments::naming::parse_segment_name;
use cuvee_segments::Manifest;
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use segment::OpenSegment;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one poll waits for a message.
const POLL: Duration = Duration::from_millis(100);
/// How long a paused or retrying consumer sleeps between looks at its flags.
const NAP: Duration = Duration::from_millis(20);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

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

/// What the consumer is doing.
#[derive(Debug, Clone, PartialEq)]
enum State {
    /// Finding where to start: the partition's checkpoint, else its `auto.offset.reset`
    /// position (recorded before the first row); tried again at `retry_at`.
    Starting {
        retry_at: Instant,
        backoff: Duration,
    },
    Consuming,
    /// An operator paused consumption; a force commit still seals what was consumed.
    Paused,
    /// Something failed; consumption resumes at `until`.
    Retrying {
        until: Instant,
    },
    Stopped,
}

impl State {
    fn reported(&self) -> ConsumerState {
        match self {
            State::Starting { .. } => ConsumerState::Starting,
            State::Consuming => ConsumerState::Consuming,
            State::Paused => ConsumerState::Paused,
            State::Retrying { .. } => ConsumerState::Retrying,
            State::Stopped => ConsumerState::Stopped,
        }
    }
}

/// What became of one message's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Consumed {
    Indexed,
    /// Stored, but older than its key's latest row (upsert): hidden from queries.
    OutOfOrder,
    /// Not stored: a duplicate key (dedup) or an out-of-order row told to be dropped.
    Dropped,
    /// The table's filter function dropped it.
    Filtered,
}

/// What happened.
enum Event<'m> {
    Stop,
    Pause,
    Resume,
    ForceCommit,
    Message(BorrowedMessage<'m>),
    /// A poll found nothing new.
    Idle,
    /// The offset asked for is not in Kafka (retention, a recreated topic).
    OffsetGap,
    KafkaError(KafkaError),
    /// Time passed (a retry's wait, a time threshold, a claim check).
    Tick,
}

pub struct PartitionConsumer {
    shared: Arc<Shared>,
    partition: u32,
    state: State,
    status: SharedStatus,
    /// Shared so a polled message (which borrows it) can be handled by `&mut self`.
    reader: Arc<PartitionReader>,
    decoding: Decoding,
    /// The segment rows go into; `None` only while starting.
    open: Option<OpenSegment>,
    /// The next offset to consume.
    next_offset: i64,
    dead_letters: DeadLetterWriter,
    seal_queue: SyncSender<SealJob>,
    force_commits_seen: u64,
    /// The wait before the next retry after a failure; reset by a good poll.
    backoff: Duration,
    /// The last published end offset told to the group (advisory commits).
    committed: Option<i64>,
    /// Replica bookkeeping: when a peer's claim was last looked for, and a failed claim's retry.
    claims: following::ClaimTimer,
    /// Upsert or dedup: the partition's key state (rows go in through it).
    keyed: Option<Arc<Keyed>>,
}

/// The table definition the open segment is built with, and its decoders.
struct Decoding {
    generation: u64,
    table: Table,
    decoder: MessageDecoder,
    conformer: Conformer,
}

impl Decoding {
    fn new(shared: &Shared, generation: u64, table: Table) -> Result<Decoding, IngestError> {
        let decoder = MessageDecoder::new(&shared.stream.decoder, &table.schema, shared.stream.populate_metadata)?;
        let conformer = Conformer::new(&table)?;
        Ok(Decoding { generation, table, decoder, conformer })
    }
}

impl PartitionConsumer {
    /// A consumer of `partition`, or `None` (reported in the status) when its Kafka client
    /// or decoders cannot be made — checked when the table was created, so only a changed
    /// environment gets there.
    pub fn new(
        shared: Arc<Shared>,
        partition: u32,
        status: SharedStatus,
        reader: Arc<PartitionReader>,
        seal_queue: SyncSender<SealJob>,
    ) -> Option<PartitionConsumer> {
        let (generation, table) = shared.definition();
        let decoding = match Decoding::new(&shared, generation, table) {
            Ok(made) => made,
            Err(e) => {
                tracing::error!(table = %shared.table_name, partition, error = %e, "the consumer cannot start");
                status.record_error(e.to_string());
                status.set_state(ConsumerState::Stopped);
                return None;
            }
        };
        Some(PartitionConsumer {
            dead_letters: DeadLetterWriter::new(&shared.table_dir, partition, shared.dead_letter_bytes),
            keyed: shared.keyed(partition),
            force_commits_seen: shared.force_commits.load(Ordering::Acquire),
            shared,
            partition,
            state: State::Starting { retry_at: Instant::now(), backoff: FIRST_BACKOFF },
            status,
            reader,
            decoding,
            open: None,
            next_offset: 0,
            seal_queue,
            backoff: FIRST_BACKOFF,
            committed: None,
            claims: following::ClaimTimer::default(),
        })
    }

    /// Consumes until the table stops (its Kafka client belongs to the partition's thread,
    /// which closes it last, after the sealer has finished).
    pub fn run(mut self) {
        tracing::info!(table = %self.shared.table_name, partition = self.partition, "consumer started");
        let reader = Arc::clone(&self.reader);
        while self.state != State::Stopped {
            self.commit_published();
            let event = self.next_event(&reader);
            self.on(event);
        }
        tracing::info!(table = %self.shared.table_name, partition = self.partition, offset = self.next_offset, "consumer stopped");
    }

    /// The next thing that happened: an operator's request first, else what the state
    /// waits for (a poll of Kafka while consuming, the clock otherwise).
    fn next_event<'m>(&mut self, reader: &'m PartitionReader) -> Event<'m> {
        if self.shared.stopped() {
            return Event::Stop;
        }
        if self.take_force_commit() {
            return Event::ForceCommit;
        }
        let paused = self.shared.paused.load(Ordering::Acquire);
        match &self.state {
            State::Consuming if paused => Event::Pause,
            State::Paused if !paused => Event::Resume,
            State::Paused => {
                std::thread::sleep(NAP);
                Event::Tick
            }
            State::Starting { retry_at, .. } | State::Retrying { until: retry_at } => {
                let wait = retry_at.saturating_duration_since(Instant::now());
                std::thread::sleep(wait.min(NAP));
                Event::Tick
            }
            State::Consuming => match reader.poll(POLL) {
                None => Event::Idle,
                Some(Ok(message)) => Event::Message(message),
                Some(Err(e)) if is_offset_out_of_range(&e) => Event::OffsetGap,
                Some(Err(e)) => Event::KafkaError(e),
            },
            State::Stopped => Event::Stop,
        }
    }

    /// Every transition, in one place.
    fn on(&mut self, event: Event<'_>) {
        match (&self.state, event) {
            (_, Event::Stop) => self.enter(State::Stopped),
            (State::Starting { retry_at, backoff }, Event::Tick) if Instant::now() >= *retry_at => {
                let backoff = *backoff;
                self.start(backoff);
            }
            // Nothing is consumed yet: a request waits for the start.
            (State::Starting { .. }, _) => {}
            // Honoured while paused or retrying too: pause, then force-commit, seals what
            // was consumed.
            (_, Event::ForceCommit) if self.open.as_ref().is_some_and(|open| open.rows() > 0) => {
                self.seal();
            }
            (State::Consuming, Event::Pause) => self.enter(State::Paused),
            (State::Paused, Event::Resume) => self.enter(State::Consuming),
            (State::Retrying { until }, Event::Tick) if Instant::now() >= *until => {
                self.enter(State::Consuming);
            }
            (State::Consuming, Event::Message(message)) => {
                self.backoff = FIRST_BACKOFF;
                if self.sealed_for_force_commit_before(&message) {
                    self.consume(&message);
                }
            }
            (State::Consuming, Event::Idle) => self.backoff = FIRST_BACKOFF,
            (State::Consuming, Event::OffsetGap) => self.skip_gap(),
            (State::Consuming, Event::KafkaError(e)) => {
                self.retry(format!("consuming partition {}: {e}", self.partition));
            }
            // Paused or retrying: the clock, and requests that do not apply.
            _ => {}
        }
        if self.state == State::Consuming && self.flush_due() {
            self.seal();
        }
    }

    /// Whether an operator asked for a force commit since we last looked.
    fn take_force_commit(&mut self) -> bool {
        let requested = self.shared.force_commits.load(Ordering::Acquire);
        let new = requested != self.force_commits_seen;
        self.force_commits_seen = requested;
        new
    }

    /// A force commit requested while the poll waited seals what was consumed before it,
    /// not the message that ended the wait (which came after the request): without this,
    /// a request on an empty segment sealed the first row to arrive. False when the seal
    /// moved the reader (a replica's claim was followed), so the message is stale.
    fn sealed_for_force_commit_before(&mut self, message: &BorrowedMessage<'_>) -> bool {
        if !self.take_force_commit() || self.open.as_ref().is_none_or(|open| open.rows() == 0) {
            return true;
        }
        let at = self.next_offset;
        self.seal();
        tracing::debug!(table = %self.shared.table_name, partition = self.partition, offset = message.offset(), "force commit sealed before the message that followed it");
        self.state == State::Consuming && self.next_offset == at
    }

    fn enter(&mut self, state: State) {
        if self.state == state {
            return;
        }
        tracing::debug!(table = %self.shared.table_name, partition = self.partition, from = ?self.state.reported(), to = ?state.reported(), "consumer state");
        self.status.set_state(state.reported());
        self.state = state;
    }

    /// Tells the group (advisory) how far the partition is published.
    fn commit_published(&mut self) {
        let published = self.status.counters().published_end_offset();
        if published > self.committed {
            if let Some(offset) = published {
                self.reader.commit_advisory(offset);
            }
            self.committed = published;
        }
    }

    /// Starting: the checkpoint, else the reset policy's offset (agreed with replicas and
    /// recorded before the first row); then the first segment opens.
    fn start(&mut self, backoff: Duration) {
        let manifest = self.shared.store().manifest().clone();
        let resume = resume_point(&manifest, self.partition);
        // A size threshold goes on judging by the partition's last published segment.
        let last = manifest.segments.iter().filter(|e| e.bounds.partition == Some(self.partition));
        if let Some(last) = last.max_by_key(|e| e.bounds.end_offset) {
            self.status.counters().note_seal(last.size_bytes, last.num_docs);
        }
        let start = match resume.offset {
            Some(offset) => Ok(offset),
            None => self.initial_offset(),
        };
        let start = match start {
            Ok(start) => start,
            Err(e) => {
                let error = format!("finding where partition {} starts: {e}", self.partition);
                tracing::warn!(table = %self.shared.table_name, partition = self.partition, error = %e, retry_in = ?backoff, "cannot find where to start");
                self.status.record_error(error);
                let next = (backoff * 2).min(MAX_BACKOFF);
                self.state = State::Starting { retry_at: Instant::now() + backoff, backoff: next };
                return;
            }
        };
        if let Err(e) = self.reader.assign(start) {
            self.status.record_error(format!("assigning partition {} at offset {start}: {e}", self.partition));
        }
        // The key state as of the checkpoint (a restarted consumer's rows past it are gone).
        if let Some(keyed) = self.keyed.as_ref().filter(|k| !k.is_fresh()) {
            keyed.rebuild(&self.shared.sealed_of(self.partition), &[]);
        }
        tracing::info!(table = %self.shared.table_name, partition = self.partition, offset = start, sequence = resume.sequence, "consumption starts");
        self.enter(State::Consuming);
        self.begin_segment(resume.sequence, start, start);
    }

    /// Where a partition with no checkpoint starts, by `auto.offset.reset`; recorded in the
    /// manifest before the first row is consumed so a restart starts at the same place.
    fn initial_offset(&self) -> Result<i64, IngestError> {
        let (low, high) = self.reader.watermarks(Duration::from_secs(5)).map_err(|source| IngestError::Kafka {
            context: format!("reading the offsets of partition {}", self.partition),
            source,
        })?;
        let offset = match self.shared.stream.offset_reset {
            OffsetReset::Smallest => low,
            OffsetReset::Largest => high,
        };
        // Replicas begin where the first of them did.
        let offset = match &self.shared.claims {
            Some(claims) => claims.partition_start(self.partition, offset)?,
            None => offset,
        };
        self.shared.store().record_partition_start(self.partition, offset)?;
        Ok(offset)
    }

    /// One message into the open segment, or into the dead letters.
    fn consume(&mut self, message: &BorrowedMessage<'_>) {
        let offset = message.offset();
        if offset < self.next_offset {
            return;
        }
        let Some(segment) = self.open.as_ref().map(|open| Arc::clone(&open.segment)) else { return };
        let timestamp_ms = message.timestamp().to_millis();
        let outcome = match message.payload() {
            None => Err(Rejected::Undecodable("the message has no value (a tombstone)".to_string())),
            Some(payload) => {
                let metadata = MessageMetadata { key: message.key().map(<[u8]>::to_vec), offset, timestamp_ms };
                let decoding = &self.decoding;
                // A message whose decoding panics is that message's fault: a dead letter,
                // not the end of the partition.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    decoding.decoder.decode_row(payload, &metadata, &decoding.conformer)
                }))
                .unwrap_or_else(|panic| {
                    Err(Rejected::Undecodable(format!(
                        "processing the message panicked: {}",
                        cuvee_error::panic_message(panic.as_ref())
                    )))
                })
            }
        };
        let outcome = match outcome {
            Ok(Conformed::Row(row, _)) => match &self.keyed {
                None => segment.append(&row).map(|_| Consumed::Indexed).map_err(|e| Rejected::Row(e.to_string())),
                Some(keyed) => match keyed.append(&segment, row) {
                    Ok(Appended::Stored) => Ok(Consumed::Indexed),
                    Ok(Appended::OutOfOrder) => Ok(Consumed::OutOfOrder),
                    Ok(Appended::Dropped) => Ok(Consumed::Dropped),
                    Err(reason) => Err(Rejected::Row(reason)),
                },
            },
            Ok(Conformed::Filtered) => Ok(Consumed::Filtered),
            Err(reason) => Err(reason),
        };
        let now = now_ms();
        if let Err(reason) = &outcome {
            let payload = message.payload().unwrap_or_default();
            let letter =
                DeadLetter::new(self.partition, offset, reason.to_string(), timestamp_ms, message.key(), payload);
            match self.dead_letters.record(&letter) {
                Ok(0) => {}
                Ok(dropped) => {
                    let counters = self.status.counters();
                    counters.dead_letters_dropped.fetch_add(dropped, Ordering::Relaxed);
                    tracing::warn!(
                        partition = self.partition,
                        dropped,
                        "dead letters over their disk limit: the oldest were dropped"
                    );
                }
                Err(e) => {
                    // Never skip a message we could not keep: read it again after a pause.
                    self.seek(offset);
                    return self.retry(format!(
                        "writing a dead letter of partition {} at offset {offset}: {e}",
                        self.partition
                    ));
                }
            }
        }
        if matches!(outcome, Ok(Consumed::Indexed | Consumed::OutOfOrder)) {
            segment.note_ingestion(now);
        }
        self.next_offset = offset + 1;
        failpoint::hit("consume.after_append");
        let counters = self.status.counters();
        counters.set_offset(self.next_offset);
        Counters::count(&counters.messages_consumed);
        counters.rows_in_consuming_segment.store(segment.num_docs(), Ordering::Relaxed);
        Counters::set_time(&counters.last_event_time_ms, timestamp_ms);
        match outcome {
            Ok(Consumed::Indexed) => {
                Counters::count(&counters.rows_indexed);
                Counters::set_time(&counters.last_ingest_time_ms, Some(now));
            }
            Ok(Consumed::OutOfOrder) => {
                Counters::count(&counters.rows_indexed);
                Counters::count(&counters.rows_out_of_order);
                Counters::set_time(&counters.last_ingest_time_ms, Some(now));
            }
            Ok(Consumed::Dropped) => Counters::count(&counters.rows_dropped_by_key),
            Ok(Consumed::Filtered) => Counters::count(&counters.rows_filtered),
            Err(_) => Counters::count(&counters.dead_letters),
        }
    }

    /// Reads from `offset` on; a refusal is retried.
    fn seek(&mut self, offset: i64) {
        self.next_offset = offset;
        if let Err(e) = self.reader.assign(offset) {
            self.retry(format!("assigning partition {} at offset {offset}: {e}", self.partition));
        }
    }

    /// The offset we need is gone (retention) or beyond the end (a recreated topic): the
    /// reset policy picks where to go on, and the gap is reported loudly.
    fn skip_gap(&mut self) {
        let (low, high) = match self.reader.watermarks(Duration::from_secs(5)) {
            Ok(w) => w,
            Err(e) => {
                return self.retry(format!(
                    "partition {} offset {} is out of range and its watermarks cannot be read: {e}",
                    self.partition, self.next_offset
                ))
            }
        };
        let (target, policy) = match self.shared.stream.offset_reset {
            OffsetReset::Smallest => (low, "smallest"),
            OffsetReset::Largest => (high, "largest"),
        };
        let skipped = (target - self.next_offset).max(0) as u64;
        let gap = format!(
            "partition {}: offset {} is not in Kafka (it has [{low}, {high})); continuing at {target} by auto.offset.reset={policy}, {skipped} message(s) skipped",
            self.partition, self.next_offset
        );
        tracing::warn!(table = %self.shared.table_name, partition = self.partition, offset = self.next_offset, low, high, target, skipped, "offset gap");
        {
            let mut status = self.status.transitions();
            status.offset_gaps += 1;
            status.messages_skipped_by_gaps += skipped;
            status.last_gap = Some(gap);
        }
        // A backwards jump (a recreated topic) reuses offsets already published; the
        // policy is followed anyway, and the gap report above says so.
        self.seek(target);
    }

    /// A failure: reported, and consumption resumes after the backoff (which grows until a
    /// poll succeeds).
    fn retry(&mut self, error: String) {
        tracing::warn!(table = %self.shared.table_name, partition = self.partition, error = %error, retry_in = ?self.backoff, "consumer retrying");
        self.status.record_error(error);
        let until = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        self.enter(State::Retrying { until });
    }
}
