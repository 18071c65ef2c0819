//! The Prometheus Alertmanager v2 mapping (pure; the HTTP call is the delivery's):
//! one [`PostableAlert`] is one item of the JSON array `POST /api/v2/alerts` takes.
//!
//! Alertmanager identifies an alert by its label set. The labels are the event's,
//! plus `alertname` (the rule code), `severity` and `alert_id`; so a severity change
//! makes a new label set, and the old one must be resolved ([`superseded`]) or it
//! fires on until its `endsAt`. An active alert is sent again before the `endsAt`
//! the caller gave it passes (the resend horizon); a cleared one is sent with its
//! own end, which resolves it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::{AlertEvent, AlertState, Severity};

/// One alert as Alertmanager's `POST /api/v2/alerts` takes it (`postableAlert`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostableAlert {
    /// `alertname` (the rule), `severity`, `alert_id` and the event's labels.
    pub labels: BTreeMap<String, String>,
    /// `summary`, and `value` and `threshold` when the event has them.
    pub annotations: BTreeMap<String, String>,
    /// When the incident started, RFC 3339 UTC.
    #[serde(rename = "startsAt")]
    pub starts_at: String,
    /// When the alert ends (resolves), RFC 3339 UTC; left out, Alertmanager applies
    /// its `resolve_timeout`.
    #[serde(rename = "endsAt", default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<String>,
    /// A link back to the source (a dashboard).
    #[serde(
        rename = "generatorURL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub generator_url: Option<String>,
}

impl PostableAlert {
    /// With `labels` added where the alert has none of that name (a deployment's
    /// `alertmanager_labels`: the alert's own win).
    #[must_use]
    pub fn with_labels(mut self, labels: &BTreeMap<String, String>) -> Self {
        for (k, v) in labels {
            self.labels.entry(k.clone()).or_insert_with(|| v.clone());
        }
        self
    }
}

/// The Alertmanager form of `event`. For an active event `ends_at_ms` is the resend
/// horizon the caller chooses (`None`: Alertmanager's `resolve_timeout`); a cleared
/// event always ends at its own `ends_at_ms` (its `at_ms` if that is missing).
pub fn postable(
    event: &AlertEvent,
    ends_at_ms: Option<i64>,
    generator_url: Option<&str>,
) -> PostableAlert {
    let ends_at_ms = match event.state {
        AlertState::Cleared => Some(event.ends_at_ms.unwrap_or(event.at_ms)),
        AlertState::Raised | AlertState::Updated => ends_at_ms,
    };
    let mut labels = event.labels.clone();
    labels.insert("alertname".into(), event.rule.as_str().into());
    labels.insert("severity".into(), event.severity.as_str().into());
    labels.insert("alert_id".into(), event.id.clone());
    let mut annotations = BTreeMap::new();
    annotations.insert("summary".to_owned(), event.summary.clone());
    if let Some(v) = event.value {
        annotations.insert("value".to_owned(), v.to_string());
    }
    if let Some(t) = event.threshold {
        annotations.insert("threshold".to_owned(), t.to_string());
    }
    PostableAlert {
        labels,
        annotations,
        starts_at: rfc3339_ms(event.starts_at_ms),
        ends_at: ends_at_ms.map(rfc3339_ms),
        generator_url: generator_url.map(str::to_owned),
    }
}

/// For an `updated` event that changed the severity, the alert under the old
/// severity's label set, ended at the update (send it with the new one so
/// Alertmanager resolves the old). `None` for any other event.
pub fn superseded(event: &AlertEvent, generator_url: Option<&str>) -> Option<PostableAlert> {
    let previous: Severity = event.previous_severity?;
    if event.state != AlertState::Updated || previous == event.severity {
        return None;
    }
    let old = AlertEvent {
        severity: previous,
        ..event.clone()
    };
    Some(postable(&old, Some(event.at_ms), generator_url))
}

/// `ms` since the Unix epoch as RFC 3339 UTC with milliseconds,
/// `2026-11-22T09:15:00.000Z`. Clamped to years 0000-9999 (RFC 3339's range).
pub fn rfc3339_ms(ms: i64) -> String {
    // 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z.
    const MIN_MS: i64 = -62_167_219_200_000;
    const MAX_MS: i64 = 253_402_300_799_999;
    let ms = ms.clamp(MIN_MS, MAX_MS);
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests;
