//! The embedded MQTT broker (rumqttd) that `kerbside demo` runs when no broker is
//! given: MQTT 3.1.1 on a free loopback port, in a thread of its own.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Context as _;

/// A running embedded broker.
#[derive(Debug)]
pub struct EmbeddedBroker {
    /// Where it listens.
    pub addr: SocketAddr,
}

/// rumqttd's settings: one MQTT 3.1.1 server on `listen`, room for a fleet's gateways
/// and messages up to ingest's limit.
fn config(listen: SocketAddr) -> String {
    format!(
        r#"id = 0
[router]
id = 0
max_connections = 10010
max_outgoing_packet_count = 1000
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "kerbside-demo"
listen = "{listen}"
next_connection_delay_ms = 1
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 1048576
    max_inflight_count = 1000
    dynamic_filters = true
"#
    )
}

impl EmbeddedBroker {
    /// Starts the broker on a free loopback port and waits until it accepts
    /// connections.
    pub fn start() -> anyhow::Result<Self> {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free loopback port")?;
        let cfg: rumqttd::Config =
            toml::from_str(&config(addr)).context("the embedded broker's settings")?;
        let mut broker = rumqttd::Broker::new(cfg);
        std::thread::Builder::new()
            .name("mqtt-broker".into())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "the embedded MQTT broker stopped");
                }
            })
            .context("starting the embedded broker's thread")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the embedded MQTT broker did not start listening on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Self { addr })
    }
}
