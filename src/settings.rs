//! Every setting of the extension, under the one reserved prefix `bravo_metrics.`.
//!
//! Secrets are never settings: `snowflake_secret_file` and
//! `snowflake_private_key_passphrase_file` name files readable by the server's OS user
//! only (see `secrets.rs`), so no password, token or key ever reaches `pg_settings`,
//! `pg_db_role_setting` or `postgresql.auto.conf`.
//!
//! Settings that change where data comes from or how much may be deleted are `SUSET`
//! (superuser, `ALTER SYSTEM`, or `ALTER DATABASE/ROLE ... SET` by a superuser); the
//! scheduler's own settings are `SIGHUP` (postgresql.conf / `ALTER SYSTEM` + reload).

use std::ffi::{c_char, c_void, CStr, CString};

use bravo_core::source::parse_relation;
use bravo_core::target::Target;
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};
use pgrx::{pg_guard, pg_sys};

pub const PREFIX: &str = "bravo_metrics";

/// How the extension authenticates to Snowflake. The documented names are
/// `password`, `key_pair`, `programmatic_access_token` and `oauth`; 0.2.0's spellings
/// `KeyPair` and `ProgrammaticAccessToken` stay accepted as hidden aliases (PostgreSQL
/// matches enum names case-insensitively). Read it through [`authenticator`], which
/// folds the aliases.
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum Authenticator {
    /// Login name + password read from `snowflake_secret_file`.
    #[name = c"password"]
    Password,
    /// RS256 JWT signed with the PEM private key in `snowflake_secret_file`.
    #[name = c"key_pair"]
    KeyPair,
    /// Programmatic access token read from `snowflake_secret_file`.
    #[name = c"programmatic_access_token"]
    ProgrammaticAccessToken,
    /// OAuth access token read from `snowflake_secret_file`.
    #[name = c"oauth"]
    Oauth,
    /// Alias of `key_pair` (0.2.0's spelling).
    #[name = c"KeyPair"]
    #[hidden = true]
    KeyPairAlias,
    /// Alias of `programmatic_access_token` (0.2.0's spelling).
    #[name = c"ProgrammaticAccessToken"]
    #[hidden = true]
    ProgrammaticAccessTokenAlias,
}

/// The configured authenticator, aliases folded into their documented name.
pub fn authenticator() -> Authenticator {
    match SNOWFLAKE_AUTHENTICATOR.get() {
        Authenticator::KeyPairAlias => Authenticator::KeyPair,
        Authenticator::ProgrammaticAccessTokenAlias => Authenticator::ProgrammaticAccessToken,
        a => a,
    }
}

/// What a sync does when another one holds the lock.
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum OverlapPolicy {
    /// Fail fast (manual call) or skip the run and log it as skipped (scheduler).
    Skip,
    /// Wait for the running sync to finish, then run.
    Wait,
}

/// A manual call's `wait` argument as a policy: `true` waits, `false` skips, NULL
/// takes `bravo_metrics.sync_overlap`.
pub fn overlap_policy(wait: Option<bool>) -> OverlapPolicy {
    match wait {
        Some(true) => OverlapPolicy::Wait,
        Some(false) => OverlapPolicy::Skip,
        None => SYNC_OVERLAP.get(),
    }
}

// ---------------------------------------------------------------------------------------
// Snowflake connection (SUSET).
/// Account identifier, e.g. `xy12345.us-east-2.aws` or `myorg-myaccount`. Default: empty.
pub static SNOWFLAKE_ACCOUNT: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
/// Login name. Default: empty.
pub static SNOWFLAKE_USER: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Default: password.
pub static SNOWFLAKE_AUTHENTICATOR: GucSetting<Authenticator> =
    GucSetting::<Authenticator>::new(Authenticator::Password);
