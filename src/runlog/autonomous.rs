//! Writing a run record in a transaction of its own.
//!
//! PostgreSQL has no autonomous transactions, so a failed sync hands its record to a
//! dynamic background worker: the record (JSON) goes into a dynamic shared memory
//! segment, the worker attaches, inserts it as the same user in the same database,
//! commits and exits; the caller waits for it (bounded). This needs no
//! `shared_preload_libraries`, only a free `max_worker_processes` slot. The worker
//! sets a flag in the segment once the record is committed; if no worker can start
//! (no free slot, a server shutting down) the record goes to the server log as a
//! WARNING instead.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BackgroundWorkerStatus, DynamicBackgroundWorker,
    SignalWakeFlags,
};
use pgrx::prelude::*;

use super::RunRecord;

/// Hands `rec` to a writer worker and waits for it to finish (at most 5 s).
pub fn write(rec: &RunRecord) {
    write_within(rec, Duration::from_secs(5))
}

/// [`write`], waiting at most `limit` for the worker.
pub fn write_within(rec: &RunRecord, limit: Duration) {
    if let Err(why) = try_write(rec, limit) {
        pgrx::warning!(
            "bravo_metrics: could not record run {} ({}) in bravo_sync_runs: {why}; status {}, sqlstate {}, message: {}",
            rec.run_id,
            rec.trigger,
            rec.status,
            rec.sqlstate.as_deref().unwrap_or("-"),
            rec.message.as_deref().unwrap_or("-")
        );
    }
}

/// The segment: the payload length (u64, little-endian), a flag the worker sets once
/// the record is committed, padding, then the payload (JSON).
const LEN_AT: usize = 0;
const DONE_AT: usize = 8;
const PAYLOAD_AT: usize = 16;

fn try_write(rec: &RunRecord, limit: Duration) -> Result<(), String> {
    let payload = serde_json::to_vec(rec).map_err(|e| e.to_string())?;
    unsafe {
        let seg = pg_sys::dsm_create(PAYLOAD_AT + payload.len(), 0);
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
        std::ptr::copy_nonoverlapping(payload.as_ptr(), addr.add(PAYLOAD_AT), payload.len());
        let handle = pg_sys::dsm_segment_handle(seg);
        let extra = format!(
            "{} {}",
            u32::from(pg_sys::MyDatabaseId),
            u32::from(pg_sys::GetUserId())
        );
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
            // "Stopped" also covers a worker the postmaster dropped without starting it
            // (it does so during a shutdown): only the flag says the record is written.
            Ok(worker) => wait_bounded(worker, limit).and_then(|()| {
                if done_flag(addr).load(Ordering::Acquire) == 1 {
                    Ok(())
                } else {
                    Err("the writer worker did not write it (server shutting down, or see its log line)".into())
                }
            }),
            Err(_) => Err("no background worker slot is free (max_worker_processes)".into()),
        };
        pg_sys::dsm_detach(seg);
        result
    }
}

/// The "committed" flag in a segment laid out as above.
unsafe fn done_flag<'a>(addr: *mut u8) -> &'a AtomicU8 {
    unsafe { &*(addr.add(DONE_AT) as *const AtomicU8) }
}

/// Waits until the writer has finished, at most `limit`, with interrupts held: a
/// terminate request must not cut the wait short (the segment would go away before
/// the worker read it), and the wait may run while the backend exits (see
/// [`super::exit`]). Bounded because a postmaster that is shutting down starts no
/// new worker; the registration is then withdrawn.
unsafe fn wait_bounded(worker: DynamicBackgroundWorker, limit: Duration) -> Result<(), String> {
    struct Held;
    impl Drop for Held {
        fn drop(&mut self) {
            unsafe { pg_sys::InterruptHoldoffCount -= 1 };
        }
    }
    unsafe { pg_sys::InterruptHoldoffCount += 1 };
    let _held = Held;
    let deadline = Instant::now() + limit;
    loop {
        match worker.pid() {
            Err(BackgroundWorkerStatus::Stopped) => return Ok(()),
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
        unsafe {
            pg_sys::WaitLatch(
                pg_sys::MyLatch,
                (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
                10,
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

    let handle = arg.value() as u32;
    let seg = unsafe { pg_sys::dsm_attach(handle) };
    if seg.is_null() {
        pgrx::log!("bravo_metrics run-log writer: the record's segment is gone");
        return;
    }
    let addr = unsafe { pg_sys::dsm_segment_address(seg) as *mut u8 };
    let rec: Option<RunRecord> = unsafe {
        let mut len = [0u8; 8];
        std::ptr::copy_nonoverlapping(addr.add(LEN_AT), len.as_mut_ptr(), 8);
        let len = u64::from_le_bytes(len) as usize;
        serde_json::from_slice(std::slice::from_raw_parts(addr.add(PAYLOAD_AT), len)).ok()
    };
    let Some(rec) = rec else {
        pgrx::log!("bravo_metrics run-log writer: no record to write");
        unsafe { pg_sys::dsm_detach(seg) };
        return;
    };
    let written = BackgroundWorker::transaction(|| {
        let _ = Spi::run("SET LOCAL lock_timeout = '10s'");
        let _ = Spi::run("SET LOCAL statement_timeout = '30s'");
        match super::ext_schema().and_then(|schema| super::insert(&schema, &rec)) {
            Ok(()) => true,
            Err(e) => {
                pgrx::warning!(
                    "bravo_metrics run-log writer: run {}: {}",
                    rec.run_id,
                    e.message
                );
                false
            }
        }
    });
    // Committed (transaction() returns after the commit): tell the caller.
    if written {
        unsafe { done_flag(addr).store(1, Ordering::Release) };
    }
    unsafe { pg_sys::dsm_detach(seg) };
}
