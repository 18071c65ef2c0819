//! The aggregation engine: every measurement's windows in one place, fed records and
//! giving rows. Pure (no I/O, no clock): `kerbside aggregate` feeds it from Kafka and
//! `kerbside replay` from a file, so both compute the same values.
//!
//! **Windows.** `traffic_flow` 5 min per counter; `air_quality` 15 min and 1 h per
//! node; `bin_fill` 15 min per bin; `footfall` 15 min and 1 h per room and, as an
//! extra series without a `room` tag, per venue; `device_health` 15 min per device.
//! Every reading moves every engine's watermark (a partition carrying only bins does
//! not hold traffic back). Dead letters feed `device_health` only, at their receive
//! time, from their own sources.
//!
//! **Commits.** [`Engine::commit_point`] is the offset a source may be committed to:
//! below every record a window that can still change holds, and below every reading
//! of the last [`Engine::history_span_ms`] of event time, because the running
//! air-quality means and a bin's fill rate need that much history and a restart
//! rebuilds it by reading those records again.
//!
//! **Restarts.** A restarted engine is told, per partition, the watermark its
//! predecessor had written everything up to ([`Engine::resume_after`], carried in
//! the commit's metadata). It rebuilds windows and history from the records it reads
//! again but does not write a window that was already final there: those rows would
//! be computed from a partial history and would overwrite correct ones. Each window is
//! judged by its own partition's watermark (the partition of its key's first record),
//! so partitions taken over from instances far apart in lag resume exactly; the rows
//! written equal an uninterrupted run's. A window whose key has records on several
//! partitions (a venue's footfall rollup) is judged by the first one's.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kerbside_reading::{
    AssetAttrs, EnrichedReading, EventTime, Kind, Refusal, RefusalReason, SeqOutcome, SeqTracker,
};
use kerbside_window::{Admit, Emission, EmissionKind, Windows};

use crate::air::{AirHistory, AirQuality};
use crate::bin::{BinFill, BinHistory};
use crate::footfall::Footfall;
use crate::health::DeviceHealth;
use crate::identity::Identities;
use crate::measurements::{Row, WindowTag};
use crate::traffic::TrafficFlow;

const MIN_MS: i64 = 60_000;

/// Runs `$body` with `$w` bound to each measurement's windows of `$engine` in turn
/// (they are of different types, so no loop over them can).
macro_rules! each_windows {
    ($engine:expr, $w:ident => $body:expr) => {{
        let e = $engine;
        {
            let $w = &mut e.traffic;
            $body;
        }
        {
            let $w = &mut e.air_15m;
            $body;
        }
        {
            let $w = &mut e.air_1h;
            $body;
        }
        {
            let $w = &mut e.bins;
            $body;
        }
        {
            let $w = &mut e.foot_15m;
            $body;
        }
        {
            let $w = &mut e.foot_1h;
            $body;
        }
        {
            let $w = &mut e.health;
            $body;
        }
    }};
}
const HOUR_MS: i64 = 60 * MIN_MS;

mod config;
pub use config::EngineConfig;

/// Where a record came from: a partition of the readings topic or of the
/// dead-letter topic. Offsets are per source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// A partition of `kerbside.readings.v1` (or the one stream of a replay).
    Readings(u32),
    /// A partition of `kerbside.deadletter.v1`.
    DeadLetters(u32),
}

impl Source {
    /// The window engines' partition number: dead-letter partitions are kept apart.
    fn stream(self) -> u32 {
        match self {
            Source::Readings(p) => p & !DEAD_LETTER_BIT,
            Source::DeadLetters(p) => p | DEAD_LETTER_BIT,
        }
    }

    /// The partition number, whichever topic (both are keyed by device, so a
    /// device's readings and dead letters share it).
    fn number(self) -> u32 {
        self.stream() & !DEAD_LETTER_BIT
    }
}

const DEAD_LETTER_BIT: u32 = 1 << 31;

/// What happened to a reading offered to [`Engine::add_reading`], judged by its own
/// measurement's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// In a window not yet written.
    OnTime,
    /// In a window already closed, within the allowed lateness: it is written again.
    Late,
    /// A copy of a reading already counted (by `device_id` and `seq`) whose window
    /// is final: nothing to do (a copy in an open window is counted once there).
    Duplicate,
    /// Its window was final: not counted. Dead-letter it as `too_late`.
    TooLate {
        /// The window's start, ms.
        window: i64,
        /// The watermark it was judged against, ms.
        watermark: i64,
    },
}

