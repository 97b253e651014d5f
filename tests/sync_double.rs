//! bravo_sync against the loopback Snowflake double, for what fakesnow cannot do:
//! chunked results that stall mid-download (cancel, statement_timeout, progress) and
//! credential checks.

mod common;

use std::time::{Duration, Instant};

use bravo_testkit::double::{reply, Endpoint, Reply};
use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;
use postgres::Client;

fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

fn opts(buys: u64) -> SyntheticOptions {
    SyntheticOptions {
        media_buys: buys,
        days: 31,
        end_date: today(),
        chunk_rows: 4000,
        inline_rows: 500,
        ..Default::default()
    }
}

fn last_run(c: &mut Client) -> (String, String, String) {
    let r = c
        .query_one("SELECT status, coalesce(sqlstate, ''), coalesce(message, '') FROM bravo_sync_runs ORDER BY run_id DESC LIMIT 1", &[])
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

/// Starts `bravo_sync(30)` on its own connection; returns (pid, handle yielding its result).
fn sync_in_background(
    pg: &Cluster,
    setup: &str,
) -> (i32, std::thread::JoinHandle<Result<u64, postgres::Error>>) {
    run_in_background(pg, setup, "SELECT * FROM bravo_sync(30)")
}

/// Runs `query` on its own connection after `setup`; returns (pid, handle yielding its result).
fn run_in_background(
    pg: &Cluster,
    setup: &str,
    query: &'static str,
) -> (i32, std::thread::JoinHandle<Result<u64, postgres::Error>>) {
    let mut c = pg.client("media_tool");
    c.batch_execute(setup).unwrap();
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let h = std::thread::spawn(move || c.query(query, &[]).map(|r| r.len() as u64));
    (pid, h)
}

fn wait_until_fetching(pg: &Cluster) -> (i64, String) {
    let mut watch = pg.client("media_tool");
    wait_for(
        Duration::from_secs(30),
        "the sync to report fetching progress",
        || {
            let rows = watch
                .query(
                    "SELECT run_id, phase, target, fetched,
                            started_at BETWEEN now() - interval '10 minutes' AND clock_timestamp()
                       FROM bravo_sync_progress",
                    &[],
                )
                .unwrap();
            rows.first().and_then(|r| {
                let fetched: i64 = r.get(3);
                // The start time must survive the sync's own statements (an index
                // build writes into the same progress slot).
                let started_now: bool = r.get(4);
                (r.get::<_, String>(1) == "fetching" && fetched > 0 && started_now)
                    .then(|| (r.get::<_, i64>(0), r.get::<_, String>(2)))
            })
        },
    )
}

/// A database synced once, then a second sync (3 % revised rows) stalled inside its
/// third chunk download: every chunk after the second stalls for a minute.
struct Stalled {
    src: SyntheticSource,
    pg: Cluster,
    c: Client,
    /// The metric tables before the stalled sync.
    before: String,
    pid: i32,
    sync: std::thread::JoinHandle<Result<u64, postgres::Error>>,
    run_id: i64,
}

fn stalled_sync() -> Stalled {
    let src = SyntheticSource::start(opts(2000));
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 2000, 10);
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    let before = metrics_digest(&mut c);
    src.set_options(SyntheticOptions {
        revision: 1,
        changed_pct: 3,
        slow_chunk: Some(Duration::from_secs(60)),
        slow_after_chunks: 2,
        ..opts(2000)
    });
    let (pid, sync) = sync_in_background(&pg, "SET bravo_metrics.progress_interval = 0");
    let (run_id, target) = wait_until_fetching(&pg);
    assert_eq!(target, "impressions");
    src.double()
        .wait_for(Endpoint::Chunk, 3, Duration::from_secs(20));
    Stalled {
        src,
        pg,
        c,
        before,
        pid,
        sync,
        run_id,
    }
}

