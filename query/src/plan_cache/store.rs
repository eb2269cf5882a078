//! The process's kept plans by template key, least recently used out first, and what
//! they answered.

use super::CachedPlan;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Plans kept per process, least recently used out first. A plan of a dashboard's query is
/// a few kilobytes; the bound keeps a client that sends endless shapes from growing memory.
pub const DEFAULT_CAPACITY: usize = 256;

/// What the cache holds for a key.
#[derive(Debug, Clone)]
pub enum Cached {
    Plan(Arc<CachedPlan>),
    /// The template cannot be kept; plan each query from its text.
    Uncacheable,
}

/// Values by key, at most `capacity`, the least recently used out first: the kept plans,
/// and the broker's kept text shapes.
#[derive(Debug)]
pub struct Recent<V> {
    entries: Mutex<HashMap<String, (V, u64)>>,
    capacity: usize,
    clock: AtomicU64,
}

impl<V: Clone> Recent<V> {
    pub fn new(capacity: usize) -> Recent<V> {
        Recent { entries: Mutex::new(HashMap::new()), capacity: capacity.max(1), clock: AtomicU64::new(0) }
    }

    pub fn get(&self, key: &str) -> Option<V> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.entries.lock();
        entries.get_mut(key).map(|(value, used)| {
            *used = tick;
            value.clone()
        })
    }

    /// Keeps `value` under `key`, making room by dropping the least recently used.
    pub fn insert(&self, key: String, value: V) {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut entries = self.entries.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            if let Some(oldest) = entries.iter().min_by_key(|(_, (_, used))| *used).map(|(k, _)| k.clone()) {
                entries.remove(&oldest);
            }
        }
        entries.insert(key, (value, tick));
    }

    pub fn remove(&self, key: &str) {
        self.entries.lock().remove(key);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The process's kept plans (see the module doc).
#[derive(Debug)]
pub struct PlanCache {
    entries: Recent<Cached>,
    hits: AtomicU64,
    misses: AtomicU64,
    from_text: AtomicU64,
    physical_hits: AtomicU64,
}

/// How a query got its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A kept plan, its values bound.
    Hit,
    /// Its template planned and kept.
    Miss,
    /// Planned from its text: a template that cannot be kept, values that do not fit one.
    FromText,
}

/// What the cache did since start, and how many plans it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanCacheStats {
    pub hits: u64,
    pub misses: u64,
    pub from_text: u64,
    /// Hits that also re-used a kept physical plan.
    pub physical_hits: u64,
    /// Queries the broker's dialect read from a kept shape of their text, unparsed (the
    /// broker fills this in: `cuvee_broker::shapes`).
    pub text_shape_hits: u64,
    pub entries: u64,
}

impl Default for PlanCache {
    fn default() -> Self {
        PlanCache::new(DEFAULT_CAPACITY)
    }
}

impl PlanCache {
    pub fn new(capacity: usize) -> PlanCache {
        PlanCache {
            entries: Recent::new(capacity),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            from_text: AtomicU64::new(0),
            physical_hits: AtomicU64::new(0),
        }
    }

    pub fn get(&self, key: &str) -> Option<Cached> {
        self.entries.get(key)
    }

    /// Keeps `cached` under `key`, making room by dropping the least recently used.
    pub fn insert(&self, key: String, cached: Cached) {
        self.entries.insert(key, cached);
    }

    /// Forgets a key (its plan went stale).
    pub fn remove(&self, key: &str) {
        self.entries.remove(key);
    }

    /// Counts how a query got its plan.
    pub fn record(&self, outcome: Outcome) {
        let counter = match outcome {
            Outcome::Hit => &self.hits,
            Outcome::Miss => &self.misses,
            Outcome::FromText => &self.from_text,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a hit that re-used a kept physical plan too.
    pub fn record_physical_hit(&self) {
        self.physical_hits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stats(&self) -> PlanCacheStats {
        PlanCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            from_text: self.from_text.load(Ordering::Relaxed),
            physical_hits: self.physical_hits.load(Ordering::Relaxed),
            text_shape_hits: 0,
            entries: self.entries.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_used_plan_goes_first() {
        let cache = PlanCache::new(2);
        cache.insert("a".into(), Cached::Uncacheable);
        cache.insert("b".into(), Cached::Uncacheable);
        assert!(cache.get("a").is_some());
        cache.insert("c".into(), Cached::Uncacheable);
        assert!(cache.get("b").is_none());
        assert!(cache.get("a").is_some() && cache.get("c").is_some());
        assert_eq!(cache.stats().entries, 2);
    }
}
