//! Intraday refresh benchmark (issue 14; not a timed test): `bravo_sync_intraday()`
//! (rows changed since the high-water mark) side by side with the full 30-day re-sync
//! it stands in for between nightly runs (`bravo_sync(30)`), in the same run on the
//! same cluster, against the loopback Snowflake-format Arrow source (the synthetic
//! double, which serves only rows whose UPDATED_AT is after the bound mark, as
//! Snowflake filters). Before each measurement `BENCH_CHANGED_PCT` (default 1) percent
//! of the window's rows are revised, with an UPDATED_AT after the mark, so both find
//! and update the same share. The target (issue 14): the refresh costs at most 10 % of
//! the re-sync.
//!
//! The tables hold `BENCH_MEDIA_BUYS` (default 50,000) buys x 31 days (1.55 M rows per
//! table, two tables), loaded first. `BENCH_ROUNDS` (default 3) alternating rounds.
//!
//! The floor (same run): after each refresh, the same rows are written once more with
//! nothing to find or compare, one `UPDATE … FROM` per table of exactly those keys
//! (each metric + 1), in a transaction rolled back afterwards: once with the rollups
//! kept as a sync keeps them (deferred, applied once per table), once as an
//! application's UPDATE keeps them (the trigger, per statement). A refresh that writes
//! the changed rows and keeps the rollups exact costs at least the first; the re-sync
//! writes the same rows too.
//!
//! Run: `bash bench/intraday.sh` (installs a release build first).

#[path = "../tests/common/mod.rs"]
mod common;
mod helpers;

use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;
use helpers::{arg, median, timed_sync as timed};

fn main() {
    let buys = arg("BENCH_MEDIA_BUYS", 50_000);
    let pct = arg("BENCH_CHANGED_PCT", 1) as u32;
    let pg = Cluster::start(ClusterOptions {
        preload: false,
        conf: vec![
            "shared_buffers = '1GB'".into(),
            "max_wal_size = '8GB'".into(),
            "checkpoint_timeout = '30min'".into(),
        ],
    });
    let base = SyntheticOptions {
        media_buys: buys,
        days: 31,
        end_date: chrono::Utc::now().date_naive(),
        chunk_rows: 100_000,
        inline_rows: 2_000,
        gzip: true,
        changed_pct: pct,
        ..Default::default()
    };
    let src = SyntheticSource::start(base.clone());
    let mut c = pg.media_tool(
        "media_tool",
        src.port(),
        buys as i64,
        (buys / 200).max(1) as i64,
    );
    let (load, rows, _) = timed(&mut c, "SELECT * FROM bravo_sync(30)");
    c.batch_execute("VACUUM ANALYZE").unwrap();
    c.batch_execute("CHECKPOINT").unwrap();
    let window = buys as i64 * 31 * 2;
    assert_eq!(rows, window);
    println!(
        "bench: {buys} media buys x 31 days ({rows} rows in both tables, loaded in {load:.1} s); {pct} % of the rows revised before each measurement"
    );
    println!(
        "round | bravo_sync_intraday(): s, rows fetched, updated | bravo_sync(30): s, rows fetched, updated | ratio | the same rows' writes alone, as a sync writes them | / re-sync | as an application's UPDATE | / re-sync"
    );
    // Each revision's changed rows carry an UPDATED_AT an hour after the previous one's,
    // two days ahead of now: always after the mark the last run kept.
    let revised = |revision: u32| {
        let at = chrono::Utc::now().date_naive() + chrono::Days::new(2);
        at.and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_nanos_opt()
            .unwrap()
            + i64::from(revision) * 3_600_000_000_000
    };
    let revise = |revision: u32| {
        src.set_options(SyntheticOptions {
            revision,
            revised_at_ns: Some(revised(revision)),
            ..base.clone()
        })
    };
    // One untimed re-sync of a first revision: the mark is then past the load's rows
    // (whose UPDATED_AT is today's 06:00, and within the safety lag of a mark there).
    revise(1);
    timed(&mut c, "SELECT * FROM bravo_sync(30)");
    let rounds = arg("BENCH_ROUNDS", 3).max(1) as u32;
    let (mut fast, mut full, mut floors, mut apps) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let expected = window * i64::from(pct) / 100;
    for round in 1..=rounds {
        revise(2 * round);
        let (r, r_rows, r_upd) = timed(&mut c, "SELECT * FROM bravo_sync_intraday()");
        let floor = writes_alone(&mut c, expected / 2, true);
        let app = writes_alone(&mut c, expected / 2, false);
        revise(2 * round + 1);
        let (f, f_rows, f_upd) = timed(&mut c, "SELECT * FROM bravo_sync(30)");
        assert_eq!(
            (r_rows, r_upd),
            (expected, expected),
            "the refresh fetches and updates the revised rows only"
        );
        assert_eq!((f_rows, f_upd), (window, expected));
        println!(
            "{round} | {r:.3} s, {r_rows}, {r_upd} | {f:.3} s, {f_rows}, {f_upd} | {:.3} | {floor:.3} s | {:.3} | {app:.3} s | {:.3}",
            r / f,
            floor / f,
            app / f
        );
        fast.push(r);
        full.push(f);
        floors.push(floor);
        apps.push(app);
    }
    let (m_fast, m_full) = (median(fast), median(full));
    let (m_floor, m_app) = (median(floors), median(apps));
    println!(
        "median: bravo_sync_intraday() {m_fast:.3} s, bravo_sync(30) {m_full:.3} s: {:.1} % of the re-sync (target <= 10 %); \
         the same rows' writes alone {m_floor:.3} s as a sync writes them ({:.1} % of the re-sync), \
         {m_app:.3} s as an application's UPDATE ({:.1} %)",
        100.0 * m_fast / m_full,
        100.0 * m_floor / m_full,
        100.0 * m_app / m_full
    );
}

