//! bravo_metrics: Snowflake performance metrics synced, scheduled and reported inside
//! PostgreSQL.
//!
//! This crate is the PostgreSQL side only: SPI cursors and writes, setting
//! registration, background workers and the SQL. The pure logic (targets, validation,
//! source queries, the sorted-stream comparison, schedules, run status and trigger)
//! is the pgrx-free crate `bravo_core` (`crates/core`); the Snowflake client is the
//! pgrx-free crate `bravo_snowflake` (`crates/snowflake`).
//!
//! Map of the crate, lowest layer first (a module uses only modules of the layers
//! above it; `tests/structure.rs` checks this, and the README draws it):
//! * `error`, `settings`, `report/` — errors mapped to SQLSTATE / DETAIL / HINT at the
//!   boundary; every `bravo_metrics.*` setting, in one place, with typed accessors;
//!   campaign reporting (SQL only).
//! * `schemas`, `secrets`, `runtime`, `txn`, `citus/` — where the extension's objects
//!   live (the media tool's schema and `bravo`); secret files (passwords, tokens, keys
//!   never live in settings); the one bridge between the backend and async network
//!   code; worker transactions that survive errors; the distributed layout on Citus.
//! * `runlog/`   — the run log (syncs and exports), failed runs written autonomously.
//! * `sync/`     — `bravo_sync`: fetch from Snowflake, validate, compare with the
//!   target's window while streaming, write the differences.
//! * `doctor/`, `export/` — `bravo_doctor()`; `bravo_export`, the complete export to
//!   S3 or a directory.
//! * `schedule/` — the scheduler worker, run-now and the status.

use pgrx::prelude::*;

pub mod citus;
pub mod doctor;
pub mod error;
pub mod export;
pub mod report;
pub mod runlog;
pub mod runtime;
pub mod schedule;
pub mod schemas;
pub mod secrets;
pub mod settings;
pub mod sync;
pub mod txn;

::pgrx::pg_module_magic!(name, version);

pgrx::extension_sql_file!("schema.sql", name = "schema", bootstrap);
pgrx::extension_sql_file!("families.sql", name = "families", requires = ["schema"]);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // Clients never see a Rust backtrace: pgrx attaches the one captured at a panic to
    // the error's DETAIL whenever std's capture is on (RUST_BACKTRACE in the server's
    // environment). Turn library capture off before anything could capture one.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    settings::init();
    schedule::init();
}

/// One row per family a sync filled (the columns of `bravo_sync` and
/// `bravo_sync_hourly`, whose signatures spell them: pgrx reads `name!()` inline).
pub(crate) type SyncRows = TableIterator<'static, (String, i64, i64, i64, i64, i64, i64, i64, i64)>;

