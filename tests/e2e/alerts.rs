//! The alert rules over a simulated day, offline (`kerbside replay`) with every
//! fault on: the scripted lane closure raises exactly one congestion alert, on its
//! link, within two windows of its start, cleared within three windows of its end,
//! and no other link alerts; the scripted pollution episode raises the DAQI alert
//! for its site in the first hour the written index reaches High.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::Command;
use std::sync::Arc;

use kerbside_alerts::{AlertEvent, AlertState, Rule};
use kerbside_reading::{DeadLetter, ReplayLine};
use kerbside_sim::{Generator, GroundTruth};
use kerbside_store::Value;

use crate::ingest::kerbside_bin;
use crate::replay::{accepted_readings, fleet, too_late_readings};
use crate::support::unique_name;

const TRAFFIC_WINDOW_MS: i64 = 5 * 60_000;
const HOUR_MS: i64 = 3_600_000;

/// A replayed day.
pub(crate) struct Replayed {
    pub fleet: Arc<kerbside_sim::Fleet>,
    /// The simulator's ground truth.
    pub truth: GroundTruth,
    /// What was replayed.
    pub lines: Vec<ReplayLine>,
    /// `alerts.jsonl`.
    pub events: Vec<AlertEvent>,
    /// The replay's output directory.
    pub out: std::path::PathBuf,
}

