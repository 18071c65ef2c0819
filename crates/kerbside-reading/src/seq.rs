//! Per-device `seq` tracking: duplicates, gaps and restarts, in bounded memory.
//!
//! For each device the tracker keeps the highest `seq` seen and a bitmap of which
//! of the `horizon` values below it were seen. A `seq` inside that window that was
//! already seen is a duplicate. One below the window cannot be judged; it is
//! reported as [`SeqOutcome::BeyondHorizon`] and let through (delivery is at least
//! once and the store's writes are idempotent). A `seq` at or below the highest
//! whose event time is *later* than the highest's is a counter restart (a reboot, a
//! LoRaWAN rejoin): the device's history starts again from it. A genuine duplicate
//! carries the original's event time, so it is never mistaken for a restart.

use rustc_hash::FxHashMap;

use crate::ids::{DeviceId, EventTime, Seq};

/// What one `seq` says about a device's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqOutcome {
    /// The first `seq` seen from this device.
    First,
    /// The next `seq`, or one that arrived out of order and fills a gap.
    InOrder,
    /// A `seq` ahead of the next expected one: `missing` values were skipped.
    Gap {
        /// How many values were skipped.
        missing: u64,
    },
    /// Already seen within the horizon.
    Duplicate,
    /// Too far below the highest `seq` to judge; let through.
    BeyondHorizon,
    /// The counter restarted (device reboot): history reset.
    Restart,
}

#[derive(Debug, Clone)]
struct DeviceSeqs {
    max: u64,
    /// Latest event time seen, epoch ms.
    max_ts: i64,
    /// Bit `k` set means `max - k` was seen (bit 0 is `max` itself).
    seen: Vec<u64>,
}

/// Tracks `seq` per device. Memory: `horizon / 8` bytes per device.
#[derive(Debug, Clone)]
pub struct SeqTracker {
    horizon: u64,
    devices: FxHashMap<DeviceId, DeviceSeqs>,
}

impl SeqTracker {
    /// A tracker remembering `horizon` values per device (at least 64).
    pub fn new(horizon: u32) -> Self {
        Self {
            horizon: u64::from(horizon.max(64)).next_multiple_of(64),
            devices: FxHashMap::default(),
        }
    }

    /// Number of devices tracked.
    pub fn devices(&self) -> usize {
        self.devices.len()
    }

    /// Records `seq`, measured at `ts`, from `device` and says what it means.
    pub fn observe(&mut self, device: &DeviceId, seq: Seq, ts: EventTime) -> SeqOutcome {
        let ts = ts.millis();
        let words = (self.horizon / 64) as usize;
        let Some(d) = self.devices.get_mut(device.as_str()) else {
            let mut seen = vec![0; words];
            seen[0] = 1;
            self.devices.insert(
                device.clone(),
                DeviceSeqs {
                    max: seq.0,
                    max_ts: ts,
                    seen,
                },
            );
            return SeqOutcome::First;
        };
        let s = seq.0;
        if s > d.max {
            let ahead = s - d.max;
            shift(&mut d.seen, ahead);
            d.seen[0] |= 1;
            d.max = s;
            d.max_ts = d.max_ts.max(ts);
            return if ahead == 1 {
                SeqOutcome::InOrder
            } else {
                SeqOutcome::Gap { missing: ahead - 1 }
            };
        }
        if ts > d.max_ts {
            // The counter went back while time went on: the device restarted it.
            d.seen.iter_mut().for_each(|w| *w = 0);
            d.seen[0] = 1;
            d.max = s;
            d.max_ts = ts;
            return SeqOutcome::Restart;
        }
        let behind = d.max - s;
        if behind >= self.horizon {
            return SeqOutcome::BeyondHorizon;
        }
        let (w, b) = ((behind / 64) as usize, behind % 64);
        if d.seen[w] & (1 << b) != 0 {
            SeqOutcome::Duplicate
        } else {
            d.seen[w] |= 1 << b;
            SeqOutcome::InOrder
        }
    }
}

/// Shifts the bitmap so bit `k` moves to bit `k + by` (older values age out).
fn shift(seen: &mut [u64], by: u64) {
    let n = seen.len();
    let total = n as u64 * 64;
    if by >= total {
        seen.iter_mut().for_each(|w| *w = 0);
        return;
    }
    let (words, bits) = ((by / 64) as usize, (by % 64) as u32);
    for i in (0..n).rev() {
        let src = i.checked_sub(words);
        let hi = src.map_or(0, |s| seen[s] << bits);
        let lo = match src.and_then(|s| s.checked_sub(1)) {
            Some(s) if bits > 0 => seen[s] >> (64 - bits),
            _ => 0,
        };
        seen[i] = hi | lo;
    }
}
