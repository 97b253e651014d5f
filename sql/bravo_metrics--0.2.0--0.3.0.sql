-- bravo_metrics 0.2.0 -> 0.3.0: safe to install in a production database.
-- Changes no data: only functions, their settings and privileges (see sql/README.md).

-- SECURITY DEFINER functions written in Rust run with search_path = pg_catalog, pg_temp
-- (0.2.0: the extension's schema first, where a role allowed to create objects there
-- could plant a function that then ran as superuser).
ALTER FUNCTION @extschema@.bravo_sync(integer, boolean) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION @extschema@.bravo_run_now() SET search_path = pg_catalog, pg_temp;

-- The rollup trigger functions refuse to run on any relation but the real tables; a
-- daily report refuses infinite bounds; reporting roles get EXECUTE on the helpers the
-- inlined reporting functions call (PUBLIC no longer has it).
CREATE OR REPLACE FUNCTION @extschema@._bravo_rollup_metric_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    src   text;
    ids   bigint[];
    dates date[];
BEGIN
    -- Only the real metric tables: attached anywhere else (a temp table of the same
    -- name, say) this would add rows nobody synced to every campaign report.
    IF TG_RELID NOT IN ('@extschema@.platform_buy_daily_impressions'::pg_catalog.regclass,
                        '@extschema@.platform_buy_daily_videos'::pg_catalog.regclass) THEN
        RAISE EXCEPTION 'bravo_metrics rollup trigger refuses to run on %', TG_RELID::pg_catalog.regclass
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'This trigger function keeps the reporting rollups; it belongs on the metric tables only.';
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM @extschema@.bravo_report_rebuild();
        RETURN NULL;
    END IF;
    src := CASE TG_OP
        WHEN 'INSERT' THEN @extschema@._bravo_rollup_rows(TG_TABLE_NAME, 'new_rows', 1)
        WHEN 'DELETE' THEN @extschema@._bravo_rollup_rows(TG_TABLE_NAME, 'old_rows', -1)
        ELSE @extschema@._bravo_rollup_rows(TG_TABLE_NAME, 'new_rows', 1) || ' UNION ALL '
          || @extschema@._bravo_rollup_rows(TG_TABLE_NAME, 'old_rows', -1)
        END;
    -- Waits for a campaign move in flight and makes moves wait for this transaction
    -- (see _bravo_rollup_buy_trigger); the campaign is then read with a fresh snapshot.
    PERFORM pg_advisory_xact_lock_shared(1651663222, 1919904876);   -- 'brav', 'roll'
    EXECUTE @extschema@._bravo_rollup_sql('bravo_campaign_rollup', format(
        'SELECT m.campaign_id, x.date, x.i, x.c, x.s, x.vs, x.vc, x.vv, x.ir, x.vr '
        'FROM (%s) x (media_buy_id, date, i, c, s, vs, vc, vv, ir, vr) '
        'JOIN @extschema@.media_buys m ON m.id = x.media_buy_id', src))
       INTO ids, dates;
    PERFORM @extschema@._bravo_rollup_prune('bravo_campaign_rollup', ids, dates);
    EXECUTE @extschema@._bravo_rollup_sql('bravo_media_buy_rollup', format(
        'SELECT x.media_buy_id, @extschema@._bravo_month(x.date), x.i, x.c, x.s, x.vs, x.vc, x.vv, x.ir, x.vr '
        'FROM (%s) x (media_buy_id, date, i, c, s, vs, vc, vv, ir, vr)', src))
       INTO ids, dates;
    PERFORM @extschema@._bravo_rollup_prune('bravo_media_buy_rollup', ids, dates);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@._bravo_rollup_buy_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    gone  text;   -- (id, campaign_id) to subtract
    came  text;   -- (id, campaign_id) to add
    moved boolean;
    parts text[] := '{}';
    cids  bigint[];
    dates date[];
