//! The complete export's file formats, with no PostgreSQL: what a row looks like in
//! CSV and in MongoDB Extended JSON, and the `.tar` archive that carries the files and
//! their manifest.
//!
//! * [`value`]   — a column's value as read from PostgreSQL (binary), and the calendar.
//! * [`numeric`] — `numeric`'s stored form as `numeric_out`'s exact text.
//! * [`naming`]  — a table's collection name and a column's field name (camelCase).
//! * [`csv`]     — one row as a CSV line that `COPY ... FROM ... (FORMAT csv)` reads back
//!   exactly (NULL unquoted and empty, an empty string quoted).
//! * [`ejson`]   — one row as a line of MongoDB Extended JSON v2, relaxed mode, with a
//!   deterministic `_id` built from the table's key.
//! * [`archive`] — the archive: every file is measured (its length added up, a tar
//!   header needs the size first), then written into the tar stream from the same
//!   snapshot and hashed; the manifest comes last; no temporary file.

pub mod archive;
pub mod csv;
pub mod ejson;
pub mod naming;
pub mod numeric;
pub mod value;

/// Which columns the MongoDB layout has a rule for (the [`value::Value`] each is read
/// as decides how it is written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    /// `smallint`, `integer`, `bigint`: a JSON number (relaxed mode).
    Integer,
    /// `numeric`: `{"$numberDecimal": "12.34"}`, the exact text, never a double.
    Decimal,
    /// `date` as `YYYY-MM-DD`: `{"$date": "YYYY-MM-DDT00:00:00Z"}` (UTC midnight).
    Date,
    /// `timestamptz` as `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC: `{"$date": ...}`, to the
    /// millisecond (a BSON date's precision).
    Timestamp,
    /// `text`, `varchar`, `uuid`: a JSON string.
    Text,
    /// `boolean` as `t`/`f` or `true`/`false`: a JSON boolean.
    Boolean,
}

impl ColumnKind {
    /// The kind of a PostgreSQL type as `format_type` names it, `None` if the export
    /// has no rule for it.
    pub fn of_pg_type(name: &str) -> Option<ColumnKind> {
        let base = name.split('(').next().unwrap_or(name).trim();
        Some(match base {
            "smallint" | "integer" | "bigint" => ColumnKind::Integer,
            "numeric" => ColumnKind::Decimal,
            "date" => ColumnKind::Date,
            "timestamp with time zone" => ColumnKind::Timestamp,
            "text" | "character varying" | "uuid" | "character" => ColumnKind::Text,
            "boolean" => ColumnKind::Boolean,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ColumnKind;

    #[test]
    fn pg_types_map_to_kinds() {
        assert_eq!(ColumnKind::of_pg_type("bigint"), Some(ColumnKind::Integer));
        assert_eq!(
            ColumnKind::of_pg_type("numeric(14,2)"),
            Some(ColumnKind::Decimal)
        );
        assert_eq!(
            ColumnKind::of_pg_type("character varying(64)"),
            Some(ColumnKind::Text)
        );
        assert_eq!(
            ColumnKind::of_pg_type("timestamp with time zone"),
            Some(ColumnKind::Timestamp)
        );
        assert_eq!(ColumnKind::of_pg_type("double precision"), None);
        assert_eq!(ColumnKind::of_pg_type("timestamp without time zone"), None);
    }
}
