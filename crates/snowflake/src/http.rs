//! One HTTP exchange with Snowflake plus the retry loop around it (spec §2, §9).
//!
//! The status is checked before the body is parsed; the body is parsed as the JSON
//! envelope. Retryable failures (transport errors, 408/429/5xx, truncated bodies) are
//! retried with decorrelated jitter within the retry count, the session's retry budget
//! and the deadline, and each retry is reported to [`crate::Config::retry_events`].

use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};

use crate::config::{Config, RetryPolicy, Secret};
use crate::error::Error;
use crate::redact::redact;
use crate::retry::{parse_retry_after, Deadline, RequestKind, Retrier, RetryBudget, RetryEvent};
use crate::wire::Envelope;

/// The shared HTTP client and base URL, with the session's retry budget and event sink.
#[derive(Clone)]
pub(crate) struct Http {
    pub client: reqwest::Client,
    pub base: String,
    pub budget: Arc<RetryBudget>,
    pub events: Option<Sender<RetryEvent>>,
}

/// What a retried request is, for retry behaviour and messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// 401/403 are authentication failures.
    Login,
    /// Adds `retryCount`/`retryReason`/`clientStartTime` on retries.
    Query,
    /// Anything else.
    Other,
}

/// Information for building attempt `n` of one logical request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AttemptInfo {
    /// 0 for the first attempt.
    pub retry_count: u32,
    /// HTTP status of the previous attempt, 0 for a transport failure or timeout.
    pub retry_reason: u16,
    /// ms since the epoch of the first attempt.
    pub client_start_ms: i64,
}

/// One request to send.
pub(crate) struct Request {
    pub method: Method,
    /// A path below the base URL (starting with `/`), or an absolute URL.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub token: Option<Secret>,
    pub timeout: Duration,
}

/// A parsed answer (2xx, or a non-retryable 4xx with a JSON body).
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub envelope: Envelope,
}

/// Why one attempt failed.
enum Failure {
    /// Worth another attempt.
    Retryable {
        reason: u16,
        retry_after: Option<Duration>,
        message: String,
    },
    /// Final.
    Fatal(Error),
}

