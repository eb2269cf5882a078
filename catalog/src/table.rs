//! A table = a schema and a table config, checked against each other, with the effective
//! per-column index plan that segment builders follow.

use crate::error::{CatalogError, Problem, Result};
use crate::raw_codec::{compression_codec, RawCodec};
use crate::schema::{FieldKind, Schema};
use crate::table_config::{EncodingType, TableConfigJson, TableType};
use crate::upsert::KeyPolicy;
use crate::value::DataType;
use serde_json::Value as Json;

/// Pinot's default bloom filter false-positive probability.
pub const DEFAULT_BLOOM_FPP: f64 = 0.05;

/// What a segment stores for one column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnIndexing {
    pub name: String,
    /// Dictionary-encoded (ids bit-packed) or raw values in compressed chunks.
    pub dictionary: bool,
    pub inverted: bool,
    pub sorted: bool,
    pub range: bool,
    /// The bloom filter's target false-positive probability, when the column has one.
    pub bloom_fpp: Option<f64>,
    pub json: bool,
    /// When the column may be stored raw although `dictionary` is set: the segment builder
    /// then stores it raw if that is smaller (see [`RawIfSmaller`]). `None` when an index
    /// needs the ids, the dictionary was asked for by name, or neither rule applies.
    pub raw_if_smaller: Option<RawIfSmaller>,
    /// The block codec a raw column's chunks are compressed with, as `compressionCodec`
    /// names it; `None`: a single-value string column FSST-coded where that pays, anything
    /// else in zstd chunks.
    pub raw_codec: Option<RawCodec>,
    /// The H3 index's resolution (0–15), when the column has one: the lowest of the
    /// configured `resolutions`, as Pinot indexes at.
    pub h3_resolution: Option<u8>,
}

/// A dictionary column's licence to be stored raw when raw is smaller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawIfSmaller {
    /// Raw must be under this share of the dictionary and its ids (Pinot's
    /// `noDictionarySizeRatioThreshold`).
    pub ratio: f64,
    /// Only values coded one by one (FSST) qualify, not zstd chunks, which must be
    /// decompressed whole to read one doc. The default for single-value strings; Pinot's
    /// `optimizeDictionary` lifts it.
    pub coded_only: bool,
}

/// Pinot's default `noDictionarySizeRatioThreshold`.
pub const DEFAULT_NO_DICTIONARY_SIZE_RATIO: f64 = 0.85;

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub schema: Schema,
    pub config: TableConfigJson,
    indexing: Vec<ColumnIndexing>,
    key_policy: KeyPolicy,
}

impl Table {
    pub fn new(schema: Schema, config: TableConfigJson) -> Result<Table> {
        let mut problems = Vec::new();
        check_columns_exist(&schema, &config, &mut problems);
        let indexing = plan_indexing(&schema, &config, &mut problems);
        check_time_column(&schema, &config, &mut problems);
        let key_policy = crate::upsert::plan(&schema, &config, &mut problems);
        if config.table_type == TableType::Realtime && config.stream_configs().is_empty() {
            problems.push(Problem::new(
                "ingestionConfig.streamIngestionConfig.streamConfigMaps",
                "a REALTIME table needs stream configs (here or in tableIndexConfig.streamConfigs)",
            ));
        }
        if config.table_name.trim().is_empty() {
            problems.push(Problem::new("tableName", "must not be empty"));
        }
        if !problems.is_empty() {
            return Err(CatalogError::Invalid { what: "table config", problems });
        }
        Ok(Table { schema, config, indexing, key_policy })
    }

    pub fn name(&self) -> &str {
        self.config.raw_table_name()
    }

    /// One entry per schema column, in schema order.
    pub fn indexing(&self) -> &[ColumnIndexing] {
        &self.indexing
    }

    pub fn column_indexing(&self, name: &str) -> Option<&ColumnIndexing> {
        self.indexing.iter().find(|c| c.name == name)
    }

