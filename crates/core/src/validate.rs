//! Row validation and duplicate detection.
//!
//! The source query orders rows by (media_buy_id, date), so two rows with the same key
//! arrive next to each other and duplicates are found while streaming, with O(1)
//! memory: the last row is held back until the next key is known.

use std::collections::HashSet;

use bravo_snowflake::Column;

use crate::grain::{self, TimeProblem};

use crate::key::{BuyId, KeyType};
use crate::order::KeyOrder;
use crate::target::{MetricKind, Target};

/// A metric value that passed validation.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Count(i64),
    /// Exact decimal text, e.g. `-12.30`.
    Money(String),
}

/// Why a source row was set aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    NullKey,
    NegativeCount,
    NullValue,
    OutOfRange,
    DuplicateKey,
    UnknownMediaBuy,
    /// An hourly family's `TIMESTAMP_NTZ` hour the zone skips.
    NonexistentHour,
    /// An hourly family's `TIMESTAMP_NTZ` hour the zone has twice.
    AmbiguousHour,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NullKey => "null_key",
            Reason::NegativeCount => "negative_count",
            Reason::NullValue => "null_value",
            Reason::OutOfRange => "out_of_range",
            Reason::DuplicateKey => "duplicate_key",
            Reason::UnknownMediaBuy => "unknown_media_buy",
            Reason::NonexistentHour => "nonexistent_hour",
            Reason::AmbiguousHour => "ambiguous_hour",
        }
    }

    fn of_time(problem: &TimeProblem) -> Self {
        match problem {
            TimeProblem::Nonexistent => Reason::NonexistentHour,
            TimeProblem::Ambiguous => Reason::AmbiguousHour,
            _ => Reason::OutOfRange,
        }
    }
}

/// One source row, as read. `problem` is set when a value is invalid.
#[derive(Clone, Debug)]
pub struct Row {
    /// The time key as a slot of the family's grain (see [`crate::grain`]).
    pub slot: Option<i32>,
    pub media_buy_id: Option<BuyId>,
    pub values: Vec<Option<Value>>,
    /// The row as JSON text (lower-case column names, values as strings), built only
    /// for rows with a problem; see [`Row::raw_json`].
    pub raw: Option<String>,
    pub problem: Option<(Reason, String)>,
}

/// The fate of a source row, decided by the [`Deduper`]: valid (compared with the
/// target, see [`crate::compare`]) or set aside.
#[derive(Clone, Debug)]
pub enum Outcome {
    Valid {
        slot: i32,
        media_buy_id: BuyId,
        values: Vec<Value>,
    },
    SetAside {
        reason: Reason,
        detail: String,
        /// Boxed: set-aside rows are rare, and a whole batch of outcomes (most of them
        /// valid) waits in memory at a time; unboxed, every outcome would be as large as
        /// this variant.
        row: Box<Row>,
    },
}

