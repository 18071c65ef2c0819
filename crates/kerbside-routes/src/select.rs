//! Which bins a day's rounds visit: those that will pass the collection threshold
//! before the next chance to collect them, those flagged (fire, tilt), and those a
//! planner names; never those a planner excludes.
//!
//! A bin's fill at a later time is predicted from its latest fill and fill rate (the
//! aggregator's `bin_fill` windows): `fill + rate × hours`, capped at 100 %. A bin with
//! no rate yet (just emptied, or too few readings) is taken to stay where it is. A bin
//! not heard from for longer than `stale_after_h` is reported, and visited only if
//! `visit_stale` is set: a silent sensor says nothing about the bin.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

const HOUR_MS: f64 = 3_600_000.0;

/// A bin's latest state, as the store has it.
#[derive(Debug, Clone, PartialEq)]
pub struct BinState {
    /// The device id of its fill sensor.
    pub device_id: String,
    /// Its ward.
    pub ward: String,
    /// The waste stream (`general`, `recycling`, ...).
    pub stream: String,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Its volume, litres (from the asset register).
    pub capacity_l: f64,
    /// Fill at `observed_ms`, percent.
    pub fill_pct: f64,
    /// Fill rate, percent per hour, when known.
    pub fill_rate_pct_h: Option<f64>,
    /// When `fill_pct` was measured (the window's start), ms since the epoch.
    pub observed_ms: i64,
    /// Its fire flag was up in the latest window.
    pub fire: bool,
    /// Its tilt flag was up in the latest window.
    pub tilt: bool,
}

impl BinState {
    /// Predicted fill at `at_ms`, percent (0–100).
    pub fn predicted_fill_pct(&self, at_ms: i64) -> f64 {
        let hours = (at_ms - self.observed_ms).max(0) as f64 / HOUR_MS;
        let rate = self.fill_rate_pct_h.unwrap_or(0.0).max(0.0);
        (self.fill_pct + rate * hours).clamp(0.0, 100.0)
    }
}

/// The selection rules (the `[routes.selection]` section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SelectionConfig {
    /// A bin is collected before it passes this fill, percent.
    pub threshold_pct: f64,
    /// Hours from this collection to the next possible one: a bin that would pass the
    /// threshold within them is collected now.
    pub revisit_h: f64,
    /// A bin whose latest state is older than this is stale, hours.
    pub stale_after_h: f64,
    /// Visit stale bins anyway (a silent sensor may hide a full bin).
    pub visit_stale: bool,
    /// Bins always visited (device ids), e.g. a market square's.
    pub must_visit: Vec<String>,
    /// Bins never visited (device ids), e.g. ones behind a closed road.
    pub exclude: Vec<String>,
}

impl Default for SelectionConfig {
    fn default() -> Self {
        Self {
            threshold_pct: 80.0,
            revisit_h: 24.0,
            stale_after_h: 48.0,
            visit_stale: false,
            must_visit: Vec::new(),
            exclude: Vec::new(),
        }
    }
}

/// Why a bin is visited.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Reason {
    /// A planner listed it.
    MustVisit,
    /// Its fire flag is up.
    Fire,
    /// Its tilt flag is up (knocked over).
    Tilt,
    /// It would pass the threshold before the next possible visit.
    WillPassThreshold {
        /// Predicted fill at the next possible visit, percent.
        predicted_pct: f64,
    },
    /// Not heard from for `age_h` hours, and stale bins are visited.
    Stale {
        /// Hours since its latest state.
        age_h: f64,
    },
}

/// A bin chosen for the round.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    /// The bin.
    pub bin: BinState,
    /// Why (at least one reason).
    pub reasons: Vec<Reason>,
    /// Predicted fill when the round comes, percent.
    pub fill_at_visit_pct: f64,
    /// What it holds then, litres: the round's demand for it.
    pub demand_l: f64,
}

/// The outcome of a selection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// The bins to visit, by device id.
    pub selected: Vec<Selected>,
    /// Bins left for a later round.
    pub deferred: usize,
    /// Stale bins (device ids), visited or not.
    pub stale: Vec<String>,
    /// Listed in `must_visit` but not known to the store (device ids).
    pub unknown_must_visit: Vec<String>,
}

