//! Pinot table config JSON. Sections cuvee acts on are typed; the rest are kept verbatim.
//! Keys that Pinot itself knows but cuvee does not act on yet are kept and *not* reported as
//! unrecognized; keys unknown to Pinot are kept and reported.

use crate::error::{parse_json, Result};
use crate::lenient::Flag;
use crate::unknown::{collect_unknown, Extra};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TableType {
    Offline,
    Realtime,
}

impl TableType {
    pub fn suffix(self) -> &'static str {
        match self {
            TableType::Offline => "OFFLINE",
            TableType::Realtime => "REALTIME",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableConfigJson {
    pub table_name: String,
    pub table_type: TableType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segments_config: Option<SegmentsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_index_config: Option<IndexingConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_config_list: Option<Vec<FieldConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingestion_config: Option<IngestionConfig>,
    /// Kept as written; read into a checked plan by [`crate::upsert`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upsert_config: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_config: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenants: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Json>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentsConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_column_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_time_unit: Option<String>,
    /// Pinot writes numbers here as strings; either is accepted and kept as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_time_value: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replication: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas_per_partition: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_push_type: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IndexingConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inverted_index_columns: Option<Vec<String>>,
    /// A list in Pinot's JSON, holding at most one column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorted_column: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_index_columns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bloom_filter_columns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bloom_filter_configs: Option<BTreeMap<String, BloomFilterConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_dictionary_columns: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_index_columns: Option<Vec<String>>,
    /// Pinot's switch for storing high-cardinality columns raw when that is smaller (or, for
    /// metrics only, `optimizeDictionaryForMetrics`); off unless written `true`, as in Pinot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimize_dictionary: Option<Flag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimize_dictionary_for_metrics: Option<Flag>,
    /// Raw is chosen when its bytes are under this share of the dictionary's (default 0.85,
    /// Pinot's). Kept as written (a number), read by `Table`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_dictionary_size_ratio_threshold: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub null_handling_enabled: Option<Flag>,
    /// Legacy place for stream settings; string values as Pinot writes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_configs: Option<BTreeMap<String, Json>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_partition_config: Option<SegmentPartitionConfig>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BloomFilterConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fpp: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size_in_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_on_heap: Option<Flag>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentPartitionConfig {
    #[serde(default)]
    pub column_partition_map: BTreeMap<String, ColumnPartition>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ColumnPartition {
    pub function_name: String,
    pub num_partitions: u32,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EncodingType {
    Dictionary,
    Raw,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_type: Option<EncodingType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_types: Option<Vec<String>>,
    /// The newer `{"inverted": {"enabled": "true"}, "bloom": {...}}` form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexes: Option<BTreeMap<String, Json>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression_codec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<BTreeMap<String, Json>>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestionConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform_configs: Option<Vec<TransformConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_config: Option<FilterConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_ingestion_config: Option<StreamIngestionConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_ingestion_config: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continue_on_error: Option<Flag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complex_type_config: Option<ComplexTypeConfig>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Pinot's `complexTypeConfig`: nested objects of a record become columns named by their
/// path (`actor.login` with the default delimiter `.`), and lists of objects become JSON
/// text, before transforms run. `fieldsToUnnest` (one row per list element) is not done:
/// such lists are kept as JSON text like any other.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComplexTypeConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields_to_unnest: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl ComplexTypeConfig {
    pub fn delimiter(&self) -> &str {
        self.delimiter.as_deref().filter(|d| !d.is_empty()).unwrap_or(".")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransformConfig {
    pub column_name: String,
    pub transform_function: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_function: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamIngestionConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_config_maps: Option<Vec<BTreeMap<String, Json>>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Keys Pinot knows in each section that cuvee keeps verbatim without acting on them.
mod pinot_known {
    pub const TOP: &[&str] = &[
        "task",
        "tierConfigs",
        "isMaterializedView",
        "isDimTable",
        "dimensionTableConfig",
        "tunerConfigs",
        "instanceAssignmentConfigMap",
        "instancePartitionsMap",
        "segmentAssignmentConfigMap",
        "tableSamplers",
        "version",
    ];
    pub const SEGMENTS: &[&str] = &[
        "deletedSegmentsRetentionPeriod",
        "segmentPushFrequency",
        "segmentAssignmentStrategy",
        "replicaGroupStrategyConfig",
        "completionConfig",
        "crypterClassName",
        "peerSegmentDownloadScheme",
        "minimizeDataMovement",
        "segmentNameGeneratorType",
        "timeType",
    ];
    pub const INDEXING: &[&str] = &[
        "rangeIndexVersion",
        "onHeapDictionaryColumns",
        "varLengthDictionaryColumns",
        "jsonIndexConfigs",
        "createInvertedIndexDuringSegmentGeneration",
        "starTreeIndexConfigs",
        "enableDefaultStarTree",
        "enableDynamicStarTreeCreation",
        "aggregateMetrics",
        "optimizeDictionaryType",
        "noDictionaryConfig",
        "autoGeneratedInvertedIndex",
        "columnMajorSegmentBuilderEnabled",
        "segmentFormatVersion",
        "segmentNameGeneratorType",
        "columnMinMaxValueGeneratorMode",
        "fstIndexType",
        "tierOverwrites",
        "multiColumnTextIndexConfig",
        "skipSegmentPreprocess",
        "optimizeNoDictStatsCollection",
        "h3IndexConfigs",
        "streamConfigs",
    ];
    pub const FIELD: &[&str] = &["timestampConfig", "tierOverwrites", "indexType"];
    pub const STREAM_INGESTION: &[&str] = &[
        "oomProtection",
        "columnMajorSegmentBuilderEnabled",
        "trackFilteredMessageOffsets",
        "pauselessConsumptionEnabled",
        "parallelSegmentConsumptionPolicy",
    ];
    pub const INGESTION: &[&str] = &[
        "enrichmentConfigs",
        "schemaConformingTransformerConfig",
        "aggregationConfigs",
        "rowTimeValueCheck",
        "segmentTimeValueCheck",
        "retryOnSegmentBuildPrecheckFailure",
        "segmentSizeBasedFlushThresholdConfig",
    ];
}

fn collect_unknown_except(out: &mut BTreeMap<String, Json>, prefix: &str, extra: &Extra, known: &[&str]) {
    let unknown: Extra =
        extra.iter().filter(|(k, _)| !known.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
    collect_unknown(out, prefix, &unknown);
}

impl TableConfigJson {
    /// Parses a table config; its table and schema names must follow the naming rule
    /// ([`crate::name`]), since they become file names.
    pub fn from_json(text: &str) -> Result<TableConfigJson> {
        let config: TableConfigJson = parse_json("table config", text)?;
        let mut problems = Vec::new();
        if let Err(e) = crate::name::check(crate::NameKind::Table, config.raw_table_name()) {
            problems.push(crate::Problem::new("tableName", e.to_string()));
        }
        if let Some(schema) = config.segments_config.as_ref().and_then(|s| s.schema_name.as_deref()) {
            if let Err(e) = crate::name::check(crate::NameKind::Schema, schema) {
                problems.push(crate::Problem::new("segmentsConfig.schemaName", e.to_string()));
            }
        }
        if let Err(problem) = config.retention() {
            problems.push(problem);
        }
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(crate::CatalogError::Invalid { what: "table config", problems })
        }
    }

    pub fn to_json(&self) -> Json {
        serde_json::to_value(self).unwrap_or(Json::Null)
    }

    /// `baseballStats_OFFLINE`: the name Pinot uses for one physical table.
    pub fn table_name_with_type(&self) -> String {
        let raw = self.raw_table_name();
        format!("{raw}_{}", self.table_type.suffix())
    }

    /// The table name without a `_OFFLINE`/`_REALTIME` suffix.
    pub fn raw_table_name(&self) -> &str {
        let name = self.table_name.as_str();
        name.strip_suffix("_OFFLINE").or_else(|| name.strip_suffix("_REALTIME")).unwrap_or(name)
    }

    pub fn indexing(&self) -> IndexingConfig {
        self.table_index_config.clone().unwrap_or_default()
    }

    /// How long segments are kept (`segmentsConfig.retentionTimeUnit` and
    /// `retentionTimeValue`, Java `TimeUnit` names as Pinot takes them); none when either is
    /// missing. A segment whose newest row is older than this is removed.
    pub fn retention(&self) -> std::result::Result<Option<std::time::Duration>, crate::Problem> {
        let Some(segments) = &self.segments_config else { return Ok(None) };
        let (Some(unit), Some(value)) = (&segments.retention_time_unit, &segments.retention_time_value) else {
            return Ok(None);
        };
        let millis_per_unit: u64 = match unit.to_ascii_uppercase().as_str() {
            "DAYS" => 86_400_000,
            "HOURS" => 3_600_000,
            "MINUTES" => 60_000,
            "SECONDS" => 1_000,
            "MILLISECONDS" => 1,
            other => {
                return Err(crate::Problem::new(
                    "segmentsConfig.retentionTimeUnit",
                    format!("{other:?} is not one of DAYS, HOURS, MINUTES, SECONDS, MILLISECONDS"),
                ))
            }
        };
        let count = match value {
            Json::String(text) => text.trim().parse::<u64>().ok(),
            Json::Number(n) => n.as_u64(),
            _ => None,
        };
        match count {
            Some(count) if count > 0 => {
                Ok(Some(std::time::Duration::from_millis(count.saturating_mul(millis_per_unit))))
            }
            _ => Err(crate::Problem::new(
                "segmentsConfig.retentionTimeValue",
                format!("{value} is not a whole number of {unit} above 0"),
            )),
        }
    }

    pub fn time_column(&self) -> Option<&str> {
        self.segments_config.as_ref()?.time_column_name.as_deref()
    }

    pub fn null_handling_enabled(&self) -> bool {
        self.table_index_config.as_ref().and_then(|c| c.null_handling_enabled).is_some_and(|f| f.value)
    }

    pub fn transform_configs(&self) -> &[TransformConfig] {
        self.ingestion_config.as_ref().and_then(|c| c.transform_configs.as_deref()).unwrap_or(&[])
    }

    pub fn complex_type_config(&self) -> Option<&ComplexTypeConfig> {
        self.ingestion_config.as_ref()?.complex_type_config.as_ref()
    }

    pub fn filter_function(&self) -> Option<&str> {
        self.ingestion_config.as_ref()?.filter_config.as_ref()?.filter_function.as_deref()
    }

    /// Every stream config map, from `ingestionConfig.streamIngestionConfig.streamConfigMaps`
    /// or the legacy `tableIndexConfig.streamConfigs`, with values as strings.
    pub fn stream_configs(&self) -> Vec<BTreeMap<String, String>> {
        let to_strings = |map: &BTreeMap<String, Json>| {
            map.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect::<BTreeMap<_, _>>()
        };
        let modern = self
            .ingestion_config
            .as_ref()
            .and_then(|c| c.stream_ingestion_config.as_ref())
            .and_then(|s| s.stream_config_maps.as_ref());
        if let Some(maps) = modern.filter(|m| !m.is_empty()) {
            return maps.iter().map(to_strings).collect();
        }
        match self.table_index_config.as_ref().and_then(|c| c.stream_configs.as_ref()) {
            Some(map) if !map.is_empty() => vec![to_strings(map)],
            _ => Vec::new(),
        }
    }

    /// Keys Pinot does not know, by JSON pointer (Pinot's `unrecognizedProperties`).
    pub fn unrecognized_properties(&self) -> BTreeMap<String, Json> {
        let mut out = BTreeMap::new();
        collect_unknown_except(&mut out, "", &self.extra, pinot_known::TOP);
        if let Some(s) = &self.segments_config {
            collect_unknown_except(&mut out, "/segmentsConfig", &s.extra, pinot_known::SEGMENTS);
        }
        if let Some(i) = &self.table_index_config {
            collect_unknown_except(&mut out, "/tableIndexConfig", &i.extra, pinot_known::INDEXING);
            for (column, bloom) in i.bloom_filter_configs.iter().flatten() {
                collect_unknown(&mut out, &format!("/tableIndexConfig/bloomFilterConfigs/{column}"), &bloom.extra);
            }
        }
        for (n, field) in self.field_config_list.iter().flatten().enumerate() {
            collect_unknown_except(&mut out, &format!("/fieldConfigList/{n}"), &field.extra, pinot_known::FIELD);
        }
        if let Some(ing) = &self.ingestion_config {
            collect_unknown_except(&mut out, "/ingestionConfig", &ing.extra, pinot_known::INGESTION);
            for (n, t) in ing.transform_configs.iter().flatten().enumerate() {
                collect_unknown(&mut out, &format!("/ingestionConfig/transformConfigs/{n}"), &t.extra);
            }
            if let Some(f) = &ing.filter_config {
                collect_unknown(&mut out, "/ingestionConfig/filterConfig", &f.extra);
            }
            if let Some(s) = &ing.stream_ingestion_config {
                collect_unknown_except(
                    &mut out,
                    "/ingestionConfig/streamIngestionConfig",
                    &s.extra,
                    pinot_known::STREAM_INGESTION,
                );
            }
        }
        out
    }
}
