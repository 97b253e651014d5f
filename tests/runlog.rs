//! The run log leaves a trace of every run: `running` from the start (written
//! autonomously, so visible from other sessions and kept through a crash),
//! `succeeded` with the data, `failed`/`cancelled` autonomously, `rolled_back` when
//! the transaction that ran a successful sync rolls back, and `interrupted` when the
//! backend of a `running` run is gone (crash, immediate shutdown, SIGKILL). Real
//! PostgreSQL 15 clusters and the loopback Snowflake double (which can stall a sync
//! mid-download).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use bravo_testkit::double::{reply, Endpoint, Reply};
use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;
use postgres::Client;

fn opts(buys: u64) -> SyntheticOptions {
    SyntheticOptions {
        media_buys: buys,
        days: 31,
        end_date: chrono::Utc::now().date_naive(),
        chunk_rows: 4000,
        inline_rows: 500,
        ..Default::default()
    }
}

/// A source whose every chunk after the second stalls for a minute.
fn stalling(buys: u64) -> SyntheticOptions {
    SyntheticOptions {
        slow_chunk: Some(Duration::from_secs(60)),
        slow_after_chunks: 2,
        ..opts(buys)
    }
}

#[derive(Debug, Clone)]
struct Row {
    status: String,
    finished: bool,
    sqlstate: String,
    message: String,
    backend_pid: Option<i32>,
}

fn run_row(c: &mut Client, run_id: i64) -> Option<Row> {
    c.query_opt(
        "SELECT status, finished_at IS NOT NULL, coalesce(sqlstate, ''), coalesce(message, ''), backend_pid
           FROM bravo_sync_runs WHERE run_id = $1",
        &[&run_id],
    )
    .unwrap()
    .map(|r| Row {
        status: r.get(0),
        finished: r.get(1),
        sqlstate: r.get(2),
        message: r.get(3),
        backend_pid: r.get(4),
    })
}

fn count(c: &mut Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).unwrap().get(0)
}

fn last_run_id(c: &mut Client) -> i64 {
    count(c, "SELECT max(run_id) FROM bravo_sync_runs")
}

/// Starts `SELECT * FROM bravo_sync(30)` on a connection of its own; returns its pid
/// and the thread.
fn sync_in_background(
    pg: &Cluster,
) -> (i32, std::thread::JoinHandle<Result<u64, postgres::Error>>) {
    let mut c = pg.client("media_tool");
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let h = std::thread::spawn(move || {
        c.query("SELECT * FROM bravo_sync(30)", &[])
            .map(|r| r.len() as u64)
    });
    (pid, h)
}

/// Waits until a sync reports fetched rows (it is then stalled in a chunk); its run id.
fn wait_until_fetching(pg: &Cluster) -> i64 {
    let mut watch = pg.client("media_tool");
    wait_for(Duration::from_secs(30), "the sync to be fetching", || {
        watch
            .query_opt(
                "SELECT run_id FROM bravo_sync_progress WHERE phase = 'fetching' AND fetched > 0",
                &[],
            )
            .unwrap()
            .map(|r| r.get::<_, i64>(0))
    })
}

fn status_row(c: &mut Client) -> (Option<String>, i64) {
    let r = c
        .query_one(
            "SELECT last_run_status, consecutive_failures FROM bravo_schedule_status()",
            &[],
        )
        .unwrap_or_else(|e| panic!("status: {}", db_message(&e)));
    (r.get(0), r.get(1))
}

