//! Translating DataFusion filter expressions into the segments' predicate IR.
//!
//! A translation is *exact* only when the segment scan returns precisely the rows DataFusion
//! would keep; then DataFusion drops its own filter. Anything else is *inexact* (used to skip
//! rows and segments, and DataFusion filters again) or not translated at all. Exact shapes:
//! `col op literal` (either side) for `= <> < <= > >=`, `BETWEEN`, `IN`/`NOT IN` lists,
//! `IS [NOT] NULL`, `LIKE`/`NOT LIKE` (case-sensitive, `\` escape), boolean literals, and
//! `AND`/`OR`/`NOT` of exact parts. Inexact: a column under a cast (DataFusion's coercion
//! semantics may differ from the segment's exact literal coercion), BIG_DECIMAL columns
//! (compared numerically by segments, as text by DataFusion), literals that lose precision
//! when converted, and an `AND` with an untranslatable side (the other side still prunes).
//! Geospatial leaves are exact too: `ST_Distance(col, shape) < d` (or `<=`) and
//! `ST_Within(col, area) = 1` / `ST_Contains(area, col) = 1` on a BYTES column, with the
//! shape a literal (DataFusion folds `ST_Point(…)` into one), since the segments test each
//! value with the same function code the SQL function runs.

use crate::multi_value::{as_mv_any, MvOp};
use cuvee_catalog::{DataType, Table, Value};
use cuvee_segments::geo_filter::ShapeBytes;
use cuvee_segments::{CompareOp, Leaf, Predicate};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

/// A filter in the segments' terms, and whether the scan alone answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    pub predicate: Predicate,
    pub exact: bool,
}

pub fn translate(expr: &Expr, table: &Table) -> Option<Translation> {
    match expr {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) => {
            match (translate(left, table), translate(right, table)) {
                (Some(l), Some(r)) => Some(Translation {
                    predicate: Predicate::And(vec![l.predicate, r.predicate]),
                    exact: l.exact && r.exact,
                }),
                // One side alone still narrows the rows; DataFusion applies the whole filter.
                (Some(one), None) | (None, Some(one)) => Some(Translation { predicate: one.predicate, exact: false }),
                (None, None) => None,
            }
        }
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Or, right }) => {
            let (l, r) = (translate(left, table)?, translate(right, table)?);
            Some(Translation { predicate: Predicate::Or(vec![l.predicate, r.predicate]), exact: l.exact && r.exact })
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => comparison(left, *op, right, table),
        Expr::Not(inner) => {
            let t = translate(inner, table)?;
            Some(Translation { predicate: Predicate::Not(Box::new(t.predicate)), exact: t.exact })
        }
        Expr::Between(b) => {
            let (column, mut exact) = column_of(&b.expr, table)?;
            let (low, low_exact) = literal(&b.low, column.1)?;
            let (high, high_exact) = literal(&b.high, column.1)?;
            exact &= low_exact && high_exact;
            let leaf = Predicate::Leaf { column: column.0, leaf: Leaf::Between(low, high), negated: false };
            let predicate = if b.negated { Predicate::Not(Box::new(leaf)) } else { leaf };
            Some(Translation { predicate, exact })
        }
        Expr::InList(list) => {
            let (column, mut exact) = column_of(&list.expr, table)?;
            let mut values = Vec::with_capacity(list.list.len());
            for item in &list.list {
                let (v, e) = literal(item, column.1)?;
                exact &= e;
                values.push(v);
            }
            Some(Translation {
                predicate: Predicate::Leaf { column: column.0, leaf: Leaf::In(values), negated: list.negated },
                exact,
            })
        }
        Expr::IsNull(inner) | Expr::IsNotNull(inner) => {
            let (column, exact) = column_of(inner, table)?;
            Some(Translation {
                predicate: Predicate::IsNull { column: column.0, negated: matches!(expr, Expr::IsNotNull(_)) },
                exact,
            })
        }
        Expr::Like(like) => {
            let (column, exact) = column_of(&like.expr, table)?;
            let Expr::Literal(
                ScalarValue::Utf8(Some(pattern))
                | ScalarValue::LargeUtf8(Some(pattern))
                | ScalarValue::Utf8View(Some(pattern)),
                _,
            ) = like.pattern.as_ref()
            else {
                return None;
            };
            if like.case_insensitive || !matches!(like.escape_char, None | Some('\\')) || column.1 != DataType::String {
                return None;
            }
            Some(Translation {
                predicate: Predicate::Leaf {
                    column: column.0,
                    leaf: Leaf::Like(pattern.clone()),
                    negated: like.negated,
                },
                exact,
            })
        }
        Expr::Literal(ScalarValue::Boolean(Some(b)), _) => {
            Some(Translation { predicate: Predicate::Const(*b), exact: true })
        }
        Expr::ScalarFunction(_) => multi_value(expr, table),
        _ => None,
    }
}

