-- Random data cross-checked, exactly, against the plain GROUP BY an analyst would
-- write: every measure, every ratio, spend with many decimals, before and after a
-- round of syncs, edits and campaign moves. A count of 0 differences is the result.
SELECT setseed(0.4242);
INSERT INTO media_buys (id, campaign_id)
SELECT 1000 + g, 100 + (random() * 24)::int FROM generate_series(0, 299) g;
INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions, clicks, spend)
SELECT '2024-03-01'::date + d, 1000 + b, x.imp,
       CASE WHEN random() < 0.05 THEN 0 ELSE (x.imp * random() * 0.05)::bigint END,
       round((random() * 1000)::numeric, 6) + (random() * 1e6)::int * 0.000000000001
  FROM generate_series(0, 299) b, generate_series(0, 59) d,
       LATERAL (SELECT CASE WHEN random() < 0.05 THEN 0 ELSE (random() * 100000)::bigint END
                  + 0 * b AS imp) x
 WHERE random() < 0.7;
INSERT INTO platform_buy_daily_videos (date, media_buy_id, video_starts, video_completions, video_views)
SELECT '2024-03-01'::date + d, 1000 + b, x.s, (x.s * random())::bigint, (x.s * random() * 2)::bigint
  FROM generate_series(0, 299) b, generate_series(0, 59) d,
       LATERAL (SELECT CASE WHEN random() < 0.05 THEN 0 ELSE (random() * 20000)::bigint END
                  + 0 * b AS s) x
 WHERE random() < 0.6;

-- The hand-written SQL. One convention is shared with the functions: spend is shown
-- in its canonical form (round(x, greatest(min_scale(x), 2)): same value, never
-- rounded), because a plain sum(numeric) takes the display scale of the widest row
-- summed, and the scale of a numeric quotient follows the scales of its operands.
CREATE FUNCTION pg_temp.money(x numeric) RETURNS numeric LANGUAGE sql
RETURN round(x, greatest(min_scale(x), 2));
CREATE FUNCTION pg_temp.plain_totals(f date, t date)
RETURNS TABLE (campaign_id bigint, impressions numeric, clicks numeric, spend numeric,
               video_starts numeric, video_completions numeric, video_views numeric,
               ctr numeric, cpm numeric, cpc numeric, completion_rate numeric,
               view_rate numeric, cpcv numeric, media_buys bigint, first_date date, last_date date)
LANGUAGE sql AS $$
SELECT c.campaign_id, coalesce(i.imp, 0), coalesce(i.clk, 0), coalesce(i.sp, 0.00),
       coalesce(v.st, 0), coalesce(v.co, 0), coalesce(v.vw, 0),
       i.clk / NULLIF(i.imp, 0), i.sp * 1000 / NULLIF(i.imp, 0), i.sp / NULLIF(i.clk, 0),
       v.co / NULLIF(v.st, 0), coalesce(v.vw, 0) / NULLIF(i.imp, 0), coalesce(i.sp, 0.00) / NULLIF(v.co, 0),
       c.n, least(i.d0, v.d0), greatest(i.d1, v.d1)
  FROM (SELECT m.campaign_id, count(*) AS n FROM media_buys m GROUP BY 1) c
  LEFT JOIN (SELECT m.campaign_id, sum(p.impressions) AS imp, sum(p.clicks) AS clk,
                    pg_temp.money(sum(p.spend)) AS sp, min(p.date) AS d0, max(p.date) AS d1
               FROM platform_buy_daily_impressions p JOIN media_buys m ON m.id = p.media_buy_id
              WHERE p.date BETWEEN coalesce(f, '-infinity') AND coalesce(t, 'infinity')
              GROUP BY 1) i ON i.campaign_id = c.campaign_id
  LEFT JOIN (SELECT m.campaign_id, sum(p.video_starts) AS st, sum(p.video_completions) AS co,
                    sum(p.video_views) AS vw, min(p.date) AS d0, max(p.date) AS d1
               FROM platform_buy_daily_videos p JOIN media_buys m ON m.id = p.media_buy_id
              WHERE p.date BETWEEN coalesce(f, '-infinity') AND coalesce(t, 'infinity')
              GROUP BY 1) v ON v.campaign_id = c.campaign_id
