//! The dialplan `ami mock` runs: an `extensions.conf` as Asterisk's `pbx_config` reads it
//! (contexts, `exten =>`, `same =>`, `n` priorities and labels, `include =>`, `[globals]`,
//! `_X.` patterns), reduced to what the mock's applications need.
//!
//! Built in: the conformance dialplan the live Asterisk of the test suites runs (context
//! `amitest`), plus the context `from-internal` the `--calls-per-second` phones call into.

use std::fmt;

/// The conformance `extensions.conf` (context `amitest`), as the test suites' live Asterisk
/// loads it. `extensions.conf` beside this file is a symbolic link to
/// `crates/ami-proto/tests/data/asterisk-22/extensions.conf`, so that the published crate (which
/// `cargo package` fills with the link's target) carries its own copy.
pub const CONFORMANCE: &str = include_str!("extensions.conf");

/// What the simulated phones of `--calls-per-second` and `ami demo` dial into.
pub const PHONES: &str = "\
; ami mock: the simulated PJSIP phones call each other through this context.
[from-internal]
exten => _X.,1,Dial(PJSIP/${EXTEN},30)
 same => n,Hangup()
";

/// One priority of an extension: `App(data)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Priority {
    /// The priority number (1, 2, ...).
    pub number: u32,
    /// Its label (`n(label)`), if any.
    pub label: Option<String>,
    /// The application name as written.
    pub app: String,
    /// Its argument text, variables not yet substituted.
    pub data: String,
    /// Line in the file.
    pub line: usize,
}

/// An extension (an exact name or a `_` pattern) and its priorities, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// The name as written (`start`, `_X.`).
    pub name: String,
    /// Its priorities, sorted by number.
    pub priorities: Vec<Priority>,
}

/// A dialplan context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// Its name.
    pub name: String,
    /// Its extensions, in file order.
    pub extensions: Vec<Extension>,
    /// Contexts named by `include =>`.
    pub includes: Vec<String>,
}

/// A loaded dialplan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dialplan {
    /// Its contexts, in file order.
    pub contexts: Vec<Context>,
    /// `[globals]`, in file order.
    pub globals: Vec<(String, String)>,
}

/// Why an `extensions.conf` was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialplanError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong there.
    pub kind: DialplanErrorKind,
}

/// What is wrong with a line of an `extensions.conf`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DialplanErrorKind {
    /// `exten =>` or `same =>` before any `[context]`.
    OutsideContext,
    /// `exten => name,priority,application` lacks a part.
    MissingField(&'static str),
    /// The priority is neither a number, `n`, nor either with a `(label)`.
    BadPriority(String),
    /// `same =>` with no `exten =>` before it in the context.
    SameWithoutExten,
    /// A priority number given twice for one extension.
    DuplicatePriority {
        /// The extension.
        exten: String,
        /// The priority.
        priority: u32,
    },
    /// `#include` and `#exec` are not supported by the mock.
    Directive(String),
    /// A line that is none of the above.
    Unrecognised(String),
}

impl fmt::Display for DialplanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.kind {
            DialplanErrorKind::OutsideContext => {
                f.write_str("an extension before any [context] header; add one above it")
            }
            DialplanErrorKind::MissingField(what) => {
                write!(f, "`exten => name,priority,application`: the {what} is missing")
            }
            DialplanErrorKind::BadPriority(p) => {
                write!(f, "priority {p:?} is not a number, `n`, `hint` or either with a (label)")
            }
            DialplanErrorKind::SameWithoutExten => {
                f.write_str("`same =>` needs an `exten =>` line before it in the same context")
            }
            DialplanErrorKind::DuplicatePriority { exten, priority } => {
                write!(f, "extension {exten:?} has priority {priority} twice")
            }
            DialplanErrorKind::Directive(d) => {
                write!(f, "{d} is not supported by ami mock; put everything in one file")
            }
            DialplanErrorKind::Unrecognised(l) => {
                write!(f, "{l:?} is not `exten =>`, `same =>`, `include =>` or a [context]")
            }
        }
    }
}

impl std::error::Error for DialplanError {}

/// The line without its comment (`;` not escaped by `\`), `\;` unescaped, trimmed.
fn strip_comment(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&';') => {
                out.push(';');
                chars.next();
            }
            ';' => break,
            _ => out.push(c),
        }
    }
    out.trim().to_owned()
}

