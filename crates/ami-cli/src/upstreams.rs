//! The `[upstream:NAME]` sections shared by `ami proxy` and `ami bridge`: one Asterisk server
//! each (where, which account, where its secret comes from, TLS).
//!
//! ```ini
//! [upstream:pbx1]
//! host = 10.0.0.5            ; required
//! port = 5038
//! username = proxy           ; a full-rights account on that Asterisk
//! secret_env = PBX1_SECRET   ; or secret_file = /etc/ami/pbx1.secret, or secret = …
//! auth = md5                 ; or plain
//! tls = no                   ; yes: tls_ca = ca.pem (required), tls_server_name = pbx1.example
//! action_timeout = 30        ; seconds
//! sessions = 4               ; the proxy's pool of AMI sessions (1-64)
//! keepalive = 20             ; seconds of silence before a Ping (0: off)
//! keepalive_timeout = 10     ; seconds the Ping may go unanswered
//! ```

use std::path::PathBuf;
use std::time::Duration;

use ami_proto::client::LoginMethod;
use ami_proto::config::ini::Ini;
use ami_proto::config::{ast_false, ast_true};
use ami_tokio::Secret;

/// Prefix of the section names that describe upstream servers.
pub const UPSTREAM_PREFIX: &str = "upstream:";

/// TLS to an upstream server.
#[derive(Clone, Debug)]
pub struct UpstreamTls {
    /// PEM file with the certificate authorities to trust.
    pub ca_file: PathBuf,
    /// Name to verify the server's certificate against (default: `host`).
    pub server_name: String,
}

/// Where the upstream secret is written in the file (for `ami check`; the value is never shown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// `secret = …` in the file itself.
    Inline,
    /// `secret_env = VAR`.
    Env(String),
    /// `secret_file = PATH`.
    File(PathBuf),
}

/// One `[upstream:NAME]` section.
#[derive(Clone, Debug)]
pub struct UpstreamConfig {
    /// NAME.
    pub name: String,
    /// Line of the section header.
    pub line: u32,
    /// Host name or address.
    pub host: String,
    /// Port (default 5038).
    pub port: u16,
    /// The proxy's user on that server.
    pub username: String,
    /// Where the secret comes from.
    pub secret_source: SecretSource,
    /// MD5 challenge (default) or plain.
    pub method: LoginMethod,
    /// TLS settings, if `tls = yes`.
    pub tls: Option<UpstreamTls>,
    /// Time limit of one action upstream (default 30 s).
    pub action_timeout: Duration,
    /// AMI sessions in the proxy's pool (default 4; the bridge uses one).
    pub sessions: usize,
    /// Silence before a keepalive Ping (`None`: off; default 20 s).
    pub keepalive: Option<Duration>,
    /// How long the Ping may go unanswered (default 10 s).
    pub keepalive_timeout: Duration,
}

impl UpstreamConfig {
    /// Reads the secret (environment, file or inline value).
    pub fn secret(&self, inline: Option<&str>) -> Result<Secret, String> {
        match &self.secret_source {
            SecretSource::Inline => {
                inline.map(Secret::new).ok_or_else(|| "no inline secret".to_owned())
            }
            SecretSource::Env(var) => {
                Secret::from_env(var).map_err(|e| format!("upstream {}: {e}", self.name))
            }
            SecretSource::File(path) => {
                Secret::from_file(path).map_err(|e| format!("upstream {}: {e}", self.name))
            }
        }
    }
}

/// Whether a category name is an upstream section.
pub fn is_upstream_section(name: &str) -> bool {
    name.len() > UPSTREAM_PREFIX.len()
        && name
            .get(..UPSTREAM_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(UPSTREAM_PREFIX))
}

/// What is wrong with an upstream section: where and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SectionError {
    /// 1-based line (0: the file as a whole).
    pub line: u32,
    /// What is wrong and what to do.
    pub message: String,
}

/// The `[upstream:NAME]` sections of a file, in file order.
#[derive(Debug, Default)]
pub struct Upstreams {
    /// The servers.
    pub upstreams: Vec<UpstreamConfig>,
    /// Inline secrets, by index (never printed).
    pub inline_secrets: Vec<Option<String>>,
    /// Line ranges `[start, end)` of the sections.
    pub ranges: Vec<(u32, u32)>,
}

impl Upstreams {
    /// Reads upstream `i`'s secret.
    pub fn secret(&self, i: usize) -> Result<Secret, String> {
        let up = self.upstreams.get(i).ok_or_else(|| format!("no upstream {i}"))?;
        up.secret(self.inline_secrets.get(i).and_then(|s| s.as_deref()))
    }
}

