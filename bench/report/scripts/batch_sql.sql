-- totals of many campaigns as an analyst writes them
SELECT c.campaign_id, i.impressions, i.clicks, i.spend, v.starts, v.completions, v.views,
       i.clicks / NULLIF(i.impressions, 0), i.spend * 1000 / NULLIF(i.impressions, 0),
       i.spend / NULLIF(i.clicks, 0), v.completions / NULLIF(v.starts, 0),
       v.views / NULLIF(i.impressions, 0), i.spend / NULLIF(v.completions, 0), c.n
  FROM (SELECT campaign_id, count(*) AS n FROM media_buys
         WHERE campaign_id = ANY (:ids::bigint[]) GROUP BY 1) c
  LEFT JOIN (SELECT m.campaign_id, sum(p.impressions) AS impressions, sum(p.clicks) AS clicks,
                    sum(p.spend) AS spend
               FROM media_buys m JOIN platform_buy_daily_impressions p ON p.media_buy_id = m.id
              WHERE m.campaign_id = ANY (:ids::bigint[]) AND p.date BETWEEN :from::date AND :to::date
              GROUP BY 1) i ON i.campaign_id = c.campaign_id
  LEFT JOIN (SELECT m.campaign_id, sum(p.video_starts) AS starts, sum(p.video_completions) AS completions,
                    sum(p.video_views) AS views
               FROM media_buys m JOIN platform_buy_daily_videos p ON p.media_buy_id = m.id
              WHERE m.campaign_id = ANY (:ids::bigint[]) AND p.date BETWEEN :from::date AND :to::date
              GROUP BY 1) v ON v.campaign_id = c.campaign_id
 ORDER BY 1;
