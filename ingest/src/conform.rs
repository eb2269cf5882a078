//! Turning an input record into a row of a table: transforms, filter, type conversion,
//! nulls, `maxLength`, and a check that the time column's value matches its declared format.

use crate::error::IngestError;
use crate::json_row::JsonRows;
use crate::transform::Expression;
use cuvee_catalog::{ColumnSpec, DataType, MaxLengthStrategy, Problem, Table, Value};
use cuvee_segments::{FieldValue, Row};
use serde_json::{Map, Value as Json};
use std::borrow::Cow;

/// Why a record did not become a row; it is kept as a dead letter (streams) or reported as
/// a bad row (files), never silently dropped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejected {
    /// The bytes are not a record of the configured format.
    #[error("{0}")]
    Undecodable(String),
    #[error("transform of column {column} ({expression}): {source}")]
    Transform { column: String, expression: String, source: cuvee_functions::FunctionError },
    #[error("filter function ({expression}): {source}")]
    Filter { expression: String, source: cuvee_functions::FunctionError },
    /// A value that does not fit its column (type, arity, `maxLength`).
    #[error("column {column}: {reason}")]
    Column { column: String, reason: String },
    /// The time column's value is not in its declared format.
    #[error("time column {column}: {reason}")]
    TimeColumn { column: String, reason: String },
    /// The row did not fit the segment.
    #[error("{0}")]
    Row(String),
}

impl cuvee_error::ErrorExt for Rejected {
    fn kind(&self) -> cuvee_error::ErrorKind {
        cuvee_error::ErrorKind::InvalidValue
    }
}

pub enum Conformed {
    /// The row, and its time in epoch milliseconds when the table has a time column.
    Row(Row, Option<i64>),
    /// The filter function returned true: Pinot skips such records.
    Filtered,
}

pub struct Conformer {
    table: Table,
    /// (destination column, expression), in the order they run.
    transforms: Vec<(String, Expression)>,
    filter: Option<Expression>,
    time_column: Option<usize>,
    /// `complexTypeConfig`'s delimiter: nested objects are flattened first.
    flatten: Option<String>,
    /// JSON messages straight into rows, when nothing needs the whole record first.
    json_rows: Option<JsonRows>,
}

