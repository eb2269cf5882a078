//! A realtime table's stream config (Pinot's `streamConfigs` map) as a typed Kafka consumer
//! plan: topic, brokers, how messages decode, where a new partition starts, when a consuming
//! segment is sealed, and the librdkafka properties passed through. Every problem is
//! reported at once with the key that has it.
//!
//! Keys understood (Pinot's names): `streamType` (`kafka`), `stream.kafka.topic.name`,
//! `stream.kafka.broker.list`, `stream.kafka.consumer.type` (`lowlevel`),
//! `stream.kafka.decoder.class.name` (Pinot's JSON, Avro and CSV decoder classes),
//! `stream.kafka.decoder.prop.*` (Avro's writer schema inline as `schema`; a `schema.path`
//! is refused: the server reads no file a config names), `stream.kafka.consumer.prop.*`
//! (passed to librdkafka from an allow-list, `auto.offset.reset` read here), `realtime.segment.flush.threshold.rows` (legacy `.size`),
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
            let prop = if let Some(prop) = key.strip_prefix(CONSUMER_PROP) {
                prop
            } else if key == "security.protocol" || key.starts_with("sasl.") || key.starts_with("ssl.") {
                key.as_str()
            } else {
                continue;
            };
            match librdkafka_property(prop, value) {
                Ok(()) => {
                    consumer_properties.insert(prop.to_string(), value.clone());
                }
                Err(reason) => problems.push(Problem::new(at(key), reason)),
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

/// librdkafka properties a table config may set: what tunes fetching, timeouts and
/// connections, and Kafka's security (with keys and certificates inline as PEM). Anything
/// else — above all what loads code, runs a command or reads a server file
/// (`plugin.library.paths`, `ssl.engine.location`, `sasl.kerberos.kinit.cmd`, `*.location`)
/// — is refused by name.
const LIBRDKAFKA_ALLOWED: &[&str] = &[
    "group.id",
    "client.rack",
    "client.dns.lookup",
    "fetch.wait.max.ms",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "fetch.message.max.bytes",
    "fetch.error.backoff.ms",
    "fetch.queue.backoff.ms",
    "max.partition.fetch.bytes",
    "queued.min.messages",
    "queued.max.messages.kbytes",
    "receive.message.max.bytes",
    "message.max.bytes",
    "isolation.level",
    "check.crcs",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "socket.timeout.ms",
    "socket.keepalive.enable",
    "socket.nagle.disable",
    "socket.send.buffer.bytes",
    "socket.receive.buffer.bytes",
    "socket.connection.setup.timeout.ms",
    "socket.max.fails",
    "connections.max.idle.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "retry.backoff.ms",
    "retry.backoff.max.ms",
    "metadata.max.age.ms",
    "topic.metadata.refresh.interval.ms",
    "topic.metadata.refresh.fast.interval.ms",
    "topic.metadata.refresh.sparse",
    "broker.address.family",
    "broker.address.ttl",
    "api.version.request",
    "api.version.request.timeout.ms",
    "api.version.fallback.ms",
    "broker.version.fallback",
    "allow.auto.create.topics",
    "log_level",
    "security.protocol",
    "enable.ssl.certificate.verification",
    "ssl.endpoint.identification.algorithm",
    "ssl.cipher.suites",
    "ssl.curves.list",
    "ssl.sigalgs.list",
    "ssl.ca.pem",
    "ssl.certificate.pem",
    "ssl.key.pem",
    "ssl.key.password",
    "ssl.keystore.password",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "sasl.kerberos.service.name",
    "sasl.kerberos.principal",
    "sasl.oauthbearer.method",
    "sasl.oauthbearer.client.id",
    "sasl.oauthbearer.client.secret",
    "sasl.oauthbearer.scope",
    "sasl.oauthbearer.extensions",
    "sasl.oauthbearer.token.endpoint.url",
    "sasl.oauthbearer.config",
    "enable.sasl.oauthbearer.unsecure.jwt",
    // cuvee owns these (offsets are published with segments); accepted and overridden.
    "auto.offset.reset",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "enable.partition.eof",
];

fn librdkafka_property(key: &str, value: &str) -> std::result::Result<(), String> {
    if key == "ssl.ca.location" {
        // The system's CA certificates, found by librdkafka; no file is named.
        return if value == "probe" {
            Ok(())
        } else {
            Err("librdkafka property \"ssl.ca.location\" is refused: a table config names no file on the server; use ssl.ca.location=probe (the system's CAs) or the certificates inline in ssl.ca.pem".into())
        };
    }
    if LIBRDKAFKA_ALLOWED.contains(&key) {
        return Ok(());
    }
    let why = if key.ends_with(".location")
        || key.ends_with(".keytab")
        || key.contains("plugin")
        || key.ends_with(".cmd")
        || key.contains("engine")
    {
        "loads code, runs a command or reads a server file, which a table config may not"
    } else {
        "not among the librdkafka properties a table config may set (fetching, timeouts, connections, security; see catalog/src/stream.rs)"
    };
    Err(format!("librdkafka property \"{key}\" is refused: {why}"))
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
            // The server reads no file a table config names (`cuvee server --tables` inlines
            // a schema.path found beside its definitions before the config is applied).
            (None, Some(path)) => {
                problems.push(Problem::new(
                    at("stream.kafka.decoder.prop.schema.path"),
                    format!("{path}: the server reads no file a table config names; give the writer schema inline in stream.kafka.decoder.prop.schema"),
                ));
                Decoder::Json
            }
            (None, None) => {
                problems.push(Problem::new(
                    at("stream.kafka.decoder.prop.schema"),
                    "Avro messages need their writer schema: inline JSON here",
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
    fn avro_schema_comes_inline_never_from_a_file() {
        let base = [
            ("streamType", "kafka"),
            ("stream.kafka.topic.name", "t"),
            ("stream.kafka.broker.list", "b:9092"),
            ("stream.kafka.decoder.class.name", "org.apache.pinot.plugin.inputformat.avro.SimpleAvroMessageDecoder"),
        ];
        let schema = r#"{"type": "record", "name": "r", "fields": [{"name": "a", "type": "int"}]}"#;
        let inline = StreamConfig::from_map(
            &map(&[base.as_slice(), &[("stream.kafka.decoder.prop.schema", schema)]].concat()),
            "s",
        )
        .unwrap();
        assert_eq!(inline.decoder, Decoder::Avro { schema: schema.to_string() });
        // A path in a config would make the server read a file of the poster's choosing.
        let path = StreamConfig::from_map(
            &map(&[base.as_slice(), &[("stream.kafka.decoder.prop.schema.path", "/etc/passwd")]].concat()),
            "s",
        )
        .unwrap_err();
        assert!(
            path[0].to_string().contains("schema.path") && path[0].to_string().contains("reads no file"),
            "{path:?}"
        );
        let none = StreamConfig::from_map(&map(&base), "s").unwrap_err();
        assert!(none[0].to_string().contains("writer schema"), "{none:?}");
    }
}

#[cfg(test)]
mod property_tests {
    use super::*;

    fn config(extra: &[(&str, &str)]) -> Result<StreamConfig, Vec<Problem>> {
        let mut map: BTreeMap<String, String> = [
            ("streamType", "kafka"),
            ("stream.kafka.topic.name", "t"),
            ("stream.kafka.broker.list", "b:9092"),
            ("stream.kafka.decoder.class.name", "org.apache.pinot.plugin.stream.kafka.KafkaJSONMessageDecoder"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        map.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        StreamConfig::from_map(&map, "s")
    }

    #[test]
    fn properties_that_load_code_or_read_files_are_refused_by_name() {
        for key in [
            "stream.kafka.consumer.prop.plugin.library.paths",
            "stream.kafka.consumer.prop.ssl.engine.location",
            "sasl.kerberos.kinit.cmd",
            "ssl.keystore.location",
            "ssl.ca.location",
            "stream.kafka.consumer.prop.key.deserializer",
        ] {
            let problems = config(&[(key, "/tmp/x")]).unwrap_err();
            assert!(problems[0].to_string().contains("is refused"), "{key}: {problems:?}");
            assert!(problems[0].path.contains(key), "the problem names the key: {problems:?}");
        }
        let fine = config(&[
            ("sasl.password", "${P}"),
            ("ssl.ca.location", "probe"),
            ("stream.kafka.consumer.prop.fetch.wait.max.ms", "5"),
        ]);
        assert!(fine.is_ok(), "{fine:?}");
    }
}
