//! `bravo_sync`: fetch the lookback window of every source from Snowflake and merge it
//! into the metric tables, atomically. Manual calls, run-now and the scheduler all go
//! through [`run`].
//!
//! Order of work: take the single-sync lock; write the run row as `running` in a
//! transaction of its own (it survives a crash); open a subtransaction; read the
//! enabled metric families from the catalog ([`catalog`]), compute the window, check
//! the tables, log in ([`body`]); for each family ([`sync_target`]) describe the
//! source (a missing source of an optional family is recorded as `missing_source` and
//! skipped), check its columns, choose the key order of the window
//! ([`order`]), and stream the window batch by batch in that order:
//! each row is validated and deduplicated (`bravo_core::validate`) on the network
//! runtime, a batch ahead of the merge ([`feed`]), compared with the
//! target's window read in the same order through an SPI cursor
//! (`bravo_core::compare`, driven by [`apply`]), and only inserts, real updates and
//! set-aside rows are written, in bounded batches; then vanished rows are deleted
//! when asked (`merge.rs`) and set-aside rows settled; log out. Success releases the subtransaction and updates the run row to
//! `succeeded` in the same transaction (if that transaction then rolls back, the row
//! says `rolled_back`: see `runlog::exit`). Any error or cancel rolls the
//! subtransaction back (the tables are exactly as before), the run row is updated
//! autonomously, and the original error is raised again.

pub mod apply;
pub(crate) mod arrays;
pub mod catalog;
pub mod connect;
mod feed;
pub mod intraday;
pub mod key;
pub mod lock;
pub mod merge;
pub mod order;
pub mod owner;
pub mod progress;
pub mod refresh;
pub mod rollup;
pub mod slot;

mod tests;

use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bravo_core::grain::Grain;
use bravo_core::target::Target;
use bravo_core::{source, RunStatus, Trigger};
use bravo_snowflake::{Client, Error as SfError, ResultStream};
use pgrx::pg_sys::panic::CaughtError;
use pgrx::prelude::*;

use crate::error::BravoError;
use crate::runlog::{self, RunRecord, TargetRecord, TargetStatus};
use crate::runtime;
use crate::schemas::{self, Schemas};
use crate::settings::{self, OverlapPolicy};
use progress::{Phase, Progress};

#[derive(Clone, Debug)]
pub struct SyncRequest {
    /// Daily families (`bravo_sync`) or hourly ones (`bravo_sync_hourly`).
    pub grain: Grain,
    pub lookback_days: i32,
    pub trigger: Trigger,
    pub overlap: OverlapPolicy,
    /// A run id allocated earlier (run-now returns it before the run starts).
    pub run_id: Option<i64>,
    pub attempt: i32,
    /// Only these media buys (`bravo_refresh`): the source query filters on them (bind
    /// variables), the target window is read for them only, so a vanished row is one
    /// of theirs; set-aside rows of other buys are left for the next full sync.
    pub scope: Option<Scope>,
    /// The intraday refresh: per daily family with a change column, only the window's
    /// rows changed since its high-water mark (minus `bravo_metrics.intraday_safety_lag`),
    /// compared with the target rows of the same keys ([`intraday`]).
    pub changes_only: bool,
}

/// The media buys of one refresh.
#[derive(Clone, Debug)]
pub struct Scope {
    /// What the buys were chosen by, for the run log (`detail`).
    pub campaign: String,
    pub buys: Vec<bravo_core::BuyId>,
}

pub enum SyncError {
    /// Another sync holds the lock and the policy is to skip.
    Busy(BravoError),
    /// Bad arguments or settings found before any work started.
    Invalid(BravoError),
    /// The sync failed or was cancelled; its run row is written; the tables are unchanged.
    Failed(Box<FailedSync>),
}

pub struct FailedSync {
    pub record: RunRecord,
    pub error: CaughtError,
}

