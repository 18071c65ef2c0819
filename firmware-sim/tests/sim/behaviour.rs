//! Each kind behaves like the real thing: traffic peaks, bins fill and are
//! emptied, incidents slow links, episodes raise PM2.5, footfall pseudonyms rotate.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kerbside_reading::{
    EnrichedReading, EventTime, Kind, Measurement, ValidationConfig, Validator, Verdict,
};
use kerbside_sim::fleet::DeviceSpec;
use kerbside_sim::{FaultRates, Fleet, Generator, RoundStop, Scenario};

use crate::common::test_scenario;

/// The test scenario with no faults, `f` applied.
fn clean(f: impl FnOnce(&mut Scenario)) -> Scenario {
    let mut s = test_scenario();
    s.faults = FaultRates::default();
    f(&mut s);
    s.validate().unwrap();
    s
}

/// Removes the traffic counters and their incidents.
fn no_traffic(s: &mut Scenario) {
    s.traffic.count = 0;
    s.traffic.incidents.clear();
}

/// Removes the air nodes and their episodes.
fn no_air(s: &mut Scenario) {
    s.air.count = 0;
    s.air.episodes.clear();
}

/// Removes the bins and the venues (what a traffic or air test does not need).
fn no_bins_or_venues(s: &mut Scenario) {
    s.bins.count = 0;
    s.venues.clear();
}

/// Runs and decodes every message through the real validator (all must be accepted).
fn readings(s: Scenario, seed: u64, rounds: &[RoundStop]) -> (Arc<Fleet>, Vec<EnrichedReading>) {
    let fleet = Arc::new(Fleet::build(s, seed).unwrap());
    let v = Validator::new(
        ValidationConfig::default(),
        Arc::new(fleet.asset_register()),
    );
    let out = Generator::new(Arc::clone(&fleet), rounds)
        .unwrap()
        .map(|m| match v.validate(&m.topic, &m.payload, m.at).remove(0) {
            Verdict::Accepted(r) => r,
            other => panic!("clean message refused: {other:?}"),
        })
        .collect();
    (fleet, out)
}

fn hour(ts: EventTime) -> usize {
    (ts.millis().rem_euclid(86_400_000) / 3_600_000) as usize
}

fn vehicles_per_hour(start: &str) -> [u64; 24] {
    let s = clean(|s| {
        s.start = EventTime::parse_rfc3339(start).unwrap();
        no_bins_or_venues(s);
        no_air(s);
        s.traffic.count = 24;
        s.traffic.incidents.clear();
    });
    let (_, rs) = readings(s, 4, &[]);
    let mut per_hour = [0u64; 24];
    for r in rs {
        if let Measurement::Traffic(t) = &r.reading.data {
            // The interval ends at ts: attribute it to the hour it mostly covers.
            let mid = EventTime::from_millis(r.reading.ts.millis() - 30_000).unwrap();
            per_hour[hour(mid)] += t.lanes.iter().map(|l| u64::from(l.vehicles)).sum::<u64>();
        }
    }
    per_hour
}

fn argmax(v: &[u64], range: std::ops::Range<usize>) -> usize {
    range.max_by_key(|&h| v[h]).unwrap()
}

#[test]
fn weekday_traffic_peaks_in_the_morning_and_evening_and_is_lowest_at_night() {
    let v = vehicles_per_hour("2026-11-24T00:00:00Z"); // a Tuesday
    let am = argmax(&v, 0..12);
    let pm = argmax(&v, 12..24);
    let low = (0..24).min_by_key(|&h| v[h]).unwrap();
    assert!((7..10).contains(&am), "AM peak at {am}:00: {v:?}");
    assert!((16..19).contains(&pm), "PM peak at {pm}:00: {v:?}");
    assert!((1..5).contains(&low), "night minimum at {low}:00: {v:?}");
    assert!(v[am] > 10 * v[low], "peak {} vs night {}", v[am], v[low]);
}

#[test]
fn weekend_traffic_has_no_commuter_peaks() {
    let wd = vehicles_per_hour("2026-11-24T00:00:00Z");
    let we = vehicles_per_hour("2026-11-28T00:00:00Z"); // a Saturday
    let peak = argmax(&we, 0..24);
    assert!(
        (11..16).contains(&peak),
        "weekend peak at {peak}:00: {we:?}"
    );
    assert!(
        we[8] * 2 < wd[8],
        "08:00 weekend {} vs weekday {}",
        we[8],
        wd[8]
    );
    assert!(
        we[17] < wd[17],
        "17:00 weekend {} vs weekday {}",
        we[17],
        wd[17]
    );
}

