//! bravo_sync against a real PostgreSQL 15 and the real fakesnow server.

mod common;

use std::time::Duration;

use common::*;
use postgres::Client;

/// Rows of the target window that differ from what `Source::fill(buys, days)` put in
/// Snowflake, in either direction (0 = identical, row by row, spend exact).
fn window_diff(c: &mut Client, buys: i64, lookback: i64) -> (i64, i64) {
    let imp: i64 = c
        .query_one(
            "WITH expected AS (
               SELECT current_date - d AS date, b AS media_buy_id, 1000 + b * 7 + d AS impressions,
                      10 + (b + d) % 50 AS clicks, ((b * 131 + d * 17) % 100000)::numeric / 100 AS spend
                 FROM generate_series(1, $1::bigint) b, generate_series(0, $2::int) d),
             actual AS (SELECT date, media_buy_id, impressions, clicks, spend FROM platform_buy_daily_impressions
                         WHERE date >= current_date - $2::int)
             SELECT (SELECT count(*) FROM (SELECT * FROM expected EXCEPT SELECT * FROM actual) x)
                  + (SELECT count(*) FROM (SELECT * FROM actual EXCEPT SELECT * FROM expected) y)",
            &[&buys, &(lookback as i32)],
        )
        .unwrap()
        .get(0);
    let vid: i64 = c
        .query_one(
            "WITH expected AS (
               SELECT current_date - d AS date, b AS media_buy_id, 500 + b AS video_starts,
                      200 + d AS video_completions, 300 + b % 13 AS video_views
                 FROM generate_series(1, $1::bigint) b, generate_series(0, $2::int) d),
             actual AS (SELECT date, media_buy_id, video_starts, video_completions, video_views FROM platform_buy_daily_videos
                         WHERE date >= current_date - $2::int)
             SELECT (SELECT count(*) FROM (SELECT * FROM expected EXCEPT SELECT * FROM actual) x)
                  + (SELECT count(*) FROM (SELECT * FROM actual EXCEPT SELECT * FROM expected) y)",
            &[&buys, &(lookback as i32)],
        )
        .unwrap()
        .get(0);
    (imp, vid)
}

/// (target -> [fetched, inserted, updated, unchanged, deleted, set_aside])
fn sync(c: &mut Client, sql: &str) -> std::collections::BTreeMap<String, [i64; 6]> {
    c.query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", db_message(&e)))
        .iter()
        .map(|r| {
            let t: String = r.get("target");
            (
                t,
                [
                    r.get("fetched"),
                    r.get("inserted"),
                    r.get("updated"),
                    r.get("unchanged"),
                    r.get("deleted"),
                    r.get("set_aside"),
                ],
            )
        })
        .collect()
}

/// A fingerprint of every tuple's physical identity and timestamps.
fn tuple_fingerprint(c: &mut Client) -> String {
    c.query_one(
        "SELECT md5(string_agg(ctid::text || xmin::text || updated_at::text || created_at::text, ',' ORDER BY media_buy_id, date))
              || md5((SELECT string_agg(ctid::text || xmin::text || updated_at::text, ',' ORDER BY media_buy_id, date) FROM platform_buy_daily_videos))
           FROM platform_buy_daily_impressions",
        &[],
    )
    .unwrap()
    .get(0)
}

