//! Builders for Arrow IPC streams in Snowflake's result format (spec §8).
//!
//! Each builder returns an [`SfColumn`]: an Arrow field carrying Snowflake's metadata
//! (`logicalType`, `scale`, `precision`, `charLength`, `byteLength`) plus its array.
//! [`ipc_stream`] writes columns as one record batch of an IPC *stream*, exactly what
//! `rowsetBase64` and Arrow chunks contain; [`rowtype`] derives the JSON `rowtype`.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array,
    Int16Array, Int32Array, Int64Array, Int8Array, RecordBatch, StringArray, StructArray,
};
use arrow_buffer::NullBuffer;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{DataType, Field, Fields, Schema};
use serde_json::{json, Value};

/// One Snowflake result column: field (with metadata) and values.
#[derive(Clone, Debug)]
pub struct SfColumn {
    pub field: Field,
    pub array: ArrayRef,
}

/// Physical width of a FIXED column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    I8,
    I16,
    I32,
    I64,
}

/// One cell of a struct-encoded timestamp column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsCell {
    /// The struct slot itself is null.
    Null,
    /// A valid struct whose children are all null: how fakesnow writes a NULL timestamp.
    NullChildren,
    /// `epoch` (seconds, or 10^-scale s in the 2-field TZ form), `fraction` ns,
    /// `timezone` = offset minutes + 1440 (ignored by NTZ/LTZ).
    Value { epoch: i64, fraction: i32, tz: i32 },
}

impl TsCell {
    pub fn ntz(epoch: i64, fraction: i32) -> Self {
        TsCell::Value {
            epoch,
            fraction,
            tz: 1440,
        }
    }
    /// A TIMESTAMP_TZ value with an offset in minutes (e.g. -300, +330).
    pub fn tz(epoch: i64, fraction: i32, offset_minutes: i32) -> Self {
        TsCell::Value {
            epoch,
            fraction,
            tz: offset_minutes + 1440,
        }
    }
}

fn meta(
    logical: &str,
    scale: i64,
    precision: i64,
    extra: &[(&str, String)],
) -> HashMap<String, String> {
    let mut m = HashMap::from([
        ("logicalType".to_string(), logical.to_string()),
        ("scale".to_string(), scale.to_string()),
        ("precision".to_string(), precision.to_string()),
    ]);
    for (k, v) in extra {
        m.insert((*k).to_string(), v.clone());
    }
    m
}

fn column(name: &str, array: ArrayRef, metadata: HashMap<String, String>) -> SfColumn {
    let field = Field::new(name, array.data_type().clone(), true).with_metadata(metadata);
    SfColumn { field, array }
}

/// FIXED stored as int8/16/32/64; the value is `v / 10^scale`.
pub fn fixed(name: &str, width: Width, scale: i64, values: &[Option<i64>]) -> SfColumn {
    fn narrow<T: TryFrom<i64>>(values: &[Option<i64>]) -> impl Iterator<Item = Option<T>> + '_ {
        values.iter().map(|v| {
            v.map(|x| T::try_from(x).unwrap_or_else(|_| panic!("{x} does not fit the FIXED width")))
        })
    }
    let array: ArrayRef = match width {
        Width::I8 => Arc::new(Int8Array::from_iter(narrow::<i8>(values))),
        Width::I16 => Arc::new(Int16Array::from_iter(narrow::<i16>(values))),
        Width::I32 => Arc::new(Int32Array::from_iter(narrow::<i32>(values))),
        Width::I64 => Arc::new(Int64Array::from_iter(values.iter().copied())),
    };
    column(name, array, meta("FIXED", scale, 38, &[]))
}

/// FIXED stored as decimal128(precision, scale) (unscaled i128 values).
pub fn decimal(name: &str, precision: u8, scale: i8, values: &[Option<i128>]) -> SfColumn {
    let array = Decimal128Array::from_iter(values.iter().copied())
        .with_precision_and_scale(precision, scale)
        .expect("valid decimal precision/scale");
    column(
        name,
        Arc::new(array),
        meta("FIXED", scale.into(), precision.into(), &[]),
    )
}

pub fn real(name: &str, values: &[Option<f64>]) -> SfColumn {
    column(
        name,
        Arc::new(Float64Array::from_iter(values.iter().copied())),
        meta("REAL", 0, 38, &[]),
    )
}

pub fn text(name: &str, values: &[Option<&str>]) -> SfColumn {
    let extra = [("charLength", "16777216".to_string())];
    column(
        name,
        Arc::new(StringArray::from_iter(values.iter().copied())),
        meta("TEXT", 0, 38, &extra),
    )
}

