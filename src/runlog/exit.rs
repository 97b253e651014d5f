//! How a sync's row ends when it is not the sync itself that ends it: the backend
//! exits, or the transaction (or savepoint) that ran a successful sync rolls back.
//!
//! [`track`] keeps each sync's record from its start:
//!
//! * **In flight** (the sync is running). If it fails with an ERROR (which unwinds
//!   through the guard or is caught), the guard forgets the record and the sync's own
//!   failure path writes it. `pg_terminate_backend`, a fast shutdown or the scheduler
//!   being stopped end it with FATAL instead: no catch block runs and the process
//!   exits. A `before_shmem_exit` callback, which runs before PostgreSQL aborts the
//!   transaction, hands the record to the writer worker as `cancelled` with SQLSTATE
//!   57P01 (the sync's transaction has not touched its `running` row, so the worker
//!   does not wait for it).
//! * **Pending** ([`Tracked::succeeded`]): the sync succeeded and its `succeeded` row
//!   is part of the caller's transaction, at the (sub)transaction nesting level it
//!   returned to. Transaction callbacks follow it: a subtransaction commit moves it one
//!   level up; the commit of the transaction forgets it (the row committed with the
//!   data); the abort of the transaction, or of a subtransaction at or below its
//!   level (`ROLLBACK`, `ROLLBACK TO SAVEPOINT`, an error later in the transaction, a
//!   PL/pgSQL exception block), hands it to the writer as `rolled_back`, or as
//!   `cancelled`/57P01 when the abort is the one of an exiting backend.
//!
//! The abort callbacks run after PostgreSQL has marked the transaction (or
//! subtransaction) aborted for everyone else and before it releases its locks, so
//! the worker's update does not wait for the aborted row version, and the single-sync
//! lock still shows the run as live ([`super::stale`]) until its row is final. The
//! writer never raises and its wait is bounded (5 s, 2 s while exiting; see
//! [`super::autonomous`]); PostgreSQL does not run these callbacks inside a critical
//! section, and the writer refuses to start in one.
//!
//! `PREPARE TRANSACTION` of a transaction with a pending sync is refused (0A000):
//! the prepared transaction would keep the single-sync lock, blocking every sync
//! until someone commits or rolls it back, and its row could only say `running` until
//! then. The refusal aborts the transaction, so the row says `rolled_back`.
//!
//! This module runs no SQL itself: the writer worker ([`super::autonomous`]) writes,
//! with `search_path = pg_catalog, pg_temp` and schema-qualified names, as the role
//! recorded here (the owner of the SECURITY DEFINER function that ran the sync).

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use bravo_core::RunStatus;
use pgrx::pg_sys::{SubXactEvent, XactEvent};
use pgrx::prelude::*;

use super::RunRecord;
use crate::error::BravoError;

enum State {
    /// The live record, and a copy taken at the start (used if the live one happens to
    /// be borrowed mutably at the moment of exit).
    InFlight {
        live: Rc<RefCell<RunRecord>>,
        start: RunRecord,
    },
    /// Succeeded; commits or rolls back with the (sub)transaction at `level`.
    Pending { rec: RunRecord, level: i32 },
}

struct Entry {
    run_id: i64,
    /// The role the writer worker connects as (the sync's, not the session's: a
    /// callback may run after the SECURITY DEFINER function returned).
    user: pg_sys::Oid,
    state: State,
}

thread_local! {
    static TRACKED: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
    static EXITING: Cell<bool> = const { Cell::new(false) };
}

/// Forgets the tracked record when dropped (the sync's own path writes it).
pub struct Tracked {
    run_id: i64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let id = self.run_id;
        TRACKED.with(|t| t.borrow_mut().retain(|e| e.run_id != id));
    }
}

