//! A day's collection rounds: the selected bins as a CVRP, solved, and its trips
//! packed into the vehicles' shifts.
//!
//! **Model.** Every trip starts and ends at the tip (the disposal site): a vehicle
//! leaves the depot for its first bin, empties at the tip whenever it is full, and
//! goes back to the depot at the end of its shift. Bins' demands are the litres they
//! hold when the round comes ([`crate::select`]); a vehicle carries `capacity_l` litres
//! of bin volume (after compaction). Distances and times come from a router's road
//! matrix ([`crate::matrix`]) when given, otherwise they are great-circle distances
//! times a detour factor at an average speed; a service time per bin and a time at the
//! tip per trip are added.
//!
//! **Solving.** The trips are the routes of a CVRP whose depot is the tip, solved by
//! [`crate::solve`]. They are then packed into the vehicles' shifts, longest first,
//! each into the vehicle with the least work that still has room (LPT scheduling); a
//! trip no shift has room for is reported, not dropped.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::matrix::{MatrixError, Place, RoadMatrix};
use crate::select::{Selected, Selection};
use crate::{Problem, ProblemError, Progress, SolveError, SolverConfig, solve};

/// Mean Earth radius, metres.
const EARTH_M: f64 = 6_371_008.8;

/// A point, degrees (WGS84).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLon {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
}

/// Great-circle distance, metres (haversine).
pub fn haversine_m(a: LatLon, b: LatLon) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let (dp, dl) = (p2 - p1, (b.lon - a.lon).to_radians());
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_M * h.sqrt().asin()
}

/// The vehicles and the sites (the `[routes.fleet]` section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FleetConfig {
    /// Where vehicles start and end their shift.
    pub depot: LatLon,
    /// Where they empty (the depot if not given).
    pub tip: Option<LatLon>,
    /// Vehicles available per waste stream.
    pub vehicles: usize,
    /// What one vehicle carries per trip, litres of bin volume.
    pub capacity_l: f64,
    /// Shift length, hours.
    pub shift_h: f64,
    /// Time at each bin, seconds.
    pub service_s: f64,
    /// Time at the tip per trip, seconds.
    pub tip_s: f64,
    /// Average speed between stops, km/h.
    pub speed_kph: f64,
    /// Road distance over great-circle distance.
    pub detour_factor: f64,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            depot: LatLon {
                lat: 51.5072,
                lon: -0.1276,
            },
            tip: None,
            vehicles: 4,
            capacity_l: 30_000.0,
            shift_h: 8.0,
            service_s: 60.0,
            tip_s: 1200.0,
            speed_kph: 25.0,
            detour_factor: 1.3,
        }
    }
}

