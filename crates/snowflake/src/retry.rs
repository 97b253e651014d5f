//! Retry policy (spec §9): decorrelated jitter `min(cap, uniform[base, 3*prev))`,
//! a maximum number of retries and a total deadline.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::RetryPolicy;

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
