//! The aggregate on dictionary ids (`cuvee_query::segment_aggregate`) answers what the
//! plain plan answers: random rows imported into several sealed segments, random group-by
//! columns, aggregates (COUNT, SUM, AVG, MIN, MAX of integer and float columns) and
//! filters, the physical plan run as planned and as rewritten; some cases add a consuming
//! segment (its chunks of 8 docs or of the server's 4,096, so columns go raw or stay ids),
//! which aggregates on its ids too or keeps the plain partial aggregate. Pinot's exact percentile
//! (`pinot_percentile`) is picked from value counts on ids and from every value otherwise. Integers and counts must be
//! equal; float sums may differ in their last bits (the adds go in another order), so floats
//! are compared to 1e-9 relative. Shapes the rewrite does not take (multi-value or raw
//! columns, expressions, strings measured, nulls under null handling) keep the plain plan.

use cuvee_catalog::Value;
use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_ingest::{import, ImportOptions};
use cuvee_query::{ScanOptions, SegmentTable};
use cuvee_segments::{FieldValue, MutableSegment, TableStore};
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::physical_plan::{collect, displayable, ExecutionPlan};
use proptest::prelude::*;
use std::io::Write;
use std::sync::Arc;

const SCHEMA: &str = r#"{
  "schemaName": "t",
  "dimensionFieldSpecs": [
    {"name": "country", "dataType": "STRING"},
    {"name": "device", "dataType": "STRING"},
    {"name": "code", "dataType": "INT"},
    {"name": "maybe", "dataType": "LONG"},
    {"name": "tags", "dataType": "STRING", "singleValueField": false},
    {"name": "raw", "dataType": "STRING"}
  ],
  "metricFieldSpecs": [{"name": "amount", "dataType": "DOUBLE"}]
}"#;

const CONFIG: &str = r#"{
  "tableName": "t", "tableType": "OFFLINE",
  "segmentsConfig": {"schemaName": "t", "replication": "1"},
  "tableIndexConfig": {"invertedIndexColumns": ["country"], "noDictionaryColumns": ["raw"], "sortedColumn": ["code"]}
}"#;

#[derive(Debug, Clone)]
struct Row {
    country: u8,
    device: u8,
    code: i32,
    maybe: Option<i64>,
    tags: Vec<u8>,
    amount: f64,
}

fn row() -> impl Strategy<Value = Row> {
    (0u8..12, 0u8..3, -3i32..40, proptest::option::of(0i64..5), proptest::collection::vec(0u8..4, 0..3), 0.0f64..100.0)
        .prop_map(|(country, device, code, maybe, tags, amount)| Row { country, device, code, maybe, tags, amount })
}

fn table_as(config: &str) -> Table {
    Table::new(Schema::from_json(SCHEMA).expect("schema"), TableConfigJson::from_json(config).expect("config"))
        .expect("table")
}

/// `rows` imported into sealed segments of `per_segment` rows, added to those already in
/// `segments`.
fn import_rows(table: &Table, rows: &[Row], per_segment: usize, segments: &std::path::Path) {
    let file = segments.with_extension(format!("{}.json", rows.len()));
    let mut out = std::fs::File::create(&file).expect("rows file");
    for r in rows {
        let device = ["mobile", "desktop", "tv"][r.device as usize];
        let line = serde_json::json!({
            "country": format!("c{}", r.country), "device": device,
            "code": r.code, "maybe": r.maybe, "tags": r.tags.iter().map(|t| format!("t{t}")).collect::<Vec<_>>(),
            "raw": format!("r{}", r.code % 7), "amount": r.amount,
        });
        writeln!(out, "{line}").expect("a row");
    }
    drop(out);
    let options = ImportOptions { max_rows_per_segment: per_segment, progress: false, ..ImportOptions::default() };
    import(table, &[file], segments, &options).expect("import");
}

/// Row `i` of the fixed-shape tests: 7 countries, 3 devices and 11 codes in turn.
fn cycling(i: i32, maybe: Option<i64>, tags: Vec<u8>, amount: f64) -> Row {
    Row { country: (i % 7) as u8, device: (i % 3) as u8, code: i % 11, maybe, tags, amount }
}

