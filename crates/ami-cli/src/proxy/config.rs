//! The proxy's configuration: a manager.conf (downstream users, read exactly as Asterisk reads
//! it) plus one `[upstream:NAME]` section per Asterisk server.
//!
//! ```ini
//! [general]
//! enabled = yes
//! bindaddr = 127.0.0.1
//! port = 5038
//! strict = yes               ; the proxy's own: see below (default no)
//!
//! [upstream:pbx1]
//! host = 10.0.0.5            ; required
//! port = 5038
//! username = proxy           ; the proxy's own full-rights account on that Asterisk
//! secret_env = PBX1_SECRET   ; or secret_file = /etc/ami-proxy/pbx1.secret, or secret = …
//! auth = md5                 ; or plain
//! tls = no                   ; yes: tls_ca = ca.pem (required), tls_server_name = pbx1.example
//! sessions = 4               ; AMI sessions to this Asterisk (1-64, default 4)
//! action_timeout = 30        ; seconds
//! keepalive = 20             ; seconds of silence before a Ping (0: off)
//! keepalive_timeout = 10     ; seconds a Ping may go unanswered
//!
//! [crm]                      ; a downstream user, as in manager.conf
//! secret = …
//! read = call
//! write = originate
//! upstream = pbx1            ; which Asterisk this user reaches (default: the first)
//! ```
//!
//! `strict = yes` in `[general]` makes the proxy a stricter gateway than Asterisk: it leaves
//! `ExpectedResponse` out of ChallengeResponseFailed events (with the challenge it lets any
//! `security` reader try secrets offline) and does not relay the upstream's security events
//! about the proxy's own upstream accounts (their logins would otherwise show every tenant
//! the proxy's account name and address).
//!
//! Why a pool of `sessions`: Asterisk runs the actions of one AMI session one at a time, so a
//! slow action (a long `Command`, a big `QueueStatus`) on a shared session holds up every
//! tenant behind it. The proxy spreads actions over the pool, each to the session with the
//! fewest in flight. Session 0 alone receives events (the others log in with `Events: off`),
//! and it carries every `Originate`, since the `OriginateResponse` of an async Originate is an
//! event; a synchronous Originate (which would block a session until the call is answered, up
//! to its `Timeout`) is sent as an async one and answered from its `OriginateResponse`, with
//! the bytes Asterisk gives a synchronous Originate.

use std::collections::HashMap;

use ami_proto::config::ini::{self, IniOptions};
use ami_proto::config::{
    ConfigOptions, DiagnosticKind, ManagerConfig, NoIncludes, ast_false, ast_true,
    parse_manager_conf,
};
use ami_tokio::Secret;

use crate::upstreams::{Upstreams, parse_upstreams};

pub use crate::upstreams::{SecretSource, UpstreamConfig, is_upstream_section};

/// The proxy's own `[general]` keys (manager.conf has no such keys; they are not findings).
pub const PROXY_GENERAL_KEYS: [&str; 1] = ["strict"];

/// A loaded proxy configuration.
#[derive(Debug)]
pub struct ProxyConfig {
    /// The downstream users and `[general]` (upstream sections removed).
    pub manager: ManagerConfig,
    /// The upstream servers, in file order (at least one).
    pub upstreams: Vec<UpstreamConfig>,
    /// Inline secrets of upstreams, by index (never printed).
    inline_secrets: Vec<Option<String>>,
    /// User name (lower case) → upstream index, from `upstream = NAME` lines.
    pub bindings: HashMap<String, usize>,
    /// `strict = yes` in `[general]`.
    pub strict: bool,
}

impl ProxyConfig {
    /// Reads upstream `i`'s secret.
    pub fn upstream_secret(&self, i: usize) -> Result<Secret, String> {
        let up = self.upstreams.get(i).ok_or_else(|| format!("no upstream {i}"))?;
        up.secret(self.inline_secrets.get(i).and_then(|s| s.as_deref()))
    }
}

/// What is wrong with a proxy configuration: where and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfigError {
    /// 1-based line (0: the file as a whole).
    pub line: u32,
    /// What is wrong and what to do.
    pub message: String,
}

impl std::fmt::Display for ProxyConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

/// The proxy-only parts of a configuration text.
#[derive(Debug)]
pub struct ProxySections {
    /// The upstream servers, in file order (at least one).
    pub upstreams: Vec<UpstreamConfig>,
    /// Inline secrets, by index.
    inline_secrets: Vec<Option<String>>,
    /// User name (lower case) → upstream index.
    pub bindings: HashMap<String, usize>,
    /// `strict = yes` in `[general]`.
    pub strict: bool,
    /// Line ranges `[start, end)` of the upstream sections.
    ranges: Vec<(u32, u32)>,
}

impl ProxySections {
    /// Removes what the upstream sections and `upstream =` lines look like to a manager.conf
    /// loader: the pseudo-users `upstream:NAME` (whose `secret` must never become a downstream
    /// login) and the findings about them.
    pub fn strip(&self, manager: &mut ManagerConfig) {
        manager.users.retain(|u| !is_upstream_section(&u.name));
        let ranges = &self.ranges;
        manager.diagnostics.retain(|d| {
            !ranges.iter().any(|(a, b)| d.line >= *a && d.line < *b)
                && !matches!(&d.kind, DiagnosticKind::UnknownUserKey { key, .. } if key.eq_ignore_ascii_case("upstream"))
                && !matches!(&d.kind, DiagnosticKind::UnknownGeneralKey { key }
                    if PROXY_GENERAL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)))
        });
    }
}

