//! The metric families a sync fills: the enabled rows of the extension's catalog
//! (`bravo_families`, `bravo_family_metrics`; see `src/families.sql`), read at the start
//! of every run, in their `position` order. Names are checked again here
//! (`bravo_core::target::Target::new`) since they are spliced into SQL.

use bravo_core::grain::Grain;
use bravo_core::target::Target;
use pgrx::prelude::*;

use crate::error::BravoError;
use crate::settings;

/// (family, table, source, required, metric columns, their kinds, source time zone,
/// change column)
type CatalogRow = (
    String,
    String,
    Option<String>,
    bool,
    Vec<String>,
    Vec<String>,
    Option<String>,
    Option<String>,
);

/// The enabled families of `grain`, in sync order. Fails when a row is unusable or
/// nothing is enabled.
pub fn enabled_families(schema: &str, grain: Grain) -> Result<Vec<Target>, BravoError> {
    let present = Spi::get_one::<bool>(&format!(
        "SELECT pg_catalog.to_regclass('{schema}.bravo_families') IS NOT NULL"
    ))
    .ok()
    .flatten()
    .unwrap_or(false);
    if !present {
        // The library is newer than the extension's SQL (installed, but ALTER EXTENSION
        // UPDATE not run yet): sync what 0.3.0 synced, as it did.
        pgrx::warning!(
            "bravo_metrics: the library is {} but the extension's SQL is older; syncing the families of 0.3.0 (impressions, videos). Run ALTER EXTENSION bravo_metrics UPDATE;",
            env!("CARGO_PKG_VERSION")
        );
        return Ok(if grain == Grain::Day {
            families_of_0_3_0()
        } else {
            Vec::new()
        });
    }
    let rows: Vec<CatalogRow> =
        Spi::connect(|c| {
            let t = c.select(
                &format!(
                    "SELECT f.family, f.table_name, f.source_relation, f.required, \
                            coalesce(pg_catalog.array_agg(m.column_name ORDER BY m.position) FILTER (WHERE m.column_name IS NOT NULL), '{{}}'), \
                            coalesce(pg_catalog.array_agg(m.kind ORDER BY m.position) FILTER (WHERE m.column_name IS NOT NULL), '{{}}'), \
                            f.source_time_zone, f.change_column \
                       FROM {schema}.bravo_families f \
                       LEFT JOIN {schema}.bravo_family_metrics m ON m.family OPERATOR(pg_catalog.=) f.family \
                      WHERE f.enabled AND f.grain OPERATOR(pg_catalog.=) $1 \
                      GROUP BY f.family, f.table_name, f.source_relation, f.required, f.position, f.source_time_zone, f.change_column \
                      ORDER BY f.position"
                ),
                None,
                &[grain.as_str().into()],
            )?;
            let mut out = Vec::new();
            for r in t {
                out.push((
                    r.get::<String>(1)?.unwrap_or_default(),
                    r.get::<String>(2)?.unwrap_or_default(),
                    r.get::<String>(3)?,
                    r.get::<bool>(4)?.unwrap_or(false),
                    r.get::<Vec<String>>(5)?.unwrap_or_default(),
                    r.get::<Vec<String>>(6)?.unwrap_or_default(),
                    r.get::<String>(7)?,
                    r.get::<String>(8)?,
                ));
            }
            Ok::<_, pgrx::spi::Error>(out)
        })
        .map_err(|e| BravoError::internal("cannot read the metric family catalog", e))?;
    if rows.is_empty() && grain == Grain::Day && catalog_is_empty(schema) {
        // A restore of a dump taken before 0.4.0 recreates the extension (its shipped
        // rows are not inserted during a restore) but brings no catalog rows: sync what
        // 0.3.0 synced rather than nothing.
        pgrx::warning!(
            "bravo_metrics: the metric family catalog bravo_families is empty (a database restored from a dump taken before 0.4.0?); syncing the families of 0.3.0 (impressions, videos). SELECT bravo_restore_families(); brings back the shipped catalog"
        );
        return Ok(families_of_0_3_0());
    }
    if rows.is_empty() {
        let (what, example) = match grain {
            Grain::Day => ("no metric family is enabled", "impressions"),
            Grain::Hour => ("no hourly metric family is enabled", "impressions_hourly"),
        };
        return Err(BravoError::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            what,
        )
        .hint(format!("SELECT bravo_enable_family('{example}'); (SELECT family, grain, enabled FROM bravo_families lists them.)")));
    }
    let default_zone = settings::get_str(&settings::HOURLY_SOURCE_TIME_ZONE);
    rows.into_iter()
        .map(|(name, table, source, required, cols, kinds, zone, change)| {
            let bad = |e: String| {
                BravoError::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, e)
                    .hint("Fix the family's row in bravo_families / bravo_family_metrics, or disable it: SELECT bravo_disable_family('<family>');")
            };
            let zone_name = zone.or_else(|| default_zone.clone()).unwrap_or_else(|| "UTC".into());
            let tz = bravo_core::schedule::zone::parse_iana(&zone_name)
                .map_err(|e| bad(format!("metric family \"{name}\": source time zone {e}")))?;
            Target::new(
                &name,
                &table,
                source.as_deref(),
                cols.into_iter().zip(kinds).collect(),
                required,
            )
            .and_then(|t| t.with_change_column(change.as_deref()))
            .map(|t| t.with_grain(grain, tz))
            .map_err(|e| bad(e.0))
        })
        .collect()
}

/// Whether the catalog has no family at all (as opposed to none enabled).
fn catalog_is_empty(schema: &str) -> bool {
    Spi::get_one::<bool>(&format!(
        "SELECT NOT EXISTS (SELECT 1 FROM {schema}.bravo_families)"
    ))
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// What 0.3.0 synced: the shipped families enabled out of the box (impressions,
/// videos), required; no high-water mark is kept (0.3.0's SQL has no table for it).
fn families_of_0_3_0() -> Vec<Target> {
    bravo_core::target::builtin()
        .into_iter()
        .filter(|(_, enabled)| *enabled)
        .map(|(t, _)| Target {
            required: true,
            change_column: None,
            ..t
        })
        .collect()
}
