//! Scheduling decisions: cron expressions, time zones, and when the next run is due.
//! The scheduler worker in the extension crate only asks these questions and acts on
//! the answers.
//!
//! * [`cron`] — parsing cron expressions (croner), next / previous occurrences.
//! * [`zone`] — IANA time zones (chrono-tz).
//! * [`plan`] — next run, retries with backoff, catch-up, connection backoff, the
//!   texts of refusals.

pub mod cron;
pub mod plan;
pub mod zone;

/// `bravo_metrics.schedule`: the check of its setting hook and of the worker alike.
pub fn check_schedule_value(v: &str) -> Result<(), String> {
    cron::parse(v).map(|_| ())
}

/// `bravo_metrics.schedule_time_zone`: empty (= UTC) or an IANA name.
pub fn check_zone_value(v: &str) -> Result<(), String> {
    if v.trim().is_empty() {
        return Ok(());
    }
    zone::parse_iana(v).map(|_| ())
}
