//! A row as one line of MongoDB Extended JSON v2 in relaxed mode, the format
//! `mongoimport` reads: integers as numbers, `numeric` as `{"$numberDecimal": "…"}`
//! (exact, never a double), dates and instants as `{"$date": "…Z"}` (the canonical
//! `{"$date": {"$numberLong": "…"}}` outside the years 1970–9999, as the spec asks),
//! and a deterministic `_id` made of the key fields, so that re-importing with
//! `--mode upsert` replaces documents instead of duplicating them.

use std::io;

use super::csv::push_uuid;
use super::naming::camel_case;
use super::numeric;
use super::value::{bad_numeric, int_len, push_time, push_ymd, ymd_len, Value, RELAXED_DAYS};
use super::ColumnKind;

/// One collection's layout: its fields (camelCase) and kinds, and which of them form
/// `_id` (a table's primary key, in its order).
#[derive(Clone, Debug)]
pub struct Layout {
    fields: Vec<(String, ColumnKind)>,
    key: Vec<usize>,
    /// Each field's name as a JSON string, then `:`.
    labels: Vec<Vec<u8>>,
    /// The bytes of a line that do not depend on the values (names, punctuation).
    fixed_len: u64,
}

const ID_OPEN: &[u8] = b"{\"_id\":{";
const DECIMAL_OPEN: &[u8] = b"{\"$numberDecimal\":\"";
const DECIMAL_CLOSE: &[u8] = b"\"}";
const DATE_OPEN: &[u8] = b"{\"$date\":\"";
const MIDNIGHT_CLOSE: &[u8] = b"T00:00:00Z\"}";
const INSTANT_CLOSE: &[u8] = b"Z\"}";
const LONG_OPEN: &[u8] = b"{\"$date\":{\"$numberLong\":\"";
const LONG_CLOSE: &[u8] = b"\"}}";

