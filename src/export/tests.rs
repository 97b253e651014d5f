//! In-database tests of the export's reading side: values read in binary and
//! formatted in Rust must equal PostgreSQL's own text for them.

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use bravo_core::export::csv;
    use pgrx::prelude::*;

    use crate::export::cursor::{each_row, Snapshot};

    /// Each row's first column formatted by the export against its second column,
    /// PostgreSQL's text of the same value (CSV: `push_row` of one value).
    fn mismatches(query: &str) -> (u64, Vec<String>) {
        let snap = Snapshot::take();
        let mut bad = Vec::new();
        let rows = Spi::connect(|_| {
            each_row(&snap, query, |v| {
                let mut ours = Vec::new();
                csv::push_row(&mut ours, &v[..1])?;
                ours.pop(); // the newline
                let ours = String::from_utf8(ours).unwrap();
                let theirs = match v[1] {
                    bravo_core::export::value::Value::Text(t) => t.to_string(),
                    ref other => format!("{other:?}"),
                };
                if ours != theirs && bad.len() < 10 {
                    bad.push(format!("{ours} != {theirs}"));
                }
                Ok(())
            })
        })
        .unwrap();
        (rows, bad)
    }

    #[pg_test]
    fn numerics_read_in_binary_are_written_as_numeric_out_writes_them() {
        // Every scale and sign, weights around the base-10000 digit boundaries, very
        // large and very small magnitudes, the special values, and the short and
        // long stored forms (PostgreSQL picks the short one when it fits).
        let (rows, bad) = mismatches(
            "WITH v(x) AS (
                 SELECT (pg_catalog.random() * 10 ^ e * CASE WHEN g % 2 = 0 THEN 1 ELSE -1 END)::numeric(1000, 0)
                        / 10 ^ s::numeric
                   FROM pg_catalog.generate_series(0, 40) e,
                        pg_catalog.generate_series(0, 12) s,
                        pg_catalog.generate_series(1, 4) g
                 UNION ALL SELECT x::numeric FROM (VALUES ('0'), ('0.000'), ('-0.0001'), ('9999'),
                        ('10000'), ('10000.0001'), ('1e-30'), ('123456789012345678901234567890.5'),
                        ('NaN'), ('Infinity'), ('-Infinity'), ('12.50'), ('-12.50'), ('1e130')) t(x))
             SELECT x, x::text FROM v",
        );
        assert!(rows > 2000, "{rows} rows");
        assert!(bad.is_empty(), "{bad:?}");
    }

    #[pg_test]
    fn dates_instants_and_text_read_in_binary_are_written_as_postgresql_reads_them() {
        // CSV writes instants in UTC as YYYY-MM-DDTHH:MM:SS.ffffffZ; compare with
        // PostgreSQL's own rendering of the same instant in that shape.
        Spi::run("SET LOCAL timezone = 'America/New_York'").unwrap();
        Spi::run("SET LOCAL datestyle = 'ISO, MDY'").unwrap();
        let (rows, bad) = mismatches(
            "SELECT t, pg_catalog.to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')
               FROM (SELECT '1970-01-01 00:00:00+00'::timestamptz + pg_catalog.random() * interval '20000 days' t
                       FROM pg_catalog.generate_series(1, 500)
                     UNION ALL VALUES ('2000-02-29 23:59:59.999999+00'::timestamptz), ('1969-12-31 23:59:59.5+00'),
                                      ('1000-01-01 00:00:00+00'), ('9999-12-31 23:59:59.999999+00')) v",
        );
        assert_eq!(rows, 504);
        assert!(bad.is_empty(), "{bad:?}");
        let (rows, bad) = mismatches(
            "SELECT d, d::text FROM (SELECT '0001-01-01'::date + (pg_catalog.random() * 3650000)::int d
                                        FROM pg_catalog.generate_series(1, 500)
                                      UNION ALL VALUES ('infinity'::date), ('-infinity'), ('0044-03-15 BC'),
                                                       ('12345-06-07'), ('1970-01-01')) v",
        );
        assert_eq!(rows, 505);
        assert!(bad.is_empty(), "{bad:?}");
    }
}