    /// Whether rows are appended, upserted or deduplicated by primary key.
    pub fn key_policy(&self) -> &KeyPolicy {
        &self.key_policy
    }

    pub fn sorted_column(&self) -> Option<&str> {
        self.indexing.iter().find(|c| c.sorted).map(|c| c.name.as_str())
    }
}

/// Every column named anywhere in the config must be in the schema.
fn check_columns_exist(schema: &Schema, config: &TableConfigJson, problems: &mut Vec<Problem>) {
    let mut check = |path: String, column: &str| {
        if schema.column(column).is_none() {
            problems.push(Problem::new(path, format!("column \"{column}\" is not in schema \"{}\"", schema.name())));
        }
    };
    if let Some(ix) = &config.table_index_config {
        for (key, list) in [
            ("invertedIndexColumns", &ix.inverted_index_columns),
            ("sortedColumn", &ix.sorted_column),
            ("rangeIndexColumns", &ix.range_index_columns),
            ("bloomFilterColumns", &ix.bloom_filter_columns),
            ("noDictionaryColumns", &ix.no_dictionary_columns),
            ("jsonIndexColumns", &ix.json_index_columns),
        ] {
            for (i, column) in list.iter().flatten().enumerate() {
                check(format!("tableIndexConfig.{key}[{i}]"), column);
            }
        }
        for column in ix.bloom_filter_configs.iter().flatten().map(|(k, _)| k) {
            check(format!("tableIndexConfig.bloomFilterConfigs.{column}"), column);
        }
        if let Some(partitioning) = &ix.segment_partition_config {
            for column in partitioning.column_partition_map.keys() {
                check(format!("tableIndexConfig.segmentPartitionConfig.columnPartitionMap.{column}"), column);
            }
        }
    }
    for (i, field) in config.field_config_list.iter().flatten().enumerate() {
        check(format!("fieldConfigList[{i}].name"), &field.name);
    }
    for (i, transform) in config.transform_configs().iter().enumerate() {
        check(format!("ingestionConfig.transformConfigs[{i}].columnName"), &transform.column_name);
    }
}

fn check_time_column(schema: &Schema, config: &TableConfigJson, problems: &mut Vec<Problem>) {
    let Some(time_column) = config.time_column() else { return };
    match schema.column(time_column) {
        None => problems.push(Problem::new(
            "segmentsConfig.timeColumnName",
            format!("column \"{time_column}\" is not in schema \"{}\"", schema.name()),
        )),
        Some(c) if !matches!(c.kind, FieldKind::DateTime | FieldKind::Time) => problems.push(Problem::new(
            "segmentsConfig.timeColumnName",
            format!(
                "column \"{time_column}\" must be a date-time field (dateTimeFieldSpecs), not a {:?} field",
                c.kind
            ),
        )),
        Some(_) => {}
    }
}

