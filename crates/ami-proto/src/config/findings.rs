//! What `ami check` reports: every loader diagnostic and its own security checks, each with a
//! severity, a stable code and a hint on what to do.
//!
//! Severities (exit code 1 as soon as one finding is an error):
//!
//! * **error**: the configuration does not do what it says in a way that locks out or opens
//!   up a user — an invalid ACL line that deletes the user (`acl-deletes-user`), an empty
//!   secret that lets anyone log in without one (`empty-secret`), an invalid `port`
//!   (`invalid-port`, Asterisk then listens on an unpredictable port).
//! * **warning**: dangerous or surprising grants and ignored lines. With `--strict` the
//!   dangerous-grant warnings (`shell-write`, `config-write`, `agi-write`,
//!   `originate-escalation`, `open-network`, `ipv6-open`, `perm-quirk`, `weak-secret`) become
//!   errors.
//! * **info**: worth knowing, never an error (for example an open ACL while AMI only listens
//!   on a loopback address).
//!
//! [`check`] assembles them for a loaded [`ManagerConfig`]: the findings of every user Asterisk
//! keeps, of the users it deletes, and those about the file as a whole. `ami check` prints
//! this report; the editor ([`super::edit`]) refuses an edit whose result has a new error and
//! returns the warnings with it.
//!
//! ```
//! use ami_proto::config::findings::{check, Severity};
//! use ami_proto::config::{parse_manager_conf, ConfigOptions, NoIncludes};
//!
//! let text = "[general]\nenabled = yes\n[ops]\nsecret = \nread = all\nwrite = all\n";
//! let config = parse_manager_conf(text, &mut NoIncludes, &ConfigOptions::default()).unwrap();
//! let report = check(&config, false);
//! let codes: Vec<&str> = report.users[0].findings.iter().map(|f| f.code).collect();
//! assert!(codes.contains(&"empty-secret") && codes.contains(&"shell-write"));
//! assert_eq!(report.count(Severity::Error), 1); // empty-secret; shell-write is a warning
//! assert_eq!(check(&config, true).count(Severity::Error), 3); // --strict: open-network too
//! ```

use std::sync::Arc;

use crate::acl::AclDiagnostic;
use crate::authority::check_originate;
use crate::config::{DiagnosticKind, MANAGER_CONF, ManagerConfig, User};
use crate::perm::{PermDiagnostic, Privilege};

use super::reach::{Listener, Reach, reach};

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Fails the check (exit 1).
    Error,
    /// Should be looked at.
    Warning,
    /// For information.
    Info,
}

impl Severity {
    /// The lower-case word used in both outputs.
    pub fn word(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One reported finding.
#[derive(Clone, Debug)]
pub struct Finding {
    /// How bad it is (after `--strict`).
    pub severity: Severity,
    /// Stable machine-readable code, e.g. `shell-write`.
    pub code: &'static str,
    /// The file of the line concerned (`manager.conf` = the checked file).
    pub file: Arc<str>,
    /// The line (1-based).
    pub line: u32,
    /// What was found.
    pub message: String,
    /// What to do about it.
    pub hint: String,
    /// The user concerned, if any.
    pub user: Option<String>,
}

/// A dangerous grant: a warning, an error with `--strict`.
fn dangerous(strict: bool) -> Severity {
    if strict { Severity::Error } else { Severity::Warning }
}

/// Secrets seen in examples, installers and default configurations.
const COMMON_SECRETS: &[&str] = &[
    "1234",
    "12345",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "1234567890",
    "admin",
    "amp111",
    "amp109",
    "asterisk",
    "changeme",
    "default",
    "manager",
    "mysecret",
    "pass",
    "passw0rd",
    "password",
    "qwerty",
    "secret",
    "test",
];

/// Shortest user name looked for inside the secret.
const MIN_NAME_LEN: usize = 3;

/// Minimum secret length not reported as weak.
const MIN_SECRET_LEN: usize = 8;

/// The state of a user's secret, as reported (the secret itself is never printed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretState {
    /// A secret that passes the weak-secret checks.
    Set,
    /// `secret =`: a Login without `Secret` succeeds.
    Empty,
    /// No `secret` line: the user can never log in.
    Missing,
    /// Short, common or derived from the user name.
    Weak,
}

impl SecretState {
    /// The word used in both outputs.
    pub fn word(self) -> &'static str {
        match self {
            SecretState::Set => "set",
            SecretState::Empty => "empty",
            SecretState::Missing => "missing",
            SecretState::Weak => "weak",
        }
    }
}

