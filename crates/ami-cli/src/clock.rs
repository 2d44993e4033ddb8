//! Time and randomness for the core, which reads neither: one monotonic millisecond clock for
//! every session and server of the process, the wall-clock offset the server renders
//! timestamps with, a timer future, and the source of MD5 challenges.

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ami_proto::server::RandomSource;
use ami_proto::time::Instant;

/// Monotonic milliseconds for the core, counted from the process's first use.
pub fn now() -> Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(std::time::Instant::now);
    Instant::from_millis(u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX))
}

/// Unix time in milliseconds minus [`now`]: what `ServerOptions::unix_offset_ms` wants.
pub fn unix_offset_ms() -> i64 {
    let unix = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    unix - now().as_millis() as i64
}

/// Sleeps until the core's instant `due` (forever for `None`): the timer branch of every run
/// loop.
pub async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(at) => {
            let wait = at.as_millis().saturating_sub(now().as_millis());
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        None => std::future::pending().await,
    }
}

/// A random value from the standard library's per-process random hasher keys.
pub fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(u64::from(std::process::id()));
    h.finish()
}

/// The source of a server's MD5 challenges: xorshift64 seeded from [`random_u64`] (mixed with
/// `seed`), never zero.
pub fn challenge_source(seed: u64) -> Box<dyn RandomSource> {
    let mut state = (seed ^ random_u64()) | 1;
    Box::new(move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 32) as u32
    })
}
