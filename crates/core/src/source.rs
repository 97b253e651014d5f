//! What a sync asks Snowflake: relation names, column checks, the source query.

use bravo_snowflake::{Binding, ColumnMeta, Query};
use chrono::NaiveDate;

use crate::error::{CoreError, SqlState};
use crate::grain::{self, Grain};
use crate::key::{BuyId, KeyType};
use crate::order::KeyOrder;
use crate::target::{MetricKind, Target};

/// Parses `name`, `schema.name` or `db.schema.name`; parts are plain identifiers
/// (`[A-Za-z_][A-Za-z0-9_$]*`) or double-quoted (`""` escapes a quote). Returns the
/// relation re-rendered safely for SQL text, so nothing else can be spliced in.
pub fn parse_relation(text: &str) -> Result<String, String> {
    let mut parts = Vec::new();
    let chars: Vec<char> = text.trim().chars().collect();
    let mut i = 0;
    loop {
        if i >= chars.len() {
            return Err(format!(
                "\"{text}\" is not a relation name: a part is empty."
            ));
        }
        if chars[i] == '"' {
            let mut part = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(format!("\"{text}\" has an unterminated quoted identifier."))
                    }
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        part.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(c) => {
                        part.push(*c);
                        i += 1;
                    }
                }
            }
            if part.is_empty() {
                return Err(format!("\"{text}\" has an empty quoted identifier."));
            }
            parts.push(format!("\"{}\"", part.replace('"', "\"\"")));
        } else {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            let part: String = chars[start..i].iter().collect();
            if part.is_empty()
                || part
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit() || c == '$')
            {
                return Err(format!("\"{text}\" is not a relation name."));
            }
            parts.push(part);
        }
        match chars.get(i) {
            None => break,
            Some('.') => i += 1,
            Some(_) => {
                return Err(format!(
                    "\"{text}\" is not a relation name: unexpected character after a part."
                ))
            }
        }
    }
    if parts.len() > 3 {
        return Err(format!("\"{text}\" has more than three parts."));
    }
    Ok(parts.join("."))
}

/// The column list a target needs from its source, in the order we select them.
pub fn wanted_columns(target: &Target) -> Vec<&str> {
    let mut cols = vec![target.time_column(), "media_buy_id"];
    cols.extend(target.metrics.iter().map(|m| m.column.as_str()));
    cols
}

