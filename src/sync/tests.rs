//! In-database tests of the sync's PostgreSQL-side helpers (run by `cargo pgrx test`).
//! The pure parts are tested in `crates/core`.

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn sqlstates_render_as_five_characters() {
        use crate::sync::sqlstate_text;
        assert_eq!(
            sqlstate_text(PgSqlErrorCode::ERRCODE_QUERY_CANCELED),
            "57014"
        );
        assert_eq!(
            sqlstate_text(PgSqlErrorCode::ERRCODE_FDW_TABLE_NOT_FOUND),
            "HV00R"
        );
    }

    #[pg_test]
    fn core_sqlstates_map_to_the_same_pgrx_codes() {
        use crate::error::BravoError;
        use crate::sync::sqlstate_text;
        use bravo_core::{CoreError, SqlState};
        for s in [
            SqlState::InvalidParameterValue,
            SqlState::FdwColumnNameNotFound,
            SqlState::FdwInvalidDataType,
            SqlState::FdwError,
        ] {
            let e = BravoError::from(CoreError::new(s, "m").detail("d").hint("h"));
            assert_eq!(sqlstate_text(e.code), s.code());
            assert_eq!(
                (e.detail.as_deref(), e.hint.as_deref()),
                (Some("d"), Some("h"))
            );
        }
    }

    #[pg_test]
    fn lookback_bounds() {
        use crate::sync::check_lookback;
        assert!(check_lookback(None).is_err());
        assert!(check_lookback(Some(0)).is_err());
        assert_eq!(check_lookback(Some(30)).unwrap(), 30);
        assert!(check_lookback(Some(401)).is_err());
    }
}