/// What can stop a plan, naming the bin at fault where there is one.
#[derive(Debug, Error)]
pub enum PlanError {
    /// A bin has no usable location.
    #[error("bin {device_id} has no location (lat {lat}, lon {lon})")]
    NoLocation {
        /// The bin.
        device_id: String,
        /// Its latitude.
        lat: f64,
        /// Its longitude.
        lon: f64,
    },
    /// A bin holds more than a vehicle carries.
    #[error(
        "bin {device_id} holds {demand_l:.0} l, more than a vehicle carries ({capacity_l:.0} l)"
    )]
    OverCapacity {
        /// The bin.
        device_id: String,
        /// What it holds.
        demand_l: f64,
        /// What a vehicle carries.
        capacity_l: f64,
    },
    /// The fleet configuration cannot work.
    #[error("fleet: {0}")]
    Fleet(String),
    /// The problem could not be built.
    #[error(transparent)]
    Problem(#[from] ProblemError),
    /// The solver found nothing.
    #[error(transparent)]
    Solve(#[from] SolveError),
    /// The road matrix lacks a place or a road (naming it).
    #[error(transparent)]
    Matrix(#[from] MatrixError),
}

/// One bin on a trip.
#[derive(Debug, Clone, PartialEq)]
pub struct Stop {
    /// The bin as selected.
    pub bin: Selected,
    /// When the vehicle arrives, ms since the epoch.
    pub arrival_ms: i64,
    /// Litres on board after emptying it.
    pub load_l: f64,
}

/// Bins between two visits to the tip.
#[derive(Debug, Clone, PartialEq)]
pub struct Trip {
    /// The bins in order.
    pub stops: Vec<Stop>,
    /// From the depot or tip to the first bin, through every bin, to the tip, metres.
    pub distance_m: f64,
    /// Litres taken to the tip.
    pub load_l: f64,
}

/// One vehicle's shift.
#[derive(Debug, Clone, PartialEq)]
pub struct Round {
    /// Vehicle number, from 1.
    pub vehicle: usize,
    /// The waste stream it collects.
    pub stream: String,
    /// Its trips in order.
    pub trips: Vec<Trip>,
    /// Leaving the depot, ms since the epoch.
    pub start_ms: i64,
    /// Back at the depot, ms since the epoch.
    pub end_ms: i64,
    /// The whole shift's distance, depot to depot, metres.
    pub distance_m: f64,
}

/// A day's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// A round per vehicle used.
    pub rounds: Vec<Round>,
    /// Trips no shift had room for (bins in order), to add a vehicle or shift for.
    pub unassigned: Vec<Vec<Selected>>,
    /// The solver's cost: the trips' distance from tip to tip, metres.
    pub solver_cost_m: i64,
}

impl Plan {
    /// Bins visited.
    pub fn visits(&self) -> usize {
        self.rounds
            .iter()
            .flat_map(|r| &r.trips)
            .map(|t| t.stops.len())
            .sum()
    }

    /// Distance driven, metres.
    pub fn distance_m(&self) -> f64 {
        self.rounds.iter().map(|r| r.distance_m).sum()
    }

    /// Vehicle hours.
    pub fn vehicle_hours(&self) -> f64 {
        self.rounds
            .iter()
            .map(|r| (r.end_ms - r.start_ms) as f64 / 3_600_000.0)
            .sum()
    }
}

/// What a plan is made with besides the bins.
#[derive(Debug, Clone, Copy)]
pub struct PlanInputs<'a> {
    /// The vehicles and sites.
    pub fleet: &'a FleetConfig,
    /// Road distances and times, if a router gave them.
    pub matrix: Option<&'a RoadMatrix>,
    /// When shifts start, ms since the epoch.
    pub start_ms: i64,
    /// The solver's budget, seconds.
    pub seconds: f64,
    /// The solver's seed.
    pub seed: u64,
}

/// Plans each waste stream apart (general waste and recycling never share a
/// vehicle): `fleet.vehicles` and `fleet.capacity_l` are per stream, the search time is
/// shared out by the streams' sizes, and vehicles are numbered across the day.
pub fn plan_by_stream(
    selection: &Selection,
    inputs: &PlanInputs<'_>,
    mut progress: impl FnMut(&Progress),
) -> Result<Plan, PlanError> {
    let mut streams: std::collections::BTreeMap<&str, Selection> = Default::default();
    for s in &selection.selected {
        streams
            .entry(s.bin.stream.as_str())
            .or_default()
            .selected
            .push(s.clone());
    }
    let total = selection.selected.len().max(1) as f64;
    let mut day = Plan {
        rounds: Vec::new(),
        unassigned: Vec::new(),
        solver_cost_m: 0,
    };
    for part in streams.values() {
        let share = inputs.seconds * part.selected.len() as f64 / total;
        let part_inputs = PlanInputs {
            seconds: share.max(0.05),
            ..*inputs
        };
        let p = plan(part, &part_inputs, &mut progress)?;
        let offset = day.rounds.len();
        day.rounds.extend(p.rounds.into_iter().map(|mut r| {
            r.vehicle += offset;
            r
        }));
        day.unassigned.extend(p.unassigned);
        day.solver_cost_m += p.solver_cost_m;
    }
    Ok(day)
}