/// File holding the password / token / PEM key. Default: empty.
pub static SNOWFLAKE_SECRET_FILE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
/// File holding the passphrase of an encrypted PEM key. Default: empty (key not encrypted).
pub static SNOWFLAKE_PASSPHRASE_FILE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
pub static SNOWFLAKE_WAREHOUSE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
pub static SNOWFLAKE_ROLE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static SNOWFLAKE_DATABASE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
pub static SNOWFLAKE_SCHEMA: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Legacy region parameter; usually part of the account instead. Default: empty.
pub static SNOWFLAKE_REGION: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Endpoint override: `https` (default when empty) or `http`.
pub static SNOWFLAKE_PROTOCOL: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
/// Endpoint override: host. Default: derived from the account.
pub static SNOWFLAKE_HOST: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Endpoint override: port; 0 means the protocol's default.
pub static SNOWFLAKE_PORT: GucSetting<i32> = GucSetting::<i32>::new(0);
/// Allow plain http to a non-loopback host. Default: off.
pub static SNOWFLAKE_ALLOW_INSECURE_HTTP: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Retries of a retryable request (spec: 7).
pub static SNOWFLAKE_MAX_RETRIES: GucSetting<i32> = GucSetting::<i32>::new(7);
/// Total deadline of one login, seconds (default 300).
pub static SNOWFLAKE_LOGIN_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(300);
/// Timeout of one HTTP request, seconds (default 90: a long-poll lasts about 45 s).
pub static SNOWFLAKE_REQUEST_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(90);
/// Timeout of one TCP connect + TLS handshake, seconds (default 10).
pub static SNOWFLAKE_CONNECT_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(10);
/// Time one sync may spend retrying failed Snowflake requests, seconds (default 30);
/// 0 disables retries. A refused or dead endpoint fails within it.
pub static SNOWFLAKE_RETRY_BUDGET: GucSetting<i32> = GucSetting::<i32>::new(30);
/// Driver id sent as CLIENT_APP_ID (default: gosnowflake's, `Go`).
pub static SNOWFLAKE_CLIENT_APP_ID: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"Go"));
/// Driver version sent as CLIENT_APP_VERSION (default: gosnowflake 2.1.0, current in
/// November 2026). Snowflake retires old driver versions: raise it when it does.
pub static SNOWFLAKE_CLIENT_APP_VERSION: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"2.1.0"));
/// Chunks downloaded ahead of the merge (default 4).
pub static SNOWFLAKE_CHUNK_PREFETCH: GucSetting<i32> = GucSetting::<i32>::new(4);
/// QUERY_TAG sent with every source query (default `bravo_metrics`).
pub static SNOWFLAKE_QUERY_TAG: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"bravo_metrics"));

// ---------------------------------------------------------------------------------------
// Sources (SUSET).
/// Snowflake relation feeding `platform_buy_daily_impressions`.
pub static IMPRESSIONS_SOURCE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"PLATFORM_BUY_DAILY_IMPRESSIONS"));
/// Snowflake relation feeding `platform_buy_daily_videos`.
pub static VIDEOS_SOURCE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"PLATFORM_BUY_DAILY_VIDEOS"));

/// The setting naming a family's Snowflake relation, for the families that had one
/// before the catalog (0.4.0) made sources data; the catalog's `source_relation` takes
/// precedence over it.
fn source_setting(family: &str) -> Option<&'static GucSetting<Option<CString>>> {
    match family {
        "impressions" => Some(&IMPRESSIONS_SOURCE),
        "videos" => Some(&VIDEOS_SOURCE),
        _ => None,
    }
}

/// The Snowflake relation feeding `target`, parsed and re-rendered for SQL text: the
/// catalog's `source_relation`; else the family's setting (impressions, videos) when
/// set; else the table's name in upper case.
pub fn source_relation(target: &Target) -> Result<String, String> {
    let text = match &target.source {
        Some(s) => s.clone(),
        None => source_setting(&target.name)
            .and_then(get_str)
            .unwrap_or_else(|| target.default_source()),
    };
    parse_relation(&text)
}

// ---------------------------------------------------------------------------------------
// Where the media tool's tables are.
/// Schema of `media_buys` and the metric tables; unset: the extension's schema.
pub static MEDIA_TOOL_SCHEMA: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);

// Sync behaviour.
/// Time zone whose calendar defines "today" for the lookback window (default UTC).
pub static SYNC_TIME_ZONE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"UTC"));
/// Hourly families: the lookback of `bravo_sync_hourly()` when none is given, days
/// (default 3: platforms revise hours for a few days, not a month).
pub static HOURLY_LOOKBACK_DAYS: GucSetting<i32> = GucSetting::<i32>::new(3);
/// Hourly families: the zone a `TIMESTAMP_NTZ` hour is read in, unless the family's
/// catalog row names one (default UTC).
pub static HOURLY_SOURCE_TIME_ZONE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"UTC"));
/// Largest lookback a sync accepts, days (default 400).
pub static MAX_LOOKBACK_DAYS: GucSetting<i32> = GucSetting::<i32>::new(400);
/// Delete target rows inside the window that the source no longer returns (default off).
pub static DELETE_MISSING: GucSetting<bool> = GucSetting::<bool>::new(false);
/// A sync that would delete more than this fraction of the window's rows fails (default 0.1).
pub static DELETE_MAX_FRACTION: GucSetting<f64> = GucSetting::<f64>::new(0.10);
/// What a manual sync does when another one runs: skip = fail fast (default), wait.
pub static SYNC_OVERLAP: GucSetting<OverlapPolicy> =
    GucSetting::<OverlapPolicy>::new(OverlapPolicy::Skip);
/// Run-log retention in days; older runs are pruned by each sync. 0 keeps everything (default 90).
pub static RUN_RETENTION_DAYS: GucSetting<i32> = GucSetting::<i32>::new(90);
/// Interval between progress NOTICEs, milliseconds; 0 disables them (default 5000).
pub static PROGRESS_INTERVAL_MS: GucSetting<i32> = GucSetting::<i32>::new(5000);

