//! Transactions of a background worker that survive errors: a failed unit of work is
//! rolled back and reported, and the worker carries on. Used by the scheduler's
//! workers and by the run log's writer worker.

use std::ffi::CString;
use std::panic::AssertUnwindSafe;

use pgrx::pg_sys::panic::CaughtError;
use pgrx::prelude::*;

/// The message of a caught error (already redacted by whoever raised it).
pub fn caught_message(e: &CaughtError) -> String {
    match e {
        CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => r.message().to_string(),
        CaughtError::RustPanic { ereport, .. } => ereport.message().to_string(),
    }
}

/// The search path of every worker transaction: nothing a database owner or another
/// role can create objects in (`ALTER DATABASE ... SET search_path` applies to the
/// worker's session, which runs as a superuser). The extension's own objects are
/// named with its schema (`runlog::log_schema()`).
pub const SAFE_SEARCH_PATH: &str = "pg_catalog, pg_temp";

/// Runs `f` in a transaction of its own and commits it; the transaction's search path
/// is [`SAFE_SEARCH_PATH`] (set transaction-locally before anything else runs). Any
/// error rolls the transaction back and comes back as `Err(message)`. A FATAL
/// (SIGTERM) still ends the process, which aborts the transaction on the way out.
pub fn in_transaction<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    // SAFETY: called on the main thread of a background worker that is connected to a
    // database and between transactions (every caller is a worker's top level, never
    // code already inside a transaction), which is what StartTransactionCommand expects;
    // the snapshot pushed is popped below on commit, or discarded by the abort.
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    let out = PgTryBuilder::new(AssertUnwindSafe(move || {
        Spi::run_with_args(
            "SELECT pg_catalog.set_config('search_path', $1, true)",
            &[SAFE_SEARCH_PATH.into()],
        )
        .unwrap_or_else(|e| panic!("cannot set the search path: {e}"));
        let v = f();
        // SAFETY: the transaction started above is still the current one (`f` returned
        // normally, so it neither committed nor aborted it) and its snapshot is the
        // active one; popping it and committing ends the transaction on this thread.
        unsafe {
            pg_sys::PopActiveSnapshot();
            pg_sys::CommitTransactionCommand();
        }
        Ok(v)
    }))
    .catch_others(|e| Err(caught_message(&e)))
    .execute();
    if out.is_err() {
        // SAFETY: an error was caught (PgTryBuilder has already flushed the error state)
        // and the transaction is still open, in an aborted or failed state: aborting it
        // is PostgreSQL's own recovery in a worker's error path (as in `worker_spi.c`),
        // and TopMemoryContext always exists, so switching to it leaves no dangling
        // context behind the released transaction contexts.
        unsafe {
            pg_sys::AbortCurrentTransaction();
            pg_sys::MemoryContextSwitchTo(pg_sys::TopMemoryContext);
        }
    }
    out
}

/// Shows what the worker is doing in `pg_stat_activity`.
pub fn report_activity(what: Option<&str>) {
    match what {
        Some(w) => {
            let c = CString::new(w).unwrap_or_default();
            // SAFETY: called on a backend's main thread; `c` is a NUL-terminated string
            // that lives for the call, and pgstat_report_activity copies it into this
            // backend's status entry.
            unsafe {
                pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_RUNNING, c.as_ptr())
            };
        }
        // SAFETY: as above; a NULL command string is allowed for STATE_IDLE.
        None => unsafe {
            pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, std::ptr::null())
        },
    }
}

/// A long-lived worker reads `ALTER DATABASE/ROLE ... SET` values only when it
/// connects. Before each run, the scheduler re-applies the current `bravo_metrics.*`
/// ones (for this transaction only), so changing them needs no restart: settings that
/// were removed go back to their built-in default, then the database-wide, role-wide
/// and database-and-role values are applied, in PostgreSQL's order of precedence.
pub fn apply_database_settings() -> Result<usize, pgrx::spi::Error> {
    const CURRENT: &str = "
        SELECT pg_catalog.split_part(c, '=', 1) AS name,
               pg_catalog.substr(c, pg_catalog.strpos(c, '=') + 1) AS value,
               CASE WHEN s.setdatabase <> 0 AND s.setrole <> 0 THEN 3
                    WHEN s.setrole <> 0 THEN 2 ELSE 1 END AS prio
          FROM pg_catalog.pg_db_role_setting s, pg_catalog.unnest(s.setconfig) c
         WHERE s.setdatabase IN (0, (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()))
           AND s.setrole IN (0, (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = current_user))";
    let query = format!(
        "WITH cur AS ({CURRENT})
         SELECT p.name, coalesce(p.boot_val, ''), 0 AS prio
           FROM pg_catalog.pg_settings p
          WHERE p.name LIKE 'bravo\\_metrics.%' AND p.context IN ('user', 'superuser')
            AND p.source IN ('database', 'user', 'database user')
            AND NOT EXISTS (SELECT 1 FROM cur WHERE cur.name = p.name)
         UNION ALL
         SELECT cur.name, cur.value, cur.prio
           FROM cur JOIN pg_catalog.pg_settings p ON p.name = cur.name
          WHERE p.context IN ('user', 'superuser') AND cur.name LIKE 'bravo\\_metrics.%'
         ORDER BY 3"
    );
    let pairs: Vec<(String, String)> = Spi::connect(|c| {
        c.select(&query, None, &[]).map(|t| {
            t.filter_map(|r| {
                Some((
                    r.get::<String>(1).ok().flatten()?,
                    r.get::<String>(2).ok().flatten()?,
                ))
            })
            .collect()
        })
    })?;
    for (name, value) in &pairs {
        Spi::run_with_args(
            "SELECT pg_catalog.set_config($1, $2, true)",
            &[name.clone().into(), value.clone().into()],
        )?;
    }
    Ok(pairs.len())
}

unsafe extern "C-unwind" {
    /// PostgreSQL's SIGTERM handler for backends (`tcop/postgres.c`); pgrx only exposes a
    /// guarded Rust wrapper, and a signal handler needs the C symbol itself.
    #[link_name = "die"]
    fn pg_die(signal: std::ffi::c_int);
}

/// SIGTERM: PostgreSQL's own `die` sets `ProcDiePending`, so a running sync stops at
/// its next interrupt check (network waits poll it every 20 ms) and the FATAL that
/// follows aborts its transaction; a latch wait returns and its interrupt check exits.
pub fn install_sigterm_handler() {
    // SAFETY: called at the start of a background worker's main function, on its only
    // thread; `die` is PostgreSQL's async-signal-safe SIGTERM handler for exactly this
    // kind of process (it only sets flags and the latch), and pqsignal installs it the
    // way PostgreSQL does for its own backends.
    unsafe {
        pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(pg_die));
    }
}
