//! [`Value`]: one header value, borrowed from the message.

use std::borrow::Cow;
use std::fmt;
use std::str::{FromStr, Utf8Error};

/// The value of one header, borrowed from its message (zero-copy).
///
/// AMI values are bytes: usually ASCII, sometimes UTF-8, never guaranteed to be either. `Value`
/// keeps the bytes and offers the usual views; it compares equal to `str` and `[u8]` with the
/// same bytes, and displays lossily.
///
/// ```
/// use ami_catalog::Value;
///
/// let v = Value::new(b"16");
/// assert_eq!(v, "16");
/// assert_eq!(v.parse::<u32>(), Some(16));
/// assert_eq!(v.to_str(), Ok("16"));
/// assert_eq!(Value::new(b"caf\xe9").to_string(), "caf\u{fffd}");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Value<'a>(&'a [u8]);

impl<'a> Value<'a> {
    /// A value viewing `bytes`.
    pub const fn new(bytes: &'a [u8]) -> Value<'a> {
        Value(bytes)
    }

    /// The bytes, exactly as received.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The value as `str`, if it is UTF-8.
    pub fn to_str(&self) -> Result<&'a str, Utf8Error> {
        std::str::from_utf8(self.0)
    }

    /// The value as text, with invalid UTF-8 replaced by U+FFFD.
    pub fn to_string_lossy(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.0)
    }

    /// The value parsed as `T` (e.g. a number); `None` if it is not UTF-8 or does not parse.
    pub fn parse<T: FromStr>(&self) -> Option<T> {
        self.to_str().ok()?.parse().ok()
    }

    /// True for an empty value (`Header: `).
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl AsRef<[u8]> for Value<'_> {
    fn as_ref(&self) -> &[u8] {
        self.0
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_lossy())
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string_lossy(), f)
    }
}

impl PartialEq<str> for Value<'_> {
    fn eq(&self, other: &str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<&str> for Value<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.0 == other.as_bytes()
    }
}

impl PartialEq<[u8]> for Value<'_> {
    fn eq(&self, other: &[u8]) -> bool {
        self.0 == other
    }
}

impl PartialEq<&[u8]> for Value<'_> {
    fn eq(&self, other: &&[u8]) -> bool {
        self.0 == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_and_comparisons() {
        let v = Value::new(b"PJSIP/100-0001");
        assert_eq!(v, "PJSIP/100-0001");
        assert_eq!(v, &b"PJSIP/100-0001"[..]);
        assert_ne!(v, "pjsip/100-0001");
        assert_eq!(v.as_bytes(), b"PJSIP/100-0001");
        assert_eq!(format!("{v:?}"), "\"PJSIP/100-0001\"");
        assert_eq!(v.parse::<u8>(), None);
        assert!(Value::new(b"").is_empty());
        assert!(Value::new(b"\xff").to_str().is_err());
        assert_eq!(Value::new(b"\xff1").parse::<u8>(), None);
    }
}
