//! Pinot schema JSON: field specs, defaults, and the validated column list derived from them.

use crate::datetime::{DateTimeFormatSpec, Granularity};
use crate::error::{parse_json, CatalogError, Problem, Result};
use crate::lenient::Flag;
use crate::unknown::{collect_unknown, Extra};
use crate::value::{DataType, Value};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashSet};

/// The schema exactly as written (every key kept, unknown ones in `extra`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaConfig {
    pub schema_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension_field_specs: Option<Vec<FieldSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metric_field_specs: Option<Vec<FieldSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_time_field_specs: Option<Vec<FieldSpec>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_field_spec: Option<TimeFieldSpec>,
    /// Complex (MAP/STRUCT/LIST) fields: kept verbatim; cuvee does not index them yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complex_field_specs: Option<Vec<Json>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_key_columns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_column_based_null_handling: Option<Flag>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldSpec {
    pub name: String,
    pub data_type: DataType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_value_field: Option<Flag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_null_value: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_null: Option<Flag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length_exceed_strategy: Option<String>,
    /// Date-time fields only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub granularity: Option<String>,
    /// Pinot's legacy per-field transform; kept, applied like an ingestion transform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform_function: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_column_provider: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Legacy `timeFieldSpec`: an incoming and an optional outgoing granularity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeFieldSpec {
    pub incoming_granularity_spec: TimeGranularitySpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outgoing_granularity_spec: Option<TimeGranularitySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_null_value: Option<Json>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeGranularitySpec {
    pub name: String,
    pub data_type: DataType,
    pub time_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_unit_size: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_format: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Dimension,
    Metric,
    DateTime,
    /// From a legacy `timeFieldSpec`.
    Time,
}

/// What to do when a value is longer than `maxLength`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxLengthStrategy {
    Trim,
    Error,
    SubstituteDefault,
    NoAction,
}

/// One column, with every default resolved and its date-time format parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    pub name: String,
    pub data_type: DataType,
    pub kind: FieldKind,
    pub single_value: bool,
    /// The value stored for a null (Pinot's default when the schema gives none).
    pub default_null_value: Value,
    pub not_null: bool,
    pub max_length: u32,
    pub max_length_strategy: MaxLengthStrategy,
    pub time_format: Option<DateTimeFormatSpec>,
    pub granularity: Option<Granularity>,
    pub transform_function: Option<String>,
}

/// A validated schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    pub config: SchemaConfig,
    columns: Vec<ColumnSpec>,
}

pub const DEFAULT_MAX_LENGTH: u32 = 512;

impl Schema {
    pub fn from_json(text: &str) -> Result<Schema> {
        Schema::new(parse_json("schema", text)?)
    }

    pub fn new(config: SchemaConfig) -> Result<Schema> {
        let mut problems = Vec::new();
        let columns = resolve_columns(&config, &mut problems);
        if problems.is_empty() {
            Ok(Schema { config, columns })
        } else {
            Err(CatalogError::Invalid { what: "schema", problems })
        }
    }

    pub fn name(&self) -> &str {
        &self.config.schema_name
    }

    pub fn columns(&self) -> &[ColumnSpec] {
        &self.columns
    }

    pub fn column(&self, name: &str) -> Option<&ColumnSpec> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The columns upsert and dedup key rows by (`primaryKeyColumns`), possibly none.
    pub fn primary_key_columns(&self) -> &[String] {
        self.config.primary_key_columns.as_deref().unwrap_or_default()
    }

    pub fn to_json(&self) -> Json {
        serde_json::to_value(&self.config).unwrap_or(Json::Null)
    }

