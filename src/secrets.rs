//! Secrets come from files, never from settings or tables.
//!
//! `bravo_metrics.snowflake_secret_file` names a file readable by the server's OS user:
//! the password, programmatic access token or OAuth token (surrounding whitespace is
//! trimmed), or the PEM private key. Like PostgreSQL's `ssl_key_file`, the file must
//! not be accessible to group or others when owned by the server user (0600), and may
//! be group-readable (0640) when owned by root. It must be a regular file on disk of at
//! most [`MAX_SECRET_BYTES`]: a FIFO, a device or a `/proc` file (whose size changes
//! while it is read, such as `/proc/self/environ`) is refused, and so is anything
//! larger.
//!
//! Error messages name the setting and the problem, never the file's content, and
//! never its path: messages reach the run log, which roles granted
//! `bravo_schedule_status()` read. The path is put in the DETAIL only when the session
//! user is a superuser (who can read the setting anyway).

use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use bravo_snowflake::Secret;

use crate::error::BravoError;

/// Largest secret file read: a PEM RSA key is about 2-3 KB, a token under 8 KB.
pub const MAX_SECRET_BYTES: u64 = 64 * 1024;

/// Where the file is, for superusers only.
fn where_detail(err: BravoError, path: &str) -> BravoError {
    // SAFETY: catalog lookups of the session user, in a backend with a transaction (secrets
    // are read from SQL functions and sync workers only).
    let superuser = unsafe { pgrx::pg_sys::superuser_arg(pgrx::pg_sys::GetSessionUserId()) };
    if superuser {
        err.detail(format!("The file is \"{path}\"."))
    } else {
        err
    }
}

pub fn read_secret_file(setting: &str, path: &str) -> Result<Secret, BravoError> {
    read_checked(setting, path).map_err(|e| where_detail(e, path))
}

fn read_checked(setting: &str, path: &str) -> Result<Secret, BravoError> {
    let cannot = |e: std::io::Error| {
        BravoError::config(format!("cannot read the {setting} file: {e}")).hint(
            "The file must exist and be readable by the operating-system user running PostgreSQL.",
        )
    };
    // stat first: opening a FIFO would block.
    let meta = fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        return Err(
            BravoError::config(format!("the {setting} file is not a regular file"))
                .hint("Point the setting at a regular file (not a FIFO, device or directory)."),
        );
    }
    let mode = meta.permissions().mode() & 0o777;
    let owned_by_root = meta.uid() == 0;
    let allowed = if owned_by_root { 0o740 } else { 0o700 };
    if mode & !allowed != 0 {
        return Err(BravoError::config(format!(
            "the {setting} file has group or world access (mode {mode:04o})"
        ))
        .hint("chmod 0600 the file (or 0640 if it is owned by root)."));
    }
    if meta.len() > MAX_SECRET_BYTES {
        return Err(BravoError::config(format!(
            "the {setting} file is {} bytes; a secret file may have at most {MAX_SECRET_BYTES}",
            meta.len()
        ))
        .hint("The file must hold only the password, token or PEM private key."));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    fs::File::open(path)
        .map_err(cannot)?
        .take(MAX_SECRET_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 != meta.len() {
        // /proc and /sys files report size 0 (or a page) and produce something else.
        return Err(BravoError::config(format!(
            "the {setting} file is not a regular file on disk (it reported {} bytes and produced {})",
            meta.len(),
            bytes.len()
        ))
        .hint("Point the setting at a regular file on disk, not a /proc or /sys file."));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| BravoError::config(format!("the {setting} file is not UTF-8 text")))?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(BravoError::config(format!("the {setting} file is empty")));
    }
    Ok(Secret::new(trimmed.to_string()))
}
