//! The feed of one target's source rows. A task on the network runtime decodes each
//! batch Snowflake sends and validates its rows (read, the refresh's scope, duplicate
//! detection: plain Rust, no PostgreSQL) while the backend thread merges the previous
//! batch into the table. Only plain values cross: the batches' outcomes. A batch crosses
//! in slices of [`SLICE_ROWS`] rows, and up to [`AHEAD`] validated slices wait in the
//! channel: about one merge statement's rows (`apply::FLUSH_ROWS`), so that when the
//! backend comes back from writing one statement, the next one's rows are ready (with
//! one slice ahead, it waited 0.3-0.4 s per 1.5 M-row table for the task to catch up).
//! What is in flight beside the merge is bounded by that, not by the batches (a chunk
//! from Snowflake can hold 100k rows or more) nor the window.
//! Dropping the feed stops the task, and with it any download it waits on.

use std::collections::HashSet;
use std::sync::Arc;

use bravo_core::key::{BuyId, KeyType};
use bravo_core::target::Target;
use bravo_core::validate::{self, Deduper, OrderError, Outcome};
use bravo_core::KeyOrder;
use bravo_snowflake::{Batch, Column, Error as SfError, ResultStream};
use chrono::{DateTime, Utc};
use tokio::sync::mpsc;

/// Source rows validated and sent to the backend at a time. The backend buffers its
/// writes separately (`apply::FLUSH_ROWS`), so this sets memory, not statements.
pub const SLICE_ROWS: usize = 16_384;
/// Validated slices the channel holds: enough for one merge statement.
pub const AHEAD: usize = super::apply::FLUSH_ROWS.div_ceil(SLICE_ROWS);

/// A slice of a source batch, validated, in source order.
pub struct Fed {
    /// Source rows in the slice (0 for the last item, which carries the row the
    /// duplicate detection held back).
    pub rows: usize,
    pub outcomes: Vec<Outcome>,
    /// The latest change-column value in the batch (on its first slice), when the query
    /// selected it.
    pub mark: Option<DateTime<Utc>>,
}

/// A batch's columns as validation reads them.
struct Columns {
    columns: Vec<Column>,
    rows: usize,
    mark: Option<DateTime<Utc>>,
}

/// Why the feed stopped early; the backend thread raises it.
pub enum FeedError {
    Snowflake(SfError),
    /// A batch with another number of columns than the result's rowtype.
    Width(usize),
    /// The source broke the key order the query asked for.
    Order(OrderError),
}

/// What the task needs to validate a target's rows.
pub struct Spec {
    pub target: Target,
    pub key: KeyType,
    pub order: KeyOrder,
    /// The place in the result of each column `validate::read_row` reads.
    pub positions: Vec<usize>,
    /// The change column's place in the result, when it was asked for.
    pub change_at: Option<usize>,
    /// The result's number of columns (its rowtype).
    pub width: usize,
    pub known_buys: Arc<HashSet<BuyId>>,
    /// A refresh's media buys: a row of any other buy (a source that ignored the
    /// filter) is never merged.
    pub scope: Option<HashSet<BuyId>>,
}

impl Spec {
    fn columns(&self, mut batch: Batch) -> Result<Columns, FeedError> {
        if batch.columns.len() != self.width {
            return Err(FeedError::Width(batch.columns.len()));
        }
        let mark = self
            .change_at
            .and_then(|at| bravo_core::changes::max_mark(&batch.columns[at]));
        let columns: Vec<Column> = self
            .positions
            .iter()
            .map(|&p| std::mem::replace(&mut batch.columns[p], Column::Boolean(Vec::new())))
            .collect();
        Ok(Columns {
            columns,
            rows: batch.num_rows,
            mark,
        })
    }

    /// Validates rows `rows` of a batch.
    fn validate(
        &self,
        batch: &Columns,
        rows: std::ops::Range<usize>,
        dedup: &mut Deduper,
    ) -> Result<Fed, FeedError> {
        let mut outcomes = Vec::with_capacity(rows.len());
        let (n, first) = (rows.len(), rows.start == 0);
        for i in rows {
            let row = validate::read_row(&self.target, self.key, &batch.columns, i);
            if let (Some(scope), Some(id)) = (&self.scope, &row.media_buy_id) {
                if !scope.contains(id) {
                    continue;
                }
            }
            dedup.push(row, &mut outcomes).map_err(FeedError::Order)?;
        }
        Ok(Fed {
            rows: n,
            outcomes,
            mark: if first { batch.mark } else { None },
        })
    }
}

/// A running feed: receive with [`Feed::next`] until it returns `None`.
pub struct Feed {
    rx: mpsc::Receiver<Result<Fed, FeedError>>,
    task: tokio::task::JoinHandle<()>,
}

impl Feed {
    /// Starts validating `stream` on `runtime`.
    pub fn start(runtime: &tokio::runtime::Handle, mut stream: ResultStream, spec: Spec) -> Feed {
        let (tx, rx) = mpsc::channel(AHEAD);
        let task = runtime.spawn(async move {
            let mut dedup = Deduper::new(spec.order, &spec.known_buys);
            loop {
                let next = tokio::select! {
                    _ = tx.closed() => return,
                    next = stream.next_batch() => next,
                };
                let batch = match next {
                    Err(e) => Err(FeedError::Snowflake(e)),
                    Ok(Some(batch)) => spec.columns(batch),
                    Ok(None) => {
                        let mut outcomes = Vec::new();
                        dedup.finish(&mut outcomes);
                        let _ = tx
                            .send(Ok(Fed {
                                rows: 0,
                                outcomes,
                                mark: None,
                            }))
                            .await;
                        return;
                    }
                };
                let batch = match batch {
                    Ok(batch) => batch,
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                };
                for start in (0..batch.rows).step_by(SLICE_ROWS) {
                    let end = batch.rows.min(start + SLICE_ROWS);
                    let item = spec.validate(&batch, start..end, &mut dedup);
                    let failed = item.is_err();
                    if tx.send(item).await.is_err() || failed {
                        return;
                    }
                }
            }
        });
        Feed { rx, task }
    }

    /// The next validated batch; `None` after the last one. Never fails itself: the
    /// future is the network wait the backend thread runs under `runtime::block_on`.
    pub async fn next(&mut self) -> Result<Option<Result<Fed, FeedError>>, SfError> {
        Ok(self.rx.recv().await)
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.task.abort();
    }
}
