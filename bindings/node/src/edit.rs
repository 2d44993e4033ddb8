//! The manager.conf editor: `ManagerConfig.edit()` in TypeScript wraps a [`NativeConfigEditor`]
//! (the core's `ConfigEditor`), and `generateSecret` draws a secret from the OS's CSPRNG.
//!
//! The TypeScript layer (`ts/editor.ts`) checks the types of a settings object and tells a
//! missing property (keep the key) from `null` (remove it); it hands over a
//! [`NativeUserSettings`] in which removals are listed in `unset`. Everything else (class
//! lists, ACL rules, filters, the re-load check) is decided here and in the core, as for the C
//! and Python bindings. A refused edit throws a `ConfigEditError` with a stable `reason`, and
//! `file`/`line` when the core names a line.

use ami_proto::config::IncludeResolver;
use ami_proto::config::edit::{
    self, AclKind, AclRule, Edit, EditError, EditReport, FilterLine, SetVar, Setting, UserSettings,
};
use ami_proto::config::findings::{Finding, Severity};
use ami_proto::perm::{self, Strictness};
use napi::{Either, Env, Result};
use napi_derive::napi;

use crate::access::ManagerConfig;
use crate::errors::{self, Details, Kind};

/// One `permit`/`deny`/`acl` line.
#[napi(object)]
#[derive(Clone, Debug)]
pub struct NativeAclRule {
    /// `permit`, `deny` or `acl`.
    pub kind: String,
    /// The value after the key.
    pub value: String,
}

/// One `eventfilter` line.
#[napi(object)]
#[derive(Clone, Debug)]
pub struct NativeFilterLine {
    /// `eventfilter` or `eventfilter(…)`.
    pub key: String,
    /// The expression.
    pub value: String,
}

/// One `setvar = NAME=value` line.
#[napi(object)]
#[derive(Clone, Debug)]
pub struct NativeSetVar {
    /// The variable.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// A user's settings as the TypeScript layer hands them over: a missing field keeps the key,
/// `unset` lists the keys to remove (`secret`, `displayconnects`, `allowmultiplelogin`,
/// `writetimeout`).
#[napi(object)]
#[derive(Clone, Debug, Default)]
pub struct NativeUserSettings {
    /// `secret`.
    pub secret: Option<String>,
    /// Generate a secret from the OS's CSPRNG (instead of `secret`).
    pub generate_secret: Option<bool>,
    /// The length of the generated secret (16 to 256; default 32).
    pub secret_length: Option<u32>,
    /// `read`: class names (`"call,cdr"`, exact) or bits.
    pub read: Option<Either<String, u32>>,
    /// `write`: class names or bits.
    pub write: Option<Either<String, u32>>,
    /// Only these networks may log in (`deny` everything, then one `permit` per network).
    pub permit: Option<Vec<String>>,
    /// The exact `permit`/`deny`/`acl` lines.
    pub acl: Option<Vec<NativeAclRule>>,
    /// The `eventfilter` lines.
    pub event_filters: Option<Vec<NativeFilterLine>>,
    /// `displayconnects`.
    pub display_connects: Option<bool>,
    /// `allowmultiplelogin`.
    pub allow_multiple_login: Option<bool>,
    /// `writetimeout` (ms).
    pub write_timeout: Option<u32>,
    /// The `setvar` lines.
    pub setvars: Option<Vec<NativeSetVar>>,
    /// The keys to remove.
    pub unset: Option<Vec<String>>,
}

/// One finding of `ami check` about the edited configuration.
#[napi(object)]
#[derive(Clone, Debug)]
pub struct EditFinding {
    /// Stable code, e.g. `"originate-escalation"`.
    pub code: String,
    /// `"error"`, `"warning"` or `"info"`.
    #[napi(ts_type = "\"error\" | \"warning\" | \"info\"")]
    pub severity: String,
    /// What was found.
    pub message: String,
    /// What to do about it.
    pub hint: String,
    /// The user concerned, if any.
    pub user: Option<String>,
    /// The file (`"manager.conf"` for the edited file itself).
    pub file: String,
    /// The line (0: the file as a whole).
    pub line: u32,
}

impl From<&Finding> for EditFinding {
    fn from(f: &Finding) -> EditFinding {
        EditFinding {
            code: f.code.to_owned(),
            severity: match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "info",
            }
            .to_owned(),
            message: f.message.clone(),
            hint: f.hint.clone(),
            user: f.user.clone(),
            file: f.file.to_string(),
            line: f.line,
        }
    }
}

