//! The sorted-stream comparison at the heart of the merge.
//!
//! A sync fetches the source window in one [`KeyOrder`] (by media buy then date, or by
//! date then media buy); the [`Deduper`] turns it into [`Outcome`]s in that order. The
//! target's window is read in the same order (by the extension crate, through an SPI
//! cursor: any [`TargetRows`]). The two sorted streams are compared in one pass,
//! holding one target row at a time:
//!
//! * a key only in the source is an [`Decision::Insert`];
//! * a key in both is an [`Decision::Update`] if a metric differs (money compared by
//!   value: `1.50` = `1.5`; a NULL in the target differs from every value), otherwise
//!   [`Decision::Unchanged`] and nothing is written;
//! * a key only in the target has [`Decision::Vanished`] from the source;
//! * a set-aside row ([`Decision::SetAside`]) whose key is known still counts as
//!   present: the target row with its key is neither updated nor vanished.
//!
//! What the decisions lead to (array-bound INSERT / UPDATE statements, the set-aside
//! table, deleting vanished rows) is the extension's business (`src/sync/apply.rs`).
//!
//! [`Deduper`]: crate::validate::Deduper

use std::convert::Infallible;

use chrono::{Datelike, NaiveDate};

use crate::key::BuyId;
use crate::order::KeyOrder;
use crate::validate::{Outcome, Reason, Row, Value};

mod time_groups;
pub use time_groups::TimeGroups;

/// A row's key: (media_buy_id, time slot: for a daily family the date as days since
/// 2000-01-01, PostgreSQL's epoch; for an hourly one minutes since then, UTC).
/// Compared in a [`KeyOrder`] as PostgreSQL orders the same columns (ids as
/// [`crate::key`] says); `date 'infinity'` is `i32::MAX` and `'-infinity'` is
/// `i32::MIN`, as in PostgreSQL.
pub type Key = (BuyId, i32);

/// Days from 0001-01-01 (chrono's day 1 of the common era) to 2000-01-01.
const PG_EPOCH_FROM_CE: i32 = 730_120;

/// Days since 2000-01-01 (PostgreSQL's date representation).
pub fn epoch_days(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - PG_EPOCH_FROM_CE
}

/// The date `days` after 2000-01-01, if chrono can represent it.
pub fn from_epoch_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(PG_EPOCH_FROM_CE)?)
}

/// Canonical decimal text: no leading `+`, no trailing fractional zeros, `-0` is `0`.
pub fn canonical_decimal(text: &str) -> String {
    let t = text.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let mut s = digits.to_string();
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    let s = s.trim_start_matches('0');
    let s = if s.is_empty() || s.starts_with('.') {
        format!("0{s}")
    } else {
        s.to_string()
    };
    if neg && s != "0" {
        format!("-{s}")
    } else {
        s
    }
}

/// Does a target value (NULL = `None`) hold the source's value? Counts by equality,
/// money by value.
pub fn same(source: &Value, target: Option<&Value>) -> bool {
    match (source, target) {
        (Value::Count(x), Some(Value::Count(y))) => x == y,
        (Value::Money(x), Some(Value::Money(y))) => {
            x == y || canonical_decimal(x) == canonical_decimal(y)
        }
        _ => false,
    }
}

/// A row of the target's window, as read for comparison: counts as `i64`, money as
/// decimal text, NULL as `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct TargetRow {
    pub key: Key,
    pub values: Vec<Option<Value>>,
}

/// What to do about one key.
#[derive(Clone, Debug)]
pub enum Decision {
    /// Only in the source: insert it.
    Insert { key: Key, values: Vec<Value> },
    /// In both, a metric differs: update the target row to `values`.
    Update { key: Key, values: Vec<Value> },
    /// In both, equal: nothing to write.
    Unchanged { key: Key },
    /// Only in the target: gone from the source.
    Vanished { key: Key },
    /// The source row was set aside; `key` when it has one (its target row, if any,
    /// is kept as it is).
    SetAside {
        key: Option<Key>,
        reason: Reason,
        detail: String,
        row: Box<Row>,
    },
}

/// The target's window in the comparison's key order (strictly increasing: the key is
/// the primary key).
pub trait TargetRows {
    type Error;
    /// The next row, or `None` after the last one.
    fn next_row(&mut self) -> Result<Option<TargetRow>, Self::Error>;
}

/// Target rows from an iterator (tests, and anything already in memory).
pub struct IterRows<I>(pub I);

impl<I: Iterator<Item = TargetRow>> TargetRows for IterRows<I> {
    type Error = Infallible;
    fn next_row(&mut self) -> Result<Option<TargetRow>, Infallible> {
        Ok(self.0.next())
    }
}

