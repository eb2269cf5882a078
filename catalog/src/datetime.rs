//! Pinot's date-time `format` and `granularity` strings, and conversion of time values
//! to and from epoch milliseconds.
//!
//! Both spellings are accepted:
//! - colon form: `1:MILLISECONDS:EPOCH`, `1:MILLISECONDS:TIMESTAMP`,
//!   `1:DAYS:SIMPLE_DATE_FORMAT:yyyy-MM-dd` (the pattern may itself contain colons);
//! - pipe form: `EPOCH`, `EPOCH|HOURS`, `EPOCH|MINUTES|5`, `TIMESTAMP`,
//!   `SIMPLE_DATE_FORMAT|yyyy-MM-dd`, `SIMPLE_DATE_FORMAT|yyyy-MM-dd|America/New_York`.
//!
//! Simple-date-format patterns are Java's `SimpleDateFormat` letters, translated to chrono.
//! Time zones: `UTC`/`GMT`/`Z` and fixed offsets (`+05:30`, `GMT-08:00`); named zones are
//! refused with a clear error until the tz database is brought in.

use crate::error::{CatalogError, Result};
use chrono::format::{Parsed, StrftimeItems};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
    Minutes,
    Hours,
    Days,
}

impl TimeUnit {
    pub fn parse(text: &str) -> Result<TimeUnit> {
        Ok(match text.trim().to_ascii_uppercase().as_str() {
            "NANOSECONDS" => TimeUnit::Nanoseconds,
            "MICROSECONDS" => TimeUnit::Microseconds,
            "MILLISECONDS" => TimeUnit::Milliseconds,
            "SECONDS" => TimeUnit::Seconds,
            "MINUTES" => TimeUnit::Minutes,
            "HOURS" => TimeUnit::Hours,
            "DAYS" => TimeUnit::Days,
            other => {
                return Err(CatalogError::DateTime(format!(
                    "unknown time unit \"{other}\" (expected one of NANOSECONDS, MICROSECONDS, MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS)"
                )))
            }
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Nanoseconds => "NANOSECONDS",
            TimeUnit::Microseconds => "MICROSECONDS",
            TimeUnit::Milliseconds => "MILLISECONDS",
            TimeUnit::Seconds => "SECONDS",
            TimeUnit::Minutes => "MINUTES",
            TimeUnit::Hours => "HOURS",
            TimeUnit::Days => "DAYS",
        }
    }

    /// Length of one unit in nanoseconds.
    pub fn nanos(self) -> i128 {
        match self {
            TimeUnit::Nanoseconds => 1,
            TimeUnit::Microseconds => 1_000,
            TimeUnit::Milliseconds => 1_000_000,
            TimeUnit::Seconds => 1_000_000_000,
            TimeUnit::Minutes => 60 * 1_000_000_000,
            TimeUnit::Hours => 3_600 * 1_000_000_000,
            TimeUnit::Days => 86_400 * 1_000_000_000,
        }
    }
}

/// `size:UNIT` (or `UNIT|size`): the bucket width of a time column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Granularity {
    pub size: u32,
    pub unit: TimeUnit,
}

impl Granularity {
    pub fn parse(text: &str) -> Result<Granularity> {
        let bad = |why: &str| CatalogError::DateTime(format!("granularity \"{text}\": {why}"));
        let (size, unit) = if let Some((size, unit)) = text.split_once(':') {
            (size, unit)
        } else if let Some((unit, size)) = text.split_once('|') {
            (size, unit)
        } else {
            ("1", text)
        };
        let size = size.trim().parse::<u32>().map_err(|_| bad("size is not a positive number"))?;
        if size == 0 {
            return Err(bad("size must be at least 1"));
        }
        Ok(Granularity { size, unit: TimeUnit::parse(unit).map_err(|e| bad(&e.to_string()))? })
    }

    pub fn millis(&self) -> i64 {
        (self.size as i128 * self.unit.nanos() / 1_000_000) as i64
    }
}

