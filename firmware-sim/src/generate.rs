//! The pure generator: from a [`Fleet`] to messages in the order they are sent.
//!
//! No I/O and no clock. Each device ticks at its reporting interval on its own
//! random streams; a heap keyed by (send time, insertion order) interleaves the
//! devices and the messages held back for late, out-of-order or duplicate
//! delivery, so the output is in simulated send-time order and the same seed
//! always yields the same messages.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use kerbside_reading::{
    DeviceId, EventTime, Kind, Measurement, Reading, RefusalReason, ReplayLine, Seq,
};

use crate::bin::{BinEvent, BinState};
use crate::encode;
use crate::error::Result;
use crate::faults::FaultKind;
use crate::fleet::{DeviceSpec, Fleet, Uplink};
use crate::footfall::VenueState;
use crate::rng::{MS_PER_DAY, SimRng, Stream, index, rng, uniform};
use crate::rounds::RoundStop;
use crate::truth::{GroundTruth, Recorder, Summary, VisitorTruth};

/// One message as a device (or network server) sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimMessage {
    /// The MQTT topic.
    pub topic: String,
    /// The payload bytes (always UTF-8, though not always valid JSON).
    pub payload: Vec<u8>,
    /// Simulated time it is sent (the receive time to judge it against).
    pub at: EventTime,
    /// The event time of the reading (what `ts` says, skew included).
    pub ts: EventTime,
    /// The `seq` the reading carries.
    pub seq: Seq,
    /// Index of the sending device in [`Fleet::devices`].
    pub device: u32,
    /// The device's kind.
    pub kind: Kind,
    /// Index of the gateway (MQTT client) it goes through.
    pub gateway: u32,
    /// The fault injected into it, if any.
    pub fault: Option<FaultKind>,
}

impl SimMessage {
    /// The refusal the pipeline must give it (`None`: it must be accepted).
    pub fn expected_refusal(&self) -> Option<RefusalReason> {
        self.fault.and_then(FaultKind::expected_refusal)
    }

    /// The payload as text.
    pub fn payload_str(&self) -> &str {
        std::str::from_utf8(&self.payload).expect("the simulator writes UTF-8 payloads")
    }

    /// The replay-file line for it (`received_at` is the send time).
    pub fn to_replay_line(&self) -> ReplayLine {
        ReplayLine {
            topic: self.topic.clone(),
            payload: self.payload_str().to_owned(),
            received_at: Some(self.at),
        }
    }
}

#[derive(Debug, Clone)]
enum KindState {
    Bin(Box<BinState>),
    Traffic,
    Air(crate::air::AirState),
    Footfall,
}

