//! Plans kept across queries: a statement's shape is parsed, planned, analysed and optimised
//! once, and a later query of the same shape with other literals re-binds its values into
//! the kept plan (Postgres' generic plans, Pinot's and Druid's query templates).
//!
//! A query's **template** is its statement with the literals compared with a column in a
//! `WHERE` clause (`col = 'x'`, `col > 5`, `col IN (…)`, `col BETWEEN … AND …`) taken out
//! as placeholders; the template's text and the literals' kinds are the key. Every other
//! literal (function arguments, `LIMIT`, the select list) stays in the text, so it keys a
//! plan of its own.
//!
//! A miss plans the template: DataFusion types each placeholder as the column it is
//! compared with, and the optimiser runs with the placeholders in place. Filter push-down
//! is the one decision that depends on a value: while a template is optimised,
//! [`crate::pushdown`] classifies a placeholder as a literal of its type
//! ([`with_placeholders_as_values`]), and every bind re-classifies the bound filters and
//! refuses the kept plan unless the scan still answers each filter it was given (else the
//! query is planned from its own text, as without a cache).
//!
//! A value binds only when it converts to the placeholder's type and back unchanged
//! (`user_id = 5.5` against a LONG column does not: DataFusion would compare as doubles).
//! A template whose placeholders take a type its literals cannot have (a string against a
//! number column, a number against a timestamp — DataFusion casts those differently) is
//! remembered as uncacheable, so its queries plan once, not twice. So is a template that
//! calls a function whose value is fixed per query, not per statement (`now()`,
//! `ago('PT1H')`, `current_date`): the optimiser folds it to the time it runs, and a kept
//! plan would answer every later query as of the moment it was kept. (With numbers bound to
//! number columns and strings to string columns, no value SQL can write classifies
//! differently from its type's stand-in today; the check guards changes to push-down.)
//!
//! A kept plan holds no table: its scans read schema-only sources, and a bind puts back the
//! table its name has now — when that is the very table planned with; a table replaced (a
//! new definition) or dropped since makes the plan stale, and the template is planned
//! again. So a dropped table's segments (and their mapped files) are freed at once, and
//! each query reads the segments of its moment, fresh rows included.
//!
//! Where only the scan depends on the literals, the physical plan is kept too
//! (`physical.rs`): a hit then skips physical planning as well, its scan made afresh.

use crate::pushdown::translate;
use crate::table::SegmentTable;
use crate::tables::Tables;
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{ParamValues, Result, ScalarValue};
use datafusion::datasource::{provider_as_source, source_as_provider};
use datafusion::logical_expr::builder::LogicalTableSource;
use datafusion::logical_expr::{Expr, LogicalPlan, TableScan, TableSource, Volatility};
use std::cell::Cell;
use std::sync::{Arc, Weak};

mod physical;
mod store;
mod template;

pub use store::{Cached, Outcome, PlanCache, PlanCacheStats, Recent, DEFAULT_CAPACITY};
pub use template::{negate, number as literal_of_number, template, LiteralAt, Template, MAX_TEMPLATE_BYTES};

