//! The run log: one `bravo_sync_runs` row per sync (plus per-target rows).
//!
//! Every run leaves a row, whatever happens to its backend or its transaction:
//!
//! * when a sync starts (it holds the single-sync lock and has its run id) its row is
//!   written as `running` by a short-lived background worker in a transaction of its
//!   own ([`autonomous::start`]), so it is there even if the server crashes mid-sync;
//! * a successful sync updates it to `succeeded` inside the sync's own transaction
//!   ([`record_success`]), so "succeeded" means the data committed with it;
//! * a failed or cancelled sync rolls back; the worker updates the row to
//!   `failed` / `cancelled` ([`autonomous::write`]); so does the exit of a terminated
//!   backend ([`exit`]);
//! * a sync that succeeded in a transaction (or savepoint) that then rolls back is
//!   updated to `rolled_back` from the transaction-abort path ([`exit`]);
//! * a row left `running` by a backend that is gone (crash, immediate shutdown,
//!   SIGKILL) becomes `interrupted` ([`stale`]).
//!
//! Autonomous writes only ever move a row out of `running` (a row that is already
//! finished is never changed by them), so their order does not matter. Nothing here
//! ever holds a secret: messages come from errors that are already redacted.

pub mod autonomous;
pub mod exit;
pub mod export_record;
pub mod notify;
pub mod stale;

use std::ffi::CString;

use bravo_core::grain::Grain;
use bravo_core::{RunStatus, Trigger};
use pgrx::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::BravoError;
use crate::settings;

/// What became of one family in a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    /// Fetched and merged.
    #[default]
    Synced,
    /// Its source relation does not exist in Snowflake; skipped (not required).
    MissingSource,
}

impl TargetStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Synced => "synced",
            TargetStatus::MissingSource => "missing_source",
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TargetRecord {
    pub target: String,
    pub source: String,
    #[serde(default)]
    pub status: TargetStatus,
    /// Why the family was not synced, when it was not.
    #[serde(default)]
    pub message: Option<String>,
    pub query_id: Option<String>,
    pub fetched: i64,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub deleted: i64,
    pub set_aside: i64,
    pub ms: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: i64,
    pub trigger: Trigger,
    /// ISO-8601 with offset.
    pub started_at: String,
    pub lookback_days: i32,
    /// ISO date, when known.
    pub window_start: Option<String>,
    pub status: RunStatus,
    pub sqlstate: Option<String>,
    pub message: Option<String>,
    pub detail: Option<serde_json::Value>,
    pub backend_pid: i32,
    pub attempt: i32,
    pub targets: Vec<TargetRecord>,
    /// The families' grain (`bravo_sync_runs.grain`, since 0.4.0).
    #[serde(default = "day")]
    pub grain: Grain,
}

fn day() -> Grain {
    Grain::Day
}

/// The schema of the run log and the set-aside rows, quoted for SQL ([`crate::schemas`]).
pub fn log_schema() -> Result<String, BravoError> {
    crate::schemas::internal()
}

/// Whether the run log records each family's status (0.4.0's SQL; the library also
/// serves a database whose `ALTER EXTENSION bravo_metrics UPDATE` has not run yet).
fn has_target_status(schema: &str) -> bool {
    has_column(schema, "bravo_sync_run_targets", "status")
}

fn has_column(schema: &str, table: &str, column: &str) -> bool {
    Spi::get_one::<bool>(&format!(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = '{schema}.{table}'::pg_catalog.regclass \
           AND attname = '{column}' AND NOT attisdropped)"
    ))
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// `, grain` and its value for the run row, when the run log has the column (0.4.0).
fn grain_column(schema: &str, value: &str) -> (&'static str, String) {
    if has_column(schema, "bravo_sync_runs", "grain") {
        (", grain", format!(", {value}"))
    } else {
        ("", String::new())
    }
}

/// Allocates a run id (sequences are not transactional, so it is never reused).
pub fn next_run_id(schema: &str) -> Result<i64, BravoError> {
    Spi::get_one::<i64>(&format!(
        "SELECT pg_catalog.nextval('{schema}.bravo_sync_runs_run_id_seq')"
    ))
    .ok()
    .flatten()
    .ok_or_else(|| {
        BravoError::new(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            "cannot allocate a run id",
        )
    })
}

