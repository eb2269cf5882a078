//! The benchmark's event stream: deterministic, seeded, and generated block by block so any
//! range of rows (the imported table, the Kafka backlog, the live feed after it) can be
//! produced on its own and still be the same rows.
//!
//! | column | distribution |
//! |---|---|
//! | `ts` | ms; row i at `START_MS + i · 86.4 ms` (10 M rows = 10 days) plus up to 2 s of skew |
//! | `user_id` | Zipf (s = 0.8) over 1 M ids, ranks scattered over the id space |
//! | `session_id` | a user's 30-minute window, hashed: high-cardinality hex string |
//! | `country` | Zipf (s = 1) over 200 codes |
//! | `device` | 10 values, fixed weights |
//! | `event_type` | Zipf (s = 1) over 20 kinds |
//! | `page` | Zipf (s = 1) over 10 k paths |
//! | `latency_ms` | gamma (k = 2, θ = 40), whole ms |
//! | `revenue` | exponential, mean 25, cents |
//! | `tags` | multi-value: 0–5 distinct of 100 |

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use std::sync::Arc;

pub use crate::rng::Rng;

pub const START_MS: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
pub const STEP_US: i64 = 86_400;
pub const USERS: usize = 1_000_000;
const BLOCK: u64 = 65_536;
const SEED: u64 = 0x00C0_FFEE;
const DEVICES: [(&str, u32); 10] = [
    ("phone", 40),
    ("desktop", 25),
    ("tablet", 12),
    ("tv", 6),
    ("watch", 5),
    ("car", 4),
    ("console", 3),
    ("kiosk", 2),
    ("bot", 2),
    ("other", 1),
];

/// Zipf by inverse CDF over a precomputed table: exact, and fast enough (a binary search).
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, s: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut total = 0.0;
        for k in 1..=n {
            total += (k as f64).powf(-s);
            cdf.push(total);
        }
        cdf.iter_mut().for_each(|c| *c /= total);
        Zipf { cdf }
    }

    /// A 0-based rank; rank 0 is the most frequent.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

/// The value sets and distributions, built once.
pub struct Vocabulary {
    users: Zipf,
    countries: Zipf,
    event_types: Zipf,
    pages: Zipf,
    pub country_names: Vec<String>,
    pub event_type_names: Vec<String>,
    pub page_names: Vec<String>,
    pub tag_names: Vec<String>,
}

impl Vocabulary {
    pub fn new() -> Vocabulary {
        Vocabulary {
            users: Zipf::new(USERS, 0.8),
            countries: Zipf::new(200, 1.0),
            event_types: Zipf::new(20, 1.0),
            pages: Zipf::new(10_000, 1.0),
            country_names: (0..200).map(|i| format!("c{i:03}")).collect(),
            event_type_names: (0..20).map(|i| format!("event_{i:02}")).collect(),
            page_names: (0..10_000).map(|i| format!("/p/{i:04}")).collect(),
            tag_names: (0..100).map(|i| format!("tag{i:02}")).collect(),
        }
    }

    /// A user id as the stream would show it: Zipf rank scattered over the id space, so the
    /// heavy users are not simply the smallest ids.
    pub fn user(&self, rng: &mut Rng) -> i64 {
        scatter(self.users.sample(rng) as u64)
    }
}

impl Default for Vocabulary {
    fn default() -> Self {
        Vocabulary::new()
    }
}

/// A bijection on 0..USERS (multiplication by a unit modulo USERS).
fn scatter(rank: u64) -> i64 {
    ((rank * 738_083 + 12_345) % USERS as u64) as i64
}

pub struct Event {
    pub ts: i64,
    pub user_id: i64,
    pub session_id: String,
    pub country: usize,
    pub device: usize,
    pub event_type: usize,
    pub page: usize,
    pub latency_ms: i32,
    pub revenue: f64,
    pub tags: Vec<usize>,
}

