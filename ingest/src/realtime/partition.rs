//! One partition's threads: its consumer and its sealer, supervised. A consumer that panics
//! is not the end of the partition: it is marked `ERROR` with the panic's message (in
//! `consumingSegmentsInfo`), its consuming segment is taken from readers, and after a
//! backoff a new consumer starts from the published checkpoint — exactly once still holds,
//! since nothing past the checkpoint was published. A message whose decoding panics is a
//! dead letter (the consumer catches that itself); a sealer that panics retries the seal.

use super::consumer::PartitionConsumer;
use super::kafka::PartitionReader;
use super::sealer::{self, SealJob, SealWork};
use super::status::{ConsumerState, SharedStatus};
use super::table::Partition;
use super::Shared;
use crate::error::IngestError;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

const FIRST_RESTART: Duration = Duration::from_millis(200);
const MAX_RESTART: Duration = Duration::from_secs(30);

/// Starts a partition's consumer and sealer threads.
pub(super) fn start(shared: &Arc<Shared>, partition: u32) -> Result<Partition, IngestError> {
    let status = SharedStatus::new(partition);
    let (finished, done) = std::sync::mpsc::channel();
    let shared = Arc::clone(shared);
    let thread_status = status.clone();
    std::thread::Builder::new()
        .name(format!("cuvee-consume-{}-{partition}", shared.table_name))
        .spawn(move || {
            let reader = supervise(&shared, partition, &thread_status);
            let _ = finished.send(());
            // Closed last: librdkafka's close may block, and nothing waits for it now.
            drop(reader);
        })
        .map_err(IngestError::Thread)?;
    Ok(Partition { status, done })
}

/// Runs the partition until the table stops; returns its Kafka client.
fn supervise(shared: &Arc<Shared>, partition: u32, status: &SharedStatus) -> Option<Arc<PartitionReader>> {
    let client_id = format!("cuvee-{}-{partition}", shared.table_name);
    let reader = match PartitionReader::new(&shared.stream, &client_id, &shared.group, partition) {
        Ok(reader) => Arc::new(reader),
        Err(e) => {
            tracing::error!(table = %shared.table_name, partition, error = %e, "the consumer cannot start");
            status.record_error(e.to_string());
            status.set_state(ConsumerState::Stopped);
            return None;
        }
    };
    let (queue, jobs) = std::sync::mpsc::sync_channel(1);
    let sealer = {
        let shared = Arc::clone(shared);
        let status = status.clone();
        std::thread::Builder::new()
            .name(format!("cuvee-seal-{}-{partition}", shared.table_name))
            .spawn(move || sealer::run(shared, status, partition, jobs))
    };
    let sealer = match sealer {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(table = %shared.table_name, partition, error = %e, "cannot start the sealer thread");
            status.record_error(format!("cannot start the sealer thread: {e}"));
            return Some(reader);
        }
    };
    let mut restart = FIRST_RESTART;
    while !shared.stopped() {
        let Some(consumer) =
            PartitionConsumer::new(Arc::clone(shared), partition, status.clone(), Arc::clone(&reader), queue.clone())
        else {
            break;
        };
        match catch_unwind(AssertUnwindSafe(|| consumer.run())) {
            Ok(()) => break,
            Err(panic) => {
                let message = cuvee_error::panic_message(panic.as_ref());
                tracing::error!(table = %shared.table_name, partition, panic = %message, restart_in = ?restart, "the consumer panicked; it restarts from the published checkpoint");
                // Readers stop seeing what the failed consumer held; the new one consumes
                // it again from the checkpoint.
                if let Some(name) = status.consuming_segment() {
                    shared.host.remove_consuming(&name);
                }
                {
                    let mut transitions = status.transitions();
                    transitions.record_error(format!("the consumer panicked: {message}"));
                    transitions.state = ConsumerState::Error;
                    transitions.consuming_segment = None;
                }
                // Segments the failed consumer handed off are published before the new one
                // reads the checkpoint, or it would consume their ranges again.
                let (published, all_published) = std::sync::mpsc::channel();
                let barrier = SealJob { work: SealWork::Barrier, replaces: String::new(), done: Some(published) };
                if queue.send(barrier).is_ok() {
                    let _ = all_published.recv();
                }
                let until = std::time::Instant::now() + restart;
                while std::time::Instant::now() < until && !shared.stopped() {
                    std::thread::sleep(Duration::from_millis(20));
                }
                restart = (restart * 2).min(MAX_RESTART);
            }
        }
    }
    // The sealer ends when the last sender goes: the consumer's went with it.
    drop(queue);
    let _ = sealer.join();
    Some(reader)
}
