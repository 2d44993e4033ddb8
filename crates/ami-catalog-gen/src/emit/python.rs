//! The Python emitter: `libami/events.py`, `libami/actions.py` and their `.pyi` stubs, in
//! `bindings/python/python/`.
//!
//! The classes are thin: the behaviour (frozen instances, lookups, encoding through the native
//! injection-proof encoder) is in the hand-written `libami/_catalog.py`. The stubs repeat the
//! generated signatures so that `mypy.stubtest` checks the runtime against them.

use std::fmt::Write as _;
use std::path::PathBuf;

use ami_proto::perm::Privilege;

use super::{EmitError, Emitter, Member, Names, Output, banner, join_and, labels};
use crate::facts::{Action, Event, Facts};
use crate::naming::{PYTHON_KEYWORDS, type_name};

/// The Python emitter.
#[derive(Debug, Clone, Copy)]
pub struct Python;

const DIR: &str = "bindings/python/python/libami";

/// Members of an event class besides its fields.
const EVENT_MEMBERS: &[&str] = &["message", "get", "name", "NAME", "READ_CLASS", "FIELDS"];
/// Keyword arguments of an action class besides its parameters.
const ACTION_MEMBERS: &[&str] = &["headers", "self", "name", "fields", "encode"];

impl Emitter for Python {
    fn name(&self) -> &'static str {
        "Python"
    }

    fn emit(&self, facts: &Facts, names: &Names) -> Result<Vec<Output>, EmitError> {
        let (events_py, events_pyi) = events(facts, names)?;
        let (actions_py, actions_pyi) = actions(facts, names)?;
        let out = |name: &str, contents| Output { path: PathBuf::from(DIR).join(name), contents };
        Ok(vec![
            out("events.py", events_py),
            out("events.pyi", events_pyi),
            out("actions.py", actions_py),
            out("actions.pyi", actions_pyi),
        ])
    }
}

