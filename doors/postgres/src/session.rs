//! The DataFusion session behind the door: cuvee's engine setup (pushdown rules, Pinot's
//! functions, identifiers that keep their case) over the broker's live table schema, plus
//! the Postgres catalog tools read (`pg_catalog`, `information_schema`) and Postgres'
//! functions.
//!
//! One session serves every connection (what a connection sets lives in its own
//! metadata). Tables are not copied: the `public` schema *is* the broker's, so a table
//! created through the controller API is visible here at once, and `pg_catalog` is derived
//! from it on each read.

use crate::settings::{version_udf, CurrentSetting};
use cuvee_broker::QueryService;
use datafusion::catalog::SchemaProvider;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::setup_pg_catalog;
use std::sync::Arc;

/// The database name clients see (`current_database()`, `pg_database`).
pub const DATABASE: &str = "cuvee";
pub const SCHEMA: &str = "public";

/// A session over the broker's tables, distributing plans as the broker does; its queries
/// share one memory pool of the broker's `memory_bytes`, inside the process's budget.
pub fn postgres_session(
    tables: Arc<dyn SchemaProvider>,
    service: &QueryService,
) -> Result<SessionContext, DataFusionError> {
    let limits = service.limits();
    let config = SessionConfig::new()
        .with_default_catalog_and_schema(DATABASE, SCHEMA)
        .with_create_default_catalog_and_schema(true);
    let pool = service.memory_budget().pool(limits.memory_bytes);
    let runtime = RuntimeEnvBuilder::new().with_memory_pool(pool).build_arc()?;
    let state = service.session_state(config).with_runtime_env(runtime).build();
    let mut ctx = SessionContext::new_with_state(state);
    cuvee_query::register_functions(&ctx);
    for (name, function) in service.table_functions() {
        ctx.register_udtf(&name, function);
    }
    let catalog = ctx
        .catalog(DATABASE)
        .ok_or_else(|| DataFusionError::Internal(format!("the session has no catalog {DATABASE}")))?;
    catalog.register_schema(SCHEMA, tables)?;
    setup_pg_catalog(&ctx, DATABASE, EmptyContextProvider).map_err(|e| *e)?;
    datafusion_postgres::datafusion_pg_functions::register_all(&mut ctx);
    crate::catalog_functions::register(&ctx);
    ctx.add_analyzer_rule(Arc::new(crate::like_escape::LikeEscapes));
    ctx.register_udf(version_udf());
    ctx.register_udf(CurrentSetting::udf());
    Ok(ctx)
}
