//! A fast local "Snowflake" serving generated ad metrics, for benchmarks and end-to-end tests.
//!
//! It accepts any login and answers `query-request`s whose SQL mentions one of four tables
//! (case-insensitive): `PLATFORM_BUY_DAILY_IMPRESSIONS` (DATE, MEDIA_BUY_ID, IMPRESSIONS,
//! CLICKS, SPEND NUMBER(18,2), CREATED_AT, UPDATED_AT), `PLATFORM_BUY_DAILY_VIDEOS` (DATE,
//! MEDIA_BUY_ID, VIDEO_STARTS, VIDEO_COMPLETIONS, VIDEO_VIEWS, CREATED_AT, UPDATED_AT),
//! `PLATFORM_BUY_DAILY_CONVERSIONS` (..., POST_CLICK_CONVERSIONS, POST_VIEW_CONVERSIONS,
//! CONVERSION_VALUE NUMBER(18,2), ...) or `PLATFORM_BUY_DAILY_VIEWABILITY` (...,
//! ELIGIBLE_IMPRESSIONS, MEASURABLE_IMPRESSIONS, VIEWABLE_IMPRESSIONS, ...).
//! Hourly: `PLATFORM_BUY_HOURLY_IMPRESSIONS` and `PLATFORM_BUY_HOURLY_VIDEOS` (HOUR_START
//! TIMESTAMP_LTZ, MEDIA_BUY_ID, the same metrics as the daily tables, CREATED_AT,
//! UPDATED_AT): every hour of the same days, restricted to `hour_start >= <first
//! timestamp binding>`.
//! All columns are always returned in that order, whatever the select list says.
//!
//! Rows: every media buy `1..=media_buys` for every date `end_date-days+1 ..= end_date`,
//! in the order the query's ORDER BY asks for ([`RowOrder::of_sql`]: media buy first, or
//! date first), restricted to `date >= <first DATE binding>` when the query
//! binds one. Values are a deterministic function of (id, date); with a `revision` R > 0,
//! the rows picked by [`SyntheticOptions::is_changed`] (`changed_pct` per 100 ids of each
//! date) get revision-specific values and an `UPDATED_AT` R hours later.
//! The result is a small inline Arrow part, then gzip'd Arrow chunks generated on request.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use arrow_array::{ArrayRef, Date32Array, Int32Array, Int64Array, StringArray, StructArray};
use arrow_schema::{DataType, Field, Fields};
use bytes::Bytes;
use chrono::NaiveDate;
use serde_json::Value;

use crate::double::{reply, Chunk, Double, Endpoint, Recorded, Reply, ResultSpec};
use crate::sfarrow::{self, SfColumn, Width};

/// Which table a query reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Impressions,
    Videos,
    Conversions,
    Viewability,
    HourlyImpressions,
    HourlyVideos,
}

impl Table {
    pub const HOURLY_IMPRESSIONS: &'static str = "PLATFORM_BUY_HOURLY_IMPRESSIONS";
    pub const HOURLY_VIDEOS: &'static str = "PLATFORM_BUY_HOURLY_VIDEOS";
    pub const IMPRESSIONS: &'static str = "PLATFORM_BUY_DAILY_IMPRESSIONS";
    pub const VIDEOS: &'static str = "PLATFORM_BUY_DAILY_VIDEOS";
    pub const CONVERSIONS: &'static str = "PLATFORM_BUY_DAILY_CONVERSIONS";
    pub const VIEWABILITY: &'static str = "PLATFORM_BUY_DAILY_VIEWABILITY";

    /// Finds the table named in `sql` (case-insensitive).
    pub fn from_sql(sql: &str) -> Option<Table> {
        let upper = sql.to_ascii_uppercase();
        if upper.contains(Table::HOURLY_IMPRESSIONS) {
            Some(Table::HourlyImpressions)
        } else if upper.contains(Table::HOURLY_VIDEOS) {
            Some(Table::HourlyVideos)
        } else if upper.contains(Table::IMPRESSIONS) {
            Some(Table::Impressions)
        } else if upper.contains(Table::VIDEOS) {
            Some(Table::Videos)
        } else if upper.contains(Table::CONVERSIONS) {
            Some(Table::Conversions)
        } else if upper.contains(Table::VIEWABILITY) {
            Some(Table::Viewability)
        } else {
            None
        }
    }

    /// One row per hour (HOUR_START) instead of per day.
    pub fn hourly(self) -> bool {
        matches!(self, Table::HourlyImpressions | Table::HourlyVideos)
    }

    /// The three metric column names.
    pub fn metric_names(self) -> [&'static str; 3] {
        match self {
            Table::Impressions | Table::HourlyImpressions => ["IMPRESSIONS", "CLICKS", "SPEND"],
            Table::Videos | Table::HourlyVideos => {
                ["VIDEO_STARTS", "VIDEO_COMPLETIONS", "VIDEO_VIEWS"]
            }
            Table::Conversions => [
                "POST_CLICK_CONVERSIONS",
                "POST_VIEW_CONVERSIONS",
                "CONVERSION_VALUE",
            ],
            Table::Viewability => [
                "ELIGIBLE_IMPRESSIONS",
                "MEASURABLE_IMPRESSIONS",
                "VIEWABLE_IMPRESSIONS",
            ],
        }
    }

