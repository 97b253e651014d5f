//! The time grain of a metric family, and its time key as a slot number.
//!
//! A daily family has one row per media buy and day (`date date`); an hourly family
//! one per media buy and hour (`hour_start timestamptz`: an instant, never a local
//! time, so a daylight-saving day has 23 or 25 rows and no hour is ambiguous). The
//! sync carries either key as an `i32` slot, so the sorted-stream comparison is the
//! same code for both:
//! * [`Grain::Day`]: days since 2000-01-01 (PostgreSQL's epoch and its `date`);
//! * [`Grain::Hour`]: minutes since 2000-01-01 00:00 UTC. Minutes, not hours: an hour
//!   in an account time zone such as Asia/Kolkata (UTC+05:30) or Asia/Kathmandu
//!   (UTC+05:45) starts at a quarter past some UTC hour. An `i32` of minutes spans
//!   ±4,000 years.
//!
//! Snowflake has three timestamp types; an hourly source may use any:
//! * `TIMESTAMP_LTZ` and `TIMESTAMP_TZ` are instants: read as they are;
//! * `TIMESTAMP_NTZ` is a wall-clock time: read in the zone the family's source says
//!   (an IANA zone). A wall-clock hour that does not exist there (the hour skipped when
//!   clocks go forward) or exists twice (the hour repeated when they go back) cannot
//!   name an instant: such rows are set aside (`nonexistent_hour`, `ambiguous_hour`)
//!   rather than guessed; a source that reports the repeated hour twice should use
//!   `TIMESTAMP_TZ` or `TIMESTAMP_LTZ`.

use std::fmt;

use bravo_snowflake::Column;
use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::compare::epoch_days;

/// One row per media buy and day, or per media buy and hour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    Day,
    Hour,
}

impl Grain {
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Day => "day",
            Grain::Hour => "hour",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "day" => Ok(Grain::Day),
            "hour" => Ok(Grain::Hour),
            other => Err(format!("grain \"{other}\" is not one of: day, hour")),
        }
    }

    /// The key's time column, in PostgreSQL and (upper-cased) in Snowflake.
    pub fn time_column(self) -> &'static str {
        match self {
            Grain::Day => "date",
            Grain::Hour => "hour_start",
        }
    }

    /// The time column's PostgreSQL type.
    pub fn pg_type(self) -> &'static str {
        match self {
            Grain::Day => "date",
            Grain::Hour => "timestamptz",
        }
    }
}

impl fmt::Display for Grain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const PG_EPOCH_UNIX_SECONDS: i64 = 946_684_800;

/// Why a source's time value is not a usable key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimeProblem {
    /// Not the start of an hour: seconds or fractions set, or (read in its own zone)
    /// minutes past the hour.
    NotAnHourStart,
    /// A column type the grain cannot read (the column checks refuse it first).
    WrongType,
    /// Out of the slot range (beyond ±4,000 years).
    OutOfRange,
    /// A wall-clock time the zone skips (clocks went forward).
    Nonexistent,
    /// A wall-clock time the zone has twice (clocks went back).
    Ambiguous,
}

impl TimeProblem {
    /// The set-aside reason.
    pub fn reason(&self) -> &'static str {
        match self {
            TimeProblem::NotAnHourStart | TimeProblem::WrongType | TimeProblem::OutOfRange => {
                "out_of_range"
            }
            TimeProblem::Nonexistent => "nonexistent_hour",
            TimeProblem::Ambiguous => "ambiguous_hour",
        }
    }

    /// What was wrong with `value` (as the source had it), for the set-aside detail.
    pub fn describe(&self, column: &str, value: &str, zone: Option<Tz>) -> String {
        let zone = zone.map(|z| z.name().to_string()).unwrap_or_default();
        match self {
            TimeProblem::NotAnHourStart => format!("{column} {value} is not the start of an hour"),
            TimeProblem::WrongType => format!("{column} {value} has a type this family cannot read"),
            TimeProblem::OutOfRange => format!("{column} {value} is out of range"),
            TimeProblem::Nonexistent => format!(
                "{column} {value} does not exist in {zone} (the clocks skip it)"
            ),
            TimeProblem::Ambiguous => format!(
                "{column} {value} happens twice in {zone} (the clocks go back); TIMESTAMP_NTZ cannot say which"
            ),
        }
    }
}

