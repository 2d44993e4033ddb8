//! manager.conf and acl.conf loading (spec §7, §5.1, §6, §3.6), on top of the Asterisk ini
//! parser in [`ini`].
//!
//! [`parse_manager_conf`] turns the text of manager.conf into a [`ManagerConfig`]: the typed
//! `[general]` settings (§7.1) and the users (§7.2), computed the way `__init_manager`
//! (`main/manager.c`) computes them on a fresh start, plus a list of [`ConfigDiagnostic`]s
//! explaining every surprising or ignored line. No file is read: includes go through the
//! caller's [`IncludeResolver`].
//!
//! # Asterisk semantics reproduced
//!
//! * `[general]`: only the **first** non-template category named `general` (any case) is read;
//!   a second one is neither settings nor a user (reported). Keys are case-insensitive, values
//!   are read with Asterisk's own converters: booleans with `ast_true` (`yes`, `true`, `y`,
//!   `t`, `1`, `on`, any case; everything else is false — a word that is not an `ast_false`
//!   word either is reported), numbers with C `atoi` or `strtoul` as Asterisk does.
//!   `authtimeout`/`authlimit` below 1 are ignored (§3.6); `httptimeout` is applied only
//!   if its **last** value is above 0; an invalid `port` or `bindaddr` keeps the previous
//!   value (Asterisk uses an uninitialised variable for an invalid port). The TLS client keywords (`tlscafile`, `tlscapath`, `tlscadir`, `tlsverifyclient`,
//!   `tlsdontverifyserver`, `tlsclientmethod`, `sslclientmethod`) are rejected like unknown
//!   keys.
//! * Users: every other non-template category, in order. The name is the category name
//!   (not trimmed, at most 79 bytes). A second section whose name equals an earlier user's
//!   (ASCII case-insensitive) is applied to that same user, as Asterisk's loop does: its ACL,
//!   event filters and `setvar`s **replace** the earlier section's, every other key it sets
//!   overrides, keys it does not set keep the earlier value, and an earlier ACL error is
//!   forgiven (reported as [`DiagnosticKind::DuplicateUserSection`]).
//! * User keys are case-insensitive, except that event filters are the keys that **begin with
//!   the exact text `eventfilter`** (§5.1): `EventFilter = …` is ignored (reported).
//!   `secret` last wins; `permit`/`deny`/`acl` accumulate through [`AclList::add_line`] and an
//!   invalid line deletes the user (§6); `read`/`write` go through [`parse_perm`], the last
//!   line wins (§4.2, §9 case 23); `writetimeout` below 100 keeps the previous value;
//!   `setvar = NAME=value` is cut to 255 bytes and split at the first `=` (no `=` → ignored);
//!   invalid filters are skipped (§5).
//! * A missing `secret` line means the user can never log in; `secret =` means the empty
//!   secret (§9 case 42). Both are reported as informational diagnostics.
//!
//! Not modelled: reload. Asterisk keeps some settings of the previous load when a key
//! disappears on reload (a user's `read`/`write`, the global `allowmultiplelogin`,
//! `timestampevents`, `webenabled`); a [`ManagerConfig`] always describes a fresh start.
//!
//! [`Strictness::Strict`] makes the load fail on the first diagnostic that is not purely
//! informational (see [`DiagnosticKind::is_informational`]) and on `read`/`write` values that
//! [`parse_perm`] refuses.
//!
//! [`findings`] is `ami check`: what a loaded configuration really grants, as coded findings.
//! [`edit`] changes manager.conf without losing a byte it does not concern, and validates every
//! edit by loading the result again.
//!
//! [`parse_acl_conf`] reads acl.conf (`main/named_acl.c`): every category is a named ACL made
//! of its `permit`/`deny` lines; duplicate categories of the same (case-sensitive) name merge;
//! a `[general]` category, an unknown key or an invalid rule fails the whole file, as in
//! Asterisk.
//!
//! ```
//! use ami_proto::config::{parse_manager_conf, ConfigOptions, NoIncludes};
//! use ami_proto::perm::Privilege;
//!
//! let text = "[general]\nenabled = yes\n\n[admin]\nsecret = s3cret\nread = system,call\nwrite = all\n";
//! let config = parse_manager_conf(text, &mut NoIncludes, &ConfigOptions::default()).unwrap();
//! assert!(config.general.enabled);
//! let admin = config.user(b"ADMIN").unwrap();
//! assert_eq!(admin.secret.as_deref(), Some("s3cret"));
//! assert_eq!(admin.read, Privilege::SYSTEM | Privilege::CALL);
//! assert_eq!(admin.write, Privilege::ALL);
//! ```

pub mod edit;
pub mod findings;
pub mod ini;
pub mod reach;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use crate::acl::{Acl, AclDiagnostic, AclError, AclList, NamedAcls};
use crate::filter::{EventFilter, FilterDiagnostic, FilterError, FilterSet};
use crate::perm::{PermDiagnostic, PermError, Privilege, Strictness, parse_perm};

pub use ini::{IncludeError, IncludeResolver, MemoryResolver, NoIncludes};
use ini::{IniOptions, Sink};

/// Name used for the top-level file in diagnostics of [`parse_manager_conf`].
pub const MANAGER_CONF: &str = "manager.conf";
/// Name used for the top-level file in diagnostics of [`parse_acl_conf`].
pub const ACL_CONF: &str = "acl.conf";
/// Default AMI TCP port.
pub const DEFAULT_PORT: u16 = 5038;
/// Longest `setvar` value kept (`char varbuf[256]`).
pub const MAX_SETVAR_BYTES: usize = 255;

// ---------------------------------------------------------------------------------------------
// Errors and diagnostics
// ---------------------------------------------------------------------------------------------

/// A fatal configuration error: the whole file is rejected (Asterisk then keeps AMI disabled
/// at startup, or the previous settings on reload, §7.2).
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigError {
    /// The file where the error is.
    pub file: Arc<str>,
    /// Its line (1-based).
    pub line: u32,
    /// What is wrong.
    pub kind: ConfigErrorKind,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.kind)
    }
}

impl std::error::Error for ConfigError {}

/// Which resource bound of [`ini::Limits`] was exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// [`ini::Limits::max_total_bytes`].
    TotalBytes,
    /// [`ini::Limits::max_categories`].
    Categories,
    /// [`ini::Limits::max_variables`].
    Variables,
    /// [`ini::Limits::max_stored_bytes`].
    StoredBytes,
    /// [`ini::Limits::max_work`].
    Work,
}

impl fmt::Display for LimitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LimitKind::TotalBytes => "total size of the configuration files",
            LimitKind::Categories => "number of categories",
            LimitKind::Variables => "number of variables",
            LimitKind::StoredBytes => "size of the stored names and values",
            LimitKind::Work => "processing work",
        })
    }
}

/// The kinds of [`ConfigError`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// `[name` without `]`.
    MissingCloseBracket,
    /// `[name](…` without `)`.
    MissingCloseParen,
    /// `[name](+)` but no earlier non-template category has that name.
    AppendTargetMissing {
        /// The category name.
        name: String,
    },
    /// `[name](base)` but no earlier category or template is named `base`.
    InheritTargetMissing {
        /// The missing base.
        name: String,
    },
    /// `[name](+filter)`: Asterisk matches `filter` as POSIX regular expressions against the
    /// candidates' variables; this library does not support it.
    UnsupportedAppendFilter {
        /// The text after `+`.
        filter: String,
    },
    /// A `name = value` line before the first `[category]`.
    NoCategory,
    /// A `\` escaping a blank, a non-ASCII character or nothing.
    InvalidEscape,
    /// A 129th nested `;--` (Asterisk loops forever on it).
    CommentNestingTooDeep,
    /// `#include` of a path the resolver does not know.
    IncludeNotFound {
        /// The path as written.
        path: String,
    },
    /// `#include` of a path the resolver failed on.
    IncludeFailed {
        /// The path as written.
        path: String,
        /// The resolver's error.
        error: IncludeError,
    },
    /// `#include` nested deeper than [`ini::Limits::max_include_depth`].
    IncludeDepthExceeded {
        /// The path as written.
        path: String,
        /// The limit.
        max: usize,
    },
    /// An `#include`/`#tryinclude` of a file that is already being read.
    IncludeCycle {
        /// The path as written.
        path: String,
        /// The file that would be read again.
        file: String,
    },
    /// A resource bound was exceeded.
    LimitExceeded(LimitKind),
    /// A `read=`/`write=` value refused by [`parse_perm`] (strict mode).
    Perm {
        /// The user.
        user: String,
        /// The key as written.
        key: String,
        /// The refusal.
        error: Box<PermError>,
    },
    /// acl.conf: a `[general]` category (Asterisk accepts no category by that name).
    AclGeneralCategory,
    /// acl.conf: a key other than `permit`/`deny`.
    AclUnknownOption {
        /// The named ACL.
        acl: String,
        /// The key as written.
        key: String,
    },
    /// acl.conf: an invalid `permit`/`deny` rule.
    AclRule {
        /// The named ACL.
        acl: String,
        /// The value as written.
        value: String,
        /// The ACL module's error.
        error: Box<AclError>,
    },
    /// Strict mode: a diagnostic that is an error in that mode.
    Strict(Box<DiagnosticKind>),
}

impl fmt::Display for ConfigErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigErrorKind::MissingCloseBracket => f.write_str("no closing `]` in category line"),
            ConfigErrorKind::MissingCloseParen => {
                f.write_str("no closing `)` in category option list")
            }
            ConfigErrorKind::AppendTargetMissing { name } => write!(
                f,
                "`(+)` appends to category `{name}`, which does not exist (templates do not count)"
            ),
            ConfigErrorKind::InheritTargetMissing { name } => {
                write!(f, "inheritance from category `{name}`, which does not exist")
            }
            ConfigErrorKind::UnsupportedAppendFilter { filter } => write!(
                f,
                "category append filter `+{filter}` (regular-expression match) is not supported"
            ),
            ConfigErrorKind::NoCategory => {
                f.write_str("`name = value` line before any `[category]`")
            }
            ConfigErrorKind::InvalidEscape => {
                f.write_str("invalid `\\` escape at the start of a variable name")
            }
            ConfigErrorKind::CommentNestingTooDeep => {
                write!(f, "more than {} nested `;--` block comments", ini::MAX_NESTED_COMMENTS)
            }
            ConfigErrorKind::IncludeNotFound { path } => {
                write!(f, "#include file `{path}` does not exist")
            }
            ConfigErrorKind::IncludeFailed { path, error } => {
                write!(f, "#include file `{path}` cannot be read: {error}")
            }
            ConfigErrorKind::IncludeDepthExceeded { path, max } => {
                write!(f, "#include `{path}` exceeds the maximum include depth of {max}")
            }
            ConfigErrorKind::IncludeCycle { path, file } => {
                write!(f, "#include `{path}` would read `{file}` again (include cycle)")
            }
            ConfigErrorKind::LimitExceeded(limit) => write!(f, "limit exceeded: {limit}"),
            ConfigErrorKind::Perm { user, key, error } => {
                write!(f, "user `{user}`: `{key}`: {error}")
            }
            ConfigErrorKind::AclGeneralCategory => {
                f.write_str("acl.conf may not contain a `[general]` category")
            }
            ConfigErrorKind::AclUnknownOption { acl, key } => {
                write!(f, "named ACL `{acl}`: unknown option `{key}` (only permit and deny)")
            }
            ConfigErrorKind::AclRule { acl, value, error } => {
                write!(f, "named ACL `{acl}`: invalid rule `{value}`: {error}")
            }
            ConfigErrorKind::Strict(kind) => write!(f, "{kind} (an error in strict mode)"),
        }
    }
}

