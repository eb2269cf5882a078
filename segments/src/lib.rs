//! # cuvee-segments
//!
//! Answers: *which rows match, and what are their values?* — for one segment at a time.
//! A segment holds the rows of one table for one time/partition range, column by column,
//! with dictionaries, bit-packed forward indexes and the indexes the table config asks for
//! (inverted, sorted, range, bloom, null, H3). It evaluates a small predicate IR to roaring
//! bitmaps of doc ids and decodes selected docs of selected columns to Arrow.
//!
//! Two kinds, one contract:
//! - [`ImmutableSegment`]: one file, memory-mapped, checksummed, specified byte by byte in
//!   [`format`].
//! - [`MutableSegment`]: the consuming segment that ingestion appends to; readers query a
//!   consistent prefix of it while it grows; sealing builds an immutable segment identical
//!   to one built in batch from the same rows.
//!
//! Does not answer: SQL (that is `cuvee-query`, and this crate never imports DataFusion),
//! where segments live in a cluster, or how rows are decoded from files and streams
//! (`cuvee-ingest`).

pub mod absent;
pub mod ascending;
pub mod bitmap_index;
pub mod bitpack;
pub mod bloom;
pub mod builder;
pub mod coded_strings;
pub mod decode;
pub mod delta_postings;
pub mod dictionary;
pub mod error;
pub mod eval;
pub mod format;
pub mod forward;
pub mod geo_filter;
pub mod group;
pub mod h3_index;
pub mod hex_strings;
mod host;
pub mod immutable;
mod immutable_eval;
pub mod mirror;
pub mod mutable;
pub mod naming;
pub mod null_docs;
mod packed_blocks;
mod parallel;
pub mod physical;
pub mod predicate;
pub mod row;
pub mod steps;
pub mod store;
mod symbol_table;
pub mod valid_docs;

pub use absent::{absent_column, resolve_absent};
pub use builder::{ColumnAppender, SegmentBuilder, SegmentIdentity};
pub use decode::{arrow_type, DecodeOptions};
pub use error::{Result, SegmentError};
pub use eval::{Access, EvalOptions, Evaluation, IndexUse};
pub use format::{ColumnMetadata, SegmentMetadata};
pub use group::{GroupAggregates, Histogram, Measure, MeasureStates, Numbers, SumAs};
pub use host::SegmentHost;
pub use immutable::ImmutableSegment;
pub use mirror::Mirror;
pub use mutable::{ColumnMemory, MutableSegment, MutableSnapshot};
pub use predicate::{CompareOp, Leaf, Matcher, Predicate};
pub use row::{row_of, FieldValue, Row};
pub use store::{Manifest, ManifestEntry, PendingSegment, TableStore};
pub use valid_docs::ValidDocs;

impl ImmutableSegment {
    /// The docs matching `predicate`, and how each leaf was answered.
    pub fn evaluate(&self, predicate: &Predicate, options: EvalOptions) -> Result<Evaluation> {
        eval::evaluate(self, predicate, options)
    }

    /// Which docs are their key's live row, when the table keeps one row per key (upsert);
    /// `None`: every doc is.
    pub fn valid_docs(&self) -> Option<&std::sync::Arc<ValidDocs>> {
        self.validity.get()
    }

    /// Attaches the valid docs (once; false when the segment already has them).
    pub fn set_valid_docs(&self, valid: std::sync::Arc<ValidDocs>) -> bool {
        self.validity.set(valid)
    }
}
