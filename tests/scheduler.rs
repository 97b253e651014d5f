//! The scheduler worker against a real PostgreSQL 15 with the library preloaded, and a
//! real fakesnow source (or the synthetic double where a slow source is needed).
//!
//! Waiting is real and bounded (`wait_for`); schedules are a few seconds away, either
//! 6-field cron with seconds or a daily time computed from the clock.

mod common;

use std::time::{Duration, Instant};

use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use chrono::{DateTime, Utc};
use common::*;
use postgres::Client;

/// A preloaded cluster whose scheduler syncs the `postgres` database, disabled until
/// [`enable`] (so nothing runs while the extension is being installed).
fn cluster(extra: &[&str]) -> Cluster {
    let mut conf: Vec<String> = [
        "bravo_metrics.scheduler_database = 'postgres'",
        "bravo_metrics.scheduler_lookback_days = 5",
        "bravo_metrics.scheduler_enabled = off",
        "bravo_metrics.scheduler_retry_backoff = 1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    conf.extend(extra.iter().map(|s| s.to_string()));
    Cluster::start(ClusterOptions {
        preload: true,
        conf,
    })
}

/// Installs the extension in `postgres`, media buys 1..=buys, pointed at 127.0.0.1:port.
fn install(c: &Cluster, port: u16, buys: i64) -> Client {
    let secret = c.secret_file("postgres.secret", "snow");
    let mut db = c.client("postgres");
    db.batch_execute("CREATE EXTENSION bravo_metrics")
        .expect("create extension");
    db.execute(
        "INSERT INTO media_buys (id, campaign_id) SELECT g, g % 3 + 1 FROM generate_series(1, $1::bigint) g",
        &[&buys],
    )
    .expect("media buys");
    point_at(&mut db, "postgres", port, &secret);
    drop(db);
    c.client("postgres")
}

/// Turns the scheduler on with these settings (postgresql.conf + reload).
fn enable(c: &Cluster, lines: &[&str]) {
    let mut all: Vec<&str> = lines.to_vec();
    all.push("bravo_metrics.scheduler_enabled = on");
    c.append_conf(&all);
    c.reload();
}

/// A daily 6-field schedule firing `secs` seconds from now (UTC).
fn daily_at(secs: i64) -> (String, DateTime<Utc>) {
    let at = DateTime::from_timestamp(Utc::now().timestamp() + secs, 0).expect("time");
    (at.format("%-S %-M %-H * * *").to_string(), at)
}

#[derive(Debug, Clone)]
struct Run {
    run_id: i64,
    trigger: String,
    status: String,
    attempt: i32,
    started: f64,
    message: String,
}

/// Finished runs (a run's row is there, `running`, from its start: tests/runlog.rs).
fn runs(c: &mut Client) -> Vec<Run> {
    c.query(
        "SELECT run_id, trigger, status, attempt, extract(epoch FROM started_at)::float8, coalesce(message, '')
           FROM bravo_sync_runs WHERE status <> 'running' ORDER BY started_at, run_id",
        &[],
    )
    .expect("runs")
    .iter()
    .map(|r| Run {
        run_id: r.get(0),
        trigger: r.get(1),
        status: r.get(2),
        attempt: r.get(3),
        started: r.get(4),
        message: r.get(5),
    })
    .collect()
}

fn runs_where(c: &mut Client, f: impl Fn(&Run) -> bool) -> Vec<Run> {
    runs(c).into_iter().filter(|r| f(r)).collect()
}

/// One row of `bravo_schedule_status()`, the times as epoch seconds / text.
#[derive(Debug)]
struct Status {
    loaded: bool,
    enabled: bool,
    worker_pid: Option<i32>,
    database: Option<String>,
    schedule: Option<String>,
    time_zone: Option<String>,
    next_run: Option<f64>,
    next_run_kind: Option<String>,
    hint: Option<String>,
    last_run_trigger: Option<String>,
    last_run_status: Option<String>,
    last_success_run_id: Option<i64>,
    consecutive_failures: i64,
    impressions_latest_date: Option<String>,
    impressions_lag_days: Option<i32>,
    videos_latest_date: Option<String>,
    videos_lag_days: Option<i32>,
}

fn status(c: &mut Client) -> Status {
    let r = c
        .query_one(
            "SELECT loaded, enabled, worker_pid, database, schedule, time_zone, extract(epoch FROM next_run)::float8,
                    next_run_kind, hint, last_run_trigger, last_run_status, last_success_run_id,
                    consecutive_failures, impressions_latest_date::text, impressions_lag_days,
                    videos_latest_date::text, videos_lag_days
               FROM bravo_schedule_status()",
            &[],
        )
        .unwrap_or_else(|e| panic!("status: {}", db_message(&e)));
    Status {
        loaded: r.get(0),
        enabled: r.get(1),
        worker_pid: r.get(2),
        database: r.get(3),
        schedule: r.get(4),
        time_zone: r.get(5),
        next_run: r.get(6),
        next_run_kind: r.get(7),
        hint: r.get(8),
        last_run_trigger: r.get(9),
        last_run_status: r.get(10),
        last_success_run_id: r.get(11),
        consecutive_failures: r.get(12),
        impressions_latest_date: r.get(13),
        impressions_lag_days: r.get(14),
        videos_latest_date: r.get(15),
        videos_lag_days: r.get(16),
    }
}

fn scheduler_pid(c: &mut Client) -> Option<i32> {
    c.query_opt(
        "SELECT pid FROM pg_stat_activity WHERE backend_type = 'bravo_metrics scheduler'",
        &[],
    )
    .ok()
    .flatten()
    .map(|r| r.get(0))
}

fn now_epoch() -> f64 {
    Utc::now().timestamp_micros() as f64 / 1e6
}

/// Every LOG/WARNING line the scheduler writes names itself.
fn assert_worker_lines_prefixed(c: &Cluster) {
    let log = c.log_text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("] bravo_metrics scheduler ")
                && (l.contains(" LOG: ") || l.contains(" WARNING: "))
        })
        .collect();
    assert!(!lines.is_empty(), "no scheduler lines in the log:\n{log}");
    for l in lines {
        assert!(
            l.contains("bravo_metrics scheduler: "),
            "unprefixed line: {l}"
        );
    }
}