/// Rejects bad lookbacks before any network call.
pub fn check_lookback(lookback_days: Option<i32>) -> Result<i32, BravoError> {
    let max = settings::MAX_LOOKBACK_DAYS.get();
    match lookback_days {
        None => Err(BravoError::new(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "lookback_days must not be NULL",
        )
        .hint("Pass a number of days, e.g. bravo_sync(30).")),
        Some(d) if d < 1 || d > max => Err(BravoError::new(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("lookback_days must be between 1 and {max}, got {d}"),
        )
        .hint("The maximum is bravo_metrics.max_lookback_days.")),
        Some(d) => Ok(d),
    }
}

/// Runs one sync in the current transaction. See the module docs.
pub fn run(req: &SyncRequest) -> Result<RunRecord, SyncError> {
    crate::error::refuse_on_standby("bravo_sync").map_err(SyncError::Invalid)?;
    let schemas = schemas::resolve().map_err(SyncError::Invalid)?;
    crate::citus::refuse_on_worker(&schemas.internal).map_err(SyncError::Invalid)?;
    if !lock::try_lock() {
        match req.overlap {
            OverlapPolicy::Skip => return Err(SyncError::Busy(lock::busy_error(lock::holder()))),
            OverlapPolicy::Wait => {
                if let Some(h) = lock::holder() {
                    pgrx::notice!("bravo_sync: waiting for the running sync (pid {})", h.pid);
                }
                lock::lock().map_err(SyncError::Invalid)?;
            }
        }
    }
    let run_id = match req.run_id {
        Some(id) => id,
        None => runlog::next_run_id(&schemas.internal).map_err(SyncError::Invalid)?,
    };
    let record = Rc::new(RefCell::new(RunRecord {
        run_id,
        trigger: req.trigger,
        started_at: chrono::Utc::now().to_rfc3339(),
        lookback_days: req.lookback_days,
        window_start: None,
        status: RunStatus::Running,
        sqlstate: None,
        message: None,
        detail: req
            .scope
            .as_ref()
            .map(|s| serde_json::json!({"campaign_id": s.campaign, "media_buys": s.buys.len()})),
        // SAFETY: a read of this backend's pid, set once at process start.
        backend_pid: unsafe { pg_sys::MyProcPid },
        attempt: req.attempt,
        targets: Vec::new(),
        grain: req.grain,
    }));
    // If the backend is terminated before this sync's work commits, its exit writes
    // this record; if its transaction rolls back after it succeeded, the abort does.
    let tracked = runlog::exit::track(&record);
    // The run's row, committed now whatever happens next; the same worker then marks
    // runs left `running` by a crash `interrupted`.
    let waited = runlog::autonomous::start(&record.borrow());
    pgrx::debug1!(
        "bravo_sync: run {run_id} recorded as running in {:.1} ms",
        waited.as_secs_f64() * 1000.0
    );

    let (old_cx, old_owner) =
        // SAFETY: reads of two backend globals, restored below after the subtransaction.
        unsafe { (pg_sys::CurrentMemoryContext, pg_sys::CurrentResourceOwner) };
    // SAFETY: in a transaction (a SQL function or a worker's transaction); the name is a
    // static C string; switching back to the caller's memory context (as plpgsql does)
    // keeps Rust values allocated before valid.
    unsafe {
        pg_sys::BeginInternalSubTransaction(c"bravo_sync".as_ptr());
        pg_sys::MemoryContextSwitchTo(old_cx);
    }
    let body_record = record.clone();
    let body_schemas = schemas.clone();
    let body_req = req.clone();
    let outcome: Result<(), Box<CaughtError>> = PgTryBuilder::new(AssertUnwindSafe(move || {
        body(&body_schemas, &body_req, &body_record);
        Ok(())
    }))
    .catch_others(|e| Err(Box::new(e)))
    .execute();
    // SAFETY: restores the memory context and resource owner saved above, which still
    // exist (they belong to the outer transaction).
    let restore = || unsafe {
        pg_sys::MemoryContextSwitchTo(old_cx);
        pg_sys::CurrentResourceOwner = old_owner;
    };
    match outcome {
        Ok(()) => {
            // SAFETY: the subtransaction begun above is the current one: the body's own
            // subtransactions (SPI, PgTryBuilder) are closed when it returns.
            unsafe { pg_sys::ReleaseCurrentSubTransaction() };
            restore();
            let mut rec = record.borrow().clone();
            rec.status = RunStatus::Succeeded;
            // From here on the transaction's end decides: commit keeps `succeeded`,
            // a rollback (or an error writing the row) leaves `rolled_back`.
            tracked.succeeded(&rec);
            if let Err(e) = runlog::record_success(&schemas.internal, &rec) {
                e.raise();
            }
            Ok(rec)
        }
        Err(error) => {
            drop(tracked);
            // SAFETY: the subtransaction begun above is still open (an error inside it was
            // caught by PgTryBuilder); rolling it back is what PL/pgSQL does in an exception block.
            unsafe { pg_sys::RollbackAndReleaseCurrentSubTransaction() };
            restore();
            let mut rec = record.borrow().clone();
            let (code, message) = match error.as_ref() {
                CaughtError::PostgresError(e) | CaughtError::ErrorReport(e) => {
                    (e.sql_error_code(), e.message().to_string())
                }
                CaughtError::RustPanic { ereport, .. } => {
                    (ereport.sql_error_code(), ereport.message().to_string())
                }
            };
            let cancelled = code == PgSqlErrorCode::ERRCODE_QUERY_CANCELED;
            rec.status = if cancelled {
                RunStatus::Cancelled
            } else {
                RunStatus::Failed
            };
            rec.sqlstate = Some(crate::error::sqlstate_text(code));
            rec.message = Some(message);
            runlog::autonomous::write(&rec);
            Err(SyncError::Failed(Box::new(FailedSync {
                record: rec,
                error: *error,
            })))
        }
    }
}

