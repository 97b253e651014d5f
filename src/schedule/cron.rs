//! Cron expressions, parsed by the `croner` crate: 5 fields (minute precision) or 6
//! with seconds first; `@daily`-style aliases, `L`, `#` and `W` are accepted.

use chrono::{DateTime, TimeZone};
use croner::parser::{CronParser, Seconds};
use croner::Cron;

pub fn parse(expr: &str) -> Result<Cron, String> {
    let expr = expr.trim();
    if expr.is_empty() {
        return Err("the schedule is empty".into());
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .build()
        .parse(expr)
        .map_err(|e| format!("\"{expr}\" is not a valid cron expression: {e}"))
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