impl Admission {
    /// The `too_late` refusal for a reading whose window starting at `window` was
    /// final at `watermark` (ms), as the service and `replay` dead-letter it.
    pub fn too_late_refusal(window: i64, watermark: i64) -> Refusal {
        let at =
            |ms: i64| EventTime::from_millis(ms).map_or_else(|| ms.to_string(), |t| t.to_string());
        Refusal::new(
            RefusalReason::TooLate,
            format!(
                "window starting {} was final at watermark {}",
                at(window),
                at(watermark)
            ),
        )
    }
}

/// Running totals, for metrics and the replay summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// Readings offered.
    pub readings: u64,
    /// Refusals offered (for `device_health`).
    pub refusals: u64,
    /// Readings that corrected a closed window.
    pub late: u64,
    /// Readings whose window was final.
    pub too_late: u64,
    /// Copies of readings already counted.
    pub duplicates: u64,
    /// Rows emitted when their window first closed.
    pub emitted: u64,
    /// Rows emitted again after a late reading.
    pub re_emitted: u64,
    /// Rows not emitted because they were final before a restart.
    pub suppressed: u64,
}

/// The footfall key: a room, or (`room: None`) the venue rollup.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FootKey {
    venue: String,
    room: Option<String>,
}

/// Per reading source, the lowest offset of each hour of event time still inside the
/// history span.
#[derive(Debug, Default)]
struct Retention {
    hours: BTreeMap<i64, HashMap<u32, i64>>,
}

impl Retention {
    fn note(&mut self, stream: u32, offset: i64, event_ms: i64) {
        let hour = event_ms.div_euclid(HOUR_MS) * HOUR_MS;
        let low = self
            .hours
            .entry(hour)
            .or_default()
            .entry(stream)
            .or_insert(offset);
        *low = (*low).min(offset);
    }

    fn prune(&mut self, keep_from: i64) {
        let hour = keep_from.div_euclid(HOUR_MS) * HOUR_MS;
        self.hours = self.hours.split_off(&hour);
    }

    fn low(&self, stream: u32) -> Option<i64> {
        self.hours
            .values()
            .filter_map(|m| m.get(&stream))
            .min()
            .copied()
    }
}

/// Every measurement's windows and the history beside them.
#[derive(Debug)]
pub struct Engine {
    config: EngineConfig,
    traffic: Windows<Arc<str>, TrafficFlow>,
    air_15m: Windows<Arc<str>, AirQuality>,
    air_1h: Windows<Arc<str>, AirQuality>,
    bins: Windows<Arc<str>, BinFill>,
    foot_15m: Windows<FootKey, Footfall>,
    foot_1h: Windows<FootKey, Footfall>,
    health: Windows<Arc<str>, DeviceHealth>,
    air_history: AirHistory,
    bin_history: BinHistory,
    seqs: SeqTracker,
    /// One shared device id and asset per device, for every window of it.
    ids: Identities,
    retention: Retention,
    /// Partition number → the watermark its predecessor had written everything up to.
    resume: HashMap<u32, i64>,
    /// The watermark at the last emission that finished: every window final there
    /// has been handed out ([`Engine::final_watermark`]).
    emitted_to: Option<i64>,
    /// The newest event time of any reading offered.
    newest_event: Option<i64>,
    stats: EngineStats,
}

/// `traffic_flow`'s window.
pub const TRAFFIC_WINDOW_MS: i64 = 5 * MIN_MS;
/// The quarter-hour window of the other measurements.
pub const QUARTER_WINDOW_MS: i64 = 15 * MIN_MS;

impl Engine {
    /// An empty engine under `config`.
    pub fn new(config: EngineConfig) -> Self {
        let quarter = config.spec(QUARTER_WINDOW_MS);
        let hour = config.spec(HOUR_MS);
        Self {
            traffic: Windows::new(config.spec(TRAFFIC_WINDOW_MS)),
            air_15m: Windows::new(quarter),
            air_1h: Windows::new(hour),
            bins: Windows::new(quarter),
            foot_15m: Windows::new(quarter),
            foot_1h: Windows::new(hour),
            health: Windows::new(quarter),
            air_history: AirHistory::new(),
            bin_history: BinHistory::new(config.bin_rate),
            seqs: SeqTracker::new(config.seq_horizon),
            ids: Identities::default(),
            retention: Retention::default(),
            resume: HashMap::new(),
            emitted_to: None,
            newest_event: None,
            stats: EngineStats::default(),
            config,
        }
    }

