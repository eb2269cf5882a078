//! The key state against a model: the latest row per key (ties to the later one), with
//! deletes hiding keys — through seals that reorder docs, snapshots, and restarts that
//! rebuild from the last publish and consume the rest again.

use super::*;
use cuvee_catalog::{Schema, TableConfigJson};
use cuvee_segments::SegmentIdentity;
use proptest::prelude::*;
use std::collections::BTreeMap;

const SCHEMA: &str = r#"{"schemaName":"scores",
  "dimensionFieldSpecs":[{"name":"id","dataType":"INT"},{"name":"seq","dataType":"LONG"},
    {"name":"sortkey","dataType":"INT"},{"name":"del","dataType":"BOOLEAN"},
    {"name":"tags","dataType":"STRING","singleValueField":false}],
  "metricFieldSpecs":[{"name":"score","dataType":"LONG"}],
  "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:MILLISECONDS:EPOCH","granularity":"1:MILLISECONDS"}],
  "primaryKeyColumns":["id"]}"#;

fn table(upsert: &str) -> Table {
    let config = format!(
        r#"{{"tableName":"scores","tableType":"REALTIME","segmentsConfig":{{"timeColumnName":"ts"}},
          "tableIndexConfig":{{"sortedColumn":["sortkey"],"streamConfigs":{{"streamType":"kafka",
          "stream.kafka.topic.name":"t","stream.kafka.broker.list":"localhost:9092"}}}},{upsert}}}"#
    );
    Table::new(Schema::from_json(SCHEMA).unwrap(), TableConfigJson::from_json(&config).unwrap()).unwrap()
}

#[derive(Debug, Clone)]
struct Input {
    id: i32,
    ts: i64,
    deleted: bool,
    sortkey: i32,
    score: i64,
    /// Hand the open segment to the sealer after this row.
    seal: bool,
    /// Publish the oldest handed-off segment after this row (the sealer runs behind).
    publish: bool,
}

fn row(input: &Input, seq: i64) -> Vec<FieldValue> {
    vec![
        FieldValue::Single(Value::Int(input.id)),
        FieldValue::Single(Value::Long(seq)),
        FieldValue::Single(Value::Int(input.sortkey)),
        FieldValue::Single(Value::Boolean(input.deleted)),
        FieldValue::Multi(vec![Value::String(format!("t{seq}"))]),
        FieldValue::Single(Value::Long(input.score)),
        FieldValue::Single(Value::Long(input.ts)),
    ]
}

/// (seq, score) of the rows an upsert with deletes shows after `inputs`; `partial`: scores
/// INCREMENT (a deleted key starts again from zero).
fn model(inputs: &[Input], partial: bool) -> Vec<(i64, i64)> {
    // id → (ts, seq, stored score, deleted)
    let mut latest: BTreeMap<i32, (i64, usize, i64, bool)> = BTreeMap::new();
    for (seq, input) in inputs.iter().enumerate() {
        let previous = latest.get(&input.id).copied();
        if previous.is_some_and(|(ts, ..)| input.ts < ts) {
            continue;
        }
        let base = match previous {
            Some((_, _, score, false)) if partial => score,
            _ => 0,
        };
        latest.insert(input.id, (input.ts, seq, base + input.score, input.deleted));
    }
    let mut visible: Vec<(i64, i64)> =
        latest.values().filter(|v| !v.3).map(|&(_, seq, score, _)| (seq as i64, score)).collect();
    visible.sort_unstable();
    visible
}

/// One partition's segments as a consumer and sealer leave them.
struct Partition {
    table: Table,
    dir: tempfile::TempDir,
    keyed: Keyed,
    sealed: Vec<Arc<ImmutableSegment>>,
    /// Handed off, not yet published, oldest first; with the seq after each one's last row.
    pending: std::collections::VecDeque<(Arc<MutableSegment>, usize)>,
    open: Arc<MutableSegment>,
    sequence: u32,
    /// Rows up to here are in published segments: where a restart resumes.
    published_end: usize,
}

impl Partition {
    fn new(table: Table) -> Partition {
        let dir = tempfile::tempdir().unwrap();
        let keyed = Keyed::new(&table, 0, dir.path()).unwrap();
        let open = Arc::new(MutableSegment::new(&table, "scores__0__0__20261204T0000Z"));
        keyed.open(&open);
        Partition {
            table,
            dir,
            keyed,
            sealed: Vec::new(),
            pending: Default::default(),
            open,
            sequence: 0,
            published_end: 0,
        }
    }

