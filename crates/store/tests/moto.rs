//! The export pipeline against the real moto S3 server: multipart uploads of parts
//! above 5 MiB, a download through the presigned URL, and aborts that leave no open
//! multipart upload and no object.

mod common;

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use bravo_core::SqlState;
use bravo_store::pipeline::{Options, Pipeline, Sink, ABORT_PATIENCE};
use bravo_store::s3::{client, presign, S3Config};
use bravo_testkit::fakesnow::free_port;
use bravo_testkit::moto::Moto;
use common::{noise, rt, sha256_hex};

fn cfg(endpoint: String) -> S3Config {
    common::cfg(endpoint, "AKIDEXPORTTEST", "export-test-secret")
}

fn options() -> Options {
    common::options(3)
}

#[test]
fn a_multipart_archive_uploads_and_downloads_through_its_presigned_url() {
    let moto = Moto::start().unwrap();
    moto.create_bucket("exports").unwrap();
    let rt = rt();
    let store = Arc::new(client(&cfg(moto.endpoint()), "exports").unwrap());
    let data = noise(23 << 20);
    let mut p = Pipeline::start(
        rt.handle().clone(),
        Sink::S3 {
            store: store.clone(),
            key: "daily/bravo-export-1.tar.gz".into(),
        },
        options(),
    );
    let mut ok = || Ok(());
    p.writer(&mut ok).write_all(&data).unwrap();
    let s = p.finish(&mut ok).unwrap();
    assert!(
        s.parts >= 4,
        "{} parts of at least 5 MiB ({} bytes)",
        s.parts,
        s.bytes
    );
    assert_eq!(moto.open_multipart_uploads("exports").unwrap(), 0);

    let url = rt
        .block_on(presign(
            &store,
            "daily/bravo-export-1.tar.gz",
            Duration::from_secs(600),
        ))
        .unwrap();
    let body = reqwest::blocking::get(&url).unwrap().bytes().unwrap();
    assert_eq!(body.len() as u64, s.bytes);
    assert_eq!(sha256_hex(&body), s.sha256);
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_end(&mut plain)
        .unwrap();
    assert!(
        plain == data,
        "the download decompresses to what was written"
    );
}

#[test]
fn an_export_stopped_midway_leaves_no_open_upload_and_no_object() {
    let moto = Moto::start().unwrap();
    moto.create_bucket("exports").unwrap();
    let rt = rt();
    let store = Arc::new(client(&cfg(moto.endpoint()), "exports").unwrap());
    let data = noise(12 << 20);

    // Stopped by the caller after two parts went up (an error in the snapshot's reading).
    let mut p = Pipeline::start(
        rt.handle().clone(),
        Sink::S3 {
            store: store.clone(),
            key: "a.tar.gz".into(),
        },
        options(),
    );
    let mut ok = || Ok(());
    p.writer(&mut ok).write_all(&data).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        moto.open_multipart_uploads("exports").unwrap(),
        1,
        "the upload is open while it runs"
    );
    assert!(p.abort(ABORT_PATIENCE), "abort confirmed");
    assert_eq!(moto.open_multipart_uploads("exports").unwrap(), 0);
    assert!(moto.keys("exports").unwrap().is_empty());

    // Cancelled while waiting to hand bytes over.
    let mut p = Pipeline::start(
        rt.handle().clone(),
        Sink::S3 {
            store,
            key: "b.tar.gz".into(),
        },
        options(),
    );
    let mut calls = 0;
    let mut cancel = || {
        calls += 1;
        if calls > 50 {
            Err(io::Error::other("canceling statement due to user request"))
        } else {
            Ok(())
        }
    };
    let mut written = Ok(());
    {
        let mut w = p.writer(&mut cancel);
        for _ in 0..20 {
            written = w.write_all(&data);
            if written.is_err() {
                break;
            }
        }
    }
    assert!(written.is_err(), "the cancel stopped the writer");
    assert!(p.abort(ABORT_PATIENCE));
    assert_eq!(moto.open_multipart_uploads("exports").unwrap(), 0);
    assert!(moto.keys("exports").unwrap().is_empty());
}

#[test]
fn a_missing_bucket_and_an_unreachable_endpoint_are_clear_errors() {
    let moto = Moto::start().unwrap();
    let rt = rt();
    let mut ok = || Ok(());
    let store = Arc::new(client(&cfg(moto.endpoint()), "no-such-bucket").unwrap());
    let p = Pipeline::start(
        rt.handle().clone(),
        Sink::S3 {
            store,
            key: "a.tar.gz".into(),
        },
        options(),
    );
    let e = p.finish(&mut ok).unwrap_err();
    assert_eq!(e.state, SqlState::InvalidParameterValue, "{e:?}");
    assert!(e.message.contains("bucket does not exist"), "{}", e.message);

    let store =
        Arc::new(client(&cfg(format!("http://127.0.0.1:{}", free_port())), "exports").unwrap());
    let p = Pipeline::start(
        rt.handle().clone(),
        Sink::S3 {
            store,
            key: "a.tar.gz".into(),
        },
        options(),
    );
    let e = p.finish(&mut ok).unwrap_err();
    assert_eq!(e.state, SqlState::ConnectionFailure, "{e:?}");
    assert!(e.hint.unwrap().contains("export_s3_endpoint"));
    assert!(!e.message.contains("export-test-secret"));
}
