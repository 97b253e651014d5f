//! Hourly sync benchmark (issue 12; not a timed test): bravo_sync_hourly against the
//! fast local Snowflake-format Arrow source (the synthetic double, HOUR_START as
//! TIMESTAMP_LTZ), side by side with baselines measured in the same run on the same
//! cluster:
//!
//! * first load of `BENCH_MEDIA_BUYS` (default 10,000) media buys x 24 hours x 7 days
//!   (1.68 M rows per hourly table, both shipped hourly families) vs plain COPY of the
//!   same rows into the same (emptied) tables, in `BENCH_FIRST_LOAD_ROUNDS` (default 3)
//!   alternating rounds (target <= 1.1x COPY);
//! * re-sync with no change vs a naive INSERT ... ON CONFLICT DO UPDATE of the window
//!   (target >= 5x faster);
//! * peak backend memory (anonymous RSS, sampled every 5 ms) of a first load of a
//!   third of the media buys vs all of them (flat).
//!
//! The hourly rollup's triggers are active in every measurement (COPY and the upsert
//! fire them too). Run: `bash bench/hourly.sh` (installs a release build first).

#[path = "../tests/common/mod.rs"]
mod common;
mod helpers;

use std::time::Duration;

use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;
use helpers::{arg, cpu, measured, median, pid, timed};
use postgres::Client;

const TABLES: [&str; 2] = [
    "platform_buy_hourly_impressions",
    "platform_buy_hourly_videos",
];

fn opts(buys: u64) -> SyntheticOptions {
    SyntheticOptions {
        media_buys: buys,
        days: 7,
        end_date: chrono::Utc::now().date_naive(),
        chunk_rows: 100_000,
        inline_rows: 2_000,
        gzip: true,
        ..Default::default()
    }
}

/// One hourly sync of the 7 days: wall time, peak RssAnon kB, (fetched, inserted,
/// unchanged) summed over both families.
fn sync(c: &mut Client) -> (Duration, u64, (i64, i64, i64)) {
    let p = pid(c);
    let (row, took, peak) = measured(p, || {
        c.query_one(
            "SELECT sum(fetched)::bigint, sum(inserted)::bigint, sum(unchanged)::bigint FROM bravo_sync_hourly(6)",
            &[],
        )
        .unwrap_or_else(|e| panic!("sync: {}", db_message(&e)))
    });
    (took, peak, (row.get(0), row.get(1), row.get(2)))
}

fn empty(c: &mut Client) {
    c.batch_execute(&format!("TRUNCATE {}; CHECKPOINT", TABLES.join(", ")))
        .unwrap();
}

