//! A table's segments on local disk, and the manifest that publishes them.
//!
//! ```text
//! <dir>/schema.json          the table's schema, as given
//! <dir>/table_config.json    the table config, as given
//! <dir>/manifest.json        the published segments (the only source of truth)
//! <dir>/segments/<name>.cvs  segment files
//! ```
//!
//! Publishing is two durable steps: the segment file is written (temporary name, fsync,
//! rename), then the manifest is rewritten the same way with the new entry. A segment file
//! that no manifest names (a crash between the steps) is not part of the table. Stream
//! offsets travel in the manifest entry, so data and checkpoint are published together:
//! the manifest is the only checkpoint stream ingestion has. The two steps are also
//! offered apart ([`TableStore::write_segment`], [`TableStore::commit`]) so the ingester can
//! prove the crash window between them harmless.
//!
//! With a deep store attached ([`TableStore::attach_deep_store`]) each segment is uploaded
//! before the manifest names it and the manifest after each change; a segment file missing
//! here is fetched from there, and [`TableStore::restore`] rebuilds a lost table folder.
//!
//! For a realtime table the manifest also records where each partition began
//! (`partitionStarts`), before its first segment is published: a table that starts at the
//! partition's latest offset must resume there after a crash, not at a newer "latest".

use crate::builder::write_durably;
use crate::error::{Result, SegmentError};
use crate::format::{SegmentBounds, FILE_EXTENSION};
use crate::immutable::ImmutableSegment;
use crate::mirror::Mirror;
use cuvee_catalog::{NameKind, Table};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub table: String,
    pub segments: Vec<ManifestEntry>,
    /// Stream partition → the offset its first consuming segment started at.
    #[serde(default, rename = "partitionStarts", skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub partition_starts: std::collections::BTreeMap<u32, i64>,
}

/// A segment file written and fsynced, not yet named by the manifest.
#[derive(Debug)]
pub struct PendingSegment {
    entry: ManifestEntry,
}