#[test]
fn first_sync_resync_and_revisions_match_the_source_row_by_row() {
    let src = Source::start();
    src.fill(20, 40);
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 20, 3);

    // First sync: 20 buys x 31 days (today and 30 days back) per table.
    let r = sync(&mut c, "SELECT * FROM bravo_sync(30)");
    assert_eq!(r["impressions"], [620, 620, 0, 0, 0, 0]);
    assert_eq!(r["videos"], [620, 620, 0, 0, 0, 0]);
    assert_eq!(window_diff(&mut c, 20, 30), (0, 0));
    let older: i64 = c
        .query_one(
            "SELECT count(*) FROM platform_buy_daily_impressions WHERE date < current_date - 30",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(older, 0, "rows older than the window are not fetched");

    // Re-sync with no change writes nothing: same tuples, same timestamps.
    let before = tuple_fingerprint(&mut c);
    let r = sync(&mut c, "SELECT * FROM bravo_sync(30)");
    assert_eq!(r["impressions"], [620, 0, 0, 620, 0, 0]);
    assert_eq!(r["videos"], [620, 0, 0, 620, 0, 0]);
    assert_eq!(
        tuple_fingerprint(&mut c),
        before,
        "an identical re-sync must not write any tuple"
    );

    // Revisions, a new media buy, and a vanished row.
    src.sql(&[
        "UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET impressions = impressions + 1000, spend = spend + 0.01 WHERE media_buy_id = 3 AND date >= dateadd(day, -4, current_date)",
        "INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS SELECT dateadd(day, -d.range, current_date), 21, 5, 1, 0.50, current_timestamp, current_timestamp FROM range(0, 31) d",
        "DELETE FROM PLATFORM_BUY_DAILY_IMPRESSIONS WHERE media_buy_id = 7 AND date = dateadd(day, -2, current_date)",
    ]);
    c.batch_execute("INSERT INTO media_buys (id, campaign_id) VALUES (21, 1)")
        .unwrap();
    let created_before: String = c
        .query_one("SELECT string_agg(created_at::text, ',' ORDER BY date) FROM platform_buy_daily_impressions WHERE media_buy_id = 3", &[])
        .unwrap()
        .get(0);
    std::thread::sleep(Duration::from_millis(20));
    let r = sync(&mut c, "SELECT * FROM bravo_sync(30)");
    assert_eq!(r["impressions"], [650, 31, 5, 614, 0, 0]);
    assert_eq!(r["videos"], [620, 0, 0, 620, 0, 0]);
    let (bumped, kept_created, new_values): (i64, String, i64) = {
        let row = c
            .query_one(
                "SELECT count(*) FILTER (WHERE updated_at > created_at),
                        string_agg(created_at::text, ',' ORDER BY date),
                        count(*) FILTER (WHERE impressions = 1000 + 3 * 7 + (current_date - date) + 1000
                                           AND spend = ((3 * 131 + (current_date - date) * 17) % 100000)::numeric / 100 + 0.01)
                   FROM platform_buy_daily_impressions WHERE media_buy_id = 3",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1), row.get(2))
    };
    assert_eq!(bumped, 5, "updated_at bumped on exactly the revised rows");
    assert_eq!(new_values, 5);
    assert_eq!(kept_created, created_before, "created_at is kept");
    let vanished: i64 = c
        .query_one("SELECT count(*) FROM platform_buy_daily_impressions WHERE media_buy_id = 7 AND date = current_date - 2", &[])
        .unwrap()
        .get(0);
    assert_eq!(vanished, 1, "vanished rows are kept by default");

    // With delete_missing the vanished row goes (1 of 651 rows, under the 10 % limit).
    c.batch_execute("SET bravo_metrics.delete_missing = on")
        .unwrap();
    let r = sync(&mut c, "SELECT * FROM bravo_sync(30)");
    assert_eq!(r["impressions"], [650, 0, 0, 650, 1, 0]);
    let vanished: i64 = c
        .query_one("SELECT count(*) FROM platform_buy_daily_impressions WHERE media_buy_id = 7 AND date = current_date - 2", &[])
        .unwrap()
        .get(0);
    assert_eq!(vanished, 0);

    // Every run is logged with its counts and Snowflake query ids.
    let rows = c
        .query(
            "SELECT status, trigger, cardinality(query_ids) FROM bravo_sync_runs ORDER BY run_id",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 4);
    for row in rows {
        assert_eq!(row.get::<_, String>(0), "succeeded");
        assert_eq!(row.get::<_, String>(1), "manual");
        assert_eq!(row.get::<_, i32>(2), 2);
    }
    let logged: i64 = c
        .query_one(
            "SELECT sum(inserted)::bigint FROM bravo_sync_run_targets WHERE target = 'impressions'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(logged, 651);
}

#[test]
fn invalid_rows_are_set_aside_and_late_media_buys_merge_later() {
    let src = Source::start();
    src.fill(5, 3);
    src.sql(&[
        "INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS VALUES (current_date, NULL, 1, 1, 1.00, current_timestamp, current_timestamp)",
        "INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS VALUES (NULL, 4, 1, 1, 1.00, current_timestamp, current_timestamp)",
        "UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET clicks = -3 WHERE media_buy_id = 1 AND date = current_date",
        "INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS VALUES (current_date, 2, 9, 9, 9.99, current_timestamp, current_timestamp)",
        "INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS VALUES (current_date, 99, 7, 7, 7.77, current_timestamp, current_timestamp)",
        "UPDATE PLATFORM_BUY_DAILY_VIDEOS SET video_views = NULL WHERE media_buy_id = 5 AND date = current_date",
    ]);
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 5, 2);

    let r = sync(&mut c, "SELECT * FROM bravo_sync(30)");
    // 15 + 4 extra rows; set aside: null key x2, negative, duplicate x2, unknown buy.
    assert_eq!(r["impressions"], [19, 13, 0, 0, 0, 6]);
    assert_eq!(r["videos"], [15, 14, 0, 0, 0, 1]);
    let reasons: Vec<(String, String, i64)> = c
        .query(
            "SELECT target, reason, count(*) FROM bravo_set_aside GROUP BY 1, 2 ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("impressions".into(), "duplicate_key".into(), 2),
            ("impressions".into(), "negative_count".into(), 1),
            ("impressions".into(), "null_key".into(), 2),
            ("impressions".into(), "unknown_media_buy".into(), 1),
            ("videos".into(), "null_value".into(), 1),
        ]
    );
    // The duplicated key is not merged at all; the source row is kept verbatim.
    let dup: i64 = c
        .query_one("SELECT count(*) FROM platform_buy_daily_impressions WHERE media_buy_id = 2 AND date = current_date", &[])
        .unwrap()
        .get(0);
    assert_eq!(dup, 0);
    let raw: String = c
        .query_one(
            "SELECT source_row::text FROM bravo_set_aside WHERE reason = 'negative_count'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(raw.contains("\"clicks\": \"-3\""), "{raw}");

    // Once media buy 99 exists, the next sync merges its row and closes the set-aside entry.
    c.batch_execute("INSERT INTO media_buys (id, campaign_id) VALUES (99, 1)")
        .unwrap();
    let r = sync(&mut c, "SELECT * FROM bravo_sync(30)");
    assert_eq!(r["impressions"][1], 1);
    let spend: String = c
        .query_one(
            "SELECT spend::text FROM platform_buy_daily_impressions WHERE media_buy_id = 99",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(spend, "7.77");
    let open: i64 = c
        .query_one("SELECT count(*) FROM bravo_set_aside WHERE resolved_at IS NULL AND reason = 'unknown_media_buy'", &[])
        .unwrap()
        .get(0);
    assert_eq!(open, 0);
}

