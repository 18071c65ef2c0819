//! The scenario: what fleet to simulate, for how long, and which faults to inject.
//!
//! A scenario is a TOML file. Every key has a default (given in its doc comment),
//! unknown keys are refused, and durations and rates carry their unit in the name.
//! [`Scenario::validate`] lists every unusable value at once.
//!
//! ```toml
//! name = "tiny"
//! start = "2026-11-23T00:00:00Z"   # a quoted RFC 3339 string
//! duration_mins = 1440
//!
//! [town]
//! lat = 52.2053
//! lon = 0.1218
//! wards = 6
//!
//! [bins]
//! count = 20
//!
//! [[traffic.incidents]]
//! link = "link-003"
//! start_after_mins = 480
//! duration_mins = 90
//! ```

use std::path::Path;

use kerbside_reading::EventTime;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SimError};
use crate::faults::FaultRates;

/// A whole scenario (the TOML file's top level).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// A name for reports and the ground truth. Default `"scenario"`.
    pub name: String,
    /// The seed used when the command line gives none. Default 1.
    pub seed: u64,
    /// Simulated start time, a quoted RFC 3339 string. Default
    /// `"2026-11-23T00:00:00Z"` (a Monday). In real-time mode without `--start`
    /// the command line starts at the current time instead.
    pub start: EventTime,
    /// Simulated duration, minutes. Default 1,440 (one day).
    pub duration_mins: u32,
    /// The town: centre, size and wards.
    pub town: TownConfig,
    /// Smart bins.
    pub bins: BinsConfig,
    /// Traffic counters, the road links they sit on, and scripted incidents.
    pub traffic: TrafficConfig,
    /// Air-quality nodes and scripted pollution episodes.
    pub air: AirConfig,
    /// Venues with wifi footfall sensors, one per room. Default: none.
    pub venues: Vec<VenueConfig>,
    /// How devices are grouped behind MQTT gateways.
    pub gateways: GatewayConfig,
    /// Fault injection rates (probability per reading). Default: all zero.
    pub faults: FaultRates,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            name: "scenario".into(),
            seed: 1,
            start: EventTime::from_millis(1_795_392_000_000).expect("a valid constant"),
            duration_mins: 1440,
            town: TownConfig::default(),
            bins: BinsConfig::default(),
            traffic: TrafficConfig::default(),
            air: AirConfig::default(),
            venues: Vec::new(),
            gateways: GatewayConfig::default(),
            faults: FaultRates::default(),
        }
    }
}

/// The town the fleet sits in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TownConfig {
    /// Town name, used in ward names and reports. Default `"Kerbside"`.
    pub name: String,
    /// Latitude of the town centre, WGS84 degrees. Default 52.2053.
    pub lat: f64,
    /// Longitude of the town centre, WGS84 degrees. Default 0.1218.
    pub lon: f64,
    /// Radius of the area devices are placed in, metres. Default 3,000.
    pub radius_m: f64,
    /// Radius of the town centre (busy litter bins, venues), metres. Default 600.
    pub centre_radius_m: f64,
    /// Number of electoral wards (sectors around the centre). Default 6.
    pub wards: u32,
}

impl Default for TownConfig {
    fn default() -> Self {
        Self {
            name: "Kerbside".into(),
            lat: 52.2053,
            lon: 0.1218,
            radius_m: 3000.0,
            centre_radius_m: 600.0,
            wards: 6,
        }
    }
}

/// Smart bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BinsConfig {
    /// Number of bins. Default 0.
    pub count: u32,
    /// Reporting interval, seconds. Default 1,800 (30 min).
    pub interval_secs: u32,
    /// Share of bins in the town centre (litter bins, fill faster). Default 0.25.
    pub centre_share: f64,
    /// Share of bins that report through a LoRaWAN network server instead of
    /// kerbside's own topic (valid uplinks, not faults). Default 0.3.
    pub lorawan_share: f64,
    /// Of the LoRaWAN bins, the share on ChirpStack v4; the rest use The Things
    /// Stack v3. Default 0.5.
    pub chirpstack_share: f64,
    /// LoRaWAN application id (TTS) / application name. Default `"kerbside-bins"`.
    pub lorawan_application: String,
    /// The Things Stack tenant (topic `v3/{app}@{tenant}/...`). Default `"council"`.
    pub tts_tenant: String,
    /// Days between fixed-schedule collections of each bin (staggered by ward);
    /// 0 turns the fixed schedule off (only a rounds file empties bins). Default 7.
    pub collection_every_days: u32,
    /// Minutes after the start at which a bin listed in a rounds file without an
    /// arrival time is emptied. Default 540 (09:00 on day one from midnight).
    pub rounds_default_after_mins: u32,
    /// Share of bins whose battery is failing (drains fast, then the bin goes
    /// quiet). Default 0.01.
    pub failing_battery_share: f64,
    /// Probability per reading that someone dumps extra waste (+15–35 %). Default 0.002.
    pub dump_rate: f64,
    /// Probability per reading that a bin is knocked over (tilted for 2–12 h). Default 0.0005.
    pub tilt_rate: f64,
    /// Probability per reading that a bin reports a fire. Default 0.00005.
    pub fire_rate: f64,
}

