//! Newline-delimited JSON (one object per line), or one JSON array of objects.

use super::{BadRecord, RawRecord, Records};
use crate::error::IngestError;
use serde_json::Value as Json;
use std::io::{BufRead, BufReader, Read};

pub fn records(file: std::fs::File) -> Result<Records, IngestError> {
    let mut reader = BufReader::new(file);
    let starts_with_array = {
        let buffer = reader.fill_buf().unwrap_or(&[]);
        buffer.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
    };
    if starts_with_array {
        let mut text = String::new();
        if let Err(e) = reader.read_to_string(&mut text) {
            return Ok(Box::new(std::iter::once(Err(BadRecord { position: "file".into(), reason: e.to_string() }))));
        }
        return Ok(match serde_json::from_str::<Vec<Json>>(&text) {
            Ok(items) => {
                Box::new(items.into_iter().enumerate().map(|(i, item)| object(item, format!("element {}", i + 1))))
            }
            Err(e) => Box::new(std::iter::once(Err(BadRecord {
                position: "file".into(),
                reason: format!("not a JSON array of objects: {e}"),
            }))),
        });
    }
    Ok(Box::new(reader.lines().enumerate().filter_map(|(i, line)| {
        let position = format!("line {}", i + 1);
        match line {
            Err(e) => Some(Err(BadRecord { position, reason: e.to_string() })),
            Ok(line) if line.trim().is_empty() => None,
            Ok(line) => Some(match serde_json::from_str::<Json>(&line) {
                Ok(value) => object(value, position),
                Err(e) => Err(BadRecord { position, reason: format!("not valid JSON: {e}") }),
            }),
        }
    })))
}

fn object(value: Json, position: String) -> Result<RawRecord, BadRecord> {
    match value {
        Json::Object(fields) => Ok(RawRecord { position, fields }),
        other => Err(BadRecord { position, reason: format!("expected a JSON object, got {}", kind(&other)) }),
    }
}

/// "a string", "an array"…: a JSON value's kind, for error messages.
pub(crate) fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}