impl Http {
    pub(crate) fn new(config: &Config, base: String) -> Result<Self, Error> {
        let header = |name: &str, value: &str| {
            HeaderValue::from_str(value).map_err(|_| {
                Error::Config(format!("{name} {value:?} is not a valid HTTP header value"))
            })
        };
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(ACCEPT, HeaderValue::from_static("application/snowflake"));
        // As gosnowflake's getHeaders: the client identity on every request (header
        // names are case-insensitive; HTTP/1.1 sends them lowercase).
        headers.insert(
            "client_app_id",
            header("client_app_id", &config.client_app_id)?,
        );
        headers.insert(
            "client_app_version",
            header("client_app_version", &config.client_app_version)?,
        );
        let user_agent = format!(
            "{}/{} ({}-{}) bravo_snowflake/{}",
            config.client_app_id,
            config.client_app_version,
            std::env::consts::OS,
            std::env::consts::ARCH,
            env!("CARGO_PKG_VERSION"),
        );
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(header("User-Agent", &user_agent)?)
            .connect_timeout(config.timeouts.connect)
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| {
                Error::Config(format!("cannot build the HTTP client: {}", error_chain(&e)))
            })?;
        Ok(Http {
            client,
            base,
            budget: Arc::new(RetryBudget::new(config.retry.budget)),
            events: config.retry_events.clone(),
        })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else if path.starts_with('/') {
            format!("{}{}", self.base, path)
        } else {
            format!("{}/{}", self.base, path)
        }
    }

    /// One attempt, no retries.
    async fn attempt(&self, req: Request, purpose: Purpose) -> Result<Reply, Failure> {
        let mut url = reqwest::Url::parse(&self.url(&req.path))
            .map_err(|e| Failure::Fatal(Error::Protocol(format!("invalid request URL: {e}"))))?;
        if !req.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&req.query);
        }
        let mut builder = self.client.request(req.method, url).timeout(req.timeout);
        if let Some(token) = &req.token {
            let value = HeaderValue::from_str(&format!("Snowflake Token=\"{}\"", token.expose()))
                .map_err(|_| {
                Failure::Fatal(Error::Protocol(
                    "session token is not a valid header value".into(),
                ))
            })?;
            let mut value = value;
            value.set_sensitive(true);
            builder = builder.header(AUTHORIZATION, value);
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let response = builder.send().await.map_err(transport_failure)?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = response.bytes().await.map_err(transport_failure)?;
        classify(status, retry_after, &body, purpose)
    }

    /// Sends a request built by `build` (called again for every attempt), retrying per
    /// `policy` within the session's retry budget and `deadline`. `request` names the
    /// request in errors and retry events.
    pub(crate) async fn send<F>(
        &self,
        request: RequestKind,
        purpose: Purpose,
        policy: &RetryPolicy,
        deadline: Deadline,
        mut build: F,
    ) -> Result<Reply, Error>
    where
        F: FnMut(AttemptInfo) -> Result<Request, Error>,
    {
        let mut retrier = Retrier::new(request, policy, &self.budget, self.events.as_ref());
        let mut info = AttemptInfo {
            retry_count: 0,
            retry_reason: 0,
            client_start_ms: chrono::Utc::now().timestamp_millis(),
        };
        loop {
            if deadline.expired() {
                return Err(Error::Timeout(format!("{request}: deadline reached")));
            }
            let mut req = build(info)?;
            req.timeout = deadline.clamp(req.timeout);
            match self.attempt(req, purpose).await {
                Ok(reply) => return Ok(reply),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retryable {
                    reason,
                    retry_after,
                    message,
                }) => {
                    let sleep = retrier.after_failure(&message, retry_after, &deadline)?;
                    tokio::time::sleep(sleep).await;
                    info.retry_count += 1;
                    info.retry_reason = reason;
                }
            }
        }
    }
}

/// The error text of `e` and its sources, without URLs, redacted.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    redact(&text)
}

fn transport_failure(e: reqwest::Error) -> Failure {
    let e = e.without_url();
    if e.is_builder() {
        return Failure::Fatal(Error::Config(format!(
            "invalid request: {}",
            error_chain(&e)
        )));
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    Failure::Retryable {
        reason: 0,
        retry_after: None,
        message: format!("{kind}: {}", error_chain(&e)),
    }
}

fn body_excerpt(body: &[u8]) -> String {
    let end = body.len().min(2000);
    redact(String::from_utf8_lossy(&body[..end]).trim())
}

fn parse_envelope(body: &[u8]) -> Result<Envelope, serde_json::Error> {
    serde_json::from_slice::<Envelope>(body)
}

/// Status first, then the body.
fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
    purpose: Purpose,
) -> Result<Reply, Failure> {
    let code = status.as_u16();
    if status.is_success() {
        return match parse_envelope(body) {
            Ok(envelope) => Ok(Reply {
                status: code,
                envelope,
            }),
            Err(e) if e.is_eof() => Failure::retry(
                0,
                None,
                format!("truncated response body ({} bytes)", body.len()),
            ),
            Err(e) => Err(Failure::Fatal(Error::Protocol(format!(
                "HTTP {code} with a body that is not a Snowflake JSON envelope ({e}): {}",
                body_excerpt(body)
            )))),
        };
    }
    let envelope = parse_envelope(body).ok();
    let describe = || match &envelope {
        Some(env) => format!(
            "HTTP {code} ({}): {}",
            env.code(),
            redact(env.message.as_deref().unwrap_or(""))
        ),
        None => format!("HTTP {code}: {}", body_excerpt(body)),
    };
    if code == 408 || code == 429 || status.is_server_error() {
        return Failure::retry(code, retry_after, describe());
    }
    if purpose == Purpose::Login && (code == 401 || code == 403) {
        return Err(Failure::Fatal(Error::Authentication {
            code: envelope
                .as_ref()
                .and_then(|e| e.code.clone())
                .unwrap_or_else(|| code.to_string()),
            message: format!(
                "login refused ({}); check the account, host and credentials",
                describe()
            ),
        }));
    }
    match envelope {
        // A JSON envelope with a Snowflake code: let the caller classify it
        // (e.g. 401 with 390104 "session gone", 390112 "token expired").
        Some(env) if env.code.is_some() || env.message.is_some() => Ok(Reply {
            status: code,
            envelope: env,
        }),
        _ => Err(Failure::Fatal(if code == 401 || code == 403 {
            Error::Authentication {
                code: code.to_string(),
                message: describe(),
            }
        } else {
            Error::Protocol(describe())
        })),
    }
}

