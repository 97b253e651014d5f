//! The synthetic source end to end over HTTP, and the fakesnow launcher.

use std::time::{Duration, Instant};

use arrow_array::{Array, Date32Array, Int64Array};
use base64::Engine;
use bravo_testkit::fakesnow::Fakesnow;
use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource, Table};
use serde_json::{json, Value};

fn batches(ipc: &[u8]) -> Vec<arrow_array::RecordBatch> {
    arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(ipc.to_vec()), None)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn query(base: &str, body: Value) -> Value {
    let c = reqwest::blocking::Client::new();
    c.post(format!("{base}/queries/v1/query-request?requestId=x"))
        .header("Authorization", "Snowflake Token=\"t\"")
        .json(&body)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

#[test]
fn synthetic_source_serves_filtered_chunked_revisions() {
    let opts = SyntheticOptions {
        media_buys: 2000,
        days: 30,
        changed_pct: 3,
        revision: 1,
        chunk_rows: 7000,
        ..Default::default()
    };
    let src = SyntheticSource::start(opts.clone());
    let since = opts.end_date - chrono::Days::new(9);
    let ms = (since
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp_millis())
    .to_string();
    let t = Instant::now();
    let v = query(
        &src.base_url(),
        json!({"sqlText": "select * from db.s.platform_buy_daily_impressions where date >= ?",
                                          "bindings": {"1": {"type": "DATE", "value": ms}}}),
    );
    let data = &v["data"];
    assert_eq!(data["total"], 20_000);
    assert_eq!(data["rowtype"][4]["name"], "SPEND");
    assert_eq!(data["rowtype"][4]["scale"], 2);
    let inline = base64::engine::general_purpose::STANDARD
        .decode(data["rowsetBase64"].as_str().unwrap())
        .unwrap();
    let mut all = batches(&inline);
    let c = reqwest::blocking::Client::new();
    for ch in data["chunks"].as_array().unwrap() {
        let bytes = c
            .get(ch["url"].as_str().unwrap())
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        let b = batches(&bytes);
        assert_eq!(
            b.iter().map(|b| b.num_rows()).sum::<usize>() as u64,
            ch["rowCount"].as_u64().unwrap()
        );
        all.extend(b);
    }
    eprintln!("20k rows over HTTP in {:?}", t.elapsed());
    assert_eq!(all.iter().map(|b| b.num_rows()).sum::<usize>(), 20_000);
    let first = &all[0];
    let dates = first
        .column(0)
        .as_any()
        .downcast_ref::<Date32Array>()
        .unwrap();
    let ids = first
        .column(1)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    let imps = first
        .column(2)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    // Rows come in (media_buy_id, date) order, as the extension's ORDER BY asks.
    assert_eq!(dates.value_as_date(0), Some(since));
    assert_eq!(ids.value(0), 1);
    assert_eq!(ids.value(1), 1);
    assert_eq!(dates.value_as_date(1), since.succ_opt());
    assert_eq!(
        imps.value(1),
        opts.row(Table::Impressions, 1, since.succ_opt().unwrap())
            .metrics[0]
    );
    let mut previous = (0i64, 0i32);
    for b in &all {
        let d = b.column(0).as_any().downcast_ref::<Date32Array>().unwrap();
        let i = b.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
        for r in 0..b.num_rows() {
            let key = (i.value(r), d.value(r));
            assert!(key > previous, "rows out of (media_buy_id, date) order");
            previous = key;
        }
    }
    assert_eq!(
        first.schema().field(5).metadata()["logicalType"],
        "TIMESTAMP_NTZ"
    );

    let v = query(
        &src.base_url(),
        json!({"sqlText": "select 1 from PLATFORM_BUY_DAILY_VIDEOS", "describeOnly": true}),
    );
    assert_eq!(v["data"]["total"], 0);
    assert_eq!(v["data"]["rowtype"][2]["name"], "VIDEO_STARTS");
    let v = query(&src.base_url(), json!({"sqlText": "select 1 from nowhere"}));
    assert_eq!(v["code"], "002003");
}

#[test]
fn synthetic_failing_and_slow_chunks() {
    let opts = SyntheticOptions {
        media_buys: 100,
        days: 3,
        chunk_rows: 50,
        inline_rows: 10,
        fail_after_chunks: Some(2),
        slow_chunk: Some(Duration::from_millis(300)),
        slow_after_chunks: 1,
        ..Default::default()
    };
    let src = SyntheticSource::start(opts);
    let v = query(
        &src.base_url(),
        json!({"sqlText": "select * from platform_buy_daily_videos"}),
    );
    let urls: Vec<String> = v["data"]["chunks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["url"].as_str().unwrap().into())
        .collect();
    assert_eq!(urls.len(), 6);
    let c = reqwest::blocking::Client::new();
    let t = Instant::now();
    assert_eq!(c.get(&urls[0]).send().unwrap().status(), 200);
    assert!(t.elapsed() < Duration::from_millis(300));
    assert_eq!(c.get(&urls[1]).send().unwrap().status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(c.get(&urls[2]).send().unwrap().status(), 503);
}

#[test]
fn fakesnow_starts_and_seeds() {
    let fs = match Fakesnow::start() {
        Ok(fs) => fs,
        Err(e)
            if std::env::var_os("BRAVO_REQUIRE_FAKESNOW").is_none()
                && e.to_string().contains("not found") =>
        {
            eprintln!("skipping: {e}");
            return;
        }
        Err(e) => panic!("{e:#}"),
    };
    fs.execute_all(&[
        "create database if not exists db",
        "create schema if not exists db.s",
        "create table db.s.t (x int)",
        "insert into db.s.t values (1), (2)",
    ])
    .unwrap();
    let mut s = fs.session(Some("db"), Some("s")).unwrap();
    let data = s.execute("select count(*) from t").unwrap();
    assert_eq!(data["total"], 1);
    assert!(s
        .execute("select * from missing")
        .unwrap_err()
        .to_string()
        .contains("002003"));
}
