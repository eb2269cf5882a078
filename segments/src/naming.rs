//! Names of stream-built segments, as Pinot's `LLCSegmentName`:
//! `{table}__{partition}__{sequence}__{yyyyMMdd'T'HHmm'Z'}` (creation time, UTC). The
//! sequence counts a partition's segments from 0 and survives restarts through the names
//! already published.

use chrono::{DateTime, Utc};

pub fn segment_name(table: &str, partition: u32, sequence: u32, created_ms: i64) -> String {
    let created = DateTime::<Utc>::from_timestamp_millis(created_ms).unwrap_or_default();
    format!("{table}__{partition}__{sequence}__{}", created.format("%Y%m%dT%H%MZ"))
}

/// `(partition, sequence)` of a name made by [`segment_name`] for `table`.
pub fn parse_segment_name(table: &str, name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix(table)?.strip_prefix("__")?;
    let mut parts = rest.split("__");
    let partition = parts.next()?.parse().ok()?;
    let sequence = parts.next()?.parse().ok()?;
    parts.next()?;
    parts.next().is_none().then_some((partition, sequence))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_as_pinot_writes_them() {
        let name = segment_name("events", 3, 17, 1_764_097_200_000);
        assert_eq!(name, "events__3__17__20251125T1900Z");
        assert_eq!(parse_segment_name("events", &name), Some((3, 17)));
        assert_eq!(parse_segment_name("events", "events_1_2_3"), None);
        assert_eq!(parse_segment_name("event", &name), None);
    }
}
