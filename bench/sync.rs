//! Sync benchmark (not a timed test): bravo_sync against a fast local Snowflake-format
//! Arrow source (the synthetic double), side by side with baselines measured in the
//! same run on the same cluster:
//!
//! * first load of 50,000 media buys x 30 days (1.5 M rows per table) vs plain COPY of
//!   the same rows into the same (emptied) tables, in `BENCH_FIRST_LOAD_ROUNDS`
//!   (default 7: one round's ratio spreads over ±15 % on this VM) alternating rounds
//!   after `BENCH_WARMUP` (default 1) untimed ones, with each one's backend CPU;
//! * re-sync with no change, and with 3 % of rows changed, vs a naive
//!   INSERT ... ON CONFLICT DO UPDATE of the whole window;
//! * peak backend memory (anonymous RSS, sampled every 5 ms) at 0.5 M vs 1.5 M rows;
//! * the same first load end to end against fakesnow;
//! * re-syncs (no change, 3 % changed) of the same window in tables that keep
//!   `BENCH_HISTORY_DAYS` (default 400) days of history, 20 M rows per table, side by
//!   side with the same re-sync of a window-only table (measured right after it, in
//!   `BENCH_HISTORY_ROUNDS` (default 3) alternating rounds) and with the naive upsert
//!   at that history size.
//!
//! Run: `bash bench/sync.sh` (installs a release build first).

#[path = "../tests/common/mod.rs"]
mod common;
mod helpers;

use std::time::Duration;

use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;
use helpers::{arg, cpu, measured, median, pid, timed};
use postgres::Client;

const TABLES: [&str; 2] = [
    "platform_buy_daily_impressions",
    "platform_buy_daily_videos",
];

fn opts(buys: u64) -> SyntheticOptions {
    SyntheticOptions {
        media_buys: buys,
        days: 30,
        end_date: chrono::Utc::now().date_naive(),
        chunk_rows: 100_000,
        inline_rows: 2_000,
        gzip: true,
        ..Default::default()
    }
}

/// (target, fetched, inserted, updated, unchanged)
type Counts = Vec<(String, i64, i64, i64, i64)>;

fn sync(c: &mut Client) -> (Duration, u64, Counts) {
    let p = pid(c);
    let (rows, took, peak) = measured(p, || {
        c.query(
            "SELECT target, fetched, inserted, updated, unchanged FROM bravo_sync(30)",
            &[],
        )
        .unwrap_or_else(|e| panic!("sync: {}", db_message(&e)))
    });
    let counts = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    (took, peak, counts)
}

fn naive_upsert(c: &mut Client) -> Duration {
    timed(
        c,
        "INSERT INTO platform_buy_daily_impressions (media_buy_id, date, impressions, clicks, spend, created_at, updated_at)
           SELECT media_buy_id, date, impressions, clicks, spend, now(), now() FROM bench_src_impressions
           ON CONFLICT (media_buy_id, date) DO UPDATE SET impressions = EXCLUDED.impressions, clicks = EXCLUDED.clicks,
              spend = EXCLUDED.spend, updated_at = now();
         INSERT INTO platform_buy_daily_videos (media_buy_id, date, video_starts, video_completions, video_views, created_at, updated_at)
           SELECT media_buy_id, date, video_starts, video_completions, video_views, now(), now() FROM bench_src_videos
           ON CONFLICT (media_buy_id, date) DO UPDATE SET video_starts = EXCLUDED.video_starts,
              video_completions = EXCLUDED.video_completions, video_views = EXCLUDED.video_views, updated_at = now();",
    )
}

fn vacuum(c: &mut Client) {
    for t in TABLES {
        c.batch_execute(&format!("VACUUM ANALYZE {t}")).unwrap();
    }
}

/// Fills both tables of `c` with `buys` media buys for the days `from` ..= `to` before
/// today, oldest day first (as daily syncs append them: the heap is in date order).
fn fill_history(c: &mut Client, buys: u64, from: u32, to: u32) -> Duration {
    timed(
        c,
        &format!(
            "INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions, clicks, spend, created_at, updated_at)
               SELECT current_date - d, b, 1000 + b + d, 10 + d % 50, (b % 1000)::numeric / 100, now(), now()
                 FROM generate_series({to}, {from}, -1) d CROSS JOIN LATERAL generate_series(1, {buys} + 0 * d) b;
             INSERT INTO platform_buy_daily_videos (date, media_buy_id, video_starts, video_completions, video_views, created_at, updated_at)
               SELECT current_date - d, b, 500 + b, 200 + d, 300 + b % 13, now(), now()
                 FROM generate_series({to}, {from}, -1) d CROSS JOIN LATERAL generate_series(1, {buys} + 0 * d) b;"
        ),
    )
}

