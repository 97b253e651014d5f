-- bravo_metrics rollups: pre-aggregated sums behind the reporting functions
-- (report.sql).
--
-- bravo_campaign_rollup (campaign_id, date). Invariant: for every campaign c and date
-- d, the row (c, d) holds the sums over the metric rows of date d whose media buy has
-- media_buys.campaign_id = c *now*, and impression_rows / video_rows / conversion_rows /
-- viewability_rows count those rows, per metric table. Since 0.4.0 the rollups cover
-- the four shipped families (_bravo_rollup_layout: which table feeds which columns);
-- a family table that does not exist yet contributes nothing.
--
-- bravo_media_buy_rollup (media_buy_id, month), since 0.2.0. Invariant: the row (b, m)
-- holds the sums over the metric rows of media buy b dated in the calendar month that
-- starts on m, with the same row counts. It does not depend on media_buys at all, so
-- a campaign move leaves it alone; bravo_media_buy_totals reads the whole months of a
-- range from it and the partial months at the two ends from the metric tables.
--
-- In both, there is no row when every row count is 0.
--
-- Both are kept by statement-level AFTER triggers with transition tables, which see
-- every row a statement changed (sync merges, direct edits, COPY, ON CONFLICT):
--   * the metric tables (platform_buy_daily_impressions, _videos, and _conversions /
--     _viewability once they exist), INSERT / UPDATE / DELETE: the delta
--     (new rows minus old rows), joined to media_buys for the campaign, grouped by
--     (campaign_id, date), upserted in key order (no deadlock between two writers);
--     and the same delta grouped by (media_buy_id, month) into the media buy rollup;
--   * media_buys INSERT / UPDATE / DELETE: for each buy whose (id, campaign_id)
--     changed, its metric rows are subtracted from the old campaign and added to the
--     new one (read through the (media_buy_id, date) primary keys); the media buy
--     rollup needs nothing here. A move and a metric write in flight wait for each
--     other (a transaction advisory lock), so the second sees the first's rows;
--   * TRUNCATE of a metric table: full rebuild of both; of media_buys: of the
--     campaign rollup.
-- The rollups are extension members that pg_dump does not dump (derived data):
-- CREATE EXTENSION builds them from the rows already there (legacy data), and
-- bravo_report_rebuild() rebuilds them on demand (e.g. after a data-only restore run
-- with --disable-triggers). The statements the triggers run are generated from
-- _bravo_rollup_layout(), so every family is handled by the same code.
-- Trigger functions are SECURITY DEFINER, so any role allowed to write the metric
-- tables keeps the rollup right without access to it.
-- Every sync or revision updates rollup rows in place, so their pages keep 30 % free
-- (fillfactor 70): the new version of a row then most often fits on its page, a HOT
-- update that writes no index entry.

CREATE TABLE bravo.bravo_campaign_rollup (
    campaign_id       bigint  NOT NULL,
    date              date    NOT NULL,
    impressions       bigint  NOT NULL DEFAULT 0,
    clicks            bigint  NOT NULL DEFAULT 0,
    spend             numeric NOT NULL DEFAULT 0,
    video_starts      bigint  NOT NULL DEFAULT 0,
    video_completions bigint  NOT NULL DEFAULT 0,
    video_views       bigint  NOT NULL DEFAULT 0,
    -- number of metric rows behind this row; the row is deleted when all reach 0
    impression_rows   integer NOT NULL DEFAULT 0,
    video_rows        integer NOT NULL DEFAULT 0,
    -- since 0.4.0
    post_click_conversions bigint  NOT NULL DEFAULT 0,
    post_view_conversions  bigint  NOT NULL DEFAULT 0,
    conversion_value       numeric NOT NULL DEFAULT 0,
    eligible_impressions   bigint  NOT NULL DEFAULT 0,
    measurable_impressions bigint  NOT NULL DEFAULT 0,
    viewable_impressions   bigint  NOT NULL DEFAULT 0,
    conversion_rows        integer NOT NULL DEFAULT 0,
    viewability_rows       integer NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, date)
) WITH (fillfactor = 70);
REVOKE ALL ON bravo.bravo_campaign_rollup FROM PUBLIC;

CREATE TABLE bravo.bravo_media_buy_rollup (
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
    -- since 0.4.0
    post_click_conversions bigint  NOT NULL DEFAULT 0,
    post_view_conversions  bigint  NOT NULL DEFAULT 0,
    conversion_value       numeric NOT NULL DEFAULT 0,
    eligible_impressions   bigint  NOT NULL DEFAULT 0,
    measurable_impressions bigint  NOT NULL DEFAULT 0,
    viewable_impressions   bigint  NOT NULL DEFAULT 0,
    conversion_rows        integer NOT NULL DEFAULT 0,
    viewability_rows       integer NOT NULL DEFAULT 0,
    PRIMARY KEY (media_buy_id, month)
) WITH (fillfactor = 70);
REVOKE ALL ON bravo.bravo_media_buy_rollup FROM PUBLIC;

-- First day of the month of `day` (IMMUTABLE: no time zone involved).
CREATE FUNCTION bravo._bravo_month(day date)
RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN date_trunc('month', day::timestamp)::date;

