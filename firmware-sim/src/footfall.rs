//! Wifi footfall: visitors arrive in opening hours, walk between rooms, dwell and
//! leave; each room's sensor reports the salted-hash pseudonyms it saw in the last
//! interval. Salts rotate daily, and phones that randomise their MAC address show a
//! new pseudonym every interval.

use kerbside_reading::Pseudonym;
use kerbside_reading::footfall::FootfallReading;
use rand::RngExt as _;

use crate::rng::{
    MS_PER_DAY, SimRng, bump, chance, day_index, exponential, index, is_weekend, mix64, poisson,
    salted_hash, uniform, unit,
};
use crate::scenario::VenueConfig;

/// One phone's stay in one room.
#[derive(Debug, Clone, Copy)]
struct Stay {
    enter_ms: i64,
    leave_ms: i64,
    /// The phone's (hardware) MAC address, as a number.
    phone: u64,
    /// The phone randomises its MAC address.
    randomising: bool,
}

/// One room's stays for the current day, with a cursor for the sensor sweeping through.
#[derive(Debug, Clone, Default)]
struct RoomDay {
    stays: Vec<Stay>,
    cursor: usize,
    active: Vec<Stay>,
}

/// A venue's visitors, generated a day at a time.
#[derive(Debug)]
pub(crate) struct VenueState {
    day: i64,
    rooms: Vec<RoomDay>,
    rng: SimRng,
    /// Visitors generated per day so far (for the ground truth).
    pub(crate) visitors: Vec<(i64, u32)>,
}

impl VenueState {
    /// A venue whose visitors are drawn from `rng`.
    pub(crate) fn new(rooms: usize, rng: SimRng) -> Self {
        Self {
            day: i64::MIN,
            rooms: vec![RoomDay::default(); rooms],
            rng,
            visitors: Vec::new(),
        }
    }

    /// Generates `day`'s visits.
    fn plan_day(&mut self, cfg: &VenueConfig, day: i64) {
        let r = &mut self.rng;
        let n_rooms = cfg.rooms.len();
        for room in &mut self.rooms {
            *room = RoomDay::default();
        }
        let day_ms = day * MS_PER_DAY;
        let open = day_ms + i64::from(cfg.open_hour) * 3_600_000;
        let close = day_ms + i64::from(cfg.close_hour) * 3_600_000;
        let expected = if is_weekend(day_ms) {
            cfg.weekend_visitors
        } else {
            cfg.weekday_visitors
        };
        let visitors = poisson(r, f64::from(expected));
        self.visitors.push((day, visitors));
        let dwell_ms = cfg.mean_dwell_mins * 60_000.0;
        let mid = f64::from(cfg.open_hour + cfg.close_hour) / 2.0 + 0.5;
        let span = f64::from(cfg.close_hour - cfg.open_hour);
        for _ in 0..visitors {
            // Arrivals peak early afternoon; nobody arrives in the last quarter hour.
            let arrive = loop {
                let t = uniform(r, open as f64, (close - 900_000).max(open + 60_000) as f64) as i64;
                let h = (t - day_ms) as f64 / 3.6e6;
                if unit(r) < 0.35 + 0.65 * bump(h, mid, span / 4.0) {
                    break t;
                }
            };
            let phone = r.random::<u64>() & 0xffff_ffff_ffff;
            let randomising = chance(r, cfg.randomised_mac_share);
            let mut room = 0usize;
            let mut t = arrive;
            let rooms_to_see = 1 + poisson(r, 2.5) as usize;
            for k in 0..=rooms_to_see {
                let last = k == rooms_to_see;
                // Back through the entrance on the way out.
                if last {
                    room = 0;
                }
                let stay = if last {
                    exponential(r, 120_000.0).min(300_000.0)
                } else {
                    exponential(r, dwell_ms).max(60_000.0)
                } as i64;
                let leave = (t + stay).min(close);
                self.rooms[room].stays.push(Stay {
                    enter_ms: t,
                    leave_ms: leave,
                    phone,
                    randomising,
                });
                t = leave + 20_000;
                if t >= close {
                    break;
                }
                if n_rooms > 1 {
                    // Mostly to an adjacent room, sometimes anywhere.
                    room = if chance(r, 0.7) {
                        if chance(r, 0.5) {
                            (room + 1) % n_rooms
                        } else {
                            (room + n_rooms - 1) % n_rooms
                        }
                    } else {
                        index(r, n_rooms)
                    };
                }
            }
        }
        // Staff are in from half an hour before opening to half an hour after.
        for s in 0..cfg.staff {
            let phone = r.random::<u64>() & 0xffff_ffff_ffff;
            self.rooms[s as usize % n_rooms].stays.push(Stay {
                enter_ms: open - 1_800_000,
                leave_ms: close + 1_800_000,
                phone,
                randomising: false,
            });
        }
        for room in &mut self.rooms {
            room.stays.sort_by_key(|s| (s.enter_ms, s.phone));
        }
        self.day = day;
    }

    /// What the sensor in `room` saw in the interval ending at `t`.
    pub(crate) fn observe(
        &mut self,
        cfg: &VenueConfig,
        room: usize,
        salt: u64,
        t: i64,
        rng: &mut SimRng,
    ) -> FootfallReading {
        let interval_ms = i64::from(cfg.interval_s) * 1000;
        let from = t - interval_ms;
        let day = day_index(from.max(0));
        if day > self.day {
            self.plan_day(cfg, day);
        }
        let rd = &mut self.rooms[room];
        while let Some(s) = rd.stays.get(rd.cursor) {
            if s.enter_ms >= t {
                break;
            }
            rd.active.push(*s);
            rd.cursor += 1;
        }
        rd.active.retain(|s| s.leave_ms > from);
        let day_salt = mix64(salt ^ (day as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let slot = (t.div_euclid(interval_ms)) as u64;
        let mut ids: Vec<Pseudonym> = rd
            .active
            .iter()
            .filter(|_| chance(rng, cfg.detection_probability))
            .map(|s| {
                let mac = if s.randomising {
                    mix64(s.phone ^ mix64(slot))
                } else {
                    s.phone
                };
                Pseudonym(salted_hash(day_salt, mac))
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        FootfallReading {
            interval_s: cfg.interval_s,
            ids,
        }
    }
}
