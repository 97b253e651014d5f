//! One sync started by the scheduler or by run-now: the same [`sync::run`] a manual
//! `bravo_sync` call uses, plus the run-log rows the sync itself does not write (a
//! skipped run, a run refused before it started).

use bravo_core::{RunStatus, Trigger};
use pgrx::prelude::*;

use crate::error::BravoError;
use crate::runlog::{self, RunRecord};
use crate::sync::{self, SyncError, SyncRequest};

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded {
        run_id: i64,
    },
    /// Failed (or cancelled); the run row is written and the tables are unchanged.
    Failed {
        run_id: i64,
        cancelled: bool,
        message: String,
    },
    /// Another sync held the lock and the overlap policy is skip.
    Skipped {
        run_id: i64,
        message: String,
    },
    /// The extension is not installed in this database.
    NotInstalled,
}

/// Runs one sync in the current transaction and records it. Raises only when even the
/// run log cannot be written.
pub fn run(req: &SyncRequest, apply_settings: bool) -> Outcome {
    let Ok(schema) = runlog::log_schema() else {
        return Outcome::NotInstalled;
    };
    if apply_settings {
        if let Err(e) = crate::txn::apply_database_settings() {
            let err = BravoError::new(
                PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
                format!("cannot apply the database's bravo_metrics settings: {e}"),
            );
            let run_id = record(&schema, req, RunStatus::Failed, &err);
            return Outcome::Failed {
                run_id,
                cancelled: false,
                message: err.message,
            };
        }
    }
    match sync::run(req) {
        Ok(rec) => Outcome::Succeeded { run_id: rec.run_id },
        Err(SyncError::Busy(e)) => Outcome::Skipped {
            run_id: record(&schema, req, RunStatus::Skipped, &e),
            message: e.message,
        },
        Err(SyncError::Invalid(e)) => Outcome::Failed {
            run_id: record(&schema, req, RunStatus::Failed, &e),
            cancelled: false,
            message: e.message,
        },
        Err(SyncError::Failed(failed)) => Outcome::Failed {
            run_id: failed.record.run_id,
            cancelled: failed.record.status == RunStatus::Cancelled,
            message: failed.record.message.clone().unwrap_or_default(),
        },
    }
}

/// Writes a run row for a run that did not get as far as the sync (skipped, refused),
/// in the current transaction. Returns its run id.
pub fn record(schema: &str, req: &SyncRequest, status: RunStatus, err: &BravoError) -> i64 {
    let run_id = match req.run_id {
        Some(id) => id,
        None => runlog::next_run_id(schema).unwrap_or_else(|e| e.raise()),
    };
    let rec = RunRecord {
        run_id,
        trigger: req.trigger,
        started_at: chrono::Utc::now().to_rfc3339(),
        lookback_days: req.lookback_days,
        window_start: None,
        status,
        sqlstate: Some(crate::error::sqlstate_text(err.code)),
        message: Some(err.message.clone()),
        detail: None,
        // SAFETY: a read of this backend's pid, set once at process start.
        backend_pid: unsafe { pg_sys::MyProcPid },
        attempt: req.attempt,
        targets: Vec::new(),
        grain: req.grain,
    };
    runlog::insert(schema, &rec).unwrap_or_else(|e| e.raise());
    run_id
}

/// One line for the server log (no secrets: messages are redacted at the source).
pub fn describe(trigger: Trigger, attempt: i32, outcome: &Outcome) -> String {
    let what = if attempt > 1 {
        format!("{trigger} run (attempt {attempt})")
    } else {
        format!("{trigger} run")
    };
    match outcome {
        Outcome::Succeeded { run_id } => format!("{what} {run_id} succeeded"),
        Outcome::Failed {
            run_id,
            cancelled: true,
            message,
        } => format!("{what} {run_id} was cancelled: {message}"),
        Outcome::Failed {
            run_id, message, ..
        } => format!("{what} {run_id} failed: {message}"),
        Outcome::Skipped { run_id, message } => {
            format!("{what} {run_id} skipped: {message}")
        }
        Outcome::NotInstalled => {
            format!("{what} not started: extension bravo_metrics is not installed in this database")
        }
    }
}
