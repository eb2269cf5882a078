//! `GET /metrics`: the process in Prometheus' text format (version 0.0.4), every name
//! prefixed `cuvee_`. Counters end in `_total`, durations are `_seconds` histograms, and
//! labels name the table, partition, door or code. Nothing is kept twice: ingestion and
//! segment figures are read from the node's status at scrape time, statement figures from
//! the broker's [`cuvee_broker::metrics::QueryMetrics`]. Callers need READ on every table
//! (the output names them all).

use crate::error::{blocking, ApiError};
use crate::Api;
use axum::extract::{Extension, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use cuvee_access::Principal;
use cuvee_broker::metrics::{DoorSnapshot, FanOutMetrics, ServerFigures, LATENCY_BUCKETS};
use cuvee_ingest::realtime::{ConsumerState, IngestionStatus};
use std::fmt::Write;
use std::sync::Arc;

pub async fn metrics(State(api): State<Arc<Api>>, Extension(caller): Extension<Principal>) -> Response {
    if let Err(denied) = crate::reads_everything(&caller) {
        return denied.into_response();
    }
    match gather(&api).await {
        Ok(scrape) => ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], render(&scrape)).into_response(),
        Err(e) => e.into_response(),
    }
}

/// One table's segments as the manifest lists them.
#[derive(Debug, Default)]
struct TableFigures {
    name: String,
    sealed_segments: u64,
    sealed_bytes: u64,
    sealed_rows: u64,
    ingestion: Option<IngestionStatus>,
}

/// Everything one scrape reports, gathered before any of it is written.
#[derive(Debug, Default)]
struct Scrape {
    doors: Vec<DoorSnapshot>,
    query_memory_bytes: usize,
    query_memory_limit_bytes: usize,
    tables: Vec<TableFigures>,
    plan_cache: cuvee_broker::PlanCacheStats,
    /// A cluster broker's fragments per server (empty in one process).
    servers: Vec<(String, ServerFigures)>,
    process: Option<ProcessFigures>,
}

async fn gather(api: &Api) -> Result<Scrape, ApiError> {
    let budget = api.service.memory_budget();
    let mut scrape = Scrape {
        doors: api.service.metrics().snapshot(),
        query_memory_bytes: budget.used(),
        query_memory_limit_bytes: budget.limit(),
        plan_cache: api.service.plan_cache_stats(),
        tables: Vec::new(),
        servers: FanOutMetrics::global().snapshot(),
        process: process_figures(),
    };
    if let Some(node) = api.node.clone() {
        // Manifests are read from memory, but asking Kafka for each partition's latest
        // offset blocks briefly: off the async workers.
        scrape.tables = blocking(move || {
            let mut names = node.tables().names();
            names.sort();
            let tables = names
                .into_iter()
                .map(|name| {
                    let mut figures = TableFigures { name: name.clone(), ..TableFigures::default() };
                    for entry in node.segments(&name).unwrap_or_default() {
                        figures.sealed_segments += 1;
                        figures.sealed_bytes += entry.size_bytes;
                        figures.sealed_rows += u64::from(entry.num_docs);
                    }
                    figures.ingestion = node.ingestion(&name).ok().map(|ingestion| ingestion.status());
                    figures
                })
                .collect();
            Ok(tables)
        })
        .await?;
    }
    Ok(scrape)
}

/// The text format, one family (HELP, TYPE, samples) at a time.
#[derive(Default)]
struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP cuvee_{name} {help}");
        let _ = writeln!(self.out, "# TYPE cuvee_{name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str("cuvee_");
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, value)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{key}=\"{}\"", escape(value));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }
}

impl Exposition {
    /// One histogram's samples: `cumulative` counts per [`LATENCY_BUCKETS`] bound then
    /// `+Inf`, and the sum, each under `labels`.
    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], cumulative: &[u64], sum_seconds: f64) {
        let bucket = format!("{name}_bucket");
        let bounds = LATENCY_BUCKETS.iter().map(|b| b.to_string()).chain(std::iter::once("+Inf".to_string()));
        for (le, count) in bounds.zip(cumulative) {
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, *count as f64);
        }
        let all = cumulative.last().copied().unwrap_or(0) as f64;
        self.sample(&format!("{name}_sum"), labels, sum_seconds);
        self.sample(&format!("{name}_count"), labels, all);
    }
}

