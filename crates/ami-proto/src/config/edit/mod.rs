//! A lossless manager.conf editor: add, change, rename and remove AMI users, switch AMI on or
//! off, and keep every byte the edit does not concern.
//!
//! Text in, text out: [`ConfigEditor::new`] takes the text of manager.conf (and, through an
//! [`IncludeResolver`], the files it includes), each [`Edit`] changes lines, and
//! [`ConfigEditor::text`] / [`ConfigEditor::changed_files`] give the new texts. The editor reads
//! no file and draws no randomness: a secret to generate is made by [`generate_secret`] from
//! randomness the caller passes.
//!
//! # What is kept
//!
//! Every line an edit does not change stays byte for byte: comments, blank lines, the order of
//! lines and sections, `#include`/`#tryinclude`/`#exec` lines, templates and inheritance lists,
//! keys the editor does not know, and each line's own ending (`\n`, `\r\n`, or none on the last
//! line). A changed value keeps its line's indentation, spacing and trailing `; comment`. New
//! lines end like the file's first line. [`ConfigEditor::changes`] lists exactly the lines that
//! differ.
//!
//! # How the editor knows what a line means
//!
//! The file is read by the same loader as [`parse_manager_conf`] (comments, `;--` block
//! comments, `\;` escapes, `[name](options)`, `=>`, `+=`, includes): the editor asks the loader
//! which section and which line every value comes from, and changes that line. It edits a line
//! only when doing so cannot change how other lines are read: never a line that opens, closes
//! or lies inside a `;--` block comment, never a file included twice or one Asterisk does not
//! read from its own first line ([`EditError::LineNotEditable`], [`EditError::FileNotEditable`]).
//!
//! # The operations
//!
//! * **Add a user** ([`Edit::AddUser`]): a new section at the end of manager.conf, after a blank
//!   line: `[name]`, `secret`, `read`, `write` (always written, `none` when not given, so that
//!   nothing depends on defaults), the ACL, filters and the other settings given. The name must
//!   be new (no section or template of that name, any case), made of ASCII letters, digits and
//!   `-_.@+`, at most 79 bytes, and not `general`.
//! * **Change a user** ([`Edit::UpdateUser`] with [`UserSettings`]): for a key with one value
//!   (`secret`, `read`, `write`, `displayconnects`, `allowmultiplelogin`, `writetimeout`), the
//!   line that wins (the user's last own line of that key) gets the new value and the user's
//!   other lines of that key, which have no effect, are removed; without an own line, a new
//!   line goes at the end of the section (after the last line that is not blank or a comment).
//!   A value inherited from a template is overridden this way, in the user's own section, and
//!   the template is never touched ([`EditNote::OverridesInherited`]). For the lists
//!   (`permit`/`deny`/`acl` together, `eventfilter…` — miscased `EventFilter` lines, which
//!   Asterisk ignores, included —, and `setvar`) every own line is removed and the new lines go
//!   where the first removed one was. [`Setting::Unset`] removes the own lines, so Asterisk's
//!   default applies (for `secret`: the user can no longer log in). A list or an unset key that
//!   the user inherits from a template cannot be changed for this user alone:
//!   [`EditError::Inherited`]. A value built with `+=`: [`EditError::AppendedValue`].
//! * **Rename** ([`Edit::RenameUser`]): only the name in the `[name]` header changes (its
//!   option list and comment stay). Refused if another section inherits from the user.
//! * **Remove** ([`Edit::RemoveUser`]): every section of the user goes, with the comment lines
//!   right above its header and the blank lines that end it; the comment block right above the
//!   next section stays with that section. Refused if the section holds a directive or another
//!   section inherits from it.
//! * **Enable or disable AMI** ([`Edit::SetEnabled`]): `enabled = yes|no` in the `[general]`
//!   that Asterisk reads (the first one); without one, a `[general]` section is added before
//!   the first section.
//!
//! A user defined by several sections (a duplicate `[name]` or `[name](+)`) is only removed,
//! never changed or renamed: which line wins would depend on their order
//! ([`EditError::SeveralSections`]). A user in an included file is edited in that file.
//!
//! # Validation
//!
//! Every edit is checked before it is kept, with the loader's semantics:
//!
//! 1. The values are checked first: permissions are written from a [`Privilege`] with
//!    [`Privilege::to_config_list`], so a quirk such as an empty element granting everything
//!    is never written; ACL rules and event filters must be accepted by the ACL and filter
//!    modules exactly as Asterisk would accept them; a value the ini syntax cannot carry
//!    (control characters, blanks at either end, lines over 8190 bytes) is refused; every `;`
//!    is written `\;`.
//! 2. The edited files are loaded again. The result must be the configuration before the edit
//!    with exactly the asked change: the edited user's secret, classes, ACL, filters and other
//!    settings are what was asked, every other user and the `[general]` settings are unchanged
//!    ([`EditError::NotEffective`], [`EditError::SideEffect`]).
//! 3. `ami check` ([`findings::check`]) runs on the result: an error it did not report before
//!    refuses the edit ([`EditError::CheckFailed`]; with [`EditOptions::strict`] the dangerous
//!    grants are errors too); its other findings about the edited user, and new ones, come back
//!    in [`EditReport::findings`].
//!
//! A refused edit changes nothing. [`EditReport::notes`] says what a `manager reload` does not
//! apply: sessions already logged in keep the rights they logged in with, and a reload keeps
//! the previous value of a key removed from an existing user (only a restart forgets it).
//!
//! # In other languages
//!
//! The whole interface is one enum of edits ([`Edit`]) over one settings record
//! ([`UserSettings`], every field optional, [`Setting::Unset`] to remove a key), a report
//! ([`EditReport`]) and one error enum, so each binding is a thin mapping: the `ami user`
//! command (options → [`UserSettings`]), C (`ami_config_edit_*` with an `ami_user_settings`
//! struct whose `set`/`unset` bits say which fields are present), Python
//! (`ManagerConfig.edit()`, keyword arguments: omitted = keep, `None` = unset). A Node binding
//! maps a JavaScript object the same way (`cfg.edit().addUser("crm", {read: ["call"],
//! secret: null})`: a missing property keeps the key, `null` removes it) and returns the texts.
//!
//! # Example
//!
//! ```
//! use ami_proto::config::edit::{AclRule, ConfigEditor, EditOptions, UserSettings, Setting};
//! use ami_proto::config::NoIncludes;
//! use ami_proto::perm::Privilege;
//!
//! let text = "[general]\r\nenabled = yes\r\n\r\n; the PBX admin\r\n[admin]\r\nsecret = s3cret-Adm1n ; rotated\r\nread = all\r\nwrite = all\r\n";
//! let mut editor = ConfigEditor::new(text, &mut NoIncludes, EditOptions::default()).unwrap();
//!
//! let crm = UserSettings {
//!     secret: Some(Setting::Set("Zk4hW9qLr2Vx7Tn3".into())),
//!     read: Some(Privilege::CALL | Privilege::CDR),
//!     write: Some(Privilege::ORIGINATE),
//!     acl: Some(AclRule::only_from(&["10.0.0.0/8"])),
//!     ..UserSettings::default()
//! };
//! let report = editor.add_user("crm", &crm).unwrap();
//! // ami check's warnings come back: originate lets the user run dialplan code.
//! assert!(report.findings.iter().any(|f| f.code == "originate-escalation"));
//!
//! let admin = UserSettings { read: Some(Privilege::SYSTEM), ..UserSettings::default() };
//! editor.update_user("ADMIN", &admin).unwrap();
//!
//! assert_eq!(
//!     editor.text(),
//!     "[general]\r\nenabled = yes\r\n\r\n; the PBX admin\r\n[admin]\r\nsecret = s3cret-Adm1n ; rotated\r\n\
//!      read = system\r\nwrite = all\r\n\r\n[crm]\r\nsecret = Zk4hW9qLr2Vx7Tn3\r\nread = call,cdr\r\n\
//!      write = originate\r\ndeny = 0.0.0.0/0\r\ndeny = ::/0\r\npermit = 10.0.0.0/8\r\n"
//! );
//! let crm = editor.config().user(b"crm").unwrap();
//! assert_eq!(crm.read, Privilege::CALL | Privilege::CDR);
//!
//! // An empty secret would let anyone in: refused, nothing changes.
//! let empty = UserSettings { secret: Some(Setting::Set(String::new())), ..UserSettings::default() };
//! assert!(editor.update_user("crm", &empty).is_err());
//! ```