/// Internal: set (transaction-locally) while the reporting rollup re-attaches its
/// triggers, so its own event trigger ignores them. Not for users; hidden.
pub static REPORT_ATTACHING: GucSetting<bool> = GucSetting::<bool>::new(false);

// ---------------------------------------------------------------------------------------
// Scheduler (SIGHUP).
/// Run scheduled syncs (default off).
pub static SCHEDULER_ENABLED: GucSetting<bool> = GucSetting::<bool>::new(false);
/// Cron expression (5 fields, 6 with seconds first, or @hourly/@daily/@weekly/@monthly/
/// @yearly; no year field; must fire within 5 years). Default: 02:15 every day.
pub static SCHEDULE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"15 2 * * *"));
/// Cron expression of the hourly families' sync (`bravo_sync_hourly`, with
/// `hourly_lookback_days`), in `schedule_time_zone`; empty (the default): none.
pub static HOURLY_SCHEDULE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
/// Cron expression of the intraday refresh (`bravo_sync_intraday`, over
/// `scheduler_lookback_days`), in `schedule_time_zone`; empty (the default): none.
pub static INTRADAY_SCHEDULE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
/// The intraday refresh asks for rows changed after the high-water mark minus this
/// many seconds (default 3600): rows committed late with an older change time.
pub static INTRADAY_SAFETY_LAG: GucSetting<i32> = GucSetting::<i32>::new(3600);
/// IANA time zone of the schedule (default UTC).
pub static SCHEDULE_TIME_ZONE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"UTC"));
/// Database the scheduler syncs (default postgres). `ALTER SYSTEM` refuses one that
/// does not exist.
pub static SCHEDULER_DATABASE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"postgres"));
/// Lookback of scheduled runs, days (default 30).
pub static SCHEDULER_LOOKBACK_DAYS: GucSetting<i32> = GucSetting::<i32>::new(30);
/// Retries of a failed scheduled run (default 3).
pub static SCHEDULER_MAX_RETRIES: GucSetting<i32> = GucSetting::<i32>::new(3);
/// First retry delay in seconds; doubles on each retry (default 60).
pub static SCHEDULER_RETRY_BACKOFF_S: GucSetting<i32> = GucSetting::<i32>::new(60);
/// What a scheduled run does when a sync is already running: skip (default) or wait.
pub static SCHEDULER_OVERLAP: GucSetting<OverlapPolicy> =
    GucSetting::<OverlapPolicy>::new(OverlapPolicy::Skip);

// ---------------------------------------------------------------------------------------
// The complete export (SUSET: where the data goes and with which credentials).
/// Default destination of `bravo_export`: `s3://bucket/prefix/` or `file:///dir`.
pub static EXPORT_DESTINATION: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
/// An S3-compatible endpoint (`http://127.0.0.1:9000`); empty: AWS.
pub static EXPORT_S3_ENDPOINT: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
/// The bucket's region. Default: `us-east-1`.
pub static EXPORT_S3_REGION: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"us-east-1"));
/// File with S3 credentials (AWS format); empty: the environment and instance chain.
pub static EXPORT_CREDENTIALS_FILE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
/// The directory `file://` destinations must lie under; empty: none allowed.
pub static EXPORT_ALLOWED_DIRECTORY: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
/// gzip level of the archive, 1 (fastest) to 9 (smallest); 3 by default (see the README).
pub static EXPORT_GZIP_LEVEL: GucSetting<i32> = GucSetting::<i32>::new(3);
/// `bravo_doctor()`: the lag (days behind today) a metric table may have before it
/// warns (twice that: fails).
pub static EXPECTED_LAG_DAYS: GucSetting<i32> = GucSetting::<i32>::new(2);
/// `bravo_doctor()`: a drop of the last 7 days' rows against the 7 before beyond this
/// percentage warns.
pub static VOLUME_DROP_PERCENT: GucSetting<i32> = GucSetting::<i32>::new(50);
/// The scheduler checks every this many seconds whether a family's data became stale
/// (or fresh) while no run finished, and notifies it; 0: only after runs.
pub static STALENESS_CHECK_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(3600);
/// Threads compressing an export's archive at once.
pub static EXPORT_GZIP_THREADS: GucSetting<i32> = GucSetting::<i32>::new(2);
/// The scheduler exports (to `export_destination`) after each successful scheduled
/// daily sync.
pub static EXPORT_AFTER_SYNC: GucSetting<bool> = GucSetting::<bool>::new(false);

fn s(
    name: &'static CStr,
    short: &'static CStr,
    setting: &'static GucSetting<Option<CString>>,
    ctx: GucContext,
    flags: GucFlags,
) {
    GucRegistry::define_string_guc(name, short, c"", setting, ctx, flags);
}

