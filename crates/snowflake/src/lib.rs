//! A Snowflake connector-protocol client with no PostgreSQL types in it.
//!
//! What the client implements of Snowflake's connector REST protocol is summarised in
//! this crate's `README.md`. The public surface below is the contract the extension
//! (`src/sync/`) builds against:
//!
//! * [`Config`] / [`Auth`] / [`Secret`] describe where and how to connect.
//! * [`Client::connect`] logs in; [`Client::query`] runs one statement and returns a
//!   [`ResultStream`] that the caller pulls batch by batch ([`ResultStream::next_batch`]),
//!   so memory stays bounded whatever the result size.
//! * Dropping any future stops its in-flight requests; [`Client::abort`] aborts the
//!   server-side query and [`Client::logout`] ends the session (both best effort).
//! * Every failure is an [`Error`] with a [`ErrorKind`]; no error text ever contains
//!   a secret.
//! * Retries are bounded per request ([`RetryPolicy::max_retries`]) and per session
//!   ([`RetryPolicy::budget`]); each one can be observed as a [`RetryEvent`] through
//!   [`Config::retry_events`] (the client logs nothing itself).

pub mod auth;
pub mod binding;
mod client;
pub mod config;
pub mod endpoint;
pub mod error;
mod http;
mod query;
pub mod redact;
pub mod result;
mod retry;
mod session;
pub mod types;
mod wire;

pub use auth::jwt::{jwt_fingerprint, KeyPair};
pub use client::{Client, ResultStream};
pub use config::{
    Auth, Config, RetryPolicy, Secret, Timeouts, DEFAULT_APPLICATION, DEFAULT_CLIENT_APP_ID,
    DEFAULT_CLIENT_APP_VERSION,
};
pub use endpoint::endpoint_url;
pub use error::{Error, ErrorKind};
pub use redact::redact;
pub use retry::{RequestKind, RetryEvent};
pub use types::{Batch, Binding, Column, ColumnMeta, Query};