/// A logged-in session that logs out when dropped, whatever happens (bounded, 2 s).
/// If the sync ends early for any reason (an error or a cancel raised inside
/// PostgreSQL between network waits, not only during one), the query still streaming
/// (`active`) is aborted on the server first.
struct Session {
    client: Client,
    open: bool,
    active: Option<uuid::Uuid>,
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.open {
            self.open = false;
            let c = self.client.clone();
            let active = self.active.take();
            runtime::block_on_bounded(
                async move {
                    if let Some(id) = active {
                        let _ = c.abort(id).await;
                    }
                    c.logout().await
                },
                Duration::from_secs(2),
            );
        }
    }
}

/// Waits for a network future; on cancel, aborts the running Snowflake query, logs
/// out (at most 1 s together), then lets PostgreSQL raise the cancel error.
fn net<T>(
    session: Option<&mut Session>,
    request_id: Option<uuid::Uuid>,
    fut: impl std::future::Future<Output = Result<T, SfError>>,
) -> T {
    net_result(session, request_id, fut).unwrap_or_else(|e| BravoError::from(e).raise())
}

/// [`net`], returning Snowflake's error instead of raising it (a cancel still raises).
fn net_result<T>(
    session: Option<&mut Session>,
    request_id: Option<uuid::Uuid>,
    fut: impl std::future::Future<Output = Result<T, SfError>>,
) -> Result<T, SfError> {
    match runtime::block_on(fut) {
        Ok(r) => r,
        Err(runtime::Interrupted) => {
            if let Some(s) = session {
                let c = s.client.clone();
                s.open = false;
                runtime::block_on_bounded(
                    async move {
                        if let Some(id) = request_id {
                            let _ = c.abort(id).await;
                        }
                        c.logout().await;
                    },
                    Duration::from_secs(1),
                );
            }
            pg_sys::check_for_interrupts!();
            BravoError::new(
                PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
                "bravo_sync cancelled",
            )
            .raise()
        }
    }
}

