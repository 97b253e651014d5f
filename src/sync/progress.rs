//! Live progress of a running sync, visible from other sessions.
//!
//! PostgreSQL's command-progress slots (the ones behind `pg_stat_progress_*`) are
//! per-backend shared memory that every session can read and that needs no
//! `shared_preload_libraries`. A sync claims its backend's slot under a command number
//! of its own ([`COMMAND`], which no PostgreSQL 15 command uses, so no
//! `pg_stat_progress_*` view shows it) with the run-log table's OID as its relation;
//! [`running`] reads the slots back (what `bravo._bravo_sync_progress_info()` returns
//! and the view `bravo_sync_progress` decodes). NOTICEs are sent at most every
//! `bravo_metrics.progress_interval` ms.

use std::time::Instant;

use pgrx::prelude::*;

use crate::settings;

pub const P_RUN_ID: i32 = 0;
pub const P_PHASE: i32 = 1;
pub const P_TARGET: i32 = 2;
pub const P_FETCHED: i32 = 3;
pub const P_COMPARED: i32 = 4;
pub const P_SET_ASIDE: i32 = 5;
pub const P_INSERTED: i32 = 6;
pub const P_UPDATED: i32 = 7;
pub const P_DELETED: i32 = 8;
pub const P_STARTED_MS: i32 = 9;
pub const P_TOTAL: i32 = 10;
/// 0: a sync of the daily families, 1: of the hourly ones (`P_TARGET` counts among those).
pub const P_GRAIN: i32 = 11;

/// Phases, in order; the numbers are what `bravo_sync_progress` decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Connecting = 1,
    Fetching = 2,
    Merging = 3,
    Finishing = 4,
}

/// How many of the slot's parameters a sync uses (`P_RUN_ID` ..= `P_GRAIN`).
const N_PARAMS: usize = 12;

/// The progress command number of a sync: not one of PostgreSQL's
/// (`ProgressCommandType` ends at `PROGRESS_COMMAND_COPY` = 6), so
/// `pg_stat_get_progress_info()` and the `pg_stat_progress_*` views never list it.
pub const COMMAND: pg_sys::ProgressCommandType::Type = 0x4272;

/// The default role whose members see every backend's statistics.
const PG_READ_ALL_STATS: pg_sys::Oid = pg_sys::Oid::from_u32(3375);

/// One running sync's slot: its backend's pid, the relation it claimed (the run log)
/// and its parameters.
pub struct Slot {
    pub pid: i32,
    pub relid: pg_sys::Oid,
    pub params: [i64; N_PARAMS],
}

/// Every backend's sync progress slot, as `pg_stat_get_progress_info` reads the COPY
/// ones: the parameters only of the current user's own backends (or any, for a
/// member of `pg_read_all_stats`), zeros otherwise.
pub fn running() -> Vec<Slot> {
    let mut out = Vec::new();
    // SAFETY: reads of this backend's statistics snapshot: the count and each entry
    // come from the local copy pgstat takes at the first call in the transaction
    // (pgstat_read_current_status), valid until the transaction ends; entries are
    // copied out before returning; GetUserId and has_privs_of_role only read catalogs.
    unsafe {
        let me = pg_sys::GetUserId();
        let all = pg_sys::has_privs_of_role(me, PG_READ_ALL_STATS);
        let n = pg_sys::pgstat_fetch_stat_numbackends();
        for i in 1..=n {
            let local = pg_sys::pgstat_fetch_stat_local_beentry(i);
            if local.is_null() {
                continue;
            }
            let be = &(*local).backendStatus;
            if be.st_progress_command != COMMAND {
                continue;
            }
            let visible = all || pg_sys::has_privs_of_role(me, be.st_userid);
            let mut params = [0i64; N_PARAMS];
            if visible {
                params.copy_from_slice(&be.st_progress_param[..N_PARAMS]);
            }
            out.push(Slot {
                pid: be.st_procpid,
                relid: be.st_progress_command_target,
                params,
            });
        }
    }
    out
}

