//! Helpers shared by the S3 suites (moto.rs, s3s.rs).

use std::time::Duration;

use bravo_store::pipeline::Options;
use bravo_store::s3::S3Config;
use bravo_store::Credentials;
use sha2::{Digest, Sha256};

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A client configuration for `endpoint` with these keys, no retries.
pub fn cfg(endpoint: String, access_key: &str, secret: &str) -> S3Config {
    S3Config {
        endpoint: Some(endpoint),
        region: "us-east-1".into(),
        credentials: Some(Credentials {
            access_key_id: access_key.into(),
            secret_access_key: secret.into(),
            session_token: None,
        }),
        timeout: Duration::from_secs(10),
        max_retries: 0,
    }
}

/// `n` bytes that gzip cannot shrink much (xorshift), so parts are real-sized.
pub fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Fast gzip and 5 MiB parts (S3's smallest), `in_flight` at a time.
pub fn options(in_flight: usize) -> Options {
    Options {
        level: 1,
        part_size: 5 << 20,
        in_flight,
        chunk: 64 << 10,
        ..Options::default()
    }
}

pub fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}
