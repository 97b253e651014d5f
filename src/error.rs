//! The extension's error type, turned into a PostgreSQL error (SQLSTATE, message,
//! DETAIL, HINT) only at the SQL-function or worker boundary.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

use bravo_core::{CoreError, SqlState};
use bravo_snowflake::{Error as SfError, ErrorKind};

#[derive(Debug, Clone)]
pub struct BravoError {
    pub code: PgSqlErrorCode,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl BravoError {
    pub fn new(code: PgSqlErrorCode, message: impl Into<String>) -> Self {
        BravoError {
            code,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }
    /// A statement of the extension's own failed (XX000), with what it was doing.
    pub fn internal(what: &str, e: impl std::fmt::Display) -> Self {
        Self::new(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("{what}: {e}"),
        )
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, message)
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    /// Raise as an ERROR. Never returns.
    pub fn raise(self) -> ! {
        let mut report = ErrorReport::new(self.code, self.message, "bravo_metrics");
        if let Some(d) = self.detail {
            report = report.set_detail(d);
        }
        if let Some(h) = self.hint {
            report = report.set_hint(h);
        }
        report.report(PgLogLevel::ERROR);
        unreachable!("ERROR does not return")
    }
}

/// Raises a caught error again as a clean ERROR: its SQLSTATE, message, DETAIL and
/// HINT, never a Rust backtrace or panic location (pgrx's `rethrow` would put a
/// captured backtrace into the DETAIL).
pub fn raise_clean(error: pgrx::pg_sys::panic::CaughtError) -> ! {
    use pgrx::pg_sys::panic::CaughtError;
    let report = match &error {
        CaughtError::PostgresError(e) | CaughtError::ErrorReport(e) => e,
        CaughtError::RustPanic { ereport, .. } => ereport,
    };
    let mut clean = BravoError::new(report.sql_error_code(), report.message().to_string());
    clean.detail = report.detail().map(str::to_string);
    clean.hint = report.hint().map(str::to_string);
    drop(error);
    clean.raise()
}

/// The pure core's errors keep their SQLSTATE, DETAIL and HINT.
impl From<CoreError> for BravoError {
    fn from(e: CoreError) -> Self {
        use PgSqlErrorCode::*;
        let code = match e.state {
            SqlState::InvalidParameterValue => ERRCODE_INVALID_PARAMETER_VALUE,
            SqlState::FdwColumnNameNotFound => ERRCODE_FDW_COLUMN_NAME_NOT_FOUND,
            SqlState::FdwInvalidDataType => ERRCODE_FDW_INVALID_DATA_TYPE,
            SqlState::FdwError => ERRCODE_FDW_ERROR,
            SqlState::ConnectionFailure => ERRCODE_CONNECTION_FAILURE,
            SqlState::InvalidAuthorization => ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
            SqlState::ConfigFileError => ERRCODE_CONFIG_FILE_ERROR,
            SqlState::InsufficientPrivilege => ERRCODE_INSUFFICIENT_PRIVILEGE,
            SqlState::IoError => ERRCODE_IO_ERROR,
            SqlState::QueryCanceled => ERRCODE_QUERY_CANCELED,
        };
        BravoError {
            code,
            message: e.message,
            detail: e.detail,
            hint: e.hint,
        }
    }
}

impl std::fmt::Display for BravoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Snowflake's "object does not exist or not authorized" (002003, SQLSTATE 42S02).
pub fn is_missing_relation(e: &SfError) -> bool {
    matches!(e, SfError::Sql { code, sql_state, .. } if code == "002003" || sql_state == "42S02")
}

/// Snowflake client errors, classified (see the client's `ErrorKind`), with the
/// SQLSTATE a PostgreSQL user expects. Remote failures use class HV (foreign data).
impl From<SfError> for BravoError {
    fn from(e: SfError) -> Self {
        use PgSqlErrorCode::*;
        let msg = e.to_string();
        match (e.kind(), &e) {
            (ErrorKind::Config, _) => BravoError::new(ERRCODE_INVALID_PARAMETER_VALUE, msg)
                .hint("Check the bravo_metrics.snowflake_* settings."),
            (ErrorKind::Authentication, _) => BravoError::new(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, msg)
                .hint("Check bravo_metrics.snowflake_user, snowflake_authenticator and the content of snowflake_secret_file."),
            (ErrorKind::Network, _) => BravoError::new(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION, msg)
                .hint("Check bravo_metrics.snowflake_account / snowflake_host and the network path to Snowflake."),
            (ErrorKind::Sql, SfError::Sql { code, sql_state, query_id, .. }) => {
                let pg = match (code.as_str(), sql_state.as_str()) {
                    _ if is_missing_relation(&e) => ERRCODE_FDW_TABLE_NOT_FOUND,
                    ("000904", _) | (_, "42S22") => ERRCODE_FDW_COLUMN_NAME_NOT_FOUND,
                    (_, "42000") | (_, "42601") => ERRCODE_SYNTAX_ERROR,
                    _ => ERRCODE_FDW_ERROR,
                };
                let mut err = BravoError::new(pg, msg)
                    .detail(format!("Snowflake error code {code}, SQLSTATE {sql_state}{}",
                        query_id.as_ref().map(|q| format!(", query id {q}")).unwrap_or_default()));
                if pg == ERRCODE_FDW_TABLE_NOT_FOUND {
                    err = err.hint("Check the family's source (bravo_families.source_relation, or bravo_metrics.impressions_source / videos_source) and snowflake_database / snowflake_schema.");
                }
                err
            }
            (ErrorKind::Sql, _) => BravoError::new(ERRCODE_FDW_ERROR, msg),
            (ErrorKind::Protocol, _) => BravoError::new(ERRCODE_FDW_ERROR, msg),
            (ErrorKind::Decode, _) => BravoError::new(ERRCODE_FDW_INVALID_DATA_TYPE, msg),
            (ErrorKind::Timeout, _) => BravoError::new(ERRCODE_FDW_ERROR, msg)
                .hint("Raise bravo_metrics.snowflake_request_timeout / snowflake_login_timeout, or check the warehouse."),
            (ErrorKind::Cancelled, _) => BravoError::new(ERRCODE_QUERY_CANCELED, msg),
        }
    }
}

/// Refuses `what` (a sync or an export: they write) on a standby, with a clear error
/// instead of PostgreSQL's internal "cannot assign TransactionIds during recovery".
pub fn refuse_on_standby(what: &str) -> Result<(), BravoError> {
    // SAFETY: a read of the shared recovery state, valid in any backend.
    if unsafe { pgrx::pg_sys::RecoveryInProgress() } {
        return Err(BravoError::new(
            pgrx::PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("{what} cannot run on a standby: the server is in recovery"),
        )
        .hint("Run it on the primary. The scheduler runs there, and starts on this server if it is promoted; the reports work here."));
    }
    Ok(())
}

/// The five-character SQLSTATE of a pgrx error code.
pub fn sqlstate_text(code: PgSqlErrorCode) -> String {
    let mut v = code as i32;
    let mut s = String::with_capacity(5);
    for _ in 0..5 {
        s.push((b'0' + (v & 0x3f) as u8) as char);
        v >>= 6;
    }
    s
}
