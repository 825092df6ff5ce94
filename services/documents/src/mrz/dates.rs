//! MRZ dates (`YYMMDD`): parsing, century inference and calendar validation.
//!
//! The MRZ stores two-digit years, so the century is inferred against a reference date the
//! caller passes (`today`; this module never reads the clock):
//! - **Birth dates** lie in the past: the century that puts the date latest without passing
//!   `today` wins (on 2026-11-25, `261124` is 2026 but `261126` is 1926). People aged 100 or
//!   more read as infants; an age gate then refuses them, which is the safe failure.
//! - **Expiry dates** lie within 50 years of `today`: the year is taken in the window
//!   `(today.year - 50, today.year + 50]` (on 2026-…, `76` is 2076 and `77` is 1977). No
//!   document is valid for 50 years and none expired 50 years ago is worth telling apart.
//!
//! ICAO allows `<<` for an unknown month or day (and year) of birth; those parts are reported
//! as `None` rather than guessed. An expiry date with unknown parts is `incomplete_date`.
//! Impossible dates (month 13, 30 February) are an `invalid_date` on that field only.

use serde::{Serialize, Serializer};
use time::{Date, Month};

use super::fields::ReasonCode;

/// A date read from the MRZ, with the parts that could be determined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MrzDate {
    /// The six characters as read (after OCR correction), e.g. `740812` or `7408<<`.
    pub raw: String,
    /// Four-digit year after century inference; `None` if unknown or the date is invalid.
    pub year: Option<i32>,
    /// Month 1–12; `None` if given as `<<` or the date is invalid.
    pub month: Option<u8>,
    /// Day of month; `None` if given as `<<` or the date is invalid.
    pub day: Option<u8>,
    /// The full date when every part is known and valid, as `YYYY-MM-DD` in JSON.
    #[serde(serialize_with = "serialize_iso_date")]
    pub date: Option<Date>,
}

impl MrzDate {
    /// Whether any part was given as `<<` (unknown) rather than digits.
    pub fn has_unknown_parts(&self) -> bool {
        self.raw.contains('<')
    }

    /// The latest calendar date consistent with the known parts (unknown month → December,
    /// unknown day → last day of the month): the conservative choice for an age check.
    pub fn latest_possible_date(&self) -> Option<Date> {
        if let Some(date) = self.date {
            return Some(date);
        }
        let year = self.year?;
        let month = match self.month {
            Some(number) => Month::try_from(number).ok()?,
            None => Month::December,
        };
        let day = self.day.unwrap_or_else(|| month.length(year));
        Date::from_calendar_date(year, month, day).ok()
    }

    fn invalid(raw: &str) -> Self {
        Self {
            raw: raw.to_owned(),
            year: None,
            month: None,
            day: None,
            date: None,
        }
    }
}

/// Which rule picks the century.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateRole {
    Birth,
    Expiry,
}

/// Parses a six-character MRZ date; a problem with it is returned as a reason code, never an
/// error, so the rest of the MRZ is still read.
pub(crate) fn parse_mrz_date(
    raw: &str,
    role: DateRole,
    today: Date,
) -> (MrzDate, Option<ReasonCode>) {
    let invalid = || (MrzDate::invalid(raw), Some(ReasonCode::InvalidDate));
    let [year_part, month_part, day_part] = match split_parts(raw) {
        Some(parts) => parts,
        None => return invalid(),
    };
    if month_part.is_some_and(|month| !(1..=12).contains(&month)) {
        return invalid();
    }
    let year =
        year_part.map(|two_digits| infer_century(two_digits, month_part, day_part, role, today));
    if let Some(day) = day_part {
        // With the year unknown, 29 February must stay possible, so check against a leap year.
        let days_in_month = match month_part.and_then(|m| Month::try_from(m).ok()) {
            Some(month) => month.length(year.unwrap_or(2000)),
            None => 31,
        };
        if !(1..=days_in_month).contains(&day) {
            return invalid();
        }
    }
    let date = match (year, month_part, day_part) {
        (Some(year), Some(month), Some(day)) => Month::try_from(month)
            .ok()
            .and_then(|month| Date::from_calendar_date(year, month, day).ok()),
        _ => None,
    };
    let reading = MrzDate {
        raw: raw.to_owned(),
        year,
        month: month_part,
        day: day_part,
        date,
    };
    let problem =
        (role == DateRole::Expiry && date.is_none()).then_some(ReasonCode::IncompleteDate);
    (reading, problem)
}

/// Splits `YYMMDD` into parts: `Some(n)` for two digits, `None` for `<<`; the outer `None`
/// means the text is malformed (wrong length, a lone filler, a letter).
fn split_parts(raw: &str) -> Option<[Option<u8>; 3]> {
    let bytes = raw.as_bytes();
    if bytes.len() != 6 {
        return None;
    }
    let mut parts = [None; 3];
    for (part, pair) in parts.iter_mut().zip(bytes.chunks_exact(2)) {
        *part = match pair {
            [b'<', b'<'] => None,
            [tens @ b'0'..=b'9', units @ b'0'..=b'9'] => Some((tens - b'0') * 10 + (units - b'0')),
            _ => return None,
        };
    }
    Some(parts)
}

