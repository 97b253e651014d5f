//! Connection settings. Nothing in here prints a secret: [`Secret`]'s `Debug` is masked.

use std::fmt;
use std::time::Duration;

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
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 7).
    pub max_retries: u32,
    /// First sleep (default 1 s).
    pub base: Duration,
    /// Largest sleep (default 16 s).
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 7,
            base: Duration::from_secs(1),
            cap: Duration::from_secs(16),
        }
    }
}

/// Timeouts (spec §9).
#[derive(Clone, Debug)]
pub struct Timeouts {
    /// TCP connect (default 30 s).
    pub connect: Duration,
    /// One HTTP request, including a 45 s long-poll (default 90 s).
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
            connect: Duration::from_secs(30),
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
    /// `CLIENT_APP_ID` / `CLIENT_APP_VERSION` (default `Go` / a current gosnowflake version,
    /// so that Snowflake answers in Arrow).
    pub client_app_id: String,
    pub client_app_version: String,
    /// `CLIENT_ENVIRONMENT.APPLICATION`.
    pub application: String,
    /// Extra `SESSION_PARAMETERS` sent at login (always sent, even when empty).
    pub session_parameters: serde_json::Map<String, serde_json::Value>,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    /// Chunks downloaded ahead of the consumer (default 4, at least 1).
    pub chunk_prefetch: usize,
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
            client_app_id: "Go".into(),
            client_app_version: "1.11.0".into(),
            application: "bravo_metrics".into(),
            session_parameters: serde_json::Map::new(),
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            chunk_prefetch: 4,
        }
    }
}
