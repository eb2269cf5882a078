//! Evaluating a [`Predicate`] to the bitmap of matching docs, shared by immutable and mutable
//! segments: they only answer leaves ("which docs have any value matching this?"); the
//! logic of AND, OR, NOT, negation and nulls lives here once.

use crate::bitmap_index::all_docs;
use crate::error::Result;
use crate::predicate::{CompareOp, Leaf, Matcher, Predicate};
use cuvee_catalog::DataType;
use roaring::RoaringBitmap;
use std::fmt;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalOptions {
    /// SQL null semantics (Pinot's `enableNullHandling`); off = nulls are their default values.
    pub null_handling: bool,
}

/// How a leaf was answered, for EXPLAIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The dictionary alone: no value matched, or every value did.
    Dictionary,
    SortedIndex,
    InvertedIndex,
    RangeIndex,
    /// The H3 index: whole cells, with the docs of boundary cells tested one by one.
    H3Index,
    /// The forward index, on dictionary ids.
    ScanIds,
    /// The forward index, on raw values.
    ScanValues,
    NullBitmap,
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Access::Dictionary => "dictionary",
            Access::SortedIndex => "sorted_index",
            Access::InvertedIndex => "inverted_index",
            Access::RangeIndex => "range_index",
            Access::H3Index => "h3_index",
            Access::ScanIds => "scan_dictionary_ids",
            Access::ScanValues => "scan_raw_values",
            Access::NullBitmap => "null_bitmap",
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct IndexUse {
    pub column: String,
    pub access: Access,
    pub matched_docs: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub docs: RoaringBitmap,
    pub trace: Vec<IndexUse>,
}

/// What a segment must answer for evaluation.
pub(crate) trait LeafSource {
    fn num_docs(&self) -> u32;
    fn column_type(&self, column: &str) -> Result<(usize, DataType)>;
    fn nulls(&self, column: usize) -> RoaringBitmap;
    /// Docs (among `0..num_docs`) with at least one value matching.
    fn any_match(&self, column: usize, matcher: &Matcher) -> Result<(RoaringBitmap, Access)>;

    /// Docs among `candidates` with a value matching, when testing just those docs is
    /// cheaper than answering the leaf for the whole segment; `None` otherwise. Docs
    /// outside `candidates` may be anything: the caller ANDs them away.
    fn any_match_within(
        &self,
        _column: usize,
        _matcher: &Matcher,
        _candidates: &RoaringBitmap,
    ) -> Result<Option<(RoaringBitmap, Access)>> {
        Ok(None)
    }
}

/// Docs where the predicate is true, and where it is unknown (null involved).
struct Truth {
    t: RoaringBitmap,
    u: RoaringBitmap,
}

pub(crate) fn evaluate(source: &dyn LeafSource, predicate: &Predicate, options: EvalOptions) -> Result<Evaluation> {
    let mut trace = Vec::new();
    let truth = eval(source, predicate, options, &mut trace, None)?;
    Ok(Evaluation { docs: truth.t, trace })
}

/// Exact-value leaves first in a conjunction: they are answered from an index or a
/// dictionary look-up, and the few docs they leave narrow what the other parts test.
fn cost_rank(predicate: &Predicate) -> u8 {
    match predicate {
        Predicate::Leaf { leaf: Leaf::Compare(CompareOp::Eq, _) | Leaf::In(_), negated: false, .. } => 0,
        Predicate::Leaf { .. } | Predicate::IsNull { .. } | Predicate::Const(_) => 1,
        _ => 2,
    }
}

/// The truth of `predicate`, exact on the docs of `within` (all docs when `None`); outside
/// `within` it may be anything, because the caller (a conjunction) discards those docs.
fn eval(
    source: &dyn LeafSource,
    predicate: &Predicate,
    options: EvalOptions,
    trace: &mut Vec<IndexUse>,
    within: Option<&RoaringBitmap>,
) -> Result<Truth> {
    let n = source.num_docs();
    Ok(match predicate {
        Predicate::Const(b) => {
            Truth { t: if *b { all_docs(n) } else { RoaringBitmap::new() }, u: RoaringBitmap::new() }
        }
        Predicate::IsNull { column, negated } => {
            let (index, _) = source.column_type(column)?;
            let nulls = source.nulls(index);
            let t = if *negated { all_docs(n) - &nulls } else { nulls };
            trace.push(IndexUse { column: column.clone(), access: Access::NullBitmap, matched_docs: t.len() });
            Truth { t, u: RoaringBitmap::new() }
        }
        Predicate::Leaf { column, leaf, negated } => {
            let (index, data_type) = source.column_type(column)?;
            let matcher = Matcher::compile(leaf, data_type)?;
            let narrowed = match within {
                Some(candidates) => source.any_match_within(index, &matcher, candidates)?,
                None => None,
            };
            let (any, access) = match narrowed {
                Some(found) => found,
                None => source.any_match(index, &matcher)?,
            };
            let unknown = if options.null_handling { source.nulls(index) } else { RoaringBitmap::new() };
            let t = if *negated { all_docs(n) - any - &unknown } else { any - &unknown };
            trace.push(IndexUse { column: column.clone(), access, matched_docs: t.len() });
            Truth { t, u: unknown }
        }
        Predicate::And(parts) => {
            let mut acc = Truth { t: all_docs(n), u: RoaringBitmap::new() };
            let mut ordered: Vec<&Predicate> = parts.iter().collect();
            ordered.sort_by_key(|p| cost_rank(p));
            for (i, part) in ordered.into_iter().enumerate() {
                let acc_maybe = &acc.t | &acc.u;
                // After the first part only the docs it may keep matter to the others.
                let narrowed = match (i, within) {
                    (0, _) => None,
                    (_, Some(w)) => Some(&acc_maybe & w),
                    (_, None) => None,
                };
                let candidates = if i == 0 { within } else { narrowed.as_ref().or(Some(&acc_maybe)) };
                let p = eval(source, part, options, trace, candidates)?;
                // unknown AND x: unknown unless x is false.
                let p_maybe = &p.t | &p.u;
                let u = (&acc.u | &p.u) & acc_maybe & p_maybe;
                acc = Truth { t: acc.t & p.t, u };
                if acc.t.is_empty() && acc.u.is_empty() {
                    break;
                }
            }
            acc
        }
        Predicate::Or(parts) => {
            let mut acc = Truth { t: RoaringBitmap::new(), u: RoaringBitmap::new() };
            for part in parts {
                let p = eval(source, part, options, trace, within)?;
                let t = acc.t | p.t;
                let u = (acc.u | p.u) - &t;
                acc = Truth { t, u };
            }
            acc
        }
        Predicate::Not(inner) => {
            let p = eval(source, inner, options, trace, within)?;
            Truth { t: all_docs(n) - p.t - &p.u, u: p.u }
        }
    })
}
