-- bravo_campaigns_totals: many campaigns in one call, one row per known id, by id.
\pset null '(null)'
-- duplicates collapse, unknown ids (999) are left out, known empty ones (20) are zeros
SELECT campaign_id, impressions, clicks, spend, video_starts, ctr, cpm, media_buys,
       first_date, last_date
  FROM bravo_campaigns_totals('{30,10,999,20,10}', NULL, '2024-01-04');
-- same numbers as the single-campaign form
SELECT b.campaign_id,
       (b.impressions, b.clicks, b.spend, b.video_starts, b.video_completions, b.video_views,
        b.ctr, b.cpm, b.cpc, b.completion_rate, b.view_rate, b.cpcv, b.media_buys,
        b.first_date, b.last_date)
     IS NOT DISTINCT FROM
       (t.impressions, t.clicks, t.spend, t.video_starts, t.video_completions, t.video_views,
        t.ctr, t.cpm, t.cpc, t.completion_rate, t.view_rate, t.cpcv, t.media_buys,
        t.first_date, t.last_date) AS same
  FROM bravo_campaigns_totals('{10,20,30}') b
 CROSS JOIN LATERAL bravo_campaign_totals(b.campaign_id) t;
-- empty array: no rows
SELECT count(*) FROM bravo_campaigns_totals('{}');
-- LATERAL joins: the functions take their arguments from the outer row
SELECT c.id, t.date, t.impressions, t.spend
  FROM (VALUES (10::bigint), (30)) c (id)
 CROSS JOIN LATERAL bravo_campaign_daily(c.id, '2024-01-01', '2024-01-02') t
 ORDER BY c.id, t.date;
SELECT c.id, t.impressions, t.media_buys
  FROM (VALUES (10::bigint), (20), (999)) c (id)
  LEFT JOIN LATERAL bravo_campaign_totals(c.id) t ON true
 ORDER BY c.id;
SELECT c.id, t.media_buy_id, t.spend
  FROM (VALUES (10::bigint), (30)) c (id)
 CROSS JOIN LATERAL bravo_media_buy_totals(c.id) t
 ORDER BY 1, 2;
