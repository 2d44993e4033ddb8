//! The Rust emitter: `crates/ami-catalog/src/generated/{mod,events,actions}.rs`.
//!
//! The files are excluded from rustfmt (`#[rustfmt::skip]` on their `mod` lines), so that the
//! generation does not depend on the rustfmt version; they are written tidy here.

use std::fmt::Write as _;
use std::path::PathBuf;

use ami_proto::authority::Escalation;
use ami_proto::perm::Privilege;

use super::{EmitError, Emitter, Names, Output, banner, join_and, labels};
use crate::facts::Facts;
use crate::naming::{RUST_KEYWORDS, type_name};

/// The Rust emitter.
#[derive(Debug, Clone, Copy)]
pub struct Rust;

const DIR: &str = "crates/ami-catalog/src/generated";
/// One call of every builder's `new`, for the test that checks them against the facts.
const CALLS: &str = "crates/ami-catalog/tests/builders/calls.rs";

/// Members of an event view besides its getters.
const EVENT_MEMBERS: &[&str] = &["message", "get", "from_message", "spec", "wrap", "new"];
/// Members of an action builder besides its setters.
const ACTION_MEMBERS: &[&str] =
    &["new", "header", "as_action", "into_action", "to_bytes", "encode_into", "permitted"];

impl Emitter for Rust {
    fn name(&self) -> &'static str {
        "Rust"
    }

    fn emit(&self, facts: &Facts, names: &Names) -> Result<Vec<Output>, EmitError> {
        Ok(vec![
            Output { path: PathBuf::from(DIR).join("mod.rs"), contents: module(facts) },
            Output { path: PathBuf::from(DIR).join("events.rs"), contents: events(facts, names)? },
            Output {
                path: PathBuf::from(DIR).join("actions.rs"),
                contents: actions(facts, names)?,
            },
            Output { path: PathBuf::from(CALLS), contents: builder_calls(facts, names)? },
        ])
    }
}

fn reserved(own: &[&'static str]) -> Vec<&'static str> {
    RUST_KEYWORDS.iter().chain(own).copied().collect()
}

/// `Privilege::SYSTEM.union(Privilege::CALL)`.
fn privilege(p: Privilege) -> String {
    let parts: Vec<String> =
        labels(p).iter().map(|l| format!("Privilege::{}", l.to_ascii_uppercase())).collect();
    match parts.split_first() {
        None => "Privilege::NONE".to_string(),
        Some((first, rest)) => {
            rest.iter().fold(first.clone(), |acc, p| format!("{acc}.union({p})"))
        }
    }
}

fn str_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("&[{}]", quoted.join(", "))
}

fn code_list(items: &[String]) -> String {
    join_and(&items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>())
}

fn module(facts: &Facts) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "// {}", banner(facts));
    let _ = writeln!(
        s,
        "//! The generated part of the catalog: tables, event views and action builders."
    );
    s.push('\n');
    s.push_str("pub mod actions;\npub mod events;\n\n");
    let _ =
        writeln!(s, "/// The Asterisk release whose documentation the catalog was generated from.");
    let _ = writeln!(s, "pub const ASTERISK_VERSION: &str = {:?};", facts.asterisk_version);
    s
}

fn escalation_doc(e: Escalation) -> String {
    let what = match e {
        Escalation::OriginateBlacklist => "the application/data blacklist",
        Escalation::GetvarFunctions => "`SHELL`/`EVAL` need `system`",
        Escalation::StatusVariables => "`SHELL`/`EVAL` need `system`",
        Escalation::CommandBlacklist => "the CLI command blacklist",
    };
    let params: Vec<String> = e.parameters().iter().map(|p| p.to_string()).collect();
    format!("[`Escalation::{e:?}`] on {} ({what})", code_list(&params))
}