pub fn boolean(name: &str, values: &[Option<bool>]) -> SfColumn {
    column(
        name,
        Arc::new(BooleanArray::from_iter(values.iter().copied())),
        meta("BOOLEAN", 0, 38, &[]),
    )
}

pub fn binary(name: &str, values: &[Option<&[u8]>]) -> SfColumn {
    let array = BinaryArray::from_iter(values.iter().copied());
    column(
        name,
        Arc::new(array),
        meta("BINARY", 0, 38, &[("byteLength", "8388608".into())]),
    )
}

/// DATE: days since 1970-01-01.
pub fn date(name: &str, days: &[Option<i32>]) -> SfColumn {
    column(
        name,
        Arc::new(Date32Array::from_iter(days.iter().copied())),
        meta("DATE", 0, 38, &[]),
    )
}

/// TIME as int32 (scale ≤ 4 in Snowflake) or int64; `v × 10^(9−scale)` ns since midnight.
pub fn time(name: &str, width: Width, scale: i64, values: &[Option<i64>]) -> SfColumn {
    let mut col = fixed(name, width, scale, values);
    col.field = col.field.with_metadata(meta("TIME", scale, 0, &[]));
    col
}

/// TIMESTAMP_NTZ / TIMESTAMP_LTZ as int64 in units of 10^-scale s.
pub fn ts_int64(name: &str, logical: &str, scale: i64, values: &[Option<i64>]) -> SfColumn {
    let array = Int64Array::from_iter(values.iter().copied());
    column(name, Arc::new(array), meta(logical, scale, 0, &[]))
}

/// TIMESTAMP_NTZ / LTZ as struct{epoch int64 s, fraction int32 ns}.
pub fn ts_struct(name: &str, logical: &str, scale: i64, cells: &[TsCell]) -> SfColumn {
    let array = ts_struct_array(cells, false);
    column(name, array, meta(logical, scale, 0, &[]))
}

/// TIMESTAMP_TZ with 3 fields {epoch s, fraction ns, timezone} (`byteLength` 16).
pub fn tz3(name: &str, scale: i64, cells: &[TsCell]) -> SfColumn {
    let array = ts_struct_array(cells, true);
    column(
        name,
        array,
        meta("TIMESTAMP_TZ", scale, 0, &[("byteLength", "16".into())]),
    )
}

/// TIMESTAMP_TZ with 2 fields {epoch (10^-scale s), timezone} (`byteLength` 8).
/// `Some((epoch, offset_minutes))`.
pub fn tz2(name: &str, scale: i64, values: &[Option<(i64, i32)>]) -> SfColumn {
    let epoch = Int64Array::from_iter(values.iter().map(|v| Some(v.map_or(0, |x| x.0))));
    let tz = Int32Array::from_iter(values.iter().map(|v| Some(v.map_or(0, |x| x.1 + 1440))));
    let nulls = NullBuffer::from_iter(values.iter().map(Option::is_some));
    let fields = Fields::from(vec![
        Field::new("epoch", DataType::Int64, false),
        Field::new("timezone", DataType::Int32, false),
    ]);
    let array = StructArray::try_new(fields, vec![Arc::new(epoch), Arc::new(tz)], Some(nulls))
        .expect("valid TZ struct");
    column(
        name,
        Arc::new(array),
        meta("TIMESTAMP_TZ", scale, 0, &[("byteLength", "8".into())]),
    )
}

/// Any array under any `logicalType` (for unknown-type tests).
pub fn custom(name: &str, logical: &str, array: ArrayRef) -> SfColumn {
    column(name, array, meta(logical, 0, 38, &[]))
}

fn ts_struct_array(cells: &[TsCell], with_tz: bool) -> ArrayRef {
    let value = |c: &TsCell| match *c {
        TsCell::Value {
            epoch,
            fraction,
            tz,
        } => Some((epoch, fraction, tz)),
        TsCell::Null => Some((0, 0, 1440)),
        TsCell::NullChildren => None,
    };
    let epoch = Int64Array::from_iter(cells.iter().map(|c| value(c).map(|v| v.0)));
    let fraction = Int32Array::from_iter(cells.iter().map(|c| value(c).map(|v| v.1)));
    let tz = Int32Array::from_iter(cells.iter().map(|c| value(c).map(|v| v.2)));
    // Snowflake declares the children non-nullable; fakesnow's null children need them
    // nullable or arrow-rs refuses to build (and to read) the struct.
    let children_nullable = cells.contains(&TsCell::NullChildren);
    let mut fields = vec![
        Field::new("epoch", DataType::Int64, children_nullable),
        Field::new("fraction", DataType::Int32, children_nullable),
    ];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(epoch), Arc::new(fraction)];
    if with_tz {
        fields.push(Field::new("timezone", DataType::Int32, children_nullable));
        arrays.push(Arc::new(tz));
    }
    let nulls = NullBuffer::from_iter(cells.iter().map(|c| *c != TsCell::Null));
    Arc::new(
        StructArray::try_new(Fields::from(fields), arrays, Some(nulls))
            .expect("valid timestamp struct"),
    )
}