/// Matches the source's columns by name (case-insensitively) and checks their types.
/// Returns what to select, in [`wanted_columns`] order: each column's own spelling,
/// quoted for SQL, except the id, which is an expression that converts and orders it
/// as media buy ids of `key` type are ordered in PostgreSQL (see [`crate::key`]). When
/// that conversion can fail, the source's own id column is appended, so a set-aside
/// row shows the id as the source had it.
pub fn check_columns(
    target: &Target,
    key: KeyType,
    relation: &str,
    rowtype: &[ColumnMeta],
) -> Result<SourceColumns, CoreError> {
    let mut raw_id = None;
    let mut id_order = String::new();
    let available = || {
        rowtype
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut quoted = Vec::new();
    for want in wanted_columns(target) {
        let Some(col) = rowtype.iter().find(|c| c.name.eq_ignore_ascii_case(want)) else {
            return Err(CoreError::new(
                SqlState::FdwColumnNameNotFound,
                format!(
                    "source column \"{}\" is missing from Snowflake relation {relation}",
                    want.to_ascii_uppercase()
                ),
            )
            .detail(format!("{relation} has the columns: {}", available()))
            .hint(format!(
                "Point {} at a relation with the columns {}.",
                target.source_setting(),
                wanted_columns(target).join(", ").to_ascii_uppercase()
            )));
        };
        let kind = target
            .metrics
            .iter()
            .find(|m| m.column == want)
            .map(|m| m.kind);
        let whole = col.sf_type == "fixed" && col.scale.unwrap_or(0) == 0;
        let text = col.sf_type == "text";
        let time = want == target.time_column();
        let ok = match (want, kind) {
            _ if time && target.grain == Grain::Day => col.sf_type == "date",
            _ if time => matches!(
                col.sf_type.as_str(),
                "timestamp_ntz" | "timestamp_ltz" | "timestamp_tz"
            ),
            ("media_buy_id", _) => (whole && key != KeyType::Uuid) || text,
            (_, Some(MetricKind::Count)) => whole,
            (_, Some(MetricKind::Money)) => col.sf_type == "fixed",
            _ => false,
        };
        if !ok {
            let expected = match (want, kind) {
                _ if time && target.grain == Grain::Day => "DATE",
                _ if time => "TIMESTAMP_NTZ, TIMESTAMP_LTZ or TIMESTAMP_TZ",
                ("media_buy_id", _) if key == KeyType::Uuid => "VARCHAR (media_buys.id is uuid)",
                ("media_buy_id", _) => "NUMBER(p,0) or VARCHAR",
                (_, Some(MetricKind::Money)) => "NUMBER(p,s) (exact; FLOAT would lose cents)",
                _ => "NUMBER(p,0)",
            };
            return Err(CoreError::new(
                SqlState::FdwInvalidDataType,
                format!(
                    "source column \"{}\" of Snowflake relation {relation} has type {}{}, expected {expected}",
                    col.name,
                    col.sf_type.to_ascii_uppercase(),
                    col.scale.map(|s| format!(" (scale {s})")).unwrap_or_default()
                ),
            )
            .hint("Cast the column in a Snowflake view and point the source setting at the view."));
        }
        let q = format!("\"{}\"", col.name.replace('"', "\"\""));
        if want != "media_buy_id" {
            quoted.push(q);
            continue;
        }
        // (what is selected, what is ordered by)
        let (select, order) = match (key, text) {
            (KeyType::Int, false) => (q.clone(), q.clone()),
            (KeyType::Int, true) => {
                raw_id = Some(q.clone());
                let n = format!("TRY_TO_NUMBER({q})");
                (format!("{n} AS MEDIA_BUY_ID"), n)
            }
            (KeyType::Text, false) => {
                let t = format!("TO_VARCHAR({q})");
                (format!("{t} AS MEDIA_BUY_ID"), t)
            }
            // A column with a collation would be ordered by it: ask for bytes.
            (KeyType::Text, true) if col.collation.is_some() => {
                (q.clone(), format!("COLLATE({q}, 'utf8')"))
            }
            (KeyType::Text, true) => (q.clone(), q.clone()),
            // Ordered as lower-case uuids; the value comes as the source has it and is
            // lower-cased (and checked) as it is read (bravo_core::validate).
            (KeyType::Uuid, _) => (q.clone(), format!("LOWER({q})")),
        };
        id_order = order;
        quoted.push(select);
    }
    let date = quoted[0].clone();
    let id = id_order;
    let time_type = rowtype
        .iter()
        .find(|c| c.name.eq_ignore_ascii_case(target.time_column()))
        .map(|c| c.sf_type.clone())
        .unwrap_or_default();
    quoted.extend(raw_id.map(|q| format!("{q} AS {SOURCE_ID_ALIAS}")));
    Ok(SourceColumns {
        select: quoted,
        date,
        id,
        time_type,
        change: None,
    })
}

/// The name of the source's own id column in the result, when the id is converted.
pub const SOURCE_ID_ALIAS: &str = "BRAVO_SOURCE_ID";

/// What the fetch selects from a source ([`check_columns`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceColumns {
    /// The select list: date, id (converted and named MEDIA_BUY_ID if need be), the
    /// metrics, and the source's own id as [`SOURCE_ID_ALIAS`] if it was converted.
    pub select: Vec<String>,
    /// The time column (date or hour), for the window's WHERE and the ORDER BY.
    pub date: String,
    /// The id expression, for the ORDER BY.
    pub id: String,
    /// The time column's Snowflake type (`date`, `timestamp_ntz`, ...).
    pub time_type: String,
    /// The change column, selected after the others when set (the caller sets it:
    /// [`crate::changes::find`]).
    pub change: Option<crate::changes::ChangeColumn>,
}