/// `App(data)`, `App` or the old `App,data`.
fn split_app(text: &str) -> (String, String) {
    let text = text.trim();
    match text.find('(') {
        Some(open) => {
            let app = text[..open].trim().to_owned();
            let rest = &text[open + 1..];
            let data = rest.strip_suffix(')').unwrap_or(rest);
            (app, data.to_owned())
        }
        None => match text.split_once(',') {
            Some((app, data)) => (app.trim().to_owned(), data.to_owned()),
            None => (text.to_owned(), String::new()),
        },
    }
}

/// `1`, `n`, `n(label)`, `2(label)` after the previous priority `prev`; `None` for `hint`.
fn parse_priority(text: &str, prev: u32) -> Result<Option<(u32, Option<String>)>, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("hint") {
        return Ok(None);
    }
    let (num, label) = match text.split_once('(') {
        Some((n, l)) => (n.trim(), Some(l.trim_end_matches(')').trim().to_owned())),
        None => (text, None),
    };
    let number = if num == "n" {
        prev + 1
    } else if let Some(off) = num.strip_prefix("n+") {
        prev + off.parse::<u32>().map_err(|_| text.to_owned())?
    } else {
        match num.parse::<u32>() {
            Ok(n) if n > 0 => n,
            _ => return Err(text.to_owned()),
        }
    };
    Ok(Some((number, label)))
}

