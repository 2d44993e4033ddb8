//! What an edit changed, as a unified diff, with secrets hidden.

use ami_proto::config::edit::LineChange;

/// Lines of context around each hunk.
const CONTEXT: usize = 3;

/// What a `secret` value is shown as.
pub const HIDDEN: &str = "<hidden>";

/// `line` with the value of a `secret = …` line (any case, `=>` too) replaced by [`HIDDEN`].
pub fn redact(line: &str) -> String {
    let body = line.trim_start();
    let is_secret = body.get(..6).is_some_and(|k| k.eq_ignore_ascii_case("secret"))
        && body.get(6..).is_some_and(|rest| rest.trim_start().starts_with('='));
    match (is_secret, line.find('=')) {
        (true, Some(eq)) => format!("{}= {HIDDEN}", &line[..eq]),
        _ => line.to_owned(),
    }
}

/// One line of the diff.
enum Row<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// A unified diff of `old` → `new` (texts), given the editor's list of changed lines; secret
/// values are hidden. Empty when nothing changed.
pub fn unified(name: &str, old: &str, new: &str, changes: &[LineChange]) -> String {
    if changes.is_empty() {
        return String::new();
    }
    let lines = |t: &str| -> Vec<String> {
        t.split_terminator('\n').map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned()).collect()
    };
    let (old_lines, new_lines) = (lines(old), lines(new));
    let (old_open, new_open) = (!old.ends_with('\n'), !new.ends_with('\n'));
    let old_touched: Vec<u32> = changes.iter().filter_map(|c| c.old_line).collect();
    let new_touched: Vec<u32> = changes.iter().filter_map(|c| c.new_line).collect();
    // Lines the editor did not touch are the same, in the same order: walk both files.
    let mut rows: Vec<(usize, usize, Row<'_>)> = Vec::new();
    let (mut i, mut j) = (0usize, 0usize);
    while i < old_lines.len() || j < new_lines.len() {
        let old_hit = i < old_lines.len() && old_touched.contains(&(i as u32 + 1));
        let new_hit = j < new_lines.len() && new_touched.contains(&(j as u32 + 1));
        if old_hit {
            rows.push((i, j, Row::Removed(&old_lines[i])));
            i += 1;
        } else if new_hit || i >= old_lines.len() {
            rows.push((i, j, Row::Added(&new_lines[j.min(new_lines.len() - 1)])));
            j += 1;
        } else {
            rows.push((i, j, Row::Same(&old_lines[i])));
            i += 1;
            j += 1;
        }
    }
    let mut out = format!("--- {name}\n+++ {name}\n");
    let changed: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| !matches!(r.2, Row::Same(_)))
        .map(|(k, _)| k)
        .collect();
    let mut k = 0;
    while k < changed.len() {
        let first = changed[k];
        let mut last = first;
        while k + 1 < changed.len() && changed[k + 1] <= last + 2 * CONTEXT + 1 {
            k += 1;
            last = changed[k];
        }
        k += 1;
        let start = first.saturating_sub(CONTEXT);
        let end = (last + CONTEXT + 1).min(rows.len());
        let hunk = &rows[start..end];
        let old_count = hunk.iter().filter(|r| !matches!(r.2, Row::Added(_))).count();
        let new_count = hunk.iter().filter(|r| !matches!(r.2, Row::Removed(_))).count();
        let (old_start, new_start) = (hunk[0].0, hunk[0].1);
        let at = |start: usize, count: usize| if count == 0 { start } else { start + 1 };
        out.push_str(&format!(
            "@@ -{},{old_count} +{},{new_count} @@\n",
            at(old_start, old_count),
            at(new_start, new_count)
        ));
        for (oi, nj, row) in hunk {
            let (mark, text) = match row {
                Row::Same(t) => (' ', t),
                Row::Removed(t) => ('-', t),
                Row::Added(t) => ('+', t),
            };
            out.push(mark);
            out.push_str(&redact(text));
            out.push('\n');
            // As diff(1) says it: the last line of a file without a final line break.
            let old_last = !matches!(row, Row::Added(_)) && old_open && oi + 1 == old_lines.len();
            let new_last = !matches!(row, Row::Removed(_)) && new_open && nj + 1 == new_lines.len();
            if old_last || new_last {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ami_proto::config::NoIncludes;
    use ami_proto::config::edit::{ConfigEditor, EditOptions, Setting, UserSettings};
    use ami_proto::perm::Privilege;

    #[test]
    fn secrets_are_hidden() {
        assert_eq!(redact("secret = hunter2 ; old"), "secret = <hidden>");
        assert_eq!(redact("  SECRET=>x"), "  SECRET= <hidden>");
        assert_eq!(redact("secretary = kept"), "secretary = kept");
        assert_eq!(redact("read = all"), "read = all");
    }

    #[test]
    fn a_diff_of_an_edit() {
        let text = "[general]\nenabled = yes\n\n[a]\nsecret = old-Secret-123\nread = all\nwrite = all\n\n[b]\nread = call\n";
        let mut e = ConfigEditor::new(text, &mut NoIncludes, EditOptions::default()).unwrap();
        let s = UserSettings {
            secret: Some(Setting::Set("new-Secret-456x".into())),
            read: Some(Privilege::CALL),
            ..UserSettings::default()
        };
        e.update_user("a", &s).unwrap();
        let diff = unified("manager.conf", text, &e.text(), &e.changes("manager.conf"));
        assert_eq!(
            diff,
            "--- manager.conf\n+++ manager.conf\n@@ -2,8 +2,8 @@\n enabled = yes\n \n [a]\n\
             -secret = <hidden>\n-read = all\n+secret = <hidden>\n+read = call\n write = all\n \n [b]\n"
        );
        assert!(!diff.contains("Secret-"));
        assert_eq!(unified("x", text, text, &[]), "");
    }

    #[test]
    fn insertions_at_the_end() {
        let text = "[general]\nenabled = yes";
        let mut e = ConfigEditor::new(text, &mut NoIncludes, EditOptions::default()).unwrap();
        e.add_user("n", &UserSettings::default()).unwrap();
        let diff = unified("m", text, &e.text(), &e.changes("manager.conf"));
        assert_eq!(
            diff,
            "--- m\n+++ m\n@@ -1,2 +1,6 @@\n [general]\n-enabled = yes\n\\ No newline at end of file\n\
             +enabled = yes\n+\n+[n]\n+read = none\n+write = none\n\\ No newline at end of file\n"
        );
    }
}
