//! bravo_export against a real PostgreSQL 15 and the real moto S3 server, configured
//! as the README says (ALTER SYSTEM for the credentials file and the endpoint): the
//! archive is downloaded through its presigned URL, every file is checked against the
//! manifest and the tables, every MongoDB line is decoded by pymongo's json_util and
//! the seed's aggregations run in mongomock give the reports' numbers; bad
//! destinations and an unreachable endpoint fail clearly and leave nothing behind; a
//! reporting role cannot export.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Command;

use bravo_testkit::moto::Moto;
use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;
use postgres::Client;
use sha2::{Digest, Sha256};

fn opts() -> SyntheticOptions {
    SyntheticOptions {
        media_buys: 300,
        days: 31,
        end_date: chrono::Utc::now().date_naive(),
        chunk_rows: 2000,
        inline_rows: 200,
        ..Default::default()
    }
}

/// A synced database and moto with bucket `exports`, configured like the README.
fn setup(pg: &Cluster, src: &SyntheticSource, moto: &Moto) -> Client {
    let mut c = pg.media_tool("media_tool", src.port(), 300, 6);
    c.query("SELECT * FROM bravo_sync(30)", &[]).unwrap();
    moto.create_bucket("exports").unwrap();
    let creds = pg.secret_file(
        "s3.credentials",
        "[default]\naws_access_key_id = AKIDEXPORT\naws_secret_access_key = export-secret-key\n",
    );
    alter_system(
        &mut c,
        "bravo_metrics.export_credentials_file",
        creds.to_str().unwrap(),
    );
    alter_system(&mut c, "bravo_metrics.export_s3_endpoint", &moto.endpoint());
    c
}

fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[test]
fn an_export_downloads_through_its_url_and_matches_the_tables_and_the_reports() {
    let src = SyntheticSource::start(opts());
    let pg = Cluster::start(ClusterOptions::default());
    let moto = Moto::start().unwrap();
    let mut c = setup(&pg, &src, &moto);

    let r = c
        .query_one(
            "SELECT export_id, object_key, url, url_expires_at > now() + interval '59 minutes',
                    files, archive_bytes, archive_sha256
               FROM bravo_export('s3://exports/daily/', interval '1 hour')",
            &[],
        )
        .unwrap();
    let (id, key, url): (i64, String, String) = (r.get(0), r.get(1), r.get(2));
    assert!(r.get::<_, bool>(3), "the URL's expiry is reported");
    assert!(
        key.starts_with("daily/bravo-export-media_tool-")
            && key.ends_with(&format!("-{id}.tar.gz")),
        "{key}"
    );
    assert!(
        url.contains("X-Amz-Signature=") && url.contains("X-Amz-Expires=3600"),
        "{url}"
    );
    assert!(!url.contains("export-secret-key"));
    let (bytes, sha): (i64, String) = (r.get(5), r.get(6));
    assert_eq!(moto.open_multipart_uploads("exports").unwrap(), 0);

    // Download through the URL, as someone without credentials would.
    let body = reqwest::blocking::get(&url).unwrap();
    assert!(body.status().is_success(), "{}", body.status());
    let body = body.bytes().unwrap();
    assert_eq!(body.len() as i64, bytes);
    assert_eq!(sha256_hex(&body), sha, "the archive's sha256");

    // Extract: every file, then the manifest that lists them with their sizes and hashes.
    let dir = tempdir(&format!("export-{id}"));
    let mut ar = tar::Archive::new(flate2::read::MultiGzDecoder::new(&body[..]));
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        let out = dir.join(&path);
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        std::fs::write(&out, &data).unwrap();
        names.push(path);
    }
    let root = dir.join(format!("bravo-export-{id}"));
    assert_eq!(
        names.last().unwrap(),
        &format!("bravo-export-{id}/manifest.json")
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["export_id"], id.to_string());
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len() + 1, names.len());
    for f in files {
        let path = dir.join(f["path"].as_str().unwrap());
        let data = std::fs::read(&path).unwrap();
        assert_eq!(data.len() as u64, f["bytes"].as_u64().unwrap(), "{path:?}");
        assert_eq!(sha256_hex(&data), f["sha256"].as_str().unwrap(), "{path:?}");
    }
    let rows_of = |p: &str| -> i64 {
        files
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(p))
            .unwrap()["rows"]
            .as_i64()
            .unwrap()
    };
    for (table, file) in [
        (
            "platform_buy_daily_impressions",
            "csv/platform_buy_daily_impressions.csv",
        ),
        (
            "platform_buy_daily_impressions",
            "mongodb/platformBuyDailyImpressions.json",
        ),
        (
            "platform_buy_daily_videos",
            "csv/platform_buy_daily_videos.csv",
        ),
        (
            "platform_buy_daily_videos",
            "mongodb/platformBuyDailyVideos.json",
        ),
        ("media_buys", "csv/media_buys.csv"),
        ("bravo_sync_runs", "csv/bravo_sync_runs.csv"),
    ] {
        let n: i64 = c
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .get(0);
        assert!(n > 0, "{table} has rows");
        assert_eq!(rows_of(file), n, "{file}");
    }

    // The CSV reads back with COPY into an identical table: exact numerics, dates, NULLs.
    let csv = root.join("csv/platform_buy_daily_impressions.csv");
    // ... and lists the rows in the primary key's order (media_buy_id as a number).
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (buy, date) = (col("media_buy_id"), col("date"));
    let keys: Vec<(i64, String)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[buy].parse().unwrap(), f[date].to_string())
        })
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "rows in (media_buy_id, date) order"
    );
    assert!(
        keys.iter().any(|k| k.0 >= 10),
        "ids of two digits or more, where text order would differ"
    );
    // The server reads it as the postgres user (the test writes as root, umask 022).
    c.batch_execute(&format!(
        "CREATE TEMP TABLE back (LIKE platform_buy_daily_impressions);
         COPY back FROM '{}' (FORMAT csv, HEADER);",
        csv.display()
    ))
    .unwrap();
    let diff: i64 = c
        .query_one(
            "SELECT count(*) FROM ((TABLE platform_buy_daily_impressions EXCEPT TABLE back)
                                   UNION ALL (TABLE back EXCEPT TABLE platform_buy_daily_impressions)) d",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(diff, 0, "the CSV is the table");

    // pymongo decodes every line; mongomock's aggregations give the reports' numbers.
    let buys: Vec<i64> = c
        .query(
            "SELECT id FROM media_buys WHERE campaign_id = 3 ORDER BY id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let out = Command::new(workspace().join(".venv/bin/python"))
        .arg(workspace().join("tests/export_check.py"))
        .arg(&root)
        .arg(serde_json::to_string(&buys).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mongo: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = c
        .query_one(
            "SELECT impressions, clicks, spend::text, video_starts, video_completions FROM bravo_campaign_totals(3)",
            &[],
        )
        .unwrap();
    assert_eq!(mongo["totals"]["impressions"], t.get::<_, i64>(0));
    assert_eq!(mongo["totals"]["clicks"], t.get::<_, i64>(1));
    assert_eq!(
        mongo["totals"]["spend"].as_str().unwrap(),
        t.get::<_, String>(2),
        "exact decimal sum"
    );
    assert_eq!(mongo["totals"]["video_starts"], t.get::<_, i64>(3));
    assert_eq!(mongo["totals"]["video_completions"], t.get::<_, i64>(4));
    let daily: Vec<serde_json::Value> = c
        .query(
            "SELECT date::text, impressions, clicks FROM bravo_campaign_daily(3, current_date - 30, current_date)
              WHERE impressions > 0 ORDER BY date",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| serde_json::json!([r.get::<_, String>(0), r.get::<_, i64>(1), r.get::<_, i64>(2)]))
        .collect();
    assert_eq!(mongo["daily"].as_array().unwrap(), &daily);

    // A new URL for the same archive; none for an export that has no archive, or
    // whose archive is gone.
    let again: String = c
        .query_one(
            "SELECT url FROM bravo_export_url($1, interval '10 minutes')",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert!(again.contains("X-Amz-Expires=600"), "{again}");
    let body2 = reqwest::blocking::get(&again).unwrap().bytes().unwrap();
    assert_eq!(sha256_hex(&body2), sha);
    let e = c
        .query("SELECT * FROM bravo_export_url(999)", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023", "{}", db_message(&e));
    let e = c
        .query(
            "SELECT * FROM bravo_export_url($1, interval '30 days')",
            &[&id],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023", "{}", db_message(&e));

    // The run log has the export, and no URL.
    let r = c
        .query_one(
            "SELECT status, archive_bytes, archive_sha256, object_key, files::text FROM bravo_export_runs WHERE export_id = $1",
            &[&id],
        )
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "succeeded");
    assert_eq!(
        (r.get::<_, Option<i64>>(1), r.get::<_, Option<String>>(2)),
        (Some(bytes), Some(sha))
    );
    assert_eq!(r.get::<_, String>(3), key);
    assert!(!r.get::<_, String>(4).contains("X-Amz"));

    // A long export says how far it is, at most every progress_interval ms.
    let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = notices.clone();
    let mut watched = pg
        .conninfo("media_tool")
        .parse::<postgres::Config>()
        .unwrap()
        .notice_callback(move |n| seen.lock().unwrap().push(n.message().to_string()))
        .connect(postgres::NoTls)
        .unwrap();
    watched
        .batch_execute("SET bravo_metrics.progress_interval = 1; SELECT * FROM bravo_export('s3://exports/progress/')")
        .unwrap();
    let notices = notices.lock().unwrap().clone();
    assert!(
        notices.iter().any(
            |n| n.starts_with("bravo_export: written csv/platform_buy_daily_impressions.csv (")
        ),
        "{notices:?}"
    );

    // The archive deleted (a lifecycle rule): no new URL, a clear error.
    let gone = reqwest::blocking::Client::new()
        .delete(format!("{}/exports/{key}", moto.endpoint()))
        .send()
        .unwrap();
    assert!(gone.status().is_success(), "{}", gone.status());
    let e = c
        .query("SELECT * FROM bravo_export_url($1)", &[&id])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "58P01", "{}", db_message(&e));
    assert!(db_message(&e).contains("no longer"), "{}", db_message(&e));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_destinations_and_an_unreachable_endpoint_fail_clearly_and_leave_nothing() {
    let src = SyntheticSource::start(opts());
    let pg = Cluster::start(ClusterOptions::default());
    let moto = Moto::start().unwrap();
    let mut c = setup(&pg, &src, &moto);

    for (dest, state, hint) in [
        ("ftp://exports", "22023", "s3://bucket/prefix/"),
        ("s3://Bad_Bucket", "22023", "s3://bucket/prefix/"),
        ("file:///tmp", "42501", "export_allowed_directory"),
        ("s3://no-such-bucket/x/", "22023", "Create the bucket"),
    ] {
        let e = c
            .query("SELECT * FROM bravo_export($1)", &[&dest])
            .unwrap_err();
        assert_eq!(sqlstate(&e), state, "{dest}: {}", db_message(&e));
        assert!(db_message(&e).contains(hint), "{dest}: {}", db_message(&e));
    }
    let e = c.query("SELECT * FROM bravo_export()", &[]).unwrap_err();
    assert_eq!(sqlstate(&e), "22023");
    assert!(
        db_message(&e).contains("export_destination"),
        "{}",
        db_message(&e)
    );
    let e = c
        .query(
            "SELECT * FROM bravo_export('s3://exports/', interval '8 days')",
            &[],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023");
    assert!(db_message(&e).contains("7 days"));

    // The endpoint down: a connection failure, logged, with no object anywhere.
    alter_system(
        &mut c,
        "bravo_metrics.export_s3_endpoint",
        &format!("http://127.0.0.1:{}", free_port()),
    );
    let e = c
        .query("SELECT * FROM bravo_export('s3://exports/')", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "08006", "{}", db_message(&e));
    assert!(!db_message(&e).contains("export-secret-key"));
    let r = c
        .query_one(
            "SELECT status, sqlstate FROM bravo_export_runs ORDER BY export_id DESC LIMIT 1",
            &[],
        )
        .unwrap();
    assert_eq!(
        (r.get::<_, String>(0), r.get::<_, Option<String>>(1)),
        ("failed".into(), Some("08006".into()))
    );
    assert!(moto.keys("exports").unwrap().is_empty());
    assert_eq!(moto.open_multipart_uploads("exports").unwrap(), 0);
    let failed: i64 = c
        .query_one(
            "SELECT max(export_id) FROM bravo_export_runs WHERE status = 'failed'",
            &[],
        )
        .unwrap()
        .get(0);
    let e = c
        .query("SELECT * FROM bravo_export_url($1)", &[&failed])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "55000", "{}", db_message(&e));

    // A reporting role cannot export.
    c.batch_execute("CREATE ROLE analyst LOGIN; SELECT bravo_grant_reporting('analyst');")
        .unwrap();
    let mut a = pg.client_as("media_tool", "analyst");
    let e = a
        .query("SELECT * FROM bravo_export('s3://exports/')", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42501", "{}", db_message(&e));
}

fn workspace() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = Path::new("/tmp/bravo-it").join(format!("{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn cancel_and_statement_timeout_stop_an_export_within_a_second_and_leave_nothing() {
    let src = SyntheticSource::start(opts());
    let pg = Cluster::start(ClusterOptions::default());
    let moto = Moto::start().unwrap();
    let mut c = setup(&pg, &src, &moto);
    // Enough history for an export of several seconds: 300 buys x 4,000 days, gzip at
    // its slowest on one thread (the export runs near COPY's speed otherwise).
    c.batch_execute(
        "INSERT INTO platform_buy_daily_impressions (media_buy_id, date, impressions, clicks, spend)
         SELECT b, current_date - 40 - d, 1000 + b + d, d % 50, (b * d % 100000) / 100.0
           FROM generate_series(1, 300) b, generate_series(0, 3999) d;
         ALTER DATABASE media_tool SET bravo_metrics.export_gzip_level = 9;
         ALTER DATABASE media_tool SET bravo_metrics.export_gzip_threads = 1;
         SET bravo_metrics.export_gzip_level = 9;
         SET bravo_metrics.export_gzip_threads = 1;",
    )
    .unwrap();

    // statement_timeout
    c.batch_execute("SET statement_timeout = '1500ms'").unwrap();
    let t0 = std::time::Instant::now();
    let e = c
        .query("SELECT * FROM bravo_export('s3://exports/')", &[])
        .unwrap_err();
    let took = t0.elapsed();
    c.batch_execute("RESET statement_timeout").unwrap();
    assert_eq!(sqlstate(&e), "57014", "{}", db_message(&e));
    assert!(
        db_message(&e).contains("statement timeout"),
        "{}",
        db_message(&e)
    );
    assert!(
        took < std::time::Duration::from_millis(2800),
        "stopped in {took:?}"
    );

    // pg_cancel_backend from another session.
    let mut other = pg.client("media_tool");
    let pid: i32 = other
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let h = std::thread::spawn(move || {
        other
            .query("SELECT * FROM bravo_export('s3://exports/')", &[])
            .map(|_| ())
    });
    std::thread::sleep(std::time::Duration::from_millis(800));
    let t0 = std::time::Instant::now();
    c.execute("SELECT pg_cancel_backend($1)", &[&pid]).unwrap();
    let e = h.join().unwrap().unwrap_err();
    let took = t0.elapsed();
    assert_eq!(sqlstate(&e), "57014", "{}", db_message(&e));
    assert!(
        took < std::time::Duration::from_millis(1500),
        "cancelled in {took:?}"
    );

    assert_eq!(
        moto.open_multipart_uploads("exports").unwrap(),
        0,
        "the uploads were aborted"
    );
    assert!(
        moto.keys("exports").unwrap().is_empty(),
        "nothing under any key"
    );
    let statuses: Vec<(String, String)> = c
        .query(
            "SELECT status, sqlstate FROM bravo_export_runs ORDER BY export_id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("cancelled".into(), "57014".into()),
            ("cancelled".into(), "57014".into())
        ]
    );
    // The same export, uncancelled, takes longer than either stop took.
    let t0 = std::time::Instant::now();
    let done = c.query_one(
        "SELECT archive_bytes FROM bravo_export('s3://exports/')",
        &[],
    );
    let full = t0.elapsed();
    assert!(done.is_ok(), "{:?}", done.err());
    assert!(
        full > std::time::Duration::from_millis(2500),
        "a whole export takes {full:?}: too short to show a cancel"
    );
}

#[test]
fn a_directory_under_the_allowed_one_gets_the_archive_renamed_into_place() {
    let src = SyntheticSource::start(opts());
    let pg = Cluster::start(ClusterOptions::default());
    let moto = Moto::start().unwrap();
    let mut c = setup(&pg, &src, &moto);
    let root = tempdir("exports");
    let daily = root.join("daily");
    std::fs::create_dir_all(&daily).unwrap();
    assert!(Command::new("chown")
        .args(["-R", "postgres"])
        .arg(&root)
        .status()
        .unwrap()
        .success());
    alter_system(
        &mut c,
        "bravo_metrics.export_allowed_directory",
        root.to_str().unwrap(),
    );

    let r = c
        .query_one(
            "SELECT url, object_key, archive_sha256, url_expires_at IS NULL FROM bravo_export($1)",
            &[&format!("file://{}", daily.display())],
        )
        .unwrap();
    let (url, key, sha): (String, String, String) = (r.get(0), r.get(1), r.get(2));
    assert!(r.get::<_, bool>(3), "a file has no URL expiry");
    assert_eq!(url, format!("file://{key}"));
    assert!(key.starts_with(daily.to_str().unwrap()), "{key}");
    let bytes = std::fs::read(&key).unwrap();
    assert_eq!(sha256_hex(&bytes), sha);
    let names: Vec<String> = std::fs::read_dir(&daily)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.len(),
        1,
        "the archive only, no partial file: {names:?}"
    );

    // Outside the allowed directory, even through "..": refused, nothing written.
    let e = c
        .query(
            "SELECT * FROM bravo_export($1)",
            &[&format!("file://{}/../", root.display())],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42501", "{}", db_message(&e));
    std::fs::remove_dir_all(&root).unwrap();
}
