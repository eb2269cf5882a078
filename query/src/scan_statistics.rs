//! What whole sealed segments' metadata says of a column exactly (min, max, null count),
//! so a scan without a predicate reports statistics that answer `MIN`/`MAX` unread.

use crate::scan::ScanSource;
use datafusion::arrow::datatypes::DataType as ArrowType;
use datafusion::common::stats::Precision;
use datafusion::common::{ColumnStatistics, ScalarValue};

/// A column's exact statistics over whole sealed segments, from their metadata; unknown
/// when a segment is consuming or lacks the column, or for multi-value columns.
pub(crate) fn metadata_statistics(
    sources: &[ScanSource],
    column: &str,
    data_type: &ArrowType,
    null_handling: bool,
) -> ColumnStatistics {
    let mut min: Option<ScalarValue> = None;
    let mut max: Option<ScalarValue> = None;
    let mut nulls = 0usize;
    for source in sources {
        let Some(segment) = source.sealed_metadata() else { return ColumnStatistics::new_unknown() };
        let Some(meta) = segment.columns.iter().find(|c| c.name == column) else {
            return ColumnStatistics::new_unknown();
        };
        // BIG_DECIMAL is ordered numerically in segments but read as text.
        if !meta.single_value || meta.data_type == cuvee_catalog::DataType::BigDecimal {
            return ColumnStatistics::new_unknown();
        }
        nulls += meta.null_count as usize;
        if segment.num_docs == 0 {
            continue;
        }
        let (Some(lo), Some(hi)) = (
            meta.min.as_ref().and_then(|v| json_scalar(v, data_type)),
            meta.max.as_ref().and_then(|v| json_scalar(v, data_type)),
        ) else {
            return ColumnStatistics::new_unknown();
        };
        min = Some(match min {
            Some(m) if m.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) => m,
            _ => lo,
        });
        max = Some(match max {
            Some(m) if m.partial_cmp(&hi) != Some(std::cmp::Ordering::Less) => m,
            _ => hi,
        });
    }
    // Stored min/max count nulls as their default value: right without null handling, and
    // with it only when there are no nulls.
    if null_handling && nulls > 0 {
        return ColumnStatistics::new_unknown().with_null_count(Precision::Exact(nulls));
    }
    let exact = |v: Option<ScalarValue>| v.map_or(Precision::Absent, Precision::Exact);
    ColumnStatistics::new_unknown()
        .with_null_count(Precision::Exact(0))
        .with_min_value(exact(min))
        .with_max_value(exact(max))
}

fn json_scalar(value: &serde_json::Value, data_type: &ArrowType) -> Option<ScalarValue> {
    Some(match data_type {
        ArrowType::Int32 => ScalarValue::Int32(Some(i32::try_from(value.as_i64()?).ok()?)),
        ArrowType::Int64 => ScalarValue::Int64(Some(value.as_i64()?)),
        ArrowType::Float32 => ScalarValue::Float32(Some(value.as_f64()? as f32)),
        ArrowType::Float64 => ScalarValue::Float64(Some(value.as_f64()?)),
        ArrowType::Utf8 => ScalarValue::Utf8(Some(value.as_str()?.to_string())),
        _ => return None,
    })
}
