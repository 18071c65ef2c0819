//! The per-subject state machine every row-driven rule shares: window verdicts in,
//! lifecycle events out.
//!
//! Each window gives a [`Verdict`]: `Bad` (the raise condition holds), `Good` (the
//! clear condition holds) or `Neither` (between the two thresholds, or a field the
//! rule needs is missing). The subject is either quiet or active:
//!
//! - quiet: `raise_after` consecutive `Bad` windows raise (the incident starts at
//!   the first of them);
//! - active: `clear_after` consecutive `Good` windows clear (it ends at the first of
//!   them); a `Bad` window whose level (severity, or DAQI band) differs from the
//!   current one updates;
//! - a window of the other kind, or `Neither`, breaks the streak in progress and
//!   never changes the state. So a series that only crosses one threshold (say,
//!   speed ratio oscillating around the raise threshold but never back above the
//!   clear one) can raise at most once and never clears: it cannot flap.

use std::collections::BTreeMap;

use crate::event::{AlertEvent, AlertState, Rule, Severity};
use crate::summary;

/// What a number in an event is (for the summary sentence).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Basis {
    /// Mean speed over free-flow speed (0-1).
    SpeedRatio,
    /// Detector occupancy, %.
    OccupancyPct,
    /// The hourly DAQI (1-10).
    Daqi,
    /// Hours until the bin is full.
    HoursToFull,
    /// Fill level, %.
    FillPct,
    /// A flag (fire, tilt); no number.
    Flag,
    /// Seconds without a reading, with the device's usual interval if known.
    SilenceSecs {
        /// The learnt reporting interval, seconds.
        interval_s: Option<f64>,
    },
    /// Battery voltage, V.
    Volts,
}

/// The number that decided a verdict and what it was compared with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fact {
    /// The deciding value.
    pub(crate) value: Option<f64>,
    /// The threshold it was compared with.
    pub(crate) threshold: Option<f64>,
    /// What the value is.
    pub(crate) basis: Basis,
}

impl Fact {
    pub(crate) fn new(value: Option<f64>, threshold: Option<f64>, basis: Basis) -> Self {
        Self {
            value,
            threshold,
            basis,
        }
    }
}

/// What one window says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// The raise condition holds.
    Bad {
        /// How bad.
        severity: Severity,
        /// A finer grade whose change while active emits `updated` (the severity, or
        /// the DAQI band).
        level: u8,
        /// What decided.
        fact: Fact,
    },
    /// The clear condition holds.
    Good {
        /// What decided.
        fact: Fact,
    },
    /// Neither (between thresholds, or missing data): no change, streak broken.
    Neither,
}

/// Streak lengths for one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Streaks {
    /// Consecutive `Bad` windows that raise (at least 1).
    pub(crate) raise_after: u32,
    /// Consecutive `Good` windows that clear (at least 1).
    pub(crate) clear_after: u32,
}

/// The window a verdict is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// Window start, ms.
    pub(crate) start_ms: i64,
    /// Window end, ms.
    pub(crate) end_ms: i64,
}

/// One (rule, device) pair's state. Most subjects are quiet most of the time (no
/// incident, no streak under way), and a quiet one is not kept at all; the event of
/// an active incident is boxed. 100,000 devices under six rules would otherwise hold
/// 400,000 of these at some 300 bytes each.
#[derive(Debug, Clone, Default)]
pub(crate) struct Subject {
    /// Consecutive `Bad` windows while quiet, and the first one's start.
    bad: u32,
    bad_from_ms: i64,
    /// Consecutive `Good` windows while active, and the first one's start.
    good: u32,
    good_from_ms: i64,
    /// The latest event of the incident in progress.
    active: Option<Box<AlertEvent>>,
    /// The active incident's level.
    level: u8,
}

impl Subject {
    /// The latest event of the incident in progress.
    pub(crate) fn active(&self) -> Option<&AlertEvent> {
        self.active.as_deref()
    }

    /// No incident and no streak under way: the state a subject never seen is in.
    pub(crate) fn is_quiet(&self) -> bool {
        self.active.is_none() && self.bad == 0 && self.good == 0
    }

