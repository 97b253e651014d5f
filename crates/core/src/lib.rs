//! bravo_core: the pure logic of bravo_metrics, with no PostgreSQL and no pgrx.
//!
//! * [`target`]   — a metric family as data (its table, source, metric columns and
//!   kinds, read from the extension's catalog), and the catalog the extension ships.
//! * [`grain`]    — a family's time grain (day or hour) and its key as a slot number:
//!   days, or minutes since 2000-01-01 UTC; Snowflake timestamps read in a zone.
//! * [`validate`] — reading a source row, validation, duplicate detection, set-aside
//!   reasons.
//! * [`source`]   — relation names, column checks and the queries sent to Snowflake.
//! * [`key`]      — the media buy key's type (integer, text, uuid) and its order.
//! * [`order`]    — the key order both streams of a sync are sorted in.
//! * [`changes`]  — the intraday refresh's high-water mark on a source change column.
//! * [`compare`]  — the sorted-stream comparison at the heart of the merge: source
//!   outcomes × target rows → insert / update / unchanged / vanished / set aside.
//! * [`schedule`] — cron expressions, time zones and the scheduler's decisions.
//! * [`run`]      — typed run records: a run's status and trigger.
//! * [`notify`]   — the JSON a finished run sends to `LISTEN bravo_metrics`.
//! * [`export`]   — the complete export's formats: CSV, MongoDB Extended JSON and the
//!   `.tar` archive with its manifest.
//! * [`error`]    — an error carrying a SQLSTATE, message, DETAIL and HINT, mapped to
//!   a PostgreSQL error by the extension crate.
//!
//! The extension crate (the workspace root) keeps only the PostgreSQL side: SPI
//! cursors and writes, setting registration, background workers and the SQL.

#![forbid(unsafe_code)]

pub mod changes;
pub mod compare;
pub mod error;
pub mod export;
pub mod grain;
pub mod key;
pub mod notify;
pub mod order;
pub mod run;
pub mod schedule;
pub mod source;
pub mod target;
pub mod validate;

pub use error::{CoreError, SqlState};
pub use key::{BuyId, KeyType};
pub use order::KeyOrder;
pub use run::{RunStatus, Trigger};