/// A column added to `noDictionaryColumns` after the first `n` rows were imported.
type RawLater = Option<(usize, &'static str)>;

/// `rows` imported into sealed segments of `per_segment` rows (those after a config change
/// with the changed config, which the table is then opened with), and `consuming` appended
/// to a consuming segment of chunks of 2^`chunk_shift` docs (as a realtime table has one).
fn table(
    rows: &[Row],
    per_segment: usize,
    raw_later: RawLater,
    consuming: &[Row],
    chunk_shift: u32,
) -> (tempfile::TempDir, Arc<SegmentTable>, Option<Arc<MutableSegment>>) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let segments = dir.path().join("table");
    let table = match raw_later {
        None => {
            let table = table_as(CONFIG);
            import_rows(&table, rows, per_segment, &segments);
            table
        }
        Some((n, column)) => {
            let (before, after) = rows.split_at(n.min(rows.len()));
            import_rows(&table_as(CONFIG), before, per_segment, &segments);
            let table = table_as(&raw_too(column));
            import_rows(&table, after, per_segment, &segments);
            table
        }
    };
    let store = TableStore::open_or_create(&segments, &table).expect("store");
    let (provider, errors) = SegmentTable::open(&store, table.clone(), ScanOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    if !consuming.is_empty() {
        let segment = Arc::new(MutableSegment::with_chunk_shift(&table, "t__0__0__20261204T0000Z", chunk_shift));
        for r in consuming {
            let text = |s: String| FieldValue::Single(Value::String(s));
            let row = vec![
                text(format!("c{}", r.country)),
                text(["mobile", "desktop", "tv"][r.device as usize].to_string()),
                FieldValue::Single(Value::Int(r.code)),
                r.maybe.map_or(FieldValue::Null, |m| FieldValue::Single(Value::Long(m))),
                if r.tags.is_empty() {
                    FieldValue::Null
                } else {
                    FieldValue::Multi(r.tags.iter().map(|t| Value::String(format!("t{t}"))).collect())
                },
                text(format!("r{}", r.code % 7)),
                FieldValue::Single(Value::Double(r.amount)),
            ];
            segment.append(&row).expect("a consuming row");
        }
        provider.add_consuming(Arc::clone(&segment));
        return (dir, Arc::new(provider), Some(segment));
    }
    (dir, Arc::new(provider), None)
}

async fn answers(plan: Arc<dyn ExecutionPlan>, ctx: &datafusion::prelude::SessionContext) -> Vec<String> {
    let batches = collect(plan, ctx.task_ctx()).await.expect("runs");
    let mut rows = Vec::new();
    for batch in &batches {
        for r in 0..batch.num_rows() {
            let cells: Vec<String> = (0..batch.num_columns())
                .map(|c| datafusion::arrow::util::display::array_value_to_string(batch.column(c), r).expect("a cell"))
                .collect();
            rows.push(cells.join("|"));
        }
    }
    rows.sort();
    rows
}

/// Whether two sorted answers agree: cell by cell, floats to 1e-9 relative.
fn same(plain: &[String], rewritten: &[String]) -> bool {
    let cell = |a: &str, b: &str| {
        a == b
            || match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
                _ => false,
            }
    };
    plain.len() == rewritten.len()
        && plain.iter().zip(rewritten).all(|(p, r)| {
            let (p, r): (Vec<&str>, Vec<&str>) = (p.split('|').collect(), r.split('|').collect());
            p.len() == r.len() && p.iter().zip(&r).all(|(a, b)| cell(a, b))
        })
}

/// How a statement was answered both ways.
struct BothWays {
    /// Rewritten to an aggregate on ids.
    on_ids: bool,
    /// A plain partial aggregate over a scan is left (for segments that cannot).
    plain_left: bool,
    plain: Vec<String>,
    rewritten: Vec<String>,
}

