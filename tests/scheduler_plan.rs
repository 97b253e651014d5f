//! The scheduler's pure decisions (`src/schedule/plan.rs`, no PostgreSQL needed):
//! cron in a time zone, backoff, retry planning, catch-up, and keeping the last good
//! schedule when a bad value arrives.

// `plan` names its siblings as `super::{cron, zone}`: here they sit at the root.
#[allow(dead_code)]
#[path = "../src/schedule/cron.rs"]
mod cron;
#[allow(dead_code)]
#[path = "../src/schedule/plan.rs"]
mod plan;
#[allow(dead_code)]
#[path = "../src/schedule/zone.rs"]
mod zone;

use std::time::Duration;

use chrono::{DateTime, Utc};
use plan::*;

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
