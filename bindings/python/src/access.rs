//! Who may do what: `Privilege` (permission classes), `Acl`, `ManagerConfig` (manager.conf),
//! `User`, and event filters (`EventFilter`, `FilterSet`).

use std::net::IpAddr;

use ami_proto::acl;
use ami_proto::authority;
use ami_proto::config::{self, ConfigOptions, IncludeError, IncludeResolver};
use ami_proto::filter;
use ami_proto::perm::{self, Strictness};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyType};

use crate::convert::{bytes_of, text};
use crate::errors;
use crate::message::Message;

fn strictness(strict: bool) -> Strictness {
    if strict { Strictness::Strict } else { Strictness::AsteriskCompatible }
}

fn ip_arg(ip: &str) -> PyResult<IpAddr> {
    ip.parse().map_err(|e| PyValueError::new_err(format!("{ip:?} is not an IP address: {e}")))
}

/// A set of AMI permission classes (`system`, `call`, `log`, ...): a `read=`/`write=` value,
/// an action's authority or an event's category. Combine with `|` and `&`; test with `in`.
#[pyclass(frozen, module = "libami")]
#[derive(Debug, Clone)]
pub struct Privilege {
    pub(crate) bits: u32,
}

impl Privilege {
    fn core(&self) -> perm::Privilege {
        perm::Privilege::from_bits(self.bits)
    }
}

/// A `Privilege`, or a class list parsed like manager.conf (`"call,cdr"`).
pub fn privilege_arg(obj: &Bound<'_, PyAny>) -> PyResult<perm::Privilege> {
    if let Ok(p) = obj.cast::<Privilege>() {
        return Ok(p.get().core());
    }
    if let Ok(s) = obj.extract::<String>() {
        return perm::parse_perm(&s, Strictness::AsteriskCompatible)
            .map(|p| p.privilege)
            .map_err(|e| errors::config(&format!("permission list {s:?}"), e));
    }
    if let Ok(bits) = obj.extract::<u32>() {
        return Ok(perm::Privilege::from_bits(bits));
    }
    Err(PyTypeError::new_err("expected a Privilege, a class list such as \"call,cdr\", or an int"))
}

#[pymethods]
impl Privilege {
    #[new]
    #[pyo3(signature = (bits = 0))]
    fn py_new(bits: u32) -> Privilege {
        Privilege { bits }
    }

    /// Parses a manager.conf `read=`/`write=` value exactly as Asterisk's `get_perm` does
    /// (`"call,cdr"`, `"all"`, `"none"`, with its quirks). `strict=True` raises `ConfigError`
    /// on the quirks that grant more than they seem (such as an empty element).
    #[classmethod]
    #[pyo3(signature = (text, strict = false))]
    fn parse(_cls: &Bound<'_, PyType>, text: &str, strict: bool) -> PyResult<Privilege> {
        let parsed = perm::parse_perm(text, strictness(strict))
            .map_err(|e| errors::config(&format!("permission list {text:?}"), e))?;
        Ok(Privilege { bits: parsed.privilege.bits() })
    }

    /// The quirks Asterisk applies to `text` (each as a sentence), empty when there are none.
    #[staticmethod]
    fn diagnose(text: &str) -> PyResult<Vec<String>> {
        let parsed = perm::parse_perm(text, Strictness::AsteriskCompatible)
            .map_err(|e| errors::config(&format!("permission list {text:?}"), e))?;
        Ok(parsed.diagnostics.iter().map(ToString::to_string).collect())
    }

    /// The class with this label (`"call"`, `"all"`, ...), or `None`.
    #[staticmethod]
    fn from_label(label: &str) -> Option<Privilege> {
        perm::Privilege::from_label(label).map(|p| Privilege { bits: p.bits() })
    }

    /// The `Privilege:` header text (`call,all`), as Asterisk renders it.
    fn render(&self) -> String {
        self.core().render()
    }

    /// A manager.conf list that parses back to exactly this set, or `None` if some bits have
    /// no label.
    fn to_config_list(&self) -> Option<String> {
        self.core().to_config_list()
    }