#[test]
fn cancel_mid_download_stops_within_a_second_rolls_back_and_is_logged() {
    let Stalled {
        src,
        pg,
        mut c,
        before,
        pid,
        sync: h,
        run_id,
    } = stalled_sync();

    let t0 = Instant::now();
    let mut admin = pg.client("media_tool");
    admin
        .execute("SELECT pg_cancel_backend($1)", &[&pid])
        .unwrap();
    let err = h.join().unwrap().unwrap_err();
    let took = t0.elapsed();
    assert_eq!(sqlstate(&err), "57014", "{}", db_message(&err));
    assert!(took < Duration::from_millis(1500), "cancel took {took:?}");
    assert_eq!(
        metrics_digest(&mut c),
        before,
        "the cancelled sync changed nothing"
    );
    let (status, state, _) = last_run(&mut c);
    assert_eq!((status.as_str(), state.as_str()), ("cancelled", "57014"));
    let logged: i64 = c
        .query_one(
            "SELECT run_id FROM bravo_sync_runs ORDER BY run_id DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        logged, run_id,
        "the progress view showed the run id that was logged"
    );
    // The running Snowflake query was aborted and the session logged out.
    assert!(
        src.double()
            .wait_for(Endpoint::Abort, 1, Duration::from_secs(5)),
        "abort-request sent"
    );
    assert!(
        src.double()
            .wait_for(Endpoint::Logout, 2, Duration::from_secs(5)),
        "logout sent"
    );
}

#[test]
fn terminate_mid_download_rolls_back_and_is_logged_as_cancelled() {
    let Stalled {
        src,
        pg,
        mut c,
        before,
        pid,
        sync: h,
        run_id,
    } = stalled_sync();

    let t0 = Instant::now();
    let mut admin = pg.client("media_tool");
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    let err = h.join().unwrap().unwrap_err();
    assert!(
        err.is_closed() || sqlstate(&err) == "57P01",
        "the session ends: {err}"
    );
    // The backend's exit writes the run row (FATAL runs no catch block).
    let (status, state, message) = wait_for(Duration::from_secs(10), "the run row", || {
        c.query_opt(
            "SELECT status, coalesce(sqlstate, ''), coalesce(message, '') FROM bravo_sync_runs WHERE run_id = $1 AND status <> 'running'",
            &[&run_id],
        )
        .unwrap()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1), r.get::<_, String>(2)))
    });
    let took = t0.elapsed();
    assert_eq!((status.as_str(), state.as_str()), ("cancelled", "57P01"));
    assert!(message.contains("terminated"), "{message}");
    assert!(
        took < Duration::from_secs(3),
        "terminated and logged in {took:?}"
    );
    let gone = admin
        .query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&pid])
        .unwrap()
        .is_none();
    assert!(gone, "the backend exited");
    assert_eq!(
        metrics_digest(&mut c),
        before,
        "the terminated sync changed nothing"
    );
    // The next sync runs normally.
    src.set_options(SyntheticOptions {
        revision: 1,
        changed_pct: 3,
        ..opts(2000)
    });
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    let (status, _, _) = last_run(&mut c);
    assert_eq!(status, "succeeded");
}

#[test]
fn a_sync_terminated_before_its_transaction_commits_is_logged_as_cancelled() {
    let src = SyntheticSource::start(opts(500));
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 500, 10);
    let before = metrics_digest(&mut c);

    // The sync succeeds inside an explicit transaction that is still open ...
    let mut open = pg.client("media_tool");
    let pid: i32 = open
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    open.batch_execute("BEGIN").unwrap();
    let run_id: i64 = open.query("SELECT * FROM bravo_sync(30)", &[]).unwrap()[0].get("run_id");
    // ... when its backend is terminated: the work rolls back, and the run is logged.
    c.execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    let (status, state) = wait_for(Duration::from_secs(10), "the run row", || {
        c.query_opt(
            "SELECT status, coalesce(sqlstate, '') FROM bravo_sync_runs WHERE run_id = $1 AND status <> 'running'",
            &[&run_id],
        )
        .unwrap()
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
    });
    assert_eq!((status.as_str(), state.as_str()), ("cancelled", "57P01"));
    assert_eq!(metrics_digest(&mut c), before, "nothing committed");

    // A sync whose transaction committed leaves only its own 'succeeded' row, even if
    // the backend is terminated afterwards.
    let mut done = pg.client("media_tool");
    let pid: i32 = done
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let run_id: i64 = done.query("SELECT * FROM bravo_sync(30)", &[]).unwrap()[0].get("run_id");
    c.execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    wait_for(Duration::from_secs(10), "the backend to exit", || {
        c.query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&pid])
            .unwrap()
            .is_none()
            .then_some(())
    });
    let statuses: Vec<String> = c
        .query(
            "SELECT status FROM bravo_sync_runs WHERE run_id = $1",
            &[&run_id],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(statuses, vec!["succeeded".to_string()]);
}

