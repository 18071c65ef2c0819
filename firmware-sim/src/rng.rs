//! Seeded randomness and the calendar helpers the models share.
//!
//! Every random stream is a ChaCha8 generator keyed by the run's seed and a stream
//! number derived from *what* it drives (a device's layout, its behaviour, its
//! faults, a venue's visitors), never from the order things are visited in. ChaCha8
//! output is specified by the algorithm, so a seed means the same run everywhere.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt as _, SeedableRng as _};

/// The generator every model draws from.
pub(crate) type SimRng = ChaCha8Rng;

/// What a stream drives; combined with an index into a stream number.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    /// A device's fixed properties (placement, rates, drift).
    Layout(u32),
    /// A device's readings.
    Behaviour(u32),
    /// The faults injected into a device's messages.
    Faults(u32),
    /// A venue's visitors.
    Venue(u32),
    /// The road graph.
    Roads,
    /// Salts and application ids shared by the whole fleet.
    Fleet,
}

/// The generator for `stream` under `seed`.
pub(crate) fn rng(seed: u64, stream: Stream) -> SimRng {
    let n = match stream {
        Stream::Layout(i) => u64::from(i) << 2,
        Stream::Behaviour(i) => (u64::from(i) << 2) | 1,
        Stream::Faults(i) => (u64::from(i) << 2) | 2,
        Stream::Venue(i) => (1 << 40) | u64::from(i),
        Stream::Roads => 1 << 41,
        Stream::Fleet => 1 << 42,
    };
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    r.set_stream(n);
    r
}

/// A uniform draw in `[0, 1)`.
pub(crate) fn unit(r: &mut SimRng) -> f64 {
    r.random::<f64>()
}

/// A uniform draw in `[lo, hi)`.
pub(crate) fn uniform(r: &mut SimRng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * unit(r)
}

/// `true` with probability `p`.
pub(crate) fn chance(r: &mut SimRng, p: f64) -> bool {
    p > 0.0 && unit(r) < p
}

/// A normal draw (Box–Muller; one of the pair is discarded, which keeps streams simple).
pub(crate) fn normal(r: &mut SimRng, mean: f64, sd: f64) -> f64 {
    let u1 = 1.0 - unit(r); // (0, 1]
    let u2 = unit(r);
    mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// An exponential draw with the given mean.
pub(crate) fn exponential(r: &mut SimRng, mean: f64) -> f64 {
    -mean * (1.0 - unit(r)).ln()
}

/// A Poisson draw: exact (Knuth) for small means, normal approximation above 12.
pub(crate) fn poisson(r: &mut SimRng, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 12.0 {
        return normal(r, mean, mean.sqrt()).round().max(0.0) as u32;
    }
    let l = (-mean).exp();
    let mut k = 0u32;
    let mut p = 1.0;
    loop {
        p *= unit(r);
        if p <= l {
            return k;
        }
        k += 1;
    }
}

/// An index in `0..n` (`n` > 0).
pub(crate) fn index(r: &mut SimRng, n: usize) -> usize {
    r.random_range(0..n)
}

/// A 64-bit mix (the SplitMix64 finaliser): cheap, deterministic, well spread.
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A salted hash of `value`, as a footfall gateway computes pseudonyms. Not
/// cryptographic: a real gateway uses a keyed cryptographic hash; the simulator
/// needs only stable, well-spread values.
pub(crate) const fn salted_hash(salt: u64, value: u64) -> u64 {
    mix64(mix64(salt ^ 0x5bd1_e995_9e37_79b9) ^ value)
}

/// Rounds to `places` decimal places (0–9), so payloads carry sensor-like precision.
pub(crate) fn round(x: f64, places: u32) -> f64 {
    let f = 10f64.powi(places.min(9) as i32);
    (x * f).round() / f
}

/// Milliseconds in a day.
pub(crate) const MS_PER_DAY: i64 = 86_400_000;

/// Days since the Unix epoch (UTC).
pub(crate) fn day_index(ms: i64) -> i64 {
    ms.div_euclid(MS_PER_DAY)
}

/// Hour of the day, fractional, UTC (the simulator's clock is UTC throughout).
pub(crate) fn hour_of_day(ms: i64) -> f64 {
    ms.rem_euclid(MS_PER_DAY) as f64 / 3_600_000.0
}

/// Day of the week, 0 = Monday ... 6 = Sunday.
pub(crate) fn weekday(ms: i64) -> u32 {
    (day_index(ms) + 3).rem_euclid(7) as u32
}

/// Saturday or Sunday.
pub(crate) fn is_weekend(ms: i64) -> bool {
    weekday(ms) >= 5
}

/// A Gaussian bump of height 1 centred on `centre` hours with width `sd` hours.
pub(crate) fn bump(h: f64, centre: f64, sd: f64) -> f64 {
    let z = (h - centre) / sd;
    (-0.5 * z * z).exp()
}
