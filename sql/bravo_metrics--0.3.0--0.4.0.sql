-- bravo_metrics 0.3.0 -> 0.4.0: metric families as data, ids of any type, and the
-- extension's own schema. No data change: the metric tables and every existing row
-- stay as they are.
--
-- * schema bravo (a member, like pg_cron's cron) takes everything internal: the run
--   log, the set-aside rows and the rollups move there with their rows (ALTER ...
--   SET SCHEMA), and so do the _bravo_* helpers; views of the same names in the
--   extension's schema keep `SELECT * FROM bravo_sync_runs` (and the others) working;
-- * the media tool's tables may live in another schema (bravo_metrics.media_tool_schema):
--   the report bodies are generated for it (_bravo_report_bodies), and the rollup,
--   family and grant functions find the tables through bravo._bravo_media_schema();
-- * bravo_families / bravo_family_metrics: the catalog of metric families bravo_sync
--   fills (impressions and videos as before, required; conversions and viewability
--   shipped disabled), with bravo_enable_family() / bravo_disable_family();
-- * bravo_sync_run_targets gains status ('synced' or 'missing_source') and message;
-- * the rollups gain the conversions and viewability columns (0 until those families'
--   tables exist), and their trigger functions are generated from one layout
--   (_bravo_rollup_layout) instead of naming two tables;
-- * bravo_campaign_totals, bravo_campaigns_totals, bravo_campaign_daily and
--   bravo_media_buy_totals gain the new measures as columns after the existing ones
--   (existing columns unchanged);
--   bravo_schedule_status() gains missing_sources (and says so in hint).
--   A function's result columns cannot change in place: they are dropped and created
--   again with the privileges they had; a view built on one of them stops the update
--   with the list of such views (drop them, update, create them again);
-- * the progress view names the family being synced from the catalog.

-- The extension's own schema (see schema.sql). Refused if a schema of that name
-- exists already: the update changes nothing then.
DO $bravo$
BEGIN
    IF to_regnamespace('bravo') IS NOT NULL THEN
        RAISE EXCEPTION 'schema "bravo" already exists'
            USING ERRCODE = 'duplicate_schema',
                  DETAIL = 'bravo_metrics 0.4.0 keeps its internal functions and tables in a schema of its own named bravo.',
                  HINT = 'Rename the existing schema bravo (ALTER SCHEMA bravo RENAME TO ...), then run ALTER EXTENSION bravo_metrics UPDATE again.';
    END IF;
END
$bravo$;
CREATE SCHEMA bravo;
REVOKE ALL ON SCHEMA bravo FROM PUBLIC;

-- Citus: which node this is and whether the tables are distributed (citus/node.sql),
-- and the report bodies' hook for the distributed layout (citus/layout.sql): the
-- rollup and report functions below call them.
-- Which node this is: 'none' (Citus is not installed in this database),
-- 'coordinator', or 'worker' (a node whose Citus metadata names another group).
CREATE FUNCTION bravo._bravo_citus_node()
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    grp integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')
       OR to_regclass('pg_catalog.pg_dist_local_group') IS NULL THEN
        RETURN 'none';
    END IF;
    EXECUTE 'SELECT groupid FROM pg_catalog.pg_dist_local_group' INTO grp;
    RETURN CASE WHEN coalesce(grp, 0) = 0 THEN 'coordinator' ELSE 'worker' END;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_citus_node() FROM PUBLIC;

-- True when the media tool's tables are in the distributed layout: Citus knows
-- media_buys (bravo_distribute() made it a reference table).
CREATE FUNCTION bravo._bravo_distributed()
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    buys regclass;
    found boolean;
BEGIN
    IF bravo._bravo_citus_node() = 'none' THEN
        RETURN false;
    END IF;
    buys := bravo._bravo_media_table('media_buys');
    IF buys IS NULL THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1)'
       INTO found USING buys;
    RETURN found;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_distributed() FROM PUBLIC;

-- Refuses to sync on a Citus worker node (its tables are shards and shells; the
-- coordinator syncs).
CREATE FUNCTION bravo._bravo_check_not_worker()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF bravo._bravo_citus_node() = 'worker' THEN
        RAISE EXCEPTION 'this is a Citus worker node'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'In the distributed layout the coordinator runs bravo_sync, the scheduler and the run log; a worker holds shards.',
                  HINT = 'Connect to the coordinator and run it there.';
    END IF;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_check_not_worker() FROM PUBLIC;


-- A report body (report.sql) for the layout in place: in the distributed layout its
-- rollup reads become the functions above. `body` is one CREATE FUNCTION statement.
CREATE FUNCTION bravo._bravo_report_direct(body text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF NOT bravo._bravo_distributed() THEN
        RETURN body;
    END IF;
    -- Citus cannot plan a SQL function's parameterized query on its tables (media_buys
    -- is one): the body runs as the same query in PL/pgSQL, whose parameters Citus
    -- sees bound. Columns win over the result columns' names, as in SQL.
    RETURN replace(replace(replace(replace(body,
        'FROM bravo.bravo_campaign_rollup r', 'FROM bravo._bravo_campaign_rows_of(c.id) r'),
        'FROM bravo.bravo_campaign_hourly_rollup r', 'FROM bravo._bravo_campaign_hours_of(c.id) r'),
        E'LANGUAGE sql STABLE PARALLEL SAFE\nAS $$\n',
        E'LANGUAGE plpgsql STABLE PARALLEL SAFE\nAS $$\n#variable_conflict use_column\nBEGIN\nRETURN QUERY\n'),
        E'\n$$;\n', E';\nEND\n$$;\n');
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_report_direct(text) FROM PUBLIC;

-- Internal tables move with their rows, sequences, indexes, privileges and
-- pg_dump registration; internal functions move with their oids, so the rollup
-- triggers and the event trigger keep pointing at them (their bodies are replaced
-- below).
ALTER TABLE @extschema@.bravo_sync_runs SET SCHEMA bravo;
ALTER TABLE @extschema@.bravo_sync_run_targets SET SCHEMA bravo;
ALTER TABLE @extschema@.bravo_set_aside SET SCHEMA bravo;
ALTER TABLE @extschema@.bravo_campaign_rollup SET SCHEMA bravo;
ALTER TABLE @extschema@.bravo_media_buy_rollup SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_money(numeric) SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_month(date) SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_report_campaign(bigint, date, date) SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_report_days(date, date) SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_report_months_from(date) SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_report_months_until(date) SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_report_on_create_trigger() SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_reporting_acl(regrole, boolean) SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_rollup_buy_trigger() SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_rollup_buys_referenced() SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_rollup_metric_trigger() SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_rollup_prune(text, bigint[], date[]) SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_rollup_rebuild(text) SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_rollup_rows(text, text, integer) SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_rollup_sql(text, text) SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_sweep_interrupted() SET SCHEMA bravo;
ALTER FUNCTION @extschema@.bravo_scheduler_state() SET SCHEMA bravo;

-- The schema of the media tool's tables (media_buys and the metric tables), quoted for
-- SQL: the setting bravo_metrics.media_tool_schema (since 0.4.0), else the schema the
-- extension was installed in. A setting that names no schema is an error here.
CREATE FUNCTION bravo._bravo_media_schema()
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    name text := nullif(btrim(current_setting('bravo_metrics.media_tool_schema', true)), '');
BEGIN
    IF name IS NULL THEN
        RETURN quote_ident(('@extschema@'::regnamespace)::text);
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = name) THEN
        RAISE EXCEPTION 'schema "%" does not exist', name
            USING ERRCODE = 'invalid_schema_name',
                  DETAIL = 'bravo_metrics.media_tool_schema names the schema of the media tool''s tables.',
                  HINT = 'Create the schema, or set bravo_metrics.media_tool_schema to the schema that has media_buys (ALTER DATABASE ... SET).';
    END IF;
    RETURN quote_ident(name);
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_media_schema() FROM PUBLIC;

-- The media tool's table `name` in that schema, NULL when it does not exist.
CREATE FUNCTION bravo._bravo_media_table(name text)
RETURNS regclass
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT c.oid::regclass
  FROM pg_class c
 WHERE c.oid = to_regclass(bravo._bravo_media_schema() || '.' || quote_ident(name))
   AND c.relkind IN ('r', 'p')
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_media_table(text) FROM PUBLIC;

-- media_buys.id's type as SQL, with its collation when it is not the type's default:
-- every metric table's media_buy_id is created with it (since 0.4.0: ids may be
-- bigint, text, uuid, ...; one collation on both sides of the media tool's joins).
CREATE FUNCTION bravo._bravo_media_buy_id_type()
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
               THEN ' COLLATE ' || quote_ident(n.nspname) || '.' || quote_ident(c.collname)
               ELSE '' END
  FROM pg_attribute a
  JOIN pg_type t ON t.oid = a.atttypid
  LEFT JOIN pg_collation c ON c.oid = a.attcollation
  LEFT JOIN pg_namespace n ON n.oid = c.collnamespace
 WHERE a.attrelid = bravo._bravo_media_table('media_buys') AND a.attname = 'id' AND NOT a.attisdropped
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_media_buy_id_type() FROM PUBLIC;

-- Media buy ids of any type (text, uuid): set-aside rows keep the id as text too.
ALTER TABLE bravo.bravo_set_aside ADD COLUMN media_buy_key text;
UPDATE bravo.bravo_set_aside SET media_buy_key = media_buy_id::text WHERE media_buy_id IS NOT NULL;
-- Runs of the daily families (all runs before 0.4.0) or of the hourly ones.
ALTER TABLE bravo.bravo_sync_runs ADD COLUMN grain text NOT NULL DEFAULT 'day' CHECK (grain IN ('day', 'hour'));
-- New triggers: bravo_refresh(campaign) and the intraday refresh (the constraint keeps its name).
ALTER TABLE bravo.bravo_sync_runs DROP CONSTRAINT bravo_sync_runs_trigger_check,
    ADD CONSTRAINT bravo_sync_runs_trigger_check CHECK (trigger IN ('manual', 'schedule', 'retry', 'catch-up', 'run-now', 'refresh', 'intraday'));
-- Hourly families: their rows' hour, and the two reasons only an hour can have.
ALTER TABLE bravo.bravo_set_aside ADD COLUMN hour_start timestamptz;
ALTER TABLE bravo.bravo_set_aside DROP CONSTRAINT bravo_set_aside_reason_check;
ALTER TABLE bravo.bravo_set_aside ADD CONSTRAINT bravo_set_aside_reason_check
    CHECK (reason IN ('null_key', 'negative_count', 'null_value', 'out_of_range', 'duplicate_key', 'unknown_media_buy', 'nonexistent_hour', 'ambiguous_hour'));
CREATE INDEX bravo_set_aside_open_key_idx ON bravo.bravo_set_aside (target, media_buy_key, date) WHERE resolved_at IS NULL;

ALTER TABLE bravo.bravo_sync_run_targets
    ADD COLUMN status text NOT NULL DEFAULT 'synced' CHECK (status IN ('synced', 'missing_source')),
    ADD COLUMN message text;

-- The run log and the set-aside rows as the user reads them, unqualified as before:
-- plain views of the tables in schema bravo, run with the caller's rights.
CREATE VIEW @extschema@.bravo_sync_runs WITH (security_invoker = true) AS
    SELECT * FROM bravo.bravo_sync_runs;
CREATE VIEW @extschema@.bravo_sync_run_targets WITH (security_invoker = true) AS
    SELECT * FROM bravo.bravo_sync_run_targets;
CREATE VIEW @extschema@.bravo_set_aside WITH (security_invoker = true) AS
    SELECT * FROM bravo.bravo_set_aside;
REVOKE ALL ON @extschema@.bravo_sync_runs, @extschema@.bravo_sync_run_targets, @extschema@.bravo_set_aside FROM PUBLIC;

ALTER TABLE bravo.bravo_campaign_rollup
    ADD COLUMN post_click_conversions bigint  NOT NULL DEFAULT 0,
    ADD COLUMN post_view_conversions  bigint  NOT NULL DEFAULT 0,
    ADD COLUMN conversion_value       numeric NOT NULL DEFAULT 0,
    ADD COLUMN eligible_impressions   bigint  NOT NULL DEFAULT 0,
    ADD COLUMN measurable_impressions bigint  NOT NULL DEFAULT 0,
    ADD COLUMN viewable_impressions   bigint  NOT NULL DEFAULT 0,
    ADD COLUMN conversion_rows        integer NOT NULL DEFAULT 0,
    ADD COLUMN viewability_rows       integer NOT NULL DEFAULT 0;
ALTER TABLE bravo.bravo_media_buy_rollup
    ADD COLUMN post_click_conversions bigint  NOT NULL DEFAULT 0,
    ADD COLUMN post_view_conversions  bigint  NOT NULL DEFAULT 0,
    ADD COLUMN conversion_value       numeric NOT NULL DEFAULT 0,
    ADD COLUMN eligible_impressions   bigint  NOT NULL DEFAULT 0,
    ADD COLUMN measurable_impressions bigint  NOT NULL DEFAULT 0,
    ADD COLUMN viewable_impressions   bigint  NOT NULL DEFAULT 0,
    ADD COLUMN conversion_rows        integer NOT NULL DEFAULT 0,
    ADD COLUMN viewability_rows       integer NOT NULL DEFAULT 0;
-- Since 0.4.0 a rollup page keeps 30 % free, so that the update of a rollup row most
-- often stays on its page (a HOT update: no index entry written). Pages written from
-- now on get it (VACUUM FULL bravo.bravo_media_buy_rollup gives it to all its pages).
ALTER TABLE bravo.bravo_campaign_rollup SET (fillfactor = 70);
ALTER TABLE bravo.bravo_media_buy_rollup SET (fillfactor = 70);

-- 0.3.0's _bravo_rollup_sql(rollup, delta_sql) becomes _bravo_rollup_sql(rollup, delta_sql, cols).
DROP FUNCTION bravo._bravo_rollup_sql(text, text);

