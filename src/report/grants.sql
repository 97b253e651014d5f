-- Reporting privileges. The install script creates no role; an administrator grants
-- reporting to an existing role (typically a NOLOGIN group of read-only users):
--
--     SELECT bravo_grant_reporting('analysts');
--
-- which grants exactly: USAGE on the extension's schema, on the media tool's schema
-- and on the internal schema bravo, SELECT on media_buys, the two metric tables and
-- the three rollups (the reporting functions are inlined SQL run with the caller's
-- rights), and EXECUTE on the reporting functions and the argument checks and helpers
-- they call (no function of the extension is executable by PUBLIC). The run log stays
-- private: the last sync time comes from
-- the SECURITY DEFINER function bravo_last_sync_at(). bravo_revoke_reporting undoes it.

-- (The four reporting functions are revoked by _bravo_report_define_api, report.sql.)
REVOKE ALL ON FUNCTION @extschema@.bravo_last_sync_at() FROM PUBLIC;

CREATE FUNCTION bravo._bravo_reporting_acl(role regrole, do_revoke boolean)
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

CREATE FUNCTION @extschema@.bravo_grant_reporting(role regrole)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT bravo._bravo_reporting_acl(role, false) $fn$;
REVOKE ALL ON FUNCTION @extschema@.bravo_grant_reporting(regrole) FROM PUBLIC;

CREATE FUNCTION @extschema@.bravo_revoke_reporting(role regrole)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$ SELECT bravo._bravo_reporting_acl(role, true) $fn$;
REVOKE ALL ON FUNCTION @extschema@.bravo_revoke_reporting(regrole) FROM PUBLIC;
