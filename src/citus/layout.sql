-- bravo_metrics on Citus (since 0.4.0): the distributed layout, for media tools that
-- outgrow one node (README, "Scale-out on Citus").
--
-- The layout: media_buys is a reference table (a copy on every node); every metric
-- table (each family's, daily and hourly) is distributed by media_buy_id, all
-- co-located, so one media buy's rows of every family sit on the same node next to
-- its media_buys row. bravo_distribute() turns a single-node media tool into it (rows
-- kept: Citus copies them into the shards).
--
-- What changes, and why:
--   * Citus refuses triggers on distributed and reference tables (unless
--     citus.enable_unsafe_triggers, whose triggers run on the shards, without the
--     coordinator's view). The reporting rollups' triggers go, and the rollups with
--     them: in the distributed layout the reports aggregate the metric tables
--     directly, in queries Citus pushes down to every shard (each node sums its own
--     media buys' rows; the coordinator adds up one row per day and node). So the
--     reports are exact at every moment (a direct edit, a campaign move) and a sync
--     writes no rollup at all.
--   * The report bodies (report.sql) read the rollups through
--     _bravo_campaign_rows_of / _bravo_campaign_hours_of / _bravo_buy_sums_of instead
--     (_bravo_report_bodies swaps them in when _bravo_distributed()).
--   * bravo_sync, the scheduler, run-now, the run log and the export run on the
--     coordinator; its writes are one distributed transaction (two-phase commit
--     across the nodes), so a sync is still all or nothing.
--   * Worker nodes need the package installed (Citus runs CREATE EXTENSION of every
--     extension created after a node joined on that node too) but not preloaded;
--     there the extension creates no table, and bravo_sync refuses to run.
--   * Citus copies a table's rows into its shards, evaluating its constraints and
--     defaults: that runs as the table's owner (_bravo_as_owner), never as the
--     superuser who calls bravo_distribute(), as PostgreSQL's own maintenance
--     commands do.

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
