//! The checks every edit passes before it is kept: the re-loaded configuration is the one the
//! edit describes, and `ami check` finds no new error.

use std::collections::{BTreeMap, HashSet};

use super::error::{Field, Location};
use super::plan::Expect;
use super::settings::UserState;
use super::{EditError, Loaded};
use crate::config::ManagerConfig;
use crate::config::findings::{Finding, Severity};
use crate::perm::Privilege;

/// Every user (kept or deleted by Asterisk) by lower-case name.
fn states(config: &ManagerConfig) -> BTreeMap<String, UserState> {
    let kept = config.users.iter().map(|u| UserState::of(u, false));
    let deleted = config.deleted_users.iter().map(|u| UserState::of(u, true));
    kept.chain(deleted).map(|s| (s.name.to_ascii_lowercase(), s)).collect()
}

/// Classes as `ami check` writes them.
fn classes(p: Privilege) -> String {
    p.to_config_list().unwrap_or_else(|| format!("{:#x}", p.bits()))
}

/// The first field in which `actual` differs from `expected`, with what to show about it.
fn difference(expected: &UserState, actual: &UserState) -> Option<(Field, String)> {
    if expected.deleted != actual.deleted {
        let what = if actual.deleted {
            "Asterisk would delete the user (an invalid ACL line)"
        } else {
            "Asterisk would keep the user"
        };
        return Some((Field::Deleted, what.to_owned()));
    }
    if expected.secret != actual.secret {
        let what = match (&expected.secret, &actual.secret) {
            (Some(_), None) => "the user would have no secret",
            (None, Some(_)) => "the user would still have a secret",
            _ => "the secret would differ",
        };
        return Some((Field::Secret, what.to_owned()));
    }
    let asked = |e: String, a: String| format!("asked {e}, Asterisk would use {a}");
    if expected.read != actual.read {
        return Some((Field::Read, asked(classes(expected.read), classes(actual.read))));
    }
    if expected.write != actual.write {
        return Some((Field::Write, asked(classes(expected.write), classes(actual.write))));
    }
    if expected.acl != actual.acl {
        return Some((Field::Acl, asked(expected.acl.to_string(), actual.acl.to_string())));
    }
    if expected.filters != actual.filters {
        let n = |v: &Vec<String>| format!("{} filters", v.len());
        return Some((Field::EventFilters, asked(n(&expected.filters), n(&actual.filters))));
    }
    if expected.display_connects != actual.display_connects {
        let b = |b: bool| if b { "yes" } else { "no" }.to_owned();
        return Some((
            Field::DisplayConnects,
            asked(b(expected.display_connects), b(actual.display_connects)),
        ));
    }
    if expected.allow_multiple_login != actual.allow_multiple_login {
        let b = |b: bool| if b { "yes" } else { "no" }.to_owned();
        return Some((
            Field::AllowMultipleLogin,
            asked(b(expected.allow_multiple_login), b(actual.allow_multiple_login)),
        ));
    }
    if expected.write_timeout_ms != actual.write_timeout_ms {
        return Some((
            Field::WriteTimeout,
            asked(expected.write_timeout_ms.to_string(), actual.write_timeout_ms.to_string()),
        ));
    }
    if expected.setvars != actual.setvars {
        let n = |v: &Vec<(String, String)>| format!("{} setvars", v.len());
        return Some((Field::Setvars, asked(n(&expected.setvars), n(&actual.setvars))));
    }
    if expected.name != actual.name {
        return Some((Field::Presence, asked(expected.name.clone(), actual.name.clone())));
    }
    None
}

/// The line the loaded value of `field` comes from: the user's last line of that key.
fn source(after: &Loaded, user: &str, field: Field) -> Option<Location> {
    let key = match field {
        Field::Secret | Field::Read | Field::Write => field.key(),
        Field::DisplayConnects | Field::AllowMultipleLogin | Field::WriteTimeout => field.key(),
        _ => return None,
    };
    let category =
        after.categories.iter().rev().find(|c| !c.template && c.name.eq_ignore_ascii_case(user))?;
    let var = category.variables.iter().rev().find(|v| v.name.eq_ignore_ascii_case(key))?;
    Some(Location { file: var.file.clone(), line: var.line })
}

