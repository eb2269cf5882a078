//! The block codec a raw column's chunks are stored in, as a field config's
//! `compressionCodec` names it, checked as Pinot checks it.

use crate::error::Problem;
use crate::value::DataType;

/// The block codecs of a raw column's chunks a field config may ask for
/// (`compressionCodec`). Pinot's `GZIP` is stored as zstd (smaller and faster to read), its
/// `LZ4_LENGTH_PREFIXED` as LZ4; its `CLP` codecs leave a string column to the default (FSST,
/// which like CLP keeps each value decodable alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawCodec {
    Zstd,
    Lz4,
    Snappy,
    /// Values stored as they are.
    PassThrough,
    /// Each integer as its difference from the one before, then zstd (ClickHouse's
    /// `CODEC(Delta, ZSTD)`): a counter or a time column of steady steps shrinks to a few
    /// bits a value. Single-value INT, LONG and TIMESTAMP columns, as in Pinot.
    Delta,
    /// Differences of differences, then zstd: a time column at a steady rate is nearly all
    /// zeros.
    DeltaDelta,
}

/// The raw block codec a field's `compressionCodec` asks for, checked as Pinot checks it: a
/// block codec needs a raw column, `MV_ENTRY_DICT` a dictionary-encoded one (its ids are
/// packed per entry already), CLP a string column.
pub(crate) fn compression_codec(
    field: Option<&crate::table_config::FieldConfig>,
    column: &crate::ColumnSpec,
    dictionary: bool,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Option<RawCodec> {
    let named = field?.compression_codec.as_deref()?;
    let upper = named.to_ascii_uppercase();
    let codec = match upper.as_str() {
        "ZSTANDARD" | "GZIP" => Some(RawCodec::Zstd),
        "LZ4" | "LZ4_LENGTH_PREFIXED" => Some(RawCodec::Lz4),
        "SNAPPY" => Some(RawCodec::Snappy),
        "PASS_THROUGH" => Some(RawCodec::PassThrough),
        "CLP" | "CLPV2" | "CLPV2_ZSTD" | "CLPV2_LZ4" => {
            if column.data_type != DataType::String {
                problems.push(Problem::new(
                    path,
                    format!("compressionCodec {named} needs a STRING column, not {}", column.data_type),
                ));
            }
            None
        }
        "MV_ENTRY_DICT" => {
            if !dictionary {
                problems
                    .push(Problem::new(path, format!("compressionCodec {named} needs a dictionary-encoded column")));
            }
            return None;
        }
        "DELTA" | "DELTADELTA" => {
            let integers = matches!(column.data_type, DataType::Int | DataType::Long | DataType::Timestamp);
            if !integers || !column.single_value {
                problems.push(Problem::new(
                    path,
                    format!(
                        "compressionCodec {named} needs a single-value INT, LONG or TIMESTAMP column, not {}{}",
                        if column.single_value { "" } else { "a multi-value " },
                        column.data_type
                    ),
                ));
                return None;
            }
            Some(if upper == "DELTA" { RawCodec::Delta } else { RawCodec::DeltaDelta })
        }
        _ => {
            problems.push(Problem::new(
                path,
                format!("unknown compressionCodec \"{named}\" (ZSTANDARD, LZ4, LZ4_LENGTH_PREFIXED, SNAPPY, GZIP, PASS_THROUGH, DELTA, DELTADELTA, CLP, MV_ENTRY_DICT)"),
            ));
            return None;
        }
    };
    if dictionary {
        problems.push(Problem::new(
            path,
            format!("compressionCodec {named} applies to raw columns: set \"encodingType\": \"RAW\" or list the column in noDictionaryColumns"),
        ));
    }
    codec
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Table, TableConfigJson};

    /// `compressionCodec` as Pinot checks it: block codecs on raw columns, `MV_ENTRY_DICT` on
    /// dictionary ones, CLP on strings; what cuvee lacks is named, not ignored.
    #[test]
    fn compression_codecs_are_acted_on_or_refused_by_name() {
        let with = |field: &str| {
            let config = TableConfigJson::from_json(&format!(
                r#"{{"tableName":"baseballStats","tableType":"OFFLINE","fieldConfigList":[{field}]}}"#
            ))?;
            Table::new(crate::table::tests::schema(), config)
        };
        let codec = |field: &str, column: &str| with(field).unwrap().column_indexing(column).unwrap().raw_codec;
        let raw = |column: &str, codec: &str| {
            format!(r#"{{"name":"{column}","encodingType":"RAW","compressionCodec":"{codec}"}}"#)
        };
        assert_eq!(codec(&raw("playerID", "LZ4"), "playerID"), Some(RawCodec::Lz4));
        assert_eq!(codec(&raw("playerID", "LZ4_LENGTH_PREFIXED"), "playerID"), Some(RawCodec::Lz4));
        assert_eq!(codec(&raw("runs", "SNAPPY"), "runs"), Some(RawCodec::Snappy));
        assert_eq!(codec(&raw("tags", "PASS_THROUGH"), "tags"), Some(RawCodec::PassThrough));
        assert_eq!(codec(&raw("payload", "zstandard"), "payload"), Some(RawCodec::Zstd));
        assert_eq!(codec(&raw("payload", "GZIP"), "payload"), Some(RawCodec::Zstd));
        assert_eq!(codec(&raw("playerID", "CLP"), "playerID"), None, "CLP leaves strings to FSST");
        assert_eq!(codec(&raw("runs", "DELTA"), "runs"), Some(RawCodec::Delta));
        assert_eq!(codec(&raw("runs", "deltaDelta"), "runs"), Some(RawCodec::DeltaDelta));
        assert_eq!(codec(r#"{"name":"runs","encodingType":"RAW"}"#, "runs"), None);
        assert_eq!(codec(r#"{"name":"tags","compressionCodec":"MV_ENTRY_DICT"}"#, "tags"), None);
        for (field, expected) in [
            (r#"{"name":"playerID","compressionCodec":"LZ4"}"#.to_string(), "applies to raw columns"),
            (raw("playerID", "DELTA"), "DELTA needs a single-value INT, LONG or TIMESTAMP column, not STRING"),
            (raw("tags", "DELTADELTA"), "needs a single-value INT, LONG or TIMESTAMP column, not a multi-value"),
            (r#"{"name":"runs","compressionCodec":"DELTA"}"#.to_string(), "applies to raw columns"),
            (raw("runs", "CLPV2"), "needs a STRING column"),
            (raw("runs", "BROTLI"), "unknown compressionCodec \"BROTLI\""),
            (raw("tags", "MV_ENTRY_DICT"), "needs a dictionary-encoded column"),
        ] {
            let err = with(&field).unwrap_err().to_string();
            assert!(err.contains(expected), "{field}: {err}");
            assert!(err.contains("column \""), "{field}: names the column: {err}");
        }
    }
}
