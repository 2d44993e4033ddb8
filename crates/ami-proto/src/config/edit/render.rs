//! Writing names and values so that the loader reads back exactly what was meant.
//!
//! A value is written after `name = ` with every `;` escaped as `\;` (the loader removes the
//! backslash; escaping every `;` also defuses `;--` and `--;`). What the ini syntax cannot carry
//! is refused: line breaks and other control characters, leading or trailing blanks (the
//! loader strips them), and lines longer than the loader reads.

use super::{EditError, ValueProblem};
use crate::config::ini::MAX_LINE_BYTES;

/// Asterisk's blank: a character below `!`.
pub(crate) fn is_blank(c: char) -> bool {
    (c as u32) < 33
}

/// Why `text` cannot be a value (or a key) as written, if it cannot.
pub(crate) fn value_problem(text: &str) -> Option<ValueProblem> {
    if let Some(c) = text.chars().find(|&c| c.is_control()) {
        return Some(ValueProblem::ControlCharacter { code: c as u32 });
    }
    if text.starts_with(is_blank) || text.ends_with(is_blank) {
        return Some(ValueProblem::SurroundingBlanks);
    }
    None
}

/// `text` with every `;` escaped.
pub(crate) fn escape(text: &str) -> String {
    text.replace(';', "\\;")
}

/// `key = value`, checked: `shown` is the value as error messages may show it.
pub(crate) fn variable_line(key: &str, value: &str, shown: &str) -> Result<String, EditError> {
    check_value(key, value, shown)?;
    let line = if value.is_empty() {
        format!("{} =", escape(key))
    } else {
        format!("{} = {}", escape(key), escape(value))
    };
    check_length(key, &line, shown)?;
    Ok(line)
}

/// Refuses a value the ini syntax cannot carry.
pub(crate) fn check_value(key: &str, value: &str, shown: &str) -> Result<(), EditError> {
    match value_problem(value) {
        Some(problem) => {
            Err(EditError::InvalidValue { key: key.to_owned(), value: shown.to_owned(), problem })
        }
        None => Ok(()),
    }
}

/// Refuses a line longer than the loader reads (a CRLF ending counts one byte more).
pub(crate) fn check_length(key: &str, line: &str, shown: &str) -> Result<(), EditError> {
    if line.len() + 1 > MAX_LINE_BYTES {
        return Err(EditError::InvalidValue {
            key: key.to_owned(),
            value: shown.to_owned(),
            problem: ValueProblem::TooLong { max: MAX_LINE_BYTES - 1 },
        });
    }
    Ok(())
}

/// The raw line with its value bytes `start..end` replaced by `value` (escaped), keeping the
/// text around it; a blank is added where the new value would otherwise merge with its
/// surroundings (`=` followed by `>` reads as `=>`, `\` followed by `;` escapes it).
pub(crate) fn splice_value(raw: &str, start: usize, end: usize, value: &str) -> String {
    let before = raw.get(..start).unwrap_or_default();
    let after = raw.get(end..).unwrap_or_default();
    let escaped = escape(value);
    let mut out = String::with_capacity(raw.len() + escaped.len() + 2);
    out.push_str(before);
    if !escaped.is_empty() {
        // Right after the operator: `=>` must not be formed, and `key =` gets `key = value`.
        let operator = if before.ends_with("=>") {
            Some(before.len() - 2)
        } else if before.ends_with('=') {
            Some(before.len() - 1)
        } else {
            None
        };
        if let Some(op) = operator {
            let spaced = before.get(..op).is_some_and(|b| b.ends_with(is_blank));
            let arrow = before.ends_with('=') && escaped.starts_with('>');
            if spaced || arrow {
                out.push(' ');
            }
        }
    }
    out.push_str(&escaped);
    if escaped.ends_with('\\') && after.starts_with(';') {
        out.push(' ');
    }
    out.push_str(after);
    out
}

/// Characters allowed in a new user name besides ASCII letters and digits.
pub(crate) const NAME_PUNCTUATION: &str = "-_.@+";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_checked() {
        assert_eq!(variable_line("secret", "a;b", "***").unwrap(), "secret = a\\;b");
        assert_eq!(variable_line("write", "", "").unwrap(), "write =");
        assert!(matches!(
            variable_line("secret", " x", "***"),
            Err(EditError::InvalidValue { problem: ValueProblem::SurroundingBlanks, .. })
        ));
        assert!(matches!(
            variable_line("secret", "a\nb", "***"),
            Err(EditError::InvalidValue {
                problem: ValueProblem::ControlCharacter { code: 10 },
                ..
            })
        ));
        let long = "x".repeat(MAX_LINE_BYTES);
        assert!(matches!(
            variable_line("setvar", &long, "…"),
            Err(EditError::InvalidValue { problem: ValueProblem::TooLong { .. }, .. })
        ));
    }

    #[test]
    fn splicing_keeps_the_surroundings() {
        assert_eq!(splice_value("secret = old ; c", 9, 12, "new"), "secret = new ; c");
        assert_eq!(splice_value("secret=old", 7, 10, "new"), "secret=new");
        assert_eq!(splice_value("write =", 7, 7, "call"), "write = call");
        assert_eq!(splice_value("x=>a", 3, 4, "b"), "x=>b");
        assert_eq!(splice_value("x=a", 2, 3, ">b"), "x= >b");
        assert_eq!(splice_value("x = a;c", 4, 5, "b\\"), "x = b\\ ;c");
    }
}
