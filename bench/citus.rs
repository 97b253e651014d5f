//! Scale-out benchmark (issue 16; not a timed test): the same syncs and reports on a
//! single node and on a real Citus 13.2.2 cluster (a coordinator and two workers,
//! three PostgreSQL 15 clusters on this machine, tests/common/citus.rs), at the same
//! size, in the same run, against the loopback Snowflake-format Arrow source (the
//! synthetic double). On one machine Citus can only add overhead (three servers share
//! its cores, and every write and report crosses loopback connections); the point is
//! what it costs, and a paper estimate, from the measured rates, of the nodes 480 M
//! rows per table need.
//!
//! Sizes: `BENCH_MEDIA_BUYS` (default 20,000) buys x 31 days per table (two tables),
//! campaigns of 200 buys, `BENCH_SHARDS` (8) shards per table, `BENCH_ROUNDS` (3)
//! alternating rounds of a 3 % re-sync, a re-sync with no change, and the reports
//! (`bravo_campaign_totals`, `bravo_campaign_daily` over 31 days and
//! `bravo_media_buy_totals` of `BENCH_CAMPAIGNS` (20) campaigns).
//!
//! Run: `bash bench/citus.sh` (installs a release build and Citus first).

#[path = "../tests/common/mod.rs"]
mod common;
mod helpers;

use std::time::Instant;

use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::citus::CitusCluster;
use common::*;
use helpers::{arg, median, timed_sync};
use postgres::Client;

const CONF: &[&str] = &[
    "shared_buffers = '512MB'",
    "max_wal_size = '8GB'",
    "checkpoint_timeout = '30min'",
];

/// Seconds for the reports of campaigns 1..=n, and their rows as text (the two
/// layouts must agree).
fn reports(c: &mut Client, n: i64) -> (f64, Vec<String>) {
    let mut out = Vec::new();
    let t0 = Instant::now();
    for id in 1..=n {
        for q in [
            // (last_sync_at differs between the two databases by design)
            format!(
                "SELECT (to_jsonb(t) - 'last_sync_at')::text FROM bravo_campaign_totals({id}) t"
            ),
            format!(
                "SELECT t::text FROM bravo_campaign_daily({id}, current_date - 30, current_date) t"
            ),
            format!("SELECT t::text FROM bravo_media_buy_totals({id}) t"),
        ] {
            for r in c
                .query(&q, &[])
                .unwrap_or_else(|e| panic!("{q}: {}", db_message(&e)))
            {
                out.push(r.get(0));
            }
        }
    }
    (t0.elapsed().as_secs_f64(), out)
}

