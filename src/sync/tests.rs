//! In-database tests of the sync's pure parts (run by `cargo pgrx test`).

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use std::collections::HashSet;

    use bravo_snowflake::Column;
    use chrono::NaiveDate;
    use pgrx::prelude::*;

    use crate::sync::source::parse_relation;
    use crate::sync::targets::IMPRESSIONS;
    use crate::sync::validate::{decimal_text, read_row, Deduper, Outcome, Reason};

    fn d(day: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(2026, 11, day)
    }

    fn batch(rows: &[(Option<NaiveDate>, Option<i128>, Option<i128>)]) -> Vec<Column> {
        vec![
            Column::Date(rows.iter().map(|r| r.0).collect()),
            Column::Fixed {
                scale: 0,
                values: rows.iter().map(|r| r.1).collect(),
            },
            Column::Fixed {
                scale: 0,
                values: rows.iter().map(|r| r.2).collect(),
            },
            Column::Fixed {
                scale: 0,
                values: rows.iter().map(|_| Some(5)).collect(),
            },
            Column::Fixed {
                scale: 2,
                values: rows.iter().map(|_| Some(-1234)).collect(),
            },
        ]
    }

    fn decide(rows: &[(Option<NaiveDate>, Option<i128>, Option<i128>)]) -> Vec<String> {
        let known: HashSet<i64> = [1, 2, 3].into_iter().collect();
        let cols = batch(rows);
        let mut dedup = Deduper::new(&known);
        let mut out = Vec::new();
        for i in 0..rows.len() {
            dedup
                .push(read_row(&IMPRESSIONS, &cols, i), &mut out)
                .expect("ordered");
        }
        dedup.finish(&mut out);
        out.into_iter()
            .map(|o| match o {
                Outcome::Stage {
                    media_buy_id,
                    values,
                    ..
                } => format!("stage {media_buy_id} {values:?}"),
                Outcome::SetAside { reason, .. } => format!("aside {}", reason.as_str()),
            })
            .collect()
    }

    #[pg_test]
    fn decimal_text_is_exact() {
        assert_eq!(decimal_text(-1234, 2), "-12.34");
        assert_eq!(decimal_text(5, 3), "0.005");
        assert_eq!(decimal_text(-5, 3), "-0.005");
        assert_eq!(decimal_text(0, 2), "0.00");
        assert_eq!(
            decimal_text(170141183460469231731687303715884105727, 10),
            "17014118346046923173168730371.5884105727"
        );
        assert_eq!(decimal_text(42, 0), "42");
    }

    #[pg_test]
    fn duplicates_are_set_aside_in_full_and_the_rest_staged() {
        let out = decide(&[
            (d(1), Some(1), Some(10)),
            (d(2), Some(1), Some(11)),
            (d(2), Some(1), Some(12)),
            (d(2), Some(1), Some(13)),
            (d(3), Some(1), Some(-1)),
            (None, Some(2), Some(1)),
            (d(1), Some(2), None),
            (d(1), Some(9), Some(1)),
        ]);
        assert_eq!(
            out,
            vec![
                "stage 1 [Count(10), Count(5), Money(\"-12.34\")]",
                "aside duplicate_key",
                "aside duplicate_key",
                "aside duplicate_key",
                // Keyless rows are decided at once; the keyed row before it was still held.
                "aside null_key",
                "aside negative_count",
                "aside null_value",
                "aside unknown_media_buy",
            ]
        );
    }

    #[pg_test]
    fn out_of_order_input_is_an_error() {
        let known: HashSet<i64> = [1, 2].into_iter().collect();
        let cols = batch(&[(d(2), Some(2), Some(1)), (d(1), Some(1), Some(1))]);
        let mut dedup = Deduper::new(&known);
        let mut out = Vec::new();
        dedup
            .push(read_row(&IMPRESSIONS, &cols, 0), &mut out)
            .unwrap();
        assert!(dedup
            .push(read_row(&IMPRESSIONS, &cols, 1), &mut out)
            .is_err());
        assert_eq!(Reason::DuplicateKey.as_str(), "duplicate_key");
    }

    #[pg_test]
    fn relation_names_are_parsed_and_requoted() {
        assert_eq!(
            parse_relation("PLATFORM_BUY_DAILY_IMPRESSIONS").unwrap(),
            "PLATFORM_BUY_DAILY_IMPRESSIONS"
        );
        assert_eq!(parse_relation("db.sch.t").unwrap(), "db.sch.t");
        assert_eq!(
            parse_relation("\"My \"\"DB\"\"\".s.t").unwrap(),
            "\"My \"\"DB\"\"\".s.t"
        );
        for bad in [
            "",
            "a;drop table x",
            "a.b.c.d",
            "a..b",
            "\"unterminated",
            "1abc",
            "a b",
        ] {
            assert!(parse_relation(bad).is_err(), "{bad}");
        }
    }

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
    fn money_compares_by_value_not_by_scale() {
        use crate::sync::apply::canonical_decimal;
        assert_eq!(canonical_decimal("1.50"), "1.5");
        assert_eq!(canonical_decimal("1.5"), "1.5");
        assert_eq!(canonical_decimal("100"), "100");
        assert_eq!(canonical_decimal("100.000"), "100");
        assert_eq!(canonical_decimal("-0.00"), "0");
        assert_eq!(canonical_decimal("0.05"), "0.05");
        assert_eq!(canonical_decimal("-12.340"), "-12.34");
        assert_eq!(canonical_decimal("007.10"), "7.1");
        assert_ne!(canonical_decimal("1.05"), canonical_decimal("1.5"));
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
