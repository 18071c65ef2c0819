//! What `kerbside demo` reports (`report.json` and the terminal), read from the
//! services' own metrics: ingest's verdicts from ingest's counters, the windows'
//! from the aggregator's. The demo's test checks them against the simulator's ground
//! truth and the files written, so a stage that miscounts shows.

use std::collections::BTreeMap;

use kerbside_aggregate::AggregateMetrics;
use kerbside_ingest::IngestMetrics;
use prometheus::IntCounterVec;
use prometheus::core::Collector as _;
use serde::Serialize;

/// What the demo did, also written to `report.json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DemoReport {
    /// The town, its devices, the seed and the simulated period.
    pub town: TownReport,
    /// Messages the simulated devices published (every one acknowledged).
    pub published: u64,
    /// What the simulator says the pipeline owes those messages (`truth.json` has
    /// the whole ground truth).
    pub simulator: SimulatorReport,
    /// What ingest did with them.
    pub ingest: IngestReport,
    /// What the windows did with the readings.
    pub windows: WindowsReport,
    /// Alerts raised and cleared, by rule.
    pub alerts: BTreeMap<String, AlertCount>,
    /// Tomorrow's rounds (`rounds/summary.json`), or why there are none.
    pub rounds: serde_json::Value,
    /// The period's open data (`open-data/`): rows and cells withheld per table, or
    /// why there is none.
    pub open_data: serde_json::Value,
    /// The day's data-quality scorecard (`quality/`): devices and the five worst, or
    /// why there is none.
    pub quality: serde_json::Value,
    /// Where things are.
    pub paths: BTreeMap<String, String>,
    /// Wall-clock seconds: the simulated period, and the whole run.
    pub seconds: BTreeMap<String, f64>,
}

/// The simulated town.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TownReport {
    /// Its name.
    pub name: String,
    /// Devices by kind.
    pub devices: BTreeMap<String, usize>,
    /// The seed.
    pub seed: u64,
    /// Simulated start and end, RFC 3339.
    pub period: (String, String),
    /// How fast simulated time ran.
    pub speed: String,
}

/// The simulator's expectations.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SimulatorReport {
    /// Readings the pipeline must accept.
    pub valid_readings: u64,
    /// Messages it must refuse, by reason (the injected faults).
    pub refused: BTreeMap<String, u64>,
}

/// Ingest's verdicts.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    /// Messages ingest received.
    pub received: u64,
    /// Readings accepted into `kerbside.readings.v1`.
    pub accepted: u64,
    /// Device status messages (not readings).
    pub status: u64,
    /// Refused into `kerbside.deadletter.v1`, by reason.
    pub refused: BTreeMap<String, u64>,
}

/// The windows' verdicts on the accepted readings, and what they wrote.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WindowsReport {
    /// Readings counted in a window still open.
    pub on_time: u64,
    /// Readings that corrected a window already written (within the lateness allowed).
    pub late_corrections: u64,
    /// Copies of readings already counted.
    pub duplicates: u64,
    /// Readings whose window was final: dead-lettered as `too_late`.
    pub too_late: u64,
    /// Records of the readings topic that were not readings.
    pub undecodable: u64,
    /// Rows written to the store, by measurement.
    pub rows: BTreeMap<String, u64>,
    /// Rows the store refused (dead-lettered as `store_refused`).
    pub store_refused: u64,
}

/// One rule's alerts.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct AlertCount {
    /// Incidents raised.
    pub raised: u64,
    /// Incidents cleared.
    pub cleared: u64,
}

impl IngestReport {
    /// Ingest's verdicts, from its metrics.
    pub(super) fn from_metrics(m: &IngestMetrics) -> Self {
        Self {
            received: m.messages_received.get(),
            accepted: by_label(&m.readings_accepted).values().sum(),
            status: by_label(&m.status_updates).values().sum(),
            refused: by_label(&m.refused),
        }
    }
}

impl WindowsReport {
    /// The windows' verdicts, from the aggregator's metrics.
    pub(super) fn from_metrics(m: &AggregateMetrics) -> Self {
        let outcome = |o: &str| m.readings.with_label_values(&[o]).get();
        Self {
            on_time: outcome("on_time"),
            late_corrections: outcome("late"),
            duplicates: outcome("duplicate"),
            too_late: outcome("too_late"),
            undecodable: m.undecodable.get(),
            rows: by_label(&m.emitted),
            store_refused: m
                .dead_letters
                .with_label_values(&[kerbside_reading::RefusalReason::StoreRefused.code()])
                .get(),
        }
    }
}

