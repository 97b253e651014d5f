//! Query results as Snowflake sends them: an inline part plus chunk URLs (spec §8).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Map, Value};

use crate::sfarrow::{self, SfColumn};

/// How a chunk body is encoded on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkEncoding {
    Plain,
    /// Gzip with `Content-Encoding: gzip`.
    Gzip,
    /// Gzip bytes without `Content-Encoding` (as cloud storage sometimes serves them).
    GzipNoHeader,
}

/// A chunk body produced on demand (so huge results never sit in memory).
pub type LazyBody = Arc<dyn Fn() -> Bytes + Send + Sync>;

/// One chunk served by the double at `/chunks/{n}`.
#[derive(Clone)]
pub struct Chunk {
    pub(crate) body: ChunkBody,
    pub row_count: usize,
    pub encoding: ChunkEncoding,
    /// Answer 503 this many times before serving the body.
    pub fail_times: u32,
    /// Answer 503 forever.
    pub fail_always: bool,
    /// Hold each response this long (makes concurrency observable, or stalls a download).
    pub delay: Option<Duration>,
}

#[derive(Clone)]
pub(crate) enum ChunkBody {
    Static(Bytes),
    Lazy(LazyBody),
}

impl Chunk {
    /// An Arrow IPC stream chunk of these columns.
    pub fn arrow(columns: &[SfColumn]) -> Self {
        Chunk::raw(sfarrow::ipc_stream(columns), sfarrow::num_rows(columns))
    }
    /// JSON rows written as Snowflake does: `[...], [...]` without the outer brackets.
    pub fn json_rows(rows: &[Vec<Option<&str>>]) -> Self {
        let body = rows
            .iter()
            .map(|r| serde_json::to_string(r).expect("rows"))
            .collect::<Vec<_>>()
            .join(", ");
        Chunk::raw(body.into_bytes(), rows.len())
    }
    /// Any bytes as the (uncompressed) chunk body.
    pub fn raw(body: impl Into<Bytes>, row_count: usize) -> Self {
        Chunk {
            body: ChunkBody::Static(body.into()),
            row_count,
            encoding: ChunkEncoding::Plain,
            fail_times: 0,
            fail_always: false,
            delay: None,
        }
    }
    /// A body generated when the chunk is requested.
    pub fn lazy(row_count: usize, produce: impl Fn() -> Bytes + Send + Sync + 'static) -> Self {
        Chunk {
            body: ChunkBody::Lazy(Arc::new(produce)),
            ..Chunk::raw(Bytes::new(), row_count)
        }
    }
    pub fn gzip(mut self) -> Self {
        self.encoding = ChunkEncoding::Gzip;
        self
    }
    pub fn gzip_no_header(mut self) -> Self {
        self.encoding = ChunkEncoding::GzipNoHeader;
        self
    }
    pub fn fail_once(mut self) -> Self {
        self.fail_times = 1;
        self
    }
    pub fn fail_always(mut self) -> Self {
        self.fail_always = true;
        self
    }
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// The bytes put on the wire (compressed if asked), and the uncompressed size.
    pub(crate) fn wire_body(&self) -> (Bytes, usize) {
        let raw = match &self.body {
            ChunkBody::Static(b) => b.clone(),
            ChunkBody::Lazy(f) => f(),
        };
        let len = raw.len();
        match self.encoding {
            ChunkEncoding::Plain => (raw, len),
            ChunkEncoding::Gzip | ChunkEncoding::GzipNoHeader => (gzip(&raw).into(), len),
        }
    }
}

/// Gzip at level 1 (fast; Snowflake's chunks are gzip too).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 3), Compression::fast());
    enc.write_all(data).expect("gzip to memory");
    enc.finish().expect("gzip to memory")
}