impl Tracked {
    /// The sync succeeded (`rec` is its final record, about to be written in the
    /// current transaction): from now on the transaction's end decides its row.
    pub fn succeeded(self, rec: &RunRecord) {
        // SAFETY: called on the backend's main thread, inside the transaction that ran the
        // sync; GetCurrentTransactionNestLevel only reads the transaction state stack.
        let level = unsafe { pg_sys::GetCurrentTransactionNestLevel() };
        let id = self.run_id;
        TRACKED.with(|t| {
            for e in t.borrow_mut().iter_mut().filter(|e| e.run_id == id) {
                e.state = State::Pending {
                    rec: rec.clone(),
                    level,
                };
            }
        });
        std::mem::forget(self);
    }
}

/// Tracks `record` (a sync starting) until the returned guard is dropped or
/// [`Tracked::succeeded`] hands it to the transaction.
pub fn track(record: &Rc<RefCell<RunRecord>>) -> Tracked {
    if !REGISTERED.with(|r| r.replace(true)) {
        // SAFETY: on the backend's main thread, once per process (REGISTERED). The
        // callbacks are `#[pg_guard]` `extern "C-unwind"` functions with the signatures
        // PostgreSQL expects (pg_on_exit_callback, XactCallback, SubXactCallback), they
        // live as long as the library (never unloaded), and they use no argument, so a
        // zero Datum and NULL pointers are fine. before_shmem_exit and the Register
        // functions allocate in TopMemoryContext, so the registrations outlive the
        // current transaction.
        unsafe {
            pg_sys::before_shmem_exit(Some(on_exit), pg_sys::Datum::from(0));
            pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
            pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
        }
    }
    let start = record.borrow().clone();
    let run_id = start.run_id;
    TRACKED.with(|t| {
        t.borrow_mut().push(Entry {
            run_id,
            user: super::autonomous::current_user(),
            state: State::InFlight {
                live: Rc::clone(record),
                start,
            },
        })
    });
    Tracked { run_id }
}

/// What is written for a sync whose backend ended before its transaction committed.
pub fn terminated(mut rec: RunRecord) -> RunRecord {
    rec.status = RunStatus::Cancelled;
    rec.sqlstate = Some("57P01".into());
    rec.message = Some(
        "bravo_sync stopped: its backend was terminated (pg_terminate_backend, server shutdown or scheduler stop) before its transaction committed; nothing was merged".into(),
    );
    rec
}

/// What is written for a successful sync whose transaction rolled back.
pub fn rolled_back(mut rec: RunRecord) -> RunRecord {
    rec.status = RunStatus::RolledBack;
    rec.sqlstate = None;
    rec.message = Some(
        "bravo_sync succeeded, but the transaction that ran it was rolled back (ROLLBACK, ROLLBACK TO SAVEPOINT, an error later in that transaction, or a refused PREPARE TRANSACTION); nothing was merged".into(),
    );
    rec
}

/// Removes the pending entries whose level `ends` selects.
fn take_pending(ends: impl Fn(i32) -> bool) -> Vec<(RunRecord, pg_sys::Oid)> {
    TRACKED.with(|t| {
        let mut t = t.borrow_mut();
        let mut out = Vec::new();
        t.retain(|e| match &e.state {
            State::Pending { rec, level } if ends(*level) => {
                out.push((rec.clone(), e.user));
                false
            }
            _ => true,
        });
        out
    })
}

/// Writes the rows of pending syncs whose work was just rolled back.
fn write_rolled_back(ended: Vec<(RunRecord, pg_sys::Oid)>) {
    // SAFETY: a read of a flag PostgreSQL sets on this thread when proc_exit starts.
    let exiting = EXITING.with(|x| x.get()) || unsafe { pg_sys::proc_exit_inprogress };
    for (rec, user) in ended {
        if exiting {
            // During a shutdown the postmaster drops the unstarted worker at once (the
            // record then goes to the log); the short bound is only a safeguard.
            super::autonomous::write_as(&terminated(rec), user, Duration::from_secs(2));
        } else {
            super::autonomous::write_as(&rolled_back(rec), user, Duration::from_secs(5));
        }
    }
}

