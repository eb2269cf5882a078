//! Batch import: files → conformed rows → segments published in a table store.

use crate::columnar;
use crate::conform::{Conformed, Conformer, Rejected};
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
    /// When the table's fields are taken as they are (no transform, filter or flattening):
    /// Parquet is read a column at a time, and JSON documents go straight into rows without
    /// a map — the same rows, faster. `false` takes every record through the
    /// general path, the reference those are tested against.
    pub direct: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions { strict: false, max_rows_per_segment: 5_000_000, format: None, progress: true, direct: true }
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
///
/// Files are read and conformed on every core (one reader per file at a time, at most one
/// per core); a sealer thread builds and publishes each full segment builder while readers
/// fill the next. Memory: up to one builder per reader plus the one being sealed. With one
/// file (or one core) the segments' order and names are those of a one-thread import; with
/// several, segments are published as they fill, so their sequence numbers follow that.
pub fn import(
    table: &Table,
    files: &[PathBuf],
    table_dir: &Path,
    options: &ImportOptions,
) -> Result<ImportReport, IngestError> {
    let conformer = Conformer::new(table)?;
    let mut store = TableStore::open_or_create(table_dir, table)?;
    let progress = progress_bar(options, files);
    let (progress, conformer) = (progress.as_ref(), &conformer);
    let readers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(files.len()).max(1);
    let (next_file, stop) = (&std::sync::atomic::AtomicUsize::new(0), &std::sync::atomic::AtomicBool::new(false));
    let (full, sealer_inbox) = std::sync::mpsc::sync_channel::<Batch>(0);
    std::thread::scope(|scope| {
        let sealer = std::thread::Builder::new()
            .name("cuvee-import-sealer".into())
            .spawn_scoped(scope, move || -> Result<(u64, Vec<String>), IngestError> {
                let mut sequence = store.manifest().segments.len();
                let (mut rows, mut names) = (0, Vec::new());
                for batch in sealer_inbox {
                    rows += batch.publish(&mut store, table, &mut sequence, &mut names)?;
                }
                Ok((rows, names))
            })
            .map_err(IngestError::Thread)?;
        let reader = |sealer: std::sync::mpsc::SyncSender<Batch>| {
            let file_reader = FileReader { table, options, conformer, progress, sealer };
            let mut report = ImportReport::default();
            let outcome = loop {
                let i = next_file.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(file) = files.get(i) else { break Ok(()) };
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break Ok(());
                }
                match file_reader.read(file, &mut report) {
                    Ok(true) => {}
                    // The sealer stopped: its error is the one to report.
                    Ok(false) => break Ok(()),
                    Err(e) => {
                        stop.store(true, std::sync::atomic::Ordering::Relaxed);
                        break Err(e);
                    }
                }
            };
            (report, outcome)
        };
        let mut helpers = Vec::new();
        for _ in 1..readers {
            let full = full.clone();
            let spawned = std::thread::Builder::new()
                .name("cuvee-import-reader".into())
                .spawn_scoped(scope, move || reader(full))
                .map_err(IngestError::Thread);
            match spawned {
                Ok(helper) => helpers.push(helper),
                // Fewer readers is slower, not wrong.
                Err(e) => tracing::warn!(error = %e, "import runs with fewer reader threads"),
            }
        }
        let mut reads = vec![reader(full)];
        for helper in helpers {
            reads.push(helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
        }
        let sealed = sealer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        if let Some(p) = progress {
            p.finish_and_clear();
        }
        // A sealer error is why reading stopped (its inbox closed), so it is the one to report.
        let (rows_imported, segments) = sealed?;
        let mut report = ImportReport { rows_imported, segments, ..ImportReport::default() };
        for (part, outcome) in reads {
            outcome?;
            report.rows_read += part.rows_read;
            report.rows_filtered += part.rows_filtered;
            report.bad_row_count += part.bad_row_count;
            let room = BAD_ROWS_KEPT.saturating_sub(report.bad_rows.len());
            report.bad_rows.extend(part.bad_rows.into_iter().take(room));
        }
        Ok(report)
    })
}

/// What each reader thread reads its files with.
struct FileReader<'a> {
    table: &'a Table,
    options: &'a ImportOptions,
    conformer: &'a Conformer,
    progress: Option<&'a indicatif::ProgressBar>,
    sealer: std::sync::mpsc::SyncSender<Batch>,
}

