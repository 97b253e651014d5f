//! Secrets never leak; the extension installs over legacy tables, survives
//! pg_dump/pg_restore, and DROP EXTENSION never destroys synced metrics.

mod common;

use std::process::Command;
use std::time::Duration;

use bravo_testkit::double::{reply, Endpoint, Reply};
use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;

const SECRET: &str = "S3cret-Pa55-Bravo-Zulu-7431";

/// The secret as the scans bind it: reversed, so the test's own statements (logged
/// with log_statement = all) never put the secret itself into the server log.
fn reversed_secret() -> String {
    SECRET.chars().rev().collect()
}

#[test]
fn secrets_never_reach_settings_catalogs_tables_logs_or_errors() {
    let src = SyntheticSource::start(SyntheticOptions {
        media_buys: 50,
        days: 31,
        end_date: chrono::Utc::now().date_naive(),
        ..Default::default()
    });
    // Preloaded, so the settings are defined in every backend (a non-superuser's SET of
    // an undefined placeholder is discarded by PostgreSQL when the library loads).
    let pg = Cluster::start(ClusterOptions {
        preload: true,
        conf: vec![
            "log_statement = 'all'".into(),
            "log_min_messages = debug1".into(),
            "log_min_error_statement = debug1".into(),
        ],
    });
    let mut c = pg.media_tool("media_tool", src.port(), 50, 2);
    let secret_file = pg.secret_file("prod.secret", SECRET);
    alter_system(
        &mut c,
        "bravo_metrics.snowflake_secret_file",
        &secret_file.display().to_string(),
    );
    drop(c);
    let mut c = pg.client("media_tool");

    // A successful sync, a login failure whose server message echoes the password,
    // and a failure after login.
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    let logins = src.double().requests_to(Endpoint::Login);
    assert!(
        logins.last().unwrap().json().to_string().contains(SECRET),
        "the password did reach Snowflake's login"
    );
    src.double().push(
        Endpoint::Login,
        Reply::json(reply::failure(
            "390100",
            &format!("Incorrect password {SECRET} for user FAKE"),
            serde_json::Value::Null,
        )),
    );
    let err = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    let text = format!("{} {:?}", db_message(&err), err);
    assert!(
        !text.contains(SECRET),
        "error text leaks the secret: {text}"
    );
    c.batch_execute("SET bravo_metrics.impressions_source = 'NOT_THERE'")
        .unwrap();
    let err = c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    assert!(!db_message(&err).contains(SECRET));
    c.batch_execute("RESET bravo_metrics.impressions_source")
        .unwrap();

    let reversed = reversed_secret();
    // Every table, as superuser: run log, set-aside, targets, metrics.
    let tables: Vec<String> = c
        .query("SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'v') AND n.nspname NOT IN ('information_schema') AND c.relname NOT LIKE 'pg_stat%'", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for t in &tables {
        if let Ok(rows) = c.query(
            &format!("SELECT count(*) FROM {t} x WHERE x::text LIKE '%' || reverse($1) || '%'"),
            &[&reversed],
        ) {
            assert_eq!(rows[0].get::<_, i64>(0), 0, "secret found in {t}");
        }
    }
    let runs: i64 = c
        .query_one("SELECT count(*) FROM bravo_sync_runs", &[])
        .unwrap()
        .get(0);
    assert_eq!(runs, 3, "all three runs are logged");

    // A non-superuser: settings, role/database settings, readable tables, functions.
    c.batch_execute("CREATE ROLE analyst LOGIN; GRANT pg_read_all_data TO analyst;")
        .unwrap();
    let mut a = pg.client_as("media_tool", "analyst");
    let settings: String = a
        .query_one(
            "SELECT string_agg(name || '=' || coalesce(setting, ''), ';') FROM pg_settings",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(!settings.contains(SECRET));
    assert!(
        !settings.contains("prod.secret"),
        "superuser-only setting visible: the secret file path"
    );
    let dbset: String = a
        .query_one(
            "SELECT coalesce(string_agg(setconfig::text, ';'), '') FROM pg_db_role_setting",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(!dbset.contains(SECRET));
    assert!(
        !dbset.contains(".secret"),
        "a secret file path is readable in pg_db_role_setting: {dbset}"
    );
    for t in &tables {
        if let Ok(rows) = a.query(
            &format!("SELECT count(*) FROM {t} x WHERE x::text LIKE '%' || reverse($1) || '%'"),
            &[&reversed],
        ) {
            assert_eq!(
                rows[0].get::<_, i64>(0),
                0,
                "secret readable by a non-superuser in {t}"
            );
        }
    }
    let err = a
        .query(
            "SELECT pg_read_file($1)",
            &[&secret_file.display().to_string()],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
    let err = a.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    assert_eq!(
        sqlstate(&err),
        "42501",
        "bravo_sync is not executable by PUBLIC"
    );
    let err = a
        .batch_execute("SET bravo_metrics.snowflake_secret_file = '/tmp/x'")
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501");

    // The server log, with every statement and debug1 messages.
    std::thread::sleep(Duration::from_millis(200));
    let log = pg.log_text();
    assert!(log.contains("bravo_sync"), "the log has the statements");
    assert!(!log.contains(SECRET), "secret in the server log");
}

fn pg_tool(pg: &Cluster, tool: &str, args: &[&str]) {
    let out = as_postgres(&format!("/usr/lib/postgresql/15/bin/{tool}"))
        .args([
            "-h",
            pg.dir.to_str().unwrap(),
            "-p",
            &pg.port.to_string(),
            "-U",
            "postgres",
        ])
        .args(args)
        .output()
        .expect(tool);
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn digest(c: &mut postgres::Client) -> (i64, String) {
    let r = c
        .query_one(
            "SELECT (SELECT count(*) FROM platform_buy_daily_impressions) + (SELECT count(*) FROM platform_buy_daily_videos),
                    md5((SELECT string_agg(t::text, ',' ORDER BY media_buy_id, date) FROM platform_buy_daily_impressions t)
                     || (SELECT string_agg(t::text, ',' ORDER BY media_buy_id, date) FROM platform_buy_daily_videos t))",
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

#[test]
fn install_over_legacy_tables_dump_restore_and_drop_keep_every_metric_row() {
    let src = Source::start();
    src.fill(10, 40);
    let pg = Cluster::start(ClusterOptions::default());
    let mut admin = pg.client("postgres");
    admin.batch_execute("CREATE DATABASE media_tool").unwrap();
    let mut c = pg.client("media_tool");
    // What the legacy job left: its own shapes (an extra column, no FK), a year of rows.
    c.batch_execute(
        "CREATE TABLE media_buys (id bigint PRIMARY KEY, campaign_id bigint NOT NULL, name text);
         INSERT INTO media_buys SELECT g, g % 2 + 1, 'legacy ' || g FROM generate_series(1, 10) g;
         CREATE TABLE platform_buy_daily_impressions (date date NOT NULL, media_buy_id bigint NOT NULL, impressions bigint, clicks bigint,
             spend numeric(18,2), created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now(), legacy_batch text,
             PRIMARY KEY (media_buy_id, date));
         CREATE TABLE platform_buy_daily_videos (date date NOT NULL, media_buy_id bigint NOT NULL, video_starts bigint, video_completions bigint,
             video_views bigint, created_at timestamptz DEFAULT now(), updated_at timestamptz DEFAULT now(), PRIMARY KEY (media_buy_id, date));
         INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions, clicks, spend, created_at, updated_at, legacy_batch)
             SELECT current_date - d, b, 1, 1, 0.01, '2025-01-01', '2025-01-01', 'job-42' FROM generate_series(1, 10) b, generate_series(0, 364) d;
         INSERT INTO platform_buy_daily_videos (date, media_buy_id, video_starts, video_completions, video_views, created_at, updated_at)
             SELECT current_date - d, b, 1, 1, 1, '2025-01-01', '2025-01-01' FROM generate_series(1, 10) b, generate_series(0, 364) d;",
    )
    .unwrap();
    c.batch_execute("CREATE EXTENSION bravo_metrics").unwrap();
    let (rows, _) = digest(&mut c);
    assert_eq!(rows, 2 * 3650, "CREATE EXTENSION keeps every legacy row");
    let members: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'bravo_metrics'
              WHERE d.classid = 'pg_class'::regclass AND d.objid IN ('media_buys'::regclass, 'platform_buy_daily_impressions'::regclass, 'platform_buy_daily_videos'::regclass)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        members, 0,
        "the media tool's tables are not extension members"
    );

    let secret = pg.secret_file("media_tool.secret", "snow");
    point_at(&mut c, "media_tool", src.port(), &secret);
    drop(c);
    let mut c = pg.client("media_tool");
    let r = c
        .query(
            "SELECT target, inserted, updated, unchanged FROM bravo_sync(30) ORDER BY target",
            &[],
        )
        .unwrap();
    for row in &r {
        // 10 buys x 31 days all exist already with legacy values: every one is updated.
        assert_eq!(
            (
                row.get::<_, i64>(1),
                row.get::<_, i64>(2),
                row.get::<_, i64>(3)
            ),
            (0, 310, 0)
        );
    }
    let kept: (i64, i64) = {
        let r = c
            .query_one(
                "SELECT count(*) FILTER (WHERE legacy_batch = 'job-42'), count(*) FILTER (WHERE created_at = '2025-01-01' AND updated_at > created_at)
                   FROM platform_buy_daily_impressions WHERE date >= current_date - 30",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        kept,
        (310, 310),
        "other legacy columns and created_at survive the merge"
    );
    let synced = digest(&mut c);
    assert_eq!(synced.0, 2 * 3650);

    // pg_dump / pg_restore into a new database keeps every metric row and the run log.
    let dump = pg.dir.join("media_tool.dump");
    pg_tool(
        &pg,
        "pg_dump",
        &["-Fc", "-f", dump.to_str().unwrap(), "media_tool"],
    );
    pg.client("postgres")
        .batch_execute("CREATE DATABASE restored")
        .unwrap();
    pg_tool(
        &pg,
        "pg_restore",
        &["-d", "restored", dump.to_str().unwrap()],
    );
    let mut r = pg.client("restored");
    assert_eq!(
        digest(&mut r),
        synced,
        "pg_restore brings back every metric row"
    );
    let runs: i64 = r
        .query_one("SELECT count(*) FROM bravo_sync_runs", &[])
        .unwrap()
        .get(0);
    assert_eq!(runs, 1, "the run log is dumped too");

    // DROP EXTENSION (even CASCADE) leaves the tables and rows.
    c.batch_execute("DROP EXTENSION bravo_metrics CASCADE")
        .unwrap();
    assert_eq!(
        digest(&mut c),
        synced,
        "DROP EXTENSION keeps every synced row"
    );
    c.batch_execute("CREATE EXTENSION bravo_metrics").unwrap();
    assert_eq!(
        digest(&mut c),
        synced,
        "re-creating the extension keeps them too"
    );
    let _ = Command::new("true").status();
}