/// `pinot_mv_any(column, op, values…)`: a leaf on a multi-value column, whose any-value
/// semantics are the segments' own.
fn multi_value(expr: &Expr, table: &Table) -> Option<Translation> {
    let (column, op, values) = as_mv_any(expr)?;
    let Expr::Column(column) = column else { return None };
    let spec = table.schema.column(&column.name)?;
    let mut exact = spec.data_type != DataType::BigDecimal;
    let mut literals = Vec::with_capacity(values.len());
    for value in values {
        let (v, e) = literal(value, spec.data_type)?;
        exact &= e;
        literals.push(v);
    }
    let leaf = match (op, literals.as_slice()) {
        (MvOp::Eq, [v]) => Leaf::Compare(CompareOp::Eq, v.clone()),
        (MvOp::Lt, [v]) => Leaf::Compare(CompareOp::Lt, v.clone()),
        (MvOp::LtEq, [v]) => Leaf::Compare(CompareOp::Le, v.clone()),
        (MvOp::Gt, [v]) => Leaf::Compare(CompareOp::Gt, v.clone()),
        (MvOp::GtEq, [v]) => Leaf::Compare(CompareOp::Ge, v.clone()),
        (MvOp::Between, [low, high]) => Leaf::Between(low.clone(), high.clone()),
        (MvOp::In, _) => Leaf::In(literals),
        _ => return None,
    };
    Some(Translation { predicate: Predicate::Leaf { column: spec.name.clone(), leaf, negated: false }, exact })
}

/// Top-level conjuncts with `col >= a` and `col <= b` on the same single-value column made
/// one `col BETWEEN a AND b`: DataFusion hands a `BETWEEN` over as those two conjuncts, and
/// one range leaf is evaluated once (a range index or a consuming segment's scan) instead
/// of twice and intersected. Multi-value columns keep both leaves: there each is "any
/// value", and two values may satisfy the two sides.
pub fn merge_ranges(conjuncts: Vec<Predicate>, table: &Table) -> Vec<Predicate> {
    let single_value = |column: &str| table.schema.column(column).is_some_and(|c| c.single_value);
    let mut out: Vec<Predicate> = Vec::with_capacity(conjuncts.len());
    for predicate in conjuncts {
        let Predicate::Leaf {
            column,
            leaf: Leaf::Compare(op @ (CompareOp::Ge | CompareOp::Le), value),
            negated: false,
        } = &predicate
        else {
            out.push(predicate);
            continue;
        };
        let partner = out.iter().position(|p| {
            matches!(p, Predicate::Leaf { column: c, leaf: Leaf::Compare(other, _), negated: false }
                if c == column && single_value(c) && matches!((op, other), (CompareOp::Ge, CompareOp::Le) | (CompareOp::Le, CompareOp::Ge)))
        });
        let Some(index) = partner else {
            out.push(predicate);
            continue;
        };
        let Predicate::Leaf { leaf: Leaf::Compare(_, other), .. } = &out[index] else { continue };
        let (low, high) =
            if *op == CompareOp::Ge { (value.clone(), other.clone()) } else { (other.clone(), value.clone()) };
        out[index] = Predicate::Leaf { column: column.clone(), leaf: Leaf::Between(low, high), negated: false };
    }
    out
}

