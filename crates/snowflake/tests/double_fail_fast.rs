//! Failing fast on a dead or refusing endpoint: the session-wide retry budget, the
//! connect timeout, and the retry events reported to the caller.

mod double_common;

use std::net::TcpListener;
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use bravo_snowflake::{
    Auth, Client, Config, ErrorKind, Query, RequestKind, RetryEvent, RetryPolicy, Secret, Timeouts,
};
use bravo_testkit::double::{Chunk, Double, Endpoint, Reply, ResultSpec};
use bravo_testkit::sfarrow::{fixed, SfColumn, Width};
use double_common::*;

/// A loopback port with nothing listening (bound, then released): connections are refused.
fn refused_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    port
}

fn events(rx: &Receiver<RetryEvent>) -> Vec<RetryEvent> {
    rx.try_iter().collect()
}

fn col(values: &[i64]) -> Vec<SfColumn> {
    vec![fixed(
        "N",
        Width::I64,
        0,
        &values.iter().map(|v| Some(*v)).collect::<Vec<_>>(),
    )]
}

#[test]
fn defaults_fail_fast() {
    let r = RetryPolicy::default();
    assert_eq!(r.budget, Duration::from_secs(30));
    assert_eq!(r.max_retries, 7);
    let t = Timeouts::default();
    assert_eq!(t.connect, Duration::from_secs(10));
    assert_eq!(
        t.request,
        Duration::from_secs(90),
        "request timeout unchanged"
    );
    let c = Config::new("a", "u", Auth::Password(Secret::new("p")));
    assert!(c.retry_events.is_none());
    assert_eq!(c.retry.budget, Duration::from_secs(30));
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_connection_fails_within_the_retry_budget() {
    let port = refused_port();
    let (tx, rx) = channel();
    let mut cfg = Config::new("xy12345", "alice", Auth::Password(Secret::new(PASSWORD)));
    cfg.protocol = Some("http".into());
    cfg.host = Some("127.0.0.1".into());
    cfg.port = Some(port);
    // Default backoff (1 s base, 16 s cap, 7 retries: ~80 s before), a 3 s budget.
    cfg.retry.budget = Duration::from_secs(3);
    cfg.retry_events = Some(tx);
    let started = Instant::now();
    let e = bounded(Client::connect(cfg))
        .await
        .expect_err("nothing listens");
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    assert!(
        took < Duration::from_millis(4500),
        "a 3 s budget took {took:?}"
    );
    let m = e.to_string();
    let evs = events(&rx);
    assert!(!evs.is_empty(), "at least one retry is reported: {m}");
    for (i, ev) in evs.iter().enumerate() {
        assert_eq!(ev.request, RequestKind::Login);
        assert_eq!(ev.attempt, i as u32 + 1);
        assert!(ev.error.contains("connection failed"), "{}", ev.error);
        assert!(ev.sleep >= Duration::from_secs(1), "default base: {ev:?}");
        assert!(!ev.error.contains(PASSWORD));
    }
    assert!(m.contains("login failed after"), "{m}");
    assert!(
        m.contains(&format!("after {} attempts over", evs.len() + 1)),
        "{m}"
    );
    assert!(m.contains("retry budget exhausted"), "{m}");
    assert!(m.contains("budget 3 s"), "{m}");
    assert!(m.contains("connection failed"), "{m}");
    assert!(!m.contains(PASSWORD));
}

/// A server that accepts TCP connections and never answers: an https client hangs in
/// the TLS handshake, which `timeouts.connect` bounds apart from `timeouts.request`.
#[tokio::test(flavor = "multi_thread")]
async fn connect_timeout_bounds_a_stalled_handshake_apart_from_the_request_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = accepted.clone();
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(stream); // never read, never written
        }
    });
    let mut cfg = Config::new("xy12345", "alice", Auth::Password(Secret::new(PASSWORD)));
    cfg.protocol = Some("https".into());
    cfg.host = Some("127.0.0.1".into());
    cfg.port = Some(port);
    cfg.timeouts.connect = Duration::from_millis(500);
    cfg.timeouts.request = Duration::from_secs(30);
    cfg.retry.max_retries = 0;
    let started = Instant::now();
    let e = bounded(Client::connect(cfg))
        .await
        .expect_err("the handshake never completes");
    let took = started.elapsed();
    silent.abort();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(5),
        "connect timeout of 0.5 s, request timeout 30 s, took {took:?}: {e}"
    );
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    assert!(
        e.to_string().contains("login failed after 1 attempt"),
        "{e}"
    );
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn chunk_server_dying_mid_download_fails_within_the_budget() {
    let d = Double::start();
    let chunks = Double::start();
    let (tx, rx) = channel();
    let mut cfg = password_config(&d);
    cfg.retry = RetryPolicy {
        max_retries: 1000,
        base: Duration::from_millis(100),
        cap: Duration::from_millis(400),
        budget: Duration::from_secs(2),
    };
    cfg.retry_events = Some(tx);
    let client = bounded(Client::connect(cfg)).await.unwrap();
    // All rows in one chunk, served by a second server that holds the download.
    let spec = ResultSpec::arrow(&col(&[]))
        .chunk(Chunk::arrow(&col(&[1, 2, 3])).delay(Duration::from_secs(30)));
    d.push_json(Endpoint::QueryRequest, chunks.result(&spec));
    let mut stream = bounded(client.query(Query::new("select n")))
        .await
        .expect("query answered");
    let batch = tokio::spawn(async move { stream.next_batch().await });
    assert!(
        chunks
            .wait_for_async(Endpoint::Chunk, 1, Duration::from_secs(10))
            .await,
        "the chunk download started"
    );
    // The chunk server dies: the download in flight is cut, new connections refused.
    tokio::task::spawn_blocking(move || drop(chunks))
        .await
        .unwrap();
    let killed = Instant::now();
    let e = bounded(batch)
        .await
        .unwrap()
        .expect_err("the chunk cannot be downloaded");
    let took = killed.elapsed();
    assert_eq!(e.kind(), ErrorKind::Network, "{e}");
    assert!(
        took < Duration::from_millis(3500),
        "a 2 s budget took {took:?}"
    );
    let m = e.to_string();
    assert!(m.contains("download of result chunk 0 failed"), "{m}");
    assert!(m.contains("retry budget exhausted"), "{m}");
    let evs = events(&rx);
    assert!(!evs.is_empty());
    assert!(
        evs.iter()
            .all(|ev| ev.request == RequestKind::Chunk { index: 0 }),
        "{evs:?}"
    );
    assert!(
        evs.len() < 30,
        "stopped by the budget, not max_retries: {}",
        evs.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_within_the_budget_succeed_and_are_reported() {
    let d = Double::start();
    let (tx, rx) = channel();
    let mut cfg = password_config(&d);
    cfg.retry.budget = Duration::from_secs(5);
    cfg.retry_events = Some(tx);
    let client = bounded(Client::connect(cfg)).await.unwrap();
    assert!(events(&rx).is_empty(), "a clean login reports nothing");
    let secret_body = r#"{"message":"busy","token":"SECRET-in-503-body"}"#;
    d.push(Endpoint::QueryRequest, Reply::text(503, secret_body));
    d.push(Endpoint::QueryRequest, Reply::reset());
    let spec = ResultSpec::arrow(&col(&[]))
        .inline(&col(&[1]))
        .chunk(Chunk::arrow(&col(&[2])).fail_once());
    d.push_json(Endpoint::QueryRequest, d.result(&spec));
    let batches = bounded(run(&client, "select n"))
        .await
        .expect("succeeds after retries");
    assert_eq!(
        fixed_values(&batches, 0).1,
        vec![Some(1), Some(2)],
        "all rows"
    );
    assert_eq!(d.count(Endpoint::QueryRequest), 3);
    let evs = events(&rx);
    let query: Vec<&RetryEvent> = evs
        .iter()
        .filter(|e| e.request == RequestKind::Query)
        .collect();
    assert_eq!(query.len(), 2, "{evs:?}");
    assert_eq!((query[0].attempt, query[1].attempt), (1, 2));
    assert!(query[0].error.contains("HTTP 503"), "{}", query[0].error);
    assert!(
        !query[0].error.contains("SECRET-in-503-body"),
        "redacted: {}",
        query[0].error
    );
    assert!(
        query[1].error.contains("transport error"),
        "{}",
        query[1].error
    );
    assert!(query[1].elapsed >= query[0].sleep);
    let chunk: Vec<&RetryEvent> = evs
        .iter()
        .filter(|e| e.request == RequestKind::Chunk { index: 0 })
        .collect();
    assert_eq!(chunk.len(), 1, "{evs:?}");
    assert_eq!(chunk[0].attempt, 1);
    assert!(chunk[0].error.contains("HTTP 503"));
    assert_eq!(evs.len(), 3, "{evs:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_budget_is_shared_by_the_whole_session() {
    let d = Double::start();
    let mut cfg = password_config(&d);
    cfg.retry = RetryPolicy {
        max_retries: 1000,
        base: Duration::from_millis(50),
        cap: Duration::from_millis(100),
        budget: Duration::from_secs(1),
    };
    let client = bounded(Client::connect(cfg)).await.unwrap();
    d.set_handler(Endpoint::QueryRequest, |_| Reply::text(503, "down"));
    let started = Instant::now();
    let e = bounded(run(&client, "select 1"))
        .await
        .expect_err("never succeeds");
    assert!(started.elapsed() < Duration::from_secs(3), "{e}");
    assert!(e.to_string().contains("retry budget exhausted"), "{e}");
    let first = d.count(Endpoint::QueryRequest);
    assert!(first > 3, "retried until the budget ran out: {first}");
    // The server recovers but answers one more 503: the session has no budget left,
    // so that failure is final at once.
    d.set_handler(Endpoint::QueryRequest, |_| {
        Reply::json(bravo_testkit::double::reply::success(serde_json::json!({})))
    });
    d.push(Endpoint::QueryRequest, Reply::text(503, "once more"));
    let e = bounded(run(&client, "select 1"))
        .await
        .expect_err("no retry left");
    assert_eq!(e.kind(), ErrorKind::Network);
    assert!(e.to_string().contains("after 1 attempt over"), "{e}");
    assert_eq!(d.count(Endpoint::QueryRequest), first + 1, "not retried");
    // Requests that do not fail still work.
    bounded(run(&client, "select 1"))
        .await
        .expect("no failure, no retry needed");
}
