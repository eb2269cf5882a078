//! Secrets in table configs (Kafka passwords, keys): which keys hold them, and the config
//! as it may be shown or copied — every secret value replaced by [`REDACTED`], unless it is
//! a `${NAME}` reference (the name of an environment variable the server resolves when it
//! connects; a reference is not the secret). Redacted configs are what API answers, the
//! deep store's copy, cluster listings and logs get; the data directory keeps the config as
//! given, so a secret given in plain text stays on the server's disk only.

use crate::TableConfigJson;
use serde_json::Value as Json;
use std::collections::BTreeMap;

pub const REDACTED: &str = "*****";

/// Whether a stream config key (with or without `stream.kafka.consumer.prop.`) holds a secret.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.strip_prefix("stream.kafka.consumer.prop.").unwrap_or(key).to_ascii_lowercase();
    key.contains("password")
        || key.contains("secret")
        || key.contains("jaas")
        || key == "ssl.key.pem"
        || key == "sasl.oauthbearer.config"
        || key.ends_with(".token")
}

/// `${NAME}`: a reference to an environment variable, resolved when the consumer connects.
pub fn reference(value: &str) -> Option<&str> {
    let name = value.strip_prefix("${")?.strip_suffix('}')?;
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(name)
}

fn redact_map(map: &mut BTreeMap<String, Json>) {
    for (key, value) in map.iter_mut() {
        if is_secret_key(key) && value.as_str().is_none_or(|v| reference(v).is_none()) {
            *value = Json::String(REDACTED.into());
        }
    }
}

impl TableConfigJson {
    /// The config with every secret value redacted (references kept).
    pub fn redacted(&self) -> TableConfigJson {
        let mut config = self.clone();
        if let Some(map) = config.table_index_config.as_mut().and_then(|c| c.stream_configs.as_mut()) {
            redact_map(map);
        }
        if let Some(maps) = config
            .ingestion_config
            .as_mut()
            .and_then(|c| c.stream_ingestion_config.as_mut())
            .and_then(|s| s.stream_config_maps.as_mut())
        {
            maps.iter_mut().for_each(redact_map);
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_and_references_kept() {
        let config = TableConfigJson::from_json(
            r#"{"tableName": "t", "tableType": "REALTIME", "segmentsConfig": {}, "tenants": {}, "metadata": {},
                "tableIndexConfig": {"streamConfigs": {"stream.kafka.topic.name": "t",
                    "sasl.password": "hunter2", "sasl.jaas.config": "x password=\"p\"",
                    "stream.kafka.consumer.prop.ssl.key.password": "${KEY_PASSWORD}"}}}"#,
        )
        .unwrap();
        let shown = config.redacted().to_json().to_string();
        assert!(!shown.contains("hunter2") && !shown.contains("password=\\\"p"), "{shown}");
        assert!(shown.contains("${KEY_PASSWORD}") && shown.contains("\"stream.kafka.topic.name\":\"t\""), "{shown}");
        assert!(config.to_json().to_string().contains("hunter2"), "the config itself keeps what was given");
        assert!(is_secret_key("sasl.oauthbearer.client.secret") && !is_secret_key("sasl.username"));
        assert_eq!(reference("${A_1}"), Some("A_1"));
        assert_eq!(reference("${a b}"), None);
    }
}
