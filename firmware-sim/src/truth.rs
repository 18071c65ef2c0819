//! Ground truth: what the simulator actually did, so tests can check that the
//! pipeline found what was there.

use std::collections::BTreeMap;
use std::fmt;

use kerbside_reading::{EventTime, Kind, RefusalReason};
use serde::Serialize;

use crate::faults::{FaultKind, FaultRates};
use crate::fleet::{Fleet, Uplink};
use crate::generate::SimMessage;
use crate::scenario::Pollutant;

/// Everything the run did, as written to `--truth-out`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroundTruth {
    /// Scenario name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Simulated start.
    pub start: EventTime,
    /// Simulated end (exclusive; late messages may be sent after it).
    pub end: EventTime,
    /// Devices per kind.
    pub devices: BTreeMap<Kind, u64>,
    /// Messages sent.
    pub messages: u64,
    /// Messages the pipeline must accept (no fault, or a valid one such as a gap).
    pub valid_readings: u64,
    /// Messages the pipeline must refuse.
    pub refused_expected: u64,
    /// Messages per kind.
    pub per_kind: BTreeMap<Kind, u64>,
    /// Messages per uplink format (`kerbside`, `chirp_stack`, `the_things_stack`).
    pub per_format: BTreeMap<&'static str, u64>,
    /// Faults: configured rates, counts, and every injected one.
    pub faults: FaultTruth,
    /// The road-link graph, with the counter on each link and its neighbours.
    pub links: Vec<LinkTruth>,
    /// Scripted incidents.
    pub incidents: Vec<IncidentTruth>,
    /// Scripted pollution episodes.
    pub episodes: Vec<EpisodeTruth>,
    /// Bin collections that happened.
    pub collections: Vec<CollectionTruth>,
    /// Devices that went quiet.
    pub silences: Vec<SilenceTruth>,
    /// Visitors per venue and day.
    pub visitors: Vec<VisitorTruth>,
    /// Messages per device, in fleet order.
    pub per_device: Vec<DeviceTruth>,
}

/// Faults injected.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultTruth {
    /// The configured rates.
    pub rates: FaultRates,
    /// How many of each were injected.
    pub counts: BTreeMap<FaultKind, u64>,
    /// Expected refusals per reason code.
    pub expected_refusals: BTreeMap<RefusalReason, u64>,
    /// Every injected fault, in send order.
    pub injected: Vec<InjectedFault>,
}

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InjectedFault {
    /// The fault.
    pub fault: FaultKind,
    /// The refusal the pipeline must give (`null`: accept it, or nothing was sent).
    pub expected_refusal: Option<RefusalReason>,
    /// The device.
    pub device_id: String,
    /// The topic it was (or would have been) sent on.
    pub topic: String,
    /// The `seq` the message carried (absent for a silence).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// When it was sent (for a silence: when it began).
    pub at: EventTime,
}

/// A road link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LinkTruth {
    /// Link id.
    pub link: String,
    /// The counter on it.
    pub counter: String,
    /// Links sharing a node with it.
    pub neighbours: Vec<String>,
    /// Free-flow speed, km/h.
    pub free_flow_kph: f64,
    /// Lanes counted.
    pub lanes: u8,
}

/// A lane closure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentTruth {
    /// The link closed.
    pub link: String,
    /// Its counter.
    pub counter: String,
    /// Neighbouring links, which slow down too.
    pub neighbours: Vec<String>,
    /// Start.
    pub start: EventTime,
    /// End (exclusive).
    pub end: EventTime,
    /// Share of free-flow speed left on the link.
    pub speed_factor: f64,
    /// Share left on the neighbours.
    pub neighbour_speed_factor: f64,
}

/// A pollution episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeTruth {
    /// Sites affected.
    pub sites: Vec<String>,
    /// Their nodes.
    pub devices: Vec<String>,
    /// The pollutant.
    pub pollutant: Pollutant,
    /// Plateau concentration, µg/m³.
    pub peak_ugm3: f64,
    /// Start.
    pub start: EventTime,
    /// End (exclusive).
    pub end: EventTime,
}

/// A bin emptied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectionTruth {
    /// The bin.
    pub device_id: String,
    /// When.
    pub at: EventTime,
}

