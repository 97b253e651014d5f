//! The reporting rollups during a sync: their maintenance is deferred while a target
//! is written and applied once before the sync returns (see `_bravo_rollup_defer` in
//! `report/rollup.sql`). A sync writes a metric table in many statements, and each
//! statement's delta would otherwise upsert the same campaign days again. A first load
//! (the window of a daily table holds no row yet) does not even copy its new rows
//! aside: the flush reads them from the table, as the window's rows written with this
//! sync's transaction id.

use pgrx::prelude::*;

use crate::error::BravoError;

/// Metric table `table` (schema-qualified, quoted) while its rollup maintenance is
/// deferred, until [`Deferred::flush`]. Nothing is deferred for a table the rollups do
/// not read, nor on an installation whose SQL is older than the library (before
/// `ALTER EXTENSION ... UPDATE`).
pub struct Deferred {
    flush: Option<(String, String)>,
}

/// Defers the rollup maintenance of `table`; `internal` is the extension's schema.
/// `counted_from`: the window's first day, when this sync writes the whole window of a
/// daily table with an index on `date`; the SQL side then checks that the window is
/// empty and that no other trigger or rule writes the table.
pub fn defer(
    internal: &str,
    table: &str,
    counted_from: Option<chrono::NaiveDate>,
) -> Result<Deferred, BravoError> {
    let present = Spi::get_one::<bool>(&format!(
        "SELECT pg_catalog.to_regprocedure('{internal}._bravo_rollup_defer(pg_catalog.regclass, pg_catalog.date)') IS NOT NULL"
    ))
    .map_err(|e| BravoError::internal("cannot look up the rollup functions", e))?
    .unwrap_or(false);
    if !present {
        return Ok(Deferred { flush: None });
    }
    let deferred = Spi::get_one_with_args::<bool>(
        &format!(
            "SELECT {internal}._bravo_rollup_defer($1::pg_catalog.regclass, $2::pg_catalog.date)"
        ),
        &[table.into(), counted_from.map(|d| d.to_string()).into()],
    )
    .map_err(|e| BravoError::internal("cannot defer the rollup maintenance", e))?
    .unwrap_or(false);
    Ok(Deferred {
        flush: deferred.then(|| (format!("{internal}._bravo_rollup_flush"), table.to_string())),
    })
}

impl Deferred {
    /// Applies the deferred deltas to both rollups and ends the deferral. Called in the
    /// (sub)transaction that wrote the rows: its transaction id is what a first load's
    /// rows carry as xmin.
    pub fn flush(self) -> Result<(), BravoError> {
        let Some((func, table)) = self.flush else {
            return Ok(());
        };
        // SAFETY: a read of this backend's current (sub)transaction state, in a
        // transaction (the sync's); it assigns nothing.
        let writer = unsafe { pg_sys::GetCurrentTransactionIdIfAny() };
        let writer =
            (writer != pg_sys::InvalidTransactionId).then(|| writer.into_inner().to_string());
        Spi::run_with_args(
            &format!("SELECT {func}($1::pg_catalog.regclass, $2::pg_catalog.xid)"),
            &[table.into(), writer.into()],
        )
        .map_err(|e| BravoError::internal("cannot apply the deferred rollup rows", e))
    }
}
