//! [`Backoff`]: how long to wait before reconnecting, with exponential growth and jitter.

use std::time::Duration;

use crate::random::random_u64;

/// The reconnection policy: the wait doubles after each failed or short-lived connection, up
/// to `max`, each wait drawn at random from its upper half (so that many clients of one
/// server do not reconnect in step). A connection that lived at least `stable_after` resets
/// it; one that logs in and drops at once does not, so a flapping server sees at most about
/// two attempts per `max`, not a steady stream.
///
/// ```
/// use std::time::Duration;
/// use ami_tokio::Backoff;
///
/// let policy = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(5), ..Backoff::default() };
/// let mut waits = policy.start();
/// let first = waits.next_delay();
/// assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
/// let second = waits.next_delay();
/// assert!(second >= Duration::from_millis(100) && second <= Duration::from_millis(200));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first wait (default 250 ms).
    pub initial: Duration,
    /// The longest wait (default 30 s).
    pub max: Duration,
    /// A connection that lasted this long counts as healthy and resets the wait (default 30 s).
    pub stable_after: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(30),
            stable_after: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// A fresh sequence of waits.
    pub fn start(self) -> Waits {
        Waits { policy: self, next: self.initial.min(self.max) }
    }
}

/// The waits of one [`Backoff`] policy, as connections fail.
#[derive(Clone, Debug)]
pub struct Waits {
    policy: Backoff,
    next: Duration,
}

impl Waits {
    /// The wait before the next attempt: uniform in `[w/2, w]` for the current `w`, which then
    /// doubles (up to the maximum).
    pub fn next_delay(&mut self) -> Duration {
        let w = self.next;
        self.next = (w * 2).min(self.policy.max).max(self.policy.initial.min(self.policy.max));
        let half = w / 2;
        let span = u64::try_from((w - half).as_micros()).unwrap_or(u64::MAX);
        let jitter = if span == 0 { 0 } else { random_u64() % (span + 1) };
        half + Duration::from_micros(jitter)
    }

    /// A connection ended after `lived`: a long one resets the waits.
    pub fn connection_ended(&mut self, lived: Duration) {
        if lived >= self.policy.stable_after {
            self.next = self.policy.initial.min(self.policy.max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_with_jitter_and_reset_only_after_a_stable_connection() {
        let policy = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            stable_after: Duration::from_secs(5),
        };
        let mut w = policy.start();
        let bounds = [(50, 100), (100, 200), (200, 400), (400, 800), (500, 1000), (500, 1000)];
        for (lo, hi) in bounds {
            let d = w.next_delay();
            assert!(d >= Duration::from_millis(lo) && d <= Duration::from_millis(hi), "{d:?}");
        }
        // A connection that drops at once does not reset the waits...
        w.connection_ended(Duration::from_millis(10));
        assert!(w.next_delay() >= Duration::from_millis(500));
        // ...a stable one does.
        w.connection_ended(Duration::from_secs(5));
        assert!(w.next_delay() <= Duration::from_millis(100));
    }
}