/// A counter vector's children with one label, by that label's value; zeros left
/// out.
pub(super) fn by_label(v: &IntCounterVec) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for m in v.collect().iter().flat_map(|f| f.get_metric()) {
        let n = m.get_counter().get_value() as u64;
        if n == 0 {
            continue;
        }
        let label = m
            .get_label()
            .first()
            .map(|l| l.value().to_owned())
            .unwrap_or_default();
        *out.entry(label).or_default() += n;
    }
    out
}

/// Prints the report for a person.
pub(super) fn print_report(r: &DemoReport) {
    println!();
    println!(
        "kerbside demo: {} ({} devices, seed {}), {} .. {} at {}",
        r.town.name,
        r.town.devices.values().sum::<usize>(),
        r.town.seed,
        r.town.period.0,
        r.town.period.1,
        r.town.speed
    );
    println!(
        "  published {} messages; ingest received {}: {} readings accepted, {} status, {} refused",
        r.published,
        r.ingest.received,
        r.ingest.accepted,
        r.ingest.status,
        r.ingest.refused.values().sum::<u64>()
    );
    println!(
        "    (the simulator sent {} valid readings and {} faults to refuse)",
        r.simulator.valid_readings,
        r.simulator.refused.values().sum::<u64>()
    );
    for (reason, n) in &r.ingest.refused {
        println!("    refused {reason:<22} {n}");
    }
    let w = &r.windows;
    println!(
        "  windows: {} on time, {} late corrections, {} duplicates, {} too late (dead-lettered)",
        w.on_time, w.late_corrections, w.duplicates, w.too_late
    );
    for (m, n) in &w.rows {
        println!("    {m:<14} {n} rows");
    }
    let raised: u64 = r.alerts.values().map(|a| a.raised).sum();
    let cleared: u64 = r.alerts.values().map(|a| a.cleared).sum();
    println!("  alerts: {raised} raised, {cleared} cleared");
    for (rule, a) in &r.alerts {
        println!("    {rule:<16} {} raised, {} cleared", a.raised, a.cleared);
    }
    if let Some(p) = r.rounds.get("plan") {
        println!(
            "  rounds for {}: {} of {} bins, {} vehicles, {} trips, {} km",
            r.rounds["date"].as_str().unwrap_or("?"),
            r.rounds["bins_selected"],
            r.rounds["bins_known"],
            p["vehicles"],
            p["trips"],
            p["distance_km"]
        );
        if let Some(f) = r.rounds.get("fixed_schedule").filter(|f| !f.is_null()) {
            println!(
                "    collecting every bin instead: {} visits, {} km",
                f["visits"], f["distance_km"]
            );
            let saving = |k: &str, unit: &str, decimals: usize| {
                let (plan, fixed) = (p[k].as_f64().unwrap_or(0.0), f[k].as_f64().unwrap_or(0.0));
                let pct = if fixed > 0.0 {
                    100.0 * (1.0 - plan / fixed)
                } else {
                    0.0
                };
                format!("{:.decimals$} {unit} ({pct:.0} %)", fixed - plan)
            };
            println!(
                "    saving against that fixed schedule: {}, {}, {}",
                saving("visits", "visits", 0),
                saving("distance_km", "km", 1),
                saving("vehicle_hours", "vehicle hours", 1)
            );
        }
    }
    if let Some(tables) = r.open_data.get("tables").and_then(|t| t.as_object()) {
        println!("  open data ({} tables):", tables.len());
        for (name, t) in tables {
            println!(
                "    {name:<20} {} rows, {} cells withheld",
                t["rows"], t["withheld"]
            );
        }
    }
    if let Some(worst) = r.quality.get("worst").and_then(|w| w.as_array()) {
        println!(
            "  data quality ({} devices), the worst:",
            r.quality["devices"]
        );
        for d in worst {
            println!(
                "    {:<14} {:<9} score {}",
                d["device_id"].as_str().unwrap_or_default(),
                d["kind"].as_str().unwrap_or_default(),
                d["score"]
            );
        }
    }
    for (what, s) in &r.seconds {
        println!("  {what}: {s:.1} s");
    }
    for (what, p) in &r.paths {
        println!("  {what:<13} {p}");
    }
}