impl PendingSegment {
    pub fn entry(&self) -> &ManifestEntry {
        &self.entry
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub name: String,
    pub num_docs: u32,
    pub size_bytes: u64,
    pub crc32c: u32,
    #[serde(flatten)]
    pub bounds: SegmentBounds,
}

/// The entries [`TableStore::expire`] removes: newest row older than `cutoff_ms`, except
/// (when `streamed`) the newest segment of each partition.
pub fn expired_entries(manifest: &Manifest, cutoff_ms: i64, streamed: bool) -> Vec<ManifestEntry> {
    let mut newest: std::collections::BTreeMap<u32, (i64, &str)> = Default::default();
    if streamed {
        for entry in &manifest.segments {
            if let (Some(p), Some(end)) = (entry.bounds.partition, entry.bounds.end_offset) {
                let slot = newest.entry(p).or_insert((end, &entry.name));
                if end > slot.0 {
                    *slot = (end, &entry.name);
                }
            }
        }
    }
    let keep: std::collections::BTreeSet<&str> = newest.values().map(|(_, n)| *n).collect();
    manifest
        .segments
        .iter()
        .filter(|e| e.bounds.end_time_ms.is_some_and(|end| end < cutoff_ms) && !keep.contains(e.name.as_str()))
        .cloned()
        .collect()
}

pub struct TableStore {
    dir: PathBuf,
    manifest: Manifest,
    deep: Option<Arc<dyn Mirror>>,
}

impl TableStore {
    /// Opens the table folder, creating it (with the schema and config) when it is new.
    pub fn open_or_create(dir: &Path, table: &Table) -> Result<TableStore> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |e| SegmentError::Io { path: path.clone(), source: e }
        };
        std::fs::create_dir_all(dir.join("segments")).map_err(io(dir))?;
        let schema_path = dir.join("schema.json");
        if !schema_path.exists() {
            write_durably(&schema_path, pretty(&table.schema.to_json()).as_bytes())?;
            write_durably(&dir.join("table_config.json"), pretty(&table.config.to_json()).as_bytes())?;
        }
        let manifest_path = dir.join("manifest.json");
        let manifest = if manifest_path.exists() {
            let text = std::fs::read(&manifest_path).map_err(io(&manifest_path))?;
            let manifest: Manifest = serde_json::from_slice(&text).map_err(|e| SegmentError::Corrupt {
                segment: "(manifest)".into(),
                file: manifest_path.clone(),
                reason: format!("not a valid manifest: {e}"),
            })?;
            // Names read back become paths: the rule holds for them as for names given.
            let names = std::iter::once((NameKind::Table, manifest.table.as_str()))
                .chain(manifest.segments.iter().map(|s| (NameKind::Segment, s.name.as_str())));
            for (kind, name) in names {
                cuvee_catalog::name::check(kind, name).map_err(|e| SegmentError::Corrupt {
                    segment: "(manifest)".into(),
                    file: manifest_path.clone(),
                    reason: e.to_string(),
                })?;
            }
            manifest
        } else {
            Manifest {
                version: MANIFEST_VERSION,
                table: table.name().to_string(),
                segments: Vec::new(),
                partition_starts: Default::default(),
            }
        };
        Ok(TableStore { dir: dir.to_path_buf(), manifest, deep: None })
    }

    /// Rebuilds the folder of table `name` from the deep store (its definition and
    /// manifest; segments are fetched when opened). False when the deep store lacks it.
    pub fn restore(dir: &Path, name: &str, deep: &dyn Mirror) -> Result<bool> {
        cuvee_catalog::name::check(NameKind::Table, name)?;
        let Some(manifest) = deep.get(name, deep.manifest_file())? else { return Ok(false) };
        let (Some(schema), Some(config)) = (deep.get(name, "schema.json")?, deep.get(name, "table_config.json")?)
        else {
            return Ok(false);
        };
        std::fs::create_dir_all(dir.join("segments"))
            .map_err(|e| SegmentError::Io { path: dir.to_path_buf(), source: e })?;
        write_durably(&dir.join("schema.json"), &schema)?;
        write_durably(&dir.join("table_config.json"), &config)?;
        write_durably(&dir.join("manifest.json"), &manifest)?;
        Ok(true)
    }

    /// Keeps this table in `deep` from now on. A table the deep store does not have yet is
    /// copied there whole (definition, segments, then manifest).
    pub fn attach_deep_store(&mut self, deep: Arc<dyn Mirror>) -> Result<()> {
        let table = self.manifest.table.clone();
        let read = |file: &str| {
            let path = self.dir.join(file);
            std::fs::read(&path).map_err(|e| SegmentError::Io { path, source: e })
        };
        deep.put(&table, "schema.json", read("schema.json")?)?;
        // The deep store's copy has its secrets redacted (kept as `${NAME}` references only).
        deep.put(&table, "table_config.json", redacted_config(&read("table_config.json")?))?;
        if deep.get(&table, deep.manifest_file())?.is_none() {
            for entry in &self.manifest.segments {
                let path = self.segment_path(&entry.name)?;
                let bytes = std::fs::read(&path).map_err(|e| SegmentError::Io { path, source: e })?;
                // A replica may have published this segment already: its copy stays.
                deep.put_segment_if_absent(&table, &entry.name, bytes)?;
            }
        }
        deep.put(&table, deep.manifest_file(), manifest_bytes(&self.manifest))?;
        self.deep = Some(deep);
        Ok(())
    }

    pub fn deep_store(&self) -> Option<&Arc<dyn Mirror>> {
        self.deep.as_ref()
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The file of segment `name`; a name that breaks the naming rule is refused.
    pub fn segment_path(&self, name: &str) -> Result<PathBuf> {
        Ok(cuvee_catalog::name::join(
            &self.dir.join("segments"),
            NameKind::Segment,
            name,
            &format!(".{FILE_EXTENSION}"),
        )?)
    }

    /// Writes a segment file and publishes it in the manifest. A name already published is
    /// refused, so a segment is never replaced behind a reader's back.
    pub fn publish(&mut self, bytes: &[u8]) -> Result<ManifestEntry> {
        let pending = self.write_segment(bytes)?;
        self.commit(pending)
    }

    /// Step one of publishing: checks the segment and writes its file durably. Nothing is
    /// published until [`TableStore::commit`].
    pub fn write_segment(&self, bytes: &[u8]) -> Result<PendingSegment> {
        let pending = self.write_local(bytes)?;
        if let Some(deep) = &self.deep {
            deep.put_segment(&self.manifest.table, &pending.entry.name, bytes.to_vec())?;
        }
        Ok(pending)
    }

    /// [`TableStore::write_segment`] for a segment peers may publish too (replicas
    /// consuming one partition): the deep store's copy wins. Ours is uploaded only if no
    /// copy is there yet; otherwise theirs is the one written here, so every replica holds
    /// the same bytes. Without a deep store this is `write_segment`.
    pub fn write_segment_first_wins(&self, bytes: Vec<u8>) -> Result<PendingSegment> {
        let Some(deep) = &self.deep else { return self.write_segment(&bytes) };
        let entry = self.checked_entry(&bytes)?;
        if deep.put_segment_if_absent(&self.manifest.table, &entry.name, bytes.clone())? {
            return self.write_entry(entry, &bytes);
        }
        match deep.get_segment(&self.manifest.table, &entry.name)? {
            Some(theirs) => self.write_local(&theirs),
            None => Err(SegmentError::InvalidRequest(format!(
                "segment {} exists in the deep store {} and cannot be read back",
                entry.name,
                deep.url()
            ))),
        }
    }

    /// Step one for a segment a peer published (its bytes from the deep store): written
    /// here only, nothing uploaded.
    pub fn write_adopted_segment(&self, bytes: &[u8]) -> Result<PendingSegment> {
        self.write_local(bytes)
    }

    fn write_local(&self, bytes: &[u8]) -> Result<PendingSegment> {
        let entry = self.checked_entry(bytes)?;
        self.write_entry(entry, bytes)
    }

    /// The manifest entry of a segment's bytes, once they read back as a segment not
    /// published yet.
    fn checked_entry(&self, bytes: &[u8]) -> Result<ManifestEntry> {
        let segment = ImmutableSegment::from_bytes(PathBuf::from("(new segment)"), bytes.to_vec())?;
        let meta = segment.metadata();
        if self.manifest.segments.iter().any(|s| s.name == meta.name) {
            return Err(SegmentError::InvalidRequest(format!("segment {} is already published", meta.name)));
        }
        Ok(ManifestEntry {
            name: meta.name.clone(),
            num_docs: meta.num_docs,
            size_bytes: bytes.len() as u64,
            crc32c: crc32c::crc32c(bytes),
            bounds: meta.bounds.clone(),
        })
    }

    fn write_entry(&self, entry: ManifestEntry, bytes: &[u8]) -> Result<PendingSegment> {
        write_durably(&self.segment_path(&entry.name)?, bytes)?;
        Ok(PendingSegment { entry })
    }

    /// Step two: the manifest names the segment (with its stream offsets). This rename is
    /// the publish point.
    pub fn commit(&mut self, pending: PendingSegment) -> Result<ManifestEntry> {
        let entry = pending.entry;
        if self.manifest.segments.iter().any(|s| s.name == entry.name) {
            return Err(SegmentError::InvalidRequest(format!("segment {} is already published", entry.name)));
        }
        let mut next = self.manifest.clone();
        next.segments.push(entry.clone());
        self.write_manifest(next)?;
        Ok(entry)
    }

    /// Records, durably, the offset a stream partition's consumption began at. A partition
    /// that already has a start keeps it.
    pub fn record_partition_start(&mut self, partition: u32, offset: i64) -> Result<()> {
        if self.manifest.partition_starts.contains_key(&partition) {
            return Ok(());
        }
        let mut next = self.manifest.clone();
        next.partition_starts.insert(partition, offset);
        self.write_manifest(next)
    }

    /// The local manifest is the publish point; the deep store's copy follows it. A failed
    /// upload is reported and caught up by the next change (or the next attach).
    fn write_manifest(&mut self, next: Manifest) -> Result<()> {
        let bytes = manifest_bytes(&next);
        write_durably(&self.dir.join("manifest.json"), &bytes)?;
        self.manifest = next;
        if let Some(deep) = &self.deep {
            if let Err(e) = deep.put(&self.manifest.table, deep.manifest_file(), bytes) {
                tracing::warn!(table = %self.manifest.table, error = %e, "the deep store's manifest is behind (the next change catches it up)");
            }
        }
        Ok(())
    }

    /// The folder of this table.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Rewrites the stored schema and table config (after a compatible change).
    pub fn replace_definition(&self, table: &Table) -> Result<()> {
        let schema = pretty(&table.schema.to_json()).into_bytes();
        let config = pretty(&table.config.to_json()).into_bytes();
        write_durably(&self.dir.join("schema.json"), &schema)?;
        write_durably(&self.dir.join("table_config.json"), &config)?;
        if let Some(deep) = &self.deep {
            deep.put(&self.manifest.table, "schema.json", schema)?;
            deep.put(
                &self.manifest.table,
                "table_config.json",
                pretty(&table.config.redacted().to_json()).into_bytes(),
            )?;
        }
        Ok(())
    }

    /// Takes a segment out of the table: the manifest stops naming it (the publish point),
    /// then its file is removed. A crash in between leaves an unnamed file, which is ignored.
    pub fn unpublish(&mut self, name: &str) -> Result<ManifestEntry> {
        let Some(position) = self.manifest.segments.iter().position(|s| s.name == name) else {
            return Err(SegmentError::InvalidRequest(format!(
                "segment {name} is not published in table {}",
                self.manifest.table
            )));
        };
        let mut next = self.manifest.clone();
        let entry = next.segments.remove(position);
        self.write_manifest(next)?;
        let path = self.segment_path(name)?;
        std::fs::remove_file(&path)
            .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
            .map_err(|e| SegmentError::Io { path, source: e })?;
        Ok(entry)
    }

    /// Removes, in one manifest change, the segments whose newest row is older than
    /// `cutoff_ms` (segments without a time range are never expired). With `streamed`, the
    /// newest segment of each partition stays whatever its age: its end offset is where the
    /// partition resumes and its sequence names the next segment. Files go after the
    /// manifest no longer names them, locally and in the deep store; a failure to delete a
    /// file is logged (it is garbage, not data).
    pub fn expire(&mut self, cutoff_ms: i64, streamed: bool) -> Result<Vec<ManifestEntry>> {
        let expired = expired_entries(&self.manifest, cutoff_ms, streamed);
        if expired.is_empty() {
            return Ok(expired);
        }
        let mut next = self.manifest.clone();
        next.segments.retain(|e| !expired.iter().any(|x| x.name == e.name));
        self.write_manifest(next)?;
        for entry in &expired {
            if let Ok(path) = self.segment_path(&entry.name) {
                if let Err(e) = std::fs::remove_file(&path) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(table = %self.manifest.table, segment = %entry.name, error = %e, "an expired segment's file was not removed");
                    }
                }
            }
            if let Some(deep) = &self.deep {
                if let Err(e) = deep.delete(&self.manifest.table, &crate::mirror::segment_file(&entry.name)) {
                    tracing::warn!(table = %self.manifest.table, segment = %entry.name, error = %e, "an expired segment was not removed from the deep store");
                }
            }
        }
        Ok(expired)
    }

    /// Opens every published segment. A damaged one is fetched again from the deep store
    /// when there is one (verified against the manifest's checksum, then swapped in); one
    /// that still cannot be read is reported with its name and left out, the others stay
    /// usable.
    pub fn open_segments(&self) -> (Vec<ImmutableSegment>, Vec<SegmentError>) {
        let mut segments = Vec::new();
        let mut errors = Vec::new();
        for entry in &self.manifest.segments {
            match self.open_entry(entry) {
                Ok(segment) => segments.push(segment),
                Err(first) => match self.refetch(entry) {
                    Some(Ok(segment)) => {
                        tracing::warn!(table = %self.manifest.table, segment = %entry.name, error = %first, "a damaged segment was fetched again from the deep store");
                        segments.push(segment)
                    }
                    Some(Err(again)) => errors.push(again.of_segment(&entry.name)),
                    None => errors.push(first.of_segment(&entry.name)),
                },
            }
        }
        (segments, errors)
    }

    fn open_entry(&self, entry: &ManifestEntry) -> Result<ImmutableSegment> {
        self.fetch_if_missing(entry)?;
        let segment = ImmutableSegment::open(&self.segment_path(&entry.name)?)?;
        if segment.num_docs() != entry.num_docs {
            return Err(segment.corrupt(format!(
                "has {} docs, the manifest says {}",
                segment.num_docs(),
                entry.num_docs
            )));
        }
        Ok(segment)
    }

    /// The deep store's copy of a segment whose local file cannot be read; `None` without a
    /// deep store.
    fn refetch(&self, entry: &ManifestEntry) -> Option<Result<ImmutableSegment>> {
        let deep = self.deep.as_ref()?;
        Some((|| {
            let path = self.segment_path(&entry.name)?;
            match deep.get_segment(&self.manifest.table, &entry.name)? {
                Some(bytes) if crc32c::crc32c(&bytes) == entry.crc32c => write_durably(&path, &bytes)?,
                Some(_) => {
                    return Err(SegmentError::Corrupt {
                        segment: entry.name.clone(),
                        file: path,
                        reason: format!(
                            "damaged here, and the deep store's copy ({}) does not match the manifest's checksum",
                            deep.url()
                        ),
                    })
                }
                None => {
                    return Err(SegmentError::Corrupt {
                        segment: entry.name.clone(),
                        file: path,
                        reason: format!("damaged here and missing in the deep store {}", deep.url()),
                    })
                }
            }
            self.open_entry(entry)
        })())
    }
}

