//! Test support for bravo_metrics.
//!
//! * [`fakesnow::Fakesnow`] starts the real fakesnow server (plan A tests) and seeds it over HTTP.
//! * [`double::Double`] is an in-process, scripted, recording Snowflake test double (plan B).
//! * [`sfarrow`] builds Arrow IPC streams in Snowflake's result format.
//! * [`moto::Moto`] starts the real moto S3 server for the export's tests; [`s3s::S3sFs`]
//!   the real s3s-fs server, which checks signatures and presigned URLs.
//! * [`jwt`] verifies key-pair login JWTs and makes throwaway RSA keys.
//! * [`synthetic::SyntheticSource`] is a fast local "Snowflake" serving generated ad metrics
//!   (also as the `sfdouble` binary) for benchmarks and end-to-end tests.

pub mod double;
pub mod fakesnow;
pub mod jwt;
pub mod moto;
pub mod s3s;
pub mod sfarrow;
pub mod synthetic;
