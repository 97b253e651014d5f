//! During a sync the rollups are kept once per metric table, not once per statement
//! (`_bravo_rollup_defer` / `_bravo_rollup_flush`). What must hold: after any sync both
//! rollups equal a rebuild from the tables; nothing stays deferred after the sync (a
//! later write in the same transaction counts at once); a failed sync leaves them as
//! they were; a campaign move racing a sync leaves them exact; a look-alike temporary
//! table cannot capture the rollup rows. A first load into an empty window counts its
//! own rows from the table at the flush instead of copying them aside, and only where
//! no other trigger writes the table. Real PostgreSQL 15 and the real fakesnow.

mod common;

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use common::*;
use postgres::Client;

/// Rows where either rollup differs from a rebuild from the metric tables (0 = exact).
/// Runs the rebuild in a transaction it rolls back.
fn rollup_diffs(c: &mut Client) -> i64 {
    let mut tx = c.transaction().unwrap();
    tx.batch_execute(
        "CREATE TEMP TABLE kept_c ON COMMIT DROP AS SELECT * FROM bravo.bravo_campaign_rollup;
         CREATE TEMP TABLE kept_m ON COMMIT DROP AS SELECT * FROM bravo.bravo_media_buy_rollup;
         SELECT bravo_report_rebuild();",
    )
    .unwrap();
    let n: i64 = tx
        .query_one(
            "SELECT (SELECT count(*) FROM (SELECT * FROM kept_c EXCEPT ALL SELECT * FROM bravo.bravo_campaign_rollup) a)
                  + (SELECT count(*) FROM (SELECT * FROM bravo.bravo_campaign_rollup EXCEPT ALL SELECT * FROM kept_c) b)
                  + (SELECT count(*) FROM (SELECT * FROM kept_m EXCEPT ALL SELECT * FROM bravo.bravo_media_buy_rollup) c)
                  + (SELECT count(*) FROM (SELECT * FROM bravo.bravo_media_buy_rollup EXCEPT ALL SELECT * FROM kept_m) d)",
            &[],
        )
        .unwrap()
        .get(0);
    tx.rollback().unwrap();
    n
}

fn rollup_rows(c: &mut Client) -> i64 {
    c.query_one(
        "SELECT (SELECT count(*) FROM bravo.bravo_campaign_rollup) + (SELECT count(*) FROM bravo.bravo_media_buy_rollup)",
        &[],
    )
    .unwrap()
    .get(0)
}

/// Ten days of impressions for buys 1 to 30, two months before the window (history).
fn add_history(c: &mut Client) {
    c.batch_execute(
        "INSERT INTO platform_buy_daily_impressions (media_buy_id, date, impressions, clicks, spend)
         SELECT b, current_date - 60 - d, 11, 1, 0.11 FROM generate_series(1, 30) b, generate_series(0, 9) d;",
    )
    .unwrap();
}

/// A digest of the whole campaign rollup.
fn campaign_rollup_digest(c: &mut Client) -> String {
    c.query_one(
        "SELECT md5(string_agg(r::text, ',' ORDER BY campaign_id, date)) FROM bravo.bravo_campaign_rollup r",
        &[],
    )
    .unwrap()
    .get(0)
}

fn pending_tables(c: &mut Client) -> i64 {
    c.query_one(
        "SELECT count(*) FROM pg_class WHERE (relname LIKE 'bravo\\_rollup\\_pending\\_%' OR relname LIKE 'bravo\\_rollup\\_counted\\_%') AND relpersistence = 't'",
        &[],
    )
    .unwrap()
    .get(0)
}

fn campaign_impressions(c: &mut Client, campaign: i64) -> i64 {
    c.query_one(
        "SELECT coalesce(impressions, 0) FROM bravo_campaign_totals($1)",
        &[&campaign],
    )
    .unwrap()
    .get(0)
}

