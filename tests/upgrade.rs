//! `ALTER EXTENSION bravo_metrics UPDATE` from every released version: the upgrade
//! keeps every row, leaves the database exactly as a fresh install of the new version
//! would (same member objects, same definitions, same privileges), and the reports and
//! syncs are right afterwards. Real PostgreSQL 15 and the real fakesnow server.
//!
//! A released version's install script is frozen in `sql/released/` (cargo pgrx
//! install only writes the current one); the test puts it next to the current one.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use postgres::Client;

const RELEASED: &[&str] = &["0.1.0", "0.2.0", "0.3.0"];

fn current_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Copies the frozen install scripts of released versions into the server's
/// extension directory (where the current one and the upgrade scripts are).
fn install_released_scripts() {
    let out = Command::new("/usr/bin/pg_config")
        .arg("--sharedir")
        .output()
        .expect("pg_config");
    let sharedir = String::from_utf8(out.stdout).unwrap().trim().to_string();
    for v in RELEASED {
        let name = format!("bravo_metrics--{v}.sql");
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("sql/released")
            .join(&name);
        let to = Path::new(&sharedir).join("extension").join(&name);
        let frozen = std::fs::read(&from).unwrap_or_else(|e| panic!("{from:?}: {e}"));
        if std::fs::read(&to).ok().as_deref() != Some(&frozen[..]) {
            std::fs::write(&to, &frozen).unwrap_or_else(|e| {
                panic!("cannot write {to:?} ({e}); run the tests as root, as scripts/test.sh does")
            });
        }
    }
}

/// One md5 per table of everything an upgrade must keep: every row, over the columns
/// the table had before the upgrade (`columns`, from [`columns_of`]; an upgrade may add
/// columns, never change or drop one).
fn kept_rows(c: &mut Client, columns: &[(String, String)]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (t, cols) in columns {
        let rel = located(c, t);
        let row = c
            .query_one(
                &format!(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM (SELECT {cols} FROM {rel}) t"
                ),
                &[],
            )
            .unwrap();
        let n: i64 = row.get(0);
        let md5: String = row.get(1);
        out.push((t.to_string(), format!("{n} rows {md5}")));
    }
    out
}

/// Where table `t` is now: in schema bravo since 0.4.0 for the extension's own
/// tables, in the extension's schema before.
fn located(c: &mut Client, t: &str) -> String {
    c.query_one(
        "SELECT coalesce(to_regclass('bravo.' || $1), to_regclass($1))::text",
        &[&t],
    )
    .unwrap()
    .get(0)
}

/// The tables an upgrade must keep, each with its column list as it is now.
fn columns_of(c: &mut Client) -> Vec<(String, String)> {
    [
        "media_buys",
        "platform_buy_daily_impressions",
        "platform_buy_daily_videos",
        "bravo_sync_runs",
        "bravo_sync_run_targets",
        "bravo_set_aside",
        "bravo_campaign_rollup",
    ]
    .iter()
    .map(|t| {
        let rel = located(c, t);
        let cols: String = c
            .query_one(
                "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute \
                  WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped",
                &[&rel],
            )
            .unwrap()
            .get(0);
        (t.to_string(), cols)
    })
    .collect()
}

/// Every object of the extension with its full definition, privileges and comment, as
/// text lines, independent of OIDs.
fn extension_catalog(c: &mut Client) -> Vec<String> {
    c.query(
        "WITH members AS (
             SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
              WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
                AND e.extname = 'bravo_metrics')
         SELECT 'function ' || p.oid::regprocedure || ' ' || pg_get_functiondef(p.oid)
                || ' acl ' || coalesce(p.proacl::text, 'default')
           FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
         UNION ALL
         SELECT 'relation ' || r.relnamespace::regnamespace || '.' || r.relname || ' kind ' || r.relkind::text || ' acl ' || coalesce(r.relacl::text, 'default')
                || ' options ' || coalesce(r.reloptions::text, '')
                || ' columns ' || coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                                           || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                                           || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), ''),
                                           ', ' ORDER BY a.attnum)
                                      FROM pg_attribute a
                                      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                                     WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
                || ' constraints ' || coalesce((SELECT string_agg(pg_get_constraintdef(k.oid), ', ' ORDER BY pg_get_constraintdef(k.oid))
                                          FROM pg_constraint k WHERE k.conrelid = r.oid), '')
                || ' indexes ' || coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY 1)
                                      FROM pg_index i WHERE i.indrelid = r.oid), '')
           FROM members m JOIN pg_class r ON m.classid = 'pg_class'::regclass AND r.oid = m.objid
         UNION ALL
         SELECT 'trigger ' || t.tgname || ' on ' || t.tgrelid::regclass || ' ' || pg_get_triggerdef(t.oid)
           FROM members m JOIN pg_trigger t ON m.classid = 'pg_trigger'::regclass AND t.oid = m.objid
         UNION ALL
         SELECT 'event trigger ' || t.evtname || ' ' || t.evtevent || ' ' || t.evtfoid::regproc
                || ' ' || coalesce(t.evttags::text, '')
           FROM members m JOIN pg_event_trigger t ON m.classid = 'pg_event_trigger'::regclass AND t.oid = m.objid
         UNION ALL
         SELECT 'other ' || pg_describe_object(m.classid, m.objid, 0)
           FROM members m
          WHERE m.classid NOT IN ('pg_proc'::regclass, 'pg_class'::regclass, 'pg_trigger'::regclass,
                                  'pg_event_trigger'::regclass)
         UNION ALL
         SELECT 'comment ' || pg_describe_object(m.classid, m.objid, 0) || ': '
                || coalesce(obj_description(m.objid, m.classid::regclass::text), '(none)')
           FROM members m
         UNION ALL
         SELECT 'config dump ' || c::regclass::text || ' ' || coalesce(cond, '')
           FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS x (c, cond)
          WHERE e.extname = 'bravo_metrics'
         ORDER BY 1",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get::<_, String>(0))
    .collect()
}