#[test]
fn delete_limit_refuses_to_wipe_the_window_after_an_outage() {
    let src = Source::start();
    src.fill(10, 5);
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 10, 2);
    sync(&mut c, "SELECT * FROM bravo_sync(30)");
    let before = metrics_digest(&mut c);

    src.sql(&["DELETE FROM PLATFORM_BUY_DAILY_IMPRESSIONS"]);
    c.batch_execute("SET bravo_metrics.delete_missing = on")
        .unwrap();
    let err = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    assert_eq!(sqlstate(&err), "55000", "{}", db_message(&err));
    let msg = db_message(&err);
    assert!(msg.contains("refused to delete 50 of 50 rows"), "{msg}");
    assert!(msg.contains("delete_max_fraction"), "{msg}");
    assert_eq!(
        metrics_digest(&mut c),
        before,
        "a refused sync leaves both tables exactly as they were"
    );
    let (status, state): (String, String) = {
        let r = c
            .query_one(
                "SELECT status, sqlstate FROM bravo_sync_runs ORDER BY run_id DESC LIMIT 1",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((status.as_str(), state.as_str()), ("failed", "55000"));
}

#[test]
fn source_errors_leave_the_tables_unchanged_and_are_logged() {
    let src = Source::start();
    src.fill(4, 3);
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 4, 2);
    sync(&mut c, "SELECT * FROM bravo_sync(30)");
    let before = metrics_digest(&mut c);
    src.sql(&[
        "CREATE TABLE NO_CLICKS (date date, media_buy_id number(38,0), impressions number(38,0), spend number(18,2))",
        "CREATE TABLE FLOAT_SPEND (date date, media_buy_id number(38,0), impressions number(38,0), clicks number(38,0), spend float)",
    ]);
    let cases = [
        ("NOT_THERE", "HV00R", "NOT_THERE"),
        ("NO_CLICKS", "HV005", "\"CLICKS\" is missing"),
        ("FLOAT_SPEND", "HV004", "\"SPEND\""),
        ("bad name;drop", "22023", "invalid value"),
    ];
    for (source, state, needle) in cases {
        let set = c.batch_execute(&format!(
            "SET bravo_metrics.impressions_source = '{source}'"
        ));
        if let Err(e) = set {
            assert_eq!(sqlstate(&e), state, "{}", db_message(&e));
            assert!(
                db_message(&e).to_lowercase().contains(needle),
                "{}",
                db_message(&e)
            );
            continue;
        }
        let err = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
        assert_eq!(sqlstate(&err), state, "{source}: {}", db_message(&err));
        assert!(
            db_message(&err)
                .to_lowercase()
                .contains(&needle.to_lowercase()),
            "{source}: {}",
            db_message(&err)
        );
        assert_eq!(metrics_digest(&mut c), before, "{source}: tables unchanged");
        let (status, logged): (String, String) = {
            let r = c
                .query_one(
                    "SELECT status, sqlstate FROM bravo_sync_runs ORDER BY run_id DESC LIMIT 1",
                    &[],
                )
                .unwrap();
            (r.get(0), r.get(1))
        };
        assert_eq!((status.as_str(), logged.as_str()), ("failed", state));
    }
}