impl Layout {
    /// `columns` as (PostgreSQL column name, kind); `key` the key columns' names.
    pub fn new(columns: &[(&str, ColumnKind)], key: &[&str]) -> Result<Layout, String> {
        let key = key
            .iter()
            .map(|k| {
                columns
                    .iter()
                    .position(|(c, _)| c == k)
                    .ok_or_else(|| format!("key column {k} is not among the columns"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if key.is_empty() {
            return Err("a collection needs a key for its _id".into());
        }
        let fields = columns
            .iter()
            .map(|(c, k)| (camel_case(c), *k))
            .collect::<Vec<_>>();
        if fields.iter().any(|(f, _)| f == "_id") {
            return Err("a column would become the field _id".into());
        }
        // `{"_id":{` key names and colons, commas between keys, `}`; per field a comma,
        // its name and a colon; `}` and the newline.
        let names =
            |i: &mut dyn Iterator<Item = &String>| i.map(|n| string_len(n) + 1).sum::<u64>();
        let fixed_len = ID_OPEN.len() as u64
            + names(&mut key.iter().map(|&i| &fields[i].0))
            + (key.len() as u64 - 1)
            + 1
            + names(&mut fields.iter().map(|(n, _)| n))
            + fields.len() as u64
            + 2;
        let labels = fields
            .iter()
            .map(|(n, _)| {
                let mut l = Vec::new();
                push_string(&mut l, n);
                l.push(b':');
                l
            })
            .collect();
        Ok(Layout {
            fields,
            key,
            labels,
            fixed_len,
        })
    }

    /// The field names, in column order.
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(f, _)| f.as_str())
    }

    /// Appends `values` (one per column) as one JSON line.
    pub fn push_row(&self, out: &mut Vec<u8>, values: &[Value<'_>]) -> io::Result<()> {
        if values.len() != self.fields.len() {
            return Err(invalid(format!(
                "{} values for {} fields",
                values.len(),
                self.fields.len()
            )));
        }
        out.extend_from_slice(ID_OPEN);
        for (n, &i) in self.key.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            if values[i] == Value::Null {
                return Err(invalid(format!("key field {} is NULL", self.fields[i].0)));
            }
            out.extend_from_slice(&self.labels[i]);
            push_value(out, &values[i])?;
        }
        out.push(b'}');
        for (label, v) in self.labels.iter().zip(values) {
            out.push(b',');
            out.extend_from_slice(label);
            push_value(out, v)?;
        }
        out.extend_from_slice(b"}\n");
        Ok(())
    }
}

impl Layout {
    /// The length of the line [`Layout::push_row`] writes for `values`, without
    /// writing it; the same errors.
    pub fn row_len(&self, values: &[Value<'_>]) -> io::Result<u64> {
        if values.len() != self.fields.len() {
            return Err(invalid(format!(
                "{} values for {} fields",
                values.len(),
                self.fields.len()
            )));
        }
        let mut len = self.fixed_len;
        for &i in &self.key {
            if values[i] == Value::Null {
                return Err(invalid(format!("key field {} is NULL", self.fields[i].0)));
            }
            len += value_len(&values[i])?;
        }
        for v in values {
            len += value_len(v)?;
        }
        Ok(len)
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// A JSON string: as is when nothing needs escaping (the common case), else through
/// serde_json's escaping.
fn push_string(out: &mut Vec<u8>, s: &str) {
    if plain(s) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
    }
}

/// Whether `s` needs no escaping in a JSON string.
fn plain(s: &str) -> bool {
    s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\')
}

fn string_len(s: &str) -> u64 {
    if plain(s) {
        s.len() as u64 + 2
    } else {
        serde_json::to_string(s).map_or(0, |j| j.len() as u64)
    }
}

fn value_len(v: &Value<'_>) -> io::Result<u64> {
    let long = |ms: i64| (LONG_OPEN.len() + LONG_CLOSE.len()) as u64 + int_len(ms);
    Ok(match *v {
        Value::Null => 4,
        Value::Int(n) => int_len(n),
        Value::Decimal(s) => (DECIMAL_OPEN.len() + s.len() + DECIMAL_CLOSE.len()) as u64,
        Value::Numeric(p) => {
            (DECIMAL_OPEN.len() + DECIMAL_CLOSE.len()) as u64
                + numeric::len(p).ok_or_else(bad_numeric)?
        }
        Value::Text(s) => string_len(s),
        Value::Bool(b) => {
            if b {
                4
            } else {
                5
            }
        }
        Value::Uuid(_) => 38,
        Value::Date(days) => {
            if RELAXED_DAYS.contains(&days) {
                (DATE_OPEN.len() + 10 + MIDNIGHT_CLOSE.len()) as u64
            } else {
                long(days.saturating_mul(86_400_000))
            }
        }
        Value::Instant { days, micros } => {
            if RELAXED_DAYS.contains(&days) {
                // date T HH:MM:SS.mmm
                DATE_OPEN.len() as u64 + ymd_len(days).0 + 13 + INSTANT_CLOSE.len() as u64
            } else {
                long(instant_millis(days, micros))
            }
        }
        Value::Infinity(positive) => long(if positive { i64::MAX } else { i64::MIN }),
    })
}

fn instant_millis(days: i64, micros: u64) -> i64 {
    days.saturating_mul(86_400_000)
        .saturating_add((micros / 1000) as i64)
}

fn push_value(out: &mut Vec<u8>, v: &Value<'_>) -> io::Result<()> {
    match *v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        Value::Decimal(s) => {
            out.extend_from_slice(DECIMAL_OPEN);
            out.extend_from_slice(s.as_bytes());
            out.extend_from_slice(DECIMAL_CLOSE);
        }
        Value::Numeric(p) => {
            out.extend_from_slice(DECIMAL_OPEN);
            numeric::push(out, p).ok_or_else(bad_numeric)?;
            out.extend_from_slice(DECIMAL_CLOSE);
        }
        Value::Text(s) => push_string(out, s),
        Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::Uuid(u) => {
            out.push(b'"');
            push_uuid(out, &u);
            out.push(b'"');
        }
        Value::Date(days) => {
            if RELAXED_DAYS.contains(&days) {
                out.extend_from_slice(DATE_OPEN);
                push_ymd(out, days);
                out.extend_from_slice(MIDNIGHT_CLOSE);
            } else {
                push_millis(out, days.saturating_mul(86_400_000));
            }
        }
        Value::Instant { days, micros } => {
            if RELAXED_DAYS.contains(&days) {
                out.extend_from_slice(DATE_OPEN);
                push_ymd(out, days);
                out.push(b'T');
                push_time(out, micros, 3);
                out.extend_from_slice(INSTANT_CLOSE);
            } else {
                push_millis(out, instant_millis(days, micros));
            }
        }
        // A BSON date's ends, as drivers map PostgreSQL's infinities.
        Value::Infinity(positive) => push_millis(out, if positive { i64::MAX } else { i64::MIN }),
    }
    Ok(())
}

/// The canonical form, for dates outside the relaxed range (1970–9999):
/// `{"$date":{"$numberLong":"<ms since the epoch>"}}`.
fn push_millis(out: &mut Vec<u8>, ms: i64) {
    out.extend_from_slice(LONG_OPEN);
    out.extend_from_slice(itoa::Buffer::new().format(ms).as_bytes());
    out.extend_from_slice(LONG_CLOSE);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn impressions() -> Layout {
        Layout::new(
            &[
                ("media_buy_id", ColumnKind::Integer),
                ("date", ColumnKind::Date),
                ("impressions", ColumnKind::Integer),
                ("spend", ColumnKind::Decimal),
                ("created_at", ColumnKind::Timestamp),
            ],
            &["media_buy_id", "date"],
        )
        .unwrap()
    }

    fn line(l: &Layout, v: &[Value<'_>]) -> String {
        let mut out = Vec::new();
        l.push_row(&mut out, v).unwrap();
        assert_eq!(
            l.row_len(v).unwrap(),
            out.len() as u64,
            "measured as written"
        );
        String::from_utf8(out).unwrap()
    }

    proptest::proptest! {
        #[test]
        fn the_measured_length_is_the_written_length(row in crate::export::value::tests::rows()) {
            let values = row.values();
            let cols: Vec<(String, ColumnKind)> = (0..values.len())
                .map(|i| (format!("c_{i}"), ColumnKind::Text))
                .collect();
            let named: Vec<(&str, ColumnKind)> = cols.iter().map(|(c, k)| (c.as_str(), *k)).collect();
            // The first non-NULL value is the key (a row of NULLs has none).
            let Some(k) = values.iter().position(|v| *v != Value::Null) else {
                return Ok(());
            };
            let l = Layout::new(&named, &[named[k].0]).unwrap();
            let mut out = Vec::new();
            l.push_row(&mut out, &values).unwrap();
            proptest::prop_assert_eq!(l.row_len(&values).unwrap(), out.len() as u64);
            let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
            proptest::prop_assert!(parsed.is_object());
        }
    }

    /// 2025-11-01.
    const NOV_1: i64 = 20_393;

    #[test]
    fn a_metric_row_in_the_seeds_shape() {
        let got = line(
            &impressions(),
            &[
                Value::Int(7),
                Value::Date(NOV_1),
                Value::Int(1500),
                Value::Numeric(&numeric::encode("12.50")),
                Value::Instant {
                    days: NOV_1 + 1,
                    micros: 11_045_123_456,
                },
            ],
        );
        assert_eq!(
            got,
            concat!(
                r#"{"_id":{"mediaBuyId":7,"date":{"$date":"2025-11-01T00:00:00Z"}},"#,
                r#""mediaBuyId":7,"date":{"$date":"2025-11-01T00:00:00Z"},"impressions":1500,"#,
                r#""spend":{"$numberDecimal":"12.50"},"createdAt":{"$date":"2025-11-02T03:04:05.123Z"}}"#,
                "\n"
            )
        );
        let v: serde_json::Value = serde_json::from_str(&got).unwrap();
        assert_eq!(v["spend"]["$numberDecimal"], "12.50");
    }

    #[test]
    fn dates_outside_the_relaxed_range_are_canonical_and_nulls_are_null() {
        let got = line(
            &impressions(),
            &[
                Value::Int(-3),
                Value::Date(-1),
                Value::Null,
                Value::Decimal("NaN"),
                Value::Instant {
                    days: -1,
                    micros: 1_500,
                },
            ],
        );
        assert!(
            got.contains(r#""date":{"$date":{"$numberLong":"-86400000"}}"#),
            "{got}"
        );
        assert!(
            got.contains(r#""createdAt":{"$date":{"$numberLong":"-86399999"}}"#),
            "{got}"
        );
        assert!(got.contains(r#""impressions":null"#), "{got}");
        assert!(got.contains(r#""mediaBuyId":-3"#), "{got}");
        assert!(got.contains(r#""$numberDecimal":"NaN""#), "{got}");
        let inf = line(
            &impressions(),
            &[
                Value::Int(1),
                Value::Infinity(true),
                Value::Null,
                Value::Null,
                Value::Infinity(false),
            ],
        );
        assert!(
            inf.contains(r#""date":{"$date":{"$numberLong":"9223372036854775807"}}"#),
            "{inf}"
        );
        assert!(
            inf.contains(r#""createdAt":{"$date":{"$numberLong":"-9223372036854775808"}}"#),
            "{inf}"
        );
    }

    #[test]
    fn text_keys_are_escaped_strings() {
        let l = Layout::new(
            &[
                ("media_buy_id", ColumnKind::Text),
                ("hour_start", ColumnKind::Timestamp),
            ],
            &["media_buy_id", "hour_start"],
        )
        .unwrap();
        let hour = Value::Instant {
            days: 20_541,
            micros: 3_600_000_000,
        };
        let got = line(&l, &[Value::Text("a\"b\\c\u{1}"), hour]);
        assert_eq!(
            got,
            "{\"_id\":{\"mediaBuyId\":\"a\\\"b\\\\c\\u0001\",\"hourStart\":{\"$date\":\"2026-03-29T01:00:00.000Z\"}},\"mediaBuyId\":\"a\\\"b\\\\c\\u0001\",\"hourStart\":{\"$date\":\"2026-03-29T01:00:00.000Z\"}}\n"
        );
        let v: serde_json::Value = serde_json::from_str(&got).unwrap();
        assert_eq!(v["mediaBuyId"], "a\"b\\c\u{1}");
    }

    #[test]
    fn bad_rows_and_layouts_are_refused() {
        let l = impressions();
        let mut out = Vec::new();
        let null_key = [
            Value::Null,
            Value::Date(NOV_1),
            Value::Null,
            Value::Null,
            Value::Null,
        ];
        assert!(l.push_row(&mut out, &null_key).is_err());
        assert!(l.push_row(&mut out, &[Value::Int(1)]).is_err());
        assert!(Layout::new(&[("id", ColumnKind::Integer)], &["x"]).is_err());
        assert!(Layout::new(&[("_id", ColumnKind::Integer)], &["_id"]).is_err());
    }
}