impl Default for BinsConfig {
    fn default() -> Self {
        Self {
            count: 0,
            interval_secs: 1800,
            centre_share: 0.25,
            lorawan_share: 0.3,
            chirpstack_share: 0.5,
            lorawan_application: "kerbside-bins".into(),
            tts_tenant: "council".into(),
            collection_every_days: 7,
            rounds_default_after_mins: 540,
            failing_battery_share: 0.01,
            dump_rate: 0.002,
            tilt_rate: 0.0005,
            fire_rate: 0.00005,
        }
    }
}

/// Traffic counters: one per road link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrafficConfig {
    /// Number of counters (and of road links, `link-001` ...). Default 0.
    pub count: u32,
    /// Counting interval, seconds. Default 60.
    pub interval_s: u32,
    /// Radial roads out of the centre in the generated road graph. Default 6.
    pub spokes: u32,
    /// Scripted incidents (lane closures). Default: none.
    pub incidents: Vec<IncidentConfig>,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        Self {
            count: 0,
            interval_s: 60,
            spokes: 6,
            incidents: Vec::new(),
        }
    }
}

/// A lane closure on one link, felt on its neighbours too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentConfig {
    /// The link, e.g. `"link-007"`.
    pub link: String,
    /// Minutes after the scenario start at which it begins.
    pub start_after_mins: u32,
    /// How long it lasts, minutes.
    pub duration_mins: u32,
    /// Share of free-flow speed left on the link itself. Default 0.3.
    #[serde(default = "default_incident_speed")]
    pub speed_factor: f64,
    /// Share of free-flow speed left on neighbouring links. Default 0.6.
    #[serde(default = "default_neighbour_speed")]
    pub neighbour_speed_factor: f64,
}

fn default_incident_speed() -> f64 {
    0.3
}

fn default_neighbour_speed() -> f64 {
    0.6
}

/// Air-quality nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AirConfig {
    /// Number of nodes (sites `aqs-01` ...). Default 0.
    pub count: u32,
    /// Reporting interval, seconds. Default 300.
    pub interval_secs: u32,
    /// Largest sensor drift, percent per day (each node draws its own, either
    /// sign). Default 2.
    pub drift_max_pct_per_day: f64,
    /// Probability per reading that a sensor channel (PM or gas) drops out for
    /// 30–180 minutes. Default 0.002.
    pub dropout_rate: f64,
    /// Scripted pollution episodes. Default: none.
    pub episodes: Vec<EpisodeConfig>,
}

impl Default for AirConfig {
    fn default() -> Self {
        Self {
            count: 0,
            interval_secs: 300,
            drift_max_pct_per_day: 2.0,
            dropout_rate: 0.002,
            episodes: Vec::new(),
        }
    }
}

/// A pollutant a scripted episode raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pollutant {
    /// PM2.5 (DAQI High from a 24 h mean of 54 µg/m³).
    Pm25,
    /// PM10 (DAQI High from a 24 h mean of 76 µg/m³).
    Pm10,
    /// Nitrogen dioxide (DAQI High from an hourly mean of 401 µg/m³).
    No2,
    /// Ozone (DAQI High from an 8 h running mean of 161 µg/m³).
    O3,
}

/// A pollution episode at one site (or all of them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpisodeConfig {
    /// The site, e.g. `"aqs-03"`, or `"*"` for every site (a regional episode).
    pub site: String,
    /// The pollutant raised. Default `pm25`.
    #[serde(default = "default_pollutant")]
    pub pollutant: Pollutant,
    /// Concentration at the plateau, µg/m³.
    pub peak_ugm3: f64,
    /// Minutes after the scenario start at which it begins (it ramps up over an hour).
    pub start_after_mins: u32,
    /// How long it lasts, minutes (including the ramps).
    pub duration_mins: u32,
}

fn default_pollutant() -> Pollutant {
    Pollutant::Pm25
}

