//! Every counter ingest promises, declared in one place and registered into a
//! registry passed in from outside. Names follow `kerbside_ingest_<thing>_<unit>`.

use kerbside_reading::{Kind, RefusalReason};
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// The ingest stage's metrics.
#[derive(Debug, Clone)]
pub struct IngestMetrics {
    /// MQTT messages received.
    pub messages_received: IntCounter,
    /// Readings accepted, by kind.
    pub readings_accepted: IntCounterVec,
    /// Readings or messages refused, by reason code.
    pub refused: IntCounterVec,
    /// Readings refused as duplicate `seq` (also in `refused{reason="duplicate_seq"}`).
    pub duplicates: IntCounter,
    /// `seq` values skipped by devices (readings presumed lost upstream).
    pub seq_gaps: IntCounter,
    /// Device counter restarts seen.
    pub seq_restarts: IntCounter,
    /// Steps of the host's wall clock (receive times jumped against elapsed time).
    pub clock_steps: IntCounter,
    /// Status messages, by state (`online` / `offline`).
    pub status_updates: IntCounterVec,
    /// Records confirmed by Kafka, by topic.
    pub produced: IntCounterVec,
    /// Deliveries that failed and were sent again.
    pub delivery_errors: IntCounter,
    /// MQTT messages acknowledged to the broker.
    pub acked: IntCounter,
    /// MQTT messages received and not yet acknowledged.
    pub in_flight: IntGauge,
    /// Acknowledgements released (Kafka confirmed) but waiting for room in the MQTT
    /// event loop's request queue.
    pub acks_waiting: IntGauge,
    /// MQTT (re)connections after the first.
    pub reconnects: IntCounter,
    /// MQTT connection errors.
    pub connection_errors: IntCounter,
    /// 1 while connected to the broker with the subscriptions in place, else 0
    /// (drives `/readyz`).
    pub mqtt_connected: IntGauge,
    /// Seconds from receipt to Kafka's confirmation of every record of a message.
    pub latency: Histogram,
}

impl IngestMetrics {
    /// Creates the metrics and registers them in `registry`, with every label value
    /// pre-registered so dashboards see zeros, not gaps.
    pub fn new(registry: &Registry) -> prometheus::Result<Self> {
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(format!("kerbside_ingest_{name}"), help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let g = IntGauge::new(format!("kerbside_ingest_{name}"), help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let vec = |name: &str, help: &str, label: &str| -> prometheus::Result<IntCounterVec> {
            let c =
                IntCounterVec::new(Opts::new(format!("kerbside_ingest_{name}"), help), &[label])?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let m = Self {
            messages_received: counter("messages_received_total", "MQTT messages received")?,
            readings_accepted: vec(
                "readings_accepted_total",
                "Readings accepted, by kind",
                "kind",
            )?,
            refused: vec(
                "refused_total",
                "Readings or messages refused, by reason",
                "reason",
            )?,
            duplicates: counter("duplicates_total", "Readings refused as duplicate seq")?,
            seq_gaps: counter("seq_gaps_total", "seq values skipped by devices")?,
            seq_restarts: counter("seq_restarts_total", "Device counter restarts")?,
            clock_steps: counter(
                "clock_steps_total",
                "Steps of the host's wall clock seen between two receive times",
            )?,
            status_updates: vec(
                "status_updates_total",
                "Device status messages, by state",
                "state",
            )?,
            produced: vec(
                "records_produced_total",
                "Records confirmed by Kafka, by topic",
                "topic",
            )?,
            delivery_errors: counter(
                "delivery_errors_total",
                "Kafka deliveries that failed and were sent again",
            )?,
            acked: counter(
                "messages_acked_total",
                "MQTT messages acknowledged to the broker",
            )?,
            in_flight: gauge(
                "in_flight_messages",
                "MQTT messages received and not yet acknowledged",
            )?,
            acks_waiting: gauge(
                "acks_waiting",
                "Acknowledgements Kafka has released, waiting for room in the MQTT request queue",
            )?,
            reconnects: counter(
                "mqtt_reconnects_total",
                "MQTT reconnections after the first connection",
            )?,
            connection_errors: counter("mqtt_connection_errors_total", "MQTT connection errors")?,
            mqtt_connected: gauge(
                "mqtt_connected",
                "1 while connected to the MQTT broker and subscribed",
            )?,
            latency: {
                let h = Histogram::with_opts(
                    HistogramOpts::new(
                        "kerbside_ingest_latency_seconds",
                        "Seconds from MQTT receipt to Kafka confirming every record of the message",
                    )
                    .buckets(vec![
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        10.0, 30.0,
                    ]),
                )?;
                registry.register(Box::new(h.clone()))?;
                h
            },
        };
        for k in Kind::ALL {
            m.readings_accepted.with_label_values(&[k.as_str()]);
        }
        for r in RefusalReason::ALL {
            m.refused.with_label_values(&[r.code()]);
        }
        for s in ["online", "offline"] {
            m.status_updates.with_label_values(&[s]);
        }
        for t in [
            kerbside_kafka::topics::READINGS,
            kerbside_kafka::topics::DEADLETTER,
        ] {
            m.produced.with_label_values(&[t]);
        }
        Ok(m)
    }
}
