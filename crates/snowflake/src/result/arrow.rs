//! Arrow IPC stream decoding (spec §8).
//!
//! The stream is walked message by message so that only one record batch is decoded at
//! a time, and so that the schema can be relaxed before decoding: Snowflake/fakesnow
//! declare timestamp struct children non-nullable but write NULL timestamps as valid
//! structs with null children, which arrow-rs' `StreamReader` rejects. Every field is
//! therefore made nullable (recursively) and batches are read with
//! [`arrow_ipc::reader::read_record_batch`], with full validation.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch, StructArray};
use arrow_buffer::Buffer;
use arrow_ipc::convert::try_fb_to_schema;
use arrow_ipc::reader::{read_dictionary, read_record_batch};
use arrow_ipc::{root_as_message, MessageHeader};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

use super::values::{
    date_from_days, instant_from_nanos, naive_from_nanos, scaled_to_nanos, time_from_nanos,
    tz_from_nanos, NANOS_PER_SEC,
};
use crate::error::Error;
use crate::types::{Batch, Column, ColumnMeta};

const CONTINUATION: u32 = 0xFFFF_FFFF;

fn protocol(msg: impl std::fmt::Display) -> Error {
    Error::Decode {
        column: String::new(),
        message: format!("invalid Arrow IPC stream: {msg}"),
    }
}

/// A cursor over the messages of one Arrow IPC stream held in memory.
pub(crate) struct IpcBatches {
    buf: Buffer,
    pos: usize,
    schema: Option<SchemaRef>,
    dictionaries: HashMap<i64, ArrayRef>,
    done: bool,
}

impl IpcBatches {
    pub(crate) fn new(bytes: bytes::Bytes) -> Self {
        IpcBatches {
            buf: Buffer::from(bytes),
            pos: 0,
            schema: None,
            dictionaries: HashMap::new(),
            done: false,
        }
    }

