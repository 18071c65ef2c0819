//! Alerts from a command rather than from the rules: `kerbside routes plan` saying a
//! day's rounds were not planned (and, once they are, that they now are). One POST
//! to Alertmanager's v2 API, tried three times a second apart; no queue, no resend.

use std::time::Duration;

use super::DeliveryConfig;
use crate::alertmanager::PostableAlert;

/// Posts `alerts`, with the deployment's `alertmanager_labels`, to the Alertmanager
/// `cfg` names (`POST <alertmanager_url>/api/v2/alerts`); `Err` says why the last of
/// three tries failed.
pub async fn post_to_alertmanager(
    cfg: &DeliveryConfig,
    alerts: Vec<PostableAlert>,
    timeout: Duration,
) -> Result<(), String> {
    let alerts: Vec<PostableAlert> = alerts
        .into_iter()
        .map(|a| a.with_labels(&cfg.alertmanager_labels))
        .collect();
    let url = format!(
        "{}/api/v2/alerts",
        cfg.alertmanager_url.trim_end_matches('/')
    );
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let mut last = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        match client.post(&url).json(&alerts).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => {
                let status = r.status();
                last = format!("{url}: {status}: {}", r.text().await.unwrap_or_default());
                if status.is_client_error() {
                    break;
                }
            }
            Err(e) => last = format!("{url}: {e}"),
        }
    }
    Err(last)
}
