//! The calendar month a cost report covers, read back from its `month`
//! field (`YYYY-MM`, UTC): the days the PDF's period line and daily chart
//! need. The same rules as the platform's month (years 1970–9999), checked
//! here so a malformed report is refused rather than drawn as some other
//! month.

use std::fmt;

use chrono::{Months, NaiveDate};

/// A cost report whose `month` is not a calendar month written `YYYY-MM`
/// (years 1970–9999); holds the value found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MalformedMonth(pub String);

impl fmt::Display for MalformedMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the report's month {:?} is not of the form YYYY-MM",
            self.0
        )
    }
}

impl std::error::Error for MalformedMonth {}

/// A month by its first and last day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Month {
    first: NaiveDate,
    last: NaiveDate,
}

impl Month {
    /// The month `s` names (`YYYY-MM`).
    pub(crate) fn parse(s: &str) -> Result<Self, MalformedMonth> {
        let bad = || MalformedMonth(s.to_string());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !(y.chars().chain(m.chars())).all(|c| c.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if year < 1970 {
            return Err(bad());
        }
        let first = NaiveDate::from_ymd_opt(year, month, 1).ok_or_else(bad)?;
        let last = first
            .checked_add_months(Months::new(1))
            .and_then(|next| next.pred_opt())
            .ok_or_else(bad)?;
        Ok(Self { first, last })
    }

    pub(crate) fn first_day(self) -> NaiveDate {
        self.first
    }

    pub(crate) fn last_day(self) -> NaiveDate {
        self.last
    }

    /// How many days the month has (28 to 31).
    pub(crate) fn days(self) -> usize {
        (self.last - self.first).num_days() as usize + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_know_their_days() {
        let m = Month::parse("2026-12").unwrap();
        assert_eq!(m.first_day().to_string(), "2026-12-01");
        assert_eq!(m.last_day().to_string(), "2026-12-31");
        assert_eq!(m.days(), 31);
        assert_eq!(Month::parse("2026-02").unwrap().days(), 28);
        assert_eq!(Month::parse("2028-02").unwrap().days(), 29);
        assert_eq!(Month::parse("2026-04").unwrap().days(), 30);
    }

    #[test]
    fn malformed_months_are_refused_with_the_value() {
        for bad in [
            "2026-13", "2026-1", "26-01", "2026/01", "", "2026-00", "abcd-ef", "1969-12",
        ] {
            assert_eq!(Month::parse(bad), Err(MalformedMonth(bad.to_string())));
        }
        assert_eq!(
            MalformedMonth("2026-13".into()).to_string(),
            "the report's month \"2026-13\" is not of the form YYYY-MM"
        );
    }
}