fn is_enabled(json: &Json) -> bool {
    // `{}` and `{"enabled": true|"true"}` mean on; `{"enabled": false|"false"}` means off.
    match json.get("enabled") {
        None => !json.is_null(),
        Some(Json::Bool(b)) => *b,
        Some(Json::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(_) => true,
    }
}

fn plan_indexing(schema: &Schema, config: &TableConfigJson, problems: &mut Vec<Problem>) -> Vec<ColumnIndexing> {
    let ix = config.indexing();
    let listed = |list: &Option<Vec<String>>, name: &str| list.iter().flatten().any(|c| c == name);
    let sorted_list = ix.sorted_column.clone().unwrap_or_default();
    if sorted_list.len() > 1 {
        problems.push(Problem::new(
            "tableIndexConfig.sortedColumn",
            format!("at most one sorted column, got {}", sorted_list.len()),
        ));
    }
    let ratio = no_dictionary_size_ratio(ix.no_dictionary_size_ratio_threshold.as_ref(), problems);
    let mut plan = Vec::new();
    for column in schema.columns() {
        let name = column.name.as_str();
        let field = config.field_config_list.iter().flatten().find(|f| f.name == name);
        let field_types: Vec<String> = field
            .map(|f| {
                f.index_types.iter().flatten().chain(f.index_type.iter()).map(|t| t.to_ascii_uppercase()).collect()
            })
            .unwrap_or_default();
        let field_index = |key: &str| field.and_then(|f| f.indexes.as_ref()).and_then(|m| m.get(key)).map(is_enabled);
        let has_type = |t: &str| field_types.iter().any(|x| x == t);

        let raw_requested =
            listed(&ix.no_dictionary_columns, name) || field.and_then(|f| f.encoding_type) == Some(EncodingType::Raw);
        let dictionary = field_index("dictionary").unwrap_or(!raw_requested);
        let inverted =
            listed(&ix.inverted_index_columns, name) || has_type("INVERTED") || field_index("inverted") == Some(true);
        let sorted = sorted_list.iter().any(|c| c == name);
        let range = listed(&ix.range_index_columns, name) || has_type("RANGE") || field_index("range") == Some(true);
        let bloom_configured = ix.bloom_filter_configs.as_ref().and_then(|m| m.get(name));
        let bloom = listed(&ix.bloom_filter_columns, name)
            || bloom_configured.is_some()
            || has_type("BLOOM")
            || field_index("bloom") == Some(true);
        let bloom_fpp = bloom.then(|| {
            let from_field = field
                .and_then(|f| f.indexes.as_ref())
                .and_then(|m| m.get("bloom"))
                .and_then(|b| b.get("fpp"))
                .and_then(|f| f.as_f64().or_else(|| f.as_str().and_then(|s| s.parse().ok())));
            bloom_configured.and_then(|b| b.fpp).or(from_field).unwrap_or(DEFAULT_BLOOM_FPP)
        });
        let json = listed(&ix.json_index_columns, name) || has_type("JSON") || field_index("json") == Some(true);
        let h3_resolution = h3_resolution(field, has_type("H3"), &path_of(name), problems);
        if h3_resolution.is_some() && (column.data_type != DataType::Bytes || !column.single_value) {
            problems.push(Problem::new(
                path_of(name),
                format!("an H3 index needs a single-value BYTES column of points, not {}", column.data_type),
            ));
        }

        let path = path_of(name);
        if inverted && !dictionary {
            problems.push(Problem::new(&path, "an inverted index needs dictionary encoding, but the column is raw (noDictionaryColumns or encodingType RAW)"));
        }
        if sorted && !dictionary {
            problems.push(Problem::new(
                "tableIndexConfig.sortedColumn",
                format!("sorted column \"{name}\" must be dictionary-encoded"),
            ));
        }
        if sorted && !column.single_value {
            problems.push(Problem::new(
                "tableIndexConfig.sortedColumn",
                format!("sorted column \"{name}\" must be single-value"),
            ));
        }
        if range && !dictionary && !column.data_type.is_numeric() && column.data_type != DataType::Timestamp {
            problems.push(Problem::new(
                &path,
                format!("a range index on a raw column needs a numeric type, not {}", column.data_type),
            ));
        }
        if json && !matches!(column.data_type, DataType::Json | DataType::String) {
            problems.push(Problem::new(
                &path,
                format!("a JSON index needs a JSON or STRING column, not {}", column.data_type),
            ));
        }
        if let Some(fpp) = bloom_fpp {
            if !(fpp > 0.0 && fpp < 1.0) {
                problems.push(Problem::new(&path, format!("bloom filter fpp must be between 0 and 1, got {fpp}")));
            }
        }
        // Pinot's rule: `optimizeDictionary` for every column, or `…ForMetrics` for metrics,
        // with any raw codec. Without it, a string column whose values FSST codes one by one
        // (a point read stays cheap) still goes raw where that is smaller, unless
        // `optimizeDictionary` is written `false` (see ARCHITECTURE.md, "Codecs chosen at seal").
        let is_metric = column.kind == FieldKind::Metric;
        let optimize = ix.optimize_dictionary.is_some_and(|f| f.value)
            || (is_metric && ix.optimize_dictionary_for_metrics.is_some_and(|f| f.value));
        let strings = matches!(column.data_type, DataType::String | DataType::Json | DataType::Bytes);
        let ids_needed = inverted || sorted || json || (range && !column.data_type.is_numeric());
        let may_be_raw = dictionary && field_index("dictionary").is_none() && column.single_value && !ids_needed;
        let raw_if_smaller = match (may_be_raw, optimize, ix.optimize_dictionary) {
            (false, _, _) => None,
            (true, true, _) => Some(RawIfSmaller { ratio, coded_only: false }),
            (true, false, Some(flag)) if !flag.value => None,
            (true, false, _) => strings.then_some(RawIfSmaller { ratio, coded_only: true }),
        };
        let raw_codec = compression_codec(field, column, dictionary, &path, problems);
        plan.push(ColumnIndexing {
            name: name.to_string(),
            dictionary,
            inverted,
            sorted,
            range,
            bloom_fpp,
            json,
            raw_if_smaller,
            raw_codec,
            h3_resolution,
        });
    }
    plan
}

fn path_of(column: &str) -> String {
    format!("column \"{column}\"")
}

/// The H3 resolution of a column's field config: `"indexType": "H3"` (or in `indexTypes`)
/// with `"properties": {"resolutions": "5, 7"}`, or `"indexes": {"h3": {"resolution": [5, 7]}}`.
/// Pinot indexes at the lowest resolution listed.
fn h3_resolution(
    field: Option<&crate::table_config::FieldConfig>,
    typed: bool,
    path: &str,
    problems: &mut Vec<Problem>,
) -> Option<u8> {
    let field = field?;
    let from_indexes = field.indexes.as_ref().and_then(|m| m.get("h3")).filter(|c| is_enabled(c));
    let listed: Option<&Json> = match from_indexes {
        Some(config) => Some(config.get("resolution").unwrap_or(&Json::Null)),
        None if typed => Some(field.properties.as_ref().and_then(|p| p.get("resolutions")).unwrap_or(&Json::Null)),
        None => return None,
    };
    let numbers: Option<Vec<i64>> = match listed? {
        Json::String(s) => s.split(',').map(|r| r.trim().parse().ok()).collect(),
        Json::Array(items) => {
            items.iter().map(|r| r.as_i64().or_else(|| r.as_str().and_then(|s| s.trim().parse().ok()))).collect()
        }
        Json::Number(n) => n.as_i64().map(|n| vec![n]),
        _ => None,
    };
    match numbers.as_deref() {
        Some(list) if !list.is_empty() && list.iter().all(|r| (0..=15).contains(r)) => {
            list.iter().min().map(|&r| r as u8)
        }
        _ => {
            problems.push(Problem::new(
                path,
                "an H3 index needs resolutions between 0 and 15 (\"properties\": {\"resolutions\": \"5\"} or \"indexes\": {\"h3\": {\"resolution\": [5]}})",
            ));
            None
        }
    }
}

/// `noDictionarySizeRatioThreshold` as a share: a number (or a numeric string, as Pinot
/// accepts), where 0 or absent means Pinot's default; anything else is a problem.
fn no_dictionary_size_ratio(written: Option<&Json>, problems: &mut Vec<Problem>) -> f64 {
    let Some(written) = written else { return DEFAULT_NO_DICTIONARY_SIZE_RATIO };
    match written.as_f64().or_else(|| written.as_str().and_then(|s| s.trim().parse().ok())) {
        Some(0.0) => DEFAULT_NO_DICTIONARY_SIZE_RATIO,
        Some(r) if r.is_finite() && r > 0.0 => r,
        _ => {
            problems.push(Problem::new(
                "tableIndexConfig.noDictionarySizeRatioThreshold",
                format!("must be a number above 0, got {written}"),
            ));
            DEFAULT_NO_DICTIONARY_SIZE_RATIO
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn schema() -> Schema {
        Schema::from_json(
            r#"{"schemaName":"baseballStats","dimensionFieldSpecs":[
                {"name":"playerID","dataType":"STRING"},{"name":"tags","dataType":"STRING","singleValueField":false},
                {"name":"payload","dataType":"JSON"}],
               "metricFieldSpecs":[{"name":"runs","dataType":"INT"}],
               "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:MILLISECONDS:EPOCH","granularity":"1:MILLISECONDS"}]}"#,
        )
        .unwrap()
    }

    fn table(index_config: &str) -> Result<Table> {
        let config = TableConfigJson::from_json(&format!(
            r#"{{"tableName":"baseballStats","tableType":"OFFLINE","segmentsConfig":{{"timeColumnName":"ts"}},"tableIndexConfig":{index_config}}}"#
        ))?;
        Table::new(schema(), config)
    }

    #[test]
    fn names_the_missing_column_and_its_path() {
        for bad in [r#"-1"#, r#""lots""#, r#"[0.5]"#, r#""NaN""#] {
            let err = table(&format!(r#"{{"optimizeDictionary":true,"noDictionarySizeRatioThreshold":{bad}}}"#))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("tableIndexConfig.noDictionarySizeRatioThreshold: must be a number above 0"),
                "{bad}: {err}"
            );
        }
        let plan = table(r#"{"optimizeDictionary":"true","noDictionarySizeRatioThreshold":"0.5"}"#).unwrap();
        assert_eq!(
            plan.column_indexing("runs").and_then(|c| c.raw_if_smaller),
            Some(RawIfSmaller { ratio: 0.5, coded_only: false })
        );
        let err = table(r#"{"invertedIndexColumns":["playerID","runs","foo"]}"#).unwrap_err().to_string();
        assert!(
            err.contains(r#"tableIndexConfig.invertedIndexColumns[2]: column "foo" is not in schema "baseballStats""#),
            "{err}"
        );
    }

    #[test]
    fn strings_may_go_raw_in_fsst_by_default_and_anything_with_optimize_dictionary() {
        let rule = |config: &str, column: &str| table(config).unwrap().column_indexing(column).unwrap().raw_if_smaller;
        let coded = Some(RawIfSmaller { ratio: DEFAULT_NO_DICTIONARY_SIZE_RATIO, coded_only: true });
        let any = Some(RawIfSmaller { ratio: DEFAULT_NO_DICTIONARY_SIZE_RATIO, coded_only: false });
        assert_eq!(rule("{}", "playerID"), coded);
        assert_eq!(rule("{}", "payload"), coded);
        assert_eq!(rule("{}", "runs"), None, "numbers keep their dictionary unless told");
        assert_eq!(rule("{}", "tags"), None, "multi-value columns keep their dictionary");
        assert_eq!(rule(r#"{"invertedIndexColumns":["playerID"]}"#, "playerID"), None, "the index needs ids");
        assert_eq!(rule(r#"{"sortedColumn":["playerID"]}"#, "playerID"), None);
        assert_eq!(rule(r#"{"jsonIndexColumns":["payload"]}"#, "payload"), None);
        assert_eq!(rule(r#"{"rangeIndexColumns":["playerID"]}"#, "playerID"), None);
        assert_eq!(rule(r#"{"optimizeDictionary":false}"#, "playerID"), None, "written false keeps dictionaries");
        assert_eq!(rule(r#"{"optimizeDictionary":true}"#, "playerID"), any);
        assert_eq!(rule(r#"{"optimizeDictionary":true}"#, "runs"), any);
        assert_eq!(rule(r#"{"optimizeDictionaryForMetrics":true}"#, "runs"), any);
        assert_eq!(rule(r#"{"noDictionaryColumns":["playerID"]}"#, "playerID"), None, "raw already, no rule needed");
    }

    #[test]
    fn cross_checks_indexes() {
        let err = table(r#"{"sortedColumn":["tags"],"noDictionaryColumns":["playerID"],"invertedIndexColumns":["playerID"],"jsonIndexColumns":["runs"]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("sorted column \"tags\" must be single-value"), "{err}");
        assert!(err.contains("inverted index needs dictionary encoding"), "{err}");
        assert!(err.contains("JSON index needs a JSON or STRING column"), "{err}");
    }

    #[test]
    fn time_column_must_be_date_time() {
        let config = TableConfigJson::from_json(
            r#"{"tableName":"t","tableType":"OFFLINE","segmentsConfig":{"timeColumnName":"runs"}}"#,
        )
        .unwrap();
        let err = Table::new(schema(), config).unwrap_err().to_string();
        assert!(err.contains("segmentsConfig.timeColumnName"), "{err}");
    }

    #[test]
    fn merges_legacy_lists_and_field_configs() {
        let config = TableConfigJson::from_json(
            r#"{"tableName":"baseballStats","tableType":"OFFLINE",
                "tableIndexConfig":{"sortedColumn":["playerID"],"bloomFilterColumns":["runs"],"noDictionaryColumns":["payload"]},
                "fieldConfigList":[{"name":"runs","encodingType":"DICTIONARY","indexes":{"range":{},"inverted":{"enabled":"true"}}},
                                   {"name":"ts","encodingType":"RAW","indexTypes":["RANGE"]}]}"#,
        )
        .unwrap();
        let table = Table::new(schema(), config).unwrap();
        let runs = table.column_indexing("runs").unwrap();
        assert!(runs.dictionary && runs.inverted && runs.range);
        assert_eq!(runs.bloom_fpp, Some(DEFAULT_BLOOM_FPP));
        assert!(!table.column_indexing("ts").unwrap().dictionary);
        assert!(!table.column_indexing("payload").unwrap().dictionary);
        assert_eq!(table.sorted_column(), Some("playerID"));
    }

    #[test]
    fn reads_h3_indexes_in_both_spellings() {
        let schema = Schema::from_json(
            r#"{"schemaName":"stores","dimensionFieldSpecs":[{"name":"loc","dataType":"BYTES"},{"name":"name","dataType":"STRING"}]}"#,
        )
        .unwrap();
        let plan = |fields: &str| {
            let config = TableConfigJson::from_json(&format!(
                r#"{{"tableName":"stores","tableType":"OFFLINE","fieldConfigList":{fields}}}"#
            ))
            .unwrap();
            Table::new(schema.clone(), config)
        };
        let old = plan(r#"[{"name":"loc","encodingType":"RAW","indexType":"H3","properties":{"resolutions":"7, 5"}}]"#);
        assert_eq!(old.unwrap().column_indexing("loc").unwrap().h3_resolution, Some(5));
        let new = plan(r#"[{"name":"loc","indexes":{"h3":{"resolution":[9]}}}]"#);
        assert_eq!(new.unwrap().column_indexing("loc").unwrap().h3_resolution, Some(9));
        for (fields, problem) in [
            (r#"[{"name":"loc","indexType":"H3"}]"#, "an H3 index needs resolutions between 0 and 15"),
            (
                r#"[{"name":"loc","indexTypes":["H3"],"properties":{"resolutions":"16"}}]"#,
                "resolutions between 0 and 15",
            ),
            (
                r#"[{"name":"name","indexType":"H3","properties":{"resolutions":"5"}}]"#,
                "needs a single-value BYTES column",
            ),
        ] {
            let err = plan(fields).unwrap_err().to_string();
            assert!(err.contains(problem), "{fields}: {err}");
        }
    }

    #[test]
    fn realtime_tables_need_stream_configs() {
        let config = TableConfigJson::from_json(r#"{"tableName":"t","tableType":"REALTIME"}"#).unwrap();
        let err = Table::new(schema(), config).unwrap_err().to_string();
        assert!(err.contains("streamConfigMaps"), "{err}");
    }
}
