//! Retry policy (spec §9): decorrelated jitter `min(cap, uniform[base, 3*prev))`,
//! a maximum number of retries, a session-wide retry budget, a total deadline, and the
//! [`RetryEvent`]s that report each retry to the caller.

use std::fmt;
use std::sync::mpsc::Sender;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::RetryPolicy;
use crate::error::Error;
use crate::redact::redact;

/// Which request of the protocol a [`RetryEvent`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestKind {
    /// `POST /session/v1/login-request`
    Login,
    /// `POST /session/token-request` (session renewal)
    Renewal,
    /// `POST /queries/v1/query-request`
    Query,
    /// `GET /queries/{id}/result` (polling a running query)
    QueryResult,
    /// `POST /queries/v1/abort-request`
    Abort,
    /// `POST /session?delete=true` (never retried)
    Logout,
    /// `GET` of result chunk `index` (0-based, in result order)
    Chunk { index: usize },
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestKind::Login => f.write_str("login"),
            RequestKind::Renewal => f.write_str("session renewal"),
            RequestKind::Query => f.write_str("query"),
            RequestKind::QueryResult => f.write_str("query result"),
            RequestKind::Abort => f.write_str("abort"),
            RequestKind::Logout => f.write_str("logout"),
            RequestKind::Chunk { index } => write!(f, "download of result chunk {index}"),
        }
    }
}

/// One retry, reported through [`crate::Config::retry_events`]: attempt `attempt` of
/// `request` failed with `error`, and the client sleeps `sleep` before the next attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryEvent {
    /// The request being retried.
    pub request: RequestKind,
    /// The attempt that failed: 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// Why it failed (transport error, HTTP status with the server's message, ...),
    /// redacted: no token, password, key or presigned URL.
    pub error: String,
    /// The sleep before the next attempt.
    pub sleep: Duration,
    /// Time since the first attempt of this request.
    pub elapsed: Duration,
    /// The session's time spent retrying so far, against [`RetryPolicy::budget`].
    pub budget_spent: Duration,
}

/// `1 attempt`, `3 attempts`.
pub(crate) fn attempts_text(n: u32) -> String {
    if n == 1 {
        "1 attempt".into()
    } else {
        format!("{n} attempts")
    }
}

/// `30 s`, `2.5 s`, `0.25 s`.
pub(crate) fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if d.subsec_nanos() == 0 {
        format!("{s:.0} s")
    } else if s >= 1.0 {
        format!("{s:.1} s")
    } else {
        format!("{s:.2} s")
    }
}

/// The session-wide retry budget ([`RetryPolicy::budget`]): wall-clock time during
/// which at least one request of the session was in a retry streak (from its first
/// failure until it succeeds or gives up).
#[derive(Debug)]
pub(crate) struct RetryBudget {
    limit: Duration,
    state: Mutex<BudgetState>,
}

#[derive(Debug, Default)]
struct BudgetState {
    /// Closed intervals with at least one streak.
    spent: Duration,
    /// Streaks under way.
    active: usize,
    /// Start of the current interval (`active > 0`).
    since: Option<Instant>,
}

impl RetryBudget {
    pub(crate) fn new(limit: Duration) -> Self {
        RetryBudget {
            limit,
            state: Mutex::new(BudgetState::default()),
        }
    }

    pub(crate) fn limit(&self) -> Duration {
        self.limit
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Time spent retrying so far, the current interval included.
    pub(crate) fn spent(&self) -> Duration {
        let s = self.lock();
        s.spent + s.since.map(|t| t.elapsed()).unwrap_or_default()
    }

    fn begin(&self) {
        let mut s = self.lock();
        if s.active == 0 {
            s.since = Some(Instant::now());
        }
        s.active += 1;
    }

    fn end(&self) {
        let mut s = self.lock();
        s.active = s.active.saturating_sub(1);
        if s.active == 0 {
            if let Some(t) = s.since.take() {
                s.spent += t.elapsed();
            }
        }
    }
}

/// The retry bookkeeping of one logical request: backoff, the session budget, the
/// deadline and the events. Its retry streak ends when it is dropped (success, final
/// error, or the future dropped).
pub(crate) struct Retrier<'a> {
    request: RequestKind,
    backoff: Backoff,
    budget: &'a RetryBudget,
    events: Option<&'a Sender<RetryEvent>>,
    started: Instant,
    attempts: u32,
    in_streak: bool,
}

impl<'a> Retrier<'a> {
    pub(crate) fn new(
        request: RequestKind,
        policy: &RetryPolicy,
        budget: &'a RetryBudget,
        events: Option<&'a Sender<RetryEvent>>,
    ) -> Self {
        Retrier {
            request,
            backoff: Backoff::new(policy),
            budget,
            events,
            started: Instant::now(),
            attempts: 0,
            in_streak: false,
        }
    }