async fn both_ways(provider: &Arc<SegmentTable>, sql: &str, null_handling: bool) -> BothWays {
    let ctx = cuvee_query::session();
    let provider = Arc::new(provider.with_options(ScanOptions { null_handling, ..ScanOptions::default() }));
    cuvee_query::register(&ctx, provider).expect("registered");
    // Two plans: a plan's repartitions run once.
    let planned =
        || async { ctx.sql(sql).await.expect("plans").create_physical_plan().await.expect("a physical plan") };
    let plan = planned().await;
    let rewritten = cuvee_query::segment_aggregate::rewrite(planned().await).expect("rewrites");
    let shown = displayable(rewritten.as_ref()).indent(true).to_string();
    let lines: Vec<&str> = shown.lines().collect();
    let plain_left =
        lines.windows(2).any(|w| w[0].contains("AggregateExec: mode=Partial") && w[1].contains("SegmentScanExec"));
    let on_ids = shown.contains("SegmentAggregateExec");
    let (plain, answered) = (answers(plan, &ctx).await, answers(Arc::clone(&rewritten), &ctx).await);
    if on_ids {
        // What EXPLAIN ANALYZE shows of it: groups, ids aggregated, docs decoded.
        let shown = DisplayableExecutionPlan::with_metrics(rewritten.as_ref()).indent(true).to_string();
        assert!(shown.contains("groups_on_ids=") && shown.contains("ids_aggregated="), "{shown}");
    }
    BothWays { on_ids, plain_left, plain, rewritten: answered }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime")
}

