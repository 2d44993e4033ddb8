//! Arguments from JavaScript: roles, header fields, times.

use ami_proto::Role;
use ami_proto::time::{Duration, Instant};
use napi::Either;
use napi::bindgen_prelude::Buffer;

use crate::errors;

/// A header name or value: text (encoded as UTF-8) or bytes.
pub type Bytes = Either<String, Buffer>;

/// The bytes of a name or value.
pub fn bytes(v: &Bytes) -> &[u8] {
    match v {
        Either::A(s) => s.as_bytes(),
        Either::B(b) => b,
    }
}

/// Fields given as a flat list `[name0, value0, name1, value1, ...]` (the TypeScript layer
/// flattens mappings and pairs into it).
pub fn pairs(flat: &[Bytes]) -> napi::Result<impl Iterator<Item = (&[u8], &[u8])>> {
    if !flat.len().is_multiple_of(2) {
        return Err(errors::invalid("fields must alternate names and values"));
    }
    Ok(flat.chunks_exact(2).filter_map(|c| match c {
        [n, v] => Some((bytes(n), bytes(v))),
        _ => None,
    }))
}

/// `"client"` (reads what a server writes) or `"server"` (reads what a client writes).
pub fn role(role: &str) -> napi::Result<Role> {
    match role {
        "client" => Ok(Role::Client),
        "server" => Ok(Role::Server),
        other => Err(errors::invalid(format!(
            "role must be \"client\" (reads server output) or \"server\" (reads client input), not {other:?}"
        ))),
    }
}

/// Milliseconds (JavaScript numbers) as whole milliseconds: negative and NaN are 0, huge values
/// saturate.
pub fn millis(ms: f64) -> u64 {
    if ms.is_nan() || ms <= 0.0 {
        0
    } else if ms >= u64::MAX as f64 {
        u64::MAX
    } else {
        ms.round() as u64
    }
}

/// A time of the caller's monotonic clock (`performance.now()`), in milliseconds.
pub fn instant(ms: f64) -> Instant {
    Instant::from_millis(millis(ms))
}

/// A time limit in milliseconds; `Infinity` is none.
pub fn limit(ms: f64) -> Option<Duration> {
    if ms.is_infinite() && ms > 0.0 { None } else { Some(Duration::from_millis(millis(ms))) }
}
