//! Reading tables for the export: one snapshot for every query, rows as text.
//!
//! The snapshot is taken once and registered; every query of the export runs with it
//! as the active snapshot and as a read-only SPI query (which takes no snapshot of its
//! own), so all tables — and both passes over each (see
//! `bravo_core::export::archive`) — see the same data, whatever the caller's
//! isolation level and whatever commits meanwhile.

use std::ffi::{CStr, CString};
use std::io;

use pgrx::pg_sys;

use crate::runtime;

/// The export's registered snapshot; unregistered on drop.
pub struct Snapshot(pg_sys::Snapshot);

impl Snapshot {
    /// The transaction's snapshot (in READ COMMITTED, a new one), registered.
    pub fn take() -> Snapshot {
        // SAFETY: on the backend thread inside a transaction (a SQL function); the
        // snapshot is registered with the current resource owner and unregistered once,
        // by Drop (which runs before the transaction's abort cleanup on an error).
        unsafe { Snapshot(pg_sys::RegisterSnapshot(pg_sys::GetTransactionSnapshot())) }
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        // SAFETY: registered by `take` and unregistered only here.
        unsafe { pg_sys::UnregisterSnapshot(self.0) };
    }
}

/// Why reading stopped: a cancel request (the caller then lets PostgreSQL raise it).
pub fn cancelled() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, "cancel requested")
}

/// Rows fetched per round trip.
const BATCH: i64 = 5000;

/// Runs `query` (a SELECT of `ncols` text columns) under `snap` and calls `f` with each
/// row's values (`None` for NULL). Stops with [`cancelled`] at a cancel request.
/// SPI must be connected.
pub fn each_row(
    snap: &Snapshot,
    query: &str,
    ncols: usize,
    mut f: impl FnMut(&[Option<&str>]) -> io::Result<()>,
) -> io::Result<u64> {
    let q = CString::new(query).map_err(io::Error::other)?;
    // SAFETY: SPI is connected (the caller's contract); the snapshot is registered and
    // alive for the whole call. The portal keeps its own registration of the snapshot,
    // so popping it right after the open is fine. The batch context is a child of the
    // SPI procedure context (freed with it on an error) and is switched away from
    // before it is reset; every tuple table is freed after its batch.
    unsafe {
        pg_sys::PushActiveSnapshot(snap.0);
        let portal = pg_sys::SPI_cursor_open_with_args(
            std::ptr::null(),
            q.as_ptr(),
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null(),
            true,
            pg_sys::CURSOR_OPT_NO_SCROLL as i32,
        );
        pg_sys::PopActiveSnapshot();
        // Each batch's values (and whatever the output functions allocate on the way)
        // live in a context of their own, reset after the batch: memory stays flat
        // whatever the table's size. Deleted with the SPI context if an error unwinds.
        let batch_cx = pg_sys::AllocSetContextCreateInternal(
            pg_sys::CurrentMemoryContext,
            c"bravo_export batch".as_ptr(),
            0,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        );
        let mut rows = 0u64;
        let result = (|| loop {
            if runtime::cancel_requested() {
                return Err(cancelled());
            }
            pg_sys::SPI_cursor_fetch(portal, true, BATCH);
            let n = pg_sys::SPI_processed as usize;
            let tt = pg_sys::SPI_tuptable;
            if n == 0 || tt.is_null() {
                return Ok(rows);
            }
            let desc = (*tt).tupdesc;
            let mut out = Ok(());
            let caller_cx = pg_sys::MemoryContextSwitchTo(batch_cx);
            // One row's values, reused for every row of the batch (they live in the
            // batch context, reset below after this vector is gone).
            let mut values: Vec<Option<&str>> = Vec::with_capacity(ncols);
            for i in 0..n {
                let tuple = *(*tt).vals.add(i);
                values.clear();
                let mut utf8 = true;
                for c in 1..=ncols {
                    let p = pg_sys::SPI_getvalue(tuple, desc, c as i32);
                    if p.is_null() {
                        values.push(None);
                    } else if let Ok(v) = CStr::from_ptr(p).to_str() {
                        values.push(Some(v));
                    } else {
                        utf8 = false;
                        break;
                    }
                }
                out = if utf8 {
                    f(&values)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a value is not UTF-8: the export needs a UTF8 database",
                    ))
                };
                if out.is_err() {
                    break;
                }
                rows += 1;
            }
            drop(values);
            pg_sys::MemoryContextSwitchTo(caller_cx);
            pg_sys::MemoryContextReset(batch_cx);
            pg_sys::SPI_freetuptable(tt);
            out?;
        })();
        pg_sys::SPI_cursor_close(portal);
        pg_sys::MemoryContextDelete(batch_cx);
        result
    }
}
