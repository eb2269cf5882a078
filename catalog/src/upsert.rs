//! Which rows of a stream a table keeps: all of them (append), the latest per primary key
//! (Pinot's `upsertConfig`), or the first per primary key (`dedupConfig`). The JSON stays as
//! written (it round-trips); this module reads it into a checked plan, every problem named
//! by its JSON path.

use crate::error::Problem;
use crate::schema::{ColumnSpec, Schema};
use crate::table_config::{TableConfigJson, TableType};
use crate::value::DataType;
use serde_json::Value as Json;

/// What a table does with a row whose primary key it has seen.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum KeyPolicy {
    /// Every row is kept (no upsert or dedup config, or one that is off).
    #[default]
    Append,
    Upsert(UpsertPlan),
    Dedup(DedupPlan),
}

/// How primary keys are held in memory. Pinot's MD5 and MURMUR3 are both served by a
/// 128-bit XXH3 digest (the map never leaves the process, so only the width matters);
/// `None` keeps one integer key exactly and digests any other key the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHash {
    None,
    Md5,
    Murmur3,
}

/// How a partial upsert merges a column of the new row with the previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeStrategy {
    /// The new value, unless it is null.
    Overwrite,
    /// The new value even when it is null.
    ForceOverwrite,
    /// The previous value, unless it is null.
    Ignore,
    /// Previous + new (numbers).
    Increment,
    /// Previous values followed by the new ones (multi-value).
    Append,
    /// Previous values and the new ones not already there (multi-value).
    Union,
    Max,
    Min,
}