    /// The labels of the classes in the set.
    fn labels(&self) -> Vec<&'static str> {
        perm::CLASSES
            .iter()
            .filter(|(l, p)| {
                *l != "all" && *l != "none" && !p.is_empty() && self.core().contains(*p)
            })
            .map(|(l, _)| *l)
            .collect()
    }

    /// Whether a user with these `write=` classes may run `action` (any shared class
    /// suffices; actions without authority are open to all). `False` for an action that is
    /// not in the catalog.
    fn can_run(&self, action: &Bound<'_, PyAny>) -> PyResult<bool> {
        let name = bytes_of(action, "action")?;
        Ok(authority::action_authority(&name).is_some_and(|a| perm::may_run(self.core(), a)))
    }

    /// Whether a session sending these event classes receives event `event` (every bit of its
    /// category is needed). `False` for an event whose category is unknown.
    fn can_read(&self, event: &Bound<'_, PyAny>) -> PyResult<bool> {
        let name = bytes_of(event, "event")?;
        Ok(authority::event_category(&name).is_some_and(|c| perm::may_receive(self.core(), c)))
    }

    /// The bits.
    #[getter]
    fn bits(&self) -> u32 {
        self.bits
    }

    fn __contains__(&self, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let other = privilege_arg(other)?;
        Ok(self.core().contains(other))
    }

    fn __or__(&self, other: &Bound<'_, PyAny>) -> PyResult<Privilege> {
        Ok(Privilege { bits: self.bits | privilege_arg(other)?.bits() })
    }

    fn __and__(&self, other: &Bound<'_, PyAny>) -> PyResult<Privilege> {
        Ok(Privilege { bits: self.bits & privilege_arg(other)?.bits() })
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Privilege>().is_ok_and(|o| o.get().bits == self.bits)
    }

    fn __hash__(&self) -> u64 {
        u64::from(self.bits)
    }

    fn __bool__(&self) -> bool {
        self.bits != 0
    }

    fn __int__(&self) -> u32 {
        self.bits
    }

    fn __str__(&self) -> String {
        self.core().render()
    }

    fn __repr__(&self) -> String {
        format!(
            "Privilege.parse({:?})",
            self.core().to_config_list().unwrap_or_else(|| format!("{:#x}", self.bits))
        )
    }
}

/// The classes a user needs in `write=` to run `action`, or `None` for an action not in the
/// catalog.
#[pyfunction]
pub fn action_authority(action: &Bound<'_, PyAny>) -> PyResult<Option<Privilege>> {
    let name = bytes_of(action, "action")?;
    Ok(authority::action_authority(&name).map(|p| Privilege { bits: p.bits() }))
}

/// The category of event `event`, or `None` when unknown.
#[pyfunction]
pub fn event_category(event: &Bound<'_, PyAny>) -> PyResult<Option<Privilege>> {
    let name = bytes_of(event, "event")?;
    Ok(authority::event_category(&name).map(|p| Privilege { bits: p.bits() }))
}

/// One `permit`/`deny` list, evaluated as Asterisk does: every rule is checked in order and
/// the last match decides; no match (or no rule) allows.
#[pyclass(module = "libami")]
#[derive(Debug)]
pub struct Acl {
    inner: acl::Acl,
}

#[pymethods]
impl Acl {
    /// An ACL from `(sense, rule)` pairs such as `("deny", "0.0.0.0/0")`,
    /// `("permit", "10.0.0.0/255.0.0.0")`.
    #[new]
    #[pyo3(signature = (rules = None))]
    fn py_new(rules: Option<Vec<(String, String)>>) -> PyResult<Acl> {
        let mut acl = Acl { inner: acl::Acl::new() };
        for (sense, rule) in rules.unwrap_or_default() {
            acl.add_rule(&sense, &rule)?;
        }
        Ok(acl)
    }

    /// Appends a rule (`sense` is `permit` or `deny`, by its first letter as Asterisk does).
    /// Raises `ConfigError` for a rule Asterisk would refuse.
    fn add_rule(&mut self, sense: &str, rule: &str) -> PyResult<()> {
        self.inner
            .add_rule(sense, rule)
            .map_err(|e| errors::config(&format!("{sense} = {rule}"), e))
    }

    /// Whether the address `ip` is allowed.
    fn permits(&self, ip: &str) -> PyResult<bool> {
        Ok(self.inner.permits(ip_arg(ip)?))
    }

