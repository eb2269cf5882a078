//! Pinot stores TIMESTAMP as epoch milliseconds and lets a query compare it with a number
//! (`WHERE ts > 1678861800000`, `WHERE ts = long_col`). SQL has no such comparison and
//! DataFusion's type coercion rejects it, so an analyzer rule placed before type coercion
//! casts the integer side to `TIMESTAMP` in milliseconds (Arrow's integer-to-timestamp cast
//! keeps the number as the count of the target unit). Only filters are rewritten.

use crate::filter_rules::rewrite_filters;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Between, InList};
use datafusion::logical_expr::{cast, BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;

#[derive(Debug, Default)]
pub struct TimestampComparisons;

impl AnalyzerRule for TimestampComparisons {
    fn name(&self) -> &str {
        "pinot_timestamp_comparisons"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_filters(plan, rewrite)
    }
}

fn is_timestamp(expr: &Expr, schema: &DFSchema) -> bool {
    matches!(expr.get_type(schema), Ok(DataType::Timestamp(_, _)))
}

fn is_integer(expr: &Expr, schema: &DFSchema) -> bool {
    expr.get_type(schema).is_ok_and(|t| t.is_integer())
}

fn as_millis(expr: Expr) -> Expr {
    cast(expr, DataType::Timestamp(TimeUnit::Millisecond, None))
}

fn rewrite(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    Ok(match expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right })
            if matches!(
                op,
                Operator::Eq | Operator::NotEq | Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq
            ) =>
        {
            match (
                is_timestamp(&left, schema) && is_integer(&right, schema),
                is_integer(&left, schema) && is_timestamp(&right, schema),
            ) {
                (true, _) => {
                    Transformed::yes(Expr::BinaryExpr(BinaryExpr { left, op, right: Box::new(as_millis(*right)) }))
                }
                (_, true) => {
                    Transformed::yes(Expr::BinaryExpr(BinaryExpr { left: Box::new(as_millis(*left)), op, right }))
                }
                _ => Transformed::no(Expr::BinaryExpr(BinaryExpr { left, op, right })),
            }
        }
        Expr::Between(b)
            if is_timestamp(&b.expr, schema) && (is_integer(&b.low, schema) || is_integer(&b.high, schema)) =>
        {
            let fix = |e: Box<Expr>| if is_integer(&e, schema) { Box::new(as_millis(*e)) } else { e };
            Transformed::yes(Expr::Between(Between {
                expr: b.expr,
                negated: b.negated,
                low: fix(b.low),
                high: fix(b.high),
            }))
        }
        Expr::InList(list) if is_timestamp(&list.expr, schema) && list.list.iter().any(|e| is_integer(e, schema)) => {
            let items = list.list.into_iter().map(|e| if is_integer(&e, schema) { as_millis(e) } else { e }).collect();
            Transformed::yes(Expr::InList(InList { expr: list.expr, list: items, negated: list.negated }))
        }
        other => Transformed::no(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::Field;
    use datafusion::logical_expr::{col, lit};

    #[test]
    fn integers_compared_with_timestamps_become_milliseconds() {
        let schema = DFSchema::try_from(datafusion::arrow::datatypes::Schema::new(vec![
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), true),
            Field::new("n", DataType::Int64, true),
        ]))
        .unwrap();
        let rewritten = rewrite(col("ts").gt(lit(1_678_861_800_000i64)), &schema).unwrap();
        assert!(rewritten.transformed);
        assert_eq!(rewritten.data, col("ts").gt(as_millis(lit(1_678_861_800_000i64))));
        assert!(rewrite(col("n").eq(col("ts")), &schema).unwrap().transformed);
        assert!(rewrite(col("ts").between(lit(1i64), lit(2i64)), &schema).unwrap().transformed);
        assert!(!rewrite(col("n").eq(lit(3i64)), &schema).unwrap().transformed);
    }
}