    /// The rules in force.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// How much event time before the watermark a restart must read again to rebuild
    /// the running means and fill rates: 24 h of history, the allowed lateness and
    /// the longest window.
    pub fn history_span_ms(&self) -> i64 {
        AirHistory::HOURS * HOUR_MS + i64::from(self.config.allowed_lateness_secs) * 1000 + HOUR_MS
    }

    /// After a restart: `source`'s windows that were final at `watermark` were
    /// written by the predecessor; rebuild them (their history is needed) but do not
    /// emit them. A partition's readings and dead letters share one value (the lower):
    /// a device's health window has both.
    pub fn resume_after(&mut self, source: Source, watermark: i64) {
        self.resume
            .entry(source.number())
            .and_modify(|w| *w = (*w).min(watermark))
            .or_insert(watermark);
    }

    /// Running totals.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    /// Windows held (open or still correctable), over every measurement.
    pub fn windows_open(&self) -> usize {
        self.traffic.held()
            + self.air_15m.held()
            + self.air_1h.held()
            + self.bins.held()
            + self.foot_15m.held()
            + self.foot_1h.held()
            + self.health.held()
    }

    /// Devices with history (running air means, bin fill series).
    pub fn history_devices(&self) -> usize {
        self.air_history.devices() + self.bin_history.devices()
    }

    /// One source's own watermark (its newest event time less the out-of-orderness;
    /// `None` before its first record).
    pub fn source_watermark(&self, source: Source) -> Option<i64> {
        self.traffic.partition_watermark(source.stream())
    }

    /// The engine's watermark: everything emitted is final up to here, less the
    /// allowed lateness. `None` until every measurement has one: before any record,
    /// and while a dead-letter partition assigned is neither heard from nor idle
    /// (`device_health` waits for it, and a watermark passing it would let a commit
    /// claim health windows written that were never emitted).
    pub fn watermark(&self) -> Option<i64> {
        [
            self.traffic.watermark(),
            self.air_15m.watermark(),
            self.air_1h.watermark(),
            self.bins.watermark(),
            self.foot_15m.watermark(),
            self.foot_1h.watermark(),
            self.health.watermark(),
        ]
        .into_iter()
        .try_fold(i64::MAX, |low, w| Some(low.min(w?)))
    }

    /// The watermark every closed window has been emitted at: a window final here
    /// (end plus lateness at or below it) is in a row already handed out. This, not
    /// [`Engine::watermark`], is what a commit may record for a successor's
    /// [`Engine::resume_after`]: while closed windows are still being emitted a chunk
    /// at a time, the watermark runs ahead of what was written, and a successor
    /// resuming after it would suppress windows nobody wrote.
    pub fn final_watermark(&self) -> Option<i64> {
        self.emitted_to
    }

    /// What a commit of `source` may record: the later of [`Engine::final_watermark`]
    /// and the watermark it resumed after, since the predecessor wrote the windows of
    /// its partition final there. Recording the engine's own (lower, if it took this
    /// partition over from an instance further ahead) would make a successor rewrite
    /// windows whose records lie before the committed offset.
    pub fn final_watermark_of(&self, source: Source) -> Option<i64> {
        self.emitted_to
            .max(self.resume.get(&source.number()).copied())
    }

