//! The manager.conf editor: `ManagerConfig.edit()` returns a `ConfigEditor` whose methods take
//! keyword arguments (an omitted keyword keeps the key, `None` removes it) and whose result is
//! text (`.text`, `.files`), written back atomically by `.write()`. `generate_secret` draws a
//! secret from the OS's CSPRNG.

use std::path::PathBuf;

use ami_proto::config::edit::{
    self, AclKind, AclRule, Edit, EditError, EditReport as CoreReport, FilterLine, SetVar, Setting,
    UserSettings,
};
use ami_proto::config::findings::{Finding as CoreFinding, Severity};
use ami_proto::config::{IncludeResolver, MANAGER_CONF};
use ami_proto::perm::{self, Strictness};
use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyMapping, PyString};

use crate::access::{ManagerConfig, Privilege};
use crate::errors::ConfigError;

create_exception!(
    libami,
    ConfigEditError,
    ConfigError,
    "The editor refused an edit (nothing changed); `line` and `file` say where, when known."
);

/// One finding of `ami check` about an edited configuration.
#[pyclass(frozen, module = "libami", get_all)]
#[derive(Debug, Clone)]
pub struct Finding {
    /// Stable code, e.g. `"open-network"`.
    code: String,
    /// `"error"`, `"warning"` or `"info"`.
    severity: String,
    /// What was found.
    message: String,
    /// What to do about it.
    hint: String,
    /// The user concerned, if any.
    user: Option<String>,
    /// The file (`"manager.conf"` for the edited file itself).
    file: String,
    /// The line (0: the file as a whole).
    line: u32,
}

#[pymethods]
impl Finding {
    fn __repr__(&self) -> String {
        format!("<libami.Finding {} {}: {}>", self.severity, self.code, self.message)
    }
}

