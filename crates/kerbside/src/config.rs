//! The one configuration of kerbside: `kerbside.default.toml` (embedded), then the
//! user's TOML file, then `KERBSIDE__SECTION__KEY` environment variables.
//!
//! The top-level [`Config`] only composes: each section's struct lives beside the
//! component it configures. Loading reports *every* problem with its key, not just
//! the first.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kerbside_aggregate::AggregateConfig;
use kerbside_alerts::AlertsConfig;
use kerbside_ingest::{IngestConfig, MqttConfig};
use kerbside_kafka::KafkaConfig;
use kerbside_publish::{PublishConfig, QualityConfig};
use kerbside_reading::ValidationConfig;
use kerbside_routes::RoutesConfig;
use kerbside_store::StoreConfig;
use serde::{Deserialize, Serialize};

use crate::telemetry::LogConfig;

/// The defaults, every key with a comment. Embedded so the binary needs no files.
pub const DEFAULT_TOML: &str = include_str!("../../../kerbside.default.toml");

/// Prefix of environment overrides: `KERBSIDE__VALIDATION__MAX_DEPTH=12`.
pub const ENV_PREFIX: &str = "KERBSIDE";

/// Keys whose values are masked when the configuration is printed.
const SECRET_WORDS: [&str; 4] = ["password", "secret", "token", "credential"];

/// Where the asset register comes from (the `[assets]` section).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssetsConfig {
    /// Path of the register: CSV, or GeoJSON if the file starts with `{`.
    pub path: Option<PathBuf>,
}

/// Where the Prometheus endpoint listens (the `[metrics]` section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// `host:port` serving `/metrics`, `/healthz` and `/readyz`; port 0 picks one.
    pub listen: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9464".into(),
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Logging.
    pub log: LogConfig,
    /// The Prometheus endpoint.
    pub metrics: MetricsConfig,
    /// The asset register.
    pub assets: AssetsConfig,
    /// Decoding limits and validation bounds.
    pub validation: ValidationConfig,
    /// The MQTT broker ingest reads from.
    pub mqtt: MqttConfig,
    /// Kafka.
    pub kafka: KafkaConfig,
    /// The ingest pipeline.
    pub ingest: IngestConfig,
    /// The aggregator: its consumer group and windows.
    pub aggregate: AggregateConfig,
    /// Where the aggregator writes: InfluxDB v2 or v1 API, or daily files.
    pub store: StoreConfig,
    /// The alert rules (run as the aggregator's windows close).
    pub alerts: AlertsConfig,
    /// Collection rounds (`kerbside routes plan`).
    pub routes: RoutesConfig,
    /// Open data (`kerbside publish`).
    pub publish: PublishConfig,
    /// The data-quality scorecard (`kerbside quality`).
    pub quality: QualityConfig,
}

/// One configuration problem, with the key it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key, e.g. `validation.max_depth` (empty for the file as a whole).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.key, self.message)
        }
    }
}

/// Every problem found while loading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} configuration problem(s):\n{}", .0.len(), .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
pub struct Problems(pub Vec<Problem>);

impl Config {
    /// Loads defaults, then `file` (if any), then the environment `env`
    /// (pass `std::env::vars()`; tests pass their own).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, Problems> {
        let merged = merged_value(file, env)?;
        from_value(merged)
    }

    /// The configuration as TOML with secrets masked.
    pub fn to_masked_toml(&self) -> String {
        let mut v = serde_json::to_value(self).expect("the config always serialises");
        mask_secrets(&mut v);
        let table: toml::Table =
            serde_json::from_value(strip_nulls(v)).expect("a config object is a TOML table");
        toml::to_string_pretty(&table).expect("a TOML table always serialises")
    }
}

