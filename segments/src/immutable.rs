//! The immutable segment: one file, memory-mapped, verified when opened.

use crate::bitmap_index::{open_inverted, InvertedIndex, RangeIndex, SortedIndex};
use crate::bloom::Bloom;
use crate::coded_strings::{CodedStrings, RAW_CODEC_FSST};
use crate::dictionary::Dictionary;
use crate::error::Malformed;
use crate::error::{Result, SegmentError};
use crate::format::{read_footer, u32_at, version_needed, ColumnMetadata, Cursor, SectionKind, SegmentMetadata};
use crate::forward::{MvIds, PackedIds, RawForward};
use crate::hex_strings::{HexStrings, RAW_CODEC_HEX};
use crate::physical::Physical;
use crate::symbol_table::SymbolTable;
use cuvee_catalog::{Schema, SchemaConfig};
use memmap2::Mmap;
use roaring::RoaringBitmap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// The bytes of a segment. Sections are read in place as `u32`/`u64` slices, so the bytes
/// start 8-aligned: a mapping is page-aligned, and owned bytes are held in `u64` words.
enum Backing {
    Mapped(Mmap),
    Owned { words: Vec<u64>, len: usize },
}

impl Backing {
    fn owned(bytes: Vec<u8>) -> Backing {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(&bytes);
        Backing::Owned { words, len: bytes.len() }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mapped(m) => m,
            Backing::Owned { words, len } => &bytemuck::cast_slice(words)[..*len],
        }
    }
}

pub struct ImmutableSegment {
    path: PathBuf,
    backing: Backing,
    metadata: SegmentMetadata,
    schema: Schema,
    sections: HashMap<(usize, SectionKind), (usize, usize)>,
    nulls: Vec<RoaringBitmap>,
    pub(crate) validity: crate::valid_docs::ValiditySlot,
    /// Per column, the coder of literals of an FSST-coded raw column, rebuilt from its
    /// stored symbols by the first equality that needs it.
    coders: Vec<OnceLock<std::result::Result<Arc<SymbolTable>, Malformed>>>,
}

impl std::fmt::Debug for ImmutableSegment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ImmutableSegment({}, {} docs)", self.metadata.name, self.metadata.num_docs)
    }
}

/// The forward index of a column, in whichever form the column has.
pub enum Forward<'a> {
    Ids(PackedIds<'a>),
    MvIds(MvIds<'a>),
    Raw(RawForward<'a>),
    /// A single-value string column's values, each coded alone (format v5).
    Coded(CodedStrings<'a>),
    /// A single-value string column's hex digits in fixed-width slots (format v9).
    Hex(HexStrings<'a>),
}

impl Forward<'_> {
    /// The docs the forward index holds values for.
    pub fn num_docs(&self) -> usize {
        match self {
            Forward::Ids(ids) => ids.len,
            Forward::MvIds(mv) => mv.num_docs,
            Forward::Raw(raw) => raw.num_docs,
            Forward::Coded(coded) => coded.num_docs,
            Forward::Hex(hex) => hex.num_docs,
        }
    }
}

/// Everything stored for one column, read in place from the segment.
pub struct ColumnReader<'a> {
    pub index: usize,
    pub meta: &'a ColumnMetadata,
    pub physical: Physical,
    pub dictionary: Option<Dictionary<'a>>,
    pub forward: Forward<'a>,
    pub inverted: Option<InvertedIndex<'a>>,
    pub sorted: Option<SortedIndex<'a>>,
    pub range: Option<RangeIndex<'a>>,
    pub bloom: Option<Bloom<'a>>,
    pub h3: Option<crate::h3_index::H3Index<'a>>,
    pub nulls: &'a RoaringBitmap,
    /// How the `nulls` section stores them, for size reports.
    pub nulls_codec: Option<&'static str>,
}

impl ColumnReader<'_> {
    /// The codec a section of this column chose at seal, where the writer had a choice
    /// (`dictionary`, `inverted`, `sorted`, `forward.raw`, the offsets of `forward.mv_ids`,
    /// `nulls`), for size reports.
    pub fn codec(&self, kind: SectionKind) -> Option<&'static str> {
        match kind {
            SectionKind::Dictionary => self.dictionary.map(|d| d.codec()),
            SectionKind::Inverted => self.inverted.as_ref().map(|i| i.codec()),
            SectionKind::Sorted => self.sorted.as_ref().map(|s| s.codec()),
            SectionKind::ForwardRaw => match &self.forward {
                Forward::Raw(raw) => Some(raw.codec_name()),
                Forward::Coded(_) => Some("fsst"),
                Forward::Hex(_) => Some("hex"),
                _ => None,
            },
            SectionKind::Nulls => self.nulls_codec,
            SectionKind::ForwardMvIds => match &self.forward {
                Forward::MvIds(mv) => Some(mv.offsets_codec()),
                _ => None,
            },
            _ => None,
        }
    }
}

