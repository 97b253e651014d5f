//! The campaign rollup stays exact when a media buy moves to another campaign while
//! another transaction writes that buy's metric rows, in either order; and edits of
//! media_buys that move nothing never wait for a metric writer (a sync in flight).
//! Real PostgreSQL 15, two sessions.

mod common;

use std::thread;
use std::time::Duration;

use common::*;
use postgres::Client;

/// Rows where bravo.bravo_campaign_rollup differs from a plain GROUP BY (0 = exact).
fn rollup_diffs(c: &mut Client) -> i64 {
    c.query_one(
        "WITH truth AS (
             SELECT m.campaign_id, p.date, sum(p.impressions) AS impressions, sum(p.spend) AS spend,
                    count(*) AS n
               FROM platform_buy_daily_impressions p JOIN media_buys m ON m.id = p.media_buy_id
              GROUP BY 1, 2),
              r AS (SELECT campaign_id, date, impressions::numeric, spend, impression_rows::bigint
                      FROM bravo.bravo_campaign_rollup)
         SELECT (SELECT count(*) FROM (SELECT * FROM truth EXCEPT SELECT * FROM r) a)
              + (SELECT count(*) FROM (SELECT * FROM r EXCEPT SELECT * FROM truth) b)",
        &[],
    )
    .unwrap()
    .get(0)
}

/// Waits until the session with this pid waits on a lock.
fn wait_until_blocked(observer: &mut Client, pid: i32, what: &str) {
    wait_for(Duration::from_secs(10), what, || {
        let waiting: bool = observer
            .query_one(
                "SELECT coalesce((SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1), false)",
                &[&pid],
            )
            .unwrap()
            .get(0);
        waiting.then_some(())
    });
}

fn pid(c: &mut Client) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0)
}

fn setup(pg: &Cluster, db: &str) -> Client {
    pg.client("postgres")
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let mut c = pg.client(db);
    c.batch_execute(
        "CREATE EXTENSION bravo_metrics;
         INSERT INTO media_buys (id, campaign_id) VALUES (1, 10), (2, 10), (3, 20);
         INSERT INTO platform_buy_daily_impressions (media_buy_id, date, impressions, clicks, spend)
         SELECT b, date '2026-01-01' + d, 100 * b + d, b, 1.25 * b
           FROM generate_series(1, 3) b, generate_series(0, 9) d;",
    )
    .unwrap();
    c
}

#[test]
fn campaign_moves_racing_metric_writes_leave_the_rollup_exact() {
    let pg = Cluster::start(ClusterOptions::default());
    let mut observer = setup(&pg, "race");
    assert_eq!(rollup_diffs(&mut observer), 0);

    // 1. The move's transaction is open when a metric write comes: the write waits
    //    for it and then counts its rows in the new campaign.
    let mut mover = pg.client("race");
    mover
        .batch_execute("BEGIN; UPDATE media_buys SET campaign_id = 20 WHERE id = 1")
        .unwrap();
    let mut writer = pg.client("race");
    let writer_pid = pid(&mut writer);
    let write = thread::spawn(move || {
        writer
            .batch_execute(
                "INSERT INTO platform_buy_daily_impressions (media_buy_id, date, impressions, clicks, spend)
                 SELECT 1, date '2026-01-11' + d, 7, 1, 0.07 FROM generate_series(0, 4) d",
            )
            .unwrap();
        writer
    });
    wait_until_blocked(
        &mut observer,
        writer_pid,
        "the metric write waits for the move",
    );
    mover.batch_execute("COMMIT").unwrap();
    let mut writer = write.join().unwrap();
    assert_eq!(rollup_diffs(&mut observer), 0, "move first, then the write");

    // 2. A metric write's transaction is open when a move comes: the move waits for it
    //    and then moves its rows too.
    writer
        .batch_execute(
            "BEGIN; UPDATE platform_buy_daily_impressions SET impressions = impressions + 1000, spend = spend + 1
              WHERE media_buy_id = 2;
             INSERT INTO platform_buy_daily_impressions (media_buy_id, date, impressions, clicks, spend)
             VALUES (2, '2026-02-01', 5, 0, 0.5)",
        )
        .unwrap();
    let mover_pid = pid(&mut mover);
    let mv = thread::spawn(move || {
        mover
            .batch_execute("UPDATE media_buys SET campaign_id = 30 WHERE id = 2")
            .unwrap();
        mover
    });
    wait_until_blocked(
        &mut observer,
        mover_pid,
        "the move waits for the metric write",
    );
    writer.batch_execute("COMMIT").unwrap();
    let mut mover = mv.join().unwrap();
    assert_eq!(rollup_diffs(&mut observer), 0, "write first, then the move");
    let c30: i64 = observer
        .query_one("SELECT impressions FROM bravo_campaign_totals(30)", &[])
        .unwrap()
        .get(0);
    let buy2: i64 = observer
        .query_one(
            "SELECT sum(impressions)::bigint FROM platform_buy_daily_impressions WHERE media_buy_id = 2",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(c30, buy2, "campaign 30 is exactly buy 2");

    // 3. Edits that move no buy do not wait for a metric write in flight (a sync).
    writer
        .batch_execute(
            "BEGIN; INSERT INTO platform_buy_daily_impressions (media_buy_id, date, impressions, clicks, spend)
             VALUES (3, '2026-02-01', 1, 0, 0)",
        )
        .unwrap();
    mover
        .batch_execute(
            "SET lock_timeout = '2s';
             UPDATE media_buys SET name = 'renamed', updated_at = now() WHERE id IN (1, 2, 3);
             UPDATE media_buys SET campaign_id = campaign_id WHERE id = 3;
             INSERT INTO media_buys (id, campaign_id) VALUES (4, 40);",
        )
        .unwrap_or_else(|e| panic!("an edit that moves nothing waited: {}", db_message(&e)));
    writer.batch_execute("COMMIT").unwrap();
    assert_eq!(rollup_diffs(&mut observer), 0);
}
