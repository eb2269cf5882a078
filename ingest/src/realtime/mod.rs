//! Realtime ingestion: a table's Kafka topic → consuming segments (queryable at once) →
//! sealed segments published together with their offsets.
//!
//! ```text
//! discovery thread ── every partition of the topic (new ones too) ──▶ one consumer thread each
//! consumer thread  ── poll (librdkafka's own I/O threads behind it) → decode → transforms
//!                     and filter → MutableSegment::append ── threshold ──▶ hand-off queue (1)
//! sealer thread    ── build (sort, indexes) → write + fsync → manifest entry with
//!                     [startOffset, endOffset) (the publish point) → swap in for readers
//! ```
//!
//! With a deep store, every segment is claimed there before it is built ([`claims`]), so
//! replicas consuming the same partition publish the same segments.
//!
//! Exactly once: the manifest is the only checkpoint. A partition resumes at the largest
//! end offset published for it (segments of a partition are published in order), or where
//! it first began (`partitionStarts`, recorded before its first row). Everything consumed
//! after that point is consumed again after a crash, and nothing before it is. Kafka group
//! offsets are not used.
//!
//! What readers see goes through a [`SegmentHost`] (the query side's table): a new
//! consuming segment is added when it starts; a sealed one replaces its consuming segment
//! in one step, so no row is seen twice or missed while a segment is built.

pub mod claims;
mod consumer;
pub mod dead_letter;
pub mod failpoint;
pub mod kafka;
pub mod keyed;
mod partition;
mod sealer;
pub mod status;
mod table;
pub mod topics;

pub use consumer::{resume_point, Resume};
pub use dead_letter::DeadLetter;
pub use status::SharedStatus;
pub use status::{ConsumerState, PartitionStatus};
pub use table::{
    stream_config, validate, IngestionStatus, PartitionReport, PartitionShare, RealtimeIngestion, RealtimeOptions,
    SecretSource,
};

use cuvee_catalog::{StreamConfig, Table};
use cuvee_segments::{SegmentHost, TableStore};
use parking_lot::{Mutex, MutexGuard, RwLock};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// A table's store, shared by its partitions' sealers and the admin API.
pub type SharedStore = Arc<Mutex<TableStore>>;

/// What every thread of one table's ingestion shares.
pub(crate) struct Shared {
    table_name: String,
    stream: StreamConfig,
    /// The Kafka group advisory commits go to (never joined).
    group: String,
    /// (generation, definition): the definition new consuming segments are made with.
    definition: RwLock<(u64, Table)>,
    store: SharedStore,
    table_dir: PathBuf,
    host: Arc<dyn SegmentHost>,
    /// With a deep store: replicas of a partition agree on its segments there.
    claims: Option<claims::Claims>,
    stop: AtomicBool,
    paused: AtomicBool,
    force_commits: AtomicU64,
    /// Disk one partition's dead letters may take.
    dead_letter_bytes: u64,
    /// Upsert or dedup: each partition's key state, shared by its consumer and sealer.
    keyed: Mutex<std::collections::BTreeMap<u32, Arc<keyed::Keyed>>>,
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    fn store(&self) -> MutexGuard<'_, TableStore> {
        self.store.lock()
    }

    fn definition(&self) -> (u64, Table) {
        let guard = self.definition.read();
        (guard.0, guard.1.clone())
    }

    /// The key state of `partition` (made on first use), or `None` when the table
    /// appends every row.
    fn keyed(&self, partition: u32) -> Option<Arc<keyed::Keyed>> {
        let mut all = self.keyed.lock();
        if let Some(found) = all.get(&partition) {
            return Some(Arc::clone(found));
        }
        let table = self.definition.read().1.clone();
        let made = Arc::new(keyed::Keyed::new(&table, partition, &self.table_dir)?);
        all.insert(partition, Arc::clone(&made));
        Some(made)
    }

    /// The sealed segments of `partition` readers see, oldest first.
    fn sealed_of(&self, partition: u32) -> Vec<Arc<cuvee_segments::ImmutableSegment>> {
        let mut segments: Vec<_> = self
            .host
            .sealed_segments()
            .into_iter()
            .filter(|s| s.metadata().bounds.partition == Some(partition))
            .collect();
        segments.sort_by_key(|s| {
            let sequence = cuvee_segments::naming::parse_segment_name(&self.table_name, s.name()).map(|(_, q)| q);
            (s.metadata().bounds.start_offset, sequence)
        });
        segments
    }
}