#[test]
fn a_schedule_fires_and_its_run_is_logged_and_visible_in_the_status() {
    let src = Source::start();
    src.fill(5, 10);
    let cl = cluster(&[]);
    let mut c = install(&cl, src.port(), 5);

    let s = status(&mut c);
    assert!(s.loaded && !s.enabled, "{s:?}");
    assert!(s.next_run.is_none(), "{s:?}");
    assert!(s.hint.unwrap_or_default().contains("scheduler_enabled"));
    assert!(
        s.worker_pid.is_some(),
        "the worker runs (idle) while disabled"
    );
    assert_eq!(s.impressions_latest_date, None);

    enable(&cl, &["bravo_metrics.schedule = '*/2 * * * * *'"]);
    let run = wait_for(Duration::from_secs(60), "a scheduled run", || {
        runs_where(&mut c, |r| {
            r.trigger == "schedule" && r.status == "succeeded"
        })
        .into_iter()
        .next()
    });
    assert_eq!(run.attempt, 1);
    let n: i64 = c
        .query_one("SELECT count(*) FROM platform_buy_daily_impressions", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 5 * 6, "5 buys x (lookback 5 + today)");

    let s = status(&mut c);
    assert!(s.loaded && s.enabled && s.hint.is_none(), "{s:?}");
    assert_eq!(s.worker_pid, scheduler_pid(&mut c));
    assert_eq!(s.schedule.as_deref(), Some("*/2 * * * * *"));
    assert_eq!(s.time_zone.as_deref(), Some("UTC"));
    let next = s.next_run.expect("next run");
    assert!(
        next > now_epoch() - 3.0 && next < now_epoch() + 3.0,
        "{s:?}"
    );
    assert_eq!(s.next_run_kind.as_deref(), Some("schedule"));
    assert!(s.last_success_run_id.is_some());
    assert_eq!(s.consecutive_failures, 0);
    let today: String = c
        .query_one("SELECT current_date::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(s.impressions_latest_date.as_deref(), Some(today.as_str()));
    assert_eq!(s.impressions_lag_days, Some(0));
    assert_eq!(s.videos_latest_date.as_deref(), Some(today.as_str()));
    assert_eq!(s.videos_lag_days, Some(0));
    assert_worker_lines_prefixed(&cl);
}

#[test]
fn a_reload_changes_the_next_run_and_invalid_values_are_rejected() {
    let cl = cluster(&[]);
    let mut c = install(&cl, free_port(), 1);
    enable(
        &cl,
        &[
            "bravo_metrics.schedule = '0 3 * * *'",
            "bravo_metrics.schedule_time_zone = 'UTC'",
        ],
    );
    let at_utc = |c: &mut Client, tz: &str| -> Option<String> {
        c.query_one(
            "SELECT to_char(next_run AT TIME ZONE $1, 'HH24:MI:SS') FROM bravo_schedule_status() WHERE next_run_kind = 'schedule'
                AND next_run > now() AND next_run <= now() + interval '25 hours'",
            &[&tz],
        )
        .ok()
        .and_then(|r| r.get::<_, Option<String>>(0))
    };
    wait_for(Duration::from_secs(20), "next run at 03:00 UTC", || {
        (at_utc(&mut c, "UTC").as_deref() == Some("03:00:00")).then_some(())
    });
    let pid = scheduler_pid(&mut c).expect("worker");

    enable(
        &cl,
        &[
            "bravo_metrics.schedule = '30 4 * * *'",
            "bravo_metrics.schedule_time_zone = 'America/New_York'",
        ],
    );
    wait_for(
        Duration::from_secs(20),
        "next run at 04:30 New York",
        || (at_utc(&mut c, "America/New_York").as_deref() == Some("04:30:00")).then_some(()),
    );
    let s = status(&mut c);
    assert_eq!(s.schedule.as_deref(), Some("30 4 * * *"));
    assert_eq!(s.time_zone.as_deref(), Some("America/New_York"));
    assert_eq!(scheduler_pid(&mut c), Some(pid), "no restart needed");

    // Rejected when set, with a HINT.
    for (sql, hint) in [
        (
            "ALTER SYSTEM SET bravo_metrics.schedule = '61 * * * *'",
            "5 fields",
        ),
        (
            "ALTER SYSTEM SET bravo_metrics.schedule = 'every day at noon'",
            "5 fields",
        ),
        (
            "ALTER SYSTEM SET bravo_metrics.schedule_time_zone = 'Mars/Olympus_Mons'",
            "IANA",
        ),
        // Never fires (31 February).
        (
            "ALTER SYSTEM SET bravo_metrics.schedule = '* * 31 2 *'",
            "never fires",
        ),
        // A 7th (year) field, and an @ word that is not a macro.
        (
            "ALTER SYSTEM SET bravo_metrics.schedule = '0 0 0 1 1 * 2030'",
            "year field",
        ),
        (
            "ALTER SYSTEM SET bravo_metrics.schedule = '@reboot'",
            "not a known macro",
        ),
        (
            "ALTER SYSTEM SET bravo_metrics.scheduler_database = 'no_such_db'",
            "pg_catalog.pg_database",
        ),
    ] {
        let e = c.batch_execute(sql).expect_err(sql);
        assert_eq!(sqlstate(&e), "22023", "{sql}: {}", db_message(&e));
        let hint_text = e
            .as_db_error()
            .and_then(|d| d.hint())
            .unwrap_or_default()
            .to_string();
        assert!(
            hint_text.contains(hint) || db_message(&e).contains(hint),
            "{sql}: {}",
            db_message(&e)
        );
    }

    // A bad value that still reaches the servers through the file is refused by every
    // process; the worker keeps the last good schedule and keeps running.
    let before = status(&mut c).next_run;
    cl.append_conf(&["bravo_metrics.schedule = 'every day at noon'"]);
    cl.reload();
    wait_for(Duration::from_secs(20), "the rejection in the log", || {
        cl.log_text()
            .contains("invalid value for parameter \"bravo_metrics.schedule\"")
            .then_some(())
    });
    // The status says so: what is wrong, where, what runs meanwhile, how to fix it.
    let s = wait_for(Duration::from_secs(20), "the refusal in the status", || {
        let s = status(&mut c);
        s.hint
            .as_deref()
            .is_some_and(|h| h.contains("'every day at noon'"))
            .then_some(s)
    });
    let hint = s.hint.clone().unwrap();
    for part in [
        "bravo_metrics.schedule = 'every day at noon' (",
        "postgresql.conf:",
        "is invalid: \"every day at noon\" has 4 fields",
        "keeps the last good schedule '30 4 * * *' in time zone America/New_York until it is fixed",
        "ALTER SYSTEM SET bravo_metrics.schedule = '15 2 * * *'; SELECT pg_reload_conf();",
    ] {
        assert!(hint.contains(part), "{part:?} not in {hint}");
    }
    assert_eq!(s.schedule.as_deref(), Some("30 4 * * *"));
    assert_eq!(s.time_zone.as_deref(), Some("America/New_York"));
    assert_eq!(s.next_run, before);
    assert_eq!(scheduler_pid(&mut c), Some(pid));
    // A new worker process (after an error, say) keeps the last good schedule too.
    c.execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    let pid = wait_for(Duration::from_secs(30), "the worker to restart", || {
        scheduler_pid(&mut c).filter(|p| *p != pid)
    });
    let s = wait_for(Duration::from_secs(10), "the new worker's status", || {
        let s = status(&mut c);
        (s.worker_pid == Some(pid) && s.next_run.is_some()).then_some(s)
    });
    assert_eq!(s.schedule.as_deref(), Some("30 4 * * *"), "{s:?}");
    assert_eq!(s.next_run, before, "{s:?}");
    assert_eq!(s.hint.as_deref(), Some(hint.as_str()));
    // ... and still takes the next good value, which clears the hint.
    cl.append_conf(&["bravo_metrics.schedule = '45 5 * * *'"]);
    cl.reload();
    wait_for(
        Duration::from_secs(20),
        "next run at 05:45 New York",
        || (at_utc(&mut c, "America/New_York").as_deref() == Some("05:45:00")).then_some(()),
    );
    assert_eq!(status(&mut c).hint, None);
    assert_eq!(scheduler_pid(&mut c), Some(pid));

    // The macros are read in the schedule's time zone: @daily in Kolkata is 00:00
    // there (18:30 UTC).
    alter_system(
        &mut c,
        &[
            "bravo_metrics.schedule = '@daily'",
            "bravo_metrics.schedule_time_zone = 'Asia/Kolkata'",
        ],
    );
    wait_for(Duration::from_secs(20), "next run at 00:00 Kolkata", || {
        (at_utc(&mut c, "Asia/Kolkata").as_deref() == Some("00:00:00")).then_some(())
    });
    assert_eq!(at_utc(&mut c, "UTC").as_deref(), Some("18:30:00"));
    let s = status(&mut c);
    assert_eq!(s.schedule.as_deref(), Some("@daily"));
    assert_eq!(s.hint, None);
}

#[test]
fn a_failing_run_is_retried_with_backoff_and_a_success_clears_the_failures() {
    let src = Source::start();
    src.fill(3, 5);
    let cl = cluster(&[
        "bravo_metrics.scheduler_retry_backoff = 2",
        "bravo_metrics.scheduler_max_retries = 3",
    ]);
    let mut c = install(&cl, src.port(), 3);
    c.batch_execute("ALTER DATABASE postgres SET bravo_metrics.impressions_source = 'NOT_THERE'")
        .unwrap();
    let (expr, _) = daily_at(3);
    enable(&cl, &[&format!("bravo_metrics.schedule = '{expr}'")]);

    let first = wait_for(Duration::from_secs(30), "the failed scheduled run", || {
        runs_where(&mut c, |r| r.trigger == "schedule")
            .into_iter()
            .next()
    });
    assert_eq!(
        (first.status.as_str(), first.attempt),
        ("failed", 1),
        "{first:?}"
    );
    assert!(first.message.contains("NOT_THERE"), "{first:?}");
    let s = wait_for(Duration::from_secs(10), "a retry planned", || {
        let s = status(&mut c);
        (s.next_run_kind.as_deref() == Some("retry")).then_some(s)
    });
    let planned = s.next_run.unwrap();
    assert!(planned >= first.started + 2.0, "{s:?} {first:?}");

    let second = wait_for(Duration::from_secs(30), "the first retry", || {
        runs_where(&mut c, |r| r.trigger == "retry")
            .into_iter()
            .next()
    });
    assert_eq!(
        (second.status.as_str(), second.attempt),
        ("failed", 2),
        "{second:?}"
    );
    assert!(
        second.started - first.started >= 2.0,
        "backoff 2 s: {first:?} {second:?}"
    );
    assert_eq!(status(&mut c).consecutive_failures, 2);

    // Fix the source; the next retry (4 s later) succeeds.
    c.batch_execute(
        "ALTER DATABASE postgres SET bravo_metrics.impressions_source = 'PLATFORM_BUY_DAILY_IMPRESSIONS'",
    )
    .unwrap();
    let third = wait_for(Duration::from_secs(30), "the second retry", || {
        runs_where(&mut c, |r| r.trigger == "retry" && r.attempt == 3)
            .into_iter()
            .next()
    });
    assert_eq!(third.status, "succeeded", "{third:?}");
    assert!(
        third.started - second.started >= 4.0,
        "backoff 2 s x 2: {second:?} {third:?}"
    );
    let s = status(&mut c);
    assert_eq!(s.consecutive_failures, 0, "{s:?}");
    assert_eq!(s.last_run_trigger.as_deref(), Some("retry"));
    assert_eq!(s.last_run_status.as_deref(), Some("succeeded"));
    assert_eq!(s.next_run_kind.as_deref(), Some("schedule"));
    assert_worker_lines_prefixed(&cl);
}

#[test]
fn retries_stop_after_max_retries() {
    let cl = cluster(&["bravo_metrics.scheduler_max_retries = 1"]);
    // Nothing listens on this port: every attempt fails.
    let mut c = install(&cl, free_port(), 1);
    let (expr, _) = daily_at(2);
    enable(&cl, &[&format!("bravo_metrics.schedule = '{expr}'")]);
    wait_for(Duration::from_secs(40), "giving up", || {
        cl.log_text()
            .contains("bravo_metrics scheduler: giving up after 1 retries")
            .then_some(())
    });
    let all = runs(&mut c);
    let got: Vec<(&str, &str, i32)> = all
        .iter()
        .map(|r| (r.trigger.as_str(), r.status.as_str(), r.attempt))
        .collect();
    assert_eq!(got, vec![("schedule", "failed", 1), ("retry", "failed", 2)]);
    assert!(all[1].started - all[0].started >= 1.0);
    let s = status(&mut c);
    assert_eq!(s.consecutive_failures, 2);
    assert_eq!(s.next_run_kind.as_deref(), Some("schedule"));
}

#[test]
fn scheduled_and_manual_runs_never_overlap() {
    let src = Source::start();
    src.fill(3, 5);
    let cl = cluster(&[]);
    let mut c = install(&cl, src.port(), 3);
    enable(&cl, &["bravo_metrics.schedule = '*/2 * * * * *'"]);
    wait_for(Duration::from_secs(60), "a scheduled run", || {
        runs_where(&mut c, |r| {
            r.trigger == "schedule" && r.status == "succeeded"
        })
        .into_iter()
        .next()
    });

    // skip: a manual sync held open makes the scheduled run skip, and it says so.
    let mut m = cl.client("postgres");
    m.batch_execute("BEGIN; SELECT * FROM bravo_sync(5);")
        .unwrap_or_else(|e| panic!("manual: {}", db_message(&e)));
    let held_since = now_epoch();
    let skipped = wait_for(Duration::from_secs(30), "a skipped run", || {
        runs_where(&mut c, |r| r.status == "skipped" && r.started > held_since)
            .into_iter()
            .next()
    });
    assert_eq!(skipped.trigger, "schedule");
    assert!(
        skipped
            .message
            .contains("another bravo_metrics sync is running"),
        "{skipped:?}"
    );
    m.batch_execute("COMMIT").unwrap();
    let released = now_epoch();
    wait_for(
        Duration::from_secs(30),
        "a scheduled run after the manual one",
        || {
            runs_where(&mut c, |r| {
                r.trigger == "schedule" && r.status == "succeeded" && r.started > released
            })
            .into_iter()
            .next()
        },
    );

    // wait: the scheduled run waits for the manual one, then runs.
    cl.append_conf(&["bravo_metrics.scheduler_overlap = 'wait'"]);
    cl.reload();
    let reloaded = now_epoch();
    wait_for(Duration::from_secs(30), "a run after the reload", || {
        runs_where(&mut c, |r| r.trigger == "schedule" && r.started > reloaded)
            .into_iter()
            .next()
    });
    m.batch_execute("BEGIN; SELECT * FROM bravo_sync(5);")
        .unwrap();
    let held_since = now_epoch();
    wait_for(
        Duration::from_secs(30),
        "the scheduler waiting on the lock",
        || {
            c.query_opt(
            "SELECT 1 FROM pg_stat_activity WHERE backend_type = 'bravo_metrics scheduler' AND wait_event_type = 'Lock'",
            &[],
        )
        .unwrap()
        .map(|_| ())
        },
    );
    m.batch_execute("COMMIT").unwrap();
    let released = now_epoch();
    let after = wait_for(Duration::from_secs(30), "the waiting run", || {
        runs_where(&mut c, |r| r.trigger == "schedule" && r.started > released)
            .into_iter()
            .next()
    });
    assert_eq!(after.status, "succeeded", "{after:?}");
    assert!(
        runs_where(&mut c, |r| r.status == "skipped" && r.started > held_since).is_empty(),
        "nothing skipped under 'wait'"
    );
}

#[test]
fn a_scheduled_time_missed_while_down_is_caught_up_once() {
    let src = Source::start();
    src.fill(3, 5);
    let cl = cluster(&[]);
    let mut c = install(&cl, src.port(), 3);
    let (expr, _) = daily_at(3);
    enable(&cl, &[&format!("bravo_metrics.schedule = '{expr}'")]);
    wait_for(Duration::from_secs(30), "the scheduled run", || {
        runs_where(&mut c, |r| {
            r.trigger == "schedule" && r.status == "succeeded"
        })
        .into_iter()
        .next()
    });

    // Next occurrence a few seconds away; the server is down when it comes.
    let (expr, missed_at) = daily_at(6);
    cl.append_conf(&[&format!("bravo_metrics.schedule = '{expr}'")]);
    cl.reload();
    wait_for(Duration::from_secs(10), "the new schedule", || {
        (status(&mut c).next_run == Some(missed_at.timestamp() as f64)).then_some(())
    });
    drop(c);
    cl.stop("fast");
    wait_for(Duration::from_secs(20), "the missed time to pass", || {
        (Utc::now() > missed_at + chrono::Duration::milliseconds(500)).then_some(())
    });
    cl.pg_ctl_start();
    let mut c = cl.client("postgres");
    let catch_up = wait_for(Duration::from_secs(30), "the catch-up run", || {
        runs_where(&mut c, |r| r.trigger == "catch-up")
            .into_iter()
            .next()
    });
    assert_eq!(catch_up.status, "succeeded", "{catch_up:?}");
    assert!(catch_up.started > missed_at.timestamp() as f64);
    assert!(runs_where(&mut c, |r| r.trigger == "schedule"
        && r.started > missed_at.timestamp() as f64)
    .is_empty());

    // Another restart does not replay it.
    drop(c);
    cl.restart();
    let mut c = cl.client("postgres");
    wait_for(
        Duration::from_secs(30),
        "the worker to plan its next run",
        || {
            let s = status(&mut c);
            (s.worker_pid.is_some()
                && s.next_run == Some((missed_at + chrono::Duration::days(1)).timestamp() as f64))
            .then_some(())
        },
    );
    let catch_ups = runs_where(&mut c, |r| r.trigger == "catch-up");
    assert_eq!(catch_ups.len(), 1, "{catch_ups:?}");
    assert!(cl
        .log_text()
        .contains("bravo_metrics scheduler: missed the run of"));
}

#[test]
fn run_now_starts_a_sync_in_the_background_and_returns_its_run_id() {
    let src = Source::start();
    src.fill(4, 5);
    let cl = cluster(&[]);
    let mut c = install(&cl, src.port(), 4);
    let id: i64 = c
        .query_one("SELECT bravo_run_now()", &[])
        .unwrap_or_else(|e| panic!("run now: {}", db_message(&e)))
        .get(0);
    let run = wait_for(Duration::from_secs(30), "the run-now row", || {
        runs_where(&mut c, |r| r.run_id == id).into_iter().next()
    });
    assert_eq!(
        (run.trigger.as_str(), run.status.as_str()),
        ("run-now", "succeeded"),
        "{run:?}"
    );
    let n: i64 = c
        .query_one("SELECT count(*) FROM platform_buy_daily_videos", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 4 * 5);

    c.batch_execute("CREATE ROLE analyst LOGIN").unwrap();
    for f in ["bravo_run_now()", "bravo_schedule_status()"] {
        let ok: bool = c
            .query_one(
                "SELECT has_function_privilege('analyst', $1, 'EXECUTE')",
                &[&f],
            )
            .unwrap()
            .get(0);
        assert!(!ok, "{f} is not executable by PUBLIC");
    }
    let mut a = cl.client_as("postgres", "analyst");
    let e = a
        .query_one("SELECT bravo_run_now()", &[])
        .expect_err("denied");
    assert_eq!(sqlstate(&e), "42501");
}

#[test]
fn without_preload_run_now_works_and_the_status_says_how_to_load_the_scheduler() {
    let src = Source::start();
    src.fill(2, 3);
    let cl = Cluster::start(ClusterOptions::default());
    let mut c = install(&cl, src.port(), 2);
    let s = status(&mut c);
    assert!(!s.loaded, "{s:?}");
    assert!(s.worker_pid.is_none() && s.next_run.is_none(), "{s:?}");
    assert!(s
        .hint
        .unwrap_or_default()
        .contains("shared_preload_libraries"));
    let id: i64 = c
        .query_one("SELECT bravo_run_now()", &[])
        .unwrap_or_else(|e| panic!("run now: {}", db_message(&e)))
        .get(0);
    let run = wait_for(Duration::from_secs(30), "the run-now row", || {
        runs_where(&mut c, |r| r.run_id == id).into_iter().next()
    });
    assert_eq!(
        (run.trigger.as_str(), run.status.as_str()),
        ("run-now", "succeeded"),
        "{run:?}"
    );
    let s = status(&mut c);
    assert_eq!(s.last_run_trigger.as_deref(), Some("run-now"));
    assert_eq!(s.impressions_lag_days, Some(0));
}

#[test]
fn sigterm_during_a_scheduled_sync_rolls_it_back_and_the_worker_restarts() {
    let src = SyntheticSource::start(SyntheticOptions {
        media_buys: 50,
        days: 6,
        end_date: Utc::now().date_naive(),
        chunk_rows: 20,
        inline_rows: 20,
        slow_chunk: Some(Duration::from_secs(20)),
        slow_after_chunks: 1,
        ..Default::default()
    });
    let cl = cluster(&[]);
    let mut c = install(&cl, src.port(), 50);
    c.batch_execute(
        "INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions, clicks, spend)
           SELECT current_date - 1, g, 1, 1, 0.01 FROM generate_series(1, 10) g;
         INSERT INTO platform_buy_daily_videos (date, media_buy_id, video_starts)
           SELECT current_date - 1, g, 1 FROM generate_series(1, 10) g;",
    )
    .unwrap();
    let before = metrics_digest(&mut c);
    let (expr, _) = daily_at(3);
    enable(&cl, &[&format!("bravo_metrics.schedule = '{expr}'")]);

    let pid = wait_for(
        Duration::from_secs(30),
        "the scheduled sync fetching",
        || {
            c.query_opt(
            "SELECT p.pid FROM bravo_sync_progress p JOIN pg_stat_activity a USING (pid)
              WHERE a.backend_type = 'bravo_metrics scheduler' AND p.phase = 'fetching' AND p.fetched > 0",
            &[],
        )
        .unwrap()
        .map(|r| r.get::<_, i32>(0))
        },
    );
    let t0 = Instant::now();
    c.execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    wait_for(Duration::from_secs(5), "the worker to exit", || {
        c.query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&pid])
            .unwrap()
            .is_none()
            .then_some(())
    });
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "prompt: {:?}",
        t0.elapsed()
    );
    assert_eq!(metrics_digest(&mut c), before, "the sync was rolled back");
    assert!(
        runs_where(&mut c, |r| r.status == "succeeded").is_empty(),
        "nothing committed"
    );
    let stopped = wait_for(Duration::from_secs(10), "the stopped run's row", || {
        runs_where(&mut c, |r| r.status == "cancelled")
            .into_iter()
            .next()
    });
    assert_eq!(stopped.trigger, "schedule");
    assert!(
        stopped.message.contains("terminated"),
        "{}",
        stopped.message
    );
    assert!(cl.log_text().contains(
        "terminating background worker \"bravo_metrics scheduler\" due to administrator command"
    ));

    let new_pid = wait_for(Duration::from_secs(40), "the worker to restart", || {
        scheduler_pid(&mut c).filter(|p| *p != pid)
    });
    assert_ne!(new_pid, pid);
    assert_eq!(metrics_digest(&mut c), before);
}

