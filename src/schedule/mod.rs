//! Scheduling: the scheduler background worker, `bravo_run_now()` and
//! `bravo_schedule_status()`. The decisions (cron expressions, time zones, next run,
//! retries with backoff, catch-up, connection backoff, the texts of refusals) are
//! pure and live in `bravo_core::schedule`.
//!
//! * `worker`   — the static worker (needs `shared_preload_libraries`).
//! * `run_now`  — a sync started now in a dynamic worker (works without preload).
//! * `exec`     — one scheduled / run-now sync through `sync::run`, recorded.
//! * `status`   — `bravo_schedule_status()`.
//! * `shared`   — what the worker publishes in shared memory.
//! * `conffile` — what the configuration files ask for (values PostgreSQL refused).

pub mod conffile;
pub mod exec;
pub mod run_now;
pub mod shared;
pub mod status;
pub mod worker;

use pgrx::pg_sys;

/// Called at the end of `_PG_init`: when the library is being preloaded, reserve the
/// shared memory and register the scheduler worker. Otherwise nothing: everything but
/// the scheduler works without preloading.
pub fn init() {
    // SAFETY: a read of a postmaster flag, in _PG_init on the backend thread.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        shared::init();
        worker::register();
    }
}