    /// Keys cuvee does not know, by JSON pointer (`/dimensionFieldSpecs/0/fooBar`), as Pinot
    /// reports them in `unrecognizedProperties`.
    pub fn unrecognized_properties(&self) -> BTreeMap<String, Json> {
        let mut out = BTreeMap::new();
        let c = &self.config;
        collect_unknown(&mut out, "", &c.extra);
        for (list_name, list) in [
            ("dimensionFieldSpecs", &c.dimension_field_specs),
            ("metricFieldSpecs", &c.metric_field_specs),
            ("dateTimeFieldSpecs", &c.date_time_field_specs),
        ] {
            for (i, spec) in list.iter().flatten().enumerate() {
                collect_unknown(&mut out, &format!("/{list_name}/{i}"), &spec.extra);
            }
        }
        if let Some(time) = &c.time_field_spec {
            collect_unknown(&mut out, "/timeFieldSpec", &time.extra);
            collect_unknown(&mut out, "/timeFieldSpec/incomingGranularitySpec", &time.incoming_granularity_spec.extra);
            if let Some(out_spec) = &time.outgoing_granularity_spec {
                collect_unknown(&mut out, "/timeFieldSpec/outgoingGranularitySpec", &out_spec.extra);
            }
        }
        out
    }
}

/// Pinot's default null value for a type and field kind.
pub fn pinot_default_null(data_type: DataType, kind: FieldKind) -> Value {
    let metric = kind == FieldKind::Metric;
    match data_type {
        DataType::Int => Value::Int(if metric { 0 } else { i32::MIN }),
        DataType::Long => Value::Long(if metric { 0 } else { i64::MIN }),
        DataType::Float => Value::Float(if metric { 0.0 } else { f32::NEG_INFINITY }),
        DataType::Double => Value::Double(if metric { 0.0 } else { f64::NEG_INFINITY }),
        DataType::BigDecimal => Value::BigDecimal("0".into()),
        DataType::Boolean => Value::Boolean(false),
        DataType::Timestamp => Value::Timestamp(0),
        DataType::String => Value::String("null".into()),
        DataType::Json => Value::Json("null".into()),
        DataType::Bytes => Value::Bytes(Vec::new()),
    }
}

fn resolve_columns(config: &SchemaConfig, problems: &mut Vec<Problem>) -> Vec<ColumnSpec> {
    if config.schema_name.trim().is_empty() {
        problems.push(Problem::new("schemaName", "must not be empty"));
    } else if let Err(e) = crate::name::check(crate::NameKind::Schema, &config.schema_name) {
        problems.push(Problem::new("schemaName", e.to_string()));
    }
    let mut columns = Vec::new();
    for (list_name, list, kind) in [
        ("dimensionFieldSpecs", &config.dimension_field_specs, FieldKind::Dimension),
        ("metricFieldSpecs", &config.metric_field_specs, FieldKind::Metric),
        ("dateTimeFieldSpecs", &config.date_time_field_specs, FieldKind::DateTime),
    ] {
        for (i, spec) in list.iter().flatten().enumerate() {
            let path = format!("{list_name}[{i}]");
            if let Some(column) = resolve_field(spec, kind, &path, problems) {
                columns.push(column);
            }
        }
    }
    if let Some(time) = &config.time_field_spec {
        if let Some(column) = resolve_legacy_time(time, problems) {
            columns.push(column);
        }
    }
    let mut seen = HashSet::new();
    for column in &columns {
        if !seen.insert(column.name.as_str()) {
            problems.push(Problem::new("", format!("column \"{}\" is defined more than once", column.name)));
        }
    }
    for (i, key) in config.primary_key_columns.iter().flatten().enumerate() {
        if !seen.contains(key.as_str()) {
            problems.push(Problem::new(
                format!("primaryKeyColumns[{i}]"),
                format!("column \"{key}\" is not in schema \"{}\"", config.schema_name),
            ));
        }
    }
    columns
}