#[test]
fn a_fast_shutdown_during_a_sync_is_prompt_and_the_restarted_server_is_consistent() {
    let Stalled {
        src: _src,
        pg,
        mut c,
        before,
        sync: h,
        ..
    } = stalled_sync();
    drop(c);
    // During a shutdown the postmaster starts no run-log writer: the sync's backend
    // must not wait for one for long.
    let t0 = Instant::now();
    pg.stop("fast");
    let took = t0.elapsed();
    assert!(h.join().unwrap().is_err());
    assert!(took < Duration::from_secs(5), "fast shutdown took {took:?}");
    pg.pg_ctl_start();
    c = pg.client("media_tool");
    assert_eq!(metrics_digest(&mut c), before, "the sync rolled back");
    let running: i64 = c
        .query_one(
            "SELECT count(*) FROM bravo_sync_runs WHERE status = 'succeeded'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(running, 1, "only the first sync succeeded");
    // The postmaster started no writer during the shutdown: the record went to the
    // server log instead.
    let log = pg.log_text();
    assert!(
        log.contains("could not record run 2 (manual) in bravo_sync_runs")
            && log.contains("status cancelled, sqlstate 57P01"),
        "{log}"
    );
}

#[test]
fn statement_timeout_stops_a_stalled_sync() {
    let src = SyntheticSource::start(SyntheticOptions {
        slow_chunk: Some(Duration::from_secs(60)),
        slow_after_chunks: 1,
        ..opts(1000)
    });
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 1000, 10);
    c.batch_execute("SET statement_timeout = '1500ms'").unwrap();
    let t0 = Instant::now();
    let err = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    let took = t0.elapsed();
    assert_eq!(sqlstate(&err), "57014", "{}", db_message(&err));
    assert!(
        db_message(&err).contains("statement timeout"),
        "{}",
        db_message(&err)
    );
    assert!(
        took < Duration::from_millis(2800),
        "timeout honoured within about a second: {took:?}"
    );
    c.batch_execute("RESET statement_timeout").unwrap();
    let rows: i64 = c
        .query_one("SELECT count(*) FROM platform_buy_daily_impressions", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
    assert_eq!(last_run(&mut c).0, "cancelled");
}

#[test]
fn chunked_source_is_merged_exactly_and_three_percent_revisions_update_three_percent() {
    let src = SyntheticSource::start(opts(3000));
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 3000, 10);
    let rows = c
        .query(
            "SELECT target, fetched, inserted FROM bravo_sync(30) ORDER BY target",
            &[],
        )
        .unwrap();
    for r in &rows {
        assert_eq!(r.get::<_, i64>(1), 3000 * 31);
        assert_eq!(r.get::<_, i64>(2), 3000 * 31);
    }
    // Every row equals what the generator says.
    let o = opts(3000);
    let mut mismatches = 0;
    for r in c.query("SELECT media_buy_id, date, impressions, clicks, (spend * 100)::bigint FROM platform_buy_daily_impressions WHERE media_buy_id % 97 = 0", &[]).unwrap() {
        let id: i64 = r.get(0);
        let date: chrono::NaiveDate = r.get(1);
        let want = o.row(bravo_testkit::synthetic::Table::Impressions, id, date);
        if want.metrics != [r.get::<_, i64>(2), r.get::<_, i64>(3), r.get::<_, i64>(4)] {
            mismatches += 1;
        }
    }
    assert_eq!(mismatches, 0);

    src.set_options(SyntheticOptions {
        revision: 1,
        changed_pct: 3,
        ..opts(3000)
    });
    let rows = c
        .query(
            "SELECT target, updated, unchanged FROM bravo_sync(30) ORDER BY target",
            &[],
        )
        .unwrap();
    for r in &rows {
        assert_eq!(
            r.get::<_, i64>(1),
            3000 * 31 * 3 / 100,
            "{}",
            r.get::<_, String>(0)
        );
        assert_eq!(r.get::<_, i64>(2), 3000 * 31 * 97 / 100);
    }
}

