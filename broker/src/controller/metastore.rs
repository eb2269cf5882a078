//! The tables and schemas of one data directory, kept in step with what queries see.
//!
//! ```text
//! <data_dir>/schemas/<schemaName>.json   every schema, with or without a table
//! <data_dir>/tables/<table>/             one TableStore per table (its schema, config,
//!                                        manifest and segments)
//! ```
//!
//! Writes are serialised by one lock: they are rare, and an import holds it while it runs
//! so two uploads to one table never race on segment names. Queries never take it.
//!
//! A REALTIME table also has its stream ingestion running ([`RealtimeIngestion`]): started
//! when the table is created or the directory is opened, told of definition changes, and
//! stopped before the table is deleted. Its sealers publish into the same store, so each
//! store sits behind its own lock, which ingestion shares.

use crate::service::QueryService;
use cuvee_catalog::evolution::incompatibilities;
use cuvee_catalog::{CatalogError, Schema, Table, TableConfigJson, TableType};
use cuvee_ingest::realtime::{RealtimeIngestion, RealtimeOptions, SharedStore};
use cuvee_ingest::{import, FileFormat, ImportOptions, ImportReport};
use cuvee_query::{ScanOptions, SegmentTable};
use cuvee_segments::{DeepStore, ImmutableSegment, ManifestEntry, SegmentError, TableStore};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

/// What went wrong with an admin request, with the HTTP status Pinot's controller answers.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Internal(String),
}

impl AdminError {
    pub fn status(&self) -> u16 {
        match self {
            AdminError::NotFound(_) => 404,
            AdminError::Conflict(_) => 409,
            AdminError::Invalid(_) => 400,
            AdminError::Internal(_) => 500,
        }
    }
}

impl From<SegmentError> for AdminError {
    fn from(e: SegmentError) -> Self {
        AdminError::Internal(e.to_string())
    }
}

fn invalid(what: &str) -> impl Fn(CatalogError) -> AdminError + '_ {
    move |e| AdminError::Invalid(format!("Invalid {what}: {e}"))
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> AdminError + '_ {
    move |e| AdminError::Internal(format!("{}: {e}", path.display()))
}

/// A table's name without Pinot's `_OFFLINE` / `_REALTIME` suffix.
pub fn raw_table_name(name: &str) -> &str {
    name.strip_suffix("_OFFLINE").or_else(|| name.strip_suffix("_REALTIME")).unwrap_or(name)
}

#[derive(Default)]
struct State {
    schemas: BTreeMap<String, Schema>,
    stores: BTreeMap<String, SharedStore>,
    ingestions: BTreeMap<String, Arc<RealtimeIngestion>>,
}

pub struct Metastore {
    data_dir: PathBuf,
    service: Arc<QueryService>,
    state: Mutex<State>,
    realtime: RealtimeOptions,
    deep: Option<Arc<DeepStore>>,
}

