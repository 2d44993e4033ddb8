//! Event filters: `eventfilter` keys in manager.conf and the `Filter` action (spec §5).
//!
//! Asterisk decides per session and per queued event whether the event is written, using the
//! session's event filters (`should_send_event`, `main/manager.c`). This module reproduces
//! that decision, the parser of filter definitions (`manager_add_filter`) and the POSIX
//! regular expressions the filters use.
//!
//! # Where filters come from (§5.1)
//! * manager.conf: every user key that begins with the exact lowercase text `eventfilter`
//!   ([`is_eventfilter_key`]; `EventFilter = …` is silently ignored by Asterisk, see
//!   [`looks_like_eventfilter_key_wrong_case`]). Invalid filters are skipped with a warning.
//! * The `Filter` action: `Filter: <expression>`, optional `MatchCriteria: <criteria>`; the key
//!   `eventfilter(<criteria>)` (or `eventfilter` when the criteria are empty) is built and
//!   parsed the same way ([`EventFilter::from_filter_action`]). The two error replies are
//!   [`FilterError::action_message`].
//!
//! # Legacy form (§5.2): `eventfilter = [!]<POSIX ERE>`
//! A leading `!` makes an exclude filter (the `!` is removed); the remaining pattern must not
//! be empty. The regular expression (`REG_EXTENDED|REG_NOSUB`, case-sensitive, no
//! `REG_NEWLINE`) is searched in the **whole event text** as queued
//! (`Event: X\r\nPrivilege: …\r\n…\r\n\r\n`): `^` only anchors before `Event:` and `.` also
//! matches CR and LF, so `eventfilter = ^Channel:` never matches (§9 case 31).
//!
//! # Advanced form (§5.3): `eventfilter(<options>) = [!][<expression>]`
//! Everything after the first `(` of the key is blank-stripped and must end with `)`. It is
//! split into tokens at every space, comma and `)`; each token is `<word>(<argument>`. Option
//! words are compared case-sensitively **as prefixes of the token** (`strncmp(token, "name",
//! 4)`), so `names(X)` is taken as `name(X)`: reported as [`FilterDiagnostic::OptionWordSuffix`].
//! Arguments are the text after the token's first `(`, blank-stripped.
//! * `action(include|exclude)` overrides a leading `!`, which is still removed from the
//!   expression.
//! * `name(<Event>)`: exact, case-sensitive event name.
//! * `header(<Header>)`: a `:` is appended when missing; the data matched are the values of
//!   every line that begins with `<Header>:` (case-sensitive), leading blanks skipped, empty
//!   values skipped; one matching line suffices.
//! * `method(regex|exact|starts_with|ends_with|contains|none)`, default **`none`**. A non-empty
//!   expression needs a method other than `none`; an empty one needs `none`; `none` needs
//!   `name` or `header`; at least one option must be given (`eventfilter()` is an error).
//!
//! # Evaluation (§5.4)
//! [`FilterSet::should_send`]: no filters → send; only include filters → send iff one matches;
//! only exclude filters → send iff none matches; both → send iff an include filter matches and
//! no exclude filter does. The order of filters does not matter. (Filters apply to queued
//! events only; the FullyBooted written at login is not filtered — that is the caller's job.)
//!
//! # Regular expressions
//! Asterisk uses glibc `regcomp`/`regexec` and sets the locale to `C.UTF-8` at start-up
//! (`main/asterisk.c`), so patterns and texts are UTF-8 character strings for the regex
//! engine. Patterns are translated from POSIX ERE (glibc dialect) into `regex` crate syntax by
//! [`ere_to_rust`] and compiled for `regex::bytes` in Unicode mode with `.` matching newlines
//! and `^`/`$` anchoring at the ends of the text only. See [`ere_to_rust`] for the
//! differences handled and those that remain.
//!
//! # C-string semantics
//! Asterisk handles keys, expressions, `MatchCriteria`, event names and event texts as C
//! strings, so everything after a NUL byte is invisible to it; this module cuts all of them at
//! the first NUL byte too.
//!
//! # Example
//! ```
//! use ami_proto::filter::{EventFilter, FilterSet};
//!
//! let mut set = FilterSet::default();
//! set.add(EventFilter::parse("eventfilter", "Event: Newchannel").unwrap());
//! set.add(EventFilter::parse(
//!     "eventfilter(action(exclude),name(Newchannel),header(Channel),method(starts_with))",
//!     "Local/",
//! ).unwrap());
//!
//! let sip = b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/100-1\r\n\r\n";
//! let local = b"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: Local/a@b-1;1\r\n\r\n";
//! let hangup = b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/100-1\r\n\r\n";
//! assert!(set.should_send(b"Newchannel", sip));
//! assert!(!set.should_send(b"Newchannel", local));
//! assert!(!set.should_send(b"Hangup", hangup));
//!
//! // The Filter action's error texts (two spaces after the period).
//! let err = EventFilter::from_filter_action(b"X", b"regex").unwrap_err();
//! assert_eq!(
//!     err.action_message(),
//!     "Filter was formatted incorrectly.  Check the syntax of the filter given."
//! );
//! ```

use std::fmt::{self, Write as _};
use std::sync::Arc;

use regex::bytes::{Regex, RegexBuilder};

/// The case-sensitive prefix that makes a manager.conf user key an event filter.
const KEY_PREFIX: &[u8] = b"eventfilter";

/// glibc's `RE_DUP_MAX`: the largest count allowed in an interval `{m,n}`.
const RE_DUP_MAX: i64 = 0x7fff;

/// glibc's `BRACKET_NAME_BUF_SIZE`: names in `[:…:]`, `[=…=]`, `[.….]` are shorter than this.
const BRACKET_NAME_BUF_SIZE: usize = 32;

/// The character classes glibc accepts inside brackets (`build_charclass`).
const POSIX_CLASSES: [&str; 12] = [
    "alnum", "cntrl", "lower", "space", "alpha", "digit", "print", "upper", "blank", "graph",
    "punct", "xdigit",
];

/// Text of the Filter action's reply when the regular expression does not compile.
const MSG_COMPILE: &str = "Filter did not compile.  Check the syntax of the filter given.";
/// Text of the Filter action's reply when the key or expression is malformed.
const MSG_FORMAT: &str = "Filter was formatted incorrectly.  Check the syntax of the filter given.";

// ---------------------------------------------------------------------------------------------
// Small byte helpers
// ---------------------------------------------------------------------------------------------

/// An event's name and text as Asterisk's filters see them: C strings, each cut at its first
/// NUL byte.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CEvent<'a> {
    name: &'a [u8],
    text: &'a [u8],
}

impl<'a> CEvent<'a> {
    pub(crate) fn new(name: &'a [u8], text: &'a [u8]) -> CEvent<'a> {
        CEvent { name: until_nul(name), text: until_nul(text) }
    }
}

/// The part of `bytes` before the first NUL byte (what a C string holds).
fn until_nul(bytes: &[u8]) -> &[u8] {
    // Called for every session an event is published to: memchr, not a byte loop.
    match memchr::memchr(0, bytes) {
        Some(i) => bytes.get(..i).unwrap_or_default(),
        None => bytes,
    }
}

/// Asterisk's "blank": any byte below 33 (`ast_skip_blanks`, `ast_trim_blanks`).
fn is_blank(b: u8) -> bool {
    b < 33
}

/// `ast_skip_blanks`.
fn skip_blanks(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_blank(b)).unwrap_or(s.len());
    s.get(start..).unwrap_or_default()
}

/// `ast_strip`: blanks removed at both ends.
fn strip_blanks(s: &[u8]) -> &[u8] {
    let s = skip_blanks(s);
    let end = s.iter().rposition(|&b| !is_blank(b)).map_or(0, |i| i + 1);
    s.get(..end).unwrap_or_default()
}

/// `strstr(haystack, needle) != NULL` without allocating.
fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    match needle.split_first() {
        None => true,
        Some((&first, _)) => haystack
            .iter()
            .enumerate()
            .filter(|&(_, &b)| b == first)
            .any(|(i, _)| haystack.get(i..).is_some_and(|rest| rest.starts_with(needle))),
    }
}

/// Text for messages: valid UTF-8 kept, invalid bytes replaced.
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `bytes` quoted, escaping quotes, backslashes, control characters and invalid UTF-8.
fn write_quoted(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    f.write_char('"')?;
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' | '\\' => write!(f, "\\{c}")?,
                c if c.is_control() => write!(f, "{}", c.escape_default())?,
                c => f.write_char(c)?,
            }
        }
        for b in chunk.invalid() {
            write!(f, "\\x{b:02x}")?;
        }
    }
    f.write_char('"')
}

// ---------------------------------------------------------------------------------------------
// Key helpers for the config module
// ---------------------------------------------------------------------------------------------

/// Whether a manager.conf user key is an event filter: it begins with the exact lowercase
/// text `eventfilter` (case-sensitive, unlike every other user key; `main/manager.c:10079`).
pub fn is_eventfilter_key(key: &str) -> bool {
    key.as_bytes().starts_with(KEY_PREFIX)
}

/// Whether a key was probably meant as an event filter but is ignored by Asterisk because of
/// its letter case (`EventFilter = …`, `eventFilter(name(X)) =`; §9 case 30).
pub fn looks_like_eventfilter_key_wrong_case(key: &str) -> bool {
    !is_eventfilter_key(key)
        && key
            .as_bytes()
            .get(..KEY_PREFIX.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(KEY_PREFIX))
}

/// The key Asterisk's `Filter` action builds from `MatchCriteria` (§5.1):
/// `eventfilter(<criteria>)`, or plain `eventfilter` when the criteria are empty.
pub fn filter_action_key(match_criteria: &[u8]) -> Vec<u8> {
    let criteria = until_nul(match_criteria);
    let mut key = KEY_PREFIX.to_vec();
    if !criteria.is_empty() {
        key.push(b'(');
        key.extend_from_slice(criteria);
        key.push(b')');
    }
    key
}

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

/// Whether a matching filter lets the event through or blocks it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum FilterAction {
    /// `action(include)` or no `!`: the event is sent only if some include filter matches.
    Include,
    /// `action(exclude)` or a leading `!`: the event is not sent if this filter matches.
    Exclude,
}

impl FilterAction {
    /// `include` or `exclude`, as written in `action(...)`.
    pub const fn as_str(self) -> &'static str {
        match self {
            FilterAction::Include => "include",
            FilterAction::Exclude => "exclude",
        }
    }
}

impl fmt::Display for FilterAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the expression is compared with the match data (`method(...)`, §5.3).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum MatchMethod {
    /// POSIX extended regular expression, searched anywhere in the data.
    Regex,
    /// The data equal the expression.
    Exact,
    /// The data begin with the expression.
    StartsWith,
    /// The data end with the expression.
    EndsWith,
    /// The expression occurs in the data.
    Contains,
    /// Always matches (only `name`/`header` restrict the filter).
    None,
}

impl MatchMethod {
    /// The spelling used in `method(...)`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MatchMethod::Regex => "regex",
            MatchMethod::Exact => "exact",
            MatchMethod::StartsWith => "starts_with",
            MatchMethod::EndsWith => "ends_with",
            MatchMethod::Contains => "contains",
            MatchMethod::None => "none",
        }
    }

    /// Parses the exact (case-sensitive) spelling used in `method(...)`.
    fn from_word(word: &[u8]) -> Option<MatchMethod> {
        Some(match word {
            b"regex" => MatchMethod::Regex,
            b"exact" => MatchMethod::Exact,
            b"starts_with" => MatchMethod::StartsWith,
            b"ends_with" => MatchMethod::EndsWith,
            b"contains" => MatchMethod::Contains,
            b"none" => MatchMethod::None,
            _ => return None,
        })
    }
}

impl fmt::Display for MatchMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One parsed event filter (one `eventfilter…` line or one `Filter` action).
#[derive(Clone, Debug)]
pub struct EventFilter {
    action: FilterAction,
    legacy: bool,
    name: Option<Vec<u8>>,
    header: Option<Vec<u8>>,
    method: MatchMethod,
    expression: Vec<u8>,
    regex: Option<Regex>,
}

/// A parsed filter with the non-fatal findings about it.
#[derive(Clone, Debug)]
pub struct FilterParse {
    /// The filter, ready to be added to a [`FilterSet`].
    pub filter: EventFilter,
    /// Warnings worth showing to an administrator (the filter is still valid).
    pub diagnostics: Vec<FilterDiagnostic>,
}

/// Why a filter definition was rejected. Asterisk skips such a filter (config) or answers the
/// `Filter` action with [`FilterError::action_message`].
#[derive(Clone, Debug, PartialEq)]
pub enum FilterError {
    /// The key or the expression is malformed (`FILTER_FORMAT_ERROR`).
    Format {
        /// The key as given (`eventfilter(...)`), lossily decoded.
        key: String,
        /// The expression as given (including a leading `!`), lossily decoded.
        expression: String,
        /// What is wrong.
        kind: FormatErrorKind,
    },
    /// The regular expression does not compile (`FILTER_COMPILE_FAIL`).
    Compile {
        /// The key as given, lossily decoded.
        key: String,
        /// The regular expression (without a leading `!`), lossily decoded.
        pattern: String,
        /// Where and why it failed.
        error: RegexError,
    },
}

/// The ways a filter definition can be formatted incorrectly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormatErrorKind {
    /// The key does not begin with `eventfilter` (Asterisk never passes such keys to its
    /// parser; the config module should check [`is_eventfilter_key`] first).
    NotAnEventFilterKey,
    /// Legacy form (`eventfilter = …`) with an empty pattern, also after removing `!`.
    EmptyLegacyPattern,
    /// The text after the first `(` of the key is empty or does not end with `)`.
    OptionsNotClosed,
    /// A token is not `action`, `name`, `header` or `method` (compared as prefixes).
    UnknownOption {
        /// The token, e.g. `regex` for `MatchCriteria: regex`.
        token: String,
    },
    /// An option word without `(`. For `name`, `header` and `method` Asterisk dereferences a
    /// NULL pointer here and crashes.
    MissingParenthesis {
        /// The option recognised.
        option: &'static str,
        /// The token as written.
        token: String,
    },
    /// `name()`, `header()` or `method()` with an empty argument.
    EmptyArgument {
        /// The option concerned.
        option: &'static str,
    },
    /// `action(...)` other than exactly `include` or `exclude`.
    UnknownAction {
        /// The argument given.
        value: String,
    },
    /// `method(...)` other than the six exact spellings.
    UnknownMethod {
        /// The argument given.
        value: String,
    },
    /// `eventfilter()`: no option at all.
    NoOptions,
    /// An empty expression with a method other than `none`.
    MethodNeedsExpression {
        /// The method given.
        method: MatchMethod,
    },
    /// A non-empty expression while the method is `none` (the default of the advanced form).
    ExpressionNeedsMethod,
    /// Method `none` without `name(...)` or `header(...)`: the filter would match everything.
    NothingToMatch,
}

