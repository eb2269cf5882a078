//! A physical plan with cuvee's scan and UDFs survives datafusion-proto through cuvee's
//! extension codec and gives the same answer — the cluster will ship plans this way.

use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_ingest::{import, ImportOptions};
use cuvee_query::codec::{CuveeCodec, SegmentResolver};
use cuvee_query::{ScanOptions, SegmentTable};
use cuvee_segments::{FieldValue, MutableSegment, TableStore};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::physical_plan::{collect, displayable};
use datafusion::prelude::SessionContext;
use datafusion_proto::bytes::{
    physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Default)]
struct Tables(BTreeMap<String, Arc<SegmentTable>>);

impl SegmentResolver for Tables {
    fn table(&self, name: &str) -> Option<Arc<SegmentTable>> {
        self.0.get(name).cloned()
    }

    fn tables(&self) -> Vec<Arc<SegmentTable>> {
        self.0.values().cloned().collect()
    }
}

fn setup() -> (tempfile::TempDir, SessionContext, Arc<Tables>) {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pinot-examples/baseballStats");
    let schema =
        Schema::from_json(&std::fs::read_to_string(examples.join("baseballStats_schema.json")).unwrap()).unwrap();
    let config = TableConfigJson::from_json(
        &std::fs::read_to_string(examples.join("baseballStats_offline_table_config.json")).unwrap(),
    )
    .unwrap();
    let table = Table::new(schema, config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = ImportOptions { progress: false, max_rows_per_segment: 40_000, ..Default::default() };
    import(&table, &[examples.join("rawdata/baseballStats.zstd.parquet")], dir.path(), &options).unwrap();
    let store = TableStore::open_or_create(dir.path(), &table).unwrap();
    let (baseball, errors) = SegmentTable::open(&store, table, ScanOptions::default());
    assert!(errors.is_empty());

    // A table whose only segment is consuming, with a multi-value column.
    let posts_schema = Schema::from_json(r#"{"schemaName":"posts","dimensionFieldSpecs":[{"name":"id","dataType":"INT"},{"name":"tags","dataType":"STRING","singleValueField":false}]}"#).unwrap();
    let posts = Table::new(posts_schema, TableConfigJson::from_json(r#"{"tableName":"posts","tableType":"REALTIME","tableIndexConfig":{"streamConfigs":{"streamType":"kafka"}}}"#).unwrap()).unwrap();
    let consuming = Arc::new(MutableSegment::new(&posts, "posts__0__0__20260101T0000Z"));
    for (id, tags) in [(1, vec!["a", "b"]), (2, vec!["b"]), (3, vec!["c", "a"])] {
        let tags = tags.into_iter().map(|t| Value::String(t.into())).collect();
        consuming.append(&[FieldValue::Single(Value::Int(id)), FieldValue::Multi(tags)]).unwrap();
    }
    let posts = SegmentTable::new(posts, ScanOptions::default());
    posts.add_consuming(consuming);

    let ctx = cuvee_query::session();
    let mut tables = Tables::default();
    for table in [baseball, posts] {
        let table = Arc::new(table);
        cuvee_query::register(&ctx, Arc::clone(&table)).unwrap();
        tables.0.insert(table.table().name().to_string(), table);
    }
    (dir, ctx, Arc::new(tables))
}

#[tokio::test]
async fn plans_round_trip_through_the_codec() {
    let (_dir, ctx, tables) = setup();
    let codec = CuveeCodec::new(tables);
    for sql in [
        "SELECT teamID, COUNT(*), SUM(homeRuns) FROM baseballStats WHERE teamID IN ('SFN', 'NYA') AND toEpochDays(yearID * 86400000) > 1990 GROUP BY teamID ORDER BY teamID",
        "SELECT playerID, yearID FROM baseballStats WHERE homeRuns > 60 ORDER BY playerID, yearID",
        "SELECT id FROM posts WHERE tags = 'a' ORDER BY id",
        "SELECT id FROM posts WHERE tags <> 'a' ORDER BY id",
    ] {
        let frame = ctx.sql(sql).await.unwrap();
        let task = Arc::new(frame.task_ctx());
        let plan = frame.create_physical_plan().await.unwrap();
        let bytes = physical_plan_to_bytes_with_extension_codec(Arc::clone(&plan), &codec).unwrap();
        let decoded = physical_plan_from_bytes_with_extension_codec(&bytes, &task, &codec).unwrap();
        assert_eq!(displayable(plan.as_ref()).indent(false).to_string(), displayable(decoded.as_ref()).indent(false).to_string(), "{sql}");
        let expected = pretty_format_batches(&collect(plan, Arc::clone(&task)).await.unwrap()).unwrap().to_string();
        let got = pretty_format_batches(&collect(decoded, task).await.unwrap()).unwrap().to_string();
        assert_eq!(got, expected, "{sql}");
        assert!(expected.lines().count() > 4, "{sql} returns rows:\n{expected}");
    }
}

#[tokio::test]
async fn a_fragment_naming_a_missing_segment_is_refused() {
    let (_dir, ctx, tables) = setup();
    let frame = ctx.sql("SELECT COUNT(*) FROM baseballStats WHERE teamID = 'SFN'").await.unwrap();
    let task = Arc::new(frame.task_ctx());
    let plan = frame.create_physical_plan().await.unwrap();
    let bytes = physical_plan_to_bytes_with_extension_codec(plan, &CuveeCodec::new(tables)).unwrap();
    // A server that holds no tables.
    let error =
        physical_plan_from_bytes_with_extension_codec(&bytes, &task, &CuveeCodec::new(Arc::new(Tables::default())))
            .unwrap_err();
    assert!(error.to_string().contains("table baseballStats is not on this server"), "{error}");
}

/// A broker that listed a partition while a segment was being sealed names both it and the
/// next one; the first name's successors already cover the second: every row once, no error
/// (this was the "consuming segment … is not on this server" flake of the cluster test).
#[test]
fn a_sealing_segment_and_its_successor_named_together_are_read_once() {
    let (_dir, _ctx, tables) = setup();
    let posts = tables.0.get("posts").unwrap();
    let next = Arc::new(MutableSegment::new(posts.table(), "posts__0__1__20260101T0001Z"));
    next.append(&[FieldValue::Single(Value::Int(4)), FieldValue::Multi(vec![])]).unwrap();
    posts.add_consuming(next);
    let first = "posts__0__0__20260101T0000Z".to_string();
    let second = "posts__0__1__20260101T0001Z".to_string();
    for names in [vec![first.clone(), second.clone()], vec![second.clone(), first.clone()]] {
        let sources = posts.sources_named(&[], &names).unwrap();
        let mut read: Vec<&str> = sources.iter().map(|s| s.name()).collect();
        read.sort();
        assert_eq!(read, vec![first.as_str(), second.as_str()], "{names:?}");
    }
    let Err(missing) = posts.sources_named(&[], &["posts__1__0__20260101T0000Z".to_string()]) else {
        panic!("a partition the server lacks is refused")
    };
    assert!(missing.to_string().contains("not on this server"), "{missing}");
}