/// A whole query result: `rowtype`, inline part, chunks, and SSE-C details.
#[derive(Clone)]
pub struct ResultSpec {
    pub rowtype: Value,
    /// `arrow` or `json`.
    pub format: &'static str,
    /// Arrow: IPC stream bytes (empty = no inline part). JSON: unused.
    pub inline_arrow: Vec<u8>,
    /// JSON: the inline `rowset`.
    pub inline_json: Vec<Vec<Option<String>>>,
    pub inline_rows: usize,
    pub chunks: Vec<Chunk>,
    pub qrmk: Option<String>,
    pub chunk_headers: Option<Map<String, Value>>,
    pub query_id: String,
    /// Override `total` (defaults to inline + Σ chunk rows).
    pub total: Option<usize>,
}

impl ResultSpec {
    /// An Arrow result whose `rowtype` comes from these columns' metadata; no rows yet.
    pub fn arrow(schema_of: &[SfColumn]) -> Self {
        ResultSpec::with_rowtype(sfarrow::rowtype_of(schema_of), "arrow")
    }
    /// A JSON-format result with this `rowtype`.
    pub fn json(rowtype: Value) -> Self {
        ResultSpec::with_rowtype(rowtype, "json")
    }
    pub fn with_rowtype(rowtype: Value, format: &'static str) -> Self {
        ResultSpec {
            rowtype,
            format,
            inline_arrow: Vec::new(),
            inline_json: Vec::new(),
            inline_rows: 0,
            chunks: Vec::new(),
            qrmk: None,
            chunk_headers: None,
            query_id: uuid::Uuid::new_v4().to_string(),
            total: None,
        }
    }
    /// The inline Arrow part (`rowsetBase64`).
    pub fn inline(mut self, columns: &[SfColumn]) -> Self {
        self.inline_arrow = sfarrow::ipc_stream(columns);
        self.inline_rows = sfarrow::num_rows(columns);
        self
    }
    /// The inline JSON `rowset`.
    pub fn inline_json(mut self, rows: &[Vec<Option<&str>>]) -> Self {
        self.inline_json = rows
            .iter()
            .map(|r| r.iter().map(|c| c.map(str::to_string)).collect())
            .collect();
        self.inline_rows = rows.len();
        self
    }
    pub fn chunk(mut self, chunk: Chunk) -> Self {
        self.chunks.push(chunk);
        self
    }
    pub fn qrmk(mut self, qrmk: &str) -> Self {
        self.qrmk = Some(qrmk.to_string());
        self
    }
    pub fn chunk_headers(mut self, headers: &[(&str, &str)]) -> Self {
        self.chunk_headers = Some(
            headers
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect(),
        );
        self
    }

    /// The `data` object, given the URLs at which the chunks are served.
    /// (For inline-only results or pre-registered chunks; [`super::Double::result`] does both.)
    pub fn data(&self, chunk_urls: &[String]) -> Value {
        let chunk_rows: usize = self.chunks.iter().map(|c| c.row_count).sum();
        let total = self.total.unwrap_or(self.inline_rows + chunk_rows);
        let chunks: Vec<Value> = self
            .chunks
            .iter()
            .zip(chunk_urls)
            .map(|(c, url)| json!({"url": url, "rowCount": c.row_count, "uncompressedSize": 0, "compressedSize": 0}))
            .collect();
        let mut data = json!({
            "parameters": [{"name": "TIMEZONE", "value": "UTC"}],
            "rowtype": self.rowtype,
            "total": total,
            "returned": self.inline_rows,
            "queryId": self.query_id,
            "queryResultFormat": self.format,
            "statementTypeId": 4096,
            "finalDatabaseName": "DB", "finalSchemaName": "PUBLIC",
            "chunks": chunks,
        });
        if self.format == "arrow" {
            data["rowsetBase64"] =
                json!(base64::engine::general_purpose::STANDARD.encode(&self.inline_arrow));
        } else {
            data["rowset"] = json!(self.inline_json);
        }
        if let Some(q) = &self.qrmk {
            data["qrmk"] = json!(q);
        }
        if let Some(h) = &self.chunk_headers {
            data["chunkHeaders"] = Value::Object(h.clone());
        }
        data
    }
}