/// The slot of an instant: minutes since 2000-01-01 00:00 UTC.
pub fn minute_slot(instant: DateTime<Utc>) -> Result<i32, TimeProblem> {
    if instant.second() != 0 || instant.nanosecond() != 0 {
        return Err(TimeProblem::NotAnHourStart);
    }
    let minutes = (instant.timestamp() - PG_EPOCH_UNIX_SECONDS).div_euclid(60);
    i32::try_from(minutes).map_err(|_| TimeProblem::OutOfRange)
}

/// The instant of a slot.
pub fn slot_instant(slot: i32) -> DateTime<Utc> {
    DateTime::from_timestamp(PG_EPOCH_UNIX_SECONDS + i64::from(slot) * 60, 0)
        .expect("every i32 minute slot is a valid instant")
}

/// A wall-clock time in `zone` as an instant, when it names exactly one.
pub fn local_instant(local: NaiveDateTime, zone: Tz) -> Result<DateTime<Utc>, TimeProblem> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(..) => Err(TimeProblem::Ambiguous),
        LocalResult::None => Err(TimeProblem::Nonexistent),
    }
}

/// The slot of a `TIMESTAMP_NTZ` value read in `zone`.
pub fn local_slot(local: NaiveDateTime, zone: Tz) -> Result<i32, TimeProblem> {
    minute_slot(local_instant(local, zone)?)
}

/// The first instant of day `day` in `zone` (midnight, or the first hour after it
/// when the clocks skip midnight): where an hourly window that starts on `day` starts.
pub fn day_start(day: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let mut local = day.and_hms_opt(0, 0, 0).expect("midnight");
    loop {
        match zone.from_local_datetime(&local) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(earlier, _) => return earlier.with_timezone(&Utc),
            LocalResult::None => local += chrono::Duration::minutes(15),
        }
    }
}

/// Row `i` of a source's time column as a slot of `grain` (`Ok(None)`: NULL). A day
/// is a `DATE`; an hour a `TIMESTAMP_NTZ` (read in `zone`), `TIMESTAMP_LTZ` or
/// `TIMESTAMP_TZ` at the start of an hour (an `NTZ` or `TZ` value on the hour in its
/// own zone or offset; an `LTZ` value, which carries no zone, on a whole minute).
pub fn read_slot(
    grain: Grain,
    zone: Tz,
    col: &Column,
    i: usize,
) -> Result<Option<i32>, TimeProblem> {
    match (grain, col) {
        (Grain::Day, Column::Date(v)) => Ok(v[i].map(epoch_days)),
        (Grain::Hour, Column::TimestampNtz(v)) => v[i]
            .map(|t| {
                if t.minute() != 0 {
                    return Err(TimeProblem::NotAnHourStart);
                }
                local_slot(t, zone)
            })
            .transpose(),
        (Grain::Hour, Column::TimestampLtz(v)) => v[i].map(minute_slot).transpose(),
        (Grain::Hour, Column::TimestampTz(v)) => v[i]
            .map(|t| {
                if t.minute() != 0 {
                    return Err(TimeProblem::NotAnHourStart);
                }
                minute_slot(t.with_timezone(&Utc))
            })
            .transpose(),
        _ => Err(TimeProblem::WrongType),
    }
}

/// Row `i` of a time column as the source had it, as text (for set-aside rows).
pub fn source_text(col: &Column, i: usize) -> Option<String> {
    match col {
        Column::Date(v) => v[i].map(|d| d.to_string()),
        Column::TimestampNtz(v) => v[i].map(|t| t.format("%Y-%m-%d %H:%M:%S%.f").to_string()),
        Column::TimestampLtz(v) => v[i].map(|t| t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string()),
        Column::TimestampTz(v) => v[i].map(|t| t.format("%Y-%m-%dT%H:%M:%S%.f%:z").to_string()),
        _ => None,
    }
}

