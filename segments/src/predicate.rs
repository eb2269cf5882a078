//! A small predicate IR, evaluated by segments to a roaring bitmap of doc ids.
//!
//! Semantics (Pinot's):
//! - A multi-value doc matches a positive predicate (`=`, `<`, `IN`, `LIKE`, …) if *any*
//!   of its values does; it matches `<>`, `NOT IN` and `NOT LIKE` only if *all* of its values
//!   do, i.e. if none matches the positive form.
//! - Literals are coerced to the column's type: numbers across numeric types with exact
//!   bounds (`int_col < 5.5` is `int_col <= 5`, `int_col = 5.5` matches nothing), text
//!   compared with numbers is parsed, and anything compared with a text column is compared
//!   as text.
//! - Nulls: with null handling off (Pinot's default) a null doc holds its column's default
//!   value and predicates see that value; `IS NULL` always uses the null bitmap. With null
//!   handling on, comparisons on a null are unknown (SQL three-valued logic), so neither a
//!   predicate nor its negation matches it.

use crate::geo_filter::{GeoMatcher, ShapeBytes};
use crate::physical::{FixedKind, Physical, VarKind};
use cuvee_catalog::{DataType, Value};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// The positive form of a leaf predicate on one column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Leaf {
    Compare(CompareOp, Value),
    /// Inclusive on both ends.
    Between(Value, Value),
    In(Vec<Value>),
    /// SQL LIKE: `%` any run, `_` one character, `\` escapes.
    Like(String),
    /// Matches if the regular expression is found anywhere in the value (Pinot's REGEXP_LIKE).
    Regexp(String),
    /// `ST_Distance(column, of) < distance` (`<=` when inclusive): `of` a serialised shape.
    WithinDistance {
        of: ShapeBytes,
        distance: f64,
        inclusive: bool,
    },
    /// `ST_Within(column, area)` (equally `ST_Contains(area, column)`): `area` a serialised shape.
    Within(ShapeBytes),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Predicate {
    /// `negated` turns `=` into `<>`, `IN` into `NOT IN`, `LIKE` into `NOT LIKE` (all-values semantics).
    Leaf {
        column: String,
        leaf: Leaf,
        negated: bool,
    },
    IsNull {
        column: String,
        negated: bool,
    },
    And(Vec<Predicate>),
    Or(Vec<Predicate>),
    Not(Box<Predicate>),
    Const(bool),
}

impl Predicate {
    pub fn eq(column: &str, value: Value) -> Predicate {
        Predicate::Leaf { column: column.into(), leaf: Leaf::Compare(CompareOp::Eq, value), negated: false }
    }
    pub fn not_eq(column: &str, value: Value) -> Predicate {
        Predicate::Leaf { column: column.into(), leaf: Leaf::Compare(CompareOp::Eq, value), negated: true }
    }
    pub fn compare(column: &str, op: CompareOp, value: Value) -> Predicate {
        Predicate::Leaf { column: column.into(), leaf: Leaf::Compare(op, value), negated: false }
    }
    pub fn between(column: &str, low: Value, high: Value) -> Predicate {
        Predicate::Leaf { column: column.into(), leaf: Leaf::Between(low, high), negated: false }
    }
    pub fn is_in(column: &str, values: Vec<Value>) -> Predicate {
        Predicate::Leaf { column: column.into(), leaf: Leaf::In(values), negated: false }
    }
    pub fn not_in(column: &str, values: Vec<Value>) -> Predicate {
        Predicate::Leaf { column: column.into(), leaf: Leaf::In(values), negated: true }
    }
    pub fn like(column: &str, pattern: &str) -> Predicate {
        Predicate::Leaf { column: column.into(), leaf: Leaf::Like(pattern.into()), negated: false }
    }
    pub fn regexp_like(column: &str, pattern: &str) -> Predicate {
        Predicate::Leaf { column: column.into(), leaf: Leaf::Regexp(pattern.into()), negated: false }
    }
    pub fn is_null(column: &str) -> Predicate {
        Predicate::IsNull { column: column.into(), negated: false }
    }
    pub fn is_not_null(column: &str) -> Predicate {
        Predicate::IsNull { column: column.into(), negated: true }
    }

    /// Every column the predicate reads.
    pub fn columns(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.visit_columns(&mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn visit_columns<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Predicate::Leaf { column, .. } | Predicate::IsNull { column, .. } => out.push(column),
            Predicate::And(ps) | Predicate::Or(ps) => ps.iter().for_each(|p| p.visit_columns(out)),
            Predicate::Not(p) => p.visit_columns(out),
            Predicate::Const(_) => {}
        }
    }
}