/// A label value as the format quotes it.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        value.to_string()
    }
}

fn render(scrape: &Scrape) -> String {
    let mut x = Exposition::default();
    render_doors(&mut x, &scrape.doors);
    x.family("query_memory_bytes", "gauge", "Bytes all running queries hold, within the budget.");
    x.sample("query_memory_bytes", &[], scrape.query_memory_bytes as f64);
    x.family("query_memory_limit_bytes", "gauge", "The process's query memory budget (--total-query-memory-mb).");
    x.sample("query_memory_limit_bytes", &[], scrape.query_memory_limit_bytes as f64);
    x.family(
        "plan_cache_queries_total",
        "counter",
        "Pinot-API queries by how they were planned: hit (a kept plan, literals bound), miss (the query's shape planned and kept), text (planned from the text: a shape that cannot be kept, or literals that do not fit it).",
    );
    let cache = &scrape.plan_cache;
    for (how, count) in [("hit", cache.hits), ("miss", cache.misses), ("text", cache.from_text)] {
        x.sample("plan_cache_queries_total", &[("plan", how)], count as f64);
    }
    x.family(
        "plan_cache_physical_hits_total",
        "counter",
        "Hits that also re-used a kept physical plan (a fresh scan, no physical planning).",
    );
    x.sample("plan_cache_physical_hits_total", &[], cache.physical_hits as f64);
    x.family(
        "plan_cache_text_shape_hits_total",
        "counter",
        "Pinot-API queries whose text was read into a kept shape, unparsed (the dialect's work kept).",
    );
    x.sample("plan_cache_text_shape_hits_total", &[], cache.text_shape_hits as f64);
    x.family("plan_cache_entries", "gauge", "Query plans kept (at most --plan-cache-entries).");
    x.sample("plan_cache_entries", &[], cache.entries as f64);
    render_fan_out(&mut x, &scrape.servers);
    render_tables(&mut x, &scrape.tables);
    render_ingestion(&mut x, &scrape.tables);
    if let Some(process) = &scrape.process {
        x.family("process_resident_memory_bytes", "gauge", "Resident memory of this process.");
        x.sample("process_resident_memory_bytes", &[], process.resident_bytes as f64);
        x.family("process_cpu_seconds_total", "counter", "CPU time (user and system) this process has used.");
        x.sample("process_cpu_seconds_total", &[], process.cpu_seconds);
        x.family("process_threads", "gauge", "Threads of this process.");
        x.sample("process_threads", &[], process.threads as f64);
    }
    x.out
}

fn render_doors(x: &mut Exposition, doors: &[DoorSnapshot]) {
    x.family(
        "queries_total",
        "counter",
        "Statements finished, by door and outcome (ok, error, abandoned: the client left).",
    );
    for d in doors {
        let door = d.door.label();
        let failed: u64 = d.failed.values().sum();
        for (outcome, count) in [("ok", d.succeeded), ("error", failed), ("abandoned", d.abandoned)] {
            x.sample("queries_total", &[("door", door), ("outcome", outcome)], count as f64);
        }
    }
    x.family(
        "query_errors_total",
        "counter",
        "Failed statements by door and the door's code (Pinot error code, SQLSTATE, Flight status).",
    );
    for d in doors {
        for (code, count) in &d.failed {
            x.sample("query_errors_total", &[("door", d.door.label()), ("code", code)], *count as f64);
        }
    }
    x.family("query_duration_seconds", "histogram", "Statement latency by door, admission to last row.");
    for d in doors {
        x.histogram("query_duration_seconds", &[("door", d.door.label())], &d.latency_buckets, d.latency_sum_seconds);
    }
    x.family("query_rows_returned_total", "counter", "Rows sent to clients, by door.");
    for d in doors {
        x.sample("query_rows_returned_total", &[("door", d.door.label())], d.rows as f64);
    }
    x.family("queries_running", "gauge", "Statements running now, by door.");
    for d in doors {
        x.sample("queries_running", &[("door", d.door.label())], d.running as f64);
    }
}