/// Why a secret is weak, if it is (never quoting it).
fn weakness(user: &str, secret: &str) -> Option<String> {
    let lower = secret.to_ascii_lowercase();
    if COMMON_SECRETS.contains(&lower.as_str()) {
        return Some("is a well-known default password".to_owned());
    }
    if user.len() >= MIN_NAME_LEN && lower.contains(&user.to_ascii_lowercase()) {
        return Some("contains the user name".to_owned());
    }
    if secret.chars().count() < MIN_SECRET_LEN {
        return Some(format!("is shorter than {MIN_SECRET_LEN} characters"));
    }
    let mut chars = secret.chars();
    if let Some(first) = chars.next()
        && chars.all(|c| c == first)
    {
        return Some("repeats a single character".to_owned());
    }
    None
}

/// The secret state of `user`.
fn secret_state(user: &User) -> SecretState {
    match user.secret.as_deref() {
        None => SecretState::Missing,
        Some("") => SecretState::Empty,
        Some(s) if weakness(&user.name, s).is_some() => SecretState::Weak,
        Some(_) => SecretState::Set,
    }
}

/// The user a loader diagnostic is about, if any.
fn diagnostic_user(kind: &DiagnosticKind) -> Option<&str> {
    match kind {
        DiagnosticKind::DuplicateUserSection { user, .. }
        | DiagnosticKind::UnknownUserKey { user, .. }
        | DiagnosticKind::MiscasedEventFilter { user, .. }
        | DiagnosticKind::FilterSkipped { user, .. }
        | DiagnosticKind::AclUserDeleted { user, .. }
        | DiagnosticKind::Filter { user, .. }
        | DiagnosticKind::Acl { user, .. }
        | DiagnosticKind::Perm { user, .. }
        | DiagnosticKind::InvalidWriteTimeout { user, .. }
        | DiagnosticKind::SetvarWithoutEquals { user, .. }
        | DiagnosticKind::SetvarTruncated { user }
        | DiagnosticKind::NoSecret { user }
        | DiagnosticKind::EmptySecret { user }
        | DiagnosticKind::ShellEquivalentWrite { user, .. } => Some(user),
        _ => None,
    }
}