#[test]
fn a_sync_in_flight_is_running_for_everyone_and_no_cleanup_marks_it() {
    let src = SyntheticSource::start(stalling(2000));
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 2000, 10);
    let (pid, h) = sync_in_background(&pg);
    let run_id = wait_until_fetching(&pg);

    // (a) From another session, mid-sync: its row is there, running, not finished.
    let row = run_row(&mut c, run_id).expect("the running row is committed");
    assert_eq!(row.status, "running", "{row:?}");
    assert!(!row.finished, "{row:?}");
    assert_eq!(row.backend_pid, Some(pid));

    // (e) Every lazy cleanup path, from other sessions, leaves it alone.
    for _ in 0..3 {
        let (last, failures) = status_row(&mut c);
        assert_eq!(last.as_deref(), Some("running"));
        assert_eq!(failures, 0);
        assert_eq!(count(&mut c, "SELECT bravo._bravo_sweep_interrupted()"), 0);
        let busy = c
            .query("SELECT * FROM bravo_sync(30, wait => false)", &[])
            .unwrap_err();
        assert_eq!(sqlstate(&busy), "55P03", "{}", db_message(&busy));
        assert_eq!(run_row(&mut c, run_id).unwrap().status, "running");
    }

    // Cancelled: the same row, now cancelled; exactly one row for the run.
    c.execute("SELECT pg_cancel_backend($1)", &[&pid]).unwrap();
    let err = h.join().unwrap().unwrap_err();
    assert_eq!(sqlstate(&err), "57014", "{}", db_message(&err));
    let row = run_row(&mut c, run_id).unwrap();
    assert_eq!(
        (row.status.as_str(), row.sqlstate.as_str(), row.finished),
        ("cancelled", "57014", true),
        "{row:?}"
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM bravo_sync_runs"), 1);
}

#[test]
fn a_sync_waiting_for_its_commit_is_not_marked_interrupted_and_commits_as_succeeded() {
    let src = SyntheticSource::start(opts(200));
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 200, 10);
    let before = metrics_digest(&mut c);

    // The sync succeeded inside a transaction that is still open.
    let mut open = pg.client("media_tool");
    open.batch_execute("BEGIN").unwrap();
    let run_id: i64 = open.query("SELECT * FROM bravo_sync(30)", &[]).unwrap()[0].get("run_id");

    // (e) Others see it running (its success is not committed), and no cleanup
    // touches it: not the status, not a sweep, not another sync's start.
    for _ in 0..3 {
        let (last, _) = status_row(&mut c);
        assert_eq!(last.as_deref(), Some("running"));
        assert_eq!(count(&mut c, "SELECT bravo._bravo_sweep_interrupted()"), 0);
        let busy = c
            .query("SELECT * FROM bravo_sync(30, wait => false)", &[])
            .unwrap_err();
        assert_eq!(sqlstate(&busy), "55P03");
    }
    assert_eq!(run_row(&mut c, run_id).unwrap().status, "running");
    assert_eq!(metrics_digest(&mut c), before, "not committed yet");

    open.batch_execute("COMMIT").unwrap();
    let row = run_row(&mut c, run_id).unwrap();
    assert_eq!((row.status.as_str(), row.finished), ("succeeded", true));
    assert_ne!(metrics_digest(&mut c), before);
    assert_eq!(count(&mut c, "SELECT count(*) FROM bravo_sync_runs"), 1);
}

#[test]
fn a_success_and_a_failure_each_leave_exactly_one_row() {
    let src = SyntheticSource::start(opts(100));
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 100, 10);

    // (d) Success: one row, succeeded, finished, with its two targets.
    let rows = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    let run_id: i64 = rows[0].get("run_id");
    let row = run_row(&mut c, run_id).unwrap();
    assert_eq!(
        (row.status.as_str(), row.finished, row.sqlstate.as_str()),
        ("succeeded", true, "")
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM bravo_sync_runs"), 1);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM bravo_sync_run_targets WHERE inserted = 3100 AND fetched = 3100"
        ),
        2
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT cardinality(query_ids)::bigint FROM bravo_sync_runs"
        ),
        2
    );

    // Failure: one more row, failed.
    src.double().push(
        Endpoint::Login,
        Reply::json(reply::failure(
            "390100",
            "Incorrect username or password was specified.",
            serde_json::Value::Null,
        )),
    );
    let err = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    assert_eq!(sqlstate(&err), "28000");
    let failed = last_run_id(&mut c);
    assert_ne!(failed, run_id);
    let row = run_row(&mut c, failed).unwrap();
    assert_eq!(
        (row.status.as_str(), row.finished, row.sqlstate.as_str()),
        ("failed", true, "28000")
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM bravo_sync_runs"), 2);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM bravo_sync_runs WHERE status = 'running'"
        ),
        0
    );
    assert_eq!(status_row(&mut c), (Some("failed".into()), 1));
}

