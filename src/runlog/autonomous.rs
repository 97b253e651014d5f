//! Writing the run log in a transaction of its own.
//!
//! PostgreSQL has no autonomous transactions, so a record that must survive the
//! caller's transaction goes to a dynamic background worker: the task (JSON) goes into
//! a dynamic shared memory segment, the worker attaches, upserts the record as the
//! given user in the same database ([`super::upsert`], keyed on the run id, changing
//! only a row that is still `running`), commits and sets a flag in the segment; the
//! caller waits for that flag (bounded). A task may also ask the worker to mark stale
//! `running` rows `interrupted` ([`super::stale`]), after the record is committed.
//! This needs no `shared_preload_libraries`, only a free `max_worker_processes` slot.
//! If no worker can start (no free slot, a server shutting down) or it does not finish
//! in time, the record goes to the server log as a WARNING instead.
//!
//! Nothing here raises: the writer is also used from the transaction-abort path and
//! from the backend's exit ([`super::exit`]), where an error would be fatal. It is
//! never started inside a critical section, and its shared memory segment belongs to
//! no resource owner (it is detached explicitly), so an aborting resource owner is
//! never touched.
//!
//! Search path: every transaction of the writer runs through [`crate::txn::in_transaction`],
//! which first sets `search_path = pg_catalog, pg_temp` (transaction-locally), and all
//! the SQL it runs ([`super::upsert`], [`super::prune`], [`super::stale`]) names the
//! extension's tables with their schema and PostgreSQL's functions with `pg_catalog.`:
//! the worker connects as the role of the sync (the owner of the SECURITY DEFINER
//! function that started it), so nothing on a database's or role's search path is run.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BackgroundWorkerStatus, DynamicBackgroundWorker,
    SignalWakeFlags,
};
use pgrx::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Overwrite, RunRecord};
use crate::txn;
use bravo_core::run::RunStatus;

/// What a writer worker does.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Task {
    /// Upserted first, in a transaction of its own.
    record: Option<RunRecord>,
    /// An export's row (`bravo.bravo_export_runs`), likewise.
    #[serde(default)]
    export: Option<super::export_record::ExportRecord>,
    /// Then: mark stale `running` rows `interrupted` (never run `exclude`).
    sweep: bool,
    exclude: i64,
}

/// The role the worker connects as: the current user (inside the extension's
/// SECURITY DEFINER functions, their owner).
pub fn current_user() -> pg_sys::Oid {
    // SAFETY: on a backend's main thread, after it connected (callers are SQL functions,
    // their transaction callbacks and exit callbacks); GetUserId only reads a global.
    unsafe { pg_sys::GetUserId() }
}

/// Hands `rec` to a writer worker and waits for it (at most 5 s).
pub fn write(rec: &RunRecord) {
    write_as(rec, current_user(), Duration::from_secs(5));
}

/// [`write`] as `user`, waiting at most `limit`. Returns whether the record was
/// committed; if not, it is in the server log as a WARNING.
pub fn write_as(rec: &RunRecord, user: pg_sys::Oid, limit: Duration) -> bool {
    let task = Task {
        record: Some(rec.clone()),
        export: None,
        sweep: false,
        exclude: 0,
    };
    match run_task(&task, user, limit) {
        Ok(_) => true,
        Err(why) => {
            log_unwritten(rec, &why);
            false
        }
    }
}

/// Writes an export's row in a transaction of its own and waits for it (at most 5 s);
/// if that fails, the record goes to the server log as a WARNING.
pub fn write_export(rec: &super::export_record::ExportRecord) {
    let task = Task {
        record: None,
        export: Some(rec.clone()),
        sweep: false,
        exclude: 0,
    };
    if let Err(why) = run_task(&task, current_user(), Duration::from_secs(5)) {
        pgrx::warning!(
            "{}: could not record export {} in bravo_export_runs: {why}; status {}, sqlstate {}, message: {}",
            log_prefix(),
            rec.export_id,
            rec.status,
            rec.sqlstate.as_deref().unwrap_or("-"),
            rec.message.as_deref().unwrap_or("-")
        );
    }
}