/// A device that went quiet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SilenceTruth {
    /// The device.
    pub device_id: String,
    /// From.
    pub from: EventTime,
    /// Until (absent: for good).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<EventTime>,
    /// `fault` (injected silence) or `battery` (a bin's battery died).
    pub cause: &'static str,
}

/// Visitors to a venue on one day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VisitorTruth {
    /// Venue.
    pub venue: String,
    /// The day (its midnight, UTC).
    pub day: EventTime,
    /// Visitors who came.
    pub visitors: u32,
}

/// Per-device message counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceTruth {
    /// The device.
    pub device_id: String,
    /// Its kind.
    pub kind: Kind,
    /// Messages sent.
    pub messages: u64,
    /// Of which valid.
    pub valid: u64,
    /// Of which to be refused.
    pub refused: u64,
}

/// Counts kept while the generator runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorder {
    pub(crate) per_device: Vec<(u64, u64)>,
    pub(crate) fault_counts: BTreeMap<FaultKind, u64>,
    pub(crate) refusals: BTreeMap<RefusalReason, u64>,
    pub(crate) injected: Vec<InjectedFault>,
    pub(crate) collections: Vec<CollectionTruth>,
    pub(crate) silences: Vec<SilenceTruth>,
    pub(crate) messages: u64,
}

/// Shortest form of an event time.
fn t(ms: i64) -> EventTime {
    EventTime::from_millis(ms.clamp(0, EventTime::MAX_MS - 1)).expect("clamped into range")
}

impl Recorder {
    pub(crate) fn new(devices: usize) -> Self {
        Self {
            per_device: vec![(0, 0); devices],
            ..Self::default()
        }
    }

    /// Counts one message as it is handed out.
    pub(crate) fn message(&mut self, fleet: &Fleet, m: &SimMessage) {
        self.messages += 1;
        let counts = &mut self.per_device[m.device as usize];
        counts.0 += 1;
        if let Some(fault) = m.fault {
            let refusal = fault.expected_refusal();
            if let Some(r) = refusal {
                counts.1 += 1;
                *self.refusals.entry(r).or_default() += 1;
            }
            let id = fleet.devices[m.device as usize].id.as_str();
            self.fault(fault, id, &m.topic, Some(m.seq.0), m.at.millis());
        }
    }

    pub(crate) fn fault(
        &mut self,
        fault: FaultKind,
        device: &str,
        topic: &str,
        seq: Option<u64>,
        at: i64,
    ) {
        *self.fault_counts.entry(fault).or_default() += 1;
        self.injected.push(InjectedFault {
            fault,
            expected_refusal: fault.expected_refusal(),
            device_id: device.to_owned(),
            topic: topic.to_owned(),
            seq,
            at: t(at),
        });
    }

    pub(crate) fn silence(
        &mut self,
        device: &str,
        from: i64,
        until: Option<i64>,
        cause: &'static str,
    ) {
        self.silences.push(SilenceTruth {
            device_id: device.to_owned(),
            from: t(from),
            until: until.map(t),
            cause,
        });
    }

    pub(crate) fn collection(&mut self, device: &str, at: i64) {
        self.collections.push(CollectionTruth {
            device_id: device.to_owned(),
            at: t(at),
        });
    }

