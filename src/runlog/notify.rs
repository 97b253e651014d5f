//! `NOTIFY bravo_metrics` for each finished run (payload: `bravo_core::notify`).
//!
//! A committed sync sends from its own transaction ([`super::record_success`]): the
//! notification is delivered when, and only if, that transaction commits. A failed,
//! cancelled or rolled back run sends from the run log's writer worker, in the
//! transaction that records it.

use bravo_core::notify::{payload, RunEvent, TargetCounts, CHANNEL};
use bravo_core::run::RunStatus;
use pgrx::prelude::*;

use super::RunRecord;
use crate::error::BravoError;

/// The event of a finished run.
pub fn event(rec: &RunRecord) -> RunEvent {
    RunEvent {
        event: if rec.status == RunStatus::Succeeded {
            "sync"
        } else {
            "sync_failed"
        },
        run_id: rec.run_id,
        trigger: rec.trigger.as_str().to_string(),
        grain: rec.grain.as_str().to_string(),
        status: rec.status.as_str().to_string(),
        lookback_days: rec.lookback_days,
        window_start: rec.window_start.clone(),
        sqlstate: rec.sqlstate.clone(),
        message: rec.message.clone(),
        targets: rec
            .targets
            .iter()
            .map(|t| TargetCounts {
                target: t.target.clone(),
                status: t.status.as_str().to_string(),
                fetched: t.fetched,
                inserted: t.inserted,
                updated: t.updated,
                unchanged: t.unchanged,
                deleted: t.deleted,
                set_aside: t.set_aside,
            })
            .collect(),
        targets_omitted: 0,
    }
}

/// Queues the notification of `rec` in the current transaction, then the families
/// that became stale or fresh (`bravo._bravo_notify_staleness`, when the extension's
/// SQL has it: a library newer than its SQL skips that).
pub fn send(rec: &RunRecord) -> Result<(), BravoError> {
    Spi::run_with_args(
        "SELECT pg_catalog.pg_notify($1, $2)",
        &[CHANNEL.into(), payload(&event(rec)).into()],
    )
    .map_err(|e| BravoError::internal("cannot notify the run", e))?;
    let present = Spi::get_one::<bool>(
        "SELECT pg_catalog.to_regprocedure('bravo._bravo_notify_staleness(bigint)') IS NOT NULL",
    )
    .ok()
    .flatten()
    .unwrap_or(false);
    if present {
        Spi::get_one_with_args::<i32>(
            "SELECT bravo._bravo_notify_staleness($1)",
            &[rec.run_id.into()],
        )
        .map_err(|e| BravoError::internal("cannot notify stale families", e))?;
    }
    Ok(())
}
