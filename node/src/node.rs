//! The tables and schemas of one data directory, kept in step with what queries see.
//!
//! ```text
//! <data_dir>/schemas/<schemaName>.json   every schema, with or without a table
//! <data_dir>/tables/<table>/             one TableStore per table (its schema, config,
//!                                        manifest and segments)
//! ```
//!
//! Locks: `admin` serialises definition changes (create, update, delete — rare); `state`
//! is held only for a look-up or an update of the maps, never across disk work or a
//! consumer's stop, so status and listing calls never wait behind an admin call. Each
//! table's store has its own lock, shared with its sealers; an import holds it, so two
//! uploads to one table never race on segment names, and nothing else waits for it.
//!
//! A REALTIME table also has its stream ingestion running ([`RealtimeIngestion`]): started
//! when the table is created or the directory is opened, told of definition changes, and
//! stopped before the table is deleted.

use crate::error::{NodeError, Result};
use cuvee_catalog::evolution::incompatibilities;
use cuvee_catalog::{CatalogError, NameKind, Schema, Table, TableConfigJson, TableType};
use cuvee_deep_store::{DeepStore, DeepStoreSettings};
use cuvee_ingest::realtime::{RealtimeIngestion, RealtimeOptions, SharedStore};
use cuvee_ingest::{import, FileFormat, ImportOptions, ImportReport};
use cuvee_query::{ScanOptions, SegmentTable, Tables};
use cuvee_segments::{ImmutableSegment, ManifestEntry, Mirror, SegmentError, SegmentHost, TableStore};
use parking_lot::{Mutex, RwLock};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How a node is set up; the defaults suit one process on one machine.
#[derive(Debug, Clone, Default)]
pub struct NodeOptions {
    pub realtime: RealtimeOptions,
    /// Where tables are kept beyond this disk (`s3://…`, `file://…`); none by default.
    pub deep_store: Option<String>,
    /// How to open it (whose manifests, credentials).
    pub deep_store_settings: DeepStoreSettings,
    /// Folders `ingestFromURI` may read files from (`--ingest-allow`); none by default, so
    /// it reads only objects of the deep store.
    pub ingest_roots: Vec<PathBuf>,
    /// How often segments past their table's retention are removed
    /// ([`Node::enforce_retention`]); never when none (the binary sets it).
    pub retention_interval: Option<std::time::Duration>,
}

fn definition(what: &'static str) -> impl Fn(CatalogError) -> NodeError {
    move |source| NodeError::Definition { what, source }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> NodeError + '_ {
    move |source| NodeError::Io { path: path.to_path_buf(), source }
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

pub struct Node {
    data_dir: PathBuf,
    /// `ingest_roots`, canonical (symlinks resolved), so a prefix check means what it says.
    ingest_roots: Vec<PathBuf>,
    tables: Arc<Tables>,
    admin: Mutex<()>,
    state: RwLock<State>,
    realtime: RealtimeOptions,
    deep: Option<Arc<DeepStore>>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Node({})", self.data_dir.display())
    }
}