fn reserved(own: &[&'static str]) -> Vec<&'static str> {
    PYTHON_KEYWORDS.iter().chain(own).copied().collect()
}

/// `Privilege.SYSTEM | Privilege.CALL`.
fn privilege(p: Privilege) -> String {
    let parts: Vec<String> =
        labels(p).iter().map(|l| format!("Privilege.{}", l.to_ascii_uppercase())).collect();
    if parts.is_empty() { "Privilege.NONE".to_string() } else { parts.join(" | ") }
}

fn tuple(items: &[String]) -> String {
    match items {
        [] => "()".to_string(),
        [one] => format!("({one:?},)"),
        _ => format!("({})", items.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")),
    }
}

fn code_list(items: &[String]) -> String {
    join_and(&items.iter().map(|s| format!("``{s}``")).collect::<Vec<_>>())
}

fn event_doc(e: &Event, class: Privilege) -> String {
    let class = if class.is_empty() { "none".to_string() } else { code_list(&labels(class)) };
    let since =
        if e.since.is_empty() { "an unknown version".to_string() } else { e.since.join(", ") };
    format!(
        "The ``{}`` event: read class {class}; documented by {} since {since}.",
        e.name,
        code_list(&e.modules)
    )
}

fn header(facts: &Facts, doc: &str) -> String {
    format!("# {}\n\"\"\"{doc}\"\"\"\n\n", banner(facts))
}

fn event_members(e: &Event, names: &Names) -> Result<Vec<Member>, EmitError> {
    let headers: Vec<&str> =
        e.fields.iter().map(|f| f.indexed.as_deref().unwrap_or(&f.name)).collect();
    names.members(&e.name, headers, &reserved(EVENT_MEMBERS))
}

fn events(facts: &Facts, names: &Names) -> Result<(String, String), EmitError> {
    let doc = format!(
        "Every AMI event Asterisk {} documents, as a typed, frozen class.\n\n\
         :func:`typed` turns a message (or an ``Event``) into an instance of its class, or of\n\
         :class:`UnknownEvent` for an event the catalog does not know::\n\n\
         \x20   match libami.events.typed(message):\n\
         \x20       case libami.events.Hangup(channel=channel, cause_txt=why):\n\
         \x20           print(channel, why)\n\n\
         Every documented field is an attribute (``None`` when absent); every other header is\n\
         reachable through ``event.get(name)`` and ``event.message``.\n",
        facts.asterisk_version
    );
    let mut py = header(facts, &doc);
    let mut pyi = header(facts, &doc);
    py.push_str(
        "from typing import Dict, Tuple, Type, Union\n\n\
         from libami._catalog import TypedEvent, UnknownEvent, _field, _indexed_field, _typed\n\
         from libami._native import Event, Message, Privilege\n\n",
    );
    pyi.push_str(
        "from typing import ClassVar, Dict, Optional, Tuple, Type, Union\n\n\
         from libami._catalog import TypedEvent as TypedEvent, UnknownEvent as UnknownEvent\n\
         from libami._native import Event, Message, Privilege\n\n",
    );
    let _ = writeln!(py, "ASTERISK_VERSION = {:?}", facts.asterisk_version);
    let _ = writeln!(pyi, "ASTERISK_VERSION: str");
    let mut all: Vec<String> = vec!["ASTERISK_VERSION".into(), "EVENTS".into()];
    for e in &facts.events {
        let t = type_name(&e.name);
        all.push(t.clone());
        let class = names.read_class(e)?;
        let members = event_members(e, names)?;
        let plain: Vec<&Member> = members.iter().filter(|m| !m.header.contains("{}")).collect();
        let match_args: Vec<String> = plain.iter().map(|m| m.name.clone()).collect();
        let fields: Vec<String> = members.iter().map(|m| m.header.clone()).collect();
        let doc = event_doc(e, class);

        py.push_str("\n\n");
        let _ = writeln!(py, "class {t}(TypedEvent):");
        let _ = writeln!(py, "    \"\"\"{doc}\"\"\"\n");
        let _ = writeln!(py, "    __slots__ = ()");
        let _ = writeln!(py, "    NAME = {:?}", e.name);
        let _ = writeln!(py, "    READ_CLASS = {}", privilege(class));
        let _ = writeln!(py, "    FIELDS = {}", tuple(&fields));
        let _ = writeln!(py, "    __match_args__ = {}", tuple(&match_args));
        for m in &members {
            if m.header.contains("{}") {
                let _ = writeln!(py, "    {} = _indexed_field({:?})", m.name, m.header);
            } else {
                let _ = writeln!(py, "    {} = _field({:?})", m.name, m.header);
            }
        }

        pyi.push('\n');
        let _ = writeln!(pyi, "class {t}(TypedEvent):");
        let _ = writeln!(pyi, "    \"\"\"{doc}\"\"\"\n");
        let _ = writeln!(pyi, "    NAME: ClassVar[str]");
        let _ = writeln!(pyi, "    READ_CLASS: ClassVar[Privilege]");
        let _ = writeln!(pyi, "    FIELDS: ClassVar[Tuple[str, ...]]");
        let _ = writeln!(pyi, "    __match_args__ = {}", tuple(&match_args));
        for m in &members {
            if m.header.contains("{}") {
                let _ = writeln!(pyi, "    def {}(self, index: int) -> Optional[str]:", m.name);
                let _ = writeln!(
                    pyi,
                    "        \"\"\"The ``{}`` header, ``{{}}`` being ``index``.\"\"\"",
                    m.header
                );
            } else {
                let _ = writeln!(pyi, "    @property");
                let _ = writeln!(pyi, "    def {}(self) -> Optional[str]:", m.name);
                let _ = writeln!(pyi, "        \"\"\"The ``{}`` header.\"\"\"", m.header);
            }
        }
    }
    // The registry and typed().
    py.push_str("\n\n");
    py.push_str(
        "#: Every documented event class, by lower-case name.\n\
         EVENTS: Dict[str, Type[TypedEvent]] = {\n",
    );
    for e in &facts.events {
        let _ = writeln!(py, "    {:?}: {},", e.name.to_ascii_lowercase(), type_name(&e.name));
    }
    py.push_str("}\n\n\n");
    py.push_str(
        "def typed(message: Union[Message, Event]) -> TypedEvent:\n\
         \x20   \"\"\"The typed event for ``message`` (an event ``Message``, or an ``Event`` of a\n\
         \x20   connection): an instance of its class, or :class:`UnknownEvent`.\"\"\"\n\
         \x20   return _typed(EVENTS, message)\n",
    );
    pyi.push_str(
        "\nEVENTS: Dict[str, Type[TypedEvent]]\n\n\
         def typed(message: Union[Message, Event]) -> TypedEvent:\n\
         \x20   \"\"\"The typed event for ``message`` (an event ``Message``, or an ``Event`` of a\n\
         \x20   connection): an instance of its class, or :class:`UnknownEvent`.\"\"\"\n",
    );
    all.push("TypedEvent".into());
    all.push("UnknownEvent".into());
    all.push("typed".into());
    all.sort();
    let list: Vec<String> = all.iter().map(|n| format!("    {n:?},")).collect();
    let all_text = format!("\n__all__ = [\n{}\n]\n", list.join("\n"));
    py.push_str(&all_text);
    Ok((py, pyi))
}

fn action_doc(a: &Action, authority: Privilege, required: &[String]) -> String {
    let req = if required.is_empty() {
        String::new()
    } else {
        format!(": requires {}", code_list(required))
    };
    let write = if authority.is_empty() {
        "every logged-in session may send it".to_string()
    } else {
        format!("write classes {} (any one)", code_list(&labels(authority)))
    };
    let since =
        if a.since.is_empty() { "an unknown version".to_string() } else { a.since.join(", ") };
    format!(
        "The ``{}`` action{req}.\n\n    {}; documented by {} since {since}.",
        a.name,
        capitalize(&write),
        code_list(&a.modules)
    )
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or(String::new(), |f| f.to_uppercase().chain(c).collect())
}

fn actions(facts: &Facts, names: &Names) -> Result<(String, String), EmitError> {
    let doc = format!(
        "Every AMI action Asterisk {} documents, as a class taking keyword arguments.\n\n\
         Required parameters are required arguments; a repeatable one takes a list, a numbered\n\
         family (``Action-000000``, ...) a mapping from numbers to values; ``headers`` adds any\n\
         other header::\n\n\
         \x20   await ami.action(libami.actions.Originate(channel=\"PJSIP/100\", exten=\"200\",\n\
         \x20                                             context=\"default\", priority=1))\n\n\
         Encoding goes through the native encoder, which refuses anything that could inject a\n\
         header.\n",
        facts.asterisk_version
    );
    let mut py = header(facts, &doc);
    let mut pyi = header(facts, &doc);
    py.push_str(
        "from typing import Dict, Type\n\n\
         from libami._catalog import Action\n\
         from libami._native import Privilege\n\n",
    );
    pyi.push_str(
        "from typing import ClassVar, Dict, Iterable, Mapping, Optional, Tuple, Type\n\n\
         from libami._catalog import Action as Action, _Fields, _Value\n\
         from libami._native import Privilege\n\n",
    );
    let _ = writeln!(py, "ASTERISK_VERSION = {:?}", facts.asterisk_version);
    let _ = writeln!(pyi, "ASTERISK_VERSION: str");
    let mut all: Vec<String> = vec!["ASTERISK_VERSION".into(), "ACTIONS".into(), "Action".into()];
    let reserved = reserved(ACTION_MEMBERS);
    for a in &facts.actions {
        let t = type_name(&a.name);
        all.push(t.clone());
        let (authority, _) = names.authority(a)?;
        let headers: Vec<&str> =
            a.parameters.iter().map(|p| p.indexed.as_deref().unwrap_or(&p.name)).collect();
        let members = names.members(&a.name, headers, &reserved)?;
        let required: Vec<String> =
            a.parameters.iter().filter(|p| p.required).map(|p| p.name.clone()).collect();
        let doc = action_doc(a, authority, &required);
        // (keyword, header, kind) with kind: r = required, o = optional, m = repeatable,
        // i = indexed.
        let mut params = Vec::new();
        for (p, m) in a.parameters.iter().zip(&members) {
            let kind = if p.required {
                'r'
            } else if p.indexed.is_some() {
                'i'
            } else if p.repeatable {
                'm'
            } else {
                'o'
            };
            params.push((m.name.clone(), m.header.clone(), kind));
        }
        // Required first (keyword-only, so the order is only for readability).
        params.sort_by_key(|(_, _, k)| *k != 'r');

        py.push_str("\n\n");
        let _ = writeln!(py, "class {t}(Action):");
        let _ = writeln!(py, "    \"\"\"{doc}\"\"\"\n");
        let _ = writeln!(py, "    __slots__ = ()");
        let _ = writeln!(py, "    NAME = {:?}", a.name);
        let _ = writeln!(py, "    AUTHORITY = {}", privilege(authority));
        let _ = writeln!(py, "    REQUIRED = {}", tuple(&required));
        let spec: Vec<String> = params
            .iter()
            .map(|(k, h, kind)| format!("({k:?}, {h:?}, {:?})", kind.to_string()))
            .collect();
        let _ = writeln!(
            py,
            "    PARAMETERS = ({}{})",
            spec.join(", "),
            if spec.len() == 1 { "," } else { "" }
        );

        pyi.push('\n');
        let _ = writeln!(pyi, "class {t}(Action):");
        let _ = writeln!(pyi, "    \"\"\"{doc}\"\"\"\n");
        let _ = writeln!(pyi, "    NAME: ClassVar[str]");
        let _ = writeln!(pyi, "    AUTHORITY: ClassVar[Privilege]");
        let _ = writeln!(pyi, "    REQUIRED: ClassVar[Tuple[str, ...]]");
        let _ = writeln!(pyi, "    PARAMETERS: ClassVar[Tuple[Tuple[str, str, str], ...]]");
        let mut sig = vec!["self".to_string(), "*".to_string()];
        for (k, _, kind) in &params {
            sig.push(match kind {
                'r' => format!("{k}: _Value"),
                'i' => format!("{k}: Optional[Mapping[int, _Value]] = ..."),
                'm' => format!("{k}: Optional[Iterable[_Value]] = ..."),
                _ => format!("{k}: Optional[_Value] = ..."),
            });
        }
        sig.push("headers: _Fields = ...".to_string());
        let _ = writeln!(pyi, "    def __init__(");
        for s in &sig {
            let _ = writeln!(pyi, "        {s},");
        }
        let _ = writeln!(pyi, "    ) -> None: ...");
    }
    py.push_str("\n\n#: Every documented action class, by lower-case name.\nACTIONS: Dict[str, Type[Action]] = {\n");
    for a in &facts.actions {
        let _ = writeln!(py, "    {:?}: {},", a.name.to_ascii_lowercase(), type_name(&a.name));
    }
    py.push_str("}\n");
    pyi.push_str("\nACTIONS: Dict[str, Type[Action]]\n");
    all.sort();
    let list: Vec<String> = all.iter().map(|n| format!("    {n:?},")).collect();
    let _ = write!(py, "\n__all__ = [\n{}\n]\n", list.join("\n"));
    Ok((py, pyi))
}