/// Plans the rounds of the day for the bins of `selection` (one stream: see
/// [`plan_by_stream`]).
pub fn plan(
    selection: &Selection,
    inputs: &PlanInputs<'_>,
    progress: impl FnMut(&Progress),
) -> Result<Plan, PlanError> {
    let PlanInputs {
        fleet,
        matrix,
        start_ms,
        seconds,
        seed,
    } = *inputs;
    if fleet.vehicles == 0 || fleet.capacity_l <= 0.0 || fleet.speed_kph <= 0.0 {
        return Err(PlanError::Fleet(
            "vehicles, capacity_l and speed_kph must be positive".into(),
        ));
    }
    let tip = fleet.tip.unwrap_or(fleet.depot);
    let bins: Vec<&Selected> = selection.selected.iter().collect();
    for s in &bins {
        let b = &s.bin;
        let placed = b.lat.is_finite() && b.lon.is_finite() && (-90.0..=90.0).contains(&b.lat);
        // (0, 0) is in the Gulf of Guinea: a register's missing value, not a bin.
        if !placed || (b.lat == 0.0 && b.lon == 0.0) {
            return Err(PlanError::NoLocation {
                device_id: b.device_id.clone(),
                lat: b.lat,
                lon: b.lon,
            });
        }
        if s.demand_l > fleet.capacity_l {
            return Err(PlanError::OverCapacity {
                device_id: b.device_id.clone(),
                demand_l: s.demand_l,
                capacity_l: fleet.capacity_l,
            });
        }
    }
    // Places: the tip (the solver's depot, node 0), the bins (1..=n), the depot (n + 1).
    let n = bins.len();
    let mut places: Vec<Place<'_>> = vec![Place {
        name: "tip",
        at: tip,
    }];
    places.extend(bins.iter().map(|s| Place {
        name: s.bin.device_id.as_str(),
        at: LatLon {
            lat: s.bin.lat,
            lon: s.bin.lon,
        },
    }));
    places.push(Place {
        name: "depot",
        at: fleet.depot,
    });
    let legs = Legs::new(&places, fleet, matrix)?;
    let (depot_node, tip_node) = (n + 1, 0);

    let demands: Vec<u32> = std::iter::once(0)
        // Whole litres, rounded up, and at least one: a bin visited is a stop.
        .chain(bins.iter().map(|s| (s.demand_l.ceil() as u32).max(1)))
        .collect();
    let dist: Vec<u32> = (0..=n)
        .flat_map(|i| (0..=n).map(move |j| (i, j)))
        .map(|(i, j)| legs.m(i, j).round() as u32)
        .collect();
    // The solver's SWAP* works on polar angles around the tip: positions on a plane.
    let project = |p: LatLon| {
        (
            EARTH_M * (p.lon - tip.lon).to_radians() * tip.lat.to_radians().cos(),
            EARTH_M * (p.lat - tip.lat).to_radians(),
        )
    };
    let coords: Vec<(f64, f64)> = places[..=n].iter().map(|p| project(p.at)).collect();
    let problem =
        Problem::new(demands, dist, fleet.capacity_l.floor() as u32)?.with_coords(coords)?;
    let solution = solve(
        &problem,
        &SolverConfig {
            time_limit: Duration::from_secs_f64(seconds),
            seed,
            ..SolverConfig::default()
        },
        progress,
    )?;

    // A trip's duration from `from` (the depot for a shift's first, else the tip).
    let trip_secs = |route: &[usize], from: usize| -> f64 {
        let mut t = 0.0;
        let mut here = from;
        for &i in route {
            t += legs.s(here, i) + fleet.service_s;
            here = i;
        }
        t + legs.s(here, tip_node) + fleet.tip_s
    };
    let shift_s = fleet.shift_h * 3600.0;
    let back_s = legs.s(tip_node, depot_node);
    // Longest first, each to the least-loaded vehicle with room (its first trip is
    // costed from the depot; every shift ends driving back).
    let mut order: Vec<&Vec<usize>> = solution.routes.iter().collect();
    order.sort_by(|a, b| trip_secs(b, tip_node).total_cmp(&trip_secs(a, tip_node)));
    let mut work: Vec<(f64, Vec<&Vec<usize>>)> = vec![(0.0, Vec::new()); fleet.vehicles];
    let mut unassigned = Vec::new();
    for route in order {
        let from = |trips: &Vec<&Vec<usize>>| {
            if trips.is_empty() {
                depot_node
            } else {
                tip_node
            }
        };
        let best = work
            .iter_mut()
            .filter(|(w, trips)| w + trip_secs(route, from(trips)) + back_s <= shift_s)
            .min_by(|a, b| a.0.total_cmp(&b.0));
        match best {
            Some(v) => {
                v.0 += trip_secs(route, from(&v.1));
                v.1.push(route);
            }
            None => unassigned.push(route.iter().map(|&i| bins[i - 1].clone()).collect()),
        }
    }

    let stream = bins
        .first()
        .map(|s| s.bin.stream.clone())
        .unwrap_or_default();
    let mut rounds = Vec::new();
    for (w, (_, routes)) in work.into_iter().enumerate() {
        if routes.is_empty() {
            continue;
        }
        let (mut clock_s, mut total_m) = (0.0, 0.0);
        let mut here = depot_node;
        let mut trips = Vec::new();
        for route in routes {
            let (mut trip_m, mut load) = (0.0, 0.0);
            let mut stops = Vec::new();
            for &i in route {
                let s = bins[i - 1];
                trip_m += legs.m(here, i);
                clock_s += legs.s(here, i);
                load += s.demand_l;
                stops.push(Stop {
                    bin: s.clone(),
                    arrival_ms: start_ms + (clock_s * 1000.0) as i64,
                    load_l: load,
                });
                clock_s += fleet.service_s;
                here = i;
            }
            trip_m += legs.m(here, tip_node);
            clock_s += legs.s(here, tip_node) + fleet.tip_s;
            here = tip_node;
            total_m += trip_m;
            trips.push(Trip {
                stops,
                distance_m: trip_m,
                load_l: load,
            });
        }
        total_m += legs.m(here, depot_node);
        clock_s += legs.s(here, depot_node);
        rounds.push(Round {
            vehicle: w + 1,
            stream: stream.clone(),
            trips,
            start_ms,
            end_ms: start_ms + (clock_s * 1000.0) as i64,
            distance_m: total_m,
        });
    }
    Ok(Plan {
        rounds,
        unassigned,
        solver_cost_m: solution.cost,
    })
}

