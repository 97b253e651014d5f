//! What the scheduler worker publishes for `bravo_schedule_status()`, in shared memory:
//! the next run's time and kind, the schedule in force and why a configured value was
//! refused, and how its connection attempts to `scheduler_database` went (they outlive
//! the worker process: a failed attempt ends it with FATAL, and the next process reads
//! them to back off). Shared memory exists only when the library is in
//! `shared_preload_libraries`; without it every reader sees "not loaded".

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use pgrx::prelude::*;
use pgrx::{pg_shmem_init, PGRXSharedMemory, PgAtomic, PgLwLock};

use bravo_core::schedule::plan::{Due, Kind};

/// Set in the postmaster when the library is preloaded; inherited by every backend.
static PRELOADED: AtomicBool = AtomicBool::new(false);

// SAFETY (the six PgAtomic::new and the PgLwLock::new below): each shared memory name is
// unique, under the reserved `bravo_metrics.` prefix, and used by no other static; the
// values are only reached through `get()`/`share()`/`exclusive()` after `preloaded()`,
// that is after `init` asked for them and pgrx initialised them in shmem_startup under
// AddinShmemInitLock.

/// Unix microseconds of the next run; 0 = none.
// SAFETY: see above.
static NEXT_RUN_US: PgAtomic<AtomicI64> = unsafe { PgAtomic::new(c"bravo_metrics.next_run_us") };
/// [`Kind::code`] of the next run; 0 = none.
// SAFETY: see above.
static NEXT_KIND: PgAtomic<AtomicI32> = unsafe { PgAtomic::new(c"bravo_metrics.next_kind") };

/// [`Conn`] code of the latest connection attempt.
// SAFETY: see above.
static CONN_STATE: PgAtomic<AtomicI32> = unsafe { PgAtomic::new(c"bravo_metrics.conn_state") };
/// Failed connection attempts in a row to `Texts::conn_db`.
// SAFETY: see above.
static CONN_FAILURES: PgAtomic<AtomicI32> =
    unsafe { PgAtomic::new(c"bravo_metrics.conn_failures") };
/// Unix microseconds of the latest failed attempt; 0 = none.
// SAFETY: see above.
static CONN_FAILED_US: PgAtomic<AtomicI64> =
    unsafe { PgAtomic::new(c"bravo_metrics.conn_failed_us") };
/// Unix microseconds of the next attempt while backing off; 0 = none planned.
// SAFETY: see above.
static CONN_NEXT_US: PgAtomic<AtomicI64> = unsafe { PgAtomic::new(c"bravo_metrics.conn_next_us") };

// SAFETY: see above.
static TEXTS: PgLwLock<Texts> = unsafe { PgLwLock::new(c"bravo_metrics.scheduler_texts") };

/// Where the worker's connection to `scheduler_database` stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conn {
    /// No attempt yet.
    None,
    Connecting,
    Connected,
    /// The latest attempt failed (the process ended); the next process backs off.
    Failed,
    /// Backing off before the next attempt.
    Waiting,
}

impl Conn {
    fn code(self) -> i32 {
        match self {
            Conn::None => 0,
            Conn::Connecting => 1,
            Conn::Connected => 2,
            Conn::Failed => 3,
            Conn::Waiting => 4,
        }
    }

    fn from_code(c: i32) -> Conn {
        match c {
            1 => Conn::Connecting,
            2 => Conn::Connected,
            3 => Conn::Failed,
            4 => Conn::Waiting,
            _ => Conn::None,
        }
    }
}

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

    fn is(&self, s: &str) -> bool {
        self.bytes[..self.len as usize] == *s.as_bytes()
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
    /// The database of the latest connection attempt.
    conn_db: Fixed<64>,
    /// The error that ended the latest failed attempt.
    conn_error: Fixed<512>,
    /// The (database, error) of the latest WARNING about a failed attempt.
    warned: Fixed<600>,
}

// SAFETY: `Texts` is `repr(C)` and `Copy`, made of bools, integers and byte arrays only
// (no pointers, nothing process-local), so every process that maps the segment reads
// the same valid value; `Fixed::get`/`is` bound `len` by `N` through slicing (a bad
// length panics, never reads out of bounds), and every access holds the LWLock.
unsafe impl PGRXSharedMemory for Texts {}

impl Texts {
    const fn new() -> Texts {
        Texts {
            published: false,
            has_schedule: false,
            schedule: Fixed::EMPTY,
            zone: Fixed::EMPTY,
            schedule_hint: Fixed::EMPTY,
            conn_db: Fixed::EMPTY,
            conn_error: Fixed::EMPTY,
            warned: Fixed::EMPTY,
        }
    }
}