#[test]
fn history_is_pruned_and_freshness_is_reported() {
    let cl = cluster(&[
        "bravo_metrics.run_retention_days = 1",
        "bravo_metrics.scheduler_max_retries = 0",
    ]);
    let mut c = install(&cl, free_port(), 3);
    c.batch_execute(
        "INSERT INTO bravo_sync_runs (trigger, started_at, finished_at, lookback_days, status)
           SELECT 'manual', now() - interval '3 days' - g * interval '1 hour', now() - interval '3 days', 5, 'succeeded'
             FROM generate_series(1, 5) g;
         INSERT INTO bravo_sync_runs (trigger, started_at, finished_at, lookback_days, status)
           VALUES ('manual', now() - interval '12 hours', now() - interval '12 hours', 5, 'succeeded');
         INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions)
           SELECT current_date - 3, g, 1 FROM generate_series(1, 3) g;",
    )
    .unwrap();
    let s = status(&mut c);
    assert_eq!(s.impressions_lag_days, Some(3), "{s:?}");
    assert_eq!(s.videos_latest_date, None);
    assert_eq!(s.videos_lag_days, None);

    let (expr, _) = daily_at(2);
    enable(&cl, &[&format!("bravo_metrics.schedule = '{expr}'")]);
    wait_for(Duration::from_secs(30), "the old runs to be pruned", || {
        let old: i64 = c
            .query_one(
                "SELECT count(*) FROM bravo_sync_runs WHERE started_at < now() - interval '1 day'",
                &[],
            )
            .unwrap()
            .get(0);
        (old == 0).then_some(())
    });
    let kept: i64 = c
        .query_one(
            "SELECT count(*) FROM bravo_sync_runs WHERE trigger = 'manual'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(kept, 1, "the recent run is kept");
    let s = status(&mut c);
    assert_eq!(s.last_run_trigger.as_deref(), Some("schedule"));
    assert_eq!(s.last_run_status.as_deref(), Some("failed"));
    assert_eq!(s.consecutive_failures, 1);
}

