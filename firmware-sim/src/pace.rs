//! Pacing: how fast simulated time runs against the wall clock. The generator
//! knows nothing of this; the MQTT shell waits here before each message.

use std::fmt;
use std::str::FromStr;
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

/// Maps simulated send times to wall-clock instants from a starting point.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    factor: Option<f64>,
    sim_start_ms: i64,
    wall_start: tokio::time::Instant,
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
        }
    }

    /// The wall-clock instant a message sent at simulated `at` is due, or `None`
    /// at full speed.
    pub fn due(&self, at: EventTime) -> Option<tokio::time::Instant> {
        let f = self.factor?;
        let sim_ms = (at.millis() - self.sim_start_ms).max(0) as f64;
        Some(self.wall_start + Duration::from_secs_f64(sim_ms / f / 1000.0))
    }

    /// Waits until a message sent at simulated `at` is due (at once if it already is).
    pub async fn wait(&self, at: EventTime) {
        if let Some(due) = self.due(at)
            && due > tokio::time::Instant::now() + Duration::from_millis(1)
        {
            tokio::time::sleep_until(due).await;
        }
    }
}
