//! [`Target`]: where an AMI server is, as `HOST[:PORT]`.

use std::fmt;
use std::str::FromStr;

/// The AMI port of Asterisk (5038; TLS is usually 5039).
pub const DEFAULT_PORT: u16 = 5038;

/// A server address: host name or IP address, and port.
///
/// ```
/// use ami_tokio::Target;
///
/// let t: Target = "pbx.example.com".parse()?;
/// assert_eq!((t.host(), t.port()), ("pbx.example.com", 5038));
/// let t: Target = "[::1]:6038".parse()?;
/// assert_eq!((t.host(), t.port()), ("::1", 6038));
/// assert_eq!(t.to_string(), "[::1]:6038");
/// # Ok::<(), ami_tokio::TargetError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Target {
    host: String,
    port: u16,
}

impl Target {
    /// A target from its parts.
    pub fn new(host: impl Into<String>, port: u16) -> Target {
        Target { host: host.into(), port }
    }

    /// The host name or address (IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Why `HOST[:PORT]` could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetError {
    /// The text as given.
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad server address {:?}: {} (write HOST, HOST:PORT or [IPv6]:PORT)",
            self.text, self.why
        )
    }
}

impl std::error::Error for TargetError {}

impl FromStr for Target {
    type Err = TargetError;

    /// Reads `HOST`, `HOST:PORT`, `[IPv6]`, `[IPv6]:PORT` or a bare IPv6 address (port 5038
    /// when none is given).
    fn from_str(text: &str) -> Result<Target, TargetError> {
        let bad = |why| TargetError { text: text.to_owned(), why };
        let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0);
        if text.is_empty() {
            return Err(bad("empty"));
        }
        if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| bad("missing `]`"))?;
            if host.is_empty() {
                return Err(bad("empty host"));
            }
            let p = match after {
                "" => DEFAULT_PORT,
                p => p
                    .strip_prefix(':')
                    .and_then(port)
                    .ok_or_else(|| bad("the port must be a number 1-65535"))?,
            };
            return Ok(Target::new(host, p));
        }
        match text.rsplit_once(':') {
            // More than one colon and no brackets: a bare IPv6 address.
            Some((host, _)) if host.contains(':') => Ok(Target::new(text, DEFAULT_PORT)),
            Some(("", _)) => Err(bad("empty host")),
            Some((host, p)) => Ok(Target::new(
                host,
                port(p).ok_or_else(|| bad("the port must be a number 1-65535"))?,
            )),
            None => Ok(Target::new(text, DEFAULT_PORT)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = |s: &str| s.parse::<Target>().map(|t| (t.host, t.port));
        assert_eq!(t("pbx"), Ok(("pbx".into(), 5038)));
        assert_eq!(t("pbx:6000"), Ok(("pbx".into(), 6000)));
        assert_eq!(t("[::1]:6000"), Ok(("::1".into(), 6000)));
        assert_eq!(t("[::1]"), Ok(("::1".into(), 5038)));
        assert_eq!(t("fe80::1"), Ok(("fe80::1".into(), 5038)));
        for bad in ["", "pbx:", "pbx:0", "pbx:70000", "[::1", "[::1]6000", "pbx:x", ":5038", "[]:1"]
        {
            assert!(t(bad).is_err(), "{bad}");
        }
        assert_eq!(Target::new("10.0.0.5", 5038).to_string(), "10.0.0.5:5038");
    }
}
