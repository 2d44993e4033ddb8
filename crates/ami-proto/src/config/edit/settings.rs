//! [`UserSettings`] checked and turned into lines, and the user they describe.

use super::render::{self, check_value, variable_line};
use super::{AclRule, EditError, FilterLine, SetVar, Setting, UserSettings, ValueProblem};
use crate::acl::{AclList, NamedAcls};
use crate::config::{GeneralSettings, MAX_SETVAR_BYTES, User};
use crate::filter::{EventFilter, FilterSet};
use crate::perm::Privilege;

/// The keys of a user the editor writes, grouped as Asterisk reads them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Group {
    Secret,
    Read,
    Write,
    Acl,
    Filters,
    DisplayConnects,
    AllowMultipleLogin,
    WriteTimeout,
    Setvars,
}

impl Group {
    /// The key the editor writes (for the ACL: the first of three).
    pub(super) fn key(self) -> &'static str {
        match self {
            Group::Secret => "secret",
            Group::Read => "read",
            Group::Write => "write",
            Group::Acl => "permit/deny/acl",
            Group::Filters => "eventfilter",
            Group::DisplayConnects => "displayconnects",
            Group::AllowMultipleLogin => "allowmultiplelogin",
            Group::WriteTimeout => "writetimeout",
            Group::Setvars => "setvar",
        }
    }

    /// Whether a line with `name` belongs to the group. Event filter lines are those Asterisk
    /// reads (`eventfilter…`) and those it ignores for their case (`EventFilter…`).
    pub(super) fn matches(self, name: &str) -> bool {
        match self {
            Group::Acl => ["permit", "deny", "acl"].iter().any(|k| name.eq_ignore_ascii_case(k)),
            Group::Filters => name.get(..11).is_some_and(|p| p.eq_ignore_ascii_case("eventfilter")),
            other => name.eq_ignore_ascii_case(other.key()),
        }
    }
}

/// One checked change of a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Change {
    /// A key with one value: the new value (unescaped), or `None` to remove the key.
    Single { group: Group, value: Option<String>, shown: String },
    /// A list: its new lines, rendered.
    List { group: Group, lines: Vec<String> },
}

impl Change {
    pub(super) fn group(&self) -> Group {
        match self {
            Change::Single { group, .. } | Change::List { group, .. } => *group,
        }
    }

    /// The lines a section gets for this change when the key is new to it.
    pub(super) fn new_lines(&self) -> Result<Vec<String>, EditError> {
        match self {
            Change::Single { value: None, .. } => Ok(Vec::new()),
            Change::Single { group, value: Some(v), shown } => {
                Ok(vec![variable_line(group.key(), v, shown)?])
            }
            Change::List { lines, .. } => Ok(lines.clone()),
        }
    }
}

/// How a secret is shown in messages.
pub(super) const HIDDEN: &str = "<secret not shown>";

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn single<T>(
    group: Group,
    setting: &Option<Setting<T>>,
    render: impl Fn(&T) -> Result<(String, String), EditError>,
) -> Result<Option<Change>, EditError> {
    Ok(match setting {
        None => None,
        Some(Setting::Unset) => Some(Change::Single { group, value: None, shown: String::new() }),
        Some(Setting::Set(v)) => {
            let (value, shown) = render(v)?;
            Some(Change::Single { group, value: Some(value), shown })
        }
    })
}

fn classes(group: Group, p: Privilege) -> Result<Change, EditError> {
    match p.to_config_list() {
        Some(list) => Ok(Change::Single { group, shown: list.clone(), value: Some(list) }),
        None => Err(EditError::InvalidValue {
            key: group.key().to_owned(),
            value: format!("{:#x}", p.bits()),
            problem: ValueProblem::Unexpressible,
        }),
    }
}

