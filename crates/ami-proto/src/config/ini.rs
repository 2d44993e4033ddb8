//! Asterisk's configuration-file ("ini") syntax, as read by `main/config.c`
//! (`config_text_file_load` and `process_text_line`), spec §7.3.
//!
//! The parser is sans-IO: it reads no file. `#include`/`#tryinclude` targets are handed to the
//! caller's [`IncludeResolver`], which returns the matching files' names and texts (glob
//! expansion, if any, is the resolver's business). manager.conf, acl.conf and the proxy
//! configuration all use this parser.
//!
//! # Syntax, as Asterisk reads it
//!
//! * The input is split into physical lines at `\n`. A line longer than 8190 bytes (Asterisk
//!   reads lines into an 8192-byte buffer with `fgets`) is skipped with
//!   [`DiagnosticKind::LineTooLong`]. A UTF-8 BOM at the start of a file is skipped. A NUL
//!   character ends the line's content (C strings) and is reported.
//! * Comments are removed first: `;` starts a comment to the end of the line, `\;` is a
//!   literal `;` (the backslash is removed); `;--` (but not `;---`) opens a block comment that
//!   `--;` closes; block comments nest up to 128 levels and the text on both sides of a block
//!   comment is joined (`a=b;--x--;c` is `a=bc`). A `--;` outside any block comment makes
//!   Asterisk's nesting counter negative: the rest of that line is kept verbatim (`;`
//!   included) and **every following line is ignored until the next `;--`**; this is
//!   reproduced and reported ([`DiagnosticKind::StrayBlockCommentEnd`]). A 129th nested `;--`
//!   makes Asterisk loop forever; here it is an error.
//! * The line is then blank-stripped (a blank is a character below `!`); empty lines are
//!   skipped.
//! * `[name]` starts a category named by everything between `[` and the first `]`, **not
//!   trimmed**, cut to 79 bytes. Text after `]` is ignored (reported) unless the next
//!   character is `(`: then the comma-separated items up to `)` (not trimmed) are applied in
//!   order: `!` makes the category a template (invisible to its users), `+` appends to the
//!   first existing non-template category of that name (error if none), any other item copies
//!   the variables of the first category or template with that name (ASCII case-insensitive;
//!   error if none; an **empty** item matches the first category of the file) **before** the
//!   section's own lines.
//! * `#include <file>`, `#include "file"`, `#tryinclude …` (directive name case-insensitive;
//!   `"…"` or `<…>` removed) insert the resolver's files in order; the included text
//!   continues the current category, but a category opened inside the included file does
//!   **not** continue in the including file after the directive (Asterisk keeps a per-file
//!   "current category"). A missing file is an error for `#include`, silently ignored for
//!   `#tryinclude`. `#exec` is refused ([`DiagnosticKind::ExecRefused`]): Asterisk ignores it
//!   unless `execincludes=yes`, and this library never runs programs. Unknown directives are
//!   reported and ignored.
//! * Errors inside an included file do not fail Asterisk's load: the included file is
//!   abandoned at the faulty line and the including file goes on. This is reproduced and
//!   reported ([`DiagnosticKind::IncludedFileAbandoned`]); [`Strictness::Strict`] fails
//!   instead. An error in the top-level file fails the load.
//! * Include depth is limited ([`Limits::max_include_depth`], 10 like Asterisk); an include
//!   cycle is an error (Asterisk has no cycle detection and expands the cycle until the depth
//!   limit).
//! * Any other line is `name = value`, split at the first `=`; `=>` is the same as `=`
//!   ([`Variable::object`] is set); `name += text` appends `text` to the last variable of that
//!   exact name in the category (or creates it); name and value are blank-stripped; quotes are
//!   literal; repeated names are all kept, in order. A leading `\` escapes the first character
//!   of the name (so `\[x = 1` defines `[x`); an escaped blank is an error. A line without `=`
//!   or with an empty name is reported and ignored. A variable before any category is an
//!   error.
//!
//! In [`Strictness::Strict`] mode every diagnostic of this module is an error.
//! [`Limits`] bound the work done on hostile input.
//!
//! ```
//! use ami_proto::config::ini::{parse, IniOptions, MemoryResolver};
//!
//! let mut files = MemoryResolver::new();
//! files.insert("users.conf", "[bob]\nsecret = b0b ; his password\n");
//! let text = "[general]\nenabled = yes\n#include \"users.conf\"\n[tpl](!)\nread = all\n[alice](tpl)\n";
//! let ini = parse("manager.conf", text, &mut files, &IniOptions::default()).unwrap();
//! let names: Vec<&str> = ini.browse().map(|c| c.name.as_str()).collect();
//! assert_eq!(names, ["general", "bob", "alice"]); // the template is hidden
//! assert_eq!(ini.get("BOB").unwrap().variables[0].value, "b0b");
//! assert_eq!(ini.get("alice").unwrap().variables[0].name, "read"); // inherited
//! ```

use std::sync::Arc;

use super::{ConfigDiagnostic, ConfigError, ConfigErrorKind, DiagnosticKind, LimitKind};
use crate::perm::Strictness;

/// Longest physical line (without its `\n`) that Asterisk reads; longer lines are skipped.
pub const MAX_LINE_BYTES: usize = 8190;
/// Longest category name in bytes (`char name[80]`); longer names are cut.
pub const MAX_CATEGORY_NAME_BYTES: usize = 79;
/// Hard ceiling of [`Limits::max_include_depth`].
pub const MAX_INCLUDE_DEPTH: usize = 64;
/// Deepest block-comment nesting (`MAX_NESTED_COMMENTS`).
pub const MAX_NESTED_COMMENTS: i64 = 128;

/// Why a resolver could not supply an included file.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IncludeError {
    /// Nothing matches the path (for `#tryinclude` this is silently ignored).
    NotFound,
    /// The resolver does not allow includes at all (see [`NoIncludes`]).
    Disabled,
    /// The resolver refuses this path (for example outside the configuration directory).
    Refused {
        /// Why, for the administrator.
        reason: String,
    },
    /// The file exists but could not be read.
    Unreadable {
        /// The file that failed.
        name: String,
        /// The I/O error kind.
        kind: std::io::ErrorKind,
    },
    /// The file is not valid UTF-8.
    NotUtf8 {
        /// The file that failed.
        name: String,
    },
}

impl std::fmt::Display for IncludeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IncludeError::NotFound => f.write_str("no such file"),
            IncludeError::Disabled => f.write_str("includes are disabled"),
            IncludeError::Refused { reason } => write!(f, "refused: {reason}"),
            IncludeError::Unreadable { name, kind } => write!(f, "cannot read {name}: {kind}"),
            IncludeError::NotUtf8 { name } => write!(f, "{name} is not valid UTF-8"),
        }
    }
}

impl std::error::Error for IncludeError {}

/// Supplies the files named by `#include`/`#tryinclude` (the core reads no files).
pub trait IncludeResolver {
    /// Return the files matching `path` (as written after the directive, quotes removed), in
    /// the order Asterisk would load them (glob order), as `(name, text)` pairs. An empty list
    /// means "not found". Names should be canonical (for example absolute paths): they appear
    /// in diagnostics and are used for include-cycle detection.
    fn resolve(&mut self, path: &str) -> Result<Vec<(String, String)>, IncludeError>;
}

/// A resolver that refuses every include ([`IncludeError::Disabled`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoIncludes;

impl IncludeResolver for NoIncludes {
    fn resolve(&mut self, _path: &str) -> Result<Vec<(String, String)>, IncludeError> {
        Err(IncludeError::Disabled)
    }
}

/// An in-memory resolver: named texts, matched exactly or with the glob wildcards `*` and
/// `?`, returned sorted by name (like `glob`). Handy for tests and embedded configurations.
#[derive(Clone, Debug, Default)]
pub struct MemoryResolver {
    files: Vec<(String, String)>,
}

impl MemoryResolver {
    /// An empty resolver.
    pub fn new() -> MemoryResolver {
        MemoryResolver::default()
    }

    /// Add (or replace) the file `name`.
    pub fn insert(&mut self, name: &str, text: &str) {
        match self.files.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 = text.to_owned(),
            None => self.files.push((name.to_owned(), text.to_owned())),
        }
    }
}

impl IncludeResolver for MemoryResolver {
    fn resolve(&mut self, path: &str) -> Result<Vec<(String, String)>, IncludeError> {
        let mut found: Vec<(String, String)> = self
            .files
            .iter()
            .filter(|(name, _)| glob_match(path.as_bytes(), name.as_bytes()))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found)
    }
}

/// `*` and `?` wildcard match, byte for byte (iterative, no recursion): how
/// [`MemoryResolver`] matches `#include` patterns; callers with their own resolvers may use it
/// too.
///
/// ```
/// use ami_proto::config::ini::glob_match;
/// assert!(glob_match(b"users/*.conf", b"users/alice.conf"));
/// assert!(!glob_match(b"*.conf", b"users.conf.bak"));
/// ```
pub fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || name.get(n) == Some(&c) => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