/// Formats `unscaled / 10^scale` exactly.
pub fn decimal_text(unscaled: i128, scale: u32) -> String {
    let neg = unscaled < 0;
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    let body = if scale == 0 {
        digits
    } else if digits.len() > scale {
        format!(
            "{}.{}",
            &digits[..digits.len() - scale],
            &digits[digits.len() - scale..]
        )
    } else {
        format!("0.{}{}", "0".repeat(scale - digits.len()), digits)
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

fn fixed(col: &Column, i: usize) -> Option<(i128, u32)> {
    match col {
        Column::Fixed { scale, values } => values[i].map(|v| (v, *scale)),
        _ => None,
    }
}

/// Largest count merged for one media buy and one day: 10^12. The reporting rollups
/// and reports sum counts in `bigint`; with every row at most 10^12, a sum overflows
/// only past 9.2 million such rows (a campaign of 9 million media buys on one day, or a
/// report over 9 million buy-days all at the limit), which real data never reaches. A
/// larger value (it would fit in a bigint row but could break every later sum, and no
/// platform reports a trillion impressions per buy and day) is set aside as
/// `out_of_range`, like a value that does not fit at all.
pub const MAX_COUNT: i64 = 1_000_000_000_000;

/// The media buy id of row `i` as the source had it, as text (for a set-aside row):
/// the source's own id column `raw` when the query converted the id (see
/// [`crate::source::check_columns`]), else the id column.
fn id_text(col: &Column, raw: Option<&Column>, i: usize) -> Option<String> {
    let text = |c: &Column| match c {
        Column::Text(v) => v[i].clone(),
        c => fixed(c, i).map(|(v, s)| decimal_text(v, s)),
    };
    raw.and_then(text).or_else(|| text(col))
}

/// Reads the media buy id of row `i`: the key (if valid), whether the source had one
/// (not NULL), and what is wrong with it. Nothing is allocated for an integer id; a
/// text id once. `raw`: see [`id_text`].
fn read_id(
    key: KeyType,
    col: &Column,
    raw: Option<&Column>,
    i: usize,
) -> (Option<BuyId>, bool, Option<(Reason, String)>) {
    let bad = |why: &str| {
        let shown = match id_text(col, raw, i) {
            Some(t) if matches!(col, Column::Text(_)) || raw.is_some() => format!("'{t}'"),
            Some(t) => t,
            None => String::new(),
        };
        Some((Reason::OutOfRange, format!("MEDIA_BUY_ID {shown} {why}")))
    };
    match (key, col) {
        (KeyType::Int, Column::Fixed { .. }) => match fixed(col, i) {
            Some((v, 0)) => match i64::try_from(v) {
                Ok(id) => (Some(BuyId::Int(id)), true, None),
                Err(_) => (None, true, bad("does not fit in bigint")),
            },
            Some(_) => (None, true, bad("is not an integer")),
            // TRY_TO_NUMBER gave NULL: the source had text that is no number, or NULL.
            None if id_text(col, raw, i).is_some() => (None, true, bad("is not an integer")),
            None => (None, false, None),
        },
        (KeyType::Int, Column::Text(v)) => match &v[i] {
            Some(t) => match t.trim().parse::<i64>() {
                Ok(id) => (Some(BuyId::Int(id)), true, None),
                Err(_) => (None, true, bad("is not an integer")),
            },
            None => (None, false, None),
        },
        (_, Column::Text(v)) => match &v[i] {
            Some(t) => {
                // A uuid comes as the source has it, ordered by LOWER(): lower-case it
                // here (a canonical uuid is ASCII).
                let id = if key == KeyType::Uuid {
                    t.to_ascii_lowercase()
                } else {
                    t.clone()
                };
                match key.check_text(&id) {
                    Ok(()) => (Some(BuyId::Text(id)), true, None),
                    Err(why) => (None, true, bad(&why)),
                }
            }
            None => (None, false, None),
        },
        (KeyType::Text, Column::Fixed { .. }) => match fixed(col, i) {
            Some((v, s)) => (Some(BuyId::Text(decimal_text(v, s))), true, None),
            None => (None, false, None),
        },
        _ => (
            None,
            true,
            Some((
                Reason::OutOfRange,
                "MEDIA_BUY_ID has a type that cannot be a media buy id here".into(),
            )),
        ),
    }
}

/// Reads row `i` of a batch whose columns are (date, media_buy_id, metrics...,
/// and the source's own id column when the query converted it); ids are read as
/// `key` says.
pub fn read_row(target: &Target, key: KeyType, columns: &[Column], i: usize) -> Row {
    let (slot, time_problem) = match grain::read_slot(target.grain, target.zone, &columns[0], i) {
        Ok(slot) => (slot, None),
        Err(p) => (None, Some(p)),
    };
    let raw_id = columns.get(2 + target.metrics.len());
    let (media_buy_id, id_present, mut problem) = read_id(key, &columns[1], raw_id, i);
    let mut values = Vec::with_capacity(target.metrics.len());
    for (m, col) in target.metrics.iter().zip(&columns[2..]) {
        let cell = fixed(col, i);
        let name = m.column.to_ascii_uppercase();
        let value = match (cell, m.kind) {
            (None, _) => {
                problem.get_or_insert((Reason::NullValue, format!("{name} is NULL")));
                None
            }
            (Some((v, s)), MetricKind::Count) => {
                let p = 10i128.pow(s);
                if v % p != 0 {
                    problem.get_or_insert((
                        Reason::OutOfRange,
                        format!("{name} {} is not a whole count", decimal_text(v, s)),
                    ));
                    None
                } else if v < 0 {
                    problem.get_or_insert((
                        Reason::NegativeCount,
                        format!("{name} is negative ({})", decimal_text(v, s)),
                    ));
                    None
                } else if v / p > MAX_COUNT as i128 {
                    problem.get_or_insert((
                        Reason::OutOfRange,
                        format!(
                            "{name} {} is above the limit of {MAX_COUNT} per media buy and day",
                            v / p
                        ),
                    ));
                    None
                } else {
                    Some(Value::Count((v / p) as i64))
                }
            }
            (Some((v, s)), MetricKind::Money) => Some(Value::Money(decimal_text(v, s))),
        };
        values.push(value);
    }
    let time = target.time_column().to_ascii_uppercase();
    if let Some(p) = &time_problem {
        let shown = grain::source_text(&columns[0], i).unwrap_or_default();
        problem = Some((
            Reason::of_time(p),
            p.describe(&time, &shown, Some(target.zone)),
        ));
    } else if slot.is_none() || (media_buy_id.is_none() && !id_present) {
        let which = match (slot.is_none(), !id_present) {
            (true, true) => format!("{time} and MEDIA_BUY_ID are NULL"),
            (true, false) => format!("{time} is NULL"),
            _ => "MEDIA_BUY_ID is NULL".to_string(),
        };
        problem = Some((Reason::NullKey, which));
    }
    let raw = problem
        .as_ref()
        .map(|_| raw_from_columns(target, columns, i, id_text(&columns[1], raw_id, i)));
    Row {
        slot,
        media_buy_id,
        values,
        raw,
        problem,
    }
}

/// A source row as JSON text for the set-aside table: lower-case column names, every
/// value a string (exact), NULL as null.
fn row_json<'a>(
    time: (&str, Option<String>),
    media_buy_id: Option<String>,
    metrics: impl Iterator<Item = (&'a str, Option<String>)>,
) -> String {
    let mut row = serde_json::Map::new();
    row.insert(time.0.into(), time.1.into());
    row.insert("media_buy_id".into(), media_buy_id.into());
    for (name, value) in metrics {
        row.insert(name.into(), value.into());
    }
    serde_json::Value::Object(row).to_string()
}

/// The source row `i`, straight from the batch (values as they came, even invalid).
fn raw_from_columns(
    target: &Target,
    columns: &[Column],
    i: usize,
    id_text: Option<String>,
) -> String {
    let text = |col: &Column| fixed(col, i).map(|(v, s)| decimal_text(v, s));
    row_json(
        (target.time_column(), grain::source_text(&columns[0], i)),
        id_text,
        target
            .metrics
            .iter()
            .zip(&columns[2..])
            .map(|(m, col)| (m.column.as_str(), text(col))),
    )
}

impl Row {
    /// The row as JSON text for the set-aside table.
    pub fn raw_json(&self, target: &Target) -> String {
        if let Some(raw) = &self.raw {
            return raw.clone();
        }
        let values = target.metrics.iter().zip(&self.values).map(|(m, v)| {
            let text = match v {
                Some(Value::Count(n)) => Some(n.to_string()),
                Some(Value::Money(t)) => Some(t.clone()),
                None => None,
            };
            (m.column.as_str(), text)
        });
        row_json(
            (
                target.time_column(),
                self.slot.map(|s| grain::slot_text(target.grain, s)),
            ),
            self.media_buy_id.as_ref().map(BuyId::to_text),
            values,
        )
    }
}

/// Streams rows sorted in one [`KeyOrder`] and decides each row's fate; equal keys
/// are adjacent in either order, so duplicates are found holding one row.
pub struct Deduper<'a> {
    order: KeyOrder,
    known_buys: &'a HashSet<BuyId>,
    held: Option<Row>,
    held_is_dup: bool,
}

/// The source broke the key order the query asked for.
#[derive(Debug, PartialEq, Eq)]
pub struct OrderError {
    pub previous: (BuyId, i32),
    pub next: (BuyId, i32),
}

impl<'a> Deduper<'a> {
    /// Reads a stream sorted in `order`.
    pub fn new(order: KeyOrder, known_buys: &'a HashSet<BuyId>) -> Self {
        Deduper {
            order,
            known_buys,
            held: None,
            held_is_dup: false,
        }
    }

    fn key(row: &Row) -> Option<(&BuyId, i32)> {
        Some((row.media_buy_id.as_ref()?, row.slot?))
    }

    fn release(&self, mut row: Row, dup: bool, out: &mut Vec<Outcome>) {
        if dup {
            out.push(Outcome::SetAside {
                reason: Reason::DuplicateKey,
                detail:
                    "the source returned this key (media_buy_id and date or hour) more than once"
                        .into(),
                row: Box::new(row),
            });
        } else if let Some((reason, detail)) = row.problem.clone() {
            out.push(Outcome::SetAside {
                reason,
                detail,
                row: Box::new(row),
            });
        } else {
            let (id, slot) = Self::key(&row).expect("valid rows have a key");
            if !self.known_buys.contains(id) {
                let detail =
                    format!("media_buys has no id {id} yet; merged by a later sync once it exists");
                out.push(Outcome::SetAside {
                    reason: Reason::UnknownMediaBuy,
                    detail,
                    row: Box::new(row),
                });
            } else {
                let values = row
                    .values
                    .into_iter()
                    .map(|v| v.expect("valid rows have values"))
                    .collect();
                out.push(Outcome::Valid {
                    slot,
                    media_buy_id: row.media_buy_id.take().expect("valid rows have a key"),
                    values,
                });
            }
        }
    }

    /// Feeds one row; decided rows are appended to `out`.
    pub fn push(&mut self, row: Row, out: &mut Vec<Outcome>) -> Result<(), OrderError> {
        let Some(key) = Self::key(&row) else {
            // No usable key: set aside now; it cannot be a duplicate of anything.
            let (reason, detail) = row
                .problem
                .clone()
                .unwrap_or((Reason::NullKey, "key is NULL".into()));
            out.push(Outcome::SetAside {
                reason,
                detail,
                row: Box::new(row),
            });
            return Ok(());
        };
        // Compared by reference: nothing is copied per row.
        let same = match self.held.as_ref().and_then(Self::key) {
            Some(prev) if prev == key => true,
            Some(prev) if self.order.cmp(&prev, &key).is_gt() => {
                return Err(OrderError {
                    previous: (prev.0.clone(), prev.1),
                    next: (key.0.clone(), key.1),
                })
            }
            _ => false,
        };
        if same {
            let held = self.held.take().expect("held row");
            self.release(held, true, out);
            self.held = Some(row);
            self.held_is_dup = true;
        } else {
            if let Some(held) = self.held.take() {
                let dup = self.held_is_dup;
                self.release(held, dup, out);
            }
            self.held = Some(row);
            self.held_is_dup = false;
        }
        Ok(())
    }

    /// Releases the last held row at the end of the stream.
    pub fn finish(&mut self, out: &mut Vec<Outcome>) {
        if let Some(held) = self.held.take() {
            let dup = self.held_is_dup;
            self.release(held, dup, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use bravo_snowflake::Column;
    use chrono::NaiveDate;

    use super::*;
    use crate::target::builtin_named;

    fn d(day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2026, 11, day)
    }

    /// A batch of outcomes waits in memory at a time (`src/sync/feed.rs`): a valid row's
    /// outcome stays small because the rare set-aside variant is boxed (it was 144
    /// bytes unboxed, a decision 176).
    #[test]
    fn an_outcome_is_no_larger_than_a_valid_rows_fields() {
        assert!(
            std::mem::size_of::<Outcome>() <= 56,
            "{}",
            std::mem::size_of::<Outcome>()
        );
        assert!(
            std::mem::size_of::<crate::compare::Decision>() <= 72,
            "{}",
            std::mem::size_of::<crate::compare::Decision>()
        );
    }

    fn batch(rows: &[(Option<NaiveDate>, Option<i128>, Option<i128>)]) -> Vec<Column> {
        vec![
            Column::Date(rows.iter().map(|r| r.0).collect()),
            Column::Fixed {
                scale: 0,
                values: rows.iter().map(|r| r.1).collect(),
            },
            Column::Fixed {
                scale: 0,
                values: rows.iter().map(|r| r.2).collect(),
            },
            Column::Fixed {
                scale: 0,
                values: rows.iter().map(|_| Some(5)).collect(),
            },
            Column::Fixed {
                scale: 2,
                values: rows.iter().map(|_| Some(-1234)).collect(),
            },
        ]
    }

    fn decide(rows: &[(Option<NaiveDate>, Option<i128>, Option<i128>)]) -> Vec<String> {
        let known: HashSet<BuyId> = [1, 2, 3].into_iter().map(BuyId::Int).collect();
        let cols = batch(rows);
        let mut dedup = Deduper::new(KeyOrder::MediaBuyFirst, &known);
        let mut out = Vec::new();
        for i in 0..rows.len() {
            dedup
                .push(
                    read_row(&builtin_named("impressions"), KeyType::Int, &cols, i),
                    &mut out,
                )
                .expect("ordered");
        }
        dedup.finish(&mut out);
        out.into_iter()
            .map(|o| match o {
                Outcome::Valid {
                    media_buy_id,
                    values,
                    ..
                } => format!("stage {media_buy_id} {values:?}"),
                Outcome::SetAside { reason, .. } => format!("aside {}", reason.as_str()),
            })
            .collect()
    }

    #[test]
    fn decimal_text_is_exact() {
        assert_eq!(decimal_text(-1234, 2), "-12.34");
        assert_eq!(decimal_text(5, 3), "0.005");
        assert_eq!(decimal_text(-5, 3), "-0.005");
        assert_eq!(decimal_text(0, 2), "0.00");
        assert_eq!(
            decimal_text(170141183460469231731687303715884105727, 10),
            "17014118346046923173168730371.5884105727"
        );
        assert_eq!(decimal_text(42, 0), "42");
    }

    #[test]
    fn duplicates_are_set_aside_in_full_and_the_rest_staged() {
        let out = decide(&[
            (d(1), Some(1), Some(10)),
            (d(2), Some(1), Some(11)),
            (d(2), Some(1), Some(12)),
            (d(2), Some(1), Some(13)),
            (d(3), Some(1), Some(-1)),
            (None, Some(2), Some(1)),
            (d(1), Some(2), None),
            (d(1), Some(9), Some(1)),
        ]);
        assert_eq!(
            out,
            vec![
                "stage 1 [Count(10), Count(5), Money(\"-12.34\")]",
                "aside duplicate_key",
                "aside duplicate_key",
                "aside duplicate_key",
                // Keyless rows are decided at once; the keyed row before it was still held.
                "aside null_key",
                "aside negative_count",
                "aside null_value",
                "aside unknown_media_buy",
            ]
        );
    }

    #[test]
    fn out_of_order_input_is_an_error() {
        let known: HashSet<BuyId> = [1, 2].into_iter().map(BuyId::Int).collect();
        let cols = batch(&[(d(2), Some(2), Some(1)), (d(1), Some(1), Some(1))]);
        let mut dedup = Deduper::new(KeyOrder::MediaBuyFirst, &known);
        let mut out = Vec::new();
        dedup
            .push(
                read_row(&builtin_named("impressions"), KeyType::Int, &cols, 0),
                &mut out,
            )
            .unwrap();
        assert!(dedup
            .push(
                read_row(&builtin_named("impressions"), KeyType::Int, &cols, 1),
                &mut out
            )
            .is_err());
        assert_eq!(Reason::DuplicateKey.as_str(), "duplicate_key");
    }

    /// (2, day 1) then (1, day 2), twice: in date-first order a valid row and a
    /// duplicated key; in media-buy-first order the source broke the order.
    #[test]
    fn crossing_keys_are_in_order_date_first_only() {
        let known: HashSet<BuyId> = [1, 2].into_iter().map(BuyId::Int).collect();
        let cols = batch(&[
            (d(1), Some(2), Some(1)),
            (d(2), Some(1), Some(1)),
            (d(2), Some(1), Some(1)),
        ]);
        let mut dedup = Deduper::new(KeyOrder::DateFirst, &known);
        let mut out = Vec::new();
        for i in 0..3 {
            dedup
                .push(
                    read_row(&builtin_named("impressions"), KeyType::Int, &cols, i),
                    &mut out,
                )
                .unwrap();
        }
        dedup.finish(&mut out);
        let kinds: Vec<String> = out
            .iter()
            .map(|o| match o {
                Outcome::Valid { media_buy_id, .. } => format!("valid {media_buy_id}"),
                Outcome::SetAside { reason, .. } => reason.as_str().to_string(),
            })
            .collect();
        assert_eq!(kinds, ["valid 2", "duplicate_key", "duplicate_key"]);

        let mut dedup = Deduper::new(KeyOrder::MediaBuyFirst, &known);
        let mut out = Vec::new();
        dedup
            .push(
                read_row(&builtin_named("impressions"), KeyType::Int, &cols, 0),
                &mut out,
            )
            .unwrap();
        let err = dedup
            .push(
                read_row(&builtin_named("impressions"), KeyType::Int, &cols, 1),
                &mut out,
            )
            .unwrap_err();
        assert_eq!(
            err.previous,
            (BuyId::Int(2), crate::compare::epoch_days(d(1).unwrap()))
        );
    }

    fn text_batch(ids: &[Option<&str>], raw: Option<&[Option<&str>]>) -> Vec<Column> {
        let text =
            |v: &[Option<&str>]| Column::Text(v.iter().map(|s| s.map(str::to_string)).collect());
        let n = ids.len();
        let fixed = || Column::Fixed {
            scale: 0,
            values: vec![Some(1); n],
        };
        let mut cols = vec![
            Column::Date(vec![d(1); n]),
            text(ids),
            fixed(),
            fixed(),
            fixed(),
        ];
        cols.extend(raw.map(text));
        cols
    }

    #[test]
    fn text_and_uuid_ids_are_read_and_bad_ones_set_aside_with_the_source_value() {
        let t = builtin_named("impressions");
        let cols = text_batch(&[Some("Ab-é"), Some("x\0y"), None], None);
        let rows: Vec<Row> = (0..3)
            .map(|i| read_row(&t, KeyType::Text, &cols, i))
            .collect();
        assert_eq!(rows[0].media_buy_id, Some(BuyId::Text("Ab-é".into())));
        assert!(rows[0].problem.is_none());
        assert_eq!(rows[1].problem.as_ref().unwrap().0, Reason::OutOfRange);
        assert_eq!(rows[2].problem.as_ref().unwrap().0, Reason::NullKey);

        // uuid: the id comes as the source has it (ordered by LOWER()), lower-cased here.
        let upper = "0F8FAD5B-D9CB-469F-A165-70867728950E";
        let cols = text_batch(&[Some(upper), Some("Not-A-Uuid")], None);
        let ok = read_row(&t, KeyType::Uuid, &cols, 0);
        assert_eq!(ok.media_buy_id, Some(BuyId::Text(upper.to_lowercase())));
        let bad = read_row(&t, KeyType::Uuid, &cols, 1);
        let (reason, detail) = bad.problem.clone().unwrap();
        assert_eq!(reason, Reason::OutOfRange);
        assert!(detail.contains("'Not-A-Uuid' is not a uuid"), "{detail}");
        assert!(
            bad.raw_json(&t).contains("\"media_buy_id\":\"Not-A-Uuid\""),
            "{}",
            bad.raw_json(&t)
        );

        // An integer key from a VARCHAR source: TRY_TO_NUMBER gave NULL for text that is
        // not a number; the set-aside row keeps the text.
        let mut cols = text_batch(&[None], Some(&[Some("buy-7")]));
        cols[1] = Column::Fixed {
            scale: 0,
            values: vec![None],
        };
        let row = read_row(&t, KeyType::Int, &cols, 0);
        let (reason, detail) = row.problem.clone().unwrap();
        assert_eq!(reason, Reason::OutOfRange);
        assert!(detail.contains("'buy-7' is not an integer"), "{detail}");
        assert!(row.raw_json(&t).contains("buy-7"));
    }

    #[test]
    fn unknown_text_ids_are_named_in_quotes() {
        let t = builtin_named("impressions");
        let known: HashSet<BuyId> = [BuyId::Text("a".into())].into_iter().collect();
        let cols = text_batch(&[Some("a"), Some("b")], None);
        let mut dedup = Deduper::new(KeyOrder::MediaBuyFirst, &known);
        let mut out = Vec::new();
        for i in 0..2 {
            dedup
                .push(read_row(&t, KeyType::Text, &cols, i), &mut out)
                .unwrap();
        }
        dedup.finish(&mut out);
        assert!(matches!(&out[0], Outcome::Valid { media_buy_id: BuyId::Text(a), .. } if a == "a"));
        assert!(
            matches!(&out[1], Outcome::SetAside { reason: Reason::UnknownMediaBuy, detail, .. } if detail.contains("no id 'b'"))
        );
    }

    /// An hourly family: the hour read from each of Snowflake's timestamp types, in
    /// the family's zone for TIMESTAMP_NTZ, across Paris' autumn change; hours that
    /// name no single instant, and values off the hour, are set aside with the reason.
    #[test]
    fn hourly_rows_read_each_timestamp_type_and_refuse_what_names_no_hour() {
        use chrono::{NaiveDateTime, TimeZone, Utc};
        use chrono_tz::Europe::Paris;

        use crate::grain::{slot_instant, Grain};

        let t = builtin_named("impressions").with_grain(Grain::Hour, Paris);
        let ntz = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok();
        let metrics = |n: usize| {
            vec![
                Column::Fixed {
                    scale: 0,
                    values: vec![Some(1); n],
                },
                Column::Fixed {
                    scale: 0,
                    values: vec![Some(2); n],
                },
                Column::Fixed {
                    scale: 2,
                    values: vec![Some(300); n],
                },
            ]
        };
        let read = |time: Column, n: usize| -> Vec<Row> {
            let mut cols = vec![
                time,
                Column::Fixed {
                    scale: 0,
                    values: vec![Some(7); n],
                },
            ];
            cols.extend(metrics(n));
            (0..n)
                .map(|i| read_row(&t, KeyType::Int, &cols, i))
                .collect()
        };
        let rows = read(
            Column::TimestampNtz(vec![
                ntz("2026-10-25 01:00:00"),
                ntz("2026-10-25 02:00:00"),
                ntz("2026-10-25 03:00:00"),
                ntz("2026-03-29 02:00:00"),
                ntz("2026-10-25 04:30:00"),
                None,
            ]),
            6,
        );
        // 01:00 CEST = 23:00Z the day before; 03:00 CET = 02:00Z: three real hours apart.
        assert_eq!(
            slot_instant(rows[0].slot.unwrap()),
            Utc.with_ymd_and_hms(2026, 10, 24, 23, 0, 0).unwrap()
        );
        assert_eq!(rows[2].slot.unwrap() - rows[0].slot.unwrap(), 180);
        assert!(rows[0].problem.is_none() && rows[2].problem.is_none());
        let reason = |r: &Row| r.problem.as_ref().map(|p| p.0.as_str());
        assert_eq!(reason(&rows[1]), Some("ambiguous_hour"));
        assert!(rows[1].problem.as_ref().unwrap().1.contains("Europe/Paris"));
        assert_eq!(reason(&rows[3]), Some("nonexistent_hour"));
        assert_eq!(reason(&rows[4]), Some("out_of_range"));
        assert_eq!(reason(&rows[5]), Some("null_key"));
        assert_eq!(rows[5].problem.as_ref().unwrap().1, "HOUR_START is NULL");
        // The set-aside row shows the hour as the source had it.
        let raw: serde_json::Value = serde_json::from_str(&rows[1].raw_json(&t)).unwrap();
        assert_eq!(raw["hour_start"], "2026-10-25 02:00:00");
        // A valid row's JSON shows its instant.
        let raw: serde_json::Value = serde_json::from_str(&rows[0].raw_json(&t)).unwrap();
        assert_eq!(raw["hour_start"], "2026-10-24T23:00:00Z");

        // TIMESTAMP_LTZ and TIMESTAMP_TZ are instants: both name 2026-10-25 01:00Z.
        let instant = Utc.with_ymd_and_hms(2026, 10, 25, 1, 0, 0).unwrap();
        let ltz = read(Column::TimestampLtz(vec![Some(instant)]), 1);
        let offset = chrono::FixedOffset::east_opt(3600).unwrap();
        let tz = read(
            Column::TimestampTz(vec![
                Some(instant.with_timezone(&offset)),
                Some((instant + chrono::Duration::minutes(30)).with_timezone(&offset)),
            ]),
            2,
        );
        assert_eq!(ltz[0].slot, tz[0].slot);
        assert_eq!(slot_instant(ltz[0].slot.unwrap()), instant);
        assert_eq!(reason(&tz[1]), Some("out_of_range"));
    }
}
