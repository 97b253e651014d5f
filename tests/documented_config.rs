//! The README's configuration, exactly as written there, on a real PostgreSQL 15
//! cluster: every line of its "Configuration" SQL block is executed (only the file
//! paths are the test's own, and the authenticator takes each documented value), then
//! a sync runs with each authenticator: password and OAuth against fakesnow, key pair
//! (an encrypted PKCS#8 key with its passphrase file) and programmatic access token
//! against the loopback double, which records the login so the JWT is verified here.
//! Also: a dead endpoint fails within the documented retry budget.

mod common;

use std::time::{Duration, Instant};

use bravo_testkit::double::Endpoint;
use bravo_testkit::jwt::{verify_rs256, TestKey};
use bravo_testkit::synthetic::{SyntheticOptions, SyntheticSource};
use common::*;
use postgres::Client;

/// The statements of the README's configuration block.
fn readme_configuration() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let section = &readme[readme
        .find("## Configuration")
        .expect("Configuration section")..];
    let start = section.find("```sql").expect("a sql block") + "```sql".len();
    let block = &section[start..start + section[start..].find("```").expect("block end")];
    let lines: Vec<String> = block
        .lines()
        .map(|l| l.split("--").next().unwrap().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    assert!(lines.len() >= 10, "the README block: {lines:?}");
    lines
}

/// Runs the README's lines with this test's paths and `authenticator`, one statement
/// at a time (ALTER SYSTEM cannot run in a transaction block), as a superuser.
fn configure_as_documented(
    pg: &Cluster,
    authenticator: &str,
    secret: &std::path::Path,
    passphrase: Option<&std::path::Path>,
) {
    let mut c = pg.client("media_tool");
    for line in readme_configuration() {
        let line = line
            .replace("'key_pair'", &format!("'{authenticator}'"))
            .replace("/etc/bravo/rsa_key.p8", &secret.display().to_string());
        let line = match passphrase {
            Some(p) => line.replace("/etc/bravo/rsa_key.pass", &p.display().to_string()),
            None if line.contains("passphrase_file") => line.replace(
                "'/etc/bravo/rsa_key.pass'",
                "''", // not an encrypted key: the README says the line is only for one
            ),
            None => line,
        };
        c.batch_execute(&line)
            .unwrap_or_else(|e| panic!("README line failed: {line}: {}", db_message(&e)));
    }
    let secret_setting = secret.display().to_string();
    wait_for(Duration::from_secs(10), "the reload", || {
        let v: String = c
            .query_one(
                "SELECT current_setting('bravo_metrics.snowflake_secret_file')",
                &[],
            )
            .ok()?
            .get(0);
        (v == secret_setting).then_some(())
    });
}

fn endpoint(c: &mut Client, port: u16) {
    c.batch_execute(&format!(
        "ALTER DATABASE media_tool SET bravo_metrics.snowflake_protocol = 'http';
         ALTER DATABASE media_tool SET bravo_metrics.snowflake_host = '127.0.0.1';
         ALTER DATABASE media_tool SET bravo_metrics.snowflake_port = {port};
         ALTER DATABASE media_tool SET bravo_metrics.progress_interval = 0;"
    ))
    .unwrap();
}

fn media_tool(pg: &Cluster, buys: i64) {
    let mut admin = pg.client("postgres");
    admin.batch_execute("CREATE DATABASE media_tool").unwrap();
    let mut c = pg.client("media_tool");
    c.batch_execute("CREATE EXTENSION bravo_metrics").unwrap();
    c.execute(
        "INSERT INTO media_buys (id, campaign_id) SELECT g, g % 3 + 1 FROM generate_series(1, $1::bigint) g",
        &[&buys],
    )
    .unwrap();
}

