//! The public client: a cheaply clonable handle to one Snowflake session.

use std::sync::Arc;

use uuid::Uuid;

use crate::config::Config;
use crate::endpoint::endpoint_url;
use crate::error::Error;
use crate::session::Session;
use crate::types::Query;

pub use crate::result::ResultStream;

/// A logged-in Snowflake session. `Clone` shares the session (an `Arc` inside).
#[derive(Clone)]
pub struct Client {
    inner: Arc<Session>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.http.base)
            .field("account", &self.inner.config.account)
            .field("user", &self.inner.config.user)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Validates `config`, derives the endpoint and logs in.
    pub async fn connect(config: Config) -> Result<Client, Error> {
        let base = endpoint_url(&config)?;
        if config.user.trim().is_empty() {
            return Err(Error::Config("user is required".into()));
        }
        let session = Session::new(config, base)?;
        session
            .login()
            .await
            .map_err(|e| e.scrub(&session.known_secrets()))?;
        Ok(Client {
            inner: Arc::new(session),
        })
    }

    /// Runs one statement. Dropping the future stops its HTTP request; then call
    /// [`Client::abort`] with `query.request_id` to stop it on the server.
    pub async fn query(&self, query: Query) -> Result<ResultStream, Error> {
        crate::query::run(&self.inner, query)
            .await
            .map_err(|e| e.scrub(&self.inner.known_secrets()))
    }

    /// Aborts the server-side query submitted with `request_id` (best effort, short
    /// timeouts).
    pub async fn abort(&self, request_id: Uuid) -> Result<(), Error> {
        self.inner
            .abort(request_id)
            .await
            .map_err(|e| e.scrub(&self.inner.known_secrets()))
    }

    /// Ends the session: best effort, `timeouts.logout` (5 s), no retries, errors ignored.
    pub async fn logout(&self) {
        self.inner.logout().await
    }

    /// `{protocol}://{host}:{port}`.
    pub fn base_url(&self) -> &str {
        &self.inner.http.base
    }

    /// The `sessionId` from login, if the server sent one.
    pub fn session_id(&self) -> Option<i64> {
        self.inner.session_id()
    }

    /// The `serverVersion` from login, if the server sent one.
    pub fn server_version(&self) -> Option<String> {
        self.inner.server_version()
    }

    /// `(renewals, logins)` performed by this session so far (for diagnostics and tests).
    pub fn token_counters(&self) -> (u64, u64) {
        self.inner.counters()
    }
}