/// Severity, code and hint of a loader diagnostic; `None` for diagnostics that `ami check`
/// replaces with its own, more precise finding.
fn classify(
    kind: &DiagnosticKind,
    deleted: bool,
    strict: bool,
) -> Option<(Severity, &'static str, String)> {
    use DiagnosticKind as K;
    use Severity::{Error, Info, Warning};
    let found = match kind {
        K::LineTooLong { .. } => {
            (Warning, "line-too-long", "split the line: Asterisk skips lines over 8190 bytes")
        }
        K::NulCharacter => (Warning, "nul-character", "remove the NUL byte from the file"),
        K::UnterminatedBlockComment => (
            Warning,
            "unterminated-comment",
            "close the `;--` block comment with `--;`, or the rest of the file is ignored",
        ),
        K::StrayBlockCommentEnd => (
            Warning,
            "stray-comment-end",
            "remove the `--;` or add the `;--` that should open the comment",
        ),
        K::TextAfterCategoryIgnored { .. } => (
            Warning,
            "text-after-category",
            "write options right after `]` without a blank, e.g. `[name](!)`, or remove the text",
        ),
        K::CategoryNameTruncated { .. } => {
            (Warning, "name-truncated", "use a user name of at most 79 bytes")
        }
        K::EmptyInheritItem => {
            (Warning, "empty-inherit", "remove the empty item from the `(…)` option list")
        }
        K::UnknownDirective { .. } => {
            (Warning, "unknown-directive", "use #include or #tryinclude, or remove the line")
        }
        K::DirectiveMissingArgument { .. } => {
            (Warning, "directive-missing-argument", "name the file to include")
        }
        K::ExecRefused { .. } => (
            Info,
            "exec-ignored",
            "#exec runs only with execincludes=yes in asterisk.conf; `ami check` never runs it",
        ),
        K::TryIncludeFailed { .. } | K::TryIncludeDepthExceeded { .. } => {
            (Warning, "tryinclude-failed", "fix the path or the file's permissions")
        }
        K::IncludedFileAbandoned { .. } => (
            Warning,
            "include-abandoned",
            "fix the error in the included file: Asterisk skipped the rest of it",
        ),
        K::NoEquals { .. } => (Warning, "no-equals", "write the line as `key = value`"),
        K::NoVariableName => (Warning, "no-key", "write the line as `key = value`"),
        K::SecondGeneralIgnored => (
            Warning,
            "second-general",
            "merge the two [general] sections: only the first one is read",
        ),
        K::UnknownGeneralKey { .. } | K::RejectedTlsKeyword { .. } => {
            (Warning, "unknown-key", "fix the spelling or remove the line (see spec §7.1)")
        }
        K::NotABoolean { .. } => {
            (Warning, "not-boolean", "write yes or no (the value is taken as no)")
        }
        K::InvalidPort { .. } => {
            (Error, "invalid-port", "use a port number from 1024 to 65535 (default 5038)")
        }
        K::InvalidAddress { .. } => (
            Warning,
            "invalid-address",
            "use a numeric IPv4 or IPv6 address (host names are not resolved)",
        ),
        K::InvalidNumber { .. } => (Warning, "invalid-number", "use a number of at least 1"),
        K::DuplicateUserSection { .. } => (
            Warning,
            "duplicate-user",
            "merge the sections: user names are case-insensitive and the later section \
             replaces the ACL, filters and setvars of the earlier one",
        ),
        K::UnknownUserKey { .. } => {
            (Warning, "unknown-key", "fix the spelling or remove the line (see spec §7.2)")
        }
        K::MiscasedEventFilter { .. } => (
            Warning,
            "miscased-eventfilter",
            "write the key in lower case (`eventfilter`): as written, the filter is ignored \
             and the user receives every event its read classes allow",
        ),
        K::FilterSkipped { .. } => (
            Warning,
            "filter-skipped",
            "fix the filter: as written it is ignored, so the user may receive more events \
             than intended",
        ),
        K::AclUserDeleted { .. } if deleted => (
            Error,
            "acl-deletes-user",
            "fix the permit/deny/acl value (one numeric address[/mask] per comma-separated \
             entry, no blanks, no port): until then Asterisk deletes this user and every login \
             as it fails",
        ),
        K::AclUserDeleted { .. } => (
            Warning,
            "acl-error-forgiven",
            "fix the line: a later section of the same user cancelled the deletion, which is \
             fragile",
        ),
        K::Filter { .. } => (Warning, "filter-quirk", "rewrite the filter so it says what it does"),
        K::NamedAcl { .. } => (Warning, "named-acl", "fix the named ACL in acl.conf"),
        K::Acl { diagnostic, .. } => match diagnostic {
            // Replaced by `open-network`, computed exactly for empty lists as well.
            AclDiagnostic::PermitsEverything { .. } => return None,
            AclDiagnostic::UndefinedNamedAcl { .. } => (
                Warning,
                "undefined-acl",
                "define the ACL in acl.conf (pass it with --acl-conf) or remove the `acl =` line",
            ),
            AclDiagnostic::Ipv6NotRestricted { .. } => (
                dangerous(strict),
                "ipv6-open",
                "add `deny = ::/0` (and permit the IPv6 networks that need access)",
            ),
            AclDiagnostic::EmptyNamedAcl { .. } => {
                (Warning, "acl-quirk", "add permit/deny rules to the named ACL or stop using it")
            }
            _ => {
                (Warning, "acl-quirk", "write the entry as a plain address/prefix, e.g. 10.0.0.0/8")
            }
        },
        K::Perm { diagnostic, key, .. } => match diagnostic {
            PermDiagnostic::EmptyElementGrantsAll { .. }
            | PermDiagnostic::AllGrantedViaPrefix { .. }
            | PermDiagnostic::PrefixExpanded { .. } => {
                return Some((
                    dangerous(strict),
                    "perm-quirk",
                    format!(
                        "write the full class names, comma-separated without empty items, e.g. \
                         `{} = call,originate`: every item but the last is matched as a prefix \
                         (spec §4.2)",
                        key.to_ascii_lowercase()
                    ),
                ));
            }
            _ => (
                Warning,
                "perm-ignored",
                "write lower-case class names without blanks (`call,log`); the item grants nothing",
            ),
        },
        K::InvalidWriteTimeout { .. } => {
            (Warning, "invalid-number", "use a writetimeout of at least 100 (ms)")
        }
        K::SetvarWithoutEquals { .. } => (Warning, "setvar-ignored", "write `setvar = NAME=value`"),
        K::SetvarTruncated { .. } => {
            (Warning, "setvar-truncated", "keep `NAME=value` within 255 bytes")
        }
        K::NoSecret { .. } => (
            Warning,
            "never-login",
            "add `secret = …` (a long random string) or remove the unused user",
        ),
        K::EmptySecret { .. } => (
            Error,
            "empty-secret",
            "set a long random secret: with `secret =` a Login without Secret succeeds",
        ),
        K::ShellEquivalentWrite { .. } => (
            dangerous(strict),
            "shell-write",
            "grant write `system`/`command` (and `all`) only to fully trusted administrators, \
             and restrict them with `deny = 0.0.0.0/0`, `deny = ::/0` and `permit = <admin \
             host>`",
        ),
        K::DiagnosticsSuppressed { .. } => {
            (Info, "suppressed", "fix the findings above and run the check again")
        }
    };
    Some((found.0, found.1, found.2.to_owned()))
}

