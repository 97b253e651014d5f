//! JSON rowsets (spec §8 "JSON cells"): every cell is a string or null.

use serde_json::Value;

use super::values::{
    date_from_days, decimal_at_scale, decode_hex, instant_from_nanos, naive_from_nanos,
    seconds_text_to_nanos, time_from_nanos, tz_from_nanos,
};
use crate::error::Error;
use crate::types::{Batch, Column, ColumnMeta};

/// Rows decoded per batch from one JSON rowset.
pub(crate) const JSON_BATCH_ROWS: usize = 4096;

/// A JSON rowset consumed in batches.
pub(crate) struct JsonRows {
    rows: std::vec::IntoIter<Vec<Value>>,
}

impl JsonRows {
    pub(crate) fn new(rows: Vec<Vec<Value>>) -> Self {
        JsonRows {
            rows: rows.into_iter(),
        }
    }

    /// A chunk body: rows without the outer brackets (`[..],[..]`).
    pub(crate) fn from_chunk(body: &[u8]) -> Result<Self, Error> {
        let trimmed = trim_ascii(body);
        // Cells are strings or null, so a body starting with `[[` is already bracketed.
        let inner = trim_ascii(trimmed.get(1..).unwrap_or_default());
        let bracketed = trimmed.first() == Some(&b'[') && inner.first() == Some(&b'[');
        let parsed = if bracketed {
            serde_json::from_slice::<Vec<Vec<Value>>>(trimmed)
        } else {
            let mut wrapped = Vec::with_capacity(trimmed.len() + 2);
            wrapped.push(b'[');
            wrapped.extend_from_slice(trimmed);
            wrapped.push(b']');
            serde_json::from_slice(&wrapped)
        };
        let rows = parsed.map_err(|e| Error::Decode {
            column: String::new(),
            message: format!("invalid JSON result chunk: {e}"),
        })?;
        Ok(JsonRows::new(rows))
    }

    pub(crate) fn next_batch(&mut self, columns: &[ColumnMeta]) -> Result<Option<Batch>, Error> {
        let rows: Vec<Vec<Value>> = self.rows.by_ref().take(JSON_BATCH_ROWS).collect();
        if rows.is_empty() {
            return Ok(None);
        }
        decode_rows(&rows, columns).map(Some)
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

fn cell_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        other => Some(other.to_string()),
    }
}

