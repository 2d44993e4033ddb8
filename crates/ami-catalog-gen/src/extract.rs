//! Documentation XML → [`Facts`].
//!
//! Reads `core-en_US-<version>.xml[.xz]` as Asterisk does: `xi:include`s resolved to their fixed
//! point ([`crate::xpointer`]), then the `channel_snapshot`/`bridge_snapshot` elements expanded
//! as `doc/appdocsxml.xslt` expands them, then [`crate::source_facts`] applied. Only names,
//! flags, classes, modules and versions are read; prose never is.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use ami_proto::perm::{Strictness, parse_perm};
use roxmltree::{Document, Node, ParsingOptions};

use crate::facts::{self, Action, Correction, Event, Facts, Field, Parameter};
use crate::source_facts::{
    EVENT_CLASSES, EVENT_RENAMES, FREE_FORM, INDEXED, MODULE_ALIASES, REPEATABLE,
};
use crate::xpointer::{Expander, XPointerError};

/// The fields `<channel_snapshot prefix="P"/>` stands for, in order (`doc/appdocsxml.xslt`,
/// template `channel_snapshot`; each name is prefixed with `P`).
pub const CHANNEL_SNAPSHOT: [&str; 14] = [
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
];

/// The fields `<bridge_snapshot prefix="P"/>` stands for (`doc/appdocsxml.xslt`, template
/// `bridge_snapshot`).
pub const BRIDGE_SNAPSHOT: [&str; 8] = [
    "BridgeUniqueid",
    "BridgeType",
    "BridgeTechnology",
    "BridgeCreator",
    "BridgeName",
    "BridgeNumChannels",
    "BridgeVideoSourceMode",
    "BridgeVideoSource",
];

/// Why the facts could not be extracted.
#[derive(Debug)]
pub enum ExtractError {
    /// The file could not be read.
    Read { path: PathBuf, error: std::io::Error },
    /// The `.xz` stream is corrupt.
    Xz { path: PathBuf, error: String },
    /// The file name does not say which Asterisk release it documents.
    Version { path: PathBuf },
    /// Not well-formed XML.
    Xml { path: PathBuf, error: roxmltree::Error },
    /// An include that cannot be resolved.
    Include(XPointerError),
    /// The documentation has something the extractor does not understand.
    Unexpected { line: u32, what: String },
    /// A [`crate::source_facts`] entry no longer matches the documentation.
    StaleSourceFact { entry: String },
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtractError::Read { path, error } => write!(f, "{}: {error}", path.display()),
            ExtractError::Xz { path, error } => {
                write!(f, "{}: not a valid .xz file: {error}", path.display())
            }
            ExtractError::Version { path } => write!(
                f,
                "{}: the file name must be core-<lang>-<version>.xml[.xz] (it names the Asterisk \
                 release)",
                path.display()
            ),
            ExtractError::Xml { path, error } => write!(f, "{}: {error}", path.display()),
            ExtractError::Include(e) => e.fmt(f),
            ExtractError::Unexpected { line, what } => write!(
                f,
                "line {line}: {what} (the extractor in crates/ami-catalog-gen/src/extract.rs \
                 must learn it)"
            ),
            ExtractError::StaleSourceFact { entry } => write!(
                f,
                "{entry} no longer matches the documentation: check the Asterisk source and \
                 update crates/ami-catalog-gen/src/source_facts.rs"
            ),
        }
    }
}

impl std::error::Error for ExtractError {}

impl From<XPointerError> for ExtractError {
    fn from(e: XPointerError) -> Self {
        ExtractError::Include(e)
    }
}

/// Reads the documentation file (`.xml` or `.xml.xz`) at `path` and extracts its facts.
pub fn extract_file(path: &Path) -> Result<Facts, ExtractError> {
    let bytes = std::fs::read(path)
        .map_err(|error| ExtractError::Read { path: path.to_path_buf(), error })?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let xml = if name.ends_with(".xz") {
        let mut out = Vec::new();
        lzma_rs::xz_decompress(&mut std::io::BufReader::new(&bytes[..]), &mut out)
            .map_err(|e| ExtractError::Xz { path: path.to_path_buf(), error: e.to_string() })?;
        out
    } else {
        bytes
    };
    let mut text = String::new();
    (&xml[..])
        .read_to_string(&mut text)
        .map_err(|error| ExtractError::Read { path: path.to_path_buf(), error })?;
    let version = version_of(name).ok_or(ExtractError::Version { path: path.to_path_buf() })?;
    let options = ParsingOptions { allow_dtd: true, ..ParsingOptions::default() };
    let doc = Document::parse_with_options(&text, options)
        .map_err(|error| ExtractError::Xml { path: path.to_path_buf(), error })?;
    extract(&doc, version, name)
}