fn comparison(left: &Expr, op: Operator, right: &Expr, table: &Table) -> Option<Translation> {
    if let Some(geo) = geospatial(left, op, right, table) {
        return Some(geo);
    }
    let compare = match op {
        Operator::Eq | Operator::NotEq => CompareOp::Eq,
        Operator::Lt => CompareOp::Lt,
        Operator::LtEq => CompareOp::Le,
        Operator::Gt => CompareOp::Gt,
        Operator::GtEq => CompareOp::Ge,
        _ => return None,
    };
    // Put the column on the left: `5 < col` is `col > 5`.
    let (column_side, literal_side, compare) = match (column_of(left, table), column_of(right, table)) {
        (Some(_), _) => (left, right, compare),
        (None, Some(_)) => (right, left, flip(compare)),
        (None, None) => return None,
    };
    let ((name, data_type), column_exact) = column_of(column_side, table)?;
    let (value, literal_exact) = literal(literal_side, data_type)?;
    let leaf = Predicate::Leaf { column: name, leaf: Leaf::Compare(compare, value), negated: op == Operator::NotEq };
    Some(Translation { predicate: leaf, exact: column_exact && literal_exact })
}

/// A geospatial function of a column and a literal shape, compared with a number.
fn geospatial(left: &Expr, op: Operator, right: &Expr, table: &Table) -> Option<Translation> {
    let (call, number, op) = match (left, right) {
        (Expr::ScalarFunction(call), Expr::Literal(n, _)) => (call, n, op),
        (Expr::Literal(n, _), Expr::ScalarFunction(call)) => (call, n, op.swap()?),
        _ => return None,
    };
    let number = match number {
        ScalarValue::Float64(Some(v)) => *v,
        ScalarValue::Float32(Some(v)) => f64::from(*v),
        ScalarValue::Int64(Some(v)) => *v as f64,
        ScalarValue::Int32(Some(v)) => f64::from(*v),
        _ => return None,
    };
    let leaf = match (call.func.name(), call.args.as_slice(), op) {
        ("st_distance" | "stdistance", [a, b], Operator::Lt | Operator::LtEq) => {
            let (column, of) = column_and_shape(a, b, table).or_else(|| column_and_shape(b, a, table))?;
            let leaf = Leaf::WithinDistance { of: ShapeBytes(of), distance: number, inclusive: op == Operator::LtEq };
            (column, leaf)
        }
        ("st_within" | "stwithin", [value, area], Operator::Eq) if number == 1.0 => {
            let (column, area) = column_and_shape(value, area, table)?;
            (column, Leaf::Within(ShapeBytes(area)))
        }
        ("st_contains" | "stcontains", [area, value], Operator::Eq) if number == 1.0 => {
            let (column, area) = column_and_shape(value, area, table)?;
            (column, Leaf::Within(ShapeBytes(area)))
        }
        _ => return None,
    };
    Some(Translation { predicate: Predicate::Leaf { column: leaf.0, leaf: leaf.1, negated: false }, exact: true })
}

/// A single-value BYTES column and a literal shape.
fn column_and_shape(column: &Expr, shape: &Expr, table: &Table) -> Option<(String, Vec<u8>)> {
    let Expr::Column(column) = column else { return None };
    let spec = table.schema.column(&column.name)?;
    if spec.data_type != DataType::Bytes || !spec.single_value {
        return None;
    }
    match shape {
        Expr::Literal(
            ScalarValue::Binary(Some(b)) | ScalarValue::LargeBinary(Some(b)) | ScalarValue::BinaryView(Some(b)),
            _,
        ) => Some((spec.name.clone(), b.clone())),
        _ => None,
    }
}

fn flip(op: CompareOp) -> CompareOp {
    match op {
        CompareOp::Lt => CompareOp::Gt,
        CompareOp::Le => CompareOp::Ge,
        CompareOp::Gt => CompareOp::Lt,
        CompareOp::Ge => CompareOp::Le,
        CompareOp::Eq => CompareOp::Eq,
    }
}

/// The column an expression reads, and whether reading it is exact (no cast in between, and a
/// type whose comparisons DataFusion and segments agree on).
fn column_of(expr: &Expr, table: &Table) -> Option<((String, DataType), bool)> {
    let (column, exact) = match expr {
        Expr::Column(c) => (c, true),
        Expr::Cast(cast) => match cast.expr.as_ref() {
            Expr::Column(c) => (c, false),
            _ => return None,
        },
        Expr::TryCast(cast) => match cast.expr.as_ref() {
            Expr::Column(c) => (c, false),
            _ => return None,
        },
        _ => return None,
    };
    let spec = table.schema.column(&column.name)?;
    if !spec.single_value {
        // Pinot's any-value semantics for multi-value columns need SQL rewriting first.
        return None;
    }
    let exact = exact && spec.data_type != DataType::BigDecimal;
    Some(((spec.name.clone(), spec.data_type), exact))
}

