-- bravo_metrics 0.1.0 -> 0.2.0
--
-- Adds bravo_media_buy_rollup, (media_buy_id, month) sums kept by the same statement
-- triggers as bravo_campaign_rollup, and reads bravo_media_buy_totals from it (whole
-- months) and from the metric tables (partial months at the ends of the range).
-- Campaign moves now wait for metric writes in flight (and the other way round), so a
-- move racing a sync no longer leaves rows counted in the old campaign.
--
-- Data: nothing is dropped or rewritten. The metric tables and media_buys are not
-- touched (the new rollup is built by reading them); the run log, the set-aside rows
-- and bravo_campaign_rollup keep every row. Only functions change: two internal
-- helpers get a new signature (the old ones are dropped), the others are replaced
-- in place with the same signature. Roles granted reporting under 0.1.0 get SELECT
-- on the new rollup, so their reports keep working.
\echo Use "ALTER EXTENSION bravo_metrics UPDATE TO '0.2.0'" to load this file. \quit

CREATE TABLE @extschema@.bravo_media_buy_rollup (
    media_buy_id      bigint  NOT NULL,
    month             date    NOT NULL CHECK (month = date_trunc('month', month::timestamp)::date),
    impressions       bigint  NOT NULL DEFAULT 0,
    clicks            bigint  NOT NULL DEFAULT 0,
    spend             numeric NOT NULL DEFAULT 0,
    video_starts      bigint  NOT NULL DEFAULT 0,
    video_completions bigint  NOT NULL DEFAULT 0,
    video_views       bigint  NOT NULL DEFAULT 0,
    impression_rows   integer NOT NULL DEFAULT 0,
    video_rows        integer NOT NULL DEFAULT 0,
    PRIMARY KEY (media_buy_id, month)
) WITH (fillfactor = 90);
REVOKE ALL ON @extschema@.bravo_media_buy_rollup FROM PUBLIC;

CREATE FUNCTION @extschema@._bravo_month(day date)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN date_trunc('month', day::timestamp)::date;

-- The rollup helpers now take the rollup to write.
DROP FUNCTION @extschema@._bravo_rollup_sql(text);
DROP FUNCTION @extschema@._bravo_rollup_prune(bigint[], date[]);