/// Registers every setting and reserves the prefix. Called from `_PG_init`.
pub fn init() {
    let hidden = GucFlags::SUPERUSER_ONLY;
    s(
        c"bravo_metrics.snowflake_account",
        c"Snowflake account identifier.",
        &SNOWFLAKE_ACCOUNT,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_user",
        c"Snowflake login name.",
        &SNOWFLAKE_USER,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"bravo_metrics.snowflake_authenticator",
        c"How to authenticate to Snowflake: password, key_pair, programmatic_access_token or oauth.",
        c"",
        &SNOWFLAKE_AUTHENTICATOR,
        GucContext::Suset,
        GucFlags::default(),
    );
    // SAFETY: define_string_guc_with_hooks requires `#[pg_guard]` hooks, which
    // `check_secret_path` is; `_PG_init` runs on the process's main thread, and the names,
    // texts and settings are `'static`.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"bravo_metrics.snowflake_secret_file",
            c"File with the password, token or PEM private key (mode 0600).",
            c"Superuser only. Set it in postgresql.conf or with ALTER SYSTEM: ALTER DATABASE/ROLE SET would store the path in pg_db_role_setting, which every role can read, so those are refused.",
            &SNOWFLAKE_SECRET_FILE,
            GucContext::Suset,
            hidden,
            Some(check_secret_path),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"bravo_metrics.snowflake_private_key_passphrase_file",
            c"File with the passphrase of an encrypted private key.",
            c"Superuser only; postgresql.conf or ALTER SYSTEM, like snowflake_secret_file.",
            &SNOWFLAKE_PASSPHRASE_FILE,
            GucContext::Suset,
            hidden,
            Some(check_secret_path),
            None,
            None,
        );
    }
    s(
        c"bravo_metrics.snowflake_warehouse",
        c"Snowflake warehouse.",
        &SNOWFLAKE_WAREHOUSE,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_role",
        c"Snowflake role.",
        &SNOWFLAKE_ROLE,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_database",
        c"Snowflake database.",
        &SNOWFLAKE_DATABASE,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_schema",
        c"Snowflake schema.",
        &SNOWFLAKE_SCHEMA,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_region",
        c"Legacy Snowflake region parameter.",
        &SNOWFLAKE_REGION,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_protocol",
        c"Endpoint override: http or https.",
        &SNOWFLAKE_PROTOCOL,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_host",
        c"Endpoint override: host name.",
        &SNOWFLAKE_HOST,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.snowflake_port",
        c"Endpoint override: port (0 = default).",
        c"",
        &SNOWFLAKE_PORT,
        0,
        65535,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"bravo_metrics.snowflake_allow_insecure_http",
        c"Allow plain http to a non-loopback host.",
        c"",
        &SNOWFLAKE_ALLOW_INSECURE_HTTP,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.snowflake_max_retries",
        c"Retries of a retryable Snowflake request.",
        c"",
        &SNOWFLAKE_MAX_RETRIES,
        0,
        20,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.snowflake_login_timeout",
        c"Total deadline of a Snowflake login.",
        c"",
        &SNOWFLAKE_LOGIN_TIMEOUT,
        1,
        3600,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.snowflake_request_timeout",
        c"Timeout of one Snowflake HTTP request.",
        c"",
        &SNOWFLAKE_REQUEST_TIMEOUT,
        1,
        3600,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.snowflake_connect_timeout",
        c"Timeout of one TCP connect and TLS handshake to Snowflake.",
        c"Separate from snowflake_request_timeout, which bounds waiting for an answer.",
        &SNOWFLAKE_CONNECT_TIMEOUT,
        1,
        600,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.snowflake_retry_budget",
        c"Time one sync may spend retrying failed Snowflake requests (0 = no retries).",
        c"Shared by login, query, result polls and chunk downloads of a sync; each retry is logged. A refused or dead endpoint fails within it.",
        &SNOWFLAKE_RETRY_BUDGET,
        0,
        3600,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    s(
        c"bravo_metrics.snowflake_client_app_id",
        c"Driver id sent to Snowflake as CLIENT_APP_ID (default Go).",
        &SNOWFLAKE_CLIENT_APP_ID,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_client_app_version",
        c"Driver version sent to Snowflake as CLIENT_APP_VERSION (default 2.1.0).",
        &SNOWFLAKE_CLIENT_APP_VERSION,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.snowflake_chunk_prefetch",
        c"Result chunks downloaded ahead.",
        c"",
        &SNOWFLAKE_CHUNK_PREFETCH,
        1,
        16,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"bravo_metrics.media_tool_schema",
        c"Schema of the media tool's tables (media_buys and the metric tables); empty: the extension's schema.",
        c"After changing it, run SELECT bravo_report_attach() so that the reports and rollups follow.",
        &MEDIA_TOOL_SCHEMA,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_query_tag",
        c"QUERY_TAG of the source queries.",
        &SNOWFLAKE_QUERY_TAG,
        GucContext::Suset,
        GucFlags::default(),
    );

    // SAFETY: define_string_guc_with_hooks requires `#[pg_guard]` hooks, which
    // `check_source` and `check_time_zone` are; `_PG_init` runs on the process's main thread,
    // and the names, texts and settings are `'static`.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"bravo_metrics.impressions_source",
            c"Snowflake relation feeding platform_buy_daily_impressions.",
            c"",
            &IMPRESSIONS_SOURCE,
            GucContext::Suset,
            GucFlags::default(),
            Some(check_source),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"bravo_metrics.videos_source",
            c"Snowflake relation feeding platform_buy_daily_videos.",
            c"",
            &VIDEOS_SOURCE,
            GucContext::Suset,
            GucFlags::default(),
            Some(check_source),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"bravo_metrics.sync_time_zone",
            c"Time zone whose calendar defines today for the lookback window.",
            c"",
            &SYNC_TIME_ZONE,
            GucContext::Userset,
            GucFlags::default(),
            Some(check_time_zone),
            None,
            None,
        );
    }
    GucRegistry::define_int_guc(
        c"bravo_metrics.hourly_lookback_days",
        c"Lookback of bravo_sync_hourly() (and the hourly schedule), days.",
        c"",
        &HOURLY_LOOKBACK_DAYS,
        1,
        36600,
        GucContext::Suset,
        GucFlags::default(),
    );
    // SAFETY: as the other string settings with hooks above (static storage, a hook
    // with PostgreSQL's check-hook signature).
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"bravo_metrics.hourly_source_time_zone",
            c"Zone of TIMESTAMP_NTZ hours in hourly sources (bravo_families.source_time_zone overrides it).",
            c"",
            &HOURLY_SOURCE_TIME_ZONE,
            GucContext::Suset,
            GucFlags::default(),
            Some(check_time_zone),
            None,
            None,
        );
    }
    GucRegistry::define_int_guc(
        c"bravo_metrics.max_lookback_days",
        c"Largest lookback_days a sync accepts.",
        c"",
        &MAX_LOOKBACK_DAYS,
        1,
        36600,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"bravo_metrics.delete_missing",
        c"Delete window rows that the source no longer returns.",
        c"",
        &DELETE_MISSING,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"bravo_metrics.delete_max_fraction",
        c"Largest fraction of the window a sync may delete.",
        c"",
        &DELETE_MAX_FRACTION,
        0.0,
        1.0,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"bravo_metrics.sync_overlap",
        c"When another sync runs: skip (fail fast) or wait.",
        c"",
        &SYNC_OVERLAP,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.run_retention_days",
        c"Days of run history kept (0 = forever).",
        c"",
        &RUN_RETENTION_DAYS,
        0,
        36600,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.progress_interval",
        c"Interval between progress NOTICEs (0 = none).",
        c"",
        &PROGRESS_INTERVAL_MS,
        0,
        3_600_000,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );

    GucRegistry::define_bool_guc(
        c"bravo_metrics.report_attaching",
        c"Internal: the reporting rollup is re-attaching its triggers.",
        c"",
        &REPORT_ATTACHING,
        GucContext::Userset,
        GucFlags::NO_SHOW_ALL | GucFlags::NO_RESET_ALL,
    );
    GucRegistry::define_bool_guc(
        c"bravo_metrics.scheduler_enabled",
        c"Run scheduled syncs.",
        c"",
        &SCHEDULER_ENABLED,
        GucContext::Sighup,
        GucFlags::default(),
    );
    // SAFETY: define_string_guc_with_hooks requires `#[pg_guard]` hooks, which
    // `check_iana_zone` and `check_schedule` are; `_PG_init` runs on the process's main
    // thread, and the names, texts and settings are `'static`.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"bravo_metrics.schedule",
            c"Cron expression of the scheduled sync.",
            c"",
            &SCHEDULE,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_schedule),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"bravo_metrics.hourly_schedule",
            c"Cron expression of the hourly families' scheduled sync (empty: none).",
            c"",
            &HOURLY_SCHEDULE,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_hourly_schedule),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"bravo_metrics.intraday_schedule",
            c"Cron expression of the scheduled intraday refresh (bravo_sync_intraday; empty: none).",
            c"Between the window syncs, the intraday refresh fetches only the rows of the window whose change column (bravo_families.change_column) is later than the family's high-water mark minus bravo_metrics.intraday_safety_lag; for example */15 * * * *. Runs only while scheduler_enabled is on; in schedule_time_zone.",
            &INTRADAY_SCHEDULE,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_hourly_schedule),
            None,
            None,
        );
        GucRegistry::define_string_guc_with_hooks(
            c"bravo_metrics.schedule_time_zone",
            c"IANA time zone of the schedule.",
            c"",
            &SCHEDULE_TIME_ZONE,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_iana_zone),
            None,
            None,
        );
    }
    // SAFETY: define_string_guc_with_hooks requires `#[pg_guard]` hooks, which
    // `check_scheduler_database` is; `_PG_init` runs on the process's main thread, and the
    // names, texts and settings are `'static`.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"bravo_metrics.scheduler_database",
            c"Database the scheduler syncs.",
            c"",
            &SCHEDULER_DATABASE,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_scheduler_database),
            None,
            None,
        );
    }
    GucRegistry::define_int_guc(
        c"bravo_metrics.scheduler_lookback_days",
        c"Lookback of scheduled runs.",
        c"",
        &SCHEDULER_LOOKBACK_DAYS,
        1,
        36600,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.scheduler_max_retries",
        c"Retries of a failed scheduled run.",
        c"",
        &SCHEDULER_MAX_RETRIES,
        0,
        100,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.scheduler_retry_backoff",
        c"First retry delay; doubles each retry.",
        c"",
        &SCHEDULER_RETRY_BACKOFF_S,
        1,
        86400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_enum_guc(
        c"bravo_metrics.scheduler_overlap",
        c"When a sync already runs: skip or wait.",
        c"",
        &SCHEDULER_OVERLAP,
        GucContext::Sighup,
        GucFlags::default(),
    );

    s(
        c"bravo_metrics.export_destination",
        c"Default destination of bravo_export: s3://bucket/prefix/ or file:///directory.",
        &EXPORT_DESTINATION,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.export_s3_endpoint",
        c"S3-compatible endpoint of export destinations (empty: AWS).",
        &EXPORT_S3_ENDPOINT,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"bravo_metrics.export_s3_region",
        c"Region of the export bucket.",
        c"",
        &EXPORT_S3_REGION,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.export_allowed_directory",
        c"Directory that file:// export destinations must lie under (empty: none).",
        &EXPORT_ALLOWED_DIRECTORY,
        GucContext::Suset,
        hidden,
    );
    // SAFETY: as for the secret files above.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"bravo_metrics.export_credentials_file",
            c"File with the S3 credentials of exports, AWS format (mode 0600).",
            c"Superuser only; postgresql.conf or ALTER SYSTEM, like snowflake_secret_file. Empty: the AWS environment and instance credentials.",
            &EXPORT_CREDENTIALS_FILE,
            GucContext::Suset,
            hidden,
            Some(check_secret_path),
            None,
            None,
        );
    }
    GucRegistry::define_bool_guc(
        c"bravo_metrics.export_after_sync",
        c"Export to bravo_metrics.export_destination after each successful scheduled daily sync.",
        c"",
        &EXPORT_AFTER_SYNC,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.export_gzip_level",
        c"gzip level of export archives, 1 (fastest) to 9 (smallest).",
        c"3 compresses an export's CSV and JSON about twice as fast as 6 for an archive about a quarter larger.",
        &EXPORT_GZIP_LEVEL,
        1,
        9,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.expected_lag_days",
        c"Days a metric table may lag behind today before bravo_doctor() warns (twice that: fails).",
        c"Snowflake's data usually lags one to two days; today is in bravo_metrics.sync_time_zone.",
        &EXPECTED_LAG_DAYS,
        0,
        365,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.intraday_safety_lag",
        c"The intraday refresh fetches rows changed after the high-water mark minus this long.",
        c"Covers rows that Snowflake commits late with an older change time. A row whose change time is older still is caught by the next window sync (bravo_sync), which compares every row.",
        &INTRADAY_SAFETY_LAG,
        0,
        7 * 86_400,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.staleness_check_interval",
        c"Seconds between the scheduler's checks for families whose data became stale or fresh while no run finished (0: only after runs).",
        c"Changes are notified on channel bravo_metrics as stale / fresh events, once each.",
        &STALENESS_CHECK_INTERVAL,
        0,
        86_400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.volume_drop_percent",
        c"bravo_doctor() warns when a metric table's last 7 days have this many percent fewer rows than the 7 before.",
        c"",
        &VOLUME_DROP_PERCENT,
        1,
        100,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.export_gzip_threads",
        c"Threads compressing an export archive at once (besides the exporting backend).",
        c"The archive is still one ordinary gzip stream; each thread compresses 1 MiB blocks.",
        &EXPORT_GZIP_THREADS,
        1,
        16,
        GucContext::Suset,
        GucFlags::default(),
    );

    // SAFETY: in `_PG_init`, on the main thread, after the settings above are defined
    // (as PostgreSQL requires); the prefix is a 'static NUL-terminated string.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"bravo_metrics".as_ptr()) };
}