fn events(facts: &Facts, names: &Names) -> Result<String, EmitError> {
    let n = facts.events.len();
    let mut s = String::new();
    let _ = writeln!(s, "// {}", banner(facts));
    s.push_str(
        "//! Every documented event: [`EventKind`], the typed views and [`TypedEvent`].\n\n\
         use ami_proto::perm::Privilege;\n\
         use ami_proto::{Message, MessageKind};\n\n\
         use crate::event::{CatalogEvent, field, indexed_field};\n\
         use crate::spec::{EventSpec, find};\n\
         use crate::value::Value;\n\n",
    );
    let _ = writeln!(s, "/// Every documented event, sorted by name (ASCII-case-insensitively).");
    let _ = writeln!(s, "pub(crate) static EVENTS: [EventSpec; {n}] = [");
    let mut classes = Vec::new();
    for e in &facts.events {
        let class = names.read_class(e)?;
        classes.push(class);
        let fields: Vec<String> =
            e.fields.iter().map(|f| f.indexed.clone().unwrap_or_else(|| f.name.clone())).collect();
        let _ = writeln!(s, "    EventSpec {{");
        let _ = writeln!(s, "        name: {:?},", e.name);
        let _ = writeln!(s, "        read_class: {},", privilege(class));
        let _ = writeln!(s, "        modules: {},", str_list(&e.modules));
        let _ = writeln!(s, "        since: {},", str_list(&e.since));
        let _ = writeln!(s, "        fields: {},", str_list(&fields));
        let _ = writeln!(s, "    }},");
    }
    s.push_str("];\n\n");

    // EventKind
    s.push_str(
        "/// Which documented event a message is.\n\
         ///\n\
         /// New Asterisk releases add events, so the enum is `#[non_exhaustive]`.\n\
         #[non_exhaustive]\n\
         #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]\n\
         pub enum EventKind {\n",
    );
    for e in &facts.events {
        let _ = writeln!(s, "    /// `{}`", e.name);
        let _ = writeln!(s, "    {},", type_name(&e.name));
    }
    s.push_str("}\n\n");
    s.push_str("impl EventKind {\n");
    let _ = writeln!(s, "    /// Every kind, in the order of [`crate::events()`].");
    let _ = writeln!(s, "    pub const ALL: [EventKind; {n}] = [");
    for e in &facts.events {
        let _ = writeln!(s, "        EventKind::{},", type_name(&e.name));
    }
    s.push_str(
        "    ];\n\n\
         \x20   /// The kind of the event called `name` (ASCII-case-insensitive).\n\
         \x20   pub fn from_name(name: &[u8]) -> Option<EventKind> {\n\
         \x20       find(&EVENTS, name, |e| e.name).and_then(|i| EventKind::ALL.get(i).copied())\n\
         \x20   }\n\n\
         \x20   /// The catalog entry.\n\
         \x20   pub fn spec(self) -> &'static EventSpec {\n\
         \x20       &EVENTS[self as usize]\n\
         \x20   }\n\n\
         \x20   /// The name as emitted in `Event:`.\n\
         \x20   pub fn name(self) -> &'static str {\n\
         \x20       self.spec().name\n\
         \x20   }\n\
         }\n\n",
    );

    // TypedEvent
    s.push_str(
        "/// An event, typed if the catalog documents it.\n\
         ///\n\
         /// Made by [`TypedEvent::from_message`]; an event the catalog does not know (a newer\n\
         /// Asterisk, a `UserEvent` of your dialplan, ...) is kept whole as [`TypedEvent::Other`].\n\
         #[non_exhaustive]\n\
         #[derive(Clone, Copy, Debug)]\n\
         pub enum TypedEvent<'a> {\n",
    );
    for e in &facts.events {
        let t = type_name(&e.name);
        let _ = writeln!(s, "    /// `{}`", e.name);
        let _ = writeln!(s, "    {t}({t}<'a>),");
    }
    s.push_str(
        "    /// An event the catalog does not document.\n\
         \x20   Other(Message<'a>),\n\
         }\n\n",
    );
    s.push_str(
        "impl<'a> TypedEvent<'a> {\n\
         \x20   /// The typed form of `message`; `None` if it is not an event (a response, an action).\n\
         \x20   pub fn from_message(message: &Message<'a>) -> Option<TypedEvent<'a>> {\n\
         \x20       if message.kind() != MessageKind::Event {\n\
         \x20           return None;\n\
         \x20       }\n\
         \x20       let m = *message;\n\
         \x20       Some(match message.event().and_then(EventKind::from_name) {\n",
    );
    for e in &facts.events {
        let t = type_name(&e.name);
        let _ = writeln!(s, "            Some(EventKind::{t}) => TypedEvent::{t}({t}::wrap(m)),");
    }
    s.push_str(
        "            None => TypedEvent::Other(m),\n\
         \x20       })\n\
         \x20   }\n\n\
         \x20   /// The kind, or `None` for [`TypedEvent::Other`].\n\
         \x20   pub fn kind(&self) -> Option<EventKind> {\n\
         \x20       Some(match self {\n",
    );
    for e in &facts.events {
        let t = type_name(&e.name);
        let _ = writeln!(s, "            TypedEvent::{t}(_) => EventKind::{t},");
    }
    s.push_str(
        "            TypedEvent::Other(_) => return None,\n\
         \x20       })\n\
         \x20   }\n\n\
         \x20   /// The message, whatever the variant.\n\
         \x20   pub fn message(&self) -> Message<'a> {\n\
         \x20       match self {\n",
    );
    for e in &facts.events {
        let t = type_name(&e.name);
        let _ = writeln!(s, "            TypedEvent::{t}(e) => e.message(),");
    }
    s.push_str(
        "            TypedEvent::Other(m) => *m,\n\
         \x20       }\n\
         \x20   }\n\n\
         \x20   /// The first value of any header (ASCII-case-insensitive).\n\
         \x20   pub fn get(&self, name: &str) -> Option<Value<'a>> {\n\
         \x20       field(&self.message(), name)\n\
         \x20   }\n\n\
         \x20   /// Every documented field with its value ([`CatalogEvent::fields`]); empty for\n\
         \x20   /// [`TypedEvent::Other`].\n\
         \x20   pub fn fields(&self) -> Vec<(&'static str, Option<Value<'a>>)> {\n\
         \x20       match self {\n",
    );
    for e in &facts.events {
        let t = type_name(&e.name);
        let _ = writeln!(s, "            TypedEvent::{t}(e) => e.fields(),");
    }
    s.push_str(
        "            TypedEvent::Other(_) => Vec::new(),\n\
         \x20       }\n\
         \x20   }\n\
         }\n",
    );

    // The views.
    let reserved = reserved(EVENT_MEMBERS);
    for (e, class) in facts.events.iter().zip(&classes) {
        let t = type_name(&e.name);
        let headers: Vec<&str> =
            e.fields.iter().map(|f| f.indexed.as_deref().unwrap_or(&f.name)).collect();
        let members = names.members(&e.name, headers, &reserved)?;
        s.push('\n');
        let _ = writeln!(s, "/// The `{}` event.", e.name);
        let _ = writeln!(s, "///");
        let class_text =
            if class.is_empty() { "none".to_string() } else { code_list(&labels(*class)) };
        let _ = writeln!(
            s,
            "/// Read class {class_text}; documented by {} since {}.",
            code_list(&e.modules),
            if e.since.is_empty() { "an unknown version".to_string() } else { e.since.join(", ") }
        );
        let _ = writeln!(
            s,
            "/// {} documented field{}; any other header is reachable with [`{t}::get`].",
            e.fields.len(),
            if e.fields.len() == 1 { "" } else { "s" }
        );
        let _ = writeln!(s, "#[derive(Clone, Copy, Debug)]");
        let _ = writeln!(s, "pub struct {t}<'a> {{");
        let _ = writeln!(s, "    message: Message<'a>,");
        let _ = writeln!(s, "}}");
        s.push('\n');
        let _ = writeln!(s, "impl<'a> CatalogEvent<'a> for {t}<'a> {{");
        let _ = writeln!(s, "    const KIND: EventKind = EventKind::{t};");
        s.push('\n');
        let _ = writeln!(s, "    fn wrap(message: Message<'a>) -> Self {{");
        let _ = writeln!(s, "        {t} {{ message }}");
        let _ = writeln!(s, "    }}");
        s.push('\n');
        let _ = writeln!(s, "    fn message(&self) -> Message<'a> {{");
        let _ = writeln!(s, "        self.message");
        let _ = writeln!(s, "    }}");
        s.push('\n');
        let _ = writeln!(s, "    fn fields(&self) -> Vec<(&'static str, Option<Value<'a>>)> {{");
        let plain: Vec<String> = members
            .iter()
            .filter(|m| !m.header.contains("{}"))
            .map(|m| format!("({:?}, self.{}())", m.header, m.name))
            .collect();
        if plain.is_empty() {
            let _ = writeln!(s, "        Vec::new()");
        } else {
            let _ = writeln!(s, "        vec![");
            for p in &plain {
                let _ = writeln!(s, "            {p},");
            }
            let _ = writeln!(s, "        ]");
        }
        let _ = writeln!(s, "    }}");
        let _ = writeln!(s, "}}");
        s.push('\n');
        let _ = writeln!(s, "impl<'a> {t}<'a> {{");
        let _ = writeln!(s, "    /// The view of `message` if it is a `{}` event.", e.name);
        let _ = writeln!(s, "    pub fn from_message(message: &Message<'a>) -> Option<Self> {{");
        let _ = writeln!(s, "        <Self as CatalogEvent<'a>>::from_message(message)");
        let _ = writeln!(s, "    }}");
        s.push('\n');
        let _ = writeln!(s, "    /// The message viewed.");
        let _ = writeln!(s, "    pub fn message(&self) -> Message<'a> {{");
        let _ = writeln!(s, "        self.message");
        let _ = writeln!(s, "    }}");
        s.push('\n');
        let _ = writeln!(s, "    /// The first value of any header (ASCII-case-insensitive).");
        let _ = writeln!(s, "    pub fn get(&self, name: &str) -> Option<Value<'a>> {{");
        let _ = writeln!(s, "        field(&self.message, name)");
        let _ = writeln!(s, "    }}");
        for m in &members {
            if m.header.contains("{}") {
                let _ = writeln!(s, "    /// The `{}` header (`{{}}` is `index`).", m.header);
                let _ = writeln!(
                    s,
                    "    pub fn {}(&self, index: u32) -> Option<Value<'a>> {{ indexed_field(&self.message, {:?}, index) }}",
                    m.name, m.header
                );
            } else {
                let _ = writeln!(s, "    /// The `{}` header.", m.header);
                let _ = writeln!(
                    s,
                    "    pub fn {}(&self) -> Option<Value<'a>> {{ field(&self.message, {:?}) }}",
                    m.name, m.header
                );
            }
        }
        let _ = writeln!(s, "}}");
    }
    Ok(s)
}