/// Rows where a reporting function and a plain GROUP BY over the metric tables
/// disagree, over every campaign and a few ranges (0 = exact).
fn report_diffs(c: &mut Client) -> i64 {
    c.query_one(
        "WITH ranges (f, t) AS (VALUES (NULL::date, NULL::date), (current_date - 40, current_date - 3),
                                       (date_trunc('month', current_date - 35)::date, NULL)),
              plain_buys AS (
                SELECT r.f, r.t, m.campaign_id, m.id, coalesce(i.imp, 0) AS imp, coalesce(i.sp, 0) AS sp,
                       coalesce(v.st, 0) AS st, coalesce(v.vw, 0) AS vw
                  FROM ranges r CROSS JOIN media_buys m
                  LEFT JOIN LATERAL (SELECT sum(p.impressions) AS imp, sum(p.spend) AS sp
                                       FROM platform_buy_daily_impressions p WHERE p.media_buy_id = m.id
                                        AND p.date BETWEEN coalesce(r.f, '-infinity') AND coalesce(r.t, 'infinity')) i ON true
                  LEFT JOIN LATERAL (SELECT sum(p.video_starts) AS st, sum(p.video_views) AS vw
                                       FROM platform_buy_daily_videos p WHERE p.media_buy_id = m.id
                                        AND p.date BETWEEN coalesce(r.f, '-infinity') AND coalesce(r.t, 'infinity')) v ON true),
              fn_buys AS (
                SELECT r.f, r.t, c.campaign_id, b.media_buy_id, b.impressions::numeric, b.spend,
                       b.video_starts::numeric, b.video_views::numeric
                  FROM ranges r CROSS JOIN (SELECT DISTINCT campaign_id FROM media_buys) c
                 CROSS JOIN LATERAL bravo_media_buy_totals(c.campaign_id, r.f, r.t) b),
              plain_campaigns AS (
                SELECT f, t, campaign_id, sum(imp) AS imp, sum(sp) AS sp, sum(st) AS st, sum(vw) AS vw
                  FROM plain_buys GROUP BY 1, 2, 3),
              fn_campaigns AS (
                SELECT r.f, r.t, c.campaign_id, x.impressions::numeric, x.spend,
                       x.video_starts::numeric, x.video_views::numeric
                  FROM ranges r CROSS JOIN (SELECT DISTINCT campaign_id FROM media_buys) c
                 CROSS JOIN LATERAL bravo_campaign_totals(c.campaign_id, r.f, r.t) x)
         SELECT (SELECT count(*) FROM (SELECT * FROM plain_buys EXCEPT SELECT * FROM fn_buys) a)
              + (SELECT count(*) FROM (SELECT * FROM fn_buys EXCEPT SELECT * FROM plain_buys) b)
              + (SELECT count(*) FROM (SELECT * FROM plain_campaigns EXCEPT SELECT * FROM fn_campaigns) c)
              + (SELECT count(*) FROM (SELECT * FROM fn_campaigns EXCEPT SELECT * FROM plain_campaigns) d)",
        &[],
    )
    .unwrap()
    .get(0)
}

