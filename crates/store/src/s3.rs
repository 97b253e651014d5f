//! The S3 client (object_store's `AmazonS3`) and presigned download URLs.

use std::time::Duration;

use bravo_core::{CoreError, SqlState};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::signer::{Method, Signer};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

use crate::Credentials;

/// SigV4 presigned URLs last at most seven days.
pub const MAX_URL_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// How to reach S3.
#[derive(Clone, Debug, Default)]
pub struct S3Config {
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`); None: AWS.
    pub endpoint: Option<String>,
    pub region: String,
    /// From the credentials file; None: the standard AWS chain (environment, web
    /// identity, instance or container credentials).
    pub credentials: Option<Credentials>,
    /// Per request.
    pub timeout: Duration,
    /// Retries of a failed request (with backoff, within `timeout` × retries).
    pub max_retries: usize,
}

/// A client for `bucket`.
pub fn client(cfg: &S3Config, bucket: &str) -> Result<AmazonS3, CoreError> {
    let mut b = match &cfg.credentials {
        Some(c) => {
            let mut b = AmazonS3Builder::new()
                .with_access_key_id(&c.access_key_id)
                .with_secret_access_key(&c.secret_access_key);
            if let Some(t) = &c.session_token {
                b = b.with_token(t);
            }
            b
        }
        None => AmazonS3Builder::from_env(),
    };
    b = b
        .with_bucket_name(bucket)
        .with_region(&cfg.region)
        .with_client_options(
            ClientOptions::new()
                .with_timeout(cfg.timeout)
                .with_connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
                .with_allow_http(
                    cfg.endpoint
                        .as_deref()
                        .is_some_and(|e| e.starts_with("http://")),
                ),
        )
        .with_retry(RetryConfig {
            backoff: BackoffConfig::default(),
            max_retries: cfg.max_retries,
            retry_timeout: cfg.timeout * (cfg.max_retries as u32 + 1),
        });
    if let Some(e) = &cfg.endpoint {
        b = b.with_endpoint(e).with_virtual_hosted_style_request(false);
    }
    b.build().map_err(|e| {
        CoreError::new(
            SqlState::InvalidParameterValue,
            format!("cannot configure the S3 client: {}", redact(&e.to_string())),
        )
        .hint("Check bravo_metrics.export_s3_region and bravo_metrics.export_s3_endpoint.")
    })
}

/// A presigned GET URL for `key`, valid for `expires` (at most seven days).
pub async fn presign(store: &AmazonS3, key: &str, expires: Duration) -> Result<String, CoreError> {
    if expires.is_zero() || expires > MAX_URL_LIFETIME {
        return Err(CoreError::new(
            SqlState::InvalidParameterValue,
            format!("a download URL lasts from one second to 7 days, not {} s", expires.as_secs()),
        )
        .hint("S3 (SigV4) presigned URLs expire after at most 7 days; issue a new one later with bravo_export_url(export_id, expires)."));
    }
    let path = Path::parse(key).map_err(|e| map_error(e.into()))?;
    store
        .signed_url(Method::GET, &path, expires)
        .await
        .map(|u| u.to_string())
        .map_err(map_error)
}

/// Whether `key` exists (a HEAD request).
pub async fn exists(store: &AmazonS3, key: &str) -> Result<bool, CoreError> {
    use object_store::ObjectStoreExt;
    let path = Path::parse(key).map_err(|e| map_error(e.into()))?;
    match store.head(&path).await {
        Ok(_) => Ok(true),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(map_error(e)),
    }
}

/// An object_store error as the SQLSTATE a user should see; never the credentials.
pub fn map_error(e: object_store::Error) -> CoreError {
    use object_store::Error as E;
    let text = redact(&e.to_string());
    let lower = text.to_ascii_lowercase();
    let refused = matches!(e, E::PermissionDenied { .. } | E::Unauthenticated { .. })
        || [
            "invalidaccesskeyid",
            "signaturedoesnotmatch",
            "accessdenied",
            "403 forbidden",
        ]
        .iter()
        .any(|k| lower.contains(k));
    match e {
        _ if refused => CoreError::new(
            SqlState::InvalidAuthorization,
            format!("S3 refused the export's credentials: {text}"),
        )
        .hint("Check the keys in bravo_metrics.export_credentials_file (or the server's AWS environment) and the bucket's policy."),
        _ if lower.contains("nosuchbucket") => CoreError::new(
            SqlState::InvalidParameterValue,
            format!("the export's S3 bucket does not exist: {text}"),
        )
        .hint("Create the bucket, or pass another destination."),
        _ if lower.contains("error sending request")
            || lower.contains("connection refused")
            || lower.contains("timed out")
            || lower.contains("dns error")
            || lower.contains("connect") =>
        {
            CoreError::new(
                SqlState::ConnectionFailure,
                format!("cannot reach S3: {text}"),
            )
            .hint("Check bravo_metrics.export_s3_endpoint and that the server can reach it.")
        }
        _ => CoreError::new(SqlState::IoError, format!("S3 request failed: {text}")),
    }
}

/// Drops any query string (a presigned URL's signature) from URLs in `text`.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match word.find('?') {
            Some(q) if word.contains("://") => {
                out.push_str(&word[..q]);
                out.push_str("?…");
            }
            _ => out.push_str(word),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_cut_from_error_texts() {
        assert_eq!(
            redact("GET http://h/b/k?X-Amz-Signature=abc failed"),
            "GET http://h/b/k?… failed"
        );
    }

    #[tokio::test]
    async fn urls_last_at_most_seven_days() {
        let cfg = S3Config {
            endpoint: Some("http://127.0.0.1:9".into()),
            region: "us-east-1".into(),
            credentials: Some(Credentials {
                access_key_id: "AKIA".into(),
                secret_access_key: "secret".into(),
                session_token: None,
            }),
            timeout: Duration::from_secs(1),
            max_retries: 0,
        };
        let s = client(&cfg, "bucket").unwrap();
        let url = presign(&s, "a/b.tar.gz", Duration::from_secs(3600))
            .await
            .unwrap();
        assert!(
            url.starts_with("http://127.0.0.1:9/bucket/a/b.tar.gz?"),
            "{url}"
        );
        assert!(
            url.contains("X-Amz-Expires=3600") && !url.contains("secret"),
            "{url}"
        );
        let e = presign(&s, "k", Duration::from_secs(8 * 24 * 3600))
            .await
            .unwrap_err();
        assert_eq!(e.state, SqlState::InvalidParameterValue);
    }
}