/// Turns a loader diagnostic into a finding.
fn from_diagnostic(
    file: &Arc<str>,
    line: u32,
    kind: &DiagnosticKind,
    deleted: bool,
    strict: bool,
) -> Option<Finding> {
    let (severity, code, hint) = classify(kind, deleted, strict)?;
    let mut message = kind.to_string();
    // Lines Asterisk ignores may hold a mistyped secret (`secret hunter2`): the loader's
    // text shows only their first word.
    if code == "acl-error-forgiven" {
        // The loader's text ends with "the user is deleted", which a later section undid.
        if let Some(start) = message.rfind("; the user is deleted") {
            message.truncate(start);
        }
        message.push_str(
            "; Asterisk deletes the user here, but a later section of the same user undoes that",
        );
    }
    Some(Finding {
        severity,
        code,
        file: file.clone(),
        line,
        message,
        hint,
        user: diagnostic_user(kind).map(str::to_owned),
    })
}

/// Applications probed to show what `originate` without `system` allows.
const ORIGINATE_PROBES: [(&str, &str, &str); 4] = [
    ("System", "id", "run shell commands"),
    ("ChanSpy", "", "listen in on any call"),
    ("Dial", "PJSIP/0900123456@trunk", "call any number"),
    ("Set", "GLOBAL(x)=y", "change global variables"),
];

