//! Batch import: files → conformed rows → segments published in a table store.

use crate::conform::{Conformed, Conformer};
use crate::error::IngestError;
use crate::now_ms;
use crate::readers::{self, FileFormat};
use cuvee_catalog::Table;
use cuvee_segments::{SegmentBuilder, SegmentIdentity, TableStore};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Stop at the first bad row instead of counting and skipping it.
    pub strict: bool,
    /// A file with more rows is split into several segments.
    pub max_rows_per_segment: usize,
    /// The format of every file; by default each file's extension decides.
    pub format: Option<FileFormat>,
    /// Show a progress bar (only drawn when stderr is a terminal).
    pub progress: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { strict: false, max_rows_per_segment: 5_000_000, format: None, progress: true }
    }
}

/// A row that was skipped, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRow {
    pub file: PathBuf,
    pub position: String,
    pub reason: String,
}

impl std::fmt::Display for BadRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}, {}: {}", self.file.display(), self.position, self.reason)
    }
}

#[derive(Debug, Default, Clone)]
pub struct ImportReport {
    pub rows_read: u64,
    pub rows_imported: u64,
    pub rows_filtered: u64,
    pub bad_row_count: u64,
    /// The first bad rows (up to 100), for the report.
    pub bad_rows: Vec<BadRow>,
    pub segments: Vec<String>,
}

const BAD_ROWS_KEPT: usize = 100;

/// Imports `files` into the table stored at `table_dir`.
pub fn import(
    table: &Table,
    files: &[PathBuf],
    table_dir: &Path,
    options: &ImportOptions,
) -> Result<ImportReport, IngestError> {
    let conformer = Conformer::new(table)?;
    let mut store = TableStore::open_or_create(table_dir, table)?;
    let mut report = ImportReport::default();
    let mut sequence = store.manifest().segments.len();
    let progress = progress_bar(options, files);
    for file in files {
        let format = match options.format.or_else(|| FileFormat::of(file)) {
            Some(f) => f,
            None => return Err(IngestError::UnknownFormat(file.clone())),
        };
        let records = readers::open(file, format, &table.schema)?;
        let mut batch = Batch::new(table);
        for record in records {
            report.rows_read += 1;
            if let Some(p) = &progress {
                p.inc(1);
            }
            let outcome = record
                .map_err(|bad| (bad.position, bad.reason))
                .and_then(|r| conformer.conform(r.fields).map_err(|reason| (r.position, reason.to_string())));
            match outcome {
                Ok(Conformed::Filtered) => report.rows_filtered += 1,
                Ok(Conformed::Row(row, time_ms)) => {
                    batch.builder.push(&row).map_err(IngestError::Segment)?;
                    batch.note_time(time_ms);
                    if batch.builder.num_docs() as usize >= options.max_rows_per_segment {
                        report.rows_imported +=
                            batch.publish(&mut store, table, &mut sequence, &mut report.segments)?;
                        batch = Batch::new(table);
                    }
                }
                Err((position, reason)) => {
                    if options.strict {
                        return Err(IngestError::BadRow { path: file.clone(), position, reason });
                    }
                    report.bad_row_count += 1;
                    if report.bad_rows.len() < BAD_ROWS_KEPT {
                        report.bad_rows.push(BadRow { file: file.clone(), position, reason });
                    }
                }
            }
        }
        if batch.builder.num_docs() > 0 {
            report.rows_imported += batch.publish(&mut store, table, &mut sequence, &mut report.segments)?;
        }
    }
    if let Some(p) = progress {
        p.finish_and_clear();
    }
    Ok(report)
}

struct Batch {
    builder: SegmentBuilder,
    min_time: Option<i64>,
    max_time: Option<i64>,
}

impl Batch {
    fn new(table: &Table) -> Batch {
        Batch { builder: SegmentBuilder::new(table), min_time: None, max_time: None }
    }

    fn note_time(&mut self, time_ms: Option<i64>) {
        if let Some(t) = time_ms {
            self.min_time = Some(self.min_time.map_or(t, |m| m.min(t)));
            self.max_time = Some(self.max_time.map_or(t, |m| m.max(t)));
        }
    }

    /// Names the segment as Pinot's simple name generator does: table, time range, sequence.
    fn publish(
        self,
        store: &mut TableStore,
        table: &Table,
        sequence: &mut usize,
        names: &mut Vec<String>,
    ) -> Result<u64, IngestError> {
        let name_at = |sequence: usize| match (self.min_time, self.max_time) {
            (Some(lo), Some(hi)) => format!("{}_{lo}_{hi}_{sequence}", table.name()),
            _ => format!("{}_{sequence}", table.name()),
        };
        // Segments may have been deleted since the sequence was counted: skip taken names.
        while store.manifest().segments.iter().any(|s| s.name == name_at(*sequence)) {
            *sequence += 1;
        }
        let name = name_at(*sequence);
        *sequence += 1;
        let identity = SegmentIdentity { name: name.clone(), creation_time_ms: now_ms(), ..Default::default() };
        let bytes = self.builder.build(&identity)?;
        store.publish(&bytes)?;
        names.push(name);
        Ok(self.builder.num_docs() as u64)
    }
}

fn progress_bar(options: &ImportOptions, files: &[PathBuf]) -> Option<indicatif::ProgressBar> {
    if !options.progress || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(format!("importing {} file(s)", files.len()));
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg}: {pos} rows ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    Some(bar)
}