/// A family whose source relation does not exist: fails the sync when the family is
/// required; otherwise warns, records the family as `missing_source` and lets the
/// other families sync.
fn missing_source(
    target: &Target,
    relation: &str,
    error: SfError,
    mut trec: TargetRecord,
    t0: Instant,
    record: &Rc<RefCell<RunRecord>>,
) -> TargetRecord {
    let says = BravoError::from(error).message;
    if target.required {
        BravoError::new(
            PgSqlErrorCode::ERRCODE_FDW_TABLE_NOT_FOUND,
            format!(
                "source relation {relation} of the required metric family \"{}\" does not exist in Snowflake",
                target.name
            ),
        )
        .detail(says)
        .hint(format!(
            "Create it, or re-point the family: {}; or make it optional: SELECT bravo_enable_family('{}', required => false);",
            target.repoint_hint(),
            target.name
        ))
        .raise();
    }
    pgrx::warning!(
        "bravo_sync: metric family \"{}\" skipped: its source relation {relation} does not exist in Snowflake; the other families sync",
        target.name
    );
    trec.status = TargetStatus::MissingSource;
    trec.message = Some(format!("source relation {relation} does not exist: {says}"));
    trec.ms = t0.elapsed().as_millis() as i64;
    record.borrow_mut().targets.push(trec.clone());
    trec
}

/// Runs `f` when dropped (also when unwinding from an error).
struct Guard<F: FnMut()>(F);
impl<F: FnMut()> Drop for Guard<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}
fn scopeguard<F: FnMut()>(f: F) -> Guard<F> {
    Guard(f)
}

fn raise_spi(e: pgrx::spi::Error) -> ! {
    BravoError::internal("internal query failed", e).raise()
}

/// What every target of one sync shares.
struct Ctx<'a> {
    schemas: &'a Schemas,
    run_id: i64,
    /// Where the window starts (a day, or an instant for hourly families).
    window_start: slot::WindowStart,
    /// How media buy ids are typed, and the ids `media_buys` has.
    key: key::KeySpec,
    known_buys: std::sync::Arc<HashSet<bravo_core::BuyId>>,
    tag: Option<String>,
    delete_missing: bool,
    max_fraction: f64,
    /// See [`SyncRequest::scope`].
    scope: Option<&'a Scope>,
    /// See [`SyncRequest::changes_only`].
    changes_only: bool,
    /// The media tool's tables are in the Citus layout (`citus/`).
    distributed: bool,
}