/// Defaults, file and environment merged into one JSON value.
fn merged_value(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<serde_json::Value, Problems> {
    let one = |key: &str, message: String| {
        Problems(vec![Problem {
            key: key.into(),
            message,
        }])
    };
    let mut b = config::Config::builder().add_source(config::File::from_str(
        DEFAULT_TOML,
        config::FileFormat::Toml,
    ));
    if let Some(path) = file {
        if !path.exists() {
            return Err(one("", format!("{}: no such file", path.display())));
        }
        b = b.add_source(config::File::from(path).format(config::FileFormat::Toml));
    }
    let env: config::Map<String, String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
        .collect();
    b = b.add_source(
        config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(Some(env)),
    );
    let built = b.build().map_err(|e| one("", e.to_string()))?;
    built
        .try_deserialize::<serde_json::Value>()
        .map_err(|e| one("", e.to_string()))
}

/// Deserialises section by section, collecting every error with its key path.
fn from_value(mut v: serde_json::Value) -> Result<Config, Problems> {
    let mut problems = Vec::new();
    let known: BTreeSet<&str> = [
        "log",
        "metrics",
        "assets",
        "validation",
        "mqtt",
        "kafka",
        "ingest",
        "aggregate",
        "store",
        "alerts",
        "routes",
        "publish",
        "quality",
    ]
    .into();
    if let Some(obj) = v.as_object_mut() {
        let unknown: Vec<String> = obj
            .keys()
            .filter(|k| !known.contains(k.as_str()))
            .cloned()
            .collect();
        for k in unknown {
            obj.remove(&k);
            problems.push(Problem {
                key: k,
                message: format!(
                    "unknown section (known: {})",
                    known.iter().copied().collect::<Vec<_>>().join(", ")
                ),
            });
        }
    }
    let mut take = |name: &str| v.get_mut(name).map(serde_json::Value::take);
    let log = section::<LogConfig>("log", take("log"), &mut problems);
    let metrics = section::<MetricsConfig>("metrics", take("metrics"), &mut problems);
    let assets = section::<AssetsConfig>("assets", take("assets"), &mut problems);
    let validation = section::<ValidationConfig>("validation", take("validation"), &mut problems);
    let mqtt = section::<MqttConfig>("mqtt", take("mqtt"), &mut problems);
    let kafka = section::<KafkaConfig>("kafka", take("kafka"), &mut problems);
    let ingest = section::<IngestConfig>("ingest", take("ingest"), &mut problems);
    let aggregate = section::<AggregateConfig>("aggregate", take("aggregate"), &mut problems);
    let store = section::<StoreConfig>("store", take("store"), &mut problems);
    let alerts = section::<AlertsConfig>("alerts", take("alerts"), &mut problems);
    let routes = section::<RoutesConfig>("routes", take("routes"), &mut problems);
    let publish = section::<PublishConfig>("publish", take("publish"), &mut problems);
    let quality = section::<QualityConfig>("quality", take("quality"), &mut problems);
    let (
        Some(log),
        Some(metrics),
        Some(assets),
        Some(validation),
        Some(mqtt),
        Some(kafka),
        Some(ingest),
        Some(mut aggregate),
        Some(store),
        Some(alerts),
        Some(routes),
        Some(publish),
        Some(quality),
    ) = (
        log, metrics, assets, validation, mqtt, kafka, ingest, aggregate, store, alerts, routes,
        publish, quality,
    )
    else {
        return Err(Problems(problems));
    };
    // One congestion rule: the alert's raise thresholds make the `congested` field.
    aggregate.windows.congestion = alerts.congestion.rule();
    let cfg = Config {
        log,
        metrics,
        assets,
        validation,
        mqtt,
        kafka,
        ingest,
        aggregate,
        store,
        alerts,
        routes,
        publish,
        quality,
    };
    problems.extend(cfg.semantic_problems());
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(Problems(problems))
    }
}

impl Config {
    /// Problems a well-typed configuration can still have: values out of range and
    /// sections that disagree.
    fn semantic_problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut push = |section: &str, key: &str, message: String| {
            out.push(Problem {
                key: format!("{section}.{key}"),
                message,
            });
        };
        for (k, m) in self.aggregate.problems() {
            push("aggregate", &k, m);
        }
        for (k, m) in self.store.validate() {
            push("store", k, m);
        }
        for (k, m) in self.alerts.problems() {
            push("alerts", &k, m);
        }
        for (k, m) in self.routes.problems() {
            push("routes", &k, m);
        }
        for (k, m) in self.publish.problems() {
            push("publish", k, m);
        }
        for (k, m) in self.quality.problems() {
            push("quality", k, m);
        }
        let lateness = self.aggregate.windows.allowed_lateness_secs;
        if lateness > self.validation.max_age_secs {
            push(
                "aggregate",
                "windows.allowed_lateness_secs",
                format!(
                    "{lateness} s is more than validation.max_age_secs ({} s): ingest would refuse readings the windows still take",
                    self.validation.max_age_secs
                ),
            );
        }
        out
    }
}

/// Deserialises one section; on an error, records it, removes the offending key and
/// tries again, so every bad key in the section is reported.
fn section<T: serde::de::DeserializeOwned>(
    name: &str,
    value: Option<serde_json::Value>,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let mut value = value.unwrap_or_else(|| serde_json::json!({}));
    let mut failed = false;
    for _ in 0..64 {
        match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(t) => return (!failed).then_some(t),
            Err(e) => {
                failed = true;
                let path = e.path().to_string();
                let inner = e.into_inner().to_string();
                let key_path: Vec<String> = match path.as_str() {
                    "." => vec![],
                    p => p.split('.').map(str::to_owned).collect(),
                };
                let key = std::iter::once(name.to_owned())
                    .chain(key_path.iter().cloned())
                    .collect::<Vec<_>>()
                    .join(".");
                problems.push(Problem {
                    key,
                    message: inner,
                });
                if !remove_path(&mut value, &key_path) {
                    return None;
                }
            }
        }
    }
    None
}

/// Removes the key at `path`; false if there was nothing to remove.
fn remove_path(v: &mut serde_json::Value, path: &[String]) -> bool {
    match path {
        [] => false,
        [last] => v.as_object_mut().is_some_and(|o| o.remove(last).is_some()),
        [first, rest @ ..] => v
            .get_mut(first.as_str())
            .is_some_and(|inner| remove_path(inner, rest)),
    }
}

/// Replaces the value of every key that names a secret with `"***"`.
pub fn mask_secrets(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                let lower = k.to_ascii_lowercase();
                if SECRET_WORDS.iter().any(|w| lower.contains(w)) && !val.is_null() {
                    *val = serde_json::Value::String("***".into());
                } else {
                    mask_secrets(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_secrets),
        _ => {}
    }
}

/// TOML has no null: drop keys whose value is null.
fn strip_nulls(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests;