    fn read_u32(&self, at: usize) -> Option<u32> {
        let b = self.buf.as_slice().get(at..at + 4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The next record batch, or `None` at the end of the stream.
    pub(crate) fn next_record_batch(&mut self) -> Result<Option<RecordBatch>, Error> {
        while !self.done {
            let Some(mut len) = self.read_u32(self.pos) else {
                self.done = true;
                break;
            };
            self.pos += 4;
            if len == CONTINUATION {
                len = self
                    .read_u32(self.pos)
                    .ok_or_else(|| protocol("truncated message length"))?;
                self.pos += 4;
            }
            if len == 0 {
                self.done = true;
                break;
            }
            let meta_end = self
                .pos
                .checked_add(len as usize)
                .filter(|end| *end <= self.buf.len())
                .ok_or_else(|| protocol("truncated message header"))?;
            let meta = self.buf.slice_with_length(self.pos, len as usize);
            self.pos = meta_end;
            let message = root_as_message(meta.as_slice()).map_err(protocol)?;
            let body_len = usize::try_from(message.bodyLength())
                .map_err(|_| protocol("negative body length"))?;
            let body_end = self
                .pos
                .checked_add(body_len)
                .filter(|end| *end <= self.buf.len())
                .ok_or_else(|| protocol("truncated message body"))?;
            let body = self.buf.slice_with_length(self.pos, body_len);
            self.pos = body_end;
            let version = message.version();
            match message.header_type() {
                MessageHeader::Schema => {
                    let fb = message
                        .header_as_schema()
                        .ok_or_else(|| protocol("bad schema message"))?;
                    let schema = try_fb_to_schema(fb).map_err(protocol)?;
                    self.schema = Some(Arc::new(relax_schema(&schema)));
                }
                MessageHeader::DictionaryBatch => {
                    let schema = self
                        .schema
                        .clone()
                        .ok_or_else(|| protocol("dictionary before schema"))?;
                    let batch = message
                        .header_as_dictionary_batch()
                        .ok_or_else(|| protocol("bad dictionary message"))?;
                    read_dictionary(&body, batch, &schema, &mut self.dictionaries, &version)
                        .map_err(protocol)?;
                }
                MessageHeader::RecordBatch => {
                    let schema = self
                        .schema
                        .clone()
                        .ok_or_else(|| protocol("record batch before schema"))?;
                    let batch = message
                        .header_as_record_batch()
                        .ok_or_else(|| protocol("bad record batch message"))?;
                    let rb =
                        read_record_batch(&body, batch, schema, &self.dictionaries, None, &version)
                            .map_err(protocol)?;
                    return Ok(Some(rb));
                }
                other => return Err(protocol(format!("unexpected message {other:?}"))),
            }
        }
        Ok(None)
    }

    /// The next decoded batch.
    pub(crate) fn next_batch(&mut self, columns: &[ColumnMeta]) -> Result<Option<Batch>, Error> {
        match self.next_record_batch()? {
            Some(rb) => convert_batch(&rb, columns).map(Some),
            None => Ok(None),
        }
    }
}

fn relax_field(field: &Field) -> Field {
    let data_type = match field.data_type() {
        DataType::Struct(children) => DataType::Struct(Fields::from(
            children.iter().map(|c| relax_field(c)).collect::<Vec<_>>(),
        )),
        DataType::List(child) => DataType::List(Arc::new(relax_field(child))),
        DataType::LargeList(child) => DataType::LargeList(Arc::new(relax_field(child))),
        other => other.clone(),
    };
    Field::new(field.name(), data_type, true).with_metadata(field.metadata().clone())
}

/// Every field (and struct child) nullable; metadata kept.
pub(crate) fn relax_schema(schema: &Schema) -> Schema {
    Schema::new_with_metadata(
        schema
            .fields()
            .iter()
            .map(|f| relax_field(f))
            .collect::<Vec<_>>(),
        schema.metadata().clone(),
    )
}

/// Converts one Arrow batch to [`Batch`], columns in `rowtype` order.
pub(crate) fn convert_batch(rb: &RecordBatch, columns: &[ColumnMeta]) -> Result<Batch, Error> {
    if rb.num_columns() != columns.len() {
        return Err(Error::Protocol(format!(
            "Arrow batch has {} columns but rowtype describes {}",
            rb.num_columns(),
            columns.len()
        )));
    }
    let schema = rb.schema();
    let mut out = Vec::with_capacity(columns.len());
    for (i, meta) in columns.iter().enumerate() {
        let field = schema.field(i);
        let column = convert_column(field, rb.column(i).as_ref(), meta)?;
        out.push(super::coerce_to_rowtype(column, meta));
    }
    Ok(Batch {
        num_rows: rb.num_rows(),
        columns: out,
    })
}

fn decode_err(meta: &ColumnMeta, message: String) -> Error {
    Error::Decode {
        column: meta.name.clone(),
        message,
    }
}

/// An integer cell of any width.
fn int_at(array: &dyn Array, i: usize) -> Option<i64> {
    if array.is_null(i) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Int8 => array.as_primitive::<Int8Type>().value(i) as i64,
        DataType::Int16 => array.as_primitive::<Int16Type>().value(i) as i64,
        DataType::Int32 => array.as_primitive::<Int32Type>().value(i) as i64,
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i),
        _ => return None,
    })
}

fn is_int(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64
    )
}

/// Collects `f(i)` for every row, failing on the first error.
fn collect<T>(
    len: usize,
    mut f: impl FnMut(usize) -> Result<Option<T>, String>,
    meta: &ColumnMeta,
) -> Result<Vec<Option<T>>, Error> {
    (0..len)
        .map(|i| f(i).map_err(|m| decode_err(meta, format!("row {i}: {m}"))))
        .collect()
}

fn metadata_scale(field: &Field, meta: &ColumnMeta) -> Result<u32, Error> {
    let scale = match field.metadata().get("scale") {
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map_err(|_| decode_err(meta, format!("bad scale metadata {s:?}")))?,
        None => meta.scale.unwrap_or(0),
    };
    u32::try_from(scale)
        .ok()
        .filter(|s| *s <= 38)
        .ok_or_else(|| decode_err(meta, format!("unsupported scale {scale}")))
}

/// Field by name, or by position as a fallback.
fn struct_child<'a>(s: &'a StructArray, name: &str, pos: Option<usize>) -> Option<&'a ArrayRef> {
    s.column_by_name(name)
        .or_else(|| pos.and_then(|p| s.columns().get(p)))
}