/// `core-en_US-22.10.1.xml.xz` → `22.10.1`.
fn version_of(file_name: &str) -> Option<&str> {
    let stem = file_name.strip_suffix(".xz").unwrap_or(file_name).strip_suffix(".xml")?;
    let version = stem.rsplit('-').next()?;
    let ok = !version.is_empty()
        && version.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then_some(version)
}

fn line(doc: &Document<'_>, node: Node<'_, '_>) -> u32 {
    doc.text_pos_at(node.range().start).row
}

fn module_of(documented: &str) -> String {
    MODULE_ALIASES
        .iter()
        .find(|a| a.documented == documented)
        .map_or(documented, |a| a.module)
        .to_string()
}

fn versions(expander: &Expander<'_, '_>, node: Node<'_, '_>) -> Result<Vec<String>, ExtractError> {
    let mut out = Vec::new();
    for since in node.children().filter(|c| c.has_tag_name("since")) {
        for v in expander.children(since)?.into_iter().filter(|c| c.has_tag_name("version")) {
            let v = v.text().unwrap_or_default().trim().to_string();
            if !v.is_empty() && !out.contains(&v) {
                out.push(v);
            }
        }
    }
    Ok(out)
}

fn element_children<'a, 'i>(
    expander: &Expander<'a, 'i>,
    node: Node<'a, 'i>,
) -> Result<Vec<Node<'a, 'i>>, ExtractError> {
    Ok(expander.children(node)?.into_iter().filter(|c| c.is_element()).collect())
}

fn emitted_name(documented: &str, used: &mut [bool]) -> String {
    for (i, r) in EVENT_RENAMES.iter().enumerate() {
        if r.documented == documented {
            if let Some(u) = used.get_mut(i) {
                *u = true;
            }
            return r.emitted.to_string();
        }
    }
    documented.to_string()
}