/// Pulls the last `lookback_days` days of every daily source from Snowflake and
/// merges them into the metric tables, atomically. One row per target.
#[allow(clippy::type_complexity)] // pgrx's name!() columns must be spelled inline
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn bravo_sync(
    lookback_days: default!(Option<i32>, 30),
    wait: default!(Option<bool>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(target, String),
        name!(fetched, i64),
        name!(inserted, i64),
        name!(updated, i64),
        name!(unchanged, i64),
        name!(deleted, i64),
        name!(set_aside, i64),
        name!(ms, i64),
        name!(run_id, i64),
    ),
> {
    manual_sync(bravo_core::grain::Grain::Day, lookback_days, wait)
}

/// The same for the hourly families (`bravo_families.grain = 'hour'`), over their own
/// lookback: `bravo_metrics.hourly_lookback_days` when `lookback_days` is NULL.
#[allow(clippy::type_complexity)] // pgrx's name!() columns must be spelled inline
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn bravo_sync_hourly(
    lookback_days: default!(Option<i32>, "NULL"),
    wait: default!(Option<bool>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(target, String),
        name!(fetched, i64),
        name!(inserted, i64),
        name!(updated, i64),
        name!(unchanged, i64),
        name!(deleted, i64),
        name!(set_aside, i64),
        name!(ms, i64),
        name!(run_id, i64),
    ),
> {
    let lookback = lookback_days.or_else(|| Some(settings::HOURLY_LOOKBACK_DAYS.get()));
    manual_sync(bravo_core::grain::Grain::Hour, lookback, wait)
}

/// A short-window sync of one campaign's media buys, for someone looking at the
/// campaign now: the daily families, the last `lookback_days` days (default 3), only
/// the media buys `media_buys` gives the campaign (the filter goes to Snowflake as bind
/// variables). Same guarantees and run log as `bravo_sync` (trigger `refresh`).
#[allow(clippy::type_complexity)]
#[pg_extern(security_definer, volatile, parallel_unsafe, name = "bravo_refresh")]
#[search_path(pg_catalog, pg_temp)]
fn bravo_refresh_bigint(
    campaign_id: Option<i64>,
    lookback_days: default!(Option<i32>, 3),
    wait: default!(Option<bool>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(target, String),
        name!(fetched, i64),
        name!(inserted, i64),
        name!(updated, i64),
        name!(unchanged, i64),
        name!(deleted, i64),
        name!(set_aside, i64),
        name!(ms, i64),
        name!(run_id, i64),
    ),
> {
    sync::refresh::run(campaign_id.map(|c| c.to_string()), lookback_days, wait)
}

/// [`bravo_refresh_bigint`] for campaign ids of other types (text, uuid, ...).
#[allow(clippy::type_complexity)]
#[pg_extern(security_definer, volatile, parallel_unsafe, name = "bravo_refresh")]
#[search_path(pg_catalog, pg_temp)]
fn bravo_refresh_text(
    campaign_id: Option<String>,
    lookback_days: default!(Option<i32>, 3),
    wait: default!(Option<bool>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(target, String),
        name!(fetched, i64),
        name!(inserted, i64),
        name!(updated, i64),
        name!(unchanged, i64),
        name!(deleted, i64),
        name!(set_aside, i64),
        name!(ms, i64),
        name!(run_id, i64),
    ),
> {
    sync::refresh::run(campaign_id, lookback_days, wait)
}

/// The intraday refresh: per enabled daily family with a change column, only the rows
/// of the last `lookback_days` days changed since its high-water mark (minus
/// `bravo_metrics.intraday_safety_lag`), merged with the same guarantees as `bravo_sync`
/// (trigger `intraday`). Deletions and set-aside rows wait for the next `bravo_sync`.
#[allow(clippy::type_complexity)]
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn bravo_sync_intraday(
    lookback_days: default!(Option<i32>, 30),
    wait: default!(Option<bool>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(target, String),
        name!(fetched, i64),
        name!(inserted, i64),
        name!(updated, i64),
        name!(unchanged, i64),
        name!(deleted, i64),
        name!(set_aside, i64),
        name!(ms, i64),
        name!(run_id, i64),
    ),
> {
    sync::intraday::run(lookback_days, wait)
}

fn manual_sync(
    grain: bravo_core::grain::Grain,
    lookback_days: Option<i32>,
    wait: Option<bool>,
) -> SyncRows {
    let lookback = sync::check_lookback(lookback_days).unwrap_or_else(|e| e.raise());
    let overlap = settings::overlap_policy(wait);
    let req = sync::SyncRequest {
        grain,
        lookback_days: lookback,
        trigger: bravo_core::Trigger::Manual,
        overlap,
        run_id: None,
        attempt: 1,
        scope: None,
        changes_only: false,
    };
    run_rows(&req)
}

/// Runs `req` and returns its targets' rows (the shape of `bravo_sync`).
pub(crate) fn run_rows(req: &sync::SyncRequest) -> SyncRows {
    match sync::run(req) {
        Ok(rec) => TableIterator::new(rec.targets.into_iter().map(move |t| {
            (
                t.target,
                t.fetched,
                t.inserted,
                t.updated,
                t.unchanged,
                t.deleted,
                t.set_aside,
                t.ms,
                rec.run_id,
            )
        })),
        Err(sync::SyncError::Busy(e)) | Err(sync::SyncError::Invalid(e)) => e.raise(),
        Err(sync::SyncError::Failed(failed)) => error::raise_clean(failed.error),
    }
}

pgrx::extension_sql!(
    r#"
REVOKE ALL ON FUNCTION bravo_sync(integer, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION bravo_sync_hourly(integer, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION bravo_sync_intraday(integer, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION bravo_refresh(bigint, integer, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION bravo_refresh(text, integer, boolean) FROM PUBLIC;

-- Live progress of running syncs (see src/sync/progress.rs for the slot layout: the
-- sync's own progress command, which no pg_stat_progress_* view lists); the family
-- being synced is the n-th enabled one of the catalog.
ALTER FUNCTION @extschema@._bravo_sync_progress_info() SET SCHEMA bravo;
CREATE VIEW bravo_sync_progress AS
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
"#,
    name = "progress_view",
    requires = [
        "schema",
        "families",
        sync::progress::_bravo_sync_progress_info,
        bravo_sync,
        bravo_sync_hourly,
        bravo_sync_intraday,
        bravo_refresh_bigint,
        bravo_refresh_text
    ],
);

// The comments on every object of the extension (\df+, \dv+, \dt+, \dx+), once they
// all exist; before revoke_public (finalize, which comes after every other block).
pgrx::extension_sql_file!(
    "comments.sql",
    name = "comments",
    requires = [
        "schema",
        "families",
        "export_runs",
        "report_hourly",
        "report_rollup",
        "report",
        "report_grants",
        "schedule_status",
        "intraday_status",
        "doctor",
        "progress_view",
        "sweep_interrupted_privileges",
        "run_now_privileges",
        bravo_sync,
        bravo_sync_hourly,
        bravo_sync_intraday,
        bravo_refresh_bigint,
        bravo_refresh_text,
        export::bravo_export,
        export::bravo_export_url,
        schedule::run_now::bravo_run_now,
        schedule::status::bravo_scheduler_state,
        schedule::status::_bravo_hourly_next_run,
        sync::progress::_bravo_sync_progress_info,
        schedule::status::_bravo_intraday_next_run,
        runlog::stale::sweep_interrupted_sql,
        doctor::_bravo_doctor_snowflake
    ],
);

// Last in the install script: no function of the extension is executable by PUBLIC.
// Superusers can run everything; bravo_grant_reporting(role) grants a reporting role
// exactly what the reporting functions need; bravo_sync, bravo_run_now and
// bravo_schedule_status are granted by hand (README, "Security model").
pgrx::extension_sql!(
    r#"
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
"#,
    name = "revoke_public",
    finalize,
    requires = ["comments"],
);

#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
