//! A row as one line of MongoDB Extended JSON v2 in relaxed mode, the format
//! `mongoimport` reads: integers as numbers, `numeric` as `{"$numberDecimal": "…"}`
//! (exact, never a double), dates and instants as `{"$date": "…Z"}` (the canonical
//! `{"$date": {"$numberLong": "…"}}` outside the years 1970–9999, as the spec asks),
//! and a deterministic `_id` made of the key fields, so that re-importing with
//! `--mode upsert` replaces documents instead of duplicating them.

use std::io::{self, Write};

use chrono::{DateTime, Datelike, NaiveDate, Utc};

use super::naming::camel_case;
use super::ColumnKind;

/// One collection's layout: its fields (camelCase) and kinds, and which of them form
/// `_id` (a table's primary key, in its order).
#[derive(Clone, Debug)]
pub struct Layout {
    fields: Vec<(String, ColumnKind)>,
    key: Vec<usize>,
}

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
        Ok(Layout { fields, key })
    }

    /// The field names, in column order.
    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(f, _)| f.as_str())
    }

    /// Writes `values` (one per column, `None` is NULL) as one JSON line.
    pub fn write_row<W: Write + ?Sized>(
        &self,
        out: &mut W,
        values: &[Option<&str>],
    ) -> io::Result<()> {
        if values.len() != self.fields.len() {
            return Err(invalid(format!(
                "{} values for {} fields",
                values.len(),
                self.fields.len()
            )));
        }
        out.write_all(b"{\"_id\":{")?;
        for (n, &i) in self.key.iter().enumerate() {
            if n > 0 {
                out.write_all(b",")?;
            }
            let (name, kind) = &self.fields[i];
            write_string(out, name)?;
            out.write_all(b":")?;
            let v = values[i].ok_or_else(|| invalid(format!("key field {name} is NULL")))?;
            write_value(out, *kind, v)?;
        }
        out.write_all(b"}")?;
        for ((name, kind), v) in self.fields.iter().zip(values) {
            out.write_all(b",")?;
            write_string(out, name)?;
            out.write_all(b":")?;
            match v {
                Some(v) => write_value(out, *kind, v)?,
                None => out.write_all(b"null")?,
            }
        }
        out.write_all(b"}\n")
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn write_string<W: Write + ?Sized>(out: &mut W, s: &str) -> io::Result<()> {
    serde_json::to_writer(&mut *out, s).map_err(io::Error::other)
}

fn write_value<W: Write + ?Sized>(out: &mut W, kind: ColumnKind, v: &str) -> io::Result<()> {
    match kind {
        ColumnKind::Integer => {
            let digits = v.strip_prefix('-').unwrap_or(v);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(format!("{v:?} is not an integer")));
            }
            out.write_all(v.as_bytes())
        }
        ColumnKind::Decimal => {
            let ok = matches!(v, "NaN" | "Infinity" | "-Infinity")
                || (!v.is_empty()
                    && v.bytes().all(|b| {
                        b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'e' | b'E' | b'+')
                    }));
            if !ok {
                return Err(invalid(format!("{v:?} is not a decimal")));
            }
            out.write_all(b"{\"$numberDecimal\":\"")?;
            out.write_all(v.as_bytes())?;
            out.write_all(b"\"}")
        }
        ColumnKind::Date => {
            // The export's own format, YYYY-MM-DD in 1970-9999: the relaxed text is
            // the value and a fixed time (the common case, without parsing).
            if v.len() == 10 && relaxed_year(v) && NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok()
            {
                out.write_all(b"{\"$date\":\"")?;
                out.write_all(v.as_bytes())?;
                return out.write_all(b"T00:00:00Z\"}");
            }
            let d = NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map_err(|e| invalid(format!("{v:?} is not a date: {e}")))?;
            write_date(out, d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
        }
        ColumnKind::Timestamp => {
            // YYYY-MM-DDTHH:MM:SS.ffffffZ in 1970-9999: cut to milliseconds.
            let b = v.as_bytes();
            if b.len() == 27
                && relaxed_year(v)
                && b[10] == b'T'
                && b[19] == b'.'
                && b[26] == b'Z'
                && b[20..26].iter().all(u8::is_ascii_digit)
                && NaiveDate::parse_from_str(&v[..10], "%Y-%m-%d").is_ok()
            {
                out.write_all(b"{\"$date\":\"")?;
                out.write_all(&b[..23])?;
                return out.write_all(b"Z\"}");
            }
            let t = DateTime::parse_from_rfc3339(v)
                .map_err(|e| invalid(format!("{v:?} is not an RFC 3339 instant: {e}")))?;
            write_date(out, t.with_timezone(&Utc))
        }
        ColumnKind::Text => write_string(out, v),
        ColumnKind::Boolean => match v {
            "t" | "true" => out.write_all(b"true"),
            "f" | "false" => out.write_all(b"false"),
            _ => Err(invalid(format!("{v:?} is not a boolean"))),
        },
    }
}