/// A stored table config with its secrets redacted, for copies beyond this disk; a config
/// that does not parse is copied as it is (it holds no secret cuvee put there).
fn redacted_config(bytes: &[u8]) -> Vec<u8> {
    match std::str::from_utf8(bytes).ok().and_then(|t| cuvee_catalog::TableConfigJson::from_json(t).ok()) {
        Some(config) => pretty(&config.redacted().to_json()).into_bytes(),
        None => bytes.to_vec(),
    }
}

fn pretty(json: &serde_json::Value) -> String {
    serde_json::to_string_pretty(json).unwrap_or_default()
}

impl TableStore {
    /// A published segment whose file is not here is fetched from the deep store.
    fn fetch_if_missing(&self, entry: &ManifestEntry) -> Result<()> {
        let path = self.segment_path(&entry.name)?;
        let Some(deep) = &self.deep else { return Ok(()) };
        if path.exists() {
            return Ok(());
        }
        match deep.get_segment(&self.manifest.table, &entry.name)? {
            Some(bytes) if crc32c::crc32c(&bytes) == entry.crc32c => write_durably(&path, &bytes),
            Some(_) => Err(SegmentError::Corrupt {
                segment: entry.name.clone(),
                file: path,
                reason: format!("the deep store's copy ({}) does not match the manifest's checksum", deep.url()),
            }),
            None => Err(SegmentError::Corrupt {
                segment: entry.name.clone(),
                file: path,
                reason: format!("missing here and in the deep store {}", deep.url()),
            }),
        }
    }
}

