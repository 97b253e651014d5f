//! An in-process Snowflake test double on `127.0.0.1:0`.
//!
//! It runs on its own tokio runtime thread, so it works from sync and async tests alike,
//! and it **records** every request ([`Recorded`]). Each request is answered by, in order:
//!
//! 1. the session check: a token marked expired ([`Double::expire_session_token`]) gets
//!    `390112`, a logged-out one HTTP 401 `390104`;
//! 2. the next scripted [`Reply`] queued for that [`Endpoint`] ([`Double::push`]);
//! 3. a handler installed with [`Double::set_handler`];
//! 4. the built-in default: login issues `session-token-N`/`master-token-N`, token-request
//!    renews (or `390114` if the master token was expired), queries return `SELECT 1`,
//!    monitoring says `SUCCESS`, abort/logout/heartbeat succeed.
//!
//! Chunks registered through [`Double::result`] or [`Double::add_chunk`] are served at
//! `/chunks/N`, counting concurrent downloads ([`Double::max_chunks_in_flight`]).

mod record;
pub mod reply;
mod results;
mod server;
mod state;

use std::net::TcpListener as StdListener;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

pub use record::{Endpoint, Recorded};
pub use reply::{Fault, Reply};
pub use results::{gzip, Chunk, ChunkEncoding, LazyBody, ResultSpec};
pub use state::Handler;

use state::State;

/// A running double. Stops (and joins its thread) on drop.
pub struct Double {
    state: Arc<State>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Double {
    /// Starts a double on a free loopback port.
    pub fn start() -> Double {
        let listener = StdListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        Double::start_on(listener)
    }

    /// Starts a double on a given port (0 = any).
    pub fn start_on_port(port: u16) -> std::io::Result<Double> {
        Ok(Double::start_on(StdListener::bind(("127.0.0.1", port))?))
    }

    fn start_on(listener: StdListener) -> Double {
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let port = listener.local_addr().expect("local addr").port();
        let state = Arc::new(State::new(port));
        let (tx, rx) = oneshot::channel();
        let st = state.clone();
        let thread = std::thread::Builder::new()
            .name(format!("sf-double-{port}"))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("double runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    server::serve(st, listener, rx).await;
                });
                rt.shutdown_background();
            })
            .expect("spawn double thread");
        Double {
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.state.port
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        self.state.base_url()
    }

    /// Queues a scripted reply for the next request to `endpoint`.
    pub fn push(&self, endpoint: Endpoint, reply: Reply) {
        self.state.push(endpoint, reply);
    }

    /// Queues an HTTP 200 JSON reply.
    pub fn push_json(&self, endpoint: Endpoint, body: Value) {
        self.push(endpoint, Reply::json(body));
    }

    /// Answers `endpoint` with `handler` whenever its queue is empty.
    pub fn set_handler(
        &self,
        endpoint: Endpoint,
        handler: impl Fn(&Recorded) -> Reply + Send + Sync + 'static,
    ) {
        self.state.set_handler(endpoint, Arc::new(handler));
    }

    /// Registers `spec`'s chunks and returns its success envelope, ready for [`Double::push_json`].
    pub fn result(&self, spec: &ResultSpec) -> Value {
        self.state.result(spec)
    }

    /// Serves one chunk and returns its absolute URL.
    pub fn add_chunk(&self, chunk: Chunk) -> String {
        self.state.add_chunk(chunk)
    }

    /// A query that never finishes: query-request and every result GET answer `333333`
    /// after `hold` (the server-side long-poll time).
    pub fn long_running(&self, query_id: &str, hold: Duration) {
        let body = reply::in_progress("333333", query_id);
        let b = body.clone();
        self.set_handler(Endpoint::QueryRequest, move |_| {
            Reply::json(b.clone()).delay(hold)
        });
        self.set_handler(Endpoint::QueryResult, move |_| {
            Reply::json(body.clone()).delay(hold)
        });
    }

    /// Every recorded request, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests()
    }

    /// Recorded requests to one endpoint.
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.endpoint == endpoint)
            .collect()
    }

    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.requests_to(endpoint).len()
    }

    /// Blocks (at most `timeout`) until `pred` holds over the recordings; returns whether it does.
    pub fn wait_until(&self, timeout: Duration, pred: impl Fn(&[Recorded]) -> bool) -> bool {
        self.state.wait_until(timeout, pred)
    }

    /// Blocks until at least `n` requests reached `endpoint` (at most `timeout`).
    pub fn wait_for(&self, endpoint: Endpoint, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, |rs| {
            rs.iter().filter(|r| r.endpoint == endpoint).count() >= n
        })
    }

    /// Async version of [`Double::wait_until`] (does not block the caller's runtime).
    pub async fn wait_until_async(
        &self,
        timeout: Duration,
        pred: impl Fn(&[Recorded]) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if pred(&self.requests()) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return pred(&self.requests());
            }
        }
    }

    /// Async version of [`Double::wait_for`].
    pub async fn wait_for_async(&self, endpoint: Endpoint, n: usize, timeout: Duration) -> bool {
        self.wait_until_async(timeout, |rs| {
            rs.iter().filter(|r| r.endpoint == endpoint).count() >= n
        })
        .await
    }

    /// From now on, the current session token gets `390112` until renewed.
    pub fn expire_session_token(&self) {
        let mut s = self
            .state
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let t = s.session_token.clone();
        s.expired_session.insert(t);
    }

    /// From now on, token-request with the current master token gets `390114`.
    pub fn expire_master_token(&self) {
        let mut s = self
            .state
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let t = s.master_token.clone();
        s.expired_master.insert(t);
    }

    /// The session token most recently issued by login or renewal.
    pub fn session_token(&self) -> String {
        self.state
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .session_token
            .clone()
    }

    pub fn master_token(&self) -> String {
        self.state
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .master_token
            .clone()
    }

    /// Most chunk downloads observed in flight at once.
    pub fn max_chunks_in_flight(&self) -> usize {
        self.state.max_chunks_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