    /// The findings about the list as a whole (e.g. a `permit` without a `deny`, which
    /// restricts nothing).
    fn diagnostics(&self) -> Vec<String> {
        self.inner.diagnostics().iter().map(ToString::to_string).collect()
    }

    fn __len__(&self) -> usize {
        self.inner.rules().len()
    }

    fn __repr__(&self) -> String {
        format!("<libami.Acl {} rules>", self.inner.rules().len())
    }
}

/// One event filter (a manager.conf `eventfilter` line, or a `Filter` action).
#[pyclass(frozen, module = "libami")]
#[derive(Debug, Clone)]
pub struct EventFilter {
    inner: filter::EventFilter,
}

fn event_name_and_text(event: &Bound<'_, PyAny>) -> PyResult<(Vec<u8>, Vec<u8>)> {
    let message = if let Ok(m) = event.cast::<Message>() {
        Some(m.clone())
    } else if event.hasattr("message")? {
        event.getattr("message")?.cast_into::<Message>().ok()
    } else {
        None
    };
    match message {
        Some(m) => {
            let m = m.get();
            let name = m.inner.as_message().event().unwrap_or_default().to_vec();
            Ok((name, m.inner.raw().to_vec()))
        }
        None => Err(PyTypeError::new_err("expected a Message or an Event")),
    }
}

#[pymethods]
impl EventFilter {
    /// Parses a manager.conf filter line: `key` is `eventfilter` or
    /// `eventfilter(action(exclude),name(Newchannel),...)`, `value` the expression (a regex,
    /// `!` in front excludes). Raises `ConfigError` when Asterisk would refuse it.
    #[new]
    #[pyo3(signature = (value, key = "eventfilter"))]
    fn py_new(value: &str, key: &str) -> PyResult<EventFilter> {
        filter::EventFilter::parse(key, value)
            .map(|inner| EventFilter { inner })
            .map_err(|e| errors::config(&format!("{key} = {value}"), e))
    }

    /// Whether the filter matches `event` (a `Message` or an `Event`), regardless of
    /// include/exclude.
    fn matches(&self, event: &Bound<'_, PyAny>) -> PyResult<bool> {
        let (name, text) = event_name_and_text(event)?;
        Ok(self.inner.matches(&name, &text))
    }

    /// True for an exclude filter.
    #[getter]
    fn is_exclude(&self) -> bool {
        self.inner.is_exclude()
    }

    fn __repr__(&self) -> String {
        format!("<libami.EventFilter {:?}>", String::from_utf8_lossy(self.inner.expression()))
    }
}

/// The filters of one session or user, applied as Asterisk does (§5.4): with no include
/// filter everything passes unless excluded; with include filters an event must match one and
/// no exclude filter.
#[pyclass(module = "libami")]
#[derive(Debug)]
pub struct FilterSet {
    inner: filter::FilterSet,
}

#[pymethods]
impl FilterSet {
    /// A set of the given filters (`EventFilter` objects or `(value, key)` pairs).
    #[new]
    #[pyo3(signature = (filters = None))]
    fn py_new(filters: Option<Vec<Bound<'_, PyAny>>>) -> PyResult<FilterSet> {
        let mut set = FilterSet { inner: filter::FilterSet::default() };
        for f in filters.unwrap_or_default() {
            set.add(&f)?;
        }
        Ok(set)
    }

    /// Adds a filter (`EventFilter`, an expression string, or a `(value, key)` pair).
    fn add(&mut self, f: &Bound<'_, PyAny>) -> PyResult<()> {
        let filter = if let Ok(f) = f.cast::<EventFilter>() {
            f.get().inner.clone()
        } else if let Ok(v) = f.extract::<String>() {
            EventFilter::py_new(&v, "eventfilter")?.inner
        } else {
            let (v, k): (String, String) = f.extract()?;
            EventFilter::py_new(&v, &k)?.inner
        };
        self.inner.add(filter);
        Ok(())
    }

    /// Whether `event` (a `Message` or an `Event`) is sent to the session.
    fn should_send(&self, event: &Bound<'_, PyAny>) -> PyResult<bool> {
        let (name, text) = event_name_and_text(event)?;
        Ok(self.inner.should_send(&name, &text))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    fn __repr__(&self) -> String {
        format!("<libami.FilterSet {} filters>", self.inner.len())
    }
}

/// One `[user]` section of manager.conf.
#[pyclass(frozen, module = "libami")]
#[derive(Debug)]
pub struct User {
    inner: config::User,
}

#[pymethods]
impl User {
    /// The section name (logins compare it case-insensitively).
    #[getter]
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// The `secret=` value, or `None` (then nobody can log in as this user).
    #[getter]
    fn secret(&self) -> Option<&str> {
        self.inner.secret.as_deref()
    }