fn resolve_field(spec: &FieldSpec, kind: FieldKind, path: &str, problems: &mut Vec<Problem>) -> Option<ColumnSpec> {
    let before = problems.len();
    if spec.name.trim().is_empty() {
        problems.push(Problem::new(format!("{path}.name"), "must not be empty"));
    }
    if kind == FieldKind::Metric && !(spec.data_type.is_numeric() || spec.data_type == DataType::Bytes) {
        problems.push(Problem::new(
            format!("{path}.dataType"),
            format!("metric column \"{}\" must be numeric or BYTES, not {}", spec.name, spec.data_type),
        ));
    }
    let single_value = spec.single_value_field.is_none_or(|f| f.value);
    let default_null_value = match &spec.default_null_value {
        None | Some(Json::Null) => pinot_default_null(spec.data_type, kind),
        Some(json) => match spec.data_type.value_from_json(json) {
            Ok(value) => value,
            Err(reason) => {
                problems.push(Problem::new(format!("{path}.defaultNullValue"), reason.to_string()));
                pinot_default_null(spec.data_type, kind)
            }
        },
    };
    if spec.max_length.is_some() && !spec.data_type.is_variable_length() {
        problems.push(Problem::new(
            format!("{path}.maxLength"),
            format!("applies to STRING, JSON and BYTES columns, not {}", spec.data_type),
        ));
    }
    let max_length_strategy = match spec.max_length_exceed_strategy.as_deref() {
        None => default_length_strategy(spec.data_type),
        Some(s) => match s.to_ascii_uppercase().as_str() {
            "TRIM_LENGTH" => MaxLengthStrategy::Trim,
            "ERROR" => MaxLengthStrategy::Error,
            "SUBSTITUTE_DEFAULT_VALUE" => MaxLengthStrategy::SubstituteDefault,
            "NO_ACTION" => MaxLengthStrategy::NoAction,
            other => {
                problems.push(Problem::new(
                    format!("{path}.maxLengthExceedStrategy"),
                    format!("\"{other}\" is not one of TRIM_LENGTH, ERROR, SUBSTITUTE_DEFAULT_VALUE, NO_ACTION"),
                ));
                MaxLengthStrategy::Trim
            }
        },
    };
    let (time_format, granularity) = if kind == FieldKind::DateTime {
        let format = match &spec.format {
            Some(f) => DateTimeFormatSpec::parse(f)
                .map_err(|e| problems.push(Problem::new(format!("{path}.format"), e.to_string())))
                .ok(),
            None => {
                problems.push(Problem::new(format!("{path}.format"), "a date-time field needs a format"));
                None
            }
        };
        let granularity = match &spec.granularity {
            Some(g) => Granularity::parse(g)
                .map_err(|e| problems.push(Problem::new(format!("{path}.granularity"), e.to_string())))
                .ok(),
            None => {
                problems.push(Problem::new(format!("{path}.granularity"), "a date-time field needs a granularity"));
                None
            }
        };
        (format, granularity)
    } else {
        (None, None)
    };
    if problems.len() > before {
        return None;
    }
    Some(ColumnSpec {
        name: spec.name.clone(),
        data_type: spec.data_type,
        kind,
        single_value,
        default_null_value,
        not_null: spec.not_null.is_some_and(|f| f.value),
        max_length: spec.max_length.unwrap_or(DEFAULT_MAX_LENGTH),
        max_length_strategy,
        time_format,
        granularity,
        transform_function: spec.transform_function.clone(),
    })
}

fn default_length_strategy(data_type: DataType) -> MaxLengthStrategy {
    // Pinot trims strings and leaves JSON/BYTES alone unless told otherwise.
    match data_type {
        DataType::String => MaxLengthStrategy::Trim,
        _ => MaxLengthStrategy::NoAction,
    }
}

