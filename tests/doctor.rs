//! `bravo_doctor()` against a real PostgreSQL 15 and the loopback Snowflake double
//! (and the real fakesnow server for the healthy path): every check made to fail on
//! purpose shows its row, status and HINT; a monitoring role may call it and never
//! sees a secret file's path.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bravo_testkit::double::{reply, Endpoint, Reply};
use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;
use postgres::Client;

/// One row of the doctor.
#[derive(Debug, Clone)]
struct Row {
    status: String,
    detail: String,
    hint: Option<String>,
}

fn doctor(c: &mut Client) -> BTreeMap<String, Row> {
    c.query(
        "SELECT \"check\", status, detail, hint FROM bravo_doctor()",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.get::<_, String>(0),
            Row {
                status: r.get(1),
                detail: r.get(2),
                hint: r.get(3),
            },
        )
    })
    .collect()
}

/// The row `check`, which must exist.
fn row<'a>(d: &'a BTreeMap<String, Row>, check: &str) -> &'a Row {
    d.get(check)
        .unwrap_or_else(|| panic!("no row {check:?} in {:#?}", d.keys().collect::<Vec<_>>()))
}

/// Asserts `check`'s status, and (when not ok) that its hint contains `hint`.
fn expect(d: &BTreeMap<String, Row>, check: &str, status: &str, hint: &str) {
    let r = row(d, check);
    assert_eq!(r.status, status, "{check}: {r:?}");
    if status == "ok" {
        assert!(r.hint.is_none(), "{check}: an ok row has no hint: {r:?}");
    } else {
        let h = r.hint.as_deref().unwrap_or_default();
        assert!(h.contains(hint), "{check}: hint {h:?} lacks {hint:?}");
    }
}

fn opts() -> SyntheticOptions {
    SyntheticOptions {
        media_buys: 300,
        days: 31,
        end_date: chrono::Utc::now().date_naive(),
        chunk_rows: 5000,
        inline_rows: 500,
        ..Default::default()
    }
}

fn login_failure() -> Reply {
    Reply::json(reply::failure(
        "390100",
        "Incorrect username or password was specified.",
        serde_json::Value::Null,
    ))
}

