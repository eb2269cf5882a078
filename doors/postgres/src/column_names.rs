//! Result columns named as Postgres names them. DataFusion names an unaliased expression
//! by its display (`count(*)`, `max(t.x)`, `Int64(1)`); Postgres by the function called
//! (`count`, `max`), the column cast (`x::int` → `x`), `case`, or else `?column?`. psql
//! prints these names and tools key result columns by them.
//!
//! Only names shaped like DataFusion's displays are changed; an alias (`AS hr`, even
//! `AS "my col"`) is kept as written.

use datafusion_postgres::pgwire::api::results::FieldInfo;

/// DataFusion's display prefixes for literals (`Int64(1)`, `Utf8("a")`).
const LITERALS: [&str; 21] = [
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "UInt8",
    "UInt16",
    "UInt32",
    "UInt64",
    "Float16",
    "Float32",
    "Float64",
    "Utf8",
    "Utf8View",
    "LargeUtf8",
    "Boolean",
    "Decimal128",
    "Decimal256",
    "Date32",
    "Date64",
    "Binary",
    "IntervalMonthDayNano",
];

/// The Postgres name for a DataFusion output name.
pub fn postgres_name(name: &str) -> Option<String> {
    if name.starts_with("CASE ") && name.ends_with(" END") {
        return Some("case".to_string());
    }
    let open = name.find('(')?;
    let function = &name[..open];
    let is_identifier = !function.is_empty() && function.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !is_identifier {
        return None;
    }
    // The whole name must be this one call, not `sum(a) + Int64(1)`.
    if closing_paren(name, open) != Some(name.len() - 1) {
        return Some("?column?".to_string()).filter(|_| looks_like_display(name));
    }
    if LITERALS.contains(&function) || function.starts_with("Timestamp") {
        return Some("?column?".to_string());
    }
    if function == "CAST" || function == "TRY_CAST" {
        let inner = &name[open + 1..name.len() - 1];
        let operand = inner.rsplit_once(" AS ").map_or(inner, |(operand, _)| operand);
        return Some(postgres_name(operand).unwrap_or_else(|| bare_column(operand)));
    }
    Some(function.to_ascii_lowercase())
}

/// A binary expression over displays (`sum(a) + Int64(1)`) rather than an alias with a paren.
fn looks_like_display(name: &str) -> bool {
    [" + ", " - ", " * ", " / ", " % ", " || ", " = ", " < ", " > ", " AND ", " OR "].iter().any(|op| name.contains(op))
}

fn bare_column(operand: &str) -> String {
    let last = operand.rsplit('.').next().unwrap_or(operand);
    if last.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !last.is_empty() {
        last.to_string()
    } else {
        "?column?".to_string()
    }
}

fn closing_paren(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut quoted = false;
    for (i, c) in text.char_indices().skip_while(|(i, _)| *i < open) {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// `fields` renamed where Postgres would name them differently.
pub fn renamed(fields: &[FieldInfo]) -> Vec<FieldInfo> {
    fields
        .iter()
        .map(|field| match postgres_name(field.name()) {
            None => field.clone(),
            Some(name) => {
                FieldInfo::new(name, field.table_id(), field.column_id(), field.datatype().clone(), field.format())
                    .with_format_options(field.format_options().clone())
                    .with_type_size(field.type_size())
                    .with_type_modifier(field.type_modifier())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::postgres_name;

    #[test]
    fn names_follow_postgres() {
        assert_eq!(postgres_name("count(*)").as_deref(), Some("count"));
        assert_eq!(postgres_name("max(baseballStats.yearID)").as_deref(), Some("max"));
        assert_eq!(postgres_name("current_setting(Utf8(\"server_version_num\"))").as_deref(), Some("current_setting"));
        assert_eq!(postgres_name("Int64(1)").as_deref(), Some("?column?"));
        assert_eq!(postgres_name("Int64(1) + Int64(2)").as_deref(), Some("?column?"));
        assert_eq!(postgres_name("sum(t.a) + Int64(1)").as_deref(), Some("?column?"));
        assert_eq!(postgres_name("CAST(t.yearID AS Int64)").as_deref(), Some("yearID"));
        assert_eq!(postgres_name("CASE WHEN t.a THEN Int64(1) END").as_deref(), Some("case"));
        assert_eq!(postgres_name("hr"), None);
        assert_eq!(postgres_name("my col"), None);
        assert_eq!(postgres_name("f(x) as written"), None);
    }
}