/// Checks every setting and renders it, in the order new sections list them. With `new_user`,
/// `read` and `write` are always written (`none` when not given).
pub(super) fn prepare(
    s: &UserSettings,
    named: &NamedAcls,
    new_user: bool,
) -> Result<Vec<Change>, EditError> {
    let mut out = Vec::new();
    out.extend(single(Group::Secret, &s.secret, |v: &String| {
        if v.is_empty() {
            return Err(EditError::InvalidValue {
                key: "secret".to_owned(),
                value: String::new(),
                problem: ValueProblem::EmptySecret,
            });
        }
        check_value("secret", v, HIDDEN)?;
        variable_line("secret", v, HIDDEN)?;
        Ok((v.clone(), HIDDEN.to_owned()))
    })?);
    let read = s.read.or(new_user.then_some(Privilege::NONE));
    let write = s.write.or(new_user.then_some(Privilege::NONE));
    if let Some(p) = read {
        out.push(classes(Group::Read, p)?);
    }
    if let Some(p) = write {
        out.push(classes(Group::Write, p)?);
    }
    if let Some(rules) = &s.acl {
        out.push(Change::List { group: Group::Acl, lines: acl_lines(rules, named)? });
    }
    if let Some(filters) = &s.event_filters {
        out.push(Change::List { group: Group::Filters, lines: filter_lines(filters)? });
    }
    out.extend(single(Group::DisplayConnects, &s.display_connects, |b| {
        Ok((yes_no(*b), yes_no(*b)))
    })?);
    out.extend(single(Group::AllowMultipleLogin, &s.allow_multiple_login, |b| {
        Ok((yes_no(*b), yes_no(*b)))
    })?);
    out.extend(single(Group::WriteTimeout, &s.write_timeout_ms, |ms| {
        if !(100..=i32::MAX as u32).contains(ms) {
            return Err(EditError::InvalidValue {
                key: "writetimeout".to_owned(),
                value: ms.to_string(),
                problem: ValueProblem::WriteTimeoutRange,
            });
        }
        Ok((ms.to_string(), ms.to_string()))
    })?);
    if let Some(vars) = &s.setvars {
        out.push(Change::List { group: Group::Setvars, lines: setvar_lines(vars)? });
    }
    Ok(out)
}

fn acl_lines(rules: &[AclRule], named: &NamedAcls) -> Result<Vec<String>, EditError> {
    let mut scratch = AclList::default();
    let mut lines = Vec::with_capacity(rules.len());
    for rule in rules {
        let key = rule.kind.key();
        if rule.value.is_empty() {
            return Err(EditError::InvalidValue {
                key: key.to_owned(),
                value: String::new(),
                problem: ValueProblem::Empty,
            });
        }
        check_value(key, &rule.value, &rule.value)?;
        scratch.add_line(key, &rule.value, named).map_err(|error| EditError::InvalidAclRule {
            key: key.to_owned(),
            value: rule.value.clone(),
            error: Box::new(error),
        })?;
        lines.push(variable_line(key, &rule.value, &rule.value)?);
    }
    Ok(lines)
}

fn filter_lines(filters: &[FilterLine]) -> Result<Vec<String>, EditError> {
    let mut lines = Vec::with_capacity(filters.len());
    for f in filters {
        if !f.key.starts_with("eventfilter") || f.key.contains('=') {
            return Err(EditError::InvalidValue {
                key: f.key.clone(),
                value: f.value.clone(),
                problem: ValueProblem::FilterKey,
            });
        }
        check_value(&f.key, &f.key, &f.value)?;
        check_value(&f.key, &f.value, &f.value)?;
        EventFilter::parse(&f.key, &f.value).map_err(|error| EditError::InvalidEventFilter {
            key: f.key.clone(),
            value: f.value.clone(),
            error: Box::new(error),
        })?;
        lines.push(variable_line(&f.key, &f.value, &f.value)?);
    }
    Ok(lines)
}

fn setvar_lines(vars: &[SetVar]) -> Result<Vec<String>, EditError> {
    let mut lines = Vec::with_capacity(vars.len());
    for v in vars {
        let text = format!("{}={}", v.name, v.value);
        if v.name.is_empty() || v.name.contains('=') || text.len() > MAX_SETVAR_BYTES {
            return Err(EditError::InvalidValue {
                key: "setvar".to_owned(),
                value: text,
                problem: ValueProblem::Setvar,
            });
        }
        lines.push(variable_line("setvar", &text, &text)?);
    }
    Ok(lines)
}

