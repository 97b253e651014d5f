//! The intraday refresh (`bravo_sync_intraday()`, trigger `intraday`, and its schedule
//! `bravo_metrics.intraday_schedule`): between the window syncs, only the rows changed
//! since each daily family's high-water mark.
//!
//! Every sync of a whole window keeps, per family whose source has its change column
//! (`bravo_families.change_column`), the largest change time it read
//! (`bravo.bravo_high_water`, written in the sync's transaction: the mark commits with
//! the rows it stands for). The intraday refresh is an ordinary sync ([`super::run`]:
//! one lock, one transaction, the run log) whose source query adds
//! `AND <change column> > mark - bravo_metrics.intraday_safety_lag`, and whose target
//! side is looked up by key for each batch instead of read as a window (no row can be
//! said to have vanished; deletions and set-aside rows wait for the window sync). It
//! then raises the mark. A family with no mark yet (or whose source or change column
//! changed since it was taken) is compared over its whole window once. See
//! `bravo_core::changes` for why the nightly window stays the reconciliation pass.

use bravo_core::changes::ChangeColumn;
use bravo_core::target::Target;
use bravo_core::Trigger;
use chrono::{DateTime, Utc};
use pgrx::prelude::*;

use super::SyncRequest;
use crate::error::BravoError;
use crate::settings;

/// The families an intraday refresh takes: the enabled daily ones with a change column.
pub fn families(all: Vec<Target>) -> Result<Vec<Target>, BravoError> {
    let skipped: Vec<String> = all
        .iter()
        .filter(|t| t.change_column.is_none())
        .map(|t| t.name.clone())
        .collect();
    let with: Vec<Target> = all
        .into_iter()
        .filter(|t| t.change_column.is_some())
        .collect();
    if with.is_empty() {
        return Err(BravoError::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "no enabled daily metric family has a change column",
        )
        .hint("Name the source column that says when a row last changed: UPDATE bravo_families SET change_column = 'updated_at' WHERE family = '...'; or sync whole windows: SELECT * FROM bravo_sync(3);"));
    }
    if !skipped.is_empty() {
        pgrx::notice!(
            "bravo_sync_intraday: famil{} {} ha{} no change column (bravo_families.change_column) and {} filled by bravo_sync only",
            if skipped.len() == 1 { "y" } else { "ies" },
            skipped.join(", "),
            if skipped.len() == 1 { "s" } else { "ve" },
            if skipped.len() == 1 { "is" } else { "are" },
        );
    }
    Ok(with)
}

/// The family's mark, if one was taken from the same source relation and change column.
pub fn read_mark(
    schema: &str,
    target: &Target,
    relation: &str,
    change: &ChangeColumn,
) -> Result<Option<DateTime<Utc>>, BravoError> {
    let micros = Spi::get_one_with_args::<i64>(
        &format!(
            "SELECT (pg_catalog.extract('epoch', high_water) OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8 \
               FROM {schema}.bravo_high_water \
              WHERE family OPERATOR(pg_catalog.=) $1 AND source_relation OPERATOR(pg_catalog.=) $2 \
                AND change_column OPERATOR(pg_catalog.=) $3"
        ),
        &[
            target.name.as_str().into(),
            relation.into(),
            change.name.as_str().into(),
        ],
    );
    match micros {
        Ok(m) => Ok(m.and_then(DateTime::from_timestamp_micros)),
        Err(pgrx::spi::Error::InvalidPosition) => Ok(None),
        Err(e) => Err(BravoError::internal("cannot read the high-water mark", e)),
    }
}

/// Keeps `seen` (the largest change time the run read, truncated to microseconds: a
/// mark a little early only refetches a little more) as the family's mark. A window
/// sync read every row of the window: its mark replaces the old one. An intraday
/// refresh read only rows after the old mark minus the lag: it only ever raises it.
pub fn write_mark(
    schema: &str,
    target: &Target,
    relation: &str,
    change: &ChangeColumn,
    seen: DateTime<Utc>,
    run_id: i64,
    raise_only: bool,
) -> Result<(), BravoError> {
    let value = if raise_only {
        "GREATEST(h.high_water, EXCLUDED.high_water)"
    } else {
        "EXCLUDED.high_water"
    };
    Spi::run_with_args(
        &format!(
            "INSERT INTO {schema}.bravo_high_water AS h (family, source_relation, change_column, high_water, run_id, updated_at) \
             VALUES ($1, $2, $3, pg_catalog.to_timestamp(0) OPERATOR(pg_catalog.+) ($4::pg_catalog.int8 OPERATOR(pg_catalog.*) '1 microsecond'::pg_catalog.interval), $5, pg_catalog.now()) \
             ON CONFLICT (family) DO UPDATE SET source_relation = EXCLUDED.source_relation, \
                 change_column = EXCLUDED.change_column, run_id = EXCLUDED.run_id, updated_at = EXCLUDED.updated_at, \
                 high_water = CASE WHEN h.source_relation OPERATOR(pg_catalog.=) EXCLUDED.source_relation \
                                    AND h.change_column OPERATOR(pg_catalog.=) EXCLUDED.change_column \
                                   THEN {value} ELSE EXCLUDED.high_water END"
        ),
        &[
            target.name.as_str().into(),
            relation.into(),
            change.name.as_str().into(),
            seen.timestamp_micros().into(),
            run_id.into(),
        ],
    )
    .map_err(|e| BravoError::internal("cannot keep the high-water mark", e))
}

/// Where a refresh from `mark` starts (`bravo_metrics.intraday_safety_lag` before it).
pub fn since(mark: DateTime<Utc>) -> DateTime<Utc> {
    bravo_core::changes::since(mark, i64::from(settings::INTRADAY_SAFETY_LAG.get()))
}

/// The request of an intraday refresh over `lookback_days`.
pub fn request(
    lookback_days: i32,
    trigger: Trigger,
    overlap: settings::OverlapPolicy,
) -> SyncRequest {
    SyncRequest {
        grain: bravo_core::grain::Grain::Day,
        lookback_days,
        trigger,
        overlap,
        run_id: None,
        attempt: 1,
        scope: None,
        changes_only: true,
    }
}

/// `bravo_sync_intraday(lookback_days, wait)`.
pub fn run(lookback_days: Option<i32>, wait: Option<bool>) -> crate::SyncRows {
    let lookback = super::check_lookback(lookback_days).unwrap_or_else(|e| e.raise());
    crate::run_rows(&request(
        lookback,
        Trigger::Intraday,
        settings::overlap_policy(wait),
    ))
}

pgrx::extension_sql_file!(
    "intraday.sql",
    name = "intraday_status",
    requires = ["families", "schedule_status"]
);
