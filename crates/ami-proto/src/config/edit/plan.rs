//! Where an edit changes the files: the lines each [`Edit`] replaces, removes and inserts, and
//! the configuration it must produce.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::error::{FileProblem, LineProblem, Location, NameProblem};
use super::render::{splice_value, variable_line};
use super::scan::{LineKind, ScannedLine, geometry, header_name_range, value_range};
use super::settings::{self, Change, Group, UserState};
use super::{ConfigEditor, Edit, EditError, EditNote, Source, UserSettings};
use crate::config::ini::{self, Category, MAX_CATEGORY_NAME_BYTES};

/// What the re-loaded configuration must be.
#[derive(Clone, Debug)]
pub(super) enum Expect {
    /// One user changes: `old` (lower-case name) is replaced by `new` (`None`: removed).
    User { old: Option<String>, new: Option<UserState>, name: String },
    /// `[general]`'s `enabled` becomes this.
    Enabled(bool),
}

/// One change to a file's lines (0-based indices into the file as loaded).
#[derive(Clone, Debug)]
enum Op {
    Replace { file: usize, index: usize, text: String },
    Remove { file: usize, start: usize, end: usize },
    Insert { file: usize, before: usize, lines: Vec<String> },
}

/// The changes of one edit and what they must produce.
#[derive(Clone, Debug)]
pub(super) struct Plan {
    ops: Vec<Op>,
    pub(super) expect: Expect,
    pub(super) notes: Vec<EditNote>,
}

impl Plan {
    /// The files the plan changes.
    pub(super) fn files(&self) -> Vec<usize> {
        let set: BTreeSet<usize> = self
            .ops
            .iter()
            .map(|op| match op {
                Op::Replace { file, .. } | Op::Remove { file, .. } | Op::Insert { file, .. } => {
                    *file
                }
            })
            .collect();
        set.into_iter().collect()
    }

    /// Applies the changes, from the end of each file backwards so that indices stay valid.
    pub(super) fn apply(&self, sources: &mut [Source]) {
        for file in self.files() {
            let Some(source) = sources.get_mut(file) else { continue };
            let mut replace: BTreeMap<usize, &str> = BTreeMap::new();
            let mut remove: BTreeSet<usize> = BTreeSet::new();
            let mut insert: BTreeMap<usize, Vec<String>> = BTreeMap::new();
            for op in &self.ops {
                match op {
                    Op::Replace { file: f, index, text } if *f == file => {
                        replace.insert(*index, text);
                    }
                    Op::Remove { file: f, start, end } if *f == file => remove.extend(*start..*end),
                    Op::Insert { file: f, before, lines } if *f == file => {
                        insert.entry(*before).or_default().extend(lines.iter().cloned());
                    }
                    _ => {}
                }
            }
            let doc = &mut source.doc;
            for p in (0..=doc.len()).rev() {
                if remove.contains(&p) {
                    doc.remove(p, p + 1);
                } else if let Some(text) = replace.get(&p) {
                    doc.replace(p, (*text).to_owned());
                }
                if let Some(lines) = insert.remove(&p) {
                    doc.insert(p, lines);
                }
            }
        }
    }
}

/// Whether the editor's reading of a file agrees with the loader's on every line: the same
/// section headers and variables at the same lines.
pub(super) fn scan_agrees(name: &str, lines: &[ScannedLine], categories: &[Category]) -> bool {
    let mut headers: HashMap<u32, &str> = HashMap::new();
    let mut variables: HashMap<u32, &str> = HashMap::new();
    for c in categories {
        if &*c.file == name {
            headers.insert(c.line, &c.name);
        }
        for v in c.variables.iter().filter(|v| !v.inherited && &*v.file == name) {
            variables.insert(v.line, &v.name);
        }
    }
    lines.iter().enumerate().all(|(i, l)| {
        let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
        match &l.kind {
            LineKind::Header { .. } if l.kind.is_append_header() => !variables.contains_key(&n),
            LineKind::Header { name, .. } => {
                headers.get(&n).is_some_and(|h| *h == name) && !variables.contains_key(&n)
            }
            LineKind::Variable { append: true, .. } => !headers.contains_key(&n),
            LineKind::Variable { name, .. } => {
                variables.get(&n).is_some_and(|v| v.eq_ignore_ascii_case(name))
                    && !headers.contains_key(&n)
            }
            _ => !headers.contains_key(&n) && !variables.contains_key(&n),
        }
    })
}

