//! Rows of the event stream into a Kafka topic as JSON messages: the backlog the realtime
//! table loads from, or the live feed (`--rate`) that runs while queries are measured.
//! `--key session_id` keys each message by its session (the upsert table's primary key), so
//! a session's events share a partition; without it messages have no key.

use crate::{events, Error, Flags};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::time::{Duration, Instant};

const SLICE: Duration = Duration::from_millis(10);

pub fn run(flags: &Flags) -> Result<(), Error> {
    let bootstrap = flags.text("bootstrap")?;
    let topic = flags.text("topic")?;
    let from: u64 = flags.number("from", Some(0))?;
    let to: u64 = flags.number("to", None)?;
    let rate: u64 = flags.number("rate", Some(0))?;
    let by_session = match flags.text("key").ok().as_deref() {
        None => false,
        Some("session_id") => true,
        Some(other) => return Err(format!("--key {other:?}: only session_id is a key of the events").into()),
    };
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", if rate == 0 { "20" } else { "2" })
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "1000000")
        .create()?;
    let vocabulary = crate::vocabulary();
    let started = Instant::now();
    let mut at = from;
    while at < to {
        let end = (at + 65_536).min(to);
        let batch = events::events(&vocabulary, at, end);
        for (i, event) in batch.iter().enumerate() {
            if rate > 0 {
                // Paced: row n is due at n / rate seconds after the start.
                let due = started + Duration::from_secs_f64((at + i as u64 - from) as f64 / rate as f64);
                let now = Instant::now();
                if due > now + SLICE {
                    producer.poll(Duration::ZERO);
                    std::thread::sleep(due - now);
                }
            }
            let payload = serde_json::to_vec(&events::json(&vocabulary, event))?;
            let key = by_session.then_some(event.session_id.as_bytes());
            send(&producer, &topic, key, &payload)?;
        }
        producer.poll(Duration::ZERO);
        at = end;
    }
    producer.flush(Duration::from_secs(60))?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({ "rows": to - from, "seconds": seconds, "rows_per_second": (to - from) as f64 / seconds })
    );
    Ok(())
}

/// Sends one message, waiting for room when the local queue is full.
fn send(producer: &BaseProducer, topic: &str, key: Option<&[u8]>, payload: &[u8]) -> Result<(), Error> {
    loop {
        let record = BaseRecord::<[u8], [u8]>::to(topic).payload(payload);
        let record = match key {
            Some(key) => record.key(key),
            None => record,
        };
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                producer.poll(Duration::from_millis(10));
            }
            Err((e, _)) => return Err(e.into()),
        }
    }
}
