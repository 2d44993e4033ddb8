//! One configuration file as lines that remember where they came from, so that rendering an
//! unedited document gives back the original bytes and the edits can be listed as changes.

use std::fmt;

/// How a line ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineEnding {
    /// `\n`.
    #[default]
    Lf,
    /// `\r\n`.
    CrLf,
    /// Nothing: the last line of a file without a final line break.
    None,
}

impl LineEnding {
    /// The bytes of the ending.
    pub fn as_str(self) -> &'static str {
        match self {
            LineEnding::Lf => "\n",
            LineEnding::CrLf => "\r\n",
            LineEnding::None => "",
        }
    }
}

/// One physical line.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Line {
    /// The text, without the ending.
    text: String,
    /// Its ending.
    ending: LineEnding,
    /// Its 1-based number in the original file, `None` for an inserted line.
    origin: Option<u32>,
}

/// A file as lines; `render` of an unedited document is the original text, byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Document {
    lines: Vec<Line>,
    /// The original lines (text and ending), for [`Document::changes`].
    original: Vec<(String, LineEnding)>,
    /// The ending of inserted lines without a neighbour: the first line's.
    style: LineEnding,
}

impl Document {
    /// Splits `text` exactly as the loader does (at `\n`; a `\r` before it is part of a CRLF
    /// ending).
    pub(crate) fn new(text: &str) -> Document {
        let mut lines = Vec::new();
        let mut rest = text;
        let mut number: u32 = 0;
        while !rest.is_empty() {
            number = number.saturating_add(1);
            let (piece, ending, next) = match rest.find('\n') {
                Some(i) => {
                    let piece = rest.get(..i).unwrap_or_default();
                    let next = rest.get(i + 1..).unwrap_or_default();
                    match piece.strip_suffix('\r') {
                        Some(p) => (p, LineEnding::CrLf, next),
                        None => (piece, LineEnding::Lf, next),
                    }
                }
                None => (rest, LineEnding::None, ""),
            };
            lines.push(Line { text: piece.to_owned(), ending, origin: Some(number) });
            rest = next;
        }
        let style = match lines.first().map(|l| l.ending) {
            Some(LineEnding::CrLf) => LineEnding::CrLf,
            _ => LineEnding::Lf,
        };
        let original = lines.iter().map(|l| (l.text.clone(), l.ending)).collect();
        Document { lines, original, style }
    }

    /// The number of lines.
    pub(crate) fn len(&self) -> usize {
        self.lines.len()
    }

    /// The text of line `index` (0-based), without its ending.
    pub(crate) fn text(&self, index: usize) -> Option<&str> {
        self.lines.get(index).map(|l| l.text.as_str())
    }

    /// Whether the last line is blank (or the document is empty).
    pub(crate) fn ends_with_blank_line(&self) -> bool {
        self.lines.last().is_none_or(|l| l.text.trim_matches(super::render::is_blank).is_empty())
    }

    /// The whole text.
    pub(crate) fn render(&self) -> String {
        let mut out = String::with_capacity(self.lines.iter().map(|l| l.text.len() + 2).sum());
        for l in &self.lines {
            out.push_str(&l.text);
            out.push_str(l.ending.as_str());
        }
        out
    }

    /// Replaces the text of line `index`, keeping its ending.
    pub(crate) fn replace(&mut self, index: usize, text: String) {
        if let Some(line) = self.lines.get_mut(index) {
            line.text = text;
        }
    }

    /// Removes the lines `range` (0-based, end exclusive). If the removed lines included the
    /// last one, the new last line keeps the file's "no final line break" style.
    pub(crate) fn remove(&mut self, start: usize, end: usize) {
        let end = end.min(self.lines.len());
        if start >= end {
            return;
        }
        let last_ending = self.lines.get(end - 1).map(|l| l.ending);
        let was_last = end == self.lines.len();
        self.lines.drain(start..end);
        if was_last
            && last_ending == Some(LineEnding::None)
            && let Some(l) = self.lines.last_mut()
        {
            l.ending = LineEnding::None;
        }
    }

    /// Inserts `texts` as new lines before line `index` (`len()` appends). Inserted lines end
    /// like the line before them (else the line after, else the file's first line); appending
    /// after a last line without a line break gives that line one and leaves the new last line
    /// without one.
    pub(crate) fn insert(&mut self, index: usize, texts: Vec<String>) {
        if texts.is_empty() {
            return;
        }
        let index = index.min(self.lines.len());
        // New lines end like their neighbours: the line before, else the line after, else
        // the file's first line.
        let neighbour = |l: Option<&Line>| l.map(|l| l.ending).filter(|e| *e != LineEnding::None);
        let ending = index
            .checked_sub(1)
            .and_then(|i| neighbour(self.lines.get(i)))
            .or_else(|| neighbour(self.lines.get(index)))
            .unwrap_or(self.style);
        let mut tail_none = false;
        if index == self.lines.len()
            && let Some(last) = self.lines.last_mut()
            && last.ending == LineEnding::None
        {
            last.ending = ending;
            tail_none = true;
        }
        let count = texts.len();
        let new = texts.into_iter().enumerate().map(|(i, text)| Line {
            text,
            ending: if tail_none && i + 1 == count { LineEnding::None } else { ending },
            origin: None,
        });
        self.lines.splice(index..index, new);
    }