/// The slots for SQL (`bravo._bravo_sync_progress_info()`, behind the view
/// `bravo_sync_progress`): pid, relation, parameters 1..12.
#[pg_extern(volatile, parallel_restricted)]
#[allow(clippy::type_complexity)]
fn _bravo_sync_progress_info() -> TableIterator<
    'static,
    (
        name!(pid, i32),
        name!(relid, pg_sys::Oid),
        name!(params, Vec<i64>),
    ),
> {
    TableIterator::new(
        running()
            .into_iter()
            .map(|s| (s.pid, s.relid, s.params.to_vec())),
    )
}

pub struct Progress {
    relid: pg_sys::Oid,
    /// The sync's values of every parameter, rewritten by [`Progress::refresh`].
    values: [i64; N_PARAMS],
    last_notice: Instant,
    interval_ms: u128,
}

impl Progress {
    pub fn start(run_id: i64, relid: pg_sys::Oid, started_unix_ms: i64) -> Self {
        let mut p = Progress {
            relid,
            values: [0; N_PARAMS],
            last_notice: Instant::now(),
            interval_ms: settings::PROGRESS_INTERVAL_MS.get().max(0) as u128,
        };
        p.claim();
        p.set(P_RUN_ID, run_id);
        p.set(P_STARTED_MS, started_unix_ms);
        p
    }

    /// (Re)claims the progress slot (which zeroes its parameters).
    fn claim(&self) {
        // SAFETY: called in a backend (MyBEEntry exists); `relid` is a plain oid.
        unsafe { pg_sys::pgstat_progress_start_command(COMMAND, self.relid) };
    }

    /// Whether the slot still shows this sync's command.
    fn owned(&self) -> bool {
        // SAFETY: MyBEEntry is this backend's own status entry (or null before it has
        // one); only this backend writes it, so reading it here is not racy.
        unsafe {
            let entry = pg_sys::MyBEEntry;
            !entry.is_null()
                && (*entry).st_progress_command == COMMAND
                && (*entry).st_progress_command_target == self.relid
        }
    }

    pub fn set(&mut self, index: i32, value: i64) {
        self.values[index as usize] = value;
        // SAFETY: updates a slot of this backend's own progress entry; `index` is one of
        // the P_* constants, all below PGSTAT_NUM_PROGRESS_PARAM.
        unsafe { pg_sys::pgstat_progress_update_param(index, value) };
    }

    /// Makes the slot this sync's again and rewrites every parameter. The sync's own
    /// statements share the slot: an index build (a temporary table's primary key)
    /// writes its phase and tuple counts into parameters 10 to 12 whatever command
    /// holds it, and a utility command may end it.
    pub fn refresh(&self) {
        if !self.owned() {
            self.claim();
        }
        let index: [i32; N_PARAMS] = std::array::from_fn(|i| i as i32);
        // SAFETY: both arrays hold N_PARAMS elements, below PGSTAT_NUM_PROGRESS_PARAM;
        // the entry is this backend's own.
        unsafe {
            pg_sys::pgstat_progress_update_multi_param(
                N_PARAMS as i32,
                index.as_ptr(),
                self.values.as_ptr(),
            )
        };
    }

    pub fn phase(&mut self, phase: Phase, target_index: i64) {
        self.values[P_PHASE as usize] = phase as i64;
        self.values[P_TARGET as usize] = target_index;
        self.refresh();
    }

    /// Sends a NOTICE if the interval has passed (or `force`).
    pub fn notice(&mut self, force: bool, text: impl FnOnce() -> String) {
        if self.interval_ms == 0 {
            return;
        }
        if force || self.last_notice.elapsed().as_millis() >= self.interval_ms {
            self.last_notice = Instant::now();
            pgrx::notice!("bravo_sync: {}", text());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // SAFETY: ends this backend's progress reporting; harmless when none is active.
        unsafe { pg_sys::pgstat_progress_end_command() };
    }
}
