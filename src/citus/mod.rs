//! bravo_metrics on Citus, the distributed PostgreSQL engine (README, "Scale-out on
//! Citus"):
//! * `node.sql`   — which node this is (none, coordinator, worker) and whether the
//!   media tool's tables are in the distributed layout;
//! * `layout.sql` — `bravo_distribute()`, which turns a single-node media tool into
//!   that layout, and the reports' pushed-down reads that replace the rollups there.
//!
//! The sync asks [`distributed`] to pick statements Citus can plan.

use pgrx::prelude::*;

use crate::error::BravoError;

pgrx::extension_sql_file!("node.sql", name = "citus_node", requires = ["schema"]);
pgrx::extension_sql_file!(
    "layout.sql",
    name = "citus_layout",
    requires = [
        "schema",
        "families",
        "citus_node",
        "report_hourly",
        "report_rollup"
    ]
);

/// Whether `{internal}.{function}()` exists (not in SQL older than 0.4.0, before
/// `ALTER EXTENSION ... UPDATE`).
fn present(internal: &str, function: &str) -> Result<bool, BravoError> {
    Spi::get_one::<bool>(&format!(
        "SELECT pg_catalog.to_regprocedure('{internal}.{function}()') IS NOT NULL"
    ))
    .map(|p| p.unwrap_or(false))
    .map_err(|e| BravoError::internal("cannot look up the Citus functions", e))
}

/// Whether the media tool's tables are in the distributed layout (`internal`: the
/// extension's schema, quoted). False on an installation whose SQL predates it.
pub fn distributed(internal: &str) -> Result<bool, BravoError> {
    if !present(internal, "_bravo_distributed")? {
        return Ok(false);
    }
    Spi::get_one::<bool>(&format!("SELECT {internal}._bravo_distributed()"))
        .map(|d| d.unwrap_or(false))
        .map_err(|e| BravoError::internal("cannot tell whether the tables are distributed", e))
}

/// Refuses on a Citus worker node: there the media tool's tables are shards and
/// shells, and the coordinator syncs.
pub fn refuse_on_worker(internal: &str) -> Result<(), BravoError> {
    let worker = present(internal, "_bravo_citus_node")?
        && Spi::get_one::<bool>(&format!("SELECT {internal}._bravo_citus_node() = 'worker'"))
            .map_err(|e| BravoError::internal("cannot tell which Citus node this is", e))?
            .unwrap_or(false);
    if !worker {
        return Ok(());
    }
    Err(BravoError::new(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        "this is a Citus worker node",
    )
    .detail("In the distributed layout the coordinator runs bravo_sync, the scheduler and the run log; a worker holds shards.")
    .hint("Connect to the coordinator and run it there."))
}
