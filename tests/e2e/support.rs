//! What every end-to-end test needs: where the dev servers are, names no other test
//! (or earlier run) uses, and a failure that says how to start a missing server.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpStream;

/// How to start the servers; every "not reachable" failure ends with it.
const START_HINT: &str = "start them with deploy/dev/services up";

/// How long a server gets to accept a TCP connection before the test gives up on it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One of the dev servers that `deploy/dev/services` starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Server {
    /// Mosquitto, MQTT.
    Mqtt,
    /// Apache Kafka.
    Kafka,
    /// InfluxDB 1.6, v1 HTTP API.
    InfluxV1,
    /// VictoriaMetrics, HTTP.
    VictoriaMetrics,
    /// Prometheus Alertmanager, HTTP.
    Alertmanager,
}

impl Server {
    /// The product behind this role, for messages.
    fn product(self) -> &'static str {
        match self {
            Self::Mqtt => "Mosquitto (MQTT)",
            Self::Kafka => "Apache Kafka",
            Self::InfluxV1 => "InfluxDB 1.6",
            Self::VictoriaMetrics => "VictoriaMetrics",
            Self::Alertmanager => "Alertmanager",
        }
    }

    /// The variable that overrides the address (as written to `<state>/env`).
    fn env_var(self) -> &'static str {
        match self {
            Self::Mqtt => "KERBSIDE_TEST_MQTT",
            Self::Kafka => "KERBSIDE_TEST_KAFKA",
            Self::InfluxV1 => "KERBSIDE_TEST_INFLUX_V1",
            Self::VictoriaMetrics => "KERBSIDE_TEST_VM",
            Self::Alertmanager => "KERBSIDE_TEST_ALERTMANAGER",
        }
    }

    /// Where `deploy/dev/services` puts it.
    fn default_address(self) -> &'static str {
        match self {
            Self::Mqtt => "127.0.0.1:18830",
            Self::Kafka => "127.0.0.1:19092",
            Self::InfluxV1 => "http://127.0.0.1:18086",
            Self::VictoriaMetrics => "http://127.0.0.1:18428",
            Self::Alertmanager => "http://127.0.0.1:19093",
        }
    }

    /// The configured address: `host:port` for MQTT and Kafka, a base URL (no trailing
    /// slash) for the HTTP servers.
    pub(crate) fn address(self) -> String {
        std::env::var(self.env_var())
            .ok()
            .filter(|value| !value.trim().is_empty())
            .map_or_else(
                || self.default_address().to_owned(),
                |value| value.trim().trim_end_matches('/').to_owned(),
            )
    }

    /// The `host:port` to open a TCP connection to.
    fn socket_address(self) -> String {
        let address = self.address();
        let without_scheme = address
            .split_once("://")
            .map_or(address.as_str(), |(_, rest)| rest);
        without_scheme
            .split('/')
            .next()
            .unwrap_or(without_scheme)
            .to_owned()
    }

    /// Panics with a message naming the server, its address and how to start it.
    pub(crate) fn unreachable(self, detail: impl std::fmt::Display) -> ! {
        panic!(
            "{} is not reachable at {} (set {} to override): {detail}; {START_HINT}",
            self.product(),
            self.address(),
            self.env_var(),
        )
    }

    /// Returns the address once a TCP connection to the server succeeds; fails the
    /// test, never skips it, when nothing answers.
    pub(crate) async fn require(self) -> String {
        let socket = self.socket_address();
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&socket)).await {
            Ok(Ok(_)) => self.address(),
            Ok(Err(err)) => self.unreachable(err),
            Err(_) => self.unreachable(format!("no TCP answer within {CONNECT_TIMEOUT:?}")),
        }
    }
}

/// The `frictionless` command (the Frictionless Data validator, from PyPI) that
/// `deploy/dev/services up` installs and names in `KERBSIDE_TEST_FRICTIONLESS`; fails
/// the test, never skips it, when it is not there.
pub(crate) fn frictionless() -> std::path::PathBuf {
    let path = std::env::var_os("KERBSIDE_TEST_FRICTIONLESS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME").unwrap_or_default();
            std::path::Path::new(&home)
                .join(".cache/kerbside/tools/frictionless-5.18.1/bin/frictionless")
        });
    assert!(
        path.is_file(),
        "the frictionless validator is not at {} (set KERBSIDE_TEST_FRICTIONLESS); {START_HINT}",
        path.display()
    );
    path
}

/// Headless Chromium (Debian's `chromium-headless-shell`), which
/// `deploy/dev/services up` installs and names in `KERBSIDE_TEST_CHROMIUM`; fails the
/// test, never skips it, when it is not there.
pub(crate) fn chromium() -> std::path::PathBuf {
    let path = std::env::var_os("KERBSIDE_TEST_CHROMIUM").map_or_else(
        || std::path::PathBuf::from("/usr/bin/chromium-headless-shell"),
        std::path::PathBuf::from,
    );
    assert!(
        path.is_file(),
        "headless Chromium is not at {} (set KERBSIDE_TEST_CHROMIUM); {START_HINT}",
        path.display()
    );
    path
}

/// A name no other test in this run, and no earlier run, has used: `prefix`, the
/// process id, the wall clock in nanoseconds and a per-process counter. Only
/// characters that are valid in Kafka topics, MQTT topics, InfluxDB databases and
/// Prometheus label values.
pub(crate) fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    #[expect(
        clippy::disallowed_methods,
        reason = "names a test resource; this is not event time"
    )]
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let seq = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}_{}_{nanos:x}_{seq}", std::process::id())
}

/// An HTTP client whose every request is bounded; loopback only, so no proxy.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .expect("build the HTTP client")
}

/// `base` + `path` with `params` URL-encoded as the query string.
pub(crate) fn url(base: &str, path: &str, params: &[(&str, &str)]) -> reqwest::Url {
    reqwest::Url::parse_with_params(&format!("{base}{path}"), params)
        .unwrap_or_else(|err| panic!("bad URL {base}{path}: {err}"))
}

/// Runs `test` and fails if it takes longer than `limit`, so no test can hang.
pub(crate) async fn within<T>(limit: Duration, what: &str, test: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, test)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {limit:?}"))
}
