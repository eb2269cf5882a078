//! Time to open (map, verify checksums, check every section's structure) each segment of a
//! folder: `cargo run --release -p cuvee-segments --example open_segments -- DIR [rounds]`.
//! A server pays this for every segment it loads, a seal for the segment it publishes.
#![allow(clippy::print_stdout)]

use cuvee_segments::ImmutableSegment;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: open_segments DIR [rounds]")?;
    let rounds: usize = std::env::args().nth(2).map_or(Ok(5), |r| r.parse())?;
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "cvs"))
        .collect();
    files.sort();
    for round in 1..=rounds {
        let (mut docs, start) = (0u64, std::time::Instant::now());
        for file in &files {
            docs += u64::from(ImmutableSegment::open(file)?.num_docs());
        }
        let ms = start.elapsed().as_secs_f64() * 1e3;
        println!(
            "round {round}: {} segments, {docs} docs in {ms:.1} ms ({:.1} ms per M docs)",
            files.len(),
            ms * 1e6 / docs as f64
        );
    }
    Ok(())
}
