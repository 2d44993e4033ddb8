//! The bridge's configuration: manager.conf syntax with a `[general]` section, a `[nats]`
//! section, one `[upstream:NAME]` section per PBX (shared with `ami proxy`, see
//! [`crate::upstreams`]) and one section per role (a manager.conf user without a secret: read
//! and write classes, event filters, and `pbx = …` to limit it to some PBXs).
//!
//! ```ini
//! [general]
//! name = bridge-a
//!
//! [nats]
//! servers = nats://127.0.0.1:4222
//! stream = AMI
//!
//! [upstream:pbx1]
//! host = 10.0.0.5
//! username = bridge
//! secret_env = PBX1_SECRET
//!
//! [crm]
//! read = call
//! write = originate
//! ```

use std::path::PathBuf;
use std::time::Duration;

use ami_proto::config::ini::{self, Ini, IniOptions};
use ami_proto::config::{
    ConfigOptions, DiagnosticKind, ManagerConfig, NoIncludes, ast_false, ast_true,
    parse_manager_conf,
};

use crate::upstreams::{Upstreams, is_upstream_section, parse_upstreams};

use super::roles::Role;

/// Where a NATS password or token comes from (never written in the file).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// An environment variable.
    Env(String),
    /// A file (its first line).
    File(PathBuf),
}

/// How the bridge authenticates to NATS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NatsAuth {
    /// No credentials.
    None,
    /// `credentials = FILE` (a `.creds` file: JWT and nkey seed).
    Credentials(PathBuf),
    /// `nkey = FILE` (a file holding the nkey seed).
    Nkey(PathBuf),
    /// `user = …` with `password_env = VAR` or `password_file = FILE`.
    UserPassword {
        /// The user.
        user: String,
        /// Its password.
        password: CredentialSource,
    },
    /// `token_env = VAR` or `token_file = FILE`.
    Token(CredentialSource),
}

/// JetStream storage of the streams and buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// On disk.
    File,
    /// In memory.
    Memory,
}

/// Stream retention policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    /// Kept until the limits (age, bytes) remove them.
    Limits,
    /// Kept while a consumer is interested.
    Interest,
    /// Removed once acknowledged.
    WorkQueue,
}

/// The `[nats]` section.
#[derive(Clone, Debug)]
pub struct NatsConfig {
    /// Server URLs.
    pub servers: Vec<String>,
    /// Authentication.
    pub auth: NatsAuth,
    /// CA file to verify the servers' certificates (turns TLS on).
    pub tls_ca: Option<PathBuf>,
    /// Client certificate and key (mutual TLS).
    pub tls_client: Option<(PathBuf, PathBuf)>,
    /// `tls = yes`: TLS with the system's roots.
    pub tls_required: bool,
    /// Stream name prefix: one stream `<stream>_<ROLE>` per role; the KV buckets are
    /// `<stream>_LEASE` and `<stream>_PROGRESS`.
    pub stream: String,
    /// First token of every subject.
    pub subject_prefix: String,
    /// Storage of the streams and buckets.
    pub storage: Storage,
    /// Retention of the streams.
    pub retention: Retention,
    /// Maximum age of stored events (zero: unlimited).
    pub max_age: Duration,
    /// Maximum bytes per stream (-1: unlimited).
    pub max_bytes: i64,
    /// Replicas of the streams and buckets.
    pub replicas: usize,
    /// JetStream's deduplication window.
    pub duplicate_window: Duration,
    /// The lease's time to live (HA).
    pub lease_ttl: Duration,
    /// Unacknowledged publishes per PBX.
    pub in_flight: usize,
    /// Events buffered per PBX.
    pub buffer_events: usize,
    /// Bytes buffered per PBX.
    pub buffer_bytes: usize,
    /// Actions run after every (re)connection to a PBX.
    pub snapshot: Vec<String>,
}

impl NatsConfig {
    /// The stream of role `role`.
    pub fn stream_of(&self, role: &Role) -> String {
        format!("{}_{}", self.stream, role.name.to_ascii_uppercase())
    }

    /// The lease bucket.
    pub fn lease_bucket(&self) -> String {
        format!("{}_LEASE", self.stream)
    }

    /// The progress bucket.
    pub fn progress_bucket(&self) -> String {
        format!("{}_PROGRESS", self.stream)
    }
}

