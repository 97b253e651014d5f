//! Decode-throughput benchmark, not a timed test. Run it explicitly, in release:
//!
//! ```text
//! CARGO_TARGET_DIR=target-b cargo test --release -p bravo_snowflake \
//!     --test double_decode_bench -- --ignored --nocapture decode_bench
//! ```
//!
//! The parent process serves a 5-column Snowflake Arrow result (1 M or 5 M rows: a small
//! inline part plus gzip'd 100 k-row chunks, pre-encoded) from a loopback double. Each
//! measurement runs in a fresh child process (this test binary again), so its peak RSS
//! (`VmHWM`) is the client's alone. pyarrow reading the same rows as one IPC stream
//! file, and the Python connector fetching from the same double, run alongside.

mod double_common;

use std::io::Write;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{ArrayRef, Date32Array, Int32Array, Int64Array, RecordBatch, StructArray};
use arrow_schema::{DataType, Field, Fields};
use bravo_snowflake::{Auth, Client, Column, Config, Query, Secret};
use bravo_testkit::double::{Chunk, Double, Endpoint, Reply, ResultSpec};
use bravo_testkit::sfarrow::{self, SfColumn, Width};

const CHUNK_ROWS: usize = 100_000;
const INLINE_ROWS: usize = 1_000;

/// Rows `[start, end)`: DATE, ID, IMPRESSIONS, SPEND NUMBER(18,2), UPDATED_AT NTZ(9) struct.
fn columns(start: usize, end: usize) -> Vec<SfColumn> {
    let r = start as i64..end as i64;
    let mut date = sfarrow::date("DATE", &[]);
    date.array = Arc::new(Date32Array::from_iter_values(
        r.clone().map(|i| 20_000 + (i / 50_000) as i32),
    ));
    let mut id = sfarrow::fixed("MEDIA_BUY_ID", Width::I64, 0, &[]);
    id.array = Arc::new(Int64Array::from_iter_values(
        r.clone().map(|i| i % 50_000 + 1),
    ));
    let mut imps = sfarrow::fixed("IMPRESSIONS", Width::I64, 0, &[]);
    imps.array = Arc::new(Int64Array::from_iter_values(
        r.clone().map(|i| (i * 7919) % 1_000_003),
    ));
    let mut spend = sfarrow::fixed("SPEND", Width::I64, 2, &[]);
    spend.array = Arc::new(Int64Array::from_iter_values(
        r.clone().map(|i| (i * 104_729) % 10_000_000),
    ));
    let fields = Fields::from(vec![
        Field::new("epoch", DataType::Int64, false),
        Field::new("fraction", DataType::Int32, false),
    ]);
    let children: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(
            r.clone().map(|i| 1_700_000_000 + i),
        )),
        Arc::new(Int32Array::from_iter_values(
            r.map(|i| (i % 1_000_000_000) as i32),
        )),
    ];
    let ts_array: ArrayRef = Arc::new(StructArray::try_new(fields, children, None).unwrap());
    let meta = sfarrow::ts_struct("UPDATED_AT", "TIMESTAMP_NTZ", 9, &[])
        .field
        .metadata()
        .clone();
    let ts = SfColumn {
        field: Field::new("UPDATED_AT", ts_array.data_type().clone(), true).with_metadata(meta),
        array: ts_array,
    };
    vec![date, id, imps, spend, ts]
}

fn result_spec(rows: usize) -> ResultSpec {
    let mut spec = ResultSpec::arrow(&columns(0, 0)).inline(&columns(0, INLINE_ROWS));
    for start in (INLINE_ROWS..rows).step_by(CHUNK_ROWS) {
        let end = (start + CHUNK_ROWS).min(rows);
        let ipc = sfarrow::ipc_stream(&columns(start, end));
        spec = spec.chunk(Chunk::raw(bravo_testkit::double::gzip(&ipc), end - start).gzip());
    }
    spec
}

fn vm_hwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn config(port: u16) -> Config {
    let mut c = Config::new("bench", "alice", Auth::Password(Secret::new("pw")));
    c.protocol = Some("http".into());
    c.host = Some("127.0.0.1".into());
    c.port = Some(port);
    c
}

/// The child: fetch `rows` rows through the client; print `RESULT rows secs hwm_kb`.
#[test]
#[ignore = "benchmark child; started by decode_bench"]
fn decode_bench_child() {
    let (Ok(port), Ok(rows)) = (std::env::var("BENCH_PORT"), std::env::var("BENCH_ROWS")) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (n, sum, secs) = rt.block_on(async {
        let client = Client::connect(config(port.parse().unwrap()))
            .await
            .unwrap();
        let t = Instant::now();
        let mut s = client
            .query(Query::new(format!("select {rows}")))
            .await
            .unwrap();
        let (mut n, mut sum) = (0usize, 0i128);
        while let Some(b) = s.next_batch().await.unwrap() {
            n += b.num_rows;
            if let Column::Fixed { values, .. } = &b.columns[1] {
                sum += values.iter().map(|v| v.unwrap_or(0)).sum::<i128>();
            }
        }
        (n, sum, t.elapsed().as_secs_f64())
    });
    println!("RESULT {n} {secs} {} {sum}", vm_hwm_kb());
}

