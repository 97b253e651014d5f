-- bravo_metrics schema.
--
-- Ownership rule: the media tool's tables (media_buys and the metric tables) are
-- NEVER members of the extension. If they exist (a media_tool database filled by the
-- legacy job) they are used as they are, rows kept. If they are missing they are
-- created here and then detached from the extension, so that:
--   * pg_dump / pg_restore treats them as ordinary tables (data included);
--   * DROP EXTENSION bravo_metrics cannot drop them or their rows.
-- The extension's own bookkeeping (run log, set-aside rows) are members, marked with
-- pg_extension_config_dump so pg_dump keeps their rows too.
--
-- During a restore nothing is created here: the dump itself recreates these tables,
-- in their own (possibly legacy) shape, right after CREATE EXTENSION. A restore is
-- recognised by row_security = off, which pg_restore and pg_dump scripts always set
-- before CREATE EXTENSION (unless run with --enable-row-security). (PostgreSQL turns
-- check_function_bodies off for every extension script, so that is no signal.)
--
-- The extension's own schema (since 0.4.0): everything internal (the _bravo_* helpers,
-- the run log, the set-aside rows, the family catalog, the reporting rollups) lives in
-- schema bravo, a member of the extension, as pg_cron's objects live in cron. The
-- functions users call (bravo_sync, the reports, bravo_schedule_status, ...) and views
-- of the run log and the catalog stay in the schema CREATE EXTENSION was given
-- (@extschema@, usually public), so every documented call works unqualified.

DO $bravo$
BEGIN
    IF to_regnamespace('bravo') IS NOT NULL THEN
        RAISE EXCEPTION 'schema "bravo" already exists'
            USING ERRCODE = 'duplicate_schema',
                  DETAIL = 'bravo_metrics keeps its internal functions and tables in a schema of its own named bravo.',
                  HINT = 'Rename or drop the existing schema bravo, then run CREATE EXTENSION bravo_metrics again (in another schema than bravo).';
    END IF;
END
$bravo$;
CREATE SCHEMA bravo;
REVOKE ALL ON SCHEMA bravo FROM PUBLIC;

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

-- The media tool's table `name` in that schema, NULL when there is no such table. Only
-- a plain or partitioned table counts: the rollup triggers and bravo_schedule_status
-- read it as the extension's owner, and a view (or a foreign table) would run its
-- owner's code with those rights.
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

DO $bravo$
DECLARE
    media  text;   -- the media tool's schema
    idtype text;   -- media_buys.id's type: every metric table's media_buy_id has it
    worker boolean := false;
