//! Which docs of a segment queries see, for tables that keep one row per primary key
//! (upsert): a bitmap ingestion keeps current as newer rows supersede older ones, in this
//! segment or another. Readers AND it into every filter's answer (never a per-row check);
//! `skipUpsert` reads past it.

use parking_lot::RwLock;
use roaring::RoaringBitmap;
use std::sync::OnceLock;

#[derive(Debug, Default)]
pub struct ValidDocs {
    docs: RwLock<RoaringBitmap>,
}

impl ValidDocs {
    pub fn new(docs: RoaringBitmap) -> ValidDocs {
        ValidDocs { docs: RwLock::new(docs) }
    }

    /// Keeps only the valid docs of `docs`.
    pub fn retain_valid(&self, docs: &mut RoaringBitmap) {
        *docs &= &*self.docs.read();
    }

    pub fn len(&self) -> u64 {
        self.docs.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.read().is_empty()
    }

    pub fn contains(&self, doc: u32) -> bool {
        self.docs.read().contains(doc)
    }

    pub fn copy(&self) -> RoaringBitmap {
        self.docs.read().clone()
    }

    pub fn insert(&self, doc: u32) {
        self.docs.write().insert(doc);
    }

    pub fn remove(&self, doc: u32) {
        self.docs.write().remove(doc);
    }

    /// Replaces every valid doc at once (a rebuilt key map).
    pub fn replace(&self, docs: RoaringBitmap) {
        *self.docs.write() = docs;
    }

    /// Makes `insert` valid and `remove` invalid in one step, so no reader of this segment
    /// sees both or neither (a key's new version in the same segment as its old one).
    pub fn swap(&self, insert: u32, remove: u32) {
        let mut docs = self.docs.write();
        docs.remove(remove);
        docs.insert(insert);
    }
}

/// A segment's valid docs, set once by ingestion when the table keeps one row per key; a
/// segment without them shows every doc.
#[derive(Debug, Default)]
pub(crate) struct ValiditySlot(OnceLock<std::sync::Arc<ValidDocs>>);

impl ValiditySlot {
    pub(crate) fn get(&self) -> Option<&std::sync::Arc<ValidDocs>> {
        self.0.get()
    }

    pub(crate) fn set(&self, valid: std::sync::Arc<ValidDocs>) -> bool {
        self.0.set(valid).is_ok()
    }
}
