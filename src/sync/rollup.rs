//! The reporting rollups during a sync: their maintenance is deferred while a target
//! is written and applied once before the sync returns (see `_bravo_rollup_defer` in
//! `report/rollup.sql`). A sync writes a metric table in many statements, and each
//! statement's delta would otherwise upsert the same campaign days again.

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
pub fn defer(internal: &str, table: &str) -> Result<Deferred, BravoError> {
    let present = Spi::get_one::<bool>(&format!(
        "SELECT pg_catalog.to_regprocedure('{internal}._bravo_rollup_defer(pg_catalog.regclass)') IS NOT NULL"
    ))
    .map_err(|e| BravoError::internal("cannot look up the rollup functions", e))?
    .unwrap_or(false);
    if !present {
        return Ok(Deferred { flush: None });
    }
    let deferred = Spi::get_one_with_args::<bool>(
        &format!("SELECT {internal}._bravo_rollup_defer($1::pg_catalog.regclass)"),
        &[table.into()],
    )
    .map_err(|e| BravoError::internal("cannot defer the rollup maintenance", e))?
    .unwrap_or(false);
    Ok(Deferred {
        flush: deferred.then(|| (format!("{internal}._bravo_rollup_flush"), table.to_string())),
    })
}

impl Deferred {
    /// Applies the deferred deltas to both rollups and ends the deferral; returns how
    /// many delta rows there were.
    pub fn flush(self) -> Result<i64, BravoError> {
        let Some((func, table)) = self.flush else {
            return Ok(0);
        };
        Spi::get_one_with_args::<i64>(
            &format!("SELECT {func}($1::pg_catalog.regclass)"),
            &[table.into()],
        )
        .map(|n| n.unwrap_or(0))
        .map_err(|e| BravoError::internal("cannot apply the deferred rollup rows", e))
    }
}
