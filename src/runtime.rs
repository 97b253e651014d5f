//! The bridge between a PostgreSQL backend and async network code.
//!
//! One tokio runtime per backend process, created lazily (never in the postmaster, so
//! it is never forked). Its worker threads run only plain Rust (HTTP, gzip, Arrow);
//! PostgreSQL is called from the backend thread only. [`block_on`] drives a future on
//! the backend thread and checks PostgreSQL's interrupt flags every 20 ms, so
//! `pg_cancel_backend`, `statement_timeout` and SIGTERM stop network waits promptly.

use std::cell::RefCell;
use std::future::Future;
use std::sync::mpsc::Receiver;
use std::sync::OnceLock;
use std::time::Duration;

use bravo_snowflake::RetryEvent;
use pgrx::pg_sys;

thread_local! {
    /// Retries reported by the Snowflake client of the running sync, logged from the
    /// backend thread while [`block_on`] waits (the network threads never log).
    static RETRIES: RefCell<Option<Receiver<RetryEvent>>> = const { RefCell::new(None) };
}

/// Logs the client's retries while this backend waits on the network, until
/// [`unwatch_retries`].
pub fn watch_retries(rx: Receiver<RetryEvent>) {
    RETRIES.with(|r| *r.borrow_mut() = Some(rx));
}

pub fn unwatch_retries() {
    log_retries();
    RETRIES.with(|r| *r.borrow_mut() = None);
}

/// One server-log line per retry (LOG level; the error text is redacted by the client).
fn log_retries() {
    RETRIES.with(|r| {
        if let Some(rx) = r.borrow().as_ref() {
            for e in rx.try_iter() {
                pgrx::log!(
                    "bravo_metrics: Snowflake {} attempt {} failed after {:.1} s: {}; retrying in {:.1} s ({:.1} s of the retry budget spent)",
                    e.request,
                    e.attempt,
                    e.elapsed.as_secs_f64(),
                    e.error,
                    e.sleep.as_secs_f64(),
                    e.budget_spent.as_secs_f64()
                );
            }
        }
    });
}

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

fn runtime() -> &'static tokio::runtime::Runtime {
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bravo-net")
            .enable_all()
            .build()
            .expect("cannot start the network runtime")
    })
}

/// A handle on this backend's runtime, for work that runs on threads of its own (the
/// export's pipeline); those threads never call PostgreSQL.
pub fn handle() -> tokio::runtime::Handle {
    runtime().handle().clone()
}

/// Why a wait stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted;

/// True when PostgreSQL wants this backend to stop what it is doing.
pub fn cancel_requested() -> bool {
    // Plain reads of sig_atomic_t flags set by signal handlers, on the backend thread.
    // SAFETY: reads of two flags of this backend (set by its signal handlers), on the
    // backend thread (callers never run on a tokio thread).
    unsafe { pg_sys::QueryCancelPending != 0 || pg_sys::ProcDiePending != 0 }
}

/// Runs `fut` to completion on the backend thread, or returns `Err(Interrupted)` as soon
/// as a cancel or terminate request arrives. The future is dropped at that point, which
/// stops its in-flight requests.
pub fn block_on<F: Future>(fut: F) -> Result<F::Output, Interrupted> {
    if cancel_requested() {
        return Err(Interrupted);
    }
    runtime().block_on(async {
        tokio::pin!(fut);
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                out = &mut fut => {
                    log_retries();
                    return Ok(out);
                }
                _ = tick.tick() => {
                    log_retries();
                    if cancel_requested() {
                        return Err(Interrupted);
                    }
                }
            }
        }
    })
}

/// Runs a short best-effort future (abort, logout) even though a cancel is pending,
/// bounded by `limit`. Used on the way out of a cancelled sync.
pub fn block_on_bounded<F: Future<Output = ()>>(fut: F, limit: Duration) {
    runtime().block_on(async move {
        let _ = tokio::time::timeout(limit, fut).await;
    });
}
