//! Typed run records: the status of a run and what started it, as stored in
//! `bravo_sync_runs.status` / `.trigger` (text columns with CHECK constraints).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The status of a run in `bravo_sync_runs`. Only `Running` is not finished.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Started; its row was written in a transaction of its own.
    Running,
    /// Committed with the data it merged.
    Succeeded,
    /// Failed; nothing was merged.
    Failed,
    /// Cancelled (statement timeout, cancel request, terminated backend).
    Cancelled,
    /// Succeeded, but the transaction (or savepoint) around it rolled back.
    RolledBack,
    /// Its backend went away while it ran (crash, immediate shutdown, SIGKILL).
    Interrupted,
    /// Not run: another sync held the lock and the overlap policy is `skip`.
    Skipped,
}

impl RunStatus {
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Running,
        RunStatus::Succeeded,
        RunStatus::Failed,
        RunStatus::Cancelled,
        RunStatus::RolledBack,
        RunStatus::Interrupted,
        RunStatus::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
            RunStatus::RolledBack => "rolled_back",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Skipped => "skipped",
        }
    }

    /// Is the run over (anything but `running`)?
    pub fn is_finished(self) -> bool {
        self != RunStatus::Running
    }
}

/// What started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Trigger {
    /// `SELECT bravo_sync(...)`.
    #[serde(rename = "manual")]
    Manual,
    /// The scheduler, at a scheduled time.
    #[serde(rename = "schedule")]
    Schedule,
    /// The scheduler, retrying a failed scheduled run.
    #[serde(rename = "retry")]
    Retry,
    /// The scheduler, catching up a run missed while the server was down.
    #[serde(rename = "catch-up")]
    CatchUp,
    /// `bravo_run_now()`.
    #[serde(rename = "run-now")]
    RunNow,
    /// `bravo_refresh(campaign)`: one campaign's media buys over a short window.
    #[serde(rename = "refresh")]
    Refresh,
    /// `bravo_sync_intraday()` or its schedule: the window's rows changed since the
    /// high-water mark (see `bravo_core::changes`).
    #[serde(rename = "intraday")]
    Intraday,
}

impl Trigger {
    pub const ALL: [Trigger; 7] = [
        Trigger::Manual,
        Trigger::Schedule,
        Trigger::Retry,
        Trigger::CatchUp,
        Trigger::RunNow,
        Trigger::Refresh,
        Trigger::Intraday,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Schedule => "schedule",
            Trigger::Retry => "retry",
            Trigger::CatchUp => "catch-up",
            Trigger::RunNow => "run-now",
            Trigger::Refresh => "refresh",
            Trigger::Intraday => "intraday",
        }
    }

    /// Triggers of the scheduler's own runs (what catch-up looks back at).
    pub fn is_scheduled(self) -> bool {
        matches!(self, Trigger::Schedule | Trigger::Retry | Trigger::CatchUp)
    }
}

/// Texts as SQL string literals for an `IN (...)` list: `'a', 'b'`. The texts are
/// the fixed ones above (no quotes in them).
pub fn sql_list<I: IntoIterator<Item = &'static str>>(texts: I) -> String {
    texts
        .into_iter()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A text that is not a known status or trigger.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{value}\" is not a known run {what}")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

impl FromStr for RunStatus {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RunStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownValue {
                what: "status",
                value: s.to_string(),
            })
    }
}

impl FromStr for Trigger {
    type Err = UnknownValue;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Trigger::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| UnknownValue {
                what: "trigger",
                value: s.to_string(),
            })
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_triggers_round_trip_through_text_and_json() {
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(s));
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
            assert_eq!(
                serde_json::from_str::<RunStatus>(&format!("\"{s}\"")).unwrap(),
                s
            );
        }
        for t in Trigger::ALL {
            assert_eq!(t.as_str().parse::<Trigger>(), Ok(t));
            assert_eq!(
                serde_json::to_string(&t).unwrap(),
                format!("\"{}\"", t.as_str())
            );
        }
        assert_eq!(RunStatus::RolledBack.as_str(), "rolled_back");
        assert_eq!(Trigger::CatchUp.as_str(), "catch-up");
        assert!("Running".parse::<RunStatus>().is_err());
        assert_eq!(
            "later".parse::<Trigger>().unwrap_err().to_string(),
            "\"later\" is not a known run trigger"
        );
        assert!(!RunStatus::Running.is_finished());
        assert!(RunStatus::Interrupted.is_finished());
        assert!(Trigger::CatchUp.is_scheduled() && !Trigger::RunNow.is_scheduled());
        let scheduled = Trigger::ALL.into_iter().filter(|t| t.is_scheduled());
        assert_eq!(
            sql_list(scheduled.map(Trigger::as_str)),
            "'schedule', 'retry', 'catch-up'"
        );
    }

    #[test]
    fn texts_match_the_run_log_check_constraints() {
        let schema = include_str!("../../../src/schema.sql");
        for s in RunStatus::ALL {
            assert!(schema.contains(&format!("'{}'", s.as_str())), "{s}");
        }
        for t in Trigger::ALL {
            assert!(schema.contains(&format!("'{}'", t.as_str())), "{t}");
        }
    }
}