/// Whether `v` starts with a four-digit year in 1970–9999 (the relaxed range).
fn relaxed_year(v: &str) -> bool {
    v.get(..4)
        .filter(|y| y.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|y| y.parse::<u32>().ok())
        .is_some_and(|y| (1970..=9999).contains(&y))
        && v.as_bytes().get(4) == Some(&b'-')
}

/// `{"$date": …}` to the millisecond: relaxed (an ISO-8601 string) for the years
/// 1970–9999, canonical (`$numberLong` milliseconds since the epoch) otherwise.
fn write_date<W: Write + ?Sized>(out: &mut W, t: DateTime<Utc>) -> io::Result<()> {
    let ms = t.timestamp_millis();
    if (1970..=9999).contains(&t.year()) {
        let text = if ms % 1000 == 0 {
            t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
        };
        write!(out, "{{\"$date\":\"{text}\"}}")
    } else {
        write!(out, "{{\"$date\":{{\"$numberLong\":\"{ms}\"}}}}")
    }
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

    fn line(l: &Layout, v: &[Option<&str>]) -> String {
        let mut out = Vec::new();
        l.write_row(&mut out, v).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_metric_row_in_the_seeds_shape() {
        let got = line(
            &impressions(),
            &[
                Some("7"),
                Some("2026-11-01"),
                Some("1500"),
                Some("12.50"),
                Some("2026-11-02T03:04:05.123456Z"),
            ],
        );
        assert_eq!(
            got,
            concat!(
                r#"{"_id":{"mediaBuyId":7,"date":{"$date":"2026-11-01T00:00:00Z"}},"#,
                r#""mediaBuyId":7,"date":{"$date":"2026-11-01T00:00:00Z"},"impressions":1500,"#,
                r#""spend":{"$numberDecimal":"12.50"},"createdAt":{"$date":"2026-11-02T03:04:05.123Z"}}"#,
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
            &[Some("-3"), Some("1969-12-31"), None, Some("NaN"), None],
        );
        assert!(
            got.contains(r#""date":{"$date":{"$numberLong":"-86400000"}}"#),
            "{got}"
        );
        assert!(got.contains(r#""impressions":null"#), "{got}");
        assert!(got.contains(r#""mediaBuyId":-3"#), "{got}");
        assert!(got.contains(r#""$numberDecimal":"NaN""#), "{got}");
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
        let got = line(&l, &[Some("a\"b\\c"), Some("2026-03-29T01:00:00Z")]);
        assert_eq!(
            got,
            "{\"_id\":{\"mediaBuyId\":\"a\\\"b\\\\c\",\"hourStart\":{\"$date\":\"2026-03-29T01:00:00Z\"}},\"mediaBuyId\":\"a\\\"b\\\\c\",\"hourStart\":{\"$date\":\"2026-03-29T01:00:00Z\"}}\n"
        );
    }

    #[test]
    fn bad_values_and_layouts_are_refused() {
        let l = impressions();
        let mut out = Vec::new();
        assert!(l
            .write_row(
                &mut out,
                &[Some("1e3"), Some("2026-11-01"), None, None, None]
            )
            .is_err());
        assert!(l
            .write_row(&mut out, &[None, Some("2026-11-01"), None, None, None])
            .is_err());
        assert!(l.write_row(&mut out, &[Some("1")]).is_err());
        assert!(Layout::new(&[("id", ColumnKind::Integer)], &["x"]).is_err());
        assert!(Layout::new(&[("_id", ColumnKind::Integer)], &["_id"]).is_err());
    }
}
