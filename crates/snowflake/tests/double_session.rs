//! Plan B.3–B.5, B.9, B.10: long-poll, async queries, renewal, re-login, cancel, logout,
//! and envelope quirks.

mod double_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bravo_snowflake::{ErrorKind, Query};
use bravo_testkit::double::{reply, Double, Endpoint, Reply};
use double_common::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn long_poll_333333_regets_with_auth_and_without_sleeping() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    d.push_json(
        Endpoint::QueryRequest,
        reply::in_progress("333333", "q-long"),
    );
    d.push_json(
        Endpoint::QueryResult,
        reply::in_progress("333333", "q-long"),
    );
    let batches = bounded(run(&client, "select 1"))
        .await
        .expect("result after two polls");
    assert_eq!(fixed_values(&batches, 0).1, vec![Some(1)]);

    let gets = d.requests_to(Endpoint::QueryResult);
    assert_eq!(gets.len(), 2);
    let token = d.session_token();
    for g in &gets {
        assert_eq!(g.path, "/queries/q-long/result");
        assert_eq!(
            g.token(),
            Some(token.as_str()),
            "Authorization on every GET"
        );
        assert_eq!(g.header("accept"), Some("application/snowflake"));
    }
    let submitted = &d.requests_to(Endpoint::QueryRequest)[0];
    for (prev, next) in [(submitted, &gets[0]), (&gets[0], &gets[1])] {
        let gap = next.at - prev.at;
        assert!(
            gap < Duration::from_millis(400),
            "client slept {gap:?} between long-polls"
        );
    }
}

/// The query is running for the first `polls` checks (monitoring or result GET), then done.
fn async_query(d: &Double, polls: usize, final_status: &'static str) {
    let seen = Arc::new(AtomicUsize::new(0));
    d.push_json(
        Endpoint::QueryRequest,
        reply::in_progress("333334", "q-async"),
    );
    let s = seen.clone();
    d.set_handler(Endpoint::Monitoring, move |r| {
        let running = s.fetch_add(1, Ordering::SeqCst) < polls;
        let id = r.path_segment(2).unwrap_or_default();
        Reply::json(reply::monitoring(
            id,
            if running { "RUNNING" } else { final_status },
        ))
    });
    d.set_handler(Endpoint::QueryResult, move |_| {
        if seen.fetch_add(1, Ordering::SeqCst) < polls {
            Reply::json(reply::in_progress("333334", "q-async"))
        } else if final_status == "SUCCESS" {
            let cols = [bravo_testkit::sfarrow::fixed(
                "N",
                bravo_testkit::sfarrow::Width::I32,
                0,
                &[Some(7)],
            )];
            let spec = bravo_testkit::double::ResultSpec::arrow(&cols).inline(&cols);
            Reply::json(reply::success(spec_data(&spec)))
        } else {
            Reply::json(reply::sql_error(
                "100038",
                "22018",
                "Numeric value 'abc' is not recognized",
            ))
        }
    });
}

fn spec_data(spec: &bravo_testkit::double::ResultSpec) -> Value {
    spec.data(&[])
}

#[tokio::test(flavor = "multi_thread")]
async fn async_333334_running_then_success() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    async_query(&d, 2, "SUCCESS");
    let mut q = Query::new("select 7");
    q.async_exec = true;
    let mut stream = bounded(client.query(q))
        .await
        .expect("async query succeeds");
    let b = bounded(stream.next_batch())
        .await
        .unwrap()
        .expect("one batch");
    assert_eq!(fixed_values(&[b], 0).1, vec![Some(7)]);
    assert_eq!(
        d.requests_to(Endpoint::QueryRequest)[0].json()["asyncExec"],
        true
    );
    let polls = d.count(Endpoint::Monitoring) + d.count(Endpoint::QueryResult);
    assert!(polls >= 3, "polled only {polls} times");
}