/// The string value of a setting, `None` when empty.
pub fn get_str(setting: &GucSetting<Option<CString>>) -> Option<String> {
    setting
        .get()
        .map(|c| c.to_string_lossy().trim().to_string())
        .filter(|v| !v.is_empty())
}

// ---------------------------------------------------------------------------------------
// Check hooks: a bad value is refused when it is set, with a HINT.

/// Refuses the value being checked, with `msg` as DETAIL and `hint` as HINT; returns
/// `false` for the hook to return.
///
/// # Safety
///
/// Only from a GUC check hook, on the process's main thread: PostgreSQL reads (and then
/// clears) the `GUC_check_*` variables right after the hook returns false.
unsafe fn reject(msg: &str, hint: &str) -> bool {
    // SAFETY: per this function's contract. pstrdup copies the strings into the current
    // memory context (as GUC_check_errdetail/errhint do in C), so the copies outlive `m`
    // and `h`, which drop at the end of the block; the SQLSTATE is a valid error code.
    unsafe {
        let m = CString::new(msg).unwrap_or_default();
        let h = CString::new(hint).unwrap_or_default();
        pg_sys::GUC_check_errcode(pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE as i32);
        pg_sys::GUC_check_errdetail_string = pg_sys::pstrdup(m.as_ptr());
        pg_sys::GUC_check_errhint_string = pg_sys::pstrdup(h.as_ptr());
    }
    false
}

