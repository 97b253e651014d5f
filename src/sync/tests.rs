//! In-database tests of the sync's PostgreSQL-side helpers (run by `cargo pgrx test`).
//! The pure parts are tested in `crates/core`.

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use bravo_core::grain::Grain;
    use pgrx::prelude::*;

    #[pg_test]
    fn sqlstates_render_as_five_characters() {
        use crate::error::sqlstate_text;
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
        use crate::error::sqlstate_text;
        use crate::error::BravoError;
        use bravo_core::{CoreError, SqlState};
        for s in [
            SqlState::InvalidParameterValue,
            SqlState::FdwColumnNameNotFound,
            SqlState::FdwInvalidDataType,
            SqlState::FdwError,
            SqlState::ConnectionFailure,
            SqlState::InvalidAuthorization,
            SqlState::ConfigFileError,
            SqlState::InsufficientPrivilege,
            SqlState::IoError,
            SqlState::QueryCanceled,
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

    /// The schema of the family catalog (`bravo`).
    fn schema() -> String {
        crate::runlog::log_schema().unwrap_or_else(|e| e.raise())
    }

    /// The schema of the media tool's tables.
    fn media() -> String {
        crate::schemas::resolve()
            .unwrap_or_else(|e| e.raise())
            .media
    }

    #[pg_test]
    fn the_shipped_catalog_is_the_builtin_one() {
        use crate::sync::catalog::enabled_families;
        let schema = schema();
        let on: Vec<String> = enabled_families(&schema, Grain::Day)
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(on, ["impressions", "videos"]);
        Spi::run(&format!(
            "UPDATE {schema}.bravo_families SET enabled = true"
        ))
        .unwrap();
        let mut got = enabled_families(&schema, Grain::Day).unwrap();
        got.extend(enabled_families(&schema, Grain::Hour).unwrap());
        let want = bravo_core::target::builtin();
        assert_eq!(got.len(), want.len());
        for (g, (w, _)) in got.iter().zip(&want) {
            assert_eq!(
                (&g.name, &g.table, &g.metrics, &g.source, g.grain, g.zone),
                (&w.name, &w.table, &w.metrics, &w.source, w.grain, w.zone)
            );
        }
        let required: Vec<bool> = got.iter().map(|t| t.required).collect();
        assert_eq!(required, [true, true, false, false, false, false]);
    }

    #[pg_test(error = "no metric family is enabled")]
    fn a_sync_with_no_family_enabled_is_refused() {
        let schema = schema();
        Spi::run(&format!(
            "UPDATE {schema}.bravo_families SET enabled = false"
        ))
        .unwrap();
        crate::sync::catalog::enabled_families(&schema, Grain::Day).unwrap_or_else(|e| e.raise());
    }

    #[pg_test(
        error = "new row for relation \"bravo_families\" violates check constraint \"bravo_families_table_name_check\""
    )]
    fn the_catalog_refuses_names_that_are_not_plain_identifiers() {
        Spi::run(&format!(
            "UPDATE {}.bravo_families SET table_name = 'x; DROP TABLE media_buys' WHERE family = 'conversions'",
            schema()
        ))
        .unwrap();
    }

    #[pg_test]
    fn enabling_a_family_creates_its_table_and_adds_new_metric_columns() {
        let (schema, media) = (schema(), media());
        let cols = |t: &str| -> Vec<String> {
            Spi::connect(|c| {
                c.select(
                    &format!("SELECT attname::text || ' ' || format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '{media}.{t}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"),
                    None,
                    &[],
                )
                .map(|r| r.filter_map(|x| x.get::<String>(1).ok().flatten()).collect())
            })
            .unwrap()
        };
        let t = Spi::get_one::<String>("SELECT bravo_enable_family('conversions')::text")
            .unwrap()
            .unwrap();
        assert!(t.ends_with("platform_buy_daily_conversions"), "{t}");
        assert_eq!(
            cols("platform_buy_daily_conversions"),
            [
                "date date",
                "media_buy_id bigint",
                "created_at timestamp with time zone",
                "updated_at timestamp with time zone",
                "post_click_conversions bigint",
                "post_view_conversions bigint",
                "conversion_value numeric"
            ]
        );
        // Counts are checked non-negative by the table too; the key is (media_buy_id, date).
        assert_eq!(
            Spi::get_one::<String>(&format!(
                "SELECT string_agg(pg_get_constraintdef(oid), '; ' ORDER BY contype, conname) FROM pg_constraint WHERE conrelid = '{media}.platform_buy_daily_conversions'::regclass"
            ))
            .unwrap()
            .unwrap(),
            "CHECK ((post_click_conversions >= 0)); CHECK ((post_view_conversions >= 0)); FOREIGN KEY (media_buy_id) REFERENCES media_buys(id); PRIMARY KEY (media_buy_id, date)"
        );
        // A metric column added to the catalog is added to the table by enabling again.
        Spi::run(&format!("INSERT INTO {schema}.bravo_family_metrics VALUES ('conversions', 'app_installs', 'count', 4, NULL)")).unwrap();
        Spi::run("SELECT bravo_enable_family('conversions', required => true)").unwrap();
        assert_eq!(
            cols("platform_buy_daily_conversions").last().unwrap(),
            "app_installs bigint"
        );
        let (enabled, required) = Spi::get_two::<bool, bool>(&format!(
            "SELECT enabled, required FROM {schema}.bravo_families WHERE family = 'conversions'"
        ))
        .unwrap();
        assert_eq!((enabled, required), (Some(true), Some(true)));
        // Enabling again without `required` keeps it.
        Spi::run("SELECT bravo_enable_family('conversions')").unwrap();
        assert_eq!(
            Spi::get_one::<bool>(&format!(
                "SELECT required FROM {schema}.bravo_families WHERE family = 'conversions'"
            ))
            .unwrap(),
            Some(true)
        );
        assert_eq!(
            Spi::get_one::<bool>("SELECT bravo_disable_family('conversions')").unwrap(),
            Some(true)
        );
        assert_eq!(
            Spi::get_one::<bool>("SELECT bravo_disable_family('conversions')").unwrap(),
            Some(false)
        );
    }

    #[pg_test(error = "no metric family \"clicks\"")]
    fn enabling_an_unknown_family_is_refused() {
        Spi::run("SELECT bravo_enable_family('clicks')").unwrap();
    }

    #[pg_test]
    fn an_empty_catalog_syncs_the_families_of_0_3_0() {
        let schema = schema();
        Spi::run(&format!(
            "DELETE FROM {schema}.bravo_family_metrics; DELETE FROM {schema}.bravo_families"
        ))
        .unwrap();
        let got = crate::sync::catalog::enabled_families(&schema, Grain::Day).unwrap();
        let names: Vec<(&str, bool)> = got.iter().map(|t| (t.name.as_str(), t.required)).collect();
        assert_eq!(names, [("impressions", true), ("videos", true)]);
    }

    #[pg_test]
    fn restoring_the_shipped_families_adds_what_is_missing_and_keeps_what_is_there() {
        let schema = schema();
        let n = |sql: &str| Spi::get_one::<i32>(sql).unwrap().unwrap();
        // Nothing missing: nothing inserted.
        assert_eq!(n("SELECT bravo_restore_families()"), 0);
        // A changed family stays as it is; a deleted one (and its metrics) comes back.
        Spi::run(&format!(
            "UPDATE {schema}.bravo_families SET source_relation = 'MART.CONV_V2', enabled = true WHERE family = 'conversions';
             DELETE FROM {schema}.bravo_families WHERE family = 'viewability';"
        ))
        .unwrap();
        assert_eq!(n("SELECT bravo_restore_families()"), 4);
        let conv = Spi::get_two::<String, bool>(&format!(
            "SELECT source_relation, enabled FROM {schema}.bravo_families WHERE family = 'conversions'"
        ))
        .unwrap();
        assert_eq!(conv, (Some("MART.CONV_V2".into()), Some(true)));
        // An empty catalog (a dump taken before 0.4.0) gets the whole shipped catalog.
        Spi::run(&format!(
            "DELETE FROM {schema}.bravo_family_metrics; DELETE FROM {schema}.bravo_families"
        ))
        .unwrap();
        assert_eq!(n("SELECT bravo_restore_families()"), 24);
        Spi::run(&format!(
            "UPDATE {schema}.bravo_families SET enabled = true"
        ))
        .unwrap();
        let mut got = crate::sync::catalog::enabled_families(&schema, Grain::Day).unwrap();
        got.extend(crate::sync::catalog::enabled_families(&schema, Grain::Hour).unwrap());
        let want = bravo_core::target::builtin();
        let got: Vec<_> = got
            .iter()
            .map(|t| (&t.name, &t.table, &t.metrics))
            .collect();
        let want: Vec<_> = want
            .iter()
            .map(|(t, _)| (&t.name, &t.table, &t.metrics))
            .collect();
        assert_eq!(got, want);
    }

    /// The PostgreSQL half of the key-order agreement for text media buy ids (the
    /// Snowflake half, the same keys against fakesnow, is in
    /// `crates/snowflake/tests/fakesnow_types.rs`): `COLLATE "C"` orders text by its
    /// UTF-8 bytes, as Rust orders `String`s; a uuid orders as its lower-case text.
    #[pg_test]
    fn collate_c_orders_text_as_rust_and_uuids_as_their_lower_case_text() {
        let keys: Vec<String> = [
            "b", "B", "a", "A", "é", "e\u{301}", "e", "E", "10", "9", "09", "Z", "ä", "_x", "a b",
            "ab", "Ω", "日本", "€", "z",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut want = keys.clone();
        want.sort();
        let got = Spi::get_one_with_args::<Vec<String>>(
            "SELECT array_agg(k ORDER BY k COLLATE \"C\") FROM unnest($1::text[]) k",
            &[keys.into()],
        )
        .unwrap()
        .unwrap();
        assert_eq!(got, want);
        let (by_uuid, by_text) = Spi::get_two::<Vec<String>, Vec<String>>(
            "WITH u AS (SELECT gen_random_uuid() AS u FROM generate_series(1, 200)) \
             SELECT array_agg(u::text ORDER BY u), array_agg(lower(u::text) ORDER BY lower(u::text) COLLATE \"C\") FROM u",
        )
        .unwrap();
        assert_eq!(by_uuid, by_text);
    }

    /// The merge statements' arguments (`sync::arrays`) arrive as PostgreSQL's own
    /// arrays of the same values: money keeps its scale, days and instants their value,
    /// ids their text.
    #[pg_test]
    fn bulk_arrays_bind_the_values_they_were_given() {
        use crate::sync::arrays;
        let money: Vec<String> = ["-12.30", "0", "0.000001", "12345678901234567890123456789.5"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let text = |sql: &str, arg: pgrx::datum::DatumWithOid| {
            Spi::get_one_with_args::<String>(sql, &[arg])
                .unwrap()
                .unwrap()
        };
        assert_eq!(
            text("SELECT $1::numeric[]::text", arrays::numerics(money)),
            "{-12.30,0,0.000001,12345678901234567890123456789.5}"
        );
        assert_eq!(
            text(
                "SELECT $1::int8[]::text",
                arrays::int8s(vec![i64::MIN, 0, 7, i64::MAX])
            ),
            "{-9223372036854775808,0,7,9223372036854775807}"
        );
        // Days since 2000-01-01: 0, one leap year later, and before the epoch.
        assert_eq!(
            text("SELECT $1::date[]::text", arrays::dates(vec![0, 366, -1])),
            "{2000-01-01,2001-01-01,1999-12-31}"
        );
        assert_eq!(
            text(
                "SELECT pg_catalog.array_agg(t AT TIME ZONE 'UTC')::text FROM unnest($1::timestamptz[]) t",
                arrays::timestamptzs(vec![0, 3_600_000_000])
            ),
            "{\"2000-01-01 00:00:00\",\"2000-01-01 01:00:00\"}"
        );
        assert_eq!(
            text(
                "SELECT $1::text[]::text",
                arrays::texts(vec!["a b".into(), String::new(), "ü".into()])
            ),
            "{\"a b\",\"\",ü}"
        );
        assert_eq!(
            text(
                "SELECT pg_catalog.cardinality($1::int8[])::text",
                arrays::int8s(Vec::new())
            ),
            "0"
        );
    }
}
