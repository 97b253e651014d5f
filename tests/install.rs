//! Installing a build into a running server (issue 15): `scripts/install.sh` renames
//! each file into place, so a cluster that preloads the library and is in the middle of
//! a sync keeps running: the sync finishes, no backend crashes, the postmaster is not
//! restarted, and a new connection loads the new library. Real PostgreSQL 15, the
//! loopback double serving slow chunks so that the sync is mid-flight.

mod common;

use std::process::Command;
use std::time::Duration;

use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;

#[test]
fn installing_a_build_while_a_preloaded_cluster_syncs_crashes_nothing() {
    let src = SyntheticSource::start(SyntheticOptions {
        media_buys: 400,
        days: 31,
        end_date: chrono::Utc::now().date_naive(),
        chunk_rows: 500,
        inline_rows: 100,
        slow_chunk: Some(Duration::from_millis(1000)),
        slow_after_chunks: 1,
        ..Default::default()
    });
    let pg = Cluster::start(ClusterOptions {
        preload: true,
        conf: vec![],
    });
    let mut c = pg.media_tool("media_tool", src.port(), 400, 8);
    let started: String = c
        .query_one("SELECT pg_postmaster_start_time()::text", &[])
        .unwrap()
        .get(0);
    let library = "/usr/lib/postgresql/15/lib/bravo_metrics.so";
    let inode = |p: &str| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let before = inode(library);

    // A sync of 2 x 12,400 rows in chunks of 500, each held 1 s (four fetched at a time): over 10 s.
    let sync = std::thread::spawn(move || {
        c.query(
            "SELECT target, fetched FROM bravo_sync(30) ORDER BY target",
            &[],
        )
        .map(|rows| {
            rows.iter()
                .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
                .collect::<Vec<_>>()
        })
    });
    let mut watch = pg.client("media_tool");
    wait_for(Duration::from_secs(30), "the sync fetching", || {
        watch
            .query_opt(
                "SELECT 1 FROM bravo_sync_progress WHERE phase = 'fetching' AND fetched > 0",
                &[],
            )
            .unwrap()
            .map(|_| ())
    });

    // The sync's progress is its own: no phantom row in pg_stat_progress_copy.
    let copies: i64 = watch
        .query_one("SELECT count(*) FROM pg_stat_progress_copy", &[])
        .unwrap()
        .get(0);
    assert_eq!(copies, 0, "a sync shows up as a COPY");

    let out = Command::new("bash")
        .args(["scripts/install.sh", "--debug"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run scripts/install.sh");
    assert!(
        out.status.success(),
        "install.sh: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(inode(library), before, "a new file was renamed into place");
    let still: bool = watch
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM bravo_sync_progress WHERE phase IN ('fetching', 'merging'))",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(still, "the install finished while the sync was running");

    let synced = sync.join().unwrap().expect("the sync finished");
    assert_eq!(
        synced,
        vec![
            ("impressions".to_string(), 400 * 31),
            ("videos".to_string(), 400 * 31)
        ]
    );
    // No crash: the same postmaster, the same connections, nothing in the log.
    let mut fresh = pg.client("media_tool");
    let now: String = fresh
        .query_one("SELECT pg_postmaster_start_time()::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(now, started, "the postmaster was not restarted");
    watch.query_one("SELECT 1", &[]).unwrap();
    let log = pg.log_text();
    for bad in [
        "terminated by signal",
        "server process",
        "all server processes terminated",
    ] {
        assert!(!log.contains(bad), "the server log says {bad:?}");
    }
    // A new backend loads the new library and it works.
    let n: i64 = fresh
        .query_one("SELECT count(*) FROM bravo_freshness()", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
}