fn actions(facts: &Facts, names: &Names) -> Result<String, EmitError> {
    let n = facts.actions.len();
    let mut s = String::new();
    let _ = writeln!(s, "// {}", banner(facts));
    s.push_str(
        "//! Every documented action: its catalog entry and its builder.\n\n\
         #![allow(clippy::too_many_arguments)]\n\n\
         use ami_proto::authority::Escalation;\n\
         use ami_proto::encode::Action;\n\
         use ami_proto::perm::Privilege;\n\n\
         use crate::action::{CatalogAction, indexed, set};\n\
         use crate::spec::{ActionSpec, ParameterSpec};\n\n",
    );
    let _ = writeln!(s, "/// Every documented action, in Asterisk's registration order.");
    let _ = writeln!(s, "pub(crate) static ACTIONS: [ActionSpec; {n}] = [");
    let mut access = Vec::new();
    for a in &facts.actions {
        let (authority, escalation) = names.authority(a)?;
        access.push((authority, escalation));
        let _ = writeln!(s, "    ActionSpec {{");
        let _ = writeln!(s, "        name: {:?},", a.name);
        let _ = writeln!(s, "        authority: {},", privilege(authority));
        let _ = writeln!(
            s,
            "        escalation: {},",
            escalation.map_or("None".to_string(), |e| format!("Some(Escalation::{e:?})"))
        );
        let _ = writeln!(s, "        modules: {},", str_list(&a.modules));
        let _ = writeln!(s, "        since: {},", str_list(&a.since));
        let _ = writeln!(s, "        parameters: &[");
        for p in &a.parameters {
            let _ = writeln!(
                s,
                "            ParameterSpec {{ name: {:?}, required: {}, repeatable: {}, indexed: {}, default: {} }},",
                p.indexed.as_deref().unwrap_or(&p.name),
                p.required,
                p.repeatable,
                p.indexed.is_some(),
                p.default.as_ref().map_or("None".to_string(), |d| format!("Some({d:?})"))
            );
        }
        let _ = writeln!(s, "        ],");
        let _ = writeln!(s, "        list_items: {},", str_list(&a.list_items));
        let _ = writeln!(
            s,
            "        list_complete: {},",
            a.list_complete.as_ref().map_or("None".to_string(), |c| format!("Some({c:?})"))
        );
        let _ = writeln!(s, "    }},");
    }
    s.push_str("];\n");

    let reserved = reserved(ACTION_MEMBERS);
    for (index, (a, (authority, escalation))) in facts.actions.iter().zip(&access).enumerate() {
        let t = type_name(&a.name);
        let headers: Vec<&str> =
            a.parameters.iter().map(|p| p.indexed.as_deref().unwrap_or(&p.name)).collect();
        let members = names.members(&a.name, headers, &reserved)?;
        let required: Vec<_> =
            a.parameters.iter().zip(&members).filter(|(p, _)| p.required).collect();
        s.push('\n');
        let req_names: Vec<String> = required.iter().map(|(p, _)| p.name.clone()).collect();
        let _ = writeln!(
            s,
            "/// The `{}` action{}.",
            a.name,
            if req_names.is_empty() {
                String::new()
            } else {
                format!(": requires {}", code_list(&req_names))
            }
        );
        let _ = writeln!(s, "///");
        let write = if authority.is_empty() {
            "Every logged-in session may send it".to_string()
        } else {
            format!("Write classes {} (any one)", code_list(&labels(*authority)))
        };
        let check = escalation.map_or(String::new(), |e| format!("; checks {}", escalation_doc(e)));
        let _ = writeln!(s, "/// {write}{check}.");
        let _ = writeln!(
            s,
            "/// Documented by {} since {}.",
            code_list(&a.modules),
            if a.since.is_empty() { "an unknown version".to_string() } else { a.since.join(", ") }
        );
        let _ = writeln!(s, "#[derive(Clone, Debug, PartialEq, Eq, Hash)]");
        let _ = writeln!(s, "#[must_use]");
        let _ = writeln!(s, "pub struct {t}(Action);");
        s.push('\n');
        let _ = writeln!(s, "impl CatalogAction for {t} {{");
        let _ = writeln!(s, "    const SPEC: &'static ActionSpec = &ACTIONS[{index}];");
        s.push('\n');
        let _ = writeln!(s, "    fn as_action(&self) -> &Action {{");
        let _ = writeln!(s, "        &self.0");
        let _ = writeln!(s, "    }}");
        s.push('\n');
        let _ = writeln!(s, "    fn into_action(self) -> Action {{");
        let _ = writeln!(s, "        self.0");
        let _ = writeln!(s, "    }}");
        let _ = writeln!(s, "}}");
        s.push('\n');
        let _ = writeln!(s, "impl From<{t}> for Action {{");
        let _ = writeln!(s, "    fn from(action: {t}) -> Action {{");
        let _ = writeln!(s, "        action.0");
        let _ = writeln!(s, "    }}");
        let _ = writeln!(s, "}}");
        s.push('\n');
        if required.is_empty() {
            let _ = writeln!(s, "impl Default for {t} {{");
            let _ = writeln!(s, "    fn default() -> {t} {{");
            let _ = writeln!(s, "        {t}::new()");
            let _ = writeln!(s, "    }}");
            let _ = writeln!(s, "}}");
            s.push('\n');
        }
        let _ = writeln!(s, "impl {t} {{");
        // new()
        if required.is_empty() {
            let _ = writeln!(s, "    /// A new `{}` action.", a.name);
        } else {
            let _ = writeln!(
                s,
                "    /// A new `{}` action with its required {}.",
                a.name,
                code_list(&req_names)
            );
        }
        let args: Vec<String> =
            required.iter().map(|(_, m)| format!("{}: impl Into<Vec<u8>>", m.name)).collect();
        let _ = writeln!(s, "    pub fn new({}) -> {t} {{", args.join(", "));
        let mut body = format!("Action::new({:?})", a.name);
        for (p, m) in &required {
            let _ = write!(body, ".with({:?}, {})", p.name, m.name);
        }
        let _ = writeln!(s, "        {t}({body})");
        let _ = writeln!(s, "    }}");
        for (p, m) in a.parameters.iter().zip(&members) {
            if p.required {
                continue;
            }
            s.push('\n');
            let default = p.default.as_ref().map_or(String::new(), |d| format!(" (default `{d}`)"));
            if let Some(template) = &p.indexed {
                let _ = writeln!(s, "    /// Sets `{template}`{default}, `{{}}` being `index`.");
                let _ = writeln!(
                    s,
                    "    pub fn {}(self, index: u32, value: impl Into<Vec<u8>>) -> {t} {{",
                    m.name
                );
                let _ = writeln!(
                    s,
                    "        {t}(set(self.0, &indexed({template:?}, index), value.into()))"
                );
            } else if p.repeatable {
                let _ =
                    writeln!(s, "    /// Adds a `{}` header (the action reads every one).", p.name);
                let _ =
                    writeln!(s, "    pub fn {}(self, value: impl Into<Vec<u8>>) -> {t} {{", m.name);
                let _ = writeln!(s, "        {t}(self.0.with({:?}, value))", p.name);
            } else {
                let _ = writeln!(s, "    /// Sets `{}`{default}.", p.name);
                let _ =
                    writeln!(s, "    pub fn {}(self, value: impl Into<Vec<u8>>) -> {t} {{", m.name);
                let _ = writeln!(s, "        {t}(set(self.0, {:?}, value.into()))", p.name);
            }
            let _ = writeln!(s, "    }}");
        }
        s.push('\n');
        let _ = writeln!(s, "    /// Adds any header, documented or not.");
        let _ = writeln!(
            s,
            "    pub fn header(self, name: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> {t} {{"
        );
        let _ = writeln!(s, "        {t}(self.0.with(name, value))");
        let _ = writeln!(s, "    }}");
        let _ = writeln!(s, "}}");
    }
    Ok(s)
}