/// A non-fatal finding: something Asterisk accepts but that an administrator should know.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigDiagnostic {
    /// The file of the line concerned.
    pub file: Arc<str>,
    /// The line (1-based).
    pub line: u32,
    /// What was found.
    pub kind: DiagnosticKind,
}

impl fmt::Display for ConfigDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.kind)
    }
}

/// The kinds of [`ConfigDiagnostic`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum DiagnosticKind {
    // ----- ini syntax -----
    /// A physical line longer than 8190 bytes: skipped entirely.
    LineTooLong {
        /// Its length in bytes.
        length: usize,
    },
    /// A NUL character: the rest of the line is ignored.
    NulCharacter,
    /// A `;--` block comment still open at the end of the file (starting at this line): the
    /// rest of the file was ignored.
    UnterminatedBlockComment,
    /// A `--;` outside any block comment: Asterisk keeps the rest of this line verbatim and
    /// ignores every following line up to and including the next line with `;--`.
    StrayBlockCommentEnd,
    /// Text after `]` (or after the `)` of the option list) is ignored; in particular
    /// `[name] (!)` with a space is **not** a template.
    TextAfterCategoryIgnored {
        /// The ignored text. It may hold a secret (`[bob] secret=…`): `Display` shows only its
        /// first word.
        text: String,
    },
    /// A category name longer than 79 bytes was cut.
    CategoryNameTruncated {
        /// The name kept.
        name: String,
    },
    /// An empty item in `[name](…)` inherits from the first category of the configuration.
    EmptyInheritItem,
    /// An unknown `#directive`: ignored.
    UnknownDirective {
        /// Its name.
        name: String,
    },
    /// `#include`/`#tryinclude` without a file name: ignored.
    DirectiveMissingArgument {
        /// The directive.
        directive: String,
    },
    /// `#exec`: never run (Asterisk ignores it too unless `execincludes=yes`).
    ExecRefused {
        /// The command.
        command: String,
    },
    /// `#tryinclude` of a path the resolver failed on (other than "not found"): ignored.
    TryIncludeFailed {
        /// The path as written.
        path: String,
        /// The resolver's error.
        error: IncludeError,
    },
    /// `#tryinclude` nested too deep: ignored.
    TryIncludeDepthExceeded {
        /// The path as written.
        path: String,
        /// The limit.
        max: usize,
    },
    /// An included file had a fatal error: like Asterisk, its remaining lines (and the
    /// remaining files of the same include) were ignored and the including file went on.
    IncludedFileAbandoned {
        /// The error in the included file.
        error: Box<ConfigError>,
    },
    /// A line without `=`: ignored.
    NoEquals {
        /// The line. It may hold a secret (`secret hunter2`): `Display` shows only its first
        /// word.
        text: String,
    },
    /// A `= value` line with an empty name: ignored.
    NoVariableName,
    // ----- [general] -----
    /// A second `[general]` category: Asterisk reads only the first one; this one is ignored.
    SecondGeneralIgnored,
    /// An unknown `[general]` key: ignored ("Invalid keyword").
    UnknownGeneralKey {
        /// The key.
        key: String,
    },
    /// A TLS client keyword that manager.conf refuses: ignored.
    RejectedTlsKeyword {
        /// The key.
        key: String,
    },
    /// A boolean value that is neither a true nor a false word: it means "no".
    NotABoolean {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// `port` is not a number in 1024–65535: Asterisk then uses an unpredictable port; the
    /// previous value is kept here.
    InvalidPort {
        /// The value.
        value: String,
    },
    /// `bindaddr`/`tlsbindaddr` is not a numeric address: the previous value is kept.
    InvalidAddress {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// `authtimeout` or `authlimit` below 1 (the previous value is kept), or a **last**
    /// `httptimeout` line below 1 (the default 60 is used, earlier lines do not count).
    InvalidNumber {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    // ----- users -----
    /// A second section for an existing user (names compare case-insensitively).
    DuplicateUserSection {
        /// The user.
        user: String,
        /// Line of the user's first section.
        first_line: u32,
    },
    /// An unknown user key: ignored.
    UnknownUserKey {
        /// The user.
        user: String,
        /// The key.
        key: String,
    },
    /// A key that would be an event filter if written in lower case: ignored (§9 case 30).
    MiscasedEventFilter {
        /// The user.
        user: String,
        /// The key.
        key: String,
    },
    /// An event filter that does not parse: skipped.
    FilterSkipped {
        /// The user.
        user: String,
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Why.
        error: FilterError,
    },
    /// An invalid `permit`/`deny`/`acl` line: the user is deleted (logins fail as for an
    /// unknown user, §9 case 35).
    AclUserDeleted {
        /// The user.
        user: String,
        /// The value.
        value: String,
        /// Why.
        error: AclError,
    },
    /// A finding of the filter module on an `eventfilter` line (the filter is used).
    Filter {
        /// The user.
        user: String,
        /// The key.
        key: String,
        /// The finding.
        diagnostic: FilterDiagnostic,
    },
    /// A finding of the ACL module about a named ACL of acl.conf.
    NamedAcl {
        /// The named ACL.
        acl: String,
        /// The finding.
        diagnostic: AclDiagnostic,
    },
    /// A finding of the ACL module on a `permit`/`deny`/`acl` line, or (at the section
    /// header) on the user's whole ACL list.
    Acl {
        /// The user.
        user: String,
        /// The finding.
        diagnostic: AclDiagnostic,
    },
    /// A `get_perm` quirk on a `read`/`write` line (§4.2).
    Perm {
        /// The user.
        user: String,
        /// The key as written.
        key: String,
        /// The quirk.
        diagnostic: PermDiagnostic,
    },
    /// `writetimeout` below 100: the previous value is kept.
    InvalidWriteTimeout {
        /// The user.
        user: String,
        /// The value.
        value: String,
    },
    /// A `setvar` value without `=`: ignored.
    SetvarWithoutEquals {
        /// The user.
        user: String,
        /// The value.
        value: String,
    },
    /// A `setvar` value longer than 255 bytes was cut.
    SetvarTruncated {
        /// The user.
        user: String,
    },
    /// The user has no `secret` line and can never log in (§9 case 42).
    NoSecret {
        /// The user.
        user: String,
    },
    /// The user's secret is empty: a Login without `Secret` succeeds (§9 case 42). A
    /// dangerous grant: an error in strict mode.
    EmptySecret {
        /// The user.
        user: String,
    },
    /// The user's write classes include `system` or `command`, which equal shell access on the
    /// Asterisk host (Command runs CLI commands; `system` allows Originate of System/Exec and
    /// much more, spec §4.7). A dangerous grant: an error in strict mode.
    ShellEquivalentWrite {
        /// The user.
        user: String,
        /// The classes concerned, rendered (`system,command`).
        classes: String,
    },
    // ----- bookkeeping -----
    /// More diagnostics than [`ini::Limits::max_diagnostics`]; the rest were dropped.
    DiagnosticsSuppressed {
        /// How many were dropped.
        count: usize,
    },
}

impl DiagnosticKind {
    /// Whether this finding is purely informational: such findings never fail a
    /// [`Strictness::Strict`] load (every other one does). Findings of the ACL and
    /// permission modules are informational here because those modules apply their own
    /// strictness.
    pub fn is_informational(&self) -> bool {
        matches!(
            self,
            DiagnosticKind::NoSecret { .. }
                | DiagnosticKind::Acl { .. }
                | DiagnosticKind::NamedAcl { .. }
                | DiagnosticKind::Filter { .. }
                | DiagnosticKind::Perm { .. }
                | DiagnosticKind::DiagnosticsSuppressed { .. }
        )
    }
}

/// Shows a line that may hold a secret by its first word and length only.
struct Redacted<'a>(&'a str);

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.trim();
        let first =
            text.split(|c: char| c.is_whitespace() || c == ':' || c == '=').next().unwrap_or("");
        if first.len() == text.len() {
            write!(f, "`{first}`")
        } else {
            write!(f, "`{first} …` ({} bytes, the rest not shown)", text.len())
        }
    }
}

