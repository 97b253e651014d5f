//! The security model on a real PostgreSQL 15 cluster with password-authenticated
//! ordinary roles (README, "Security model"). Each test reproduces an escalation a
//! production DBA found in 0.2.0 and shows it now fails, and that the legitimate
//! paths (syncs, run-now, reporting) still work.

mod common;

use std::time::Duration;

use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;
use postgres::Client;

fn source(buys: u64) -> SyntheticSource {
    SyntheticSource::start(SyntheticOptions {
        media_buys: buys,
        days: 31,
        end_date: chrono::Utc::now().date_naive(),
        ..Default::default()
    })
}

fn is_superuser(c: &mut Client, role: &str) -> bool {
    c.query_one(
        "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1",
        &[&role],
    )
    .unwrap()
    .get(0)
}

/// Waits for run `run_id` to leave the running state; returns its status.
fn wait_run(c: &mut Client, run_id: i64) -> String {
    wait_for(Duration::from_secs(60), "the run-now sync", || {
        let rows = c
            .query(
                "SELECT status FROM public.bravo_sync_runs WHERE run_id = $1 AND status <> 'running'",
                &[&run_id],
            )
            .ok()?;
        rows.first().map(|r| r.get::<_, String>(0))
    })
}

/// Item 1: a role that can create objects in the extension's schema (the database
/// owner in PG 15) plants functions named like the catalog's and points the
/// database's search_path at them. Nothing the extension runs as superuser (manual
/// sync, failed sync with its autonomous run-log writer, run-now worker, status)
/// calls them.
#[test]
fn trojans_in_the_extension_schema_never_run_as_superuser() {
    let src = source(40);
    let pg = Cluster::start(ClusterOptions::default());
    pg.require_passwords();
    let mut su = pg.media_tool("media_tool", src.port(), 40, 4);
    su.batch_execute(
        "CREATE ROLE dbowner LOGIN PASSWORD 'dbowner-pw';
         ALTER DATABASE media_tool OWNER TO dbowner;",
    )
    .unwrap();
    let mut owner = pg.client_password("media_tool", "dbowner", "dbowner-pw");
    owner
        .batch_execute(
            "CREATE TABLE public.trojan_calls (who text, fn text);
             CREATE FUNCTION public.trojan(fn text) RETURNS void LANGUAGE plpgsql AS $$
             BEGIN
                 INSERT INTO public.trojan_calls VALUES (current_user, fn);
                 IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
                     EXECUTE 'ALTER ROLE dbowner SUPERUSER';
                 END IF;
             END $$;
             CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE plpgsql AS
               $$ BEGIN PERFORM public.trojan('now'); RETURN pg_catalog.now(); END $$;
             CREATE FUNCTION public.to_regclass(text) RETURNS regclass LANGUAGE plpgsql AS
               $$ BEGIN PERFORM public.trojan('to_regclass'); RETURN pg_catalog.to_regclass($1); END $$;
             CREATE FUNCTION public.pg_try_advisory_xact_lock(integer, integer) RETURNS boolean LANGUAGE plpgsql AS
               $$ BEGIN PERFORM public.trojan('lock'); RETURN pg_catalog.pg_try_advisory_xact_lock($1, $2); END $$;
             CREATE FUNCTION public.set_config(text, text, boolean) RETURNS text LANGUAGE plpgsql AS
               $$ BEGIN PERFORM public.trojan('set_config'); RETURN pg_catalog.set_config($1, $2, $3); END $$;
             CREATE FUNCTION public.quote_ident(text) RETURNS text LANGUAGE plpgsql AS
               $$ BEGIN PERFORM public.trojan('quote_ident'); RETURN pg_catalog.quote_ident($1); END $$;
             CREATE FUNCTION public.make_interval(days integer) RETURNS interval LANGUAGE plpgsql AS
               $$ BEGIN PERFORM public.trojan('make_interval'); RETURN pg_catalog.make_interval(days => days); END $$;
             ALTER DATABASE media_tool SET search_path = public, pg_catalog;",
        )
        .unwrap();
    drop(owner);

    // A superuser session in that database (its search_path is now public first).
    let mut su = pg.client("media_tool");
    let path: String = su.query_one("SHOW search_path", &[]).unwrap().get(0);
    assert_eq!(path, "public, pg_catalog", "the trap is set");
    su.query("SELECT * FROM public.bravo_sync(3)", &[])
        .expect("manual sync");
    su.query("SELECT * FROM public.bravo_schedule_status()", &[])
        .expect("status");
    // A failed sync: its run row is written by the autonomous writer worker.
    su.batch_execute("SET bravo_metrics.impressions_source = 'NOT_THERE'")
        .unwrap();
    assert!(su.query("SELECT * FROM public.bravo_sync(3)", &[]).is_err());
    su.batch_execute("RESET bravo_metrics.impressions_source")
        .unwrap();
    // Run-now: a background worker connected to this database.
    let run_id: i64 = su
        .query_one("SELECT public.bravo_run_now()", &[])
        .unwrap()
        .get(0);
    assert_eq!(wait_run(&mut su, run_id), "succeeded");

    let calls: Vec<String> = su
        .query(
            "SELECT who || ':' || fn FROM public.trojan_calls ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        calls.is_empty(),
        "the extension called planted functions: {calls:?}"
    );
    assert!(
        !is_superuser(&mut su, "dbowner"),
        "dbowner became superuser"
    );
}

