//! The intraday refresh (`bravo_sync_intraday`): only the rows changed since each
//! family's high-water mark, against a real PostgreSQL 15 with the loopback double
//! (which serves only rows whose UPDATED_AT is after the bound mark, as Snowflake
//! would) and with real fakesnow (the same filter run by its SQL engine). A row revised
//! behind the mark is missed by the refresh and caught by the next window sync; a
//! failing refresh leaves rows and marks as they were.

mod common;

use bravo_testkit::double::Endpoint;
use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use chrono::{NaiveDate, Utc};
use common::*;
use postgres::Client;

/// (target, fetched, inserted, updated, unchanged) per family of an intraday refresh.
fn intraday(c: &mut Client) -> Vec<(String, i64, i64, i64, i64)> {
    c.query(
        "SELECT target, fetched, inserted, updated, unchanged FROM bravo_sync_intraday()",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
    .collect()
}

/// Each family's high-water mark, as Unix microseconds.
fn marks(c: &mut Client) -> Vec<(String, Option<i64>)> {
    c.query(
        "SELECT family, (extract(epoch FROM high_water) * 1000000)::int8 FROM bravo_intraday_status() ORDER BY family",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// 06:00 UTC of `day` plus `extra_ns`, in microseconds (the double's CREATED_AT).
fn created_us(day: NaiveDate, extra_ns: i64) -> i64 {
    (day.and_hms_opt(6, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_nanos_opt()
        .unwrap()
        + extra_ns)
        / 1000
}

#[test]
fn the_refresh_merges_only_rows_changed_after_the_mark_and_the_nightly_catches_the_rest() {
    let today = Utc::now().date_naive();
    let opts = SyntheticOptions {
        media_buys: 300,
        days: 31,
        end_date: today,
        chunk_rows: 2000,
        inline_rows: 200,
        changed_pct: 2,
        ..Default::default()
    };
    let src = SyntheticSource::start(opts.clone());
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 300, 10);
    let window = 300 * 31;
    let changed = window * 2 / 100;

    // No mark yet: the first refresh compares whole windows (and says so), and keeps
    // each family's largest UPDATED_AT as its mark.
    for (t, fetched, inserted, ..) in intraday(&mut c) {
        assert_eq!((fetched, inserted), (window, window), "{t}");
    }
    let said: Vec<String> = c
        .query(
            "SELECT message FROM bravo_sync_run_targets WHERE run_id = (SELECT max(run_id) FROM bravo_sync_runs) ORDER BY target",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        said.iter().all(|m| m.contains("no high-water mark yet")),
        "{said:?}"
    );
    let first_mark = created_us(today, 0);
    assert_eq!(
        marks(&mut c),
        vec![
            ("impressions".to_string(), Some(first_mark)),
            ("videos".to_string(), Some(first_mark))
        ]
    );

    // 2 % of the rows are revised now (UPDATED_AT two days ahead: after the mark).
    let revised_ns = (Utc::now() + chrono::Duration::days(2))
        .timestamp_nanos_opt()
        .unwrap()
        / 1000
        * 1000;
    src.set_options(SyntheticOptions {
        revision: 1,
        revised_at_ns: Some(revised_ns),
        ..opts.clone()
    });
    let before = src.double().requests_to(Endpoint::QueryRequest).len();
    // The revised rows, and today's others: their UPDATED_AT is the mark itself, within
    // the safety lag (1 h), so they are fetched again and found unchanged.
    let todays_others = 300 - 300 * 2 / 100;
    for (t, fetched, inserted, updated, unchanged) in intraday(&mut c) {
        assert_eq!(
            (fetched, inserted, updated, unchanged),
            (changed + todays_others, 0, changed, todays_others),
            "{t}: only the revised rows (and the last hour's) are fetched; each revised one is an update"
        );
    }
    // Snowflake was asked for rows changed after the mark minus the safety lag (1 h).
    let fetches: Vec<serde_json::Value> = src.double().requests_to(Endpoint::QueryRequest)
        [before..]
        .iter()
        .map(|q| q.json())
        .filter(|b| b["describeOnly"] != serde_json::Value::Bool(true))
        .collect();
    assert_eq!(fetches.len(), 2);
    for b in &fetches {
        let sql = b["sqlText"].as_str().unwrap();
        assert!(sql.contains("\"UPDATED_AT\" > ?"), "{sql}");
        assert_eq!(b["bindings"]["2"]["type"], "TIMESTAMP_NTZ");
        let since: i64 = b["bindings"]["2"]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(since, (first_mark - 3_600_000_000) * 1000);
    }
    assert_eq!(
        metrics_digest_of(&mut c),
        digest_of_revision(&src, &opts, 1, revised_ns),
        "the tables hold revision 1 exactly"
    );
    assert!(marks(&mut c)
        .iter()
        .all(|(_, m)| *m == Some(revised_ns / 1000)));

    // Again: the safety lag fetches the last hour's rows again; nothing to write.
    for (t, fetched, _, updated, unchanged) in intraday(&mut c) {
        assert_eq!((fetched, updated, unchanged), (changed, 0, changed), "{t}");
    }

    // The same rows revised again, but back-dated: UPDATED_AT two hours after their
    // own day's CREATED_AT, behind the mark. The refresh cannot see them ...
    src.set_options(SyntheticOptions {
        revision: 2,
        ..opts.clone()
    });
    for (t, fetched, _, updated, _) in intraday(&mut c) {
        assert_eq!((fetched, updated), (0, 0), "{t}");
    }
    // ... the nightly window sync catches every one of them, and takes its mark from
    // what it read (today's revised rows: 08:00:00.123456789).
    for r in c
        .query("SELECT target, updated FROM bravo_sync(30)", &[])
        .unwrap()
    {
        assert_eq!(r.get::<_, i64>(1), changed, "{}", r.get::<_, String>(0));
    }
    let nightly_mark = created_us(today, 2 * 3_600_000_000_000 + 123_456_789);
    assert!(marks(&mut c).iter().all(|(_, m)| *m == Some(nightly_mark)));

    // The run log and the status.
    let triggers: Vec<(String, String)> = c
        .query(
            "SELECT trigger, status FROM bravo_sync_runs ORDER BY run_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let intraday_runs = triggers.iter().filter(|(t, _)| t == "intraday").count();
    assert_eq!(intraday_runs, 4, "{triggers:?}");
    assert!(
        triggers.iter().all(|(_, s)| s == "succeeded"),
        "{triggers:?}"
    );
    let s = c
        .query_one(
            "SELECT change_column, refreshes_from = high_water - interval '1 hour', last_run_status, last_success_at IS NOT NULL, schedule
               FROM bravo_intraday_status() WHERE family = 'impressions'",
            &[],
        )
        .unwrap();
    assert_eq!(s.get::<_, String>(0), "updated_at");
    assert!(s.get::<_, bool>(1));
    assert_eq!(s.get::<_, String>(2), "succeeded");
    assert!(s.get::<_, bool>(3));
    assert_eq!(s.get::<_, Option<String>>(4), None);
}

/// md5 of both metric tables' metric values, by key.
fn metrics_digest_of(c: &mut Client) -> String {
    c.query_one(
        "SELECT md5(coalesce((SELECT string_agg(format('%s|%s|%s|%s|%s', media_buy_id, date, impressions, clicks, spend), ',' ORDER BY media_buy_id, date) FROM platform_buy_daily_impressions), ''))
             || md5(coalesce((SELECT string_agg(format('%s|%s|%s|%s|%s', media_buy_id, date, video_starts, video_completions, video_views), ',' ORDER BY media_buy_id, date) FROM platform_buy_daily_videos), ''))",
        &[],
    )
    .unwrap()
    .get(0)
}

/// The same digest of what the double serves at `revision` (loaded into a scratch
/// cluster by a window sync).
fn digest_of_revision(
    src: &SyntheticSource,
    opts: &SyntheticOptions,
    revision: u32,
    revised_ns: i64,
) -> String {
    let shown = src.options();
    src.set_options(SyntheticOptions {
        revision,
        revised_at_ns: Some(revised_ns),
        ..opts.clone()
    });
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), opts.media_buys as i64, 10);
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    src.set_options(shown);
    metrics_digest_of(&mut c)
}

#[test]
fn a_refresh_that_fails_changes_nothing_and_families_without_a_change_column_are_explained() {
    let today = Utc::now().date_naive();
    let opts = SyntheticOptions {
        media_buys: 100,
        days: 10,
        end_date: today,
        changed_pct: 5,
        ..Default::default()
    };
    let src = SyntheticSource::start(opts.clone());
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 100, 5);
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    let marks_before = marks(&mut c);
    let digest = metrics_digest_of(&mut c);
    assert!(
        marks_before.iter().all(|(_, m)| m.is_some()),
        "a window sync keeps marks"
    );

    // Impressions have revised rows; the videos' change column is not in the source:
    // the refresh fails with a clear error, and the impressions it had merged and their
    // new mark roll back with it.
    src.set_options(SyntheticOptions {
        revision: 1,
        revised_at_ns: Some(Utc::now().timestamp_nanos_opt().unwrap() + 86_400_000_000_000),
        ..opts.clone()
    });
    c.batch_execute(
        "UPDATE bravo_families SET change_column = 'loaded_at' WHERE family = 'videos'",
    )
    .unwrap();
    let e = c
        .query("SELECT * FROM bravo_sync_intraday()", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "HV005", "{}", db_message(&e));
    assert!(db_message(&e).contains("change column \"LOADED_AT\" of metric family \"videos\""));
    let hint = e
        .as_db_error()
        .and_then(|d| d.hint())
        .unwrap_or_default()
        .to_string();
    assert!(hint.contains("SET change_column"), "{hint}");
    assert_eq!(metrics_digest_of(&mut c), digest);
    assert_eq!(marks(&mut c)[0], marks_before[0]);
    let status: String = c
        .query_one(
            "SELECT status FROM bravo_sync_runs WHERE trigger = 'intraday' ORDER BY run_id DESC LIMIT 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(status, "failed");
    // A window sync does without the missing change column (no mark for videos).
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();

    // A family with no change column is left to bravo_sync (with a NOTICE); none at all
    // is an error that says what to do.
    c.batch_execute("UPDATE bravo_families SET change_column = NULL WHERE family = 'videos'")
        .unwrap();
    let rows = intraday(&mut c);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "impressions");
    c.batch_execute("UPDATE bravo_families SET change_column = NULL")
        .unwrap();
    let e = c
        .query("SELECT * FROM bravo_sync_intraday()", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "55000", "{}", db_message(&e));
    assert!(db_message(&e).contains("no enabled daily metric family has a change column"));
    // Bad arguments.
    let e = c
        .query("SELECT * FROM bravo_sync_intraday(0)", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023");
}

#[test]
fn against_fakesnow_the_filter_runs_in_its_sql_engine() {
    let src = Source::start();
    src.fill(20, 5);
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 20, 4);
    // No safety lag here: every filled row has the same UPDATED_AT (the fill's instant).
    c.batch_execute("ALTER DATABASE media_tool SET bravo_metrics.intraday_safety_lag = 0")
        .unwrap();
    let mut c = pg.client("media_tool");
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();

    // One row revised now; one revised behind the mark (back-dated a day).
    src.sql(&[
        "UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET impressions = 777777, updated_at = dateadd(second, 5, updated_at) WHERE media_buy_id = 3 AND date = current_date",
        "UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET impressions = 555555, updated_at = dateadd(day, -1, updated_at) WHERE media_buy_id = 4 AND date = current_date",
    ]);
    let rows = intraday(&mut c);
    assert_eq!(
        rows,
        vec![
            ("impressions".to_string(), 1, 0, 1, 0),
            ("videos".to_string(), 0, 0, 0, 0)
        ]
    );
    let imps = |c: &mut Client, buy: i64| -> i64 {
        c.query_one(
            "SELECT impressions FROM platform_buy_daily_impressions WHERE media_buy_id = $1 AND date = current_date",
            &[&buy],
        )
        .unwrap()
        .get(0)
    };
    assert_eq!(imps(&mut c, 3), 777777);
    assert_ne!(imps(&mut c, 4), 555555, "behind the mark: not seen yet");
    let r = c
        .query_one(
            "SELECT updated FROM bravo_sync(30) WHERE target = 'impressions'",
            &[],
        )
        .unwrap();
    assert_eq!(
        r.get::<_, i64>(0),
        1,
        "the nightly catches the back-dated row"
    );
    assert_eq!(imps(&mut c, 4), 555555);
}

/// While a refresh that skips a family (no change column) runs, bravo_sync_progress
/// names the family being synced (by its place among the enabled families).
#[test]
fn the_progress_view_names_the_family_a_refresh_is_on() {
    let opts = SyntheticOptions {
        media_buys: 200,
        days: 31,
        end_date: Utc::now().date_naive(),
        chunk_rows: 500,
        inline_rows: 100,
        slow_chunk: Some(std::time::Duration::from_millis(700)),
        slow_after_chunks: 1,
        ..Default::default()
    };
    let src = SyntheticSource::start(opts);
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 200, 4);
    c.batch_execute("UPDATE bravo_families SET change_column = NULL WHERE family = 'impressions'")
        .unwrap();
    // No mark yet for videos: its whole window, in slow chunks.
    let run = std::thread::spawn(move || {
        c.query("SELECT target FROM bravo_sync_intraday()", &[])
            .map(|rows| {
                rows.iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect::<Vec<_>>()
            })
    });
    let mut watch = pg.client("media_tool");
    let target: String = wait_for(
        std::time::Duration::from_secs(30),
        "the refresh fetching",
        || {
            watch
                .query_opt(
                    "SELECT target FROM bravo_sync_progress WHERE phase = 'fetching' AND fetched > 0",
                    &[],
                )
                .unwrap()
                .and_then(|r| r.get::<_, Option<String>>(0))
        },
    );
    assert_eq!(target, "videos");
    assert_eq!(run.join().unwrap().unwrap(), vec!["videos".to_string()]);
}