/// Random rows, segment sizes, group keys, aggregates and filters: the answers on ids are
/// the plain plan's, and the rewrite happens in (nearly) every case — it may decline one,
/// such as a column of nulls only, but never takes a column it cannot read on ids.
#[test]
fn counts_on_ids_equal_the_plain_plan() {
    let (cases, on_ids_count) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    let (consuming_on_ids, consuming_plain) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    let sealed_plain = std::cell::Cell::new(0u32);
    let strategy = (
        proptest::collection::vec(row(), 1..400),
        20usize..200,
        // Some tables' config changed: a grouped or measured column raw in later segments.
        proptest::option::of((0usize..400, proptest::sample::select(vec!["device", "maybe", "amount"]))),
        (0usize..60, proptest::sample::select(vec![3u32, 12])),
        proptest::sample::subsequence(vec!["country", "device", "code", "maybe"], 0..4),
        proptest::sample::subsequence(
            vec![
                "COUNT(*)",
                "COUNT(code)",
                "SUM(code)",
                "SUM(amount)",
                "AVG(code)",
                "AVG(amount)",
                "MIN(code)",
                "MAX(code)",
                "MIN(amount)",
                "MAX(amount)",
                "MAX(maybe)",
                "pinot_percentile(code, 50)",
                "pinot_percentile(amount, 90)",
                "pinot_percentile(maybe, 100)",
            ],
            1..5,
        ),
        proptest::sample::select(vec![
            "",
            "WHERE country = 'c3'",
            "WHERE code > 10",
            "WHERE country IN ('c1', 'c2') AND device <> 'tv'",
            "WHERE code BETWEEN 0 AND 5 OR device = 'mobile'",
            "WHERE country = 'nowhere'",
        ]),
    );
    // PROPTEST_CASES (scripts/test.sh sets 1,000) or 48.
    let wanted = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(48);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(wanted));
    let outcome =
        runner.run(&strategy, |(rows, per_segment, raw_later, (consuming, shift), groups, aggregates, filter)| {
            // Some cases hold a consuming segment too, aggregated on its ids where it can be.
            let consuming = consuming.min(rows.len() / 2);
            let (sealed_rows, consuming_rows) = rows.split_at(rows.len() - consuming);
            let (_dir, provider, consuming_segment) = table(sealed_rows, per_segment, raw_later, consuming_rows, shift);
            let keys = groups.join(", ");
            let sql = if groups.is_empty() {
                format!("SELECT {} FROM t {filter}", aggregates.join(", "))
            } else {
                format!("SELECT {keys}, {} FROM t {filter} GROUP BY {keys}", aggregates.join(", "))
            };
            let BothWays { on_ids, plain_left, plain, rewritten } =
                runtime().block_on(both_ways(&provider, &sql, false));
            let measured = ["code", "amount", "maybe"].into_iter().filter(|c| aggregates.iter().any(|a| a.contains(c)));
            let measured: Vec<&str> = measured.collect();
            let percentiles = ["code", "amount", "maybe"]
                .into_iter()
                .filter(|c| aggregates.iter().any(|a| a.starts_with(&format!("pinot_percentile({c}"))));
            let percentiles: Vec<&str> = percentiles.collect();
            // Each segment is on ids exactly when its columns allow it; the others are left to
            // a plain partial aggregate.
            let sealed_fit: Vec<bool> = provider
                .listing()
                .sealed
                .iter()
                .map(|s| {
                    groups.iter().all(|c| s.groups_on_ids(c))
                        && measured.iter().all(|c| s.measures_on_ids(c))
                        && percentiles.iter().all(|c| s.histogram_fits(&groups, c))
                })
                .collect();
            let consuming_fits = consuming_segment.as_ref().map(|segment| {
                let snapshot = segment.snapshot();
                groups.iter().all(|c| snapshot.groups_on_ids(c))
                    && measured.iter().all(|c| snapshot.measures_on_ids(c))
                    && percentiles.iter().all(|c| snapshot.histogram_fits(&groups, c))
            });
            let fit: Vec<bool> = sealed_fit.iter().copied().chain(consuming_fits).collect();
            prop_assert!(
                !on_ids || fit.contains(&true),
                "{} was rewritten though no segment has its columns on ids",
                sql
            );
            prop_assert!(same(&plain, &rewritten), "{}: {:?} vs {:?}", sql, plain, rewritten);
            if on_ids && sealed_fit.contains(&false) {
                sealed_plain.set(sealed_plain.get() + 1);
            }
            if on_ids {
                prop_assert_eq!(plain_left, fit.contains(&false), "{}: segments on ids {:?}", sql, fit);
                if let Some(fits) = consuming_fits {
                    consuming_on_ids.set(consuming_on_ids.get() + u32::from(fits));
                    consuming_plain.set(consuming_plain.get() + u32::from(!fits));
                }
            }
            if let Some(first) = groups.first() {
                // An exact distinct count: each segment's distinct values from its ids, merged
                // as sorted runs; both ways count what DataFusion's group-by counts.
                let sql = format!("SELECT COUNT(DISTINCT {first}) FROM t {filter}");
                let answered = runtime().block_on(both_ways(&provider, &sql, false));
                prop_assert_eq!(&answered.plain, &answered.rewritten, "{}", sql);
                let grouped = format!("SELECT COUNT({first}) FROM (SELECT {first} FROM t {filter} GROUP BY {first})");
                let hashed = runtime().block_on(both_ways(&provider, &grouped, false));
                prop_assert_eq!(&answered.rewritten, &hashed.plain, "{} vs {}", sql, grouped);
            }
            cases.set(cases.get() + 1);
            on_ids_count.set(on_ids_count.get() + u32::from(on_ids));
            Ok(())
        });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    assert!(on_ids_count.get() * 10 >= cases.get() * 8, "rewritten in {} of {} cases", on_ids_count.get(), cases.get());
    assert!(consuming_on_ids.get() > 0, "no case aggregated a consuming segment on ids");
    assert!(consuming_plain.get() > 0, "no case split sealed (on ids) from consuming (plain) segments");
    assert!(sealed_plain.get() > 0, "no case split sealed segments into on ids and plain");
}

