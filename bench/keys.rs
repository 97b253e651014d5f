//! Key types benchmark (not a timed test): the per-row cost of syncing the two shipped
//! families when the media tool keys media buys by text or by uuid, next to the same
//! sync with bigint ids, measured in the same run on the same cluster against the same
//! fast local Snowflake-format Arrow source (the synthetic double), in `BENCH_ROUNDS`
//! (default 3) alternating rounds, each a first load into empty tables and a re-sync
//! with no change:
//!
//! * bigint: `media_buys.id bigint`, Snowflake NUMBER ids (the baseline);
//! * text: `media_buys.id text`, Snowflake VARCHAR ids `buy-000000001` (compared by
//!   bytes, the window read `COLLATE "C"`);
//! * uuid: `media_buys.id uuid`, Snowflake VARCHAR upper-case uuids (read as
//!   `LOWER(MEDIA_BUY_ID)` plus the source's own id).
//!
//! Run: `bash bench/keys.sh` (installs a release build first).

#[path = "../tests/common/mod.rs"]
mod common;
mod helpers;

use std::time::Instant;

use bravo_testkit::synthetic::{IdText, SyntheticOptions, SyntheticSource};
use common::*;
use helpers::{arg, cpu, median};
use postgres::Client;

/// One sync: (seconds, backend CPU seconds); checks the rows fetched and inserted.
fn sync(c: &mut Client, fetched: i64, inserted: i64) -> (f64, f64) {
    let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let cpu0 = cpu(pid);
    let t0 = Instant::now();
    let row = c
        .query_one(
            "SELECT sum(fetched)::bigint, sum(inserted)::bigint FROM bravo_sync(30)",
            &[],
        )
        .unwrap_or_else(|e| panic!("sync: {}", db_message(&e)));
    let took = t0.elapsed().as_secs_f64();
    let got: (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(got, (fetched, inserted));
    (took, cpu(pid) - cpu0)
}

/// A database keyed by `id_type` (the media tool's DDL), its media buys `ids`, pointed
/// at `src`.
fn database(
    pg: &Cluster,
    db: &str,
    src: &SyntheticSource,
    id_type: &str,
    id_sql: &str,
    buys: u64,
) -> Client {
    pg.client("postgres")
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let mut c = pg.client(db);
    c.batch_execute(&format!(
        "CREATE TABLE media_buys (id {id_type} PRIMARY KEY, campaign_id bigint NOT NULL, name text,
                                  created_at timestamptz NOT NULL DEFAULT now(),
                                  updated_at timestamptz NOT NULL DEFAULT now());
         INSERT INTO media_buys (id, campaign_id) SELECT {id_sql}, g % 200 + 1 FROM generate_series(1, {buys}) g;
         CREATE EXTENSION bravo_metrics;"
    ))
    .unwrap();
    let secret = pg.secret_file(&format!("{db}.secret"), "snow");
    point_at(&mut c, db, src.port(), &secret);
    drop(c);
    pg.client(db)
}

fn main() {
    let buys = arg("BENCH_MEDIA_BUYS", 50_000);
    let rows = (buys * 30 * 2) as i64;
    let pg = Cluster::start(ClusterOptions {
        preload: false,
        conf: vec![
            "shared_buffers = '1GB'".into(),
            "max_wal_size = '8GB'".into(),
            "checkpoint_timeout = '30min'".into(),
            "work_mem = '16MB'".into(),
        ],
    });
    let opts = |id_text| SyntheticOptions {
        media_buys: buys,
        days: 30,
        end_date: chrono::Utc::now().date_naive(),
        chunk_rows: 100_000,
        inline_rows: 2_000,
        gzip: true,
        id_text,
        ..Default::default()
    };
    let sources = [
        SyntheticSource::start(opts(IdText::No)),
        SyntheticSource::start(opts(IdText::Padded)),
        SyntheticSource::start(opts(IdText::UpperUuid)),
    ];
    let mut dbs = [
        database(&pg, "keys_bigint", &sources[0], "bigint", "g", buys),
        database(
            &pg,
            "keys_text",
            &sources[1],
            "text",
            &format!("'{}' || lpad(g::text, 9, '0')", IdText::PADDED_PREFIX),
            buys,
        ),
        database(
            &pg,
            "keys_uuid",
            &sources[2],
            "uuid",
            "('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid",
            buys,
        ),
    ];
    println!("bench: {buys} media buys x 30 days x 2 families = {rows} rows per sync");
    println!("round | key | first load s (CPU s) | us/row | vs bigint | re-sync s (CPU s) | us/row | vs bigint");
    let rounds = arg("BENCH_ROUNDS", 3).max(1);
    let names = ["bigint", "text", "uuid"];
    let mut ratios: [(Vec<f64>, Vec<f64>); 3] = Default::default();
    for round in 1..=rounds {
        let mut base = (0.0, 0.0);
        for (k, c) in dbs.iter_mut().enumerate() {
            c.batch_execute(
                "TRUNCATE platform_buy_daily_impressions, platform_buy_daily_videos; CHECKPOINT",
            )
            .unwrap();
            let first = sync(c, rows, rows);
            let again = sync(c, rows, 0);
            let us = |s: f64| s * 1e6 / rows as f64;
            if k == 0 {
                base = (us(first.0), us(again.0));
            }
            let r = (us(first.0) / base.0, us(again.0) / base.1);
            ratios[k].0.push(r.0);
            ratios[k].1.push(r.1);
            println!(
                "{round} | {} | {:.2} ({:.2}) | {:.2} | {:.2}x | {:.2} ({:.2}) | {:.2} | {:.2}x",
                names[k],
                first.0,
                first.1,
                us(first.0),
                r.0,
                again.0,
                again.1,
                us(again.0),
                r.1
            );
        }
    }
    for k in 1..3 {
        let (f, a) = ratios[k].clone();
        println!(
            "median {}: first load {:.2}x bigint per row, re-sync {:.2}x",
            names[k],
            median(f),
            median(a)
        );
    }
}