/// The work of one sync; raises on any error (caught by [`run`]). Window, schema
/// checks and login once; then each target in turn ([`sync_target`]); log out.
fn body(schemas: &Schemas, req: &SyncRequest, record: &Rc<RefCell<RunRecord>>) {
    let run_id = record.borrow().run_id;
    let mut progress = start_progress(&schemas.internal, run_id);
    progress.set(progress::P_GRAIN, i64::from(req.grain == Grain::Hour));
    progress.phase(Phase::Connecting, 0);

    let mut cfg = connect::config().unwrap_or_else(|e| e.raise());
    let (retries_tx, retries_rx) = std::sync::mpsc::channel();
    cfg.retry_events = Some(retries_tx);
    runtime::watch_retries(retries_rx);
    let _unwatch = scopeguard(runtime::unwatch_retries);
    let window_start = window(req.grain, req.lookback_days);
    record.borrow_mut().window_start = Some(window_start.day.to_string());

    let enabled =
        catalog::enabled_families(&schemas.internal, req.grain).unwrap_or_else(|e| e.raise());
    let names: Vec<String> = enabled.iter().map(|t| t.name.clone()).collect();
    let families = if req.changes_only {
        intraday::families(enabled).unwrap_or_else(|e| e.raise())
    } else {
        enabled
    };
    // Each family's place among the enabled ones (bravo_sync_progress names the family
    // being synced by it, also when the intraday refresh skips some).
    let places: Vec<i64> = families
        .iter()
        .map(|t| {
            names
                .iter()
                .position(|n| *n == t.name)
                .map_or(0, |p| p as i64 + 1)
        })
        .collect();
    let distributed = crate::citus::distributed(&schemas.internal).unwrap_or_else(|e| e.raise());
    let owners = check_schema(&schemas.media, &families, distributed);
    let key = key::of_media_buys(schemas).unwrap_or_else(|e| e.raise());
    for target in &families {
        key.check_target(&schemas.media, &target.table)
            .unwrap_or_else(|e| e.raise());
    }
    let known_buys = key.known(&schemas.media).unwrap_or_else(|e| e.raise());
    let ctx = Ctx {
        schemas,
        run_id,
        window_start,
        key,
        known_buys: std::sync::Arc::new(known_buys),
        tag: settings::get_str(&settings::SNOWFLAKE_QUERY_TAG),
        delete_missing: settings::DELETE_MISSING.get(),
        max_fraction: settings::DELETE_MAX_FRACTION.get(),
        scope: req.scope.as_ref(),
        changes_only: req.changes_only,
        distributed,
    };
    let mut session = Session {
        client: net(None, None, Client::connect(cfg)),
        open: true,
        active: None,
    };

    // Each target: stream the source window against the target window, then settle
    // deletions and set-aside rows. Everything commits together (or not at all).
    for (idx, target) in families.iter().enumerate() {
        let trec = sync_target(
            &ctx,
            &mut session,
            &mut progress,
            record,
            places[idx],
            target,
            &owners[idx],
        );
        record.borrow_mut().targets[idx] = trec;
    }
    session.open = false;
    let c = session.client.clone();
    runtime::block_on_bounded(async move { c.logout().await }, Duration::from_secs(5));
    progress.phase(Phase::Finishing, 0);
}

/// Publishes this backend's progress for `bravo_sync_progress`.
fn start_progress(schema: &str, run_id: i64) -> Progress {
    let relid = Spi::get_one::<pg_sys::Oid>(&format!(
        "SELECT '{schema}.bravo_sync_runs'::pg_catalog.regclass::pg_catalog.oid"
    ))
    .unwrap_or_else(|e| raise_spi(e))
    .unwrap_or(pg_sys::InvalidOid);
    let started_ms = chrono::Utc::now().timestamp_millis();
    Progress::start(run_id, relid, started_ms)
}

/// The window's start: `lookback_days` days before today in
/// `bravo_metrics.sync_time_zone` (daily families: that day; hourly ones: its first
/// instant in that zone).
fn window(grain: Grain, lookback_days: i32) -> slot::WindowStart {
    let tz = settings::get_str(&settings::SYNC_TIME_ZONE).unwrap_or_else(|| "UTC".into());
    slot::WindowStart::compute(grain, &tz, lookback_days).unwrap_or_else(|e| e.raise())
}

/// Checks every metric table (and `media_buys`) before any network call; returns
/// each target's owner, as whom it is written.
fn check_schema(schema: &str, families: &[Target], distributed: bool) -> Vec<owner::Owner> {
    owner::check_kind(&format!("{schema}.media_buys"), "table").unwrap_or_else(|e| e.raise());
    // The distributed layout has no rollup triggers (citus/layout.sql).
    if !distributed {
        check_attached(schema).unwrap_or_else(|e| e.raise());
    }
    families
        .iter()
        .map(|target| merge::check_target(schema, target).unwrap_or_else(|e| e.raise()))
        .collect()
}

