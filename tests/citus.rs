//! Scale-out on Citus (issue 16), against a real Citus 13.2.2 cluster on loopback (a
//! coordinator and two workers, three PostgreSQL 15 clusters; tests/common/citus.rs):
//! * a sync from fakesnow into the distributed tables gives exactly the rows, counts
//!   and reports of the same sync on a single node, first load, re-sync with updates,
//!   deletes and set-aside rows, and an intraday refresh; unchanged rows untouched;
//! * a sync cancelled mid-way, or a worker stopped mid-sync (its shards written in the
//!   open transaction), leaves nothing half-merged, and the next sync, with the worker
//!   back, succeeds;
//! * a worker node gets the extension (Citus creates it there) but no table, and
//!   refuses to sync; an existing single-node media tool keeps its rows and reports
//!   through bravo_distribute(), and a family enabled afterwards is distributed too.

mod common;

use std::time::Duration;

use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::citus::CitusCluster;
use common::*;
use postgres::Client;

const SYNC: &str = "SELECT target, fetched, inserted, updated, unchanged, deleted, set_aside FROM bravo_sync(30) ORDER BY target";

type Counts = Vec<(String, i64, i64, i64, i64, i64, i64)>;

fn sync(c: &mut Client, sql: &str) -> Counts {
    c.query(sql, &[])
        .unwrap_or_else(|e| panic!("{sql}: {}", db_message(&e)))
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
            )
        })
        .collect()
}

/// Every metric row's key and values (not created_at / updated_at, which are the
/// moment of each cluster's write), in key order.
fn rows_digest(c: &mut Client) -> String {
    c.query_one(
        "SELECT md5(coalesce((SELECT string_agg((t.date, t.media_buy_id, t.impressions, t.clicks, t.spend)::text, ',' ORDER BY t.media_buy_id, t.date) FROM platform_buy_daily_impressions t), ''))
             || md5(coalesce((SELECT string_agg((t.date, t.media_buy_id, t.video_starts, t.video_completions, t.video_views)::text, ',' ORDER BY t.media_buy_id, t.date) FROM platform_buy_daily_videos t), ''))",
        &[],
    )
    .unwrap()
    .get(0)
}

/// What every report says for campaigns 1..=campaigns (and a campaign with no media
/// buy), over all time and over a range, without the columns that name the moment of
/// the last sync.
fn reports(c: &mut Client, campaigns: i64) -> Vec<String> {
    let mut out = Vec::new();
    let range = "current_date - 20, current_date - 3";
    for id in (1..=campaigns).chain([999]) {
        for q in [
            format!("SELECT (to_jsonb(t) - 'last_sync_at')::text FROM bravo_campaign_totals({id}) t"),
            format!("SELECT (to_jsonb(t) - 'last_sync_at')::text FROM bravo_campaign_totals({id}, {range}) t"),
            format!("SELECT t::text FROM bravo_campaign_daily({id}, current_date - 35, current_date) t"),
            format!("SELECT t::text FROM bravo_media_buy_totals({id}) t"),
            format!("SELECT t::text FROM bravo_media_buy_totals({id}, {range}) t"),
        ] {
            let rows = c
                .query(&q, &[])
                .unwrap_or_else(|e| panic!("{q}: {}", db_message(&e)));
            out.push(format!(
                "{q}: {}",
                rows.iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect::<Vec<_>>()
                    .join("|")
            ));
        }
    }
    let q = format!(
        "SELECT (to_jsonb(t) - 'last_sync_at')::text FROM bravo_campaigns_totals(ARRAY(SELECT generate_series(1, {campaigns}))::bigint[]) t"
    );
    let rows = c.query(&q, &[]).unwrap();
    out.push(
        rows.iter()
            .map(|r| r.get::<_, String>(0))
            .collect::<Vec<_>>()
            .join("|"),
    );
    out
}

fn assert_same_reports(single: &mut Client, citus: &mut Client, campaigns: i64, what: &str) {
    let (a, b) = (reports(single, campaigns), reports(citus, campaigns));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "{what}: a report differs on Citus");
    }
    assert!(
        a.iter().any(|r| r.contains("\"impressions\": ")),
        "{what}: the reports are empty"
    );
}

