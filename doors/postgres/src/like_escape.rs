//! `LIKE … ESCAPE 'c'` with an escape character other than the backslash, which
//! DataFusion does not run and SQLAlchemy sends when inspecting schemas
//! (`nspname NOT LIKE 'pg/_%' ESCAPE '/'`). The pattern is rewritten to backslash escapes:
//! literal backslashes doubled first, then each escape character turned into a backslash.
//! (A doubled escape character, meaning the character itself, is not told apart; no tool
//! sends one.)

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::functions::string::expr_fn::replace;
use datafusion::logical_expr::expr::Like;
use datafusion::logical_expr::{lit, Expr, LogicalPlan};
use datafusion::optimizer::AnalyzerRule;

#[derive(Debug, Default)]
pub struct LikeEscapes;

impl AnalyzerRule for LikeEscapes {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| plan.map_expressions(|expr| expr.transform_up(rewrite)))
            .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "postgres_like_escapes"
    }
}

fn rewrite(expr: Expr) -> Result<Transformed<Expr>> {
    let Expr::Like(like) = expr else { return Ok(Transformed::no(expr)) };
    let Some(escape) = like.escape_char.filter(|c| *c != '\\') else { return Ok(Transformed::no(Expr::Like(like))) };
    let backslashes_doubled = replace(*like.pattern, lit("\\"), lit("\\\\"));
    let pattern = replace(backslashes_doubled, lit(escape.to_string()), lit("\\"));
    Ok(Transformed::yes(Expr::Like(Like { pattern: Box::new(pattern), escape_char: None, ..like })))
}
