//! The alert engine: closed-window rows in, lifecycle events out. Pure: no I/O, no
//! clock. The aggregator's observer feeds it every row it writes and tells it how far
//! event time has closed; the caller publishes what comes out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kerbside_measure::{BinFillRow, DeviceHealthRow};
use kerbside_store::Row;
use rustc_hash::FxHashMap;

use crate::config::AlertsConfig;
use crate::event::{AlertEvent, AlertState, Rule, Severity};
use crate::health::{Reporter, last_seen_ms};
use crate::hysteresis::{Basis, Fact, Span, Streaks, Subject, Verdict};
use crate::summary;

use kerbside_aggregate::measurements::{
    AIR_QUALITY, BIN_FILL, DEVICE_HEALTH, TRAFFIC_FLOW, WindowTag,
};

/// Counts since the engine was made (`active` is the current number).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertStats {
    /// Rows offered to [`AlertEngine::evaluate`].
    pub rows: u64,
    /// Rows at least one rule evaluated.
    pub evaluated: u64,
    /// Rows at least one rule ignored because their window was not newer than the
    /// last one it evaluated for that device (a re-emitted window).
    pub stale: u64,
    /// Rows no enabled rule reads (other measurements, `15m` air rows, rows without a
    /// `device_id` tag).
    pub ignored: u64,
    /// Incidents raised.
    pub raised: u64,
    /// Updates emitted.
    pub updated: u64,
    /// Incidents cleared.
    pub cleared: u64,
    /// Incidents active now, per rule (every rule present).
    pub active: BTreeMap<Rule, u64>,
    /// Devices the silence check looked at: only those whose deadline had passed, so
    /// it grows with the devices falling silent, never with the fleet.
    pub silence_checked: u64,
}

/// What the engine keeps of every device it has seen a row of.
#[derive(Debug, Clone)]
struct DeviceState {
    /// The newest window start each rule evaluated (by `Rule as usize`). A row not
    /// newer is a re-emission, stale for that rule. Per rule, not per measurement:
    /// after a restore each rule's streak is rebuilt from its own last event on.
    last_ms: [i64; Rule::ALL.len()],
    /// The silent-device rule's view of it.
    reporter: Reporter,
    /// Its key in [`AlertEngine::due`]: the event time past which, once windows have
    /// closed up to it, the device has been silent for longer than its limit.
    deadline: Option<i64>,
}

impl Default for DeviceState {
    fn default() -> Self {
        Self {
            last_ms: [i64::MIN; Rule::ALL.len()],
            reporter: Reporter::default(),
            deadline: None,
        }
    }
}

/// Every rule's state: per device, and per rule and device for the subjects that
/// are not quiet (an incident or a streak under way). Device ids are shared
/// (`Arc<str>`) between the maps.
#[derive(Debug, Clone)]
pub struct AlertEngine {
    config: AlertsConfig,
    devices: FxHashMap<Arc<str>, DeviceState>,
    /// Devices by the deadline of their silence (last reading + its limit), soonest
    /// first: `advance` looks only at those past it, not at the whole fleet.
    due: BTreeSet<(i64, Arc<str>)>,
    /// Indexed by `Rule as usize`; keyed by device id; quiet subjects are left out.
    subjects: [BTreeMap<Arc<str>, Subject>; Rule::ALL.len()],
    /// The `kind` tags seen (a handful), shared by every device of the kind.
    kinds: Vec<Arc<str>>,
    stats: AlertStats,
}

