//! Every counter the alert stage promises, registered into a registry passed in from
//! outside. Names follow `kerbside_alerts_<thing>_<unit>`; labels are the closed
//! [`Rule`] codes and the four [`Sink`] codes, all pre-registered so each series
//! exists (at 0) from the start.

use std::collections::BTreeMap;

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use crate::deliver::Sink;
use crate::event::{AlertEvent, AlertState, Rule};

/// Buckets of `kerbside_alerts_delivery_latency_seconds`: from a Kafka round trip to
/// a receiver that was down for minutes.
const LATENCY_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// The alert stage's metrics. Cloning shares the handles.
#[derive(Debug, Clone)]
pub struct AlertMetrics {
    /// Incidents raised, by rule (`kerbside_alerts_raised_total`).
    pub raised: IntCounterVec,
    /// Severity (or DAQI band) changes, by rule (`kerbside_alerts_updated_total`).
    pub updated: IntCounterVec,
    /// Incidents cleared, by rule (`kerbside_alerts_cleared_total`).
    pub cleared: IntCounterVec,
    /// Incidents going on now, by rule (`kerbside_alerts_active`).
    pub active: IntGaugeVec,
    /// Events a sink confirmed, by sink (`kerbside_alerts_delivered_total`).
    /// Alertmanager's periodic resends are not events and are not counted here.
    pub delivered: IntCounterVec,
    /// Failed delivery attempts, by sink: each one, retried or not
    /// (`kerbside_alerts_delivery_failures_total`).
    pub delivery_failures: IntCounterVec,
    /// Events a sink gave up on, by sink: its queue overflowed (the oldest goes), the
    /// receiver refused the event for good, or the deliverer was closed or shut down
    /// with the event still undelivered (`kerbside_alerts_delivery_dropped_total`).
    pub delivery_dropped: IntCounterVec,
    /// Seconds from [`crate::Deliverer::publish`] being called to the sink confirming
    /// the event, by sink (`kerbside_alerts_delivery_latency_seconds`).
    pub delivery_latency: HistogramVec,
}

impl AlertMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let name = |n: &str| format!("kerbside_alerts_{n}");
        let counters =
            |n: &str, help: &str, labels: &[&str]| -> prometheus::Result<IntCounterVec> {
                let c = IntCounterVec::new(Opts::new(name(n), help), labels)?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
        let m = Self {
            raised: counters("raised_total", "Incidents raised, by rule", &["rule"])?,
            updated: counters(
                "updated_total",
                "Incidents whose severity (or DAQI band) changed, by rule",
                &["rule"],
            )?,
            cleared: counters("cleared_total", "Incidents cleared, by rule", &["rule"])?,
            active: {
                let g = IntGaugeVec::new(
                    Opts::new(name("active"), "Incidents going on now, by rule"),
                    &["rule"],
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
            delivered: counters(
                "delivered_total",
                "Alert events a sink confirmed, by sink",
                &["sink"],
            )?,
            delivery_failures: counters(
                "delivery_failures_total",
                "Failed alert delivery attempts (each one, retried or not), by sink",
                &["sink"],
            )?,
            delivery_dropped: counters(
                "delivery_dropped_total",
                "Alert events a sink gave up on (queue overflow, refused for good, \
                 undelivered at shutdown), by sink",
                &["sink"],
            )?,
            delivery_latency: {
                let h = HistogramVec::new(
                    HistogramOpts::new(
                        name("delivery_latency_seconds"),
                        "Seconds from publish to the sink confirming an alert event, by sink",
                    )
                    .buckets(LATENCY_BUCKETS.to_vec()),
                    &["sink"],
                )?;
                registry.register(Box::new(h.clone()))?;
                h
            },
        };
        for rule in Rule::ALL {
            let r = rule.as_str();
            m.raised.with_label_values(&[r]);
            m.updated.with_label_values(&[r]);
            m.cleared.with_label_values(&[r]);
            m.active.with_label_values(&[r]);
        }
        for sink in Sink::ALL {
            let s = sink.as_str();
            m.delivered.with_label_values(&[s]);
            m.delivery_failures.with_label_values(&[s]);
            m.delivery_dropped.with_label_values(&[s]);
            m.delivery_latency.with_label_values(&[s]);
        }
        Ok(m)
    }

    /// Counts a batch of events in `raised`, `updated` and `cleared` (once per
    /// batch and rule, not per event).
    pub fn count(&self, events: &[AlertEvent]) {
        let mut tally: BTreeMap<Rule, [u64; 3]> = BTreeMap::new();
        for e in events {
            let i = match e.state {
                AlertState::Raised => 0,
                AlertState::Updated => 1,
                AlertState::Cleared => 2,
            };
            tally.entry(e.rule).or_default()[i] += 1;
        }
        for (rule, [raised, updated, cleared]) in tally {
            for (vec, n) in [
                (&self.raised, raised),
                (&self.updated, updated),
                (&self.cleared, cleared),
            ] {
                if n > 0 {
                    vec.with_label_values(&[rule.as_str()]).inc_by(n);
                }
            }
        }
    }

    /// Sets `active` from counts per rule; a rule missing from `counts` is set to 0.
    pub fn set_active(&self, counts: &BTreeMap<Rule, usize>) {
        for rule in Rule::ALL {
            let n = counts.get(&rule).copied().unwrap_or(0);
            self.active
                .with_label_values(&[rule.as_str()])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
    }

    /// Counts per rule of the active incidents `active` (e.g.
    /// [`crate::AlertEngine::active`]), for [`AlertMetrics::set_active`].
    pub fn active_per_rule<'a>(
        active: impl IntoIterator<Item = &'a AlertEvent>,
    ) -> BTreeMap<Rule, usize> {
        let mut counts = BTreeMap::new();
        for e in active {
            if e.is_active() {
                *counts.entry(e.rule).or_default() += 1;
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests;