/// Bounds that keep hostile input cheap. Exceeding one is [`ConfigErrorKind::LimitExceeded`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest `#include` nesting below the top-level file (Asterisk: 10; values above
    /// [`MAX_INCLUDE_DEPTH`] are treated as that, to bound recursion).
    pub max_include_depth: usize,
    /// Total bytes of all files read, includes counted.
    pub max_total_bytes: usize,
    /// Number of categories.
    pub max_categories: usize,
    /// Number of variables, inherited copies included.
    pub max_variables: usize,
    /// Bytes of all variable names and values, inherited copies included.
    pub max_stored_bytes: usize,
    /// Abstract work units (category and variable look-ups).
    pub max_work: u64,
    /// Diagnostics kept; the rest are counted in [`DiagnosticKind::DiagnosticsSuppressed`].
    pub max_diagnostics: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_include_depth: 10,
            max_total_bytes: 16 << 20,
            max_categories: 50_000,
            max_variables: 500_000,
            max_stored_bytes: 64 << 20,
            max_work: 50_000_000,
            max_diagnostics: 10_000,
        }
    }
}

/// Options of [`parse`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IniOptions {
    /// [`Strictness::Strict`] turns every diagnostic into an error and makes errors inside
    /// included files fatal.
    pub strictness: Strictness,
    /// Resource bounds.
    pub limits: Limits,
}

/// One `name = value` line (or an inherited copy of one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    /// The name, blank-stripped, case kept.
    pub name: String,
    /// The value, blank-stripped.
    pub value: String,
    /// The file the line was read from.
    pub file: Arc<str>,
    /// The line number in that file (1-based).
    pub line: u32,
    /// Written with `=>` instead of `=`.
    pub object: bool,
    /// Copied from a template or category named in the `[name](…)` list.
    pub inherited: bool,
}

/// A `[name]` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Category {
    /// The name exactly as written between the brackets (cut to 79 bytes).
    pub name: String,
    /// Declared with `(!)`: a template, skipped by [`Ini::browse`] and [`Ini::get`].
    pub template: bool,
    /// The file of the `[name]` line.
    pub file: Arc<str>,
    /// The line of the `[name]` line (1-based).
    pub line: u32,
    /// Names of the categories it inherited from, in order.
    pub inherits: Vec<String>,
    /// Its variables in order: inherited ones first, then its own lines and appended ones.
    pub variables: Vec<Variable>,
}

impl Category {
    /// Variables named `name` (ASCII case-insensitive), in order.
    pub fn variables_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Variable> {
        self.variables.iter().filter(move |v| v.name.eq_ignore_ascii_case(name))
    }
}

/// A parsed configuration: categories in file order, plus what was surprising.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ini {
    /// All categories, templates included, in order of their first `[name]` line.
    pub categories: Vec<Category>,
    /// Non-fatal findings, in input order.
    pub diagnostics: Vec<ConfigDiagnostic>,
}

impl Ini {
    /// Non-template categories in order (`ast_category_browse`).
    pub fn browse(&self) -> impl Iterator<Item = &Category> {
        self.categories.iter().filter(|c| !c.template)
    }

