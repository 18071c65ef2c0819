//! Every counter the aggregator promises, registered into a registry passed in from
//! outside. Names follow `kerbside_aggregate_<thing>_<unit>`.

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use kerbside_reading::RefusalReason;

use crate::measurements::ALL;

/// The reasons the aggregator dead-letters for ([`AggregateMetrics::dead_letters`]).
pub const DEAD_LETTER_REASONS: [RefusalReason; 3] = [
    RefusalReason::TooLate,
    RefusalReason::MalformedJson,
    RefusalReason::StoreRefused,
];

/// The `outcome` label values of [`AggregateMetrics::readings`].
pub const OUTCOMES: [&str; 4] = ["on_time", "late", "duplicate", "too_late"];

/// The aggregator's metrics.
#[derive(Debug, Clone)]
pub struct AggregateMetrics {
    /// Records read from Kafka, by topic.
    pub records: IntCounterVec,
    /// Readings read, by what the windows did with them (`on_time`, `late`,
    /// `duplicate`: a copy whose window was final, `too_late`); they sum to the
    /// readings read.
    pub readings: IntCounterVec,
    /// `readings`' children, in [`OUTCOMES`]' order (counted per record, so looked up
    /// once).
    by_outcome: [IntCounter; 4],
    /// Records that could not be decoded (dead-lettered as `malformed_json`).
    pub undecodable: IntCounter,
    /// Readings that corrected a window already written.
    pub late: IntCounter,
    /// Readings whose window was final (dead-lettered as `too_late`).
    pub too_late: IntCounter,
    /// Copies of readings already counted (at-least-once redelivery), by `seq`.
    pub duplicates: IntCounter,
    /// Rows emitted (first emissions and corrections), by measurement.
    pub emitted: IntCounterVec,
    /// Rows emitted again after a late reading (also in `emitted`).
    pub re_emitted: IntCounter,
    /// Rows rebuilt after a restart but not written (final before it).
    pub suppressed: IntCounter,
    /// Windows held (open or correctable).
    pub windows_open: IntGauge,
    /// The engine's watermark, ms since the epoch.
    pub watermark_ms: IntGauge,
    /// Records not yet read, by partition of the readings topic.
    pub lag: IntGaugeVec,
    /// Partitions assigned to this instance, by topic.
    pub assigned: IntGaugeVec,
    /// The offset last committed, by topic and partition.
    pub committed: IntGaugeVec,
    /// Offset commits that failed (retried with the next write).
    pub commit_errors: IntCounter,
    /// Errors reading from Kafka (not fatal: the client reconnects and rejoins).
    pub consume_errors: IntCounter,
    /// Jumps in a partition's offsets (records skipped by the client or broker);
    /// each is read again once.
    pub offset_gaps: IntCounter,
    /// Rebalances seen (the engine is rebuilt from committed offsets after each).
    pub rebalances: IntCounter,
    /// Records held while a store write was under way.
    pub pending: IntGauge,
    /// Readings partitions paused because their watermark ran ahead of the slowest.
    pub skew_paused: IntGauge,
    /// Dead letters the aggregator produced, by reason (`too_late`,
    /// `malformed_json`, `store_refused`).
    pub dead_letters: IntCounterVec,
    /// `dead_letters`' children, in [`DEAD_LETTER_REASONS`]' order (a flood of
    /// too-late readings counts one per record, so looked up once).
    by_reason: [IntCounter; 3],
    /// Dead letters produced and not yet confirmed by the broker.
    pub dead_letters_in_flight: IntGauge,
    /// Dead letters the broker did not take (the aggregator stops uncommitted, and
    /// the records are read again).
    pub dead_letter_failures: IntCounter,
}

impl AggregateMetrics {
    /// Counts one dead letter the aggregator produced for `reason`.
    pub(crate) fn dead_lettered(&self, reason: RefusalReason) {
        match DEAD_LETTER_REASONS.iter().position(|r| *r == reason) {
            Some(i) => self.by_reason[i].inc(),
            None => self.dead_letters.with_label_values(&[reason.code()]).inc(),
        }
    }

    /// The `readings` counter of `outcome` (an index into [`OUTCOMES`]).
    pub(crate) fn outcome(&self, outcome: usize) -> &IntCounter {
        &self.by_outcome[outcome]
    }

