//! The injected wall clock. Event time is data; the wall clock is only consulted for
//! receive times, the future-timestamp refusal and silent-device checks, always
//! through a [`Clock`] so tests can set it.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::ids::EventTime;

/// A source of "now".
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current time.
    fn now(&self) -> EventTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> EventTime {
        #[allow(clippy::disallowed_methods)] // the one sanctioned read of the wall clock
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        EventTime::from_millis(ms).expect("the wall clock is between 1970 and 3000")
    }
}

/// A clock tests set by hand.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `t`.
    pub fn new(t: EventTime) -> Self {
        Self(AtomicI64::new(t.millis()))
    }

    /// Sets the time.
    pub fn set(&self, t: EventTime) {
        self.0.store(t.millis(), Ordering::SeqCst);
    }

    /// Moves the time forward by `ms` milliseconds.
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> EventTime {
        EventTime::from_millis(self.0.load(Ordering::SeqCst)).expect("set within range")
    }
}