    /// Scale and precision of the third metric column (money for impressions and
    /// conversions: NUMBER(18,2), in cents; a count otherwise).
    fn third_scale(self) -> (i64, i64) {
        match self {
            Table::Impressions | Table::Conversions | Table::HourlyImpressions => (2, 18),
            Table::Videos | Table::Viewability | Table::HourlyVideos => (0, 38),
        }
    }
}

/// The order rows are served in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowOrder {
    /// `ORDER BY media_buy_id, date` (also for a query without ORDER BY).
    MediaBuyFirst,
    /// `ORDER BY date, media_buy_id`.
    DateFirst,
}

impl RowOrder {
    /// The order a query's ORDER BY asks for: date first when its first key names the
    /// `DATE` column, media buy first otherwise.
    pub fn of_sql(sql: &str) -> RowOrder {
        let upper = sql.to_ascii_uppercase();
        let first_key = upper
            .rsplit_once("ORDER BY")
            .map(|(_, keys)| keys.split(',').next().unwrap_or("").trim().to_string())
            .unwrap_or_default();
        if matches!(first_key.trim_matches('"'), "DATE" | "HOUR_START") {
            RowOrder::DateFirst
        } else {
            RowOrder::MediaBuyFirst
        }
    }
}

/// How MEDIA_BUY_ID is served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IdText {
    /// NUMBER(38,0): the id itself.
    #[default]
    No,
    /// VARCHAR `buy-000000042`: fixed width, so text order is the id's order.
    Padded,
    /// VARCHAR upper-case uuid `00000000-0000-4000-8000-00000000002A` (fixed width: the
    /// order of `LOWER(MEDIA_BUY_ID)` is the id's order). A query that asks for
    /// `BRAVO_SOURCE_ID` (the sync converted the id in Snowflake and keeps the source's
    /// own) gets the lower-case uuid as MEDIA_BUY_ID and the upper-case one as
    /// BRAVO_SOURCE_ID.
    UpperUuid,
}

impl IdText {
    pub const PADDED_PREFIX: &'static str = "buy-";

    /// The id as served (upper-case for uuids).
    pub fn render(self, id: i64) -> String {
        match self {
            IdText::No => id.to_string(),
            IdText::Padded => format!("{}{id:09}", IdText::PADDED_PREFIX),
            IdText::UpperUuid => format!("00000000-0000-4000-8000-{id:012X}"),
        }
    }
}

/// Generator and serving settings.
#[derive(Clone, Debug)]
pub struct SyntheticOptions {
    pub media_buys: u64,
    pub days: u32,
    pub end_date: NaiveDate,
    /// Percentage (0..=100) of rows whose values differ in a revision > 0.
    pub changed_pct: u32,
    /// 0 = base values.
    pub revision: u32,
    /// Rows per chunk.
    pub chunk_rows: usize,
    /// Rows in the inline (`rowsetBase64`) part.
    pub inline_rows: usize,
    /// Gzip chunks (served with `Content-Encoding: gzip`).
    pub gzip: bool,
    /// Chunks with index ≥ K always answer 503.
    pub fail_after_chunks: Option<usize>,
    /// Every chunk with index ≥ `slow_after_chunks` is held this long before it is sent.
    pub slow_chunk: Option<Duration>,
    pub slow_after_chunks: usize,
    /// MEDIA_BUY_ID as NUMBER (default) or as text.
    pub id_text: IdText,
    /// Serve only these media buys (set per query from an `MEDIA_BUY_ID IN (?, ...)`
    /// filter's integer bindings, as Snowflake would filter).
    pub id_subset: Option<Arc<Vec<i64>>>,
    /// Changed rows (revision > 0) were revised at this instant (Unix epoch ns, as
    /// `UPDATED_AT`); `None`: `revision` hours after `CREATED_AT` (on the row's own day,
    /// so revisions of older days look old: behind a high-water mark).
    pub revised_at_ns: Option<i64>,
    /// Serve only these (slot, id) rows, in order (set per query from an
    /// `"UPDATED_AT" > ?` filter, as Snowflake would filter).
    pub rows: Option<Arc<Vec<(i64, i64)>>>,
}

impl Default for SyntheticOptions {
    fn default() -> Self {
        SyntheticOptions {
            media_buys: 1000,
            days: 30,
            end_date: NaiveDate::from_ymd_opt(2026, 11, 23).expect("date"),
            changed_pct: 0,
            revision: 0,
            chunk_rows: 100_000,
            inline_rows: 1000,
            gzip: true,
            fail_after_chunks: None,
            slow_chunk: None,
            slow_after_chunks: 0,
            id_text: IdText::No,
            id_subset: None,
            revised_at_ns: None,
            rows: None,
        }
    }
}

/// One generated row. `metrics` are unscaled (SPEND in cents).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsRow {
    pub date: NaiveDate,
    pub media_buy_id: i64,
    pub metrics: [i64; 3],
    /// Epoch nanoseconds (wall clock, TIMESTAMP_NTZ).
    pub created_at_ns: i64,
    pub updated_at_ns: i64,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

