//! Why an edit is refused: every error says what, where (file and line) and what to do.

use std::fmt;
use std::sync::Arc;

use crate::acl::AclError;
use crate::config::ConfigError;
use crate::config::findings::Finding;
use crate::filter::FilterError;

/// Why a value cannot be written as given.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueProblem {
    /// It holds a control character (a line break would end the line).
    ControlCharacter {
        /// The character's code point.
        code: u32,
    },
    /// It begins or ends with a blank, which the loader strips.
    SurroundingBlanks,
    /// The line would be longer than the loader reads.
    TooLong {
        /// The longest line allowed, in bytes.
        max: usize,
    },
    /// An empty secret lets a Login without `Secret` succeed (`ami check`: `empty-secret`).
    EmptySecret,
    /// A permission mask with bits no class name can express.
    Unexpressible,
    /// `writetimeout` below 100 ms, which Asterisk ignores (or above what `atoi` reads).
    WriteTimeoutRange,
    /// A `setvar` without a name, with `=` in the name, or longer than the 255 bytes Asterisk
    /// keeps.
    Setvar,
    /// An event filter key that does not begin with the lower-case `eventfilter`, which
    /// Asterisk would ignore.
    FilterKey,
    /// Empty, where a value is needed (an ACL rule).
    Empty,
}

impl fmt::Display for ValueProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueProblem::ControlCharacter { code } => {
                write!(f, "it contains the control character U+{code:04X}")
            }
            ValueProblem::SurroundingBlanks => {
                f.write_str("it begins or ends with a blank, which Asterisk strips")
            }
            ValueProblem::TooLong { max } => {
                write!(f, "the line would be longer than the {max} bytes Asterisk reads")
            }
            ValueProblem::EmptySecret => {
                f.write_str("an empty secret lets anyone log in without one")
            }
            ValueProblem::Unexpressible => {
                f.write_str("the mask holds bits that no class name expresses")
            }
            ValueProblem::WriteTimeoutRange => {
                f.write_str("writetimeout must be a number of milliseconds from 100 to 2147483647")
            }
            ValueProblem::Setvar => f.write_str(
                "a setvar is NAME=value with a non-empty NAME without `=`, at most 255 bytes",
            ),
            ValueProblem::FilterKey => f.write_str(
                "an event filter key begins with lower-case `eventfilter` (Asterisk ignores others)",
            ),
            ValueProblem::Empty => f.write_str("it is empty"),
        }
    }
}

/// Why a user name cannot be used for a new or renamed user.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameProblem {
    /// The name is empty.
    Empty,
    /// Longer than the 79 bytes Asterisk keeps.
    TooLong,
    /// `general` is the settings section, not a user.
    General,
    /// A character other than ASCII letters, digits and `-_.@+`.
    Character {
        /// The character.
        character: char,
    },
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::Empty => f.write_str("it is empty"),
            NameProblem::TooLong => f.write_str("it is longer than the 79 bytes Asterisk keeps"),
            NameProblem::General => f.write_str("[general] is the settings section, not a user"),
            NameProblem::Character { character } => write!(
                f,
                "it contains {character:?}: user names are made of ASCII letters, digits and {}",
                super::render::NAME_PUNCTUATION
            ),
        }
    }
}

/// Why a line cannot be changed in place.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineProblem {
    /// The line takes part in a `;--` block comment (or is skipped by the loader), so changing
    /// it would change how the lines around it are read.
    BlockComment,
    /// A section header with a backslash escape.
    Escaped,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineProblem::BlockComment => f.write_str(
                "it is part of a `;--` block comment (or is a line Asterisk skips), so changing \
                 it would change how the lines around it are read",
            ),
            LineProblem::Escaped => f.write_str("its section name is written with a `\\` escape"),
        }
    }
}

/// Why a whole file cannot be edited.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileProblem {
    /// It is included more than once, so one change would apply at several places.
    IncludedTwice {
        /// How many times it is read.
        times: usize,
    },
    /// The loader does not read it from its first line on as a file of its own (for example
    /// a glob sibling that starts inside a block comment of the file before it, or a file the
    /// loader abandoned after an error), so its lines cannot be located safely.
    NotReadAlone,
}

impl fmt::Display for FileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileProblem::IncludedTwice { times } => {
                write!(f, "it is included {times} times, so a change would apply at every place")
            }
            FileProblem::NotReadAlone => f.write_str(
                "Asterisk does not read it as a file of its own (a block comment open across \
                 files, or an error that abandons it)",
            ),
        }
    }
}

