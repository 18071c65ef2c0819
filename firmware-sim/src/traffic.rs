//! Traffic counters: weekday and weekend daily profiles with morning and evening
//! peaks, speed falling as a link fills (a BPR-style curve), and scripted lane
//! closures that cut speed and raise occupancy on a link and its neighbours.

use kerbside_reading::traffic::{Lane, TrafficReading};

use crate::fleet::{Fleet, Incident};
use crate::rng::{SimRng, bump, hour_of_day, is_weekend, normal, poisson, round};

/// Vehicles one lane carries per hour at saturation.
pub(crate) const LANE_CAPACITY_VPH: f64 = 1800.0;
/// Flow per lane on the busiest link at the peak of the profile.
const PEAK_FLOW_VPH: f64 = 1500.0;
/// Effective vehicle length seen by a loop detector, metres (car plus loop).
const EFFECTIVE_LENGTH_M: f64 = 7.5;

/// Travel demand at `t` relative to the weekday morning peak (about 0.02–1).
///
/// Weekdays: a morning peak around 08:15, an evening peak around 17:30, a midday
/// plateau and a quiet night (lowest 02:00–05:00). Weekends: no commuter peaks, a
/// broad early-afternoon hump.
pub fn demand(t: i64) -> f64 {
    let h = hour_of_day(t);
    // Bumps wrap round midnight: measure the distance round the clock face.
    let b = |c: f64, sd: f64| {
        let d = (h - c).abs();
        bump(d.min(24.0 - d), 0.0, sd)
    };
    if is_weekend(t) {
        0.02 + 0.62 * b(13.0, 2.8) + 0.18 * b(20.0, 1.8)
    } else {
        0.02 + 0.98 * b(8.25, 0.85)
            + 0.9 * b(17.5, 1.0)
            + 0.45 * b(13.0, 2.4)
            + 0.22 * b(20.75, 1.4)
    }
}

/// How an incident affects `link` at `t`: the share of free-flow speed left
/// (1.0 when none applies).
pub(crate) fn incident_speed(incidents: &[Incident], fleet: &Fleet, link: u32, t: i64) -> f64 {
    let mut factor: f64 = 1.0;
    for inc in incidents {
        if t < inc.start_ms || t >= inc.end_ms {
            continue;
        }
        if inc.link == link {
            factor = factor.min(inc.speed_factor);
        } else if fleet.roads.links[inc.link as usize]
            .neighbours
            .contains(&link)
        {
            factor = factor.min(inc.neighbour_speed_factor);
        }
    }
    factor
}

/// Relative traffic activity on `link` at `t` (demand times the link's load,
/// raised while an incident queues traffic there): what nearby air nodes breathe.
pub(crate) fn activity(fleet: &Fleet, link: u32, t: i64) -> f64 {
    let l = &fleet.roads.links[link as usize];
    let slow = incident_speed(&fleet.incidents, fleet, link, t);
    // Stop-start queues emit more per vehicle.
    demand(t) * l.load * (1.0 + 0.6 * (1.0 - slow))
}

/// One counting interval ending at `t` on the counter's link.
pub(crate) fn step(
    fleet: &Fleet,
    link: u32,
    interval_s: u32,
    t: i64,
    rng: &mut SimRng,
) -> TrafficReading {
    let l = &fleet.roads.links[link as usize];
    let mid = t - i64::from(interval_s) * 500;
    let d = demand(mid);
    let slow = incident_speed(&fleet.incidents, fleet, link, mid);
    let lanes = (1..=l.lanes)
        .map(|lane| {
            // Nearside lanes carry a little more.
            let share = if l.lanes == 1 {
                1.0
            } else if lane == 1 {
                1.1
            } else {
                0.9
            };
            let mut flow_vph = d * l.load * PEAK_FLOW_VPH * share;
            if slow < 1.0 {
                // Queues discharge below capacity.
                flow_vph = flow_vph.min(LANE_CAPACITY_VPH * slow * 1.2);
            }
            let expected = flow_vph * f64::from(interval_s) / 3600.0;
            let vehicles = poisson(rng, expected).min(interval_s * 3);
            let vc = flow_vph / LANE_CAPACITY_VPH;
            let ratio = slow / (1.0 + 0.6 * vc.powi(4));
            let speed = (l.free_flow_kph * ratio * normal(rng, 1.0, 0.04)).clamp(3.0, 250.0);
            let (mean_speed_kph, occupancy_pct) = if vehicles == 0 {
                (0.0, 0.0)
            } else {
                let vph = f64::from(vehicles) * 3600.0 / f64::from(interval_s);
                let occ = vph * EFFECTIVE_LENGTH_M / (speed * 1000.0) * 100.0;
                (round(speed, 1), round(occ.min(98.0), 1))
            };
            Lane {
                lane,
                vehicles,
                mean_speed_kph,
                occupancy_pct,
            }
        })
        .collect();
    TrafficReading { interval_s, lanes }
}
