//! Scheduling: cron expressions and time zones, the scheduler background worker,
//! `bravo_run_now()` and `bravo_schedule_status()`.
//!
//! * `plan`     — pure decisions: next run, retries with backoff, catch-up, connection
//!   backoff, the texts of refusals.
//! * `worker`   — the static worker (needs `shared_preload_libraries`).
//! * `run_now`  — a sync started now in a dynamic worker (works without preload).
//! * `exec`     — one scheduled / run-now sync through `sync::run`, recorded.
//! * `status`   — `bravo_schedule_status()`.
//! * `shared`   — what the worker publishes in shared memory.
//! * `conffile` — what the configuration files ask for (values PostgreSQL refused).
//! * `txn`      — worker transactions that survive errors.

pub mod conffile;
pub mod cron;
pub mod exec;
pub mod plan;
pub mod run_now;
pub mod shared;
pub mod status;
pub mod txn;
pub mod worker;
pub mod zone;

use std::ffi::CString;

use pgrx::pg_sys;

/// Called at the end of `_PG_init`: when the library is being preloaded, reserve the
/// shared memory and register the scheduler worker. Otherwise nothing: everything but
/// the scheduler works without preloading.
pub fn init() {
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        shared::init();
        worker::register();
    }
}

/// `bravo_metrics.schedule`: the check of its hook and of the worker alike.
pub fn check_schedule_value(v: &str) -> Result<(), String> {
    cron::parse(v).map(|_| ())
}

/// `bravo_metrics.schedule_time_zone`: empty (= UTC) or an IANA name.
pub fn check_zone_value(v: &str) -> Result<(), String> {
    if v.trim().is_empty() {
        return Ok(());
    }
    zone::parse_iana(v).map(|_| ())
}

/// `bravo_metrics.scheduler_database`: an unknown database is refused where it can be
/// looked up and where refusing is meant — a client backend running `ALTER SYSTEM` (in
/// a transaction, connected to a database). Elsewhere the value is accepted: the
/// postmaster and every process reading the files at startup or on a reload have no
/// transaction; a parallel worker re-checks its leader's values and must not fail on
/// them; other background processes only follow the files. The scheduler itself copes
/// with a database it cannot connect to (see `worker::connect`).
pub fn check_database_value(v: &str) -> Result<(), (String, String)> {
    let name = v.trim();
    let lookup = unsafe {
        pg_sys::IsTransactionState()
            && pg_sys::MyDatabaseId != pg_sys::InvalidOid
            && pg_sys::ParallelWorkerNumber < 0
            && pg_sys::MyBackendType == pg_sys::BackendType::B_BACKEND
    };
    if name.is_empty() || !lookup {
        return Ok(());
    }
    if database_exists(name) {
        return Ok(());
    }
    Err((
        format!("database \"{name}\" does not exist."),
        "Name a database listed by SELECT datname FROM pg_catalog.pg_database, or create it first (CREATE DATABASE ...; then CREATE EXTENSION bravo_metrics in it).".to_string(),
    ))
}

/// Is there a database of this name? (Needs a transaction.)
pub fn database_exists(name: &str) -> bool {
    let Ok(c) = CString::new(name) else {
        return false;
    };
    unsafe { pg_sys::get_database_oid(c.as_ptr(), true) != pg_sys::InvalidOid }
}