/// The window of the tables of `c` as the naive upsert's source (`bench_src_*`).
fn snapshot_window(c: &mut Client) {
    for t in TABLES {
        let short = t.trim_start_matches("platform_buy_daily_");
        c.batch_execute(&format!(
            "DROP TABLE IF EXISTS bench_src_{short}; CREATE TABLE bench_src_{short} AS SELECT * FROM {t} WHERE date >= current_date - 30"
        ))
        .unwrap();
    }
}

fn assert_counts(counts: &Counts, updated: u64, unchanged: u64) {
    for (t, _, inserted, u, n) in counts {
        assert_eq!(
            (*inserted, *u, *n),
            (0, updated as i64, unchanged as i64),
            "{t}"
        );
    }
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    let buys = arg("BENCH_MEDIA_BUYS", 50_000);
    let small = buys / 3;
    let rows = buys * 30;
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
    println!("bench: {buys} media buys x 30 days = {rows} rows per table, 2 tables");

    // 1-2. First load vs COPY of the same rows into the same (emptied) tables, in
    // alternating rounds (this VM's speed drifts between minutes; the median of the
    // paired ratios is reported). Backend CPU (all threads of the backend process,
    // the network runtime included) is read from /proc for each.
    let dir = pg.dir.display().to_string();
    let n_rounds = arg("BENCH_FIRST_LOAD_ROUNDS", 7).max(1);
    // Untimed warm-up rounds first (`BENCH_WARMUP`, default 1; printed, not counted):
    // the first load after the server starts pays the kernel's zeroing of every page of
    // shared memory it touches for the first time (about 1 s here, `clear_page_erms`
    // under `shmem_fault` in perf), which COPY, writing through a 16 MB ring of
    // buffers, hardly does. A running server has touched its buffers long before.
    let warmup = arg("BENCH_WARMUP", 1) as usize;
    let mut rounds = Vec::new();
    let mut first_mem = 0;
    for round in 0..n_rounds + warmup as u64 {
        c.batch_execute(
            "TRUNCATE platform_buy_daily_impressions, platform_buy_daily_videos; CHECKPOINT",
        )
        .unwrap();
        let p = pid(&mut c);
        let cpu0 = cpu(p);
        let (first, mem, counts) = sync(&mut c);
        let first_cpu = cpu(p) - cpu0;
        for (t, fetched, inserted, _, _) in &counts {
            assert_eq!((*fetched, *inserted), (rows as i64, rows as i64), "{t}");
        }
        first_mem = first_mem.max(mem);
        if round == 0 {
            for t in TABLES {
                let short = t.trim_start_matches("platform_buy_daily_");
                c.batch_execute(&format!(
                    "CREATE TABLE bench_src_{short} AS SELECT * FROM {t}; COPY {t} TO '{dir}/{short}.copy';"
                ))
                .unwrap();
            }
        }
        c.batch_execute(
            "TRUNCATE platform_buy_daily_impressions, platform_buy_daily_videos; CHECKPOINT",
        )
        .unwrap();
        let cpu0 = cpu(p);
        let copy = timed(
            &mut c,
            &format!(
                "COPY platform_buy_daily_impressions FROM '{dir}/impressions.copy'; COPY platform_buy_daily_videos FROM '{dir}/videos.copy';"
            ),
        );
        let copy_cpu = cpu(p) - cpu0;
        rounds.push((first, first_cpu, copy, copy_cpu));
    }
    vacuum(&mut c);
    let warmups = rounds.drain(..warmup).collect::<Vec<_>>();
    let first = Duration::from_secs_f64(median(rounds.iter().map(|r| r.0.as_secs_f64()).collect()));
    let copy = Duration::from_secs_f64(median(rounds.iter().map(|r| r.2.as_secs_f64()).collect()));
    let first_ratio = median(
        rounds
            .iter()
            .map(|r| r.0.as_secs_f64() / r.2.as_secs_f64())
            .collect(),
    );

    // 3. Re-sync with no change vs naive upsert.
    let (nochange, nochange_mem, counts) = sync(&mut c);
    assert_counts(&counts, 0, rows);
    let naive_nochange = naive_upsert(&mut c);
    vacuum(&mut c);

    // 4. Re-sync with 3 % changed vs naive upsert (which writes 3 % back, and every row).
    src.set_options(SyntheticOptions {
        revision: 1,
        changed_pct: 3,
        ..opts(buys)
    });
    let (changed, changed_mem, counts) = sync(&mut c);
    for (t, _, _, updated, _) in &counts {
        assert_eq!(*updated, (rows * 3 / 100) as i64, "{t}");
    }
    vacuum(&mut c);
    let naive_changed = naive_upsert(&mut c);

    // 5. Memory at a third of the window, in a fresh database.
    let src_small = SyntheticSource::start(opts(small));
    let mut s = pg.media_tool("media_small", src_small.port(), small as i64, 200);
    let (small_first, small_mem, _) = sync(&mut s);

    // 6. End to end against fakesnow (real emulator; its own DuckDB + Arrow export included).
    let fs_buys = arg("BENCH_FAKESNOW_BUYS", buys);
    let fs = Source::start();
    fs.sql(&[
        &format!("INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS SELECT dateadd(day, -d.range, current_date), b.range, 1000 + b.range + d.range, 10 + d.range, (b.range % 100000)::number(18,2) / 100, current_timestamp, current_timestamp FROM range(1, {}) b, range(0, 30) d", fs_buys + 1),
        &format!("INSERT INTO PLATFORM_BUY_DAILY_VIDEOS SELECT dateadd(day, -d.range, current_date), b.range, 500 + b.range, 200 + d.range, 300, current_timestamp, current_timestamp FROM range(1, {}) b, range(0, 30) d", fs_buys + 1),
    ]);
    let mut f = pg.media_tool("media_fakesnow", fs.port(), fs_buys as i64, 200);
    f.batch_execute(
        "ALTER DATABASE media_fakesnow SET bravo_metrics.snowflake_request_timeout = 600",
    )
    .unwrap();
    drop(f);
    let mut f = pg.client("media_fakesnow");
    let (fs_first, fs_mem, _) = sync(&mut f);

    // 7. History: the same window in tables that keep years, vs a window-only table.
    let history_days = arg("BENCH_HISTORY_DAYS", 400) as u32;
    let history = (history_days > 30).then(|| {
        // The naive upsert of step 4 wrote revision 0 back: merge revision 1 again so
        // that the window-only table is in step with its source.
        let (_, _, counts) = sync(&mut c);
        assert_counts(&counts, rows * 3 / 100, rows - rows * 3 / 100);
        vacuum(&mut c);
        let src_h = SyntheticSource::start(opts(buys));
        let mut h = pg.media_tool("media_history", src_h.port(), buys as i64, 200);
        let fill = fill_history(&mut h, buys, 31, history_days);
        // (Date first: the window is written day by day, after the older days.)
        let (h_first, _, counts) = sync(&mut h);
        for (t, _, inserted, _, _) in &counts {
            assert_eq!(*inserted, rows as i64, "{t}");
        }
        println!(
            "bench: history tables filled with {history_days} days in {}; the window's first load into them took {}",
            secs(fill),
            secs(h_first)
        );
        let total: i64 = h
            .query_one("SELECT count(*) FROM platform_buy_daily_impressions", &[])
            .unwrap()
            .get(0);
        vacuum(&mut h);
        snapshot_window(&mut h);
        // A fresh session: the fill's after-trigger queue (one foreign-key check per
        // row) grew this backend's heap, which glibc keeps; the syncs' memory is
        // measured on their own.
        drop(h);
        let mut h = pg.client("media_history");
        // Alternating rounds (this VM's speed drifts between minutes; one pair of
        // measurements can land on either side): the history table, then the
        // window-only one, back to back. No change: both sources at the revision
        // already merged (the history source at 0, the window-only one at 1).
        let h_rounds = arg("BENCH_HISTORY_ROUNDS", 3).max(1) as u32;
        let mut nochange = Vec::new();
        let mut h_nochange_mem = 0;
        for _ in 0..h_rounds {
            let (h_took, mem, counts) = sync(&mut h);
            assert_counts(&counts, 0, rows);
            h_nochange_mem = h_nochange_mem.max(mem);
            let (w_took, _, counts) = sync(&mut c);
            assert_counts(&counts, 0, rows);
            nochange.push((h_took, w_took));
        }
        let h_naive_nochange = naive_upsert(&mut h);
        vacuum(&mut h);
        vacuum(&mut c);
        // 3 % changed: each round moves both sources one revision on, which changes
        // the same 3 % of rows again (history: revisions 1, 2, ...; window-only: 2,
        // 3, ...); the dead row versions are vacuumed between rounds, untimed.
        let mut changed = Vec::new();
        let mut h_changed_mem = 0;
        for k in 0..h_rounds {
            src_h.set_options(SyntheticOptions {
                revision: 1 + k,
                changed_pct: 3,
                ..opts(buys)
            });
            src.set_options(SyntheticOptions {
                revision: 2 + k,
                changed_pct: 3,
                ..opts(buys)
            });
            let (h_took, mem, counts) = sync(&mut h);
            assert_counts(&counts, rows * 3 / 100, rows - rows * 3 / 100);
            h_changed_mem = h_changed_mem.max(mem);
            let (w_took, _, counts) = sync(&mut c);
            assert_counts(&counts, rows * 3 / 100, rows - rows * 3 / 100);
            changed.push((h_took, w_took));
            vacuum(&mut h);
            vacuum(&mut c);
        }
        let h_naive_changed = naive_upsert(&mut h);
        (
            total,
            fill,
            [
                (nochange, h_naive_nochange, h_nochange_mem),
                (changed, h_naive_changed, h_changed_mem),
            ],
        )
    });

    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!();
    println!("| measurement ({rows} rows per table, 2 tables) | bravo_sync | baseline | ratio | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| first load vs plain COPY (median of {n_rounds} alternating rounds) | {} | {} (COPY) | {:.2}x COPY | <= 1.0x |",
        secs(first),
        secs(copy),
        first_ratio
    );
    println!("| re-sync, no change, vs naive upsert | {} | {} (INSERT .. ON CONFLICT DO UPDATE) | {:.1}x faster | >= 3x |", secs(nochange), secs(naive_nochange), ratio(naive_nochange, nochange));
    println!("| re-sync, 3 % changed, vs naive upsert | {} | {} (INSERT .. ON CONFLICT DO UPDATE) | {:.1}x faster | >= 3x |", secs(changed), secs(naive_changed), ratio(naive_changed, changed));
    println!();
    println!("| peak backend anonymous memory | rows per table | peak RssAnon |");
    println!("|---|---|---|");
    println!(
        "| first load | {} | {} MB ({} s) |",
        small * 30,
        small_mem / 1024,
        small_first.as_secs()
    );
    println!("| first load | {rows} | {} MB |", first_mem / 1024);
    println!(
        "| re-sync, no change | {rows} | {} MB |",
        nochange_mem / 1024
    );
    println!(
        "| re-sync, 3 % changed | {rows} | {} MB |",
        changed_mem / 1024
    );
    println!();
    println!(
        "| end to end against fakesnow 0.12.1 | {} rows per table | {} | {:.0} rows/s | peak {} MB |",
        fs_buys * 30,
        secs(fs_first),
        (2 * fs_buys * 30) as f64 / fs_first.as_secs_f64(),
        fs_mem / 1024
    );
    println!();
    println!(
        "| first-load round | bravo_sync | its backend CPU | COPY | its backend CPU | ratio |"
    );
    println!("|---|---|---|---|---|---|");
    for (i, (f, fc, cp, cc)) in warmups.iter().enumerate() {
        println!(
            "| warm-up {} (not counted) | {} | {fc:.2} s | {} | {cc:.2} s | {:.2}x |",
            i + 1,
            secs(*f),
            secs(*cp),
            ratio(*f, *cp)
        );
    }
    for (i, (f, fc, cp, cc)) in rounds.iter().enumerate() {
        println!(
            "| {} | {} | {fc:.2} s | {} | {cc:.2} s | {:.2}x |",
            i + 1,
            secs(*f),
            secs(*cp),
            ratio(*f, *cp)
        );
    }
    if let Some((total, fill, [nochange, changed])) = history {
        let med = |v: &[(Duration, Duration)], f: fn(&(Duration, Duration)) -> f64| {
            median(v.iter().map(f).collect())
        };
        println!();
        println!(
            "| re-sync of the 30-day window, {history_days} days of history ({total} rows per table, 2 tables; filled in {}), medians of {} alternating rounds | history table | window-only table ({rows} rows) | ratio, median of the rounds' (target <= 1.3x) | naive upsert at history size | faster than naive (target >= 5x) | peak RssAnon |",
            secs(fill),
            nochange.0.len()
        );
        println!("|---|---|---|---|---|---|---|");
        for (name, (pairs, naive, mem)) in [("no change", &nochange), ("3 % changed", &changed)] {
            let h = med(pairs, |p| p.0.as_secs_f64());
            println!(
                "| {name} | {h:.2} s | {:.2} s | {:.2}x | {} | {:.1}x | {} MB |",
                med(pairs, |p| p.1.as_secs_f64()),
                med(pairs, |p| p.0.as_secs_f64() / p.1.as_secs_f64()),
                secs(*naive),
                naive.as_secs_f64() / h,
                mem / 1024
            );
        }
        println!();
        println!("| history round | no change: history | window-only | ratio | 3 % changed: history | window-only | ratio |");
        println!("|---|---|---|---|---|---|---|");
        for (i, (n, ch)) in nochange.0.iter().zip(&changed.0).enumerate() {
            println!(
                "| {} | {} | {} | {:.2}x | {} | {} | {:.2}x |",
                i + 1,
                secs(n.0),
                secs(n.1),
                ratio(n.0, n.1),
                secs(ch.0),
                secs(ch.1),
                ratio(ch.0, ch.1)
            );
        }
    }
}