/// Distances (metres) and times (seconds) between every two places: from the road
/// matrix if given (times at `speed_kph` where it has none), else great-circle
/// distance times the detour factor at `speed_kph`.
struct Legs {
    n: usize,
    m: Vec<f32>,
    s: Vec<f32>,
}

impl Legs {
    fn new(
        places: &[Place<'_>],
        fleet: &FleetConfig,
        matrix: Option<&RoadMatrix>,
    ) -> Result<Self, PlanError> {
        let n = places.len();
        let speed = fleet.speed_kph / 3.6;
        let index = match matrix {
            Some(mx) => mx.match_places(places)?,
            None => None,
        };
        let (mut m, mut s) = (Vec::with_capacity(n * n), Vec::with_capacity(n * n));
        for (i, a) in places.iter().enumerate() {
            for (j, b) in places.iter().enumerate() {
                let (d, t) = match matrix {
                    Some(mx) => mx.leg(*a, *b, index.as_ref().map(|ix| (ix[i], ix[j])))?,
                    None => (haversine_m(a.at, b.at) * fleet.detour_factor, None),
                };
                m.push(d as f32);
                s.push(t.unwrap_or(d / speed) as f32);
            }
        }
        Ok(Legs { n, m, s })
    }

    fn m(&self, i: usize, j: usize) -> f64 {
        f64::from(self.m[i * self.n + j])
    }

    fn s(&self, i: usize, j: usize) -> f64 {
        f64::from(self.s[i * self.n + j])
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::select::{BinState, SelectionConfig, select};

    const H: i64 = 3_600_000;

    /// Shifts starting at hour 30, seed 1.
    fn at_30h<'a>(
        fleet: &'a FleetConfig,
        matrix: Option<&'a RoadMatrix>,
        seconds: f64,
    ) -> PlanInputs<'a> {
        PlanInputs {
            fleet,
            matrix,
            start_ms: 30 * H,
            seconds,
            seed: 1,
        }
    }

    /// Plans `selection` with shifts starting at hour 30, seed 1.
    pub(crate) fn plan_at_30h(
        selection: &Selection,
        fleet: &FleetConfig,
        matrix: Option<&RoadMatrix>,
        seconds: f64,
    ) -> Result<Plan, PlanError> {
        plan(selection, &at_30h(fleet, matrix, seconds), |_| {})
    }

    /// [`plan_at_30h`], each stream apart.
    fn plan_streams_at_30h(
        selection: &Selection,
        fleet: &FleetConfig,
        seconds: f64,
    ) -> Result<Plan, PlanError> {
        plan_by_stream(selection, &at_30h(fleet, None, seconds), |_| {})
    }

