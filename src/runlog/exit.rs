//! The run record of a sync cut short by the end of its backend.
//!
//! `pg_terminate_backend`, a fast shutdown or the scheduler being stopped end a sync
//! with FATAL, not ERROR: no catch block runs, the process exits, and the transaction
//! (with the sync's work) rolls back on the way out. While a sync runs, its record is
//! kept here; a `before_shmem_exit` callback, which runs before PostgreSQL aborts the
//! transaction, hands it to the writer worker as `cancelled` with SQLSTATE 57P01.
//! [`track`] returns a guard: when the sync ends normally or with an ERROR (which
//! unwinds through it), the guard forgets the record and the usual paths write it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use pgrx::prelude::*;

use super::RunRecord;

thread_local! {
    /// The running sync's live record, and a copy taken at its start (used if the live
    /// one happens to be borrowed mutably at the moment of exit).
    static IN_FLIGHT: RefCell<Option<(Rc<RefCell<RunRecord>>, RunRecord)>> = const { RefCell::new(None) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Forgets the tracked record when dropped.
pub struct Tracked(());

impl Drop for Tracked {
    fn drop(&mut self) {
        IN_FLIGHT.with(|f| f.borrow_mut().take());
    }
}

/// Tracks `record` until the returned guard is dropped.
pub fn track(record: &Rc<RefCell<RunRecord>>) -> Tracked {
    if !REGISTERED.with(|r| r.replace(true)) {
        unsafe { pg_sys::before_shmem_exit(Some(on_exit), pg_sys::Datum::from(0)) };
    }
    let start = record.borrow().clone();
    IN_FLIGHT.with(|f| *f.borrow_mut() = Some((Rc::clone(record), start)));
    Tracked(())
}

/// What the exit callback writes for `rec`.
pub fn terminated(mut rec: RunRecord) -> RunRecord {
    rec.status = "cancelled".into();
    rec.sqlstate = Some("57P01".into());
    rec.message = Some(
        "bravo_sync stopped: its backend was terminated (pg_terminate_backend, server shutdown or scheduler stop); nothing was merged".into(),
    );
    rec
}

#[pg_guard]
unsafe extern "C-unwind" fn on_exit(_code: std::ffi::c_int, _arg: pg_sys::Datum) {
    let Some((live, start)) = IN_FLIGHT.with(|f| f.borrow_mut().take()) else {
        return;
    };
    let rec = live.try_borrow().map(|r| r.clone()).unwrap_or(start);
    // Short: during a fast shutdown the postmaster starts no new worker, and this
    // wait delays the exit.
    super::autonomous::write_within(&terminated(rec), std::time::Duration::from_secs(2));
}
