//! The scheduler: one static background worker, registered when the library is in
//! `shared_preload_libraries`, connected to `bravo_metrics.scheduler_database`.
//!
//! Loop: sleep on the latch until the next run is due (at most a minute, so clock
//! changes are noticed), a reload arrives (SIGHUP: re-read the schedule), or SIGTERM
//! (PostgreSQL's own `die` handler: the next interrupt check raises FATAL, which aborts
//! any running sync's transaction, so it rolls back, and the process exits; PostgreSQL
//! restarts it after `RESTART_AFTER`). Each run is one transaction around
//! [`exec::run`], the same sync as `bravo_sync`; an error is logged and the worker
//! carries on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::prelude::*;

use super::exec::{self, Outcome};
use super::{conffile, shared};
use crate::runlog;
use crate::settings;
use crate::sync::SyncRequest;
use crate::txn;
use bravo_core::run::sql_list;
use bravo_core::schedule::plan::{self, Due, Kind, Offer, Refusal, ScheduleSlot};
use bravo_core::{RunStatus, Trigger};

pub const BGW_TYPE: &str = "bravo_metrics scheduler";
const RESTART_AFTER: Duration = Duration::from_secs(10);
/// Longest single sleep: wall-clock jumps and missed wake-ups are noticed within it.
const MAX_SLEEP: Duration = Duration::from_secs(60);

macro_rules! say {
    ($($arg:tt)*) => { pgrx::log!("bravo_metrics scheduler: {}", format!($($arg)*)) };
}
macro_rules! warn {
    ($($arg:tt)*) => { pgrx::warning!("bravo_metrics scheduler: {}", format!($($arg)*)) };
}

/// Registers the worker; call while `shared_preload_libraries` is processed.
pub fn register() {
    BackgroundWorkerBuilder::new(BGW_TYPE)
        .set_type(BGW_TYPE)
        .set_library("bravo_metrics")
        .set_function("bravo_scheduler_main")
        .enable_spi_access()
        .set_restart_time(Some(RESTART_AFTER))
        .load();
}

fn database() -> String {
    settings::get_str(&settings::SCHEDULER_DATABASE).unwrap_or_else(|| "postgres".into())
}

const SCHEDULE_NAME: &str = "bravo_metrics.schedule";
const ZONE_NAME: &str = "bravo_metrics.schedule_time_zone";

/// The check of a setting's value, as its hook makes it.
type Check = fn(&str) -> Result<(), String>;

/// The configured values PostgreSQL refused: what the files ask for (see `conffile`)
/// that the check hooks would not accept, so the setting kept another value.
fn refused_in_files() -> Vec<Refusal> {
    let Some(files) = conffile::read(&[SCHEDULE_NAME, ZONE_NAME]) else {
        return Vec::new();
    };
    let checks: [(&'static str, Check); 2] = [
        (SCHEDULE_NAME, bravo_core::schedule::check_schedule_value),
        (ZONE_NAME, bravo_core::schedule::check_zone_value),
    ];
    files
        .into_iter()
        .zip(checks)
        .filter_map(|(file, (setting, check))| {
            let file = file?;
            let why = check(&file.value).err()?;
            Some(Refusal {
                setting,
                value: file.value.clone(),
                location: Some(file.location()),
                why,
            })
        })
        .collect()
}

/// `PgReloadTime`: when this process (or, before it forked, the postmaster) last read
/// the configuration files without error.
fn reload_time() -> Option<DateTime<Utc>> {
    const PG_EPOCH_UNIX_US: i64 = 946_684_800_000_000;
    // SAFETY: a read of a timestamp PostgreSQL keeps for this process (set by
    // ProcessConfigFile on this thread, or inherited from the postmaster).
    let t = unsafe { pg_sys::PgReloadTime };
    DateTime::from_timestamp_micros(t + PG_EPOCH_UNIX_US)
}

/// The schedules besides the daily one. No retries and no catch-up: the next
/// occurrence covers the same ground.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SideKind {
    /// `bravo_metrics.hourly_schedule`: the hourly families (`bravo_sync_hourly`).
    Hourly,
    /// `bravo_metrics.intraday_schedule`: the intraday refresh (`bravo_sync_intraday`).
    Intraday,
}

