//! What the catalog records about each action and event: [`ActionSpec`], [`EventSpec`], and the
//! lookups by name.

use std::cmp::Ordering;
use std::fmt;

use ami_proto::authority::{Escalation, Refusal};
use ami_proto::perm::{Privilege, may_run};

use crate::generated::actions::ACTIONS;
use crate::generated::events::EVENTS;

/// One documented action.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ActionSpec {
    /// Canonical spelling (as Asterisk registers it).
    pub name: &'static str,
    /// The write classes a session needs (any one of them; empty = every session), from
    /// [`ami_proto::authority`].
    pub authority: Privilege,
    /// The extra check the action makes on some of its parameters, if any.
    pub escalation: Option<Escalation>,
    /// The modules documenting it (`core` for Asterisk's core).
    pub modules: &'static [&'static str],
    /// The Asterisk versions the documentation says it appeared in (one per branch).
    pub since: &'static [&'static str],
    /// Its parameters, in documented order (`ActionID` included).
    pub parameters: &'static [ParameterSpec],
    /// The events its list response is made of, if documented.
    pub list_items: &'static [&'static str],
    /// The event that completes its list response, if documented.
    pub list_complete: Option<&'static str>,
}

/// One documented action parameter.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ParameterSpec {
    /// The header name; for a numbered family, the name with `{}` (or `{:06}`) where the number
    /// goes (`Action-{:06}`: `Action-000000`, `Action-000001`, ...).
    pub name: &'static str,
    /// Whether the action requires it (the builder's `new` then takes it).
    pub required: bool,
    /// Whether the action reads every occurrence (the builder's setter then adds one).
    pub repeatable: bool,
    /// Whether `name` is a numbered family.
    pub indexed: bool,
    /// The documented default value.
    pub default: Option<&'static str>,
}

/// One documented event.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct EventSpec {
    /// The name as emitted in `Event:`.
    pub name: &'static str,
    /// The classes it is emitted with: a session receives it only if it may read every one
    /// ([`ami_proto::perm::may_receive`]). List items sent in answer to an action reach the
    /// session that asked whatever its read permissions.
    pub read_class: Privilege,
    /// The modules documenting it.
    pub modules: &'static [&'static str],
    /// The Asterisk versions the documentation says it appeared in.
    pub since: &'static [&'static str],
    /// Its documented fields; a numbered family with `{}` where the number goes
    /// (`Report{}DLSR`).
    pub fields: &'static [&'static str],
}

/// Why a session may not send an action.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Denied {
    /// The session's write permissions share no class with the action's authority; Asterisk
    /// answers `Permission denied`.
    Authority {
        /// The action.
        action: &'static str,
        /// Its authority (any one class suffices).
        required: Privilege,
    },
    /// The action's own check refused these parameters (Asterisk's message in
    /// [`Refusal::message`]).
    Escalation(Refusal),
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denied::Authority { action, required } => write!(
                f,
                "Permission denied: {action} needs one of the write classes {required} \
                 (Asterisk answers `Permission denied`)"
            ),
            Denied::Escalation(r) => write!(f, "{r}"),
        }
    }
}

impl std::error::Error for Denied {}

impl ActionSpec {
    /// Whether a session with write permissions `write` may send this action with the headers
    /// `get` returns: the authority (any shared class), then the escalation check.
    pub fn permits<'v>(
        &self,
        write: Privilege,
        get: impl Fn(&str) -> Option<&'v [u8]>,
    ) -> Result<(), Denied> {
        if !may_run(write, self.authority) {
            return Err(Denied::Authority { action: self.name, required: self.authority });
        }
        match self.escalation {
            Some(check) => check.check(write, get).map_err(Denied::Escalation),
            None => Ok(()),
        }
    }

    /// The required parameters, in documented order.
    pub fn required(&self) -> impl Iterator<Item = &'static ParameterSpec> {
        self.parameters.iter().filter(|p| p.required)
    }
}

/// ASCII-case-insensitive ordering (C `strcasecmp`), the order of both tables.
pub(crate) fn cmp_ignore_ascii_case(a: &[u8], b: &[u8]) -> Ordering {
    a.iter().map(u8::to_ascii_lowercase).cmp(b.iter().map(u8::to_ascii_lowercase))
}

/// Index of `name` in a table sorted by [`cmp_ignore_ascii_case`].
pub(crate) fn find<T>(table: &[T], name: &[u8], key: impl Fn(&T) -> &str) -> Option<usize> {
    table.binary_search_by(|item| cmp_ignore_ascii_case(key(item).as_bytes(), name)).ok()
}

/// The documented action `name` (ASCII-case-insensitive, as Asterisk matches `Action:`).
///
/// ```
/// let originate = ami_catalog::action_spec(b"originate").unwrap();
/// assert_eq!(originate.name, "Originate");
/// assert_eq!(originate.required().map(|p| p.name).collect::<Vec<_>>(), ["Channel"]);
/// ```
pub fn action_spec(name: &[u8]) -> Option<&'static ActionSpec> {
    find(&ACTIONS, name, |a| a.name).and_then(|i| ACTIONS.get(i))
}

/// The documented event `name` (ASCII-case-insensitive).
///
/// ```
/// use ami_proto::perm::Privilege;
///
/// let hangup = ami_catalog::event_spec(b"Hangup").unwrap();
/// assert_eq!(hangup.read_class, Privilege::CALL);
/// assert!(hangup.fields.contains(&"Cause-txt"));
/// ```
pub fn event_spec(name: &[u8]) -> Option<&'static EventSpec> {
    find(&EVENTS, name, |e| e.name).and_then(|i| EVENTS.get(i))
}

/// Every documented action, in Asterisk's registration order (case-insensitive by name).
pub fn actions() -> &'static [ActionSpec] {
    &ACTIONS
}

/// Every documented event, sorted case-insensitively by name.
pub fn events() -> &'static [EventSpec] {
    &EVENTS
}