/// A venue with one wifi footfall sensor per room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VenueConfig {
    /// Venue name as it appears in the asset register. Default `"museum"`.
    pub name: String,
    /// Room names; the first is the entrance every visitor passes. Default six galleries.
    pub rooms: Vec<String>,
    /// Opening hour (UTC, 0–23). Default 10.
    pub open_hour: u32,
    /// Closing hour (UTC, 1–24, after `open_hour`). Default 17.
    pub close_hour: u32,
    /// Expected visitors on a weekday. Default 600.
    pub weekday_visitors: u32,
    /// Expected visitors on a Saturday or Sunday. Default 1,000.
    pub weekend_visitors: u32,
    /// Mean time a visitor spends in one room, minutes. Default 8.
    pub mean_dwell_mins: f64,
    /// Staff phones present through opening hours (plus half an hour either side). Default 3.
    pub staff: u32,
    /// Share of phones that randomise their MAC address (a new pseudonym every
    /// interval). Default 0.3.
    pub randomised_mac_share: f64,
    /// Chance a present phone is seen in an interval. Default 0.85.
    pub detection_probability: f64,
    /// Reporting interval, seconds. Default 60.
    pub interval_s: u32,
}

impl Default for VenueConfig {
    fn default() -> Self {
        Self {
            name: "museum".into(),
            rooms: [
                "entrance-hall",
                "egyptian-gallery",
                "roman-gallery",
                "natural-history",
                "modern-art",
                "cafe",
            ]
            .map(String::from)
            .to_vec(),
            open_hour: 10,
            close_hour: 17,
            weekday_visitors: 600,
            weekend_visitors: 1000,
            mean_dwell_mins: 8.0,
            staff: 3,
            randomised_mac_share: 0.3,
            detection_probability: 0.85,
            interval_s: 60,
        }
    }
}

/// How devices share MQTT connections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Devices behind one gateway (one MQTT client each). LoRaWAN bins come
    /// through one client per network server instead. Default 250.
    pub devices_per_gateway: u32,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            devices_per_gateway: 250,
        }
    }
}

impl Scenario {
    /// Parses a scenario from TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self> {
        let s: Scenario = toml::from_str(text).map_err(|e| SimError::ScenarioSyntax {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        s.validate()?;
        Ok(s)
    }

    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| SimError::io("reading", path, e))?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// The end of the simulated period (exclusive), epoch ms.
    pub fn end_ms(&self) -> i64 {
        self.start.millis() + i64::from(self.duration_mins) * 60_000
    }