BEGIN
    IF TG_RELID <> '@extschema@.media_buys'::pg_catalog.regclass THEN
        RAISE EXCEPTION 'bravo_metrics rollup trigger refuses to run on %', TG_RELID::pg_catalog.regclass
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'This trigger function keeps the reporting rollups; it belongs on media_buys only.';
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM @extschema@._bravo_rollup_rebuild('bravo_campaign_rollup');
        RETURN NULL;
    END IF;
    gone := CASE TG_OP
        WHEN 'INSERT' THEN NULL
        WHEN 'DELETE' THEN 'SELECT id, campaign_id FROM old_rows'
        ELSE 'SELECT id, campaign_id FROM old_rows EXCEPT SELECT id, campaign_id FROM new_rows' END;
    came := CASE TG_OP
        WHEN 'DELETE' THEN NULL
        WHEN 'INSERT' THEN 'SELECT id, campaign_id FROM new_rows'
        ELSE 'SELECT id, campaign_id FROM new_rows EXCEPT SELECT id, campaign_id FROM old_rows' END;
    -- An update that moves no buy (a rename, an updated_at bump) has nothing to do and
    -- never waits.
    EXECUTE format('SELECT EXISTS (%s)', coalesce(gone, came)) INTO moved;
    IF NOT moved THEN
        RETURN NULL;
    END IF;
    -- A move must not race a metric write in flight: the writer's trigger read the
    -- buy's old campaign, and this trigger cannot see the writer's uncommitted rows, so
    -- those rows would stay counted in the old campaign. The metric trigger holds this
    -- lock in share mode until its transaction ends; wait for those writers, and make
    -- new ones wait for this move, so that whichever runs second sees the other's rows
    -- (each statement below reads with a fresh snapshot in READ COMMITTED). New and
    -- deleted buys need it only when the metric tables lack a foreign key to
    -- media_buys (with one, no metric row can refer to an uncommitted or deleted buy).
    IF TG_OP = 'UPDATE' OR NOT @extschema@._bravo_rollup_buys_referenced() THEN
        PERFORM pg_advisory_xact_lock(1651663222, 1919904876);   -- 'brav', 'roll'
    END IF;
    IF gone IS NOT NULL THEN
        parts := parts || format(
            'SELECT b.campaign_id, p.date, -p.impressions, -p.clicks, -p.spend, 0::bigint, 0::bigint, 0::bigint, -1, 0 '
            'FROM (%1$s) b JOIN @extschema@.platform_buy_daily_impressions p ON p.media_buy_id = b.id '
            'UNION ALL SELECT b.campaign_id, p.date, 0::bigint, 0::bigint, 0::numeric, -p.video_starts, '
            '-p.video_completions, -p.video_views, 0, -1 '
            'FROM (%1$s) b JOIN @extschema@.platform_buy_daily_videos p ON p.media_buy_id = b.id', gone);
    END IF;
    IF came IS NOT NULL THEN
        parts := parts || format(
            'SELECT b.campaign_id, p.date, p.impressions, p.clicks, p.spend, 0::bigint, 0::bigint, 0::bigint, 1, 0 '
            'FROM (%1$s) b JOIN @extschema@.platform_buy_daily_impressions p ON p.media_buy_id = b.id '
            'UNION ALL SELECT b.campaign_id, p.date, 0::bigint, 0::bigint, 0::numeric, p.video_starts, '
            'p.video_completions, p.video_views, 0, 1 '
            'FROM (%1$s) b JOIN @extschema@.platform_buy_daily_videos p ON p.media_buy_id = b.id', came);
    END IF;
    EXECUTE @extschema@._bravo_rollup_sql('bravo_campaign_rollup', array_to_string(parts, ' UNION ALL '))
       INTO cids, dates;
    PERFORM @extschema@._bravo_rollup_prune('bravo_campaign_rollup', cids, dates);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@._bravo_report_days(from_date date, to_date date)
RETURNS date
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF from_date IS NULL OR to_date IS NULL THEN
        RAISE EXCEPTION 'from_date and to_date must not be NULL for a daily report'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'A daily report needs both bounds; use bravo_campaign_totals for an open range.';
    END IF;
    IF NOT isfinite(from_date) OR NOT isfinite(to_date) THEN
        RAISE EXCEPTION 'a daily report needs finite bounds, got % to %', from_date, to_date
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass real dates (at most 1000 days apart); for an open range use bravo_campaign_totals with NULL bounds.';
    END IF;
    IF to_date - from_date >= 1000 THEN
        RAISE EXCEPTION 'daily report range % to % is % days long; the limit is 1000 days',
                        from_date, to_date, to_date - from_date + 1
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Split the range, or use bravo_campaign_totals for the sums over a long range.';
    END IF;
    RETURN from_date;
END
$$;

CREATE OR REPLACE FUNCTION @extschema@._bravo_reporting_acl(role regrole, do_revoke boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    verb text := CASE WHEN do_revoke THEN 'REVOKE' ELSE 'GRANT' END;
    dir  text := CASE WHEN do_revoke THEN 'FROM' ELSE 'TO' END;
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be NULL' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass an existing role, e.g. SELECT bravo_grant_reporting(''analysts'');';
    END IF;
    EXECUTE format('%s USAGE ON SCHEMA %I %s %s', verb, '@extschema@', dir, role);
    EXECUTE format('%s SELECT ON TABLE @extschema@.media_buys, @extschema@.platform_buy_daily_impressions, '
                   '@extschema@.platform_buy_daily_videos, @extschema@.bravo_campaign_rollup, '
                   '@extschema@.bravo_media_buy_rollup %s %s',
                   verb, dir, role);
    EXECUTE format('%s EXECUTE ON FUNCTION '
                   '@extschema@.bravo_campaign_totals(bigint, date, date), '
                   '@extschema@.bravo_campaigns_totals(bigint[], date, date), '
                   '@extschema@.bravo_campaign_daily(bigint, date, date), '
                   '@extschema@.bravo_media_buy_totals(bigint, date, date), '
                   '@extschema@.bravo_last_sync_at(), '
                   '@extschema@._bravo_report_campaign(bigint, date, date), '
                   '@extschema@._bravo_report_days(date, date), '
                   '@extschema@._bravo_money(numeric), '
                   '@extschema@._bravo_month(date), '
                   '@extschema@._bravo_report_months_from(date), '
                   '@extschema@._bravo_report_months_until(date) %s %s', verb, dir, role);
END
$fn$;

-- The run log: every run has a row from its start ('running'); crashes leave
-- 'interrupted', a rolled-back successful sync 'rolled_back'.
ALTER TABLE @extschema@.bravo_sync_runs DROP CONSTRAINT bravo_sync_runs_status_check;
ALTER TABLE @extschema@.bravo_sync_runs ADD CONSTRAINT bravo_sync_runs_status_check
    CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'skipped', 'interrupted', 'rolled_back'));