/// Extracts the facts from a parsed document of Asterisk release `version`.
pub fn extract(doc: &Document<'_>, version: &str, source: &str) -> Result<Facts, ExtractError> {
    let expander = Expander::new(doc);
    let root = doc.root_element();
    let mut renamed = vec![false; EVENT_RENAMES.len()];

    // Actions, merged by name (app_voicemail is documented once per build variant).
    let mut actions: BTreeMap<String, Action> = BTreeMap::new();
    for node in root.children().filter(|c| c.has_tag_name("manager")) {
        let at = line(doc, node);
        let name = node.attribute("name").ok_or_else(|| ExtractError::Unexpected {
            line: at,
            what: "manager without a name".into(),
        })?;
        let module = module_of(node.attribute("module").unwrap_or("builtin"));
        let mut parameters = Vec::new();
        for syntax in node.children().filter(|c| c.has_tag_name("syntax")) {
            for p in element_children(&expander, syntax)? {
                if !p.has_tag_name("parameter") {
                    return Err(ExtractError::Unexpected {
                        line: line(doc, p),
                        what: format!("<{}> in the syntax of action {name}", p.tag_name().name()),
                    });
                }
                let pname = p.attribute("name").ok_or_else(|| ExtractError::Unexpected {
                    line: line(doc, p),
                    what: format!("a parameter of {name} without a name"),
                })?;
                parameters.push(Parameter {
                    name: pname.to_string(),
                    required: p.attribute("required") == Some("true"),
                    default: p.attribute("default").map(str::to_string),
                    repeatable: false,
                    indexed: None,
                });
            }
        }
        let (mut list_items, mut list_complete) = (Vec::new(), None);
        for responses in node.children().filter(|c| c.has_tag_name("responses")) {
            for r in element_children(&expander, responses)? {
                if r.has_tag_name("list-elements") {
                    for item in element_children(&expander, r)? {
                        if let Some(n) = item.attribute("name") {
                            list_items.push(emitted_name(n, &mut renamed));
                        }
                    }
                } else if r.has_tag_name("managerEvent") {
                    list_complete = r.attribute("name").map(|n| emitted_name(n, &mut renamed));
                }
            }
        }
        let since = versions(&expander, node)?;
        match actions.get_mut(name) {
            Some(existing) => merge_action(existing, module, since, parameters),
            None => {
                let action = Action {
                    name: name.to_string(),
                    modules: vec![module],
                    since,
                    parameters,
                    list_items,
                    list_complete,
                };
                actions.insert(name.to_string(), action);
            }
        }
    }
    let mut actions: Vec<Action> = actions.into_values().collect();

    // Events: every managerEvent element of the document itself (top level, or written inline
    // in an action's responses); the copies made by includes are the same events.
    let mut events: BTreeMap<String, Event> = BTreeMap::new();
    let mut class_fixed = vec![false; EVENT_CLASSES.len()];
    for node in root.descendants().filter(|c| c.has_tag_name("managerEvent")) {
        let at = line(doc, node);
        let documented = node.attribute("name").ok_or_else(|| ExtractError::Unexpected {
            line: at,
            what: "managerEvent without a name".into(),
        })?;
        let name = emitted_name(documented, &mut renamed);
        let event_module = module_of(node.attribute("module").unwrap_or("builtin"));
        for instance in node.children().filter(|c| c.has_tag_name("managerEventInstance")) {
            let at = line(doc, instance);
            let module =
                instance.attribute("module").map_or_else(|| event_module.clone(), module_of);
            let class = instance.attribute("class").unwrap_or_default();
            let read_class = read_class_of(&name, class, at, &mut class_fixed)?;
            let mut fields = Vec::new();
            for syntax in instance.children().filter(|c| c.has_tag_name("syntax")) {
                for p in element_children(&expander, syntax)? {
                    let tag = p.tag_name().name();
                    let prefix = p.attribute("prefix").unwrap_or_default();
                    match tag {
                        "parameter" => {
                            fields.push(p.attribute("name").unwrap_or_default().to_string())
                        }
                        "channel_snapshot" => {
                            fields.extend(CHANNEL_SNAPSHOT.iter().map(|f| format!("{prefix}{f}")));
                        }
                        "bridge_snapshot" => {
                            fields.extend(BRIDGE_SNAPSHOT.iter().map(|f| format!("{prefix}{f}")));
                        }
                        _ => {
                            return Err(ExtractError::Unexpected {
                                line: line(doc, p),
                                what: format!("<{tag}> in the syntax of event {name}"),
                            });
                        }
                    }
                }
            }
            if fields.iter().any(String::is_empty) {
                return Err(ExtractError::Unexpected {
                    line: at,
                    what: format!("a field of event {name} without a name"),
                });
            }
            let since = versions(&expander, instance)?;
            let entry = events.entry(name.clone()).or_insert_with(|| Event {
                name: name.clone(),
                modules: Vec::new(),
                since: Vec::new(),
                read_class: read_class.clone(),
                fields: Vec::new(),
            });
            if entry.read_class != read_class {
                return Err(ExtractError::Unexpected {
                    line: at,
                    what: format!(
                        "event {name} is documented with two classes ({:?} and {:?}): decide \
                         from the source which one a session needs",
                        entry.read_class, read_class
                    ),
                });
            }
            if !entry.modules.contains(&module) {
                entry.modules.push(module);
            }
            for v in since {
                if !entry.since.contains(&v) {
                    entry.since.push(v);
                }
            }
            for f in fields {
                if !entry.fields.iter().any(|e| e.name.eq_ignore_ascii_case(&f)) {
                    entry.fields.push(Field { name: f, indexed: None });
                }
            }
        }
    }
    let mut events: Vec<Event> = events.into_values().collect();

    let mut corrections = Vec::new();
    for (r, used) in EVENT_RENAMES.iter().zip(&renamed) {
        if !used {
            return Err(ExtractError::StaleSourceFact {
                entry: format!("rename of event {}", r.documented),
            });
        }
        corrections.push(Correction {
            subject: format!("event {}: name", r.documented),
            documented: r.documented.into(),
            used: r.emitted.into(),
            evidence: r.evidence.into(),
        });
    }
    for (c, used) in EVENT_CLASSES.iter().zip(&class_fixed) {
        if !used {
            return Err(ExtractError::StaleSourceFact {
                entry: format!("class of event {}", c.event),
            });
        }
        corrections.push(Correction {
            subject: format!("event {}: class", c.event),
            documented: c.documented.into(),
            used: c.emitted.join(","),
            evidence: c.evidence.into(),
        });
    }
    apply_parameter_facts(&mut actions, &mut events, &mut corrections)?;
    for alias in MODULE_ALIASES {
        let used =
            actions.iter().flat_map(|a| &a.modules).chain(events.iter().flat_map(|e| &e.modules));
        if root.descendants().any(|n| n.attribute("module") == Some(alias.documented))
            && used.clone().any(|m| m == alias.module)
        {
            corrections.push(Correction {
                subject: format!("module {}", alias.documented),
                documented: alias.documented.into(),
                used: alias.module.into(),
                evidence: alias.evidence.into(),
            });
        }
    }

    let key = |n: &str| (n.to_ascii_lowercase(), n.to_string());
    actions.sort_by_key(|a| key(&a.name));
    events.sort_by_key(|e| key(&e.name));
    for pair in events.windows(2) {
        if let [a, b] = pair
            && a.name.eq_ignore_ascii_case(&b.name)
        {
            return Err(ExtractError::Unexpected {
                line: 0,
                what: format!("events {} and {} differ only in case", a.name, b.name),
            });
        }
    }
    Ok(Facts {
        format: facts::FORMAT.to_string(),
        asterisk_version: version.to_string(),
        source: source.to_string(),
        actions,
        events,
        corrections,
    })
}

