-- campaign totals as an analyst writes them: join media_buys to each metric table
SELECT i.impressions, i.clicks, i.spend, v.starts, v.completions, v.views,
       i.clicks / NULLIF(i.impressions, 0) AS ctr, i.spend * 1000 / NULLIF(i.impressions, 0) AS cpm,
       i.spend / NULLIF(i.clicks, 0) AS cpc, v.completions / NULLIF(v.starts, 0) AS completion_rate,
       v.views / NULLIF(i.impressions, 0) AS view_rate, i.spend / NULLIF(v.completions, 0) AS cpcv,
       (SELECT count(*) FROM media_buys WHERE campaign_id = :cid) AS media_buys,
       least(i.first_date, v.first_date) AS first_date, greatest(i.last_date, v.last_date) AS last_date
  FROM (SELECT sum(p.impressions) AS impressions, sum(p.clicks) AS clicks, sum(p.spend) AS spend,
               min(p.date) AS first_date, max(p.date) AS last_date
          FROM media_buys m JOIN platform_buy_daily_impressions p ON p.media_buy_id = m.id
         WHERE m.campaign_id = :cid AND p.date BETWEEN :from::date AND :to::date) i,
       (SELECT sum(p.video_starts) AS starts, sum(p.video_completions) AS completions,
               sum(p.video_views) AS views, min(p.date) AS first_date, max(p.date) AS last_date
          FROM media_buys m JOIN platform_buy_daily_videos p ON p.media_buy_id = m.id
         WHERE m.campaign_id = :cid AND p.date BETWEEN :from::date AND :to::date) v;
