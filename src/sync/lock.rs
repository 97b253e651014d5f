//! One sync at a time, across manual calls, run-now and the scheduler: a
//! transaction-level advisory lock, released when the sync's transaction ends (so a
//! waiter sees the committed data).

use pgrx::prelude::*;

use crate::error::BravoError;

/// Advisory lock key: the two halves spell "bravo" / "sync".
const KEY1: i32 = 0x6272_6176;
const KEY2: i32 = 0x7379_6e63;

/// Who holds the lock right now.
#[derive(Debug, Clone)]
pub struct Holder {
    pub pid: i32,
    pub since: Option<String>,
    pub run_id: Option<i64>,
}

pub fn try_lock() -> bool {
    Spi::get_one_with_args::<bool>(
        "SELECT pg_catalog.pg_try_advisory_xact_lock($1, $2)",
        &[KEY1.into(), KEY2.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// Waits for the lock; cancellable like any lock wait.
pub fn lock() -> Result<(), BravoError> {
    Spi::run_with_args(
        "SELECT pg_catalog.pg_advisory_xact_lock($1, $2)",
        &[KEY1.into(), KEY2.into()],
    )
    .map_err(|e| BravoError::new(PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE, format!("{e}")))
}

/// Finds the backend holding the sync lock.
pub fn holder() -> Option<Holder> {
    let row = Spi::get_two_with_args::<i32, String>(
        "SELECT l.pid, pg_catalog.to_char(a.xact_start, 'YYYY-MM-DD HH24:MI:SS.MS TZ') \
           FROM pg_catalog.pg_locks l LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
          WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::pg_catalog.oid AND l.objid = $2::pg_catalog.oid AND l.objsubid = 2 \
          LIMIT 1",
        &[(KEY1 as i64).into(), (KEY2 as i64).into()],
    )
    .ok()?;
    // The holder's run id, from its progress slot (zero when this user may not see it).
    row.0.map(|pid| Holder {
        pid,
        since: row.1,
        run_id: super::progress::running()
            .into_iter()
            .find(|s| s.pid == pid)
            .map(|s| s.params[super::progress::P_RUN_ID as usize])
            .filter(|&id| id != 0),
    })
}

pub fn busy_error(holder: Option<Holder>) -> BravoError {
    let who = match &holder {
        Some(h) => format!(
            "another bravo_metrics sync is running (pid {}, started {}{})",
            h.pid,
            h.since.as_deref().unwrap_or("at an unknown time"),
            h.run_id.map(|r| format!(", run {r}")).unwrap_or_default()
        ),
        None => "another bravo_metrics sync is running".to_string(),
    };
    BravoError::new(PgSqlErrorCode::ERRCODE_LOCK_NOT_AVAILABLE, who)
        .hint("Wait for it to finish, or call bravo_sync(lookback_days, wait => true), or SET bravo_metrics.sync_overlap = 'wait'.")
}