mod document;
mod error;
mod plan;
mod render;
mod scan;
mod secret;
mod settings;
mod validate;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

pub use document::{LineChange, LineEnding};
pub use error::{EditError, Field, FileProblem, LineProblem, Location, NameProblem, ValueProblem};
pub use secret::{
    DEFAULT_SECRET_LENGTH, MAX_SECRET_LENGTH, MIN_SECRET_LENGTH, SECRET_ALPHABET, SecretError,
    generate_secret,
};

use super::findings::{self, CheckReport, Finding};
use super::{
    ConfigOptions, IncludeError, IncludeResolver, MANAGER_CONF, ManagerConfig, ini,
    load_manager_conf,
};
use crate::acl::NamedAcls;
use crate::perm::Privilege;
use document::Document;
use scan::ScannedLine;

#[cfg(doc)]
use super::parse_manager_conf;

/// A new value for a key, or its removal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Setting<T> {
    /// Write this value.
    Set(T),
    /// Remove the user's own lines of the key: Asterisk's default applies.
    Unset,
}

/// The kind of a network rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclKind {
    /// `permit = address[/mask],…`.
    Permit,
    /// `deny = address[/mask],…`.
    Deny,
    /// `acl = name,…`: named ACLs of acl.conf.
    Named,
}

impl AclKind {
    /// The manager.conf key.
    pub fn key(self) -> &'static str {
        match self {
            AclKind::Permit => "permit",
            AclKind::Deny => "deny",
            AclKind::Named => "acl",
        }
    }
}

