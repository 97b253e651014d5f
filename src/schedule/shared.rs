//! What the scheduler worker publishes for `bravo_schedule_status()`, in shared memory:
//! the next run's time and kind, and the schedule in force and why a configured value
//! was refused. Shared memory exists only when the library is in
//! `shared_preload_libraries`; without it every reader sees "not loaded".

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgAtomic, PgLwLock};

use super::plan::{Due, Kind};

/// Set in the postmaster when the library is preloaded; inherited by every backend.
static PRELOADED: AtomicBool = AtomicBool::new(false);

/// Unix microseconds of the next run; 0 = none.
static NEXT_RUN_US: PgAtomic<AtomicI64> = unsafe { PgAtomic::new(c"bravo_metrics.next_run_us") };
/// [`Kind::code`] of the next run; 0 = none.
static NEXT_KIND: PgAtomic<AtomicI32> = unsafe { PgAtomic::new(c"bravo_metrics.next_kind") };

static TEXTS: PgLwLock<Texts> = unsafe { PgLwLock::new(c"bravo_metrics.scheduler_texts") };

/// A string in shared memory, truncated to `N` bytes at a character boundary.
#[derive(Clone, Copy)]
#[repr(C)]
struct Fixed<const N: usize> {
    len: u32,
    bytes: [u8; N],
}

impl<const N: usize> Fixed<N> {
    const EMPTY: Self = Fixed {
        len: 0,
        bytes: [0; N],
    };

    fn set(&mut self, s: &str) {
        let mut n = s.len().min(N);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.bytes[..n].copy_from_slice(&s.as_bytes()[..n]);
        self.len = n as u32;
    }

    fn get(&self) -> String {
        String::from_utf8_lossy(&self.bytes[..self.len as usize]).into_owned()
    }
}

#[derive(Clone, Copy)]
#[repr(C)]
struct Texts {
    /// The worker has published its schedule (since the server started).
    published: bool,
    /// A schedule is in force.
    has_schedule: bool,
    schedule: Fixed<256>,
    zone: Fixed<64>,
    /// Why the configured schedule is refused, with what to do; empty = nothing wrong.
    schedule_hint: Fixed<2048>,
}

unsafe impl PGRXSharedMemory for Texts {}

impl Texts {
    const fn new() -> Texts {
        Texts {
            published: false,
            has_schedule: false,
            schedule: Fixed::EMPTY,
            zone: Fixed::EMPTY,
            schedule_hint: Fixed::EMPTY,
        }
    }
}

/// Requests the shared memory; called from `_PG_init` while preloading only.
#[allow(unexpected_cfgs)] // pg_shmem_init! tests pgrx's pg13..pg18 features in our crate
pub fn init() {
    pg_shmem_init!(NEXT_RUN_US);
    pg_shmem_init!(NEXT_KIND);
    pg_shmem_init!(TEXTS = Texts::new());
    PRELOADED.store(true, Ordering::SeqCst);
}

pub fn preloaded() -> bool {
    PRELOADED.load(Ordering::SeqCst)
}

fn to_time(us: i64) -> Option<DateTime<Utc>> {
    (us != 0)
        .then(|| DateTime::from_timestamp_micros(us))
        .flatten()
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
    to_time(us).map(|t| (t, kind))
}

/// The schedule the worker runs, as it published it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleState {
    /// (cron expression, time zone) in force; `None`: no valid schedule, nothing runs.
    pub in_force: Option<(String, String)>,
    /// Why the configured value is refused and how to fix it.
    pub hint: Option<String>,
}

/// Publishes the schedule in force (expression, time zone) and the refusal hint.
pub fn publish_schedule(in_force: Option<(&str, &str)>, hint: Option<&str>) {
    if !preloaded() {
        return;
    }
    let mut t = TEXTS.exclusive();
    t.published = true;
    t.has_schedule = in_force.is_some();
    let (expr, zone) = in_force.unwrap_or(("", ""));
    t.schedule.set(expr);
    t.zone.set(zone);
    t.schedule_hint.set(hint.unwrap_or(""));
}

/// The published schedule; `None` until the worker has published one.
pub fn schedule_state() -> Option<ScheduleState> {
    if !preloaded() {
        return None;
    }
    let t = TEXTS.share();
    if !t.published {
        return None;
    }
    let hint = t.schedule_hint.get();
    Some(ScheduleState {
        in_force: t.has_schedule.then(|| (t.schedule.get(), t.zone.get())),
        hint: (!hint.is_empty()).then_some(hint),
    })
}
