//! Connection settings. Nothing in here prints a secret: [`Secret`]'s `Debug` is masked.

use std::fmt;
use std::sync::mpsc::Sender;
use std::time::Duration;

use crate::retry::RetryEvent;

/// Default `CLIENT_APP_ID`: the Go driver's client type (see [`Config::client_app_id`]).
pub const DEFAULT_CLIENT_APP_ID: &str = "Go";
/// Default `CLIENT_APP_VERSION`: gosnowflake's current release (v2.1.0, June 2026).
pub const DEFAULT_CLIENT_APP_VERSION: &str = "2.1.0";
/// Default `CLIENT_ENVIRONMENT.APPLICATION` (see [`Config::application`]).
pub const DEFAULT_APPLICATION: &str = "bravo_metrics";

/// A secret string (password, token, PEM key, passphrase). `Debug` and `Display` are masked.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The only way to read the value. Never log what this returns.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// How to authenticate.
#[derive(Clone, Debug)]
pub enum Auth {
    /// `AUTHENTICATOR` absent: `LOGIN_NAME` + `PASSWORD`.
    Password(Secret),
    /// `SNOWFLAKE_JWT`: an RS256 JWT signed with a PKCS#8 PEM key (optionally encrypted).
    KeyPair {
        private_key_pem: Secret,
        passphrase: Option<Secret>,
    },
    /// `PROGRAMMATIC_ACCESS_TOKEN`.
    ProgrammaticAccessToken(Secret),
    /// `OAUTH`.
    OAuth(Secret),
}

/// Retry parameters (spec §9: decorrelated jitter, `min(cap, uniform[base, 3*prev))`).
///
/// Transport failures (refused or reset connections, timeouts), HTTP 408/429/5xx and
/// truncated bodies are retried. A request stops retrying at whichever comes first:
/// `max_retries`, the session's retry `budget`, or the call's deadline
/// ([`Timeouts::login`], [`Timeouts::query`]).
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Retries after the first attempt of one request (default 7).
    pub max_retries: u32,
    /// First sleep (default 1 s).
    pub base: Duration,
    /// Largest sleep (default 16 s).
    pub cap: Duration,
    /// Total time one client session (one [`crate::Client`], i.e. one sync) may spend
    /// retrying, over all its requests: login, renewal, query, result polls, chunk
    /// downloads (default 30 s).
    ///
    /// A request's retry time runs from its first failure: the sleeps plus the failed
    /// attempts after it. Requests retrying at the same time (parallel chunk downloads)
    /// count once, as wall-clock time. Successes do not give time back. When the next
    /// sleep would take the session past the budget, the request stops retrying and
    /// returns its last error as [`crate::ErrorKind::Network`], saying how many attempts
    /// it made over how long and that the retry budget is exhausted; after that, every
    /// retryable failure of the session is final at once. `Duration::ZERO` disables
    /// retries. An attempt already under way is not cut short, so a refused connection
    /// fails within the budget, an unreachable host within the budget plus
    /// [`Timeouts::connect`].
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 7,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(16),
            budget: Duration::from_secs(30),
        }
    }
}

/// Timeouts (spec §9).
#[derive(Clone, Debug)]
pub struct Timeouts {
    /// Establishing a connection: TCP connect plus the TLS handshake (default 10 s).
    /// Applies to every request, chunk downloads included (reqwest `connect_timeout`).
    pub connect: Duration,
    /// One HTTP request from send to the end of the body, including a 45 s long-poll
    /// (default 90 s).
    pub request: Duration,
    /// Total deadline for login, retries included (default 300 s).
    pub login: Duration,
    /// Total deadline for one query call, retries and polling included (default none).
    pub query: Option<Duration>,
    /// Logout (default 5 s, never retried).
    pub logout: Duration,
    /// One chunk download (default 60 s).
    pub chunk: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(90),
            login: Duration::from_secs(300),
            query: None,
            logout: Duration::from_secs(5),
            chunk: Duration::from_secs(60),
        }
    }
}

/// Everything needed to reach and log in to one Snowflake account.
#[derive(Clone, Debug)]
pub struct Config {
    /// Account identifier: `xy12345`, `xy12345.us-east-2.aws`, `myorg-myaccount`, ...
    pub account: String,
    pub user: String,
    pub auth: Auth,
    pub warehouse: Option<String>,
    pub role: Option<String>,
    pub database: Option<String>,
    pub schema: Option<String>,
    /// Optional legacy region (`us-east-2`, `cn-north-1`, ...).
    pub region: Option<String>,
    /// Override: `http` or `https` (default `https`).
    pub protocol: Option<String>,
    /// Override: host name (default derived from the account).
    pub host: Option<String>,
    /// Override: port (default 443 for https, 80 for http).
    pub port: Option<u16>,
    /// Plain http to a non-loopback host is refused unless this is set.
    pub allow_insecure_http: bool,
    /// `CLIENT_APP_ID`, sent in the login body and as a header on every request
    /// (default [`DEFAULT_CLIENT_APP_ID`], `Go`).
    ///
    /// Snowflake picks the result format per client type (Arrow for `Go` through
    /// `GO_QUERY_RESULT_FORMAT`) and accepts only driver ids it knows here, and it retires
    /// old driver versions. So the client identifies as the Go driver at a current
    /// version ([`Config::client_app_version`]) and names itself in
    /// [`Config::application`]. The `User-Agent` is
    /// `<client_app_id>/<client_app_version> (<os>-<arch>) bravo_snowflake/<crate version>`.
    pub client_app_id: String,
    /// `CLIENT_APP_VERSION`, sent with [`Config::client_app_id`] (default
    /// [`DEFAULT_CLIENT_APP_VERSION`], `2.1.0`: gosnowflake's current release). Raise it
    /// when Snowflake deprecates the version.
    pub client_app_version: String,
    /// Who is really connecting: `CLIENT_ENVIRONMENT.APPLICATION` in the login body, as
    /// the drivers send their `application` setting (default [`DEFAULT_APPLICATION`],
    /// `bravo_metrics`; the extension sets `bravo_metrics/<its version>`).
    pub application: String,
    /// Extra `SESSION_PARAMETERS` sent at login (always sent, even when empty).
    pub session_parameters: serde_json::Map<String, serde_json::Value>,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    /// Chunks downloaded ahead of the consumer (default 4, at least 1).
    pub chunk_prefetch: usize,
    /// Where each retry is reported (default none). One [`RetryEvent`] is sent per retry,
    /// before its sleep, from whatever thread runs the request (a tokio worker, a chunk
    /// download task). Sending never blocks and never calls back into the caller;
    /// events sent after the receiver is dropped are discarded. The client itself logs
    /// nothing: the caller drains the receiver on its own thread (the extension does so
    /// on the PostgreSQL backend thread, between network waits) and logs as it likes.
    /// The error text in an event is redacted.
    pub retry_events: Option<Sender<RetryEvent>>,
}

impl Config {
    pub fn new(account: impl Into<String>, user: impl Into<String>, auth: Auth) -> Self {
        Config {
            account: account.into(),
            user: user.into(),
            auth,
            warehouse: None,
            role: None,
            database: None,
            schema: None,
            region: None,
            protocol: None,
            host: None,
            port: None,
            allow_insecure_http: false,
            client_app_id: DEFAULT_CLIENT_APP_ID.into(),
            client_app_version: DEFAULT_CLIENT_APP_VERSION.into(),
            application: DEFAULT_APPLICATION.into(),
            session_parameters: serde_json::Map::new(),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            chunk_prefetch: 4,
            retry_events: None,
        }
    }
}