/// A loaded bridge configuration.
#[derive(Debug)]
pub struct BridgeConfig {
    /// This instance's name (`[general] name`, default `HOST-PID`).
    pub name: Option<String>,
    /// `[general] metrics = ADDR:PORT`.
    pub metrics: Option<String>,
    /// `[nats]`.
    pub nats: NatsConfig,
    /// The PBXs.
    pub upstreams: Upstreams,
    /// The roles, in file order.
    pub roles: Vec<Role>,
    /// The roles as manager.conf users, with the findings about them (for `ami check`).
    pub manager: ManagerConfig,
}

/// What is wrong with a bridge configuration: where and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeConfigError {
    /// 1-based line (0: the file as a whole).
    pub line: u32,
    /// What is wrong and what to do.
    pub message: String,
}

impl std::fmt::Display for BridgeConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for BridgeConfigError {}

fn err(line: u32, message: impl Into<String>) -> BridgeConfigError {
    BridgeConfigError { line, message: message.into() }
}

/// Whether a section is one of the bridge's own (not a role).
pub fn is_bridge_section(name: &str) -> bool {
    name.eq_ignore_ascii_case("general")
        || name.eq_ignore_ascii_case("nats")
        || is_upstream_section(name)
}

/// Whether a text is a bridge configuration (has a `[nats]` section).
pub fn looks_like_bridge(text: &str) -> bool {
    text.lines().any(|l| l.trim().to_ascii_lowercase().starts_with("[nats]"))
}

/// Whether `s` may be a subject token of ours: `[A-Za-z0-9_-]+`.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Loads a bridge configuration from its text (`file` names it in messages).
pub fn load(file: &str, text: &str) -> Result<BridgeConfig, BridgeConfigError> {
    let parsed = ini::parse(file, text, &mut NoIncludes, &IniOptions::default())
        .map_err(|e| err(0, e.to_string()))?;
    let upstreams = parse_upstreams(&parsed).map_err(|e| err(e.line, e.message))?;
    if upstreams.upstreams.is_empty() {
        return Err(err(0, format!("{file}: no [upstream:NAME] section: name at least one PBX")));
    }
    for up in &upstreams.upstreams {
        if !is_token(&up.name) {
            return Err(err(
                up.line,
                format!(
                    "upstream {:?}: a PBX name is a subject token: letters, digits, _ and -",
                    up.name
                ),
            ));
        }
    }
    let (name, metrics) = general(&parsed)?;
    let nats = nats(&parsed)?;
    let mut manager = parse_manager_conf(text, &mut NoIncludes, &ConfigOptions::default())
        .map_err(|e| err(e.line, e.kind.to_string()))?;
    strip(&mut manager, &parsed, &upstreams);
    let mut roles = Vec::new();
    for user in &manager.users {
        let cat = parsed.browse().find(|c| c.name.eq_ignore_ascii_case(&user.name));
        let pbxs = match cat.and_then(|c| c.variables_named("pbx").last()) {
            None => None,
            Some(v) => {
                let mut list = Vec::new();
                for p in v.value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let i =
                        upstreams.upstreams.iter().position(|u| u.name == p).ok_or_else(|| {
                            err(v.line, format!("role {}: no upstream named {p:?}", user.name))
                        })?;
                    list.push(i);
                }
                Some(list)
            }
        };
        let token = user.name.to_ascii_lowercase();
        if !is_token(&token) {
            return Err(err(
                user.line,
                format!(
                    "role {:?}: a role name is a subject token: letters, digits, _ and -",
                    user.name
                ),
            ));
        }
        roles.push(Role::new(token, user.read, user.write, user.filters.clone(), pbxs));
    }
    if roles.is_empty() {
        return Err(err(0, format!("{file}: no role section: events would reach nobody")));
    }
    Ok(BridgeConfig { name, metrics, nats, upstreams, roles, manager })
}

/// Removes what the bridge's own sections look like to a manager.conf loader.
fn strip(manager: &mut ManagerConfig, parsed: &Ini, upstreams: &Upstreams) {
    manager.users.retain(|u| !is_bridge_section(&u.name));
    let mut ranges = upstreams.ranges.clone();
    let mut cats = parsed.browse().peekable();
    while let Some(cat) = cats.next() {
        if cat.name.eq_ignore_ascii_case("nats") {
            ranges.push((cat.line, cats.peek().map_or(u32::MAX, |c| c.line)));
        }
    }
    manager.diagnostics.retain(|d| {
        !ranges.iter().any(|(a, b)| d.line >= *a && d.line < *b)
            && !matches!(&d.kind, DiagnosticKind::NoSecret { .. })
            && !matches!(&d.kind, DiagnosticKind::UnknownUserKey { key, .. } if key.eq_ignore_ascii_case("pbx"))
    });
    // `[general]` keys of the bridge are not manager.conf's.
    manager.diagnostics.retain(|d| {
        !matches!(&d.kind, DiagnosticKind::UnknownGeneralKey { key } if ["name", "metrics"].iter().any(|k| key.eq_ignore_ascii_case(k)))
    });
}

