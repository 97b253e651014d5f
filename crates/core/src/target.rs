//! The metric families a sync fills, as data. Each family is a row of the extension's
//! catalog (`bravo_families` and `bravo_family_metrics`, read by the extension crate at
//! the start of every sync): its PostgreSQL table, its Snowflake source, its metric
//! columns and their kinds. The fetch, validation and comparison code is generic over
//! a [`Target`]; [`builtin`] is the catalog the extension ships.

use std::fmt;

use chrono_tz::Tz;

use crate::grain::Grain;

/// How a metric is validated and stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// A non-negative bigint count.
    Count,
    /// An exact amount (numeric, any scale). May be negative (credits).
    Money,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Count => "count",
            MetricKind::Money => "money",
        }
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "count" => Ok(MetricKind::Count),
            "money" => Ok(MetricKind::Money),
            other => Err(format!(
                "metric kind \"{other}\" is not one of: count, money"
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metric {
    /// Column name in PostgreSQL; the Snowflake column is the same name, matched
    /// case-insensitively.
    pub column: String,
    pub kind: MetricKind,
}

/// One metric family, as the catalog describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The family's name, used in results, logs, progress and the set-aside table.
    pub name: String,
    /// The metric table, in the media tool's schema.
    pub table: String,
    /// The Snowflake relation, when the catalog names one.
    pub source: Option<String>,
    pub metrics: Vec<Metric>,
    /// A required family whose source relation is missing fails the sync; any other
    /// is skipped and reported.
    pub required: bool,
    /// One row per media buy and day (`date`) or hour (`hour_start`).
    pub grain: Grain,
    /// The zone a `TIMESTAMP_NTZ` time column is read in (hourly families).
    pub zone: Tz,
    /// The source's change column (`updated_at` for the shipped families), which the
    /// intraday refresh filters on ([`crate::changes`]); `None`: the family has none
    /// and only the window syncs fill it.
    pub change_column: Option<String>,
}

/// Columns every metric table has besides its metrics.
pub const RESERVED_COLUMNS: [&str; 5] = [
    "date",
    "hour_start",
    "media_buy_id",
    "created_at",
    "updated_at",
];

/// A plain lower-case SQL identifier (`[a-z_][a-z0-9_]*`, at most 63 bytes): safe to
/// splice into SQL text unquoted, and spelled the same in PostgreSQL and (upper-cased,
/// matched case-insensitively) in Snowflake.
pub fn is_plain_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

/// Why a catalog row is not a usable family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogError(pub String);

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Target {
    /// A family from its catalog row; checks every name (they are spliced into SQL).
    pub fn new(
        name: &str,
        table: &str,
        source: Option<&str>,
        metrics: Vec<(String, String)>,
        required: bool,
    ) -> Result<Self, CatalogError> {
        let bad = |what: &str, v: &str| {
            CatalogError(format!(
                "metric family \"{name}\": {what} \"{v}\" is not a plain lower-case identifier"
            ))
        };
        if !is_plain_identifier(name) || name.len() > 40 {
            return Err(bad("the name", name));
        }
        if !is_plain_identifier(table) {
            return Err(bad("the table", table));
        }
        if metrics.is_empty() {
            return Err(CatalogError(format!(
                "metric family \"{name}\" has no metric columns"
            )));
        }
        let mut out: Vec<Metric> = Vec::with_capacity(metrics.len());
        for (column, kind) in metrics {
            if !is_plain_identifier(&column) {
                return Err(bad("the metric column", &column));
            }
            if RESERVED_COLUMNS.contains(&column.as_str()) || out.iter().any(|m| m.column == column)
            {
                return Err(CatalogError(format!(
                    "metric family \"{name}\": the metric column \"{column}\" is a key or bookkeeping column, or listed twice"
                )));
            }
            let kind = MetricKind::parse(&kind)
                .map_err(|e| CatalogError(format!("metric family \"{name}\": {e}")))?;
            out.push(Metric { column, kind });
        }
        Ok(Target {
            name: name.to_string(),
            table: table.to_string(),
            source: source.map(str::to_string),
            metrics: out,
            required,
            grain: Grain::Day,
            zone: Tz::UTC,
            change_column: None,
        })
    }

    /// The same family with a change column (a plain identifier: it is spliced into
    /// the source query, quoted as the source spells it).
    pub fn with_change_column(mut self, column: Option<&str>) -> Result<Self, CatalogError> {
        if let Some(c) = column {
            if !is_plain_identifier(c) {
                return Err(CatalogError(format!(
                    "metric family \"{}\": the change column \"{c}\" is not a plain lower-case identifier",
                    self.name
                )));
            }
        }
        self.change_column = column.map(str::to_string);
        Ok(self)
    }

    /// The same family at another grain; `zone` reads a `TIMESTAMP_NTZ` hour column.
    pub fn with_grain(mut self, grain: Grain, zone: Tz) -> Self {
        self.grain = grain;
        self.zone = zone;
        self
    }

    /// The key's time column (`date` or `hour_start`).
    pub fn time_column(&self) -> &'static str {
        self.grain.time_column()
    }

    /// The Snowflake relation read when neither the catalog nor a setting names one:
    /// the table's name in upper case.
    pub fn default_source(&self) -> String {
        self.table.to_ascii_uppercase()
    }

    /// The setting that names this family's Snowflake relation when the catalog does
    /// not (`bravo_metrics.<name>_source`; the extension defines it for the families
    /// that had one before the catalog: impressions and videos).
    pub fn source_setting(&self) -> String {
        format!("bravo_metrics.{}_source", self.name)
    }

    /// Where a user re-points this family.
    pub fn repoint_hint(&self) -> String {
        format!(
            "UPDATE bravo_families SET source_relation = '...' WHERE family = '{}'",
            self.name
        )
    }
}

