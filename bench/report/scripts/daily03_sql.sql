-- daily series as an analyst writes it, with generate_series for the empty days
SELECT d::date AS date, coalesce(i.impressions, 0), coalesce(i.clicks, 0), coalesce(i.spend, 0),
       coalesce(v.starts, 0), coalesce(v.completions, 0), coalesce(v.views, 0),
       i.clicks / NULLIF(i.impressions, 0), i.spend * 1000 / NULLIF(i.impressions, 0),
       i.spend / NULLIF(i.clicks, 0), v.completions / NULLIF(v.starts, 0),
       v.views / NULLIF(i.impressions, 0), i.spend / NULLIF(v.completions, 0)
  FROM generate_series(:from::date, :to::date, interval '1 day') d
  LEFT JOIN (SELECT p.date, sum(p.impressions) AS impressions, sum(p.clicks) AS clicks, sum(p.spend) AS spend
               FROM media_buys m JOIN platform_buy_daily_impressions p ON p.media_buy_id = m.id
              WHERE m.campaign_id = :cid AND p.date BETWEEN :from::date AND :to::date
              GROUP BY p.date) i ON i.date = d::date
  LEFT JOIN (SELECT p.date, sum(p.video_starts) AS starts, sum(p.video_completions) AS completions,
                    sum(p.video_views) AS views
               FROM media_buys m JOIN platform_buy_daily_videos p ON p.media_buy_id = m.id
              WHERE m.campaign_id = :cid AND p.date BETWEEN :from::date AND :to::date
              GROUP BY p.date) v ON v.date = d::date
 ORDER BY 1;
