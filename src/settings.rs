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
    long: &'static CStr,
    setting: &'static GucSetting<Option<CString>>,
    ctx: GucContext,
    flags: GucFlags,
) {
    GucRegistry::define_string_guc(name, short, long, setting, ctx, flags);
}

/// Registers every setting and reserves the prefix. Called from `_PG_init`.
pub fn init() {
    let hidden = GucFlags::SUPERUSER_ONLY;
    s(
        c"bravo_metrics.snowflake_account",
        c"Snowflake account identifier.",
        c"Required for every sync. The account identifier as Snowflake shows it (xy12345, xy12345.us-east-2.aws, myorg-myaccount), not a URL: the host is derived from it (snowflakecomputing.com, or .cn for a China region) unless snowflake_host is set. Default empty. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_ACCOUNT,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_user",
        c"Snowflake login name.",
        c"Required for every sync: the user the extension logs in as; its secret (password, token or private key) is read from bravo_metrics.snowflake_secret_file. Default empty. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_USER,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"bravo_metrics.snowflake_authenticator",
        c"How to authenticate to Snowflake: password, key_pair, programmatic_access_token or oauth.",
        c"password (the default), key_pair (an RS256 JWT signed with the PEM private key in snowflake_secret_file, optionally encrypted with the passphrase in snowflake_private_key_passphrase_file), programmatic_access_token or oauth (the token in snowflake_secret_file). 0.2.0's spellings KeyPair and ProgrammaticAccessToken are still accepted. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
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
        c"The virtual warehouse the source queries run on; empty (the default): the login user's default warehouse. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_WAREHOUSE,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_role",
        c"Snowflake role.",
        c"The role the session uses; it needs SELECT on the source relations. Empty (the default): the login user's default role. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_ROLE,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_database",
        c"Snowflake database.",
        c"The session's database: source relations given without a database (see bravo_families.source_relation and the *_source settings) are looked up in it. Empty (the default): the login user's default. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_DATABASE,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_schema",
        c"Snowflake schema.",
        c"The session's schema: source relations given without a schema are looked up in it. Empty (the default): the login user's default. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_SCHEMA,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_region",
        c"Legacy Snowflake region parameter.",
        c"Only for account identifiers without a region part (xy12345): the region is appended to the host name (us-west-2 is not; cn-* regions use snowflakecomputing.cn). Empty (the default) for account identifiers that carry their region or organization. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_REGION,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_protocol",
        c"Endpoint override: http or https.",
        c"https (used when empty, the default) or http. Plain http is refused to a host that is not loopback unless bravo_metrics.snowflake_allow_insecure_http is on; meant for test doubles and emulators. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_PROTOCOL,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_host",
        c"Endpoint override: host name.",
        c"A bare host name (no scheme or path) used instead of the one derived from snowflake_account, for private links, proxies or emulators; the account must still be set. Empty (the default): derived. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_HOST,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.snowflake_port",
        c"Endpoint override: port (0 = default).",
        c"0 (the default) uses the protocol's port: 443 for https, 80 for http. Range 0 to 65535. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_PORT,
        0,
        65535,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"bravo_metrics.snowflake_allow_insecure_http",
        c"Allow plain http to a non-loopback host.",
        c"Off by default: with snowflake_protocol = http only a loopback host (localhost, 127.0.0.1, ::1) is accepted, since credentials and data would cross the network unencrypted. Turn it on only for a trusted test network. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_ALLOW_INSECURE_HTTP,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.snowflake_max_retries",
        c"Retries of a retryable Snowflake request.",
        c"Retries after the first attempt of one request (transport failures, HTTP 408, 429 and 5xx, truncated bodies), with jittered backoff from 1 s up to 16 s; a request also stops retrying when bravo_metrics.snowflake_retry_budget or its own deadline runs out. Default 7, range 0 to 20 (0: no retries). Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_MAX_RETRIES,
        0,
        20,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.snowflake_login_timeout",
        c"Total deadline of a Snowflake login.",
        c"The whole login, retries included, must finish within it or the sync fails. Default 300 s, range 1 s to 1 h. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_LOGIN_TIMEOUT,
        1,
        3600,
        GucContext::Suset,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.snowflake_request_timeout",
        c"Timeout of one Snowflake HTTP request.",
        c"Bounds one HTTP request from sending to the end of its body, including Snowflake's long-polls of about 45 s, so keep it above that. Default 90 s, range 1 s to 1 h. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
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
        c"Snowflake chooses the result format by the client type and accepts only driver ids it knows, so the extension identifies as the Go driver (Go, the default) and names itself in the login's APPLICATION. Change it only if Snowflake requires it; empty: the default. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_CLIENT_APP_ID,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.snowflake_client_app_version",
        c"Driver version sent to Snowflake as CLIENT_APP_VERSION (default 2.1.0).",
        c"Snowflake retires old driver versions: when it refuses the login because of the version, raise this to a current gosnowflake release. Default 2.1.0; empty: the default. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &SNOWFLAKE_CLIENT_APP_VERSION,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.snowflake_chunk_prefetch",
        c"Result chunks downloaded ahead.",
        c"How many result chunks are downloaded ahead of the merge while it works through the current one: more hides download latency and holds more chunks in memory. Default 4, range 1 to 16. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
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
        c"Sent as the session's QUERY_TAG with every source query, so the extension's queries can be found in Snowflake's QUERY_HISTORY. Default bravo_metrics; empty: no tag. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
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
            c"Used when the impressions family's catalog row (bravo_families.source_relation) is NULL; the catalog takes precedence. A relation as name, schema.name or database.schema.name, parts quoted with \"...\" when needed; checked when set. Default PLATFORM_BUY_DAILY_IMPRESSIONS. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
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
            c"Used when the videos family's catalog row (bravo_families.source_relation) is NULL; the catalog takes precedence. A relation as name, schema.name or database.schema.name, parts quoted with \"...\" when needed; checked when set. Default PLATFORM_BUY_DAILY_VIDEOS. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
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
            c"A sync's window is the days from today minus lookback_days, where today is the calendar date in this zone (an hourly family's window starts at that day's first instant in it); also the zone of today in bravo_doctor(), bravo_freshness and the staleness checks. An IANA name, checked when set; default UTC (empty: UTC). Any role may set it; read when a sync or check starts.",
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
        c"The days of hours bravo_sync_hourly() re-reads when called without lookback_days, and the lookback of the hourly schedule (bravo_metrics.hourly_schedule); platforms revise hours for a few days, not a month. Default 3, range 1 to 36600 (and at most bravo_metrics.max_lookback_days). Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
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
            c"An hourly source's HOUR_START of type TIMESTAMP_NTZ is a wall-clock time, read in this IANA zone unless the family's bravo_families.source_time_zone names one; TIMESTAMP_LTZ and TIMESTAMP_TZ are instants and need no zone. Default UTC; checked when set. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
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
        c"bravo_sync, bravo_sync_hourly, bravo_sync_intraday, bravo_refresh and bravo_run_now refuse a lookback_days below 1 or above this (22023) before any network call. Default 400, range 1 to 36600. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &MAX_LOOKBACK_DAYS,
        1,
        36600,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"bravo_metrics.delete_missing",
        c"Delete window rows that the source no longer returns.",
        c"Off (the default): rows inside the window that the source no longer returns are kept. On: they are deleted, unless that would delete more than bravo_metrics.delete_max_fraction of a table's window rows, in which case the sync fails (55000) and changes nothing. Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &DELETE_MISSING,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"bravo_metrics.delete_max_fraction",
        c"Largest fraction of the window a sync may delete.",
        c"With bravo_metrics.delete_missing on, a sync that would delete more than this fraction of a metric table's rows in the window fails (55000) and changes nothing, so that a source that returns few or no rows (an outage, a wrong relation) cannot wipe the window. Default 0.1 (10 %), range 0 to 1 (1: no limit). Superuser only (SET, ALTER SYSTEM, or ALTER DATABASE/ROLE ... SET by a superuser); read when a sync starts.",
        &DELETE_MAX_FRACTION,
        0.0,
        1.0,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"bravo_metrics.sync_overlap",
        c"When another sync runs: skip (fail fast) or wait.",
        c"Only one sync runs at a time. skip (the default): a manual call fails fast (55P03) naming the running sync; wait: it waits for it to finish, then runs. A call's wait argument (true or false) overrides it. Any role may set it.",
        &SYNC_OVERLAP,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.run_retention_days",
        c"Days of run history kept (0 = forever).",
        c"Runs that started more than this many days ago (bravo_sync_runs rows and their per-target rows) and set-aside rows resolved longer ago are deleted by the extension's own pruning (after each scheduled run, and when a failed or cancelled run is logged). Default 90; 0 keeps everything. Set it in postgresql.conf or with ALTER SYSTEM; applied on reload (SELECT pg_reload_conf()).",
        &RUN_RETENTION_DAYS,
        0,
        36600,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.progress_interval",
        c"Interval between progress NOTICEs (0 = none).",
        c"A sync (and bravo_export) sends a progress NOTICE at most this often; 0 sends none. The view bravo_sync_progress is updated whatever this is. Default 5 s, range 0 to 1 h. Any role may set it.",
        &PROGRESS_INTERVAL_MS,
        0,
        3_600_000,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );

    GucRegistry::define_bool_guc(
        c"bravo_metrics.report_attaching",
        c"Internal: the reporting rollup is re-attaching its triggers.",
        c"Set transaction-locally by the extension while bravo_report_attach() re-creates the rollup triggers, so that its own event trigger ignores them. Not for users: leave it off.",
        &REPORT_ATTACHING,
        GucContext::Userset,
        GucFlags::NO_SHOW_ALL | GucFlags::NO_RESET_ALL,
    );
    GucRegistry::define_bool_guc(
        c"bravo_metrics.scheduler_enabled",
        c"Run scheduled syncs.",
        c"The scheduler background worker runs the scheduled syncs (bravo_metrics.schedule, hourly_schedule, intraday_schedule) only while this is on; it needs shared_preload_libraries = 'bravo_metrics'. Default off. Set it in postgresql.conf or with ALTER SYSTEM; applied on reload (SELECT pg_reload_conf()).",
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
            c"When the scheduled daily sync (over bravo_metrics.scheduler_lookback_days) runs, in bravo_metrics.schedule_time_zone: 5 cron fields (minute hour day-of-month month day-of-week), 6 with seconds first, or @hourly, @daily, @weekly, @monthly, @yearly; no year field, and it must fire within 5 years. Checked when set. Default 15 2 * * * (02:15 every day). Set it in postgresql.conf or with ALTER SYSTEM; applied on reload (SELECT pg_reload_conf()).",
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
            c"When the hourly families' sync (bravo_sync_hourly over bravo_metrics.hourly_lookback_days) runs, in schedule_time_zone, in the same worker and under the same one-sync-at-a-time lock as the daily sync; not retried or caught up. Same syntax as bravo_metrics.schedule; empty (the default): none. Runs only while scheduler_enabled is on. Set it in postgresql.conf or with ALTER SYSTEM; applied on reload (SELECT pg_reload_conf()).",
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
            c"Every schedule (schedule, hourly_schedule, intraday_schedule, macros included) is read in this zone, summer and winter; a time skipped by a clock change runs just after it. An IANA name, checked when set; default UTC. Set it in postgresql.conf or with ALTER SYSTEM; applied on reload (SELECT pg_reload_conf()).",
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
            c"The scheduler worker connects to this database (where CREATE EXTENSION bravo_metrics must have been run) and syncs there; a change makes it reconnect. ALTER SYSTEM refuses a database that does not exist. Default postgres. Set it in postgresql.conf or with ALTER SYSTEM; applied on reload (SELECT pg_reload_conf()).",
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
        c"The lookback_days of every scheduled daily sync, retry and catch-up, of bravo_run_now() and of the scheduled intraday refresh; at most bravo_metrics.max_lookback_days. Default 30, range 1 to 36600. Set it in postgresql.conf or with ALTER SYSTEM; applied on reload (SELECT pg_reload_conf()).",
        &SCHEDULER_LOOKBACK_DAYS,
        1,
        36600,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.scheduler_max_retries",
        c"Retries of a failed scheduled run.",
        c"A scheduled daily sync that fails (not one that is cancelled or skipped) is retried up to this many times, after bravo_metrics.scheduler_retry_backoff, doubling each time; the next scheduled run supersedes pending retries. Default 3, range 0 to 100 (0: no retries). Set it in postgresql.conf or with ALTER SYSTEM; applied on reload (SELECT pg_reload_conf()).",
        &SCHEDULER_MAX_RETRIES,
        0,
        100,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"bravo_metrics.scheduler_retry_backoff",
        c"First retry delay; doubles each retry.",
        c"The wait before the first retry of a failed scheduled sync; each further retry waits twice as long as the one before. Default 60 s, range 1 s to 1 day. Set it in postgresql.conf or with ALTER SYSTEM; applied on reload (SELECT pg_reload_conf()).",
        &SCHEDULER_RETRY_BACKOFF_S,
        1,
        86400,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_enum_guc(
        c"bravo_metrics.scheduler_overlap",
        c"When a sync already runs: skip or wait.",
        c"What a scheduled run or bravo_run_now() does when a sync is already running: skip (the default) logs it as a skipped run; wait waits for the running sync to finish, then runs. Set it in postgresql.conf or with ALTER SYSTEM; applied on reload (SELECT pg_reload_conf()).",
        &SCHEDULER_OVERLAP,
        GucContext::Sighup,
        GucFlags::default(),
    );

    s(
        c"bravo_metrics.export_destination",
        c"Default destination of bravo_export: s3://bucket/prefix/ or file:///directory.",
        c"Used by bravo_export() when called without a destination and by the exports after scheduled syncs (export_after_sync): s3://bucket/prefix/, or file:///directory under bravo_metrics.export_allowed_directory. Empty (the default): none, so bravo_export needs one. Superuser only; set it with ALTER SYSTEM for the scheduler, whose worker does not see an ALTER DATABASE made after it connected.",
        &EXPORT_DESTINATION,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.export_s3_endpoint",
        c"S3-compatible endpoint of export destinations (empty: AWS).",
        c"The base URL of an S3-compatible store for s3:// destinations, such as http://127.0.0.1:9000 for MinIO; empty (the default): AWS S3. Superuser only; read when an export starts.",
        &EXPORT_S3_ENDPOINT,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"bravo_metrics.export_s3_region",
        c"Region of the export bucket.",
        c"The region used to sign S3 requests (SigV4) and, without export_s3_endpoint, to reach the AWS endpoint. Default us-east-1. Superuser only; read when an export starts.",
        &EXPORT_S3_REGION,
        GucContext::Suset,
        GucFlags::default(),
    );
    s(
        c"bravo_metrics.export_allowed_directory",
        c"Directory that file:// export destinations must lie under (empty: none).",
        c"file:// export destinations must lie under this directory (symbolic links and .. are resolved before the check); empty (the default): file:// destinations are refused. Superuser only, value hidden from other roles; read when an export starts.",
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
        c"Off by default. On: after every successful scheduled daily sync the scheduler exports to bravo_metrics.export_destination (trigger schedule in bravo_export_runs); a failed export is logged and recorded and does not change the sync's outcome. Set it in postgresql.conf or with ALTER SYSTEM; applied on reload (SELECT pg_reload_conf()).",
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
        c"bravo_doctor() compares each metric table's rows of the last 7 days with the 7 before and warns when they dropped by more than this percentage (media buys may have ended, or rows are missing in Snowflake or set aside). Default 50, range 1 to 100. Any role may set it; read when bravo_doctor() runs.",
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
