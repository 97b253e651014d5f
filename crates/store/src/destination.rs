//! An export's destination as the user writes it:
//!
//! * `s3://bucket` or `s3://bucket/prefix/` — an S3 (or S3-compatible) bucket;
//! * `file:///absolute/dir` — a directory of the database server, which must lie
//!   under the allowed directory (`bravo_metrics.export_allowed_directory`, a
//!   superuser setting; empty allows none). Symbolic links and `..` are resolved
//!   before the check.

use std::path::{Path, PathBuf};

use bravo_core::{CoreError, SqlState};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    S3 {
        bucket: String,
        /// Empty, or ends with `/`.
        prefix: String,
    },
    Dir {
        /// Canonical (symbolic links resolved).
        path: PathBuf,
    },
}

fn bad(message: String) -> CoreError {
    CoreError::new(SqlState::InvalidParameterValue, message).hint(
        "Pass s3://bucket/prefix/ or file:///absolute/directory (under bravo_metrics.export_allowed_directory).",
    )
}

impl Destination {
    /// Parses and checks `text`; `allowed_dir` is the allowed directory for `file://`
    /// (None or empty: none is allowed).
    pub fn parse(text: &str, allowed_dir: Option<&str>) -> Result<Destination, CoreError> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let valid_bucket = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
                })
                && bucket.as_bytes()[0].is_ascii_alphanumeric()
                && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric();
            if !valid_bucket {
                return Err(bad(format!("\"{bucket}\" is not a valid S3 bucket name")));
            }
            if prefix.split('/').any(|p| p == "." || p == "..")
                || prefix.contains("//")
                || prefix.chars().any(char::is_control)
            {
                return Err(bad(format!("\"{prefix}\" is not a valid S3 key prefix")));
            }
            let mut prefix = prefix.to_string();
            if !prefix.is_empty() && !prefix.ends_with('/') {
                prefix.push('/');
            }
            return Ok(Destination::S3 {
                bucket: bucket.to_string(),
                prefix,
            });
        }
        if let Some(path) = text.strip_prefix("file://") {
            let allowed = allowed_dir.map(str::trim).filter(|d| !d.is_empty()).ok_or_else(|| {
                CoreError::new(
                    SqlState::InsufficientPrivilege,
                    "file:// export destinations are not allowed",
                )
                .hint("A superuser sets bravo_metrics.export_allowed_directory (ALTER SYSTEM) to a directory the server may write exports under.")
            })?;
            if !path.starts_with('/') {
                return Err(bad(format!("\"{text}\" is not an absolute file:// path")));
            }
            let canonical = |p: &Path| {
                std::fs::canonicalize(p).map_err(|e| {
                    CoreError::new(SqlState::IoError, format!("cannot use directory {}: {e}", p.display()))
                        .hint("The directory must exist and be writable by the operating-system user running PostgreSQL.")
                })
            };
            let root = canonical(Path::new(allowed))?;
            let dir = canonical(Path::new(path))?;
            if !dir.starts_with(&root) {
                return Err(CoreError::new(
                    SqlState::InsufficientPrivilege,
                    format!(
                        "{} is not under bravo_metrics.export_allowed_directory",
                        dir.display()
                    ),
                )
                .hint("Export under the allowed directory, or ask a superuser to change it."));
            }
            if !dir.is_dir() {
                return Err(bad(format!("{} is not a directory", dir.display())));
            }
            return Ok(Destination::Dir { path: dir });
        }
        Err(bad(format!("\"{text}\" is not an export destination")))
    }

    /// The destination as text, for the run log.
    pub fn display(&self) -> String {
        match self {
            Destination::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
            Destination::Dir { path } => format!("file://{}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_destinations() {
        assert_eq!(
            Destination::parse("s3://media-exports/daily", None).unwrap(),
            Destination::S3 {
                bucket: "media-exports".into(),
                prefix: "daily/".into()
            }
        );
        assert_eq!(
            Destination::parse("s3://media-exports", None).unwrap(),
            Destination::S3 {
                bucket: "media-exports".into(),
                prefix: "".into()
            }
        );
        for bad in [
            "s3://AB",
            "s3://x",
            "s3://b_b_b",
            "s3://bucket/../x",
            "s3://bucket/a//b",
            "ftp://x",
            "",
        ] {
            let e = Destination::parse(bad, None).unwrap_err();
            assert_eq!(e.state, SqlState::InvalidParameterValue, "{bad}");
            assert!(e.hint.is_some());
        }
    }

    #[test]
    fn directories_must_be_under_the_allowed_one() {
        let root = std::env::temp_dir().join(format!("bravo-dest-{}", std::process::id()));
        let inside = root.join("allowed/exports");
        let outside = root.join("other");
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("allowed/link")).unwrap();
        let allowed = root.join("allowed");
        let allowed = allowed.to_str();
        let ok = Destination::parse(&format!("file://{}", inside.display()), allowed).unwrap();
        assert!(matches!(ok, Destination::Dir { .. }));
        for (dest, state) in [
            (
                format!("file://{}", outside.display()),
                SqlState::InsufficientPrivilege,
            ),
            (
                format!("file://{}/allowed/../other", root.display()),
                SqlState::InsufficientPrivilege,
            ),
            (
                format!("file://{}/allowed/link", root.display()),
                SqlState::InsufficientPrivilege,
            ),
            (
                format!("file://{}/allowed/missing", root.display()),
                SqlState::IoError,
            ),
        ] {
            assert_eq!(
                Destination::parse(&dest, allowed).unwrap_err().state,
                state,
                "{dest}"
            );
        }
        let e = Destination::parse(&format!("file://{}", inside.display()), None).unwrap_err();
        assert_eq!(e.state, SqlState::InsufficientPrivilege);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