impl From<&CoreFinding> for Finding {
    fn from(f: &CoreFinding) -> Finding {
        Finding {
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

/// What an accepted edit reports.
#[pyclass(frozen, module = "libami", get_all)]
#[derive(Debug, Clone)]
pub struct EditReport {
    /// `ami check`'s warnings and information about the edited user, and new ones elsewhere.
    findings: Vec<Finding>,
    /// What a `manager reload` does not do (sessions keep their rights, ...).
    notes: Vec<String>,
    /// The files the edit changed (`"manager.conf"` is the edited file itself).
    files: Vec<String>,
}

#[pymethods]
impl EditReport {
    fn __repr__(&self) -> String {
        format!(
            "<libami.EditReport {} findings, {} notes, files {:?}>",
            self.findings.len(),
            self.notes.len(),
            self.files
        )
    }
}

impl From<CoreReport> for EditReport {
    fn from(r: CoreReport) -> EditReport {
        EditReport {
            findings: r.findings.iter().map(Finding::from).collect(),
            notes: r.notes.iter().map(ToString::to_string).collect(),
            files: r.files,
        }
    }
}

/// An editor of one manager.conf (and the files it includes). Each method applies one edit
/// whole or raises `ConfigEditError` and changes nothing.
#[pyclass(module = "libami")]
#[derive(Debug)]
pub struct ConfigEditor {
    inner: edit::ConfigEditor,
    /// The file the configuration was loaded from, if any.
    path: Option<PathBuf>,
}

/// The keywords of `add_user` and `update_user`.
const KEYWORDS: &[&str] = &[
    "secret",
    "read",
    "write",
    "permit",
    "acl",
    "eventfilters",
    "displayconnects",
    "allowmultiplelogin",
    "writetimeout",
    "setvars",
];

/// Exact class names (`"call,cdr"`, `["call", "cdr"]`), a `Privilege` or an int.
fn classes(key: &str, obj: &Bound<'_, PyAny>) -> PyResult<perm::Privilege> {
    if let Ok(p) = obj.cast::<Privilege>() {
        return Ok(perm::Privilege::from_bits(p.get().bits));
    }
    if let Ok(bits) = obj.extract::<u32>() {
        return Ok(perm::Privilege::from_bits(bits));
    }
    let text = if let Ok(s) = obj.extract::<String>() {
        s
    } else if let Ok(items) = obj.extract::<Vec<String>>() {
        if items.is_empty() { "none".to_owned() } else { items.join(",") }
    } else {
        return Err(PyTypeError::new_err(format!(
            "{key}: expected class names (\"call,cdr\" or [\"call\", \"cdr\"]), a Privilege or an int"
        )));
    };
    if text.split(',').any(str::is_empty) {
        return Err(PyValueError::new_err(format!("{key}={text:?}: remove the empty item")));
    }
    perm::parse_perm(&text, Strictness::Strict).map(|p| p.privilege).map_err(|e| {
        PyValueError::new_err(format!("{key}={text:?}: {e} (write exact class names)"))
    })
}

/// `None` → remove the key, else `convert(value)`.
fn setting<T>(
    obj: &Bound<'_, PyAny>,
    convert: impl FnOnce(&Bound<'_, PyAny>) -> PyResult<T>,
) -> PyResult<Setting<T>> {
    if obj.is_none() { Ok(Setting::Unset) } else { convert(obj).map(Setting::Set) }
}

/// The editor's settings from keyword arguments.
fn user_settings(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<UserSettings> {
    let mut s = UserSettings::default();
    let Some(kwargs) = kwargs else { return Ok(s) };
    for (key, value) in kwargs.iter() {
        let key: String = key.extract()?;
        match key.as_str() {
            "secret" => s.secret = Some(setting(&value, |v| v.extract::<String>())?),
            "read" => s.read = Some(classes("read", &value)?),
            "write" => s.write = Some(classes("write", &value)?),
            "permit" => {
                let nets: Vec<String> = value.extract()?;
                if s.acl.is_some() {
                    return Err(PyTypeError::new_err("give either permit= or acl=, not both"));
                }
                s.acl = Some(if nets.is_empty() { Vec::new() } else { AclRule::only_from(&nets) });
            }
            "acl" => {
                if s.acl.is_some() {
                    return Err(PyTypeError::new_err("give either permit= or acl=, not both"));
                }
                let rules: Vec<(String, String)> = value.extract()?;
                let mut out = Vec::with_capacity(rules.len());
                for (k, v) in rules {
                    let kind = match k.as_str() {
                        "permit" => AclKind::Permit,
                        "deny" => AclKind::Deny,
                        "acl" => AclKind::Named,
                        other => {
                            return Err(PyValueError::new_err(format!(
                                "acl rule {other:?}: the key is \"permit\", \"deny\" or \"acl\""
                            )));
                        }
                    };
                    out.push(AclRule { kind, value: v });
                }
                s.acl = Some(out);
            }
            "eventfilters" => {
                let mut out = Vec::new();
                for item in value.try_iter()? {
                    let item = item?;
                    if item.is_instance_of::<PyString>() {
                        out.push(FilterLine::legacy(item.extract::<String>()?));
                    } else {
                        let (k, v): (String, String) = item.extract()?;
                        out.push(FilterLine::new(k, v));
                    }
                }
                s.event_filters = Some(out);
            }
            "displayconnects" => s.display_connects = Some(setting(&value, |v| v.extract())?),
            "allowmultiplelogin" => {
                s.allow_multiple_login = Some(setting(&value, |v| v.extract())?);
            }
            "writetimeout" => s.write_timeout_ms = Some(setting(&value, |v| v.extract())?),
            "setvars" => {
                let pairs: Vec<(String, String)> = match value.cast::<PyMapping>() {
                    Ok(m) => m.items()?.extract()?,
                    Err(_) => value.extract()?,
                };
                s.setvars =
                    Some(pairs.into_iter().map(|(name, value)| SetVar { name, value }).collect());
            }
            other => {
                return Err(PyTypeError::new_err(format!(
                    "unexpected keyword argument {other:?} (known: {})",
                    KEYWORDS.join(", ")
                )));
            }
        }
    }
    Ok(s)
}

/// `ConfigEditError` with `line` and `file` set.
fn refused(py: Python<'_>, e: &EditError) -> PyErr {
    let (file, line) = match e {
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
        _ => (None, None),
    };
    let err = ConfigEditError::new_err(e.to_string());
    let value = err.value(py);
    let _ = value.setattr("line", line);
    let _ = value.setattr("file", file);
    err
}

impl ConfigEditor {
    fn apply(&mut self, py: Python<'_>, edit: Edit) -> PyResult<EditReport> {
        self.inner.apply(&edit).map(EditReport::from).map_err(|e| refused(py, &e))
    }
}

#[pymethods]
impl ConfigEditor {
    /// Adds a user. Keywords: secret, read, write (class names, a Privilege or an int; `none`
    /// when omitted), permit (only these networks), acl (exact `(key, value)` rules),
    /// eventfilters, displayconnects, allowmultiplelogin, writetimeout, setvars.
    #[pyo3(signature = (name, /, **settings), text_signature = "($self, name, /, *, secret=..., read=..., write=..., permit=..., acl=..., eventfilters=..., displayconnects=..., allowmultiplelogin=..., writetimeout=..., setvars=...)")]
    fn add_user(
        &mut self,
        py: Python<'_>,
        name: String,
        settings: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<EditReport> {
        let settings = user_settings(settings)?;
        self.apply(py, Edit::AddUser { name, settings })
    }

    /// Changes the keys given of the user `name` (any case); `None` removes a key.
    #[pyo3(signature = (name, /, **settings), text_signature = "($self, name, /, *, secret=..., read=..., write=..., permit=..., acl=..., eventfilters=..., displayconnects=..., allowmultiplelogin=..., writetimeout=..., setvars=...)")]
    fn update_user(
        &mut self,
        py: Python<'_>,
        name: String,
        settings: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<EditReport> {
        let settings = user_settings(settings)?;
        self.apply(py, Edit::UpdateUser { name, settings })
    }

    /// Renames the user `old` (any case) to `new`.
    #[pyo3(signature = (old, new, /))]
    fn rename_user(&mut self, py: Python<'_>, old: String, new: String) -> PyResult<EditReport> {
        self.apply(py, Edit::RenameUser { from: old, to: new })
    }

    /// Removes the user `name` (any case) with its section.
    #[pyo3(signature = (name, /))]
    fn remove_user(&mut self, py: Python<'_>, name: String) -> PyResult<EditReport> {
        self.apply(py, Edit::RemoveUser { name })
    }

    /// `enabled = yes|no` in `[general]`: AMI on or off.
    #[pyo3(signature = (enabled, /))]
    fn set_enabled(&mut self, py: Python<'_>, enabled: bool) -> PyResult<EditReport> {
        self.apply(py, Edit::SetEnabled(enabled))
    }

    /// The text of manager.conf now.
    #[getter]
    fn text(&self) -> String {
        self.inner.text()
    }

    /// Every file's text now, by name: `"manager.conf"` first, then the included files.
    #[getter]
    fn files<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for name in self.inner.file_names() {
            d.set_item(name, self.inner.file_text(name).unwrap_or_default())?;
        }
        Ok(d)
    }

    /// The files whose text differs from the original, by name.
    #[getter]
    fn changed_files<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for f in self.inner.changed_files() {
            d.set_item(f.name, f.text)?;
        }
        Ok(d)
    }

    /// The configuration as Asterisk loads the current texts.
    #[getter]
    fn config(&self) -> ManagerConfig {
        ManagerConfig::loaded(self.inner.config().clone())
    }

    /// Writes every changed file atomically (a temporary file in the same directory, fsync,
    /// rename; the old mode kept, 0600 for a new file). manager.conf goes to `path`, else to
    /// the file it was loaded from. Returns the paths written.
    #[pyo3(signature = (path = None))]
    fn write(&self, py: Python<'_>, path: Option<PathBuf>) -> PyResult<Vec<String>> {
        let write_atomic = py.import("libami._files")?.getattr("write_atomic")?;
        let mut written = Vec::new();
        let mut changed = self.inner.changed_files();
        // Included files first: manager.conf, which includes them, comes last.
        changed.sort_by_key(|f| f.name == MANAGER_CONF);
        for f in changed {
            let target = if f.name == MANAGER_CONF {
                match path.clone().or_else(|| self.path.clone()) {
                    Some(p) => p,
                    None => {
                        return Err(PyValueError::new_err(
                            "the configuration was loaded from text: pass write(path=...)",
                        ));
                    }
                }
            } else {
                PathBuf::from(&f.name)
            };
            write_atomic.call1((target.clone(), f.text))?;
            written.push(target.display().to_string());
        }
        Ok(written)
    }

    fn __repr__(&self) -> String {
        format!(
            "<libami.ConfigEditor {} users, {} changed files>",
            self.inner.config().users.len(),
            self.inner.changed_files().len()
        )
    }
}

/// The editor for a loaded configuration (`ManagerConfig.edit`).
pub(crate) fn editor(
    py: Python<'_>,
    text: &str,
    path: Option<PathBuf>,
    includes: &mut dyn IncludeResolver,
    strict: bool,
) -> PyResult<ConfigEditor> {
    let options = edit::EditOptions { strict, ..edit::EditOptions::default() };
    edit::ConfigEditor::new(text, includes, options)
        .map(|inner| ConfigEditor { inner, path })
        .map_err(|e| refused(py, &e))
}

/// A secret of `length` characters (16 to 256) from ASCII letters and digits, drawn uniformly
/// from the operating system's CSPRNG.
#[pyfunction]
#[pyo3(signature = (length = 32))]
fn generate_secret(length: usize) -> PyResult<String> {
    edit::generate_secret(length, getrandom::fill).map_err(|e| PyValueError::new_err(e.to_string()))
}

// The default of `generate_secret` is written as a literal, for the signature Python sees.
const _: () = assert!(edit::DEFAULT_SECRET_LENGTH == 32);

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("ConfigEditError", m.py().get_type::<ConfigEditError>())?;
    m.add_class::<ConfigEditor>()?;
    m.add_class::<EditReport>()?;
    m.add_class::<Finding>()?;
    m.add_function(wrap_pyfunction!(generate_secret, m)?)?;
    Ok(())
}