fn render_fan_out(x: &mut Exposition, servers: &[(String, ServerFigures)]) {
    x.family(
        "broker_fragments_total",
        "counter",
        "Plan fragments a cluster broker sent, by server and end (ok, error, dropped: stopped being read).",
    );
    for (server, f) in servers {
        for (end, count) in [("ok", f.ok), ("error", f.errors), ("dropped", f.dropped)] {
            x.sample("broker_fragments_total", &[("server", server), ("end", end)], count as f64);
        }
    }
    x.family("broker_fragment_duration_seconds", "histogram", "Fragment latency by server, sent to last batch.");
    for (server, f) in servers {
        x.histogram(
            "broker_fragment_duration_seconds",
            &[("server", server)],
            &f.latency_buckets,
            f.latency_sum_seconds,
        );
    }
}

fn render_tables(x: &mut Exposition, tables: &[TableFigures]) {
    let consuming = |t: &TableFigures, pick: fn(&cuvee_ingest::realtime::PartitionReport) -> f64| -> f64 {
        t.ingestion.as_ref().map_or(0.0, |i| i.partitions.iter().map(pick).sum())
    };
    x.family(
        "table_segments",
        "gauge",
        "Segments of a table by state (sealed: in the manifest; consuming: being filled).",
    );
    for t in tables {
        x.sample("table_segments", &[("table", &t.name), ("state", "sealed")], t.sealed_segments as f64);
        if t.ingestion.is_some() {
            let open = consuming(t, |p| f64::from(u8::from(p.status.consuming_segment.is_some())));
            x.sample("table_segments", &[("table", &t.name), ("state", "consuming")], open);
        }
    }
    x.family(
        "table_segment_bytes",
        "gauge",
        "Bytes of a table's segments by state (sealed on disk; consuming in memory).",
    );
    for t in tables {
        x.sample("table_segment_bytes", &[("table", &t.name), ("state", "sealed")], t.sealed_bytes as f64);
        if t.ingestion.is_some() {
            let bytes = consuming(t, |p| p.status.consuming_segment_bytes as f64);
            x.sample("table_segment_bytes", &[("table", &t.name), ("state", "consuming")], bytes);
        }
    }
    x.family("table_rows", "gauge", "Rows of a table by segment state.");
    for t in tables {
        x.sample("table_rows", &[("table", &t.name), ("state", "sealed")], t.sealed_rows as f64);
        if t.ingestion.is_some() {
            let rows = consuming(t, |p| f64::from(p.status.rows_in_consuming_segment));
            x.sample("table_rows", &[("table", &t.name), ("state", "consuming")], rows);
        }
    }
}

