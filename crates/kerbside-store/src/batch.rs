//! When a batch is due: by size (`batch_max_points`) or by the age of its first row
//! (`flush_interval_ms`). Pure: the caller passes the time in.

use std::time::Duration;

use crate::row::Row;
use tokio::time::Instant;

use crate::config::StoreConfig;

/// Collects rows and says when a batch is due.
///
/// A service pushes rows as windows close, and in its `select!` loop sleeps until
/// [`Batcher::deadline`]; whenever [`Batcher::is_due`], it writes
/// [`Batcher::take`]. With tokio's paused time the timing is exact in tests.
#[derive(Debug)]
pub struct Batcher {
    rows: Vec<Row>,
    first_at: Option<Instant>,
    max_points: usize,
    interval: Duration,
}

impl Batcher {
    /// A batch is due at `max_points` rows (at least 1), or `interval` after its
    /// first row arrived.
    pub fn new(max_points: usize, interval: Duration) -> Self {
        Self {
            rows: Vec::new(),
            first_at: None,
            max_points: max_points.max(1),
            interval,
        }
    }

    /// From `batch_max_points` and `flush_interval_ms`.
    pub fn from_config(config: &StoreConfig) -> Self {
        Self::new(config.batch_max_points, config.flush_interval())
    }

    /// Adds a row that arrived at `now`.
    pub fn push(&mut self, row: Row, now: Instant) {
        self.first_at.get_or_insert(now);
        self.rows.push(row);
    }

    /// Adds rows that arrived at `now`.
    pub fn extend(&mut self, rows: impl IntoIterator<Item = Row>, now: Instant) {
        let before = self.rows.len();
        self.rows.extend(rows);
        if self.rows.len() > before {
            self.first_at.get_or_insert(now);
        }
    }

    /// Rows waiting.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row is waiting.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// When the waiting rows are due by age; `None` when there are none.
    pub fn deadline(&self) -> Option<Instant> {
        self.first_at.map(|t| t + self.interval)
    }

    /// Whether a batch is due at `now`: a full one is waiting, or the oldest row has
    /// waited `interval`.
    pub fn is_due(&self, now: Instant) -> bool {
        self.rows.len() >= self.max_points || self.deadline().is_some_and(|d| now >= d)
    }

    /// Takes the next batch: the oldest rows, at most `max_points` of them. Rows left
    /// behind keep their age, so they are due again at once.
    pub fn take(&mut self) -> Vec<Row> {
        if self.rows.len() <= self.max_points {
            self.first_at = None;
            return std::mem::take(&mut self.rows);
        }
        let rest = self.rows.split_off(self.max_points);
        std::mem::replace(&mut self.rows, rest)
    }
}

#[cfg(test)]
mod tests;
