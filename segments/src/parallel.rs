//! Independent per-column work on every core. A seal or an import builds each column alone
//! (values gathered, dictionary sorted, ids packed, indexes written), so one core would
//! wait while the others idle; workers take the next item as they finish one, and the
//! results keep the items' order, so what is built is the same whatever the threads.

use std::sync::atomic::{AtomicUsize, Ordering};

/// `work` applied to every item, on up to as many threads as the machine has cores.
pub(crate) fn on_every_core<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(items.len());
    if threads <= 1 {
        return items.iter().map(work).collect();
    }
    let next = AtomicUsize::new(0);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break done };
                        done.push((i, work(item)));
                    }
                })
            })
            .collect();
        // A worker only panics on a bug; it is raised here as it would have been on one
        // thread.
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_keep_the_items_order() {
        let items: Vec<u64> = (0..1000).collect();
        let squares = super::on_every_core(&items, |&i| {
            // Uneven work, so workers finish out of order.
            (0..(i % 7) * 1000).fold(i * i, |acc, _| std::hint::black_box(acc))
        });
        assert_eq!(squares, items.iter().map(|i| i * i).collect::<Vec<_>>());
        assert!(super::on_every_core(&[] as &[u8], |&b| b).is_empty());
    }
}