/// Per table and partition, from the consumers' status.
fn render_ingestion(x: &mut Exposition, tables: &[TableFigures]) {
    type Pick = fn(&cuvee_ingest::realtime::PartitionReport) -> Option<f64>;
    let families: [(&str, &str, &str, Pick); 16] = [
        ("ingest_messages_total", "counter", "Messages read from the partition.", |p| {
            Some(p.status.messages_consumed as f64)
        }),
        ("ingest_rows_total", "counter", "Rows indexed (queryable) from the partition.", |p| {
            Some(p.status.rows_indexed as f64)
        }),
        ("ingest_rows_filtered_total", "counter", "Rows dropped by the table's filter function.", |p| {
            Some(p.status.rows_filtered as f64)
        }),
        (
            "ingest_dead_letters_total",
            "counter",
            "Messages that could not be decoded or conformed (kept as dead letters).",
            |p| Some(p.status.dead_letters as f64),
        ),
        (
            "ingest_dead_letters_dropped_total",
            "counter",
            "Dead letters rotated out to keep within --dead-letter-mb.",
            |p| Some(p.status.dead_letters_dropped as f64),
        ),
        ("ingest_errors_total", "counter", "Consumer and sealer failures (each retried).", |p| {
            Some(p.status.errors as f64)
        }),
        (
            "ingest_offset_gaps_total",
            "counter",
            "Times the needed offset was gone and the reset policy applied.",
            |p| Some(p.status.offset_gaps as f64),
        ),
        (
            "ingest_segments_published_total",
            "counter",
            "Segments sealed and published (including adopted ones).",
            |p| Some(p.status.segments_published as f64),
        ),
        ("ingest_seal_seconds_total", "counter", "Time spent sealing and publishing segments.", |p| {
            Some(p.status.seal_micros_total as f64 / 1e6)
        }),
        ("ingest_current_offset", "gauge", "The next offset the consumer reads.", |p| {
            p.status.current_offset.map(|o| o as f64)
        }),
        ("ingest_latest_offset", "gauge", "The partition's high watermark, when Kafka answered.", |p| {
            p.latest_offset.map(|o| o as f64)
        }),
        ("ingest_records_lag", "gauge", "Messages written to the partition and not yet consumed.", |p| {
            p.records_lag.map(|l| l as f64)
        }),
        (
            "ingest_availability_lag_seconds",
            "gauge",
            "How long ago the newest consumed message was produced, when behind (0 when caught up).",
            |p| p.availability_lag_ms.map(|l| l as f64 / 1e3),
        ),
        ("ingest_last_event_timestamp_seconds", "gauge", "Kafka timestamp of the newest message consumed.", |p| {
            p.status.last_event_time_ms.map(|t| t as f64 / 1e3)
        }),
        (
            "ingest_last_queryable_timestamp_seconds",
            "gauge",
            "Wall-clock time the newest row became queryable (freshness: now minus this).",
            |p| p.status.last_ingest_time_ms.map(|t| t as f64 / 1e3),
        ),
        ("ingest_paused", "gauge", "1 while an operator has paused the partition's consumption.", |p| {
            Some(f64::from(u8::from(p.status.state == ConsumerState::Paused)))
        }),
    ];
    for (name, kind, help, pick) in families {
        x.family(name, kind, help);
        for t in tables {
            let Some(ingestion) = &t.ingestion else { continue };
            for p in &ingestion.partitions {
                if let Some(value) = pick(p) {
                    x.sample(name, &[("table", &t.name), ("partition", &p.status.partition.to_string())], value);
                }
            }
        }
    }
    x.family("ingest_consumer_state", "gauge", "1 for the state each partition's consumer is in.");
    for t in tables {
        let Some(ingestion) = &t.ingestion else { continue };
        for p in &ingestion.partitions {
            let partition = p.status.partition.to_string();
            for state in ConsumerState::ALL {
                let value = f64::from(u8::from(p.status.state == state));
                x.sample(
                    "ingest_consumer_state",
                    &[("table", &t.name), ("partition", &partition), ("state", state.label())],
                    value,
                );
            }
        }
    }
}

#[derive(Debug)]
struct ProcessFigures {
    resident_bytes: u64,
    cpu_seconds: f64,
    threads: u64,
}

/// Read from `/proc/self/stat` (Linux; elsewhere the family is left out). Field 14 and 15
/// are user and system time in clock ticks, 20 the threads, 24 the resident pages.
fn process_figures() -> Option<ProcessFigures> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let (ticks, page) = (u64::try_from(ticks).ok()?.max(1), u64::try_from(page).ok()?);
    Some(ProcessFigures {
        resident_bytes: field(24)? * page,
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks as f64,
        threads: field(20)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_numbers_spelled_as_prometheus_reads_them() {
        let mut x = Exposition::default();
        x.family("t", "gauge", "a test");
        x.sample("t", &[("table", "a\"b\\c\nd")], f64::INFINITY);
        x.sample("t", &[], 0.25);
        assert_eq!(
            x.out,
            "# HELP cuvee_t a test\n# TYPE cuvee_t gauge\ncuvee_t{table=\"a\\\"b\\\\c\\nd\"} +Inf\ncuvee_t 0.25\n"
        );
    }

    #[test]
    fn this_process_reports_memory_cpu_and_threads() {
        let figures = process_figures().expect("/proc/self/stat");
        assert!(figures.resident_bytes > 1 << 20, "{figures:?}");
        assert!(figures.threads >= 1, "{figures:?}");
    }
}
