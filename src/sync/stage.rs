//! Staging: validated source rows go into a session-local temp table, one array-bound
//! INSERT per batch, inside a memory context that is reset after every batch, so a
//! sync's memory does not grow with the window.

use pgrx::datum::{Date, DatumWithOid};
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

use super::targets::{MetricKind, Target};
use super::validate::{Outcome, Value};
use crate::error::BravoError;

/// Rows buffered before one INSERT into the staging table.
pub const FLUSH_ROWS: usize = 50_000;

pub fn stage_table(target: &Target) -> String {
    format!("pg_temp.bravo_stage_{}", target.name)
}

/// Creates (or empties) the staging table for `target`. Dropped at commit.
pub fn create(target: &Target) -> Result<(), BravoError> {
    let cols: Vec<String> = target
        .metrics
        .iter()
        .map(|m| {
            format!(
                "{} {}",
                m.column,
                if m.kind == MetricKind::Money {
                    "numeric"
                } else {
                    "bigint"
                }
            )
        })
        .collect();
    let table = stage_table(target);
    let sql = format!(
        "CREATE TEMP TABLE IF NOT EXISTS bravo_stage_{} (media_buy_id bigint NOT NULL, date date NOT NULL, {}) ON COMMIT DROP",
        target.name,
        cols.join(", ")
    );
    spi_run(&sql)?;
    spi_run(&format!("TRUNCATE {table}"))
}

pub fn spi_run(sql: &str) -> Result<(), BravoError> {
    Spi::run(sql).map_err(|e| {
        BravoError::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("{e}"))
            .detail(sql.to_string())
    })
}

/// A row bound for `bravo_set_aside`.
struct SetAsideRow {
    reason: &'static str,
    detail: String,
    date: Option<Date>,
    media_buy_id: Option<i64>,
    raw: String,
}

/// Buffers decided rows and writes them in batches.
pub struct Stager {
    target: Target,
    run_id: i64,
    schema: String,
    insert_sql: String,
    dates: Vec<Date>,
    ids: Vec<i64>,
    counts: Vec<Vec<i64>>,
    money: Vec<Vec<String>>,
    aside: Vec<SetAsideRow>,
    memory: PgMemoryContexts,
    pub staged: i64,
    pub set_aside: i64,
}

fn pg_date(d: chrono::NaiveDate) -> Date {
    use chrono::Datelike;
    // PostgreSQL dates count days from 2000-01-01 (Julian day 2451545).
    let days = d.num_days_from_ce() - 730_120;
    unsafe { Date::from_pg_epoch_days(days) }
}

impl Stager {
    pub fn new(target: Target, run_id: i64, schema: &str) -> Self {
        let mut args = vec!["$1::date[]".to_string(), "$2::int8[]".to_string()];
        let mut select = vec!["media_buy_id".to_string(), "date".to_string()];
        let (mut nc, mut nm) = (0, 0);
        let mut n = 3;
        for m in target.metrics {
            match m.kind {
                MetricKind::Count => {
                    args.push(format!("${n}::int8[]"));
                    nc += 1;
                }
                MetricKind::Money => {
                    args.push(format!("${n}::text[]"));
                    nm += 1;
                }
            }
            select.push(format!(
                "c{n}{}",
                if m.kind == MetricKind::Money {
                    "::numeric"
                } else {
                    ""
                }
            ));
            n += 1;
        }
        let aliases: Vec<String> = (1..n)
            .map(|i| match i {
                1 => "date".to_string(),
                2 => "media_buy_id".to_string(),
                i => format!("c{i}"),
            })
            .collect();
        let insert_sql = format!(
            "INSERT INTO {} (media_buy_id, date, {}) SELECT {} FROM unnest({}) AS u({})",
            stage_table(&target),
            target
                .metrics
                .iter()
                .map(|m| m.column)
                .collect::<Vec<_>>()
                .join(", "),
            select.join(", "),
            args.join(", "),
            aliases.join(", ")
        );
        Stager {
            target,
            run_id,
            schema: schema.to_string(),
            insert_sql,
            dates: Vec::with_capacity(FLUSH_ROWS),
            ids: Vec::with_capacity(FLUSH_ROWS),
            counts: vec![Vec::with_capacity(FLUSH_ROWS); nc],
            money: vec![Vec::with_capacity(FLUSH_ROWS); nm],
            aside: Vec::new(),
            memory: PgMemoryContexts::new("bravo_metrics stage batch"),
            staged: 0,
            set_aside: 0,
        }
    }