impl SideKind {
    fn label(self) -> &'static str {
        match self {
            SideKind::Hourly => "hourly",
            SideKind::Intraday => "intraday",
        }
    }
    fn setting(self) -> &'static pgrx::GucSetting<Option<std::ffi::CString>> {
        match self {
            SideKind::Hourly => &settings::HOURLY_SCHEDULE,
            SideKind::Intraday => &settings::INTRADAY_SCHEDULE,
        }
    }
}

/// A side schedule: (expression, zone, parsed) and its next occurrence.
struct Side {
    kind: SideKind,
    current: Option<(String, String, plan::Schedule)>,
    next: Option<DateTime<Utc>>,
}

impl Side {
    fn new(kind: SideKind) -> Side {
        Side {
            kind,
            current: None,
            next: None,
        }
    }

    /// The next occurrence after `now`.
    fn plan(&mut self, now: DateTime<Utc>) {
        self.next = self
            .current
            .as_ref()
            .and_then(|(_, _, s)| s.next_after(now));
    }

    /// Takes its setting (in `schedule_time_zone`): none when empty; a value the zone
    /// cannot take keeps the last good one, with a WARNING.
    fn load(&mut self, now: DateTime<Utc>) {
        let label = self.kind.label();
        let expr = settings::get_str(self.kind.setting());
        let zone = settings::get_str(&settings::SCHEDULE_TIME_ZONE).unwrap_or_else(|| "UTC".into());
        let Some(expr) = expr else {
            if self.current.take().is_some() {
                say!("{label} schedule removed; no scheduled {label} run");
            }
            self.next = None;
            return;
        };
        if self
            .current
            .as_ref()
            .is_some_and(|(e, z, _)| *e == expr && *z == zone)
        {
            return;
        }
        match plan::Schedule::parse(&expr, &zone) {
            Ok(s) => {
                self.next = s.next_after(now);
                say!(
                    "{label} schedule \"{expr}\" in time zone {zone}; next {label} run at {}",
                    fmt_time(self.next)
                );
                self.current = Some((expr, zone, s));
            }
            Err(e) => warn!(
                "{label} schedule \"{expr}\" in time zone {zone}: {e}; keeping the previous one"
            ),
        }
    }
}

struct Worker {
    database: String,
    slot: ScheduleSlot,
    /// The next scheduled occurrence.
    next_fire: Option<DateTime<Utc>>,
    /// A pending retry of the last failed run.
    retry: Option<Due>,
    /// Logged "not installed" already (log it once per stretch).
    told_not_installed: bool,
    /// The refusal last logged (log each once, not at every reload).
    told_refusal: Option<String>,
    /// The hourly families' schedule (`bravo_metrics.hourly_schedule`) and the intraday
    /// refresh's (`bravo_metrics.intraday_schedule`).
    hourly: Side,
    intraday: Side,
    /// When the data's staleness is next checked while no run happens (see
    /// [`Worker::check_staleness`]).
    next_staleness: DateTime<Utc>,
}

impl Worker {
    /// A worker whose last good schedule is the one its predecessor published (a
    /// worker restarted after an error or a database change keeps it); none after a
    /// server start.
    fn new() -> Worker {
        let mut slot = ScheduleSlot::default();
        if let Some((expr, zone)) = shared::schedule_state().and_then(|p| p.in_force) {
            slot.offer(Some(&expr), Some(&zone));
        }
        Worker {
            database: database(),
            slot,
            next_fire: None,
            retry: None,
            told_not_installed: false,
            told_refusal: None,
            hourly: Side::new(SideKind::Hourly),
            intraday: Side::new(SideKind::Intraday),
            // The first check soon after the start (the data may have gone stale while the
            // server was down), then every interval.
            next_staleness: Utc::now() + chrono::Duration::seconds(5),
        }
    }

