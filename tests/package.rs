//! The Debian package (issue 15): `scripts/package.sh` builds
//! `postgresql-15-bravo-metrics`; these tests install it with dpkg on the machine's
//! PostgreSQL 15 while a cluster that preloads the library runs, create the extension
//! and sync from the real fakesnow server, upgrade from the previous release's package
//! (0.3.0, built from its commit by `scripts/package.sh --release-of 0.3.0`: its
//! library synced the data first), and remove the package. The files they remove are
//! put back afterwards (the other suites use them). They take turns: one dpkg
//! database, one set of installed files.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const NAME: &str = "postgresql-15-bravo-metrics";

/// One test at a time installs packages.
static DPKG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The version of bravo_metrics a database has.
fn extversion(c: &mut postgres::Client) -> String {
    c.query_one(
        "SELECT extversion FROM pg_extension WHERE extname = 'bravo_metrics'",
        &[],
    )
    .unwrap()
    .get(0)
}

/// Puts the extension's files back (the package's removal deleted them), whatever
/// happened in the test.
struct Restore;
impl Drop for Restore {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["-r", NAME]).output();
        let ok = Command::new("bash")
            .args(["scripts/install.sh", "--debug"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok || std::thread::panicking(),
            "could not reinstall the extension"
        );
    }
}

