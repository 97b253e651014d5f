//! The export pipeline and presigned URLs against the real s3s-fs server, which
//! verifies SigV4 signatures (moto does not): a valid URL downloads the archive, a
//! tampered or expired one is refused, and a wrong key fails the upload clearly and
//! leaves nothing behind.

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use bravo_core::SqlState;
use bravo_store::pipeline::{Pipeline, Sink};
use bravo_store::s3::{client, presign, S3Config};
use bravo_testkit::s3s::{S3sFs, ACCESS_KEY, SECRET_KEY};
use common::{noise, rt, sha256_hex};

fn cfg(endpoint: String, secret: &str) -> S3Config {
    common::cfg(endpoint, ACCESS_KEY, secret)
}

fn upload(
    rt: &tokio::runtime::Runtime,
    cfg: &S3Config,
    key: &str,
    data: &[u8],
) -> Result<bravo_store::Summary, bravo_core::CoreError> {
    let store = Arc::new(client(cfg, "exports").unwrap());
    let mut p = Pipeline::start(
        rt.handle().clone(),
        Sink::S3 {
            store,
            key: key.into(),
        },
        common::options(2),
    );
    let mut ok = || Ok(());
    if p.writer(&mut ok).write_all(data).is_err() {
        return Err(p.failure().expect("the pipeline's error"));
    }
    p.finish(&mut ok)
}

#[test]
fn presigned_urls_download_until_they_expire_and_not_when_tampered_with() {
    let s3 = S3sFs::start().unwrap();
    s3.create_bucket("exports").unwrap();
    let rt = rt();
    let good = cfg(s3.endpoint(), SECRET_KEY);
    // 12 MiB that gzip cannot shrink: at least two 5 MiB parts.
    let data = noise(12 << 20);
    let s = upload(&rt, &good, "daily/a.tar.gz", &data).unwrap();
    assert!(s.parts >= 2, "{} parts", s.parts);
    let store = client(&good, "exports").unwrap();

    let url = rt
        .block_on(presign(&store, "daily/a.tar.gz", Duration::from_secs(300)))
        .unwrap();
    let r = reqwest::blocking::get(&url).unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let body = r.bytes().unwrap();
    assert_eq!(sha256_hex(&body), s.sha256, "the download is the archive");

    // One character of the signature changed.
    let i = url.find("X-Amz-Signature=").unwrap() + "X-Amz-Signature=".len();
    let mut tampered = url.clone().into_bytes();
    tampered[i] = if tampered[i] == b'0' { b'1' } else { b'0' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        reqwest::blocking::get(&tampered).unwrap().status().as_u16(),
        403
    );
    // Another object under the same signature.
    let other = url.replace("daily/a.tar.gz", "daily/b.tar.gz");
    assert_eq!(
        reqwest::blocking::get(&other).unwrap().status().as_u16(),
        403
    );

    // Expired.
    let short = rt
        .block_on(presign(&store, "daily/a.tar.gz", Duration::from_secs(1)))
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        reqwest::blocking::get(&short).unwrap().status().as_u16(),
        403
    );
}

#[test]
fn a_wrong_secret_key_is_refused_clearly_and_leaves_nothing() {
    let s3 = S3sFs::start().unwrap();
    s3.create_bucket("exports").unwrap();
    let rt = rt();
    let bad = cfg(s3.endpoint(), "not-the-secret");
    let e = upload(&rt, &bad, "daily/a.tar.gz", &vec![7u8; 6 << 20]).unwrap_err();
    assert_eq!(e.state, SqlState::InvalidAuthorization, "{e:?}");
    assert!(e
        .hint
        .as_deref()
        .unwrap()
        .contains("export_credentials_file"));
    assert!(!e.message.contains("not-the-secret"));
    assert!(s3.files("exports").is_empty(), "{:?}", s3.files("exports"));
}