CREATE FUNCTION @extschema@."_bravo_sweep_interrupted"() RETURNS bigint
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'sweep_interrupted_sql_wrapper';

-- The status: search_path pinned, every name qualified, interrupted runs swept
-- first, the schedule and database problems in its hint.
CREATE OR REPLACE FUNCTION @extschema@.bravo_schedule_status()
RETURNS TABLE (
    loaded               boolean,
    enabled              boolean,
    worker_pid           integer,
    database             text,
    schedule             text,
    time_zone            text,
    next_run             timestamptz,
    next_run_kind        text,
    hint                 text,
    last_run_id          bigint,
    last_run_trigger     text,
    last_run_status      text,
    last_run_started_at  timestamptz,
    last_run_finished_at timestamptz,
    last_run_message     text,
    last_success_run_id  bigint,
    last_success_status  text,
    last_success_at      timestamptz,
    consecutive_failures bigint,
    impressions_latest_date date,
    impressions_lag_days integer,
    videos_latest_date   date,
    videos_lag_days      integer
)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $status$
-- Runs left 'running' by a backend that is gone become 'interrupted' first (written
-- autonomously), so that the query below, which takes a new snapshot, reports them.
SELECT @extschema@._bravo_sweep_interrupted();
SELECT s.loaded, s.enabled,
       (SELECT a.pid FROM pg_catalog.pg_stat_activity a
         WHERE a.backend_type = 'bravo_metrics scheduler' ORDER BY a.backend_start DESC LIMIT 1),
       s.database, s.schedule, s.time_zone,
       pg_catalog.to_timestamp(s.next_run_epoch_us / 1000000.0), s.next_run_kind, s.hint,
       l.run_id, l.trigger, l.status, l.started_at, l.finished_at, l.message,
       ok.run_id, ok.status, ok.finished_at,
       (SELECT pg_catalog.count(*) FROM @extschema@.bravo_sync_runs f
         WHERE f.status IN ('failed', 'cancelled', 'interrupted', 'rolled_back')
           AND f.started_at > coalesce(ok.started_at, '-infinity')),
       fi.d, t.today - fi.d, fv.d, t.today - fv.d
  FROM @extschema@.bravo_scheduler_state() s
  LEFT JOIN LATERAL (SELECT * FROM @extschema@.bravo_sync_runs
                      ORDER BY started_at DESC, run_id DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (SELECT * FROM @extschema@.bravo_sync_runs WHERE status = 'succeeded'
                      ORDER BY started_at DESC, run_id DESC LIMIT 1) ok ON true
  CROSS JOIN LATERAL (SELECT pg_catalog.max(date) AS d FROM @extschema@.platform_buy_daily_impressions) fi
  CROSS JOIN LATERAL (SELECT pg_catalog.max(date) AS d FROM @extschema@.platform_buy_daily_videos) fv
  CROSS JOIN LATERAL (SELECT (pg_catalog.now() AT TIME ZONE coalesce(nullif(pg_catalog.current_setting('bravo_metrics.sync_time_zone', true), ''), 'UTC'))::pg_catalog.date AS today) t
$status$;

COMMENT ON FUNCTION @extschema@.bravo_schedule_status() IS
  'Scheduler state (loaded, enabled, schedule, next run), last run and last success, consecutive failures (failed, cancelled, interrupted or rolled back runs since the last success), and data freshness (latest date per metric table and its lag behind today in bravo_metrics.sync_time_zone). Marks runs left running by a crash interrupted first.';

-- Roles granted reporting in 0.2.0 keep working: they get the helpers too.
DO $grant$
DECLARE
    r regrole;
BEGIN
    FOR r IN SELECT DISTINCT a.grantee::regrole
               FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
              WHERE p.oid = '@extschema@.bravo_campaign_totals(bigint, date, date)'::pg_catalog.regprocedure
                AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION '
            '@extschema@._bravo_report_campaign(bigint, date, date), @extschema@._bravo_report_days(date, date), '
            '@extschema@._bravo_money(numeric), @extschema@._bravo_month(date), '
            '@extschema@._bravo_report_months_from(date), @extschema@._bravo_report_months_until(date) TO %s', r);
    END LOOP;
END
$grant$;

-- No function of the extension is executable by PUBLIC.
DO $revoke$
DECLARE
    f pg_catalog.regprocedure;
BEGIN
    FOR f IN SELECT d.objid::pg_catalog.regprocedure
               FROM pg_catalog.pg_depend d
               JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
              WHERE e.extname = 'bravo_metrics' AND d.deptype = 'e'
                AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                AND d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$revoke$;
