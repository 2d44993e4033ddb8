//! Who may do what: `Privilege` (permission classes), `Acl`, `ManagerConfig` (manager.conf) and
//! its `User`s, and event filters (`EventFilter`, `FilterSet`).
//!
//! Methods that judge an event take the event's raw bytes (`message.raw`): its name is read
//! from them, and filters match against the whole text as Asterisk does.

use std::net::IpAddr;

use ami_proto::acl;
use ami_proto::authority;
use ami_proto::config::{self, ConfigOptions, IncludeError, IncludeResolver};
use ami_proto::filter;
use ami_proto::perm::{self, Strictness};
use ami_proto::{Decoder, Frame, Role};
use napi::{Env, Result};
use napi_derive::napi;

use crate::edit::NativeConfigEditor;
use crate::errors;

/// A `ConfigEditError` for a configuration that cannot be edited.
fn edit_refusal(env: &Env, message: &str) -> napi::Error {
    let details = errors::Details { reason: Some("not-editable"), ..errors::Details::default() };
    errors::error(env, errors::Kind::ConfigEdit, message, &details)
}

fn strictness(strict: Option<bool>) -> Strictness {
    if strict.unwrap_or(false) { Strictness::Strict } else { Strictness::AsteriskCompatible }
}

fn ip(text: &str) -> Result<IpAddr> {
    text.parse().map_err(|e| errors::invalid(format!("{text:?} is not an IP address: {e}")))
}

/// The event name in a message's raw bytes (empty when it has none).
fn event_name(raw: &[u8]) -> Vec<u8> {
    let mut d = Decoder::new(Role::Client);
    d.feed(raw);
    if !raw.ends_with(b"\r\n\r\n") && !raw.ends_with(b"\n\n") {
        d.feed(b"\r\n\r\n");
    }
    match d.next_frame() {
        Some(Ok(Frame::Message(m))) => m.event().unwrap_or_default().to_vec(),
        Some(Err(e)) => e.partial().event().unwrap_or_default().to_vec(),
        _ => Vec::new(),
    }
}

/// A set of AMI permission classes (`system`, `call`, `log`, ...): a `read=`/`write=` value, an
/// action's authority or an event's category.
///
/// ```js
/// const p = Privilege.parse("call,cdr");
/// p.canRun("Hangup");          // true: Hangup needs system or call
/// p.render();                  // "call,cdr"
/// ```
#[napi]
#[derive(Clone, Copy, Debug)]
pub struct Privilege {
    bits: u32,
}

impl Privilege {
    fn core(&self) -> perm::Privilege {
        perm::Privilege::from_bits(self.bits)
    }

    /// A class from the core's.
    pub fn of(p: perm::Privilege) -> Privilege {
        Privilege { bits: p.bits() }
    }
}

#[napi]
impl Privilege {
    /// A set from its bits (default: none).
    #[napi(constructor)]
    pub fn new(bits: Option<u32>) -> Privilege {
        Privilege { bits: bits.unwrap_or(0) }
    }

    /// Parses a manager.conf `read=`/`write=` value exactly as Asterisk's `get_perm` does
    /// (`"call,cdr"`, `"all"`, `"none"`, with its quirks). `strict` throws `ConfigError` on the
    /// quirks that grant more than they seem (such as an empty element).
    #[napi(factory)]
    pub fn parse(env: Env, text: String, strict: Option<bool>) -> Result<Privilege> {
        let parsed = perm::parse_perm(&text, strictness(strict))
            .map_err(|e| errors::config(&env, &format!("permission list {text:?}"), e))?;
        Ok(Privilege::of(parsed.privilege))
    }

    /// The quirks Asterisk applies to `text`, each as a sentence (empty when none).
    #[napi]
    pub fn diagnose(env: Env, text: String) -> Result<Vec<String>> {
        let parsed = perm::parse_perm(&text, Strictness::AsteriskCompatible)
            .map_err(|e| errors::config(&env, &format!("permission list {text:?}"), e))?;
        Ok(parsed.diagnostics.iter().map(ToString::to_string).collect())
    }