/// A leaf compiled against a column's physical type.
#[derive(Debug, Clone)]
pub enum Matcher {
    Nothing,
    Everything,
    /// Fixed-width keys in `lo..=hi`.
    KeyRange(u64, u64),
    KeySet(Vec<u64>),
    /// Variable-width values between two bounds (each inclusive or not).
    BytesRange {
        kind: VarKind,
        lo: Option<(Vec<u8>, bool)>,
        hi: Option<(Vec<u8>, bool)>,
    },
    BytesSet {
        kind: VarKind,
        values: Vec<Vec<u8>>,
    },
    /// A regular expression over the value's text.
    Pattern(Regex),
    /// A geospatial test of a serialised shape (a BYTES column).
    Geo(Box<GeoMatcher>),
}

impl Matcher {
    /// The matcher of a leaf; a pattern that is not a valid expression is an invalid request.
    pub fn compile(leaf: &Leaf, data_type: DataType) -> Result<Matcher, crate::SegmentError> {
        let physical = Physical::of(data_type);
        match leaf {
            Leaf::Compare(op, value) => Ok(compare(*op, value, data_type, physical)),
            Leaf::Between(lo, hi) => {
                let a = compare(CompareOp::Ge, lo, data_type, physical);
                let b = compare(CompareOp::Le, hi, data_type, physical);
                Ok(intersect(a, b))
            }
            Leaf::In(values) => {
                let parts: Vec<Matcher> =
                    values.iter().map(|v| compare(CompareOp::Eq, v, data_type, physical)).collect();
                Ok(match physical {
                    Physical::Fixed(_) => {
                        let mut keys: Vec<u64> = parts
                            .iter()
                            .filter_map(|m| if let Matcher::KeyRange(k, _) = m { Some(*k) } else { None })
                            .collect();
                        keys.sort_unstable();
                        keys.dedup();
                        if keys.is_empty() {
                            Matcher::Nothing
                        } else {
                            Matcher::KeySet(keys)
                        }
                    }
                    Physical::Var(kind) => {
                        let mut values: Vec<Vec<u8>> = parts
                            .into_iter()
                            .flat_map(|m| if let Matcher::BytesSet { values, .. } = m { values } else { Vec::new() })
                            .collect();
                        values.sort_by(|a, b| kind.compare(a, b));
                        values.dedup_by(|a, b| kind.compare(a, b).is_eq());
                        if values.is_empty() {
                            Matcher::Nothing
                        } else {
                            Matcher::BytesSet { kind, values }
                        }
                    }
                })
            }
            Leaf::Like(pattern) => Regex::new(&like_to_regex(pattern))
                .map(Matcher::Pattern)
                .map_err(|e| crate::SegmentError::InvalidRequest(format!("LIKE pattern \"{pattern}\": {e}"))),
            Leaf::Regexp(pattern) => Regex::new(pattern)
                .map(Matcher::Pattern)
                .map_err(|e| crate::SegmentError::InvalidRequest(format!("REGEXP_LIKE pattern \"{pattern}\": {e}"))),
            Leaf::WithinDistance { .. } | Leaf::Within(_) if data_type != DataType::Bytes => {
                Err(crate::SegmentError::InvalidRequest(format!(
                    "a geospatial filter needs a BYTES column, not {data_type}"
                )))
            }
            Leaf::WithinDistance { of, distance, inclusive } => GeoMatcher::near(&of.0, *distance, *inclusive)
                .map(|m| Matcher::Geo(Box::new(m)))
                .map_err(crate::SegmentError::InvalidRequest),
            Leaf::Within(area) => GeoMatcher::within(&area.0)
                .map(|m| Matcher::Geo(Box::new(m)))
                .map_err(crate::SegmentError::InvalidRequest),
        }
    }

    pub fn test_key(&self, key: u64, kind: FixedKind) -> bool {
        match self {
            Matcher::Nothing => false,
            Matcher::Everything => true,
            Matcher::KeyRange(lo, hi) => *lo <= key && key <= *hi,
            Matcher::KeySet(keys) => keys.binary_search(&key).is_ok(),
            Matcher::Pattern(re) => re.is_match(&kind.value(key).to_string()),
            Matcher::BytesRange { .. } | Matcher::BytesSet { .. } | Matcher::Geo(_) => false,
        }
    }

    /// The values of an equality or a short IN list whose match is byte equality (every
    /// kind but BIG_DECIMAL, whose equal values may be spelt differently): what a search
    /// of stored bytes, or of codes for codes, answers without decoding a doc.
    pub fn equal_bytes(&self) -> Option<&[Vec<u8>]> {
        match self {
            Matcher::BytesSet { kind, values } if *kind != VarKind::BigDecimal && values.len() <= 8 => Some(values),
            _ => None,
        }
    }