/// What an accepted edit reports (the TypeScript `EditReport` is built from it).
#[napi(object)]
#[derive(Clone, Debug)]
pub struct NativeEditReport {
    /// `ami check`'s warnings and information about the edited user, and new ones elsewhere.
    pub findings: Vec<EditFinding>,
    /// What a `manager reload` does not do.
    pub notes: Vec<String>,
    /// The files the edit changed.
    pub files: Vec<String>,
    /// The secret generated for this edit, if one was asked for.
    pub generated_secret: Option<String>,
}

fn report(r: EditReport, generated_secret: Option<String>) -> NativeEditReport {
    NativeEditReport {
        findings: r.findings.iter().map(EditFinding::from).collect(),
        notes: r.notes.iter().map(ToString::to_string).collect(),
        files: r.files,
        generated_secret,
    }
}

/// One file of the configuration.
#[napi(object)]
#[derive(Clone, Debug)]
pub struct EditedFile {
    /// `manager.conf` for the edited file, else the path the include resolved to.
    pub name: String,
    /// Its text now.
    pub text: String,
    /// Whether it differs from the text it had when the editor was created.
    pub changed: bool,
}

/// A stable identifier of the refusal (the `reason` of `ConfigEditError`).
fn reason(e: &EditError) -> &'static str {
    match e {
        EditError::Load(_) => "does-not-load",
        EditError::UnknownUser { .. } => "unknown-user",
        EditError::NameTaken { .. } => "name-taken",
        EditError::InvalidName { .. } => "invalid-name",
        EditError::InvalidValue { .. } => "invalid-value",
        EditError::InvalidAclRule { .. } => "invalid-acl-rule",
        EditError::InvalidEventFilter { .. } => "invalid-event-filter",
        EditError::SeveralSections { .. } => "several-sections",
        EditError::Inherited { .. } => "inherited",
        EditError::AppendedValue { .. } => "appended-value",
        EditError::LineNotEditable { .. } => "line-not-editable",
        EditError::FileNotEditable { .. } => "file-not-editable",
        EditError::SectionHasDirective { .. } => "section-has-directive",
        EditError::InheritedBy { .. } => "inherited-by",
        EditError::WouldNotLoad(_) => "would-not-load",
        EditError::NotEffective { .. } => "not-effective",
        EditError::SideEffect { .. } => "side-effect",
        EditError::CheckFailed { .. } => "check-failed",
        _ => "refused",
    }
}

/// The file and line a refusal names, when it names one.
fn location(e: &EditError) -> (Option<String>, Option<u32>) {
    match e {
        EditError::Load(c) | EditError::WouldNotLoad(c) => (Some(c.file.to_string()), Some(c.line)),
        EditError::NameTaken { at, .. }
        | EditError::Inherited { at, .. }
        | EditError::AppendedValue { at, .. }
        | EditError::LineNotEditable { at, .. }
        | EditError::SectionHasDirective { at, .. }
        | EditError::InheritedBy { at, .. } => (Some(at.file.to_string()), Some(at.line)),
        EditError::SeveralSections { sections, .. } => {
            (sections.first().map(|s| s.file.to_string()), sections.first().map(|s| s.line))
        }
        EditError::NotEffective { source: Some(s), .. } => (Some(s.file.to_string()), Some(s.line)),
        EditError::FileNotEditable { file, .. } => (Some(file.to_string()), None),
        EditError::CheckFailed { errors } => match errors.first() {
            Some(f) if f.line > 0 => (Some(f.file.to_string()), Some(f.line)),
            _ => (None, None),
        },
        _ => (None, None),
    }
}

/// A `ConfigEditError` for a refusal of the core.
fn refused(env: &Env, e: &EditError) -> napi::Error {
    let (file, line) = location(e);
    let details = Details { reason: Some(reason(e)), file, line, ..Details::default() };
    errors::error(env, Kind::ConfigEdit, e.to_string(), &details)
}

