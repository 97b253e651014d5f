//! Target rows read in time order only, handed on in [`KeyOrder::DateFirst`] order.
//!
//! With an index on `(date)` alone, PostgreSQL returns a window `ORDER BY date, id` by
//! sorting each day's rows after the index scan (an incremental sort, a tuple sort
//! per day). The extension asks for `ORDER BY date` only, which the index returns
//! with no sort at all, and sorts each day's ids here: a sort of plain keys, one day
//! (or hour) at a time, so what is held is one time slot's rows, whatever the window.
//!
//! [`KeyOrder::DateFirst`]: crate::order::KeyOrder::DateFirst

use std::collections::VecDeque;

use super::TargetRow;

/// Regroups a stream ordered by time slot into (time, id) order.
#[derive(Debug, Default)]
pub struct TimeGroups {
    /// Sorted rows of completed time slots, ready to hand on.
    ready: VecDeque<TargetRow>,
    /// The rows of the latest time slot seen, not known to be complete.
    open: Vec<TargetRow>,
}

impl TimeGroups {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next row of the stream. A row whose time slot is earlier than the
    /// open slot's is a caller's bug (the stream is not ordered by time): it is
    /// refused with `Err(row)`.
    pub fn push(&mut self, row: TargetRow) -> Result<(), TargetRow> {
        match self.open.first().map(|r| r.key.1) {
            Some(t) if row.key.1 < t => return Err(row),
            Some(t) if row.key.1 > t => self.close(),
            _ => {}
        }
        self.open.push(row);
        Ok(())
    }

    /// The stream has ended: the open slot is complete.
    pub fn finish(&mut self) {
        self.close();
    }

    fn close(&mut self) {
        // Keys are unique within a slot (the primary key), so an unstable sort is exact.
        self.open.sort_unstable_by(|a, b| a.key.0.cmp(&b.key.0));
        self.ready.extend(self.open.drain(..));
    }

    /// The next row in (time, id) order, if its slot is complete.
    pub fn pop(&mut self) -> Option<TargetRow> {
        self.ready.pop_front()
    }

    /// Rows held (ready and open).
    pub fn len(&self) -> usize {
        self.ready.len() + self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::key::BuyId;
    use crate::order::KeyOrder;

    fn row(id: BuyId, t: i32) -> TargetRow {
        TargetRow {
            key: (id, t),
            values: Vec::new(),
        }
    }

    fn drain(g: &mut TimeGroups) -> Vec<(BuyId, i32)> {
        std::iter::from_fn(|| g.pop()).map(|r| r.key).collect()
    }

    #[test]
    fn an_open_slot_is_held_until_a_later_one_or_the_end() {
        let mut g = TimeGroups::new();
        g.push(row(BuyId::Int(3), 1)).unwrap();
        g.push(row(BuyId::Int(1), 1)).unwrap();
        assert_eq!(g.pop().map(|r| r.key), None, "slot 1 may still grow");
        g.push(row(BuyId::Int(2), 2)).unwrap();
        assert_eq!(drain(&mut g), vec![(BuyId::Int(1), 1), (BuyId::Int(3), 1)]);
        assert_eq!(g.len(), 1);
        g.finish();
        assert_eq!(drain(&mut g), vec![(BuyId::Int(2), 2)]);
        assert!(g.is_empty());
    }

    #[test]
    fn a_stream_out_of_time_order_is_refused() {
        let mut g = TimeGroups::new();
        g.push(row(BuyId::Int(1), 5)).unwrap();
        let back = g.push(row(BuyId::Int(2), 4)).unwrap_err();
        assert_eq!(back.key, (BuyId::Int(2), 4));
    }

    #[test]
    fn text_ids_are_sorted_bytewise_as_collate_c() {
        let mut g = TimeGroups::new();
        for id in ["b", "B", "a", "é", "Z"] {
            g.push(row(BuyId::Text(id.into()), 0)).unwrap();
        }
        g.finish();
        let ids: Vec<_> = drain(&mut g).into_iter().map(|k| k.0).collect();
        let want: Vec<_> = ["B", "Z", "a", "b", "é"]
            .into_iter()
            .map(|s| BuyId::Text(s.into()))
            .collect();
        assert_eq!(ids, want);
    }

    proptest! {
        /// Any stream ordered by time (ids in any order within a slot, pops interleaved
        /// anywhere) comes out exactly as the whole stream sorted in date-first order.
        #[test]
        fn regrouping_equals_a_full_date_first_sort(
            keys in proptest::collection::btree_set((0i64..40, -3i32..6), 0..200),
            shuffle in any::<u64>(),
            pops in proptest::collection::vec(any::<bool>(), 200),
        ) {
            let mut stream: Vec<(i64, i32)> = keys.into_iter().collect();
            // time order only; within a slot, a seeded permutation
            stream.sort_by_key(|&(id, t)| (t, (id as u64).wrapping_mul(shuffle | 1).rotate_left(17)));
            let mut g = TimeGroups::new();
            let mut out = Vec::new();
            for (i, &(id, t)) in stream.iter().enumerate() {
                g.push(row(BuyId::Int(id), t)).unwrap();
                if pops[i] {
                    out.extend(g.pop().map(|r| r.key));
                }
            }
            g.finish();
            out.extend(drain(&mut g));
            let mut want: Vec<(BuyId, i32)> = stream.iter().map(|&(id, t)| (BuyId::Int(id), t)).collect();
            want.sort_by(|a, b| KeyOrder::DateFirst.cmp(a, b));
            prop_assert_eq!(out, want);
        }
    }
}
