//! Refresh benchmark (issue 14; not a timed test): `bravo_refresh` of one 200-buy
//! campaign over 3 days against the loopback Snowflake-format Arrow source (the
//! synthetic double, which filters on the bound media buys as Snowflake does), side by
//! side with the same window for every media buy (`bravo_sync(3)`), measured in the
//! same run on the same cluster, in `BENCH_ROUNDS` (default 5) alternating rounds. Each
//! round revises a share of the source first (`BENCH_CHANGED_PCT`, default 25), so both
//! have rows to update. The target (issue 14): the refresh in at most 1 s.
//!
//! The tables hold `BENCH_MEDIA_BUYS` (default 50,000) buys x 30 days, loaded first;
//! campaigns have 200 buys each.
//!
//! Run: `bash bench/refresh.sh` (installs a release build first).

#[path = "../tests/common/mod.rs"]
mod common;
mod helpers;

use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;
use helpers::{arg, median, timed_sync as timed};

fn main() {
    let buys = arg("BENCH_MEDIA_BUYS", 50_000);
    let campaigns = (buys / 200).max(1) as i64;
    let pg = Cluster::start(ClusterOptions {
        preload: false,
        conf: vec![
            "shared_buffers = '1GB'".into(),
            "max_wal_size = '8GB'".into(),
            "checkpoint_timeout = '30min'".into(),
        ],
    });
    let src = SyntheticSource::start(SyntheticOptions {
        media_buys: buys,
        days: 30,
        end_date: chrono::Utc::now().date_naive(),
        chunk_rows: 100_000,
        inline_rows: 2_000,
        gzip: true,
        changed_pct: arg("BENCH_CHANGED_PCT", 25) as u32,
        ..Default::default()
    });
    let mut c = pg.media_tool("media_tool", src.port(), buys as i64, campaigns);
    let (load, rows, _) = timed(&mut c, "SELECT * FROM bravo_sync(29)");
    c.batch_execute("VACUUM ANALYZE").unwrap();
    c.batch_execute("CHECKPOINT").unwrap();
    println!(
        "bench: {buys} media buys x 30 days ({rows} rows in both tables, loaded in {load:.1} s); {campaigns} campaigns of 200 buys"
    );
    println!(
        "round | bravo_refresh(campaign, 3): s, rows fetched, updated | bravo_sync(3): s, rows fetched, updated | ratio"
    );
    let rounds = arg("BENCH_ROUNDS", 5).max(1);
    let (mut refresh, mut full) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        src.set_revision(round as u32);
        let campaign = (round as i64 * 37) % campaigns + 1;
        let (r, r_rows, r_upd) = timed(
            &mut c,
            &format!("SELECT * FROM bravo_refresh({campaign}::bigint, 3)"),
        );
        let (f, f_rows, f_upd) = timed(&mut c, "SELECT * FROM bravo_sync(3)");
        assert_eq!(r_rows, 2 * 200 * 4, "200 buys x 4 days, two tables");
        println!(
            "{round} | {r:.3} s, {r_rows}, {r_upd} | {f:.3} s, {f_rows}, {f_upd} | {:.3}",
            r / f
        );
        refresh.push(r);
        full.push(f);
    }
    let worst = refresh.iter().cloned().fold(0.0, f64::max);
    println!(
        "median: bravo_refresh {:.3} s (worst {worst:.3} s; target <= 1 s), bravo_sync(3) of every buy {:.3} s",
        median(refresh),
        median(full)
    );
}
