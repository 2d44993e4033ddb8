//! What each line of a file is, as the loader reads it: a section header, a `name = value`
//! line, a directive, or nothing (blank, comment). The text each line stands for comes from
//! the loader's own comment removal ([`ini::read_lines`]), so the editor never re-implements
//! Asterisk's comment rules; the byte positions it edits are only used on lines where that
//! text maps one to one onto the raw line ([`Geometry`]).

use crate::config::ini::{self, LineReading, MAX_CATEGORY_NAME_BYTES};

/// What one line is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LineKind {
    /// Nothing is processed: blank, comment, inside a block comment, skipped.
    Trivia,
    /// `[name]` or `[name](options)`.
    Header {
        /// The name as the loader keeps it (cut to 79 bytes).
        name: String,
        /// The option items (`!`, `+`, base names), if there is an option list.
        items: Vec<String>,
    },
    /// `#include`, `#tryinclude`, `#exec` or an unknown directive.
    Directive,
    /// `name = value`, `name => value` or `name += value`.
    Variable {
        /// The name, blank-stripped.
        name: String,
        /// `+=`: appends to an earlier value.
        append: bool,
    },
    /// A line the loader ignores (no `=`, empty name) or refuses (`[` without `]`).
    Ignored,
}

impl LineKind {
    /// A header with the template mark `!`.
    pub(crate) fn is_template_header(&self) -> bool {
        matches!(self, LineKind::Header { items, .. } if items.iter().any(|i| i == "!"))
    }

    /// A header that appends to an earlier section (`(+)`).
    pub(crate) fn is_append_header(&self) -> bool {
        matches!(self, LineKind::Header { items, .. } if items.iter().any(|i| i.starts_with('+')))
    }
}

/// One line of a scanned file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ScannedLine {
    /// What it is.
    pub(crate) kind: LineKind,
    /// See [`LineReading::plain`].
    pub(crate) plain: bool,
    /// See [`LineReading::ends_open`].
    pub(crate) ends_open: bool,
    /// A line holding only a `;` comment (after optional blanks).
    pub(crate) comment_only: bool,
    /// A line of blanks only.
    pub(crate) blank: bool,
}

/// Every line of one file.
pub(crate) fn scan(text: &str) -> Vec<ScannedLine> {
    let readings = ini::read_lines(text);
    ini::physical_lines(text)
        .zip(readings)
        .map(|(raw, reading)| {
            let LineReading { content, plain, ends_open } = reading;
            let rest = raw.trim_start_matches(super::render::is_blank);
            let comment_only = plain && content.is_empty() && rest.starts_with(';');
            let blank = plain && rest.is_empty();
            ScannedLine { kind: classify(&content), plain, ends_open, comment_only, blank }
        })
        .collect()
}

/// `process_line`'s decision on the processed text of a line.
fn classify(content: &str) -> LineKind {
    if content.is_empty() {
        return LineKind::Trivia;
    }
    if let Some(rest) = content.strip_prefix('[') {
        let Some(close) = rest.find(']') else { return LineKind::Ignored };
        let name =
            ini::truncate_bytes(rest.get(..close).unwrap_or_default(), MAX_CATEGORY_NAME_BYTES);
        let after = rest.get(close + 1..).unwrap_or_default();
        let items = match after.strip_prefix('(') {
            Some(options) => match options.find(')') {
                Some(end) => {
                    options.get(..end).unwrap_or_default().split(',').map(str::to_owned).collect()
                }
                None => return LineKind::Ignored,
            },
            None => Vec::new(),
        };
        return LineKind::Header { name: name.to_owned(), items };
    }
    if content.starts_with('#') {
        return LineKind::Directive;
    }
    let (cur, start) = match content.strip_prefix('\\') {
        Some(escaped) => (escaped, 1),
        None => (content, 0),
    };
    let Some(eq) = cur.get(start..).and_then(|s| s.find('=')).map(|i| i + start) else {
        return LineKind::Ignored;
    };
    let append = eq > start && cur.as_bytes().get(eq - 1) == Some(&b'+');
    let name_end = if append { eq - 1 } else { eq };
    let name = ini::strip(cur.get(..name_end).unwrap_or_default());
    if name.is_empty() {
        return LineKind::Ignored;
    }
    LineKind::Variable { name: name.to_owned(), append }
}

/// Where the parts of a raw line are, for a line the loader reads whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    /// End of the code (before the blanks and the `;` comment that follow it).
    pub(crate) code_end: usize,
    /// The code holds no backslash, so the processed text is the raw code, blank-stripped:
    /// positions in one are positions in the other.
    pub(crate) literal: bool,
    /// Start of the code (after leading blanks).
    pub(crate) code_start: usize,
}

