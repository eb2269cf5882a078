//! Crash points for the exactly-once test, compiled only with the `failpoints` feature
//! (test builds). [`configure`] with `"seal.before_commit=0.3,consume.after_append=0.0005"`
//! makes the process abort — as abruptly as SIGKILL, no destructor runs — with the given
//! probability each time the named point is passed. The `cuvee` binary reads the spec from
//! `CUVEE_FAILPOINTS`. Without the feature, [`hit`] is empty.

#[cfg(feature = "failpoints")]
mod enabled {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    static POINTS: OnceLock<Vec<(String, f64)>> = OnceLock::new();

    /// Sets the crash points (once; later calls are ignored).
    pub fn configure(spec: &str) {
        let points = spec
            .split(',')
            .filter_map(|item| {
                let (name, p) = item.split_once('=')?;
                Some((name.trim().to_string(), p.trim().parse().ok()?))
            })
            .collect();
        let _ = POINTS.set(points);
    }

    fn random_unit() -> f64 {
        static STATE: AtomicU64 = AtomicU64::new(0);
        let mut seed = STATE.load(Ordering::Relaxed);
        if seed == 0 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1);
            seed = nanos ^ (u64::from(std::process::id()) << 32) | 1;
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
        let Some(points) = POINTS.get() else { return };
        if let Some((_, p)) = points.iter().find(|(n, _)| n == name) {
            if random_unit() < *p {
                tracing::error!(failpoint = name, "failpoint hit, aborting");
                std::process::abort();
            }
        }
    }
}

#[cfg(feature = "failpoints")]
pub use enabled::{configure, hit};

/// Without the `failpoints` feature a crash point is nothing.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}
