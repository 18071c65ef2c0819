//! The bounded queue in front of each background sink: one producer side (the
//! deliverer), one consumer (the sink's task). When it is full the oldest event goes
//! and is counted; nothing leaves it uncounted.

use std::collections::VecDeque;
use std::sync::Mutex;

use prometheus::IntCounter;
use tokio::sync::Notify;
use tracing::warn;

/// What a queue holds.
pub(super) trait Item {
    /// An event counts toward the bound and is dropped (oldest first) when the queue
    /// is full; any other item is a snapshot that replaces the snapshots queued
    /// before it (the newer one says everything they said) and is never counted.
    fn is_event(&self) -> bool;
}

/// A bounded FIFO that drops its oldest event when full.
#[derive(Debug)]
pub(super) struct Queue<T> {
    state: Mutex<State<T>>,
    notify: Notify,
    capacity: usize,
    sink: &'static str,
    dropped: IntCounter,
}

#[derive(Debug)]
struct State<T> {
    items: VecDeque<T>,
    events: usize,
    closed: bool,
    overflowed: u64,
}

impl<T: Item> Queue<T> {
    /// A queue holding at most `capacity` events (at least 1); drops are counted in
    /// `dropped`.
    pub(super) fn new(capacity: usize, sink: &'static str, dropped: IntCounter) -> Self {
        Self {
            state: Mutex::new(State {
                items: VecDeque::new(),
                events: 0,
                closed: false,
                overflowed: 0,
            }),
            notify: Notify::new(),
            capacity: capacity.max(1),
            sink,
            dropped,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // A panic while holding the lock leaves plain data behind: keep using it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `item`. On a closed queue an event is counted as dropped at once.
    pub(super) fn push(&self, item: T) {
        let mut s = self.lock();
        if s.closed {
            if item.is_event() {
                self.dropped.inc();
            }
            return;
        }
        if item.is_event() {
            if s.events >= self.capacity {
                let oldest = s.items.iter().position(Item::is_event);
                if let Some(i) = oldest {
                    s.items.remove(i);
                    s.events -= 1;
                    self.dropped.inc();
                    s.overflowed += 1;
                    if s.overflowed == 1 || s.overflowed.is_multiple_of(1000) {
                        warn!(
                            sink = self.sink,
                            capacity = self.capacity,
                            dropped = s.overflowed,
                            "alert delivery queue full: dropping the oldest event"
                        );
                    }
                }
            }
            s.events += 1;
        } else {
            s.items.retain(Item::is_event);
        }
        s.items.push_back(item);
        drop(s);
        self.notify.notify_one();
    }

    /// The next items, up to `max` (at least one), waiting for one if need be;
    /// `None` once the queue is closed and empty.
    pub(super) async fn pop_batch(&self, max: usize) -> Option<Vec<T>> {
        loop {
            {
                let mut s = self.lock();
                if !s.items.is_empty() {
                    let n = s.items.len().min(max.max(1));
                    let batch: Vec<T> = s.items.drain(..n).collect();
                    s.events -= batch.iter().filter(|i| i.is_event()).count();
                    return Some(batch);
                }
                if s.closed {
                    return None;
                }
            }
            // A push between the check and here leaves a permit: no lost wake-up.
            self.notify.notified().await;
        }
    }

    /// Takes no more items; what is queued can still be popped.
    pub(super) fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_one();
    }

    /// Closes the queue and counts every event still in it as dropped (the sink's
    /// task is giving up). Returns how many that was.
    pub(super) fn abandon(&self) -> usize {
        let mut s = self.lock();
        s.closed = true;
        let n = s.events;
        s.items.clear();
        s.events = 0;
        drop(s);
        self.dropped.inc_by(n as u64);
        if n > 0 {
            tracing::error!(
                sink = self.sink,
                dropped = n,
                "alert delivery stopped with events still queued"
            );
        }
        n
    }

    /// Events queued now.
    #[cfg(test)]
    pub(super) fn events(&self) -> usize {
        self.lock().events
    }
}