/// `ami check`'s own findings about one user (`reach` = what its ACL admits).
fn user_findings(cfg: &ManagerConfig, user: &User, reach: Reach, strict: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |severity, code, message: String, hint: &str| {
        out.push(Finding {
            severity,
            code,
            file: user.file.clone(),
            line: user.line,
            message,
            hint: hint.to_owned(),
            user: Some(user.name.clone()),
        });
    };
    let name = &user.name;
    if let Some(secret) = user.secret.as_deref().filter(|s| !s.is_empty())
        && let Some(why) = weakness(name, secret)
    {
        push(
            dangerous(strict),
            "weak-secret",
            format!("user `{name}`: the secret {why}"),
            "use a long random secret (e.g. `openssl rand -base64 24`)",
        );
    }
    let shell = user.write.intersects(Privilege::SYSTEM | Privilege::COMMAND);
    if user.write.contains(Privilege::ORIGINATE) && !user.write.contains(Privilege::SYSTEM) {
        let allowed: Vec<String> = ORIGINATE_PROBES
            .iter()
            .filter(|(app, data, _)| {
                check_originate(user.write, Some(app.as_bytes()), Some(data.as_bytes())).is_ok()
            })
            .map(|(app, _, what)| format!("{app} ({what})"))
            .collect();
        let refused: Vec<&str> = ORIGINATE_PROBES
            .iter()
            .filter(|(app, data, _)| {
                check_originate(user.write, Some(app.as_bytes()), Some(data.as_bytes())).is_err()
            })
            .map(|(app, _, _)| *app)
            .collect();
        push(
            dangerous(strict),
            "originate-escalation",
            format!(
                "user `{name}` may write `originate`: Originate to an Exten/Context is not \
                 checked at all, so it runs whatever the dialplan of any context runs; with \
                 Application it may start {}{} (spec §4.7)",
                if allowed.is_empty() {
                    "no probed application".to_owned()
                } else {
                    allowed.join(", ")
                },
                if refused.is_empty() {
                    String::new()
                } else {
                    format!("; only {} is refused without `system`", refused.join(", "))
                },
            ),
            "grant `originate` only to trusted applications, restrict the user's network, and \
             make sure no reachable dialplan context runs System(), AGI or outbound trunks",
        );
    }
    if user.write.contains(Privilege::AGI) && !shell {
        push(
            dangerous(strict),
            "agi-write",
            format!(
                "user `{name}` may write `agi`: the AGI action queues commands on any channel \
                 running AsyncAGI, and the AGI command `EXEC` runs any dialplan application \
                 there, System() included"
            ),
            "grant `agi` only to the application driving AsyncAGI, and restrict its network",
        );
    }
    if user.write.contains(Privilege::CONFIG) && !shell {
        push(
            dangerous(strict),
            "config-write",
            format!(
                "user `{name}` may write `config`: UpdateConfig rewrites any file in the \
                 Asterisk configuration directory (e.g. extensions.conf with System()) and \
                 Reload applies it, which is close to shell access"
            ),
            "grant `config` only to administrators; use read-only classes for monitoring",
        );
    }
    let can_authenticate = user.secret.is_some();
    let g = &cfg.general;
    let listener = Listener::of(g.bind_addr, g.web_enabled || g.tls.enabled);
    if reach.admits_none() {
        push(
            Severity::Warning,
            "never-login",
            format!("user `{name}`: the ACL admits no address, so the user can never log in"),
            "permit the networks that need access (`permit = 192.0.2.0/24`), define the named \
             ACLs in acl.conf, or remove the user",
        );
    } else if listener.admits_none(reach) {
        let family = if listener.v4 { "IPv4" } else { "IPv6" };
        push(
            Severity::Warning,
            "never-login",
            format!(
                "user `{name}`: the ACL admits no {family} address, and AMI listens on {} only, \
                 so the user can never log in",
                g.bind_addr
            ),
            "permit the networks that need access (`permit = 192.0.2.0/24`), define the named \
             ACLs in acl.conf, or remove the user",
        );
    } else if listener.open_to_all(reach) && can_authenticate {
        let local_only = g.bind_addr.is_loopback() && !g.web_enabled && !g.tls.enabled;
        let (severity, scope) = if local_only {
            (Severity::Info, format!(" (AMI listens on {} only)", g.bind_addr))
        } else {
            (dangerous(strict), String::new())
        };
        push(
            severity,
            "open-network",
            format!("user `{name}` may log in from every address{scope}"),
            "restrict the user: `deny = 0.0.0.0/0`, `deny = ::/0`, then `permit = <network>` \
             for the hosts that need AMI",
        );
    }
    out
}

/// One user Asterisk keeps, as `ami check` reports it.
#[derive(Clone, Debug)]
pub struct UserCheck {
    /// The user's index in [`ManagerConfig::users`].
    pub index: usize,
    /// Its secret, classified (never the secret itself).
    pub secret: SecretState,
    /// What its ACL admits.
    pub reach: Reach,
    /// Its findings, most severe first.
    pub findings: Vec<Finding>,
}

/// A user Asterisk deletes because of an invalid ACL line (logins fail as for an unknown user).
#[derive(Clone, Debug)]
pub struct DeletedUser {
    /// The name.
    pub name: String,
    /// The findings about it, most severe first.
    pub findings: Vec<Finding>,
}