    /// After a failed attempt that may be retried (`message` says why, already
    /// redacted): the sleep before the next attempt, reported as a [`RetryEvent`], or
    /// the final error when the retry count, the session budget or `deadline` says stop.
    pub(crate) fn after_failure(
        &mut self,
        message: &str,
        retry_after: Option<Duration>,
        deadline: &Deadline,
    ) -> Result<Duration, Error> {
        self.attempts += 1;
        if !self.in_streak {
            self.in_streak = true;
            self.budget.begin();
        }
        let attempts = self.attempts;
        let elapsed = self.started.elapsed();
        let what = self.request;
        let Some(mut sleep) = self.backoff.next_sleep() else {
            return Err(Error::Network {
                message: format!(
                    "{what} failed after {} over {}: {message}",
                    attempts_text(attempts),
                    secs(elapsed)
                ),
            });
        };
        if let Some(ra) = retry_after {
            sleep = sleep.max(ra);
        }
        let spent = self.budget.spent();
        if spent + sleep > self.budget.limit() {
            return Err(Error::Network {
                message: format!(
                    "{what} failed after {} over {}; retry budget exhausted \
                     ({} spent retrying in this session, budget {}); last error: {message}",
                    attempts_text(attempts),
                    secs(elapsed),
                    secs(spent),
                    secs(self.budget.limit()),
                ),
            });
        }
        if !deadline.allows(sleep) {
            return Err(Error::Timeout(format!(
                "{what}: deadline reached after {attempts} attempts (last error: {message})"
            )));
        }
        if let Some(tx) = self.events {
            // A dropped receiver only means nobody listens any more.
            let _ = tx.send(RetryEvent {
                request: what,
                attempt: attempts,
                error: redact(message),
                sleep,
                elapsed,
                budget_spent: spent,
            });
        }
        Ok(sleep)
    }
}

impl Drop for Retrier<'_> {
    fn drop(&mut self) {
        if self.in_streak {
            self.budget.end();
        }
    }
}

/// A uniform random number in `[0, 1)`, from the OS RNG via UUIDv4 (no extra crate).
pub(crate) fn random_unit() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() as u64 >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// The sleeps between attempts of one logical request.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    policy: RetryPolicy,
    prev: Duration,
    retries: u32,
}

impl Backoff {
    pub(crate) fn new(policy: &RetryPolicy) -> Self {
        Backoff {
            policy: policy.clone(),
            prev: policy.base,
            retries: 0,
        }
    }

    /// Retries done so far.
    #[cfg(test)]
    pub(crate) fn retries(&self) -> u32 {
        self.retries
    }

    /// The next sleep, or `None` when the retry budget is used up.
    pub(crate) fn next_sleep(&mut self) -> Option<Duration> {
        if self.retries >= self.policy.max_retries {
            return None;
        }
        self.retries += 1;
        let base = self.policy.base.as_secs_f64();
        let hi = (self.prev.as_secs_f64() * 3.0).max(base);
        let sleep = base + (hi - base) * random_unit();
        let sleep = Duration::from_secs_f64(sleep).min(self.policy.cap);
        self.prev = sleep;
        Some(sleep)
    }
}

/// An optional absolute deadline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    pub(crate) fn after(limit: Option<Duration>) -> Self {
        Deadline(limit.map(|d| Instant::now() + d))
    }
    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.0.map(|d| d.saturating_duration_since(Instant::now()))
    }
    pub(crate) fn expired(&self) -> bool {
        matches!(self.remaining(), Some(d) if d.is_zero())
    }
    /// `timeout` shortened to what is left of the deadline.
    pub(crate) fn clamp(&self, timeout: Duration) -> Duration {
        match self.remaining() {
            Some(r) => timeout.min(r),
            None => timeout,
        }
    }
    /// Whether sleeping `d` would still leave time for another attempt.
    pub(crate) fn allows(&self, d: Duration) -> bool {
        match self.remaining() {
            Some(r) => d < r,
            None => true,
        }
    }
}

/// Parses `Retry-After` given in seconds (HTTP dates are ignored).
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)))
}