#[test]
fn a_sync_keeps_both_rollups_exact_and_leaves_nothing_deferred() {
    let src = Source::start();
    src.fill(30, 40);
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 30, 4);

    // History outside the window and a buy Snowflake does not know yet (set aside).
    add_history(&mut c);
    src.sql(&["INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS SELECT dateadd(day, -d.range, current_date), 31, 5, 1, 0.50, current_timestamp, current_timestamp FROM range(0, 31) d"]);

    // First load: inserts only, 31 rows set aside.
    c.batch_execute("SELECT bravo_sync(30)").unwrap();
    assert_eq!(rollup_diffs(&mut c), 0, "after the first load");
    assert!(rollup_rows(&mut c) > 0);
    assert_eq!(pending_tables(&mut c), 0);

    // Revisions, deletions (delete_missing) and the unknown buy arriving (its set-aside
    // rows settle), in one sync.
    src.sql(&[
        "UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET impressions = impressions + 1000, spend = spend + 0.01 WHERE media_buy_id IN (3, 4) AND date >= dateadd(day, -4, current_date)",
        "UPDATE PLATFORM_BUY_DAILY_VIDEOS SET video_views = video_views + 5 WHERE media_buy_id = 5",
        "DELETE FROM PLATFORM_BUY_DAILY_IMPRESSIONS WHERE media_buy_id = 7 AND date = dateadd(day, -2, current_date)",
        "DELETE FROM PLATFORM_BUY_DAILY_VIDEOS WHERE media_buy_id = 8",
    ]);
    c.batch_execute("INSERT INTO media_buys (id, campaign_id) VALUES (31, 2)")
        .unwrap();
    let c2_before = campaign_impressions(&mut c, 2);
    c.batch_execute("SET bravo_metrics.delete_missing = on; SELECT bravo_sync(30)")
        .unwrap();
    assert_eq!(
        rollup_diffs(&mut c),
        0,
        "after revisions, deletions and settled rows"
    );
    assert_eq!(
        campaign_impressions(&mut c, 2) - c2_before,
        5 * 31,
        "the settled rows of buy 31 count in campaign 2"
    );
    assert_eq!(pending_tables(&mut c), 0);

    // In one transaction: a sync, then a direct write and a move: both count at once
    // (nothing is left deferred after bravo_sync returns).
    let mut tx = c.transaction().unwrap();
    src.sql(&[
        "UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET clicks = clicks + 1 WHERE media_buy_id = 10",
    ]);
    tx.batch_execute("SELECT bravo_sync(30)").unwrap();
    let c1: i64 = tx
        .query_one("SELECT impressions FROM bravo_campaign_totals(1)", &[])
        .unwrap()
        .get(0);
    tx.batch_execute(
        "INSERT INTO platform_buy_daily_impressions (media_buy_id, date, impressions, clicks, spend)
         VALUES (4, current_date - 100, 1000000, 0, 0)",
    )
    .unwrap();
    // Buy 4 is in campaign 4 % 4 + 1 = 1.
    let c1_after: i64 = tx
        .query_one("SELECT impressions FROM bravo_campaign_totals(1)", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        c1_after - c1,
        1_000_000,
        "a write after the sync counts at once"
    );
    tx.batch_execute("UPDATE media_buys SET campaign_id = 3 WHERE id = 4")
        .unwrap();
    let n: i64 = tx
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'bravo\\_rollup\\_pending\\_%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "no pending table after the sync, in its transaction");
    tx.commit().unwrap();
    assert_eq!(
        rollup_diffs(&mut c),
        0,
        "after a sync, a write and a move in one transaction"
    );

    // A sync that fails after writing (here: the second target's source lost a column)
    // leaves the rollups exactly as they were, with nothing deferred.
    let before = campaign_rollup_digest(&mut c);
    src.sql(&[
        "UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET impressions = impressions + 1 WHERE media_buy_id = 1",
        "ALTER TABLE PLATFORM_BUY_DAILY_VIDEOS DROP COLUMN video_views",
    ]);
    let e = c.batch_execute("SELECT bravo_sync(30)").unwrap_err();
    assert!(db_message(&e).contains("VIDEO_VIEWS"), "{}", db_message(&e));
    let after = campaign_rollup_digest(&mut c);
    assert_eq!(before, after, "a failed sync leaves the rollup as it was");
    assert_eq!(pending_tables(&mut c), 0);
    assert_eq!(rollup_diffs(&mut c), 0);
}