fn run_child(port: u16, rows: usize) -> (usize, f64, u64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "decode_bench_child", "--ignored", "--nocapture"])
        .env("BENCH_PORT", port.to_string())
        .env("BENCH_ROWS", rows.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| {
            panic!(
                "child failed:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let f: Vec<&str> = line.split_whitespace().collect();
    let n: usize = f[0].parse().unwrap();
    let expected_sum: i128 = (0..rows as i128).map(|i| i % 50_000 + 1).sum();
    assert_eq!(
        f[3].parse::<i128>().unwrap(),
        expected_sum,
        "rows decoded wrongly"
    );
    (n, f[1].parse().unwrap(), f[2].parse().unwrap())
}

fn python() -> Option<std::path::PathBuf> {
    let p = bravo_testkit::fakesnow::workspace_root()
        .ok()?
        .join(".venv/bin/python");
    p.is_file().then_some(p)
}

/// pyarrow reading `rows` rows from an uncompressed IPC stream file: (secs, peak RSS kB).
fn pyarrow(rows: usize) -> Result<(f64, u64), String> {
    let py = python().ok_or("no .venv/bin/python")?;
    let path =
        std::env::temp_dir().join(format!("bravo-bench-{}-{rows}.arrows", std::process::id()));
    let mut batches: Vec<RecordBatch> = Vec::new();
    for start in (0..rows).step_by(CHUNK_ROWS) {
        batches.push(sfarrow::batch(&columns(
            start,
            (start + CHUNK_ROWS).min(rows),
        )));
    }
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(&sfarrow::ipc_stream_batches(&batches)))
        .map_err(|e| e.to_string())?;
    drop(batches);
    let script = r#"
import sys, time, pyarrow as pa
def hwm():
    # VmHWM, not ru_maxrss: the latter carries the parent's peak across fork+exec.
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
t = time.perf_counter()
with pa.OSFile(sys.argv[1], 'rb') as f:
    table = pa.ipc.open_stream(f).read_all()
secs = time.perf_counter() - t
print("RESULT", table.num_rows, secs, hwm())
"#;
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(&path)
        .output()
        .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&path);
    parse_py(&out, rows)
}

/// The Python connector fetching Arrow batches from the same double: (secs, peak RSS kB).
fn python_connector(port: u16, rows: usize) -> Result<(f64, u64), String> {
    let py = python().ok_or("no .venv/bin/python")?;
    let script = r#"
import sys, time, snowflake.connector
def hwm():
    # VmHWM, not ru_maxrss: the latter carries the parent's peak across fork+exec.
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
conn = snowflake.connector.connect(account="bench", user="alice", password="pw", host="127.0.0.1",
                                   port=int(sys.argv[1]), protocol="http", login_timeout=30, network_timeout=120)
cur = conn.cursor()
t = time.perf_counter()
cur.execute("select " + sys.argv[2])
n = 0
for b in cur.fetch_arrow_batches():
    n += b.num_rows
secs = time.perf_counter() - t
print("RESULT", n, secs, hwm())
conn.close()
"#;
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(port.to_string())
        .arg(rows.to_string())
        .output()
        .map_err(|e| e.to_string())?;
    parse_py(&out, rows)
}

fn parse_py(out: &std::process::Output, rows: usize) -> Result<(f64, u64), String> {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let Some(line) = stdout.lines().find_map(|l| l.strip_prefix("RESULT ")) else {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(err.lines().rev().take(3).collect::<Vec<_>>().join(" / "));
    };
    let f: Vec<&str> = line.split_whitespace().collect();
    if f[0].parse::<usize>() != Ok(rows) {
        return Err(format!("got {} rows", f[0]));
    }
    Ok((
        f[1].parse().map_err(|_| "bad secs")?,
        f[2].parse().map_err(|_| "bad rss")?,
    ))
}

fn row(name: &str, rows: usize, r: Result<(f64, u64), String>) {
    match r {
        Ok((secs, kb)) => println!(
            "| {name:<38} | {:>5} M | {secs:>8.3} | {:>12.0} | {:>9.1} |",
            rows / 1_000_000,
            rows as f64 / secs,
            kb as f64 / 1024.0
        ),
        Err(e) => println!("| {name:<38} | {:>5} M | n/a: {e}", rows / 1_000_000),
    }
}

#[test]
#[ignore = "benchmark; run with --ignored --nocapture in release"]
fn decode_bench() {
    let sizes = [1_000_000usize, 5_000_000];
    let double = Double::start();
    let t = Instant::now();
    let bodies: Vec<(String, serde_json::Value)> = sizes
        .iter()
        .map(|&n| (format!("select {n}"), double.result(&result_spec(n))))
        .collect();
    eprintln!("pre-encoded results in {:?}", t.elapsed());
    double.set_handler(Endpoint::QueryRequest, move |r| {
        let sql = r.json()["sqlText"].as_str().unwrap_or_default().to_string();
        match bodies.iter().find(|(s, _)| *s == sql) {
            Some((_, body)) => Reply::json(body.clone()),
            None => Reply::json(bravo_testkit::double::reply::sql_error(
                "002003",
                "42S02",
                "unknown bench query",
            )),
        }
    });
    println!(
        "\n| {:<38} | {:>7} | {:>8} | {:>12} | {:>9} |",
        "reader", "rows", "secs", "rows/s", "peak MiB"
    );
    println!(
        "|{:-<40}|{:-<9}|{:-<10}|{:-<14}|{:-<11}|",
        "", "", "", "", ""
    );
    for &n in &sizes {
        let (got, secs, kb) = run_child(double.port(), n);
        assert_eq!(got, n);
        row("bravo_snowflake (HTTP+gunzip+decode)", n, Ok((secs, kb)));
        row("pyarrow read_all (IPC file, no HTTP)", n, pyarrow(n));
        row(
            "snowflake-connector-python arrow",
            n,
            python_connector(double.port(), n),
        );
    }
}
