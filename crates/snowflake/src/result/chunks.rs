//! Chunk downloads (spec §8): presigned GETs without Authorization, `chunkHeaders` sent
//! verbatim (else the `qrmk` SSE-C headers), gzip with or without `Content-Encoding`,
//! retries within the session's retry budget (reported as retry events), and a bounded
//! in-order prefetch whose tasks are aborted on drop.

use std::collections::VecDeque;
use std::io::Read as _;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::task::JoinHandle;

use crate::config::RetryPolicy;
use crate::error::Error;
use crate::http::error_chain;
use crate::retry::{
    attempts_text, parse_retry_after, Deadline, RequestKind, Retrier, RetryBudget, RetryEvent,
};
use crate::wire::ChunkInfo;

/// Everything a download task needs; plain Rust values only.
pub(crate) struct ChunkContext {
    pub client: reqwest::Client,
    pub headers: HeaderMap,
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// The session's retry budget, shared with its other requests.
    pub budget: Arc<RetryBudget>,
    pub events: Option<Sender<RetryEvent>>,
}

impl ChunkContext {
    /// Headers per spec: `chunkHeaders` verbatim, else SSE-C from `qrmk`.
    pub(crate) fn headers_for(
        chunk_headers: Option<&serde_json::Map<String, serde_json::Value>>,
        qrmk: Option<&str>,
    ) -> Result<HeaderMap, Error> {
        let mut headers = HeaderMap::new();
        let bad = |name: &str| Error::Protocol(format!("invalid chunk header {name:?}"));
        match chunk_headers {
            Some(map) if !map.is_empty() => {
                for (name, value) in map {
                    let text = match value {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    let name_h = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad(name))?;
                    let mut value_h = HeaderValue::from_str(&text).map_err(|_| bad(name))?;
                    value_h.set_sensitive(true);
                    headers.insert(name_h, value_h);
                }
            }
            _ => {
                if let Some(key) = qrmk.filter(|k| !k.is_empty()) {
                    headers.insert(
                        HeaderName::from_static("x-amz-server-side-encryption-customer-algorithm"),
                        HeaderValue::from_static("AES256"),
                    );
                    let mut v = HeaderValue::from_str(key).map_err(|_| bad("qrmk"))?;
                    v.set_sensitive(true);
                    headers.insert(
                        HeaderName::from_static("x-amz-server-side-encryption-customer-key"),
                        v,
                    );
                }
            }
        }
        Ok(headers)
    }
}

/// Inflates a raw gzip body (magic `1f 8b`); other bodies pass through.
pub(crate) fn maybe_gunzip(body: Bytes) -> Result<Bytes, String> {
    if body.len() >= 2 && body[0] == 0x1f && body[1] == 0x8b {
        let mut out = Vec::with_capacity(body.len() * 4);
        flate2::read::MultiGzDecoder::new(&body[..])
            .read_to_end(&mut out)
            .map_err(|e| format!("cannot inflate gzip chunk: {e}"))?;
        Ok(Bytes::from(out))
    } else {
        Ok(body)
    }
}

/// Downloads chunk `index` with retries. The URL never appears in an error.
pub(crate) async fn download(
    ctx: Arc<ChunkContext>,
    index: usize,
    url: String,
) -> Result<Bytes, Error> {
    let mut retrier = Retrier::new(
        RequestKind::Chunk { index },
        &ctx.retry,
        &ctx.budget,
        ctx.events.as_ref(),
    );
    let no_deadline = Deadline::after(None);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let result = async {
            let resp = ctx
                .client
                .get(&url)
                .headers(ctx.headers.clone())
                .timeout(ctx.timeout)
                .send()
                .await
                .map_err(|e| (true, None, transport_message(e)))?;
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_retry_after);
            if !status.is_success() {
                let retryable =
                    status.as_u16() == 408 || status.as_u16() == 429 || status.is_server_error();
                return Err((retryable, retry_after, format!("HTTP {}", status.as_u16())));
            }
            let body = resp
                .bytes()
                .await
                .map_err(|e| (true, None, transport_message(e)))?;
            maybe_gunzip(body).map_err(|m| (true, None, m))
        }
        .await;
        match result {
            Ok(body) => return Ok(body),
            Err((false, _, message)) => {
                return Err(Error::Network {
                    message: format!(
                        "{} failed after {}: {message}",
                        RequestKind::Chunk { index },
                        attempts_text(attempts),
                    ),
                })
            }
            Err((true, retry_after, message)) => {
                let sleep = retrier.after_failure(&message, retry_after, &no_deadline)?;
                tokio::time::sleep(sleep).await;
            }
        }
    }
}

/// A transport error without its URL (presigned), redacted.
fn transport_message(e: reqwest::Error) -> String {
    let e = e.without_url();
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "transport error"
    };
    format!("{kind}: {}", error_chain(&e))
}