/// The reports and rollups read the same tables the sync writes: their triggers sit on
/// `media_buys` there (`bravo_report_attach()` puts them there, and moves them when
/// `bravo_metrics.media_tool_schema` changes).
fn check_attached(schema: &str) -> Result<(), BravoError> {
    let attached = Spi::get_one::<bool>(&format!(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger \
                         WHERE tgrelid = '{schema}.media_buys'::pg_catalog.regclass AND tgname = 'bravo_rollup_ins')"
    ))
    .map_err(|e| BravoError::internal("cannot read the triggers of media_buys", e))?
    .unwrap_or(false);
    if attached {
        return Ok(());
    }
    Err(BravoError::new(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("the campaign reports are not attached to {schema}.media_buys"),
    )
    .detail("A sync would write rows that the reports and their rollups do not count.")
    .hint("SELECT bravo_report_attach(); (after changing bravo_metrics.media_tool_schema, or recreating the media tool's tables)"))
}

/// One target: describe and check its source, stream its window against the
/// target's ([`apply_stream`]), then delete vanished rows (if asked) and settle
/// set-aside rows. Returns the target's record.
/// `place`: the family's place among the enabled families (what `bravo_sync_progress`
/// decodes).
fn sync_target(
    ctx: &Ctx,
    session: &mut Session,
    progress: &mut Progress,
    record: &Rc<RefCell<RunRecord>>,
    place: i64,
    target: &Target,
    owner: &owner::Owner,
) -> TargetRecord {
    let t0 = Instant::now();
    progress.phase(Phase::Fetching, place);
    let relation =
        settings::source_relation(target).unwrap_or_else(|e| BravoError::config(e).raise());
    let mut trec = TargetRecord {
        target: target.name.clone(),
        source: relation.clone(),
        status: TargetStatus::Synced,
        ..Default::default()
    };

    let describe = source::describe_query(&relation, ctx.tag.as_deref());
    let rid = describe.request_id;
    let client = session.client.clone();
    let desc = match net_result(Some(session), Some(rid), client.query(describe)) {
        Ok(desc) => desc,
        Err(e) if crate::error::is_missing_relation(&e) => {
            return missing_source(target, &relation, e, trec, t0, record);
        }
        Err(e) => BravoError::from(e).raise(),
    };
    let mut columns = source::check_columns(target, ctx.key.kind, &relation, desc.columns())
        .unwrap_or_else(|e| BravoError::from(e).raise());
    // The change column: a window sync reads it for the high-water mark when the source
    // has it; the intraday refresh needs it.
    columns.change = match bravo_core::changes::find(target, &relation, desc.columns()) {
        Ok(c) => c,
        Err(e) if ctx.changes_only => BravoError::from(e).raise(),
        Err(_) => None,
    };
    drop(desc);
    let mark = match &columns.change {
        Some(c) if ctx.changes_only => {
            intraday::read_mark(&ctx.schemas.internal, target, &relation, c)
                .unwrap_or_else(|e| e.raise())
        }
        _ => None,
    };
    // No mark yet (the first intraday refresh, or the source or change column changed):
    // the whole window is compared once, as a window sync would.
    let lookup = mark.is_some();
    if ctx.changes_only && !lookup {
        trec.message =
            Some("no high-water mark yet: the whole window was compared, and the mark kept".into());
    }

    let table = format!("{}.{}", ctx.schemas.media, target.table);
    let choice = order::choose(&table, ctx.window_start).unwrap_or_else(|e| e.raise());
    let order = choice.order;
    let since = mark.map(intraday::since);
    let q = match (ctx.window_start.date(), since) {
        (Some(day), Some(since)) => {
            source::fetch_changes_query(&relation, &columns, day, since, order, ctx.tag.as_deref())
        }
        (Some(day), None) => source::fetch_query(
            &relation,
            &columns,
            day,
            order,
            ctx.tag.as_deref(),
            ctx.scope.map_or(&[], |s| &s.buys),
        ),
        (None, _) => source::fetch_hours_query(
            &relation,
            &columns,
            ctx.window_start.slot,
            target.zone,
            order,
            ctx.tag.as_deref(),
            ctx.scope.map_or(&[], |s| &s.buys),
        ),
    };
    let rid = q.request_id;
    let stream = net(Some(session), Some(rid), client.query(q));
    session.active = Some(rid);
    trec.query_id = stream.query_id().map(str::to_string);
    record.borrow_mut().targets.push(trec.clone());

    // A whole-window sync of a daily table may count its own rows at the flush when the
    // window turns out empty (a first load; `rollup` says when); the probe needs the index.
    let counted_from = ctx
        .window_start
        .date()
        .filter(|_| choice.indexed && ctx.scope.is_none() && !lookup);
    let deferred =
        rollup::defer(&ctx.schemas.internal, &table, counted_from).unwrap_or_else(|e| e.raise());
    let (applied, seen) = apply_stream(
        ctx, session, progress, target, owner, &relation, order, &columns, lookup, stream, rid,
        &mut trec,
    );
    session.active = None;

    // The new mark commits with the rows it stands for. A refresh of some media buys
    // saw only theirs: no mark.
    if let (Some(change), None, Some(seen)) = (&columns.change, ctx.scope, seen) {
        intraday::write_mark(
            &ctx.schemas.internal,
            target,
            &relation,
            change,
            seen,
            ctx.run_id,
            lookup,
        )
        .unwrap_or_else(|e| e.raise());
    }

    progress.phase(Phase::Merging, place);
    let deleted = if ctx.delete_missing && !lookup {
        merge::delete_vanished(
            &ctx.schemas.media,
            target,
            owner,
            ctx.window_start,
            &applied,
            ctx.max_fraction,
        )
        .unwrap_or_else(|e| e.raise())
    } else {
        0
    };
    let (late_ins, late_upd) = if ctx.scope.is_some() || lookup {
        (0, 0)
    } else {
        merge::settle_set_aside(
            ctx.schemas,
            target,
            &ctx.key,
            owner,
            ctx.run_id,
            ctx.window_start,
            ctx.distributed,
        )
        .unwrap_or_else(|e| e.raise())
    };
    deferred.flush().unwrap_or_else(|e| e.raise());
    trec.inserted = applied.inserted + late_ins;
    trec.updated = applied.updated + late_upd;
    trec.unchanged = applied.unchanged;
    trec.deleted = deleted;
    trec.set_aside = applied.set_aside;
    trec.ms = t0.elapsed().as_millis() as i64;
    progress.set(progress::P_DELETED, deleted);
    let t = trec.clone();
    progress.notice(true, || {
        format!(
            "{}: fetched {}, inserted {}, updated {}, unchanged {}, deleted {}, set aside {}",
            t.target, t.fetched, t.inserted, t.updated, t.unchanged, t.deleted, t.set_aside
        )
    });
    trec
}