impl ImmutableSegment {
    /// Maps and verifies a segment file. Any damage is a `Corrupt` error naming the file.
    pub fn open(path: &Path) -> Result<ImmutableSegment> {
        let io = |e| SegmentError::Io { path: path.to_path_buf(), source: e };
        let file = std::fs::File::open(path).map_err(io)?;
        // Safety of the mapping: segment files are immutable once published (written to a
        // temporary name and renamed), and cuvee never writes to a published file.
        let mmap = unsafe { Mmap::map(&file) }.map_err(io)?;
        Self::from_backing(path.to_path_buf(), Backing::Mapped(mmap))
    }

    /// A segment held in memory (tests, and segments fetched from an object store).
    pub fn from_bytes(path: PathBuf, bytes: Vec<u8>) -> Result<ImmutableSegment> {
        Self::from_backing(path, Backing::owned(bytes))
    }

    fn from_backing(path: PathBuf, backing: Backing) -> Result<ImmutableSegment> {
        let name_hint = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let corrupt = |reason: String| SegmentError::Corrupt { segment: name_hint.clone(), file: path.clone(), reason };
        let metadata = read_footer(backing.bytes(), &corrupt)?;
        let corrupt =
            |reason: String| SegmentError::Corrupt { segment: metadata.name.clone(), file: path.clone(), reason };
        let schema_config: SchemaConfig =
            serde_json::from_value(metadata.schema.clone()).map_err(|e| corrupt(format!("embedded schema: {e}")))?;
        let schema = Schema::new(schema_config).map_err(|e| corrupt(format!("embedded schema: {e}")))?;
        if schema.columns().len() != metadata.columns.len() {
            return Err(corrupt("column list does not match the embedded schema".into()));
        }
        let mut sections = HashMap::new();
        for section in &metadata.sections {
            let column = metadata
                .columns
                .iter()
                .position(|c| c.name == section.column)
                .ok_or_else(|| corrupt(format!("section for unknown column {}", section.column)))?;
            sections.insert((column, section.kind), (section.offset as usize, section.length as usize));
        }
        let mut segment = ImmutableSegment {
            path,
            backing,
            metadata,
            schema,
            sections,
            nulls: Vec::new(),
            validity: Default::default(),
            coders: Vec::new(),
        };
        segment.coders = (0..segment.metadata.columns.len()).map(|_| OnceLock::new()).collect();
        for column in 0..segment.metadata.columns.len() {
            let nulls = match segment.section(column, SectionKind::Nulls) {
                Some(bytes) => {
                    crate::null_docs::read(bytes, segment.metadata.num_docs, segment.metadata.format_version)
                        .map_err(|e| segment.corrupt(format!("nulls of column {column}: {e}")))?
                }
                None => RoaringBitmap::new(),
            };
            segment.nulls.push(nulls);
        }
        // Check every column's structure once, so that damage is found now, not mid-query;
        // later accesses skip the O(cardinality) checks.
        for column in 0..segment.metadata.columns.len() {
            segment.open_column(column, true)?;
        }
        Ok(segment)
    }

    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn metadata(&self) -> &SegmentMetadata {
        &self.metadata
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn num_docs(&self) -> u32 {
        self.metadata.num_docs
    }

    pub fn size_bytes(&self) -> usize {
        self.backing.bytes().len()
    }

    pub(crate) fn corrupt(&self, reason: String) -> SegmentError {
        SegmentError::Corrupt { segment: self.metadata.name.clone(), file: self.path.clone(), reason }
    }

    fn section(&self, column: usize, kind: SectionKind) -> Option<&[u8]> {
        self.sections.get(&(column, kind)).map(|&(offset, len)| &self.backing.bytes()[offset..offset + len])
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.metadata.columns.iter().position(|c| c.name == name)
    }

    /// The coder of literals of column `index`, an FSST-coded raw column (`coded`), built
    /// once per segment.
    pub(crate) fn coder(&self, index: usize, coded: &CodedStrings) -> Result<Arc<SymbolTable>> {
        let slot = self.coders.get(index).ok_or_else(|| self.corrupt(format!("no column {index}")))?;
        slot.get_or_init(|| coded.coder().map(Arc::new))
            .clone()
            .map_err(|e| self.corrupt(format!("column {}: {e}", self.metadata.columns[index].name)))
    }

    pub fn column(&self, name: &str) -> Result<ColumnReader<'_>> {
        let index = self
            .column_index(name)
            .ok_or_else(|| SegmentError::InvalidRequest(format!("segment {} has no column \"{name}\"", self.name())))?;
        self.column_at(index)
    }

