//! A table for a topic, proposed from a sample of its messages: the schema and the REALTIME
//! table config a user would otherwise write by hand (the first step of every Pinot
//! tutorial), both ready to POST unchanged.
//!
//! Each message is decoded (JSON objects, or Avro datums with the writer schema the caller
//! gives), nested objects are flattened Pinot's way (`actor.login`, with a
//! `complexTypeConfig` in the proposal so ingestion flattens the same way), and every field's
//! values are summarised: which kinds appear, how often, how many distinct. From that:
//!
//! - **types**: booleans → BOOLEAN, integers → INT or LONG by range, any fraction → DOUBLE,
//!   ISO-8601 text → TIMESTAMP, lists of plain values → a multi-value column of their type,
//!   anything mixed → STRING; an Avro writer schema's declared type wins over the values.
//! - **the time column**: a TIMESTAMP, or integers in the epoch-millisecond or (for a
//!   time-like name) epoch-second range; a time-like name and full presence break ties.
//! - **roles**: numbers that are not times or ids are metrics, the rest dimensions.
//! - **indexes**: inverted for low-cardinality strings, range for metrics (numbers are
//!   filtered by range), bloom for id-like strings (nearly one value per message), and the
//!   time column sorted.
//!
//! The sample is small (the caller bounds it) and every guess says why, so a user can
//! correct it before creating the table.

mod field;

use crate::conform::flatten;
use crate::error::IngestError;
use cuvee_catalog::DataType;
use field::{epoch_unit, id_like, time_like, FieldStats};
use serde::Serialize;
use serde_json::{json, Map, Value as Json};
use std::collections::HashMap;

/// How a topic's messages are encoded.
#[derive(Debug, Clone)]
pub enum SampleFormat {
    Json,
    /// Avro binary datums written with this schema (Pinot's `SimpleAvroMessageDecoder`).
    Avro {
        schema: String,
    },
}

/// The most fields a proposal has: a sample with more is not a table's shape.
const MAX_FIELDS: usize = 2_000;

