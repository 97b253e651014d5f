//! Applying a fetched window to its target table by streaming comparison.
//!
//! The source rows arrive sorted in the sync's [`KeyOrder`] for this table (chosen in
//! `order.rs`). The target's window is read in the same order through an SPI cursor
//! ([`Window`]), and the two sorted streams are compared by the pure
//! [`bravo_core::compare::Comparison`], holding one fetch of the target at a time. Its decisions are written here:
//!
//! * a key only in the source is inserted;
//! * a key in both is updated only if a metric differs (`updated_at` bumped,
//!   `created_at` kept); otherwise nothing is written at all;
//! * a key only in the target has vanished from the source: counted, and remembered
//!   in a temp table when `bravo_metrics.delete_missing` is on (deleted at the end,
//!   after the safety check in `merge.rs`);
//! * keys of rows that were set aside count as present (never "vanished"); the rows
//!   go to `bravo_set_aside`.
//!
//! Writes go out in array-bound statements of up to [`FLUSH_ROWS`] rows, each inside a
//! memory context that is reset afterwards, so memory does not grow with the window.

use std::collections::VecDeque;

use bravo_core::compare::{
    CompareError, Comparison, Decision, IterRows, Key, TargetRow, TargetRows, TimeGroups,
};
use bravo_core::grain::Grain;
use bravo_core::target::{MetricKind, Target};
use bravo_core::validate::{Outcome, Value};
use bravo_core::{BuyId, KeyOrder, KeyType};
use pgrx::datum::{Date, DatumWithOid, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::spi::SpiCursor;
use pgrx::{PgMemoryContexts, PgSqlErrorCode};

use super::arrays;
use super::key::KeySpec;
use super::owner::Owner;
use super::slot::{self, Times, WindowStart};
use crate::error::BravoError;
use crate::schemas::Schemas;

/// Rows buffered before one INSERT / UPDATE statement.
pub const FLUSH_ROWS: usize = 50_000;
/// Target rows fetched from the cursor at a time.
const FETCH_ROWS: i64 = 20_000;

/// Counts of one applied window.
#[derive(Debug, Default, Clone, Copy)]
pub struct Applied {
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub vanished: i64,
    pub set_aside: i64,
    /// Target rows in the window before the sync.
    pub window_rows: i64,
}

/// A row bound for `bravo_set_aside`.
struct SetAsideRow {
    reason: &'static str,
    detail: String,
    date: Option<Date>,
    /// An hourly family's hour (`bravo_set_aside.hour_start`).
    hour: Option<TimestampWithTimeZone>,
    /// The key of an integer id (`bravo_set_aside.media_buy_id`).
    media_buy_id: Option<i64>,
    /// Any id as text (`bravo_set_aside.media_buy_key`).
    media_buy_key: Option<String>,
    raw: String,
}

/// Ids to write, as bound: `int8[]` for integer keys, `text[]` otherwise.
enum Ids {
    Int(Vec<i64>),
    Text(Vec<String>),
}

impl Default for Ids {
    fn default() -> Self {
        Ids::Int(Vec::new())
    }
}

impl Ids {
    fn new(kind: KeyType) -> Self {
        match kind {
            KeyType::Int => Ids::Int(Vec::new()),
            _ => Ids::Text(Vec::new()),
        }
    }
    fn len(&self) -> usize {
        match self {
            Ids::Int(v) => v.len(),
            Ids::Text(v) => v.len(),
        }
    }
    fn push(&mut self, id: BuyId) {
        match (self, id) {
            (Ids::Int(v), BuyId::Int(i)) => v.push(i),
            (Ids::Text(v), BuyId::Text(t)) => v.push(t),
            (Ids::Text(v), BuyId::Int(i)) => v.push(i.to_string()),
            // Integer ids are read only for integer keys (bravo_core::validate).
            (Ids::Int(_), BuyId::Text(t)) => unreachable!("text id {t} for an integer key"),
        }
    }
    fn take(&mut self) -> DatumWithOid<'static> {
        match self {
            Ids::Int(v) => arrays::int8s(std::mem::take(v)),
            Ids::Text(v) => arrays::texts(std::mem::take(v)),
        }
    }
}