impl Conformer {
    pub fn new(table: &Table) -> Result<Conformer, IngestError> {
        let mut problems = Vec::new();
        let mut transforms = Vec::new();
        for (i, t) in table.config.transform_configs().iter().enumerate() {
            match Expression::compile(&t.transform_function) {
                Ok(e) => transforms.push((t.column_name.clone(), e)),
                Err(reason) => problems.push(Problem::new(
                    format!("ingestionConfig.transformConfigs[{i}].transformFunction"),
                    reason.to_string(),
                )),
            }
        }
        for column in table.schema.columns() {
            let configured = transforms.iter().any(|(c, _)| c == &column.name);
            if let (Some(text), false) = (&column.transform_function, configured) {
                match Expression::compile(text) {
                    Ok(e) => transforms.push((column.name.clone(), e)),
                    Err(reason) => problems.push(Problem::new(
                        format!("schema column {}.transformFunction", column.name),
                        reason.to_string(),
                    )),
                }
            }
        }
        let filter = match table.config.filter_function() {
            None => None,
            Some(text) => match Expression::compile(text) {
                Ok(e) => Some(e),
                Err(reason) => {
                    problems.push(Problem::new("ingestionConfig.filterConfig.filterFunction", reason.to_string()));
                    None
                }
            },
        };
        if !problems.is_empty() {
            return Err(IngestError::Config(cuvee_catalog::CatalogError::Invalid { what: "table config", problems }));
        }
        let time_column = table.config.time_column().and_then(|c| table.schema.column_index(c));
        let flatten = table.config.complex_type_config().map(|c| c.delimiter().to_string());
        let mut conformer =
            Conformer { table: table.clone(), transforms, filter, time_column, flatten, json_rows: None };
        conformer.json_rows = conformer.takes_fields_as_they_are().then(|| JsonRows::new(table.schema.columns()));
        Ok(conformer)
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The time column's index in the schema.
    pub(crate) fn time_column(&self) -> Option<usize> {
        self.time_column
    }

    /// Whether a record's fields become the row's as they are (no transform, filter or
    /// flattening), so a columnar file can be converted a column at a time.
    pub(crate) fn takes_fields_as_they_are(&self) -> bool {
        self.transforms.is_empty() && self.filter.is_none() && self.flatten.is_none()
    }

    /// Converts one record; the error says which column and why.
    pub fn conform(&self, mut record: Map<String, Json>) -> Result<Conformed, Rejected> {
        if let Some(delimiter) = &self.flatten {
            record = flatten(record, delimiter);
        }
        for (column, expression) in &self.transforms {
            let value = expression.eval(&record).map_err(|source| Rejected::Transform {
                column: column.clone(),
                expression: expression.text.clone(),
                source,
            })?;
            record.insert(column.clone(), value);
        }
        if let Some(filter) = &self.filter {
            let skip =
                filter.eval(&record).map_err(|source| Rejected::Filter { expression: filter.text.clone(), source })?;
            if skip == Json::Bool(true) {
                return Ok(Conformed::Filtered);
            }
        }
        self.assemble(|spec| field(spec, record.get(&spec.name).unwrap_or(&Json::Null)))
    }

    /// One JSON message straight into a row ([`JsonRows`]); `None` when this table's
    /// records need the general path, or the message is not one well-formed object.
    pub(crate) fn json_row(&self, payload: &[u8]) -> Option<Result<Conformed, Rejected>> {
        self.json_rows.as_ref()?.row(self, payload)
    }

    /// The row from each column's converted value, in schema order: the first column that
    /// could not be converted is the one reported, and the time column is checked against
    /// its declared format.
    pub(crate) fn assemble(
        &self,
        mut field_of: impl FnMut(&ColumnSpec) -> Result<FieldValue, String>,
    ) -> Result<Conformed, Rejected> {
        let columns = self.table.schema.columns();
        let mut row = Vec::with_capacity(columns.len());
        for (i, spec) in columns.iter().enumerate() {
            match field_of(spec) {
                Ok(field) => row.push(field),
                Err(reason) => return self.finish(row, Some((i, reason))),
            }
        }
        self.finish(row, None)
    }

    /// The row once every column's value is in place (or `error`: the first column, in
    /// schema order, that could not be converted, and why): the time column, when it comes
    /// before that column, is checked against its declared format, so a row is refused for
    /// the first fault in schema order either way. `row` holds at least the columns before
    /// the failing one.
    pub(crate) fn finish(&self, row: Row, error: Option<(usize, String)>) -> Result<Conformed, Rejected> {
        let columns = self.table.schema.columns();
        let mut time_ms = None;
        if let Some(t) = self.time_column.filter(|&t| error.as_ref().is_none_or(|(i, _)| t < *i)) {
            let spec = &columns[t];
            if let (Some(FieldValue::Single(value)), Some(format)) = (row.get(t), &spec.time_format) {
                let millis = format
                    .to_millis(value)
                    .map_err(|e| Rejected::TimeColumn { column: spec.name.clone(), reason: e.to_string() })?;
                time_ms = Some(millis);
            }
        }
        match error {
            Some((i, reason)) => Err(Rejected::Column { column: columns[i].name.clone(), reason }),
            None => Ok(Conformed::Row(row, time_ms)),
        }
    }
}

/// Pinot's complex-type flattening: `{"a": {"b": 1}}` becomes `{"a.b": 1}` at any depth, and
/// a list holding objects or lists becomes its JSON text (lists of plain values stay lists:
/// multi-value columns). serde_json's nesting limit bounds the recursion.
pub fn flatten(record: Map<String, Json>, delimiter: &str) -> Map<String, Json> {
    let mut out = Map::with_capacity(record.len());
    flatten_into(&mut out, String::new(), record, delimiter);
    out
}

fn flatten_into(out: &mut Map<String, Json>, prefix: String, record: Map<String, Json>, delimiter: &str) {
    for (key, value) in record {
        let name = if prefix.is_empty() { key } else { format!("{prefix}{delimiter}{key}") };
        match value {
            Json::Object(inner) => flatten_into(out, name, inner, delimiter),
            Json::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
                out.insert(name, Json::String(Json::Array(items).to_string()));
            }
            other => {
                out.insert(name, other);
            }
        }
    }
}

