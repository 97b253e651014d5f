-- bravo_metrics hourly rollup (since 0.4.0), behind bravo_campaign_hourly and
-- bravo_campaign_hour_of_day (report.sql).
--
-- bravo_campaign_hourly_rollup (campaign_id, hour_start). Invariant: for every
-- campaign c and instant h, the row (c, h) holds the sums over the rows of the hourly
-- metric tables (platform_buy_hourly_impressions, platform_buy_hourly_videos: the
-- shipped hourly families) with hour_start = h whose media buy has
-- media_buys.campaign_id = c now; impression_rows / video_rows count those rows, and
-- there is no row when both are 0. Hours are instants, so the rollup knows no time
-- zone: a report buckets them into the hours of the zone it is asked for.
--
-- Kept like the daily rollups (rollup.sql), by the same statement-level triggers
-- (named bravo_rollup_*, attached by _bravo_report_attach_triggers) with their own
-- trigger function, _bravo_hourly_metric_trigger; a campaign move in
-- _bravo_rollup_buy_trigger moves a buy's hours too, under the same advisory lock;
-- during a sync the deltas are deferred and applied once (_bravo_rollup_defer).

CREATE TABLE bravo.bravo_campaign_hourly_rollup (
    campaign_id       bigint      NOT NULL,
    hour_start        timestamptz NOT NULL,
    impressions       bigint      NOT NULL DEFAULT 0,
    clicks            bigint      NOT NULL DEFAULT 0,
    spend             numeric     NOT NULL DEFAULT 0,
    video_starts      bigint      NOT NULL DEFAULT 0,
    video_completions bigint      NOT NULL DEFAULT 0,
    video_views       bigint      NOT NULL DEFAULT 0,
    impression_rows   integer     NOT NULL DEFAULT 0,
    video_rows        integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, hour_start)
) WITH (fillfactor = 70);
REVOKE ALL ON bravo.bravo_campaign_hourly_rollup FROM PUBLIC;