/// One `permit`/`deny`/`acl` line. Asterisk evaluates the `permit`/`deny` lines in order, the
/// last matching one deciding, and every named ACL must admit the address too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclRule {
    /// Which key.
    pub kind: AclKind,
    /// The value as written after the key.
    pub value: String,
}

impl AclRule {
    /// `permit = value`.
    pub fn permit(value: impl Into<String>) -> AclRule {
        AclRule { kind: AclKind::Permit, value: value.into() }
    }

    /// `deny = value`.
    pub fn deny(value: impl Into<String>) -> AclRule {
        AclRule { kind: AclKind::Deny, value: value.into() }
    }

    /// `acl = value` (named ACLs from acl.conf).
    pub fn named(value: impl Into<String>) -> AclRule {
        AclRule { kind: AclKind::Named, value: value.into() }
    }

    /// Only these networks may log in: `deny = 0.0.0.0/0`, `deny = ::/0`, then one `permit`
    /// per network. (A `permit` alone restricts nothing: Asterisk starts from "allow".)
    pub fn only_from<S: AsRef<str>>(networks: &[S]) -> Vec<AclRule> {
        let mut rules = vec![AclRule::deny("0.0.0.0/0"), AclRule::deny("::/0")];
        rules.extend(networks.iter().map(|n| AclRule::permit(n.as_ref())));
        rules
    }
}

/// One `eventfilter` line: `key = value`, the key being `eventfilter` (legacy regular
/// expression) or `eventfilter(options)` (spec §5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterLine {
    /// `eventfilter` or `eventfilter(…)`.
    pub key: String,
    /// The expression (may be empty for the advanced form).
    pub value: String,
}

impl FilterLine {
    /// `key = value`.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> FilterLine {
        FilterLine { key: key.into(), value: value.into() }
    }

    /// `eventfilter = value` (a POSIX regular expression on the whole event; `!` excludes).
    pub fn legacy(value: impl Into<String>) -> FilterLine {
        FilterLine::new("eventfilter", value)
    }
}

/// One `setvar = NAME=value` line (channel variables set on every Originate of the user).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetVar {
    /// The variable name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// What to change in a user; `None` keeps a key as it is. Used by [`Edit::AddUser`] (where
/// `None` writes nothing, except `read`/`write` which are written as `none`) and
/// [`Edit::UpdateUser`].
///
/// `Debug` never shows the secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct UserSettings {
    /// `secret`. [`Setting::Unset`] leaves the user without a secret: nobody can log in as it.
    pub secret: Option<Setting<String>>,
    /// `read`: the event classes the user receives.
    pub read: Option<Privilege>,
    /// `write`: the action classes the user may run.
    pub write: Option<Privilege>,
    /// The `permit`/`deny`/`acl` lines, in order; an empty list lets every address in.
    pub acl: Option<Vec<AclRule>>,
    /// The `eventfilter` lines; an empty list sends every event the read classes allow.
    pub event_filters: Option<Vec<FilterLine>>,
    /// `displayconnects` (only Asterisk's log): unset = the `[general]` value.
    pub display_connects: Option<Setting<bool>>,
    /// `allowmultiplelogin`: unset = the `[general]` value.
    pub allow_multiple_login: Option<Setting<bool>>,
    /// `writetimeout` in milliseconds (at least 100): unset = 100.
    pub write_timeout_ms: Option<Setting<u32>>,
    /// The `setvar` lines, in file order.
    pub setvars: Option<Vec<SetVar>>,
}