fn lock(store: &SharedStore) -> MutexGuard<'_, TableStore> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metastore {
    /// Loads every table and schema of `data_dir` and makes the tables queryable. A table
    /// that fails to load is reported and left out; a damaged segment leaves the rest of
    /// its table queryable. Returns the problems met.
    pub fn open(
        data_dir: &Path,
        service: Arc<QueryService>,
        realtime: RealtimeOptions,
        deep: Option<Arc<DeepStore>>,
    ) -> Result<(Metastore, Vec<String>), AdminError> {
        let mut state = State::default();
        let mut warnings = Vec::new();
        // Tables the deep store has and this disk lacks (a new or wiped disk) come back first.
        if let Some(deep) = &deep {
            for name in deep.tables()? {
                let dir = data_dir.join("tables").join(&name);
                if !dir.join("manifest.json").exists() {
                    match TableStore::restore(&dir, &name, deep) {
                        Ok(_) => warnings.push(format!("table {name} restored from the deep store {}", deep.url())),
                        Err(e) => warnings.push(format!("table {name} not restored from the deep store: {e}")),
                    }
                }
            }
        }
        for (path, text) in json_files(&data_dir.join("schemas"))? {
            match Schema::from_json(&text) {
                Ok(schema) => {
                    state.schemas.insert(schema.name().to_string(), schema);
                }
                Err(e) => warnings.push(format!("schema {} not loaded: {e}", path.display())),
            }
        }
        let tables_dir = data_dir.join("tables");
        let entries = match std::fs::read_dir(&tables_dir) {
            Ok(entries) => entries.flatten().map(|e| e.path()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(&tables_dir)(e)),
        };
        for dir in entries {
            match load_table(&dir, deep.as_ref()) {
                Ok((store, table, errors)) => {
                    warnings.extend(errors.into_iter().map(|e| e.to_string()));
                    let schema = &table.table().schema;
                    state.schemas.entry(schema.name().to_string()).or_insert_with(|| schema.clone());
                    let table = Arc::new(table);
                    service.add_table(Arc::clone(&table)).map_err(|e| AdminError::Internal(e.to_string()))?;
                    let name = store.manifest().table.clone();
                    let store = Arc::new(Mutex::new(store));
                    if table.table().config.table_type == TableType::Realtime {
                        match start_ingestion(&table, &store, &dir, &realtime) {
                            Ok(ingestion) => {
                                state.ingestions.insert(name.clone(), ingestion);
                            }
                            Err(e) => warnings.push(format!("table {name}: stream ingestion not started: {e}")),
                        }
                    }
                    state.stores.insert(name, store);
                }
                Err(e) => warnings.push(format!("table in {} not loaded: {e}", dir.display())),
            }
        }
        Ok((
            Metastore { data_dir: data_dir.to_path_buf(), service, state: Mutex::new(state), realtime, deep },
            warnings,
        ))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn schema_names(&self) -> Vec<String> {
        self.state().schemas.keys().cloned().collect()
    }

    pub fn schema(&self, name: &str) -> Option<Schema> {
        self.state().schemas.get(name).cloned()
    }

    /// Adds a schema, or updates it when it exists and the change is compatible. Tables
    /// using it take the new columns at once.
    pub fn put_schema(&self, text: &str, must_exist: Option<&str>) -> Result<Schema, AdminError> {
        let schema = Schema::from_json(text).map_err(invalid("schema"))?;
        let mut state = self.state();
        if let Some(name) = must_exist {
            if name != schema.name() {
                return Err(AdminError::Invalid(format!(
                    "Schema name mismatch for uploaded schema: the path names \"{name}\", the body \"{}\"",
                    schema.name()
                )));
            }
            if !state.schemas.contains_key(name) {
                return Err(AdminError::NotFound(format!("Schema {name} not found")));
            }
        }
        if let Some(current) = state.schemas.get(schema.name()) {
            let problems = incompatibilities(current, &schema);
            if !problems.is_empty() {
                return Err(AdminError::Invalid(format!(
                    "Schema {} is not backward-compatible with the existing schema: {}",
                    schema.name(),
                    problems.join("; ")
                )));
            }
        }
        // Tables using the schema must accept it with their configs before anything is written.
        let mut updated = Vec::new();
        for table_name in state.stores.keys() {
            let Some(current) = self.service.segment_table(table_name) else { continue };
            if current.table().schema.name() != schema.name() {
                continue;
            }
            let table =
                Table::new(schema.clone(), current.table().config.clone()).map_err(invalid("schema for its tables"))?;
            updated.push((current, table));
        }
        let path = self.data_dir.join("schemas").join(format!("{}.json", schema.name()));
        write_json(&path, &schema.to_json())?;
        for (current, table) in updated {
            if let Some(store) = state.stores.get(table.name()) {
                lock(store).replace_definition(&table)?;
            }
            if let Some(ingestion) = state.ingestions.get(table.name()) {
                ingestion.update_definition(table.clone());
            }
            self.service
                .add_table(Arc::new(current.with_table(table)))
                .map_err(|e| AdminError::Internal(e.to_string()))?;
        }
        state.schemas.insert(schema.name().to_string(), schema.clone());
        Ok(schema)
    }

    pub fn delete_schema(&self, name: &str) -> Result<(), AdminError> {
        let mut state = self.state();
        if !state.schemas.contains_key(name) {
            return Err(AdminError::NotFound(format!("Schema {name} not found")));
        }
        if let Some(table) = self
            .service
            .table_names()
            .into_iter()
            .find(|t| self.service.table(t).is_some_and(|t| t.schema.name() == name))
        {
            return Err(AdminError::Conflict(format!(
                "Cannot delete schema {name}, as it is associated with table {table}"
            )));
        }
        let path = self.data_dir.join("schemas").join(format!("{name}.json"));
        std::fs::remove_file(&path)
            .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
            .map_err(io(&path))?;
        state.schemas.remove(name);
        Ok(())
    }

    /// Creates a table (`create`) or changes an existing one's config. The schema is the one
    /// named by `segmentsConfig.schemaName`, else the one named like the table.
    pub fn put_table(&self, text: &str, create: bool, path_name: Option<&str>) -> Result<TableConfigJson, AdminError> {
        let config = TableConfigJson::from_json(text).map_err(invalid("table config"))?;
        let name = config.raw_table_name().to_string();
        if let Some(path_name) = path_name {
            if raw_table_name(path_name) != name {
                return Err(AdminError::Invalid(format!(
                    "Table name mismatch: the path names \"{path_name}\", the config \"{}\"",
                    config.table_name
                )));
            }
        }
        let mut state = self.state();
        let exists = state.stores.contains_key(&name);
        if create && exists {
            return Err(AdminError::Conflict(format!("Table {} already exists", config.table_name_with_type())));
        }
        if !create && !exists {
            return Err(AdminError::NotFound(format!("Table {} does not exist", config.table_name_with_type())));
        }
        let schema_name =
            config.segments_config.as_ref().and_then(|s| s.schema_name.clone()).unwrap_or_else(|| name.clone());
        let schema = state.schemas.get(&schema_name).cloned().ok_or_else(|| {
            AdminError::Invalid(format!(
                "Invalid table config for {}: schema {schema_name} does not exist; add it first (POST /schemas)",
                config.table_name_with_type()
            ))
        })?;
        let table = Table::new(schema, config.clone()).map_err(invalid("table config"))?;
        if table.config.table_type == TableType::Realtime {
            cuvee_ingest::realtime::validate(&table).map_err(|e| AdminError::Invalid(e.to_string()))?;
        }
        if exists {
            let current = self
                .service
                .segment_table(&name)
                .ok_or_else(|| AdminError::Internal(format!("table {name} is not registered")))?;
            if current.table().config.table_type != table.config.table_type {
                return Err(AdminError::Invalid(format!(
                    "Table {name} is {}; its type cannot change",
                    current.table().config.table_type.suffix()
                )));
            }
            // Index changes apply to segments built from now on.
            if let Some(store) = state.stores.get(&name) {
                lock(store).replace_definition(&table)?;
            }
            if let Some(ingestion) = state.ingestions.get(&name) {
                ingestion.update_definition(table.clone());
            }
            self.service
                .add_table(Arc::new(current.with_table(table)))
                .map_err(|e| AdminError::Internal(e.to_string()))?;
        } else {
            let dir = self.table_dir(&name);
            let mut store = TableStore::open_or_create(&dir, &table)?;
            if let Some(deep) = &self.deep {
                store.attach_deep_store(Arc::clone(deep))?;
            }
            let store = Arc::new(Mutex::new(store));
            let is_realtime = table.config.table_type == TableType::Realtime;
            let segment_table = Arc::new(SegmentTable::new(table, ScanOptions::default()));
            self.service.add_table(Arc::clone(&segment_table)).map_err(|e| AdminError::Internal(e.to_string()))?;
            if is_realtime {
                let ingestion = start_ingestion(&segment_table, &store, &dir, &self.realtime)
                    .map_err(|e| AdminError::Invalid(e.to_string()))?;
                state.ingestions.insert(name.clone(), ingestion);
            }
            state.stores.insert(name, store);
        }
        Ok(config)
    }

    /// Drops a table and all its segments.
    pub fn delete_table(&self, name: &str) -> Result<String, AdminError> {
        let raw = raw_table_name(name);
        let mut state = self.state();
        let Some(store) = state.stores.remove(raw) else {
            return Err(AdminError::NotFound(format!("Table {name} does not exist")));
        };
        // Consumers and sealers stop before anything is removed under them.
        if let Some(ingestion) = state.ingestions.remove(raw) {
            ingestion.stop();
        }
        let with_type = self.service.table(raw).map_or_else(|| raw.to_string(), |t| t.config.table_name_with_type());
        self.service.remove_table(raw).map_err(|e| AdminError::Internal(e.to_string()))?;
        drop(store);
        if let Some(deep) = &self.deep {
            deep.delete_table(raw)?;
        }
        let dir = self.table_dir(raw);
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
        Ok(with_type)
    }

    /// The published segments of a table.
    pub fn segments(&self, table: &str) -> Result<Vec<ManifestEntry>, AdminError> {
        let state = self.state();
        let store = state
            .stores
            .get(raw_table_name(table))
            .ok_or_else(|| AdminError::NotFound(format!("Table {table} does not exist")))?;
        let segments = lock(store).manifest().segments.clone();
        Ok(segments)
    }

    /// The stream ingestion of a realtime table.
    pub fn ingestion(&self, table: &str) -> Result<Arc<RealtimeIngestion>, AdminError> {
        let raw = raw_table_name(table);
        let state = self.state();
        if let Some(ingestion) = state.ingestions.get(raw) {
            return Ok(Arc::clone(ingestion));
        }
        if state.stores.contains_key(raw) {
            return Err(AdminError::Invalid(format!("Table {table} is not a REALTIME table consuming a stream")));
        }
        Err(AdminError::NotFound(format!("Table {table} does not exist")))
    }

    /// The folder of a table (its dead letters live there).
    pub fn table_dir_of(&self, table: &str) -> Result<PathBuf, AdminError> {
        let raw = raw_table_name(table);
        if !self.state().stores.contains_key(raw) {
            return Err(AdminError::NotFound(format!("Table {table} does not exist")));
        }
        Ok(self.table_dir(raw))
    }

    /// Stops every table's ingestion (at shutdown): sealers finish what they build.
    pub fn stop_ingestion(&self) {
        let ingestions: Vec<_> = std::mem::take(&mut self.state().ingestions).into_values().collect();
        for ingestion in ingestions {
            ingestion.stop();
        }
    }

    pub fn delete_segment(&self, table: &str, segment: &str) -> Result<(), AdminError> {
        let raw = raw_table_name(table);
        let state = self.state();
        let store =
            state.stores.get(raw).ok_or_else(|| AdminError::NotFound(format!("Table {table} does not exist")))?;
        if state.ingestions.contains_key(raw) {
            return Err(AdminError::Invalid(format!(
                "Segment {segment} belongs to REALTIME table {table}, whose published segments are its stream checkpoint; deleting one would make its partition consume it again"
            )));
        }
        let mut store = lock(store);
        if !store.manifest().segments.iter().any(|s| s.name == segment) {
            return Err(AdminError::NotFound(format!("Segment {segment} of table {table} not found")));
        }
        // Out of queries first, then unpublished: a query never reads a removed file.
        if let Some(t) = self.service.segment_table(raw) {
            t.remove_sealed(segment);
        }
        store.unpublish(segment)?;
        Ok(())
    }

    /// Imports files into a table and makes the new segments queryable.
    pub fn import(
        &self,
        table: &str,
        files: &[PathBuf],
        format: Option<FileFormat>,
    ) -> Result<ImportReport, AdminError> {
        let raw = raw_table_name(table);
        let mut state = self.state();
        if !state.stores.contains_key(raw) {
            return Err(AdminError::NotFound(format!("Table {table} does not exist")));
        }
        if state.ingestions.contains_key(raw) {
            return Err(AdminError::Invalid(format!(
                "Table {table} is a REALTIME table fed by its stream; upload files to an OFFLINE table"
            )));
        }
        let target = self
            .service
            .segment_table(raw)
            .ok_or_else(|| AdminError::Internal(format!("table {raw} is not registered")))?;
        let options = ImportOptions { format, progress: false, ..ImportOptions::default() };
        let dir = self.table_dir(raw);
        let report = import(target.table(), files, &dir, &options)
            .map_err(|e| AdminError::Invalid(format!("Ingestion into {table} failed: {e}")))?;
        // The importer published through its own handle on the store; read the manifest back.
        let store = TableStore::open_or_create(&dir, target.table())?;
        for name in &report.segments {
            let segment = ImmutableSegment::open(&store.segment_path(name))?;
            target.add_sealed(Arc::new(segment));
        }
        state.stores.insert(raw.to_string(), Arc::new(Mutex::new(store)));
        Ok(report)
    }

    pub fn upload_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }

    fn table_dir(&self, raw: &str) -> PathBuf {
        self.data_dir.join("tables").join(raw)
    }
}