#[derive(Debug)]
struct DeviceState {
    rng: SimRng,
    fault_rng: SimRng,
    seq: u64,
    /// Measurement time of the next tick, epoch ms.
    next_ts: i64,
    silent_until: i64,
    kind: KindState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum What {
    Tick(u32),
    Deferred(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    at: i64,
    order: u64,
    what: What,
}

/// Yields a fleet's messages in send-time order; an [`Iterator`] of [`SimMessage`].
#[derive(Debug)]
pub struct Generator {
    fleet: Arc<Fleet>,
    states: Vec<DeviceState>,
    venues: Vec<VenueState>,
    heap: BinaryHeap<Reverse<Entry>>,
    deferred: Vec<Option<SimMessage>>,
    free: Vec<u32>,
    order: u64,
    end_ms: i64,
    recorder: Recorder,
    events: Vec<BinEvent>,
}

/// Send latency for a device's next message, ms.
fn latency(uplink: &Uplink, r: &mut SimRng) -> i64 {
    match uplink {
        Uplink::Kerbside => uniform(r, 20.0, 800.0) as i64,
        _ => uniform(r, 800.0, 3000.0) as i64,
    }
}

impl Generator {
    /// A generator over `fleet`; bins listed in `rounds` are emptied when the round
    /// reaches them (on top of the scenario's fixed schedule).
    pub fn new(fleet: Arc<Fleet>, rounds: &[RoundStop]) -> Result<Self> {
        let sc = &fleet.scenario;
        let start = sc.start.millis();
        let end_ms = sc.end_ms();
        let mut collections: Vec<Vec<i64>> = vec![Vec::new(); fleet.devices.len()];
        for (i, at) in crate::rounds::resolve(&fleet, rounds)? {
            collections[i as usize].push(at);
        }
        let mut heap = BinaryHeap::with_capacity(fleet.devices.len() * 2);
        let mut order = 0u64;
        let mut states = Vec::with_capacity(fleet.devices.len());
        for d in &fleet.devices {
            let mut r = rng(fleet.seed, Stream::Behaviour(d.index));
            let fault_rng = rng(fleet.seed, Stream::Faults(d.index));
            let interval = d.interval_ms;
            // Counters and wifi sensors report on interval boundaries; bins and
            // air nodes wake whenever they were switched on.
            let first = match d.kind {
                Kind::Traffic | Kind::Footfall => start + interval,
                Kind::Bin | Kind::Air => {
                    start + 1000 * index(&mut r, (interval / 1000).max(1) as usize) as i64
                }
            };
            let kind = match &d.spec {
                DeviceSpec::Bin(b) => {
                    let mut times = std::mem::take(&mut collections[d.index as usize]);
                    let every = i64::from(sc.bins.collection_every_days);
                    if every > 0 {
                        // Collected on the ward's day of the cycle, at this bin's
                        // place in the round (07:00–14:00).
                        let offset = (d.ward_index as i64).rem_euclid(every);
                        let at_ms = 7 * 3_600_000 + (uniform(&mut r, 0.0, 7.0) * 3.6e6) as i64;
                        let first_day = crate::rng::day_index(start);
                        let mut day = first_day;
                        while day * MS_PER_DAY < end_ms {
                            if (day - first_day - offset).rem_euclid(every) == 0 {
                                let at = day * MS_PER_DAY + at_ms;
                                if at >= start && at < end_ms {
                                    times.push(at);
                                }
                            }
                            day += 1;
                        }
                    }
                    KindState::Bin(Box::new(BinState::new(b, start, times, &mut r)))
                }
                DeviceSpec::Traffic(_) => KindState::Traffic,
                DeviceSpec::Air(_) => KindState::Air(Default::default()),
                DeviceSpec::Footfall(_) => KindState::Footfall,
            };
            let seq = if matches!(d.uplink, Uplink::Kerbside) {
                index(&mut r, 100_000) as u64
            } else {
                index(&mut r, 5_000) as u64
            };
            if first < end_ms {
                let at = first + latency(&d.uplink, &mut r);
                heap.push(Reverse(Entry {
                    at,
                    order,
                    what: What::Tick(d.index),
                }));
                order += 1;
            }
            states.push(DeviceState {
                rng: r,
                fault_rng,
                seq,
                next_ts: first,
                silent_until: i64::MIN,
                kind,
            });
        }
        let venues = sc
            .venues
            .iter()
            .enumerate()
            .map(|(v, cfg)| {
                VenueState::new(cfg.rooms.len(), rng(fleet.seed, Stream::Venue(v as u32)))
            })
            .collect();
        let recorder = Recorder::new(fleet.devices.len());
        Ok(Self {
            fleet,
            states,
            venues,
            heap,
            deferred: Vec::new(),
            free: Vec::new(),
            order,
            end_ms,
            recorder,
            events: Vec::new(),
        })
    }

    /// The fleet being simulated.
    pub fn fleet(&self) -> &Arc<Fleet> {
        &self.fleet
    }

    /// What the run has done so far (complete once the iterator is exhausted).
    pub fn truth(&self) -> GroundTruth {
        let visitors = self
            .venues
            .iter()
            .zip(&self.fleet.scenario.venues)
            .flat_map(|(v, cfg)| {
                v.visitors.iter().map(|&(day, visitors)| VisitorTruth {
                    venue: cfg.name.clone(),
                    day: EventTime::from_millis(day * MS_PER_DAY).expect("a simulated day"),
                    visitors,
                })
            })
            .collect();
        self.recorder.truth(&self.fleet, visitors)
    }

    /// Counts so far: sent, per kind, per fault.
    pub fn summary(&self) -> Summary {
        Summary::from(&self.truth())
    }

    /// Messages handed out so far.
    pub fn sent(&self) -> u64 {
        self.recorder.messages
    }

    fn push(&mut self, at: i64, what: What) {
        self.heap.push(Reverse(Entry {
            at,
            order: self.order,
            what,
        }));
        self.order += 1;
    }

    fn defer(&mut self, at: i64, msg: SimMessage) {
        let slot = match self.free.pop() {
            Some(s) => {
                self.deferred[s as usize] = Some(msg);
                s
            }
            None => {
                self.deferred.push(Some(msg));
                (self.deferred.len() - 1) as u32
            }
        };
        self.push(at, What::Deferred(slot));
    }

    /// Runs device `idx`'s tick sent at `at`; returns the message to send now, if any.
    fn tick(&mut self, idx: u32, at: i64) -> Option<SimMessage> {
        let fleet = Arc::clone(&self.fleet);
        let dev = &fleet.devices[idx as usize];
        let sc = &fleet.scenario;
        let st = &mut self.states[idx as usize];
        let t = st.next_ts;
        // Schedule the next tick first (bins wander by up to half a minute).
        let mut next = t + dev.interval_ms;
        if dev.kind == Kind::Bin {
            next += uniform(&mut st.rng, -30_000.0, 30_000.0) as i64;
        }
        st.next_ts = next;
        let next_at = next + latency(&dev.uplink, &mut st.rng);
        let mut alive = true;
        if t < st.silent_until {
            self.schedule_next(idx, next, next_at);
            return None;
        }
        let fault = if sc.faults.any() {
            sc.faults.draw(dev.kind, &mut st.fault_rng)
        } else {
            None
        };
        if fault == Some(FaultKind::Silent) {
            let mins = uniform(
                &mut st.fault_rng,
                f64::from(sc.faults.silent_mins_min),
                f64::from(sc.faults.silent_mins_max),
            );
            let until = t + (mins * 60_000.0) as i64;
            st.silent_until = until;
            let id = dev.id.to_string();
            self.recorder
                .fault(FaultKind::Silent, &id, &dev.topic, None, t);
            self.recorder.silence(&id, t, Some(until), "fault");
            self.schedule_next(idx, next, next_at);
            return None;
        }
        let data =
            match (&dev.spec, &mut st.kind) {
                (DeviceSpec::Bin(spec), KindState::Bin(b)) => {
                    let r = b.step(spec, &sc.bins, t, &mut st.rng, &mut self.events);
                    for e in self.events.drain(..) {
                        match e {
                            BinEvent::Collected(c) => self.recorder.collection(dev.id.as_str(), c),
                            BinEvent::BatteryDead => {
                                self.recorder.silence(dev.id.as_str(), t, None, "battery");
                                alive = false;
                            }
                        }
                    }
                    r.map(Measurement::Bin)
                }
                (DeviceSpec::Traffic(spec), KindState::Traffic) => Some(Measurement::Traffic(
                    crate::traffic::step(&fleet, spec.link, sc.traffic.interval_s, t, &mut st.rng),
                )),
                (DeviceSpec::Air(spec), KindState::Air(a)) => Some(Measurement::Air(
                    crate::air::step(&fleet, spec, &sc.air, a, t, &mut st.rng),
                )),
                (DeviceSpec::Footfall(spec), KindState::Footfall) => {
                    let cfg = &sc.venues[spec.venue as usize];
                    Some(Measurement::Footfall(
                        self.venues[spec.venue as usize].observe(
                            cfg,
                            spec.room as usize,
                            fleet.footfall_salt ^ u64::from(spec.venue),
                            t,
                            &mut st.rng,
                        ),
                    ))
                }
                _ => unreachable!("device state matches its spec"),
            };
        if alive {
            self.schedule_next(idx, next, next_at);
        }
        let data = data?;
        let st = &mut self.states[idx as usize];
        if fault == Some(FaultKind::Gap) {
            st.seq += 1 + index(&mut st.fault_rng, 3) as u64;
        }
        let seq = st.seq;
        st.seq += 1;
        let mut reading = Reading {
            device_id: dev.id.clone(),
            ts: EventTime::from_millis(t).expect("simulated times are in range"),
            seq: Seq(seq),
            data,
        };
        let mut spoof: Option<DeviceId> = None;
        match fault {
            Some(FaultKind::OutOfRange) => {
                encode::spoil_range(&mut reading.data, &mut st.fault_rng)
            }
            Some(FaultKind::ClockSkew) => {
                let ahead = uniform(&mut st.fault_rng, 600.0, 7200.0) as i64 * 1000;
                reading.ts = EventTime::from_millis(at + ahead).expect("in range");
            }
            Some(FaultKind::SpoofedDevice) => spoof = Some(other_device(&fleet, idx)),
            _ => {}
        }
        let mut payload = encode::payload(&fleet, dev, &reading, spoof.as_ref());
        match fault {
            Some(FaultKind::MalformedJson) => encode::spoil_json(&mut payload, &mut st.fault_rng),
            Some(FaultKind::RawMac) => encode::add_raw_mac(&mut payload, &mut st.fault_rng),
            Some(FaultKind::Oversize) => encode::make_oversize(&mut payload, &mut st.fault_rng),
            _ => {}
        }
        let mut msg = SimMessage {
            topic: dev.topic.clone(),
            payload,
            at: EventTime::from_millis(at).expect("in range"),
            ts: reading.ts,
            seq: reading.seq,
            device: idx,
            kind: dev.kind,
            gateway: dev.gateway,
            fault,
        };
        match fault {
            Some(FaultKind::Late) => {
                let max = f64::from(sc.faults.late_max_mins.max(6));
                let delay = (uniform(&mut st.fault_rng, 5.0, max) * 60_000.0) as i64;
                msg.at = EventTime::from_millis(at + delay).expect("in range");
                self.defer(at + delay, msg);
                None
            }
            Some(FaultKind::OutOfOrder) => {
                // After the device's next message (which leaves by next + 3 s).
                let later = next.max(at) + 5_000 + index(&mut st.fault_rng, 10_000) as i64;
                msg.at = EventTime::from_millis(later).expect("in range");
                self.defer(later, msg);
                None
            }
            Some(FaultKind::Duplicate) => {
                let again = at + 1_000 + index(&mut st.fault_rng, 59_000) as i64;
                let mut copy = msg.clone();
                copy.at = EventTime::from_millis(again).expect("in range");
                self.defer(again, copy);
                msg.fault = None;
                Some(msg)
            }
            _ => Some(msg),
        }
    }

    fn schedule_next(&mut self, idx: u32, next: i64, next_at: i64) {
        if next < self.end_ms {
            self.push(next_at, What::Tick(idx));
        }
    }
}

/// Another device of the same kind to impersonate (or a made-up one).
fn other_device(fleet: &Fleet, idx: u32) -> DeviceId {
    let me = &fleet.devices[idx as usize];
    let n = fleet.devices.len();
    (1..n)
        .map(|k| &fleet.devices[(idx as usize + k) % n])
        .find(|d| d.kind == me.kind)
        .map_or_else(
            || {
                DeviceId::parse(&format!(
                    "{}-x",
                    &me.id.as_str()[..me.id.as_str().len().min(60)]
                ))
                .expect("valid")
            },
            |d| d.id.clone(),
        )
}

impl Iterator for Generator {
    type Item = SimMessage;

    fn next(&mut self) -> Option<SimMessage> {
        loop {
            let Reverse(e) = self.heap.pop()?;
            let msg = match e.what {
                What::Tick(i) => self.tick(i, e.at),
                What::Deferred(slot) => {
                    self.free.push(slot);
                    self.deferred[slot as usize].take()
                }
            };
            if let Some(m) = msg {
                self.recorder.message(&self.fleet, &m);
                return Some(m);
            }
        }
    }
}
