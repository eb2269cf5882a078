//! # cuvee-query
//!
//! Answers: *what is the result of this SQL?* — DataFusion over cuvee segments. A
//! [`SegmentTable`] is a `TableProvider` over a table's sealed segments and snapshots of its
//! consuming ones; filters are translated into the segments' predicate IR ([`pushdown`]) and
//! answered through their indexes by [`SegmentScanExec`], which decodes only the projected
//! columns of matching docs.
//!
//! Does not answer yet (the rest of the SQL issue): Pinot's SQL dialect (SET options, default
//! LIMIT, result naming, Pinot functions, multi-value semantics), index-only aggregations
//! beyond `COUNT(*)` from row counts, the plan-fragment codec, and the HTTP API.

pub mod codec;
pub mod multi_value;
pub mod pinot_scalars;
pub mod pushdown;
pub mod scan;
pub mod table;

pub use scan::{ScanRequest, ScanSource, SegmentScanExec};
pub use table::{arrow_schema, ScanOptions, SegmentTable};

use datafusion::execution::SessionStateBuilder;
use datafusion::optimizer::{Analyzer, AnalyzerRule};
use datafusion::prelude::{SessionConfig, SessionContext};
use std::sync::Arc;

/// A DataFusion session configured for cuvee: identifiers keep their case, as in Pinot
/// (`teamID` is the column `teamID`, not `teamid`), so Pinot queries run unquoted.
///
/// Pinot's multi-value predicates are rewritten before type coercion (see [`multi_value`]).
pub fn session() -> SessionContext {
    let mut config = SessionConfig::new().with_information_schema(true);
    config.options_mut().sql_parser.enable_ident_normalization = false;
    let mut analyzer_rules: Vec<Arc<dyn AnalyzerRule + Send + Sync>> = vec![Arc::new(multi_value::MultiValuePredicates)];
    analyzer_rules.extend(Analyzer::new().rules);
    let state = SessionStateBuilder::new().with_config(config).with_default_features().with_analyzer_rules(analyzer_rules).build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_udf(multi_value::mv_any_udf().as_ref().clone());
    pinot_scalars::register(&ctx);
    ctx
}

/// Registers a table under its own name, case preserved.
pub fn register(ctx: &SessionContext, table: Arc<SegmentTable>) -> datafusion::common::Result<()> {
    let name = datafusion::common::TableReference::bare(table.table().name().to_string());
    ctx.register_table(name, table).map(|_| ())
}
