//! 2.5 M rows streamed batch by batch with an exact count and bounded batches.

mod common;

use bravo_snowflake::{Column, Query};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn range_2_5m_rows_streams_in_bounded_batches() {
    const TOTAL: u64 = 2_500_000;
    let fs = FakeSnow::start();
    let c = fs.connect().await;
    let mut s = c
        .query(Query::new(format!("select range from range({TOTAL})")))
        .await
        .unwrap();
    assert_eq!(s.total_rows(), Some(TOTAL));
    let mut rows = 0u64;
    let mut batches = 0usize;
    let mut max_batch = 0usize;
    let mut sum: i128 = 0;
    let mut expected_next: i128 = 0;
    while let Some(b) = s.next_batch().await.unwrap() {
        batches += 1;
        max_batch = max_batch.max(b.num_rows);
        rows += b.num_rows as u64;
        match &b.columns[0] {
            Column::Fixed { scale: 0, values } => {
                assert_eq!(values.len(), b.num_rows);
                assert_eq!(values[0], Some(expected_next), "rows arrive in order");
                for v in values {
                    sum += v.expect("no NULLs in range()");
                }
                expected_next = values[values.len() - 1].unwrap() + 1;
            }
            other => panic!("unexpected column {:?}", std::mem::discriminant(other)),
        }
        drop(b); // one decoded batch alive at a time
    }
    assert_eq!(rows, TOTAL);
    let n = TOTAL as i128;
    assert_eq!(sum, n * (n - 1) / 2);
    assert!(batches > 10, "{batches} batches");
    assert!(
        (max_batch as u64) * 10 < TOTAL,
        "largest batch {max_batch} is not far below {TOTAL}"
    );
}
