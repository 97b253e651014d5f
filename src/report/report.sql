-- bravo_metrics campaign reporting.
--
-- Reads come from the rollups (rollup.sql): bravo_campaign_rollup, one row per
-- (campaign_id, date) with the summed counts and the exact numeric spend of every
-- metric row of every media buy of the campaign on that date, so a 365-day campaign
-- report reads at most 365 rows whatever the number of media buys or the size of the
-- history; and bravo_media_buy_rollup, one row per (media_buy_id, month), behind
-- bravo_media_buy_totals.
--
-- The rollups are kept exact by statement-level AFTER triggers with transition
-- tables: every INSERT / UPDATE / DELETE on the metric tables (sync merges and direct
-- edits alike) adds its delta, and every change of media_buys.campaign_id (or a new /
-- deleted media buy) moves that buy's rows between campaigns. They are extension
-- members that are NOT dumped: derived data, rebuilt from the metric tables by
-- CREATE EXTENSION and by bravo_report_rebuild() (run it after a data-only restore
-- with triggers disabled).

------------------------------------------------------------------------------------
-- Argument checks (IMMUTABLE: folded at plan time for constant arguments, so a bad
-- call fails before any table is read; evaluated per row in LATERAL joins).
------------------------------------------------------------------------------------

-- Returns campaign_id after checking it and the optional bounds. Campaign ids have
-- whatever type media_buys.campaign_id has (since 0.4.0: bigint, text, uuid, ...).
CREATE FUNCTION bravo._bravo_report_campaign(campaign_id anyelement, from_date date, to_date date)
RETURNS anyelement
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF campaign_id IS NULL THEN
        RAISE EXCEPTION 'campaign_id must not be NULL'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the id of a campaign (media_buys.campaign_id).';
    END IF;
    IF from_date > to_date THEN
        RAISE EXCEPTION 'from_date % is after to_date %', from_date, to_date
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Both bounds are inclusive: swap them, or pass NULL for an open bound.';
    END IF;
    RETURN campaign_id;
END
$$;

-- Longest range bravo_campaign_daily returns: 1,000 days (about 2.7 years).
CREATE FUNCTION bravo._bravo_report_days(from_date date, to_date date)
RETURNS date
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF from_date IS NULL OR to_date IS NULL THEN
        RAISE EXCEPTION 'from_date and to_date must not be NULL for a daily report'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'A daily report needs both bounds; use bravo_campaign_totals for an open range.';
    END IF;
    IF NOT isfinite(from_date) OR NOT isfinite(to_date) THEN
        RAISE EXCEPTION 'a daily report needs finite bounds, got % to %', from_date, to_date
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass real dates (at most 1000 days apart); for an open range use bravo_campaign_totals with NULL bounds.';
    END IF;
    IF to_date - from_date >= 1000 THEN
        RAISE EXCEPTION 'daily report range % to % is % days long; the limit is 1000 days',
                        from_date, to_date, to_date - from_date + 1
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Split the range, or use bravo_campaign_totals for the sums over a long range.';
    END IF;
    RETURN from_date;
END
$$;