/// Requests the shared memory; called from `_PG_init` while preloading only.
#[allow(unexpected_cfgs)] // pg_shmem_init! tests pgrx's pg13..pg18 features in our crate
pub fn init() {
    pg_shmem_init!(NEXT_RUN_US);
    pg_shmem_init!(NEXT_KIND);
    pg_shmem_init!(CONN_STATE);
    pg_shmem_init!(CONN_FAILURES);
    pg_shmem_init!(CONN_FAILED_US);
    pg_shmem_init!(CONN_NEXT_US);
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

/// The connection attempts to one database, as published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnView {
    pub database: String,
    pub state: Conn,
    /// Failed attempts in a row.
    pub failures: i32,
    pub last_failure: Option<DateTime<Utc>>,
    pub next_attempt: Option<DateTime<Utc>>,
    /// The error that ended the latest failed attempt, when it was caught.
    pub error: Option<String>,
}

/// The published connection attempts (`None` without preload).
pub fn conn_view() -> Option<ConnView> {
    if !preloaded() {
        return None;
    }
    let t = TEXTS.share();
    let error = t.conn_error.get();
    Some(ConnView {
        database: t.conn_db.get(),
        state: Conn::from_code(CONN_STATE.get().load(Ordering::SeqCst)),
        failures: CONN_FAILURES.get().load(Ordering::SeqCst),
        last_failure: to_time(CONN_FAILED_US.get().load(Ordering::SeqCst)),
        next_attempt: to_time(CONN_NEXT_US.get().load(Ordering::SeqCst)),
        error: (!error.is_empty()).then_some(error),
    })
}

/// The failed attempts to `db` that the latest ones were, if they failed.
pub fn previous_failures(db: &str) -> Option<ConnView> {
    conn_view().filter(|v| {
        v.database == db && v.failures > 0 && matches!(v.state, Conn::Failed | Conn::Waiting)
    })
}

/// An attempt to connect to `db` begins. A different database starts a new count.
pub fn conn_begin(db: &str) {
    if !preloaded() {
        return;
    }
    let mut t = TEXTS.exclusive();
    if !t.conn_db.is(db) {
        t.conn_db.set(db);
        t.conn_error.set("");
        CONN_FAILURES.get().store(0, Ordering::SeqCst);
        CONN_FAILED_US.get().store(0, Ordering::SeqCst);
    }
    CONN_NEXT_US.get().store(0, Ordering::SeqCst);
    CONN_STATE
        .get()
        .store(Conn::Connecting.code(), Ordering::SeqCst);
}

/// The attempt in progress failed (called on the way out of the process).
pub fn conn_failed(error: Option<&str>) {
    if !preloaded() || CONN_STATE.get().load(Ordering::SeqCst) != Conn::Connecting.code() {
        return;
    }
    if let Some(e) = error {
        TEXTS.exclusive().conn_error.set(e);
    }
    CONN_FAILURES.get().fetch_add(1, Ordering::SeqCst);
    CONN_FAILED_US
        .get()
        .store(Utc::now().timestamp_micros(), Ordering::SeqCst);
    CONN_STATE
        .get()
        .store(Conn::Failed.code(), Ordering::SeqCst);
}

/// Backing off until `until` before the next attempt.
pub fn conn_waiting(until: DateTime<Utc>) {
    if !preloaded() {
        return;
    }
    CONN_NEXT_US
        .get()
        .store(until.timestamp_micros(), Ordering::SeqCst);
    CONN_STATE
        .get()
        .store(Conn::Waiting.code(), Ordering::SeqCst);
}

/// The attempt in progress succeeded.
pub fn conn_ok() {
    if !preloaded() {
        return;
    }
    let mut t = TEXTS.exclusive();
    t.conn_error.set("");
    t.warned.set("");
    CONN_FAILURES.get().store(0, Ordering::SeqCst);
    CONN_NEXT_US.get().store(0, Ordering::SeqCst);
    CONN_STATE
        .get()
        .store(Conn::Connected.code(), Ordering::SeqCst);
}

/// True the first time it is asked about this (database, error): one WARNING per
/// distinct failure, however many processes in a row run into it.
pub fn first_warning(db: &str, error: &str) -> bool {
    if !preloaded() {
        return true;
    }
    let key = format!("{db}\n{error}");
    let mut t = TEXTS.exclusive();
    if t.warned.is(&key) {
        return false;
    }
    t.warned.set(&key);
    true
}
