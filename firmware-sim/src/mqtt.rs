//! Publishing the fleet over MQTT with rumqttc: one client per gateway (many
//! devices behind each), QoS 0 or 1, optional TLS and username/password, bounded
//! in flight, paced by [`Pacer`], and a clean disconnect once every message is
//! out (at QoS 1: acknowledged).

use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, ConnectReturnCode, Event, EventLoop, Outgoing, Packet, QoS, Transport};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::error::{Result, SimError};
use crate::fleet::Gateway;
use crate::generate::SimMessage;
use crate::pace::Pacer;

/// Largest MQTT packet the clients send or accept: the dev broker's limit (1 MiB),
/// above the 256 KiB payload limit so oversize faults reach the validator.
pub const DEFAULT_MAX_PACKET_BYTES: usize = 1024 * 1024;

/// Where and how to publish.
#[derive(Clone)]
pub struct MqttTarget {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// QoS 0 or 1.
    pub qos: u8,
    /// Username, if the broker wants one.
    pub username: Option<String>,
    /// Password (with `username`).
    pub password: Option<String>,
    /// PEM CA certificate(s) to verify the broker with; `Some` turns TLS on.
    pub tls_ca_pem: Option<Vec<u8>>,
    /// MQTT client ids are `{client_id_prefix}-{gateway}`. Default
    /// `kerbside-sim-{process id}` so concurrent runs do not kick each other off.
    pub client_id_prefix: String,
    /// Unacknowledged QoS 1 publishes per client. Default 100.
    pub max_inflight: u16,
    /// Largest packet, bytes. Default [`DEFAULT_MAX_PACKET_BYTES`].
    pub max_packet_bytes: usize,
    /// Requests queued per client before publishing waits. Default 1,000.
    pub queue_per_client: usize,
    /// How long to wait for a connection or the final acknowledgements, seconds. Default 30.
    pub timeout_secs: u64,
}

impl std::fmt::Debug for MqttTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the password.
        f.debug_struct("MqttTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("qos", &self.qos)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.tls_ca_pem.is_some())
            .field("client_id_prefix", &self.client_id_prefix)
            .field("max_inflight", &self.max_inflight)
            .finish_non_exhaustive()
    }
}

impl MqttTarget {
    /// A target at `HOST:PORT` with the defaults.
    pub fn parse(addr: &str) -> Result<Self> {
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| SimError::MqttConfig(format!("`{addr}` is not HOST:PORT")))?;
        let port: u16 = port.parse().map_err(|_| {
            SimError::MqttConfig(format!("`{port}` in `{addr}` is not a port number"))
        })?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(SimError::MqttConfig(format!("`{addr}` has no host")));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
            qos: 1,
            username: None,
            password: None,
            tls_ca_pem: None,
            client_id_prefix: format!("kerbside-sim-{}", std::process::id()),
            max_inflight: 100,
            max_packet_bytes: DEFAULT_MAX_PACKET_BYTES,
            queue_per_client: 1000,
            timeout_secs: 30,
        })
    }

    fn broker(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn qos(&self) -> Result<QoS> {
        match self.qos {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            q => Err(SimError::MqttConfig(format!(
                "QoS {q} is not supported (use 0 or 1)"
            ))),
        }
    }

    fn options(&self, gateway: &str) -> rumqttc::MqttOptions {
        let mut o = rumqttc::MqttOptions::new(
            format!("{}-{gateway}", self.client_id_prefix),
            self.host.clone(),
            self.port,
        );
        o.set_keep_alive(Duration::from_secs(30))
            .set_clean_session(true)
            .set_max_packet_size(self.max_packet_bytes, self.max_packet_bytes)
            .set_inflight(self.max_inflight.max(1));
        if let Some(user) = &self.username {
            o.set_credentials(user.clone(), self.password.clone().unwrap_or_default());
        }
        if let Some(ca) = &self.tls_ca_pem {
            o.set_transport(Transport::tls(ca.clone(), None, None));
        }
        o
    }
}

/// What a publishing run did.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishReport {
    /// Messages published (at QoS 1: and acknowledged).
    pub published: u64,
    /// Per gateway, in [`crate::Fleet::gateways`] order.
    pub per_gateway: Vec<u64>,
    /// Wall-clock time from the first publish to the last acknowledgement.
    pub elapsed: Duration,
}

struct Conn {
    client: AsyncClient,
    acked: watch::Receiver<u64>,
    task: JoinHandle<std::result::Result<(), String>>,
}