    /// Runs one sync of a side schedule and plans its next.
    fn fire_side(&mut self, kind: SideKind) {
        let (req, what) = match kind {
            SideKind::Hourly => (
                SyncRequest {
                    grain: bravo_core::grain::Grain::Hour,
                    lookback_days: settings::HOURLY_LOOKBACK_DAYS.get(),
                    trigger: Trigger::Schedule,
                    overlap: settings::SCHEDULER_OVERLAP.get(),
                    run_id: None,
                    attempt: 1,
                    scope: None,
                    changes_only: false,
                },
                "hourly sync",
            ),
            SideKind::Intraday => (
                crate::sync::intraday::request(
                    settings::SCHEDULER_LOOKBACK_DAYS.get(),
                    Trigger::Intraday,
                    settings::SCHEDULER_OVERLAP.get(),
                ),
                "intraday refresh",
            ),
        };
        let label = kind.label();
        txn::report_activity(Some(what));
        let result = txn::in_transaction(|| exec::run(&req, true));
        txn::report_activity(None);
        match &result {
            Ok(Outcome::NotInstalled) => {}
            Ok(outcome @ Outcome::Succeeded { .. }) => {
                say!("{label} {}", exec::describe(req.trigger, 1, outcome))
            }
            Ok(outcome) => warn!("{label} {}", exec::describe(req.trigger, 1, outcome)),
            Err(message) => warn!("{label} run ended with an error: {message}"),
        }
        let now = Utc::now();
        match kind {
            SideKind::Hourly => self.hourly.plan(now),
            SideKind::Intraday => self.intraday.plan(now),
        }
    }

    /// Takes the configured schedule, unless PostgreSQL refused the value in the files
    /// (then the setting holds its previous value or, at startup, its built-in default,
    /// neither of which was asked for): the last good schedule stays, or none at all.
    /// Publishes the outcome. Needs no database connection.
    fn load_schedule(&mut self, now: DateTime<Utc>) {
        let refusals = refused_in_files();
        let offer = if refusals.is_empty() {
            let expr = settings::get_str(&settings::SCHEDULE);
            let zone = settings::get_str(&settings::SCHEDULE_TIME_ZONE);
            self.slot.offer(expr.as_deref(), zone.as_deref())
        } else {
            self.slot.refuse(plan::describe_refusals(&refusals))
        };
        let first = self.next_fire.is_none();
        match &offer {
            Offer::Unchanged if !first => {}
            Offer::Unchanged | Offer::Changed => {
                let s = self.slot.current().expect("in force");
                self.next_fire = s.next_after(now);
                say!(
                    "schedule \"{}\" in time zone {}; next run at {}",
                    s.expr,
                    s.zone_name,
                    fmt_time(self.next_fire)
                );
            }
            Offer::Rejected(why) => {
                // The schedule in force (if any) stays, and so does its next run.
                if self.next_fire.is_none() {
                    self.next_fire = self.slot.current().and_then(|s| s.next_after(now));
                }
                if self.told_refusal.as_deref() != Some(why.as_str()) {
                    match self.slot.current() {
                        Some(s) => warn!(
                            "{why}; keeping the last good schedule \"{}\" in time zone {}",
                            s.expr, s.zone_name
                        ),
                        None => warn!("{why}; no scheduled sync runs until it is fixed"),
                    }
                }
            }
        }
        self.told_refusal = self.slot.problem().map(str::to_string);
        self.hourly.load(now);
        self.intraday.load(now);
        let hint = self.slot.problem().map(|why| {
            let settings: Vec<&str> = if refusals.is_empty() {
                vec![SCHEDULE_NAME, ZONE_NAME]
            } else {
                refusals.iter().map(|r| r.setting).collect()
            };
            plan::refusal_hint(why, self.slot.current(), &settings)
        });
        shared::publish_schedule(
            self.slot
                .current()
                .map(|s| (s.expr.as_str(), s.zone_name.as_str())),
            hint.as_deref(),
        );
    }