/// Replays `hours` of the test town with every fault.
pub(crate) fn replay_alerts(hours: u32) -> Replayed {
    let fleet = fleet(hours);
    let dir = std::env::temp_dir().join(unique_name("kerbside_e2e_alerts"));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("input.jsonl");
    let assets = dir.join("assets.csv");
    std::fs::write(&assets, fleet.register_csv()).unwrap();
    // The truth is recorded as the messages are made: take it after the last.
    let mut generator = Generator::new(Arc::clone(&fleet), &[]).unwrap();
    let lines: Vec<ReplayLine> = generator.by_ref().map(|m| m.to_replay_line()).collect();
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        for l in &lines {
            serde_json::to_writer(&mut f, l).unwrap();
            f.write_all(b"\n").unwrap();
        }
    }
    let truth = generator.truth();
    let out = dir.join("out");
    let status = Command::new(kerbside_bin())
        .args(["replay", "--quiet", "--input"])
        .arg(&input)
        .arg("--assets")
        .arg(&assets)
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "kerbside replay failed: {status}");
    let events = std::fs::read_to_string(out.join("alerts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| AlertEvent::from_json(l.as_bytes()).unwrap())
        .collect();
    Replayed {
        fleet,
        truth,
        lines,
        events,
        out,
    }
}

fn of_rule(events: &[AlertEvent], rule: Rule) -> Vec<&AlertEvent> {
    events.iter().filter(|e| e.rule == rule).collect()
}

#[test]
fn a_lane_closure_a_pollution_episode_and_silent_devices_raise_the_right_alerts() {
    let Replayed {
        fleet,
        truth,
        lines,
        events,
        out,
    } = replay_alerts(24);
    let incident = truth
        .incidents
        .first()
        .expect("test.toml scripts a lane closure");
    let (start, end) = (incident.start.millis(), incident.end.millis());

    // Congestion: one raise and one clear, on the closed link's counter only.
    let congestion = of_rule(&events, Rule::Congestion);
    let by_link = |state: AlertState| -> BTreeMap<String, Vec<&AlertEvent>> {
        let mut m: BTreeMap<String, Vec<&AlertEvent>> = BTreeMap::new();
        for e in congestion.iter().filter(|e| e.state == state) {
            m.entry(e.labels["link"].clone()).or_default().push(e);
        }
        m
    };
    let raised = by_link(AlertState::Raised);
    assert_eq!(
        raised.keys().collect::<Vec<_>>(),
        [&incident.link],
        "congestion raised on links other than the closed one: {raised:#?}"
    );
    let raise = raised[&incident.link].as_slice();
    assert_eq!(raise.len(), 1, "raised more than once: {raise:#?}");
    assert_eq!(raise[0].labels["device_id"], incident.counter);
    assert!(
        raise[0].at_ms > start && raise[0].at_ms <= start + 2 * TRAFFIC_WINDOW_MS,
        "raised at {} for an incident starting at {start}: not within two windows",
        raise[0].at_ms
    );
    let cleared = by_link(AlertState::Cleared);
    let clear = cleared
        .get(&incident.link)
        .map(Vec::as_slice)
        .unwrap_or_default();
    assert_eq!(clear.len(), 1, "cleared {} times: {clear:#?}", clear.len());
    assert!(
        clear[0].at_ms > end && clear[0].at_ms <= end + 3 * TRAFFIC_WINDOW_MS,
        "cleared at {} for an incident ending at {end}: not within three windows",
        clear[0].at_ms
    );
    assert_eq!(clear[0].id, raise[0].id);

    // Air quality: the episode's node, raised in the first hour whose written DAQI
    // is High or above; no other node.
    let episode = truth
        .episodes
        .first()
        .expect("test.toml scripts an episode");
    let air = of_rule(&events, Rule::AirQuality);
    let raised_air: Vec<_> = air
        .iter()
        .filter(|e| e.state == AlertState::Raised)
        .collect();
    assert!(!raised_air.is_empty(), "no DAQI alert at all");
    for e in &raised_air {
        assert!(
            episode.devices.contains(&e.labels["device_id"]),
            "DAQI alert for a node outside the episode: {e:#?}"
        );
    }
    let hourly = kerbside_store::read_points(&out, "air_quality", 0, i64::MAX).unwrap();
    for device in &episode.devices {
        let first_high = hourly
            .iter()
            .filter(|p| {
                p.tags.get("window").map(String::as_str) == Some("1h")
                    && p.tags.get("device_id") == Some(device)
                    && matches!(p.fields.get("daqi"), Some(Value::Int(i)) if *i >= 7)
            })
            .map(|p| p.time_ms)
            .min()
            .expect("the episode never reached DAQI High in the written rows");
        let first_raise = raised_air
            .iter()
            .filter(|e| &e.labels["device_id"] == device)
            .map(|e| e.at_ms)
            .min()
            .expect("no DAQI alert for the episode's node");
        assert_eq!(
            first_raise,
            first_high + HOUR_MS,
            "the DAQI alert is not for the first High hour"
        );
        assert!(
            first_high >= episode.start.millis(),
            "High before the episode started"
        );
    }

    // Silent devices. Every alert is for a real gap in the readings the pipeline
    // accepted (a scripted silence, or a run of refused and too-late messages),
    // measured from the device's last accepted reading; and every scripted silence
    // of two hours or more that ended before the last hour was alerted.
    let dls: Vec<DeadLetter> = std::fs::read_to_string(out.join("deadletter.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let accepted = accepted_readings(&fleet, &lines, &too_late_readings(&dls));
    let mut seen_at: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &accepted {
        seen_at
            .entry(r.reading.device_id.to_string())
            .or_default()
            .push(r.reading.ts.millis());
    }
    let silent = of_rule(&events, Rule::DeviceSilent);
    let raised_silent: Vec<_> = silent
        .iter()
        .filter(|e| e.state == AlertState::Raised)
        .collect();
    for e in &raised_silent {
        let device = &e.labels["device_id"];
        let limit_ms = (e.threshold.unwrap() * 1000.0) as i64;
        let times = &seen_at[device];
        let last = times.iter().copied().filter(|&t| t <= e.at_ms).max();
        assert_eq!(
            last,
            Some(e.starts_at_ms),
            "the silence of {device} is not measured from its last accepted reading: {e:#?}"
        );
        assert!(
            e.at_ms - e.starts_at_ms > limit_ms,
            "raised before the limit: {e:#?}"
        );
    }
    let day_end = fleet.scenario.start.millis() + 24 * HOUR_MS;
    for s in &truth.silences {
        let until = s.until.map_or(day_end, |u| u.millis());
        if until - s.from.millis() >= 2 * HOUR_MS && until <= day_end - HOUR_MS {
            assert!(
                raised_silent
                    .iter()
                    .any(|e| e.labels["device_id"] == s.device_id
                        && e.at_ms >= s.from.millis()
                        && e.at_ms <= until),
                "a scripted silence was not alerted: {s:?}"
            );
        }
    }
    eprintln!(
        "{} congestion, {} air quality, {} silence alerts raised; {} events in all",
        raise.len(),
        raised_air.len(),
        raised_silent.len(),
        events.len()
    );
    let _ = std::fs::remove_dir_all(out.parent().unwrap());
}