impl AlertEngine {
    /// An engine with no state. Check `config.problems()` first: invalid thresholds
    /// give odd (never panicking) behaviour.
    pub fn new(config: AlertsConfig) -> Self {
        Self {
            config,
            devices: FxHashMap::default(),
            due: BTreeSet::new(),
            subjects: Default::default(),
            kinds: Vec::new(),
            stats: AlertStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &AlertsConfig {
        &self.config
    }

    /// What the aggregator's observer does with a write: evaluates every row, then
    /// advances to `closed_until` if given ([`AlertEngine::evaluate`],
    /// [`AlertEngine::advance`]); appends the events to `out`.
    pub fn written(&mut self, rows: &[Row], closed_until: Option<i64>, out: &mut Vec<AlertEvent>) {
        for row in rows {
            self.evaluate(row, out);
        }
        if let Some(t) = closed_until {
            self.advance(t, out);
        }
    }

    /// Evaluates one closed (or re-emitted) window's row; appends the events it causes
    /// to `out`. Rows of measurements no rule reads are counted and ignored.
    pub fn evaluate(&mut self, row: &Row, out: &mut Vec<AlertEvent>) {
        self.stats.rows += 1;
        let Some(device) = row.tag_value("device_id") else {
            self.stats.ignored += 1;
            return;
        };
        let cfg = &self.config;
        let mut jobs: [Option<(Rule, Verdict, Streaks)>; 3] = [None; 3];
        let mut silent = false;
        match row.measurement {
            TRAFFIC_FLOW if cfg.congestion.enabled => {
                jobs[0] = Some((
                    Rule::Congestion,
                    cfg.congestion.verdict(row),
                    cfg.congestion.streaks(),
                ));
            }
            AIR_QUALITY
                if cfg.air_quality.enabled
                    && row.tag_value("window") == Some(WindowTag::Hour1.as_str()) =>
            {
                jobs[0] = Some((
                    Rule::AirQuality,
                    cfg.air_quality.verdict(row),
                    cfg.air_quality.streaks(),
                ));
            }
            BIN_FILL => {
                let bin = BinFillRow::read(row).unwrap_or_default();
                if cfg.bin_overflow.enabled {
                    let v = cfg.bin_overflow.verdict(&bin);
                    jobs[0] = Some((Rule::BinOverflow, v, cfg.bin_overflow.streaks()));
                }
                if cfg.bin_fire.enabled {
                    let v = cfg.bin_fire.verdict(bin.fire, Severity::Critical);
                    jobs[1] = Some((Rule::BinFire, v, cfg.bin_fire.streaks()));
                }
                if cfg.bin_tilt.enabled {
                    let v = cfg.bin_tilt.verdict(bin.tilt, Severity::Warning);
                    jobs[2] = Some((Rule::BinTilt, v, cfg.bin_tilt.streaks()));
                }
            }
            DEVICE_HEALTH => {
                silent = cfg.device_silent.enabled;
                if cfg.battery_low.enabled {
                    jobs[0] = Some((
                        Rule::BatteryLow,
                        cfg.battery_low.verdict(row),
                        cfg.battery_low.streaks(),
                    ));
                }
            }
            _ => {}
        }
        if !silent && jobs.iter().all(Option::is_none) {
            self.stats.ignored += 1;
            return;
        }
        let (key, state) = self.device(device);
        // Admitted per rule: a row not newer than what a rule evaluated is stale.
        let mut admit = |rule: Rule| {
            let last = &mut state.last_ms[rule as usize];
            let fresh = row.time_ms > *last;
            if fresh {
                *last = row.time_ms;
            }
            fresh
        };
        let silent = silent.then(|| admit(Rule::DeviceSilent));
        let jobs = jobs.map(|j| j.map(|(rule, v, s)| (rule, v, s, admit(rule))));
        let admitted = jobs.iter().flatten().map(|j| j.3).chain(silent);
        let (evaluated, stale) = admitted.fold((false, false), |(e, s), a| (e || a, s || !a));
        self.stats.evaluated += u64::from(evaluated);
        self.stats.stale += u64::from(stale);
        if silent == Some(true) {
            self.silent_row(row, &key, out);
        }
        for (rule, verdict, streaks, fresh) in jobs.into_iter().flatten() {
            if fresh {
                self.step(rule, row, &key, verdict, streaks, out);
            }
        }
    }

    /// Tells the engine that every `device_health` window ending at or before
    /// `closed_until_ms` has been fed; raises `device_silent` for every device whose
    /// silence now exceeds its limit (see [`crate::DeviceSilentConfig`]). Silence is
    /// measured to the end of the last such window, not to `closed_until_ms`: what a
    /// device sent after that is in a window not yet closed, so not yet known.
    pub fn advance(&mut self, closed_until_ms: i64, out: &mut Vec<AlertEvent>) {
        let window = self.config.window_ms(Rule::DeviceSilent);
        let closed_until_ms = closed_until_ms.saturating_sub(closed_until_ms.rem_euclid(window));
        let cfg = &self.config.device_silent;
        if !cfg.enabled {
            return;
        }
        let subjects = &mut self.subjects[Rule::DeviceSilent as usize];
        // Past its deadline: closed_until_ms - seen > limit.
        while self.due.first().is_some_and(|(d, _)| *d < closed_until_ms) {
            let (_, device) = self.due.pop_first().expect("just looked");
            let device = &device;
            self.stats.silence_checked += 1;
            let Some(state) = self.devices.get_mut(device) else {
                continue;
            };
            // Back in the queue when it reports again (`silent_row`).
            state.deadline = None;
            let reporter = &state.reporter;
            let (Some(seen), Some(interval)) = (reporter.last_seen_ms, reporter.interval_ms())
            else {
                continue;
            };
            let limit = cfg.silent_after_ms(interval);
            let silence = closed_until_ms.saturating_sub(seen);
            debug_assert!(silence > limit, "queued under a stale deadline");
            let subject = subjects.entry(Arc::clone(device)).or_default();
            if subject.active().is_some() {
                continue;
            }
            let fact = Fact::new(
                Some(silence as f64 / 1000.0),
                Some(limit as f64 / 1000.0),
                Basis::SilenceSecs {
                    interval_s: Some(interval as f64 / 1000.0),
                },
            );
            let rule = Rule::DeviceSilent;
            let mut labels = BTreeMap::from([("device_id".to_owned(), device.to_string())]);
            if let Some(kind) = &reporter.kind {
                labels.insert("kind".to_owned(), kind.to_string());
            }
            let event = AlertEvent {
                id: format!("{rule}/{device}"),
                rule,
                state: AlertState::Raised,
                severity: Severity::Warning,
                summary: summary::sentence(rule, AlertState::Raised, &labels, &fact),
                labels,
                value: fact.value,
                threshold: fact.threshold,
                starts_at_ms: seen,
                at_ms: closed_until_ms,
                ends_at_ms: None,
                previous_severity: None,
            };
            let event = subject.start(event, Severity::Warning as u8);
            self.stats.raised += 1;
            out.push(event);
        }
    }

    /// The latest event of every active incident (to send to Alertmanager again
    /// before its `endsAt` passes), by rule then device.
    pub fn active(&self) -> impl Iterator<Item = &AlertEvent> {
        self.subjects
            .iter()
            .flat_map(|by_device| by_device.values())
            .filter_map(Subject::active)
    }

    /// Rebuilds the active set from events published before (the alerts topic read
    /// back after a restart, oldest first; a compacted topic's latest event per id is
    /// enough). An incident whose latest event is `raised` or `updated` is active
    /// again, so it is neither raised a second time nor forgotten; and the window
    /// that caused each event counts as evaluated, so rows fed again up to it are
    /// stale. Events of disabled rules are skipped.
    pub fn restore(&mut self, events: impl IntoIterator<Item = AlertEvent>) {
        for event in events {
            let rule = event.rule;
            if !self.config.enabled(rule) {
                continue;
            }
            let w = self.config.window_ms(rule);
            let kind = event.labels.get("kind").map(|k| self.kind(k));
            let (key, state) = self.device(event.device_id());
            let last_window_ms = if rule == Rule::DeviceSilent && event.is_active() {
                // Raised by `advance`, not by a row: the device's last reading was in
                // the window holding `starts_at_ms`; nothing came after it.
                let reporter = &mut state.reporter;
                reporter.last_seen_ms = Some(
                    reporter
                        .last_seen_ms
                        .map_or(event.starts_at_ms, |s| s.max(event.starts_at_ms)),
                );
                if kind.is_some() {
                    reporter.kind = kind;
                }
                let start = event.starts_at_ms;
                start.saturating_sub(start.rem_euclid(w.max(1)))
            } else {
                event.at_ms.saturating_sub(w)
            };
            let last = &mut state.last_ms[rule as usize];
            *last = (*last).max(last_window_ms);
            self.reschedule(&key);
            let level = match (rule, event.value) {
                (Rule::AirQuality, Some(daqi)) => crate::air::band(daqi),
                (Rule::AirQuality, None) if event.severity == Severity::Critical => 3,
                (Rule::AirQuality, None) => 2,
                _ => event.severity as u8,
            };
            let subjects = &mut self.subjects[rule as usize];
            if event.is_active() {
                subjects.entry(key).or_default().restore(event, level);
            } else {
                subjects.remove(&key);
            }
        }
    }

    /// Counts so far, and the incidents active now.
    pub fn stats(&self) -> AlertStats {
        let mut stats = self.stats.clone();
        stats.active = Rule::ALL
            .iter()
            .map(|&rule| {
                let n = self.subjects[rule as usize]
                    .values()
                    .filter(|s| s.active().is_some())
                    .count();
                (rule, n as u64)
            })
            .collect();
        stats
    }

    /// The state of `device` (made if new) and its shared id.
    fn device(&mut self, device: &str) -> (Arc<str>, &mut DeviceState) {
        if !self.devices.contains_key(device) {
            self.devices
                .insert(Arc::from(device), DeviceState::default());
        }
        let key = Arc::clone(self.devices.get_key_value(device).expect("just inserted").0);
        (key, self.devices.get_mut(device).expect("just inserted"))
    }

    /// Puts `device` in [`Self::due`] under the deadline its last reading and interval
    /// give now (out of it while either is unknown or the rule is off).
    fn reschedule(&mut self, device: &Arc<str>) {
        let cfg = &self.config.device_silent;
        let Some(state) = self.devices.get_mut(device) else {
            return;
        };
        let r = &state.reporter;
        let deadline = match (cfg.enabled, r.last_seen_ms, r.interval_ms()) {
            (true, Some(seen), Some(interval)) => {
                Some(seen.saturating_add(cfg.silent_after_ms(interval)))
            }
            _ => None,
        };
        if deadline == state.deadline {
            return;
        }
        if let Some(old) = state.deadline.take() {
            self.due.remove(&(old, Arc::clone(device)));
        }
        if let Some(d) = deadline {
            self.due.insert((d, Arc::clone(device)));
        }
        state.deadline = deadline;
    }

    /// The shared copy of a `kind` tag.
    fn kind(&mut self, kind: &str) -> Arc<str> {
        if let Some(k) = self.kinds.iter().find(|k| &***k == kind) {
            return Arc::clone(k);
        }
        let k: Arc<str> = Arc::from(kind);
        self.kinds.push(Arc::clone(&k));
        k
    }

    /// Runs one verdict through the subject of `rule` on `device` (kept only while
    /// it is not quiet).
    #[allow(clippy::too_many_arguments)]
    fn run(
        &mut self,
        rule: Rule,
        device: &Arc<str>,
        verdict: Verdict,
        span: Span,
        streaks: Streaks,
        identity: impl FnOnce() -> (String, BTreeMap<String, String>),
        out: &mut Vec<AlertEvent>,
    ) {
        let subjects = &mut self.subjects[rule as usize];
        let mut subject = subjects.remove(device).unwrap_or_default();
        let event = subject.step(rule, verdict, span, streaks, identity);
        if !subject.is_quiet() {
            subjects.insert(Arc::clone(device), subject);
        }
        if let Some(event) = event {
            self.count(&event);
            out.push(event);
        }
    }

    /// Runs one row-driven rule on `row`.
    fn step(
        &mut self,
        rule: Rule,
        row: &Row,
        device: &Arc<str>,
        verdict: Verdict,
        streaks: Streaks,
        out: &mut Vec<AlertEvent>,
    ) {
        let span = Span {
            start_ms: row.time_ms,
            end_ms: row.time_ms.saturating_add(self.config.window_ms(rule)),
        };
        let identity = || (alert_id(rule, row, device), labels(row));
        self.run(rule, device, verdict, span, streaks, identity, out);
    }

    /// The silent-device rule on a `device_health` row: learn, and clear when the
    /// device reported.
    fn silent_row(&mut self, row: &Row, device: &Arc<str>, out: &mut Vec<AlertEvent>) {
        let rule = Rule::DeviceSilent;
        let w = self.config.window_ms(rule);
        let streaks = self.config.device_silent.streaks();
        let health = DeviceHealthRow::read(row).unwrap_or_default();
        let readings = health.readings.unwrap_or(0);
        let kind = (!health.kind.is_empty()).then(|| self.kind(&health.kind));
        let reporter = &mut self.devices.get_mut(device).expect("seen").reporter;
        if kind.is_some() {
            reporter.kind = kind;
        }
        if readings > 0
            && let Some(seen) = last_seen_ms(row, w)
        {
            reporter.observe(seen, readings);
            self.reschedule(device);
        }
        let active = self.subjects[rule as usize]
            .get(device)
            .and_then(Subject::active);
        let verdict = match active {
            Some(active) if readings > 0 => {
                let silent_ms = row.time_ms.saturating_sub(active.starts_at_ms).max(0);
                Verdict::Good {
                    fact: Fact::new(
                        Some(silent_ms as f64 / 1000.0),
                        None,
                        Basis::SilenceSecs { interval_s: None },
                    ),
                }
            }
            _ => Verdict::Neither,
        };
        let span = Span {
            start_ms: row.time_ms,
            end_ms: row.time_ms.saturating_add(w),
        };
        // Never `Bad`: only `advance` raises; the identity is never asked for.
        let identity = || (alert_id(rule, row, device), labels(row));
        self.run(rule, device, verdict, span, streaks, identity, out);
    }

    fn count(&mut self, event: &AlertEvent) {
        match event.state {
            AlertState::Raised => self.stats.raised += 1,
            AlertState::Updated => self.stats.updated += 1,
            AlertState::Cleared => self.stats.cleared += 1,
        }
    }
}

/// The alert id of `rule` on `device`: `congestion/<link>/<device>`,
/// `air_quality/<site>/<device>`, otherwise `<rule>/<device>`. A missing tag is `-`.
fn alert_id(rule: Rule, row: &Row, device: &str) -> String {
    let group = match rule {
        Rule::Congestion => Some(row.tag_value("link").unwrap_or("-")),
        Rule::AirQuality => Some(row.tag_value("site").unwrap_or("-")),
        _ => None,
    };
    match group {
        Some(g) => format!("{rule}/{g}/{device}"),
        None => format!("{rule}/{device}"),
    }
}

/// An alert's labels: the row's tags but `window`.
fn labels(row: &Row) -> BTreeMap<String, String> {
    row.tags
        .iter()
        .filter(|(k, _)| *k != "window")
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests;
