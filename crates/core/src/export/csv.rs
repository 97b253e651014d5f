//! A row as a CSV line in PostgreSQL's CSV dialect, so that
//! `COPY t FROM 'file' (FORMAT csv, HEADER)` reads the file back exactly: `,` between
//! fields, `\n` after the row, a field quoted (`"`, doubled inside) only when it must
//! be, NULL as an empty unquoted field and an empty string as `""`. Dates are
//! `YYYY-MM-DD`, instants `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC), with PostgreSQL's
//! ` BC` suffix before year 1.

use std::io;

use super::numeric;
use super::value::{bad_numeric, civil, int_len, push_padded, push_time, push_ymd, ymd_len, Value};

/// Appends one CSV line of `values`.
pub fn push_row(out: &mut Vec<u8>, values: &[Value<'_>]) -> io::Result<()> {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_value(out, v)?;
    }
    out.push(b'\n');
    Ok(())
}

/// The length of the line [`push_row`] writes for `values`, without writing it.
pub fn row_len(values: &[Value<'_>]) -> io::Result<u64> {
    // Commas between the fields and the newline: one per field (one for none).
    let mut len = values.len().max(1) as u64;
    for v in values {
        len += value_len(v)?;
    }
    Ok(len)
}

fn value_len(v: &Value<'_>) -> io::Result<u64> {
    Ok(match *v {
        Value::Null => 0,
        Value::Int(n) => int_len(n),
        Value::Decimal(s) => s.len() as u64,
        Value::Numeric(p) => numeric::len(p).ok_or_else(bad_numeric)?,
        Value::Text(s) => text_len(s),
        Value::Bool(b) => {
            if b {
                4
            } else {
                5
            }
        }
        Value::Uuid(_) => 36,
        Value::Date(days) => {
            let (len, bc) = ymd_len(days);
            len + if bc { 3 } else { 0 }
        }
        Value::Instant { days, .. } => {
            // T HH:MM:SS.ffffff Z
            let (len, bc) = ymd_len(days);
            len + 17 + if bc { 3 } else { 0 }
        }
        Value::Infinity(positive) => {
            if positive {
                8
            } else {
                9
            }
        }
    })
}

/// Appends the header line: the column names, quoted like any text.
pub fn push_header(out: &mut Vec<u8>, names: &[&str]) {
    let values: Vec<Value<'_>> = names.iter().map(|n| Value::Text(n)).collect();
    push_row(out, &values).expect("text is always written");
}

fn push_value(out: &mut Vec<u8>, v: &Value<'_>) -> io::Result<()> {
    match *v {
        Value::Null => {}
        Value::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        Value::Decimal(s) => out.extend_from_slice(s.as_bytes()),
        Value::Numeric(p) => numeric::push(out, p).ok_or_else(bad_numeric)?,
        Value::Text(s) => push_text(out, s),
        Value::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Value::Uuid(u) => push_uuid(out, &u),
        Value::Date(days) => {
            if push_ymd(out, days).is_none() {
                push_bc(out, days);
                out.extend_from_slice(b" BC");
            }
        }
        Value::Instant { days, micros } => {
            let bc = push_ymd(out, days).is_none();
            if bc {
                push_bc(out, days);
            }
            out.push(b'T');
            push_time(out, micros, 6);
            out.push(b'Z');
            if bc {
                out.extend_from_slice(b" BC");
            }
        }
        Value::Infinity(positive) => {
            out.extend_from_slice(if positive { b"infinity" } else { b"-infinity" })
        }
    }
    Ok(())
}

/// `YYYY-MM-DD` of a date before year 1, in PostgreSQL's BC numbering (year 0 is 1 BC).
fn push_bc(out: &mut Vec<u8>, days: i64) {
    let (y, m, d) = civil(days);
    push_padded(out, (1 - y) as u64, 4);
    out.push(b'-');
    push_padded(out, u64::from(m), 2);
    out.push(b'-');
    push_padded(out, u64::from(d), 2);
}

/// The canonical `8-4-4-4-12` lowercase form.
pub(crate) fn push_uuid(out: &mut Vec<u8>, u: &[u8; 16]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push(b'-');
        }
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

/// COPY's own rule: quote an empty string (else it reads as NULL), a value with a
/// delimiter, quote, CR or LF, and the end-of-data marker `\.`.
fn must_quote(v: &str) -> bool {
    v.is_empty() || v == "\\." || v.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
}

fn text_len(v: &str) -> u64 {
    if must_quote(v) {
        2 + v.len() as u64 + v.bytes().filter(|&b| b == b'"').count() as u64
    } else {
        v.len() as u64
    }
}

fn push_text(out: &mut Vec<u8>, v: &str) {
    if !must_quote(v) {
        out.extend_from_slice(v.as_bytes());
        return;
    }
    out.push(b'"');
    for part in v.split_inclusive('"') {
        out.extend_from_slice(part.as_bytes());
        if part.ends_with('"') {
            out.push(b'"');
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(values: &[Value<'_>]) -> String {
        let mut v = Vec::new();
        push_row(&mut v, values).unwrap();
        assert_eq!(
            row_len(values).unwrap(),
            v.len() as u64,
            "measured as written"
        );
        String::from_utf8(v).unwrap()
    }

    proptest::proptest! {
        #[test]
        fn the_measured_length_is_the_written_length(row in crate::export::value::tests::rows()) {
            let mut out = Vec::new();
            push_row(&mut out, &row.values()).unwrap();
            proptest::prop_assert_eq!(row_len(&row.values()).unwrap(), out.len() as u64);
        }
    }

    #[test]
    fn plain_values_are_unquoted() {
        assert_eq!(
            line(&[
                Value::Int(7),
                Value::Date(20_393),
                Value::Decimal("12.50"),
                Value::Numeric(&numeric::encode("-0.0012"))
            ]),
            "7,2025-11-01,12.50,-0.0012\n"
        );
        assert_eq!(
            line(&[Value::Int(-9), Value::Bool(true), Value::Bool(false)]),
            "-9,true,false\n"
        );
    }

    #[test]
    fn null_and_empty_string_differ() {
        assert_eq!(
            line(&[Value::Null, Value::Text(""), Value::Null]),
            ",\"\",\n"
        );
    }

    #[test]
    fn delimiters_quotes_and_newlines_are_quoted() {
        assert_eq!(
            line(&[
                Value::Text("a,b"),
                Value::Text("say \"hi\""),
                Value::Text("x\ny"),
                Value::Text("\\.")
            ]),
            "\"a,b\",\"say \"\"hi\"\"\",\"x\ny\",\"\\.\"\n"
        );
    }

    #[test]
    fn instants_uuids_and_the_calendar_edges_in_postgresqls_input_forms() {
        let u = [
            0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17,
            0x40, 0x00,
        ];
        assert_eq!(
            line(&[
                Value::Instant {
                    days: 20_394,
                    micros: 3_723_000_004
                },
                Value::Uuid(u),
                Value::Infinity(true),
                Value::Infinity(false),
            ]),
            "2025-11-02T01:02:03.000004Z,123e4567-e89b-12d3-a456-426614174000,infinity,-infinity\n"
        );
        // 44 BC is astronomical year -43; PostgreSQL writes it `0044-03-15 BC`.
        let days = days_of(-43, 3, 15);
        assert_eq!(line(&[Value::Date(days)]), "0044-03-15 BC\n");
        assert_eq!(
            line(&[Value::Instant { days, micros: 0 }]),
            "0044-03-15T00:00:00.000000Z BC\n"
        );
        assert_eq!(line(&[Value::Date(days_of(12_345, 1, 1))]), "12345-01-01\n");
    }

    /// Days since 1970-01-01 of an astronomical (year, month, day), by search.
    fn days_of(y: i64, m: u32, d: u32) -> i64 {
        let mut lo = -1_000_000_000i64;
        let mut hi = 1_000_000_000i64;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if civil(mid) < (y, m, d) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}
