//! Metering and cost: hourly usage rollups per function (written with the
//! invocation records, kept for good), price plans with effective dates, and
//! month reports priced in exact decimal arithmetic. Owns the `usage_hourly`
//! and `price_plans` tables; reads nothing else (the invocation log has its
//! own retention and is never consulted for costs).

#[cfg(test)]
mod load_test;
mod plan;
mod report;
pub(crate) mod rollup;

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate, TimeZone, Utc};

use crate::PlatformError;

pub use plan::Prices;
pub use report::{cost_of, gb_seconds};
pub use rollup::Usage;

/// A calendar month in UTC, written `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    /// 1..=12
    pub month: u32,
}

impl Month {
    /// The month holding the instant `ms` (UTC milliseconds).
    pub fn containing(ms: i64) -> Self {
        let t = crate::time::from_ms(ms);
        Self {
            year: t.year(),
            month: t.month(),
        }
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    /// First millisecond of the month.
    pub fn start_ms(self) -> i64 {
        Utc.from_utc_datetime(&self.first_day().and_hms_opt(0, 0, 0).unwrap_or_default())
            .timestamp_millis()
    }

    /// First millisecond of the next month.
    pub fn end_ms(self) -> i64 {
        self.next().start_ms()
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn previous(self) -> Self {
        if self.month == 1 {
            Self {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Self {
                year: self.year,
                month: self.month - 1,
            }
        }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, PlatformError> {
        let bad = || PlatformError::invalid(format!("month {s:?} is not of the form YYYY-MM"));
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !(y.chars().chain(m.chars())).all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        // Years before the epoch have no usage; 9999 keeps `YYYY` four digits.
        if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Self { year, month })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_step() {
        let m: Month = "2026-12".parse().unwrap();
        assert_eq!(m.next().to_string(), "2027-01");
        assert_eq!(m.previous().to_string(), "2026-11");
        assert_eq!("2027-01".parse::<Month>().unwrap().previous(), m);
        assert_eq!(Month::containing(m.start_ms()), m);
        assert_eq!(Month::containing(m.end_ms() - 1), m);
        assert_eq!(m.end_ms() - m.start_ms(), 31 * 24 * 3_600_000);
        for bad in [
            "2026-13", "2026-1", "26-01", "2026/01", "", "2026-00", "abcd-ef",
        ] {
            assert!(bad.parse::<Month>().is_err(), "{bad:?} accepted");
        }
    }
}
