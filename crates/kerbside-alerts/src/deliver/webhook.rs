//! The webhook task: each event's JSON POSTed on its own, in order, retried until the
//! receiver takes it or refuses it for good.

use std::sync::Arc;

use prometheus::{Histogram, IntCounter};
use tokio_util::sync::CancellationToken;
use tracing::error;

use super::Queued;
use super::http::{HttpReceiver, Outcome};
use super::queue::{Item, Queue};

/// Events popped from the queue at once.
const MAX_ITEMS: usize = 64;

impl Item for Queued {
    fn is_event(&self) -> bool {
        true
    }
}

/// The task's state.
#[derive(Debug)]
pub(super) struct WebhookTask {
    pub(super) receiver: HttpReceiver,
    pub(super) queue: Arc<Queue<Queued>>,
    pub(super) abort: CancellationToken,
    pub(super) delivered: IntCounter,
    pub(super) dropped: IntCounter,
    pub(super) latency: Histogram,
}

impl WebhookTask {
    /// Runs until the queue is closed and drained, or `abort` fires.
    pub(super) async fn run(self) {
        'run: loop {
            let batch = tokio::select! {
                biased;
                () = self.abort.cancelled() => break,
                b = self.queue.pop_batch(MAX_ITEMS) => b,
            };
            let Some(batch) = batch else { return };
            for (i, q) in batch.iter().enumerate() {
                match self
                    .receiver
                    .send(|| q.event.to_json(), &q.event.id, &self.abort)
                    .await
                {
                    Outcome::Delivered => {
                        self.delivered.inc();
                        self.latency.observe(q.since.elapsed().as_secs_f64());
                    }
                    Outcome::Refused(_) => self.dropped.inc(),
                    Outcome::Aborted => {
                        let left = batch.len() - i;
                        self.dropped.inc_by(left as u64);
                        error!(
                            sink = self.receiver.sink,
                            dropped = left,
                            "alert delivery stopped before the webhook took these events"
                        );
                        break 'run;
                    }
                }
            }
        }
        self.queue.abandon();
    }
}
