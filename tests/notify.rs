//! `LISTEN bravo_metrics`: an application hears every finished sync, against a real
//! PostgreSQL 15 and the loopback Snowflake double. A committed sync sends `sync` with
//! its counts; a failed or rolled back one sends `sync_failed` (a sync whose
//! transaction did not commit is heard only so); a family whose data became stale
//! sends `stale` once, and `fresh` when it is not any more.

mod common;

use std::time::Duration;

use bravo_testkit::double::{reply, Endpoint, Reply};
use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;

/// The payloads heard on `bravo_metrics` within `wait` (stops at the first gap).
fn heard(l: &mut Client, wait: Duration) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut n = l.notifications();
    let mut it = n.timeout_iter(wait);
    while let Some(msg) = it.next().unwrap() {
        assert_eq!(msg.channel(), "bravo_metrics");
        out.push(serde_json::from_str(msg.payload()).unwrap());
    }
    out
}

#[test]
fn a_listener_hears_committed_failed_and_rolled_back_syncs() {
    let src = SyntheticSource::start(SyntheticOptions {
        media_buys: 120,
        days: 31,
        end_date: chrono::Utc::now().date_naive(),
        chunk_rows: 2000,
        inline_rows: 200,
        ..Default::default()
    });
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 100, 10);
    let mut l = pg.client("media_tool");
    l.batch_execute("LISTEN bravo_metrics").unwrap();

    // A committed sync: its counts, as the run log has them.
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    let got = heard(&mut l, Duration::from_secs(3));
    assert_eq!(got.len(), 1, "{got:?}");
    let e = &got[0];
    let run_id: i64 = c
        .query_one("SELECT max(run_id) FROM bravo_sync_runs", &[])
        .unwrap()
        .get(0);
    assert_eq!(e["event"], "sync");
    assert_eq!(e["run_id"], run_id);
    assert_eq!(e["status"], "succeeded");
    assert_eq!(e["trigger"], "manual");
    assert_eq!(e["grain"], "day");
    assert_eq!(e["lookback_days"], 30);
    assert!(e["window_start"].is_string());
    for r in c
        .query(
            "SELECT target, fetched, inserted, set_aside FROM bravo_sync_run_targets WHERE run_id = $1",
            &[&run_id],
        )
        .unwrap()
    {
        let t: String = r.get(0);
        let n = e["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["target"] == t.as_str())
            .unwrap_or_else(|| panic!("{t} not in {e}"));
        assert_eq!(n["fetched"], r.get::<_, i64>(1));
        assert_eq!(n["inserted"], r.get::<_, i64>(2));
        assert_eq!(n["set_aside"], r.get::<_, i64>(3));
        assert!(r.get::<_, i64>(3) > 0, "20 unknown buys set aside");
    }

    // Recent rows gone from one table, then a failed sync: sync_failed, with its
    // SQLSTATE, then `stale` for the family that became stale.
    c.batch_execute("DELETE FROM platform_buy_daily_impressions WHERE date > current_date - 5")
        .unwrap();
    src.double().push(
        Endpoint::Login,
        Reply::json(reply::failure(
            "390100",
            "Incorrect username or password was specified.",
            serde_json::Value::Null,
        )),
    );
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    let got = heard(&mut l, Duration::from_secs(3));
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["event"], "sync_failed");
    assert_eq!(got[0]["status"], "failed");
    assert_eq!(got[0]["sqlstate"], "28000");
    assert!(got[0]["message"].as_str().unwrap().contains("390100"));
    assert_eq!(got[1]["event"], "stale");
    assert_eq!(got[1]["run_id"], got[0]["run_id"]);
    assert_eq!(got[1]["targets"].as_array().unwrap().len(), 1, "{}", got[1]);
    assert_eq!(got[1]["targets"][0]["family"], "impressions");
    assert_eq!(got[1]["targets"][0]["lag_days"], 5);
    assert_eq!(got[1]["targets"][0]["expected_lag_days"], 2);

    // Still stale after another failure: not heard again.
    src.double().push(
        Endpoint::Login,
        Reply::json(reply::failure(
            "390100",
            "Incorrect username or password was specified.",
            serde_json::Value::Null,
        )),
    );
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    let got = heard(&mut l, Duration::from_secs(3));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["event"], "sync_failed");

    // A sync that brings the rows back: `sync`, then `fresh`.
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    let got = heard(&mut l, Duration::from_secs(3));
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0]["event"], "sync");
    assert_eq!(got[1]["event"], "fresh");
    assert_eq!(got[1]["targets"][0]["family"], "impressions");

    // A sync that succeeded in a transaction rolled back afterwards: only sync_failed
    // (rolled_back) is heard; its own `sync` went with the transaction.
    c.batch_execute("BEGIN; SELECT * FROM bravo_sync(30); ROLLBACK;")
        .unwrap();
    let got = heard(&mut l, Duration::from_secs(3));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["event"], "sync_failed");
    assert_eq!(got[0]["status"], "rolled_back");

    // Nothing else was sent.
    assert!(heard(&mut l, Duration::from_millis(500)).is_empty());
}

#[test]
fn the_scheduler_notifies_data_that_went_stale_while_no_run_happened() {
    let src = SyntheticSource::start(SyntheticOptions {
        media_buys: 50,
        days: 31,
        end_date: chrono::Utc::now().date_naive(),
        ..Default::default()
    });
    let pg = Cluster::start(ClusterOptions {
        preload: true,
        conf: vec![
            "bravo_metrics.scheduler_database = 'media_tool'".into(),
            "bravo_metrics.scheduler_enabled = off".into(),
            "bravo_metrics.staleness_check_interval = 1".into(),
        ],
    });
    let mut c = pg.media_tool("media_tool", src.port(), 50, 5);
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    // The scheduler tried before the database existed: retry now.
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    let mut l = pg.client("media_tool");
    l.batch_execute("LISTEN bravo_metrics").unwrap();

    // No run: the data goes stale (its last four days disappear) and the scheduler,
    // checking every second, says so once, with no run id.
    c.batch_execute("DELETE FROM platform_buy_daily_videos WHERE date > current_date - 4")
        .unwrap();
    let got = heard(&mut l, Duration::from_secs(20));
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["event"], "stale");
    assert!(got[0]["run_id"].is_null(), "{}", got[0]);
    assert_eq!(got[0]["targets"][0]["family"], "videos");
    assert_eq!(got[0]["targets"][0]["lag_days"], 4);
    assert!(
        heard(&mut l, Duration::from_secs(3)).is_empty(),
        "said once"
    );

    // A sync brings the rows back: sync, then fresh (from the sync's own check).
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    let got = heard(&mut l, Duration::from_secs(3));
    let events: Vec<&str> = got.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["sync", "fresh"], "{got:?}");
}
