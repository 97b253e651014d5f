//! Types, NULLs, empty results, bindings and describe-only against a real fakesnow.

mod common;

use bravo_snowflake::{Binding, Column, Query};
use chrono::{FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};
use common::*;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_type_with_nulls_and_pre_1970_values() {
    let fs = FakeSnow::start();
    let c = fs.connect().await;
    exec(&c, "create table t (i int, n number(38,0), d decimal(10,2), f float, v varchar, b boolean, dt date, tm time, ntz timestamp_ntz, ltz timestamp_ltz, tz timestamp_tz, bin binary, var variant)").await.unwrap();
    exec(&c, "insert into t values (1, 1234567890123456789, 123.45, 1.5, 'hi', true, '2024-02-29', '12:34:56.789', '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56.123456', '2024-02-29 12:34:56.123456+05:30', to_binary('abcd', 'HEX'), parse_json('{\"a\":1}'))").await.unwrap();
    exec(&c, "insert into t values (-2, -5, -0.01, -2.25, '', false, '1969-07-20', '00:00:00', '1960-01-01 00:00:00.5', '1960-01-01 00:00:00.5', '1960-01-01 00:00:00.5-03:00', to_binary('', 'HEX'), parse_json('[1,2]'))").await.unwrap();
    exec(&c, "insert into t values (null, null, null, null, null, null, null, null, null, null, null, null, null)").await.unwrap();

    let mut s = c
        .query(Query::new("select * from t order by i nulls last"))
        .await
        .unwrap();
    let names: Vec<&str> = s.columns().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        ["I", "N", "D", "F", "V", "B", "DT", "TM", "NTZ", "LTZ", "TZ", "BIN", "VAR"]
    );
    assert_eq!(s.columns()[2].scale, Some(2));
    assert_eq!(s.total_rows(), Some(3));
    assert!(s.query_id().is_some());
    let b = s.next_batch().await.unwrap().expect("one batch");
    assert!(s.next_batch().await.unwrap().is_none());
    assert_eq!(b.num_rows, 3);
    let cols = &b.columns;
    assert_eq!(
        cols[0],
        Column::Fixed {
            scale: 0,
            values: vec![Some(-2), Some(1), None]
        }
    );
    assert_eq!(
        cols[1],
        Column::Fixed {
            scale: 0,
            values: vec![Some(-5), Some(1_234_567_890_123_456_789), None]
        }
    );
    // Money stays exact: 123.45 is 12345 at scale 2, -0.01 is -1.
    assert_eq!(
        cols[2],
        Column::Fixed {
            scale: 2,
            values: vec![Some(-1), Some(12345), None]
        }
    );
    assert_eq!(cols[3], Column::Real(vec![Some(-2.25), Some(1.5), None]));
    assert_eq!(
        cols[4],
        Column::Text(vec![Some(String::new()), Some("hi".into()), None])
    );
    assert_eq!(
        cols[5],
        Column::Boolean(vec![Some(false), Some(true), None])
    );
    assert_eq!(
        cols[6],
        Column::Date(vec![Some(date(1969, 7, 20)), Some(date(2024, 2, 29)), None])
    );
    assert_eq!(
        cols[7],
        Column::Time(vec![
            Some(NaiveTime::from_hms_opt(0, 0, 0).unwrap()),
            Some(NaiveTime::from_hms_milli_opt(12, 34, 56, 789).unwrap()),
            None
        ])
    );
    let ntz_new = date(2024, 2, 29)
        .and_hms_micro_opt(12, 34, 56, 123_456)
        .unwrap();
    let ntz_old = date(1960, 1, 1).and_hms_milli_opt(0, 0, 0, 500).unwrap();
    assert_eq!(
        cols[8],
        Column::TimestampNtz(vec![Some(ntz_old), Some(ntz_new), None])
    );
    // fakesnow reports TIMESTAMP_LTZ as timestamp_tz (offset always 0).
    let utc = FixedOffset::east_opt(0).unwrap();
    assert_eq!(
        cols[9],
        Column::TimestampTz(vec![
            Some(utc.from_utc_datetime(&ntz_old)),
            Some(utc.from_utc_datetime(&ntz_new)),
            None
        ])
    );
    match &cols[10] {
        Column::TimestampTz(v) => {
            assert_eq!(
                v[0].unwrap().with_timezone(&Utc),
                Utc.from_utc_datetime(&date(1960, 1, 1).and_hms_milli_opt(3, 0, 0, 500).unwrap())
            );
            assert_eq!(
                v[1].unwrap().with_timezone(&Utc),
                Utc.from_utc_datetime(
                    &date(2024, 2, 29)
                        .and_hms_micro_opt(7, 4, 56, 123_456)
                        .unwrap()
                )
            );
            assert_eq!(v[2], None);
        }
        other => panic!("TZ column decoded as {other:?}"),
    }
    assert_eq!(
        cols[11],
        Column::Binary(vec![Some(vec![]), Some(vec![0xab, 0xcd]), None])
    );
    match &cols[12] {
        Column::Text(v) => {
            let parsed: Vec<Option<serde_json::Value>> = v
                .iter()
                .map(|s| s.as_ref().map(|s| serde_json::from_str(s).unwrap()))
                .collect();
            assert_eq!(
                parsed,
                vec![
                    Some(serde_json::json!([1, 2])),
                    Some(serde_json::json!({"a": 1})),
                    None
                ]
            );
        }
        other => panic!("VARIANT decoded as {other:?}"),
    }
    c.logout().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_result_keeps_the_schema() {
    let fs = FakeSnow::start();
    let c = fs.connect().await;
    exec(&c, "create table e (a int, b varchar, c timestamp_ntz)")
        .await
        .unwrap();
    let mut s = c
        .query(Query::new("select * from e where 1=0"))
        .await
        .unwrap();
    let names: Vec<(&str, &str)> = s
        .columns()
        .iter()
        .map(|m| (m.name.as_str(), m.sf_type.as_str()))
        .collect();
    assert_eq!(
        names,
        [("A", "fixed"), ("B", "text"), ("C", "timestamp_ntz")]
    );
    assert_eq!(s.total_rows(), Some(0));
    assert!(s.next_batch().await.unwrap().is_none());
    assert!(s.next_batch().await.unwrap().is_none(), "stays at the end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_only_returns_rowtype_without_rows() {
    let fs = FakeSnow::start();
    let c = fs.connect().await;
    exec(&c, "create table d (a int, b varchar)").await.unwrap();
    exec(&c, "insert into d values (1, 'x')").await.unwrap();
    let mut q = Query::new("select * from d");
    q.describe_only = true;
    let mut s = c.query(q).await.unwrap();
    assert_eq!(s.columns().len(), 2);
    assert_eq!(s.columns()[1].name, "B");
    // fakesnow reports no collation for a plain VARCHAR (nor does Snowflake): its
    // values are compared by their UTF-8 bytes.
    assert_eq!(s.columns()[1].collation, None);
    assert_eq!(s.total_rows(), Some(0));
    assert!(s.next_batch().await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bindings_of_every_type_round_trip() {
    let fs = FakeSnow::start();
    let c = fs.connect().await;
    exec(&c, "create table bnd (i int, n number(18,0), f float, v varchar, b boolean, d date, tm time, ntz timestamp_ntz, tz timestamp_tz, bin binary)").await.unwrap();
    let ntz = date(1965, 3, 4)
        .and_hms_micro_opt(5, 6, 7, 891_011)
        .unwrap();
    let tz = FixedOffset::east_opt(2 * 3600)
        .unwrap()
        .from_utc_datetime(&date(2024, 2, 29).and_hms_micro_opt(23, 0, 0, 5).unwrap());
    let insert = "insert into bnd values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    let q = Query::new(insert)
        .bind(Binding::Int(-42))
        .bind(Binding::Decimal("123456789012345678".into()))
        .bind(Binding::Real(2.5))
        .bind(Binding::Text("héllo 'quoted'".into()))
        .bind(Binding::Bool(true))
        .bind(Binding::Date(date(1969, 12, 31)))
        .bind(Binding::Time(
            NaiveTime::from_hms_micro_opt(13, 14, 15, 160_000).unwrap(),
        ))
        .bind(Binding::TimestampNtz(ntz))
        .bind(Binding::TimestampTz(tz))
        .bind(Binding::Binary(vec![0, 1, 0xfe]));
    let s = c.query(q).await.unwrap();
    assert_eq!(s.rows_affected(), Some(1));
    let mut nulls = Query::new(insert);
    for _ in 0..10 {
        nulls = nulls.bind(Binding::Null);
    }
    c.query(nulls).await.unwrap();
    let leap = Query::new("insert into bnd (i, d) values (?, ?)")
        .bind(Binding::Int(7))
        .bind(Binding::Date(date(2024, 2, 29)));
    c.query(leap).await.unwrap();

    let batches = exec(&c, "select * from bnd order by i nulls last")
        .await
        .unwrap();
    assert_eq!(batches.len(), 1);
    let cols = &batches[0].columns;
    assert_eq!(
        cols[0],
        Column::Fixed {
            scale: 0,
            values: vec![Some(-42), Some(7), None]
        }
    );
    assert_eq!(
        cols[1],
        Column::Fixed {
            scale: 0,
            values: vec![Some(123_456_789_012_345_678), None, None]
        }
    );
    assert_eq!(cols[2], Column::Real(vec![Some(2.5), None, None]));
    assert_eq!(
        cols[3],
        Column::Text(vec![Some("héllo 'quoted'".into()), None, None])
    );
    assert_eq!(cols[4], Column::Boolean(vec![Some(true), None, None]));
    assert_eq!(
        cols[5],
        Column::Date(vec![
            Some(date(1969, 12, 31)),
            Some(date(2024, 2, 29)),
            None
        ])
    );
    assert_eq!(
        cols[6],
        Column::Time(vec![
            Some(NaiveTime::from_hms_micro_opt(13, 14, 15, 160_000).unwrap()),
            None,
            None
        ])
    );
    assert_eq!(cols[7], Column::TimestampNtz(vec![Some(ntz), None, None]));
    match &cols[8] {
        Column::TimestampTz(v) => {
            assert_eq!(
                v[0].map(|d| d.with_timezone(&Utc)),
                Some(tz.with_timezone(&Utc))
            );
            assert_eq!(&v[1..], &[None, None]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        cols[9],
        Column::Binary(vec![Some(vec![0, 1, 0xfe]), None, None])
    );

    // A binding in a SELECT, filtered by a DATE binding.
    let q = Query::new("select i from bnd where d = ?").bind(Binding::Date(date(2024, 2, 29)));
    let rows = drain(c.query(q).await.unwrap()).await.unwrap();
    assert_eq!(
        rows[0].columns[0],
        Column::Fixed {
            scale: 0,
            values: vec![Some(7)]
        }
    );
}

/// Keys that differ by case, accents (precomposed and combining), digits vs letters,
/// punctuation and non-ASCII scripts: the order text media buy ids must agree on.
const ORDERING_KEYS: [&str; 20] = [
    "b", "B", "a", "A", "é", "e\u{301}", "e", "E", "10", "9", "09", "Z", "ä", "_x", "a b", "ab",
    "Ω", "日本", "€", "z",
];

async fn ordered(c: &bravo_snowflake::Client, sql: &str) -> Vec<String> {
    let mut s = c.query(Query::new(sql)).await.unwrap();
    let mut out = Vec::new();
    while let Some(b) = s.next_batch().await.unwrap() {
        match &b.columns[0] {
            Column::Text(v) => out.extend(v.iter().map(|x| x.clone().unwrap())),
            other => panic!("not text: {other:?}"),
        }
    }
    out
}

/// Snowflake (here fakesnow) orders a VARCHAR without a collation by its UTF-8 bytes,
/// which is how Rust orders `String`s (and PostgreSQL with `COLLATE "C"`, checked in
/// the extension's pg_tests); a uuid's text, lower-cased, orders as the uuid does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn varchar_order_is_utf8_byte_order_as_rust_orders_strings() {
    let fs = FakeSnow::start();
    let c = fs.connect().await;
    exec(&c, "create table k (id varchar)").await.unwrap();
    let values = ORDERING_KEYS
        .iter()
        .map(|k| format!("('{k}')"))
        .collect::<Vec<_>>()
        .join(", ");
    exec(&c, &format!("insert into k values {values}"))
        .await
        .unwrap();
    let mut want: Vec<String> = ORDERING_KEYS.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(ordered(&c, "select id from k order by id").await, want);

    // Upper-case uuids, ordered by their lower-case text.
    let uuids: Vec<uuid::Uuid> = (0..40).map(|_| uuid::Uuid::new_v4()).collect();
    exec(&c, "create table u (id varchar)").await.unwrap();
    let values = uuids
        .iter()
        .map(|u| format!("('{}')", u.hyphenated().to_string().to_uppercase()))
        .collect::<Vec<_>>()
        .join(", ");
    exec(&c, &format!("insert into u values {values}"))
        .await
        .unwrap();
    let mut by_uuid = uuids.clone();
    by_uuid.sort();
    let want: Vec<String> = by_uuid
        .iter()
        .map(|u| u.hyphenated().to_string().to_uppercase())
        .collect();
    assert_eq!(
        ordered(&c, "select id from u order by lower(id)").await,
        want
    );
}
