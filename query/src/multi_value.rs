//! Pinot's multi-value predicates: `tags = 'x'`, `tags > 3`, `tags IN (…)`, `tags BETWEEN …`
//! match a row when *any* of its values does; `tags <> 'x'` and `NOT IN` match when *none*
//! does. Standard SQL has no such comparisons between a list and a scalar, so an analyzer
//! rule — run before DataFusion's type coercion, which would reject them — rewrites each into
//! `pinot_mv_any(column, 'op', literals…)` (negated for `<>` / `NOT IN` / `NOT BETWEEN`).
//! The segment scan answers that call exactly through the column's indexes (see
//! `pushdown`); the function's own implementation below is the same semantics row by row,
//! for when the filter is not pushed down.
//!
//! Only filters (`WHERE`, `HAVING`) are rewritten; a multi-value comparison in a select
//! list is still an error, as it is in Pinot's single-stage engine.

use crate::filter_rules::rewrite_filters;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, Datum, Scalar};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::{boolean, cmp};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{exec_err, plan_err, DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    BinaryExpr, ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use std::sync::Arc;

pub const MV_ANY: &str = "pinot_mv_any";

/// The comparison a `pinot_mv_any` call makes with each value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MvOp {
    Eq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    Between,
    In,
}

impl MvOp {
    pub fn name(self) -> &'static str {
        match self {
            MvOp::Eq => "=",
            MvOp::Lt => "<",
            MvOp::LtEq => "<=",
            MvOp::Gt => ">",
            MvOp::GtEq => ">=",
            MvOp::Between => "between",
            MvOp::In => "in",
        }
    }

    pub fn parse(name: &str) -> Option<MvOp> {
        [MvOp::Eq, MvOp::Lt, MvOp::LtEq, MvOp::Gt, MvOp::GtEq, MvOp::Between, MvOp::In]
            .into_iter()
            .find(|op| op.name() == name)
    }
}

/// A `pinot_mv_any` call taken apart: the column expression, the operator, the literals.
pub fn as_mv_any(expr: &Expr) -> Option<(&Expr, MvOp, &[Expr])> {
    let Expr::ScalarFunction(call) = expr else { return None };
    if call.func.name() != MV_ANY || call.args.len() < 3 {
        return None;
    }
    let Expr::Literal(ScalarValue::Utf8(Some(op)), _) = &call.args[1] else { return None };
    Some((&call.args[0], MvOp::parse(op)?, &call.args[2..]))
}

pub fn mv_any_udf() -> Arc<ScalarUDF> {
    Arc::new(ScalarUDF::new_from_impl(MvAny { signature: Signature::variadic_any(Volatility::Immutable) }))
}

fn call(column: Expr, op: MvOp, values: Vec<Expr>) -> Expr {
    let mut args = vec![column, Expr::Literal(ScalarValue::Utf8(Some(op.name().to_string())), None)];
    args.extend(values);
    Expr::ScalarFunction(ScalarFunction::new_udf(mv_any_udf(), args))
}

/// Rewrites multi-value comparisons in filters into `pinot_mv_any` calls.
#[derive(Debug, Default)]
pub struct MultiValuePredicates;

impl AnalyzerRule for MultiValuePredicates {
    fn name(&self) -> &str {
        "pinot_multi_value_predicates"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_filters(plan, rewrite)
    }
}

fn is_list_column(expr: &Expr, schema: &DFSchema) -> bool {
    matches!(expr, Expr::Column(_)) && matches!(expr.get_type(schema), Ok(DataType::List(_) | DataType::LargeList(_)))
}