/// A `ConfigEditError` raised by this binding (a value it cannot turn into a setting).
fn invalid(env: &Env, reason: &'static str, message: String) -> napi::Error {
    errors::error(
        env,
        Kind::ConfigEdit,
        message,
        &Details { reason: Some(reason), ..Details::default() },
    )
}

/// Exact class names (`"call,cdr"`, `"none"`) or bits, as the editor writes them.
fn classes(env: &Env, key: &str, value: &Either<String, u32>) -> Result<perm::Privilege> {
    let text = match value {
        Either::B(bits) => return Ok(perm::Privilege::from_bits(*bits)),
        Either::A(text) => text,
    };
    if text.split(',').any(str::is_empty) {
        return Err(invalid(
            env,
            "invalid-classes",
            format!(
                "{key} = {text:?}: remove the empty item (Asterisk reads an empty item as every \
                 class)"
            ),
        ));
    }
    perm::parse_perm(text, Strictness::Strict).map(|p| p.privilege).map_err(|e| {
        invalid(
            env,
            "invalid-classes",
            format!("{key} = {text:?}: {e} (write exact class names, e.g. \"call,cdr\")"),
        )
    })
}

/// The core's settings, and the secret generated for them if one was asked for.
fn user_settings(env: &Env, s: NativeUserSettings) -> Result<(UserSettings, Option<String>)> {
    let mut out = UserSettings::default();
    let mut generated = None;
    if s.generate_secret == Some(true) {
        let secret = generate(env, s.secret_length)?;
        out.secret = Some(Setting::Set(secret.clone()));
        generated = Some(secret);
    } else if let Some(secret) = s.secret {
        out.secret = Some(Setting::Set(secret));
    }
    if let Some(v) = &s.read {
        out.read = Some(classes(env, "read", v)?);
    }
    if let Some(v) = &s.write {
        out.write = Some(classes(env, "write", v)?);
    }
    if let Some(nets) = s.permit {
        out.acl = Some(if nets.is_empty() { Vec::new() } else { AclRule::only_from(&nets) });
    } else if let Some(rules) = s.acl {
        let mut acl = Vec::with_capacity(rules.len());
        for r in rules {
            let kind = match r.kind.as_str() {
                "permit" => AclKind::Permit,
                "deny" => AclKind::Deny,
                "acl" => AclKind::Named,
                other => {
                    return Err(errors::invalid(format!(
                        "acl rule {other:?}: the key is \"permit\", \"deny\" or \"acl\""
                    )));
                }
            };
            acl.push(AclRule { kind, value: r.value });
        }
        out.acl = Some(acl);
    }
    if let Some(filters) = s.event_filters {
        out.event_filters =
            Some(filters.into_iter().map(|f| FilterLine::new(f.key, f.value)).collect());
    }
    out.display_connects = s.display_connects.map(Setting::Set);
    out.allow_multiple_login = s.allow_multiple_login.map(Setting::Set);
    out.write_timeout_ms = s.write_timeout.map(Setting::Set);
    if let Some(vars) = s.setvars {
        out.setvars =
            Some(vars.into_iter().map(|v| SetVar { name: v.name, value: v.value }).collect());
    }
    for key in s.unset.unwrap_or_default() {
        match key.as_str() {
            "secret" => out.secret = Some(Setting::Unset),
            "displayconnects" => out.display_connects = Some(Setting::Unset),
            "allowmultiplelogin" => out.allow_multiple_login = Some(Setting::Unset),
            "writetimeout" => out.write_timeout_ms = Some(Setting::Unset),
            other => {
                return Err(errors::invalid(format!(
                    "{other:?} cannot be removed (secret, displayconnects, allowmultiplelogin, \
                     writetimeout can)"
                )));
            }
        }
    }
    Ok((out, generated))
}

/// A secret of `length` characters (default 32) from the OS's CSPRNG.
fn generate(env: &Env, length: Option<u32>) -> Result<String> {
    let length =
        length.map_or(edit::DEFAULT_SECRET_LENGTH, |n| usize::try_from(n).unwrap_or(usize::MAX));
    edit::generate_secret(length, getrandom::fill)
        .map_err(|e| invalid(env, "invalid-secret-length", e.to_string()))
}

