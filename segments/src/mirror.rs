//! Where a table's files are kept beyond this disk. [`crate::TableStore`] uploads every
//! published segment and manifest to its mirror and fetches missing segments from it; the
//! implementation (object stores: S3, a shared file system) is `cuvee-deep-store`, so this
//! crate knows neither `object_store` nor an async runtime.

use crate::error::Result;
use crate::format::FILE_EXTENSION;

/// A table's files under `tables/<table>/`, by file name. Calls block the calling thread.
pub trait Mirror: Send + Sync + std::fmt::Debug {
    /// Where it is, for messages (`s3://bucket/prefix`).
    fn url(&self) -> &str;
    /// The file holding this process's manifest of a table.
    fn manifest_file(&self) -> &str;
    /// The file's bytes, or `None` when the mirror does not have it.
    fn get(&self, table: &str, file: &str) -> Result<Option<Vec<u8>>>;
    fn put(&self, table: &str, file: &str, bytes: Vec<u8>) -> Result<()>;
    /// Creates the file unless it exists: true when this call created it. Atomic: of
    /// several callers racing for one file exactly one gets true.
    fn put_if_absent(&self, table: &str, file: &str, bytes: Vec<u8>) -> Result<bool>;
    /// Removes the file; one that is not there is no error.
    fn delete(&self, table: &str, file: &str) -> Result<()>;

    fn put_segment(&self, table: &str, segment: &str, bytes: Vec<u8>) -> Result<()> {
        self.put(table, &segment_file(segment), bytes)
    }

    /// Uploads a segment unless a peer already has: true when this copy is the published one.
    fn put_segment_if_absent(&self, table: &str, segment: &str, bytes: Vec<u8>) -> Result<bool> {
        self.put_if_absent(table, &segment_file(segment), bytes)
    }

    fn get_segment(&self, table: &str, segment: &str) -> Result<Option<Vec<u8>>> {
        self.get(table, &segment_file(segment))
    }
}

/// A segment's file under its table's folder.
pub fn segment_file(segment: &str) -> String {
    format!("segments/{segment}.{FILE_EXTENSION}")
}
