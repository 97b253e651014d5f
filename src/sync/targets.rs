//! The metric tables a sync fills, described once. New metric families (conversions,
//! viewability) are new entries here; the fetch, stage and merge code is generic.

use crate::settings;

/// How a metric is validated and stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// A non-negative bigint count.
    Count,
    /// An exact amount (numeric, any scale). May be negative (credits).
    Money,
}

#[derive(Clone, Copy, Debug)]
pub struct Metric {
    /// Column name in PostgreSQL; the Snowflake column is the same name, matched
    /// case-insensitively.
    pub column: &'static str,
    pub kind: MetricKind,
}

#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// Short name used in results, logs and the set-aside table.
    pub name: &'static str,
    pub table: &'static str,
    pub metrics: &'static [Metric],
}

impl Target {
    /// The configured Snowflake relation feeding this target.
    pub fn source(&self) -> String {
        let setting = match self.name {
            "impressions" => &settings::IMPRESSIONS_SOURCE,
            _ => &settings::VIDEOS_SOURCE,
        };
        settings::get_str(setting).unwrap_or_else(|| self.table.to_ascii_uppercase())
    }
}

pub const IMPRESSIONS: Target = Target {
    name: "impressions",
    table: "platform_buy_daily_impressions",
    metrics: &[
        Metric {
            column: "impressions",
            kind: MetricKind::Count,
        },
        Metric {
            column: "clicks",
            kind: MetricKind::Count,
        },
        Metric {
            column: "spend",
            kind: MetricKind::Money,
        },
    ],
};

pub const VIDEOS: Target = Target {
    name: "videos",
    table: "platform_buy_daily_videos",
    metrics: &[
        Metric {
            column: "video_starts",
            kind: MetricKind::Count,
        },
        Metric {
            column: "video_completions",
            kind: MetricKind::Count,
        },
        Metric {
            column: "video_views",
            kind: MetricKind::Count,
        },
    ],
};

pub const ALL: [Target; 2] = [IMPRESSIONS, VIDEOS];
