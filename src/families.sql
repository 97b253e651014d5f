-- bravo_metrics metric families, as data (since 0.4.0).
--
-- A family is one metric table of the media tool filled from one Snowflake relation:
-- its PostgreSQL table, its source, its grain and key, and its metric columns with
-- their kinds. bravo_sync reads this catalog at the start of every run: enabling,
-- disabling or re-pointing a family, or adding a metric column to it, is a change of
-- rows here, not a rebuild. The shipped rows are bravo_core::target::builtin()
-- (a test checks they agree).
--
-- Only superusers change the catalog (it names the tables bravo_sync writes as their
-- owners); table and column names are plain lower-case identifiers, checked here and
-- again when read.

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

-- Enables a family: creates its metric table in the media tool's schema if missing
-- (not an extension member, like the other metric tables: DROP EXTENSION keeps it
-- and its rows), adds metric columns the catalog names and the table lacks, attaches
-- the reporting rollup's triggers to a shipped family's table, and sets enabled (and
-- required, unless NULL: kept). Idempotent. Returns the table.
CREATE FUNCTION @extschema@.bravo_enable_family(family text, required boolean DEFAULT NULL)
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