/// A user's settings as compared before and after an edit (`User` without where it is).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct UserState {
    pub(super) name: String,
    pub(super) deleted: bool,
    pub(super) secret: Option<String>,
    pub(super) read: Privilege,
    pub(super) write: Privilege,
    pub(super) acl: AclList,
    pub(super) filters: Vec<String>,
    pub(super) display_connects: bool,
    pub(super) allow_multiple_login: bool,
    pub(super) write_timeout_ms: u32,
    pub(super) setvars: Vec<(String, String)>,
}

impl UserState {
    /// The state of a loaded user.
    pub(super) fn of(user: &User, deleted: bool) -> UserState {
        UserState {
            name: user.name.clone(),
            deleted,
            secret: user.secret.clone(),
            read: user.read,
            write: user.write,
            acl: user.acl.clone(),
            filters: user.filters.iter().map(ToString::to_string).collect(),
            display_connects: user.display_connects,
            allow_multiple_login: user.allow_multiple_login,
            write_timeout_ms: user.write_timeout_ms,
            setvars: user.setvars.clone(),
        }
    }

    /// A user with Asterisk's defaults.
    pub(super) fn new(name: &str, general: &GeneralSettings) -> UserState {
        UserState {
            name: name.to_owned(),
            deleted: false,
            secret: None,
            read: Privilege::NONE,
            write: Privilege::NONE,
            acl: AclList::default(),
            filters: Vec::new(),
            display_connects: general.display_connects,
            allow_multiple_login: general.allow_multiple_login,
            write_timeout_ms: 100,
            setvars: Vec::new(),
        }
    }

    /// The state once `s` (already checked by [`prepare`]) is applied. A new ACL replaces the
    /// user's whole ACL, so a user Asterisk deleted for an invalid ACL line is kept again.
    pub(super) fn apply(&mut self, s: &UserSettings, general: &GeneralSettings, named: &NamedAcls) {
        match &s.secret {
            Some(Setting::Set(v)) => self.secret = Some(v.clone()),
            Some(Setting::Unset) => self.secret = None,
            None => {}
        }
        if let Some(p) = s.read {
            self.read = p;
        }
        if let Some(p) = s.write {
            self.write = p;
        }
        if let Some(rules) = &s.acl {
            let mut acl = AclList::default();
            for r in rules {
                // Checked by `prepare`: cannot fail.
                let _ = acl.add_line(r.kind.key(), &r.value, named);
            }
            self.acl = acl;
            self.deleted = false;
        }
        if let Some(filters) = &s.event_filters {
            let mut set = FilterSet::default();
            for f in filters {
                if let Ok(parsed) = EventFilter::parse(&f.key, &f.value) {
                    set.add(parsed);
                }
            }
            self.filters = set.iter().map(ToString::to_string).collect();
        }
        match s.display_connects {
            Some(Setting::Set(b)) => self.display_connects = b,
            Some(Setting::Unset) => self.display_connects = general.display_connects,
            None => {}
        }
        match s.allow_multiple_login {
            Some(Setting::Set(b)) => self.allow_multiple_login = b,
            Some(Setting::Unset) => self.allow_multiple_login = general.allow_multiple_login,
            None => {}
        }
        match s.write_timeout_ms {
            Some(Setting::Set(ms)) => self.write_timeout_ms = ms,
            Some(Setting::Unset) => self.write_timeout_ms = 100,
            None => {}
        }
        if let Some(vars) = &s.setvars {
            // Asterisk keeps them last line first.
            self.setvars = vars.iter().rev().map(|v| (v.name.clone(), v.value.clone())).collect();
        }
    }
}

/// Whether `c` may appear in a new user name.
pub(super) fn name_character(c: char) -> bool {
    c.is_ascii_alphanumeric() || render::NAME_PUNCTUATION.contains(c)
}
