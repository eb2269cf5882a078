//! The walk the Pinot analyzer rules share: every filter of a plan (subqueries included)
//! rewritten bottom-up by one expression rewrite that sees the filter's input schema. The
//! rules run before DataFusion's type coercion, which would reject the shapes they fix.

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::{Expr, LogicalPlan};
use std::sync::Arc;

pub fn rewrite_filters(
    plan: LogicalPlan,
    rewrite: impl Fn(Expr, &DFSchema) -> Result<Transformed<Expr>>,
) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        let LogicalPlan::Filter(mut filter) = node else { return Ok(Transformed::no(node)) };
        let schema = Arc::clone(filter.input.schema());
        let rewritten = filter.predicate.clone().transform_up(|e| rewrite(e, &schema))?;
        if !rewritten.transformed {
            return Ok(Transformed::no(LogicalPlan::Filter(filter)));
        }
        filter.predicate = rewritten.data;
        Ok(Transformed::yes(LogicalPlan::Filter(filter)))
    })
    .map(|t| t.data)
}
