//! The scheduler's decisions (`bravo_core::schedule`):
//! cron in a time zone, backoff, retry planning, catch-up, and keeping the last good
//! schedule when a bad value arrives.

use std::time::Duration;

use bravo_core::schedule::cron;
use bravo_core::schedule::plan::*;
use chrono::{DateTime, Utc};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn next_and_previous_occurrences_follow_the_time_zone() {
    let s = Schedule::parse("30 4 * * *", "America/New_York").unwrap();
    // 04:30 in New York is 09:30 UTC in winter (EST) and 08:30 UTC in summer (EDT).
    assert_eq!(
        s.next_after(utc("2026-01-10T12:00:00Z")),
        Some(utc("2026-01-11T09:30:00Z"))
    );
    assert_eq!(
        s.next_after(utc("2026-07-10T12:00:00Z")),
        Some(utc("2026-07-11T08:30:00Z"))
    );
    assert_eq!(
        s.previous_at_or_before(utc("2026-01-11T09:30:00Z")),
        Some(utc("2026-01-11T09:30:00Z"))
    );
    let secs = Schedule::parse("*/5 * * * * *", "UTC").unwrap();
    assert_eq!(
        secs.next_after(utc("2026-01-01T00:00:00Z")),
        Some(utc("2026-01-01T00:00:05Z"))
    );
}

#[test]
fn bad_values_are_rejected_and_the_last_good_schedule_stays() {
    let mut slot = ScheduleSlot::default();
    assert_eq!(slot.offer(Some("15 2 * * *"), Some("UTC")), Offer::Changed);
    assert_eq!(
        slot.offer(Some("15 2 * * *"), Some("UTC")),
        Offer::Unchanged
    );
    for (expr, zone) in [
        ("61 * * * *", "UTC"),
        ("", "UTC"),
        ("every day", "UTC"),
        ("15 2 * * *", "Mars/Olympus_Mons"),
    ] {
        assert!(
            matches!(slot.offer(Some(expr), Some(zone)), Offer::Rejected(_)),
            "{expr} {zone}"
        );
        let cur = slot.current().unwrap();
        assert_eq!(
            (cur.expr.as_str(), cur.zone_name.as_str()),
            ("15 2 * * *", "UTC")
        );
    }
    assert_eq!(
        slot.offer(Some("0 3 * * *"), Some("Europe/Paris")),
        Offer::Changed
    );
    assert_eq!(slot.current().unwrap().zone_name, "Europe/Paris");
}

#[test]
fn backoff_doubles_and_is_bounded() {
    let b = Duration::from_secs(60);
    assert_eq!(backoff(b, 1), Duration::from_secs(60));
    assert_eq!(backoff(b, 2), Duration::from_secs(120));
    assert_eq!(backoff(b, 3), Duration::from_secs(240));
    assert_eq!(backoff(b, 40), Duration::from_secs(86_400));
}

#[test]
fn retries_are_planned_until_max_retries() {
    let now = utc("2026-03-01T10:00:00Z");
    let b = Duration::from_secs(10);
    let r1 = retry_after_failure(1, 2, b, now).unwrap();
    assert_eq!(
        (r1.kind, r1.attempt, r1.at),
        (Kind::Retry, 2, utc("2026-03-01T10:00:10Z"))
    );
    let r2 = retry_after_failure(2, 2, b, now).unwrap();
    assert_eq!((r2.attempt, r2.at), (3, utc("2026-03-01T10:00:20Z")));
    assert_eq!(retry_after_failure(3, 2, b, now), None);
    assert_eq!(retry_after_failure(1, 0, b, now), None);
}

#[test]
fn a_new_scheduled_run_supersedes_a_later_retry() {
    let at = |s| utc(s);
    let retry = Due {
        at: at("2026-03-01T10:05:00Z"),
        kind: Kind::Retry,
        attempt: 2,
    };
    let d = next_due(Some(at("2026-03-01T10:10:00Z")), Some(retry)).unwrap();
    assert_eq!(d, retry);
    let d = next_due(Some(at("2026-03-01T10:01:00Z")), Some(retry)).unwrap();
    assert_eq!((d.kind, d.attempt), (Kind::Schedule, 1));
    assert_eq!(next_due(None, None), None);
}