fn merge_action(
    existing: &mut Action,
    module: String,
    since: Vec<String>,
    parameters: Vec<Parameter>,
) {
    if !existing.modules.contains(&module) {
        existing.modules.push(module);
    }
    for v in since {
        if !existing.since.contains(&v) {
            existing.since.push(v);
        }
    }
    // A parameter is required only if every definition requires it.
    for p in &mut existing.parameters {
        let other = parameters.iter().find(|q| q.name == p.name);
        p.required &= other.is_some_and(|q| q.required);
    }
    for q in parameters {
        if !existing.parameters.iter().any(|p| p.name == q.name) {
            existing.parameters.push(Parameter { required: false, ..q });
        }
    }
}

/// `EVENT_FLAG_CALL|EVENT_FLAG_SYSTEM` → `["call", "system"]` (validated as manager.conf
/// labels), with [`EVENT_CLASSES`] applied.
fn read_class_of(
    event: &str,
    class: &str,
    line: u32,
    fixed: &mut [bool],
) -> Result<Vec<String>, ExtractError> {
    for (i, c) in EVENT_CLASSES.iter().enumerate() {
        if c.event == event {
            if class != c.documented {
                return Err(ExtractError::StaleSourceFact {
                    entry: format!("class of event {event} (now documented as {class})"),
                });
            }
            if let Some(f) = fixed.get_mut(i) {
                *f = true;
            }
            return Ok(c.emitted.iter().map(|s| s.to_string()).collect());
        }
    }
    let mut labels = Vec::new();
    for flag in class.split('|').map(str::trim) {
        let label = flag.strip_prefix("EVENT_FLAG_").map(str::to_ascii_lowercase);
        let valid = label.as_deref().is_some_and(|l| {
            l != "all" && parse_perm(l, Strictness::Strict).is_ok_and(|p| !p.privilege.is_empty())
        });
        match label {
            Some(l) if valid => labels.push(l),
            _ => {
                return Err(ExtractError::Unexpected {
                    line,
                    what: format!("event {event} has class {class:?}, which is no EVENT_FLAG_*"),
                });
            }
        }
    }
    Ok(labels)
}

