//! `SegmentBuilder::append_columns` adds docs a column at a time: the same segment as rows
//! pushed one by one, and nothing at all when a column fails or is given another count.

use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_segments::error::SegmentError;
use cuvee_segments::{FieldValue, SegmentBuilder, SegmentIdentity};

fn table() -> Table {
    let schema = Schema::from_json(
        r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"s","dataType":"STRING"},
              {"name":"tags","dataType":"STRING","singleValueField":false}],
            "metricFieldSpecs":[{"name":"n","dataType":"LONG"}]}"#,
    )
    .unwrap();
    let config = TableConfigJson::from_json(
        r#"{"tableName":"t","tableType":"OFFLINE","tableIndexConfig":{"invertedIndexColumns":["s","tags"]}}"#,
    )
    .unwrap();
    Table::new(schema, config).unwrap()
}

const ROWS: usize = 50;

fn text(row: usize) -> Option<String> {
    (row % 7 != 3).then(|| format!("s{}", row % 5))
}

fn tags(row: usize) -> Vec<String> {
    (0..row % 4).map(|t| format!("t{t}")).collect()
}

fn number(row: usize) -> Option<i64> {
    (row % 9 != 1).then_some(row as i64 * 31 - 700)
}

fn by_rows(rows: std::ops::Range<usize>, builder: &mut SegmentBuilder) {
    for row in rows {
        let field = |v: Option<Value>| v.map_or(FieldValue::Null, FieldValue::Single);
        builder
            .push(&[
                field(text(row).map(Value::String)),
                FieldValue::Multi(tags(row).into_iter().map(Value::String).collect()),
                field(number(row).map(Value::Long)),
            ])
            .unwrap();
    }
}

fn by_columns(rows: std::ops::Range<usize>, builder: &mut SegmentBuilder) -> Result<u32, SegmentError> {
    builder.append_columns(|column| {
        for row in rows.clone() {
            match column.spec().name.as_str() {
                "s" => match text(row) {
                    Some(t) => column.push_text(&t)?,
                    None => column.push_null()?,
                },
                "tags" => column.push_texts(tags(row).iter().map(String::as_str))?,
                _ => match number(row) {
                    Some(n) => column.push_value(&Value::Long(n))?,
                    None => column.push_null()?,
                },
            }
        }
        Ok(())
    })
}

fn bytes(builder: &SegmentBuilder) -> Vec<u8> {
    builder.build(&SegmentIdentity { name: "t_0".into(), ..Default::default() }).unwrap()
}

#[test]
fn columns_appended_make_the_segment_rows_make() {
    let (mut rows, mut columns) = (SegmentBuilder::new(&table()), SegmentBuilder::new(&table()));
    by_rows(0..ROWS, &mut rows);
    assert_eq!(by_columns(0..20, &mut columns).unwrap(), 20);
    assert_eq!(by_columns(20..ROWS, &mut columns).unwrap(), 30);
    assert_eq!(bytes(&columns), bytes(&rows));
}

#[test]
fn a_failed_or_uneven_append_leaves_the_builder_as_it_was() {
    let mut reference = SegmentBuilder::new(&table());
    by_rows(0..20, &mut reference);
    let mut builder = SegmentBuilder::new(&table());
    by_columns(0..20, &mut builder).unwrap();
    // The last column refuses a value after the others took theirs.
    let refused = builder.append_columns(|column| match column.spec().name.as_str() {
        "n" => {
            column.push_value(&Value::Long(1))?;
            column.push_value(&Value::String("not a long".into()))
        }
        "tags" => {
            column.push_texts(["x", "y"])?;
            column.push_texts([])
        }
        _ => {
            column.push_text("a")?;
            column.push_null()
        }
    });
    assert!(matches!(refused, Err(SegmentError::InvalidRow(ref m)) if m.contains("not a long")), "{refused:?}");
    // One column given a doc fewer than the others.
    let uneven = builder.append_columns(|column| {
        column.push_null()?;
        if column.spec().name != "tags" {
            column.push_null()?;
        }
        Ok(())
    });
    assert!(matches!(uneven, Err(SegmentError::InvalidRow(ref m)) if m.contains("tags")), "{uneven:?}");
    // A STRING appender is not a multi-value one.
    let wrong = builder.append_columns(|column| column.push_texts(["x"]));
    assert!(wrong.is_err());
    assert_eq!(builder.num_docs(), 20);
    assert_eq!(bytes(&builder), bytes(&reference));
}