/// Where and why a POSIX regular expression failed to compile.
#[derive(Clone, Debug, PartialEq)]
pub struct RegexError {
    /// Byte offset in the pattern where the problem was found (0 for [`RegexErrorKind::Engine`],
    /// which concerns the whole expression).
    pub offset: usize,
    /// What the problem is.
    pub kind: RegexErrorKind,
}

/// Compilation failures of a POSIX extended regular expression. Unless stated otherwise, glibc
/// rejects the pattern too (its error code is given).
#[derive(Clone, Debug, PartialEq)]
pub enum RegexErrorKind {
    /// `\` at the end of the pattern (`REG_EESCAPE`).
    TrailingBackslash,
    /// `[` without its closing `]` (`REG_EBRACK`, `REG_BADPAT`).
    UnmatchedBracket,
    /// `(` without its closing `)` (`REG_EPAREN`).
    UnmatchedParenthesis,
    /// `*`, `+`, `?` or `{` with nothing to repeat: at the start, after `(`, `|` or an anchor
    /// (`REG_BADRPT`).
    NothingToRepeat {
        /// The operator.
        operator: char,
    },
    /// `{` without a closing `}` (`REG_EBRACE`).
    UnmatchedBrace,
    /// Invalid content of `{…}`: not numbers, `{}`, or minimum above maximum (`REG_BADBR`).
    InvalidInterval,
    /// A count above 32767 in `{…}` (`REG_ESIZE`).
    IntervalTooLarge,
    /// Invalid range in a bracket expression: reversed, a class as an end point, or a `-` that
    /// is neither first, last nor an end point (`REG_ERANGE`).
    InvalidRange,
    /// A range end point glibc cannot order in `C.UTF-8` (non-ASCII), or a collating element /
    /// equivalence class that is not a single ASCII character (`REG_ECOLLATE`).
    InvalidCollatingElement {
        /// The element as written.
        element: String,
    },
    /// `[:name:]` with an unknown class name (`REG_ECTYPE`).
    UnknownCharacterClass {
        /// The name as written.
        name: String,
    },
    /// A back-reference `\1`…`\9`. glibc supports them (or rejects them with `REG_ESUBREG`);
    /// the `regex` crate cannot, so such a filter is rejected here.
    BackReferenceUnsupported {
        /// The digit.
        digit: u8,
    },
    /// The translated expression was refused by the `regex` crate (e.g. it is too big).
    Engine(regex::Error),
}

/// Non-fatal findings about a filter definition or key, worth showing to an administrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilterDiagnostic {
    /// A key that differs from `eventfilter…` only in letter case; Asterisk ignores it.
    KeyWrongCase {
        /// The key as written.
        key: String,
    },
    /// Text between `eventfilter` and `(` (or after `eventfilter` in the legacy form) is ignored.
    IgnoredKeyText {
        /// The ignored text.
        text: String,
    },
    /// An option word longer than its keyword was accepted because Asterisk compares prefixes.
    OptionWordSuffix {
        /// The option it was taken for.
        option: &'static str,
        /// The token as written.
        token: String,
    },
    /// The option was given more than once; the last one wins.
    OptionRepeated {
        /// The option.
        option: &'static str,
    },
    /// `action(include)` overrides the expression's leading `!`, which is nevertheless removed.
    ExclamationOverridden,
    /// The expression is anchored at the start of the event text but does not begin like
    /// `Event: `, so it can never match (§9 case 31: `^Channel:`).
    AnchoredNeverMatches {
        /// The expression.
        expression: String,
    },
    /// `Event:` is followed directly by a non-blank; queued events always have `Event: ` with a
    /// space, so this never matches (§5.2).
    EventWithoutSpace {
        /// The expression.
        expression: String,
    },
    /// `exact` or `ends_with` applied to the whole event text, which always ends with
    /// `\r\n\r\n`: almost certainly never matches.
    WholeEventComparison {
        /// The method.
        method: MatchMethod,
    },
    /// A bracket expression that looks like a character class without its outer brackets
    /// (`[:digit:]` is the set of `:`, `d`, `i`, `g`, `t`; `[[:digit:]]` was probably meant).
    ClassWithoutOuterBrackets {
        /// Byte offset of the `[` in the pattern.
        offset: usize,
    },
}

// ---------------------------------------------------------------------------------------------
// Display / Error impls
// ---------------------------------------------------------------------------------------------

impl FilterError {
    /// The exact `Message:` of the `Filter` action's error response for this failure.
    pub fn action_message(&self) -> &'static str {
        match self {
            FilterError::Format { .. } => MSG_FORMAT,
            FilterError::Compile { .. } => MSG_COMPILE,
        }
    }

    /// Whether this is a regular-expression compilation failure.
    pub fn is_compile_error(&self) -> bool {
        matches!(self, FilterError::Compile { .. })
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterError::Format { key, expression, kind } => {
                write!(f, "event filter `{key} = {expression}` is formatted incorrectly: {kind}")
            }
            FilterError::Compile { key, pattern, error } => write!(
                f,
                "event filter `{key}`: regular expression `{pattern}` does not compile: {error}"
            ),
        }
    }
}

impl std::error::Error for FilterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FilterError::Compile { error, .. } => Some(error),
            FilterError::Format { .. } => None,
        }
    }
}

impl fmt::Display for FormatErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatErrorKind::NotAnEventFilterKey => {
                f.write_str("the key does not begin with `eventfilter`")
            }
            FormatErrorKind::EmptyLegacyPattern => {
                f.write_str("a legacy filter needs a non-empty pattern")
            }
            FormatErrorKind::OptionsNotClosed => {
                f.write_str("the options after `(` are empty or do not end with `)`")
            }
            FormatErrorKind::UnknownOption { token } => {
                write!(f, "unknown option `{token}` (expected action, name, header or method)")
            }
            FormatErrorKind::MissingParenthesis { option, token } => {
                write!(f, "option `{token}` has no `(`")?;
                if *option != "action" {
                    f.write_str(" (Asterisk itself crashes on this filter)")?;
                }
                Ok(())
            }
            FormatErrorKind::EmptyArgument { option } => write!(f, "`{option}()` is empty"),
            FormatErrorKind::UnknownAction { value } => {
                write!(f, "`action({value})`: the action must be exactly include or exclude")
            }
            FormatErrorKind::UnknownMethod { value } => write!(
                f,
                "`method({value})`: the method must be exactly regex, exact, starts_with, \
                 ends_with, contains or none"
            ),
            FormatErrorKind::NoOptions => {
                f.write_str("no action, name, header or method option found")
            }
            FormatErrorKind::MethodNeedsExpression { method } => {
                write!(f, "method can't be '{method}' with no filter pattern")
            }
            FormatErrorKind::ExpressionNeedsMethod => f.write_str(
                "method can't be 'none' with a filter pattern (the advanced form defaults to \
                 none; add method(regex) or another method)",
            ),
            FormatErrorKind::NothingToMatch => {
                f.write_str("method none needs a name(...) or header(...) option")
            }
        }
    }
}

impl fmt::Display for RegexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            RegexErrorKind::Engine(_) => write!(f, "{}", self.kind),
            kind => write!(f, "{kind} (at byte {})", self.offset),
        }
    }
}

impl std::error::Error for RegexError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            RegexErrorKind::Engine(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for RegexErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegexErrorKind::TrailingBackslash => f.write_str("trailing backslash"),
            RegexErrorKind::UnmatchedBracket => f.write_str("unmatched [ or [^"),
            RegexErrorKind::UnmatchedParenthesis => f.write_str("unmatched ("),
            RegexErrorKind::NothingToRepeat { operator } => {
                write!(f, "`{operator}` has nothing to repeat")
            }
            RegexErrorKind::UnmatchedBrace => f.write_str("unmatched {"),
            RegexErrorKind::InvalidInterval => f.write_str("invalid content of {}"),
            RegexErrorKind::IntervalTooLarge => f.write_str("repetition count above 32767"),
            RegexErrorKind::InvalidRange => f.write_str("invalid range end"),
            RegexErrorKind::InvalidCollatingElement { element } => {
                write!(f, "invalid collation character `{element}`")
            }
            RegexErrorKind::UnknownCharacterClass { name } => {
                write!(f, "invalid character class name `{name}`")
            }
            RegexErrorKind::BackReferenceUnsupported { digit } => write!(
                f,
                "back-reference \\{} is not supported by this implementation",
                char::from(*digit)
            ),
            RegexErrorKind::Engine(e) => write!(f, "rejected by the regex engine: {e}"),
        }
    }
}

impl FilterDiagnostic {
    /// The diagnostic for a manager.conf key, if it looks like a mis-cased `eventfilter` key.
    pub fn for_key(key: &str) -> Option<FilterDiagnostic> {
        looks_like_eventfilter_key_wrong_case(key)
            .then(|| FilterDiagnostic::KeyWrongCase { key: key.to_owned() })
    }
}

impl fmt::Display for FilterDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterDiagnostic::KeyWrongCase { key } => write!(
                f,
                "`{key}` is ignored: event filter keys must begin with lowercase `eventfilter`"
            ),
            FilterDiagnostic::IgnoredKeyText { text } => {
                write!(f, "`{text}` after `eventfilter` in the key is ignored")
            }
            FilterDiagnostic::OptionWordSuffix { option, token } => write!(
                f,
                "`{token}` is taken as `{option}(...)` because option words are matched by prefix"
            ),
            FilterDiagnostic::OptionRepeated { option } => {
                write!(f, "`{option}(...)` is given more than once; the last one wins")
            }
            FilterDiagnostic::ExclamationOverridden => f.write_str(
                "action(include) overrides the leading `!`, which is still removed from the \
                 expression",
            ),
            FilterDiagnostic::AnchoredNeverMatches { expression } => write!(
                f,
                "`{expression}` can never match: the event text always begins with `Event: `, \
                 and `^` anchors only there"
            ),
            FilterDiagnostic::EventWithoutSpace { expression } => write!(
                f,
                "`{expression}` can never match: events always have a space after `Event:`"
            ),
            FilterDiagnostic::WholeEventComparison { method } => write!(
                f,
                "method {method} without header(...) compares the whole event text, which ends \
                 with an empty line; this almost never matches"
            ),
            FilterDiagnostic::ClassWithoutOuterBrackets { offset } => write!(
                f,
                "bracket expression at byte {offset} looks like a character class without its \
                 outer brackets (write [[:class:]])"
            ),
        }
    }
}

impl fmt::Display for EventFilter {
    /// One line for `ami check`, e.g.
    /// `exclude name=Newchannel header=Channel: method=starts_with expression="Local/"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} name=", self.action)?;
        match &self.name {
            Some(n) => write_quoted(f, n)?,
            None => f.write_str("(any)")?,
        }
        f.write_str(" header=")?;
        match &self.header {
            Some(h) => write_quoted(f, h)?,
            None => f.write_str("(whole event)")?,
        }
        write!(f, " method={} expression=", self.method)?;
        write_quoted(f, &self.expression)?;
        if self.legacy {
            f.write_str(" (legacy)")?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing of filter definitions (manager_add_filter)
// ---------------------------------------------------------------------------------------------

/// The four option keywords, in the order Asterisk tests them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum OptionWord {
    Action,
    Name,
    Header,
    Method,
}

impl OptionWord {
    const ALL: [OptionWord; 4] =
        [OptionWord::Action, OptionWord::Name, OptionWord::Header, OptionWord::Method];

    const fn word(self) -> &'static str {
        match self {
            OptionWord::Action => "action",
            OptionWord::Name => "name",
            OptionWord::Header => "header",
            OptionWord::Method => "method",
        }
    }

    const fn bit(self) -> u8 {
        match self {
            OptionWord::Action => 1,
            OptionWord::Name => 2,
            OptionWord::Header => 4,
            OptionWord::Method => 8,
        }
    }
}

impl EventFilter {
    /// Parses one manager.conf filter line: `key` is the key (`eventfilter`,
    /// `eventfilter(action(exclude),name(X))`, …), `value` the expression (may start with `!`).
    pub fn parse(key: &str, value: &str) -> Result<EventFilter, FilterError> {
        Self::parse_bytes(key.as_bytes(), value.as_bytes()).map(|p| p.filter)
    }

    /// Like [`EventFilter::parse`], also returning the diagnostics about the definition.
    pub fn parse_with_diagnostics(key: &str, value: &str) -> Result<FilterParse, FilterError> {
        Self::parse_bytes(key.as_bytes(), value.as_bytes())
    }

    /// Builds the filter of a `Filter` action (`Operation: Add`) from its `Filter` and
    /// `MatchCriteria` header values (empty when absent), exactly as Asterisk does (§5.1).
    pub fn from_filter_action(
        filter: &[u8],
        match_criteria: &[u8],
    ) -> Result<EventFilter, FilterError> {
        Self::parse_bytes(&filter_action_key(match_criteria), filter).map(|p| p.filter)
    }