    pub fn test_bytes(&self, bytes: &[u8]) -> bool {
        match self {
            Matcher::Nothing => false,
            Matcher::Everything => true,
            Matcher::BytesRange { kind, lo, hi } => {
                let above = lo.as_ref().is_none_or(|(b, inclusive)| match kind.compare(bytes, b) {
                    Ordering::Greater => true,
                    Ordering::Equal => *inclusive,
                    Ordering::Less => false,
                });
                let below = hi.as_ref().is_none_or(|(b, inclusive)| match kind.compare(bytes, b) {
                    Ordering::Less => true,
                    Ordering::Equal => *inclusive,
                    Ordering::Greater => false,
                });
                above && below
            }
            Matcher::BytesSet { kind, values } => values.binary_search_by(|v| kind.compare(v, bytes)).is_ok(),
            Matcher::Pattern(re) => re.is_match(&String::from_utf8_lossy(bytes)),
            Matcher::Geo(geo) => geo.test(bytes),
            Matcher::KeyRange(..) | Matcher::KeySet(_) => false,
        }
    }
}

fn intersect(a: Matcher, b: Matcher) -> Matcher {
    match (a, b) {
        (Matcher::Nothing, _) | (_, Matcher::Nothing) => Matcher::Nothing,
        (Matcher::Everything, m) | (m, Matcher::Everything) => m,
        (Matcher::KeyRange(a0, a1), Matcher::KeyRange(b0, b1)) => {
            let (lo, hi) = (a0.max(b0), a1.min(b1));
            if lo <= hi {
                Matcher::KeyRange(lo, hi)
            } else {
                Matcher::Nothing
            }
        }
        (Matcher::BytesRange { kind, lo, .. }, Matcher::BytesRange { hi, .. }) => {
            if let (Some((l, li)), Some((h, hi_inc))) = (&lo, &hi) {
                match kind.compare(l, h) {
                    Ordering::Greater => return Matcher::Nothing,
                    Ordering::Equal if !(*li && *hi_inc) => return Matcher::Nothing,
                    _ => {}
                }
            }
            Matcher::BytesRange { kind, lo, hi }
        }
        (Matcher::BytesSet { kind, values }, Matcher::BytesRange { hi, .. })
        | (Matcher::BytesRange { hi, .. }, Matcher::BytesSet { kind, values }) => {
            let range = Matcher::BytesRange { kind, lo: None, hi };
            let kept: Vec<Vec<u8>> = values.into_iter().filter(|v| range.test_bytes(v)).collect();
            if kept.is_empty() {
                Matcher::Nothing
            } else {
                Matcher::BytesSet { kind, values: kept }
            }
        }
        (a, _) => a,
    }
}

/// Compiles `column <op> value` for a column of `data_type`.
fn compare(op: CompareOp, value: &Value, data_type: DataType, physical: Physical) -> Matcher {
    match physical {
        Physical::Fixed(kind) => match fixed_bound(op, value, kind) {
            Bound::Never => Matcher::Nothing,
            Bound::Always => Matcher::Everything,
            Bound::Key(op, k) => match op {
                CompareOp::Eq => Matcher::KeyRange(k, k),
                CompareOp::Lt if k == 0 => Matcher::Nothing,
                CompareOp::Lt => Matcher::KeyRange(0, k - 1),
                CompareOp::Le => Matcher::KeyRange(0, k),
                CompareOp::Gt if k == u64::MAX => Matcher::Nothing,
                CompareOp::Gt => Matcher::KeyRange(k + 1, u64::MAX),
                CompareOp::Ge => Matcher::KeyRange(k, u64::MAX),
            },
        },
        Physical::Var(kind) => {
            let text = match (value, data_type) {
                (Value::Bytes(b), _) => b.clone(),
                (v, DataType::BigDecimal) => {
                    let t = v.to_string();
                    if !cuvee_catalog::value::is_decimal(&t) {
                        return Matcher::Nothing;
                    }
                    t.into_bytes()
                }
                (Value::String(s), DataType::Bytes) => match cuvee_catalog::value::decode_hex(s) {
                    Some(b) => b,
                    None => return Matcher::Nothing,
                },
                (v, _) => v.to_string().into_bytes(),
            };
            match op {
                CompareOp::Eq => Matcher::BytesSet { kind, values: vec![text] },
                CompareOp::Lt => Matcher::BytesRange { kind, lo: None, hi: Some((text, false)) },
                CompareOp::Le => Matcher::BytesRange { kind, lo: None, hi: Some((text, true)) },
                CompareOp::Gt => Matcher::BytesRange { kind, lo: Some((text, false)), hi: None },
                CompareOp::Ge => Matcher::BytesRange { kind, lo: Some((text, true)), hi: None },
            }
        }
    }
}

enum Bound {
    Never,
    Always,
    Key(CompareOp, u64),
}

