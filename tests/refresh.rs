//! `bravo_refresh(campaign_id)`: one campaign's media buys over a short window,
//! against a real PostgreSQL 15 and the loopback Snowflake double (which filters on
//! the media buys the query binds, as Snowflake does). Only the campaign's rows change;
//! the filter reaches Snowflake as bind variables; bad arguments fail clearly.

mod common;

use bravo_testkit::double::Endpoint;
use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;
use postgres::Client;

/// md5 of every metric row of the media buys of campaigns other than `campaign`.
fn others_digest(c: &mut Client, campaign: i64) -> String {
    c.query_one(
        "SELECT md5(coalesce((SELECT string_agg(t::text, ',' ORDER BY media_buy_id, date)
                                FROM platform_buy_daily_impressions t JOIN media_buys b ON b.id = t.media_buy_id
                               WHERE b.campaign_id <> $1), ''))
             || md5(coalesce((SELECT string_agg(t::text, ',' ORDER BY media_buy_id, date)
                                FROM platform_buy_daily_videos t JOIN media_buys b ON b.id = t.media_buy_id
                               WHERE b.campaign_id <> $1), ''))",
        &[&campaign],
    )
    .unwrap()
    .get(0)
}

#[test]
fn a_refresh_changes_only_its_campaigns_rows_and_pushes_the_filter_to_snowflake() {
    let opts = SyntheticOptions {
        media_buys: 300,
        days: 31,
        end_date: chrono::Utc::now().date_naive(),
        chunk_rows: 2000,
        inline_rows: 200,
        changed_pct: 50,
        ..Default::default()
    };
    let src = SyntheticSource::start(opts);
    let pg = Cluster::start(ClusterOptions::default());
    // Campaigns 1..=10: campaign 3 has the buys g with g % 10 = 2, 30 of them.
    let mut c = pg.media_tool("media_tool", src.port(), 300, 10);
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    let others = others_digest(&mut c, 3);
    let queries_before = src.double().requests_to(Endpoint::QueryRequest).len();

    // Half the source rows are revised; refresh campaign 3 over the last 3 days.
    src.set_revision(1);
    let rows = c
        .query(
            "SELECT target, fetched, inserted, updated, unchanged, deleted, run_id FROM bravo_refresh(3)",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        let target: String = r.get(0);
        let (fetched, inserted, updated, unchanged): (i64, i64, i64, i64) =
            (r.get(1), r.get(2), r.get(3), r.get(4));
        assert_eq!(
            fetched,
            30 * 4,
            "{target}: 30 buys x 4 days (today and 3 back)"
        );
        assert_eq!(inserted, 0, "{target}");
        assert_eq!(updated + unchanged, 120, "{target}");
        assert!(
            updated > 20 && updated < 100,
            "{target}: about half revised: {updated}"
        );
    }
    // What Snowflake was asked: the window and the 30 buys as bind variables.
    let queries = src.double().requests_to(Endpoint::QueryRequest);
    let fetches: Vec<serde_json::Value> = queries[queries_before..]
        .iter()
        .map(|q| q.json())
        .filter(|b| b["describeOnly"] != serde_json::Value::Bool(true))
        .collect();
    assert_eq!(fetches.len(), 2, "one fetch per family");
    for b in &fetches {
        let sql = b["sqlText"].as_str().unwrap();
        assert!(sql.contains(" IN (?"), "{sql}");
        let ids: Vec<i64> = (2..=31)
            .map(|k| {
                let v = &b["bindings"][k.to_string()];
                assert_eq!(v["type"], "FIXED", "{v}");
                v["value"].as_str().unwrap().parse().unwrap()
            })
            .collect();
        assert!(ids.iter().all(|i| i % 10 == 2), "{ids:?}");
        assert!(b["bindings"]["32"].is_null());
    }

    // The campaign's revised rows are in; nothing of any other campaign changed.
    assert_eq!(others_digest(&mut c, 3), others);
    // ... and a full sync now finds the campaign's window already up to date.
    let full = c
        .query("SELECT target, updated FROM bravo_sync(3)", &[])
        .unwrap();
    for r in &full {
        let updated: i64 = r.get(1);
        assert!(
            updated > 0,
            "other campaigns' revised rows are only now merged"
        );
    }
    let campaign_updated: i64 = c
        .query_one(
            "SELECT count(*) FROM platform_buy_daily_impressions t JOIN media_buys b ON b.id = t.media_buy_id
              WHERE b.campaign_id = 3 AND t.updated_at > (SELECT max(finished_at) FROM bravo_sync_runs WHERE trigger = 'refresh')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        campaign_updated, 0,
        "the full sync had nothing left to update for campaign 3"
    );

    // The run log: trigger refresh, the campaign in detail, a 3-day lookback.
    let r = c
        .query_one(
            "SELECT trigger, status, lookback_days, detail->>'campaign_id', (detail->>'media_buys')::int
               FROM bravo_sync_runs WHERE trigger <> 'manual' ORDER BY run_id DESC LIMIT 1",
            &[],
        )
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "refresh");
    assert_eq!(r.get::<_, String>(1), "succeeded");
    assert_eq!(r.get::<_, i32>(2), 3);
    assert_eq!(r.get::<_, String>(3), "3");
    assert_eq!(r.get::<_, i32>(4), 30);

    // A text id (the other overload) names the same campaign; a second refresh finds
    // everything unchanged.
    let again = c
        .query("SELECT updated, unchanged FROM bravo_refresh('3', 2)", &[])
        .unwrap();
    for r in &again {
        assert_eq!((r.get::<_, i64>(0), r.get::<_, i64>(1)), (0, 90));
    }

    // Bad arguments: a campaign without media buys, NULL, a bad lookback.
    let e = c
        .query("SELECT * FROM bravo_refresh(999)", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023", "{}", db_message(&e));
    assert!(db_message(&e).contains("campaign 999 has no media buys"));
    let e = c
        .query("SELECT * FROM bravo_refresh(NULL::bigint)", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22004", "{}", db_message(&e));
    let e = c
        .query("SELECT * FROM bravo_refresh(3, 0)", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023", "{}", db_message(&e));

    // Not for PUBLIC.
    c.batch_execute("CREATE ROLE viewer LOGIN").unwrap();
    let mut v = pg.client_as("media_tool", "viewer");
    let e = v.query("SELECT * FROM bravo_refresh(3)", &[]).unwrap_err();
    assert_eq!(sqlstate(&e), "42501", "{}", db_message(&e));
}

#[test]
fn a_refresh_deletes_only_its_campaigns_vanished_rows() {
    let src = SyntheticSource::start(SyntheticOptions {
        media_buys: 100,
        days: 10,
        end_date: chrono::Utc::now().date_naive(),
        ..Default::default()
    });
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 100, 4);
    c.batch_execute("ALTER DATABASE media_tool SET bravo_metrics.delete_missing = on")
        .unwrap();
    let mut c = pg.client("media_tool");
    c.query("SELECT * FROM bravo_sync(9)", &[]).unwrap();
    // Rows Snowflake never had, for a buy of campaign 2 and one of campaign 3.
    c.batch_execute(
        "DELETE FROM platform_buy_daily_impressions WHERE media_buy_id IN (1, 2) AND date = current_date - 1;
         INSERT INTO platform_buy_daily_impressions (media_buy_id, date, impressions, clicks, spend)
         SELECT b, current_date + 1, 5, 5, 5 FROM (VALUES (1), (2)) v(b);",
    )
    .unwrap();
    // Buy 1 is campaign 2 (1 % 4 + 1), buy 2 campaign 3: refresh campaign 2 only.
    let r = c
        .query_one(
            "SELECT deleted, inserted FROM bravo_refresh(2) WHERE target = 'impressions'",
            &[],
        )
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), 1, "buy 1's row of tomorrow vanished");
    assert_eq!(r.get::<_, i64>(1), 1, "buy 1's row of yesterday came back");
    let left: Vec<i64> = c
        .query(
            "SELECT media_buy_id FROM platform_buy_daily_impressions WHERE date = current_date + 1 ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        left,
        vec![2],
        "campaign 3's row is not this refresh's to delete"
    );
}