    /// The ground truth so far.
    pub(crate) fn truth(&self, fleet: &Fleet, visitors: Vec<VisitorTruth>) -> GroundTruth {
        let sc = &fleet.scenario;
        let link_ids = |v: &[u32]| -> Vec<String> {
            v.iter()
                .map(|&i| fleet.roads.links[i as usize].id.clone())
                .collect()
        };
        let mut counters = vec![String::new(); fleet.roads.links.len()];
        for d in &fleet.devices {
            if let crate::fleet::DeviceSpec::Traffic(s) = &d.spec {
                counters[s.link as usize] = d.id.to_string();
            }
        }
        let counter_of = |link: u32| -> String { counters[link as usize].clone() };
        let mut devices = BTreeMap::new();
        let mut per_kind = BTreeMap::new();
        let mut per_format = BTreeMap::new();
        for (d, c) in fleet.devices.iter().zip(&self.per_device) {
            *devices.entry(d.kind).or_default() += 1;
            *per_kind.entry(d.kind).or_default() += c.0;
            let format = match d.uplink {
                Uplink::Kerbside => "kerbside",
                Uplink::ChirpStack { .. } => "chirp_stack",
                Uplink::TheThingsStack => "the_things_stack",
            };
            *per_format.entry(format).or_default() += c.0;
        }
        let refused: u64 = self.per_device.iter().map(|c| c.1).sum();
        GroundTruth {
            scenario: sc.name.clone(),
            seed: fleet.seed,
            start: sc.start,
            end: t(sc.end_ms()),
            devices,
            messages: self.messages,
            valid_readings: self.messages - refused,
            refused_expected: refused,
            per_kind,
            per_format,
            faults: FaultTruth {
                rates: sc.faults.clone(),
                counts: self.fault_counts.clone(),
                expected_refusals: self.refusals.clone(),
                injected: self.injected.clone(),
            },
            links: fleet
                .roads
                .links
                .iter()
                .enumerate()
                .map(|(i, l)| LinkTruth {
                    link: l.id.clone(),
                    counter: counter_of(i as u32),
                    neighbours: link_ids(&l.neighbours),
                    free_flow_kph: l.free_flow_kph,
                    lanes: l.lanes,
                })
                .collect(),
            incidents: fleet
                .incidents
                .iter()
                .map(|i| IncidentTruth {
                    link: fleet.roads.links[i.link as usize].id.clone(),
                    counter: counter_of(i.link),
                    neighbours: link_ids(&fleet.roads.links[i.link as usize].neighbours),
                    start: t(i.start_ms),
                    end: t(i.end_ms),
                    speed_factor: i.speed_factor,
                    neighbour_speed_factor: i.neighbour_speed_factor,
                })
                .collect(),
            episodes: fleet
                .episodes
                .iter()
                .map(|e| {
                    let nodes: Vec<_> = fleet
                        .devices
                        .iter()
                        .filter_map(|d| match &d.spec {
                            crate::fleet::DeviceSpec::Air(a)
                                if e.site.as_deref().is_none_or(|s| s == a.site) =>
                            {
                                Some((a.site.clone(), d.id.to_string()))
                            }
                            _ => None,
                        })
                        .collect();
                    EpisodeTruth {
                        sites: nodes.iter().map(|n| n.0.clone()).collect(),
                        devices: nodes.iter().map(|n| n.1.clone()).collect(),
                        pollutant: e.pollutant,
                        peak_ugm3: e.peak_ugm3,
                        start: t(e.start_ms),
                        end: t(e.end_ms),
                    }
                })
                .collect(),
            collections: self.collections.clone(),
            silences: self.silences.clone(),
            visitors,
            per_device: fleet
                .devices
                .iter()
                .zip(&self.per_device)
                .map(|(d, &(messages, refused))| DeviceTruth {
                    device_id: d.id.to_string(),
                    kind: d.kind,
                    messages,
                    valid: messages - refused,
                    refused,
                })
                .collect(),
        }
    }
}

/// The end-of-run summary: messages sent, per kind, per fault.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Messages sent.
    pub sent: u64,
    /// Messages the pipeline must accept.
    pub valid: u64,
    /// Messages per kind.
    pub per_kind: BTreeMap<Kind, u64>,
    /// Messages per uplink format.
    pub per_format: BTreeMap<&'static str, u64>,
    /// Faults injected per kind.
    pub per_fault: BTreeMap<FaultKind, u64>,
}

impl From<&GroundTruth> for Summary {
    fn from(t: &GroundTruth) -> Self {
        Self {
            sent: t.messages,
            valid: t.valid_readings,
            per_kind: t.per_kind.clone(),
            per_format: t.per_format.clone(),
            per_fault: t.faults.counts.clone(),
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "sent {} messages ({} valid)", self.sent, self.valid)?;
        for (k, n) in &self.per_kind {
            writeln!(f, "  {:<20} {n:>10}", k.as_str())?;
        }
        for (k, n) in &self.per_format {
            writeln!(f, "  {:<20} {n:>10}", format!("via {k}"))?;
        }
        if self.per_fault.is_empty() {
            writeln!(f, "faults injected: none")?;
        } else {
            writeln!(f, "faults injected:")?;
            for (k, n) in &self.per_fault {
                writeln!(f, "  {k:<20} {n:>10}")?;
            }
        }
        Ok(())
    }
}
