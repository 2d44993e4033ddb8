//! The TypeScript emitter: `bindings/node/ts/events.ts` and `bindings/node/ts/actions.ts`.
//!
//! The generated code is thin: event classes get their field getters from `defineFields`, and
//! action factories check and order their parameters in `actionFactory` (both in the
//! hand-written `ts/catalog.ts`); the types (one interface per event, one parameter interface
//! per action) are what the generation is for: `tsc --strict` checks every field a program
//! reads and every parameter it passes.
//!
//! Member names are the shared snake_case names ([`Names`]) in camelCase, JavaScript's
//! convention (`caller_id_num` is `callerIdNum`): one name per header across the catalog, as in
//! every other language.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::{EmitError, Emitter, Member, Names, Output, banner, join_and, labels};
use crate::facts::{Action, Event, Facts};
use crate::naming::type_name;

/// The TypeScript emitter.
#[derive(Debug, Clone, Copy)]
pub struct TypeScript;

const DIR: &str = "bindings/node/ts";

/// Members of an event class besides its fields.
const EVENT_MEMBERS: &[&str] = &["message", "get", "name", "toJSON", "constructor", "__proto__"];
/// Parameters of an action factory besides the documented ones.
const ACTION_MEMBERS: &[&str] = &["headers", "__proto__"];

impl Emitter for TypeScript {
    fn name(&self) -> &'static str {
        "TypeScript"
    }

    fn emit(&self, facts: &Facts, names: &Names) -> Result<Vec<Output>, EmitError> {
        let out = |name: &str, contents| Output { path: PathBuf::from(DIR).join(name), contents };
        Ok(vec![out("events.ts", events(facts, names)?), out("actions.ts", actions(facts, names)?)])
    }
}

/// `caller_id_num` → `callerIdNum`.
pub fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = !out.is_empty();
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    if snake.ends_with('_') {
        out.push('_');
    }
    out
}

/// The camelCase members of `owner`, with `reserved` names escaped by a trailing `_`; a clash
/// (two headers, one name) is an error.
fn members(
    names: &Names,
    owner: &str,
    headers: Vec<&str>,
    reserved: &[&str],
) -> Result<Vec<Member>, EmitError> {
    let mut out: Vec<Member> = Vec::new();
    for m in names.members(owner, headers, &[])? {
        let mut name = camel(&m.name);
        if reserved.contains(&name.as_str()) {
            name.push('_');
        }
        if let Some(other) = out.iter().find(|o| o.name == name) {
            return Err(EmitError::NameClash {
                owner: owner.to_string(),
                member: name,
                headers: (other.header.clone(), m.header),
            });
        }
        out.push(Member { header: m.header, name });
    }
    Ok(out)
}

fn code_list(items: &[String]) -> String {
    join_and(&items.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>())
}

fn since(v: &[String]) -> String {
    if v.is_empty() { "an unknown version".to_string() } else { v.join(", ") }
}

/// A string literal.
fn lit(s: &str) -> String {
    format!("{s:?}")
}

fn header(facts: &Facts, doc: &str) -> String {
    format!("// {}\n/**\n{}\n * @packageDocumentation\n */\n", banner(facts), comment_lines(doc))
}

fn comment_lines(doc: &str) -> String {
    doc.lines()
        .map(|l| if l.is_empty() { " *".to_string() } else { format!(" * {l}") })
        .collect::<Vec<_>>()
        .join("\n")
}

fn event_doc(e: &Event, class: &[String]) -> String {
    let class = if class.is_empty() { "none".to_string() } else { code_list(class) };
    format!(
        "The `{}` event: read class {class}; documented by {} since {}.",
        e.name,
        code_list(&e.modules),
        since(&e.since)
    )
}

