//! Faults injected on demand, each with a rate, and the refusal each should earn.
//!
//! Rates are probabilities per reading (each reading gets at most one fault). A
//! fault either spoils the message (it must be refused, [`FaultKind::expected_refusal`]
//! says with which code) or makes it notable but valid (gaps, late and out-of-order
//! delivery: the pipeline must accept and count them). A duplicate is an extra copy
//! of a good message; a silence is a stretch with no messages at all.

use std::fmt;

use kerbside_reading::{Kind, RefusalReason};
use serde::{Deserialize, Serialize};

use crate::rng::{SimRng, unit};

/// Every kind of fault the simulator injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// The payload is not well-formed JSON (truncated, or a trailing comma).
    MalformedJson,
    /// A value outside its physical range (fill over 100 %, a negative PM2.5 ...).
    OutOfRange,
    /// The same message (same `seq`) sent again shortly after.
    Duplicate,
    /// The device skipped a `seq` value (valid; a gap to count).
    Gap,
    /// Delivered minutes to hours after it was measured (valid, within the 24 h limit).
    Late,
    /// Delivered just after the device's next message (valid).
    OutOfOrder,
    /// The device clock runs ahead: `ts` beyond the 300 s future limit.
    ClockSkew,
    /// The payload names another device than the topic.
    SpoofedDevice,
    /// A raw MAC address in footfall data (footfall sensors only).
    RawMac,
    /// A payload over 256 KiB (but under the broker's 1 MiB packet limit).
    Oversize,
    /// The device goes quiet for a while (no message at all).
    Silent,
}

impl FaultKind {
    /// Every fault kind.
    pub const ALL: [FaultKind; 11] = [
        FaultKind::MalformedJson,
        FaultKind::OutOfRange,
        FaultKind::Duplicate,
        FaultKind::Gap,
        FaultKind::Late,
        FaultKind::OutOfOrder,
        FaultKind::ClockSkew,
        FaultKind::SpoofedDevice,
        FaultKind::RawMac,
        FaultKind::Oversize,
        FaultKind::Silent,
    ];

    /// The stable snake_case name.
    pub const fn code(self) -> &'static str {
        match self {
            FaultKind::MalformedJson => "malformed_json",
            FaultKind::OutOfRange => "out_of_range",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Gap => "gap",
            FaultKind::Late => "late",
            FaultKind::OutOfOrder => "out_of_order",
            FaultKind::ClockSkew => "clock_skew",
            FaultKind::SpoofedDevice => "spoofed_device",
            FaultKind::RawMac => "raw_mac",
            FaultKind::Oversize => "oversize",
            FaultKind::Silent => "silent",
        }
    }

    /// The refusal the pipeline must give a message with this fault; `None` for
    /// faults that leave the message valid (gap, late, out of order) or send none
    /// (silent). A duplicate is refused only by the stateful `seq` tracker.
    pub const fn expected_refusal(self) -> Option<RefusalReason> {
        match self {
            FaultKind::MalformedJson => Some(RefusalReason::MalformedJson),
            FaultKind::OutOfRange => Some(RefusalReason::OutOfRange),
            FaultKind::Duplicate => Some(RefusalReason::DuplicateSeq),
            FaultKind::ClockSkew => Some(RefusalReason::TimestampInFuture),
            FaultKind::SpoofedDevice => Some(RefusalReason::DeviceMismatch),
            FaultKind::RawMac => Some(RefusalReason::RawMacAddress),
            FaultKind::Oversize => Some(RefusalReason::PayloadTooLarge),
            FaultKind::Gap | FaultKind::Late | FaultKind::OutOfOrder | FaultKind::Silent => None,
        }
    }

    /// Whether the fault can hit a reading of `kind` (raw MAC addresses only
    /// appear in footfall data).
    pub const fn applies_to(self, kind: Kind) -> bool {
        match self {
            FaultKind::RawMac => matches!(kind, Kind::Footfall),
            _ => true,
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.code())
    }
}

