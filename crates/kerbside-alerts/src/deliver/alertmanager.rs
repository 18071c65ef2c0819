//! The Alertmanager task: events and active-set snapshots in, in order; `POST
//! /api/v2/alerts` out, retried until accepted; every active alert sent again each
//! resend interval.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kerbside_reading::Clock;
use prometheus::{Histogram, IntCounter};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, warn};

use super::Queued;
use super::http::{HttpReceiver, INITIAL_BACKOFF, Outcome};
use super::queue::{Item, Queue};
use super::retry::{firing_ends_at_ms, resolved_ends_at_ms};
use crate::alertmanager::{PostableAlert, postable, superseded};
use crate::event::{AlertEvent, AlertState};

/// Items popped from the queue at once.
const MAX_ITEMS: usize = 500;
/// Alerts in one POST at most.
const MAX_ALERTS_PER_POST: usize = 500;

/// What the Alertmanager task is handed.
#[derive(Debug)]
pub(super) enum AmItem {
    /// An event to send.
    Event(Queued),
    /// The whole active set now ([`crate::Deliverer::set_active`]).
    Active(Vec<AlertEvent>),
}

impl Item for AmItem {
    fn is_event(&self) -> bool {
        matches!(self, AmItem::Event(_))
    }
}

/// One alert to send.
#[derive(Debug)]
pub(super) enum Post {
    /// Active: its `endsAt` is the resend horizon, computed at each attempt.
    Firing(Arc<AlertEvent>),
    /// With its own `endsAt`: a cleared event, the superseded label set of an update,
    /// an alert that left the active set.
    Ending(PostableAlert),
}

/// An alert to send, and when the event it delivers was published (none for resends
/// and the other alerts that are not an event of their own).
#[derive(Debug)]
pub(super) struct Outgoing {
    pub(super) post: Post,
    pub(super) since: Option<Instant>,
}

/// Metric handles of the `alertmanager` sink.
#[derive(Debug)]
pub(super) struct AmMetrics {
    pub(super) delivered: IntCounter,
    pub(super) dropped: IntCounter,
    pub(super) latency: Histogram,
}

/// The task's state.
#[derive(Debug)]
pub(super) struct AlertmanagerTask {
    pub(super) receiver: HttpReceiver,
    pub(super) queue: Arc<Queue<AmItem>>,
    pub(super) generator_url: Option<String>,
    /// Added to every alert's labels (`alertmanager_labels`).
    pub(super) labels: BTreeMap<String, String>,
    pub(super) resend_interval_secs: u32,
    pub(super) max_backoff: Duration,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) abort: CancellationToken,
    pub(super) metrics: AmMetrics,
    /// The active alerts by id, as the events and snapshots so far left them.
    pub(super) active: BTreeMap<String, Arc<AlertEvent>>,
}

impl AlertmanagerTask {
    /// Runs until the queue is closed and drained, or `abort` fires.
    pub(super) async fn run(mut self) {
        let interval = Duration::from_secs(u64::from(self.resend_interval_secs));
        let mut resend_at = Instant::now() + interval;
        let mut resend_backoff = INITIAL_BACKOFF;
        loop {
            // Resends first when due, so that a steady stream of events cannot starve
            // them (and let Alertmanager time the active alerts out).
            let items = tokio::select! {
                biased;
                () = self.abort.cancelled() => break,
                () = tokio::time::sleep_until(resend_at), if !self.active.is_empty() => {
                    if self.resend().await {
                        resend_at = Instant::now() + interval;
                        resend_backoff = INITIAL_BACKOFF;
                    } else {
                        // Soon again, but not in a tight loop.
                        resend_at = Instant::now() + resend_backoff.min(interval);
                        resend_backoff = (resend_backoff * 2).min(self.max_backoff);
                    }
                    continue;
                }
                items = self.queue.pop_batch(MAX_ITEMS) => items,
            };
            let Some(items) = items else { return };
            let outgoing = self.apply(items);
            if !self.deliver(outgoing).await {
                break;
            }
        }
        self.queue.abandon();
    }

    /// The wall clock, ms since the epoch.
    fn now_ms(&self) -> i64 {
        self.clock.now().millis()
    }

