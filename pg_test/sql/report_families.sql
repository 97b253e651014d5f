-- The conversions and viewability families in the campaign reports (0.4.0): random
-- rows of all four families cross-checked, exactly, against the plain GROUP BY an
-- analyst would write, before and after a round of edits, deletes and campaign moves.
-- Ratios are ratios of sums over the range, NULL on a zero denominator:
-- conversion_rate = post-click conversions / clicks, cpa = spend / conversions,
-- roas = conversion value / spend, measurable_rate = measurable / eligible,
-- viewability_rate = viewable / measurable (MRC), vcpm = spend * 1000 / viewable.
SELECT bravo_enable_family('conversions') IS NOT NULL AS conversions_on,
       bravo_enable_family('viewability') IS NOT NULL AS viewability_on;
SELECT family, enabled, required FROM bravo_families ORDER BY position;
SELECT setseed(0.2718);
INSERT INTO media_buys (id, campaign_id)
SELECT 2000 + g, 200 + (random() * 15)::int FROM generate_series(0, 199) g;
INSERT INTO platform_buy_daily_impressions (date, media_buy_id, impressions, clicks, spend)
SELECT '2024-06-01'::date + d, 2000 + b, x.imp,
       CASE WHEN random() < 0.1 THEN 0 ELSE (x.imp * random() * 0.05)::bigint END,
       CASE WHEN random() < 0.05 THEN 0 ELSE round((random() * 800)::numeric, 7) END
  FROM generate_series(0, 199) b, generate_series(0, 44) d,
       LATERAL (SELECT (random() * 80000)::bigint + 0 * b AS imp) x
 WHERE random() < 0.7;
INSERT INTO platform_buy_daily_conversions (date, media_buy_id, post_click_conversions,
                                            post_view_conversions, conversion_value)
SELECT '2024-06-01'::date + d, 2000 + b, (random() * 40)::bigint, (random() * 90)::bigint,
       CASE WHEN random() < 0.1 THEN 0 ELSE round((random() * 5000)::numeric, 4) END
  FROM generate_series(0, 199) b, generate_series(0, 44) d
 WHERE random() < 0.5;
INSERT INTO platform_buy_daily_viewability (date, media_buy_id, eligible_impressions,
                                            measurable_impressions, viewable_impressions)
SELECT '2024-06-01'::date + d, 2000 + b, x.e, x.m, (x.m * random())::bigint
  FROM generate_series(0, 199) b, generate_series(0, 44) d,
       LATERAL (SELECT (random() * 60000)::bigint + 0 * b AS e) e0,
       LATERAL (SELECT e0.e AS e, CASE WHEN random() < 0.05 THEN 0 ELSE (e0.e * random())::bigint END AS m) x
 WHERE random() < 0.6;

CREATE FUNCTION pg_temp.money(x numeric) RETURNS numeric LANGUAGE sql
RETURN round(x, greatest(min_scale(x), 2));
-- Per campaign (totals: d is NULL) or per campaign and day: the summed families.
CREATE FUNCTION pg_temp.sums(f date, t date, daily boolean)
RETURNS TABLE (campaign_id bigint, date date, clk numeric, sp numeric, pc numeric, pv numeric,
               val numeric, el numeric, me numeric, vi numeric)
LANGUAGE sql AS $$
SELECT c.campaign_id, c.d, i.clk, i.sp, k.pc, k.pv, k.val, v.el, v.me, v.vi
  FROM (SELECT DISTINCT m.campaign_id, CASE WHEN daily THEN g::date END AS d
          FROM media_buys m, generate_series(f, t, interval '1 day') g WHERE m.id >= 2000) c
  LEFT JOIN (SELECT m.campaign_id, CASE WHEN daily THEN p.date END AS d, sum(p.clicks) AS clk,
                    pg_temp.money(sum(p.spend)) AS sp
               FROM platform_buy_daily_impressions p JOIN media_buys m ON m.id = p.media_buy_id
              WHERE p.date BETWEEN f AND t GROUP BY 1, 2) i
         ON i.campaign_id = c.campaign_id AND i.d IS NOT DISTINCT FROM c.d
  LEFT JOIN (SELECT m.campaign_id, CASE WHEN daily THEN p.date END AS d,
                    sum(p.post_click_conversions) AS pc, sum(p.post_view_conversions) AS pv,
                    pg_temp.money(sum(p.conversion_value)) AS val
               FROM platform_buy_daily_conversions p JOIN media_buys m ON m.id = p.media_buy_id
              WHERE p.date BETWEEN f AND t GROUP BY 1, 2) k
         ON k.campaign_id = c.campaign_id AND k.d IS NOT DISTINCT FROM c.d
  LEFT JOIN (SELECT m.campaign_id, CASE WHEN daily THEN p.date END AS d,
                    sum(p.eligible_impressions) AS el, sum(p.measurable_impressions) AS me,
                    sum(p.viewable_impressions) AS vi
               FROM platform_buy_daily_viewability p JOIN media_buys m ON m.id = p.media_buy_id
              WHERE p.date BETWEEN f AND t GROUP BY 1, 2) v
         ON v.campaign_id = c.campaign_id AND v.d IS NOT DISTINCT FROM c.d
