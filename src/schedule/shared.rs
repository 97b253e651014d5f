//! What the scheduler worker publishes for `bravo_schedule_status()`: the next run's
//! time and kind, in shared memory. Shared memory exists only when the library is in
//! `shared_preload_libraries`; without it every reader sees "not loaded".

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PgAtomic};

use super::plan::{Due, Kind};

/// Set in the postmaster when the library is preloaded; inherited by every backend.
static PRELOADED: AtomicBool = AtomicBool::new(false);

/// Unix microseconds of the next run; 0 = none.
static NEXT_RUN_US: PgAtomic<AtomicI64> = unsafe { PgAtomic::new(c"bravo_metrics.next_run_us") };
/// [`Kind::code`] of the next run; 0 = none.
static NEXT_KIND: PgAtomic<AtomicI32> = unsafe { PgAtomic::new(c"bravo_metrics.next_kind") };

/// Requests the shared memory; called from `_PG_init` while preloading only.
#[allow(unexpected_cfgs)] // pg_shmem_init! tests pgrx's pg13..pg18 features in our crate
pub fn init() {
    pg_shmem_init!(NEXT_RUN_US);
    pg_shmem_init!(NEXT_KIND);
    PRELOADED.store(true, Ordering::SeqCst);
}

pub fn preloaded() -> bool {
    PRELOADED.load(Ordering::SeqCst)
}

/// Publishes the next run (or none).
pub fn publish(due: Option<Due>) {
    if !preloaded() {
        return;
    }
    let (us, kind) = match due {
        Some(d) => (d.at.timestamp_micros(), d.kind.code()),
        None => (0, 0),
    };
    NEXT_KIND.get().store(kind, Ordering::SeqCst);
    NEXT_RUN_US.get().store(us, Ordering::SeqCst);
}

/// The published next run, if the worker published one.
pub fn next_run() -> Option<(DateTime<Utc>, Kind)> {
    if !preloaded() {
        return None;
    }
    let us = NEXT_RUN_US.get().load(Ordering::SeqCst);
    let kind = Kind::from_code(NEXT_KIND.get().load(Ordering::SeqCst))?;
    if us == 0 {
        return None;
    }
    DateTime::from_timestamp_micros(us).map(|t| (t, kind))
}
