-- DROP EXTENSION keeps the media tool's tables and rows; CREATE EXTENSION over
-- existing (legacy) rows builds the rollup from them.
SELECT count(*) AS rollup_rows FROM bravo.bravo_campaign_rollup;
DROP EXTENSION bravo_metrics;
SELECT count(*) AS impression_rows FROM platform_buy_daily_impressions;
SELECT to_regclass('bravo.bravo_campaign_rollup') AS rollup;
-- no trigger of ours is left on the tables: writes still work
SELECT count(*) AS triggers FROM pg_trigger
 WHERE tgrelid IN ('media_buys'::regclass, 'platform_buy_daily_impressions'::regclass,
                   'platform_buy_daily_videos'::regclass) AND NOT tgisinternal;
-- legacy writes while the extension is away
INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions, clicks, spend)
VALUES ('2024-01-02', 4, 800, 8, 8.08);
UPDATE media_buys SET campaign_id = 30 WHERE id = 2;
SET client_min_messages = warning;
CREATE EXTENSION bravo_metrics;
RESET client_min_messages;
-- campaign 30 now has buys 2 and 4: 3000+500+200+800 impressions, 7.50+1.25+0.333..+8.08 spend
SELECT impressions, clicks, spend, media_buys, first_date, last_date FROM bravo_campaign_totals(30);
SELECT impressions, clicks, spend, media_buys FROM bravo_campaign_totals(10);
SELECT date, impressions, spend FROM bravo_campaign_daily(30, '2024-01-01', '2024-01-04');
