-- The Rust side is internal.
ALTER FUNCTION @extschema@._bravo_doctor_snowflake() SET SCHEMA bravo;

-- bravo_doctor(): why is there no data? One row per check: ok, warn or fail, what was
-- found, and for anything not ok what to do. Safe for a monitoring role: it reads,
-- never writes, and shows no secret (a secret file's path only to a superuser
-- session). The checks that need the network or the secret files are in Rust
-- (bravo._bravo_doctor_snowflake, src/doctor/mod.rs); the rest are here.

-- The metric tables' checks: rows or none, lag behind today against
-- bravo_metrics.expected_lag_days, and the last 7 days' rows against the 7 before.
CREATE FUNCTION bravo._bravo_doctor_tables()
RETURNS TABLE ("check" text, status text, detail text, hint text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    f        record;
    rel      regclass;
    zone     text := coalesce(nullif(current_setting('bravo_metrics.sync_time_zone', true), ''), 'UTC');
    today    date := (now() AT TIME ZONE coalesce(nullif(current_setting('bravo_metrics.sync_time_zone', true), ''), 'UTC'))::date;
    expected integer := coalesce(nullif(current_setting('bravo_metrics.expected_lag_days', true), '')::integer, 2);
    drop_pct integer := coalesce(nullif(current_setting('bravo_metrics.volume_drop_percent', true), '')::integer, 50);
    latest   date;
    last7    bigint;
    prev7    bigint;
    lag      integer;
    sync_call text;
BEGIN
    FOR f IN SELECT bf.family, bf.table_name, bf.grain FROM bravo.bravo_families bf
              WHERE bf.enabled ORDER BY bf.position LOOP
        rel := bravo._bravo_media_table(f.table_name);
        sync_call := CASE f.grain WHEN 'hour' THEN 'SELECT bravo_sync_hourly();' ELSE 'SELECT bravo_sync(30);' END;
        IF rel IS NULL THEN
            "check" := 'rows ' || f.table_name; status := 'fail';
            detail := format('the table %s of family %s does not exist', f.table_name, f.family);
            hint := format('SELECT bravo_enable_family(%L) creates it; or disable the family: SELECT bravo_disable_family(%L);', f.family, f.family);
            RETURN NEXT;
            CONTINUE;
        END IF;
        -- The latest day, from the index on it (_bravo_latest_date, _bravo_latest_hour),
        -- then the two weeks' counts.
        IF f.grain = 'hour' THEN
            latest := (bravo._bravo_latest_hour(f.table_name) AT TIME ZONE zone)::date;
            EXECUTE format($q$SELECT count(*) FILTER (WHERE hour_start >= (%2$L::date - 7) AT TIME ZONE %1$L),
                                     count(*) FILTER (WHERE hour_start < (%2$L::date - 7) AT TIME ZONE %1$L)
                                FROM %3$s
                               WHERE hour_start >= (%2$L::date - 14) AT TIME ZONE %1$L
                                 AND hour_start < %2$L::date AT TIME ZONE %1$L$q$,
                           zone, today, rel) INTO last7, prev7;
        ELSE
            latest := bravo._bravo_latest_date(f.table_name);
            EXECUTE format($q$SELECT count(*) FILTER (WHERE date >= %1$L::date - 7),
                                     count(*) FILTER (WHERE date < %1$L::date - 7)
                                FROM %2$s WHERE date >= %1$L::date - 14 AND date < %1$L::date$q$,
                           today, rel) INTO last7, prev7;
        END IF;

        "check" := 'rows ' || f.table_name;
        IF latest IS NULL THEN
            status := 'fail';
            detail := format('%s is empty', f.table_name);
            hint := format('No sync has merged a row yet. Run %s and read its error, or see the last run rows above (bravo_sync_runs).', sync_call);
            RETURN NEXT;
            CONTINUE;
        END IF;
        status := 'ok'; detail := format('%s has rows up to %s', f.table_name, latest); hint := NULL;
        RETURN NEXT;

        lag := today - latest;
        "check" := 'lag ' || f.table_name;
        status := CASE WHEN lag <= expected THEN 'ok' WHEN lag <= 2 * expected THEN 'warn' ELSE 'fail' END;
        detail := format('latest %s %s: %s day%s behind %s (%s), expected at most %s (bravo_metrics.expected_lag_days)',
                         CASE f.grain WHEN 'hour' THEN 'hour on' ELSE 'date' END, latest, lag,
                         CASE WHEN lag = 1 THEN '' ELSE 's' END, today, zone, expected);
        hint := CASE WHEN status <> 'ok' THEN format(
            'Check that the scheduled syncs succeed (the last run rows above) and that Snowflake has newer rows (SELECT max(DATE) FROM the family''s source). A run now: %s', sync_call) END;
        RETURN NEXT;

        "check" := 'volume ' || f.table_name;
        IF prev7 = 0 THEN
            status := 'ok';
            detail := format('%s rows in the last 7 days, none in the 7 before', last7);
            hint := NULL;
        ELSE
            status := CASE WHEN last7 * 100 < prev7 * (100 - drop_pct) THEN 'warn' ELSE 'ok' END;
            detail := format('%s rows in the last 7 days, %s in the 7 before (%s%s%%)', last7, prev7,
                             CASE WHEN last7 >= prev7 THEN '+' ELSE '' END,
                             round((last7 - prev7) * 100.0 / prev7, 1));
            hint := CASE WHEN status = 'warn' THEN format(
                'More than %s%% fewer rows than the week before (bravo_metrics.volume_drop_percent): media buys may have ended, or rows are missing in Snowflake or set aside (the set aside rows above). Compare with SELECT DATE, count(*) FROM the family''s source GROUP BY 1.', drop_pct) END;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_doctor_tables() FROM PUBLIC;

-- Rows of the media tool's table `name` (counted up to a million and one), NULL
-- when there is no such table.
CREATE FUNCTION bravo._bravo_doctor_count(name text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel regclass := bravo._bravo_media_table(name);
    n   bigint;
BEGIN
    IF rel IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s LIMIT 1000001) t', rel) INTO n;
    RETURN n;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_doctor_count(text) FROM PUBLIC;

CREATE FUNCTION bravo_doctor()
RETURNS TABLE ("check" text, status text, detail text, hint text)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $doctor$
-- Connection settings, the secret file, a live login, each enabled family's source.
SELECT d."check", d.status, d.detail, d.hint FROM bravo._bravo_doctor_snowflake() d
UNION ALL
-- The catalog: something to sync.
SELECT 'families',
       CASE WHEN n.enabled = 0 THEN 'fail' ELSE 'ok' END,
       format('%s famil%s enabled: %s', n.enabled, CASE WHEN n.enabled = 1 THEN 'y' ELSE 'ies' END, coalesce(n.names, 'none')),
       CASE WHEN n.enabled = 0 THEN 'Enable one: SELECT bravo_enable_family(''impressions'');' END
  FROM (SELECT count(*) FILTER (WHERE enabled) AS enabled,
               string_agg(family, ', ' ORDER BY position) FILTER (WHERE enabled) AS names
          FROM bravo.bravo_families) n
UNION ALL
-- The scheduler: loaded, enabled, its database valid, a next run.
SELECT 'scheduler',
       CASE WHEN NOT s.loaded THEN 'fail'
            WHEN NOT s.enabled THEN 'warn'
            WHEN s.hint IS NOT NULL OR s.next_run_epoch_us IS NULL THEN 'fail'
            ELSE 'ok' END,
       format('loaded %s, enabled %s, database %s, schedule %s (%s), next run %s',
              CASE WHEN s.loaded THEN 'yes' ELSE 'no' END, CASE WHEN s.enabled THEN 'yes' ELSE 'no' END,
              coalesce(s.database, 'postgres'), coalesce(s.schedule, 'none'), coalesce(s.time_zone, 'UTC'),
              coalesce(to_timestamp(s.next_run_epoch_us / 1000000.0)::text, 'none')),
       coalesce(s.hint, CASE WHEN s.next_run_epoch_us IS NULL THEN
           'No next run: set a schedule (ALTER SYSTEM SET bravo_metrics.schedule = ''0 3 * * *''; SELECT pg_reload_conf();) and see bravo_schedule_status().' END)
  FROM bravo.bravo_scheduler_state() s
UNION ALL
-- The last run of each trigger and grain, and its error.
SELECT format('last run (%s%s)', r.trigger, CASE WHEN r.grain = 'hour' THEN ', hourly' ELSE '' END),
       CASE WHEN r.status IN ('succeeded', 'running') THEN 'ok'
            WHEN r.status = 'skipped' THEN 'warn' ELSE 'fail' END,
       format('run %s %s at %s%s', r.run_id, r.status, coalesce(r.finished_at, r.started_at),
              CASE WHEN r.message IS NOT NULL THEN format(': %s %s', r.sqlstate, r.message) ELSE '' END),
       CASE WHEN r.status = 'skipped' THEN 'A run was skipped (another sync held the lock, or the server was a standby): see its message.'
            WHEN r.status NOT IN ('succeeded', 'running') THEN format(
            'Fix what the message says (the other rows here may name it), then run one now: SELECT bravo_run_now(); the details: SELECT * FROM bravo_sync_runs WHERE run_id = %s;', r.run_id) END
  FROM (SELECT DISTINCT ON (x.trigger, x.grain) x.*
          FROM bravo.bravo_sync_runs x
         ORDER BY x.trigger, x.grain, x.started_at DESC, x.run_id DESC) r
UNION ALL
SELECT 'last run', 'fail', 'no sync has ever run in this database',
       'Run one: SELECT bravo_sync(30); and, for syncs on a schedule, see the scheduler row.'
 WHERE NOT EXISTS (SELECT 1 FROM bravo.bravo_sync_runs)
UNION ALL
-- Failures in a row since the last success, per grain.
SELECT format('consecutive failures (%s)', CASE g.grain WHEN 'hour' THEN 'hourly' ELSE 'daily' END),
       CASE WHEN g.n = 0 THEN 'ok' WHEN g.n < 3 THEN 'warn' ELSE 'fail' END,
       format('%s failed, cancelled, interrupted or rolled back run%s since the last success%s',
              g.n, CASE WHEN g.n = 1 THEN '' ELSE 's' END,
              coalesce(' (' || g.last_ok || ')', ' (none yet)')),
       CASE WHEN g.n > 0 THEN 'See the last run rows: the same error each time usually means configuration (the checks above); a different one each time, the network or Snowflake.' END
  FROM (SELECT gr.grain,
               (SELECT max(ok.finished_at) FROM bravo.bravo_sync_runs ok WHERE ok.grain = gr.grain AND ok.status = 'succeeded') AS last_ok,
               (SELECT count(*) FROM bravo.bravo_sync_runs fl
                 WHERE fl.grain = gr.grain AND fl.status IN ('failed', 'cancelled', 'interrupted', 'rolled_back')
                   AND fl.started_at > coalesce((SELECT max(ok.started_at) FROM bravo.bravo_sync_runs ok
                                                  WHERE ok.grain = gr.grain AND ok.status = 'succeeded'), '-infinity')) AS n
          FROM (SELECT DISTINCT x.grain FROM bravo.bravo_sync_runs x) gr) g
UNION ALL
-- Each enabled family's table: rows, lag, volume.
SELECT t."check", t.status, t.detail, t.hint FROM bravo._bravo_doctor_tables() t
UNION ALL
-- Source rows set aside and still open, by reason.
SELECT format('set aside (%s)', a.reason), 'warn',
       format('%s open row%s%s', a.n, CASE WHEN a.n = 1 THEN '' ELSE 's' END,
              CASE WHEN a.reason = 'unknown_media_buy' THEN format(', for %s media buy%s missing from media_buys (for example %s)',
                   a.buys, CASE WHEN a.buys = 1 THEN '' ELSE 's' END, a.sample) ELSE '' END),
       CASE a.reason
            WHEN 'unknown_media_buy' THEN 'Add those media buys to media_buys: the next sync merges their rows (they are kept and retried). SELECT DISTINCT media_buy_key FROM bravo_set_aside WHERE reason = ''unknown_media_buy'' AND resolved_at IS NULL lists them.'
            ELSE format('These source rows are invalid (%s): fix them in Snowflake; the next sync that fetches them fixed merges them. SELECT * FROM bravo_set_aside WHERE reason = %L AND resolved_at IS NULL shows them.', a.reason, a.reason) END
  FROM (SELECT s.reason, count(*) AS n, count(DISTINCT coalesce(s.media_buy_key, s.media_buy_id::text)) AS buys,
               string_agg(DISTINCT coalesce(s.media_buy_key, s.media_buy_id::text), ', ') FILTER (WHERE s.id IN (
                   SELECT s2.id FROM bravo.bravo_set_aside s2 WHERE s2.reason = s.reason AND s2.resolved_at IS NULL ORDER BY s2.id LIMIT 5)) AS sample
          FROM bravo.bravo_set_aside s WHERE s.resolved_at IS NULL GROUP BY s.reason) a
UNION ALL
SELECT 'set aside', 'ok', 'no open set-aside rows', NULL
 WHERE NOT EXISTS (SELECT 1 FROM bravo.bravo_set_aside WHERE resolved_at IS NULL)
UNION ALL
-- media_buys: without it every row is set aside.
SELECT 'media_buys',
       CASE WHEN m.n IS NULL OR m.n = 0 THEN 'fail' ELSE 'ok' END,
       CASE WHEN m.n IS NULL THEN 'there is no media_buys table' WHEN m.n = 0 THEN 'media_buys is empty'
            WHEN m.n > 1000000 THEN 'media_buys has more than a million rows'
            ELSE format('media_buys has %s row%s', m.n, CASE WHEN m.n = 1 THEN '' ELSE 's' END) END,
       CASE WHEN m.n IS NULL OR m.n = 0 THEN 'Load the media tool''s media buys (INSERT INTO media_buys (id, campaign_id, ...)): a sync sets aside every row of a media buy media_buys does not have (reason unknown_media_buy) and merges them once it does.' END
  FROM (SELECT bravo._bravo_doctor_count('media_buys') AS n) m
$doctor$;

COMMENT ON FUNCTION bravo_doctor() IS
  'Why is there no data? One row per check (status ok, warn or fail; detail; a hint for anything not ok): Snowflake settings, the secret file, a live login, each enabled family''s source relation and columns, the catalog, the scheduler, the last run per trigger and its error, failures in a row, each metric table''s rows, lag (bravo_metrics.expected_lag_days) and last-7-days volume (bravo_metrics.volume_drop_percent), open set-aside rows by reason, and media_buys. Reads only; shows no secret.';
REVOKE ALL ON FUNCTION bravo_doctor() FROM PUBLIC;
REVOKE ALL ON FUNCTION bravo._bravo_doctor_snowflake() FROM PUBLIC;

-- Freshness, per enabled family's table: the latest date (and hour, for an hourly
-- family), the lag behind today in bravo_metrics.sync_time_zone, whether that is
-- beyond bravo_metrics.expected_lag_days, the last successful sync that synced it,
-- and (with_counts) its rows per day over the last 14 days (oldest first, today
-- last). Without the counts it reads only each table's latest key (an index's end):
-- what a run checks for staleness after it finishes.
CREATE FUNCTION bravo._bravo_freshness(with_counts boolean)
RETURNS TABLE (family text, table_name text, grain text, latest_date date, latest_hour timestamptz,
               lag_days integer, expected_lag_days integer, stale boolean,
               last_success_run_id bigint, last_success_at timestamptz, rows_per_day bigint[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    f        record;
    rel      regclass;
    zone     text := coalesce(nullif(current_setting('bravo_metrics.sync_time_zone', true), ''), 'UTC');
    today    date := (now() AT TIME ZONE coalesce(nullif(current_setting('bravo_metrics.sync_time_zone', true), ''), 'UTC'))::date;
    expected integer := coalesce(nullif(current_setting('bravo_metrics.expected_lag_days', true), '')::integer, 2);
BEGIN
    FOR f IN SELECT bf.family, bf.table_name, bf.grain FROM bravo.bravo_families bf
              WHERE bf.enabled ORDER BY bf.position LOOP
        rel := bravo._bravo_media_table(f.table_name);
        family := f.family; table_name := f.table_name; grain := f.grain;
        expected_lag_days := expected;
        latest_date := NULL; latest_hour := NULL; rows_per_day := NULL;
        IF rel IS NOT NULL THEN
            -- From the index, whatever the statistics say (_bravo_latest_date).
            IF f.grain = 'hour' THEN
                latest_hour := bravo._bravo_latest_hour(f.table_name);
                latest_date := (latest_hour AT TIME ZONE zone)::date;
            ELSE
                latest_date := bravo._bravo_latest_date(f.table_name);
            END IF;
        END IF;
        IF rel IS NOT NULL AND with_counts THEN
            IF f.grain = 'hour' THEN
                EXECUTE format($q$SELECT array_agg(coalesce(c.n, 0) ORDER BY d.day)
                                    FROM generate_series(%2$L::date - 13, %2$L::date, interval '1 day') d(day)
                                    LEFT JOIN (SELECT (hour_start AT TIME ZONE %1$L)::date AS day, count(*) AS n FROM %3$s
                                                WHERE hour_start >= (%2$L::date - 13) AT TIME ZONE %1$L
                                                  AND hour_start < (%2$L::date + 1) AT TIME ZONE %1$L
                                                GROUP BY 1) c ON c.day = d.day::date$q$,
                               zone, today, rel) INTO rows_per_day;
            ELSE
                EXECUTE format($q$SELECT array_agg(coalesce(c.n, 0) ORDER BY d.day)
                                    FROM generate_series(%1$L::date - 13, %1$L::date, interval '1 day') d(day)
                                    LEFT JOIN (SELECT date, count(*) AS n FROM %2$s
                                                WHERE date BETWEEN %1$L::date - 13 AND %1$L::date GROUP BY 1) c
                                           ON c.date = d.day::date$q$,
                               today, rel) INTO rows_per_day;
            END IF;
        END IF;
        lag_days := today - latest_date;
        stale := latest_date IS NULL OR lag_days > expected;
        last_success_run_id := NULL; last_success_at := NULL;
        IF with_counts THEN
            SELECT r.run_id, r.finished_at INTO last_success_run_id, last_success_at
              FROM bravo.bravo_sync_runs r
              JOIN bravo.bravo_sync_run_targets t ON t.run_id = r.run_id
             WHERE r.status = 'succeeded' AND t.target = f.family AND t.status = 'synced'
             ORDER BY r.finished_at DESC NULLS LAST, r.run_id DESC LIMIT 1;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_freshness(boolean) FROM PUBLIC;

CREATE FUNCTION bravo_freshness()
RETURNS TABLE (family text, table_name text, grain text, latest_date date, latest_hour timestamptz,
               lag_days integer, expected_lag_days integer, stale boolean,
               last_success_run_id bigint, last_success_at timestamptz, rows_per_day bigint[])
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT * FROM bravo._bravo_freshness(true) $fn$;
COMMENT ON FUNCTION bravo_freshness() IS 'The rows of the view bravo_freshness.';
REVOKE ALL ON FUNCTION bravo_freshness() FROM PUBLIC;

-- The view over it: a role needs SELECT on the view and EXECUTE on the function
-- (bravo_grant_monitoring grants both).
CREATE VIEW bravo_freshness AS SELECT * FROM bravo_freshness();
COMMENT ON VIEW bravo_freshness IS
  'Per enabled metric family: latest date (and hour), lag in days behind today (bravo_metrics.sync_time_zone), stale when beyond bravo_metrics.expected_lag_days, the last successful sync that synced it, and rows per day for the last 14 days (oldest first, today last).';
REVOKE ALL ON bravo_freshness FROM PUBLIC;

-- Monitoring privileges: what a monitoring role needs to call bravo_doctor(),
-- bravo_schedule_status(), bravo_intraday_status() and read bravo_freshness, and nothing else (not the data,
-- not the run log's tables).
CREATE FUNCTION bravo._bravo_monitoring_acl(role regrole, do_revoke boolean)
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
            HINT = 'Pass an existing role, e.g. SELECT bravo_grant_monitoring(''monitor'');';
    END IF;
    EXECUTE format('%s USAGE ON SCHEMA %I %s %s', verb, '@extschema@', dir, role);
    EXECUTE format('%s EXECUTE ON FUNCTION %I.bravo_doctor(), %I.bravo_schedule_status(), %I.bravo_freshness(), %I.bravo_intraday_status() %s %s',
                   verb, '@extschema@', '@extschema@', '@extschema@', '@extschema@', dir, role);
    EXECUTE format('%s SELECT ON %I.bravo_freshness %s %s', verb, '@extschema@', dir, role);
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_monitoring_acl(regrole, boolean) FROM PUBLIC;

CREATE FUNCTION bravo_grant_monitoring(role regrole)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT bravo._bravo_monitoring_acl(role, false) $fn$;
COMMENT ON FUNCTION bravo_grant_monitoring(regrole) IS
  'Lets a role call bravo_doctor(), bravo_schedule_status() and bravo_intraday_status() and read bravo_freshness (nothing else: not the data, not the run log).';
REVOKE ALL ON FUNCTION bravo_grant_monitoring(regrole) FROM PUBLIC;

CREATE FUNCTION bravo_revoke_monitoring(role regrole)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT bravo._bravo_monitoring_acl(role, true) $fn$;
COMMENT ON FUNCTION bravo_revoke_monitoring(regrole) IS 'Undoes bravo_grant_monitoring.';
REVOKE ALL ON FUNCTION bravo_revoke_monitoring(regrole) FROM PUBLIC;

-- Families whose data is stale (see bravo_freshness), since when: a run notifies
-- 'stale' for a family that became stale and 'fresh' for one that no longer is
-- (bravo._bravo_notify_staleness, called after each finished run).
CREATE TABLE bravo.bravo_stale_targets (
    family      text PRIMARY KEY,
    since       timestamptz NOT NULL DEFAULT now(),
    latest_date date,
    lag_days    integer
);
REVOKE ALL ON bravo.bravo_stale_targets FROM PUBLIC;

-- Compares bravo_freshness with bravo.bravo_stale_targets and notifies the changes on
-- channel bravo_metrics ('stale' and 'fresh' events, with run_id and per family the
-- latest date, lag and expected lag). Returns the number of families that changed.
CREATE FUNCTION bravo._bravo_notify_staleness(run_id bigint)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    became  jsonb;
    cleared jsonb;
    msg     text;
BEGIN
    WITH now_stale AS (
        SELECT f.family, f.table_name, f.latest_date, f.lag_days, f.expected_lag_days
          FROM bravo._bravo_freshness(false) f WHERE f.stale),
    ins AS (
        INSERT INTO bravo.bravo_stale_targets (family, latest_date, lag_days)
        SELECT n.family, n.latest_date, n.lag_days FROM now_stale n
        ON CONFLICT (family) DO NOTHING
        RETURNING family),
    del AS (
        DELETE FROM bravo.bravo_stale_targets s
         WHERE NOT EXISTS (SELECT 1 FROM now_stale n WHERE n.family = s.family)
        RETURNING s.family, s.since)
    SELECT (SELECT jsonb_agg(jsonb_build_object('family', n.family, 'table', n.table_name,
                                                'latest_date', n.latest_date, 'lag_days', n.lag_days,
                                                'expected_lag_days', n.expected_lag_days) ORDER BY n.family)
              FROM ins JOIN now_stale n ON n.family = ins.family),
           (SELECT jsonb_agg(jsonb_build_object('family', del.family, 'stale_since', del.since) ORDER BY del.family)
              FROM del)
      INTO became, cleared;
    -- Under the 8,000-byte limit whatever the number of families: names only beyond it.
    IF became IS NOT NULL THEN
        msg := jsonb_build_object('event', 'stale', 'run_id', run_id, 'targets', became)::text;
        IF octet_length(msg) > 7900 THEN
            msg := jsonb_build_object('event', 'stale', 'run_id', run_id,
                                      'families', (SELECT jsonb_agg(e->'family') FROM jsonb_array_elements(became) e))::text;
        END IF;
        PERFORM pg_notify('bravo_metrics', msg);
    END IF;
    IF cleared IS NOT NULL THEN
        msg := jsonb_build_object('event', 'fresh', 'run_id', run_id, 'targets', cleared)::text;
        IF octet_length(msg) > 7900 THEN
            msg := jsonb_build_object('event', 'fresh', 'run_id', run_id,
                                      'families', (SELECT jsonb_agg(e->'family') FROM jsonb_array_elements(cleared) e))::text;
        END IF;
        PERFORM pg_notify('bravo_metrics', msg);
    END IF;
    RETURN coalesce(jsonb_array_length(became), 0) + coalesce(jsonb_array_length(cleared), 0);
EXCEPTION WHEN OTHERS THEN
    -- Best effort: the run's own record (written in the same transaction) must not
    -- depend on reading every metric table (a Citus worker down, a lock timeout).
    RAISE WARNING 'bravo_metrics: could not check the families'' freshness after run %: %', run_id, SQLERRM;
    RETURN 0;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_notify_staleness(bigint) FROM PUBLIC;
