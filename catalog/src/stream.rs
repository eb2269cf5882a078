//! A realtime table's stream config (Pinot's `streamConfigs` map) as a typed Kafka consumer
//! plan: topic, brokers, how messages decode, where a new partition starts, when a consuming
//! segment is sealed, and the librdkafka properties passed through. Every problem is
//! reported at once with the key that has it.
//!
//! Keys understood (Pinot's names): `streamType` (`kafka`), `stream.kafka.topic.name`,
//! `stream.kafka.broker.list`, `stream.kafka.consumer.type` (`lowlevel`),
//! `stream.kafka.decoder.class.name` (Pinot's JSON, Avro and CSV decoder classes),
//! `stream.kafka.decoder.prop.*` (Avro's writer schema inline as `schema`, or from a file
//! named by `schema.path`), `stream.kafka.consumer.prop.*` (passed to librdkafka,
//! `auto.offset.reset` read here), `realtime.segment.flush.threshold.rows` (legacy `.size`),
//! `.time`, `.segment.size`, `stream.kafka.metadata.populate`, and top-level librdkafka
//! security keys (`security.protocol`, `sasl.*`, `ssl.*`). Pinot-only keys without meaning
//! here (the consumer factory class) are accepted and ignored.

use crate::error::Problem;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub enum Decoder {
    Json,
    /// Avro with the writer schema given inline (`stream.kafka.decoder.prop.schema`).
    Avro {
        schema: String,
    },
    /// CSV lines; `header` names the fields (`stream.kafka.decoder.prop.header`), else the
    /// schema's column order is used. Multi-value cells split on `multi_value_delimiter`.
    Csv {
        delimiter: char,
        header: Option<Vec<String>>,
        multi_value_delimiter: char,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    Smallest,
    Largest,
}

/// When a consuming segment is sealed: whichever threshold is reached first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlushThresholds {
    pub rows: Option<u64>,
    pub time_ms: Option<u64>,
    pub segment_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamConfig {
    pub topic: String,
    pub bootstrap_servers: String,
    pub decoder: Decoder,
    pub offset_reset: OffsetReset,
    pub flush: FlushThresholds,
    /// Columns `__key`, `__metadata$offset`, `__metadata$recordTimestamp` are filled.
    pub populate_metadata: bool,
    /// librdkafka properties, as given (consumer props without their prefix, security keys).
    pub consumer_properties: BTreeMap<String, String>,
}

/// Pinot's default: 6 hours or 5 M rows, whichever comes first.
pub const DEFAULT_FLUSH_ROWS: u64 = 5_000_000;
pub const DEFAULT_FLUSH_TIME_MS: u64 = 6 * 3_600_000;

const CONSUMER_PROP: &str = "stream.kafka.consumer.prop.";
const DECODER_PROP: &str = "stream.kafka.decoder.prop.";

impl StreamConfig {
    /// Reads one stream config map; `path` names it in errors (its JSON location).
    pub fn from_map(map: &BTreeMap<String, String>, path: &str) -> Result<StreamConfig, Vec<Problem>> {
        let mut problems = Vec::new();
        let at = |key: &str| format!("{path}.{key}");
        let get = |key: &str| map.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        match get("streamType") {
            Some(t) if t.eq_ignore_ascii_case("kafka") => {}
            Some(t) => problems.push(Problem::new(
                at("streamType"),
                format!("stream type \"{t}\" is not supported; cuvee consumes Kafka (and Kafka-protocol brokers)"),
            )),
            None => problems.push(Problem::new(at("streamType"), "missing; set it to \"kafka\"")),
        }
        let mut required = |key: &str| match get(key) {
            Some(v) => v.to_string(),
            None => {
                problems.push(Problem::new(at(key), "missing"));
                String::new()
            }
        };
        let topic = required("stream.kafka.topic.name");
        let bootstrap_servers = required("stream.kafka.broker.list");
        if let Some(kind) = get("stream.kafka.consumer.type") {
            if !matches!(kind.to_ascii_lowercase().as_str(), "lowlevel" | "simple") {
                problems.push(Problem::new(at("stream.kafka.consumer.type"), format!("\"{kind}\": only \"lowlevel\" (one consumer per partition, offsets kept with segments) is supported")));
            }
        }
        let decoder = decoder(map, &at, &mut problems);
        let offset_reset =
            match get(&format!("{CONSUMER_PROP}auto.offset.reset")).map(str::to_ascii_lowercase).as_deref() {
                None | Some("largest") | Some("latest") => OffsetReset::Largest,
                Some("smallest") | Some("earliest") => OffsetReset::Smallest,
                Some(other) => {
                    problems.push(Problem::new(
                        at("stream.kafka.consumer.prop.auto.offset.reset"),
                        format!("\"{other}\": expected smallest or largest"),
                    ));
                    OffsetReset::Largest
                }
            };
        let mut flush = FlushThresholds { rows: None, time_ms: None, segment_bytes: None };
        for key in ["realtime.segment.flush.threshold.rows", "realtime.segment.flush.threshold.size"] {
            if let Some(v) = get(key) {
                match v.parse::<u64>() {
                    // Pinot: 0 rows means "size the segment by segment.size instead".
                    Ok(0) => {}
                    Ok(n) => flush.rows = Some(n),
                    Err(_) => problems.push(Problem::new(at(key), format!("\"{v}\" is not a row count"))),
                }
            }
        }
        if let Some(v) = get("realtime.segment.flush.threshold.time") {
            match duration_ms(v) {
                Some(ms) => flush.time_ms = Some(ms),
                None => problems.push(Problem::new(
                    at("realtime.segment.flush.threshold.time"),
                    format!("\"{v}\" is not a duration such as 6h, 30m, 90s or milliseconds"),
                )),
            }
        }
        for key in ["realtime.segment.flush.threshold.segment.size", "realtime.segment.flush.desired.size"] {
            if let Some(v) = get(key) {
                match size_bytes(v) {
                    Some(b) => flush.segment_bytes = Some(b),
                    None => problems.push(Problem::new(at(key), format!("\"{v}\" is not a size such as 200M or 1.5G"))),
                }
            }
        }
        if flush.rows.is_none() && flush.segment_bytes.is_none() {
            flush.rows = Some(DEFAULT_FLUSH_ROWS);
        }
        flush.time_ms.get_or_insert(DEFAULT_FLUSH_TIME_MS);
        let populate_metadata = get("stream.kafka.metadata.populate").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let mut consumer_properties = BTreeMap::new();
        for (key, value) in map {
            if let Some(prop) = key.strip_prefix(CONSUMER_PROP) {
                consumer_properties.insert(prop.to_string(), value.clone());
            } else if key == "security.protocol" || key.starts_with("sasl.") || key.starts_with("ssl.") {
                consumer_properties.insert(key.clone(), value.clone());
            }
        }
        // Offsets are ours (published with segments); librdkafka must not pick the start.
        consumer_properties.remove("auto.offset.reset");
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(StreamConfig {
            topic,
            bootstrap_servers,
            decoder,
            offset_reset,
            flush,
            populate_metadata,
            consumer_properties,
        })
    }
}

fn decoder(map: &BTreeMap<String, String>, at: &dyn Fn(&str) -> String, problems: &mut Vec<Problem>) -> Decoder {
    let key = "stream.kafka.decoder.class.name";
    let prop = |name: &str| map.get(&format!("{DECODER_PROP}{name}")).cloned();
    let Some(class) = map.get(key).map(|c| c.trim()) else {
        problems
            .push(Problem::new(at(key), "missing; e.g. org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder"));
        return Decoder::Json;
    };
    let simple = class.rsplit('.').next().unwrap_or(class);
    match simple {
        "KafkaJSONMessageDecoder" | "JSONMessageDecoder" => Decoder::Json,
        "KafkaAvroMessageDecoder" | "SimpleAvroMessageDecoder" => match (prop("schema"), prop("schema.path")) {
            (Some(schema), _) => Decoder::Avro { schema },
            // Read once, when the config is read: a later change to the file does not
            // silently change how the stream decodes.
            (None, Some(path)) => match std::fs::read_to_string(&path) {
                Ok(schema) => Decoder::Avro { schema },
                Err(e) => {
                    problems.push(Problem::new(
                        at("stream.kafka.decoder.prop.schema.path"),
                        format!("cannot read the Avro schema file {path}: {e}"),
                    ));
                    Decoder::Json
                }
            },
            (None, None) => {
                problems.push(Problem::new(
                    at("stream.kafka.decoder.prop.schema"),
                    "Avro messages need their writer schema: inline JSON here, or a file in stream.kafka.decoder.prop.schema.path",
                ));
                Decoder::Json
            }
        },
        "KafkaConfluentSchemaRegistryAvroMessageDecoder" => {
            problems.push(Problem::new(at(key), "Confluent schema-registry Avro is not supported yet; give the schema inline with SimpleAvroMessageDecoder"));
            Decoder::Json
        }
        "CSVMessageDecoder" => {
            let delimiter = prop("delimiter").and_then(|d| d.chars().next()).unwrap_or(',');
            let header = prop("header").map(|h| h.split(delimiter).map(|c| c.trim().to_string()).collect());
            let multi_value_delimiter = prop("multiValueDelimiter").and_then(|d| d.chars().next()).unwrap_or(';');
            Decoder::Csv { delimiter, header, multi_value_delimiter }
        }
        other => {
            problems.push(Problem::new(
                at(key),
                format!("decoder {other} is not supported (JSON, Avro and CSV decoders are)"),
            ));
            Decoder::Json
        }
    }
}

/// `6h`, `30m`, `90s`, `1d`, `500ms` (Pinot's period strings), or plain milliseconds.
fn duration_ms(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    if let Ok(ms) = text.parse::<u64>() {
        return Some(ms);
    }
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let unit_ms = match unit {
        "ms" => 1.0,
        "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    Some((number * unit_ms) as u64)
}

/// `200M`, `1.5G`, `500K`, `100MB`, or plain bytes.
fn size_bytes(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_uppercase();
    let text = text.strip_suffix('B').unwrap_or(&text);
    let (number, multiplier) = match text.chars().last()? {
        'K' => (&text[..text.len() - 1], 1u64 << 10),
        'M' => (&text[..text.len() - 1], 1 << 20),
        'G' => (&text[..text.len() - 1], 1 << 30),
        _ => (text, 1),
    };
    let number: f64 = number.trim().parse().ok()?;
    (number >= 0.0).then_some((number * multiplier as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn reads_pinot_keys() {
        let config = StreamConfig::from_map(
            &map(&[
                ("streamType", "kafka"),
                ("stream.kafka.topic.name", "events"),
                ("stream.kafka.broker.list", "127.0.0.1:9092"),
                ("stream.kafka.consumer.type", "lowlevel"),
                ("stream.kafka.decoder.class.name", "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder"),
                ("stream.kafka.consumer.prop.auto.offset.reset", "smallest"),
                ("stream.kafka.consumer.prop.fetch.wait.max.ms", "10"),
                ("realtime.segment.flush.threshold.rows", "0"),
                ("realtime.segment.flush.threshold.time", "30m"),
                ("realtime.segment.flush.threshold.segment.size", "150M"),
                ("security.protocol", "SASL_SSL"),
            ]),
            "streamConfigs",
        )
        .unwrap();
        assert_eq!(
            (config.topic.as_str(), config.offset_reset, config.decoder.clone()),
            ("events", OffsetReset::Smallest, Decoder::Json)
        );
        assert_eq!(
            config.flush,
            FlushThresholds { rows: None, time_ms: Some(1_800_000), segment_bytes: Some(150 << 20) }
        );
        assert_eq!(config.consumer_properties, map(&[("fetch.wait.max.ms", "10"), ("security.protocol", "SASL_SSL")]));
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let problems = StreamConfig::from_map(
            &map(&[
                ("streamType", "kinesis"),
                ("stream.kafka.decoder.class.name", "com.example.ProtoDecoder"),
                ("realtime.segment.flush.threshold.time", "soon"),
            ]),
            "streamConfigs",
        )
        .unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        for needle in [
            "streamType",
            "stream.kafka.topic.name: missing",
            "stream.kafka.broker.list: missing",
            "ProtoDecoder is not supported",
            "\"soon\" is not a duration",
        ] {
            assert!(text.iter().any(|t| t.contains(needle)), "{needle} in {text:?}");
        }
    }

    #[test]
    fn avro_schema_comes_inline_or_from_a_file() {
        let base = [
            ("streamType", "kafka"),
            ("stream.kafka.topic.name", "t"),
            ("stream.kafka.broker.list", "b:9092"),
            ("stream.kafka.decoder.class.name", "org.apache.pinot.plugin.inputformat.avro.SimpleAvroMessageDecoder"),
        ];
        let schema = r#"{"type": "record", "name": "r", "fields": [{"name": "a", "type": "int"}]}"#;
        let file = std::env::temp_dir().join(format!("cuvee-avro-schema-{}.avsc", std::process::id()));
        std::fs::write(&file, schema).unwrap();
        let path = file.display().to_string();
        let from_file = StreamConfig::from_map(
            &map(&[base.as_slice(), &[("stream.kafka.decoder.prop.schema.path", path.as_str())]].concat()),
            "s",
        )
        .unwrap();
        assert_eq!(from_file.decoder, Decoder::Avro { schema: schema.to_string() });
        std::fs::remove_file(&file).unwrap();
        let missing = StreamConfig::from_map(
            &map(&[base.as_slice(), &[("stream.kafka.decoder.prop.schema.path", path.as_str())]].concat()),
            "s",
        )
        .unwrap_err();
        assert!(
            missing[0].to_string().contains("schema.path") && missing[0].to_string().contains("cannot read"),
            "{missing:?}"
        );
        let none = StreamConfig::from_map(&map(&base), "s").unwrap_err();
        assert!(none[0].to_string().contains("writer schema"), "{none:?}");
    }
}
