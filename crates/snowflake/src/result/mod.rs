//! Query results: the inline part (Arrow `rowsetBase64` or JSON `rowset`) followed by
//! the chunks, decoded one batch at a time.

pub mod arrow;
pub mod chunks;
pub mod json;
pub mod values;

use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, Utc};

use self::arrow::IpcBatches;
use self::chunks::{ChunkContext, ChunkFetcher};
use self::json::JsonRows;
use crate::error::Error;
use crate::types::{Batch, Column, ColumnMeta};
use crate::wire::{QueryData, RowType};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Arrow,
    Json,
}

enum Part {
    Arrow(Box<IpcBatches>),
    Json(JsonRows),
}

impl Part {
    fn next_batch(&mut self, columns: &[ColumnMeta]) -> Result<Option<Batch>, Error> {
        match self {
            Part::Arrow(ipc) => ipc.next_batch(columns),
            Part::Json(rows) => rows.next_batch(columns),
        }
    }
}

/// The rows of one statement, pulled batch by batch with [`ResultStream::next_batch`].
/// Dropping it aborts chunk downloads still in flight.
pub struct ResultStream {
    query_id: Option<String>,
    columns: Vec<ColumnMeta>,
    total: Option<u64>,
    rows_affected: Option<u64>,
    statement_type_id: Option<i64>,
    format: Format,
    current: Option<Part>,
    chunks: Option<ChunkFetcher>,
}

impl std::fmt::Debug for ResultStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultStream")
            .field("query_id", &self.query_id)
            .field("columns", &self.columns)
            .field("total", &self.total)
            .field("rows_affected", &self.rows_affected)
            .finish_non_exhaustive()
    }
}

pub(crate) fn column_meta(rt: &RowType, index: usize) -> ColumnMeta {
    ColumnMeta {
        name: rt
            .name
            .clone()
            .unwrap_or_else(|| format!("COLUMN{}", index + 1)),
        sf_type: rt.type_.clone().unwrap_or_default().to_ascii_lowercase(),
        nullable: rt.nullable.unwrap_or(true),
        precision: rt.precision,
        scale: rt.scale,
        length: rt.length,
        collation: rt.collation.clone().filter(|c| !c.is_empty()),
    }
}

/// DML statement type ids (`0x3000`–`0x3FFF`).
fn is_dml(statement_type_id: Option<i64>) -> bool {
    matches!(statement_type_id, Some(id) if (0x3000..0x4000).contains(&id))
}

/// Sum of the cells of the single JSON row of a DML result (Go's `updateRows`).
fn sum_row(rows: &[Vec<serde_json::Value>]) -> Option<u64> {
    let [row] = rows else { return None };
    row.iter().try_fold(0u64, |acc, cell| {
        let n = match cell {
            serde_json::Value::String(s) => s.trim().parse::<u64>().ok()?,
            serde_json::Value::Number(n) => n.as_u64()?,
            serde_json::Value::Null => 0,
            _ => return None,
        };
        acc.checked_add(n)
    })
}

/// Aligns a decoded timestamp column with what `rowtype` announced (fakesnow reports
/// TIMESTAMP_LTZ as `timestamp_tz`; either way the caller gets the variant matching
/// [`ColumnMeta::sf_type`]).
pub(crate) fn coerce_to_rowtype(column: Column, meta: &ColumnMeta) -> Column {
    match (meta.sf_type.as_str(), column) {
        ("timestamp_ltz", Column::TimestampTz(v)) => Column::TimestampLtz(
            v.into_iter()
                .map(|o| o.map(|d| d.with_timezone(&Utc)))
                .collect(),
        ),
        ("timestamp_tz", Column::TimestampLtz(v)) => Column::TimestampTz(
            v.into_iter()
                .map(|o| o.map(|d: DateTime<Utc>| d.fixed_offset()))
                .collect(),
        ),
        (_, c) => c,
    }
}