#[test]
fn a_successful_sync_whose_transaction_rolls_back_is_recorded_as_rolled_back() {
    let src = SyntheticSource::start(opts(100));
    let pg = Cluster::start(ClusterOptions {
        conf: vec!["max_prepared_transactions = 2".into()],
        ..Default::default()
    });
    let mut c = pg.media_tool("media_tool", src.port(), 100, 10);
    let empty = metrics_digest(&mut c);
    let rolled_back = |c: &mut Client, run_id: i64, what: &str| {
        let row = run_row(c, run_id).unwrap_or_else(|| panic!("{what}: no row"));
        assert_eq!(
            (row.status.as_str(), row.finished, row.sqlstate.as_str()),
            ("rolled_back", true, ""),
            "{what}: {row:?}"
        );
        assert!(
            row.message
                .contains("the transaction that ran it was rolled back"),
            "{what}: {row:?}"
        );
        assert_eq!(metrics_digest(c), empty, "{what}: nothing merged");
    };

    // (b) BEGIN; SELECT bravo_sync(..); ROLLBACK; the row is final once ROLLBACK returns.
    c.batch_execute("BEGIN").unwrap();
    let run_id: i64 = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap()[0].get("run_id");
    let t0 = Instant::now();
    c.batch_execute("ROLLBACK").unwrap();
    let rollback_took = t0.elapsed();
    rolled_back(&mut c, run_id, "ROLLBACK");
    // Its counts are kept with it, the run is not a success.
    assert_eq!(
        count(
            &mut c,
            &format!("SELECT count(*) FROM bravo_sync_run_targets WHERE run_id = {run_id} AND inserted = 3100")
        ),
        2
    );
    assert_eq!(status_row(&mut c), (Some("rolled_back".into()), 1));

    // An error later in the same transaction.
    c.batch_execute("BEGIN").unwrap();
    let run_id: i64 = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap()[0].get("run_id");
    let e = c.batch_execute("SELECT 1 / 0").unwrap_err();
    assert_eq!(sqlstate(&e), "22012");
    c.batch_execute("ROLLBACK").unwrap();
    rolled_back(&mut c, run_id, "error later");

    // ROLLBACK TO SAVEPOINT, the transaction then commits: the row is final at once.
    c.batch_execute("BEGIN; SAVEPOINT s").unwrap();
    let run_id: i64 = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap()[0].get("run_id");
    c.batch_execute("ROLLBACK TO SAVEPOINT s").unwrap();
    assert_eq!(run_row(&mut c, run_id).unwrap().status, "rolled_back");
    c.batch_execute("COMMIT").unwrap();
    rolled_back(&mut c, run_id, "ROLLBACK TO SAVEPOINT");

    // A PL/pgSQL exception block that catches a later error.
    c.batch_execute(
        "DO $$ BEGIN
             BEGIN
                 PERFORM bravo_sync(30);
                 RAISE EXCEPTION 'later';
             EXCEPTION WHEN raise_exception THEN NULL;
             END;
         END $$",
    )
    .unwrap();
    let run_id = last_run_id(&mut c);
    rolled_back(&mut c, run_id, "exception block");

    // PREPARE TRANSACTION is refused; the transaction rolls back.
    c.batch_execute("BEGIN").unwrap();
    let run_id: i64 = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap()[0].get("run_id");
    let e = c.batch_execute("PREPARE TRANSACTION 'bravo'").unwrap_err();
    assert_eq!(sqlstate(&e), "0A000", "{}", db_message(&e));
    assert!(
        db_message(&e).contains("cannot PREPARE"),
        "{}",
        db_message(&e)
    );
    let _ = c.batch_execute("ROLLBACK");
    rolled_back(&mut c, run_id, "PREPARE TRANSACTION");
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_prepared_xacts"), 0);

    // A savepoint released into a committed transaction: succeeded.
    c.batch_execute("BEGIN; SAVEPOINT s").unwrap();
    let run_id: i64 = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap()[0].get("run_id");
    c.batch_execute("RELEASE SAVEPOINT s; COMMIT").unwrap();
    assert_eq!(run_row(&mut c, run_id).unwrap().status, "succeeded");
    assert_ne!(metrics_digest(&mut c), empty);

    // REPEATABLE READ / SERIALIZABLE: the running row was committed after the
    // transaction's snapshot; the success still updates it (and commits with the data).
    for level in ["REPEATABLE READ", "SERIALIZABLE"] {
        c.batch_execute(&format!(
            "BEGIN ISOLATION LEVEL {level}; SELECT count(*) FROM bravo_sync_runs"
        ))
        .unwrap();
        let run_id: i64 = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap()[0].get("run_id");
        let seen: String = c
            .query_one(
                "SELECT status FROM bravo_sync_runs WHERE run_id = $1",
                &[&run_id],
            )
            .unwrap()
            .get(0);
        assert_eq!(
            seen, "succeeded",
            "{level}: the transaction sees its own row"
        );
        c.batch_execute("COMMIT").unwrap();
        assert_eq!(
            run_row(&mut c, run_id).unwrap().status,
            "succeeded",
            "{level}"
        );

        c.batch_execute(&format!("BEGIN ISOLATION LEVEL {level}; SELECT 1"))
            .unwrap();
        let run_id: i64 = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap()[0].get("run_id");
        c.batch_execute("ROLLBACK").unwrap();
        assert_eq!(
            run_row(&mut c, run_id).unwrap().status,
            "rolled_back",
            "{level}"
        );
    }

    // One row per run, none left running.
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM bravo_sync_runs"),
        count(&mut c, "SELECT count(DISTINCT run_id) FROM bravo_sync_runs")
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM bravo_sync_runs"), 10);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM bravo_sync_runs WHERE status = 'running'"
        ),
        0
    );
    println!("ROLLBACK of a transaction with a successful sync took {rollback_took:?}");
}