#[test]
fn a_campaign_move_racing_a_sync_leaves_the_rollup_exact() {
    let src = Source::start();
    src.fill(12, 10);
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 12, 3);
    c.batch_execute("SELECT bravo_sync(7)").unwrap();
    assert_eq!(rollup_diffs(&mut c), 0);

    // 1. A move in flight when the sync applies its rows: the sync waits for it, then
    //    counts the rows in the buy's new campaign.
    src.sql(&["UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET impressions = impressions + 100 WHERE media_buy_id = 5"]);
    let mut mover = pg.client("media_tool");
    mover
        .batch_execute("BEGIN; UPDATE media_buys SET campaign_id = 99 WHERE id = 5")
        .unwrap();
    let mut syncer = pg.client("media_tool");
    let syncer_pid: i32 = syncer
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let run = thread::spawn(move || {
        syncer.batch_execute("SELECT bravo_sync(7)").unwrap();
        syncer
    });
    wait_for(
        Duration::from_secs(20),
        "the sync waits for the move",
        || {
            let waiting: bool = c
            .query_one(
                "SELECT coalesce((SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1), false)",
                &[&syncer_pid],
            )
            .unwrap()
            .get(0);
            waiting.then_some(())
        },
    );
    mover.batch_execute("COMMIT").unwrap();
    let _ = run.join().unwrap();
    assert_eq!(rollup_diffs(&mut c), 0, "move first, then the sync's rows");
    let moved: i64 = c
        .query_one(
            "SELECT sum(impressions)::bigint FROM platform_buy_daily_impressions WHERE media_buy_id = 5",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(campaign_impressions(&mut c, 99), moved);

    // 2. A sync's transaction open (its rows applied) when a move comes: the move waits
    //    and then moves the synced rows too.
    src.sql(&["UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET impressions = impressions + 100 WHERE media_buy_id = 6"]);
    let mut syncer = pg.client("media_tool");
    syncer.batch_execute("BEGIN; SELECT bravo_sync(7)").unwrap();
    let mover_pid: i32 = mover
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let mv = thread::spawn(move || {
        mover
            .batch_execute("UPDATE media_buys SET campaign_id = 98 WHERE id = 6")
            .unwrap();
        mover
    });
    wait_for(
        Duration::from_secs(20),
        "the move waits for the sync",
        || {
            let waiting: bool = c
            .query_one(
                "SELECT coalesce((SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1), false)",
                &[&mover_pid],
            )
            .unwrap()
            .get(0);
            waiting.then_some(())
        },
    );
    syncer.batch_execute("COMMIT").unwrap();
    let _ = mv.join().unwrap();
    assert_eq!(rollup_diffs(&mut c), 0, "the sync first, then the move");
    let moved: i64 = c
        .query_one(
            "SELECT sum(impressions)::bigint FROM platform_buy_daily_impressions WHERE media_buy_id = 6",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(campaign_impressions(&mut c, 98), moved);
}

#[test]
fn a_look_alike_pending_table_is_refused() {
    let src = Source::start();
    src.fill(5, 5);
    let pg = Cluster::start(ClusterOptions::default());
    let mut admin = pg.media_tool("media_tool", src.port(), 5, 2);
    admin
        .batch_execute(
            "CREATE ROLE app LOGIN;
             GRANT USAGE ON SCHEMA public TO app;
             GRANT SELECT, INSERT, UPDATE, DELETE ON platform_buy_daily_impressions, media_buys TO app;
             GRANT EXECUTE ON FUNCTION bravo_sync(integer, boolean) TO app;",
        )
        .unwrap();
    let oid: u32 = admin
        .query_one(
            "SELECT 'platform_buy_daily_impressions'::regclass::oid",
            &[],
        )
        .unwrap()
        .get(0);
    let digest = metrics_digest(&mut admin);

    // The role's own temporary table under the pending name, with a trigger of its
    // own: neither a sync nor a direct write lets it receive the rollup rows (its
    // trigger would run as the extension's owner).
    let mut app = pg.client_as("media_tool", "app");
    app.batch_execute(&format!(
        "CREATE TEMP TABLE bravo_rollup_pending_{oid} (media_buy_id bigint, date date, impressions bigint, clicks bigint, spend numeric, impression_rows integer);
         CREATE FUNCTION pg_temp.grab() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN ALTER ROLE app SUPERUSER; RETURN NULL; END$$;
         CREATE TRIGGER grab AFTER INSERT ON pg_temp.bravo_rollup_pending_{oid} FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.grab();"
    ))
    .unwrap();
    let e = app.batch_execute("SELECT bravo_sync(3)").unwrap_err();
    assert_eq!(sqlstate(&e), "42501", "{}", db_message(&e));
    assert!(
        db_message(&e).contains("was not made by bravo_metrics"),
        "{}",
        db_message(&e)
    );
    let e = app
        .batch_execute(
            "INSERT INTO platform_buy_daily_impressions (media_buy_id, date, impressions, clicks, spend)
             VALUES (1, '2020-01-01', 1, 1, 1)",
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42501", "{}", db_message(&e));
    let superuser: bool = admin
        .query_one("SELECT rolsuper FROM pg_roles WHERE rolname = 'app'", &[])
        .unwrap()
        .get(0);
    assert!(!superuser);
    assert_eq!(metrics_digest(&mut admin), digest, "nothing written");

    // The same under the name that marks a first load counted at the flush: trusted,
    // it would keep the role's inserts out of the rollups.
    app.batch_execute(&format!(
        "DROP TABLE pg_temp.bravo_rollup_pending_{oid};
         CREATE TEMP TABLE bravo_rollup_counted_{oid} AS SELECT '1900-01-01'::date AS since;"
    ))
    .unwrap();
    let e = app.batch_execute("SELECT bravo_sync(3)").unwrap_err();
    assert_eq!(sqlstate(&e), "42501", "{}", db_message(&e));
    assert!(
        db_message(&e).contains("was not made by bravo_metrics"),
        "{}",
        db_message(&e)
    );
    assert_eq!(metrics_digest(&mut admin), digest, "nothing written");

    // Dropped, the same role's sync and writes work and the rollups are exact.
    app.batch_execute(&format!("DROP TABLE pg_temp.bravo_rollup_counted_{oid}"))
        .unwrap();
    app.batch_execute("SELECT bravo_sync(3)")
        .unwrap_or_else(|e| panic!("{}", db_message(&e)));
    assert_eq!(rollup_diffs(&mut admin), 0);
    assert!(rollup_rows(&mut admin) > 0);
}

/// (rows updated, of them HOT) for table `rel` in this backend and not yet reported
/// (this transaction's, and earlier ones' if the backend has not flushed them yet: take
/// the difference of two readings in one transaction, when no flush happens).
fn xact_updates(tx: &mut postgres::Transaction, rel: &str) -> (i64, i64) {
    let r = tx
        .query_one(
            "SELECT pg_stat_get_xact_tuples_updated($1::text::regclass),
                    pg_stat_get_xact_tuples_hot_updated($1::text::regclass)",
            &[&rel],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

/// The metric tables the extension makes keep room on each page (fillfactor 90), so a
/// row revised within the lookback is rewritten on its own page: a HOT update, no index
/// entry written. Without that room the first load packs the pages full and every
/// revision moves its row (checked: with the settings before 0.4.0, fillfactor 100 for
/// the metric tables and 90 for the rollups, 0 of 60, 2 of 30, 11 of 12 and 33 of 60
/// of the updates below were HOT).
#[test]
fn a_revised_row_is_rewritten_in_place_a_hot_update() {
    let src = Source::start();
    src.fill(30, 31);
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 30, 4);
    c.batch_execute("SELECT bravo_sync(30)").unwrap();

    // Two days of every buy revised (spread over every page of the table), one of videos.
    src.sql(&[
        "UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET impressions = impressions + 7, spend = spend + 0.01 WHERE date >= dateadd(day, -1, current_date)",
        "UPDATE PLATFORM_BUY_DAILY_VIDEOS SET video_views = video_views + 3 WHERE date = current_date",
    ]);
    let rels = [
        "platform_buy_daily_impressions",
        "platform_buy_daily_videos",
        "bravo.bravo_campaign_rollup",
        "bravo.bravo_media_buy_rollup",
    ];
    let mut tx = c.transaction().unwrap();
    let before: Vec<(i64, i64)> = rels.iter().map(|r| xact_updates(&mut tx, r)).collect();
    let counts: Vec<(String, i64)> = tx
        .query(
            "SELECT target, updated FROM bravo_sync(30) ORDER BY target",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        counts,
        vec![("impressions".to_string(), 60), ("videos".to_string(), 30)]
    );
    let sync: Vec<(i64, i64)> = rels
        .iter()
        .zip(&before)
        .map(|(r, b)| {
            let a = xact_updates(&mut tx, r);
            (a.0 - b.0, a.1 - b.1)
        })
        .collect();
    // Every revision is HOT. The rollups keep 30 % of each page free: their updates
    // (2 days x 4 campaigns, then 1 day x 4; 30 buys' month twice, so 60 new versions on
    // two pages in one transaction) stay on their pages, nearly all for the media buys'.
    assert_eq!(
        sync[..3],
        [(60, 60), (30, 30), (12, 12)],
        "(updated, HOT) of {rels:?}"
    );
    assert!(
        sync[3].0 == 60 && sync[3].1 >= 50,
        "media buy rollup (updated, HOT): {:?}",
        sync[3]
    );
    tx.commit().unwrap();
    assert_eq!(rollup_diffs(&mut c), 0);
}

/// A connection that keeps every notice and debug message it receives.
fn client_with_messages(pg: &Cluster, db: &str) -> (Client, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    let mut config: postgres::Config = pg.conninfo(db).parse().unwrap();
    config.notice_callback(move |n| keep.lock().unwrap().push(n.message().to_string()));
    (config.connect(postgres::NoTls).unwrap(), seen)
}

/// The tables whose rows the last sync counted at the flush (a first load).
fn counted_tables(seen: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    let mut v: Vec<String> = seen
        .lock()
        .unwrap()
        .drain(..)
        .filter(|m| m.contains("is a first load from"))
        .map(|m| m.split(' ').nth(1).unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn a_first_load_counts_its_own_rows_only_where_nothing_else_writes_the_table() {
    let src = Source::start();
    src.fill(30, 40);
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 30, 4);
    // History before the window: the first load writes next to rows counted before.
    add_history(&mut c);
    let (mut s, seen) = client_with_messages(&pg, "media_tool");
    s.batch_execute("SET client_min_messages = debug1").unwrap();

    // 1. The first load of both tables counts its rows from the tables.
    s.batch_execute("SELECT bravo_sync(30)").unwrap();
    assert_eq!(
        counted_tables(&seen),
        [
            "public.platform_buy_daily_impressions",
            "public.platform_buy_daily_videos"
        ]
    );
    assert_eq!(rollup_diffs(&mut c), 0, "after a counted first load");
    assert_eq!(pending_tables(&mut s), 0);

    // 2. A re-sync with revisions: the window holds rows, so every delta is copied.
    src.sql(&["UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET impressions = impressions + 7 WHERE media_buy_id <= 5"]);
    s.batch_execute("SELECT bravo_sync(30)").unwrap();
    assert!(
        counted_tables(&seen).is_empty(),
        "a re-sync is not a first load"
    );
    assert_eq!(rollup_diffs(&mut c), 0, "after a re-sync");

    // 3. The window emptied again, and a trigger of the user's own that rewrites each
    //    row the sync inserts into the videos table: counting there would subtract the
    //    first version of each row, which was never added. Only impressions are counted.
    c.batch_execute(
        "DELETE FROM platform_buy_daily_impressions WHERE date >= current_date - 30;
         DELETE FROM platform_buy_daily_videos WHERE date >= current_date - 30;
         CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             UPDATE public.platform_buy_daily_videos SET video_views = video_views + 1
              WHERE media_buy_id = NEW.media_buy_id AND date = NEW.date;
             RETURN NULL;
         END $$;
         CREATE TRIGGER bump AFTER INSERT ON platform_buy_daily_videos FOR EACH ROW EXECUTE FUNCTION bump();",
    )
    .unwrap();
    assert_eq!(rollup_diffs(&mut c), 0);
    s.batch_execute("SELECT bravo_sync(30)").unwrap();
    assert_eq!(
        counted_tables(&seen),
        ["public.platform_buy_daily_impressions"]
    );
    assert_eq!(
        rollup_diffs(&mut c),
        0,
        "with a trigger of the user's own rewriting the new rows"
    );
    let bumped: i64 = c
        .query_one(
            "SELECT count(*) FROM platform_buy_daily_videos WHERE date >= current_date - 30",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(bumped > 0);

    // 4. A first load that fails after writing its first table leaves the rollups as
    //    they were and nothing deferred or counted behind it.
    c.batch_execute(
        "DROP TRIGGER bump ON platform_buy_daily_videos;
         DELETE FROM platform_buy_daily_impressions WHERE date >= current_date - 30;
         DELETE FROM platform_buy_daily_videos WHERE date >= current_date - 30;",
    )
    .unwrap();
    let before = campaign_rollup_digest(&mut c);
    src.sql(&["ALTER TABLE PLATFORM_BUY_DAILY_VIDEOS DROP COLUMN video_views"]);
    let e = s.batch_execute("SELECT bravo_sync(30)").unwrap_err();
    assert!(db_message(&e).contains("VIDEO_VIEWS"), "{}", db_message(&e));
    assert_eq!(
        counted_tables(&seen),
        ["public.platform_buy_daily_impressions"]
    );
    assert_eq!(
        campaign_rollup_digest(&mut c),
        before,
        "a failed first load leaves the rollup as it was"
    );
    assert_eq!(pending_tables(&mut s), 0);
    assert_eq!(rollup_diffs(&mut c), 0);
}

#[test]
fn a_counted_first_load_also_applies_the_settled_rows_older_than_its_window() {
    let src = Source::start();
    src.fill(30, 40);
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 30, 4);
    // Buy 31 is in Snowflake for 32 days, not yet in media_buys: a 31-day sync (its
    // window starts 31 days ago) sets its rows aside.
    src.sql(&["INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS SELECT dateadd(day, -d.range, current_date), 31, 5, 1, 0.50, current_timestamp, current_timestamp FROM range(0, 32) d"]);
    c.batch_execute("SELECT bravo_sync(31)").unwrap();
    let aside: i64 = c
        .query_one(
            "SELECT count(*) FROM bravo.bravo_set_aside WHERE media_buy_id = 31",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(aside, 32);

    // The window emptied and the buy known: the next 30-day sync is a first load, and
    // the buy's oldest row, now older than that window, settles in the same sync. The
    // flush reads the window from the table and that row from the pending table.
    c.batch_execute(
        "DELETE FROM platform_buy_daily_impressions WHERE date >= current_date - 31;
         DELETE FROM platform_buy_daily_videos WHERE date >= current_date - 31;
         INSERT INTO media_buys (id, campaign_id) VALUES (31, 2);",
    )
    .unwrap();
    assert_eq!(rollup_diffs(&mut c), 0);
    let (mut s, seen) = client_with_messages(&pg, "media_tool");
    s.batch_execute("SET client_min_messages = debug1; SELECT bravo_sync(30)")
        .unwrap();
    assert!(
        counted_tables(&seen).contains(&"public.platform_buy_daily_impressions".to_string()),
        "{:?}",
        counted_tables(&seen)
    );
    let (rows, oldest): (i64, Option<chrono::NaiveDate>) = c
        .query_one(
            "SELECT count(*), min(date) FROM platform_buy_daily_impressions WHERE media_buy_id = 31",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    let window_start: chrono::NaiveDate =
        c.query_one("SELECT current_date - 30", &[]).unwrap().get(0);
    assert_eq!(rows, 32, "the settled rows of buy 31");
    assert!(oldest.unwrap() < window_start, "{oldest:?}");
    assert_eq!(
        rollup_diffs(&mut c),
        0,
        "a counted first load with a settled row older than its window"
    );
    assert_eq!(pending_tables(&mut s), 0);
}
