//! Login, logout, DML counts, SQL errors and retries against a real fakesnow.

mod common;

use std::time::{Duration, Instant};

use bravo_snowflake::{Client, Column, Error, ErrorKind, Query, RetryPolicy};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_query_logout_then_session_is_gone() {
    let fs = FakeSnow::start();
    let c = fs.connect().await;
    assert_eq!(c.base_url(), format!("http://127.0.0.1:{}", fs.port));
    let b = exec(&c, "select 1 as one").await.unwrap();
    assert_eq!(
        b[0].columns[0],
        Column::Fixed {
            scale: 0,
            values: vec![Some(1)]
        }
    );
    // fakesnow sends no master token and no session id: tolerated.
    assert_eq!(c.session_id(), None);
    assert_eq!(c.token_counters(), (0, 1));

    c.logout().await;
    let err = c.query(Query::new("select 1")).await.unwrap_err();
    match &err {
        Error::Authentication { code, .. } => assert_eq!(code, "390104"),
        other => panic!("expected 390104 after logout, got {other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::Authentication);
    // A second logout is harmless.
    c.logout().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_errors_are_mapped_and_not_retried() {
    let fs = FakeSnow::start();
    let mut config = fs.config();
    // A retry would sleep at least 2 s: the elapsed time proves there was none.
    config.retry = RetryPolicy {
        max_retries: 3,
        base: Duration::from_secs(2),
        cap: Duration::from_secs(2),
        ..RetryPolicy::default()
    };
    let c = fs.connect_with(config).await;

    let started = Instant::now();
    let err = exec(&c, "select * from no_such_table").await.unwrap_err();
    match &err {
        Error::Sql {
            code,
            sql_state,
            message,
            ..
        } => {
            assert_eq!((code.as_str(), sql_state.as_str()), ("002003", "42S02"));
            assert!(
                message.to_lowercase().contains("no_such_table"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::Sql);

    let err = exec(&c, "selec 1 frm").await.unwrap_err();
    match &err {
        Error::Sql {
            code, sql_state, ..
        } => {
            assert_eq!((code.as_str(), sql_state.as_str()), ("001003", "42000"))
        }
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_millis(1800),
        "SQL errors must not be retried ({:?})",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_500_is_retried_within_the_budget_then_reported() {
    let fs = FakeSnow::start();
    let c = fs.connect().await; // max_retries 1, 50..200 ms
    let started = Instant::now();
    let err = exec(&c, "select 1; select 2").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    let text = err.to_string();
    assert!(text.contains("HTTP 500"), "{text}");
    assert!(text.contains("2 attempts"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The session still works afterwards.
    exec(&c, "select 1").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dml_rows_affected() {
    let fs = FakeSnow::start();
    let c = fs.connect().await;
    exec(&c, "create table m (id int, v varchar, w int)")
        .await
        .unwrap();
    let s = c
        .query(Query::new(
            "insert into m values (1, 'a', 0), (2, 'b', 0), (3, 'c', 0)",
        ))
        .await
        .unwrap();
    assert_eq!(s.rows_affected(), Some(3));
    let s = c
        .query(Query::new("update m set v = 'z', w = 1 where id >= 2"))
        .await
        .unwrap();
    assert_eq!(s.rows_affected(), Some(2), "updated + multi-joined summed");
    let s = c
        .query(Query::new("delete from m where id = 1"))
        .await
        .unwrap();
    assert_eq!(s.rows_affected(), Some(1));
    let s = c.query(Query::new("select * from m")).await.unwrap();
    assert_eq!(s.rows_affected(), None, "not DML");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_queries_tags_abort_and_send_futures() {
    let fs = FakeSnow::start();
    let c = fs.connect().await;
    // fakesnow serves one call per session at a time, so each task has its own session.
    let mut handles = Vec::new();
    for i in 0..4i64 {
        let c = fs.connect().await;
        // tokio::spawn proves the futures and the stream are Send.
        handles.push(tokio::spawn(async move {
            let mut q = Query::new(format!("select {i} as v")).tag(format!("test:{i}"));
            q.parameters
                .insert("TIMEZONE".into(), serde_json::Value::from("UTC"));
            let s = c.query(q).await?;
            drain(s).await
        }));
    }
    for (i, h) in handles.into_iter().enumerate() {
        let batches = h.await.unwrap().unwrap();
        assert_eq!(
            batches[0].columns[0],
            Column::Fixed {
                scale: 0,
                values: vec![Some(i as i128)]
            }
        );
    }
    // A clone shares the session.
    let shared = c.clone();
    let batches = tokio::spawn(async move { exec(&shared, "select 'x'").await })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(batches[0].columns[0], Column::Text(vec![Some("x".into())]));
    // fakesnow answers every abort-request with success.
    c.abort(uuid::Uuid::new_v4()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_a_remote_host_is_refused() {
    let fs = FakeSnow::start();
    let mut config = fs.config();
    config.host = Some("example.com".into());
    let err = Client::connect(config).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}
