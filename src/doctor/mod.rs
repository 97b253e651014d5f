//! `bravo_doctor()`: one row per check (`check, status, detail, hint`), for a person
//! or a monitoring role asking "why is there no data?". The SQL function
//! (`doctor.sql`) reads the run log, the scheduler's state and the tables; this module
//! does the checks that need the secret files or the network: the connection
//! settings, the secret file, a live login to Snowflake with a short timeout, and each
//! enabled family's source relation and columns.
//!
//! Nothing here reveals a secret: a secret file's path appears only for a superuser
//! session (see `crate::secrets`), and no error carries a file's content.

use std::time::{Duration, Instant};

use bravo_core::grain::Grain;
use bravo_core::source;
use bravo_snowflake::Client;
use pgrx::prelude::*;

use crate::error::{is_missing_relation, BravoError};
use crate::secrets::read_secret_file;
use crate::settings::{self, get_str};
use crate::sync::{catalog, connect, key};
use crate::{runtime, schemas};

/// The longest the doctor waits for Snowflake in each step (login, each describe).
const NETWORK_LIMIT: Duration = Duration::from_secs(10);

/// One row of `bravo_doctor()`.
struct Check {
    check: String,
    status: &'static str,
    detail: String,
    hint: Option<String>,
}

impl Check {
    fn ok(check: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            check: check.into(),
            status: "ok",
            detail: detail.into(),
            hint: None,
        }
    }

    fn of_error(check: impl Into<String>, status: &'static str, e: &BravoError) -> Check {
        Check {
            check: check.into(),
            status,
            detail: match &e.detail {
                Some(d) => format!("{} ({d})", e.message),
                None => e.message.clone(),
            },
            // Every row that is not ok says what to do.
            hint: Some(e.hint.clone().unwrap_or_else(|| {
                "Check the bravo_metrics.snowflake_* settings (SELECT name, setting FROM pg_settings WHERE name LIKE 'bravo_metrics.snowflake%') and Snowflake's status; the detail is Snowflake's own message.".into()
            })),
        }
    }
}

type Row = (String, String, String, Option<String>);

/// The Rust side of `bravo_doctor()` (internal: not executable by PUBLIC).
#[pg_extern(volatile)]
fn _bravo_doctor_snowflake() -> TableIterator<
    'static,
    (
        name!(check, String),
        name!(status, String),
        name!(detail, String),
        name!(hint, Option<String>),
    ),
> {
    let rows: Vec<Row> = snowflake_checks()
        .into_iter()
        .map(|c| (c.check, c.status.to_string(), c.detail, c.hint))
        .collect();
    TableIterator::new(rows)
}

