//! # cuvee-node
//!
//! Answers: *what does this process hold?* A [`Node`] owns one data directory: its schemas
//! and tables (each a `TableStore` of published segments), the tables' queryable form in
//! a [`Tables`] registry that every door reads, the stream ingestion of each REALTIME table,
//! and, when one is configured, the deep store the tables are mirrored to. `cuvee serve`
//! and `cuvee server` hold a node; a cluster broker holds none.
//!
//! It sits above ingestion (`cuvee-ingest`) and querying (`cuvee-query`), which do not know
//! each other: ingestion hands segments to the node's tables through `SegmentHost`.
//! [`topic_function`] is `kafka_topic(…)`, SQL over a topic of the node's Kafka.
//! Methods block (disk, the deep store, stopping consumers): async callers run them on a
//! blocking thread.

mod error;
mod node;
pub mod topic_function;

pub use cuvee_ingest::realtime::RealtimeOptions;
pub use cuvee_query::Tables;
pub use error::{NodeError, Result};
pub use node::{raw_table_name, Node, NodeOptions};

/// A number for the next upload's file name, unique in this process.
pub fn next_upload() -> u64 {
    static UPLOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    UPLOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}
