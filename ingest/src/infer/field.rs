//! What one field's sampled values say: which kinds appear, how often, how many distinct
//! values, and whether they look like times or ids — the evidence `propose` decides from.

use cuvee_catalog::DataType;
use serde_json::Value as Json;
use std::collections::HashSet;

/// The most distinct values counted per field; past it a field counts as high-cardinality.
const DISTINCT_CAP: usize = 10_000;

/// Everything seen of one field.
#[derive(Default)]
pub(super) struct FieldStats {
    pub(super) present: usize,
    pub(super) booleans: usize,
    pub(super) integers: usize,
    pub(super) fractions: usize,
    pub(super) texts: usize,
    pub(super) timestamp_texts: usize,
    pub(super) lists: usize,
    pub(super) min_integer: i64,
    pub(super) max_integer: i64,
    pub(super) distinct: HashSet<u64>,
    pub(super) distinct_capped: bool,
}

impl FieldStats {
    pub(super) fn observe(&mut self, value: &Json, in_list: bool) {
        match value {
            Json::Null => return,
            Json::Bool(_) => self.booleans += 1,
            Json::Number(n) => match n.as_i64() {
                Some(i) => {
                    if self.integers == 0 {
                        (self.min_integer, self.max_integer) = (i, i);
                    }
                    self.integers += 1;
                    self.min_integer = self.min_integer.min(i);
                    self.max_integer = self.max_integer.max(i);
                }
                None => self.fractions += 1,
            },
            Json::String(s) => {
                self.texts += 1;
                if looks_like_timestamp(s) {
                    self.timestamp_texts += 1;
                }
            }
            Json::Array(items) if !in_list => {
                self.lists += 1;
                for item in items {
                    self.observe(item, true);
                }
            }
            // Lists inside lists and objects left after flattening are JSON text.
            Json::Array(_) | Json::Object(_) => self.texts += 1,
        }
        if !in_list {
            self.present += 1;
        }
        if self.distinct.len() < DISTINCT_CAP {
            self.distinct.insert(hash_of(value));
        } else {
            self.distinct_capped = true;
        }
    }

    /// The type the values fit, and whether they came in lists.
    pub(super) fn data_type(&self) -> (DataType, bool) {
        let multi = self.lists > 0;
        let kinds = [self.booleans, self.integers + self.fractions, self.texts].iter().filter(|&&n| n > 0).count();
        let data_type = if kinds == 0 || kinds > 1 {
            DataType::String
        } else if self.booleans > 0 {
            DataType::Boolean
        } else if self.fractions > 0 {
            DataType::Double
        } else if self.integers > 0 {
            if self.min_integer >= i64::from(i32::MIN) && self.max_integer <= i64::from(i32::MAX) {
                DataType::Int
            } else {
                DataType::Long
            }
        } else if self.timestamp_texts == self.texts && !multi {
            DataType::Timestamp
        } else {
            DataType::String
        };
        (data_type, multi)
    }
}

fn hash_of(value: &Json) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    match value {
        Json::String(s) => s.hash(&mut hasher),
        other => other.to_string().hash(&mut hasher),
    }
    hasher.finish()
}

/// ISO-8601 dates and date-times (`2021-07-21`, `2021-07-21T10:00:00Z`, `2021-07-21 10:00:00.123`).
fn looks_like_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 10
        && bytes.len() <= 35
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && DataType::Timestamp.value_from_str(text).is_ok()
}

pub(super) fn time_like(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let last = lower.rsplit(['.', '_']).next().unwrap_or(&lower);
    ["time", "ts", "timestamp", "date", "datetime", "created", "updated", "mtime", "epoch", "at"].contains(&last)
        || lower.ends_with("time")
        || lower.ends_with("timestamp")
        || lower.ends_with("_at")
        || lower.ends_with("date")
}

pub(super) fn id_like(name: &str) -> bool {
    let last = name.rsplit(['.']).next().unwrap_or(name);
    last.eq_ignore_ascii_case("id") || last.ends_with("_id") || last.ends_with("Id") || last.ends_with("ID")
}

/// Epoch milliseconds between 2001 and 2286, or epoch seconds between 2001 and 2286.
pub(super) fn epoch_unit(stats: &FieldStats) -> Option<&'static str> {
    if stats.integers == 0 || stats.fractions > 0 || stats.texts > 0 || stats.booleans > 0 || stats.lists > 0 {
        return None;
    }
    let within = |lo: i64, hi: i64| stats.min_integer >= lo && stats.max_integer < hi;
    if within(1_000_000_000_000, 10_000_000_000_000) {
        Some("MILLISECONDS")
    } else if within(1_000_000_000, 10_000_000_000) {
        Some("SECONDS")
    } else {
        None
    }
}