fn events(facts: &Facts, names: &Names) -> Result<String, EmitError> {
    let doc = format!(
        "Every AMI event Asterisk {} documents, as a typed class.\n\n\
         {{@link typed}} turns an event message into an instance of its class, or of\n\
         {{@link UnknownEvent}} for an event the catalog does not know:\n\n\
         ```ts\n\
         const ev = typed(message);\n\
         if (ev instanceof Hangup) console.log(ev.channel, ev.causeTxt);\n\
         for await (const h of ami.events({{ name: \"Hangup\", typed: true }})) console.log(h.channel);\n\
         ```\n\n\
         Every documented field is a getter (`undefined` when absent); every other header is\n\
         reachable through `event.get(name)` and `event.message`.",
        facts.asterisk_version
    );
    let mut ts = header(facts, &doc);
    ts.push_str(
        "import { TypedEvent, TypedEventClass, UnknownEvent, defineFields, typedFrom } from \"./catalog\";\n\
         import { Message } from \"./message\";\n\n\
         export { TypedEvent, UnknownEvent };\n\n",
    );
    let _ = writeln!(ts, "/** The Asterisk release the catalog follows. */");
    let _ = writeln!(ts, "export const ASTERISK_VERSION = {};", lit(&facts.asterisk_version));
    let mut registry = Vec::new();
    for e in &facts.events {
        let t = type_name(&e.name);
        let class = labels(names.read_class(e)?);
        let headers: Vec<&str> =
            e.fields.iter().map(|f| f.indexed.as_deref().unwrap_or(&f.name)).collect();
        let ms = members(names, &e.name, headers, EVENT_MEMBERS)?;
        let fields: Vec<String> = ms.iter().map(|m| lit(&m.header)).collect();
        let doc = event_doc(e, &class);
        ts.push('\n');
        let _ = writeln!(ts, "/** {doc} */");
        let _ = writeln!(ts, "export class {t} extends TypedEvent {{");
        let _ = writeln!(ts, "  static override readonly NAME = {};", lit(&e.name));
        let _ = writeln!(ts, "  static override readonly READ_CLASS = {};", lit(&class.join(",")));
        let _ = writeln!(
            ts,
            "  static override readonly FIELDS: readonly string[] = [{}];",
            fields.join(", ")
        );
        let _ = writeln!(ts, "}}");
        let _ = writeln!(ts, "export interface {t} {{");
        for m in &ms {
            if m.header.contains('{') {
                let _ = writeln!(ts, "  /** The `{}` headers, `{{}}` being `index`. */", m.header);
                let _ = writeln!(ts, "  {}(index: number): string | undefined;", m.name);
            } else {
                let _ = writeln!(ts, "  /** The `{}` header. */", m.header);
                let _ = writeln!(ts, "  readonly {}: string | undefined;", m.name);
            }
        }
        let _ = writeln!(ts, "}}");
        let pairs: Vec<String> =
            ms.iter().map(|m| format!("[{}, {}]", lit(&m.name), lit(&m.header))).collect();
        let _ = writeln!(ts, "defineFields({t}, [{}]);", pairs.join(", "));
        registry.push((e.name.clone(), t));
    }
    ts.push_str("\n/** Every documented event's class, by its exact name. */\nexport interface EventTypes {\n");
    for (name, t) in &registry {
        let _ = writeln!(ts, "  {}: {t};", lit(name));
    }
    ts.push_str(
        "}\n\n/** A documented event name. */\nexport type EventName = keyof EventTypes;\n\n",
    );
    ts.push_str(
        "/** Every documented event class, by lower-case name. */\n\
         export const EVENTS: ReadonlyMap<string, TypedEventClass> = new Map<string, TypedEventClass>([\n",
    );
    for (name, t) in &registry {
        let _ = writeln!(ts, "  [{}, {t}],", lit(&name.to_ascii_lowercase()));
    }
    ts.push_str(
        "]);\n\n\
         /** The typed event for an event `message`: an instance of its class, or of {@link UnknownEvent}. */\n\
         export function typed(message: Message): TypedEvent {\n\
         \x20 return typedFrom(EVENTS, message);\n\
         }\n",
    );
    Ok(ts)
}

fn action_doc(a: &Action, authority: &[String], required: &[String]) -> String {
    let req = if required.is_empty() {
        String::new()
    } else {
        format!(": requires {}", code_list(required))
    };
    let write = if authority.is_empty() {
        "every logged-in session may send it".to_string()
    } else {
        format!("write classes {} (any one)", code_list(authority))
    };
    format!(
        "The `{}` action{req}; {write}; documented by {} since {}.",
        a.name,
        code_list(&a.modules),
        since(&a.since)
    )
}