impl fmt::Debug for UserSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secret = self.secret.as_ref().map(|s| match s {
            Setting::Set(_) => "Set(<redacted>)",
            Setting::Unset => "Unset",
        });
        f.debug_struct("UserSettings")
            .field("secret", &secret)
            .field("read", &self.read)
            .field("write", &self.write)
            .field("acl", &self.acl)
            .field("event_filters", &self.event_filters)
            .field("display_connects", &self.display_connects)
            .field("allow_multiple_login", &self.allow_multiple_login)
            .field("write_timeout_ms", &self.write_timeout_ms)
            .field("setvars", &self.setvars)
            .finish()
    }
}

/// One edit; [`ConfigEditor::apply`] applies it whole or not at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Add a user.
    AddUser {
        /// Its name.
        name: String,
        /// Its settings.
        settings: UserSettings,
    },
    /// Change some settings of a user.
    UpdateUser {
        /// The user (any case).
        name: String,
        /// What to change.
        settings: UserSettings,
    },
    /// Rename a user.
    RenameUser {
        /// The user (any case).
        from: String,
        /// The new name.
        to: String,
    },
    /// Remove a user.
    RemoveUser {
        /// The user (any case).
        name: String,
    },
    /// `enabled = yes|no` in `[general]`: AMI on or off.
    SetEnabled(bool),
}

/// Options of a [`ConfigEditor`].
#[derive(Clone, Debug, Default)]
pub struct EditOptions {
    /// The named ACLs of acl.conf that `acl = name` lines refer to.
    pub named_acls: NamedAcls,
    /// `ami check --strict`: dangerous grants (shell-equivalent write classes, an ACL open to
    /// everyone, weak secrets, …) refuse the edit instead of coming back as warnings.
    pub strict: bool,
}

/// What a `manager reload` does not do, or what the editor did on the user's behalf.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EditNote {
    /// Sessions already logged in as this user keep the rights they logged in with, until
    /// they log in again (a removed or renamed user's sessions stay open).
    SessionsKeepRights {
        /// The user.
        user: String,
    },
    /// The key was removed from an existing user: `manager reload` keeps its previous value
    /// (Asterisk only overwrites keys that are present); a restart applies the default.
    ReloadKeepsPrevious {
        /// The user.
        user: String,
        /// The key.
        key: &'static str,
    },
    /// The user inherited the key from a base section: the new value is written in the
    /// user's own section, which overrides it; the base section is unchanged.
    OverridesInherited {
        /// The user.
        user: String,
        /// The key.
        key: &'static str,
        /// The base section.
        base: String,
    },
}

impl fmt::Display for EditNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditNote::SessionsKeepRights { user } => write!(
                f,
                "sessions already logged in as `{user}` keep their rights until they log in \
                 again (a reload does not end them)"
            ),
            EditNote::ReloadKeepsPrevious { user, key } => write!(
                f,
                "`manager reload` keeps the previous `{key}` of `{user}`: Asterisk only \
                 replaces keys that are present; restart Asterisk to apply the default"
            ),
            EditNote::OverridesInherited { user, key, base } => write!(
                f,
                "`{key}` of `{user}` was inherited from `[{base}]`: the new value is written in \
                 `[{user}]` and overrides it; `[{base}]` is unchanged"
            ),
        }
    }
}

/// What an accepted edit changed and what `ami check` says about the result.
#[derive(Clone, Debug, Default)]
pub struct EditReport {
    /// `ami check`'s findings (warnings and information; errors refuse the edit) about the
    /// edited user, and those that the edit made appear elsewhere.
    pub findings: Vec<Finding>,
    /// What to know before applying it (see [`EditNote`]).
    pub notes: Vec<EditNote>,
    /// The files this edit changed (`manager.conf` is the file the editor was given).
    pub files: Vec<String>,
}

/// One file as edited so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditedFile {
    /// Its name: `manager.conf` for the file the editor was given, else the name the
    /// [`IncludeResolver`] gave it.
    pub name: String,
    /// Its text now.
    pub text: String,
    /// The lines that differ from its original text.
    pub changes: Vec<LineChange>,
}

/// A file the configuration is made of.
#[derive(Clone, Debug)]
struct Source {
    /// The name the loader knows it by.
    name: Arc<str>,
    /// Its lines.
    doc: Document,
    /// How many times the loader read it.
    reads: usize,
}