/// At the start of a sync: writes its `running` row in a transaction of its own and
/// waits (at most 5 s) until it is committed; the same worker then marks stale
/// `running` rows of other runs `interrupted`, without the sync waiting for that.
/// Returns how long the caller waited.
pub fn start(rec: &RunRecord) -> Duration {
    let t0 = Instant::now();
    let task = Task {
        record: Some(rec.clone()),
        export: None,
        sweep: true,
        exclude: rec.run_id,
    };
    if let Err(why) = run_task(&task, current_user(), Duration::from_secs(5)) {
        log_unwritten(rec, &why);
    }
    t0.elapsed()
}

/// Has a worker mark stale `running` rows `interrupted` and waits for it (at most
/// `limit`); returns how many it marked.
pub fn sweep(limit: Duration) -> Result<i64, String> {
    let task = Task {
        record: None,
        export: None,
        sweep: true,
        exclude: 0,
    };
    run_task(&task, current_user(), limit)
}

/// How this process's log lines start: the extension's own workers (the scheduler,
/// run-now) prefix every line with their type; other backends say `bravo_metrics`.
pub fn log_prefix() -> String {
    // SAFETY: MyBgworkerEntry is NULL in a client backend and otherwise points at this
    // worker's registration, which lives as long as the process; its `bgw_type` is a
    // NUL-terminated fixed-size array (PostgreSQL copies it with strlcpy), and the
    // string is copied out before the block ends.
    unsafe {
        let entry = pg_sys::MyBgworkerEntry;
        if !entry.is_null() {
            let t = std::ffi::CStr::from_ptr((*entry).bgw_type.as_ptr()).to_string_lossy();
            if t.starts_with("bravo_metrics ") {
                return t.into_owned();
            }
        }
    }
    "bravo_metrics".into()
}

fn log_unwritten(rec: &RunRecord, why: &str) {
    pgrx::warning!(
        "{}: could not record run {} ({}) in bravo_sync_runs: {why}; status {}, sqlstate {}, message: {}",
        log_prefix(),
        rec.run_id,
        rec.trigger,
        rec.status,
        rec.sqlstate.as_deref().unwrap_or("-"),
        rec.message.as_deref().unwrap_or("-")
    );
}

/// The segment: the payload length (u64, little-endian), a flag the worker sets once
/// the task is done (the record committed; for a sweep-only task, the sweep), the
/// number of rows the sweep marked (i32), then the payload (JSON).
const LEN_AT: usize = 0;
const DONE_AT: usize = 8;
const COUNT_AT: usize = 12;
const PAYLOAD_AT: usize = 16;

/// Runs `task` in a worker; never raises (an error comes back as `Err`).
fn run_task(task: &Task, user: pg_sys::Oid, limit: Duration) -> Result<i64, String> {
    // SAFETY: a read of a counter PostgreSQL keeps for this thread only.
    if unsafe { pg_sys::CritSectionCount } != 0 {
        return Err("inside a critical section".into());
    }
    let payload = serde_json::to_vec(task).map_err(|e| e.to_string())?;
    // SAFETY: on the backend's main thread and outside a critical section (checked
    // above), as try_run requires; an ERROR it raises is caught here.
    PgTryBuilder::new(AssertUnwindSafe(|| unsafe {
        try_run(&payload, user, limit)
    }))
    .catch_others(|e| {
        Err(format!(
            "cannot start the writer worker: {}",
            txn::caught_message(&e)
        ))
    })
    .execute()
}

/// Puts back the resource owner in force before the segment was created, whatever
/// happens.
struct OwnerBack(pg_sys::ResourceOwner);

impl Drop for OwnerBack {
    fn drop(&mut self) {
        // SAFETY: puts back the resource owner that was current when this guard was made,
        // on the same thread; it is still alive (nothing between the two releases it).
        unsafe { pg_sys::CurrentResourceOwner = self.0 };
    }
}