#[test]
fn catch_up_only_when_an_occurrence_passed_since_the_last_scheduled_run() {
    let s = Schedule::parse("15 2 * * *", "UTC").unwrap();
    let now = utc("2026-03-02T09:00:00Z");
    // Never ran: nothing to catch up.
    assert_eq!(missed(&s, now, None), None);
    // Last ran yesterday at 02:15; today's 02:15 passed while down.
    assert_eq!(
        missed(&s, now, Some(utc("2026-03-01T02:15:01Z"))),
        Some(utc("2026-03-02T02:15:00Z"))
    );
    // The catch-up run (started after that occurrence) is not replayed.
    assert_eq!(missed(&s, now, Some(utc("2026-03-02T08:00:00Z"))), None);
}

fn refused(expr: &str) -> String {
    match cron::parse(expr) {
        Ok(_) => panic!("{expr:?} was accepted"),
        Err(e) => e,
    }
}

#[test]
fn the_macros_fire_at_local_times_of_the_schedule_time_zone() {
    let case = |expr: &str, zone: &str, after: &str, want: &str| {
        let s = Schedule::parse(expr, zone).unwrap_or_else(|e| panic!("{expr} {zone}: {e}"));
        assert_eq!(s.next_after(utc(after)), Some(utc(want)), "{expr} {zone}");
    };
    // Local midnight in Paris: 23:00 UTC in winter (CET), 22:00 UTC in summer (CEST),
    // and across the spring change (29 March 2026) each day still runs once.
    case(
        "@daily",
        "Europe/Paris",
        "2026-01-10T12:00:00Z",
        "2026-01-10T23:00:00Z",
    );
    case(
        "@daily",
        "Europe/Paris",
        "2026-07-10T12:00:00Z",
        "2026-07-10T22:00:00Z",
    );
    case(
        "@daily",
        "Europe/Paris",
        "2026-03-28T23:00:00Z",
        "2026-03-29T22:00:00Z",
    );
    case(
        "@DAILY",
        "UTC",
        "2026-01-10T12:00:00Z",
        "2026-01-11T00:00:00Z",
    );
    // Midnight does not exist in Santiago on 6 September 2026 (00:00 -> 01:00): the
    // run happens at 01:00 local, not a day later.
    case(
        "@daily",
        "America/Santiago",
        "2026-09-05T12:00:00Z",
        "2026-09-06T04:00:00Z",
    );
    // Sunday 00:00 local (Sunday 11 January 2026 in New York is 05:00 UTC).
    case(
        "@weekly",
        "America/New_York",
        "2026-01-07T12:00:00Z",
        "2026-01-11T05:00:00Z",
    );
    // The 1st of the month / of the year, 00:00 local.
    case(
        "@monthly",
        "Asia/Tokyo",
        "2026-01-10T12:00:00Z",
        "2026-01-31T15:00:00Z",
    );
    case(
        "@yearly",
        "Europe/Paris",
        "2026-06-01T00:00:00Z",
        "2026-12-31T23:00:00Z",
    );
    case(
        "@annually",
        "Europe/Paris",
        "2026-06-01T00:00:00Z",
        "2026-12-31T23:00:00Z",
    );
    // Every hour at minute 0 local: half past in UTC for India (+05:30).
    case(
        "@hourly",
        "Asia/Kolkata",
        "2026-03-28T12:00:00Z",
        "2026-03-28T12:30:00Z",
    );
}

#[test]
fn seven_fields_unknown_macros_and_wrong_field_counts_are_refused() {
    for (expr, says) in [
        ("0 0 0 1 1 * 2030", "7 fields"),
        ("0 15 2 * * * *", "7 fields"),
        ("@reboot", "not a known macro"),
        ("@every 5m", "not a known macro"),
        ("@daily 5", "not a known macro"),
        ("15 2 * *", "4 fields"),
        ("0 0 15 2 * * * *", "8 fields"),
        ("61 * * * *", "not a valid cron expression"),
    ] {
        let e = refused(expr);
        assert!(e.contains(says), "{expr}: {e}");
    }
    // ... while 5 and 6 fields still parse.
    for expr in [
        "15 2 * * *",
        "*/5 * * * * *",
        "0 0 L * *",
        "0 0 * * 5#3",
        "0 9 * * MON-FRI",
    ] {
        cron::parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    }
}

