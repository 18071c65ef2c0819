//! `kerbside replay`: the same validation, duplicate check and windows as the
//! services, offline over a file of recorded MQTT messages (DESIGN §12).
//!
//! Time is the file's own: a line's `received_at` if it was recorded, otherwise the
//! newest event time accepted so far (the file's clock). Until the first reading is
//! accepted there is no clock, so timestamps are not judged for age or skew. Lateness
//! is judged by the windows' watermark over the file's event times, so last year's
//! data replays as it happened. At the end of the file every window is closed and
//! written.
//!
//! Output in `--out`: one line-protocol file per measurement and day, every refused
//! message in `deadletter.jsonl` (a line that is not a replay record is refused as
//! `malformed_json` with the line itself as payload: nothing is lost), `alerts.jsonl`,
//! and `summary.json`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use kerbside_aggregate::{EngineConfig, Outcome, Row, Source, reading_decision};
use kerbside_alerts::{AlertEvent, AlertsConfig};
use kerbside_ingest::pipeline::{Judged, Pipeline};
use kerbside_reading::{
    AssetRegister, DeadLetter, EnrichedReading, EventTime, Kind, Refusal, RefusalReason,
    ReplayLine, Topic, ValidationConfig, Validator,
};
use serde::Serialize;

use crate::config::Config;
use crate::offline::{DirOutput, Emitted, Offline, Output};

/// Arguments of `kerbside replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The recorded messages: JSON lines `{"topic": ..., "payload": "...",
    /// "received_at": ...}` (`received_at` optional). `-` reads standard input.
    #[arg(long)]
    pub input: PathBuf,
    /// Asset register (CSV or GeoJSON); defaults to `assets.path` from the config.
    #[arg(long)]
    pub assets: Option<PathBuf>,
    /// Output directory (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// What a replay did, also written to `summary.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplaySummary {
    /// Lines read.
    pub lines: u64,
    /// Lines that were not replay records (refused as `malformed_json`).
    pub bad_lines: u64,
    /// Readings accepted.
    pub accepted: u64,
    /// Status messages.
    pub status: u64,
    /// Refusals by reason code (`too_late` included).
    pub refused: BTreeMap<String, u64>,
    /// Accepted readings that corrected a closed window.
    pub late: u64,
    /// Rows written by measurement, and alerts raised and cleared (`alerts.jsonl` also
    /// has each incident's updates).
    #[serde(flatten)]
    pub windows: Emitted,
    /// Earliest and latest accepted event time, RFC 3339.
    pub event_time: Option<(String, String)>,
    /// Wall-clock seconds the replay took.
    pub seconds: f64,
    /// Accepted readings per wall-clock second.
    pub readings_per_second: f64,
}

/// What the reading stage hands the windows stage, in the order of the input: the
/// windows see exactly the calls a single thread would make.
#[derive(Debug)]
enum Step {
    /// An accepted reading.
    Reading { reading: EnrichedReading },
    /// A device's message refused (`device_health` counts it).
    Refused {
        device: String,
        kind: Option<Kind>,
        reason: RefusalReason,
        received_ms: i64,
    },
    /// A dead letter, to write in its place in the output.
    DeadLetter(DeadLetter),
    /// The end of a line: what the watermark has closed is emitted.
    LineEnd,
}

/// What the windows stage hands the writer, in order.
#[derive(Debug)]
enum Put {
    Rows(Vec<Row>),
    DeadLetter(DeadLetter),
    Alerts(Vec<AlertEvent>),
}

/// Steps or puts per message between threads: few enough messages that the channels
/// cost nothing, small enough that a stage never waits long for the one before.
const BATCH: usize = 1024;
/// Batches queued between two stages.
const QUEUED: usize = 128;

/// An [`Output`] that hands everything to the writer thread.
struct ToWriter {
    tx: SyncSender<Vec<Put>>,
    batch: Vec<Put>,
}