fn main() {
    let buys = arg("BENCH_MEDIA_BUYS", 20_000);
    let shards = arg("BENCH_SHARDS", 8) as i32;
    let rounds = arg("BENCH_ROUNDS", 3).max(1) as u32;
    let campaigns = arg("BENCH_CAMPAIGNS", 20) as i64;
    let base = SyntheticOptions {
        media_buys: buys,
        days: 31,
        end_date: chrono::Utc::now().date_naive(),
        chunk_rows: 100_000,
        inline_rows: 2_000,
        gzip: true,
        changed_pct: 3,
        ..Default::default()
    };
    let src = SyntheticSource::start(base.clone());
    let n_campaigns = (buys / 200).max(1) as i64;
    let single = Cluster::start(ClusterOptions {
        preload: true,
        conf: CONF.iter().map(|l| l.to_string()).collect(),
    });
    let mut one = single.media_tool("media_tool", src.port(), buys as i64, n_campaigns);
    let cluster = CitusCluster::start_with("media_tool", CONF);
    let mut dist = cluster.media_tool("media_tool", src.port(), buys as i64, n_campaigns, shards);
    let window = buys as i64 * 31 * 2;

    let (l1, r1, _) = timed_sync(&mut one, "SELECT * FROM bravo_sync(30)");
    let (l2, r2, _) = timed_sync(&mut dist, "SELECT * FROM bravo_sync(30)");
    assert_eq!((r1, r2), (window, window));
    for c in [&mut one, &mut dist] {
        c.batch_execute("VACUUM ANALYZE").unwrap();
    }
    println!(
        "bench: {buys} media buys x 31 days ({window} rows in two tables), campaigns of 200 buys; Citus: a coordinator and 2 workers on this machine ({} cores), {shards} shards per table",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("measurement | single node | Citus (3 nodes) | Citus / single");
    println!(
        "first load (bravo_sync(30) into empty tables) | {l1:.2} s | {l2:.2} s | {:.2}x",
        l2 / l1
    );
    let (mut s_one, mut s_dist, mut n_one, mut n_dist, mut q_one, mut q_dist) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let changed = window * 3 / 100;
    for round in 1..=rounds {
        src.set_options(SyntheticOptions {
            revision: round,
            ..base.clone()
        });
        // Alternate who goes first (the source's cache, the machine's page cache).
        let order: [&mut Client; 2] = if round % 2 == 1 {
            [&mut one, &mut dist]
        } else {
            [&mut dist, &mut one]
        };
        let mut times = Vec::new();
        for c in order {
            let (s, f, u) = timed_sync(c, "SELECT * FROM bravo_sync(30)");
            assert_eq!((f, u), (window, changed));
            let (n, _, u) = timed_sync(c, "SELECT * FROM bravo_sync(30)");
            assert_eq!(u, 0);
            times.push((s, n));
        }
        let ((a, b), (x, y)) = if round % 2 == 1 {
            (times[0], times[1])
        } else {
            (times[1], times[0])
        };
        s_one.push(a);
        n_one.push(b);
        s_dist.push(x);
        n_dist.push(y);
        let (ra, rows_a) = reports(&mut one, campaigns);
        let (rb, rows_b) = reports(&mut dist, campaigns);
        assert_eq!(rows_a, rows_b, "the reports differ between the layouts");
        q_one.push(ra);
        q_dist.push(rb);
    }
    let (s1, s2) = (median(s_one), median(s_dist));
    let (n1, n2) = (median(n_one), median(n_dist));
    let (q1, q2) = (median(q_one), median(q_dist));
    println!(
        "re-sync, 3 % changed (bravo_sync(30)), median of {rounds} | {s1:.2} s | {s2:.2} s | {:.2}x",
        s2 / s1
    );
    println!(
        "re-sync, nothing changed, median | {n1:.2} s | {n2:.2} s | {:.2}x",
        n2 / n1
    );
    // What the comparison reads: one table's window in key order, through a cursor (as
    // the sync does; MOVE reads every row without sending it to this client).
    let read = "BEGIN; DECLARE w NO SCROLL CURSOR FOR SELECT media_buy_id, date, impressions, clicks, spend::text \
                FROM platform_buy_daily_impressions WHERE date >= current_date - 30 ORDER BY media_buy_id, date; \
                MOVE FORWARD ALL IN w; COMMIT";
    let (mut w1, mut w2) = (vec![], vec![]);
    for _ in 0..3 {
        w1.push(helpers::timed(&mut one, read).as_secs_f64());
        w2.push(helpers::timed(&mut dist, read).as_secs_f64());
    }
    let (w1, w2) = (median(w1), median(w2));
    println!(
        "the comparison's input: one table's window read in key order (cursor), median of 3 | {w1:.2} s | {w2:.2} s | {:.2}x",
        w2 / w1
    );
    let calls = campaigns * 3;
    println!(
        "reports: totals + daily + media buy totals of {campaigns} campaigns ({calls} calls), median | {:.1} ms per call | {:.1} ms per call | {:.2}x",
        1000.0 * q1 / calls as f64,
        1000.0 * q2 / calls as f64,
        q2 / q1
    );

    // The paper estimate for 480 M rows per table (50,000 buys x 24 hours x 400 days).
    let bytes: i64 = one
        .query_one(
            "SELECT pg_total_relation_size('platform_buy_daily_impressions') + pg_total_relation_size('platform_buy_daily_videos')",
            &[],
        )
        .unwrap()
        .get(0);
    let per_row = bytes as f64 / window as f64;
    let total = 480e6 * 2.0 * per_row;
    let per_worker = 1e12; // a worker's share: 1 TB of table data
    let rate = window as f64 / s2; // rows compared per second by a Citus re-sync
    let hourly_window = 50_000.0 * 24.0 * 30.0 * 2.0; // the nightly 30-day re-sync at hourly grain
    println!(
        "estimate: {per_row:.0} bytes per row (table and indexes, measured) -> {:.0} GB for 480 M rows in each of two tables; at 1 TB of table data per worker: {} workers (and a coordinator)",
        total / 1e9,
        (total / per_worker).ceil()
    );
    println!(
        "estimate: the nightly 30-day re-sync at hourly grain compares {:.0} M rows; at the Citus re-sync rate measured here ({:.0} rows/s, one coordinator backend) that is {:.0} min. The sync streams through one coordinator backend, so workers add storage and report parallelism, not sync speed.",
        hourly_window / 1e6,
        rate,
        hourly_window / rate / 60.0
    );
}
