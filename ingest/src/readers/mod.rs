//! File readers: each turns a file into records (field name → JSON value) with their position,
//! so that a bad record can be reported by file and line or record number.

pub(crate) mod avro;
mod csv;
pub(crate) mod json;
pub(crate) mod parquet;

use crate::error::IngestError;
use cuvee_catalog::Schema;
use serde_json::{Map, Value as Json};
use std::path::Path;

/// One input record and where it came from ("line 12", "record 5").
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub position: String,
    pub fields: Map<String, Json>,
}

/// A record that could not be read at all.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRecord {
    pub position: String,
    pub reason: String,
}

pub type Records = Box<dyn Iterator<Item = Result<RawRecord, BadRecord>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Json,
    Avro,
    Parquet,
}

impl FileFormat {
    pub fn parse(name: &str) -> Option<FileFormat> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Some(FileFormat::Csv),
            "json" | "jsonl" | "ndjson" => Some(FileFormat::Json),
            "avro" => Some(FileFormat::Avro),
            "parquet" => Some(FileFormat::Parquet),
            _ => None,
        }
    }

    /// The format of a file from its extension.
    pub fn of(path: &Path) -> Option<FileFormat> {
        FileFormat::parse(path.extension()?.to_str()?)
    }
}

/// Pinot's CSV multi-value delimiter.
pub const CSV_MULTI_VALUE_DELIMITER: char = ';';

/// How many rows a file holds, when its format says so without reading it (Parquet's
/// footer); `None` otherwise or when the file cannot be read (opening it reports why).
pub fn row_count(path: &Path, format: FileFormat) -> Option<u64> {
    match format {
        FileFormat::Parquet => parquet::row_count(std::fs::File::open(path).ok()?),
        FileFormat::Csv | FileFormat::Json | FileFormat::Avro => None,
    }
}

pub fn open(path: &Path, format: FileFormat, schema: &Schema) -> Result<Records, IngestError> {
    let file = open_file(path)?;
    match format {
        FileFormat::Csv => csv::records(file, schema),
        FileFormat::Json => json::records(file),
        FileFormat::Avro => {
            avro::records(file).map_err(|reason| IngestError::Unreadable { path: path.to_path_buf(), reason })
        }
        FileFormat::Parquet => {
            parquet::records(file).map_err(|reason| IngestError::Unreadable { path: path.to_path_buf(), reason })
        }
    }
}

/// A Parquet file's record batches, for a reader that takes them a column at a time.
pub(crate) fn parquet_batches(path: &Path) -> Result<parquet::Batches, IngestError> {
    parquet::batches(open_file(path)?).map_err(|reason| IngestError::Unreadable { path: path.to_path_buf(), reason })
}

/// A JSON file's documents unparsed, for a reader that converts them straight into rows.
pub(crate) fn json_documents(path: &Path) -> Result<json::Documents, IngestError> {
    json::documents(open_file(path)?)
}

fn open_file(path: &Path) -> Result<std::fs::File, IngestError> {
    std::fs::File::open(path).map_err(|e| IngestError::Io { path: path.to_path_buf(), source: e })
}