fn convert_column(field: &Field, array: &dyn Array, meta: &ColumnMeta) -> Result<Column, Error> {
    let logical = field
        .metadata()
        .get("logicalType")
        .cloned()
        .unwrap_or_else(|| meta.sf_type.clone())
        .to_ascii_uppercase();
    let physical = array.data_type();
    let len = array.len();
    let unsupported = || {
        decode_err(
            meta,
            format!("unsupported Snowflake type {logical} with Arrow type {physical}"),
        )
    };
    match logical.as_str() {
        "FIXED" | "NUMBER" | "DECIMAL" | "INTEGER" => {
            if let DataType::Decimal128(_, s) = physical {
                let scale = u32::try_from(*s).map_err(|_| unsupported())?;
                let a = array.as_primitive::<Decimal128Type>();
                let values = (0..len)
                    .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                    .collect();
                return Ok(Column::Fixed { scale, values });
            }
            if !is_int(physical) {
                return Err(unsupported());
            }
            let scale = metadata_scale(field, meta)?;
            let values = (0..len).map(|i| int_at(array, i).map(i128::from)).collect();
            Ok(Column::Fixed { scale, values })
        }
        "REAL" | "FLOAT" | "DOUBLE" => match physical {
            DataType::Float64 => {
                let a = array.as_primitive::<Float64Type>();
                Ok(Column::Real(
                    (0..len)
                        .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                        .collect(),
                ))
            }
            DataType::Float32 => {
                let a = array.as_primitive::<Float32Type>();
                Ok(Column::Real(
                    (0..len)
                        .map(|i| (!a.is_null(i)).then(|| a.value(i) as f64))
                        .collect(),
                ))
            }
            _ => Err(unsupported()),
        },
        "TEXT" | "VARIANT" | "OBJECT" | "ARRAY" | "GEOGRAPHY" | "GEOMETRY" | "CHAR" | "VARCHAR"
        | "STRING" => match physical {
            DataType::Utf8 => {
                let a = array.as_string::<i32>();
                Ok(Column::Text(
                    (0..len)
                        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
                        .collect(),
                ))
            }
            DataType::LargeUtf8 => {
                let a = array.as_string::<i64>();
                Ok(Column::Text(
                    (0..len)
                        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
                        .collect(),
                ))
            }
            DataType::Utf8View => {
                let a = array.as_string_view();
                Ok(Column::Text(
                    (0..len)
                        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_string()))
                        .collect(),
                ))
            }
            _ => Err(unsupported()),
        },
        "BOOLEAN" => match physical {
            DataType::Boolean => {
                let a = array.as_boolean();
                Ok(Column::Boolean(
                    (0..len)
                        .map(|i| (!a.is_null(i)).then(|| a.value(i)))
                        .collect(),
                ))
            }
            _ => Err(unsupported()),
        },
        "DATE" => {
            let values = match physical {
                DataType::Date32 => {
                    let a = array.as_primitive::<Date32Type>();
                    collect(
                        len,
                        |i| {
                            if a.is_null(i) {
                                return Ok(None);
                            }
                            date_from_days(a.value(i) as i64)
                                .map(Some)
                                .ok_or_else(|| format!("date out of range: {} days", a.value(i)))
                        },
                        meta,
                    )?
                }
                DataType::Date64 => {
                    let a = array.as_primitive::<Date64Type>();
                    collect(
                        len,
                        |i| {
                            if a.is_null(i) {
                                return Ok(None);
                            }
                            date_from_days(a.value(i).div_euclid(86_400_000))
                                .map(Some)
                                .ok_or_else(|| format!("date out of range: {} ms", a.value(i)))
                        },
                        meta,
                    )?
                }
                dt if is_int(dt) => collect(
                    len,
                    |i| match int_at(array, i) {
                        None => Ok(None),
                        Some(d) => date_from_days(d)
                            .map(Some)
                            .ok_or_else(|| format!("date out of range: {d} days")),
                    },
                    meta,
                )?,
                _ => return Err(unsupported()),
            };
            Ok(Column::Date(values))
        }
        "TIME" => {
            if !is_int(physical) {
                return Err(unsupported());
            }
            let scale = metadata_scale(field, meta)?;
            Ok(Column::Time(collect(
                len,
                |i| match int_at(array, i) {
                    None => Ok(None),
                    Some(v) => scaled_to_nanos(v as i128, scale)
                        .and_then(time_from_nanos)
                        .map(Some)
                        .ok_or_else(|| format!("time out of range: {v} (scale {scale})")),
                },
                meta,
            )?))
        }
        "TIMESTAMP_NTZ" | "TIMESTAMP_LTZ" | "TIMESTAMP_TZ" => {
            let scale = metadata_scale(field, meta)?;
            let cells = timestamp_cells(array, scale, &logical, meta).ok_or_else(unsupported)?;
            match logical.as_str() {
                "TIMESTAMP_NTZ" => Ok(Column::TimestampNtz(collect(
                    len,
                    |i| match cells(i)? {
                        None => Ok(None),
                        Some((ns, _)) => naive_from_nanos(ns)
                            .map(Some)
                            .ok_or_else(|| format!("timestamp out of range: {ns} ns")),
                    },
                    meta,
                )?)),
                "TIMESTAMP_LTZ" => Ok(Column::TimestampLtz(collect(
                    len,
                    |i| match cells(i)? {
                        None => Ok(None),
                        Some((ns, _)) => instant_from_nanos(ns)
                            .map(Some)
                            .ok_or_else(|| format!("timestamp out of range: {ns} ns")),
                    },
                    meta,
                )?)),
                _ => Ok(Column::TimestampTz(collect(
                    len,
                    |i| match cells(i)? {
                        None => Ok(None),
                        Some((ns, tz)) => tz_from_nanos(ns, tz.unwrap_or(1440))
                            .map(Some)
                            .ok_or_else(|| format!("timestamp out of range: {ns} ns, tz {tz:?}")),
                    },
                    meta,
                )?)),
            }
        }
        "BINARY" | "VARBINARY" => match physical {
            DataType::Binary => {
                let a = array.as_binary::<i32>();
                Ok(Column::Binary(
                    (0..len)
                        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_vec()))
                        .collect(),
                ))
            }
            DataType::LargeBinary => {
                let a = array.as_binary::<i64>();
                Ok(Column::Binary(
                    (0..len)
                        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_vec()))
                        .collect(),
                ))
            }
            DataType::FixedSizeBinary(_) => {
                let a = array.as_fixed_size_binary();
                Ok(Column::Binary(
                    (0..len)
                        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_vec()))
                        .collect(),
                ))
            }
            DataType::BinaryView => {
                let a = array.as_binary_view();
                Ok(Column::Binary(
                    (0..len)
                        .map(|i| (!a.is_null(i)).then(|| a.value(i).to_vec()))
                        .collect(),
                ))
            }
            _ => Err(unsupported()),
        },
        _ => Err(unsupported()),
    }
}

