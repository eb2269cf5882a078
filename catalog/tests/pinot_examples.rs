//! Every schema and table config under `shared/pinot-examples` parses, round-trips to the
//! same JSON, and (where its schema sits beside it) validates as a table. New examples are
//! picked up automatically.

use cuvee_catalog::{Schema, Table, TableConfigJson};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};

fn examples_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pinot-examples");
    assert!(dir.is_dir(), "pinot examples not found at {}", dir.display());
    dir
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("json" | "schema")) {
            out.push(path);
        }
    }
}

enum Kind {
    Schema,
    TableConfig,
    Other,
}

fn kind(json: &Json) -> Kind {
    let Some(object) = json.as_object() else { return Kind::Other };
    if object.contains_key("schemaName")
        && (object.contains_key("dimensionFieldSpecs")
            || object.contains_key("metricFieldSpecs")
            || object.contains_key("dateTimeFieldSpecs"))
    {
        Kind::Schema
    } else if object.contains_key("tableName") && object.contains_key("tableType") {
        Kind::TableConfig
    } else {
        Kind::Other
    }
}

#[test]
fn every_example_config_parses_and_round_trips() {
    let mut files = Vec::new();
    walk(&examples_dir(), &mut files);
    let (mut schemas, mut configs) = (Vec::new(), Vec::new());
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let Ok(json) = serde_json::from_str::<Json>(&text) else { continue };
        match kind(&json) {
            Kind::Schema => {
                let schema = match Schema::from_json(&text) {
                    Ok(schema) => schema,
                    Err(e) => {
                        failures.push(format!("{}: {e}", path.display()));
                        continue;
                    }
                };
                assert_eq!(schema.to_json(), json, "{} does not round-trip", path.display());
                assert_eq!(Schema::from_json(&schema.to_json().to_string()).unwrap(), schema);
                schemas.push((path.clone(), schema));
            }
            Kind::TableConfig => {
                let config = match TableConfigJson::from_json(&text) {
                    Ok(config) => config,
                    Err(e) => {
                        failures.push(format!("{}: {e}", path.display()));
                        continue;
                    }
                };
                assert_eq!(config.to_json(), json, "{} does not round-trip", path.display());
                // Pinot's own example misplaces columnPartitionMap (it belongs in
                // segmentPartitionConfig); Pinot reports it too.
                let expected_unknown = path.ends_with("upsertJsonMeetupRsvp_realtime_table_config.json");
                if config.unrecognized_properties().is_empty() == expected_unknown {
                    failures.push(format!("{}: unrecognized {:?}", path.display(), config.unrecognized_properties()));
                }
                configs.push((path.clone(), config));
            }
            Kind::Other => {}
        }
    }
    assert!(schemas.len() >= 25, "found only {} schemas", schemas.len());
    assert!(configs.len() >= 25, "found only {} table configs", configs.len());

    // Pair each table config with the schema of the same name in its folder.
    let mut paired = 0;
    for (path, config) in &configs {
        let folder = path.parent().unwrap();
        let realtime = config.table_type == cuvee_catalog::TableType::Realtime;
        let candidates: Vec<&Schema> = schemas
            .iter()
            .filter(|(p, s)| p.parent() == Some(folder) && s.name() == config.raw_table_name())
            .map(|(_, s)| s)
            .collect();
        // Prefer the realtime variant of a schema for a realtime table, as the examples do.
        let schema =
            candidates.iter().find(|_| realtime && candidates.len() > 1).copied().or(candidates.first().copied());
        let Some(schema) = schema else { continue };
        let ok = candidates.iter().any(|s| Table::new((*s).clone(), config.clone()).is_ok());
        if !ok {
            let err = Table::new(schema.clone(), config.clone()).unwrap_err();
            failures.push(format!("{}: {err}", path.display()));
            continue;
        }
        paired += 1;
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert!(paired >= 20, "only {paired} configs were paired with a schema");
}

/// Every realtime example's Kafka stream config reads as a consumer plan, as given; a
/// non-Kafka stream (Kinesis) is refused with a reason naming `streamType`.
#[test]
fn every_realtime_example_has_a_readable_stream_config() {
    let mut files = Vec::new();
    walk(&examples_dir(), &mut files);
    let (mut kafka, mut refused) = (0, 0);
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let Ok(config) = TableConfigJson::from_json(&text) else { continue };
        for (i, map) in config.stream_configs().iter().enumerate() {
            let is_kafka = map.get("streamType").is_some_and(|t| t == "kafka");
            match cuvee_catalog::StreamConfig::from_map(map, &format!("streamConfigMaps[{i}]")) {
                Ok(stream) => {
                    assert!(is_kafka, "{}", path.display());
                    assert!(!stream.topic.is_empty() && !stream.bootstrap_servers.is_empty(), "{}", path.display());
                    kafka += 1;
                }
                Err(problems) => {
                    assert!(!is_kafka, "{}: {problems:?}", path.display());
                    assert!(
                        problems.iter().any(|p| p.path.ends_with("streamType")),
                        "{}: {problems:?}",
                        path.display()
                    );
                    refused += 1;
                }
            }
        }
    }
    assert!(kafka >= 13 && refused >= 1, "kafka {kafka}, refused {refused}");
}
