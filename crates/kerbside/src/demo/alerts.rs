//! The demo's alerts: the aggregator's window observer, as `AlertService` is in
//! `kerbside aggregate`, with the same rules, but its events go to `alerts.jsonl`
//! and the terminal instead of Kafka and Alertmanager.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::sync::{Arc, Mutex};

use indicatif::ProgressBar;
use kerbside_aggregate::{Observer, ObserverError, Row};
use kerbside_alerts::{AlertEngine, AlertEvent, AlertMetrics, AlertState, AlertsConfig};
use kerbside_reading::EventTime;

use super::report::AlertCount;
use crate::offline::write_json_line;

/// Alerts raised and cleared so far, by rule: shared with the progress bar and the
/// report.
pub(super) type Tally = Arc<Mutex<BTreeMap<String, AlertCount>>>;

/// The rules over the windows the aggregator writes.
pub(super) struct DemoAlerts {
    config: AlertsConfig,
    engine: AlertEngine,
    events: Vec<AlertEvent>,
    file: BufWriter<File>,
    metrics: AlertMetrics,
    /// Where alert lines go (`None`: `--quiet`).
    print: Option<ProgressBar>,
    tally: Tally,
}

impl DemoAlerts {
    /// Rules from `config`; events into `file` (and onto the terminal through `print`).
    pub(super) fn new(
        config: AlertsConfig,
        file: BufWriter<File>,
        metrics: AlertMetrics,
        print: Option<ProgressBar>,
        tally: Tally,
    ) -> Self {
        Self {
            engine: AlertEngine::new(config.clone()),
            config,
            events: Vec::new(),
            file,
            metrics,
            print,
            tally,
        }
    }

    fn record(&mut self) -> std::io::Result<()> {
        self.metrics.count(&self.events);
        let mut tally = self.tally.lock().expect("never poisoned");
        for e in &self.events {
            write_json_line(&mut self.file, e).map_err(std::io::Error::other)?;
            let c = tally.entry(e.rule.as_str().to_owned()).or_default();
            let state = match e.state {
                AlertState::Raised => {
                    c.raised += 1;
                    "RAISED "
                }
                AlertState::Cleared => {
                    c.cleared += 1;
                    "cleared"
                }
                AlertState::Updated => continue,
            };
            if let Some(bar) = &self.print {
                let at = EventTime::from_millis(e.at_ms)
                    .map_or_else(String::new, |t| t.to_rfc3339()[11..16].to_owned());
                let line = format!("{at} {state} {:<8} {}", e.severity.as_str(), e.summary);
                // A hidden bar (output not a terminal) prints nothing of its own.
                if bar.is_hidden() {
                    println!("{line}");
                } else {
                    bar.println(line);
                }
            }
        }
        self.file.flush()
    }
}

impl Observer for DemoAlerts {
    async fn written(
        &mut self,
        rows: &[Row],
        closed_until: Option<i64>,
    ) -> Result<(), ObserverError> {
        self.engine.written(rows, closed_until, &mut self.events);
        if self.events.is_empty() {
            return Ok(());
        }
        let written = self.record();
        self.events.clear();
        Ok(written?)
    }

    async fn rebuilt(&mut self) -> Result<(), ObserverError> {
        self.engine = AlertEngine::new(self.config.clone());
        Ok(())
    }
}
