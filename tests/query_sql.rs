//! SQL over segments through DataFusion, on Pinot's baseballStats sample, checked against
//! answers DuckDB gives on the same Parquet file (nulls read as Pinot's defaults, so a null
//! metric counts as 0).

use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_ingest::{import, ImportOptions};
use cuvee_query::{ScanOptions, SegmentTable};
use cuvee_segments::{FieldValue, MutableSegment, TableStore};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;
use std::path::Path;
use std::sync::Arc;

fn baseball() -> (tempfile::TempDir, SessionContext) {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pinot-examples/baseballStats");
    let schema =
        Schema::from_json(&std::fs::read_to_string(examples.join("baseballStats_schema.json")).unwrap()).unwrap();
    let config = TableConfigJson::from_json(
        &std::fs::read_to_string(examples.join("baseballStats_offline_table_config.json")).unwrap(),
    )
    .unwrap();
    let table = Table::new(schema, config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    import(
        &table,
        &[examples.join("rawdata/baseballStats.zstd.parquet")],
        dir.path(),
        &ImportOptions { progress: false, ..Default::default() },
    )
    .unwrap();
    let store = TableStore::open_or_create(dir.path(), &table).unwrap();
    let (provider, errors) = SegmentTable::open(&store, table, ScanOptions::default());
    assert!(errors.is_empty());
    let ctx = cuvee_query::session();
    cuvee_query::register(&ctx, Arc::new(provider)).unwrap();
    (dir, ctx)
}

async fn rows(ctx: &SessionContext, sql: &str) -> Vec<Vec<String>> {
    let batches = ctx
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let mut out = Vec::new();
    for batch in batches {
        for r in 0..batch.num_rows() {
            out.push(
                (0..batch.num_columns())
                    .map(|c| datafusion::arrow::util::display::array_value_to_string(batch.column(c), r).unwrap())
                    .collect(),
            );
        }
    }
    out
}

async fn count(ctx: &SessionContext, sql: &str) -> i64 {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

async fn plan(ctx: &SessionContext, sql: &str) -> String {
    let explained = rows(ctx, &format!("EXPLAIN {sql}")).await;
    explained.iter().map(|r| r.join(" ")).collect::<Vec<_>>().join("\n")
}

#[tokio::test]
async fn answers_match_duckdb() {
    let (_dir, ctx) = baseball();
    let c = |sql: &'static str| {
        let ctx = ctx.clone();
        async move { count(&ctx, sql).await }
    };
    assert_eq!(c("SELECT COUNT(*) FROM baseballStats").await, 97_889);
    assert_eq!(c("SELECT COUNT(*) FROM baseballStats WHERE teamID = 'SFN'").await, 2206);
    assert_eq!(c("SELECT SUM(homeRuns) FROM baseballStats").await, 274_578);
    assert_eq!(c("SELECT COUNT(*) FROM baseballStats WHERE yearID >= 2000 AND homeRuns >= 40").await, 97);
    assert_eq!(c("SELECT COUNT(*) FROM baseballStats WHERE playerName LIKE 'Jose%'").await, 2816);
    assert_eq!(c("SELECT COUNT(*) FROM baseballStats WHERE teamID NOT IN ('SFN', 'NYA', 'BOS')").await, 87_484);
    assert_eq!(c("SELECT COUNT(DISTINCT playerID) FROM baseballStats WHERE teamID = 'SFN'").await, 816);
    assert_eq!(c("SELECT COUNT(*) FROM baseballStats WHERE playerName IS NULL").await, 46);
    assert_eq!(
        c("SELECT COUNT(*) FROM baseballStats WHERE (teamID = 'SFN' OR teamID = 'LAN') AND NOT (yearID < 2000)").await,
        1253
    );
    assert_eq!(
        rows(
            &ctx,
            "SELECT COUNT(*), MAX(hits) FROM baseballStats WHERE yearID BETWEEN 1990 AND 1999 AND league = 'NL'"
        )
        .await,
        vec![vec!["5839".to_string(), "227".to_string()]]
    );
    assert_eq!(
        rows(&ctx, "SELECT teamID, SUM(homeRuns) AS hr FROM baseballStats GROUP BY teamID ORDER BY hr DESC LIMIT 3")
            .await,
        vec![
            vec!["NYA".to_string(), "14859".into()],
            vec!["CHN".into(), "13202".into()],
            vec!["DET".into(), "12854".into()]
        ]
    );
    assert_eq!(
        rows(&ctx, "SELECT playerID, yearID, homeRuns FROM baseballStats WHERE teamID = 'SFN' AND homeRuns >= 40 ORDER BY homeRuns DESC, yearID LIMIT 3").await,
        vec![
            vec!["bondsba01".to_string(), "2001".into(), "73".into()],
            vec!["mayswi01".into(), "1965".into(), "52".into()],
            vec!["mayswi01".into(), "1962".into(), "49".into()]
        ]
    );
}

#[tokio::test]
async fn exact_filters_leave_no_filter_above_the_scan() {
    let (_dir, ctx) = baseball();
    let exact =
        plan(&ctx, "SELECT playerID FROM baseballStats WHERE teamID = 'SFN' AND yearID BETWEEN 2000 AND 2005").await;
    assert!(exact.contains("SegmentScanExec"), "{exact}");
    assert!(!exact.contains("FilterExec"), "an exact filter was applied twice:\n{exact}");
    // A cast makes it inexact: DataFusion keeps its own filter above the scan.
    let inexact = plan(&ctx, "SELECT playerID FROM baseballStats WHERE CAST(yearID AS DOUBLE) > 2000.5").await;
    assert!(inexact.contains("FilterExec"), "{inexact}");
    // COUNT(*) with no filter comes from the segments' row counts, not a scan.
    let counted = plan(&ctx, "SELECT COUNT(*) FROM baseballStats").await;
    assert!(!counted.contains("SegmentScanExec"), "{counted}");
}

#[tokio::test]
async fn explain_analyze_says_which_index_answered() {
    let (_dir, ctx) = baseball();
    let analyzed = rows(&ctx, "EXPLAIN ANALYZE SELECT COUNT(*) FROM baseballStats WHERE teamID = 'SFN'").await;
    let text = analyzed.iter().map(|r| r.join(" ")).collect::<Vec<_>>().join("\n");
    assert!(text.contains("leaves_by_inverted_index=1"), "{text}");
    assert!(text.contains("docs_matched=2.21 K") && text.contains("docs_total=97.89 K"), "{text}");
    // A value no segment holds: the segment is pruned by its dictionary before evaluation.
    let analyzed =
        rows(&ctx, "EXPLAIN ANALYZE SELECT COUNT(*) FROM baseballStats WHERE teamID = 'XXX' AND yearID > 2000").await;
    let text = analyzed.iter().map(|r| r.join(" ")).collect::<Vec<_>>().join("\n");
    assert!(text.contains("segments_pruned=1") && text.contains("segments_scanned=0"), "{text}");
}

#[tokio::test]
async fn consuming_rows_are_queryable_at_once() {
    let schema = Schema::from_json(r#"{"schemaName":"events","dimensionFieldSpecs":[{"name":"kind","dataType":"STRING"}],"metricFieldSpecs":[{"name":"n","dataType":"LONG"}]}"#).unwrap();
    let table = Table::new(
        schema,
        TableConfigJson::from_json(
            r#"{"tableName":"events","tableType":"OFFLINE","tableIndexConfig":{"invertedIndexColumns":["kind"]}}"#,
        )
        .unwrap(),
    )
    .unwrap();
    let consuming = Arc::new(MutableSegment::new(&table, "events__0__0"));
    let provider = SegmentTable::new(table, ScanOptions::default());
    provider.add_consuming(Arc::clone(&consuming));
    let ctx = cuvee_query::session();
    cuvee_query::register(&ctx, Arc::new(provider)).unwrap();
    let sql = "SELECT COUNT(*), SUM(n) FROM events WHERE kind = 'click'";
    assert_eq!(rows(&ctx, sql).await, vec![vec!["0".to_string(), String::new()]]);
    for i in 0..10 {
        let kind = if i % 2 == 0 { "click" } else { "view" };
        consuming
            .append(&[FieldValue::Single(Value::String(kind.into())), FieldValue::Single(Value::Long(i))])
            .unwrap();
    }
    assert_eq!(rows(&ctx, sql).await, vec![vec!["5".to_string(), "20".into()]]);
    let batches =
        ctx.sql("SELECT n FROM events WHERE kind = 'view' ORDER BY n").await.unwrap().collect().await.unwrap();
    assert_eq!(batches.iter().map(|b| b.column(0).len()).sum::<usize>(), 5);
}

#[tokio::test]
async fn min_and_max_of_whole_segments_come_from_metadata() {
    let (_dir, ctx) = baseball();
    let sql = "SELECT MIN(yearID), MAX(yearID), MIN(teamID), MAX(teamID), MAX(homeRuns), COUNT(*) FROM baseballStats";
    // DuckDB on the same file (null homeRuns read as the metric default 0).
    assert_eq!(rows(&ctx, sql).await, vec![vec!["1871", "2013", "ALT", "WSU", "73", "97889"]]);
    let plan =
        rows(&ctx, &format!("EXPLAIN {sql}")).await.into_iter().map(|r| r.join(" ")).collect::<Vec<_>>().join("\n");
    assert!(!plan.contains("SegmentScanExec"), "answered from segment metadata, no scan:\n{plan}");
    // With a filter the scan runs (metadata covers whole segments only).
    let filtered = rows(&ctx, "EXPLAIN SELECT MAX(yearID) FROM baseballStats WHERE teamID = 'SFN'")
        .await
        .into_iter()
        .map(|r| r.join(" "))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(filtered.contains("SegmentScanExec"), "{filtered}");
}