    /// The first non-template category named `name`, ASCII case-insensitive
    /// (`ast_category_get`); later categories of the same name are not seen.
    pub fn get(&self, name: &str) -> Option<&Category> {
        self.browse().find(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// Parse `text` (the file `file`) with Asterisk's ini syntax.
///
/// Returns the categories and the non-fatal diagnostics, or the first fatal error with its
/// file and line.
pub fn parse(
    file: &str,
    text: &str,
    resolver: &mut dyn IncludeResolver,
    opts: &IniOptions,
) -> Result<Ini, ConfigError> {
    let mut parser = Parser {
        resolver,
        opts: *opts,
        categories: Vec::new(),
        current: None,
        sink: Sink::new(opts.strictness, opts.limits.max_diagnostics),
        stack: Vec::new(),
        total_bytes: 0,
        variables: 0,
        stored_bytes: 0,
        work: 0,
    };
    parser.load_files(vec![(file.to_owned(), text.to_owned())])?;
    Ok(Ini { categories: parser.categories, diagnostics: parser.sink.finish() })
}

/// Asterisk's blank: any character below `!` (`ast_skip_blanks`, `ast_trim_blanks`).
pub(crate) fn is_blank(c: char) -> bool {
    (c as u32) < 33
}

/// `ast_strip`: remove leading and trailing blanks.
pub(crate) fn strip(s: &str) -> &str {
    s.trim_matches(is_blank)
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// Collects diagnostics; in strict mode a non-informational one is an error.
pub(crate) struct Sink {
    diagnostics: Vec<ConfigDiagnostic>,
    strict: bool,
    max: usize,
    suppressed: usize,
    first_suppressed: Option<(Arc<str>, u32)>,
}

impl Sink {
    pub(crate) fn new(strictness: Strictness, max: usize) -> Sink {
        Sink {
            diagnostics: Vec::new(),
            strict: strictness == Strictness::Strict,
            max,
            suppressed: 0,
            first_suppressed: None,
        }
    }

    /// Continue with diagnostics collected earlier (the ini stage).
    pub(crate) fn with_diagnostics(
        strictness: Strictness,
        max: usize,
        diagnostics: Vec<ConfigDiagnostic>,
    ) -> Sink {
        let mut sink = Sink::new(strictness, max);
        sink.diagnostics = diagnostics;
        sink
    }

    pub(crate) fn push(
        &mut self,
        file: &Arc<str>,
        line: u32,
        kind: DiagnosticKind,
    ) -> Result<(), ConfigError> {
        if self.strict && !kind.is_informational() {
            return Err(ConfigError {
                file: file.clone(),
                line,
                kind: ConfigErrorKind::Strict(Box::new(kind)),
            });
        }
        if self.diagnostics.len() < self.max {
            self.diagnostics.push(ConfigDiagnostic { file: file.clone(), line, kind });
        } else {
            self.suppressed = self.suppressed.saturating_add(1);
            if self.first_suppressed.is_none() {
                self.first_suppressed = Some((file.clone(), line));
            }
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Vec<ConfigDiagnostic> {
        if let Some((file, line)) = self.first_suppressed.take() {
            self.diagnostics.push(ConfigDiagnostic {
                file,
                line,
                kind: DiagnosticKind::DiagnosticsSuppressed { count: self.suppressed },
            });
        }
        self.diagnostics
    }
}

/// The directive kinds that read files.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IncludeKind {
    Include,
    TryInclude,
}

/// Where the items of a `[name](…)` list apply.
enum Target {
    New(Category),
    Existing(usize),
}

/// Comment-stripping state of one `config_text_file_load` call (shared by glob siblings).
struct CommentState {
    /// Asterisk's `comment` counter; negative after a stray `--;`.
    depth: i64,
    /// Where the open block comments started (file, line), innermost last.
    starts: Vec<(Arc<str>, u32)>,
    /// How many `;--` and `--;` markers were acted on so far (for [`read_lines`]).
    markers: usize,
}

struct Parser<'r> {
    resolver: &'r mut dyn IncludeResolver,
    opts: IniOptions,
    categories: Vec<Category>,
    /// `cfg->current`: the category of the last `[name]` line, used as the starting category
    /// of included files.
    current: Option<usize>,
    sink: Sink,
    /// Files being read, outermost first (for depth and cycle checks).
    stack: Vec<Arc<str>>,
    total_bytes: usize,
    variables: usize,
    stored_bytes: usize,
    work: u64,
}

impl Parser<'_> {
    fn error(&self, file: &Arc<str>, line: u32, kind: ConfigErrorKind) -> ConfigError {
        ConfigError { file: file.clone(), line, kind }
    }

    fn spend(&mut self, units: u64, file: &Arc<str>, line: u32) -> Result<(), ConfigError> {
        self.work = self.work.saturating_add(units);
        if self.work > self.opts.limits.max_work {
            return Err(self.error(file, line, ConfigErrorKind::LimitExceeded(LimitKind::Work)));
        }
        Ok(())
    }

    /// One `config_text_file_load`: the files a name resolved to, in order, sharing the
    /// current category and the block-comment state.
    fn load_files(&mut self, files: Vec<(String, String)>) -> Result<(), ConfigError> {
        let mut cat = self.current;
        let mut comments = CommentState { depth: 0, starts: Vec::new(), markers: 0 };
        for (index, (name, text)) in files.into_iter().enumerate() {
            let file: Arc<str> = Arc::from(name);
            self.stack.push(file.clone());
            let result = self.load_text(&file, &text, index == 0, &mut cat, &mut comments);
            self.stack.pop();
            result?;
            if let Some((start_file, start_line)) =
                comments.starts.last().cloned().filter(|_| comments.depth > 0)
            {
                self.sink.push(
                    &start_file,
                    start_line,
                    DiagnosticKind::UnterminatedBlockComment,
                )?;
            }
        }
        Ok(())
    }

    fn load_text(
        &mut self,
        file: &Arc<str>,
        text: &str,
        first_file: bool,
        cat: &mut Option<usize>,
        comments: &mut CommentState,
    ) -> Result<(), ConfigError> {
        let mut lineno: u32 = 0;
        for raw in physical_lines(text) {
            lineno = lineno.saturating_add(1);
            self.total_bytes = self.total_bytes.saturating_add(raw.len().saturating_add(1));
            if self.total_bytes > self.opts.limits.max_total_bytes {
                return Err(self.error(
                    file,
                    lineno,
                    ConfigErrorKind::LimitExceeded(LimitKind::TotalBytes),
                ));
            }
            let line = match prepare_line(raw, lineno == 1 && first_file) {
                Prepared::TooLong => {
                    self.sink.push(
                        file,
                        lineno,
                        DiagnosticKind::LineTooLong { length: raw.len() },
                    )?;
                    continue;
                }
                Prepared::Text { text, nul } => {
                    if nul {
                        self.sink.push(file, lineno, DiagnosticKind::NulCharacter)?;
                    }
                    text
                }
            };
            let Some(content) = self.strip_comments(file, lineno, line, comments)? else {
                continue;
            };
            let content = strip(&content);
            if content.is_empty() {
                continue;
            }
            self.process_line(file, lineno, content, cat)?;
        }
        Ok(())
    }

    /// The comment loop of `config_text_file_load`, in linear time. Returns the text to
    /// process (`process_buf`), or `None` when the line started inside a block comment and
    /// no block comment ended on it.
    fn strip_comments(
        &mut self,
        file: &Arc<str>,
        lineno: u32,
        line: &str,
        comments: &mut CommentState,
    ) -> Result<Option<String>, ConfigError> {
        let raw = line.as_bytes();
        let at = |i: usize| raw.get(i).copied().unwrap_or(0);
        // The processable text: committed bytes, plus raw[live..] while `open`.
        let mut out: Option<Vec<u8>> = (comments.depth == 0).then(Vec::new);
        let mut open = out.is_some();
        let mut live = 0usize;
        // Asterisk's `new_buf`: raw bytes from here on are unmodified.
        let mut scan = 0usize;
        let mut stopped = false;
        while let Some(offset) = raw.get(scan..).and_then(|r| r.iter().position(|&b| b == b';')) {
            let p = scan + offset;
            if p > scan && at(p - 1) == b'\\' {
                // `\;`: the backslash goes, the `;` stays.
                if open {
                    if let (Some(buf), Some(part)) = (out.as_mut(), raw.get(live..p - 1)) {
                        buf.extend_from_slice(part);
                    }
                    live = p;
                }
                scan = p + 1;
            } else if at(p + 1) == b'-' && at(p + 2) == b'-' && at(p + 3) != b'-' {
                // `;--` opens a (nested) block comment.
                if comments.depth >= MAX_NESTED_COMMENTS {
                    return Err(self.error(file, lineno, ConfigErrorKind::CommentNestingTooDeep));
                }
                if open {
                    if let (Some(buf), Some(part)) = (out.as_mut(), raw.get(live..p)) {
                        buf.extend_from_slice(part);
                    }
                    open = false;
                }
                comments.depth += 1;
                comments.markers += 1;
                if comments.depth > 0 {
                    comments.starts.push((file.clone(), lineno));
                }
                scan = p + 3;
            } else if p >= scan + 2 && at(p - 1) == b'-' && at(p - 2) == b'-' {
                // `--;` closes one level (even when none is open: the counter goes negative).
                if comments.depth > 0 {
                    comments.starts.pop();
                } else {
                    self.sink.push(file, lineno, DiagnosticKind::StrayBlockCommentEnd)?;
                }
                comments.depth -= 1;
                comments.markers += 1;
                scan = p + 1;
                if comments.depth == 0 {
                    out.get_or_insert_with(Vec::new);
                    open = true;
                    live = p + 1;
                }
            } else if comments.depth == 0 {
                // A plain comment: the line ends here.
                if open {
                    if let (Some(buf), Some(part)) = (out.as_mut(), raw.get(live..p)) {
                        buf.extend_from_slice(part);
                    }
                    open = false;
                }
                stopped = true;
                break;
            } else {
                scan = p + 1;
            }
        }
        if let (true, Some(buf), Some(part)) = (open && !stopped, out.as_mut(), raw.get(live..)) {
            buf.extend_from_slice(part);
        }
        // Only ASCII bytes were removed or used as cut points, so the bytes stay UTF-8.
        Ok(out.map(|bytes| match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }))
    }

    fn process_line(
        &mut self,
        file: &Arc<str>,
        lineno: u32,
        line: &str,
        cat: &mut Option<usize>,
    ) -> Result<(), ConfigError> {
        if let Some(rest) = line.strip_prefix('[') {
            self.category_line(file, lineno, rest, cat)
        } else if let Some(rest) = line.strip_prefix('#') {
            self.directive_line(file, lineno, rest)
        } else {
            self.variable_line(file, lineno, line, *cat)
        }
    }

    /// First category (in file order) satisfying `pred`; `name` empty matches every name.
    fn find_category(
        &mut self,
        file: &Arc<str>,
        lineno: u32,
        name: &str,
        include_templates: bool,
    ) -> Result<Option<usize>, ConfigError> {
        let found = self.categories.iter().position(|c| {
            (include_templates || !c.template)
                && (name.is_empty() || c.name.eq_ignore_ascii_case(name))
        });
        let looked = found.map_or(self.categories.len(), |i| i + 1);
        self.spend(looked as u64, file, lineno)?;
        Ok(found)
    }

    fn count_variables(
        &mut self,
        file: &Arc<str>,
        lineno: u32,
        added: usize,
        bytes: usize,
    ) -> Result<(), ConfigError> {
        self.variables = self.variables.saturating_add(added);
        self.stored_bytes = self.stored_bytes.saturating_add(bytes);
        if self.variables > self.opts.limits.max_variables {
            return Err(self.error(
                file,
                lineno,
                ConfigErrorKind::LimitExceeded(LimitKind::Variables),
            ));
        }
        if self.stored_bytes > self.opts.limits.max_stored_bytes {
            return Err(self.error(
                file,
                lineno,
                ConfigErrorKind::LimitExceeded(LimitKind::StoredBytes),
            ));
        }
        Ok(())
    }

    fn category_line(
        &mut self,
        file: &Arc<str>,
        lineno: u32,
        rest: &str,
        cat: &mut Option<usize>,
    ) -> Result<(), ConfigError> {
        let Some(close) = rest.find(']') else {
            return Err(self.error(file, lineno, ConfigErrorKind::MissingCloseBracket));
        };
        let raw_name = rest.get(..close).unwrap_or_default();
        let after = rest.get(close + 1..).unwrap_or_default();
        let (items, trailing) = match after.strip_prefix('(') {
            Some(options) => {
                let Some(end) = options.find(')') else {
                    return Err(self.error(file, lineno, ConfigErrorKind::MissingCloseParen));
                };
                (
                    Some(options.get(..end).unwrap_or_default()),
                    options.get(end + 1..).unwrap_or_default(),
                )
            }
            None => (None, after),
        };
        if !trailing.is_empty() {
            self.sink.push(
                file,
                lineno,
                DiagnosticKind::TextAfterCategoryIgnored { text: trailing.to_owned() },
            )?;
        }
        let name = truncate_bytes(raw_name, MAX_CATEGORY_NAME_BYTES);
        if name.len() < raw_name.len() {
            self.sink.push(
                file,
                lineno,
                DiagnosticKind::CategoryNameTruncated { name: name.to_owned() },
            )?;
        }
        let mut target = Target::New(Category {
            name: name.to_owned(),
            template: false,
            file: file.clone(),
            line: lineno,
            inherits: Vec::new(),
            variables: Vec::new(),
        });
        for item in items.into_iter().flat_map(|s| s.split(',')) {
            self.spend(1, file, lineno)?;
            if item == "!" {
                match &mut target {
                    Target::New(c) => c.template = true,
                    Target::Existing(i) => {
                        if let Some(c) = self.categories.get_mut(*i) {
                            c.template = true;
                        }
                    }
                }
            } else if let Some(filter) = item.strip_prefix('+') {
                if !filter.is_empty() {
                    return Err(self.error(
                        file,
                        lineno,
                        ConfigErrorKind::UnsupportedAppendFilter { filter: filter.to_owned() },
                    ));
                }
                let Some(index) = self.find_category(file, lineno, raw_name, false)? else {
                    return Err(self.error(
                        file,
                        lineno,
                        ConfigErrorKind::AppendTargetMissing { name: raw_name.to_owned() },
                    ));
                };
                if let Target::New(new) = std::mem::replace(&mut target, Target::Existing(index)) {
                    if let Some(existing) = self.categories.get_mut(index) {
                        existing.template |= new.template;
                        existing.variables.extend(new.variables);
                    }
                    self.current = Some(index);
                }
            } else {
                if item.is_empty() {
                    self.sink.push(file, lineno, DiagnosticKind::EmptyInheritItem)?;
                }
                let Some(base) = self.find_category(file, lineno, item, true)? else {
                    return Err(self.error(
                        file,
                        lineno,
                        ConfigErrorKind::InheritTargetMissing { name: item.to_owned() },
                    ));
                };
                let (base_name, copies) = match self.categories.get(base) {
                    Some(b) => (
                        b.name.clone(),
                        b.variables
                            .iter()
                            .map(|v| Variable { inherited: true, ..v.clone() })
                            .collect::<Vec<_>>(),
                    ),
                    None => continue,
                };
                let bytes = copies
                    .iter()
                    .map(|v| v.name.len().saturating_add(v.value.len()))
                    .fold(0usize, usize::saturating_add);
                self.count_variables(file, lineno, copies.len(), bytes)?;
                self.spend(copies.len() as u64, file, lineno)?;
                let dest = match &mut target {
                    Target::New(c) => Some(c),
                    Target::Existing(i) => self.categories.get_mut(*i),
                };
                if let Some(dest) = dest {
                    dest.variables.extend(copies);
                    dest.inherits.push(base_name);
                }
            }
        }
        match target {
            Target::New(new) => {
                if self.categories.len() >= self.opts.limits.max_categories {
                    return Err(self.error(
                        file,
                        lineno,
                        ConfigErrorKind::LimitExceeded(LimitKind::Categories),
                    ));
                }
                self.categories.push(new);
                let index = self.categories.len() - 1;
                self.current = Some(index);
                *cat = Some(index);
            }
            Target::Existing(index) => *cat = Some(index),
        }
        Ok(())
    }

    fn directive_line(
        &mut self,
        file: &Arc<str>,
        lineno: u32,
        rest: &str,
    ) -> Result<(), ConfigError> {
        // The directive name runs up to the first blank (or, as with a signed C `char`, the
        // first non-ASCII character); the argument is the blank-stripped remainder.
        let (name, argument) =
            match rest.char_indices().find(|&(_, c)| is_blank(c) || !c.is_ascii()) {
                Some((i, c)) => (
                    rest.get(..i).unwrap_or_default(),
                    strip(rest.get(i + c.len_utf8()..).unwrap_or_default()),
                ),
                None => (rest, ""),
            };
        let kind = if name.eq_ignore_ascii_case("include") {
            IncludeKind::Include
        } else if name.eq_ignore_ascii_case("tryinclude") {
            IncludeKind::TryInclude
        } else if name.eq_ignore_ascii_case("exec") {
            return self.sink.push(
                file,
                lineno,
                DiagnosticKind::ExecRefused { command: argument.to_owned() },
            );
        } else {
            return self.sink.push(
                file,
                lineno,
                DiagnosticKind::UnknownDirective { name: name.to_owned() },
            );
        };
        if argument.is_empty() {
            return self.sink.push(
                file,
                lineno,
                DiagnosticKind::DirectiveMissingArgument { directive: name.to_owned() },
            );
        }
        let path = dequote(argument);
        self.include(file, lineno, kind, path)
    }

    fn include(
        &mut self,
        file: &Arc<str>,
        lineno: u32,
        kind: IncludeKind,
        path: &str,
    ) -> Result<(), ConfigError> {
        let max = self.opts.limits.max_include_depth.min(MAX_INCLUDE_DEPTH);
        if self.stack.len() > max {
            return match kind {
                IncludeKind::Include => Err(self.error(
                    file,
                    lineno,
                    ConfigErrorKind::IncludeDepthExceeded { path: path.to_owned(), max },
                )),
                IncludeKind::TryInclude => self.sink.push(
                    file,
                    lineno,
                    DiagnosticKind::TryIncludeDepthExceeded { path: path.to_owned(), max },
                ),
            };
        }
        let resolved = self.resolver.resolve(path);
        let files = match resolved {
            Ok(files) if !files.is_empty() => files,
            Ok(_) | Err(IncludeError::NotFound) => {
                return match kind {
                    IncludeKind::Include => Err(self.error(
                        file,
                        lineno,
                        ConfigErrorKind::IncludeNotFound { path: path.to_owned() },
                    )),
                    IncludeKind::TryInclude => Ok(()),
                };
            }
            Err(error) => {
                return match kind {
                    IncludeKind::Include => Err(self.error(
                        file,
                        lineno,
                        ConfigErrorKind::IncludeFailed { path: path.to_owned(), error },
                    )),
                    IncludeKind::TryInclude => self.sink.push(
                        file,
                        lineno,
                        DiagnosticKind::TryIncludeFailed { path: path.to_owned(), error },
                    ),
                };
            }
        };
        if let Some((name, _)) =
            files.iter().find(|(name, _)| self.stack.iter().any(|open| **open == **name))
        {
            return Err(self.error(
                file,
                lineno,
                ConfigErrorKind::IncludeCycle { path: path.to_owned(), file: name.clone() },
            ));
        }
        match self.load_files(files) {
            Ok(()) => Ok(()),
            Err(error) if self.opts.strictness == Strictness::Strict => Err(error),
            Err(error) => {
                if matches!(error.kind, ConfigErrorKind::LimitExceeded(_)) {
                    return Err(error);
                }
                self.sink.push(
                    file,
                    lineno,
                    DiagnosticKind::IncludedFileAbandoned { error: Box::new(error) },
                )
            }
        }
    }

    fn variable_line(
        &mut self,
        file: &Arc<str>,
        lineno: u32,
        line: &str,
        cat: Option<usize>,
    ) -> Result<(), ConfigError> {
        let Some(cat) = cat else {
            return Err(self.error(file, lineno, ConfigErrorKind::NoCategory));
        };
        let (cur, start) = match line.strip_prefix('\\') {
            Some(escaped) => {
                // Asterisk rejects an escaped character below 33 as a signed `char`: blanks,
                // the end of the line and (on x86) every non-ASCII byte.
                match escaped.chars().next() {
                    Some(c) if !is_blank(c) && c.is_ascii() => (escaped, 1),
                    _ => return Err(self.error(file, lineno, ConfigErrorKind::InvalidEscape)),
                }
            }
            None => (line, 0),
        };
        let Some(eq) = cur.get(start..).and_then(|s| s.find('=')).map(|i| i + start) else {
            return self.sink.push(
                file,
                lineno,
                DiagnosticKind::NoEquals { text: line.to_owned() },
            );
        };
        if eq > start && cur.as_bytes().get(eq - 1) == Some(&b'+') {
            let name = strip(cur.get(..eq - 1).unwrap_or_default());
            let addend = cur.get(eq + 1..).unwrap_or_default();
            self.append_variable(file, lineno, cat, name, addend)
        } else {
            let name = strip(cur.get(..eq).unwrap_or_default());
            let mut value = cur.get(eq + 1..).unwrap_or_default();
            let object = match value.strip_prefix('>') {
                Some(v) => {
                    value = v;
                    true
                }
                None => false,
            };
            self.new_variable(file, lineno, cat, name, strip(value), object)
        }
    }

    fn new_variable(
        &mut self,
        file: &Arc<str>,
        lineno: u32,
        cat: usize,
        name: &str,
        value: &str,
        object: bool,
    ) -> Result<(), ConfigError> {
        if name.is_empty() {
            return self.sink.push(file, lineno, DiagnosticKind::NoVariableName);
        }
        self.count_variables(file, lineno, 1, name.len().saturating_add(value.len()))?;
        if let Some(category) = self.categories.get_mut(cat) {
            category.variables.push(Variable {
                name: name.to_owned(),
                value: value.to_owned(),
                file: file.clone(),
                line: lineno,
                object,
                inherited: false,
            });
        }
        Ok(())
    }

    /// `name += addend`: find the last variable named exactly `name`, then (like
    /// `ast_variable_update`) replace the last variable whose name and value equal it
    /// case-insensitively with `old value + addend`, blank-stripped.
    fn append_variable(
        &mut self,
        file: &Arc<str>,
        lineno: u32,
        cat: usize,
        name: &str,
        addend: &str,
    ) -> Result<(), ConfigError> {
        let count = self.categories.get(cat).map_or(0, |c| c.variables.len());
        self.spend(count as u64, file, lineno)?;
        let Some(vars) = self.categories.get(cat).map(|c| &c.variables) else {
            return Ok(());
        };
        let Some(replace) = vars.iter().rposition(|v| v.name == name) else {
            return self.new_variable(file, lineno, cat, name, strip(addend), false);
        };
        let (replace_name, replace_value) = match vars.get(replace) {
            Some(v) => (&v.name, &v.value),
            None => return Ok(()),
        };
        // The variable itself always matches; only a later one can be chosen instead.
        let mut compared = 0u64;
        let later = vars.get(replace + 1..).unwrap_or_default();
        let target = later.iter().rposition(|v| {
            compared = compared.saturating_add(1);
            v.name.eq_ignore_ascii_case(replace_name)
                && (replace_value.is_empty() || {
                    if v.value.len() == replace_value.len() {
                        compared = compared.saturating_add((v.value.len() / 32) as u64);
                    }
                    v.value.eq_ignore_ascii_case(replace_value)
                })
        });
        let target = target.map(|i| i + replace + 1);
        let target = target.unwrap_or(replace);
        let new_name = replace_name.clone();
        let copied_value = (target != replace).then(|| replace_value.clone());
        self.spend(compared, file, lineno)?;
        if let Some(v) = &copied_value {
            self.spend((v.len() / 32) as u64, file, lineno)?;
        }
        self.count_variables(file, lineno, 0, addend.len())?;
        let Some(var) = self.categories.get_mut(cat).and_then(|c| c.variables.get_mut(target))
        else {
            return Ok(());
        };
        let mut value = copied_value.unwrap_or_else(|| std::mem::take(&mut var.value));
        value.push_str(addend);
        let kept = value.trim_end_matches(is_blank).len();
        value.truncate(kept);
        let leading = value.len() - value.trim_start_matches(is_blank).len();
        value.drain(..leading);
        var.name = new_name;
        var.value = value;
        var.inherited = false;
        Ok(())
    }
}

/// The physical lines of a file as the loader reads them: split at `\n` (a `\r` before it
/// stays part of the line), without an empty piece after a final `\n`.
pub(crate) fn physical_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split_terminator('\n')
}

/// A physical line after the checks that come before comment removal.
enum Prepared<'a> {
    /// Longer than [`MAX_LINE_BYTES`]: skipped.
    TooLong,
    /// The text to read: without a leading BOM on the first line, cut at a NUL (`nul`).
    Text { text: &'a str, nul: bool },
}

fn prepare_line(raw: &str, first_line_of_first_file: bool) -> Prepared<'_> {
    if raw.len() > MAX_LINE_BYTES {
        return Prepared::TooLong;
    }
    let mut text = raw;
    if first_line_of_first_file {
        text = text.strip_prefix('\u{feff}').unwrap_or(text);
    }
    match text.find('\0') {
        Some(nul) => Prepared::Text { text: text.get(..nul).unwrap_or_default(), nul: true },
        None => Prepared::Text { text, nul: false },
    }
}

