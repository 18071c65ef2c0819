//! The MQTT side: one rumqttc event loop, MQTT 5 or 3.1.1, polled continuously in
//! its own task. It subscribes at QoS 1 (again whenever the broker reports no
//! session), hands each PUBLISH to the pipeline through a bounded channel, and
//! reconnects with capped exponential backoff. Acknowledgements are manual: nothing
//! is acked until [`MqttClient::try_ack`] is called.

use std::time::{Duration, Instant};

use kerbside_retry::Backoff;
use rumqttc::v5;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::config::{MqttConfig, MqttVersion};
use crate::error::Error;
use crate::metrics::IngestMetrics;

/// What is needed to acknowledge one message later: its packet id and QoS (not the
/// message: a PUBACK needs nothing else, and an in-flight message should not keep
/// its payload alive after it has gone to Kafka).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckHandle {
    version: MqttVersion,
    pkid: u16,
    /// QoS 1 (subscriptions are QoS 1, so nothing arrives at 2); QoS 0 needs no ack.
    qos1: bool,
}

/// One received message.
#[derive(Debug)]
pub struct Incoming {
    /// The topic it was published on.
    pub topic: String,
    /// The payload.
    pub payload: bytes::Bytes,
    /// For the acknowledgement.
    pub handle: AckHandle,
    /// When it was received (monotonic, for the latency histogram).
    pub received: Instant,
}

/// The client half: acknowledgements and disconnect.
#[derive(Debug, Clone)]
pub enum MqttClient {
    /// MQTT 3.1.1.
    V311(rumqttc::AsyncClient),
    /// MQTT 5.
    V5(v5::AsyncClient),
}

impl MqttClient {
    /// Queues the PUBACK for `h` without waiting; false if the event loop's request
    /// queue is full (or the loop is gone), to be tried again. The pipeline never
    /// waits on the event loop: while the hand-off channel is full the loop does not
    /// poll (that is the backpressure), so it could not make room for a waiting ack.
    pub fn try_ack(&self, h: &AckHandle) -> bool {
        if !h.qos1 {
            return true;
        }
        match (self, h.version) {
            (MqttClient::V311(c), MqttVersion::V311) => {
                let mut p = rumqttc::Publish::new("", rumqttc::QoS::AtLeastOnce, Vec::new());
                p.pkid = h.pkid;
                c.try_ack(&p).is_ok()
            }
            (MqttClient::V5(c), MqttVersion::V5) => {
                let qos = v5::mqttbytes::QoS::AtLeastOnce;
                let mut p = v5::mqttbytes::v5::Publish::new("", qos, Vec::new(), None);
                p.pkid = h.pkid;
                c.try_ack(&p).is_ok()
            }
            // A handle from the other protocol version: nothing to ack it on.
            _ => true,
        }
    }

    /// Asks the event loop to send DISCONNECT.
    pub async fn disconnect(&self) {
        let _ = match self {
            MqttClient::V311(c) => c.disconnect().await.map_err(|_| ()),
            MqttClient::V5(c) => c.disconnect().await.map_err(|_| ()),
        };
    }
}

/// One event of either protocol version, reduced to what ingest acts on.
#[derive(Debug)]
enum Event {
    /// Connected; whether the broker still had our session.
    Connected { session_present: bool },
    /// A PUBLISH.
    Message(Incoming),
    /// The broker granted our subscriptions (SUBACK).
    Subscribed,
    /// Our DISCONNECT went out.
    Disconnected,
    /// Anything else.
    Other,
}

/// The protocol-specific half of the event loop.
trait Session {
    /// The next event, or a connection error as text.
    async fn next(&mut self) -> Result<Event, String>;
    /// Queues the subscriptions (non-blocking: called from the loop that drains them).
    fn subscribe(&self, filters: &[String]);
}

/// MQTT 5.
struct V5Session {
    el: v5::EventLoop,
    client: v5::AsyncClient,
}

