//! The stream: every message generated up front, and how to recognise each one when
//! it is read back from Kafka.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::sync::Arc;
use std::time::Instant;

use kerbside_reading::{Clock as _, EventTime, SystemClock};
use kerbside_sim::{Fleet, Generator, Scenario, SimMessage, Speed};

use crate::SCENARIO;
use crate::bench_env::BenchEnv;
use crate::report::thousands;

/// The messages, generated up front, and how to recognise each one in Kafka. Global
/// message index `g`: `steady[g]` for `g < steady.len()`, else `burst[g - steady.len()]`.
pub(crate) struct Stream {
    pub(crate) fleet: Arc<Fleet>,
    /// Published first, at `steady_speed`.
    pub(crate) steady: Arc<Vec<SimMessage>>,
    /// `Speed` that gives the steady rate.
    pub(crate) steady_speed: Speed,
    /// Published next, as fast as the broker takes them (the same devices' later readings).
    pub(crate) burst: Arc<Vec<SimMessage>>,
    /// (device id, seq) → global index.
    pub(crate) by_reading: HashMap<(String, u64), usize>,
    /// Hash of the payload → global index, for the naive bridge's verbatim records.
    pub(crate) by_payload: HashMap<u64, usize>,
}

pub(crate) fn payload_hash(p: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    p.hash(&mut h);
    h.finish()
}

impl Stream {
    pub(crate) fn generate(env: &BenchEnv) -> Self {
        let started = Instant::now();
        let total = env.steady + env.burst;
        let mut scenario = Scenario::from_toml(SCENARIO, "<bench>").expect("the bench scenario");
        // About 3,600 messages a simulated minute; a margin for the first minutes.
        let minutes = (total / 3_600 + 10) as u32;
        scenario.duration_mins = minutes;
        // Start far enough back that the last reading is a few minutes old: every
        // timestamp is then within ingest's age and future limits when it arrives.
        let now = SystemClock.now().millis();
        let start = (now - i64::from(minutes + 5) * 60_000) / 60_000 * 60_000;
        scenario.start = EventTime::from_millis(start).expect("a recent time");
        let fleet = Arc::new(Fleet::build(scenario, 7).expect("the bench fleet"));
        assert_eq!(fleet.devices.len(), 10_000);
        let mut steady: Vec<SimMessage> = Generator::new(Arc::clone(&fleet), &[])
            .expect("a generator")
            .take(total)
            .collect();
        assert_eq!(steady.len(), total, "the scenario is long enough");
        assert!(
            steady.iter().all(|m| m.fault.is_none()),
            "no faults in the bench stream"
        );
        let burst = steady.split_off(env.steady);
        let steady_speed = match (steady.first(), steady.last()) {
            (Some(a), Some(b)) if b.at.millis() > a.at.millis() => {
                let fleet_rate =
                    steady.len() as f64 / ((b.at.millis() - a.at.millis()) as f64 / 1e3);
                Speed::Factor(env.steady_rate / fleet_rate)
            }
            _ => Speed::Max,
        };
        let mut by_reading = HashMap::with_capacity(total);
        let mut by_payload = HashMap::with_capacity(total);
        for (g, m) in steady.iter().chain(burst.iter()).enumerate() {
            let id = fleet.devices[m.device as usize].id.to_string();
            assert!(
                by_reading.insert((id, m.seq.0), g).is_none(),
                "(device, seq) is unique in the stream"
            );
            by_payload.insert(payload_hash(&m.payload), g);
        }
        let devices: HashSet<u32> = steady.iter().map(|m| m.device).collect();
        let bytes: usize = burst.iter().map(|m| m.payload.len()).sum();
        println!(
            "stream: {} steady messages ({} devices) then {} burst messages, {} payload bytes \
             on average; generated in {:.1} s",
            thousands(steady.len() as f64),
            thousands(devices.len() as f64),
            thousands(burst.len() as f64),
            bytes / burst.len().max(1),
            started.elapsed().as_secs_f64()
        );
        Self {
            fleet,
            steady: Arc::new(steady),
            steady_speed,
            burst: Arc::new(burst),
            by_reading,
            by_payload,
        }
    }
}