impl Default for Times {
    fn default() -> Self {
        Times::Days(Vec::new())
    }
}

/// Column-wise buffer of rows to write.
#[derive(Default)]
struct Rows {
    times: Times,
    ids: Ids,
    counts: Vec<Vec<i64>>,
    money: Vec<Vec<String>>,
}

impl Rows {
    fn new(target: &Target, kind: KeyType) -> Self {
        let nc = target
            .metrics
            .iter()
            .filter(|m| m.kind == MetricKind::Count)
            .count();
        Rows {
            counts: vec![Vec::new(); nc],
            money: vec![Vec::new(); target.metrics.len() - nc],
            ids: Ids::new(kind),
            times: Times::new(target.grain),
        }
    }
    fn len(&self) -> usize {
        self.ids.len()
    }
    fn push(&mut self, key: Key, values: Vec<Value>) {
        self.ids.push(key.0);
        self.times.push(key.1);
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
    /// Moves the buffered columns into statement arguments (date, id, metrics...).
    fn take_args(&mut self, target: &Target) -> Vec<DatumWithOid<'static>> {
        let mut args: Vec<DatumWithOid> = vec![self.times.take(), self.ids.take()];
        let (mut c, mut m) = (0, 0);
        for metric in &target.metrics {
            match metric.kind {
                MetricKind::Count => {
                    args.push(arrays::int8s(std::mem::take(&mut self.counts[c])));
                    c += 1;
                }
                MetricKind::Money => {
                    args.push(arrays::numerics(std::mem::take(&mut self.money[m])));
                    m += 1;
                }
            }
        }
        args
    }
}

/// `pgrx::datum::Date` from a chrono date.
pub fn pg_date(d: chrono::NaiveDate) -> Date {
    Date::saturating_from_raw(bravo_core::compare::epoch_days(d))
}

/// The target's window, read through an SPI cursor in key order, one fetch of
/// [`FETCH_ROWS`] at a time. Date first, the cursor returns time order only and each
/// time slot's rows are sorted by id here (`groups`).
pub struct Window<'c> {
    cursor: SpiCursor<'c>,
    kind: KeyType,
    grain: Grain,
    metrics: Vec<bravo_core::target::Metric>,
    pending: VecDeque<TargetRow>,
    groups: Option<TimeGroups>,
    exhausted: bool,
    /// Rows read so far.
    fetched: i64,
}

impl TargetRows for Window<'_> {
    type Error = BravoError;

    fn next_row(&mut self) -> Result<Option<TargetRow>, BravoError> {
        if self.groups.is_some() {
            loop {
                let groups = self.groups.as_mut().expect("date first");
                if let Some(row) = groups.pop() {
                    return Ok(Some(row));
                }
                if self.exhausted {
                    return Ok(None);
                }
                self.fetch()?;
                let groups = self.groups.as_mut().expect("date first");
                for row in self.pending.drain(..) {
                    groups.push(row).map_err(|row| {
                        BravoError::internal(
                            "cannot read the target window",
                            format!("the cursor returned {} after a later time slot", row.key.1),
                        )
                    })?;
                }
                if self.exhausted {
                    groups.finish();
                }
            }
        }
        if self.pending.is_empty() && !self.exhausted {
            self.fetch()?;
        }
        Ok(self.pending.pop_front())
    }
}