/// The geometry of a raw line whose comment handling is plain ([`ScannedLine::plain`]): the
/// comment starts at the first `;` not preceded by a backslash, as in Asterisk's loop.
pub(crate) fn geometry(raw: &str) -> Geometry {
    let bytes = raw.as_bytes();
    let mut comment = bytes.len();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b';' && (i == 0 || bytes.get(i - 1) != Some(&b'\\')) {
            comment = i;
            break;
        }
    }
    let code = raw.get(..comment).unwrap_or_default();
    let code_end = code.trim_end_matches(super::render::is_blank).len();
    // A byte order mark (the first line of a file) stays in front, like indentation.
    let bom = if code.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let body = code.get(bom..).unwrap_or_default();
    let code_start = bom + body.len() - body.trim_start_matches(super::render::is_blank).len();
    let literal = !code.contains('\\');
    Geometry { code_end, literal, code_start: code_start.min(code_end) }
}

/// For a literal variable line: the byte range of its value in the raw line (empty at the
/// end of the code for an empty value).
pub(crate) fn value_range(raw: &str, g: Geometry) -> Option<(usize, usize)> {
    if !g.literal {
        return None;
    }
    let code = raw.get(..g.code_end)?;
    let eq = code.get(g.code_start..)?.find('=')? + g.code_start;
    let mut start = eq + 1;
    if code.as_bytes().get(start) == Some(&b'>') {
        start += 1;
    }
    let rest = code.get(start..)?;
    start += rest.len() - rest.trim_start_matches(super::render::is_blank).len();
    Some((start.min(g.code_end), g.code_end))
}

/// For a literal header line: the byte range of the name between `[` and `]`.
pub(crate) fn header_name_range(raw: &str, g: Geometry) -> Option<(usize, usize)> {
    if !g.literal {
        return None;
    }
    let code = raw.get(..g.code_end)?;
    let open = g.code_start;
    if code.as_bytes().get(open) != Some(&b'[') {
        return None;
    }
    let close = code.get(open + 1..)?.find(']')? + open + 1;
    Some((open + 1, close))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<LineKind> {
        scan(text).into_iter().map(|l| l.kind).collect()
    }

    fn var(name: &str) -> LineKind {
        LineKind::Variable { name: name.into(), append: false }
    }

    #[test]
    fn kinds_follow_the_loader() {
        let text =
            "; c\n\n[a](!,t) ; x\nk = v ; c\nk += w\n#include x\nnoequals\n\\[n = 1\n= 2\n[b\n";
        assert_eq!(
            kinds(text),
            [
                LineKind::Trivia,
                LineKind::Trivia,
                LineKind::Header { name: "a".into(), items: vec!["!".into(), "t".into()] },
                var("k"),
                LineKind::Variable { name: "k".into(), append: true },
                LineKind::Directive,
                LineKind::Ignored,
                var("[n"),
                LineKind::Ignored,
                LineKind::Ignored,
            ]
        );
        let lines = scan(text);
        assert!(lines[0].comment_only && !lines[1].comment_only && !lines[3].comment_only);
    }

    #[test]
    fn block_comments_make_lines_not_plain() {
        let lines = scan("[a]\nx=1;-- open\ny=2\nz=3 --;w=4\nv=5\n");
        let plain: Vec<bool> = lines.iter().map(|l| l.plain).collect();
        assert_eq!(plain, [true, false, false, false, true]);
        let open: Vec<bool> = lines.iter().map(|l| l.ends_open).collect();
        assert_eq!(open, [true, false, false, true, true]);
        assert_eq!(lines[3].kind, var("w"));
        assert_eq!(lines[2].kind, LineKind::Trivia);
    }

    #[test]
    fn value_and_name_ranges() {
        let raw = "  secret =  old  ; note";
        let g = geometry(raw);
        let (s, e) = value_range(raw, g).unwrap();
        assert_eq!(&raw[s..e], "old");
        let raw = "write =";
        let (s, e) = value_range(raw, geometry(raw)).unwrap();
        assert_eq!((s, e), (7, 7));
        let raw = "x=>y";
        let (s, e) = value_range(raw, geometry(raw)).unwrap();
        assert_eq!(&raw[s..e], "y");
        let raw = "secret = a\\;b";
        assert!(value_range(raw, geometry(raw)).is_none());
        let raw = " [bob](tpl) ; the bob";
        let (s, e) = header_name_range(raw, geometry(raw)).unwrap();
        assert_eq!(&raw[s..e], "bob");
        assert_eq!(geometry("a\\;b;c").code_end, 4);
        // A byte order mark stays in front of the header.
        let raw = "\u{feff}[bob]";
        let (s, e) = header_name_range(raw, geometry(raw)).unwrap();
        assert_eq!(&raw[s..e], "bob");
    }
}