impl fmt::Display for DiagnosticKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiagnosticKind::LineTooLong { length } => write!(
                f,
                "line of {length} bytes is longer than {} bytes and is skipped",
                ini::MAX_LINE_BYTES
            ),
            DiagnosticKind::NulCharacter => {
                f.write_str("NUL character: the rest of the line is ignored")
            }
            DiagnosticKind::UnterminatedBlockComment => f.write_str(
                "block comment `;--` started here is never closed: the rest of the file is ignored",
            ),
            DiagnosticKind::StrayBlockCommentEnd => f.write_str(
                "`--;` outside a block comment: Asterisk keeps the rest of this line (comment \
                 included) and ignores the following lines up to the next `;--`",
            ),
            DiagnosticKind::TextAfterCategoryIgnored { text } => write!(
                f,
                "text after the category header is ignored ({}; options must follow `]` \
                 immediately)",
                Redacted(text)
            ),
            DiagnosticKind::CategoryNameTruncated { name } => {
                write!(f, "category name cut to 79 bytes: `{name}`")
            }
            DiagnosticKind::EmptyInheritItem => f.write_str(
                "empty item in the category option list inherits from the first category",
            ),
            DiagnosticKind::UnknownDirective { name } => {
                write!(f, "unknown directive `#{name}` is ignored")
            }
            DiagnosticKind::DirectiveMissingArgument { directive } => {
                write!(f, "`#{directive}` without a file name is ignored")
            }
            DiagnosticKind::ExecRefused { command } => {
                write!(f, "`#exec {command}` is not run")
            }
            DiagnosticKind::TryIncludeFailed { path, error } => {
                write!(f, "`#tryinclude {path}` ignored: {error}")
            }
            DiagnosticKind::TryIncludeDepthExceeded { path, max } => {
                write!(f, "`#tryinclude {path}` ignored: maximum include depth of {max} exceeded")
            }
            DiagnosticKind::IncludedFileAbandoned { error } => write!(
                f,
                "included file abandoned after an error (the including file goes on): {error}"
            ),
            DiagnosticKind::NoEquals { text } => {
                write!(f, "line {} has no `=` and is ignored", Redacted(text))
            }
            DiagnosticKind::NoVariableName => {
                f.write_str("variable line without a name is ignored")
            }
            DiagnosticKind::SecondGeneralIgnored => {
                f.write_str("only the first [general] section is read; this one is ignored")
            }
            DiagnosticKind::UnknownGeneralKey { key } => {
                write!(f, "unknown [general] keyword `{key}` is ignored")
            }
            DiagnosticKind::RejectedTlsKeyword { key } => write!(
                f,
                "TLS client keyword `{key}` is not accepted in manager.conf and is ignored"
            ),
            DiagnosticKind::NotABoolean { key, value } => {
                write!(f, "`{key}`: `{value}` is not a yes/no word and means no")
            }
            DiagnosticKind::InvalidPort { value } => write!(
                f,
                "invalid port `{value}` (must be 1024-65535): Asterisk's resulting port is \
                 unpredictable; the previous value is kept"
            ),
            DiagnosticKind::InvalidAddress { key, value } => {
                write!(f, "`{key}`: invalid address `{value}`; the previous value is kept")
            }
            DiagnosticKind::InvalidNumber { key, value } => {
                write!(f, "`{key}`: invalid value `{value}` (must be at least 1) is ignored")
            }
            DiagnosticKind::DuplicateUserSection { user, first_line } => write!(
                f,
                "second section for user `{user}` (first at line {first_line}): its ACL, \
                 filters and setvars replace the earlier ones, other keys override"
            ),
            DiagnosticKind::UnknownUserKey { user, key } => {
                write!(f, "user `{user}`: unknown option `{key}` is ignored")
            }
            DiagnosticKind::MiscasedEventFilter { user, key } => write!(
                f,
                "user `{user}`: `{key}` is ignored: filter keys must begin with lowercase \
                 `eventfilter`"
            ),
            DiagnosticKind::FilterSkipped { user, error, .. } => {
                write!(f, "user `{user}`: event filter skipped: {error}")
            }
            DiagnosticKind::AclUserDeleted { user, error, .. } => {
                write!(f, "user `{user}`: {error}; the user is deleted")
            }
            DiagnosticKind::Acl { user, diagnostic } => write!(f, "user `{user}`: {diagnostic}"),
            DiagnosticKind::NamedAcl { acl, diagnostic } => {
                write!(f, "named ACL `{acl}`: {diagnostic}")
            }
            DiagnosticKind::Filter { user, key, diagnostic } => {
                write!(f, "user `{user}`: `{key}`: {diagnostic}")
            }
            DiagnosticKind::Perm { user, key, diagnostic } => {
                write!(f, "user `{user}`: `{key}`: {diagnostic}")
            }
            DiagnosticKind::InvalidWriteTimeout { user, value } => write!(
                f,
                "user `{user}`: writetimeout `{value}` is below 100 ms; the previous value is kept"
            ),
            DiagnosticKind::SetvarWithoutEquals { user, value } => {
                write!(f, "user `{user}`: setvar `{value}` has no `=` and is ignored")
            }
            DiagnosticKind::SetvarTruncated { user } => {
                write!(f, "user `{user}`: setvar value cut to 255 bytes")
            }
            DiagnosticKind::NoSecret { user } => {
                write!(f, "user `{user}` has no secret and can never log in")
            }
            DiagnosticKind::EmptySecret { user } => {
                write!(f, "user `{user}` has an empty secret: a Login without Secret succeeds")
            }
            DiagnosticKind::ShellEquivalentWrite { user, classes } => write!(
                f,
                "user `{user}` may write `{classes}`, which equals shell access on the Asterisk host"
            ),
            DiagnosticKind::DiagnosticsSuppressed { count } => {
                write!(f, "{count} more diagnostics were suppressed")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Result types
// ---------------------------------------------------------------------------------------------

/// Options of [`parse_manager_conf`].
#[derive(Clone, Debug, Default)]
pub struct ConfigOptions {
    /// Asterisk-compatible (default) or strict (see the module documentation).
    pub strictness: Strictness,
    /// The named ACLs of acl.conf that `acl = name` lines refer to (default: none, so every
    /// `acl =` line makes the user deny everyone).
    pub named_acls: NamedAcls,
}

/// The TLS listener settings of `[general]` (`ast_tls_read_conf`, `main/tcptls.c`), kept as
/// written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// `tlsenable`/`sslenable` (default no).
    pub enabled: bool,
    /// `tlsbindaddr`/`sslbindaddr` as written, if valid (`address[:port]`; without a port, or
    /// with the AMI port, Asterisk listens on 5039).
    pub bind_addr: Option<String>,
    /// `tlscertfile`/`tlscert`/`sslcert` (default `asterisk.pem`).
    pub cert_file: String,
    /// `tlsprivatekey`/`sslprivatekey` (default empty: the key is in the certificate file).
    pub private_key: String,
    /// `tlscipher`/`sslcipher` (default empty).
    pub cipher: String,
    /// `tlsservercipherorder`.
    pub server_cipher_order: bool,
    /// `tlsdisablev1`.
    pub disable_v1: bool,
    /// `tlsdisablev11`.
    pub disable_v11: bool,
    /// `tlsdisablev12`.
    pub disable_v12: bool,
}

impl Default for TlsSettings {
    fn default() -> TlsSettings {
        TlsSettings {
            enabled: false,
            bind_addr: None,
            cert_file: "asterisk.pem".to_owned(),
            private_key: String::new(),
            cipher: String::new(),
            server_cipher_order: false,
            disable_v1: false,
            disable_v11: false,
            disable_v12: false,
        }
    }
}

/// The `[general]` settings (§7.1) with Asterisk's defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneralSettings {
    /// `enabled`: AMI on (default no).
    pub enabled: bool,
    /// `webenabled`: AMI over HTTP, also needs `enabled` (default no).
    pub web_enabled: bool,
    /// `port`: TCP port (default 5038).
    pub port: u16,
    /// `bindaddr`: listen address; a port written there is ignored (default `::`).
    pub bind_addr: IpAddr,
    /// TLS listener settings.
    pub tls: TlsSettings,
    /// `brokeneventsaction` (§4.6, default no).
    pub broken_events_action: bool,
    /// `allowmultiplelogin`: default of the per-user setting (default yes).
    pub allow_multiple_login: bool,
    /// `displayconnects`: default of the per-user setting (default yes).
    pub display_connects: bool,
    /// `timestampevents`: add `Timestamp:` to events (default no).
    pub timestamp_events: bool,
    /// `debug`: add SequenceNumber/File/Line/Func to events (default no).
    pub debug: bool,
    /// `httptimeout` in seconds (default 60).
    pub http_timeout: u32,
    /// `authtimeout` in seconds (default 30).
    pub auth_timeout: u32,
    /// `authlimit`: unauthenticated connections allowed at once (default 50).
    pub auth_limit: u32,
    /// `channelvars`, split like Asterisk's `AST_STANDARD_APP_ARGS` (quotes and backslashes
    /// removed, commas inside `()`, `[]` or quotes kept); the last line wins.
    pub channel_vars: Vec<String>,
    /// `disabledevents` as written (last line wins); see [`GeneralSettings::is_event_disabled`].
    pub disabled_events: String,
}

impl Default for GeneralSettings {
    fn default() -> GeneralSettings {
        GeneralSettings {
            enabled: false,
            web_enabled: false,
            port: DEFAULT_PORT,
            bind_addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            tls: TlsSettings::default(),
            broken_events_action: false,
            allow_multiple_login: true,
            display_connects: true,
            timestamp_events: false,
            debug: false,
            http_timeout: 60,
            auth_timeout: 30,
            auth_limit: 50,
            channel_vars: Vec::new(),
            disabled_events: String::new(),
        }
    }
}

impl GeneralSettings {
    /// Whether `disabledevents` suppresses the event `name` (`ast_in_delimited_string`: the
    /// list is split at `,`, blanks before each item are skipped, blanks after it are not,
    /// names compare case-sensitively).
    pub fn is_event_disabled(&self, name: &[u8]) -> bool {
        !self.disabled_events.is_empty()
            && self
                .disabled_events
                .split(',')
                .any(|item| item.trim_start_matches(ini::is_blank).as_bytes() == name)
    }
}

/// One manager user (§7.2).
#[derive(Clone, Debug)]
pub struct User {
    /// The name (the category name, at most 79 bytes); logins compare it ASCII
    /// case-insensitively.
    pub name: String,
    /// `secret`: `None` = no secret line, the user can never log in; `Some("")` = the empty
    /// secret (§9 case 42).
    pub secret: Option<String>,
    /// `read`: the event classes received (default none).
    pub read: Privilege,
    /// `write`: the action classes allowed (default none).
    pub write: Privilege,
    /// `permit`/`deny`/`acl` lines in order; empty = every address allowed.
    pub acl: AclList,
    /// The `eventfilter…` lines that parsed.
    pub filters: FilterSet,
    /// `allowmultiplelogin` (default from `[general]`).
    pub allow_multiple_login: bool,
    /// `displayconnects` (default from `[general]`); only affects Asterisk's log.
    pub display_connects: bool,
    /// `writetimeout` in milliseconds (default 100, at least 100).
    pub write_timeout_ms: u32,
    /// `setvar` entries as `(name, value)`, in Asterisk's order: the **last** `setvar` line
    /// first. Asterisk puts them, in this order, in front of the `Variable:` headers of every
    /// Originate by this user (so for a repeated name, the first line's value ends up set).
    pub setvars: Vec<(String, String)>,
    /// The file of the user's (first) section.
    pub file: Arc<str>,
    /// The line of the user's (first) section header.
    pub line: u32,
}

/// A loaded manager.conf.
#[derive(Clone, Debug)]
pub struct ManagerConfig {
    /// The `[general]` settings.
    pub general: GeneralSettings,
    /// The users, in order of their first section.
    pub users: Vec<User>,
    /// The users Asterisk deletes because one of their `permit`/`deny`/`acl` lines is invalid
    /// (reported as [`DiagnosticKind::AclUserDeleted`]): logins fail as for an unknown user.
    /// Kept, with every setting read, for tools that repair them.
    pub deleted_users: Vec<User>,
    /// Every non-fatal finding: those of the ini syntax first, then those of `[general]`, then
    /// those of the users, each group in input order.
    pub diagnostics: Vec<ConfigDiagnostic>,
}

impl ManagerConfig {
    /// The user named `name` (a Login `Username:` value), ASCII case-insensitive.
    pub fn user(&self, name: &[u8]) -> Option<&User> {
        self.users.iter().find(|u| u.name.as_bytes().eq_ignore_ascii_case(name))
    }
}

// ---------------------------------------------------------------------------------------------
// manager.conf
// ---------------------------------------------------------------------------------------------