impl Node {
    /// Loads every table and schema of `data_dir` and makes the tables queryable. A table
    /// that fails to load is reported and left out; a damaged segment leaves the rest of
    /// its table queryable. Returns the problems met.
    pub fn open(data_dir: &Path, options: NodeOptions) -> Result<(Node, Vec<String>)> {
        let deep = match &options.deep_store {
            None => None,
            Some(url) => Some(Arc::new(DeepStore::open_with(url, options.deep_store_settings.clone())?)),
        };
        let tables = Tables::new();
        let mut state = State::default();
        let mut warnings = Vec::new();
        // Tables the deep store has and this disk lacks (a new or wiped disk) come back first.
        if let Some(deep) = &deep {
            for name in deep.tables()? {
                // A deep store's listing is input too: its names follow the rule.
                let dir = match cuvee_catalog::name::join(&data_dir.join("tables"), NameKind::Table, &name, "") {
                    Ok(dir) => dir,
                    Err(e) => {
                        warnings.push(format!("a table in the deep store {} is not restored: {e}", deep.url()));
                        continue;
                    }
                };
                if !dir.join("manifest.json").exists() {
                    match TableStore::restore(&dir, &name, deep.as_ref()) {
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
        let mirror = deep.clone().map(|d| d as Arc<dyn Mirror>);
        for dir in entries {
            match load_table(&dir, mirror.as_ref()) {
                Ok((store, table, errors)) => {
                    warnings.extend(errors.into_iter().map(|e| e.to_string()));
                    let schema = &table.table().schema;
                    state.schemas.entry(schema.name().to_string()).or_insert_with(|| schema.clone());
                    let table = Arc::new(table);
                    tables.insert(Arc::clone(&table));
                    let name = store.manifest().table.clone();
                    let store = Arc::new(parking_lot::Mutex::new(store));
                    if table.table().config.table_type == TableType::Realtime {
                        match start_ingestion(&table, &store, &dir, &options.realtime) {
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
        let mut ingest_roots = Vec::new();
        for root in &options.ingest_roots {
            let canonical = root.canonicalize().map_err(io(root))?;
            if !canonical.is_dir() {
                return Err(NodeError::Invalid(format!("--ingest-allow {}: not a folder", root.display())));
            }
            ingest_roots.push(canonical);
        }
        let node = Node {
            data_dir: data_dir.to_path_buf(),
            ingest_roots,
            tables,
            admin: Mutex::new(()),
            state: RwLock::new(state),
            realtime: options.realtime,
            deep,
        };
        Ok((node, warnings))
    }

    /// The tables this node serves, as every door's sessions read them.
    pub fn tables(&self) -> &Arc<Tables> {
        &self.tables
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn schema_names(&self) -> Vec<String> {
        self.state.read().schemas.keys().cloned().collect()
    }

    pub fn schema(&self, name: &str) -> Option<Schema> {
        self.state.read().schemas.get(name).cloned()
    }

    /// Adds a schema, or updates it when it exists and the change is compatible. Tables
    /// using it take the new columns at once.
    pub fn put_schema(&self, text: &str, must_exist: Option<&str>) -> Result<Schema> {
        let schema = Schema::from_json(text).map_err(definition("schema"))?;
        let _admin = self.admin.lock();
        let (current, stores) = {
            let state = self.state.read();
            (state.schemas.get(schema.name()).cloned(), state.stores.keys().cloned().collect::<Vec<_>>())
        };
        if let Some(name) = must_exist {
            if name != schema.name() {
                return Err(NodeError::Invalid(format!(
                    "Schema name mismatch for uploaded schema: the path names \"{name}\", the body \"{}\"",
                    schema.name()
                )));
            }
            if current.is_none() {
                return Err(NodeError::SchemaNotFound(name.to_string()));
            }
        }
        if let Some(current) = &current {
            let problems = incompatibilities(current, &schema);
            if !problems.is_empty() {
                return Err(NodeError::Invalid(format!(
                    "Schema {} is not backward-compatible with the existing schema: {}",
                    schema.name(),
                    problems.join("; ")
                )));
            }
        }
        // Tables using the schema must accept it with their configs before anything is written.
        let mut updated = Vec::new();
        for table_name in stores {
            let Some(current) = self.tables.get(&table_name) else { continue };
            if current.table().schema.name() != schema.name() {
                continue;
            }
            let table = Table::new(schema.clone(), current.table().config.clone())
                .map_err(definition("schema for its tables"))?;
            updated.push((current, table));
        }
        let path = self.schema_file(schema.name())?;
        write_json(&path, &schema.to_json())?;
        for (current, table) in updated {
            self.apply_definition(&current, table)?;
        }
        self.state.write().schemas.insert(schema.name().to_string(), schema.clone());
        Ok(schema)
    }

    /// A changed definition of a table: its store, its ingestion and its queries take it.
    fn apply_definition(&self, current: &SegmentTable, table: Table) -> Result<()> {
        // The key maps are built for one key, one ordering and one merge: a change would
        // leave stored rows judged by another rule.
        if current.table().key_policy() != table.key_policy() {
            return Err(NodeError::Invalid(format!(
                "table {}: upsertConfig, dedupConfig and the schema's primaryKeyColumns cannot change on an existing table (its key maps were built by them); create a new table",
                table.name()
            )));
        }
        let (store, ingestion) = {
            let state = self.state.read();
            (state.stores.get(table.name()).cloned(), state.ingestions.get(table.name()).cloned())
        };
        if let Some(store) = store {
            lock(&store).replace_definition(&table)?;
        }
        if let Some(ingestion) = ingestion {
            ingestion.update_definition(table.clone());
        }
        self.tables.insert(Arc::new(current.with_table(table)));
        Ok(())
    }

    pub fn delete_schema(&self, name: &str) -> Result<()> {
        let _admin = self.admin.lock();
        if !self.state.read().schemas.contains_key(name) {
            return Err(NodeError::SchemaNotFound(name.to_string()));
        }
        if let Some(table) = self.tables.all().into_iter().find(|t| t.table().schema.name() == name) {
            return Err(NodeError::SchemaInUse { schema: name.to_string(), table: table.table().name().to_string() });
        }
        let path = self.schema_file(name)?;
        std::fs::remove_file(&path)
            .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
            .map_err(io(&path))?;
        self.state.write().schemas.remove(name);
        Ok(())
    }

    /// Creates a table (`create`) or changes an existing one's config. The schema is the one
    /// named by `segmentsConfig.schemaName`, else the one named like the table.
    pub fn put_table(&self, text: &str, create: bool, path_name: Option<&str>) -> Result<TableConfigJson> {
        let config = TableConfigJson::from_json(text).map_err(definition("table config"))?;
        let name = config.raw_table_name().to_string();
        if let Some(path_name) = path_name {
            if raw_table_name(path_name) != name {
                return Err(NodeError::Invalid(format!(
                    "Table name mismatch: the path names \"{path_name}\", the config \"{}\"",
                    config.table_name
                )));
            }
        }
        let _admin = self.admin.lock();
        let (exists, schema) = {
            let state = self.state.read();
            let schema_name =
                config.segments_config.as_ref().and_then(|s| s.schema_name.clone()).unwrap_or_else(|| name.clone());
            (state.stores.contains_key(&name), state.schemas.get(&schema_name).cloned().ok_or(schema_name))
        };
        if create && exists {
            return Err(NodeError::TableExists(config.table_name_with_type()));
        }
        if !create && !exists {
            return Err(NodeError::TableNotFound(config.table_name_with_type()));
        }
        let schema = schema.map_err(|schema_name| {
            NodeError::Invalid(format!(
                "Invalid table config for {}: schema {schema_name} does not exist; add it first (POST /schemas)",
                config.table_name_with_type()
            ))
        })?;
        let table = Table::new(schema, config.clone()).map_err(definition("table config"))?;
        if table.config.table_type == TableType::Realtime {
            cuvee_ingest::realtime::validate(&table, &self.realtime.secrets)
                .map_err(|e| NodeError::Invalid(e.to_string()))?;
        }
        if exists {
            let current =
                self.tables.get(&name).ok_or_else(|| NodeError::Internal(format!("table {name} is not registered")))?;
            if current.table().config.table_type != table.config.table_type {
                return Err(NodeError::Invalid(format!(
                    "Table {name} is {}; its type cannot change",
                    current.table().config.table_type.suffix()
                )));
            }
            // Index changes apply to segments built from now on.
            self.apply_definition(&current, table)?;
        } else {
            let dir = self.table_dir(&name)?;
            let mut store = TableStore::open_or_create(&dir, &table)?;
            if let Some(deep) = &self.deep {
                store.attach_deep_store(Arc::clone(deep) as Arc<dyn Mirror>)?;
            }
            let store = Arc::new(parking_lot::Mutex::new(store));
            let is_realtime = table.config.table_type == TableType::Realtime;
            let segment_table = Arc::new(SegmentTable::new(table, ScanOptions::default()));
            self.tables.insert(Arc::clone(&segment_table));
            let ingestion = if is_realtime {
                Some(
                    start_ingestion(&segment_table, &store, &dir, &self.realtime)
                        .map_err(|e| NodeError::Invalid(e.to_string()))?,
                )
            } else {
                None
            };
            let mut state = self.state.write();
            if let Some(ingestion) = ingestion {
                state.ingestions.insert(name.clone(), ingestion);
            }
            state.stores.insert(name, store);
        }
        Ok(config)
    }

    /// Drops a table and all its segments.
    pub fn delete_table(&self, name: &str) -> Result<String> {
        let raw = raw_table_name(name);
        let _admin = self.admin.lock();
        let (store, ingestion) = {
            let mut state = self.state.write();
            let Some(store) = state.stores.remove(raw) else {
                return Err(NodeError::TableNotFound(name.to_string()));
            };
            (store, state.ingestions.remove(raw))
        };
        // Consumers and sealers stop before anything is removed under them.
        if let Some(ingestion) = ingestion {
            ingestion.stop();
        }
        let with_type =
            self.tables.definition(raw).map_or_else(|| raw.to_string(), |t| t.config.table_name_with_type());
        self.tables.remove(raw);
        // An import into the table finishes before its files go.
        let store = lock(&store);
        if let Some(deep) = &self.deep {
            deep.delete_table(raw)?;
        }
        let dir = self.table_dir(raw)?;
        std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
        drop(store);
        Ok(with_type)
    }

    fn store(&self, table: &str) -> Result<SharedStore> {
        self.state
            .read()
            .stores
            .get(raw_table_name(table))
            .cloned()
            .ok_or_else(|| NodeError::TableNotFound(table.to_string()))
    }

    /// The published segments of a table.
    pub fn segments(&self, table: &str) -> Result<Vec<ManifestEntry>> {
        let store = self.store(table)?;
        let segments = lock(&store).manifest().segments.clone();
        Ok(segments)
    }

    /// The stream ingestion of a realtime table.
    pub fn ingestion(&self, table: &str) -> Result<Arc<RealtimeIngestion>> {
        let raw = raw_table_name(table);
        let state = self.state.read();
        if let Some(ingestion) = state.ingestions.get(raw) {
            return Ok(Arc::clone(ingestion));
        }
        if state.stores.contains_key(raw) {
            return Err(NodeError::Invalid(format!("Table {table} is not a REALTIME table consuming a stream")));
        }
        Err(NodeError::TableNotFound(table.to_string()))
    }

    /// The folder of a table (its dead letters live there).
    pub fn table_dir_of(&self, table: &str) -> Result<PathBuf> {
        let raw = raw_table_name(table);
        if !self.state.read().stores.contains_key(raw) {
            return Err(NodeError::TableNotFound(table.to_string()));
        }
        self.table_dir(raw)
    }

    /// Stops every table's ingestion (at shutdown): sealers finish what they build.
    pub fn stop_ingestion(&self) {
        let ingestions: Vec<_> = std::mem::take(&mut self.state.write().ingestions).into_values().collect();
        for ingestion in ingestions {
            ingestion.stop();
        }
    }

    pub fn delete_segment(&self, table: &str, segment: &str) -> Result<()> {
        let raw = raw_table_name(table);
        if self.state.read().ingestions.contains_key(raw) {
            return Err(NodeError::Invalid(format!(
                "Segment {segment} belongs to REALTIME table {table}, whose published segments are its stream checkpoint; deleting one would make its partition consume it again"
            )));
        }
        let store = self.store(table)?;
        let mut store = lock(&store);
        if !store.manifest().segments.iter().any(|s| s.name == segment) {
            return Err(NodeError::SegmentNotFound { table: table.to_string(), segment: segment.to_string() });
        }
        // Out of queries first, then unpublished: a query never reads a removed file.
        if let Some(t) = self.tables.get(raw) {
            t.remove_sealed(segment);
        }
        store.unpublish(segment)?;
        Ok(())
    }

    /// Removes every table's segments past its retention (`retentionTimeUnit/Value`), as
    /// of `now_ms`: out of the manifest (one change per table, published like any other),
    /// then out of queries, then their files. A realtime table keeps the newest
    /// segment of each partition (its checkpoint). Returns `(table, segment)` per removal.
    pub fn enforce_retention(&self, now_ms: i64) -> Vec<(String, String)> {
        let stores: Vec<(String, SharedStore)> =
            self.state.read().stores.iter().map(|(name, store)| (name.clone(), Arc::clone(store))).collect();
        let mut removed = Vec::new();
        for (name, store) in stores {
            let Some(table) = self.tables.get(&name) else { continue };
            let config = &table.table().config;
            let retention = match config.retention() {
                Ok(Some(retention)) => retention,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!(table = %name, error = %e, "retention not enforced");
                    continue;
                }
            };
            let cutoff = now_ms.saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
            let streamed = config.table_type == TableType::Realtime;
            // The manifest first: if it cannot change, queries keep every segment it names
            // (a query reading a file as it is unlinked still reads it whole).
            let expired = lock(&store).expire(cutoff, streamed);
            match expired {
                Ok(expired) => {
                    let ingestion = self.state.read().ingestions.get(&name).cloned();
                    for entry in expired {
                        table.remove_sealed(&entry.name);
                        if let Some(ingestion) = &ingestion {
                            ingestion.forget_segment(&entry.name);
                        }
                        tracing::info!(table = %name, segment = %entry.name, end_time_ms = ?entry.bounds.end_time_ms, "segment past retention removed");
                        removed.push((name.clone(), entry.name));
                    }
                }
                Err(e) => tracing::error!(table = %name, error = %e, "removing segments past retention failed"),
            }
        }
        removed
    }

    /// Imports files into a table and makes the new segments queryable. Holds the table's
    /// store for the import, nothing else.
    pub fn import(&self, table: &str, files: &[PathBuf], format: Option<FileFormat>) -> Result<ImportReport> {
        let raw = raw_table_name(table);
        if self.state.read().ingestions.contains_key(raw) {
            return Err(NodeError::Invalid(format!(
                "Table {table} is a REALTIME table fed by its stream; upload files to an OFFLINE table"
            )));
        }
        let shared = self.store(table)?;
        let mut store = lock(&shared);
        let target =
            self.tables.get(raw).ok_or_else(|| NodeError::Internal(format!("table {raw} is not registered")))?;
        let options = ImportOptions { format, progress: false, ..ImportOptions::default() };
        let dir = self.table_dir(raw)?;
        let report = import(target.table(), files, &dir, &options)
            .map_err(|source| NodeError::Import { table: table.to_string(), source: Box::new(source) })?;
        // The importer published through its own handle on the store; read the manifest back.
        let mut reopened = TableStore::open_or_create(&dir, target.table())?;
        if let Some(deep) = store.deep_store() {
            reopened.attach_deep_store(Arc::clone(deep))?;
        }
        for name in &report.segments {
            let segment = ImmutableSegment::open(&reopened.segment_path(name)?)?;
            target.add_sealed(Arc::new(segment));
        }
        *store = reopened;
        Ok(report)
    }

    /// The local file an `ingestFromURI` source names, checked against where the operator
    /// allows reads: a `file://` URI must be a regular file under an `--ingest-allow` root
    /// (after resolving symlinks); a URI under the deep store's URL is copied here first,
    /// at most `max_bytes`. Anything else is refused, naming the rule. The second value
    /// says whether the file is a copy to remove after the import.
    pub fn ingest_source(&self, uri: &str, max_bytes: u64) -> Result<(PathBuf, bool)> {
        if let Some(path) = uri.strip_prefix("file://") {
            let path = Path::new(path);
            let refused = |why: &str| NodeError::Forbidden(format!("sourceURIStr {uri}: {why}"));
            if self.ingest_roots.is_empty() {
                return Err(refused("no folder is open to ingestFromURI (the server's --ingest-allow names them)"));
            }
            let canonical = path.canonicalize().map_err(|_| refused("no such file"))?;
            if !self.ingest_roots.iter().any(|root| canonical.starts_with(root)) {
                return Err(refused("it is not under a folder open to ingestFromURI (--ingest-allow)"));
            }
            let metadata = std::fs::metadata(&canonical).map_err(io(&canonical))?;
            if !metadata.is_file() {
                return Err(refused("it is not a regular file"));
            }
            return Ok((canonical, false));
        }
        let unsupported = || {
            NodeError::Invalid(format!(
                "sourceURIStr {uri}: only file:// URIs (under the server's --ingest-allow folders) and objects of its deep store are read"
            ))
        };
        let Some(deep) = &self.deep else { return Err(unsupported()) };
        let scheme = |u: &str| u.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        if scheme(uri) != scheme(deep.url()) {
            return Err(unsupported());
        }
        let Some(bytes) = deep.read_uri(uri, max_bytes)? else {
            return Err(NodeError::Forbidden(format!(
                "sourceURIStr {uri}: not under the deep store {} (and only file:// URIs under --ingest-allow folders are read)",
                deep.url()
            )));
        };
        let dir = self.upload_dir();
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let name = uri.rsplit('/').next().unwrap_or("object");
        let extension = Path::new(name).extension().and_then(|e| e.to_str()).unwrap_or("data");
        let path = dir.join(format!("{}-{}.{extension}", std::process::id(), crate::next_upload()));
        std::fs::write(&path, bytes).map_err(io(&path))?;
        Ok((path, true))
    }

    pub fn upload_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }

    /// The folder of a table: its name checked and joined under the data directory.
    fn table_dir(&self, raw: &str) -> Result<PathBuf> {
        Ok(cuvee_catalog::name::join(&self.data_dir.join("tables"), NameKind::Table, raw, "")?)
    }

    fn schema_file(&self, name: &str) -> Result<PathBuf> {
        Ok(cuvee_catalog::name::join(&self.data_dir.join("schemas"), NameKind::Schema, name, ".json")?)
    }
}

fn lock(store: &SharedStore) -> parking_lot::MutexGuard<'_, TableStore> {
    store.lock()
}

fn load_table(dir: &Path, deep: Option<&Arc<dyn Mirror>>) -> Result<(TableStore, SegmentTable, Vec<SegmentError>)> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).map_err(io(&dir.join(name)));
    let schema = Schema::from_json(&read("schema.json")?).map_err(definition("stored schema"))?;
    let config = TableConfigJson::from_json(&read("table_config.json")?).map_err(definition("stored table config"))?;
    let table = Table::new(schema, config).map_err(definition("stored table"))?;
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
) -> std::result::Result<Arc<RealtimeIngestion>, cuvee_ingest::IngestError> {
    let host: Arc<dyn SegmentHost> = Arc::clone(table) as _;
    RealtimeIngestion::start(table.table().clone(), Arc::clone(store), dir, host, options.clone()).map(Arc::new)
}

fn json_files(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
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

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let text = serde_json::to_string_pretty(value).map_err(|e| NodeError::Internal(e.to_string()))?;
    cuvee_segments::builder::write_durably(path, text.as_bytes())?;
    Ok(())
}