    /// The `read=` classes: the events the user receives.
    #[getter]
    fn read(&self) -> Privilege {
        Privilege { bits: self.inner.read.bits() }
    }

    /// The `write=` classes: the actions the user may run.
    #[getter]
    fn write(&self) -> Privilege {
        Privilege { bits: self.inner.write.bits() }
    }

    /// `allowmultiplelogin` for this user.
    #[getter]
    fn allow_multiple_login(&self) -> bool {
        self.inner.allow_multiple_login
    }

    /// The user's `eventfilter` lines.
    #[getter]
    fn filters(&self) -> FilterSet {
        FilterSet { inner: self.inner.filters.clone() }
    }

    /// Whether the user's `permit`/`deny`/`acl` lines allow a login from `ip`.
    fn permits(&self, ip: &str) -> PyResult<bool> {
        Ok(self.inner.acl.permits(ip_arg(ip)?))
    }

    /// Whether the user may run `action` (by its `write=` classes).
    fn can_run(&self, action: &Bound<'_, PyAny>) -> PyResult<bool> {
        Privilege { bits: self.inner.write.bits() }.can_run(action)
    }

    fn __repr__(&self) -> String {
        format!(
            "<libami.User {:?} read={} write={}>",
            self.inner.name, self.inner.read, self.inner.write
        )
    }
}

/// Resolves `#include` against the directory of the loaded file.
struct FileIncludes {
    base: std::path::PathBuf,
}

impl IncludeResolver for FileIncludes {
    fn resolve(&mut self, path: &str) -> Result<Vec<(String, String)>, IncludeError> {
        let p = self.base.join(path);
        match std::fs::read(&p) {
            Ok(bytes) => {
                Ok(vec![(p.display().to_string(), String::from_utf8_lossy(&bytes).into_owned())])
            }
            Err(_) => Ok(Vec::new()),
        }
    }
}

/// A loaded manager.conf: `general` settings, `users` and the `diagnostics` that report the
/// quirks that grant more than they seem. Loaded exactly as Asterisk loads it.
#[pyclass(frozen, module = "libami")]
#[derive(Debug)]
pub struct ManagerConfig {
    pub(crate) inner: config::ManagerConfig,
    /// The text it was loaded from, for `edit()` (`None` for a configuration an editor made).
    source: Option<Source>,
}

/// Where a configuration was loaded from.
#[derive(Debug, Clone)]
struct Source {
    text: String,
    /// The file, for `from_path` (includes are resolved against its directory).
    path: Option<std::path::PathBuf>,
    /// The file was not valid UTF-8 (its bad bytes were replaced): editing would change them.
    lossy: bool,
}

impl ManagerConfig {
    /// A configuration the editor loaded (it has no text of its own to edit).
    pub(crate) fn loaded(inner: config::ManagerConfig) -> ManagerConfig {
        ManagerConfig { inner, source: None }
    }
}

fn load(
    text: &str,
    resolver: &mut dyn IncludeResolver,
    strict: bool,
    source: Source,
) -> PyResult<ManagerConfig> {
    let opts = ConfigOptions { strictness: strictness(strict), ..ConfigOptions::default() };
    config::parse_manager_conf(text, resolver, &opts)
        .map(|inner| ManagerConfig { inner, source: Some(source) })
        .map_err(|e| errors::config("cannot load manager.conf", e))
}

#[pymethods]
impl ManagerConfig {
    /// Loads manager.conf from its text (`#include` is refused). `strict=True` turns every
    /// diagnostic that is not informational into a `ConfigError`.
    #[classmethod]
    #[pyo3(signature = (text, strict = false))]
    fn from_text(_cls: &Bound<'_, PyType>, text: &str, strict: bool) -> PyResult<ManagerConfig> {
        let source = Source { text: text.to_owned(), path: None, lossy: false };
        load(text, &mut config::NoIncludes, strict, source)
    }