#[test]
fn upgrade_from_each_release_keeps_every_row_and_matches_a_fresh_install() {
    install_released_scripts();
    let pg = Cluster::start(ClusterOptions::default());
    let source = Source::start();
    source.fill(40, 70);
    let current = current_version();

    // The reference: a fresh install of the current version, same grants.
    let mut admin = pg.client("postgres");
    admin
        .batch_execute("CREATE ROLE analyst NOLOGIN; CREATE ROLE reader LOGIN IN ROLE analyst")
        .unwrap();
    admin.batch_execute("CREATE DATABASE fresh").unwrap();
    let mut fresh = pg.client("fresh");
    fresh
        .batch_execute("CREATE EXTENSION bravo_metrics; SELECT bravo_grant_reporting('analyst')")
        .unwrap();
    let want = extension_catalog(&mut fresh);
    assert!(
        want.iter()
            .any(|l| l.starts_with("relation bravo.bravo_media_buy_rollup")),
        "the current version has the media buy rollup: {want:#?}"
    );

    for old in RELEASED {
        let db = format!("from_{}", old.replace('.', "_"));
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .unwrap();
        let mut c = pg.client(&db);
        c.batch_execute(&format!(
            "CREATE EXTENSION bravo_metrics VERSION '{old}';
             SELECT bravo_grant_reporting('analyst');
             INSERT INTO media_buys (id, campaign_id) SELECT g, g % 4 + 1 FROM generate_series(1, 36) g;"
        ))
        .unwrap();
        let secret = pg.secret_file(&format!("{db}.secret"), "snow");
        point_at(&mut c, &db, source.port(), &secret);
        drop(c);
        let mut c = pg.client(&db);
        // A real sync under the old SQL (and the current library): buys 37..40 are not
        // in media_buys yet, so the run also leaves set-aside rows behind.
        c.batch_execute("SELECT bravo_sync(70)").unwrap();
        c.batch_execute("UPDATE media_buys SET campaign_id = 9 WHERE id = 5")
            .unwrap();
        let columns = columns_of(&mut c);
        let before = kept_rows(&mut c, &columns);
        let set_aside: i64 = c
            .query_one("SELECT count(*) FROM bravo_set_aside", &[])
            .unwrap()
            .get(0);
        assert!(set_aside > 0, "the fixture has set-aside rows to keep");

        c.batch_execute(&format!(
            "ALTER EXTENSION bravo_metrics UPDATE TO '{current}'"
        ))
        .unwrap_or_else(|e| panic!("update from {old}: {}", db_message(&e)));
        let v: String = c
            .query_one(
                "SELECT extversion FROM pg_extension WHERE extname = 'bravo_metrics'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(v, current);

        // Nothing lost or rewritten.
        assert_eq!(
            kept_rows(&mut c, &columns),
            before,
            "rows kept by the update from {old}"
        );
        // The same objects, definitions and privileges as a fresh install.
        let got = extension_catalog(&mut c);
        let missing: Vec<_> = want.iter().filter(|l| !got.contains(l)).collect();
        let extra: Vec<_> = got.iter().filter(|l| !want.contains(l)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "update from {old} differs from a fresh install\nmissing: {missing:#?}\nextra: {extra:#?}"
        );
        // The new rollup was built from the rows already there, and the reports are
        // exact, for the role granted reporting before the update too.
        let built: i64 = c
            .query_one("SELECT count(*) FROM bravo.bravo_media_buy_rollup", &[])
            .unwrap()
            .get(0);
        assert!(built > 0);
        assert_eq!(
            report_diffs(&mut c),
            0,
            "reports after the update from {old}"
        );
        let mut reader = pg.client_as(&db, "reader");
        assert_eq!(
            report_diffs(&mut reader),
            0,
            "reports as the reporting role"
        );

        // Later writes keep both rollups exact: a sync with revised rows, new buys, a move.
        source.sql(&[
            "UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET impressions = impressions + 5, spend = spend + 0.01 WHERE media_buy_id % 3 = 0",
            "DELETE FROM PLATFORM_BUY_DAILY_VIDEOS WHERE media_buy_id = 7 AND date > dateadd(day, -10, current_date)",
        ]);
        c.batch_execute(
            "INSERT INTO media_buys (id, campaign_id) SELECT g, 2 FROM generate_series(37, 40) g;
             SELECT bravo_sync(70);
             UPDATE media_buys SET campaign_id = 1 WHERE id = 6;",
        )
        .unwrap();
        assert_eq!(report_diffs(&mut c), 0, "reports after a sync on {current}");
        let stale: i64 = c
            .query_one(
                "SELECT (SELECT count(*) FROM bravo.bravo_media_buy_rollup) - (SELECT count(*) FROM (
                     SELECT media_buy_id, date_trunc('month', date::timestamp) FROM platform_buy_daily_impressions
                     UNION SELECT media_buy_id, date_trunc('month', date::timestamp) FROM platform_buy_daily_videos) k)",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(
            stale, 0,
            "one media buy rollup row per buy and month with data"
        );

        // The new families work on the updated database: enabling creates the table and
        // attaches the rollup, its rows reach the campaign reports (for the reporting
        // role too), and a sync with no such source in Snowflake skips it.
        c.batch_execute(
            "SELECT bravo_enable_family('conversions');
             INSERT INTO platform_buy_daily_conversions (date, media_buy_id, post_click_conversions,
                    post_view_conversions, conversion_value) VALUES (current_date - 1, 6, 3, 4, 12.5);",
        )
        .unwrap();
        for client in [&mut c, &mut reader] {
            let row = client
                .query_one(
                    "SELECT conversions, conversion_value::text FROM bravo_campaign_totals(1)",
                    &[],
                )
                .unwrap();
            assert_eq!(
                (row.get::<_, i64>(0), row.get::<_, String>(1)),
                (7, "12.50".to_string()),
                "conversions in the report after the update from {old}"
            );
        }
        c.batch_execute("SELECT bravo_sync(70)").unwrap();
        let missing: Vec<String> = c
            .query_one("SELECT missing_sources FROM bravo_schedule_status()", &[])
            .unwrap_or_else(|e| panic!("status after the update from {old}: {}", db_message(&e)))
            .get(0);
        assert_eq!(missing, ["conversions"]);
        let status: String = c
            .query_one(
                "SELECT status FROM bravo_sync_run_targets WHERE target = 'conversions' ORDER BY run_id DESC LIMIT 1",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(status, "missing_source");
    }
}

