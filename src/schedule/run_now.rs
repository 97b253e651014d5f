//! `bravo_run_now()`: start a sync in the background right away and return its run id.
//!
//! The sync runs in a dynamic background worker (no `shared_preload_libraries`
//! needed), connected to the caller's database as the function's owner, through the
//! same [`exec::run`] as a scheduled run; its row has trigger `run-now` and the
//! returned run id.

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;

use super::exec::{self, Outcome};
use crate::error::BravoError;
use crate::runlog;
use crate::settings::{self, OverlapPolicy};
use crate::txn;
use bravo_core::{RunStatus, Trigger};

use crate::sync::{self, SyncRequest};

pub const BGW_TYPE: &str = "bravo_metrics run-now";

/// Starts a sync of the last `bravo_metrics.scheduler_lookback_days` days in the
/// background and returns its run id; follow it in `bravo_sync_progress` and
/// `bravo_sync_runs`.
///
/// Its search path holds nothing but `pg_catalog` (and `pg_temp` last): every object of
/// the extension it touches is named with the extension's schema.
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn bravo_run_now() -> i64 {
    crate::error::refuse_on_standby("bravo_run_now").unwrap_or_else(|e| e.raise());
    let lookback = sync::check_lookback(Some(settings::SCHEDULER_LOOKBACK_DAYS.get()))
        .unwrap_or_else(|e| e.raise());
    let schema = runlog::log_schema().unwrap_or_else(|e| e.raise());
    let run_id = runlog::next_run_id(&schema).unwrap_or_else(|e| e.raise());
    let overlap = match settings::SCHEDULER_OVERLAP.get() {
        OverlapPolicy::Skip => 0,
        OverlapPolicy::Wait => 1,
    };
    // SAFETY: reads of this backend's database (set once at connection) and current user
    // (GetUserId only asserts that it is set, which it is inside a SQL function call), on
    // the backend's main thread.
    let (db, user) = unsafe {
        (
            u32::from(pg_sys::MyDatabaseId),
            u32::from(pg_sys::GetUserId()),
        )
    };
    let extra = format!("{db} {user} {run_id} {lookback} {overlap}");
    let worker = BackgroundWorkerBuilder::new(BGW_TYPE)
        .set_type(BGW_TYPE)
        .set_library("bravo_metrics")
        .set_function("bravo_run_now_main")
        .set_extra(&extra)
        .enable_spi_access()
        .set_restart_time(None)
        // SAFETY: a read of this backend's pid, set once at process start.
        .set_notify_pid(unsafe { pg_sys::MyProcPid })
        .load_dynamic()
        .unwrap_or_else(|_| {
            BravoError::new(
                PgSqlErrorCode::ERRCODE_CONFIGURATION_LIMIT_EXCEEDED,
                "cannot start the run-now worker: no background worker slot is free",
            )
            .hint("Raise max_worker_processes, or wait for running workers to finish.")
            .raise()
        });
    if let Err(status) = worker.wait_for_startup() {
        BravoError::new(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("the run-now worker did not start ({status:?})"),
        )
        .raise()
    }
    run_id
}

pgrx::extension_sql!(
    "REVOKE ALL ON FUNCTION bravo_run_now() FROM PUBLIC;",
    name = "run_now_privileges",
    requires = [bravo_run_now],
);

fn parse_extra(extra: &str) -> Option<(u32, u32, i64, i32, OverlapPolicy)> {
    let mut it = extra.split_whitespace();
    let db = it.next()?.parse().ok()?;
    let user = it.next()?.parse().ok()?;
    let run_id = it.next()?.parse().ok()?;
    let lookback = it.next()?.parse().ok()?;
    let overlap = match it.next()? {
        "1" => OverlapPolicy::Wait,
        _ => OverlapPolicy::Skip,
    };
    Some((db, user, run_id, lookback, overlap))
}

/// Entry point of the run-now worker.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn bravo_run_now_main(_arg: pg_sys::Datum) {
    txn::install_sigterm_handler();
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP);
    let Some((db, user, run_id, lookback, overlap)) = parse_extra(BackgroundWorker::get_extra())
    else {
        pgrx::warning!("bravo_metrics run-now: bad worker arguments");
        return;
    };
    BackgroundWorker::connect_worker_to_spi_by_oid(
        Some(pg_sys::Oid::from(db)),
        Some(pg_sys::Oid::from(user)),
    );
    let req = SyncRequest {
        grain: bravo_core::grain::Grain::Day,
        lookback_days: lookback,
        trigger: Trigger::RunNow,
        overlap,
        run_id: Some(run_id),
        attempt: 1,
        scope: None,
        changes_only: false,
    };
    txn::report_activity(Some("run-now sync"));
    match txn::in_transaction(|| exec::run(&req, false)) {
        Ok(Outcome::Succeeded { .. }) => {
            pgrx::log!(
                "bravo_metrics run-now: {}",
                exec::describe(Trigger::RunNow, 1, &Outcome::Succeeded { run_id })
            )
        }
        Ok(outcome) => pgrx::warning!(
            "bravo_metrics run-now: {}",
            exec::describe(Trigger::RunNow, 1, &outcome)
        ),
        Err(message) => {
            // The caller has the run id: leave a row that says what happened.
            pgrx::warning!("bravo_metrics run-now: run {run_id} ended with an error: {message}");
            let err = BravoError::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, message);
            let _ = txn::in_transaction(|| {
                if let Ok(schema) = runlog::log_schema() {
                    exec::record(&schema, &req, RunStatus::Failed, &err);
                }
            });
        }
    }
}