    /// The byte-level parser behind [`EventFilter::parse`] and
    /// [`EventFilter::from_filter_action`] (wire input may be non-UTF-8).
    pub fn parse_bytes(key: &[u8], value: &[u8]) -> Result<FilterParse, FilterError> {
        let key = until_nul(key);
        let value = until_nul(value);
        let format_err =
            |kind| FilterError::Format { key: lossy(key), expression: lossy(value), kind };
        let Some(after_prefix) = key.strip_prefix(KEY_PREFIX) else {
            return Err(format_err(FormatErrorKind::NotAnEventFilterKey));
        };
        let mut diagnostics = Vec::new();

        // A leading `!` means exclude and is removed in both forms.
        let (bang, pattern) = match value.split_first() {
            Some((b'!', rest)) => (true, rest),
            _ => (false, value),
        };
        let mut action = if bang { FilterAction::Exclude } else { FilterAction::Include };

        let (legacy, name, header, method) = match after_prefix.iter().position(|&b| b == b'(') {
            None => {
                if !after_prefix.is_empty() {
                    diagnostics
                        .push(FilterDiagnostic::IgnoredKeyText { text: lossy(after_prefix) });
                }
                if pattern.is_empty() {
                    return Err(format_err(FormatErrorKind::EmptyLegacyPattern));
                }
                (true, None, None, MatchMethod::Regex)
            }
            Some(open) => {
                let ignored = after_prefix.get(..open).unwrap_or_default();
                if !ignored.is_empty() {
                    diagnostics.push(FilterDiagnostic::IgnoredKeyText { text: lossy(ignored) });
                }
                let options = strip_blanks(after_prefix.get(open + 1..).unwrap_or_default());
                if options.is_empty() || !options.ends_with(b")") {
                    return Err(format_err(FormatErrorKind::OptionsNotClosed));
                }
                let mut name = None;
                let mut header = None;
                let mut method = MatchMethod::None;
                let mut found = 0u8;
                let mut action_given = None;
                let tokens =
                    options.split(|&b| matches!(b, b' ' | b',' | b')')).filter(|t| !t.is_empty());
                for token in tokens {
                    let Some(option) = OptionWord::ALL
                        .into_iter()
                        .find(|o| token.starts_with(o.word().as_bytes()))
                    else {
                        return Err(format_err(FormatErrorKind::UnknownOption {
                            token: lossy(token),
                        }));
                    };
                    let Some(paren) = token.iter().position(|&b| b == b'(') else {
                        return Err(format_err(FormatErrorKind::MissingParenthesis {
                            option: option.word(),
                            token: lossy(token),
                        }));
                    };
                    let arg = strip_blanks(token.get(paren + 1..).unwrap_or_default());
                    match option {
                        OptionWord::Action => {
                            action = match arg {
                                b"include" => FilterAction::Include,
                                b"exclude" => FilterAction::Exclude,
                                _ => {
                                    return Err(format_err(FormatErrorKind::UnknownAction {
                                        value: lossy(arg),
                                    }));
                                }
                            };
                            action_given = Some(action);
                        }
                        OptionWord::Name | OptionWord::Header | OptionWord::Method
                            if arg.is_empty() =>
                        {
                            return Err(format_err(FormatErrorKind::EmptyArgument {
                                option: option.word(),
                            }));
                        }
                        OptionWord::Name => name = Some(arg.to_vec()),
                        OptionWord::Header => {
                            let mut h = arg.to_vec();
                            if !h.ends_with(b":") {
                                h.push(b':');
                            }
                            header = Some(h);
                        }
                        OptionWord::Method => {
                            method = MatchMethod::from_word(arg).ok_or_else(|| {
                                format_err(FormatErrorKind::UnknownMethod { value: lossy(arg) })
                            })?;
                        }
                    }
                    if token.get(..paren) != Some(option.word().as_bytes()) {
                        diagnostics.push(FilterDiagnostic::OptionWordSuffix {
                            option: option.word(),
                            token: lossy(token),
                        });
                    }
                    if found & option.bit() != 0 {
                        diagnostics
                            .push(FilterDiagnostic::OptionRepeated { option: option.word() });
                    }
                    found |= option.bit();
                }
                if found == 0 {
                    return Err(format_err(FormatErrorKind::NoOptions));
                }
                if pattern.is_empty() && method != MatchMethod::None {
                    return Err(format_err(FormatErrorKind::MethodNeedsExpression { method }));
                }
                if !pattern.is_empty() && method == MatchMethod::None {
                    return Err(format_err(FormatErrorKind::ExpressionNeedsMethod));
                }
                if name.is_none() && header.is_none() && method == MatchMethod::None {
                    return Err(format_err(FormatErrorKind::NothingToMatch));
                }
                if bang && action_given == Some(FilterAction::Include) {
                    diagnostics.push(FilterDiagnostic::ExclamationOverridden);
                }
                (false, name, header, method)
            }
        };

        let regex =
            if method == MatchMethod::Regex {
                Some(compile_ere(pattern, &mut diagnostics).map_err(|error| {
                    FilterError::Compile { key: lossy(key), pattern: lossy(pattern), error }
                })?)
            } else {
                None
            };

        if header.is_none() {
            whole_text_diagnostics(method, pattern, &mut diagnostics);
        }

        Ok(FilterParse {
            filter: EventFilter {
                action,
                legacy,
                name,
                header,
                method,
                expression: pattern.to_vec(),
                regex,
            },
            diagnostics,
        })
    }

    /// Include or exclude.
    pub fn action(&self) -> FilterAction {
        self.action
    }

    /// Whether this is an exclude filter.
    pub fn is_exclude(&self) -> bool {
        self.action == FilterAction::Exclude
    }

    /// Whether the filter was written in the legacy form (`eventfilter = [!]regex`).
    pub fn is_legacy(&self) -> bool {
        self.legacy
    }

    /// The event name required by `name(...)`, if any.
    pub fn name(&self) -> Option<&[u8]> {
        self.name.as_deref()
    }

    /// The header prefix of `header(...)`, always ending with `:`, if any.
    pub fn header(&self) -> Option<&[u8]> {
        self.header.as_deref()
    }

    /// The comparison method (`regex` for the legacy form).
    pub fn method(&self) -> MatchMethod {
        self.method
    }

    /// The expression, without its leading `!`.
    pub fn expression(&self) -> &[u8] {
        &self.expression
    }

    /// Whether this filter matches an event (`filter_cmp_fn`), regardless of include/exclude.
    /// `event_name` is the value of the Event header, `event_text` the whole queued event.
    pub fn matches(&self, event_name: &[u8], event_text: &[u8]) -> bool {
        self.matches_c(until_nul(event_name), until_nul(event_text))
    }

    /// [`EventFilter::matches`] on inputs already cut at their first NUL.
    fn matches_c(&self, event_name: &[u8], event_text: &[u8]) -> bool {
        if self.name.as_deref().is_some_and(|name| name != event_name) {
            return false;
        }
        let Some(header) = &self.header else {
            return self.match_data(event_text);
        };
        event_text.split(|&b| b == b'\n').any(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            line.strip_prefix(header.as_slice()).is_some_and(|rest| {
                let value = skip_blanks(rest);
                !value.is_empty() && self.match_data(value)
            })
        })
    }

    /// `match_eventdata`.
    fn match_data(&self, data: &[u8]) -> bool {
        let expr = self.expression.as_slice();
        match self.method {
            MatchMethod::Regex => self.regex.as_ref().is_some_and(|r| r.is_match(data)),
            MatchMethod::Exact => data == expr,
            MatchMethod::StartsWith => data.starts_with(expr),
            MatchMethod::EndsWith => data.ends_with(expr),
            MatchMethod::Contains => contains_bytes(data, expr),
            MatchMethod::None => true,
        }
    }
}

/// Diagnostics for filters compared with the whole event text (no `header(...)`).
fn whole_text_diagnostics(
    method: MatchMethod,
    pattern: &[u8],
    diagnostics: &mut Vec<FilterDiagnostic>,
) {
    const START: &[u8] = b"Event: ";
    let never_anchored = match method {
        MatchMethod::Regex => anchored_literal(pattern)
            .is_some_and(|lit| !(START.starts_with(lit) || lit.starts_with(START))),
        MatchMethod::StartsWith => !(START.starts_with(pattern) || pattern.starts_with(START)),
        _ => false,
    };
    if never_anchored {
        diagnostics.push(FilterDiagnostic::AnchoredNeverMatches { expression: lossy(pattern) });
    }
    if method != MatchMethod::None && event_without_space(pattern) {
        diagnostics.push(FilterDiagnostic::EventWithoutSpace { expression: lossy(pattern) });
    }
    if matches!(method, MatchMethod::Exact | MatchMethod::EndsWith) {
        diagnostics.push(FilterDiagnostic::WholeEventComparison { method });
    }
}

/// For a regex `^<literal>…` without alternation, the literal text the match must begin with.
fn anchored_literal(pattern: &[u8]) -> Option<&[u8]> {
    let rest = pattern.strip_prefix(b"^")?;
    if pattern.contains(&b'|') {
        return None;
    }
    let is_lit = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b' ' | b':' | b'_' | b'-');
    let mut len = rest.iter().take_while(|b| is_lit(b)).count();
    // A following `*`, `?` or `{` makes the last literal character optional.
    if matches!(rest.get(len), Some(b'*' | b'?' | b'{')) {
        len = len.saturating_sub(1);
    }
    rest.get(..len).filter(|lit| !lit.is_empty())
}

/// Whether the pattern contains the word `Event:` directly followed by an alphanumeric.
fn event_without_space(pattern: &[u8]) -> bool {
    const WORD: &[u8] = b"Event:";
    (0..pattern.len()).any(|i| {
        let preceded_by_word = i
            .checked_sub(1)
            .and_then(|j| pattern.get(j))
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_');
        pattern.get(i..).is_some_and(|rest| {
            rest.starts_with(WORD)
                && rest.get(WORD.len()).is_some_and(|b| b.is_ascii_alphanumeric())
        }) && !preceded_by_word
    })
}

// ---------------------------------------------------------------------------------------------
// FilterSet (should_send_event)
// ---------------------------------------------------------------------------------------------

/// All event filters of one user or session. `Default` is empty: every event is sent.
///
/// Cloning is cheap: the list is shared until one of the clones [`add`](FilterSet::add)s a
/// filter. The sessions of one user share their user's list, which lets a publish to many
/// sessions decide once per distinct list.
#[derive(Clone, Debug, Default)]
pub struct FilterSet {
    filters: Arc<Vec<EventFilter>>,
    includes: usize,
    excludes: usize,
}

impl FilterSet {
    /// Adds a filter (to the include or exclude list, according to its action).
    pub fn add(&mut self, f: EventFilter) {
        if f.is_exclude() {
            self.excludes += 1;
        } else {
            self.includes += 1;
        }
        Arc::make_mut(&mut self.filters).push(f);
    }

    /// Whether an event is written to the session (§5.4). `event_name` is the value of its
    /// Event header, `event_text` the whole event as queued
    /// (`Event: X\r\nPrivilege: …\r\n…\r\n\r\n`). Does not allocate.
    pub fn should_send(&self, event_name: &[u8], event_text: &[u8]) -> bool {
        if self.filters.is_empty() {
            return true;
        }
        self.should_send_c(&CEvent::new(event_name, event_text))
    }

    /// [`should_send`](FilterSet::should_send) for an event already cut as C strings, so that
    /// publishing one event to many sessions cuts it once.
    pub(crate) fn should_send_c(&self, event: &CEvent<'_>) -> bool {
        let (name, text) = (event.name, event.text);
        let any = |exclude: bool| {
            self.filters
                .iter()
                .filter(|f| f.is_exclude() == exclude)
                .any(|f| f.matches_c(name, text))
        };
        if self.includes > 0 && !any(false) {
            return false;
        }
        !(self.excludes > 0 && any(true))
    }

    /// [`should_send_c`](FilterSet::should_send_c), decided once per distinct filter list
    /// and event: `verdicts` remembers the answers already given for this event.
    pub(crate) fn should_send_memo(&self, event: &CEvent<'_>, verdicts: &mut Verdicts) -> bool {
        let key = Arc::as_ptr(&self.filters) as usize;
        let known = verdicts.seen.get(..verdicts.len).unwrap_or_default();
        if let Some(&(_, verdict)) = known.iter().find(|(k, _)| *k == key) {
            return verdict;
        }
        let verdict = self.should_send_c(event);
        if let Some(slot) = verdicts.seen.get_mut(verdicts.len) {
            *slot = (key, verdict);
            verdicts.len += 1;
        }
        verdict
    }

    /// Whether no filter is set (every event is sent).
    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// Number of filters.
    pub fn len(&self) -> usize {
        self.filters.len()
    }

    /// Number of include filters.
    pub fn include_count(&self) -> usize {
        self.includes
    }

    /// Number of exclude filters.
    pub fn exclude_count(&self) -> usize {
        self.excludes
    }

    /// The filters in the order they were added.
    pub fn iter(&self) -> std::slice::Iter<'_, EventFilter> {
        self.filters.iter()
    }
}

/// The verdicts of the filter lists one event has been checked against, by list identity:
/// sessions that share their user's list (the usual case) are decided once per publish.
///
/// Valid for one event and while no list is changed; a publish makes a new one. Holds a
/// bounded number of lists; further lists are decided each time.
#[derive(Debug, Default)]
pub(crate) struct Verdicts {
    /// `(list address, verdict)`; the first `len` are valid. A fixed array, so that a publish
    /// does not allocate for it; sixteen, because a linear search through more would cost
    /// about as much as a simple filter.
    seen: [(usize, bool); 16],
    len: usize,
}

impl<'a> IntoIterator for &'a FilterSet {
    type Item = &'a EventFilter;
    type IntoIter = std::slice::Iter<'a, EventFilter>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl Extend<EventFilter> for FilterSet {
    fn extend<T: IntoIterator<Item = EventFilter>>(&mut self, iter: T) {
        for f in iter {
            self.add(f);
        }
    }
}

impl FromIterator<EventFilter> for FilterSet {
    fn from_iter<T: IntoIterator<Item = EventFilter>>(iter: T) -> Self {
        let mut set = FilterSet::default();
        set.extend(iter);
        set
    }
}

// ---------------------------------------------------------------------------------------------
// POSIX ERE (glibc, C.UTF-8) → regex crate syntax
// ---------------------------------------------------------------------------------------------

