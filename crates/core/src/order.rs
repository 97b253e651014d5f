//! The order in which a sync walks a table's window: both streams of the comparison
//! (Snowflake's rows and the target's) are sorted the same way.
//!
//! * [`KeyOrder::MediaBuyFirst`] — `(media_buy_id, date)`, the primary key's order.
//!   Reading the window this way walks the primary key from the first media buy to
//!   the last, and skips nothing: on a table that keeps years of history, every
//!   history row is read and filtered out. It is the right order for a first load into
//!   an empty table and for tables that hold only the window (the heap then lies in
//!   the primary key's order, and the walk reads each page once).
//! * [`KeyOrder::DateFirst`] — `(date, media_buy_id)`. With an index that starts with
//!   `date`, the window is one range scan of that index, read in date order only (the
//!   reader sorts each day's ids, one day at a time: [`crate::compare::TimeGroups`]):
//!   the cost follows the window, not the history. A table with history is also
//!   first-loaded in this order, so that its window lies in the heap day by day.
//!
//! Which order a table gets is decided per sync by the extension (`src/sync/order.rs`).

use std::cmp::Ordering;

use crate::key::KeyType;

/// How the keys `(media_buy_id, date)` of one sync's streams are ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyOrder {
    /// `ORDER BY media_buy_id, date`.
    #[default]
    MediaBuyFirst,
    /// `ORDER BY date, media_buy_id`.
    DateFirst,
}

impl KeyOrder {
    pub const ALL: [KeyOrder; 2] = [KeyOrder::MediaBuyFirst, KeyOrder::DateFirst];

    /// Compares two keys `(media_buy_id, date)` in this order; the date is any
    /// ordered representation (days since an epoch, a calendar date).
    pub fn cmp<I: Ord, D: Ord>(self, a: &(I, D), b: &(I, D)) -> Ordering {
        match self {
            KeyOrder::MediaBuyFirst => a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)),
            KeyOrder::DateFirst => a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)),
        }
    }

    /// The ORDER BY list of the target's window (PostgreSQL column names; `time` is the
    /// key's time column, `date` or `hour_start`), ordering
    /// ids of `key` type as the source does (see [`crate::key`]).
    pub fn target_order_by(self, key: KeyType, time: &str) -> String {
        let id = key.target_order_expr("media_buy_id");
        match self {
            KeyOrder::MediaBuyFirst => format!("{id}, {time}"),
            KeyOrder::DateFirst => format!("{time}, {id}"),
        }
    }

    /// The ORDER BY list of the target's window as the extension reads it: as
    /// [`Self::target_order_by`], except that date first asks for the time column only
    /// (an index on it alone returns that with no sort); the reader then sorts each
    /// time slot's ids itself ([`crate::compare::TimeGroups`]).
    pub fn window_order_by(self, key: KeyType, time: &str) -> String {
        match self {
            KeyOrder::MediaBuyFirst => self.target_order_by(key, time),
            KeyOrder::DateFirst => time.to_string(),
        }
    }

    /// The ORDER BY list of the source query, from its quoted date and id columns.
    pub fn source_order_by(self, date_col: &str, id_col: &str) -> String {
        match self {
            KeyOrder::MediaBuyFirst => format!("{id_col}, {date_col}"),
            KeyOrder::DateFirst => format!("{date_col}, {id_col}"),
        }
    }

    /// For logs and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyOrder::MediaBuyFirst => "media buy first",
            KeyOrder::DateFirst => "date first",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_two_orders_disagree_only_when_id_and_date_cross() {
        let (a, b) = ((1i64, 20i32), (2i64, 10i32));
        assert_eq!(KeyOrder::MediaBuyFirst.cmp(&a, &b), Ordering::Less);
        assert_eq!(KeyOrder::DateFirst.cmp(&a, &b), Ordering::Greater);
        let (c, d) = ((1i64, 10i32), (2i64, 20i32));
        for o in KeyOrder::ALL {
            assert_eq!(o.cmp(&c, &d), Ordering::Less);
            assert_eq!(o.cmp(&c, &c), Ordering::Equal);
        }
        assert_eq!(
            KeyOrder::DateFirst.source_order_by("\"Date\"", "\"MEDIA_BUY_ID\""),
            "\"Date\", \"MEDIA_BUY_ID\""
        );
        assert_eq!(
            KeyOrder::DateFirst.target_order_by(KeyType::Int, "date"),
            "date, media_buy_id"
        );
        assert_eq!(
            KeyOrder::MediaBuyFirst.target_order_by(KeyType::Uuid, "date"),
            "media_buy_id, date"
        );
        assert_eq!(
            KeyOrder::MediaBuyFirst.target_order_by(KeyType::Text, "date"),
            "media_buy_id COLLATE \"C\", date"
        );
    }
}