/// How values of a date-time column are written.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeFormat {
    /// A number of `size × unit` since the epoch.
    Epoch { size: u32, unit: TimeUnit },
    /// Milliseconds since the epoch, stored as TIMESTAMP.
    Timestamp,
    /// Text in a Java `SimpleDateFormat` pattern, in a time zone.
    SimpleDate { pattern: String, zone: FixedOffset, compiled: String, has_offset: bool, has_time: bool },
}

#[derive(Debug, Clone, PartialEq)]
pub struct DateTimeFormatSpec {
    pub text: String,
    pub format: TimeFormat,
}

impl fmt::Display for DateTimeFormatSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl DateTimeFormatSpec {
    pub fn parse(text: &str) -> Result<DateTimeFormatSpec> {
        let bad = |why: String| CatalogError::DateTime(format!("date-time format \"{text}\": {why}"));
        let format = if text.contains('|') || !text.contains(':') {
            let mut parts = text.split('|');
            let kind = parts.next().unwrap_or("").trim().to_ascii_uppercase();
            match kind.as_str() {
                "EPOCH" => {
                    let unit = match parts.next() {
                        Some(u) => TimeUnit::parse(u).map_err(|e| bad(e.to_string()))?,
                        None => TimeUnit::Milliseconds,
                    };
                    let size = match parts.next() {
                        Some(s) => parse_size(s).map_err(bad)?,
                        None => 1,
                    };
                    TimeFormat::Epoch { size, unit }
                }
                "TIMESTAMP" => TimeFormat::Timestamp,
                "SIMPLE_DATE_FORMAT" => {
                    let pattern = parts.next().ok_or_else(|| bad("SIMPLE_DATE_FORMAT needs a pattern".into()))?;
                    let zone = match parts.next() {
                        Some(z) => parse_zone(z).map_err(bad)?,
                        None => utc(),
                    };
                    simple_date(pattern, zone).map_err(bad)?
                }
                other => {
                    return Err(bad(format!(
                        "unknown time format \"{other}\" (expected EPOCH, TIMESTAMP or SIMPLE_DATE_FORMAT)"
                    )))
                }
            }
        } else {
            let parts: Vec<&str> = text.splitn(4, ':').collect();
            if parts.len() < 3 {
                return Err(bad("expected size:unit:EPOCH|TIMESTAMP|SIMPLE_DATE_FORMAT[:pattern]".into()));
            }
            let size = parse_size(parts[0]).map_err(bad)?;
            let unit = TimeUnit::parse(parts[1]).map_err(|e| bad(e.to_string()))?;
            match parts[2].trim().to_ascii_uppercase().as_str() {
                "EPOCH" => TimeFormat::Epoch { size, unit },
                "TIMESTAMP" => TimeFormat::Timestamp,
                "SIMPLE_DATE_FORMAT" => {
                    let pattern = parts.get(3).ok_or_else(|| bad("SIMPLE_DATE_FORMAT needs a pattern".into()))?;
                    simple_date(pattern, utc()).map_err(bad)?
                }
                other => {
                    return Err(bad(format!(
                        "unknown time format \"{other}\" (expected EPOCH, TIMESTAMP or SIMPLE_DATE_FORMAT)"
                    )))
                }
            }
        };
        Ok(DateTimeFormatSpec { text: text.to_string(), format })
    }