/// `sql` fails with `state`, and its HINT says `hint`.
fn assert_refused(c: &mut Client, sql: &str, state: &str, hint: &str) {
    let e = c.query(sql, &[]).unwrap_err();
    assert_eq!(sqlstate(&e), state, "{}", db_message(&e));
    assert!(
        e.as_db_error()
            .and_then(|d| d.hint())
            .unwrap_or("")
            .contains(hint),
        "{e:?}"
    );
}

#[test]
fn a_sync_on_citus_equals_the_same_sync_on_one_node() {
    let src = Source::start();
    src.fill(60, 40);
    let single = Cluster::start(ClusterOptions {
        preload: true,
        conf: vec![],
    });
    let mut one = single.media_tool("media_tool", src.port(), 60, 6);
    let cluster = CitusCluster::start("media_tool");
    let mut dist = cluster.media_tool("media_tool", src.port(), 60, 6, 8);

    // The layout: media_buys a reference table, both metric tables hash-distributed by
    // media_buy_id and co-located, no rollup trigger left.
    let layout: Vec<(String, String, String)> = dist
        .query(
            "SELECT logicalrelid::text, partmethod::text, coalesce(partkey IS NOT NULL AND column_to_column_name(logicalrelid, partkey) = 'media_buy_id', false)::text
               FROM pg_dist_partition ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        layout,
        vec![
            ("media_buys".into(), "n".into(), "false".into()),
            (
                "platform_buy_daily_impressions".into(),
                "h".into(),
                "true".into()
            ),
            (
                "platform_buy_daily_videos".into(),
                "h".into(),
                "true".into()
            ),
        ]
    );
    let colocated: i64 = dist
        .query_one(
            "SELECT count(DISTINCT colocationid) FROM pg_dist_partition WHERE partmethod = 'h'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(colocated, 1, "the metric tables are co-located");
    let triggers: i64 = dist
        .query_one(
            "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'bravo_rollup_%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(triggers, 0);

    // First load.
    let a = sync(&mut one, SYNC);
    let b = sync(&mut dist, SYNC);
    assert_eq!(a, b);
    assert_eq!(a[0].2, 60 * 31, "every row of the window inserted");
    assert_eq!(rows_digest(&mut one), rows_digest(&mut dist));
    assert_same_reports(&mut one, &mut dist, 6, "first load");
    // The rows are in the shards, on both workers.
    let (in_shards, nodes): (i64, i64) = {
        let r = dist
            .query_one(
                "SELECT (SELECT sum(result::bigint)::bigint FROM run_command_on_shards('platform_buy_daily_impressions', 'SELECT count(*) FROM %s')),
                        (SELECT count(DISTINCT nodeport) FROM citus_shards WHERE table_name = 'platform_buy_daily_impressions'::regclass)",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((in_shards, nodes), (60 * 31, 2));

    // Re-sync: revised, vanished and new rows, one for an unknown media buy (set aside).
    // Vanished rows are deleted (guarded by bravo_metrics.delete_max_fraction).
    for c in [&mut one, &mut dist] {
        c.batch_execute("SET bravo_metrics.delete_missing = on")
            .unwrap();
    }
    let untouched_before: String = dist
        .query_one(
            "SELECT updated_at::text FROM platform_buy_daily_impressions WHERE media_buy_id = 7 AND date = current_date - 2",
            &[],
        )
        .unwrap()
        .get(0);
    src.sql(&[
        "UPDATE PLATFORM_BUY_DAILY_IMPRESSIONS SET impressions = impressions + 5, updated_at = dateadd(minute, 1, current_timestamp) WHERE media_buy_id % 5 = 0 AND date >= dateadd(day, -10, current_date)",
        "DELETE FROM PLATFORM_BUY_DAILY_IMPRESSIONS WHERE media_buy_id = 3 AND date = dateadd(day, -1, current_date)",
        "INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS VALUES (current_date, 9999, 5, 1, 1.50, current_timestamp, current_timestamp)",
        "UPDATE PLATFORM_BUY_DAILY_VIDEOS SET video_views = video_views + 1 WHERE media_buy_id % 7 = 0 AND date = dateadd(day, -4, current_date)",
    ]);
    let a = sync(&mut one, SYNC);
    let b = sync(&mut dist, SYNC);
    assert_eq!(a, b);
    assert_eq!(a[0].3, 12 * 11, "the revised rows updated");
    assert_eq!(a[0].5, 1, "the vanished row deleted");
    assert_eq!(a[0].6, 1, "the unknown media buy's row set aside");
    assert_eq!(rows_digest(&mut one), rows_digest(&mut dist));
    assert_same_reports(&mut one, &mut dist, 6, "re-sync");
    let untouched_after: String = dist
        .query_one(
            "SELECT updated_at::text FROM platform_buy_daily_impressions WHERE media_buy_id = 7 AND date = current_date - 2",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        untouched_before, untouched_after,
        "an unchanged row was rewritten"
    );
    let aside: i64 = dist
        .query_one(
            "SELECT count(*) FROM bravo_set_aside WHERE reason = 'unknown_media_buy' AND resolved_at IS NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(aside, 1);

    // A row set aside for a media buy unknown then, older than the window when the buy
    // appears: merged late from the saved source row.
    src.sql(&[
        "INSERT INTO PLATFORM_BUY_DAILY_IMPRESSIONS VALUES (dateadd(day, -38, current_date), 9998, 70, 7, 0.70, current_timestamp, current_timestamp)",
    ]);
    let wide = SYNC.replace("bravo_sync(30)", "bravo_sync(45)");
    let a = sync(&mut one, &wide);
    assert_eq!(a, sync(&mut dist, &wide));
    assert_eq!(a[0].6, 2, "{a:?}");
    for c in [&mut one, &mut dist] {
        c.batch_execute("INSERT INTO media_buys (id, campaign_id) VALUES (9998, 2)")
            .unwrap();
    }
    let a = sync(&mut one, SYNC);
    assert_eq!(a, sync(&mut dist, SYNC));
    assert_eq!(a[0].2, 1, "the late row merged: {a:?}");
    assert_eq!(rows_digest(&mut one), rows_digest(&mut dist));
    assert_same_reports(&mut one, &mut dist, 6, "late merge");

    // The intraday refresh reads only the changed rows, looked up by key in the shards.
    src.sql(&[
        "UPDATE PLATFORM_BUY_DAILY_VIDEOS SET video_starts = video_starts + 3, updated_at = dateadd(hour, 2, current_timestamp) WHERE media_buy_id IN (11, 22, 33) AND date >= dateadd(day, -2, current_date)",
    ]);
    let intraday = "SELECT target, fetched, inserted, updated, unchanged, deleted, set_aside FROM bravo_sync_intraday() ORDER BY target";
    let a = sync(&mut one, intraday);
    let b = sync(&mut dist, intraday);
    assert_eq!(a, b);
    assert_eq!(a[1].3, 9, "the three buys' three revised days");
    assert_eq!(rows_digest(&mut one), rows_digest(&mut dist));
    assert_same_reports(&mut one, &mut dist, 6, "intraday refresh");

    // A campaign move shows at once (no rollup to keep).
    for c in [&mut one, &mut dist] {
        c.batch_execute("UPDATE media_buys SET campaign_id = 1 WHERE id IN (2, 8, 14)")
            .unwrap();
    }
    assert_same_reports(&mut one, &mut dist, 6, "after moving media buys");

    // The doctor and the freshness view read the distributed tables as they read local
    // ones: the same checks with the same outcomes.
    let doctor = |c: &mut Client| -> Vec<(String, String)> {
        c.query(
            "SELECT \"check\", status FROM bravo_doctor() ORDER BY 1",
            &[],
        )
        .unwrap_or_else(|e| panic!("bravo_doctor: {}", db_message(&e)))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };
    let checks = doctor(&mut one);
    assert_eq!(checks, doctor(&mut dist));
    assert!(
        checks
            .iter()
            .any(|(c, s)| c.starts_with("rows ") && s == "ok"),
        "{checks:?}"
    );
    let fresh = |c: &mut Client| -> Vec<String> {
        c.query(
            "SELECT (to_jsonb(f) - 'last_success_at' - 'last_sync_at')::text FROM bravo_freshness f ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    assert_eq!(fresh(&mut one), fresh(&mut dist));

    // The export on the coordinator: the same files with the same rows.
    let export = |pg: &Cluster, c: &mut Client| -> Vec<(String, i64)> {
        let dir = pg.dir.join("exports");
        std::fs::create_dir_all(&dir).unwrap();
        assert!(std::process::Command::new("chown")
            .args(["-R", "postgres"])
            .arg(&dir)
            .status()
            .unwrap()
            .success());
        alter_system(
            c,
            "bravo_metrics.export_allowed_directory",
            dir.to_str().unwrap(),
        );
        let files: String = c
            .query_one(
                "SELECT files::text FROM bravo_export($1)",
                &[&format!("file://{}", dir.display())],
            )
            .unwrap_or_else(|e| panic!("bravo_export: {}", db_message(&e)))
            .get(0);
        let files: serde_json::Value = serde_json::from_str(&files).unwrap();
        let mut out: Vec<(String, i64)> = files
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_string(),
                    f["rows"].as_i64().unwrap(),
                )
            })
            .filter(|(p, _)| !p.contains("sync_run"))
            .collect();
        out.sort();
        out
    };
    let a = export(&single, &mut one);
    assert_eq!(a, export(&cluster.coordinator, &mut dist));
    assert!(
        a.iter().any(|(p, n)| p.contains("impressions") && *n > 0),
        "{a:?}"
    );

    // The run log is the coordinator's, as on one node.
    let runs: Vec<(String, String)> = dist
        .query(
            "SELECT trigger, status FROM bravo_sync_runs ORDER BY run_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        runs,
        vec![
            ("manual".into(), "succeeded".into()),
            ("manual".into(), "succeeded".into()),
            ("manual".into(), "succeeded".into()),
            ("manual".into(), "succeeded".into()),
            ("intraday".into(), "succeeded".into()),
        ]
    );
}

#[test]
fn a_worker_stopped_mid_sync_leaves_nothing_half_merged() {
    let opts = SyntheticOptions {
        media_buys: 300,
        days: 40,
        end_date: chrono::Utc::now().date_naive(),
        chunk_rows: 500,
        inline_rows: 100,
        ..Default::default()
    };
    let src = SyntheticSource::start(opts.clone());
    let cluster = CitusCluster::start("media_tool");
    let mut c = cluster.media_tool("media_tool", src.port(), 300, 10, 8);
    let first = sync(&mut c, SYNC);
    assert_eq!(first[0].2, 300 * 31);
    let before = rows_digest(&mut c);

    // Half the rows revised, served slowly: the sync writes batches into the shards of
    // both workers while later chunks are still coming.
    src.set_options(SyntheticOptions {
        changed_pct: 50,
        revision: 1,
        slow_chunk: Some(Duration::from_millis(700)),
        slow_after_chunks: 3,
        ..opts.clone()
    });
    let conninfo = cluster.coordinator.conninfo("media_tool");
    let mut watch = cluster.coordinator.client("media_tool");
    let at_videos = |watch: &mut Client| {
        wait_for(
            Duration::from_secs(60),
            "the sync at its second family",
            || {
                watch
                .query_opt(
                    "SELECT pid FROM bravo_sync_progress WHERE target = 'videos' AND phase = 'fetching'",
                    &[],
                )
                .unwrap()
                .map(|r| r.get::<_, i32>(0))
            },
        )
    };

    // Cancelled there (pg_cancel_backend), it stops within seconds and rolls back on
    // every node.
    let info = conninfo.clone();
    let cancelled = std::thread::spawn(move || {
        let mut c = Client::connect(&info, postgres::NoTls).unwrap();
        c.query(SYNC, &[]).map(|_| ()).map_err(|e| sqlstate(&e))
    });
    let pid = at_videos(&mut watch);
    let t0 = std::time::Instant::now();
    watch
        .execute("SELECT pg_cancel_backend($1::integer)", &[&pid])
        .unwrap();
    assert_eq!(cancelled.join().unwrap(), Err("57014".to_string()));
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_eq!(
        rows_digest(&mut c),
        before,
        "the cancelled sync left rows behind"
    );

    let running = std::thread::spawn(move || {
        let mut c = Client::connect(&conninfo, postgres::NoTls).unwrap();
        c.query(SYNC, &[]).map(|_| ()).map_err(|e| db_message(&e))
    });
    // Impressions merged (in the open transaction, on both workers), videos coming.
    at_videos(&mut watch);
    cluster.workers[0].stop("immediate");
    let failed = running.join().unwrap();
    assert!(failed.is_err(), "the sync succeeded without a worker");

    cluster.workers[0].pg_ctl_start();
    // Nothing of the failed sync is there, on either worker.
    let after = wait_for(Duration::from_secs(60), "the worker back", || {
        let mut c = cluster.coordinator.client("media_tool");
        c.query_one("SELECT 1", &[]).ok()?;
        Some(rows_digest(&mut c))
    });
    assert_eq!(after, before, "the failed sync left rows behind");
    // The failed run is in the run log (written by its own worker once the sync
    // rolled back), with the error.
    let status: (String, Option<String>) =
        wait_for(Duration::from_secs(30), "the failed run logged", || {
            let r = watch
                .query_one(
                    "SELECT status, message FROM bravo_sync_runs ORDER BY run_id DESC LIMIT 1",
                    &[],
                )
                .unwrap();
            let s: String = r.get(0);
            (s != "running").then(|| (s, r.get(1)))
        });
    assert_eq!(status.0, "failed", "{status:?}");
    assert!(status.1.is_some(), "{status:?}");

    // With the worker back, the next sync merges the revision, and only it.
    src.set_options(SyntheticOptions {
        changed_pct: 50,
        revision: 1,
        ..opts
    });
    let next = sync(&mut c, SYNC);
    assert!(next[0].3 > 0 && next[1].3 > 0, "{next:?}");
    assert_eq!(next[0].2, 0);
    let again = sync(&mut c, SYNC);
    assert_eq!((again[0].3, again[1].3), (0, 0), "{again:?}");
    assert_eq!(again[0].4, 300 * 31);
}

#[test]
fn workers_have_no_tables_and_an_existing_media_tool_keeps_its_rows() {
    let src = Source::start();
    src.fill(40, 35);
    let cluster = CitusCluster::start("media_tool");
    let secret = cluster.coordinator.secret_file("media_tool.secret", "snow");
    let mut c = cluster.coordinator.client("media_tool");
    c.batch_execute(
        "CREATE EXTENSION bravo_metrics;
         INSERT INTO media_buys (id, campaign_id) SELECT g, g % 4 + 1 FROM generate_series(1, 40) g;",
    )
    .unwrap();
    point_at(&mut c, "media_tool", src.port(), &secret);
    let mut c = cluster.coordinator.client("media_tool");
    // A single-node media tool first: synced, an hourly family with rows, reports
    // from the rollups.
    sync(&mut c, SYNC);
    c.batch_execute(
        "SELECT bravo_enable_family('impressions_hourly');
         INSERT INTO platform_buy_hourly_impressions (hour_start, media_buy_id, impressions, clicks, spend)
         SELECT date_trunc('hour', now()) - h * interval '1 hour', b, b * 10 + h, h % 7, (b + h) / 100.0
           FROM generate_series(1, 40) b, generate_series(0, 71) h;",
    )
    .unwrap();
    let digest = rows_digest(&mut c);
    let hourly = |c: &mut Client| -> Vec<String> {
        (1..=4)
            .flat_map(|id| {
                [
                    format!("SELECT t::text FROM bravo_campaign_hourly({id}, current_date - 3, current_date, 'Europe/Paris') t"),
                    format!("SELECT t::text FROM bravo_campaign_hour_of_day({id}, current_date - 3, current_date, 'America/New_York') t"),
                ]
            })
            .flat_map(|q| {
                c.query(&q, &[])
                    .unwrap_or_else(|e| panic!("{q}: {}", db_message(&e)))
                    .iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let before = reports(&mut c, 4);
    let hours_before = hourly(&mut c);
    assert!(hours_before.len() > 24 * 4, "{}", hours_before.len());

    // Citus created the extension on the workers too; they have no table of their own
    // and refuse to sync.
    for w in &cluster.workers {
        let mut wc = w.client("media_tool");
        let ext: i64 = wc
            .query_one(
                "SELECT count(*) FROM pg_extension WHERE extname = 'bravo_metrics'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(ext, 1);
        let tables: i64 = wc
            .query_one(
                "SELECT count(*) FROM pg_class WHERE relname IN ('media_buys', 'platform_buy_daily_impressions', 'platform_buy_daily_videos')",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(tables, 0, "a worker made tables of its own");
        let e = wc.query("SELECT * FROM bravo_sync(1)", &[]).unwrap_err();
        assert_eq!(sqlstate(&e), "0A000", "{}", db_message(&e));
        assert!(
            db_message(&e).contains("Citus worker node"),
            "{}",
            db_message(&e)
        );
    }

    // The tables belong to the application's role, and media_buys carries a check of
    // its own: Citus evaluates it while copying the rows into the shards, and that
    // runs as the owner, never as the superuser calling bravo_distribute.
    let trap = "CREATE OR REPLACE FUNCTION public.not_as_superuser(x bigint) RETURNS boolean
                LANGUAGE plpgsql AS $$
                BEGIN
                    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                        RAISE EXCEPTION 'the media tool''s own code ran as superuser %', current_user;
                    END IF;
                    RETURN true;
                END $$";
    c.batch_execute(&format!(
        "CREATE ROLE media_owner LOGIN;
         GRANT CREATE, USAGE ON SCHEMA public TO media_owner;
         {trap};
         ALTER TABLE media_buys OWNER TO media_owner;
         ALTER TABLE platform_buy_daily_impressions OWNER TO media_owner;
         ALTER TABLE platform_buy_daily_videos OWNER TO media_owner;
         ALTER TABLE media_buys ADD CONSTRAINT media_buys_owner_code CHECK (public.not_as_superuser(id)) NOT VALID;"
    ))
    .unwrap();
    // (Citus creates the role, the grant and the function on the workers.)
    // The hourly table still belongs to postgres: refused, with what to do.
    assert_refused(
        &mut c,
        "SELECT * FROM bravo_distribute(4)",
        "55000",
        "OWNER TO media_owner",
    );
    c.batch_execute("ALTER TABLE platform_buy_hourly_impressions OWNER TO media_owner")
        .unwrap();

    // bravo_distribute keeps every row and every report.
    let done: Vec<(String, String)> = c
        .query(
            "SELECT table_name::text, done FROM bravo_distribute(4)",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        done,
        vec![
            ("media_buys".into(), "made a reference table".into()),
            (
                "platform_buy_daily_impressions".into(),
                "distributed".into()
            ),
            ("platform_buy_daily_videos".into(), "distributed".into()),
            (
                "platform_buy_hourly_impressions".into(),
                "distributed".into()
            ),
        ]
    );
    assert_eq!(rows_digest(&mut c), digest);
    assert_eq!(reports(&mut c, 4), before);
    assert_eq!(
        hourly(&mut c),
        hours_before,
        "an hourly report differs on Citus"
    );
    let rollup: i64 = c
        .query_one("SELECT count(*) FROM bravo.bravo_campaign_rollup", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        rollup, 0,
        "the rollups are not kept in the distributed layout"
    );
    // Run again, it changes nothing.
    let again: Vec<String> = c
        .query("SELECT done FROM bravo_distribute()", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(again, vec!["already"; 4]);

    // A family enabled afterwards is distributed with the others.
    c.batch_execute("SELECT bravo_enable_family('conversions')")
        .unwrap();
    let method: String = c
        .query_one(
            "SELECT partmethod::text FROM pg_dist_partition WHERE logicalrelid = 'platform_buy_daily_conversions'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(method, "h");
    c.batch_execute(
        "INSERT INTO platform_buy_daily_conversions (date, media_buy_id, post_click_conversions, post_view_conversions, conversion_value)
         SELECT current_date - 1, g, g, 1, 2.5 FROM generate_series(1, 40) g",
    )
    .unwrap();
    let conv: i64 = c
        .query_one("SELECT conversions FROM bravo_campaign_totals(2)", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        conv,
        (1..=40)
            .filter(|g| g % 4 + 1 == 2)
            .map(|g| g + 1)
            .sum::<i64>()
    );

    // A Citus coordinator that is not in its own metadata (no citus_set_coordinator_host)
    // has no copy of reference tables: refused, with the call to make.
    let lone = Cluster::start(ClusterOptions {
        preload: false,
        conf: vec!["shared_preload_libraries = 'citus,bravo_metrics'".into()],
    });
    let mut l = lone.client("postgres");
    l.batch_execute("CREATE EXTENSION citus; CREATE EXTENSION bravo_metrics;")
        .unwrap();
    assert_refused(
        &mut l,
        "SELECT * FROM bravo_distribute()",
        "55000",
        "citus_set_coordinator_host",
    );
    let layout: i64 = l
        .query_one("SELECT count(*) FROM pg_dist_partition", &[])
        .unwrap()
        .get(0);
    assert_eq!(layout, 0, "nothing was distributed");

    // Without Citus the function says what to do.
    let single = Cluster::start(ClusterOptions {
        preload: true,
        conf: vec![],
    });
    let mut s = single.media_tool("media_tool", src.port(), 4, 2);
    assert_refused(
        &mut s,
        "SELECT * FROM bravo_distribute()",
        "0A000",
        "CREATE EXTENSION citus",
    );
}