    fn append(&self, row: Vec<FieldValue>) -> Appended {
        self.keyed.append(&self.open, row).unwrap()
    }

    /// The open segment goes to the sealer (after row `end - 1`); the next one opens.
    fn hand_off(&mut self, end: usize) {
        if self.open.num_docs() == 0 {
            return;
        }
        self.sequence += 1;
        let next = Arc::new(MutableSegment::new(&self.table, &format!("scores__0__{}__20261204T0000Z", self.sequence)));
        self.keyed.open(&next);
        let done = std::mem::replace(&mut self.open, next);
        self.pending.push_back((done, end));
    }

    /// The sealer publishes the oldest handed-off segment.
    fn publish(&mut self) {
        let Some((segment, end)) = self.pending.pop_front() else { return };
        let name = segment.name().to_string();
        let identity = SegmentIdentity {
            name: name.clone(),
            partition: Some(0),
            start_offset: Some(end as i64 - i64::from(segment.num_docs())),
            end_offset: Some(end as i64),
            creation_time_ms: 0,
        };
        let (bytes, order) = segment.seal_ordered(&identity).unwrap();
        let path = self.dir.path().join(format!("{name}.cvs"));
        std::fs::write(&path, bytes).unwrap();
        let sealed = Arc::new(ImmutableSegment::open(&path).unwrap());
        self.keyed.write_snapshot(&name, &name, order.as_deref()).unwrap();
        self.keyed.published(&name, &sealed, order.as_deref(), || {});
        self.sealed.push(sealed);
        self.published_end = end;
    }

    /// What a query sees: (seq, score) of every valid doc.
    fn visible(&self) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        let mut read = |valid: &ValidDocs, source: Source| {
            let docs: Vec<u32> = valid.copy().iter().collect();
            if docs.is_empty() {
                return;
            }
            let batch = decode(&source, &["seq", "score"], &docs).unwrap();
            for i in 0..docs.len() {
                let fields = row_of(&batch, &[DataType::Long, DataType::Long], i).unwrap();
                let (FieldValue::Single(Value::Long(seq)), FieldValue::Single(Value::Long(score))) =
                    (&fields[0], &fields[1])
                else {
                    panic!("{fields:?}")
                };
                out.push((*seq, *score));
            }
        };
        for s in &self.sealed {
            read(s.valid_docs().unwrap(), Source::Sealed(Arc::clone(s)));
        }
        for (m, _) in &self.pending {
            read(m.valid_docs().unwrap(), Source::Consuming(Arc::clone(m)));
        }
        read(self.open.valid_docs().unwrap(), Source::Consuming(Arc::clone(&self.open)));
        out.sort_unstable();
        out
    }

    /// A crash and restart: the published segments reopened, the key map rebuilt from them
    /// (and the snapshot), consumption resuming after the last published row.
    fn restart(self) -> Partition {
        let reopened: Vec<Arc<ImmutableSegment>> =
            self.sealed.iter().map(|s| Arc::new(ImmutableSegment::open(s.path()).unwrap())).collect();
        let keyed = Keyed::new(&self.table, 0, self.dir.path()).unwrap();
        keyed.rebuild(&reopened, &[]);
        let sequence = self.sequence + 1;
        let open = Arc::new(MutableSegment::new(&self.table, &format!("scores__0__{sequence}__20261204T0000Z")));
        keyed.open(&open);
        Partition {
            table: self.table,
            dir: self.dir,
            keyed,
            sealed: reopened,
            pending: Default::default(),
            open,
            sequence,
            published_end: self.published_end,
        }
    }
}

fn inputs() -> impl Strategy<Value = Vec<Input>> {
    prop::collection::vec(
        (
            0..12i32,
            0..6i64,
            prop::bool::weighted(0.15),
            0..5i32,
            1..4i64,
            prop::bool::weighted(0.15),
            prop::bool::weighted(0.2),
        )
            .prop_map(|(id, ts, deleted, sortkey, score, seal, publish)| Input {
                id,
                ts,
                deleted,
                sortkey,
                score,
                seal,
                publish,
            }),
        1..120,
    )
}