/// What `#include` paths resolved to when the editor was created; replayed for every re-load,
/// with the edited texts.
#[derive(Clone, Debug, Default)]
struct Includes {
    resolved: HashMap<String, Result<Vec<Arc<str>>, IncludeError>>,
}

/// Records the files the caller's resolver returns.
struct Recorder<'r> {
    inner: &'r mut dyn IncludeResolver,
    includes: Includes,
    texts: Vec<(Arc<str>, String, usize)>,
}

impl IncludeResolver for Recorder<'_> {
    fn resolve(&mut self, path: &str) -> Result<Vec<(String, String)>, IncludeError> {
        let result = self.inner.resolve(path);
        let names = match &result {
            Ok(files) => {
                let mut names = Vec::with_capacity(files.len());
                for (name, text) in files {
                    match self.texts.iter_mut().find(|(n, _, _)| **n == **name) {
                        Some(entry) => entry.2 += 1,
                        None => self.texts.push((Arc::from(name.as_str()), text.clone(), 1)),
                    }
                    names.push(Arc::from(name.as_str()));
                }
                Ok(names)
            }
            Err(e) => Err(e.clone()),
        };
        self.includes.resolved.insert(path.to_owned(), names);
        result
    }
}

/// Serves the recorded include results with the current texts.
struct Replay<'a> {
    includes: &'a Includes,
    sources: &'a [Source],
}

impl IncludeResolver for Replay<'_> {
    fn resolve(&mut self, path: &str) -> Result<Vec<(String, String)>, IncludeError> {
        match self.includes.resolved.get(path) {
            Some(Ok(names)) => Ok(names
                .iter()
                .filter_map(|n| {
                    let s = self.sources.iter().find(|s| s.name == *n)?;
                    Some((n.to_string(), s.doc.render()))
                })
                .collect()),
            Some(Err(e)) => Err(e.clone()),
            None => Err(IncludeError::NotFound),
        }
    }
}

/// The configuration as loaded from the current texts.
#[derive(Clone, Debug)]
struct Loaded {
    config: ManagerConfig,
    categories: Vec<ini::Category>,
    /// One scan per source.
    scans: Vec<Vec<ScannedLine>>,
    /// Per source: the scan agrees with the loader on every line.
    agrees: Vec<bool>,
    check: CheckReport,
}

/// An editor of one manager.conf and the files it includes. See the module documentation.
#[derive(Clone, Debug)]
pub struct ConfigEditor {
    sources: Vec<Source>,
    includes: Includes,
    options: EditOptions,
    loaded: Loaded,
}

impl ConfigEditor {
    /// Loads `text` (manager.conf; its includes through `resolver`) for editing. Fails if
    /// Asterisk would refuse it.
    pub fn new(
        text: &str,
        resolver: &mut dyn IncludeResolver,
        options: EditOptions,
    ) -> Result<ConfigEditor, EditError> {
        let mut recorder =
            Recorder { inner: resolver, includes: Includes::default(), texts: Vec::new() };
        let opts = config_options(&options);
        load_manager_conf(text, &mut recorder, &opts).map_err(|e| EditError::Load(Box::new(e)))?;
        let mut sources =
            vec![Source { name: Arc::from(MANAGER_CONF), doc: Document::new(text), reads: 1 }];
        for (name, text, reads) in recorder.texts {
            sources.push(Source { name, doc: Document::new(&text), reads });
        }
        let includes = recorder.includes;
        let loaded =
            load(&sources, &includes, &options).map_err(|e| EditError::Load(Box::new(e)))?;
        Ok(ConfigEditor { sources, includes, options, loaded })
    }

    /// Applies one edit, whole or not at all (on error nothing changes).
    pub fn apply(&mut self, edit: &Edit) -> Result<EditReport, EditError> {
        let plan = plan::plan(self, edit)?;
        let saved: Vec<(usize, Document)> = plan
            .files()
            .into_iter()
            .filter_map(|i| Some((i, self.sources.get(i)?.doc.clone())))
            .collect();
        plan.apply(&mut self.sources);
        let result = load(&self.sources, &self.includes, &self.options)
            .map_err(|e| EditError::WouldNotLoad(Box::new(e)))
            .and_then(|after| {
                let findings = validate::validate(&self.loaded, &after, &plan.expect)?;
                Ok((after, findings))
            });
        match result {
            Ok((after, findings)) => {
                self.loaded = after;
                let files = saved
                    .iter()
                    .filter_map(|(i, _)| self.sources.get(*i).map(|s| s.name.to_string()))
                    .collect();
                Ok(EditReport { findings, notes: plan.notes, files })
            }
            Err(e) => {
                for (i, doc) in saved {
                    if let Some(s) = self.sources.get_mut(i) {
                        s.doc = doc;
                    }
                }
                Err(e)
            }
        }
    }

