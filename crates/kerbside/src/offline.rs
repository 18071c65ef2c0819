//! The windows and the alert rules in process, over readings already judged, for
//! `kerbside replay` (a file of recorded messages). The engine and the rules are the
//! aggregator service's own; only the transport around them differs. (`kerbside
//! demo` runs the service's loop itself, over the in-process log.)

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::Path;

use anyhow::Context as _;
use kerbside_aggregate::{Engine, EngineConfig, Row};
use kerbside_alerts::{AlertEngine, AlertEvent, AlertState, AlertsConfig};
use kerbside_reading::DeadLetter;
use serde::Serialize;

/// Rows per chunk: a quarter hour closes every device's windows at once.
const EMIT_CHUNK: usize = 5000;

/// Where the closed windows, the refusals and the alerts go.
pub trait Output {
    /// Rows to store.
    fn rows(&mut self, rows: Vec<Row>) -> anyhow::Result<()>;
    /// One refused message.
    fn dead_letter(&mut self, dl: &DeadLetter) -> anyhow::Result<()>;
    /// Alert events, in the order the rules gave them.
    fn alerts(&mut self, events: &[AlertEvent]) -> anyhow::Result<()>;
}

/// What the windows and rules have put out so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Emitted {
    /// Rows written, by measurement (re-emissions included).
    pub rows: BTreeMap<String, u64>,
    /// Alerts raised (each incident once; the alert events also have its updates
    /// and its clear).
    pub alerts: u64,
    /// Alerts cleared.
    pub alerts_cleared: u64,
}

/// The window engine and the alert rules, emitting into an [`Output`].
pub struct Offline {
    /// The window engine: readings and refusals go in here.
    pub engine: Engine,
    rules: AlertEngine,
    /// What has been put out.
    pub emitted: Emitted,
    rows: Vec<Row>,
    events: Vec<AlertEvent>,
}

impl std::fmt::Debug for Offline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offline")
            .field("emitted", &self.emitted)
            .finish_non_exhaustive()
    }
}

impl Offline {
    /// A fresh engine and rule set.
    pub fn new(windows: EngineConfig, alerts: AlertsConfig) -> Self {
        Self {
            engine: Engine::new(windows),
            rules: AlertEngine::new(alerts),
            emitted: Emitted::default(),
            rows: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Writes what the watermark has closed, a chunk at a time, and runs the alert
    /// rules on it.
    pub fn emit(&mut self, out: &mut impl Output) -> anyhow::Result<()> {
        self.run(false, out)
    }

    /// Closes and writes every window. Devices are judged silent up to the newest
    /// reading (the engine's final watermark once it has finished): the end of the
    /// input is not the end of time.
    pub fn finish(&mut self, out: &mut impl Output) -> anyhow::Result<()> {
        self.run(true, out)
    }

    fn run(&mut self, finish: bool, out: &mut impl Output) -> anyhow::Result<()> {
        loop {
            let done = if finish {
                self.engine.finish_into(EMIT_CHUNK, &mut self.rows)
            } else {
                self.engine.advance_into(EMIT_CHUNK, &mut self.rows)
            };
            if !self.rows.is_empty() {
                for r in &self.rows {
                    *self
                        .emitted
                        .rows
                        .entry(r.measurement.to_owned())
                        .or_default() += 1;
                    self.rules.evaluate(r, &mut self.events);
                }
                out.rows(std::mem::take(&mut self.rows))?;
            }
            if done && let Some(t) = self.engine.final_watermark() {
                self.rules.advance(t, &mut self.events);
            }
            if !self.events.is_empty() {
                for e in &self.events {
                    match e.state {
                        AlertState::Raised => self.emitted.alerts += 1,
                        AlertState::Cleared => self.emitted.alerts_cleared += 1,
                        AlertState::Updated => {}
                    }
                }
                out.alerts(&self.events)?;
                self.events.clear();
            }
            if done {
                return Ok(());
            }
        }
    }
}

/// Files in a folder: line protocol per measurement and day (the file store),
/// `deadletter.jsonl` and `alerts.jsonl`.
#[derive(Debug)]
pub struct DirOutput {
    sink: kerbside_store::FileSink,
    dead: BufWriter<File>,
    alerts: BufWriter<File>,
}

impl DirOutput {
    /// Creates `dir` and the files in it.
    pub fn create(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self {
            sink: kerbside_store::FileSink::new(dir),
            dead: create(&dir.join("deadletter.jsonl"))?,
            alerts: create(&dir.join("alerts.jsonl"))?,
        })
    }

    /// Makes everything written durable.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        self.sink.flush().context("flushing line-protocol files")?;
        self.dead.flush().context("writing deadletter.jsonl")?;
        self.alerts.flush().context("writing alerts.jsonl")
    }
}

/// A buffered new file.
pub fn create(path: &Path) -> anyhow::Result<BufWriter<File>> {
    Ok(BufWriter::new(
        File::create(path).with_context(|| format!("creating {}", path.display()))?,
    ))
}

impl Output for DirOutput {
    fn rows(&mut self, rows: Vec<Row>) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let report = self
            .sink
            .write(&rows)
            .context("writing line-protocol files")?;
        dead_letter_refused(self, report.refused)?;
        Ok(())
    }

    fn dead_letter(&mut self, dl: &DeadLetter) -> anyhow::Result<()> {
        write_json_line(&mut self.dead, dl).context("writing deadletter.jsonl")
    }

    fn alerts(&mut self, events: &[AlertEvent]) -> anyhow::Result<()> {
        for e in events {
            self.alerts
                .write_all(&e.to_json())
                .and_then(|()| self.alerts.write_all(b"\n"))
                .context("writing alerts.jsonl")?;
        }
        Ok(())
    }
}

/// Dead-letters the rows a store refused (`store_refused`, with the line it
/// refused); how many.
pub fn dead_letter_refused(
    out: &mut impl Output,
    refused: Vec<kerbside_store::Refused>,
) -> anyhow::Result<u64> {
    let n = refused.len() as u64;
    for r in &refused {
        out.dead_letter(&kerbside_aggregate::record::store_refused(r))?;
    }
    Ok(n)
}

/// `value` as one JSON line.
pub fn write_json_line(w: &mut impl std::io::Write, value: &impl Serialize) -> anyhow::Result<()> {
    serde_json::to_writer(&mut *w, value)?;
    w.write_all(b"\n")?;
    Ok(())
}