/// Creates the segment, starts the worker, waits for it and detaches.
///
/// # Safety
///
/// Must be called on a connected backend's main thread, outside a critical section;
/// it may raise an ERROR (starting the worker), which the caller must catch.
unsafe fn try_run(payload: &[u8], user: pg_sys::Oid, limit: Duration) -> Result<i64, String> {
    // SAFETY: per this function's contract. The segment is created with no resource
    // owner (put back by `_back` right after), so no aborting owner can detach it under
    // us; it is `PAYLOAD_AT + payload.len()` bytes, MAXALIGN-aligned, so the length,
    // the flag at 8 (u8) and the counter at 12 (i32, 4-aligned) are in bounds and
    // aligned, and nothing else maps it until the worker is started (after it is
    // filled). `done_flag`/`marked` references are only used before `dsm_detach`, the
    // last use of `seg`.
    unsafe {
        let seg = {
            let _back = OwnerBack(pg_sys::CurrentResourceOwner);
            pg_sys::CurrentResourceOwner = std::ptr::null_mut();
            pg_sys::dsm_create(
                PAYLOAD_AT + payload.len(),
                pg_sys::DSM_CREATE_NULL_IF_MAXSEGMENTS as i32,
            )
        };
        if seg.is_null() {
            return Err("cannot create a shared memory segment".into());
        }
        let addr = pg_sys::dsm_segment_address(seg) as *mut u8;
        std::ptr::copy_nonoverlapping(
            (payload.len() as u64).to_le_bytes().as_ptr(),
            addr.add(LEN_AT),
            8,
        );
        done_flag(addr).store(0, Ordering::Release);
        marked(addr).store(0, Ordering::Release);
        std::ptr::copy_nonoverlapping(payload.as_ptr(), addr.add(PAYLOAD_AT), payload.len());
        let handle = pg_sys::dsm_segment_handle(seg);
        let extra = format!("{} {}", u32::from(pg_sys::MyDatabaseId), u32::from(user));
        let started = BackgroundWorkerBuilder::new("bravo_metrics run-log writer")
            .set_type("bravo_metrics run-log writer")
            .set_library("bravo_metrics")
            .set_function("bravo_runlog_writer_main")
            .set_argument(Some(pg_sys::Datum::from(handle as i64)))
            .set_extra(&extra)
            .enable_spi_access()
            .set_restart_time(None)
            .set_notify_pid(pg_sys::MyProcPid)
            .load_dynamic();
        let result = match started {
            Ok(worker) => wait_bounded(worker, addr, limit)
                .map(|()| i64::from(marked(addr).load(Ordering::Acquire))),
            Err(_) => Err("no background worker slot is free (max_worker_processes)".into()),
        };
        pg_sys::dsm_detach(seg);
        result
    }
}

/// The "done" flag in a segment laid out as above.
///
/// # Safety
///
/// `addr` must be the address of a mapped segment laid out as above (at least
/// `PAYLOAD_AT` bytes, 8-aligned), and the reference must not be used after this
/// process detaches it. Both processes touch the flag through atomics only.
unsafe fn done_flag<'a>(addr: *mut u8) -> &'a AtomicU8 {
    // SAFETY: per this function's contract, `addr + DONE_AT` is in bounds of a live
    // mapping; AtomicU8 needs no alignment, and shared memory may be accessed through
    // an atomic from several processes.
    unsafe { &*(addr.add(DONE_AT) as *const AtomicU8) }
}

/// The number of rows the sweep marked.
///
/// # Safety
///
/// As for [`done_flag`].
unsafe fn marked<'a>(addr: *mut u8) -> &'a AtomicI32 {
    // SAFETY: per this function's contract, `addr + COUNT_AT` is in bounds of a live
    // mapping and 4-aligned (the segment is MAXALIGN-aligned and COUNT_AT is 12).
    unsafe { &*(addr.add(COUNT_AT) as *const AtomicI32) }
}