-- Which metric table feeds which rollup columns, and the column counting its rows
-- (since 0.4.0). The rollups have every family's columns, in this order.
CREATE OR REPLACE FUNCTION bravo._bravo_rollup_layout()
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
CREATE OR REPLACE FUNCTION bravo._bravo_rollup_columns()
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
CREATE OR REPLACE FUNCTION bravo._bravo_rollup_list(fmt text, sep text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
SELECT string_agg(format(fmt, c.name, c.type), sep ORDER BY c.ord)
  FROM bravo._bravo_rollup_columns() c
$fn$;

-- The rollup values of one row of metric table `tab`, read from `prefix`-qualified
-- columns, times `sign`: its measures, 0 for the other families', `sign` for its own
-- row counter, 0 for the others.
CREATE OR REPLACE FUNCTION bravo._bravo_rollup_values(tab text, prefix text, sign integer)
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
CREATE OR REPLACE FUNCTION bravo._bravo_rollup_tables()
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
CREATE OR REPLACE FUNCTION bravo._bravo_rollup_sql(rollup text, delta_sql text, cols text[])
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

-- 0.3.0's _bravo_rollup_prune(rollup, bigint[], date[]) takes the keys as text since 0.4.0.
DROP FUNCTION bravo._bravo_rollup_prune(text, bigint[], date[]);

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
CREATE OR REPLACE FUNCTION bravo._bravo_rollup_rows(tab text, transition text, sign integer)
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
CREATE OR REPLACE FUNCTION bravo._bravo_rollup_own_columns(tab text)
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
CREATE OR REPLACE FUNCTION bravo._bravo_rollup_buys_referenced()
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

-- The distributed layout on Citus (citus/layout.sql).
-- The family tables there are (every family with a table, daily and hourly), in
-- catalog order: what bravo_distribute() distributes.
CREATE FUNCTION bravo._bravo_family_tables()
RETURNS TABLE (family text, rel regclass)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT f.family, bravo._bravo_media_table(f.table_name)
  FROM bravo.bravo_families f
 WHERE bravo._bravo_media_table(f.table_name) IS NOT NULL
 ORDER BY f.grain, f.family
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_family_tables() FROM PUBLIC;

-- Runs `sql` (a Citus call on table `rel`, which is $1 in it; `arg` is $2) as the
-- table's owner, then back as the caller.
CREATE FUNCTION bravo._bravo_as_owner(rel regclass, sql text, arg text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    owner text := (SELECT quote_ident(r.rolname) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
                    WHERE c.oid = rel);
BEGIN
    EXECUTE 'SET ROLE ' || owner;
    EXECUTE sql USING rel, arg;
    RESET ROLE;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_as_owner(regclass, text, text) FROM PUBLIC;

-- Distributes metric table `rel` by media_buy_id, co-located with the other metric
-- tables (the first one distributed sets the shard count: `shards`, else Citus's
-- citus.shard_count), unless it is distributed already; frees the coordinator's local
-- copy of the rows (Citus leaves it on disk). Returns whether it distributed it.
CREATE FUNCTION bravo._bravo_distribute_table(rel regclass, shards integer DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    done    boolean;
    partner regclass;
    -- Citus distributes a Citus local table by making a new table of the same name:
    -- the table is found again by name afterwards.
    name    text := rel::text;
BEGIN
    -- (A table with a foreign key to a reference table is a Citus local table, method
    -- 'n', until it is distributed.)
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1 AND partmethod = ''h'')'
       INTO done USING rel;
    IF done THEN
        RETURN false;
    END IF;
    EXECUTE 'SELECT p.logicalrelid FROM pg_catalog.pg_dist_partition p
              WHERE p.logicalrelid IN (SELECT t.rel FROM bravo._bravo_family_tables() t)
                AND p.partmethod = ''h'' ORDER BY p.logicalrelid LIMIT 1'
       INTO partner;
    IF partner IS NULL THEN
        PERFORM bravo._bravo_as_owner(rel,
            'SELECT pg_catalog.create_distributed_table($1, ''media_buy_id'', shard_count => $2::integer)',
            coalesce(shards, current_setting('citus.shard_count')::integer)::text);
    ELSE
        PERFORM bravo._bravo_as_owner(rel,
            'SELECT pg_catalog.create_distributed_table($1, ''media_buy_id'', colocate_with => $2)',
            partner::text);
    END IF;
    PERFORM bravo._bravo_as_owner(to_regclass(name),
        'SELECT pg_catalog.truncate_local_data_after_distributing_table($1)');
    RETURN true;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_distribute_table(regclass, integer) FROM PUBLIC;

-- Drops the reporting rollups' triggers from the media tool's tables (and their
-- extension-membership records), so Citus can distribute them.
CREATE FUNCTION bravo._bravo_report_detach_triggers()
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    t    record;
    gone integer := 0;
BEGIN
    FOR t IN SELECT g.oid, g.tgname, g.tgrelid FROM pg_trigger g
              WHERE g.tgname IN ('bravo_rollup_ins', 'bravo_rollup_upd', 'bravo_rollup_del', 'bravo_rollup_trunc')
                AND (g.tgrelid = bravo._bravo_media_table('media_buys')
                     OR g.tgrelid IN (SELECT f.rel FROM bravo._bravo_family_tables() f)) LOOP
        DELETE FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass AND d.objid = t.oid AND d.deptype = 'e';
        EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tgrelid::regclass);
        gone := gone + 1;
    END LOOP;
    RETURN gone;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_report_detach_triggers() FROM PUBLIC;

-- Turns the media tool into the distributed layout (see the top of this file), on the
-- coordinator of a Citus cluster whose workers are added: media_buys becomes a
-- reference table, every family's table is distributed by media_buy_id (co-located;
-- `shard_count` shards, default citus.shard_count), the rollup triggers go, the
-- rollups are emptied and the reports read the metric tables. Rows are kept.
-- Idempotent: run again, it distributes what is not yet (a family enabled since does
-- that itself). One row per table: its name and what was done.
CREATE FUNCTION @extschema@.bravo_distribute(shard_count integer DEFAULT NULL)
RETURNS TABLE (table_name regclass, layout text, done text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    buys  regclass := bravo._bravo_media_table('media_buys');
    node  text := bravo._bravo_citus_node();
    ref   boolean;
    f     record;
BEGIN
    IF node = 'none' THEN
        RAISE EXCEPTION 'Citus is not installed in this database'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Put citus first in shared_preload_libraries (''citus,bravo_metrics''), restart, CREATE EXTENSION citus, add the workers (citus_add_node), then run bravo_distribute() again.';
    END IF;
    IF node = 'worker' THEN
        PERFORM bravo._bravo_check_not_worker();
    END IF;
    IF shard_count IS NOT NULL AND shard_count < 1 THEN
        RAISE EXCEPTION 'shard_count must be positive, got %', shard_count
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass NULL for citus.shard_count, or a number of shards (a few per CPU core of the cluster).';
    END IF;
    IF buys IS NULL THEN
        RAISE EXCEPTION 'media_buys is not a table in schema %', bravo._bravo_media_schema()
            USING ERRCODE = 'undefined_table',
                  HINT = 'Point bravo_metrics.media_tool_schema at the schema that has media_buys.';
    END IF;
    -- Reference tables live on the coordinator too only when it is in the metadata;
    -- the reports' queries on media_buys then run locally.
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_node WHERE groupid = 0)' INTO ref;
    IF NOT ref THEN
        RAISE EXCEPTION 'the coordinator is not in the Citus metadata'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'media_buys becomes a reference table; the reports read it on the coordinator.',
                  HINT = 'SELECT citus_set_coordinator_host(''<this host>'', <port>); then run bravo_distribute() again.';
    END IF;

    PERFORM bravo._bravo_report_detach_triggers();
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition WHERE logicalrelid = $1)'
       INTO ref USING buys;
    IF NOT ref THEN
        -- Citus converts media_buys and every table referencing it together, as the
        -- owner of media_buys (_bravo_as_owner): they need one owner.
        IF EXISTS (SELECT 1 FROM pg_class c
                    WHERE c.oid IN (SELECT ft.rel FROM bravo._bravo_family_tables() ft)
                      AND c.relowner <> (SELECT b.relowner FROM pg_class b WHERE b.oid = buys)) THEN
            RAISE EXCEPTION 'the media tool''s tables have different owners'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'Citus makes media_buys a reference table together with the tables referencing it, as their owner: their constraints and defaults never run as the superuser calling bravo_distribute().',
                      HINT = format('Give the metric tables the owner of media_buys (ALTER TABLE ... OWNER TO %I), then run bravo_distribute() again.',
                                    (SELECT r.rolname FROM pg_class b JOIN pg_roles r ON r.oid = b.relowner WHERE b.oid = buys));
        END IF;
        PERFORM bravo._bravo_as_owner(buys, 'SELECT pg_catalog.create_reference_table($1)');
        table_name := buys; layout := 'reference'; done := 'made a reference table';
    ELSE
        table_name := buys; layout := 'reference'; done := 'already';
    END IF;
    RETURN NEXT;
    FOR f IN SELECT t.rel, t.rel::text AS name FROM bravo._bravo_family_tables() t LOOP
        done := CASE WHEN bravo._bravo_distribute_table(f.rel, shard_count)
                     THEN 'distributed' ELSE 'already' END;
        table_name := to_regclass(f.name);
        layout := 'distributed by media_buy_id';
        RETURN NEXT;
    END LOOP;
    -- The coordinator's local copy of media_buys' rows (Citus leaves it on disk) goes
    -- once the tables referencing it are distributed (it would cascade to theirs).
    IF NOT ref THEN
        PERFORM bravo._bravo_as_owner(buys, 'SELECT pg_catalog.truncate_local_data_after_distributing_table($1)');
    END IF;
    -- The rollups are not read any more (the reports aggregate the metric tables).
    DELETE FROM bravo.bravo_campaign_rollup;
    DELETE FROM bravo.bravo_media_buy_rollup;
    DELETE FROM bravo.bravo_campaign_hourly_rollup;
    PERFORM bravo._bravo_report_bodies(bravo._bravo_media_schema());
END
$fn$;
REVOKE ALL ON FUNCTION @extschema@.bravo_distribute(integer) FROM PUBLIC;

------------------------------------------------------------------------------------
-- The reports' reads in the distributed layout. Each is one query per call that
-- Citus pushes down: every metric table filtered to the campaign's media buys (a
-- semi-join with the reference table media_buys, on each node) and grouped there;
-- the coordinator combines one row per group and node. SECURITY DEFINER (as the
-- rollups they stand for, which reporting roles read without reading every family's
-- table), executable by reporting roles only (bravo_grant_reporting).
------------------------------------------------------------------------------------

-- `coalesce(sum(x.<column>), 0)::<type>` of every value column of daily rollup
-- `rollup`, in the table's column order (the 0.4.0 columns come after the row counters
-- of 0.3.0 in an upgraded database's rollups, and in a new one's as well).
CREATE FUNCTION bravo._bravo_rollup_sums(rollup regclass)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT string_agg(format('coalesce(sum(x.%I), 0)::%s', a.attname, format_type(a.atttypid, a.atttypmod)),
                  ', ' ORDER BY a.attnum)
  FROM pg_attribute a
 WHERE a.attrelid = rollup AND a.attnum > 0 AND NOT a.attisdropped
   AND a.attname NOT IN ('campaign_id', 'media_buy_id', 'date', 'month')
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_rollup_sums(regclass) FROM PUBLIC;

-- `campaign` as a SQL literal of media_buys.campaign_id's type. The reads below put
-- the campaign into their text as a constant, so that Citus prunes and pushes down
-- each one as it would a query typed by hand.
CREATE FUNCTION bravo._bravo_campaign_literal(campaign anyelement)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT quote_nullable(campaign::text) || '::' || format_type(a.atttypid, a.atttypmod)
  FROM pg_attribute a
 WHERE a.attrelid = bravo._bravo_media_table('media_buys') AND a.attname = 'campaign_id'
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_campaign_literal(anyelement) FROM PUBLIC;

-- Runs each query (one per family table, each pushed down by Citus to every shard
-- and grouped there) and returns all their rows as jsonb objects (column name ->
-- value; numeric stays exact). The caller adds the families' rows up in a local query:
-- one query over all families (UNION ALL) would make Citus plan each part as a
-- subplan with an intermediate result, several times slower.
CREATE FUNCTION bravo._bravo_collect(queries text[])
RETURNS jsonb[]
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    q   text;
    r   record;
    acc jsonb[] := '{}';
BEGIN
    FOREACH q IN ARRAY coalesce(queries, '{}') LOOP
        FOR r IN EXECUTE q LOOP
            acc := acc || to_jsonb(r);
        END LOOP;
    END LOOP;
    RETURN acc;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_collect(text[]) FROM PUBLIC;

-- The daily table `tab`'s own rollup columns summed over a group of rows `p`, named
-- as in the rollups (its measures, then count(*) as its row counter).
CREATE FUNCTION bravo._bravo_rollup_own_sums(tab text)
RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT string_agg(CASE WHEN c.name = l.counter THEN format('count(*)::integer AS %I', c.name)
                       ELSE format('sum(p.%1$I)::%2$s AS %1$I', c.name, c.type) END, ', ' ORDER BY c.ord)
  FROM bravo._bravo_rollup_layout() l, bravo._bravo_rollup_columns() c
 WHERE l.metric_table = tab AND (c.name = ANY (l.measures) OR c.name = l.counter)
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_rollup_own_sums(text) FROM PUBLIC;

-- The rows the campaign rollup would hold for `campaign` (every date with data).
CREATE FUNCTION bravo._bravo_campaign_rows_of(campaign anyelement)
RETURNS SETOF bravo.bravo_campaign_rollup
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    buys regclass := bravo._bravo_media_table('media_buys');
    id   text := bravo._bravo_campaign_literal(campaign);
BEGIN
    IF buys IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT %s::%s, x.date, %s FROM unnest($1) AS j (v), jsonb_to_record(j.v) AS x (date date, %s) GROUP BY x.date',
        id, bravo._bravo_rollup_key_type('bravo_campaign_rollup'),
        bravo._bravo_rollup_sums('bravo.bravo_campaign_rollup'),
        bravo._bravo_rollup_list('%1$I %2$s', ', '))
      USING bravo._bravo_collect(ARRAY(
          SELECT format('SELECT p.date, %s FROM %s p WHERE p.media_buy_id IN '
                        '(SELECT m.id FROM %s m WHERE m.campaign_id = %s) GROUP BY p.date',
                        bravo._bravo_rollup_own_sums(t.metric_table), t.rel, buys, id)
            FROM bravo._bravo_rollup_tables() t));
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_campaign_rows_of(anyelement) FROM PUBLIC;

-- The rows the hourly rollup would hold for `campaign`.
CREATE FUNCTION bravo._bravo_campaign_hours_of(campaign anyelement)
RETURNS SETOF bravo.bravo_campaign_hourly_rollup
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    buys regclass := bravo._bravo_media_table('media_buys');
    id   text := bravo._bravo_campaign_literal(campaign);
BEGIN
    IF buys IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT %s::%s, x.hour_start, coalesce(sum(x.impressions), 0)::bigint, coalesce(sum(x.clicks), 0)::bigint, '
        'coalesce(sum(x.spend), 0)::numeric, coalesce(sum(x.video_starts), 0)::bigint, '
        'coalesce(sum(x.video_completions), 0)::bigint, coalesce(sum(x.video_views), 0)::bigint, '
        'coalesce(sum(x.impression_rows), 0)::integer, coalesce(sum(x.video_rows), 0)::integer '
        'FROM unnest($1) AS j (v), jsonb_to_record(j.v) AS x (hour_start timestamptz, impressions bigint, '
        'clicks bigint, spend numeric, video_starts bigint, video_completions bigint, video_views bigint, '
        'impression_rows integer, video_rows integer) GROUP BY x.hour_start',
        id, (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
              WHERE a.attrelid = 'bravo.bravo_campaign_hourly_rollup'::regclass AND a.attname = 'campaign_id'))
      USING bravo._bravo_collect(ARRAY(
          SELECT format('SELECT p.hour_start, %s FROM %s p WHERE p.media_buy_id IN '
                        '(SELECT m.id FROM %s m WHERE m.campaign_id = %s) GROUP BY p.hour_start',
                        (SELECT string_agg(CASE WHEN c.type = 'integer' THEN format('count(*)::integer AS %I', c.name)
                                                ELSE format('sum(p.%1$I)::%2$s AS %1$I', c.name, c.type) END, ', ')
                           FROM bravo._bravo_hourly_columns(t.metric_table) c),
                        t.rel, buys, id)
            FROM bravo._bravo_hourly_tables() t));
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_campaign_hours_of(anyelement) FROM PUBLIC;

-- Per media buy of `campaign` with data in [lo, hi]: its first and last date with
-- data there and its sums over it (as a media buy rollup row; month is NULL).
CREATE FUNCTION bravo._bravo_buy_sums_of(campaign anyelement, lo date, hi date)
RETURNS TABLE (media_buy_id text, first_date date, last_date date, sums bravo.bravo_media_buy_rollup)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    buys regclass := bravo._bravo_media_table('media_buys');
    id   text := bravo._bravo_campaign_literal(campaign);
    lo_d text := quote_literal(coalesce(lo, '-infinity')::text) || '::date';
    hi_d text := quote_literal(coalesce(hi, 'infinity')::text) || '::date';
BEGIN
    IF buys IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT x.k, min(x.f), max(x.l), ROW(x.k::%s, NULL::date, %s)::bravo.bravo_media_buy_rollup '
        'FROM unnest($1) AS j (v), jsonb_to_record(j.v) AS x (k text, f date, l date, %s) GROUP BY x.k',
        bravo._bravo_rollup_key_type('bravo_media_buy_rollup'),
        bravo._bravo_rollup_sums('bravo.bravo_media_buy_rollup'),
        bravo._bravo_rollup_list('%1$I %2$s', ', '))
      USING bravo._bravo_collect(ARRAY(
          SELECT format('SELECT p.media_buy_id::text AS k, min(p.date) AS f, max(p.date) AS l, %s FROM %s p '
                        'WHERE p.media_buy_id IN (SELECT m.id FROM %s m WHERE m.campaign_id = %s) '
                        'AND p.date >= %s AND p.date <= %s GROUP BY p.media_buy_id',
                        bravo._bravo_rollup_own_sums(t.metric_table), t.rel, buys, id, lo_d, hi_d)
            FROM bravo._bravo_rollup_tables() t));
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_buy_sums_of(anyelement, date, date) FROM PUBLIC;



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

CREATE OR REPLACE FUNCTION bravo._bravo_rollup_metric_trigger()
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
CREATE OR REPLACE FUNCTION bravo._bravo_rollup_buy_trigger()
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
CREATE OR REPLACE FUNCTION bravo._bravo_rollup_rebuild(rollup text)
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

-- Rebuilds both rollups from the metric tables. Returns the number of rollup rows
-- (both rollups together).
CREATE OR REPLACE FUNCTION @extschema@.bravo_report_rebuild()
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
CREATE OR REPLACE FUNCTION bravo._bravo_report_attach_triggers()
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

-- Attaches the rollup to the media tool's tables: the campaign index on media_buys
-- if it has none, the triggers if missing (_bravo_report_attach_triggers), and a
-- rebuild. Idempotent. Run by CREATE EXTENSION when the tables exist; after a
-- pg_restore (where CREATE EXTENSION runs before the dump recreates the tables) the
-- event trigger below runs it once the dump has recreated the last trigger, after
-- the data is loaded. Returns the number of rollup rows.
CREATE OR REPLACE FUNCTION @extschema@.bravo_report_attach()
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

-- pg_dump dumps the triggers with the tables (post-data, after the rows are loaded);
-- when a restore has recreated all of them (four on media_buys and on each metric
-- table there is), attach (membership + rebuild).
CREATE OR REPLACE FUNCTION bravo._bravo_report_on_create_trigger()
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
-- The reports: keep their privileges, refuse to drop what depends on them.
DO $keep$
DECLARE
    deps   text;
    grants text;