/// What `propose` answers.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Proposal {
    pub topic: String,
    pub schema: Json,
    pub table_config: Json,
    pub columns: Vec<ColumnGuess>,
    pub sample: SampleReport,
    /// Fields seen but not proposed as columns, with the reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<LeftOut>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeftOut {
    pub name: String,
    pub reason: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnGuess {
    pub name: String,
    pub data_type: &'static str,
    pub multi_value: bool,
    pub role: &'static str,
    /// The share of sampled records that have a non-null value.
    pub presence: f64,
    /// Distinct values in the sample (capped at 10,000).
    pub distinct: usize,
    pub why: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SampleReport {
    pub messages: usize,
    pub format: &'static str,
    /// Messages that could not be decoded, and the first reason.
    pub skipped: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_skip_reason: Option<String>,
}

/// The sample as flat records (one per message, `None` for one that could not be read),
/// what reading it found, and whether any record was nested.
pub struct Decoded {
    pub records: Vec<Option<Map<String, Json>>>,
    pub report: SampleReport,
    nested: bool,
}

/// Decodes the sampled payloads into flat records; undecodable ones are counted.
pub fn decode(format: &SampleFormat, payloads: &[&[u8]]) -> Result<Decoded, IngestError> {
    let mut records = Vec::with_capacity(payloads.len());
    let mut report = SampleReport {
        messages: payloads.len(),
        format: match format {
            SampleFormat::Json => "JSON",
            SampleFormat::Avro { .. } => "Avro",
        },
        skipped: 0,
        first_skip_reason: None,
    };
    let avro = match format {
        SampleFormat::Json => None,
        SampleFormat::Avro { schema } => {
            crate::readers::avro::limit_allocations();
            Some(
                apache_avro::Schema::parse_str(schema)
                    .map_err(|e| IngestError::Stream(format!("the Avro writer schema is not usable: {e}")))?,
            )
        }
    };
    let mut nested = false;
    for (i, payload) in payloads.iter().enumerate() {
        let decoded = match &avro {
            None => match serde_json::from_slice::<Json>(payload) {
                Ok(Json::Object(map)) => Ok(map),
                Ok(other) => {
                    Err(format!("message {i} is JSON but not an object ({})", crate::readers::json::kind(&other)))
                }
                Err(e) => Err(format!("message {i} is not JSON: {e}")),
            },
            Some(schema) => match apache_avro::from_avro_datum(schema, &mut &payload[..], None) {
                Ok(value) => match crate::readers::avro::to_json(value) {
                    Json::Object(map) => Ok(map),
                    _ => Err(format!("message {i}: the Avro schema is not a record")),
                },
                Err(e) => Err(format!("message {i} is not an Avro datum of the given schema: {e}")),
            },
        };
        match decoded {
            Ok(map) => {
                nested |= map.values().any(Json::is_object);
                records.push(Some(flatten(map, ".")));
            }
            Err(reason) => {
                records.push(None);
                report.skipped += 1;
                report.first_skip_reason.get_or_insert(reason);
            }
        }
    }
    Ok(Decoded { records, report, nested })
}

/// The types an Avro writer schema declares for its top-level fields.
fn declared_types(format: &SampleFormat) -> HashMap<String, (DataType, bool)> {
    use apache_avro::schema::Schema as A;
    let SampleFormat::Avro { schema } = format else { return HashMap::new() };
    let Ok(A::Record(record)) = apache_avro::Schema::parse_str(schema) else { return HashMap::new() };
    fn plain(schema: &A) -> Option<DataType> {
        Some(match schema {
            A::Boolean => DataType::Boolean,
            A::Int => DataType::Int,
            A::Long => DataType::Long,
            A::Float => DataType::Float,
            A::Double => DataType::Double,
            A::String | A::Enum(_) | A::Uuid => DataType::String,
            A::Bytes | A::Fixed(_) => DataType::Bytes,
            A::TimestampMillis | A::TimestampMicros => DataType::Timestamp,
            A::Union(u) => return u.variants().iter().find(|v| **v != A::Null).and_then(plain),
            _ => return None,
        })
    }
    let mut types = HashMap::new();
    for field in &record.fields {
        let schema = match &field.schema {
            A::Union(u) => u.variants().iter().find(|v| **v != A::Null).cloned().unwrap_or(A::Null),
            other => other.clone(),
        };
        let typed = match &schema {
            A::Array(items) => plain(&items.items).map(|t| (t, true)),
            other => plain(other).map(|t| (t, false)),
        };
        if let Some(typed) = typed {
            types.insert(field.name.clone(), typed);
        }
    }
    types
}

/// A Pinot table name for a topic: letters, digits and `_`.
pub fn table_name_for(topic: &str) -> String {
    let mut name: String = topic.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert_str(0, "t_");
    }
    name.truncate(128);
    name
}

/// Proposes a schema and a REALTIME table config for `topic` on `bootstrap` from `payloads`.
pub fn propose(
    topic: &str,
    bootstrap: &str,
    format: &SampleFormat,
    payloads: &[&[u8]],
) -> Result<Proposal, IngestError> {
    propose_decoded(topic, bootstrap, format, &decode(format, payloads)?)
}