/// Kills the stalled sync's server the way `how` says, starts it again.
fn crash(pg: &Cluster, pid: i32, how: &str) {
    match how {
        "immediate" => {
            pg.stop("immediate");
            pg.pg_ctl_start();
        }
        "sigkill" => {
            const READY: &str = "database system is ready to accept connections";
            let ready = pg.log_text().matches(READY).count();
            let ok = Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .unwrap();
            assert!(ok.success());
            // The postmaster ends every backend and reinitializes.
            wait_for(Duration::from_secs(30), "the reinitialized server", || {
                (pg.log_text().matches(READY).count() > ready).then_some(())
            });
        }
        _ => unreachable!(),
    }
}

#[test]
fn a_run_cut_short_by_a_crash_becomes_interrupted_on_the_next_status_or_sync() {
    let src = SyntheticSource::start(stalling(2000));
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 2000, 10);
    let before = metrics_digest(&mut c);

    // pg_ctl restart -m immediate mid-sync, then the status.
    let (pid, h) = sync_in_background(&pg);
    let first = wait_until_fetching(&pg);
    crash(&pg, pid, "immediate");
    assert!(h.join().unwrap().is_err());
    let mut c = pg.client("media_tool");
    let row = run_row(&mut c, first).unwrap();
    assert_eq!(row.status, "running", "nothing ran at the crash: {row:?}");
    let (last, failures) = status_row(&mut c);
    assert_eq!(last.as_deref(), Some("interrupted"));
    assert_eq!(failures, 1, "interrupted counts as a failure");
    let row = run_row(&mut c, first).unwrap();
    assert_eq!((row.status.as_str(), row.finished), ("interrupted", true));
    assert!(
        row.message.contains(&format!("its backend (pid {pid})")),
        "{row:?}"
    );
    assert_eq!(metrics_digest(&mut c), before);

    // A backend killed with SIGKILL mid-sync, then a later sync.
    let (pid, h) = sync_in_background(&pg);
    let second = wait_until_fetching(&pg);
    crash(&pg, pid, "sigkill");
    assert!(h.join().unwrap().is_err());
    let mut c = pg.client("media_tool");
    assert_eq!(run_row(&mut c, second).unwrap().status, "running");
    src.set_options(opts(2000));
    let third: i64 = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap()[0].get("run_id");
    let row = wait_for(Duration::from_secs(10), "the interrupted row", || {
        run_row(&mut c, second).filter(|r| r.status != "running")
    });
    assert_eq!(
        (row.status.as_str(), row.finished),
        ("interrupted", true),
        "{row:?}"
    );
    assert_eq!(run_row(&mut c, third).unwrap().status, "succeeded");
    let statuses: Vec<String> = c
        .query("SELECT status FROM bravo_sync_runs ORDER BY run_id", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(statuses, ["interrupted", "interrupted", "succeeded"]);
    assert_eq!(status_row(&mut c), (Some("succeeded".into()), 0));
}

