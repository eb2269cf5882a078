//! The H3 index of a BYTES column of geography points: for each H3 cell (at one resolution)
//! holding a point, the docs whose point lies in it, and the docs it could not place (not a
//! geography point, empty, or null). A geospatial leaf ([`crate::geo_filter`]) takes whole
//! cells it covers, skips cells it cannot reach, and tests the docs of the cells in between
//! and the unplaced docs one by one, so the answer is exact.
//!
//! A consuming segment keeps the same map in memory ([`ConsumingH3`]), filled as rows
//! arrive, so fresh rows are answered the same way.
//!
//! Section `h3`: u32 resolution, u32 cell count `k`, `k ×` u64 cell ids ascending, then a
//! bitmap list (as `range`) of `k + 1` bitmaps: each cell's docs, then the unplaced docs.

use crate::bitmap_index::{write_bitmap_list, BitmapList};
use crate::error::Malformed;
use crate::format::{put_u32, put_u64, Cursor};
use crate::geo_filter::Cover;
use cuvee_functions::Shape;
use h3o::{CellIndex, LatLng, Resolution};
use parking_lot::Mutex;
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;

/// The cell of a serialised geography point at `resolution`, if it is one.
pub fn cell_of(value: &[u8], resolution: Resolution) -> Option<CellIndex> {
    let shape = Shape::decode(value).ok().filter(|s| s.geography)?;
    let point = shape.point()?;
    LatLng::new(point.y, point.x).ok().map(|p| p.to_cell(resolution))
}

/// Builds the section from each doc's value (`None` for a null doc).
pub fn write_h3<'a>(resolution: u8, values: impl Iterator<Item = Option<&'a [u8]>>) -> Vec<u8> {
    let Ok(res) = Resolution::try_from(resolution) else {
        // The catalog allows 0–15 only; an index of nothing placed is still exact.
        return write_cells(resolution, BTreeMap::new(), RoaringBitmap::new());
    };
    let mut cells: BTreeMap<u64, RoaringBitmap> = BTreeMap::new();
    let mut unplaced = RoaringBitmap::new();
    for (doc, value) in values.enumerate() {
        match value.and_then(|v| cell_of(v, res)) {
            Some(cell) => {
                let _ = cells.entry(u64::from(cell)).or_default().try_push(doc as u32);
            }
            None => {
                let _ = unplaced.try_push(doc as u32);
            }
        }
    }
    write_cells(resolution, cells, unplaced)
}

fn write_cells(resolution: u8, cells: BTreeMap<u64, RoaringBitmap>, unplaced: RoaringBitmap) -> Vec<u8> {
    let mut header = Vec::with_capacity(8 + 8 * cells.len());
    put_u32(&mut header, u32::from(resolution));
    put_u32(&mut header, cells.len() as u32);
    cells.keys().for_each(|&cell| put_u64(&mut header, cell));
    let mut bitmaps: Vec<RoaringBitmap> = cells.into_values().collect();
    bitmaps.push(unplaced);
    write_bitmap_list(&header, bitmaps)
}

/// The section, read in place.
pub struct H3Index<'a> {
    pub resolution: u8,
    cells: &'a [u8],
    bitmaps: BitmapList<'a>,
}

impl<'a> H3Index<'a> {
    pub fn open(bytes: &'a [u8], deep: bool) -> Result<H3Index<'a>, Malformed> {
        let mut cursor = Cursor::new(bytes);
        let resolution = cursor.u32()?;
        if resolution > 15 {
            return Err(Malformed(format!("H3 resolution {resolution} is over 15")));
        }
        let count = cursor.u32()? as usize;
        let cells = cursor.take(count.checked_mul(8).ok_or_else(|| Malformed("cell count overflows".into()))?)?;
        let bitmaps = BitmapList::open(&mut cursor, count + 1, deep)?;
        let index = H3Index { resolution: resolution as u8, cells, bitmaps };
        if deep {
            for i in 0..count {
                let cell = index.cell_id(i);
                if CellIndex::try_from(cell).is_err() || (i > 0 && index.cell_id(i - 1) >= cell) {
                    return Err(Malformed(format!("H3 cell {i} ({cell:#x}) is not a cell or out of order")));
                }
            }
        }
        Ok(index)
    }

    pub fn len(&self) -> usize {
        self.bitmaps.len - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn cell_id(&self, i: usize) -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.cells[8 * i..8 * i + 8]);
        u64::from_le_bytes(word)
    }

    /// The `i`-th cell and its docs.
    pub fn cell(&self, i: usize) -> Result<(CellIndex, RoaringBitmap), Malformed> {
        let id = self.cell_id(i);
        let cell = CellIndex::try_from(id).map_err(|_| Malformed(format!("H3 cell {i} ({id:#x}) is not a cell")))?;
        Ok((cell, self.bitmaps.get(i)?))
    }

    /// Docs the index could not place in a cell.
    pub fn unplaced(&self) -> Result<RoaringBitmap, Malformed> {
        self.bitmaps.get(self.len())
    }
}

/// Files a cell's docs by how a leaf covers the cell: taken whole, to be tested, or neither.
pub fn split(cover: Cover, docs: &RoaringBitmap, whole: &mut RoaringBitmap, test: &mut RoaringBitmap) {
    match cover {
        Cover::All => *whole |= docs,
        Cover::Some => *test |= docs,
        Cover::None => {}
    }
}

/// The H3 index of a consuming segment: each cell's docs and the unplaced docs, added to
/// by the one writer as rows arrive; a reader keeps the docs below its snapshot's count.
pub struct ConsumingH3 {
    resolution: Resolution,
    docs: Mutex<CellDocs>,
}

#[derive(Default)]
struct CellDocs {
    cells: FxHashMap<u64, RoaringBitmap>,
    unplaced: RoaringBitmap,
}

impl ConsumingH3 {
    pub fn new(resolution: u8) -> Option<ConsumingH3> {
        let resolution = Resolution::try_from(resolution).ok()?;
        Some(ConsumingH3 { resolution, docs: Mutex::new(CellDocs::default()) })
    }

    /// Files `doc` under its value's cell (`None`: a null doc).
    pub fn add(&self, doc: u32, value: Option<&[u8]>) {
        let cell = value.and_then(|v| cell_of(v, self.resolution));
        let mut docs = self.docs.lock();
        // Docs arrive in increasing order from the one writer: the push always fits.
        let _ = match cell {
            Some(cell) => docs.cells.entry(u64::from(cell)).or_default().try_push(doc),
            None => docs.unplaced.try_push(doc),
        };
    }

    /// For a leaf, among docs `0..num_docs`: the docs of cells it surely covers, and the
    /// docs that must be tested one by one.
    pub fn candidates(&self, geo: &crate::geo_filter::GeoMatcher, num_docs: u32) -> (RoaringBitmap, RoaringBitmap) {
        let docs = self.docs.lock();
        let (mut whole, mut test) = (RoaringBitmap::new(), docs.unplaced.clone());
        for (&id, cell_docs) in &docs.cells {
            // An id the writer made from a cell is always one.
            let cover = CellIndex::try_from(id).map_or(Cover::Some, |cell| geo.cover(cell));
            split(cover, cell_docs, &mut whole, &mut test);
        }
        whole.remove_range(num_docs..);
        test.remove_range(num_docs..);
        (whole, test)
    }

    pub fn memory_bytes(&self) -> usize {
        let docs = self.docs.lock();
        docs.cells.capacity() * 48
            + docs.cells.values().map(RoaringBitmap::serialized_size).sum::<usize>()
            + docs.unplaced.serialized_size()
    }
}
