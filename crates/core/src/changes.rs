//! The intraday refresh's high-water mark.
//!
//! A family's source has a change column (`UPDATED_AT` for the shipped families; the
//! catalog's `change_column`), a timestamp that says when a row last changed. Every
//! sync of the whole window (nightly or manual) reads it along with the rows and keeps
//! its largest value as the family's *high-water mark*: every row changed at or before
//! it has been merged. The intraday refresh then asks Snowflake only for the window's
//! rows changed after the mark minus a safety lag (rows committed late with an older
//! change time), merges them with the same comparison, and raises the mark. A row whose
//! change time is older than that (a source that back-dates `UPDATED_AT`) is missed by
//! the intraday refresh and caught by the next window sync, which compares everything.
//!
//! Marks are kept as instants: a `TIMESTAMP_NTZ` column's wall-clock values are taken
//! as UTC and bound back as the same wall-clock values, so the zone cancels out.

use bravo_snowflake::{Binding, Column, ColumnMeta};
use chrono::{DateTime, Utc};

use crate::error::{CoreError, SqlState};
use crate::target::Target;

/// The change column as the source has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeColumn {
    /// Its name as the source spells it (matched case-insensitively).
    pub name: String,
    /// The name quoted for Snowflake SQL.
    pub quoted: String,
    /// `timestamp_ntz`, `timestamp_ltz` or `timestamp_tz`.
    pub sf_type: String,
}

/// Finds the family's change column in the source's columns. `Ok(None)`: the family
/// has none configured. An error when it is configured but missing or not a timestamp.
pub fn find(
    target: &Target,
    relation: &str,
    rowtype: &[ColumnMeta],
) -> Result<Option<ChangeColumn>, CoreError> {
    let Some(want) = target.change_column.as_deref() else {
        return Ok(None);
    };
    let hint = format!(
        "Point the family's change column at a timestamp column of {relation} that says when a row last changed: UPDATE bravo_families SET change_column = '...' WHERE family = '{}'; (NULL: the family has none, and only bravo_sync fills it)",
        target.name
    );
    let Some(col) = rowtype.iter().find(|c| c.name.eq_ignore_ascii_case(want)) else {
        return Err(CoreError::new(
            SqlState::FdwColumnNameNotFound,
            format!(
                "change column \"{}\" of metric family \"{}\" is missing from Snowflake relation {relation}",
                want.to_ascii_uppercase(),
                target.name
            ),
        )
        .hint(hint));
    };
    if !matches!(
        col.sf_type.as_str(),
        "timestamp_ntz" | "timestamp_ltz" | "timestamp_tz"
    ) {
        return Err(CoreError::new(
            SqlState::FdwInvalidDataType,
            format!(
                "change column \"{}\" of Snowflake relation {relation} has type {}, expected TIMESTAMP_NTZ, TIMESTAMP_LTZ or TIMESTAMP_TZ",
                col.name,
                col.sf_type.to_ascii_uppercase()
            ),
        )
        .hint(hint));
    }
    Ok(Some(ChangeColumn {
        name: col.name.clone(),
        quoted: format!("\"{}\"", col.name.replace('"', "\"\"")),
        sf_type: col.sf_type.clone(),
    }))
}

impl ChangeColumn {
    /// `mark` bound in the column's own type.
    pub fn binding(&self, mark: DateTime<Utc>) -> Binding {
        match self.sf_type.as_str() {
            "timestamp_ntz" => Binding::TimestampNtz(mark.naive_utc()),
            "timestamp_tz" => Binding::TimestampTz(mark.fixed_offset()),
            _ => Binding::TimestampLtz(mark),
        }
    }
}

/// Where an intraday refresh starts: the mark minus the safety lag (seconds).
pub fn since(mark: DateTime<Utc>, safety_lag_s: i64) -> DateTime<Utc> {
    mark - chrono::Duration::seconds(safety_lag_s.max(0))
}

/// Row `i` of a change column as a mark (NULL: none).
pub fn mark_at(column: &Column, i: usize) -> Option<DateTime<Utc>> {
    match column {
        Column::TimestampNtz(v) => v.get(i).copied().flatten().map(|t| t.and_utc()),
        Column::TimestampLtz(v) => v.get(i).copied().flatten(),
        Column::TimestampTz(v) => v.get(i).copied().flatten().map(|t| t.to_utc()),
        _ => None,
    }
}

/// The largest mark of a batch's change column (NULLs ignored).
pub fn max_mark(column: &Column) -> Option<DateTime<Utc>> {
    (0..column.len()).filter_map(|i| mark_at(column, i)).max()
}

#[cfg(test)]
mod tests {
    use chrono::{FixedOffset, NaiveDate, TimeZone};

    use super::*;
    use crate::target::builtin_named;

    fn col(name: &str, sf_type: &str) -> ColumnMeta {
        ColumnMeta {
            name: name.into(),
            sf_type: sf_type.into(),
            nullable: true,
            precision: None,
            scale: None,
            length: None,
            collation: None,
        }
    }

    #[test]
    fn the_change_column_is_found_by_name_and_checked_by_type() {
        let t = builtin_named("impressions");
        let found = find(
            &t,
            "R",
            &[col("DATE", "date"), col("Updated_At", "timestamp_ntz")],
        )
        .unwrap()
        .unwrap();
        assert_eq!(found.quoted, "\"Updated_At\"");
        let missing = find(&t, "R", &[col("DATE", "date")]).unwrap_err();
        assert_eq!(missing.state, SqlState::FdwColumnNameNotFound);
        assert!(missing.hint.unwrap().contains("change_column"));
        let text = find(&t, "R", &[col("UPDATED_AT", "text")]).unwrap_err();
        assert_eq!(text.state, SqlState::FdwInvalidDataType);
        let none = t.with_change_column(None).unwrap();
        assert_eq!(find(&none, "R", &[]).unwrap(), None);
    }

    #[test]
    fn marks_round_trip_through_their_bindings() {
        let wall = NaiveDate::from_ymd_opt(2026, 12, 1)
            .unwrap()
            .and_hms_nano_opt(10, 30, 0, 123_456_789)
            .unwrap();
        let ntz = Column::TimestampNtz(vec![Some(wall), None]);
        let mark = max_mark(&ntz).unwrap();
        let c = ChangeColumn {
            name: "UPDATED_AT".into(),
            quoted: "\"UPDATED_AT\"".into(),
            sf_type: "timestamp_ntz".into(),
        };
        // A wall-clock value is bound back as the same wall-clock value.
        assert_eq!(c.binding(mark), Binding::TimestampNtz(wall));
        let plus2 = FixedOffset::east_opt(7200).unwrap();
        let tz = Column::TimestampTz(vec![Some(plus2.from_utc_datetime(&wall)), None]);
        assert_eq!(max_mark(&tz), Some(wall.and_utc()));
        assert_eq!(max_mark(&Column::TimestampLtz(vec![None, None])), None);
        assert_eq!(since(mark, 3600), mark - chrono::Duration::hours(1));
        assert_eq!(since(mark, -5), mark);
    }

    #[test]
    fn the_largest_mark_wins_whatever_the_order() {
        let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let v: Vec<Option<DateTime<Utc>>> = [5, 1, 9, 3]
            .iter()
            .map(|h| Some(base + chrono::Duration::hours(*h)))
            .collect();
        assert_eq!(
            max_mark(&Column::TimestampLtz(v)),
            Some(base + chrono::Duration::hours(9))
        );
    }
}