-- Which metric table feeds which rollup columns, and the column counting its rows
-- (since 0.4.0). The rollups have every family's columns, in this order.
CREATE FUNCTION bravo._bravo_rollup_layout()
RETURNS TABLE (metric_table text, measures text[], counter text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
VALUES ('platform_buy_daily_impressions', ARRAY['impressions', 'clicks', 'spend'], 'impression_rows'),
       ('platform_buy_daily_videos', ARRAY['video_starts', 'video_completions', 'video_views'], 'video_rows'),
       ('platform_buy_daily_conversions',
        ARRAY['post_click_conversions', 'post_view_conversions', 'conversion_value'], 'conversion_rows'),
       ('platform_buy_daily_viewability',
        ARRAY['eligible_impressions', 'measurable_impressions', 'viewable_impressions'], 'viewability_rows')
$fn$;

-- Every rollup value column, in order: all measures, then all row counters, each with
-- its SQL type.
CREATE FUNCTION bravo._bravo_rollup_columns()
RETURNS TABLE (name text, type text, ord bigint)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT c.name,
       CASE WHEN c.is_counter THEN 'integer'
            WHEN c.name IN ('spend', 'conversion_value') THEN 'numeric'
            ELSE 'bigint' END,
       row_number() OVER (ORDER BY c.is_counter, c.t, c.m)
  FROM (SELECT m.name, false AS is_counter, l.t, m.m
          FROM bravo._bravo_rollup_layout() WITH ORDINALITY AS l (metric_table, measures, counter, t)
         CROSS JOIN LATERAL unnest(l.measures) WITH ORDINALITY AS m (name, m)
        UNION ALL
        SELECT l.counter, true, l.t, 1
          FROM bravo._bravo_rollup_layout() WITH ORDINALITY AS l (metric_table, measures, counter, t)) c
$fn$;

-- The rollup value columns as a list: `prefix` before each name, `sep` between.
CREATE FUNCTION bravo._bravo_rollup_list(fmt text, sep text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT string_agg(format(fmt, c.name, c.type), sep ORDER BY c.ord)
  FROM bravo._bravo_rollup_columns() c
$fn$;

-- The rollup values of one row of metric table `tab`, read from `prefix`-qualified
-- columns, times `sign`: its measures, 0 for the other families', `sign` for its own
-- row counter, 0 for the others.
CREATE FUNCTION bravo._bravo_rollup_values(tab text, prefix text, sign integer)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT string_agg(
         CASE WHEN c.name = ANY (l.measures) THEN format('(%s * %s%I)::%s', sign, prefix, c.name, c.type)
              WHEN c.name = l.counter THEN format('%s::%s', sign, c.type)
              ELSE format('0::%s', c.type) END,
         ', ' ORDER BY c.ord)
  FROM bravo._bravo_rollup_layout() l, bravo._bravo_rollup_columns() c
 WHERE l.metric_table = tab
$fn$;

-- The metric tables of the layout that exist, as regclass.
CREATE FUNCTION bravo._bravo_rollup_tables()
RETURNS TABLE (metric_table text, rel regclass)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT l.metric_table, bravo._bravo_media_table(l.metric_table)
  FROM bravo._bravo_rollup_layout() l
 WHERE bravo._bravo_media_table(l.metric_table) IS NOT NULL
$fn$;

-- The statement that applies the rows of `delta_sql` (key, key date, then the rollup
-- value columns `cols`, in that order) as increments to `rollup`
-- ('bravo_campaign_rollup': key campaign_id, date; 'bravo_media_buy_rollup':
-- media_buy_id, month), in key order, and returns the keys left empty. A metric
-- table's trigger passes only its own columns (the others are untouched), a move of
-- media buys all of them. The trigger functions EXECUTE it themselves: transition
-- tables are only visible to the trigger function's own queries.
CREATE FUNCTION bravo._bravo_rollup_sql(rollup text, delta_sql text, cols text[])
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT format($q$
    WITH d AS (
        SELECT %2$I, %3$I, %5$s
          FROM (%4$s) x (%2$I, %3$I, %6$s)
         WHERE %2$I IS NOT NULL
         GROUP BY %2$I, %3$I
        HAVING %7$s
    ), up AS (
        INSERT INTO bravo.%1$I AS r (%2$I, %3$I, %6$s)
        SELECT * FROM d ORDER BY %2$I, %3$I
        ON CONFLICT (%2$I, %3$I) DO UPDATE
           SET %8$s
        RETURNING r.%2$I, r.%3$I, (%9$s) AS empty
    )
    SELECT array_agg(%2$I::text), array_agg(%3$I) FROM up WHERE empty$q$,
    rollup,
    CASE rollup WHEN 'bravo_campaign_rollup' THEN 'campaign_id' ELSE 'media_buy_id' END,
    CASE rollup WHEN 'bravo_campaign_rollup' THEN 'date' ELSE 'month' END,
    delta_sql,
    string_agg(format('sum(%1$I)::%2$s AS %1$I', c.name, c.type), ', ' ORDER BY c.ord),
    string_agg(quote_ident(c.name), ', ' ORDER BY c.ord),
    string_agg(format('sum(%I) <> 0', c.name), ' OR ' ORDER BY c.ord),
    string_agg(format('%1$I = r.%1$I + excluded.%1$I', c.name), ', ' ORDER BY c.ord),
    (SELECT string_agg(format('r.%I = 0', l.counter), ' AND ') FROM bravo._bravo_rollup_layout() l))
  FROM bravo._bravo_rollup_columns() c
 WHERE c.name = ANY (cols)
$fn$;

-- The type of a rollup's key column (campaign_id or media_buy_id), as SQL.
CREATE FUNCTION bravo._bravo_rollup_key_type(rollup text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a
 WHERE a.attrelid = format('bravo.%I', rollup)::regclass
   AND a.attname = CASE rollup WHEN 'bravo_campaign_rollup' THEN 'campaign_id' ELSE 'media_buy_id' END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_rollup_key_type(text) FROM PUBLIC;

-- Deletes the rollup rows left with no metric rows behind them. The keys come as text
-- (since 0.4.0: media buy and campaign ids may be bigint, text, uuid, ...).
CREATE FUNCTION bravo._bravo_rollup_prune(rollup text, ids text[], dates date[])
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF ids IS NULL THEN
        RETURN;
    END IF;
    EXECUTE format(
        'DELETE FROM bravo.%1$I r USING unnest($1, $2) z (id, date) '
        'WHERE r.%2$I = z.id::%5$s AND r.%3$I = z.date AND %4$s',
        rollup,
        CASE rollup WHEN 'bravo_campaign_rollup' THEN 'campaign_id' ELSE 'media_buy_id' END,
        CASE rollup WHEN 'bravo_campaign_rollup' THEN 'date' ELSE 'month' END,
        (SELECT string_agg(format('r.%I = 0', l.counter), ' AND ') FROM bravo._bravo_rollup_layout() l),
        bravo._bravo_rollup_key_type(rollup))
      USING ids, dates;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_rollup_prune(text, text[], date[]) FROM PUBLIC;

-- Metric table `tab`: (media_buy_id, date, its own rollup columns: its measures, then
-- its row counter) of `transition` (a transition table's name, or the metric table
-- itself as a regclass's text), with `sign` +1 (new rows: the values as they are, no
-- multiplication per row) or -1 (old rows). Callers may append a WHERE clause.
CREATE FUNCTION bravo._bravo_rollup_rows(tab text, transition text, sign integer)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT format('SELECT media_buy_id, date, %s, %s::integer FROM %s',
              (SELECT string_agg(CASE sign WHEN 1 THEN format('%I::%s', c.name, c.type)
                                           ELSE format('(%s * %I)::%s', sign, c.name, c.type) END,
                                 ', ' ORDER BY c.ord)
                 FROM bravo._bravo_rollup_columns() c WHERE c.name = ANY (l.measures)),
              sign, transition)
  FROM bravo._bravo_rollup_layout() l
 WHERE l.metric_table = tab
$fn$;

-- The rollup columns metric table `tab` feeds, in _bravo_rollup_columns order.
CREATE FUNCTION bravo._bravo_rollup_own_columns(tab text)
RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT array_agg(c.name ORDER BY c.ord)
  FROM bravo._bravo_rollup_layout() l, bravo._bravo_rollup_columns() c
 WHERE l.metric_table = tab AND (c.name = ANY (l.measures) OR c.name = l.counter)
$fn$;

-- True when every metric table has a foreign key (checked at once, not deferred) to
-- media_buys: then no metric row can be written for a buy another transaction is
-- still inserting or deleting.
CREATE FUNCTION bravo._bravo_rollup_buys_referenced()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT count(DISTINCT k.conrelid) = (SELECT count(*) FROM bravo._bravo_rollup_tables())
  FROM pg_constraint k
 WHERE k.contype = 'f' AND NOT k.condeferrable
   AND k.confrelid = bravo._bravo_media_table('media_buys')
   AND k.conrelid IN (SELECT t.rel FROM bravo._bravo_rollup_tables() t)
$fn$;

-- The two statements that apply the rows of `src` (media_buy_id, date, then metric
-- table `tab`'s own rollup columns) to the campaign rollup (campaign read from
-- `buys`) and to the media buy rollup, in that order; each returns the keys it left
-- empty (for _bravo_rollup_prune). The caller EXECUTEs them (a trigger's transition
-- tables are visible to its own queries only).
CREATE FUNCTION bravo._bravo_rollup_apply_sql(tab text, src text, buys regclass)
RETURNS text[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    own   text[] := bravo._bravo_rollup_own_columns(tab);
    cols  text := array_to_string(ARRAY(SELECT quote_ident(c) FROM unnest(own) c), ', ');
    xcols text := array_to_string(ARRAY(SELECT 'x.' || quote_ident(c) FROM unnest(own) c), ', ');
BEGIN
    RETURN ARRAY[
        bravo._bravo_rollup_sql('bravo_campaign_rollup', format(
            'SELECT m.campaign_id, x.date, %s FROM (%s) x (media_buy_id, date, %s) '
            'JOIN %s m ON m.id = x.media_buy_id', xcols, src, cols, buys), own),
        bravo._bravo_rollup_sql('bravo_media_buy_rollup', format(
            'SELECT x.media_buy_id, bravo._bravo_month(x.date), %s '
            'FROM (%s) x (media_buy_id, date, %s)', xcols, src, cols), own)];
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_rollup_apply_sql(text, text, regclass) FROM PUBLIC;

-- media_buys as a table, for the rollups: they read each buy's campaign with the
-- extension owner's rights, and a view there would run its owner's code with them.
CREATE FUNCTION bravo._bravo_rollup_buys()
RETURNS regclass
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    buys regclass := bravo._bravo_media_table('media_buys');
BEGIN
    IF buys IS NULL THEN
        RAISE EXCEPTION 'media_buys is not a table in schema %', bravo._bravo_media_schema()
            USING ERRCODE = 'wrong_object_type',
                  HINT = 'The reporting rollups read the campaign of each media buy from the table media_buys; restore it as a table (not a view), or point bravo_metrics.media_tool_schema at the schema that has it.';
    END IF;
    RETURN buys;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_rollup_buys() FROM PUBLIC;

-- Deferred rollup maintenance (since 0.4.0). A sync writes a metric table in many
-- statements; applying each statement's delta to the rollups upserts the same
-- campaign days again and again. During a sync, the metric trigger instead appends
-- the delta rows to this session's temporary table pg_temp.bravo_rollup_pending_<oid
-- of the metric table>, and _bravo_rollup_flush applies them once, before the sync
-- returns. The table exists only between the two calls, in the sync's (sub)transaction:
-- an error rolls its creation back with everything else. It belongs to the
-- extension's owner, so no other role can put a trigger on it (it is written with the
-- owner's rights); a table of that name that another role made is refused.
--
--
-- A first load counts its own rows instead (since 0.4.0): when the window of a daily
-- metric table holds no row yet, the sync's new rows there are not copied into the
-- pending table; the flush reads them from the table itself, as the rows of the window
-- whose xmin is the sync's (sub)transaction. pg_temp.bravo_rollup_counted_<oid> marks
-- this and holds the window's first day (`since`). This holds only because nothing
-- but the sync writes those rows in its (sub)transaction, each at most once, and
-- none of them was counted before: the window was empty, and the table has no
-- trigger or rule but the extension's own (_bravo_rollup_defer checks both).
--
-- This session's temporary table `name` of a sync, or NULL; one that another role
-- made is refused.
CREATE FUNCTION bravo._bravo_rollup_temp(name text)
RETURNS regclass
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    found regclass := to_regclass(format('pg_temp.%I', name));
BEGIN
    IF found IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
         WHERE c.oid = found AND r.rolname = current_user AND c.relkind = 'r' AND NOT c.relhastriggers
           AND NOT c.relhasrules AND NOT c.relrowsecurity) THEN
        RAISE EXCEPTION 'the temporary table % was not made by bravo_metrics', found
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('Drop it (DROP TABLE pg_temp.%I): bravo_metrics keeps a sync''s rollup bookkeeping under that name.', name);
    END IF;
    RETURN found;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_rollup_temp(text) FROM PUBLIC;

-- The pending table of metric table `rel` in this session, or NULL.
CREATE FUNCTION bravo._bravo_rollup_pending(rel regclass)
RETURNS regclass
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
RETURN bravo._bravo_rollup_temp('bravo_rollup_pending_' || rel::oid);
REVOKE ALL ON FUNCTION bravo._bravo_rollup_pending(regclass) FROM PUBLIC;

-- The first day from which this session's sync counts its own new rows of metric
-- table `rel` at the flush, or NULL (every delta goes through the pending table).
CREATE FUNCTION bravo._bravo_rollup_counted(rel regclass)
RETURNS date
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    marker regclass := bravo._bravo_rollup_temp('bravo_rollup_counted_' || rel::oid);
    since  date;
BEGIN
    IF marker IS NOT NULL THEN
        EXECUTE format('SELECT since FROM %s', marker) INTO since;
    END IF;
    RETURN since;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_rollup_counted(regclass) FROM PUBLIC;

-- Starts deferring the rollup maintenance of metric table `rel` in this transaction;
-- false (nothing to defer) for a table the rollups do not read (a family of the
-- user's own). `since`, the window's first day of a daily table (NULL otherwise, and
-- for a sync of some media buys only), lets a first load count its own rows (above).
CREATE FUNCTION bravo._bravo_rollup_defer(rel regclass, since date)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tab   text;
    cols  text;
    daily boolean;
    empty boolean;
BEGIN
    -- The distributed layout has no rollup (citus/layout.sql).
    IF bravo._bravo_distributed() THEN
        RETURN false;
    END IF;
    SELECT t.metric_table, format('date date, %s', (
               SELECT string_agg(format('%I %s', c.name, c.type), ', ' ORDER BY c.ord)
                 FROM bravo._bravo_rollup_columns() c
                WHERE c.name = ANY (bravo._bravo_rollup_own_columns(t.metric_table))))
      INTO tab, cols
      FROM bravo._bravo_rollup_tables() t WHERE t.rel = _bravo_rollup_defer.rel;
    daily := tab IS NOT NULL;
    IF tab IS NULL THEN
        -- An hourly table feeds the hourly rollup (hourly.sql).
        SELECT t.metric_table, format('hour_start timestamptz, %s', (
                   SELECT string_agg(format('%I %s', c.name, c.type), ', ')
                     FROM bravo._bravo_hourly_columns(t.metric_table) c))
          INTO tab, cols
          FROM bravo._bravo_hourly_tables() t WHERE t.rel = _bravo_rollup_defer.rel;
    END IF;
    IF tab IS NULL THEN
        RETURN false;
    END IF;
    IF bravo._bravo_rollup_pending(rel) IS NOT NULL
       OR bravo._bravo_rollup_temp('bravo_rollup_counted_' || rel::oid) IS NOT NULL THEN
        RAISE EXCEPTION 'the rollup maintenance of % is deferred already', rel
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    EXECUTE format('CREATE TEMPORARY TABLE %I (media_buy_id %s, %s) ON COMMIT DROP',
                   'bravo_rollup_pending_' || rel::oid, bravo._bravo_media_buy_id_type(), cols);
    -- Nothing but the extension's triggers (and the foreign keys' internal ones) on the
    -- table or its partitions (pg_partition_tree lists nothing for a plain table): no
    -- other code writes it within the sync's statements.
    IF daily AND since IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pg_trigger g
                        WHERE (g.tgrelid = rel OR g.tgrelid IN (SELECT p.relid FROM pg_partition_tree(rel) p))
                          AND NOT g.tgisinternal
                          AND g.tgfoid <> 'bravo._bravo_rollup_metric_trigger()'::regprocedure)
       AND NOT EXISTS (SELECT 1 FROM pg_class c
                        WHERE (c.oid = rel OR c.oid IN (SELECT p.relid FROM pg_partition_tree(rel) p))
                          AND c.relhasrules) THEN
        -- The caller has an index on date: this is one probe.
        EXECUTE format('SELECT NOT EXISTS (SELECT 1 FROM %s WHERE date >= $1)', rel) USING since INTO empty;
        IF empty THEN
            EXECUTE format('CREATE TEMPORARY TABLE %I ON COMMIT DROP AS SELECT %L::date AS since',
                           'bravo_rollup_counted_' || rel::oid, since);
            RAISE DEBUG 'bravo_metrics: % is a first load from %: its rows are counted at the flush', rel, since;
        END IF;
    END IF;
    RETURN true;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_rollup_defer(regclass, date) FROM PUBLIC;

-- Applies the rows deferred for metric table `rel` to both rollups and ends the
-- deferral. A first load's own new rows (above) are the rows of the window whose xmin
-- is `writer`, the transaction id the sync wrote them with (NULL: it wrote nothing).
CREATE FUNCTION bravo._bravo_rollup_flush(rel regclass, writer xid)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    pending regclass := bravo._bravo_rollup_pending(rel);
    since   date := bravo._bravo_rollup_counted(rel);
    tab     text;
    src     text;
    counted text;
    buys    regclass;
    q       text[];
    deltas  boolean;
    ids     text[];
    dates   date[];
BEGIN
    IF pending IS NULL THEN
        RETURN;
    END IF;
    SELECT t.metric_table INTO tab FROM bravo._bravo_rollup_tables() t WHERE t.rel = _bravo_rollup_flush.rel;
    src := format('SELECT * FROM %s', pending);
    EXECUTE format('SELECT EXISTS (%s)', src) INTO deltas;
    IF since IS NOT NULL AND writer IS NOT NULL THEN
        -- The sync's own rows of the window. The planner estimates an xid equality
        -- at 0.5 % of the rows, and then sorts the campaign rollup's input (a first
        -- load: every row of the window, spilled to disk) where hashing a few
        -- thousand groups is faster; a boolean CASE it estimates at half the rows.
        -- Read alone when nothing else is pending: a UNION ALL with the empty pending
        -- table would hide the metric table's statistics from the planner.
        counted := bravo._bravo_rollup_rows(tab, rel::text, 1)
            || format(' WHERE date >= %L::date AND CASE WHEN xmin = %L::xid THEN true END', since, writer);
        src := CASE WHEN deltas THEN src || ' UNION ALL ' || counted ELSE counted END;
        deltas := true;
    END IF;
    IF deltas AND tab IS NULL THEN
        -- An hourly table.
        SELECT t.metric_table INTO tab FROM bravo._bravo_hourly_tables() t WHERE t.rel = _bravo_rollup_flush.rel;
        PERFORM bravo._bravo_hourly_apply(tab, src);
    ELSIF deltas THEN
        buys := bravo._bravo_rollup_buys();
        -- The campaign is read after this lock, as in the trigger.
        PERFORM pg_advisory_xact_lock_shared(1651663222, 1919904876);   -- 'brav', 'roll'
        q := bravo._bravo_rollup_apply_sql(tab, src, buys);
        EXECUTE q[1] INTO ids, dates;
        PERFORM bravo._bravo_rollup_prune('bravo_campaign_rollup', ids, dates);
        EXECUTE q[2] INTO ids, dates;
        PERFORM bravo._bravo_rollup_prune('bravo_media_buy_rollup', ids, dates);
    END IF;
    EXECUTE format('DROP TABLE %s', pending);
    IF since IS NOT NULL THEN
        EXECUTE format('DROP TABLE %s', bravo._bravo_rollup_temp('bravo_rollup_counted_' || rel::oid));
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_rollup_flush(regclass, xid) FROM PUBLIC;

CREATE FUNCTION bravo._bravo_rollup_metric_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tab     text;
    src     text;
    pending regclass;
    since   date;
    q       text[];
    ids     text[];
    dates   date[];
BEGIN
    -- Only the real metric tables: attached anywhere else (a temp table of the same
    -- name, say) this would add rows nobody synced to every campaign report.
    SELECT t.metric_table INTO tab FROM bravo._bravo_rollup_tables() t WHERE t.rel = TG_RELID;
    IF tab IS NULL THEN
        RAISE EXCEPTION 'bravo_metrics rollup trigger refuses to run on %', TG_RELID::pg_catalog.regclass
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'This trigger function keeps the reporting rollups; it belongs on the metric tables only.';
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM @extschema@.bravo_report_rebuild();
        RETURN NULL;
    END IF;
    -- A sync in progress applies the deltas once at its end (_bravo_rollup_flush). A
    -- first load counts its new rows of the window there: only the others (and every
    -- old row) are kept in the pending table.
    pending := bravo._bravo_rollup_pending(TG_RELID);
    IF pending IS NOT NULL THEN
        since := bravo._bravo_rollup_counted(TG_RELID);
    END IF;
    src := CASE TG_OP
        WHEN 'DELETE' THEN bravo._bravo_rollup_rows(tab, 'old_rows', -1)
        ELSE bravo._bravo_rollup_rows(tab, 'new_rows', 1)
          || CASE WHEN since IS NOT NULL THEN format(' WHERE date < %L::date', since) ELSE '' END
          || CASE TG_OP WHEN 'UPDATE' THEN ' UNION ALL ' || bravo._bravo_rollup_rows(tab, 'old_rows', -1)
                        ELSE '' END
        END;
    IF pending IS NOT NULL THEN
        EXECUTE format('INSERT INTO %s %s', pending, src);
        RETURN NULL;
    END IF;
    -- Only this table's own rollup columns travel (the others are left as they are).
    q := bravo._bravo_rollup_apply_sql(tab, src, bravo._bravo_rollup_buys());
    -- Waits for a campaign move in flight and makes moves wait for this transaction
    -- (see _bravo_rollup_buy_trigger); the campaign is then read with a fresh snapshot.
    PERFORM pg_advisory_xact_lock_shared(1651663222, 1919904876);   -- 'brav', 'roll'
    EXECUTE q[1] INTO ids, dates;
    PERFORM bravo._bravo_rollup_prune('bravo_campaign_rollup', ids, dates);
    EXECUTE q[2] INTO ids, dates;
    PERFORM bravo._bravo_rollup_prune('bravo_media_buy_rollup', ids, dates);
    RETURN NULL;
END
$fn$;

-- media_buys: moves the metric rows of every buy whose (id, campaign_id) changed.
CREATE FUNCTION bravo._bravo_rollup_buy_trigger()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    gone  text;   -- (id, campaign_id) to subtract
    came  text;   -- (id, campaign_id) to add
    moved boolean;
    parts text[] := '{}';
    t     record;
    cids  text[];
    dates date[];
    hours timestamptz[];
    q     text;
BEGIN
    IF TG_RELID IS DISTINCT FROM bravo._bravo_media_table('media_buys') THEN
        RAISE EXCEPTION 'bravo_metrics rollup trigger refuses to run on %', TG_RELID::pg_catalog.regclass
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'This trigger function keeps the reporting rollups; it belongs on media_buys only.';
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM bravo._bravo_rollup_rebuild('bravo_campaign_rollup');
        PERFORM bravo._bravo_hourly_rebuild();
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
    IF TG_OP = 'UPDATE' OR NOT bravo._bravo_rollup_buys_referenced() THEN
        PERFORM pg_advisory_xact_lock(1651663222, 1919904876);   -- 'brav', 'roll'
    END IF;
    FOR t IN SELECT * FROM bravo._bravo_rollup_tables() LOOP
        IF gone IS NOT NULL THEN
            parts := parts || format(
                'SELECT b.campaign_id, p.date, %s FROM (%s) b JOIN %s p ON p.media_buy_id = b.id',
                bravo._bravo_rollup_values(t.metric_table, 'p.', -1), gone, t.rel);
        END IF;
        IF came IS NOT NULL THEN
            parts := parts || format(
                'SELECT b.campaign_id, p.date, %s FROM (%s) b JOIN %s p ON p.media_buy_id = b.id',
                bravo._bravo_rollup_values(t.metric_table, 'p.', 1), came, t.rel);
        END IF;
    END LOOP;
    EXECUTE bravo._bravo_rollup_sql('bravo_campaign_rollup', array_to_string(parts, ' UNION ALL '),
                                          ARRAY(SELECT c.name FROM bravo._bravo_rollup_columns() c ORDER BY c.ord))
       INTO cids, dates;
    PERFORM bravo._bravo_rollup_prune('bravo_campaign_rollup', cids, dates);
    -- And their hours (hourly.sql).
    FOREACH q IN ARRAY bravo._bravo_hourly_move_sql(gone, came) LOOP
        EXECUTE q INTO cids, hours;
        PERFORM bravo._bravo_hourly_prune(cids, hours);
    END LOOP;
    RETURN NULL;
END
$fn$;

-- Rebuilds one rollup from the metric tables. Blocks writers of media_buys and the
-- metric tables (not readers) while it runs. Returns the number of rows of that rollup.
CREATE FUNCTION bravo._bravo_rollup_rebuild(rollup text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    n      bigint;
    tabs   text;
    parts  text;
    campaign boolean := rollup = 'bravo_campaign_rollup';
    keytype  text;
    buys     regclass := bravo._bravo_media_table('media_buys');
BEGIN
    -- The distributed layout reads the metric tables instead (citus/layout.sql).
    IF bravo._bravo_distributed() THEN
        EXECUTE format('DELETE FROM bravo.%I', rollup);
        RETURN 0;
    END IF;
    -- The rollup is keyed like media_buys (id, or campaign_id): whatever type the media
    -- tool gave them (since 0.4.0). Created as bigint; retyped (while empty) when the
    -- media tool's type differs, e.g. after a restore recreated a uuid media_buys.
    SELECT format_type(a.atttypid, a.atttypmod) INTO keytype
      FROM pg_attribute a
     WHERE a.attrelid = buys
       AND a.attname = CASE WHEN campaign THEN 'campaign_id' ELSE 'id' END;
    SELECT string_agg(t.rel::text, ', '),
           string_agg(format(
               CASE WHEN campaign
                    THEN 'SELECT m.campaign_id, p.date, %1$s FROM %2$s p '
                         'JOIN %3$s m ON m.id = p.media_buy_id WHERE m.campaign_id IS NOT NULL'
                    ELSE 'SELECT p.media_buy_id, bravo._bravo_month(p.date), %1$s FROM %2$s p' END,
               bravo._bravo_rollup_values(t.metric_table, 'p.', 1), t.rel, buys), ' UNION ALL ')
      INTO tabs, parts
      FROM bravo._bravo_rollup_tables() t;
    EXECUTE format('LOCK TABLE %s, %s IN SHARE MODE', buys, tabs);
    EXECUTE format('LOCK TABLE bravo.%I IN EXCLUSIVE MODE', rollup);
    EXECUTE format('DELETE FROM bravo.%I', rollup);
    IF keytype IS DISTINCT FROM bravo._bravo_rollup_key_type(rollup) THEN
        EXECUTE format('ALTER TABLE bravo.%I ALTER COLUMN %I TYPE %s USING NULL',
                       rollup, CASE WHEN campaign THEN 'campaign_id' ELSE 'media_buy_id' END, keytype);
    END IF;
    EXECUTE format(
        'INSERT INTO bravo.%1$I (%2$I, %3$I, %4$s) '
        'SELECT k, d, %5$s FROM (%6$s) x (k, d, %4$s) GROUP BY k, d ORDER BY k, d',
        rollup,
        CASE WHEN campaign THEN 'campaign_id' ELSE 'media_buy_id' END,
        CASE WHEN campaign THEN 'date' ELSE 'month' END,
        bravo._bravo_rollup_list('%1$I', ', '),
        bravo._bravo_rollup_list('sum(%1$I)::%2$s', ', '),
        parts);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_rollup_rebuild(text) FROM PUBLIC;

-- Rebuilds the rollups (both daily ones and the hourly one) from the metric tables.
-- Returns the number of rollup rows (all together).
CREATE FUNCTION @extschema@.bravo_report_rebuild()
RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT bravo._bravo_rollup_rebuild('bravo_campaign_rollup')
         + bravo._bravo_rollup_rebuild('bravo_media_buy_rollup')
         + bravo._bravo_hourly_rebuild()
$fn$;
REVOKE ALL ON FUNCTION @extschema@.bravo_report_rebuild() FROM PUBLIC;

-- The comment of a rollup trigger (\dx+ bravo_metrics lists them: they are members).
CREATE FUNCTION bravo._bravo_rollup_trigger_comment(op text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT pg_catalog.format('bravo_metrics: after each %s statement on this table, applies its rows to the reporting rollups (or, during a sync, queues them until the sync''s end). Created by bravo_report_attach(); DROP EXTENSION removes it and leaves the table alone.', op)
$fn$;
COMMENT ON FUNCTION bravo._bravo_rollup_trigger_comment(text) IS
  'Internal: the comment each rollup trigger carries, for its operation (INSERT, UPDATE, DELETE, TRUNCATE).';
REVOKE ALL ON FUNCTION bravo._bravo_rollup_trigger_comment(text) FROM PUBLIC;

-- Attaches the rollup triggers (four per table) to media_buys and every metric table
-- there is, where missing, and records them as extension members. Returns the number
-- of triggers created.
CREATE FUNCTION bravo._bravo_report_attach_triggers()
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    tab  regclass;
    fn   text;
    ev   record;
    old  record;
    made integer := 0;
BEGIN
    -- Citus refuses triggers on its tables: the distributed layout has no rollup
    -- (citus/layout.sql), and a worker node's tables are not the media tool's.
    IF bravo._bravo_distributed() OR bravo._bravo_citus_node() = 'worker' THEN
        RETURN 0;
    END IF;
    PERFORM set_config('bravo_metrics.report_attaching', 'on', true);
    -- Triggers left on tables that are no longer the media tool's (the tables moved to
    -- another schema, and bravo_metrics.media_tool_schema with them) go.
    FOR old IN SELECT t.oid, t.tgname, t.tgrelid FROM pg_trigger t
                 JOIN pg_depend d ON d.classid = 'pg_trigger'::regclass AND d.objid = t.oid AND d.deptype = 'e'
                 JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'bravo_metrics'
                WHERE t.tgrelid IS DISTINCT FROM bravo._bravo_media_table('media_buys')
                  AND t.tgrelid NOT IN (SELECT r.rel FROM bravo._bravo_rollup_tables() r
                                        UNION ALL SELECT h.rel FROM bravo._bravo_hourly_tables() h) LOOP
        DELETE FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass AND d.objid = old.oid AND d.deptype = 'e';
        EXECUTE format('DROP TRIGGER %I ON %s', old.tgname, old.tgrelid::regclass);
    END LOOP;
    FOR tab, fn IN SELECT bravo._bravo_media_table('media_buys'), '_bravo_rollup_buy_trigger'
                   UNION ALL
                   SELECT t.rel, '_bravo_rollup_metric_trigger' FROM bravo._bravo_rollup_tables() t
                   UNION ALL
                   SELECT h.rel, '_bravo_hourly_metric_trigger' FROM bravo._bravo_hourly_tables() h LOOP
        FOR ev IN SELECT * FROM (VALUES
                ('bravo_rollup_ins', 'INSERT', 'REFERENCING NEW TABLE AS new_rows'),
                ('bravo_rollup_upd', 'UPDATE', 'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'),
                ('bravo_rollup_del', 'DELETE', 'REFERENCING OLD TABLE AS old_rows'),
                ('bravo_rollup_trunc', 'TRUNCATE', '')) e (name, op, ref) LOOP
            IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = tab AND tgname = ev.name) THEN
                EXECUTE format('CREATE TRIGGER %I AFTER %s ON %s %s FOR EACH STATEMENT '
                               'EXECUTE FUNCTION bravo.%I()', ev.name, ev.op, tab, ev.ref, fn);
                made := made + 1;
            END IF;
            EXECUTE format('COMMENT ON TRIGGER %I ON %s IS %L', ev.name, tab,
                           bravo._bravo_rollup_trigger_comment(ev.op));
        END LOOP;
    END LOOP;
    -- The triggers sit on tables that are not extension members, so PostgreSQL would
    -- record them only as dependents of the trigger functions, and DROP EXTENSION
    -- would refuse to run. Recording them as members (what CREATE EXTENSION does for
    -- the objects it creates; ALTER EXTENSION ADD has no form for triggers) makes
    -- DROP EXTENSION remove exactly them and leave the tables and rows alone.
    INSERT INTO pg_depend (classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype)
    SELECT 'pg_trigger'::regclass, t.oid, 0, 'pg_extension'::regclass, e.oid, 0, 'e'
      FROM pg_trigger t, pg_extension e
     WHERE e.extname = 'bravo_metrics'
       AND t.tgname IN ('bravo_rollup_ins', 'bravo_rollup_upd', 'bravo_rollup_del', 'bravo_rollup_trunc')
       AND (t.tgrelid = bravo._bravo_media_table('media_buys')
            OR t.tgrelid IN (SELECT r.rel FROM bravo._bravo_rollup_tables() r
                             UNION ALL SELECT h.rel FROM bravo._bravo_hourly_tables() h))
       AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass
                          AND d.objid = t.oid AND d.deptype = 'e');
    PERFORM set_config('bravo_metrics.report_attaching', 'off', true);
    RETURN made;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_report_attach_triggers() FROM PUBLIC;