BEGIN
    IF current_setting('row_security') = 'off' THEN
        RETURN;
    END IF;
    -- On a Citus worker node (where Citus runs CREATE EXTENSION too) the media tool's
    -- tables are the coordinator's shards and shells: none is made here.
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')
       AND to_regclass('pg_catalog.pg_dist_local_group') IS NOT NULL THEN
        EXECUTE 'SELECT groupid <> 0 FROM pg_catalog.pg_dist_local_group' INTO worker;
        IF worker THEN
            RETURN;
        END IF;
    END IF;
    media := bravo._bravo_media_schema();
    IF bravo._bravo_media_table('media_buys') IS NULL THEN
        EXECUTE format($t$
        CREATE TABLE %1$s.media_buys (
            id          bigint PRIMARY KEY,
            campaign_id bigint NOT NULL,
            name        text,
            created_at  timestamptz NOT NULL DEFAULT now(),
            updated_at  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX media_buys_campaign_id_idx ON %1$s.media_buys (campaign_id, id);
        ALTER EXTENSION bravo_metrics DROP TABLE %1$s.media_buys$t$, media);
    END IF;
    -- The media tool's own key type (bigint, integer, text, varchar, uuid; since 0.4.0).
    idtype := bravo._bravo_media_buy_id_type();

    -- The metric tables made here keep 10 % of each page free (fillfactor 90): a row
    -- revised within the lookback then most often gets a HOT update (no index entry
    -- written; updated_at is in no index). Tables the media tool already has are left
    -- as they are (the README's Operations section says how to do the same for them).
    IF bravo._bravo_media_table('platform_buy_daily_impressions') IS NULL THEN
        EXECUTE format($t$
        CREATE TABLE %1$s.platform_buy_daily_impressions (
            date         date   NOT NULL,
            media_buy_id %2$s NOT NULL REFERENCES %1$s.media_buys (id),
            impressions  bigint NOT NULL DEFAULT 0 CHECK (impressions >= 0),
            clicks       bigint NOT NULL DEFAULT 0 CHECK (clicks >= 0),
            spend        numeric NOT NULL DEFAULT 0,
            created_at   timestamptz NOT NULL DEFAULT now(),
            updated_at   timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (media_buy_id, date)
        ) WITH (fillfactor = 90);
        CREATE INDEX platform_buy_daily_impressions_date_idx
            ON %1$s.platform_buy_daily_impressions (date);
        ALTER EXTENSION bravo_metrics DROP TABLE %1$s.platform_buy_daily_impressions$t$, media, idtype);
    END IF;

    IF bravo._bravo_media_table('platform_buy_daily_videos') IS NULL THEN
        EXECUTE format($t$
        CREATE TABLE %1$s.platform_buy_daily_videos (
            date              date   NOT NULL,
            media_buy_id      %2$s NOT NULL REFERENCES %1$s.media_buys (id),
            video_starts      bigint NOT NULL DEFAULT 0 CHECK (video_starts >= 0),
            video_completions bigint NOT NULL DEFAULT 0 CHECK (video_completions >= 0),
            video_views       bigint NOT NULL DEFAULT 0 CHECK (video_views >= 0),
            created_at        timestamptz NOT NULL DEFAULT now(),
            updated_at        timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (media_buy_id, date)
        ) WITH (fillfactor = 90);
        CREATE INDEX platform_buy_daily_videos_date_idx
            ON %1$s.platform_buy_daily_videos (date);
        ALTER EXTENSION bravo_metrics DROP TABLE %1$s.platform_buy_daily_videos$t$, media, idtype);
    END IF;
END
$bravo$;

-- One row per sync, manual or scheduled. A sync's row is written as 'running' by an
-- autonomous background worker when it starts (so it survives a crash), and updated
-- to 'succeeded' in the sync's own transaction, or autonomously to 'failed',
-- 'cancelled' or 'rolled_back'; a 'running' row whose backend is gone becomes
-- 'interrupted'. 'skipped' rows are written by the scheduler and run-now.
CREATE TABLE bravo.bravo_sync_runs (
    run_id          bigserial PRIMARY KEY,
    -- since 0.4.0: 'refresh' (bravo_refresh, one campaign's media buys)
    trigger         text NOT NULL CHECK (trigger IN ('manual', 'schedule', 'retry', 'catch-up', 'run-now', 'refresh', 'intraday')),
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    lookback_days   integer NOT NULL,
    window_start    date,
    status          text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled', 'skipped', 'interrupted', 'rolled_back')),
    query_ids       text[] NOT NULL DEFAULT '{}',
    sqlstate        text,
    message         text,
    detail          jsonb,
    backend_pid     integer,
    attempt         integer NOT NULL DEFAULT 1,
    -- since 0.4.0: a sync of the daily families (bravo_sync) or the hourly ones
    -- (bravo_sync_hourly, the hourly schedule)
    grain           text NOT NULL DEFAULT 'day' CHECK (grain IN ('day', 'hour'))
);
CREATE INDEX bravo_sync_runs_started_at_idx ON bravo.bravo_sync_runs (started_at);
SELECT pg_catalog.pg_extension_config_dump('bravo.bravo_sync_runs', '');
SELECT pg_catalog.pg_extension_config_dump('bravo.bravo_sync_runs_run_id_seq', '');

-- Per-target counts of each run.
CREATE TABLE bravo.bravo_sync_run_targets (
    run_id      bigint NOT NULL REFERENCES bravo.bravo_sync_runs (run_id) ON DELETE CASCADE,
    target      text   NOT NULL,
    source      text   NOT NULL,
    query_id    text,
    fetched     bigint NOT NULL DEFAULT 0,
    inserted    bigint NOT NULL DEFAULT 0,
    updated     bigint NOT NULL DEFAULT 0,
    unchanged   bigint NOT NULL DEFAULT 0,
    deleted     bigint NOT NULL DEFAULT 0,
    set_aside   bigint NOT NULL DEFAULT 0,
    ms          bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, target),
    -- since 0.4.0: 'missing_source' when the family's Snowflake relation did not exist
    -- (the family was skipped; message says what Snowflake answered)
    status      text NOT NULL DEFAULT 'synced' CHECK (status IN ('synced', 'missing_source')),
    message     text
);
SELECT pg_catalog.pg_extension_config_dump('bravo.bravo_sync_run_targets', '');

-- Source rows that were not merged, with the reason. Rows for a media buy that
-- media_buys does not have yet are retried on every later sync and marked resolved
-- once merged (or superseded by a fresher fetch of the same key).
CREATE TABLE bravo.bravo_set_aside (
    id            bigserial PRIMARY KEY,
    run_id        bigint NOT NULL,
    target        text   NOT NULL,
    reason        text   NOT NULL CHECK (reason IN ('null_key', 'negative_count', 'null_value', 'out_of_range', 'duplicate_key', 'unknown_media_buy', 'nonexistent_hour', 'ambiguous_hour')),
    detail        text,
    date          date,
    media_buy_id  bigint,
    source_row    jsonb  NOT NULL,
    set_aside_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at   timestamptz,
    resolved_run_id bigint,
    resolution    text CHECK (resolution IN ('merged', 'superseded')),
    -- since 0.4.0: the media buy id as text, whatever media_buys.id's type
    -- (media_buy_id is set for integer ids only)
    media_buy_key text,
    -- since 0.4.0: an hourly family's hour (date is NULL in its rows)
    hour_start    timestamptz
);
CREATE INDEX bravo_set_aside_open_idx ON bravo.bravo_set_aside (target, media_buy_id, date) WHERE resolved_at IS NULL;
-- since 0.4.0: the same for ids that are not integers (text, uuid)
CREATE INDEX bravo_set_aside_open_key_idx ON bravo.bravo_set_aside (target, media_buy_key, date) WHERE resolved_at IS NULL;
SELECT pg_catalog.pg_extension_config_dump('bravo.bravo_set_aside', '');
SELECT pg_catalog.pg_extension_config_dump('bravo.bravo_set_aside_id_seq', '');

REVOKE ALL ON bravo.bravo_sync_runs, bravo.bravo_sync_run_targets, bravo.bravo_set_aside FROM PUBLIC;

-- The run log and the set-aside rows as the user reads them, unqualified as before
-- 0.4.0: plain views of the tables in schema bravo, run with the caller's rights
-- (security_invoker: reading one needs the privilege on the table behind it too).
CREATE VIEW @extschema@.bravo_sync_runs WITH (security_invoker = true) AS
    SELECT * FROM bravo.bravo_sync_runs;
CREATE VIEW @extschema@.bravo_sync_run_targets WITH (security_invoker = true) AS
    SELECT * FROM bravo.bravo_sync_run_targets;
CREATE VIEW @extschema@.bravo_set_aside WITH (security_invoker = true) AS
    SELECT * FROM bravo.bravo_set_aside;
REVOKE ALL ON @extschema@.bravo_sync_runs, @extschema@.bravo_sync_run_targets, @extschema@.bravo_set_aside FROM PUBLIC;
