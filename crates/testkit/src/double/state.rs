//! Shared state of one double: recordings, scripts, sessions and chunks.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use serde_json::{json, Value};

use super::record::{Endpoint, Recorded};
use super::reply::{self, Reply};
use super::results::{Chunk, ResultSpec};
use crate::sfarrow::{self, Width};

/// A per-endpoint responder used when no scripted reply is queued.
pub type Handler = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

#[derive(Default)]
pub(crate) struct Sessions {
    pub issued: usize,
    pub session_token: String,
    pub master_token: String,
    pub expired_session: HashSet<String>,
    pub expired_master: HashSet<String>,
    pub logged_out: HashSet<String>,
}

pub(crate) struct ChunkEntry {
    pub spec: Chunk,
    failures_left: AtomicU32,
}

impl ChunkEntry {
    /// True if this request must fail (and counts it).
    pub fn take_failure(&self) -> bool {
        self.failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }
}

pub(crate) struct State {
    pub port: u16,
    requests: Mutex<Vec<Recorded>>,
    recorded: Condvar,
    pub(crate) notify: tokio::sync::Notify,
    queues: Mutex<HashMap<Endpoint, VecDeque<Reply>>>,
    handlers: Mutex<HashMap<Endpoint, Handler>>,
    pub(crate) sessions: Mutex<Sessions>,
    chunks: Mutex<HashMap<String, Arc<ChunkEntry>>>,
    next_chunk: AtomicUsize,
    pub chunks_in_flight: AtomicUsize,
    pub max_chunks_in_flight: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl State {
    pub fn new(port: u16) -> Self {
        State {
            port,
            requests: Mutex::new(Vec::new()),
            recorded: Condvar::new(),
            notify: tokio::sync::Notify::new(),
            queues: Mutex::new(HashMap::new()),
            handlers: Mutex::new(HashMap::new()),
            sessions: Mutex::new(Sessions::default()),
            chunks: Mutex::new(HashMap::new()),
            next_chunk: AtomicUsize::new(0),
            chunks_in_flight: AtomicUsize::new(0),
            max_chunks_in_flight: AtomicUsize::new(0),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn record(&self, make: impl FnOnce(usize) -> Recorded) -> Recorded {
        let mut reqs = lock(&self.requests);
        let r = make(reqs.len());
        reqs.push(r.clone());
        drop(reqs);
        self.recorded.notify_all();
        self.notify.notify_waiters();
        r
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.requests).clone()
    }

    /// Blocks until `pred` holds for the recordings or `timeout` passes.
    pub fn wait_until(
        &self,
        timeout: std::time::Duration,
        pred: impl Fn(&[Recorded]) -> bool,
    ) -> bool {
        let guard = lock(&self.requests);
        let (guard, _) = self
            .recorded
            .wait_timeout_while(guard, timeout, |reqs| !pred(reqs))
            .unwrap_or_else(|e| e.into_inner());
        pred(&guard)
    }

    pub fn push(&self, endpoint: Endpoint, reply: Reply) {
        lock(&self.queues)
            .entry(endpoint)
            .or_default()
            .push_back(reply);
    }

    pub fn set_handler(&self, endpoint: Endpoint, handler: Handler) {
        lock(&self.handlers).insert(endpoint, handler);
    }

    pub fn add_chunk(&self, chunk: Chunk) -> String {
        let n = self.next_chunk.fetch_add(1, Ordering::SeqCst);
        let path = format!("/chunks/{n}");
        let entry = ChunkEntry {
            failures_left: AtomicU32::new(chunk.fail_times),
            spec: chunk,
        };
        lock(&self.chunks).insert(path.clone(), Arc::new(entry));
        format!("{}{path}", self.base_url())
    }

    pub fn chunk(&self, path: &str) -> Option<Arc<ChunkEntry>> {
        lock(&self.chunks).get(path).cloned()
    }

    /// Registers the chunks and returns the success envelope.
    pub fn result(&self, spec: &ResultSpec) -> Value {
        let urls: Vec<String> = spec
            .chunks
            .iter()
            .map(|c| self.add_chunk(c.clone()))
            .collect();
        reply::success(spec.data(&urls))
    }

    /// Session checks, then the queue, then the handler, then the built-in default.
    pub fn reply_for(&self, req: &Recorded) -> Reply {
        if req.endpoint.needs_session() {
            if let Some(r) = self.session_check(req) {
                return r;
            }
        }
        if let Some(r) = lock(&self.queues)
            .get_mut(&req.endpoint)
            .and_then(VecDeque::pop_front)
        {
            return r;
        }
        let handler = lock(&self.handlers).get(&req.endpoint).cloned();
        match handler {
            Some(h) => h(req),
            None => self.default_reply(req),
        }
    }

    fn session_check(&self, req: &Recorded) -> Option<Reply> {
        let token = req.token()?;
        let s = lock(&self.sessions);
        if s.logged_out.contains(token) {
            let body = reply::failure(
                "390104",
                "User must login again to access the service.",
                Value::Null,
            );
            return Some(Reply {
                status: 401,
                ..Reply::json(body)
            });
        }
        if s.expired_session.contains(token) {
            let body = reply::failure(
                "390112",
                "Your session has expired. Please renew your session.",
                Value::Null,
            );
            return Some(Reply::json(body));
        }
        None
    }

    /// Issues a fresh session token (and master token if `new_master`).
    pub fn issue(&self, new_master: bool) -> (String, String, usize) {
        let mut s = lock(&self.sessions);
        s.issued += 1;
        let n = s.issued;
        s.session_token = format!("session-token-{n}");
        if new_master || s.master_token.is_empty() {
            s.master_token = format!("master-token-{n}");
        }
        (s.session_token.clone(), s.master_token.clone(), n)
    }

    fn default_reply(&self, req: &Recorded) -> Reply {
        match req.endpoint {
            Endpoint::Login => {
                let (token, master, n) = self.issue(true);
                Reply::json(reply::success(json!({
                    "token": token, "validityInSeconds": 3600,
                    "masterToken": master, "masterValidityInSeconds": 14400,
                    "sessionId": n, "serverVersion": "9.0.0",
                    "parameters": [{"name": "TIMEZONE", "value": "UTC"}],
                    "sessionInfo": {"databaseName": "DB", "schemaName": "PUBLIC",
                                    "warehouseName": "WH", "roleName": "ROLE"},
                })))
            }
            Endpoint::TokenRequest => self.renew(req),
            Endpoint::QueryRequest | Endpoint::QueryResult => {
                Reply::json(self.result(&default_result()))
            }
            Endpoint::Monitoring => {
                let id = req.path_segment(2).unwrap_or_default().to_string();
                Reply::json(reply::monitoring(&id, "SUCCESS"))
            }
            Endpoint::Abort | Endpoint::Heartbeat => Reply::json(reply::success(Value::Null)),
            Endpoint::Logout => {
                if let Some(t) = req.token() {
                    lock(&self.sessions).logged_out.insert(t.to_string());
                }
                Reply::json(reply::success(Value::Null))
            }
            Endpoint::Chunk | Endpoint::Other => Reply::text(404, "not found"),
        }
    }

    fn renew(&self, req: &Recorded) -> Reply {
        let master = req.token().unwrap_or_default().to_string();
        {
            let s = lock(&self.sessions);
            if s.expired_master.contains(&master) {
                let body = reply::failure(
                    "390114",
                    "Authentication token has expired.  The user must authenticate again.",
                    Value::Null,
                );
                return Reply::json(body);
            }
            if master != s.master_token {
                return Reply::json(reply::failure(
                    "390113",
                    "Master token invalid",
                    Value::Null,
                ));
            }
        }
        let (token, master, n) = self.issue(false);
        Reply::json(reply::success(json!({
            "sessionToken": token, "validityInSecondsST": 3600,
            "masterToken": master, "validityInSecondsMT": 14400, "sessionId": n,
        })))
    }
}

/// `SELECT 1 AS "ONE"`: one FIXED column, one inline row.
pub(crate) fn default_result() -> ResultSpec {
    let cols = [sfarrow::fixed("ONE", Width::I8, 0, &[Some(1)])];
    ResultSpec::arrow(&cols).inline(&cols)
}