/// Seconds to write the rows the last refresh wrote (per table, those with its
/// `updated_at`; `per_table` of them) once more, each metric + 1, in one `UPDATE … FROM`
/// per table, then rolled back. `deferred`: with the rollup maintenance deferred and
/// applied once per table, exactly as a sync writes (`_bravo_rollup_defer` /
/// `_bravo_rollup_flush`); otherwise as an application's UPDATE (the rollup trigger
/// applies the statement's change).
fn writes_alone(c: &mut postgres::Client, per_table: i64, deferred: bool) -> f64 {
    let tables = [
        ("platform_buy_daily_impressions", "impressions = t.impressions + 1, clicks = t.clicks + 1, spend = t.spend + 0.01"),
        ("platform_buy_daily_videos", "video_starts = t.video_starts + 1, video_completions = t.video_completions + 1, video_views = t.video_views + 1"),
    ];
    for (t, _) in tables {
        c.batch_execute(&format!(
            "DROP TABLE IF EXISTS bench_keys_{t}; \
             CREATE TEMP TABLE bench_keys_{t} AS SELECT media_buy_id, date FROM {t} \
              WHERE updated_at = (SELECT max(updated_at) FROM {t}); ANALYZE bench_keys_{t}"
        ))
        .unwrap();
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM bench_keys_{t}"), &[])
            .unwrap()
            .get(0);
        assert_eq!(n, per_table, "{t}: the rows the refresh wrote");
    }
    // Each key looked up in the primary key, as the refresh does (not a hash join
    // reading the whole table).
    c.batch_execute("BEGIN; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
        .unwrap();
    let t0 = std::time::Instant::now();
    for (t, set) in tables {
        if deferred {
            let on: bool = c
                .query_one(
                    // No first day: a re-sync's deltas all go through the pending table.
                    &format!("SELECT bravo._bravo_rollup_defer('{t}'::regclass, NULL)"),
                    &[],
                )
                .unwrap()
                .get(0);
            assert!(on);
        }
        let n = c
            .execute(
                &format!(
                    "UPDATE {t} t SET {set}, updated_at = now() FROM bench_keys_{t} k \
                      WHERE t.media_buy_id = k.media_buy_id AND t.date = k.date"
                ),
                &[],
            )
            .unwrap();
        assert_eq!(n as i64, per_table);
        if deferred {
            c.execute(
                &format!("SELECT bravo._bravo_rollup_flush('{t}'::regclass, NULL)"),
                &[],
            )
            .unwrap();
            let pending: bool = c
                .query_one(
                    &format!("SELECT bravo._bravo_rollup_pending('{t}'::regclass) IS NOT NULL"),
                    &[],
                )
                .unwrap()
                .get(0);
            assert!(
                !pending,
                "{t}: the flush applied and dropped the deferred rows"
            );
        }
    }
    let took = t0.elapsed().as_secs_f64();
    c.batch_execute("ROLLBACK").unwrap();
    // The rolled-back versions would take the room the next round's updates use.
    for t in [
        "platform_buy_daily_impressions",
        "platform_buy_daily_videos",
        "bravo.bravo_campaign_rollup",
        "bravo.bravo_media_buy_rollup",
    ] {
        c.batch_execute(&format!("VACUUM {t}")).unwrap();
    }
    took
}
