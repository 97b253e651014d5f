//! Where the extension's objects live, for the SQL this crate runs.
//!
//! Since 0.4.0 everything internal (the run log, the set-aside rows, the family
//! catalog, the rollups, the `_bravo_*` helpers) is in schema `bravo`, a member of the
//! extension, as pg_cron's objects are in `cron`. The media tool's tables (`media_buys`
//! and the metric tables) and the functions users call are in the schema
//! `CREATE EXTENSION` was given. A database whose `ALTER EXTENSION bravo_metrics UPDATE`
//! has not run yet still has 0.3.0's layout (everything in the extension's schema);
//! the library serves it too.

use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::error::BravoError;

/// The extension's own schema (created by the install script; not relocatable).
pub const INTERNAL: &str = "bravo";

/// Both schemas, quoted for SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schemas {
    /// The media tool's tables: `media_buys` and the metric tables.
    pub media: String,
    /// The run log, the set-aside rows and the family catalog.
    pub internal: String,
}

/// Reads both schemas from the catalog.
pub fn resolve() -> Result<Schemas, BravoError> {
    let row = Spi::get_two::<String, bool>(
        "SELECT pg_catalog.quote_ident(n.nspname), \
                pg_catalog.to_regclass('bravo.bravo_sync_runs') IS NOT NULL \
           FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
          WHERE e.extname = 'bravo_metrics'",
    );
    match row {
        Ok((Some(media), Some(split))) => {
            let internal = if split {
                INTERNAL.to_string()
            } else {
                media.clone()
            };
            Ok(Schemas { media, internal })
        }
        _ => Err(BravoError::new(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            "extension bravo_metrics is not installed in this database",
        )
        .hint("CREATE EXTENSION bravo_metrics;")),
    }
}
