//! Who may read what: every statement needs READ on each cuvee table it names (through
//! subqueries, CTEs, cursors and `EXPLAIN`), checked on the parsed statement before it is
//! planned, for the user the connection logged in as. The Postgres catalog
//! (`pg_catalog`, `information_schema`) stays readable, as in Postgres.

use crate::errors::{error, INSUFFICIENT_PRIVILEGE, INVALID_AUTHORIZATION};
use async_trait::async_trait;
use cuvee_access::{Access, Permission, Principal};
use cuvee_broker::QueryService;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::resolve::resolve_table_references;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire::api::results::Response;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::error::PgWireResult;
use std::sync::Arc;

pub struct Authorize {
    pub access: Access,
    pub service: Arc<QueryService>,
}

impl Authorize {
    /// The principal of the connection's login (checked by the startup handler).
    fn principal(&self, client: &(dyn ClientInfo + Send + Sync)) -> PgWireResult<Principal> {
        let user = client.metadata().get("user").map(String::as_str).unwrap_or_default();
        self.access
            .logged_in(user)
            .ok_or_else(|| error(INVALID_AUTHORIZATION, format!("no user \"{user}\" is configured")))
    }

    fn check(&self, statement: &Statement, client: &(dyn ClientInfo + Send + Sync)) -> PgWireResult<()> {
        if self.access.is_open() {
            return Ok(());
        }
        let principal = self.principal(client)?;
        let wrapped = DfStatement::Statement(Box::new(statement.clone()));
        if let Err(denied) = cuvee_query::authorize_statement(&wrapped, &principal) {
            return Err(error(INSUFFICIENT_PRIVILEGE, denied.to_string()));
        }
        // A statement whose names cannot be resolved fails later, in planning, as it would anyway.
        let Ok((tables, _ctes)) = resolve_table_references(&wrapped, false) else { return Ok(()) };
        for table in tables {
            let name = table.table();
            if matches!(table.schema(), Some("pg_catalog" | "information_schema")) {
                continue;
            }
            // Only cuvee's tables are guarded; a name that is none fails in planning.
            if self.service.segment_table(name).is_none() {
                continue;
            }
            if !principal.may(Permission::Read, name) {
                return Err(error(
                    INSUFFICIENT_PRIVILEGE,
                    format!("permission denied for table {name}: user \"{}\" may not READ it", principal.name()),
                ));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl QueryHook for Authorize {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.check(statement, &*client).err().map(Err)
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        self.check(statement, client).err().map(Err)
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.check(statement, &*client).err().map(Err)
    }
}