    pub fn column_at(&self, index: usize) -> Result<ColumnReader<'_>> {
        self.open_column(index, false)
    }

    fn open_column(&self, index: usize, deep: bool) -> Result<ColumnReader<'_>> {
        let meta =
            self.metadata.columns.get(index).ok_or_else(|| {
                SegmentError::InvalidRequest(format!("segment {} has no column {index}", self.name()))
            })?;
        let physical = Physical::of(meta.data_type);
        let wrap = |kind: SectionKind| {
            let name = meta.name.clone();
            move |reason: Malformed| self.corrupt(format!("column {name}, section {}: {reason}", kind.name()))
        };
        let num_docs = self.metadata.num_docs;
        let version = self.metadata.format_version;
        let dictionary = match self.section(index, SectionKind::Dictionary) {
            Some(bytes) => {
                Some(Dictionary::open(bytes, physical, version, deep).map_err(wrap(SectionKind::Dictionary))?)
            }
            None if meta.dictionary => return Err(self.corrupt(format!("column {} has no dictionary", meta.name))),
            None => None,
        };
        let cardinality = dictionary.as_ref().map_or(0, |d| d.len());
        if meta.dictionary && cardinality != meta.cardinality as usize {
            return Err(self.corrupt(format!(
                "column {}: dictionary has {cardinality} values, metadata says {}",
                meta.name, meta.cardinality
            )));
        }
        let sorted = match self.section(index, SectionKind::Sorted) {
            Some(bytes) => Some(
                SortedIndex::open(bytes, cardinality, num_docs, version, deep).map_err(wrap(SectionKind::Sorted))?,
            ),
            None => None,
        };
        let forward = if let Some(bytes) = self.section(index, SectionKind::ForwardIds) {
            let ids = PackedIds::open(&mut Cursor::new(bytes), cardinality).map_err(wrap(SectionKind::ForwardIds))?;
            if deep {
                ids.check_below(cardinality).map_err(wrap(SectionKind::ForwardIds))?;
            }
            Forward::Ids(ids)
        } else if let Some(bytes) = self.section(index, SectionKind::ForwardMvIds) {
            let ids = MvIds::open(bytes, cardinality, version, deep).map_err(wrap(SectionKind::ForwardMvIds))?;
            if deep {
                ids.ids.check_below(cardinality).map_err(wrap(SectionKind::ForwardMvIds))?;
            }
            Forward::MvIds(ids)
        } else if let Some(bytes) = self.section(index, SectionKind::ForwardRaw) {
            let single_value_bytes = |codec: &str| {
                if meta.single_value && matches!(physical, Physical::Var(_)) {
                    Ok(())
                } else {
                    Err(self
                        .corrupt(format!("column {}: {codec} for a column that is not single-value bytes", meta.name)))
                }
            };
            match (bytes.len() >= 16).then(|| u32_at(bytes, 12)) {
                Some(RAW_CODEC_FSST) if version >= 5 => {
                    single_value_bytes("FSST codes")?;
                    Forward::Coded(CodedStrings::open(bytes, deep).map_err(wrap(SectionKind::ForwardRaw))?)
                }
                Some(RAW_CODEC_HEX) if version >= 9 => {
                    single_value_bytes("hex slots")?;
                    Forward::Hex(HexStrings::open(bytes).map_err(wrap(SectionKind::ForwardRaw))?)
                }
                _ => {
                    // A codec newer than the file's version is damage, not a choice of its
                    // writer (versions 1 and 2 held zstd chunks too, which `version_needed`
                    // counts as 3).
                    let needed = version_needed(SectionKind::ForwardRaw, bytes);
                    if needed > version.max(3) {
                        return Err(self.corrupt(format!(
                            "column {}: raw chunk codec {} needs format version {needed}, the file is version {version}",
                            meta.name,
                            u32_at(bytes, 12)
                        )));
                    }
                    let raw = RawForward::open(bytes, physical, !meta.single_value);
                    Forward::Raw(raw.map_err(wrap(SectionKind::ForwardRaw))?)
                }
            }
        } else if let (Some(SortedIndex::Starts(starts)), true) = (&sorted, meta.single_value && version >= 3) {
            Forward::Ids(PackedIds::from_runs(*starts))
        } else {
            return Err(self.corrupt(format!("column {} has no forward index", meta.name)));
        };
        if forward.num_docs() != num_docs as usize {
            return Err(self.corrupt(format!(
                "column {}: forward index has {} docs, segment has {num_docs}",
                meta.name,
                forward.num_docs()
            )));
        }
        let inverted = match self.section(index, SectionKind::Inverted) {
            Some(bytes) => {
                Some(open_inverted(bytes, cardinality, num_docs, version, deep).map_err(wrap(SectionKind::Inverted))?)
            }
            None => None,
        };
        let range = match self.section(index, SectionKind::Range) {
            Some(bytes) => Some(RangeIndex::open(bytes, deep).map_err(wrap(SectionKind::Range))?),
            None => None,
        };
        let bloom = match self.section(index, SectionKind::Bloom) {
            Some(bytes) => Some(Bloom::open(bytes).map_err(wrap(SectionKind::Bloom))?),
            None => None,
        };
        let h3 = match self.section(index, SectionKind::H3) {
            Some(bytes) => Some(crate::h3_index::H3Index::open(bytes, deep).map_err(wrap(SectionKind::H3))?),
            None => None,
        };
        Ok(ColumnReader {
            index,
            meta,
            physical,
            dictionary,
            forward,
            inverted,
            sorted,
            range,
            bloom,
            h3,
            nulls: &self.nulls[index],
            nulls_codec: self.section(index, SectionKind::Nulls).map(crate::null_docs::codec_name),
        })
    }
}