type Cell = Result<Option<(i128, Option<i64>)>, String>;

/// A reader of `(epoch nanoseconds, timezone code)` per row for the timestamp encodings:
/// scaled int64, `struct{epoch, fraction}`, `struct{epoch, timezone}` (epoch scaled) and
/// `struct{epoch, fraction, timezone}`. A row is NULL if the struct slot or its epoch is.
fn timestamp_cells<'a>(
    array: &'a dyn Array,
    scale: u32,
    logical: &str,
    _meta: &ColumnMeta,
) -> Option<Box<dyn Fn(usize) -> Cell + 'a>> {
    let physical = array.data_type();
    if is_int(physical) {
        return Some(Box::new(move |i| match int_at(array, i) {
            None => Ok(None),
            Some(v) => scaled_to_nanos(v as i128, scale)
                .map(|ns| Some((ns, None)))
                .ok_or_else(|| format!("timestamp overflow: {v}")),
        }));
    }
    let DataType::Struct(fields) = physical else {
        return None;
    };
    let s = array.as_struct();
    let is_tz = logical == "TIMESTAMP_TZ";
    let n = fields.len();
    let has_fraction =
        fields.iter().any(|f| f.name() == "fraction") || (n == 3 || (n == 2 && !is_tz));
    let epoch = struct_child(s, "epoch", Some(0))?.clone();
    let fraction = if has_fraction {
        Some(struct_child(s, "fraction", Some(1))?.clone())
    } else {
        None
    };
    let timezone = if is_tz {
        struct_child(s, "timezone", Some(n - 1)).cloned()
    } else {
        None
    };
    if !is_int(epoch.data_type())
        || fraction.as_ref().is_some_and(|f| !is_int(f.data_type()))
        || timezone.as_ref().is_some_and(|t| !is_int(t.data_type()))
    {
        return None;
    }
    Some(Box::new(move |i| {
        if s.is_null(i) {
            return Ok(None);
        }
        let Some(e) = int_at(epoch.as_ref(), i) else {
            return Ok(None);
        };
        let ns = match &fraction {
            Some(f) => {
                let frac = int_at(f.as_ref(), i).unwrap_or(0) as i128;
                (e as i128) * NANOS_PER_SEC + frac
            }
            None => scaled_to_nanos(e as i128, scale)
                .ok_or_else(|| format!("timestamp overflow: {e}"))?,
        };
        let tz = timezone.as_ref().and_then(|t| int_at(t.as_ref(), i));
        Ok(Some((ns, tz)))
    }))
}
