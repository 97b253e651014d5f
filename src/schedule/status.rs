//! `bravo_schedule_status()`: is the scheduler loaded and enabled, what is its schedule,
//! when is the next run, how did the last runs go, and how fresh is the data.
//!
//! The worker-side facts come from [`bravo_scheduler_state`] (the schedule in force,
//! the next run and the connection attempts the worker published in shared memory,
//! and the settings); the run log and the metric tables are read in SQL.
//! Runs left `running` by a crash are marked `interrupted` first
//! (`crate::runlog::stale`). `consecutive_failures` counts the runs since the last
//! success that merged nothing: failed, cancelled, interrupted and rolled back ones
//! (not running or skipped ones).

use chrono::Utc;
use pgrx::prelude::*;

use super::shared::{self, Conn};
use crate::settings;
use bravo_core::schedule::plan::{Kind, Schedule, CONNECT_ADVICE};

const NOT_LOADED_HINT: &str = "The scheduler is not loaded: add bravo_metrics to shared_preload_libraries (ALTER SYSTEM SET shared_preload_libraries = 'bravo_metrics') and restart PostgreSQL. bravo_sync() and bravo_run_now() work without it.";
const DISABLED_HINT: &str = "The scheduler is disabled: ALTER SYSTEM SET bravo_metrics.scheduler_enabled = on; SELECT pg_reload_conf();";