$$;
CREATE FUNCTION pg_temp.plain_daily(f date, t date)
RETURNS TABLE (campaign_id bigint, date date, impressions numeric, clicks numeric, spend numeric,
               video_starts numeric, video_completions numeric, video_views numeric,
               ctr numeric, cpm numeric, cpc numeric, completion_rate numeric,
               view_rate numeric, cpcv numeric)
LANGUAGE sql AS $$
SELECT c.campaign_id, d::date, coalesce(i.imp, 0), coalesce(i.clk, 0), coalesce(i.sp, 0.00),
       coalesce(v.st, 0), coalesce(v.co, 0), coalesce(v.vw, 0),
       i.clk / NULLIF(i.imp, 0), i.sp * 1000 / NULLIF(i.imp, 0), i.sp / NULLIF(i.clk, 0),
       v.co / NULLIF(v.st, 0), coalesce(v.vw, 0) / NULLIF(i.imp, 0), coalesce(i.sp, 0.00) / NULLIF(v.co, 0)
  FROM (SELECT DISTINCT m.campaign_id FROM media_buys m) c
 CROSS JOIN generate_series(f, t, interval '1 day') d
  LEFT JOIN (SELECT m.campaign_id, p.date, sum(p.impressions) AS imp, sum(p.clicks) AS clk,
                    pg_temp.money(sum(p.spend)) AS sp
               FROM platform_buy_daily_impressions p JOIN media_buys m ON m.id = p.media_buy_id
              GROUP BY 1, 2) i ON i.campaign_id = c.campaign_id AND i.date = d::date
  LEFT JOIN (SELECT m.campaign_id, p.date, sum(p.video_starts) AS st,
                    sum(p.video_completions) AS co, sum(p.video_views) AS vw
               FROM platform_buy_daily_videos p JOIN media_buys m ON m.id = p.media_buy_id
              GROUP BY 1, 2) v ON v.campaign_id = c.campaign_id AND v.date = d::date
$$;
CREATE FUNCTION pg_temp.plain_buys(f date, t date)
RETURNS TABLE (campaign_id bigint, media_buy_id bigint, impressions numeric, clicks numeric,
               spend numeric, video_starts numeric, video_completions numeric, video_views numeric,
               ctr numeric, cpm numeric, cpc numeric, completion_rate numeric,
               view_rate numeric, cpcv numeric, first_date date, last_date date)
LANGUAGE sql AS $$
SELECT m.campaign_id, m.id, coalesce(i.imp, 0), coalesce(i.clk, 0), coalesce(i.sp, 0.00),
       coalesce(v.st, 0), coalesce(v.co, 0), coalesce(v.vw, 0),
       i.clk / NULLIF(i.imp, 0), i.sp * 1000 / NULLIF(i.imp, 0), i.sp / NULLIF(i.clk, 0),
       v.co / NULLIF(v.st, 0), coalesce(v.vw, 0) / NULLIF(i.imp, 0), coalesce(i.sp, 0.00) / NULLIF(v.co, 0),
       least(i.d0, v.d0), greatest(i.d1, v.d1)
  FROM media_buys m
  LEFT JOIN (SELECT p.media_buy_id, sum(p.impressions) AS imp, sum(p.clicks) AS clk,
                    pg_temp.money(sum(p.spend)) AS sp, min(p.date) AS d0, max(p.date) AS d1
               FROM platform_buy_daily_impressions p
              WHERE p.date BETWEEN coalesce(f, '-infinity') AND coalesce(t, 'infinity')
              GROUP BY 1) i ON i.media_buy_id = m.id
  LEFT JOIN (SELECT p.media_buy_id, sum(p.video_starts) AS st, sum(p.video_completions) AS co,
                    sum(p.video_views) AS vw, min(p.date) AS d0, max(p.date) AS d1
               FROM platform_buy_daily_videos p
              WHERE p.date BETWEEN coalesce(f, '-infinity') AND coalesce(t, 'infinity')
              GROUP BY 1) v ON v.media_buy_id = m.id