const UNIX_EPOCH_CE_DAYS: i32 = 719_163;

fn epoch_days(d: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&d) - UNIX_EPOCH_CE_DAYS
}

fn from_epoch_days(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + UNIX_EPOCH_CE_DAYS).expect("date in range")
}

impl SyntheticOptions {
    pub fn first_date(&self) -> NaiveDate {
        self.end_date - chrono::Days::new(u64::from(self.days.saturating_sub(1)))
    }

    /// Whether (id, date) gets revision-specific values: exactly `changed_pct` of every
    /// 100 consecutive ids of a date (7 is coprime with 100).
    pub fn is_changed(&self, media_buy_id: i64, date: NaiveDate) -> bool {
        let k = (media_buy_id as i128 * 7 + i128::from(epoch_days(date))).rem_euclid(100);
        self.revision > 0 && k < i128::from(self.changed_pct)
    }

    /// The row for (table, id, date) at this revision.
    pub fn row(&self, table: Table, media_buy_id: i64, date: NaiveDate) -> MetricsRow {
        self.row_at(table, media_buy_id, i64::from(epoch_days(date)))
    }

    /// The row for (table, id, slot): `slot` is the date as Unix epoch days, or for an
    /// hourly table the hour as Unix epoch hours.
    pub fn row_at(&self, table: Table, media_buy_id: i64, slot: i64) -> MetricsRow {
        let (day, date) = if table.hourly() {
            let day = slot.div_euclid(24) as i32;
            (slot as i32, from_epoch_days(day))
        } else {
            (slot as i32, from_epoch_days(slot as i32))
        };
        let k = (media_buy_id as i128 * 7 + i128::from(day)).rem_euclid(100);
        let changed = self.revision > 0 && k < i128::from(self.changed_pct);
        let rev = if changed { u64::from(self.revision) } else { 0 };
        let salt: u64 = match table {
            Table::Impressions => 0x1,
            Table::Videos => 0x2,
            Table::Conversions => 0x3,
            Table::Viewability => 0x4,
            Table::HourlyImpressions => 0x5,
            Table::HourlyVideos => 0x6,
        };
        let h = splitmix((media_buy_id as u64) ^ ((day as u64) << 32) ^ (rev << 56) ^ (salt << 60));
        let h2 = splitmix(h);
        let metrics = match table {
            Table::Impressions | Table::HourlyImpressions => {
                let imps = (h % 1_000_000) as i64;
                let clicks = imps / (20 + (h2 % 80) as i64);
                let spend_cents = (imps * (50 + (h2 >> 8) % 1000) as i64) / 1000;
                [imps, clicks, spend_cents]
            }
            Table::Videos | Table::HourlyVideos => {
                let starts = (h % 500_000) as i64;
                let completions = starts * ((h2 % 100) as i64) / 100;
                let views = starts * ((h2 >> 8) % 100) as i64 / 100;
                [starts, completions, views]
            }
            Table::Conversions => {
                let post_click = (h % 2_000) as i64;
                let post_view = ((h >> 16) % 5_000) as i64;
                let value_cents = (post_click + post_view) * (2_000 + (h2 % 6_000) as i64);
                [post_click, post_view, value_cents]
            }
            Table::Viewability => {
                let eligible = (h % 1_000_000) as i64;
                let measurable = eligible * (85 + (h2 % 13) as i64) / 100;
                let viewable = measurable * (45 + ((h2 >> 8) % 31) as i64) / 100;
                [eligible, measurable, viewable]
            }
        };
        let created = if table.hourly() {
            (i64::from(day) * 3600 + 1800) * 1_000_000_000
        } else {
            (i64::from(day) * 86_400 + 6 * 3600) * 1_000_000_000
        };
        let updated = if changed {
            self.revised_at_ns
                .unwrap_or(created + i64::from(self.revision) * 3_600_000_000_000 + 123_456_789)
        } else {
            created
        };
        MetricsRow {
            date,
            media_buy_id,
            metrics,
            created_at_ns: created,
            updated_at_ns: updated,
        }
    }

    /// The rows a query with optional `time >= since` (a slot: Unix epoch days, or
    /// hours for an hourly table) returns, in order, as (first slot, last slot, count).
    fn window(&self, table: Table, since: Option<i64>) -> (i64, i64, usize) {
        let per_day = if table.hourly() { 24 } else { 1 };
        let first =
            (i64::from(epoch_days(self.first_date())) * per_day).max(since.unwrap_or(i64::MIN));
        let last = i64::from(epoch_days(self.end_date)) * per_day + per_day - 1;
        if first > last {
            return (first, last, 0);
        }
        if let Some(rows) = &self.rows {
            return (first, last, rows.len());
        }
        (first, last, (last - first + 1) as usize * self.buy_count())
    }

