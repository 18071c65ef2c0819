//! Same seed, same bytes.

use std::sync::Arc;

use kerbside_sim::replay::write_replay;
use kerbside_sim::{Fleet, Generator};

use crate::common::test_scenario;

fn replay_bytes(seed: u64) -> Vec<u8> {
    let fleet = Arc::new(Fleet::build(test_scenario(), seed).unwrap());
    let g = Generator::new(fleet, &[]).unwrap();
    let mut out = Vec::new();
    write_replay(&mut out, g, |_| {}).unwrap();
    out
}

#[test]
fn same_seed_gives_byte_identical_replay_file() {
    let a = replay_bytes(11);
    let b = replay_bytes(11);
    assert!(
        a.len() > 100_000,
        "a day of the test fleet is a sizeable file"
    );
    assert!(a == b, "two runs with seed 11 differ");
}

#[test]
fn different_seed_gives_different_replay_file() {
    assert_ne!(replay_bytes(11), replay_bytes(12));
}

#[test]
fn same_seed_gives_identical_asset_register() {
    let a = Fleet::build(test_scenario(), 5).unwrap().register_csv();
    let b = Fleet::build(test_scenario(), 5).unwrap().register_csv();
    assert_eq!(a, b);
}

#[test]
fn replay_lines_parse_as_replay_lines_in_send_time_order() {
    let bytes = replay_bytes(3);
    let text = String::from_utf8(bytes).unwrap();
    let mut last = None;
    for line in text.lines() {
        let l: kerbside_reading::ReplayLine = serde_json::from_str(line).unwrap();
        let at = l.received_at.expect("received_at is recorded");
        if let Some(prev) = last {
            assert!(at >= prev, "lines out of send order");
        }
        last = Some(at);
    }
}

#[test]
fn replay_lines_are_exactly_serde_replay_lines() {
    let fleet = Arc::new(Fleet::build(test_scenario(), 4).unwrap());
    for m in Generator::new(fleet, &[]).unwrap().take(20_000) {
        let mut fast = Vec::new();
        kerbside_sim::replay::write_line(&mut fast, &m).unwrap();
        let mut slow = serde_json::to_vec(&m.to_replay_line()).unwrap();
        slow.push(b'\n');
        assert!(fast == slow, "{}", String::from_utf8_lossy(&fast));
    }
}

#[test]
fn asset_register_has_the_exact_header_and_loads() {
    let fleet = Fleet::build(test_scenario(), 5).unwrap();
    let csv = fleet.register_csv();
    assert_eq!(csv.lines().next().unwrap(), kerbside_sim::REGISTER_HEADER);
    assert_eq!(
        kerbside_sim::REGISTER_HEADER,
        "device_id,kind,lat,lon,ward,capacity_l,stream,link,free_flow_kph,site,venue,room"
    );
    let reg = kerbside_reading::AssetRegister::from_csv(&csv).unwrap();
    assert_eq!(reg.len(), fleet.devices.len());
    assert_eq!(reg.len(), 60 + 10 + 4 + 3);
}

#[test]
fn each_gateway_carries_one_uplink_format_and_at_most_its_share_of_devices() {
    let fleet = Fleet::build(test_scenario(), 5).unwrap();
    let per = fleet.scenario.gateways.devices_per_gateway;
    let mut formats: Vec<Option<std::mem::Discriminant<kerbside_sim::Uplink>>> =
        vec![None; fleet.gateways.len()];
    let mut counts = vec![0u32; fleet.gateways.len()];
    for d in &fleet.devices {
        let g = d.gateway as usize;
        let f = std::mem::discriminant(&d.uplink);
        assert!(
            formats[g].is_none_or(|x| x == f),
            "gateway {} mixes formats",
            fleet.gateways[g].name
        );
        formats[g] = Some(f);
        counts[g] += 1;
    }
    for (g, gw) in fleet.gateways.iter().enumerate() {
        assert_eq!(gw.devices, counts[g]);
        if gw.name.starts_with("gw-") {
            assert!(counts[g] <= per, "{} has {} devices", gw.name, counts[g]);
        }
    }
    let names: Vec<_> = fleet.gateways.iter().map(|g| g.name.as_str()).collect();
    assert!(
        names.contains(&"chirpstack") && names.contains(&"tts") && names.contains(&"gw-003"),
        "{names:?}"
    );
}
