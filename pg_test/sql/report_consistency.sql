-- The rollups stay exact after syncs, direct edits, campaign moves, TRUNCATE.
-- rollup_diff lists the rows where a rollup and a plain GROUP BY disagree.
CREATE TEMP VIEW rollup_truth AS
SELECT coalesce(i.campaign_id, v.campaign_id) AS campaign_id, coalesce(i.date, v.date) AS date,
       coalesce(i.impressions, 0) AS impressions, coalesce(i.clicks, 0) AS clicks,
       coalesce(i.spend, 0) AS spend, coalesce(v.starts, 0) AS video_starts,
       coalesce(v.completions, 0) AS video_completions, coalesce(v.views, 0) AS video_views,
       coalesce(i.n, 0) AS impression_rows, coalesce(v.n, 0) AS video_rows
  FROM (SELECT m.campaign_id, p.date, sum(p.impressions) AS impressions, sum(p.clicks) AS clicks,
               sum(p.spend) AS spend, count(*) AS n
          FROM platform_buy_daily_impressions p JOIN media_buys m ON m.id = p.media_buy_id
         GROUP BY 1, 2) i
  FULL JOIN
       (SELECT m.campaign_id, p.date, sum(p.video_starts) AS starts,
               sum(p.video_completions) AS completions, sum(p.video_views) AS views, count(*) AS n
          FROM platform_buy_daily_videos p JOIN media_buys m ON m.id = p.media_buy_id
         GROUP BY 1, 2) v USING (campaign_id, date);
CREATE TEMP VIEW buy_rollup_truth AS
SELECT coalesce(i.media_buy_id, v.media_buy_id) AS media_buy_id, coalesce(i.month, v.month) AS month,
       coalesce(i.impressions, 0) AS impressions, coalesce(i.clicks, 0) AS clicks,
       coalesce(i.spend, 0) AS spend, coalesce(v.starts, 0) AS video_starts,
       coalesce(v.completions, 0) AS video_completions, coalesce(v.views, 0) AS video_views,
       coalesce(i.n, 0) AS impression_rows, coalesce(v.n, 0) AS video_rows
  FROM (SELECT media_buy_id, date_trunc('month', date::timestamp)::date AS month,
               sum(impressions) AS impressions, sum(clicks) AS clicks, sum(spend) AS spend, count(*) AS n
          FROM platform_buy_daily_impressions GROUP BY 1, 2) i
  FULL JOIN
       (SELECT media_buy_id, date_trunc('month', date::timestamp)::date AS month,
               sum(video_starts) AS starts, sum(video_completions) AS completions,
               sum(video_views) AS views, count(*) AS n
          FROM platform_buy_daily_videos GROUP BY 1, 2) v USING (media_buy_id, month);
CREATE TEMP VIEW rollup_diff AS
(SELECT 'missing' AS problem, * FROM rollup_truth
 EXCEPT SELECT 'missing', campaign_id, date, impressions, clicks, spend, video_starts,
               video_completions, video_views, impression_rows, video_rows FROM bravo.bravo_campaign_rollup)
UNION ALL
(SELECT 'extra', campaign_id, date, impressions, clicks, spend, video_starts,
        video_completions, video_views, impression_rows, video_rows FROM bravo.bravo_campaign_rollup
 EXCEPT SELECT 'extra', * FROM rollup_truth)
UNION ALL
(SELECT 'buy missing', * FROM buy_rollup_truth
 EXCEPT SELECT 'buy missing', media_buy_id, month, impressions, clicks, spend, video_starts,
               video_completions, video_views, impression_rows, video_rows FROM bravo.bravo_media_buy_rollup)
UNION ALL
(SELECT 'buy extra', media_buy_id, month, impressions, clicks, spend, video_starts,
        video_completions, video_views, impression_rows, video_rows FROM bravo.bravo_media_buy_rollup
 EXCEPT SELECT 'buy extra', * FROM buy_rollup_truth);

BEGIN;
SELECT count(*) AS diffs FROM rollup_diff;

-- 1. A sync, the way bravo_sync merges a staged window: UPDATE ... FROM for changed
--    rows, INSERT ... SELECT for new keys, DELETE for vanished keys.
CREATE TEMP TABLE stage (date date, media_buy_id bigint, impressions bigint, clicks bigint, spend numeric);
INSERT INTO stage VALUES
    ('2024-01-01', 1, 1100, 11, 5.50),      -- changed
    ('2024-01-01', 2, 3000, 20, 7.50),      -- unchanged
    ('2024-01-02', 1,  700,  7, 0.70),      -- new: fills the hole
    ('2024-01-04', 2,  500,  0, 1.25);      -- unchanged; (2024-01-03, 1) vanished
UPDATE platform_buy_daily_impressions t
   SET impressions = s.impressions, clicks = s.clicks, spend = s.spend, updated_at = now()
  FROM stage s
 WHERE t.media_buy_id = s.media_buy_id AND t.date = s.date
   AND (t.impressions, t.clicks, t.spend) IS DISTINCT FROM (s.impressions, s.clicks, s.spend);
INSERT INTO platform_buy_daily_impressions (media_buy_id, date, impressions, clicks, spend)
SELECT s.media_buy_id, s.date, s.impressions, s.clicks, s.spend FROM stage s
 WHERE NOT EXISTS (SELECT 1 FROM platform_buy_daily_impressions t
                    WHERE t.media_buy_id = s.media_buy_id AND t.date = s.date);
