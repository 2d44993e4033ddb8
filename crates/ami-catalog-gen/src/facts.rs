//! The catalog's facts: what every emitter generates code from.
//!
//! Extracted from the documentation XML by [`crate::extract`] and committed as
//! `catalog/asterisk.json`, so that the facts of an Asterisk release can be reviewed as a diff,
//! and so that emitters (and tests in other languages) need neither the XML nor this parser.
//! Only facts are kept: names, flags, classes, modules, versions. No prose of the
//! documentation (synopses, descriptions) is ever copied.

use serde::{Deserialize, Serialize};

/// The format tag written into every facts file; bump it when the shape changes.
pub const FORMAT: &str = "libami-catalog-facts/1";

/// Everything the catalog knows about one Asterisk release.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// [`FORMAT`].
    pub format: String,
    /// The Asterisk release the documentation belongs to, e.g. `22.10.1`.
    pub asterisk_version: String,
    /// The file the facts were read from, e.g. `core-en_US-22.10.1.xml.xz`.
    pub source: String,
    /// Every documented action, sorted by name ASCII-case-insensitively (Asterisk's
    /// registration order).
    pub actions: Vec<Action>,
    /// Every documented event, sorted by name ASCII-case-insensitively.
    pub events: Vec<Event>,
    /// What the generator changed or added because Asterisk's code says otherwise than (or more
    /// than) its documentation, each with the source line that proves it.
    pub corrections: Vec<Correction>,
}

/// One manager action.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// Canonical spelling, e.g. `Originate`.
    pub name: String,
    /// The modules documenting it (`core` for Asterisk's core), in document order.
    pub modules: Vec<String>,
    /// The `<since>` versions, in document order (a feature backported to several branches
    /// lists one per branch).
    pub since: Vec<String>,
    /// The parameters, in documented order, `ActionID` included.
    pub parameters: Vec<Parameter>,
    /// Events sent as the items of this action's list response, if documented.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list_items: Vec<String>,
    /// The event that completes this action's list response, if documented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_complete: Option<String>,
}

/// One action parameter.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Parameter {
    /// The header name, e.g. `Channel`; for an indexed parameter, the name of index 0 as
    /// documented (`Action-000000`).
    pub name: String,
    /// Whether the documentation marks it `required="true"`.
    pub required: bool,
    /// The documented default value, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Whether the action reads every occurrence of the header (e.g. Originate's `Variable`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub repeatable: bool,
    /// For a numbered family of headers (`Action-000000`, `Action-000001`, ...), the header
    /// name with `{}` (or `{:06}`, zero-padded to 6 digits) where the number goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexed: Option<String>,
}

/// One event (all its documented instances merged).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The name as Asterisk emits it in `Event:`, e.g. `Hangup`.
    pub name: String,
    /// The modules documenting it, in document order.
    pub modules: Vec<String>,
    /// The `<since>` versions of its instances, in document order, without duplicates.
    pub since: Vec<String>,
    /// The class it is emitted with, as `manager.conf` labels (`call`, `system`, ...): a
    /// session must be allowed to read every one of them.
    pub read_class: Vec<String>,
    /// The documented fields, in documented order (duplicates differing only in case merged).
    pub fields: Vec<Field>,
}

/// One event field.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The header name, e.g. `Cause-txt`; for an indexed field, as documented (`ReportXDLSR`).
    pub name: String,
    /// For a numbered family of headers (`Report0DLSR`, `Report1DLSR`, ...), the header name
    /// with `{}` where the number goes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indexed: Option<String>,
}

/// A place where the generator departs from the documentation.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    /// What was changed, e.g. `event NewExten: name`.
    pub subject: String,
    /// The documented value.
    pub documented: String,
    /// The value used.
    pub used: String,
    /// Where Asterisk's source shows it (`file:line` in the release's tarball).
    pub evidence: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Facts {
    /// The facts as committed: pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }
}
