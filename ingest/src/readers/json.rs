//! Newline-delimited JSON (one object per line), or one JSON array of objects — read element
//! by element, so a file of any size is never held in memory whole.

use super::{BadRecord, RawRecord, Records};
use crate::error::IngestError;
use serde_json::Value as Json;
use std::io::{BufRead, BufReader};

pub fn records(file: std::fs::File) -> Result<Records, IngestError> {
    Ok(Box::new(documents(file)?.map(|document| document.and_then(|(position, bytes)| record(position, &bytes)))))
}

/// A file's JSON documents, each with its position ("line 3", "element 5"), unparsed.
pub(crate) type Documents = Box<dyn Iterator<Item = Result<(String, Vec<u8>), BadRecord>>>;

pub(crate) fn documents(file: std::fs::File) -> Result<Documents, IngestError> {
    let mut reader = BufReader::new(file);
    let starts_with_array = {
        let buffer = reader.fill_buf().unwrap_or(&[]);
        buffer.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
    };
    if starts_with_array {
        return Ok(Box::new(ArrayElements::new(reader).enumerate().map(|(i, element)| {
            let position = format!("element {}", i + 1);
            element.map(|bytes| (position.clone(), bytes)).map_err(|reason| BadRecord { position, reason })
        })));
    }
    Ok(Box::new(reader.lines().enumerate().filter_map(|(i, line)| {
        let position = format!("line {}", i + 1);
        match line {
            Err(e) => Some(Err(BadRecord { position, reason: e.to_string() })),
            Ok(line) if line.trim().is_empty() => None,
            Ok(line) => Some(Ok((position, line.into_bytes()))),
        }
    })))
}

/// One document parsed into a record, or why it is not one.
pub(crate) fn record(position: String, bytes: &[u8]) -> Result<RawRecord, BadRecord> {
    match serde_json::from_slice::<Json>(bytes) {
        Ok(value) => object(value, position),
        Err(e) => Err(BadRecord { position, reason: format!("not valid JSON: {e}") }),
    }
}

/// One array element is refused past this size (a record, not a file).
const MAX_ELEMENT_BYTES: usize = 64 << 20;

/// The elements of a top-level JSON array, as each one's bytes: the array is cut at its
/// commas outside strings and nested values, so only one element is in memory at a time.
/// After a malformed array it yields one error and ends.
struct ArrayElements<R> {
    reader: R,
    started: bool,
    /// The array's closing `]` has been read.
    ended: bool,
    done: bool,
}

impl<R: BufRead> ArrayElements<R> {
    fn new(reader: R) -> Self {
        ArrayElements { reader, started: false, ended: false, done: false }
    }

    fn byte(&mut self) -> std::io::Result<Option<u8>> {
        let buffer = self.reader.fill_buf()?;
        let Some(&b) = buffer.first() else { return Ok(None) };
        self.reader.consume(1);
        Ok(Some(b))
    }

    fn next_element(&mut self) -> Result<Option<Vec<u8>>, String> {
        let io = |e: std::io::Error| e.to_string();
        if !self.started {
            self.started = true;
            loop {
                match self.byte().map_err(io)? {
                    Some(b) if b.is_ascii_whitespace() => continue,
                    Some(b'[') => break,
                    _ => return Err("not a JSON array of objects: it does not start with '['".into()),
                }
            }
        }
        if self.ended {
            return Ok(None);
        }
        let mut element = Vec::new();
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        loop {
            let Some(b) = self.byte().map_err(io)? else {
                return Err("not a JSON array of objects: the file ends inside the array".into());
            };
            if in_string {
                element.push(b);
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => in_string = true,
                    b'[' | b'{' => depth += 1,
                    b']' | b'}' if depth > 0 => depth -= 1,
                    b']' => {
                        // The array's end: the last element, if any, is complete.
                        self.ended = true;
                        let rest = element.iter().all(u8::is_ascii_whitespace);
                        return Ok((!rest).then_some(element));
                    }
                    b',' if depth == 0 => {
                        if element.iter().all(u8::is_ascii_whitespace) {
                            return Err("not a JSON array of objects: an empty element".into());
                        }
                        return Ok(Some(element));
                    }
                    _ => {}
                }
                if !(element.is_empty() && b.is_ascii_whitespace()) {
                    element.push(b);
                }
            }
            if element.len() > MAX_ELEMENT_BYTES {
                return Err(format!("an array element is larger than {} MiB", MAX_ELEMENT_BYTES >> 20));
            }
        }
    }
}

impl<R: BufRead> Iterator for ArrayElements<R> {
    type Item = Result<Vec<u8>, String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.next_element() {
            Ok(Some(element)) => Some(Ok(element)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(reason) => {
                self.done = true;
                Some(Err(reason))
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(text: &str) -> Vec<Result<String, String>> {
        ArrayElements::new(text.as_bytes()).map(|e| e.map(|bytes| String::from_utf8(bytes).unwrap())).collect()
    }

    #[test]
    fn arrays_are_cut_into_elements_without_reading_them_whole() {
        let got = elements(r#" [ {"a": [1, {"b": "x,]"}]}, {"s": "q\"}"} ,{} ] "#);
        assert_eq!(
            got,
            vec![Ok(r#"{"a": [1, {"b": "x,]"}]}"#.into()), Ok(r#"{"s": "q\"}"} "#.into()), Ok("{} ".into())]
        );
        assert_eq!(elements("[]"), vec![]);
        assert!(elements("[{}").last().unwrap().is_err());
        assert!(elements("[,]")[0].is_err());
        assert!(elements("{}")[0].is_err());
    }
}