    /// Checks every value and lists all problems at once.
    pub fn validate(&self) -> Result<()> {
        let mut p = Vec::new();
        let mut share = |key: &str, v: f64| {
            if !(0.0..=1.0).contains(&v) {
                p.push(format!("`{key}` = {v} must be between 0 and 1"));
            }
        };
        share("bins.centre_share", self.bins.centre_share);
        share("bins.lorawan_share", self.bins.lorawan_share);
        share("bins.chirpstack_share", self.bins.chirpstack_share);
        share(
            "bins.failing_battery_share",
            self.bins.failing_battery_share,
        );
        share("bins.dump_rate", self.bins.dump_rate);
        share("bins.tilt_rate", self.bins.tilt_rate);
        share("bins.fire_rate", self.bins.fire_rate);
        share("air.dropout_rate", self.air.dropout_rate);
        for (i, v) in self.venues.iter().enumerate() {
            share(
                &format!("venues[{i}].randomised_mac_share"),
                v.randomised_mac_share,
            );
            share(
                &format!("venues[{i}].detection_probability"),
                v.detection_probability,
            );
        }
        for (i, inc) in self.traffic.incidents.iter().enumerate() {
            share(
                &format!("traffic.incidents[{i}].speed_factor"),
                inc.speed_factor,
            );
            share(
                &format!("traffic.incidents[{i}].neighbour_speed_factor"),
                inc.neighbour_speed_factor,
            );
        }
        p.extend(self.faults.problems());
        if self.duration_mins == 0 {
            p.push("`duration_mins` must be at least 1".into());
        }
        if self.start.millis() + i64::from(self.duration_mins) * 60_000
            >= EventTime::MAX_MS - 86_400_000
        {
            p.push("`start` plus `duration_mins` must end before the year 3000".into());
        }
        if !(-80.0..=80.0).contains(&self.town.lat) {
            p.push(format!(
                "`town.lat` = {} must be between -80 and 80",
                self.town.lat
            ));
        }
        if !(-180.0..=180.0).contains(&self.town.lon) {
            p.push(format!(
                "`town.lon` = {} must be between -180 and 180",
                self.town.lon
            ));
        }
        if !(self.town.radius_m > 0.0 && self.town.radius_m <= 50_000.0) {
            p.push(format!(
                "`town.radius_m` = {} must be in (0, 50000]",
                self.town.radius_m
            ));
        }
        if !(self.town.centre_radius_m > 0.0 && self.town.centre_radius_m < self.town.radius_m) {
            p.push(format!(
                "`town.centre_radius_m` = {} must be positive and below `town.radius_m`",
                self.town.centre_radius_m
            ));
        }
        if self.town.wards == 0 {
            p.push("`town.wards` must be at least 1".into());
        }
        let interval = |p: &mut Vec<String>, key: &str, v: u32| {
            if !(1..=86_400).contains(&v) {
                p.push(format!("`{key}` = {v} must be between 1 and 86400 seconds"));
            }
        };
        interval(&mut p, "bins.interval_secs", self.bins.interval_secs);
        interval(&mut p, "traffic.interval_s", self.traffic.interval_s);
        interval(&mut p, "air.interval_secs", self.air.interval_secs);
        if self.traffic.interval_s > 3600 {
            p.push("`traffic.interval_s` must be at most 3600".into());
        }
        if self.traffic.spokes < 3 {
            p.push("`traffic.spokes` must be at least 3".into());
        }
        for (i, inc) in self.traffic.incidents.iter().enumerate() {
            let known = crate::roads::link_number(&inc.link)
                .is_some_and(|n| n >= 1 && n <= self.traffic.count as usize);
            if !known {
                p.push(format!(
                    "`traffic.incidents[{i}].link` = `{}` is not a link of this fleet (link-001 to link-{:03})",
                    inc.link, self.traffic.count
                ));
            }
            if inc.duration_mins == 0 {
                p.push(format!(
                    "`traffic.incidents[{i}].duration_mins` must be at least 1"
                ));
            }
        }
        for (i, ep) in self.air.episodes.iter().enumerate() {
            let known = ep.site == "*"
                || crate::fleet::site_number(&ep.site)
                    .is_some_and(|n| n >= 1 && n <= self.air.count as usize);
            if !known {
                p.push(format!(
                    "`air.episodes[{i}].site` = `{}` is not a site of this fleet (aqs-01 to aqs-{:02}, or \"*\")",
                    ep.site, self.air.count
                ));
            }
            if !(ep.peak_ugm3 > 0.0 && ep.peak_ugm3 <= kerbside_reading::air::MAX_UGM3) {
                p.push(format!(
                    "`air.episodes[{i}].peak_ugm3` = {} must be in (0, 5000]",
                    ep.peak_ugm3
                ));
            }
            if ep.duration_mins < 120 {
                p.push(format!(
                    "`air.episodes[{i}].duration_mins` must be at least 120 (an hour's ramp each way)"
                ));
            }
        }
        for (i, v) in self.venues.iter().enumerate() {
            if v.rooms.is_empty() {
                p.push(format!("`venues[{i}].rooms` must name at least one room"));
            }
            if !(v.open_hour < v.close_hour && v.close_hour <= 24) {
                p.push(format!(
                    "`venues[{i}]` opening hours {}–{} must satisfy open < close <= 24",
                    v.open_hour, v.close_hour
                ));
            }
            if v.mean_dwell_mins.is_nan() || v.mean_dwell_mins <= 0.0 {
                p.push(format!("`venues[{i}].mean_dwell_mins` must be positive"));
            }
            interval(&mut p, &format!("venues[{i}].interval_s"), v.interval_s);
            let names = [v.name.as_str()]
                .into_iter()
                .chain(v.rooms.iter().map(String::as_str));
            for n in names {
                if n.is_empty() || n.contains([',', '"', '\n', '\r']) {
                    p.push(format!(
                        "`venues[{i}]`: name `{n}` must be non-empty without commas, quotes or newlines"
                    ));
                }
            }
        }
        if self.gateways.devices_per_gateway == 0 {
            p.push("`gateways.devices_per_gateway` must be at least 1".into());
        }
        for (key, v) in [
            ("bins.lorawan_application", &self.bins.lorawan_application),
            ("bins.tts_tenant", &self.bins.tts_tenant),
        ] {
            if kerbside_reading::DeviceId::check(v).is_err() {
                p.push(format!("`{key}` = `{v}` must match [A-Za-z0-9._-]{{1,64}}"));
            }
        }
        if self.town.name.contains([',', '"', '\n', '\r']) {
            p.push("`town.name` must not contain commas, quotes or newlines".into());
        }
        if p.is_empty() {
            Ok(())
        } else {
            Err(SimError::Scenario { problems: p })
        }
    }
}