/// A literal as a number: exact integers stay exact, everything else is a double.
enum Number {
    Int(i128),
    Float(f64),
}

fn as_number(value: &Value) -> Option<Number> {
    Some(match value {
        Value::Int(v) => Number::Int(*v as i128),
        Value::Long(v) | Value::Timestamp(v) => Number::Int(*v as i128),
        Value::Boolean(b) => Number::Int(*b as i128),
        Value::Float(f) => Number::Float(*f as f64),
        Value::Double(f) => Number::Float(*f),
        Value::BigDecimal(s) | Value::String(s) | Value::Json(s) => {
            let t = s.trim();
            if let Ok(i) = t.parse::<i128>() {
                Number::Int(i)
            } else if let Ok(f) = t.parse::<f64>() {
                Number::Float(f)
            } else if let Some(ms) = cuvee_catalog::datetime::parse_timestamp_text(t) {
                Number::Int(ms as i128)
            } else if t.eq_ignore_ascii_case("true") {
                Number::Int(1)
            } else if t.eq_ignore_ascii_case("false") {
                Number::Int(0)
            } else {
                return None;
            }
        }
        Value::Bytes(_) => return None,
    })
}

fn fixed_bound(op: CompareOp, value: &Value, kind: FixedKind) -> Bound {
    let Some(number) = as_number(value) else { return Bound::Never };
    match kind {
        FixedKind::Int | FixedKind::Boolean | FixedKind::Long | FixedKind::Timestamp => {
            let (min, max) = match kind {
                FixedKind::Int => (i32::MIN as i128, i32::MAX as i128),
                FixedKind::Boolean => (0, 1),
                _ => (i64::MIN as i128, i64::MAX as i128),
            };
            // Integer columns against a fractional literal: move to the nearest integer bound.
            let (op, n) = match number {
                Number::Int(n) => (op, n),
                Number::Float(f) if f.is_nan() => return Bound::Never,
                Number::Float(f) => {
                    let integral = f.fract() == 0.0;
                    let clamp = |g: f64| g.clamp(-1e30, 1e30) as i128;
                    match op {
                        CompareOp::Eq if !integral => return Bound::Never,
                        CompareOp::Eq => (op, clamp(f)),
                        CompareOp::Lt => (CompareOp::Lt, clamp(f.ceil())),
                        CompareOp::Le => (CompareOp::Le, clamp(f.floor())),
                        CompareOp::Gt => (CompareOp::Gt, clamp(f.floor())),
                        CompareOp::Ge => (CompareOp::Ge, clamp(f.ceil())),
                    }
                }
            };
            let below = n < min;
            let above = n > max;
            let key = |n: i128| match kind {
                FixedKind::Int | FixedKind::Boolean => crate::physical::int_key(n as i32),
                _ => crate::physical::long_key(n as i64),
            };
            match op {
                CompareOp::Eq if below || above => Bound::Never,
                CompareOp::Lt | CompareOp::Le if above => Bound::Always,
                CompareOp::Lt | CompareOp::Le if below => Bound::Never,
                CompareOp::Gt | CompareOp::Ge if below => Bound::Always,
                CompareOp::Gt | CompareOp::Ge if above => Bound::Never,
                _ => Bound::Key(op, key(n)),
            }
        }
        FixedKind::Double => {
            let f = match number {
                Number::Int(n) => n as f64,
                Number::Float(f) => f,
            };
            Bound::Key(op, crate::physical::double_key(f))
        }
        FixedKind::Float => {
            let f = match number {
                Number::Int(n) => n as f64,
                Number::Float(f) => f,
            };
            let g = f as f32;
            if g as f64 == f || f.is_nan() {
                return Bound::Key(op, crate::physical::float_key(g));
            }
            // No float lies strictly between f and its nearest float g.
            let key = crate::physical::float_key(g);
            match (op, (g as f64) > f) {
                (CompareOp::Eq, _) => Bound::Never,
                (CompareOp::Lt | CompareOp::Le, true) => Bound::Key(CompareOp::Lt, key),
                (CompareOp::Lt | CompareOp::Le, false) => Bound::Key(CompareOp::Le, key),
                (CompareOp::Gt | CompareOp::Ge, true) => Bound::Key(CompareOp::Ge, key),
                (CompareOp::Gt | CompareOp::Ge, false) => Bound::Key(CompareOp::Gt, key),
            }
        }
    }
}

/// SQL LIKE → an anchored regular expression.
pub fn like_to_regex(pattern: &str) -> String {
    let mut out = String::from("(?s)^");
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            '\\' => {
                if let Some(next) = chars.next() {
                    out.push_str(&regex::escape(&next.to_string()));
                }
            }
            other => out.push_str(&regex::escape(&other.to_string())),
        }
    }
    out.push('$');
    out
}
