-- bravo_campaign_totals: one row, ratios of sums, NULL for a zero denominator.
\pset null '(null)'
\x on
-- campaign 10, all dates. Hand-computed:
--   impressions 1000+3000+0+500 = 4500, clicks 30, spend 5.00+7.50+0+1.25 = 13.75
--   starts 400+0+50 = 450, completions 125, views 340
--   ctr 30/4500 = 0.00666.., cpm 13.75*1000/4500 = 3.0555.., cpc 13.75/30 = 0.458333..
--   completion rate 125/450 = 0.2777.., view rate 340/4500 = 0.07555.., cpcv 13.75/125 = 0.11
--   (an average of daily ratios would give a different ctr: (0.0075 + 0 + 0)/..)
SELECT impressions, clicks, spend, video_starts, video_completions, video_views,
       ctr, cpm, cpc, completion_rate, view_rate, cpcv, media_buys, first_date, last_date,
       latest_date, days_behind = CURRENT_DATE - latest_date AS days_behind_ok
  FROM bravo_campaign_totals(10);
-- inclusive bounds: 2024-01-03 .. 2024-01-04 = the 0-row day and buy 2's 500 impressions
-- ctr 0/500 = 0, cpc spend/0 clicks = NULL, completion rate 0/0 = NULL, cpcv NULL
SELECT impressions, clicks, spend, video_starts, video_completions, video_views,
       ctr, cpm, cpc, completion_rate, view_rate, cpcv, first_date, last_date
  FROM bravo_campaign_totals(10, '2024-01-03', '2024-01-04');
-- open lower bound / open upper bound
SELECT impressions, spend, video_starts, first_date, last_date
  FROM bravo_campaign_totals(10, NULL, '2024-01-01');
SELECT impressions, spend, video_starts, first_date, last_date
  FROM bravo_campaign_totals(10, '2024-01-05');
-- a single day bound (from = to)
SELECT impressions, spend, first_date, last_date
  FROM bravo_campaign_totals(10, '2024-01-04', '2024-01-04');
-- known campaign, no data in range: one row of zeros and NULL rates
SELECT impressions, clicks, spend, video_starts, video_completions, video_views,
       ctr, cpm, cpc, completion_rate, view_rate, cpcv, media_buys, first_date, last_date
  FROM bravo_campaign_totals(10, '2023-01-01', '2023-12-31');
-- known campaign with no data at all
SELECT impressions, spend, ctr, media_buys, first_date, latest_date, days_behind
  FROM bravo_campaign_totals(20);
-- spend stays exact numeric (24 decimal places in, 24 out; cpm from the exact sum)
SELECT spend, cpm, pg_typeof(spend) AS spend_type FROM bravo_campaign_totals(30);
\x off
-- unknown campaign: no rows
SELECT count(*) FROM bravo_campaign_totals(999);
-- freshness: last successful sync (failed runs do not count)
INSERT INTO bravo_sync_runs (trigger, started_at, finished_at, lookback_days, status) VALUES
    ('manual', '2024-01-06 10:00+00', '2024-01-06 10:05+00', 30, 'succeeded'),
    ('manual', '2024-01-07 10:00+00', '2024-01-07 10:01+00', 30, 'failed');
SET timezone = 'UTC';
SELECT last_sync_at FROM bravo_campaign_totals(10);
DELETE FROM bravo_sync_runs;
RESET timezone;