    /// `n` bins on a grid around (52.2, 0.12), each `fill` % full of `capacity`
    /// litres and filling fast enough to be chosen.
    pub(crate) fn town(n: usize, fill: f64, capacity: f64) -> Vec<BinState> {
        (0..n)
            .map(|i| BinState {
                device_id: format!("bin-{i:04}"),
                ward: "Abbey & Castle".into(),
                stream: "general".into(),
                lat: 52.2 + (i / 10) as f64 * 0.002,
                lon: 0.12 + (i % 10) as f64 * 0.003,
                capacity_l: capacity,
                fill_pct: fill,
                fill_rate_pct_h: Some(2.0),
                observed_ms: 0,
                fire: false,
                tilt: false,
            })
            .collect()
    }

    pub(crate) fn fleet() -> FleetConfig {
        FleetConfig {
            depot: LatLon {
                lat: 52.19,
                lon: 0.11,
            },
            tip: Some(LatLon {
                lat: 52.21,
                lon: 0.16,
            }),
            vehicles: 3,
            capacity_l: 3000.0,
            ..FleetConfig::default()
        }
    }

    /// Every selected bin exactly once, every trip within capacity, every shift
    /// within its hours, arrivals in order: checked independently of the planner.
    fn check(plan: &Plan, selection: &Selection, fleet: &FleetConfig) {
        let mut seen: Vec<&str> = plan
            .rounds
            .iter()
            .flat_map(|r| &r.trips)
            .flat_map(|t| &t.stops)
            .map(|s| s.bin.bin.device_id.as_str())
            .chain(
                plan.unassigned
                    .iter()
                    .flatten()
                    .map(|s| s.bin.device_id.as_str()),
            )
            .collect();
        seen.sort_unstable();
        let mut want: Vec<&str> = selection
            .selected
            .iter()
            .map(|s| s.bin.device_id.as_str())
            .collect();
        want.sort_unstable();
        assert_eq!(seen, want, "every selected bin once");
        let mut per_stream: std::collections::BTreeMap<&str, usize> = Default::default();
        for r in &plan.rounds {
            *per_stream.entry(r.stream.as_str()).or_default() += 1;
        }
        assert!(
            per_stream.values().all(|n| *n <= fleet.vehicles),
            "{per_stream:?}"
        );
        for r in &plan.rounds {
            assert!(
                (r.end_ms - r.start_ms) as f64 <= fleet.shift_h * 3_600_000.0 + 1.0,
                "vehicle {} works {} h",
                r.vehicle,
                (r.end_ms - r.start_ms) as f64 / 3_600_000.0
            );
            let mut last = r.start_ms;
            for t in &r.trips {
                let load: f64 = t.stops.iter().map(|s| s.bin.demand_l).sum();
                assert!(load <= fleet.capacity_l, "trip over capacity: {load}");
                assert!((t.load_l - load).abs() < 1e-6);
                for s in &t.stops {
                    assert!(s.arrival_ms > last, "arrivals in order");
                    last = s.arrival_ms;
                }
            }
            let sum: f64 = r.trips.iter().map(|t| t.distance_m).sum();
            assert!(r.distance_m > sum, "the way back to the depot counts");
        }
    }

    #[test]
    fn a_towns_bins_are_planned_into_trips_and_shifts_that_check_out() {
        let bins = town(60, 70.0, 240.0);
        let selection = select(&bins, 30 * H, &SelectionConfig::default());
        assert_eq!(selection.selected.len(), 60);
        let fleet = fleet();
        let p = plan_at_30h(&selection, &fleet, None, 0.5).unwrap();
        check(&p, &selection, &fleet);
        assert!(p.unassigned.is_empty());
        assert_eq!(p.visits(), 60);
        // 60 bins of ~230 l each in 3,000 l trips: at least 5 trips.
        let trips: usize = p.rounds.iter().map(|r| r.trips.len()).sum();
        assert!(trips >= 5, "{trips} trips");
        assert!(p.distance_m() > 0.0 && p.vehicle_hours() > 0.0);
    }

    #[test]
    fn trips_no_shift_has_room_for_are_reported_not_dropped() {
        let bins = town(60, 70.0, 240.0);
        let selection = select(&bins, 30 * H, &SelectionConfig::default());
        let fleet = FleetConfig {
            vehicles: 1,
            shift_h: 1.5,
            ..fleet()
        };
        let p = plan_at_30h(&selection, &fleet, None, 0.3).unwrap();
        check(&p, &selection, &fleet);
        assert!(!p.unassigned.is_empty());
    }