/// Waits until the writer has set the done flag (or stopped without setting it), at
/// most `limit`, with interrupts held: a terminate request must not cut the wait short
/// (the segment would go away before the worker read it), and the wait may run while
/// the backend exits or its transaction aborts (see [`super::exit`]). Bounded because
/// a postmaster that is shutting down starts no new worker (it drops the
/// registration: "stopped", flag unset) and a worker may wait for a lock.
///
/// # Safety
///
/// On the backend's main thread; `addr` must be the mapped segment `worker` was given,
/// attached until this returns (see [`done_flag`]).
unsafe fn wait_bounded(
    worker: DynamicBackgroundWorker,
    addr: *mut u8,
    limit: Duration,
) -> Result<(), String> {
    /// HOLD_INTERRUPTS until dropped. The drop puts back the count it found instead of
    /// decrementing: an ERROR raised in the wait sets the count to 0 (errfinish) before
    /// it unwinds through here, and a decrement would then wrap to u32::MAX (holding
    /// interrupts for good) or, with overflow checks, panic inside the unwind (abort).
    struct Held(u32);
    impl Drop for Held {
        fn drop(&mut self) {
            // SAFETY: a write of this thread's own holdoff counter, back to what it was
            // when the guard was made (what RESUME_INTERRUPTS restores in the normal case).
            unsafe { pg_sys::InterruptHoldoffCount = self.0 };
        }
    }
    // SAFETY: HOLD_INTERRUPTS on this backend's own counter; undone by `_held`.
    let _held = unsafe {
        let before = pg_sys::InterruptHoldoffCount;
        pg_sys::InterruptHoldoffCount = before + 1;
        Held(before)
    };
    let deadline = Instant::now() + limit;
    loop {
        // SAFETY: `addr` is the attached segment (this function's contract).
        if unsafe { done_flag(addr) }.load(Ordering::Acquire) == 1 {
            return Ok(());
        }
        match worker.pid() {
            // "Stopped" also covers a worker the postmaster dropped without starting it
            // (it does so during a shutdown): only the flag says the task is done.
            Err(BackgroundWorkerStatus::Stopped) => {
                // SAFETY: as above.
                return if unsafe { done_flag(addr) }.load(Ordering::Acquire) == 1 {
                    Ok(())
                } else {
                    Err("the writer worker did not write it (server shutting down, or see its log line)".into())
                };
            }
            Err(BackgroundWorkerStatus::PostmasterDied) => return Err("the postmaster died".into()),
            Err(BackgroundWorkerStatus::Untracked { .. }) => {
                return Err("the writer worker cannot be tracked".into())
            }
            Ok(_)
            | Err(BackgroundWorkerStatus::NotYetStarted)
            | Err(BackgroundWorkerStatus::Started) => {}
        }
        if Instant::now() >= deadline {
            let _ = worker.terminate();
            return Err(format!("the writer worker did not finish within {limit:?}"));
        }
        // SAFETY: on the backend's main thread; MyLatch is this process's own latch, set
        // up at process start. (pgrx's BackgroundWorker::wait_latch is for workers only
        // and uses WL_POSTMASTER_DEATH; this also runs in client backends.)
        unsafe {
            pg_sys::WaitLatch(
                pg_sys::MyLatch,
                (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
                2,
                pg_sys::PG_WAIT_EXTENSION,
            );
            pg_sys::ResetLatch(pg_sys::MyLatch);
        }
    }
}

/// Entry point of the writer worker.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn bravo_runlog_writer_main(arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGTERM);
    let extra = BackgroundWorker::get_extra().to_string();
    let mut parts = extra
        .split_whitespace()
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (db, user) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    BackgroundWorker::connect_worker_to_spi_by_oid(
        Some(pg_sys::Oid::from(db)),
        Some(pg_sys::Oid::from(user)),
    );
    // Whatever postgresql.conf says: short READ COMMITTED transactions that may write
    // (the sweep relies on READ COMMITTED re-checking rows that changed under it).
    // SAFETY: writes of this worker's own GUC variables on its main thread, between
    // transactions; both are plain ints/bools that any value in range makes valid.
    unsafe {
        pg_sys::DefaultXactIsoLevel = pg_sys::XACT_READ_COMMITTED as i32;
        pg_sys::DefaultXactReadOnly = false;
    }

    let handle = arg.value() as u32;
    // SAFETY: on the worker's main thread, connected, between transactions (so the
    // mapping belongs to no transaction's resource owner): it lasts until the explicit
    // dsm_detach below or process exit. A handle whose segment is gone
    // gives NULL, checked below.
    let seg = unsafe { pg_sys::dsm_attach(handle) };
    if seg.is_null() {
        pgrx::log!("bravo_metrics run-log writer: the record's segment is gone");
        return;
    }
    // SAFETY: `seg` is a segment attached above (non-NULL).
    let (addr, size) = unsafe {
        (
            pg_sys::dsm_segment_address(seg) as *mut u8,
            pg_sys::dsm_segment_map_length(seg),
        )
    };
    // SAFETY: the mapping is `size` bytes from `addr` and stays attached while read; the
    // length word is read only when the header fits, and the payload slice only when the
    // length it gives fits in the mapping (a handle reused by some other segment, or a
    // corrupt length, gives no task instead of a read past the end). The creator wrote
    // all of it before starting this worker, and nobody writes it afterwards except the
    // atomics at 8 and 12, which are outside the slices read here.
    let task: Option<Task> = unsafe {
        if size < PAYLOAD_AT {
            None
        } else {
            let mut len = [0u8; 8];
            std::ptr::copy_nonoverlapping(addr.add(LEN_AT), len.as_mut_ptr(), 8);
            let len = u64::from_le_bytes(len);
            usize::try_from(len)
                .ok()
                .filter(|&len| len <= size - PAYLOAD_AT)
                .and_then(|len| {
                    serde_json::from_slice(std::slice::from_raw_parts(addr.add(PAYLOAD_AT), len))
                        .ok()
                })
        }
    };
    let Some(task) = task else {
        pgrx::log!("bravo_metrics run-log writer: no task");
        // SAFETY: `seg` is attached, and `addr` is not used after this.
        unsafe { pg_sys::dsm_detach(seg) };
        return;
    };
    if let Some(rec) = &task.record {
        let written = txn::in_transaction(|| {
            // search_path is already pg_catalog, pg_temp (txn::in_transaction).
            let _ = Spi::run("SET LOCAL lock_timeout = '10s'");
            let _ = Spi::run("SET LOCAL statement_timeout = '30s'");
            let schema = super::log_schema()?;
            let written = super::upsert(&schema, rec, Overwrite::OnlyRunning)?;
            if rec.status.is_finished() {
                super::prune(&schema)?;
            }
            // A run that merged nothing: tell the listeners (delivered at this commit).
            if written
                && matches!(
                    rec.status,
                    RunStatus::Failed | RunStatus::Cancelled | RunStatus::RolledBack
                )
            {
                super::notify::send(rec)?;
            }
            Ok::<bool, crate::error::BravoError>(written)
        });
        match written {
            // Committed (in_transaction returns after the commit): tell the caller.
            Ok(Ok(w)) => {
                if !w {
                    pgrx::debug1!(
                        "bravo_metrics run-log writer: run {} is already finished; {} not recorded over it",
                        rec.run_id,
                        rec.status
                    );
                }
                // SAFETY: `addr` is the attached segment, at least PAYLOAD_AT bytes (checked
                // when the task was read).
                unsafe { done_flag(addr).store(1, Ordering::Release) };
            }
            Ok(Err(e)) => pgrx::warning!(
                "bravo_metrics run-log writer: run {}: {}",
                rec.run_id,
                e.message
            ),
            Err(message) => pgrx::warning!(
                "bravo_metrics run-log writer: run {}: {message}",
                rec.run_id
            ),
        }
    }
    if let Some(x) = &task.export {
        let written = txn::in_transaction(|| {
            let _ = Spi::run("SET LOCAL lock_timeout = '10s'");
            let _ = Spi::run("SET LOCAL statement_timeout = '30s'");
            super::export_record::upsert(&super::log_schema()?, x)
        });
        match written {
            // SAFETY: as above.
            Ok(Ok(())) => unsafe { done_flag(addr).store(1, Ordering::Release) },
            Ok(Err(e)) => pgrx::warning!(
                "bravo_metrics run-log writer: export {}: {}",
                x.export_id,
                e.message
            ),
            Err(message) => pgrx::warning!(
                "bravo_metrics run-log writer: export {}: {message}",
                x.export_id
            ),
        }
    }
    if task.sweep {
        match txn::in_transaction(|| super::stale::sweep_here(task.exclude)) {
            // SAFETY: as above.
            Ok(Ok(n)) => unsafe { marked(addr).store(n as i32, Ordering::Release) },
            Ok(Err(e)) => pgrx::warning!("bravo_metrics run-log writer: {}", e.message),
            Err(message) => pgrx::warning!("bravo_metrics run-log writer: {message}"),
        }
        if task.record.is_none() {
            // SAFETY: as above.
            unsafe { done_flag(addr).store(1, Ordering::Release) };
        }
    }
    // SAFETY: `seg` is attached, and `addr` is not used after this.
    unsafe { pg_sys::dsm_detach(seg) };
}
