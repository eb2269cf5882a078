//! Pinot's aggregate functions, rewritten into DataFusion SQL with Pinot's result types and
//! canonical result names (`distinctcount(playerID)`, `percentile(homeRuns, 50.0)`).
//!
//! | Pinot                                  | rewritten to                                   | type   |
//! |----------------------------------------|------------------------------------------------|--------|
//! | SUM, AVG, MIN, MAX, MINMAXRANGE        | the same, cast                                 | DOUBLE |
//! | COUNT(DISTINCT x), DISTINCTCOUNT, DISTINCTCOUNTBITMAP | exact `COUNT(DISTINCT x)`       | INT    |
//! | DISTINCTCOUNTHLL, …HLLPLUS, …ULL, …THETASKETCH | `approx_distinct` (HyperLogLog)        | LONG   |
//! | DISTINCTSUM, DISTINCTAVG               | `SUM/AVG(DISTINCT x)`                          | DOUBLE |
//! | PERCENTILE(x, p), PERCENTILEnn(x)      | exact: `pinot_percentile` keeps every value, picks index ⌊n·p/100⌋ (Pinot's rule) | DOUBLE |
//! | PERCENTILEEST, PERCENTILETDIGEST       | `approx_percentile_cont` (t-digest)            | LONG / DOUBLE |
//! | COUNTMV, SUMMV, MINMV, MAXMV, AVGMV, MINMAXRANGEMV, DISTINCTCOUNTMV, PERCENTILEMV | over every value of every row | as above |
//! | ARRAYLENGTH(mv)                        | `cardinality`                                  | INT    |
//! | CONCAT(a, b, separator)                | `concat(a, separator, b)`                      | STRING |
//! | NOW()                                  | epoch milliseconds of `now()`                  | LONG   |
//! | ADD/PLUS, SUB/MINUS, MULT/TIMES, DIV/DIVIDE, MOD | the operator on DOUBLEs               | DOUBLE |
//! | SKEWNESS, KURTOSIS                     | bias-corrected, from power sums (as Commons Math) | DOUBLE |
//! | FIRSTWITHTIME, LASTWITHTIME            | `first_value`/`last_value` ordered by the time | the value's |
//!
//! Names match as Pinot matches them: case and underscores ignored (`DISTINCT_SUM`).
//!
//! Exact distinct counts and percentiles keep every value (as Pinot's do); their states
//! merge exactly across servers (a distinct count alone becomes `pinot_distinct_count`,
//! whose state is the distinct values: `cuvee_query::distinct_count`).

