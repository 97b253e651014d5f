//! Where the extension's objects live, for the SQL this crate runs.
//!
//! Since 0.4.0 everything internal (the run log, the set-aside rows, the family
//! catalog, the rollups, the `_bravo_*` helpers) is in schema `bravo`, a member of the
//! extension, as pg_cron's objects are in `cron`; the functions users call are in the
//! schema `CREATE EXTENSION` was given. The media tool's tables (`media_buys` and the
//! metric tables) are in the schema `bravo_metrics.media_tool_schema` names, else in
//! the extension's (the SQL side reads the same setting: `bravo._bravo_media_schema()`).
//! A database whose `ALTER EXTENSION bravo_metrics UPDATE` has not run yet still has
//! 0.3.0's layout (everything in the extension's schema); the library serves it too.

use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;

use crate::error::BravoError;
use crate::settings;

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

/// The extension's schema (quoted) and whether its SQL has schema `bravo` (0.4.0).
fn locate() -> Result<(String, bool), BravoError> {
    match Spi::get_two::<String, bool>(
        "SELECT pg_catalog.quote_ident(n.nspname), \
                pg_catalog.to_regclass('bravo.bravo_sync_runs') IS NOT NULL \
           FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace \
          WHERE e.extname = 'bravo_metrics'",
    ) {
        Ok((Some(ext), Some(split))) => Ok((ext, split)),
        _ => Err(BravoError::new(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            "extension bravo_metrics is not installed in this database",
        )
        .hint("CREATE EXTENSION bravo_metrics;")),
    }
}

/// The schema of the run log, the set-aside rows and the family catalog, quoted. It
/// does not depend on `bravo_metrics.media_tool_schema`, so a run can be recorded
/// even when that setting is wrong.
pub fn internal() -> Result<String, BravoError> {
    let (ext, split) = locate()?;
    Ok(if split { INTERNAL.to_string() } else { ext })
}

/// Reads both schemas from the catalog.
pub fn resolve() -> Result<Schemas, BravoError> {
    let (ext, split) = locate()?;
    let internal = if split {
        INTERNAL.to_string()
    } else {
        ext.clone()
    };
    let media = match settings::get_str(&settings::MEDIA_TOOL_SCHEMA) {
        // 0.3.0's SQL reads the tables in the extension's schema only.
        Some(_) if !split => {
            return Err(BravoError::new(
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                "bravo_metrics.media_tool_schema needs the extension's 0.4.0 SQL",
            )
            .hint("Run ALTER EXTENSION bravo_metrics UPDATE;"))
        }
        Some(name) => media_schema(&name)?,
        None => ext,
    };
    Ok(Schemas { media, internal })
}

/// Schema `name` (from `bravo_metrics.media_tool_schema`), quoted, if it exists.
fn media_schema(name: &str) -> Result<String, BravoError> {
    Spi::get_one_with_args::<String>(
        "SELECT pg_catalog.quote_ident(nspname::text) FROM pg_catalog.pg_namespace WHERE nspname = $1",
        &[name.into()],
    )
    .ok()
    .flatten()
    .ok_or_else(|| {
        BravoError::new(
            PgSqlErrorCode::ERRCODE_INVALID_SCHEMA_NAME,
            format!("schema \"{name}\" does not exist"),
        )
        .detail("bravo_metrics.media_tool_schema names the schema of the media tool's tables.")
        .hint("Create the schema, or set bravo_metrics.media_tool_schema to the schema that has media_buys (ALTER DATABASE ... SET).")
    })
}
