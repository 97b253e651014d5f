//! The extension's own schema, against a real PostgreSQL 15 and the real fakesnow
//! server: the application's schema gets the calls users make and nothing internal;
//! schema `bravo` holds the rest and is private; an existing schema of that name is
//! never taken over; and the extension works installed in another schema than public.

mod common;

use common::*;
use postgres::Client;

/// The functions users call, in the schema CREATE EXTENSION was given (one line per
/// overload: bravo_refresh takes a bigint or a text campaign id).
const USER_FUNCTIONS: &[&str] = &[
    "bravo_campaign_daily",
    "bravo_campaign_hour_of_day",
    "bravo_campaign_hourly",
    "bravo_campaign_totals",
    "bravo_campaigns_totals",
    "bravo_disable_family",
    "bravo_distribute",
    "bravo_doctor",
    "bravo_enable_family",
    "bravo_export",
    "bravo_export_url",
    "bravo_freshness",
    "bravo_grant_monitoring",
    "bravo_grant_reporting",
    "bravo_intraday_status",
    "bravo_last_sync_at",
    "bravo_media_buy_totals",
    "bravo_reconcile_hourly",
    "bravo_refresh",
    "bravo_refresh",
    "bravo_report_attach",
    "bravo_report_rebuild",
    "bravo_restore_families",
    "bravo_revoke_monitoring",
    "bravo_revoke_reporting",
    "bravo_run_now",
    "bravo_schedule_status",
    "bravo_sync",
    "bravo_sync_hourly",
    "bravo_sync_intraday",
];

/// The views users read, in the same schema.
const USER_VIEWS: &[&str] = &[
    "bravo_export_runs",
    "bravo_families",
    "bravo_family_metrics",
    "bravo_freshness",
    "bravo_set_aside",
    "bravo_sync_progress",
    "bravo_sync_run_targets",
    "bravo_sync_runs",
];