BEGIN
    SELECT string_agg(DISTINCT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid), ', ')
      INTO deps
      FROM pg_catalog.pg_depend d
     WHERE d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
       AND d.refobjid IN ('@extschema@.bravo_campaign_totals(bigint, date, date)'::pg_catalog.regprocedure,
                          '@extschema@.bravo_campaigns_totals(bigint[], date, date)'::pg_catalog.regprocedure,
                          '@extschema@.bravo_campaign_daily(bigint, date, date)'::pg_catalog.regprocedure,
                          '@extschema@.bravo_media_buy_totals(bigint, date, date)'::pg_catalog.regprocedure,
                          '@extschema@.bravo_schedule_status()'::pg_catalog.regprocedure)
       AND d.deptype = 'n';
    IF deps IS NOT NULL THEN
        RAISE EXCEPTION 'bravo_metrics 0.4.0 adds columns to bravo_campaign_totals, bravo_campaigns_totals, bravo_campaign_daily, bravo_media_buy_totals and bravo_schedule_status, and these depend on them: %', deps
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Drop them, run ALTER EXTENSION bravo_metrics UPDATE again, then create them again (their columns are still there, new ones follow).';
    END IF;
    SELECT string_agg(pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s',
                                        p.oid::pg_catalog.regprocedure,
                                        CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(r.rolname) END), '; ')
      INTO grants
      FROM pg_catalog.pg_proc p
     CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
      LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
     WHERE p.oid IN ('@extschema@.bravo_campaign_totals(bigint, date, date)'::pg_catalog.regprocedure,
                     '@extschema@.bravo_campaigns_totals(bigint[], date, date)'::pg_catalog.regprocedure,
                     '@extschema@.bravo_campaign_daily(bigint, date, date)'::pg_catalog.regprocedure,
                     '@extschema@.bravo_media_buy_totals(bigint, date, date)'::pg_catalog.regprocedure,
                     '@extschema@.bravo_schedule_status()'::pg_catalog.regprocedure)
       AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner;
    PERFORM pg_catalog.set_config('bravo_metrics_upgrade.grants', coalesce(grants, ''), true);
END
$keep$;

DROP FUNCTION @extschema@.bravo_campaigns_totals(bigint[], date, date);
DROP FUNCTION @extschema@.bravo_campaign_totals(bigint, date, date);
DROP FUNCTION @extschema@.bravo_campaign_daily(bigint, date, date);
DROP FUNCTION @extschema@.bravo_media_buy_totals(bigint, date, date);
DROP FUNCTION @extschema@.bravo_schedule_status();

-- 0.3.0's _bravo_report_campaign(bigint, date, date) takes any id type since 0.4.0.
DROP FUNCTION bravo._bravo_report_campaign(bigint, date, date);

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

-- The report bodies that read the media tool's tables, for the media tool's schema
-- `media` (quoted): created by the install script for bravo_metrics.media_tool_schema
-- (else the extension's schema), and created again by bravo_report_attach(), so that
-- the reports follow the tables when that setting changes. CREATE OR REPLACE keeps
-- them extension members with their privileges.
CREATE OR REPLACE FUNCTION bravo._bravo_report_bodies(media text)
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
CREATE OR REPLACE FUNCTION bravo._bravo_report_define_api(campaign_type text, buy_type text)
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
CREATE OR REPLACE FUNCTION bravo._bravo_report_retype()
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

-- The latest date of the media tool's daily metric table `tab` (in its schema: see
-- bravo._bravo_media_schema), NULL when it has no rows or does not exist. Read from
-- the index on it: ORDER BY ... DESC LIMIT 1, not max(), which the planner may answer
-- by reading the whole index when the table's statistics are stale (autovacuum
-- analyzed it during a first load: 0.5 s per 1.5 M rows).
CREATE FUNCTION bravo._bravo_latest_date(tab text)
RETURNS date
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel pg_catalog.regclass := bravo._bravo_media_table(tab);
    d   date;
BEGIN
    IF rel IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE pg_catalog.format('SELECT date FROM %s WHERE date IS NOT NULL ORDER BY date DESC LIMIT 1', rel) INTO d;
    RETURN d;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_latest_date(text) FROM PUBLIC;