    /// Re-reads the configuration files (SIGHUP) and the schedule.
    fn reload_config(&mut self) {
        // SAFETY: on the worker's main thread, between transactions, which is where
        // PostgreSQL's own processes handle a reload (HandleMainLoopInterrupts: clear the
        // flag, then ProcessConfigFile(PGC_SIGHUP), which reports bad values at LOG rather
        // than raising). The flag is written volatile, as the signal handler writes it.
        unsafe {
            (&raw mut pg_sys::ConfigReloadPending).write_volatile(0);
            pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP);
        }
        self.load_schedule(Utc::now());
    }

    fn reload(&mut self) {
        self.reload_config();
        if database() != self.database {
            say!(
                "scheduler_database changed from \"{}\" to \"{}\"; restarting to reconnect",
                self.database,
                database()
            );
            // SAFETY: on the worker's main thread between transactions (reload runs from
            // the main loop only); proc_exit runs the exit callbacks and does not return.
            unsafe { pg_sys::proc_exit(1) };
        }
    }

    /// Connects to `scheduler_database`. A failed attempt ends the process (FATAL) and
    /// PostgreSQL starts a new one `RESTART_AFTER` later; the attempts are counted in
    /// shared memory, so after a failure this process first waits: 30 s after the
    /// failure, doubling up to 5 minutes, logging one WARNING per distinct failure. A
    /// reload (now or since the failure) or a changed database name retries at once.
    fn connect(&mut self) {
        let mut reloaded = false;
        loop {
            if reload_pending() {
                self.reload_config();
                reloaded = true;
            }
            self.database = database();
            let Some(prev) = shared::previous_failures(&self.database) else {
                break;
            };
            let last = prev.last_failure.unwrap_or_else(Utc::now);
            let at = last
                + chrono::Duration::from_std(plan::connect_backoff(prev.failures))
                    .unwrap_or_default();
            let reloaded_since = reload_time().is_some_and(|t| t > last);
            let now = Utc::now();
            let retry_now = reloaded || reloaded_since || now >= at;
            let error = prev.error.clone().unwrap_or_default();
            if shared::first_warning(&self.database, &error) {
                warn!(
                    "cannot connect to database \"{}\": {}; no scheduled sync runs until it can. {} Next attempt {} (the wait doubles up to 5 minutes; SELECT pg_reload_conf() retries at once).",
                    self.database,
                    if error.is_empty() {
                        "the connection failed (see the FATAL line above)".to_string()
                    } else {
                        error.clone()
                    },
                    plan::CONNECT_ADVICE,
                    if retry_now {
                        "now".to_string()
                    } else {
                        format!("at {}", fmt_time(Some(at)))
                    }
                );
            }
            if retry_now {
                break;
            }
            shared::conn_waiting(at);
            wait(
                (at - now)
                    .to_std()
                    .unwrap_or_default()
                    .min(MAX_SLEEP)
                    .max(Duration::from_millis(10)),
            );
        }
        connect_to(&self.database);
    }

    /// The export after a successful scheduled sync (`bravo_metrics.export_after_sync`),
    /// in a transaction of its own; its failure is logged (and recorded in
    /// `bravo_export_runs`) and changes nothing about the sync.
    fn export(&mut self) {
        txn::report_activity(Some("export after the scheduled sync"));
        let result = txn::in_transaction(crate::export::scheduled);
        txn::report_activity(None);
        match result {
            Ok(line) => say!("{line}"),
            Err(message) => warn!("export after the scheduled sync failed: {message}"),
        }
    }

    /// Runs one sync and plans what follows it.
    fn fire(&mut self, due: Due) {
        let req = SyncRequest {
            grain: bravo_core::grain::Grain::Day,
            lookback_days: settings::SCHEDULER_LOOKBACK_DAYS.get(),
            trigger: due.kind.trigger(),
            overlap: settings::SCHEDULER_OVERLAP.get(),
            run_id: None,
            attempt: due.attempt,
            scope: None,
            changes_only: false,
        };
        txn::report_activity(Some(&format!("{} sync", due.kind.as_str())));
        let result = txn::in_transaction(|| exec::run(&req, true));
        txn::report_activity(None);
        let now = Utc::now();
        match &result {
            Ok(Outcome::NotInstalled) => {
                if !self.told_not_installed {
                    warn!(
                        "extension bravo_metrics is not installed in database \"{}\"; runs are skipped until it is (CREATE EXTENSION bravo_metrics)",
                        self.database
                    );
                    self.told_not_installed = true;
                }
            }
            Ok(outcome) => {
                self.told_not_installed = false;
                let line = exec::describe(due.kind.trigger(), due.attempt, outcome);
                match outcome {
                    Outcome::Succeeded { .. } => {
                        say!("{line}");
                        if settings::EXPORT_AFTER_SYNC.get() {
                            self.export();
                        }
                    }
                    _ => warn!("{line}"),
                }
            }
            Err(message) => warn!(
                "{} run (attempt {}) ended with an error: {message}",
                due.kind.as_str(),
                due.attempt
            ),
        }
        // Retries: after a failure (not after a cancel, a skip or success).
        let failed = matches!(
            result,
            Ok(Outcome::Failed {
                cancelled: false,
                ..
            }) | Err(_)
        );
        self.retry = None;
        if failed {
            let max = settings::SCHEDULER_MAX_RETRIES.get();
            let base = Duration::from_secs(settings::SCHEDULER_RETRY_BACKOFF_S.get().max(1) as u64);
            self.retry = plan::retry_after_failure(due.attempt, max, base, now);
            match self.retry {
                Some(r) => say!(
                    "retry {} of {max} at {}",
                    r.attempt - 1,
                    fmt_time(Some(r.at))
                ),
                None if max > 0 => warn!("giving up after {max} retries"),
                None => {}
            }
        }
        // Occurrences that passed while the run was going are not replayed.
        self.next_fire = self.slot.current().and_then(|s| s.next_after(now));
        // Bounded history even when no sync wrote a row.
        if let Err(e) = txn::in_transaction(|| match runlog::log_schema() {
            Ok(schema) => runlog::prune(&schema).map_err(|e| e.message),
            Err(_) => Ok(()),
        })
        .and_then(|r| r)
        {
            warn!("cannot prune the run log: {e}");
        }
    }

    /// At start: was a scheduled time missed while the server was down? A run that
    /// never finished (cut short by a crash: `running`, `interrupted`) or whose work
    /// rolled back does not count as having happened, as when such runs left no row.
    fn catch_up_due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let schedule = self.slot.current()?;
        let last = txn::in_transaction(|| {
            let Ok(schema) = runlog::log_schema() else {
                return None;
            };
            let triggers = sql_list(
                Trigger::ALL
                    .into_iter()
                    .filter(|t| t.is_scheduled())
                    .map(Trigger::as_str),
            );
            let not_started = sql_list(
                [
                    RunStatus::Running,
                    RunStatus::Interrupted,
                    RunStatus::RolledBack,
                ]
                .map(RunStatus::as_str),
            );
            // Runs of the daily families only (an hourly run is no daily run).
            Spi::get_one::<String>(&format!(
                "SELECT pg_catalog.to_char(pg_catalog.max(started_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') \
                   FROM {schema}.bravo_sync_runs r WHERE trigger IN ({triggers}) \
                    AND status NOT IN ({not_started}) \
                    AND coalesce(pg_catalog.to_jsonb(r) ->> 'grain', 'day') = 'day'"
            ))
            .ok()
            .flatten()
        });
        let last = match last {
            Ok(v) => v.and_then(|t| DateTime::parse_from_rfc3339(&t).ok()),
            Err(e) => {
                warn!("cannot read the run log: {e}");
                None
            }
        };
        plan::missed(schedule, now, last.map(|t| t.with_timezone(&Utc)))
    }

    /// Notifies families whose data became stale (or fresh again) although no run
    /// finished: time passing makes data stale too (`bravo._bravo_notify_staleness`,
    /// which runs after every run as well). Every
    /// `bravo_metrics.staleness_check_interval` seconds; not on a standby.
    fn check_staleness(&mut self, now: DateTime<Utc>) {
        let every = i64::from(settings::STALENESS_CHECK_INTERVAL.get().max(1));
        self.next_staleness = now + chrono::Duration::seconds(every);
        let r = txn::in_transaction(|| {
            let ready = Spi::get_one::<bool>(
                "SELECT NOT pg_catalog.pg_is_in_recovery() \
                    AND pg_catalog.to_regprocedure('bravo._bravo_notify_staleness(bigint)') IS NOT NULL",
            )
            .ok()
            .flatten()
            .unwrap_or(false);
            if !ready {
                return Ok(0);
            }
            Spi::get_one_with_args::<i32>(
                "SELECT bravo._bravo_notify_staleness($1)",
                &[Option::<i64>::None.into()],
            )
            .map(|n| n.unwrap_or(0))
        });
        match r {
            Ok(Ok(n)) if n > 0 => say!(
                "{n} famil{} became stale or fresh",
                if n == 1 { "y" } else { "ies" }
            ),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!("cannot check the data's staleness: {e}"),
            Err(e) => warn!("cannot check the data's staleness: {e}"),
        }
    }

    fn main_loop(&mut self) -> ! {
        let mut checked_catch_up = false;
        loop {
            if reload_pending() {
                self.reload();
            }
            let now = Utc::now();
            let due = if settings::SCHEDULER_ENABLED.get() {
                if !checked_catch_up {
                    checked_catch_up = true;
                    if let Some(missed) = self.catch_up_due(now) {
                        say!("missed the run of {}; catching up", fmt_time(Some(missed)));
                        let due = Due {
                            at: now,
                            kind: Kind::CatchUp,
                            attempt: 1,
                        };
                        shared::publish(Some(due));
                        self.fire(due);
                        continue;
                    }
                }
                plan::next_due(self.next_fire, self.retry)
            } else {
                // Runs missed while disabled are not caught up once enabled.
                checked_catch_up = true;
                self.retry = None;
                self.next_fire = self.slot.current().and_then(|s| s.next_after(now));
                None
            };
            shared::publish(due);
            if let Some(d) = due.filter(|d| d.at <= now) {
                self.fire(d);
                continue;
            }
            let (hourly, intraday) = if settings::SCHEDULER_ENABLED.get() {
                (self.hourly.next, self.intraday.next)
            } else {
                // Runs missed while disabled are not caught up once enabled.
                self.hourly.plan(now);
                self.intraday.plan(now);
                (None, None)
            };
            if hourly.is_some_and(|t| t <= now) {
                self.fire_side(SideKind::Hourly);
                continue;
            }
            if intraday.is_some_and(|t| t <= now) {
                self.fire_side(SideKind::Intraday);
                continue;
            }
            let staleness =
                (settings::STALENESS_CHECK_INTERVAL.get() > 0).then_some(self.next_staleness);
            if staleness.is_some_and(|t| t <= now) {
                self.check_staleness(now);
                continue;
            }
            let sleep = [due.map(|d| d.at), hourly, intraday, staleness]
                .into_iter()
                .flatten()
                .min()
                .and_then(|at| (at - now).to_std().ok())
                .map(|d| d + Duration::from_millis(1))
                .unwrap_or(MAX_SLEEP)
                .min(MAX_SLEEP);
            wait(sleep);
        }
    }
}