#[test]
fn the_deb_installs_under_a_running_server_syncs_upgrades_and_removes_cleanly() {
    let _turn = DPKG.lock().unwrap_or_else(|e| e.into_inner());
    let deb = run("bash", &["scripts/package.sh", "--debug"])
        .trim()
        .to_string();
    assert!(deb.ends_with(".deb"), "{deb}");
    let deb = Path::new(env!("CARGO_MANIFEST_DIR")).join(deb);
    let deb = deb.to_str().unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let field = |f: &str| run("dpkg-deb", &["-f", deb, f]).trim().to_string();
    assert_eq!(field("Package"), NAME);
    assert_eq!(field("Version"), version);
    assert_eq!(field("Depends"), "postgresql-15");
    let files = run("dpkg-deb", &["-c", deb]);
    for f in [
        "./usr/lib/postgresql/15/lib/bravo_metrics.so",
        "./usr/share/postgresql/15/extension/bravo_metrics.control",
        &format!("./usr/share/postgresql/15/extension/bravo_metrics--{version}.sql"),
        "./usr/share/postgresql/15/extension/bravo_metrics--0.1.0--0.2.0.sql",
        "./usr/share/postgresql/15/extension/bravo_metrics--0.2.0--0.3.0.sql",
        "./usr/share/postgresql/15/extension/bravo_metrics--0.3.0--0.4.0.sql",
        "./usr/share/doc/postgresql-15-bravo-metrics/copyright",
        "./usr/share/doc/postgresql-15-bravo-metrics/changelog.gz",
    ] {
        assert!(files.contains(f), "{f} is not in the package:\n{files}");
    }

    // A cluster preloading the library runs while the package is installed over the
    // files scripts/install.sh put there.
    let src = Source::start();
    src.fill(30, 10);
    let pg = Cluster::start(ClusterOptions {
        preload: true,
        conf: vec![],
    });
    let started: String = pg
        .client("postgres")
        .query_one("SELECT pg_postmaster_start_time()::text", &[])
        .unwrap()
        .get(0);
    let _restore = Restore;
    run("dpkg", &["-i", deb]);
    let status = run("dpkg-query", &["-W", "-f=${Status} ${Version}", NAME]);
    assert_eq!(status, format!("install ok installed {version}"));
    let owned = run("dpkg", &["-L", NAME]);
    assert!(owned.contains("/usr/lib/postgresql/15/lib/bravo_metrics.so"));

    // CREATE EXTENSION from the package, a sync from fakesnow, a report.
    let mut c = pg.media_tool("media_tool", src.port(), 30, 3);
    assert_eq!(extversion(&mut c), version);
    let fetched: i64 = c
        .query_one("SELECT sum(fetched)::bigint FROM bravo_sync(30)", &[])
        .unwrap()
        .get(0);
    assert_eq!(fetched, 2 * 30 * 10);
    let imps: i64 = c
        .query_one("SELECT impressions FROM bravo_campaign_totals(1)", &[])
        .unwrap()
        .get(0);
    let want: i64 = c
        .query_one(
            "SELECT sum(impressions)::bigint FROM platform_buy_daily_impressions t JOIN media_buys b ON b.id = t.media_buy_id WHERE b.campaign_id = 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(imps, want);

    // The previous release: a database at 0.3.0 (its frozen install script; no 0.3.0
    // package was ever published) updates with the package's upgrade script.
    let sharedir = run("/usr/bin/pg_config", &["--sharedir"]);
    let frozen =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/released/bravo_metrics--0.3.0.sql");
    let old = Path::new(sharedir.trim()).join("extension/bravo_metrics--0.3.0.sql");
    std::fs::copy(&frozen, &old).unwrap();
    let mut admin = pg.client("postgres");
    admin.batch_execute("CREATE DATABASE old_tool").unwrap();
    let mut o = pg.client("old_tool");
    o.batch_execute(
        "CREATE EXTENSION bravo_metrics VERSION '0.3.0';
         ALTER EXTENSION bravo_metrics UPDATE;",
    )
    .unwrap();
    assert_eq!(extversion(&mut o), version);
    drop(o);

    // No backend crashed while the package replaced the library.
    let now: String = admin
        .query_one("SELECT pg_postmaster_start_time()::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(now, started);
    assert!(!pg.log_text().contains("terminated by signal"));

    // Removal takes the package's files away (the data stays in the databases).
    drop(c);
    drop(admin);
    pg.stop("fast");
    run("dpkg", &["-r", NAME]);
    assert!(!Path::new("/usr/lib/postgresql/15/lib/bravo_metrics.so").exists());
    assert!(!Path::new("/usr/share/postgresql/15/extension/bravo_metrics.control").exists());
    let gone = Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", NAME])
        .output()
        .unwrap();
    let gone = String::from_utf8_lossy(&gone.stdout).to_string();
    assert!(
        gone.is_empty()
            || gone.starts_with("deinstall ok config-files")
            || gone.contains("not-installed"),
        "{gone}"
    );
}

/// Every row of the metric tables and media_buys (not the write times), and what the
/// reports say: equal before and after an upgrade.
fn data_digest(c: &mut postgres::Client) -> String {
    c.query_one(
        "SELECT md5(coalesce((SELECT string_agg((t.date, t.media_buy_id, t.impressions, t.clicks, t.spend)::text, ',' ORDER BY t.media_buy_id, t.date) FROM platform_buy_daily_impressions t), ''))
             || md5(coalesce((SELECT string_agg((t.date, t.media_buy_id, t.video_starts, t.video_completions, t.video_views)::text, ',' ORDER BY t.media_buy_id, t.date) FROM platform_buy_daily_videos t), ''))
             || md5(coalesce((SELECT string_agg(b::text, ',' ORDER BY b.id) FROM media_buys b), ''))
             || (SELECT string_agg(format('%s/%s/%s/%s', t.impressions, t.clicks, t.spend, t.video_views), ',') FROM generate_series(1, 3) g, bravo_campaign_totals(g) t)",
        &[],
    )
    .unwrap()
    .get(0)
}

/// A user of the previous release (0.3.0, installed from its package, its library
/// synced the data) installs this release's package over it under the running server,
/// restarts, and updates: every row kept, the reports say the same, the next sync finds
/// nothing to change.
#[test]
fn the_previous_releases_package_upgrades_to_this_one_and_keeps_the_data() {
    let previous = run(
        "bash",
        &["scripts/package.sh", "--debug", "--release-of", "0.3.0"],
    )
    .trim()
    .to_string();
    assert!(previous.ends_with("_0.3.0_amd64.deb"), "{previous}");
    let current = run("bash", &["scripts/package.sh", "--debug"])
        .trim()
        .to_string();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (previous, current) = (root.join(previous), root.join(current));
    let (previous, current) = (previous.to_str().unwrap(), current.to_str().unwrap());
    // It is the release: its install script is the one frozen when it shipped.
    let script = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "dpkg-deb --fsys-tarfile {previous} | tar -xO ./usr/share/postgresql/15/extension/bravo_metrics--0.3.0.sql"
        ))
        .output()
        .unwrap();
    assert!(script.status.success());
    let frozen = std::fs::read(root.join("sql/released/bravo_metrics--0.3.0.sql")).unwrap();
    assert!(
        script.stdout == frozen,
        "the 0.3.0 package's install script differs from sql/released/bravo_metrics--0.3.0.sql"
    );

    let _turn = DPKG.lock().unwrap_or_else(|e| e.into_inner());
    let _restore = Restore;
    run("dpkg", &["-i", previous]);
    let status = run("dpkg-query", &["-W", "-f=${Version}", NAME]);
    assert_eq!(status, "0.3.0");
    let src = Source::start();
    src.fill(30, 10);
    let pg = Cluster::start(ClusterOptions {
        preload: true,
        conf: vec![],
    });
    let mut c = pg.media_tool("media_tool", src.port(), 30, 3);
    assert_eq!(extversion(&mut c), "0.3.0");
    let fetched: i64 = c
        .query_one("SELECT sum(fetched)::bigint FROM bravo_sync(30)", &[])
        .unwrap()
        .get(0);
    assert_eq!(fetched, 2 * 30 * 10, "the 0.3.0 library synced");
    let before = data_digest(&mut c);
    drop(c);

    run("dpkg", &["-i", current]);
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(run("dpkg-query", &["-W", "-f=${Version}", NAME]), version);
    pg.restart();
    let mut c = pg.client("media_tool");
    c.batch_execute("ALTER EXTENSION bravo_metrics UPDATE")
        .unwrap();
    assert_eq!(extversion(&mut c), version);
    assert_eq!(
        data_digest(&mut c),
        before,
        "the upgrade changed the data or the reports"
    );
    let (fetched, changed): (i64, i64) = {
        let r = c
            .query_one(
                "SELECT sum(fetched)::bigint, sum(inserted + updated + deleted)::bigint FROM bravo_sync(30)",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((fetched, changed), (2 * 30 * 10, 0));
    let runs: i64 = c
        .query_one(
            "SELECT count(*) FROM bravo_sync_runs WHERE status = 'succeeded'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(runs, 2, "the 0.3.0 run is in the run log, and the new one");
    drop(c);
    pg.stop("fast");
    run("dpkg", &["-r", NAME]);
}

/// PGXN's META.json says what Cargo.toml says: the version, PostgreSQL 15 only.
#[test]
fn meta_json_matches_the_build() {
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("META.json")).unwrap(),
    )
    .unwrap();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(meta["name"], "bravo_metrics");
    assert_eq!(meta["version"], version);
    assert_eq!(meta["provides"]["bravo_metrics"]["version"], version);
    assert_eq!(meta["license"], "apache_2_0");
    assert_eq!(
        meta["prereqs"]["runtime"]["requires"]["PostgreSQL"],
        ">= 15.0.0, < 16.0.0"
    );
    let file = meta["provides"]["bravo_metrics"]["file"].as_str().unwrap();
    assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(file).exists());
}
