//! Plan B.1/B.2: login shapes, JWT verified cryptographically, login failures and retries,
//! and secrets never leaking into errors.

mod double_common;

use std::sync::OnceLock;
use std::time::Duration;

use bravo_snowflake::{Auth, Client, ErrorKind, Secret};
use bravo_testkit::double::{reply, Double, Endpoint, Reply};
use bravo_testkit::jwt::{verify_rs256, TestKey};
use double_common::*;
use serde_json::{json, Value};

fn key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::generate(2048))
}

fn key_pair_auth() -> Auth {
    Auth::KeyPair {
        private_key_pem: Secret::new(key().pkcs8_pem()),
        passphrase: None,
    }
}

fn login_data(d: &Double, i: usize) -> Value {
    d.requests_to(Endpoint::Login)[i].login_data()
}

async fn jwt_claims_for(account: &str) -> (Value, Value) {
    let d = Double::start();
    let client = bounded(Client::connect(config(&d, account, key_pair_auth())))
        .await
        .unwrap();
    drop(client);
    let data = login_data(&d, 0);
    assert_eq!(data["AUTHENTICATOR"], "SNOWFLAKE_JWT");
    assert!(
        data.get("PASSWORD").is_none(),
        "JWT login must not send PASSWORD"
    );
    assert!(data["SESSION_PARAMETERS"].is_object());
    let claims =
        verify_rs256(data["TOKEN"].as_str().expect("TOKEN"), &key().public).expect("JWT verifies");
    (data, claims)
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_is_signed_with_the_key_and_names_account_user_fingerprint() {
    let fp = key().fingerprint();
    for (account, expected) in [
        ("xy12345.us-east-2.aws", "XY12345"),
        ("myorg-myaccount", "MYORG-MYACCOUNT"),
        ("xy12345-abcdef.global", "XY12345"),
    ] {
        let (_, claims) = jwt_claims_for(account).await;
        assert_eq!(
            claims["iss"],
            format!("{expected}.ALICE.{fp}"),
            "iss for {account}"
        );
        assert_eq!(
            claims["sub"],
            format!("{expected}.ALICE"),
            "sub for {account}"
        );
        let iat = claims["iat"].as_i64().expect("iat");
        let exp = claims["exp"].as_i64().expect("exp");
        let now = chrono::Utc::now().timestamp();
        assert!(
            (now - 120..=now + 5).contains(&iat),
            "iat {iat} vs now {now}"
        );
        assert!(exp > iat && exp - iat <= 3600, "lifetime {}", exp - iat);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn encrypted_pkcs8_key_works() {
    let d = Double::start();
    let auth = Auth::KeyPair {
        private_key_pem: Secret::new(key().encrypted_pkcs8_pem("open sesame")),
        passphrase: Some(Secret::new("open sesame")),
    };
    bounded(Client::connect(config(&d, "xy12345", auth)))
        .await
        .expect("login with encrypted key");
    let token = login_data(&d, 0)["TOKEN"].as_str().unwrap().to_string();
    verify_rs256(&token, &key().public).expect("JWT verifies");
}

#[tokio::test(flavor = "multi_thread")]
async fn jwt_login_retried_after_503_carries_a_fresh_jwt() {
    let d = Double::start();
    // Held over a second boundary, so a regenerated JWT has a later `iat`.
    d.push(
        Endpoint::Login,
        Reply::text(503, "unavailable").delay(Duration::from_millis(1100)),
    );
    bounded(Client::connect(config(&d, "xy12345", key_pair_auth())))
        .await
        .expect("login after one 503");
    let logins = d.requests_to(Endpoint::Login);
    assert_eq!(logins.len(), 2);
    let claims: Vec<Value> = logins
        .iter()
        .map(|r| verify_rs256(r.login_data()["TOKEN"].as_str().unwrap(), &key().public).unwrap())
        .collect();
    assert_ne!(
        logins[0].login_data()["TOKEN"],
        logins[1].login_data()["TOKEN"]
    );
    assert!(
        claims[1]["iat"].as_i64() > claims[0]["iat"].as_i64(),
        "retry reused the old JWT"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn password_pat_and_oauth_shapes() {
    let d = Double::start();
    bounded(Client::connect(password_config(&d))).await.unwrap();
    let pat = Auth::ProgrammaticAccessToken(Secret::new("pat-SECRET-123"));
    bounded(Client::connect(config(&d, "xy12345", pat)))
        .await
        .unwrap();
    let oauth = Auth::OAuth(Secret::new("oauth-SECRET-456"));
    bounded(Client::connect(config(&d, "xy12345", oauth)))
        .await
        .unwrap();

    let pw = login_data(&d, 0);
    assert_eq!(pw["LOGIN_NAME"], "alice");
    assert_eq!(pw["PASSWORD"], PASSWORD);
    assert!(pw
        .get("AUTHENTICATOR")
        .is_none_or(|a| a.is_null() || a == "SNOWFLAKE"));
    assert!(
        pw["SESSION_PARAMETERS"].is_object(),
        "SESSION_PARAMETERS always sent"
    );
    assert_eq!(pw["ACCOUNT_NAME"], "XY12345");

    let p = login_data(&d, 1);
    assert_eq!(p["AUTHENTICATOR"], "PROGRAMMATIC_ACCESS_TOKEN");
    assert_eq!(p["TOKEN"], "pat-SECRET-123");
    assert_eq!(p["LOGIN_NAME"], "alice");
    assert!(
        p.get("PASSWORD").is_none(),
        "PAT login must not send PASSWORD: {p}"
    );

    let o = login_data(&d, 2);
    assert_eq!(o["AUTHENTICATOR"], "OAUTH");
    assert_eq!(o["TOKEN"], "oauth-SECRET-456");
    assert_eq!(o["LOGIN_NAME"], "alice");
    assert!(o.get("PASSWORD").is_none());

    let login = &d.requests_to(Endpoint::Login)[0];
    assert_eq!(login.header("content-type"), Some("application/json"));
    assert!(login.param("request_guid").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn login_failures_are_not_retried() {
    let failures = [
        Reply::json(reply::failure(
            "390100",
            "Incorrect username or password was specified.",
            Value::Null,
        )),
        Reply::json(reply::failure(
            "394400",
            "Programmatic access token is invalid.",
            Value::Null,
        )),
        Reply::text(403, "Forbidden"),
    ];
    for failure in failures {
        let d = Double::start();
        d.push(Endpoint::Login, failure.clone());
        let err = bounded(Client::connect(password_config(&d)))
            .await
            .err()
            .unwrap_or_else(|| panic!("login must fail"));
        assert_eq!(err.kind(), ErrorKind::Authentication, "{err}");
        assert_eq!(
            d.count(Endpoint::Login),
            1,
            "retried a fatal login failure: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn login_502_503_retried_with_fresh_request_guid() {
    let d = Double::start();
    d.push(Endpoint::Login, Reply::text(502, "bad gateway"));
    d.push(Endpoint::Login, Reply::text(503, "unavailable"));
    bounded(Client::connect(password_config(&d)))
        .await
        .expect("third attempt succeeds");
    let logins = d.requests_to(Endpoint::Login);
    assert_eq!(logins.len(), 3);
    let guids: Vec<_> = logins
        .iter()
        .map(|r| r.param("request_guid").expect("request_guid"))
        .collect();
    assert!(
        guids[0] != guids[1] && guids[1] != guids[2] && guids[0] != guids[2],
        "{guids:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_never_appear_in_errors() {
    let pat = "pat-SECRET-abc";
    let oauth = "oauth-SECRET-def";
    let session = "sess-SECRET-ghi";
    let master = "master-SECRET-jkl";
    let qrmk = "qrmk-SECRET-mno";
    let mut errors: Vec<String> = Vec::new();
    let record =
        |errors: &mut Vec<String>, e: &bravo_snowflake::Error| errors.push(format!("{e} | {e:?}"));

    // Servers that echo what they were sent.
    for auth in [
        Auth::Password(Secret::new(PASSWORD)),
        Auth::ProgrammaticAccessToken(Secret::new(pat)),
        Auth::OAuth(Secret::new(oauth)),
        Auth::KeyPair {
            private_key_pem: Secret::new(key().pkcs8_pem()),
            passphrase: None,
        },
    ] {
        let d = Double::start();
        d.set_handler(Endpoint::Login, |r| {
            let body = String::from_utf8_lossy(&r.body).into_owned();
            Reply::json(reply::failure(
                "390100",
                &format!("bad login: {body}"),
                Value::Null,
            ))
        });
        let cfg = config(&d, "xy12345", auth);
        assert!(
            !format!("{cfg:?}").contains("SECRET"),
            "Config Debug leaks a secret"
        );
        let e = bounded(Client::connect(cfg))
            .await
            .err()
            .unwrap_or_else(|| panic!("login fails"));
        record(&mut errors, &e);
        let jwt = d.requests_to(Endpoint::Login)[0].login_data()["TOKEN"]
            .as_str()
            .map(str::to_string);
        if let Some(token) = jwt {
            // The JWT's signature part, or the PAT/OAuth token itself.
            let tail = token.rsplit('.').next().unwrap();
            let last = errors.last().unwrap();
            assert!(!last.contains(tail), "token leaked: {last}");
        }
    }
    // Bad key material must not be echoed either. (Not a key: a PEM header around the
    // placeholder "SECRETSECRET"; real test keys are generated at test time.)
    let d = Double::start();
    let bad = Auth::KeyPair {
        private_key_pem: Secret::new(
            "-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n-----END PRIVATE KEY-----",
        ),
        passphrase: None,
    };
    if let Err(e) = bounded(Client::connect(config(&d, "xy12345", bad))).await {
        record(&mut errors, &e);
    }

    // Session/master token and qrmk echoed back by failing queries and chunks.
    let d = Double::start();
    d.push_json(
        Endpoint::Login,
        reply::success(
            json!({"token": session, "masterToken": master, "validityInSeconds": 3600,
                              "masterValidityInSeconds": 14400, "sessionId": 1}),
        ),
    );
    let client = bounded(Client::connect(password_config(&d))).await.unwrap();
    d.set_handler(Endpoint::QueryRequest, |r| {
        Reply::text(400, &format!("bad request with {:?}", r.headers))
    });
    let e = bounded(run(&client, "select 1")).await.unwrap_err();
    record(&mut errors, &e);
    d.set_handler(Endpoint::QueryRequest, move |_| {
        Reply::json(reply::sql_error(
            "002003",
            "42S02",
            &format!("token {session} master {master}"),
        ))
    });
    let e = bounded(run(&client, "select 1")).await.unwrap_err();
    record(&mut errors, &e);
    use bravo_testkit::double::{Chunk, ResultSpec};
    use bravo_testkit::sfarrow::{fixed, Width};
    let cols = [fixed("N", Width::I8, 0, &[Some(1)])];
    let spec = ResultSpec::arrow(&cols)
        .chunk(Chunk::arrow(&cols).fail_always())
        .qrmk(qrmk);
    let result = d.result(&spec);
    d.set_handler(Endpoint::QueryRequest, move |_| Reply::json(result.clone()));
    let e = bounded(run(&client, "select 1")).await.unwrap_err();
    record(&mut errors, &e);

    assert!(errors.len() >= 7, "{errors:#?}");
    let mut leaks = Vec::new();
    for e in &errors {
        for secret in [PASSWORD, pat, oauth, session, master, qrmk, "SECRETSECRET"] {
            if e.contains(secret) {
                leaks.push(format!("{secret:?} in: {e}"));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets leaked:\n{}", leaks.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn login_identifies_a_current_driver_and_the_application() {
    let d = Double::start();
    let client = bounded(connect(&d)).await;
    bounded(run(&client, "select 1")).await.unwrap();
    let login = d.requests_to(Endpoint::Login)[0].clone();
    let data = login.login_data();
    assert_eq!(data["CLIENT_APP_ID"], "Go");
    assert_eq!(
        data["CLIENT_APP_VERSION"], "2.1.0",
        "gosnowflake's current release"
    );
    assert_eq!(data["CLIENT_ENVIRONMENT"]["APPLICATION"], "bravo_metrics");
    let query = d.requests_to(Endpoint::QueryRequest)[0].clone();
    for r in [&login, &query] {
        assert_eq!(r.header("CLIENT_APP_ID"), Some("Go"), "{}", r.path);
        assert_eq!(r.header("CLIENT_APP_VERSION"), Some("2.1.0"));
        let ua = r.header("user-agent").expect("User-Agent");
        assert!(ua.starts_with("Go/2.1.0 ("), "{ua}");
        assert!(ua.contains(") bravo_snowflake/"), "{ua}");
    }

    // Both are settings: the extension names itself with its version.
    let mut cfg = password_config(&d);
    cfg.application = "bravo_metrics/0.2.0".into();
    cfg.client_app_version = "2.2.0".into();
    bounded(Client::connect(cfg)).await.unwrap();
    let login = d.requests_to(Endpoint::Login)[1].clone();
    let data = login.login_data();
    assert_eq!(data["CLIENT_APP_ID"], "Go");
    assert_eq!(data["CLIENT_APP_VERSION"], "2.2.0");
    assert_eq!(
        data["CLIENT_ENVIRONMENT"]["APPLICATION"],
        "bravo_metrics/0.2.0"
    );
    assert_eq!(login.header("CLIENT_APP_VERSION"), Some("2.2.0"));

    // A value that cannot be a header is a configuration error, before any request.
    let mut cfg = password_config(&d);
    cfg.client_app_version = "2.1.0\r\nX-Injected: 1".into();
    let e = bounded(Client::connect(cfg)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert_eq!(d.count(Endpoint::Login), 2);
}