/// A spawned download that is aborted when dropped.
struct AbortOnDrop(JoinHandle<Result<Bytes, Error>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Downloads chunks ahead of the consumer (at most `prefetch` bodies held) and hands
/// them out in order.
pub(crate) struct ChunkFetcher {
    ctx: Arc<ChunkContext>,
    pending: VecDeque<(usize, ChunkInfo)>,
    in_flight: VecDeque<AbortOnDrop>,
    prefetch: usize,
}

impl ChunkFetcher {
    pub(crate) fn new(ctx: ChunkContext, chunks: Vec<ChunkInfo>, prefetch: usize) -> Self {
        ChunkFetcher {
            ctx: Arc::new(ctx),
            pending: chunks.into_iter().enumerate().collect(),
            in_flight: VecDeque::new(),
            prefetch: prefetch.max(1),
        }
    }

    fn top_up(&mut self) {
        while self.in_flight.len() < self.prefetch {
            let Some((index, chunk)) = self.pending.pop_front() else {
                break;
            };
            let ctx = self.ctx.clone();
            self.in_flight
                .push_back(AbortOnDrop(tokio::spawn(download(ctx, index, chunk.url))));
        }
    }

    /// Starts the first downloads.
    pub(crate) fn start(&mut self) {
        self.top_up();
    }

    /// The next chunk body in order, or `None` after the last.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>, Error> {
        self.top_up();
        let Some(mut task) = self.in_flight.pop_front() else {
            return Ok(None);
        };
        match (&mut task.0).await {
            Ok(result) => result.map(Some),
            Err(e) if e.is_cancelled() => Err(Error::Cancelled),
            Err(_) => Err(Error::Network {
                message: "a result chunk download task failed".into(),
            }),
        }
    }

    /// Downloads started or waiting.
    #[cfg(test)]
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn gzip_by_magic_bytes() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"[\"1\"]").unwrap();
        let gz = Bytes::from(enc.finish().unwrap());
        assert_eq!(maybe_gunzip(gz).unwrap(), Bytes::from_static(b"[\"1\"]"));
        let plain = Bytes::from_static(b"\xff\xff\xff\xff");
        assert_eq!(maybe_gunzip(plain.clone()).unwrap(), plain);
        assert!(maybe_gunzip(Bytes::from_static(b"\x1f\x8bxx")).is_err());
    }

    #[test]
    fn chunk_headers_verbatim_else_qrmk() {
        let mut map = serde_json::Map::new();
        map.insert(
            "x-amz-server-side-encryption-customer-key".into(),
            "K1".into(),
        );
        map.insert("X-Custom".into(), "v".into());
        let h = ChunkContext::headers_for(Some(&map), Some("QRMK")).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h["x-custom"], "v");
        assert_eq!(h["x-amz-server-side-encryption-customer-key"], "K1");
        let h = ChunkContext::headers_for(None, Some("QRMK")).unwrap();
        assert_eq!(
            h["x-amz-server-side-encryption-customer-algorithm"],
            "AES256"
        );
        assert_eq!(h["x-amz-server-side-encryption-customer-key"], "QRMK");
        assert!(
            !format!("{h:?}").contains("QRMK"),
            "sensitive headers are masked in Debug"
        );
        assert!(ChunkContext::headers_for(None, None).unwrap().is_empty());
    }

    #[tokio::test]
    async fn prefetch_is_bounded_and_empty_is_none() {
        let ctx = ChunkContext {
            client: reqwest::Client::new(),
            headers: HeaderMap::new(),
            timeout: Duration::from_millis(200),
            retry: RetryPolicy {
                max_retries: 0,
                ..RetryPolicy::default()
            },
            budget: Arc::new(RetryBudget::new(Duration::from_secs(30))),
            events: None,
        };
        let chunks = (0..10)
            .map(|_| ChunkInfo {
                url: "http://127.0.0.1:9/x".into(),
            })
            .collect();
        let mut f = ChunkFetcher::new(ctx, chunks, 3);
        f.start();
        assert_eq!(f.in_flight(), 3);
        let err = f.next().await.unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Network);
        assert!(!err.to_string().contains("127.0.0.1:9/x"), "{err}");
        // One chunk handed out, so at most prefetch - 1 downloads are held meanwhile.
        assert_eq!(f.in_flight(), 2);
        let mut empty = ChunkFetcher::new(
            ChunkContext {
                client: reqwest::Client::new(),
                headers: HeaderMap::new(),
                timeout: Duration::from_secs(1),
                retry: RetryPolicy::default(),
                budget: Arc::new(RetryBudget::new(Duration::from_secs(30))),
                events: None,
            },
            Vec::new(),
            4,
        );
        assert!(empty.next().await.unwrap().is_none());
    }
}
