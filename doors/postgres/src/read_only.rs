//! The door reads. Every statement that is not a query, an `EXPLAIN` of one, or a session
//! statement tools send (`SET`, `SHOW`, transactions, cursors, `DISCARD`, `DEALLOCATE`) is
//! refused before it is planned, with SQLSTATE 42501 naming the statement: tables are made,
//! changed and dropped through the controller API, with its permissions, never by SQL.
//! An allow-list, so a statement DataFusion learns to run later is refused until it is
//! added here on purpose.

use crate::errors::{error, INSUFFICIENT_PRIVILEGE};
use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::hooks::{HookClient, QueryHook};
use datafusion_postgres::pgwire::api::results::Response;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};

pub struct ReadOnly;

/// Whether the door runs this statement at all.
pub fn allowed(statement: &Statement) -> bool {
    match statement {
        Statement::Query(_)
        | Statement::Set(_)
        | Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Savepoint { .. }
        | Statement::ReleaseSavepoint { .. }
        | Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Discard { .. }
        | Statement::Deallocate { .. } => true,
        Statement::Explain { statement, .. } => matches!(statement.as_ref(), Statement::Query(_)),
        _ => false,
    }
}

fn refusal(statement: &Statement) -> PgWireError {
    let text = statement.to_string();
    let head: String = text.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    error(
        INSUFFICIENT_PRIVILEGE,
        format!(
            "cuvee's SQL doors are read-only: \"{head} …\" is refused; tables are created, changed and dropped through the controller API"
        ),
    )
}

#[async_trait]
impl QueryHook for ReadOnly {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        (!allowed(statement)).then(|| Err(refusal(statement)))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        (!allowed(statement)).then(|| Err(refusal(statement)))
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        (!allowed(statement)).then(|| Err(refusal(statement)))
    }
}