/// A non-null literal as a value, and whether the conversion kept it exactly.
fn literal(expr: &Expr, column_type: DataType) -> Option<(Value, bool)> {
    if let Expr::Placeholder(placeholder) = expr {
        // Only while a kept plan's template is optimised; each bind classifies its values again.
        if !crate::plan_cache::placeholders_are_values() {
            return None;
        }
        let stand_in = crate::plan_cache::representative(placeholder.field.as_ref()?.data_type())?;
        return literal(&Expr::Literal(stand_in, None), column_type);
    }
    let Expr::Literal(scalar, _) = expr else { return None };
    let exact_ms = |value: i64, per_ms: i64| (Value::Timestamp(value.div_euclid(per_ms)), value % per_ms == 0);
    Some(match scalar {
        ScalarValue::Boolean(Some(b)) => (Value::Boolean(*b), true),
        ScalarValue::Int8(Some(v)) => (Value::Int(*v as i32), true),
        ScalarValue::Int16(Some(v)) => (Value::Int(*v as i32), true),
        ScalarValue::Int32(Some(v)) => (Value::Int(*v), true),
        ScalarValue::Int64(Some(v)) => (Value::Long(*v), true),
        ScalarValue::UInt8(Some(v)) => (Value::Int(*v as i32), true),
        ScalarValue::UInt16(Some(v)) => (Value::Int(*v as i32), true),
        ScalarValue::UInt32(Some(v)) => (Value::Long(*v as i64), true),
        ScalarValue::UInt64(Some(v)) => (Value::Long(i64::try_from(*v).ok()?), true),
        ScalarValue::Float32(Some(v)) if !v.is_nan() => (Value::Float(*v), true),
        ScalarValue::Float64(Some(v)) if !v.is_nan() => (Value::Double(*v), true),
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            // Text against a non-text column: DataFusion would have cast one side; stay inexact.
            let text_column = matches!(column_type, DataType::String | DataType::Json);
            (Value::String(s.clone()), text_column)
        }
        ScalarValue::Binary(Some(b)) | ScalarValue::LargeBinary(Some(b)) | ScalarValue::BinaryView(Some(b)) => {
            (Value::Bytes(b.clone()), true)
        }
        ScalarValue::TimestampMillisecond(Some(v), _) => (Value::Timestamp(*v), true),
        ScalarValue::TimestampSecond(Some(v), _) => (Value::Timestamp(v.checked_mul(1000)?), true),
        ScalarValue::TimestampMicrosecond(Some(v), _) => exact_ms(*v, 1000),
        ScalarValue::TimestampNanosecond(Some(v), _) => exact_ms(*v, 1_000_000),
        ScalarValue::Date32(Some(days)) => (Value::Timestamp(*days as i64 * 86_400_000), true),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cuvee_catalog::{Schema, TableConfigJson};
    use datafusion::arrow::datatypes::DataType as ArrowType;
    use datafusion::logical_expr::{cast, col, lit};

    fn table() -> Table {
        let schema = Schema::from_json(
            r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"s","dataType":"STRING"},{"name":"i","dataType":"INT"},
                  {"name":"tags","dataType":"STRING","singleValueField":false},{"name":"dec","dataType":"BIG_DECIMAL"}],
                "dateTimeFieldSpecs":[{"name":"ts","dataType":"TIMESTAMP","format":"1:MILLISECONDS:TIMESTAMP","granularity":"1:SECONDS"}]}"#,
        )
        .unwrap();
        Table::new(schema, TableConfigJson::from_json(r#"{"tableName":"t","tableType":"OFFLINE"}"#).unwrap()).unwrap()
    }

    fn exactness(expr: Expr) -> Option<bool> {
        translate(&expr, &table()).map(|t| t.exact)
    }

    #[test]
    fn a_range_in_two_conjuncts_becomes_one_between_on_single_value_columns_only() {
        let ge = |c: &str, v: i64| Predicate::Leaf {
            column: c.into(),
            leaf: Leaf::Compare(CompareOp::Ge, Value::Long(v)),
            negated: false,
        };
        let le = |c: &str, v: i64| Predicate::Leaf {
            column: c.into(),
            leaf: Leaf::Compare(CompareOp::Le, Value::Long(v)),
            negated: false,
        };
        let between =
            Predicate::Leaf { column: "i".into(), leaf: Leaf::Between(Value::Long(3), Value::Long(9)), negated: false };
        assert_eq!(merge_ranges(vec![ge("i", 3), le("i", 9)], &table()), vec![between.clone()]);
        assert_eq!(merge_ranges(vec![le("i", 9), ge("i", 3)], &table()), vec![between]);
        assert_eq!(merge_ranges(vec![ge("i", 3), le("s", 9)], &table()).len(), 2);
        assert_eq!(merge_ranges(vec![ge("tags", 3), le("tags", 9)], &table()).len(), 2);
        assert_eq!(merge_ranges(vec![ge("i", 3), ge("i", 4)], &table()).len(), 2);
    }

    #[test]
    fn exact_shapes() {
        assert_eq!(exactness(col("s").eq(lit("a"))), Some(true));
        assert_eq!(exactness(lit(3).lt(col("i"))), Some(true));
        assert_eq!(exactness(col("i").not_eq(lit(3))), Some(true));
        assert_eq!(exactness(col("i").between(lit(1), lit(5))), Some(true));
        assert_eq!(exactness(col("i").not_between(lit(1), lit(5))), Some(true));
        assert_eq!(exactness(col("s").in_list(vec![lit("a"), lit("b")], true)), Some(true));
        assert_eq!(exactness(col("s").is_null()), Some(true));
        assert_eq!(exactness(col("s").like(lit("a%"))), Some(true));
        assert_eq!(exactness(col("s").eq(lit("a")).or(col("i").gt(lit(2))).and(col("i").lt(lit(9)))), Some(true));
        assert_eq!(exactness(!col("s").eq(lit("a"))), Some(true));
        assert_eq!(exactness(lit(true)), Some(true));
        assert_eq!(exactness(col("ts").gt_eq(lit(ScalarValue::TimestampMillisecond(Some(5), None)))), Some(true));
    }

    #[test]
    fn multi_value_calls_are_exact_leaves() {
        use crate::multi_value::mv_any_udf;
        let call = |op: &str, values: Vec<Expr>| {
            let mut args = vec![col("tags"), lit(op)];
            args.extend(values);
            Expr::ScalarFunction(datafusion::logical_expr::expr::ScalarFunction::new_udf(mv_any_udf(), args))
        };
        let eq = call("=", vec![lit("a")]);
        let t = translate(&eq, &table()).unwrap();
        assert!(t.exact);
        assert_eq!(
            t.predicate,
            Predicate::Leaf {
                column: "tags".into(),
                leaf: Leaf::Compare(CompareOp::Eq, Value::String("a".into())),
                negated: false
            }
        );
        assert_eq!(exactness(!call("in", vec![lit("a"), lit("b")])), Some(true));
        assert_eq!(exactness(call("between", vec![lit("a"), lit("b")])), Some(true));
        assert_eq!(exactness(call("between", vec![lit("a")])), None);
    }

    #[test]
    fn inexact_shapes() {
        assert_eq!(exactness(cast(col("i"), ArrowType::Float64).lt(lit(5.5))), Some(false));
        assert_eq!(exactness(col("dec").gt(lit("1.5"))), Some(false));
        assert_eq!(exactness(col("i").eq(lit("3"))), Some(false));
        assert_eq!(exactness(col("ts").eq(lit(ScalarValue::TimestampNanosecond(Some(5), None)))), Some(false));
        // AND with an untranslatable side keeps the translatable side, inexactly.
        assert_eq!(exactness(col("s").eq(lit("a")).and(col("i").eq(col("i")))), Some(false));
    }

    #[test]
    fn untranslatable_shapes() {
        assert_eq!(exactness(col("i").eq(col("i"))), None);
        assert_eq!(exactness(col("s").ilike(lit("a%"))), None);
        assert_eq!(exactness(col("s").eq(lit("a")).or(col("i").eq(col("i")))), None);
        assert_eq!(exactness(col("tags").eq(lit("a"))), None);
        assert_eq!(exactness(col("i").eq(lit(ScalarValue::Int32(None)))), None);
        assert_eq!(exactness(col("nope").eq(lit(1))), None);
        assert_eq!(exactness(col("d").eq(lit(f64::NAN))), None);
    }
}