fn fmt_time(t: chrono::DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Why the scheduler cannot reach `database`, if it cannot.
fn connection_hint(database: &str) -> Option<String> {
    if !crate::settings::database_exists(database) {
        return Some(format!(
            "bravo_metrics.scheduler_database is '{database}', but there is no such database (SELECT datname FROM pg_catalog.pg_database): the scheduler cannot connect and runs nothing; it retries with a growing wait (up to 5 minutes). Create the database (and CREATE EXTENSION bravo_metrics in it) or name an existing one: ALTER SYSTEM SET bravo_metrics.scheduler_database = '<database>'; then SELECT pg_reload_conf(); to retry at once."
        ));
    }
    let conn = shared::conn_view()?;
    if conn.database != database
        || conn.failures == 0
        || !matches!(conn.state, Conn::Failed | Conn::Waiting)
    {
        return None;
    }
    let next = match conn.next_attempt {
        Some(t) if conn.state == Conn::Waiting => format!("next attempt at {}", fmt_time(t)),
        _ => "next attempt soon".to_string(),
    };
    Some(format!(
        "The scheduler cannot connect to database '{database}' ({} failed attempt{} in a row{}; {next}) and runs nothing until it can. {CONNECT_ADVICE} Once fixed, SELECT pg_reload_conf(); retries at once.",
        conn.failures,
        if conn.failures == 1 { "" } else { "s" },
        conn.error
            .map(|e| format!(", the last: {e}"))
            .unwrap_or_default(),
    ))
}

/// The scheduler's own view: the schedule in force and the next run as the worker
/// published them (computed from the settings until it has), and what needs fixing.
#[allow(clippy::type_complexity)]
#[pg_extern(stable, parallel_safe)]
fn bravo_scheduler_state() -> TableIterator<
    'static,
    (
        name!(loaded, bool),
        name!(enabled, bool),
        name!(database, Option<String>),
        name!(schedule, Option<String>),
        name!(time_zone, Option<String>),
        name!(next_run_epoch_us, Option<i64>),
        name!(next_run_kind, Option<String>),
        name!(hint, Option<String>),
    ),
> {
    let loaded = shared::preloaded();
    let enabled = settings::SCHEDULER_ENABLED.get();
    let database = settings::get_str(&settings::SCHEDULER_DATABASE);
    let published = shared::schedule_state();
    let (schedule, zone) = match &published {
        Some(p) => match &p.in_force {
            Some((expr, zone)) => (Some(expr.clone()), Some(zone.clone())),
            None => (None, None),
        },
        None => (
            settings::get_str(&settings::SCHEDULE),
            settings::get_str(&settings::SCHEDULE_TIME_ZONE).or_else(|| Some("UTC".into())),
        ),
    };
    let mut hints: Vec<String> = Vec::new();
    let mut runs = loaded && enabled;
    if !loaded {
        hints.push(NOT_LOADED_HINT.to_string());
    } else {
        if let Some(h) = connection_hint(database.as_deref().unwrap_or("postgres")) {
            hints.push(h);
            runs = false;
        }
        if let Some(h) = published.as_ref().and_then(|p| p.hint.clone()) {
            hints.push(h);
        }
        if !enabled {
            hints.push(DISABLED_HINT.to_string());
        }
    }
    let next = if runs {
        match &published {
            Some(_) => shared::next_run(),
            None => shared::next_run().or_else(|| {
                let s = Schedule::parse(schedule.as_deref()?, zone.as_deref()?).ok()?;
                s.next_after(Utc::now()).map(|t| (t, Kind::Schedule))
            }),
        }
    } else {
        None
    };
    TableIterator::once((
        loaded,
        enabled,
        database,
        schedule,
        zone,
        next.map(|(t, _)| t.timestamp_micros()),
        next.map(|(_, k)| k.as_str().to_string()),
        (!hints.is_empty()).then(|| hints.join(" ")),
    ))
}

/// The next run of the hourly families' schedule (`bravo_metrics.hourly_schedule`, in
/// `schedule_time_zone`), as Unix microseconds: NULL when there is none, or the
/// scheduler is not loaded or disabled. (The worker computes the same from the same
/// settings.)
#[pg_extern(stable, parallel_safe)]
fn _bravo_hourly_next_run() -> Option<i64> {
    next_run_of(&settings::HOURLY_SCHEDULE)
}

/// The same for the intraday refresh (`bravo_metrics.intraday_schedule`).
#[pg_extern(stable, parallel_safe)]
fn _bravo_intraday_next_run() -> Option<i64> {
    next_run_of(&settings::INTRADAY_SCHEDULE)
}

fn next_run_of(setting: &pgrx::GucSetting<Option<std::ffi::CString>>) -> Option<i64> {
    if !shared::preloaded() || !settings::SCHEDULER_ENABLED.get() {
        return None;
    }
    let expr = settings::get_str(setting)?;
    let zone = settings::get_str(&settings::SCHEDULE_TIME_ZONE).unwrap_or_else(|| "UTC".into());
    let s = Schedule::parse(&expr, &zone).ok()?;
    s.next_after(Utc::now()).map(|t| t.timestamp_micros())
}

pgrx::extension_sql!(
    r#"
-- The scheduler's own view is internal: bravo_schedule_status() shows it.
ALTER FUNCTION @extschema@.bravo_scheduler_state() SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_hourly_next_run() SET SCHEMA bravo;
ALTER FUNCTION @extschema@._bravo_intraday_next_run() SET SCHEMA bravo;
REVOKE ALL ON FUNCTION bravo._bravo_intraday_next_run() FROM PUBLIC;

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

CREATE FUNCTION bravo_schedule_status()
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

COMMENT ON FUNCTION bravo_schedule_status() IS
  'Scheduler state (loaded, enabled, schedule, next run), last run and last success, consecutive failures (failed, cancelled, interrupted or rolled back runs since the last success), data freshness (latest date per metric table and its lag behind today in bravo_metrics.sync_time_zone), and the metric families the last run skipped because their source relation is missing (also in hint); the last run, last success and failures are of the daily families (bravo_sync); the hourly_* columns are the hourly families'' schedule, next run, last run and success, and the days whose hours disagree with the daily rows over the hourly lookback (bravo_reconcile_hourly). Marks runs left running by a crash interrupted first.';

REVOKE ALL ON FUNCTION bravo_schedule_status() FROM PUBLIC;
REVOKE ALL ON FUNCTION bravo.bravo_scheduler_state() FROM PUBLIC;
"#,
    name = "schedule_status",
    requires = [
        "schema",
        "families",
        bravo_scheduler_state,
        _bravo_hourly_next_run,
        _bravo_intraday_next_run,
        runlog::stale::sweep_interrupted_sql
    ],
);
