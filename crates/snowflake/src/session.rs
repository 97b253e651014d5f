//! Session lifecycle (spec §3, §5): login, single-flight renewal, re-login, logout, and
//! authenticated requests that replay after a renewal with the same `requestId`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::auth::Credentials;
use crate::config::{Config, RetryPolicy, Secret};
use crate::error::Error;
use crate::http::{AttemptInfo, Http, Purpose, Request};
use crate::redact::redact;
use crate::retry::{Deadline, RequestKind};
use crate::wire::{Envelope, LoginData, RenewData};

/// Session token expired: renew with the master token, then replay.
pub(crate) const SESSION_EXPIRED: &str = "390112";
/// Master token expired: log in again.
pub(crate) const MASTER_EXPIRED: &str = "390114";
/// Renewal failures that call for a new login.
const RELOGIN_ON_RENEW: &[&str] = &["390110", "390112", "390113", "390114", "390115", "390400"];
/// Session gone / no valid token.
const SESSION_GONE: &[&str] = &["390101", "390102", "390103", "390104", "390111"];

/// Authentication failure codes (spec §9).
pub(crate) fn is_auth_code(code: &str) -> bool {
    matches!(code, "390100" | "390144" | "394400" | "390303" | "390318")
        || code.starts_with("3943")
        || SESSION_GONE.contains(&code)
        || code == MASTER_EXPIRED
}

/// Classifies a `success:false` envelope.
pub(crate) fn envelope_error(env: &Envelope) -> Error {
    let code = env.code().to_string();
    let message = redact(env.message.as_deref().unwrap_or(""));
    if is_auth_code(&code) {
        let message = if SESSION_GONE.contains(&code.as_str()) {
            format!("session is no longer valid: {message}")
        } else {
            message
        };
        return Error::Authentication { code, message };
    }
    let sql_state = env.data_str("sqlState");
    let data_code = env.data_str("errorCode");
    let code = if code.is_empty() {
        data_code.unwrap_or_default()
    } else {
        code
    };
    if code.is_empty() {
        return Error::Protocol(format!(
            "Snowflake reported a failure without an error code: {message}"
        ));
    }
    Error::Sql {
        code,
        sql_state: sql_state.unwrap_or_default(),
        message,
        query_id: env.data_str("queryId"),
    }
}

struct TokenState {
    session: Option<Secret>,
    master: Option<Secret>,
    generation: u64,
    session_id: Option<i64>,
    server_version: Option<String>,
}

/// One logged-in session. Shared behind an `Arc` by [`crate::Client`].
pub(crate) struct Session {
    pub(crate) http: Http,
    pub(crate) chunk_client: reqwest::Client,
    pub(crate) config: Config,
    creds: Credentials,
    state: RwLock<TokenState>,
    renew_lock: tokio::sync::Mutex<()>,
    seq: AtomicU64,
    renewals: AtomicU64,
    logins: AtomicU64,
}

fn request_params(request_id: Uuid) -> Vec<(String, String)> {
    vec![
        ("requestId".into(), request_id.to_string()),
        ("request_guid".into(), Uuid::new_v4().to_string()),
    ]
}

