//! The metric tables a sync fills, described once. New metric families (conversions,
//! viewability) are new entries here; the fetch, validation and comparison code is
//! generic. Which Snowflake relation feeds a target is a setting, read by the
//! extension crate through [`TargetId`].

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

/// Which target: the key of its source setting (`bravo_metrics.<name>_source`) and of
/// its progress slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TargetId {
    Impressions,
    Videos,
}

#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub id: TargetId,
    /// Short name used in results, logs and the set-aside table.
    pub name: &'static str,
    pub table: &'static str,
    pub metrics: &'static [Metric],
}

impl Target {
    /// The Snowflake relation read when its source setting is empty: the table's name
    /// in upper case.
    pub fn default_source(&self) -> String {
        self.table.to_ascii_uppercase()
    }

    /// The name of the setting naming this target's Snowflake relation.
    pub fn source_setting(&self) -> String {
        format!("bravo_metrics.{}_source", self.name)
    }
}

pub const IMPRESSIONS: Target = Target {
    id: TargetId::Impressions,
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
    id: TargetId::Videos,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_distinct_and_name_their_settings() {
        assert_eq!(ALL.map(|t| t.id), [TargetId::Impressions, TargetId::Videos]);
        assert_eq!(
            IMPRESSIONS.source_setting(),
            "bravo_metrics.impressions_source"
        );
        assert_eq!(VIDEOS.default_source(), "PLATFORM_BUY_DAILY_VIDEOS");
    }
}