fn rewrite(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let rewritten = match &expr {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (column, value, op) = match (is_list_column(left, schema), is_list_column(right, schema)) {
                (true, false) => (left.as_ref(), right.as_ref(), *op),
                (false, true) => match op.swap() {
                    Some(swapped) => (right.as_ref(), left.as_ref(), swapped),
                    None => return Ok(Transformed::no(expr)),
                },
                _ => return Ok(Transformed::no(expr)),
            };
            let (mv_op, negated) = match op {
                Operator::Eq => (MvOp::Eq, false),
                Operator::NotEq => (MvOp::Eq, true),
                Operator::Lt => (MvOp::Lt, false),
                Operator::LtEq => (MvOp::LtEq, false),
                Operator::Gt => (MvOp::Gt, false),
                Operator::GtEq => (MvOp::GtEq, false),
                _ => return Ok(Transformed::no(expr)),
            };
            negate_if(call(column.clone(), mv_op, vec![value.clone()]), negated)
        }
        Expr::InList(list) if is_list_column(&list.expr, schema) => {
            negate_if(call(list.expr.as_ref().clone(), MvOp::In, list.list.clone()), list.negated)
        }
        Expr::Between(b) if is_list_column(&b.expr, schema) => negate_if(
            call(b.expr.as_ref().clone(), MvOp::Between, vec![b.low.as_ref().clone(), b.high.as_ref().clone()]),
            b.negated,
        ),
        _ => return Ok(Transformed::no(expr)),
    };
    Ok(Transformed::yes(rewritten))
}