/// Everything [`check`] found in one configuration.
#[derive(Clone, Debug)]
pub struct CheckReport {
    /// The users Asterisk keeps, in the order of [`ManagerConfig::users`].
    pub users: Vec<UserCheck>,
    /// The users Asterisk deletes.
    pub deleted: Vec<DeletedUser>,
    /// Findings not about a user, most severe first.
    pub global: Vec<Finding>,
}

impl CheckReport {
    /// Every finding: users', deleted users', then global ones.
    pub fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        self.users
            .iter()
            .flat_map(|u| u.findings.iter())
            .chain(self.deleted.iter().flat_map(|d| d.findings.iter()))
            .chain(self.global.iter())
    }

    /// How many findings have `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.all_findings().filter(|f| f.severity == severity).count()
    }
}

/// `ami check` on a loaded configuration: every loader diagnostic as a finding (attached to
/// its user), `ami check`'s own security findings per user, and the global ones. `strict`
/// makes the dangerous grants errors (`ami check --strict`).
pub fn check(cfg: &ManagerConfig, strict: bool) -> CheckReport {
    let mut users: Vec<UserCheck> = cfg
        .users
        .iter()
        .enumerate()
        .map(|(index, user)| UserCheck {
            index,
            secret: secret_state(user),
            reach: reach(&user.acl),
            findings: Vec::new(),
        })
        .collect();
    let mut deleted: Vec<DeletedUser> = Vec::new();
    let mut global = Vec::new();
    for d in &cfg.diagnostics {
        let owner = diagnostic_user(&d.kind);
        let kept = owner.and_then(|name| cfg.users.iter().position(|u| u.name == name));
        let is_deleted = owner.is_some() && kept.is_none();
        let Some(finding) = from_diagnostic(&d.file, d.line, &d.kind, is_deleted, strict) else {
            continue;
        };
        match (owner, kept) {
            (Some(_), Some(i)) => {
                if let Some(u) = users.get_mut(i) {
                    u.findings.push(finding);
                }
            }
            (Some(name), None) => match deleted.iter_mut().find(|x| x.name == name) {
                Some(x) => x.findings.push(finding),
                None => {
                    deleted.push(DeletedUser { name: name.to_owned(), findings: vec![finding] })
                }
            },
            (None, _) => global.push(finding),
        }
    }
    let g = &cfg.general;
    let listener = Listener::of(g.bind_addr, g.web_enabled || g.tls.enabled);
    for u in &mut users {
        let Some(user) = cfg.users.get(u.index) else { continue };
        if !listener.v6 {
            // IPv6 clients cannot reach an IPv4 listener: an open IPv6 side does not matter.
            for f in u.findings.iter_mut().filter(|f| f.code == "ipv6-open") {
                f.severity = Severity::Info;
                f.message.push_str(&format!(" (AMI listens on {} only)", g.bind_addr));
            }
        }
        u.findings.extend(user_findings(cfg, user, u.reach, strict));
        u.findings.sort_by_key(|f| f.severity);
    }
    for d in &mut deleted {
        d.findings.sort_by_key(|f| f.severity);
    }
    if !cfg.general.enabled && !cfg.users.is_empty() {
        global.push(Finding {
            severity: Severity::Warning,
            code: "ami-disabled",
            file: Arc::from(MANAGER_CONF),
            line: 0,
            message: "[general] enabled is not yes: AMI is off and no user can log in".to_owned(),
            hint: "set `enabled = yes` in [general] if AMI should run".to_owned(),
            user: None,
        });
    }
    global.sort_by_key(|f| f.severity);
    CheckReport { users, deleted, global }
}

#[cfg(test)]
mod tests {
    use super::weakness;

    #[test]
    fn weak_secrets() {
        assert!(weakness("bob", "amp111").is_some());
        assert!(weakness("bob", "Password").is_some());
        assert!(weakness("bob", "bob2024!x").is_some());
        assert!(weakness("bob", "short").is_some());
        assert!(weakness("bob", "aaaaaaaaaaaa").is_some());
        assert!(weakness("bob", "vK3u9-Qe1pZ!").is_none());
    }
}