/// Translates a POSIX extended regular expression, as glibc's `regcomp(REG_EXTENDED)` reads it
/// in the `C.UTF-8` locale Asterisk runs in, into `regex` crate syntax for a `regex::bytes`
/// regex built with Unicode mode on, `dot_matches_new_line(true)` and `multi_line(false)`.
/// The pattern is cut at its first NUL byte.
///
/// Differences handled (glibc behaviour on the left):
/// * `\c` for any character `c` without a GNU meaning is the literal `c`: `\/`, `\:`, `\-`,
///   and also `\d` (a `d`), `\n` (an `n`), `\t`, `\.`; Rust would reject or reinterpret them.
/// * GNU escapes: `\w` `\W` `\s` `\S` (ASCII classes), `\b` `\B`, `\<` `\>` (word start/end),
///   `` \` `` and `\'` (start/end of text). `\1`…`\9` (back-references) are refused.
/// * Brackets: `]` first is literal, `\` is literal inside, `[` is literal unless it opens
///   `[:class:]`, `[=c=]` or `[.c.]`; `&&`, `--`, `~~` are literal (set operations in Rust);
///   `-` is literal first or last; the 12 POSIX classes (invalid names rejected); single-
///   character collating elements and equivalence classes; reversed ranges rejected.
/// * `{`: intervals `{n}`, `{n,}`, `{n,m}` and `{,m}` (= `{0,m}`); a `{` that does not start a
///   valid interval is an error, a lone `}` is literal; counts above 32767 are rejected.
/// * A quantifier after a quantifier repeats the quantified expression (`a+?` is `(a+)?`, i.e.
///   `a*`, not a lazy `a+`; `a{2}{3}` is `(?:a{2}){3}`); a quantifier with nothing before it (start, `(`, `|`, after an anchor) is an
///   error; `)` without a matching `(` is a literal.
/// * `^` and `$` are anchors everywhere (`a^b` never matches); `.` and negated brackets match
///   CR and LF but not invalid UTF-8 bytes; literal non-ASCII characters are whole characters.
///
/// Residual differences: POSIX classes, `\w`, `\s` and word boundaries are ASCII-only here but
/// Unicode-aware in glibc's `C.UTF-8`; back-references are unsupported; invalid UTF-8 bytes in
/// a pattern (only possible from the wire) are matched as raw bytes and ignored inside
/// brackets; range end points outside ASCII are rejected as in glibc ≥ 2.35's code-point
/// collation; the `regex` crate's size and nesting limits can reject huge expressions glibc
/// would accept.
pub fn ere_to_rust(pattern: &[u8]) -> Result<String, RegexError> {
    translate(until_nul(pattern), &mut Vec::new())
}

/// Translates and compiles a pattern.
fn compile_ere(
    pattern: &[u8],
    diagnostics: &mut Vec<FilterDiagnostic>,
) -> Result<Regex, RegexError> {
    let rust = translate(pattern, diagnostics)?;
    RegexBuilder::new(&rust)
        .unicode(true)
        .dot_matches_new_line(true)
        .multi_line(false)
        .case_insensitive(false)
        .crlf(false)
        .ignore_whitespace(false)
        .build()
        .map_err(|e| RegexError { offset: 0, kind: RegexErrorKind::Engine(e) })
}

/// One character of a pattern: a valid UTF-8 character or an invalid byte.
#[derive(Clone, Copy)]
enum Lit {
    Char(char),
    Byte(u8),
}

/// Decodes the character at `i` (glibc's `mbrtowc`: invalid sequences are single bytes).
/// Returns the literal and its length in bytes, or `None` at the end.
fn decode_at(p: &[u8], i: usize) -> Option<(Lit, usize)> {
    let b = *p.get(i)?;
    let len = match b {
        0x00..=0x7f => return Some((Lit::Char(char::from(b)), 1)),
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return Some((Lit::Byte(b), 1)),
    };
    let c = p
        .get(i..i.saturating_add(len))
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.chars().next());
    Some(match c {
        Some(c) => (Lit::Char(c), len),
        None => (Lit::Byte(b), 1),
    })
}

/// Appends `c` as a literal, escaped where Rust syntax could give it a meaning.
fn push_char(out: &mut String, c: char) {
    if c.is_ascii_alphanumeric() || c == '_' || (!c.is_ascii() && !c.is_control()) {
        out.push(c);
    } else {
        let _ = write!(out, "\\x{{{:X}}}", u32::from(c));
    }
}

/// Appends a literal character or invalid byte.
fn push_lit(out: &mut String, lit: Lit) {
    match lit {
        Lit::Char(c) => push_char(out, c),
        Lit::Byte(b) => {
            let _ = write!(out, "(?-u:\\x{b:02X})");
        }
    }
}

/// The expression being repeated by the next quantifier.
struct Atom {
    /// Where it starts in the output.
    start: usize,
    /// Whether a quantifier was already applied to it.
    quantified: bool,
    /// The `*`, `+` or `?` that ends the output, if the last quantifier was one of these.
    simple: Option<char>,
}

impl Atom {
    fn at(start: usize) -> Option<Atom> {
        Some(Atom { start, quantified: false, simple: None })
    }
}

/// Applies a quantifier to the last atom (`operator` is `*`, `+`, `?` or `{`): a quantifier
/// stacked on a quantified atom repeats the quantified expression. Returns whether the caller
/// must still append the operator (false when two simple quantifiers were merged into one).
fn quantify(
    out: &mut String,
    atom: &mut Option<Atom>,
    at: usize,
    operator: char,
) -> Result<bool, RegexError> {
    let error = RegexError { offset: at, kind: RegexErrorKind::NothingToRepeat { operator } };
    let Some(a) = atom.as_mut() else {
        return Err(error);
    };
    if let (Some(prev), true) = (a.simple, operator != '{') {
        // (x*)+ (x+)? (x?)+ … are x*; (x+)+ is x+; (x?)? is x?. Merging keeps the nesting
        // depth of `a+?*+…` constant.
        let merged = if prev == operator { prev } else { '*' };
        out.pop();
        out.push(merged);
        a.simple = Some(merged);
        return Ok(false);
    }
    if a.quantified {
        if !out.is_char_boundary(a.start) {
            return Err(error);
        }
        out.insert_str(a.start, "(?:");
        out.push(')');
    }
    a.quantified = true;
    a.simple = (operator != '{').then_some(operator);
    Ok(true)
}

/// The translator proper (see [`ere_to_rust`]); `p` contains no NUL.
fn translate(p: &[u8], diagnostics: &mut Vec<FilterDiagnostic>) -> Result<String, RegexError> {
    let mut out = String::with_capacity(p.len().saturating_mul(2));
    // Open groups: (output position, pattern offset of the `(`).
    let mut groups: Vec<(usize, usize)> = Vec::new();
    let mut atom: Option<Atom> = None;
    let mut i = 0;
    while let Some(&b) = p.get(i) {
        let start = out.len();
        match b {
            b'(' => {
                groups.push((start, i));
                out.push_str("(?:");
                atom = None;
                i += 1;
            }
            b')' if !groups.is_empty() => {
                let (group_start, _) = groups.pop().unwrap_or((start, i));
                out.push(')');
                atom = Atom::at(group_start);
                i += 1;
            }
            b'|' | b'^' | b'$' => {
                out.push(char::from(b));
                atom = None;
                i += 1;
            }
            b'*' | b'+' | b'?' => {
                if quantify(&mut out, &mut atom, i, char::from(b))? {
                    out.push(char::from(b));
                }
                i += 1;
            }
            b'{' => {
                if atom.is_none() {
                    return Err(RegexError {
                        offset: i,
                        kind: RegexErrorKind::NothingToRepeat { operator: '{' },
                    });
                }
                let (min, max, next) = parse_interval(p, i)?;
                quantify(&mut out, &mut atom, i, '{')?;
                let _ = match max {
                    Some(max) if max == min => write!(out, "{{{min}}}"),
                    Some(max) => write!(out, "{{{min},{max}}}"),
                    None => write!(out, "{{{min},}}"),
                };
                i = next;
            }
            b'.' => {
                out.push('.');
                atom = Atom::at(start);
                i += 1;
            }
            b'[' => {
                i = translate_bracket(p, i, &mut out, diagnostics)?;
                atom = Atom::at(start);
            }
            b'\\' => {
                let Some(&c) = p.get(i + 1) else {
                    return Err(RegexError { offset: i, kind: RegexErrorKind::TrailingBackslash });
                };
                let anchor = match c {
                    b'<' => Some("(?-u:\\b{start})"),
                    b'>' => Some("(?-u:\\b{end})"),
                    b'b' => Some("(?-u:\\b)"),
                    b'B' => Some("(?-u:\\B)"),
                    b'`' => Some("\\A"),
                    b'\'' => Some("\\z"),
                    _ => None,
                };
                if let Some(anchor) = anchor {
                    out.push_str(anchor);
                    atom = None;
                    i += 2;
                    continue;
                }
                match c {
                    b'1'..=b'9' => {
                        return Err(RegexError {
                            offset: i,
                            kind: RegexErrorKind::BackReferenceUnsupported { digit: c },
                        });
                    }
                    b'w' | b'W' | b's' | b'S' => {
                        out.push_str(match c {
                            b'w' => "[0-9A-Za-z_]",
                            b'W' => "[^0-9A-Za-z_]",
                            b's' => "[\\t\\n\\x0B\\x0C\\r ]",
                            _ => "[^\\t\\n\\x0B\\x0C\\r ]",
                        });
                        i += 2;
                    }
                    _ => {
                        // Any other escaped character is itself (a multibyte one included).
                        let (lit, len) = decode_at(p, i + 1).unwrap_or((Lit::Byte(c), 1));
                        push_lit(&mut out, lit);
                        i += 1 + len;
                    }
                }
                atom = Atom::at(start);
            }
            _ => {
                let (lit, len) = decode_at(p, i).unwrap_or((Lit::Byte(b), 1));
                push_lit(&mut out, lit);
                i += len;
                atom = Atom::at(start);
            }
        }
    }
    if let Some(&(_, offset)) = groups.last() {
        return Err(RegexError { offset, kind: RegexErrorKind::UnmatchedParenthesis });
    }
    Ok(out)
}

/// A token of an interval `{…}` (glibc `fetch_token` as seen by `fetch_number`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum IntervalToken {
    End,
    Close,
    Comma,
    Digit(u8),
    Other,
}

fn interval_token(p: &[u8], j: &mut usize) -> IntervalToken {
    let Some(&b) = p.get(*j) else {
        return IntervalToken::End;
    };
    *j += 1;
    match b {
        b'}' => IntervalToken::Close,
        b',' => IntervalToken::Comma,
        b'0'..=b'9' => IntervalToken::Digit(b - b'0'),
        b'\\' => match p.get(*j) {
            Some(&c) => {
                *j += 1;
                if c == b',' { IntervalToken::Comma } else { IntervalToken::Other }
            }
            None => IntervalToken::Other,
        },
        _ => IntervalToken::Other,
    }
}

/// glibc `fetch_number`: -1 = no digits, -2 = invalid; returns the terminating token.
fn fetch_number(p: &[u8], j: &mut usize) -> (i64, IntervalToken) {
    let mut num: i64 = -1;
    loop {
        let token = interval_token(p, j);
        match token {
            IntervalToken::End => return (-2, token),
            IntervalToken::Close | IntervalToken::Comma => return (num, token),
            IntervalToken::Digit(d) => {
                num = match num {
                    -2 => -2,
                    -1 => i64::from(d),
                    n => (n * 10 + i64::from(d)).min(RE_DUP_MAX + 1),
                };
            }
            IntervalToken::Other => num = -2,
        }
    }
}

/// Parses the interval starting at the `{` at `open` (glibc `parse_dup_op`).
/// Returns (min, max or None for unbounded, index after the `}`).
fn parse_interval(p: &[u8], open: usize) -> Result<(i64, Option<i64>, usize), RegexError> {
    let err = |kind| RegexError { offset: open, kind };
    let mut j = open + 1;
    let (mut start, mut token) = fetch_number(p, &mut j);
    if start == -1 {
        if token == IntervalToken::Comma {
            start = 0; // `{,m}` is `{0,m}`
        } else {
            return Err(err(RegexErrorKind::InvalidInterval)); // `{}`
        }
    }
    let mut end = 0;
    if start != -2 {
        end = match token {
            IntervalToken::Close => start,
            IntervalToken::Comma => {
                let (e, t) = fetch_number(p, &mut j);
                token = t;
                e
            }
            _ => -2,
        };
    }
    if start == -2 || end == -2 {
        return Err(err(if token == IntervalToken::End {
            RegexErrorKind::UnmatchedBrace
        } else {
            RegexErrorKind::InvalidInterval
        }));
    }
    if (end != -1 && start > end) || token != IntervalToken::Close {
        return Err(err(RegexErrorKind::InvalidInterval));
    }
    if (if end == -1 { start } else { end }) > RE_DUP_MAX {
        return Err(err(RegexErrorKind::IntervalTooLarge));
    }
    Ok((start, (end != -1).then_some(end), j))
}

/// One element of a bracket expression (glibc `bracket_elem_t`).
enum Elem<'a> {
    Char(char),
    Byte(u8),
    Coll(&'a [u8]),
    Equiv(&'a [u8]),
    Class(&'a [u8]),
}

/// A resolved member of a Rust character class.
enum Member {
    Char(char),
    Range(char, char),
    Class(&'static str),
}

/// Reads the name of `[:name:]`, `[=c=]` or `[.c.]` after the opening `[` + `delim`
/// (glibc `parse_bracket_symbol`).
fn bracket_symbol<'a>(
    p: &'a [u8],
    i: &mut usize,
    delim: u8,
    open: usize,
) -> Result<&'a [u8], RegexError> {
    let err = RegexError { offset: open, kind: RegexErrorKind::UnmatchedBracket };
    let begin = *i;
    for n in 0..BRACKET_NAME_BUF_SIZE {
        let at = begin + n;
        let Some(&ch) = p.get(at) else {
            return Err(err.clone());
        };
        if at + 1 >= p.len() {
            return Err(err);
        }
        if ch == delim && p.get(at + 1) == Some(&b']') {
            *i = at + 2;
            return Ok(p.get(begin..at).unwrap_or_default());
        }
    }
    Err(err)
}

/// glibc `parse_bracket_element`.
fn bracket_element<'a>(
    p: &'a [u8],
    i: &mut usize,
    accept_hyphen: bool,
    open: usize,
) -> Result<Elem<'a>, RegexError> {
    let at = *i;
    let Some((lit, len)) = decode_at(p, at) else {
        return Err(RegexError { offset: open, kind: RegexErrorKind::UnmatchedBracket });
    };
    match lit {
        Lit::Char(c) if len > 1 => {
            *i += len;
            Ok(Elem::Char(c))
        }
        Lit::Byte(b) => {
            *i += 1;
            Ok(Elem::Byte(b))
        }
        Lit::Char(c) => {
            if let (true, Some(&d @ (b'.' | b'=' | b':'))) = (c == '[', p.get(at + 1)) {
                *i = at + 2;
                let name = bracket_symbol(p, i, d, open)?;
                return Ok(match d {
                    b'.' => Elem::Coll(name),
                    b'=' => Elem::Equiv(name),
                    _ => Elem::Class(name),
                });
            }
            if c == '-' && !accept_hyphen && p.get(at + 1) != Some(&b']') {
                return Err(RegexError { offset: at, kind: RegexErrorKind::InvalidRange });
            }
            *i += 1;
            Ok(Elem::Char(c))
        }
    }
}