const FULL: &str = r#""upsertConfig":{"mode":"FULL","deleteRecordColumn":"del"}"#;
const PARTIAL: &str =
    r#""upsertConfig":{"mode":"PARTIAL","deleteRecordColumn":"del","partialUpsertStrategies":{"score":"INCREMENT"}}"#;

/// Feeds `inputs[from..to]`, handing off and publishing as each row says.
fn feed(p: &mut Partition, inputs: &[Input], from: usize, to: usize, check: Option<bool>) -> Result<(), TestCaseError> {
    for (seq, input) in inputs.iter().enumerate().take(to).skip(from) {
        p.append(row(input, seq as i64));
        if input.seal {
            p.hand_off(seq + 1);
        }
        if input.publish {
            p.publish();
        }
        if let Some(partial) = check {
            prop_assert_eq!(p.visible(), model(&inputs[..=seq], partial));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// What queries see is the model's rows after every row, across seals.
    #[test]
    fn valid_docs_follow_the_model(inputs in inputs(), partial in any::<bool>()) {
        let mut p = Partition::new(table(if partial { PARTIAL } else { FULL }));
        feed(&mut p, &inputs, 0, inputs.len(), Some(partial))?;
    }

    /// A crash at any point, with the sealer behind, then consuming again from the last
    /// published row, ends where an uninterrupted run does (partial merges included, which
    /// need the key state exactly as of that row).
    #[test]
    fn a_restart_resumes_exactly(inputs in inputs(), crash_at in 0usize..120, partial in any::<bool>()) {
        let crash_at = crash_at % inputs.len();
        let mut p = Partition::new(table(if partial { PARTIAL } else { FULL }));
        feed(&mut p, &inputs, 0, crash_at + 1, None)?;
        let resume = p.published_end;
        let mut p = p.restart();
        prop_assert_eq!(p.visible(), model(&inputs[..resume], partial));
        feed(&mut p, &inputs, resume, inputs.len(), None)?;
        while !p.pending.is_empty() {
            p.publish();
        }
        prop_assert_eq!(p.visible(), model(&inputs, partial));
    }
}

#[test]
fn dedup_keeps_the_first_row_of_each_key() {
    let p = Partition::new(table(r#""dedupConfig":{"dedupEnabled":true}"#));
    let first = Input { id: 1, ts: 5, deleted: false, sortkey: 0, score: 1, seal: false, publish: false };
    assert_eq!(p.append(row(&first, 0)), Appended::Stored);
    assert_eq!(p.append(row(&Input { ts: 9, ..first.clone() }, 1)), Appended::Dropped);
    assert_eq!(p.append(row(&Input { id: 2, ..first.clone() }, 2)), Appended::Stored);
    assert_eq!(p.open.num_docs(), 2);
    assert_eq!(p.keyed.key_count(), 2);
}

#[test]
fn partial_upsert_merges_with_the_previous_row() {
    let p = Partition::new(table(
        r#""upsertConfig":{"mode":"PARTIAL","partialUpsertStrategies":{"score":"INCREMENT","tags":"UNION"}}"#,
    ));
    let a = Input { id: 7, ts: 1, deleted: false, sortkey: 0, score: 10, seal: false, publish: false };
    p.append(row(&a, 10));
    p.append(row(&Input { ts: 2, ..a.clone() }, 20));
    let valid: Vec<u32> = p.open.valid_docs().unwrap().copy().iter().collect();
    assert_eq!(valid, vec![1]);
    let batch = decode(&Source::Consuming(Arc::clone(&p.open)), &["score", "tags"], &valid).unwrap();
    let merged = row_of(&batch, &[DataType::Long, DataType::String], 0).unwrap();
    assert_eq!(merged[0], FieldValue::Single(Value::Long(20)));
    assert_eq!(merged[1], FieldValue::Multi(vec![Value::String("t10".into()), Value::String("t20".into())]));
    // An older row is stored hidden and merges nothing.
    assert_eq!(p.append(row(&Input { ts: 0, ..a }, 30)), Appended::OutOfOrder);
    assert_eq!(p.open.valid_docs().unwrap().copy().iter().collect::<Vec<_>>(), vec![1]);
}

#[test]
fn metadata_ttl_forgets_old_keys_at_publish() {
    let mut p = Partition::new(table(r#""upsertConfig":{"mode":"FULL","metadataTTL":10}"#));
    let at = |id, ts| Input { id, ts, deleted: false, sortkey: 0, score: 1, seal: false, publish: false };
    p.append(row(&at(1, 5), 0));
    p.append(row(&at(2, 100), 1));
    p.hand_off(2);
    p.publish();
    // Key 1 (5) is more than 10 behind the largest value seen (100): forgotten, so a row
    // older than its stored one is now a new key — both show, Pinot's trade for memory.
    assert_eq!(p.keyed.key_count(), 1);
    assert_eq!(p.append(row(&at(1, 3), 2)), Appended::Stored);
    assert_eq!(p.visible(), vec![(0, 1), (1, 1), (2, 1)]);
    // Key 2 is still held: an older row of it is hidden.
    assert_eq!(p.append(row(&at(2, 99), 3)), Appended::OutOfOrder);
}

#[test]
fn deleted_keys_ttl_forgets_deleted_keys_only() {
    let mut p =
        Partition::new(table(r#""upsertConfig":{"mode":"FULL","deleteRecordColumn":"del","deletedKeysTTL":10}"#));
    let at = |id, ts, deleted| Input { id, ts, deleted, sortkey: 0, score: 1, seal: false, publish: false };
    p.append(row(&at(1, 5, true), 0));
    p.append(row(&at(2, 6, false), 1));
    p.append(row(&at(3, 100, false), 2));
    p.hand_off(3);
    p.publish();
    assert_eq!(p.keyed.key_count(), 2, "the deleted key 1 is forgotten, the live key 2 is not");
    assert_eq!(p.visible(), vec![(1, 1), (2, 1)]);
}

#[test]
fn dedup_ttl_lets_a_key_back_after_it_expires() {
    let mut p = Partition::new(table(r#""dedupConfig":{"dedupEnabled":true,"metadataTTL":10}"#));
    let at = |id, ts| Input { id, ts, deleted: false, sortkey: 0, score: 1, seal: false, publish: false };
    assert_eq!(p.append(row(&at(1, 5), 0)), Appended::Stored);
    assert_eq!(p.append(row(&at(1, 6), 1)), Appended::Dropped);
    assert_eq!(p.append(row(&at(2, 100), 2)), Appended::Stored);
    // A row older than the window is not checked at all.
    assert_eq!(p.append(row(&at(2, 50), 3)), Appended::Stored);
    p.hand_off(4);
    p.publish();
    assert_eq!(p.keyed.key_count(), 1);
    assert_eq!(p.append(row(&at(1, 95), 4)), Appended::Stored);
}

#[test]
fn a_removed_segment_takes_its_keys() {
    let mut p = Partition::new(table(FULL));
    let at = |id, ts| Input { id, ts, deleted: false, sortkey: 0, score: 1, seal: false, publish: false };
    p.append(row(&at(1, 5), 0));
    p.hand_off(1);
    p.publish();
    let removed = p.sealed.remove(0);
    p.keyed.forget(removed.name());
    assert_eq!(p.keyed.key_count(), 0);
    // A later row of the key is new, even an older one.
    assert_eq!(p.append(row(&at(1, 1), 1)), Appended::Stored);
    assert_eq!(p.visible(), vec![(1, 1)]);
}

#[test]
fn rows_in_the_wrong_partition_are_counted() {
    let mut t = table(r#""upsertConfig":{"mode":"FULL"}"#);
    let mut ix = t.config.indexing();
    ix.segment_partition_config = Some(
        serde_json::from_str(r#"{"columnPartitionMap":{"id":{"functionName":"Modulo","numPartitions":2}}}"#).unwrap(),
    );
    t.config.table_index_config = Some(ix);
    let t = Table::new(t.schema.clone(), t.config.clone()).unwrap();
    let p = Partition::new(t);
    let at = |id| Input { id, ts: 1, deleted: false, sortkey: 0, score: 1, seal: false, publish: false };
    p.append(row(&at(2), 0));
    p.append(row(&at(3), 1));
    p.append(row(&at(5), 2));
    // The test partition is 0: ids 3 and 5 belong to partition 1.
    assert_eq!(p.keyed.rows_off_partition(), 2);
}
