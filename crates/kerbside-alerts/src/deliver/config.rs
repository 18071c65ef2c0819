//! Configuration of alert delivery: the `[alerts.delivery]` section.

use serde::{Deserialize, Serialize};

/// Where alert events go (the `[alerts.delivery]` section). Kafka is on by default;
/// every other sink is off until its URL is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Publish every event to the `kerbside.alerts.v1` topic, keyed by alert id, and
    /// wait for Kafka's confirmation before the caller may commit (default true).
    pub kafka: bool,
    /// On start and on every rebalance, read `kerbside.alerts.v1` back so that an
    /// incident already raised is not raised again (needs `kafka`; default true). Off:
    /// a restart raises its open incidents again, for rebuilding alert history from
    /// scratch.
    pub restore: bool,
    /// Base URL of a Prometheus Alertmanager, e.g. `http://127.0.0.1:9093`; alerts
    /// go to its v2 API (`POST <url>/api/v2/alerts`). Empty: off (default "").
    pub alertmanager_url: String,
    /// Labels added to every alert sent to Alertmanager, e.g. `{ council = "leeds" }`
    /// to tell deployments apart in a shared Alertmanager (an event's own label of the
    /// same name wins). Default none.
    pub alertmanager_labels: std::collections::BTreeMap<String, String>,
    /// Every active alert is sent to Alertmanager again this often, with `endsAt` four
    /// intervals ahead (as Prometheus does), seconds (default 60).
    pub resend_interval_secs: u32,
    /// Sent to Alertmanager as each alert's `generatorURL` (a dashboard link); empty:
    /// left out (default "").
    pub generator_url: String,
    /// URL each event's JSON (the `kerbside.alerts.v1` record value) is POSTed to,
    /// retried until accepted. Empty: off (default "").
    pub webhook_url: String,
    /// `host:port` of an MQTT broker (plain TCP) each event is published to, QoS 1,
    /// not retained. Empty: off (default "").
    pub mqtt_url: String,
    /// MQTT topic prefix: an event goes to `<prefix>/<rule>/<device_id>` (default
    /// `kerbside/v1/alerts`).
    pub mqtt_topic_prefix: String,
    /// How long one HTTP request, or one MQTT connect-publish-PUBACK, may take,
    /// seconds (default 10).
    pub request_timeout_secs: u32,
    /// Longest wait between two attempts of a failed delivery: the backoff doubles
    /// from half a second up to this, and a longer `Retry-After` from the receiver is
    /// still honoured (up to 15 minutes), seconds (default 30).
    pub max_backoff_secs: u32,
    /// Events queued for each background sink (Alertmanager, webhook, MQTT) at most;
    /// when a queue is full its oldest event is dropped and counted in
    /// `kerbside_alerts_delivery_dropped_total` (default 10000).
    pub max_queued_events: u32,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            kafka: true,
            restore: true,
            alertmanager_url: String::new(),
            alertmanager_labels: std::collections::BTreeMap::new(),
            resend_interval_secs: 60,
            generator_url: String::new(),
            webhook_url: String::new(),
            mqtt_url: String::new(),
            mqtt_topic_prefix: "kerbside/v1/alerts".into(),
            request_timeout_secs: 10,
            max_backoff_secs: 30,
            max_queued_events: 10_000,
        }
    }
}

impl DeliveryConfig {
    /// Problems with this section, as `(key within the section, message)`: every one
    /// at once.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut problem = |key: &str, message: String| out.push((key.to_owned(), message));
        for name in self.alertmanager_labels.keys() {
            let mut chars = name.chars();
            let valid = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                problem(
                    &format!("alertmanager_labels.{name}"),
                    "a label name is letters, digits and _, not starting with a digit".into(),
                );
            }
        }
        for (key, url) in [
            ("alertmanager_url", &self.alertmanager_url),
            ("webhook_url", &self.webhook_url),
        ] {
            if !url.is_empty()
                && let Err(m) = http_url(url)
            {
                problem(key, m);
            }
        }
        if !self.generator_url.is_empty()
            && let Err(e) = reqwest::Url::parse(&self.generator_url)
        {
            problem(
                "generator_url",
                format!("{:?} is not a URL: {e}", self.generator_url),
            );
        }
        if !self.mqtt_url.is_empty()
            && let Err(m) = host_port(&self.mqtt_url)
        {
            problem("mqtt_url", m);
        }
        let prefix = self.mqtt_topic_prefix.as_str();
        if prefix.is_empty() || prefix.contains(['+', '#', '\0']) {
            problem(
                "mqtt_topic_prefix",
                format!("{prefix:?} must be a non-empty MQTT topic without `+`, `#` or NUL"),
            );
        }
        for (key, value) in [
            ("resend_interval_secs", self.resend_interval_secs),
            ("request_timeout_secs", self.request_timeout_secs),
            ("max_backoff_secs", self.max_backoff_secs),
            ("max_queued_events", self.max_queued_events),
        ] {
            if value == 0 {
                problem(key, "must be at least 1".into());
            }
        }
        out
    }
}

/// An `http://` or `https://` URL with a host.
pub(super) fn http_url(url: &str) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("{url:?} must be an http:// or https:// URL"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("{url:?} has no host"));
    }
    Ok(u)
}

/// `host:port`, the port a non-zero number (an IPv6 host in brackets, `[::1]:1883`).
pub(super) fn host_port(s: &str) -> Result<(String, u16), String> {
    let bad = || format!("{s:?} must be host:port, e.g. 127.0.0.1:1883");
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || host.contains(['/', ' ']) || port == 0 {
        return Err(bad());
    }
    Ok((host.to_owned(), port))
}