    pub fn pending(&self) -> usize {
        self.ids.len()
    }

    /// Takes decided rows; flushes when the buffer is full.
    pub fn accept(&mut self, outcomes: &mut Vec<Outcome>) -> Result<(), BravoError> {
        for o in outcomes.drain(..) {
            match o {
                Outcome::Stage {
                    date,
                    media_buy_id,
                    values,
                } => {
                    self.dates.push(pg_date(date));
                    self.ids.push(media_buy_id);
                    let (mut c, mut m) = (0, 0);
                    for v in values {
                        match v {
                            Value::Count(n) => {
                                self.counts[c].push(n);
                                c += 1;
                            }
                            Value::Money(t) => {
                                self.money[m].push(t);
                                m += 1;
                            }
                        }
                    }
                }
                Outcome::SetAside {
                    reason,
                    detail,
                    row,
                } => {
                    let raw = row.raw_json(&self.target);
                    self.aside.push(SetAsideRow {
                        reason: reason.as_str(),
                        detail,
                        date: row.date.map(pg_date),
                        media_buy_id: row.media_buy_id,
                        raw,
                    });
                }
            }
        }
        if self.ids.len() >= FLUSH_ROWS || self.aside.len() >= FLUSH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes buffered rows.
    pub fn flush(&mut self) -> Result<(), BravoError> {
        let n = self.ids.len();
        let a = self.aside.len();
        if n == 0 && a == 0 {
            return Ok(());
        }
        let dates = std::mem::take(&mut self.dates);
        let ids = std::mem::take(&mut self.ids);
        let counts: Vec<Vec<i64>> = self.counts.iter_mut().map(std::mem::take).collect();
        let money: Vec<Vec<String>> = self.money.iter_mut().map(std::mem::take).collect();
        let aside = std::mem::take(&mut self.aside);
        let insert_sql = &self.insert_sql;
        let target = self.target;
        let run_id = self.run_id;
        let schema = &self.schema;
        let result = unsafe {
            self.memory.switch_to(|_| -> Result<(), BravoError> {
                if n > 0 {
                    let mut args: Vec<DatumWithOid> = vec![dates.into(), ids.into()];
                    let (mut ci, mut mi) = (counts.into_iter(), money.into_iter());
                    for m in target.metrics {
                        match m.kind {
                            MetricKind::Count => args.push(ci.next().unwrap_or_default().into()),
                            MetricKind::Money => args.push(mi.next().unwrap_or_default().into()),
                        }
                    }
                    Spi::run_with_args(insert_sql, &args)
                        .map_err(|e| BravoError::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("staging insert failed: {e}")))?;
                }
                if a > 0 {
                    let mut reasons = Vec::with_capacity(a);
                    let mut details = Vec::with_capacity(a);
                    let mut dates = Vec::with_capacity(a);
                    let mut ids = Vec::with_capacity(a);
                    let mut raws = Vec::with_capacity(a);
                    for row in aside {
                        reasons.push(row.reason);
                        details.push(row.detail);
                        dates.push(row.date);
                        ids.push(row.media_buy_id);
                        raws.push(row.raw);
                    }
                    let sql = format!(
                        "INSERT INTO {schema}.bravo_set_aside (run_id, target, reason, detail, date, media_buy_id, source_row) \
                         SELECT $1, $2, r, d, dt, id, raw::jsonb FROM unnest($3::text[], $4::text[], $5::date[], $6::int8[], $7::text[]) AS u(r, d, dt, id, raw)"
                    );
                    Spi::run_with_args(
                        &sql,
                        &[run_id.into(), target.name.into(), reasons.into(), details.into(), dates.into(), ids.into(), raws.into()],
                    )
                    .map_err(|e| BravoError::new(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR, format!("set-aside insert failed: {e}")))?;
                }
                Ok(())
            })
        };
        unsafe { self.memory.reset() };
        result?;
        self.staged += n as i64;
        self.set_aside += a as i64;
        for v in self.counts.iter_mut() {
            v.reserve(FLUSH_ROWS);
        }
        Ok(())
    }
}