fn infer_century(
    two_digits: u8,
    month: Option<u8>,
    day: Option<u8>,
    role: DateRole,
    today: Date,
) -> i32 {
    let this_year = today.year();
    let same_century = this_year - this_year.rem_euclid(100) + i32::from(two_digits);
    match role {
        DateRole::Birth => {
            // Unknown parts compare as their earliest value, so a birth date only moves back a
            // century when it is certainly in the future.
            let candidate = (same_century, month.unwrap_or(1), day.unwrap_or(1));
            let reference = (this_year, u8::from(today.month()), today.day());
            if candidate > reference {
                same_century - 100
            } else {
                same_century
            }
        }
        DateRole::Expiry => {
            if same_century > this_year + 50 {
                same_century - 100
            } else if same_century <= this_year - 50 {
                same_century + 100
            } else {
                same_century
            }
        }
    }
}

fn serialize_iso_date<S: Serializer>(
    date: &Option<Date>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match date {
        Some(date) => serializer.collect_str(&format_args!(
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        )),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    const TODAY: Date = date!(2026 - 11 - 25);

    fn birth(raw: &str) -> (MrzDate, Option<ReasonCode>) {
        parse_mrz_date(raw, DateRole::Birth, TODAY)
    }

    fn expiry(raw: &str) -> (MrzDate, Option<ReasonCode>) {
        parse_mrz_date(raw, DateRole::Expiry, TODAY)
    }

    #[test]
    fn birth_century_flips_exactly_at_today() {
        assert_eq!(birth("261125").0.date, Some(date!(2026 - 11 - 25)));
        assert_eq!(birth("261126").0.date, Some(date!(1926 - 11 - 26)));
        assert_eq!(birth("000101").0.date, Some(date!(2000 - 01 - 01)));
        assert_eq!(birth("991231").0.date, Some(date!(1999 - 12 - 31)));
        assert_eq!(birth("740812").0.date, Some(date!(1974 - 08 - 12)));
    }

    #[test]
    fn expiry_window_is_fifty_years_either_side() {
        assert_eq!(expiry("760101").0.year, Some(2076));
        assert_eq!(expiry("770101").0.year, Some(1977));
        assert_eq!(expiry("120415").0.date, Some(date!(2012 - 04 - 15)));
        assert_eq!(expiry("991231").0.year, Some(1999));
        // Near the end of a century the window reaches into the next one.
        let late = date!(2090 - 01 - 01);
        assert_eq!(
            parse_mrz_date("100101", DateRole::Expiry, late).0.year,
            Some(2110)
        );
        assert_eq!(
            parse_mrz_date("410101", DateRole::Expiry, late).0.year,
            Some(2041)
        );
        assert_eq!(
            parse_mrz_date("400101", DateRole::Expiry, late).0.year,
            Some(2140)
        );
    }

    #[test]
    fn impossible_dates_are_invalid_not_errors() {
        for raw in [
            "741312", "740230", "740000", "740800", "7408AB", "74081", "7<0812",
        ] {
            let (reading, problem) = birth(raw);
            assert_eq!(problem, Some(ReasonCode::InvalidDate), "{raw}");
            assert_eq!(reading.date, None);
        }
        assert_eq!(birth("000229").0.date, Some(date!(2000 - 02 - 29)));
        assert_eq!(birth("010229").1, Some(ReasonCode::InvalidDate));
    }

    #[test]
    fn unknown_birth_parts_are_reported_not_guessed() {
        let (reading, problem) = birth("7408<<");
        assert_eq!(problem, None);
        assert_eq!(
            (reading.year, reading.month, reading.day),
            (Some(1974), Some(8), None)
        );
        assert!(reading.has_unknown_parts());
        assert_eq!(reading.latest_possible_date(), Some(date!(1974 - 08 - 31)));
        let (reading, problem) = birth("74<<<<");
        assert_eq!(problem, None);
        assert_eq!(reading.latest_possible_date(), Some(date!(1974 - 12 - 31)));
        assert_eq!(birth("<<<<<<").0.latest_possible_date(), None);
        assert_eq!(birth("<<0229").1, None);
    }

    #[test]
    fn unknown_expiry_parts_are_incomplete() {
        assert_eq!(expiry("3012<<").1, Some(ReasonCode::IncompleteDate));
    }

    #[test]
    fn serialises_date_as_iso() {
        let json = serde_json::to_value(birth("740812").0).unwrap();
        assert_eq!(json["date"], "1974-08-12");
        assert_eq!(json["year"], 1974);
        assert!(serde_json::to_value(birth("7408<<").0).unwrap()["date"].is_null());
    }
}