/// Has a SIGHUP asked for a reload? (`ConfigReloadPending`, set by pgrx's SIGHUP handler
/// as by PostgreSQL's; pgrx's own `sighup_received` keeps a separate flag that
/// `reload_config` would not clear.)
fn reload_pending() -> bool {
    // SAFETY: a volatile read of a sig_atomic_t that only this process's signal handler
    // and this thread write; volatile so the read is never hoisted out of a loop.
    unsafe { (&raw const pg_sys::ConfigReloadPending).read_volatile() != 0 }
}

/// Sleeps on the latch; a SIGTERM makes the interrupt check below exit the process.
fn wait(timeout: Duration) {
    // SAFETY: on the worker's main thread; MyLatch is the process's own latch, set up at
    // start. (pgrx's BackgroundWorker::wait_latch uses WL_POSTMASTER_DEATH and returns,
    // where WL_EXIT_ON_PM_DEATH exits, so it is not a drop-in replacement.)
    unsafe {
        pg_sys::WaitLatch(
            pg_sys::MyLatch,
            (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
            timeout.as_millis().min(i32::MAX as u128) as libc_long,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::ResetLatch(pg_sys::MyLatch);
    }
    pg_sys::check_for_interrupts!();
}

#[allow(non_camel_case_types)]
type libc_long = std::ffi::c_long;

fn fmt_time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "never".into())
}