$$;
-- The new measures from those sums, as the reports define them.
CREATE FUNCTION pg_temp.plain(f date, t date, daily boolean)
RETURNS TABLE (campaign_id bigint, date date, pc numeric, pv numeric, conv numeric, val numeric,
               rate numeric, cpa numeric, roas numeric, el numeric, me numeric, vi numeric,
               mrate numeric, vrate numeric, vcpm numeric)
LANGUAGE sql AS $$
SELECT s.campaign_id, s.date, coalesce(s.pc, 0), coalesce(s.pv, 0), coalesce(s.pc + s.pv, 0),
       coalesce(s.val, 0.00),
       coalesce(s.pc, 0) / NULLIF(s.clk, 0),
       coalesce(s.sp, 0.00) / NULLIF(coalesce(s.pc + s.pv, 0), 0),
       coalesce(s.val, 0.00) / NULLIF(s.sp, 0),
       coalesce(s.el, 0), coalesce(s.me, 0), coalesce(s.vi, 0),
       coalesce(s.me, 0) / NULLIF(s.el, 0),
       coalesce(s.vi, 0) / NULLIF(s.me, 0),
       coalesce(s.sp, 0.00) * 1000 / NULLIF(s.vi, 0)
  FROM pg_temp.sums(f, t, daily) s
$$;
CREATE FUNCTION pg_temp.reported(f date, t date, daily boolean)
RETURNS TABLE (campaign_id bigint, date date, pc numeric, pv numeric, conv numeric, val numeric,
               rate numeric, cpa numeric, roas numeric, el numeric, me numeric, vi numeric,
               mrate numeric, vrate numeric, vcpm numeric)
LANGUAGE sql AS $$
SELECT c.campaign_id, NULL::date, x.post_click_conversions, x.post_view_conversions, x.conversions,
       x.conversion_value, x.conversion_rate, x.cpa, x.roas, x.eligible_impressions,
       x.measurable_impressions, x.viewable_impressions, x.measurable_rate, x.viewability_rate, x.vcpm
  FROM (SELECT DISTINCT m.campaign_id FROM media_buys m WHERE m.id >= 2000) c
 CROSS JOIN LATERAL bravo_campaign_totals(c.campaign_id, f, t) x
 WHERE NOT daily
UNION ALL
SELECT c.campaign_id, x.date, x.post_click_conversions, x.post_view_conversions, x.conversions,
       x.conversion_value, x.conversion_rate, x.cpa, x.roas, x.eligible_impressions,
       x.measurable_impressions, x.viewable_impressions, x.measurable_rate, x.viewability_rate, x.vcpm
  FROM (SELECT DISTINCT m.campaign_id FROM media_buys m WHERE m.id >= 2000) c
 CROSS JOIN LATERAL bravo_campaign_daily(c.campaign_id, f, t) x
 WHERE daily
$$;
CREATE TEMP VIEW family_diffs AS
SELECT r.f, r.t, r.daily,
       (SELECT count(*) FROM ((SELECT * FROM pg_temp.plain(r.f, r.t, r.daily)
                               EXCEPT ALL SELECT * FROM pg_temp.reported(r.f, r.t, r.daily))
                              UNION ALL
                              (SELECT * FROM pg_temp.reported(r.f, r.t, r.daily)
                               EXCEPT ALL SELECT * FROM pg_temp.plain(r.f, r.t, r.daily))) z) AS diffs,
       (SELECT count(*) FROM pg_temp.plain(r.f, r.t, r.daily)) AS rows_compared,
       (SELECT count(*) FROM pg_temp.plain(r.f, r.t, r.daily) p
         WHERE p.conv > 0 AND p.vi > 0 AND p.rate IS NOT NULL AND p.cpa IS NOT NULL
           AND p.roas IS NOT NULL AND p.vcpm IS NOT NULL) AS rows_with_every_measure
  FROM (VALUES ('2024-05-01'::date, '2024-08-01'::date, false), ('2024-06-10', '2024-06-20', false),
               ('2024-06-15', '2024-06-15', false), ('2024-05-28', '2024-07-20', true)) r (f, t, daily);

SELECT * FROM family_diffs;