    /// Offers one accepted reading from `source` at `offset` (if it has one).
    pub fn add_reading(
        &mut self,
        source: Source,
        offset: Option<i64>,
        r: &EnrichedReading,
    ) -> Admission {
        self.stats.readings += 1;
        let p = source.stream();
        let ts = r.reading.ts.millis();
        self.newest_event = self.newest_event.max(Some(ts));
        let device = r.reading.device_id.as_str();
        if let Some(o) = offset {
            self.retention.note(p, o, ts);
        }
        let kind = r.reading.kind();
        // The reading's own window decides, judged by its own partition's watermark
        // (the same verdict live and when catching up after a restart, whatever the
        // interleaving of partitions). A reading too late for it counts nowhere (its
        // dead letter is the record of it), not even in a longer window.
        let size = match kind {
            Kind::Traffic => TRAFFIC_WINDOW_MS,
            Kind::Air | Kind::Bin | Kind::Footfall => QUARTER_WINDOW_MS,
        };
        let wm = self.traffic.partition_watermark(p);
        let window = ts.div_euclid(size) * size;
        let lateness = i64::from(self.config.allowed_lateness_secs) * 1000;
        let outcome = self
            .seqs
            .observe(&r.reading.device_id, r.reading.seq, r.reading.ts);
        if let Some(watermark) = wm
            && window + size + lateness <= watermark
        {
            self.observe_all(p, offset, ts);
            // A second copy of a reading already counted (delivery is at least once;
            // a broker may store a retried batch twice) is not a late reading.
            if outcome == SeqOutcome::Duplicate {
                self.stats.duplicates += 1;
                return Admission::Duplicate;
            }
            self.stats.too_late += 1;
            return Admission::TooLate { window, watermark };
        }
        if outcome == SeqOutcome::Duplicate {
            // Counted once by the windows' own `seq` sets; device_health counts it.
            self.stats.duplicates += 1;
        }
        let id = self.ids.get(r);
        let admit = match kind {
            Kind::Traffic => self.traffic.add_keyed(
                p,
                offset,
                device,
                || id.device_arc(),
                ts,
                |s| _ = s.add_as(r, || id.clone()),
            ),
            _ => {
                self.traffic.observe(p, offset, ts);
                Admit::OnTime { window }
            }
        };
        let admit = if kind == Kind::Air {
            self.air_1h.add_keyed(
                p,
                offset,
                device,
                || id.device_arc(),
                ts,
                |s| _ = s.add_as(r, || id.clone()),
            );
            self.air_15m.add_keyed(
                p,
                offset,
                device,
                || id.device_arc(),
                ts,
                |s| _ = s.add_as(r, || id.clone()),
            )
        } else {
            self.air_1h.observe(p, offset, ts);
            self.air_15m.observe(p, offset, ts);
            admit
        };
        let admit = if kind == Kind::Bin {
            self.bins.add_keyed(
                p,
                offset,
                device,
                || id.device_arc(),
                ts,
                |s| _ = s.add_as(r, || id.clone()),
            )
        } else {
            self.bins.observe(p, offset, ts);
            admit
        };
        let admit = if kind == Kind::Footfall {
            self.add_footfall(p, offset, r)
        } else {
            self.observe_footfall(p, offset, ts);
            admit
        };
        self.health.add_keyed(
            p,
            offset,
            device,
            || id.device_arc(),
            ts,
            |s| {
                s.add_reading(r);
                s.add_seq_outcome(outcome);
            },
        );
        match admit {
            Admit::OnTime { .. } => Admission::OnTime,
            Admit::Late { .. } => {
                self.stats.late += 1;
                Admission::Late
            }
            // On time for its partition, but its window was dropped already: the
            // partition had been idle while the others moved on.
            Admit::TooLate { window, watermark } => {
                self.stats.too_late += 1;
                Admission::TooLate { window, watermark }
            }
        }
    }

    fn observe_all(&mut self, p: u32, offset: Option<i64>, ts: i64) {
        each_windows!(self, w => w.observe(p, offset, ts));
    }

    fn observe_footfall(&mut self, p: u32, offset: Option<i64>, ts: i64) {
        for w in [&mut self.foot_15m, &mut self.foot_1h] {
            w.observe(p, offset, ts);
        }
    }

    /// Adds a footfall reading to its room and its venue, at both lengths; the
    /// room's quarter hour decides the admission.
    fn add_footfall(&mut self, p: u32, offset: Option<i64>, r: &EnrichedReading) -> Admit {
        let ts = r.reading.ts.millis();
        let (venue, room) = match &r.asset.attrs {
            AssetAttrs::Footfall { venue, room } => (venue.clone(), room.clone()),
            _ => (String::new(), String::new()),
        };
        let room_key = FootKey {
            venue: venue.clone(),
            room: Some(room),
        };
        let venue_key = FootKey { venue, room: None };
        let a = self
            .foot_15m
            .add(p, offset, &room_key, ts, |s| _ = s.add(r));
        self.foot_15m
            .add(p, offset, &venue_key, ts, |s| _ = s.add(r));
        self.foot_1h.add(p, offset, &room_key, ts, |s| _ = s.add(r));
        self.foot_1h
            .add(p, offset, &venue_key, ts, |s| _ = s.add(r));
        a
    }