#[test]
fn other_shapes_keep_the_plain_plan() {
    let rows: Vec<Row> = (0..300)
        .map(|i| cycling(i, (i % 4 != 0).then_some(i64::from(i % 5)), vec![(i % 4) as u8], f64::from(i)))
        .collect();
    let (_dir, provider, _) = table(&rows, 100, None, &[], 12);
    let rt = runtime();
    for (sql, null_handling) in [
        ("SELECT tags, COUNT(*) FROM t GROUP BY tags", false),
        ("SELECT raw, COUNT(*) FROM t GROUP BY raw", false),
        ("SELECT country, COUNT(maybe) FROM t GROUP BY country", true),
        ("SELECT country, MAX(maybe) FROM t GROUP BY country", true),
        ("SELECT maybe, COUNT(*) FROM t GROUP BY maybe", true),
        ("SELECT country, SUM(code * 2) FROM t GROUP BY country", false),
        ("SELECT MIN(country), MAX(device) FROM t", false),
        ("SELECT CAST(code AS BIGINT), COUNT(*) FROM t GROUP BY CAST(code AS BIGINT)", false),
        ("SELECT SUM(code) FILTER (WHERE code > 3) FROM t", false),
    ] {
        let answered = rt.block_on(both_ways(&provider, sql, null_handling));
        assert!(!answered.on_ids, "{sql} should keep the plain plan");
        assert_eq!(answered.plain, answered.rewritten, "{sql}");
    }
    for (sql, null_handling) in [
        // Null handling without nulls in the group columns is still counted on ids.
        ("SELECT country, device, COUNT(*) FROM t GROUP BY country, device", true),
        // DISTINCT is planned as a grouping with no aggregate below the count: its groups come from ids.
        ("SELECT country, COUNT(DISTINCT device) FROM t GROUP BY country", false),
        ("SELECT DISTINCT device, code FROM t WHERE country <> 'c1'", false),
        ("SELECT DISTINCT code FROM t WHERE country <> 'c1'", false),
        ("SELECT DISTINCT amount FROM t WHERE code BETWEEN 3 AND 7", false),
        ("SELECT COUNT(DISTINCT maybe) FROM t", false),
        ("SELECT country, SUM(amount), AVG(code), MIN(amount), MAX(code) FROM t GROUP BY country", false),
        ("SELECT country, COUNT(maybe), MAX(maybe) FROM t GROUP BY country", false),
        ("SELECT SUM(code), AVG(amount), MAX(amount) FROM t WHERE device = 'tv'", false),
        ("SELECT SUM(code), MIN(code) FROM t", true),
        ("SELECT device, pinot_percentile(code, 99), pinot_percentile(amount, 0) FROM t GROUP BY device", false),
        // COUNT of a column without nulls counts docs, whatever the column's encoding.
        ("SELECT device, COUNT(raw), SUM(code) FROM t GROUP BY device", false),
    ] {
        let BothWays { on_ids, plain, rewritten, .. } = rt.block_on(both_ways(&provider, sql, null_handling));
        assert!(on_ids, "{sql} should be aggregated on ids");
        assert!(same(&plain, &rewritten), "{sql}: {plain:?} vs {rewritten:?}");
    }
}