fn resolve_legacy_time(time: &TimeFieldSpec, problems: &mut Vec<Problem>) -> Option<ColumnSpec> {
    let spec = time.outgoing_granularity_spec.as_ref().unwrap_or(&time.incoming_granularity_spec);
    let path = "timeFieldSpec";
    let size = spec.time_unit_size.unwrap_or(1);
    let format_text = match &spec.time_format {
        Some(f) if f.starts_with("SIMPLE_DATE_FORMAT") => {
            let pattern = f.split_once(':').map(|(_, p)| p).unwrap_or("");
            format!("{size}:{}:SIMPLE_DATE_FORMAT:{pattern}", spec.time_type)
        }
        _ => format!("{size}:{}:EPOCH", spec.time_type),
    };
    let time_format =
        DateTimeFormatSpec::parse(&format_text).map_err(|e| problems.push(Problem::new(path, e.to_string()))).ok()?;
    let granularity = Granularity::parse(&format!("{size}:{}", spec.time_type)).ok();
    let default_null_value = match &time.default_null_value {
        Some(json) => spec
            .data_type
            .value_from_json(json)
            .map_err(|r| problems.push(Problem::new(format!("{path}.defaultNullValue"), r.to_string())))
            .ok()?,
        None => pinot_default_null(spec.data_type, FieldKind::Time),
    };
    Some(ColumnSpec {
        name: spec.name.clone(),
        data_type: spec.data_type,
        kind: FieldKind::Time,
        single_value: true,
        default_null_value,
        not_null: false,
        max_length: DEFAULT_MAX_LENGTH,
        max_length_strategy: default_length_strategy(spec.data_type),
        time_format: Some(time_format),
        granularity,
        transform_function: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_pinot_defaults() {
        let schema = Schema::from_json(
            r#"{"schemaName":"t",
                "dimensionFieldSpecs":[{"name":"d","dataType":"INT"},{"name":"s","dataType":"STRING","singleValueField":false},
                                       {"name":"x","dataType":"LONG","defaultNullValue":"7"}],
                "metricFieldSpecs":[{"name":"m","dataType":"DOUBLE"}],
                "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"EPOCH|MILLISECONDS","granularity":"1:MILLISECONDS"}]}"#,
        )
        .unwrap();
        assert_eq!(schema.column("d").unwrap().default_null_value, Value::Int(i32::MIN));
        assert_eq!(schema.column("s").unwrap().default_null_value, Value::String("null".into()));
        assert!(!schema.column("s").unwrap().single_value);
        assert_eq!(schema.column("x").unwrap().default_null_value, Value::Long(7));
        assert_eq!(schema.column("m").unwrap().default_null_value, Value::Double(0.0));
        assert_eq!(schema.column("s").unwrap().max_length, 512);
        assert!(schema.column("ts").unwrap().time_format.is_some());
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let err = Schema::from_json(
            r#"{"schemaName":"t",
                "dimensionFieldSpecs":[{"name":"d","dataType":"INT","defaultNullValue":"abc"},{"name":"d","dataType":"INT"}],
                "metricFieldSpecs":[{"name":"m","dataType":"STRING"}],
                "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:WEEKS:EPOCH","granularity":"1:DAYS"}],
                "primaryKeyColumns":["nope"]}"#,
        )
        .unwrap_err()
        .to_string();
        for needle in [
            "dimensionFieldSpecs[0].defaultNullValue: \"abc\" is not a INT",
            "metricFieldSpecs[0].dataType: metric column \"m\" must be numeric",
            "dateTimeFieldSpecs[0].format",
            "primaryKeyColumns[0]: column \"nope\" is not in schema \"t\"",
        ] {
            assert!(err.contains(needle), "missing {needle} in {err}");
        }
    }

    #[test]
    fn type_errors_name_the_path() {
        let err = Schema::from_json(r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"d","dataType":"INTEGER"}]}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("dimensionFieldSpecs[0].dataType"), "{err}");
    }

    #[test]
    fn legacy_time_field_spec_becomes_a_column() {
        let schema = Schema::from_json(
            r#"{"schemaName":"t","timeFieldSpec":{"incomingGranularitySpec":{"name":"days","dataType":"INT","timeType":"DAYS"}}}"#,
        )
        .unwrap();
        let column = schema.column("days").unwrap();
        assert_eq!(column.kind, FieldKind::Time);
        assert_eq!(column.time_format.as_ref().unwrap().to_millis(&Value::Int(1)).unwrap(), 86_400_000);
    }

    #[test]
    fn unknown_keys_are_kept_and_reported() {
        let text = r#"{"schemaName":"t","fancy":1,"dimensionFieldSpecs":[{"name":"d","dataType":"INT","shiny":true}]}"#;
        let schema = Schema::from_json(text).unwrap();
        let unknown = schema.unrecognized_properties();
        assert_eq!(unknown.get("/fancy"), Some(&serde_json::json!(1)));
        assert_eq!(unknown.get("/dimensionFieldSpecs/0/shiny"), Some(&serde_json::json!(true)));
        assert_eq!(schema.to_json(), serde_json::from_str::<Json>(text).unwrap());
    }
}
