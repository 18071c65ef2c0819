//! The fleet: every simulated device with its fixed properties, built from a
//! [`Scenario`] and a seed, and the asset register it implies.

use kerbside_reading::{AssetRegister, DeviceId, Kind};
use serde::Serialize;

use crate::error::{Result, SimError};
use rand::RngExt as _;

use crate::rng::{Stream, chance, normal, rng, uniform, unit};
use crate::roads::RoadGraph;
use crate::scenario::{Pollutant, Scenario};

/// The asset register's header, exactly as DESIGN §4 gives it.
pub const REGISTER_HEADER: &str =
    "device_id,kind,lat,lon,ward,capacity_l,stream,link,free_flow_kph,site,venue,room";

/// Ward names, in sector order; more wards than names get `Ward N`.
const WARD_NAMES: [&str; 16] = [
    "Abbey",
    "Castle",
    "Market",
    "Priory",
    "Riverside",
    "St Mary's",
    "Northgate",
    "Southfields",
    "Westbrook",
    "Eastfield",
    "Hillside",
    "Meadows",
    "Cathedral",
    "Parkside",
    "Kingsway",
    "Queensway",
];

/// How a device's readings reach the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "format")]
pub enum Uplink {
    /// kerbside's own topic and payload (DESIGN §3).
    Kerbside,
    /// A ChirpStack v4 uplink event.
    ChirpStack {
        /// The device EUI (16 lowercase hex characters).
        dev_eui: String,
    },
    /// A The Things Stack v3 uplink.
    TheThingsStack,
}

/// One MQTT client: a site gateway, or a LoRaWAN network server's integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gateway {
    /// Name, also the suffix of its MQTT client id (`gw-001`, `chirpstack`, `tts`).
    pub name: String,
    /// Devices behind it.
    pub devices: u32,
}

/// What a bin is like.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BinSpec {
    /// Capacity, litres.
    pub capacity_l: f64,
    /// Waste stream.
    pub stream: &'static str,
    /// A town-centre litter bin (fills faster, busiest at weekends).
    pub centre: bool,
    /// Mean fill rate, percent per hour, before day-of-week and time-of-day factors.
    pub fill_rate_pct_h: f64,
    /// Its battery is failing.
    pub failing_battery: bool,
}

/// What a traffic counter is like.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrafficSpec {
    /// Index of its link in the road graph.
    pub link: u32,
}

/// What an air node is like.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AirSpec {
    /// Site name (`aqs-01` ...).
    pub site: String,
    /// Links whose traffic it breathes, by index.
    pub nearby_links: Vec<u32>,
    /// How strongly traffic shows in its readings: 1 roadside, ~0.35 urban background.
    pub traffic_weight: f64,
    /// Sensor drift, fraction per day (either sign).
    pub drift_per_day: f64,
}

/// What a footfall sensor is like.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FootfallSpec {
    /// Index of its venue in the scenario.
    pub venue: u32,
    /// Index of its room in the venue.
    pub room: u32,
}

/// The kind-specific part of a device.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceSpec {
    /// A smart bin.
    Bin(BinSpec),
    /// A traffic counter.
    Traffic(TrafficSpec),
    /// An air-quality node.
    Air(AirSpec),
    /// A wifi footfall sensor.
    Footfall(FootfallSpec),
}

/// One simulated device.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Device {
    /// Position in the fleet (also its random streams' index).
    pub index: u32,
    /// Device id (`bin-0001`, `tc-0001`, `aq-0001`, `wifi-0001`).
    pub id: DeviceId,
    /// Sensor kind.
    pub kind: Kind,
    /// Latitude, WGS84 degrees.
    pub lat: f64,
    /// Longitude, WGS84 degrees.
    pub lon: f64,
    /// Electoral ward.
    pub ward: String,
    /// Index of the ward (sector) it is in.
    pub ward_index: u32,
    /// Reporting interval, ms.
    pub interval_ms: i64,
    /// Index into [`Fleet::gateways`].
    pub gateway: u32,
    /// How it sends.
    pub uplink: Uplink,
    /// The MQTT topic it publishes on.
    pub topic: String,
    /// Kind-specific properties.
    pub spec: DeviceSpec,
}

/// A scripted incident, resolved against the fleet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// Index of the link.
    pub link: u32,
    /// Start, epoch ms.
    pub start_ms: i64,
    /// End (exclusive), epoch ms.
    pub end_ms: i64,
    /// Share of free-flow speed left on the link.
    pub speed_factor: f64,
    /// Share of free-flow speed left on neighbouring links.
    pub neighbour_speed_factor: f64,
}