/// The feed hands a chunk to the backend in slices of 16,384 rows
/// (`src/sync/feed.rs`): chunks of 40,000 rows cross in three slices each, the last
/// one short, and every row lands once, as the generator made it.
#[test]
fn chunks_larger_than_a_feed_slice_are_merged_exactly() {
    let o = SyntheticOptions {
        chunk_rows: 40_000,
        inline_rows: 700,
        ..opts(2000)
    };
    let src = SyntheticSource::start(o.clone());
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 2000, 10);
    let rows = c
        .query(
            "SELECT target, fetched, inserted, set_aside FROM bravo_sync(30) ORDER BY target",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        let counts: (i64, i64, i64) = (r.get(1), r.get(2), r.get(3));
        assert_eq!(
            counts,
            (2000 * 31, 2000 * 31, 0),
            "{}",
            r.get::<_, String>(0)
        );
    }
    let mut checked = 0;
    for r in c
        .query(
            "SELECT media_buy_id, date, impressions, clicks, (spend * 100)::bigint FROM platform_buy_daily_impressions",
            &[],
        )
        .unwrap()
    {
        let want = o.row(
            bravo_testkit::synthetic::Table::Impressions,
            r.get(0),
            r.get(1),
        );
        assert_eq!(
            want.metrics,
            [r.get::<_, i64>(2), r.get::<_, i64>(3), r.get::<_, i64>(4)]
        );
        checked += 1;
    }
    assert_eq!(checked, 2000 * 31);
}

#[test]
fn bad_credentials_fail_cleanly_without_retries_and_leave_tables_unchanged() {
    let src = SyntheticSource::start(opts(100));
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 100, 10);
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    let before = metrics_digest(&mut c);
    let logins_before = src.double().count(Endpoint::Login);
    src.double().push(
        Endpoint::Login,
        Reply::json(reply::failure(
            "390100",
            "Incorrect username or password was specified.",
            serde_json::Value::Null,
        )),
    );
    let err = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    assert_eq!(sqlstate(&err), "28000", "{}", db_message(&err));
    assert!(err
        .as_db_error()
        .unwrap()
        .hint()
        .unwrap()
        .contains("snowflake_secret_file"));
    assert_eq!(
        src.double().count(Endpoint::Login),
        logins_before + 1,
        "authentication failures are not retried"
    );
    assert_eq!(metrics_digest(&mut c), before);
    let (status, state, message) = last_run(&mut c);
    assert_eq!((status.as_str(), state.as_str()), ("failed", "28000"));
    assert!(message.contains("390100"), "{message}");
}

/// The hourly tables' contents, for "the failed sync changed nothing".
fn hourly_digest(c: &mut Client) -> String {
    c.query_one(
        "SELECT md5(coalesce((SELECT string_agg(t::text, ',' ORDER BY media_buy_id, hour_start) FROM platform_buy_hourly_impressions t), ''))
             || md5(coalesce((SELECT string_agg(t::text, ',' ORDER BY media_buy_id, hour_start) FROM platform_buy_hourly_videos t), ''))
             || md5(coalesce((SELECT string_agg(t::text, ',' ORDER BY campaign_id, hour_start) FROM bravo.bravo_campaign_hourly_rollup t), ''))",
        &[],
    )
    .unwrap()
    .get(0)
}