impl SourceColumns {
    /// Does the result carry the source's own id ([`SOURCE_ID_ALIAS`])?
    pub fn has_source_id(&self) -> bool {
        self.select
            .last()
            .is_some_and(|c| c.ends_with(SOURCE_ID_ALIAS))
    }
}

/// The statement that describes a source (no rows).
pub fn describe_query(relation: &str, tag: Option<&str>) -> Query {
    let mut q = Query::new(format!("SELECT * FROM {relation}"));
    q.describe_only = true;
    q.query_tag = tag.map(str::to_string);
    q
}

/// The statement that fetches the window, sorted in `order` so that duplicates are
/// found while streaming ([`crate::validate::Deduper`]) and the rows can be compared
/// with the target's window, read in the same order, in one pass ([`crate::compare`]).
/// The window start is bound, never spliced. Rows with a NULL date are fetched too, so
/// that they are set aside visibly instead of silently never matching the window.
pub fn fetch_query(
    relation: &str,
    columns: &SourceColumns,
    window_start: NaiveDate,
    order: KeyOrder,
    tag: Option<&str>,
    buys: &[BuyId],
) -> Query {
    fetch_window(
        relation,
        columns,
        Binding::Date(window_start),
        order,
        tag,
        buys,
    )
}

/// [`fetch_query`] for an hourly family: its window starts at the instant of `slot`
/// (minutes since 2000-01-01 UTC), bound in the time column's own type (a
/// `TIMESTAMP_NTZ` column compares wall-clock times in `zone`, the family's zone).
pub fn fetch_hours_query(
    relation: &str,
    columns: &SourceColumns,
    slot: i32,
    zone: chrono_tz::Tz,
    order: KeyOrder,
    tag: Option<&str>,
    buys: &[BuyId],
) -> Query {
    let start = grain::slot_instant(slot);
    let bound = match columns.time_type.as_str() {
        "timestamp_ntz" => Binding::TimestampNtz(start.with_timezone(&zone).naive_local()),
        "timestamp_tz" => Binding::TimestampTz(start.fixed_offset()),
        _ => Binding::TimestampLtz(start),
    };
    fetch_window(relation, columns, bound, order, tag, buys)
}

/// [`fetch_query`] for the intraday refresh: only the window's rows whose change
/// column is later than `since` (the high-water mark minus the safety lag; see
/// [`crate::changes`]), bound in the column's own type. `columns.change` must be set.
pub fn fetch_changes_query(
    relation: &str,
    columns: &SourceColumns,
    window_start: NaiveDate,
    since: chrono::DateTime<chrono::Utc>,
    order: KeyOrder,
    tag: Option<&str>,
) -> Query {
    let mut q = fetch_window(
        relation,
        columns,
        Binding::Date(window_start),
        order,
        tag,
        &[],
    );
    if let Some(change) = &columns.change {
        q.sql = q.sql.replacen(
            " ORDER BY ",
            &format!(" AND {} > ? ORDER BY ", change.quoted),
            1,
        );
        q = q.bind(change.binding(since));
    }
    q
}

/// `buys` not empty: only those media buys' rows (`bravo_refresh`), each id a bind
/// variable, compared with the id as the sync reads it. The change column, when the
/// source has one, is selected last (its largest value is the high-water mark).
fn fetch_window(
    relation: &str,
    columns: &SourceColumns,
    start: Binding,
    order: KeyOrder,
    tag: Option<&str>,
    buys: &[BuyId],
) -> Query {
    let date = &columns.date;
    let only = if buys.is_empty() {
        String::new()
    } else {
        format!(
            " AND {} IN ({})",
            columns.id,
            vec!["?"; buys.len()].join(", ")
        )
    };
    let where_ = format!("({date} >= ? OR {date} IS NULL){only}");
    let mut select = columns.select.clone();
    select.extend(columns.change.as_ref().map(|c| c.quoted.clone()));
    let sql = format!(
        "SELECT {} FROM {relation} WHERE {where_} ORDER BY {}",
        select.join(", "),
        order.source_order_by(date, &columns.id),
    );
    let mut q = Query::new(sql).bind(start);
    for b in buys {
        q = q.bind(match b {
            BuyId::Int(i) => Binding::Int(*i),
            BuyId::Text(t) => Binding::Text(t.clone()),
        });
    }
    q.query_tag = tag.map(str::to_string);
    q
}