impl Window<'_> {
    /// One fetch of the cursor into `pending`.
    fn fetch(&mut self) -> Result<(), BravoError> {
        let (metrics, kind, grain) = (&self.metrics, self.kind, self.grain);
        let table = self
            .cursor
            .fetch(FETCH_ROWS)
            .map_err(|e| BravoError::internal("cannot read the target window", e))?;
        // SAFETY: reading a backend global; `fetch` just set it to this fetch's
        // tuple table (or NULL), which `table` borrows until it is dropped below.
        let raw = unsafe { pg_sys::SPI_tuptable };
        let mut got = 0;
        for row in table {
            got += 1;
            self.pending
                .push_back(target_row(&row, kind, grain, metrics));
        }
        // pgrx keeps fetched tuple tables until SPI_finish; free each one now.
        if !raw.is_null() {
            // SAFETY: `raw` is the tuple table of the fetch above, still allocated
            // (nothing else frees it before SPI_finish); every row was copied out
            // of it and the iterator that borrowed it is consumed, so nothing
            // refers to it any more.
            unsafe { pg_sys::SPI_freetuptable(raw) };
        }
        self.fetched += got;
        if got < FETCH_ROWS {
            self.exhausted = true;
        }
        Ok(())
    }
}

/// A target row as the window cursor and the lookup select it: key, time, metrics.
fn target_row(
    row: &pgrx::spi::SpiHeapTupleData,
    kind: KeyType,
    grain: Grain,
    metrics: &[bravo_core::target::Metric],
) -> TargetRow {
    let id = match kind {
        KeyType::Int => BuyId::Int(row.get::<i64>(1).ok().flatten().unwrap_or_default()),
        _ => BuyId::Text(row.get::<String>(1).ok().flatten().unwrap_or_default()),
    };
    let time = slot::read(grain, row, 2);
    let mut values = Vec::with_capacity(metrics.len());
    for (i, m) in metrics.iter().enumerate() {
        values.push(match m.kind {
            MetricKind::Count => row.get::<i64>(i + 3).ok().flatten().map(Value::Count),
            MetricKind::Money => row.get::<String>(i + 3).ok().flatten().map(Value::Money),
        });
    }
    TargetRow {
        key: (id, time),
        values,
    }
}

/// Where the comparison's target rows come from.
enum Side<'c> {
    /// The whole window, through a cursor, compared in one pass (window syncs).
    Window(Comparison<Window<'c>>),
    /// Only the keys each batch of source rows has, looked up by primary key (the
    /// intraday refresh: its source rows are the changed ones, a sliver of the window;
    /// no key of the window can be said to have vanished).
    Lookup {
        order: KeyOrder,
        /// `$1` ids, `$2` times: the target rows with those keys, in `order`.
        sql: String,
        /// Target rows read.
        fetched: i64,
    },
}

/// Streams one target's window against its ordered source rows.
pub struct Applier<'c> {
    target: Target,
    key: KeySpec,
    owner: Owner,
    run_id: i64,
    /// Where `bravo_set_aside` is.
    log_schema: String,
    side: Side<'c>,
    decisions: Vec<Decision>,
    insert_sql: String,
    update_sql: String,
    inserts: Rows,
    updates: Rows,
    vanished: Vec<Key>,
    keep_vanished: bool,
    aside: Vec<SetAsideRow>,
    memory: PgMemoryContexts,
    pub applied: Applied,
}

