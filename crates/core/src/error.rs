//! Errors of the pure logic, with the SQLSTATE a PostgreSQL user should see. The
//! extension crate turns a [`CoreError`] into its own `BravoError` (and so into an
//! ERROR with SQLSTATE, DETAIL and HINT) at the boundary.

use std::fmt;

/// The SQLSTATEs the pure logic raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlState {
    /// `22023` invalid_parameter_value.
    InvalidParameterValue,
    /// `HV005` fdw_column_name_not_found.
    FdwColumnNameNotFound,
    /// `HV004` fdw_invalid_data_type.
    FdwInvalidDataType,
    /// `HV000` fdw_error.
    FdwError,
    /// `08006` connection_failure (an export destination that cannot be reached).
    ConnectionFailure,
    /// `28000` invalid_authorization_specification (credentials refused).
    InvalidAuthorization,
    /// `F0000` config_file_error (a credentials file missing or unreadable).
    ConfigFileError,
    /// `42501` insufficient_privilege (a destination outside the allowed directory).
    InsufficientPrivilege,
    /// `58030` io_error (writing a local destination).
    IoError,
    /// `57014` query_canceled.
    QueryCanceled,
}

impl SqlState {
    /// The five-character SQLSTATE.
    pub fn code(self) -> &'static str {
        match self {
            SqlState::InvalidParameterValue => "22023",
            SqlState::FdwColumnNameNotFound => "HV005",
            SqlState::FdwInvalidDataType => "HV004",
            SqlState::FdwError => "HV000",
            SqlState::ConnectionFailure => "08006",
            SqlState::InvalidAuthorization => "28000",
            SqlState::ConfigFileError => "F0000",
            SqlState::InsufficientPrivilege => "42501",
            SqlState::IoError => "58030",
            SqlState::QueryCanceled => "57014",
        }
    }
}

/// An error with its SQLSTATE, message, and optional DETAIL and HINT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreError {
    pub state: SqlState,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
}

impl CoreError {
    pub fn new(state: SqlState, message: impl Into<String>) -> Self {
        CoreError {
            state,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CoreError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_five_characters_of_their_class() {
        for (s, class) in [
            (SqlState::InvalidParameterValue, "22"),
            (SqlState::FdwColumnNameNotFound, "HV"),
            (SqlState::FdwInvalidDataType, "HV"),
            (SqlState::FdwError, "HV"),
            (SqlState::ConnectionFailure, "08"),
            (SqlState::InvalidAuthorization, "28"),
            (SqlState::ConfigFileError, "F0"),
            (SqlState::InsufficientPrivilege, "42"),
            (SqlState::IoError, "58"),
            (SqlState::QueryCanceled, "57"),
        ] {
            assert_eq!(s.code().len(), 5);
            assert!(s.code().starts_with(class), "{s:?}");
        }
        let e = CoreError::new(SqlState::FdwError, "m")
            .detail("d")
            .hint("h");
        assert_eq!(
            (
                e.to_string().as_str(),
                e.detail.as_deref(),
                e.hint.as_deref()
            ),
            ("m", Some("d"), Some("h"))
        );
    }
}
