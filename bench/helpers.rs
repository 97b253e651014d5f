//! Helpers shared by the benchmarks (`mod helpers;` in each).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::Client;

use crate::common::db_message;

/// A numeric environment setting, or `default`.
pub fn arg(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system, every thread) the process `pid` has used so far.
#[allow(dead_code)] // not every benchmark measures CPU
pub fn cpu(pid: i32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / 100.0
}

/// Peak anonymous RSS (kB) of `pid` while `f` runs, and f's wall time.
#[allow(dead_code)] // not every benchmark samples memory
pub fn measured<T>(pid: i32, f: impl FnOnce() -> T) -> (T, Duration, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0u64;
        while !s.load(Ordering::Relaxed) {
            if let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("RssAnon:") {
                        let kb: u64 = v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0);
                        peak = peak.max(kb);
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        peak
    });
    let t0 = Instant::now();
    let out = f();
    let took = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    (out, took, sampler.join().unwrap())
}

/// The backend pid of a session.
#[allow(dead_code)] // not every benchmark reads it
pub fn pid(c: &mut Client) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0)
}

/// Runs `sql` (one or more statements) and returns its wall time.
#[allow(dead_code)]
pub fn timed(c: &mut Client, sql: &str) -> Duration {
    let t0 = Instant::now();
    c.batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {}", db_message(&e)));
    t0.elapsed()
}

/// The median (the upper one for an even count).
#[allow(dead_code)]
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs `sql` (a sync returning `fetched` and `updated` per target): seconds, rows
/// fetched, rows updated.
#[allow(dead_code)] // not every benchmark times syncs this way
pub fn timed_sync(c: &mut Client, sql: &str) -> (f64, i64, i64) {
    let t0 = Instant::now();
    let r = c
        .query_one(
            &format!("SELECT sum(fetched)::bigint, sum(updated)::bigint FROM ({sql}) s"),
            &[],
        )
        .unwrap_or_else(|e| panic!("{sql}: {}", db_message(&e)));
    (t0.elapsed().as_secs_f64(), r.get(0), r.get(1))
}