/// Checks `after` against `before` and what the edit must do; returns the findings to report.
pub(super) fn validate(
    before: &Loaded,
    after: &Loaded,
    expect: &Expect,
) -> Result<Vec<Finding>, EditError> {
    let mut expected = states(&before.config);
    let mut general = before.config.general.clone();
    let target = match expect {
        Expect::User { old, new, name } => {
            if let Some(old) = old {
                expected.remove(old);
            }
            if let Some(state) = new {
                expected.insert(state.name.to_ascii_lowercase(), state.clone());
            }
            Some(name.as_str())
        }
        Expect::Enabled(enabled) => {
            general.enabled = *enabled;
            None
        }
    };
    let actual = states(&after.config);
    let is_target = |name: &str| target.is_some_and(|t| t.eq_ignore_ascii_case(name));
    let names: std::collections::BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    for key in names {
        let found = match (expected.get(key), actual.get(key)) {
            (Some(e), Some(a)) => difference(e, a),
            (Some(e), None) => {
                let what = format!("the user `{}` would not exist", e.name);
                Some((Field::Presence, what))
            }
            (None, Some(a)) => {
                let what = format!("a user `{}` would exist", a.name);
                Some((Field::Presence, what))
            }
            (None, None) => None,
        };
        let Some((field, detail)) = found else { continue };
        let name =
            expected.get(key).or(actual.get(key)).map_or_else(String::new, |s| s.name.clone());
        if is_target(&name) {
            return Err(EditError::NotEffective {
                source: source(after, &name, field),
                user: name,
                field,
                detail,
            });
        }
        return Err(EditError::SideEffect { user: name, field });
    }
    if general != after.config.general {
        let detail = if general.enabled != after.config.general.enabled {
            format!(
                "asked enabled = {}, Asterisk would read {}",
                if general.enabled { "yes" } else { "no" },
                if after.config.general.enabled { "yes" } else { "no" }
            )
        } else {
            "another [general] setting would change".to_owned()
        };
        let source = after
            .categories
            .iter()
            .find(|c| !c.template && c.name.eq_ignore_ascii_case("general"))
            .and_then(|c| c.variables.iter().rev().find(|v| v.name.eq_ignore_ascii_case("enabled")))
            .map(|v| Location { file: v.file.clone(), line: v.line });
        return Err(EditError::NotEffective {
            user: "general".to_owned(),
            field: Field::General,
            detail,
            source,
        });
    }
    let renamed = match expect {
        Expect::User { old: Some(old), new: Some(new), .. } => {
            Some((old.clone(), new.name.to_ascii_lowercase()))
        }
        _ => None,
    };
    gate(before, after, target, renamed)
}

/// `ami check` on the result: new errors refuse the edit; the findings about the edited user
/// and the new ones elsewhere come back.
///
/// `renamed` (old and new lower-case name): the findings of the old name count as the new
/// name's.
fn gate(
    before: &Loaded,
    after: &Loaded,
    target: Option<&str>,
    renamed: Option<(String, String)>,
) -> Result<Vec<Finding>, EditError> {
    let who = |f: &Finding| f.user.as_deref().map(str::to_ascii_lowercase);
    let was = |f: &Finding| match (who(f), &renamed) {
        (Some(u), Some((old, new))) if u == *old => Some(new.clone()),
        (u, _) => u,
    };
    let old_errors: HashSet<(&str, Option<String>)> = before
        .check
        .all_findings()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| (f.code, was(f)))
        .collect();
    let new_errors: Vec<Finding> = after
        .check
        .all_findings()
        .filter(|f| f.severity == Severity::Error && !old_errors.contains(&(f.code, who(f))))
        .cloned()
        .collect();
    if !new_errors.is_empty() {
        return Err(EditError::CheckFailed { errors: new_errors });
    }
    let old: HashSet<(&str, Option<String>, &str)> =
        before.check.all_findings().map(|f| (f.code, was(f), f.message.as_str())).collect();
    let about_target = |f: &Finding| {
        target.is_some_and(|t| f.user.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(t)))
    };
    Ok(after
        .check
        .all_findings()
        .filter(|f| about_target(f) || !old.contains(&(f.code, who(f), f.message.as_str())))
        .cloned()
        .collect())
}