/// The single ASCII character named by a collating element / equivalence class, `None` for a
/// single non-ASCII byte (glibc masks it out), or an error.
fn single_char(name: &[u8], at: usize) -> Result<Option<char>, RegexError> {
    match name {
        [b] if b.is_ascii() => Ok(Some(char::from(*b))),
        [_] => Ok(None),
        _ => Err(RegexError {
            offset: at,
            kind: RegexErrorKind::InvalidCollatingElement { element: lossy(name) },
        }),
    }
}

/// The end point of a range as an ASCII character (glibc code-point collation in C.UTF-8).
fn range_point(elem: &Elem<'_>, at: usize) -> Result<char, RegexError> {
    let collate_err = |element: String| RegexError {
        offset: at,
        kind: RegexErrorKind::InvalidCollatingElement { element },
    };
    match elem {
        Elem::Class(_) | Elem::Equiv(_) => {
            Err(RegexError { offset: at, kind: RegexErrorKind::InvalidRange })
        }
        Elem::Char(c) if c.is_ascii() => Ok(*c),
        Elem::Char(c) => Err(collate_err(c.to_string())),
        Elem::Byte(b) => Err(collate_err(format!("\\x{b:02x}"))),
        Elem::Coll(name) => match name {
            [b] if b.is_ascii() => Ok(char::from(*b)),
            _ => Err(collate_err(lossy(name))),
        },
    }
}