/// A scripted pollution episode, resolved against the fleet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Episode {
    /// The site (`None` = every site).
    pub site: Option<String>,
    /// The pollutant raised.
    pub pollutant: Pollutant,
    /// Plateau concentration, µg/m³.
    pub peak_ugm3: f64,
    /// Start, epoch ms.
    pub start_ms: i64,
    /// End (exclusive), epoch ms.
    pub end_ms: i64,
}

impl Episode {
    /// How far into its plateau the episode is at `t`: 0 outside, ramping linearly
    /// to 1 over the first hour and back to 0 over the last.
    pub fn intensity(&self, t: i64) -> f64 {
        if t < self.start_ms || t >= self.end_ms {
            return 0.0;
        }
        let ramp = 3_600_000.0;
        let up = (t - self.start_ms) as f64 / ramp;
        let down = (self.end_ms - t) as f64 / ramp;
        up.min(down).min(1.0)
    }
}

/// The whole simulated fleet: devices, roads, gateways and scripted events.
#[derive(Debug, Clone)]
pub struct Fleet {
    /// The scenario it was built from (with command-line overrides applied).
    pub scenario: Scenario,
    /// The seed.
    pub seed: u64,
    /// Every device, bins first, then traffic counters, air nodes, footfall sensors.
    pub devices: Vec<Device>,
    /// The road graph (one link per traffic counter).
    pub roads: RoadGraph,
    /// MQTT clients.
    pub gateways: Vec<Gateway>,
    /// Incidents, resolved.
    pub incidents: Vec<Incident>,
    /// Episodes, resolved.
    pub episodes: Vec<Episode>,
    /// The salt footfall gateways hash identifiers with (rotated daily from this).
    pub footfall_salt: u64,
    /// The ChirpStack application id (a UUID).
    pub chirpstack_application: String,
}

/// The number in a site name (`aqs-03` → 3).
pub(crate) fn site_number(site: &str) -> Option<usize> {
    site.strip_prefix("aqs-")?.parse().ok()
}

fn ward_name(i: u32) -> String {
    WARD_NAMES
        .get(i as usize)
        .map_or_else(|| format!("Ward {}", i + 1), |s| (*s).to_owned())
}