    /// Loads manager.conf from a file; `#include` lines are resolved relative to its
    /// directory.
    #[classmethod]
    #[pyo3(signature = (path, strict = false))]
    fn from_path(
        _cls: &Bound<'_, PyType>,
        path: std::path::PathBuf,
        strict: bool,
    ) -> PyResult<ManagerConfig> {
        let bytes = std::fs::read(&path)
            .map_err(|e| errors::config(&format!("cannot read {}", path.display()), e))?;
        let lossy = std::str::from_utf8(&bytes).is_err();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let base = path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
        let source = Source { text: text.clone(), path: Some(path), lossy };
        load(&text, &mut FileIncludes { base }, strict, source)
    }

    /// An editor of this configuration (its text, and the included files, as loaded):
    /// `edit().add_user("crm", read="call,cdr", ...)`, then `.text` or `.write()`. `strict=True`
    /// refuses dangerous grants too. Raises `ConfigEditError` for a configuration the editor
    /// cannot edit (one read from a file that is not UTF-8, or made by an editor).
    #[pyo3(signature = (*, strict = false))]
    fn edit(&self, py: Python<'_>, strict: bool) -> PyResult<crate::edit::ConfigEditor> {
        let Some(source) = &self.source else {
            return Err(crate::edit::ConfigEditError::new_err(
                "this configuration has no text of its own: edit the editor it came from",
            ));
        };
        if source.lossy {
            return Err(crate::edit::ConfigEditError::new_err(
                "the file is not valid UTF-8: editing it would change its other bytes; convert it first",
            ));
        }
        match &source.path {
            Some(path) => {
                let base = path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
                let mut includes = FileIncludes { base };
                crate::edit::editor(py, &source.text, Some(path.clone()), &mut includes, strict)
            }
            None => crate::edit::editor(py, &source.text, None, &mut config::NoIncludes, strict),
        }
    }

    /// The users, in file order.
    #[getter]
    fn users(&self) -> Vec<User> {
        self.inner.users.iter().map(|u| User { inner: u.clone() }).collect()
    }

    /// The user named `name` (case-insensitive), or `None`.
    fn user(&self, name: &str) -> Option<User> {
        self.inner.user(name.as_bytes()).map(|u| User { inner: u.clone() })
    }

    /// The `[general]` settings as a dict.
    #[getter]
    fn general<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let g = &self.inner.general;
        let d = PyDict::new(py);
        d.set_item("enabled", g.enabled)?;
        d.set_item("webenabled", g.web_enabled)?;
        d.set_item("port", g.port)?;
        d.set_item("bindaddr", g.bind_addr.to_string())?;
        d.set_item("tls_enabled", g.tls.enabled)?;
        d.set_item("brokeneventsaction", g.broken_events_action)?;
        d.set_item("allowmultiplelogin", g.allow_multiple_login)?;
        d.set_item("displayconnects", g.display_connects)?;
        d.set_item("timestampevents", g.timestamp_events)?;
        d.set_item("debug", g.debug)?;
        d.set_item("httptimeout", g.http_timeout)?;
        d.set_item("authtimeout", g.auth_timeout)?;
        d.set_item("authlimit", g.auth_limit)?;
        d.set_item("channelvars", g.channel_vars.clone())?;
        d.set_item("disabledevents", g.disabled_events.clone())?;
        Ok(d)
    }

    /// Every diagnostic as `file:line: text`.
    #[getter]
    fn diagnostics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        for d in &self.inner.diagnostics {
            list.append(text(py, d.to_string().as_bytes())?)?;
        }
        Ok(list)
    }

    fn __repr__(&self) -> String {
        format!("<libami.ManagerConfig {} users>", self.inner.users.len())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Privilege>()?;
    let cls = m.py().get_type::<Privilege>();
    for (label, p) in perm::CLASSES {
        cls.setattr(label.to_ascii_uppercase(), Privilege { bits: p.bits() })?;
    }
    m.add_class::<Acl>()?;
    m.add_class::<EventFilter>()?;
    m.add_class::<FilterSet>()?;
    m.add_class::<User>()?;
    m.add_class::<ManagerConfig>()?;
    m.add_function(wrap_pyfunction!(action_authority, m)?)?;
    m.add_function(wrap_pyfunction!(event_category, m)?)?;
    Ok(())
}