#[test]
fn the_worker_survives_an_error_outside_the_sync_and_carries_on() {
    let src = Source::start();
    src.fill(2, 3);
    let cl = cluster(&[]);
    let mut c = install(&cl, src.port(), 2);
    // The sync itself succeeds, but its run row cannot be written: the transaction
    // fails after the sync, outside the sync's own error handling.
    c.batch_execute(
        "ALTER TABLE bravo.bravo_sync_runs ADD CONSTRAINT no_schedule_rows CHECK (trigger <> 'schedule') NOT VALID",
    )
    .unwrap();
    let pid = scheduler_pid(&mut c).expect("worker");
    let (expr, _) = daily_at(2);
    enable(&cl, &[&format!("bravo_metrics.schedule = '{expr}'")]);
    wait_for(Duration::from_secs(30), "the error in the log", || {
        cl.log_text()
            .contains("bravo_metrics scheduler: schedule run (attempt 1) ended with an error")
            .then_some(())
    });
    let retry = wait_for(Duration::from_secs(30), "the retry", || {
        runs_where(&mut c, |r| r.trigger == "retry")
            .into_iter()
            .next()
    });
    assert_eq!(
        (retry.status.as_str(), retry.attempt),
        ("succeeded", 2),
        "{retry:?}"
    );
    assert_eq!(scheduler_pid(&mut c), Some(pid), "the worker did not die");
    let n: i64 = c
        .query_one("SELECT count(*) FROM platform_buy_daily_impressions", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2 * 3);
    assert_worker_lines_prefixed(&cl);
}