    /// Applies one window's verdict; returns the event it causes, if any.
    /// `identity` gives the id and labels of a new incident (called only on raise).
    pub(crate) fn step(
        &mut self,
        rule: Rule,
        verdict: Verdict,
        span: Span,
        streaks: Streaks,
        identity: impl FnOnce() -> (String, BTreeMap<String, String>),
    ) -> Option<AlertEvent> {
        match (verdict, self.active.is_some()) {
            (
                Verdict::Bad {
                    severity,
                    level,
                    fact,
                },
                false,
            ) => {
                self.good = 0;
                if self.bad == 0 {
                    self.bad_from_ms = span.start_ms;
                }
                self.bad += 1;
                if self.bad < streaks.raise_after.max(1) {
                    return None;
                }
                let (id, labels) = identity();
                let summary = summary::sentence(rule, AlertState::Raised, &labels, &fact);
                let event = AlertEvent {
                    id,
                    rule,
                    state: AlertState::Raised,
                    severity,
                    labels,
                    value: fact.value,
                    threshold: fact.threshold,
                    summary,
                    starts_at_ms: self.bad_from_ms,
                    at_ms: span.end_ms,
                    ends_at_ms: None,
                    previous_severity: None,
                };
                Some(self.start(event, level))
            }
            (
                Verdict::Bad {
                    severity,
                    level,
                    fact,
                },
                true,
            ) => {
                self.good = 0;
                if level == self.level {
                    return None;
                }
                let last = self.active.as_ref()?;
                let event = AlertEvent {
                    state: AlertState::Updated,
                    severity,
                    value: fact.value,
                    threshold: fact.threshold,
                    summary: summary::sentence(rule, AlertState::Updated, &last.labels, &fact),
                    at_ms: span.end_ms,
                    ends_at_ms: None,
                    previous_severity: Some(last.severity),
                    ..(**last).clone()
                };
                self.level = level;
                self.active = Some(Box::new(event.clone()));
                Some(event)
            }
            (Verdict::Good { .. }, false) => {
                self.bad = 0;
                None
            }
            (Verdict::Good { fact }, true) => {
                if self.good == 0 {
                    self.good_from_ms = span.start_ms;
                }
                self.good += 1;
                if self.good < streaks.clear_after.max(1) {
                    return None;
                }
                let ends_at = self.good_from_ms;
                Some(self.end(rule, &fact, span.end_ms, ends_at))
            }
            // Breaks the streak that would change the state; keeps the state.
            (Verdict::Neither, false) => {
                self.bad = 0;
                None
            }
            (Verdict::Neither, true) => {
                self.good = 0;
                None
            }
        }
    }

    /// Starts an incident with `event` (a `raised` one) at `level`; returns it.
    pub(crate) fn start(&mut self, event: AlertEvent, level: u8) -> AlertEvent {
        self.bad = 0;
        self.good = 0;
        self.level = level;
        self.active = Some(Box::new(event.clone()));
        event
    }

    /// Ends the active incident (which must exist): the `cleared` event at `at_ms`,
    /// the incident having ended at `ends_at_ms`.
    pub(crate) fn end(
        &mut self,
        rule: Rule,
        fact: &Fact,
        at_ms: i64,
        ends_at_ms: i64,
    ) -> AlertEvent {
        self.bad = 0;
        self.good = 0;
        let last = *self.active.take().expect("end() on an active subject");
        AlertEvent {
            state: AlertState::Cleared,
            value: fact.value,
            threshold: fact.threshold,
            summary: summary::sentence(rule, AlertState::Cleared, &last.labels, fact),
            at_ms,
            ends_at_ms: Some(ends_at_ms.max(last.starts_at_ms)),
            previous_severity: None,
            ..last
        }
    }

    /// Takes a previously published event as the subject's state: active after a
    /// raise or update (at `level`), quiet after a clear.
    pub(crate) fn restore(&mut self, event: AlertEvent, level: u8) {
        self.bad = 0;
        self.good = 0;
        if event.is_active() {
            self.level = level;
            self.active = Some(Box::new(event));
        } else {
            self.active = None;
        }
    }
}
