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

    /// Replaces every occurrence of a known secret value (tokens, password, ...) in the
    /// error's text with `***`. Values shorter than 4 characters are left alone.
    pub(crate) fn scrub(self, secrets: &[String]) -> Error {
        let clean = |text: String| -> String {
            secrets.iter().filter(|s| s.len() >= 4).fold(text, |t, s| {
                if t.contains(s.as_str()) {
                    t.replace(s.as_str(), "***")
                } else {
                    t
                }
            })
        };
        match self {
            Error::Config(m) => Error::Config(clean(m)),
            Error::Authentication { code, message } => Error::Authentication {
                code,
                message: clean(message),
            },
            Error::Network { message } => Error::Network {
                message: clean(message),
            },
            Error::Sql {
                code,
                sql_state,
                message,
                query_id,
            } => Error::Sql {
                code,
                sql_state,
                message: clean(message),
                query_id,
            },
            Error::Protocol(m) => Error::Protocol(clean(m)),
            Error::Decode { column, message } => Error::Decode {
                column,
                message: clean(message),
            },
            Error::Timeout(m) => Error::Timeout(clean(m)),
            Error::Cancelled => Error::Cancelled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_masks_known_values() {
        let e = Error::Sql {
            code: "002003".into(),
            sql_state: "42S02".into(),
            message: "token sess-SECRET-ghi master master-SECRET-jkl".into(),
            query_id: None,
        };
        let e = e.scrub(&[
            "sess-SECRET-ghi".into(),
            "master-SECRET-jkl".into(),
            "ab".into(),
        ]);
        assert_eq!(
            e.to_string(),
            "Snowflake SQL error 002003 (42S02): token *** master ***"
        );
    }
}