-- Per media buy (bravo_media_buy_totals: whole months from the media buy rollup, the
-- partial months at either end from the metric tables), against the same GROUP BY.
CREATE FUNCTION pg_temp.buy_plain(f date, t date)
RETURNS TABLE (id bigint, pc numeric, pv numeric, conv numeric, val numeric, rate numeric,
               cpa numeric, roas numeric, el numeric, me numeric, vi numeric, mrate numeric,
               vrate numeric, vcpm numeric)
LANGUAGE sql AS $$
SELECT m.id, coalesce(k.pc, 0), coalesce(k.pv, 0), coalesce(k.pc + k.pv, 0), coalesce(k.val, 0.00),
       coalesce(k.pc, 0) / NULLIF(i.clk, 0),
       coalesce(i.sp, 0.00) / NULLIF(coalesce(k.pc + k.pv, 0), 0),
       coalesce(k.val, 0.00) / NULLIF(i.sp, 0),
       coalesce(v.el, 0), coalesce(v.me, 0), coalesce(v.vi, 0),
       coalesce(v.me, 0) / NULLIF(v.el, 0),
       coalesce(v.vi, 0) / NULLIF(v.me, 0),
       coalesce(i.sp, 0.00) * 1000 / NULLIF(v.vi, 0)
  FROM media_buys m
  LEFT JOIN (SELECT p.media_buy_id, sum(p.clicks) AS clk, pg_temp.money(sum(p.spend)) AS sp
               FROM platform_buy_daily_impressions p WHERE p.date BETWEEN f AND t GROUP BY 1) i
         ON i.media_buy_id = m.id
  LEFT JOIN (SELECT p.media_buy_id, sum(p.post_click_conversions) AS pc,
                    sum(p.post_view_conversions) AS pv, pg_temp.money(sum(p.conversion_value)) AS val
               FROM platform_buy_daily_conversions p WHERE p.date BETWEEN f AND t GROUP BY 1) k
         ON k.media_buy_id = m.id
  LEFT JOIN (SELECT p.media_buy_id, sum(p.eligible_impressions) AS el,
                    sum(p.measurable_impressions) AS me, sum(p.viewable_impressions) AS vi
               FROM platform_buy_daily_viewability p WHERE p.date BETWEEN f AND t GROUP BY 1) v
         ON v.media_buy_id = m.id
 WHERE m.id >= 2000
$$;
CREATE FUNCTION pg_temp.buy_reported(f date, t date)
RETURNS TABLE (id bigint, pc numeric, pv numeric, conv numeric, val numeric, rate numeric,
               cpa numeric, roas numeric, el numeric, me numeric, vi numeric, mrate numeric,
               vrate numeric, vcpm numeric)
LANGUAGE sql AS $$
SELECT x.media_buy_id, x.post_click_conversions, x.post_view_conversions, x.conversions,
       x.conversion_value, x.conversion_rate, x.cpa, x.roas, x.eligible_impressions,
       x.measurable_impressions, x.viewable_impressions, x.measurable_rate, x.viewability_rate, x.vcpm
  FROM (SELECT DISTINCT m.campaign_id FROM media_buys m WHERE m.id >= 2000) c
 CROSS JOIN LATERAL bravo_media_buy_totals(c.campaign_id, f, t) x
 WHERE x.media_buy_id >= 2000
$$;
CREATE TEMP VIEW buy_family_diffs AS
SELECT r.f, r.t,
       (SELECT count(*) FROM ((SELECT * FROM pg_temp.buy_plain(r.f, r.t)
                               EXCEPT ALL SELECT * FROM pg_temp.buy_reported(r.f, r.t))
                              UNION ALL
                              (SELECT * FROM pg_temp.buy_reported(r.f, r.t)
                               EXCEPT ALL SELECT * FROM pg_temp.buy_plain(r.f, r.t))) z) AS diffs,
       (SELECT count(*) FROM pg_temp.buy_plain(r.f, r.t)) AS rows_compared,
       (SELECT count(*) FROM pg_temp.buy_plain(r.f, r.t) p
         WHERE p.conv > 0 AND p.vi > 0 AND p.rate IS NOT NULL AND p.cpa IS NOT NULL
           AND p.roas IS NOT NULL AND p.vcpm IS NOT NULL) AS rows_with_every_measure
  FROM (VALUES ('2024-05-01'::date, '2024-08-01'::date), ('2024-06-01', '2024-07-15'),
               ('2024-06-10', '2024-07-20'), ('2024-06-15', '2024-06-15')) r (f, t);

SELECT * FROM buy_family_diffs;