    /// What differs from the original text, in order: removed original lines, replaced ones
    /// and inserted ones. Lines that are neither listed nor moved are byte-identical to the
    /// original.
    pub(crate) fn changes(&self) -> Vec<LineChange> {
        let mut out = Vec::new();
        let mut next_original: u32 = 1;
        for (index, line) in self.lines.iter().enumerate() {
            let new_line = u32::try_from(index + 1).unwrap_or(u32::MAX);
            match line.origin {
                Some(origin) => {
                    while next_original < origin {
                        out.push(self.removed(next_original));
                        next_original += 1;
                    }
                    next_original = origin.saturating_add(1);
                    let same = self
                        .original
                        .get((origin as usize).saturating_sub(1))
                        .is_some_and(|(t, e)| *t == line.text && *e == line.ending);
                    if !same {
                        let (old, old_ending) = self
                            .original
                            .get((origin as usize).saturating_sub(1))
                            .cloned()
                            .unwrap_or_default();
                        out.push(LineChange {
                            old_line: Some(origin),
                            new_line: Some(new_line),
                            old: Some(old),
                            new: Some(line.text.clone()),
                            ending_changed: old_ending != line.ending,
                        });
                    }
                }
                None => out.push(LineChange {
                    old_line: None,
                    new_line: Some(new_line),
                    old: None,
                    new: Some(line.text.clone()),
                    ending_changed: false,
                }),
            }
        }
        while (next_original as usize) <= self.original.len() {
            out.push(self.removed(next_original));
            next_original += 1;
        }
        out
    }

    fn removed(&self, origin: u32) -> LineChange {
        LineChange {
            old_line: Some(origin),
            new_line: None,
            old: self.original.get((origin as usize).saturating_sub(1)).map(|(t, _)| t.clone()),
            new: None,
            ending_changed: false,
        }
    }

    /// The original text of the file.
    pub(crate) fn original_text(&self) -> String {
        let mut out = String::new();
        for (t, e) in &self.original {
            out.push_str(t);
            out.push_str(e.as_str());
        }
        out
    }
}

/// One changed line of a file, relative to the text the editor started from.
///
/// A replaced line has both numbers and both texts; a removed line only the old ones; an
/// inserted line only the new ones. Texts are without their line endings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineChange {
    /// The line number in the original file.
    pub old_line: Option<u32>,
    /// The line number in the edited file.
    pub new_line: Option<u32>,
    /// The original text.
    pub old: Option<String>,
    /// The new text.
    pub new: Option<String>,
    /// Only the line ending changed (a line break added to the former last line).
    pub ending_changed: bool,
}

impl fmt::Display for LineChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(old) = &self.old {
            writeln!(f, "-{old}")?;
        }
        if let Some(new) = &self.new {
            writeln!(f, "+{new}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendering_an_unedited_document_gives_the_original_bytes() {
        for text in ["", "\n", "a", "a\n", "a\r\nb\n", "a\n\nb", "x\r\n\r\n", "\r", "a\rb\n"] {
            let d = Document::new(text);
            assert_eq!(d.render(), text, "{text:?}");
            assert_eq!(d.original_text(), text);
            assert!(d.changes().is_empty());
        }
    }

    #[test]
    fn inserted_lines_follow_the_file_style_and_final_line_break() {
        let mut d = Document::new("a\r\nb");
        d.insert(2, vec!["c".into()]);
        assert_eq!(d.render(), "a\r\nb\r\nc");
        let changes = d.changes();
        assert_eq!(changes.len(), 2);
        assert!(changes[0].ending_changed && changes[0].old_line == Some(2));
        assert_eq!(changes[1].new.as_deref(), Some("c"));
        let mut d = Document::new("a\n");
        d.insert(0, vec!["z".into(), "y".into()]);
        assert_eq!(d.render(), "z\ny\na\n");
    }

    #[test]
    fn removal_and_replacement_are_listed() {
        let mut d = Document::new("1\n2\n3\n4");
        d.replace(1, "two".into());
        d.remove(2, 4);
        assert_eq!(d.render(), "1\ntwo");
        let c = d.changes();
        assert_eq!(c.len(), 3);
        assert_eq!((c[0].old.as_deref(), c[0].new.as_deref()), (Some("2"), Some("two")));
        assert_eq!((c[1].old_line, c[1].new_line), (Some(3), None));
        assert_eq!((c[2].old_line, c[2].new_line), (Some(4), None));
    }
}
