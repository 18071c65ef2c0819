//! Publishing a stream through the fleet's gateways, recording when each message was
//! handed to the MQTT client.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use kerbside_benchkit::fail;
use kerbside_reading::{Clock as _, SystemClock};
use kerbside_sim::mqtt::{PublishReport, publish};
use kerbside_sim::pace::Pacer;
use kerbside_sim::{Fleet, SimMessage, Speed};
use tokio::runtime::Runtime;

use crate::TIMEOUT;
use crate::bench_env::BenchEnv;

/// A publishing run in progress.
pub(crate) struct Publishing {
    task: tokio::task::JoinHandle<(PublishReport, Vec<f64>)>,
    first: mpsc::Receiver<Instant>,
}

/// What a publishing run did: per message, the wall-clock time (epoch ms) at which the
/// publisher handed it to its MQTT client; when the first was.
pub(crate) struct Published {
    report: PublishReport,
    pub(crate) times_ms: Vec<f64>,
    pub(crate) first: Instant,
}

impl Published {
    /// The publisher's own rate: first publish → last PUBACK from the broker.
    pub(crate) fn rate(&self) -> f64 {
        self.report.published as f64 / self.report.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Starts publishing `msgs` at `speed` through the fleet's gateways.
pub(crate) fn start_publishing(
    env: &BenchEnv,
    rt: &Runtime,
    fleet: &Arc<Fleet>,
    msgs: &Arc<Vec<SimMessage>>,
    speed: Speed,
) -> Publishing {
    let (tx, first) = mpsc::channel();
    let target = env.target();
    let fleet = Arc::clone(fleet);
    let msgs = Arc::clone(msgs);
    let task = rt.spawn(async move {
        let anchor_ms = SystemClock.now().millis() as f64;
        let anchor = Instant::now();
        let mut times = Vec::with_capacity(msgs.len());
        let mut tx = Some(tx);
        let sim_start = msgs.first().map_or(fleet.scenario.start, |m| m.at);
        let report = publish(
            &target,
            &fleet.gateways,
            msgs.iter().cloned(),
            Pacer::new(speed, sim_start),
            |_| {
                let now = Instant::now();
                if let Some(tx) = tx.take() {
                    let _ = tx.send(now);
                }
                times.push(anchor_ms + (now - anchor).as_secs_f64() * 1e3);
            },
        )
        .await
        .unwrap_or_else(|e| fail(&format!("publishing: {e}")));
        (report, times)
    });
    Publishing { task, first }
}

impl Publishing {
    pub(crate) fn finish(self, rt: &Runtime) -> Published {
        let first = self
            .first
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| fail("the publisher never started"));
        let (report, times_ms) = rt
            .block_on(self.task)
            .unwrap_or_else(|e| fail(&format!("the publisher task failed: {e}")));
        Published {
            report,
            times_ms,
            first,
        }
    }
}
