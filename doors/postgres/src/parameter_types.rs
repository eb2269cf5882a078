//! Parameters whose type only the client knows. In `SELECT $1` or `coalesce($1, x)` nothing
//! in the plan gives `$1` a type, and datafusion-postgres then reads the bound value as text
//! — wrong for a value the client sent in binary (a float8 would arrive as eight bytes of
//! "text"). Postgres uses the type the client declared at Parse; so does the door: such a
//! placeholder is rewritten to `CAST($n AS <declared type>)`, which types it in the plan;
//! one the client left undeclared becomes text, as Postgres resolves `unknown`.

use crate::sql_shape::{parse, parse_expr, placeholder_name, to_sql};
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::ast::{visit_expressions_mut, Expr};
use datafusion_postgres::pgwire::api::Type;
use std::collections::HashMap;
use std::ops::ControlFlow;

/// The SQL type to cast to for a declared wire type, for the types cuvee decodes.
fn sql_type(declared: &Type) -> Option<&'static str> {
    Some(match *declared {
        Type::BOOL => "BOOLEAN",
        Type::INT2 => "SMALLINT",
        Type::INT4 => "INT",
        Type::INT8 => "BIGINT",
        Type::FLOAT4 => "REAL",
        Type::FLOAT8 => "DOUBLE",
        Type::NUMERIC => "DECIMAL(38, 10)",
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => "VARCHAR",
        Type::DATE => "DATE",
        Type::TIMESTAMP => "TIMESTAMP",
        Type::BYTEA => "BYTEA",
        _ => return None,
    })
}

/// `sql` with each placeholder the plan leaves untyped cast to the client's declared type;
/// `None` when there is nothing to do.
pub fn typed_by_client(sql: &str, plan: &LogicalPlan, declared: &[Option<Type>]) -> Option<String> {
    let inferred = plan.get_parameter_types().ok()?;
    let casts: HashMap<String, &'static str> = declared
        .iter()
        .enumerate()
        .filter_map(|(i, declared)| {
            let name = format!("${}", i + 1);
            let untyped = matches!(inferred.get(&name), Some(None));
            // Undeclared (or declared `unknown`) resolves to text, as Postgres resolves unknowns.
            let target = match declared {
                None => "VARCHAR",
                Some(t) if *t == Type::UNKNOWN => "VARCHAR",
                Some(t) => sql_type(t)?,
            };
            untyped.then_some((name, target))
        })
        .collect();
    if casts.is_empty() {
        return None;
    }
    let mut statements = parse(sql)?;
    // A placeholder the statement casts itself (`$1::regclass`) is typed by that cast, and
    // datafusion-pg-catalog rewrites some such casts by their shape: leave those alone.
    let mut cast_by_statement = std::collections::HashSet::new();
    let _ = datafusion::sql::sqlparser::ast::visit_expressions(&statements, |expr| {
        if let Expr::Cast { expr: operand, .. } = expr {
            cast_by_statement.extend(placeholder_name(operand).cloned());
        }
        ControlFlow::<()>::Continue(())
    });
    let casts: HashMap<String, &'static str> =
        casts.into_iter().filter(|(name, _)| !cast_by_statement.contains(name)).collect();
    if casts.is_empty() {
        return None;
    }
    let _ = visit_expressions_mut(&mut statements, |expr| {
        let cast = placeholder_name(expr)
            .and_then(|name| Some((name, casts.get(name)?)))
            .and_then(|(name, target)| parse_expr(&format!("CAST({name} AS {target})")));
        if let Some(cast) = cast {
            *expr = cast;
        }
        ControlFlow::<()>::Continue(())
    });
    Some(to_sql(&statements))
}