    #[test]
    fn a_bin_without_a_location_or_too_big_is_named() {
        let mut bins = town(3, 70.0, 240.0);
        bins[1].lat = f64::NAN;
        let selection = select(&bins, 30 * H, &SelectionConfig::default());
        let err = plan_at_30h(&selection, &fleet(), None, 0.1).unwrap_err();
        assert!(err.to_string().contains("bin-0001"), "{err}");
        let bins = town(3, 70.0, 5000.0);
        let selection = select(&bins, 30 * H, &SelectionConfig::default());
        let err = plan_at_30h(&selection, &fleet(), None, 0.1).unwrap_err();
        assert!(matches!(err, PlanError::OverCapacity { .. }), "{err}");
        assert!(err.to_string().contains("bin-0000"), "{err}");
    }

    #[test]
    fn streams_are_planned_apart_and_vehicles_numbered_across_the_day() {
        let mut bins = town(40, 70.0, 240.0);
        for b in bins.iter_mut().skip(1).step_by(2) {
            b.stream = "recycling".into();
        }
        let selection = select(&bins, 30 * H, &SelectionConfig::default());
        let fleet = fleet();
        let p = plan_streams_at_30h(&selection, &fleet, 0.4).unwrap();
        check(&p, &selection, &fleet);
        let vehicles: Vec<usize> = p.rounds.iter().map(|r| r.vehicle).collect();
        assert_eq!(vehicles, (1..=p.rounds.len()).collect::<Vec<_>>());
        let mut seen = std::collections::BTreeSet::new();
        for r in &p.rounds {
            seen.insert(r.stream.as_str());
            for t in &r.trips {
                assert!(
                    t.stops.iter().all(|s| s.bin.bin.stream == r.stream),
                    "a {} vehicle took another stream's bin",
                    r.stream
                );
            }
        }
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            ["general", "recycling"]
        );
    }

    #[test]
    fn a_road_matrix_gives_the_distances_and_a_missing_road_names_the_bin() {
        let bins = town(12, 70.0, 240.0);
        let selection = select(&bins, 30 * H, &SelectionConfig::default());
        let fleet = fleet();
        let tip = fleet.tip.unwrap();
        // A router's matrix: every leg exactly 1,000 m and 100 s.
        let mut names: Vec<(String, LatLon)> =
            vec![("depot".into(), fleet.depot), ("tip".into(), tip)];
        names.extend(bins.iter().map(|b| {
            (
                b.device_id.clone(),
                LatLon {
                    lat: b.lat,
                    lon: b.lon,
                },
            )
        }));
        let mut csv = String::from("from,to,distance_m,duration_s\n");
        for (a, _) in &names {
            for (b, _) in &names {
                csv.push_str(&format!("{a},{b},1000,100\n"));
            }
        }
        let m = RoadMatrix::parse(&csv).unwrap();
        let p = plan_at_30h(&selection, &fleet, Some(&m), 0.3).unwrap();
        check(&p, &selection, &fleet);
        // Each trip: a leg to each bin and one to the tip; each round: one back.
        for r in &p.rounds {
            for t in &r.trips {
                assert_eq!(t.distance_m, 1000.0 * (t.stops.len() + 1) as f64);
            }
            let legs: usize = r.trips.iter().map(|t| t.stops.len() + 1).sum::<usize>() + 1;
            assert_eq!(r.distance_m, 1000.0 * legs as f64);
            let stops: usize = r.trips.iter().map(|t| t.stops.len()).sum();
            let want_s = 100.0 * legs as f64
                + fleet.service_s * stops as f64
                + fleet.tip_s * r.trips.len() as f64;
            assert!(((r.end_ms - r.start_ms) as f64 / 1000.0 - want_s).abs() < 1.0);
        }
        let gap = csv.replace("bin-0003,tip,1000,100", "bin-0003,tip,,");
        let m = RoadMatrix::parse(&gap).unwrap();
        let err = plan_at_30h(&selection, &fleet, Some(&m), 0.1).unwrap_err();
        assert_eq!(err.to_string(), "road matrix: no road from bin-0003 to tip");
    }

    #[test]
    fn haversine_matches_a_known_distance() {
        // London to Cambridge, about 79 km as the crow flies.
        let d = haversine_m(
            LatLon {
                lat: 51.5072,
                lon: -0.1276,
            },
            LatLon {
                lat: 52.2053,
                lon: 0.1218,
            },
        );
        assert!((d - 79_000.0).abs() < 1_500.0, "{d}");
    }
}
