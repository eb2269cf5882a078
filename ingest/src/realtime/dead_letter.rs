//! Messages that could not become rows, kept with everything needed to replay them:
//! partition, offset, reason and the raw bytes (base64). One JSON line per message in
//! `<table dir>/deadletters/partition-<p>.jsonl`.
//!
//! A partition's letters take at most their limit of disk: when the current file reaches
//! half of it, it becomes `partition-<p>.old.jsonl` (replacing, and counting, the older
//! one) and a new file starts — a poison stream cannot fill the disk.
//!
//! A message is recorded before the offset after it can be published, and the file is
//! synced before each seal; after a crash the messages since the last published offset are
//! consumed again and may be recorded twice, so readers drop repeats of a
//! (partition, offset).

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

pub const DIR: &str = "deadletters";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub partition: u32,
    pub offset: i64,
    pub reason: String,
    /// Kafka's record timestamp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<i64>,
    pub recorded_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_base64: Option<String>,
    pub payload_base64: String,
}

impl DeadLetter {
    pub fn new(
        partition: u32,
        offset: i64,
        reason: String,
        timestamp_ms: Option<i64>,
        key: Option<&[u8]>,
        payload: &[u8],
    ) -> DeadLetter {
        DeadLetter {
            partition,
            offset,
            reason,
            timestamp_ms,
            recorded_ms: crate::now_ms(),
            key_base64: key.map(|k| BASE64.encode(k)),
            payload_base64: BASE64.encode(payload),
        }
    }
}

/// Appends one partition's dead letters.
pub struct DeadLetterWriter {
    path: PathBuf,
    old: PathBuf,
    /// The current file reaches this size, then becomes the old one.
    half: u64,
    file: Option<File>,
    size: u64,
    unsynced: bool,
}

impl DeadLetterWriter {
    /// A writer keeping at most `max_bytes` of letters (a line is never split, so one
    /// letter larger than half of it still gets a file of its own).
    pub fn new(table_dir: &Path, partition: u32, max_bytes: u64) -> DeadLetterWriter {
        let dir = table_dir.join(DIR);
        DeadLetterWriter {
            path: dir.join(format!("partition-{partition}.jsonl")),
            old: dir.join(format!("partition-{partition}.old.jsonl")),
            half: (max_bytes / 2).max(1),
            file: None,
            size: 0,
            unsynced: false,
        }
    }

    /// Writes `letter`; returns how many older letters were dropped to make room.
    pub fn record(&mut self, letter: &DeadLetter) -> std::io::Result<u64> {
        let mut line = serde_json::to_vec(letter).map_err(std::io::Error::other)?;
        line.push(b'\n');
        if self.file.is_none() {
            if let Some(parent) = self.path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let file = OpenOptions::new().create(true).append(true).open(&self.path)?;
            self.size = file.metadata()?.len();
            self.file = Some(file);
        }
        let mut dropped = 0;
        if self.size > 0 && self.size + line.len() as u64 > self.half {
            dropped = self.rotate()?;
        }
        if let Some(file) = &mut self.file {
            file.write_all(&line)?;
        }
        self.size += line.len() as u64;
        self.unsynced = true;
        Ok(dropped)
    }

    /// The current file becomes the old one; the letters of the old one are counted and dropped.
    fn rotate(&mut self) -> std::io::Result<u64> {
        self.sync()?;
        let dropped = match File::open(&self.old) {
            Ok(file) => BufReader::new(file).lines().count() as u64,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        std::fs::rename(&self.path, &self.old)?;
        self.file = Some(OpenOptions::new().create(true).append(true).open(&self.path)?);
        self.size = 0;
        Ok(dropped)
    }

    /// Makes the letters written so far durable (before the offsets past them are published).
    pub fn sync(&mut self) -> std::io::Result<()> {
        if let (true, Some(file)) = (self.unsynced, &self.file) {
            file.sync_data()?;
        }
        self.unsynced = false;
        Ok(())
    }
}

/// The dead letters of a table, newest offsets first per partition, at most `limit`, without
/// the repeats a restart may have written.
pub fn list(table_dir: &Path, partition: Option<u32>, limit: usize) -> std::io::Result<Vec<DeadLetter>> {
    let dir = table_dir.join(DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut letters: BTreeMap<(u32, i64), DeadLetter> = BTreeMap::new();
    for path in entries.flatten().map(|e| e.path()) {
        let Some(p) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.strip_prefix("partition-"))
            .and_then(|p| p.trim_end_matches(".old").parse::<u32>().ok())
        else {
            continue;
        };
        if partition.is_some_and(|want| want != p) {
            continue;
        }
        for line in BufReader::new(File::open(&path)?).lines() {
            // A line cut short by a crash is the only way a line can be bad; skip it.
            if let Ok(letter) = serde_json::from_str::<DeadLetter>(&line?) {
                letters.insert((letter.partition, letter.offset), letter);
            }
        }
    }
    let mut out: Vec<DeadLetter> = letters.into_values().collect();
    out.sort_by(|a, b| {
        b.recorded_ms.cmp(&a.recorded_ms).then(a.partition.cmp(&b.partition)).then(b.offset.cmp(&a.offset))
    });
    out.truncate(limit);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_are_listed_once_even_when_written_twice() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = DeadLetterWriter::new(dir.path(), 2, 1 << 20);
        let letter = DeadLetter::new(2, 41, "not JSON: expected value".into(), Some(5), Some(b"k"), b"{oops");
        writer.record(&letter).unwrap();
        writer.record(&letter).unwrap();
        writer.record(&DeadLetter::new(2, 42, "x".into(), None, None, b"")).unwrap();
        writer.sync().unwrap();
        let listed = list(dir.path(), None, 10).unwrap();
        assert_eq!(listed.len(), 2);
        let first = listed.iter().find(|l| l.offset == 41).unwrap();
        assert_eq!(BASE64.decode(&first.payload_base64).unwrap(), b"{oops");
        assert_eq!(list(dir.path(), Some(3), 10).unwrap().len(), 0);
        assert_eq!(list(dir.path(), Some(2), 1).unwrap().len(), 1);
    }

    #[test]
    fn letters_stay_within_their_disk_limit_dropping_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let limit = 20_000;
        let mut writer = DeadLetterWriter::new(dir.path(), 0, limit);
        let mut dropped = 0;
        for offset in 0..1000 {
            dropped += writer.record(&DeadLetter::new(0, offset, "bad".into(), None, None, &[7; 64])).unwrap();
        }
        writer.sync().unwrap();
        let on_disk: u64 =
            std::fs::read_dir(dir.path().join(DIR)).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum();
        assert!(on_disk <= limit, "{on_disk} bytes on disk");
        let kept = list(dir.path(), Some(0), usize::MAX).unwrap();
        assert_eq!(kept.len() as u64 + dropped, 1000, "every letter is kept or counted");
        assert_eq!(kept.iter().map(|l| l.offset).max(), Some(999), "the newest are kept");
        assert!(dropped > 0);
    }
}