-- Attaches the rollup to the media tool's tables (in bravo_metrics.media_tool_schema,
-- else the extension's schema): the campaign index on media_buys if it has none, the
-- triggers if missing (_bravo_report_attach_triggers, which also removes them from
-- tables that are no longer the media tool's), the reports for those tables, the
-- grants of roles granted reporting on them, and a rebuild. Idempotent. Run by CREATE EXTENSION when the tables exist; after a
-- pg_restore (where CREATE EXTENSION runs before the dump recreates the tables) the
-- event trigger below runs it once the dump has recreated the last trigger, after
-- the data is loaded. Returns the number of rollup rows.
CREATE FUNCTION @extschema@.bravo_report_attach()
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    r regrole;
BEGIN
    IF bravo._bravo_media_table('media_buys') IS NULL
       OR bravo._bravo_media_table('platform_buy_daily_impressions') IS NULL
       OR bravo._bravo_media_table('platform_buy_daily_videos') IS NULL THEN
        RAISE EXCEPTION 'the media tool''s tables are not all there yet'
            USING ERRCODE = 'undefined_table',
                  DETAIL = format('Looked in schema %s (bravo_metrics.media_tool_schema, else the extension''s schema).',
                                  bravo._bravo_media_schema()),
                  HINT = 'Create media_buys, platform_buy_daily_impressions and platform_buy_daily_videos first, or point bravo_metrics.media_tool_schema at their schema.';
    END IF;
    IF NOT EXISTS (
        SELECT 1 FROM pg_index i JOIN pg_attribute a
            ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] AND a.attname = 'campaign_id'
         WHERE i.indrelid = bravo._bravo_media_table('media_buys')) THEN
        EXECUTE format('CREATE INDEX media_buys_campaign_id_idx ON %s (campaign_id, id)',
                       bravo._bravo_media_table('media_buys'));
    END IF;
    PERFORM bravo._bravo_report_attach_triggers();
    -- The reports read the media tool's tables where they are now, and take
    -- media_buys' id types (report.sql; not there yet while CREATE EXTENSION runs this
    -- file, which then creates them for the tables' schema and types).
    IF to_regprocedure('bravo._bravo_report_retype()') IS NOT NULL THEN
        PERFORM bravo._bravo_report_bodies(bravo._bravo_media_schema());
        PERFORM bravo._bravo_report_retype();
    END IF;
    -- Roles granted reporting read the tables where they are now.
    IF to_regprocedure('bravo._bravo_reporting_acl(regrole, boolean)') IS NOT NULL THEN
        FOR r IN SELECT DISTINCT a.grantee::regrole
                   FROM pg_proc p CROSS JOIN LATERAL aclexplode(p.proacl) a
                  WHERE p.pronamespace = '@extschema@'::regnamespace AND p.proname = 'bravo_campaign_totals'
                    AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner AND a.grantee <> 0 LOOP
            PERFORM bravo._bravo_reporting_acl(r, false);
        END LOOP;
    END IF;
    RETURN @extschema@.bravo_report_rebuild();
