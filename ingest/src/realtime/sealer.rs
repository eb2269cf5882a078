//! The sealer of one partition: builds each handed-off consuming segment into an immutable
//! one (sorted, every index), writes it, publishes it with its offsets, and swaps it in for
//! the consuming segment in one step for readers. Segments of a partition are published in
//! order, so the last published end offset is always a safe place to resume. A segment a
//! replica published first (see [`super::claims`]) is taken as it is, through the same
//! queue, so the order holds for those too.

use super::failpoint;
use super::status::{ConsumerState, SharedStatus};
use super::Shared;
use crate::error::IngestError;
use cuvee_segments::{ImmutableSegment, MutableSegment, PendingSegment, SegmentIdentity};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

pub struct SealJob {
    pub work: SealWork,
    /// The consuming segment readers see now, which the published one replaces.
    pub replaces: String,
    /// Told when the segment is published (the consumer waits when what it does next
    /// depends on it).
    pub done: Option<Sender<()>>,
}

pub enum SealWork {
    /// Build this consuming segment under `identity` and publish it.
    Build { segment: Arc<MutableSegment>, identity: SegmentIdentity },
    /// Publish a replica's segment (its bytes from the deep store) as ours.
    Adopt { bytes: Vec<u8>, name: String, end_offset: Option<i64> },
    /// Nothing to publish: its `done` says every job before it is published (a restarting
    /// consumer waits for that before it reads the checkpoint).
    Barrier,
}

impl SealJob {
    fn name(&self) -> &str {
        match &self.work {
            SealWork::Build { identity, .. } => &identity.name,
            SealWork::Adopt { name, .. } => name,
            SealWork::Barrier => "(barrier)",
        }
    }

    fn end_offset(&self) -> Option<i64> {
        match &self.work {
            SealWork::Build { identity, .. } => identity.end_offset,
            SealWork::Adopt { end_offset, .. } => *end_offset,
            SealWork::Barrier => None,
        }
    }
}

pub fn run(shared: Arc<Shared>, status: SharedStatus, partition: u32, queue: Receiver<SealJob>) {
    tracing::info!(table = %shared.table_name, partition, "sealer started");
    while let Ok(job) = queue.recv() {
        if matches!(job.work, SealWork::Barrier) {
            if let Some(done) = &job.done {
                let _ = done.send(());
            }
            continue;
        }
        let mut backoff = Duration::from_millis(200);
        loop {
            let started = std::time::Instant::now();
            // A panic while building is this seal failing: reported and retried like an error.
            let sealed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                seal_and_publish(&shared, &status, partition, &job)
            }))
            .unwrap_or_else(|panic| {
                Err(IngestError::Stream(format!(
                    "building the segment panicked: {}",
                    cuvee_error::panic_message(panic.as_ref())
                )))
            });
            match sealed {
                Ok(()) => {
                    tracing::info!(table = %shared.table_name, partition, segment = %job.name(), end_offset = ?job.end_offset(), millis = started.elapsed().as_millis() as u64, adopted = matches!(job.work, SealWork::Adopt { .. }), "segment published");
                    {
                        let mut status = status.transitions();
                        status.segments_published += 1;
                        status.seal_micros_total += started.elapsed().as_micros() as u64;
                        status.last_published_segment = Some(job.name().to_string());
                        if matches!(job.work, SealWork::Adopt { .. }) {
                            status.segments_adopted += 1;
                        }
                    }
                    if let Some(end) = job.end_offset() {
                        status.counters().published_end_offset.store(end, std::sync::atomic::Ordering::Release);
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(table = %shared.table_name, partition, segment = %job.name(), error = %e, retry_in = ?backoff, "sealing failed");
                    status.record_error(format!("sealing segment {}: {e}", job.name()));
                    if shared.stopped() {
                        tracing::info!(table = %shared.table_name, partition, "sealer stopped");
                        return;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        if let Some(done) = &job.done {
            let _ = done.send(());
        }
    }
    status.set_state(ConsumerState::Stopped);
    tracing::info!(table = %shared.table_name, partition, "sealer stopped");
}

fn seal_and_publish(shared: &Shared, status: &SharedStatus, partition: u32, job: &SealJob) -> Result<(), IngestError> {
    let (pending, order) = write(shared, &job.work)?;
    if let SealWork::Build { .. } = &job.work {
        status.counters().note_seal(pending.entry().size_bytes, pending.entry().num_docs);
    }
    let keyed = shared.keyed(partition);
    if let (Some(keyed), SealWork::Build { segment, .. }) = (&keyed, &job.work) {
        // The key state as of this segment's end, durable before the segment is published.
        keyed.write_snapshot(segment.name(), &pending.entry().name, order.as_deref())?;
        failpoint::hit("seal.after_snapshot");
    }
    failpoint::hit("seal.before_commit");
    // Opened before publishing: a file that cannot be read back is never published.
    let path = shared.store().segment_path(&pending.entry().name)?;
    let sealed = Arc::new(ImmutableSegment::open(&path)?);
    shared.store().commit(pending)?;
    failpoint::hit("seal.after_commit");
    let swap_in = || shared.host.replace_consuming(&job.replaces, Arc::clone(&sealed));
    match (&keyed, &job.work) {
        (Some(keyed), SealWork::Build { segment, .. }) => {
            keyed.published(segment.name(), &sealed, order.as_deref(), swap_in)
        }
        (Some(keyed), SealWork::Adopt { .. }) => {
            // A replica's segment replaces whatever this server consumed of its range: the
            // key state is rebuilt with it (its rows replayed in their stored order).
            let (mut published, consuming) = keyed.segments_except(&job.replaces);
            published.push(Arc::clone(&sealed));
            keyed.rebuild(&published, &consuming);
            swap_in();
        }
        _ => swap_in(),
    }
    Ok(())
}

/// The segment written (not yet published), and the order its docs were written in.
fn write(shared: &Shared, work: &SealWork) -> cuvee_segments::Result<(PendingSegment, Option<Vec<u32>>)> {
    match work {
        SealWork::Build { segment, identity } => {
            let (bytes, order) = segment.seal_ordered(identity)?;
            failpoint::hit("seal.after_build");
            if shared.claims.is_some() {
                // Replicas may publish this segment too: the deep store's first copy wins.
                return Ok((shared.store().write_segment_first_wins(bytes)?, order));
            }
            Ok((shared.store().write_segment(&bytes)?, order))
        }
        SealWork::Adopt { bytes, .. } => Ok((shared.store().write_adopted_segment(bytes)?, None)),
        SealWork::Barrier => Err(cuvee_segments::SegmentError::InvalidRequest("a barrier is not a segment".into())),
    }
}
