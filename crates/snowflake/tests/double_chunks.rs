//! Plan B.7: chunked results served by the double.

mod double_common;

use std::time::Duration;

use bravo_snowflake::Client;
use bravo_testkit::double::{Chunk, Double, Endpoint, ResultSpec};
use bravo_testkit::sfarrow::{fixed, SfColumn, Width};
use double_common::*;

fn col(values: &[i64]) -> Vec<SfColumn> {
    vec![fixed(
        "N",
        Width::I64,
        0,
        &values.iter().map(|v| Some(*v)).collect::<Vec<_>>(),
    )]
}

fn expect_values(batches: &[bravo_snowflake::Batch], expected: &[i64]) {
    let got = fixed_values(batches, 0).1;
    assert_eq!(
        got,
        expected
            .iter()
            .map(|v| Some(*v as i128))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn inline_then_chunks_in_order_with_qrmk_gzip_and_a_retried_chunk() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    let spec = ResultSpec::arrow(&col(&[]))
        .inline(&col(&[1, 2]))
        .chunk(Chunk::arrow(&col(&[3, 4, 5])).gzip())
        .chunk(Chunk::arrow(&col(&[6])).gzip_no_header().fail_once())
        .chunk(Chunk::arrow(&col(&[7, 8])))
        .qrmk("qrmk-key-0123");
    d.push_json(Endpoint::QueryRequest, d.result(&spec));
    let batches = bounded(run(&client, "select n"))
        .await
        .expect("chunked result");
    expect_values(&batches, &[1, 2, 3, 4, 5, 6, 7, 8]);

    let gets = d.requests_to(Endpoint::Chunk);
    assert_eq!(gets.len(), 4, "three chunks, one fetched twice");
    assert_eq!(gets.iter().filter(|g| g.path == "/chunks/1").count(), 2);
    for g in &gets {
        assert_eq!(
            g.header("authorization"),
            None,
            "chunk GETs carry no Authorization"
        );
        assert_eq!(
            g.header("x-amz-server-side-encryption-customer-algorithm"),
            Some("AES256")
        );
        assert_eq!(
            g.header("x-amz-server-side-encryption-customer-key"),
            Some("qrmk-key-0123")
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chunk_headers_are_sent_verbatim() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    let spec = ResultSpec::arrow(&col(&[]))
        .inline(&col(&[1]))
        .chunk(Chunk::arrow(&col(&[2])).gzip())
        .chunk_headers(&[
            (
                "x-amz-server-side-encryption-customer-key",
                "from-chunk-headers",
            ),
            ("X-Custom-Thing", "Abc=1"),
        ])
        .qrmk("qrmk-not-used");
    d.push_json(Endpoint::QueryRequest, d.result(&spec));
    let batches = bounded(run(&client, "select n")).await.unwrap();
    expect_values(&batches, &[1, 2]);
    let g = &d.requests_to(Endpoint::Chunk)[0];
    assert_eq!(
        g.header("x-amz-server-side-encryption-customer-key"),
        Some("from-chunk-headers")
    );
    assert_eq!(g.header("x-custom-thing"), Some("Abc=1"));
    assert_eq!(
        g.header("x-amz-server-side-encryption-customer-algorithm"),
        None,
        "qrmk headers are not added to chunkHeaders"
    );
    assert_eq!(g.header("authorization"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn prefetch_concurrency_stays_within_the_cap() {
    let d = Double::start();
    let mut cfg = password_config(&d);
    cfg.chunk_prefetch = 3;
    let client = bounded(Client::connect(cfg)).await.unwrap();
    let mut spec = ResultSpec::arrow(&col(&[])).inline(&col(&[0]));
    for i in 1..=10 {
        spec = spec.chunk(
            Chunk::arrow(&col(&[i]))
                .gzip()
                .delay(Duration::from_millis(150)),
        );
    }
    d.push_json(Endpoint::QueryRequest, d.result(&spec));
    let batches = bounded(run(&client, "select n")).await.unwrap();
    expect_values(&batches, &(0..=10).collect::<Vec<_>>());
    let max = d.max_chunks_in_flight();
    assert!(max <= 3, "{max} chunk downloads at once, cap is 3");
    assert!(
        max >= 2,
        "chunks were not prefetched in parallel (max {max})"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_inline_part_with_all_rows_in_chunks() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    let spec = ResultSpec::arrow(&col(&[]))
        .chunk(Chunk::arrow(&col(&[10, 11])))
        .chunk(Chunk::arrow(&col(&[12])).gzip());
    let env = d.result(&spec);
    assert_eq!(env["data"]["rowsetBase64"], "");
    d.push_json(Endpoint::QueryRequest, env);
    let batches = bounded(run(&client, "select n")).await.unwrap();
    expect_values(&batches, &[10, 11, 12]);
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_result_keeps_schema() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    d.push_json(
        Endpoint::QueryRequest,
        d.result(&ResultSpec::arrow(&col(&[]))),
    );
    let mut s = bounded(client.query(bravo_snowflake::Query::new("select n where 1=0")))
        .await
        .unwrap();
    assert_eq!(s.columns().len(), 1);
    assert_eq!(s.columns()[0].name, "N");
    let mut rows = 0;
    while let Some(b) = bounded(s.next_batch()).await.unwrap() {
        rows += b.num_rows;
    }
    assert_eq!(rows, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn json_result_with_json_chunks_without_brackets() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    let rowtype = bravo_testkit::sfarrow::rowtype_of(&[
        fixed("N", Width::I64, 0, &[]),
        bravo_testkit::sfarrow::text("S", &[]),
    ]);
    let spec = ResultSpec::json(rowtype)
        .inline_json(&[vec![Some("1"), Some("a")]])
        .chunk(Chunk::json_rows(&[vec![Some("2"), None], vec![Some("3"), Some("c,\"]")]]).gzip())
        .chunk(Chunk::json_rows(&[vec![Some("4"), Some("d")]]).gzip_no_header());
    d.push_json(Endpoint::QueryRequest, d.result(&spec));
    let batches = bounded(run(&client, "select n, s"))
        .await
        .expect("JSON chunks");
    expect_values(&batches, &[1, 2, 3, 4]);
    let texts: Vec<Option<String>> = batches
        .iter()
        .flat_map(|b| match &b.columns[1] {
            bravo_snowflake::Column::Text(v) => v.clone(),
            other => panic!("expected text, got {other:?}"),
        })
        .collect();
    assert_eq!(
        texts,
        vec![
            Some("a".into()),
            None,
            Some("c,\"]".into()),
            Some("d".into())
        ]
    );
}
