//! What all queries together may use, beside what one may ([`crate::QueryLimits`]):
//!
//! - **Admission**: at most `max_concurrent_queries` run at once, on every door together;
//!   one more waits its turn up to `queue_timeout`, then is refused as
//!   [`ErrorKind::Overloaded`] (Pinot 429, SQLSTATE 53300, gRPC RESOURCE_EXHAUSTED) — the
//!   answer ClickHouse gives past `max_concurrent_queries`, with a queue in front.
//! - **Memory**: each query's operators draw from their own pool *and* from one budget of
//!   `total_memory_bytes` for the process, so many queries each under their own limit
//!   cannot together exhaust the machine; the one that would cross either line spills or
//!   fails with a message saying which line.

use cuvee_error::{ErrorExt, ErrorKind};
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::{MemoryLimit, MemoryPool, MemoryReservation};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug, thiserror::Error)]
#[error(
    "the server is running its limit of {limit} queries at once and none finished in {} ms; try again (--max-concurrent-queries)",
    waited.as_millis()
)]
pub struct Overloaded {
    pub limit: usize,
    pub waited: Duration,
}

impl ErrorExt for Overloaded {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Overloaded
    }
}

/// The gate every statement passes before it plans.
#[derive(Debug)]
pub struct Admission {
    permits: Arc<Semaphore>,
    limit: usize,
    queue_timeout: Duration,
}

/// A running statement's place; dropping it lets the next one in.
#[derive(Debug)]
pub struct Admitted(#[allow(dead_code)] OwnedSemaphorePermit);

impl Admission {
    pub fn new(limit: usize, queue_timeout: Duration) -> Admission {
        let limit = limit.max(1);
        Admission { permits: Arc::new(Semaphore::new(limit)), limit, queue_timeout }
    }

    pub async fn admit(&self) -> Result<Admitted, Overloaded> {
        let refused = || Overloaded { limit: self.limit, waited: self.queue_timeout };
        match tokio::time::timeout(self.queue_timeout, Arc::clone(&self.permits).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Admitted(permit)),
            _ => Err(refused()),
        }
    }

    /// Statements running now.
    pub fn running(&self) -> usize {
        self.limit - self.permits.available_permits()
    }
}

/// The process's memory for queries, shared by every query's pool.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: usize,
    used: AtomicUsize,
}

impl MemoryBudget {
    pub fn new(limit: usize) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget { limit, used: AtomicUsize::new(0) })
    }

    /// Bytes all queries hold now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// A pool of `limit` bytes drawing on this budget.
    pub fn pool(self: &Arc<Self>, limit: usize) -> Arc<dyn MemoryPool> {
        Arc::new(QueryPool { limit, used: AtomicUsize::new(0), budget: Arc::clone(self) })
    }
}

/// One query's (or one door session's) memory: its own limit, inside the budget.
#[derive(Debug)]
struct QueryPool {
    limit: usize,
    used: AtomicUsize,
    budget: Arc<MemoryBudget>,
}

impl std::fmt::Display for QueryPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "query pool: {} of {} bytes", self.reserved(), self.limit)
    }
}

impl MemoryPool for QueryPool {
    fn name(&self) -> &str {
        "cuvee-query"
    }

    fn grow(&self, _reservation: &MemoryReservation, additional: usize) {
        self.used.fetch_add(additional, Ordering::Relaxed);
        self.budget.used.fetch_add(additional, Ordering::Relaxed);
    }

    fn shrink(&self, _reservation: &MemoryReservation, shrink: usize) {
        self.used.fetch_sub(shrink, Ordering::Relaxed);
        self.budget.used.fetch_sub(shrink, Ordering::Relaxed);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> datafusion::error::Result<()> {
        let consumer = reservation.consumer().name().to_string();
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(additional).filter(|&n| n <= self.limit)
            })
            .map_err(|used| {
                DataFusionError::ResourcesExhausted(format!(
                    "{consumer} needs {additional} more bytes; the query holds {used} of its {} (--query-memory-mb)",
                    self.limit
                ))
            })?;
        let shared = self.budget.used.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
            used.checked_add(additional).filter(|&n| n <= self.budget.limit)
        });
        if let Err(used) = shared {
            self.used.fetch_sub(additional, Ordering::Relaxed);
            return Err(DataFusionError::ResourcesExhausted(format!(
                "{consumer} needs {additional} more bytes; all queries together hold {used} of the server's {} (--total-query-memory-mb)",
                self.budget.limit
            )));
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.limit)
    }
}

impl Drop for QueryPool {
    fn drop(&mut self) {
        // Reservations shrink as they drop; anything left would be lost to the budget.
        let left = self.used.swap(0, Ordering::Relaxed);
        if left > 0 {
            self.budget.used.fetch_sub(left, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::execution::memory_pool::MemoryConsumer;

    #[test]
    fn a_query_is_bounded_by_its_limit_and_by_everyone_s() {
        let budget = MemoryBudget::new(100);
        let (a, b) = (budget.pool(80), budget.pool(80));
        let ra = MemoryConsumer::new("sort").register(&a);
        let rb = MemoryConsumer::new("hash").register(&b);
        ra.try_grow(70).unwrap();
        let own = ra.try_grow(20).unwrap_err().to_string();
        assert!(own.contains("--query-memory-mb"), "{own}");
        let shared = rb.try_grow(40).unwrap_err().to_string();
        assert!(shared.contains("--total-query-memory-mb"), "{shared}");
        assert_eq!(b.reserved(), 0, "a refused grow leaves nothing behind");
        rb.try_grow(30).unwrap();
        assert_eq!(budget.used(), 100);
        drop(ra);
        assert_eq!(budget.used(), 30);
        drop(rb);
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[tokio::test]
    async fn admission_queues_then_refuses() {
        let admission = Admission::new(1, Duration::from_millis(20));
        let first = admission.admit().await.unwrap();
        assert_eq!(admission.running(), 1);
        let refused = admission.admit().await.unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Overloaded);
        drop(first);
        assert!(admission.admit().await.is_ok());
    }
}
