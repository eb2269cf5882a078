//! Leaf evaluation on a consuming segment's snapshot. The dictionary is unsorted (ids in
//! arrival order), so a matcher cannot become an id range as on a sealed segment; instead:
//! equality and IN look their values up in the dictionary's table of ids; ranges on
//! fixed-width single-value columns go chunk by chunk with per-chunk min/max zones (on raw
//! keys, or on ids after deciding once per entry which are in range); equality on raw
//! bytes searches the stored bytes for the value (or its FSST codes); a raw column's other
//! leaves test its keys or bytes doc by doc; other leaves test
//! each dictionary entry once, then read bitmaps or scan ids; a geospatial leaf on an
//! H3-indexed column takes the cells it covers and tests only the docs of the others. Within a conjunction, a leaf
//! may test just the docs still possible (`any_match_within`).

use super::log::slot;
use super::MutableSnapshot;
use crate::bitmap_index::all_docs;
use crate::error::{Result, SegmentError};
use crate::eval::{Access, LeafSource};
use crate::group::IdSet;
use crate::physical::{FixedKind, Physical};
use crate::predicate::Matcher;
use cuvee_catalog::DataType;
use roaring::RoaringBitmap;
use std::sync::atomic::Ordering;

impl LeafSource for MutableSnapshot {
    fn num_docs(&self) -> u32 {
        self.num_docs
    }

    fn column_type(&self, column: &str) -> Result<(usize, DataType)> {
        let index = self.segment.columns.iter().position(|c| c.name == column).ok_or_else(|| {
            SegmentError::InvalidRequest(format!("segment {} has no column \"{column}\"", self.segment.name))
        })?;
        Ok((index, self.segment.columns[index].data_type))
    }

    fn nulls(&self, column: usize) -> RoaringBitmap {
        self.columns[column].nulls.clone()
    }

    fn any_match(&self, column: usize, matcher: &Matcher) -> Result<(RoaringBitmap, Access)> {
        let col = &self.segment.columns[column];
        let snap = &self.columns[column];
        if let (Matcher::Geo(geo), Some(h3)) = (matcher, &col.h3) {
            let (mut out, test) = h3.candidates(geo, self.num_docs);
            let mut scratch = Vec::new();
            for doc in &test {
                if snap.doc_matches(col, matcher, doc as usize, &mut scratch) {
                    out.insert(doc);
                }
            }
            return Ok((out, Access::H3Index));
        }
        if let (Some(_), Physical::Fixed(kind)) = (&snap.raw, col.physical) {
            let out = match matcher {
                Matcher::KeyRange(lo, hi) => self.docs_in_key_range(column, *lo, *hi, None),
                _ => self.docs_in_key_range(column, 0, u64::MAX, Some((matcher, kind))),
            };
            return Ok(out);
        }
        if let Some(raw) = &snap.raw_bytes {
            let docs = self.num_docs as usize;
            let out = match matcher.equal_bytes() {
                // Byte equality searches the stored bytes (codes for codes).
                Some(values) => raw.docs_equal_to(docs, values),
                None => {
                    let mut out = RoaringBitmap::new();
                    raw.for_each(docs, |doc, bytes| {
                        if matcher.test_bytes(bytes) {
                            let _ = out.try_push(doc as u32);
                        }
                    });
                    out
                }
            };
            return Ok((out, Access::ScanValues));
        }
        if let Some(ids) = col.exact_ids(matcher, snap.dict_len()) {
            return Ok(self.docs_with_ids(column, &ids));
        }
        if let (Matcher::KeyRange(lo, hi), true, Physical::Fixed(_)) = (matcher, col.single_value, col.physical) {
            return Ok(self.docs_in_key_range(column, *lo, *hi, None));
        }
        let mut matching = IdSet::new(snap.dict_len() as usize);
        (0..snap.dict_len()).filter(|&id| snap.matches(col, matcher, id)).for_each(|id| matching.insert(u64::from(id)));
        Ok(self.docs_with_id_set(column, &matching, None))
    }

    fn any_match_within(
        &self,
        column: usize,
        matcher: &Matcher,
        candidates: &RoaringBitmap,
    ) -> Result<Option<(RoaringBitmap, Access)>> {
        // Worth it while the candidates are few next to the docs a full answer would touch.
        if candidates.len() * 16 > self.num_docs as u64 {
            return Ok(None);
        }
        let col = &self.segment.columns[column];
        let snap = &self.columns[column];
        let (mut out, mut scratch) = (RoaringBitmap::new(), Vec::new());
        for doc in candidates.iter().take_while(|&d| d < self.num_docs) {
            if snap.doc_matches(col, matcher, doc as usize, &mut scratch) {
                let _ = out.try_push(doc);
            }
        }
        Ok(Some((out, Access::ScanValues)))
    }
}

impl MutableSnapshot {
    /// Docs holding any of `ids`: from the inverted index, or one pass over the ids.
    fn docs_with_ids(&self, column: usize, ids: &[u32]) -> (RoaringBitmap, Access) {
        let col = &self.segment.columns[column];
        if ids.is_empty() {
            return (RoaringBitmap::new(), Access::Dictionary);
        }
        if let Some(inverted) = &col.inverted {
            return (inverted.docs(ids.iter().copied(), self.num_docs), Access::InvertedIndex);
        }
        if col.single_value {
            // Chunk by chunk, as ranges are (no per-doc iterator over the packed ids).
            let mut sorted = ids.to_vec();
            sorted.sort_unstable();
            let out = self.scan_chunks(column, None, |id| match sorted.len() {
                0..=8 => sorted.contains(&(id as u32)),
                _ => sorted.binary_search(&(id as u32)).is_ok(),
            });
            return (out, Access::ScanIds);
        }
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        (self.scan_multi_value(column, |id| sorted.binary_search(&(id as u32)).is_ok()), Access::ScanIds)
    }