#[test]
fn each_broken_thing_shows_its_row_and_hint_and_a_healthy_database_is_ok() {
    let src = SyntheticSource::start(opts());
    let pg = Cluster::start(ClusterOptions::default());
    // 250 of the source's 300 media buys: 50 buys' rows are set aside.
    let mut c = pg.media_tool("media_tool", src.port(), 250, 10);

    // Before any sync: nothing has run, the tables are empty; the scheduler is not
    // loaded (no shared_preload_libraries here).
    let d = doctor(&mut c);
    expect(&d, "last run", "fail", "SELECT bravo_sync(30)");
    expect(
        &d,
        "rows platform_buy_daily_impressions",
        "fail",
        "bravo_sync(30)",
    );
    expect(&d, "scheduler", "fail", "shared_preload_libraries");
    expect(&d, "snowflake login", "ok", "");
    expect(&d, "source impressions", "ok", "");
    expect(&d, "source videos", "ok", "");

    // A sync: the data rows are ok, the unknown media buys are counted.
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    let d = doctor(&mut c);
    for check in [
        "snowflake settings",
        "secret file",
        "snowflake login",
        "families",
        "last run (manual)",
        "consecutive failures (daily)",
        "rows platform_buy_daily_impressions",
        "lag platform_buy_daily_impressions",
        "volume platform_buy_daily_impressions",
        "rows platform_buy_daily_videos",
        "media_buys",
    ] {
        expect(&d, check, "ok", "");
    }
    expect(
        &d,
        "set aside (unknown_media_buy)",
        "warn",
        "Add those media buys to media_buys",
    );
    assert!(
        row(&d, "set aside (unknown_media_buy)")
            .detail
            .contains("50 media buys"),
        "{:?}",
        row(&d, "set aside (unknown_media_buy)")
    );
    assert!(!d.contains_key("last run"), "a run is on record now");
    let f = c
        .query_one(
            "SELECT latest_date = current_date, lag_days, stale, last_success_run_id,
                    cardinality(rows_per_day), rows_per_day[14],
                    (SELECT count(*) FROM platform_buy_daily_impressions WHERE date = current_date)
               FROM bravo_freshness WHERE family = 'impressions'",
            &[],
        )
        .unwrap();
    assert!(f.get::<_, bool>(0));
    assert_eq!(f.get::<_, i32>(1), 0);
    assert!(!f.get::<_, bool>(2));
    assert!(f.get::<_, Option<i64>>(3).is_some());
    assert_eq!(f.get::<_, i32>(4), 14);
    assert_eq!(f.get::<_, i64>(5), f.get::<_, i64>(6));
    assert_eq!(f.get::<_, i64>(5), 250, "one row per known media buy today");

    // A source relation that does not exist: videos is required (a 0.3.0 family), so
    // it fails; a family that is not required only warns (the sync skips it).
    c.batch_execute(
        "UPDATE bravo_families SET source_relation = 'NO_SUCH_TABLE' WHERE family = 'videos'",
    )
    .unwrap();
    let d = doctor(&mut c);
    expect(&d, "source videos", "fail", "source");
    c.batch_execute("UPDATE bravo_families SET required = false WHERE family = 'videos'")
        .unwrap();
    let d = doctor(&mut c);
    expect(
        &d,
        "source videos",
        "warn",
        "bravo_disable_family('videos')",
    );
    c.batch_execute(
        "UPDATE bravo_families SET source_relation = NULL, required = true WHERE family = 'videos'",
    )
    .unwrap();

    // Refused credentials: the login row fails (and the sources are not described).
    src.double().push(Endpoint::Login, login_failure());
    let d = doctor(&mut c);
    expect(&d, "snowflake login", "fail", "snowflake_secret_file");
    assert!(
        row(&d, "snowflake login").detail.contains("390100"),
        "{:?}",
        row(&d, "snowflake login")
    );
    assert!(!d.contains_key("source impressions"));

    // Three failed syncs in a row.
    for _ in 0..3 {
        src.double().push(Endpoint::Login, login_failure());
        c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    }
    let d = doctor(&mut c);
    expect(&d, "consecutive failures (daily)", "fail", "last run rows");
    assert!(row(&d, "consecutive failures (daily)")
        .detail
        .starts_with("3 failed"));
    expect(&d, "last run (manual)", "fail", "bravo_run_now()");
    assert!(row(&d, "last run (manual)").detail.contains("390100"));

    // Stale and thin data: the last six days gone from one table.
    c.batch_execute("DELETE FROM platform_buy_daily_impressions WHERE date > current_date - 6")
        .unwrap();
    let d = doctor(&mut c);
    expect(
        &d,
        "lag platform_buy_daily_impressions",
        "fail",
        "scheduled syncs",
    );
    expect(
        &d,
        "volume platform_buy_daily_impressions",
        "warn",
        "bravo_metrics.volume_drop_percent",
    );
    expect(&d, "lag platform_buy_daily_videos", "ok", "");
    let (lag, stale): (i32, bool) = {
        let r = c
            .query_one(
                "SELECT lag_days, stale FROM bravo_freshness WHERE family = 'impressions'",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((lag, stale), (6, true));
    c.batch_execute("SET bravo_metrics.expected_lag_days = 3")
        .unwrap();
    expect(
        &doctor(&mut c),
        "lag platform_buy_daily_impressions",
        "warn",
        "scheduled syncs",
    );
    c.batch_execute("RESET bravo_metrics.expected_lag_days")
        .unwrap();

    // A monitoring role may call it; a secret file readable by others fails, and
    // only the superuser's row says where the file is.
    c.batch_execute(
        "CREATE ROLE monitor LOGIN PASSWORD 'monitor';
         SELECT bravo_grant_monitoring('monitor');",
    )
    .unwrap();
    let secret: String = c
        .query_one("SHOW bravo_metrics.snowflake_secret_file", &[])
        .unwrap()
        .get(0);
    chmod(&secret, 0o644);
    let d = doctor(&mut c);
    expect(&d, "secret file", "fail", "chmod");
    assert!(row(&d, "secret file").detail.contains(&secret));
    let mut m = pg.client_as("media_tool", "monitor");
    let dm = doctor(&mut m);
    let n: i64 = m
        .query_one("SELECT count(*) FROM bravo_freshness", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "the monitoring role reads the freshness view");
    let n: i64 = m
        .query_one("SELECT count(*) FROM bravo_intraday_status()", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "and the intraday refresh's status");
    let e = m
        .query("SELECT count(*) FROM platform_buy_daily_impressions", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42501", "but not the data");
    expect(&dm, "secret file", "fail", "chmod");
    for r in dm.values() {
        assert!(
            !r.detail.contains(&secret) && !r.hint.clone().unwrap_or_default().contains(&secret),
            "the path reached the monitoring role: {r:?}"
        );
    }
    chmod(&secret, 0o600);

    // Missing connection settings.
    c.batch_execute("ALTER DATABASE media_tool RESET bravo_metrics.snowflake_account")
        .unwrap();
    let mut fresh = pg.client("media_tool");
    let d = doctor(&mut fresh);
    expect(
        &d,
        "snowflake settings",
        "fail",
        "ALTER SYSTEM SET bravo_metrics.snowflake_account",
    );
    assert!(!d.contains_key("snowflake login"));
    c.batch_execute("ALTER DATABASE media_tool SET bravo_metrics.snowflake_account = 'fakesnow'")
        .unwrap();

    // An endpoint nobody answers on: the login fails within the doctor's limit.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    c.batch_execute(&format!(
        "ALTER DATABASE media_tool SET bravo_metrics.snowflake_port = {closed}"
    ))
    .unwrap();
    let mut fresh = pg.client("media_tool");
    let t0 = Instant::now();
    let d = doctor(&mut fresh);
    assert!(t0.elapsed() < Duration::from_secs(25), "{:?}", t0.elapsed());
    expect(&d, "snowflake login", "fail", "network");

    // No media buys at all.
    c.batch_execute("TRUNCATE media_buys CASCADE").unwrap();
    let d = doctor(&mut c);
    expect(&d, "media_buys", "fail", "INSERT INTO media_buys");
}

#[test]
fn a_loaded_scheduler_and_fakesnow_are_ok() {
    let fake = Source::start();
    fake.fill(50, 14);
    let pg = Cluster::start(ClusterOptions {
        preload: true,
        conf: vec![
            "bravo_metrics.scheduler_database = 'media_tool'".into(),
            "bravo_metrics.scheduler_enabled = on".into(),
            "bravo_metrics.schedule = '0 3 * * *'".into(),
        ],
    });
    let mut c = pg.media_tool("media_tool", fake.port(), 50, 5);
    c.query("SELECT * FROM bravo_sync(14)", &[]).unwrap();
    // The scheduler tried before the database existed: the doctor says so, and its
    // hint's reload makes it retry at once.
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    wait_for(Duration::from_secs(30), "the scheduler connected", || {
        (row(&doctor(&mut c), "scheduler").status == "ok").then_some(())
    });
    let d = doctor(&mut c);
    for check in [
        "snowflake login",
        "source impressions",
        "source videos",
        "scheduler",
        "rows platform_buy_daily_impressions",
    ] {
        expect(&d, check, "ok", "");
    }
    assert!(row(&d, "scheduler").detail.contains("next run 20"));
}

fn chmod(path: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The latest date is read from the index on it whatever the table's statistics say.
/// When autovacuum analyzes a metric table while a sync is loading it, it finds the
/// sync's pages but none of its (uncommitted) rows: the statistics then say the table
/// is empty, and the planner answers a plain `max(date)` by reading the whole index
/// (checked below: it reads every row). That took 0.5 s per 1.5 M rows in the
/// staleness check after a first load (seen in `bench/sync.rs`), and would in every
/// `bravo_freshness` / `bravo_doctor()` / `bravo_schedule_status()` call until the
/// next analyze.
#[test]
fn the_latest_date_is_read_from_the_index_even_with_stale_statistics() {
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", 9, 500, 5);
    let mut other = pg.client("media_tool");
    // Index tuples read in this transaction (differences of two readings, as no
    // statistics are flushed inside a transaction).
    let read = |tx: &mut postgres::Transaction, sql: &str| -> i64 {
        let q = "SELECT pg_stat_get_xact_tuples_returned('platform_buy_daily_impressions_date_idx'::regclass)";
        let before: i64 = tx.query_one(q, &[]).unwrap().get(0);
        tx.batch_execute(sql).unwrap();
        let after: i64 = tx.query_one(q, &[]).unwrap().get(0);
        after - before
    };
    let mut tx = c.transaction().unwrap();
    tx.batch_execute(
        "INSERT INTO platform_buy_daily_impressions (media_buy_id, date, impressions, clicks, spend)
         SELECT b, current_date - d, 1, 1, 1 FROM generate_series(1, 500) b, generate_series(0, 39) d;
         INSERT INTO platform_buy_daily_videos (media_buy_id, date, video_starts, video_completions, video_views)
         SELECT b, current_date - d, 1, 1, 1 FROM generate_series(1, 500) b, generate_series(0, 39) d;",
    )
    .unwrap();
    // Autovacuum's analyze, meanwhile, as another session: pages, but no rows it can see.
    other
        .batch_execute("ANALYZE platform_buy_daily_impressions, platform_buy_daily_videos")
        .unwrap();
    assert_eq!(
        read(
            &mut tx,
            "SELECT max(date) FROM platform_buy_daily_impressions"
        ),
        20_000,
        "the statistics say empty: a plain max() reads the whole index"
    );
    // The latest date costs one index tuple; the view and the doctor also count the
    // last 14 days' rows (500 buys x 14 days), which they read from the same index.
    for (sql, counted) in [
        ("SELECT * FROM bravo_freshness", 7_000),
        ("SELECT * FROM bravo_doctor()", 7_000),
        ("SELECT * FROM bravo_schedule_status()", 0),
    ] {
        let n = read(&mut tx, sql);
        assert!(
            n > counted && n <= counted + 5,
            "{sql}: read {n} index tuples of the date index"
        );
    }
    let r = tx
        .query_one(
            "SELECT latest_date = current_date, stale FROM bravo_freshness WHERE family = 'impressions'",
            &[],
        )
        .unwrap();
    assert_eq!((r.get::<_, bool>(0), r.get::<_, bool>(1)), (true, false));
}
