//! The Debian package (issue 15): `scripts/package.sh` builds
//! `postgresql-15-bravo-metrics`; this test installs it with dpkg on the machine's
//! PostgreSQL 15 while a cluster that preloads the library runs, creates the extension
//! and syncs from the real fakesnow server, upgrades a database from the previous
//! release (0.3.0, its frozen install script) with the package's upgrade script, and
//! removes the package. The files it removes are put back afterwards (the other
//! suites use them).

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

const NAME: &str = "postgresql-15-bravo-metrics";

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
    let v: String = c
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'bravo_metrics'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(v, version);
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
    let v: String = o
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'bravo_metrics'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(v, version);
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
