//! The quickstart's event stream: realistic clickstream events (skewed users and pages,
//! gamma-ish latencies, rare purchases), produced to Kafka at a steady rate from a thread of
//! its own until told to stop.

use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const COUNTRIES: [&str; 12] = ["US", "IN", "BR", "DE", "FR", "GB", "JP", "ID", "MX", "NG", "CA", "KR"];
const DEVICES: [&str; 4] = ["mobile", "desktop", "tablet", "tv"];
const EVENTS: [&str; 6] = ["page_view", "page_view", "page_view", "click", "add_to_cart", "purchase"];
const TAGS: [&str; 8] = ["sale", "new", "returning", "promo", "mobile-app", "search", "email", "ad"];

/// xorshift64*: deterministic, fast, good enough for fake traffic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    /// Skewed towards small values: a few heavy users and popular pages.
    fn skewed(&mut self, max: u64) -> u64 {
        (self.unit().powi(3) * max as f64) as u64
    }
}

fn event(rng: &mut Rng, sequence: u64, now_ms: i64) -> (String, String) {
    let user = rng.skewed(1_000_000);
    let event_type = rng.pick(&EVENTS);
    let tags: Vec<&str> = (0..rng.next() % 3).map(|_| rng.pick(&TAGS)).collect();
    let latency = 5.0 + (-rng.unit().max(1e-9).ln() * 40.0) + (-rng.unit().max(1e-9).ln() * 40.0);
    let revenue = if event_type == "purchase" { (rng.unit() * 200.0 * 100.0).round() / 100.0 } else { 0.0 };
    let body = serde_json::json!({
        "user_id": user,
        "session_id": format!("s-{user}-{}", sequence / 50),
        "country": rng.pick(&COUNTRIES),
        "device": rng.pick(&DEVICES),
        "event_type": event_type,
        "page": format!("/p/{}", rng.skewed(10_000)),
        "tags": tags,
        "latency_ms": latency as i64,
        "revenue": revenue,
        "ts": now_ms,
    });
    (user.to_string(), body.to_string())
}

pub struct Stream {
    stop: Arc<AtomicBool>,
    produced: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Stream {
    /// Produces `per_second` events a second to `topic` until stopped.
    pub fn start(bootstrap: &str, topic: &str, per_second: u32) -> anyhow::Result<Stream> {
        let producer: BaseProducer =
            ClientConfig::new().set("bootstrap.servers", bootstrap).set("linger.ms", "5").create()?;
        let stop = Arc::new(AtomicBool::new(false));
        let produced = Arc::new(AtomicU64::new(0));
        let topic = topic.to_string();
        let thread = {
            let (stop, produced) = (Arc::clone(&stop), Arc::clone(&produced));
            std::thread::Builder::new().name("cuvee-quickstart-producer".into()).spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
                let started = Instant::now();
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let due = (started.elapsed().as_secs_f64() * per_second as f64) as u64;
                    while sent < due {
                        let now_ms = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_millis() as i64)
                            .unwrap_or(0);
                        let (key, body) = event(&mut rng, sent, now_ms);
                        if producer.send(BaseRecord::to(&topic).key(&key).payload(&body)).is_err() {
                            break; // queue full: try again on the next tick
                        }
                        sent += 1;
                    }
                    produced.store(sent, Ordering::Relaxed);
                    producer.poll(Duration::from_millis(10));
                }
                let _ = producer.flush(Duration::from_secs(5));
            })?
        };
        Ok(Stream { stop, produced, thread: Some(thread) })
    }

    /// Events handed to Kafka so far.
    pub fn produced(&self) -> u64 {
        self.produced.load(Ordering::Relaxed)
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.stop();
    }
}