#[test]
fn bad_arguments_are_rejected_before_any_network_call() {
    let pg = Cluster::start(ClusterOptions::default());
    // Port 1 on loopback: any network attempt would fail with a connection error instead.
    let mut c = pg.media_tool("media_tool", 1, 3, 1);
    for (sql, state) in [
        ("SELECT * FROM bravo_sync(NULL)", "22004"),
        ("SELECT * FROM bravo_sync(0)", "22023"),
        ("SELECT * FROM bravo_sync(-5)", "22023"),
        ("SELECT * FROM bravo_sync(401)", "22023"),
    ] {
        let err = c.query(sql, &[]).unwrap_err();
        assert_eq!(sqlstate(&err), state, "{sql}: {}", db_message(&err));
        assert!(
            err.as_db_error().unwrap().hint().is_some(),
            "{sql} has a hint"
        );
    }
    let runs: i64 = c
        .query_one("SELECT count(*) FROM bravo_sync_runs", &[])
        .unwrap()
        .get(0);
    assert_eq!(runs, 0, "rejected calls start no run");
    // And the network failure itself is classified, logged and leaves nothing behind.
    let err = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    assert_eq!(sqlstate(&err), "HV00N", "{}", db_message(&err));
}

#[test]
fn concurrent_calls_fail_fast_naming_the_running_sync_or_wait() {
    let src = Source::start();
    src.fill(5, 3);
    let pg = Cluster::start(ClusterOptions::default());
    let mut a = pg.media_tool("media_tool", src.port(), 5, 1);
    let a_pid: i32 = a.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    a.batch_execute("BEGIN; SELECT * FROM bravo_sync(30);")
        .unwrap();

    let mut b = pg.client("media_tool");
    let t0 = std::time::Instant::now();
    let err = b.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(2), "fails fast");
    assert_eq!(sqlstate(&err), "55P03");
    let msg = db_message(&err);
    assert!(
        msg.contains(&format!("pid {a_pid}")) && msg.contains("started"),
        "{msg}"
    );

    // wait => true blocks until A commits, then runs and sees A's rows.
    let conninfo = pg.conninfo("media_tool");
    let waiter = std::thread::spawn(move || {
        let mut b = postgres::Client::connect(&conninfo, postgres::NoTls).unwrap();
        let rows = b.query("SELECT inserted, unchanged FROM bravo_sync(30, wait => true) WHERE target = 'impressions'", &[]).unwrap();
        (rows[0].get::<_, i64>(0), rows[0].get::<_, i64>(1))
    });
    let mut watch = pg.client("media_tool");
    wait_for(
        Duration::from_secs(10),
        "the waiter to block on the sync lock",
        || {
            let n: i64 = watch
                .query_one(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                    &[],
                )
                .unwrap()
                .get(0);
            (n == 1).then_some(())
        },
    );
    a.batch_execute("COMMIT").unwrap();
    let (inserted, unchanged) = waiter.join().unwrap();
    assert_eq!(
        (inserted, unchanged),
        (0, 15),
        "the waiter ran after A committed"
    );
}