/// `ALTER SYSTEM SET` each of `settings` (one statement each: it cannot run in a
/// transaction block), then reload.
fn alter_system(c: &mut Client, settings: &[&str]) {
    for set in settings {
        c.batch_execute(&format!("ALTER SYSTEM SET {set}"))
            .unwrap_or_else(|e| panic!("ALTER SYSTEM SET {set}: {}", db_message(&e)));
    }
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
}

/// The value a backend has in force for a setting.
fn show(c: &mut Client, name: &str) -> String {
    c.query_one(&format!("SHOW {name}"), &[])
        .unwrap_or_else(|e| panic!("SHOW {name}: {}", db_message(&e)))
        .get(0)
}

/// Server log lines that contain every one of `parts`.
fn log_lines(c: &Cluster, parts: &[&str]) -> Vec<String> {
    c.log_text()
        .lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_bad_schedule_in_the_file_at_startup_runs_nothing_and_the_status_says_how_to_fix_it() {
    let cl = cluster(&[
        "bravo_metrics.scheduler_max_retries = 0",
        "bravo_metrics.scheduler_enabled = on",
        "bravo_metrics.schedule = 'every day at noon'",
    ]);
    let mut c = install(&cl, free_port(), 1);

    // What PostgreSQL 15 does: the check hook refuses the value when the preloaded
    // library defines the setting, with a WARNING, and the setting keeps its built-in
    // default, which nobody asked for.
    assert!(
        !log_lines(
            &cl,
            &[
                "WARNING:",
                "invalid value for parameter \"bravo_metrics.schedule\": \"every day at noon\""
            ]
        )
        .is_empty(),
        "{}",
        cl.log_text()
    );
    assert_eq!(show(&mut c, "bravo_metrics.schedule"), "15 2 * * *");

    // The worker does not run that default: no schedule, no next run, and the hint
    // says what is wrong and how to fix it.
    let s = wait_for(Duration::from_secs(20), "the refusal in the status", || {
        let s = status(&mut c);
        s.hint
            .as_deref()
            .is_some_and(|h| h.contains("every day at noon"))
            .then_some(s)
    });
    let hint = s.hint.clone().unwrap();
    for part in [
        "The configured schedule is invalid: bravo_metrics.schedule = 'every day at noon' (",
        "postgresql.conf:",
        "has 4 fields",
        "no scheduled sync runs until it is fixed",
        "ALTER SYSTEM SET bravo_metrics.schedule = '15 2 * * *'; SELECT pg_reload_conf();",
    ] {
        assert!(hint.contains(part), "{part:?} not in {hint}");
    }
    assert!(s.loaded && s.enabled, "{s:?}");
    assert_eq!((s.schedule.as_deref(), s.next_run), (None, None), "{s:?}");
    assert!(
        !log_lines(
            &cl,
            &[
                "bravo_metrics scheduler: bravo_metrics.schedule = 'every day at noon'",
                "no scheduled sync runs until it is fixed"
            ]
        )
        .is_empty(),
        "{}",
        cl.log_text()
    );

    // Fixed as the hint says: the schedule runs, the hint is gone.
    alter_system(&mut c, &["bravo_metrics.schedule = '*/2 * * * * *'"]);
    wait_for(Duration::from_secs(30), "a scheduled run", || {
        runs_where(&mut c, |r| r.trigger == "schedule")
            .into_iter()
            .next()
    });
    let s = status(&mut c);
    assert_eq!(s.schedule.as_deref(), Some("*/2 * * * * *"));
    assert_eq!(s.hint, None, "{s:?}");

    // A bad time zone written into postgresql.conf, then a restart: PostgreSQL keeps
    // the zone's default (UTC); the worker must not run '*/2 * * * * *' in it.
    cl.append_conf(&["bravo_metrics.schedule_time_zone = 'Mars/Olympus_Mons'"]);
    drop(c);
    cl.restart();
    let restarted = now_epoch();
    let mut c = cl.client("postgres");
    assert_eq!(show(&mut c, "bravo_metrics.schedule_time_zone"), "UTC");
    let s = wait_for(
        Duration::from_secs(20),
        "the refused zone in the status",
        || {
            let s = status(&mut c);
            s.hint
                .as_deref()
                .is_some_and(|h| h.contains("Mars/Olympus_Mons"))
                .then_some(s)
        },
    );
    let hint = s.hint.clone().unwrap();
    for part in [
        "bravo_metrics.schedule_time_zone = 'Mars/Olympus_Mons' (",
        "is not a known IANA time zone",
        "no scheduled sync runs until it is fixed",
        "ALTER SYSTEM SET bravo_metrics.schedule_time_zone = 'UTC'; SELECT pg_reload_conf();",
    ] {
        assert!(hint.contains(part), "{part:?} not in {hint}");
    }
    assert_eq!((s.schedule.as_deref(), s.next_run), (None, None), "{s:?}");
    std::thread::sleep(Duration::from_secs(6));
    let ran = runs_where(&mut c, |r| r.started > restarted);
    assert!(
        ran.is_empty(),
        "nothing runs without a valid schedule: {ran:?}"
    );

    alter_system(
        &mut c,
        &["bravo_metrics.schedule_time_zone = 'Europe/Paris'"],
    );
    let fixed = now_epoch();
    wait_for(
        Duration::from_secs(30),
        "a run once the zone is fixed",
        || {
            runs_where(&mut c, |r| r.trigger == "schedule" && r.started > fixed)
                .into_iter()
                .next()
        },
    );
    let s = status(&mut c);
    assert_eq!(s.time_zone.as_deref(), Some("Europe/Paris"));
    assert_eq!(s.hint, None, "{s:?}");
}

/// The scheduler's backend in `pg_stat_activity`, and the database it is connected to.
fn scheduler_database(c: &mut Client) -> Option<String> {
    c.query_opt(
        "SELECT datname::text FROM pg_stat_activity WHERE backend_type = 'bravo_metrics scheduler' AND datname IS NOT NULL",
        &[],
    )
    .ok()
    .flatten()
    .map(|r| r.get(0))
}

#[test]
fn a_missing_scheduler_database_is_refused_backed_off_reported_and_recovered_from() {
    let cl = cluster(&[
        "bravo_metrics.scheduler_enabled = on",
        "bravo_metrics.scheduler_database = 'no_such_db'",
    ]);
    let t0 = Instant::now();
    // No install(): it reloads the configuration (ALTER SYSTEM of the secret file), and
    // a reload rightly makes the worker retry at once; this test needs no sync.
    let mut c = cl.client("postgres");
    c.batch_execute("CREATE EXTENSION bravo_metrics")
        .expect("create extension");

    // The status, from any database, says so within seconds.
    let s = wait_for(Duration::from_secs(5), "the hint", || {
        let s = status(&mut c);
        s.hint
            .as_deref()
            .is_some_and(|h| h.contains("no_such_db"))
            .then_some(s)
    });
    let hint = s.hint.clone().unwrap();
    for part in [
        "bravo_metrics.scheduler_database is 'no_such_db', but there is no such database",
        "pg_catalog.pg_database",
        "ALTER SYSTEM SET bravo_metrics.scheduler_database = '<database>'",
        "SELECT pg_reload_conf();",
    ] {
        assert!(hint.contains(part), "{part:?} not in {hint}");
    }
    assert!(s.enabled && s.next_run.is_none(), "{s:?}");

    // Setting it in a session is refused at once.
    let e = c
        .batch_execute("ALTER SYSTEM SET bravo_metrics.scheduler_database = 'no_such_db'")
        .expect_err("refused");
    assert_eq!(sqlstate(&e), "22023", "{}", db_message(&e));
    assert!(db_message(&e).contains("database \"no_such_db\" does not exist"));

    // No FATAL every 10 s: after the first failed attempt the worker backs off and
    // says so once.
    // (23 s: the next attempt is due 30 s after the first failure, which came with the
    // server's start.)
    std::thread::sleep(Duration::from_secs(23).saturating_sub(t0.elapsed()));
    let fatal = log_lines(&cl, &["FATAL:", "database \"no_such_db\" does not exist"]);
    let warning = log_lines(
        &cl,
        &[
            "WARNING:",
            "bravo_metrics scheduler: cannot connect to database \"no_such_db\": database \"no_such_db\" does not exist",
        ],
    );
    let about = log_lines(&cl, &["no_such_db"]);
    let loud: Vec<&String> = about
        .iter()
        .filter(|l| l.contains("FATAL:") || l.contains("WARNING:"))
        .collect();
    assert!(!fatal.is_empty(), "it did try: {}", cl.log_text());
    assert_eq!(warning.len(), 1, "{}", cl.log_text());
    assert!(loud.len() <= 2, "{loud:#?}");
    assert!(warning[0].contains("SELECT pg_reload_conf() retries at once"));
    assert!(scheduler_database(&mut c).is_none());

    // Fixing the setting (and reloading) connects at once, without waiting out the
    // backoff.
    alter_system(&mut c, &["bravo_metrics.scheduler_database = 'postgres'"]);
    let fixed = Instant::now();
    wait_for(Duration::from_secs(15), "the scheduler in postgres", || {
        (scheduler_database(&mut c).as_deref() == Some("postgres")).then_some(())
    });
    assert!(
        fixed.elapsed() < Duration::from_secs(10),
        "{:?}",
        fixed.elapsed()
    );
    let s = wait_for(Duration::from_secs(5), "a clean status", || {
        let s = status(&mut c);
        (s.hint.is_none() && s.next_run.is_some()).then_some(s)
    });
    assert_eq!(s.database.as_deref(), Some("postgres"));

    // A database that goes missing by a hand-edited file: reported, then created, and
    // a reload connects.
    c.batch_execute("ALTER SYSTEM RESET bravo_metrics.scheduler_database")
        .unwrap();
    cl.append_conf(&["bravo_metrics.scheduler_database = 'later_db'"]);
    cl.reload();
    wait_for(Duration::from_secs(30), "the failed attempt", || {
        (!log_lines(&cl, &["FATAL:", "database \"later_db\" does not exist"]).is_empty())
            .then_some(())
    });
    let s = status(&mut c);
    assert!(
        s.hint
            .as_deref()
            .unwrap_or_default()
            .contains("'later_db', but there is no such database"),
        "{s:?}"
    );
    c.batch_execute("CREATE DATABASE later_db").unwrap();
    cl.reload();
    wait_for(Duration::from_secs(20), "the scheduler in later_db", || {
        (scheduler_database(&mut c).as_deref() == Some("later_db")).then_some(())
    });
    wait_for(Duration::from_secs(5), "a clean status", || {
        status(&mut c).hint.is_none().then_some(())
    });
    assert!(cl
        .log_text()
        .contains("bravo_metrics scheduler: started in database \"later_db\""));
}

#[test]
fn status_and_worker_sql_ignore_functions_planted_on_the_search_path() {
    // Runs that succeed: a failed run's record is written by the run log's own
    // writer worker (src/runlog), which is not the scheduler's code.
    let src = Source::start();
    src.fill(2, 3);
    let cl = cluster(&["bravo_metrics.scheduler_max_retries = 0"]);
    let mut c = install(&cl, src.port(), 2);
    // A role that may create objects in the extension's schema (public) plants now()
    // there, and a database-wide search_path puts its own schema first in every
    // session of the database, the scheduler's and run-now's included.
    c.batch_execute(
        "CREATE ROLE planter LOGIN;
         GRANT CREATE ON SCHEMA public TO planter;
         CREATE SCHEMA planted AUTHORIZATION planter;
         CREATE TABLE public.planted_calls (who text);
         GRANT INSERT ON public.planted_calls TO PUBLIC;
         ALTER DATABASE postgres SET search_path = planted, public, pg_catalog;",
    )
    .unwrap();
    let mut p = cl.client_as("postgres", "planter");
    p.batch_execute(
        "CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
           BEGIN INSERT INTO public.planted_calls VALUES (current_user || ' via public.now()');
                 RETURN pg_catalog.now(); END $$;
         CREATE FUNCTION planted.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
           BEGIN INSERT INTO public.planted_calls VALUES (current_user || ' via planted.now()');
                 RETURN pg_catalog.now(); END $$;",
    )
    .unwrap();
    drop(c);
    cl.restart(); // the worker reads the database's search_path when it connects
    let mut c = cl.client("postgres");
    let calls = |c: &mut Client| -> Vec<String> {
        c.query("SELECT who FROM public.planted_calls", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    // The trap works on a session that does not guard against it.
    c.batch_execute("SELECT now()").unwrap();
    assert_eq!(
        calls(&mut c),
        vec!["postgres via planted.now()".to_string()]
    );
    c.batch_execute("TRUNCATE public.planted_calls").unwrap();

    // bravo_schedule_status() (SECURITY DEFINER) calls none of them.
    let s = status(&mut c);
    assert!(s.loaded, "{s:?}");
    assert_eq!(calls(&mut c), Vec::<String>::new());

    // Nor do run-now (its function and its worker) and the scheduler (a run, then
    // the pruning of the run log).
    let id: i64 = c
        .query_one("SELECT bravo_run_now()", &[])
        .unwrap_or_else(|e| panic!("run now: {}", db_message(&e)))
        .get(0);
    let run = wait_for(Duration::from_secs(30), "the run-now row", || {
        runs_where(&mut c, |r| r.run_id == id).into_iter().next()
    });
    assert_eq!(run.status, "succeeded", "{run:?}");
    let (expr, _) = daily_at(2);
    enable(&cl, &[&format!("bravo_metrics.schedule = '{expr}'")]);
    let run = wait_for(Duration::from_secs(30), "the scheduled run", || {
        runs_where(&mut c, |r| r.trigger == "schedule")
            .into_iter()
            .next()
    });
    assert_eq!(run.status, "succeeded", "{run:?}");
    wait_for(Duration::from_secs(10), "the run log pruned", || {
        (status(&mut c).next_run_kind.as_deref() == Some("schedule")
            && status(&mut c).next_run > Some(now_epoch() + 3600.0))
        .then_some(())
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(calls(&mut c), Vec::<String>::new());
}

/// The hourly families have a schedule of their own (`bravo_metrics.hourly_schedule`,
/// `hourly_lookback_days`): its runs sync only the hourly families and are logged with
/// grain 'hour'; the daily schedule is not touched by them; an empty value stops them.
#[test]
fn the_hourly_schedule_runs_the_hourly_families_on_its_own() {
    let src = Source::start();
    src.sql(&[
        "CREATE OR REPLACE TABLE ANALYTICS.PUBLIC.PLATFORM_BUY_HOURLY_IMPRESSIONS (hour_start timestamp_ltz, media_buy_id number(38,0), impressions number(38,0), clicks number(38,0), spend number(18,2))",
        "CREATE OR REPLACE TABLE ANALYTICS.PUBLIC.PLATFORM_BUY_HOURLY_VIDEOS (hour_start timestamp_ltz, media_buy_id number(38,0), video_starts number(38,0), video_completions number(38,0), video_views number(38,0))",
        "INSERT INTO ANALYTICS.PUBLIC.PLATFORM_BUY_HOURLY_IMPRESSIONS SELECT dateadd(hour, -h.range, date_trunc('hour', current_timestamp)), b.range, 100 + h.range, 1, 0.25 FROM range(1, 4) b, range(0, 30) h",
        "INSERT INTO ANALYTICS.PUBLIC.PLATFORM_BUY_HOURLY_VIDEOS SELECT dateadd(hour, -h.range, date_trunc('hour', current_timestamp)), b.range, 10, 5, 7 FROM range(1, 4) b, range(0, 30) h",
    ]);
    let cl = cluster(&[]);
    let mut c = install(&cl, src.port(), 3);
    c.batch_execute(
        "SELECT bravo_enable_family('impressions_hourly'), bravo_enable_family('videos_hourly')",
    )
    .unwrap();
    // The daily schedule is once a year; the hourly one every 3 seconds.
    enable(
        &cl,
        &[
            "bravo_metrics.schedule = '0 0 1 1 *'",
            "bravo_metrics.hourly_schedule = '*/3 * * * * *'",
            "bravo_metrics.hourly_lookback_days = 2",
        ],
    );
    let run_id: i64 = wait_for(Duration::from_secs(60), "a scheduled hourly run", || {
        c.query_opt(
            "SELECT run_id FROM bravo_sync_runs WHERE trigger = 'schedule' AND grain = 'hour' AND status = 'succeeded' ORDER BY run_id LIMIT 1",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0))
    });
    let targets: Vec<String> = c
        .query(
            "SELECT target FROM bravo_sync_run_targets WHERE run_id = $1 ORDER BY target",
            &[&run_id],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(targets, ["impressions_hourly", "videos_hourly"]);
    // The window (2 days back from today, UTC) holds every source hour since then.
    let (have, want): (i64, i64) = c
        .query_one(
            "SELECT (SELECT count(*) FROM platform_buy_hourly_impressions),
                    3 * (SELECT count(*) FROM generate_series(date_trunc('hour', now()) - interval '29 hours', date_trunc('hour', now()), interval '1 hour') h
                          WHERE h >= ((now() AT TIME ZONE 'UTC')::date - 2)::timestamp AT TIME ZONE 'UTC')",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(have, want);
    let daily: i64 = c
        .query_one(
            "SELECT count(*) FROM bravo_sync_runs WHERE grain = 'day'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(daily, 0, "no daily run");
    let n: i64 = c
        .query_one("SELECT count(*) FROM platform_buy_daily_impressions", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0);
    assert!(
        !log_lines(&cl, &["hourly schedule \"*/3 * * * * *\" in time zone UTC"]).is_empty(),
        "the worker logs the hourly schedule"
    );
    // The status keeps daily and hourly apart, and counts the disagreeing days: no
    // daily row exists, so every (family, buy, day) of the hourly lookback up to
    // yesterday with hours is one.
    let row = c
        .query_one(
            "SELECT last_run_id, hourly_schedule, extract(epoch FROM hourly_next_run)::float8,
                    hourly_last_run_status, hourly_last_success_at IS NOT NULL, hourly_days_disagreeing,
                    (SELECT count(DISTINCT (family, media_buy_id, day)) FROM bravo_reconcile_hourly(
                         (now() AT TIME ZONE 'UTC')::date - 2, (now() AT TIME ZONE 'UTC')::date - 1, 'UTC'))
               FROM bravo_schedule_status()",
            &[],
        )
        .unwrap();
    let last_daily: Option<i64> = row.get(0);
    let sched: Option<String> = row.get(1);
    let next: Option<f64> = row.get(2);
    let status: Option<String> = row.get(3);
    let succeeded: bool = row.get(4);
    let disagreeing: Option<i64> = row.get(5);
    let want: i64 = row.get(6);
    assert_eq!(last_daily, None, "no daily run: the hourly ones are not it");
    assert_eq!(sched.as_deref(), Some("*/3 * * * * *"));
    let next = next.expect("the next hourly run");
    assert!(
        next > now_epoch() - 4.0 && next < now_epoch() + 4.0,
        "{next}"
    );
    assert!(status.is_some() && succeeded);
    assert!(want > 0);
    assert_eq!(disagreeing, Some(want));

    // An empty value stops the hourly runs.
    alter_system(&mut c, &["bravo_metrics.hourly_schedule = ''"]);
    std::thread::sleep(Duration::from_secs(2));
    let count = |c: &mut Client| -> i64 {
        c.query_one(
            "SELECT count(*) FROM bravo_sync_runs WHERE grain = 'hour' AND status <> 'running'",
            &[],
        )
        .unwrap()
        .get(0)
    };
    let before = count(&mut c);
    std::thread::sleep(Duration::from_secs(7));
    assert_eq!(
        count(&mut c),
        before,
        "no hourly run after the schedule was emptied"
    );
}

/// The intraday refresh has a schedule of its own (`bravo_metrics.intraday_schedule`):
/// its runs are logged with trigger 'intraday', merge a row revised in fakesnow after
/// the mark, are not the daily run, and show in `bravo_intraday_status()`.
#[test]
fn the_intraday_schedule_refreshes_changed_rows_on_its_own() {
    let src = Source::start();
    src.fill(5, 3);
    let cl = cluster(&[]);
    let mut c = install(&cl, src.port(), 5);
    // The mark: a window sync by hand (every filled row has the fill's UPDATED_AT).
    c.batch_execute("SELECT * FROM bravo_sync(30)").unwrap();
    src.sql(&["UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET clicks = 424242, updated_at = dateadd(hour, 3, updated_at) WHERE media_buy_id = 2 AND date = current_date"]);
    enable(
        &cl,
        &[
            "bravo_metrics.schedule = '0 0 1 1 *'",
            "bravo_metrics.intraday_schedule = '*/3 * * * * *'",
        ],
    );
    let run_id: i64 = wait_for(Duration::from_secs(60), "a scheduled intraday run", || {
        c.query_opt(
            "SELECT run_id FROM bravo_sync_runs WHERE trigger = 'intraday' AND status = 'succeeded' ORDER BY run_id LIMIT 1",
            &[],
        )
        .unwrap()
        .map(|r| r.get(0))
    });
    let clicks: i64 = c
        .query_one(
            "SELECT clicks FROM platform_buy_daily_impressions WHERE media_buy_id = 2 AND date = current_date",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(clicks, 424242);
    let updated: i64 = c
        .query_one(
            "SELECT updated FROM bravo_sync_run_targets WHERE run_id = $1 AND target = 'impressions'",
            &[&run_id],
        )
        .unwrap()
        .get(0);
    assert_eq!(updated, 1);
    assert!(
        !log_lines(
            &cl,
            &["intraday schedule \"*/3 * * * * *\" in time zone UTC"]
        )
        .is_empty(),
        "the worker logs the intraday schedule"
    );
    let row = c
        .query_one(
            "SELECT schedule, extract(epoch FROM next_run)::float8, last_run_status, last_success_at IS NOT NULL
               FROM bravo_intraday_status() WHERE family = 'impressions'",
            &[],
        )
        .unwrap();
    assert_eq!(
        row.get::<_, Option<String>>(0).as_deref(),
        Some("*/3 * * * * *")
    );
    let next: f64 = row.get::<_, Option<f64>>(1).expect("the next intraday run");
    assert!(
        next > now_epoch() - 4.0 && next < now_epoch() + 4.0,
        "{next}"
    );
    assert_eq!(
        row.get::<_, Option<String>>(2).as_deref(),
        Some("succeeded")
    );
    assert!(row.get::<_, bool>(3));
    // Not the daily run: the daily schedule's next run is still next year's.
    let kind: Option<String> = c
        .query_one("SELECT next_run_kind FROM bravo_schedule_status()", &[])
        .unwrap()
        .get(0);
    assert_eq!(kind.as_deref(), Some("schedule"));
}

#[test]
fn with_export_after_sync_each_scheduled_sync_is_followed_by_an_export() {
    let src = Source::start();
    src.fill(5, 10);
    let moto = bravo_testkit::moto::Moto::start().unwrap();
    moto.create_bucket("nightly").unwrap();
    let cl = cluster(&[]);
    let mut c = install(&cl, src.port(), 5);
    let creds = cl.secret_file(
        "s3.credentials",
        "aws_access_key_id = AKIDSCHED\naws_secret_access_key = sched-secret\n",
    );
    common::alter_system(
        &mut c,
        "bravo_metrics.export_credentials_file",
        creds.to_str().unwrap(),
    );
    common::alter_system(&mut c, "bravo_metrics.export_s3_endpoint", &moto.endpoint());
    // The scheduler's worker reads settings of the configuration file (reloaded on
    // SIGHUP), not a later ALTER DATABASE: the README says ALTER SYSTEM.
    common::alter_system(
        &mut c,
        "bravo_metrics.export_destination",
        "s3://nightly/media/",
    );

    enable(
        &cl,
        &[
            "bravo_metrics.schedule = '*/3 * * * * *'",
            "bravo_metrics.export_after_sync = on",
        ],
    );
    let (id, key) = wait_for(Duration::from_secs(60), "a scheduled export", || {
        c.query_opt(
            "SELECT export_id, object_key FROM bravo_export_runs WHERE trigger = 'schedule' AND status = 'succeeded' ORDER BY export_id LIMIT 1",
            &[],
        )
        .unwrap()
        .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
    });
    assert!(key.starts_with("media/bravo-export-postgres-"), "{key}");
    assert!(
        moto.keys("nightly").unwrap().contains(&key),
        "the archive is in the bucket"
    );
    // The export follows a succeeded scheduled sync, and its log line has no URL.
    let synced: i64 = c
        .query_one(
            "SELECT count(*) FROM bravo_sync_runs WHERE trigger = 'schedule' AND status = 'succeeded'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(synced >= 1);
    let log = wait_for(Duration::from_secs(10), "the export's log line", || {
        let t = cl.log_text();
        t.contains(&format!("export {id} to {key}")).then_some(t)
    });
    assert!(!log.contains("X-Amz-Signature") && !log.contains("sched-secret"));
    cl.append_conf(&["bravo_metrics.scheduler_enabled = off"]);
    cl.reload();
}