-- Which hourly table feeds which columns of the hourly rollup, and its row counter.
CREATE FUNCTION bravo._bravo_hourly_layout()
RETURNS TABLE (metric_table text, measures text[], counter text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
VALUES ('platform_buy_hourly_impressions', ARRAY['impressions', 'clicks', 'spend'], 'impression_rows'),
       ('platform_buy_hourly_videos', ARRAY['video_starts', 'video_completions', 'video_views'], 'video_rows')
$fn$;

-- The hourly tables of the layout that exist, as regclass.
CREATE FUNCTION bravo._bravo_hourly_tables()
RETURNS TABLE (metric_table text, rel regclass)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT l.metric_table, bravo._bravo_media_table(l.metric_table)
  FROM bravo._bravo_hourly_layout() l
 WHERE bravo._bravo_media_table(l.metric_table) IS NOT NULL
$fn$;

-- Hourly table `tab`'s own rollup columns (its measures, then its counter), each with
-- its SQL type, in order.
CREATE FUNCTION bravo._bravo_hourly_columns(tab text)
RETURNS TABLE (name text, type text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT m.name, CASE WHEN m.name = 'spend' THEN 'numeric' ELSE 'bigint' END
  FROM bravo._bravo_hourly_layout() l, unnest(l.measures) WITH ORDINALITY AS m (name, ord)
 WHERE l.metric_table = tab
UNION ALL
SELECT l.counter, 'integer' FROM bravo._bravo_hourly_layout() l WHERE l.metric_table = tab
$fn$;

-- Hourly table `tab`'s own columns of a row `p`, times `sign` (its counter: `sign`).
CREATE FUNCTION bravo._bravo_hourly_values(tab text, sign integer)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT string_agg(CASE WHEN c.type = 'integer' THEN format('%s::integer', sign)
                       ELSE format('(%s * p.%I)::%s', sign, c.name, c.type) END, ', ')
  FROM bravo._bravo_hourly_columns(tab) c
$fn$;

-- (media_buy_id, hour_start, own columns) of hourly table `tab`, read from `source`
-- (a transition table, or the table itself), times `sign`.
CREATE FUNCTION bravo._bravo_hourly_rows(tab text, source text, sign integer)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT format('SELECT p.media_buy_id, p.hour_start, %s FROM %s p',
              bravo._bravo_hourly_values(tab, sign), source)
$fn$;

-- The statement that adds the rows of `src` (campaign_id, hour_start, then hourly
-- table `tab`'s own columns) to the hourly rollup, in key order, and returns the keys
-- it left empty (campaign ids as text, hours). Callers EXECUTE it themselves.
CREATE FUNCTION bravo._bravo_hourly_sql(tab text, src text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT format($q$
    WITH d AS (
        SELECT campaign_id, hour_start, %2$s
          FROM (%1$s) x (campaign_id, hour_start, %3$s)
         WHERE campaign_id IS NOT NULL
         GROUP BY campaign_id, hour_start
        HAVING %4$s
    ), up AS (
        INSERT INTO bravo.bravo_campaign_hourly_rollup AS r (campaign_id, hour_start, %3$s)
        SELECT * FROM d ORDER BY campaign_id, hour_start
        ON CONFLICT (campaign_id, hour_start) DO UPDATE SET %5$s
        RETURNING r.campaign_id, r.hour_start, (r.impression_rows = 0 AND r.video_rows = 0) AS empty
    )
    SELECT array_agg(campaign_id::text), array_agg(hour_start) FROM up WHERE empty$q$,
    src,
    string_agg(format('sum(%1$I)::%2$s AS %1$I', c.name, c.type), ', '),
    string_agg(quote_ident(c.name), ', '),
    string_agg(format('sum(%I) <> 0', c.name), ' OR '),
    string_agg(format('%1$I = r.%1$I + excluded.%1$I', c.name), ', '))
  FROM bravo._bravo_hourly_columns(tab) c
$fn$;

-- The same, from rows keyed by media buy (media_buy_id, hour_start, own columns):
-- each buy's campaign read from `buys`.
CREATE FUNCTION bravo._bravo_hourly_by_buy_sql(tab text, src text, buys regclass)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
SELECT bravo._bravo_hourly_sql(tab, format(
    'SELECT m.campaign_id, x.hour_start, %1$s FROM (%2$s) x (media_buy_id, hour_start, %3$s) '
    'JOIN %4$s m ON m.id = x.media_buy_id',
    string_agg('x.' || quote_ident(c.name), ', '), src, string_agg(quote_ident(c.name), ', '), buys))
  FROM bravo._bravo_hourly_columns(tab) c
$fn$;

-- Deletes the hourly rollup rows left with no metric rows behind them.
CREATE FUNCTION bravo._bravo_hourly_prune(ids text[], hours timestamptz[])
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF ids IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format(
        'DELETE FROM bravo.bravo_campaign_hourly_rollup r USING unnest($1, $2) z (id, hour_start) '
        'WHERE r.campaign_id = z.id::%s AND r.hour_start = z.hour_start '
        'AND r.impression_rows = 0 AND r.video_rows = 0',
        (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
          WHERE a.attrelid = 'bravo.bravo_campaign_hourly_rollup'::regclass AND a.attname = 'campaign_id'))
      USING ids, hours;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_hourly_prune(text[], timestamptz[]) FROM PUBLIC;

-- Applies the rows of `src` (media_buy_id, hour_start, own columns of hourly table
-- `tab`) to the hourly rollup: what the trigger does per statement and a sync's flush
-- once. Not for transition tables (those are visible to the trigger's own queries only).
CREATE FUNCTION bravo._bravo_hourly_apply(tab text, src text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    ids   text[];
    hours timestamptz[];
BEGIN
    -- The campaign is read after this lock (see _bravo_rollup_buy_trigger).
    PERFORM pg_advisory_xact_lock_shared(1651663222, 1919904876);   -- 'brav', 'roll'
    EXECUTE bravo._bravo_hourly_by_buy_sql(tab, src, bravo._bravo_rollup_buys()) INTO ids, hours;
    PERFORM bravo._bravo_hourly_prune(ids, hours);
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_hourly_apply(text, text) FROM PUBLIC;

-- The hourly tables' trigger: as _bravo_rollup_metric_trigger (rollup.sql).
CREATE FUNCTION bravo._bravo_hourly_metric_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tab     text;
    src     text;
    pending regclass;
    ids     text[];
    hours   timestamptz[];
BEGIN
    SELECT t.metric_table INTO tab FROM bravo._bravo_hourly_tables() t WHERE t.rel = TG_RELID;
    IF tab IS NULL THEN
        RAISE EXCEPTION 'bravo_metrics rollup trigger refuses to run on %', TG_RELID::pg_catalog.regclass
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'This trigger function keeps the hourly rollup; it belongs on the hourly metric tables only.';
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM bravo._bravo_hourly_rebuild();
        RETURN NULL;
    END IF;
    src := CASE TG_OP
        WHEN 'INSERT' THEN bravo._bravo_hourly_rows(tab, 'new_rows', 1)
        WHEN 'DELETE' THEN bravo._bravo_hourly_rows(tab, 'old_rows', -1)
        ELSE bravo._bravo_hourly_rows(tab, 'new_rows', 1) || ' UNION ALL '
          || bravo._bravo_hourly_rows(tab, 'old_rows', -1)
        END;
    pending := bravo._bravo_rollup_pending(TG_RELID);
    IF pending IS NOT NULL THEN
        EXECUTE format('INSERT INTO %s %s', pending, src);
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock_shared(1651663222, 1919904876);   -- 'brav', 'roll'
    EXECUTE bravo._bravo_hourly_by_buy_sql(tab, src, bravo._bravo_rollup_buys()) INTO ids, hours;
    PERFORM bravo._bravo_hourly_prune(ids, hours);
    RETURN NULL;
END
$fn$;

-- The statements that move the hours of the buys in `gone` (subtracted) and `came`
-- (added), each a query of (id, campaign_id), between campaigns: one per hourly table
-- and direction. _bravo_rollup_buy_trigger EXECUTEs them (they read its transition
-- tables).
CREATE FUNCTION bravo._bravo_hourly_move_sql(gone text, came text)
RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT coalesce(array_agg(bravo._bravo_hourly_sql(t.metric_table, format(
           'SELECT b.campaign_id, p.hour_start, %s FROM (%s) b JOIN %s p ON p.media_buy_id = b.id',
           bravo._bravo_hourly_values(t.metric_table, s.sign), s.q, t.rel))), '{}')
  FROM bravo._bravo_hourly_tables() t,
       (VALUES (-1, gone), (1, came)) s (sign, q)
 WHERE s.q IS NOT NULL
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_hourly_move_sql(text, text) FROM PUBLIC;

-- Rebuilds the hourly rollup from the hourly tables. Blocks their writers and
-- media_buys' (not readers) while it runs. Returns its number of rows.
CREATE FUNCTION bravo._bravo_hourly_rebuild()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    buys    regclass := bravo._bravo_media_table('media_buys');
    keytype text;
    parts   text;
    tabs    text;
    n       bigint;
BEGIN
    -- The distributed layout reads the hourly tables instead (citus/layout.sql).
    IF buys IS NULL OR bravo._bravo_distributed() THEN
        DELETE FROM bravo.bravo_campaign_hourly_rollup;
        RETURN 0;
    END IF;
    SELECT format_type(a.atttypid, a.atttypmod) INTO keytype
      FROM pg_attribute a WHERE a.attrelid = buys AND a.attname = 'campaign_id';
    SELECT string_agg(t.rel::text, ', '),
           string_agg(format(
               'SELECT m.campaign_id, p.hour_start, %s FROM %s p JOIN %s m ON m.id = p.media_buy_id',
               (SELECT string_agg(CASE WHEN l.metric_table = t.metric_table AND x.name = l.counter THEN '1'
                                       WHEN l.metric_table = t.metric_table AND x.name = ANY (l.measures) THEN 'p.' || quote_ident(x.name)
                                       ELSE '0' END, ', ' ORDER BY x.ord)
                  FROM bravo._bravo_hourly_layout() l,
                       (VALUES ('impressions', 1), ('clicks', 2), ('spend', 3), ('video_starts', 4),
                               ('video_completions', 5), ('video_views', 6), ('impression_rows', 7),
                               ('video_rows', 8)) x (name, ord)
                 WHERE l.metric_table = t.metric_table),
               t.rel, buys), ' UNION ALL ')
      INTO tabs, parts
      FROM bravo._bravo_hourly_tables() t;
    IF tabs IS NOT NULL THEN
        EXECUTE format('LOCK TABLE %s, %s IN SHARE MODE', buys, tabs);
    END IF;
    LOCK TABLE bravo.bravo_campaign_hourly_rollup IN EXCLUSIVE MODE;
    DELETE FROM bravo.bravo_campaign_hourly_rollup;
    IF keytype IS DISTINCT FROM (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                                  WHERE a.attrelid = 'bravo.bravo_campaign_hourly_rollup'::regclass
                                    AND a.attname = 'campaign_id') THEN
        EXECUTE format('ALTER TABLE bravo.bravo_campaign_hourly_rollup ALTER COLUMN campaign_id TYPE %s USING NULL',
                       keytype);
    END IF;
    IF parts IS NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format(
        'INSERT INTO bravo.bravo_campaign_hourly_rollup (campaign_id, hour_start, impressions, clicks, spend, '
        'video_starts, video_completions, video_views, impression_rows, video_rows) '
        'SELECT k, h, sum(a)::bigint, sum(b)::bigint, sum(c)::numeric, sum(d)::bigint, sum(e)::bigint, '
        'sum(f)::bigint, sum(g)::integer, sum(i)::integer '
        'FROM (%s) x (k, h, a, b, c, d, e, f, g, i) WHERE k IS NOT NULL GROUP BY k, h ORDER BY k, h',
        parts);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_hourly_rebuild() FROM PUBLIC;
