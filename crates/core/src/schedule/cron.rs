//! Cron expressions, parsed by the `croner` crate.
//!
//! Accepted: 5 fields (minute hour day-of-month month day-of-week), 6 fields with
//! seconds first, or one of the macros `@hourly`, `@daily`, `@weekly`, `@monthly`,
//! `@yearly` / `@annually` (read, like any expression, in the schedule's time zone);
//! `L`, `#`, `W`, names (`MON`, `JAN`) and ranges / steps in the fields.
//!
//! Refused: a 7th (year) field, any other `@` word, and an expression that never fires
//! (no occurrence within [`HORIZON_YEARS`] years, e.g. `* * 31 2 *`).

use chrono::{DateTime, Datelike, TimeZone, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// An expression must fire at least once within this many years.
pub const HORIZON_YEARS: i32 = 5;

/// The macros and the 5-field expressions they stand for.
pub const MACROS: [(&str, &str); 6] = [
    ("@hourly", "0 * * * *"),
    ("@daily", "0 0 * * *"),
    ("@weekly", "0 0 * * 0"),
    ("@monthly", "0 0 1 * *"),
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
];

/// What the fields are, for errors and HINTs.
pub const SYNTAX: &str = "Use 5 fields (minute hour day-of-month month day-of-week), 6 with seconds first, or @hourly, @daily, @weekly, @monthly, @yearly; no year field. E.g. '15 2 * * *'.";

/// Parses `expr`; it must fire within [`HORIZON_YEARS`] years from now.
pub fn parse(expr: &str) -> Result<Cron, String> {
    parse_at(expr, Utc::now())
}

/// Parses `expr`; it must fire within [`HORIZON_YEARS`] years from `now`.
pub fn parse_at(expr: &str, now: DateTime<Utc>) -> Result<Cron, String> {
    let expr = expr.trim();
    if expr.is_empty() {
        return Err("the schedule is empty".into());
    }
    let fields = if expr.starts_with('@') {
        match MACROS.iter().find(|(m, _)| m.eq_ignore_ascii_case(expr)) {
            Some((_, fields)) => fields.to_string(),
            None => {
                return Err(format!(
                    "\"{expr}\" is not a known macro (accepted: @hourly, @daily, @weekly, @monthly, @yearly, @annually)"
                ))
            }
        }
    } else {
        expr.to_string()
    };
    let n = fields.split_whitespace().count();
    match n {
        5 | 6 => {}
        7 => {
            return Err(format!(
                "\"{expr}\" has 7 fields: a year field is not accepted (5 fields, or 6 with seconds first)"
            ))
        }
        _ => {
            return Err(format!(
                "\"{expr}\" has {n} field{}: a cron expression has 5 fields, or 6 with seconds first",
                if n == 1 { "" } else { "s" }
            ))
        }
    }
    let cron = CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(&fields)
        .map_err(|e| format!("\"{expr}\" is not a valid cron expression: {e}"))?;
    if fires_within_horizon(&cron, &fields, n, now) {
        Ok(cron)
    } else {
        Err(format!(
            "\"{expr}\" never fires: no date matches it within the next {HORIZON_YEARS} years (is the day of the month in the month?)"
        ))
    }
}

/// Does `cron` fire between `now` and the end of the year [`HORIZON_YEARS`] years on?
/// The search is bounded by a year range added to the expression, so an expression
/// that never fires is refused in about a millisecond (croner alone would search up
/// to the year 5000).
fn fires_within_horizon(cron: &Cron, fields: &str, n: usize, now: DateTime<Utc>) -> bool {
    let with_seconds = if n == 5 {
        format!("0 {fields}")
    } else {
        fields.to_string()
    };
    let y = now.year();
    let bounded = CronParser::builder()
        .seconds(Seconds::Required)
        .year(Year::Required)
        .build()
        .parse(&format!("{with_seconds} {y}-{}", y + HORIZON_YEARS));
    match bounded {
        Ok(b) => b.find_next_occurrence(&now, false).is_ok(),
        Err(_) => cron
            .find_next_occurrence(&now, false)
            .is_ok_and(|t| t.year() <= y + HORIZON_YEARS),
    }
}

/// The first time strictly after `after` that matches `cron`, in `after`'s time zone.
pub fn next_after<Tz: TimeZone>(cron: &Cron, after: &DateTime<Tz>) -> Option<DateTime<Tz>>
where
    DateTime<Tz>: croner::CronDateTime,
{
    cron.find_next_occurrence(after, false).ok()
}

/// The latest time at or before `at` that matches `cron`.
pub fn previous_at_or_before<Tz: TimeZone>(cron: &Cron, at: &DateTime<Tz>) -> Option<DateTime<Tz>>
where
    DateTime<Tz>: croner::CronDateTime,
{
    cron.find_previous_occurrence(at, true).ok()
}
