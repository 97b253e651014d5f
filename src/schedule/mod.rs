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