/// The proposed value a string check hook was given, copied; `None` for NULL.
///
/// # Safety
///
/// `newval` must be the `newval` argument of a string check hook: NULL, or pointing at
/// NULL or at a NUL-terminated string that PostgreSQL owns for the hook's call.
unsafe fn value_of(newval: *mut *mut c_char) -> Option<String> {
    // SAFETY: per this function's contract; both pointers are checked for NULL, and the
    // string is copied before the hook returns.
    unsafe {
        if newval.is_null() || (*newval).is_null() {
            return None;
        }
        Some(CStr::from_ptr(*newval).to_string_lossy().into_owned())
    }
}

/// Check hook of `impressions_source` and `videos_source`.
///
/// # Safety
///
/// A GUC check hook: called by PostgreSQL only, on the process's main thread, with
/// `newval` as [`value_of`] requires.
#[pg_guard]
unsafe extern "C-unwind" fn check_source(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: `newval` is this hook's argument (the hook's contract).
    let Some(v) = (unsafe { value_of(newval) }) else {
        return true;
    };
    match parse_relation(&v) {
        Ok(_) => true,
        // SAFETY: inside a check hook (this function).
        Err(e) => unsafe {
            reject(&e, "Give a Snowflake relation as name, schema.name or database.schema.name; quote parts with \"...\" when needed.")
        },
    }
}