/// How the loader reads one physical line of a file (see [`read_lines`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LineReading {
    /// What the loader processes: the text left after comments are removed, blank-stripped;
    /// empty when nothing on the line is processed.
    pub(crate) content: String,
    /// The line begins and ends outside every block comment, no `;--`/`--;` marker on it is
    /// acted on, and it is read whole (not skipped as too long, no NUL): removing it, or
    /// replacing it by another such line, changes nothing about how other lines are read.
    pub(crate) plain: bool,
    /// The line ends outside every block comment (lines inserted after it are read).
    pub(crate) ends_open: bool,
}

/// Every physical line of `text` (a top-level file: a BOM on its first line is skipped) as
/// the loader reads it, starting outside any block comment. Used by the editor to know what
/// each line means without re-implementing the comment rules.
pub(crate) fn read_lines(text: &str) -> Vec<LineReading> {
    let mut parser = Parser {
        resolver: &mut NoIncludes,
        opts: IniOptions::default(),
        categories: Vec::new(),
        current: None,
        sink: Sink::new(Strictness::AsteriskCompatible, 0),
        stack: Vec::new(),
        total_bytes: 0,
        variables: 0,
        stored_bytes: 0,
        work: 0,
    };
    let file: Arc<str> = Arc::from("");
    let mut comments = CommentState { depth: 0, starts: Vec::new(), markers: 0 };
    let mut broken = false;
    let mut out = Vec::new();
    for (index, raw) in physical_lines(text).enumerate() {
        if broken {
            out.push(LineReading::default());
            continue;
        }
        let (line, whole) = match prepare_line(raw, index == 0) {
            Prepared::TooLong => {
                let open = comments.depth == 0;
                out.push(LineReading { content: String::new(), plain: false, ends_open: open });
                continue;
            }
            Prepared::Text { text, nul } => (text, !nul),
        };
        let (depth, markers) = (comments.depth, comments.markers);
        let lineno = u32::try_from(index.saturating_add(1)).unwrap_or(u32::MAX);
        match parser.strip_comments(&file, lineno, line, &mut comments) {
            Ok(content) => {
                let ends_open = comments.depth == 0;
                out.push(LineReading {
                    content: content.map(|c| strip(&c).to_owned()).unwrap_or_default(),
                    plain: whole && depth == 0 && ends_open && comments.markers == markers,
                    ends_open,
                });
            }
            Err(_) => {
                // Too many nested block comments: the loader refuses the file.
                broken = true;
                out.push(LineReading::default());
            }
        }
    }
    out
}