/// Reads every `[upstream:NAME]` section of a parsed file (possibly none).
pub fn parse_upstreams(parsed: &Ini) -> Result<Upstreams, SectionError> {
    let err = |line: u32, message: String| SectionError { line, message };
    let mut upstreams = Vec::new();
    let mut inline_secrets = Vec::new();
    let mut ranges = Vec::new();
    let mut cats = parsed.browse().peekable();
    while let Some(cat) = cats.next() {
        if !is_upstream_section(&cat.name) {
            continue;
        }
        let end = cats.peek().map_or(u32::MAX, |c| c.line);
        ranges.push((cat.line, end));
        let name = cat.name[UPSTREAM_PREFIX.len()..].to_owned();
        let mut host = None;
        let mut port = ami_proto::config::DEFAULT_PORT;
        let mut username = None;
        let mut source = None;
        let mut inline = None;
        let mut method = LoginMethod::Md5;
        let (mut tls_on, mut ca, mut server_name) = (false, None, None);
        let mut timeout = Duration::from_secs(30);
        let mut sessions = 4usize;
        let mut keepalive = Some(Duration::from_secs(20));
        let mut keepalive_timeout = Duration::from_secs(10);
        let seconds = |v: &ami_proto::config::ini::Variable, key: &str, zero_ok: bool| {
            v.value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && (*s > 0.0 || (zero_ok && *s == 0.0)))
                .map(Duration::from_secs_f64)
                .ok_or_else(|| {
                    let least = if zero_ok { ">= 0" } else { "> 0" };
                    err(
                        v.line,
                        format!("upstream {name}: {key} must be a number of seconds {least}"),
                    )
                })
        };
        for v in &cat.variables {
            let value = v.value.trim();
            let mut set_source = |s: SecretSource| {
                if source.replace(s).is_some() {
                    Err(err(
                        v.line,
                        format!(
                            "upstream {name}: more than one of secret, secret_env, secret_file"
                        ),
                    ))
                } else {
                    Ok(())
                }
            };
            match v.name.to_ascii_lowercase().as_str() {
                "host" => host = Some(value.to_owned()),
                "port" => {
                    port = value.parse().ok().filter(|p| *p != 0).ok_or_else(|| {
                        err(v.line, format!("upstream {name}: port {value:?} is not 1-65535"))
                    })?;
                }
                "username" => username = Some(value.to_owned()),
                "secret" => {
                    set_source(SecretSource::Inline)?;
                    inline = Some(v.value.clone());
                }
                "secret_env" => set_source(SecretSource::Env(value.to_owned()))?,
                "secret_file" => set_source(SecretSource::File(PathBuf::from(value)))?,
                "auth" => {
                    method = match value.to_ascii_lowercase().as_str() {
                        "md5" => LoginMethod::Md5,
                        "plain" => LoginMethod::Plain,
                        _ => {
                            return Err(err(
                                v.line,
                                format!(
                                    "upstream {name}: auth must be md5 or plain, not {value:?}"
                                ),
                            ));
                        }
                    }
                }
                "tls" => {
                    tls_on = if ast_true(value) {
                        true
                    } else if ast_false(value) {
                        false
                    } else {
                        return Err(err(v.line, format!("upstream {name}: tls must be yes or no")));
                    }
                }
                "tls_ca" => ca = Some(PathBuf::from(value)),
                "tls_server_name" => server_name = Some(value.to_owned()),
                "action_timeout" => timeout = seconds(v, "action_timeout", false)?,
                "keepalive" => {
                    let d = seconds(v, "keepalive", true)?;
                    keepalive = (!d.is_zero()).then_some(d);
                }
                "keepalive_timeout" => keepalive_timeout = seconds(v, "keepalive_timeout", false)?,
                "sessions" => {
                    sessions =
                        value.parse().ok().filter(|n| (1..=64).contains(n)).ok_or_else(|| {
                            err(
                                v.line,
                                format!("upstream {name}: sessions must be 1-64, not {value:?}"),
                            )
                        })?;
                }
                other => {
                    return Err(err(
                        v.line,
                        format!(
                            "upstream {name}: unknown key {other:?} (known: host, port, username, \
                         secret, secret_env, secret_file, auth, tls, tls_ca, tls_server_name, \
                         sessions, action_timeout, keepalive, keepalive_timeout)"
                        ),
                    ));
                }
            }
        }
        let host = host
            .filter(|h| !h.is_empty())
            .ok_or_else(|| err(cat.line, format!("upstream {name}: `host = …` is required")))?;
        let username = username
            .filter(|u| !u.is_empty())
            .ok_or_else(|| err(cat.line, format!("upstream {name}: `username = …` is required")))?;
        let secret_source = source.ok_or_else(|| {
            err(cat.line, format!(
                "upstream {name}: give the secret with secret_env = VAR, secret_file = PATH or secret = …"
            ))
        })?;
        let tls = if tls_on {
            let ca_file = ca.ok_or_else(|| {
                err(cat.line, format!("upstream {name}: tls = yes needs tls_ca = <PEM file>"))
            })?;
            Some(UpstreamTls { ca_file, server_name: server_name.unwrap_or_else(|| host.clone()) })
        } else {
            None
        };
        if upstreams.iter().any(|u: &UpstreamConfig| u.name.eq_ignore_ascii_case(&name)) {
            return Err(err(cat.line, format!("upstream {name} is defined twice")));
        }
        upstreams.push(UpstreamConfig {
            name,
            line: cat.line,
            host,
            port,
            username,
            secret_source,
            method,
            tls,
            action_timeout: timeout,
            sessions,
            keepalive,
            keepalive_timeout,
        });
        inline_secrets.push(inline);
    }
    Ok(Upstreams { upstreams, inline_secrets, ranges })
}
