//! Canned responses and the JSON envelopes Snowflake wraps them in (spec §2).

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

/// How a reply misbehaves on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without sending a response.
    Reset,
    /// Announce the full `Content-Length`, send half the body, then close.
    Truncate,
}

/// One scripted HTTP response.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// Wait this long before answering (a long-poll, a slow server).
    pub delay: Option<Duration>,
    pub fault: Option<Fault>,
}

impl Reply {
    /// HTTP 200 with a JSON body.
    pub fn json(value: Value) -> Self {
        Reply::status(200)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&value).expect("serialisable JSON"))
    }
    /// A status with an empty body.
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Bytes::new(),
            delay: None,
            fault: None,
        }
    }
    /// A status with a plain-text body.
    pub fn text(status: u16, text: &str) -> Self {
        Reply::status(status)
            .header("content-type", "text/plain")
            .body(text.as_bytes().to_vec())
    }
    /// The connection is closed before any response is sent.
    pub fn reset() -> Self {
        Reply {
            fault: Some(Fault::Reset),
            ..Reply::status(200)
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }
    /// Send only half the body (after a correct `Content-Length`), then close.
    pub fn truncated(mut self) -> Self {
        self.fault = Some(Fault::Truncate);
        self
    }
}

/// `{"data":…, "code":null, "message":null, "success":true}`.
pub fn success(data: Value) -> Value {
    json!({"data": data, "code": null, "message": null, "success": true, "headers": null})
}

/// `success:false` with a code and message (login failures, 390112, SQL errors...).
pub fn failure(code: &str, message: &str, data: Value) -> Value {
    json!({"data": data, "code": code, "message": message, "success": false, "headers": null})
}

/// A SQL error as Snowflake sends it: HTTP 200, `data.errorCode`/`sqlState`/`queryId`.
pub fn sql_error(code: &str, sql_state: &str, message: &str) -> Value {
    let data = json!({"errorCode": code, "sqlState": sql_state, "queryId": "01b0-err",
                      "line": -1, "pos": -1, "internalError": false, "age": 0});
    failure(code, message, data)
}

/// `333333` (still running, long-poll) or `333334` (async) for query `query_id`.
pub fn in_progress(code: &str, query_id: &str) -> Value {
    json!({"data": {"queryId": query_id, "getResultUrl": format!("/queries/{query_id}/result"),
                    "queryAbortsAfterSecs": 300, "progressDesc": null},
           "code": code, "message": "Asynchronous execution in progress. Use provided query id to perform query monitoring and management.",
           "success": true, "headers": null})
}

/// `GET /monitoring/queries/{id}` answer with one status (`RUNNING`, `SUCCESS`, `FAILED_WITH_ERROR`...).
pub fn monitoring(query_id: &str, status: &str) -> Value {
    let mut q = json!({"id": query_id, "status": status, "state": status});
    if status == "FAILED_WITH_ERROR" {
        q["errorCode"] = json!("100038");
        q["errorMessage"] = json!("Numeric value 'abc' is not recognized");
    }
    success(json!({"queries": [q]}))
}
