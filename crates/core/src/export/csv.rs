//! A row as a CSV line in PostgreSQL's CSV dialect, so that
//! `COPY t FROM 'file' (FORMAT csv, HEADER)` reads the file back exactly: `,` between
//! fields, `\n` after the row, a field quoted (`"`, doubled inside) only when it must
//! be, NULL as an empty unquoted field and an empty string as `""`.

use std::io::{self, Write};

/// Writes one CSV line of `fields` (`None` is NULL).
pub fn write_row<W: Write + ?Sized>(out: &mut W, fields: &[Option<&str>]) -> io::Result<()> {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        if let Some(v) = f {
            write_field(out, v)?;
        }
    }
    out.write_all(b"\n")
}

/// The header line: the column names, quoted like any field.
pub fn write_header<W: Write + ?Sized>(out: &mut W, names: &[&str]) -> io::Result<()> {
    let fields: Vec<Option<&str>> = names.iter().map(|n| Some(*n)).collect();
    write_row(out, &fields)
}

fn write_field<W: Write + ?Sized>(out: &mut W, v: &str) -> io::Result<()> {
    // COPY's own rule: quote an empty string (else it reads as NULL), a value with a
    // delimiter, quote, CR or LF, and the end-of-data marker `\.`.
    let must_quote =
        v.is_empty() || v == "\\." || v.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'));
    if !must_quote {
        return out.write_all(v.as_bytes());
    }
    out.write_all(b"\"")?;
    for part in v.split_inclusive('"') {
        out.write_all(part.as_bytes())?;
        if part.ends_with('"') {
            out.write_all(b"\"")?;
        }
    }
    out.write_all(b"\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fields: &[Option<&str>]) -> String {
        let mut v = Vec::new();
        write_row(&mut v, fields).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn plain_values_are_unquoted() {
        assert_eq!(
            line(&[Some("7"), Some("2026-11-01"), Some("12.50")]),
            "7,2026-11-01,12.50\n"
        );
    }

    #[test]
    fn null_and_empty_string_differ() {
        assert_eq!(line(&[None, Some(""), None]), ",\"\",\n");
    }

    #[test]
    fn delimiters_quotes_and_newlines_are_quoted() {
        assert_eq!(
            line(&[Some("a,b"), Some("say \"hi\""), Some("x\ny"), Some("\\.")]),
            "\"a,b\",\"say \"\"hi\"\"\",\"x\ny\",\"\\.\"\n"
        );
    }
}