/// Transaction callback (RegisterXactCallback).
///
/// # Safety
///
/// Called by PostgreSQL only, on the backend's main thread, at the transaction events
/// it reports; `_arg` is the NULL registered with it and is not used.
#[pg_guard]
unsafe extern "C-unwind" fn on_xact(event: XactEvent::Type, _arg: *mut std::ffi::c_void) {
    match event {
        XactEvent::XACT_EVENT_PRE_PREPARE => {
            let pending = TRACKED.with(|t| {
                t.borrow()
                    .iter()
                    .find(|e| matches!(e.state, State::Pending { .. }))
                    .map(|e| e.run_id)
            });
            if let Some(run_id) = pending {
                BravoError::new(
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    format!("cannot PREPARE a transaction that ran bravo_sync (run {run_id})"),
                )
                .hint("COMMIT or ROLLBACK it instead: a prepared transaction would hold the single-sync lock, blocking every sync until it is committed or rolled back. The transaction is rolled back and the run recorded as rolled_back.")
                .raise();
            }
        }
        XactEvent::XACT_EVENT_ABORT => write_rolled_back(take_pending(|_| true)),
        XactEvent::XACT_EVENT_COMMIT | XactEvent::XACT_EVENT_PREPARE => {
            // Committed with its data (a prepare with a pending sync was refused).
            take_pending(|_| true);
        }
        _ => {}
    }
}

/// Subtransaction callback (RegisterSubXactCallback).
///
/// # Safety
///
/// Called by PostgreSQL only, on the backend's main thread, while the subtransaction
/// the event is about is still the current one; `_arg` is the registered NULL, unused.
#[pg_guard]
unsafe extern "C-unwind" fn on_subxact(
    event: SubXactEvent::Type,
    _my: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    // The callbacks run while the ending subtransaction is still the current one.
    // SAFETY: on the backend's main thread, inside a subtransaction callback, where the
    // transaction state stack is intact; the call only reads it.
    let ending = unsafe { pg_sys::GetCurrentTransactionNestLevel() };
    match event {
        SubXactEvent::SUBXACT_EVENT_COMMIT_SUB => TRACKED.with(|t| {
            for e in t.borrow_mut().iter_mut() {
                if let State::Pending { level, .. } = &mut e.state {
                    if *level >= ending {
                        *level = ending - 1;
                    }
                }
            }
        }),
        SubXactEvent::SUBXACT_EVENT_ABORT_SUB => {
            write_rolled_back(take_pending(|level| level >= ending))
        }
        _ => {}
    }
}

/// `before_shmem_exit` callback.
///
/// # Safety
///
/// Called by PostgreSQL only, on the backend's main thread during proc_exit, before
/// shared memory is detached and before the open transaction is aborted; `_arg` is the
/// zero Datum registered with it and is not used.
#[pg_guard]
unsafe extern "C-unwind" fn on_exit(_code: std::ffi::c_int, _arg: pg_sys::Datum) {
    EXITING.with(|x| x.set(true));
    // Syncs in flight: written now, before the transaction aborts. Pending ones are
    // written by the abort that follows (PostgreSQL's own exit callback aborts the
    // transaction after this one), once their row version is dead.
    let in_flight: Vec<(RunRecord, pg_sys::Oid)> = TRACKED.with(|t| {
        let mut t = t.borrow_mut();
        let mut out = Vec::new();
        t.retain(|e| match &e.state {
            State::InFlight { live, start } => {
                let rec = live
                    .try_borrow()
                    .map(|r| r.clone())
                    .unwrap_or_else(|_| start.clone());
                out.push((rec, e.user));
                false
            }
            State::Pending { .. } => true,
        });
        out
    });
    for (rec, user) in in_flight {
        super::autonomous::write_as(&terminated(rec), user, Duration::from_secs(2));
    }
}