    /// Epoch milliseconds of a value written in this format (a number or text).
    pub fn to_millis(&self, value: &crate::Value) -> Result<i64> {
        use crate::Value;
        let bad = || CatalogError::DateTime(format!("value {value} does not match date-time format \"{}\"", self.text));
        match &self.format {
            TimeFormat::Epoch { size, unit } => {
                // Milliseconds already (every row of most tables): no 128-bit arithmetic.
                if let (Value::Long(v) | Value::Timestamp(v), 1_000_000) = (value, *size as i128 * unit.nanos()) {
                    return Ok(*v);
                }
                let n: i128 = match value {
                    Value::Int(v) => *v as i128,
                    Value::Long(v) | Value::Timestamp(v) => *v as i128,
                    Value::Float(v) => *v as i128,
                    Value::Double(v) => *v as i128,
                    Value::String(s) | Value::BigDecimal(s) => s.trim().parse::<i128>().map_err(|_| bad())?,
                    _ => return Err(bad()),
                };
                Ok((n * *size as i128 * unit.nanos() / 1_000_000) as i64)
            }
            TimeFormat::Timestamp => match value {
                Value::Long(v) | Value::Timestamp(v) => Ok(*v),
                Value::Int(v) => Ok(*v as i64),
                Value::String(s) => s.trim().parse::<i64>().ok().or_else(|| parse_timestamp_text(s)).ok_or_else(bad),
                _ => Err(bad()),
            },
            TimeFormat::SimpleDate { .. } => match value {
                Value::String(s) => self.parse_simple_date(s).ok_or_else(bad),
                // A numeric date such as yyyyMMdd stored as INT/LONG.
                Value::Int(v) => self.parse_simple_date(&v.to_string()).ok_or_else(bad),
                Value::Long(v) => self.parse_simple_date(&v.to_string()).ok_or_else(bad),
                _ => Err(bad()),
            },
        }
    }

    /// Writes epoch milliseconds in this format: a number of units, or text.
    pub fn from_millis(&self, millis: i64) -> FormattedTime {
        match &self.format {
            TimeFormat::Epoch { size, unit } => {
                let n = (millis as i128 * 1_000_000).div_euclid(*size as i128 * unit.nanos());
                FormattedTime::Number(n as i64)
            }
            TimeFormat::Timestamp => FormattedTime::Number(millis),
            TimeFormat::SimpleDate { zone, compiled, .. } => {
                let at = zone.timestamp_millis_opt(millis).single();
                FormattedTime::Text(at.and_then(|t| format_checked(&t, compiled)).unwrap_or_default())
            }
        }
    }

    fn parse_simple_date(&self, text: &str) -> Option<i64> {
        let TimeFormat::SimpleDate { zone, compiled, has_offset, has_time, .. } = &self.format else {
            return None;
        };
        let mut parsed = Parsed::new();
        chrono::format::parse(&mut parsed, text.trim(), StrftimeItems::new(compiled)).ok()?;
        // Java fills fields the pattern does not have with zero; chrono wants them all.
        if *has_time || parsed.hour_div_12().is_some() {
            if parsed.minute().is_none() {
                parsed.set_minute(0).ok()?;
            }
            if parsed.second().is_none() {
                parsed.set_second(0).ok()?;
            }
        }
        if *has_offset {
            return parsed.to_datetime().ok().map(|t| t.timestamp_millis());
        }
        let date = parsed.to_naive_date().ok()?;
        let time = if *has_time { parsed.to_naive_time().ok()? } else { NaiveTime::MIN };
        let naive = date.and_time(time);
        zone.from_local_datetime(&naive).single().map(|t| t.timestamp_millis())
    }
}

/// A time value written in a column's format.
#[derive(Debug, Clone, PartialEq)]
pub enum FormattedTime {
    Number(i64),
    Text(String),
}

fn utc() -> FixedOffset {
    FixedOffset::east_opt(0).expect("zero offset is valid")
}

fn parse_size(text: &str) -> std::result::Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(0) | Err(_) => Err(format!("size \"{text}\" is not a positive number")),
        Ok(n) => Ok(n),
    }
}