fn fills(rs: &[EnrichedReading]) -> BTreeMap<String, Vec<(i64, f64)>> {
    let mut out: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for r in rs {
        if let Measurement::Bin(b) = &r.reading.data {
            out.entry(r.reading.device_id.to_string())
                .or_default()
                .push((r.reading.ts.millis(), b.fill_pct));
        }
    }
    out
}

/// A scenario of `count` bins only, with no dumping and no failing batteries.
fn bins_only(count: u32) -> Scenario {
    clean(|s| {
        s.bins.count = count;
        s.bins.dump_rate = 0.0;
        s.bins.failing_battery_share = 0.0;
        no_traffic(s);
        no_air(s);
        s.venues.clear();
    })
}

#[test]
fn bins_fill_between_collections_and_town_centre_bins_fill_faster() {
    let s = bins_only(200);
    let (fleet, rs) = readings(s, 8, &[]);
    let (mut centre, mut home) = (Vec::new(), Vec::new());
    let mut rose = 0;
    let by_bin = fills(&rs);
    for (id, f) in &by_bin {
        let (first, last) = (f.first().unwrap().1, f.last().unwrap().1);
        if last >= 99.0 {
            continue; // overflowing: the sensor cannot read higher
        }
        if last > first {
            rose += 1;
        }
        let gain = last - first;
        match &fleet.device(id).unwrap().spec {
            DeviceSpec::Bin(b) if b.centre => centre.push(gain),
            _ => home.push(gain),
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        rose as f64 >= 0.95 * (centre.len() + home.len()) as f64,
        "{rose} bins rose"
    );
    assert!(centre.len() >= 20 && home.len() >= 100);
    assert!(
        mean(&centre) > 2.0 * mean(&home),
        "centre gained {:.1} % a day, residential {:.1} %",
        mean(&centre),
        mean(&home)
    );
    assert!(
        mean(&home) > 5.0,
        "residential bins barely filled: {:.1}",
        mean(&home)
    );
}

#[test]
fn a_rounds_file_empties_the_listed_bins_when_the_round_arrives() {
    let s = bins_only(40);
    let csv = "device_id,arrival,vehicle\n\
               bin-0001,2026-11-23T12:00:00Z,rcv-1\n\
               bin-0002,2026-11-23T12:10:00Z,rcv-1\n\
               bin-0003,,rcv-1\n";
    let rounds = kerbside_sim::parse_rounds(csv).unwrap();
    let (_, rs) = readings(s.clone(), 9, &rounds);
    let by_bin = fills(&rs);
    let noon = EventTime::parse_rfc3339("2026-11-23T12:10:00Z")
        .unwrap()
        .millis();
    let nine = EventTime::parse_rfc3339("2026-11-23T09:00:00Z")
        .unwrap()
        .millis();
    for (id, at) in [
        ("bin-0001", noon - 600_000),
        ("bin-0002", noon),
        ("bin-0003", nine),
    ] {
        let f = &by_bin[id];
        let before = f.iter().rev().find(|x| x.0 < at).unwrap().1;
        let after = f.iter().find(|x| x.0 > at).unwrap().1;
        assert!(after < 6.0, "{id} read {after} % after its collection");
        assert!(
            before > after + 5.0,
            "{id}: {before} % before, {after} % after"
        );
    }
    // Bins not on the round keep filling: no reading drops by more than noise.
    for (id, f) in by_bin
        .iter()
        .filter(|(id, _)| !["bin-0001", "bin-0002", "bin-0003"].contains(&id.as_str()))
    {
        for w in f.windows(2) {
            assert!(
                w[1].1 > w[0].1 - 6.0,
                "{id} dropped from {} to {} unvisited",
                w[0].1,
                w[1].1
            );
        }
    }
    let unknown = kerbside_sim::parse_rounds("device_id\nbin-9999\n").unwrap();
    let fleet = Arc::new(Fleet::build(s, 9).unwrap());
    let e = Generator::new(fleet, &unknown).unwrap_err().to_string();
    assert!(e.contains("bin-9999"), "{e}");
}

/// Vehicle-weighted mean speed over free-flow speed per counter, in a time window.
fn speed_ratio(fleet: &Fleet, rs: &[EnrichedReading], counter: &str, from: i64, to: i64) -> f64 {
    let dev = fleet.device(counter).unwrap();
    let DeviceSpec::Traffic(t) = &dev.spec else {
        panic!("not a counter")
    };
    let ff = fleet.roads.links[t.link as usize].free_flow_kph;
    let (mut num, mut den) = (0.0, 0.0);
    for r in rs
        .iter()
        .filter(|r| r.reading.device_id.as_str() == counter)
    {
        let ts = r.reading.ts.millis();
        if ts < from || ts >= to {
            continue;
        }
        if let Measurement::Traffic(tr) = &r.reading.data {
            for l in &tr.lanes {
                num += l.mean_speed_kph * f64::from(l.vehicles);
                den += f64::from(l.vehicles);
            }
        }
    }
    num / den / ff
}

#[test]
fn a_lane_closure_slows_its_link_and_neighbours_only_while_it_lasts() {
    let s = clean(|s| {
        no_bins_or_venues(s);
        no_air(s);
    });
    let (fleet, rs) = readings(s, 10, &[]);
    let inc = &fleet.incidents[0];
    let link = &fleet.roads.links[inc.link as usize];
    let counter_of = |li: usize| format!("tc-{:04}", li + 1);
    let h = 3_600_000;
    let (a, b) = (inc.start_ms, inc.end_ms);
    let on = speed_ratio(&fleet, &rs, &counter_of(inc.link as usize), a, b);
    let before = speed_ratio(&fleet, &rs, &counter_of(inc.link as usize), a - 2 * h, a);
    let after = speed_ratio(&fleet, &rs, &counter_of(inc.link as usize), b, b + 2 * h);
    assert!(on < 0.4, "link ratio {on:.2} during the closure");
    assert!(
        before > 0.7 && after > 0.7,
        "link ratio {before:.2} before, {after:.2} after"
    );
    assert!(!link.neighbours.is_empty());
    for &n in &link.neighbours {
        let c = counter_of(n as usize);
        let during = speed_ratio(&fleet, &rs, &c, a, b);
        let outside = speed_ratio(&fleet, &rs, &c, b, b + 2 * h);
        assert!(
            during < 0.75 * outside,
            "{c}: {during:.2} during vs {outside:.2} after"
        );
    }
    for li in (0..fleet.roads.links.len())
        .filter(|&li| li != inc.link as usize && !link.neighbours.contains(&(li as u32)))
    {
        let c = counter_of(li);
        let during = speed_ratio(&fleet, &rs, &c, a, b);
        assert!(
            during > 0.7,
            "{c} is not a neighbour but slowed to {during:.2}"
        );
    }
}

#[test]
fn a_pollution_episode_raises_pm25_at_its_site_to_daqi_high() {
    let s = clean(|s| {
        no_bins_or_venues(s);
        s.air.dropout_rate = 0.0;
    });
    let (fleet, rs) = readings(s, 12, &[]);
    let ep = &fleet.episodes[0];
    let mut day: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut before: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &rs {
        if let Measurement::Air(a) = &r.reading.data {
            let v = a.pm25_ugm3.unwrap();
            let id = r.reading.device_id.to_string();
            day.entry(id.clone()).or_default().push(v);
            if r.reading.ts.millis() < ep.start_ms {
                before.entry(id).or_default().push(v);
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    // The episode is at aqs-02, node aq-0002. 24 h mean >= 54 µg/m³ is DAQI 7 (High).
    assert!(
        mean(&day["aq-0002"]) >= 54.0,
        "aq-0002 day mean {:.1}",
        mean(&day["aq-0002"])
    );
    assert!(
        mean(&before["aq-0002"]) < 25.0,
        "before the episode {:.1}",
        mean(&before["aq-0002"])
    );
    for (id, v) in day.iter().filter(|(id, _)| id.as_str() != "aq-0002") {
        assert!(
            mean(v) < 25.0,
            "{id} outside the episode reads {:.1}",
            mean(v)
        );
    }
}

#[test]
fn air_no2_follows_the_traffic_day() {
    let s = clean(|s| {
        no_bins_or_venues(s);
        s.air.dropout_rate = 0.0;
        s.air.episodes.clear();
        s.start = EventTime::parse_rfc3339("2026-11-24T00:00:00Z").unwrap();
    });
    let (_, rs) = readings(s, 13, &[]);
    let (mut rush, mut night) = (Vec::new(), Vec::new());
    for r in &rs {
        if let Measurement::Air(a) = &r.reading.data {
            match hour(r.reading.ts) {
                8 | 17 => rush.push(a.no2_ugm3.unwrap()),
                2..=4 => night.push(a.no2_ugm3.unwrap()),
                _ => {}
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        mean(&rush) > 1.8 * mean(&night),
        "NO2 rush {:.1} vs night {:.1}",
        mean(&rush),
        mean(&night)
    );
}

#[test]
fn footfall_sees_visitors_only_around_opening_hours_and_pseudonyms_rotate_daily() {
    let s = clean(|s| {
        s.bins.count = 0;
        no_traffic(s);
        no_air(s);
        s.duration_mins = 2 * 1440;
        s.venues[0].randomised_mac_share = 0.0;
    });
    let (_, rs) = readings(s, 14, &[]);
    let mut days: [BTreeSet<String>; 2] = Default::default();
    for r in &rs {
        let Measurement::Footfall(f) = &r.reading.data else {
            continue;
        };
        let h = hour(r.reading.ts);
        if !f.ids.is_empty() {
            assert!((9..=18).contains(&h), "ids seen at {h}:00");
        }
        let d = ((r.reading.ts.millis() - 1) / 86_400_000 - 20_780) as usize;
        for id in &f.ids {
            let s = id.to_string();
            assert!(
                s.len() == 16
                    && s.bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            days[d.min(1)].insert(s);
        }
    }
    assert!(
        days[0].len() > 200 && days[1].len() > 200,
        "{} and {} pseudonyms",
        days[0].len(),
        days[1].len()
    );
    assert_eq!(
        days[0].intersection(&days[1]).count(),
        0,
        "a pseudonym survived midnight"
    );
}

#[test]
fn phones_that_randomise_their_mac_show_a_new_pseudonym_each_interval() {
    let distinct = |share: f64| {
        let s = clean(|s| {
            s.bins.count = 0;
            no_traffic(s);
            no_air(s);
            s.venues[0].randomised_mac_share = share;
        });
        let (_, rs) = readings(s, 15, &[]);
        let ids: BTreeSet<_> = rs
            .iter()
            .filter_map(|r| match &r.reading.data {
                Measurement::Footfall(f) => Some(f.ids.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        ids.len()
    };
    let (none, all) = (distinct(0.0), distinct(1.0));
    assert!(
        all > 5 * none,
        "{all} distinct pseudonyms with randomising phones vs {none} without"
    );
}

#[test]
fn lorawan_bins_send_chirpstack_and_tts_uplinks_that_are_accepted() {
    let s = clean(|s| s.bins.lorawan_share = 1.0);
    let fleet = Arc::new(Fleet::build(s, 16).unwrap());
    let msgs: Vec<_> = Generator::new(Arc::clone(&fleet), &[])
        .unwrap()
        .filter(|m| m.kind == Kind::Bin)
        .collect();
    let cs = msgs
        .iter()
        .filter(|m| m.topic.starts_with("application/"))
        .count();
    let tts = msgs
        .iter()
        .filter(|m| m.topic.starts_with("v3/kerbside-bins@council/devices/"))
        .count();
    assert!(
        cs > 100 && tts > 100 && cs + tts == msgs.len(),
        "{cs} ChirpStack, {tts} TTS of {}",
        msgs.len()
    );
    let v = Validator::new(
        ValidationConfig::default(),
        Arc::new(fleet.asset_register()),
    );
    for m in &msgs {
        let j: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        let dev = &fleet.devices[m.device as usize];
        if m.topic.starts_with("application/") {
            assert_eq!(j["deviceInfo"]["deviceName"], dev.id.as_str());
            assert!(
                m.topic
                    .contains(j["deviceInfo"]["devEui"].as_str().unwrap())
            );
            assert_eq!(j["fCnt"], m.seq.0);
            assert!(j["object"]["fill_pct"].is_number() && j["time"].is_string());
        } else {
            assert_eq!(j["end_device_ids"]["device_id"], dev.id.as_str());
            assert_eq!(j["uplink_message"]["f_cnt"], m.seq.0);
            assert!(j["uplink_message"]["decoded_payload"]["fill_pct"].is_number());
            assert!(j["received_at"].is_string());
        }
        let verdict = v.validate(&m.topic, &m.payload, m.at).remove(0);
        let Verdict::Accepted(r) = verdict else {
            panic!("uplink refused: {verdict:?}")
        };
        assert_eq!(r.reading.device_id, dev.id);
        assert_eq!(r.reading.seq, m.seq);
        assert_eq!(r.reading.ts, m.ts);
    }
}