#[cfg(test)]
mod tests {
    use bravo_snowflake::ColumnMeta;

    use super::*;
    use crate::target::builtin_named;

    #[test]
    fn relation_names_are_parsed_and_requoted() {
        assert_eq!(
            parse_relation("PLATFORM_BUY_DAILY_IMPRESSIONS").unwrap(),
            "PLATFORM_BUY_DAILY_IMPRESSIONS"
        );
        assert_eq!(parse_relation("db.sch.t").unwrap(), "db.sch.t");
        assert_eq!(
            parse_relation("\"My \"\"DB\"\"\".s.t").unwrap(),
            "\"My \"\"DB\"\"\".s.t"
        );
        for bad in [
            "",
            "a;drop table x",
            "a.b.c.d",
            "a..b",
            "\"unterminated",
            "1abc",
            "a b",
        ] {
            assert!(parse_relation(bad).is_err(), "{bad}");
        }
    }

    fn col(name: &str, sf_type: &str, scale: Option<i64>) -> ColumnMeta {
        ColumnMeta {
            name: name.into(),
            sf_type: sf_type.into(),
            nullable: true,
            precision: None,
            scale,
            length: None,
            collation: None,
        }
    }

    #[test]
    fn columns_are_matched_by_name_and_checked_by_type() {
        let good = [
            col("Date", "date", None),
            col("MEDIA_BUY_ID", "fixed", Some(0)),
            col("impressions", "fixed", Some(0)),
            col("CLICKS", "fixed", Some(0)),
            col("SPEND", "fixed", Some(2)),
            col("EXTRA", "text", None),
        ];
        let quoted =
            check_columns(&builtin_named("impressions"), KeyType::Int, "R", &good).unwrap();
        assert!(!quoted.has_source_id());
        assert_eq!(
            quoted.select,
            [
                "\"Date\"",
                "\"MEDIA_BUY_ID\"",
                "\"impressions\"",
                "\"CLICKS\"",
                "\"SPEND\""
            ]
        );
        let day = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        // One campaign's buys: each id a bind variable after the window's start.
        let q = fetch_query(
            "R",
            &quoted,
            day,
            KeyOrder::MediaBuyFirst,
            None,
            &[BuyId::Int(7), BuyId::Int(9)],
        );
        assert!(
            q.sql.contains(
                "WHERE (\"Date\" >= ? OR \"Date\" IS NULL) AND \"MEDIA_BUY_ID\" IN (?, ?) ORDER BY"
            ),
            "{}",
            q.sql
        );
        assert_eq!(
            q.bindings,
            [Binding::Date(day), Binding::Int(7), Binding::Int(9)]
        );
        let q = fetch_query("R", &quoted, day, KeyOrder::MediaBuyFirst, None, &[]);
        assert!(q
            .sql
            .contains("WHERE (\"Date\" >= ? OR \"Date\" IS NULL) ORDER BY"));
        assert_eq!(q.bindings.len(), 1);
        assert!(
            q.sql.ends_with("ORDER BY \"MEDIA_BUY_ID\", \"Date\""),
            "{}",
            q.sql
        );
        let q = fetch_query("R", &quoted, day, KeyOrder::DateFirst, None, &[]);
        assert!(
            q.sql.ends_with(
                "WHERE (\"Date\" >= ? OR \"Date\" IS NULL) ORDER BY \"Date\", \"MEDIA_BUY_ID\""
            ),
            "{}",
            q.sql
        );

        // The intraday refresh: the change column is selected last and filtered on,
        // bound in its own type after the window's start.
        let mut changing = quoted.clone();
        changing.change = Some(crate::changes::ChangeColumn {
            name: "UPDATED_AT".into(),
            quoted: "\"UPDATED_AT\"".into(),
            sf_type: "timestamp_ltz".into(),
        });
        let since = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let q = fetch_changes_query("R", &changing, day, since, KeyOrder::MediaBuyFirst, None);
        assert!(
            q.sql.contains(
                ", \"UPDATED_AT\" FROM R WHERE (\"Date\" >= ? OR \"Date\" IS NULL) AND \"UPDATED_AT\" > ? ORDER BY \"MEDIA_BUY_ID\", \"Date\""
            ),
            "{}",
            q.sql
        );
        assert_eq!(
            q.bindings,
            [Binding::Date(day), Binding::TimestampLtz(since)]
        );
        // A window sync selects it too (for the mark) but does not filter on it.
        let q = fetch_query("R", &changing, day, KeyOrder::MediaBuyFirst, None, &[]);
        assert!(
            q.sql.contains(
                ", \"UPDATED_AT\" FROM R WHERE (\"Date\" >= ? OR \"Date\" IS NULL) ORDER BY"
            ),
            "{}",
            q.sql
        );

        let missing = check_columns(&builtin_named("impressions"), KeyType::Int, "R", &good[..4])
            .unwrap_err();
        assert_eq!(missing.state, SqlState::FdwColumnNameNotFound);
        assert!(missing
            .hint
            .unwrap()
            .contains("bravo_metrics.impressions_source"));

        let mut float_money = good.clone();
        float_money[4] = col("SPEND", "real", None);
        let e = check_columns(
            &builtin_named("impressions"),
            KeyType::Int,
            "R",
            &float_money,
        )
        .unwrap_err();
        assert_eq!(e.state, SqlState::FdwInvalidDataType);
        let mut scaled_count = good.clone();
        scaled_count[2] = col("IMPRESSIONS", "fixed", Some(2));
        let e = check_columns(
            &builtin_named("impressions"),
            KeyType::Int,
            "R",
            &scaled_count,
        )
        .unwrap_err();
        assert_eq!(e.state.code(), "HV004");
    }

