//! # cuvee-ingest
//!
//! Answers: *how do rows get in?* File readers (CSV, newline-delimited JSON, Avro container
//! files, Parquet), Pinot's ingestion transforms and filter, conversion of records to rows of
//! a table (types, nulls, `maxLength`, time formats), and batch import into segments
//! (Parquet a column at a time, JSON straight into rows, where the table allows:
//! [`ImportOptions::direct`]). JSON and Avro stream messages go straight into rows under the
//! same condition.
//! Stream messages decode into the same records ([`message`]), and [`realtime`] consumes a
//! REALTIME table's Kafka topic into consuming segments and publishes sealed ones with their
//! offsets (exactly once).
//!
//! Does not answer: how segments are laid out (`cuvee-segments`) or queried. Never imports
//! DataFusion.
//!
//! Bad input never stops an import by default: a record that cannot be read or converted is
//! counted and reported with its file, position and reason, and skipped
//! ([`ImportOptions::strict`] makes the first one fatal).

mod avro_row;
mod columnar;
pub mod conform;
pub mod error;
pub mod import;
pub mod infer;
mod json_row;
pub mod message;
pub mod readers;
pub mod transform;

pub use conform::{Conformed, Conformer, Rejected};
pub use error::IngestError;
pub use import::{import, BadRow, ImportOptions, ImportReport};
pub use message::{MessageDecoder, MessageMetadata};
pub use readers::FileFormat;

/// Wall-clock time in epoch milliseconds (segment creation times, ingestion times).
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
pub mod realtime;