/// Inserts the run and its targets in the current transaction, then prunes history.
pub fn insert(schema: &str, rec: &RunRecord) -> Result<(), BravoError> {
    let err = |e: pgrx::spi::Error| BravoError::internal("cannot write the run log", e);
    let query_ids: Vec<String> = rec
        .targets
        .iter()
        .filter_map(|t| t.query_id.clone())
        .collect();
    let (gcol, gval) = grain_column(schema, &format!("'{}'", rec.grain.as_str()));
    Spi::run_with_args(
        &format!(
            "INSERT INTO {schema}.bravo_sync_runs (run_id, trigger, started_at, finished_at, lookback_days, window_start, status, \
               query_ids, sqlstate, message, detail, backend_pid, attempt{gcol}) \
             VALUES ($1, $2, $3::timestamptz, clock_timestamp(), $4, $5::date, $6, $7, $8, $9, $10::jsonb, $11, $12{gval})"
        ),
        &[
            rec.run_id.into(),
            rec.trigger.as_str().into(),
            rec.started_at.clone().into(),
            rec.lookback_days.into(),
            rec.window_start.clone().into(),
            rec.status.as_str().into(),
            query_ids.into(),
            rec.sqlstate.clone().into(),
            rec.message.clone().into(),
            rec.detail.as_ref().map(|d| d.to_string()).into(),
            rec.backend_pid.into(),
            rec.attempt.into(),
        ],
    )
    .map_err(err)?;
    let with_status = has_target_status(schema);
    let (status_cols, status_vals) = if with_status {
        (", status, message", ", $12, $13")
    } else {
        ("", "")
    };
    for t in &rec.targets {
        let mut args: Vec<pgrx::datum::DatumWithOid> = vec![
            rec.run_id.into(),
            t.target.clone().into(),
            t.source.clone().into(),
            t.query_id.clone().into(),
            t.fetched.into(),
            t.inserted.into(),
            t.updated.into(),
            t.unchanged.into(),
            t.deleted.into(),
            t.set_aside.into(),
            t.ms.into(),
        ];
        if with_status {
            args.push(t.status.as_str().into());
            args.push(t.message.clone().into());
        }
        Spi::run_with_args(
            &format!(
                "INSERT INTO {schema}.bravo_sync_run_targets (run_id, target, source, query_id, fetched, inserted, updated, unchanged, deleted, set_aside, ms{status_cols}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11{status_vals})"
            ),
            &args,
        )
        .map_err(err)?;
    }
    prune(schema)
}

/// Which existing row an [`upsert`] may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overwrite {
    /// Any row: the sync's own transaction recording its success (that commits with
    /// the data, so it is the truth).
    Always,
    /// Only a row that is still `running`: autonomous writes never change a run that
    /// is already finished, so they may land in any order.
    OnlyRunning,
}

/// Inserts `rec` (and its targets), or updates the run's existing row, seen as of
/// now: the statement runs with a fresh snapshot, not the transaction's, so a sync in
/// a REPEATABLE READ or SERIALIZABLE transaction can update the `running` row that
/// the writer worker committed after that transaction's snapshot was taken. A
/// `running` record leaves `finished_at` NULL; any other status sets it to now.
/// Returns whether the run's row was written (false: a finished row was kept).
/// Raises on failure.
pub fn upsert(schema: &str, rec: &RunRecord, overwrite: Overwrite) -> Result<bool, BravoError> {
    let guard = match overwrite {
        Overwrite::Always => "",
        Overwrite::OnlyRunning => "WHERE r.status = 'running'", // RunStatus::Running
    };
    let (status_cols, status_vals, status_set) = if has_target_status(schema) {
        (
            ", status, message",
            ", coalesce(t->>'status', 'synced'), t->>'message'",
            ", status = excluded.status, message = excluded.message",
        )
    } else {
        ("", "", "")
    };
    let (gcol, gval) = grain_column(schema, "coalesce(j->>'grain', 'day')");
    let sql = format!(
        "WITH a AS (SELECT $1::jsonb AS j),
         run AS (
           INSERT INTO {schema}.bravo_sync_runs AS r (run_id, trigger, started_at, finished_at, lookback_days,
                  window_start, status, query_ids, sqlstate, message, detail, backend_pid, attempt{gcol})
           SELECT (j->>'run_id')::bigint, j->>'trigger', (j->>'started_at')::timestamptz,
                  CASE WHEN j->>'status' = 'running' THEN NULL ELSE pg_catalog.clock_timestamp() END,
                  (j->>'lookback_days')::integer, (j->>'window_start')::date, j->>'status',
                  ARRAY(SELECT t.e->>'query_id' FROM pg_catalog.jsonb_array_elements(j->'targets') WITH ORDINALITY AS t (e, n)
                         WHERE t.e->>'query_id' IS NOT NULL ORDER BY t.n),
                  j->>'sqlstate', j->>'message', NULLIF(j->'detail', 'null'::jsonb),
                  (j->>'backend_pid')::integer, (j->>'attempt')::integer{gval}
             FROM a
           ON CONFLICT (run_id) DO UPDATE
              SET finished_at = excluded.finished_at,
                  window_start = coalesce(excluded.window_start, r.window_start),
                  status = excluded.status, query_ids = excluded.query_ids,
                  sqlstate = excluded.sqlstate, message = excluded.message, detail = excluded.detail
              {guard}
           RETURNING r.run_id),
         tgt AS (
           INSERT INTO {schema}.bravo_sync_run_targets AS x (run_id, target, source, query_id, fetched, inserted,
                  updated, unchanged, deleted, set_aside, ms{status_cols})
           SELECT run.run_id, t->>'target', t->>'source', t->>'query_id', (t->>'fetched')::bigint,
                  (t->>'inserted')::bigint, (t->>'updated')::bigint, (t->>'unchanged')::bigint,
                  (t->>'deleted')::bigint, (t->>'set_aside')::bigint, (t->>'ms')::bigint{status_vals}
             FROM run, a, pg_catalog.jsonb_array_elements(a.j->'targets') t
           ON CONFLICT (run_id, target) DO UPDATE
              SET source = excluded.source, query_id = excluded.query_id, fetched = excluded.fetched,
                  inserted = excluded.inserted, updated = excluded.updated, unchanged = excluded.unchanged,
                  deleted = excluded.deleted, set_aside = excluded.set_aside, ms = excluded.ms{status_set}
           RETURNING 1)
         -- (a data-modifying CTE always runs to completion, referenced or not)
         SELECT pg_catalog.count(*) FROM run"
    );
    let payload = serde_json::to_string(rec)
        .map_err(|e| BravoError::internal("cannot write the run log", e))?;
    Ok(count_now(&sql, &payload)? > 0)
}

