-- bravo_campaign_daily: one row per day of the range, empty days as zeros.
\pset null '(null)'
-- 2024-01-01: buys 1+2: 4000 impressions, 30 clicks, 12.50 spend, 400/100/300 video
--   ctr 30/4000 = 0.0075, cpm 3.125, cpc 12.50/30 = 0.41666.., completion 0.25,
--   view rate 300/4000 = 0.075, cpcv 12.50/100 = 0.125
-- 2024-01-02: no rows at all -> zeros, NULL rates
-- 2024-01-03: a row of zeros -> zeros, NULL rates
-- 2024-01-04: 500 impressions, 0 clicks, 1.25 -> ctr 0, cpm 2.5, cpc NULL; video 0/0 -> NULL
-- 2024-01-05: video only: completion 25/50 = 0.5, view rate x/0 = NULL, cpcv 0/25 = 0
-- 2024-01-06: after the data -> zeros
SELECT date, impressions, clicks, spend, video_starts, video_completions, video_views,
       ctr, cpm, cpc, completion_rate, view_rate, cpcv
  FROM bravo_campaign_daily(10, '2024-01-01', '2024-01-06');
-- the range is inclusive and only the range is returned
SELECT date, impressions, spend FROM bravo_campaign_daily(10, '2023-12-31', '2024-01-01');
-- a single day
SELECT date, impressions, spend FROM bravo_campaign_daily(10, '2024-01-04', '2024-01-04');
-- no holes over a long range: 1000 days is the limit and is allowed
SELECT count(*) AS days, sum(impressions) AS impressions, sum(spend) AS spend,
       min(date) AS first, max(date) AS last
  FROM bravo_campaign_daily(10, '2023-06-01', '2023-06-01'::date + 999);
-- known campaign without data: every day present, zeros
SELECT date, impressions, spend, ctr FROM bravo_campaign_daily(20, '2024-01-01', '2024-01-03');
-- unknown campaign: no rows
SELECT count(*) FROM bravo_campaign_daily(999, '2024-01-01', '2024-01-03');
-- the daily rows add up to the totals, exactly
SELECT (SELECT (sum(impressions), sum(clicks), sum(spend), sum(video_starts),
                sum(video_completions), sum(video_views))
          FROM bravo_campaign_daily(10, '2024-01-01', '2024-01-31'))
     = (SELECT (impressions::numeric, clicks::numeric, spend, video_starts::numeric,
                video_completions::numeric, video_views::numeric)
          FROM bravo_campaign_totals(10, '2024-01-01', '2024-01-31')) AS daily_adds_up;