    /// [`Edit::AddUser`].
    pub fn add_user(
        &mut self,
        name: &str,
        settings: &UserSettings,
    ) -> Result<EditReport, EditError> {
        self.apply(&Edit::AddUser { name: name.to_owned(), settings: settings.clone() })
    }

    /// [`Edit::UpdateUser`].
    pub fn update_user(
        &mut self,
        name: &str,
        settings: &UserSettings,
    ) -> Result<EditReport, EditError> {
        self.apply(&Edit::UpdateUser { name: name.to_owned(), settings: settings.clone() })
    }

    /// [`Edit::RenameUser`].
    pub fn rename_user(&mut self, from: &str, to: &str) -> Result<EditReport, EditError> {
        self.apply(&Edit::RenameUser { from: from.to_owned(), to: to.to_owned() })
    }

    /// [`Edit::RemoveUser`].
    pub fn remove_user(&mut self, name: &str) -> Result<EditReport, EditError> {
        self.apply(&Edit::RemoveUser { name: name.to_owned() })
    }

    /// [`Edit::SetEnabled`].
    pub fn set_enabled(&mut self, enabled: bool) -> Result<EditReport, EditError> {
        self.apply(&Edit::SetEnabled(enabled))
    }

    /// The text of manager.conf now.
    pub fn text(&self) -> String {
        self.sources.first().map(|s| s.doc.render()).unwrap_or_default()
    }

    /// The names of every file of the configuration: `manager.conf` first, then the included
    /// files in the order they were first read.
    pub fn file_names(&self) -> impl Iterator<Item = &str> {
        self.sources.iter().map(|s| &*s.name)
    }

    /// The text of one file now.
    pub fn file_text(&self, name: &str) -> Option<String> {
        self.sources.iter().find(|s| &*s.name == name).map(|s| s.doc.render())
    }

    /// The text one file had when the editor was created.
    pub fn original_text(&self, name: &str) -> Option<String> {
        self.sources.iter().find(|s| &*s.name == name).map(|s| s.doc.original_text())
    }

    /// The lines of one file that differ from its original text (empty for an unknown file).
    pub fn changes(&self, name: &str) -> Vec<LineChange> {
        self.sources.iter().find(|s| &*s.name == name).map(|s| s.doc.changes()).unwrap_or_default()
    }

    /// Every file whose text differs from the original, with its changes.
    pub fn changed_files(&self) -> Vec<EditedFile> {
        self.sources
            .iter()
            .filter_map(|s| {
                let changes = s.doc.changes();
                (!changes.is_empty()).then(|| EditedFile {
                    name: s.name.to_string(),
                    text: s.doc.render(),
                    changes,
                })
            })
            .collect()
    }

    /// The configuration as Asterisk loads the current texts.
    pub fn config(&self) -> &ManagerConfig {
        &self.loaded.config
    }

    /// `ami check`'s report on the current texts.
    pub fn check(&self) -> &CheckReport {
        &self.loaded.check
    }

    /// The options given to [`ConfigEditor::new`].
    pub fn options(&self) -> &EditOptions {
        &self.options
    }
}

/// How the editor loads: Asterisk-compatible, with the caller's named ACLs.
fn config_options(options: &EditOptions) -> ConfigOptions {
    ConfigOptions { named_acls: options.named_acls.clone(), ..ConfigOptions::default() }
}

/// Loads the current texts and scans every file.
fn load(
    sources: &[Source],
    includes: &Includes,
    options: &EditOptions,
) -> Result<Loaded, super::ConfigError> {
    let top = sources.first().map(|s| s.doc.render()).unwrap_or_default();
    let mut replay = Replay { includes, sources };
    let (config, categories) = load_manager_conf(&top, &mut replay, &config_options(options))?;
    let scans: Vec<Vec<ScannedLine>> =
        sources.iter().map(|s| scan::scan(&s.doc.render())).collect();
    let agrees = sources
        .iter()
        .zip(&scans)
        .map(|(s, lines)| plan::scan_agrees(&s.name, lines, &categories))
        .collect();
    let check = findings::check(&config, options.strict);
    Ok(Loaded { config, categories, scans, agrees, check })
}

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod tests;