impl ResultStream {
    /// Builds the stream from a final query response. Chunk downloads start at once.
    pub(crate) fn from_response(
        data: QueryData,
        chunk_ctx: impl FnOnce(&QueryData) -> Result<ChunkContext, Error>,
        prefetch: usize,
    ) -> Result<Self, Error> {
        let columns: Vec<ColumnMeta> = data
            .rowtype
            .as_deref()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, rt)| column_meta(rt, i))
            .collect();
        let format = match data.query_result_format.as_deref() {
            Some(f) if f.eq_ignore_ascii_case("arrow") => Format::Arrow,
            Some(f) if f.eq_ignore_ascii_case("json") => Format::Json,
            Some(other) => {
                return Err(Error::Protocol(format!(
                    "unsupported queryResultFormat {other:?}"
                )))
            }
            None if data.rowset_base64.as_deref().is_some_and(|s| !s.is_empty()) => Format::Arrow,
            None => Format::Json,
        };
        let chunk_list = data.chunks.clone().unwrap_or_default();
        let chunks = if chunk_list.is_empty() {
            None
        } else {
            let mut fetcher = ChunkFetcher::new(chunk_ctx(&data)?, chunk_list, prefetch);
            fetcher.start();
            Some(fetcher)
        };
        let QueryData {
            query_id,
            rowset_base64,
            rowset,
            total,
            statement_type_id,
            ..
        } = data;
        let mut rows_affected = None;
        let current = match format {
            Format::Arrow => match rowset_base64 {
                Some(b64) if !b64.trim().is_empty() => {
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b64.trim())
                        .map_err(|e| Error::Decode {
                            column: String::new(),
                            message: format!("rowsetBase64 is not valid base64: {e}"),
                        })?;
                    drop(b64);
                    Some(Part::Arrow(Box::new(IpcBatches::new(Bytes::from(bytes)))))
                }
                // An empty result: the schema comes from rowtype; never parse zero bytes.
                _ => None,
            },
            Format::Json => match rowset {
                Some(rows) if !rows.is_empty() => {
                    if is_dml(statement_type_id) {
                        rows_affected = sum_row(&rows);
                    }
                    Some(Part::Json(JsonRows::new(rows)))
                }
                _ => None,
            },
        };
        Ok(ResultStream {
            query_id,
            columns,
            total,
            rows_affected,
            statement_type_id,
            format,
            current,
            chunks,
        })
    }

    /// Snowflake's query id, when the server sent one.
    pub fn query_id(&self) -> Option<&str> {
        self.query_id.as_deref()
    }

    /// The result columns, from `rowtype` (also for empty results).
    pub fn columns(&self) -> &[ColumnMeta] {
        &self.columns
    }

    /// `total` as reported by the server.
    pub fn total_rows(&self) -> Option<u64> {
        self.total
    }

    /// For DML: the sum of the single JSON rowset row.
    pub fn rows_affected(&self) -> Option<u64> {
        self.rows_affected
    }

    /// `statementTypeId` as reported by the server (`0x1000` SELECT, `0x3000`.. DML).
    pub fn statement_type_id(&self) -> Option<i64> {
        self.statement_type_id
    }

    /// The next non-empty batch in result order, or `None` at the end. Dropping the
    /// returned future stops the chunk download it may be waiting for.
    pub async fn next_batch(&mut self) -> Result<Option<Batch>, Error> {
        loop {
            if let Some(part) = &mut self.current {
                match part.next_batch(&self.columns)? {
                    Some(batch) if batch.num_rows > 0 => return Ok(Some(batch)),
                    Some(_) => continue,
                    None => self.current = None,
                }
            }
            let Some(fetcher) = &mut self.chunks else {
                return Ok(None);
            };
            match fetcher.next().await? {
                Some(body) => {
                    self.current = Some(match self.format {
                        Format::Arrow => Part::Arrow(Box::new(IpcBatches::new(body))),
                        Format::Json => Part::Json(JsonRows::from_chunk(&body)?),
                    });
                }
                None => {
                    self.chunks = None;
                    return Ok(None);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_text_columns_collation_is_kept_and_none_means_bytes() {
        let rt: Vec<RowType> = serde_json::from_value(json!([
            {"name": "ID", "type": "text", "length": 16777216, "collation": "en-ci", "nullable": true},
            {"name": "ID2", "type": "text", "collation": null},
            {"name": "ID3", "type": "text", "collation": ""},
            {"name": "N", "type": "fixed", "precision": 38, "scale": 0}
        ]))
        .unwrap();
        let collations: Vec<Option<String>> = rt
            .iter()
            .enumerate()
            .map(|(i, r)| column_meta(r, i).collation)
            .collect();
        assert_eq!(collations, [Some("en-ci".to_string()), None, None, None]);
    }

    #[test]
    fn dml_row_sum() {
        assert_eq!(sum_row(&[vec![json!("2"), json!("3")]]), Some(5));
        assert_eq!(sum_row(&[vec![json!(4)]]), Some(4));
        assert_eq!(sum_row(&[vec![json!("x")]]), None);
        assert_eq!(sum_row(&[]), None);
        assert!(is_dml(Some(0x3100)));
        assert!(!is_dml(Some(0x1000)));
    }

    #[tokio::test]
    async fn empty_arrow_result_keeps_schema() {
        let data: QueryData = serde_json::from_value(json!({
            "rowtype": [{"name": "A", "type": "fixed", "scale": 0}, {"name": "B", "type": "text"}],
            "rowsetBase64": "", "total": 0, "queryResultFormat": "arrow", "queryId": "q1"
        }))
        .unwrap();
        let mut s = ResultStream::from_response(data, |_| unreachable!(), 4).unwrap();
        assert_eq!(s.columns().len(), 2);
        assert_eq!(s.columns()[1].name, "B");
        assert_eq!(s.query_id(), Some("q1"));
        assert!(s.next_batch().await.unwrap().is_none());
    }
}