    /// The window's rows changed after `since_ns` (`UPDATED_AT > since`), in `order`.
    fn changed_rows(
        &self,
        table: Table,
        order: RowOrder,
        (first, last): (i64, i64),
        since_ns: i64,
    ) -> Vec<(i64, i64)> {
        let mut out = Vec::new();
        let buys = self.buy_count() as u64;
        let mut keep = |slot: i64, id: i64| {
            if self.row_at(table, id, slot).updated_at_ns > since_ns {
                out.push((slot, id));
            }
        };
        match order {
            RowOrder::MediaBuyFirst => {
                for k in 0..buys {
                    for slot in first..=last {
                        keep(slot, self.buy_at(k));
                    }
                }
            }
            RowOrder::DateFirst => {
                for slot in first..=last {
                    for k in 0..buys {
                        keep(slot, self.buy_at(k));
                    }
                }
            }
        }
        out
    }
}

impl SyntheticOptions {
    /// The media buys served: all, or the query's subset.
    fn buy_count(&self) -> usize {
        match &self.id_subset {
            Some(ids) => ids.len(),
            None => self.media_buys as usize,
        }
    }

    /// The `k`-th media buy served (0-based).
    fn buy_at(&self, k: u64) -> i64 {
        match &self.id_subset {
            Some(ids) => ids[k as usize],
            None => k as i64 + 1,
        }
    }
}

/// Arrow columns for rows `[start, end)` of a window beginning at `first`, in `order`
/// (as the query's ORDER BY asks, and as Snowflake honours it); `source_id`: the query
/// asked for BRAVO_SOURCE_ID (see [`IdText::UpperUuid`]).
fn columns(
    opts: &SyntheticOptions,
    table: Table,
    order: RowOrder,
    (first, last): (i64, i64),
    start: usize,
    end: usize,
    source_id: bool,
) -> Vec<SfColumn> {
    let n = end - start;
    let mut dates = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    let mut m: [Vec<i64>; 3] = std::array::from_fn(|_| Vec::with_capacity(n));
    let (mut c_epoch, mut c_frac, mut u_epoch, mut u_frac) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let slots = (last - first + 1).max(1) as u64;
    let buys = (opts.buy_count() as u64).max(1);
    for r in start..end {
        let (slot, id) = match (&opts.rows, order) {
            (Some(rows), _) => rows[r],
            (None, RowOrder::MediaBuyFirst) => (
                first + (r as u64 % slots) as i64,
                opts.buy_at(r as u64 / slots),
            ),
            (None, RowOrder::DateFirst) => (
                first + (r as u64 / buys) as i64,
                opts.buy_at(r as u64 % buys),
            ),
        };
        let row = opts.row_at(table, id, slot);
        dates.push(slot);
        ids.push(id);
        for (col, v) in m.iter_mut().zip(row.metrics) {
            col.push(v);
        }
        c_epoch.push(row.created_at_ns.div_euclid(1_000_000_000));
        c_frac.push(row.created_at_ns.rem_euclid(1_000_000_000) as i32);
        u_epoch.push(row.updated_at_ns.div_euclid(1_000_000_000));
        u_frac.push(row.updated_at_ns.rem_euclid(1_000_000_000) as i32);
    }
    let names = table.metric_names();
    let [m0, m1, m2] = m;
    let fixed = |name: &str, scale: i64, precision: i64, v: Vec<i64>| {
        let mut c = sfarrow::fixed(name, Width::I64, scale, &[]);
        c.array = Arc::new(Int64Array::from(v));
        let mut md = c.field.metadata().clone();
        md.insert("precision".to_string(), precision.to_string());
        c.field = c.field.with_metadata(md);
        c
    };
    let (spend_scale, spend_precision) = table.third_scale();
    let date_col = if table.hourly() {
        let seconds: Vec<i64> = dates.iter().map(|h| h * 3600).collect();
        let zeros = vec![0; seconds.len()];
        timestamp9("HOUR_START", "TIMESTAMP_LTZ", seconds, zeros)
    } else {
        let mut c = sfarrow::date("DATE", &[]);
        c.array = Arc::new(Date32Array::from_iter_values(
            dates.iter().map(|&d| d as i32),
        ));
        c
    };
    let text = |name: &str, v: Vec<String>| {
        let mut c = sfarrow::text(name, &[]);
        c.array = Arc::new(StringArray::from(v));
        c
    };
    let (id_col, source_col) = match opts.id_text {
        IdText::No => (fixed("MEDIA_BUY_ID", 0, 38, ids), None),
        IdText::Padded => (
            text(
                "MEDIA_BUY_ID",
                ids.iter().map(|&i| opts.id_text.render(i)).collect(),
            ),
            None,
        ),
        IdText::UpperUuid => {
            let upper: Vec<String> = ids.iter().map(|&i| opts.id_text.render(i)).collect();
            if source_id {
                let lower = upper.iter().map(|u| u.to_lowercase()).collect();
                (
                    text("MEDIA_BUY_ID", lower),
                    Some(text("BRAVO_SOURCE_ID", upper)),
                )
            } else {
                (text("MEDIA_BUY_ID", upper), None)
            }
        }
    };
    let mut cols = vec![
        date_col,
        id_col,
        fixed(names[0], 0, 38, m0),
        fixed(names[1], 0, 38, m1),
        fixed(names[2], spend_scale, spend_precision, m2),
        ntz9("CREATED_AT", c_epoch, c_frac),
        ntz9("UPDATED_AT", u_epoch, u_frac),
    ];
    cols.extend(source_col);
    cols
}