    /// Docs of a multi-value column with any id `accept` takes: value ends and ids read a
    /// chunk at a time, side by side (no per-doc look-up of where a doc's ids start).
    fn scan_multi_value(&self, column: usize, accept: impl Fn(u64) -> bool) -> RoaringBitmap {
        let snap = &self.columns[column];
        let mut ids = vec![0u64; snap.mv_ids.chunk_len()];
        let (id_shift, mut ids_chunk) = (snap.mv_ids.chunk_len().trailing_zeros(), usize::MAX);
        let (mut value, mut out) = (0usize, RoaringBitmap::new());
        snap.mv_ends.for_each_chunk(self.num_docs as usize, |base, ends| {
            for (i, &end) in ends.iter().enumerate() {
                let mut hit = false;
                while value < end as usize {
                    if value >> id_shift != ids_chunk {
                        match snap.mv_ids.chunks.get(value >> id_shift) {
                            Some(chunk) => chunk.read_into(&mut ids),
                            // Ends past the ids (never written so): no more values to test.
                            None => return,
                        }
                        ids_chunk = value >> id_shift;
                    }
                    hit |= accept(ids[value & (ids.len() - 1)]);
                    value += 1;
                }
                if hit {
                    let _ = out.try_push((base + i) as u32);
                }
            }
        });
        out
    }

    /// Docs of a column with an id in `ids` (the dictionary entries a leaf matched): none —
    /// no doc read; every entry — every doc; an inverted index — their posting lists; else
    /// each doc's id tested against the set (a bit an entry: a large dictionary's set stays
    /// in the first-level cache, where a byte an entry did not). `zone` as
    /// [`scan_chunks`](Self::scan_chunks) takes it.
    fn docs_with_id_set(&self, column: usize, ids: &IdSet, zone: Option<(u64, u64, bool)>) -> (RoaringBitmap, Access) {
        let col = &self.segment.columns[column];
        match ids.len() {
            0 => return (RoaringBitmap::new(), Access::Dictionary),
            n if n == self.columns[column].dict_len() as usize => return (all_docs(self.num_docs), Access::Dictionary),
            _ => {}
        }
        if let Some(inverted) = &col.inverted {
            return (inverted.docs(ids.iter(), self.num_docs), Access::InvertedIndex);
        }
        let out = match col.single_value {
            true => self.scan_chunks(column, zone, |id| ids.contains(id)),
            false => self.scan_multi_value(column, |id| ids.contains(id)),
        };
        (out, Access::ScanIds)
    }

    /// Docs of a fixed-width single-value column with a key in `lo..=hi` (that `also`
    /// accepts, if given). A raw column tests its keys; a column with ids decides per
    /// dictionary entry which ids are in range (no key read per doc), then reads docs as
    /// [`docs_with_id_set`](Self::docs_with_id_set) does.
    fn docs_in_key_range(
        &self,
        column: usize,
        lo: u64,
        hi: u64,
        also: Option<(&Matcher, FixedKind)>,
    ) -> (RoaringBitmap, Access) {
        let snap = &self.columns[column];
        let accept = |key: u64| lo <= key && key <= hi && also.is_none_or(|(m, kind)| m.test_key(key, kind));
        let zone = Some((lo, hi, also.is_none()));
        if snap.raw.is_some() {
            return (self.scan_chunks(column, zone, accept), Access::ScanValues);
        }
        let mut in_range = IdSet::new(snap.dict_len() as usize);
        (0..snap.dict_len()).filter(|&id| accept(snap.key(id))).for_each(|id| in_range.insert(u64::from(id)));
        self.docs_with_id_set(column, &in_range, zone)
    }

    /// Docs of a single-value column whose value — its id, or its key when the column is
    /// raw — `accept` takes, chunk by chunk with no per-doc iterator (the hot loop of a
    /// scan on a consuming segment). With a key range `zone` (`lo`, `hi`, `whole`), a chunk
    /// whose keys all fall outside is skipped, and one whose keys all fall inside is taken
    /// whole when `whole` says the range is the whole test.
    fn scan_chunks(
        &self,
        column: usize,
        zone: Option<(u64, u64, bool)>,
        accept: impl Fn(u64) -> bool,
    ) -> RoaringBitmap {
        let snap = &self.columns[column];
        let docs = self.num_docs as usize;
        let chunks = snap.raw.as_ref().unwrap_or(&snap.sv_ids);
        let size = chunks.chunk_len();
        let mut values = vec![0u64; size];
        let mut out = RoaringBitmap::new();
        for (c, chunk) in chunks.chunks.iter().enumerate() {
            let base = c * size;
            if base >= docs {
                break;
            }
            let len = (docs - base).min(size);
            let bounds = (
                slot(&snap.zone_min, c).map(|m| m.load(Ordering::Relaxed)),
                slot(&snap.zone_max, c).map(|m| m.load(Ordering::Relaxed)),
            );
            if let (Some((lo, hi, whole)), (Some(min), Some(max))) = (zone, bounds) {
                if max < lo || min > hi {
                    continue;
                }
                if lo <= min && max <= hi && whole {
                    out.insert_range(base as u32..(base + len) as u32);
                    continue;
                }
            }
            chunk.read_into(&mut values[..len]);
            for (i, &value) in values[..len].iter().enumerate() {
                if accept(value) {
                    let _ = out.try_push((base + i) as u32);
                }
            }
        }
        out
    }
}
