//! Time for the core, which reads no clock: one monotonic millisecond clock for every session
//! and server of the process, the wall-clock offset servers render timestamps with, and the
//! timer future of every run loop.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ami_proto::time::Instant;

/// Monotonic milliseconds for the core, counted from the process's first call.
pub fn now() -> Instant {
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    let start = *START.get_or_init(std::time::Instant::now);
    Instant::from_millis(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX))
}

/// Unix time in milliseconds minus [`now`]: what `ServerOptions::unix_offset_ms` wants.
pub fn unix_offset_ms() -> i64 {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    unix - i64::try_from(now().as_millis()).unwrap_or(i64::MAX)
}

/// Sleeps until the core's instant `due`; forever for `None` (the timer branch of a run loop,
/// re-armed from `poll_timeout` on every round).
pub async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(at) => {
            let wait = at.as_millis().saturating_sub(now().as_millis());
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        None => std::future::pending().await,
    }
}
