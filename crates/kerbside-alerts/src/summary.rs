//! Every alert's one-sentence summary, in one place.

use std::collections::BTreeMap;

use crate::air::{band, band_name};
use crate::event::{AlertState, Rule};
use crate::hysteresis::{Basis, Fact};

/// The summary of a `state` event of `rule` on the subject with `labels`, decided by
/// `fact`.
pub(crate) fn sentence(
    rule: Rule,
    state: AlertState,
    labels: &BTreeMap<String, String>,
    fact: &Fact,
) -> String {
    let get = |k: &str| labels.get(k).map_or("?", String::as_str);
    let device = get("device_id");
    let v = fact.value.unwrap_or(f64::NAN);
    let t = fact.threshold.unwrap_or(f64::NAN);
    match rule {
        Rule::Congestion => {
            let link = get("link");
            let what = match (fact.basis, state) {
                (Basis::SpeedRatio, AlertState::Cleared) => {
                    format!(
                        "speed {:.0}% of free flow, at or above {:.0}%",
                        v * 100.0,
                        t * 100.0
                    )
                }
                (Basis::SpeedRatio, _) => {
                    format!(
                        "speed {:.0}% of free flow, below {:.0}%",
                        v * 100.0,
                        t * 100.0
                    )
                }
                (_, AlertState::Cleared) => format!("occupancy {v:.1}%, at or below {t}%"),
                _ => format!("occupancy {v:.1}%, above {t}%"),
            };
            let head = match state {
                AlertState::Raised => "Congestion on",
                AlertState::Updated => "Congestion continues on",
                AlertState::Cleared => "Congestion cleared on",
            };
            format!("{head} link {link} (counter {device}): {what}.")
        }
        Rule::AirQuality => {
            let site = get("site");
            let b = band_name(band(v));
            match state {
                AlertState::Raised => {
                    format!("Air quality at {site} ({device}): DAQI {v} ({b}), at or above {t}.")
                }
                AlertState::Updated => {
                    format!("Air quality at {site} ({device}) now DAQI {v} ({b}).")
                }
                AlertState::Cleared => {
                    format!("Air quality at {site} ({device}) back below DAQI {t}: {v} ({b}).")
                }
            }
        }
        Rule::BinOverflow => match (fact.basis, state) {
            (Basis::FillPct, AlertState::Cleared) => {
                format!("Bin {device} was emptied: {v:.0}% full, below {t}%.")
            }
            (_, AlertState::Cleared) => {
                format!("Bin {device} is no longer close to full: {v:.1} h to full, over {t} h.")
            }
            (Basis::FillPct, _) => format!("Bin {device} is {v:.0}% full, at or above {t}%."),
            _ => format!("Bin {device} will be full in {v:.1} h, within {t} h."),
        },
        Rule::BinFire | Rule::BinTilt => {
            let flag = if rule == Rule::BinFire {
                "fire"
            } else {
                "tilt"
            };
            match state {
                AlertState::Cleared => format!("Bin {device} no longer flags {flag}."),
                _ => format!("Bin {device} flags {flag}."),
            }
        }
        Rule::DeviceSilent => {
            let kind = labels
                .get("kind")
                .map_or(String::new(), |k| format!(" ({k})"));
            match (state, fact.basis) {
                (AlertState::Cleared, _) => match fact.value {
                    Some(v) => format!(
                        "Device {device}{kind} is reporting again after {v:.0} s of silence."
                    ),
                    None => format!("Device {device}{kind} is reporting again."),
                },
                (
                    _,
                    Basis::SilenceSecs {
                        interval_s: Some(i),
                    },
                ) => format!(
                    "Device {device}{kind} has been silent for {v:.0} s, over {t:.0} s (usual interval {i:.0} s)."
                ),
                _ => format!("Device {device}{kind} has been silent for {v:.0} s, over {t:.0} s."),
            }
        }
        Rule::BatteryLow => match state {
            AlertState::Cleared => {
                format!("Battery of device {device} back to {v:.2} V, at or above {t} V.")
            }
            _ => format!("Battery of device {device} low: {v:.2} V, below {t} V."),
        },
    }
}
