//! The double's own behaviour, driven with plain reqwest.

use std::io::Read;
use std::time::Duration;

use bravo_testkit::double::{reply, Chunk, Double, Endpoint, Reply, ResultSpec};
use bravo_testkit::sfarrow::{self, Width};
use serde_json::{json, Value};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn post(d: &Double, path: &str, token: Option<&str>, body: Value) -> reqwest::Result<(u16, Value)> {
    let mut req = client().post(format!("{}{path}", d.base_url())).json(&body);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Snowflake Token=\"{t}\""));
    }
    let resp = req.send()?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().unwrap_or(Value::Null)))
}

#[test]
fn login_query_renewal_and_recording() {
    let d = Double::start();
    let (s, v) = post(
        &d,
        "/session/v1/login-request?requestId=r1&request_guid=g1",
        None,
        json!({"data": {"LOGIN_NAME": "u"}}),
    )
    .unwrap();
    assert_eq!(s, 200);
    let token = v["data"]["token"].as_str().unwrap().to_string();
    assert_eq!(v["data"]["masterToken"], d.master_token());
    let login = &d.requests_to(Endpoint::Login)[0];
    assert_eq!(login.param("request_guid").as_deref(), Some("g1"));
    assert_eq!(login.login_data()["LOGIN_NAME"], "u");

    let (_, v) = post(
        &d,
        "/queries/v1/query-request?requestId=q",
        Some(&token),
        json!({"sqlText": "select 1"}),
    )
    .unwrap();
    assert_eq!(v["data"]["total"], 1);
    assert_eq!(
        d.requests_to(Endpoint::QueryRequest)[0].token(),
        Some(token.as_str())
    );

    d.expire_session_token();
    let (_, v) = post(
        &d,
        "/queries/v1/query-request?requestId=q",
        Some(&token),
        json!({}),
    )
    .unwrap();
    assert_eq!(v["code"], "390112");
    let master = d.master_token();
    let (_, v) = post(
        &d,
        "/session/token-request",
        Some(&master),
        json!({"oldSessionToken": token, "requestType": "RENEW"}),
    )
    .unwrap();
    let new_token = v["data"]["sessionToken"].as_str().unwrap().to_string();
    assert_ne!(new_token, token);
    let (_, v) = post(&d, "/queries/v1/query-request", Some(&new_token), json!({})).unwrap();
    assert_eq!(v["success"], true);

    d.expire_master_token();
    let (_, v) = post(&d, "/session/token-request", Some(&master), json!({})).unwrap();
    assert_eq!(v["code"], "390114");

    let (s, _) = post(&d, "/session?delete=true", Some(&new_token), json!({})).unwrap();
    assert_eq!(s, 200);
    let (s, v) = post(&d, "/queries/v1/query-request", Some(&new_token), json!({})).unwrap();
    assert_eq!((s, v["code"].as_str()), (401, Some("390104")));
    assert_eq!(d.count(Endpoint::Logout), 1);
}

#[test]
fn scripted_queue_faults_and_delays() {
    let d = Double::start();
    d.push(Endpoint::QueryRequest, Reply::reset());
    d.push(
        Endpoint::QueryRequest,
        Reply::json(json!({"x": "0123456789".repeat(100)})).truncated(),
    );
    d.push(
        Endpoint::QueryRequest,
        Reply::text(503, "busy").header("Retry-After", "1"),
    );
    d.push_json(Endpoint::QueryRequest, reply::in_progress("333333", "qid"));
    assert!(post(&d, "/queries/v1/query-request", None, json!({})).is_err());
    let truncated = client()
        .post(format!("{}/queries/v1/query-request", d.base_url()))
        .send()
        .unwrap();
    assert!(truncated.bytes().is_err());
    let r = client()
        .post(format!("{}/queries/v1/query-request", d.base_url()))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let (_, v) = post(&d, "/queries/v1/query-request", None, json!({})).unwrap();
    assert_eq!(v["data"]["getResultUrl"], "/queries/qid/result");
    assert_eq!(d.count(Endpoint::QueryRequest), 4);

    d.push(
        Endpoint::Abort,
        Reply::json(reply::success(Value::Null)).delay(Duration::from_millis(300)),
    );
    let t = std::time::Instant::now();
    post(
        &d,
        "/queries/v1/abort-request",
        None,
        json!({"requestId": "abc"}),
    )
    .unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert!(d.wait_for(Endpoint::Abort, 1, Duration::from_secs(1)));
    assert_eq!(d.requests_to(Endpoint::Abort)[0].json()["requestId"], "abc");
}

#[test]
fn chunks_encodings_failures_and_concurrency() {
    let d = Double::start();
    let cols = |v: i64| vec![sfarrow::fixed("N", Width::I16, 0, &[Some(v)])];
    let spec = ResultSpec::arrow(&cols(0))
        .inline(&cols(0))
        .chunk(
            Chunk::arrow(&cols(1))
                .gzip()
                .delay(Duration::from_millis(200)),
        )
        .chunk(
            Chunk::arrow(&cols(2))
                .gzip_no_header()
                .fail_once()
                .delay(Duration::from_millis(200)),
        )
        .chunk(Chunk::json_rows(&[
            vec![Some("1"), None],
            vec![Some("2"), Some("x")],
        ]))
        .qrmk("secret-qrmk");
    let data = d.result(&spec)["data"].clone();
    assert_eq!(data["total"], 5);
    assert_eq!(data["returned"], 1);
    assert_eq!(data["qrmk"], "secret-qrmk");
    let urls: Vec<String> = data["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["url"].as_str().unwrap().to_string())
        .collect();

    let raw = reqwest::blocking::Client::builder()
        .no_gzip()
        .build()
        .unwrap();
    let r = raw.get(&urls[0]).send().unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(&r.bytes().unwrap()[..2], &[0x1f, 0x8b]);
    assert_eq!(raw.get(&urls[1]).send().unwrap().status().as_u16(), 503);
    let r = raw.get(&urls[1]).send().unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    let mut ipc = Vec::new();
    flate2::read::GzDecoder::new(&r.bytes().unwrap()[..])
        .read_to_end(&mut ipc)
        .unwrap();
    assert_eq!(ipc, sfarrow::ipc_stream(&cols(2)));
    assert_eq!(
        raw.get(&urls[2]).send().unwrap().text().unwrap(),
        r#"["1",null], ["2","x"]"#
    );

    std::thread::scope(|s| {
        for u in &urls[..2] {
            let raw = &raw;
            s.spawn(move || raw.get(u).send().unwrap().bytes().unwrap());
        }
    });
    assert_eq!(d.max_chunks_in_flight(), 2);
    assert_eq!(d.count(Endpoint::Chunk), 6);
}

#[tokio::test(flavor = "current_thread")]
async fn usable_from_async_tests() {
    let d = Double::start();
    let url = format!("{}/session/heartbeat", d.base_url());
    let waiter = d.wait_for_async(Endpoint::Heartbeat, 1, Duration::from_secs(5));
    let handle =
        tokio::task::spawn_blocking(move || client().post(url).send().map(|r| r.status().as_u16()));
    assert!(waiter.await);
    assert_eq!(handle.await.unwrap().unwrap(), 200);
}
