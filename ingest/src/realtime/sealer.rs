//! The sealer of one partition: builds each handed-off consuming segment into an immutable
//! one (sorted, every index), writes it, publishes it with its offsets, and swaps it in for
//! the consuming segment in one step for readers. Segments of a partition are published in
//! order, so the last published end offset is always a safe place to resume.

use super::failpoint;
use super::status::{ConsumerState, SharedStatus};
use super::Shared;
use cuvee_segments::{ImmutableSegment, MutableSegment, SegmentIdentity};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Duration;

pub struct SealJob {
    pub segment: Arc<MutableSegment>,
    pub identity: SegmentIdentity,
}

pub fn run(shared: Arc<Shared>, status: SharedStatus, queue: Receiver<SealJob>) {
    while let Ok(job) = queue.recv() {
        let mut backoff = Duration::from_millis(200);
        loop {
            match seal_and_publish(&shared, &job) {
                Ok(()) => {
                    let mut status = status.lock();
                    status.segments_published += 1;
                    status.last_published_segment = Some(job.identity.name.clone());
                    status.published_end_offset = job.identity.end_offset;
                    break;
                }
                Err(e) => {
                    let error = format!("sealing segment {}: {e}", job.identity.name);
                    eprintln!("cuvee: table {}: {error} (retrying in {backoff:?})", shared.table_name);
                    status.lock().record_error(error);
                    if shared.stopped() {
                        return;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
    let mut status = status.lock();
    if status.state != ConsumerState::Stopped {
        status.state = ConsumerState::Stopped;
    }
}

fn seal_and_publish(shared: &Shared, job: &SealJob) -> Result<(), String> {
    let bytes = job.segment.seal(&job.identity).map_err(|e| e.to_string())?;
    failpoint::hit("seal.after_build");
    let pending = shared.store().write_segment(&bytes).map_err(|e| e.to_string())?;
    failpoint::hit("seal.before_commit");
    // Opened before publishing: a file that cannot be read back is never published.
    let path = shared.store().segment_path(&job.identity.name);
    let sealed = ImmutableSegment::open(&path).map_err(|e| e.to_string())?;
    shared.store().commit(pending).map_err(|e| e.to_string())?;
    failpoint::hit("seal.after_commit");
    shared.host.replace_consuming(&job.identity.name, Arc::new(sealed));
    Ok(())
}
