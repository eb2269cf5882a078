//! The upsert checkpoint: each published segment's winning docs (valid, or deleted but
//! still the key's latest), as they were at the end offset of the segment just published.
//! Written before that segment's manifest entry (the publish point), so a restart finds the
//! snapshot of exactly the checkpoint it resumes from and rebuilds the key map from the
//! winners alone instead of replaying every row.
//!
//! ```text
//! file     := "CUVK" version:u32 through:str max_comparison:u64 count:u32 entry* crc32c:u32
//! entry    := segment:str winners:blob          (roaring's portable serialization)
//! str|blob := len:u32 bytes
//! ```
//! One file per partition and publish, `<table>/upsert/partition-<p>/<through>.valid`;
//! older ones are removed once a newer one's segment is published.

use roaring::RoaringBitmap;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"CUVK";
const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Snapshot {
    /// The last segment this snapshot includes.
    pub through: String,
    /// The largest comparison value seen (TTLs are measured back from it).
    pub max_comparison: Option<u64>,
    pub winners: Vec<(String, RoaringBitmap)>,
}

pub(crate) fn dir(table_dir: &Path, partition: u32) -> PathBuf {
    table_dir.join("upsert").join(format!("partition-{partition}"))
}

pub(crate) fn path(table_dir: &Path, partition: u32, through: &str) -> PathBuf {
    dir(table_dir, partition).join(format!("{through}.valid"))
}

impl Snapshot {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        put(&mut out, self.through.as_bytes());
        out.extend_from_slice(&self.max_comparison.map_or(u64::MAX, |m| m).to_le_bytes());
        out.push(u8::from(self.max_comparison.is_some()));
        out.extend_from_slice(&(self.winners.len() as u32).to_le_bytes());
        for (segment, winners) in &self.winners {
            put(&mut out, segment.as_bytes());
            let mut bytes = Vec::with_capacity(winners.serialized_size());
            // Writing into a Vec cannot fail.
            let _ = winners.serialize_into(&mut bytes);
            put(&mut out, &bytes);
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// The snapshot in `bytes`, or what is wrong with them.
    pub fn decode(bytes: &[u8]) -> Result<Snapshot, String> {
        if bytes.len() < 8 + 4 {
            return Err(format!("{} bytes is too short for a snapshot", bytes.len()));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
        if crc32c::crc32c(body) != crc {
            return Err("checksum mismatch".into());
        }
        let mut r = Reader { bytes: body, at: 0 };
        if r.take(4)? != MAGIC {
            return Err("not an upsert snapshot (bad magic)".into());
        }
        let version = r.u32()?;
        if version != VERSION {
            return Err(format!("snapshot version {version}, this build reads {VERSION}"));
        }
        let through = r.text()?;
        let max = u64::from_le_bytes(r.take(8)?.try_into().map_err(|_| "short")?);
        let has_max = r.take(1)?[0] == 1;
        let count = r.u32()? as usize;
        let mut winners = Vec::with_capacity(count.min(1 << 16));
        for _ in 0..count {
            let segment = r.text()?;
            let blob = r.blob()?;
            let bitmap = RoaringBitmap::deserialize_from(blob).map_err(|e| format!("winners of {segment}: {e}"))?;
            winners.push((segment, bitmap));
        }
        if r.at != body.len() {
            return Err(format!("{} bytes after the last entry", body.len() - r.at));
        }
        Ok(Snapshot { through, max_comparison: has_max.then_some(max), winners })
    }

    /// Writes the snapshot durably (temporary file, fsync, rename).
    pub fn write(&self, table_dir: &Path, partition: u32) -> cuvee_segments::Result<()> {
        let dir = dir(table_dir, partition);
        std::fs::create_dir_all(&dir)
            .map_err(|source| cuvee_segments::SegmentError::Io { path: dir.clone(), source })?;
        cuvee_segments::builder::write_durably(&path(table_dir, partition, &self.through), &self.encode())
    }

    /// The snapshot through `through`, if one was written and reads back whole.
    pub fn read(table_dir: &Path, partition: u32, through: &str) -> Result<Option<Snapshot>, String> {
        let path = path(table_dir, partition, through);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        };
        let snapshot = Snapshot::decode(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        if snapshot.through != through {
            return Err(format!("{} holds a snapshot through {}", path.display(), snapshot.through));
        }
        Ok(Some(snapshot))
    }

    /// Removes the partition's snapshots other than the one through `keep`.
    pub fn remove_others(table_dir: &Path, partition: u32, keep: &str) {
        let Ok(entries) = std::fs::read_dir(dir(table_dir, partition)) else { return };
        let keep = format!("{keep}.valid");
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy() != keep {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or("truncated snapshot")?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn blob(&mut self) -> Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }

    fn text(&mut self) -> Result<String, String> {
        String::from_utf8(self.blob()?.to_vec()).map_err(|_| "a name is not UTF-8".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_damage() {
        let snapshot = Snapshot {
            through: "t__0__3__20261204T1200Z".into(),
            max_comparison: Some(42),
            winners: vec![("a".into(), (0..1000).step_by(3).collect()), ("b".into(), RoaringBitmap::new())],
        };
        let bytes = snapshot.encode();
        assert_eq!(Snapshot::decode(&bytes).unwrap(), snapshot);
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x40;
            assert!(Snapshot::decode(&damaged).is_err(), "byte {i}");
        }
        for n in 0..bytes.len() {
            assert!(Snapshot::decode(&bytes[..n]).is_err());
        }
    }
}