fn ntz9(name: &str, epoch: Vec<i64>, fraction: Vec<i32>) -> SfColumn {
    timestamp9(name, "TIMESTAMP_NTZ", epoch, fraction)
}

/// A TIMESTAMP_NTZ or TIMESTAMP_LTZ column of scale 9, as {epoch s, fraction ns}.
fn timestamp9(name: &str, logical: &str, epoch: Vec<i64>, fraction: Vec<i32>) -> SfColumn {
    let mut c = sfarrow::ts_struct(name, logical, 9, &[]);
    let fields = Fields::from(vec![
        Field::new("epoch", DataType::Int64, false),
        Field::new("fraction", DataType::Int32, false),
    ]);
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(epoch)),
        Arc::new(Int32Array::from(fraction)),
    ];
    c.array = Arc::new(StructArray::try_new(fields, arrays, None).expect("timestamp struct"));
    c.field = Field::new(name, c.array.data_type().clone(), true)
        .with_metadata(c.field.metadata().clone());
    c
}

/// The `rowtype` of a table as served with `opts` (and BRAVO_SOURCE_ID if asked).
pub fn rowtype(table: Table, opts: &SyntheticOptions, source_id: bool) -> Value {
    sfarrow::rowtype_of(&columns(
        opts,
        table,
        RowOrder::MediaBuyFirst,
        (0, 0),
        0,
        0,
        source_id,
    ))
}

/// The first DATE or timestamp binding of a query-request body (DATE: ms epoch, or
/// TEXT `YYYY-MM-DD`; a timestamp: ns epoch), as a slot of `table` (Unix epoch days,
/// or hours for an hourly table: the hour at or after the instant).
fn since_binding(body: &Value, table: Table) -> Option<i64> {
    let per_day = if table.hourly() { 24 } else { 1 };
    since_date_or_instant(body).map(|t| match t {
        Since::Day(d) => i64::from(epoch_days(d)) * per_day,
        Since::Nanos(ns) if table.hourly() => {
            let h = 3_600_000_000_000i64;
            ns.div_euclid(h) + i64::from(ns.rem_euclid(h) != 0)
        }
        Since::Nanos(ns) => ns.div_euclid(86_400_000_000_000),
    })
}

/// The integer (FIXED) bindings of a query-request body, in binding order.
fn id_bindings(body: &Value) -> Vec<i64> {
    let Some(bindings) = body["bindings"].as_object() else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = bindings.keys().collect();
    keys.sort_by_key(|k| (k.parse::<u64>().unwrap_or(u64::MAX), k.to_string()));
    keys.into_iter()
        .filter(|k| bindings[*k]["type"] == "FIXED")
        .filter_map(|k| bindings[k]["value"].as_str()?.parse().ok())
        .collect()
}

/// The binding of an `"UPDATED_AT" > ?` filter (the first timestamp binding), as Unix
/// epoch ns, when the query has one.
fn changed_since_binding(sql: &str, body: &Value) -> Option<i64> {
    if !sql.to_ascii_uppercase().contains("\"UPDATED_AT\" > ?") {
        return None;
    }
    let bindings = body["bindings"].as_object()?;
    let mut keys: Vec<&String> = bindings.keys().collect();
    keys.sort_by_key(|k| (k.parse::<u64>().unwrap_or(u64::MAX), k.to_string()));
    keys.into_iter().find_map(|k| {
        let b = &bindings[k];
        match b["type"].as_str()? {
            "TIMESTAMP_NTZ" | "TIMESTAMP_LTZ" => b["value"].as_str()?.parse().ok(),
            "TIMESTAMP_TZ" => b["value"].as_str()?.split(' ').next()?.parse().ok(),
            _ => None,
        }
    })
}

enum Since {
    Day(NaiveDate),
    Nanos(i64),
}

fn since_date_or_instant(body: &Value) -> Option<Since> {
    let bindings = body["bindings"].as_object()?;
    let mut keys: Vec<&String> = bindings.keys().collect();
    keys.sort_by_key(|k| (k.parse::<u64>().unwrap_or(u64::MAX), k.to_string()));
    keys.into_iter().find_map(|k| {
        let b = &bindings[k];
        let v = b["value"].as_str()?;
        match b["type"].as_str()? {
            "DATE" => Some(Since::Day(from_epoch_days(
                v.parse::<i64>().ok()?.div_euclid(86_400_000) as i32,
            ))),
            "TEXT" => NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .ok()
                .map(Since::Day),
            "TIMESTAMP_LTZ" | "TIMESTAMP_NTZ" => v.parse::<i64>().ok().map(Since::Nanos),
            "TIMESTAMP_TZ" => v.split(' ').next()?.parse::<i64>().ok().map(Since::Nanos),
            _ => None,
        }
    })
}

