-- the daily report asking only for the columns it had in 0.3.0 (the planner drops the rest)
SELECT date, impressions, clicks, spend, video_starts, video_completions, video_views,
       ctr, cpm, cpc, completion_rate, view_rate, cpcv
  FROM bravo_campaign_daily(:cid, :from::date, :to::date);