fn parse_zone(text: &str) -> std::result::Result<FixedOffset, String> {
    let t = text.trim();
    let upper = t.to_ascii_uppercase();
    if matches!(upper.as_str(), "UTC" | "GMT" | "Z" | "ETC/UTC" | "ETC/GMT") {
        return Ok(utc());
    }
    let offset = upper.trim_start_matches("UTC").trim_start_matches("GMT");
    let sign = match offset.chars().next() {
        Some('+') => 1,
        Some('-') => -1,
        _ => return Err(format!("time zone \"{t}\" is not supported yet (use UTC or a fixed offset such as +05:30)")),
    };
    let digits: String = offset[1..].chars().filter(|c| c.is_ascii_digit()).collect();
    let (hours, minutes) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().unwrap_or(99), 0),
        4 => (digits[..2].parse::<i32>().unwrap_or(99), digits[2..].parse::<i32>().unwrap_or(99)),
        _ => return Err(format!("time zone offset \"{t}\" is not understood")),
    };
    if hours > 18 || minutes > 59 {
        return Err(format!("time zone offset \"{t}\" is out of range"));
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
        .ok_or_else(|| format!("time zone offset \"{t}\" is out of range"))
}

/// A time written in a chrono pattern, or `None` when the pattern cannot be written (chrono's
/// `Display` reports that as an error, which `to_string` would turn into a panic).
fn format_checked(at: &DateTime<FixedOffset>, compiled: &str) -> Option<String> {
    use std::fmt::Write;
    let mut out = String::new();
    write!(out, "{}", at.format(compiled)).ok()?;
    Some(out)
}

fn simple_date(pattern: &str, zone: FixedOffset) -> std::result::Result<TimeFormat, String> {
    let translated = translate_java_pattern(pattern)?;
    // Checked once here, so writing a time in this format later cannot fail.
    let sample = zone.timestamp_millis_opt(0).single().ok_or("the zone has no time at the epoch")?;
    if format_checked(&sample, &translated.chrono).is_none() {
        return Err(format!("pattern \"{pattern}\" cannot be used to write times"));
    }
    Ok(TimeFormat::SimpleDate {
        pattern: pattern.to_string(),
        zone,
        compiled: translated.chrono,
        has_offset: translated.has_offset,
        has_time: translated.has_time,
    })
}

struct Translated {
    chrono: String,
    has_offset: bool,
    has_time: bool,
}

