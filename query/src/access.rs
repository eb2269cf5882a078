//! Per-table read permission, checked on the logical plan: every table a statement scans —
//! in joins, subqueries, CTEs and set operations alike — must be one the caller may read.
//! The catalogs' own tables (`information_schema`, `pg_catalog`) list names and columns,
//! never rows, and stay open to every caller.

use crate::QueryError;
use cuvee_access::{Permission, Principal};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement;
use datafusion::sql::resolve::resolve_table_references;
use std::collections::BTreeSet;

/// Schemas whose tables describe the catalog rather than hold data.
const CATALOG_SCHEMAS: [&str; 2] = ["information_schema", "pg_catalog"];

/// The data tables `plan` scans, subqueries included.
pub fn scanned_tables(plan: &LogicalPlan) -> BTreeSet<String> {
    let mut tables = BTreeSet::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            if !scan.table_name.schema().is_some_and(|s| CATALOG_SCHEMAS.contains(&s)) {
                tables.insert(scan.table_name.table().to_string());
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    tables
}

/// `kafka_topic(…)` (`cuvee_node::topic_function`): SQL over a topic, whose data no table's
/// permission guards.
pub const TOPIC_FUNCTION: &str = "kafka_topic";

/// Refuses a statement that names a table function reading data outside cuvee's tables
/// (a topic) unless `principal` may read every table. Checked on the parsed statement,
/// before planning, because such a function reads while the statement is planned.
pub fn authorize_statement(statement: &Statement, principal: &Principal) -> Result<(), QueryError> {
    if principal.reads_everything() {
        return Ok(());
    }
    // A statement whose names cannot be resolved fails in planning, before any function runs.
    let Ok((relations, _)) = resolve_table_references(statement, false) else { return Ok(()) };
    match relations.iter().find(|r| r.table().eq_ignore_ascii_case(TOPIC_FUNCTION)) {
        None => Ok(()),
        Some(_) => Err(QueryError::Access(cuvee_access::AccessError::Denied {
            user: principal.name().to_string(),
            permission: "READ",
            table: format!("{TOPIC_FUNCTION}(…) (topic data: callers who may read every table)"),
        })),
    }
}

/// Refuses `plan` unless `principal` may read every table it scans.
pub fn authorize(plan: &LogicalPlan, principal: &Principal) -> Result<(), QueryError> {
    if principal.reads_everything() {
        return Ok(());
    }
    for table in scanned_tables(plan) {
        principal.check(Permission::Read, &table)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use cuvee_access::TableScope;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;
    use std::sync::Arc;

    #[tokio::test]
    async fn every_scan_counts_subqueries_included() {
        let ctx =
            SessionContext::new_with_config(datafusion::prelude::SessionConfig::new().with_information_schema(true));
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
        for name in ["open", "secret"] {
            let table = MemTable::try_new(Arc::clone(&schema), vec![vec![]]).unwrap();
            ctx.register_table(name, Arc::new(table)).unwrap();
        }
        let reader = Principal::new("r", TableScope::Only(["open".to_string()].into()), [Permission::Read]);
        let plan = |sql: &'static str| {
            let ctx = ctx.clone();
            async move { ctx.state().create_logical_plan(sql).await.unwrap() }
        };
        assert!(authorize(&plan("SELECT x FROM open").await, &reader).is_ok());
        assert!(authorize(&plan("SELECT table_name FROM information_schema.tables").await, &reader).is_ok());
        for sql in [
            "SELECT x FROM secret",
            "SELECT o.x FROM open o JOIN secret s ON o.x = s.x",
            "SELECT x FROM open WHERE x IN (SELECT x FROM secret)",
            "SELECT x FROM open WHERE EXISTS (SELECT 1 FROM secret WHERE secret.x = open.x)",
            "SELECT (SELECT max(x) FROM secret)",
            "WITH s AS (SELECT x FROM secret) SELECT x FROM s",
            "SELECT x FROM open UNION ALL SELECT x FROM secret",
        ] {
            let error = authorize(&plan(sql).await, &reader).unwrap_err().to_string();
            assert!(error.contains("lacks READ on table \"secret\""), "{sql}: {error}");
        }
    }

    #[test]
    fn topic_functions_are_for_callers_who_read_everything() {
        let statement = |sql: &str| {
            let state = SessionContext::new().state();
            state.sql_to_statement(sql, &state.config().options().sql_parser.dialect).expect("parses")
        };
        let reader = Principal::new("r", TableScope::Only(["open".to_string()].into()), [Permission::Read]);
        let admin = Principal::new("a", TableScope::All, [Permission::Read]);
        for sql in [
            "SELECT * FROM kafka_topic('orders')",
            "SELECT * FROM open WHERE x IN (SELECT __offset FROM KAFKA_TOPIC('orders', 10))",
            "WITH t AS (SELECT * FROM kafka_topic('orders')) SELECT * FROM t",
        ] {
            let error = authorize_statement(&statement(sql), &reader).expect_err("refused").to_string();
            assert!(error.contains("kafka_topic"), "{sql}: {error}");
            assert!(authorize_statement(&statement(sql), &admin).is_ok(), "{sql}");
        }
        assert!(authorize_statement(&statement("SELECT x FROM open"), &reader).is_ok());
    }
}