    /// Offers a refusal of a message from `device_id` (its kind, if known), received
    /// at `received_ms`, for `device_health`. Refusals the windows no longer take are
    /// ignored: the dead letter itself is the record of them.
    pub fn add_refusal(
        &mut self,
        source: Source,
        offset: Option<i64>,
        device_id: &str,
        kind: Option<Kind>,
        reason: RefusalReason,
        received_ms: i64,
    ) {
        self.stats.refusals += 1;
        let p = source.stream();
        let ids = &self.ids;
        self.health.add_keyed(
            p,
            offset,
            device_id,
            || ids.device(device_id),
            received_ms,
            |s| s.add_refusal(kind, reason),
        );
        if let Source::Readings(_) = source {
            // A replay's refusals share the readings' stream: keep every engine in step.
            self.traffic.observe(p, offset, received_ms);
            self.air_15m.observe(p, offset, received_ms);
            self.air_1h.observe(p, offset, received_ms);
            self.bins.observe(p, offset, received_ms);
            self.observe_footfall(p, offset, received_ms);
        }
    }

    /// Announces a source the engine will read (a consumer's assignment): the
    /// watermarks wait for its first record, or for [`Engine::set_idle`], so a
    /// consumer catching up never judges one partition by another's progress.
    /// Dead-letter sources only hold `device_health` back.
    pub fn expect(&mut self, source: Source) {
        let p = source.stream();
        self.health.register(p);
        if let Source::Readings(_) = source {
            self.traffic.register(p);
            self.air_15m.register(p);
            self.air_1h.register(p);
            self.bins.register(p);
            self.foot_15m.register(p);
            self.foot_1h.register(p);
        }
    }

    /// A record at `offset` that feeds no window (a dead letter without a device, an
    /// undecodable record): it only moves the commit point on.
    pub fn skip(&mut self, source: Source, offset: Option<i64>) {
        let Some(o) = offset else { return };
        let p = source.stream();
        self.traffic.pass(p, o);
        self.air_15m.pass(p, o);
        self.air_1h.pass(p, o);
        self.bins.pass(p, o);
        self.foot_15m.pass(p, o);
        self.foot_1h.pass(p, o);
        self.health.pass(p, o);
    }

    /// `source` has had no records for a while: stop it holding the watermark back.
    pub fn set_idle(&mut self, source: Source) {
        let p = source.stream();
        each_windows!(self, w => w.set_idle(p));
    }

    /// `source`, idle, has records waiting: it holds the watermarks again from now,
    /// before its next record arrives.
    pub fn set_active(&mut self, source: Source) {
        let p = source.stream();
        each_windows!(self, w => w.set_active(p));
    }

    /// The rows of every window the watermark has closed, and every correction.
    pub fn advance(&mut self) -> Vec<Row> {
        let mut out = Vec::new();
        self.collect(false, usize::MAX, &mut out);
        out
    }

    /// End of input: closes and emits every window. Once it has, everything up to the
    /// newest event time offered is final ([`Engine::final_watermark`]).
    pub fn finish(&mut self) -> Vec<Row> {
        let mut out = Vec::new();
        self.collect(true, usize::MAX, &mut out);
        out
    }

    /// [`Engine::advance`] a chunk at a time: pushes the rows of at most `limit`
    /// windows onto `out` and says whether it is done. A quarter hour closes every
    /// device's windows at once; taking them a chunk at a time, each written before
    /// the next, keeps one chunk of rows in memory rather than every device's.
    pub fn advance_into(&mut self, limit: usize, out: &mut Vec<Row>) -> bool {
        self.collect(false, limit, out)
    }

    /// [`Engine::finish`] a chunk at a time, as [`Engine::advance_into`].
    pub fn finish_into(&mut self, limit: usize, out: &mut Vec<Row>) -> bool {
        self.collect(true, limit, out)
    }

