//! Air-quality nodes: a diurnal pattern driven by nearby traffic (NO2, PM, some
//! SO2), ozone that builds in daylight and is titrated by NO2, scripted pollution
//! episodes, slow sensor drift, and channel dropouts.

use kerbside_reading::air::AirReading;

use crate::fleet::{AirSpec, Fleet};
use crate::rng::{MS_PER_DAY, SimRng, chance, hour_of_day, normal, round, uniform};
use crate::scenario::{AirConfig, Pollutant};

/// Which sensor channel is out, until when.
#[derive(Debug, Clone, Default)]
pub(crate) struct AirState {
    pm_out_until: i64,
    gas_out_until: i64,
}

/// Local traffic at `t` as the node sees it (0 to about 1.5).
fn traffic_here(fleet: &Fleet, spec: &AirSpec, t: i64) -> f64 {
    if spec.nearby_links.is_empty() {
        return crate::traffic::demand(t) * spec.traffic_weight;
    }
    // Its own link counts double.
    let mut sum = 0.0;
    let mut weight = 0.0;
    for (i, &l) in spec.nearby_links.iter().enumerate() {
        let w = if i == 0 { 2.0 } else { 1.0 };
        sum += w * crate::traffic::activity(fleet, l, t);
        weight += w;
    }
    spec.traffic_weight * sum / weight
}

/// One reading at `t`.
pub(crate) fn step(
    fleet: &Fleet,
    spec: &AirSpec,
    cfg: &AirConfig,
    state: &mut AirState,
    t: i64,
    rng: &mut SimRng,
) -> AirReading {
    let h = hour_of_day(t);
    let local = traffic_here(fleet, spec, t);
    let sun = (std::f64::consts::PI * (h - 6.0) / 14.0).sin().max(0.0);
    let mut pm25 = 5.0 + 10.0 * local + normal(rng, 0.0, 1.0);
    let mut no2 = 12.0 + 55.0 * local + normal(rng, 0.0, 3.0);
    let mut o3 = 38.0 + 32.0 * sun - 0.35 * no2 + normal(rng, 0.0, 3.0);
    let so2 = 2.0 + 3.0 * local + normal(rng, 0.0, 0.4);
    let mut pm10_extra = 0.0;
    for ep in &fleet.episodes {
        if ep.site.as_deref().is_some_and(|s| s != spec.site) {
            continue;
        }
        let k = ep.intensity(t);
        if k <= 0.0 {
            continue;
        }
        let mut bump = |base: f64| (ep.peak_ugm3 - base).max(0.0) * k * normal(rng, 1.0, 0.05);
        match ep.pollutant {
            Pollutant::Pm25 => {
                let add = bump(pm25);
                pm25 += add;
                pm10_extra += add * 0.3;
            }
            Pollutant::Pm10 => pm10_extra += bump(pm25 * 1.5),
            Pollutant::No2 => no2 += bump(no2),
            Pollutant::O3 => o3 += bump(o3),
        }
    }
    let days = (t - fleet.scenario.start.millis()) as f64 / MS_PER_DAY as f64;
    let drift = 1.0 + spec.drift_per_day * days;
    let pm25 = (pm25 * drift).max(0.5);
    let pm10 = (pm25 * 1.5 + 3.0 + pm10_extra + normal(rng, 0.0, 1.0)).max(pm25);
    // A channel drops out now and then (never both at once, so a reading always
    // carries a pollutant).
    if t >= state.pm_out_until && t >= state.gas_out_until && chance(rng, cfg.dropout_rate) {
        let until = t + (uniform(rng, 30.0, 180.0) * 60_000.0) as i64;
        if chance(rng, 0.5) {
            state.pm_out_until = until;
        } else {
            state.gas_out_until = until;
        }
    }
    let pm_ok = t >= state.pm_out_until;
    let gas_ok = t >= state.gas_out_until;
    let val =
        |ok: bool, x: f64| ok.then(|| round(x.clamp(0.0, kerbside_reading::air::MAX_UGM3), 1));
    AirReading {
        pm25_ugm3: val(pm_ok, pm25),
        pm10_ugm3: val(pm_ok, pm10),
        no2_ugm3: val(gas_ok, no2),
        o3_ugm3: val(gas_ok, o3.max(1.0)),
        so2_ugm3: val(gas_ok, so2),
        temp_c: Some(round(
            8.0 + 5.0 * (std::f64::consts::TAU * (h - 9.0) / 24.0).sin() + normal(rng, 0.0, 0.3),
            1,
        )),
        rh_pct: Some(round(
            (88.0 - 22.0 * sun + normal(rng, 0.0, 2.0)).clamp(20.0, 100.0),
            1,
        )),
    }
}