    /// `event` as Alertmanager gets it: on the wall clock, with the static labels.
    fn post(&self, event: &AlertEvent, ends_at_ms: Option<i64>, now_ms: i64) -> PostableAlert {
        self.labelled(postable(
            &on_wall_clock(event, now_ms),
            ends_at_ms,
            self.generator_url.as_deref(),
        ))
    }

    fn labelled(&self, alert: PostableAlert) -> PostableAlert {
        alert.with_labels(&self.labels)
    }

    /// Folds `items` into the active set, in order, and returns what to send.
    pub(super) fn apply(&mut self, items: Vec<AmItem>) -> Vec<Outgoing> {
        let mut out = Vec::new();
        for item in items {
            match item {
                AmItem::Event(Queued { event, since }) => {
                    let now_ms = self.now_ms();
                    if let Some(old) = superseded(
                        &on_wall_clock(&event, now_ms),
                        self.generator_url.as_deref(),
                    )
                    .map(|a| self.labelled(a))
                    {
                        out.push(Outgoing {
                            post: Post::Ending(old),
                            since: None,
                        });
                    }
                    match event.state {
                        AlertState::Raised | AlertState::Updated => {
                            self.active.insert(event.id.clone(), Arc::clone(&event));
                            out.push(Outgoing {
                                post: Post::Firing(event),
                                since: Some(since),
                            });
                        }
                        AlertState::Cleared => {
                            self.active.remove(&event.id);
                            let alert = self.post(&event, None, now_ms);
                            out.push(Outgoing {
                                post: Post::Ending(alert),
                                since: Some(since),
                            });
                        }
                    }
                }
                AmItem::Active(events) => {
                    let now_ms = self.now_ms();
                    let next: BTreeMap<String, Arc<AlertEvent>> = events
                        .into_iter()
                        .filter(AlertEvent::is_active)
                        .map(|e| (e.id.clone(), Arc::new(e)))
                        .collect();
                    for (id, old) in &self.active {
                        let new = next.get(id);
                        if new.is_none_or(|n| n.severity != old.severity) {
                            // Gone without a cleared event here (dropped from a full
                            // queue, or the engine let it go), or its label set changed:
                            // resolve the old one now.
                            let ends = resolved_ends_at_ms(now_ms, old.starts_at_ms.min(now_ms));
                            let alert = self.post(old, Some(ends), now_ms);
                            out.push(Outgoing {
                                post: Post::Ending(alert),
                                since: None,
                            });
                        }
                    }
                    for (id, new) in &next {
                        let known = self.active.get(id);
                        if known.is_none_or(|k| k.severity != new.severity) {
                            out.push(Outgoing {
                                post: Post::Firing(Arc::clone(new)),
                                since: None,
                            });
                        }
                    }
                    self.active = next;
                }
            }
        }
        out
    }

    /// Alertmanager's form of `posts`, with firing alerts ending at the horizon from
    /// now.
    pub(super) fn render(&self, posts: &[&Outgoing]) -> Vec<u8> {
        let now_ms = self.now_ms();
        let alerts: Vec<PostableAlert> = posts
            .iter()
            .map(|o| match &o.post {
                Post::Firing(e) => {
                    let starts = e.starts_at_ms.min(now_ms);
                    let ends = firing_ends_at_ms(now_ms, starts, self.resend_interval_secs);
                    self.post(e, Some(ends), now_ms)
                }
                Post::Ending(a) => a.clone(),
            })
            .collect();
        serde_json::to_vec(&alerts).expect("postable alerts always serialise")
    }

