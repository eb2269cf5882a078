//! The live set of a process's queryable tables: DataFusion's `public` schema for every
//! door's session, and what fragments sent to this process resolve against. The node adds
//! and removes tables (or a cluster broker's routing, for tables its servers hold); queries
//! planned afterwards see the change at once, on every door.

use crate::codec::SegmentResolver;
use crate::error::QueryError;
use crate::table::{ScanOptions, SegmentTable};
use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::Result;
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Default)]
pub struct Tables {
    tables: RwLock<BTreeMap<String, Arc<SegmentTable>>>,
}

impl Tables {
    pub fn new() -> Arc<Tables> {
        Arc::default()
    }

    /// Makes a table queryable under its own name (case preserved), replacing one of the
    /// same name.
    pub fn insert(&self, table: Arc<SegmentTable>) {
        self.tables.write().insert(table.table().name().to_string(), table);
    }

    pub fn remove(&self, name: &str) -> Option<Arc<SegmentTable>> {
        self.tables.write().remove(name)
    }

    pub fn get(&self, name: &str) -> Option<Arc<SegmentTable>> {
        self.tables.read().get(name).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        self.tables.read().keys().cloned().collect()
    }

    pub fn all(&self) -> Vec<Arc<SegmentTable>> {
        self.tables.read().values().cloned().collect()
    }

    /// The schema and table config of a table, by its raw name or its schema's name.
    pub fn definition(&self, name: &str) -> Option<cuvee_catalog::Table> {
        let tables = self.tables.read();
        tables
            .get(name)
            .or_else(|| tables.values().find(|t| t.table().schema.name() == name))
            .map(|t| t.table().clone())
    }

    /// The same tables read with `options` (a query's `enableNullHandling`), as a schema.
    pub fn with_options(self: &Arc<Self>, options: ScanOptions) -> Arc<dyn SchemaProvider> {
        if options == ScanOptions::default() {
            return Arc::clone(self) as _;
        }
        Arc::new(TablesView { tables: Arc::clone(self), options })
    }
}

#[async_trait]
impl SchemaProvider for Tables {
    fn table_names(&self) -> Vec<String> {
        self.names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self.get(name).map(|t| t as Arc<dyn TableProvider>))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.read().contains_key(name)
    }

    fn register_table(&self, _name: String, _table: Arc<dyn TableProvider>) -> Result<Option<Arc<dyn TableProvider>>> {
        // Tables are made and dropped through the controller API, never by SQL:
        // `CREATE TABLE`, `CREATE EXTERNAL TABLE` and `DROP TABLE` fail here, on every door.
        Err(QueryError::ReadOnly.into())
    }

    fn deregister_table(&self, _name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        // Tables are made and dropped through the controller API, never by SQL:
        // `CREATE TABLE`, `CREATE EXTERNAL TABLE` and `DROP TABLE` fail here, on every door.
        Err(QueryError::ReadOnly.into())
    }
}

impl SegmentResolver for Tables {
    fn table(&self, name: &str) -> Option<Arc<SegmentTable>> {
        self.get(name)
    }

    fn tables(&self) -> Vec<Arc<SegmentTable>> {
        self.all()
    }
}

/// [`Tables`] read with other scan options; shares the tables, present and future.
#[derive(Debug)]
struct TablesView {
    tables: Arc<Tables>,
    options: ScanOptions,
}

#[async_trait]
impl SchemaProvider for TablesView {
    fn table_names(&self) -> Vec<String> {
        self.tables.names()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(self.tables.get(name).map(|t| Arc::new(t.with_options(self.options)) as Arc<dyn TableProvider>))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.tables.table_exist(name)
    }

    fn register_table(&self, _name: String, _table: Arc<dyn TableProvider>) -> Result<Option<Arc<dyn TableProvider>>> {
        // Tables are made and dropped through the controller API, never by SQL:
        // `CREATE TABLE`, `CREATE EXTERNAL TABLE` and `DROP TABLE` fail here, on every door.
        Err(QueryError::ReadOnly.into())
    }

    fn deregister_table(&self, _name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        // Tables are made and dropped through the controller API, never by SQL:
        // `CREATE TABLE`, `CREATE EXTERNAL TABLE` and `DROP TABLE` fail here, on every door.
        Err(QueryError::ReadOnly.into())
    }
}
