//! Time as the caller gives it: the core never reads a clock.
//!
//! Sessions take the current time as an [`Instant`] (milliseconds of the caller's monotonic
//! clock, any origin) and report when they next need to be woken as an `Instant` too. Tests drive
//! them with a virtual clock.
//!
//! ```
//! use ami_proto::time::{Duration, Instant};
//!
//! let start = Instant::from_millis(1_000);
//! let deadline = start + Duration::from_secs(30);
//! assert_eq!(deadline.as_millis(), 31_000);
//! assert_eq!(deadline.saturating_duration_since(start), Duration::from_millis(30_000));
//! ```

use core::fmt;
use core::ops::{Add, AddAssign};

/// A point in time: milliseconds of the caller's monotonic clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

/// A span of time in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

impl Instant {
    /// The instant `ms` milliseconds after the clock's origin.
    pub const fn from_millis(ms: u64) -> Instant {
        Instant(ms)
    }

    /// Milliseconds since the clock's origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }

    /// `self + d`, saturating at the end of time.
    pub const fn saturating_add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.0))
    }
}

impl Duration {
    /// Zero.
    pub const ZERO: Duration = Duration(0);

    /// `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Duration {
        Duration(ms)
    }

    /// `s` seconds.
    pub const fn from_secs(s: u64) -> Duration {
        Duration(s.saturating_mul(1000))
    }

    /// The span in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturating addition (never overflows).
    fn add(self, d: Duration) -> Instant {
        self.saturating_add(d)
    }
}

impl Add<Duration> for Duration {
    type Output = Duration;
    /// Saturating addition (never overflows).
    fn add(self, d: Duration) -> Duration {
        Duration(self.0.saturating_add(d.0))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = self.saturating_add(d);
    }
}

impl From<core::time::Duration> for Duration {
    fn from(d: core::time::Duration) -> Duration {
        Duration(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}

impl From<Duration> for core::time::Duration {
    fn from(d: Duration) -> core::time::Duration {
        core::time::Duration::from_millis(d.0)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let end = Instant::from_millis(u64::MAX);
        assert_eq!(end + Duration::from_secs(1), end);
        assert_eq!(Instant::from_millis(5).saturating_duration_since(end), Duration::ZERO);
        assert_eq!(Duration::from_secs(u64::MAX).as_millis(), u64::MAX);
        assert_eq!(
            Duration::from_secs(u64::MAX) + Duration::from_secs(1),
            Duration::from_secs(u64::MAX)
        );
        assert_eq!(
            Duration::from_secs(1) + Duration::from_millis(500),
            Duration::from_millis(1500)
        );
        let std: core::time::Duration = Duration::from_millis(1500).into();
        assert_eq!(Duration::from(std), Duration::from_millis(1500));
    }
}
