//! `bravo_export`: the complete export — one consistent snapshot of every enabled
//! family's metric table, `media_buys` and the run log, as a `.tar.gz` (CSV and
//! MongoDB Extended JSON, with a manifest) uploaded to S3 (or written under an allowed
//! directory), with a presigned download URL.
//!
//! The backend reads the tables (SPI, one registered snapshot: [`cursor`]) and
//! frames the tar stream (`bravo_core::export`); gzip and the multipart upload run on
//! the pipeline's own threads (`bravo_store`), which get plain bytes only. Every wait
//! checks for a cancel; on any error or cancel the upload is aborted before the
//! function returns, and the export is recorded as failed or cancelled in
//! `bravo.bravo_export_runs` ([`record`], written in a transaction of its own).

mod cursor;
mod tables;
mod tests;

use std::cell::RefCell;
use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bravo_core::export::archive::{write_archive, ManifestHeader};
use bravo_store::pipeline::{Options, Pipeline, Sink, ABORT_PATIENCE};
use bravo_store::s3::{self, S3Config};
use bravo_store::{Credentials, Destination};
use pgrx::datum::{Interval, TimestampWithTimeZone};
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::error::BravoError;
use crate::runlog::export_record::ExportRecord;
use crate::{runlog, runtime, schemas, secrets, settings};

pgrx::extension_sql!(
    r#"
-- One row per export (since 0.4.0). The download URL is never stored: it is a bearer
-- credential, returned to the caller only.
CREATE TABLE bravo.bravo_export_runs (
    export_id       bigserial PRIMARY KEY,
    status          text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    trigger         text NOT NULL CHECK (trigger IN ('manual', 'schedule')),
    run_by          name NOT NULL,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    destination     text NOT NULL,
    object_key      text NOT NULL,
    snapshot_at     timestamptz,
    files           jsonb,
    archive_bytes   bigint,
    archive_sha256  text,
    parts           integer,
    sqlstate        text,
    message         text
);
SELECT pg_catalog.pg_extension_config_dump('bravo.bravo_export_runs', '');
SELECT pg_catalog.pg_extension_config_dump('bravo.bravo_export_runs_export_id_seq', '');
REVOKE ALL ON bravo.bravo_export_runs FROM PUBLIC;
CREATE VIEW @extschema@.bravo_export_runs WITH (security_invoker = true) AS
    SELECT * FROM bravo.bravo_export_runs;
REVOKE ALL ON @extschema@.bravo_export_runs FROM PUBLIC;
"#,
    name = "export_runs",
    requires = ["schema"],
);

/// Exports every enabled family's metric table, `media_buys` and the run log, in one
/// consistent snapshot, to `destination` (default `bravo_metrics.export_destination`);
/// returns the archive's key and a download URL valid for `url_expires` (S3: at most
/// 7 days).
#[allow(clippy::type_complexity)] // pgrx's name!() columns must be spelled inline
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn bravo_export(
    destination: default!(Option<&str>, "NULL"),
    url_expires: default!(Option<Interval>, "'7 days'"),
) -> TableIterator<
    'static,
    (
        name!(export_id, i64),
        name!(object_key, String),
        name!(url, String),
        name!(url_expires_at, Option<TimestampWithTimeZone>),
        name!(files, JsonB),
        name!(archive_bytes, i64),
        name!(archive_sha256, String),
        name!(ms, i64),
    ),
> {
    crate::error::refuse_on_standby("bravo_export").unwrap_or_else(|e| e.raise());
    let out = export(destination, url_expires, "manual").unwrap_or_else(|e| e.raise());
    TableIterator::once((
        out.export_id,
        out.object_key,
        out.url,
        out.url_expires_at,
        JsonB(out.files),
        out.archive_bytes,
        out.archive_sha256,
        out.ms,
    ))
}

struct Exported {
    export_id: i64,
    object_key: String,
    url: String,
    url_expires_at: Option<TimestampWithTimeZone>,
    files: serde_json::Value,
    archive_bytes: i64,
    archive_sha256: String,
    ms: i64,
}

/// Where the archive goes, checked before anything is read.
struct Plan {
    dest: Destination,
    s3: Option<Arc<object_store::aws::AmazonS3>>,
    expires: Option<Duration>,
}

fn url_lifetime(iv: Option<Interval>) -> Result<Duration, BravoError> {
    let iv = iv.ok_or_else(|| {
        BravoError::config("url_expires must not be NULL")
            .hint("Pass an interval such as '7 days' or '1 hour'.")
    })?;
    let micros = i64::from(iv.months()) * 30 * 86_400_000_000
        + i64::from(iv.days()) * 86_400_000_000
        + iv.micros();
    if micros < 1_000_000 || micros > s3::MAX_URL_LIFETIME.as_micros() as i64 {
        return Err(BravoError::config(format!(
            "url_expires must be between 1 second and 7 days, got {} s",
            micros / 1_000_000
        ))
        .hint("S3 presigned URLs last at most 7 days; issue a new one later with bravo_export_url(export_id, expires)."));
    }
    Ok(Duration::from_micros(micros as u64))
}

