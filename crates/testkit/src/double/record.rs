//! What the double saw: every request, in arrival order.

use std::time::Instant;

use serde_json::Value;

/// Which Snowflake endpoint a request went to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /session/v1/login-request`
    Login,
    /// `POST /session/token-request`
    TokenRequest,
    /// `POST /queries/v1/query-request`
    QueryRequest,
    /// `GET /queries/{id}/result`
    QueryResult,
    /// `GET /monitoring/queries/{id}`
    Monitoring,
    /// `POST /queries/v1/abort-request` (or `/queries/{id}/abort-request`)
    Abort,
    /// `POST /session?delete=true`
    Logout,
    /// `POST /session/heartbeat`
    Heartbeat,
    /// `GET /chunks/...` (served by the double itself)
    Chunk,
    Other,
}

impl Endpoint {
    pub(crate) fn classify(method: &str, path: &str, query: &str) -> Endpoint {
        let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segs.as_slice()) {
            ("POST", ["session", "v1", "login-request"]) => Endpoint::Login,
            ("POST", ["session", "token-request"]) => Endpoint::TokenRequest,
            ("POST", ["session", "heartbeat"]) => Endpoint::Heartbeat,
            ("POST", ["session"]) if query.contains("delete=") => Endpoint::Logout,
            ("POST", ["queries", "v1", "query-request"]) => Endpoint::QueryRequest,
            ("POST", ["queries", "v1", "abort-request"])
            | ("POST", ["queries", _, "abort-request"]) => Endpoint::Abort,
            ("GET", ["queries", _, "result"]) => Endpoint::QueryResult,
            ("GET", ["monitoring", "queries", _]) => Endpoint::Monitoring,
            ("GET", ["chunks", ..]) => Endpoint::Chunk,
            _ => Endpoint::Other,
        }
    }

    /// Endpoints that need a valid session token.
    pub(crate) fn needs_session(self) -> bool {
        matches!(
            self,
            Endpoint::QueryRequest
                | Endpoint::QueryResult
                | Endpoint::Monitoring
                | Endpoint::Heartbeat
        )
    }
}

/// One request as received (body already gunzipped if it was sent gzip-encoded).
#[derive(Clone, Debug)]
pub struct Recorded {
    /// 0, 1, 2... in arrival order.
    pub seq: usize,
    pub endpoint: Endpoint,
    pub method: String,
    pub path: String,
    /// Raw query string (without `?`).
    pub query: String,
    /// Header names lowercase, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    /// First value of a URL query parameter, percent-decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
    /// All URL query parameters, percent-decoded.
    pub fn params(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(self.query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
    /// A header value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
    /// The token of `Authorization: Snowflake Token="…"`, if the header has that exact form.
    pub fn token(&self) -> Option<&str> {
        self.header("authorization")?
            .strip_prefix("Snowflake Token=\"")?
            .strip_suffix('"')
    }
    /// The body parsed as JSON (`Value::Null` when empty or not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    /// `body.data` of a login request.
    pub fn login_data(&self) -> Value {
        self.json()["data"].clone()
    }
    /// The `{id}` in `/queries/{id}/result`, `/monitoring/queries/{id}`...
    pub fn path_segment(&self, index: usize) -> Option<&str> {
        self.path.trim_matches('/').split('/').nth(index)
    }
}