/// Entry point of the scheduler worker.
#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn bravo_scheduler_main(_arg: pg_sys::Datum) {
    txn::install_sigterm_handler();
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP);
    shared::publish(None);
    let mut worker = Worker::new();
    worker.load_schedule(Utc::now());
    worker.connect();
    say!(
        "started in database \"{}\" ({})",
        worker.database,
        if settings::SCHEDULER_ENABLED.get() {
            "enabled"
        } else {
            "disabled: set bravo_metrics.scheduler_enabled = on"
        }
    );
    // Runs left `running` by a crash (this worker starts again after every restart).
    match txn::in_transaction(|| runlog::stale::sweep_here(0)) {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => say!("marked {n} run(s) left running by a crash or restart as interrupted"),
        Ok(Err(e)) => warn!("cannot mark interrupted runs: {}", e.message),
        Err(e) => warn!("cannot mark interrupted runs: {e}"),
    }
    worker.main_loop();
}

/// Set while this process connects: a FATAL then is a failed attempt.
static CONNECTING: AtomicBool = AtomicBool::new(false);
/// The message of the error that is ending the attempt.
static CONNECT_ERROR: Mutex<Option<String>> = Mutex::new(None);
static mut PREV_EMIT_LOG_HOOK: pg_sys::emit_log_hook_type = None;