/// A view built on a report whose columns 0.4.0 extends stops the update, with the
/// view named; nothing changes until it is dropped.
#[test]
fn an_update_that_would_drop_a_users_view_refuses_and_names_it() {
    install_released_scripts();
    let pg = Cluster::start(ClusterOptions::default());
    let mut admin = pg.client("postgres");
    admin.batch_execute("CREATE DATABASE views").unwrap();
    let mut c = pg.client("views");
    c.batch_execute(
        "CREATE EXTENSION bravo_metrics VERSION '0.3.0';
         CREATE VIEW campaign_one AS SELECT impressions, spend FROM bravo_campaign_totals(1);",
    )
    .unwrap();
    let e = c
        .batch_execute("ALTER EXTENSION bravo_metrics UPDATE")
        .unwrap_err();
    assert_eq!(sqlstate(&e), "2BP01", "{}", db_message(&e));
    let m = db_message(&e);
    assert!(m.contains("view campaign_one"), "{m}");
    let v: String = c
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'bravo_metrics'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(v, "0.3.0");
    c.batch_execute(
        "DROP VIEW campaign_one; ALTER EXTENSION bravo_metrics UPDATE;
         CREATE VIEW campaign_one AS SELECT impressions, spend, conversions FROM bravo_campaign_totals(1);",
    )
    .unwrap();
}

#[test]
fn an_update_with_a_schema_named_bravo_refuses_and_changes_nothing() {
    install_released_scripts();
    let pg = Cluster::start(ClusterOptions::default());
    let mut admin = pg.client("postgres");
    admin.batch_execute("CREATE DATABASE taken").unwrap();
    let mut c = pg.client("taken");
    c.batch_execute(
        "CREATE EXTENSION bravo_metrics VERSION '0.3.0';
         INSERT INTO media_buys (id, campaign_id) VALUES (1, 1);
         INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions) VALUES (current_date, 1, 5);
         CREATE SCHEMA bravo;",
    )
    .unwrap();
    let e = c
        .batch_execute("ALTER EXTENSION bravo_metrics UPDATE")
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42P06", "{}", db_message(&e));
    assert!(
        db_message(&e).contains("ALTER SCHEMA bravo RENAME"),
        "{}",
        db_message(&e)
    );
    let r = c
        .query_one(
            "SELECT (SELECT extversion FROM pg_extension WHERE extname = 'bravo_metrics'),
                    to_regclass('public.bravo_campaign_rollup') IS NOT NULL,
                    (SELECT impressions FROM bravo_campaign_totals(1))",
            &[],
        )
        .unwrap();
    assert_eq!(
        (
            r.get::<_, String>(0),
            r.get::<_, bool>(1),
            r.get::<_, i64>(2)
        ),
        ("0.3.0".into(), true, 5)
    );
    c.batch_execute("ALTER SCHEMA bravo RENAME TO mine; ALTER EXTENSION bravo_metrics UPDATE")
        .unwrap();
    let moved: bool = c
        .query_one(
            "SELECT to_regclass('bravo.bravo_campaign_rollup') IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(moved);
}