#[test]
fn the_preloaded_scheduler_marks_interrupted_runs_at_startup() {
    let src = SyntheticSource::start(stalling(2000));
    let pg = Cluster::start(ClusterOptions {
        preload: true,
        conf: vec!["bravo_metrics.scheduler_database = 'media_tool'".into()],
    });
    let _c = pg.media_tool("media_tool", src.port(), 2000, 10);
    let (pid, h) = sync_in_background(&pg);
    let run_id = wait_until_fetching(&pg);
    crash(&pg, pid, "immediate");
    assert!(h.join().unwrap().is_err());
    // Only plain reads of the table: the scheduler's start does the marking.
    let mut c = pg.client("media_tool");
    let row = wait_for(
        Duration::from_secs(30),
        "the scheduler to mark the run",
        || run_row(&mut c, run_id).filter(|r| r.status != "running"),
    );
    assert_eq!(
        (row.status.as_str(), row.finished),
        ("interrupted", true),
        "{row:?}"
    );
    assert!(pg.log_text().contains(
        "bravo_metrics scheduler: marked 1 run(s) left running by a crash or restart as interrupted"
    ));
}

/// What recording a run as `running` (a writer worker per sync) costs: the time each
/// sync waited for it (DEBUG1 line), next to the whole sync, and what a ROLLBACK of a
/// successful sync costs. Prints the numbers; fails only if they are absurd.
#[test]
fn recording_a_run_as_running_costs_milliseconds() {
    let src = SyntheticSource::start(SyntheticOptions {
        media_buys: 10,
        days: 3,
        ..opts(10)
    });
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 10, 2);
    c.batch_execute("SET log_min_messages = debug1").unwrap();
    let mut syncs = Vec::new();
    for _ in 0..20 {
        let t0 = Instant::now();
        c.query("SELECT * FROM bravo_sync(3)", &[]).unwrap();
        syncs.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let mut rollbacks = Vec::new();
    for _ in 0..10 {
        c.batch_execute("BEGIN").unwrap();
        c.query("SELECT * FROM bravo_sync(3)", &[]).unwrap();
        let t0 = Instant::now();
        c.batch_execute("ROLLBACK").unwrap();
        rollbacks.push(t0.elapsed().as_secs_f64() * 1000.0);
    }
    let log = pg.log_text();
    let mut waited: Vec<f64> = log
        .lines()
        .filter_map(|l| l.split(" recorded as running in ").nth(1))
        .filter_map(|rest| rest.trim_end_matches(" ms").trim().parse().ok())
        .collect();
    assert_eq!(waited.len(), 30, "one line per sync");
    let stats = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (v[v.len() / 2], v[v.len() * 9 / 10], v[v.len() - 1])
    };
    let (w50, w90, wmax) = stats(&mut waited);
    let (s50, s90, smax) = stats(&mut syncs);
    let (r50, r90, rmax) = stats(&mut rollbacks);
    println!(
        "running row: p50 {w50:.1} ms, p90 {w90:.1} ms, max {wmax:.1} ms; whole small sync: p50 {s50:.1} ms, p90 {s90:.1} ms, max {smax:.1} ms; ROLLBACK after a sync: p50 {r50:.1} ms, p90 {r90:.1} ms, max {rmax:.1} ms"
    );
    assert!(w50 < 1000.0 && r50 < 1000.0);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM bravo_sync_runs WHERE status = 'succeeded'"
        ),
        20
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM bravo_sync_runs WHERE status = 'rolled_back'"
        ),
        10
    );
}