impl<'c> Applier<'c> {
    /// Opens the cursor over the target's window. `keep_vanished`: remember vanished
    /// keys (in `pg_temp.bravo_vanished_<target>`) so they can be deleted.
    #[allow(clippy::too_many_arguments)]
    pub fn open(
        client: &pgrx::spi::SpiClient<'c>,
        target: Target,
        key: &KeySpec,
        owner: &Owner,
        run_id: i64,
        schemas: &Schemas,
        window_start: WindowStart,
        order: KeyOrder,
        keep_vanished: bool,
        scope: Option<&[BuyId]>,
        lookup: bool,
        distributed: bool,
    ) -> Result<Self, BravoError> {
        let time = window_start.column();
        // A refresh reads only its media buys' rows of the window.
        let mut args: Vec<DatumWithOid<'static>> = vec![window_start.datum()];
        let only = match scope {
            None => String::new(),
            Some(buys) => match key.kind {
                KeyType::Int => {
                    let ids: Vec<i64> = buys
                        .iter()
                        .filter_map(|b| match b {
                            BuyId::Int(i) => Some(*i),
                            BuyId::Text(_) => None,
                        })
                        .collect();
                    args.push(ids.into());
                    " AND media_buy_id OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.int8[])"
                        .to_string()
                }
                _ => {
                    let ids: Vec<String> = buys.iter().map(|b| b.to_string()).collect();
                    args.push(ids.into());
                    format!(
                        " AND media_buy_id IN (SELECT {} FROM pg_catalog.unnest($2::pg_catalog.text[]) AS u)",
                        key.cast("u")
                    )
                }
            },
        };
        let grain = target.grain;
        let table = format!("{}.{}", schemas.media, target.table);
        let select: Vec<String> = target
            .metrics
            .iter()
            .map(|m| {
                if m.kind == MetricKind::Money {
                    format!("{}::text", m.column)
                } else {
                    m.column.to_string()
                }
            })
            .collect();
        let side = if lookup {
            let (ids, times) = (key.array_type(), Times::new(grain).array_type());
            // Citus cannot plan a join of its tables with ROWS FROM (it mixes up the
            // columns' types); it plans the keys as a subquery it sends to the shards.
            let keys = if distributed {
                format!(
                    "{table} t WHERE (t.media_buy_id, t.{time}) IN (SELECT {}, u.bravo_lt FROM ROWS FROM (pg_catalog.unnest($1::{ids}), pg_catalog.unnest($2::{times})) AS u(bravo_lid, bravo_lt))",
                    key.cast("u.bravo_lid")
                )
            } else {
                format!(
                    "ROWS FROM (pg_catalog.unnest($1::{ids}), pg_catalog.unnest($2::{times})) AS u(bravo_lid, bravo_lt) \
                       JOIN {table} t ON t.media_buy_id OPERATOR(pg_catalog.=) {} AND t.{time} OPERATOR(pg_catalog.=) u.bravo_lt",
                    key.cast("u.bravo_lid")
                )
            };
            Side::Lookup {
                order,
                // (u's columns are named so that no metric column can clash with them)
                sql: format!(
                    "SELECT {} AS bravo_k, t.{time} AS bravo_d, {} FROM {keys} ORDER BY {}",
                    key.kind.target_select_expr("t.media_buy_id"),
                    select
                        .iter()
                        .map(|c| format!("t.{c}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    order.target_order_by(key.kind, time)
                ),
                fetched: 0,
            }
        } else {
            let cursor = client
                .try_open_cursor(
                    // Aliased, so that ORDER BY names the table's columns (a uuid is
                    // ordered as a uuid, not as its text).
                    format!(
                        "SELECT {} AS bravo_k, {time} AS bravo_d, {} FROM {table} WHERE {time} >= $1{only} ORDER BY {}",
                        key.kind.target_select_expr("media_buy_id"),
                        select.join(", "),
                        order.window_order_by(key.kind, time)
                    )
                    .as_str(),
                    &args,
                )
                .map_err(|e| BravoError::internal("cannot read the target window", e))?;
            Side::Window(Comparison::new(
                order,
                Window {
                    cursor,
                    kind: key.kind,
                    grain,
                    metrics: target.metrics.clone(),
                    pending: VecDeque::new(),
                    groups: (order == KeyOrder::DateFirst).then(TimeGroups::new),
                    exhausted: false,
                    fetched: 0,
                },
            ))
        };
        let mut args = vec![
            format!("$1::{}", Times::new(target.grain).array_type()),
            format!("$2::{}", key.array_type()),
        ];
        let mut cols = vec!["media_buy_id".to_string(), time.to_string()];
        let mut vals = vec![key.cast("u.id"), "u.d".to_string()];
        let mut sets = Vec::new();
        let mut alias = vec!["d".to_string(), "id".to_string()];
        for (i, m) in target.metrics.iter().enumerate() {
            let n = i + 3;
            args.push(format!(
                "${n}::{}[]",
                if m.kind == MetricKind::Money {
                    "numeric"
                } else {
                    "int8"
                }
            ));
            cols.push(m.column.to_string());
            vals.push(format!("u.c{n}"));
            sets.push(format!("{} = u.c{n}", m.column));
            alias.push(format!("c{n}"));
        }
        let unnest = format!("unnest({}) AS u({})", args.join(", "), alias.join(", "));
        // The inserts unnest the arrays in the select list (a ProjectSet, row by row)
        // rather than in FROM (a function scan, which first copies every element of
        // every array into a tuplestore of its own).
        let projected = format!(
            "(SELECT {}) AS u",
            args.iter()
                .zip(&alias)
                .map(|(a, n)| format!("pg_catalog.unnest({a}) AS {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let insert_sql = format!(
            "INSERT INTO {table} ({}, created_at, updated_at) SELECT {}, pg_catalog.now(), pg_catalog.now() FROM {projected}",
            cols.join(", "),
            vals.join(", ")
        );
        let update_sql = format!(
            "UPDATE {table} t SET {}, updated_at = pg_catalog.now() FROM {unnest} WHERE t.media_buy_id = {} AND t.{time} = u.d",
            sets.join(", "),
            key.cast("u.id")
        );
        if keep_vanished {
            Spi::run(&format!(
                "CREATE TEMP TABLE IF NOT EXISTS bravo_vanished_{0} (media_buy_id {1}, {time} {2}) ON COMMIT DROP; TRUNCATE pg_temp.bravo_vanished_{0}",
                target.name, key.pg_type, target.grain.pg_type()
            ))
            .map_err(|e| BravoError::internal("cannot create the vanished-keys table", e))?;
            owner.grant_select(&format!("pg_temp.bravo_vanished_{}", target.name))?;
        }
        Ok(Applier {
            owner: owner.clone(),
            inserts: Rows::new(&target, key.kind),
            updates: Rows::new(&target, key.kind),
            key: key.clone(),
            target,
            run_id,
            log_schema: schemas.internal.clone(),
            side,
            decisions: Vec::new(),
            insert_sql,
            update_sql,
            vanished: Vec::new(),
            keep_vanished,
            aside: Vec::new(),
            memory: PgMemoryContexts::new("bravo_metrics apply batch"),
            applied: Applied::default(),
        })
    }

    fn vanish(&mut self, key: Key) {
        self.applied.vanished += 1;
        if self.keep_vanished {
            self.vanished.push(key);
        }
    }

    /// Takes decided rows, in key order; writes when a buffer is full.
    pub fn accept(&mut self, outcomes: &mut Vec<Outcome>) -> Result<(), BravoError> {
        let mut decisions = std::mem::take(&mut self.decisions);
        let name = &self.target.name;
        let out_of_order = |e: CompareError<BravoError>| match e {
            CompareError::Target(e) => e,
            CompareError::SourceOutOfOrder { previous, next } => BravoError::new(
                PgSqlErrorCode::ERRCODE_FDW_ERROR,
                format!("{name}: source rows out of order: {next:?} after {previous:?}"),
            ),
        };
        match &mut self.side {
            Side::Window(comparison) => {
                for o in outcomes.drain(..) {
                    comparison.push(o, &mut decisions).map_err(out_of_order)?;
                }
                self.applied.window_rows = comparison.target().fetched;
            }
            Side::Lookup {
                order,
                sql,
                fetched,
            } => {
                let rows = lookup(sql, &self.key, &self.target, outcomes)?;
                *fetched += rows.len() as i64;
                let mut comparison = Comparison::new(*order, IterRows(rows.into_iter()));
                for o in outcomes.drain(..) {
                    comparison.push(o, &mut decisions).map_err(|e| match e {
                        CompareError::Target(never) => match never {},
                        CompareError::SourceOutOfOrder { previous, next } => {
                            out_of_order(CompareError::SourceOutOfOrder { previous, next })
                        }
                    })?;
                }
                // Every row looked up has a key of this batch: none is left over.
                comparison
                    .finish(&mut decisions)
                    .unwrap_or_else(|never| match never {});
                self.applied.window_rows = *fetched;
            }
        }
        for d in decisions.drain(..) {
            self.take(d);
        }
        self.decisions = decisions;
        if self.inserts.len() >= FLUSH_ROWS
            || self.updates.len() >= FLUSH_ROWS
            || self.aside.len() >= FLUSH_ROWS
            || self.vanished.len() >= FLUSH_ROWS
        {
            self.flush()?;
        }
        Ok(())
    }

    /// Buffers one decision's write.
    fn take(&mut self, decision: Decision) {
        match decision {
            Decision::Insert { key, values } => self.inserts.push(key, values),
            Decision::Update { key, values } => self.updates.push(key, values),
            Decision::Unchanged { .. } => self.applied.unchanged += 1,
            Decision::Vanished { key } => self.vanish(key),
            Decision::SetAside {
                reason,
                detail,
                row,
                ..
            } => {
                let raw = row.raw_json(&self.target);
                self.aside.push(SetAsideRow {
                    reason: reason.as_str(),
                    detail,
                    // (an hourly family's set-aside rows keep their hour in source_row)
                    date: row
                        .slot
                        .filter(|_| self.target.grain == Grain::Day)
                        .map(Date::saturating_from_raw),
                    hour: row
                        .slot
                        .filter(|_| self.target.grain == Grain::Hour)
                        .map(slot::instant),
                    media_buy_id: match row.media_buy_id {
                        Some(BuyId::Int(id)) => Some(id),
                        _ => None,
                    },
                    media_buy_key: row.media_buy_id.as_ref().map(BuyId::to_text),
                    raw,
                });
            }
        }
    }

    /// Writes buffered inserts, updates, set-aside rows and vanished keys.
    pub fn flush(&mut self) -> Result<(), BravoError> {
        let (ni, nu, na, nv) = (
            self.inserts.len(),
            self.updates.len(),
            self.aside.len(),
            self.vanished.len(),
        );
        if ni + nu + na + nv == 0 {
            return Ok(());
        }
        let (target, key) = (&self.target, &self.key);
        let mut inserts = std::mem::replace(&mut self.inserts, Rows::new(target, key.kind));
        let mut updates = std::mem::replace(&mut self.updates, Rows::new(target, key.kind));
        let aside = std::mem::take(&mut self.aside);
        let vanished = std::mem::take(&mut self.vanished);
        let (insert_sql, update_sql, schema, run_id, owner) = (
            &self.insert_sql,
            &self.update_sql,
            &self.log_schema,
            self.run_id,
            &self.owner,
        );
        // SAFETY: `memory` is a context created for this Applier (child of the current one)
        // and outlives the closure; nothing allocated in it escapes: statements are run and
        // their arguments dropped inside, and only a Result of Rust values comes back.
        let result = unsafe {
            self.memory.switch_to(|_| -> Result<(), BravoError> {
                // The metric table is written as its owner (owner.rs).
                if ni > 0 {
                    let args = inserts.take_args(target);
                    owner.run(|| Spi::run_with_args(insert_sql, &args)).map_err(|e| BravoError::internal("insert failed", e))?;
                }
                if nu > 0 {
                    let args = updates.take_args(target);
                    owner.run(|| Spi::run_with_args(update_sql, &args)).map_err(|e| BravoError::internal("update failed", e))?;
                }
                if na > 0 {
                    let mut reasons = Vec::with_capacity(na);
                    let mut details = Vec::with_capacity(na);
                    let mut dates = Vec::with_capacity(na);
                    let mut hours = Vec::with_capacity(na);
                    let mut ids = Vec::with_capacity(na);
                    let mut keys = Vec::with_capacity(na);
                    let mut raws = Vec::with_capacity(na);
                    for row in aside {
                        reasons.push(row.reason);
                        details.push(row.detail);
                        dates.push(row.date);
                        hours.push(row.hour);
                        ids.push(row.media_buy_id);
                        keys.push(row.media_buy_key);
                        raws.push(row.raw);
                    }
                    // media_buy_key: since 0.4.0 (see KeySpec::aside_has_key).
                    let (kcol, kval) = if key.aside_has_key { (", media_buy_key", ", k") } else { ("", "") };
                    // hour_start: hourly families (since 0.4.0, as their catalog rows).
                    let (hcol, hval) = if target.grain == Grain::Hour { (", hour_start", ", h") } else { ("", "") };
                    Spi::run_with_args(
                        &format!(
                            "INSERT INTO {schema}.bravo_set_aside (run_id, target, reason, detail, date, media_buy_id, source_row{kcol}{hcol}) \
                             SELECT $1, $2, r, d, dt, id, raw::jsonb{kval}{hval} FROM unnest($3::text[], $4::text[], $5::date[], $6::int8[], $7::text[], $8::text[], $9::timestamptz[]) AS u(r, d, dt, id, raw, k, h)"
                        ),
                        &[run_id.into(), target.name.clone().into(), reasons.into(), details.into(), dates.into(), ids.into(), raws.into(), keys.into(), hours.into()],
                    )
                    .map_err(|e| BravoError::internal("set-aside insert failed", e))?;
                }
                if nv > 0 {
                    let mut ids = Ids::new(key.kind);
                    let mut times = Times::new(target.grain);
                    for (id, time) in vanished {
                        ids.push(id);
                        times.push(time);
                    }
                    Spi::run_with_args(
                        &format!(
                            "INSERT INTO pg_temp.bravo_vanished_{} SELECT {}, u.d FROM unnest($1::{}, $2::{}) AS u(id, d)",
                            target.name, key.cast("u.id"), key.array_type(), times.array_type()
                        ),
                        &[ids.take(), times.take()],
                    )
                    .map_err(|e| BravoError::internal("cannot remember vanished keys", e))?;
                }
                Ok(())
            })
        };
        // SAFETY: nothing refers to memory of this context any more: the closure above
        // returned and the statements it ran are finished.
        unsafe { self.memory.reset() };
        result?;
        self.applied.inserted += ni as i64;
        self.applied.updated += nu as i64;
        self.applied.set_aside += na as i64;
        Ok(())
    }

    /// Drains the target's remaining window rows (vanished) and writes everything.
    pub fn finish(mut self) -> Result<Applied, BravoError> {
        loop {
            let gone = match &mut self.side {
                Side::Window(comparison) => comparison.next_vanished()?,
                Side::Lookup { .. } => None,
            };
            let Some(gone) = gone else { break };
            self.vanish(gone);
            if self.vanished.len() >= FLUSH_ROWS {
                self.flush()?;
            }
        }
        if let Side::Window(c) = &self.side {
            self.applied.window_rows = c.target().fetched;
        }
        self.flush()?;
        Ok(self.applied)
    }
}

/// The target rows with the keys of a batch's valid rows, in the comparison's order.
fn lookup(
    sql: &str,
    key: &KeySpec,
    target: &Target,
    outcomes: &[Outcome],
) -> Result<Vec<TargetRow>, BravoError> {
    let mut ids = Ids::new(key.kind);
    let mut times = Times::new(target.grain);
    for o in outcomes {
        if let Outcome::Valid {
            slot, media_buy_id, ..
        } = o
        {
            ids.push(media_buy_id.clone());
            times.push(*slot);
        }
    }
    if ids.len() == 0 {
        return Ok(Vec::new());
    }
    Spi::connect(|c| {
        let table = c.select(sql, None, &[ids.take(), times.take()])?;
        Ok::<_, pgrx::spi::Error>(
            table
                .map(|row| target_row(&row, key.kind, target.grain, &target.metrics))
                .collect(),
        )
    })
    .map_err(|e| BravoError::internal("cannot look up the changed rows' target rows", e))
}
