//! # cuvee-catalog
//!
//! Answers: *what is this table?* Pinot-compatible schema and table-config JSON parsed into
//! types, validated against each other, with Pinot's defaults resolved (default null values,
//! `maxLength`, bloom fpp) and date-time formats understood.
//!
//! Does not answer: where the data is (that is `cuvee-segments`) or how to query it.
//!
//! Rules it keeps:
//! - A config round-trips: every key is kept, including those cuvee does not act on, so
//!   `to_json(from_json(text))` is the same JSON value as `text`.
//! - Keys unknown to Pinot are reported by JSON pointer ([`Schema::unrecognized_properties`],
//!   [`TableConfigJson::unrecognized_properties`]) the way Pinot answers `unrecognizedProperties`.
//! - Every error names the JSON path and the reason; all problems are reported at once.

pub mod datetime;
pub mod error;
pub mod evolution;
pub mod lenient;
pub mod name;
pub mod partition;
pub mod raw_codec;
pub mod schema;
pub mod secrets;
pub mod stream;
pub mod table;
pub mod table_config;
mod unknown;
pub mod upsert;
pub mod value;

pub use datetime::{DateTimeFormatSpec, FormattedTime, Granularity, TimeFormat, TimeUnit};
pub use error::{CatalogError, Problem, Result};
pub use name::{NameError, NameKind};
pub use raw_codec::RawCodec;
pub use schema::{ColumnSpec, FieldKind, FieldSpec, MaxLengthStrategy, Schema, SchemaConfig};
pub use stream::{Decoder, FlushThresholds, OffsetReset, StreamConfig};
pub use table::{ColumnIndexing, RawIfSmaller, Table};
pub use table_config::{ComplexTypeConfig, TableConfigJson, TableType};
pub use upsert::{DedupPlan, KeyHash, KeyPolicy, MergeStrategy, UpsertPlan};
pub use value::{DataType, Value, ValueError};