/// Records a successful sync in the current transaction (it commits or rolls back
/// with the sync's data), then prunes history.
pub fn record_success(schema: &str, rec: &RunRecord) -> Result<(), BravoError> {
    upsert(schema, rec, Overwrite::Always)?;
    prune(schema)?;
    notify::send(rec)
}

/// Runs `sql` (a query returning one bigint, with one text parameter `$1`) with a
/// snapshot taken now (each statement advancing its command id), and returns the
/// bigint. Errors are raised.
fn count_now(sql: &str, arg: &str) -> Result<i64, BravoError> {
    let c_sql =
        CString::new(sql).map_err(|e| BravoError::internal("cannot write the run log", e))?;
    let arg = arg.to_string();
    // SAFETY: inside an SPI connection; `c_sql` and `types` outlive SPI_prepare; the plan is
    // checked for NULL; `values` outlives SPI_execute_snapshot and holds one text datum for
    // the one parameter; the tuple table is read only after checking that it exists and
    // holds exactly one row, whose first column is a bigint (the query's contract).
    Spi::connect(move |_| unsafe {
        let mut types = [pg_sys::TEXTOID];
        let plan = pg_sys::SPI_prepare(c_sql.as_ptr(), 1, types.as_mut_ptr());
        if plan.is_null() {
            let code = pg_sys::SPI_result;
            return Err(BravoError::internal(
                "cannot write the run log",
                format!("SPI_prepare: {code}"),
            ));
        }
        let mut values = [arg.into_datum().expect("text datum")];
        let rc = pg_sys::SPI_execute_snapshot(
            plan,
            values.as_mut_ptr(),
            c" ".as_ptr(),
            pg_sys::GetLatestSnapshot(),
            std::ptr::null_mut(),
            false,
            true,
            0,
        );
        if rc != pg_sys::SPI_OK_SELECT as i32
            || pg_sys::SPI_processed != 1
            || pg_sys::SPI_tuptable.is_null()
        {
            return Err(BravoError::internal(
                "cannot write the run log",
                format!("SPI_execute_snapshot: {rc}"),
            ));
        }
        let table = &*pg_sys::SPI_tuptable;
        let mut is_null = false;
        let d = pg_sys::SPI_getbinval(*table.vals, table.tupdesc, 1, &mut is_null);
        Ok(if is_null { 0 } else { d.value() as i64 })
    })
}

/// Deletes runs (and resolved set-aside rows) older than `bravo_metrics.run_retention_days`.
pub fn prune(schema: &str) -> Result<(), BravoError> {
    let days = settings::RUN_RETENTION_DAYS.get();
    if days <= 0 {
        return Ok(());
    }
    let err = |e: pgrx::spi::Error| BravoError::internal("cannot prune the run log", e);
    Spi::run_with_args(
        &format!("DELETE FROM {schema}.bravo_sync_runs WHERE started_at < pg_catalog.now() - pg_catalog.make_interval(days => $1)"),
        &[days.into()],
    )
    .map_err(err)?;
    Spi::run_with_args(
        &format!("DELETE FROM {schema}.bravo_set_aside WHERE resolved_at < pg_catalog.now() - pg_catalog.make_interval(days => $1)"),
        &[days.into()],
    )
    .map_err(err)
}