/// Secret file paths are visible to superusers only: `SHOW` and `pg_settings` hide
/// them (`GUC_SUPERUSER_ONLY`), but `ALTER DATABASE/ROLE ... SET` (and a function's
/// `SET` clause) would store them in catalogs every role can read
/// (`pg_db_role_setting`, `pg_proc.proconfig`). Those are validated with source
/// `PGC_S_TEST` and applied at login with the database / role sources: refuse all of
/// them, with the way that works.
///
/// # Safety
///
/// A GUC check hook: called by PostgreSQL only, on the process's main thread, with
/// `newval` as [`value_of`] requires.
#[pg_guard]
unsafe extern "C-unwind" fn check_secret_path(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    source: pg_sys::GucSource::Type,
) -> bool {
    use pg_sys::GucSource::*;
    // SAFETY: `newval` is this hook's argument (the hook's contract).
    let empty = unsafe { value_of(newval) }.is_none_or(|v| v.trim().is_empty());
    if empty {
        return true;
    }
    if matches!(
        source,
        PGC_S_TEST | PGC_S_DATABASE | PGC_S_USER | PGC_S_DATABASE_USER
    ) {
        // SAFETY: inside a check hook (this function).
        return unsafe {
            reject(
                "secret file paths cannot be set per database, per role or per function: pg_db_role_setting and pg_proc are readable by every role.",
                "Use ALTER SYSTEM SET (for example bravo_metrics.snowflake_secret_file or bravo_metrics.export_credentials_file = '...'); SELECT pg_reload_conf(); (or postgresql.conf). Remove a database-level value with ALTER DATABASE ... RESET and the setting's name.",
            )
        };
    }
    true
}

/// Check hook of time zone settings.
///
/// # Safety
///
/// A GUC check hook: called by PostgreSQL only, on the process's main thread, with
/// `newval` as [`value_of`] requires.
#[pg_guard]
unsafe extern "C-unwind" fn check_time_zone(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: `newval` is this hook's argument (the hook's contract).
    let Some(v) = (unsafe { value_of(newval) }) else {
        return true;
    };
    if v.trim().is_empty() || bravo_core::schedule::zone::parse_iana(&v).is_ok() {
        return true;
    }
    // SAFETY: inside a check hook (this function).
    unsafe {
        reject(
            &format!("\"{v}\" is not a known IANA time zone."),
            "Use a name such as UTC, America/New_York or Europe/Paris.",
        )
    }
}

