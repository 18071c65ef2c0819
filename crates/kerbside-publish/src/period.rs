//! The period a package covers: whole UTC days.

use time::{Date, Duration, Month, OffsetDateTime};

use crate::error::PublishError;

const DAY_MS: i64 = 86_400_000;

/// `days` whole UTC days from `first`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The first day.
    pub first: Date,
    /// How many days.
    pub days: u32,
}

impl Period {
    /// `days` days from `first` (`YYYY-MM-DD`).
    pub fn parse(first: &str, days: u32) -> Result<Self, PublishError> {
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let first = Date::parse(first, format)
            .map_err(|e| PublishError::Period(format!("`{first}`: {e} (expected YYYY-MM-DD)")))?;
        if days == 0 {
            return Err(PublishError::Period("--days must be at least 1".into()));
        }
        Ok(Self { first, days })
    }

    /// The last day.
    pub fn last(&self) -> Date {
        self.first + Duration::days(i64::from(self.days) - 1)
    }

    /// Its start, ms since the epoch.
    pub fn from_ms(&self) -> i64 {
        day_ms(self.first)
    }

    /// Its end (exclusive), ms since the epoch.
    pub fn to_ms(&self) -> i64 {
        self.from_ms() + i64::from(self.days) * DAY_MS
    }

    /// Whether a window starting at `ms` is inside.
    pub fn contains(&self, ms: i64) -> bool {
        (self.from_ms()..self.to_ms()).contains(&ms)
    }

    /// The calendar months wholly inside, as (year, month).
    pub fn whole_months(&self) -> Vec<(i32, Month)> {
        let mut out = Vec::new();
        let mut d = self.first;
        while d <= self.last() {
            let (y, m) = (d.year(), d.month());
            let start = Date::from_calendar_date(y, m, 1).expect("the first of a month");
            let end = start + Duration::days(i64::from(m.length(y)) - 1);
            if start >= self.first && end <= self.last() {
                out.push((y, m));
            }
            d = end + Duration::days(1);
        }
        out
    }
}

/// Midnight UTC of `d`, ms since the epoch.
fn day_ms(d: Date) -> i64 {
    d.midnight().assume_utc().unix_timestamp() * 1000
}

/// The UTC day and hour of `ms`.
pub fn date_hour(ms: i64) -> (Date, u8) {
    let t = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    (t.date(), t.hour())
}

/// `YYYY-MM-DD`.
pub fn iso(d: Date) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    d.format(format).expect("a date formats")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_is_whole_utc_days_and_knows_its_whole_months() {
        let p = Period::parse("2026-10-15", 48).unwrap();
        assert_eq!(iso(p.last()), "2026-12-01");
        assert_eq!(p.whole_months(), vec![(2026, Month::November)]);
        assert!(p.contains(p.from_ms()) && !p.contains(p.to_ms()));
        assert_eq!(
            date_hour(p.from_ms() + 3_600_000 * 25 + 1),
            (p.first + Duration::days(1), 1)
        );
        assert!(Period::parse("2026-13-01", 1).is_err());
        assert!(Period::parse("2026-11-01", 0).is_err());
        let feb = Period::parse("2028-02-01", 29).unwrap();
        assert_eq!(feb.whole_months(), vec![(2028, Month::February)]);
    }
}
