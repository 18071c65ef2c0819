//! Pacing: how fast simulated time runs against the wall clock. The generator
//! knows nothing of this; the MQTT shell waits here before each message.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kerbside_reading::EventTime;

/// How fast to run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Simulated time runs with the wall clock.
    RealTime,
    /// Simulated time runs this many times faster (1440: a day a minute).
    Factor(f64),
    /// As fast as the output takes it.
    Max,
}

impl FromStr for Speed {
    type Err = String;

    /// `realtime`, `max`, or a factor such as `1440` or `60x`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "realtime" | "real-time" | "1" => Ok(Speed::RealTime),
            "max" | "fast" => Ok(Speed::Max),
            other => {
                let f: f64 = other.trim_end_matches('x').parse().map_err(|_| {
                    format!("speed `{s}` is not `realtime`, `max` or a factor such as 1440")
                })?;
                if f.is_finite() && f > 0.0 {
                    Ok(Speed::Factor(f))
                } else {
                    Err(format!("speed factor `{s}` must be a positive number"))
                }
            }
        }
    }
}

impl fmt::Display for Speed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Speed::RealTime => f.write_str("realtime"),
            Speed::Factor(x) => write!(f, "{x}x"),
            Speed::Max => f.write_str("max"),
        }
    }
}

/// How many messages downstream has taken so far (e.g. a consumer's received count).
pub type Taken = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Holds the publisher back while more than `max_ahead` of its messages are not yet
/// taken downstream, so a clock that follows the publisher stays within a few
/// messages of what the consumer is judging.
#[derive(Clone)]
struct Backpressure {
    sent: Arc<AtomicU64>,
    taken: Taken,
    max_ahead: u64,
}

/// Maps simulated send times to wall-clock instants from a starting point.
#[derive(Clone)]
pub struct Pacer {
    factor: Option<f64>,
    sim_start_ms: i64,
    wall_start: tokio::time::Instant,
    backpressure: Option<Backpressure>,
}

impl fmt::Debug for Pacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pacer")
            .field("factor", &self.factor)
            .field("sim_start_ms", &self.sim_start_ms)
            .field(
                "max_ahead",
                &self.backpressure.as_ref().map(|b| b.max_ahead),
            )
            .finish_non_exhaustive()
    }
}

impl Pacer {
    /// A pacer whose simulated `sim_start` is now.
    pub fn new(speed: Speed, sim_start: EventTime) -> Self {
        let factor = match speed {
            Speed::RealTime => Some(1.0),
            Speed::Factor(f) => Some(f),
            Speed::Max => None,
        };
        Self {
            factor,
            sim_start_ms: sim_start.millis(),
            wall_start: tokio::time::Instant::now(),
            backpressure: None,
        }
    }

    /// Also waits, before each message, until no more than `max_ahead` messages
    /// are sent and not yet `taken` downstream (at any speed, `max` included).
    pub fn with_backpressure(mut self, taken: Taken, max_ahead: u64) -> Self {
        self.backpressure = Some(Backpressure {
            sent: Arc::new(AtomicU64::new(0)),
            taken,
            max_ahead,
        });
        self
    }

    /// The wall-clock instant a message sent at simulated `at` is due, or `None`
    /// at full speed.
    pub fn due(&self, at: EventTime) -> Option<tokio::time::Instant> {
        let f = self.factor?;
        let sim_ms = (at.millis() - self.sim_start_ms).max(0) as f64;
        Some(self.wall_start + Duration::from_secs_f64(sim_ms / f / 1000.0))
    }

    /// Waits until a message sent at simulated `at` is due (at once if it already is),
    /// and downstream has kept up (see [`Pacer::with_backpressure`]).
    pub async fn wait(&self, at: EventTime) {
        if let Some(due) = self.due(at)
            && due > tokio::time::Instant::now() + Duration::from_millis(1)
        {
            tokio::time::sleep_until(due).await;
        }
        if let Some(b) = &self.backpressure {
            let sent = b.sent.fetch_add(1, Ordering::Relaxed);
            while sent > (b.taken)() + b.max_ahead {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn backpressure_holds_the_publisher_until_downstream_takes_its_messages() {
        let taken = Arc::new(AtomicU64::new(0));
        let t = Arc::clone(&taken);
        let start = EventTime::from_millis(0).unwrap();
        let pacer = Pacer::new(Speed::Max, start)
            .with_backpressure(Arc::new(move || t.load(Ordering::SeqCst)), 2);
        // Three messages may be out ahead of nothing taken; the fourth waits.
        for _ in 0..3 {
            tokio::time::timeout(Duration::from_secs(1), pacer.wait(start))
                .await
                .expect("within the lead");
        }
        let fourth = {
            let pacer = pacer.clone();
            tokio::spawn(async move { pacer.wait(start).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!fourth.is_finished(), "the fourth message must wait");
        taken.store(1, Ordering::SeqCst);
        tokio::time::timeout(Duration::from_secs(1), fourth)
            .await
            .expect("released once downstream took one")
            .unwrap();
    }
}
