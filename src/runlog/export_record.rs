//! An export's row in `bravo.bravo_export_runs`, written in a transaction of its own
//! (the run-log writer worker, [`super::autonomous`]) so that a failed or
//! cancelled export is recorded although its transaction rolls back. A download URL
//! is a bearer credential: it is returned, never stored.

use pgrx::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::BravoError;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExportRecord {
    pub export_id: i64,
    /// running, succeeded, failed or cancelled.
    pub status: String,
    /// manual or schedule.
    pub trigger: String,
    pub run_by: String,
    /// Unix milliseconds.
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub destination: String,
    pub object_key: String,
    pub snapshot_at_ms: Option<i64>,
    /// The manifest's files (path, rows, bytes, sha256).
    pub files: Option<serde_json::Value>,
    pub archive_bytes: Option<i64>,
    pub archive_sha256: Option<String>,
    pub parts: Option<i32>,
    pub sqlstate: Option<String>,
    pub message: Option<String>,
}

/// Inserts the record, or updates its row while that is still `running`; in the
/// worker's transaction (search_path pg_catalog, pg_temp).
pub fn upsert(schema: &str, r: &ExportRecord) -> Result<(), BravoError> {
    let files = r.files.as_ref().map(|f| pgrx::JsonB(f.clone()));
    Spi::connect_mut(|c| {
        c.update(
            &format!(
                "INSERT INTO {schema}.bravo_export_runs AS x
                        (export_id, status, trigger, run_by, started_at, finished_at, destination,
                         object_key, snapshot_at, files, archive_bytes, archive_sha256, parts, sqlstate, message)
                 VALUES ($1, $2, $3, $4, pg_catalog.to_timestamp($5 / 1000.0),
                         pg_catalog.to_timestamp($6 / 1000.0), $7, $8, pg_catalog.to_timestamp($9 / 1000.0),
                         $10, $11, $12, $13, $14, $15)
                 ON CONFLICT (export_id) DO UPDATE
                    SET status = EXCLUDED.status, finished_at = EXCLUDED.finished_at,
                        snapshot_at = EXCLUDED.snapshot_at, files = EXCLUDED.files,
                        archive_bytes = EXCLUDED.archive_bytes, archive_sha256 = EXCLUDED.archive_sha256,
                        parts = EXCLUDED.parts, sqlstate = EXCLUDED.sqlstate, message = EXCLUDED.message
                  WHERE x.status = 'running'"
            ),
            None,
            &[
                r.export_id.into(),
                r.status.as_str().into(),
                r.trigger.as_str().into(),
                r.run_by.as_str().into(),
                r.started_at_ms.into(),
                r.finished_at_ms.into(),
                r.destination.as_str().into(),
                r.object_key.as_str().into(),
                r.snapshot_at_ms.into(),
                files.into(),
                r.archive_bytes.into(),
                r.archive_sha256.as_deref().into(),
                r.parts.into(),
                r.sqlstate.as_deref().into(),
                r.message.as_deref().into(),
            ],
        )
        .map(|_| ())
    })
    .map_err(|e| BravoError::config(format!("cannot record export {}: {e}", r.export_id)))
}