thread_local! {
    static PLACEHOLDERS_AS_VALUES: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` (a template's optimisation) with placeholders classified for push-down as
/// literals of their types. Only here: anywhere else a placeholder is no value, and a
/// filter holding one is not pushed.
pub fn with_placeholders_as_values<T>(f: impl FnOnce() -> T) -> T {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            PLACEHOLDERS_AS_VALUES.with(|flag| flag.set(self.0));
        }
    }
    let _reset = Reset(PLACEHOLDERS_AS_VALUES.with(|flag| flag.replace(true)));
    f()
}

/// Whether placeholders count as values now (see [`with_placeholders_as_values`]).
pub(crate) fn placeholders_are_values() -> bool {
    PLACEHOLDERS_AS_VALUES.with(Cell::get)
}

/// A value of `data_type` standing in for a placeholder while a template is classified.
pub(crate) fn representative(data_type: &DataType) -> Option<ScalarValue> {
    match data_type {
        DataType::Utf8 => Some(ScalarValue::Utf8(Some(String::new()))),
        DataType::LargeUtf8 => Some(ScalarValue::LargeUtf8(Some(String::new()))),
        DataType::Utf8View => Some(ScalarValue::Utf8View(Some(String::new()))),
        t if t.is_integer() || t.is_floating() => ScalarValue::new_zero(t).ok(),
        _ => None,
    }
}

/// An optimised template plan and what a bind must check.
#[derive(Debug)]
pub struct CachedPlan {
    /// Its scans read a schema-only source: a kept plan must not keep a dropped table's
    /// segments (and their mapped files) alive. A bind puts the table back.
    plan: LogicalPlan,
    /// Each placeholder and the type DataFusion gave it.
    params: Vec<(String, DataType)>,
    /// The tables the query reads, as planned (optimisation may remove a scan a literal made
    /// empty): the response names them, and a bind checks each is still the table of its
    /// name — the same object, not a replacement (another definition) of it.
    sources: Vec<(String, Weak<SegmentTable>)>,
    /// How each scan's pushed filters were classified (exact or not), scans in plan order.
    scans: Vec<Vec<Option<bool>>>,
    /// Whether only the scan depends on the literals (see [`physical`]).
    physical_keepable: bool,
    /// The physical plan, once a query planned it (see [`physical`]).
    physical: parking_lot::RwLock<Option<Arc<physical::KeptPhysical>>>,
}

impl CachedPlan {
    /// Keeps a template's plan: `analysed` as planned, `optimized` after the optimiser ran
    /// (within [`with_placeholders_as_values`]). `None` when a bind could not reproduce it:
    /// a placeholder without a type or of a type its literal cannot take, or a scan of
    /// something other than one of `tables` (the catalog, a table function).
    pub fn new(
        analysed: &LogicalPlan,
        optimized: LogicalPlan,
        template: &Template,
        tables: &Tables,
    ) -> Option<CachedPlan> {
        if calls_per_query_functions(analysed) {
            return None;
        }
        let mut params: Vec<(String, DataType)> = Vec::new();
        let mut typed = true;
        any_expression(&optimized, &mut |e| {
            if let Expr::Placeholder(p) = e {
                match &p.field {
                    Some(field) if !params.iter().any(|(id, _)| id == &p.id) => {
                        params.push((p.id.clone(), field.data_type().clone()))
                    }
                    Some(_) => {}
                    None => typed = false,
                }
            }
            false
        });
        if !typed {
            return None;
        }
        for (id, data_type) in &params {
            let literal = template.literals.get(index_of(id)?)?;
            if !same_family(literal, data_type) {
                return None;
            }
        }
        let mut sources: Vec<(String, Weak<SegmentTable>)> = Vec::new();
        for (table, _) in scans_of(analysed, tables)? {
            let name = table.table().name().to_string();
            if !sources.iter().any(|(n, _)| *n == name) {
                sources.push((name, Arc::downgrade(&table)));
            }
        }
        sources.sort_by(|a, b| a.0.cmp(&b.0));
        let scans = with_placeholders_as_values(|| scans_of(&optimized, tables))?;
        let scans: Vec<Vec<Option<bool>>> = scans.into_iter().map(|(_, classes)| classes).collect();
        let physical_keepable = only_the_scan_binds(&optimized, &scans);
        let plan = with_sources(optimized, &|scan| {
            Some(Arc::new(LogicalTableSource::new(scan.source.schema())) as Arc<dyn TableSource>)
        })
        .ok()?;
        Some(CachedPlan { plan, params, sources, scans, physical_keepable, physical: Default::default() })
    }

    /// The segment generation of the table a physical plan would be kept for (read it
    /// before planning, so a change while planning makes the kept plan stale, not wrong).
    pub fn generation(&self) -> Option<u64> {
        let [(_, table)] = self.sources.as_slice() else { return None };
        Some(table.upgrade()?.generation())
    }

    /// The physical plan of `bound` (this plan's bind, `Bound::Plan`) from the one kept,
    /// its scan reading the table's segments now. `None` when none is kept or it does not
    /// fit (the table's segments changed): plan it, then [`CachedPlan::keep_physical`].
    pub fn physical(
        &self,
        bound: &LogicalPlan,
        target_partitions: usize,
    ) -> Result<Option<Arc<dyn datafusion::physical_plan::ExecutionPlan>>> {
        let Some(kept) = self.physical.read().clone() else { return Ok(None) };
        let [(_, table)] = self.sources.as_slice() else { return Ok(None) };
        let Some(table) = table.upgrade() else { return Ok(None) };
        kept.bind(bound, &table, target_partitions)
    }

    /// Keeps `plan` — `bound` planned physically by every optimiser rule but the broker's
    /// cut, over the table's segments at `generation` — when later queries can re-use it.
    pub fn keep_physical(
        &self,
        plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>,
        generation: Option<u64>,
        target_partitions: usize,
    ) {
        let Some(generation) = generation.filter(|_| self.physical_keepable) else { return };
        if let Some(kept) = physical::KeptPhysical::new(plan, generation, target_partitions) {
            *self.physical.write() = Some(Arc::new(kept));
        }
    }

    /// The tables the query reads, by name, sorted.
    pub fn tables(&self) -> Vec<String> {
        self.sources.iter().map(|(name, _)| name.clone()).collect()
    }

    /// The plan with `literals` bound, checked to be the plan the query itself would get.
    pub fn bind(&self, literals: &[ScalarValue], tables: &Tables) -> Result<Bound> {
        let mut current = Vec::with_capacity(self.sources.len());
        for (name, kept) in &self.sources {
            match tables.get(name) {
                Some(now) if std::ptr::eq(Arc::as_ptr(&now), kept.as_ptr()) => current.push(now),
                _ => return Ok(Bound::Stale),
            }
        }
        let mut values = Vec::with_capacity(self.params.len());
        for (id, data_type) in &self.params {
            let Some(literal) = index_of(id).and_then(|i| literals.get(i)) else { return Ok(Bound::Unfit) };
            let Some(value) = convert_exactly(literal, data_type) else { return Ok(Bound::Unfit) };
            values.push((id.trim_start_matches('$').to_string(), value));
        }
        let plan = self.plan.clone().replace_params_with_values(&ParamValues::from(values))?;
        let plan = with_sources(plan, &|scan| {
            let table = current.iter().find(|t| t.table().name() == scan.table_name.table())?;
            Some(provider_as_source(Arc::clone(table) as Arc<dyn TableProvider>))
        })?;
        let Some(scans) = scans_of(&plan, tables) else { return Ok(Bound::Stale) };
        let still_answered = scans.len() == self.scans.len()
            && scans.iter().zip(&self.scans).all(|((_, now), then)| {
                now.len() == then.len()
                    && now.iter().zip(then).all(|(now, then)| match then {
                        Some(true) => *now == Some(true),
                        Some(false) => now.is_some(),
                        None => true,
                    })
            });
        Ok(if still_answered { Bound::Plan(plan) } else { Bound::Unfit })
    }
}

/// Whether the template's literals reach only its one scan, each in a filter the scan
/// answers exactly (`classes`, as [`scans_of`] gives them), so no operator but the scan
/// holds a literal. A template without literals is not kept physically: its scan has no
/// predicate, and its statistics may answer it from metadata, as of planning.
fn only_the_scan_binds(plan: &LogicalPlan, classes: &[Vec<Option<bool>>]) -> bool {
    let (Some(scan), [classes]) = (physical::only_scan(plan), classes) else { return false };
    let count = |e: &Expr| {
        let mut n = 0;
        let _ = e.apply(|e| {
            n += usize::from(matches!(e, Expr::Placeholder(_)));
            Ok(TreeNodeRecursion::Continue)
        });
        n
    };
    let mut in_plan = 0;
    any_expression(plan, &mut |e| {
        in_plan += usize::from(matches!(e, Expr::Placeholder(_)));
        false
    });
    let mut in_exact_filters = 0;
    for (filter, class) in scan.filters.iter().zip(classes) {
        let n = count(filter);
        if n > 0 && *class != Some(true) {
            return false;
        }
        in_exact_filters += n;
    }
    in_plan > 0 && in_plan == in_exact_filters
}

/// Whether the plan calls a function that is not the same for every query (`now()` and
/// `ago()` are stable: one value per query, which the optimiser folds in; `random()` is
/// volatile). Only immutable functions may be folded into a plan that outlives its query.
fn calls_per_query_functions(plan: &LogicalPlan) -> bool {
    any_expression(
        plan,
        &mut |e| matches!(e, Expr::ScalarFunction(f) if f.func.signature().volatility != Volatility::Immutable),
    )
}

/// Whether `found` holds for any expression of the plan, subqueries and nested expressions
/// included; the walk stops at the first.
fn any_expression(plan: &LogicalPlan, found: &mut dyn FnMut(&Expr) -> bool) -> bool {
    let mut any = false;
    let stop = |any: bool| if any { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue };
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|e| {
            e.apply(|e| {
                any = any || found(e);
                Ok(stop(any))
            })
        })?;
        Ok(stop(any))
    });
    any
}

/// The plan with each scan's source replaced by `source(scan)` (kept where it gives none).
fn with_sources(plan: LogicalPlan, source: &dyn Fn(&TableScan) -> Option<Arc<dyn TableSource>>) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| match node {
        LogicalPlan::TableScan(scan) => match source(&scan) {
            Some(source) => Ok(Transformed::yes(LogicalPlan::TableScan(TableScan { source, ..scan }))),
            None => Ok(Transformed::no(LogicalPlan::TableScan(scan))),
        },
        other => Ok(Transformed::no(other)),
    })
    .map(|t| t.data)
}

/// A bind's outcome.
#[derive(Debug)]
pub enum Bound {
    /// The optimised plan of the query.
    Plan(LogicalPlan),
    /// These values do not fit the kept plan (a value that does not convert exactly, a
    /// filter the scan answers differently for it): plan the query from its text.
    Unfit,
    /// A table the plan scans was replaced or dropped since: plan the template again.
    Stale,
}

/// `$3` → 2.
fn index_of(id: &str) -> Option<usize> {
    id.strip_prefix('$')?.parse::<usize>().ok()?.checked_sub(1)
}

/// Whether a literal of this kind compared with a column of `data_type` is coerced the way
/// a bind converts it (numbers with numbers, strings with strings).
fn same_family(literal: &ScalarValue, data_type: &DataType) -> bool {
    let text = matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
    let number = data_type.is_integer() || data_type.is_floating();
    match literal {
        ScalarValue::Utf8(_) => text,
        _ => number,
    }
}

/// `literal` as a `data_type` value, when converting it back gives the literal again.
fn convert_exactly(literal: &ScalarValue, data_type: &DataType) -> Option<ScalarValue> {
    let value = literal.cast_to(data_type).ok()?;
    if value.is_null() {
        return None;
    }
    let back = value.cast_to(&literal.data_type()).ok()?;
    (back == *literal).then_some(value)
}

/// Every scan of the plan (subqueries too): its table, which must be the one `tables` holds
/// under its name now, and how each of its filters is classified.
#[allow(clippy::type_complexity)]
fn scans_of(plan: &LogicalPlan, tables: &Tables) -> Option<Vec<(Arc<SegmentTable>, Vec<Option<bool>>)>> {
    let mut scans = Vec::new();
    let mut known = true;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            let current = tables.get(scan.table_name.table());
            let provider = source_as_provider(&scan.source).ok();
            let same = match (&current, &provider) {
                (Some(current), Some(provider)) => {
                    let any: &dyn std::any::Any = provider.as_ref();
                    any.downcast_ref::<SegmentTable>().is_some_and(|kept| std::ptr::eq(kept, current.as_ref()))
                }
                _ => false,
            };
            match current {
                Some(table) if same && scan.table_name.schema().is_none_or(|s| s == "public") => {
                    let classes = scan.filters.iter().map(|f| translate(f, table.table()).map(|t| t.exact)).collect();
                    scans.push((table, classes));
                }
                _ => {
                    known = false;
                    return Ok(TreeNodeRecursion::Stop);
                }
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    known.then_some(scans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_binds_only_when_it_converts_back_unchanged() {
        let int = DataType::Int32;
        assert_eq!(convert_exactly(&ScalarValue::Int64(Some(5)), &int), Some(ScalarValue::Int32(Some(5))));
        assert_eq!(convert_exactly(&ScalarValue::Float64(Some(2.0)), &int), Some(ScalarValue::Int32(Some(2))));
        assert_eq!(convert_exactly(&ScalarValue::Float64(Some(5.5)), &int), None);
        assert_eq!(convert_exactly(&ScalarValue::Int64(Some(99_999_999_999)), &int), None);
        assert_eq!(
            convert_exactly(&ScalarValue::Int64(Some(3)), &DataType::Float64),
            Some(ScalarValue::Float64(Some(3.0)))
        );
        assert_eq!(convert_exactly(&ScalarValue::Int64(Some((1 << 53) + 1)), &DataType::Float64), None);
        let text = ScalarValue::Utf8(Some("x".into()));
        assert_eq!(convert_exactly(&text, &DataType::Utf8View), Some(ScalarValue::Utf8View(Some("x".into()))));
        assert!(same_family(&text, &DataType::Utf8) && !same_family(&text, &DataType::Int64));
        assert!(!same_family(&ScalarValue::Int64(Some(1)), &DataType::Utf8));
        let millis = DataType::Timestamp(datafusion::arrow::datatypes::TimeUnit::Millisecond, None);
        assert!(!same_family(&ScalarValue::Int64(Some(1)), &millis));
    }

    #[test]
    fn placeholders_count_as_values_only_inside_the_scope() {
        assert!(!placeholders_are_values());
        with_placeholders_as_values(|| {
            assert!(placeholders_are_values());
            with_placeholders_as_values(|| assert!(placeholders_are_values()));
            assert!(placeholders_are_values());
        });
        assert!(!placeholders_are_values());
    }
}