/// The target's rows older than the window (ctid, xmin, timestamps, values).
fn history_fingerprint(c: &mut Client, lookback: i32) -> String {
    c.query_one(
        "SELECT md5(string_agg(concat_ws('|', ctid, xmin, media_buy_id, date, impressions, spend, updated_at), ',' ORDER BY media_buy_id, date))
           FROM platform_buy_daily_impressions WHERE date < current_date - $1::int",
        &[&lookback],
    )
    .unwrap()
    .get(0)
}

/// A first load into an empty table walks the window media buy first; once the table
/// keeps rows older than the window, syncs walk it date first (one range scan of the
/// date index; a first load writes the window day by day).
/// Both are exact: revisions, new media buys sorting before and after the others
/// (id 0 and id 21: in date-first order they interleave with every day), a vanished
/// row, a key returned twice; history untouched; reports equal the table sums.
#[test]
fn tables_with_history_are_compared_date_first_and_merged_exactly() {
    let src = Source::start();
    src.fill(20, 40);
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 20, 3);
    c.batch_execute("SET log_min_messages = debug1").unwrap();
    let orders = |pg: &Cluster| -> Vec<String> {
        pg.log_text()
            .lines()
            .filter_map(|l| l.split_once("bravo_metrics: public.").map(|(_, r)| r))
            .filter(|r| r.contains(" is compared "))
            .map(|r| r.split(" (").next().unwrap().to_string())
            .collect()
    };

    // First load of 36 days into a table that keeps one older row (impressions: date
    // first, so that the window lies in the heap day by day) and into an empty one
    // (videos: media buy first).
    c.batch_execute(
        "INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions, clicks, spend)
         VALUES (current_date - 100, 4, 1, 1, 1)",
    )
    .unwrap();
    let r = sync(&mut c, "SELECT * FROM bravo_sync(35)");
    assert_eq!(r["impressions"], [720, 720, 0, 0, 0, 0]);
    assert_eq!(
        orders(&pg),
        [
            "platform_buy_daily_impressions is compared date first",
            "platform_buy_daily_videos is compared media buy first"
        ]
    );
    let history = history_fingerprint(&mut c, 30);

    src.sql(&[
        "UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET impressions = impressions + 1000, spend = spend + 0.01 WHERE media_buy_id = 3 AND date >= dateadd(day, -4, current_date)",
        "INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS SELECT dateadd(day, -d.range, current_date), b.id, 5, 1, 0.50, current_timestamp, current_timestamp FROM range(0, 31) d, (SELECT 0 AS id UNION ALL SELECT 21) b",
        "DELETE FROM PLATFORM_BUY_DAILY_IMPRESSIONS WHERE media_buy_id = 7 AND date = dateadd(day, -2, current_date)",
        "INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS SELECT * FROM PLATFORM_BUY_DAILY_IMPRESSIONS WHERE media_buy_id = 5 AND date = dateadd(day, -3, current_date)",
    ]);
    c.batch_execute(
        "INSERT INTO media_buys (id, campaign_id) VALUES (0, 1), (21, 1);
         SET bravo_metrics.delete_missing = on",
    )
    .unwrap();
    let kept: String = c
        .query_one("SELECT concat_ws('|', ctid, xmin, impressions) FROM platform_buy_daily_impressions WHERE media_buy_id = 5 AND date = current_date - 3", &[])
        .unwrap()
        .get(0);

    // Fetched: 620 + 62 new - 1 vanished + 1 duplicate. Updated: buy 3's last 5 days.
    // Unchanged: 620 - 5 updated - 1 vanished - 1 key set aside (twice).
    let r = sync(&mut c, "SELECT * FROM bravo_sync(30)");
    assert_eq!(r["impressions"], [682, 62, 5, 613, 1, 2]);
    assert_eq!(r["videos"], [620, 0, 0, 620, 0, 0]);
    assert_eq!(
        orders(&pg)[2..],
        [
            "platform_buy_daily_impressions is compared date first",
            "platform_buy_daily_videos is compared date first"
        ]
    );

    // The window equals the source row by row (the duplicated key keeps its row).
    let diff: i64 = c
        .query_one(
            "WITH fill AS (
               SELECT current_date - d AS date, b AS media_buy_id,
                      1000 + b * 7 + d + CASE WHEN b = 3 AND d <= 4 THEN 1000 ELSE 0 END AS impressions,
                      10 + (b + d) % 50 AS clicks,
                      ((b * 131 + d * 17) % 100000)::numeric / 100 + CASE WHEN b = 3 AND d <= 4 THEN 0.01 ELSE 0 END AS spend
                 FROM generate_series(1, 20) b, generate_series(0, 30) d
                WHERE NOT (b = 7 AND d = 2)
               UNION ALL
               SELECT current_date - d, b, 5, 1, 0.50 FROM generate_series(0, 30) d, unnest(ARRAY[0, 21]) b),
             actual AS (SELECT date, media_buy_id, impressions, clicks, spend FROM platform_buy_daily_impressions
                         WHERE date >= current_date - 30)
             SELECT (SELECT count(*) FROM (SELECT * FROM fill EXCEPT SELECT * FROM actual) x)
                  + (SELECT count(*) FROM (SELECT * FROM actual EXCEPT SELECT * FROM fill) y)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(diff, 0, "the window differs from the source");
    let kept_after: String = c
        .query_one("SELECT concat_ws('|', ctid, xmin, impressions) FROM platform_buy_daily_impressions WHERE media_buy_id = 5 AND date = current_date - 3", &[])
        .unwrap()
        .get(0);
    assert_eq!(kept_after, kept, "a key set aside keeps its row as it was");
    let aside: Vec<String> = c
        .query(
            "SELECT reason FROM bravo_set_aside WHERE media_buy_id = 5 AND date = current_date - 3",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(aside, ["duplicate_key", "duplicate_key"]);
    assert_eq!(
        history_fingerprint(&mut c, 30),
        history,
        "rows older than the window are not touched"
    );

    // An identical re-sync, date first again, writes nothing.
    let before = tuple_fingerprint(&mut c);
    let r = sync(&mut c, "SELECT * FROM bravo_sync(30)");
    assert_eq!(r["impressions"], [682, 0, 0, 680, 0, 2]);
    assert_eq!(tuple_fingerprint(&mut c), before);

    // Without a btree index on date (a hash index cannot return rows in order), the
    // window is walked media buy first, with a NOTICE naming the index to create, and
    // the result is the same.
    c.batch_execute(
        "DROP INDEX platform_buy_daily_impressions_date_idx;
         CREATE INDEX bravo_test_date_hash ON platform_buy_daily_impressions USING hash (date);
         SET log_min_messages = notice",
    )
    .unwrap();
    let r = sync(&mut c, "SELECT * FROM bravo_sync(30)");
    assert_eq!(r["impressions"], [682, 0, 0, 680, 0, 2]);
    assert_eq!(tuple_fingerprint(&mut c), before);
    assert!(
        pg.log_text().contains("public.platform_buy_daily_impressions has no btree index starting with date, so each sync reads the whole table to find the window; CREATE INDEX ON public.platform_buy_daily_impressions (date)"),
        "the NOTICE names the index to create"
    );
    c.batch_execute("SET log_min_messages = debug1").unwrap();
    let r = sync(&mut c, "SELECT * FROM bravo_sync(30)");
    assert_eq!(r["impressions"], [682, 0, 0, 680, 0, 2]);
    let o = orders(&pg);
    assert_eq!(
        o[o.len() - 2..],
        [
            "platform_buy_daily_impressions is compared media buy first",
            "platform_buy_daily_videos is compared date first"
        ]
    );

    // Campaign totals (through the rollup the writes maintain) equal the table sums.
    for campaign in 1..=3i64 {
        let row = c
            .query_one(
                "SELECT (SELECT (impressions, spend, video_views)::text FROM bravo_campaign_totals($1)),
                        (SELECT (sum(i.impressions), sum(i.spend),
                                 (SELECT sum(v.video_views) FROM platform_buy_daily_videos v JOIN media_buys m ON m.id = v.media_buy_id WHERE m.campaign_id = $1))::text
                           FROM platform_buy_daily_impressions i JOIN media_buys m ON m.id = i.media_buy_id WHERE m.campaign_id = $1)",
                &[&campaign],
            )
            .unwrap();
        let (report, sums): (String, String) = (row.get(0), row.get(1));
        assert_eq!(report, sums, "campaign {campaign}");
    }
}