END
$fn$;
REVOKE ALL ON FUNCTION @extschema@.bravo_report_attach() FROM PUBLIC;

-- Rows already in the tables (a media_tool database filled by the legacy job). During
-- a restore the tables do not exist yet: the event trigger below attaches later.
-- (Not on a Citus worker node, whose tables are shards and shells: citus/node.sql.)
DO $bravo$
BEGIN
    IF bravo._bravo_media_table('media_buys') IS NOT NULL
       AND bravo._bravo_media_table('platform_buy_daily_impressions') IS NOT NULL
       AND bravo._bravo_media_table('platform_buy_daily_videos') IS NOT NULL
       AND bravo._bravo_citus_node() <> 'worker' THEN
        PERFORM @extschema@.bravo_report_attach();
    END IF;
END
$bravo$;

-- pg_dump dumps the triggers with the tables (post-data, after the rows are loaded);
-- when a restore has recreated all of them (four on media_buys and on each metric
-- table there is), attach (membership + rebuild).
CREATE FUNCTION bravo._bravo_report_on_create_trigger()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF coalesce(current_setting('bravo_metrics.report_attaching', true), 'off') = 'on' THEN
        RETURN;
    END IF;
    -- Any role's CREATE TRIGGER fires this: look no further (and call none of the
    -- extension's functions, which only superusers may) unless it made a rollup trigger.
    IF NOT EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() c JOIN pg_trigger t ON t.oid = c.objid
                    WHERE c.classid = 'pg_trigger'::regclass AND t.tgname LIKE 'bravo\_rollup\_%') THEN
        RETURN;
    END IF;
    IF bravo._bravo_media_table('media_buys') IS NOT NULL
       AND bravo._bravo_media_table('platform_buy_daily_impressions') IS NOT NULL
       AND bravo._bravo_media_table('platform_buy_daily_videos') IS NOT NULL
       AND (SELECT count(*) FROM pg_trigger t
             WHERE t.tgname IN ('bravo_rollup_ins', 'bravo_rollup_upd', 'bravo_rollup_del', 'bravo_rollup_trunc')
               AND (t.tgrelid = bravo._bravo_media_table('media_buys')
                    OR t.tgrelid IN (SELECT r.rel FROM bravo._bravo_rollup_tables() r
                                     UNION ALL SELECT h.rel FROM bravo._bravo_hourly_tables() h)))
           = 4 * (1 + (SELECT count(*) FROM bravo._bravo_rollup_tables())
                    + (SELECT count(*) FROM bravo._bravo_hourly_tables())) THEN
        PERFORM @extschema@.bravo_report_attach();
    END IF;
END
$fn$;
CREATE EVENT TRIGGER bravo_report_restore ON ddl_command_end WHEN TAG IN ('CREATE TRIGGER')
    EXECUTE FUNCTION bravo._bravo_report_on_create_trigger();
