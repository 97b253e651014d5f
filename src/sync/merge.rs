//! What happens around the streaming comparison (`apply.rs`):
//!
//! * the target table is checked before anything is fetched;
//! * vanished keys (only with `bravo_metrics.delete_missing`) are deleted after the
//!   comparison, unless that would remove more than `bravo_metrics.delete_max_fraction`
//!   of the window: then the sync fails and explains itself;
//! * set-aside bookkeeping: open rows of the window are superseded by this fetch; rows
//!   for media buys that now exist, outside the window, are merged from their saved
//!   source row.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;

use super::apply::Applied;
use super::key::KeySpec;
use super::owner::{self, Owner};
use super::slot::WindowStart;
use crate::error::BravoError;
use crate::schemas::Schemas;
use bravo_core::target::{MetricKind, Target};

fn count(sql: &str, args: &[DatumWithOid]) -> Result<i64, BravoError> {
    Spi::get_one_with_args::<i64>(sql, args)
        .map(|v| v.unwrap_or(0))
        .map_err(|e| BravoError::internal("merge failed", e).detail(sql.to_string()))
}

fn metric_list(target: &Target, prefix: &str) -> String {
    target
        .metrics
        .iter()
        .map(|m| format!("{prefix}{}", m.column))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks that a (possibly pre-existing, legacy) target table has what the merge needs,
/// and that it can be written safely; returns the role that writes it.
pub fn check_target(schema: &str, target: &Target) -> Result<Owner, BravoError> {
    let table = format!("{schema}.{}", target.table);
    let exists = Spi::get_one_with_args::<bool>(
        "SELECT pg_catalog.to_regclass($1) IS NOT NULL",
        &[table.clone().into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false);
    if !exists {
        return Err(BravoError::new(PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE, format!("target table {table} does not exist"))
            .hint("Recreate it, or ALTER EXTENSION bravo_metrics UPDATE / reinstall the extension to create it; if the media tool's tables are in another schema, set bravo_metrics.media_tool_schema to it."));
    }
    let time = target.time_column();
    let mut wanted = vec![time, "media_buy_id", "created_at", "updated_at"];
    wanted.extend(target.metrics.iter().map(|m| m.column.as_str()));
    for col in wanted {
        let present = Spi::get_one_with_args::<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute WHERE attrelid = $1::pg_catalog.regclass AND attname = $2 AND attnum > 0 AND NOT attisdropped)",
            &[table.clone().into(), col.into()],
        )
        .ok()
        .flatten()
        .unwrap_or(false);
        if !present {
            return Err(BravoError::new(
                PgSqlErrorCode::ERRCODE_UNDEFINED_COLUMN,
                format!("target table {table} has no column \"{col}\""),
            )
            .hint(format!("The metric tables need {time}, media_buy_id, the metric columns, created_at and updated_at.")));
        }
    }
    let keyed = Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid = $1::pg_catalog.regclass AND i.indisunique AND i.indnkeyatts = 2 \
           AND (SELECT pg_catalog.array_agg(a.attname::text ORDER BY a.attname) FROM pg_catalog.pg_attribute a \
                 WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey::int2[])) \
                 OPERATOR(pg_catalog.=) (SELECT pg_catalog.array_agg(c ORDER BY c) FROM pg_catalog.unnest(ARRAY[$2, 'media_buy_id']) c))",
        &[table.clone().into(), time.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false);
    if !keyed {
        return Err(BravoError::new(
            PgSqlErrorCode::ERRCODE_INVALID_COLUMN_REFERENCE,
            format!("target table {table} has no unique key on (media_buy_id, {time})"),
        )
        .hint(format!(
            "ALTER TABLE {table} ADD PRIMARY KEY (media_buy_id, {time});"
        )));
    }
    owner::check(&table, "target table")
}

/// Deletes the vanished keys remembered by the applier, within the safety limit.
pub fn delete_vanished(
    schema: &str,
    target: &Target,
    owner: &Owner,
    window_start: WindowStart,
    applied: &Applied,
    max_fraction: f64,
) -> Result<i64, BravoError> {
    let vanished = applied.vanished;
    if vanished == 0 {
        return Ok(0);
    }
    let window_rows = applied.window_rows.max(1);
    let fraction = vanished as f64 / window_rows as f64;
    if fraction > max_fraction {
        return Err(BravoError::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "sync refused to delete {vanished} of {window_rows} rows ({:.1}%) of {} in the window since {}",
                fraction * 100.0,
                target.table,
                window_start.text()
            ),
        )
        .detail(format!(
            "The source no longer returns these rows. bravo_metrics.delete_max_fraction allows at most {:.1}% per sync; a source that returns few or no rows (an outage, a wrong relation) would otherwise wipe the window.",
            max_fraction * 100.0
        ))
        .hint("If the rows really vanished, run once with SET bravo_metrics.delete_max_fraction = 1; or turn bravo_metrics.delete_missing off."));
    }
    owner.run(|| {
        count(
            &format!(
                "WITH d AS (DELETE FROM {schema}.{} t USING pg_temp.bravo_vanished_{} v \
                   WHERE t.media_buy_id = v.media_buy_id AND t.{time} = v.{time} RETURNING 1) \
                 SELECT pg_catalog.count(*) FROM d",
                target.table,
                target.name,
                time = window_start.column()
            ),
            &[],
        )
    })
}