impl Session for V5Session {
    async fn next(&mut self) -> Result<Event, String> {
        Ok(match self.el.poll().await.map_err(|e| e.to_string())? {
            v5::Event::Incoming(v5::Incoming::ConnAck(a)) => Event::Connected {
                session_present: a.session_present,
            },
            v5::Event::Incoming(v5::Incoming::Publish(p)) => Event::Message(Incoming {
                topic: String::from_utf8_lossy(&p.topic).into_owned(),
                handle: AckHandle {
                    version: MqttVersion::V5,
                    pkid: p.pkid,
                    qos1: p.qos != v5::mqttbytes::QoS::AtMostOnce,
                },
                payload: p.payload,
                received: Instant::now(),
            }),
            v5::Event::Incoming(v5::Incoming::SubAck(_)) => Event::Subscribed,
            v5::Event::Outgoing(rumqttc::Outgoing::Disconnect) => Event::Disconnected,
            _ => Event::Other,
        })
    }

    fn subscribe(&self, filters: &[String]) {
        for f in filters {
            if let Err(e) = self
                .client
                .try_subscribe(f.clone(), v5::mqttbytes::QoS::AtLeastOnce)
            {
                warn!(error = %e, filter = %f, "mqtt subscribe request failed");
            }
        }
    }
}

/// MQTT 3.1.1.
struct V311Session {
    el: rumqttc::EventLoop,
    client: rumqttc::AsyncClient,
}

impl Session for V311Session {
    async fn next(&mut self) -> Result<Event, String> {
        Ok(match self.el.poll().await.map_err(|e| e.to_string())? {
            rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(a)) => Event::Connected {
                session_present: a.session_present,
            },
            rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)) => Event::Message(Incoming {
                handle: AckHandle {
                    version: MqttVersion::V311,
                    pkid: p.pkid,
                    qos1: p.qos != rumqttc::QoS::AtMostOnce,
                },
                topic: p.topic,
                payload: p.payload,
                received: Instant::now(),
            }),
            rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) => Event::Subscribed,
            rumqttc::Event::Outgoing(rumqttc::Outgoing::Disconnect) => Event::Disconnected,
            _ => Event::Other,
        })
    }

    fn subscribe(&self, filters: &[String]) {
        for f in filters {
            if let Err(e) = self
                .client
                .try_subscribe(f.clone(), rumqttc::QoS::AtLeastOnce)
            {
                warn!(error = %e, filter = %f, "mqtt subscribe request failed");
            }
        }
    }
}

/// When the event loop stops taking messages and when it stops altogether.
#[derive(Debug, Clone, Default)]
pub struct Stops {
    /// Once cancelled, new PUBLISHes are left unacknowledged at the broker (they come
    /// back to the next session) instead of being handed on; the loop keeps polling
    /// so the PUBACKs of messages already taken still go out.
    pub stop_taking: CancellationToken,
    /// Once cancelled, the loop lets queued requests (PUBACKs, DISCONNECT) out for up
    /// to two seconds and ends.
    pub stop: CancellationToken,
}

