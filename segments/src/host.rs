//! The segment lifecycle as readers see it: a consuming segment begins, is sealed, or is
//! dropped. Ingestion drives it; the query side's table implements it (so neither knows the
//! other).

use crate::{ImmutableSegment, MutableSegment};
use std::sync::Arc;

/// Where ingestion puts segments for readers.
pub trait SegmentHost: Send + Sync {
    /// A consuming segment begins; it is queryable from now on.
    fn add_consuming(&self, segment: Arc<MutableSegment>);
    /// The consuming segment `name` was sealed and published as `sealed`: readers see one
    /// or the other, never both or neither.
    fn replace_consuming(&self, name: &str, sealed: Arc<ImmutableSegment>);
    /// Consuming segments of this table are dropped (the table stops).
    fn remove_consuming(&self, name: &str);
    /// The sealed segments readers see now (upsert rebuilds its key map from these, so the
    /// valid docs it attaches are those of the very segments queries read).
    fn sealed_segments(&self) -> Vec<Arc<ImmutableSegment>>;
}