/// Set-aside bookkeeping after a target's window is applied; returns the rows merged
/// late from the set-aside table as (inserted, updated).
///
/// Every open row this fetch re-judged (its date is in the window, or NULL: rows with
/// a NULL date are fetched by every sync) is resolved: `merged` when it was set aside
/// for an unknown media buy and its key is now in the table (not set aside again),
/// `superseded` otherwise (set aside again by this run, or no longer returned by the
/// source). Older unknown-media-buy rows whose buy now exists are merged from their
/// saved source row (`merged` too).
pub fn settle_set_aside(
    schemas: &Schemas,
    target: &Target,
    key: &KeySpec,
    owner: &Owner,
    run_id: i64,
    window_start: WindowStart,
    distributed: bool,
) -> Result<(i64, i64), BravoError> {
    let (media, log) = (&schemas.media, &schemas.internal);
    // bravo_set_aside names its time columns as the metric tables do.
    let time = window_start.column();
    let start = || window_start.datum();
    let table = format!("{media}.{}", target.table);
    // The set-aside row's key: `media_buy_id` for integer ids, `media_buy_key` (text)
    // cast to the key's type otherwise.
    let (kc, a_key, k) = (key.aside_column(), key.aside_key("a."), key.aside_key(""));
    let metrics = metric_list(target, "");
    let t_metrics = metric_list(target, "t.");
    // Whether the set-aside row's key is in the table now. Citus cannot run a subquery
    // on its tables per row of a local one: there, the open rows' keys go to the shards
    // in one query first, and the keys found come back as ($4, $5).
    let (in_table, found) = if distributed {
        (
            format!("({a_key}::text, a.{time}::text) IN (SELECT * FROM ROWS FROM (pg_catalog.unnest($4::text[]), pg_catalog.unnest($5::text[])))"),
            open_keys_in_table(log, &table, target, key, time)?,
        )
    } else {
        (
            format!("EXISTS (SELECT 1 FROM {table} t WHERE t.media_buy_id = {a_key} AND t.{time} = a.{time})"),
            (Vec::new(), Vec::new()),
        )
    };
    Spi::run_with_args(
        &format!(
            "UPDATE {log}.bravo_set_aside a SET resolved_at = pg_catalog.now(), resolved_run_id = $1, \
                    resolution = CASE WHEN a.reason = 'unknown_media_buy' \
                        AND NOT EXISTS (SELECT 1 FROM {log}.bravo_set_aside n \
                                         WHERE n.run_id = $1 AND n.target = a.target AND n.resolved_at IS NULL \
                                           AND n.{kc} = a.{kc} AND n.{time} = a.{time}) \
                        AND {in_table} \
                      THEN 'merged' ELSE 'superseded' END \
              WHERE a.target = $2 AND a.resolved_at IS NULL AND a.run_id <> $1 \
                AND (a.{time} >= $3 OR a.{time} IS NULL)"
        ),
        &[run_id.into(), target.name.clone().into(), start(), found.0.into(), found.1.into()],
    )
    .map_err(|e| BravoError::internal("set-aside update failed", e))?;
    // Rows for media buys that now exist, older than the window: take the latest saved
    // row per key (as the extension's owner, into a temp table), then merge it as the
    // table's owner.
    let casts = target
        .metrics
        .iter()
        .map(|m| {
            format!(
                "(source_row->>'{0}')::{1}",
                m.column,
                if m.kind == MetricKind::Money {
                    "numeric"
                } else {
                    "bigint"
                }
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let late = format!("pg_temp.bravo_late_{}", target.name);
    // (In the Citus layout media_buys is a reference table: its ids matching the open
    // rows' keys are looked up first, as above.)
    let (known, known_ids) = if distributed {
        (
            format!("{a_key}::text = ANY ($4::text[])"),
            open_buys_known(log, media, target, key, time, start())?,
        )
    } else {
        (
            format!("EXISTS (SELECT 1 FROM {media}.media_buys m WHERE m.id = {a_key})"),
            Vec::new(),
        )
    };
    let n = count(
        &format!(
            "WITH r AS (UPDATE {log}.bravo_set_aside a SET resolved_at = pg_catalog.now(), resolved_run_id = $1, resolution = 'merged' \
               WHERE a.target = $2 AND a.resolved_at IS NULL AND a.reason = 'unknown_media_buy' AND a.{time} < $3 \
                 AND {known} RETURNING a.*) \
             SELECT pg_catalog.count(*) FROM r"
        ),
        &[run_id.into(), target.name.clone().into(), start(), known_ids.into()],
    )?;
    if n == 0 {
        return Ok((0, 0));
    }
    Spi::run(&format!(
        "CREATE TEMP TABLE IF NOT EXISTS bravo_late_{0} ON COMMIT DROP AS SELECT media_buy_id, {time}, {metrics} FROM {table} WITH NO DATA; \
         TRUNCATE {late}",
        target.name
    ))
    .map_err(|e| BravoError::internal("cannot create the late-merge table", e))?;
    Spi::run_with_args(
        &format!(
            "INSERT INTO {late} SELECT DISTINCT ON ({k}, {time}) {k}, {time}, {casts} \
               FROM {log}.bravo_set_aside WHERE resolved_run_id = $1 AND target = $2 AND resolution = 'merged' \
                AND reason = 'unknown_media_buy' AND {time} < $3 \
              ORDER BY {k}, {time}, id DESC"
        ),
        &[run_id.into(), target.name.clone().into(), start()],
    )
    .map_err(|e| BravoError::internal("late merge failed", e))?;
    owner.grant_select(&late)?;
    let late_sql = format!(
        "WITH m AS (INSERT INTO {table} AS t (media_buy_id, {time}, {metrics}, created_at, updated_at) \
           SELECT l.*, pg_catalog.now(), pg_catalog.now() FROM {late} l \
           ON CONFLICT (media_buy_id, {time}) DO UPDATE SET {set_excluded}, updated_at = EXCLUDED.updated_at \
             WHERE ({t_metrics}) IS DISTINCT FROM ({e_metrics}) RETURNING (xmax = 0) AS ins) \
         SELECT pg_catalog.count(*) FILTER (WHERE ins), pg_catalog.count(*) FILTER (WHERE NOT ins) FROM m",
        set_excluded = target.metrics.iter().map(|m| format!("{0} = EXCLUDED.{0}", m.column)).collect::<Vec<_>>().join(", "),
        e_metrics = metric_list(target, "EXCLUDED."),
    );
    let (ins, upd) = owner
        .run(|| Spi::get_two::<i64, i64>(&late_sql))
        .map_err(|e| BravoError::internal("late merge failed", e))?;
    Ok((ins.unwrap_or(0), upd.unwrap_or(0)))
}

/// A column of values as text, as SPI reads a `text[]`.
type Texts = Vec<Option<String>>;

/// The keys of `target`'s open unknown-media-buy rows that are in `table` now, as text
/// (media buy id, time): two queries, the second one sent to every shard.
fn open_keys_in_table(
    log: &str,
    table: &str,
    target: &Target,
    key: &KeySpec,
    time: &str,
) -> Result<(Texts, Texts), BravoError> {
    let texts = |sql: &str, args: &[DatumWithOid]| {
        Spi::get_two_with_args::<Texts, Texts>(sql, args)
            .map(|(k, t)| (k.unwrap_or_default(), t.unwrap_or_default()))
            .map_err(|e| BravoError::internal("cannot look up the set-aside rows' keys", e))
    };
    let (ids, times) = texts(
        &format!(
            "SELECT pg_catalog.array_agg({k}::text), pg_catalog.array_agg(o.{time}::text) FROM {log}.bravo_set_aside o \
              WHERE o.target = $1 AND o.resolved_at IS NULL AND o.reason = 'unknown_media_buy' \
                AND {k} IS NOT NULL AND o.{time} IS NOT NULL",
            k = key.aside_key("o.")
        ),
        &[target.name.clone().into()],
    )?;
    if ids.is_empty() {
        return Ok((ids, times));
    }
    texts(
        &format!(
            "SELECT pg_catalog.array_agg(t.media_buy_id::text), pg_catalog.array_agg(t.{time}::text) FROM {table} t \
              WHERE (t.media_buy_id, t.{time}) IN (SELECT u.k::{}, u.d::{} FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS u(k, d))",
            key.pg_type,
            target.grain.pg_type()
        ),
        &[ids.into(), times.into()],
    )
}

/// The media buy ids (as text) of `target`'s open unknown-media-buy rows older than the
/// window (`start`) that `media_buys` has now.
fn open_buys_known(
    log: &str,
    media: &str,
    target: &Target,
    key: &KeySpec,
    time: &str,
    start: DatumWithOid<'static>,
) -> Result<Texts, BravoError> {
    let ids = |sql: &str, args: &[DatumWithOid]| {
        Spi::get_one_with_args::<Texts>(sql, args)
            .map(Option::unwrap_or_default)
            .map_err(|e| BravoError::internal("cannot look up the set-aside rows' media buys", e))
    };
    let open = ids(
        &format!(
            "SELECT pg_catalog.array_agg(DISTINCT {k}::text) FROM {log}.bravo_set_aside o \
              WHERE o.target = $1 AND o.resolved_at IS NULL AND o.reason = 'unknown_media_buy' \
                AND o.{time} < $2 AND {k} IS NOT NULL",
            k = key.aside_key("o.")
        ),
        &[target.name.clone().into(), start],
    )?;
    if open.is_empty() {
        return Ok(open);
    }
    ids(
        &format!(
            "SELECT pg_catalog.array_agg(m.id::text) FROM {media}.media_buys m \
              WHERE m.id IN (SELECT u.k::{} FROM pg_catalog.unnest($1::text[]) AS u(k))",
            key.pg_type
        ),
        &[open.into()],
    )
}