/// A secret of `length` characters (16 to 256, default 32) of ASCII letters and digits, each
/// drawn uniformly from the operating system's CSPRNG. Throws `ConfigEditError` for another
/// length.
#[napi(js_name = "generateSecret")]
pub fn generate_secret(env: Env, length: Option<u32>) -> Result<String> {
    generate(&env, length)
}

/// The core's editor (see `ConfigEditor` in the TypeScript package). Each method applies one
/// edit whole or throws `ConfigEditError` and changes nothing.
#[napi]
#[derive(Debug)]
pub struct NativeConfigEditor {
    inner: edit::ConfigEditor,
    /// The file manager.conf was loaded from, if any.
    path: Option<String>,
}

impl NativeConfigEditor {
    /// An editor of `text` (its includes through `includes`).
    pub(crate) fn new(
        env: &Env,
        text: &str,
        path: Option<String>,
        includes: &mut dyn IncludeResolver,
        strict: bool,
    ) -> Result<NativeConfigEditor> {
        let options = edit::EditOptions { strict, ..edit::EditOptions::default() };
        edit::ConfigEditor::new(text, includes, options)
            .map(|inner| NativeConfigEditor { inner, path })
            .map_err(|e| refused(env, &e))
    }

    fn apply(&mut self, env: &Env, e: &Edit, secret: Option<String>) -> Result<NativeEditReport> {
        self.inner.apply(e).map(|r| report(r, secret)).map_err(|e| refused(env, &e))
    }
}

#[napi]
impl NativeConfigEditor {
    /// Adds a user.
    #[napi]
    pub fn add_user(
        &mut self,
        env: Env,
        name: String,
        settings: NativeUserSettings,
    ) -> Result<NativeEditReport> {
        let (settings, secret) = user_settings(&env, settings)?;
        self.apply(&env, &Edit::AddUser { name, settings }, secret)
    }

    /// Changes the keys given of a user.
    #[napi]
    pub fn update_user(
        &mut self,
        env: Env,
        name: String,
        settings: NativeUserSettings,
    ) -> Result<NativeEditReport> {
        let (settings, secret) = user_settings(&env, settings)?;
        self.apply(&env, &Edit::UpdateUser { name, settings }, secret)
    }

    /// Renames a user.
    #[napi]
    pub fn rename_user(&mut self, env: Env, from: String, to: String) -> Result<NativeEditReport> {
        self.apply(&env, &Edit::RenameUser { from, to }, None)
    }

    /// Removes a user.
    #[napi]
    pub fn remove_user(&mut self, env: Env, name: String) -> Result<NativeEditReport> {
        self.apply(&env, &Edit::RemoveUser { name }, None)
    }

    /// `enabled = yes|no` in `[general]`.
    #[napi]
    pub fn set_enabled(&mut self, env: Env, enabled: bool) -> Result<NativeEditReport> {
        self.apply(&env, &Edit::SetEnabled(enabled), None)
    }

    /// The text of manager.conf now.
    #[napi(getter)]
    pub fn text(&self) -> String {
        self.inner.text()
    }

    /// Every file: manager.conf first, then the included files in the order they were read.
    #[napi]
    pub fn files(&self) -> Vec<EditedFile> {
        let changed: Vec<String> = self.inner.changed_files().into_iter().map(|f| f.name).collect();
        self.inner
            .file_names()
            .map(|name| EditedFile {
                name: name.to_owned(),
                text: self.inner.file_text(name).unwrap_or_default(),
                changed: changed.iter().any(|c| c == name),
            })
            .collect()
    }

    /// The configuration as Asterisk loads the current texts.
    #[napi(getter)]
    pub fn config(&self) -> ManagerConfig {
        ManagerConfig::loaded(self.inner.config().clone())
    }

    /// The path manager.conf was loaded from (`null` for a configuration loaded from text).
    #[napi(getter)]
    pub fn path(&self) -> Option<String> {
        self.path.clone()
    }
}