/// Fault rates: the probability that a reading gets each fault. All default to 0
/// (a clean fleet). `raw_mac` applies to footfall readings only; the others to
/// every reading. Their sum must not exceed 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultRates {
    /// Malformed JSON. Default 0.
    pub malformed_json: f64,
    /// Out-of-range values. Default 0.
    pub out_of_range: f64,
    /// Duplicates (an extra copy of a good message, same `seq`). Default 0.
    pub duplicate: f64,
    /// `seq` gaps. Default 0.
    pub gap: f64,
    /// Late delivery. Default 0.
    pub late: f64,
    /// Out-of-order delivery. Default 0.
    pub out_of_order: f64,
    /// Clock skew into the future. Default 0.
    pub clock_skew: f64,
    /// Spoofed device ids. Default 0.
    pub spoofed_device: f64,
    /// Raw MAC addresses (footfall readings only). Default 0.
    pub raw_mac: f64,
    /// Oversize payloads. Default 0.
    pub oversize: f64,
    /// A device going silent (at this reading, for `silent_mins_min`–`silent_mins_max`). Default 0.
    pub silent: f64,
    /// Longest delay of a late reading, minutes (at most 1,380 so it stays inside
    /// the 24 h age limit). Default 180.
    pub late_max_mins: u32,
    /// Shortest silence, minutes. Default 60.
    pub silent_mins_min: u32,
    /// Longest silence, minutes. Default 360.
    pub silent_mins_max: u32,
}

impl Default for FaultRates {
    fn default() -> Self {
        Self {
            malformed_json: 0.0,
            out_of_range: 0.0,
            duplicate: 0.0,
            gap: 0.0,
            late: 0.0,
            out_of_order: 0.0,
            clock_skew: 0.0,
            spoofed_device: 0.0,
            raw_mac: 0.0,
            oversize: 0.0,
            silent: 0.0,
            late_max_mins: 180,
            silent_mins_min: 60,
            silent_mins_max: 360,
        }
    }
}

impl FaultRates {
    /// The configured rate of `kind`.
    pub fn rate(&self, kind: FaultKind) -> f64 {
        match kind {
            FaultKind::MalformedJson => self.malformed_json,
            FaultKind::OutOfRange => self.out_of_range,
            FaultKind::Duplicate => self.duplicate,
            FaultKind::Gap => self.gap,
            FaultKind::Late => self.late,
            FaultKind::OutOfOrder => self.out_of_order,
            FaultKind::ClockSkew => self.clock_skew,
            FaultKind::SpoofedDevice => self.spoofed_device,
            FaultKind::RawMac => self.raw_mac,
            FaultKind::Oversize => self.oversize,
            FaultKind::Silent => self.silent,
        }
    }

    /// Every unusable value, naming its key.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        let mut sum = 0.0;
        for k in FaultKind::ALL {
            let r = self.rate(k);
            if !(0.0..=1.0).contains(&r) {
                p.push(format!("`faults.{k}` = {r} must be between 0 and 1"));
            }
            sum += r;
        }
        if sum > 1.0 {
            p.push(format!("the fault rates add up to {sum}, more than 1"));
        }
        if !(1..=1380).contains(&self.late_max_mins) {
            p.push(format!(
                "`faults.late_max_mins` = {} must be 1 to 1380 (late readings stay inside the 24 h age limit)",
                self.late_max_mins
            ));
        }
        if self.silent_mins_min == 0 || self.silent_mins_min > self.silent_mins_max {
            p.push(
                "`faults.silent_mins_min` must be at least 1 and at most `faults.silent_mins_max`"
                    .into(),
            );
        }
        p
    }

    /// Draws the fault (if any) for one reading of `kind`.
    pub(crate) fn draw(&self, kind: Kind, rng: &mut SimRng) -> Option<FaultKind> {
        let u = unit(rng);
        let mut acc = 0.0;
        for k in FaultKind::ALL {
            if !k.applies_to(kind) {
                continue;
            }
            acc += self.rate(k);
            if u < acc {
                return Some(k);
            }
        }
        None
    }

    /// Whether any fault can occur at all (a clean run skips the draw).
    pub(crate) fn any(&self) -> bool {
        FaultKind::ALL.iter().any(|&k| self.rate(k) > 0.0)
    }
}