DELETE FROM platform_buy_daily_impressions t
 WHERE t.date >= '2024-01-01' AND t.media_buy_id IN (1, 2)
   AND NOT EXISTS (SELECT 1 FROM stage s WHERE s.media_buy_id = t.media_buy_id AND s.date = t.date);
-- impressions 4500 + 100 + 700 = 5300, clicks 30 + 1 + 7 = 38, spend 13.75 + 0.50 + 0.70 = 14.95
SELECT impressions, clicks, spend, first_date, last_date FROM bravo_campaign_totals(10);
SELECT date, impressions, clicks, spend FROM bravo_campaign_daily(10, '2024-01-01', '2024-01-04');
SELECT count(*) AS diffs FROM rollup_diff;

-- 2. Direct edits by the application.
UPDATE platform_buy_daily_impressions SET spend = spend + 0.005 WHERE media_buy_id = 2 AND date = '2024-01-04';
UPDATE platform_buy_daily_videos SET video_completions = 30 WHERE media_buy_id = 1 AND date = '2024-01-05';
DELETE FROM platform_buy_daily_videos WHERE media_buy_id = 2 AND date = '2024-01-04';
INSERT INTO platform_buy_daily_videos (date, media_buy_id, video_starts, video_completions, video_views)
VALUES ('2024-01-02', 2, 10, 5, 8);
-- a key change: the row moves from buy 1 to buy 4 (campaign 30) and to another date
UPDATE platform_buy_daily_impressions SET media_buy_id = 4, date = '2024-01-09'
 WHERE media_buy_id = 1 AND date = '2024-01-02';
-- an upsert
INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions, clicks, spend)
VALUES ('2024-01-01', 2, 3333, 33, 3.33), ('2024-01-07', 2, 10, 1, 0.01)
ON CONFLICT (media_buy_id, date) DO UPDATE
   SET impressions = excluded.impressions, clicks = excluded.clicks, spend = excluded.spend;
-- impressions 1100 + 3333 + 500 + 10 = 4943, clicks 11 + 33 + 0 + 1 = 45,
-- spend 5.50 + 3.33 + 1.255 + 0.01 = 10.095; video 400+10+50 / 100+5+30 / 300+8+40
SELECT impressions, clicks, spend, video_starts, video_completions, video_views,
       first_date, last_date FROM bravo_campaign_totals(10);
SELECT impressions, clicks, spend, first_date, last_date FROM bravo_campaign_totals(30);
SELECT count(*) AS diffs FROM rollup_diff;

-- 3. A media buy moves to another campaign, and back; a new buy and campaign.
UPDATE media_buys SET campaign_id = 30 WHERE id = 2;
SELECT impressions, spend, media_buys, first_date, last_date FROM bravo_campaign_totals(10);
SELECT impressions, spend, media_buys, first_date, last_date FROM bravo_campaign_totals(30);
-- per media buy, buy 2 is now listed under campaign 30 with its own sums: the whole of
-- January from the media buy rollup (open range), then a partial month read from the
-- metric tables (3333 + 500 + 10 imp, 3.33 + 1.255 + 0.01)
SELECT media_buy_id, impressions, clicks, spend, video_starts, first_date, last_date
  FROM bravo_media_buy_totals(30);
SELECT media_buy_id, impressions, clicks, spend, video_starts, first_date, last_date
  FROM bravo_media_buy_totals(30, '2024-01-01', '2024-01-30');
SELECT media_buy_id, impressions, spend FROM bravo_media_buy_totals(10);
SELECT count(*) AS diffs FROM rollup_diff;
UPDATE media_buys SET campaign_id = 10, updated_at = now() WHERE id = 2;
UPDATE media_buys SET name = 'renamed';   -- no campaign change: nothing moves
SELECT impressions, spend, media_buys FROM bravo_campaign_totals(10);
INSERT INTO media_buys (id, campaign_id) VALUES (5, 40);
INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions, clicks, spend)
VALUES ('2024-01-01', 5, 100, 1, 1);
SELECT impressions, spend, media_buys FROM bravo_campaign_totals(40);
DELETE FROM platform_buy_daily_impressions WHERE media_buy_id = 5;
DELETE FROM media_buys WHERE id = 5;
SELECT count(*) FROM bravo_campaign_totals(40);
SELECT count(*) AS diffs FROM rollup_diff;
-- emptied days leave no rollup row behind
SELECT count(*) AS empty_rollup_rows FROM bravo.bravo_campaign_rollup WHERE impression_rows = 0 AND video_rows = 0;
SELECT count(*) AS empty_buy_rollup_rows FROM bravo.bravo_media_buy_rollup WHERE impression_rows = 0 AND video_rows = 0;

-- 4. TRUNCATE rebuilds; bravo_report_rebuild() rebuilds on demand.
TRUNCATE platform_buy_daily_videos;
SELECT video_starts, impressions FROM bravo_campaign_totals(10);
SELECT count(*) AS diffs FROM rollup_diff;
SELECT bravo_report_rebuild() = (SELECT count(*) FROM rollup_truth) + (SELECT count(*) FROM buy_rollup_truth) AS rebuilt;
SELECT count(*) AS diffs FROM rollup_diff;
ROLLBACK;

-- the rollback took the rollup with it
SELECT impressions, spend, video_starts FROM bravo_campaign_totals(10);
SELECT count(*) AS diffs FROM rollup_diff;