fn builtin_family(
    name: &str,
    table: &str,
    enabled: bool,
    metrics: &[(&str, MetricKind)],
) -> (Target, bool) {
    let metrics = metrics
        .iter()
        .map(|(c, k)| (c.to_string(), k.as_str().to_string()))
        .collect();
    (
        Target::new(name, table, None, metrics, false)
            .and_then(|t| t.with_change_column(Some("updated_at")))
            .expect("builtin family"),
        enabled,
    )
}

/// The catalog the extension ships (`src/families.sql` inserts the same rows), with
/// whether each family is enabled out of the box.
pub fn builtin() -> Vec<(Target, bool)> {
    use MetricKind::{Count, Money};
    vec![
        builtin_family(
            "impressions",
            "platform_buy_daily_impressions",
            true,
            &[("impressions", Count), ("clicks", Count), ("spend", Money)],
        ),
        builtin_family(
            "videos",
            "platform_buy_daily_videos",
            true,
            &[
                ("video_starts", Count),
                ("video_completions", Count),
                ("video_views", Count),
            ],
        ),
        builtin_family(
            "conversions",
            "platform_buy_daily_conversions",
            false,
            &[
                ("post_click_conversions", Count),
                ("post_view_conversions", Count),
                ("conversion_value", Money),
            ],
        ),
        builtin_family(
            "viewability",
            "platform_buy_daily_viewability",
            false,
            &[
                ("eligible_impressions", Count),
                ("measurable_impressions", Count),
                ("viewable_impressions", Count),
            ],
        ),
        hourly(builtin_family(
            "impressions_hourly",
            "platform_buy_hourly_impressions",
            false,
            &[("impressions", Count), ("clicks", Count), ("spend", Money)],
        )),
        hourly(builtin_family(
            "videos_hourly",
            "platform_buy_hourly_videos",
            false,
            &[
                ("video_starts", Count),
                ("video_completions", Count),
                ("video_views", Count),
            ],
        )),
    ]
}

fn hourly((t, enabled): (Target, bool)) -> (Target, bool) {
    (t.with_grain(Grain::Hour, Tz::UTC), enabled)
}

/// A shipped family by name (tests and benchmarks).
pub fn builtin_named(name: &str) -> Target {
    builtin()
        .into_iter()
        .map(|(t, _)| t)
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no builtin family {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_families_are_distinct_and_name_their_settings() {
        let all = builtin();
        let names: Vec<&str> = all.iter().map(|(t, _)| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "impressions",
                "videos",
                "conversions",
                "viewability",
                "impressions_hourly",
                "videos_hourly"
            ]
        );
        let on: Vec<bool> = all.iter().map(|(_, e)| *e).collect();
        assert_eq!(on, [true, true, false, false, false, false]);
        let grains: Vec<&str> = all.iter().map(|(t, _)| t.grain.as_str()).collect();
        assert_eq!(grains, ["day", "day", "day", "day", "hour", "hour"]);
        let imp = builtin_named("impressions");
        assert_eq!(imp.source_setting(), "bravo_metrics.impressions_source");
        assert_eq!(
            builtin_named("videos").default_source(),
            "PLATFORM_BUY_DAILY_VIDEOS"
        );
        assert_eq!(imp.metrics[2].kind, MetricKind::Money);
    }

    #[test]
    fn catalog_rows_with_unsafe_or_clashing_names_are_refused() {
        let m = |c: &str, k: &str| vec![(c.to_string(), k.to_string())];
        assert!(Target::new("f", "t", None, m("x", "count"), false).is_ok());
        for (name, table, metrics) in [
            ("F", "t", m("x", "count")),
            ("f", "t; drop table x", m("x", "count")),
            ("f", "\"t\"", m("x", "count")),
            ("f", "t", m("X", "count")),
            ("f", "t", m("date", "count")),
            ("f", "t", m("x", "float")),
            ("f", "t", vec![]),
            ("f", "t", [m("x", "count"), m("x", "money")].concat()),
        ] {
            let e = Target::new(name, table, None, metrics, false).unwrap_err();
            assert!(e.0.starts_with("metric family"), "{e}");
        }
        assert!(!is_plain_identifier(&"a".repeat(64)));
        assert!(is_plain_identifier("_a1"));
        assert!(!is_plain_identifier("1a"));
        assert!(!is_plain_identifier("é"));
    }
}