/// The schema of a set of columns.
pub fn schema(columns: &[SfColumn]) -> Arc<Schema> {
    Arc::new(Schema::new(
        columns.iter().map(|c| c.field.clone()).collect::<Vec<_>>(),
    ))
}

/// One record batch of these columns (all of equal length).
pub fn batch(columns: &[SfColumn]) -> RecordBatch {
    RecordBatch::try_new(
        schema(columns),
        columns.iter().map(|c| c.array.clone()).collect(),
    )
    .expect("columns of equal length")
}

/// An Arrow IPC stream holding the columns as one batch.
pub fn ipc_stream(columns: &[SfColumn]) -> Vec<u8> {
    ipc_stream_batches(&[batch(columns)])
}

/// An Arrow IPC stream holding several batches (same schema).
pub fn ipc_stream_batches(batches: &[RecordBatch]) -> Vec<u8> {
    let schema = batches.first().expect("at least one batch").schema();
    let mut out = Vec::new();
    let mut writer = StreamWriter::try_new(&mut out, &schema).expect("stream writer");
    for b in batches {
        writer.write(b).expect("write batch");
    }
    writer.finish().expect("finish stream");
    drop(writer);
    out
}

/// The JSON `rowtype` Snowflake sends next to the result, derived from field metadata.
pub fn rowtype(fields: &[Field]) -> Value {
    let num = |f: &Field, key: &str| f.metadata().get(key).and_then(|v| v.parse::<i64>().ok());
    Value::Array(
        fields
            .iter()
            .map(|f| {
                let logical = f
                    .metadata()
                    .get("logicalType")
                    .cloned()
                    .unwrap_or_else(|| "TEXT".into());
                json!({
                    "name": f.name(), "database": "", "schema": "", "table": "",
                    "nullable": f.is_nullable(), "type": logical.to_lowercase(),
                    "byteLength": num(f, "byteLength"), "length": num(f, "charLength"),
                    "scale": num(f, "scale"), "precision": num(f, "precision"),
                    "collation": null,
                })
            })
            .collect(),
    )
}

/// `rowtype` of a set of columns.
pub fn rowtype_of(columns: &[SfColumn]) -> Value {
    rowtype(&columns.iter().map(|c| c.field.clone()).collect::<Vec<_>>())
}

/// Number of rows of a column set.
pub fn num_rows(columns: &[SfColumn]) -> usize {
    columns.first().map_or(0, |c| c.array.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_ipc::reader::StreamReader;

    #[test]
    fn stream_round_trips_with_metadata() {
        let cols = vec![
            fixed("A", Width::I8, 2, &[Some(-128), None, Some(127)]),
            tz2("B", 3, &[Some((-1, -300)), None, Some((5, 330))]),
            ts_struct(
                "C",
                "TIMESTAMP_NTZ",
                9,
                &[TsCell::ntz(-5, 1), TsCell::Null, TsCell::ntz(0, 0)],
            ),
        ];
        let bytes = ipc_stream(&cols);
        let mut reader = StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        let b = reader.next().unwrap().unwrap();
        assert_eq!(b.num_rows(), 3);
        let f = b.schema().field(0).clone();
        assert_eq!(f.metadata()["logicalType"], "FIXED");
        assert_eq!(f.metadata()["scale"], "2");
        assert_eq!(b.column(1).null_count(), 1);
        assert_eq!(rowtype_of(&cols)[1]["type"], "timestamp_tz");
    }

    #[test]
    fn fakesnow_style_null_children_are_written() {
        let col = tz3("T", 9, &[TsCell::NullChildren, TsCell::tz(1, 2, -300)]);
        let bytes = ipc_stream(&[col]);
        assert!(!bytes.is_empty());
        let s = col_struct(&bytes);
        assert!(s.is_valid(0));
        assert!(s.column(0).is_null(0));
    }

    fn col_struct(bytes: &[u8]) -> StructArray {
        let mut reader = StreamReader::try_new(std::io::Cursor::new(bytes.to_vec()), None).unwrap();
        let b = reader.next().unwrap().unwrap();
        b.column(0)
            .as_any()
            .downcast_ref::<StructArray>()
            .unwrap()
            .clone()
    }
}
