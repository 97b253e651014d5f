//! Secrets come from files, never from settings or tables.
//!
//! `bravo_metrics.snowflake_secret_file` names a file readable by the server's OS user:
//! the password, programmatic access token or OAuth token (surrounding whitespace is
//! trimmed), or the PKCS#8 PEM private key. Like PostgreSQL's `ssl_key_file`, the file
//! must not be accessible to group or others when owned by the server user (0600), and
//! may be group-readable (0640) when owned by root. Error messages name the file and
//! the problem, never its content.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use bravo_snowflake::Secret;

use crate::error::BravoError;

pub fn read_secret_file(setting: &str, path: &str) -> Result<Secret, BravoError> {
    let meta = fs::metadata(path).map_err(|e| {
        BravoError::config(format!("cannot read {setting} file \"{path}\": {e}")).hint(
            "The file must exist and be readable by the operating-system user running PostgreSQL.",
        )
    })?;
    if !meta.is_file() {
        return Err(BravoError::config(format!(
            "{setting} \"{path}\" is not a regular file"
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    let owned_by_root = meta.uid() == 0;
    let allowed = if owned_by_root { 0o740 } else { 0o700 };
    if mode & !allowed != 0 {
        return Err(BravoError::config(format!(
            "{setting} \"{path}\" has group or world access (mode {mode:04o})"
        ))
        .hint("chmod 0600 the file (or 0640 if it is owned by root)."));
    }
    let text = fs::read_to_string(path)
        .map_err(|e| BravoError::config(format!("cannot read {setting} file \"{path}\": {e}")))?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(BravoError::config(format!("{setting} \"{path}\" is empty")));
    }
    Ok(Secret::new(trimmed.to_string()))
}