/// Decodes rows of JSON cells into columns typed by `rowtype`.
pub(crate) fn decode_rows(rows: &[Vec<Value>], columns: &[ColumnMeta]) -> Result<Batch, Error> {
    for (r, row) in rows.iter().enumerate() {
        if row.len() != columns.len() {
            return Err(Error::Protocol(format!(
                "JSON row {r} has {} cells but rowtype describes {} columns",
                row.len(),
                columns.len()
            )));
        }
    }
    let columns_out = columns
        .iter()
        .enumerate()
        .map(|(c, meta)| {
            let cells = rows.iter().map(|row| cell_text(&row[c]));
            decode_column(cells, meta)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Batch {
        num_rows: rows.len(),
        columns: columns_out,
    })
}

fn parse_cells<T>(
    cells: impl Iterator<Item = Option<String>>,
    meta: &ColumnMeta,
    f: impl Fn(&str) -> Option<T>,
) -> Result<Vec<Option<T>>, Error> {
    cells
        .enumerate()
        .map(|(i, cell)| match cell {
            None => Ok(None),
            Some(text) => f(&text).map(Some).ok_or_else(|| Error::Decode {
                column: meta.name.clone(),
                message: format!(
                    "row {i}: cannot read {:?} as {}",
                    super::super::redact::redact(&text),
                    meta.sf_type
                ),
            }),
        })
        .collect()
}

/// Decodes one column of JSON cells (spec §8 table).
pub fn decode_column(
    cells: impl Iterator<Item = Option<String>>,
    meta: &ColumnMeta,
) -> Result<Column, Error> {
    let ty = meta.sf_type.to_ascii_lowercase();
    Ok(match ty.as_str() {
        "fixed" | "number" | "decimal" | "integer" => {
            let scale = u32::try_from(meta.scale.unwrap_or(0)).map_err(|_| Error::Decode {
                column: meta.name.clone(),
                message: format!("unsupported scale {:?}", meta.scale),
            })?;
            Column::Fixed {
                scale,
                values: parse_cells(cells, meta, |t| decimal_at_scale(t, scale))?,
            }
        }
        "real" | "float" | "double" => Column::Real(parse_cells(cells, meta, |t| {
            match t.trim().to_ascii_lowercase().as_str() {
                "nan" => Some(f64::NAN),
                "inf" | "infinity" => Some(f64::INFINITY),
                "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
                other => other.parse().ok(),
            }
        })?),
        "text" | "variant" | "object" | "array" | "geography" | "geometry" | "char" | "varchar"
        | "string" => Column::Text(parse_cells(cells, meta, |t| Some(t.to_string()))?),
        "boolean" => Column::Boolean(parse_cells(cells, meta, |t| {
            match t.trim().to_ascii_lowercase().as_str() {
                "1" | "true" => Some(true),
                "0" | "false" => Some(false),
                _ => None,
            }
        })?),
        "date" => Column::Date(parse_cells(cells, meta, |t| {
            date_from_days(t.trim().parse().ok()?)
        })?),
        "time" => Column::Time(parse_cells(cells, meta, |t| {
            time_from_nanos(seconds_text_to_nanos(t)?)
        })?),
        "timestamp_ntz" | "datetime" => Column::TimestampNtz(parse_cells(cells, meta, |t| {
            naive_from_nanos(seconds_text_to_nanos(t)?)
        })?),
        "timestamp_ltz" => Column::TimestampLtz(parse_cells(cells, meta, |t| {
            instant_from_nanos(seconds_text_to_nanos(t)?)
        })?),
        "timestamp_tz" => Column::TimestampTz(parse_cells(cells, meta, |t| {
            let mut parts = t.split_whitespace();
            let ns = seconds_text_to_nanos(parts.next()?)?;
            let tz = match parts.next() {
                Some(code) => code.parse().ok()?,
                None => 1440,
            };
            tz_from_nanos(ns, tz)
        })?),
        "binary" | "varbinary" => Column::Binary(parse_cells(cells, meta, decode_hex)?),
        other => {
            return Err(Error::Decode {
                column: meta.name.clone(),
                message: format!("unsupported Snowflake type {other} in a JSON result"),
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(name: &str, ty: &str, scale: Option<i64>) -> ColumnMeta {
        ColumnMeta {
            name: name.into(),
            sf_type: ty.into(),
            nullable: true,
            precision: None,
            scale,
            length: None,
            collation: None,
        }
    }

    #[test]
    fn decodes_every_json_cell_type() {
        let cols = vec![
            meta("N", "fixed", Some(2)),
            meta("R", "real", None),
            meta("T", "text", None),
            meta("B", "boolean", None),
            meta("D", "date", None),
            meta("TM", "time", Some(9)),
            meta("NTZ", "timestamp_ntz", Some(9)),
            meta("LTZ", "timestamp_ltz", Some(9)),
            meta("TZ", "timestamp_tz", Some(9)),
            meta("BIN", "binary", None),
            meta("V", "variant", None),
        ];
        let rows = vec![
            vec![
                json!("-12.35"),
                json!("1.5"),
                json!("hi"),
                json!("1"),
                json!("-1"),
                json!("3723.000000004"),
                json!("-1.500000000"),
                json!("1704067200.123000000"),
                json!("1365123723.123456000 1560"),
                json!("00ff"),
                json!("{\"a\":1}"),
            ],
            vec![Value::Null; 11],
        ];
        let b = decode_rows(&rows, &cols).unwrap();
        assert_eq!(b.num_rows, 2);
        assert_eq!(
            b.columns[0],
            Column::Fixed {
                scale: 2,
                values: vec![Some(-1235), None]
            }
        );
        assert_eq!(b.columns[1], Column::Real(vec![Some(1.5), None]));
        assert_eq!(b.columns[3], Column::Boolean(vec![Some(true), None]));
        match &b.columns[4] {
            Column::Date(v) => assert_eq!(v[0].unwrap().to_string(), "1969-12-31"),
            c => panic!("{c:?}"),
        }
        match &b.columns[5] {
            Column::Time(v) => assert_eq!(v[0].unwrap().to_string(), "01:02:03.000000004"),
            c => panic!("{c:?}"),
        }
        match &b.columns[6] {
            Column::TimestampNtz(v) => {
                assert_eq!(v[0].unwrap().to_string(), "1969-12-31 23:59:58.500")
            }
            c => panic!("{c:?}"),
        }
        match &b.columns[7] {
            Column::TimestampLtz(v) => {
                assert_eq!(v[0].unwrap().to_rfc3339(), "2024-01-01T00:00:00.123+00:00")
            }
            c => panic!("{c:?}"),
        }
        match &b.columns[8] {
            Column::TimestampTz(v) => {
                assert_eq!(
                    v[0].unwrap().to_rfc3339(),
                    "2013-04-05T03:02:03.123456+02:00"
                )
            }
            c => panic!("{c:?}"),
        }
        assert_eq!(b.columns[9], Column::Binary(vec![Some(vec![0, 255]), None]));
        assert_eq!(
            b.columns[10],
            Column::Text(vec![Some("{\"a\":1}".into()), None])
        );
        for c in &b.columns {
            assert_eq!(c.len(), 2);
        }
    }

    #[test]
    fn bad_cells_and_types_name_the_column() {
        let e = decode_rows(&[vec![json!("x1")]], &[meta("AMOUNT", "fixed", Some(0))]).unwrap_err();
        assert!(
            matches!(&e, Error::Decode { column, .. } if column == "AMOUNT"),
            "{e}"
        );
        let e = decode_rows(&[vec![json!("1")]], &[meta("G", "decfloat", None)]).unwrap_err();
        assert!(e.to_string().contains("decfloat"), "{e}");
    }

    #[test]
    fn chunks_without_brackets() {
        let cols = vec![meta("A", "fixed", Some(0)), meta("B", "text", None)];
        let mut rows = JsonRows::from_chunk(b"[\"1\",\"x\"],\n[\"2\",null]").unwrap();
        let b = rows.next_batch(&cols).unwrap().unwrap();
        assert_eq!(b.num_rows, 2);
        assert_eq!(b.columns[1], Column::Text(vec![Some("x".into()), None]));
        assert!(rows.next_batch(&cols).unwrap().is_none());
        let mut bracketed = JsonRows::from_chunk(b"[[\"1\",\"x\"]]").unwrap();
        assert_eq!(bracketed.next_batch(&cols).unwrap().unwrap().num_rows, 1);
    }
}