/// Connects this process to `db`; a failure ends it (FATAL), recorded on the way out.
fn connect_to(db: &str) {
    shared::conn_begin(db);
    CONNECTING.store(true, Ordering::SeqCst);
    // SAFETY: on the worker's main thread, before it connects; PREV_EMIT_LOG_HOOK is
    // touched only on this thread (here, below and in the hook). The hook and exit
    // callback are `#[pg_guard]` functions with PostgreSQL's signatures that live as
    // long as the library; the exit callback ignores its zero Datum argument.
    unsafe {
        PREV_EMIT_LOG_HOOK = pg_sys::emit_log_hook;
        pg_sys::emit_log_hook = Some(catch_connect_error);
        pg_sys::before_shmem_exit(Some(record_failed_connect), pg_sys::Datum::from(0));
    }
    BackgroundWorker::connect_worker_to_spi(Some(db), None);
    CONNECTING.store(false, Ordering::SeqCst);
    // SAFETY: on the worker's main thread; puts back the hook saved above.
    unsafe {
        pg_sys::emit_log_hook = PREV_EMIT_LOG_HOOK;
    }
    shared::conn_ok();
}

/// Keeps the message of an error raised while connecting (no PostgreSQL calls here:
/// this runs while the error is being reported).
///
/// # Safety
///
/// Called by PostgreSQL only, as `emit_log_hook`, on the process's main thread, with
/// `edata` NULL or pointing at the error being reported.
#[pg_guard]
unsafe extern "C-unwind" fn catch_connect_error(edata: *mut pg_sys::ErrorData) {
    // SAFETY: per this function's contract, `edata` is NULL (checked) or valid for the
    // call, and its message NULL (checked) or NUL-terminated; the message is copied out.
    // PREV_EMIT_LOG_HOOK was saved on this thread before this hook was installed, and is
    // passed the same `edata`, as PostgreSQL's hook chaining expects.
    unsafe {
        if CONNECTING.load(Ordering::SeqCst)
            && !edata.is_null()
            && (*edata).elevel >= pg_sys::PGERROR as i32
            && !(*edata).message.is_null()
        {
            let m = std::ffi::CStr::from_ptr((*edata).message)
                .to_string_lossy()
                .into_owned();
            if let Ok(mut slot) = CONNECT_ERROR.lock() {
                *slot = Some(m);
            }
        }
        if let Some(prev) = PREV_EMIT_LOG_HOOK {
            prev(edata);
        }
    }
}

/// On the way out of the process: an attempt still in progress failed.
///
/// # Safety
///
/// Called by PostgreSQL only, as a `before_shmem_exit` callback on the process's main
/// thread (shared memory is still attached); the arguments are not used.
#[pg_guard]
unsafe extern "C-unwind" fn record_failed_connect(_code: std::ffi::c_int, _arg: pg_sys::Datum) {
    if CONNECTING.load(Ordering::SeqCst) {
        let error = CONNECT_ERROR.lock().ok().and_then(|mut e| e.take());
        shared::conn_failed(error.as_deref());
    }
}