    /// Sets the engine's gauges (windows open, watermark) and counts what its stats
    /// gained since `counted` (suppressed and re-emitted windows, duplicates, in open
    /// windows too), which then becomes the stats.
    pub fn observe_engine(&self, engine: &crate::Engine, counted: &mut crate::EngineStats) {
        self.windows_open.set(engine.windows_open() as i64);
        if let Some(wm) = engine.watermark() {
            self.watermark_ms.set(wm);
        }
        let s = engine.stats();
        self.suppressed
            .inc_by(s.suppressed.saturating_sub(counted.suppressed));
        self.re_emitted
            .inc_by(s.re_emitted.saturating_sub(counted.re_emitted));
        self.duplicates
            .inc_by(s.duplicates.saturating_sub(counted.duplicates));
        *counted = s;
    }

    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let name = |n: &str| format!("kerbside_aggregate_{n}");
        let counter = |n: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name(n), help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let gauge = |n: &str, help: &str| -> prometheus::Result<IntGauge> {
            let g = IntGauge::new(name(n), help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let counters =
            |n: &str, help: &str, labels: &[&str]| -> prometheus::Result<IntCounterVec> {
                let c = IntCounterVec::new(Opts::new(name(n), help), labels)?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
        let gauges = |n: &str, help: &str, labels: &[&str]| -> prometheus::Result<IntGaugeVec> {
            let g = IntGaugeVec::new(Opts::new(name(n), help), labels)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let readings = counters(
            "readings_total",
            "Readings read, by what the windows did with them",
            &["outcome"],
        )?;
        let dead_letters = counters(
            "dead_letters_total",
            "Dead letters the aggregator produced, by reason",
            &["reason"],
        )?;
        let m = Self {
            records: counters(
                "records_total",
                "Records read from Kafka, by topic",
                &["topic"],
            )?,
            readings: readings.clone(),
            by_outcome: OUTCOMES.map(|o| readings.with_label_values(&[o])),
            undecodable: counter(
                "undecodable_records_total",
                "Records that could not be decoded",
            )?,
            late: counter(
                "late_readings_total",
                "Readings that corrected a window already written",
            )?,
            too_late: counter(
                "too_late_readings_total",
                "Readings whose window was final (dead-lettered)",
            )?,
            duplicates: counter(
                "duplicate_readings_total",
                "Copies of readings already counted (redelivery)",
            )?,
            emitted: counters(
                "windows_emitted_total",
                "Rows emitted, corrections included, by measurement",
                &["measurement"],
            )?,
            re_emitted: counter(
                "windows_re_emitted_total",
                "Rows emitted again after a late reading",
            )?,
            suppressed: counter(
                "windows_suppressed_total",
                "Rows rebuilt after a restart and not written (final before it)",
            )?,
            windows_open: gauge("windows_open", "Windows held (open or correctable)")?,
            watermark_ms: gauge("watermark_ms", "The engine's watermark, ms since the epoch")?,
            lag: gauges(
                "consumer_lag_records",
                "Records not yet read, by partition",
                &["topic", "partition"],
            )?,
            assigned: gauges(
                "partitions_assigned",
                "Partitions assigned to this instance, by topic",
                &["topic"],
            )?,
            committed: gauges(
                "committed_offset",
                "The offset last committed, by partition",
                &["topic", "partition"],
            )?,
            commit_errors: counter("commit_errors_total", "Offset commits that failed")?,
            offset_gaps: counter(
                "offset_gaps_total",
                "Jumps in a partition's offsets (read again once)",
            )?,
            consume_errors: counter(
                "consume_errors_total",
                "Errors reading from Kafka (the client reconnects and rejoins)",
            )?,
            rebalances: counter("rebalances_total", "Consumer-group rebalances")?,
            pending: gauge(
                "pending_records",
                "Records held while a store write is under way",
            )?,
            skew_paused: gauge(
                "partitions_skew_paused",
                "Readings partitions not fetched because their watermark ran ahead of the slowest (watermark alignment)",
            )?,
            by_reason: DEAD_LETTER_REASONS.map(|r| dead_letters.with_label_values(&[r.code()])),
            dead_letters,
            dead_letters_in_flight: gauge(
                "dead_letters_in_flight",
                "Dead letters produced and not yet confirmed by the broker",
            )?,
            dead_letter_failures: counter(
                "dead_letter_delivery_failures_total",
                "Dead letters the broker did not take (nothing committed past them)",
            )?,
        };
        for t in [
            kerbside_kafka::topics::READINGS,
            kerbside_kafka::topics::DEADLETTER,
        ] {
            m.records.with_label_values(&[t]);
        }
        for meas in ALL {
            m.emitted.with_label_values(&[meas]);
        }
        Ok(m)
    }
}
