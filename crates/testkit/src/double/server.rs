//! The HTTP/1.1 server loop (hyper) and request dispatch.

use std::convert::Infallible;
use std::io::Read;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{stream, StreamExt};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::record::{Endpoint, Recorded};
use super::reply::{Fault, Reply};
use super::state::State;

pub(crate) type Body = BoxBody<Bytes, std::io::Error>;

/// Accept connections until `shutdown` fires.
pub(crate) async fn serve(
    state: Arc<State>,
    listener: TcpListener,
    mut shutdown: oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    // Errors here are the double's own resets/truncations, or client hang-ups.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
}

#[derive(Debug)]
struct ResetConnection;

impl std::fmt::Display for ResetConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("scripted connection reset")
    }
}

impl std::error::Error for ResetConnection {}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Body>, ResetConnection> {
    let (parts, body) = req.into_parts();
    let gzipped = parts
        .headers
        .get("content-encoding")
        .is_some_and(|v| v.as_bytes() == b"gzip");
    let raw = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let body = if gzipped {
        gunzip(&raw).unwrap_or_else(|| raw.to_vec())
    } else {
        raw.to_vec()
    };
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().unwrap_or("").to_string();
    let endpoint = Endpoint::classify(&method, &path, &query);
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let recorded = state.record(|seq| Recorded {
        seq,
        endpoint,
        method,
        path,
        query,
        headers,
        body,
        at: std::time::Instant::now(),
    });

    let reply = if endpoint == Endpoint::Chunk {
        serve_chunk(&state, &recorded).await
    } else {
        let reply = state.reply_for(&recorded);
        if let Some(delay) = reply.delay {
            tokio::time::sleep(delay).await;
        }
        reply
    };
    to_response(reply)
}

async fn serve_chunk(state: &Arc<State>, req: &Recorded) -> Reply {
    let Some(chunk) = state.chunk(&req.path) else {
        return Reply::text(404, "no such chunk");
    };
    let now = state.chunks_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_chunks_in_flight.fetch_max(now, Ordering::SeqCst);
    let _guard = InFlight(state.clone());
    if let Some(delay) = chunk.spec.delay {
        tokio::time::sleep(delay).await;
    }
    if chunk.spec.fail_always || chunk.take_failure() {
        return Reply::text(503, "chunk unavailable (scripted)");
    }
    let spec = chunk.spec.clone();
    let (wire, _) = tokio::task::spawn_blocking(move || spec.wire_body())
        .await
        .expect("chunk body");
    let mut reply = Reply::status(200)
        .header("content-type", "application/octet-stream")
        .body(wire);
    if chunk.spec.encoding == super::ChunkEncoding::Gzip {
        reply = reply.header("content-encoding", "gzip");
    }
    reply
}

struct InFlight(Arc<State>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.chunks_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

fn to_response(reply: Reply) -> Result<Response<Body>, ResetConnection> {
    let body: Body = match reply.fault {
        Some(Fault::Reset) => return Err(ResetConnection),
        Some(Fault::Truncate) => {
            let half = reply.body.slice(..reply.body.len() / 2);
            // Pause before failing so hyper flushes the head and the first half.
            let frames =
                stream::once(async move { Ok(Frame::data(half)) }).chain(stream::once(async {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    Err(std::io::Error::other("scripted truncation"))
                }));
            BoxBody::new(StreamBody::new(frames))
        }
        None => Full::new(reply.body.clone())
            .map_err(|e: Infallible| match e {})
            .boxed(),
    };
    let mut builder = Response::builder().status(reply.status);
    for (k, v) in &reply.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    if reply.fault == Some(Fault::Truncate) {
        builder = builder.header("content-length", reply.body.len());
    }
    Ok(builder.body(body).expect("valid scripted response"))
}

fn gunzip(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}
