//! The scheduler's decisions: when the next run is due, what kind of run it is, how
//! long a retry waits, and whether a run was missed while the server was down. The
//! worker (`src/schedule/worker.rs` in the extension crate) only asks these questions
//! and acts on the answers.

use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

use super::{cron, zone};
use crate::run::Trigger;

/// A parsed schedule: a cron expression read in an IANA time zone.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub expr: String,
    pub zone_name: String,
    cron: Cron,
    zone: Tz,
}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        self.expr == other.expr && self.zone_name == other.zone_name
    }
}

impl Schedule {
    /// Parses `expr` in `zone_name`; the error says which of the two is wrong.
    pub fn parse(expr: &str, zone_name: &str) -> Result<Schedule, String> {
        let cron = cron::parse(expr)?;
        let zone = zone::parse_iana(zone_name)?;
        Ok(Schedule {
            expr: expr.trim().to_string(),
            zone_name: zone_name.trim().to_string(),
            cron,
            zone,
        })
    }

    /// The first occurrence strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.zone);
        cron::next_after(&self.cron, &local).map(|t| t.with_timezone(&Utc))
    }

    /// The latest occurrence at or before `at`.
    pub fn previous_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&self.zone);
        cron::previous_at_or_before(&self.cron, &local).map(|t| t.with_timezone(&Utc))
    }
}

/// Keeps the last good schedule when a new value is refused, and remembers why it was
/// refused until a good value arrives. Empty until a first good value: the worker never
/// invents a schedule (such as the built-in default) for a value it refused.
#[derive(Debug, Default)]
pub struct ScheduleSlot {
    current: Option<Schedule>,
    problem: Option<String>,
}

/// What [`ScheduleSlot::offer`] did with a value.
#[derive(Debug, PartialEq, Eq)]
pub enum Offer {
    /// Same schedule as before.
    Unchanged,
    /// A new schedule is in force.
    Changed,
    /// The value was rejected; the previous schedule (if any) stays in force.
    Rejected(String),
}

impl ScheduleSlot {
    /// The schedule in force, if any.
    pub fn current(&self) -> Option<&Schedule> {
        self.current.as_ref()
    }

    /// Why the latest value was refused; `None` once a good value is in force.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    pub fn offer(&mut self, expr: Option<&str>, zone_name: Option<&str>) -> Offer {
        let expr = expr.unwrap_or("");
        let zone_name = zone_name.unwrap_or("UTC");
        match Schedule::parse(expr, zone_name) {
            Ok(s) if self.current.as_ref() == Some(&s) => {
                self.problem = None;
                Offer::Unchanged
            }
            Ok(s) => {
                self.current = Some(s);
                self.problem = None;
                Offer::Changed
            }
            Err(e) => self.refuse(e),
        }
    }

    /// Refuses the configured value for a reason found elsewhere (e.g. the value in
    /// the configuration file does not parse, so PostgreSQL kept another one): the
    /// schedule in force stays, none is made up.
    pub fn refuse(&mut self, why: String) -> Offer {
        self.problem = Some(why.clone());
        Offer::Rejected(why)
    }
}

/// A configured value that was refused: which setting, the value, where it is set
/// (`file:line`), and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub setting: &'static str,
    pub value: String,
    pub location: Option<String>,
    pub why: String,
}