fn load_table(
    dir: &Path,
    deep: Option<&Arc<DeepStore>>,
) -> Result<(TableStore, SegmentTable, Vec<SegmentError>), AdminError> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).map_err(io(&dir.join(name)));
    let schema = Schema::from_json(&read("schema.json")?).map_err(invalid("stored schema"))?;
    let config = TableConfigJson::from_json(&read("table_config.json")?).map_err(invalid("stored table config"))?;
    let table = Table::new(schema, config).map_err(invalid("stored table"))?;
    let mut store = TableStore::open_or_create(dir, &table)?;
    if let Some(deep) = deep {
        store.attach_deep_store(Arc::clone(deep))?;
    }
    let (segment_table, errors) = SegmentTable::open(&store, table, ScanOptions::default());
    Ok((store, segment_table, errors))
}

fn start_ingestion(
    table: &Arc<SegmentTable>,
    store: &SharedStore,
    dir: &Path,
    options: &RealtimeOptions,
) -> Result<Arc<RealtimeIngestion>, cuvee_ingest::IngestError> {
    let host: Arc<dyn cuvee_ingest::realtime::SegmentHost> = Arc::clone(table) as _;
    RealtimeIngestion::start(table.table().clone(), Arc::clone(store), dir, host, options.clone()).map(Arc::new)
}

fn json_files(dir: &Path) -> Result<Vec<(PathBuf, String)>, AdminError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut out = Vec::new();
    for path in entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "json")) {
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        out.push((path, text));
    }
    Ok(out)
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<(), AdminError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let text = serde_json::to_string_pretty(value).map_err(|e| AdminError::Internal(e.to_string()))?;
    cuvee_segments::builder::write_durably(path, text.as_bytes())?;
    Ok(())
}