/// Load manager.conf from its text (§7). Includes are resolved through `resolver`.
///
/// Fails, like Asterisk, on a fatal syntax error of the top-level file (missing `]`, a
/// variable before any category, a missing `#include` file…); in strict mode also on every
/// diagnostic that is not informational.
pub fn parse_manager_conf(
    text: &str,
    resolver: &mut dyn IncludeResolver,
    opts: &ConfigOptions,
) -> Result<ManagerConfig, ConfigError> {
    load_manager_conf(text, resolver, opts).map(|(config, _)| config)
}

/// [`parse_manager_conf`], also returning the ini categories it was computed from (for the
/// editor, which needs to know where every value comes from).
pub(crate) fn load_manager_conf(
    text: &str,
    resolver: &mut dyn IncludeResolver,
    opts: &ConfigOptions,
) -> Result<(ManagerConfig, Vec<ini::Category>), ConfigError> {
    let ini_opts = IniOptions { strictness: opts.strictness, limits: ini::Limits::default() };
    let parsed = ini::parse(MANAGER_CONF, text, resolver, &ini_opts)?;
    let mut sink = Sink::with_diagnostics(
        opts.strictness,
        ini_opts.limits.max_diagnostics,
        parsed.diagnostics,
    );
    let general = load_general(&parsed.categories, &mut sink)?;
    let (users, deleted_users) = load_users(&parsed.categories, &general, opts, &mut sink)?;
    let config = ManagerConfig { general, users, deleted_users, diagnostics: sink.finish() };
    Ok((config, parsed.categories))
}

/// Whether `value` is an `ast_true` word.
pub fn ast_true(value: &str) -> bool {
    ["yes", "true", "y", "t", "1", "on"].iter().any(|w| value.eq_ignore_ascii_case(w))
}

/// Whether `value` is an `ast_false` word.
pub fn ast_false(value: &str) -> bool {
    ["no", "false", "n", "f", "0", "off"].iter().any(|w| value.eq_ignore_ascii_case(w))
}

/// `ast_true`, reporting values that are neither true nor false words.
fn boolean(
    sink: &mut Sink,
    file: &Arc<str>,
    line: u32,
    key: &str,
    value: &str,
) -> Result<bool, ConfigError> {
    let yes = ast_true(value);
    if !yes && !ast_false(value) {
        sink.push(
            file,
            line,
            DiagnosticKind::NotABoolean { key: key.to_owned(), value: value.to_owned() },
        )?;
    }
    Ok(yes)
}

/// glibc `atoi`: `(int) strtol(s, NULL, 10)` — leading white space, optional sign, digits;
/// saturates at the 64-bit `long` range, then keeps the low 32 bits.
fn atoi(value: &str) -> i32 {
    let s = value.trim_start_matches([' ', '\t', '\n', '\u{b}', '\u{c}', '\r']);
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..).unwrap_or_default()),
        Some(b'+') => (false, s.get(1..).unwrap_or_default()),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for d in digits.bytes().take_while(u8::is_ascii_digit) {
        let digit = i64::from(d - b'0');
        n = if negative {
            n.saturating_mul(10).saturating_sub(digit)
        } else {
            n.saturating_mul(10).saturating_add(digit)
        };
    }
    n as i32
}

/// `ast_parse_arg(PARSE_UINT32)`: `strtoul` base 0 (hex `0x`, octal `0`, decimal) over the
/// whole blank-skipped value, no minus sign.
fn parse_uint32(value: &str) -> Option<u32> {
    let s = value.trim_start_matches(ini::is_blank);
    if s.is_empty() || s.starts_with('-') {
        return None;
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    let (radix, digits) = match s.as_bytes() {
        [b'0', b'x' | b'X', next, ..] if next.is_ascii_hexdigit() => (16, s.get(2..)?),
        [b'0', ..] => (8, s),
        _ => (10, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix)?;
        n = n.checked_mul(u64::from(radix))?.checked_add(u64::from(d))?;
        if n > u64::from(u32::MAX) {
            return None;
        }
    }
    u32::try_from(n).ok()
}

/// glibc `inet_aton` in exact mode (as `getaddrinfo(AI_NUMERICHOST)` uses it): 1 to 4
/// numbers (each `strtoul` base 0), the last one filling the remaining bytes.
fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(4);
    for part in &parts {
        if !part.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        values.push(parse_uint32(part)?);
    }
    let (last, leading) = values.split_last()?;
    let mut addr: u32 = 0;
    for (i, &v) in leading.iter().enumerate() {
        if v > 0xff {
            return None;
        }
        addr |= v << (24 - 8 * i as u32);
    }
    let rest_bits = 32 - 8 * leading.len() as u32;
    if rest_bits < 32 && u64::from(*last) >= (1u64 << rest_bits) {
        return None;
    }
    Some(Ipv4Addr::from(addr | last))
}

/// A numeric host as `getaddrinfo(AI_NUMERICHOST)` accepts it (IPv6 scope ids excepted).
fn numeric_host(host: &str) -> Option<IpAddr> {
    if host.contains(':') {
        host.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        inet_aton(host).map(IpAddr::V4)
    }
}

/// `ast_sockaddr_parse`: `[v6]:port`, `v6`, `v4:port` or `v4`; with `ignore_port` a port is
/// not checked, otherwise it must be numeric.
fn parse_sockaddr(value: &str, ignore_port: bool) -> Option<IpAddr> {
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        match rest.find(']') {
            Some(end) => {
                let after = rest.get(end + 1..).unwrap_or_default();
                (rest.get(..end)?, after.strip_prefix(':'))
            }
            None => (rest, None),
        }
    } else if value.matches(':').count() == 1 {
        let (h, p) = value.split_once(':')?;
        (h, Some(p))
    } else {
        (value, None)
    };
    if !ignore_port && port.is_some_and(|p| !p.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    numeric_host(host)
}

/// `__ast_app_separate_args(value, ',', remove_chars = 1, MAX_VARS = 128)`.
fn separate_args(value: &str, max_args: usize) -> Vec<String> {
    let chars: Vec<char> = value.chars().collect();
    let mut args = Vec::new();
    let (mut paren, mut bracket) = (0usize, 0usize);
    let mut quote = false;
    let mut scan = 0usize;
    let mut ended_by_delimiter = false;
    while scan < chars.len() && args.len() < max_args.saturating_sub(1) {
        let mut arg = String::new();
        ended_by_delimiter = false;
        while let Some(&c) = chars.get(scan) {
            scan += 1;
            match c {
                '(' => paren += 1,
                ')' => paren = paren.saturating_sub(1),
                '[' => bracket += 1,
                ']' => bracket = bracket.saturating_sub(1),
                '"' => {
                    quote = !quote;
                    continue;
                }
                '\\' => {
                    // The backslash goes; the next character is taken literally.
                    if let Some(&next) = chars.get(scan) {
                        arg.push(next);
                        scan += 1;
                    }
                    continue;
                }
                ',' if paren == 0 && !quote && bracket == 0 => {
                    ended_by_delimiter = true;
                    break;
                }
                _ => {}
            }
            arg.push(c);
        }
        args.push(arg);
    }
    if scan < chars.len() {
        args.push(chars.get(scan..).unwrap_or_default().iter().collect());
    } else if ended_by_delimiter {
        args.push(String::new());
    }
    args
}

/// The `[general]` loop of `__init_manager`.
fn load_general(
    categories: &[ini::Category],
    sink: &mut Sink,
) -> Result<GeneralSettings, ConfigError> {
    let mut general = GeneralSettings::default();
    let mut http_timeout: Option<(i32, &ini::Variable)> = None;
    let mut generals =
        categories.iter().filter(|c| !c.template && c.name.eq_ignore_ascii_case("general"));
    let first = generals.next();
    for extra in generals {
        sink.push(&extra.file, extra.line, DiagnosticKind::SecondGeneralIgnored)?;
    }
    let Some(category) = first else {
        return Ok(general);
    };
    for var in &category.variables {
        let (key, value, file, line) = (var.name.as_str(), var.value.as_str(), &var.file, var.line);
        let lower = key.to_ascii_lowercase();
        let rejected = matches!(
            lower.as_str(),
            "tlscafile"
                | "tlscapath"
                | "tlscadir"
                | "tlsverifyclient"
                | "tlsdontverifyserver"
                | "tlsclientmethod"
                | "sslclientmethod"
        );
        if rejected {
            sink.push(file, line, DiagnosticKind::RejectedTlsKeyword { key: key.to_owned() })?;
            continue;
        }
        let tls = &mut general.tls;
        match lower.as_str() {
            "tlsenable" | "sslenable" => tls.enabled = boolean(sink, file, line, key, value)?,
            "tlscertfile" | "sslcert" | "tlscert" => tls.cert_file = value.to_owned(),
            "tlsprivatekey" | "sslprivatekey" => tls.private_key = value.to_owned(),
            "tlscipher" | "sslcipher" => tls.cipher = value.to_owned(),
            "tlsbindaddr" | "sslbindaddr" => {
                if parse_sockaddr(value, false).is_some() {
                    tls.bind_addr = Some(value.to_owned());
                } else {
                    sink.push(
                        file,
                        line,
                        DiagnosticKind::InvalidAddress {
                            key: key.to_owned(),
                            value: value.to_owned(),
                        },
                    )?;
                }
            }
            "tlsservercipherorder" => {
                tls.server_cipher_order = boolean(sink, file, line, key, value)?;
            }
            "tlsdisablev1" => tls.disable_v1 = boolean(sink, file, line, key, value)?,
            "tlsdisablev11" => tls.disable_v11 = boolean(sink, file, line, key, value)?,
            "tlsdisablev12" => tls.disable_v12 = boolean(sink, file, line, key, value)?,
            "enabled" => general.enabled = boolean(sink, file, line, key, value)?,
            "webenabled" => general.web_enabled = boolean(sink, file, line, key, value)?,
            "port" => match parse_uint32(value).filter(|p| (1024..=65535).contains(p)) {
                Some(port) => general.port = u16::try_from(port).unwrap_or(DEFAULT_PORT),
                None => {
                    sink.push(file, line, DiagnosticKind::InvalidPort { value: value.to_owned() })?
                }
            },
            "bindaddr" => match parse_sockaddr(value, true) {
                Some(addr) => general.bind_addr = addr,
                None => sink.push(
                    file,
                    line,
                    DiagnosticKind::InvalidAddress { key: key.to_owned(), value: value.to_owned() },
                )?,
            },
            "brokeneventsaction" => {
                general.broken_events_action = boolean(sink, file, line, key, value)?;
            }
            "allowmultiplelogin" => {
                general.allow_multiple_login = boolean(sink, file, line, key, value)?;
            }
            "displayconnects" => {
                general.display_connects = boolean(sink, file, line, key, value)?;
            }
            "timestampevents" => {
                general.timestamp_events = boolean(sink, file, line, key, value)?;
            }
            "debug" => general.debug = boolean(sink, file, line, key, value)?,
            "httptimeout" => http_timeout = Some((atoi(value), var)),
            "authtimeout" | "authlimit" => {
                let n = atoi(value);
                match u32::try_from(n).ok().filter(|&n| n >= 1) {
                    Some(n) if lower == "authtimeout" => general.auth_timeout = n,
                    Some(n) => general.auth_limit = n,
                    None => sink.push(
                        file,
                        line,
                        DiagnosticKind::InvalidNumber {
                            key: key.to_owned(),
                            value: value.to_owned(),
                        },
                    )?,
                }
            }
            "channelvars" => general.channel_vars = separate_args(value, 128),
            "disabledevents" => general.disabled_events = value.to_owned(),
            _ => {
                sink.push(file, line, DiagnosticKind::UnknownGeneralKey { key: key.to_owned() })?
            }
        }
    }
    // Only the last httptimeout line counts, and only if it is above 0.
    if let Some((n, var)) = http_timeout {
        match u32::try_from(n).ok().filter(|&n| n >= 1) {
            Some(n) => general.http_timeout = n,
            None => sink.push(
                &var.file,
                var.line,
                DiagnosticKind::InvalidNumber { key: var.name.clone(), value: var.value.clone() },
            )?,
        }
    }
    Ok(general)
}