-- A round of changes: updates, inserts, deletes in each family, and campaign moves.
UPDATE platform_buy_daily_conversions
   SET post_click_conversions = post_click_conversions + 3, conversion_value = conversion_value * 1.5
 WHERE media_buy_id >= 2000 AND random() < 0.1;
UPDATE platform_buy_daily_viewability SET viewable_impressions = measurable_impressions / 2
 WHERE media_buy_id >= 2000 AND random() < 0.1;
DELETE FROM platform_buy_daily_conversions WHERE media_buy_id >= 2000 AND random() < 0.05;
DELETE FROM platform_buy_daily_viewability WHERE media_buy_id >= 2000 AND random() < 0.05;
INSERT INTO platform_buy_daily_conversions (date, media_buy_id, post_click_conversions,
                                            post_view_conversions, conversion_value)
SELECT '2024-07-16'::date + d, 2000 + b, b % 5, b % 3, b * 0.125
  FROM generate_series(0, 199) b, generate_series(0, 4) d WHERE random() < 0.5;
UPDATE media_buys SET campaign_id = 200 + (random() * 20)::int
 WHERE id IN (SELECT id FROM media_buys WHERE id >= 2000 ORDER BY random() LIMIT 30);

SELECT * FROM family_diffs;
SELECT * FROM buy_family_diffs;
-- The rollups hold the same after a rebuild from the tables.
CREATE TEMP TABLE before_rebuild AS SELECT * FROM bravo.bravo_campaign_rollup;
SELECT bravo_report_rebuild() > 0 AS rebuilt;
SELECT count(*) AS rollup_rows_changed_by_rebuild
  FROM ((TABLE before_rebuild EXCEPT ALL TABLE bravo.bravo_campaign_rollup)
        UNION ALL (TABLE bravo.bravo_campaign_rollup EXCEPT ALL TABLE before_rebuild)) z;
-- leave the data of the earlier tests as it was, and the new families off
DELETE FROM platform_buy_daily_impressions WHERE media_buy_id >= 2000;
DELETE FROM platform_buy_daily_conversions;
DELETE FROM platform_buy_daily_viewability;
DELETE FROM media_buys WHERE id >= 2000;
SELECT count(*) AS leftover FROM bravo.bravo_campaign_rollup WHERE campaign_id >= 200;
SELECT count(*) AS leftover FROM bravo.bravo_media_buy_rollup WHERE media_buy_id >= 2000;
-- A family table under the rollup is not dropped by a plain DROP TABLE (that would
-- cascade to the extension); bravo_disable_family(..., drop_table => true) drops it.
SELECT bravo_disable_family('conversions');
DROP TABLE platform_buy_daily_conversions;
SELECT bravo_disable_family('conversions', drop_table => true) AS was_enabled,
       bravo_disable_family('viewability', drop_table => true) AS was_enabled;
SELECT count(*) AS family_tables_left FROM pg_class
 WHERE relname IN ('platform_buy_daily_conversions', 'platform_buy_daily_viewability');
SELECT family, enabled FROM bravo_families ORDER BY position;
SELECT bravo_disable_family('impressions', drop_table => true);
-- A conversions table the media tool already had (rows loaded by the legacy job, no
-- foreign key): enabling the family keeps its rows, attaches the rollup and counts
-- them in the reports at once; a direct edit afterwards is counted too.
INSERT INTO media_buys (id, campaign_id) VALUES (3001, 300), (3002, 300);
CREATE TABLE platform_buy_daily_conversions (
    date date NOT NULL, media_buy_id bigint NOT NULL,
    post_click_conversions bigint NOT NULL DEFAULT 0, post_view_conversions bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(), updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (media_buy_id, date));
INSERT INTO platform_buy_daily_conversions (date, media_buy_id, post_click_conversions, post_view_conversions)
VALUES ('2024-09-01', 3001, 5, 7), ('2024-09-02', 3001, 1, 0), ('2024-09-01', 3002, 2, 2);
SELECT conversions, conversion_value FROM bravo_campaign_totals(300);
SELECT bravo_enable_family('conversions')::text AS enabled_table;
SELECT attname FROM pg_attribute WHERE attrelid = 'platform_buy_daily_conversions'::regclass
   AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT conversions, post_click_conversions, post_view_conversions, conversion_value
  FROM bravo_campaign_totals(300);
UPDATE platform_buy_daily_conversions SET conversion_value = 99.5 WHERE media_buy_id = 3002;
SELECT date, conversions, conversion_value FROM bravo_campaign_daily(300, '2024-09-01', '2024-09-02');
SELECT bravo_disable_family('conversions', drop_table => true) AS was_enabled;
SELECT conversions, conversion_value FROM bravo_campaign_totals(300);
DELETE FROM media_buys WHERE id IN (3001, 3002);
