-- The intraday refresh's state (src/sync/intraday.rs): one row per enabled daily
-- family, its change column and high-water mark, where the next refresh starts, and
-- the refresh's schedule, next run, last run and last success.
CREATE FUNCTION bravo_intraday_status()
RETURNS TABLE (
    family            text,
    change_column     text,
    high_water        timestamptz,
    refreshes_from    timestamptz,
    high_water_run_id bigint,
    schedule          text,
    next_run          timestamptz,
    last_run_id       bigint,
    last_run_status   text,
    last_run_at       timestamptz,
    last_success_at   timestamptz
)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT f.family, f.change_column, h.high_water,
       h.high_water OPERATOR(pg_catalog.-)
           coalesce(NULLIF(pg_catalog.current_setting('bravo_metrics.intraday_safety_lag', true), ''), '1h')::pg_catalog.interval,
       h.run_id,
       NULLIF(pg_catalog.current_setting('bravo_metrics.intraday_schedule', true), ''),
       pg_catalog.to_timestamp(bravo._bravo_intraday_next_run() OPERATOR(pg_catalog./) 1000000.0),
       l.run_id, l.status, l.started_at, ok.finished_at
  FROM bravo.bravo_families f
  -- (the mark keeps the column's name as the source spells it)
  LEFT JOIN bravo.bravo_high_water h ON h.family OPERATOR(pg_catalog.=) f.family
                                    AND pg_catalog.lower(h.change_column) OPERATOR(pg_catalog.=) f.change_column
  LEFT JOIN LATERAL (SELECT r.run_id, r.status, r.started_at FROM bravo.bravo_sync_runs r
                      WHERE r.trigger OPERATOR(pg_catalog.=) 'intraday'
                      ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (SELECT r.finished_at FROM bravo.bravo_sync_runs r
                      WHERE r.trigger OPERATOR(pg_catalog.=) 'intraday' AND r.status OPERATOR(pg_catalog.=) 'succeeded'
                      ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) ok ON true
 WHERE f.enabled AND f.grain OPERATOR(pg_catalog.=) 'day'
 ORDER BY f.position
$fn$;
COMMENT ON FUNCTION bravo_intraday_status() IS
  'The intraday refresh (bravo_sync_intraday): per enabled daily family its change column, high-water mark (the largest change time merged), where the next refresh starts (the mark minus bravo_metrics.intraday_safety_lag) and the run that kept the mark; and the refresh''s schedule, next run, last run and last success.';
REVOKE ALL ON FUNCTION bravo_intraday_status() FROM PUBLIC;