    #[test]
    fn ids_are_converted_and_ordered_as_the_media_tool_types_them() {
        let cols = |id: ColumnMeta| {
            [
                col("DATE", "date", None),
                id,
                col("IMPRESSIONS", "fixed", Some(0)),
                col("CLICKS", "fixed", Some(0)),
                col("SPEND", "fixed", Some(2)),
            ]
        };
        let t = builtin_named("impressions");
        let number = cols(col("MEDIA_BUY_ID", "fixed", Some(0)));
        let varchar = cols(col("MEDIA_BUY_ID", "text", None));
        let mut collated = varchar.clone();
        collated[1].collation = Some("en-ci".into());
        let id = |key, c: &[ColumnMeta]| {
            check_columns(&t, key, "R", c).map(|q| (q.id.clone(), q.select.get(5).cloned()))
        };
        assert_eq!(
            id(KeyType::Int, &number).unwrap(),
            ("\"MEDIA_BUY_ID\"".into(), None)
        );
        assert_eq!(
            id(KeyType::Int, &varchar).unwrap(),
            (
                "TRY_TO_NUMBER(\"MEDIA_BUY_ID\")".into(),
                Some("\"MEDIA_BUY_ID\" AS BRAVO_SOURCE_ID".into())
            )
        );
        assert_eq!(
            id(KeyType::Text, &varchar).unwrap(),
            ("\"MEDIA_BUY_ID\"".into(), None)
        );
        assert_eq!(
            id(KeyType::Text, &collated).unwrap(),
            ("COLLATE(\"MEDIA_BUY_ID\", 'utf8')".into(), None)
        );
        assert_eq!(
            id(KeyType::Text, &number).unwrap(),
            ("TO_VARCHAR(\"MEDIA_BUY_ID\")".into(), None)
        );
        assert_eq!(
            id(KeyType::Uuid, &varchar).unwrap(),
            ("LOWER(\"MEDIA_BUY_ID\")".into(), None)
        );
        let e = id(KeyType::Uuid, &number).unwrap_err();
        assert_eq!(e.state, SqlState::FdwInvalidDataType);
        assert!(
            e.message.contains("VARCHAR (media_buys.id is uuid)"),
            "{}",
            e.message
        );
        let q = fetch_query(
            "R",
            &check_columns(&t, KeyType::Uuid, "R", &varchar).unwrap(),
            NaiveDate::from_ymd_opt(2026, 1, 2).unwrap(),
            KeyOrder::DateFirst,
            None,
            &[],
        );
        assert!(
            q.sql.starts_with(
                "SELECT \"DATE\", \"MEDIA_BUY_ID\", \"IMPRESSIONS\", \"CLICKS\", \"SPEND\" FROM R"
            ),
            "{}",
            q.sql
        );
        assert!(
            q.sql
                .ends_with("ORDER BY \"DATE\", LOWER(\"MEDIA_BUY_ID\")"),
            "{}",
            q.sql
        );
        // An integer key from VARCHAR: converted, and the source's own id kept.
        let cols = check_columns(&t, KeyType::Int, "R", &varchar).unwrap();
        assert_eq!(
            cols.select[1],
            "TRY_TO_NUMBER(\"MEDIA_BUY_ID\") AS MEDIA_BUY_ID"
        );
        assert_eq!(cols.select[5], "\"MEDIA_BUY_ID\" AS BRAVO_SOURCE_ID");
        assert!(cols.has_source_id());
    }