-- The latest hour of the media tool's hourly metric table `tab`, as
-- _bravo_latest_date reads a daily one.
CREATE FUNCTION bravo._bravo_latest_hour(tab text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel pg_catalog.regclass := bravo._bravo_media_table(tab);
    h   timestamptz;
BEGIN
    IF rel IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE pg_catalog.format('SELECT hour_start FROM %s WHERE hour_start IS NOT NULL ORDER BY hour_start DESC LIMIT 1', rel) INTO h;
    RETURN h;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_latest_hour(text) FROM PUBLIC;

-- Reconciliation of the hourly families with their daily ones (since 0.4.0): per media
-- buy and local day in time_zone (the zone the daily rows' days are in), every
-- difference between the hours and the day. One row per
--   * day with fewer hours than it has in that zone (23, 24 or 25): measure NULL,
--     hours and day_hours say how many;
--   * metric whose sum over the day's hours is not the daily row's value (no daily
--     row, or no hours, count as a difference too): measure, both values and
--     hourly_sum - daily_value.
-- Only families paired by bravo_families.daily_family, on the metric columns both
-- have. Runs with the caller's rights (it reads the metric tables).
CREATE FUNCTION @extschema@.bravo_reconcile_hourly(
    from_date date, to_date date, time_zone text DEFAULT 'UTC')
RETURNS TABLE (
    family text, media_buy_id text, day date, hours integer, day_hours integer,
    measure text, hourly_sum numeric, daily_value numeric, difference numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    f    record;
    hrel regclass;
    drel regclass;
    cols text[];
BEGIN
    PERFORM bravo._bravo_report_zone(from_date, to_date, time_zone);
    FOR f IN SELECT h.family, h.table_name AS htab, d.table_name AS dtab, d.family AS dfam
               FROM bravo.bravo_families h JOIN bravo.bravo_families d ON d.family = h.daily_family
              WHERE h.grain = 'hour' AND d.grain = 'day'
              ORDER BY h.position LOOP
        hrel := bravo._bravo_media_table(f.htab);
        drel := bravo._bravo_media_table(f.dtab);
        SELECT array_agg(hm.column_name ORDER BY hm.position) INTO cols
          FROM bravo.bravo_family_metrics hm
          JOIN bravo.bravo_family_metrics dm ON dm.family = f.dfam AND dm.column_name = hm.column_name
         WHERE hm.family = f.family;
        IF hrel IS NULL OR drel IS NULL OR cols IS NULL THEN
            CONTINUE;
        END IF;
        RETURN QUERY EXECUTE format($q$
            WITH days AS (
                SELECT g::date AS day,
                       (extract(epoch FROM ((g + interval '1 day') AT TIME ZONE $3) - (g AT TIME ZONE $3)) / 3600)::integer AS n
                  FROM generate_series($1::timestamp, $2::timestamp, interval '1 day') g),
            h AS (
                SELECT p.media_buy_id, (p.hour_start AT TIME ZONE $3)::date AS day, count(*)::integer AS hours, %1$s
                  FROM %2$s p
                 WHERE p.hour_start >= $1::timestamp AT TIME ZONE $3
                   AND p.hour_start < ($2 + 1)::timestamp AT TIME ZONE $3
                 GROUP BY 1, 2),
            d AS (
                SELECT p.media_buy_id, p.date AS day, %3$s
                  FROM %4$s p
                 WHERE p.date >= $1 AND p.date <= $2),
            j AS (
                SELECT coalesce(h.media_buy_id, d.media_buy_id) AS b, coalesce(h.day, d.day) AS day,
                       coalesce(h.hours, 0) AS hours, %5$s
                  FROM h FULL JOIN d ON d.media_buy_id = h.media_buy_id AND d.day = h.day)
            SELECT %6$L::text, j.b::text, j.day, j.hours, days.n, m.measure, m.hs, m.dv,
                   coalesce(m.hs, 0) - coalesce(m.dv, 0)
              FROM j JOIN days ON days.day = j.day
             CROSS JOIN LATERAL (VALUES (NULL::text, NULL::numeric, NULL::numeric), %7$s) m (measure, hs, dv)
             WHERE (m.measure IS NULL AND j.hours < days.n)
                OR (m.measure IS NOT NULL AND m.hs IS DISTINCT FROM m.dv)
             ORDER BY 2, 3, 6 NULLS FIRST$q$,
            (SELECT string_agg(format('sum(p.%1$I)::numeric AS %1$I', c), ', ') FROM unnest(cols) c),
            hrel,
            (SELECT string_agg(format('p.%1$I::numeric AS %1$I', c), ', ') FROM unnest(cols) c),
            drel,
            (SELECT string_agg(format('h.%1$I AS %2$I, d.%1$I AS %3$I', c, 'h_' || c, 'd_' || c), ', ') FROM unnest(cols) c),
            f.family,
            (SELECT string_agg(format('(%L, j.%I, j.%I)', c, 'h_' || c, 'd_' || c), ', ') FROM unnest(cols) c))
          USING from_date, to_date, time_zone;
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION @extschema@.bravo_reconcile_hourly(date, date, text) FROM PUBLIC;

-- The next run of the hourly families' schedule (Unix microseconds), for the status.
CREATE FUNCTION bravo."_bravo_hourly_next_run"() RETURNS bigint
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_bravo_hourly_next_run_wrapper';
REVOKE ALL ON FUNCTION bravo._bravo_hourly_next_run() FROM PUBLIC;

CREATE FUNCTION @extschema@.bravo_schedule_status()
RETURNS TABLE (
    loaded               boolean,
    enabled              boolean,
    worker_pid           integer,
    database             text,
    schedule             text,
    time_zone            text,
    next_run             timestamptz,
    next_run_kind        text,
    hint                 text,
    last_run_id          bigint,
    last_run_trigger     text,
    last_run_status      text,
    last_run_started_at  timestamptz,
    last_run_finished_at timestamptz,
    last_run_message     text,
    last_success_run_id  bigint,
    last_success_status  text,
    last_success_at      timestamptz,
    consecutive_failures bigint,
    impressions_latest_date date,
    impressions_lag_days integer,
    videos_latest_date   date,
    videos_lag_days      integer,
    missing_sources      text[],
    hourly_schedule      text,
    hourly_next_run      timestamptz,
    hourly_last_run_id   bigint,
    hourly_last_run_status text,
    hourly_last_success_at timestamptz,
    hourly_days_disagreeing bigint
)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $status$
-- Runs left 'running' by a backend that is gone become 'interrupted' first (written
-- autonomously), so that the query below, which takes a new snapshot, reports them.
SELECT bravo._bravo_sweep_interrupted();
SELECT s.loaded, s.enabled,
       (SELECT a.pid FROM pg_catalog.pg_stat_activity a
         WHERE a.backend_type = 'bravo_metrics scheduler' ORDER BY a.backend_start DESC LIMIT 1),
       s.database, s.schedule, s.time_zone,
       pg_catalog.to_timestamp(s.next_run_epoch_us / 1000000.0), s.next_run_kind,
       NULLIF(pg_catalog.concat_ws(' ', s.hint, CASE WHEN ms.families IS NOT NULL THEN pg_catalog.format(
           'The last run skipped the metric famil%s %s: %s source relation%s not exist in Snowflake (bravo_sync_run_targets.message says which). Create %s, re-point %s (UPDATE bravo_families SET source_relation = ... WHERE family = ...), or disable %s (SELECT bravo_disable_family(...)).',
           CASE WHEN pg_catalog.cardinality(ms.families) = 1 THEN 'y' ELSE 'ies' END,
           pg_catalog.array_to_string(ms.families, ', '),
           CASE WHEN pg_catalog.cardinality(ms.families) = 1 THEN 'its' ELSE 'their' END,
           CASE WHEN pg_catalog.cardinality(ms.families) = 1 THEN ' does' ELSE 's do' END,
           CASE WHEN pg_catalog.cardinality(ms.families) = 1 THEN 'it' ELSE 'them' END,
           CASE WHEN pg_catalog.cardinality(ms.families) = 1 THEN 'the family' ELSE 'the families' END,
           CASE WHEN pg_catalog.cardinality(ms.families) = 1 THEN 'it' ELSE 'them' END) END), ''),
       l.run_id, l.trigger, l.status, l.started_at, l.finished_at, l.message,
       ok.run_id, ok.status, ok.finished_at,
       (SELECT pg_catalog.count(*) FROM bravo.bravo_sync_runs f
         WHERE f.status IN ('failed', 'cancelled', 'interrupted', 'rolled_back') AND f.grain = 'day'
           AND f.started_at > coalesce(ok.started_at, '-infinity')),
       fi.d, t.today - fi.d, fv.d, t.today - fv.d,
       ms.families,
       NULLIF(pg_catalog.current_setting('bravo_metrics.hourly_schedule', true), ''),
       pg_catalog.to_timestamp(bravo._bravo_hourly_next_run() / 1000000.0),
       hl.run_id, hl.status, hok.finished_at,
       hd.n
  FROM bravo.bravo_scheduler_state() s
  LEFT JOIN LATERAL (SELECT * FROM bravo.bravo_sync_runs WHERE grain = 'day'
                      ORDER BY started_at DESC, run_id DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (SELECT * FROM bravo.bravo_sync_runs WHERE status = 'succeeded' AND grain = 'day'
                      ORDER BY started_at DESC, run_id DESC LIMIT 1) ok ON true
  LEFT JOIN LATERAL (SELECT * FROM bravo.bravo_sync_runs WHERE grain = 'hour'
                      ORDER BY started_at DESC, run_id DESC LIMIT 1) hl ON true
  LEFT JOIN LATERAL (SELECT * FROM bravo.bravo_sync_runs WHERE status = 'succeeded' AND grain = 'hour'
                      ORDER BY started_at DESC, run_id DESC LIMIT 1) hok ON true
  LEFT JOIN LATERAL (SELECT pg_catalog.array_agg(rt.target ORDER BY rt.target) AS families
                       FROM bravo.bravo_sync_run_targets rt
                      WHERE rt.run_id = l.run_id AND rt.status = 'missing_source') ms ON true
  CROSS JOIN LATERAL (SELECT bravo._bravo_latest_date('platform_buy_daily_impressions') AS d) fi
  CROSS JOIN LATERAL (SELECT bravo._bravo_latest_date('platform_buy_daily_videos') AS d) fv
  CROSS JOIN LATERAL (SELECT (pg_catalog.now() AT TIME ZONE coalesce(nullif(pg_catalog.current_setting('bravo_metrics.sync_time_zone', true), ''), 'UTC'))::pg_catalog.date AS today) t
  -- Days (per hourly family and media buy) whose hours disagree with the daily row,
  -- over the hourly lookback up to yesterday, in the sync's time zone; NULL when no
  -- hourly family is enabled.
  LEFT JOIN LATERAL (
       SELECT pg_catalog.count(DISTINCT (r.family, r.media_buy_id, r.day)) AS n
         FROM @extschema@.bravo_reconcile_hourly(
                  t.today - LEAST(coalesce(nullif(pg_catalog.current_setting('bravo_metrics.hourly_lookback_days', true), '')::integer, 3), 365),
                  t.today - 1,
                  coalesce(nullif(pg_catalog.current_setting('bravo_metrics.sync_time_zone', true), ''), 'UTC')) r
        WHERE EXISTS (SELECT 1 FROM bravo.bravo_families f WHERE f.enabled AND f.grain = 'hour')) hd
         ON EXISTS (SELECT 1 FROM bravo.bravo_families f WHERE f.enabled AND f.grain = 'hour')
$status$;

COMMENT ON FUNCTION @extschema@.bravo_schedule_status() IS
  'Scheduler state (loaded, enabled, schedule, next run), last run and last success, consecutive failures (failed, cancelled, interrupted or rolled back runs since the last success), data freshness (latest date per metric table and its lag behind today in bravo_metrics.sync_time_zone), and the metric families the last run skipped because their source relation is missing (also in hint); the last run, last success and failures are of the daily families (bravo_sync); the hourly_* columns are the hourly families'' schedule, next run, last run and success, and the days whose hours disagree with the daily rows over the hourly lookback (bravo_reconcile_hourly). Marks runs left running by a crash interrupted first.';

REVOKE ALL ON FUNCTION @extschema@.bravo_schedule_status() FROM PUBLIC;

DO $restore$
DECLARE
    g text;
BEGIN
    FOR g IN SELECT x FROM pg_catalog.unnest(pg_catalog.string_to_array(
                 pg_catalog.current_setting('bravo_metrics_upgrade.grants'), '; ')) x
              WHERE x <> '' LOOP
        EXECUTE g;
    END LOOP;
END
$restore$;

CREATE TABLE bravo.bravo_families (
    family          text    PRIMARY KEY CHECK (family ~ '^[a-z][a-z0-9_]{0,39}$'),
    table_name      text    NOT NULL UNIQUE CHECK (table_name ~ '^[a-z_][a-z0-9_]{0,62}$'),
    -- Snowflake relation (name, schema.name or db.schema.name); NULL: the family's
    -- setting bravo_metrics.<family>_source where one exists (impressions, videos),
    -- else the table's name in upper case.
    source_relation text    CHECK (source_relation <> ''),
    -- One row per media buy and day (key date), or per media buy and hour (key
    -- hour_start, a timestamptz: an instant). Hourly families sync with
    -- bravo_sync_hourly(), over their own lookback.
    grain           text    NOT NULL DEFAULT 'day' CHECK (grain IN ('day', 'hour')),
    key_columns     text[]  NOT NULL DEFAULT '{media_buy_id,date}'
                            CHECK (key_columns = CASE grain WHEN 'hour' THEN '{media_buy_id,hour_start}'::text[]
                                                            ELSE '{media_buy_id,date}'::text[] END),
    enabled         boolean NOT NULL DEFAULT false,
    -- A required family whose source relation is missing fails the sync; any other
    -- is reported as 'missing_source' and skipped while the other families sync.
    required        boolean NOT NULL DEFAULT false,
    -- Families sync in this order.
    position        integer NOT NULL UNIQUE,
    description     text,
    -- An hourly family whose source has HOUR_START as TIMESTAMP_NTZ (a wall-clock
    -- time): the IANA zone it is in; NULL: bravo_metrics.hourly_source_time_zone.
    -- TIMESTAMP_LTZ and TIMESTAMP_TZ are instants and need no zone.
    source_time_zone text   CHECK (source_time_zone IS NULL OR grain = 'hour'),
    -- An hourly family: the daily family whose rows its hours should add up to
    -- (bravo_reconcile_hourly compares them, metric by metric).
    daily_family    text    CHECK (daily_family IS NULL OR grain = 'hour'),
    -- The source's timestamp column that says when a row last changed: a daily
    -- family's intraday refresh (bravo_sync_intraday) fetches only rows changed since
    -- the high-water mark on it; NULL: none (only bravo_sync fills the family).
    change_column   text    DEFAULT 'updated_at' CHECK (change_column ~ '^[a-z_][a-z0-9_]{0,62}$')
);

-- Per daily family, the largest change time (bravo_families.change_column) the last
-- window sync or intraday refresh read from its source: every row changed at or before
-- it has been merged. Kept with the source relation and column it was taken from (a
-- different one starts over). Written in the sync's transaction.
CREATE TABLE bravo.bravo_high_water (
    family          text        PRIMARY KEY REFERENCES bravo.bravo_families (family) ON UPDATE CASCADE ON DELETE CASCADE,
    source_relation text        NOT NULL,
    change_column   text        NOT NULL,
    high_water      timestamptz NOT NULL,
    run_id          bigint      NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT pg_catalog.now()
);
REVOKE ALL ON bravo.bravo_high_water FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('bravo.bravo_high_water', '');

CREATE TABLE bravo.bravo_family_metrics (
    family      text    NOT NULL REFERENCES bravo.bravo_families (family) ON UPDATE CASCADE ON DELETE CASCADE,
    column_name text    NOT NULL CHECK (column_name ~ '^[a-z_][a-z0-9_]{0,62}$'
                                        AND column_name NOT IN ('date', 'hour_start', 'media_buy_id', 'created_at', 'updated_at')),
    -- count: a non-negative bigint (at most 10^12 per media buy and day);
    -- money: an exact numeric (any scale, may be negative).
    kind        text    NOT NULL CHECK (kind IN ('count', 'money')),
    -- Metric columns are fetched and written in this order.
    position    integer NOT NULL,
    description text,
    PRIMARY KEY (family, column_name),
    UNIQUE (family, position)
);

-- Inserts the shipped families and metric columns that are missing, and changes no
-- row that is there (a family you re-pointed, disabled or extended stays as it is).
-- Run by CREATE EXTENSION; run it by hand after restoring a dump taken before 0.4.0
-- (whose catalog is empty) or to bring back a shipped family you deleted. Returns the
-- number of rows inserted.
CREATE FUNCTION @extschema@.bravo_restore_families()
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    f integer;
    h integer;
    m integer;
BEGIN
    -- The two families of 0.3.0 are required: a missing source fails the sync, as it did.
    INSERT INTO bravo.bravo_families (family, table_name, enabled, required, position, description) VALUES
        ('impressions', 'platform_buy_daily_impressions', true, true, 1,
         'Impressions, clicks and spend per media buy and day'),
        ('videos', 'platform_buy_daily_videos', true, true, 2,
         'Video starts, completions and views per media buy and day'),
        ('conversions', 'platform_buy_daily_conversions', false, false, 3,
         'Post-click and post-view conversions and their value per media buy and day'),
        ('viewability', 'platform_buy_daily_viewability', false, false, 4,
         'MRC viewability per media buy and day: eligible, measurable and viewable impressions')
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS f = ROW_COUNT;
    INSERT INTO bravo.bravo_families (family, table_name, grain, key_columns, enabled, required, position, description, daily_family) VALUES
        ('impressions_hourly', 'platform_buy_hourly_impressions', 'hour', '{media_buy_id,hour_start}', false, false, 5,
         'Impressions, clicks and spend per media buy and hour', 'impressions'),
        ('videos_hourly', 'platform_buy_hourly_videos', 'hour', '{media_buy_id,hour_start}', false, false, 6,
         'Video starts, completions and views per media buy and hour', 'videos')
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS h = ROW_COUNT;
    INSERT INTO bravo.bravo_family_metrics (family, column_name, kind, position, description)
    SELECT v.* FROM (VALUES
        ('impressions', 'impressions', 'count', 1, 'Impressions served'),
        ('impressions', 'clicks', 'count', 2, 'Clicks'),
        ('impressions', 'spend', 'money', 3, 'Media cost, exact'),
        ('videos', 'video_starts', 'count', 1, 'Video starts'),
        ('videos', 'video_completions', 'count', 2, 'Videos played to the end'),
        ('videos', 'video_views', 'count', 3, 'Video views, as the platform counts them'),
        ('conversions', 'post_click_conversions', 'count', 1,
         'Conversions attributed to a click on the media buy'),
        ('conversions', 'post_view_conversions', 'count', 2,
         'Conversions attributed to an impression that was not clicked'),
        ('conversions', 'conversion_value', 'money', 3,
         'Value of those conversions, exact, in the media buy''s currency'),
        ('viewability', 'eligible_impressions', 'count', 1,
         'Impressions eligible for viewability measurement'),
        ('viewability', 'measurable_impressions', 'count', 2,
         'Eligible impressions a viewability vendor could measure'),
        ('viewability', 'viewable_impressions', 'count', 3,
         'MRC viewable: at least 50% of pixels in view for 1 s (display) or 2 s (video)'),
        ('impressions_hourly', 'impressions', 'count', 1, 'Impressions served'),
        ('impressions_hourly', 'clicks', 'count', 2, 'Clicks'),
        ('impressions_hourly', 'spend', 'money', 3, 'Media cost, exact'),
        ('videos_hourly', 'video_starts', 'count', 1, 'Video starts'),
        ('videos_hourly', 'video_completions', 'count', 2, 'Videos played to the end'),
        ('videos_hourly', 'video_views', 'count', 3, 'Video views, as the platform counts them')
    ) v (family, column_name, kind, position, description)
     WHERE EXISTS (SELECT 1 FROM bravo.bravo_families b WHERE b.family = v.family)
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS m = ROW_COUNT;
    RETURN f + h + m;
END
$fn$;
REVOKE ALL ON FUNCTION @extschema@.bravo_restore_families() FROM PUBLIC;

-- The shipped families. Not during a restore (row_security = off, see schema.sql): the
-- dump brings the catalog's rows, with whatever the user changed.
DO $bravo$
BEGIN
    IF current_setting('row_security') = 'off' THEN
        RETURN;
    END IF;
    PERFORM @extschema@.bravo_restore_families();
END
$bravo$;

SELECT pg_catalog.pg_extension_config_dump('bravo.bravo_families', '');
SELECT pg_catalog.pg_extension_config_dump('bravo.bravo_family_metrics', '');
REVOKE ALL ON bravo.bravo_families, bravo.bravo_family_metrics FROM PUBLIC;

-- The catalog as the user edits it, unqualified: plain (updatable) views of the tables
-- in schema bravo, run with the caller's rights.
CREATE VIEW @extschema@.bravo_families WITH (security_invoker = true) AS
    SELECT * FROM bravo.bravo_families;
CREATE VIEW @extschema@.bravo_family_metrics WITH (security_invoker = true) AS
    SELECT * FROM bravo.bravo_family_metrics;
REVOKE ALL ON @extschema@.bravo_families, @extschema@.bravo_family_metrics FROM PUBLIC;

-- Enables a family: creates its metric table in the extension's schema if missing
-- (not an extension member, like the other metric tables: DROP EXTENSION keeps it
-- and its rows), adds metric columns the catalog names and the table lacks, attaches
-- the reporting rollup's triggers to a shipped family's table, and sets enabled (and
-- required, unless NULL: kept). Idempotent. Returns the table.
CREATE OR REPLACE FUNCTION @extschema@.bravo_enable_family(family text, required boolean DEFAULT NULL)
RETURNS regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    f       record;
    m       record;
    tab     text;
    col     text;
    created boolean := false;
BEGIN
    SELECT * INTO f FROM bravo.bravo_families b WHERE b.family = bravo_enable_family.family;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no metric family "%"', family
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT family FROM bravo_families lists them.';
    END IF;
    tab := format('%s.%I', bravo._bravo_media_schema(), f.table_name);
    IF f.source_time_zone IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM pg_timezone_names z WHERE z.name = f.source_time_zone) THEN
        RAISE EXCEPTION 'metric family "%": source_time_zone "%" is not a time zone', f.family, f.source_time_zone
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use an IANA zone name such as Europe/Paris (SELECT name FROM pg_timezone_names).';
    END IF;
    IF to_regclass(tab) IS NULL THEN
        -- media_buy_id has media_buys.id's type (bigint, text, uuid, ...) and collation.
        -- An hour is an instant on a whole minute (an hour of an account zone such as
        -- Asia/Kolkata starts at half past a UTC hour).
        EXECUTE format(
            'CREATE TABLE %s (%s NOT NULL, '
            'media_buy_id %s NOT NULL REFERENCES %s.media_buys (id), '
            'created_at timestamptz NOT NULL DEFAULT now(), '
            'updated_at timestamptz NOT NULL DEFAULT now(), '
            'PRIMARY KEY (media_buy_id, %I)) WITH (fillfactor = 90)', tab,
            CASE f.grain WHEN 'hour'
                THEN 'hour_start timestamptz CHECK (hour_start = date_trunc(''minute'', hour_start))'
                ELSE 'date date' END,
            bravo._bravo_media_buy_id_type(), bravo._bravo_media_schema(), f.key_columns[2]);
        EXECUTE format('CREATE INDEX %I ON %s (%I)', f.table_name || '_' || f.key_columns[2] || '_idx',
                       tab, f.key_columns[2]);
        created := true;
    END IF;
    FOR m IN SELECT * FROM bravo.bravo_family_metrics x
              WHERE x.family = f.family ORDER BY x.position LOOP
        col := CASE m.kind WHEN 'count' THEN 'bigint NOT NULL DEFAULT 0' ELSE 'numeric NOT NULL DEFAULT 0' END;
        IF NOT EXISTS (SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = tab::regclass AND a.attname = m.column_name
                          AND a.attnum > 0 AND NOT a.attisdropped) THEN
            EXECUTE format('ALTER TABLE %s ADD COLUMN %I %s', tab, m.column_name, col);
            -- A count is never negative. The check is added by name (the name PostgreSQL
            -- would give it): Citus refuses an unnamed constraint in ADD COLUMN.
            IF m.kind = 'count' THEN
                EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I CHECK (%I >= 0)', tab,
                               f.table_name || '_' || m.column_name || '_check', m.column_name);
            END IF;
        END IF;
    END LOOP;
    -- In the distributed layout a new table is distributed like the others.
    IF bravo._bravo_distributed() THEN
        PERFORM bravo._bravo_distribute_table(tab::regclass);
    END IF;
    -- A shipped family's table feeds the reporting rollups (an hourly one the hourly
    -- rollup): attach their triggers (a table that had rows before gets them counted
    -- by a rebuild).
    IF EXISTS (SELECT 1 FROM bravo._bravo_rollup_layout() l WHERE l.metric_table = f.table_name
               UNION ALL
               SELECT 1 FROM bravo._bravo_hourly_layout() h WHERE h.metric_table = f.table_name)
       AND bravo._bravo_media_table('platform_buy_daily_impressions') IS NOT NULL
       AND bravo._bravo_media_table('platform_buy_daily_videos') IS NOT NULL THEN
        IF bravo._bravo_report_attach_triggers() > 0 AND NOT created THEN
            PERFORM @extschema@.bravo_report_rebuild();
        END IF;
        -- bravo_media_buy_totals reads the partial months from this table too.
        PERFORM bravo._bravo_report_bodies(bravo._bravo_media_schema());
    END IF;
    UPDATE bravo.bravo_families b
       SET enabled = true, required = coalesce(bravo_enable_family.required, b.required)
     WHERE b.family = f.family;
    RETURN tab::regclass;
END
$fn$;
REVOKE ALL ON FUNCTION @extschema@.bravo_enable_family(text, boolean) FROM PUBLIC;

-- Disables a family: later syncs leave its table alone; its rows stay (and stay in the
-- reports). With drop_table => true the table and its rows are dropped too, and the
-- rollups rebuilt without them (a plain DROP TABLE is refused while the extension's
-- rollup triggers sit on it). Returns whether it was enabled.
CREATE FUNCTION @extschema@.bravo_disable_family(family text, drop_table boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    was boolean;
    tab regclass;
BEGIN
    SELECT b.enabled, bravo._bravo_media_table(b.table_name) INTO was, tab
      FROM bravo.bravo_families b
     WHERE b.family = bravo_disable_family.family FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no metric family "%"', family
            USING ERRCODE = 'undefined_object',
                  HINT = 'SELECT family FROM bravo_families lists them.';
    END IF;
    IF drop_table AND tab IN (bravo._bravo_media_table('platform_buy_daily_impressions'),
                              bravo._bravo_media_table('platform_buy_daily_videos')) THEN
        RAISE EXCEPTION 'the table of family "%" cannot be dropped', family
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'The reports and rollups need platform_buy_daily_impressions and platform_buy_daily_videos; disable the family without drop_table.';
    END IF;
    UPDATE bravo.bravo_families b SET enabled = false WHERE b.family = bravo_disable_family.family;
    IF drop_table AND tab IS NOT NULL THEN
        DELETE FROM pg_depend d
         WHERE d.classid = 'pg_trigger'::regclass AND d.deptype = 'e'
           AND d.objid IN (SELECT t.oid FROM pg_trigger t WHERE t.tgrelid = tab);
        EXECUTE format('DROP TABLE %s', tab);
        PERFORM bravo._bravo_report_bodies(bravo._bravo_media_schema());
        PERFORM @extschema@.bravo_report_rebuild();
    END IF;
    RETURN was;
END
$fn$;
REVOKE ALL ON FUNCTION @extschema@.bravo_disable_family(text, boolean) FROM PUBLIC;

-- Hourly families sync on their own, over their own lookback.
CREATE FUNCTION @extschema@."bravo_sync_hourly"(
	"lookback_days" INT DEFAULT NULL,
	"wait" bool DEFAULT NULL
) RETURNS TABLE (
	"target" TEXT,
	"fetched" bigint,
	"inserted" bigint,
	"updated" bigint,
	"unchanged" bigint,
	"deleted" bigint,
	"set_aside" bigint,
	"ms" bigint,
	"run_id" bigint
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'bravo_sync_hourly_wrapper';
REVOKE ALL ON FUNCTION @extschema@.bravo_sync_hourly(integer, boolean) FROM PUBLIC;

-- Live progress of running syncs, from the sync's own progress command (no longer the
-- COPY one: pg_stat_progress_copy showed a phantom row for every running sync). The
-- family is the n-th enabled one of the catalog (among the hourly ones in a
-- bravo_sync_hourly run).
CREATE FUNCTION bravo."_bravo_sync_progress_info"() RETURNS TABLE (
	"pid" INT,
	"relid" oid,
	"params" bigint[]
)
STRICT VOLATILE PARALLEL RESTRICTED
LANGUAGE c
AS 'MODULE_PATHNAME', '_bravo_sync_progress_info_wrapper';
REVOKE ALL ON FUNCTION bravo._bravo_sync_progress_info() FROM PUBLIC;
CREATE OR REPLACE VIEW @extschema@.bravo_sync_progress AS
SELECT i.pid,
       i.params[1] AS run_id,
       CASE i.params[2] WHEN 1 THEN 'connecting' WHEN 2 THEN 'fetching' WHEN 3 THEN 'merging'
                        WHEN 4 THEN 'finishing' ELSE 'starting' END AS phase,
       CASE WHEN i.params[3] > 0 THEN
           (SELECT f.family FROM bravo.bravo_families f
             WHERE f.enabled AND f.grain = CASE i.params[12] WHEN 1 THEN 'hour' ELSE 'day' END
             ORDER BY f.position OFFSET i.params[3] - 1 LIMIT 1) END AS target,
       i.params[4] AS fetched,
       i.params[5] AS compared,
       i.params[6] AS set_aside,
       i.params[7] AS inserted,
       i.params[8] AS updated,
       i.params[9] AS deleted,
       NULLIF(i.params[11], 0) AS source_rows,
       to_timestamp(i.params[10] / 1000.0) AS started_at
  FROM bravo._bravo_sync_progress_info() i
 WHERE i.relid = 'bravo.bravo_sync_runs'::regclass;

-- A conversions or viewability table that already existed joins the rollups.
DO $attach$
BEGIN
    IF to_regclass('@extschema@.platform_buy_daily_conversions') IS NOT NULL
       OR to_regclass('@extschema@.platform_buy_daily_viewability') IS NOT NULL THEN
        PERFORM @extschema@.bravo_report_attach();
    END IF;
END
$attach$;

CREATE OR REPLACE FUNCTION bravo._bravo_reporting_acl(role regrole, do_revoke boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    verb text := CASE WHEN do_revoke THEN 'REVOKE' ELSE 'GRANT' END;
    dir  text := CASE WHEN do_revoke THEN 'FROM' ELSE 'TO' END;
    media text;
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be NULL' USING ERRCODE = 'null_value_not_allowed',
            HINT = 'Pass an existing role, e.g. SELECT bravo_grant_reporting(''analysts'');';
    END IF;
    media := bravo._bravo_media_schema();
    EXECUTE format('%s USAGE ON SCHEMA %I, %s, bravo %s %s', verb, '@extschema@', media, dir, role);
    EXECUTE format('%1$s SELECT ON TABLE %2$s.media_buys, %2$s.platform_buy_daily_impressions, '
                   '%2$s.platform_buy_daily_videos, bravo.bravo_campaign_rollup, '
                   'bravo.bravo_media_buy_rollup, bravo.bravo_campaign_hourly_rollup %3$s %4$s',
                   verb, media, dir, role);
    -- The reporting functions' signatures follow media_buys' id types (report.sql).
    EXECUTE format('%s EXECUTE ON FUNCTION %s, '
                   'bravo._bravo_campaign_totals_of(anyelement, date, date), '
                   'bravo._bravo_campaigns_totals_of(anyarray, date, date), '
                   'bravo._bravo_campaign_daily_of(anyelement, date, date), '
                   'bravo._bravo_media_buy_totals_of(anyelement, date, date), '
                   'bravo._bravo_campaign_hourly_of(anyelement, date, date, text), '
                   'bravo._bravo_campaign_hour_of_day_of(anyelement, date, date, text), '
                   'bravo._bravo_report_zone(date, date, text), '
                   '@extschema@.bravo_last_sync_at(), '
                   'bravo._bravo_report_campaign(anyelement, date, date), '
                   'bravo._bravo_report_days(date, date), '
                   'bravo._bravo_money(numeric), '
                   'bravo._bravo_month(date), '
                   'bravo._bravo_report_months_from(date), '
                   'bravo._bravo_report_months_until(date), '
                   'bravo._bravo_campaign_rows_of(anyelement), '
                   'bravo._bravo_campaign_hours_of(anyelement), '
                   'bravo._bravo_buy_sums_of(anyelement, date, date) %s %s', verb,
                   (SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.proname)
                      FROM pg_proc p
                     WHERE p.pronamespace = '@extschema@'::regnamespace
                       AND p.proname IN ('bravo_campaign_totals', 'bravo_campaigns_totals',
                                         'bravo_campaign_daily', 'bravo_media_buy_totals',
                                         'bravo_campaign_hourly', 'bravo_campaign_hour_of_day')),
                   dir, role);
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_reporting_acl(regrole, boolean) FROM PUBLIC;

-- They and the reporting grant functions call the helpers in schema bravo now.
CREATE OR REPLACE FUNCTION @extschema@.bravo_grant_reporting(role regrole)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT bravo._bravo_reporting_acl(role, false) $fn$;

CREATE OR REPLACE FUNCTION @extschema@.bravo_revoke_reporting(role regrole)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT bravo._bravo_reporting_acl(role, true) $fn$;

CREATE OR REPLACE FUNCTION @extschema@.bravo_last_sync_at()
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.finished_at FROM bravo.bravo_sync_runs r
     WHERE r.status = 'succeeded' AND r.finished_at IS NOT NULL
     ORDER BY r.started_at DESC LIMIT 1
$$;

-- Roles granted reporting (bravo_grant_reporting) also get the new overloads and
-- USAGE on schema bravo.
DO $regrant$
DECLARE
    r pg_catalog.regrole;
BEGIN
    FOR r IN SELECT a.grantee::pg_catalog.regrole
               FROM pg_catalog.pg_proc p
              CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
              WHERE p.oid = '@extschema@.bravo_media_buy_totals(bigint, date, date)'::pg_catalog.regprocedure
                AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner AND a.grantee <> 0 LOOP
        PERFORM bravo._bravo_reporting_acl(r, false);
    END LOOP;
END
$regrant$;

-- The complete export (src/export/): its run log and bravo_export.
-- One row per export (since 0.4.0). The download URL is never stored: it is a bearer
-- credential, returned to the caller only.
CREATE TABLE bravo.bravo_export_runs (
    export_id       bigserial PRIMARY KEY,
    status          text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    trigger         text NOT NULL CHECK (trigger IN ('manual', 'schedule')),
    run_by          name NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    destination     text NOT NULL,
    object_key      text NOT NULL,
    snapshot_at     timestamptz,
    files           jsonb,
    archive_bytes   bigint,
    archive_sha256  text,
    parts           integer,
    sqlstate        text,
    message         text
);
SELECT pg_catalog.pg_extension_config_dump('bravo.bravo_export_runs', '');
SELECT pg_catalog.pg_extension_config_dump('bravo.bravo_export_runs_export_id_seq', '');
REVOKE ALL ON bravo.bravo_export_runs FROM PUBLIC;
CREATE VIEW @extschema@.bravo_export_runs WITH (security_invoker = true) AS
    SELECT * FROM bravo.bravo_export_runs;
REVOKE ALL ON @extschema@.bravo_export_runs FROM PUBLIC;

CREATE FUNCTION @extschema@."bravo_export"(
	"destination" TEXT DEFAULT NULL,
	"url_expires" interval DEFAULT '7 days'
) RETURNS TABLE (
	"export_id" bigint,
	"object_key" TEXT,
	"url" TEXT,
	"url_expires_at" timestamp with time zone,
	"files" jsonb,
	"archive_bytes" bigint,
	"archive_sha256" TEXT,
	"ms" bigint
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'bravo_export_wrapper';

CREATE FUNCTION @extschema@."bravo_export_url"(
	"export_id" bigint,
	"expires" interval DEFAULT '7 days'
) RETURNS TABLE (
	"url" TEXT,
	"url_expires_at" timestamp with time zone
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'bravo_export_url_wrapper';

-- The Rust side is internal.
CREATE FUNCTION bravo."_bravo_doctor_snowflake"() RETURNS TABLE (
	"check" TEXT,
	"status" TEXT,
	"detail" TEXT,
	"hint" TEXT
)
STRICT VOLATILE
LANGUAGE c
AS 'MODULE_PATHNAME', '_bravo_doctor_snowflake_wrapper';

-- bravo_doctor(): why is there no data? One row per check: ok, warn or fail, what was
-- found, and for anything not ok what to do. Safe for a monitoring role: it reads,
-- never writes, and shows no secret (a secret file's path only to a superuser
-- session). The checks that need the network or the secret files are in Rust
-- (bravo._bravo_doctor_snowflake, src/doctor/mod.rs); the rest are here.

-- The metric tables' checks: rows or none, lag behind today against
-- bravo_metrics.expected_lag_days, and the last 7 days' rows against the 7 before.
CREATE FUNCTION bravo._bravo_doctor_tables()
RETURNS TABLE ("check" text, status text, detail text, hint text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    f        record;
    rel      regclass;
    zone     text := coalesce(nullif(current_setting('bravo_metrics.sync_time_zone', true), ''), 'UTC');
    today    date := (now() AT TIME ZONE coalesce(nullif(current_setting('bravo_metrics.sync_time_zone', true), ''), 'UTC'))::date;
    expected integer := coalesce(nullif(current_setting('bravo_metrics.expected_lag_days', true), '')::integer, 2);
    drop_pct integer := coalesce(nullif(current_setting('bravo_metrics.volume_drop_percent', true), '')::integer, 50);
    latest   date;
    last7    bigint;
    prev7    bigint;
    lag      integer;
    sync_call text;
BEGIN
    FOR f IN SELECT bf.family, bf.table_name, bf.grain FROM bravo.bravo_families bf
              WHERE bf.enabled ORDER BY bf.position LOOP
        rel := bravo._bravo_media_table(f.table_name);
        sync_call := CASE f.grain WHEN 'hour' THEN 'SELECT bravo_sync_hourly();' ELSE 'SELECT bravo_sync(30);' END;
        IF rel IS NULL THEN
            "check" := 'rows ' || f.table_name; status := 'fail';
            detail := format('the table %s of family %s does not exist', f.table_name, f.family);
            hint := format('SELECT bravo_enable_family(%L) creates it; or disable the family: SELECT bravo_disable_family(%L);', f.family, f.family);
            RETURN NEXT;
            CONTINUE;
        END IF;
        -- The latest day, from the index on it (_bravo_latest_date, _bravo_latest_hour),
        -- then the two weeks' counts.
        IF f.grain = 'hour' THEN
            latest := (bravo._bravo_latest_hour(f.table_name) AT TIME ZONE zone)::date;
            EXECUTE format($q$SELECT count(*) FILTER (WHERE hour_start >= (%2$L::date - 7) AT TIME ZONE %1$L),
                                     count(*) FILTER (WHERE hour_start < (%2$L::date - 7) AT TIME ZONE %1$L)
                                FROM %3$s
                               WHERE hour_start >= (%2$L::date - 14) AT TIME ZONE %1$L
                                 AND hour_start < %2$L::date AT TIME ZONE %1$L$q$,
                           zone, today, rel) INTO last7, prev7;
        ELSE
            latest := bravo._bravo_latest_date(f.table_name);
            EXECUTE format($q$SELECT count(*) FILTER (WHERE date >= %1$L::date - 7),
                                     count(*) FILTER (WHERE date < %1$L::date - 7)
                                FROM %2$s WHERE date >= %1$L::date - 14 AND date < %1$L::date$q$,
                           today, rel) INTO last7, prev7;
        END IF;

        "check" := 'rows ' || f.table_name;
        IF latest IS NULL THEN
            status := 'fail';
            detail := format('%s is empty', f.table_name);
            hint := format('No sync has merged a row yet. Run %s and read its error, or see the last run rows above (bravo_sync_runs).', sync_call);
            RETURN NEXT;
            CONTINUE;
        END IF;
        status := 'ok'; detail := format('%s has rows up to %s', f.table_name, latest); hint := NULL;
        RETURN NEXT;

        lag := today - latest;
        "check" := 'lag ' || f.table_name;
        status := CASE WHEN lag <= expected THEN 'ok' WHEN lag <= 2 * expected THEN 'warn' ELSE 'fail' END;
        detail := format('latest %s %s: %s day%s behind %s (%s), expected at most %s (bravo_metrics.expected_lag_days)',
                         CASE f.grain WHEN 'hour' THEN 'hour on' ELSE 'date' END, latest, lag,
                         CASE WHEN lag = 1 THEN '' ELSE 's' END, today, zone, expected);
        hint := CASE WHEN status <> 'ok' THEN format(
            'Check that the scheduled syncs succeed (the last run rows above) and that Snowflake has newer rows (SELECT max(DATE) FROM the family''s source). A run now: %s', sync_call) END;
        RETURN NEXT;

        "check" := 'volume ' || f.table_name;
        IF prev7 = 0 THEN
            status := 'ok';
            detail := format('%s rows in the last 7 days, none in the 7 before', last7);
            hint := NULL;
        ELSE
            status := CASE WHEN last7 * 100 < prev7 * (100 - drop_pct) THEN 'warn' ELSE 'ok' END;
            detail := format('%s rows in the last 7 days, %s in the 7 before (%s%s%%)', last7, prev7,
                             CASE WHEN last7 >= prev7 THEN '+' ELSE '' END,
                             round((last7 - prev7) * 100.0 / prev7, 1));
            hint := CASE WHEN status = 'warn' THEN format(
                'More than %s%% fewer rows than the week before (bravo_metrics.volume_drop_percent): media buys may have ended, or rows are missing in Snowflake or set aside (the set aside rows above). Compare with SELECT DATE, count(*) FROM the family''s source GROUP BY 1.', drop_pct) END;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_doctor_tables() FROM PUBLIC;

-- Rows of the media tool's table `name` (counted up to a million and one), NULL
-- when there is no such table.
CREATE FUNCTION bravo._bravo_doctor_count(name text)
RETURNS bigint
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    rel regclass := bravo._bravo_media_table(name);
    n   bigint;
BEGIN
    IF rel IS NULL THEN
        RETURN NULL;
    END IF;
    EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s LIMIT 1000001) t', rel) INTO n;
    RETURN n;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_doctor_count(text) FROM PUBLIC;

CREATE FUNCTION @extschema@.bravo_doctor()
RETURNS TABLE ("check" text, status text, detail text, hint text)
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $doctor$
-- Connection settings, the secret file, a live login, each enabled family's source.
SELECT d."check", d.status, d.detail, d.hint FROM bravo._bravo_doctor_snowflake() d
UNION ALL
-- The catalog: something to sync.
SELECT 'families',
       CASE WHEN n.enabled = 0 THEN 'fail' ELSE 'ok' END,
       format('%s famil%s enabled: %s', n.enabled, CASE WHEN n.enabled = 1 THEN 'y' ELSE 'ies' END, coalesce(n.names, 'none')),
       CASE WHEN n.enabled = 0 THEN 'Enable one: SELECT bravo_enable_family(''impressions'');' END
  FROM (SELECT count(*) FILTER (WHERE enabled) AS enabled,
               string_agg(family, ', ' ORDER BY position) FILTER (WHERE enabled) AS names
          FROM bravo.bravo_families) n
UNION ALL
-- The scheduler: loaded, enabled, its database valid, a next run.
SELECT 'scheduler',
       CASE WHEN NOT s.loaded THEN 'fail'
            WHEN NOT s.enabled THEN 'warn'
            WHEN s.hint IS NOT NULL OR s.next_run_epoch_us IS NULL THEN 'fail'
            ELSE 'ok' END,
       format('loaded %s, enabled %s, database %s, schedule %s (%s), next run %s',
              CASE WHEN s.loaded THEN 'yes' ELSE 'no' END, CASE WHEN s.enabled THEN 'yes' ELSE 'no' END,
              coalesce(s.database, 'postgres'), coalesce(s.schedule, 'none'), coalesce(s.time_zone, 'UTC'),
              coalesce(to_timestamp(s.next_run_epoch_us / 1000000.0)::text, 'none')),
       coalesce(s.hint, CASE WHEN s.next_run_epoch_us IS NULL THEN
           'No next run: set a schedule (ALTER SYSTEM SET bravo_metrics.schedule = ''0 3 * * *''; SELECT pg_reload_conf();) and see bravo_schedule_status().' END)
  FROM bravo.bravo_scheduler_state() s
UNION ALL
-- The last run of each trigger and grain, and its error.
SELECT format('last run (%s%s)', r.trigger, CASE WHEN r.grain = 'hour' THEN ', hourly' ELSE '' END),
       CASE WHEN r.status IN ('succeeded', 'running') THEN 'ok'
            WHEN r.status = 'skipped' THEN 'warn' ELSE 'fail' END,
       format('run %s %s at %s%s', r.run_id, r.status, coalesce(r.finished_at, r.started_at),
              CASE WHEN r.message IS NOT NULL THEN format(': %s %s', r.sqlstate, r.message) ELSE '' END),
       CASE WHEN r.status = 'skipped' THEN 'A run was skipped (another sync held the lock, or the server was a standby): see its message.'
            WHEN r.status NOT IN ('succeeded', 'running') THEN format(
            'Fix what the message says (the other rows here may name it), then run one now: SELECT bravo_run_now(); the details: SELECT * FROM bravo_sync_runs WHERE run_id = %s;', r.run_id) END
  FROM (SELECT DISTINCT ON (x.trigger, x.grain) x.*
          FROM bravo.bravo_sync_runs x
         ORDER BY x.trigger, x.grain, x.started_at DESC, x.run_id DESC) r
UNION ALL
SELECT 'last run', 'fail', 'no sync has ever run in this database',
       'Run one: SELECT bravo_sync(30); and, for syncs on a schedule, see the scheduler row.'
 WHERE NOT EXISTS (SELECT 1 FROM bravo.bravo_sync_runs)
UNION ALL
-- Failures in a row since the last success, per grain.
SELECT format('consecutive failures (%s)', CASE g.grain WHEN 'hour' THEN 'hourly' ELSE 'daily' END),
       CASE WHEN g.n = 0 THEN 'ok' WHEN g.n < 3 THEN 'warn' ELSE 'fail' END,
       format('%s failed, cancelled, interrupted or rolled back run%s since the last success%s',
              g.n, CASE WHEN g.n = 1 THEN '' ELSE 's' END,
              coalesce(' (' || g.last_ok || ')', ' (none yet)')),
       CASE WHEN g.n > 0 THEN 'See the last run rows: the same error each time usually means configuration (the checks above); a different one each time, the network or Snowflake.' END
  FROM (SELECT gr.grain,
               (SELECT max(ok.finished_at) FROM bravo.bravo_sync_runs ok WHERE ok.grain = gr.grain AND ok.status = 'succeeded') AS last_ok,
               (SELECT count(*) FROM bravo.bravo_sync_runs fl
                 WHERE fl.grain = gr.grain AND fl.status IN ('failed', 'cancelled', 'interrupted', 'rolled_back')
                   AND fl.started_at > coalesce((SELECT max(ok.started_at) FROM bravo.bravo_sync_runs ok
                                                  WHERE ok.grain = gr.grain AND ok.status = 'succeeded'), '-infinity')) AS n
          FROM (SELECT DISTINCT x.grain FROM bravo.bravo_sync_runs x) gr) g
UNION ALL
-- Each enabled family's table: rows, lag, volume.
SELECT t."check", t.status, t.detail, t.hint FROM bravo._bravo_doctor_tables() t
UNION ALL
-- Source rows set aside and still open, by reason.
SELECT format('set aside (%s)', a.reason), 'warn',
       format('%s open row%s%s', a.n, CASE WHEN a.n = 1 THEN '' ELSE 's' END,
              CASE WHEN a.reason = 'unknown_media_buy' THEN format(', for %s media buy%s missing from media_buys (for example %s)',
                   a.buys, CASE WHEN a.buys = 1 THEN '' ELSE 's' END, a.sample) ELSE '' END),
       CASE a.reason
            WHEN 'unknown_media_buy' THEN 'Add those media buys to media_buys: the next sync merges their rows (they are kept and retried). SELECT DISTINCT media_buy_key FROM bravo_set_aside WHERE reason = ''unknown_media_buy'' AND resolved_at IS NULL lists them.'
            ELSE format('These source rows are invalid (%s): fix them in Snowflake; the next sync that fetches them fixed merges them. SELECT * FROM bravo_set_aside WHERE reason = %L AND resolved_at IS NULL shows them.', a.reason, a.reason) END
  FROM (SELECT s.reason, count(*) AS n, count(DISTINCT coalesce(s.media_buy_key, s.media_buy_id::text)) AS buys,
               string_agg(DISTINCT coalesce(s.media_buy_key, s.media_buy_id::text), ', ') FILTER (WHERE s.id IN (
                   SELECT s2.id FROM bravo.bravo_set_aside s2 WHERE s2.reason = s.reason AND s2.resolved_at IS NULL ORDER BY s2.id LIMIT 5)) AS sample
          FROM bravo.bravo_set_aside s WHERE s.resolved_at IS NULL GROUP BY s.reason) a
UNION ALL
SELECT 'set aside', 'ok', 'no open set-aside rows', NULL
 WHERE NOT EXISTS (SELECT 1 FROM bravo.bravo_set_aside WHERE resolved_at IS NULL)
UNION ALL
-- media_buys: without it every row is set aside.
SELECT 'media_buys',
       CASE WHEN m.n IS NULL OR m.n = 0 THEN 'fail' ELSE 'ok' END,
       CASE WHEN m.n IS NULL THEN 'there is no media_buys table' WHEN m.n = 0 THEN 'media_buys is empty'
            WHEN m.n > 1000000 THEN 'media_buys has more than a million rows'
            ELSE format('media_buys has %s row%s', m.n, CASE WHEN m.n = 1 THEN '' ELSE 's' END) END,
       CASE WHEN m.n IS NULL OR m.n = 0 THEN 'Load the media tool''s media buys (INSERT INTO media_buys (id, campaign_id, ...)): a sync sets aside every row of a media buy media_buys does not have (reason unknown_media_buy) and merges them once it does.' END
  FROM (SELECT bravo._bravo_doctor_count('media_buys') AS n) m
$doctor$;

COMMENT ON FUNCTION @extschema@.bravo_doctor() IS
  'Why is there no data? One row per check (status ok, warn or fail; detail; a hint for anything not ok): Snowflake settings, the secret file, a live login, each enabled family''s source relation and columns, the catalog, the scheduler, the last run per trigger and its error, failures in a row, each metric table''s rows, lag (bravo_metrics.expected_lag_days) and last-7-days volume (bravo_metrics.volume_drop_percent), open set-aside rows by reason, and media_buys. Reads only; shows no secret.';
REVOKE ALL ON FUNCTION @extschema@.bravo_doctor() FROM PUBLIC;
REVOKE ALL ON FUNCTION bravo._bravo_doctor_snowflake() FROM PUBLIC;

-- Freshness, per enabled family's table: the latest date (and hour, for an hourly
-- family), the lag behind today in bravo_metrics.sync_time_zone, whether that is
-- beyond bravo_metrics.expected_lag_days, the last successful sync that synced it,
-- and (with_counts) its rows per day over the last 14 days (oldest first, today
-- last). Without the counts it reads only each table's latest key (an index's end):
-- what a run checks for staleness after it finishes.
CREATE FUNCTION bravo._bravo_freshness(with_counts boolean)
RETURNS TABLE (family text, table_name text, grain text, latest_date date, latest_hour timestamptz,
               lag_days integer, expected_lag_days integer, stale boolean,
               last_success_run_id bigint, last_success_at timestamptz, rows_per_day bigint[])
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    f        record;
    rel      regclass;
    zone     text := coalesce(nullif(current_setting('bravo_metrics.sync_time_zone', true), ''), 'UTC');
    today    date := (now() AT TIME ZONE coalesce(nullif(current_setting('bravo_metrics.sync_time_zone', true), ''), 'UTC'))::date;
    expected integer := coalesce(nullif(current_setting('bravo_metrics.expected_lag_days', true), '')::integer, 2);
BEGIN
    FOR f IN SELECT bf.family, bf.table_name, bf.grain FROM bravo.bravo_families bf
              WHERE bf.enabled ORDER BY bf.position LOOP
        rel := bravo._bravo_media_table(f.table_name);
        family := f.family; table_name := f.table_name; grain := f.grain;
        expected_lag_days := expected;
        latest_date := NULL; latest_hour := NULL; rows_per_day := NULL;
        IF rel IS NOT NULL THEN
            -- From the index, whatever the statistics say (_bravo_latest_date).
            IF f.grain = 'hour' THEN
                latest_hour := bravo._bravo_latest_hour(f.table_name);
                latest_date := (latest_hour AT TIME ZONE zone)::date;
            ELSE
                latest_date := bravo._bravo_latest_date(f.table_name);
            END IF;
        END IF;
        IF rel IS NOT NULL AND with_counts THEN
            IF f.grain = 'hour' THEN
                EXECUTE format($q$SELECT array_agg(coalesce(c.n, 0) ORDER BY d.day)
                                    FROM generate_series(%2$L::date - 13, %2$L::date, interval '1 day') d(day)
                                    LEFT JOIN (SELECT (hour_start AT TIME ZONE %1$L)::date AS day, count(*) AS n FROM %3$s
                                                WHERE hour_start >= (%2$L::date - 13) AT TIME ZONE %1$L
                                                  AND hour_start < (%2$L::date + 1) AT TIME ZONE %1$L
                                                GROUP BY 1) c ON c.day = d.day::date$q$,
                               zone, today, rel) INTO rows_per_day;
            ELSE
                EXECUTE format($q$SELECT array_agg(coalesce(c.n, 0) ORDER BY d.day)
                                    FROM generate_series(%1$L::date - 13, %1$L::date, interval '1 day') d(day)
                                    LEFT JOIN (SELECT date, count(*) AS n FROM %2$s
                                                WHERE date BETWEEN %1$L::date - 13 AND %1$L::date GROUP BY 1) c
                                           ON c.date = d.day::date$q$,
                               today, rel) INTO rows_per_day;
            END IF;
        END IF;
        lag_days := today - latest_date;
        stale := latest_date IS NULL OR lag_days > expected;
        last_success_run_id := NULL; last_success_at := NULL;
        IF with_counts THEN
            SELECT r.run_id, r.finished_at INTO last_success_run_id, last_success_at
              FROM bravo.bravo_sync_runs r
              JOIN bravo.bravo_sync_run_targets t ON t.run_id = r.run_id
             WHERE r.status = 'succeeded' AND t.target = f.family AND t.status = 'synced'
             ORDER BY r.finished_at DESC NULLS LAST, r.run_id DESC LIMIT 1;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_freshness(boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@.bravo_freshness()
RETURNS TABLE (family text, table_name text, grain text, latest_date date, latest_hour timestamptz,
               lag_days integer, expected_lag_days integer, stale boolean,
               last_success_run_id bigint, last_success_at timestamptz, rows_per_day bigint[])
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT * FROM bravo._bravo_freshness(true) $fn$;
COMMENT ON FUNCTION @extschema@.bravo_freshness() IS 'The rows of the view bravo_freshness.';
REVOKE ALL ON FUNCTION @extschema@.bravo_freshness() FROM PUBLIC;

-- The view over it: a role needs SELECT on the view and EXECUTE on the function
-- (bravo_grant_monitoring grants both).
CREATE VIEW @extschema@.bravo_freshness AS SELECT * FROM @extschema@.bravo_freshness();
COMMENT ON VIEW @extschema@.bravo_freshness IS
  'Per enabled metric family: latest date (and hour), lag in days behind today (bravo_metrics.sync_time_zone), stale when beyond bravo_metrics.expected_lag_days, the last successful sync that synced it, and rows per day for the last 14 days (oldest first, today last).';
REVOKE ALL ON @extschema@.bravo_freshness FROM PUBLIC;

-- Monitoring privileges: what a monitoring role needs to call bravo_doctor(),
-- bravo_schedule_status(), bravo_intraday_status() and read bravo_freshness, and nothing else (not the data,
-- not the run log's tables).
CREATE FUNCTION bravo._bravo_monitoring_acl(role regrole, do_revoke boolean)
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
            HINT = 'Pass an existing role, e.g. SELECT bravo_grant_monitoring(''monitor'');';
    END IF;
    EXECUTE format('%s USAGE ON SCHEMA %I %s %s', verb, '@extschema@', dir, role);
    EXECUTE format('%s EXECUTE ON FUNCTION %I.bravo_doctor(), %I.bravo_schedule_status(), %I.bravo_freshness(), %I.bravo_intraday_status() %s %s',
                   verb, '@extschema@', '@extschema@', '@extschema@', '@extschema@', dir, role);
    EXECUTE format('%s SELECT ON %I.bravo_freshness %s %s', verb, '@extschema@', dir, role);
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_monitoring_acl(regrole, boolean) FROM PUBLIC;

CREATE FUNCTION @extschema@.bravo_grant_monitoring(role regrole)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT bravo._bravo_monitoring_acl(role, false) $fn$;
COMMENT ON FUNCTION @extschema@.bravo_grant_monitoring(regrole) IS
  'Lets a role call bravo_doctor(), bravo_schedule_status() and bravo_intraday_status() and read bravo_freshness (nothing else: not the data, not the run log).';
REVOKE ALL ON FUNCTION @extschema@.bravo_grant_monitoring(regrole) FROM PUBLIC;

CREATE FUNCTION @extschema@.bravo_revoke_monitoring(role regrole)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT bravo._bravo_monitoring_acl(role, true) $fn$;
COMMENT ON FUNCTION @extschema@.bravo_revoke_monitoring(regrole) IS 'Undoes bravo_grant_monitoring.';
REVOKE ALL ON FUNCTION @extschema@.bravo_revoke_monitoring(regrole) FROM PUBLIC;

-- Families whose data is stale (see bravo_freshness), since when: a run notifies
-- 'stale' for a family that became stale and 'fresh' for one that no longer is
-- (bravo._bravo_notify_staleness, called after each finished run).
CREATE TABLE bravo.bravo_stale_targets (
    family      text PRIMARY KEY,
    since       timestamptz NOT NULL DEFAULT now(),
    latest_date date,
    lag_days    integer
);
REVOKE ALL ON bravo.bravo_stale_targets FROM PUBLIC;

-- Compares bravo_freshness with bravo.bravo_stale_targets and notifies the changes on
-- channel bravo_metrics ('stale' and 'fresh' events, with run_id and per family the
-- latest date, lag and expected lag). Returns the number of families that changed.
CREATE FUNCTION bravo._bravo_notify_staleness(run_id bigint)
RETURNS integer
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    became  jsonb;
    cleared jsonb;
    msg     text;
BEGIN
    WITH now_stale AS (
        SELECT f.family, f.table_name, f.latest_date, f.lag_days, f.expected_lag_days
          FROM bravo._bravo_freshness(false) f WHERE f.stale),
    ins AS (
        INSERT INTO bravo.bravo_stale_targets (family, latest_date, lag_days)
        SELECT n.family, n.latest_date, n.lag_days FROM now_stale n
        ON CONFLICT (family) DO NOTHING
        RETURNING family),
    del AS (
        DELETE FROM bravo.bravo_stale_targets s
         WHERE NOT EXISTS (SELECT 1 FROM now_stale n WHERE n.family = s.family)
        RETURNING s.family, s.since)
    SELECT (SELECT jsonb_agg(jsonb_build_object('family', n.family, 'table', n.table_name,
                                                'latest_date', n.latest_date, 'lag_days', n.lag_days,
                                                'expected_lag_days', n.expected_lag_days) ORDER BY n.family)
              FROM ins JOIN now_stale n ON n.family = ins.family),
           (SELECT jsonb_agg(jsonb_build_object('family', del.family, 'stale_since', del.since) ORDER BY del.family)
              FROM del)
      INTO became, cleared;
    -- Under the 8,000-byte limit whatever the number of families: names only beyond it.
    IF became IS NOT NULL THEN
        msg := jsonb_build_object('event', 'stale', 'run_id', run_id, 'targets', became)::text;
        IF octet_length(msg) > 7900 THEN
            msg := jsonb_build_object('event', 'stale', 'run_id', run_id,
                                      'families', (SELECT jsonb_agg(e->'family') FROM jsonb_array_elements(became) e))::text;
        END IF;
        PERFORM pg_notify('bravo_metrics', msg);
    END IF;
    IF cleared IS NOT NULL THEN
        msg := jsonb_build_object('event', 'fresh', 'run_id', run_id, 'targets', cleared)::text;
        IF octet_length(msg) > 7900 THEN
            msg := jsonb_build_object('event', 'fresh', 'run_id', run_id,
                                      'families', (SELECT jsonb_agg(e->'family') FROM jsonb_array_elements(cleared) e))::text;
        END IF;
        PERFORM pg_notify('bravo_metrics', msg);
    END IF;
    RETURN coalesce(jsonb_array_length(became), 0) + coalesce(jsonb_array_length(cleared), 0);
EXCEPTION WHEN OTHERS THEN
    -- Best effort: the run's own record (written in the same transaction) must not
    -- depend on reading every metric table (a Citus worker down, a lock timeout).
    RAISE WARNING 'bravo_metrics: could not check the families'' freshness after run %: %', run_id, SQLERRM;
    RETURN 0;
END
$fn$;
REVOKE ALL ON FUNCTION bravo._bravo_notify_staleness(bigint) FROM PUBLIC;

-- bravo_refresh(campaign_id): one campaign's media buys over a short window.
CREATE FUNCTION @extschema@."bravo_refresh"(
	"campaign_id" bigint,
	"lookback_days" INT DEFAULT 3,
	"wait" bool DEFAULT NULL
) RETURNS TABLE (
	"target" TEXT,
	"fetched" bigint,
	"inserted" bigint,
	"updated" bigint,
	"unchanged" bigint,
	"deleted" bigint,
	"set_aside" bigint,
	"ms" bigint,
	"run_id" bigint
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'bravo_refresh_bigint_wrapper';

CREATE FUNCTION @extschema@."bravo_refresh"(
	"campaign_id" TEXT,
	"lookback_days" INT DEFAULT 3,
	"wait" bool DEFAULT NULL
) RETURNS TABLE (
	"target" TEXT,
	"fetched" bigint,
	"inserted" bigint,
	"updated" bigint,
	"unchanged" bigint,
	"deleted" bigint,
	"set_aside" bigint,
	"ms" bigint,
	"run_id" bigint
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'bravo_refresh_text_wrapper';

-- The intraday refresh (bravo_sync_intraday): rows changed since each daily family's
-- high-water mark (bravo_families.change_column and bravo.bravo_high_water, above).
CREATE FUNCTION @extschema@."bravo_sync_intraday"(
	"lookback_days" INT DEFAULT 30,
	"wait" bool DEFAULT NULL
) RETURNS TABLE (
	"target" TEXT,
	"fetched" bigint,
	"inserted" bigint,
	"updated" bigint,
	"unchanged" bigint,
	"deleted" bigint,
	"set_aside" bigint,
	"ms" bigint,
	"run_id" bigint
)
VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'bravo_sync_intraday_wrapper';

CREATE FUNCTION bravo."_bravo_intraday_next_run"() RETURNS bigint
STRICT STABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', '_bravo_intraday_next_run_wrapper';
REVOKE ALL ON FUNCTION bravo._bravo_intraday_next_run() FROM PUBLIC;

-- The intraday refresh's state (src/sync/intraday.rs): one row per enabled daily
-- family, its change column and high-water mark, where the next refresh starts, and
-- the refresh's schedule, next run, last run and last success.
CREATE FUNCTION @extschema@.bravo_intraday_status()
RETURNS TABLE (
    family            text,
    change_column     text,
    high_water        timestamptz,
    refreshes_from    timestamptz,
    high_water_run_id bigint,
    schedule          text,
    next_run          timestamptz,
    last_run_id       bigint,
    last_run_status   text,
    last_run_at       timestamptz,
    last_success_at   timestamptz
)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT f.family, f.change_column, h.high_water,
       h.high_water OPERATOR(pg_catalog.-)
           coalesce(NULLIF(pg_catalog.current_setting('bravo_metrics.intraday_safety_lag', true), ''), '1h')::pg_catalog.interval,
       h.run_id,
       NULLIF(pg_catalog.current_setting('bravo_metrics.intraday_schedule', true), ''),
       pg_catalog.to_timestamp(bravo._bravo_intraday_next_run() OPERATOR(pg_catalog./) 1000000.0),
       l.run_id, l.status, l.started_at, ok.finished_at
  FROM bravo.bravo_families f
  -- (the mark keeps the column's name as the source spells it)
  LEFT JOIN bravo.bravo_high_water h ON h.family OPERATOR(pg_catalog.=) f.family
                                    AND pg_catalog.lower(h.change_column) OPERATOR(pg_catalog.=) f.change_column
  LEFT JOIN LATERAL (SELECT r.run_id, r.status, r.started_at FROM bravo.bravo_sync_runs r
                      WHERE r.trigger OPERATOR(pg_catalog.=) 'intraday'
                      ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) l ON true
  LEFT JOIN LATERAL (SELECT r.finished_at FROM bravo.bravo_sync_runs r
                      WHERE r.trigger OPERATOR(pg_catalog.=) 'intraday' AND r.status OPERATOR(pg_catalog.=) 'succeeded'
                      ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1) ok ON true
 WHERE f.enabled AND f.grain OPERATOR(pg_catalog.=) 'day'
 ORDER BY f.position
$fn$;
COMMENT ON FUNCTION @extschema@.bravo_intraday_status() IS
  'The intraday refresh (bravo_sync_intraday): per enabled daily family its change column, high-water mark (the largest change time merged), where the next refresh starts (the mark minus bravo_metrics.intraday_safety_lag) and the run that kept the mark; and the refresh''s schedule, next run, last run and last success.';
REVOKE ALL ON FUNCTION @extschema@.bravo_intraday_status() FROM PUBLIC;

-- Comments on every object of the extension (since 0.4.0): the same as
-- src/comments.sql in a fresh install, user-facing objects written @extschema@.name.

COMMENT ON SCHEMA bravo IS
  'Internal objects of the extension bravo_metrics: helper functions, the run log, set-aside rows, the metric family catalog and the reporting rollups. Not for direct use; the functions and views users call are in the extension''s schema.';

-- The run log and the set-aside rows (schema.sql).
COMMENT ON FUNCTION bravo._bravo_media_schema() IS
  'Internal: the schema of the media tool''s tables (media_buys and the metric tables), quoted: bravo_metrics.media_tool_schema, else the extension''s schema.';
COMMENT ON FUNCTION bravo._bravo_media_table(text) IS
  'Internal: the media tool''s plain or partitioned table of that name in its schema, NULL when there is none (views and foreign tables do not count).';
COMMENT ON FUNCTION bravo._bravo_media_buy_id_type() IS
  'Internal: the type of media_buys.id as SQL (with its collation when not the type''s default); every metric table''s media_buy_id is created with it.';
COMMENT ON TABLE bravo.bravo_sync_runs IS
  'Internal: one row per sync, manual or scheduled (trigger, window, status, error); read it through the view bravo_sync_runs.';
COMMENT ON SEQUENCE bravo.bravo_sync_runs_run_id_seq IS
  'Internal: run ids of bravo.bravo_sync_runs.';
COMMENT ON TABLE bravo.bravo_sync_run_targets IS
  'Internal: per run, one row per metric family with its counts (fetched, inserted, updated, unchanged, deleted, set aside) and status; read it through the view bravo_sync_run_targets.';
COMMENT ON TABLE bravo.bravo_set_aside IS
  'Internal: source rows a sync did not merge, with the reason and the raw row; rows for an unknown media buy are merged by a later sync and marked resolved. Read it through the view bravo_set_aside.';
COMMENT ON SEQUENCE bravo.bravo_set_aside_id_seq IS
  'Internal: ids of bravo.bravo_set_aside.';
COMMENT ON VIEW @extschema@.bravo_sync_runs IS
  'The run log: one row per sync, manual or scheduled (trigger, started and finished times, lookback and window, status, SQLSTATE and message of a failure, Snowflake query ids, attempt, grain day or hour). Reading it needs the privilege on bravo.bravo_sync_runs too.';
COMMENT ON VIEW @extschema@.bravo_sync_run_targets IS
  'Per run and metric family (target): the source relation, the Snowflake query id, rows fetched, inserted, updated, unchanged, deleted and set aside, milliseconds, and status (synced, or missing_source with Snowflake''s message).';
COMMENT ON VIEW @extschema@.bravo_set_aside IS
  'Source rows a sync did not merge: the reason (null_key, negative_count, null_value, out_of_range, duplicate_key, unknown_media_buy, nonexistent_hour, ambiguous_hour), the raw source row and the run; unknown-media-buy rows are retried by later syncs and marked resolved once merged.';

-- The exports (src/export).
COMMENT ON TABLE bravo.bravo_export_runs IS
  'Internal: one row per export (bravo_export, or the scheduler after a sync); read it through the view bravo_export_runs. Download URLs are never stored.';
COMMENT ON SEQUENCE bravo.bravo_export_runs_export_id_seq IS
  'Internal: export ids of bravo.bravo_export_runs.';
COMMENT ON VIEW @extschema@.bravo_export_runs IS
  'One row per export: status, trigger (manual or schedule), who ran it, destination and object key, snapshot time, files (rows, bytes, sha256), archive size and sha256, and the error of a failed one. No download URL: bravo_export_url makes a new one.';
COMMENT ON FUNCTION @extschema@.bravo_export(text, interval) IS
  'Exports every enabled family''s metric table, media_buys and the run log in one consistent snapshot, as a tar.gz of CSV and MongoDB JSON files, to destination (s3://bucket/prefix/ or file:///directory; NULL: bravo_metrics.export_destination). Returns the archive''s key, files, size and sha256 and a download URL valid for url_expires (default 7 days, at most 7 days on S3).';
COMMENT ON FUNCTION @extschema@.bravo_export_url(bigint, interval) IS
  'A new download URL for the archive of export export_id (see bravo_export_runs), valid for expires (default 7 days, at most 7 days on S3), e.g. after the one bravo_export returned has expired.';

-- The metric family catalog (families.sql).
COMMENT ON TABLE bravo.bravo_families IS
  'Internal: the metric family catalog, one row per metric table of the media tool and its Snowflake source; edit it through the view bravo_families.';
COMMENT ON TABLE bravo.bravo_high_water IS
  'Internal: per daily family, the largest change time read from its source by the last window sync or intraday refresh (every row changed until then is merged), with the source relation and column it was taken from.';
COMMENT ON TABLE bravo.bravo_family_metrics IS
  'Internal: the metric columns of each family, their kind and order; edit them through the view bravo_family_metrics.';
COMMENT ON VIEW @extschema@.bravo_families IS
  'The metric families, one per metric table: table_name, Snowflake source_relation (NULL: the family''s setting, else the table''s name in upper case), grain (day or hour), enabled, required (a missing source fails the sync instead of being skipped), sync order, change column for the intraday refresh. Updatable by superusers; bravo_enable_family and bravo_disable_family change enabled.';
COMMENT ON VIEW @extschema@.bravo_family_metrics IS
  'The metric columns of each family: column name, kind (count: a non-negative bigint; money: an exact numeric), order and description. Updatable by superusers; bravo_enable_family adds missing columns to the table.';
COMMENT ON FUNCTION @extschema@.bravo_restore_families() IS
  'Inserts the shipped metric families and metric columns that are missing, changing no existing row (e.g. after restoring a dump taken before 0.4.0, or to bring back a deleted shipped family). Returns the number of rows inserted.';
COMMENT ON FUNCTION @extschema@.bravo_enable_family(text, boolean) IS
  'Enables metric family family: creates its metric table in the media tool''s schema if missing (not an extension member), adds the metric columns it lacks, attaches the reporting triggers to a shipped family''s table, and sets enabled (and required, unless NULL). Idempotent; returns the table.';
COMMENT ON FUNCTION @extschema@.bravo_disable_family(text, boolean) IS
  'Disables metric family family: later syncs leave its table and rows alone. With drop_table => true its table and rows are dropped and the rollups rebuilt (refused for the impressions and videos tables). Returns whether it was enabled.';
COMMENT ON FUNCTION @extschema@.bravo_reconcile_hourly(date, date, text) IS
  'Compares the hourly families with their daily ones per media buy and local day from from_date to to_date in time_zone (default UTC): one row per day with missing hours and per metric whose hours do not add up to the daily value (hourly_sum, daily_value, difference). Runs with the caller''s rights.';

-- The hourly rollup (report/hourly.sql).
COMMENT ON TABLE bravo.bravo_campaign_hourly_rollup IS
  'Internal: per campaign and hour (an instant), the sums of the hourly metric tables'' rows of the campaign''s media buys, kept exact by triggers; behind bravo_campaign_hourly and bravo_campaign_hour_of_day. Not dumped: rebuilt by bravo_report_rebuild().';
COMMENT ON FUNCTION bravo._bravo_hourly_layout() IS
  'Internal: which hourly metric table feeds which columns of the hourly rollup, and its row counter.';
COMMENT ON FUNCTION bravo._bravo_hourly_tables() IS
  'Internal: the hourly metric tables of the layout that exist, as regclass.';
COMMENT ON FUNCTION bravo._bravo_hourly_columns(text) IS
  'Internal: hourly table tab''s own columns of the hourly rollup (its measures, then its row counter), each with its SQL type.';
COMMENT ON FUNCTION bravo._bravo_hourly_values(text, integer) IS
  'Internal: SQL for hourly table tab''s own rollup values of a row p, times sign.';
COMMENT ON FUNCTION bravo._bravo_hourly_rows(text, text, integer) IS
  'Internal: SQL selecting (media_buy_id, hour_start, own rollup columns) of hourly table tab from source (a transition table or the table), times sign.';
COMMENT ON FUNCTION bravo._bravo_hourly_sql(text, text) IS
  'Internal: the statement that adds the rows of src (campaign_id, hour_start, tab''s own columns) to the hourly rollup and returns the keys it left empty.';
COMMENT ON FUNCTION bravo._bravo_hourly_by_buy_sql(text, text, regclass) IS
  'Internal: as _bravo_hourly_sql, for rows keyed by media buy, each buy''s campaign read from buys.';
COMMENT ON FUNCTION bravo._bravo_hourly_prune(text[], timestamptz[]) IS
  'Internal: deletes the hourly rollup rows of those keys that no metric rows are behind any more.';
COMMENT ON FUNCTION bravo._bravo_hourly_apply(text, text) IS
  'Internal: applies the rows of src (media_buy_id, hour_start, own columns of hourly table tab) to the hourly rollup, as the trigger does per statement and a sync''s flush once.';
COMMENT ON FUNCTION bravo._bravo_hourly_metric_trigger() IS
  'Internal: statement trigger function of the hourly metric tables: keeps bravo.bravo_campaign_hourly_rollup exact (deferred to the end of a sync while one runs).';
COMMENT ON FUNCTION bravo._bravo_hourly_move_sql(text, text) IS
  'Internal: the statements that move the hours of media buys whose campaign changed between campaigns in the hourly rollup (run by _bravo_rollup_buy_trigger).';
COMMENT ON FUNCTION bravo._bravo_hourly_rebuild() IS
  'Internal: rebuilds the hourly rollup from the hourly metric tables, blocking their writers meanwhile; returns its number of rows.';

-- The daily rollups (report/rollup.sql).
COMMENT ON TABLE bravo.bravo_campaign_rollup IS
  'Internal: per campaign and date, the sums of every metric row of the campaign''s media buys, with row counts per metric table, kept exact by triggers; behind bravo_campaign_totals, bravo_campaigns_totals and bravo_campaign_daily. Not dumped: rebuilt by bravo_report_rebuild().';
COMMENT ON TABLE bravo.bravo_media_buy_rollup IS
  'Internal: per media buy and calendar month, the sums of its metric rows, with row counts per metric table, kept exact by triggers; behind bravo_media_buy_totals. Not dumped: rebuilt by bravo_report_rebuild().';
COMMENT ON FUNCTION bravo._bravo_month(date) IS
  'Internal: the first day of the month of day.';
COMMENT ON FUNCTION bravo._bravo_rollup_layout() IS
  'Internal: which metric table feeds which columns of the daily rollups, and the column counting its rows.';
COMMENT ON FUNCTION bravo._bravo_rollup_columns() IS
  'Internal: every value column of the daily rollups, in order (all measures, then all row counters), each with its SQL type.';
COMMENT ON FUNCTION bravo._bravo_rollup_list(text, text) IS
  'Internal: the daily rollups'' value columns formatted with fmt and joined with sep.';
COMMENT ON FUNCTION bravo._bravo_rollup_values(text, text, integer) IS
  'Internal: SQL for the rollup values of one row of metric table tab (columns qualified by prefix), times sign: its measures and row counter, 0 for the other families''.';
COMMENT ON FUNCTION bravo._bravo_rollup_tables() IS
  'Internal: the metric tables of the daily rollup layout that exist, as regclass.';
COMMENT ON FUNCTION bravo._bravo_rollup_sql(text, text, text[]) IS
  'Internal: the statement that applies the rows of delta_sql as increments of columns cols to rollup (bravo_campaign_rollup or bravo_media_buy_rollup), in key order, and returns the keys left empty.';
COMMENT ON FUNCTION bravo._bravo_rollup_key_type(text) IS
  'Internal: the type of rollup''s key column (campaign_id or media_buy_id), as SQL.';
COMMENT ON FUNCTION bravo._bravo_rollup_prune(text, text[], date[]) IS
  'Internal: deletes the rows of rollup at those keys (ids as text) that no metric rows are behind any more.';
COMMENT ON FUNCTION bravo._bravo_rollup_rows(text, text, integer) IS
  'Internal: SQL selecting (media_buy_id, date, own rollup columns) of metric table tab from a transition table or the table itself, times sign (+1 new rows, -1 old rows).';
COMMENT ON FUNCTION bravo._bravo_rollup_own_columns(text) IS
  'Internal: the daily rollup columns metric table tab feeds, in rollup order.';
COMMENT ON FUNCTION bravo._bravo_rollup_buys_referenced() IS
  'Internal: true when every metric table has an immediate foreign key to media_buys (then no metric row can be written for a media buy another transaction is still inserting or deleting).';
COMMENT ON FUNCTION bravo._bravo_rollup_apply_sql(text, text, regclass) IS
  'Internal: the two statements that apply the rows of src (of metric table tab) to the campaign rollup (campaigns read from buys) and to the media buy rollup.';
COMMENT ON FUNCTION bravo._bravo_rollup_buys() IS
  'Internal: media_buys as a table (never a view), for the rollup triggers, which read each buy''s campaign with the extension owner''s rights.';
COMMENT ON FUNCTION bravo._bravo_rollup_temp(text) IS
  'Internal: this session''s temporary table name of a sync''s rollup bookkeeping, or NULL; refused when another role made it.';
COMMENT ON FUNCTION bravo._bravo_rollup_pending(regclass) IS
  'Internal: this session''s table of rollup deltas deferred for metric table rel during a sync, or NULL.';
COMMENT ON FUNCTION bravo._bravo_rollup_counted(regclass) IS
  'Internal: the first day from which this session''s sync (a first load) counts its own new rows of metric table rel at the flush, or NULL.';
COMMENT ON FUNCTION bravo._bravo_rollup_defer(regclass, date) IS
  'Internal: starts deferring the rollup maintenance of metric table rel for this transaction (a sync); with since, a first load into an empty window counts its own rows at the flush; false when the rollups do not read that table.';
COMMENT ON FUNCTION bravo._bravo_rollup_flush(regclass, xid) IS
  'Internal: applies the rollup deltas deferred for metric table rel once (and a first load''s rows written with transaction id writer) and ends the deferral.';
COMMENT ON FUNCTION bravo._bravo_rollup_metric_trigger() IS
  'Internal: statement trigger function of the daily metric tables: keeps bravo.bravo_campaign_rollup and bravo.bravo_media_buy_rollup exact (deferred to the end of a sync while one runs; TRUNCATE rebuilds).';
COMMENT ON FUNCTION bravo._bravo_rollup_buy_trigger() IS
  'Internal: statement trigger function of media_buys: moves the metric rows of every media buy whose campaign changed between campaigns in the rollups.';
COMMENT ON FUNCTION bravo._bravo_rollup_rebuild(text) IS
  'Internal: rebuilds rollup (bravo_campaign_rollup or bravo_media_buy_rollup) from the metric tables, blocking their writers meanwhile; returns its number of rows.';
COMMENT ON FUNCTION @extschema@.bravo_report_rebuild() IS
  'Rebuilds the reporting rollups (campaign by day, media buy by month, campaign by hour) from the metric tables, e.g. after a data-only restore with triggers disabled; blocks writers of the metric tables and media_buys meanwhile. Returns the number of rollup rows.';
COMMENT ON FUNCTION bravo._bravo_report_attach_triggers() IS
  'Internal: attaches the rollup triggers to media_buys and every metric table where missing (removing them from tables that are no longer the media tool''s) and records them as extension members; returns the number created.';
COMMENT ON FUNCTION @extschema@.bravo_report_attach() IS
  'Attaches the reports to the media tool''s tables (in bravo_metrics.media_tool_schema, else the extension''s schema): campaign index, rollup triggers, report functions and grants of reporting roles, then rebuilds the rollups. Run it after changing that setting; idempotent. Returns the number of rollup rows.';
COMMENT ON FUNCTION bravo._bravo_report_on_create_trigger() IS
  'Internal: event trigger function: once a restore has recreated every rollup trigger, runs bravo_report_attach().';
COMMENT ON EVENT TRIGGER bravo_report_restore IS
  'Internal (bravo_metrics): after a pg_restore recreates the rollup triggers, attaches the reports and rebuilds the rollups.';

-- The reports (report/report.sql).
COMMENT ON FUNCTION bravo._bravo_report_campaign(anyelement, date, date) IS
  'Internal: checks a report''s arguments (campaign_id not NULL, from_date not after to_date) and returns campaign_id.';
COMMENT ON FUNCTION bravo._bravo_report_days(date, date) IS
  'Internal: checks a daily report''s range (both bounds, finite, at most 1,000 days) and returns from_date.';
COMMENT ON FUNCTION bravo._bravo_report_zone(date, date, text) IS
  'Internal: checks an hourly report''s range (both bounds, finite, at most 366 days) and time zone, and returns the zone.';
COMMENT ON FUNCTION bravo._bravo_money(numeric) IS
  'Internal: the canonical form of a money amount (at least 2 decimals, no trailing zeros beyond them), never rounded.';
COMMENT ON FUNCTION @extschema@.bravo_last_sync_at() IS
  'Finish time of the last successful sync, for reports (a reporting role needs no access to the run log).';
COMMENT ON FUNCTION bravo._bravo_report_months_from(date) IS
  'Internal: the first month start on or after from_date (-infinity for NULL): where the whole months bravo_media_buy_totals reads from its rollup begin.';
COMMENT ON FUNCTION bravo._bravo_report_months_until(date) IS
  'Internal: the start of the month after the last whole month up to to_date (infinity for NULL): where the whole months bravo_media_buy_totals reads from its rollup end.';
COMMENT ON FUNCTION bravo._bravo_report_bodies(text) IS
  'Internal: (re)creates the report bodies that read the media tool''s tables in schema media, so that the reports follow bravo_metrics.media_tool_schema.';
COMMENT ON FUNCTION bravo._bravo_campaign_totals_of(anyelement, date, date) IS
  'Internal: the body of bravo_campaign_totals, for campaign ids of any type.';
COMMENT ON FUNCTION bravo._bravo_campaign_daily_of(anyelement, date, date) IS
  'Internal: the body of bravo_campaign_daily, for campaign ids of any type.';
COMMENT ON FUNCTION bravo._bravo_campaign_hourly_of(anyelement, date, date, text) IS
  'Internal: the body of bravo_campaign_hourly, for campaign ids of any type.';
COMMENT ON FUNCTION bravo._bravo_campaign_hour_of_day_of(anyelement, date, date, text) IS
  'Internal: the body of bravo_campaign_hour_of_day, for campaign ids of any type.';
COMMENT ON FUNCTION bravo._bravo_media_buy_totals_of(anyelement, date, date) IS
  'Internal: the body of bravo_media_buy_totals, for campaign ids of any type (media buy ids as text).';
COMMENT ON FUNCTION bravo._bravo_campaigns_totals_of(anyarray, date, date) IS
  'Internal: the body of bravo_campaigns_totals, for campaign ids of any type.';
COMMENT ON FUNCTION bravo._bravo_report_define_api(text, text) IS
  'Internal: creates (or replaces) the six reporting functions for campaign ids of campaign_type and media buy ids of buy_type, not executable by PUBLIC.';
COMMENT ON FUNCTION bravo._bravo_report_key_types() IS
  'Internal: the types of media_buys.campaign_id and media_buys.id, bigint when missing.';
COMMENT ON FUNCTION bravo._bravo_report_retype() IS
  'Internal: recreates the reporting functions when media_buys'' id types differ from theirs (keeping membership and EXECUTE grants); returns whether it did.';

-- The reporting functions users call (bravo_campaign_totals, bravo_campaigns_totals,
-- bravo_campaign_daily, bravo_campaign_hourly, bravo_campaign_hour_of_day,
-- bravo_media_buy_totals) are commented by bravo._bravo_report_define_api, which
-- creates them (and recreates them, comments included, when media_buys' id types
-- change).

-- Reporting privileges (report/grants.sql).
COMMENT ON FUNCTION bravo._bravo_reporting_acl(regrole, boolean) IS
  'Internal: grants (or with do_revoke, revokes) exactly what a read-only reporting role needs.';
COMMENT ON FUNCTION @extschema@.bravo_grant_reporting(regrole) IS
  'Lets role run the campaign reports: USAGE on the schemas, SELECT on media_buys, the metric tables and the rollups, EXECUTE on the reporting functions and their helpers; not the run log, not syncs or exports.';
COMMENT ON FUNCTION @extschema@.bravo_revoke_reporting(regrole) IS
  'Undoes bravo_grant_reporting for role.';

-- Syncs, scheduler and run log (Rust).
COMMENT ON FUNCTION @extschema@.bravo_sync(integer, boolean) IS
  'Pulls the last lookback_days days (default 30, up to today in bravo_metrics.sync_time_zone) of every enabled daily metric family from Snowflake and merges them into the metric tables, all in one transaction; one row per family with its counts and the run_id. wait: true waits for a running sync, false fails fast, NULL follows bravo_metrics.sync_overlap.';
COMMENT ON FUNCTION @extschema@.bravo_sync_hourly(integer, boolean) IS
  'bravo_sync for the hourly metric families (grain hour), over the last lookback_days days (NULL, the default: bravo_metrics.hourly_lookback_days); wait as in bravo_sync. One row per family.';
COMMENT ON FUNCTION @extschema@.bravo_sync_intraday(integer, boolean) IS
  'The intraday refresh: per enabled daily family with a change column, merges only the rows of the last lookback_days days (default 30) changed since its high-water mark minus bravo_metrics.intraday_safety_lag; deletions and set-aside rows wait for the next bravo_sync. wait as in bravo_sync; one row per family.';
COMMENT ON FUNCTION @extschema@.bravo_refresh(bigint, integer, boolean) IS
  'Syncs one campaign now: the daily families for the media buys media_buys gives campaign_id, over the last lookback_days days (default 3), with bravo_sync''s guarantees and run log (trigger refresh); wait as in bravo_sync. One row per family.';
COMMENT ON FUNCTION @extschema@.bravo_refresh(text, integer, boolean) IS
  'bravo_refresh for campaign ids that are not integers (text, uuid, ...), passed as text: syncs the daily families for campaign_id''s media buys over the last lookback_days days (default 3); wait as in bravo_sync.';
COMMENT ON FUNCTION @extschema@.bravo_run_now() IS
  'Starts a sync of the last bravo_metrics.scheduler_lookback_days days in a background worker now and returns its run id (trigger run-now); follow it in bravo_sync_progress and bravo_sync_runs.';
COMMENT ON FUNCTION bravo.bravo_scheduler_state() IS
  'Internal: the scheduler''s own view (loaded, enabled, database, schedule in force, time zone, next run, hint), shown by bravo_schedule_status().';
COMMENT ON FUNCTION bravo._bravo_hourly_next_run() IS
  'Internal: the next run of bravo_metrics.hourly_schedule as Unix microseconds; NULL when there is none or the scheduler is not loaded or disabled.';
COMMENT ON FUNCTION bravo._bravo_intraday_next_run() IS
  'Internal: the next run of bravo_metrics.intraday_schedule as Unix microseconds; NULL when there is none or the scheduler is not loaded or disabled.';
COMMENT ON FUNCTION bravo._bravo_sweep_interrupted() IS
  'Internal: marks run log rows left running by a backend that is gone as interrupted; returns how many.';
COMMENT ON FUNCTION bravo._bravo_latest_date(text) IS
  'Internal: the latest date of the media tool''s metric table tab, NULL when it has no rows or does not exist.';
COMMENT ON FUNCTION bravo._bravo_latest_hour(text) IS
  'Internal: the latest hour of the media tool''s hourly metric table tab, NULL when it has no rows or does not exist.';

-- Troubleshooting (doctor/doctor.sql).
COMMENT ON FUNCTION bravo._bravo_doctor_snowflake() IS
  'Internal: the checks of bravo_doctor() that need Snowflake or the secret files (settings, secret file, live login, each enabled family''s source).';
COMMENT ON FUNCTION bravo._bravo_doctor_tables() IS
  'Internal: bravo_doctor()''s checks of the metric tables: rows, lag behind today against bravo_metrics.expected_lag_days, and the last 7 days'' rows against the 7 before.';
COMMENT ON FUNCTION bravo._bravo_doctor_count(text) IS
  'Internal: the rows of the media tool''s table name, counted up to a million and one; NULL when there is no such table.';
COMMENT ON FUNCTION bravo._bravo_freshness(boolean) IS
  'Internal: per enabled family''s table, latest date (and hour), lag, staleness and last successful sync; with with_counts also the rows per day of the last 14 days.';
COMMENT ON FUNCTION bravo._bravo_monitoring_acl(regrole, boolean) IS
  'Internal: grants (or with do_revoke, revokes) what a monitoring role needs for bravo_doctor(), bravo_schedule_status(), bravo_intraday_status() and bravo_freshness.';
COMMENT ON TABLE bravo.bravo_stale_targets IS
  'Internal: the families whose data is stale (see bravo_freshness) and since when, so that a run notifies stale and fresh changes on channel bravo_metrics once each.';
COMMENT ON FUNCTION bravo._bravo_notify_staleness(bigint) IS
  'Internal: compares bravo_freshness with bravo.bravo_stale_targets and notifies the changes on channel bravo_metrics (stale and fresh events for run run_id); returns the number of families that changed.';

-- Progress (lib.rs).
COMMENT ON VIEW @extschema@.bravo_sync_progress IS
  'Live progress of running syncs, from any session: backend pid, run_id, phase (starting, connecting, fetching, merging, finishing), the family being synced, rows fetched, compared, set aside, inserted, updated and deleted, the source''s row count when known, and the start time.';

COMMENT ON FUNCTION bravo._bravo_sync_progress_info() IS
  'Internal: every running sync''s progress slot (pid, the run log''s relation, the 12 parameters; zeros for another user''s sync unless the caller is a member of pg_read_all_stats); behind the view bravo_sync_progress.';

-- The rollup triggers already attached get their comments (bravo_report_attach gives
-- the ones it creates theirs).
DO $trigger_comments$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT tg.tgname, tg.tgrelid::pg_catalog.regclass AS rel,
                    CASE tg.tgname WHEN 'bravo_rollup_ins' THEN 'INSERT' WHEN 'bravo_rollup_upd' THEN 'UPDATE'
                                   WHEN 'bravo_rollup_del' THEN 'DELETE' ELSE 'TRUNCATE' END AS op
               FROM pg_catalog.pg_trigger tg
               JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_trigger'::pg_catalog.regclass
                                          AND d.objid = tg.oid AND d.deptype = 'e'
               JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'bravo_metrics' LOOP
        EXECUTE pg_catalog.format('COMMENT ON TRIGGER %I ON %s IS %L', t.tgname, t.rel,
                                  bravo._bravo_rollup_trigger_comment(t.op));
    END LOOP;
END
$trigger_comments$;

-- The distributed layout on Citus (citus/node.sql, citus/layout.sql).
COMMENT ON FUNCTION bravo._bravo_citus_node() IS
  'Internal: which Citus node this database is: none (no Citus here), coordinator, or worker.';
COMMENT ON FUNCTION bravo._bravo_distributed() IS
  'Internal: true when the media tool''s tables are in the distributed layout (Citus knows media_buys: bravo_distribute() ran).';
COMMENT ON FUNCTION bravo._bravo_check_not_worker() IS
  'Internal: raises (0A000) on a Citus worker node, where the coordinator syncs.';
COMMENT ON FUNCTION bravo._bravo_family_tables() IS
  'Internal: every metric family''s table that exists (daily and hourly), in catalog order.';
COMMENT ON FUNCTION bravo._bravo_as_owner(regclass, text, text) IS
  'Internal: runs a Citus call on a table as the table''s owner (its constraints and defaults never run as the superuser calling bravo_distribute).';
COMMENT ON FUNCTION bravo._bravo_distribute_table(regclass, integer) IS
  'Internal: distributes a metric table by media_buy_id, co-located with the others, unless it is distributed already; returns whether it did.';
COMMENT ON FUNCTION bravo._bravo_report_detach_triggers() IS
  'Internal: drops the rollup triggers from the media tool''s tables (Citus refuses triggers on its tables); returns how many.';
COMMENT ON FUNCTION @extschema@.bravo_distribute(integer) IS
  'Turns the media tool into the distributed layout on the coordinator of a Citus cluster: media_buys a reference table, every family table distributed by media_buy_id (co-located, shard_count shards), the reports read the metric tables. Rows kept; idempotent. One row per table.';
COMMENT ON FUNCTION bravo._bravo_rollup_sums(regclass) IS
  'Internal: coalesce(sum(x.column), 0)::type of every value column of a daily rollup, in the table''s column order.';
COMMENT ON FUNCTION bravo._bravo_campaign_literal(anyelement) IS
  'Internal (distributed layout): a campaign id as a SQL literal of media_buys.campaign_id''s type, put into each pushed-down query as a constant.';
COMMENT ON FUNCTION bravo._bravo_collect(text[]) IS
  'Internal (distributed layout): runs each query (one per family table, pushed down by Citus) and returns their rows as jsonb objects, for a local query to add up.';
COMMENT ON FUNCTION bravo._bravo_rollup_own_sums(text) IS
  'Internal (distributed layout): a daily table''s own rollup columns summed over a group of rows, named as in the rollups.';
COMMENT ON FUNCTION bravo._bravo_campaign_rows_of(anyelement) IS
  'Internal (distributed layout): the rows the campaign rollup would hold for a campaign, from the metric tables in one pushed-down query.';
COMMENT ON FUNCTION bravo._bravo_campaign_hours_of(anyelement) IS
  'Internal (distributed layout): the rows the hourly rollup would hold for a campaign, from the hourly tables in one pushed-down query.';
COMMENT ON FUNCTION bravo._bravo_buy_sums_of(anyelement, date, date) IS
  'Internal (distributed layout): per media buy of a campaign with data in the range, its first and last date and its sums there.';
COMMENT ON FUNCTION bravo._bravo_report_direct(text) IS
  'Internal: a report body for the layout in place (in the distributed layout, rollup reads become the pushed-down functions and the body runs in PL/pgSQL).';

-- No function of the extension is executable by PUBLIC.
DO $revoke$
DECLARE
    f pg_catalog.regprocedure;
BEGIN
    FOR f IN SELECT d.objid::pg_catalog.regprocedure
               FROM pg_catalog.pg_depend d
               JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
              WHERE e.extname = 'bravo_metrics' AND d.deptype = 'e'
                AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
                AND d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$revoke$;
