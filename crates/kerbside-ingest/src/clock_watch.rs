//! Notices the host's wall clock stepping: NTP correcting a large offset, or someone
//! setting the time. Receive times come from the wall clock (the future-timestamp and
//! age refusals are judged against them), so a step changes verdicts; it is logged
//! and counted, never corrected.

use std::time::{Duration, Instant};

/// A wall-clock move this much larger or smaller than the elapsed (monotonic) time
/// is a step. NTP slewing moves at most 0.5 ms per second, and the baseline is
/// renewed every [`REBASE_AFTER`], so slewing never adds up to one.
pub const STEP_MS: i64 = 2_000;
/// How long a baseline is kept before it is renewed.
pub const REBASE_AFTER: Duration = Duration::from_secs(10);

/// Compares the wall clock with the monotonic clock from one receive to the next.
#[derive(Debug, Default)]
pub struct ClockWatch {
    base: Option<(i64, Instant)>,
}

impl ClockWatch {
    /// Takes the wall-clock time `wall_ms` read at monotonic time `mono`; returns the
    /// step in milliseconds (positive: forward) when the wall clock has moved more
    /// than [`STEP_MS`] away from the elapsed time since the baseline.
    pub fn observe(&mut self, wall_ms: i64, mono: Instant) -> Option<i64> {
        let Some((w0, m0)) = self.base else {
            self.base = Some((wall_ms, mono));
            return None;
        };
        let elapsed = mono.saturating_duration_since(m0);
        let step = (wall_ms - w0) - elapsed.as_millis() as i64;
        if step.abs() > STEP_MS {
            self.base = Some((wall_ms, mono));
            return Some(step);
        }
        if elapsed >= REBASE_AFTER {
            self.base = Some((wall_ms, mono));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_back_and_forward_are_seen_once_each_and_slewing_never() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut w = ClockWatch::default();
        let mut steps = Vec::new();
        // An hour of receives every 100 ms with the wall clock slewing at 500 ppm.
        let mut wall = 1_795_305_600_000i64;
        for i in 0..36_000u64 {
            wall += 100;
            if i % 20 == 0 {
                wall += 1; // 1 ms per 2 s: 500 ppm
            }
            steps.extend(w.observe(wall, at(i * 100)));
        }
        assert!(steps.is_empty(), "slewing taken for steps: {steps:?}");
        // Back an hour, then forward two, then back one.
        let mut mono = 36_000 * 100;
        for jump in [-3_600_000, 7_200_000, -3_600_000] {
            wall += jump;
            for _ in 0..50 {
                wall += 100;
                mono += 100;
                steps.extend(w.observe(wall, at(mono)));
            }
        }
        assert_eq!(steps.len(), 3, "{steps:?}");
        for (got, want) in steps.iter().zip([-3_600_000, 7_200_000, -3_600_000]) {
            assert!((got - want).abs() <= 200, "{got} for a step of {want}");
        }
    }

    #[test]
    fn a_small_correction_is_not_a_step() {
        let t0 = Instant::now();
        let mut w = ClockWatch::default();
        assert_eq!(w.observe(1_000_000, t0), None);
        assert_eq!(
            w.observe(1_000_000 + 1_000 + STEP_MS, t0 + Duration::from_secs(1)),
            None
        );
        let mut w = ClockWatch::default();
        w.observe(1_000_000, t0);
        assert!(
            w.observe(1_000_000 + 1_000 + STEP_MS + 1, t0 + Duration::from_secs(1))
                .is_some()
        );
    }
}