#[test]
fn cancel_and_statement_timeout_stop_an_hourly_sync_within_a_second_and_roll_back() {
    let src = SyntheticSource::start(opts(2000));
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 2000, 10);
    for family in ["impressions_hourly", "videos_hourly"] {
        c.execute("SELECT bravo_enable_family($1)", &[&family])
            .unwrap();
    }
    c.query("SELECT * FROM bravo_sync_hourly(2)", &[]).unwrap();
    let hours: i64 = c
        .query_one("SELECT count(*) FROM platform_buy_hourly_impressions", &[])
        .unwrap()
        .get(0);
    assert!(
        hours > 2000 * 24,
        "the first hourly sync loaded {hours} hours"
    );
    let before = hourly_digest(&mut c);
    let daily = metrics_digest(&mut c);

    // A revision whose download stalls in its third chunk: cancelled while it waits.
    src.set_options(SyntheticOptions {
        revision: 1,
        changed_pct: 3,
        slow_chunk: Some(Duration::from_secs(60)),
        slow_after_chunks: 2,
        ..opts(2000)
    });
    let chunks = src.double().count(Endpoint::Chunk);
    let (pid, h) = run_in_background(
        &pg,
        "SET bravo_metrics.progress_interval = 0",
        "SELECT * FROM bravo_sync_hourly(2)",
    );
    let (run_id, target) = wait_until_fetching(&pg);
    assert_eq!(target, "impressions_hourly");
    assert!(
        src.double()
            .wait_for(Endpoint::Chunk, chunks + 3, Duration::from_secs(20)),
        "the third chunk was requested"
    );
    let t0 = Instant::now();
    pg.client("media_tool")
        .execute("SELECT pg_cancel_backend($1)", &[&pid])
        .unwrap();
    let err = h.join().unwrap().unwrap_err();
    let took = t0.elapsed();
    assert_eq!(sqlstate(&err), "57014", "{}", db_message(&err));
    assert!(took < Duration::from_millis(1500), "cancel took {took:?}");
    assert_eq!(
        hourly_digest(&mut c),
        before,
        "the cancelled hourly sync changed nothing"
    );
    assert_eq!(metrics_digest(&mut c), daily, "nor the daily tables");
    let r = c
        .query_one(
            "SELECT status, sqlstate, grain FROM bravo_sync_runs WHERE run_id = $1",
            &[&run_id],
        )
        .unwrap();
    assert_eq!(
        (
            r.get::<_, String>(0),
            r.get::<_, String>(1),
            r.get::<_, String>(2)
        ),
        ("cancelled".into(), "57014".into(), "hour".into())
    );
    assert!(
        src.double()
            .wait_for(Endpoint::Abort, 1, Duration::from_secs(5)),
        "the running Snowflake query was aborted"
    );

    // The same stall under statement_timeout: stopped within about a second of it.
    c.batch_execute("SET statement_timeout = '1500ms'").unwrap();
    let t0 = Instant::now();
    let err = c
        .query("SELECT * FROM bravo_sync_hourly(2)", &[])
        .unwrap_err();
    let took = t0.elapsed();
    c.batch_execute("RESET statement_timeout").unwrap();
    assert_eq!(sqlstate(&err), "57014", "{}", db_message(&err));
    assert!(
        db_message(&err).contains("statement timeout"),
        "{}",
        db_message(&err)
    );
    assert!(
        took < Duration::from_millis(2800),
        "timeout honoured within about a second: {took:?}"
    );
    assert_eq!(
        hourly_digest(&mut c),
        before,
        "the timed-out hourly sync changed nothing"
    );
    let (status, state, _) = last_run(&mut c);
    assert_eq!((status.as_str(), state.as_str()), ("cancelled", "57014"));

    // Without the stall, the revision lands.
    src.set_options(SyntheticOptions {
        revision: 1,
        changed_pct: 3,
        ..opts(2000)
    });
    c.query("SELECT * FROM bravo_sync_hourly(2)", &[]).unwrap();
    assert_ne!(hourly_digest(&mut c), before, "the revision was merged");
    assert_eq!(last_run(&mut c).0, "succeeded");
}
