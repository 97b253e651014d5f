//! Runs left `running` by a backend that is gone become `interrupted`.
//!
//! A sync's `running` row is committed (by the writer worker) while the sync holds
//! the single-sync lock, a transaction-level advisory lock that its backend keeps
//! until the sync's transaction ends, and every way a run ends normally (success,
//! failure, cancel, termination, rollback) rewrites the row before that lock goes
//! away. So a `running` row is **live** exactly while the backend that wrote it holds
//! the sync lock: its pid is the row's `backend_pid` and, since a pid can be reused,
//! that backend started no later than the run. Anything else is stale: its backend
//! crashed, was killed with SIGKILL (the postmaster then restarts every backend),
//! went down with `pg_ctl stop -m immediate`, or (rarely) could not record the end of
//! the run in time; its transaction did not commit, so nothing it fetched was merged.
//!
//! The check errs on the side of "live": a backend whose start time is not visible,
//! or that holds the lock for a later run of its own, keeps the row `running` until
//! it lets go of the lock. The sweep locks the rows it marks with `SKIP LOCKED`, so it
//! never waits for (or overrides) a transaction that is writing a row itself.
//!
//! Sweeps happen at the scheduler's start (when preloaded), in the writer worker
//! every sync starts (so right after a crash the next sync cleans up), and from
//! `bravo_schedule_status()` (so it works without preload).

use std::time::Duration;

use bravo_core::RunStatus;
use pgrx::prelude::*;

use crate::error::BravoError;

/// The single-sync lock's keys (see `src/sync/lock.rs`, whose constants these
/// repeat: `pg_try_advisory_xact_lock(0x6272_6176, 0x7379_6e63)`, shown in
/// `pg_locks` as classid / objid with objsubid 2).
const SYNC_LOCK_KEY1: i64 = 0x6272_6176;
const SYNC_LOCK_KEY2: i64 = 0x7379_6e63;

/// SQL: the `bravo_sync_runs` row aliased `s` (status `running`) is stale.
fn stale_predicate() -> String {
    format!(
        "s.status = '{running}'
         AND NOT EXISTS (
             SELECT 1 FROM pg_catalog.pg_locks l
               LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND l.granted
                AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
                AND l.classid = {SYNC_LOCK_KEY1}::oid AND l.objid = {SYNC_LOCK_KEY2}::oid AND l.objsubid = 2
                AND l.pid = s.backend_pid
                AND (a.backend_start IS NULL OR a.backend_start <= s.started_at))",
        running = RunStatus::Running.as_str()
    )
}

/// What an `interrupted` row says (a `format()` string: `%s` is the backend's pid).
pub const INTERRUPTED_MESSAGE: &str = "bravo_sync was interrupted: its backend (pid %s) stopped running it without recording how it ended (server crash or immediate shutdown, the process was killed, or its end could not be written in time); its transaction did not commit, nothing was merged";

/// Marks every stale `running` row (except run `exclude`) `interrupted`, in the
/// current transaction, which should be READ COMMITTED (the writer worker's and the
/// scheduler's are). Returns how many. Rows another transaction has locked are
/// skipped. Without the extension in this database, does nothing.
pub fn sweep_here(exclude: i64) -> Result<i64, BravoError> {
    let Ok(schema) = super::log_schema() else {
        return Ok(0);
    };
    let sql = format!(
        "WITH marked AS (
           UPDATE {schema}.bravo_sync_runs r
              SET status = '{interrupted}', finished_at = pg_catalog.clock_timestamp(),
                  message = pg_catalog.format($2, r.backend_pid)
            WHERE r.run_id IN (SELECT s.run_id FROM {schema}.bravo_sync_runs s
                                WHERE {} AND s.run_id <> $1
                                  FOR UPDATE OF s SKIP LOCKED)
              AND r.status = '{running}'
           RETURNING r.run_id)
         SELECT pg_catalog.count(*) FROM marked",
        stale_predicate(),
        interrupted = RunStatus::Interrupted.as_str(),
        running = RunStatus::Running.as_str(),
    );
    let n = Spi::connect_mut(|c| {
        c.update(&sql, None, &[exclude.into(), INTERRUPTED_MESSAGE.into()])?
            .first()
            .get_one::<i64>()
    })
    .map_err(|e| BravoError::internal("cannot mark interrupted runs", e))?
    .unwrap_or(0);
    Ok(n)
}

/// Whether this transaction sees a stale `running` row (a cheap read; nothing is
/// written).
pub fn any_stale(schema: &str) -> bool {
    Spi::get_one::<bool>(&format!(
        "SELECT EXISTS (SELECT 1 FROM {schema}.bravo_sync_runs s WHERE {})",
        stale_predicate()
    ))
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// Marks stale `running` rows `interrupted` from any session: when this
/// transaction sees one, a writer worker marks them in a transaction of its own
/// (re-checking each) and this waits for it (at most 5 s). Returns how many were
/// marked. Does nothing on a standby. Called by `bravo_schedule_status()`.
#[pg_extern(name = "_bravo_sweep_interrupted", volatile, parallel_unsafe)]
fn sweep_interrupted_sql() -> i64 {
    // SAFETY: a plain function of the backend with no arguments, called in a backend.
    if unsafe { pg_sys::RecoveryInProgress() } {
        return 0;
    }
    let Ok(schema) = super::log_schema() else {
        return 0;
    };
    if !any_stale(&schema) {
        return 0;
    }
    match super::autonomous::sweep(Duration::from_secs(5)) {
        Ok(n) => n,
        Err(why) => {
            pgrx::warning!(
                "{}: could not mark interrupted runs: {why}",
                super::autonomous::log_prefix()
            );
            0
        }
    }
}

pgrx::extension_sql!(
    "ALTER FUNCTION @extschema@._bravo_sweep_interrupted() SET SCHEMA bravo;
REVOKE ALL ON FUNCTION bravo._bravo_sweep_interrupted() FROM PUBLIC;",
    name = "sweep_interrupted_privileges",
    requires = ["schema", sweep_interrupted_sql],
);