/// Item 2: metric tables owned by the application role, with a statement trigger of
/// its own that tries to make it superuser. Syncs (manual and run-now) write those
/// tables as the application role, so the trigger runs as `app`, cannot escalate,
/// and the sync and the reports are still right.
#[test]
fn application_owned_tables_are_written_as_their_owner() {
    let src = source(30);
    let pg = Cluster::start(ClusterOptions::default());
    pg.require_passwords();
    let mut su = pg.client("postgres");
    su.batch_execute("CREATE ROLE app LOGIN PASSWORD 'app-pw'")
        .unwrap();
    su.batch_execute("CREATE DATABASE media_tool").unwrap();
    let mut su = pg.client("media_tool");
    su.batch_execute("GRANT CREATE ON SCHEMA public TO app")
        .unwrap();
    let mut app = pg.client_password("media_tool", "app", "app-pw");
    app.batch_execute(
        "CREATE TABLE media_buys (id bigint PRIMARY KEY, campaign_id bigint NOT NULL, name text,
             created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE platform_buy_daily_impressions (date date NOT NULL,
             media_buy_id bigint NOT NULL REFERENCES media_buys (id), impressions bigint NOT NULL,
             clicks bigint NOT NULL, spend numeric NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
             PRIMARY KEY (media_buy_id, date));
         CREATE TABLE platform_buy_daily_videos (date date NOT NULL,
             media_buy_id bigint NOT NULL REFERENCES media_buys (id), video_starts bigint NOT NULL,
             video_completions bigint NOT NULL, video_views bigint NOT NULL,
             created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
             PRIMARY KEY (media_buy_id, date));
         CREATE TABLE audit (who text, sess text, escalated boolean);
         CREATE FUNCTION videos_audit() RETURNS trigger LANGUAGE plpgsql AS $$
         DECLARE ok boolean := true;
         BEGIN
             BEGIN
                 EXECUTE 'ALTER ROLE app SUPERUSER';
             EXCEPTION WHEN OTHERS THEN ok := false;
             END;
             INSERT INTO audit VALUES (current_user, session_user, ok);
             RETURN NULL;
         END $$;
         CREATE TRIGGER videos_audit AFTER INSERT OR UPDATE ON platform_buy_daily_videos
             FOR EACH STATEMENT EXECUTE FUNCTION videos_audit();
         INSERT INTO media_buys (id, campaign_id) SELECT g, g % 3 + 1 FROM generate_series(1, 30) g;",
    )
    .unwrap();
    su.batch_execute("CREATE EXTENSION bravo_metrics").unwrap();
    let secret = pg.secret_file("media_tool.secret", "snow");
    point_at(&mut su, "media_tool", src.port(), &secret);
    let mut su = pg.client("media_tool");

    let rows = su.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    assert_eq!(rows.len(), 2, "both targets synced");
    let run_id: i64 = su.query_one("SELECT bravo_run_now()", &[]).unwrap().get(0);
    assert_eq!(wait_run(&mut su, run_id), "succeeded");

    let audit: Vec<(String, bool)> = su
        .query("SELECT who, escalated FROM audit", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(!audit.is_empty(), "the application's trigger fired");
    for (who, escalated) in &audit {
        assert_eq!(
            who, "app",
            "the trigger ran as {who}, not as the table owner"
        );
        assert!(!escalated, "ALTER ROLE app SUPERUSER succeeded");
    }
    assert!(!is_superuser(&mut su, "app"));

    // The sync landed and the reports agree with the tables.
    let (n, direct, report): (i64, i64, i64) = {
        let r = su
            .query_one(
                "SELECT (SELECT count(*) FROM platform_buy_daily_videos),
                        (SELECT sum(i.impressions)::bigint FROM platform_buy_daily_impressions i
                           JOIN media_buys b ON b.id = i.media_buy_id WHERE b.campaign_id = 2),
                        (SELECT impressions FROM bravo_campaign_totals(2))",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    };
    assert_eq!(n, 30 * 31);
    assert_eq!(direct, report, "campaign report equals the tables");
    // Owner and creation stamps are the application's rows, untouched by ownership.
    let owner: String = su
        .query_one(
            "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = 'platform_buy_daily_videos'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, "app");
}

/// Item 2, the other half: a superuser-owned metric table carrying a trigger whose
/// function belongs to an ordinary role (granted TRIGGER on the table) is refused,
/// because that function would run as superuser; nothing is written.
#[test]
fn a_trigger_owned_by_an_ordinary_role_on_a_superuser_table_is_refused() {
    let src = source(20);
    let pg = Cluster::start(ClusterOptions::default());
    pg.require_passwords();
    let mut su = pg.media_tool("media_tool", src.port(), 20, 2);
    su.batch_execute(
        "CREATE ROLE intruder LOGIN PASSWORD 'intruder-pw';
         GRANT CREATE ON SCHEMA public TO intruder;
         GRANT TRIGGER ON platform_buy_daily_videos TO intruder;",
    )
    .unwrap();
    let mut intruder = pg.client_password("media_tool", "intruder", "intruder-pw");
    intruder
        .batch_execute(
            "CREATE FUNCTION public.grab() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN EXECUTE 'ALTER ROLE intruder SUPERUSER'; RETURN NULL; END $$;
             CREATE TRIGGER grab AFTER INSERT OR UPDATE ON public.platform_buy_daily_videos
               FOR EACH STATEMENT EXECUTE FUNCTION public.grab();",
        )
        .unwrap();
    let before = metrics_digest(&mut su);
    let err = su.query("SELECT * FROM bravo_sync(30)", &[]).unwrap_err();
    assert_eq!(sqlstate(&err), "42501", "{}", db_message(&err));
    let msg = db_message(&err);
    assert!(
        msg.contains("grab") && msg.contains("intruder") && msg.contains("OWNER TO"),
        "names the trigger, its owner and the way out: {msg}"
    );
    assert_eq!(metrics_digest(&mut su), before, "nothing was written");
    assert!(!is_superuser(&mut su, "intruder"));

    su.batch_execute("ALTER TABLE platform_buy_daily_videos DISABLE TRIGGER grab")
        .unwrap();
    su.query("SELECT * FROM bravo_sync(30)", &[])
        .expect("a disabled trigger does not block the sync");
    assert!(!is_superuser(&mut su, "intruder"));
}

/// Item 3: no function of the extension is executable by PUBLIC; a role with only
/// CONNECT cannot attach the rollup trigger to a look-alike temp table, and attached
/// anywhere but the real tables (by a superuser) it refuses to run; the reports stay
/// right. The reporting role still works.
#[test]
fn rollup_triggers_are_private_and_refuse_other_tables_reporting_still_works() {
    let src = source(30);
    let pg = Cluster::start(ClusterOptions::default());
    pg.require_passwords();
    let mut su = pg.media_tool("media_tool", src.port(), 30, 3);
    su.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    let public_exec: Vec<String> = su
        .query(
            "SELECT p.oid::regprocedure::text
               FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
               JOIN pg_proc p ON p.oid = d.objid
              WHERE e.extname = 'bravo_metrics' AND d.deptype = 'e' AND d.classid = 'pg_proc'::regclass
                AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                             WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(
        public_exec.is_empty(),
        "executable by PUBLIC: {public_exec:?}"
    );

    let totals = |c: &mut Client| -> Vec<i64> {
        c.query(
            "SELECT impressions FROM bravo_campaigns_totals(ARRAY[1, 2, 3]::bigint[])",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    let before = totals(&mut su);

    su.batch_execute("CREATE ROLE intruder LOGIN PASSWORD 'intruder-pw'")
        .unwrap();
    let mut intruder = pg.client_password("media_tool", "intruder", "intruder-pw");
    intruder
        .batch_execute(
            "CREATE TEMP TABLE platform_buy_daily_impressions (date date, media_buy_id bigint,
                 impressions bigint, clicks bigint, spend numeric)",
        )
        .unwrap();
    let err = intruder
        .batch_execute(
            "CREATE TRIGGER t AFTER INSERT ON pg_temp.platform_buy_daily_impressions
               REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
               EXECUTE FUNCTION bravo._bravo_rollup_metric_trigger()",
        )
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501", "{}", db_message(&err));
    for f in [
        "SELECT bravo._bravo_rollup_prune('bravo_campaign_rollup', ARRAY['1'], ARRAY[current_date])",
        "SELECT bravo._bravo_rollup_rebuild('bravo_campaign_rollup')",
        "SELECT public.bravo_report_rebuild()",
        "SELECT * FROM public.bravo_campaign_totals(1)",
        "SELECT bravo._bravo_report_retype()",
        "SELECT bravo._bravo_report_define_api('text', 'text')",
        "SELECT * FROM bravo._bravo_campaign_totals_of(1, NULL, NULL)",
    ] {
        let err = intruder.batch_execute(f).unwrap_err();
        assert_eq!(sqlstate(&err), "42501", "{f}: {}", db_message(&err));
    }

    // Attached by a superuser to another table, the trigger refuses to run.
    su.batch_execute(
        "CREATE TABLE look_alike (date date, media_buy_id bigint, impressions bigint, clicks bigint, spend numeric);
         CREATE TRIGGER t AFTER INSERT ON look_alike REFERENCING NEW TABLE AS new_rows
             FOR EACH STATEMENT EXECUTE FUNCTION bravo._bravo_rollup_metric_trigger();
         CREATE TABLE buys_alike (id bigint, campaign_id bigint);
         CREATE TRIGGER t AFTER INSERT ON buys_alike REFERENCING NEW TABLE AS new_rows
             FOR EACH STATEMENT EXECUTE FUNCTION bravo._bravo_rollup_buy_trigger();",
    )
    .unwrap();
    let err = su
        .batch_execute(
            "INSERT INTO look_alike SELECT current_date, 1, 10000000000, 0, 0 FROM generate_series(1, 3)",
        )
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501", "{}", db_message(&err));
    let err = su
        .batch_execute("INSERT INTO buys_alike VALUES (1, 2)")
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42501", "{}", db_message(&err));
    assert_eq!(totals(&mut su), before, "reports unchanged");

    // The reporting role: password login, every report, nothing else.
    su.batch_execute(
        "CREATE ROLE analyst LOGIN PASSWORD 'analyst-pw'; SELECT bravo_grant_reporting('analyst');",
    )
    .unwrap();
    let mut analyst = pg.client_password("media_tool", "analyst", "analyst-pw");
    assert_eq!(totals(&mut analyst), before);
    for q in [
        "SELECT * FROM bravo_campaign_totals(1, current_date - 10, current_date)",
        "SELECT * FROM bravo_campaign_daily(1, current_date - 10, current_date)",
        "SELECT * FROM bravo_media_buy_totals(1, current_date - 40, current_date)",
    ] {
        let rows = analyst.query(q, &[]).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert!(!rows.is_empty(), "{q}");
    }
    for q in [
        "SELECT * FROM bravo_sync(1)",
        "SELECT bravo_run_now()",
        "SELECT * FROM bravo_sync_runs",
        "DELETE FROM bravo.bravo_campaign_rollup",
    ] {
        let err = analyst.batch_execute(q).unwrap_err();
        assert_eq!(sqlstate(&err), "42501", "{q}");
    }
}

/// Item 4: secret file paths are refused per database and per role (they would be in
/// pg_db_role_setting, which every role reads), work with ALTER SYSTEM, and never
/// reach a non-superuser: not in SHOW, pg_settings or an error of a sync it runs.
#[test]
fn secret_file_paths_stay_with_superusers() {
    let src = source(10);
    let pg = Cluster::start(ClusterOptions {
        preload: true,
        ..Default::default()
    });
    pg.require_passwords();
    let mut su = pg.media_tool("media_tool", src.port(), 10, 2);
    for stmt in [
        "ALTER DATABASE media_tool SET bravo_metrics.snowflake_secret_file = '/etc/bravo/x'",
        "ALTER ROLE postgres SET bravo_metrics.snowflake_secret_file = '/etc/bravo/x'",
        "ALTER DATABASE media_tool SET bravo_metrics.snowflake_private_key_passphrase_file = '/etc/bravo/p'",
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET bravo_metrics.snowflake_secret_file = '/etc/bravo/x' RETURN 1",
    ] {
        let err = su.batch_execute(stmt).unwrap_err();
        assert_eq!(sqlstate(&err), "22023", "{stmt}");
        assert!(db_message(&err).contains("ALTER SYSTEM"), "{stmt}: {}", db_message(&err));
    }
    let leaked: i64 = su
        .query_one(
            "SELECT count(*) FROM pg_db_role_setting, unnest(setconfig) s WHERE s LIKE '%secret%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(leaked, 0);

    // An operator role allowed to run syncs, with the secret file missing.
    let missing = pg.dir.join("no-such-dir/rotated.secret");
    alter_system(
        &mut su,
        "bravo_metrics.snowflake_secret_file",
        &missing.display().to_string(),
    );
    su.batch_execute(
        "CREATE ROLE operator LOGIN PASSWORD 'operator-pw';
         GRANT EXECUTE ON FUNCTION bravo_sync(integer, boolean) TO operator;",
    )
    .unwrap();
    let mut op = pg.client_password("media_tool", "operator", "operator-pw");
    let err = op.query("SELECT * FROM bravo_sync(1)", &[]).unwrap_err();
    let seen = format!("{} {err:?}", db_message(&err));
    assert_eq!(sqlstate(&err), "22023");
    assert!(seen.contains("snowflake_secret_file"), "{seen}");
    assert!(
        !seen.contains("no-such-dir") && !seen.contains("rotated"),
        "the path reached a non-superuser: {seen}"
    );
    for q in [
        "SHOW bravo_metrics.snowflake_secret_file",
        "SELECT current_setting('bravo_metrics.snowflake_secret_file')",
    ] {
        assert_eq!(sqlstate(&op.batch_execute(q).unwrap_err()), "42501", "{q}");
    }
    let visible: i64 = op
        .query_one(
            "SELECT count(*) FROM pg_settings WHERE setting LIKE '%rotated%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(visible, 0);
    // The superuser's error says where the file is; the run log never does.
    let err = su.query("SELECT * FROM bravo_sync(1)", &[]).unwrap_err();
    assert!(
        db_message(&err).contains("rotated.secret"),
        "{}",
        db_message(&err)
    );
    let logged: i64 = su
        .query_one(
            "SELECT count(*) FROM bravo_sync_runs WHERE message LIKE '%rotated%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(logged, 0);
}

/// Item 5: a secret file is capped (64 KiB) and must be a regular file on disk: a big
/// file, /proc/self/environ and a FIFO are refused at once, and nothing is written.
#[test]
fn oversized_and_special_secret_files_are_refused() {
    let src = source(10);
    let pg = Cluster::start(ClusterOptions::default());
    let mut su = pg.media_tool("media_tool", src.port(), 10, 2);
    let before = metrics_digest(&mut su);
    let big = pg.secret_file("big.secret", &"x".repeat(300 * 1024));
    let fifo = pg.dir.join("fifo.secret");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(ok.success());
    for (path, expect) in [
        (big.display().to_string(), "at most 65536"),
        ("/proc/self/environ".to_string(), "not a regular file"),
        (fifo.display().to_string(), "not a regular file"),
    ] {
        alter_system(&mut su, "bravo_metrics.snowflake_secret_file", &path);
        let t0 = std::time::Instant::now();
        let err = su.query("SELECT * FROM bravo_sync(1)", &[]).unwrap_err();
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{path}: took {:?}",
            t0.elapsed()
        );
        assert_eq!(sqlstate(&err), "22023", "{path}: {}", db_message(&err));
        assert!(
            db_message(&err).contains(expect),
            "{path}: {}",
            db_message(&err)
        );
    }
    assert_eq!(metrics_digest(&mut su), before);
}

/// Clients never see a Rust backtrace, even with RUST_BACKTRACE in the server's
/// environment: an internal statement failing (the application's CHECK constraint
/// rejects a synced row) gives a clean SQLSTATE, message and the row at fault.
#[test]
fn errors_carry_no_rust_backtrace() {
    // The server inherits this test process's environment.
    std::env::set_var("RUST_BACKTRACE", "full");
    let src = source(10);
    let pg = Cluster::start(ClusterOptions::default());
    let mut su = pg.media_tool("media_tool", src.port(), 10, 2);
    su.batch_execute(
        "ALTER TABLE platform_buy_daily_videos ADD CONSTRAINT few_views CHECK (video_views < 0)",
    )
    .unwrap();
    let before = metrics_digest(&mut su);
    let err = su.query("SELECT * FROM bravo_sync(5)", &[]).unwrap_err();
    let db = err.as_db_error().expect("a database error");
    assert_eq!(db.code().code(), "23514");
    let all = format!(
        "{}\n{}\n{}\n{:?}",
        db.message(),
        db.detail().unwrap_or(""),
        db.hint().unwrap_or(""),
        db.where_()
    );
    assert!(db.message().contains("few_views"), "{all}");
    assert!(db.detail().unwrap_or("").contains("Failing row"), "{all}");
    for needle in ["backtrace", ".rs:", "rust_begin_unwind", "pgrx"] {
        assert!(
            !all.contains(needle),
            "{needle} in what the client saw:\n{all}"
        );
    }
    assert_eq!(metrics_digest(&mut su), before);
    let log = pg.log_text();
    assert!(
        !log.contains("rust_begin_unwind"),
        "backtrace in the server log"
    );
}

/// The rollup triggers (SECURITY DEFINER, owned by the superuser who installed the
/// extension) read `media_buys` for each metric write. An application role that owns
/// the media tool's tables swaps `media_buys` for a view whose function tries to make
/// it a superuser: the write is refused (42809) and the function never runs as a
/// superuser; freshness (`bravo_schedule_status`, also SECURITY DEFINER) reads no view
/// either.
#[test]
fn a_view_in_place_of_media_buys_never_runs_as_superuser() {
    let pg = Cluster::start(ClusterOptions::default());
    pg.require_passwords();
    let mut su = pg.client("postgres");
    su.batch_execute("CREATE ROLE app LOGIN PASSWORD 'app-pw'")
        .unwrap();
    su.batch_execute("CREATE DATABASE media_tool").unwrap();
    let mut su = pg.client("media_tool");
    su.batch_execute("GRANT CREATE ON SCHEMA public TO app")
        .unwrap();
    let mut app = pg.client_password("media_tool", "app", "app-pw");
    app.batch_execute(
        "CREATE TABLE media_buys (id bigint PRIMARY KEY, campaign_id bigint NOT NULL, name text,
             created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now());
         CREATE TABLE platform_buy_daily_impressions (date date NOT NULL, media_buy_id bigint NOT NULL,
             impressions bigint NOT NULL DEFAULT 0, clicks bigint NOT NULL DEFAULT 0, spend numeric NOT NULL DEFAULT 0,
             created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
             PRIMARY KEY (media_buy_id, date));
         CREATE TABLE platform_buy_daily_videos (date date NOT NULL, media_buy_id bigint NOT NULL,
             video_starts bigint NOT NULL DEFAULT 0, video_completions bigint NOT NULL DEFAULT 0,
             video_views bigint NOT NULL DEFAULT 0,
             created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
             PRIMARY KEY (media_buy_id, date));
         INSERT INTO media_buys (id, campaign_id) VALUES (1, 1);
         CREATE TABLE audit (who text, escalated boolean);",
    )
    .unwrap();
    su.batch_execute("CREATE EXTENSION bravo_metrics").unwrap();
    app.batch_execute(
        "CREATE FUNCTION grab(x bigint) RETURNS bigint LANGUAGE plpgsql AS $$
         DECLARE ok boolean := true;
         BEGIN
             BEGIN
                 EXECUTE 'ALTER ROLE app SUPERUSER';
             EXCEPTION WHEN OTHERS THEN ok := false;
             END;
             INSERT INTO public.audit VALUES (current_user, ok);
             RETURN x;
         END $$;
         ALTER TABLE media_buys RENAME TO media_buys_real;
         CREATE VIEW media_buys AS SELECT public.grab(id) AS id, campaign_id FROM media_buys_real;",
    )
    .unwrap();
    let err = app
        .batch_execute(
            "INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions) VALUES (current_date, 1, 5)",
        )
        .unwrap_err();
    assert_eq!(sqlstate(&err), "42809", "{}", db_message(&err));
    assert!(
        db_message(&err).contains("media_buys is not a table"),
        "{}",
        db_message(&err)
    );
    su.batch_execute("SELECT * FROM bravo_schedule_status()")
        .unwrap();
    let ran: Vec<(String, bool)> = su
        .query("SELECT who, escalated FROM audit", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(ran.iter().all(|(who, esc)| who == "app" && !esc), "{ran:?}");
    let superuser: bool = su
        .query_one("SELECT rolsuper FROM pg_roles WHERE rolname = 'app'", &[])
        .unwrap()
        .get(0);
    assert!(!superuser);
}

/// A sync writes a metric table as its owner, so the owner's forced row-level security
/// policies hold (a bulk path such as COPY's would skip them): here one that refuses
/// every new row fails the sync (42501) and leaves both tables as they were; with a
/// policy that admits them the same sync loads the table.
#[test]
fn a_metric_table_with_forced_row_security_keeps_its_policies() {
    let src = source(20);
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", src.port(), 20, 4);
    c.batch_execute(
        "ALTER TABLE platform_buy_daily_impressions ENABLE ROW LEVEL SECURITY;
         ALTER TABLE platform_buy_daily_impressions FORCE ROW LEVEL SECURITY;
         CREATE POLICY read_all ON platform_buy_daily_impressions FOR SELECT USING (true);
         CREATE POLICY no_new_rows ON platform_buy_daily_impressions FOR INSERT WITH CHECK (false);
         CREATE ROLE app;
         ALTER TABLE platform_buy_daily_impressions OWNER TO app;",
    )
    .unwrap();
    let err = c.batch_execute("SELECT * FROM bravo_sync(30)").unwrap_err();
    assert_eq!(sqlstate(&err), "42501", "{}", db_message(&err));
    assert!(
        db_message(&err).contains("row-level security"),
        "{}",
        db_message(&err)
    );
    let n: i64 = c
        .query_one(
            "SELECT (SELECT count(*) FROM platform_buy_daily_impressions) + (SELECT count(*) FROM platform_buy_daily_videos)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "the failed sync wrote nothing");
    c.batch_execute("DROP POLICY no_new_rows ON platform_buy_daily_impressions; CREATE POLICY any_new_rows ON platform_buy_daily_impressions FOR INSERT WITH CHECK (true);")
        .unwrap();
    let inserted: i64 = c
        .query_one(
            "SELECT inserted FROM bravo_sync(30) WHERE target = 'impressions'",
            &[],
        )
        .unwrap()
        .get(0);
    let n: i64 = c
        .query_one("SELECT count(*) FROM platform_buy_daily_impressions", &[])
        .unwrap()
        .get(0);
    assert!(inserted > 0);
    assert_eq!(n, inserted);
}