fn answer(double_state: &Double, opts: &SyntheticOptions, req: &Recorded) -> Reply {
    let body = req.json();
    let sql = body["sqlText"].as_str().unwrap_or_default();
    let Some(table) = Table::from_sql(sql) else {
        let msg = format!("002003 (42S02): SQL compilation error: no synthetic table in {sql:?}");
        return Reply::json(reply::sql_error("002003", "42S02", &msg));
    };
    let source_id = sql.to_ascii_uppercase().contains("BRAVO_SOURCE_ID");
    if body["describeOnly"] == Value::Bool(true) {
        let spec = ResultSpec::with_rowtype(rowtype(table, opts, false), "arrow");
        return Reply::json(double_state.result(&spec));
    }
    // A filter on media buys: only those (integer ids; sorted, as an ORDER BY would).
    let subset;
    let opts = if sql.contains(" IN (") {
        let mut ids = id_bindings(&body);
        ids.sort_unstable();
        ids.dedup();
        ids.retain(|&i| i >= 1 && i <= opts.media_buys as i64);
        let mut o = opts.clone();
        o.id_subset = Some(Arc::new(ids));
        subset = o;
        &subset
    } else {
        opts
    };
    let order = RowOrder::of_sql(sql);
    // A filter on the change column: only the rows changed after its binding.
    let changed;
    let opts = match changed_since_binding(sql, &body) {
        Some(since_ns) => {
            let (first, last, _) = opts.window(table, since_binding(&body, table));
            let mut o = opts.clone();
            o.rows = Some(Arc::new(o.changed_rows(
                table,
                order,
                (first, last),
                since_ns,
            )));
            changed = o;
            &changed
        }
        None => opts,
    };
    let (first, last, total) = opts.window(table, since_binding(&body, table));
    let first = (first, last);
    let inline = opts.inline_rows.min(total);
    let mut spec = ResultSpec::with_rowtype(rowtype(table, opts, source_id), "arrow");
    if inline > 0 {
        spec.inline_arrow =
            sfarrow::ipc_stream(&columns(opts, table, order, first, 0, inline, source_id));
        spec.inline_rows = inline;
    }
    let chunk_rows = opts.chunk_rows.max(1);
    for (k, start) in (inline..total).step_by(chunk_rows).enumerate() {
        let end = (start + chunk_rows).min(total);
        let o = opts.clone();
        let mut chunk = Chunk::lazy(end - start, move || {
            Bytes::from(sfarrow::ipc_stream(&columns(
                &o, table, order, first, start, end, source_id,
            )))
        });
        if opts.gzip {
            chunk = chunk.gzip();
        }
        if opts.fail_after_chunks.is_some_and(|f| k >= f) {
            chunk = chunk.fail_always();
        }
        if let Some(d) = opts.slow_chunk.filter(|_| k >= opts.slow_after_chunks) {
            chunk = chunk.delay(d);
        }
        spec = spec.chunk(chunk);
    }
    Reply::json(double_state.result(&spec))
}

/// A running synthetic source (a [`Double`] with a metrics query handler).
pub struct SyntheticSource {
    double: Arc<Double>,
    opts: Arc<Mutex<SyntheticOptions>>,
}

impl SyntheticSource {
    /// Starts on a free loopback port.
    pub fn start(opts: SyntheticOptions) -> SyntheticSource {
        SyntheticSource::with_double(Double::start(), opts)
    }

    /// Starts on a given port (0 = any).
    pub fn start_on_port(port: u16, opts: SyntheticOptions) -> Result<SyntheticSource> {
        Ok(SyntheticSource::with_double(
            Double::start_on_port(port)?,
            opts,
        ))
    }

    fn with_double(double: Double, opts: SyntheticOptions) -> SyntheticSource {
        let double = Arc::new(double);
        let opts = Arc::new(Mutex::new(opts));
        // The handler holds a weak reference so dropping the source stops the server.
        let weak = Arc::downgrade(&double);
        let o = opts.clone();
        double.set_handler(Endpoint::QueryRequest, move |req| {
            let Some(d) = weak.upgrade() else {
                return Reply::status(503);
            };
            let snapshot = o.lock().unwrap_or_else(|e| e.into_inner()).clone();
            answer(&d, &snapshot, req)
        });
        SyntheticSource { double, opts }
    }

    pub fn port(&self) -> u16 {
        self.double.port()
    }

    pub fn base_url(&self) -> String {
        self.double.base_url()
    }

    /// The underlying double (recordings, scripted failures...).
    pub fn double(&self) -> &Double {
        &self.double
    }