#[test]
fn schedules_that_never_fire_are_refused_quickly() {
    for expr in [
        "* * 31 2 *",
        "0 0 30 2 *",
        "0 0 31 4,6,9,11 *",
        "0 0 0 31 2 *",
        // Feb 29 when it is a Monday ('+': both day fields must match): next in 2044.
        "0 0 29 2 +1",
    ] {
        let t = std::time::Instant::now();
        let e = refused(expr);
        assert!(e.contains("never fires"), "{expr}: {e}");
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{expr}: {:?}",
            t.elapsed()
        );
    }
    // Rare but real: Feb 29 (2028), the 31st, the last day of February.
    let now = utc("2026-12-01T00:00:00Z");
    for expr in ["0 0 29 2 *", "0 0 31 * *", "0 0 L 2 *"] {
        cron::parse_at(expr, now).unwrap_or_else(|e| panic!("{expr}: {e}"));
    }
    // The horizon moves with the clock: Feb 29 on a Monday is accepted from 2039 on.
    assert!(cron::parse_at("0 0 29 2 +1", utc("2026-12-01T00:00:00Z")).is_err());
    assert!(cron::parse_at("0 0 29 2 +1", utc("2040-01-01T00:00:00Z")).is_ok());
}

#[test]
fn a_refused_value_never_puts_the_default_in_force() {
    // At startup, with the configured value refused: nothing is in force.
    let mut slot = ScheduleSlot::default();
    assert!(matches!(
        slot.refuse("bravo_metrics.schedule = 'every day' is invalid".into()),
        Offer::Rejected(_)
    ));
    assert!(slot.current().is_none());
    assert_eq!(
        slot.problem(),
        Some("bravo_metrics.schedule = 'every day' is invalid")
    );
    // A good value clears the problem...
    assert_eq!(slot.offer(Some("0 3 * * *"), Some("UTC")), Offer::Changed);
    assert_eq!(slot.problem(), None);
    // ... a later refusal keeps it in force and is remembered ...
    slot.refuse("bad again".into());
    assert_eq!(slot.current().unwrap().expr, "0 3 * * *");
    assert_eq!(slot.problem(), Some("bad again"));
    // ... and the same good value again (unchanged) clears it too.
    assert_eq!(slot.offer(Some("0 3 * * *"), Some("UTC")), Offer::Unchanged);
    assert_eq!(slot.problem(), None);
    // A value that does not parse is a problem as well.
    assert!(matches!(
        slot.offer(Some("* * 31 2 *"), Some("UTC")),
        Offer::Rejected(_)
    ));
    assert!(slot.problem().unwrap().contains("never fires"));
}

#[test]
fn the_refusal_hint_says_what_is_wrong_what_runs_and_how_to_fix_it() {
    let why = describe_refusals(&[Refusal {
        setting: "bravo_metrics.schedule",
        value: "every day".into(),
        location: Some("/data/postgresql.conf:12".into()),
        why: "\"every day\" has 2 fields".into(),
    }]);
    assert_eq!(
        why,
        "bravo_metrics.schedule = 'every day' (/data/postgresql.conf:12) is invalid: \"every day\" has 2 fields"
    );
    let none = refusal_hint(&why, None, &["bravo_metrics.schedule"]);
    assert!(none.contains(&why), "{none}");
    assert!(
        none.contains("no scheduled sync runs until it is fixed"),
        "{none}"
    );
    assert!(
        none.contains(
            "ALTER SYSTEM SET bravo_metrics.schedule = '15 2 * * *'; SELECT pg_reload_conf();"
        ),
        "{none}"
    );
    let kept = Schedule::parse("30 4 * * *", "America/New_York").unwrap();
    let h = refusal_hint(&why, Some(&kept), &["bravo_metrics.schedule_time_zone"]);
    assert!(
        h.contains("keeps the last good schedule '30 4 * * *' in time zone America/New_York"),
        "{h}"
    );
    assert!(
        h.contains("ALTER SYSTEM SET bravo_metrics.schedule_time_zone = 'UTC';"),
        "{h}"
    );
}

#[test]
fn connection_attempts_back_off_from_30_seconds_to_5_minutes() {
    let secs: Vec<u64> = (0..=7).map(|n| connect_backoff(n).as_secs()).collect();
    assert_eq!(secs, vec![0, 30, 60, 120, 240, 300, 300, 300]);
    assert_eq!(connect_backoff(i32::MAX), CONNECT_BACKOFF_MAX);
}