/// Translates the bracket expression whose `[` is at `open`; returns the index after its `]`.
fn translate_bracket(
    p: &[u8],
    open: usize,
    out: &mut String,
    diagnostics: &mut Vec<FilterDiagnostic>,
) -> Result<usize, RegexError> {
    let ebrack = RegexError { offset: open, kind: RegexErrorKind::UnmatchedBracket };
    let mut i = open + 1;
    let negated = p.get(i) == Some(&b'^');
    if negated {
        i += 1;
    }
    if i >= p.len() {
        return Err(ebrack);
    }
    let content_start = i;
    let mut members = Vec::new();
    let mut first = true;
    loop {
        let elem_at = i;
        let elem = bracket_element(p, &mut i, first, open)?;
        first = false;
        let mut range_end = None;
        if !matches!(elem, Elem::Class(_) | Elem::Equiv(_)) {
            match p.get(i) {
                None => return Err(ebrack),
                Some(b'-') => match p.get(i + 1) {
                    None => return Err(ebrack),
                    Some(b']') => {}
                    Some(_) => {
                        i += 1;
                        let end_at = i;
                        range_end = Some((bracket_element(p, &mut i, true, open)?, end_at));
                    }
                },
                Some(_) => {}
            }
        }
        match range_end {
            Some((end, end_at)) => {
                let lo = range_point(&elem, elem_at)?;
                let hi = range_point(&end, end_at)?;
                if lo > hi {
                    return Err(RegexError { offset: elem_at, kind: RegexErrorKind::InvalidRange });
                }
                members.push(Member::Range(lo, hi));
            }
            None => match elem {
                Elem::Char(c) => members.push(Member::Char(c)),
                Elem::Byte(_) => {}
                Elem::Coll(name) | Elem::Equiv(name) => {
                    if let Some(c) = single_char(name, elem_at)? {
                        members.push(Member::Char(c));
                    }
                }
                Elem::Class(name) => {
                    let Some(class) = POSIX_CLASSES.iter().find(|c| c.as_bytes() == name).copied()
                    else {
                        return Err(RegexError {
                            offset: elem_at,
                            kind: RegexErrorKind::UnknownCharacterClass { name: lossy(name) },
                        });
                    };
                    members.push(Member::Class(class));
                }
            },
        }
        match p.get(i) {
            None => return Err(ebrack),
            Some(b']') => {
                i += 1;
                break;
            }
            Some(_) => {}
        }
    }

    let content = p.get(content_start..i.saturating_sub(1)).unwrap_or_default();
    if !negated && content.len() > 2 && content.starts_with(b":") && content.ends_with(b":") {
        diagnostics.push(FilterDiagnostic::ClassWithoutOuterBrackets { offset: open });
    }

    if members.is_empty() {
        // Only invalid bytes: glibc matches nothing (or, negated, any valid character).
        out.push_str(if negated { "[\\x{0}-\\x{10FFFF}]" } else { "[^\\x{0}-\\x{10FFFF}]" });
        return Ok(i);
    }
    out.push('[');
    if negated {
        out.push('^');
    }
    for m in members {
        let _ = match m {
            Member::Char(c) => write!(out, "\\x{{{:X}}}", u32::from(c)),
            Member::Range(lo, hi) => {
                write!(out, "\\x{{{:X}}}-\\x{{{:X}}}", u32::from(lo), u32::from(hi))
            }
            Member::Class(name) => write!(out, "[:{name}:]"),
        };
    }
    out.push(']');
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NEWCHANNEL: &[u8] = b"Event: Newchannel\r\nChannel: XXX\r\nSomeheader: YYY\r\n";
    const VARSET: &[u8] = b"Event: VarSet\r\nChannel: ABC\r\nSomeheader: XXX\r\n";

    fn parse(key: &str, value: &str) -> EventFilter {
        EventFilter::parse(key, value).unwrap_or_else(|e| panic!("{key} = {value}: {e}"))
    }

    fn diags(key: &str, value: &str) -> Vec<FilterDiagnostic> {
        EventFilter::parse_with_diagnostics(key, value)
            .unwrap_or_else(|e| panic!("{key} = {value}: {e}"))
            .diagnostics
    }

    fn format_kind(key: &str, value: &str) -> FormatErrorKind {
        match EventFilter::parse(key, value) {
            Err(FilterError::Format { kind, .. }) => kind,
            other => panic!("{key} = {value}: expected a format error, got {other:?}"),
        }
    }

    fn regex_kind(pattern: &str) -> RegexErrorKind {
        match EventFilter::parse("eventfilter", pattern) {
            Err(FilterError::Compile { error, .. }) => error.kind,
            other => panic!("{pattern}: expected a compile error, got {other:?}"),
        }
    }

    /// Whether the legacy filter `pattern` matches `text` (event name irrelevant).
    fn re(pattern: &str, text: &[u8]) -> bool {
        parse("eventfilter", pattern).matches(b"", text)
    }

    fn set(lines: &[(&str, &str)]) -> FilterSet {
        lines.iter().map(|(k, v)| parse(k, v)).collect()
    }

    // ----- keys (§5.1, §9 case 30) -----------------------------------------------------------

    #[test]
    fn case_30_eventfilter_key_prefix_is_case_sensitive() {
        assert!(is_eventfilter_key("eventfilter"));
        assert!(is_eventfilter_key("eventfilter(name(Newchannel))"));
        assert!(is_eventfilter_key("eventfilter2"));
        assert!(!is_eventfilter_key("EventFilter"));
        assert!(!is_eventfilter_key("eventFilter(name(X))"));
        assert!(!is_eventfilter_key("event"));
        assert!(looks_like_eventfilter_key_wrong_case("EventFilter"));
        assert!(looks_like_eventfilter_key_wrong_case("EVENTFILTER(name(X))"));
        assert!(!looks_like_eventfilter_key_wrong_case("eventfilter"));
        assert!(!looks_like_eventfilter_key_wrong_case("read"));
        assert!(!looks_like_eventfilter_key_wrong_case("Event"));
        assert_eq!(
            FilterDiagnostic::for_key("EventFilter"),
            Some(FilterDiagnostic::KeyWrongCase { key: "EventFilter".into() })
        );
        assert_eq!(FilterDiagnostic::for_key("eventfilter"), None);
    }

    #[test]
    fn key_not_starting_with_eventfilter_is_rejected() {
        assert_eq!(
            format_kind("EventFilter", "Event: Newchannel"),
            FormatErrorKind::NotAnEventFilterKey
        );
        assert_eq!(format_kind("", "X"), FormatErrorKind::NotAnEventFilterKey);
    }

    #[test]
    fn text_after_eventfilter_in_key_is_ignored_with_diagnostic() {
        let f = parse("eventfilter2", "Event: Hangup");
        assert!(f.is_legacy());
        assert_eq!(
            diags("eventfilter2", "Event: Hangup"),
            vec![FilterDiagnostic::IgnoredKeyText { text: "2".into() }]
        );
        let f = parse("eventfilter_x(name(Hangup))", "");
        assert_eq!(f.name(), Some(&b"Hangup"[..]));
        assert!(
            diags("eventfilter_x(name(Hangup))", "")
                .contains(&FilterDiagnostic::IgnoredKeyText { text: "_x".into() })
        );
    }

    #[test]
    fn nul_ends_key_value_and_event_like_a_c_string() {
        let f = parse("eventfilter\0(name(X))", "Event: A\0B");
        assert!(f.is_legacy());
        assert_eq!(f.expression(), b"Event: A");
        let mut s = FilterSet::default();
        s.add(f);
        assert!(s.should_send(b"A", b"Event: A\r\n\r\n"));
        assert!(!s.should_send(b"A", b"\0Event: A\r\n\r\n"));
    }

    // ----- legacy form (§5.2) ----------------------------------------------------------------

    #[test]
    fn legacy_filter_is_regex_include_on_whole_text() {
        let f = parse("eventfilter", "Event: Newchannel");
        assert!(f.is_legacy());
        assert_eq!(f.action(), FilterAction::Include);
        assert_eq!(f.method(), MatchMethod::Regex);
        assert_eq!(f.name(), None);
        assert_eq!(f.header(), None);
        assert!(f.matches(b"Newchannel", NEWCHANNEL));
        assert!(!f.matches(b"VarSet", VARSET));
    }

    #[test]
    fn legacy_leading_bang_makes_exclude_and_is_removed() {
        let f = parse("eventfilter", "!Channel: Local/");
        assert!(f.is_exclude());
        assert_eq!(f.expression(), b"Channel: Local/");
        // Only one `!` is removed.
        assert_eq!(parse("eventfilter", "!!x").expression(), b"!x");
    }

    #[test]
    fn legacy_empty_pattern_is_format_error() {
        assert_eq!(format_kind("eventfilter", ""), FormatErrorKind::EmptyLegacyPattern);
        assert_eq!(format_kind("eventfilter", "!"), FormatErrorKind::EmptyLegacyPattern);
    }

    #[test]
    fn legacy_regex_is_case_sensitive_and_whitespace_significant() {
        assert!(re("Event: Newchannel", NEWCHANNEL));
        assert!(!re("event: newchannel", NEWCHANNEL));
        assert!(!re("Event:Newchannel", NEWCHANNEL));
        assert!(!re("Event:  Newchannel", NEWCHANNEL));
    }

    #[test]
    fn case_31_legacy_anchors_only_at_start_of_event_text() {
        assert!(re("^Event: Newchannel", NEWCHANNEL));
        assert!(!re("^Channel:", NEWCHANNEL));
        assert!(re("Channel:", NEWCHANNEL));
        // `$` only at the very end, after the final CRLF.
        assert!(!re("YYY$", NEWCHANNEL));
        assert!(re("YYY\r\n$", NEWCHANNEL));
        // Exclude-only set: passes every event lacking the text.
        let s = set(&[("eventfilter", "!Channel: Local/")]);
        assert!(s.should_send(b"Newchannel", NEWCHANNEL));
        assert!(!s.should_send(b"Newchannel", b"Event: Newchannel\r\nChannel: Local/x\r\n\r\n"));
        assert_eq!(
            diags("eventfilter", "^Channel:"),
            vec![FilterDiagnostic::AnchoredNeverMatches { expression: "^Channel:".into() }]
        );
        assert!(diags("eventfilter", "^Event: Newchannel").is_empty());
        assert!(diags("eventfilter", "^Even").is_empty());
        assert!(diags("eventfilter", "^Channel:|Foo").is_empty());
    }

    #[test]
    fn dot_matches_cr_and_lf() {
        assert!(re("Newchannel.*Someheader", NEWCHANNEL));
        assert!(re("XXX..Someheader", NEWCHANNEL));
    }

    // ----- advanced form (§5.3) --------------------------------------------------------------

    #[test]
    fn advanced_options_must_end_with_parenthesis() {
        assert_eq!(format_kind("eventfilter(name(X", ""), FormatErrorKind::OptionsNotClosed);
        assert_eq!(format_kind("eventfilter(", "X"), FormatErrorKind::OptionsNotClosed);
        assert_eq!(format_kind("eventfilter(name(X)) x", ""), FormatErrorKind::OptionsNotClosed);
        // Blanks around are stripped first.
        assert_eq!(parse("eventfilter( name(X) ) ", "").name(), Some(&b"X"[..]));
    }

    #[test]
    fn empty_option_list_is_format_error() {
        assert_eq!(format_kind("eventfilter()", "XXX"), FormatErrorKind::NoOptions);
        assert_eq!(format_kind("eventfilter()", ""), FormatErrorKind::NoOptions);
        assert_eq!(format_kind("eventfilter(,, )", ""), FormatErrorKind::NoOptions);
    }

    #[test]
    fn options_split_on_space_comma_and_close_paren() {
        let f = parse("eventfilter(name(Newchannel) method(regex))", "X");
        assert_eq!(f.name(), Some(&b"Newchannel"[..]));
        assert_eq!(f.method(), MatchMethod::Regex);
        let f = parse("eventfilter(name(A))header(B))method(exact)", "v");
        assert_eq!(f.header(), Some(&b"B:"[..]));
        assert_eq!(f.method(), MatchMethod::Exact);
        assert_eq!(
            format_kind("eventfilter(name(New channel),method(contains))", "X"),
            FormatErrorKind::UnknownOption { token: "channel".into() }
        );
        // The argument runs to the token's end; later `(` are part of it.
        assert_eq!(parse("eventfilter(name(a(b))", "").name(), Some(&b"a(b"[..]));
    }

    #[test]
    fn option_words_are_prefixes_and_case_sensitive() {
        let f = parse("eventfilter(names(Hangup))", "");
        assert_eq!(f.name(), Some(&b"Hangup"[..]));
        assert_eq!(
            diags("eventfilter(names(Hangup))", ""),
            vec![FilterDiagnostic::OptionWordSuffix {
                option: "name",
                token: "names(Hangup".into()
            }]
        );
        let f = parse("eventfilter(actionable(exclude),headers(Channel),methodX(contains))", "x");
        assert!(f.is_exclude());
        assert_eq!(f.header(), Some(&b"Channel:"[..]));
        assert_eq!(f.method(), MatchMethod::Contains);
        assert_eq!(
            format_kind("eventfilter(Name(Hangup))", ""),
            FormatErrorKind::UnknownOption { token: "Name(Hangup".into() }
        );
        assert_eq!(
            format_kind("eventfilter(nam(Hangup))", ""),
            FormatErrorKind::UnknownOption { token: "nam(Hangup".into() }
        );
    }

    #[test]
    fn option_without_parenthesis_is_format_error() {
        let e = EventFilter::parse("eventfilter(name)", "").unwrap_err();
        assert_eq!(
            e,
            FilterError::Format {
                key: "eventfilter(name)".into(),
                expression: String::new(),
                kind: FormatErrorKind::MissingParenthesis { option: "name", token: "name".into() }
            }
        );
        assert!(e.to_string().contains("crashes"));
        let e = EventFilter::parse("eventfilter(action,name(X))", "").unwrap_err();
        assert!(!e.to_string().contains("crashes"));
        assert_eq!(
            format_kind("eventfilter(name(X),method)", "y"),
            FormatErrorKind::MissingParenthesis { option: "method", token: "method".into() }
        );
    }

    #[test]
    fn action_overrides_bang_which_is_still_stripped() {
        let key = "eventfilter(action(include),name(VarSet),header(Someheader),method(exact))";
        let f = parse(key, "!XXX");
        assert_eq!(f.action(), FilterAction::Include);
        assert_eq!(f.expression(), b"XXX");
        assert_eq!(diags(key, "!XXX"), vec![FilterDiagnostic::ExclamationOverridden]);
        let f = parse("eventfilter(action(exclude),name(X))", "");
        assert!(f.is_exclude());
        let f = parse("eventfilter(name(VarSet),header(Channel),method(exact))", "!ZZZ");
        assert!(f.is_exclude());
        assert_eq!(f.expression(), b"ZZZ");
    }

    #[test]
    fn action_values_are_exact() {
        assert_eq!(
            format_kind("eventfilter(action(Include),name(X))", ""),
            FormatErrorKind::UnknownAction { value: "Include".into() }
        );
        assert_eq!(
            format_kind("eventfilter(action(),name(X))", ""),
            FormatErrorKind::UnknownAction { value: String::new() }
        );
        // Blanks (here a tab) around the argument are stripped.
        assert!(parse("eventfilter(action(\texclude\t),name(X))", "").is_exclude());
    }

    #[test]
    fn name_is_exact_and_case_sensitive() {
        let f = parse("eventfilter(name(Newchannel))", "");
        assert!(f.matches(b"Newchannel", NEWCHANNEL));
        assert!(!f.matches(b"newchannel", NEWCHANNEL));
        assert!(!f.matches(b"NewchannelX", NEWCHANNEL));
        assert!(!f.matches(b"Newchanne", NEWCHANNEL));
        assert_eq!(
            format_kind("eventfilter(name())", ""),
            FormatErrorKind::EmptyArgument { option: "name" }
        );
    }

    #[test]
    fn header_gets_colon_appended_once() {
        assert_eq!(parse("eventfilter(header(Channel))", "").header(), Some(&b"Channel:"[..]));
        assert_eq!(parse("eventfilter(header(Channel:))", "").header(), Some(&b"Channel:"[..]));
        assert_eq!(
            format_kind("eventfilter(header( ))", ""),
            FormatErrorKind::EmptyArgument { option: "header" }
        );
    }

    #[test]
    fn header_matches_values_of_lines_beginning_with_header() {
        let f = parse("eventfilter(header(Channel),method(exact))", "Local/a");
        // Leading blanks skipped, CR removed, trailing blanks kept.
        assert!(f.matches(b"", b"Event: X\r\nChannel: \t Local/a\r\n\r\n"));
        assert!(!f.matches(b"", b"Event: X\r\nChannel: Local/a \r\n\r\n"));
        // Case-sensitive, must begin the line.
        assert!(!f.matches(b"", b"Event: X\r\nchannel: Local/a\r\n\r\n"));
        assert!(!f.matches(b"", b"Event: X\r\nDestChannel: Local/a\r\n\r\n"));
        // Any matching line suffices; LF-only lines and a last line without newline work.
        assert!(f.matches(b"", b"Event: X\nChannel: other\nChannel: Local/a"));
        // Header names are prefixes: `ChannelState:` does not begin with `Channel:`.
        assert!(!f.matches(b"", b"Event: X\r\nChannelState: Local/a\r\n"));
    }

    #[test]
    fn header_empty_values_are_skipped() {
        let f = parse("eventfilter(header(AccountCode))", "");
        assert_eq!(f.method(), MatchMethod::None);
        assert!(!f.matches(b"", b"Event: X\r\nAccountCode: \r\n\r\n"));
        assert!(!f.matches(b"", b"Event: X\r\nAccountCode:\r\n\r\n"));
        assert!(f.matches(b"", b"Event: X\r\nAccountCode: \r\nAccountCode: 1\r\n\r\n"));
        assert!(!f.matches(b"", b"Event: X\r\n\r\n"));
    }

    #[test]
    fn header_regex_anchors_at_value_start() {
        let f = parse("eventfilter(header(Channel),method(regex))", "^Local/");
        assert!(f.matches(b"", b"Event: X\r\nChannel: Local/x\r\n"));
        assert!(!f.matches(b"", b"Event: X\r\nChannel: SIP/Local/x\r\n"));
        assert!(diags("eventfilter(header(Channel),method(regex))", "^Local/").is_empty());
    }

    #[test]
    fn method_spellings_are_exact() {
        for (word, method) in [
            ("regex", MatchMethod::Regex),
            ("exact", MatchMethod::Exact),
            ("starts_with", MatchMethod::StartsWith),
            ("ends_with", MatchMethod::EndsWith),
            ("contains", MatchMethod::Contains),
        ] {
            let key = format!("eventfilter(header(Channel),method({word}))");
            assert_eq!(parse(&key, "X").method(), method);
            assert_eq!(method.as_str(), word);
        }
        assert_eq!(parse("eventfilter(name(A),method(none))", "").method(), MatchMethod::None);
        for bad in ["startsWith", "Regex", "ends-with", "coains"] {
            assert_eq!(
                format_kind(&format!("eventfilter(name(A),method({bad}))"), "X"),
                FormatErrorKind::UnknownMethod { value: bad.into() }
            );
        }
        assert_eq!(
            format_kind("eventfilter(name(A),method())", "X"),
            FormatErrorKind::EmptyArgument { option: "method" }
        );
    }

    #[test]
    fn string_methods_compare_bytes() {
        let data = b"Event: X\r\nChannel: Local/answer@ctx-1;2\r\n";
        let m = |method: &str, expr: &str| {
            parse(&format!("eventfilter(header(Channel),method({method}))"), expr)
                .matches(b"X", data)
        };
        assert!(m("starts_with", "Local/answer@"));
        assert!(!m("starts_with", "answer@"));
        assert!(m("ends_with", ";2"));
        assert!(!m("ends_with", ";1"));
        assert!(m("contains", "answer@ctx"));
        assert!(!m("contains", "Answer"));
        assert!(m("exact", "Local/answer@ctx-1;2"));
        assert!(!m("exact", "Local/answer@ctx-1"));
        // Regex metacharacters are plain text for the string methods.
        assert!(!m("contains", "Local.answer"));
        assert!(m("regex", "Local.answer"));
    }

    #[test]
    fn case_29_advanced_default_method_is_none() {
        assert_eq!(
            format_kind("eventfilter(name(Newchannel))", "X"),
            FormatErrorKind::ExpressionNeedsMethod
        );
        let f = parse("eventfilter(name(Newchannel),method(contains))", "X");
        assert_eq!(f.method(), MatchMethod::Contains);
        assert!(f.matches(b"Newchannel", NEWCHANNEL));
        // Filter action: `MatchCriteria: regex` builds `eventfilter(regex)`.
        let e = EventFilter::from_filter_action(b"X", b"regex").unwrap_err();
        assert_eq!(
            e.action_message(),
            "Filter was formatted incorrectly.  Check the syntax of the filter given."
        );
        assert_eq!(
            e,
            FilterError::Format {
                key: "eventfilter(regex)".into(),
                expression: "X".into(),
                kind: FormatErrorKind::UnknownOption { token: "regex".into() }
            }
        );
    }

    #[test]
    fn empty_expression_needs_method_none() {
        assert_eq!(
            format_kind("eventfilter(name(X),method(contains))", ""),
            FormatErrorKind::MethodNeedsExpression { method: MatchMethod::Contains }
        );
        assert_eq!(
            format_kind("eventfilter(name(X),method(regex))", "!"),
            FormatErrorKind::MethodNeedsExpression { method: MatchMethod::Regex }
        );
    }

    #[test]
    fn method_none_needs_name_or_header() {
        assert_eq!(
            format_kind("eventfilter(action(include))", ""),
            FormatErrorKind::NothingToMatch
        );
        assert_eq!(format_kind("eventfilter(method(none))", ""), FormatErrorKind::NothingToMatch);
        assert!(parse("eventfilter(header(Channel))", "").matches(b"Newchannel", NEWCHANNEL));
        // A method other than none needs neither name nor header: it reads the whole event.
        let f = parse("eventfilter(method(contains))", "Someheader: YYY");
        assert!(f.matches(b"Newchannel", NEWCHANNEL));
        assert!(!f.matches(b"VarSet", VARSET));
    }

    #[test]
    fn repeated_option_last_wins_with_diagnostic() {
        let key = "eventfilter(name(A),name(B),method(exact),method(contains))";
        let f = parse(key, "x");
        assert_eq!(f.name(), Some(&b"B"[..]));
        assert_eq!(f.method(), MatchMethod::Contains);
        let d = diags(key, "x");
        assert!(d.contains(&FilterDiagnostic::OptionRepeated { option: "name" }));
        assert!(d.contains(&FilterDiagnostic::OptionRepeated { option: "method" }));
    }

    #[test]
    fn first_error_in_token_order_wins() {
        assert_eq!(
            format_kind("eventfilter(nnnn(yyy),header(VarSet),method(contains))", "XXX"),
            FormatErrorKind::UnknownOption { token: "nnnn(yyy".into() }
        );
        assert_eq!(
            format_kind("eventfilter(method(coains),nnnn(yyy))", "XXX"),
            FormatErrorKind::UnknownMethod { value: "coains".into() }
        );
    }

    // ----- errors and the Filter action --------------------------------------------------------

    #[test]
    fn compile_and_format_errors_have_distinct_action_messages() {
        let compile = EventFilter::parse("eventfilter", "XX[X").unwrap_err();
        assert!(compile.is_compile_error());
        assert_eq!(
            compile.action_message(),
            "Filter did not compile.  Check the syntax of the filter given."
        );
        let format = EventFilter::parse("eventfilter()", "XXX").unwrap_err();
        assert!(!format.is_compile_error());
        assert_eq!(
            format.action_message(),
            "Filter was formatted incorrectly.  Check the syntax of the filter given."
        );
        assert!(
            EventFilter::parse("eventfilter(method(regex))", "XX[X")
                .unwrap_err()
                .is_compile_error()
        );
        let e = EventFilter::parse("eventfilter", "a(b").unwrap_err();
        assert!(e.to_string().contains("unmatched ("));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn filter_action_builds_key_from_match_criteria() {
        assert_eq!(filter_action_key(b""), b"eventfilter");
        assert_eq!(filter_action_key(b"name(X)"), b"eventfilter(name(X))");
        assert_eq!(filter_action_key(b"\0name(X)"), b"eventfilter");
        let f = EventFilter::from_filter_action(b"!Event: VarSet", b"").unwrap();
        assert!(f.is_legacy() && f.is_exclude());
        let f = EventFilter::from_filter_action(
            b"Local/",
            b"name(Newchannel),header(Channel),method(starts_with)",
        )
        .unwrap();
        assert_eq!(f.method(), MatchMethod::StartsWith);
        assert_eq!(
            EventFilter::from_filter_action(b"", b"").unwrap_err(),
            FilterError::Format {
                key: "eventfilter".into(),
                expression: String::new(),
                kind: FormatErrorKind::EmptyLegacyPattern
            }
        );
        // A blank-only MatchCriteria is not empty: `eventfilter( )` has no option.
        assert!(matches!(
            EventFilter::from_filter_action(b"X", b" "),
            Err(FilterError::Format { kind: FormatErrorKind::NoOptions, .. })
        ));
    }

    #[test]
    fn filter_action_matches_non_utf8_bytes() {
        let f = EventFilter::from_filter_action(b"Value: \xff\xfe", b"").unwrap();
        assert!(f.matches(b"VarSet", b"Event: VarSet\r\nValue: \xff\xfe\r\n\r\n"));
        assert!(!f.matches(b"VarSet", b"Event: VarSet\r\nValue: \xff\r\n\r\n"));
        let f = EventFilter::from_filter_action(b"\xffx", b"header(Value),method(starts_with)")
            .unwrap();
        assert!(f.matches(b"VarSet", b"Event: VarSet\r\nValue: \xffxy\r\n\r\n"));
        assert!(f.to_string().contains("\\xff"));
    }

    // ----- Asterisk's own test vectors (main/manager.c eventfilter_test_*) --------------------

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Expect {
        Success(FilterAction, MatchMethod, Option<&'static str>, Option<&'static str>),
        Format,
        Compile,
    }

    #[test]
    fn asterisk_eventfilter_test_creation_vectors() {
        use Expect::*;
        use FilterAction::{Exclude as Ex, Include as In};
        use MatchMethod as M;
        let vc = Some("VarSet");
        let nc = Some("Newchannel");
        let ch = Some("Channel:");
        // (criteria, filter, expected, test event, expected should_send)
        let cases: &[(&str, &str, Expect, &[u8], bool)] = &[
            ("eventfilter", "XXX", Success(In, M::Regex, None, None), NEWCHANNEL, true),
            ("eventfilter", "!XXX", Success(Ex, M::Regex, None, None), VARSET, false),
            (
                "eventfilter(name(VarSet),method(none))",
                "",
                Success(In, M::None, vc, None),
                VARSET,
                true,
            ),
            (
                "eventfilter(name(Newchannel),method(regex))",
                "X[XYZ]X",
                Success(In, M::Regex, nc, None),
                NEWCHANNEL,
                true,
            ),
            (
                "eventfilter(name(Newchannel),method(regex))",
                "X[abc]X",
                Success(In, M::Regex, nc, None),
                NEWCHANNEL,
                false,
            ),
            (
                "eventfilter(action(exclude),name(Newchannel),method(regex))",
                "X[XYZ]X",
                Success(Ex, M::Regex, nc, None),
                NEWCHANNEL,
                false,
            ),
            (
                "eventfilter(action(exclude),name(Newchannel),method(regex))",
                "X[abc]X",
                Success(Ex, M::Regex, nc, None),
                NEWCHANNEL,
                true,
            ),
            (
                "eventfilter(action(include),name(VarSet),header(Channel),method(starts_with))",
                "AB",
                Success(In, M::StartsWith, vc, ch),
                VARSET,
                true,
            ),
            (
                "eventfilter(action(include),name(VarSet),header(Channel),method(ends_with))",
                "BC",
                Success(In, M::EndsWith, vc, ch),
                VARSET,
                true,
            ),
            (
                "eventfilter(action(include),name(VarSet),header(Channel),method(exact))",
                "ABC",
                Success(In, M::Exact, vc, ch),
                VARSET,
                true,
            ),
            (
                "eventfilter(action(include),name(VarSet),header(Channel),method(exact))",
                "XXX",
                Success(In, M::Exact, vc, ch),
                VARSET,
                false,
            ),
            (
                "eventfilter(name(VarSet),header(Channel),method(exact))",
                "!ZZZ",
                Success(Ex, M::Exact, vc, ch),
                VARSET,
                true,
            ),
            (
                "eventfilter(action(exclude),name(VarSet),header(Channel),method(exact))",
                "ZZZ",
                Success(Ex, M::Exact, vc, ch),
                VARSET,
                true,
            ),
            (
                "eventfilter(action(include),name(VarSet),header(Someheader),method(exact))",
                "!XXX",
                Success(In, M::Exact, vc, Some("Someheader:")),
                VARSET,
                true,
            ),
            ("eventfilter(action(include)", "", Format, b"", false),
            ("eventfilter(action(inlude)", "", Format, b"", false),
            ("eventfilter(nnnn(yyy)", "XXX", Format, b"", false),
            ("eventfilter(eader(VarSet)", "XXX", Format, b"", false),
            ("eventfilter(ethod(contains)", "XXX", Format, b"", false),
            ("eventfilter(nnnn(yyy),header(VarSet),method(contains)", "XXX", Format, b"", false),
            ("eventfilter(name(yyy),heder(VarSet),method(contains)", "XXX", Format, b"", false),
            ("eventfilter(name(yyy),header(VarSet),mehod(contains)", "XXX", Format, b"", false),
            ("eventfilter(name(yyy),header(VarSet),method(coains)", "XXX", Format, b"", false),
            ("eventfilter(method(yyy))", "XXX", Format, b"", false),
            ("eventfilter", "", Format, b"", false),
            ("eventfilter", "!", Format, b"", false),
            ("eventfilter()", "XXX", Format, b"", false),
            ("eventfilter", "XX[X", Compile, b"", false),
            ("eventfilter(method(regex))", "XX[X", Compile, b"", false),
        ];
        for &(key, value, expect, event, send) in cases {
            match (EventFilter::parse(key, value), expect) {
                (Ok(f), Success(action, method, name, header)) => {
                    assert_eq!(f.action(), action, "{key} = {value}");
                    assert_eq!(f.method(), method, "{key} = {value}");
                    assert_eq!(f.name(), name.map(str::as_bytes), "{key} = {value}");
                    assert_eq!(f.header(), header.map(str::as_bytes), "{key} = {value}");
                    let name = event
                        .strip_prefix(b"Event: ")
                        .and_then(|r| r.split(|&b| b == b'\r').next())
                        .unwrap();
                    let mut s = FilterSet::default();
                    s.add(f);
                    assert_eq!(s.should_send(name, event), send, "{key} = {value}");
                }
                (Err(FilterError::Format { .. }), Format) => {}
                (Err(FilterError::Compile { .. }), Compile) => {}
                (got, _) => panic!("{key} = {value}: expected {expect:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn asterisk_eventfilter_test_matching_vectors() {
        let s = set(&[
            ("eventfilter(name(VarSet),method(none))", ""),
            ("eventfilter(name(Newchannel),method(regex))", "X[XYZ]X"),
            ("eventfilter(name(Newchannel),method(regex))", "X[abc]X"),
            ("eventfilter(name(Newchannel),header(Someheader),method(regex))", "ZZZ"),
            ("eventfilter(action(exclude),name(Newchannel),method(regex))", "X[a]X"),
            ("eventfilter(action(exclude),name(Newchannel),method(regex))", "X[Z]X"),
            ("eventfilter(action(exclude),name(VarSet),header(Channel),method(regex))", "YYY"),
        ]);
        assert_eq!((s.include_count(), s.exclude_count()), (4, 3));
        let events: &[(&[u8], &[u8], bool)] = &[
            (b"Newchannel", b"Event: Newchannel\r\nChannel: XXX\r\nSomeheader: YYY\r\n", true),
            (b"Newchannel", b"Event: Newchannel\r\nChannel: XZX\r\nSomeheader: YYY\r\n", false),
            (b"Newchannel", b"Event: Newchannel\r\nChannel: XaX\r\nSomeheader: YYY\r\n", false),
            (b"Newchannel", b"Event: Newchannel\r\nChannel: XbX\r\nSomeheader: YYY\r\n", true),
            (b"Newchannel", b"Event: Newchannel\r\nChannel: XcX\r\nSomeheader: YYY\r\n", true),
            (b"Newchannel", b"Event: Newchannel\r\nChannel: YYY\r\nSomeheader: YYY\r\n", false),
            (b"Newchannel", b"Event: Newchannel\r\nChannel: YYY\r\nSomeheader: ZZZ\r\n", true),
            (b"VarSet", b"Event: VarSet\r\nChannel: XXX\r\nSomeheader: YYY\r\n", true),
            (b"VarSet", b"Event: VarSet\r\nChannel: YYY\r\nSomeheader: YYY\r\n", false),
        ];
        for &(name, text, send) in events {
            assert_eq!(s.should_send(name, text), send, "{}", lossy(text));
        }
    }

    // ----- evaluation (§5.4) -----------------------------------------------------------------

    #[test]
    fn no_filters_send_everything() {
        let s = FilterSet::default();
        assert!(s.is_empty());
        assert_eq!(s.len(), 0);
        assert!(s.should_send(b"Newchannel", NEWCHANNEL));
        assert!(s.should_send(b"", b""));
    }

    #[test]
    fn only_includes_send_if_any_matches() {
        let s = set(&[("eventfilter", "Event: Newchannel"), ("eventfilter(name(Hangup))", "")]);
        assert!(s.should_send(b"Newchannel", NEWCHANNEL));
        assert!(s.should_send(b"Hangup", b"Event: Hangup\r\n\r\n"));
        assert!(!s.should_send(b"VarSet", VARSET));
    }

    #[test]
    fn only_excludes_send_if_none_matches() {
        let s = set(&[("eventfilter", "!Event: VarSet"), ("eventfilter", "!XXX")]);
        assert!(!s.should_send(b"VarSet", VARSET));
        assert!(!s.should_send(b"Newchannel", NEWCHANNEL));
        assert!(s.should_send(b"Hangup", b"Event: Hangup\r\n\r\n"));
    }

    #[test]
    fn includes_and_excludes_need_include_match_and_no_exclude_match() {
        let s = set(&[("eventfilter", "Channel:"), ("eventfilter", "!Event: VarSet")]);
        assert!(s.should_send(b"Newchannel", NEWCHANNEL));
        assert!(!s.should_send(b"VarSet", VARSET));
        assert!(!s.should_send(b"Hangup", b"Event: Hangup\r\n\r\n"));
    }

    #[test]
    fn filter_order_does_not_matter() {
        let lines = [
            ("eventfilter", "!Event: VarSet"),
            ("eventfilter", "Channel:"),
            ("eventfilter(name(Hangup))", ""),
        ];
        let a = set(&lines);
        let mut rev = lines;
        rev.reverse();
        let b = set(&rev);
        for (n, t) in [
            (&b"Newchannel"[..], NEWCHANNEL),
            (b"VarSet", VARSET),
            (b"Hangup", b"Event: Hangup\r\n\r\n"),
            (b"Foo", b"Event: Foo\r\n\r\n"),
        ] {
            assert_eq!(a.should_send(n, t), b.should_send(n, t));
        }
        assert_eq!(a.len(), 3);
        assert_eq!(a.iter().count(), 3);
        assert_eq!((&a).into_iter().filter(|f| f.is_exclude()).count(), 1);
    }

    // ----- Display and diagnostics -------------------------------------------------------------

    #[test]
    fn display_shows_action_name_header_method_expression() {
        let f = parse(
            "eventfilter(action(exclude),name(Newchannel),header(Channel),method(starts_with))",
            "Local/answer@",
        );
        assert_eq!(
            f.to_string(),
            "exclude name=\"Newchannel\" header=\"Channel:\" method=starts_with \
             expression=\"Local/answer@\""
        );
        assert_eq!(
            parse("eventfilter", "Event: \"A\"\t").to_string(),
            "include name=(any) header=(whole event) method=regex \
             expression=\"Event: \\\"A\\\"\\t\" (legacy)"
        );
    }

    #[test]
    fn event_without_space_is_reported() {
        assert!(diags("eventfilter", "Event:Newchannel").contains(
            &FilterDiagnostic::EventWithoutSpace { expression: "Event:Newchannel".into() }
        ));
        assert!(diags("eventfilter", "UserEvent:Foo").is_empty());
        assert!(diags("eventfilter", "Event: Newchannel").is_empty());
        assert!(
            !diags("eventfilter(method(contains))", "xEvent:Newchannel")
                .iter()
                .any(|d| matches!(d, FilterDiagnostic::EventWithoutSpace { .. }))
        );
        assert!(
            diags("eventfilter(method(contains))", "Event:Newchannel")
                .iter()
                .any(|d| matches!(d, FilterDiagnostic::EventWithoutSpace { .. }))
        );
    }

    #[test]
    fn whole_event_starts_with_and_exact_are_reported() {
        assert_eq!(
            diags("eventfilter(method(starts_with))", "Channel:"),
            vec![FilterDiagnostic::AnchoredNeverMatches { expression: "Channel:".into() }]
        );
        assert!(diags("eventfilter(method(starts_with))", "Event: New").is_empty());
        assert_eq!(
            diags("eventfilter(name(X),method(exact))", "Event: X"),
            vec![FilterDiagnostic::WholeEventComparison { method: MatchMethod::Exact }]
        );
        assert!(diags("eventfilter(header(Channel),method(exact))", "Event: X").is_empty());
    }

    #[test]
    fn class_without_outer_brackets_is_reported() {
        assert_eq!(
            diags("eventfilter", "Uniqueid: [:digit:]"),
            vec![FilterDiagnostic::ClassWithoutOuterBrackets { offset: 10 }]
        );
        assert!(diags("eventfilter", "Uniqueid: [[:digit:]]").is_empty());
    }

    #[test]
    fn diagnostics_display_reads_well() {
        let d = FilterDiagnostic::AnchoredNeverMatches { expression: "^Channel:".into() };
        assert!(d.to_string().contains("can never match"));
        let d = FilterDiagnostic::KeyWrongCase { key: "EventFilter".into() };
        assert!(d.to_string().contains("lowercase `eventfilter`"));
    }

    // ----- POSIX ERE translation ----------------------------------------------------------------

    #[test]
    fn ere_unknown_escapes_are_literals() {
        assert!(re(r"Local\/x", b"Local/x"));
        assert!(re(r"a\:b", b"a:b"));
        assert!(re(r"\d", b"d"));
        assert!(!re(r"\d", b"1"));
        assert!(re(r"a\nb", b"anb"));
        assert!(!re(r"a\nb", b"a\nb"));
        assert!(re(r"a\.b", b"a.b"));
        assert!(!re(r"a\.b", b"axb"));
        assert!(re(r"\(\)\{\}\|\*\+\?\[\]\^\$\\", b"(){}|*+?[]^$\\"));
        assert!(re("\\é", "é".as_bytes()));
        assert_eq!(ere_to_rust(br"\/").unwrap(), r"\x{2F}");
    }

    #[test]
    fn ere_gnu_escapes() {
        assert!(re(r"a\wb", b"a_b"));
        assert!(!re(r"a\wb", b"a-b"));
        assert!(re(r"a\Wb", b"a-b"));
        assert!(re(r"a\sb", b"a\tb"));
        assert!(re(r"a\Sb", b"axb"));
        assert!(re(r"\bfoo\b", b"a foo b"));
        assert!(!re(r"\bfoo\b", b"afoo"));
        assert!(re(r"\Boo", b"foo"));
        assert!(re(r"\<foo\>", b"(foo)"));
        assert!(!re(r"\<oo", b"foo"));
        assert!(re(r"\`Event", b"Event: X"));
        assert!(!re(r"\`vent", b"Event: X"));
        assert!(re(r"X\'", b"Event: X"));
        assert!(matches!(
            regex_kind(r"(a)\1"),
            RegexErrorKind::BackReferenceUnsupported { digit: b'1' }
        ));
        assert_eq!(regex_kind(r"a\"), RegexErrorKind::TrailingBackslash);
    }

    #[test]
    fn ere_brackets() {
        assert!(re("[[:alpha:]][[:digit:]]", b"-a1-"));
        assert!(!re("[[:alpha:]][[:digit:]]", b"1a"));
        assert!(re("x[]a]", b"x]"));
        assert!(re("x[^]a]", b"xb"));
        assert!(!re("x[^]a]", b"x]"));
        assert!(re("x[a-]", b"x-"));
        assert!(re("x[-a]", b"x-"));
        assert!(re(r"x[\]", b"x\\"));
        assert!(re(r"x[\n]", b"xn"));
        assert!(re("x[[]", b"x["));
        assert!(re("x[a&&b]", b"x&"));
        assert!(re("x[!--]", b"x,"));
        assert!(re("x[[.a.]-c]", b"xb"));
        assert!(re("x[[=a=]]", b"xa"));
        assert!(re("x[[.-.]]", b"x-"));
        assert!(re("x[é]", "xé".as_bytes()));
        assert!(!re("x[é]", b"x\xc3"));
        assert!(re("x[^a]y", "xéy".as_bytes()));
        assert!(re("x[^a]y", b"x\ny"));
        assert!(!re("x[^a]y", b"x\xffy"));
        assert!(re("x[[:alpha:]-]", b"x-"));
    }

    #[test]
    fn ere_bracket_errors() {
        assert_eq!(regex_kind("XX[X"), RegexErrorKind::UnmatchedBracket);
        assert_eq!(regex_kind("x[]"), RegexErrorKind::UnmatchedBracket);
        assert_eq!(regex_kind("x[^"), RegexErrorKind::UnmatchedBracket);
        assert_eq!(regex_kind("x[[:alpha:]"), RegexErrorKind::UnmatchedBracket);
        assert_eq!(regex_kind("x[[:alpha]"), RegexErrorKind::UnmatchedBracket);
        assert_eq!(
            regex_kind("x[[:foo:]]"),
            RegexErrorKind::UnknownCharacterClass { name: "foo".into() }
        );
        assert_eq!(
            regex_kind("x[[:word:]]"),
            RegexErrorKind::UnknownCharacterClass { name: "word".into() }
        );
        assert_eq!(regex_kind("x[z-a]"), RegexErrorKind::InvalidRange);
        assert_eq!(regex_kind("x[a--]"), RegexErrorKind::InvalidRange);
        assert_eq!(regex_kind("x[a-c-e]"), RegexErrorKind::InvalidRange);
        assert_eq!(regex_kind("x[[:alpha:]-z]"), RegexErrorKind::InvalidRange);
        assert_eq!(regex_kind("x[a-[:alpha:]]"), RegexErrorKind::InvalidRange);
        assert!(matches!(
            regex_kind("x[[.space.]]"),
            RegexErrorKind::InvalidCollatingElement { .. }
        ));
        assert!(matches!(regex_kind("x[a-é]"), RegexErrorKind::InvalidCollatingElement { .. }));
    }

    #[test]
    fn ere_intervals() {
        assert!(re("xa{2}y", b"xaay"));
        assert!(!re("xa{2}y", b"xay"));
        assert!(re("xa{,2}y", b"xy"));
        assert!(!re("xa{,2}y", b"xaaay"));
        assert!(re("xa{2,}y", b"xaaaay"));
        assert!(re("xa{1,2}y", b"xaay"));
        assert!(re("x{0}y", b"y"));
        assert!(re("a}", b"a}"));
        assert!(re("}", b"}"));
        assert_eq!(regex_kind("a{}"), RegexErrorKind::InvalidInterval);
        assert_eq!(regex_kind("a{x}"), RegexErrorKind::InvalidInterval);
        assert_eq!(regex_kind("a{2,1}"), RegexErrorKind::InvalidInterval);
        assert_eq!(regex_kind("a{1,2,3}"), RegexErrorKind::InvalidInterval);
        assert_eq!(regex_kind("a{1"), RegexErrorKind::UnmatchedBrace);
        assert_eq!(regex_kind("a{"), RegexErrorKind::UnmatchedBrace);
        assert_eq!(regex_kind("a{1,2"), RegexErrorKind::UnmatchedBrace);
        assert_eq!(regex_kind("a{32768}"), RegexErrorKind::IntervalTooLarge);
        assert_eq!(regex_kind("a{1,99999999999}"), RegexErrorKind::IntervalTooLarge);
        assert_eq!(regex_kind("{1}a"), RegexErrorKind::NothingToRepeat { operator: '{' });
        assert_eq!(ere_to_rust(b"a{1,3}").unwrap(), "a{1,3}");
        assert_eq!(ere_to_rust(b"a{,}").unwrap(), "a{0,}");
    }

    #[test]
    fn ere_stacked_quantifiers_repeat_the_quantified_expression() {
        // POSIX `a+?` is `(a+)?`, not a lazy `a+`.
        assert!(parse("eventfilter(header(H),method(regex))", "^xa+?$").matches(b"", b"H: x"));
        assert!(parse("eventfilter(header(H),method(regex))", "^xa+?$").matches(b"", b"H: xaa"));
        assert!(re("a**", b"b"));
        assert!(re("xa{2}{2}y", b"xaaaay"));
        assert!(!re("xa{2}{2}y", b"xaay"));
        assert_eq!(ere_to_rust(b"a+?").unwrap(), "a*");
        assert_eq!(ere_to_rust(b"a++").unwrap(), "a+");
        assert_eq!(ere_to_rust(b"a??").unwrap(), "a?");
        assert_eq!(ere_to_rust(b"a+{2}").unwrap(), "(?:a+){2}");
        assert_eq!(ere_to_rust(b"a{2}?").unwrap(), "(?:a{2})?");
        assert!(re(&format!("xa{}y", "+?".repeat(300)), b"xy"));
    }

    #[test]
    fn ere_quantifier_without_operand_is_error() {
        for (p, op) in [("*a", '*'), ("(*a)", '*'), ("a|+b", '+'), ("^*", '*'), ("a$?", '?')] {
            assert_eq!(regex_kind(p), RegexErrorKind::NothingToRepeat { operator: op }, "{p}");
        }
        assert_eq!(regex_kind(r"\b*"), RegexErrorKind::NothingToRepeat { operator: '*' });
    }

    #[test]
    fn ere_parentheses() {
        assert!(re("a)", b"a)"));
        assert!(re("(a))", b"a)"));
        assert!(re("x()y", b"xy"));
        assert!(re("x()*y", b"xy"));
        assert!(re("(ab|cd)+e", b"abcde"));
        assert!(re("a||b", b"zzz"));
        assert_eq!(regex_kind("(a"), RegexErrorKind::UnmatchedParenthesis);
        assert_eq!(regex_kind("((a)"), RegexErrorKind::UnmatchedParenthesis);
    }

    #[test]
    fn ere_anchors_are_anchors_everywhere() {
        assert!(!re("a^b", b"a^b"));
        assert!(!re("a$b", b"a$b"));
        assert!(re("(^|x)Event", b"Event: A"));
        assert!(re(r"a\^b", b"a^b"));
    }

    #[test]
    fn ere_dot_is_one_utf8_character_not_an_invalid_byte() {
        assert!(re("a.b", "aéb".as_bytes()));
        assert!(!re("a..b", "aéb".as_bytes()));
        assert!(!re("a.b", b"a\xffb"));
        assert!(re("a.b", b"a\rb"));
        assert!(re("é+", "éé".as_bytes()));
        assert!(re("xé{2}", "xéé".as_bytes()));
        assert!(!re("xé{2}", b"x\xc3\xa9\xa9"));
    }

    #[test]
    fn ere_invalid_utf8_pattern_bytes_match_raw_bytes() {
        let f = EventFilter::from_filter_action(b"a\xffb", b"").unwrap();
        assert!(f.matches(b"", b"a\xffb"));
        let f = EventFilter::from_filter_action(b"a[\xff]b", b"").unwrap();
        assert!(!f.matches(b"", b"a\xffb"));
        let f = EventFilter::from_filter_action(b"a[^\xff]b", b"").unwrap();
        assert!(f.matches(b"", b"axb"));
    }

    #[test]
    fn ere_case_sensitive() {
        assert!(!re("newchannel", NEWCHANNEL));
        assert!(!re("[a-z]hannel: XXX", b"Channel: XXX"));
    }

    // ----- real events from captures, user `filtered` of conformance/manager.conf ------------

    const FILTERED_USER: [(&str, &str); 6] = [
        ("eventfilter", "Event: Newchannel"),
        ("eventfilter", "Event: UserEvent"),
        ("eventfilter(action(include),name(Hangup))", ""),
        ("eventfilter(action(include),name(DialEnd))", ""),
        (
            "eventfilter(action(exclude),name(Newchannel),header(Channel),method(starts_with))",
            "Local/answer@",
        ),
        ("eventfilter", "!UserEvent: Answered"),
    ];

    /// The queued events of a capture (FullyBooted is written at login, unfiltered).
    fn captured_events(capture: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        let mut rest = capture;
        while let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
            let (msg, tail) = rest.split_at(end + 4);
            rest = tail;
            let msg = msg.strip_prefix(b"Asterisk Call Manager/11.0.0\r\n").unwrap_or(msg);
            if let Some(body) = msg.strip_prefix(b"Event: ") {
                let name = body.split(|&b| b == b'\r').next().unwrap().to_vec();
                if name != b"FullyBooted" {
                    out.push((name, msg.to_vec()));
                }
            }
        }
        out
    }

    fn line_value<'a>(text: &'a [u8], header: &[u8]) -> Option<&'a [u8]> {
        text.split(|&b| b == b'\n')
            .find_map(|l| l.strip_prefix(header))
            .map(|v| v.strip_suffix(b"\r").unwrap_or(v))
    }

    #[test]
    fn filtered_user_on_originate_capture_passes_exactly_the_expected_events() {
        let capture =
            include_bytes!("../tests/data/asterisk-22/originate-async-admin/server_to_client.bin");
        let filters = set(&FILTERED_USER);
        assert_eq!((filters.include_count(), filters.exclude_count()), (4, 2));
        let events = captured_events(capture);
        assert_eq!(events.len(), 127);
        let passed: Vec<String> = events
            .iter()
            .filter(|(name, text)| filters.should_send(name, text))
            .map(|(name, text)| {
                let who = line_value(text, b"UserEvent: ")
                    .or_else(|| line_value(text, b"Channel: "))
                    .or_else(|| line_value(text, b"DestChannel: "))
                    .unwrap_or_default();
                format!("{} {}", lossy(name), lossy(who))
            })
            .collect();
        assert_eq!(
            passed,
            [
                "Newchannel Local/start@amitest-00000001;1",
                "Newchannel Local/start@amitest-00000001;2",
                "DialEnd Local/start@amitest-00000001;1",
                "UserEvent TestEvent",
                "DialEnd Local/start@amitest-00000001;2",
                "Hangup Local/answer@amitest-00000002;2",
                "UserEvent TestEvent",
                "Hangup Local/start@amitest-00000001;2",
                "Hangup Local/start@amitest-00000001;1",
                "Hangup Local/answer@amitest-00000002;1",
            ]
        );
        // The blocked ones include the callee-leg Newchannels and the `Answered` user event.
        let blocked = |name: &[u8], needle: &[u8]| {
            events
                .iter()
                .filter(|(n, t)| n == name && contains_bytes(t, needle))
                .all(|(n, t)| !filters.should_send(n, t))
        };
        assert!(blocked(b"Newchannel", b"Channel: Local/answer@"));
        assert!(blocked(b"UserEvent", b"UserEvent: Answered"));
        assert!(blocked(b"VarSet", b""));
        assert!(blocked(b"CEL", b""));
    }

    #[test]
    fn filtered_user_on_security_capture_blocks_everything() {
        let capture = include_bytes!(
            "../tests/data/asterisk-22/security-events-observer/observer/server_to_client.bin"
        );
        let filters = set(&FILTERED_USER);
        let events = captured_events(capture);
        assert_eq!(events.len(), 6);
        for (name, text) in &events {
            assert!(!filters.should_send(name, text), "{}", lossy(name));
        }
        // Without filters the same events are all sent.
        assert!(events.iter().all(|(n, t)| FilterSet::default().should_send(n, t)));
    }

    // ----- properties ------------------------------------------------------------------------

    fn sample_set() -> FilterSet {
        set(&[
            ("eventfilter", "Event: (New|Hang)[a-z]+"),
            ("eventfilter", "![[:digit:]]{3,}"),
            ("eventfilter(name(VarSet),header(Value),method(regex))", "^.é*$"),
            ("eventfilter(header(Channel),method(contains))", "Local/"),
            ("eventfilter(action(exclude),header(Channel),method(ends_with))", ";2"),
            ("eventfilter(name(Hangup))", ""),
        ])
    }

    proptest! {
        #[test]
        fn prop_parse_never_panics(
            key in "eventfilter[()a-z ,!\t:]{0,40}",
            value in any::<String>(),
        ) {
            let _ = EventFilter::parse(&key, &value);
        }

        #[test]
        fn prop_parse_bytes_never_panics(
            key in proptest::collection::vec(any::<u8>(), 0..40),
            value in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut k = b"eventfilter".to_vec();
            k.extend_from_slice(&key);
            let _ = EventFilter::parse_bytes(&k, &value);
            let _ = EventFilter::parse_bytes(&key, &value);
            let _ = EventFilter::from_filter_action(&value, &key);
        }

        #[test]
        fn prop_ere_translation_never_panics(
            pattern in "[\\[\\]\\(\\)\\{\\}\\\\^$.*+?|:=,a-c0-9\\-é]{0,24}",
        ) {
            if let Ok(f) = EventFilter::parse("eventfilter", &pattern) {
                let _ = f.matches(b"X", b"Event: X\r\nA: b\r\n\r\n");
            }
        }

        #[test]
        fn prop_should_send_never_panics(
            name in proptest::collection::vec(any::<u8>(), 0..16),
            text in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let s = sample_set();
            let _ = s.should_send(&name, &text);
        }

        #[test]
        fn prop_plain_alphanumeric_regex_equals_contains(
            pattern in "[A-Za-z0-9 ]{1,6}",
            text in "[A-Za-z0-9 \r\n]{0,40}",
        ) {
            let regex = parse("eventfilter", &pattern);
            let contains = parse("eventfilter(method(contains))", &pattern);
            prop_assert_eq!(
                regex.matches(b"", text.as_bytes()),
                contains.matches(b"", text.as_bytes())
            );
        }

        #[test]
        // `\'`, `` \` ``, `\<` and `\>` are GNU anchors, not literals; every other escaped
        // punctuation character is literal.
        fn prop_escaped_punctuation_is_literal(
            c in "[!-&(-/:;=?@\\[-_{-~]",
            text in "[!-~]{0,10}",
        ) {
            let pattern = format!("x\\{c}");
            let f = parse("eventfilter", &pattern);
            let needle = format!("x{c}");
            prop_assert_eq!(f.matches(b"", text.as_bytes()), text.contains(&needle));
        }
    }
}
