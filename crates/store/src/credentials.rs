//! S3 credentials read from a file in the AWS shared-credentials format
//! (`aws_access_key_id = …`, `aws_secret_access_key = …`, optionally
//! `aws_session_token = …`; `[section]` headers and `#`/`;` comments are ignored,
//! the first value of a key wins). The secret parts never appear in `Debug` output
//! or in errors.

use std::fmt;

use bravo_core::{CoreError, SqlState};

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Credentials {
    /// Parses the file's text; `setting` names the setting in errors.
    pub fn parse(text: &str, setting: &str) -> Result<Credentials, CoreError> {
        let mut id = None;
        let mut secret = None;
        let mut token = None;
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with(['#', ';', '[']) {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(CoreError::new(
                    SqlState::ConfigFileError,
                    format!("the {setting} file has a line that is not key = value"),
                )
                .hint("Use the AWS credentials format: aws_access_key_id = ... and aws_secret_access_key = ... on lines of their own."));
            };
            let v = v.trim().to_string();
            let slot = match k.trim().to_ascii_lowercase().as_str() {
                "aws_access_key_id" => &mut id,
                "aws_secret_access_key" => &mut secret,
                "aws_session_token" => &mut token,
                _ => continue,
            };
            if slot.is_none() && !v.is_empty() {
                *slot = Some(v);
            }
        }
        match (id, secret) {
            (Some(access_key_id), Some(secret_access_key)) => Ok(Credentials {
                access_key_id,
                secret_access_key,
                session_token: token,
            }),
            _ => Err(CoreError::new(
                SqlState::ConfigFileError,
                format!("the {setting} file has no aws_access_key_id and aws_secret_access_key"),
            )
            .hint("Write both keys into the file (AWS credentials format), or leave the setting empty to use the environment and instance credentials.")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_aws_format_is_read_and_the_secret_is_never_printed() {
        let c = Credentials::parse(
            "# exports\n[default]\naws_access_key_id = AKIA1\naws_secret_access_key=s3cr3t/x+y\naws_session_token = tok\nregion = eu-west-1\n",
            "bravo_metrics.export_credentials_file",
        )
        .unwrap();
        assert_eq!(c.access_key_id, "AKIA1");
        assert_eq!(c.secret_access_key, "s3cr3t/x+y");
        assert_eq!(c.session_token.as_deref(), Some("tok"));
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("tok\""),
            "{shown}"
        );
    }

    #[test]
    fn a_file_without_both_keys_or_with_garbage_is_refused_without_its_content() {
        let e = Credentials::parse("aws_access_key_id = AKIA1\n", "s").unwrap_err();
        assert_eq!(e.state, SqlState::ConfigFileError);
        let e = Credentials::parse("hunter2\n", "s").unwrap_err();
        assert!(!e.message.contains("hunter2") && !e.hint.unwrap().contains("hunter2"));
    }
}