/// Connects (lazily: the event loop connects on its first poll) and spawns the event
/// loop task. Returns the client, the stream of messages and the task.
///
/// The hand-off channel holds `max_in_flight` messages. When it is full the event
/// loop waits with the next PUBLISH in hand and stops polling, so unread messages
/// wait in the socket and then at the broker: memory stays bounded even when the
/// broker sends beyond its in-flight window (Mosquitto 2.0.11 refills the whole
/// receive maximum on every PUBACK). PUBACKs queued meanwhile go out when it polls
/// again; the pipeline queues them with [`MqttClient::try_ack`] and never waits on
/// the loop, which is what keeps this from deadlocking. A wait longer than 1.5 ×
/// the keep-alive (Kafka down for minutes) lets the broker drop the connection: the
/// loop reconnects and the broker redelivers what was not acknowledged.
pub fn start(
    cfg: &MqttConfig,
    max_in_flight: u16,
    metrics: IngestMetrics,
    stops: Stops,
) -> Result<(MqttClient, mpsc::Receiver<Incoming>, JoinHandle<()>), Error> {
    let transport = cfg.transport().map_err(Error::MqttConfig)?;
    let cap = usize::from(max_in_flight.max(1));
    let (tx, rx) = mpsc::channel(cap);
    // Room for every message in the hand-off and in flight to be acknowledged.
    let requests = 2 * cap + 16;
    let subs = cfg.subscriptions();
    let backoff = Backoff::from_millis(cfg.reconnect_min_ms, cfg.reconnect_max_ms);
    let keep_alive = Duration::from_secs(u64::from(cfg.keep_alive_secs));
    match cfg.version {
        MqttVersion::V5 => {
            let mut o = v5::MqttOptions::new(&cfg.client_id, &cfg.host, cfg.port);
            o.set_keep_alive(keep_alive)
                .set_clean_start(false)
                .set_session_expiry_interval(Some(cfg.session_expiry_secs))
                .set_manual_acks(true)
                .set_receive_maximum(Some(max_in_flight.max(1)))
                .set_max_packet_size(Some(cfg.max_packet_bytes))
                .set_request_channel_capacity(requests);
            if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
                o.set_credentials(u, p);
            }
            if let Some(t) = transport {
                o.set_transport(t);
            }
            let (client, el) = v5::AsyncClient::new(o, requests);
            let session = V5Session {
                el,
                client: client.clone(),
            };
            let task = tokio::spawn(event_loop(session, tx, subs, metrics, backoff, stops));
            Ok((MqttClient::V5(client), rx, task))
        }
        MqttVersion::V311 => {
            let mut o = rumqttc::MqttOptions::new(&cfg.client_id, &cfg.host, cfg.port);
            let max = cfg.max_packet_bytes as usize;
            o.set_keep_alive(keep_alive)
                .set_clean_session(false)
                .set_manual_acks(true)
                .set_max_packet_size(max, max)
                .set_request_channel_capacity(requests);
            if let (Some(u), Some(p)) = (&cfg.username, &cfg.password) {
                o.set_credentials(u, p);
            }
            if let Some(t) = transport {
                o.set_transport(t);
            }
            let (client, el) = rumqttc::AsyncClient::new(o, requests);
            let session = V311Session {
                el,
                client: client.clone(),
            };
            let task = tokio::spawn(event_loop(session, tx, subs, metrics, backoff, stops));
            Ok((MqttClient::V311(client), rx, task))
        }
    }
}

/// Polls the session until shutdown, forwarding messages and resubscribing when the
/// broker has lost the session; then lets queued PUBACKs and DISCONNECT out.
async fn event_loop<S: Session>(
    mut session: S,
    tx: mpsc::Sender<Incoming>,
    subs: Vec<String>,
    metrics: IngestMetrics,
    mut backoff: Backoff,
    stops: Stops,
) {
    let Stops { stop_taking, stop } = stops;
    let mut connections = 0u64;
    loop {
        let ev = tokio::select! {
            ev = session.next() => ev,
            () = stop.cancelled() => break,
        };
        match ev {
            Ok(Event::Connected { session_present }) => {
                backoff.reset();
                connections += 1;
                if connections > 1 {
                    metrics.reconnects.inc();
                }
                info!(session_present, "mqtt connected");
                if session_present {
                    metrics.mqtt_connected.set(1);
                } else {
                    session.subscribe(&subs);
                }
            }
            Ok(Event::Message(m)) => {
                // Waits (without polling) while the hand-off is full. Once shutdown
                // has begun, a message is left unacknowledged: the broker keeps it for
                // the next session.
                let sent = tokio::select! {
                    biased;
                    () = stop.cancelled() => break,
                    () = stop_taking.cancelled() => false,
                    r = tx.send(m) => r.is_ok(),
                };
                if !sent {
                    continue;
                }
            }
            Ok(Event::Subscribed) => metrics.mqtt_connected.set(1),
            Ok(Event::Disconnected | Event::Other) => {}
            Err(e) => {
                metrics.mqtt_connected.set(0);
                metrics.connection_errors.inc();
                warn!(error = %e, "mqtt connection error; reconnecting");
                if backoff.wait(&stop).await.is_err() {
                    break;
                }
            }
        }
    }
    let deadline = tokio::time::sleep(Duration::from_secs(2));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            ev = session.next() => match ev {
                Ok(Event::Disconnected) | Err(_) => break,
                Ok(_) => {}
            },
            () = &mut deadline => break,
        }
    }
    metrics.mqtt_connected.set(0);
}