/// A part of a user that an edit is about (in [`EditError::NotEffective`] and
/// [`EditError::SideEffect`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// The user exists or not.
    Presence,
    /// Asterisk deletes the user for an invalid ACL line.
    Deleted,
    /// `secret`.
    Secret,
    /// `read`.
    Read,
    /// `write`.
    Write,
    /// `permit`/`deny`/`acl`.
    Acl,
    /// `eventfilter` lines.
    EventFilters,
    /// `displayconnects`.
    DisplayConnects,
    /// `allowmultiplelogin`.
    AllowMultipleLogin,
    /// `writetimeout`.
    WriteTimeout,
    /// `setvar` lines.
    Setvars,
    /// A `[general]` setting.
    General,
}

impl Field {
    /// The manager.conf key (or a description).
    pub fn key(self) -> &'static str {
        match self {
            Field::Presence => "the user itself",
            Field::Deleted => "whether Asterisk deletes the user",
            Field::Secret => "secret",
            Field::Read => "read",
            Field::Write => "write",
            Field::Acl => "permit/deny/acl",
            Field::EventFilters => "eventfilter",
            Field::DisplayConnects => "displayconnects",
            Field::AllowMultipleLogin => "allowmultiplelogin",
            Field::WriteTimeout => "writetimeout",
            Field::Setvars => "setvar",
            Field::General => "[general]",
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A line of a file, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file (`manager.conf` for the file the editor was given).
    pub file: Arc<str>,
    /// The line (1-based).
    pub line: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// An edit the editor refuses. Nothing was changed.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum EditError {
    /// The configuration does not load (Asterisk would refuse it too): fix it first.
    Load(Box<ConfigError>),
    /// No user of that name (names compare ASCII case-insensitively).
    UnknownUser {
        /// The name asked for.
        name: String,
    },
    /// A new or renamed user would take a name already used by a section or template.
    NameTaken {
        /// The name asked for.
        name: String,
        /// Where the existing section is.
        at: Location,
    },
    /// The name cannot be a user name.
    InvalidName {
        /// The name asked for.
        name: String,
        /// Why.
        problem: NameProblem,
    },
    /// A value cannot be written as given.
    InvalidValue {
        /// The key.
        key: String,
        /// The value as it may be shown (secrets are never shown).
        value: String,
        /// Why.
        problem: ValueProblem,
    },
    /// A `permit`/`deny`/`acl` rule Asterisk would refuse (and delete the user).
    InvalidAclRule {
        /// The key (`permit`, `deny`, `acl`).
        key: String,
        /// The value.
        value: String,
        /// The ACL module's error.
        error: Box<AclError>,
    },
    /// An event filter Asterisk would skip.
    InvalidEventFilter {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// The filter module's error.
        error: Box<FilterError>,
    },
    /// The user is defined by several sections (a duplicate `[name]` or `[name](+)`): which
    /// line wins depends on their order, so the editor does not guess.
    SeveralSections {
        /// The user.
        user: String,
        /// Every section header.
        sections: Vec<Location>,
    },
    /// The value comes from a template (or a base section) that other users may share: it
    /// cannot be removed or replaced for this user alone.
    Inherited {
        /// The user.
        user: String,
        /// The key.
        key: String,
        /// The base section's name.
        base: String,
        /// The inherited line.
        at: Location,
    },
    /// A `name += value` line builds the value, so the editor cannot tell which line to
    /// change.
    AppendedValue {
        /// The user (or `general`).
        user: String,
        /// The key.
        key: String,
        /// The `+=` line.
        at: Location,
    },
    /// A line that must change cannot be changed safely.
    LineNotEditable {
        /// The line.
        at: Location,
        /// Why.
        problem: LineProblem,
    },
    /// A file that must change cannot be edited.
    FileNotEditable {
        /// The file.
        file: Arc<str>,
        /// Why.
        problem: FileProblem,
    },
    /// Removing the user's section would remove an `#include` inside it.
    SectionHasDirective {
        /// The user.
        user: String,
        /// The directive line.
        at: Location,
    },
    /// Another section inherits from this user (`[other](user)`): renaming or removing it
    /// would break that section.
    InheritedBy {
        /// The user.
        user: String,
        /// The section that inherits.
        heir: String,
        /// Its header.
        at: Location,
    },
    /// The edited file does not load (a bug of the editor or a file it misread); nothing was
    /// written.
    WouldNotLoad(Box<ConfigError>),
    /// Once re-loaded, the edited file does not grant what was asked.
    NotEffective {
        /// The user (`general` for `[general]`).
        user: String,
        /// What differs.
        field: Field,
        /// Asked and obtained, for the non-secret fields.
        detail: String,
        /// The line the obtained value comes from, when known.
        source: Option<Location>,
    },
    /// The edit would also change another user (one inheriting from the edited section, for
    /// example).
    SideEffect {
        /// The user that would change.
        user: String,
        /// What would change.
        field: Field,
    },
    /// `ami check` finds new errors in the result (with `strict`, also dangerous grants).
    CheckFailed {
        /// The new error findings.
        errors: Vec<Finding>,
    },
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EditError::Load(e) => write!(
                f,
                "{e}: Asterisk refuses this configuration, so it cannot be edited; fix that line \
                 first (`ami check` explains it)"
            ),
            EditError::UnknownUser { name } => write!(
                f,
                "there is no user `{name}` (names compare case-insensitively; `ami user list` \
                 shows them)"
            ),
            EditError::NameTaken { name, at } => write!(
                f,
                "the name `{name}` is already used by the section at {at}: choose another name"
            ),
            EditError::InvalidName { name, problem } => {
                write!(f, "`{name}` cannot be a user name: {problem}")
            }
            EditError::InvalidValue { key, value, problem } => {
                write!(f, "`{key} = {value}` cannot be written: {problem}")
            }
            EditError::InvalidAclRule { key, value, error } => write!(
                f,
                "`{key} = {value}`: {error}; Asterisk would delete the user (write numeric \
                 address[/mask] entries, e.g. 10.0.0.0/8)"
            ),
            EditError::InvalidEventFilter { key, value, error } => {
                write!(f, "`{key} = {value}`: {error}; Asterisk would skip this filter")
            }
            EditError::SeveralSections { user, sections } => {
                write!(f, "user `{user}` is defined by {} sections (", sections.len())?;
                for (i, s) in sections.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{s}")?;
                }
                f.write_str("): merge them into one by hand, then edit the user")
            }
            EditError::Inherited { user, key, base, at } => write!(
                f,
                "user `{user}` inherits `{key}` from `[{base}]` ({at}); it cannot be removed or \
                 replaced for `{user}` alone: edit `[{base}]` by hand (it may be shared by other \
                 users) or stop inheriting from it"
            ),
            EditError::AppendedValue { user, key, at } => write!(
                f,
                "`{key}` of `{user}` is built with `+=` ({at}): replace the `+=` lines by one \
                 `{key} = …` line by hand, then edit it"
            ),
            EditError::LineNotEditable { at, problem } => {
                write!(f, "{at} cannot be changed: {problem}; edit it by hand")
            }
            EditError::FileNotEditable { file, problem } => {
                write!(f, "{file} cannot be edited: {problem}; edit it by hand")
            }
            EditError::SectionHasDirective { user, at } => write!(
                f,
                "the section of `{user}` holds a directive at {at}; removing the section would \
                 remove it too: move or remove that line by hand first"
            ),
            EditError::InheritedBy { user, heir, at } => write!(
                f,
                "section `[{heir}]` ({at}) inherits from `{user}`: change `[{heir}]` first, or \
                 it would break"
            ),
            EditError::WouldNotLoad(e) => write!(
                f,
                "the edited configuration would not load ({e}); nothing was changed (please \
                 report this)"
            ),
            EditError::NotEffective { user, field, detail, source } => {
                write!(f, "after the edit, `{field}` of `{user}` would not be as asked")?;
                if !detail.is_empty() {
                    write!(f, " ({detail})")?;
                }
                if let Some(s) = source {
                    write!(f, "; the value Asterisk uses comes from {s}")?;
                }
                f.write_str("; nothing was changed: edit that line by hand")
            }
            EditError::SideEffect { user, field } => write!(
                f,
                "the edit would also change `{field}` of user `{user}` (which shares a section \
                 or a template with the edited one); nothing was changed"
            ),
            EditError::CheckFailed { errors } => {
                f.write_str("`ami check` would report ")?;
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "error [{}] {}", e.code, e.message)?;
                }
                f.write_str("; nothing was changed")
            }
        }
    }
}

impl std::error::Error for EditError {}