/// A user being built, with Asterisk's `keep` flag.
struct UserBuild {
    user: User,
    keep: bool,
    /// `setvar`s in file order (reversed at the end, as Asterisk prepends them).
    setvars: Vec<(String, String)>,
}

/// The user loop of `__init_manager`: the users kept, and those deleted for an invalid ACL
/// line.
fn load_users(
    categories: &[ini::Category],
    general: &GeneralSettings,
    opts: &ConfigOptions,
    sink: &mut Sink,
) -> Result<(Vec<User>, Vec<User>), ConfigError> {
    let mut builds: Vec<UserBuild> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for category in categories.iter().filter(|c| !c.template) {
        if category.name.eq_ignore_ascii_case("general") {
            continue;
        }
        let key = category.name.to_ascii_lowercase();
        let index = match by_name.get(&key) {
            Some(&index) => {
                if let Some(build) = builds.get_mut(index) {
                    sink.push(
                        &category.file,
                        category.line,
                        DiagnosticKind::DuplicateUserSection {
                            user: build.user.name.clone(),
                            first_line: build.user.line,
                        },
                    )?;
                    build.user.acl = AclList::default();
                    build.user.filters = FilterSet::default();
                    build.setvars.clear();
                }
                index
            }
            None => {
                builds.push(UserBuild {
                    user: User {
                        name: category.name.clone(),
                        secret: None,
                        read: Privilege::NONE,
                        write: Privilege::NONE,
                        acl: AclList::default(),
                        filters: FilterSet::default(),
                        allow_multiple_login: general.allow_multiple_login,
                        display_connects: general.display_connects,
                        write_timeout_ms: 100,
                        setvars: Vec::new(),
                        file: category.file.clone(),
                        line: category.line,
                    },
                    keep: true,
                    setvars: Vec::new(),
                });
                by_name.insert(key, builds.len() - 1);
                builds.len() - 1
            }
        };
        let Some(build) = builds.get_mut(index) else {
            continue;
        };
        build.keep = true;
        for var in &category.variables {
            apply_user_variable(build, var, opts, sink)?;
        }
    }
    let mut users = Vec::with_capacity(builds.len());
    let mut deleted = Vec::new();
    for mut build in builds {
        if !build.keep {
            build.setvars.reverse();
            build.user.setvars = build.setvars;
            deleted.push(build.user);
            continue;
        }
        let user = &build.user;
        match user.secret.as_deref() {
            None => sink.push(
                &user.file,
                user.line,
                DiagnosticKind::NoSecret { user: user.name.clone() },
            )?,
            Some("") => sink.push(
                &user.file,
                user.line,
                DiagnosticKind::EmptySecret { user: user.name.clone() },
            )?,
            Some(_) => {}
        }
        let shell = user.write & (Privilege::SYSTEM | Privilege::COMMAND);
        if !shell.is_empty() {
            let classes = shell.to_config_list().unwrap_or_default();
            let kind = DiagnosticKind::ShellEquivalentWrite { user: user.name.clone(), classes };
            sink.push(&user.file, user.line, kind)?;
        }
        for diagnostic in user.acl.diagnostics() {
            sink.push(
                &user.file,
                user.line,
                DiagnosticKind::Acl { user: user.name.clone(), diagnostic },
            )?;
        }
        build.setvars.reverse();
        build.user.setvars = build.setvars;
        users.push(build.user);
    }
    Ok((users, deleted))
}