/// The slot's text as PostgreSQL prints the key (for set-aside rows and messages):
/// a date for [`Grain::Day`], an ISO 8601 UTC instant for [`Grain::Hour`].
pub fn slot_text(grain: Grain, slot: i32) -> String {
    match grain {
        Grain::Day => crate::compare::from_epoch_days(slot)
            .map(|d| d.to_string())
            .unwrap_or_else(|| format!("day {slot}")),
        Grain::Hour => slot_instant(slot).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Asia::Kolkata, Europe::Paris, UTC};

    fn ntz(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    /// The hours of local day `day` in `zone`, as instants in order.
    fn hours_of(day: &str, zone: Tz) -> Vec<i32> {
        let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
        let start = minute_slot(day_start(d, zone)).unwrap();
        let end = minute_slot(day_start(d.succ_opt().unwrap(), zone)).unwrap();
        (start..end).step_by(60).collect()
    }

    #[test]
    fn slots_round_trip_and_start_at_postgres_epoch() {
        let epoch = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(minute_slot(epoch), Ok(0));
        let t = Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap();
        let s = minute_slot(t).unwrap();
        assert_eq!(slot_instant(s), t);
        let before = Utc.with_ymd_and_hms(1999, 12, 31, 23, 0, 0).unwrap();
        assert_eq!(minute_slot(before), Ok(-60));
        assert_eq!(slot_instant(-60), before);
        assert_eq!(slot_text(Grain::Hour, s), "2026-03-29T01:00:00Z");
        assert_eq!(slot_text(Grain::Day, 0), "2000-01-01");
    }

    #[test]
    fn seconds_are_not_an_hour_start() {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 10, 0, 30).unwrap();
        assert_eq!(minute_slot(t), Err(TimeProblem::NotAnHourStart));
        let far = Utc.with_ymd_and_hms(9000, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(minute_slot(far), Err(TimeProblem::OutOfRange));
    }

    #[test]
    fn daylight_saving_days_have_23_and_25_hours() {
        assert_eq!(hours_of("2026-03-29", Paris).len(), 23);
        assert_eq!(hours_of("2026-10-25", Paris).len(), 25);
        assert_eq!(hours_of("2026-03-08", New_York).len(), 23);
        assert_eq!(hours_of("2026-11-01", New_York).len(), 25);
        assert_eq!(hours_of("2026-03-29", UTC).len(), 24);
        assert_eq!(hours_of("2026-06-01", Kolkata).len(), 24);
    }

    #[test]
    fn wall_clock_hours_that_name_no_single_instant_are_refused() {
        // Paris skips 02:00-03:00 on 2026-03-29 and repeats 02:00-03:00 on 2026-10-25.
        assert_eq!(
            local_slot(ntz("2026-03-29 02:00"), Paris),
            Err(TimeProblem::Nonexistent)
        );
        assert_eq!(
            local_slot(ntz("2026-10-25 02:00"), Paris),
            Err(TimeProblem::Ambiguous)
        );
        assert_eq!(
            local_slot(ntz("2026-11-01 01:00"), New_York),
            Err(TimeProblem::Ambiguous)
        );
        // The hours around them are fine and an hour apart in real time.
        let a = local_slot(ntz("2026-03-29 01:00"), Paris).unwrap();
        let b = local_slot(ntz("2026-03-29 03:00"), Paris).unwrap();
        assert_eq!(b - a, 60);
        let a = local_slot(ntz("2026-10-25 01:00"), Paris).unwrap();
        let b = local_slot(ntz("2026-10-25 03:00"), Paris).unwrap();
        assert_eq!(b - a, 180);
        assert_eq!(TimeProblem::Ambiguous.reason(), "ambiguous_hour");
        assert!(TimeProblem::Nonexistent
            .describe("HOUR_START", "2026-03-29 02:00:00", Some(Paris))
            .contains("does not exist in Europe/Paris"));
    }

    #[test]
    fn a_half_hour_zone_starts_its_hours_off_the_utc_hour() {
        let s = local_slot(ntz("2026-06-01 10:00"), Kolkata).unwrap();
        assert_eq!(
            slot_instant(s),
            Utc.with_ymd_and_hms(2026, 6, 1, 4, 30, 0).unwrap()
        );
    }

    #[test]
    fn grains_parse_and_name_their_columns() {
        assert_eq!(Grain::parse("hour"), Ok(Grain::Hour));
        assert!(Grain::parse("week").is_err());
        assert_eq!(Grain::Hour.time_column(), "hour_start");
        assert_eq!(Grain::Day.pg_type(), "date");
    }
}