    /// Sends `outgoing` until Alertmanager has taken each alert or refused it for
    /// good. A refused POST of several alerts is sent again one alert at a time, so
    /// that only the refused ones are dropped (Alertmanager keeps the valid alerts of
    /// a refused POST anyway). Returns false if `abort` fired, after counting what was
    /// not delivered as dropped.
    async fn deliver(&self, outgoing: Vec<Outgoing>) -> bool {
        for (i, chunk) in outgoing.chunks(MAX_ALERTS_PER_POST).enumerate() {
            let refs: Vec<&Outgoing> = chunk.iter().collect();
            let what = format!("{} alerts", refs.len());
            match self
                .receiver
                .send(|| self.render(&refs), &what, &self.abort)
                .await
            {
                Outcome::Delivered => self.delivered(&refs),
                Outcome::Refused(_) if refs.len() > 1 => {
                    for (j, one) in refs.iter().enumerate() {
                        let single = [*one];
                        let what = alert_name(one);
                        match self
                            .receiver
                            .send(|| self.render(&single), &what, &self.abort)
                            .await
                        {
                            Outcome::Delivered => self.delivered(&single),
                            Outcome::Refused(_) => self.refused(&single),
                            Outcome::Aborted => {
                                self.aborted(&outgoing, i * MAX_ALERTS_PER_POST + j);
                                return false;
                            }
                        }
                    }
                }
                Outcome::Refused(_) => self.refused(&refs),
                Outcome::Aborted => {
                    self.aborted(&outgoing, i * MAX_ALERTS_PER_POST);
                    return false;
                }
            }
        }
        true
    }

    fn delivered(&self, posts: &[&Outgoing]) {
        for since in posts.iter().filter_map(|o| o.since) {
            self.metrics.delivered.inc();
            self.metrics.latency.observe(since.elapsed().as_secs_f64());
        }
    }

    fn refused(&self, posts: &[&Outgoing]) {
        let events = posts.iter().filter(|o| o.since.is_some()).count();
        self.metrics.dropped.inc_by(events as u64);
    }

    /// Counts the events of `outgoing[from..]` (not delivered) as dropped.
    fn aborted(&self, outgoing: &[Outgoing], from: usize) {
        let events = outgoing[from..]
            .iter()
            .filter(|o| o.since.is_some())
            .count();
        if events > 0 {
            error!(
                sink = self.receiver.sink,
                dropped = events,
                "alert delivery stopped before Alertmanager took these events"
            );
        }
        self.metrics.dropped.inc_by(events as u64);
    }

    /// Sends every active alert again (one attempt per POST: the next resend, soon,
    /// is the retry). False if a POST failed for a reason that can pass.
    async fn resend(&self) -> bool {
        let all: Vec<Outgoing> = self
            .active
            .values()
            .map(|e| Outgoing {
                post: Post::Firing(Arc::clone(e)),
                since: None,
            })
            .collect();
        debug!(
            alerts = all.len(),
            "resending active alerts to Alertmanager"
        );
        let mut ok = true;
        for chunk in all.chunks(MAX_ALERTS_PER_POST) {
            let refs: Vec<&Outgoing> = chunk.iter().collect();
            let attempt = tokio::select! {
                biased;
                () = self.abort.cancelled() => return false,
                r = self.receiver.attempt(self.render(&refs)) => r,
            };
            match attempt {
                Ok(()) => {}
                // Sent again at the next interval, not sooner: it will not pass.
                Err(f) if f.refused => error!(
                    sink = self.receiver.sink, alerts = refs.len(), error = %f.message,
                    "Alertmanager refused resent alerts"
                ),
                Err(f) => {
                    warn!(
                        sink = self.receiver.sink, alerts = refs.len(), error = %f.message,
                        "resending active alerts failed; trying again soon"
                    );
                    ok = false;
                }
            }
        }
        ok
    }
}

/// The alert id of a post, for the log.
fn alert_name(o: &Outgoing) -> String {
    match &o.post {
        Post::Firing(e) => e.id.clone(),
        Post::Ending(a) => a.labels.get("alert_id").cloned().unwrap_or_default(),
    }
}

/// `event` with its times no later than `now_ms`. Alertmanager judges an alert by its
/// own clock: a start in the future is refused after an end, and an end in the future
/// keeps a cleared alert firing until then. Event time runs ahead of the wall clock
/// when data from a clock-skewed source, or a simulation dated ahead, is replayed; a
/// clear must resolve now, and a raise must show now.
pub(super) fn on_wall_clock(event: &AlertEvent, now_ms: i64) -> AlertEvent {
    let starts_at_ms = event.starts_at_ms.min(now_ms);
    AlertEvent {
        starts_at_ms,
        at_ms: event.at_ms.min(now_ms).max(starts_at_ms),
        ends_at_ms: event.ends_at_ms.map(|e| e.min(now_ms).max(starts_at_ms)),
        ..event.clone()
    }
}