/// Java `SimpleDateFormat` letters → chrono `strftime` items.
fn translate_java_pattern(pattern: &str) -> std::result::Result<Translated, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut has_offset = false;
    let mut has_time = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            // '' is a literal quote; 'text' is literal text.
            if chars.get(i + 1) == Some(&'\'') {
                out.push('\'');
                i += 2;
                continue;
            }
            i += 1;
            while i < chars.len() {
                if chars[i] == '\'' {
                    if chars.get(i + 1) == Some(&'\'') {
                        out.push('\'');
                        i += 2;
                        continue;
                    }
                    break;
                }
                push_literal(&mut out, chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        if !c.is_ascii_alphabetic() {
            push_literal(&mut out, c);
            i += 1;
            continue;
        }
        let mut run = 1;
        while i + run < chars.len() && chars[i + run] == c {
            run += 1;
        }
        let item = match (c, run) {
            ('y', 2) => "%y",
            ('y', _) | ('u', _) => "%Y",
            ('M', 1 | 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', _) => "%d",
            ('D', _) => "%j",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('a', _) => "%p",
            ('H', _) | ('k', _) => "%H",
            ('h', _) | ('K', _) => "%I",
            ('m', _) => "%M",
            ('s', _) => "%S",
            ('S', 1..=3) => "%3f",
            ('S', 6) => "%6f",
            ('S', _) => "%9f",
            ('Z', _) => "%z",
            // ISO 8601 offsets: X is hours only (+08), XX +0800, XXX +08:00.
            ('X', 1) | ('x', 1) => "%:::z",
            ('X', 2) | ('x', 2) => "%z",
            ('X', _) | ('x', _) => "%:z",
            (other, _) => return Err(format!("pattern letter '{other}' is not supported")),
        };
        if matches!(c, 'H' | 'k' | 'h' | 'K' | 'm' | 's' | 'S') {
            has_time = true;
        }
        if matches!(c, 'Z' | 'X' | 'x') {
            has_offset = true;
        }
        out.push_str(item);
        i += run;
    }
    Ok(Translated { chrono: out, has_offset, has_time })
}

fn push_literal(out: &mut String, c: char) {
    if c == '%' {
        out.push_str("%%");
    } else {
        out.push(c);
    }
}

/// Timestamp text as Pinot accepts it for TIMESTAMP columns: `2021-07-21 06:00:00[.SSS]`,
/// ISO-8601 with `T` and an optional offset or `Z`, or a bare date. Returns epoch millis (UTC).
pub fn parse_timestamp_text(text: &str) -> Option<i64> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_millis());
    }
    for layout in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, layout) {
            return Some(Utc.from_utc_datetime(&naive).timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .ok()
        .map(|d| Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN)).timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    #[test]
    fn parses_colon_and_pipe_forms() {
        let colon = DateTimeFormatSpec::parse("1:MILLISECONDS:EPOCH").unwrap();
        let pipe = DateTimeFormatSpec::parse("EPOCH|MILLISECONDS|1").unwrap();
        assert_eq!(colon.format, pipe.format);
        assert_eq!(DateTimeFormatSpec::parse("EPOCH").unwrap().format, colon.format);
        assert_eq!(
            DateTimeFormatSpec::parse("EPOCH|HOURS").unwrap().format,
            TimeFormat::Epoch { size: 1, unit: TimeUnit::Hours }
        );
        assert_eq!(DateTimeFormatSpec::parse("1:MILLISECONDS:TIMESTAMP").unwrap().format, TimeFormat::Timestamp);
        let sdf = DateTimeFormatSpec::parse("1:SECONDS:SIMPLE_DATE_FORMAT:yyyy-MM-dd'T'HH:mm:ss'Z'").unwrap();
        assert_eq!(sdf.to_millis(&Value::String("2021-07-21T06:00:00Z".into())).unwrap(), 1_626_847_200_000);
        let days = DateTimeFormatSpec::parse("1:DAYS:SIMPLE_DATE_FORMAT:yyyy-MM-dd").unwrap();
        assert_eq!(days.to_millis(&Value::String("1970-01-02".into())).unwrap(), 86_400_000);
        assert_eq!(days.from_millis(86_400_000 + 5), FormattedTime::Text("1970-01-02".into()));
        let zoned = DateTimeFormatSpec::parse("SIMPLE_DATE_FORMAT|yyyy-MM-dd HH|+01:00").unwrap();
        assert_eq!(zoned.to_millis(&Value::String("1970-01-01 01".into())).unwrap(), 0);
    }

    #[test]
    fn converts_epoch_units() {
        let days = DateTimeFormatSpec::parse("1:DAYS:EPOCH").unwrap();
        assert_eq!(days.to_millis(&Value::Int(2)).unwrap(), 2 * 86_400_000);
        assert_eq!(days.from_millis(2 * 86_400_000 + 1), FormattedTime::Number(2));
        let five_min = DateTimeFormatSpec::parse("EPOCH|MINUTES|5").unwrap();
        assert_eq!(five_min.to_millis(&Value::Long(1)).unwrap(), 300_000);
        assert_eq!(five_min.from_millis(-1), FormattedTime::Number(-1));
    }

    #[test]
    fn explains_bad_formats() {
        for (text, needle) in [
            ("1:FORTNIGHTS:EPOCH", "unknown time unit"),
            ("0:DAYS:EPOCH", "positive"),
            ("1:DAYS:JULIAN", "unknown time format"),
            ("SIMPLE_DATE_FORMAT|yyyy-MM-dd|America/Los_Angeles", "not supported yet"),
            ("SIMPLE_DATE_FORMAT|yyyy-qq", "pattern letter 'q'"),
        ] {
            let err = DateTimeFormatSpec::parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
        assert!(Granularity::parse("1:HOURS").is_ok());
        assert_eq!(Granularity::parse("MILLISECONDS|1").unwrap().millis(), 1);
        assert!(Granularity::parse("x:HOURS").is_err());
    }
}