/// One line of a user section.
fn apply_user_variable(
    build: &mut UserBuild,
    var: &ini::Variable,
    opts: &ConfigOptions,
    sink: &mut Sink,
) -> Result<(), ConfigError> {
    let (key, value, file, line) = (var.name.as_str(), var.value.as_str(), &var.file, var.line);
    let user = &mut build.user;
    let lower = key.to_ascii_lowercase();
    match lower.as_str() {
        "secret" => user.secret = Some(value.to_owned()),
        "permit" | "deny" | "acl" => match user.acl.add_line(key, value, &opts.named_acls) {
            Ok(diagnostics) => {
                for diagnostic in diagnostics {
                    sink.push(
                        file,
                        line,
                        DiagnosticKind::Acl { user: user.name.clone(), diagnostic },
                    )?;
                }
            }
            Err(error) => {
                build.keep = false;
                sink.push(
                    file,
                    line,
                    DiagnosticKind::AclUserDeleted {
                        user: user.name.clone(),
                        value: value.to_owned(),
                        error,
                    },
                )?;
            }
        },
        "read" | "write" => match parse_perm(value, opts.strictness) {
            Ok(parsed) => {
                if lower == "read" {
                    user.read = parsed.privilege;
                } else {
                    user.write = parsed.privilege;
                }
                for diagnostic in parsed.diagnostics {
                    sink.push(
                        file,
                        line,
                        DiagnosticKind::Perm {
                            user: user.name.clone(),
                            key: key.to_owned(),
                            diagnostic,
                        },
                    )?;
                }
            }
            Err(error) => {
                return Err(ConfigError {
                    file: file.clone(),
                    line,
                    kind: ConfigErrorKind::Perm {
                        user: user.name.clone(),
                        key: key.to_owned(),
                        error: Box::new(error),
                    },
                });
            }
        },
        "displayconnects" => user.display_connects = boolean(sink, file, line, key, value)?,
        "allowmultiplelogin" => {
            user.allow_multiple_login = boolean(sink, file, line, key, value)?;
        }
        "writetimeout" => match u32::try_from(atoi(value)).ok().filter(|&n| n >= 100) {
            Some(ms) => user.write_timeout_ms = ms,
            None => sink.push(
                file,
                line,
                DiagnosticKind::InvalidWriteTimeout {
                    user: user.name.clone(),
                    value: value.to_owned(),
                },
            )?,
        },
        "setvar" => {
            let cut = ini::truncate_bytes(value, MAX_SETVAR_BYTES);
            if cut.len() < value.len() {
                sink.push(file, line, DiagnosticKind::SetvarTruncated { user: user.name.clone() })?;
            }
            match cut.split_once('=') {
                Some((name, val)) => build.setvars.push((name.to_owned(), val.to_owned())),
                None => sink.push(
                    file,
                    line,
                    DiagnosticKind::SetvarWithoutEquals {
                        user: user.name.clone(),
                        value: value.to_owned(),
                    },
                )?,
            }
        }
        _ if key.starts_with("eventfilter") => {
            match EventFilter::parse_with_diagnostics(key, value) {
                Ok(parsed) => {
                    user.filters.add(parsed.filter);
                    for diagnostic in parsed.diagnostics {
                        sink.push(
                            file,
                            line,
                            DiagnosticKind::Filter {
                                user: user.name.clone(),
                                key: key.to_owned(),
                                diagnostic,
                            },
                        )?;
                    }
                }
                Err(error) => sink.push(
                    file,
                    line,
                    DiagnosticKind::FilterSkipped {
                        user: user.name.clone(),
                        key: key.to_owned(),
                        value: value.to_owned(),
                        error,
                    },
                )?,
            }
        }
        _ if lower.starts_with("eventfilter") => sink.push(
            file,
            line,
            DiagnosticKind::MiscasedEventFilter { user: user.name.clone(), key: key.to_owned() },
        )?,
        _ => sink.push(
            file,
            line,
            DiagnosticKind::UnknownUserKey { user: user.name.clone(), key: key.to_owned() },
        )?,
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// acl.conf
// ---------------------------------------------------------------------------------------------

/// Load acl.conf (named ACLs for `acl = name` lines, §6) from its text.
///
/// Every non-template category is a named ACL; its `permit`/`deny` lines (key
/// case-insensitive) go through [`Acl::add_rule`] in order; categories of the same name
/// (case-sensitive, like Asterisk's container) merge. A `[general]` category, any other key or
/// an invalid rule fails the whole file, as in Asterisk.
pub fn parse_acl_conf(
    text: &str,
    resolver: &mut dyn IncludeResolver,
) -> Result<NamedAcls, ConfigError> {
    parse_acl_conf_with_diagnostics(text, resolver).map(|(acls, _)| acls)
}

/// [`parse_acl_conf`], also returning the ini diagnostics.
pub fn parse_acl_conf_with_diagnostics(
    text: &str,
    resolver: &mut dyn IncludeResolver,
) -> Result<(NamedAcls, Vec<ConfigDiagnostic>), ConfigError> {
    let mut parsed = ini::parse(ACL_CONF, text, resolver, &IniOptions::default())?;
    let mut diagnostics = std::mem::take(&mut parsed.diagnostics);
    let mut acls: Vec<(&str, &ini::Category, Acl)> = Vec::new();
    let mut positions: HashMap<&str, usize> = HashMap::new();
    for category in parsed.browse() {
        if category.name.eq_ignore_ascii_case("general") {
            return Err(ConfigError {
                file: category.file.clone(),
                line: category.line,
                kind: ConfigErrorKind::AclGeneralCategory,
            });
        }
        let name = category.name.as_str();
        let index = match positions.get(name) {
            Some(&index) => index,
            None => {
                acls.push((name, category, Acl::new()));
                positions.insert(name, acls.len() - 1);
                acls.len() - 1
            }
        };
        let Some((_, _, acl)) = acls.get_mut(index) else {
            continue;
        };
        for var in &category.variables {
            let rule = if var.name.eq_ignore_ascii_case("permit") {
                "permit"
            } else if var.name.eq_ignore_ascii_case("deny") {
                "deny"
            } else {
                return Err(ConfigError {
                    file: var.file.clone(),
                    line: var.line,
                    kind: ConfigErrorKind::AclUnknownOption {
                        acl: name.to_owned(),
                        key: var.name.clone(),
                    },
                });
            };
            if let Err(error) = acl.add_rule(rule, &var.value) {
                return Err(ConfigError {
                    file: var.file.clone(),
                    line: var.line,
                    kind: ConfigErrorKind::AclRule {
                        acl: name.to_owned(),
                        value: var.value.clone(),
                        error: Box::new(error),
                    },
                });
            }
        }
    }
    let mut named = NamedAcls::default();
    for (name, category, acl) in acls {
        diagnostics.extend(acl.diagnostics().into_iter().map(|diagnostic| ConfigDiagnostic {
            file: category.file.clone(),
            line: category.line,
            kind: DiagnosticKind::NamedAcl { acl: name.to_owned(), diagnostic },
        }));
        named.insert(name, acl);
    }
    Ok((named, diagnostics))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CONFORMANCE: &str = include_str!("../../tests/data/asterisk-22/manager.conf");

    fn load(text: &str) -> ManagerConfig {
        match parse_manager_conf(text, &mut NoIncludes, &ConfigOptions::default()) {
            Ok(config) => config,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn load_strict(text: &str) -> Result<ManagerConfig, ConfigError> {
        let opts = ConfigOptions { strictness: Strictness::Strict, ..ConfigOptions::default() };
        parse_manager_conf(text, &mut NoIncludes, &opts)
    }

    fn user<'a>(config: &'a ManagerConfig, name: &str) -> &'a User {
        match config.user(name.as_bytes()) {
            Some(u) => u,
            None => panic!("no user {name}"),
        }
    }

    fn has(config: &ManagerConfig, line: u32, pred: impl Fn(&DiagnosticKind) -> bool) -> bool {
        config.diagnostics.iter().any(|d| d.line == line && pred(&d.kind))
    }

    fn ip(s: &str) -> IpAddr {
        match s.parse() {
            Ok(a) => a,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn event(name: &str, body: &str) -> (Vec<u8>, Vec<u8>) {
        let text = format!("Event: {name}\r\nPrivilege: call,all\r\n{body}\r\n");
        (name.as_bytes().to_vec(), text.into_bytes())
    }

    #[test]
    fn conformance_manager_conf_users_and_rights() {
        let config = load(CONFORMANCE);
        let names: Vec<&str> = config.users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["admin", "reader", "limited", "denied", "filtered"]);
        let masks: Vec<(u32, u32)> =
            config.users.iter().map(|u| (u.read.bits(), u.write.bits())).collect();
        assert_eq!(
            masks,
            [
                (0x7FFF_FFFF, 0x7FFF_FFFF),
                (0x0000_0462, 0),           // call 2 | agent 32 | user 64 | cdr 1024
                (0x0000_0003, 0x0000_1002), // system|call, originate 4096 | call
                (0x7FFF_FFFF, 0x7FFF_FFFF),
                (0x7FFF_FFFF, 0x7FFF_FFFF),
            ]
        );
        let secrets: Vec<Option<&str>> = config.users.iter().map(|u| u.secret.as_deref()).collect();
        assert_eq!(
            secrets,
            [
                Some("admin123"),
                Some("reader123"),
                Some("limited123"),
                Some("denied123"),
                Some("filtered123")
            ]
        );
        for u in &config.users {
            let expected = u.name != "denied";
            assert_eq!(u.acl.permits(ip("127.0.0.1")), expected, "{}", u.name);
            assert!(u.acl.permits(ip("10.1.2.3")), "{}", u.name);
            assert!(u.allow_multiple_login && u.display_connects);
            assert_eq!(u.write_timeout_ms, 100);
            assert!(u.setvars.is_empty());
        }
        // The findings: three users may write `system,command` (write=all), and the IPv4
        // lockdown of `denied` leaves IPv6 open (§6).
        let found: Vec<(u32, String)> = config
            .diagnostics
            .iter()
            .map(|d| {
                let what = match &d.kind {
                    DiagnosticKind::ShellEquivalentWrite { user, classes } => {
                        format!("shell {user} {classes}")
                    }
                    DiagnosticKind::Acl { user, .. } => format!("acl {user}"),
                    other => format!("{other}"),
                };
                (d.line, what)
            })
            .collect();
        let expected = [
            (13, "shell admin system,command"),
            (32, "shell denied system,command"),
            (32, "acl denied"),
            (40, "shell filtered system,command"),
        ];
        let expected: Vec<(u32, String)> =
            expected.iter().map(|&(l, w)| (l, w.to_string())).collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn conformance_manager_conf_filters() {
        let config = load(CONFORMANCE);
        let filtered = user(&config, "filtered");
        assert_eq!(filtered.filters.len(), 6);
        assert!(config.users.iter().filter(|u| u.name != "filtered").all(|u| u.filters.is_empty()));
        let send = |name: &str, body: &str| {
            let (n, t) = event(name, body);
            filtered.filters.should_send(&n, &t)
        };
        assert!(send("Newchannel", "Channel: PJSIP/100-0001"));
        assert!(!send("Newchannel", "Channel: Local/answer@default-0001;2"));
        assert!(send("UserEvent", "UserEvent: Ringing"));
        assert!(!send("UserEvent", "UserEvent: Answered"));
        assert!(send("Hangup", "Channel: PJSIP/100-0001"));
        assert!(send("DialEnd", "Channel: PJSIP/100-0001"));
        assert!(!send("VarSet", "Channel: PJSIP/100-0001"));
    }

    #[test]
    fn conformance_manager_conf_general() {
        let config = load(CONFORMANCE);
        let expected = GeneralSettings {
            enabled: true,
            web_enabled: false,
            port: 5038,
            bind_addr: ip("127.0.0.1"),
            display_connects: true,
            timestamp_events: false,
            auth_timeout: 30,
            auth_limit: 50,
            ..GeneralSettings::default()
        };
        assert_eq!(config.general, expected);
    }

    #[test]
    fn case_23_two_read_lines_last_wins() {
        let config = load("[u]\nsecret=x\nread=system\nread=call\n");
        assert_eq!(user(&config, "u").read, Privilege::CALL);
        let config = load("[u]\nsecret=x\nread=,call\nwrite=sys,call\n");
        let u = user(&config, "u");
        assert_eq!(u.read, Privilege::ALL);
        assert_eq!(u.write, Privilege::SYSTEM | Privilege::CALL);
        // The quirks are reported with their line.
        assert!(has(
            &config,
            3,
            |k| matches!(k, DiagnosticKind::Perm { key, .. } if key == "read")
        ));
        assert!(has(
            &config,
            4,
            |k| matches!(k, DiagnosticKind::Perm { key, .. } if key == "write")
        ));
    }

    #[test]
    fn case_30_miscased_eventfilter_is_ignored_but_read_works() {
        let config = load("[u]\nsecret=x\nEventFilter = Event: Newchannel\nREAD=call\n");
        let u = user(&config, "u");
        assert!(u.filters.is_empty());
        assert_eq!(u.read, Privilege::CALL);
        assert!(has(&config, 3, |k| matches!(
            k,
            DiagnosticKind::MiscasedEventFilter { key, .. } if key == "EventFilter"
        )));
        assert!(load_strict("[u]\nsecret=x\nEventFilter = Event: Newchannel\n").is_err());
    }

    #[test]
    fn case_35_acl_with_port_deletes_the_user() {
        let config = load("[ok]\nsecret=a\n[bad]\nsecret=x\npermit=127.0.0.1:5038\nread=all\n");
        assert!(config.user(b"bad").is_none());
        assert!(config.user(b"ok").is_some());
        // Kept aside with every setting read, for tools that repair the user.
        let bad: Vec<(&str, Privilege)> =
            config.deleted_users.iter().map(|u| (u.name.as_str(), u.read)).collect();
        assert_eq!(bad, [("bad", Privilege::ALL)]);
        assert!(has(&config, 5, |k| matches!(
            k,
            DiagnosticKind::AclUserDeleted { user, value, .. } if user == "bad" && value == "127.0.0.1:5038"
        )));
        let e = load_strict("[bad]\nsecret=x\npermit=127.0.0.1:5038\n").unwrap_err();
        assert_eq!(e.line, 3);
    }

    #[test]
    fn case_35_acl_family_quirk() {
        let config =
            load("[u]\nsecret=x\ndeny=0.0.0.0/0.0.0.0\npermit=127.0.0.1/255.255.255.255\n");
        let acl = &user(&config, "u").acl;
        assert!(acl.permits(ip("127.0.0.1")));
        assert!(!acl.permits(ip("10.0.0.1")));
        assert!(acl.permits(ip("::1")));
    }

    #[test]
    fn case_42_empty_secret_versus_missing_secret() {
        let config = load("[nopw]\nsecret=\n[nosecret]\nread=all\n");
        assert_eq!(user(&config, "nopw").secret, Some(String::new()));
        assert_eq!(user(&config, "nosecret").secret, None);
        assert!(has(&config, 1, |k| matches!(k, DiagnosticKind::EmptySecret { .. })));
        assert!(has(&config, 3, |k| matches!(k, DiagnosticKind::NoSecret { .. })));
        // An empty secret lets anyone in: a dangerous grant, refused in strict mode.
        assert!(load_strict("[nopw]\nsecret=\n").is_err());
    }

    #[test]
    fn user_lookup_is_ascii_case_insensitive() {
        let config = load("[Admin]\nsecret=x\n");
        assert_eq!(user(&config, "aDMIN").name, "Admin");
        assert!(config.user(b"admin ").is_none());
    }

    #[test]
    fn user_keys_are_case_insensitive() {
        let config = load(
            "[u]\nSECRET=s\nWrite=call\nDisplayConnects=no\nALLOWMULTIPLELOGIN=no\nWriteTimeout=250\nSetVar=A=1\n",
        );
        let u = user(&config, "u");
        assert_eq!(u.secret.as_deref(), Some("s"));
        assert_eq!(u.write, Privilege::CALL);
        assert!(!u.display_connects && !u.allow_multiple_login);
        assert_eq!(u.write_timeout_ms, 250);
        assert_eq!(u.setvars, [("A".to_owned(), "1".to_owned())]);
    }

    #[test]
    fn secret_last_wins() {
        let config = load("[u]\nsecret=one\nsecret=two\n");
        assert_eq!(user(&config, "u").secret.as_deref(), Some("two"));
    }

    #[test]
    fn general_is_not_a_user_and_templates_are_skipped() {
        let config = load("[General]\nenabled=yes\n[tpl](!)\nsecret=t\n[u](tpl)\n");
        let names: Vec<&str> = config.users.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["u"]);
        assert!(config.general.enabled);
        assert_eq!(user(&config, "u").secret.as_deref(), Some("t"));
    }

    #[test]
    fn template_values_come_first_so_the_section_wins() {
        let config = load("[tpl](!)\nread=all\nwrite=all\n[u](tpl)\nread=call\n");
        let u = user(&config, "u");
        assert_eq!((u.read, u.write), (Privilege::CALL, Privilege::ALL));
    }

    #[test]
    fn only_the_first_general_section_is_read() {
        let config = load("[general]\nenabled=yes\n[general]\nport=6000\n");
        assert_eq!(config.general.port, 5038);
        assert!(config.users.is_empty());
        assert!(has(&config, 3, |k| *k == DiagnosticKind::SecondGeneralIgnored));
        // `(+)` appends to the first one, so that works.
        let config = load("[general]\nenabled=yes\n[general](+)\nport=6000\n");
        assert_eq!(config.general.port, 6000);
    }

    #[test]
    fn general_booleans_use_ast_true() {
        for word in ["yes", "YES", "true", "y", "T", "1", "on", "On"] {
            let config = load(&format!("[general]\nenabled={word}\n"));
            assert!(config.general.enabled, "{word}");
            assert!(config.diagnostics.is_empty(), "{word}");
        }
        for word in ["no", "false", "n", "f", "0", "off", "OFF"] {
            let config = load(&format!("[general]\nenabled={word}\n"));
            assert!(!config.general.enabled, "{word}");
            assert!(config.diagnostics.is_empty(), "{word}");
        }
        for word in ["ja", "yes!", "2", "", "enable"] {
            let config = load(&format!("[general]\nenabled={word}\n"));
            assert!(!config.general.enabled, "{word}");
            assert!(has(&config, 2, |k| matches!(k, DiagnosticKind::NotABoolean { .. })));
        }
    }

    #[test]
    fn general_defaults() {
        let g = load("[general]\n").general;
        assert!(!g.enabled && !g.web_enabled && !g.broken_events_action);
        assert!(g.allow_multiple_login && g.display_connects);
        assert!(!g.timestamp_events && !g.debug);
        assert_eq!((g.port, g.bind_addr), (5038, ip("::")));
        assert_eq!((g.http_timeout, g.auth_timeout, g.auth_limit), (60, 30, 50));
        assert_eq!(g.tls, TlsSettings::default());
        assert_eq!(g.tls.cert_file, "asterisk.pem");
    }

    #[test]
    fn general_flags_and_timeouts() {
        let g = load(
            "[general]\nwebenabled=yes\nbrokeneventsaction=yes\nallowmultiplelogin=no\ndisplayconnects=no\n\
             timestampevents=yes\ndebug=on\nhttptimeout=120\nauthtimeout=5\nauthlimit=2\n",
        )
        .general;
        assert!(g.web_enabled && g.broken_events_action && g.timestamp_events && g.debug);
        assert!(!g.allow_multiple_login && !g.display_connects);
        assert_eq!((g.http_timeout, g.auth_timeout, g.auth_limit), (120, 5, 2));
    }

    #[test]
    fn authtimeout_and_authlimit_below_one_are_ignored() {
        let config = load("[general]\nauthtimeout=0\nauthlimit=-3\n");
        assert_eq!((config.general.auth_timeout, config.general.auth_limit), (30, 50));
        assert!(has(&config, 2, |k| matches!(k, DiagnosticKind::InvalidNumber { .. })));
        assert!(has(&config, 3, |k| matches!(k, DiagnosticKind::InvalidNumber { .. })));
        // The previous value stays.
        assert_eq!(load("[general]\nauthtimeout=10\nauthtimeout=0\n").general.auth_timeout, 10);
        // atoi: leading digits count.
        let config = load("[general]\nauthtimeout=12abc\n");
        assert_eq!(config.general.auth_timeout, 12);
    }

    #[test]
    fn httptimeout_only_its_last_value_counts() {
        let config = load("[general]\nhttptimeout=120\nhttptimeout=0\n");
        assert_eq!(config.general.http_timeout, 60);
        assert!(has(&config, 3, |k| matches!(k, DiagnosticKind::InvalidNumber { .. })));
        assert_eq!(load("[general]\nhttptimeout=0\nhttptimeout=90\n").general.http_timeout, 90);
    }

    #[test]
    fn port_must_be_1024_to_65535_strtoul_base_0() {
        let port = |v: &str| load(&format!("[general]\nport={v}\n")).general.port;
        assert_eq!(port("6000"), 6000);
        assert_eq!(port("0x1771"), 6001);
        assert_eq!(port("+6002"), 6002);
        assert_eq!(port("017560"), 8048);
        for bad in ["1023", "65536", "-6000", "6000x", "0x", "abc", "99999999999999999999"] {
            let config = load(&format!("[general]\nport={bad}\n"));
            assert_eq!(config.general.port, 5038, "{bad}");
            assert!(has(&config, 2, |k| matches!(k, DiagnosticKind::InvalidPort { .. })), "{bad}");
        }
    }

    #[test]
    fn bindaddr_ignores_a_port_and_keeps_the_default_when_invalid() {
        let addr = |v: &str| load(&format!("[general]\nbindaddr={v}\n")).general.bind_addr;
        assert_eq!(addr("127.0.0.1"), ip("127.0.0.1"));
        assert_eq!(addr("127.0.0.1:99999"), ip("127.0.0.1"));
        assert_eq!(addr("[::1]:5038"), ip("::1"));
        assert_eq!(addr("::1"), ip("::1"));
        assert_eq!(addr("127.1"), ip("127.0.0.1"));
        let config = load("[general]\nbindaddr=localhost\n");
        assert_eq!(config.general.bind_addr, ip("::"));
        assert!(has(&config, 2, |k| matches!(k, DiagnosticKind::InvalidAddress { .. })));
    }

    #[test]
    fn tls_settings_are_read() {
        let g = load(
            "[general]\ntlsenable=yes\ntlsbindaddr=0.0.0.0:5039\ntlscertfile=/etc/a.pem\n\
             sslprivatekey=/etc/a.key\nsslcipher=HIGH\ntlsservercipherorder=yes\ntlsdisablev1=yes\n\
             tlsdisablev11=yes\ntlsdisablev12=no\n",
        )
        .general;
        let tls = TlsSettings {
            enabled: true,
            bind_addr: Some("0.0.0.0:5039".into()),
            cert_file: "/etc/a.pem".into(),
            private_key: "/etc/a.key".into(),
            cipher: "HIGH".into(),
            server_cipher_order: true,
            disable_v1: true,
            disable_v11: true,
            disable_v12: false,
        };
        assert_eq!(g.tls, tls);
        let config = load("[general]\ntlsbindaddr=0.0.0.0:https\n");
        assert_eq!(config.general.tls.bind_addr, None);
        assert!(has(&config, 2, |k| matches!(k, DiagnosticKind::InvalidAddress { .. })));
    }

    #[test]
    fn tls_client_keywords_are_rejected() {
        let config = load("[general]\ntlscafile=/x\nTLSVERIFYCLIENT=yes\nsslclientmethod=tlsv1\n");
        for line in 2..=4 {
            assert!(has(&config, line, |k| matches!(k, DiagnosticKind::RejectedTlsKeyword { .. })));
        }
        assert!(load_strict("[general]\ntlscafile=/x\n").is_err());
    }

    #[test]
    fn unknown_general_key_is_reported() {
        let config = load("[general]\nhidecallerid=yes\n");
        assert!(has(
            &config,
            2,
            |k| matches!(k, DiagnosticKind::UnknownGeneralKey { key } if key == "hidecallerid")
        ));
    }

    #[test]
    fn channelvars_are_split_like_app_args() {
        let g =
            load("[general]\nchannelvars=A,B,CALLERID(num),\"x,y\",HASH(a\\,b)\nchannelvars=C,D\n")
                .general;
        assert_eq!(g.channel_vars, ["C", "D"]);
        let g = load("[general]\nchannelvars=A,CUT(x,y,1),\"q,r\",s\\,t,\n").general;
        assert_eq!(g.channel_vars, ["A", "CUT(x,y,1)", "q,r", "s,t", ""]);
        assert!(load("[general]\nchannelvars=\n").general.channel_vars.is_empty());
        let many = (0..200).map(|i| format!("v{i}")).collect::<Vec<_>>().join(",");
        let g = load(&format!("[general]\nchannelvars={many}\n")).general;
        assert_eq!(g.channel_vars.len(), 128);
        assert!(g.channel_vars[127].starts_with("v127,v128,"));
    }

    #[test]
    fn disabledevents_matches_like_ast_in_delimited_string() {
        let g = load("[general]\ndisabledevents=Newexten, VarSet ,Cdr\n").general;
        assert!(g.is_event_disabled(b"Newexten"));
        assert!(!g.is_event_disabled(b"VarSet")); // the trailing blank is kept
        assert!(g.is_event_disabled(b"Cdr"));
        assert!(!g.is_event_disabled(b"cdr"));
        assert!(!load("[general]\n").general.is_event_disabled(b""));
    }

    #[test]
    fn user_defaults_come_from_general() {
        let config = load(
            "[general]\nallowmultiplelogin=no\ndisplayconnects=no\n[u]\nsecret=x\n[v]\nsecret=y\nallowmultiplelogin=yes\n",
        );
        let u = user(&config, "u");
        assert!(!u.allow_multiple_login && !u.display_connects);
        assert_eq!((u.read, u.write, u.write_timeout_ms), (Privilege::NONE, Privilege::NONE, 100));
        assert!(user(&config, "v").allow_multiple_login);
        // [general] is read first even when it comes after the users.
        let config = load("[u]\nsecret=x\n[general]\nallowmultiplelogin=no\n");
        assert!(!user(&config, "u").allow_multiple_login);
    }

    #[test]
    fn writetimeout_below_100_keeps_the_previous_value() {
        let config = load("[u]\nsecret=x\nwritetimeout=500\nwritetimeout=99\n");
        assert_eq!(user(&config, "u").write_timeout_ms, 500);
        assert!(has(&config, 4, |k| matches!(k, DiagnosticKind::InvalidWriteTimeout { .. })));
    }

    #[test]
    fn setvar_splits_at_first_equals_is_cut_and_is_stored_in_asterisk_order() {
        let config = load("[u]\nsecret=x\nsetvar=A=1=2\nsetvar=noequals\nsetvar=B=\nsetvar==v\n");
        let u = user(&config, "u");
        let got: Vec<(&str, &str)> =
            u.setvars.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        assert_eq!(got, [("", "v"), ("B", ""), ("A", "1=2")]);
        assert!(has(&config, 4, |k| matches!(k, DiagnosticKind::SetvarWithoutEquals { .. })));
        let long = format!("[u]\nsecret=x\nsetvar=N={}\n", "v".repeat(300));
        let config = load(&long);
        let (name, value) = &user(&config, "u").setvars[0];
        assert_eq!((name.as_str(), name.len() + 1 + value.len()), ("N", 255));
        assert!(has(&config, 3, |k| matches!(k, DiagnosticKind::SetvarTruncated { .. })));
        // The cut can remove the `=`.
        let config = load(&format!("[u]\nsecret=x\nsetvar={}=v\n", "n".repeat(260)));
        assert!(user(&config, "u").setvars.is_empty());
    }

    #[test]
    fn invalid_event_filter_is_skipped() {
        let config = load(
            "[u]\nsecret=x\neventfilter(name(Newchannel)) = X\neventfilter(name(Newchannel),method(contains)) = X\neventfilter=\n",
        );
        assert_eq!(user(&config, "u").filters.len(), 1);
        assert!(has(&config, 3, |k| matches!(k, DiagnosticKind::FilterSkipped { .. })));
        assert!(has(&config, 5, |k| matches!(k, DiagnosticKind::FilterSkipped { .. })));
        assert!(load_strict("[u]\nsecret=x\neventfilter=\n").is_err());
    }

    #[test]
    fn unknown_user_key_is_reported() {
        let config = load("[u]\nsecret=x\npermitt=10.0.0.0/8\n");
        assert!(has(
            &config,
            3,
            |k| matches!(k, DiagnosticKind::UnknownUserKey { key, .. } if key == "permitt")
        ));
        assert!(load_strict("[u]\nsecret=x\npermitt=10.0.0.0/8\n").is_err());
    }

    #[test]
    fn acl_lines_accumulate_in_order() {
        let config = load("[u]\nsecret=x\ndeny=0.0.0.0/0\npermit=10.0.0.0/8\ndeny=10.9.0.0/16\n");
        let acl = &user(&config, "u").acl;
        assert!(acl.permits(ip("10.1.2.3")));
        assert!(!acl.permits(ip("10.9.2.3")));
        assert!(!acl.permits(ip("192.0.2.1")));
    }

    #[test]
    fn named_acl_from_acl_conf() {
        let named =
            parse_acl_conf("[office]\ndeny=0.0.0.0/0\npermit=192.0.2.0/24\n", &mut NoIncludes)
                .unwrap();
        let opts = ConfigOptions { named_acls: named, ..ConfigOptions::default() };
        let text = "[u]\nsecret=x\nacl=office\n[v]\nsecret=y\nacl=nosuch\n";
        let config = parse_manager_conf(text, &mut NoIncludes, &opts).unwrap();
        let u = user(&config, "u");
        assert!(u.acl.permits(ip("192.0.2.9")));
        assert!(!u.acl.permits(ip("198.51.100.1")));
        let v = user(&config, "v");
        assert!(!v.acl.permits(ip("192.0.2.9")));
        assert!(has(&config, 6, |k| matches!(k, DiagnosticKind::Acl { .. })));
    }

    #[test]
    fn duplicate_sections_reapply_to_the_same_user() {
        let text = "[admin]\nsecret=one\nread=all\nwritetimeout=300\ndeny=0.0.0.0/0\neventfilter=Event: X\nsetvar=A=1\n\
                    [ADMIN]\nwrite=call\nsetvar=B=2\n";
        let config = load(text);
        assert_eq!(config.users.len(), 1);
        let u = user(&config, "admin");
        assert_eq!(u.name, "admin");
        assert_eq!(u.line, 1);
        // Kept from the first section: secret, read, writetimeout.
        assert_eq!(u.secret.as_deref(), Some("one"));
        assert_eq!(u.read, Privilege::ALL);
        assert_eq!(u.write_timeout_ms, 300);
        assert_eq!(u.write, Privilege::CALL);
        // Replaced: ACL, filters, setvars.
        assert!(u.acl.permits(ip("192.0.2.1")));
        assert!(u.filters.is_empty());
        assert_eq!(u.setvars, [("B".to_owned(), "2".to_owned())]);
        assert!(has(&config, 8, |k| matches!(
            k,
            DiagnosticKind::DuplicateUserSection { first_line: 1, .. }
        )));
    }

    #[test]
    fn duplicate_section_forgives_an_earlier_acl_error() {
        let config = load("[u]\nsecret=x\npermit=bogus\n[u]\nread=call\n");
        assert!(config.user(b"u").is_some());
        let config = load("[u]\nsecret=x\n[u]\npermit=bogus\n");
        assert!(config.user(b"u").is_none());
    }

    #[test]
    fn long_user_name_is_cut_to_79_bytes() {
        let config = load(&format!("[{}]\nsecret=x\n", "u".repeat(90)));
        assert_eq!(config.users[0].name.len(), 79);
        assert!(config.user("u".repeat(90).as_bytes()).is_none());
        assert!(config.user("U".repeat(79).as_bytes()).is_some());
    }

    #[test]
    fn strict_mode_fails_on_perm_quirks_with_the_line() {
        let e = load_strict("[u]\nsecret=x\nread=,call\n").unwrap_err();
        assert_eq!((&*e.file, e.line), (MANAGER_CONF, 3));
        assert!(matches!(e.kind, ConfigErrorKind::Perm { ref key, .. } if key == "read"));
        // write=all grants shell access: a dangerous grant, refused in strict mode.
        let e = load_strict(CONFORMANCE).unwrap_err();
        assert_eq!(e.line, 13);
        assert!(matches!(
            e.kind,
            ConfigErrorKind::Strict(ref k) if matches!(**k, DiagnosticKind::ShellEquivalentWrite { .. })
        ));
        let read_only = "[reader]\nsecret = reader123\nread = call,cdr,agent,user\nwrite =\n";
        assert!(load_strict(read_only).is_ok());
    }

    #[test]
    fn syntax_errors_reject_the_whole_file() {
        let e = parse_manager_conf("secret=x\n[u]\n", &mut NoIncludes, &ConfigOptions::default())
            .unwrap_err();
        assert_eq!((e.line, e.kind), (1, ConfigErrorKind::NoCategory));
        let e = parse_manager_conf(
            "[u]\n#include users.conf\n",
            &mut MemoryResolver::new(),
            &ConfigOptions::default(),
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "manager.conf:2: #include file `users.conf` does not exist");
    }

    #[test]
    fn users_from_an_included_file() {
        let mut files = MemoryResolver::new();
        files.insert("/etc/asterisk/manager.d/bob.conf", "[bob]\nsecret=b\nread=call\n");
        let text = "[general]\nenabled=yes\n#include \"/etc/asterisk/manager.d/*.conf\"\n";
        let config = parse_manager_conf(text, &mut files, &ConfigOptions::default()).unwrap();
        assert_eq!(user(&config, "bob").read, Privilege::CALL);
        assert_eq!(&*user(&config, "bob").file, "/etc/asterisk/manager.d/bob.conf");
    }

    #[test]
    fn diagnostics_display_file_and_line() {
        let config = load("[u]\nsecret=x\nfoo=bar\n");
        assert_eq!(
            config.diagnostics[0].to_string(),
            "manager.conf:3: user `u`: unknown option `foo` is ignored"
        );
    }

    #[test]
    fn acl_conf_categories_become_named_acls() {
        let text =
            "[office]\npermit=192.0.2.0/24\n[Office]\ndeny=0.0.0.0/0\n[office]\nDENY=192.0.2.7\n";
        let named = parse_acl_conf(text, &mut NoIncludes).unwrap();
        let office = named.get("office").unwrap();
        assert!(office.permits(ip("192.0.2.1")));
        assert!(!office.permits(ip("192.0.2.7")));
        // Names are case-sensitive: `Office` is another ACL.
        assert!(!named.get("Office").unwrap().permits(ip("192.0.2.1")));
    }

    #[test]
    fn acl_conf_rejects_general_unknown_keys_and_bad_rules() {
        let e = parse_acl_conf("[a]\npermit=10.0.0.0/8\n[general]\n", &mut NoIncludes).unwrap_err();
        assert_eq!((e.line, e.kind), (3, ConfigErrorKind::AclGeneralCategory));
        let e = parse_acl_conf("[a]\nallow=10.0.0.0/8\n", &mut NoIncludes).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(matches!(e.kind, ConfigErrorKind::AclUnknownOption { .. }));
        let e = parse_acl_conf("[a]\npermit=10.0.0.0/8\ndeny=1.2.3.4:80\n", &mut NoIncludes)
            .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(matches!(e.kind, ConfigErrorKind::AclRule { .. }));
    }

    #[test]
    fn acl_conf_reports_acl_findings() {
        let (_, diagnostics) =
            parse_acl_conf_with_diagnostics("[a]\npermit=10.1.2.3/8\n", &mut NoIncludes).unwrap();
        assert!(diagnostics.iter().any(|d| d.line == 1
            && matches!(&d.kind, DiagnosticKind::NamedAcl { acl, .. } if acl == "a")));
    }

    #[test]
    fn atoi_matches_glibc() {
        assert_eq!(atoi(" 42x"), 42);
        assert_eq!(atoi("-7"), -7);
        assert_eq!(atoi("+7"), 7);
        assert_eq!(atoi("x7"), 0);
        assert_eq!(atoi("4294967297"), 1);
        assert_eq!(atoi("99999999999999999999"), -1); // LONG_MAX truncated to int
    }

    proptest! {
        #[test]
        fn arbitrary_manager_conf_never_panics(text in "(\\[[a-z]{0,3}\\]|[a-zA-Z]{1,12}|=|,|;|;--|--;|\\\\|#include x|\n|[ -~]{0,8}|\\PC{0,4}){0,40}") {
            for strictness in [Strictness::AsteriskCompatible, Strictness::Strict] {
                let opts = ConfigOptions { strictness, ..ConfigOptions::default() };
                match parse_manager_conf(&text, &mut NoIncludes, &opts) {
                    Ok(config) => {
                        for u in &config.users {
                            prop_assert!(config.user(u.name.as_bytes()).is_some());
                        }
                    }
                    Err(e) => {
                        let lines = text.split('\n').count() as u32;
                        prop_assert!(e.line >= 1 && e.line <= lines, "{e} of {lines}");
                    }
                }
            }
        }

        #[test]
        fn arbitrary_user_values_never_panic(key in "(secret|read|write|permit|deny|acl|setvar|writetimeout|eventfilter|eventfilter\\(name\\(X\\)\\)|displayconnects|port|[a-z]{1,6})", value in "\\PC{0,40}") {
            let text = format!("[general]\n{key}={value}\n[u]\n{key}={value}\n");
            let _ = parse_manager_conf(&text, &mut NoIncludes, &ConfigOptions::default());
        }
    }

    #[test]
    fn diagnostics_never_print_a_mistyped_secret() {
        let cfg =
            load("[general]\nenabled = yes\n[bob] secret=hunter2\nsecret hunter2\nread = all\n");
        let shown: Vec<String> = cfg.diagnostics.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:?}");
        assert!(shown.iter().all(|d| !d.contains("hunter2")), "{shown:?}");
        assert!(
            shown[0].contains("ignored (`secret …` (14 bytes, the rest not shown);"),
            "{shown:?}"
        );
        assert!(
            shown[1].contains("line `secret …` (14 bytes, the rest not shown) has no `=`"),
            "{shown:?}"
        );
        assert!(shown[2].contains("has no secret"), "{shown:?}");
        // The text itself stays available to programs.
        assert!(
            matches!(&cfg.diagnostics[1].kind, DiagnosticKind::NoEquals { text } if text == "secret hunter2")
        );
    }
}
