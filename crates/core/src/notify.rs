//! What a sync tells `LISTEN`ers: one JSON payload per finished run on the channel
//! [`CHANNEL`], under PostgreSQL's 8,000-byte limit for a NOTIFY payload.
//!
//! A committed sync notifies in its own transaction (delivered at commit, never for a
//! sync that rolled back); a failed, cancelled or rolled back one from the run log's
//! writer, which commits on its own. The payload names the run, its trigger, grain and
//! status, its window, its error if any, and each target's counts; when that would
//! not fit, the message is shortened first, then targets are left out (their number
//! is given), so a payload always parses.

use serde::Serialize;

/// The channel: `LISTEN bravo_metrics;`.
pub const CHANNEL: &str = "bravo_metrics";

/// The largest payload sent (PostgreSQL refuses 8,000 bytes and more).
pub const MAX_PAYLOAD: usize = 7_900;

/// One target's counts in a run.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TargetCounts {
    pub target: String,
    /// `synced`, or `missing_source` when the family was skipped.
    pub status: String,
    pub fetched: i64,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub deleted: i64,
    pub set_aside: i64,
}

/// A finished run, as notified.
#[derive(Clone, Debug, Serialize)]
pub struct RunEvent {
    /// `sync` for a committed run, `sync_failed` otherwise.
    pub event: &'static str,
    pub run_id: i64,
    pub trigger: String,
    /// `day` or `hour`.
    pub grain: String,
    pub status: String,
    pub lookback_days: i32,
    pub window_start: Option<String>,
    pub sqlstate: Option<String>,
    pub message: Option<String>,
    pub targets: Vec<TargetCounts>,
    /// Targets left out to fit the limit.
    #[serde(skip_serializing_if = "is_zero")]
    pub targets_omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The payload of `event`, at most [`MAX_PAYLOAD`] bytes.
pub fn payload(event: &RunEvent) -> String {
    let mut e = event.clone();
    let text = |e: &RunEvent| serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
    let mut out = text(&e);
    if out.len() <= MAX_PAYLOAD {
        return out;
    }
    if let Some(m) = &e.message {
        let keep = m
            .char_indices()
            .map(|(i, _)| i)
            .take_while(|&i| i <= 1000)
            .last()
            .unwrap_or(0);
        e.message = Some(format!("{}…", &m[..keep]));
        out = text(&e);
    }
    while out.len() > MAX_PAYLOAD && !e.targets.is_empty() {
        e.targets.pop();
        e.targets_omitted += 1;
        out = text(&e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(targets: usize, message: Option<String>) -> RunEvent {
        RunEvent {
            event: "sync",
            run_id: 42,
            trigger: "schedule".into(),
            grain: "day".into(),
            status: "succeeded".into(),
            lookback_days: 30,
            window_start: Some("2026-11-01".into()),
            sqlstate: None,
            message,
            targets: (0..targets)
                .map(|i| TargetCounts {
                    target: format!("family_number_{i}"),
                    status: "synced".into(),
                    fetched: 1_500_000,
                    inserted: 10,
                    updated: 45_000,
                    unchanged: 1_454_990,
                    deleted: 0,
                    set_aside: 3,
                })
                .collect(),
            targets_omitted: 0,
        }
    }

    #[test]
    fn a_run_as_json() {
        let p = payload(&event(2, None));
        let v: serde_json::Value = serde_json::from_str(&p).unwrap();
        assert_eq!(v["event"], "sync");
        assert_eq!(v["run_id"], 42);
        assert_eq!(v["targets"][1]["target"], "family_number_1");
        assert_eq!(v["targets"][0]["updated"], 45_000);
        assert!(v.get("targets_omitted").is_none());
    }

    #[test]
    fn large_runs_fit_and_still_parse() {
        let long = "é".repeat(20_000);
        for (n, msg) in [(500, None), (3, Some(long.clone())), (200, Some(long))] {
            let e = event(n, msg);
            let p = payload(&e);
            assert!(p.len() <= MAX_PAYLOAD, "{}", p.len());
            let v: serde_json::Value = serde_json::from_str(&p).unwrap();
            let kept = v["targets"].as_array().unwrap().len();
            let omitted = v["targets_omitted"].as_u64().unwrap_or(0) as usize;
            assert_eq!(kept + omitted, n);
        }
    }
}