impl Failure {
    fn retry(
        reason: u16,
        retry_after: Option<Duration>,
        message: String,
    ) -> Result<Reply, Failure> {
        Err(Failure::Retryable {
            reason,
            retry_after,
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_retry(r: &Result<Reply, Failure>) -> bool {
        matches!(r, Err(Failure::Retryable { .. }))
    }

    #[test]
    fn status_before_body() {
        let ok = classify(StatusCode::OK, None, br#"{"success":false,"code":"390100","message":"Incorrect username or password was specified."}"#, Purpose::Login);
        let reply = ok.ok().unwrap();
        assert_eq!(reply.envelope.code(), "390100");
        assert!(is_retry(&classify(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            b"<html>",
            Purpose::Login
        )));
        assert!(is_retry(&classify(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            b"",
            Purpose::Query
        )));
        assert!(is_retry(&classify(
            StatusCode::REQUEST_TIMEOUT,
            None,
            b"",
            Purpose::Query
        )));
        assert!(is_retry(&classify(
            StatusCode::OK,
            None,
            br#"{"success":tr"#,
            Purpose::Query
        )));
        match classify(StatusCode::FORBIDDEN, None, b"denied", Purpose::Login) {
            Err(Failure::Fatal(e)) => assert_eq!(e.kind(), crate::ErrorKind::Authentication),
            _ => panic!("403 on login must be a fatal auth error"),
        }
        match classify(StatusCode::NOT_FOUND, None, b"Not Found", Purpose::Other) {
            Err(Failure::Fatal(e)) => assert_eq!(e.kind(), crate::ErrorKind::Protocol),
            _ => panic!("404 is fatal"),
        }
        match classify(StatusCode::OK, None, b"<html>hello</html>", Purpose::Other) {
            Err(Failure::Fatal(e)) => assert_eq!(e.kind(), crate::ErrorKind::Protocol),
            _ => panic!("non-JSON 200 is a protocol error"),
        }
        let r = classify(StatusCode::UNAUTHORIZED, None, br#"{"data":null,"code":"390104","message":"User must login again to access the service.","success":false}"#, Purpose::Query);
        assert_eq!(r.ok().unwrap().envelope.code(), "390104");
    }

    #[test]
    fn error_bodies_are_redacted() {
        match classify(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            br#"{"token":"SESSIONSECRET","message":"boom"}"#,
            Purpose::Query,
        ) {
            Err(Failure::Retryable { message, .. }) => {
                assert!(!message.contains("SESSIONSECRET"), "{message}");
            }
            _ => panic!("500 is retryable"),
        }
        match classify(
            StatusCode::OK,
            None,
            br#"<x> "masterToken": "MASTERSECRET""#,
            Purpose::Other,
        ) {
            Err(Failure::Fatal(e)) => assert!(!e.to_string().contains("MASTERSECRET"), "{e}"),
            _ => panic!(),
        }
    }
}