-- The zone of an hourly report (since 0.4.0), after checking it and the bounds: both
-- needed and finite, at most 366 days apart (8,784 hours).
CREATE FUNCTION bravo._bravo_report_zone(from_date date, to_date date, time_zone text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    IF from_date IS NULL OR to_date IS NULL OR time_zone IS NULL THEN
        RAISE EXCEPTION 'from_date, to_date and time_zone must not be NULL for an hourly report'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass the first and last local day and a zone, e.g. (..., ''2026-11-01'', ''2026-11-07'', ''Europe/Paris'').';
    END IF;
    IF from_date > to_date THEN
        RAISE EXCEPTION 'from_date % is after to_date %', from_date, to_date
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Both bounds are inclusive local days: swap them.';
    END IF;
    IF NOT isfinite(from_date) OR NOT isfinite(to_date) OR to_date - from_date >= 366 THEN
        RAISE EXCEPTION 'an hourly report covers at most 366 finite days, got % to %', from_date, to_date
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Split the range, or use bravo_campaign_daily for longer ranges.';
    END IF;
    BEGIN
        PERFORM pg_catalog.timezone(time_zone, timestamp '2000-01-01');
    EXCEPTION WHEN invalid_parameter_value THEN
        RAISE EXCEPTION 'time zone "%" is not known', time_zone
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use an IANA zone name such as Europe/Paris or America/New_York (SELECT name FROM pg_timezone_names).';
    END;
    RETURN time_zone;
END
$$;

-- Canonical form of a money amount: the same value always prints the same way, with
-- at least 2 decimals and no trailing zeros beyond them. The value is never rounded
-- (the scale never drops below min_scale). Sums of numeric take the largest scale
-- of the rows summed, so without this a rollup that once held a 24-decimal row would
-- print (and divide) differently from a fresh sum. Inlined by the planner.
CREATE FUNCTION bravo._bravo_money(amount numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN round(amount, greatest(min_scale(amount), 2));

-- Finish time of the last successful sync. SECURITY DEFINER so that a reporting role
-- needs no access to the run log itself.
CREATE FUNCTION @extschema@.bravo_last_sync_at()
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.finished_at FROM bravo.bravo_sync_runs r
     WHERE r.status = 'succeeded' AND r.finished_at IS NOT NULL
     ORDER BY r.started_at DESC LIMIT 1
$$;

------------------------------------------------------------------------------------
-- Reporting functions. LANGUAGE sql, STABLE, PARALLEL SAFE, not STRICT, no SET
-- clause: the planner inlines them into the calling query (LATERAL joins included).
-- Ratios are ratios of sums over the range; a zero denominator gives NULL. Since
-- 0.4.0 the campaign reports also carry the conversions and viewability families
-- (0 while a family is not synced):
--   conversions      = post_click_conversions + post_view_conversions
--   conversion_rate  = post_click_conversions / clicks (post-view conversions follow
--                      no click, so they are not in a per-click rate)
--   cpa              = spend / conversions
--   roas             = conversion_value / spend
--   measurable_rate  = measurable_impressions / eligible_impressions
--   viewability_rate = viewable_impressions / measurable_impressions (MRC: the
--                      denominator is measurable impressions, not impressions)
--   vcpm             = spend * 1000 / viewable_impressions
------------------------------------------------------------------------------------

-- The whole calendar months inside [from_date, to_date] are [months_from, months_until):
-- months_from is the first month start on or after from_date (-infinity for an open
-- bound), months_until the start of the month after the last whole month (infinity
-- for an open bound); there is none when months_from >= months_until.
-- bravo_media_buy_totals reads those months from bravo_media_buy_rollup and the days
-- outside them from the metric tables. Scalar SQL, inlined and folded at plan time.
CREATE FUNCTION bravo._bravo_report_months_from(from_date date)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN from_date IS NULL THEN '-infinity'::date
            ELSE (bravo._bravo_month(from_date - 1) + interval '1 month')::date END;

CREATE FUNCTION bravo._bravo_report_months_until(to_date date)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN to_date IS NULL THEN 'infinity'::date
            ELSE bravo._bravo_month(to_date + 1) END;

-- The report bodies that read the media tool's tables, for the media tool's schema
-- `media` (quoted): created by the install script for bravo_metrics.media_tool_schema
-- (else the extension's schema), and created again by bravo_report_attach(), so that
-- the reports follow the tables when that setting changes. CREATE OR REPLACE keeps
-- them extension members with their privileges.
CREATE FUNCTION bravo._bravo_report_bodies(media text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $define$
DECLARE
    t      record;
    tab    text;
    vals   text;
    parts  text := '';
    firsts text[] := '{}';
    lasts  text[] := '{}';
    months text := 'bravo.bravo_media_buy_rollup r
                WHERE r.media_buy_id = m.id AND r.month >= c.first AND r.month < c.last_end';
    -- In the distributed layout (citus/layout.sql) there is no rollup: each media
    -- buy's sums, first and last date come from one pushed-down query per call.
    sums   text := '(SELECT z.first_date, z.last_date, (z.sums).* '
                   'FROM bravo._bravo_buy_sums_of(c.id, c.lo, c.hi) z WHERE z.media_buy_id = m.id::text)';
BEGIN
    EXECUTE bravo._bravo_report_direct(replace($body$
CREATE OR REPLACE FUNCTION bravo._bravo_campaign_totals_of(
    campaign_id anyelement, from_date date DEFAULT NULL, to_date date DEFAULT NULL)
RETURNS TABLE (
    impressions bigint, clicks bigint, spend numeric,
    video_starts bigint, video_completions bigint, video_views bigint,
    ctr numeric, cpm numeric, cpc numeric,
    completion_rate numeric, view_rate numeric, cpcv numeric,
    media_buys bigint, first_date date, last_date date,
    latest_date date, days_behind integer, last_sync_at timestamptz,
    post_click_conversions bigint, post_view_conversions bigint, conversions bigint,
    conversion_value numeric, conversion_rate numeric, cpa numeric, roas numeric,
    eligible_impressions bigint, measurable_impressions bigint, viewable_impressions bigint,
    measurable_rate numeric, viewability_rate numeric, vcpm numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT s.impressions, s.clicks, s.spend,
       s.video_starts, s.video_completions, s.video_views,
       s.clicks::numeric / NULLIF(s.impressions, 0),
       s.spend * 1000 / NULLIF(s.impressions, 0),
       s.spend / NULLIF(s.clicks, 0),
       s.video_completions::numeric / NULLIF(s.video_starts, 0),
       s.video_views::numeric / NULLIF(s.impressions, 0),
       s.spend / NULLIF(s.video_completions, 0),
       b.n, s.first_date, s.last_date,
       l.latest_date, CURRENT_DATE - l.latest_date,
       @extschema@.bravo_last_sync_at(),
       s.post_click_conversions, s.post_view_conversions,
       s.post_click_conversions + s.post_view_conversions,
       s.conversion_value,
       s.post_click_conversions::numeric / NULLIF(s.clicks, 0),
       s.spend / NULLIF(s.post_click_conversions + s.post_view_conversions, 0),
       s.conversion_value / NULLIF(s.spend, 0),
       s.eligible_impressions, s.measurable_impressions, s.viewable_impressions,
       s.measurable_impressions::numeric / NULLIF(s.eligible_impressions, 0),
       s.viewable_impressions::numeric / NULLIF(s.measurable_impressions, 0),
       s.spend * 1000 / NULLIF(s.viewable_impressions, 0)
  FROM (SELECT bravo._bravo_report_campaign(
                   _bravo_campaign_totals_of.campaign_id, _bravo_campaign_totals_of.from_date,
                   _bravo_campaign_totals_of.to_date) AS id) c
 CROSS JOIN LATERAL (
       SELECT count(*) AS n FROM @media@.media_buys m WHERE m.campaign_id = c.id) b
 CROSS JOIN LATERAL (
       SELECT coalesce(sum(r.impressions), 0)::bigint       AS impressions,
              coalesce(sum(r.clicks), 0)::bigint            AS clicks,
              bravo._bravo_money(coalesce(sum(r.spend), 0)) AS spend,
              coalesce(sum(r.video_starts), 0)::bigint      AS video_starts,
              coalesce(sum(r.video_completions), 0)::bigint AS video_completions,
              coalesce(sum(r.video_views), 0)::bigint       AS video_views,
              coalesce(sum(r.post_click_conversions), 0)::bigint AS post_click_conversions,
              coalesce(sum(r.post_view_conversions), 0)::bigint  AS post_view_conversions,
              bravo._bravo_money(coalesce(sum(r.conversion_value), 0)) AS conversion_value,
              coalesce(sum(r.eligible_impressions), 0)::bigint   AS eligible_impressions,
              coalesce(sum(r.measurable_impressions), 0)::bigint AS measurable_impressions,
              coalesce(sum(r.viewable_impressions), 0)::bigint   AS viewable_impressions,
              min(r.date) AS first_date, max(r.date) AS last_date
         FROM bravo.bravo_campaign_rollup r
        WHERE r.campaign_id = c.id
          AND r.date >= coalesce(_bravo_campaign_totals_of.from_date, '-infinity')
          AND r.date <= coalesce(_bravo_campaign_totals_of.to_date, 'infinity')) s
 CROSS JOIN LATERAL (
       SELECT max(r.date) AS latest_date
         FROM bravo.bravo_campaign_rollup r WHERE r.campaign_id = c.id) l
 WHERE b.n > 0
$$;
$body$, '@media@', media));

    EXECUTE bravo._bravo_report_direct(replace($body$
CREATE OR REPLACE FUNCTION bravo._bravo_campaign_daily_of(
    campaign_id anyelement, from_date date, to_date date)
RETURNS TABLE (
    date date,
    impressions bigint, clicks bigint, spend numeric,
    video_starts bigint, video_completions bigint, video_views bigint,
    ctr numeric, cpm numeric, cpc numeric,
    completion_rate numeric, view_rate numeric, cpcv numeric,
    post_click_conversions bigint, post_view_conversions bigint, conversions bigint,
    conversion_value numeric, conversion_rate numeric, cpa numeric, roas numeric,
    eligible_impressions bigint, measurable_impressions bigint, viewable_impressions bigint,
    measurable_rate numeric, viewability_rate numeric, vcpm numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT d.day::date,
       coalesce(r.impressions, 0), coalesce(r.clicks, 0), coalesce(r.spend, 0.00),
       coalesce(r.video_starts, 0), coalesce(r.video_completions, 0), coalesce(r.video_views, 0),
       r.clicks::numeric / NULLIF(r.impressions, 0),
       r.spend * 1000 / NULLIF(r.impressions, 0),
       r.spend / NULLIF(r.clicks, 0),
       r.video_completions::numeric / NULLIF(r.video_starts, 0),
       r.video_views::numeric / NULLIF(r.impressions, 0),
       r.spend / NULLIF(r.video_completions, 0),
       coalesce(r.post_click_conversions, 0), coalesce(r.post_view_conversions, 0),
       coalesce(r.post_click_conversions + r.post_view_conversions, 0),
       coalesce(r.conversion_value, 0.00),
       r.post_click_conversions::numeric / NULLIF(r.clicks, 0),
       r.spend / NULLIF(r.post_click_conversions + r.post_view_conversions, 0),
       r.conversion_value / NULLIF(r.spend, 0),
       coalesce(r.eligible_impressions, 0), coalesce(r.measurable_impressions, 0),
       coalesce(r.viewable_impressions, 0),
       r.measurable_impressions::numeric / NULLIF(r.eligible_impressions, 0),
       r.viewable_impressions::numeric / NULLIF(r.measurable_impressions, 0),
       r.spend * 1000 / NULLIF(r.viewable_impressions, 0)
  FROM (SELECT bravo._bravo_report_campaign(
                   _bravo_campaign_daily_of.campaign_id, _bravo_campaign_daily_of.from_date,
                   _bravo_campaign_daily_of.to_date) AS id,
               bravo._bravo_report_days(
                   _bravo_campaign_daily_of.from_date, _bravo_campaign_daily_of.to_date) AS first_day) c
 CROSS JOIN LATERAL generate_series(c.first_day::timestamp, _bravo_campaign_daily_of.to_date::timestamp,
                                    interval '1 day') AS d(day)
  LEFT JOIN LATERAL (SELECT r.date, r.impressions, r.clicks, bravo._bravo_money(r.spend) AS spend,
                            r.video_starts, r.video_completions, r.video_views,
                            r.post_click_conversions, r.post_view_conversions,
                            bravo._bravo_money(r.conversion_value) AS conversion_value,
                            r.eligible_impressions, r.measurable_impressions, r.viewable_impressions
                       FROM bravo.bravo_campaign_rollup r
                      WHERE r.campaign_id = c.id
                        AND r.date >= c.first_day AND r.date <= _bravo_campaign_daily_of.to_date) r
         ON r.date = d.day::date
 WHERE EXISTS (SELECT 1 FROM @media@.media_buys m WHERE m.campaign_id = c.id)
 ORDER BY d.day
$$;
$body$, '@media@', media));

    -- Hourly reports (since 0.4.0): the hours of the local days from_date..to_date in
    -- time_zone (23 or 25 on a daylight-saving day), each an instant, with its local
    -- label and offset; rollup hours are bucketed into them (an hourly source in
    -- another zone, even a half-hour one, lands in the hour that contains it).
    -- OFFSET 0 keeps subqueries i and c from being pulled up: the argument checks (the
    -- zone's has a subtransaction) and the campaign's existence are evaluated once per
    -- call, not per rollup row nor as a join over every campaign.
    EXECUTE bravo._bravo_report_direct(replace($body$
CREATE OR REPLACE FUNCTION bravo._bravo_campaign_hourly_of(
    campaign_id anyelement, from_date date, to_date date, time_zone text)
RETURNS TABLE (
    hour_start timestamptz, local_hour timestamp, utc_offset interval,
    impressions bigint, clicks bigint, spend numeric,
    video_starts bigint, video_completions bigint, video_views bigint,
    ctr numeric, cpm numeric, cpc numeric,
    completion_rate numeric, view_rate numeric, cpcv numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT h.t, h.t AT TIME ZONE c.tz, (h.t AT TIME ZONE c.tz) - (h.t AT TIME ZONE 'UTC'),
       coalesce(r.impressions, 0), coalesce(r.clicks, 0), coalesce(r.spend, 0.00),
       coalesce(r.video_starts, 0), coalesce(r.video_completions, 0), coalesce(r.video_views, 0),
       r.clicks::numeric / NULLIF(r.impressions, 0),
       r.spend * 1000 / NULLIF(r.impressions, 0),
       r.spend / NULLIF(r.clicks, 0),
       r.video_completions::numeric / NULLIF(r.video_starts, 0),
       r.video_views::numeric / NULLIF(r.impressions, 0),
       r.spend / NULLIF(r.video_completions, 0)
  FROM (SELECT i.id, i.tz
          FROM (SELECT bravo._bravo_report_campaign(
                           _bravo_campaign_hourly_of.campaign_id, _bravo_campaign_hourly_of.from_date,
                           _bravo_campaign_hourly_of.to_date) AS id,
                       bravo._bravo_report_zone(
                           _bravo_campaign_hourly_of.from_date, _bravo_campaign_hourly_of.to_date,
                           _bravo_campaign_hourly_of.time_zone) AS tz
                OFFSET 0) i
         WHERE EXISTS (SELECT 1 FROM @media@.media_buys m WHERE m.campaign_id = i.id)
        OFFSET 0) c
 CROSS JOIN LATERAL (
       SELECT _bravo_campaign_hourly_of.from_date::timestamp AT TIME ZONE c.tz AS lo,
              (_bravo_campaign_hourly_of.to_date + 1)::timestamp AT TIME ZONE c.tz AS hi) b
 CROSS JOIN LATERAL generate_series(b.lo, b.hi - interval '1 hour', interval '1 hour') AS h(t)
  LEFT JOIN LATERAL (
       SELECT date_bin(interval '1 hour', r.hour_start, b.lo) AS t,
              sum(r.impressions)::bigint AS impressions, sum(r.clicks)::bigint AS clicks,
              bravo._bravo_money(sum(r.spend)) AS spend,
              sum(r.video_starts)::bigint AS video_starts,
              sum(r.video_completions)::bigint AS video_completions,
              sum(r.video_views)::bigint AS video_views
         FROM bravo.bravo_campaign_hourly_rollup r
        WHERE r.campaign_id = c.id AND r.hour_start >= b.lo AND r.hour_start < b.hi
        GROUP BY 1) r
         ON r.t = h.t
 ORDER BY h.t
$$;
$body$, '@media@', media));

    -- The hour-of-day profile: per local hour of the day (0-23), the sums over the
    -- range and how many such hours the range has (7 in a week; one less or more for
    -- the hour a daylight-saving change skips or repeats).
    EXECUTE bravo._bravo_report_direct(replace($body$
CREATE OR REPLACE FUNCTION bravo._bravo_campaign_hour_of_day_of(
    campaign_id anyelement, from_date date, to_date date, time_zone text)
RETURNS TABLE (
    hour_of_day integer, hours integer,
    impressions bigint, clicks bigint, spend numeric,
    video_starts bigint, video_completions bigint, video_views bigint,
    ctr numeric, cpm numeric, cpc numeric,
    completion_rate numeric, view_rate numeric, cpcv numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
SELECT g.hod, coalesce(n.hours, 0),
       coalesce(r.impressions, 0), coalesce(r.clicks, 0), coalesce(r.spend, 0.00),
       coalesce(r.video_starts, 0), coalesce(r.video_completions, 0), coalesce(r.video_views, 0),
       r.clicks::numeric / NULLIF(r.impressions, 0),
       r.spend * 1000 / NULLIF(r.impressions, 0),
       r.spend / NULLIF(r.clicks, 0),
       r.video_completions::numeric / NULLIF(r.video_starts, 0),
       r.video_views::numeric / NULLIF(r.impressions, 0),
       r.spend / NULLIF(r.video_completions, 0)
  FROM (SELECT i.id, i.tz
          FROM (SELECT bravo._bravo_report_campaign(
                           _bravo_campaign_hour_of_day_of.campaign_id, _bravo_campaign_hour_of_day_of.from_date,
                           _bravo_campaign_hour_of_day_of.to_date) AS id,
                       bravo._bravo_report_zone(
                           _bravo_campaign_hour_of_day_of.from_date, _bravo_campaign_hour_of_day_of.to_date,
                           _bravo_campaign_hour_of_day_of.time_zone) AS tz
                OFFSET 0) i
         WHERE EXISTS (SELECT 1 FROM @media@.media_buys m WHERE m.campaign_id = i.id)
        OFFSET 0) c
 CROSS JOIN LATERAL (
       SELECT _bravo_campaign_hour_of_day_of.from_date::timestamp AT TIME ZONE c.tz AS lo,
              (_bravo_campaign_hour_of_day_of.to_date + 1)::timestamp AT TIME ZONE c.tz AS hi) b
 CROSS JOIN generate_series(0, 23) AS g(hod)
  LEFT JOIN LATERAL (
       SELECT extract(hour FROM t AT TIME ZONE c.tz)::integer AS hod, count(*)::integer AS hours
         FROM generate_series(b.lo, b.hi - interval '1 hour', interval '1 hour') AS t
        GROUP BY 1) n
         ON n.hod = g.hod
  LEFT JOIN LATERAL (
       SELECT extract(hour FROM r.hour_start AT TIME ZONE c.tz)::integer AS hod,
              sum(r.impressions)::bigint AS impressions, sum(r.clicks)::bigint AS clicks,
              bravo._bravo_money(sum(r.spend)) AS spend,
              sum(r.video_starts)::bigint AS video_starts,
              sum(r.video_completions)::bigint AS video_completions,
              sum(r.video_views)::bigint AS video_views
         FROM bravo.bravo_campaign_hourly_rollup r
        WHERE r.campaign_id = c.id AND r.hour_start >= b.lo AND r.hour_start < b.hi
        GROUP BY 1) r
         ON r.hod = g.hod
 ORDER BY g.hod
$$;
$body$, '@media@', media));

    -- Per media buy, the partial months at either end come from every metric table
    -- there is (a family's table joins when bravo_enable_family creates it, which
    -- runs this again), and so do the first and last dates with data.
    FOR t IN SELECT * FROM bravo._bravo_rollup_tables() WHERE NOT bravo._bravo_distributed() LOOP
        tab := media || '.' || quote_ident(t.metric_table);
        vals := bravo._bravo_rollup_values(t.metric_table, 'p.', 1);
        parts := parts || format($p$
               UNION ALL
               SELECT %1$s
                 FROM %2$s p
                WHERE p.media_buy_id = m.id AND p.date >= c.lo AND p.date <= c.hi
                  AND p.date < c.first
               UNION ALL
               SELECT %1$s
                 FROM %2$s p
                WHERE p.media_buy_id = m.id AND p.date >= c.lo AND p.date <= c.hi
                  AND p.date >= c.first AND p.date >= c.last_end$p$, vals, tab);
        firsts := firsts || format(
            '(SELECT min(p.date) FROM %s p WHERE p.media_buy_id = m.id AND p.date >= c.lo AND p.date <= c.hi)', tab);
        lasts := lasts || format(
            '(SELECT max(p.date) FROM %s p WHERE p.media_buy_id = m.id AND p.date >= c.lo AND p.date <= c.hi)', tab);
    END LOOP;
    IF bravo._bravo_distributed() THEN
        months := sums || ' r';
        firsts := ARRAY[format('(SELECT r.first_date FROM %s r)', sums)];
        lasts := ARRAY[format('(SELECT r.last_date FROM %s r)', sums)];
    END IF;
    EXECUTE bravo._bravo_report_direct(replace(replace(replace(replace(replace(replace(replace($body$
CREATE OR REPLACE FUNCTION bravo._bravo_media_buy_totals_of(
    campaign_id anyelement, from_date date DEFAULT NULL, to_date date DEFAULT NULL)
RETURNS TABLE (
    media_buy_id text,
    impressions bigint, clicks bigint, spend numeric,
    video_starts bigint, video_completions bigint, video_views bigint,
    ctr numeric, cpm numeric, cpc numeric,
    completion_rate numeric, view_rate numeric, cpcv numeric,
    first_date date, last_date date,
    post_click_conversions bigint, post_view_conversions bigint, conversions bigint,
    conversion_value numeric, conversion_rate numeric, cpa numeric, roas numeric,
    eligible_impressions bigint, measurable_impressions bigint, viewable_impressions bigint,
    measurable_rate numeric, viewability_rate numeric, vcpm numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
-- Per media buy: the whole months of the range come from bravo_media_buy_rollup (one
-- row per buy and month), the partial months at either end from the metric tables,
-- and the first / last date with data from two probes of each table's
-- (media_buy_id, date) key. Every read is an index range scan on one buy.
SELECT m.id::text,
       s.impressions, s.clicks, s.spend, s.video_starts, s.video_completions, s.video_views,
       s.clicks::numeric / NULLIF(s.impressions, 0),
       s.spend * 1000 / NULLIF(s.impressions, 0),
       s.spend / NULLIF(s.clicks, 0),
       s.video_completions::numeric / NULLIF(s.video_starts, 0),
       s.video_views::numeric / NULLIF(s.impressions, 0),
       s.spend / NULLIF(s.video_completions, 0),
       @first@,
       @last@,
       s.post_click_conversions, s.post_view_conversions,
       s.post_click_conversions + s.post_view_conversions,
       s.conversion_value,
       s.post_click_conversions::numeric / NULLIF(s.clicks, 0),
       s.spend / NULLIF(s.post_click_conversions + s.post_view_conversions, 0),
       s.conversion_value / NULLIF(s.spend, 0),
       s.eligible_impressions, s.measurable_impressions, s.viewable_impressions,
       s.measurable_impressions::numeric / NULLIF(s.eligible_impressions, 0),
       s.viewable_impressions::numeric / NULLIF(s.measurable_impressions, 0),
       s.spend * 1000 / NULLIF(s.viewable_impressions, 0)
  FROM (SELECT bravo._bravo_report_campaign(
                   _bravo_media_buy_totals_of.campaign_id, _bravo_media_buy_totals_of.from_date,
                   _bravo_media_buy_totals_of.to_date) AS id,
               coalesce(_bravo_media_buy_totals_of.from_date, '-infinity') AS lo,
               coalesce(_bravo_media_buy_totals_of.to_date, 'infinity') AS hi,
               bravo._bravo_report_months_from(_bravo_media_buy_totals_of.from_date) AS first,
               bravo._bravo_report_months_until(_bravo_media_buy_totals_of.to_date) AS last_end) c
  JOIN @media@.media_buys m ON m.campaign_id = c.id
 CROSS JOIN LATERAL (
       SELECT coalesce(sum(x.impressions), 0)::bigint       AS impressions,
              coalesce(sum(x.clicks), 0)::bigint            AS clicks,
              bravo._bravo_money(coalesce(sum(x.spend), 0)) AS spend,
              coalesce(sum(x.video_starts), 0)::bigint      AS video_starts,
              coalesce(sum(x.video_completions), 0)::bigint AS video_completions,
              coalesce(sum(x.video_views), 0)::bigint       AS video_views,
              coalesce(sum(x.post_click_conversions), 0)::bigint AS post_click_conversions,
              coalesce(sum(x.post_view_conversions), 0)::bigint  AS post_view_conversions,
              bravo._bravo_money(coalesce(sum(x.conversion_value), 0)) AS conversion_value,
              coalesce(sum(x.eligible_impressions), 0)::bigint   AS eligible_impressions,
              coalesce(sum(x.measurable_impressions), 0)::bigint AS measurable_impressions,
              coalesce(sum(x.viewable_impressions), 0)::bigint   AS viewable_impressions
         FROM (SELECT @rollup_cols@
                 FROM @months@@parts@) x (@cols@)) s
 ORDER BY m.id
$$;
$body$, '@media@', media),
       '@first@', CASE WHEN firsts = '{}' THEN 'NULL::date' ELSE 'least(' || array_to_string(firsts, ', ') || ')' END),
       '@last@', CASE WHEN lasts = '{}' THEN 'NULL::date' ELSE 'greatest(' || array_to_string(lasts, ', ') || ')' END),
       '@rollup_cols@', bravo._bravo_rollup_list('r.%1$I', ', ')),
       '@cols@', bravo._bravo_rollup_list('%1$I', ', ')),
       '@parts@', parts),
       '@months@', months));
END
$define$;
REVOKE ALL ON FUNCTION bravo._bravo_report_bodies(text) FROM PUBLIC;

SELECT bravo._bravo_report_bodies(bravo._bravo_media_schema());

CREATE FUNCTION bravo._bravo_campaigns_totals_of(
    campaign_ids anyarray, from_date date DEFAULT NULL, to_date date DEFAULT NULL)
RETURNS TABLE (
    campaign_id anyelement,
    impressions bigint, clicks bigint, spend numeric,
    video_starts bigint, video_completions bigint, video_views bigint,
    ctr numeric, cpm numeric, cpc numeric,
    completion_rate numeric, view_rate numeric, cpcv numeric,
    media_buys bigint, first_date date, last_date date,
    latest_date date, days_behind integer, last_sync_at timestamptz,
    post_click_conversions bigint, post_view_conversions bigint, conversions bigint,
    conversion_value numeric, conversion_rate numeric, cpa numeric, roas numeric,
    eligible_impressions bigint, measurable_impressions bigint, viewable_impressions bigint,
    measurable_rate numeric, viewability_rate numeric, vcpm numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
-- A NULL array is one NULL id (refused by the argument check).
SELECT i.id, t.*
  FROM (SELECT DISTINCT u.id FROM unnest(_bravo_campaigns_totals_of.campaign_ids) AS u(id)
        UNION ALL
        SELECT NULL WHERE _bravo_campaigns_totals_of.campaign_ids IS NULL) i
 CROSS JOIN LATERAL bravo._bravo_campaign_totals_of(
       i.id, _bravo_campaigns_totals_of.from_date, _bravo_campaigns_totals_of.to_date) t
 ORDER BY i.id
$$;


------------------------------------------------------------------------------------
-- The functions users call. Their campaign id (and bravo_media_buy_totals' media
-- buy id) has the type media_buys gives it: bigint as before 0.4.0, or text, uuid,
-- ... (since 0.4.0). One signature per name, so that `bravo_campaign_totals(105)`, a
-- quoted literal and an untyped parameter ($1) resolve exactly as they always did;
-- each is an inlinable SQL wrapper around the polymorphic function above that does
-- the work. Created by the install script for media_buys' types; recreated by
-- _bravo_report_retype() (from bravo_report_attach) when media_buys' types differ,
-- as after a restore (CREATE EXTENSION runs before the dump recreates media_buys).
------------------------------------------------------------------------------------

-- Creates (or replaces, keeping privileges) the four reporting functions for ids of
-- campaign_type and buy_type, not executable by PUBLIC.
CREATE FUNCTION bravo._bravo_report_define_api(campaign_type text, buy_type text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    f      record;
    result text;
BEGIN
    FOR f IN SELECT * FROM (VALUES
        ('bravo_campaign_totals', 'campaign_id %1$s, from_date date DEFAULT NULL, to_date date DEFAULT NULL',
         '_bravo_campaign_totals_of(anyelement, date, date)',
         'SELECT * FROM bravo._bravo_campaign_totals_of(bravo_campaign_totals.campaign_id, '
         'bravo_campaign_totals.from_date, bravo_campaign_totals.to_date)',
         'One campaign''s totals over from_date..to_date (inclusive; NULL: open): impressions, clicks, spend, video, conversion and viewability measures, their rates (ratios of sums, NULL when the denominator is 0), media buys, first and last date with data, and freshness (latest date, days behind, last sync). No row for an unknown campaign_id.'),
        ('bravo_campaigns_totals', 'campaign_ids %1$s[], from_date date DEFAULT NULL, to_date date DEFAULT NULL',
         '_bravo_campaigns_totals_of(anyarray, date, date)',
         'SELECT * FROM bravo._bravo_campaigns_totals_of(bravo_campaigns_totals.campaign_ids, '
         'bravo_campaigns_totals.from_date, bravo_campaigns_totals.to_date)',
         'bravo_campaign_totals for many campaigns at once: one row per distinct known campaign id of campaign_ids (with its campaign_id), over from_date..to_date (inclusive; NULL: open).'),
        ('bravo_campaign_daily', 'campaign_id %1$s, from_date date, to_date date',
         '_bravo_campaign_daily_of(anyelement, date, date)',
         'SELECT * FROM bravo._bravo_campaign_daily_of(bravo_campaign_daily.campaign_id, '
         'bravo_campaign_daily.from_date, bravo_campaign_daily.to_date)',
         'One campaign''s measures and rates per day from from_date to to_date (inclusive, at most 1,000 days), one row per day including days without data. No rows for an unknown campaign_id.'),
        ('bravo_campaign_hourly', 'campaign_id %1$s, from_date date, to_date date, time_zone text DEFAULT ''UTC''',
         '_bravo_campaign_hourly_of(anyelement, date, date, text)',
         'SELECT * FROM bravo._bravo_campaign_hourly_of(bravo_campaign_hourly.campaign_id, '
         'bravo_campaign_hourly.from_date, bravo_campaign_hourly.to_date, bravo_campaign_hourly.time_zone)',
         'One campaign''s impressions, clicks, spend and video measures per hour of the local days from_date to to_date in time_zone (default UTC; at most 366 days), from the hourly families: one row per hour with its local time and UTC offset, including hours without data.'),
        ('bravo_campaign_hour_of_day', 'campaign_id %1$s, from_date date, to_date date, time_zone text DEFAULT ''UTC''',
         '_bravo_campaign_hour_of_day_of(anyelement, date, date, text)',
         'SELECT * FROM bravo._bravo_campaign_hour_of_day_of(bravo_campaign_hour_of_day.campaign_id, '
         'bravo_campaign_hour_of_day.from_date, bravo_campaign_hour_of_day.to_date, bravo_campaign_hour_of_day.time_zone)',
         'One campaign''s hour-of-day profile over the local days from_date to to_date in time_zone (default UTC): per local hour 0-23, the sums from the hourly families, their rates, and how many such hours the range has.'),
        ('bravo_media_buy_totals', 'campaign_id %1$s, from_date date DEFAULT NULL, to_date date DEFAULT NULL',
         '_bravo_media_buy_totals_of(anyelement, date, date)',
         'SELECT t.media_buy_id::%2$s, t.impressions, t.clicks, t.spend, t.video_starts, '
         't.video_completions, t.video_views, t.ctr, t.cpm, t.cpc, t.completion_rate, t.view_rate, '
         't.cpcv, t.first_date, t.last_date, t.post_click_conversions, t.post_view_conversions, '
         't.conversions, t.conversion_value, t.conversion_rate, t.cpa, t.roas, t.eligible_impressions, '
         't.measurable_impressions, t.viewable_impressions, t.measurable_rate, t.viewability_rate, t.vcpm '
         'FROM bravo._bravo_media_buy_totals_of(bravo_media_buy_totals.campaign_id, '
         'bravo_media_buy_totals.from_date, bravo_media_buy_totals.to_date) t ORDER BY 1',
         'Per media buy of campaign campaign_id, its totals over from_date..to_date (inclusive; NULL: open): measures, rates, and first and last date with data. One row per media buy, ordered by media_buy_id.')
        ) v (name, args, inner_fn, body, note) LOOP
        result := replace(replace(
            pg_get_function_result(format('bravo.%s', f.inner_fn)::regprocedure),
            'campaign_id anyelement', 'campaign_id ' || campaign_type),
            'media_buy_id text', 'media_buy_id ' || buy_type);
        EXECUTE format(E'CREATE OR REPLACE FUNCTION @extschema@.%I(%s)\nRETURNS %s\n'
                       || E'LANGUAGE sql STABLE PARALLEL SAFE\nAS $body$\n%s\n$body$',
                       f.name, format(f.args, campaign_type), result,
                       format(f.body, campaign_type, buy_type));
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC',
                       (SELECT p.oid::regprocedure FROM pg_proc p
                         WHERE p.proname = f.name AND p.pronamespace = '@extschema@'::regnamespace));
        -- Its comment (\df+), set here because a retype recreates the function.
        EXECUTE format('COMMENT ON FUNCTION %s IS %L',
                       (SELECT p.oid::regprocedure FROM pg_proc p
                         WHERE p.proname = f.name AND p.pronamespace = '@extschema@'::regnamespace),
                       f.note);
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_report_define_api(text, text) FROM PUBLIC;

-- media_buys' (campaign_id type, id type), bigint for a missing table or column.
CREATE FUNCTION bravo._bravo_report_key_types(OUT campaign_type text, OUT buy_type text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT coalesce((SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                  WHERE a.attrelid = bravo._bravo_media_table('media_buys') AND a.attname = 'campaign_id'
                    AND NOT a.attisdropped), 'bigint'),
       coalesce((SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                  WHERE a.attrelid = bravo._bravo_media_table('media_buys') AND a.attname = 'id'
                    AND NOT a.attisdropped), 'bigint')
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_report_key_types() FROM PUBLIC;

-- Recreates the reporting functions when media_buys' types differ from theirs,
-- keeping them extension members with the same EXECUTE grants. Returns whether it did.
-- (A view on one of them stops it, naming the view: 2BP01.)
CREATE FUNCTION bravo._bravo_report_retype()
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    k      record;
    have   text;
    have_b text;
    f      regprocedure;
    grants text[] := '{}';
    g      text;
BEGIN
    SELECT * INTO k FROM bravo._bravo_report_key_types();
    SELECT format_type(p.proargtypes[0], NULL) INTO have
      FROM pg_proc p WHERE p.proname = 'bravo_campaign_totals' AND p.pronamespace = '@extschema@'::regnamespace;
    SELECT format_type(p.proallargtypes[array_position(p.proargnames, 'media_buy_id')], NULL) INTO have_b
      FROM pg_proc p WHERE p.proname = 'bravo_media_buy_totals' AND p.pronamespace = '@extschema@'::regnamespace;
    IF have IS NULL OR (have = format_type(to_regtype(k.campaign_type), NULL)
                        AND have_b = format_type(to_regtype(k.buy_type), NULL)) THEN
        RETURN false;   -- not created yet (install script), or already right
    END IF;
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
              WHERE p.pronamespace = '@extschema@'::regnamespace
                AND p.proname IN ('bravo_campaign_totals', 'bravo_campaigns_totals',
                                  'bravo_campaign_daily', 'bravo_media_buy_totals',
                                  'bravo_campaign_hourly', 'bravo_campaign_hour_of_day') LOOP
        SELECT grants || coalesce(array_agg(format('%s %s', p.proname, quote_ident(r.rolname))), '{}')
          INTO grants
          FROM pg_proc p CROSS JOIN LATERAL aclexplode(p.proacl) a JOIN pg_roles r ON r.oid = a.grantee
         WHERE p.oid = f AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner;
        EXECUTE format('ALTER EXTENSION bravo_metrics DROP FUNCTION %s', f);
        EXECUTE format('DROP FUNCTION %s', f);
    END LOOP;
    PERFORM bravo._bravo_report_define_api(k.campaign_type, k.buy_type);
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
              WHERE p.pronamespace = '@extschema@'::regnamespace
                AND p.proname IN ('bravo_campaign_totals', 'bravo_campaigns_totals',
                                  'bravo_campaign_daily', 'bravo_media_buy_totals',
                                  'bravo_campaign_hourly', 'bravo_campaign_hour_of_day') LOOP
        EXECUTE format('ALTER EXTENSION bravo_metrics ADD FUNCTION %s', f);
    END LOOP;
    FOREACH g IN ARRAY grants LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s',
                       (SELECT p.oid::regprocedure FROM pg_proc p
                         WHERE p.proname = split_part(g, ' ', 1) AND p.pronamespace = '@extschema@'::regnamespace),
                       substr(g, strpos(g, ' ') + 1));
    END LOOP;
    RETURN true;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_report_retype() FROM PUBLIC;

SELECT bravo._bravo_report_define_api(k.campaign_type, k.buy_type)
  FROM bravo._bravo_report_key_types() k;