fn manifest_bytes(manifest: &Manifest) -> Vec<u8> {
    pretty(&serde_json::to_value(manifest).unwrap_or_default()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::SegmentBounds;

    fn entry(name: &str, end_time_ms: Option<i64>, partition: Option<u32>, end_offset: Option<i64>) -> ManifestEntry {
        ManifestEntry {
            name: name.into(),
            num_docs: 1,
            size_bytes: 1,
            crc32c: 0,
            bounds: SegmentBounds {
                start_time_ms: end_time_ms,
                end_time_ms,
                partition,
                start_offset: end_offset.map(|o| o - 1),
                end_offset,
                creation_time_ms: 0,
            },
        }
    }

    fn names(entries: Vec<ManifestEntry>) -> Vec<String> {
        entries.into_iter().map(|e| e.name).collect()
    }

    #[test]
    fn retention_expires_old_segments_but_keeps_each_partitions_newest() {
        let manifest = Manifest {
            version: 1,
            table: "t".into(),
            segments: vec![
                entry("old", Some(100), None, None),
                entry("new", Some(900), None, None),
                entry("timeless", None, None, None),
                entry("p0-a", Some(100), Some(0), Some(10)),
                entry("p0-b", Some(200), Some(0), Some(20)),
                entry("p1-only", Some(100), Some(1), Some(5)),
            ],
            partition_starts: Default::default(),
        };
        assert_eq!(names(expired_entries(&manifest, 500, false)), ["old", "p0-a", "p0-b", "p1-only"]);
        assert_eq!(names(expired_entries(&manifest, 500, true)), ["old", "p0-a"], "p0-b and p1-only are checkpoints");
        assert!(expired_entries(&manifest, 50, true).is_empty());
    }
}