/// [`propose`] for messages already decoded (by [`decode`] with the same `format`).
pub fn propose_decoded(
    topic: &str,
    bootstrap: &str,
    format: &SampleFormat,
    decoded: &Decoded,
) -> Result<Proposal, IngestError> {
    let records: Vec<&Map<String, Json>> = decoded.records.iter().flatten().collect();
    let (sample, nested) = (decoded.report.clone(), decoded.nested);
    if records.is_empty() {
        let why = match &sample.first_skip_reason {
            Some(reason) => format!(
                "none of the {} sampled messages of {topic} could be read as {} ({reason}){}",
                sample.messages,
                sample.format,
                if matches!(format, SampleFormat::Json) { "; for Avro give the writer schema" } else { "" }
            ),
            None => format!("topic {topic} has no messages to sample"),
        };
        return Err(IngestError::Stream(why));
    }
    let mut order: Vec<String> = Vec::new();
    let mut stats: HashMap<String, FieldStats> = HashMap::new();
    for record in &records {
        for (name, value) in *record {
            if !stats.contains_key(name) {
                if order.len() >= MAX_FIELDS {
                    continue;
                }
                order.push(name.clone());
            }
            stats.entry(name.clone()).or_default().observe(value, false);
        }
    }
    let declared = declared_types(format);
    let n = records.len();

    // The time column: the best-scoring candidate.
    let time_candidate = |name: &String| -> Option<(i32, &'static str)> {
        let s = &stats[name];
        let (data_type, multi) = declared.get(name).copied().unwrap_or_else(|| s.data_type());
        if multi {
            return None;
        }
        let unit = match data_type {
            DataType::Timestamp => "TIMESTAMP",
            DataType::Long | DataType::Int => match epoch_unit(s) {
                Some("SECONDS") if time_like(name) => "SECONDS",
                Some("MILLISECONDS") => "MILLISECONDS",
                _ => return None,
            },
            _ => return None,
        };
        let score = i32::from(time_like(name)) * 2 + i32::from(s.present == n);
        Some((score, unit))
    };
    let time = order
        .iter()
        .filter(|name| !name.trim().is_empty())
        .filter_map(|name| time_candidate(name).map(|(score, unit)| (score, name.clone(), unit)))
        .max_by_key(|(score, _, _)| *score)
        .map(|(_, name, unit)| (name, unit));

    let mut columns = Vec::new();
    let (mut dimensions, mut metrics, mut date_times) = (Vec::new(), Vec::new(), Vec::new());
    let (mut inverted, mut range, mut bloom) = (Vec::new(), Vec::new(), Vec::new());
    let mut left_out = Vec::new();
    for name in &order {
        if name.trim().is_empty() {
            left_out.push(LeftOut { name: name.clone(), reason: "a blank name cannot be a column" });
            continue;
        }
        let s = &stats[name];
        let (mut data_type, multi) = declared.get(name).copied().unwrap_or_else(|| s.data_type());
        let distinct = s.distinct.len();
        let presence = s.present as f64 / n as f64;
        let is_time = time.as_ref().is_some_and(|(t, _)| t == name);
        let numeric = matches!(data_type, DataType::Int | DataType::Long | DataType::Float | DataType::Double);
        let mut why = Vec::new();
        let role = if is_time {
            let (_, unit) = time.as_ref().map_or(("", ""), |(n, u)| (n.as_str(), *u));
            let format = match unit {
                "TIMESTAMP" => "1:MILLISECONDS:TIMESTAMP",
                "SECONDS" => "1:SECONDS:EPOCH",
                _ => "1:MILLISECONDS:EPOCH",
            };
            if unit == "SECONDS" {
                data_type = DataType::Long;
            }
            why.push(match unit {
                "TIMESTAMP" => "ISO-8601 times: the time column".to_string(),
                u => format!("epoch {}: the time column", u.to_lowercase()),
            });
            date_times.push(json!({
                "name": name, "dataType": data_type.name(), "format": format,
                "granularity": if unit == "SECONDS" { "1:SECONDS" } else { "1:MILLISECONDS" },
            }));
            "dateTime"
        } else if numeric && !multi && !id_like(name) {
            metrics.push(json!({ "name": name, "dataType": data_type.name() }));
            why.push("numbers that are not ids: a metric".into());
            if distinct > 16 {
                range.push(name.clone());
                why.push("range index: numbers are filtered by range".into());
            }
            "metric"
        } else {
            let mut spec = json!({ "name": name, "dataType": data_type.name() });
            if multi {
                spec["singleValueField"] = json!(false);
                why.push("lists of values: multi-value".into());
            }
            dimensions.push(spec);
            why.push(if numeric {
                "an id: a dimension".into()
            } else {
                format!("{}: a dimension", data_type.name().to_lowercase())
            });
            if data_type == DataType::String
                && !s.distinct_capped
                && distinct <= 1_000
                && distinct * 4 <= s.present.max(1)
            {
                inverted.push(name.clone());
                why.push(format!("{distinct} distinct values: inverted index"));
            } else if data_type == DataType::String && !multi && s.present >= 50 && distinct * 10 >= s.present * 9 {
                bloom.push(name.clone());
                why.push("nearly one value per message (an id): bloom filter".into());
            }
            "dimension"
        };
        if presence < 1.0 {
            why.push(format!("absent or null in {:.0} % of messages", (1.0 - presence) * 100.0));
        }
        columns.push(ColumnGuess {
            name: name.clone(),
            data_type: data_type.name(),
            multi_value: multi,
            role,
            presence,
            distinct,
            why: why.join("; "),
        });
    }

    let table = table_name_for(topic);
    let mut schema = json!({ "schemaName": table, "dimensionFieldSpecs": dimensions, "metricFieldSpecs": metrics });
    if !date_times.is_empty() {
        schema["dateTimeFieldSpecs"] = json!(date_times);
    }
    let mut stream = json!({
        "streamType": "kafka",
        "stream.kafka.topic.name": topic,
        "stream.kafka.broker.list": bootstrap,
        "stream.kafka.consumer.type": "lowlevel",
        "stream.kafka.consumer.factory.class.name": "org.apache.pinot.plugin.stream.kafka20.KafkaConsumerFactory",
        "stream.kafka.consumer.prop.auto.offset.reset": "smallest",
        "realtime.segment.flush.threshold.rows": "1000000",
        "realtime.segment.flush.threshold.time": "6h",
    });
    match format {
        SampleFormat::Json => {
            stream["stream.kafka.decoder.class.name"] =
                json!("org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder");
        }
        SampleFormat::Avro { schema } => {
            stream["stream.kafka.decoder.class.name"] =
                json!("org.apache.pinot.plugin.inputformat.avro.SimpleAvroMessageDecoder");
            stream["stream.kafka.decoder.prop.schema"] = json!(schema);
        }
    }
    let mut index = json!({ "loadMode": "MMAP", "invertedIndexColumns": inverted, "rangeIndexColumns": range, "bloomFilterColumns": bloom, "streamConfigs": stream });
    let mut segments = json!({ "schemaName": table, "replication": "1" });
    if let Some((name, _)) = &time {
        segments["timeColumnName"] = json!(name);
        index["sortedColumn"] = json!([name]);
    }
    let mut config = json!({
        "tableName": table, "tableType": "REALTIME", "segmentsConfig": segments,
        "tableIndexConfig": index, "tenants": {}, "metadata": {},
    });
    if nested {
        config["ingestionConfig"] = json!({ "complexTypeConfig": { "delimiter": "." } });
    }
    Ok(Proposal { topic: topic.to_string(), schema, table_config: config, columns, sample, left_out })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn propose_json(messages: &[Json]) -> Proposal {
        let payloads: Vec<Vec<u8>> = messages.iter().map(|m| m.to_string().into_bytes()).collect();
        let slices: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        propose("web.clicks", "127.0.0.1:9092", &SampleFormat::Json, &slices).expect("a proposal")
    }

    #[test]
    fn types_roles_time_and_indexes_from_json_messages() {
        let messages: Vec<Json> = (0..200)
            .map(|i| {
                let country = ["US", "DE", "FR"][i as usize % 3];
                json!({
                    "ts": 1_700_000_000_000_i64 + i * 1000, "user_id": format!("u{i}"), "country": country,
                    "latency_ms": i * 7 % 113, "price": 1.5 * i as f64, "ok": i % 2 == 0, "tags": ["a", "b"],
                    "actor": { "login": format!("l{}", i % 5), "org": { "id": 3 } }, "big": 10_000_000_000_i64 + i,
                })
            })
            .collect();
        let p = propose_json(&messages);
        let column =
            |name: &str| p.columns.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no column {name}"));
        assert_eq!((column("ts").data_type, column("ts").role), ("LONG", "dateTime"));
        assert_eq!((column("latency_ms").data_type, column("latency_ms").role), ("INT", "metric"));
        assert_eq!(column("price").data_type, "DOUBLE");
        assert_eq!(column("ok").data_type, "BOOLEAN");
        assert_eq!(column("big").data_type, "LONG");
        assert!(column("tags").multi_value);
        assert_eq!(column("actor.login").role, "dimension");
        assert_eq!(column("actor.org.id").role, "dimension", "ids are not metrics");
        assert_eq!(p.table_config["tableName"], "web_clicks");
        assert_eq!(p.table_config["segmentsConfig"]["timeColumnName"], "ts");
        assert_eq!(
            p.table_config["tableIndexConfig"]["invertedIndexColumns"],
            json!(["actor.login", "country", "tags"])
        );
        assert_eq!(p.table_config["tableIndexConfig"]["bloomFilterColumns"], json!(["user_id"]));
        assert_eq!(p.table_config["ingestionConfig"]["complexTypeConfig"]["delimiter"], ".");
        assert_eq!(p.schema["dateTimeFieldSpecs"][0]["format"], "1:MILLISECONDS:EPOCH");
        // The proposal is a valid schema and table config as they are.
        let schema = cuvee_catalog::Schema::from_json(&p.schema.to_string()).expect("the proposed schema parses");
        cuvee_catalog::Table::new(
            schema,
            cuvee_catalog::TableConfigJson::from_json(&p.table_config.to_string()).expect("config"),
        )
        .expect("the proposed table is valid");
    }

    #[test]
    fn iso_times_and_mixed_values() {
        let messages: Vec<Json> = (0..10)
            .map(|i| json!({ "created_at": format!("2024-05-0{}T10:00:00Z", i % 9 + 1), "code": if i % 2 == 0 { json!(1) } else { json!("x") } }))
            .collect();
        let p = propose_json(&messages);
        assert_eq!(
            p.columns.iter().find(|c| c.name == "created_at").map(|c| (c.data_type, c.role)),
            Some(("TIMESTAMP", "dateTime"))
        );
        assert_eq!(p.schema["dateTimeFieldSpecs"][0]["format"], "1:MILLISECONDS:TIMESTAMP");
        assert_eq!(p.columns.iter().find(|c| c.name == "code").map(|c| c.data_type), Some("STRING"));
    }

    #[test]
    fn unreadable_samples_say_why() {
        let payloads: [&[u8]; 2] = [b"not json", b"[1,2]"];
        let error = propose("t", "k:1", &SampleFormat::Json, &payloads).expect_err("nothing to propose");
        assert!(error.to_string().contains("not JSON"), "{error}");
        let error = propose("t", "k:1", &SampleFormat::Json, &[]).expect_err("no messages");
        assert!(error.to_string().contains("no messages"), "{error}");
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Json> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Json::Null),
            any::<bool>().prop_map(Json::Bool),
            any::<i64>().prop_map(|i| json!(i)),
            (-1e12f64..1e12).prop_map(|f| json!(f)),
            "[a-z0-9 :.T-]{0,24}".prop_map(Json::String),
            (1_600_000_000_000i64..1_800_000_000_000).prop_map(|ms| json!(ms)),
            Just(json!("2024-05-01T10:00:00Z")),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Json::Array),
                proptest::collection::btree_map("\\PC{0,8}", inner, 0..4)
                    .prop_map(|m| Json::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Whatever the messages hold, a proposal is a schema and table config that are
        /// accepted as they are (or a clear refusal), never a panic.
        #[test]
        fn any_sample_gives_a_proposal_that_posts_unchanged(
            records in proptest::collection::vec(
                proptest::collection::btree_map("\\PC{0,8}", json_value(), 0..6), 1..20),
        ) {
            let payloads: Vec<Vec<u8>> = records.iter().map(|r| serde_json::to_vec(r).unwrap_or_default()).collect();
            let slices: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
            let p = propose("t", "k:1", &SampleFormat::Json, &slices).expect("objects always give a proposal");
            let schema = cuvee_catalog::Schema::from_json(&p.schema.to_string())
                .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("schema {}: {e}", p.schema)))?;
            let config = cuvee_catalog::TableConfigJson::from_json(&p.table_config.to_string())
                .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("config: {e}")))?;
            cuvee_catalog::Table::new(schema, config)
                .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("table {} {}: {e}", p.schema, p.table_config)))?;
        }
    }
}
