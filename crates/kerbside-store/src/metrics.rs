//! Every counter the store sink promises, declared in one place and registered into
//! a registry passed in from outside. Names follow `kerbside_store_<thing>_<unit>`.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use kerbside_retry::{Class, ErrorReason};

/// Who refused a point: the store (400/413/422) or kerbside's encoder (NaN, a
/// newline in a tag, …) before it was sent.
pub(crate) const REFUSED_BY: [&str; 2] = ["store", "encoder"];

/// The store sink's metrics.
#[derive(Debug, Clone)]
pub struct StoreMetrics {
    /// Points the store (or the file) accepted.
    pub points_written: IntCounter,
    /// Points refused, by who refused them (`store`, `encoder`); each is returned to
    /// the caller to dead-letter.
    pub points_refused: IntCounterVec,
    /// Write requests, by outcome (`ok`, `refused`, `transient`, `config`).
    pub requests: IntCounterVec,
    /// Failed write requests, by reason (`network`, `timeout`, `status_429`,
    /// `status_5xx`, `refused`, `config`).
    pub errors: IntCounterVec,
    /// Requests sent again after a transient failure.
    pub retries: IntCounter,
    /// Seconds per write request, until its answer.
    pub request_duration: Histogram,
    /// Write requests in flight.
    pub requests_in_flight: IntGauge,
}

impl StoreMetrics {
    /// Creates the metrics and registers them in `registry`, with every label value
    /// pre-registered so dashboards see zeros, not gaps.
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(format!("kerbside_store_{name}"), help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let vec = |name: &str, help: &str, label: &str| -> prometheus::Result<IntCounterVec> {
            let c =
                IntCounterVec::new(Opts::new(format!("kerbside_store_{name}"), help), &[label])?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let m = Self {
            points_written: counter("points_written_total", "Points the store accepted")?,
            points_refused: vec(
                "points_refused_total",
                "Points refused (and returned to be dead-lettered), by who refused them",
                "by",
            )?,
            requests: vec(
                "write_requests_total",
                "Write requests, by outcome",
                "outcome",
            )?,
            errors: vec(
                "write_errors_total",
                "Failed write requests, by reason",
                "reason",
            )?,
            retries: counter(
                "write_retries_total",
                "Write requests sent again after a transient failure",
            )?,
            request_duration: {
                let h = Histogram::with_opts(
                    HistogramOpts::new(
                        "kerbside_store_write_duration_seconds",
                        "Seconds per write request, until its answer",
                    )
                    .buckets(vec![
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        10.0, 30.0,
                    ]),
                )?;
                registry.register(Box::new(h.clone()))?;
                h
            },
            requests_in_flight: {
                let g = IntGauge::new(
                    "kerbside_store_write_requests_in_flight",
                    "Write requests in flight",
                )?;
                registry.register(Box::new(g.clone()))?;
                g
            },
        };
        for by in REFUSED_BY {
            m.points_refused.with_label_values(&[by]);
        }
        for o in RequestOutcome::ALL {
            m.requests.with_label_values(&[o.as_str()]);
        }
        for r in ErrorReason::ALL {
            m.errors.with_label_values(&[r.code()]);
        }
        Ok(m)
    }

    /// Metrics registered in a throwaway registry (tests, tools).
    pub fn unregistered() -> Self {
        Self::new(&Registry::new()).expect("a fresh registry has no clashing names")
    }
}

/// A write request's outcome: the `outcome` label of `kerbside_store_write_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Written.
    Ok,
    /// Refused for its content.
    Refused,
    /// Failed for now; sent again.
    Transient,
    /// Failed for a configuration problem.
    Config,
}

impl RequestOutcome {
    /// Every outcome, for pre-registering labels.
    pub const ALL: [RequestOutcome; 4] = [
        RequestOutcome::Ok,
        RequestOutcome::Refused,
        RequestOutcome::Transient,
        RequestOutcome::Config,
    ];

    /// The stable snake_case code.
    pub const fn as_str(self) -> &'static str {
        match self {
            RequestOutcome::Ok => "ok",
            RequestOutcome::Refused => "refused",
            RequestOutcome::Transient => "transient",
            RequestOutcome::Config => "config",
        }
    }

    /// The outcome of a request of class `c`.
    pub const fn of(c: Class) -> Self {
        match c {
            Class::Ok => RequestOutcome::Ok,
            Class::Refused => RequestOutcome::Refused,
            Class::Transient(_) => RequestOutcome::Transient,
            Class::Config => RequestOutcome::Config,
        }
    }
}

#[cfg(test)]
mod outcome_tests {
    use super::RequestOutcome;

    #[test]
    fn every_outcome_has_a_unique_snake_case_code() {
        let codes: std::collections::BTreeSet<_> =
            RequestOutcome::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(codes.len(), RequestOutcome::ALL.len());
        assert!(
            codes
                .iter()
                .all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
    }
}