    /// The class with this label (`"call"`, `"all"`, `"none"`, ...), or `null`.
    #[napi]
    pub fn from_label(label: String) -> Option<Privilege> {
        perm::Privilege::from_label(&label).map(Privilege::of)
    }

    /// Every class label with its set, in Asterisk's order (`all` and `none` included).
    #[napi]
    pub fn labels_all() -> Vec<String> {
        perm::CLASSES.iter().map(|(l, _)| (*l).to_owned()).collect()
    }

    /// The bits.
    #[napi(getter)]
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// The `Privilege:` header text (`call,all`), as Asterisk renders it.
    #[napi]
    pub fn render(&self) -> String {
        self.core().render()
    }

    /// A manager.conf list that parses back to exactly this set, or `null` if some bits have
    /// no label.
    #[napi]
    pub fn to_config_list(&self) -> Option<String> {
        self.core().to_config_list()
    }

    /// The labels of the classes in the set.
    #[napi]
    pub fn labels(&self) -> Vec<String> {
        perm::CLASSES
            .iter()
            .filter(|(l, p)| {
                *l != "all" && *l != "none" && !p.is_empty() && self.core().contains(*p)
            })
            .map(|(l, _)| (*l).to_owned())
            .collect()
    }

    /// Whether every class of `other` is in the set.
    #[napi]
    pub fn contains(&self, other: &Privilege) -> bool {
        self.core().contains(other.core())
    }

    /// The union.
    #[napi]
    pub fn union(&self, other: &Privilege) -> Privilege {
        Privilege { bits: self.bits | other.bits }
    }

    /// The intersection.
    #[napi]
    pub fn intersection(&self, other: &Privilege) -> Privilege {
        Privilege { bits: self.bits & other.bits }
    }

    /// Whether both sets are equal.
    #[napi]
    pub fn equals(&self, other: &Privilege) -> bool {
        self.bits == other.bits
    }

    /// True for the empty set.
    #[napi(getter)]
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// Whether a user with these `write=` classes may run `action` (any shared class suffices;
    /// actions without authority are open to all). False for an action not in the catalog.
    #[napi]
    pub fn can_run(&self, action: String) -> bool {
        authority::action_authority(action.as_bytes())
            .is_some_and(|a| perm::may_run(self.core(), a))
    }

    /// Whether a session sending these event classes receives event `event` (every bit of its
    /// category is needed). False for an event whose category is unknown.
    #[napi]
    pub fn can_read(&self, event: String) -> bool {
        authority::event_category(event.as_bytes())
            .is_some_and(|c| perm::may_receive(self.core(), c))
    }

    /// The same as `render()`.
    #[napi(js_name = "toString")]
    pub fn to_js_string(&self) -> String {
        self.core().render()
    }
}

/// The classes a user needs in `write=` to run `action`, or `null` for an action not in the
/// catalog.
#[napi(js_name = "actionAuthority")]
pub fn action_authority(action: String) -> Option<Privilege> {
    authority::action_authority(action.as_bytes()).map(Privilege::of)
}

/// The category of event `event`, or `null` when unknown.
#[napi(js_name = "eventCategory")]
pub fn event_category(event: String) -> Option<Privilege> {
    authority::event_category(event.as_bytes()).map(Privilege::of)
}

/// One `permit`/`deny` list, evaluated as Asterisk does: every rule is checked in order and the
/// last match decides; no match (or no rule) allows.
#[napi]
#[derive(Debug)]
pub struct Acl {
    inner: acl::Acl,
}

#[napi]
impl Acl {
    /// An empty list (it allows everyone); add rules with `addRule`.
    #[napi(constructor)]
    pub fn new() -> Acl {
        Acl { inner: acl::Acl::new() }
    }