/// Remove `"…"` or `<…>` around an include path (only when both ends are present).
fn dequote(arg: &str) -> &str {
    let close = match arg.chars().next() {
        Some('"') => '"',
        Some('<') => '>',
        _ => return arg,
    };
    if arg.ends_with(close) {
        // A lone `"` is both ends: the path is empty, as in Asterisk.
        arg.get(1..arg.len() - 1).unwrap_or_default()
    } else {
        arg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opts() -> IniOptions {
        IniOptions::default()
    }

    fn strict() -> IniOptions {
        IniOptions { strictness: Strictness::Strict, ..IniOptions::default() }
    }

    fn ok(text: &str) -> Ini {
        match parse("t.conf", text, &mut NoIncludes, &opts()) {
            Ok(ini) => ini,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    fn err(text: &str) -> ConfigError {
        match parse("t.conf", text, &mut NoIncludes, &opts()) {
            Ok(ini) => panic!("unexpected success: {ini:?}"),
            Err(e) => e,
        }
    }

    /// `(category, name, value)` of every visible variable.
    fn triples(ini: &Ini) -> Vec<(String, String, String)> {
        ini.browse()
            .flat_map(|c| {
                c.variables.iter().map(|v| (c.name.clone(), v.name.clone(), v.value.clone()))
            })
            .collect()
    }

    fn t(c: &str, n: &str, v: &str) -> (String, String, String) {
        (c.to_owned(), n.to_owned(), v.to_owned())
    }

    fn value(ini: &Ini, cat: &str, name: &str) -> Option<String> {
        ini.get(cat)?.variables.iter().rev().find(|v| v.name == name).map(|v| v.value.clone())
    }

    fn has(ini: &Ini, line: u32, pred: impl Fn(&DiagnosticKind) -> bool) -> bool {
        ini.diagnostics.iter().any(|d| d.line == line && pred(&d.kind))
    }

    #[test]
    fn utf8_bom_is_skipped_on_the_first_line() {
        let ini = ok("\u{feff}[a]\nx=1\n");
        assert_eq!(triples(&ini), [t("a", "x", "1")]);
        assert!(ini.diagnostics.is_empty());
    }

    #[test]
    fn bom_is_skipped_only_in_the_first_file_of_an_include() {
        let mut files = MemoryResolver::new();
        files.insert("a.conf", "\u{feff}[a]\n");
        files.insert("b.conf", "\u{feff}[b]\n");
        let ini = parse("t.conf", "#include \"*.conf\"\n", &mut files, &opts()).unwrap();
        let names: Vec<&str> = ini.browse().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a"]);
        assert!(ini.diagnostics.iter().any(|d| &*d.file == "b.conf"
            && d.line == 1
            && matches!(d.kind, DiagnosticKind::NoEquals { .. })));
    }

    #[test]
    fn line_of_8190_bytes_is_read_and_8191_is_skipped() {
        let long_ok = format!("x={}", "a".repeat(MAX_LINE_BYTES - 2));
        let too_long = format!("y={}", "b".repeat(MAX_LINE_BYTES - 1));
        let ini = ok(&format!("[a]\n{long_ok}\n{too_long}\nz=1\n"));
        let names: Vec<&str> =
            ini.categories[0].variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["x", "z"]);
        assert!(has(&ini, 3, |k| matches!(k, DiagnosticKind::LineTooLong { length: 8191 })));
        // The newline is not counted; a CR is.
        let with_cr = format!("[a]\nx={}\r\n", "a".repeat(MAX_LINE_BYTES - 2));
        assert!(ok(&with_cr).categories[0].variables.is_empty());
    }

    #[test]
    fn semicolon_starts_a_comment() {
        let ini = ok("; heading\n[a] ; trailing\nx = 1 ; the value\n   ;indented\n");
        assert_eq!(triples(&ini), [t("a", "x", "1")]);
        assert!(ini.diagnostics.is_empty());
    }

    #[test]
    fn escaped_semicolon_is_literal_and_loses_its_backslash() {
        let ini = ok("[a]\nx = p\\;w\\;d ; comment\ny = b\\\\;c\n");
        assert_eq!(value(&ini, "a", "x").as_deref(), Some("p;w;d"));
        // Only one backslash goes: `\\;` is `\;`.
        assert_eq!(value(&ini, "a", "y").as_deref(), Some("b\\;c"));
    }

    #[test]
    fn block_comment_joins_the_text_around_it() {
        let ini = ok("[a]\nx = b;-- hidden --;c\n");
        assert_eq!(value(&ini, "a", "x").as_deref(), Some("bc"));
    }

    #[test]
    fn block_comment_spans_lines() {
        let ini = ok("[a]\nx=1;-- start\ny=2\nz=3 --;w=4\nv=5\n");
        assert_eq!(triples(&ini), [t("a", "x", "1"), t("a", "w", "4"), t("a", "v", "5")]);
    }

    #[test]
    fn triple_dash_is_a_plain_comment() {
        let ini = ok("[a]\nx = b;---c\ny = 2\n");
        assert_eq!(triples(&ini), [t("a", "x", "b"), t("a", "y", "2")]);
    }

    #[test]
    fn block_comments_nest() {
        let ini = ok("[a]\n;-- outer ;-- inner --; still outer\nx=1\n--;\ny=2\n");
        assert_eq!(triples(&ini), [t("a", "y", "2")]);
    }

    #[test]
    fn block_comment_nesting_is_limited_to_128() {
        let deep = |n: usize| format!("[a]\n{}\n{}\nx=1\n", ";--".repeat(n), "--; ".repeat(n));
        assert_eq!(triples(&ok(&deep(128))), [t("a", "x", "1")]);
        let e = err(&deep(129));
        assert_eq!((e.line, e.kind), (2, ConfigErrorKind::CommentNestingTooDeep));
    }

    #[test]
    fn stray_block_comment_end_hides_following_lines_until_next_start() {
        let ini = ok("[a]\nx = b--;c ; d\ny = 2\n;-- z = 3\nw = 4\n");
        // The rest of line 2 is kept verbatim; lines 3 and 4 are ignored.
        assert_eq!(triples(&ini), [t("a", "x", "b--;c ; d"), t("a", "w", "4")]);
        assert!(has(&ini, 2, |k| *k == DiagnosticKind::StrayBlockCommentEnd));
        let e = parse("t.conf", "[a]\nx=b--;\n", &mut NoIncludes, &strict()).unwrap_err();
        assert_eq!(e.line, 2);
    }

    #[test]
    fn unterminated_block_comment_is_reported_at_its_start() {
        let ini = ok("[a]\nx=1\n;-- never closed\ny=2\n");
        assert_eq!(triples(&ini), [t("a", "x", "1")]);
        assert!(has(&ini, 3, |k| *k == DiagnosticKind::UnterminatedBlockComment));
    }

    #[test]
    fn blank_lines_and_surrounding_blanks_are_ignored() {
        let ini = ok("\n\t\n  [a]  \r\n \t x \t = \t 1 \t\r\n\u{b}\n");
        assert_eq!(triples(&ini), [t("a", "x", "1")]);
    }

    #[test]
    fn category_name_is_not_trimmed() {
        let ini = ok("[ bob ]\n");
        assert_eq!(ini.categories[0].name, " bob ");
        assert!(ini.get("bob").is_none());
    }

    #[test]
    fn category_name_is_cut_to_79_bytes() {
        let name = "n".repeat(100);
        let ini = ok(&format!("[{name}]\n"));
        assert_eq!(ini.categories[0].name.len(), MAX_CATEGORY_NAME_BYTES);
        assert!(has(&ini, 1, |k| matches!(k, DiagnosticKind::CategoryNameTruncated { .. })));
        // Never in the middle of a character.
        let ini = ok(&format!("[{}é]\n", "n".repeat(78)));
        assert_eq!(ini.categories[0].name, "n".repeat(78));
    }

    #[test]
    fn text_after_bracket_is_ignored_unless_parenthesis() {
        let ini = ok("[a] (!)\nx=1\n");
        assert!(!ini.categories[0].template);
        assert!(has(&ini, 1, |k| matches!(
            k,
            DiagnosticKind::TextAfterCategoryIgnored { text } if text == " (!)"
        )));
        let ini = ok("[b](!) junk\n");
        assert!(ini.categories[0].template);
        assert!(has(&ini, 1, |k| matches!(k, DiagnosticKind::TextAfterCategoryIgnored { .. })));
    }

    #[test]
    fn template_is_hidden_from_browse_and_get() {
        let ini = ok("[tpl](!)\nx=1\n[a]\n");
        assert!(ini.categories[0].template);
        assert!(ini.get("tpl").is_none());
        let names: Vec<&str> = ini.browse().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["a"]);
    }

    #[test]
    fn inherited_variables_come_first() {
        let ini = ok("[tpl](!)\nread = all\nsecret = t\n[a](tpl)\nread = call\n");
        let a = ini.get("a").unwrap();
        let got: Vec<(&str, &str, bool)> =
            a.variables.iter().map(|v| (v.name.as_str(), v.value.as_str(), v.inherited)).collect();
        assert_eq!(got, [("read", "all", true), ("secret", "t", true), ("read", "call", false)]);
        assert_eq!(a.inherits, ["tpl"]);
    }

    #[test]
    fn inheritance_from_several_bases_in_order_case_insensitive() {
        let ini = ok("[one](!)\nx=1\n[two]\ny=2\n[a](ONE,two)\n");
        let names: Vec<&str> =
            ini.get("a").unwrap().variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["x", "y"]);
    }

    #[test]
    fn inheritance_from_a_missing_category_is_an_error() {
        let e = err("[a]\n[b](nosuch)\n");
        assert_eq!(e.line, 2);
        assert_eq!(e.kind, ConfigErrorKind::InheritTargetMissing { name: "nosuch".into() });
        // Items are not trimmed: ` !` is a base name, not the template mark.
        assert!(matches!(err("[a](x, !)\n").kind, ConfigErrorKind::InheritTargetMissing { .. }));
    }

    #[test]
    fn empty_inherit_item_inherits_from_the_first_category() {
        let ini = ok("[first]\nx=1\n[a]()\n");
        assert_eq!(value(&ini, "a", "x").as_deref(), Some("1"));
        assert!(has(&ini, 3, |k| *k == DiagnosticKind::EmptyInheritItem));
    }

    #[test]
    fn plus_appends_to_the_existing_category() {
        let ini = ok("[a]\nx=1\n[b]\n[a](+)\ny=2\n[A](+)\nz=3\n");
        assert_eq!(ini.categories.len(), 2);
        assert_eq!(triples(&ini), [t("a", "x", "1"), t("a", "y", "2"), t("a", "z", "3")]);
    }

    #[test]
    fn plus_needs_an_existing_non_template_category() {
        let e = err("[a]\n[b](+)\n");
        assert_eq!(
            (e.line, e.kind),
            (2, ConfigErrorKind::AppendTargetMissing { name: "b".into() })
        );
        assert!(matches!(
            err("[t](!)\n[t](+)\n").kind,
            ConfigErrorKind::AppendTargetMissing { .. }
        ));
        assert!(matches!(
            err("[a]\n[a](+x=y)\n").kind,
            ConfigErrorKind::UnsupportedAppendFilter { .. }
        ));
    }

    #[test]
    fn plus_with_template_mark_hides_the_existing_category() {
        let ini = ok("[a]\nx=1\n[a](+,!)\n");
        assert!(ini.browse().next().is_none());
    }

    #[test]
    fn inheriting_from_itself_after_plus_doubles_without_hanging() {
        let ini = ok("[a]\nx=1\n[a](+,a)\n");
        assert_eq!(triples(&ini), [t("a", "x", "1"), t("a", "x", "1")]);
    }

    #[test]
    fn missing_close_bracket_is_an_error() {
        let e = err("[a]\nx=1\n[b\n");
        assert_eq!((e.line, e.kind.clone()), (3, ConfigErrorKind::MissingCloseBracket));
        assert_eq!(e.to_string(), "t.conf:3: no closing `]` in category line");
    }

    #[test]
    fn missing_close_paren_is_an_error() {
        let e = err("[a](!\n");
        assert_eq!((e.line, e.kind), (1, ConfigErrorKind::MissingCloseParen));
    }

    #[test]
    fn variable_before_any_category_is_an_error() {
        let e = err("; comment\n\nx = 1\n[a]\n");
        assert_eq!((e.line, e.kind), (3, ConfigErrorKind::NoCategory));
    }

    #[test]
    fn value_splits_at_the_first_equals_sign() {
        let ini = ok("[a]\nsetvar = A=B=C\n");
        assert_eq!(triples(&ini), [t("a", "setvar", "A=B=C")]);
    }

    #[test]
    fn arrow_is_the_same_as_equals() {
        let ini = ok("[a]\nx => 1\ny = 2\n");
        assert_eq!(triples(&ini), [t("a", "x", "1"), t("a", "y", "2")]);
        let vars = &ini.categories[0].variables;
        assert!(vars[0].object && !vars[1].object);
    }

    #[test]
    fn plus_equals_appends_to_the_previous_value() {
        let ini = ok("[a]\nx = one\ny = 1\nx = two\nx += , three \nz += new\n");
        assert_eq!(
            triples(&ini),
            [t("a", "x", "one"), t("a", "y", "1"), t("a", "x", "two , three"), t("a", "z", "new"),]
        );
    }

    #[test]
    fn plus_equals_updates_the_last_case_insensitive_match_like_asterisk() {
        // `Foo` is the last exact match, but ast_variable_update replaces the last variable
        // whose name and value equal it ignoring case: `foo=A`, renamed `Foo`.
        let ini = ok("[a]\nFoo = a\nfoo = A\nFoo += b\n");
        assert_eq!(triples(&ini), [t("a", "Foo", "a"), t("a", "Foo", "a b")]);
    }

    #[test]
    fn names_and_values_are_blank_stripped_quotes_kept() {
        let ini = ok("[a]\n  key\t=\t\"quoted value\"  \n");
        assert_eq!(triples(&ini), [t("a", "key", "\"quoted value\"")]);
    }

    #[test]
    fn empty_name_is_ignored_with_a_diagnostic() {
        let ini = ok("[a]\n= 1\n+= 2\n");
        assert!(ini.categories[0].variables.is_empty());
        assert!(has(&ini, 2, |k| *k == DiagnosticKind::NoVariableName));
        assert!(has(&ini, 3, |k| *k == DiagnosticKind::NoVariableName));
    }

    #[test]
    fn line_without_equals_is_ignored_with_a_diagnostic() {
        let ini = ok("[a]\ndeny 10.0.0.0/8\nx=1\n");
        assert_eq!(triples(&ini), [t("a", "x", "1")]);
        assert!(has(
            &ini,
            2,
            |k| matches!(k, DiagnosticKind::NoEquals { text } if text == "deny 10.0.0.0/8")
        ));
        assert!(parse("t.conf", "[a]\nx\n", &mut NoIncludes, &strict()).is_err());
    }

    #[test]
    fn leading_backslash_escapes_the_first_character_of_the_name() {
        let ini = ok("[a]\n\\[x = 1\n\\#y = 2\n\\=z = 3\n\\+= 4\n");
        assert_eq!(
            triples(&ini),
            [t("a", "[x", "1"), t("a", "#y", "2"), t("a", "=z", "3"), t("a", "+", "4")]
        );
        let e = err("[a]\n\\ x = 1\n");
        assert_eq!((e.line, e.kind), (2, ConfigErrorKind::InvalidEscape));
        assert_eq!(err("[a]\n\\\n").kind, ConfigErrorKind::InvalidEscape);
    }

    #[test]
    fn repeated_keys_are_all_kept_in_order() {
        let ini = ok("[a]\npermit = 1.1.1.1\ndeny = 2.2.2.2\npermit = 3.3.3.3\n");
        let values: Vec<&str> =
            ini.categories[0].variables_named("PERMIT").map(|v| v.value.as_str()).collect();
        assert_eq!(values, ["1.1.1.1", "3.3.3.3"]);
    }

    #[test]
    fn nul_character_ends_the_line() {
        let ini = ok("[a]\nx = 1\0junk\n");
        assert_eq!(triples(&ini), [t("a", "x", "1")]);
        assert!(has(&ini, 2, |k| *k == DiagnosticKind::NulCharacter));
    }

    #[test]
    fn include_with_quotes_or_angle_brackets_and_any_case() {
        let mut files = MemoryResolver::new();
        files.insert("one.conf", "x = 1\n");
        files.insert("two.conf", "y = 2\n");
        let text = "[a]\n#include \"one.conf\"\n#INCLUDE <two.conf>\n";
        let ini = parse("t.conf", text, &mut files, &opts()).unwrap();
        assert_eq!(triples(&ini), [t("a", "x", "1"), t("a", "y", "2")]);
        let x = &ini.categories[0].variables[0];
        assert_eq!((&*x.file, x.line), ("one.conf", 1));
    }

    #[test]
    fn category_opened_in_an_include_does_not_continue_in_the_includer() {
        let mut files = MemoryResolver::new();
        files.insert("users.conf", "y = 2\n[bob]\nsecret = b\n");
        let text = "[general]\nx = 1\n#include users.conf\nenabled = yes\n";
        let ini = parse("t.conf", text, &mut files, &opts()).unwrap();
        assert_eq!(
            triples(&ini),
            [
                t("general", "x", "1"),
                t("general", "y", "2"),
                t("general", "enabled", "yes"),
                t("bob", "secret", "b"),
            ]
        );
    }

    #[test]
    fn missing_include_is_fatal_missing_tryinclude_is_not() {
        let mut files = MemoryResolver::new();
        let e = parse("t.conf", "[a]\n#include nope.conf\n", &mut files, &opts()).unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(e.kind, ConfigErrorKind::IncludeNotFound { path: "nope.conf".into() });
        let ini = parse("t.conf", "[a]\n#tryinclude nope.conf\n", &mut files, &opts()).unwrap();
        assert!(ini.diagnostics.is_empty());
        // A resolver failure other than "not found" is reported for #tryinclude.
        let ini = parse("t.conf", "[a]\n#tryinclude x\n", &mut NoIncludes, &opts()).unwrap();
        assert!(has(&ini, 2, |k| matches!(k, DiagnosticKind::TryIncludeFailed { .. })));
        let e = parse("t.conf", "[a]\n#include x\n", &mut NoIncludes, &opts()).unwrap_err();
        assert!(matches!(
            e.kind,
            ConfigErrorKind::IncludeFailed { error: IncludeError::Disabled, .. }
        ));
    }

    #[test]
    fn exec_is_refused() {
        let ini = ok("[a]\n#exec /bin/echo x=1\ny=2\n");
        assert_eq!(triples(&ini), [t("a", "y", "2")]);
        assert!(has(
            &ini,
            2,
            |k| matches!(k, DiagnosticKind::ExecRefused { command } if command == "/bin/echo x=1")
        ));
    }

    #[test]
    fn unknown_directive_and_missing_argument_are_ignored() {
        let ini = ok("[a]\n#foo bar\n#include\n# include x\n");
        assert!(has(
            &ini,
            2,
            |k| matches!(k, DiagnosticKind::UnknownDirective { name } if name == "foo")
        ));
        assert!(has(&ini, 3, |k| matches!(k, DiagnosticKind::DirectiveMissingArgument { .. })));
        assert!(has(
            &ini,
            4,
            |k| matches!(k, DiagnosticKind::UnknownDirective { name } if name.is_empty())
        ));
    }

    #[test]
    fn include_depth_is_limited() {
        let mut files = MemoryResolver::new();
        for i in 0..12 {
            files.insert(&format!("f{i}.conf"), &format!("x{i}={i}\n#include f{}.conf\n", i + 1));
        }
        files.insert("f12.conf", "end=1\n");
        let limits = Limits { max_include_depth: 3, ..Limits::default() };
        let o = IniOptions { limits, ..opts() };
        let ini = parse("t.conf", "[a]\n#include f0.conf\n", &mut files, &o).unwrap();
        // f0, f1, f2 are read; f2's include of f3 fails and abandons f2 (already done).
        let names: Vec<&str> =
            ini.categories[0].variables.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["x0", "x1", "x2"]);
        let abandoned = ini.diagnostics.iter().find_map(|d| match &d.kind {
            DiagnosticKind::IncludedFileAbandoned { error } => Some(error),
            _ => None,
        });
        let error = abandoned.unwrap();
        assert_eq!((&*error.file, error.line), ("f2.conf", 2));
        assert!(matches!(error.kind, ConfigErrorKind::IncludeDepthExceeded { max: 3, .. }));
        let o = IniOptions { limits, ..strict() };
        assert!(parse("t.conf", "[a]\n#include f0.conf\n", &mut files, &o).is_err());
    }

    #[test]
    fn include_cycle_is_an_error() {
        let mut files = MemoryResolver::new();
        files.insert("t.conf", "[a]\n#include t.conf\n");
        let e = parse("t.conf", "[a]\n#include t.conf\n", &mut files, &opts()).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(matches!(e.kind, ConfigErrorKind::IncludeCycle { .. }));
        // A cycle deeper down abandons the included file.
        files.insert("b.conf", "y=1\n#tryinclude b.conf\nz=2\n");
        let ini = parse("t.conf", "[a]\n#include b.conf\nw=3\n", &mut files, &opts()).unwrap();
        assert_eq!(triples(&ini), [t("a", "y", "1"), t("a", "w", "3")]);
    }

    #[test]
    fn error_in_included_file_abandons_it_but_not_the_includer() {
        let mut files = MemoryResolver::new();
        files.insert("bad.conf", "x = 1\n[broken\ny = 2\n");
        let text = "[a]\n#include bad.conf\nz = 3\n";
        let ini = parse("t.conf", text, &mut files, &opts()).unwrap();
        assert_eq!(triples(&ini), [t("a", "x", "1"), t("a", "z", "3")]);
        assert!(has(&ini, 2, |k| matches!(
            k,
            DiagnosticKind::IncludedFileAbandoned { error }
                if error.line == 2 && error.kind == ConfigErrorKind::MissingCloseBracket
        )));
        let e = parse("t.conf", text, &mut files, &strict()).unwrap_err();
        assert_eq!((&*e.file, e.line), ("bad.conf", 2));
    }

    #[test]
    fn glob_files_share_the_current_category_and_comment_state() {
        let mut files = MemoryResolver::new();
        files.insert("u1.conf", "[u1]\nx=1\n;-- open\n");
        files.insert("u2.conf", "hidden=1\n--;\ny=2\n");
        let ini = parse("t.conf", "[a]\n#include u*.conf\n", &mut files, &opts()).unwrap();
        assert_eq!(triples(&ini), [t("u1", "x", "1"), t("u1", "y", "2")]);
    }

    #[test]
    fn memory_resolver_globs_in_name_order() {
        let mut files = MemoryResolver::new();
        files.insert("b.conf", "");
        files.insert("a.conf", "");
        files.insert("a.txt", "");
        let names: Vec<String> = files.resolve("?.c*").unwrap().into_iter().map(|f| f.0).collect();
        assert_eq!(names, ["a.conf", "b.conf"]);
        assert!(files.resolve("c.conf").unwrap().is_empty());
    }

    #[test]
    fn strict_mode_turns_diagnostics_into_errors() {
        let e = parse("t.conf", "[a]\n#exec x\n", &mut NoIncludes, &strict()).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            matches!(e.kind, ConfigErrorKind::Strict(ref k) if matches!(**k, DiagnosticKind::ExecRefused { .. }))
        );
    }

    #[test]
    fn limits_bound_hostile_input() {
        let small = |limits: Limits| IniOptions { limits, ..opts() };
        let o = small(Limits { max_categories: 2, ..Limits::default() });
        let e = parse("t.conf", "[a]\n[b]\n[c]\n", &mut NoIncludes, &o).unwrap_err();
        assert_eq!((e.line, e.kind), (3, ConfigErrorKind::LimitExceeded(LimitKind::Categories)));
        let o = small(Limits { max_total_bytes: 8, ..Limits::default() });
        let e = parse("t.conf", "[a]\nx=1\ny=2\n", &mut NoIncludes, &o).unwrap_err();
        assert_eq!((e.line, e.kind), (3, ConfigErrorKind::LimitExceeded(LimitKind::TotalBytes)));
        let o = small(Limits { max_variables: 3, ..Limits::default() });
        let e =
            parse("t.conf", "[t]\nx=1\ny=2\n[a](t)\n[b](t)\n", &mut NoIncludes, &o).unwrap_err();
        assert_eq!((e.line, e.kind), (4, ConfigErrorKind::LimitExceeded(LimitKind::Variables)));
        let o = small(Limits { max_work: 10, ..Limits::default() });
        let text = "[c0]\n[c1]\n[c2]\n[c3]\n[c4]\n[d](c4,c4,c4)\n";
        let e = parse("t.conf", text, &mut NoIncludes, &o).unwrap_err();
        assert_eq!(e.kind, ConfigErrorKind::LimitExceeded(LimitKind::Work));
        let o = small(Limits { max_diagnostics: 2, ..Limits::default() });
        let ini = parse("t.conf", "[a]\nx\ny\nz\nw\n", &mut NoIncludes, &o).unwrap();
        assert_eq!(ini.diagnostics.len(), 3);
        assert_eq!(ini.diagnostics[2].kind, DiagnosticKind::DiagnosticsSuppressed { count: 2 });
    }

    #[test]
    fn long_append_chains_stay_linear() {
        let text = format!("[a]\nx=\n{}", format!("x+={}\n", "y".repeat(8000)).repeat(1000));
        let ini = ok(&text);
        assert_eq!(ini.categories[0].variables[0].value.len(), 8_000_000);
    }

    /// A literal emulation of Asterisk's comment loop on a NUL-terminated buffer, with its
    /// `memmove`s (quadratic, for comparison only).
    fn c_comment_loop(line: &[u8], comment: &mut i64) -> Result<Option<Vec<u8>>, ()> {
        fn strlen(b: &[u8]) -> usize {
            b.iter().position(|&c| c == 0).unwrap_or(b.len())
        }
        let mut buf = line.to_vec();
        buf.extend_from_slice(&[0, 0, 0, 0]);
        let mut new_buf = 0usize;
        let mut process_buf = (*comment == 0).then_some(0usize);
        loop {
            let len = strlen(&buf[new_buf..]);
            let Some(off) = buf[new_buf..new_buf + len].iter().position(|&b| b == b';') else {
                break;
            };
            let p = new_buf + off;
            if p > new_buf && buf[p - 1] == b'\\' {
                new_buf = p;
                let n = strlen(&buf[p..]);
                buf.copy_within(p..p + n + 1, p - 1);
            } else if buf[p + 1] == b'-' && buf[p + 2] == b'-' && buf[p + 3] != b'-' {
                if *comment >= MAX_NESTED_COMMENTS {
                    return Err(());
                }
                buf[p] = 0;
                new_buf = p + 3;
                *comment += 1;
            } else if p >= new_buf + 2 && buf[p - 1] == b'-' && buf[p - 2] == b'-' {
                *comment -= 1;
                new_buf = p + 1;
                if *comment == 0 {
                    match process_buf {
                        Some(pb) => {
                            let oldptr = pb + strlen(&buf[pb..]);
                            let n = strlen(&buf[new_buf..]);
                            buf.copy_within(new_buf..new_buf + n + 1, oldptr);
                            new_buf = oldptr;
                        }
                        None => process_buf = Some(new_buf),
                    }
                }
            } else if *comment == 0 {
                let mut cp = p;
                while cp > new_buf && (buf[cp - 1] as char).is_ascii_whitespace() {
                    cp -= 1;
                }
                if cp != new_buf && buf[cp] == b' ' && buf[cp + 1] == b' ' {
                    cp += 2;
                }
                buf[cp] = 0;
                new_buf = cp;
            } else {
                new_buf = p + 1;
            }
        }
        Ok(process_buf.map(|pb| buf[pb..pb + strlen(&buf[pb..])].to_vec()))
    }

    proptest! {
        #[test]
        fn comment_stripping_matches_asterisks_loop(
            lines in proptest::collection::vec("[;\\\\ a=-]{0,24}", 1..6),
            start_depth in -2i64..3,
        ) {
            let mut parser = Parser {
                resolver: &mut NoIncludes,
                opts: opts(),
                categories: Vec::new(),
                current: None,
                sink: Sink::new(Strictness::AsteriskCompatible, 100),
                stack: Vec::new(),
                total_bytes: 0,
                variables: 0,
                stored_bytes: 0,
                work: 0,
            };
            let file: Arc<str> = Arc::from("t.conf");
            let mut state = CommentState { depth: start_depth, starts: Vec::new(), markers: 0 };
            let mut c_depth = start_depth;
            for line in &lines {
                let ours = parser.strip_comments(&file, 1, line, &mut state).map_err(|_| ());
                let theirs = c_comment_loop(line.as_bytes(), &mut c_depth);
                let ours = ours.map(|o| o.map(|s| strip(&s).to_owned()));
                let theirs = theirs.map(|o| o.map(|b| strip(&String::from_utf8_lossy(&b)).to_owned()));
                prop_assert_eq!(&ours, &theirs, "line {:?}", line);
                prop_assert_eq!(state.depth, c_depth, "line {:?}", line);
            }
        }
    }

    fn config_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("(".to_owned()),
            Just(")".to_owned()),
            Just("!".to_owned()),
            Just("+".to_owned()),
            Just(",".to_owned()),
            Just("=".to_owned()),
            Just("=>".to_owned()),
            Just("+=".to_owned()),
            Just(";".to_owned()),
            Just(";--".to_owned()),
            Just("--;".to_owned()),
            Just("\\".to_owned()),
            Just("#include x".to_owned()),
            Just("#tryinclude x".to_owned()),
            Just("\n".to_owned()),
            Just("\n[a]\n".to_owned()),
            Just(" ".to_owned()),
            Just("\u{feff}".to_owned()),
            Just("\0".to_owned()),
            "[a-zA-Z0-9 ]{0,6}",
            any::<String>(),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics_and_errors_point_into_the_input(text in config_text()) {
            let mut files = MemoryResolver::new();
            files.insert("x", &text);
            for strictness in [Strictness::AsteriskCompatible, Strictness::Strict] {
                let o = IniOptions { strictness, ..opts() };
                match parse("t.conf", &text, &mut files, &o) {
                    Ok(ini) => {
                        for d in &ini.diagnostics {
                            prop_assert!(d.line >= 1);
                        }
                    }
                    Err(e) => {
                        let lines = text.split('\n').count() as u32;
                        if &*e.file == "t.conf" {
                            prop_assert!(e.line >= 1 && e.line <= lines, "{e} of {lines}");
                        }
                    }
                }
            }
        }
    }
}