$$;
-- The functions, in the same shape.
CREATE FUNCTION pg_temp.fn_totals(f date, t date) RETURNS SETOF record LANGUAGE sql AS $$
SELECT campaign_id, impressions::numeric, clicks::numeric, spend, video_starts::numeric,
       video_completions::numeric, video_views::numeric, ctr, cpm, cpc, completion_rate,
       view_rate, cpcv, media_buys, first_date, last_date
  FROM bravo_campaigns_totals((SELECT array_agg(DISTINCT campaign_id) FROM media_buys), f, t)
$$;
-- a view of all differences, for three ranges each
CREATE TEMP VIEW random_diffs AS
SELECT r.f, r.t, 'totals' AS fn,
       (SELECT count(*) FROM ((SELECT * FROM pg_temp.plain_totals(r.f, r.t)
                               EXCEPT ALL
                               SELECT * FROM pg_temp.fn_totals(r.f, r.t) AS x (
                                   a bigint, b numeric, c numeric, d numeric, e numeric,
                                   g numeric, h numeric, i numeric, j numeric, k numeric,
                                   l numeric, m numeric, n numeric, o bigint, p date, q date))
                              UNION ALL
                              (SELECT * FROM pg_temp.fn_totals(r.f, r.t) AS x (
                                   a bigint, b numeric, c numeric, d numeric, e numeric,
                                   g numeric, h numeric, i numeric, j numeric, k numeric,
                                   l numeric, m numeric, n numeric, o bigint, p date, q date)
                               EXCEPT ALL
                               SELECT * FROM pg_temp.plain_totals(r.f, r.t))) z) AS diffs,
       (SELECT count(*) FROM pg_temp.plain_totals(r.f, r.t)) AS rows_compared
  FROM (VALUES (NULL::date, NULL::date), ('2024-03-10', '2024-04-05'), (NULL, '2024-03-01'),
               ('2024-04-20', NULL)) r (f, t)
UNION ALL
SELECT r.f, r.t, 'daily',
       (SELECT count(*) FROM ((SELECT * FROM pg_temp.plain_daily(r.f, r.t)
                               EXCEPT ALL
                               SELECT c.campaign_id, d.date, d.impressions, d.clicks, d.spend, d.video_starts, d.video_completions,
                                      d.video_views, d.ctr, d.cpm, d.cpc, d.completion_rate, d.view_rate, d.cpcv FROM (SELECT DISTINCT campaign_id FROM media_buys) c
                                CROSS JOIN LATERAL bravo_campaign_daily(c.campaign_id, r.f, r.t) d)
                              UNION ALL
                              (SELECT c.campaign_id, d.date, d.impressions, d.clicks, d.spend, d.video_starts, d.video_completions,
                                      d.video_views, d.ctr, d.cpm, d.cpc, d.completion_rate, d.view_rate, d.cpcv FROM (SELECT DISTINCT campaign_id FROM media_buys) c
                                CROSS JOIN LATERAL bravo_campaign_daily(c.campaign_id, r.f, r.t) d
                               EXCEPT ALL
                               SELECT * FROM pg_temp.plain_daily(r.f, r.t))) z),
       (SELECT count(*) FROM pg_temp.plain_daily(r.f, r.t))
  FROM (VALUES ('2024-02-25'::date, '2024-05-05'::date), ('2024-03-15', '2024-03-15')) r (f, t)