    /// Appends a rule (`sense`: `permit` or `deny`, by its first letter as Asterisk reads it;
    /// `rule`: `10.0.0.0/8`, `10.0.0.0/255.0.0.0`, `!192.0.2.1`, ...). Throws `ConfigError` for a
    /// rule Asterisk would refuse.
    #[napi]
    pub fn add_rule(&mut self, env: Env, sense: String, rule: String) -> Result<()> {
        self.inner
            .add_rule(&sense, &rule)
            .map_err(|e| errors::config(&env, &format!("{sense} = {rule}"), e))
    }

    /// Whether the address `ip` is allowed.
    #[napi]
    pub fn permits(&self, ip_address: String) -> Result<bool> {
        Ok(self.inner.permits(ip(&ip_address)?))
    }

    /// Findings about the list as a whole (a `permit` without a `deny` restricts nothing).
    #[napi]
    pub fn diagnostics(&self) -> Vec<String> {
        self.inner.diagnostics().iter().map(ToString::to_string).collect()
    }

    /// The number of rules.
    #[napi(getter)]
    pub fn size(&self) -> u32 {
        u32::try_from(self.inner.rules().len()).unwrap_or(u32::MAX)
    }
}

impl Default for Acl {
    fn default() -> Acl {
        Acl::new()
    }
}

/// One event filter (a manager.conf `eventfilter` line, or a `Filter` action).
#[napi]
#[derive(Debug, Clone)]
pub struct EventFilter {
    inner: filter::EventFilter,
}

#[napi]
impl EventFilter {
    /// Parses a manager.conf filter line: `value` is the expression (a regex, `!` in front
    /// excludes), `key` `eventfilter` (default) or `eventfilter(action(exclude),name(...))`.
    /// Throws `ConfigError` when Asterisk would refuse it.
    #[napi(constructor)]
    pub fn new(env: Env, value: String, key: Option<String>) -> Result<EventFilter> {
        let key = key.unwrap_or_else(|| "eventfilter".to_owned());
        filter::EventFilter::parse(&key, &value)
            .map(|inner| EventFilter { inner })
            .map_err(|e| errors::config(&env, &format!("{key} = {value}"), e))
    }

    /// Whether the filter matches the event whose raw bytes are `raw` (`message.raw`),
    /// regardless of include/exclude.
    #[napi]
    pub fn matches(&self, raw: &[u8]) -> bool {
        self.inner.matches(&event_name(raw), raw)
    }

    /// True for an exclude filter.
    #[napi(getter)]
    pub fn is_exclude(&self) -> bool {
        self.inner.is_exclude()
    }

    /// The expression.
    #[napi(getter)]
    pub fn expression(&self) -> String {
        String::from_utf8_lossy(self.inner.expression()).into_owned()
    }
}

/// The filters of one session or user, applied as Asterisk does: with no include filter
/// everything passes unless excluded; with include filters an event must match one and no
/// exclude filter.
#[napi]
#[derive(Debug, Default)]
pub struct FilterSet {
    inner: filter::FilterSet,
}

#[napi]
impl FilterSet {
    /// An empty set (everything passes).
    #[napi(constructor)]
    pub fn new() -> FilterSet {
        FilterSet::default()
    }

    /// Adds a filter.
    #[napi]
    pub fn add(&mut self, filter: &EventFilter) {
        self.inner.add(filter.inner.clone());
    }

    /// Whether the event whose raw bytes are `raw` (`message.raw`) is sent to the session.
    #[napi]
    pub fn should_send(&self, raw: &[u8]) -> bool {
        self.inner.should_send(&event_name(raw), raw)
    }

    /// The number of filters.
    #[napi(getter)]
    pub fn size(&self) -> u32 {
        u32::try_from(self.inner.len()).unwrap_or(u32::MAX)
    }
}

/// One `[user]` section of manager.conf.
#[napi]
#[derive(Debug)]
pub struct User {
    inner: config::User,
}

