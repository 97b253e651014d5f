//! One error type for the client. Messages never contain a secret.

/// Broad classes, mapped to a PostgreSQL SQLSTATE at the extension boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad settings (unparseable key, http to a remote host without opt-in, ...).
    Config,
    /// Login refused: wrong password, bad JWT, invalid PAT/OAuth token, 401/403 on login.
    Authentication,
    /// Transport failure or retryable HTTP status that outlived the retry budget.
    Network,
    /// Snowflake rejected the statement (has a Snowflake code and SQLSTATE).
    Sql,
    /// The server answered something the protocol does not allow.
    Protocol,
    /// A result could not be decoded (bad Arrow/JSON, unknown type).
    Decode,
    /// A deadline ran out.
    Timeout,
    /// The caller cancelled.
    Cancelled,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid Snowflake configuration: {0}")]
    Config(String),
    #[error("Snowflake authentication failed ({code}): {message}")]
    Authentication { code: String, message: String },
    #[error("network error talking to Snowflake: {message}")]
    Network { message: String },
    #[error("Snowflake SQL error {code} ({sql_state}): {message}")]
    Sql {
        code: String,
        sql_state: String,
        message: String,
        query_id: Option<String>,
    },
    #[error("Snowflake protocol error: {0}")]
    Protocol(String),
    #[error("cannot decode Snowflake result column {column:?}: {message}")]
    Decode { column: String, message: String },
    #[error("Snowflake request timed out: {0}")]
    Timeout(String),
    #[error("Snowflake request cancelled")]
    Cancelled,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) => ErrorKind::Config,
            Error::Authentication { .. } => ErrorKind::Authentication,
            Error::Network { .. } => ErrorKind::Network,
            Error::Sql { .. } => ErrorKind::Sql,
            Error::Protocol(_) => ErrorKind::Protocol,
            Error::Decode { .. } => ErrorKind::Decode,
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Cancelled => ErrorKind::Cancelled,
        }
    }
}