/// (schema, kind, name) of every member object of the extension that has a schema.
fn members(c: &mut Client) -> Vec<(String, String, String)> {
    c.query(
        "WITH m AS (SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                     WHERE e.extname = 'bravo_metrics' AND d.deptype = 'e')
         SELECT p.pronamespace::regnamespace::text, 'function', p.proname::text
           FROM m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
         UNION ALL
         SELECT r.relnamespace::regnamespace::text, r.relkind::text, r.relname::text
           FROM m JOIN pg_class r ON m.classid = 'pg_class'::regclass AND r.oid = m.objid
         ORDER BY 1, 2, 3",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect()
}

#[test]
fn the_applications_schema_gets_only_the_users_calls_and_bravo_stays_private() {
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.client("postgres");
    c.batch_execute("CREATE DATABASE media_tool").unwrap();
    c.batch_execute(
        "CREATE ROLE nobody LOGIN; CREATE ROLE analysts NOLOGIN; CREATE ROLE analyst LOGIN IN ROLE analysts;",
    )
    .unwrap();
    let mut c = pg.client("media_tool");
    c.batch_execute("CREATE EXTENSION bravo_metrics").unwrap();
    let all = members(&mut c);

    let public_functions: Vec<&str> = all
        .iter()
        .filter(|(s, k, _)| s == "public" && k == "function")
        .map(|(_, _, n)| n.as_str())
        .collect();
    assert_eq!(public_functions, USER_FUNCTIONS);
    let public_relations: Vec<(&str, &str)> = all
        .iter()
        .filter(|(s, k, _)| s == "public" && k != "function")
        .map(|(_, k, n)| (k.as_str(), n.as_str()))
        .collect();
    assert_eq!(
        public_relations,
        USER_VIEWS.iter().map(|v| ("v", *v)).collect::<Vec<_>>(),
        "only views of the extension in public"
    );
    // Everything else is in bravo: every helper, the tables behind the views, the
    // rollups, the sequences.
    let elsewhere: Vec<_> = all
        .iter()
        .filter(|(s, _, _)| s != "public" && s != "bravo")
        .collect();
    assert!(elsewhere.is_empty(), "{elsewhere:?}");
    let in_bravo = |kind: &str, name: &str| {
        all.iter()
            .any(|(s, k, n)| s == "bravo" && k == kind && n == name)
    };
    for t in [
        "bravo_sync_runs",
        "bravo_sync_run_targets",
        "bravo_set_aside",
        "bravo_families",
        "bravo_family_metrics",
        "bravo_stale_targets",
        "bravo_high_water",
        "bravo_campaign_rollup",
        "bravo_media_buy_rollup",
    ] {
        assert!(in_bravo("r", t), "table bravo.{t}");
    }
    let helpers = all
        .iter()
        .filter(|(s, k, n)| s == "bravo" && k == "function" && n.starts_with("_bravo_"))
        .count();
    assert!(helpers >= 30, "{helpers} helpers in bravo");
    assert!(in_bravo("function", "bravo_scheduler_state"));
    assert!(
        !all.iter()
            .any(|(s, _, n)| s == "public" && n.starts_with("_bravo_")),
        "no helper in public"
    );

    // The schema is private: no USAGE for PUBLIC; a reporting role gets USAGE (its
    // reports call helpers there) and still cannot read the run log.
    c.batch_execute(
        "INSERT INTO media_buys (id, campaign_id) VALUES (1, 10);
         INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions, clicks, spend)
              VALUES (current_date - 1, 1, 1000, 10, 2.50);
         SELECT bravo_grant_reporting('analysts');",
    )
    .unwrap();
    let usage = |c: &mut Client, role: &str| -> bool {
        c.query_one(
            "SELECT has_schema_privilege($1, 'bravo', 'USAGE')",
            &[&role],
        )
        .unwrap()
        .get(0)
    };
    assert!(!usage(&mut c, "nobody"));
    assert!(usage(&mut c, "analyst"));
    let mut nobody = pg.client_as("media_tool", "nobody");
    for q in [
        "SELECT * FROM bravo.bravo_sync_runs",
        "SELECT * FROM bravo_sync_runs",
        "SELECT bravo._bravo_money(1)",
        "SELECT * FROM bravo_campaign_totals(10)",
    ] {
        let err = nobody.batch_execute(q).unwrap_err();
        assert_eq!(sqlstate(&err), "42501", "{q}: {}", db_message(&err));
    }
    let mut analyst = pg.client_as("media_tool", "analyst");
    let row = analyst
        .query_one(
            "SELECT impressions, spend::text FROM bravo_campaign_totals(10)",
            &[],
        )
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, String>(1)),
        (1000, "2.50".into())
    );
    for q in [
        "SELECT * FROM bravo_sync_runs",
        "SELECT * FROM bravo.bravo_sync_runs",
    ] {
        let err = analyst.batch_execute(q).unwrap_err();
        assert_eq!(sqlstate(&err), "42501", "{q}: {}", db_message(&err));
    }
    // Revoking reporting takes the schema's USAGE back too.
    c.batch_execute("SELECT bravo_revoke_reporting('analysts')")
        .unwrap();
    assert!(!usage(&mut c, "analyst"));

    // DROP EXTENSION takes schema bravo with it, and keeps the media tool's rows.
    c.batch_execute("DROP EXTENSION bravo_metrics").unwrap();
    let left: (bool, i64) = {
        let r = c
            .query_one(
                "SELECT to_regnamespace('bravo') IS NULL, (SELECT count(*) FROM platform_buy_daily_impressions)",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(left, (true, 1));
}

#[test]
fn an_existing_schema_named_bravo_is_never_taken_over() {
    let pg = Cluster::start(ClusterOptions::default());
    let mut admin = pg.client("postgres");
    admin.batch_execute("CREATE ROLE someone").unwrap();
    admin.batch_execute("CREATE DATABASE app").unwrap();
    let mut c = pg.client("app");
    c.batch_execute(
        "CREATE SCHEMA bravo AUTHORIZATION someone;
         CREATE TABLE bravo.notes (t text); INSERT INTO bravo.notes VALUES ('mine');",
    )
    .unwrap();
    let err = c
        .batch_execute("CREATE EXTENSION bravo_metrics")
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42P06", "{}", db_message(&err));
    let text = db_message(&err);
    assert!(
        text.contains("schema \"bravo\" already exists") && text.contains("Rename or drop"),
        "{text}"
    );
    // Nothing was created, and the schema is as it was.
    let r = c
        .query_one(
            "SELECT to_regclass('public.media_buys') IS NULL,
                    (SELECT count(*) FROM pg_extension WHERE extname = 'bravo_metrics'),
                    (SELECT string_agg(t, ',') FROM bravo.notes),
                    (SELECT count(*) FROM pg_class WHERE relnamespace = 'bravo'::regnamespace)",
            &[],
        )
        .unwrap();
    assert_eq!(
        (
            r.get::<_, bool>(0),
            r.get::<_, i64>(1),
            r.get::<_, String>(2),
            r.get::<_, i64>(3)
        ),
        (true, 0, "mine".into(), 1)
    );
    // Renamed, the extension installs.
    c.batch_execute("ALTER SCHEMA bravo RENAME TO notes; CREATE EXTENSION bravo_metrics")
        .unwrap();
}

#[test]
fn installed_in_another_schema_it_syncs_and_reports_there() {
    let pg = Cluster::start(ClusterOptions::default());
    let source = Source::start();
    source.fill(12, 20);
    let mut admin = pg.client("postgres");
    admin.batch_execute("CREATE DATABASE app").unwrap();
    let mut c = pg.client("app");
    c.batch_execute(
        "CREATE SCHEMA media;
         CREATE EXTENSION bravo_metrics SCHEMA media;
         INSERT INTO media.media_buys (id, campaign_id) SELECT g, g % 3 + 1 FROM generate_series(1, 12) g;",
    )
    .unwrap();
    let secret = pg.secret_file("app.secret", "snow");
    point_at(&mut c, "app", source.port(), &secret);
    drop(c);
    let mut c = pg.client("app");
    // Nothing of the extension's in public; the calls work qualified, and unqualified
    // with the schema on the search path.
    let in_public: i64 = c
        .query_one(
            "SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace AND proname LIKE '%bravo%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(in_public, 0);
    let synced: i64 = c
        .query_one(
            "SELECT sum(inserted)::bigint FROM media.bravo_sync(30)",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(synced > 0);
    let plain: i64 = c
        .query_one(
            "SELECT sum(p.impressions)::bigint FROM media.platform_buy_daily_impressions p
               JOIN media.media_buys m ON m.id = p.media_buy_id WHERE m.campaign_id = 2",
            &[],
        )
        .unwrap()
        .get(0);
    c.batch_execute("SET search_path = media, public").unwrap();
    let reported: i64 = c
        .query_one("SELECT impressions FROM bravo_campaign_totals(2)", &[])
        .unwrap()
        .get(0);
    assert_eq!(reported, plain);
    let runs: i64 = c
        .query_one(
            "SELECT count(*) FROM bravo_sync_runs WHERE status = 'succeeded'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(runs, 1);
}

/// Campaign 2's impressions by a plain GROUP BY over the media tool's tables in `schema`.
fn plain_impressions(c: &mut Client, schema: &str) -> i64 {
    c.query_one(
        &format!(
            "SELECT coalesce(sum(p.impressions), 0)::bigint FROM {schema}.platform_buy_daily_impressions p
               JOIN {schema}.media_buys m ON m.id = p.media_buy_id WHERE m.campaign_id = 2"
        ),
        &[],
    )
    .unwrap()
    .get(0)
}

/// The tables carrying the extension's rollup triggers.
fn triggered_tables(c: &mut Client) -> Vec<String> {
    c.query(
        "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE tgname LIKE 'bravo_rollup_%' ORDER BY 1",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn the_media_tools_tables_live_in_the_schema_the_setting_names_and_reports_follow_a_move() {
    let pg = Cluster::start(ClusterOptions::default());
    let source = Source::start();
    source.fill(12, 20);
    let mut admin = pg.client("postgres");
    admin.batch_execute("CREATE DATABASE app").unwrap();
    admin
        .batch_execute("CREATE ROLE analysts NOLOGIN; CREATE ROLE analyst LOGIN IN ROLE analysts")
        .unwrap();
    // The README's line, before the schema exists: CREATE EXTENSION says so.
    admin
        .batch_execute("ALTER DATABASE app SET bravo_metrics.media_tool_schema = 'media'")
        .unwrap();
    let mut c = pg.client("app");
    let err = c
        .batch_execute("CREATE EXTENSION bravo_metrics")
        .unwrap_err();
    assert_eq!(sqlstate(&err), "3F000", "{}", db_message(&err));
    assert!(
        db_message(&err).contains("bravo_metrics.media_tool_schema"),
        "{}",
        db_message(&err)
    );

    c.batch_execute(
        "CREATE SCHEMA media;
         CREATE EXTENSION bravo_metrics;
         INSERT INTO media.media_buys (id, campaign_id) SELECT g, g % 3 + 1 FROM generate_series(1, 12) g;",
    )
    .unwrap();
    // The tables were created in media; public has the calls only.
    let where_: Vec<(String, String)> = c
        .query(
            "SELECT schemaname::text, tablename::text FROM pg_tables
              WHERE tablename IN ('media_buys', 'platform_buy_daily_impressions', 'platform_buy_daily_videos')
              ORDER BY 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        where_,
        [
            ("media".to_string(), "media_buys".to_string()),
            ("media".into(), "platform_buy_daily_impressions".into()),
            ("media".into(), "platform_buy_daily_videos".into())
        ]
    );
    let secret = pg.secret_file("app.secret", "snow");
    point_at(&mut c, "app", source.port(), &secret);
    drop(c);
    let mut c = pg.client("app");
    let synced: i64 = c
        .query_one("SELECT sum(inserted)::bigint FROM bravo_sync(30)", &[])
        .unwrap()
        .get(0);
    assert!(synced > 0);
    let want = plain_impressions(&mut c, "media");
    assert!(want > 0);
    let got: i64 = c
        .query_one("SELECT impressions FROM bravo_campaign_totals(2)", &[])
        .unwrap()
        .get(0);
    assert_eq!(got, want);
    let buys: i64 = c
        .query_one(
            "SELECT sum(impressions)::bigint FROM bravo_media_buy_totals(2)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(buys, want);
    let fresh: bool = c
        .query_one(
            "SELECT impressions_latest_date = (SELECT max(date) FROM media.platform_buy_daily_impressions)
               FROM bravo_schedule_status()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(fresh, "freshness reads the media schema's tables");
    let made: String = c
        .query_one("SELECT bravo_enable_family('conversions')::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(made, "media.platform_buy_daily_conversions");
    // A reporting role reads the reports (USAGE on media comes with the grant).
    c.batch_execute("SELECT bravo_grant_reporting('analysts')")
        .unwrap();
    let mut analyst = pg.client_as("app", "analyst");
    let seen: i64 = analyst
        .query_one("SELECT impressions FROM bravo_campaign_totals(2)", &[])
        .unwrap()
        .get(0);
    assert_eq!(seen, want);

    // The media tool moves to schema media2 (copies of the tables, campaign 2's first
    // buy without its rows), and the setting with it.
    c.batch_execute(
        "CREATE SCHEMA media2;
         CREATE TABLE media2.media_buys (LIKE media.media_buys INCLUDING ALL);
         INSERT INTO media2.media_buys SELECT * FROM media.media_buys;
         CREATE TABLE media2.platform_buy_daily_impressions (LIKE media.platform_buy_daily_impressions INCLUDING ALL);
         INSERT INTO media2.platform_buy_daily_impressions SELECT * FROM media.platform_buy_daily_impressions WHERE media_buy_id <> 1;
         CREATE TABLE media2.platform_buy_daily_videos (LIKE media.platform_buy_daily_videos INCLUDING ALL);
         INSERT INTO media2.platform_buy_daily_videos SELECT * FROM media.platform_buy_daily_videos;
         ALTER DATABASE app SET bravo_metrics.media_tool_schema = 'media2';",
    )
    .unwrap();
    drop(c);
    let mut c = pg.client("app");
    // Not attached yet: the sync refuses rather than write rows the reports miss.
    let err = c.batch_execute("SELECT * FROM bravo_sync(30)").unwrap_err();
    assert_eq!(sqlstate(&err), "55000", "{}", db_message(&err));
    assert!(
        db_message(&err).contains("bravo_report_attach()"),
        "{}",
        db_message(&err)
    );
    c.batch_execute("SELECT bravo_report_attach()").unwrap();
    assert_eq!(
        triggered_tables(&mut c),
        [
            "media2.media_buys",
            "media2.platform_buy_daily_impressions",
            "media2.platform_buy_daily_videos"
        ]
        .map(String::from),
        "the triggers left the old tables"
    );
    // The reports read media2 now: buy 1's rows are not there.
    let moved = plain_impressions(&mut c, "media2");
    assert!(moved < want);
    let got: i64 = c
        .query_one("SELECT impressions FROM bravo_campaign_totals(2)", &[])
        .unwrap()
        .get(0);
    assert_eq!(got, moved);
    // The enabled conversions family has no table in media2 yet: the sync names it.
    let err = c.batch_execute("SELECT * FROM bravo_sync(30)").unwrap_err();
    assert_eq!(sqlstate(&err), "42P01", "{}", db_message(&err));
    assert!(
        db_message(&err).contains("media2.platform_buy_daily_conversions"),
        "{}",
        db_message(&err)
    );
    // Enabling it creates it there, and the next sync fills media2 (buy 1's rows are
    // back).
    let made: String = c
        .query_one("SELECT bravo_enable_family('conversions')::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(made, "media2.platform_buy_daily_conversions");
    c.batch_execute("SELECT * FROM bravo_sync(30)").unwrap();
    assert_eq!(plain_impressions(&mut c, "media2"), want);
    let got: i64 = c
        .query_one("SELECT impressions FROM bravo_campaign_totals(2)", &[])
        .unwrap()
        .get(0);
    assert_eq!(got, want);
    let seen: i64 = analyst
        .query_one("SELECT impressions FROM bravo_campaign_totals(2)", &[])
        .unwrap_or_else(|e| panic!("{}", db_message(&e)))
        .get(0);
    assert_eq!(seen, want, "the reporting role reads the moved tables");
}

/// Docs where PostgreSQL users look: every function, table, view and sequence of the
/// extension (and schema bravo, and its event trigger) has a comment (`\df+`, `\d+`,
/// `\dx+` show them), and every setting a long description
/// (`pg_settings.extra_desc`).
#[test]
fn every_object_and_every_setting_of_the_extension_is_described() {
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.client("postgres");
    c.batch_execute("CREATE DATABASE media_tool").unwrap();
    let mut c = pg.client("media_tool");
    c.batch_execute("CREATE EXTENSION bravo_metrics").unwrap();

    // (kind, identity, described) of every member object.
    let members: Vec<(String, String, bool)> = c
        .query(
            "WITH m AS (SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                         WHERE e.extname = 'bravo_metrics' AND d.deptype = 'e'
                           AND d.refclassid = 'pg_extension'::regclass)
             SELECT 'function', m.objid::regprocedure::text,
                    coalesce(btrim(obj_description(m.objid, 'pg_proc')), '') <> ''
               FROM m WHERE m.classid = 'pg_proc'::regclass
             UNION ALL
             SELECT CASE r.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                                   WHEN 'S' THEN 'sequence' ELSE 'table' END,
                    m.objid::regclass::text,
                    coalesce(btrim(obj_description(m.objid, 'pg_class')), '') <> ''
               FROM m JOIN pg_class r ON m.classid = 'pg_class'::regclass AND r.oid = m.objid
              WHERE r.relkind IN ('r', 'p', 'v', 'm', 'S')
             UNION ALL
             SELECT 'schema', n.nspname::text,
                    coalesce(btrim(obj_description(m.objid, 'pg_namespace')), '') <> ''
               FROM m JOIN pg_namespace n ON m.classid = 'pg_namespace'::regclass AND n.oid = m.objid
             UNION ALL
             SELECT 'event trigger', t.evtname::text,
                    coalesce(btrim(obj_description(m.objid, 'pg_event_trigger')), '') <> ''
               FROM m JOIN pg_event_trigger t ON m.classid = 'pg_event_trigger'::regclass AND t.oid = m.objid
             UNION ALL
             SELECT 'trigger', t.tgname || ' on ' || t.tgrelid::regclass::text,
                    coalesce(btrim(obj_description(m.objid, 'pg_trigger')), '') <> ''
               FROM m JOIN pg_trigger t ON m.classid = 'pg_trigger'::regclass AND t.oid = m.objid
             ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let count = |kind: &str| members.iter().filter(|(k, _, _)| k == kind).count();
    // Not vacuous: the install script's objects are all there.
    assert!(count("function") >= 80, "{} functions", count("function"));
    assert!(count("table") >= 11, "{} tables", count("table"));
    assert!(count("view") >= USER_VIEWS.len(), "{members:?}");
    assert!(count("sequence") >= 3, "{} sequences", count("sequence"));
    // The rollup triggers on media_buys and the metric tables (members, in \dx+).
    assert!(count("trigger") >= 12, "{} triggers", count("trigger"));
    let undescribed: Vec<String> = members
        .iter()
        .filter(|(_, _, described)| !described)
        .map(|(kind, name, _)| format!("{kind} {name}"))
        .collect();
    assert!(
        undescribed.is_empty(),
        "{} member objects of bravo_metrics have no comment (add them to src/comments.sql and to the upgrade script):\n  {}",
        undescribed.len(),
        undescribed.join("\n  ")
    );

    // Every setting has a long description (in a session that has the library loaded:
    // otherwise the settings are unknown here).
    c.batch_execute("LOAD 'bravo_metrics'").unwrap();
    let settings: Vec<(String, bool)> = c
        .query(
            "SELECT name, coalesce(btrim(extra_desc), '') <> '' FROM pg_settings
              WHERE starts_with(name, 'bravo_metrics.') ORDER BY name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(
        settings.len() >= 40,
        "{} settings: {settings:?}",
        settings.len()
    );
    let without: Vec<&str> = settings
        .iter()
        .filter(|(_, described)| !described)
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(
        without.is_empty(),
        "{} settings have no long description (pg_settings.extra_desc; src/settings.rs):\n  {}",
        without.len(),
        without.join("\n  ")
    );
}