#[napi]
impl User {
    /// The section name (logins compare it case-insensitively).
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.inner.name.clone()
    }

    /// The `secret=` value, or `null` (then nobody can log in as this user).
    #[napi(getter)]
    pub fn secret(&self) -> Option<String> {
        self.inner.secret.clone()
    }

    /// The `read=` classes: the events the user receives.
    #[napi(getter)]
    pub fn read(&self) -> Privilege {
        Privilege::of(self.inner.read)
    }

    /// The `write=` classes: the actions the user may run.
    #[napi(getter)]
    pub fn write(&self) -> Privilege {
        Privilege::of(self.inner.write)
    }

    /// `allowmultiplelogin` for this user.
    #[napi(getter)]
    pub fn allow_multiple_login(&self) -> bool {
        self.inner.allow_multiple_login
    }

    /// The user's `eventfilter` lines.
    #[napi(getter)]
    pub fn filters(&self) -> FilterSet {
        FilterSet { inner: self.inner.filters.clone() }
    }

    /// Whether the user's `permit`/`deny`/`acl` lines allow a login from `ip`.
    #[napi]
    pub fn permits(&self, ip_address: String) -> Result<bool> {
        Ok(self.inner.acl.permits(ip(&ip_address)?))
    }

    /// Whether the user may run `action` (by its `write=` classes).
    #[napi]
    pub fn can_run(&self, action: String) -> bool {
        Privilege::of(self.inner.write).can_run(action)
    }
}

/// Resolves `#include` against the directory of the loaded file.
struct FileIncludes {
    base: std::path::PathBuf,
}

impl IncludeResolver for FileIncludes {
    fn resolve(&mut self, path: &str) -> std::result::Result<Vec<(String, String)>, IncludeError> {
        let p = self.base.join(path);
        match std::fs::read(&p) {
            Ok(bytes) => {
                Ok(vec![(p.display().to_string(), String::from_utf8_lossy(&bytes).into_owned())])
            }
            Err(_) => Ok(Vec::new()),
        }
    }
}

/// The `[general]` settings of manager.conf.
#[napi(object)]
#[derive(Debug, Clone)]
pub struct GeneralSettings {
    /// `enabled`.
    pub enabled: bool,
    /// `webenabled`.
    pub webenabled: bool,
    /// `port`.
    pub port: u32,
    /// `bindaddr`.
    pub bindaddr: String,
    /// `tlsenable`.
    pub tls_enabled: bool,
    /// `brokeneventsaction`.
    pub brokeneventsaction: bool,
    /// `allowmultiplelogin`.
    pub allowmultiplelogin: bool,
    /// `displayconnects`.
    pub displayconnects: bool,
    /// `timestampevents`.
    pub timestampevents: bool,
    /// `debug`.
    pub debug: bool,
    /// `httptimeout` (seconds).
    pub httptimeout: u32,
    /// `authtimeout` (seconds).
    pub authtimeout: u32,
    /// `authlimit`.
    pub authlimit: u32,
    /// `channelvars`.
    pub channelvars: Vec<String>,
    /// `disabledevents`.
    pub disabledevents: String,
}

/// A loaded manager.conf: the `[general]` settings, the users, and the diagnostics that report
/// the quirks that grant more than they seem. Loaded exactly as Asterisk loads it.
///
/// ```js
/// const conf = ManagerConfig.fromText("[general]\nenabled = yes\n[admin]\nsecret = s\nread = all\nwrite = all\n");
/// conf.user("ADMIN").write.canRun("Originate");   // true
/// ```
#[napi]
#[derive(Debug, Clone)]
pub struct ManagerConfig {
    pub(crate) inner: config::ManagerConfig,
    /// The text it was loaded from, for `edit()` (`None` for a configuration an editor made).
    source: Option<Source>,
}

/// Where a configuration was loaded from.
#[derive(Debug, Clone)]
struct Source {
    text: String,
    /// The file, for `fromPath` (includes are resolved against its directory).
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
    env: &Env,
    text: &str,
    resolver: &mut dyn IncludeResolver,
    strict: Option<bool>,
    source: Source,
) -> Result<ManagerConfig> {
    let opts = ConfigOptions { strictness: strictness(strict), ..ConfigOptions::default() };
    config::parse_manager_conf(text, resolver, &opts)
        .map(|inner| ManagerConfig { inner, source: Some(source) })
        .map_err(|e| errors::config(env, "cannot load manager.conf", e))
}