    fn collect(&mut self, finish: bool, limit: usize, out: &mut Vec<Row>) -> bool {
        /// One measurement's emissions while `budget` lasts; true when it is done.
        fn step<K: Eq + std::hash::Hash + Clone, A: Default + Clone>(
            w: &mut Windows<K, A>,
            finish: bool,
            budget: &mut usize,
            mut f: impl FnMut(Emission<&K, &A>),
        ) -> bool {
            let mut n = 0;
            let counted = |e: Emission<&K, &A>| {
                n += 1;
                f(e);
            };
            let done = if finish {
                w.finish_with(*budget, counted)
            } else {
                w.advance_with(*budget, counted)
            };
            *budget -= n;
            done
        }
        let watermark_now = self.watermark();
        let lateness = i64::from(self.config.allowed_lateness_secs) * 1000;
        let resume = &self.resume;
        let mut stats = self.stats;
        let mut keep = |row: Option<Row>, window: i64, size: i64, e: (EmissionKind, u32)| {
            let Some(row) = row else { return };
            let (kind, partition) = e;
            if resume
                .get(&(partition & !DEAD_LETTER_BIT))
                .is_some_and(|w| window + size + lateness <= *w)
            {
                stats.suppressed += 1;
                return;
            }
            match kind {
                EmissionKind::First => stats.emitted += 1,
                EmissionKind::Update => stats.re_emitted += 1,
            }
            out.push(row);
        };
        let rule = self.config.congestion;
        let mut budget = limit;
        let b = &mut budget;
        let (air_history, bin_history) = (&mut self.air_history, &mut self.bin_history);
        let done = step(&mut self.traffic, finish, b, |e| {
            keep(
                e.state.row(e.window, &rule),
                e.window,
                TRAFFIC_WINDOW_MS,
                (e.kind, e.partition),
            );
        }) && step(&mut self.air_15m, finish, b, |e| {
            keep(
                e.state.row_15m(e.window),
                e.window,
                QUARTER_WINDOW_MS,
                (e.kind, e.partition),
            );
        }) && step(&mut self.air_1h, finish, b, |e| {
            // History first, whether or not the row is written.
            let row = air_history.close_hour(e.window, e.state);
            keep(row, e.window, HOUR_MS, (e.kind, e.partition));
        }) && step(&mut self.bins, finish, b, |e| {
            let row = bin_history.close_window(e.window, QUARTER_WINDOW_MS, e.state);
            keep(row, e.window, QUARTER_WINDOW_MS, (e.kind, e.partition));
        }) && [
            (&mut self.foot_15m, WindowTag::Min15),
            (&mut self.foot_1h, WindowTag::Hour1),
        ]
        .into_iter()
        .all(|(w, tag)| {
            step(w, finish, b, |e| {
                let row = match e.key.room {
                    Some(_) => e.state.row(e.window, tag),
                    None => e.state.venue_row(e.window, tag),
                };
                keep(row, e.window, tag.size_ms(), (e.kind, e.partition));
            })
        }) && step(&mut self.health, finish, b, |e| {
            keep(
                e.state.row(e.key, e.window, QUARTER_WINDOW_MS),
                e.window,
                QUARTER_WINDOW_MS,
                (e.kind, e.partition),
            );
        });
        self.stats = stats;
        if done && watermark_now.is_some() {
            self.emitted_to = self.emitted_to.max(watermark_now);
        }
        if done && finish {
            // Every window is out: time is final up to the end of the input.
            self.emitted_to = self.emitted_to.max(self.newest_event);
        }
        if done && let Some(wm) = self.watermark() {
            self.retention
                .prune(wm.saturating_sub(self.history_span_ms()));
        }
        done
    }

    /// The offset `source` may be committed to (the next one to read after a
    /// restart): below everything a window that can change holds and below the
    /// history span. `None` if the engine has seen nothing from it.
    pub fn commit_point(&self, source: Source) -> Option<i64> {
        let p = source.stream();
        let windows = [
            self.traffic.low_water(p),
            self.air_15m.low_water(p),
            self.air_1h.low_water(p),
            self.bins.low_water(p),
            self.foot_15m.low_water(p),
            self.foot_1h.low_water(p),
            self.health.low_water(p),
        ];
        windows
            .into_iter()
            .chain([self.retention.low(p)])
            .flatten()
            .min()
    }
}

#[cfg(test)]
mod tests;