/// A column's value from its JSON value, as every record path converts it.
pub(crate) fn field(spec: &ColumnSpec, json: &Json) -> Result<FieldValue, String> {
    match json {
        Json::Null => return Ok(FieldValue::Null),
        Json::String(text) => return field_from_str(spec, text),
        _ => {}
    }
    if spec.single_value {
        let json = match json {
            Json::Array(items) if spec.data_type != DataType::Json => match items.as_slice() {
                [] => return Ok(FieldValue::Null),
                [one] => one,
                _ => return Err(format!("single-value column got a list of {} values", items.len())),
            },
            other => other,
        };
        if json.is_null() {
            return Ok(FieldValue::Null);
        }
        return Ok(match limit_length(spec, spec.data_type.value_from_json(json).map_err(|e| e.to_string())?)? {
            Some(v) => FieldValue::Single(v),
            None => FieldValue::Null,
        });
    }
    let items = match json {
        Json::Array(items) => items.as_slice(),
        other => std::slice::from_ref(other),
    };
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        if let Some(v) = multi_value_item(spec, Cow::Borrowed(item))? {
            values.push(v);
        }
    }
    Ok(FieldValue::Multi(values))
}

/// One item of a multi-value column's JSON list, as [`field`] and the direct paths convert it:
/// `None` for a null (left out of the list) or a value `maxLength` replaces by nothing.
/// An owned item's text is moved into its value.
pub(crate) fn multi_value_item(spec: &ColumnSpec, item: Cow<'_, Json>) -> Result<Option<Value>, String> {
    let value = match item {
        Cow::Borrowed(Json::Null) | Cow::Owned(Json::Null) => return Ok(None),
        // What `value_from_json` makes of it (a copy of the text as it is), moved instead.
        Cow::Owned(Json::String(text)) if spec.data_type == DataType::String => Value::String(text),
        item => spec.data_type.value_from_json(&item).map_err(|e| e.to_string())?,
    };
    limit_length(spec, value)
}

/// A column's value from a JSON string: parsed as the column's type (a multi-value column
/// gets a one-value list).
pub(crate) fn field_from_str(spec: &ColumnSpec, text: &str) -> Result<FieldValue, String> {
    let value = limit_length(spec, spec.data_type.value_from_str(text).map_err(|e| e.to_string())?)?;
    Ok(match (spec.single_value, value) {
        (true, Some(v)) => FieldValue::Single(v),
        (true, None) => FieldValue::Null,
        (false, value) => FieldValue::Multi(value.into_iter().collect()),
    })
}

/// Applies `maxLength` with the column's strategy; `None` means "store the default".
fn limit_length(spec: &ColumnSpec, value: Value) -> Result<Option<Value>, String> {
    let max = spec.max_length as usize;
    let too_long = match &value {
        // A character is at least a byte: only a longer text needs counting.
        Value::String(s) | Value::Json(s) => s.len() > max && s.chars().count() > max,
        Value::Bytes(b) => b.len() > max,
        _ => false,
    };
    if !too_long {
        return Ok(Some(value));
    }
    match spec.max_length_strategy {
        MaxLengthStrategy::NoAction => Ok(Some(value)),
        MaxLengthStrategy::SubstituteDefault => Ok(Some(spec.default_null_value.clone())),
        MaxLengthStrategy::Error => Err(format!("value is longer than maxLength {max}")),
        MaxLengthStrategy::Trim => Ok(Some(match value {
            Value::String(s) => Value::String(s.chars().take(max).collect()),
            Value::Json(s) => Value::Json(s.chars().take(max).collect()),
            Value::Bytes(mut b) => {
                b.truncate(max);
                Value::Bytes(b)
            }
            other => other,
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::flatten;
    use serde_json::json;

    #[test]
    fn nested_objects_become_path_columns_and_lists_of_objects_json_text() {
        let record = json!({"id": 1, "actor": {"login": "ann", "org": {"id": 7}}, "tags": ["a", "b"], "commits": [{"sha": "x"}]});
        let flat = flatten(record.as_object().cloned().unwrap_or_default(), ".");
        assert_eq!(
            serde_json::Value::Object(flat),
            json!({"id": 1, "actor.login": "ann", "actor.org.id": 7, "tags": ["a", "b"], "commits": "[{\"sha\":\"x\"}]"})
        );
    }
}