/// A realtime table: sealed segments without nulls, and a consuming segment (chunks of 8
/// docs, so its nearly unique `amount` is kept raw after the first) with some. The
/// consuming segment aggregates on its ids — measuring a raw column too — except where its
/// nulls count (null handling) or a group column has no ids; the answers never change.
#[test]
fn a_consuming_segment_aggregates_on_ids_where_its_columns_allow() {
    let row = |i: i32, maybe: Option<i64>| cycling(i, maybe, vec![], f64::from(i) * 1.25);
    let sealed: Vec<Row> = (0..200).map(|i| row(i, Some(i64::from(i % 5)))).collect();
    let consuming: Vec<Row> = (200..300).map(|i| row(i, (i % 4 != 0).then_some(i64::from(i % 5)))).collect();
    let (_dir, provider, segment) = table(&sealed, 100, None, &consuming, 3);
    let snapshot = segment.expect("a consuming segment").snapshot();
    assert!(snapshot.groups_on_ids("country") && snapshot.groups_on_ids("maybe"));
    // Chunks of 8 docs: a column whose first chunk is nearly distinct, or whose docs'
    // bytes outweigh its dictionary's, is kept raw from there on.
    for raw in ["amount", "code", "device"] {
        assert!(!snapshot.groups_on_ids(raw), "{raw} is kept raw");
    }
    assert!(snapshot.measures_on_ids("amount") && snapshot.measures_on_ids("code"));
    let rt = runtime();
    for (sql, null_handling, consuming_on_ids) in [
        ("SELECT country, maybe, COUNT(*) FROM t GROUP BY country, maybe", false, true),
        ("SELECT country, SUM(amount), MIN(amount), MAX(amount), AVG(code) FROM t GROUP BY country", false, true),
        ("SELECT SUM(code), MIN(amount), MAX(code) FROM t WHERE device IN ('tv', 'mobile')", false, true),
        ("SELECT country, MAX(maybe), COUNT(maybe) FROM t GROUP BY country", false, true),
        ("SELECT country, pinot_percentile(maybe, 90) FROM t GROUP BY country", false, true),
        ("SELECT country, COUNT(DISTINCT maybe) FROM t GROUP BY country", false, true),
        // A plain grouping of one column: the distinct ids of each segment.
        ("SELECT COUNT(DISTINCT country) FROM t WHERE maybe > 1", false, true),
        ("SELECT DISTINCT maybe FROM t", false, true),
        // Its nulls count under null handling; the sealed ones have none.
        ("SELECT country, MAX(maybe), COUNT(maybe) FROM t GROUP BY country", true, false),
        ("SELECT country, COUNT(*) FROM t GROUP BY country", true, true),
        // A raw column is measured, not grouped nor counted by value.
        ("SELECT device, COUNT(*) FROM t GROUP BY device", false, false),
        ("SELECT amount, COUNT(*) FROM t GROUP BY amount", false, false),
        ("SELECT country, pinot_percentile(amount, 50) FROM t GROUP BY country", false, false),
    ] {
        let BothWays { on_ids, plain_left, plain, rewritten } = rt.block_on(both_ways(&provider, sql, null_handling));
        assert!(on_ids, "{sql}: the sealed segments aggregate on ids");
        assert_eq!(plain_left, !consuming_on_ids, "{sql}: the consuming segment on ids: {consuming_on_ids}");
        assert!(same(&plain, &rewritten), "{sql}: {plain:?} vs {rewritten:?}");
    }
}

/// `CONFIG` with `column` in `noDictionaryColumns` too.
fn raw_too(column: &str) -> String {
    let changed = format!(r#""noDictionaryColumns": ["raw", "{column}"]"#);
    CONFIG.replace(r#""noDictionaryColumns": ["raw"]"#, &changed)
}

/// A table whose config changed: segments imported before `device` joined
/// `noDictionaryColumns` group on its ids, the later ones (raw `device`) are read by the
/// plain partial aggregate beside them, and the answers are the plain plan's.
#[test]
fn segments_without_ids_take_the_plain_path_beside_the_others() {
    let rows: Vec<Row> = (0..400).map(|i| cycling(i, Some(i64::from(i % 5)), vec![], f64::from(i) * 0.5)).collect();
    let (_dir, provider, _) = table(&rows, 100, Some((300, "device")), &[], 12);
    let on_ids: Vec<bool> = provider.listing().sealed.iter().map(|s| s.groups_on_ids("device")).collect();
    assert_eq!(on_ids.iter().filter(|fits| **fits).count(), 3, "device on ids in the first three of {on_ids:?}");
    assert_eq!(on_ids.len(), 4);
    let rt = runtime();
    for sql in [
        "SELECT device, COUNT(*), SUM(amount) FROM t GROUP BY device",
        "SELECT device, country, MAX(code), AVG(amount) FROM t WHERE code > 2 GROUP BY device, country",
        "SELECT device, pinot_percentile(code, 90) FROM t GROUP BY device",
        "SELECT COUNT(DISTINCT device) FROM t",
    ] {
        let BothWays { on_ids, plain_left, plain, rewritten } = rt.block_on(both_ways(&provider, sql, false));
        assert!(on_ids, "{sql}: the older segments aggregate on ids");
        assert!(plain_left, "{sql}: the newer segment is left to the plain partial aggregate");
        assert!(same(&plain, &rewritten), "{sql}: {plain:?} vs {rewritten:?}");
        assert!(!plain.is_empty(), "{sql}");
    }
    // Grouped by columns every segment has on ids: no plain path.
    let BothWays { on_ids, plain_left, .. } =
        rt.block_on(both_ways(&provider, "SELECT country, COUNT(*) FROM t GROUP BY country", false));
    assert!(on_ids && !plain_left);
}
