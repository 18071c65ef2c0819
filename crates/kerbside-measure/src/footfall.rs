//! `footfall`: per venue and room, 15 min and 1 h windows.
//!
//! Tags: `venue`, `room`, `window` (`15m` / `1h`). Fields: `visitors` (distinct
//! pseudonyms, estimated by a [`DistinctSketch`]) and `readings`.
//!
//! **Venue rollup.** Accumulators [`merge`](Footfall::merge): merging every room's
//! window gives the venue's, and merging four quarter hours gives the hour (the
//! sketch of a merge equals the sketch of the union, so nobody is counted twice). A
//! venue-wide row is written as an extra series with **no `room` tag**
//! ([`Footfall::venue_row`]); distinct visitors do not add up across rooms, so the
//! rollup cannot be computed in a query.

use kerbside_reading::{AssetAttrs, EnrichedReading, Measurement};

use crate::measurements::{Row, WindowTag};
use crate::rows::{FootfallRow, TagValue};
use crate::seen::SeenSeqs;
use crate::sketch::DistinctSketch;

#[derive(Debug, Clone, Default, PartialEq)]
struct Tags {
    venue: String,
    room: String,
}

/// The `footfall` accumulator for one room (or, merged, one venue) and window.
#[derive(Debug, Clone, Default)]
pub struct Footfall {
    tags: Option<Tags>,
    /// The `seq`s folded in, per device (a room has one sensor or a few).
    seen: Vec<(String, SeenSeqs)>,
    visitors: DistinctSketch,
    readings: u64,
}

impl Footfall {
    /// Folds in a reading; other kinds and repeated `(device, seq)`s are ignored.
    /// Returns whether it counted.
    pub fn add(&mut self, r: &EnrichedReading) -> bool {
        let Measurement::Footfall(f) = &r.reading.data else {
            return false;
        };
        let device = r.reading.device_id.as_str();
        let seen = match self.seen.iter_mut().find(|(d, _)| d == device) {
            Some((_, s)) => s,
            None => {
                self.seen.push((device.to_owned(), SeenSeqs::default()));
                &mut self.seen.last_mut().expect("just pushed").1
            }
        };
        if !seen.insert(r.reading.seq.0) {
            return false;
        }
        if self.tags.is_none() {
            let (venue, room) = match &r.asset.attrs {
                AssetAttrs::Footfall { venue, room } => (venue.clone(), room.clone()),
                _ => (String::new(), String::new()),
            };
            self.tags = Some(Tags { venue, room });
        }
        for id in &f.ids {
            self.visitors.insert(id.0);
        }
        self.readings += 1;
        true
    }

    /// Adds another room's or window's accumulator (same venue).
    pub fn merge(&mut self, other: &Footfall) {
        if self.tags.is_none() {
            self.tags.clone_from(&other.tags);
        }
        for (d, s) in &other.seen {
            if !self.seen.iter().any(|(x, _)| x == d) {
                self.seen.push((d.clone(), s.clone()));
            }
        }
        self.visitors.merge(&other.visitors);
        self.readings += other.readings;
    }

    /// Estimated distinct visitors.
    pub fn visitors(&self) -> u64 {
        self.visitors.estimate()
    }

    /// Readings folded in.
    pub fn readings(&self) -> u64 {
        self.readings
    }

    fn row_with(&self, window_ms: i64, window: WindowTag, room: bool) -> Option<Row> {
        let tags = self.tags.as_ref()?;
        let row = FootfallRow {
            window_ms,
            venue: tags.venue.as_str().into(),
            room: if room {
                tags.room.as_str().into()
            } else {
                TagValue::default()
            },
            window: window.as_str().into(),
            visitors: Some(self.visitors()),
            readings: Some(self.readings),
        };
        Some(row.into_row())
    }

    /// The room's row, or `None` if nothing was added.
    pub fn row(&self, window_ms: i64, window: WindowTag) -> Option<Row> {
        self.row_with(window_ms, window, true)
    }

    /// The venue rollup row (no `room` tag) of a merged accumulator.
    pub fn venue_row(&self, window_ms: i64, window: WindowTag) -> Option<Row> {
        self.row_with(window_ms, window, false)
    }
}

#[cfg(test)]
mod tests;