impl Dialplan {
    /// Parses an `extensions.conf` text.
    pub fn parse(text: &str) -> Result<Dialplan, DialplanError> {
        let mut plan = Dialplan::default();
        // Which section the lines belong to: a context (index), globals, or another one.
        enum Section {
            None,
            Globals,
            Ignored,
            Context(usize),
        }
        let mut section = Section::None;
        // The extension `same =>` continues, and the last priority number of each.
        let mut last: Option<(usize, usize)> = None;
        for (i, raw) in text.lines().enumerate() {
            let lineno = i + 1;
            let err = |kind| DialplanError { line: lineno, kind };
            let line = strip_comment(raw);
            if line.is_empty() {
                continue;
            }
            if line.starts_with('#') {
                let word = line.split_whitespace().next().unwrap_or("#").to_owned();
                return Err(err(DialplanErrorKind::Directive(word)));
            }
            if let Some(rest) = line.strip_prefix('[') {
                let name = rest.split(']').next().unwrap_or("").trim().to_owned();
                last = None;
                section = match name.as_str() {
                    "globals" => Section::Globals,
                    "general" => Section::Ignored,
                    _ => {
                        let idx = match plan.contexts.iter().position(|c| c.name == name) {
                            Some(idx) => idx,
                            None => {
                                plan.contexts.push(Context { name, ..Context::default() });
                                plan.contexts.len() - 1
                            }
                        };
                        Section::Context(idx)
                    }
                };
                continue;
            }
            let (key, value) = match line.split_once("=>") {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_owned()),
                None => match line.split_once('=') {
                    Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_owned()),
                    None => return Err(err(DialplanErrorKind::Unrecognised(line.clone()))),
                },
            };
            let ctx = match section {
                Section::Ignored => continue,
                Section::Globals => {
                    let name = line.split(['=']).next().unwrap_or("").trim().to_owned();
                    let value = value.trim_start_matches('>').trim().to_owned();
                    plan.globals.push((name, value));
                    continue;
                }
                Section::None => return Err(err(DialplanErrorKind::OutsideContext)),
                Section::Context(idx) => idx,
            };
            let context = &mut plan.contexts[ctx];
            match key.as_str() {
                "include" => context.includes.push(value),
                "ignorepat" | "switch" | "lswitch" | "eswitch" => {}
                "exten" | "same" => {
                    let mut fields = value.splitn(if key == "exten" { 3 } else { 2 }, ',');
                    let (ext_idx, prio_text, app_text) = if key == "exten" {
                        let name = fields.next().unwrap_or("").trim();
                        // `name/callerid` matches: the mock ignores the caller id part.
                        let name = name.split('/').next().unwrap_or("").trim().to_owned();
                        if name.is_empty() {
                            return Err(err(DialplanErrorKind::MissingField("extension name")));
                        }
                        let idx = match context.extensions.iter().position(|e| e.name == name) {
                            Some(idx) => idx,
                            None => {
                                context.extensions.push(Extension { name, priorities: Vec::new() });
                                context.extensions.len() - 1
                            }
                        };
                        (idx, fields.next(), fields.next())
                    } else {
                        match last {
                            Some((c, e)) if c == ctx => (e, fields.next(), fields.next()),
                            _ => return Err(err(DialplanErrorKind::SameWithoutExten)),
                        }
                    };
                    let Some(prio_text) = prio_text else {
                        return Err(err(DialplanErrorKind::MissingField("priority")));
                    };
                    let ext = &mut context.extensions[ext_idx];
                    let prev = ext.priorities.last().map_or(0, |p| p.number);
                    let parsed = parse_priority(prio_text, prev)
                        .map_err(|p| err(DialplanErrorKind::BadPriority(p)))?;
                    last = Some((ctx, ext_idx));
                    let Some((number, label)) = parsed else { continue };
                    let Some(app_text) = app_text else {
                        return Err(err(DialplanErrorKind::MissingField("application")));
                    };
                    let Err(at) = ext.priorities.binary_search_by_key(&number, |p| p.number) else {
                        return Err(err(DialplanErrorKind::DuplicatePriority {
                            exten: ext.name.clone(),
                            priority: number,
                        }));
                    };
                    let (app, data) = split_app(app_text);
                    ext.priorities.insert(at, Priority { number, label, app, data, line: lineno });
                }
                _ => return Err(err(DialplanErrorKind::Unrecognised(line.clone()))),
            }
        }
        Ok(plan)
    }

    /// The built-in dialplan: [`CONFORMANCE`] and [`PHONES`].
    pub fn builtin() -> Dialplan {
        let text = format!("{CONFORMANCE}\n{PHONES}");
        // Both texts are part of this program and checked by a test.
        Dialplan::parse(&text).unwrap_or_default()
    }

    /// The context called `name`.
    pub fn context(&self, name: &str) -> Option<&Context> {
        self.contexts.iter().find(|c| c.name == name)
    }

    /// The extension `exten` matches in `context` (an exact name first, then the patterns
    /// in file order, then the included contexts).
    pub fn extension(&self, context: &str, exten: &str) -> Option<&Extension> {
        self.find_extension(context, exten, 0)
    }

    fn find_extension(&self, context: &str, exten: &str, depth: u8) -> Option<&Extension> {
        let ctx = self.context(context)?;
        if let Some(e) = ctx.extensions.iter().find(|e| e.name == exten) {
            return Some(e);
        }
        if let Some(e) = ctx.extensions.iter().find(|e| pattern_matches(&e.name, exten)) {
            return Some(e);
        }
        if depth >= 8 {
            return None;
        }
        ctx.includes.iter().find_map(|inc| self.find_extension(inc, exten, depth + 1))
    }

    /// Whether `exten` at `priority` exists in `context` (`ast_exists_extension`).
    pub fn exists(&self, context: &str, exten: &str, priority: u32) -> bool {
        self.priority(context, exten, priority).is_some()
    }

    /// The priority `number` of `exten` in `context`.
    pub fn priority(&self, context: &str, exten: &str, number: u32) -> Option<&Priority> {
        let priorities = &self.extension(context, exten)?.priorities;
        let at = priorities.binary_search_by_key(&number, |p| p.number).ok()?;
        priorities.get(at)
    }

    /// The priority number labelled `label` in `exten` of `context`.
    pub fn label(&self, context: &str, exten: &str, label: &str) -> Option<u32> {
        let ext = self.extension(context, exten)?;
        ext.priorities.iter().find(|p| p.label.as_deref() == Some(label)).map(|p| p.number)
    }
}

/// Whether the extension name `pattern` (`_X.`, or an exact name) matches `exten`, with
/// Asterisk's pattern characters: `X` 0-9, `Z` 1-9, `N` 2-9, `[..]` a set or range, `.` one
/// or more of anything, `!` zero or more.
pub fn pattern_matches(pattern: &str, exten: &str) -> bool {
    let Some(pat) = pattern.strip_prefix('_') else { return pattern == exten };
    let pat: Vec<char> = pat.chars().collect();
    let ext: Vec<char> = exten.chars().collect();
    matches_at(&pat, &ext)
}

