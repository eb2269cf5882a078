//! Closed-loop load on Pinot's HTTP query API: `--clients` connections (HTTP/1.1 keep-alive),
//! each sending the next query as soon as the last answered, for `--seconds` after a warm-up.
//! Queries come from a template file, one per line, with `{country}`, `{device}`,
//! `{user}` and `{user_hi}` filled from a seeded generator so nothing is memoised.
//! Prints one JSON line: QPS, p50/p99/max latency (ms), errors, partial answers.
//!
//!   cargo run --release --example http_load -- --target 127.0.0.1:8099 --queries q.sql
// A measuring tool: its output is what it is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Args {
    target: String,
    clients: usize,
    seconds: u64,
    warmup: u64,
    queries: Vec<String>,
    countries: u64,
    devices: u64,
    users: u64,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        target: "127.0.0.1:8099".into(),
        clients: 16,
        seconds: 20,
        warmup: 3,
        queries: Vec::new(),
        countries: 200,
        devices: 10,
        users: 1_000_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--target" => args.target = value()?,
            "--clients" => args.clients = value()?.parse().map_err(|e| format!("--clients: {e}"))?,
            "--seconds" => args.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--warmup" => args.warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--users" => args.users = value()?.parse().map_err(|e| format!("--users: {e}"))?,
            "--queries" => {
                let path = value()?;
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
                args.queries = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with("--"))
                    .map(String::from)
                    .collect();
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.queries.is_empty() {
        return Err("--queries FILE with at least one query is required".into());
    }
    Ok(args)
}

#[path = "harness/rng.rs"]
#[allow(dead_code)] // http_load draws only integers
mod rng;
use rng::Rng;

fn fill(template: &str, rng: &mut Rng, a: &Args) -> String {
    let user = rng.next_u64() % a.users;
    template
        .replace("{country}", &format!("c{}", rng.next_u64() % a.countries))
        .replace("{device}", &format!("d{}", rng.next_u64() % a.devices))
        .replace("{user_hi}", &(user + 100).to_string())
        .replace("{user}", &user.to_string())
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    errors: u64,
    partial: u64,
    first_error: Option<String>,
}

async fn ask(stream: &mut TcpStream, host: &str, sql: &str, buffer: &mut Vec<u8>) -> std::io::Result<String> {
    let body = serde_json::json!({ "sql": sql }).to_string();
    let request = format!("POST /query/sql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
    stream.write_all(request.as_bytes()).await?;
    buffer.clear();
    let mut chunk = [0u8; 16384];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the server closed the connection"));
        }
        buffer.extend_from_slice(&chunk[..n]);
        let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buffer.len() < end + 4 + length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the answer was cut short"));
            }
            buffer.extend_from_slice(&chunk[..n]);
        }
        return Ok(String::from_utf8_lossy(&buffer[end + 4..end + 4 + length]).into_owned());
    }
}

#[tokio::main]
async fn main() {
    let args = match args() {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let mut tasks = Vec::new();
    for client in 0..args.clients {
        let (args, measuring, stop) = (Arc::clone(&args), Arc::clone(&measuring), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(0xC0FFEE + client as u64);
            let mut mine = Tally::default();
            let mut buffer = Vec::with_capacity(1 << 16);
            let mut stream = match TcpStream::connect(&args.target).await {
                Ok(s) => s,
                Err(e) => {
                    mine.errors += 1;
                    mine.first_error = Some(e.to_string());
                    return mine;
                }
            };
            let _ = stream.set_nodelay(true);
            let mut turn = client;
            while !stop.load(Ordering::Relaxed) {
                let sql = fill(&args.queries[turn % args.queries.len()], &mut rng, &args);
                turn += 1;
                let started = Instant::now();
                let answer = ask(&mut stream, &args.target, &sql, &mut buffer).await;
                let took = started.elapsed().as_micros() as u64;
                if !measuring.load(Ordering::Relaxed) {
                    continue;
                }
                match answer {
                    Ok(body) if body.contains("\"exceptions\":[]") => {
                        mine.latencies_us.push(took);
                        if body.contains("\"partialResult\":true") {
                            mine.partial += 1;
                        }
                    }
                    Ok(body) => {
                        mine.errors += 1;
                        mine.first_error.get_or_insert_with(|| body.chars().take(300).collect());
                    }
                    Err(e) => {
                        mine.errors += 1;
                        mine.first_error.get_or_insert_with(|| e.to_string());
                        match TcpStream::connect(&args.target).await {
                            Ok(s) => stream = s,
                            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                        }
                    }
                }
            }
            mine
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        if let Ok(mine) = task.await {
            let mut all = tally.lock().unwrap_or_else(|e| e.into_inner());
            all.latencies_us.extend(mine.latencies_us);
            all.errors += mine.errors;
            all.partial += mine.partial;
            if all.first_error.is_none() {
                all.first_error = mine.first_error;
            }
        }
    }
    let mut all = tally.lock().unwrap_or_else(|e| e.into_inner());
    all.latencies_us.sort_unstable();
    let pct = |p: f64| {
        all.latencies_us
            .get(((all.latencies_us.len() as f64 * p) as usize).min(all.latencies_us.len().saturating_sub(1)))
            .map_or(0.0, |&us| us as f64 / 1000.0)
    };
    let report = serde_json::json!({
        "clients": args.clients,
        "seconds": elapsed,
        "queries": all.latencies_us.len(),
        "qps": all.latencies_us.len() as f64 / elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": all.latencies_us.last().map_or(0.0, |&us| us as f64 / 1000.0),
        "errors": all.errors,
        "partial": all.partial,
        "first_error": all.first_error,
    });
    println!("{report}");
}