fn actions(facts: &Facts, names: &Names) -> Result<String, EmitError> {
    let doc = format!(
        "Every AMI action Asterisk {} documents, as a factory taking its parameters.\n\n\
         Required parameters are required properties; a repeatable one takes an array, a\n\
         numbered family (`Action-000000`, ...) an object from numbers to values; `headers`\n\
         adds any other header:\n\n\
         ```ts\n\
         await ami.action(Originate({{ channel: \"PJSIP/100\", exten: 200, context: \"default\", priority: 1 }}));\n\
         ```\n\n\
         Encoding goes through the native encoder, which refuses anything that could inject a\n\
         header.",
        facts.asterisk_version
    );
    let mut ts = header(facts, &doc);
    ts.push_str(
        "import { ActionFactory, ExtraHeaders, actionFactory } from \"./catalog\";\n\
         import { Value } from \"./encode\";\n\n",
    );
    let _ = writeln!(ts, "/** The Asterisk release the catalog follows. */");
    let _ = writeln!(ts, "export const ASTERISK_VERSION = {};", lit(&facts.asterisk_version));
    let mut registry = Vec::new();
    for a in &facts.actions {
        let t = type_name(&a.name);
        let (authority, _) = names.authority(a)?;
        let authority = labels(authority);
        let headers: Vec<&str> =
            a.parameters.iter().map(|p| p.indexed.as_deref().unwrap_or(&p.name)).collect();
        let ms = members(names, &a.name, headers, ACTION_MEMBERS)?;
        let required: Vec<String> =
            a.parameters.iter().filter(|p| p.required).map(|p| p.name.clone()).collect();
        let mut params = Vec::new();
        for (p, m) in a.parameters.iter().zip(&ms) {
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
        params.sort_by_key(|(_, _, k)| *k != 'r');
        let doc = action_doc(a, &authority, &required);
        ts.push('\n');
        let _ = writeln!(ts, "/** The parameters of {t}. */");
        let _ = writeln!(ts, "export interface {t}Params extends ExtraHeaders {{");
        for (k, h, kind) in &params {
            let _ = writeln!(ts, "  /** `{h}`. */");
            let _ = match kind {
                'r' => writeln!(ts, "  readonly {k}: Value;"),
                'm' => writeln!(ts, "  readonly {k}?: readonly Value[];"),
                'i' => writeln!(ts, "  readonly {k}?: Readonly<Record<number, Value>>;"),
                _ => writeln!(ts, "  readonly {k}?: Value;"),
            };
        }
        let _ = writeln!(ts, "}}");
        let spec: Vec<String> = params
            .iter()
            .map(|(k, h, kind)| format!("[{}, {}, \"{kind}\"]", lit(k), lit(h)))
            .collect();
        let _ = writeln!(ts, "/** {doc} */");
        let _ = writeln!(
            ts,
            "export const {t}: ActionFactory<{t}Params> = actionFactory({}, {}, [{}]);",
            lit(&a.name),
            lit(&authority.join(",")),
            spec.join(", ")
        );
        registry.push((a.name.clone(), t));
    }
    ts.push_str("\n/** Every documented action's parameters, by its exact name. */\nexport interface ActionTypes {\n");
    for (name, t) in &registry {
        let _ = writeln!(ts, "  {}: {t}Params;", lit(name));
    }
    ts.push_str(
        "}\n\n/** Every documented action factory, by lower-case name. */\n\
         export const ACTIONS: ReadonlyMap<string, ActionFactory<never>> = new Map<string, ActionFactory<never>>([\n",
    );
    for (name, t) in &registry {
        let _ =
            writeln!(ts, "  [{}, {t} as ActionFactory<never>],", lit(&name.to_ascii_lowercase()));
    }
    ts.push_str("]);\n");
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_of_the_shared_names() {
        assert_eq!(camel("caller_id_num"), "callerIdNum");
        assert_eq!(camel("cause_txt"), "causeTxt");
        assert_eq!(camel("field_100rel"), "field100rel");
        assert_eq!(camel("channel"), "channel");
        assert_eq!(camel("type_"), "type_");
    }
}