/// Why a comparison stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum CompareError<E> {
    /// Reading the target failed.
    Target(E),
    /// A source outcome's key is smaller than an earlier one's: the source broke the
    /// order the comparison needs.
    SourceOutOfOrder { previous: Key, next: Key },
}

impl<E> From<E> for CompareError<E> {
    fn from(e: E) -> Self {
        CompareError::Target(e)
    }
}

/// The streaming comparison of ordered source outcomes with ordered target rows.
pub struct Comparison<T: TargetRows> {
    order: KeyOrder,
    target: T,
    peeked: Option<TargetRow>,
    exhausted: bool,
    last: Option<Key>,
}

impl<T: TargetRows> Comparison<T> {
    /// Compares streams both sorted in `order`.
    pub fn new(order: KeyOrder, target: T) -> Self {
        Comparison {
            order,
            target,
            peeked: None,
            exhausted: false,
            last: None,
        }
    }

    /// The target reader (e.g. to read how many rows it fetched).
    pub fn target(&self) -> &T {
        &self.target
    }

    fn peek(&mut self) -> Result<Option<&TargetRow>, T::Error> {
        if self.peeked.is_none() && !self.exhausted {
            self.peeked = self.target.next_row()?;
            self.exhausted = self.peeked.is_none();
        }
        Ok(self.peeked.as_ref())
    }

    /// Target rows before `key` vanished; the row with `key` itself, if any, is
    /// taken and returned.
    fn advance_to(
        &mut self,
        key: &Key,
        out: &mut Vec<Decision>,
    ) -> Result<Option<TargetRow>, T::Error> {
        let order = self.order;
        while let Some(t) = self.peek()? {
            if order.cmp(&t.key, key).is_gt() {
                break;
            }
            let t = self.peeked.take().expect("peeked");
            if t.key == *key {
                return Ok(Some(t));
            }
            out.push(Decision::Vanished { key: t.key });
        }
        Ok(None)
    }

    fn check_order(&mut self, key: &Key) -> Result<(), CompareError<T::Error>> {
        if let Some(previous) = self.last.take() {
            if self.order.cmp(key, &previous).is_lt() {
                return Err(CompareError::SourceOutOfOrder {
                    previous,
                    next: key.clone(),
                });
            }
        }
        self.last = Some(key.clone());
        Ok(())
    }

    /// Compares one source outcome; the decisions it settles (this row's, and those of
    /// target rows before it, which vanished) are appended to `out`, in the
    /// comparison's key order.
    pub fn push(
        &mut self,
        outcome: Outcome,
        out: &mut Vec<Decision>,
    ) -> Result<(), CompareError<T::Error>> {
        match outcome {
            Outcome::Valid {
                slot,
                media_buy_id,
                values,
            } => {
                let key = (media_buy_id, slot);
                self.check_order(&key)?;
                let matched = self.advance_to(&key, out)?;
                out.push(match matched {
                    None => Decision::Insert { key, values },
                    Some(t) => {
                        let equal = t.values.len() == values.len()
                            && values
                                .iter()
                                .zip(&t.values)
                                .all(|(s, t)| same(s, t.as_ref()));
                        if equal {
                            Decision::Unchanged { key }
                        } else {
                            Decision::Update { key, values }
                        }
                    }
                });
            }
            Outcome::SetAside {
                reason,
                detail,
                row,
            } => {
                let key = match (&row.media_buy_id, row.slot) {
                    (Some(id), Some(d)) => Some((id.clone(), d)),
                    _ => None,
                };
                if let Some(key) = &key {
                    self.check_order(key)?;
                    // The source still has this key: its target row has not vanished.
                    self.advance_to(key, out)?;
                }
                out.push(Decision::SetAside {
                    key,
                    reason,
                    detail,
                    row,
                });
            }
        }
        Ok(())
    }

    /// After the last source outcome: the next remaining target row, which vanished.
    pub fn next_vanished(&mut self) -> Result<Option<Key>, T::Error> {
        self.peek()?;
        Ok(self.peeked.take().map(|t| t.key))
    }

    /// After the last source outcome: every remaining target row vanished.
    pub fn finish(&mut self, out: &mut Vec<Decision>) -> Result<(), T::Error> {
        while let Some(key) = self.next_vanished()? {
            out.push(Decision::Vanished { key });
        }
        Ok(())
    }
}

/// Compares a whole source with a whole target, both sorted in `order`.
pub fn compare(
    order: KeyOrder,
    outcomes: impl IntoIterator<Item = Outcome>,
    target: impl IntoIterator<Item = TargetRow>,
) -> Result<Vec<Decision>, CompareError<Infallible>> {
    let mut c = Comparison::new(order, IterRows(target.into_iter()));
    let mut out = Vec::new();
    for o in outcomes {
        c.push(o, &mut out)?;
    }
    c.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests;
