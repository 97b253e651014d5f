//! Metric families benchmark (not a timed test): the per-row cost of syncing the
//! conversions and viewability families next to the per-row cost of an impressions
//! sync, measured in the same run on the same cluster against the same fast local
//! Snowflake-format Arrow source (the synthetic double), in `BENCH_ROUNDS` (default 3)
//! alternating rounds:
//!
//! * A: impressions only (1 family, `BENCH_MEDIA_BUYS` x 30 days rows);
//! * B: conversions + viewability (2 families, twice the rows);
//!
//! each as a first load into empty tables and as a re-sync with no change. The target
//! (issue 11): B's cost per row at most 1.2x A's. The rollup triggers run in both (the
//! new families feed the same rollups).
//!
//! Run: `bash bench/families.sh` (installs a release build first).

#[path = "../tests/common/mod.rs"]
mod common;
mod helpers;

use std::time::{Duration, Instant};

use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;
use helpers::{arg, cpu, median};
use postgres::Client;

/// One sync: wall time, backend CPU, rows fetched, rows inserted.
fn sync(c: &mut Client) -> (Duration, f64, i64, i64) {
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let cpu0 = cpu(pid);
    let t0 = Instant::now();
    let rows = c
        .query(
            "SELECT sum(fetched)::bigint, sum(inserted)::bigint FROM bravo_sync(30)",
            &[],
        )
        .unwrap_or_else(|e| panic!("sync: {}", db_message(&e)));
    let took = t0.elapsed();
    (took, cpu(pid) - cpu0, rows[0].get(0), rows[0].get(1))
}

const ALL: &str = "platform_buy_daily_impressions, platform_buy_daily_videos, \
                   platform_buy_daily_conversions, platform_buy_daily_viewability";

/// Enables exactly `families`, empties every metric table, and loads then re-syncs.
/// Returns (first load, re-sync) as (seconds, backend CPU seconds), and the rows.
fn run(c: &mut Client, families: &[&str], rows: i64) -> ((f64, f64), (f64, f64)) {
    let list = families
        .iter()
        .map(|f| format!("'{f}'"))
        .collect::<Vec<_>>()
        .join(", ");
    c.batch_execute(&format!(
        "UPDATE bravo_families SET enabled = family IN ({list}); TRUNCATE {ALL}; CHECKPOINT"
    ))
    .unwrap();
    let (first, first_cpu, fetched, inserted) = sync(c);
    assert_eq!((fetched, inserted), (rows, rows), "first load of {list}");
    let (again, again_cpu, fetched, inserted) = sync(c);
    assert_eq!((fetched, inserted), (rows, 0), "re-sync of {list}");
    (
        (first.as_secs_f64(), first_cpu),
        (again.as_secs_f64(), again_cpu),
    )
}

fn main() {
    let buys = arg("BENCH_MEDIA_BUYS", 50_000);
    let per_table = (buys * 30) as i64;
    let pg = Cluster::start(ClusterOptions {
        preload: false,
        conf: vec![
            "shared_buffers = '1GB'".into(),
            "max_wal_size = '8GB'".into(),
            "checkpoint_timeout = '30min'".into(),
            "work_mem = '16MB'".into(),
        ],
    });
    let src = SyntheticSource::start(SyntheticOptions {
        media_buys: buys,
        days: 30,
        end_date: chrono::Utc::now().date_naive(),
        chunk_rows: 100_000,
        inline_rows: 2_000,
        gzip: true,
        ..Default::default()
    });
    let mut c = pg.media_tool("media_tool", src.port(), buys as i64, 200);
    c.batch_execute(
        "SELECT bravo_enable_family('conversions'); SELECT bravo_enable_family('viewability');",
    )
    .unwrap();
    println!("bench: {buys} media buys x 30 days = {per_table} rows per table");
    println!(
        "round | A impressions: first load s (CPU s), us/row | B conversions + viewability: first load s (CPU s), us/row | B/A per row | A re-sync us/row | B re-sync us/row | B/A"
    );
    let rounds = arg("BENCH_ROUNDS", 3).max(1);
    let (mut first_ratios, mut again_ratios) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let (a_first, a_again) = run(&mut c, &["impressions"], per_table);
        let (b_first, b_again) = run(&mut c, &["conversions", "viewability"], 2 * per_table);
        let us = |s: f64, n: i64| s * 1e6 / n as f64;
        let (a_row, b_row) = (us(a_first.0, per_table), us(b_first.0, 2 * per_table));
        let (a_again_row, b_again_row) = (us(a_again.0, per_table), us(b_again.0, 2 * per_table));
        first_ratios.push(b_row / a_row);
        again_ratios.push(b_again_row / a_again_row);
        println!(
            "{round} | {:.2} s ({:.2}), {a_row:.2} | {:.2} s ({:.2}), {b_row:.2} | {:.2}x | {a_again_row:.2} | {b_again_row:.2} | {:.2}x",
            a_first.0,
            a_first.1,
            b_first.0,
            b_first.1,
            b_row / a_row,
            b_again_row / a_again_row
        );
    }
    println!(
        "median: first load B/A per row {:.2}x, re-sync B/A per row {:.2}x (target <= 1.2x)",
        median(first_ratios),
        median(again_ratios)
    );
}