/// `calls.rs`: `Builder::new("v0", "v1", ...)` for every action, so that a hand-written test can
/// compare what each `new` requires with the facts extract.
fn builder_calls(facts: &Facts, names: &Names) -> Result<String, EmitError> {
    let mut s = String::new();
    let _ = writeln!(s, "// {}", banner(facts));
    s.push_str(
        "//! Every builder's `new`, called with `\"v0\"`, `\"v1\"`, ... for its arguments.\n\n\
         use ami_catalog::CatalogAction;\n\
         use ami_catalog::actions::*;\n\
         use ami_proto::encode::Action;\n\n\
         /// `(action name, number of arguments, the action new() built)`.\n\
         pub fn all() -> Vec<(&'static str, usize, Action)> {\n\
         \x20   vec![\n",
    );
    let reserved = reserved(ACTION_MEMBERS);
    for a in &facts.actions {
        let t = type_name(&a.name);
        let headers: Vec<&str> =
            a.parameters.iter().map(|p| p.indexed.as_deref().unwrap_or(&p.name)).collect();
        names.members(&a.name, headers, &reserved)?;
        let n = a.parameters.iter().filter(|p| p.required).count();
        let args: Vec<String> = (0..n).map(|i| format!("\"v{i}\"")).collect();
        let _ = writeln!(
            s,
            "        ({:?}, {n}, {t}::new({}).into_action()),",
            a.name,
            args.join(", ")
        );
    }
    s.push_str("    ]\n}\n");
    Ok(s)
}