UNION ALL
SELECT r.f, r.t, 'media buys',
       (SELECT count(*) FROM ((SELECT * FROM pg_temp.plain_buys(r.f, r.t)
                               EXCEPT ALL
                               SELECT c.campaign_id, b.media_buy_id, b.impressions, b.clicks, b.spend, b.video_starts, b.video_completions, b.video_views, b.ctr, b.cpm, b.cpc, b.completion_rate, b.view_rate, b.cpcv, b.first_date, b.last_date
                                 FROM (SELECT DISTINCT campaign_id FROM media_buys) c
                                CROSS JOIN LATERAL bravo_media_buy_totals(c.campaign_id, r.f, r.t) b)
                              UNION ALL
                              (SELECT c.campaign_id, b.media_buy_id, b.impressions, b.clicks, b.spend, b.video_starts, b.video_completions, b.video_views, b.ctr, b.cpm, b.cpc, b.completion_rate, b.view_rate, b.cpcv, b.first_date, b.last_date
                                 FROM (SELECT DISTINCT campaign_id FROM media_buys) c
                                CROSS JOIN LATERAL bravo_media_buy_totals(c.campaign_id, r.f, r.t) b
                               EXCEPT ALL
                               SELECT * FROM pg_temp.plain_buys(r.f, r.t))) z),
       (SELECT count(*) FROM pg_temp.plain_buys(r.f, r.t))
  -- whole months from the media buy rollup, partial ones from the metric tables: open
  -- ranges, exact months, months with partial ends, no whole month, one day
  FROM (VALUES (NULL::date, NULL::date), ('2024-03-10', '2024-04-05'), ('2024-03-01', '2024-04-30'),
               ('2024-02-15', '2024-05-03'), (NULL, '2024-03-31'), (NULL, '2024-04-17'),
               ('2024-04-01', NULL), ('2024-03-02', NULL), ('2024-03-01', '2024-03-31'),
               ('2024-03-02', '2024-03-30'), ('2024-04-15', '2024-04-15'),
               ('2024-03-31', '2024-04-01')) r (f, t);

SELECT * FROM random_diffs;

-- A round of changes: a sync-style UPDATE ... FROM of ~10% of the rows, an
-- INSERT ... SELECT of new days, a DELETE of ~5%, 40 buys moved to other (and new)
-- campaigns, direct single-row edits.
UPDATE platform_buy_daily_impressions t
   SET impressions = s.impressions, clicks = s.clicks, spend = s.spend, updated_at = now()
  FROM (SELECT media_buy_id, date, (random() * 90000)::bigint AS impressions,
               (random() * 900)::bigint AS clicks, round((random() * 500)::numeric, 9) AS spend
          FROM platform_buy_daily_impressions WHERE media_buy_id >= 1000 AND random() < 0.1) s
 WHERE t.media_buy_id = s.media_buy_id AND t.date = s.date;
UPDATE platform_buy_daily_videos t
   SET video_starts = t.video_starts + 7, video_views = t.video_views * 2
 WHERE media_buy_id >= 1000 AND random() < 0.1;
INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions, clicks, spend)
SELECT '2024-04-30'::date + d, 1000 + b, 1000 + b, b % 7, b * 0.0101
  FROM generate_series(0, 299) b, generate_series(0, 9) d WHERE random() < 0.5;
INSERT INTO platform_buy_daily_videos (date, media_buy_id, video_starts, video_completions, video_views)
SELECT '2024-04-30'::date + d, 1000 + b, b, b / 3, b / 2
  FROM generate_series(0, 299) b, generate_series(0, 9) d WHERE random() < 0.5;
DELETE FROM platform_buy_daily_impressions WHERE media_buy_id >= 1000 AND random() < 0.05;
DELETE FROM platform_buy_daily_videos WHERE media_buy_id >= 1000 AND random() < 0.05;
UPDATE media_buys SET campaign_id = 100 + (random() * 30)::int
 WHERE id IN (SELECT id FROM media_buys WHERE id >= 1000 ORDER BY random() LIMIT 40);
UPDATE platform_buy_daily_impressions SET spend = spend + 0.000000000001
 WHERE media_buy_id = 1007 AND date = (SELECT min(date) FROM platform_buy_daily_impressions WHERE media_buy_id = 1007);

SELECT * FROM random_diffs;
SELECT count(*) AS rollup_rows_checked FROM bravo.bravo_campaign_rollup WHERE campaign_id >= 100;
SELECT count(*) AS buy_rollup_rows_checked FROM bravo.bravo_media_buy_rollup WHERE media_buy_id >= 1000;
-- leave the data of the earlier tests as it was
DELETE FROM platform_buy_daily_impressions WHERE media_buy_id >= 1000;
DELETE FROM platform_buy_daily_videos WHERE media_buy_id >= 1000;
DELETE FROM media_buys WHERE id >= 1000;
SELECT count(*) AS leftover FROM bravo.bravo_campaign_rollup WHERE campaign_id >= 100;
SELECT count(*) AS leftover FROM bravo.bravo_media_buy_rollup WHERE media_buy_id >= 1000;
