-- A read-only role with only the reporting privileges can report, and nothing else.
-- The install script creates no role; the test creates (and drops) its own.
SET client_min_messages = warning;
DROP ROLE IF EXISTS bravo_test_reader;
DROP ROLE IF EXISTS bravo_test_writer;
RESET client_min_messages;
CREATE ROLE bravo_test_reader NOLOGIN;
CREATE ROLE bravo_test_writer NOLOGIN;
\set SHOW_CONTEXT never
-- before the grant: no access
SET ROLE bravo_test_reader;
SELECT impressions FROM bravo_campaign_totals(10);
RESET ROLE;
SELECT bravo_grant_reporting('bravo_test_reader');
SET ROLE bravo_test_reader;
SET default_transaction_read_only = on;
BEGIN;
SELECT impressions, clicks, spend, media_buys FROM bravo_campaign_totals(10);
SELECT campaign_id, spend FROM bravo_campaigns_totals('{10,30}');
SELECT date, spend FROM bravo_campaign_daily(10, '2024-01-01', '2024-01-02');
SELECT media_buy_id, spend FROM bravo_media_buy_totals(10);
SELECT last_sync_at FROM bravo_campaign_totals(10);
COMMIT;
-- ... but cannot write, rebuild, grant, or read the run log
SET default_transaction_read_only = off;
UPDATE bravo.bravo_campaign_rollup SET spend = 0;
UPDATE bravo.bravo_media_buy_rollup SET spend = 0;
UPDATE platform_buy_daily_impressions SET spend = 0;
SELECT bravo_report_rebuild();
SELECT bravo_grant_reporting('bravo_test_reader');
SELECT count(*) FROM bravo_sync_runs;
RESET ROLE;
-- a role that may write the metric tables (the application) keeps the rollup right
-- without any privilege on it: the triggers run as the extension owner
GRANT SELECT, INSERT, UPDATE, DELETE ON platform_buy_daily_impressions TO bravo_test_writer;
GRANT SELECT ON media_buys TO bravo_test_writer;
BEGIN;
SET LOCAL ROLE bravo_test_writer;
UPDATE platform_buy_daily_impressions SET clicks = clicks + 1 WHERE media_buy_id = 1 AND date = '2024-01-01';
RESET ROLE;
SELECT clicks FROM bravo_campaign_totals(10);  -- 30 + 1
ROLLBACK;
-- revoke takes it all back
SELECT bravo_revoke_reporting('bravo_test_reader');
SET ROLE bravo_test_reader;
SELECT impressions FROM bravo_campaign_totals(10);
RESET ROLE;
-- the declared properties: STABLE, PARALLEL SAFE, SQL (inlinable), not STRICT, not
-- SECURITY DEFINER, no SET clause; one signature per name, the campaign id typed
-- like media_buys.campaign_id (bigint here)
SELECT p.oid::regprocedure AS function, p.provolatile, p.proparallel, l.lanname,
       p.proisstrict, p.prosecdef, p.proconfig, p.proretset
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.proname IN ('bravo_campaign_totals', 'bravo_campaigns_totals',
                     'bravo_campaign_daily', 'bravo_media_buy_totals')
 ORDER BY p.oid::regprocedure::text;
-- inlined: the plan reads the rollup directly, no Function Scan
EXPLAIN (COSTS OFF) SELECT * FROM bravo_campaign_totals(10, '2024-01-01', '2024-12-31');
-- per media buy: inlined too; whole months from the media buy rollup, the days outside
-- them from the metric tables by index (no sequential scan of a metric table)
CREATE FUNCTION pg_temp.plan_of(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE line text; plan text := '';
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP plan := plan || line || E'\n'; END LOOP;
    RETURN plan;
END $$;
SELECT p ~ 'on bravo_media_buy_rollup' AS reads_media_buy_rollup,
       p !~ 'Function Scan' AS inlined,
       p !~ 'Seq Scan on platform_buy_daily' AS no_metric_table_seq_scan
  FROM pg_temp.plan_of($q$SELECT * FROM bravo_media_buy_totals(10, '2024-01-02', '2024-03-31')$q$) p;
DROP OWNED BY bravo_test_writer;
DROP ROLE bravo_test_reader;
DROP ROLE bravo_test_writer;