fn snowflake_checks() -> Vec<Check> {
    let mut out = Vec::new();
    // The connection settings.
    let missing: Vec<&str> = [
        ("snowflake_account", &settings::SNOWFLAKE_ACCOUNT),
        ("snowflake_user", &settings::SNOWFLAKE_USER),
        ("snowflake_secret_file", &settings::SNOWFLAKE_SECRET_FILE),
    ]
    .into_iter()
    .filter(|(_, s)| get_str(s).is_none())
    .map(|(n, _)| n)
    .collect();
    if !missing.is_empty() {
        out.push(Check {
            check: "snowflake settings".into(),
            status: "fail",
            detail: format!(
                "not set: {}",
                missing
                    .iter()
                    .map(|n| format!("bravo_metrics.{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            hint: Some(format!(
                "A superuser sets them, then reloads: {} SELECT pg_reload_conf();",
                missing
                    .iter()
                    .map(|n| format!("ALTER SYSTEM SET bravo_metrics.{n} = '...';"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
        });
        return out;
    }
    out.push(Check::ok(
        "snowflake settings",
        format!(
            "account {}, user {}",
            get_str(&settings::SNOWFLAKE_ACCOUNT).unwrap_or_default(),
            get_str(&settings::SNOWFLAKE_USER).unwrap_or_default()
        ),
    ));

    // The secret file: present, a regular file, not readable by others.
    let path = get_str(&settings::SNOWFLAKE_SECRET_FILE).unwrap_or_default();
    match read_secret_file("bravo_metrics.snowflake_secret_file", &path) {
        Ok(_) => out.push(Check::ok(
            "secret file",
            "readable by the server, not by group or others",
        )),
        Err(e) => {
            out.push(Check::of_error("secret file", "fail", &e));
            return out;
        }
    }

    // A live login, with short timeouts.
    let mut cfg = match connect::config() {
        Ok(c) => c,
        Err(e) => {
            out.push(Check::of_error("snowflake login", "fail", &e));
            return out;
        }
    };
    cfg.timeouts.login = cfg.timeouts.login.min(NETWORK_LIMIT);
    cfg.timeouts.connect = cfg.timeouts.connect.min(NETWORK_LIMIT);
    cfg.timeouts.request = cfg.timeouts.request.min(NETWORK_LIMIT);
    cfg.retry.max_retries = cfg.retry.max_retries.min(1);
    cfg.retry.budget = cfg.retry.budget.min(NETWORK_LIMIT);
    let t0 = Instant::now();
    let client = match wait(Client::connect(cfg)) {
        Ok(c) => c,
        Err(e) => {
            out.push(Check::of_error("snowflake login", "fail", &e));
            return out;
        }
    };
    out.push(Check::ok(
        "snowflake login",
        format!(
            "logged in to {} in {} ms{}",
            client.base_url(),
            t0.elapsed().as_millis(),
            client
                .server_version()
                .map(|v| format!(" (server version {v})"))
                .unwrap_or_default()
        ),
    ));

    // Each enabled family's source: it exists and has the columns the sync needs.
    out.extend(source_checks(&client));
    let c = client.clone();
    runtime::block_on_bounded(async move { c.logout().await }, Duration::from_secs(2));
    out
}

fn source_checks(client: &Client) -> Vec<Check> {
    let mut out = Vec::new();
    let schemas = match schemas::resolve() {
        Ok(s) => s,
        Err(e) => return vec![Check::of_error("sources", "fail", &e)],
    };
    let key = match key::of_media_buys(&schemas) {
        Ok(k) => k,
        Err(e) => return vec![Check::of_error("sources", "fail", &e)],
    };
    for grain in [Grain::Day, Grain::Hour] {
        let families = match catalog::enabled_families(&schemas.internal, grain) {
            Ok(f) => f,
            // Nothing enabled: the catalog check in SQL says so.
            Err(_) => continue,
        };
        for target in families {
            let name = format!("source {}", target.name);
            let relation = match settings::source_relation(&target) {
                Ok(r) => r,
                Err(e) => {
                    out.push(Check::of_error(name, "fail", &BravoError::config(e)));
                    continue;
                }
            };
            let q = source::describe_query(&relation, None);
            let desc = match runtime::block_on(tokio_timeout(client.query(q))) {
                Ok(Ok(Ok(d))) => d,
                Ok(Ok(Err(e))) => {
                    let missing = is_missing_relation(&e);
                    let mut err = BravoError::from(e);
                    let status = if missing && !target.required {
                        err = err.hint(format!(
                            "The sync skips this family (it is not required) until {relation} exists: create it, re-point the family (UPDATE bravo_families SET source_relation = ... WHERE family = '{}'), or disable it (SELECT bravo_disable_family('{}')).",
                            target.name, target.name
                        ));
                        "warn"
                    } else {
                        "fail"
                    };
                    out.push(Check::of_error(name, status, &err));
                    continue;
                }
                Ok(Err(_)) => {
                    out.push(Check {
                        check: name,
                        status: "fail",
                        detail: format!(
                            "Snowflake did not describe {relation} within {} s",
                            NETWORK_LIMIT.as_secs()
                        ),
                        hint: Some("Check the warehouse (bravo_metrics.snowflake_warehouse) and Snowflake's status; a sync would wait up to bravo_metrics.snowflake_request_timeout.".into()),
                    });
                    continue;
                }
                Err(runtime::Interrupted) => {
                    pg_sys::check_for_interrupts!();
                    break;
                }
            };
            match source::check_columns(&target, key.kind, &relation, desc.columns()) {
                Ok(_) => out.push(Check::ok(
                    name,
                    format!("{relation} has the columns {} needs", target.table),
                )),
                Err(e) => out.push(Check::of_error(name, "fail", &BravoError::from(e))),
            }
        }
    }
    out
}

/// The future, or `Err` after [`NETWORK_LIMIT`].
async fn tokio_timeout<F: std::future::Future>(f: F) -> Result<F::Output, ()> {
    tokio::time::timeout(NETWORK_LIMIT, f).await.map_err(|_| ())
}

/// Waits for a Snowflake future; a cancel raises PostgreSQL's cancel error.
fn wait<T>(
    fut: impl std::future::Future<Output = Result<T, bravo_snowflake::Error>>,
) -> Result<T, BravoError> {
    match runtime::block_on(fut) {
        Ok(r) => r.map_err(BravoError::from),
        Err(runtime::Interrupted) => {
            pg_sys::check_for_interrupts!();
            Err(BravoError::new(
                PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
                "bravo_doctor cancelled",
            ))
        }
    }
}

pgrx::extension_sql_file!(
    "doctor.sql",
    name = "doctor",
    requires = [
        "schema",
        "families",
        "schedule_status",
        "intraday_status",
        _bravo_doctor_snowflake
    ]
);
