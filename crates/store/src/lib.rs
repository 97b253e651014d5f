//! bravo_store: where the complete export goes, with no PostgreSQL and no pgrx.
//!
//! * [`destination`] — `s3://bucket/prefix` or `file:///dir` as the user writes it,
//!   checked (a bucket's name, a directory under the allowed one).
//! * [`credentials`] — S3 credentials from a file in the AWS shared-credentials
//!   format, never printed.
//! * [`pipeline`]    — the archive's bytes → gzip → S3 multipart upload (or a local
//!   file renamed into place), on threads of its own; aborted on any error or cancel.
//! * [`s3`]          — the S3 client (object_store) and presigned download URLs.
//!
//! The extension's backend thread only writes plain bytes into the pipeline and
//! waits for its result; nothing here touches PostgreSQL.

pub mod credentials;
pub mod destination;
pub mod pgzip;
pub mod pipeline;
pub mod s3;

pub use credentials::Credentials;
pub use destination::Destination;
pub use pipeline::{Pipeline, Summary};
