//! Crash points for the exactly-once test. `CUVEE_FAILPOINTS="seal.before_commit=0.3,
//! consume.after_append=0.0005"` makes the process abort — as abruptly as SIGKILL, no
//! destructor runs — with the given probability each time the named point is passed.
//! Unset (always, outside that test), a point costs one relaxed load.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

pub const ENV: &str = "CUVEE_FAILPOINTS";

fn points() -> &'static Vec<(String, f64)> {
    static POINTS: OnceLock<Vec<(String, f64)>> = OnceLock::new();
    POINTS.get_or_init(|| {
        let Ok(spec) = std::env::var(ENV) else { return Vec::new() };
        spec.split(',')
            .filter_map(|item| {
                let (name, p) = item.split_once('=')?;
                Some((name.trim().to_string(), p.trim().parse().ok()?))
            })
            .collect()
    })
}

fn random_unit() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut seed = STATE.load(Ordering::Relaxed);
    if seed == 0 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        seed = nanos ^ ((std::process::id() as u64) << 32) | 1;
    }
    // splitmix64
    seed = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    STATE.store(seed, Ordering::Relaxed);
    let mut z = seed;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Aborts the process here with the configured probability.
pub fn hit(name: &str) {
    let points = points();
    if points.is_empty() {
        return;
    }
    if let Some((_, p)) = points.iter().find(|(n, _)| n == name) {
        if random_unit() < *p {
            eprintln!("cuvee: failpoint {name} hit, aborting");
            std::process::abort();
        }
    }
}