/// Sleeps between async-result polls (spec §7): 0.5 s × [1,1,2,3,4,8,10], then the last.
pub(crate) fn async_poll_sleep(attempt: usize) -> Duration {
    const STEPS: [u64; 7] = [1, 1, 2, 3, 4, 8, 10];
    Duration::from_millis(500 * STEPS[attempt.min(STEPS.len() - 1)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decorrelated_jitter_bounds() {
        let policy = RetryPolicy::default();
        for _ in 0..200 {
            let mut b = Backoff::new(&policy);
            let mut prev = policy.base;
            let mut n = 0;
            while let Some(s) = b.next_sleep() {
                assert!(s >= policy.base, "{s:?} below base");
                assert!(s <= policy.cap, "{s:?} above cap");
                assert!(s <= prev * 3, "{s:?} above 3*prev {prev:?}");
                prev = s;
                n += 1;
            }
            assert_eq!(n, policy.max_retries);
            assert_eq!(b.retries(), policy.max_retries);
        }
    }

    #[test]
    fn zero_retries_and_helpers() {
        let policy = RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        };
        assert!(Backoff::new(&policy).next_sleep().is_none());
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(async_poll_sleep(0), Duration::from_millis(500));
        assert_eq!(async_poll_sleep(6), Duration::from_secs(5));
        assert_eq!(async_poll_sleep(60), Duration::from_secs(5));
        let u = random_unit();
        assert!((0.0..1.0).contains(&u));
    }

    #[test]
    fn budget_counts_overlapping_streaks_once() {
        let budget = RetryBudget::new(Duration::from_secs(60));
        assert_eq!(budget.spent(), Duration::ZERO);
        budget.begin();
        budget.begin(); // a second request retrying at the same time
        std::thread::sleep(Duration::from_millis(120));
        budget.end();
        std::thread::sleep(Duration::from_millis(120));
        budget.end();
        let spent = budget.spent();
        assert!(
            spent >= Duration::from_millis(240) && spent < Duration::from_millis(480),
            "one interval of ~240 ms, not 360 ms summed: {spent:?}"
        );
        // Idle time is not counted; a new streak adds to what was spent.
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(budget.spent(), spent);
        budget.begin();
        std::thread::sleep(Duration::from_millis(50));
        budget.end();
        assert!(budget.spent() >= spent + Duration::from_millis(50));
    }

    #[tokio::test]
    async fn retrier_stops_at_the_budget_and_reports_retries() {
        let policy = RetryPolicy {
            max_retries: 100,
            base: Duration::from_millis(40),
            cap: Duration::from_millis(60),
            budget: Duration::from_millis(300),
        };
        let budget = RetryBudget::new(policy.budget);
        let (tx, rx) = std::sync::mpsc::channel();
        let started = std::time::Instant::now();
        let err = {
            let mut r = Retrier::new(RequestKind::Query, &policy, &budget, Some(&tx));
            loop {
                match r.after_failure("HTTP 503: token=SECRETVALUE", None, &Deadline::after(None)) {
                    Ok(sleep) => tokio::time::sleep(sleep).await,
                    Err(e) => break e,
                }
            }
        };
        assert!(
            started.elapsed() < Duration::from_millis(600),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(err.kind(), crate::ErrorKind::Network);
        let m = err.to_string();
        assert!(m.contains("retry budget exhausted"), "{m}");
        let events: Vec<RetryEvent> = rx.try_iter().collect();
        assert!(events.len() >= 3, "{events:?}");
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.request, RequestKind::Query);
            assert_eq!(e.attempt, i as u32 + 1);
            assert!(e.sleep >= policy.base && e.sleep <= policy.cap);
            assert!(!e.error.contains("SECRETVALUE"), "{}", e.error);
            assert!(e.error.contains("HTTP 503"));
        }
        assert!(
            m.contains(&format!("after {} attempts", events.len() + 1)),
            "{m}"
        );
        // The streak ended with the retrier; the budget is used up for the session.
        let spent = budget.spent();
        assert!(spent >= Duration::from_millis(240), "{spent:?}");
        let mut next = Retrier::new(RequestKind::Login, &policy, &budget, Some(&tx));
        let e = next
            .after_failure("connection refused", None, &Deadline::after(None))
            .unwrap_err();
        assert!(e.to_string().contains("after 1 attempt over"), "{e}");
        assert!(rx.try_recv().is_err(), "no retry, no event");
        // A zero budget disables retries; max_retries still applies below the budget.
        let zero = RetryBudget::new(Duration::ZERO);
        assert!(Retrier::new(RequestKind::Abort, &policy, &zero, None)
            .after_failure("x", None, &Deadline::after(None))
            .is_err());
        let two = RetryPolicy {
            max_retries: 2,
            ..policy.clone()
        };
        let roomy = RetryBudget::new(Duration::from_secs(60));
        let mut r = Retrier::new(RequestKind::Chunk { index: 3 }, &two, &roomy, None);
        assert!(r.after_failure("x", None, &Deadline::after(None)).is_ok());
        assert!(r.after_failure("x", None, &Deadline::after(None)).is_ok());
        let e = r
            .after_failure("x", None, &Deadline::after(None))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("download of result chunk 3 failed after 3 attempts"),
            "{e}"
        );
    }

    #[test]
    fn seconds_format() {
        assert_eq!(secs(Duration::from_secs(30)), "30 s");
        assert_eq!(secs(Duration::from_millis(2500)), "2.5 s");
        assert_eq!(secs(Duration::from_millis(250)), "0.25 s");
    }

    #[tokio::test]
    async fn deadlines() {
        let d = Deadline::after(Some(Duration::from_secs(10)));
        assert!(!d.expired());
        assert!(d.clamp(Duration::from_secs(90)) <= Duration::from_secs(10));
        assert!(!d.allows(Duration::from_secs(11)));
        let none = Deadline::after(None);
        assert!(none.allows(Duration::from_secs(1_000_000)));
        assert_eq!(none.clamp(Duration::from_secs(5)), Duration::from_secs(5));
        assert!(Deadline::after(Some(Duration::ZERO)).expired());
    }
}
