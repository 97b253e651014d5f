-- per media buy totals as an analyst writes them
SELECT m.id, coalesce(i.impressions, 0), coalesce(i.clicks, 0), coalesce(i.spend, 0),
       coalesce(v.starts, 0), coalesce(v.completions, 0), coalesce(v.views, 0),
       i.clicks / NULLIF(i.impressions, 0), i.spend * 1000 / NULLIF(i.impressions, 0),
       i.spend / NULLIF(i.clicks, 0), v.completions / NULLIF(v.starts, 0),
       v.views / NULLIF(i.impressions, 0), i.spend / NULLIF(v.completions, 0)
  FROM media_buys m
  LEFT JOIN (SELECT p.media_buy_id, sum(p.impressions) AS impressions, sum(p.clicks) AS clicks,
                    sum(p.spend) AS spend
               FROM media_buys m JOIN platform_buy_daily_impressions p ON p.media_buy_id = m.id
              WHERE m.campaign_id = :cid AND p.date BETWEEN :from::date AND :to::date
              GROUP BY 1) i ON i.media_buy_id = m.id
  LEFT JOIN (SELECT p.media_buy_id, sum(p.video_starts) AS starts, sum(p.video_completions) AS completions,
                    sum(p.video_views) AS views
               FROM media_buys m JOIN platform_buy_daily_videos p ON p.media_buy_id = m.id
              WHERE m.campaign_id = :cid AND p.date BETWEEN :from::date AND :to::date
              GROUP BY 1) v ON v.media_buy_id = m.id
 WHERE m.campaign_id = :cid
 ORDER BY m.id;
