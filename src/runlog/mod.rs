//! The run log: one `bravo_sync_runs` row per sync (plus per-target rows).
//!
//! A successful sync writes its row in its own transaction, so "succeeded" means the
//! data committed with it. A failed or cancelled sync rolls back; its row is written
//! by a short-lived background worker in a transaction of its own
//! ([`autonomous::write`]), so it survives; so is the row of a sync whose backend is
//! terminated ([`exit`]). Nothing here ever holds a secret: messages
//! come from errors that are already redacted.

pub mod autonomous;
pub mod exit;

use pgrx::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::BravoError;
use crate::settings;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TargetRecord {
    pub target: String,
    pub source: String,
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
    pub trigger: String,
    /// ISO-8601 with offset.
    pub started_at: String,
    pub lookback_days: i32,
    /// ISO date, when known.
    pub window_start: Option<String>,
    /// succeeded / failed / cancelled / skipped.
    pub status: String,
    pub sqlstate: Option<String>,
    pub message: Option<String>,
    pub detail: Option<serde_json::Value>,
    pub backend_pid: i32,
    pub attempt: i32,
    pub targets: Vec<TargetRecord>,
}

/// The schema the extension was installed in, quoted for SQL.
pub fn ext_schema() -> Result<String, BravoError> {
    Spi::get_one::<String>(
        "SELECT quote_ident(n.nspname) FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'bravo_metrics'",
    )
    .ok()
    .flatten()
    .ok_or_else(|| {
        BravoError::new(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, "extension bravo_metrics is not installed in this database")
            .hint("CREATE EXTENSION bravo_metrics;")
    })
}

/// Allocates a run id (sequences are not transactional, so it is never reused).
pub fn next_run_id(schema: &str) -> Result<i64, BravoError> {
    Spi::get_one::<i64>(&format!(
        "SELECT nextval('{schema}.bravo_sync_runs_run_id_seq')"
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
    Spi::run_with_args(
        &format!(
            "INSERT INTO {schema}.bravo_sync_runs (run_id, trigger, started_at, finished_at, lookback_days, window_start, status, \
               query_ids, sqlstate, message, detail, backend_pid, attempt) \
             VALUES ($1, $2, $3::timestamptz, clock_timestamp(), $4, $5::date, $6, $7, $8, $9, $10::jsonb, $11, $12)"
        ),
        &[
            rec.run_id.into(),
            rec.trigger.clone().into(),
            rec.started_at.clone().into(),
            rec.lookback_days.into(),
            rec.window_start.clone().into(),
            rec.status.clone().into(),
            query_ids.into(),
            rec.sqlstate.clone().into(),
            rec.message.clone().into(),
            rec.detail.as_ref().map(|d| d.to_string()).into(),
            rec.backend_pid.into(),
            rec.attempt.into(),
        ],
    )
    .map_err(err)?;
    for t in &rec.targets {
        Spi::run_with_args(
            &format!(
                "INSERT INTO {schema}.bravo_sync_run_targets (run_id, target, source, query_id, fetched, inserted, updated, unchanged, deleted, set_aside, ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ),
            &[
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
            ],
        )
        .map_err(err)?;
    }
    prune(schema)
}

/// Deletes runs (and resolved set-aside rows) older than `bravo_metrics.run_retention_days`.
pub fn prune(schema: &str) -> Result<(), BravoError> {
    let days = settings::RUN_RETENTION_DAYS.get();
    if days <= 0 {
        return Ok(());
    }
    let err = |e: pgrx::spi::Error| BravoError::internal("cannot prune the run log", e);
    Spi::run_with_args(
        &format!("DELETE FROM {schema}.bravo_sync_runs WHERE started_at < now() - make_interval(days => $1)"),
        &[days.into()],
    )
    .map_err(err)?;
    Spi::run_with_args(
        &format!("DELETE FROM {schema}.bravo_set_aside WHERE resolved_at < now() - make_interval(days => $1)"),
        &[days.into()],
    )
    .map_err(err)
}