fn matches_at(pat: &[char], ext: &[char]) -> bool {
    let Some((&p, rest)) = pat.split_first() else { return ext.is_empty() };
    match p {
        '.' => !ext.is_empty(),
        '!' => true,
        '[' => {
            let Some(close) = rest.iter().position(|&c| c == ']') else { return false };
            let set = &rest[..close];
            let Some((&c, ext_rest)) = ext.split_first() else { return false };
            let mut ok = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    ok |= (set[i]..=set[i + 2]).contains(&c);
                    i += 3;
                } else {
                    ok |= set[i] == c;
                    i += 1;
                }
            }
            ok && matches_at(&rest[close + 1..], ext_rest)
        }
        _ => {
            let Some((&c, ext_rest)) = ext.split_first() else { return false };
            let ok = match p.to_ascii_uppercase() {
                'X' => c.is_ascii_digit(),
                'Z' => ('1'..='9').contains(&c),
                'N' => ('2'..='9').contains(&c),
                _ => p == c,
            };
            ok && matches_at(rest, ext_rest)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_dialplan_is_the_conformance_one_plus_the_phones() {
        let plan = Dialplan::parse(&format!("{CONFORMANCE}\n{PHONES}")).unwrap();
        assert_eq!(plan, Dialplan::builtin());
        assert_eq!(plan.globals, [("TESTGLOBAL".to_owned(), "hello".to_owned())]);
        let start = plan.extension("amitest", "start").unwrap();
        let apps: Vec<&str> = start.priorities.iter().map(|p| p.app.as_str()).collect();
        assert_eq!(
            apps,
            ["NoOp", "Answer", "Set", "Set", "UserEvent", "Dial", "UserEvent", "Hangup"]
        );
        let p = plan.priority("amitest", "start", 5).unwrap();
        assert_eq!(p.data, "TestEvent,Stage: start,Foo: ${FOO}");
        assert_eq!(plan.priority("amitest", "answer", 6).unwrap().data, "16");
        assert_eq!(plan.priority("amitest", "busy", 1).unwrap().app, "Busy");
        assert!(!plan.exists("amitest", "nosuch", 1));
        assert_eq!(plan.extension("from-internal", "200").unwrap().name, "_X.");
        assert!(plan.extension("from-internal", "").is_none());
    }

    #[test]
    fn priorities_labels_includes_and_old_syntax() {
        let plan = Dialplan::parse(
            "[a]\ninclude => b\nexten => 1,1,Answer\n same => n(loop),Wait(1) ; comment\n \
             same => 5,Goto(loop)\nexten => 2,1,Dial,PJSIP/1\nexten => 1,hint,PJSIP/1\n\
             [b]\nexten => _2[0-4]X,1,NoOp(semi\\;colon)\n",
        )
        .unwrap();
        let one = plan.extension("a", "1").unwrap();
        let nums: Vec<u32> = one.priorities.iter().map(|p| p.number).collect();
        assert_eq!(nums, [1, 2, 5]);
        assert_eq!(plan.label("a", "1", "loop"), Some(2));
        assert_eq!(plan.priority("a", "2", 1).unwrap().data, "PJSIP/1");
        assert_eq!(plan.priority("a", "230", 1).unwrap().data, "semi;colon");
        assert!(plan.extension("a", "250").is_none());
    }

    #[test]
    fn errors_name_the_line() {
        let e = Dialplan::parse("exten => 1,1,Answer\n").unwrap_err();
        assert_eq!((e.line, e.kind), (1, DialplanErrorKind::OutsideContext));
        let e = Dialplan::parse("[a]\n\nsame => n,Answer\n").unwrap_err();
        assert_eq!((e.line, e.kind), (3, DialplanErrorKind::SameWithoutExten));
        let e = Dialplan::parse("[a]\nexten => 1,x,Answer\n").unwrap_err();
        assert_eq!(e.kind, DialplanErrorKind::BadPriority("x".into()));
        let e = Dialplan::parse("[a]\nexten => 1,1,A\nexten => 1,1,B\n").unwrap_err();
        assert!(e.to_string().starts_with("line 3: extension \"1\" has priority 1 twice"), "{e}");
        let e = Dialplan::parse("#include other.conf\n").unwrap_err();
        assert_eq!(e.kind, DialplanErrorKind::Directive("#include".into()));
        let e = Dialplan::parse("[a]\nexten => 1\n").unwrap_err();
        assert_eq!(e.kind, DialplanErrorKind::MissingField("priority"));
    }

    #[test]
    fn patterns_match_like_asterisk() {
        for (p, e, ok) in [
            ("_X.", "1", false),
            ("_X.", "12", true),
            ("_X.", "", false),
            ("_X.", "1", false),
            ("_NXX", "200", true),
            ("_NXX", "100", false),
            ("_Z[1-3]", "93", true),
            ("_Z[1-3]", "94", false),
            ("start", "start", true),
            ("start", "Start", false),
        ] {
            assert_eq!(pattern_matches(p, e), ok, "{p} ~ {e}");
        }
    }
}