impl ToWriter {
    fn put(&mut self, p: Put) -> anyhow::Result<()> {
        self.batch.push(p);
        if self.batch.len() >= BATCH {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> anyhow::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.tx
            .send(batch)
            .map_err(|_| anyhow::anyhow!(WRITER_STOPPED))
    }
}

const WRITER_STOPPED: &str = "the replay's writer stopped";
const WINDOWS_STOPPED: &str = "the replay's windows stage stopped";

impl Output for ToWriter {
    fn rows(&mut self, rows: Vec<Row>) -> anyhow::Result<()> {
        // A chunk of rows is a batch's worth on its own: held back until 1,024 puts
        // had gathered, hours of rows waited in memory (2.4 GB over 14 h at 100,000
        // devices).
        self.put(Put::Rows(rows))?;
        self.send()
    }

    fn dead_letter(&mut self, dl: &DeadLetter) -> anyhow::Result<()> {
        self.put(Put::DeadLetter(dl.clone()))
    }

    fn alerts(&mut self, events: &[AlertEvent]) -> anyhow::Result<()> {
        self.put(Put::Alerts(events.to_vec()))
    }
}

/// The replay over an already-open input: judges every line, runs the windows, sends
/// rows and refusals to `out`, and closes every window at the end. `progress` is
/// told the bytes consumed so far.
///
/// Three threads, each a stage of one pipeline: reading and judging the lines (this
/// thread), the windows and the alert rules, and writing to `out`. Each stage takes
/// the one before's output in order, so what is written, and in what order, is
/// exactly what one thread doing all three would write.
pub fn replay_lines(
    input: impl BufRead,
    validation: ValidationConfig,
    assets: Arc<AssetRegister>,
    windows: EngineConfig,
    alerts: AlertsConfig,
    out: &mut (impl Output + Send),
    progress: impl FnMut(u64),
) -> anyhow::Result<ReplaySummary> {
    let started = Instant::now();
    let (steps_tx, steps_rx) = sync_channel::<Vec<Step>>(QUEUED);
    let (puts_tx, puts_rx) = sync_channel::<Vec<Put>>(QUEUED);
    let (judging, windowing, writing) = std::thread::scope(|s| {
        let writer = stage(s, "replay-writer", move || -> anyhow::Result<()> {
            for batch in puts_rx {
                for p in batch {
                    match p {
                        Put::Rows(rows) => out.rows(rows)?,
                        Put::DeadLetter(dl) => out.dead_letter(&dl)?,
                        Put::Alerts(events) => out.alerts(&events)?,
                    }
                }
            }
            Ok(())
        });
        let windower = stage(s, "replay-windows", move || {
            let mut out = ToWriter {
                tx: puts_tx,
                batch: Vec::with_capacity(BATCH),
            };
            let w = run_windows(windows, alerts, steps_rx, &mut out)?;
            // The last, partly filled batch.
            out.send()?;
            Ok::<_, anyhow::Error>(w)
        });
        let judging = judge_lines(input, validation, assets, steps_tx, progress);
        let windowing = windower.join().expect("the windows stage panicked");
        let writing = writer.join().expect("the replay's writer panicked");
        (judging, windowing, writing)
    });
    // The first stage to fail is the cause: the ones before it stop for want of it.
    writing?;
    let windowed = windowing?;
    let mut summary = judging?;
    for (reason, n) in windowed.refused {
        *summary.refused.entry(reason).or_default() += n;
    }
    summary.late = windowed.late;
    summary.windows = windowed.emitted;
    summary.event_time = windowed.span.map(|(a, b)| (a.to_string(), b.to_string()));
    summary.seconds = started.elapsed().as_secs_f64();
    summary.readings_per_second = summary.accepted as f64 / summary.seconds.max(1e-9);
    Ok(summary)
}

/// A named thread of the replay's pipeline (the name shows in `top -H` and profiles).
fn stage<'scope, T: Send + 'scope>(
    s: &'scope std::thread::Scope<'scope, '_>,
    name: &str,
    f: impl FnOnce() -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn_scoped(s, f)
        .expect("a thread for the replay")
}

/// The first stage: reads and judges every line, in order, into steps for the windows.
fn judge_lines(
    input: impl BufRead,
    validation: ValidationConfig,
    assets: Arc<AssetRegister>,
    tx: SyncSender<Vec<Step>>,
    mut progress: impl FnMut(u64),
) -> anyhow::Result<ReplaySummary> {
    let mut pipeline = Pipeline::new(Validator::new(validation.clone(), Arc::clone(&assets)));
    // Before the file has a clock: every timestamp is in range.
    let mut unclocked = Pipeline::new(Validator::new(
        ValidationConfig {
            max_future_secs: u32::MAX,
            max_age_secs: u32::MAX,
            ..validation
        },
        assets,
    ));
    let mut summary = ReplaySummary::default();
    let mut clock: Option<EventTime> = None;
    let mut bytes = 0u64;
    let mut judged = Vec::new();
    let mut steps = Vec::with_capacity(BATCH);
    let send = |steps: &mut Vec<Step>| {
        let batch = std::mem::replace(steps, Vec::with_capacity(BATCH));
        tx.send(batch).map_err(|_| anyhow::anyhow!(WINDOWS_STOPPED))
    };
    for (n, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", n + 1))?;
        bytes += line.len() as u64 + 1;
        summary.lines += 1;
        if line.trim().is_empty() {
            continue;
        }
        let rec: ReplayLine = match serde_json::from_str(&line) {
            Ok(r) => r,
            Err(e) => {
                summary.bad_lines += 1;
                *summary.refused.entry("malformed_json".into()).or_default() += 1;
                let refusal = Refusal::new(
                    RefusalReason::MalformedJson,
                    format!("line {} is not a replay record: {e}", n + 1),
                );
                let at = clock.unwrap_or(EventTime::from_millis(0).expect("epoch"));
                steps.push(Step::DeadLetter(DeadLetter::new(
                    &refusal,
                    "",
                    line.as_bytes(),
                    at,
                    None,
                )));
                continue;
            }
        };
        let p = if rec.received_at.is_some() || clock.is_some() {
            &mut pipeline
        } else {
            &mut unclocked
        };
        let received_at = rec
            .received_at
            .or(clock)
            .unwrap_or(EventTime::from_millis(0).expect("epoch"));
        judged.clear();
        p.judge(&rec.topic, rec.payload.as_bytes(), received_at, |j| {
            judged.push(j)
        });
        for j in judged.drain(..) {
            match j {
                Judged::Accepted { reading, .. } => {
                    summary.accepted += 1;
                    let ts = reading.reading.ts;
                    clock = Some(clock.map_or(ts, |c| c.max(ts)));
                    steps.push(Step::Reading { reading });
                }
                Judged::Status { .. } => summary.status += 1,
                Judged::Refused { refusal, .. } => {
                    // Parsed only here: an accepted reading's topic is not needed.
                    let topic = Topic::parse(&rec.topic).ok();
                    if let Some(device) = topic.and_then(|t| t.device_id()) {
                        let kind = match topic {
                            Some(Topic::Reading { kind, .. }) => Some(kind),
                            _ => None,
                        };
                        steps.push(Step::Refused {
                            device: device.to_owned(),
                            kind,
                            reason: refusal.reason,
                            received_ms: received_at.millis(),
                        });
                    }
                    *summary
                        .refused
                        .entry(refusal.reason.code().into())
                        .or_default() += 1;
                    steps.push(Step::DeadLetter(DeadLetter::new(
                        &refusal,
                        &rec.topic,
                        rec.payload.as_bytes(),
                        received_at,
                        None,
                    )));
                }
            }
        }
        steps.push(Step::LineEnd);
        if steps.len() >= BATCH {
            send(&mut steps)?;
        }
        if n % 4096 == 0 {
            progress(bytes);
        }
    }
    send(&mut steps)?;
    progress(bytes);
    Ok(summary)
}

/// What the windows stage adds to the summary.
#[derive(Debug, Default)]
struct Windowed {
    /// Refusals it made (`too_late`), by reason code.
    refused: BTreeMap<String, u64>,
    late: u64,
    emitted: Emitted,
    /// Earliest and latest accepted event time.
    span: Option<(EventTime, EventTime)>,
}

/// The second stage: the windows and the alert rules over the steps, in order; at
/// the end of the input every window is closed.
fn run_windows(
    windows: EngineConfig,
    alerts: AlertsConfig,
    rx: Receiver<Vec<Step>>,
    out: &mut impl Output,
) -> anyhow::Result<Windowed> {
    let mut offline = Offline::new(windows, alerts);
    let mut w = Windowed::default();
    let src = Source::Readings(0);
    for batch in rx {
        for step in batch {
            match step {
                Step::Reading { reading } => {
                    let ts = reading.reading.ts;
                    w.span = Some(w.span.map_or((ts, ts), |(a, b)| (a.min(ts), b.max(ts))));
                    let admission = offline.engine.add_reading(src, None, &reading);
                    // As the service decides: the dead letter's payload is the record,
                    // the reading itself.
                    let decision = reading_decision(
                        admission,
                        reading.reading.kind(),
                        &reading.reading.device_id,
                        reading.received_at,
                        || {
                            Cow::Owned(
                                serde_json::to_vec(&reading)
                                    .expect("an enriched reading always serialises"),
                            )
                        },
                    );
                    match decision.outcome {
                        Outcome::Late => w.late += 1,
                        Outcome::TooLate => *w.refused.entry("too_late".into()).or_default() += 1,
                        _ => {}
                    }
                    if let Some(dl) = &decision.dead_letter {
                        out.dead_letter(dl)?;
                    }
                }
                Step::Refused {
                    device,
                    kind,
                    reason,
                    received_ms,
                } => offline
                    .engine
                    .add_refusal(src, None, &device, kind, reason, received_ms),
                Step::DeadLetter(dl) => out.dead_letter(&dl)?,
                Step::LineEnd => offline.emit(out)?,
            }
        }
    }
    // The end of the file is not the end of time: devices are judged silent only up
    // to the last reading's event time.
    offline.finish(out)?;
    w.emitted = std::mem::take(&mut offline.emitted);
    Ok(w)
}

/// Runs `kerbside replay`.
pub fn run(cfg: &Config, args: &ReplayArgs) -> anyhow::Result<()> {
    let path =
        args.assets.as_ref().or(cfg.assets.path.as_ref()).context(
            "no asset register: pass --assets FILE or set assets.path in the configuration",
        )?;
    let assets = Arc::new(crate::check::load_assets(path)?);
    let mut out = DirOutput::create(&args.out)?;

    let (reader, total): (Box<dyn BufRead>, Option<u64>) = if args.input == Path::new("-") {
        (Box::new(BufReader::new(std::io::stdin().lock())), None)
    } else {
        let f =
            File::open(&args.input).with_context(|| format!("opening {}", args.input.display()))?;
        let len = f.metadata().ok().map(|m| m.len());
        (Box::new(BufReader::with_capacity(1 << 20, f)), len)
    };
    let bar = progress_bar(total, args.quiet);
    let summary = replay_lines(
        reader,
        cfg.validation.clone(),
        assets,
        cfg.aggregate.windows.clone(),
        cfg.alerts.clone(),
        &mut out,
        |b| bar.set_position(b),
    )?;
    bar.finish_and_clear();
    out.flush()?;
    let json = serde_json::to_string_pretty(&summary)?;
    std::fs::write(args.out.join("summary.json"), format!("{json}\n"))
        .context("writing summary.json")?;
    print_summary(&summary, &args.out);
    Ok(())
}

fn progress_bar(total: Option<u64>, quiet: bool) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let bar = match total {
        Some(t) => ProgressBar::new(t),
        None => ProgressBar::new_spinner(),
    };
    if quiet {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "replay {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("a valid template"),
    );
    bar
}

fn print_summary(s: &ReplaySummary, out: &Path) {
    let refused: u64 = s.refused.values().sum();
    println!(
        "replayed {} lines in {:.1} s: {} readings accepted ({:.0}/s), {} refused, {} late corrections",
        s.lines, s.seconds, s.accepted, s.readings_per_second, refused, s.late
    );
    if let Some((a, b)) = &s.event_time {
        println!("event time {a} .. {b}");
    }
    for (m, n) in &s.windows.rows {
        println!("  {m:<14} {n} rows");
    }
    for (r, n) in &s.refused {
        println!("  refused {r:<22} {n}");
    }
    println!(
        "alerts: {} raised, {} cleared (alerts.jsonl)",
        s.windows.alerts, s.windows.alerts_cleared
    );
    println!("written to {}", out.display());
}