fn general(parsed: &Ini) -> Result<(Option<String>, Option<String>), BridgeConfigError> {
    let (mut name, mut metrics) = (None, None);
    for cat in parsed.browse().filter(|c| c.name.eq_ignore_ascii_case("general")) {
        for v in &cat.variables {
            match v.name.to_ascii_lowercase().as_str() {
                "name" => name = Some(v.value.trim().to_owned()).filter(|n| !n.is_empty()),
                "metrics" => metrics = Some(v.value.trim().to_owned()).filter(|n| !n.is_empty()),
                _ => {}
            }
        }
    }
    Ok((name, metrics))
}

/// `7d`, `2m`, `5s`, `500ms`, `1h`, or seconds.
pub fn parse_duration(value: &str) -> Option<Duration> {
    let v = value.trim();
    let split = v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: f64 = num.trim().parse().ok().filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    let secs = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        _ => return None,
    };
    (secs < 1e12).then(|| Duration::from_secs_f64(secs))
}

/// `10G`, `64M`, `512K`, or bytes.
pub fn parse_size(value: &str) -> Option<u64> {
    let v = value.trim();
    let split = v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len());
    let (num, unit) = v.split_at(split);
    let n: u64 = num.trim().parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

fn nats(parsed: &Ini) -> Result<NatsConfig, BridgeConfigError> {
    let cat = parsed.browse().find(|c| c.name.eq_ignore_ascii_case("nats")).ok_or_else(|| {
        err(0, "no [nats] section: say where NATS is (servers = nats://HOST:4222)")
    })?;
    let mut c = NatsConfig {
        servers: Vec::new(),
        auth: NatsAuth::None,
        tls_ca: None,
        tls_client: None,
        tls_required: false,
        stream: "AMI".to_owned(),
        subject_prefix: "ami".to_owned(),
        storage: Storage::File,
        retention: Retention::Limits,
        max_age: Duration::from_secs(7 * 86400),
        max_bytes: -1,
        replicas: 1,
        duplicate_window: Duration::from_secs(120),
        lease_ttl: Duration::from_secs(5),
        in_flight: 4096,
        buffer_events: 100_000,
        buffer_bytes: 64 << 20,
        snapshot: vec!["CoreShowChannels".to_owned()],
    };
    let (mut user, mut password, mut token) = (None, None, None);
    let (mut cert, mut key) = (None, None);
    let mut auth_lines = 0;
    for v in &cat.variables {
        let value = v.value.trim();
        let line = v.line;
        let bad = |what: &str| err(line, format!("[nats] {}: {what}, not {value:?}", v.name));
        let positive = |n: Option<u64>| n.filter(|n| *n > 0).ok_or_else(|| bad("a number > 0"));
        match v.name.to_ascii_lowercase().as_str() {
            "servers" | "server" => {
                c.servers = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "credentials" => {
                c.auth = NatsAuth::Credentials(PathBuf::from(value));
                auth_lines += 1;
            }
            "nkey" => {
                c.auth = NatsAuth::Nkey(PathBuf::from(value));
                auth_lines += 1;
            }
            "user" => user = Some(value.to_owned()),
            "password_env" => password = Some(CredentialSource::Env(value.to_owned())),
            "password_file" => password = Some(CredentialSource::File(PathBuf::from(value))),
            "token_env" => token = Some(CredentialSource::Env(value.to_owned())),
            "token_file" => token = Some(CredentialSource::File(PathBuf::from(value))),
            "password" | "token" => {
                return Err(err(
                    line,
                    format!(
                        "[nats] {}: write {0}_env = VAR or {0}_file = PATH: secrets stay out of this file",
                        v.name
                    ),
                ));
            }
            "tls" => {
                c.tls_required = if ast_true(value) {
                    true
                } else if ast_false(value) {
                    false
                } else {
                    return Err(bad("yes or no"));
                }
            }
            "tls_ca" => c.tls_ca = Some(PathBuf::from(value)),
            "tls_cert" => cert = Some(PathBuf::from(value)),
            "tls_key" => key = Some(PathBuf::from(value)),
            "stream" => {
                if !is_token(value) {
                    return Err(bad("a stream name: letters, digits, _ and -"));
                }
                c.stream = value.to_owned();
            }
            "subject_prefix" => {
                if !is_token(value) {
                    return Err(bad("one subject token: letters, digits, _ and -"));
                }
                c.subject_prefix = value.to_owned();
            }
            "storage" => {
                c.storage = match value.to_ascii_lowercase().as_str() {
                    "file" => Storage::File,
                    "memory" => Storage::Memory,
                    _ => return Err(bad("file or memory")),
                }
            }
            "retention" => {
                c.retention = match value.to_ascii_lowercase().as_str() {
                    "limits" => Retention::Limits,
                    "interest" => Retention::Interest,
                    "workqueue" => Retention::WorkQueue,
                    _ => return Err(bad("limits, interest or workqueue")),
                }
            }
            "max_age" => {
                c.max_age = parse_duration(value).ok_or_else(|| bad("a duration (7d, 12h, 30m)"))?
            }
            "max_bytes" => {
                c.max_bytes =
                    i64::try_from(parse_size(value).ok_or_else(|| bad("a size (10G, 512M)"))?)
                        .map_err(|_| bad("a size below 8 EiB"))?;
            }
            "replicas" => {
                c.replicas = usize::try_from(positive(value.parse().ok())?).unwrap_or(1).min(5);
            }
            "duplicate_window" => {
                c.duplicate_window = parse_duration(value)
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| bad("a duration > 0 (2m)"))?;
            }
            "lease_ttl" => {
                c.lease_ttl = parse_duration(value)
                    .filter(|d| *d >= Duration::from_secs(1))
                    .ok_or_else(|| bad("a duration of at least 1s"))?;
            }
            "in_flight" => {
                c.in_flight = usize::try_from(positive(value.parse().ok())?).unwrap_or(4096)
            }
            "buffer_events" => {
                c.buffer_events = usize::try_from(positive(value.parse().ok())?).unwrap_or(100_000);
            }
            "buffer_bytes" => {
                c.buffer_bytes = usize::try_from(positive(parse_size(value))?).unwrap_or(64 << 20);
            }
            "snapshot" => {
                c.snapshot = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("none"))
                    .map(str::to_owned)
                    .collect();
                for a in &c.snapshot {
                    if ami_proto::authority::action_info(a.as_bytes()).is_none() {
                        return Err(err(
                            line,
                            format!("[nats] snapshot: {a:?} is not an AMI action"),
                        ));
                    }
                }
            }
            other => {
                return Err(err(
                    line,
                    format!(
                        "[nats]: unknown key {other:?} (known: servers, credentials, nkey, user, \
                         password_env, password_file, token_env, token_file, tls, tls_ca, tls_cert, \
                         tls_key, stream, subject_prefix, storage, retention, max_age, max_bytes, \
                         replicas, duplicate_window, lease_ttl, in_flight, buffer_events, \
                         buffer_bytes, snapshot)"
                    ),
                ));
            }
        }
    }
    if let Some(user) = user {
        let password = password.ok_or_else(|| {
            err(cat.line, "[nats] user = … needs password_env = VAR or password_file = PATH")
        })?;
        c.auth = NatsAuth::UserPassword { user, password };
        auth_lines += 1;
    } else if password.is_some() {
        return Err(err(cat.line, "[nats] password_env/password_file needs user = …"));
    }
    if let Some(token) = token {
        c.auth = NatsAuth::Token(token);
        auth_lines += 1;
    }
    if auth_lines > 1 {
        return Err(err(cat.line, "[nats]: give one of credentials, nkey, user + password, token"));
    }
    match (cert, key) {
        (Some(c1), Some(k)) => c.tls_client = Some((c1, k)),
        (None, None) => {}
        _ => return Err(err(cat.line, "[nats] tls_cert and tls_key go together")),
    }
    if c.servers.is_empty() {
        return Err(err(cat.line, "[nats] servers = nats://HOST:4222 is required"));
    }
    if c.duplicate_window > c.max_age && !c.max_age.is_zero() {
        return Err(err(cat.line, "[nats] duplicate_window must not exceed max_age"));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_proto::perm::Privilege;

    const CONF: &str = "\
[general]
name = bridge-a

[nats]
servers = nats://127.0.0.1:4222, nats://127.0.0.1:4223
user = bridge
password_env = BRIDGE_PASSWORD
stream = AMI
max_age = 1d
max_bytes = 1G
duplicate_window = 2m
lease_ttl = 3s
snapshot = CoreShowChannels, QueueStatus

[upstream:pbx1]
host = 127.0.0.1
username = bridge
secret = s1

[upstream:pbx2]
host = 127.0.0.2
username = bridge
secret = s2

[crm]
read = call
write = originate
eventfilter = !Event: Newexten
pbx = pbx2

[Ops]
read = all
write = all
";

    #[test]
    fn sections_roles_and_settings() {
        let cfg = load("bridge.conf", CONF).unwrap();
        assert_eq!(cfg.name.as_deref(), Some("bridge-a"));
        assert_eq!(cfg.nats.servers.len(), 2);
        assert_eq!(
            cfg.nats.auth,
            NatsAuth::UserPassword {
                user: "bridge".into(),
                password: CredentialSource::Env("BRIDGE_PASSWORD".into())
            }
        );
        assert_eq!(cfg.nats.max_age, Duration::from_secs(86400));
        assert_eq!(cfg.nats.max_bytes, 1 << 30);
        assert_eq!(cfg.nats.lease_ttl, Duration::from_secs(3));
        assert_eq!(cfg.nats.snapshot, ["CoreShowChannels", "QueueStatus"]);
        assert_eq!(cfg.upstreams.upstreams.len(), 2);
        let names: Vec<&str> = cfg.roles.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["crm", "ops"]);
        assert_eq!(cfg.roles[0].read, Privilege::CALL);
        assert_eq!(cfg.roles[0].pbxs.as_deref(), Some(&[1usize][..]));
        assert_eq!(cfg.roles[0].filters.len(), 1);
        assert_eq!(cfg.nats.stream_of(&cfg.roles[1]), "AMI_OPS");
        // No secret and `pbx =` are not findings for a role; a role that may run
        // shell-equivalent actions on the PBXs (Ops: write=all) is one, as for a user.
        let kinds: Vec<_> = cfg.manager.diagnostics.iter().map(|d| (d.line, &d.kind)).collect();
        assert!(
            matches!(
                kinds[..],
                [(31, ami_proto::config::DiagnosticKind::ShellEquivalentWrite { .. })]
            ),
            "{kinds:?}"
        );
    }

    #[test]
    fn errors_name_the_line() {
        let base = "[upstream:p]\nhost = h\nusername = u\nsecret = s\n";
        let cases: [(&str, u32, &str); 7] = [
            ("[nats]\nservers = nats://x\nstorage = disk\n[r]\nread = call\n", 7, "file or memory"),
            ("[nats]\nservers = nats://x\npassword = x\n[r]\nread = call\n", 7, "password_env"),
            ("[nats]\nservers = nats://x\nmax_age = soon\n[r]\nread = call\n", 7, "duration"),
            (
                "[nats]\nservers = nats://x\nsnapshot = NoSuchAction\n[r]\nread = call\n",
                7,
                "not an AMI action",
            ),
            ("[nats]\nservers = nats://x\n[r]\nread = call\npbx = q\n", 9, "no upstream named"),
            ("[nats]\n[r]\nread = call\n", 5, "servers"),
            ("[nats]\nservers = nats://x\ncolour = red\n[r]\nread = call\n", 7, "unknown key"),
        ];
        for (text, line, needle) in cases {
            let text = format!("{base}{text}");
            let e = load("b.conf", &text).unwrap_err();
            assert_eq!(e.line, line, "{text}: {e}");
            assert!(e.message.contains(needle), "{text}: {e}");
        }
        let e = load("b.conf", &format!("{base}[nats]\nservers = nats://x\n")).unwrap_err();
        assert!(e.message.contains("no role"), "{e}");
        let e = load("b.conf", "[nats]\nservers = nats://x\n[r]\nread = call\n").unwrap_err();
        assert!(e.message.contains("no [upstream:NAME]"), "{e}");
        let e = load("b.conf", &format!("{base}[nats]\nservers = x\n[r.x]\nread = call\n"))
            .unwrap_err();
        assert!(e.message.contains("subject token"), "{e}");
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(parse_duration("1 fortnight"), None);
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("10G"), Some(10 << 30));
        assert_eq!(parse_size("17"), Some(17));
        assert_eq!(parse_size("1X"), None);
    }
}