/// "bravo_metrics.schedule = '...' (postgresql.conf:12) is invalid: ..." for each.
pub fn describe_refusals(refusals: &[Refusal]) -> String {
    refusals
        .iter()
        .map(|r| {
            format!(
                "{} = '{}'{} is invalid: {}",
                r.setting,
                r.value,
                r.location
                    .as_deref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default(),
                r.why
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A value that is always accepted, for the fix in a HINT.
fn example_value(setting: &str) -> &'static str {
    if setting.ends_with("time_zone") {
        "UTC"
    } else {
        "15 2 * * *"
    }
}

/// The status HINT for a refused schedule: what is wrong, what runs meanwhile (the
/// last good schedule, or nothing), and the commands that fix it.
pub fn refusal_hint(why: &str, kept: Option<&Schedule>, settings: &[&str]) -> String {
    let meanwhile = match kept {
        Some(s) => format!(
            "the scheduler keeps the last good schedule '{}' in time zone {} until it is fixed",
            s.expr, s.zone_name
        ),
        None => "no scheduled sync runs until it is fixed".to_string(),
    };
    let fix: Vec<String> = settings
        .iter()
        .map(|s| format!("ALTER SYSTEM SET {s} = '{}';", example_value(s)))
        .collect();
    format!(
        "The configured schedule is invalid: {why}; {meanwhile}. Fix it, e.g. {} SELECT pg_reload_conf(); (ALTER SYSTEM overrides postgresql.conf; or correct the line and reload).",
        fix.join(" ")
    )
}

/// What to do when the scheduler cannot connect to its database.
pub const CONNECT_ADVICE: &str = "Check that the database exists (SELECT datname FROM pg_catalog.pg_database) and accepts connections; create it, or set another one: ALTER SYSTEM SET bravo_metrics.scheduler_database = '<database>'; SELECT pg_reload_conf();";

/// Wait before connection attempt number `failures + 1` to a database after `failures`
/// failed ones in a row: 30 s, doubling, at most 5 minutes.
pub fn connect_backoff(failures: i32) -> Duration {
    if failures <= 0 {
        return Duration::ZERO;
    }
    let exp = (failures - 1).min(16) as u32;
    Duration::from_secs(30)
        .saturating_mul(1u32 << exp)
        .min(CONNECT_BACKOFF_MAX)
}

/// Longest wait between two connection attempts.
pub const CONNECT_BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Why a run starts; maps onto the run log's trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Schedule,
    Retry,
    CatchUp,
}

impl Kind {
    /// The run log's trigger of a run of this kind.
    pub fn trigger(self) -> Trigger {
        match self {
            Kind::Schedule => Trigger::Schedule,
            Kind::Retry => Trigger::Retry,
            Kind::CatchUp => Trigger::CatchUp,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.trigger().as_str()
    }

    /// Code published in shared memory (0 = nothing due).
    pub fn code(self) -> i32 {
        match self {
            Kind::Schedule => 1,
            Kind::Retry => 2,
            Kind::CatchUp => 3,
        }
    }

    pub fn from_code(code: i32) -> Option<Kind> {
        match code {
            1 => Some(Kind::Schedule),
            2 => Some(Kind::Retry),
            3 => Some(Kind::CatchUp),
            _ => None,
        }
    }
}

/// A run the worker will start at `at`. `attempt` 1 is a scheduled (or catch-up) run;
/// its n-th retry is attempt n + 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    pub at: DateTime<Utc>,
    pub kind: Kind,
    pub attempt: i32,
}

/// Delay before retry number `retry` (1-based): `base` × 2^(retry-1), at most a day.
pub fn backoff(base: Duration, retry: i32) -> Duration {
    let exp = (retry.max(1) - 1).min(30) as u32;
    base.saturating_mul(1u32 << exp)
        .min(Duration::from_secs(86_400))
}

/// After a failed attempt: the retry to schedule, if any are left.
pub fn retry_after_failure(
    failed_attempt: i32,
    max_retries: i32,
    base: Duration,
    now: DateTime<Utc>,
) -> Option<Due> {
    let retry = failed_attempt; // attempt 1 failed -> retry 1 (attempt 2)
    if retry > max_retries {
        return None;
    }
    let wait = chrono::Duration::from_std(backoff(base, retry)).ok()?;
    Some(Due {
        at: now + wait,
        kind: Kind::Retry,
        attempt: failed_attempt + 1,
    })
}

/// Which run comes next: a pending retry, unless the next scheduled occurrence comes
/// first (a new scheduled run supersedes the retries of the previous one).
pub fn next_due(next_fire: Option<DateTime<Utc>>, retry: Option<Due>) -> Option<Due> {
    let scheduled = next_fire.map(|at| Due {
        at,
        kind: Kind::Schedule,
        attempt: 1,
    });
    match (scheduled, retry) {
        (Some(s), Some(r)) if r.at < s.at => Some(r),
        (Some(s), _) => Some(s),
        (None, r) => r,
    }
}

/// A catch-up run is due when the latest occurrence at or before `now` is later than
/// the start of the latest scheduled, retry or catch-up run. With no such run at all
/// (a scheduler that never ran) nothing was missed. The catch-up run itself starts
/// after that occurrence, so the same occurrence is never replayed twice.
pub fn missed(
    schedule: &Schedule,
    now: DateTime<Utc>,
    last_scheduled_start: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let last = last_scheduled_start?;
    let occurrence = schedule.previous_at_or_before(now)?;
    (occurrence > last).then_some(occurrence)
}