fn main() {
    let buys = arg("BENCH_MEDIA_BUYS", 10_000);
    let rows = (buys * 24 * 7) as i64;
    let pg = Cluster::start(ClusterOptions {
        preload: false,
        conf: vec![
            "shared_buffers = '1GB'".into(),
            "max_wal_size = '8GB'".into(),
            "checkpoint_timeout = '30min'".into(),
            "work_mem = '16MB'".into(),
            "maintenance_work_mem = '256MB'".into(),
        ],
    });
    let src = SyntheticSource::start(opts(buys));
    let mut c = pg.media_tool("media_tool", src.port(), buys as i64, 200);
    c.batch_execute(
        "SELECT bravo_enable_family('impressions_hourly'), bravo_enable_family('videos_hourly')",
    )
    .unwrap();
    println!(
        "bench: {buys} media buys x 24 hours x 7 days = {rows} rows per hourly table, 2 tables"
    );
    let dir = pg.dir.display().to_string();

    // First load vs COPY, alternating rounds.
    let n_rounds = arg("BENCH_FIRST_LOAD_ROUNDS", 3).max(1);
    let mut rounds = Vec::new();
    let mut first_mem = 0;
    for round in 0..n_rounds {
        empty(&mut c);
        let p = pid(&mut c);
        let cpu0 = cpu(p);
        let (first, mem, counts) = sync(&mut c);
        let first_cpu = cpu(p) - cpu0;
        assert_eq!(counts, (2 * rows, 2 * rows, 0), "first load");
        first_mem = first_mem.max(mem);
        if round == 0 {
            for t in TABLES {
                let short = t.trim_start_matches("platform_buy_hourly_");
                c.batch_execute(&format!(
                    "CREATE TABLE bench_src_{short} AS SELECT * FROM {t}; COPY {t} TO '{dir}/{short}.copy';"
                ))
                .unwrap();
            }
        }
        empty(&mut c);
        let cpu0 = cpu(p);
        let copy = timed(
            &mut c,
            &format!(
                "COPY platform_buy_hourly_impressions FROM '{dir}/impressions.copy'; COPY platform_buy_hourly_videos FROM '{dir}/videos.copy';"
            ),
        );
        let copy_cpu = cpu(p) - cpu0;
        rounds.push((first, first_cpu, copy, copy_cpu));
    }
    for t in TABLES {
        c.batch_execute(&format!("VACUUM ANALYZE {t}")).unwrap();
    }

    // Re-sync with no change vs the naive upsert of the same window.
    let (again, again_mem, counts) = sync(&mut c);
    assert_eq!(counts, (2 * rows, 0, 2 * rows), "re-sync");
    let naive = timed(
        &mut c,
        "INSERT INTO platform_buy_hourly_impressions (media_buy_id, hour_start, impressions, clicks, spend, created_at, updated_at)
           SELECT media_buy_id, hour_start, impressions, clicks, spend, now(), now() FROM bench_src_impressions
           ON CONFLICT (media_buy_id, hour_start) DO UPDATE SET impressions = EXCLUDED.impressions, clicks = EXCLUDED.clicks,
              spend = EXCLUDED.spend, updated_at = now();
         INSERT INTO platform_buy_hourly_videos (media_buy_id, hour_start, video_starts, video_completions, video_views, created_at, updated_at)
           SELECT media_buy_id, hour_start, video_starts, video_completions, video_views, now(), now() FROM bench_src_videos
           ON CONFLICT (media_buy_id, hour_start) DO UPDATE SET video_starts = EXCLUDED.video_starts,
              video_completions = EXCLUDED.video_completions, video_views = EXCLUDED.video_views, updated_at = now();",
    );

    // Memory: a first load of a third of the media buys.
    src.set_options(opts(buys / 3));
    empty(&mut c);
    let (_, small_mem, counts) = sync(&mut c);
    let small_rows = (buys / 3 * 24 * 7) as i64;
    assert_eq!(
        counts,
        (2 * small_rows, 2 * small_rows, 0),
        "small first load"
    );

    let secs = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    let first = Duration::from_secs_f64(median(rounds.iter().map(|r| r.0.as_secs_f64()).collect()));
    let copy = Duration::from_secs_f64(median(rounds.iter().map(|r| r.2.as_secs_f64()).collect()));
    let ratio = median(
        rounds
            .iter()
            .map(|r| r.0.as_secs_f64() / r.2.as_secs_f64())
            .collect(),
    );
    println!();
    println!("| measurement ({rows} rows per hourly table, 2 tables) | bravo_sync_hourly | baseline | ratio | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| first load vs plain COPY (median of {n_rounds} alternating rounds) | {} | {} (COPY) | {ratio:.2}x COPY | <= 1.1x |",
        secs(first),
        secs(copy)
    );
    println!(
        "| re-sync, no change, vs naive upsert | {} | {} (INSERT .. ON CONFLICT DO UPDATE) | {:.1}x faster | >= 5x |",
        secs(again),
        secs(naive),
        naive.as_secs_f64() / again.as_secs_f64()
    );
    println!();
    println!("| peak backend anonymous memory | rows per table | peak RssAnon |");
    println!("|---|---|---|");
    println!("| first load | {small_rows} | {} MB |", small_mem / 1024);
    println!("| first load | {rows} | {} MB |", first_mem / 1024);
    println!("| re-sync, no change | {rows} | {} MB |", again_mem / 1024);
    println!();
    println!("| first-load round | bravo_sync_hourly | its backend CPU | COPY | its backend CPU | ratio |");
    println!("|---|---|---|---|---|---|");
    for (i, (f, fc, cp, cc)) in rounds.iter().enumerate() {
        println!(
            "| {} | {} | {fc:.2} s | {} | {cc:.2} s | {:.2}x |",
            i + 1,
            secs(*f),
            secs(*cp),
            f.as_secs_f64() / cp.as_secs_f64()
        );
    }
}
