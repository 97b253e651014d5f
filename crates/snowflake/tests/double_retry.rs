//! Plan B.6: which failures are retried, with which URL parameters, and within which bounds.

mod double_common;

use std::time::{Duration, Instant};

use bravo_snowflake::{Client, ErrorKind};
use bravo_testkit::double::{Double, Endpoint, Recorded, Reply};
use double_common::*;

fn attempts(d: &Double) -> Vec<Recorded> {
    d.requests_to(Endpoint::QueryRequest)
}

fn assert_retry_params(attempts: &[Recorded], reasons: &[&str]) {
    assert_eq!(attempts.len(), reasons.len() + 1);
    assert_eq!(
        attempts[0].param("retryCount"),
        None,
        "first attempt carries no retryCount"
    );
    let request_id = attempts[0].param("requestId").expect("requestId");
    let start = attempts[1]
        .param("clientStartTime")
        .expect("clientStartTime");
    let start_ms: i64 = start.parse().expect("clientStartTime is an integer");
    let first_ms = chrono::Utc::now().timestamp_millis() - 60_000;
    assert!(start_ms > first_ms, "clientStartTime is in ms: {start_ms}");
    let mut guids = std::collections::HashSet::new();
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(
            a.param("requestId").as_deref(),
            Some(request_id.as_str()),
            "requestId constant"
        );
        assert!(
            guids.insert(a.param("request_guid").expect("request_guid")),
            "request_guid fresh on every attempt"
        );
        if i > 0 {
            assert_eq!(a.param("retryCount"), Some(i.to_string()));
            assert_eq!(a.param("retryReason").as_deref(), Some(reasons[i - 1]));
            assert_eq!(
                a.param("clientStartTime").as_deref(),
                Some(start.as_str()),
                "clientStartTime constant"
            );
            assert_eq!(
                a.params().iter().filter(|(k, _)| k == "retryCount").count(),
                1,
                "retryCount replaced, not appended"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retryable_statuses_are_retried_with_retry_parameters() {
    for status in [429u16, 500, 502, 503, 504, 408] {
        let d = Double::start();
        let client = bounded(connect(&d)).await;
        d.push(Endpoint::QueryRequest, Reply::text(status, "try again"));
        bounded(run(&client, "select 1"))
            .await
            .unwrap_or_else(|e| panic!("{status} not retried: {e}"));
        assert_retry_params(&attempts(&d), &[&status.to_string()]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn several_retries_count_up() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    d.push(Endpoint::QueryRequest, Reply::text(503, "x"));
    d.push(Endpoint::QueryRequest, Reply::reset());
    d.push(Endpoint::QueryRequest, Reply::text(500, "x"));
    bounded(run(&client, "select 1"))
        .await
        .expect("fourth attempt succeeds");
    assert_retry_params(&attempts(&d), &["503", "0", "500"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_reset_is_retried_with_reason_0() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    d.push(Endpoint::QueryRequest, Reply::reset());
    bounded(run(&client, "select 1"))
        .await
        .expect("retried after reset");
    assert_retry_params(&attempts(&d), &["0"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_body_is_retried() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    let full = d.result(&bravo_testkit::double::ResultSpec::arrow(&[
        bravo_testkit::sfarrow::fixed("N", bravo_testkit::sfarrow::Width::I8, 0, &[]),
    ]));
    d.push(Endpoint::QueryRequest, Reply::json(full).truncated());
    bounded(run(&client, "select 1"))
        .await
        .expect("retried after truncation");
    assert_eq!(attempts(&d).len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_errors_are_not_retried() {
    for status in [400u16, 401, 404] {
        let d = Double::start();
        let client = bounded(connect(&d)).await;
        d.push(Endpoint::QueryRequest, Reply::text(status, "no"));
        let e = bounded(run(&client, "select 1"))
            .await
            .expect_err("fatal status");
        assert_eq!(attempts(&d).len(), 1, "{status} was retried: {e}");
        assert_ne!(e.kind(), ErrorKind::Sql);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_honoured() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    d.push(
        Endpoint::QueryRequest,
        Reply::text(429, "slow down").header("Retry-After", "1"),
    );
    bounded(run(&client, "select 1")).await.expect("retried");
    let a = attempts(&d);
    let gap = a[1].at - a[0].at;
    assert!(
        gap >= Duration::from_millis(950),
        "retried after {gap:?} despite Retry-After: 1"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn query_deadline_is_respected() {
    let d = Double::start();
    let mut cfg = password_config(&d);
    cfg.retry.max_retries = 100;
    cfg.retry.base = Duration::from_millis(100);
    cfg.retry.cap = Duration::from_millis(200);
    cfg.timeouts.query = Some(Duration::from_secs(1));
    let client = bounded(Client::connect(cfg)).await.unwrap();
    d.set_handler(Endpoint::QueryRequest, |_| Reply::text(503, "down"));
    let t = Instant::now();
    let e = bounded(run(&client, "select 1"))
        .await
        .expect_err("never succeeds");
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "deadline of 1 s overrun: {:?}",
        t.elapsed()
    );
    assert!(
        matches!(e.kind(), ErrorKind::Timeout | ErrorKind::Network),
        "{e}"
    );
    assert!(attempts(&d).len() < 100);
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_budget_is_bounded() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    d.set_handler(Endpoint::QueryRequest, |_| Reply::text(503, "down"));
    let e = bounded(run(&client, "select 1"))
        .await
        .expect_err("never succeeds");
    assert_eq!(attempts(&d).len(), 4, "1 attempt + max_retries (3): {e}");
    assert_eq!(e.kind(), ErrorKind::Network);
}