/// Where each wanted column is in Snowflake's result. Result columns are matched by
/// name, so a source that returns extra columns (or another order) still lands in
/// the right place.
fn result_positions(
    stream: &ResultStream,
    target: &Target,
    relation: &str,
    source_id: bool,
) -> Vec<usize> {
    let mut wanted = source::wanted_columns(target);
    if source_id {
        wanted.push(source::SOURCE_ID_ALIAS);
    }
    wanted
        .iter()
        .map(|w| {
            stream
                .columns()
                .iter()
                .position(|c| c.name.eq_ignore_ascii_case(w))
                .unwrap_or_else(|| {
                    BravoError::new(
                        PgSqlErrorCode::ERRCODE_FDW_INCONSISTENT_DESCRIPTOR_INFORMATION,
                        format!(
                            "Snowflake's result for {relation} has no column {}",
                            w.to_ascii_uppercase()
                        ),
                    )
                    .raise()
                })
        })
        .collect()
}

/// Streams the source batches through validation and the comparison with the
/// target's window ([`apply::Applier`]), publishing progress after each batch.
#[allow(clippy::too_many_arguments)]
fn apply_stream(
    ctx: &Ctx,
    session: &mut Session,
    progress: &mut Progress,
    target: &Target,
    owner: &owner::Owner,
    relation: &str,
    order: bravo_core::KeyOrder,
    columns: &source::SourceColumns,
    lookup: bool,
    stream: ResultStream,
    rid: uuid::Uuid,
    trec: &mut TargetRecord,
) -> (apply::Applied, Option<chrono::DateTime<chrono::Utc>>) {
    let positions = result_positions(&stream, target, relation, columns.has_source_id());
    // The change column's place in the result, when it was asked for.
    let change_at = columns.change.as_ref().and_then(|c| {
        stream
            .columns()
            .iter()
            .position(|r| r.name.eq_ignore_ascii_case(&c.name))
    });
    let width = stream.columns().len();
    let total = stream.total_rows();
    // Decoding and validation run on the network runtime, a slice ahead of the merge.
    let mut feed = feed::Feed::start(
        &runtime::handle(),
        stream,
        feed::Spec {
            target: target.clone(),
            key: ctx.key.kind,
            order,
            positions,
            change_at,
            width,
            known_buys: ctx.known_buys.clone(),
            scope: ctx.scope.map(|s| s.buys.iter().cloned().collect()),
        },
    );
    let mut seen: Option<chrono::DateTime<chrono::Utc>> = None;
    Spi::connect(|spi| {
        let mut applier = apply::Applier::open(
            spi,
            target.clone(),
            &ctx.key,
            owner,
            ctx.run_id,
            ctx.schemas,
            ctx.window_start,
            order,
            ctx.delete_missing && !lookup,
            ctx.scope.map(|s| s.buys.as_slice()),
            lookup,
            ctx.distributed,
        )
        .unwrap_or_else(|e| e.raise());
        // Its temporary tables' index builds wrote into the progress slot; put the
        // sync's values back before waiting on the network.
        progress.refresh();
        while let Some(item) = net(Some(session), Some(rid), feed.next()) {
            let mut fed = match item {
                Ok(fed) => fed,
                Err(feed::FeedError::Snowflake(e)) => BravoError::from(e).raise(),
                Err(feed::FeedError::Width(got)) => BravoError::new(
                    PgSqlErrorCode::ERRCODE_FDW_INCONSISTENT_DESCRIPTOR_INFORMATION,
                    format!(
                        "Snowflake returned a batch of {got} columns for {relation}; its rowtype has {width}"
                    ),
                )
                .raise(),
                Err(feed::FeedError::Order(e)) => BravoError::new(
                    PgSqlErrorCode::ERRCODE_FDW_ERROR,
                    format!(
                        "Snowflake returned {relation} out of order: ({}, {}) after ({}, {})",
                        e.next.0,
                        bravo_core::grain::slot_text(target.grain, e.next.1),
                        e.previous.0,
                        bravo_core::grain::slot_text(target.grain, e.previous.1)
                    ),
                )
                .raise(),
            };
            seen = seen.max(fed.mark);
            trec.fetched += fed.rows as i64;
            applier
                .accept(&mut fed.outcomes)
                .unwrap_or_else(|e| e.raise());
            report_progress(progress, &applier.applied, trec.fetched, total);
            pg_sys::check_for_interrupts!();
            let fetched = trec.fetched;
            progress.notice(false, || format!("{}: fetched {fetched} rows", target.name));
        }
        (applier.finish().unwrap_or_else(|e| e.raise()), seen)
    })
}

/// The counters of `bravo_sync_progress` after a batch.
fn report_progress(progress: &mut Progress, a: &apply::Applied, fetched: i64, total: Option<u64>) {
    progress.set(progress::P_FETCHED, fetched);
    progress.set(progress::P_COMPARED, a.unchanged + a.updated + a.inserted);
    progress.set(progress::P_INSERTED, a.inserted);
    progress.set(progress::P_UPDATED, a.updated);
    progress.set(progress::P_SET_ASIDE, a.set_aside);
    if let Some(total) = total {
        progress.set(progress::P_TOTAL, total as i64);
    }
    progress.refresh();
}
