//! Shared helpers for the `double_*` tests: a client config pointed at a test double.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use bravo_snowflake::{Auth, Batch, Client, Column, Config, Error, Query, ResultStream, Secret};
use bravo_testkit::double::Double;

pub const PASSWORD: &str = "hunter2-SECRET-password";

/// A config for `double` with short timeouts and millisecond backoff.
pub fn config(double: &Double, account: &str, auth: Auth) -> Config {
    let mut c = Config::new(account, "alice", auth);
    c.protocol = Some("http".into());
    c.host = Some("127.0.0.1".into());
    c.port = Some(double.port());
    c.retry.base = Duration::from_millis(10);
    c.retry.cap = Duration::from_millis(50);
    c.retry.max_retries = 3;
    c.timeouts.request = Duration::from_secs(10);
    c.timeouts.chunk = Duration::from_secs(10);
    c.timeouts.login = Duration::from_secs(20);
    c
}

pub fn password_config(double: &Double) -> Config {
    config(double, "xy12345", Auth::Password(Secret::new(PASSWORD)))
}

pub async fn connect(double: &Double) -> Client {
    Client::connect(password_config(double))
        .await
        .expect("login to the double")
}

/// Fails the test instead of hanging: every test future runs under this bound.
pub async fn bounded<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), fut)
        .await
        .expect("test step took over 60 s")
}

/// Runs a query and collects every batch.
pub async fn run(client: &Client, sql: &str) -> Result<Vec<Batch>, Error> {
    let mut stream: ResultStream = client.query(Query::new(sql)).await?;
    let mut out = Vec::new();
    while let Some(b) = stream.next_batch().await? {
        out.push(b);
    }
    Ok(out)
}

/// Column `col` of all batches, concatenated.
pub fn fixed_values(batches: &[Batch], col: usize) -> (u32, Vec<Option<i128>>) {
    let mut scale = 0;
    let mut all = Vec::new();
    for b in batches {
        match &b.columns[col] {
            Column::Fixed { scale: s, values } => {
                scale = *s;
                all.extend(values.iter().copied());
            }
            other => panic!("expected FIXED, got {other:?}"),
        }
    }
    (scale, all)
}

/// All values of column `col`, one Column per batch merged by the caller.
pub fn column_of(batches: &[Batch], col: usize) -> Vec<Column> {
    batches.iter().map(|b| b.columns[col].clone()).collect()
}