/// A daily 6-field schedule firing `secs` seconds from now (UTC).
fn daily_at(secs: i64) -> (String, chrono::DateTime<chrono::Utc>) {
    let at = chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() + secs, 0).unwrap();
    (at.format("%-S %-M %-H * * *").to_string(), at)
}

#[test]
fn a_scheduled_run_cut_short_by_a_crash_is_interrupted_and_caught_up_after_restart() {
    let src = SyntheticSource::start(opts(2000));
    let pg = Cluster::start(ClusterOptions {
        preload: true,
        conf: vec![
            "bravo_metrics.scheduler_database = 'media_tool'".into(),
            "bravo_metrics.scheduler_enabled = on".into(),
        ],
    });
    let mut c = pg.media_tool("media_tool", src.port(), 2000, 10);
    // The worker connects once the database exists (it retries); then a run is due.
    wait_for(
        Duration::from_secs(60),
        "the scheduler in media_tool",
        || {
            c.query_opt(
            "SELECT 1 FROM pg_stat_activity WHERE backend_type = 'bravo_metrics scheduler' AND datname = 'media_tool'",
            &[],
        )
        .unwrap()
        .map(|_| ())
        },
    );
    let (expr, _) = daily_at(3);
    pg.append_conf(&[&format!("bravo_metrics.schedule = '{expr}'")]);
    pg.reload();
    let scheduled = |c: &mut Client, status: &str| {
        count(
            c,
            &format!("SELECT count(*) FROM bravo_sync_runs WHERE trigger = 'schedule' AND status = '{status}'"),
        )
    };
    wait_for(Duration::from_secs(30), "the first scheduled run", || {
        (scheduled(&mut c, "succeeded") == 1).then_some(())
    });

    // The next occurrence stalls mid-download; the server goes down hard.
    src.set_options(SyntheticOptions {
        revision: 1,
        changed_pct: 3,
        ..stalling(2000)
    });
    let (expr, at) = daily_at(4);
    pg.append_conf(&[&format!("bravo_metrics.schedule = '{expr}'")]);
    pg.reload();
    let run_id = wait_until_fetching(&pg);
    assert!(chrono::Utc::now() > at);
    assert_eq!(run_row(&mut c, run_id).unwrap().status, "running");
    drop(c);
    src.set_options(SyntheticOptions {
        revision: 1,
        changed_pct: 3,
        ..opts(2000)
    });
    pg.stop("immediate");
    pg.pg_ctl_start();

    // At its start the scheduler marks the run interrupted, and catches the missed
    // occurrence up (the interrupted run does not count as having happened).
    let mut c = pg.client("media_tool");
    let row = wait_for(Duration::from_secs(30), "the interrupted row", || {
        run_row(&mut c, run_id).filter(|r| r.status != "running")
    });
    assert_eq!(row.status, "interrupted", "{row:?}");
    let caught_up = wait_for(Duration::from_secs(60), "the catch-up run", || {
        c.query_opt(
            "SELECT status FROM bravo_sync_runs WHERE trigger = 'catch-up' AND status <> 'running'",
            &[],
        )
        .unwrap()
        .map(|r| r.get::<_, String>(0))
    });
    assert_eq!(caught_up, "succeeded");
    assert!(pg
        .log_text()
        .contains("bravo_metrics scheduler: missed the run of"));
}