/// Chooses the bins a round at `visit_ms` collects.
pub fn select(bins: &[BinState], visit_ms: i64, cfg: &SelectionConfig) -> Selection {
    let must: BTreeSet<&str> = cfg.must_visit.iter().map(String::as_str).collect();
    let exclude: BTreeSet<&str> = cfg.exclude.iter().map(String::as_str).collect();
    let next_visit_ms = visit_ms + (cfg.revisit_h * HOUR_MS) as i64;
    let mut out = Selection::default();
    let mut known = BTreeSet::new();
    for b in bins {
        known.insert(b.device_id.as_str());
        if exclude.contains(b.device_id.as_str()) {
            out.deferred += 1;
            continue;
        }
        let mut reasons = Vec::new();
        if must.contains(b.device_id.as_str()) {
            reasons.push(Reason::MustVisit);
        }
        if b.fire {
            reasons.push(Reason::Fire);
        }
        if b.tilt {
            reasons.push(Reason::Tilt);
        }
        let age_h = (visit_ms - b.observed_ms) as f64 / HOUR_MS;
        if age_h > cfg.stale_after_h {
            out.stale.push(b.device_id.clone());
            if cfg.visit_stale {
                reasons.push(Reason::Stale { age_h });
            }
        } else {
            let predicted_pct = b.predicted_fill_pct(next_visit_ms);
            if predicted_pct >= cfg.threshold_pct {
                reasons.push(Reason::WillPassThreshold { predicted_pct });
            }
        }
        if reasons.is_empty() {
            out.deferred += 1;
            continue;
        }
        let fill_at_visit_pct = b.predicted_fill_pct(visit_ms);
        out.selected.push(Selected {
            demand_l: b.capacity_l * fill_at_visit_pct / 100.0,
            fill_at_visit_pct,
            reasons,
            bin: b.clone(),
        });
    }
    out.unknown_must_visit = must
        .iter()
        .filter(|d| !known.contains(*d))
        .map(|d| (*d).to_owned())
        .collect();
    out.selected
        .sort_by(|a, b| a.bin.device_id.cmp(&b.bin.device_id));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn bin(id: &str, fill: f64, rate: Option<f64>, observed_h: i64) -> BinState {
        BinState {
            device_id: id.into(),
            ward: "Abbey".into(),
            stream: "general".into(),
            lat: 52.2,
            lon: 0.12,
            capacity_l: 240.0,
            fill_pct: fill,
            fill_rate_pct_h: rate,
            observed_ms: observed_h * H,
            fire: false,
            tilt: false,
        }
    }

    fn ids(s: &Selection) -> Vec<&str> {
        s.selected
            .iter()
            .map(|x| x.bin.device_id.as_str())
            .collect()
    }

    #[test]
    fn a_bin_that_would_pass_the_threshold_before_the_next_visit_is_collected_now() {
        // Visit at hour 30; the next possible one at hour 54. 50 % + 1.5 %/h × 44 h
        // from hour 10 = 116 → capped 100: collect. 50 % + 0.5 %/h × 44 h = 72: wait.
        let bins = [
            bin("fast", 50.0, Some(1.5), 10),
            bin("slow", 50.0, Some(0.5), 10),
        ];
        let s = select(&bins, 30 * H, &SelectionConfig::default());
        assert_eq!(ids(&s), ["fast"]);
        assert_eq!(s.deferred, 1);
        let fast = &s.selected[0];
        assert_eq!(
            fast.reasons,
            [Reason::WillPassThreshold {
                predicted_pct: 100.0
            }]
        );
        // Its demand is what it holds when the round comes: 50 + 1.5 × 20 = 80 %.
        assert!((fast.fill_at_visit_pct - 80.0).abs() < 1e-9);
        assert!((fast.demand_l - 192.0).abs() < 1e-9);
    }

    #[test]
    fn flags_and_the_planners_lists_override_the_fill() {
        let mut fire = bin("fire", 5.0, None, 29);
        fire.fire = true;
        let mut tilt = bin("tilt", 5.0, None, 29);
        tilt.tilt = true;
        let bins = [
            fire,
            tilt,
            bin("market", 5.0, None, 29),
            bin("closed-road", 99.0, Some(5.0), 29),
        ];
        let cfg = SelectionConfig {
            must_visit: vec!["market".into(), "nowhere".into()],
            exclude: vec!["closed-road".into()],
            ..SelectionConfig::default()
        };
        let s = select(&bins, 30 * H, &cfg);
        assert_eq!(ids(&s), ["fire", "market", "tilt"]);
        assert_eq!(s.selected[0].reasons, [Reason::Fire]);
        assert_eq!(s.selected[1].reasons, [Reason::MustVisit]);
        assert_eq!(s.selected[2].reasons, [Reason::Tilt]);
        assert_eq!(s.unknown_must_visit, ["nowhere"]);
        assert_eq!(s.deferred, 1, "the excluded bin waits, however full");
    }

    #[test]
    fn a_stale_bin_is_reported_and_visited_only_if_asked() {
        let bins = [bin("silent", 90.0, Some(2.0), 0)];
        let s = select(&bins, 60 * H, &SelectionConfig::default());
        assert!(s.selected.is_empty(), "its old reading says nothing now");
        assert_eq!(s.stale, ["silent"]);
        let cfg = SelectionConfig {
            visit_stale: true,
            ..SelectionConfig::default()
        };
        let s = select(&bins, 60 * H, &cfg);
        assert_eq!(s.selected[0].reasons, [Reason::Stale { age_h: 60.0 }]);
    }

    #[test]
    fn a_bin_without_a_rate_or_emptying_is_taken_to_stay_where_it_is() {
        let b = bin("b", 70.0, None, 0);
        assert_eq!(b.predicted_fill_pct(40 * H), 70.0);
        let emptying = bin("e", 70.0, Some(-3.0), 0);
        assert_eq!(emptying.predicted_fill_pct(40 * H), 70.0);
        let s = select(
            &[bin("at", 80.0, None, 29)],
            30 * H,
            &SelectionConfig::default(),
        );
        assert_eq!(ids(&s), ["at"], "at the threshold: collect");
    }
}