impl Fleet {
    /// Builds the fleet. The same scenario and seed always give the same fleet.
    pub fn build(scenario: Scenario, seed: u64) -> Result<Self> {
        scenario.validate()?;
        let sc = &scenario;
        let town = &sc.town;
        let mut fleet_rng = rng(seed, Stream::Fleet);
        let footfall_salt = fleet_rng.random::<u64>();
        let (a, b) = (fleet_rng.random::<u64>(), fleet_rng.random::<u64>());
        let chirpstack_application = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        );
        let roads = RoadGraph::build(
            sc.traffic.count,
            sc.traffic.spokes,
            town.radius_m * 0.9,
            &mut rng(seed, Stream::Roads),
        );
        let m_per_deg_lat = 111_320.0;
        let m_per_deg_lon = 111_320.0 * town.lat.to_radians().cos();
        let to_latlon = |north: f64, east: f64| -> (f64, f64) {
            (
                crate::rng::round(town.lat + north / m_per_deg_lat, 6).clamp(-90.0, 90.0),
                crate::rng::round(town.lon + east / m_per_deg_lon, 6).clamp(-180.0, 180.0),
            )
        };
        let ward_of = |north: f64, east: f64| -> u32 {
            let a = east.atan2(north).rem_euclid(std::f64::consts::TAU);
            let w = ((a / std::f64::consts::TAU) * f64::from(town.wards)) as u32;
            w.min(town.wards - 1)
        };
        let mut devices = Vec::new();
        let mut push = |kind: Kind,
                        name: String,
                        north: f64,
                        east: f64,
                        interval_s: u32,
                        uplink: Uplink,
                        spec: DeviceSpec| {
            let (lat, lon) = to_latlon(north, east);
            let index = devices.len() as u32;
            devices.push(Device {
                index,
                id: DeviceId::parse(&name).expect("generated ids match the pattern"),
                kind,
                lat,
                lon,
                ward: ward_name(ward_of(north, east)),
                ward_index: ward_of(north, east),
                interval_ms: i64::from(interval_s) * 1000,
                gateway: 0,
                uplink,
                topic: String::new(),
                spec,
            });
        };
        let mut next_index = 0u32;
        // Bins.
        for n in 1..=sc.bins.count {
            let mut r = rng(seed, Stream::Layout(next_index));
            next_index += 1;
            let centre = chance(&mut r, sc.bins.centre_share);
            let (rc, rt) = (town.centre_radius_m, town.radius_m);
            let radius = if centre {
                rc * unit(&mut r).sqrt()
            } else {
                (unit(&mut r) * (rt * rt - rc * rc) + rc * rc).sqrt()
            };
            let angle = uniform(&mut r, 0.0, std::f64::consts::TAU);
            let (capacity_l, stream, mean_rate) = if centre {
                (240.0, "general", 2.2)
            } else {
                match unit(&mut r) {
                    u if u < 0.4 => (1100.0, "general", 0.55),
                    u if u < 0.7 => (1100.0, "recycling", 0.45),
                    u if u < 0.8 => (660.0, "general", 0.6),
                    _ => (240.0, "food", 0.9),
                }
            };
            let fill_rate_pct_h = mean_rate * normal(&mut r, 0.0, 0.3).exp();
            let uplink = if chance(&mut r, sc.bins.lorawan_share) {
                if chance(&mut r, sc.bins.chirpstack_share) {
                    Uplink::ChirpStack {
                        dev_eui: format!("70b3d57ed0{:06x}", r.random::<u64>() & 0xff_ffff),
                    }
                } else {
                    Uplink::TheThingsStack
                }
            } else {
                Uplink::Kerbside
            };
            let failing_battery = chance(&mut r, sc.bins.failing_battery_share);
            push(
                Kind::Bin,
                format!("bin-{n:04}"),
                radius * angle.cos(),
                radius * angle.sin(),
                sc.bins.interval_secs,
                uplink,
                DeviceSpec::Bin(BinSpec {
                    capacity_l,
                    stream,
                    centre,
                    fill_rate_pct_h,
                    failing_battery,
                }),
            );
        }
        // Traffic counters, one per link.
        for (i, link) in roads.links.iter().enumerate() {
            let mut r = rng(seed, Stream::Layout(next_index));
            next_index += 1;
            push(
                Kind::Traffic,
                format!("tc-{:04}", i + 1),
                link.mid_m.0 + uniform(&mut r, -10.0, 10.0),
                link.mid_m.1 + uniform(&mut r, -10.0, 10.0),
                sc.traffic.interval_s,
                Uplink::Kerbside,
                DeviceSpec::Traffic(TrafficSpec { link: i as u32 }),
            );
        }
        // Air nodes: roadside by a link, every third an urban background site.
        for k in 0..sc.air.count as usize {
            let mut r = rng(seed, Stream::Layout(next_index));
            next_index += 1;
            let background = k % 3 == 2;
            let (north, east, nearby) = if roads.links.is_empty() {
                let a = uniform(&mut r, 0.0, std::f64::consts::TAU);
                let d = town.centre_radius_m * unit(&mut r).sqrt();
                (d * a.cos(), d * a.sin(), Vec::new())
            } else {
                let li = k * roads.links.len() / sc.air.count as usize;
                let link = &roads.links[li];
                let off = if background { 300.0 } else { 25.0 };
                let a = uniform(&mut r, 0.0, std::f64::consts::TAU);
                let mut nearby = vec![li as u32];
                nearby.extend(&link.neighbours);
                (
                    link.mid_m.0 + off * a.cos(),
                    link.mid_m.1 + off * a.sin(),
                    nearby,
                )
            };
            let drift = sc.air.drift_max_pct_per_day / 100.0 * uniform(&mut r, -1.0, 1.0);
            push(
                Kind::Air,
                format!("aq-{:04}", k + 1),
                north,
                east,
                sc.air.interval_secs,
                Uplink::Kerbside,
                DeviceSpec::Air(AirSpec {
                    site: format!("aqs-{:02}", k + 1),
                    nearby_links: nearby,
                    traffic_weight: if roads.links.is_empty() {
                        0.5
                    } else if background {
                        0.35
                    } else {
                        1.0
                    },
                    drift_per_day: drift,
                }),
            );
        }
        // Footfall sensors, one per room.
        let mut wifi = 0;
        for (v, venue) in sc.venues.iter().enumerate() {
            let mut r = rng(seed, Stream::Layout(next_index));
            let a = uniform(&mut r, 0.0, std::f64::consts::TAU);
            let d = town.centre_radius_m * 0.5 * unit(&mut r).sqrt();
            for room in 0..venue.rooms.len() {
                next_index += 1;
                wifi += 1;
                push(
                    Kind::Footfall,
                    format!("wifi-{wifi:04}"),
                    d * a.cos() + 8.0 * room as f64,
                    d * a.sin() + 5.0 * (room % 2) as f64,
                    venue.interval_s,
                    Uplink::Kerbside,
                    DeviceSpec::Footfall(FootfallSpec {
                        venue: v as u32,
                        room: room as u32,
                    }),
                );
            }
        }
        // Topics and gateways.
        let per = sc.gateways.devices_per_gateway;
        let mut gateways: Vec<Gateway> = Vec::new();
        let mut plain = 0u32;
        let mut plain_slots: Vec<usize> = Vec::new();
        let (mut cs, mut tts) = (None, None);
        for d in &mut devices {
            d.topic = match &d.uplink {
                Uplink::Kerbside => kerbside_reading::topic::reading_topic(d.kind, &d.id),
                Uplink::ChirpStack { dev_eui } => {
                    format!("application/{chirpstack_application}/device/{dev_eui}/event/up")
                }
                Uplink::TheThingsStack => format!(
                    "v3/{}@{}/devices/{}/up",
                    sc.bins.lorawan_application, sc.bins.tts_tenant, d.id
                ),
            };
            let slot = match d.uplink {
                Uplink::Kerbside => {
                    let g = (plain / per) as usize;
                    plain += 1;
                    if g == plain_slots.len() {
                        plain_slots.push(gateways.len());
                        gateways.push(Gateway {
                            name: format!("gw-{:03}", g + 1),
                            devices: 0,
                        });
                    }
                    plain_slots[g]
                }
                Uplink::ChirpStack { .. } => *cs.get_or_insert_with(|| {
                    gateways.push(Gateway {
                        name: "chirpstack".into(),
                        devices: 0,
                    });
                    gateways.len() - 1
                }),
                Uplink::TheThingsStack => *tts.get_or_insert_with(|| {
                    gateways.push(Gateway {
                        name: "tts".into(),
                        devices: 0,
                    });
                    gateways.len() - 1
                }),
            };
            gateways[slot].devices += 1;
            d.gateway = slot as u32;
        }
        let start = sc.start.millis();
        let incidents = sc
            .traffic
            .incidents
            .iter()
            .map(|i| {
                let link = roads.index_of(&i.link).ok_or_else(|| SimError::Scenario {
                    problems: vec![format!(
                        "incident link `{}` is not in the road graph",
                        i.link
                    )],
                })?;
                let start_ms = start + i64::from(i.start_after_mins) * 60_000;
                Ok(Incident {
                    link: link as u32,
                    start_ms,
                    end_ms: start_ms + i64::from(i.duration_mins) * 60_000,
                    speed_factor: i.speed_factor,
                    neighbour_speed_factor: i.neighbour_speed_factor,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let episodes = sc
            .air
            .episodes
            .iter()
            .map(|e| {
                let start_ms = start + i64::from(e.start_after_mins) * 60_000;
                Episode {
                    site: (e.site != "*").then(|| e.site.clone()),
                    pollutant: e.pollutant,
                    peak_ugm3: e.peak_ugm3,
                    start_ms,
                    end_ms: start_ms + i64::from(e.duration_mins) * 60_000,
                }
            })
            .collect();
        Ok(Self {
            scenario,
            seed,
            devices,
            roads,
            gateways,
            incidents,
            episodes,
            footfall_salt,
            chirpstack_application,
        })
    }

    /// The device with `id`, if any.
    pub fn device(&self, id: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.id.as_str() == id)
    }

    /// The asset register as CSV, with exactly [`REGISTER_HEADER`], one row per
    /// device in fleet order.
    pub fn register_csv(&self) -> String {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        let header: Vec<&str> = REGISTER_HEADER.split(',').collect();
        w.write_record(&header).expect("writing to memory");
        for d in &self.devices {
            let (lat, lon) = (d.lat.to_string(), d.lon.to_string());
            let mut row: [String; 12] = Default::default();
            row[0] = d.id.to_string();
            row[1] = d.kind.to_string();
            row[2] = lat;
            row[3] = lon;
            row[4] = d.ward.clone();
            match &d.spec {
                DeviceSpec::Bin(b) => {
                    row[5] = b.capacity_l.to_string();
                    row[6] = b.stream.to_owned();
                }
                DeviceSpec::Traffic(t) => {
                    let link = &self.roads.links[t.link as usize];
                    row[7] = link.id.clone();
                    row[8] = link.free_flow_kph.to_string();
                }
                DeviceSpec::Air(a) => row[9] = a.site.clone(),
                DeviceSpec::Footfall(f) => {
                    let venue = &self.scenario.venues[f.venue as usize];
                    row[10] = venue.name.clone();
                    row[11] = venue.rooms[f.room as usize].clone();
                }
            }
            w.write_record(&row).expect("writing to memory");
        }
        String::from_utf8(w.into_inner().expect("flushing to memory"))
            .expect("CSV of UTF-8 is UTF-8")
    }

    /// The asset register the pipeline will load (parsed from [`Fleet::register_csv`]).
    pub fn asset_register(&self) -> AssetRegister {
        AssetRegister::from_csv(&self.register_csv())
            .expect("the simulator writes a valid register")
    }

    /// Number of devices of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.devices.iter().filter(|d| d.kind == kind).count()
    }
}