/// (target, fetched) of a sync in a fresh session (which sees the database settings).
fn sync(pg: &Cluster) -> Vec<(String, i64)> {
    let mut c = pg.client("media_tool");
    c.query("SELECT target, fetched FROM bravo_sync(7)", &[])
        .unwrap_or_else(|e| panic!("sync: {}", db_message(&e)))
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn readme_configuration_syncs_with_password_and_oauth_against_fakesnow() {
    let src = Source::start();
    src.fill(12, 10);
    let pg = Cluster::start(ClusterOptions::default());
    media_tool(&pg, 12);
    let mut c = pg.client("media_tool");
    endpoint(&mut c, src.port());
    for authenticator in ["password", "oauth"] {
        let secret = pg.secret_file(
            &format!("{authenticator}.secret"),
            "not-checked-by-fakesnow",
        );
        configure_as_documented(&pg, authenticator, &secret, None);
        let shown: String = pg
            .client("media_tool")
            .query_one("SHOW bravo_metrics.snowflake_authenticator", &[])
            .unwrap()
            .get(0);
        assert_eq!(shown, authenticator);
        let got = sync(&pg);
        assert_eq!(
            got,
            vec![
                ("impressions".to_string(), 12 * 8),
                ("videos".to_string(), 12 * 8)
            ],
            "{authenticator}: the last 7 days and today"
        );
    }
}

#[test]
fn readme_configuration_syncs_with_key_pair_and_pat_against_the_double() {
    let src = SyntheticSource::start(SyntheticOptions {
        media_buys: 12,
        days: 10,
        end_date: chrono::Utc::now().date_naive(),
        ..Default::default()
    });
    let pg = Cluster::start(ClusterOptions::default());
    media_tool(&pg, 12);
    let mut c = pg.client("media_tool");
    endpoint(&mut c, src.port());

    // Key pair: an encrypted PKCS#8 key and its passphrase file.
    let key = TestKey::generate(2048);
    let secret = pg.secret_file("rsa_key.p8", &key.encrypted_pkcs8_pem("correct horse"));
    let pass = pg.secret_file("rsa_key.pass", "correct horse\n");
    configure_as_documented(&pg, "key_pair", &secret, Some(&pass));
    assert_eq!(sync(&pg).len(), 2);
    let login = src.double().requests_to(Endpoint::Login);
    let data = login.last().expect("a login").login_data();
    assert_eq!(data["AUTHENTICATOR"], "SNOWFLAKE_JWT");
    assert_eq!(data["LOGIN_NAME"], "BRAVO_SYNC");
    let claims = verify_rs256(data["TOKEN"].as_str().expect("TOKEN"), &key.public)
        .expect("the JWT is signed with the configured key");
    assert_eq!(
        claims["sub"], "MYORG-MYACCOUNT.BRAVO_SYNC",
        "claims name the README's account and user"
    );
    assert_eq!(
        claims["iss"],
        format!("MYORG-MYACCOUNT.BRAVO_SYNC.{}", key.fingerprint())
    );
    assert!(data.get("PASSWORD").is_none());
    assert_eq!(data["CLIENT_APP_ID"], "Go");

    // Programmatic access token.
    let pat = pg.secret_file("pat.secret", "pat-token-value\n");
    configure_as_documented(&pg, "programmatic_access_token", &pat, None);
    assert_eq!(sync(&pg).len(), 2);
    let data = src
        .double()
        .requests_to(Endpoint::Login)
        .last()
        .unwrap()
        .login_data();
    assert_eq!(data["AUTHENTICATOR"], "PROGRAMMATIC_ACCESS_TOKEN");
    assert_eq!(data["TOKEN"], "pat-token-value");

    // 0.2.0's spellings still work.
    for (old, wire) in [
        ("KeyPair", "SNOWFLAKE_JWT"),
        ("ProgrammaticAccessToken", "PROGRAMMATIC_ACCESS_TOKEN"),
    ] {
        let secret = if old == "KeyPair" { &secret } else { &pat };
        let passphrase = (old == "KeyPair").then_some(pass.as_path());
        configure_as_documented(&pg, old, secret, passphrase);
        assert_eq!(sync(&pg).len(), 2, "{old}");
        let data = src
            .double()
            .requests_to(Endpoint::Login)
            .last()
            .unwrap()
            .login_data();
        assert_eq!(data["AUTHENTICATOR"], wire, "{old}");
    }
    // A value that is not documented is refused when set (in a session that has the
    // library loaded: otherwise PostgreSQL stores a placeholder unchecked), naming
    // the choices.
    c.batch_execute("LOAD 'bravo_metrics'").unwrap();
    let err = c
        .batch_execute(
            "ALTER DATABASE media_tool SET bravo_metrics.snowflake_authenticator = 'kerberos'",
        )
        .unwrap_err();
    assert_eq!(sqlstate(&err), "22023");
    assert!(
        db_message(&err).contains("key_pair"),
        "{}",
        db_message(&err)
    );
}

/// A refused endpoint fails within `snowflake_retry_budget` (HV00N), each retry in
/// the server log, and the tables are as they were.
#[test]
fn a_refused_endpoint_fails_within_the_retry_budget() {
    let port = free_port(); // nothing listens there
    let pg = Cluster::start(ClusterOptions::default());
    let mut c = pg.media_tool("media_tool", port, 5, 1);
    c.batch_execute(
        "ALTER DATABASE media_tool SET bravo_metrics.snowflake_max_retries = 7;
         ALTER DATABASE media_tool SET bravo_metrics.snowflake_retry_budget = '4s';",
    )
    .unwrap();
    let mut c = pg.client("media_tool");
    let t0 = Instant::now();
    let err = c.query("SELECT * FROM bravo_sync(3)", &[]).unwrap_err();
    let took = t0.elapsed();
    println!("refused endpoint, 4 s budget: failed after {took:.2?}");
    assert_eq!(sqlstate(&err), "HV00N", "{}", db_message(&err));
    assert!(
        took < Duration::from_secs(8),
        "took {took:?} with a 4 s budget"
    );
    assert!(
        db_message(&err).contains("retry budget"),
        "{}",
        db_message(&err)
    );
    let log = pg.log_text();
    assert!(
        log.contains("bravo_metrics: Snowflake login attempt 1 failed"),
        "each retry is logged"
    );
    let rows: i64 = c
        .query_one("SELECT count(*) FROM platform_buy_daily_impressions", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
}