fn negate_if(expr: Expr, negated: bool) -> Expr {
    if negated {
        Expr::Not(Box::new(expr))
    } else {
        expr
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MvAny {
    signature: Signature,
}

impl ScalarUDFImpl for MvAny {
    fn name(&self) -> &str {
        MV_ANY
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        if arg_types.len() < 3 || !matches!(arg_types[0], DataType::List(_)) {
            return plan_err!("{MV_ANY} takes a multi-value column, an operator and values");
        }
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let list = args.args[0].clone().into_array(rows)?;
        let Some(list) = list.as_list_opt::<i32>() else {
            return exec_err!("{MV_ANY}: the first argument is not a list");
        };
        let ColumnarValue::Scalar(ScalarValue::Utf8(Some(op))) = &args.args[1] else {
            return exec_err!("{MV_ANY}: the operator is not a string");
        };
        let Some(op) = MvOp::parse(op) else { return exec_err!("{MV_ANY}: unknown operator {op}") };
        let mut scalars = Vec::new();
        for value in &args.args[2..] {
            let ColumnarValue::Scalar(s) = value else { return exec_err!("{MV_ANY}: values must be literals") };
            scalars.push(s.clone());
        }
        let per_value = per_value_matches(list.values(), op, &scalars)?;
        let offsets = list.value_offsets();
        let mut out = BooleanBuilder::with_capacity(rows);
        for row in 0..list.len() {
            if list.is_null(row) {
                out.append_null();
                continue;
            }
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            out.append_value((start..end).any(|i| per_value.is_valid(i) && per_value.value(i)));
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// Whether each flattened value satisfies `op` with the literals.
fn per_value_matches(values: &ArrayRef, op: MvOp, literals: &[ScalarValue]) -> Result<BooleanArray> {
    let compare = |kernel: fn(
        &dyn Datum,
        &dyn Datum,
    ) -> std::result::Result<BooleanArray, datafusion::arrow::error::ArrowError>,
                   literal: &ScalarValue|
     -> Result<BooleanArray> {
        let (values, literal) = common_type(values, literal)?;
        Ok(kernel(&values, &Scalar::new(literal))?)
    };
    Ok(match op {
        MvOp::Eq => compare(cmp::eq, &literals[0])?,
        MvOp::Lt => compare(cmp::lt, &literals[0])?,
        MvOp::LtEq => compare(cmp::lt_eq, &literals[0])?,
        MvOp::Gt => compare(cmp::gt, &literals[0])?,
        MvOp::GtEq => compare(cmp::gt_eq, &literals[0])?,
        MvOp::Between => {
            let Some(high) = literals.get(1) else { return exec_err!("{MV_ANY}: between needs two values") };
            boolean::and(&compare(cmp::gt_eq, &literals[0])?, &compare(cmp::lt_eq, high)?)?
        }
        MvOp::In => {
            let mut any = BooleanArray::from(vec![false; values.len()]);
            for literal in literals {
                any = boolean::or(&any, &compare(cmp::eq, literal)?)?;
            }
            any
        }
    })
}

/// The values and a literal in one type: the literal cast to the values' type when that
/// loses nothing, else the values cast to the literal's (`int_values > 1.5`).
fn common_type(values: &ArrayRef, literal: &ScalarValue) -> Result<(ArrayRef, ArrayRef)> {
    let target = values.data_type();
    if let Ok(cast_literal) = literal.cast_to(target) {
        if cast_literal.cast_to(&literal.data_type()).is_ok_and(|back| &back == literal) {
            return Ok((Arc::clone(values), cast_literal.to_array()?));
        }
    }
    let literal = literal.to_array()?;
    Ok((cast(values, literal.data_type())?, literal))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::ListArray;
    use datafusion::arrow::datatypes::{Field, Int32Type};
    use datafusion::logical_expr::{col, lit};

    fn run(op: MvOp, literals: Vec<ScalarValue>) -> Vec<Option<bool>> {
        let list = ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), Some(5)]),
            Some(vec![Some(7)]),
            None,
            Some(vec![]),
        ]);
        let mut args = vec![
            ColumnarValue::Array(Arc::new(list)),
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(op.name().into()))),
        ];
        args.extend(literals.into_iter().map(ColumnarValue::Scalar));
        let arg_fields = args.iter().map(|a| Arc::new(Field::new("a", a.data_type(), true))).collect();
        let udf = MvAny { signature: Signature::variadic_any(Volatility::Immutable) };
        let out = udf
            .invoke_with_args(ScalarFunctionArgs {
                args,
                arg_fields,
                number_rows: 4,
                return_field: Arc::new(Field::new("r", DataType::Boolean, true)),
                config_options: Arc::new(ConfigOptions::default()),
            })
            .unwrap()
            .into_array(4)
            .unwrap();
        out.as_boolean().iter().collect()
    }

    #[test]
    fn any_value_semantics_row_by_row() {
        assert_eq!(run(MvOp::Eq, vec![ScalarValue::Int64(Some(5))]), vec![Some(true), Some(false), None, Some(false)]);
        assert_eq!(
            run(MvOp::Gt, vec![ScalarValue::Float64(Some(4.5))]),
            vec![Some(true), Some(true), None, Some(false)]
        );
        assert_eq!(
            run(MvOp::Between, vec![ScalarValue::Int32(Some(2)), ScalarValue::Int32(Some(6))]),
            vec![Some(true), Some(false), None, Some(false)]
        );
        assert_eq!(
            run(MvOp::In, vec![ScalarValue::Int32(Some(7)), ScalarValue::Int32(Some(9))]),
            vec![Some(false), Some(true), None, Some(false)]
        );
    }

    #[test]
    fn rewrites_comparisons_on_list_columns_only() {
        let schema = DFSchema::try_from(datafusion::arrow::datatypes::Schema::new(vec![
            Field::new("tags", DataType::List(Arc::new(Field::new("item", DataType::Utf8, false))), true),
            Field::new("s", DataType::Utf8, true),
        ]))
        .unwrap();
        let rewritten = rewrite(col("tags").not_eq(lit("a")), &schema).unwrap();
        assert!(rewritten.transformed);
        let Expr::Not(inner) = rewritten.data else { panic!("<> on a multi-value column is NOT any-equal") };
        assert!(matches!(as_mv_any(&inner), Some((_, MvOp::Eq, [_]))));
        assert!(!rewrite(col("s").eq(lit("a")), &schema).unwrap().transformed);
        let flipped = rewrite(lit("a").lt(col("tags")), &schema).unwrap().data;
        assert!(matches!(as_mv_any(&flipped), Some((_, MvOp::Gt, [_]))), "'a' < tags is tags > 'a': {flipped}");
    }
}