#[napi]
impl ManagerConfig {
    /// Loads manager.conf from its text (`#include` is refused). `strict` turns every
    /// diagnostic that is not informational into a `ConfigError`.
    #[napi(factory)]
    pub fn from_text(env: Env, text: String, strict: Option<bool>) -> Result<ManagerConfig> {
        let source = Source { text: text.clone(), path: None, lossy: false };
        load(&env, &text, &mut config::NoIncludes, strict, source)
    }

    /// Loads manager.conf from a file; `#include` lines are resolved relative to its directory.
    #[napi(factory)]
    pub fn from_path(env: Env, path: String, strict: Option<bool>) -> Result<ManagerConfig> {
        let path = std::path::PathBuf::from(path);
        let bytes = std::fs::read(&path)
            .map_err(|e| errors::config(&env, &format!("cannot read {}", path.display()), e))?;
        let lossy = std::str::from_utf8(&bytes).is_err();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let base = path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
        let source = Source { text: text.clone(), path: Some(path), lossy };
        load(&env, &text, &mut FileIncludes { base }, strict, source)
    }

    /// The core's editor of this configuration (its text and the files it includes, as they
    /// are now on disk): the TypeScript `ManagerConfig.prototype.edit` wraps it in a
    /// `ConfigEditor`. Throws `ConfigEditError` for a configuration that cannot be edited.
    #[napi]
    pub fn native_editor(&self, env: Env, strict: Option<bool>) -> Result<NativeConfigEditor> {
        let strict = strict.unwrap_or(false);
        let Some(source) = &self.source else {
            return Err(edit_refusal(
                &env,
                "this configuration has no text of its own (an editor made it): edit the editor \
                 it came from",
            ));
        };
        if source.lossy {
            return Err(edit_refusal(
                &env,
                "the file is not valid UTF-8: editing it would change its other bytes; convert it \
                 to UTF-8 first",
            ));
        }
        match &source.path {
            Some(path) => {
                let base = path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
                let shown = Some(path.display().to_string());
                NativeConfigEditor::new(
                    &env,
                    &source.text,
                    shown,
                    &mut FileIncludes { base },
                    strict,
                )
            }
            None => {
                NativeConfigEditor::new(&env, &source.text, None, &mut config::NoIncludes, strict)
            }
        }
    }

    /// The users, in file order.
    #[napi(getter)]
    pub fn users(&self) -> Vec<User> {
        self.inner.users.iter().map(|u| User { inner: u.clone() }).collect()
    }

    /// The user named `name` (case-insensitive), or `null`.
    #[napi]
    pub fn user(&self, name: String) -> Option<User> {
        self.inner.user(name.as_bytes()).map(|u| User { inner: u.clone() })
    }

    /// The `[general]` settings.
    #[napi(getter)]
    pub fn general(&self) -> GeneralSettings {
        let g = &self.inner.general;
        GeneralSettings {
            enabled: g.enabled,
            webenabled: g.web_enabled,
            port: u32::from(g.port),
            bindaddr: g.bind_addr.to_string(),
            tls_enabled: g.tls.enabled,
            brokeneventsaction: g.broken_events_action,
            allowmultiplelogin: g.allow_multiple_login,
            displayconnects: g.display_connects,
            timestampevents: g.timestamp_events,
            debug: g.debug,
            httptimeout: g.http_timeout,
            authtimeout: g.auth_timeout,
            authlimit: g.auth_limit,
            channelvars: g.channel_vars.clone(),
            disabledevents: g.disabled_events.clone(),
        }
    }

    /// Every diagnostic as `file:line: text`.
    #[napi(getter)]
    pub fn diagnostics(&self) -> Vec<String> {
        self.inner.diagnostics.iter().map(ToString::to_string).collect()
    }
}
