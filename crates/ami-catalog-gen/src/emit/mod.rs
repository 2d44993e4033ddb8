//! Emitters: [`Facts`] → committed source files, one emitter per target language.
//!
//! # Adding an emitter (as `typescript.rs` was, for the Node package)
//!
//! 1. Write `emit/typescript.rs` with a type implementing [`Emitter`]: `emit` returns the files
//!    it generates (paths relative to the repository root) and their whole contents. Build
//!    names with [`Names`] (one snake_case name per header for every language; use
//!    [`crate::naming::type_name`] for types) so that a field is called the same everywhere,
//!    and take authorities and read classes from [`Names::authority`] and
//!    [`Names::read_class`].
//! 2. Add it to [`all`].
//! 3. Run `make catalog`: the new files are written, and from then on `make catalog-check`
//!    (part of `make test`) fails whenever they differ from a fresh generation.
//!
//! Emitters are pure functions of the facts: no clock, no environment, no file reads, so
//! that a generation is byte-for-byte reproducible.

use std::fmt;
use std::path::PathBuf;

use ami_proto::authority::{Escalation, action_info};
use ami_proto::perm::{Privilege, Strictness, parse_perm};

use crate::facts::{Action, Event, Facts};
use crate::naming::{MemberNames, escape};

pub mod python;
pub mod rust;
pub mod typescript;

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Path relative to the repository root.
    pub path: PathBuf,
    /// The whole file.
    pub contents: String,
}

/// Why an emitter could not generate its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmitError {
    /// A documented action has no entry in `ami_proto::authority::ACTIONS`.
    UnknownAuthority {
        /// The action.
        action: String,
    },
    /// Two members of one generated type would get the same name.
    NameClash {
        /// The action or event.
        owner: String,
        /// The member name.
        member: String,
        /// The two headers.
        headers: (String, String),
    },
    /// An event class label that is not a permission class.
    BadClass {
        /// The event.
        event: String,
        /// The label.
        label: String,
    },
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::UnknownAuthority { action } => write!(
                f,
                "action {action} is documented but ami_proto::authority::ACTIONS does not know \
                 its authority: add it there from its ast_manager_register* call in the Asterisk \
                 source"
            ),
            EmitError::NameClash { owner, member, headers } => write!(
                f,
                "{owner}: headers {} and {} would both be called `{member}`: add a rule to \
                 crates/ami-catalog-gen/src/naming.rs",
                headers.0, headers.1
            ),
            EmitError::BadClass { event, label } => {
                write!(f, "event {event}: read class {label:?} is not a permission class")
            }
        }
    }
}

impl std::error::Error for EmitError {}

/// A generator of one language's files.
pub trait Emitter {
    /// The language, for messages.
    fn name(&self) -> &'static str;
    /// The files, as paths relative to the repository root and contents.
    fn emit(&self, facts: &Facts, names: &Names) -> Result<Vec<Output>, EmitError>;
}

/// Every emitter `make catalog` runs.
pub fn all() -> Vec<Box<dyn Emitter>> {
    vec![Box::new(rust::Rust), Box::new(python::Python), Box::new(typescript::TypeScript)]
}

/// Runs every emitter of [`all`]; an error comes with the name of the emitter that failed.
pub fn emit_all(facts: &Facts) -> Result<Vec<Output>, (&'static str, EmitError)> {
    let names = Names::new(facts);
    let mut out = Vec::new();
    for emitter in all() {
        out.extend(emitter.emit(facts, &names).map_err(|e| (emitter.name(), e))?);
    }
    Ok(out)
}

/// Names and access facts shared by the emitters.
#[derive(Debug)]
pub struct Names {
    members: MemberNames,
}

/// One member of a generated type: the header, its language-neutral snake_case name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The header name (an indexed family's template).
    pub header: String,
    /// snake_case, before any language's escaping.
    pub name: String,
}

impl Names {
    /// The names for `facts`.
    pub fn new(facts: &Facts) -> Names {
        let headers = facts
            .events
            .iter()
            .flat_map(|e| e.fields.iter().map(|f| f.indexed.as_deref().unwrap_or(&f.name)))
            .chain(facts.actions.iter().flat_map(|a| {
                a.parameters.iter().map(|p| p.indexed.as_deref().unwrap_or(&p.name))
            }));
        Names { members: MemberNames::new(headers) }
    }

    /// The members of `owner` for `headers`, escaped with `reserved`; a clash is an error.
    pub fn members<'h>(
        &self,
        owner: &str,
        headers: impl IntoIterator<Item = &'h str>,
        reserved: &[&str],
    ) -> Result<Vec<Member>, EmitError> {
        let mut out: Vec<Member> = Vec::new();
        for header in headers {
            let name = escape(self.members.of(header), reserved);
            if let Some(other) = out.iter().find(|m| m.name == name) {
                return Err(EmitError::NameClash {
                    owner: owner.to_string(),
                    member: name,
                    headers: (other.header.clone(), header.to_string()),
                });
            }
            out.push(Member { header: header.to_string(), name });
        }
        Ok(out)
    }

    /// The authority and escalation check of `action`, from `ami_proto::authority`.
    pub fn authority(&self, action: &Action) -> Result<(Privilege, Option<Escalation>), EmitError> {
        let info = action_info(action.name.as_bytes())
            .ok_or_else(|| EmitError::UnknownAuthority { action: action.name.clone() })?;
        Ok((info.authority, Escalation::of(action.name.as_bytes())))
    }

    /// The read class of `event`.
    pub fn read_class(&self, event: &Event) -> Result<Privilege, EmitError> {
        let mut class = Privilege::NONE;
        for label in &event.read_class {
            let bad = || EmitError::BadClass { event: event.name.clone(), label: label.clone() };
            let p = parse_perm(label, Strictness::Strict).map_err(|_| bad())?.privilege;
            if p.is_empty() || p == Privilege::ALL {
                return Err(bad());
            }
            class = class.union(p);
        }
        Ok(class)
    }
}

/// The class labels of `p` (`system`, `call`, ...), without `all`; empty for none.
pub fn labels(p: Privilege) -> Vec<String> {
    let text = p.render();
    if p.is_empty() {
        return Vec::new();
    }
    text.split(',').filter(|l| *l != "all").map(str::to_string).collect()
}

/// The first line of every generated file, after the comment marker.
pub fn banner(facts: &Facts) -> String {
    format!(
        "@generated by ami-catalog-gen from {} (Asterisk {}). Do not edit: run `make catalog`.",
        facts.source, facts.asterisk_version
    )
}

/// `a, b and c`.
pub fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_joins() {
        assert_eq!(labels(Privilege::SYSTEM | Privilege::CALL), ["system", "call"]);
        assert!(labels(Privilege::NONE).is_empty());
        assert_eq!(join_and(&["a".into(), "b".into(), "c".into()]), "a, b and c");
        assert_eq!(join_and(&["a".into()]), "a");
    }

    #[test]
    fn a_member_name_clash_is_reported() {
        let facts = Facts {
            format: crate::facts::FORMAT.into(),
            asterisk_version: "1".into(),
            source: "x".into(),
            actions: vec![],
            events: vec![],
            corrections: vec![],
        };
        let names = Names::new(&facts);
        let err = names.members("Ev", ["Cause-Txt", "CauseTxt"], &[]).unwrap_err();
        assert!(err.to_string().contains("would both be called `cause_txt`"), "{err}");
        let ok = names.members("Ev", ["Type", "Get"], &["type", "get"]).unwrap();
        assert_eq!(ok[0].name, "type_");
        assert_eq!(ok[1].name, "get_");
    }
}
