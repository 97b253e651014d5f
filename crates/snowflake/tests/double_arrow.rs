//! Plan B.8: the Arrow decoding matrix, served inline and in chunks by the double.

mod double_common;

use std::sync::Arc;

use arrow_array::Int64Array;
use bravo_snowflake::{Batch, Column, ErrorKind};
use bravo_testkit::double::{Chunk, Double, Endpoint, ResultSpec};
use bravo_testkit::sfarrow::{self, SfColumn, TsCell, Width};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use double_common::*;

/// Serves `parts[0]` inline and the rest as chunks; returns the batches.
async fn fetch(parts: Vec<Vec<SfColumn>>) -> Result<Vec<Batch>, bravo_snowflake::Error> {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    let mut spec = ResultSpec::arrow(&parts[0]).inline(&parts[0]);
    for p in &parts[1..] {
        spec = spec.chunk(Chunk::arrow(p).gzip());
    }
    d.push_json(Endpoint::QueryRequest, d.result(&spec));
    bounded(run(&client, "select x")).await
}

fn ntz(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

fn flat<T: Clone>(batches: &[Batch], pick: impl Fn(&Column) -> Option<&Vec<T>>) -> Vec<T> {
    batches
        .iter()
        .flat_map(|b| {
            pick(&b.columns[0])
                .unwrap_or_else(|| panic!("unexpected column {:?}", b.columns[0]))
                .clone()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn fixed_widths_differ_between_chunks() {
    let parts = vec![
        vec![sfarrow::fixed("X", Width::I8, 2, &[Some(-128), None])],
        vec![sfarrow::fixed("X", Width::I16, 2, &[Some(32_767)])],
        vec![sfarrow::fixed("X", Width::I32, 2, &[Some(-2_147_483_648)])],
        vec![sfarrow::fixed(
            "X",
            Width::I64,
            2,
            &[Some(i64::MAX), Some(-1)],
        )],
    ];
    let b = fetch(parts).await.unwrap();
    let (scale, v) = fixed_values(&b, 0);
    assert_eq!(scale, 2);
    assert_eq!(
        v,
        vec![
            Some(-128),
            None,
            Some(32_767),
            Some(-2_147_483_648),
            Some(i64::MAX as i128),
            Some(-1)
        ]
    );

    let b = fetch(vec![
        vec![sfarrow::fixed("X", Width::I32, 0, &[Some(42)])],
        vec![sfarrow::fixed("X", Width::I8, 0, &[Some(-1)])],
    ])
    .await
    .unwrap();
    assert_eq!(fixed_values(&b, 0), (0, vec![Some(42), Some(-1)]));
}

#[tokio::test(flavor = "multi_thread")]
async fn decimal128_scales_0_and_10() {
    let big = 12_345_678_901_234_567_890_123_456_789i128;
    let b = fetch(vec![vec![sfarrow::decimal(
        "X",
        38,
        0,
        &[Some(big), None, Some(-big)],
    )]])
    .await
    .unwrap();
    assert_eq!(fixed_values(&b, 0), (0, vec![Some(big), None, Some(-big)]));
    let b = fetch(vec![
        vec![sfarrow::decimal("X", 38, 10, &[Some(-12_345_000_000_001)])],
        vec![sfarrow::decimal("X", 38, 10, &[Some(1)])],
    ])
    .await
    .unwrap();
    assert_eq!(
        fixed_values(&b, 0),
        (10, vec![Some(-12_345_000_000_001), Some(1)])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn time_int32_scale3_and_int64_scale9() {
    let t = |s: &str| NaiveTime::parse_from_str(s, "%H:%M:%S%.f").unwrap();
    let b = fetch(vec![vec![sfarrow::time(
        "X",
        Width::I32,
        3,
        &[Some(45_296_789), None, Some(0)],
    )]])
    .await
    .unwrap();
    assert_eq!(
        flat(&b, |c| if let Column::Time(v) = c {
            Some(v)
        } else {
            None
        }),
        vec![Some(t("12:34:56.789")), None, Some(t("00:00:00"))]
    );
    let b = fetch(vec![vec![sfarrow::time(
        "X",
        Width::I64,
        9,
        &[Some(86_399_999_999_999)],
    )]])
    .await
    .unwrap();
    assert_eq!(
        flat(&b, |c| if let Column::Time(v) = c {
            Some(v)
        } else {
            None
        }),
        vec![Some(t("23:59:59.999999999"))]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ntz_int64_scale3_and_struct_with_negative_epochs_and_nulls() {
    let b = fetch(vec![vec![sfarrow::ts_int64(
        "X",
        "TIMESTAMP_NTZ",
        3,
        &[Some(-1_500), Some(1_704_067_200_123), None],
    )]])
    .await
    .unwrap();
    let v = flat(&b, |c| {
        if let Column::TimestampNtz(v) = c {
            Some(v)
        } else {
            None
        }
    });
    assert_eq!(
        v,
        vec![
            Some(ntz("1969-12-31 23:59:58.5")),
            Some(ntz("2024-01-01 00:00:00.123")),
            None
        ]
    );

    let cells = [
        TsCell::ntz(-2, 500_000_000),
        TsCell::Null,
        TsCell::NullChildren,
        TsCell::ntz(951_782_400, 1),
    ];
    let b = fetch(vec![vec![sfarrow::ts_struct(
        "X",
        "TIMESTAMP_NTZ",
        9,
        &cells,
    )]])
    .await
    .unwrap();
    let v = flat(&b, |c| {
        if let Column::TimestampNtz(v) = c {
            Some(v)
        } else {
            None
        }
    });
    assert_eq!(
        v,
        vec![
            Some(ntz("1969-12-31 23:59:58.5")),
            None,
            None,
            Some(ntz("2000-02-29 00:00:00.000000001"))
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ltz_int64_and_struct() {
    let utc = |s: &str| ntz(s).and_utc();
    let b = fetch(vec![vec![sfarrow::ts_int64(
        "X",
        "TIMESTAMP_LTZ",
        3,
        &[Some(-1), None],
    )]])
    .await
    .unwrap();
    let v: Vec<Option<DateTime<Utc>>> = flat(&b, |c| {
        if let Column::TimestampLtz(v) = c {
            Some(v)
        } else {
            None
        }
    });
    assert_eq!(v, vec![Some(utc("1969-12-31 23:59:59.999")), None]);
    let b = fetch(vec![vec![sfarrow::ts_struct(
        "X",
        "TIMESTAMP_LTZ",
        9,
        &[TsCell::ntz(1_700_000_000, 42), TsCell::NullChildren],
    )]])
    .await
    .unwrap();
    let v = flat(&b, |c| {
        if let Column::TimestampLtz(v) = c {
            Some(v)
        } else {
            None
        }
    });
    assert_eq!(v, vec![Some(utc("2023-11-14 22:13:20.000000042")), None]);
}

#[tokio::test(flavor = "multi_thread")]
async fn tz_two_and_three_fields_with_offsets() {
    let at = |s: &str, off_min: i32| {
        let off = FixedOffset::east_opt(off_min * 60).unwrap();
        ntz(s).and_utc().with_timezone(&off)
    };
    // 2 fields: epoch in ms (scale 3) + timezone.
    let b = fetch(vec![vec![sfarrow::tz2(
        "X",
        3,
        &[Some((-1_500, -300)), None, Some((1_704_067_200_000, 330))],
    )]])
    .await
    .unwrap();
    let v: Vec<Option<DateTime<FixedOffset>>> = flat(&b, |c| {
        if let Column::TimestampTz(v) = c {
            Some(v)
        } else {
            None
        }
    });
    assert_eq!(
        v,
        vec![
            Some(at("1969-12-31 23:59:58.5", -300)),
            None,
            Some(at("2024-01-01 00:00:00", 330))
        ]
    );
    assert_eq!(v[0].unwrap().offset().local_minus_utc(), -300 * 60);
    assert_eq!(v[2].unwrap().offset().local_minus_utc(), 330 * 60);

    // 3 fields: epoch s, fraction ns, timezone; the chunk uses the other form of NULL.
    let b = fetch(vec![
        vec![sfarrow::tz3(
            "X",
            9,
            &[TsCell::tz(-1, 999_999_999, 330), TsCell::Null],
        )],
        vec![sfarrow::tz3(
            "X",
            9,
            &[TsCell::NullChildren, TsCell::tz(0, 1, -300)],
        )],
    ])
    .await
    .unwrap();
    let v = flat(&b, |c| {
        if let Column::TimestampTz(v) = c {
            Some(v)
        } else {
            None
        }
    });
    assert_eq!(
        v,
        vec![
            Some(at("1969-12-31 23:59:59.999999999", 330)),
            None,
            None,
            Some(at("1970-01-01 00:00:00.000000001", -300))
        ]
    );
    assert_eq!(v[0].unwrap().offset().local_minus_utc(), 330 * 60);
}

#[tokio::test(flavor = "multi_thread")]
async fn other_types_round_trip() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    let cols = vec![
        sfarrow::date("D", &[Some(-1), Some(19_782), None]),
        sfarrow::real("R", &[Some(1.5), Some(-0.0), None]),
        sfarrow::text("T", &[Some("héllo"), Some(""), None]),
        sfarrow::boolean("B", &[Some(true), Some(false), None]),
        sfarrow::binary("Y", &[Some(&[0u8, 255][..]), Some(&[][..]), None]),
    ];
    d.push_json(
        Endpoint::QueryRequest,
        d.result(&ResultSpec::arrow(&cols).inline(&cols)),
    );
    let b = bounded(run(&client, "select *")).await.unwrap();
    let c = &b[0].columns;
    assert_eq!(
        c[0],
        Column::Date(vec![
            NaiveDate::from_ymd_opt(1969, 12, 31),
            NaiveDate::from_ymd_opt(2024, 2, 29),
            None
        ])
    );
    assert_eq!(c[1], Column::Real(vec![Some(1.5), Some(-0.0), None]));
    assert_eq!(
        c[2],
        Column::Text(vec![Some("héllo".into()), Some(String::new()), None])
    );
    assert_eq!(c[3], Column::Boolean(vec![Some(true), Some(false), None]));
    assert_eq!(
        c[4],
        Column::Binary(vec![Some(vec![0, 255]), Some(vec![]), None])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_logical_type_is_a_clean_decode_error() {
    let col = sfarrow::custom(
        "WEIRD",
        "HYPERSPACE_VECTOR",
        Arc::new(Int64Array::from(vec![1i64])),
    );
    let e = fetch(vec![vec![col]])
        .await
        .expect_err("unknown logicalType");
    assert_eq!(e.kind(), ErrorKind::Decode, "{e}");
    assert!(
        e.to_string().contains("WEIRD"),
        "error names the column: {e}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn many_rows_across_batches_and_chunks() {
    let n = 50_000i64;
    let part = |lo: i64, hi: i64| {
        vec![sfarrow::fixed(
            "X",
            Width::I64,
            0,
            &(lo..hi).map(Some).collect::<Vec<_>>(),
        )]
    };
    let b = fetch(vec![part(0, 1000), part(1000, 20_000), part(20_000, n)])
        .await
        .unwrap();
    let (_, v) = fixed_values(&b, 0);
    assert_eq!(v.len(), n as usize);
    assert!(v.iter().enumerate().all(|(i, x)| *x == Some(i as i128)));
    let _ = Double::start; // keep the import used when tests are filtered
}
