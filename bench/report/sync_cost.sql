-- Cost a sync pays for the rollup triggers: the merge statements bravo_sync runs
-- (INSERT ... SELECT of new keys, UPDATE ... FROM of changed rows, DELETE of vanished
-- ones) on platform_buy_daily_impressions with its full history, timed with the
-- triggers disabled and enabled, twice each (off, on, off, on).
-- psql -v buys=N. 1.5 M new rows = 1.5 M / buys new days for every buy.
\set ON_ERROR_STOP on
CREATE TABLE IF NOT EXISTS bench_timings (step text, triggers text, round int, ms numeric);
TRUNCATE bench_timings;
CREATE OR REPLACE PROCEDURE bench_step(step text, triggers text, round int, sql text)
LANGUAGE plpgsql AS $$
DECLARE t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE sql;
    INSERT INTO bench_timings VALUES (step, triggers, round,
        round(extract(epoch FROM clock_timestamp() - t0)::numeric * 1000, 1));
    COMMIT;
END $$;
DROP TABLE IF EXISTS stage_new, stage_upd;
CREATE UNLOGGED TABLE stage_new AS
SELECT current_date + d AS date, b::bigint AS media_buy_id, 5000 + b % 1000 AS impressions,
       50 + b % 10 AS clicks, (b % 1000) * 0.01 AS spend
  FROM generate_series(0, 1500000 / :buys - 1) d, generate_series(1, :buys) b;
-- 3 % of them change
CREATE UNLOGGED TABLE stage_upd AS
SELECT date, media_buy_id, impressions + 1 AS impressions, clicks, spend + 0.01 AS spend
  FROM stage_new WHERE (media_buy_id + (date - current_date)) % 33 = 0;
ANALYZE stage_new, stage_upd;
SELECT count(*) AS new_rows FROM stage_new \gset
SELECT count(*) AS changed_rows FROM stage_upd \gset

\set ins 'INSERT INTO platform_buy_daily_impressions (media_buy_id, date, impressions, clicks, spend, created_at, updated_at) SELECT s.media_buy_id, s.date, s.impressions, s.clicks, s.spend, now(), now() FROM stage_new s WHERE NOT EXISTS (SELECT 1 FROM platform_buy_daily_impressions t WHERE t.media_buy_id = s.media_buy_id AND t.date = s.date)'
\set upd 'UPDATE platform_buy_daily_impressions t SET impressions = s.impressions, clicks = s.clicks, spend = s.spend, updated_at = now() FROM stage_upd s WHERE t.media_buy_id = s.media_buy_id AND t.date = s.date AND (t.impressions, t.clicks, t.spend) IS DISTINCT FROM (s.impressions, s.clicks, s.spend)'
\set del 'DELETE FROM platform_buy_daily_impressions WHERE date >= current_date'

SELECT 1 AS r \gset
\set mode off
\ir sync_round.sql
\set mode on
\ir sync_round.sql
SELECT 2 AS r \gset
\set mode off
\ir sync_round.sql
\set mode on
\ir sync_round.sql

SELECT :new_rows AS new_rows, :changed_rows AS changed_rows;
SELECT step, triggers, min(ms) AS best_ms, max(ms) AS worst_ms
  FROM bench_timings GROUP BY step, triggers ORDER BY step DESC, triggers;
-- the rollups are still exact for the reported campaigns after all this
SELECT (SELECT spend FROM bravo_campaign_totals(1))
     = (SELECT round(sum(p.spend), greatest(min_scale(sum(p.spend)), 2)) FROM platform_buy_daily_impressions p
          JOIN media_buys m ON m.id = p.media_buy_id WHERE m.campaign_id = 1) AS rollup_still_exact;
-- The media buy rollup: in schema bravo since 0.4.0 (in the extension's schema in
-- the 0.3.0 baseline).
SELECT coalesce(to_regclass('bravo.bravo_media_buy_rollup'), to_regclass('bravo_media_buy_rollup')) AS buy_rollup \gset
SELECT NOT EXISTS (
    SELECT media_buy_id, date_trunc('month', date::timestamp)::date, sum(impressions), sum(spend), count(*)
      FROM platform_buy_daily_impressions WHERE media_buy_id <= 220 GROUP BY 1, 2
    EXCEPT
    SELECT media_buy_id, month, impressions, spend, impression_rows
      FROM :buy_rollup WHERE media_buy_id <= 220) AS media_buy_rollup_still_exact;
DROP TABLE stage_new, stage_upd;