    #[test]
    fn an_hourly_family_reads_hour_start_of_any_timestamp_type() {
        use chrono::TimeZone;
        use chrono_tz::America::New_York;

        let t = builtin_named("impressions").with_grain(Grain::Hour, New_York);
        let cols = |time: ColumnMeta| {
            [
                time,
                col("MEDIA_BUY_ID", "fixed", Some(0)),
                col("IMPRESSIONS", "fixed", Some(0)),
                col("CLICKS", "fixed", Some(0)),
                col("SPEND", "fixed", Some(2)),
            ]
        };
        // 2026-11-01 05:00Z is 01:00 EDT, the first of New York's two 01:00s.
        let start = grain::minute_slot(chrono::Utc.with_ymd_and_hms(2026, 11, 1, 5, 0, 0).unwrap())
            .unwrap();
        let bound = |ty: &str| {
            let c = check_columns(&t, KeyType::Int, "R", &cols(col("hour_start", ty, Some(9))))
                .unwrap();
            assert_eq!(c.select[0], "\"hour_start\"");
            let q = fetch_hours_query("R", &c, start, New_York, KeyOrder::DateFirst, None, &[]);
            assert!(
                q.sql.ends_with(
                    "WHERE (\"hour_start\" >= ? OR \"hour_start\" IS NULL) ORDER BY \"hour_start\", \"MEDIA_BUY_ID\""
                ),
                "{}",
                q.sql
            );
            q.bindings[0].clone()
        };
        assert_eq!(
            bound("timestamp_ntz"),
            Binding::TimestampNtz(
                chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
                    .unwrap()
                    .and_hms_opt(1, 0, 0)
                    .unwrap()
            )
        );
        assert_eq!(
            bound("timestamp_ltz"),
            Binding::TimestampLtz(chrono::Utc.with_ymd_and_hms(2026, 11, 1, 5, 0, 0).unwrap())
        );
        assert!(matches!(bound("timestamp_tz"), Binding::TimestampTz(_)));

        // A DATE column is no hour; a daily family wants DATE.
        let e = check_columns(
            &t,
            KeyType::Int,
            "R",
            &cols(col("HOUR_START", "date", None)),
        )
        .unwrap_err();
        assert_eq!(e.state, SqlState::FdwInvalidDataType);
        assert!(
            e.message
                .contains("TIMESTAMP_NTZ, TIMESTAMP_LTZ or TIMESTAMP_TZ"),
            "{}",
            e.message
        );
        let e = check_columns(&t, KeyType::Int, "R", &cols(col("DATE", "date", None))).unwrap_err();
        assert_eq!(e.state, SqlState::FdwColumnNameNotFound);
        assert!(e.message.contains("HOUR_START"), "{}", e.message);
    }
}