/// Drives one client's event loop: reports the CONNACK, counts PUBACKs, ends
/// after the DISCONNECT is written or on the first connection error.
async fn drive(
    mut el: EventLoop,
    connected: oneshot::Sender<std::result::Result<(), String>>,
    acked: watch::Sender<u64>,
) -> std::result::Result<(), String> {
    let mut connected = Some(connected);
    loop {
        match el.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                let r = if ack.code == ConnectReturnCode::Success {
                    Ok(())
                } else {
                    Err(format!("the broker refused the connection: {:?}", ack.code))
                };
                let failed = r.clone().err();
                if let Some(c) = connected.take() {
                    let _ = c.send(r);
                }
                if let Some(e) = failed {
                    return Err(e);
                }
            }
            Ok(Event::Incoming(Packet::PubAck(_))) => acked.send_modify(|n| *n += 1),
            Ok(Event::Outgoing(Outgoing::Disconnect)) => return Ok(()),
            Ok(_) => {}
            Err(e) => {
                let msg = e.to_string();
                if let Some(c) = connected.take() {
                    let _ = c.send(Err(msg.clone()));
                }
                return Err(msg);
            }
        }
    }
}

/// Connects one client per gateway, publishes every message through its device's
/// gateway at the pace `pacer` sets, then disconnects cleanly. `progress` is
/// called after each publish is queued.
pub async fn publish(
    target: &MqttTarget,
    gateways: &[Gateway],
    messages: impl Iterator<Item = SimMessage>,
    pacer: Pacer,
    mut progress: impl FnMut(&SimMessage),
) -> Result<PublishReport> {
    let qos = target.qos()?;
    let broker = target.broker();
    let err = |message: String| SimError::Mqtt {
        broker: broker.clone(),
        message,
    };
    let timeout = Duration::from_secs(target.timeout_secs.max(1));
    let mut conns = Vec::with_capacity(gateways.len());
    let mut waits = Vec::with_capacity(gateways.len());
    for g in gateways {
        let (client, el) =
            AsyncClient::new(target.options(&g.name), target.queue_per_client.max(1));
        let (ctx, crx) = oneshot::channel();
        let (atx, arx) = watch::channel(0u64);
        let task = tokio::spawn(drive(el, ctx, atx));
        conns.push(Conn {
            client,
            acked: arx,
            task,
        });
        waits.push(crx);
    }
    for w in waits {
        match tokio::time::timeout(timeout, w).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                return Err(err(format!(
                    "cannot connect: {e} (is the broker running? `deploy/dev/services up mosquitto` starts the dev one)"
                )));
            }
            Ok(Err(_)) => return Err(err("the connection task ended before connecting".into())),
            Err(_) => return Err(err(format!("no CONNACK within {} s", timeout.as_secs()))),
        }
    }
    let started = Instant::now();
    let mut per_gateway = vec![0u64; gateways.len()];
    for m in messages {
        pacer.wait(m.at).await;
        let g = m.gateway as usize;
        let conn = conns
            .get(g)
            .ok_or_else(|| err(format!("message for unknown gateway {g}")))?;
        let sent = conn
            .client
            .publish(m.topic.as_str(), qos, false, m.payload.as_slice())
            .await;
        if sent.is_err() {
            // The event loop has stopped: say why.
            let conn = conns.swap_remove(g);
            let why = match conn.task.await {
                Ok(Err(e)) => e,
                _ => "the connection closed".into(),
            };
            return Err(err(format!(
                "publishing through gateway `{}` failed: {why}",
                gateways[g].name
            )));
        }
        per_gateway[g] += 1;
        progress(&m);
    }
    // At QoS 1, wait for every acknowledgement before disconnecting.
    if qos == QoS::AtLeastOnce {
        for (g, conn) in conns.iter_mut().enumerate() {
            let want = per_gateway[g];
            let ok = tokio::time::timeout(timeout, conn.acked.wait_for(|&n| n >= want))
                .await
                .map(|r| r.map(|_| ()));
            match ok {
                Ok(Ok(_)) => {}
                Ok(Err(_)) => {
                    return Err(err(format!(
                        "gateway `{}` lost its connection before every PUBACK arrived",
                        gateways[g].name
                    )));
                }
                Err(_) => {
                    return Err(err(format!(
                        "gateway `{}`: {} of {want} PUBACKs after {} s",
                        gateways[g].name,
                        *conn.acked.borrow(),
                        timeout.as_secs()
                    )));
                }
            }
        }
    }
    for c in &conns {
        // Queued behind every publish, so QoS 0 messages are written first.
        let _ = c.client.disconnect().await;
    }
    for (g, c) in conns.into_iter().enumerate() {
        match tokio::time::timeout(timeout, c.task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => {
                return Err(err(format!(
                    "gateway `{}` while disconnecting: {e}",
                    gateways[g].name
                )));
            }
            Ok(Err(e)) => return Err(err(format!("connection task failed: {e}"))),
            Err(_) => {
                return Err(err(format!(
                    "gateway `{}` did not disconnect",
                    gateways[g].name
                )));
            }
        }
    }
    Ok(PublishReport {
        published: per_gateway.iter().sum(),
        per_gateway,
        elapsed: started.elapsed(),
    })
}
