//! Starts a real fakesnow server (`fakesnow -s -p PORT`) on a free loopback port for one
//! test and kills it on drop. The binary is `$BRAVO_FAKESNOW_BIN`, else the repo's
//! `.venv/bin/fakesnow`, else `/tmp/setup/venv/bin/fakesnow`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bravo_snowflake::{
    Auth, Batch, Client, Config, Error, Query, ResultStream, RetryPolicy, Secret,
};

pub struct FakeSnow {
    child: Child,
    pub port: u16,
}

fn fakesnow_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BRAVO_FAKESNOW_BIN") {
        return PathBuf::from(p);
    }
    let repo_venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/fakesnow");
    if repo_venv.exists() {
        return repo_venv;
    }
    PathBuf::from("/tmp/setup/venv/bin/fakesnow")
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// One raw login POST; true when fakesnow answers 200.
fn login_answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let body = r#"{"data":{"SESSION_PARAMETERS":{"FAKESNOW_DB_PATH":":isolated:"}}}"#;
    let req = format!(
        "POST /session/v1/login-request HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 32];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200")
}

impl FakeSnow {
    pub fn start() -> FakeSnow {
        let bin = fakesnow_bin();
        for _ in 0..3 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args(["-s", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(30) {
                if login_answers(port) {
                    return FakeSnow { child, port };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken meanwhile, or a crash: try another port
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("fakesnow at {} did not start", bin.display());
    }

    /// A config for this server: http to 127.0.0.1, a private database, a small retry budget.
    pub fn config(&self) -> Config {
        let mut c = Config::new("fakesnow", "fake", Auth::Password(Secret::new("snow")));
        c.protocol = Some("http".into());
        c.host = Some("127.0.0.1".into());
        c.port = Some(self.port);
        c.session_parameters
            .insert("FAKESNOW_DB_PATH".into(), ":isolated:".into());
        c.retry = RetryPolicy {
            max_retries: 1,
            base: Duration::from_millis(50),
            cap: Duration::from_millis(200),
            ..RetryPolicy::default()
        };
        c.timeouts.login = Duration::from_secs(20);
        c.timeouts.request = Duration::from_secs(120);
        c
    }

    /// Logs in and creates/uses a database and schema.
    pub async fn connect(&self) -> Client {
        self.connect_with(self.config()).await
    }

    /// Like [`FakeSnow::connect`] with a caller-adjusted config.
    pub async fn connect_with(&self, config: Config) -> Client {
        let client = Client::connect(config).await.expect("login to fakesnow");
        for sql in [
            "create database if not exists testdb",
            "create schema if not exists testdb.s",
            "use schema testdb.s",
        ] {
            exec(&client, sql).await.expect(sql);
        }
        client
    }
}

impl Drop for FakeSnow {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `sql` and drains the result.
pub async fn exec(client: &Client, sql: &str) -> Result<Vec<Batch>, Error> {
    let stream = client.query(Query::new(sql)).await?;
    drain(stream).await
}

pub async fn drain(mut stream: ResultStream) -> Result<Vec<Batch>, Error> {
    let mut out = Vec::new();
    while let Some(b) = stream.next_batch().await? {
        out.push(b);
    }
    Ok(out)
}
