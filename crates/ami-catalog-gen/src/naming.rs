//! Identifiers for AMI names, shared by every emitter so that a field is called the same in
//! Rust, Python and (later) TypeScript.
//!
//! * Type names keep Asterisk's spelling (`Hangup`, `DTMFBegin`, `CEL`); characters that cannot
//!   appear in an identifier are dropped (`AOC-D` → `AOCD`).
//! * Member names are snake_case ([`snake`]): `CallerIDNum` → `caller_id_num`,
//!   `Cause-txt` → `cause_txt`, `DAHDIChannel` → `dahdi_channel`. Headers that differ only in
//!   case are one header in AMI, so [`MemberNames`] gives them one name across the catalog
//!   (`AccountCode` and `Accountcode` are both `account_code`).
//! * A name that is a keyword of a target language, or the name of a member the generated type
//!   has itself (`message`, `get`), takes a trailing `_` in that language only ([`escape`]).

use std::collections::BTreeMap;

/// A type name for an action or event: Asterisk's spelling without the characters that cannot
/// be in an identifier.
pub fn type_name(name: &str) -> String {
    let mut out: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'N');
    }
    out
}

/// snake_case of an AMI header name: words split at lower→upper and digit→upper changes and
/// before the last capital of an acronym of two or more capitals (`DAHDIChannel` →
/// `dahdi_channel`); non-alphanumerics separate words; an indexed name's `{}` is dropped.
pub fn snake(name: &str) -> String {
    let name = name.replace("{:06}", "").replace("{}", "");
    let chars: Vec<char> = name.chars().collect();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut upper_run = 0usize;
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            upper_run = 0;
            continue;
        }
        let prev = i.checked_sub(1).and_then(|p| chars.get(p)).copied();
        let next = chars.get(i + 1).copied();
        let split = c.is_ascii_uppercase()
            && match prev {
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_ascii_uppercase() => {
                    upper_run >= 2 && next.is_some_and(|n| n.is_ascii_lowercase())
                }
                _ => false,
            };
        if split && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        upper_run = if c.is_ascii_uppercase() { upper_run + 1 } else { 0 };
        if split {
            upper_run = 1;
        }
        word.push(c.to_ascii_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    let mut out = words.join("_");
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "field_");
    }
    out
}

/// One snake_case name per header, whatever its case: the spelling used most often in the
/// catalog decides (ties: the first in byte order).
#[derive(Debug, Default)]
pub struct MemberNames {
    chosen: BTreeMap<String, String>,
}

impl MemberNames {
    /// Chooses the names of every header in `headers` (with repetitions: each use counts).
    pub fn new<'a>(headers: impl IntoIterator<Item = &'a str>) -> MemberNames {
        let mut counts: BTreeMap<String, BTreeMap<&'a str, usize>> = BTreeMap::new();
        for h in headers {
            *counts.entry(h.to_ascii_lowercase()).or_default().entry(h).or_default() += 1;
        }
        let chosen = counts
            .into_iter()
            .map(|(lower, spellings)| {
                let mut best: Option<(&str, usize)> = None;
                for (s, n) in spellings {
                    if best.is_none_or(|(_, m)| n > m) {
                        best = Some((s, n));
                    }
                }
                (lower, snake(best.map_or("", |(s, _)| s)))
            })
            .collect();
        MemberNames { chosen }
    }

    /// The snake_case name of `header`.
    pub fn of(&self, header: &str) -> String {
        self.chosen.get(&header.to_ascii_lowercase()).cloned().unwrap_or_else(|| snake(header))
    }
}

/// `name`, or `name_` if it is in `reserved` (a language's keywords and the generated type's
/// own members).
pub fn escape(name: String, reserved: &[&str]) -> String {
    if reserved.contains(&name.as_str()) { name + "_" } else { name }
}

/// Rust's strict and reserved keywords (edition 2024).
pub const RUST_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Python's keywords and soft keywords.
pub const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "case", "class",
    "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if",
    "import", "in", "is", "lambda", "match", "nonlocal", "not", "or", "pass", "raise", "return",
    "try", "type", "while", "with", "yield",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_of_asterisk_names() {
        for (name, snake_name) in [
            ("Channel", "channel"),
            ("CallerIDNum", "caller_id_num"),
            ("Cause-txt", "cause_txt"),
            ("DAHDIChannel", "dahdi_channel"),
            ("SentNTP", "sent_ntp"),
            ("Channel1", "channel1"),
            ("T38UdptlEc", "t38_udptl_ec"),
            ("100rel", "field_100rel"),
            ("Uniqueid", "uniqueid"),
            ("UniqueID", "unique_id"),
            ("CallerIDdnid", "caller_iddnid"),
            ("Report{}IAJitter", "report_ia_jitter"),
            ("Action-{:06}", "action"),
            ("UnitAmount({})", "unit_amount"),
            ("CID-CallingPres", "cid_calling_pres"),
            ("AOCBillingId", "aoc_billing_id"),
            ("Content-Type", "content_type"),
            ("PT", "pt"),
        ] {
            assert_eq!(snake(name), snake_name, "{name}");
        }
    }

    #[test]
    fn one_name_per_header_whatever_its_case() {
        let names = MemberNames::new(["AccountCode", "Accountcode", "AccountCode", "Uniqueid"]);
        assert_eq!(names.of("Accountcode"), "account_code");
        assert_eq!(names.of("ACCOUNTCODE"), "account_code");
        assert_eq!(names.of("Uniqueid"), "uniqueid");
        assert_eq!(names.of("Unknown-Header"), "unknown_header");
    }

    #[test]
    fn type_names_and_escapes() {
        assert_eq!(type_name("AOC-D"), "AOCD");
        assert_eq!(type_name("Hangup"), "Hangup");
        assert_eq!(escape("type".into(), RUST_KEYWORDS), "type_");
        assert_eq!(escape("from".into(), PYTHON_KEYWORDS), "from_");
        assert_eq!(escape("from".into(), RUST_KEYWORDS), "from");
    }
}