impl MergeStrategy {
    /// Whether the strategy can merge values of `spec`'s column, else what it needs.
    fn fits(self, spec: &ColumnSpec) -> Result<(), &'static str> {
        let number = matches!(spec.data_type, DataType::Int | DataType::Long | DataType::Float | DataType::Double);
        match self {
            MergeStrategy::Increment | MergeStrategy::Max | MergeStrategy::Min if !number || !spec.single_value => {
                Err("a single-value number column")
            }
            MergeStrategy::Append | MergeStrategy::Union if spec.single_value => Err("a multi-value column"),
            _ => Ok(()),
        }
    }

    fn parse(text: &str) -> Option<MergeStrategy> {
        Some(match text.to_ascii_uppercase().as_str() {
            "OVERWRITE" => MergeStrategy::Overwrite,
            "FORCE_OVERWRITE" => MergeStrategy::ForceOverwrite,
            "IGNORE" => MergeStrategy::Ignore,
            "INCREMENT" => MergeStrategy::Increment,
            "APPEND" => MergeStrategy::Append,
            "UNION" => MergeStrategy::Union,
            "MAX" => MergeStrategy::Max,
            "MIN" => MergeStrategy::Min,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UpsertPlan {
    /// Schema indexes of the primary key columns.
    pub key_columns: Vec<usize>,
    pub hash: KeyHash,
    /// Schema index of the column that orders versions of a key (the time column unless
    /// `comparisonColumns` names one); ties go to the row that arrived later.
    pub comparison: usize,
    /// PARTIAL mode: one strategy per schema column (key and comparison columns are never
    /// merged); `None` in FULL mode.
    pub partial: Option<Vec<MergeStrategy>>,
    /// A BOOLEAN column whose `true` deletes the key (queries stop seeing it).
    pub delete_column: Option<usize>,
    /// A row older than the key's latest is not stored at all (instead of stored, hidden).
    pub drop_out_of_order: bool,
    /// A BOOLEAN column set `true` on rows that arrived out of order.
    pub out_of_order_column: Option<usize>,
    /// Keys whose latest comparison value is this far behind the largest seen are forgotten
    /// (0 = never); in the comparison column's units.
    pub metadata_ttl: f64,
    /// Deleted keys are forgotten this far behind the largest comparison value (0 = never).
    pub deleted_keys_ttl: f64,
    /// Valid docs are snapshotted with each segment publish (Pinot's `enableSnapshot`);
    /// cuvee always snapshots, since restarts and exactly-once depend on it.
    pub snapshot: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DedupPlan {
    pub key_columns: Vec<usize>,
    pub hash: KeyHash,
    /// Keys are remembered for this long behind the largest `time_column` value (0 = ever).
    pub metadata_ttl: f64,
    /// Schema index of the column the TTL is measured on (`dedupTimeColumn`, else the time column).
    pub time_column: Option<usize>,
}

/// Reads the table's upsert and dedup configs; problems go to `problems`.
pub(crate) fn plan(schema: &Schema, config: &TableConfigJson, problems: &mut Vec<Problem>) -> KeyPolicy {
    let upsert = config.upsert_config.as_ref().filter(|u| upsert_mode(u) != Some("NONE"));
    let dedup = config.dedup_config.as_ref().filter(|d| switch(d, "dedupEnabled", "dedupConfig", false, problems));
    if upsert.is_none() && dedup.is_none() {
        return KeyPolicy::Append;
    }
    if upsert.is_some() && dedup.is_some() {
        problems.push(Problem::new("dedupConfig", "a table cannot have both upsert and dedup enabled"));
        return KeyPolicy::Append;
    }
    let what = if upsert.is_some() { "upsertConfig" } else { "dedupConfig" };
    if config.table_type != TableType::Realtime {
        problems.push(Problem::new(
            what,
            "upsert and dedup need a REALTIME table (rows arrive by primary key over a stream)",
        ));
    }
    let key_columns = key_columns(schema, what, problems);
    match (upsert, dedup) {
        (Some(json), _) => {
            upsert_plan(schema, config, json, key_columns, problems).map_or(KeyPolicy::Append, KeyPolicy::Upsert)
        }
        (None, Some(json)) => {
            dedup_plan(schema, config, json, key_columns, problems).map_or(KeyPolicy::Append, KeyPolicy::Dedup)
        }
        (None, None) => KeyPolicy::Append,
    }
}

fn upsert_mode(json: &Json) -> Option<&str> {
    json.get("mode").and_then(Json::as_str)
}

/// The boolean at `json[key]` (`true`, `"true"`, …), `default` when absent; anything else
/// is a problem (a typo must not quietly turn a feature off).
fn switch(json: &Json, key: &str, what: &str, default: bool, problems: &mut Vec<Problem>) -> bool {
    match json.get(key) {
        None | Some(Json::Null) => default,
        Some(value) => flag(Some(value)).unwrap_or_else(|| {
            problems.push(Problem::new(format!("{what}.{key}"), format!("must be true or false, got {value}")));
            default
        }),
    }
}

fn flag(json: Option<&Json>) -> Option<bool> {
    match json? {
        Json::Bool(b) => Some(*b),
        Json::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Json::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn key_columns(schema: &Schema, what: &str, problems: &mut Vec<Problem>) -> Vec<usize> {
    let names = schema.primary_key_columns();
    if names.is_empty() {
        problems.push(Problem::new(
            what,
            format!("schema \"{}\" has no primaryKeyColumns, which upsert and dedup key rows by", schema.name()),
        ));
    }
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match schema.column_index(name) {
            Some(index) if schema.columns()[index].single_value => out.push(index),
            Some(_) => problems.push(Problem::new(
                format!("primaryKeyColumns[{i}]"),
                format!("column \"{name}\" is multi-value; a primary key column holds one value"),
            )),
            // The schema's own check names a missing column.
            None => {}
        }
    }
    out
}

fn hash(json: &Json, what: &str, problems: &mut Vec<Problem>) -> KeyHash {
    match json.get("hashFunction") {
        None | Some(Json::Null) => KeyHash::None,
        Some(Json::String(s)) => match s.to_ascii_uppercase().as_str() {
            "NONE" => KeyHash::None,
            "MD5" => KeyHash::Md5,
            "MURMUR3" => KeyHash::Murmur3,
            _ => {
                problems.push(Problem::new(
                    format!("{what}.hashFunction"),
                    format!("must be NONE, MD5 or MURMUR3, got \"{s}\""),
                ));
                KeyHash::None
            }
        },
        Some(other) => {
            problems.push(Problem::new(format!("{what}.hashFunction"), format!("must be a string, got {other}")));
            KeyHash::None
        }
    }
}

fn number(json: &Json, key: &str, what: &str, problems: &mut Vec<Problem>) -> f64 {
    let value = match json.get(key) {
        None | Some(Json::Null) => return 0.0,
        Some(Json::Number(n)) => n.as_f64(),
        Some(Json::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    match value {
        Some(v) if v.is_finite() && v >= 0.0 => v,
        _ => {
            problems.push(Problem::new(
                format!("{what}.{key}"),
                format!("must be a number of at least 0, got {}", json.get(key).unwrap_or(&Json::Null)),
            ));
            0.0
        }
    }
}

/// A named column of `schema`, or a problem at `path`.
fn column(schema: &Schema, path: String, json: &Json, problems: &mut Vec<Problem>) -> Option<usize> {
    let Some(name) = json.as_str() else {
        problems.push(Problem::new(path, format!("must be a column name, got {json}")));
        return None;
    };
    let index = schema.column_index(name);
    if index.is_none() {
        problems.push(Problem::new(path, format!("column \"{name}\" is not in schema \"{}\"", schema.name())));
    }
    index
}

fn boolean_column(schema: &Schema, path: String, json: Option<&Json>, problems: &mut Vec<Problem>) -> Option<usize> {
    let json = json.filter(|j| !j.is_null())?;
    let index = column(schema, path.clone(), json, problems)?;
    let spec = &schema.columns()[index];
    if spec.data_type != DataType::Boolean || !spec.single_value {
        problems.push(Problem::new(path, format!("column \"{}\" must be a single-value BOOLEAN", spec.name)));
        return None;
    }
    Some(index)
}

fn upsert_plan(
    schema: &Schema,
    config: &TableConfigJson,
    json: &Json,
    key_columns: Vec<usize>,
    problems: &mut Vec<Problem>,
) -> Option<UpsertPlan> {
    let what = "upsertConfig";
    if !json.is_object() {
        problems.push(Problem::new(what, format!("must be an object, got {json}")));
        return None;
    }
    let partial = match upsert_mode(json) {
        Some("FULL") => false,
        Some("PARTIAL") => true,
        other => {
            problems.push(Problem::new(
                "upsertConfig.mode",
                format!(
                    "must be FULL, PARTIAL or NONE, got {}",
                    other.map_or("nothing".to_string(), |m| format!("\"{m}\""))
                ),
            ));
            return None;
        }
    };
    let comparison = match json.get("comparisonColumns").or_else(|| json.get("comparisonColumn")) {
        Some(Json::Array(columns)) if columns.len() > 1 => {
            problems.push(Problem::new(
                "upsertConfig.comparisonColumns",
                "more than one comparison column is not supported yet; name one",
            ));
            None
        }
        Some(Json::Array(columns)) if columns.len() == 1 => {
            column(schema, "upsertConfig.comparisonColumns[0]".into(), &columns[0], problems)
        }
        Some(name @ Json::String(_)) => column(schema, "upsertConfig.comparisonColumn".into(), name, problems),
        _ => match config.time_column() {
            Some(time) => schema.column_index(time),
            None => {
                problems.push(Problem::new(
                    what,
                    "versions of a key are ordered by comparisonColumns or the time column; the table has neither",
                ));
                None
            }
        },
    };
    if let Some(index) = comparison {
        let spec = &schema.columns()[index];
        let orderable = matches!(
            spec.data_type,
            DataType::Int | DataType::Long | DataType::Float | DataType::Double | DataType::Timestamp
        );
        if !orderable || !spec.single_value {
            problems.push(Problem::new(
                what,
                format!("comparison column \"{}\" must be a single-value number or timestamp", spec.name),
            ));
        }
    }
    let strategies = if partial {
        let default = match json.get("defaultPartialUpsertStrategy") {
            None | Some(Json::Null) => MergeStrategy::Overwrite,
            Some(s) => match s.as_str().and_then(MergeStrategy::parse) {
                Some(strategy) => strategy,
                None => {
                    problems.push(Problem::new(
                        "upsertConfig.defaultPartialUpsertStrategy",
                        format!("not a partial upsert strategy: {s}"),
                    ));
                    MergeStrategy::Overwrite
                }
            },
        };
        let mut strategies = vec![default; schema.columns().len()];
        if let Some(map) = json.get("partialUpsertStrategies") {
            let Some(map) = map.as_object() else {
                problems.push(Problem::new(
                    "upsertConfig.partialUpsertStrategies",
                    "must be an object of column → strategy",
                ));
                return None;
            };
            for (name, strategy) in map {
                let path = format!("upsertConfig.partialUpsertStrategies.{name}");
                let Some(index) = column(schema, path.clone(), &Json::String(name.clone()), problems) else { continue };
                let shown = strategy.as_str().map_or_else(|| strategy.to_string(), str::to_string);
                let Some(parsed) = strategy.as_str().and_then(MergeStrategy::parse) else {
                    problems.push(Problem::new(path, format!("not a partial upsert strategy: {shown} (OVERWRITE, FORCE_OVERWRITE, IGNORE, INCREMENT, APPEND, UNION, MAX or MIN)")));
                    continue;
                };
                let spec = &schema.columns()[index];
                if let Err(needs) = parsed.fits(spec) {
                    problems.push(Problem::new(path, format!("{shown} needs {needs}; \"{name}\" is not one")));
                }
                strategies[index] = parsed;
            }
        }
        // Key and comparison columns are what identify and order the row, never merged.
        for &index in key_columns.iter().chain(comparison.iter()) {
            strategies[index] = MergeStrategy::ForceOverwrite;
        }
        // Defaults that cannot apply to a column's type fall back to overwriting it.
        for (strategy, spec) in strategies.iter_mut().zip(schema.columns()) {
            if strategy.fits(spec).is_err() {
                *strategy = MergeStrategy::Overwrite;
            }
        }
        Some(strategies)
    } else {
        None
    };
    let delete_column =
        boolean_column(schema, "upsertConfig.deleteRecordColumn".into(), json.get("deleteRecordColumn"), problems);
    let out_of_order_column = boolean_column(
        schema,
        "upsertConfig.outOfOrderRecordColumn".into(),
        json.get("outOfOrderRecordColumn"),
        problems,
    );
    let plan = UpsertPlan {
        hash: hash(json, what, problems),
        comparison: comparison?,
        partial: strategies,
        delete_column,
        drop_out_of_order: switch(json, "dropOutOfOrderRecord", what, false, problems),
        out_of_order_column,
        metadata_ttl: number(json, "metadataTTL", what, problems),
        deleted_keys_ttl: number(json, "deletedKeysTTL", what, problems),
        snapshot: switch(json, "enableSnapshot", what, true, problems),
        key_columns,
    };
    Some(plan)
}

fn dedup_plan(
    schema: &Schema,
    config: &TableConfigJson,
    json: &Json,
    key_columns: Vec<usize>,
    problems: &mut Vec<Problem>,
) -> Option<DedupPlan> {
    let what = "dedupConfig";
    let metadata_ttl = number(json, "metadataTTL", what, problems);
    let time_column = match json.get("dedupTimeColumn").filter(|j| !j.is_null()) {
        Some(name) => column(schema, "dedupConfig.dedupTimeColumn".into(), name, problems),
        None => config.time_column().and_then(|t| schema.column_index(t)),
    };
    if metadata_ttl > 0.0 && time_column.is_none() {
        problems.push(Problem::new(
            "dedupConfig.metadataTTL",
            "a TTL needs dedupTimeColumn or a time column to measure it on",
        ));
    }
    Some(DedupPlan { hash: hash(json, what, problems), metadata_ttl, time_column, key_columns })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Table;

    const SCHEMA: &str = r#"{"schemaName":"scores",
        "dimensionFieldSpecs":[{"name":"playerId","dataType":"INT"},{"name":"name","dataType":"STRING"},
          {"name":"game","dataType":"STRING","singleValueField":false},{"name":"deleted","dataType":"BOOLEAN"}],
        "metricFieldSpecs":[{"name":"score","dataType":"FLOAT"}],
        "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:MILLISECONDS:EPOCH","granularity":"1:MILLISECONDS"}],
        "primaryKeyColumns":["playerId"]}"#;

    fn table(extra: &str) -> crate::Result<Table> {
        let config = format!(
            r#"{{"tableName":"scores","tableType":"REALTIME","segmentsConfig":{{"timeColumnName":"ts"}},
              "tableIndexConfig":{{"streamConfigs":{{"streamType":"kafka","stream.kafka.topic.name":"t",
              "stream.kafka.broker.list":"localhost:9092"}}}}{extra}}}"#
        );
        Table::new(Schema::from_json(SCHEMA)?, TableConfigJson::from_json(&config)?)
    }

    #[test]
    fn full_upsert_orders_by_the_time_column_by_default() {
        let t = table(r#","upsertConfig":{"mode":"FULL","deleteRecordColumn":"deleted"}"#).unwrap();
        let KeyPolicy::Upsert(plan) = t.key_policy() else { panic!("{:?}", t.key_policy()) };
        assert_eq!(plan.key_columns, vec![0]);
        assert_eq!(plan.comparison, 5);
        assert_eq!(plan.delete_column, Some(3));
        assert!(plan.partial.is_none());
    }

    #[test]
    fn partial_strategies_are_checked_against_column_types() {
        let t = table(
            r#","upsertConfig":{"mode":"PARTIAL","partialUpsertStrategies":{"score":"INCREMENT","game":"UNION"}}"#,
        )
        .unwrap();
        let KeyPolicy::Upsert(plan) = t.key_policy() else { panic!() };
        let strategies = plan.partial.as_ref().unwrap();
        assert_eq!(strategies[4], MergeStrategy::Increment);
        assert_eq!(strategies[2], MergeStrategy::Union);
        assert_eq!(strategies[0], MergeStrategy::ForceOverwrite);
        let e = table(
            r#","upsertConfig":{"mode":"PARTIAL","partialUpsertStrategies":{"name":"INCREMENT","score":"SOMETIMES"}}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("upsertConfig.partialUpsertStrategies.name: INCREMENT needs a single-value number"), "{e}");
        assert!(e.contains("upsertConfig.partialUpsertStrategies.score: not a partial upsert strategy"), "{e}");
    }

    #[test]
    fn refusals_name_their_path() {
        let e = table(r#","upsertConfig":{"mode":"SOMETIMES"}"#).unwrap_err().to_string();
        assert!(e.contains("upsertConfig.mode: must be FULL, PARTIAL or NONE"), "{e}");
        let e = table(r#","upsertConfig":{"mode":"FULL","deleteRecordColumn":"name","hashFunction":"SHA1"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("upsertConfig.deleteRecordColumn: column \"name\" must be a single-value BOOLEAN"), "{e}");
        assert!(e.contains("upsertConfig.hashFunction: must be NONE, MD5 or MURMUR3"), "{e}");
        let e =
            table(r#","upsertConfig":{"mode":"FULL"},"dedupConfig":{"dedupEnabled":true}"#).unwrap_err().to_string();
        assert!(e.contains("both upsert and dedup"), "{e}");
        let e = table(r#","upsertConfig":{"mode":"FULL","comparisonColumns":["name"],"metadataTTL":-1}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("comparison column \"name\" must be a single-value number"), "{e}");
        assert!(e.contains("upsertConfig.metadataTTL: must be a number of at least 0"), "{e}");
    }

    #[test]
    fn dedup_and_disabled_configs() {
        let t =
            table(r#","dedupConfig":{"dedupEnabled":true,"hashFunction":"MURMUR3","metadataTTL":3600000}"#).unwrap();
        let KeyPolicy::Dedup(plan) = t.key_policy() else { panic!() };
        assert_eq!((plan.hash, plan.time_column), (KeyHash::Murmur3, Some(5)));
        let t = table(r#","dedupConfig":{"dedupEnabled":false},"upsertConfig":{"mode":"NONE"}"#).unwrap();
        assert_eq!(t.key_policy(), &KeyPolicy::Append);
    }
}
