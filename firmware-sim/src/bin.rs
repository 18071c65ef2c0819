//! Smart bins: fill by location, day of week and time of day, noise, collections,
//! dumps and overflow, tilt, fire and batteries running down.

use kerbside_reading::bin::BinReading;

use crate::fleet::BinSpec;
use crate::rng::{SimRng, bump, chance, exponential, hour_of_day, normal, round, uniform, weekday};
use crate::scenario::BinsConfig;

/// Below this voltage a bin's radio stops: it goes quiet for good.
pub(crate) const BATTERY_DEAD_V: f64 = 2.6;

/// Day-of-week factors, Monday first: town-centre litter peaks at the weekend,
/// household bins after it.
const CENTRE_DAY: [f64; 7] = [0.85, 0.9, 0.95, 1.0, 1.2, 1.45, 1.15];
const HOUSEHOLD_DAY: [f64; 7] = [1.2, 1.0, 0.95, 0.95, 1.0, 1.05, 1.15];

/// A bin's changing state.
#[derive(Debug, Clone)]
pub(crate) struct BinState {
    /// True fill level, percent (may exceed 100 while overflowing; reported capped).
    fill: f64,
    /// When `fill` was last brought up to date, epoch ms.
    last_ms: i64,
    battery_v: f64,
    drain_v: f64,
    tilted_until: i64,
    fire_readings_left: u32,
    /// Collection times, sorted, and how many have happened.
    collections: Vec<i64>,
    next_collection: usize,
}

/// Something notable that happened to a bin (for the ground truth).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum BinEvent {
    /// Emptied by a collection at this time.
    Collected(i64),
    /// The battery died: the bin goes quiet.
    BatteryDead,
}

/// Fill rate multiplier at `t` for a centre or household bin, averaging about 1 over a week.
pub(crate) fn rate_factor(centre: bool, t: i64) -> f64 {
    let h = hour_of_day(t);
    let day = weekday(t) as usize;
    let diurnal = if centre {
        // Footfall through the day, a small evening peak, little overnight.
        0.12 + 1.55 * bump(h, 13.5, 3.2) + 0.5 * bump(h, 19.5, 1.5)
    } else {
        // Households put rubbish out mornings and evenings.
        0.35 + 0.9 * bump(h, 8.0, 1.5) + 1.1 * bump(h, 19.0, 2.0)
    };
    let week = if centre {
        CENTRE_DAY[day]
    } else {
        HOUSEHOLD_DAY[day]
    };
    diurnal * week
}

impl BinState {
    /// A bin at `start`, already part-full, with its collection times.
    pub(crate) fn new(
        spec: &BinSpec,
        start: i64,
        mut collections: Vec<i64>,
        rng: &mut SimRng,
    ) -> Self {
        collections.sort_unstable();
        let battery_v = if spec.failing_battery {
            uniform(rng, 2.68, 2.95)
        } else {
            uniform(rng, 3.45, 3.68)
        };
        Self {
            fill: uniform(rng, 0.0, if spec.centre { 60.0 } else { 70.0 }),
            last_ms: start,
            battery_v,
            drain_v: if spec.failing_battery {
                uniform(rng, 0.002, 0.004)
            } else {
                0.00002
            },
            tilted_until: i64::MIN,
            fire_readings_left: 0,
            collections,
            next_collection: 0,
        }
    }

    /// Advances to `t` and takes a reading. `events` receives collections and a
    /// dead battery; a dead battery yields no reading.
    pub(crate) fn step(
        &mut self,
        spec: &BinSpec,
        cfg: &BinsConfig,
        t: i64,
        rng: &mut SimRng,
        events: &mut Vec<BinEvent>,
    ) -> Option<BinReading> {
        // Fill up to each collection in (last, t], empty, then fill on to t.
        while let Some(&c) = self.collections.get(self.next_collection) {
            if c > t {
                break;
            }
            self.next_collection += 1;
            if c >= self.last_ms {
                self.advance(spec, c, rng);
                self.fill = uniform(rng, 0.0, 3.0);
                events.push(BinEvent::Collected(c));
            }
        }
        self.advance(spec, t, rng);
        if chance(rng, cfg.dump_rate) {
            self.fill += uniform(rng, 15.0, 35.0);
        }
        if chance(rng, cfg.tilt_rate) {
            self.tilted_until = t + (exponential(rng, 4.0).clamp(2.0, 12.0) * 3.6e6) as i64;
        }
        if chance(rng, cfg.fire_rate) {
            self.fire_readings_left = 2;
        }
        self.battery_v -= self.drain_v * uniform(rng, 0.5, 1.5);
        if self.battery_v < BATTERY_DEAD_V {
            events.push(BinEvent::BatteryDead);
            return None;
        }
        let h = hour_of_day(t);
        let fire = self.fire_readings_left > 0;
        let temp = if fire {
            self.fire_readings_left -= 1;
            uniform(rng, 75.0, 140.0)
        } else {
            8.0 + 4.0 * (std::f64::consts::TAU * (h - 9.0) / 24.0).sin() + normal(rng, 0.0, 0.7)
        };
        // Ultrasonic sensors read rubbish heaped unevenly: a percent or two of noise.
        let measured = (self.fill + normal(rng, 0.0, 1.2)).clamp(0.0, 100.0);
        Some(BinReading {
            fill_pct: round(measured, 1),
            temp_c: Some(round(temp, 1)),
            battery_v: Some(round(self.battery_v, 2)),
            tilt: Some(t < self.tilted_until),
            fire: Some(fire),
        })
    }

    /// Fills from `last_ms` to `t` (midpoint rule in steps of at most an hour).
    fn advance(&mut self, spec: &BinSpec, t: i64, rng: &mut SimRng) {
        let mut from = self.last_ms;
        while from < t {
            let to = (from + 3_600_000).min(t);
            let hours = (to - from) as f64 / 3.6e6;
            let mid = from + (to - from) / 2;
            let noise = normal(rng, 1.0, 0.15).max(0.0);
            self.fill += spec.fill_rate_pct_h * rate_factor(spec.centre, mid) * hours * noise;
            from = to;
        }
        // A full bin overflows onto the pavement; the sensor can only read 100 %.
        self.fill = self.fill.min(130.0);
        self.last_ms = self.last_ms.max(t);
    }
}
