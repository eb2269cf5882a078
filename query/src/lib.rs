//! # cuvee-query
//!
//! Answers: *what is the result of this SQL?* — DataFusion over cuvee segments. A
//! [`SegmentTable`] is a `TableProvider` over a table's sealed segments and snapshots of its
//! consuming ones; filters are translated into the segments' predicate IR ([`pushdown`]) and
//! answered through their indexes by [`SegmentScanExec`], which decodes only the projected
//! columns of matching docs.
//!
//! Also here, because every door needs them: Pinot's multi-value predicate semantics
//! ([`multi_value`]), Pinot's scalar functions ([`pinot_scalars`]), exact distinct counts
//! and percentiles whose states merge without hashing ([`distinct_count`], [`percentile`]),
//! exact statistics from
//! segment metadata (`COUNT(*)`, `MIN`, `MAX` without a scan), the plan-fragment codec
//! for the cluster ([`codec`]), segments held elsewhere ([`remote`]), running a fragment
//! where its segments are ([`fragment`]) and plans kept across queries ([`plan_cache`]).
//!
//! The process's tables live in [`Tables`], which every door's session reads as its default
//! schema and which fragments resolve against.
//!
//! Does not answer: Pinot's dialect, names and response format (`cuvee-broker`), nor where
//! tables come from (`cuvee-node`).

pub mod access;
pub mod codec;
pub mod complexity;
pub mod distinct_count;
pub mod error;
mod filter_rules;
pub mod fragment;
pub mod multi_value;
pub mod percentile;
pub mod pinot_scalars;
pub mod plan_cache;
pub mod pushdown;
pub mod remote;
pub mod scan;
mod scan_statistics;
pub mod segment_aggregate;
pub mod table;
mod tables;
pub mod timestamps;

pub use access::{authorize, authorize_statement, scanned_tables, TOPIC_FUNCTION};
pub use complexity::check_complexity;
pub use error::{kind_of, read_only, QueryError};
pub use fragment::FragmentStats;
pub use plan_cache::{PlanCache, PlanCacheStats};
pub use remote::{RemoteKind, RemoteSegment};
pub use scan::{ScanRequest, ScanSource, SegmentScanExec};
pub use table::{arrow_schema, ConsumingListing, Listing, ScanOptions, SegmentTable, UnavailableSegment};
pub use tables::Tables;

use datafusion::execution::SessionStateBuilder;
use datafusion::optimizer::{Analyzer, AnalyzerRule};
use datafusion::prelude::{SessionConfig, SessionContext};
use std::sync::Arc;

/// A DataFusion session configured for cuvee: identifiers keep their case, as in Pinot
/// (`teamID` is the column `teamID`, not `teamid`), so Pinot queries run unquoted.
///
/// Pinot's multi-value predicates and number-vs-TIMESTAMP comparisons are rewritten before
/// type coercion (see [`multi_value`], [`timestamps`]).
pub fn session() -> SessionContext {
    let ctx = SessionContext::new_with_state(session_state(SessionConfig::new()).build());
    register_functions(&ctx);
    ctx
}

/// The session state every door starts from: `config` with the information schema on,
/// identifiers keeping their case, and Pinot's analyzer rules ahead of DataFusion's. A
/// door adds its own runtime (memory pool) and catalog, then [`register_functions`].
pub fn session_state(config: SessionConfig) -> SessionStateBuilder {
    let mut config = config.with_information_schema(true);
    config.options_mut().sql_parser.enable_ident_normalization = false;
    let mut analyzer_rules: Vec<Arc<dyn AnalyzerRule + Send + Sync>> = vec![
        Arc::new(multi_value::MultiValuePredicates),
        Arc::new(timestamps::TimestampComparisons),
        Arc::new(distinct_count::ExactDistinctCounts),
    ];
    analyzer_rules.extend(Analyzer::new().rules);
    SessionStateBuilder::new().with_config(config).with_default_features().with_analyzer_rules(analyzer_rules)
}

/// cuvee's functions: the multi-value predicate helper, Pinot's scalars, its exact
/// percentile and distinct count.
pub fn register_functions(ctx: &SessionContext) {
    ctx.register_udf(multi_value::mv_any_udf().as_ref().clone());
    ctx.register_udaf(percentile::udaf());
    ctx.register_udaf(distinct_count::udaf());
    pinot_scalars::register(ctx);
}

/// Registers a table under its own name, case preserved (a session of its own, as tests
/// make; a process's doors read [`Tables`] instead, see [`use_tables`]).
pub fn register(ctx: &SessionContext, table: Arc<SegmentTable>) -> datafusion::common::Result<()> {
    let name = datafusion::common::TableReference::bare(table.table().name().to_string());
    ctx.register_table(name, table).map(|_| ())
}

/// Makes `schema` (a [`Tables`], or a view of it) the session's default schema, so tables
/// are found there by their bare names.
pub fn use_tables(
    ctx: &SessionContext,
    schema: Arc<dyn datafusion::catalog::SchemaProvider>,
) -> datafusion::common::Result<()> {
    let config = ctx.copied_config();
    let defaults = &config.options().catalog;
    let Some(catalog) = ctx.catalog(&defaults.default_catalog) else {
        return datafusion::common::plan_err!("the session has no catalog {}", defaults.default_catalog);
    };
    catalog.register_schema(&defaults.default_schema, schema)?;
    Ok(())
}
