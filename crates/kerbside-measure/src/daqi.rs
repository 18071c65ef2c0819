//! The UK Daily Air Quality Index (DAQI), as Defra defines it on UK-AIR
//! (<https://uk-air.defra.gov.uk/air-pollution/daqi>, "Boundaries between index points
//! for each pollutant"; the 2012 banding recommended by COMEAP).
//!
//! | index | band | O3 running 8 h mean | NO2 hourly mean | SO2 15 min mean | PM2.5 24 h mean | PM10 24 h mean |
//! |---|---|---|---|---|---|---|
//! | 1 | Low | 0–33 | 0–67 | 0–88 | 0–11 | 0–16 |
//! | 2 | Low | 34–66 | 68–134 | 89–177 | 12–23 | 17–33 |
//! | 3 | Low | 67–100 | 135–200 | 178–266 | 24–35 | 34–50 |
//! | 4 | Moderate | 101–120 | 201–267 | 267–354 | 36–41 | 51–58 |
//! | 5 | Moderate | 121–140 | 268–334 | 355–443 | 42–47 | 59–66 |
//! | 6 | Moderate | 141–160 | 335–400 | 444–532 | 48–53 | 67–75 |
//! | 7 | High | 161–187 | 401–467 | 533–710 | 54–58 | 76–83 |
//! | 8 | High | 188–213 | 468–534 | 711–887 | 59–64 | 84–91 |
//! | 9 | High | 214–240 | 535–600 | 888–1064 | 65–70 | 92–100 |
//! | 10 | Very High | ≥ 241 | ≥ 601 | ≥ 1065 | ≥ 71 | ≥ 101 |
//!
//! All concentrations are µg/m³. Defra's table is in whole µg/m³ and UK-AIR reports
//! whole numbers, so a concentration is **rounded to the nearest whole µg/m³ (halves
//! up)** and then placed in the band whose range holds it: both ends of a range are
//! in it. So for NO2, 67 and 67.49 are index 1, 67.5 and 68 are index 2.
//!
//! The overall index of a site is the highest of its pollutant indices.
//!
//! **Data capture.** A mean is given only with enough data ([`Capture`]): 18 of 24
//! hourly means for the 24 h PM means, 6 of 8 for the 8 h O3 mean (both from
//! Defra's implementation), and, kerbside's choice for the shorter means, 3 of the 4
//! quarter hours for an hourly mean (75 %, the rule the others follow). A 15 min
//! mean needs one reading: each reading is already the sensor's mean over its own
//! interval. With too little data the mean, and the index from it, are not given.

/// A DAQI pollutant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pollutant {
    /// Ozone, running 8 h mean.
    O3,
    /// Nitrogen dioxide, hourly mean.
    No2,
    /// Sulphur dioxide, 15 min mean.
    So2,
    /// PM2.5, running 24 h mean.
    Pm25,
    /// PM10, running 24 h mean.
    Pm10,
}

impl Pollutant {
    /// Every pollutant in the index.
    pub const ALL: [Pollutant; 5] = [
        Pollutant::O3,
        Pollutant::No2,
        Pollutant::So2,
        Pollutant::Pm25,
        Pollutant::Pm10,
    ];

    /// A short lowercase name (`o3`, `no2`, `so2`, `pm25`, `pm10`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Pollutant::O3 => "o3",
            Pollutant::No2 => "no2",
            Pollutant::So2 => "so2",
            Pollutant::Pm25 => "pm25",
            Pollutant::Pm10 => "pm10",
        }
    }

    /// The top of indices 1 to 9, whole µg/m³, inclusive; above the last is index 10.
    pub const fn upper_bounds(self) -> [u32; 9] {
        match self {
            Pollutant::O3 => [33, 66, 100, 120, 140, 160, 187, 213, 240],
            Pollutant::No2 => [67, 134, 200, 267, 334, 400, 467, 534, 600],
            Pollutant::So2 => [88, 177, 266, 354, 443, 532, 710, 887, 1064],
            Pollutant::Pm25 => [11, 23, 35, 41, 47, 53, 58, 64, 70],
            Pollutant::Pm10 => [16, 33, 50, 58, 66, 75, 83, 91, 100],
        }
    }
}

/// A DAQI band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Band {
    /// Index 1–3.
    Low,
    /// Index 4–6.
    Moderate,
    /// Index 7–9.
    High,
    /// Index 10.
    VeryHigh,
}

impl Band {
    /// Defra's name for the band: `Low`, `Moderate`, `High`, `Very High`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Band::Low => "Low",
            Band::Moderate => "Moderate",
            Band::High => "High",
            Band::VeryHigh => "Very High",
        }
    }
}

/// A DAQI value, 1–10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Daqi(u8);

impl Daqi {
    /// The index, if 1–10.
    pub const fn new(index: u8) -> Option<Self> {
        if index >= 1 && index <= 10 {
            Some(Self(index))
        } else {
            None
        }
    }

    /// The index, 1–10.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The band the index falls in.
    pub const fn band(self) -> Band {
        match self.0 {
            1..=3 => Band::Low,
            4..=6 => Band::Moderate,
            7..=9 => Band::High,
            _ => Band::VeryHigh,
        }
    }

    /// The index of `pollutant` at `ugm3` (its mean over the averaging period the
    /// table names), or `None` for a value that is not a concentration (NaN,
    /// infinite, negative).
    pub fn of(pollutant: Pollutant, ugm3: f64) -> Option<Self> {
        if !ugm3.is_finite() || ugm3 < 0.0 {
            return None;
        }
        // Whole µg/m³, halves up (`round` rounds halves away from zero).
        let whole = ugm3.round();
        let above = pollutant
            .upper_bounds()
            .iter()
            .filter(|&&top| whole > f64::from(top))
            .count();
        Some(Self(1 + above as u8))
    }

    /// The overall index: the highest of the pollutant indices given, with the
    /// pollutant that sets it (the first such in [`Pollutant::ALL`] order on a tie).
    /// `None` when no pollutant has a value.
    pub fn overall(
        means: impl IntoIterator<Item = (Pollutant, Option<f64>)>,
    ) -> Option<(Self, Pollutant)> {
        let mut best: Option<(Self, Pollutant)> = None;
        for (p, v) in means {
            if let Some(i) = v.and_then(|v| Self::of(p, v))
                && best.is_none_or(|(b, _)| i > b)
            {
                best = Some((i, p));
            }
        }
        best
    }
}

/// A data-capture rule: a mean over `of` periods is given only when at least
/// `needed` of them have data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capture {
    /// Periods with data required.
    pub needed: usize,
    /// Periods in the mean.
    pub of: usize,
}

impl Capture {
    /// Running 24 h PM2.5 / PM10 mean: 18 of 24 hourly means.
    pub const PM_24H: Capture = Capture { needed: 18, of: 24 };
    /// Running 8 h O3 mean: 6 of 8 hourly means.
    pub const O3_8H: Capture = Capture { needed: 6, of: 8 };
    /// Hourly mean from quarter-hour means: 3 of 4 (kerbside's 75 % choice).
    pub const HOURLY: Capture = Capture { needed: 3, of: 4 };

    /// The mean of the values present in `periods` (which should hold `of` entries,
    /// one per period; missing periods are `None`), if enough are present.
    /// Non-finite values count as missing.
    pub fn mean(self, periods: &[Option<f64>]) -> Option<f64> {
        let (sum, n) = periods
            .iter()
            .flatten()
            .filter(|v| v.is_finite())
            .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
        (n >= self.needed && n > 0).then(|| sum / n as f64)
    }
}

#[cfg(test)]
mod tests;