impl Session {
    pub(crate) fn new(config: Config, base: String) -> Result<Self, Error> {
        let creds = Credentials::prepare(&config)?;
        let http = Http::new(&config, base)?;
        let chunk_client = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Session {
            http,
            chunk_client,
            config,
            creds,
            state: RwLock::new(TokenState {
                session: None,
                master: None,
                generation: 0,
                session_id: None,
                server_version: None,
            }),
            renew_lock: tokio::sync::Mutex::new(()),
            seq: AtomicU64::new(1),
            renewals: AtomicU64::new(0),
            logins: AtomicU64::new(0),
        })
    }

    /// Every secret value this session knows (for [`Error::scrub`]).
    pub(crate) fn known_secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.config.auth {
            crate::config::Auth::Password(p)
            | crate::config::Auth::ProgrammaticAccessToken(p)
            | crate::config::Auth::OAuth(p) => out.push(p.expose().to_string()),
            crate::config::Auth::KeyPair { passphrase, .. } => {
                if let Some(p) = passphrase {
                    out.push(p.expose().to_string());
                }
            }
        }
        if let Ok(s) = self.state.read() {
            out.extend(s.session.iter().map(|t| t.expose().to_string()));
            out.extend(s.master.iter().map(|t| t.expose().to_string()));
        }
        out
    }

    pub(crate) fn next_sequence_id(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst)
    }

    /// (renewals, logins) done so far.
    pub(crate) fn counters(&self) -> (u64, u64) {
        (
            self.renewals.load(Ordering::SeqCst),
            self.logins.load(Ordering::SeqCst),
        )
    }

    pub(crate) fn session_id(&self) -> Option<i64> {
        self.state.read().ok().and_then(|s| s.session_id)
    }

    pub(crate) fn server_version(&self) -> Option<String> {
        self.state
            .read()
            .ok()
            .and_then(|s| s.server_version.clone())
    }

    fn current(&self) -> Result<(Secret, u64), Error> {
        let state = self
            .state
            .read()
            .map_err(|_| Error::Protocol("session state poisoned".into()))?;
        match &state.session {
            Some(t) => Ok((t.clone(), state.generation)),
            None => Err(Error::Authentication {
                code: String::new(),
                message: "not logged in".into(),
            }),
        }
    }

    fn login_body(&self) -> Result<Vec<u8>, Error> {
        let c = &self.config;
        let mut params: Map<String, Value> = Map::new();
        params.insert("GO_QUERY_RESULT_FORMAT".into(), "ARROW".into());
        for (k, v) in &c.session_parameters {
            params.insert(k.to_ascii_uppercase(), v.clone());
        }
        let mut data = Map::new();
        data.insert("CLIENT_APP_ID".into(), c.client_app_id.clone().into());
        data.insert(
            "CLIENT_APP_VERSION".into(),
            c.client_app_version.clone().into(),
        );
        data.insert("SVN_REVISION".into(), "".into());
        data.insert(
            "ACCOUNT_NAME".into(),
            crate::endpoint::login_account_name(&c.account).into(),
        );
        self.creds.fill_login_data(c, &mut data)?;
        data.insert("SESSION_PARAMETERS".into(), Value::Object(params));
        data.insert(
            "CLIENT_ENVIRONMENT".into(),
            json!({
                "APPLICATION": c.application,
                "OS": std::env::consts::OS,
                "OS_VERSION": std::env::consts::ARCH,
                "OCSP_MODE": "FAIL_OPEN",
            }),
        );
        serde_json::to_vec(&json!({ "data": data }))
            .map_err(|e| Error::Config(format!("cannot encode the login request: {e}")))
    }

    /// Logs in (retrying per policy within `timeouts.login`); a fresh JWT per attempt.
    async fn login_inner(&self) -> Result<(), Error> {
        let c = &self.config;
        let request_id = Uuid::new_v4();
        let mut fixed: Vec<(String, String)> = Vec::new();
        for (key, value) in [
            ("databaseName", &c.database),
            ("schemaName", &c.schema),
            ("warehouse", &c.warehouse),
            ("roleName", &c.role),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                fixed.push((key.into(), v.to_string()));
            }
        }
        // A JWT lives 60 s: like gosnowflake, give a key-pair login attempt 10 s at most.
        let timeout = match self.creds {
            Credentials::KeyPair(_) => c.timeouts.request.min(Duration::from_secs(10)),
            _ => c.timeouts.request,
        };
        let reply = self
            .http
            .send(
                RequestKind::Login,
                Purpose::Login,
                &c.retry,
                Deadline::after(Some(c.timeouts.login)),
                |_info: AttemptInfo| {
                    let mut query = fixed.clone();
                    query.extend(request_params(request_id));
                    Ok(Request {
                        method: Method::POST,
                        path: "/session/v1/login-request".into(),
                        query,
                        body: Some(self.login_body()?),
                        token: None,
                        timeout,
                    })
                },
            )
            .await?;
        let env = reply.envelope;
        if !env.success {
            let code = env.code().to_string();
            return Err(Error::Authentication {
                code: if code.is_empty() {
                    reply.status.to_string()
                } else {
                    code
                },
                message: redact(env.message.as_deref().unwrap_or("login failed")),
            });
        }
        let data: LoginData = serde_json::from_value(env.data.unwrap_or(Value::Null))
            .map_err(|e| Error::Protocol(format!("unexpected login response: {e}")))?;
        let token = data
            .token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::Protocol("the login response has no session token".into()))?;
        let mut state = self
            .state
            .write()
            .map_err(|_| Error::Protocol("session state poisoned".into()))?;
        state.session = Some(Secret::new(token));
        // fakesnow sends no master token; renewal then falls back to a new login.
        state.master = data.master_token.filter(|t| !t.is_empty()).map(Secret::new);
        state.session_id = data.session_id;
        state.server_version = data.server_version;
        state.generation += 1;
        self.logins.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    pub(crate) async fn login(&self) -> Result<(), Error> {
        let _guard = self.renew_lock.lock().await;
        self.login_inner().await
    }

    /// Renews the session token if `failed_generation` is still current (single flight).
    async fn renew(&self, failed_generation: u64, relogin_only: bool) -> Result<(), Error> {
        let _guard = self.renew_lock.lock().await;
        let (session, master, generation) = {
            let s = self
                .state
                .read()
                .map_err(|_| Error::Protocol("session state poisoned".into()))?;
            (s.session.clone(), s.master.clone(), s.generation)
        };
        if generation != failed_generation {
            return Ok(()); // someone else renewed already
        }
        let (Some(session), Some(master), false) = (session, master, relogin_only) else {
            return self.login_inner().await;
        };
        let c = &self.config;
        let request_id = Uuid::new_v4();
        let body = serde_json::to_vec(&json!({
            "oldSessionToken": session.expose(),
            "requestType": "RENEW",
        }))
        .map_err(|e| Error::Protocol(format!("cannot encode the renewal: {e}")))?;
        let result = self
            .http
            .send(
                RequestKind::Renewal,
                Purpose::Other,
                &c.retry,
                Deadline::after(Some(c.timeouts.login)),
                |_| {
                    Ok(Request {
                        method: Method::POST,
                        path: "/session/token-request".into(),
                        query: request_params(request_id),
                        body: Some(body.clone()),
                        token: Some(master.clone()),
                        timeout: c.timeouts.request,
                    })
                },
            )
            .await;
        let env = match result {
            Ok(reply) => reply.envelope,
            // The endpoint is missing or refuses us: a new login is the way out.
            Err(Error::Protocol(_)) | Err(Error::Authentication { .. }) => {
                return self.login_inner().await
            }
            Err(e) => return Err(e),
        };
        if !env.success {
            if RELOGIN_ON_RENEW.contains(&env.code()) || SESSION_GONE.contains(&env.code()) {
                return self.login_inner().await;
            }
            return Err(envelope_error(&env));
        }
        let data: RenewData = serde_json::from_value(env.data.unwrap_or(Value::Null))
            .map_err(|e| Error::Protocol(format!("unexpected renewal response: {e}")))?;
        let new_session = data
            .session_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Error::Protocol("the renewal response has no session token".into()))?;
        let mut s = self
            .state
            .write()
            .map_err(|_| Error::Protocol("session state poisoned".into()))?;
        s.session = Some(Secret::new(new_session));
        if let Some(m) = data.master_token.filter(|t| !t.is_empty()) {
            s.master = Some(Secret::new(m));
        }
        s.generation += 1;
        self.renewals.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// An authenticated request with retries; after a 390112 the session is renewed
    /// (390114: logged in again) and the request replayed with the same `requestId`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn request(
        &self,
        request: RequestKind,
        purpose: Purpose,
        deadline: Deadline,
        method: Method,
        path: &str,
        request_id: Uuid,
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Envelope, Error> {
        let mut renewals = 0;
        loop {
            let (token, generation) = self.current()?;
            let reply = self
                .http
                .send(request, purpose, &self.config.retry, deadline, |info| {
                    let mut query = request_params(request_id);
                    if purpose == Purpose::Query && info.retry_count > 0 {
                        query.push(("retryCount".into(), info.retry_count.to_string()));
                        query.push(("retryReason".into(), info.retry_reason.to_string()));
                        query.push(("clientStartTime".into(), info.client_start_ms.to_string()));
                    }
                    Ok(Request {
                        method: method.clone(),
                        path: path.to_string(),
                        query,
                        body: body.map(<[u8]>::to_vec),
                        token: Some(token.clone()),
                        timeout,
                    })
                })
                .await?;
            let env = reply.envelope;
            let code = env.code();
            if (code == SESSION_EXPIRED || code == MASTER_EXPIRED) && renewals < 2 {
                renewals += 1;
                self.renew(generation, code == MASTER_EXPIRED).await?;
                continue;
            }
            return Ok(env);
        }
    }

    /// Best effort: 5 s (configurable), no retries, errors ignored.
    pub(crate) async fn logout(&self) {
        let Ok((token, _)) = self.current() else {
            return;
        };
        let no_retry = RetryPolicy {
            max_retries: 0,
            ..self.config.retry.clone()
        };
        let limit = self.config.timeouts.logout;
        let request_id = Uuid::new_v4();
        let send = self.http.send(
            RequestKind::Logout,
            Purpose::Other,
            &no_retry,
            Deadline::after(Some(limit)),
            |_| {
                let mut query = vec![("delete".to_string(), "true".to_string())];
                query.extend(request_params(request_id));
                Ok(Request {
                    method: Method::POST,
                    path: "/session".into(),
                    query,
                    body: Some(b"{}".to_vec()),
                    token: Some(token.clone()),
                    timeout: limit,
                })
            },
        );
        let _ = tokio::time::timeout(limit, send).await;
    }

    /// Aborts the query submitted with `request_id` (spec §7): up to 1 s per attempt,
    /// `000605` (not running yet / any more) retried a few times, then taken as done.
    pub(crate) async fn abort(&self, request_id: Uuid) -> Result<(), Error> {
        const ATTEMPTS: usize = 5;
        let (token, _) = self.current()?;
        let body = serde_json::to_vec(&json!({ "requestId": request_id.to_string() }))
            .map_err(|e| Error::Protocol(format!("cannot encode the abort request: {e}")))?;
        let policy = RetryPolicy {
            max_retries: 2,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(500),
            ..self.config.retry.clone()
        };
        let per_attempt = Duration::from_secs(1).min(self.config.timeouts.request);
        for attempt in 0..ATTEMPTS {
            let reply = self
                .http
                .send(
                    RequestKind::Abort,
                    Purpose::Other,
                    &policy,
                    Deadline::after(Some(Duration::from_secs(3))),
                    |_| {
                        Ok(Request {
                            method: Method::POST,
                            path: "/queries/v1/abort-request".into(),
                            query: request_params(Uuid::new_v4()),
                            body: Some(body.clone()),
                            token: Some(token.clone()),
                            timeout: per_attempt,
                        })
                    },
                )
                .await?;
            let env = reply.envelope;
            if env.success {
                return Ok(());
            }
            if env.code() == "000605" {
                if attempt + 1 < ATTEMPTS {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                continue;
            }
            return Err(envelope_error(&env));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(json: &str) -> Envelope {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn classifies_failures() {
        let e = envelope_error(&env(
            r#"{"data":{"errorCode":"002003","sqlState":"42S02"},"code":"002003","message":"002003 (42S02): Catalog Error: Table with name missing does not exist!","success":false}"#,
        ));
        match e {
            Error::Sql {
                code,
                sql_state,
                message,
                ..
            } => {
                assert_eq!((code.as_str(), sql_state.as_str()), ("002003", "42S02"));
                assert!(message.contains("missing"));
            }
            other => panic!("{other:?}"),
        }
        for code in [
            "390100", "390144", "394304", "394400", "390303", "390318", "390104",
        ] {
            let e = envelope_error(&env(&format!(
                r#"{{"code":"{code}","message":"no","success":false}}"#
            )));
            assert_eq!(e.kind(), crate::ErrorKind::Authentication, "{code}");
        }
        let e = envelope_error(&env(r#"{"success":false,"message":"boom"}"#));
        assert_eq!(e.kind(), crate::ErrorKind::Protocol);
    }

    #[test]
    fn secrets_never_reach_error_text() {
        let e = envelope_error(&env(
            r#"{"code":"390100","message":"bad login for \"password\":\"hunter2\" token=\"TOKSECRET\" masterToken: MSECRET","success":false}"#,
        ));
        let text = format!("{e} {e:?}");
        for secret in ["hunter2", "TOKSECRET", "MSECRET"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
}