/// Applies [`REPEATABLE`], [`INDEXED`] and [`FREE_FORM`], recording each as a correction.
fn apply_parameter_facts(
    actions: &mut [Action],
    events: &mut [Event],
    corrections: &mut Vec<Correction>,
) -> Result<(), ExtractError> {
    for r in REPEATABLE {
        let p = actions
            .iter_mut()
            .find(|a| a.name == r.action)
            .and_then(|a| a.parameters.iter_mut().find(|p| p.name == r.parameter))
            .ok_or_else(|| ExtractError::StaleSourceFact {
                entry: format!("repeatable parameter {} of {}", r.parameter, r.action),
            })?;
        p.repeatable = true;
        corrections.push(Correction {
            subject: format!("action {}: parameter {}", r.action, r.parameter),
            documented: "one value".into(),
            used: "repeatable".into(),
            evidence: r.evidence.into(),
        });
    }
    for x in INDEXED {
        let slot = if let Some(a) = actions.iter_mut().find(|a| a.name == x.owner) {
            a.parameters.iter_mut().find(|p| p.name == x.documented).map(|p| &mut p.indexed)
        } else {
            events
                .iter_mut()
                .find(|e| e.name == x.owner)
                .and_then(|e| e.fields.iter_mut().find(|f| f.name == x.documented))
                .map(|f| &mut f.indexed)
        };
        let slot = slot.ok_or_else(|| ExtractError::StaleSourceFact {
            entry: format!("numbered header {} of {}", x.documented, x.owner),
        })?;
        *slot = Some(x.template.to_string());
        corrections.push(Correction {
            subject: format!("{}: {}", x.owner, x.documented),
            documented: x.documented.into(),
            used: x.template.into(),
            evidence: x.evidence.into(),
        });
    }
    for x in FREE_FORM {
        let action = actions.iter_mut().find(|a| a.name == x.action);
        let removed = action.is_some_and(|a| {
            let before = a.parameters.len();
            a.parameters.retain(|p| p.name != x.documented);
            a.parameters.len() < before
        });
        if !removed {
            return Err(ExtractError::StaleSourceFact {
                entry: format!("placeholder {} of {}", x.documented, x.action),
            });
        }
        corrections.push(Correction {
            subject: format!("action {}: parameter {}", x.action, x.documented),
            documented: x.documented.into(),
            used: "any header".into(),
            evidence: x.evidence.into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_comes_from_the_file_name() {
        assert_eq!(version_of("core-en_US-22.10.1.xml.xz"), Some("22.10.1"));
        assert_eq!(version_of("core-en_US-20.1.0.xml"), Some("20.1.0"));
        assert_eq!(version_of("core.xml"), None);
        assert_eq!(version_of("core-en_US-22.10.1.json"), None);
        assert_eq!(version_of("core-en_US-.xml"), None);
    }

    #[test]
    fn snapshots_parameters_and_classes() {
        let xml = r#"<docs xmlns:xi="http://www.w3.org/2001/XInclude">
  <manager name="Login" module="builtin"><since><version>1.0.0</version></since><syntax>
    <parameter name="ActionID"/><parameter name="Username" required="true"/>
  </syntax></manager>
  <manager name="Ping" module="builtin"><syntax>
    <xi:include xpointer="xpointer(/docs/manager[@name='Login']/syntax/parameter[@name='ActionID'])"/>
    <parameter name="Timeout" default="5"/>
  </syntax></manager>
  <managerEvent name="Hangup" module="builtin">
    <managerEventInstance class="EVENT_FLAG_CALL"><since><version>12.0.0</version></since><syntax>
      <channel_snapshot/><bridge_snapshot prefix="Orig"/><parameter name="Cause"/>
      <parameter name="cause"/>
    </syntax></managerEventInstance></managerEvent>
  <managerEvent name="Odd" module="builtin">
    <managerEventInstance class="EVENT_FLAG_NOPE"><syntax/></managerEventInstance></managerEvent>
</docs>"#;
        let doc = Document::parse(xml).unwrap();
        // The bogus class is reported with its line.
        let err = extract(&doc, "1.0", "t.xml").unwrap_err();
        assert!(err.to_string().contains("EVENT_FLAG_NOPE"), "{err}");

        let xml = xml.replace("EVENT_FLAG_NOPE", "EVENT_FLAG_SYSTEM|EVENT_FLAG_USER");
        let doc = Document::parse(&xml).unwrap();
        // The real corrections do not apply to this tiny document: that is reported.
        let err = extract(&doc, "1.0", "t.xml").unwrap_err();
        assert!(matches!(err, ExtractError::StaleSourceFact { .. }), "{err}");
    }

    #[test]
    fn merged_definitions_require_what_every_one_requires() {
        let p = |name: &str, required| Parameter {
            name: name.into(),
            required,
            default: None,
            repeatable: false,
            indexed: None,
        };
        let mut a = Action {
            name: "VoicemailMove".into(),
            modules: vec!["app_voicemail".into()],
            since: vec!["1".into()],
            parameters: vec![p("Context", true), p("Mailbox", true)],
            list_items: vec![],
            list_complete: None,
        };
        merge_action(
            &mut a,
            "app_voicemail_odbc".into(),
            vec!["1".into(), "2".into()],
            vec![p("Context", true), p("Mailbox", false), p("Folder", true)],
        );
        assert_eq!(a.modules, ["app_voicemail", "app_voicemail_odbc"]);
        assert_eq!(a.since, ["1", "2"]);
        let req: Vec<_> = a.parameters.iter().map(|p| (p.name.as_str(), p.required)).collect();
        assert_eq!(req, [("Context", true), ("Mailbox", false), ("Folder", false)]);
    }
}
