-- bravo_metrics on Citus: which node this is, and whether the media tool's tables are
-- in the distributed layout (layout.sql). Loaded early: the rollup functions
-- (report/rollup.sql) ask it while CREATE EXTENSION runs.
--
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