CREATE FUNCTION @extschema@._bravo_rollup_sql(rollup text, delta_sql text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT format($q$
    WITH d AS (
        SELECT %2$I, %3$I,
               sum(impressions)::bigint AS impressions, sum(clicks)::bigint AS clicks,
               sum(spend) AS spend, sum(video_starts)::bigint AS video_starts,
               sum(video_completions)::bigint AS video_completions,
               sum(video_views)::bigint AS video_views,
               sum(impression_rows)::integer AS impression_rows,
               sum(video_rows)::integer AS video_rows
          FROM (%4$s) x (%2$I, %3$I, impressions, clicks, spend, video_starts,
                       video_completions, video_views, impression_rows, video_rows)
         WHERE %2$I IS NOT NULL
         GROUP BY %2$I, %3$I
        HAVING sum(impression_rows) <> 0 OR sum(video_rows) <> 0
            OR sum(impressions) <> 0 OR sum(clicks) <> 0 OR sum(spend) <> 0
            OR sum(video_starts) <> 0 OR sum(video_completions) <> 0 OR sum(video_views) <> 0
    ), up AS (
        INSERT INTO @extschema@.%1$I AS r
        SELECT * FROM d ORDER BY %2$I, %3$I
        ON CONFLICT (%2$I, %3$I) DO UPDATE
           SET impressions       = r.impressions + excluded.impressions,
               clicks            = r.clicks + excluded.clicks,
               spend             = r.spend + excluded.spend,
               video_starts      = r.video_starts + excluded.video_starts,
               video_completions = r.video_completions + excluded.video_completions,
               video_views       = r.video_views + excluded.video_views,
               impression_rows   = r.impression_rows + excluded.impression_rows,
               video_rows        = r.video_rows + excluded.video_rows
        RETURNING r.%2$I, r.%3$I, r.impression_rows, r.video_rows
    )
    SELECT array_agg(%2$I), array_agg(%3$I) FROM up
     WHERE impression_rows = 0 AND video_rows = 0$q$,
    rollup,
    CASE rollup WHEN 'bravo_campaign_rollup' THEN 'campaign_id' ELSE 'media_buy_id' END,
    CASE rollup WHEN 'bravo_campaign_rollup' THEN 'date' ELSE 'month' END,
    delta_sql)
$fn$;

CREATE FUNCTION @extschema@._bravo_rollup_prune(rollup text, ids bigint[], dates date[])
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF ids IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format(
        'DELETE FROM @extschema@.%1$I r USING unnest($1, $2) z (id, date) '
        'WHERE r.%2$I = z.id AND r.%3$I = z.date AND r.impression_rows = 0 AND r.video_rows = 0',
        rollup,
        CASE rollup WHEN 'bravo_campaign_rollup' THEN 'campaign_id' ELSE 'media_buy_id' END,
        CASE rollup WHEN 'bravo_campaign_rollup' THEN 'date' ELSE 'month' END)
      USING ids, dates;
END
$fn$;
REVOKE ALL ON FUNCTION @extschema@._bravo_rollup_prune(text, bigint[], date[]) FROM PUBLIC;

CREATE FUNCTION @extschema@._bravo_rollup_buys_referenced()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT count(DISTINCT k.conrelid) = 2
  FROM pg_constraint k
 WHERE k.contype = 'f' AND NOT k.condeferrable
   AND k.confrelid = '@extschema@.media_buys'::regclass
   AND k.conrelid IN ('@extschema@.platform_buy_daily_impressions'::regclass,
                      '@extschema@.platform_buy_daily_videos'::regclass)
$fn$;

-- The metric trigger also keeps the media buy rollup; it and the media_buys trigger
-- now serialize campaign moves against metric writes in flight.
CREATE OR REPLACE FUNCTION @extschema@._bravo_rollup_metric_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    src   text;
    ids   bigint[];
    dates date[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM @extschema@.bravo_report_rebuild();
        RETURN NULL;
    END IF;
    src := CASE TG_OP
        WHEN 'INSERT' THEN @extschema@._bravo_rollup_rows(TG_TABLE_NAME, 'new_rows', 1)
        WHEN 'DELETE' THEN @extschema@._bravo_rollup_rows(TG_TABLE_NAME, 'old_rows', -1)
        ELSE @extschema@._bravo_rollup_rows(TG_TABLE_NAME, 'new_rows', 1) || ' UNION ALL '
          || @extschema@._bravo_rollup_rows(TG_TABLE_NAME, 'old_rows', -1)
        END;
    -- Waits for a campaign move in flight and makes moves wait for this transaction
    -- (see _bravo_rollup_buy_trigger); the campaign is then read with a fresh snapshot.
    PERFORM pg_advisory_xact_lock_shared(1651663222, 1919904876);   -- 'brav', 'roll'
    EXECUTE @extschema@._bravo_rollup_sql('bravo_campaign_rollup', format(
        'SELECT m.campaign_id, x.date, x.i, x.c, x.s, x.vs, x.vc, x.vv, x.ir, x.vr '
        'FROM (%s) x (media_buy_id, date, i, c, s, vs, vc, vv, ir, vr) '
        'JOIN @extschema@.media_buys m ON m.id = x.media_buy_id', src))
       INTO ids, dates;
    PERFORM @extschema@._bravo_rollup_prune('bravo_campaign_rollup', ids, dates);
    EXECUTE @extschema@._bravo_rollup_sql('bravo_media_buy_rollup', format(
        'SELECT x.media_buy_id, @extschema@._bravo_month(x.date), x.i, x.c, x.s, x.vs, x.vc, x.vv, x.ir, x.vr '
        'FROM (%s) x (media_buy_id, date, i, c, s, vs, vc, vv, ir, vr)', src))
       INTO ids, dates;
    PERFORM @extschema@._bravo_rollup_prune('bravo_media_buy_rollup', ids, dates);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION @extschema@._bravo_rollup_buy_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    gone  text;   -- (id, campaign_id) to subtract
    came  text;   -- (id, campaign_id) to add
    moved boolean;
    parts text[] := '{}';
    cids  bigint[];
    dates date[];
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM @extschema@._bravo_rollup_rebuild('bravo_campaign_rollup');
        RETURN NULL;
    END IF;
    gone := CASE TG_OP
        WHEN 'INSERT' THEN NULL
        WHEN 'DELETE' THEN 'SELECT id, campaign_id FROM old_rows'
        ELSE 'SELECT id, campaign_id FROM old_rows EXCEPT SELECT id, campaign_id FROM new_rows' END;
    came := CASE TG_OP
        WHEN 'DELETE' THEN NULL
        WHEN 'INSERT' THEN 'SELECT id, campaign_id FROM new_rows'
        ELSE 'SELECT id, campaign_id FROM new_rows EXCEPT SELECT id, campaign_id FROM old_rows' END;
    -- An update that moves no buy (a rename, an updated_at bump) has nothing to do and
    -- never waits.
    EXECUTE format('SELECT EXISTS (%s)', coalesce(gone, came)) INTO moved;
    IF NOT moved THEN
        RETURN NULL;
    END IF;
    -- A move must not race a metric write in flight: the writer's trigger read the
    -- buy's old campaign, and this trigger cannot see the writer's uncommitted rows, so
    -- those rows would stay counted in the old campaign. The metric trigger holds this
    -- lock in share mode until its transaction ends; wait for those writers, and make
    -- new ones wait for this move, so that whichever runs second sees the other's rows
    -- (each statement below reads with a fresh snapshot in READ COMMITTED). New and
    -- deleted buys need it only when the metric tables lack a foreign key to
    -- media_buys (with one, no metric row can refer to an uncommitted or deleted buy).
    IF TG_OP = 'UPDATE' OR NOT @extschema@._bravo_rollup_buys_referenced() THEN
        PERFORM pg_advisory_xact_lock(1651663222, 1919904876);   -- 'brav', 'roll'
    END IF;
    IF gone IS NOT NULL THEN
        parts := parts || format(
            'SELECT b.campaign_id, p.date, -p.impressions, -p.clicks, -p.spend, 0::bigint, 0::bigint, 0::bigint, -1, 0 '
            'FROM (%1$s) b JOIN @extschema@.platform_buy_daily_impressions p ON p.media_buy_id = b.id '
            'UNION ALL SELECT b.campaign_id, p.date, 0::bigint, 0::bigint, 0::numeric, -p.video_starts, '
            '-p.video_completions, -p.video_views, 0, -1 '
            'FROM (%1$s) b JOIN @extschema@.platform_buy_daily_videos p ON p.media_buy_id = b.id', gone);
    END IF;
    IF came IS NOT NULL THEN
        parts := parts || format(
            'SELECT b.campaign_id, p.date, p.impressions, p.clicks, p.spend, 0::bigint, 0::bigint, 0::bigint, 1, 0 '
            'FROM (%1$s) b JOIN @extschema@.platform_buy_daily_impressions p ON p.media_buy_id = b.id '
            'UNION ALL SELECT b.campaign_id, p.date, 0::bigint, 0::bigint, 0::numeric, p.video_starts, '
            'p.video_completions, p.video_views, 0, 1 '
            'FROM (%1$s) b JOIN @extschema@.platform_buy_daily_videos p ON p.media_buy_id = b.id', came);
    END IF;
    EXECUTE @extschema@._bravo_rollup_sql('bravo_campaign_rollup', array_to_string(parts, ' UNION ALL '))
       INTO cids, dates;
    PERFORM @extschema@._bravo_rollup_prune('bravo_campaign_rollup', cids, dates);
    RETURN NULL;
END
$fn$;

CREATE FUNCTION @extschema@._bravo_rollup_rebuild(rollup text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n bigint;
BEGIN
    LOCK TABLE @extschema@.media_buys, @extschema@.platform_buy_daily_impressions,
               @extschema@.platform_buy_daily_videos IN SHARE MODE;
    IF rollup = 'bravo_campaign_rollup' THEN
        LOCK TABLE @extschema@.bravo_campaign_rollup IN EXCLUSIVE MODE;
        DELETE FROM @extschema@.bravo_campaign_rollup;
        INSERT INTO @extschema@.bravo_campaign_rollup
        SELECT coalesce(i.campaign_id, v.campaign_id), coalesce(i.date, v.date),
               coalesce(i.impressions, 0), coalesce(i.clicks, 0), coalesce(i.spend, 0),
               coalesce(v.video_starts, 0), coalesce(v.video_completions, 0), coalesce(v.video_views, 0),
               coalesce(i.n, 0), coalesce(v.n, 0)
          FROM (SELECT m.campaign_id, p.date, sum(p.impressions)::bigint AS impressions,
                       sum(p.clicks)::bigint AS clicks, sum(p.spend) AS spend, count(*)::integer AS n
                  FROM @extschema@.platform_buy_daily_impressions p
                  JOIN @extschema@.media_buys m ON m.id = p.media_buy_id
                 WHERE m.campaign_id IS NOT NULL
                 GROUP BY m.campaign_id, p.date) i
          FULL JOIN
               (SELECT m.campaign_id, p.date, sum(p.video_starts)::bigint AS video_starts,
                       sum(p.video_completions)::bigint AS video_completions,
                       sum(p.video_views)::bigint AS video_views, count(*)::integer AS n
                  FROM @extschema@.platform_buy_daily_videos p
                  JOIN @extschema@.media_buys m ON m.id = p.media_buy_id
                 WHERE m.campaign_id IS NOT NULL
                 GROUP BY m.campaign_id, p.date) v
            ON v.campaign_id = i.campaign_id AND v.date = i.date
         ORDER BY 1, 2;
    ELSE
        LOCK TABLE @extschema@.bravo_media_buy_rollup IN EXCLUSIVE MODE;
        DELETE FROM @extschema@.bravo_media_buy_rollup;
        INSERT INTO @extschema@.bravo_media_buy_rollup
        SELECT coalesce(i.media_buy_id, v.media_buy_id), coalesce(i.month, v.month),
               coalesce(i.impressions, 0), coalesce(i.clicks, 0), coalesce(i.spend, 0),
               coalesce(v.video_starts, 0), coalesce(v.video_completions, 0), coalesce(v.video_views, 0),
               coalesce(i.n, 0), coalesce(v.n, 0)
          FROM (SELECT p.media_buy_id, @extschema@._bravo_month(p.date) AS month,
                       sum(p.impressions)::bigint AS impressions, sum(p.clicks)::bigint AS clicks,
                       sum(p.spend) AS spend, count(*)::integer AS n
                  FROM @extschema@.platform_buy_daily_impressions p
                 GROUP BY 1, 2) i
          FULL JOIN
               (SELECT p.media_buy_id, @extschema@._bravo_month(p.date) AS month,
                       sum(p.video_starts)::bigint AS video_starts,
                       sum(p.video_completions)::bigint AS video_completions,
                       sum(p.video_views)::bigint AS video_views, count(*)::integer AS n
                  FROM @extschema@.platform_buy_daily_videos p
                 GROUP BY 1, 2) v
            ON v.media_buy_id = i.media_buy_id AND v.month = i.month
         ORDER BY 1, 2;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
REVOKE ALL ON FUNCTION @extschema@._bravo_rollup_rebuild(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.bravo_report_rebuild()
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT @extschema@._bravo_rollup_rebuild('bravo_campaign_rollup')
         + @extschema@._bravo_rollup_rebuild('bravo_media_buy_rollup')
$fn$;

CREATE FUNCTION @extschema@._bravo_report_months_from(from_date date)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN from_date IS NULL THEN '-infinity'::date
            ELSE (@extschema@._bravo_month(from_date - 1) + interval '1 month')::date END;

CREATE FUNCTION @extschema@._bravo_report_months_until(to_date date)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN to_date IS NULL THEN 'infinity'::date
            ELSE @extschema@._bravo_month(to_date + 1) END;

CREATE OR REPLACE FUNCTION @extschema@.bravo_media_buy_totals(
    campaign_id bigint, from_date date DEFAULT NULL, to_date date DEFAULT NULL)
RETURNS TABLE (
    media_buy_id bigint,
    impressions bigint, clicks bigint, spend numeric,
    video_starts bigint, video_completions bigint, video_views bigint,
    ctr numeric, cpm numeric, cpc numeric,
    completion_rate numeric, view_rate numeric, cpcv numeric,
    first_date date, last_date date)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
-- Per media buy: the whole months of the range come from bravo_media_buy_rollup (one
-- row per buy and month), the partial months at either end from the metric tables,
-- and the first / last date with data from two probes of each table's
-- (media_buy_id, date) key. Every read is an index range scan on one buy.
SELECT m.id,
       s.impressions, s.clicks, s.spend, s.video_starts, s.video_completions, s.video_views,
       s.clicks::numeric / NULLIF(s.impressions, 0),
       s.spend * 1000 / NULLIF(s.impressions, 0),
       s.spend / NULLIF(s.clicks, 0),
       s.video_completions::numeric / NULLIF(s.video_starts, 0),
       s.video_views::numeric / NULLIF(s.impressions, 0),
       s.spend / NULLIF(s.video_completions, 0),
       least((SELECT min(p.date) FROM @extschema@.platform_buy_daily_impressions p
               WHERE p.media_buy_id = m.id AND p.date >= c.lo AND p.date <= c.hi),
             (SELECT min(p.date) FROM @extschema@.platform_buy_daily_videos p
               WHERE p.media_buy_id = m.id AND p.date >= c.lo AND p.date <= c.hi)),
       greatest((SELECT max(p.date) FROM @extschema@.platform_buy_daily_impressions p
                  WHERE p.media_buy_id = m.id AND p.date >= c.lo AND p.date <= c.hi),
                (SELECT max(p.date) FROM @extschema@.platform_buy_daily_videos p
                  WHERE p.media_buy_id = m.id AND p.date >= c.lo AND p.date <= c.hi))
  FROM (SELECT @extschema@._bravo_report_campaign(
                   bravo_media_buy_totals.campaign_id, bravo_media_buy_totals.from_date,
                   bravo_media_buy_totals.to_date) AS id,
               coalesce(bravo_media_buy_totals.from_date, '-infinity') AS lo,
               coalesce(bravo_media_buy_totals.to_date, 'infinity') AS hi,
               @extschema@._bravo_report_months_from(bravo_media_buy_totals.from_date) AS first,
               @extschema@._bravo_report_months_until(bravo_media_buy_totals.to_date) AS last_end) c
  JOIN @extschema@.media_buys m ON m.campaign_id = c.id
 CROSS JOIN LATERAL (
       SELECT coalesce(sum(x.impressions), 0)::bigint       AS impressions,
              coalesce(sum(x.clicks), 0)::bigint            AS clicks,
              @extschema@._bravo_money(coalesce(sum(x.spend), 0)) AS spend,
              coalesce(sum(x.video_starts), 0)::bigint      AS video_starts,
              coalesce(sum(x.video_completions), 0)::bigint AS video_completions,
              coalesce(sum(x.video_views), 0)::bigint       AS video_views
         FROM (SELECT r.impressions, r.clicks, r.spend,
                      r.video_starts, r.video_completions, r.video_views
                 FROM @extschema@.bravo_media_buy_rollup r
                WHERE r.media_buy_id = m.id AND r.month >= c.first AND r.month < c.last_end
               UNION ALL
               SELECT p.impressions, p.clicks, p.spend, 0, 0, 0
                 FROM @extschema@.platform_buy_daily_impressions p
                WHERE p.media_buy_id = m.id AND p.date >= c.lo AND p.date <= c.hi
                  AND p.date < c.first
               UNION ALL
               SELECT p.impressions, p.clicks, p.spend, 0, 0, 0
                 FROM @extschema@.platform_buy_daily_impressions p
                WHERE p.media_buy_id = m.id AND p.date >= c.lo AND p.date <= c.hi
                  AND p.date >= c.first AND p.date >= c.last_end
               UNION ALL
               SELECT 0, 0, 0, p.video_starts, p.video_completions, p.video_views
                 FROM @extschema@.platform_buy_daily_videos p
                WHERE p.media_buy_id = m.id AND p.date >= c.lo AND p.date <= c.hi
                  AND p.date < c.first
               UNION ALL
               SELECT 0, 0, 0, p.video_starts, p.video_completions, p.video_views
                 FROM @extschema@.platform_buy_daily_videos p
                WHERE p.media_buy_id = m.id AND p.date >= c.lo AND p.date <= c.hi
                  AND p.date >= c.first AND p.date >= c.last_end) x) s
 ORDER BY m.id
$$;

CREATE OR REPLACE FUNCTION @extschema@._bravo_reporting_acl(role regrole, do_revoke boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    verb text := CASE WHEN do_revoke THEN 'REVOKE' ELSE 'GRANT' END;
    dir  text := CASE WHEN do_revoke THEN 'FROM' ELSE 'TO' END;
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be NULL' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass an existing role, e.g. SELECT bravo_grant_reporting(''analysts'');';
    END IF;
    EXECUTE format('%s USAGE ON SCHEMA %I %s %s', verb, '@extschema@', dir, role);
    EXECUTE format('%s SELECT ON TABLE @extschema@.media_buys, @extschema@.platform_buy_daily_impressions, '
                   '@extschema@.platform_buy_daily_videos, @extschema@.bravo_campaign_rollup, '
                   '@extschema@.bravo_media_buy_rollup %s %s',
                   verb, dir, role);
    EXECUTE format('%s EXECUTE ON FUNCTION '
                   '@extschema@.bravo_campaign_totals(bigint, date, date), '
                   '@extschema@.bravo_campaigns_totals(bigint[], date, date), '
                   '@extschema@.bravo_campaign_daily(bigint, date, date), '
                   '@extschema@.bravo_media_buy_totals(bigint, date, date), '
                   '@extschema@.bravo_last_sync_at() %s %s', verb, dir, role);
END
$fn$;

-- Roles that were granted reporting (they can read bravo_campaign_rollup) also read
-- the new rollup.
DO $bravo$
DECLARE
    grantee regrole;
BEGIN
    FOR grantee IN
        SELECT DISTINCT a.grantee::regrole
          FROM pg_class c, aclexplode(c.relacl) a
         WHERE c.oid = '@extschema@.bravo_campaign_rollup'::regclass
           AND a.privilege_type = 'SELECT' AND a.grantee <> c.relowner AND a.grantee <> 0
    LOOP
        EXECUTE format('GRANT SELECT ON @extschema@.bravo_media_buy_rollup TO %s', grantee);
    END LOOP;
END
$bravo$;

-- Build the new rollup from the rows already there. During a restore (the media
-- tool's tables not recreated yet) the restore event trigger rebuilds both rollups
-- once the dump has recreated the triggers.
DO $bravo$
BEGIN
    IF to_regclass('@extschema@.media_buys') IS NOT NULL
       AND to_regclass('@extschema@.platform_buy_daily_impressions') IS NOT NULL
       AND to_regclass('@extschema@.platform_buy_daily_videos') IS NOT NULL THEN
        PERFORM @extschema@._bravo_rollup_rebuild('bravo_media_buy_rollup');
    END IF;
END
$bravo$;