/// Loads a proxy configuration from its text (`file` names it in messages).
pub fn load(file: &str, text: &str) -> Result<ProxyConfig, ProxyConfigError> {
    let sections = parse_sections(file, text)?;
    let mut manager = parse_manager_conf(text, &mut NoIncludes, &ConfigOptions::default())
        .map_err(|e| ProxyConfigError { line: 0, message: e.to_string() })?;
    sections.strip(&mut manager);
    Ok(ProxyConfig {
        manager,
        upstreams: sections.upstreams,
        inline_secrets: sections.inline_secrets,
        bindings: sections.bindings,
        strict: sections.strict,
    })
}

/// Reads the `[upstream:NAME]` sections and the users' `upstream =` lines.
pub fn parse_sections(file: &str, text: &str) -> Result<ProxySections, ProxyConfigError> {
    let err = |line: u32, message: String| ProxyConfigError { line, message };
    let parsed = ini::parse(file, text, &mut NoIncludes, &IniOptions::default())
        .map_err(|e| err(0, e.to_string()))?;
    let Upstreams { upstreams, inline_secrets, ranges } =
        parse_upstreams(&parsed).map_err(|e| err(e.line, e.message))?;
    if upstreams.is_empty() {
        return Err(err(
            0,
            format!(
                "{file}: no [upstream:NAME] section: the proxy needs at least one Asterisk server"
            ),
        ));
    }
    // Bindings of downstream users.
    let mut bindings = HashMap::new();
    for cat in parsed.browse().filter(|c| !is_upstream_section(&c.name) && c.name != "general") {
        if let Some(v) = cat.variables_named("upstream").last() {
            let i = upstreams
                .iter()
                .position(|u| u.name.eq_ignore_ascii_case(v.value.trim()))
                .ok_or_else(|| {
                    err(v.line, format!("user {}: no upstream named {:?}", cat.name, v.value))
                })?;
            bindings.insert(cat.name.to_ascii_lowercase(), i);
        }
    }
    let strict = match parsed
        .browse()
        .filter(|c| c.name.eq_ignore_ascii_case("general"))
        .flat_map(|c| c.variables_named("strict"))
        .last()
    {
        None => false,
        Some(v) if ast_true(v.value.trim()) => true,
        Some(v) if ast_false(v.value.trim()) => false,
        Some(v) => return Err(err(v.line, "strict must be yes or no".to_owned())),
    };
    Ok(ProxySections { upstreams, inline_secrets, bindings, strict, ranges })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_proto::client::LoginMethod;

    const CONF: &str = "\
[general]
enabled = yes
bindaddr = 127.0.0.1
port = 6038

[upstream:pbx1]
host = 10.0.0.5
username = proxy
secret = up-secret

[upstream:pbx2]
host = pbx2.example
port = 5039
username = proxy2
secret_env = PBX2_SECRET
auth = plain
tls = yes
tls_ca = /etc/ca.pem

[crm]
secret = crm-secret
read = call
write = originate
upstream = pbx2

[wall]
secret = wall-secret
read = call
";

    #[test]
    fn upstreams_users_and_bindings() {
        let cfg = load("proxy.conf", CONF).unwrap();
        assert_eq!(cfg.upstreams.len(), 2);
        let (a, b) = (&cfg.upstreams[0], &cfg.upstreams[1]);
        assert_eq!((a.name.as_str(), a.host.as_str(), a.port), ("pbx1", "10.0.0.5", 5038));
        assert_eq!(a.secret_source, SecretSource::Inline);
        assert_eq!(a.method, LoginMethod::Md5);
        assert!(a.tls.is_none());
        assert_eq!((b.port, b.method), (5039, LoginMethod::Plain));
        assert_eq!(b.secret_source, SecretSource::Env("PBX2_SECRET".into()));
        let tls = b.tls.as_ref().unwrap();
        assert_eq!(tls.server_name, "pbx2.example");
        assert_eq!(cfg.upstream_secret(0).unwrap().expose(), "up-secret");
        // Users: the upstream sections are not users, and `upstream =` is not a finding.
        let names: Vec<&str> = cfg.manager.users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["crm", "wall"]);
        assert!(cfg.manager.diagnostics.is_empty(), "{:?}", cfg.manager.diagnostics);
        assert_eq!(cfg.bindings.get("crm"), Some(&1));
        assert_eq!(cfg.bindings.get("wall"), None);
        assert_eq!(cfg.manager.general.port, 6038);
    }

    #[test]
    fn errors_name_the_line() {
        let cases: [(&str, u32, &str); 6] = [
            ("[upstream:a]\nhost = h\nusername = u\n", 1, "give the secret"),
            ("[upstream:a]\nusername = u\nsecret = s\n", 1, "`host = …` is required"),
            ("[upstream:a]\nhost = h\nusername = u\nsecret = s\nport = 0\n", 5, "port"),
            (
                "[upstream:a]\nhost = h\nusername = u\nsecret = s\nsecret_env = X\n",
                5,
                "more than one",
            ),
            ("[upstream:a]\nhost = h\nusername = u\nsecret = s\ncolour = red\n", 5, "unknown key"),
            (
                "[upstream:a]\nhost = h\nusername = u\nsecret = s\n[x]\nupstream = b\n",
                6,
                "no upstream named",
            ),
        ];
        for (text, line, needle) in cases {
            let e = load("p.conf", text).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {e}");
        }
        let e = load("p.conf", "[general]\nenabled = yes\n").unwrap_err();
        assert!(e.message.contains("no [upstream:NAME] section"));
        let e = load("p.conf", "[upstream:a]\nhost = h\nusername = u\nsecret = s\ntls = yes\n")
            .unwrap_err();
        assert!(e.message.contains("tls_ca"));
    }
}
