//! CSV with a header line. Empty cells are nulls; multi-value columns are split on `;`.

use super::{BadRecord, RawRecord, Records, CSV_MULTI_VALUE_DELIMITER};
use crate::error::IngestError;
use cuvee_catalog::Schema;
use serde_json::{Map, Value as Json};
use std::collections::HashSet;

pub fn records(file: std::fs::File, schema: &Schema) -> Result<Records, IngestError> {
    let mut reader = ::csv::ReaderBuilder::new().flexible(true).from_reader(file);
    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
        Err(e) => {
            return Ok(Box::new(std::iter::once(Err(BadRecord {
                position: "line 1".into(),
                reason: format!("no header line: {e}"),
            }))))
        }
    };
    let multi_value: HashSet<String> =
        schema.columns().iter().filter(|c| !c.single_value).map(|c| c.name.clone()).collect();
    Ok(Box::new(reader.into_records().map(move |record| {
        let record = record.map_err(|e| BadRecord {
            position: e.position().map_or_else(|| "line ?".into(), |p| format!("line {}", p.line())),
            reason: e.to_string(),
        })?;
        let position = record.position().map_or_else(|| "line ?".into(), |p| format!("line {}", p.line()));
        if record.len() != headers.len() {
            return Err(BadRecord {
                position,
                reason: format!("{} fields, the header has {}", record.len(), headers.len()),
            });
        }
        let mut fields = Map::new();
        for (name, cell) in headers.iter().zip(record.iter()) {
            let value = if cell.is_empty() {
                Json::Null
            } else if multi_value.contains(name) {
                Json::Array(cell.split(CSV_MULTI_VALUE_DELIMITER).map(|v| Json::String(v.to_string())).collect())
            } else {
                Json::String(cell.to_string())
            };
            fields.insert(name.clone(), value);
        }
        Ok(RawRecord { position, fields })
    })))
}