use datafusion::sql::sqlparser::ast::{
    DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArguments,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// A Pinot function call in DataFusion's terms, and the result name Pinot gives it.
pub struct Rewrite {
    pub expr: Expr,
    pub name: String,
}

/// The rewrite of `function`, or `None` when DataFusion takes it as it is.
pub fn rewrite(function: &Function) -> Option<Rewrite> {
    if function.over.is_some() {
        return None;
    }
    let FunctionArguments::List(list) = &function.args else { return None };
    // Pinot ignores case and underscores in function names: DISTINCT_SUM is DISTINCTSUM.
    let name = function.name.to_string().to_ascii_lowercase().replace('_', "");
    let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
    let args: Vec<String> = list
        .args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.to_string()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let filter = function.filter.as_ref().map(|f| format!(" FILTER (WHERE {f})")).unwrap_or_default();
    let canonical = |n: &str| format!("{n}({})", args.join(", "));
    let one = || args.first().cloned();
    let (text, result_name) = match name.as_str() {
        "count" if distinct && args.len() == 1 => {
            (format!("CAST(COUNT(DISTINCT {}){filter} AS INT)", one()?), canonical("distinctcount"))
        }
        "sum" | "avg" | "min" | "max" if !distinct => (format!("CAST({function} AS DOUBLE)"), canonical(&name)),
        "minmaxrange" => {
            let a = one()?;
            (format!("CAST(MAX({a}){filter} - MIN({a}){filter} AS DOUBLE)"), canonical(&name))
        }
        "distinctcount" | "distinctcountbitmap" | "distinctcountsmarthll" | "segmentpartitioneddistinctcount" => {
            (format!("CAST(COUNT(DISTINCT {}){filter} AS INT)", one()?), canonical(&name))
        }
        "distinctcounthll"
        | "distinctcounthllplus"
        | "distinctcountull"
        | "distinctcountthetasketch"
        | "distinctcountcpcsketch" => {
            (format!("CAST(approx_distinct({}){filter} AS BIGINT)", one()?), canonical(&name))
        }
        "distinctsum" => (format!("CAST(SUM(DISTINCT {}){filter} AS DOUBLE)", one()?), canonical(&name)),
        "distinctavg" => (format!("CAST(AVG(DISTINCT {}){filter} AS DOUBLE)", one()?), canonical(&name)),
        "arraylength" | "cardinality" if args.len() == 1 => {
            (format!("CAST(cardinality({}) AS INT)", one()?), canonical(&name))
        }
        // Pinot's NOW() is epoch milliseconds (a LONG), so `ts > now() - 3600000` works.
        "now" if args.is_empty() => {
            ("CAST(date_part('epoch', now()) * 1000 AS BIGINT)".to_string(), "now()".to_string())
        }
        // Pinot's three-argument CONCAT is (first, second, separator).
        "concat" if args.len() == 3 => {
            (format!("concat({}, {}, {})", args[0], args[2], args[1]), format!("concat({})", args.join(",")))
        }
        "add" | "plus" | "minus" | "sub" | "times" | "mult" | "divide" | "div" | "mod" if args.len() == 2 => {
            let op = match name.as_str() {
                "add" | "plus" => "+",
                "minus" | "sub" => "-",
                "times" | "mult" => "*",
                "divide" | "div" => "/",
                _ => "%",
            };
            (
                format!("(CAST({} AS DOUBLE) {op} CAST({} AS DOUBLE))", args[0], args[1]),
                format!("{name}({})", args.join(",")),
            )
        }
        // The value at the earliest / latest time; the type argument is implied by the column.
        "firstwithtime" | "lastwithtime" if args.len() == 3 => {
            let function = if name == "firstwithtime" { "first_value" } else { "last_value" };
            (format!("{function}({} ORDER BY {}){filter}", args[0], args[1]), canonical(&name))
        }
        "skewness" | "kurtosis" if args.len() == 1 => (moments(&name, &args[0], &filter), canonical(&name)),
        "countmv" => (format!("CAST(COALESCE(SUM(cardinality({})){filter}, 0) AS BIGINT)", one()?), canonical(&name)),
        "summv" => (format!("CAST(SUM(array_sum({})){filter} AS DOUBLE)", one()?), canonical(&name)),
        "minmv" => (format!("CAST(MIN(array_min({})){filter} AS DOUBLE)", one()?), canonical(&name)),
        "maxmv" => (format!("CAST(MAX(array_max({})){filter} AS DOUBLE)", one()?), canonical(&name)),
        "avgmv" => {
            let a = one()?;
            (format!("CAST(SUM(array_sum({a})){filter} AS DOUBLE) / SUM(cardinality({a})){filter}"), canonical(&name))
        }
        "minmaxrangemv" => {
            let a = one()?;
            (format!("CAST(MAX(array_max({a})){filter} - MIN(array_min({a})){filter} AS DOUBLE)"), canonical(&name))
        }
        "distinctcountmv" | "distinctcountbitmapmv" => (
            format!("CAST(cardinality(array_distinct(flatten(array_agg({}){filter}))) AS INT)", one()?),
            canonical(&name),
        ),
        "distinctcounthllmv" => (
            format!("CAST(cardinality(array_distinct(flatten(array_agg({}){filter}))) AS BIGINT)", one()?),
            canonical(&name),
        ),
        _ => return percentile(&name, &args, &filter),
    };
    let expr = Parser::new(&GenericDialect {}).try_with_sql(&text).ok()?.parse_expr().ok()?;
    Some(Rewrite { expr, name: result_name })
}

/// PERCENTILE / PERCENTILEEST / PERCENTILETDIGEST (and their MV forms), as
/// `f(x, p)` or the legacy `fNN(x)`.
fn percentile(name: &str, args: &[String], filter: &str) -> Option<Rewrite> {
    let (family, legacy_p) = ["percentiletdigest", "percentileest", "percentile"]
        .iter()
        .find_map(|f| name.strip_prefix(f).map(|rest| (*f, rest)))?;
    let (multi_value, legacy_p) = match legacy_p.strip_suffix("mv") {
        Some(p) => (true, p),
        None => (false, legacy_p),
    };
    let column = args.first()?.clone();
    let (p, result_name): (f64, String) = if legacy_p.is_empty() {
        let p: f64 = args.get(1)?.trim_matches('\'').parse().ok()?;
        let mv = if multi_value { "mv" } else { "" };
        (p, format!("{family}{mv}({column}, {p:?})"))
    } else {
        (legacy_p.parse().ok()?, format!("{name}({column})"))
    };
    if family == "percentile" && !multi_value {
        // Pinot: the value at index ⌊n·p/100⌋ of the sorted values (the last one at 100). A
        // p outside 0..=100 goes through too: the aggregate refuses it by its value.
        let text = format!("{}({column}, {p:?}){filter}", cuvee_query::percentile::NAME);
        let expr = Parser::new(&GenericDialect {}).try_with_sql(&text).ok()?.parse_expr().ok()?;
        return Some(Rewrite { expr, name: result_name });
    }
    if !(0.0..=100.0).contains(&p) {
        return None;
    }
    let values = format!("flatten(array_agg({column}) FILTER (WHERE {column} IS NOT NULL{}))", and_filter(filter));
    let text = match family {
        "percentile" => {
            let sorted = format!("array_sort({values})");
            // Pinot: the value at index ⌊n·p/100⌋ of the sorted values (the last one at 100).
            let n = format!("CAST(cardinality({sorted}) AS BIGINT)");
            format!(
                "CAST(array_element({sorted}, LEAST(CAST(FLOOR({n} * {p:?} / 100.0) AS BIGINT) + 1, {n})) AS DOUBLE)"
            )
        }
        // The estimates have no multi-value form here: approx_percentile_cont takes one
        // value per row. The call is left as it is and fails as an unknown function.
        _ if multi_value => return None,
        _ => {
            let target = if family == "percentileest" { "BIGINT" } else { "DOUBLE" };
            format!(
                "CAST(approx_percentile_cont({:?}) WITHIN GROUP (ORDER BY {column}){filter} AS {target})",
                p / 100.0
            )
        }
    };
    let expr = Parser::new(&GenericDialect {}).try_with_sql(&text).ok()?.parse_expr().ok()?;
    Some(Rewrite { expr, name: result_name })
}

/// Sample skewness and excess kurtosis as Pinot computes them (Apache Commons Math's
/// bias-corrected estimators), from power sums so they stay ordinary mergeable aggregates.
/// NULL below 3 (skewness) or 4 (kurtosis) values, 0 when all values are equal.
fn moments(name: &str, column: &str, filter: &str) -> String {
    let d = format!("CAST({column} AS DOUBLE)");
    let n = format!("CAST(COUNT({d}){filter} AS DOUBLE)");
    let mu = format!("AVG({d}){filter}");
    let s2 = format!("SUM({d} * {d}){filter}");
    let s3 = format!("SUM({d} * {d} * {d}){filter}");
    let s4 = format!("SUM({d} * {d} * {d} * {d}){filter}");
    let m2 = format!("({s2} - {n} * {mu} * {mu})");
    let var = format!("({m2} / ({n} - 1))");
    // All values equal: Pinot answers 0 (the power sums would only leave rounding noise).
    let constant = format!("{m2} <= 1e-12 * abs({s2})");
    if name == "skewness" {
        let m3 = format!("({s3} - 3 * {mu} * {s2} + 2 * {n} * {mu} * {mu} * {mu})");
        return format!("CASE WHEN {n} < 3 THEN NULL WHEN {constant} THEN 0.0 ELSE {n} / (({n} - 1) * ({n} - 2)) * {m3} / power({var}, 1.5) END");
    }
    let m4 = format!("({s4} - 4 * {mu} * {s3} + 6 * {mu} * {mu} * {s2} - 3 * {n} * {mu} * {mu} * {mu} * {mu})");
    format!(
        "CASE WHEN {n} < 4 THEN NULL WHEN {constant} THEN 0.0 ELSE {n} * ({n} + 1) / (({n} - 1) * ({n} - 2) * ({n} - 3)) * {m4} / ({var} * {var}) - 3 * ({n} - 1) * ({n} - 1) / (({n} - 2) * ({n} - 3)) END"
    )
}

/// ` AND cond` for a `FILTER (WHERE cond)` clause, to merge it into another filter.
fn and_filter(filter: &str) -> String {
    filter
        .strip_prefix(" FILTER (WHERE ")
        .and_then(|f| f.strip_suffix(')'))
        .map(|f| format!(" AND {f}"))
        .unwrap_or_default()
}