    pub fn options(&self) -> SyntheticOptions {
        self.opts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the options for queries from now on (e.g. bump `revision`).
    pub fn set_options(&self, opts: SyntheticOptions) {
        *self.opts.lock().unwrap_or_else(|e| e.into_inner()) = opts;
    }

    pub fn set_revision(&self, revision: u32) {
        self.opts.lock().unwrap_or_else(|e| e.into_inner()).revision = revision;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_requested_share_changes() {
        let o = SyntheticOptions {
            media_buys: 1000,
            changed_pct: 3,
            revision: 2,
            ..Default::default()
        };
        let d = o.end_date;
        let changed = (1..=1000).filter(|&id| o.is_changed(id, d)).count();
        assert_eq!(changed, 30);
        let base = SyntheticOptions {
            revision: 0,
            ..o.clone()
        };
        for id in 1..=1000 {
            let same = o.row(Table::Impressions, id, d) == base.row(Table::Impressions, id, d);
            assert_eq!(same, !o.is_changed(id, d), "id {id}");
        }
    }

    #[test]
    fn window_honours_since() {
        let o = SyntheticOptions {
            media_buys: 10,
            days: 30,
            ..Default::default()
        };
        let t = Table::Impressions;
        let end = i64::from(epoch_days(o.end_date));
        assert_eq!(o.window(t, None).2, 300);
        assert_eq!(o.window(t, Some(end - 4)), (end - 4, end, 50));
        assert_eq!(o.window(t, Some(end + 1)).2, 0);
        // Hourly: 24 slots a day; a window from the last day's 10:00 has 14 hours.
        let h = Table::HourlyImpressions;
        assert_eq!(o.window(h, None).2, 30 * 24 * 10);
        assert_eq!(
            o.window(h, Some(end * 24 + 10)),
            (end * 24 + 10, end * 24 + 23, 140)
        );
    }

    #[test]
    fn a_change_column_filter_serves_exactly_the_rows_revised_after_it() {
        let revised = 1_900_000_000_000_000_000;
        let o = SyntheticOptions {
            media_buys: 200,
            days: 10,
            revision: 1,
            changed_pct: 3,
            revised_at_ns: Some(revised),
            ..Default::default()
        };
        let t = Table::Impressions;
        let (first, last, total) = o.window(t, None);
        let rows = o.changed_rows(t, RowOrder::MediaBuyFirst, (first, last), revised - 1);
        // 3 of every 100 ids of each day, in (id, date) order, each one changed.
        assert_eq!(rows.len(), total * 3 / 100);
        assert!(rows.windows(2).all(|w| (w[0].1, w[0].0) < (w[1].1, w[1].0)));
        assert!(rows
            .iter()
            .all(|&(slot, id)| o.row_at(t, id, slot).updated_at_ns == revised));
        assert!(o
            .changed_rows(t, RowOrder::DateFirst, (first, last), revised)
            .is_empty());
        let sql = "SELECT * FROM T WHERE (\"Date\" >= ? OR \"Date\" IS NULL) AND \"UPDATED_AT\" > ? ORDER BY 1";
        let body = serde_json::json!({"bindings": {
            "1": {"type": "DATE", "value": "1764547200000"},
            "2": {"type": "TIMESTAMP_NTZ", "value": "1764583200000000000"}}});
        assert_eq!(
            changed_since_binding(sql, &body),
            Some(1_764_583_200_000_000_000)
        );
        assert_eq!(
            changed_since_binding("SELECT * FROM T WHERE \"Date\" >= ?", &body),
            None
        );
    }

    #[test]
    fn hourly_tables_serve_hour_start_as_timestamp_ltz_from_a_timestamp_binding() {
        let body = serde_json::json!({"bindings": {"1": {"type": "TIMESTAMP_LTZ", "value": "1764583200000000000"}}});
        // 1764583200 s = 2025-12-01 10:00:00 UTC = Unix hour 490162.
        assert_eq!(since_binding(&body, Table::HourlyVideos), Some(490_162));
        let o = SyntheticOptions {
            media_buys: 2,
            days: 1,
            ..Default::default()
        };
        let day = i64::from(epoch_days(o.end_date));
        let cols = columns(
            &o,
            Table::HourlyVideos,
            RowOrder::DateFirst,
            (day * 24, day * 24 + 23),
            0,
            4,
            false,
        );
        assert_eq!(cols[0].field.name(), "HOUR_START");
        let rowtype = sfarrow::rowtype_of(&cols);
        assert_eq!(rowtype[0]["type"], "timestamp_ltz");
        assert_eq!(
            Table::from_sql("select * from platform_buy_hourly_videos"),
            Some(Table::HourlyVideos)
        );
        assert_eq!(
            RowOrder::of_sql("SELECT 1 FROM T ORDER BY \"HOUR_START\", MEDIA_BUY_ID"),
            RowOrder::DateFirst
        );
    }

    #[test]
    fn rows_come_in_the_order_the_query_asks_for() {
        let sql = |o: &str| {
            format!("SELECT \"Date\", MEDIA_BUY_ID FROM T WHERE \"Date\" >= ? OR \"Date\" IS NULL ORDER BY {o}")
        };
        assert_eq!(
            RowOrder::of_sql(&sql("\"Date\", MEDIA_BUY_ID")),
            RowOrder::DateFirst
        );
        assert_eq!(
            RowOrder::of_sql(&sql("MEDIA_BUY_ID, \"Date\"")),
            RowOrder::MediaBuyFirst
        );
        assert_eq!(RowOrder::of_sql("SELECT * FROM T"), RowOrder::MediaBuyFirst);
        let o = SyntheticOptions {
            media_buys: 3,
            days: 2,
            ..Default::default()
        };
        let keys = |order| {
            let first = i64::from(epoch_days(o.first_date()));
            let cols = columns(&o, Table::Videos, order, (first, first + 1), 0, 6, false);
            let batch = sfarrow::ipc_stream(&cols);
            assert!(!batch.is_empty());
            let dates = cols[0]
                .array
                .as_any()
                .downcast_ref::<Date32Array>()
                .unwrap()
                .values()
                .to_vec();
            let ids = cols[1]
                .array
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .values()
                .to_vec();
            let d0 = dates[0];
            dates
                .iter()
                .zip(ids)
                .map(|(d, i)| (d - d0, i))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            keys(RowOrder::MediaBuyFirst),
            [(0, 1), (1, 1), (0, 2), (1, 2), (0, 3), (1, 3)]
        );
        assert_eq!(
            keys(RowOrder::DateFirst),
            [(0, 1), (0, 2), (0, 3), (1, 1), (1, 2), (1, 3)]
        );
    }

    #[test]
    fn date_binding_is_ms_epoch() {
        let body =
            serde_json::json!({"bindings": {"1": {"type": "DATE", "value": "1704067200000"}}});
        assert_eq!(
            since_binding(&body, Table::Impressions),
            NaiveDate::from_ymd_opt(2024, 1, 1).map(|d| i64::from(epoch_days(d)))
        );
    }

    #[test]
    fn columns_generate_fast_enough() {
        let o = SyntheticOptions {
            media_buys: 50_000,
            ..Default::default()
        };
        let t = std::time::Instant::now();
        let cols = columns(
            &o,
            Table::Impressions,
            RowOrder::MediaBuyFirst,
            (
                i64::from(epoch_days(o.first_date())),
                i64::from(epoch_days(o.end_date)),
            ),
            0,
            100_000,
            false,
        );
        let bytes = sfarrow::ipc_stream(&cols);
        assert_eq!(sfarrow::num_rows(&cols), 100_000);
        assert!(bytes.len() > 100_000 * 40);
        eprintln!("100k rows in {:?}", t.elapsed());
    }

    #[test]
    fn the_new_families_tables_are_served_with_mrc_shaped_values() {
        assert_eq!(
            Table::from_sql("select * from analytics.public.platform_buy_daily_conversions"),
            Some(Table::Conversions)
        );
        assert_eq!(
            Table::from_sql("SELECT 1 FROM PLATFORM_BUY_DAILY_VIEWABILITY"),
            Some(Table::Viewability)
        );
        let o = SyntheticOptions::default();
        let d = o.first_date();
        for id in 1..200 {
            let [e, m, v] = o.row(Table::Viewability, id, d).metrics;
            assert!(
                v <= m && m <= e,
                "viewable <= measurable <= eligible: {v} {m} {e}"
            );
            let [pc, pv, cents] = o.row(Table::Conversions, id, d).metrics;
            assert!(pc >= 0 && pv >= 0 && cents >= 0);
        }
        let cols = columns(
            &o,
            Table::Conversions,
            RowOrder::MediaBuyFirst,
            (i64::from(epoch_days(d)), i64::from(epoch_days(d))),
            0,
            3,
            false,
        );
        let names: Vec<&str> = cols.iter().map(|c| c.field.name().as_str()).collect();
        assert_eq!(
            names,
            [
                "DATE",
                "MEDIA_BUY_ID",
                "POST_CLICK_CONVERSIONS",
                "POST_VIEW_CONVERSIONS",
                "CONVERSION_VALUE",
                "CREATED_AT",
                "UPDATED_AT"
            ]
        );
        assert_eq!(cols[4].field.metadata()["scale"], "2");
    }

    #[test]
    fn text_ids_are_served_in_id_order_and_uuids_with_the_source_form() {
        let mut o = SyntheticOptions {
            media_buys: 12,
            days: 1,
            id_text: IdText::Padded,
            ..Default::default()
        };
        let ids = |cols: &[SfColumn], i: usize| -> Vec<String> {
            let a = cols[i]
                .array
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap();
            (0..arrow_array::Array::len(a))
                .map(|k| a.value(k).to_string())
                .collect()
        };
        let cols = columns(
            &o,
            Table::Impressions,
            RowOrder::MediaBuyFirst,
            (
                i64::from(epoch_days(o.first_date())),
                i64::from(epoch_days(o.end_date)),
            ),
            0,
            12,
            false,
        );
        let got = ids(&cols, 1);
        let mut sorted = got.clone();
        sorted.sort();
        assert_eq!(got, sorted, "text order is the id order");
        assert_eq!(got[9], "buy-000000010");
        o.id_text = IdText::UpperUuid;
        let cols = columns(
            &o,
            Table::Impressions,
            RowOrder::MediaBuyFirst,
            (
                i64::from(epoch_days(o.first_date())),
                i64::from(epoch_days(o.end_date)),
            ),
            0,
            12,
            true,
        );
        assert_eq!(cols.last().unwrap().field.name(), "BRAVO_SOURCE_ID");
        assert_eq!(ids(&cols, 1)[10], "00000000-0000-4000-8000-00000000000b");
        assert_eq!(ids(&cols, 7)[10], "00000000-0000-4000-8000-00000000000B");
        let described = rowtype(Table::Impressions, &o, false);
        assert_eq!(described[1]["type"], "text", "{described}");
    }
}
