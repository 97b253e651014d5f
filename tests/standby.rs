//! A streaming standby and a failover (README, "Operations"): on the standby the
//! scheduler does not run, a sync is refused as any write is, and the reports read the
//! replicated rows; after promotion the scheduler starts on the new primary and runs
//! its schedule there. Real PostgreSQL 15 (a primary and a pg_basebackup standby on
//! loopback) and the real fakesnow server.

mod common;

use std::time::Duration;

use common::*;
use postgres::Client;

fn scheduler_running(c: &mut Client) -> bool {
    c.query_one(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'bravo_metrics scheduler')",
        &[],
    )
    .unwrap()
    .get(0)
}

#[test]
fn a_standby_runs_no_sync_and_after_promotion_the_scheduler_takes_over() {
    let src = Source::start();
    src.fill(10, 5);
    let primary = Cluster::start(ClusterOptions {
        preload: true,
        conf: vec![],
    });
    let mut p = primary.media_tool("media_tool", src.port(), 10, 2);
    p.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    let want: i64 = p
        .query_one("SELECT impressions FROM bravo_campaign_totals(1)", &[])
        .unwrap()
        .get(0);

    // The standby is configured to run the scheduler every 2 seconds.
    let standby = Cluster::standby_of(
        &primary,
        &[
            "bravo_metrics.scheduler_enabled = on",
            "bravo_metrics.scheduler_database = 'media_tool'",
            "bravo_metrics.schedule = '*/2 * * * * *'",
            "bravo_metrics.scheduler_lookback_days = 5",
        ],
    );
    let mut s = standby.client("media_tool");
    let in_recovery: bool = s
        .query_one("SELECT pg_is_in_recovery()", &[])
        .unwrap()
        .get(0);
    assert!(in_recovery);
    std::thread::sleep(Duration::from_secs(5));
    assert!(!scheduler_running(&mut s), "no scheduler on a standby");
    let runs: i64 = s
        .query_one("SELECT count(*) FROM bravo_sync_runs", &[])
        .unwrap()
        .get(0);
    assert_eq!(runs, 1, "only the primary's run, replicated");
    // The reports read the replicated rows; a sync is a write, refused.
    let got: i64 = s
        .query_one("SELECT impressions FROM bravo_campaign_totals(1)", &[])
        .unwrap()
        .get(0);
    assert_eq!(got, want);
    let e = s.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    assert_eq!(sqlstate(&e), "25006", "{}", db_message(&e));
    assert!(db_message(&e).contains("cannot run on a standby"));
    for call in [
        "SELECT * FROM bravo_sync_intraday()",
        "SELECT bravo_run_now()",
        "SELECT * FROM bravo_export('file:///tmp/nowhere')",
    ] {
        let e = s.query(call, &[]).unwrap_err();
        assert_eq!(sqlstate(&e), "25006", "{call}: {}", db_message(&e));
    }

    // Failover: the primary goes away, the standby is promoted; the scheduler starts
    // there and its scheduled syncs run against the same source.
    drop(p);
    primary.stop("fast");
    standby.promote();
    let mut n = standby.client("media_tool");
    let run: (String, String) = wait_for(
        Duration::from_secs(60),
        "a scheduled run on the promoted standby",
        || {
            n.query_opt(
                "SELECT trigger, status FROM bravo_sync_runs WHERE trigger IN ('schedule', 'catch-up') AND status = 'succeeded' ORDER BY run_id LIMIT 1",
                &[],
            )
            .unwrap()
            .map(|r| (r.get(0), r.get(1)))
        },
    );
    assert_eq!(run.1, "succeeded");
    assert!(scheduler_running(&mut n));
}