impl FileReader<'_> {
    /// One file's rows conformed into builders, each full builder handed to the sealer.
    /// `Ok(false)` when the sealer has stopped (its error is reported instead).
    fn read(&self, file: &Path, report: &mut ImportReport) -> Result<bool, IngestError> {
        let format = match self.options.format.or_else(|| FileFormat::of(file)) {
            Some(f) => f,
            None => return Err(IngestError::UnknownFormat(file.to_path_buf())),
        };
        let direct = self.options.direct && self.conformer.takes_fields_as_they_are();
        match format {
            FileFormat::Parquet if direct => return self.read_columns(file, report),
            FileFormat::Json if direct => return self.read_json(file, report),
            _ => {}
        }
        let mut batch = Batch::new(self.table);
        for record in readers::open(file, format, &self.table.schema)? {
            let outcome = record
                .map_err(|bad| (bad.position, bad.reason))
                .and_then(|r| self.conformer.conform(r.fields).map_err(|reason| (r.position, reason.to_string())));
            if !self.add(&mut batch, outcome, file, report)? {
                return Ok(false);
            }
        }
        Ok(batch.builder.num_docs() == 0 || self.sealer.send(batch).is_ok())
    }

    /// [`read`](Self::read) for a JSON file whose fields become the row's as they are: each
    /// document goes straight into a row ([`Conformer::json_row`]); one that is not a
    /// well-formed object takes the general path, which names the fault.
    fn read_json(&self, file: &Path, report: &mut ImportReport) -> Result<bool, IngestError> {
        let mut batch = Batch::new(self.table);
        for document in readers::json_documents(file)? {
            let outcome = document.map_err(|bad| (bad.position, bad.reason)).and_then(|(position, bytes)| {
                let row = self.conformer.json_row(&bytes).unwrap_or_else(|| {
                    match readers::json::record(position.clone(), &bytes) {
                        Ok(record) => self.conformer.conform(record.fields),
                        Err(bad) => Err(Rejected::Undecodable(bad.reason)),
                    }
                });
                row.map_err(|reason| (position, reason.to_string()))
            });
            if !self.add(&mut batch, outcome, file, report)? {
                return Ok(false);
            }
        }
        Ok(batch.builder.num_docs() == 0 || self.sealer.send(batch).is_ok())
    }

    /// One record's outcome into the builder, the report or the error (strict); `Ok(false)`
    /// when the sealer has stopped.
    fn add(
        &self,
        batch: &mut Batch,
        outcome: Result<Conformed, (String, String)>,
        file: &Path,
        report: &mut ImportReport,
    ) -> Result<bool, IngestError> {
        report.rows_read += 1;
        if let Some(p) = self.progress {
            p.inc(1);
        }
        match outcome {
            Ok(Conformed::Filtered) => report.rows_filtered += 1,
            Ok(Conformed::Row(row, time_ms)) => {
                batch.builder.push(&row).map_err(IngestError::Segment)?;
                batch.note_time(time_ms);
                return Ok(self.hand_over_if_full(batch));
            }
            Err((position, reason)) => report.reject(file, position, reason, self.options.strict)?,
        }
        Ok(true)
    }

    /// [`read`](Self::read) for a Parquet file whose fields become the row's as they are:
    /// each record batch goes into the builder a column at a time ([`columnar`]), cut where
    /// a segment fills.
    fn read_columns(&self, file: &Path, report: &mut ImportReport) -> Result<bool, IngestError> {
        let mut batch = Batch::new(self.table);
        for read in readers::parquet_batches(file)? {
            let (first, records) = match read {
                Ok(read) => read,
                Err(bad) => {
                    report.rows_read += 1;
                    report.reject(file, bad.position, bad.reason, self.options.strict)?;
                    continue;
                }
            };
            report.rows_read += records.num_rows() as u64;
            if let Some(p) = self.progress {
                p.inc(records.num_rows() as u64);
            }
            let mut offset = 0;
            while offset < records.num_rows() {
                let room = self.options.max_rows_per_segment.saturating_sub(batch.builder.num_docs() as usize).max(1);
                let len = room.min(records.num_rows() - offset);
                let added = columnar::append(self.conformer, &records.slice(offset, len), &mut batch.builder)
                    .map_err(IngestError::Segment)?;
                if let Some((lo, hi)) = added.time_range {
                    batch.note_time(Some(lo));
                    batch.note_time(Some(hi));
                }
                for (row, reason) in added.bad {
                    report.reject(file, format!("row {}", first + offset + row + 1), reason, self.options.strict)?;
                }
                offset += len;
                if !self.hand_over_if_full(&mut batch) {
                    return Ok(false);
                }
            }
        }
        Ok(batch.builder.num_docs() == 0 || self.sealer.send(batch).is_ok())
    }

    /// Hands a full builder to the sealer and starts the next; `false` when the sealer has
    /// stopped.
    fn hand_over_if_full(&self, batch: &mut Batch) -> bool {
        (batch.builder.num_docs() as usize) < self.options.max_rows_per_segment
            || self.sealer.send(std::mem::replace(batch, Batch::new(self.table))).is_ok()
    }
}

impl ImportReport {
    /// Counts and keeps a row that was not imported; in a strict import it is the error.
    fn reject(&mut self, file: &Path, position: String, reason: String, strict: bool) -> Result<(), IngestError> {
        if strict {
            return Err(IngestError::BadRow { path: file.to_path_buf(), position, reason });
        }
        self.bad_row_count += 1;
        if self.bad_rows.len() < BAD_ROWS_KEPT {
            self.bad_rows.push(BadRow { file: file.to_path_buf(), position, reason });
        }
        Ok(())
    }
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

/// A progress line on a terminal: rows, rows/s, and — when every file's row count is known
/// up front (Parquet footers) — a bar with the time left.
fn progress_bar(options: &ImportOptions, files: &[PathBuf]) -> Option<indicatif::ProgressBar> {
    if !options.progress || !std::io::stderr().is_terminal() {
        return None;
    }
    let total: Option<u64> = files
        .iter()
        .map(|f| options.format.or_else(|| FileFormat::of(f)).and_then(|format| readers::row_count(f, format)))
        .sum();
    let (bar, template) = match total {
        Some(total) => {
            (indicatif::ProgressBar::new(total), "{msg}: {wide_bar} {pos}/{len} rows ({per_sec}, {eta} left)")
        }
        None => (indicatif::ProgressBar::new_spinner(), "{spinner} {msg}: {pos} rows ({per_sec})"),
    };
    bar.set_message(format!("importing {} file(s)", files.len()));
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    Some(bar)
}