fn plan(destination: Option<&str>, url_expires: Option<Interval>) -> Result<Plan, BravoError> {
    let text = destination
        .map(str::to_string)
        .filter(|d| !d.trim().is_empty())
        .or_else(|| settings::get_str(&settings::EXPORT_DESTINATION))
        .ok_or_else(|| {
            BravoError::config("no export destination")
                .hint("Pass one (SELECT * FROM bravo_export('s3://bucket/prefix/')) or set bravo_metrics.export_destination.")
        })?;
    let allowed = settings::get_str(&settings::EXPORT_ALLOWED_DIRECTORY);
    let dest = Destination::parse(&text, allowed.as_deref())?;
    match &dest {
        Destination::S3 { bucket, .. } => {
            let expires = url_lifetime(url_expires)?;
            let credentials = match settings::get_str(&settings::EXPORT_CREDENTIALS_FILE) {
                Some(path) => {
                    let secret =
                        secrets::read_secret_file("bravo_metrics.export_credentials_file", &path)?;
                    Some(Credentials::parse(
                        secret.expose(),
                        "bravo_metrics.export_credentials_file",
                    )?)
                }
                None => None,
            };
            let cfg = S3Config {
                endpoint: settings::get_str(&settings::EXPORT_S3_ENDPOINT),
                region: settings::get_str(&settings::EXPORT_S3_REGION)
                    .unwrap_or_else(|| "us-east-1".into()),
                credentials,
                timeout: Duration::from_secs(60),
                max_retries: 3,
            };
            let client = s3::client(&cfg, bucket)?;
            Ok(Plan {
                dest,
                s3: Some(Arc::new(client)),
                expires: Some(expires),
            })
        }
        Destination::Dir { .. } => Ok(Plan {
            dest,
            s3: None,
            expires: None,
        }),
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `YYYYMMDDTHHMMSSZ` of a Unix millisecond.
fn stamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
}

fn timestamptz(ms: i64) -> Option<TimestampWithTimeZone> {
    // PostgreSQL's epoch is 2000-01-01; TimestampTz counts microseconds from it.
    TimestampWithTimeZone::try_from((ms - 946_684_800_000) * 1000).ok()
}

/// The scheduler's export after a successful scheduled sync (to
/// `bravo_metrics.export_destination`); raises on error, like `bravo_export`. Returns
/// the line for the server log: the archive's key and size, never its URL.
pub fn scheduled() -> String {
    let iv = Interval::new(0, 7, 0).ok();
    match export(None, iv, "schedule") {
        Ok(x) => format!(
            "export {} to {} ({} bytes, {} ms)",
            x.export_id, x.object_key, x.archive_bytes, x.ms
        ),
        Err(e) => e.raise(),
    }
}

fn export(
    destination: Option<&str>,
    url_expires: Option<Interval>,
    trigger: &str,
) -> Result<Exported, BravoError> {
    let t0 = Instant::now();
    let plan = plan(destination, url_expires)?;
    let schemas = schemas::resolve()?;
    let internal = runlog::log_schema()?;
    let export_id = Spi::get_one::<i64>(&format!(
        "SELECT pg_catalog.nextval('{internal}.bravo_export_runs_export_id_seq'::pg_catalog.regclass)"
    ))
    .map_err(|e| BravoError::config(format!("cannot number the export: {e}")))?
    .unwrap_or_default();
    let db: String =
        Spi::get_one::<String>("SELECT pg_catalog.current_database()::pg_catalog.text")
            .ok()
            .flatten()
            .unwrap_or_default()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
    let run_by: String = Spi::get_one::<String>("SELECT session_user::pg_catalog.text")
        .ok()
        .flatten()
        .unwrap_or_default();
    let started = now_ms();
    let name = format!("bravo-export-{db}-{}-{export_id}.tar.gz", stamp(started));
    let (sink, object_key) = match &plan.dest {
        Destination::S3 { prefix, .. } => {
            let key = format!("{prefix}{name}");
            (
                Sink::S3 {
                    store: plan.s3.clone().expect("an S3 client for an S3 destination"),
                    key: key.clone(),
                },
                key,
            )
        }
        Destination::Dir { path } => (
            Sink::File {
                dir: path.clone(),
                name: name.clone(),
            },
            path.join(&name).display().to_string(),
        ),
    };
    let mut rec = ExportRecord {
        export_id,
        status: "running".into(),
        trigger: trigger.into(),
        run_by,
        started_at_ms: started,
        finished_at_ms: None,
        destination: plan.dest.display(),
        object_key: object_key.clone(),
        snapshot_at_ms: None,
        files: None,
        archive_bytes: None,
        archive_sha256: None,
        parts: None,
        sqlstate: None,
        message: None,
    };
    runlog::autonomous::write_export(&rec);

    // Everything that can fail after the upload started: the pipeline is aborted and
    // the record finished on the way out, whatever the error.
    let pipeline: RefCell<Option<Pipeline>> = RefCell::new(None);
    let snapshot_ms = now_ms();
    let body = || -> Result<(serde_json::Value, bravo_store::Summary), BravoError> {
        let snapshot = cursor::Snapshot::take();
        let mut producer = tables::Export::plan(&schemas, snapshot)?;
        let names = producer.names();
        let opts = Options {
            level: settings::EXPORT_GZIP_LEVEL.get().clamp(1, 9) as u32,
            threads: settings::EXPORT_GZIP_THREADS.get().clamp(1, 16) as usize,
            ..Options::default()
        };
        *pipeline.borrow_mut() = Some(Pipeline::start(runtime::handle(), sink, opts));
        let mut wait = || {
            if runtime::cancel_requested() {
                Err(cursor::cancelled())
            } else {
                Ok(())
            }
        };
        let header = ManifestHeader {
            export_id: export_id.to_string(),
            snapshot_time: chrono::DateTime::from_timestamp_millis(snapshot_ms)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            extension_version: env!("CARGO_PKG_VERSION").into(),
        };
        let root = format!("bravo-export-{export_id}");
        let manifest = {
            let mut guard = pipeline.borrow_mut();
            let p = guard.as_mut().expect("started above");
            let mut w = p.writer(&mut wait);
            write_archive(
                &mut w,
                &root,
                &names,
                header,
                (snapshot_ms / 1000) as u64,
                &mut producer,
            )
        };
        let manifest = manifest.map_err(|e| io_failure(e, &pipeline))?;
        let p = pipeline.borrow_mut().take().expect("started above");
        let summary = p.finish(&mut wait)?;
        let files = serde_json::to_value(&manifest.files).unwrap_or_default();
        Ok((files, summary))
    };
    let pipe = AssertUnwindSafe(&pipeline);
    let outcome = PgTryBuilder::new(AssertUnwindSafe(body))
        .catch_others(|e| {
            abort(*pipe);
            let report = match &e {
                pgrx::pg_sys::panic::CaughtError::PostgresError(r)
                | pgrx::pg_sys::panic::CaughtError::ErrorReport(r) => r,
                pgrx::pg_sys::panic::CaughtError::RustPanic { ereport, .. } => ereport,
            };
            let state = crate::error::sqlstate_text(report.sql_error_code());
            finish_failed(&mut rec.clone(), &state, report.message());
            crate::error::raise_clean(e)
        })
        .execute();
    let (files, summary) = match outcome {
        Ok(v) => v,
        Err(e) => {
            abort(&pipeline);
            let state = crate::error::sqlstate_text(e.code);
            finish_failed(&mut rec, &state, &e.message);
            if e.code == PgSqlErrorCode::ERRCODE_QUERY_CANCELED {
                // The standard message (statement timeout or user request).
                return Err(cancel_error());
            }
            return Err(e);
        }
    };

    let url = download_url(&plan, &object_key)?;
    rec.status = "succeeded".into();
    rec.finished_at_ms = Some(now_ms());
    rec.snapshot_at_ms = Some(snapshot_ms);
    rec.files = Some(files.clone());
    rec.archive_bytes = Some(summary.bytes as i64);
    rec.archive_sha256 = Some(summary.sha256.clone());
    rec.parts = Some(summary.parts as i32);
    runlog::autonomous::write_export(&rec);
    Ok(Exported {
        export_id,
        object_key,
        url,
        url_expires_at: plan
            .expires
            .and_then(|d| timestamptz(now_ms() + d.as_millis() as i64)),
        files,
        archive_bytes: summary.bytes as i64,
        archive_sha256: summary.sha256,
        ms: t0.elapsed().as_millis() as i64,
    })
}

/// The download URL of `key`: presigned for S3, `file://` for a directory.
fn download_url(plan: &Plan, key: &str) -> Result<String, BravoError> {
    match (&plan.s3, plan.expires) {
        (Some(store), Some(expires)) => match runtime::block_on(s3::presign(store, key, expires)) {
            Ok(r) => r.map_err(BravoError::from),
            Err(_) => Err(cancel_error()),
        },
        _ => Ok(format!("file://{key}")),
    }
}

/// A cancel seen while waiting: PostgreSQL's own error (statement timeout or user
/// request) if it raises one here, else ours.
fn cancel_error() -> BravoError {
    pgrx::check_for_interrupts!();
    BravoError::new(
        PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
        "the export was cancelled",
    )
}

/// A new download URL for export `export_id`'s archive, valid for `expires` (S3: at
/// most 7 days), e.g. after the one `bravo_export` returned has expired. The archive
/// must still be there.
#[allow(clippy::type_complexity)] // pgrx's name!() columns must be spelled inline
#[pg_extern(security_definer, volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
fn bravo_export_url(
    export_id: i64,
    expires: default!(Option<Interval>, "'7 days'"),
) -> TableIterator<
    'static,
    (
        name!(url, String),
        name!(url_expires_at, Option<TimestampWithTimeZone>),
    ),
> {
    let r = export_url(export_id, expires).unwrap_or_else(|e| e.raise());
    TableIterator::once(r)
}

fn export_url(
    export_id: i64,
    expires: Option<Interval>,
) -> Result<(String, Option<TimestampWithTimeZone>), BravoError> {
    let internal = runlog::log_schema()?;
    let row = Spi::connect(|c| {
        let t = c.select(
            &format!(
                "SELECT status, destination, object_key FROM {internal}.bravo_export_runs WHERE export_id = $1"
            ),
            None,
            &[export_id.into()],
        )?;
        match t.into_iter().next() {
            Some(r) => Ok::<_, pgrx::spi::Error>(Some((
                r.get::<String>(1)?.unwrap_or_default(),
                r.get::<String>(2)?.unwrap_or_default(),
                r.get::<String>(3)?.unwrap_or_default(),
            ))),
            None => Ok(None),
        }
    })
    .map_err(|e| BravoError::config(format!("cannot read export {export_id}: {e}")))?;
    let Some((status, destination, key)) = row else {
        return Err(
            BravoError::config(format!("there is no export {export_id}"))
                .hint("SELECT export_id, status FROM bravo_export_runs ORDER BY export_id DESC;"),
        );
    };
    if status != "succeeded" {
        return Err(BravoError::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("export {export_id} is {status}: it has no archive"),
        )
        .hint("Only a succeeded export has an archive to download."));
    }
    let plan = plan(Some(&destination), expires)?;
    if let Some(store) = &plan.s3 {
        match runtime::block_on(s3::exists(store, &key)) {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => {
                return Err(BravoError::new(
                    PgSqlErrorCode::ERRCODE_UNDEFINED_FILE,
                    format!("the archive of export {export_id} is no longer in {destination}"),
                )
                .hint("It was deleted or expired by a lifecycle rule; run bravo_export() again."))
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err(cancel_error()),
        }
    }
    let url = download_url(&plan, &key)?;
    Ok((
        url,
        plan.expires
            .and_then(|d| timestamptz(now_ms() + d.as_millis() as i64)),
    ))
}

/// Aborts the upload if it is still open, waiting (bounded) until it is.
fn abort(pipeline: &RefCell<Option<Pipeline>>) {
    if let Some(p) = pipeline.borrow_mut().take() {
        if !p.abort(ABORT_PATIENCE) {
            pgrx::warning!(
                "bravo_export: the upload's abort was not confirmed within {ABORT_PATIENCE:?}"
            );
        }
    }
}

fn finish_failed(rec: &mut ExportRecord, state: &str, message: &str) {
    rec.status = if state == "57014" || state == "57P01" {
        "cancelled"
    } else {
        "failed"
    }
    .into();
    rec.finished_at_ms = Some(now_ms());
    rec.sqlstate = Some(state.to_string());
    rec.message = Some(message.to_string());
    runlog::autonomous::write_export(rec);
}

/// An I/O error of the archive's writing as the error the user sees: a cancel, the
/// pipeline's own failure (its SQLSTATE), or the data's.
fn io_failure(e: io::Error, pipeline: &RefCell<Option<Pipeline>>) -> BravoError {
    if e.kind() == io::ErrorKind::Interrupted {
        return BravoError::new(
            PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
            "the export was cancelled",
        );
    }
    if e.kind() == io::ErrorKind::BrokenPipe {
        if let Some(core) = pipeline.borrow().as_ref().and_then(|p| p.failure()) {
            return core.into();
        }
    }
    if e.kind() == io::ErrorKind::InvalidData {
        return BravoError::new(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            format!("cannot export: {e}"),
        );
    }
    BravoError::new(
        PgSqlErrorCode::ERRCODE_IO_ERROR,
        format!("cannot export: {e}"),
    )
}
