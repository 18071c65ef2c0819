//! Configuration of ingest: the `[mqtt]` and `[ingest]` sections.

use serde::{Deserialize, Serialize};

/// MQTT protocol version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MqttVersion {
    /// MQTT 5: clean start off with a session expiry; receive maximum bounds in-flight.
    #[default]
    V5,
    /// MQTT 3.1.1: clean session off.
    V311,
}

/// How ingest connects to the broker (the `[mqtt]` section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Client id: fixed, so the broker keeps this instance's session across restarts.
    /// Several instances need distinct ids (they share the load through `share_group`).
    pub client_id: String,
    /// Protocol version: `v5` or `v311`.
    pub version: MqttVersion,
    /// Shared-subscription group (`$share/{group}/...`); empty for a plain subscription.
    pub share_group: String,
    /// Topic filters to subscribe to at QoS 1.
    pub topics: Vec<String>,
    /// Keep-alive interval, seconds.
    pub keep_alive_secs: u16,
    /// How long the broker keeps the session while disconnected (MQTT 5), seconds.
    pub session_expiry_secs: u32,
    /// Largest packet accepted, bytes. Match the broker's `max_packet_size`.
    pub max_packet_bytes: u32,
    /// First reconnect delay, milliseconds; doubles up to `reconnect_max_ms`.
    pub reconnect_min_ms: u64,
    /// Longest reconnect delay, milliseconds.
    pub reconnect_max_ms: u64,
    /// Username, if the broker requires one.
    pub username: Option<String>,
    /// Password (masked by `kerbside config check`; prefer `KERBSIDE__MQTT__PASSWORD`).
    pub password: Option<String>,
    /// PEM file of the CA that signed the broker's certificate. Setting it turns TLS
    /// on (rustls); the broker's name must match `host`.
    pub tls_ca_file: Option<std::path::PathBuf>,
    /// PEM client certificate, for brokers that require client authentication.
    pub tls_client_cert_file: Option<std::path::PathBuf>,
    /// PEM private key of the client certificate.
    pub tls_client_key_file: Option<std::path::PathBuf>,
}

impl Default for MqttConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 1883,
            client_id: "kerbside-ingest-1".into(),
            version: MqttVersion::V5,
            share_group: "kerbside".into(),
            topics: vec![
                "kerbside/v1/#".into(),
                "application/+/device/+/event/up".into(),
                "v3/+/devices/+/up".into(),
            ],
            keep_alive_secs: 30,
            session_expiry_secs: 7 * 24 * 3600,
            max_packet_bytes: 1024 * 1024,
            reconnect_min_ms: 100,
            reconnect_max_ms: 30_000,
            username: None,
            password: None,
            tls_ca_file: None,
            tls_client_cert_file: None,
            tls_client_key_file: None,
        }
    }
}

impl MqttConfig {
    /// The TLS transport, if `tls_ca_file` is set; reads the PEM files.
    pub fn transport(&self) -> Result<Option<rumqttc::Transport>, String> {
        let Some(ca_path) = &self.tls_ca_file else {
            return Ok(None);
        };
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()))
        };
        let ca = read(ca_path)?;
        let client_auth = match (&self.tls_client_cert_file, &self.tls_client_key_file) {
            (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
            (None, None) => None,
            _ => {
                return Err(
                    "tls_client_cert_file and tls_client_key_file must be set together".into(),
                );
            }
        };
        Ok(Some(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Simple {
                ca,
                alpn: None,
                client_auth,
            },
        )))
    }

    /// The filters actually subscribed, with the shared-subscription prefix.
    pub fn subscriptions(&self) -> Vec<String> {
        self.topics
            .iter()
            .map(|t| {
                if self.share_group.is_empty() {
                    t.clone()
                } else {
                    format!("$share/{}/{t}", self.share_group)
                }
            })
            .collect()
    }
}

/// The ingest pipeline (the `[ingest]` section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Most MQTT messages between receipt and PUBACK. When Kafka is slow this fills
    /// and the broker holds further messages (MQTT 5 receive maximum).
    pub max_in_flight: u16,
    /// First delay before re-sending a failed delivery, milliseconds (doubles).
    pub retry_min_ms: u64,
    /// Longest delay between re-sends, milliseconds.
    pub retry_max_ms: u64,
    /// On shutdown, how long to wait for in-flight deliveries, milliseconds.
    pub drain_timeout_ms: u64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 1024,
            retry_min_ms: 100,
            retry_max_ms: 10_000,
            drain_timeout_ms: 30_000,
        }
    }
}