#[tokio::test(flavor = "multi_thread")]
async fn async_333334_failed_with_error() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    async_query(&d, 1, "FAILED_WITH_ERROR");
    let mut q = Query::new("select 'abc'::int");
    q.async_exec = true;
    let err = match bounded(client.query(q)).await {
        Err(e) => e,
        Ok(mut s) => bounded(s.next_batch())
            .await
            .expect_err("failed query must error"),
    };
    assert_eq!(err.kind(), ErrorKind::Sql, "{err}");
    assert!(err.to_string().contains("100038"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_390112_renews_exactly_once_and_replays_same_request_id() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    let old = d.session_token();
    let master = d.master_token();
    d.expire_session_token();
    let (a, b, c, e) = bounded(async {
        tokio::join!(
            run(&client, "select 1"),
            run(&client, "select 2"),
            run(&client, "select 3"),
            run(&client, "select 4")
        )
    })
    .await;
    for r in [a, b, c, e] {
        r.expect("query succeeds after renewal");
    }
    let renewals = d.requests_to(Endpoint::TokenRequest);
    assert_eq!(renewals.len(), 1, "renewal is single-flight");
    assert_eq!(
        renewals[0].token(),
        Some(master.as_str()),
        "renewal authenticates with the master token"
    );
    assert_eq!(renewals[0].json()["oldSessionToken"], old);
    assert_eq!(renewals[0].json()["requestType"], "RENEW");

    let new = d.session_token();
    let queries = d.requests_to(Endpoint::QueryRequest);
    let mut by_id: std::collections::HashMap<String, Vec<_>> = Default::default();
    for q in &queries {
        by_id
            .entry(q.param("requestId").expect("requestId"))
            .or_default()
            .push(q);
    }
    assert_eq!(by_id.len(), 4);
    for attempts in by_id.values() {
        assert_eq!(
            attempts.last().unwrap().token(),
            Some(new.as_str()),
            "replayed with the new token"
        );
        assert!(attempts.len() <= 2);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn renewal_390114_leads_to_relogin() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    d.expire_session_token();
    d.expire_master_token();
    bounded(run(&client, "select 1"))
        .await
        .expect("query succeeds after re-login");
    assert_eq!(d.count(Endpoint::TokenRequest), 1);
    assert_eq!(d.count(Endpoint::Login), 2, "re-login after 390114");
    let last = d.requests_to(Endpoint::QueryRequest).pop().unwrap();
    assert_eq!(last.token(), Some(d.session_token().as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn query_390114_leads_to_relogin() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    d.push_json(
        Endpoint::QueryRequest,
        reply::failure("390114", "Authentication token has expired.", Value::Null),
    );
    bounded(run(&client, "select 1"))
        .await
        .expect("query succeeds after re-login");
    assert_eq!(d.count(Endpoint::Login), 2);
    let qs = d.requests_to(Endpoint::QueryRequest);
    assert_eq!(qs.len(), 2);
    assert_eq!(qs[0].param("requestId"), qs[1].param("requestId"));
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_query_mid_long_poll_then_abort_sends_original_request_id() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    d.long_running("q-forever", Duration::from_millis(100));
    let q = Query::new("select system$wait(1000)");
    let request_id = q.request_id;
    let cancelled = tokio::time::timeout(Duration::from_millis(800), async {
        let mut s = client.query(q).await?;
        s.next_batch().await
    })
    .await;
    assert!(cancelled.is_err(), "a never-ending query cannot finish");
    assert!(d.count(Endpoint::QueryResult) >= 2, "was mid long-poll");
    // After the drop no more polling happens.
    let polls = d.count(Endpoint::QueryResult);
    assert!(
        !d.wait_until_async(Duration::from_millis(500), |rs| rs
            .iter()
            .filter(|r| r.endpoint == Endpoint::QueryResult)
            .count()
            > polls + 1)
            .await,
        "kept polling after the future was dropped"
    );

    bounded(client.abort(request_id))
        .await
        .expect("abort succeeds");
    let aborts = d.requests_to(Endpoint::Abort);
    assert_eq!(aborts.len(), 1);
    assert_eq!(aborts[0].json()["requestId"], request_id.to_string());
    assert_ne!(
        aborts[0].param("requestId"),
        Some(request_id.to_string()),
        "abort-request has its own requestId"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_exactly_once() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    let token = d.session_token();
    bounded(client.logout()).await;
    drop(client);
    assert!(
        !d.wait_until_async(Duration::from_millis(300), |rs| rs
            .iter()
            .filter(|r| r.endpoint == Endpoint::Logout)
            .count()
            > 1)
            .await
    );
    let logouts = d.requests_to(Endpoint::Logout);
    assert_eq!(logouts.len(), 1);
    assert_eq!(logouts[0].param("delete").as_deref(), Some("true"));
    assert_eq!(logouts[0].token(), Some(token.as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_failure_is_ignored_and_not_retried() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    d.push(Endpoint::Logout, Reply::text(503, "down"));
    bounded(client.logout()).await;
    assert_eq!(d.count(Endpoint::Logout), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn envelope_quirks() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    // No `code`/`message`, unknown fields everywhere.
    let cols = [bravo_testkit::sfarrow::fixed(
        "N",
        bravo_testkit::sfarrow::Width::I64,
        0,
        &[Some(5)],
    )];
    let spec = bravo_testkit::double::ResultSpec::arrow(&cols).inline(&cols);
    let mut env = d.result(&spec);
    env.as_object_mut().unwrap().remove("code");
    env.as_object_mut().unwrap().remove("message");
    env["brandNewField"] = json!({"x": [1, 2]});
    env["data"]["anotherNewField"] = json!(true);
    env["data"]["rowtype"][0]["newColumnAttr"] = json!("y");
    d.push_json(Endpoint::QueryRequest, env);
    let b = bounded(run(&client, "select 5"))
        .await
        .expect("unknown fields are ignored");
    assert_eq!(fixed_values(&b, 0).1, vec![Some(5)]);

    // success:true with data:null for a query is a protocol error, not a panic.
    d.push_json(
        Endpoint::QueryRequest,
        json!({"data": null, "success": true}),
    );
    let e = bounded(run(&client, "select 1"))
        .await
        .expect_err("no data");
    assert!(matches!(e.kind(), ErrorKind::Protocol), "{e}");

    // success:false with data:null keeps the code.
    d.push_json(
        Endpoint::QueryRequest,
        json!({"data": null, "code": "002003", "message": "does not exist", "success": false}),
    );
    let e = bounded(run(&client, "select 1"))
        .await
        .expect_err("SQL error");
    assert_eq!(e.kind(), ErrorKind::Sql);
    assert!(e.to_string().contains("002003"));

    // A 200 whose body is not JSON.
    d.set_handler(Endpoint::QueryRequest, |_| {
        Reply::text(200, "<html>proxy says hi</html>")
    });
    let e = bounded(run(&client, "select 1"))
        .await
        .expect_err("non-JSON body");
    assert!(
        matches!(e.kind(), ErrorKind::Protocol | ErrorKind::Network),
        "{e}"
    );
    assert!(
        d.count(Endpoint::QueryRequest) <= 3 + 1 + 4,
        "bounded retries"
    );

    // Abort/logout answers with data:null are fine.
    d.push_json(Endpoint::Abort, json!({"data": null, "success": true}));
    bounded(client.abort(uuid::Uuid::new_v4()))
        .await
        .expect("abort with data:null");
}
