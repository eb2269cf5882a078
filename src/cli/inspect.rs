//! `cuvee segment inspect`: a segment file's checksums, metadata and per-index sizes.

use anyhow::{bail, Result};
use cuvee_segments::format::SectionKind;
use cuvee_segments::ImmutableSegment;
use std::path::Path;

pub fn inspect(file: &Path) -> Result<()> {
    let segment = ImmutableSegment::open(file)?;
    let meta = segment.metadata();
    println!("segment   {}", meta.name);
    println!("table     {}", meta.table);
    println!(
        "format    v{} ({} bytes, all {} section checksums verified)",
        meta.format_version,
        segment.size_bytes(),
        meta.sections.len()
    );
    println!("docs      {}", meta.num_docs);
    if let (Some(start), Some(end)) = (meta.bounds.start_time_ms, meta.bounds.end_time_ms) {
        println!("time      {start} .. {end} ms ({})", meta.time_column.as_deref().unwrap_or("?"));
    }
    if let (Some(start), Some(end)) = (meta.bounds.start_offset, meta.bounds.end_offset) {
        println!(
            "offsets   [{start}, {end}) partition {}",
            meta.bounds.partition.map_or("-".into(), |p| p.to_string())
        );
    }
    if let Some(sorted) = &meta.sorted_column {
        println!("sorted by {sorted}");
    }
    println!();
    println!(
        "{:<28} {:<11} {:>3} {:>6} {:>10} {:>10}  indexes (bytes)",
        "column", "type", "sv", "dict", "card", "bytes"
    );
    for c in &meta.columns {
        let reader = segment.column(&c.name)?;
        let codec = |name: &str| SectionKind::parse(name).and_then(|kind| reader.codec(kind));
        let indexes: Vec<String> = c
            .bytes
            .iter()
            .map(|(k, v)| match codec(k) {
                Some(codec) => format!("{k}[{codec}]={v}"),
                None => format!("{k}={v}"),
            })
            .collect();
        println!(
            "{:<28} {:<11} {:>3} {:>6} {:>10} {:>10}  {}",
            c.name,
            c.data_type.name(),
            if c.single_value { "y" } else { "n" },
            if c.dictionary { "y" } else { "n" },
            c.cardinality,
            c.total_bytes(),
            indexes.join(" ")
        );
    }
    if meta.num_docs == 0 {
        bail!("segment {} has no rows", meta.name);
    }
    Ok(())
}