/// Plans `edit` on the editor's current state.
pub(super) fn plan(editor: &ConfigEditor, edit: &Edit) -> Result<Plan, EditError> {
    let planner = Planner { editor };
    match edit {
        Edit::AddUser { name, settings } => planner.add(name, settings),
        Edit::UpdateUser { name, settings } => planner.update(name, settings),
        Edit::RenameUser { from, to } => planner.rename(from, to),
        Edit::RemoveUser { name } => planner.remove(name),
        Edit::SetEnabled(enabled) => planner.enabled(*enabled),
    }
}

/// A user's single section, located.
struct Site<'a> {
    category: &'a Category,
    /// The file of the header.
    file: usize,
    /// The header line (0-based).
    header: usize,
    /// First line after the section in that file (the next header, or the end).
    end: usize,
}

struct Planner<'e> {
    editor: &'e ConfigEditor,
}

impl Planner<'_> {
    fn sources(&self) -> &[Source] {
        &self.editor.sources
    }

    fn categories(&self) -> &[Category] {
        &self.editor.loaded.categories
    }

    fn scan(&self, file: usize) -> &[ScannedLine] {
        self.editor.loaded.scans.get(file).map_or(&[][..], Vec::as_slice)
    }

    fn file_index(&self, name: &str) -> Option<usize> {
        self.sources().iter().position(|s| &*s.name == name)
    }

    fn location(&self, file: usize, index: usize) -> Location {
        let name = self.sources().get(file).map_or_else(|| Arc::from(""), |s| s.name.clone());
        Location { file: name, line: u32::try_from(index + 1).unwrap_or(u32::MAX) }
    }

    /// Refuses a file that cannot be edited.
    fn editable(&self, file: usize) -> Result<(), EditError> {
        let source = self.sources().get(file).ok_or(EditError::FileNotEditable {
            file: Arc::from(""),
            problem: FileProblem::NotReadAlone,
        })?;
        if source.reads > 1 {
            return Err(EditError::FileNotEditable {
                file: source.name.clone(),
                problem: FileProblem::IncludedTwice { times: source.reads },
            });
        }
        if !self.editor.loaded.agrees.get(file).copied().unwrap_or(false) {
            return Err(EditError::FileNotEditable {
                file: source.name.clone(),
                problem: FileProblem::NotReadAlone,
            });
        }
        Ok(())
    }

    /// Refuses a line that cannot be replaced or removed alone.
    fn plain(&self, file: usize, index: usize) -> Result<(), EditError> {
        self.editable(file)?;
        match self.scan(file).get(index) {
            Some(l) if l.plain => Ok(()),
            _ => Err(EditError::LineNotEditable {
                at: self.location(file, index),
                problem: LineProblem::BlockComment,
            }),
        }
    }

    /// Refuses to insert lines before `index` when they would not be read.
    fn insertable(&self, file: usize, index: usize) -> Result<(), EditError> {
        self.editable(file)?;
        if index == 0 {
            return Ok(());
        }
        match self.scan(file).get(index - 1) {
            Some(l) if l.ends_open => Ok(()),
            _ => Err(EditError::LineNotEditable {
                at: self.location(file, index - 1),
                problem: LineProblem::BlockComment,
            }),
        }
    }

    /// The raw text of a line.
    fn raw(&self, file: usize, index: usize) -> &str {
        self.sources().get(file).and_then(|s| s.doc.text(index)).unwrap_or_default()
    }

    /// Every non-template section header for `name` (any case), across all files: the
    /// categories the loader made and the `(+)` sections appended to them.
    fn sections(&self, name: &str) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for c in self.categories().iter().filter(|c| !c.template) {
            if c.name.eq_ignore_ascii_case(name)
                && let Some(f) = self.file_index(&c.file)
            {
                out.push((f, (c.line as usize).saturating_sub(1)));
            }
        }
        for (f, scan) in self.editor.loaded.scans.iter().enumerate() {
            for (i, l) in scan.iter().enumerate() {
                if let LineKind::Header { name: n, .. } = &l.kind
                    && l.kind.is_append_header()
                    && !l.kind.is_template_header()
                    && n.eq_ignore_ascii_case(name)
                {
                    out.push((f, i));
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The first line after the section whose header is at `header`.
    fn section_end(&self, file: usize, header: usize) -> usize {
        let scan = self.scan(file);
        scan.iter()
            .enumerate()
            .skip(header + 1)
            .find(|(_, l)| matches!(l.kind, LineKind::Header { .. }))
            .map_or(scan.len(), |(i, _)| i)
    }

    /// The single section of a user (or of `[general]`).
    fn site(&self, name: &str) -> Result<Site<'_>, EditError> {
        let sections = self.sections(name);
        if sections.len() > 1 {
            let user = self
                .categories()
                .iter()
                .find(|c| !c.template && c.name.eq_ignore_ascii_case(name))
                .map_or(name, |c| c.name.as_str());
            return Err(EditError::SeveralSections {
                user: user.to_owned(),
                sections: sections.iter().map(|&(f, i)| self.location(f, i)).collect(),
            });
        }
        let category = self
            .categories()
            .iter()
            .find(|c| !c.template && c.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| EditError::UnknownUser { name: name.to_owned() })?;
        let file = self
            .file_index(&category.file)
            .ok_or_else(|| EditError::UnknownUser { name: name.to_owned() })?;
        let header = (category.line as usize).saturating_sub(1);
        let end = self.section_end(file, header);
        Ok(Site { category, file, header, end })
    }

    /// Where new lines of a section go: after its last line that is not blank or a comment.
    fn insertion_point(&self, site: &Site<'_>) -> usize {
        let scan = self.scan(site.file);
        (site.header + 1..site.end)
            .rev()
            .find(|&i| scan.get(i).is_some_and(|l| l.kind != LineKind::Trivia))
            .map_or(site.header + 1, |i| i + 1)
    }

    /// The file and 0-based line of a variable.
    fn var_position(&self, v: &ini::Variable) -> Option<(usize, usize)> {
        Some((self.file_index(&v.file)?, (v.line as usize).checked_sub(1)?))
    }

    /// The base section an inherited variable comes from.
    fn base_of(&self, v: &ini::Variable) -> String {
        self.categories()
            .iter()
            .find(|c| {
                c.variables.iter().any(|w| !w.inherited && w.file == v.file && w.line == v.line)
            })
            .map_or_else(String::new, |c| c.name.clone())
    }

    /// Refuses a key built with `+=` in the section.
    fn no_append(&self, site: &Site<'_>, group: Group, user: &str) -> Result<(), EditError> {
        let scan = self.scan(site.file);
        for i in site.header + 1..site.end {
            if let Some(ScannedLine { kind: LineKind::Variable { name, append: true }, .. }) =
                scan.get(i)
                && group.matches(name)
            {
                return Err(EditError::AppendedValue {
                    user: user.to_owned(),
                    key: group.key().to_owned(),
                    at: self.location(site.file, i),
                });
            }
        }
        Ok(())
    }

    /// A line with a new value: spliced into a plain line whose value maps onto its bytes, or
    /// rewritten (indentation and comment kept) otherwise.
    fn with_value(
        &self,
        file: usize,
        index: usize,
        key: &str,
        value: &str,
        shown: &str,
    ) -> Result<String, EditError> {
        self.plain(file, index)?;
        let raw = self.raw(file, index);
        let g = geometry(raw);
        let text = match value_range(raw, g) {
            Some((start, end)) => splice_value(raw, start, end, value),
            None => {
                let indent = raw.get(..g.code_start).unwrap_or_default();
                let trailer = raw.get(g.code_end..).unwrap_or_default();
                format!("{indent}{}{trailer}", variable_line(key, value, shown)?)
            }
        };
        super::render::check_length(key, &text, shown)?;
        Ok(text)
    }

    /// The operations of one change to a section, and the notes they call for.
    fn change_section(
        &self,
        site: &Site<'_>,
        user: &str,
        change: &Change,
        ops: &mut Vec<Op>,
        appended: &mut Vec<String>,
        notes: &mut Vec<EditNote>,
    ) -> Result<(), EditError> {
        let group = change.group();
        self.no_append(site, group, user)?;
        let vars = &site.category.variables;
        let own: Vec<&ini::Variable> =
            vars.iter().filter(|v| !v.inherited && group.matches(&v.name)).collect();
        let inherited: Vec<&ini::Variable> =
            vars.iter().filter(|v| v.inherited && group.matches(&v.name)).collect();
        let refuse_inherited = |v: &ini::Variable| EditError::Inherited {
            user: user.to_owned(),
            key: group.key().to_owned(),
            base: self.base_of(v),
            at: Location { file: v.file.clone(), line: v.line },
        };
        match change {
            Change::Single { value: Some(value), shown, .. } => {
                if let Some((last, earlier)) = own.split_last() {
                    let (f, i) = self.position(last)?;
                    let text = self.with_value(f, i, &last.name, value, shown)?;
                    ops.push(Op::Replace { file: f, index: i, text });
                    for v in earlier {
                        let (f, i) = self.position(v)?;
                        self.plain(f, i)?;
                        ops.push(Op::Remove { file: f, start: i, end: i + 1 });
                    }
                } else {
                    if let Some(v) = inherited.last() {
                        notes.push(EditNote::OverridesInherited {
                            user: user.to_owned(),
                            key: group.key(),
                            base: self.base_of(v),
                        });
                    }
                    appended.extend(change.new_lines()?);
                }
            }
            Change::Single { value: None, .. } => {
                if let Some(v) = inherited.first() {
                    return Err(refuse_inherited(v));
                }
                for v in &own {
                    let (f, i) = self.position(v)?;
                    self.plain(f, i)?;
                    ops.push(Op::Remove { file: f, start: i, end: i + 1 });
                }
                if !own.is_empty() {
                    notes.push(EditNote::ReloadKeepsPrevious {
                        user: user.to_owned(),
                        key: group.key(),
                    });
                }
            }
            Change::List { lines, .. } => {
                if let Some(v) = inherited.first() {
                    return Err(refuse_inherited(v));
                }
                let mut first: Option<(usize, usize)> = None;
                for v in &own {
                    let (f, i) = self.position(v)?;
                    self.plain(f, i)?;
                    ops.push(Op::Remove { file: f, start: i, end: i + 1 });
                    first = Some(first.map_or((f, i), |p: (usize, usize)| p.min((f, i))));
                }
                match first {
                    Some((f, i)) if !lines.is_empty() => {
                        ops.push(Op::Insert { file: f, before: i, lines: lines.clone() });
                    }
                    Some(_) => {}
                    None => appended.extend(lines.iter().cloned()),
                }
            }
        }
        Ok(())
    }

    fn position(&self, v: &ini::Variable) -> Result<(usize, usize), EditError> {
        self.var_position(v).ok_or_else(|| EditError::FileNotEditable {
            file: v.file.clone(),
            problem: FileProblem::NotReadAlone,
        })
    }

    /// The state of a user before the edit (kept or deleted by Asterisk).
    fn state(&self, name: &str) -> Option<UserState> {
        let config = &self.editor.loaded.config;
        let key = |u: &&crate::config::User| u.name.eq_ignore_ascii_case(name);
        config
            .users
            .iter()
            .find(key)
            .map(|u| UserState::of(u, false))
            .or_else(|| config.deleted_users.iter().find(key).map(|u| UserState::of(u, true)))
    }

    /// Refuses a name that cannot be a new user's (`except`: the section being renamed).
    fn check_new_name(&self, name: &str, except: Option<&Category>) -> Result<(), EditError> {
        let problem = if name.is_empty() {
            Some(NameProblem::Empty)
        } else if name.len() > MAX_CATEGORY_NAME_BYTES {
            Some(NameProblem::TooLong)
        } else if name.eq_ignore_ascii_case("general") {
            Some(NameProblem::General)
        } else {
            name.chars()
                .find(|&c| !settings::name_character(c))
                .map(|character| NameProblem::Character { character })
        };
        if let Some(problem) = problem {
            return Err(EditError::InvalidName { name: name.to_owned(), problem });
        }
        let taken = self.categories().iter().find(|c| {
            c.name.eq_ignore_ascii_case(name) && except.is_none_or(|e| !std::ptr::eq(*c, e))
        });
        if let Some(c) = taken {
            return Err(EditError::NameTaken {
                name: name.to_owned(),
                at: Location { file: c.file.clone(), line: c.line },
            });
        }
        Ok(())
    }

    /// Refuses to rename or remove a section others inherit from.
    fn no_heirs(&self, name: &str) -> Result<(), EditError> {
        if let Some(heir) = self
            .categories()
            .iter()
            .find(|c| c.inherits.iter().any(|b| b.eq_ignore_ascii_case(name)))
        {
            return Err(EditError::InheritedBy {
                user: name.to_owned(),
                heir: heir.name.clone(),
                at: Location { file: heir.file.clone(), line: heir.line },
            });
        }
        Ok(())
    }

    fn general(&self) -> &crate::config::GeneralSettings {
        &self.editor.loaded.config.general
    }

    fn named(&self) -> &crate::acl::NamedAcls {
        &self.editor.options.named_acls
    }

    fn add(&self, name: &str, s: &UserSettings) -> Result<Plan, EditError> {
        self.check_new_name(name, None)?;
        let changes = settings::prepare(s, self.named(), true)?;
        let mut state = UserState::new(name, self.general());
        state.apply(s, self.general(), self.named());
        let top = 0;
        let len = self.sources().first().map_or(0, |s| s.doc.len());
        self.insertable(top, len)?;
        let mut lines = Vec::new();
        if !self.sources().first().is_none_or(|s| s.doc.ends_with_blank_line()) {
            lines.push(String::new());
        }
        lines.push(format!("[{name}]"));
        for change in &changes {
            lines.extend(change.new_lines()?);
        }
        Ok(Plan {
            ops: vec![Op::Insert { file: top, before: len, lines }],
            expect: Expect::User { old: None, new: Some(state), name: name.to_owned() },
            notes: Vec::new(),
        })
    }

    fn update(&self, name: &str, s: &UserSettings) -> Result<Plan, EditError> {
        if name.eq_ignore_ascii_case("general") {
            return Err(EditError::InvalidName {
                name: name.to_owned(),
                problem: NameProblem::General,
            });
        }
        let site = self.site(name)?;
        let before =
            self.state(name).ok_or_else(|| EditError::UnknownUser { name: name.to_owned() })?;
        let user = before.name.clone();
        let changes = settings::prepare(s, self.named(), false)?;
        let mut ops = Vec::new();
        let mut appended = Vec::new();
        let mut notes = Vec::new();
        for change in &changes {
            self.change_section(&site, &user, change, &mut ops, &mut appended, &mut notes)?;
        }
        if !appended.is_empty() {
            let at = self.insertion_point(&site);
            self.insertable(site.file, at)?;
            ops.push(Op::Insert { file: site.file, before: at, lines: appended });
        }
        if !ops.is_empty() && !before.deleted {
            notes.insert(0, EditNote::SessionsKeepRights { user: user.clone() });
        }
        let mut after = before;
        after.apply(s, self.general(), self.named());
        Ok(Plan {
            ops,
            expect: Expect::User {
                old: Some(user.to_ascii_lowercase()),
                new: Some(after),
                name: user,
            },
            notes,
        })
    }

    fn rename(&self, from: &str, to: &str) -> Result<Plan, EditError> {
        if from.eq_ignore_ascii_case("general") {
            return Err(EditError::InvalidName {
                name: from.to_owned(),
                problem: NameProblem::General,
            });
        }
        let site = self.site(from)?;
        self.check_new_name(to, Some(site.category))?;
        self.no_heirs(from)?;
        let before =
            self.state(from).ok_or_else(|| EditError::UnknownUser { name: from.to_owned() })?;
        self.plain(site.file, site.header)?;
        let raw = self.raw(site.file, site.header);
        let Some((start, end)) = header_name_range(raw, geometry(raw)) else {
            return Err(EditError::LineNotEditable {
                at: self.location(site.file, site.header),
                problem: LineProblem::Escaped,
            });
        };
        let text = format!(
            "{}{to}{}",
            raw.get(..start).unwrap_or_default(),
            raw.get(end..).unwrap_or_default()
        );
        let old = before.name.clone();
        let mut after = before;
        after.name = to.to_owned();
        let notes = if after.deleted {
            Vec::new()
        } else {
            vec![EditNote::SessionsKeepRights { user: old.clone() }]
        };
        Ok(Plan {
            ops: vec![Op::Replace { file: site.file, index: site.header, text }],
            expect: Expect::User {
                old: Some(old.to_ascii_lowercase()),
                new: Some(after),
                name: to.to_owned(),
            },
            notes,
        })
    }

    fn remove(&self, name: &str) -> Result<Plan, EditError> {
        if name.eq_ignore_ascii_case("general") {
            return Err(EditError::InvalidName {
                name: name.to_owned(),
                problem: NameProblem::General,
            });
        }
        let before =
            self.state(name).ok_or_else(|| EditError::UnknownUser { name: name.to_owned() })?;
        self.no_heirs(name)?;
        let mut ops = Vec::new();
        for (file, header) in self.sections(name) {
            self.editable(file)?;
            let scan = self.scan(file);
            let mut end = self.section_end(file, header);
            if end < scan.len() {
                while end > header + 1 && scan.get(end - 1).is_some_and(|l| l.comment_only) {
                    end -= 1;
                }
            }
            let mut start = header;
            while start > 0 && scan.get(start - 1).is_some_and(|l| l.comment_only) {
                start -= 1;
            }
            if end == scan.len() {
                // The last section: the blank lines that separated it go too.
                while start > 0 && scan.get(start - 1).is_some_and(|l| l.blank) {
                    start -= 1;
                }
            }
            if let Some(i) = (header + 1..end)
                .find(|&i| scan.get(i).is_some_and(|l| l.kind == LineKind::Directive))
            {
                return Err(EditError::SectionHasDirective {
                    user: before.name.clone(),
                    at: self.location(file, i),
                });
            }
            // The lines around the span must be read the same way without it.
            let open_before = start == 0 || scan.get(start - 1).is_some_and(|l| l.ends_open);
            if !open_before || !scan.get(end - 1).is_some_and(|l| l.ends_open) {
                let at = if open_before { end - 1 } else { start };
                return Err(EditError::LineNotEditable {
                    at: self.location(file, at),
                    problem: LineProblem::BlockComment,
                });
            }
            ops.push(Op::Remove { file, start, end });
        }
        let notes = if before.deleted {
            Vec::new()
        } else {
            vec![EditNote::SessionsKeepRights { user: before.name.clone() }]
        };
        Ok(Plan {
            ops,
            expect: Expect::User {
                old: Some(before.name.to_ascii_lowercase()),
                new: None,
                name: before.name,
            },
            notes,
        })
    }

    fn enabled(&self, enabled: bool) -> Result<Plan, EditError> {
        let value = if enabled { "yes" } else { "no" };
        let general = self
            .categories()
            .iter()
            .find(|c| !c.template && c.name.eq_ignore_ascii_case("general"));
        let mut ops = Vec::new();
        match general {
            Some(category) => {
                let file = self.file_index(&category.file).ok_or(EditError::FileNotEditable {
                    file: category.file.clone(),
                    problem: FileProblem::NotReadAlone,
                })?;
                let header = (category.line as usize).saturating_sub(1);
                let site = Site { category, file, header, end: self.section_end(file, header) };
                let own: Vec<&ini::Variable> = category
                    .variables
                    .iter()
                    .filter(|v| !v.inherited && v.name.eq_ignore_ascii_case("enabled"))
                    .collect();
                let scan = self.scan(file);
                for i in header + 1..site.end {
                    if let Some(ScannedLine {
                        kind: LineKind::Variable { name, append: true }, ..
                    }) = scan.get(i)
                        && name.eq_ignore_ascii_case("enabled")
                    {
                        return Err(EditError::AppendedValue {
                            user: "general".to_owned(),
                            key: "enabled".to_owned(),
                            at: self.location(file, i),
                        });
                    }
                }
                match own.split_last() {
                    Some((last, earlier)) => {
                        let (f, i) = self.position(last)?;
                        let text = self.with_value(f, i, &last.name, value, value)?;
                        ops.push(Op::Replace { file: f, index: i, text });
                        for v in earlier {
                            let (f, i) = self.position(v)?;
                            self.plain(f, i)?;
                            ops.push(Op::Remove { file: f, start: i, end: i + 1 });
                        }
                    }
                    None => {
                        let at = self.insertion_point(&site);
                        self.insertable(file, at)?;
                        let line = variable_line("enabled", value, value)?;
                        ops.push(Op::Insert { file, before: at, lines: vec![line] });
                    }
                }
            }
            None => {
                let scan = self.scan(0);
                let first = scan.iter().position(|l| l.kind != LineKind::Trivia);
                let mut lines = vec!["[general]".to_owned(), format!("enabled = {value}")];
                let at = match first {
                    Some(mut at) => {
                        while at > 0 && scan.get(at - 1).is_some_and(|l| l.comment_only) {
                            at -= 1;
                        }
                        lines.push(String::new());
                        at
                    }
                    None => {
                        if !self.sources().first().is_none_or(|s| s.doc.ends_with_blank_line()) {
                            lines.insert(0, String::new());
                        }
                        scan.len()
                    }
                };
                self.insertable(0, at)?;
                ops.push(Op::Insert { file: 0, before: at, lines });
            }
        }
        Ok(Plan { ops, expect: Expect::Enabled(enabled), notes: Vec::new() })
    }
}
