//! The run record of a sync cut short by the end of its backend.
//!
//! `pg_terminate_backend`, a fast shutdown or the scheduler being stopped end a sync
//! with FATAL, not ERROR: no catch block runs, the process exits, and the transaction
//! (with the sync's work) rolls back on the way out. While a sync runs, and after it
//! succeeded until its transaction ends, its record is kept here; a
//! `before_shmem_exit` callback, which runs before PostgreSQL aborts the transaction,
//! hands it to the writer worker as `cancelled` with SQLSTATE 57P01.
//! [`track`] returns a guard: when the sync fails with an ERROR (which unwinds through
//! it or is caught), the guard forgets the record and the usual path writes it; when
//! it succeeds, [`Tracked::until_transaction_end`] keeps it until commit or abort.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use pgrx::prelude::*;
use pgrx::{register_xact_callback, PgXactCallbackEvent};

use super::RunRecord;

/// A tracked sync: its live record, and a copy taken at its start (used if the live one
/// happens to be borrowed mutably at the moment of exit).
type Entry = (Rc<RefCell<RunRecord>>, RunRecord);

thread_local! {
    static IN_FLIGHT: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Forgets the tracked record when dropped.
pub struct Tracked {
    run_id: i64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let id = self.run_id;
        IN_FLIGHT.with(|f| f.borrow_mut().retain(|(_, start)| start.run_id != id));
    }
}

impl Tracked {
    /// Keeps the record until the current transaction ends: a sync that succeeded
    /// commits with its caller's transaction, and a backend terminated before that
    /// commit rolls it back.
    pub fn until_transaction_end(self) {
        for event in [
            PgXactCallbackEvent::Commit,
            PgXactCallbackEvent::Abort,
            PgXactCallbackEvent::Prepare,
        ] {
            register_xact_callback(event, || IN_FLIGHT.with(|f| f.borrow_mut().clear()));
        }
        std::mem::forget(self);
    }
}

/// Tracks `record` until the returned guard is dropped.
pub fn track(record: &Rc<RefCell<RunRecord>>) -> Tracked {
    if !REGISTERED.with(|r| r.replace(true)) {
        unsafe { pg_sys::before_shmem_exit(Some(on_exit), pg_sys::Datum::from(0)) };
    }
    let start = record.borrow().clone();
    let run_id = start.run_id;
    IN_FLIGHT.with(|f| f.borrow_mut().push((Rc::clone(record), start)));
    Tracked { run_id }
}

/// What the exit callback writes for `rec`.
pub fn terminated(mut rec: RunRecord) -> RunRecord {
    rec.status = "cancelled".into();
    rec.sqlstate = Some("57P01".into());
    rec.message = Some(
        "bravo_sync stopped: its backend was terminated (pg_terminate_backend, server shutdown or scheduler stop) before its transaction committed; nothing was merged".into(),
    );
    rec
}

#[pg_guard]
unsafe extern "C-unwind" fn on_exit(_code: std::ffi::c_int, _arg: pg_sys::Datum) {
    let entries = IN_FLIGHT.with(|f| std::mem::take(&mut *f.borrow_mut()));
    for (live, start) in entries {
        let rec = live.try_borrow().map(|r| r.clone()).unwrap_or(start);
        // During a shutdown the postmaster drops the unstarted worker at once (the
        // record then goes to the log); the short bound is only a safeguard.
        super::autonomous::write_within(&terminated(rec), std::time::Duration::from_secs(2));
    }
}