/// Rows `from..to` of the stream.
pub fn events(vocabulary: &Vocabulary, from: u64, to: u64) -> Vec<Event> {
    let mut out = Vec::with_capacity((to - from) as usize);
    let mut block = from / BLOCK;
    while block * BLOCK < to {
        let mut rng = Rng::new(SEED ^ block.wrapping_mul(0xA24B_AED4_963E_E407));
        for row in block * BLOCK..(block + 1) * BLOCK {
            let event = event(vocabulary, &mut rng, row);
            if row >= from && row < to {
                out.push(event);
            }
        }
        block += 1;
    }
    out
}

fn event(v: &Vocabulary, rng: &mut Rng, row: u64) -> Event {
    let ts = START_MS + (row as i64 * STEP_US) / 1000 + rng.below(2_000) as i64;
    let user_id = v.user(rng);
    let session = (user_id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ ((ts / 1_800_000) as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    let weight = rng.below(100) as u32;
    let device = DEVICES
        .iter()
        .scan(0, |sum, (_, w)| {
            *sum += w;
            Some(*sum)
        })
        .position(|sum| weight < sum)
        .unwrap_or(0);
    let latency = -40.0 * (rng.unit().ln() + rng.unit().ln());
    let revenue = (-25.0 * rng.unit().ln() * 100.0).round() / 100.0;
    let mut tags = Vec::new();
    for _ in 0..rng.below(6) {
        let tag = rng.below(100) as usize;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Event {
        ts,
        user_id,
        session_id: format!("{session:016x}"),
        country: v.countries.sample(rng),
        device,
        event_type: v.event_types.sample(rng),
        page: v.pages.sample(rng),
        latency_ms: latency.round() as i32,
        revenue,
        tags,
    }
}

pub fn device_name(device: usize) -> &'static str {
    DEVICES[device].0
}

pub fn arrow_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("ts", DataType::Int64, false),
        Field::new("user_id", DataType::Int64, false),
        Field::new("session_id", DataType::Utf8, false),
        Field::new("country", DataType::Utf8, false),
        Field::new("device", DataType::Utf8, false),
        Field::new("event_type", DataType::Utf8, false),
        Field::new("page", DataType::Utf8, false),
        Field::new("latency_ms", DataType::Int32, false),
        Field::new("revenue", DataType::Float64, false),
        Field::new("tags", DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), false),
    ]))
}

pub fn record_batch(v: &Vocabulary, events: &[Event]) -> Result<RecordBatch, arrow_schema::ArrowError> {
    let mut tags =
        ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new("item", DataType::Utf8, true)));
    for event in events {
        for &tag in &event.tags {
            tags.values().append_value(&v.tag_names[tag]);
        }
        tags.append(true);
    }
    let tags = tags.finish();
    RecordBatch::try_new(
        arrow_schema(),
        vec![
            Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.ts))),
            Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.user_id))),
            strings(events.iter().map(|e| e.session_id.as_str())),
            strings(events.iter().map(|e| v.country_names[e.country].as_str())),
            strings(events.iter().map(|e| device_name(e.device))),
            strings(events.iter().map(|e| v.event_type_names[e.event_type].as_str())),
            strings(events.iter().map(|e| v.page_names[e.page].as_str())),
            Arc::new(Int32Array::from_iter_values(events.iter().map(|e| e.latency_ms))),
            Arc::new(Float64Array::from_iter_values(events.iter().map(|e| e.revenue))),
            Arc::new(tags),
        ],
    )
}

fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

/// The event as the JSON message a producer would send.
pub fn json(v: &Vocabulary, e: &Event) -> serde_json::Value {
    serde_json::json!({
        "ts": e.ts, "user_id": e.user_id, "session_id": e.session_id,
        "country": v.country_names[e.country], "device": device_name(e.device),
        "event_type": v.event_type_names[e.event_type], "page": v.page_names[e.page],
        "latency_ms": e.latency_ms, "revenue": e.revenue,
        "tags": e.tags.iter().map(|&t| v.tag_names[t].as_str()).collect::<Vec<_>>(),
    })
}