/// Check hook of `schedule_time_zone`.
///
/// # Safety
///
/// A GUC check hook: called by PostgreSQL only, on the process's main thread, with
/// `newval` as [`value_of`] requires.
#[pg_guard]
unsafe extern "C-unwind" fn check_iana_zone(
    newval: *mut *mut c_char,
    extra: *mut *mut c_void,
    source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: forwards this hook's own arguments to another check hook with the same
    // contract, on the same thread.
    unsafe { check_time_zone(newval, extra, source) }
}

/// Check hook of `schedule`.
///
/// # Safety
///
/// A GUC check hook: called by PostgreSQL only, on the process's main thread, with
/// `newval` as [`value_of`] requires.
#[pg_guard]
unsafe extern "C-unwind" fn check_schedule(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: `newval` is this hook's argument (the hook's contract).
    let Some(v) = (unsafe { value_of(newval) }) else {
        return true;
    };
    match bravo_core::schedule::check_schedule_value(&v) {
        Ok(()) => true,
        // SAFETY: inside a check hook (this function).
        Err(e) => unsafe { reject(&e, bravo_core::schedule::cron::SYNTAX) },
    }
}

/// Check hook of `hourly_schedule` and `intraday_schedule`: empty (none) or a schedule.
///
/// # Safety
///
/// A GUC check hook: called by PostgreSQL only, on the process's main thread, with
/// `newval` as [`value_of`] requires.
#[pg_guard]
unsafe extern "C-unwind" fn check_hourly_schedule(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: `newval` is this hook's argument (the hook's contract).
    let Some(v) = (unsafe { value_of(newval) }).filter(|v| !v.trim().is_empty()) else {
        return true;
    };
    match bravo_core::schedule::check_schedule_value(&v) {
        Ok(()) => true,
        // SAFETY: inside a check hook (this function).
        Err(e) => unsafe { reject(&e, bravo_core::schedule::cron::SYNTAX) },
    }
}

/// Check hook of `scheduler_database`.
///
/// # Safety
///
/// A GUC check hook: called by PostgreSQL only, on the process's main thread, with
/// `newval` as [`value_of`] requires.
#[pg_guard]
unsafe extern "C-unwind" fn check_scheduler_database(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: `newval` is this hook's argument (the hook's contract).
    let Some(v) = (unsafe { value_of(newval) }) else {
        return true;
    };
    match check_database_value(&v) {
        Ok(()) => true,
        // SAFETY: inside a check hook (this function).
        Err((msg, hint)) => unsafe { reject(&msg, &hint) },
    }
}

/// `bravo_metrics.scheduler_database`: an unknown database is refused where it can be
/// looked up and where refusing is meant — a client backend running `ALTER SYSTEM` (in
/// a transaction, connected to a database). Elsewhere the value is accepted: the
/// postmaster and every process reading the files at startup or on a reload have no
/// transaction; a parallel worker re-checks its leader's values and must not fail on
/// them; other background processes only follow the files. The scheduler itself copes
/// with a database it cannot connect to (see `worker::connect`).
pub fn check_database_value(v: &str) -> Result<(), (String, String)> {
    let name = v.trim();
    // SAFETY: reads of this process's own state (transaction state, database, parallel
    // worker number, backend type), valid in every process including the postmaster.
    let lookup = unsafe {
        pg_sys::IsTransactionState()
            && pg_sys::MyDatabaseId != pg_sys::InvalidOid
            && pg_sys::ParallelWorkerNumber < 0
            && pg_sys::MyBackendType == pg_sys::BackendType::B_BACKEND
    };
    if name.is_empty() || !lookup {
        return Ok(());
    }
    if database_exists(name) {
        return Ok(());
    }
    Err((
        format!("database \"{name}\" does not exist."),
        "Name a database listed by SELECT datname FROM pg_catalog.pg_database, or create it first (CREATE DATABASE ...; then CREATE EXTENSION bravo_metrics in it).".to_string(),
    ))
}

/// Is there a database of this name? (Needs a transaction; outside one, where the
/// catalog cannot be read, the answer is `false`.)
pub fn database_exists(name: &str) -> bool {
    let Ok(c) = CString::new(name) else {
        return false;
    };
    // SAFETY: a read of this process's transaction state.
    if !unsafe { pg_sys::IsTransactionState() } {
        return false;
    }
    // SAFETY: in a transaction (checked above), on a backend's main thread, so the
    // catalog can be read; `c` lives for the call, and `missing_ok` makes an unknown name
    // return InvalidOid instead of raising.
    unsafe { pg_sys::get_database_oid(c.as_ptr(), true) != pg_sys::InvalidOid }
}
