//! Property tests: any sequence of edits on any generated configuration re-loads (with the
//! plain loader, not the editor) to exactly the users the edits describe, changes nothing but
//! the edited section, and a refused edit changes nothing.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::acl::AclList;
use crate::config::{NoIncludes, parse_manager_conf};
use crate::filter::{EventFilter, FilterSet};

/// Names of generated users: some differ only in case.
const NAMES: [&str; 6] = ["alice", "bob", "Carol", "dave", "BOB", "erin"];
const TEMPLATES: [&str; 2] = ["t1", "t2"];
const CLASSES: [Privilege; 6] = [
    Privilege::SYSTEM,
    Privilege::CALL,
    Privilege::CDR,
    Privilege::ORIGINATE,
    Privilege::AGENT,
    Privilege::REPORTING,
];
const NETWORKS: [&str; 4] = ["10.0.0.0/8", "192.0.2.0/24", "::1", "2001:db8::/32"];
const FILTERS: [(&str, &str); 3] = [
    ("eventfilter", "Event: Newchannel"),
    ("eventfilter", "!Event: Hangup"),
    ("eventfilter(action(include),name(DialEnd))", ""),
];

fn privilege() -> impl Strategy<Value = Privilege> {
    prop_oneof![
        Just(Privilege::ALL),
        Just(Privilege::NONE),
        proptest::sample::subsequence(CLASSES.to_vec(), 1..4)
            .prop_map(|v| v.into_iter().fold(Privilege::NONE, |a, b| a | b)),
    ]
}

/// One `key = value` line of a user or template, written in one of several styles.
fn key_line() -> impl Strategy<Value = String> {
    let pair = prop_oneof![
        "[A-Za-z0-9]{10,16}".prop_map(|s| ("secret".to_owned(), s)),
        privilege().prop_map(|p| ("read".to_owned(), p.to_config_list().unwrap_or_default())),
        privilege().prop_map(|p| ("Write".to_owned(), p.to_config_list().unwrap_or_default())),
        Just(("deny".to_owned(), "0.0.0.0/0".to_owned())),
        proptest::sample::select(NETWORKS.to_vec())
            .prop_map(|n| ("permit".to_owned(), n.to_owned())),
        proptest::sample::select(FILTERS.to_vec()).prop_map(|(k, v)| (k.to_owned(), v.to_owned())),
        any::<bool>()
            .prop_map(|b| ("displayconnects".to_owned(), if b { "yes" } else { "no" }.to_owned())),
        (100u32..5000).prop_map(|n| ("writetimeout".to_owned(), n.to_string())),
        "[A-Z]{1,4}".prop_map(|n| ("setvar".to_owned(), format!("{n}=v"))),
        Just(("unknownkey".to_owned(), "kept".to_owned())),
    ];
    let style = prop_oneof![
        Just(("", " = ", "")),
        Just(("", "=", "")),
        Just(("  ", " => ", "")),
        Just(("\t", "\t=\t", "  ; note")),
        Just(("", " = ", " ;comment")),
        Just(("", " = ", " ;-- a block comment\n--;")),
    ];
    (pair, style).prop_map(|((k, v), (indent, op, tail))| format!("{indent}{k}{op}{v}{tail}"))
}

fn filler() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec(
        prop_oneof![
            Just(String::new()),
            Just("; a comment".to_owned()),
            Just(";-- a block\ncomment --;".to_owned()),
            Just("   ".to_owned()),
        ],
        0..2,
    )
}

/// A manager.conf: optional `[general]`, templates, users (some inheriting), comments.
fn config() -> impl Strategy<Value = (String, bool)> {
    let general = proptest::option::of(prop_oneof![
        Just("[general]\nenabled = yes".to_owned()),
        Just("[general]\nenabled=no\nport = 5038".to_owned()),
        Just("[general] ; settings\ndisplayconnects = no".to_owned()),
    ]);
    let template =
        (proptest::sample::select(TEMPLATES.to_vec()), proptest::collection::vec(key_line(), 0..3));
    let user = (
        proptest::sample::select(NAMES.to_vec()),
        proptest::option::of(proptest::sample::select(TEMPLATES.to_vec())),
        proptest::collection::vec(key_line(), 0..5),
        filler(),
    );
    (
        general,
        proptest::collection::vec(template, 0..2),
        proptest::collection::vec(user, 1..5),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(general, templates, users, crlf, final_newline)| {
            let mut lines: Vec<String> = vec!["; manager.conf".to_owned()];
            lines.extend(general);
            let mut defined: Vec<&str> = Vec::new();
            for (name, keys) in templates {
                if defined.contains(&name) {
                    continue;
                }
                defined.push(name);
                lines.push(String::new());
                lines.push(format!("[{name}](!)"));
                lines.extend(keys);
            }
            for (name, base, keys, fill) in users {
                lines.extend(fill);
                match base.filter(|b| defined.contains(b)) {
                    Some(b) => lines.push(format!("[{name}]({b})")),
                    None => lines.push(format!("[{name}]")),
                }
                lines.extend(keys);
            }
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut text = lines.join("\n").replace('\n', eol);
            if final_newline {
                text.push_str(eol);
            }
            (text, crlf)
        })
}

fn settings_strategy() -> impl Strategy<Value = UserSettings> {
    let setting_bool = proptest::option::of(prop_oneof![
        any::<bool>().prop_map(Setting::Set),
        Just(Setting::Unset)
    ]);
    (
        proptest::option::of(prop_oneof![
            "[A-Za-z0-9]{16,24}".prop_map(Setting::Set),
            Just(Setting::Unset),
        ]),
        proptest::option::of(privilege()),
        proptest::option::of(privilege()),
        proptest::option::of(proptest::sample::subsequence(NETWORKS.to_vec(), 0..3)),
        proptest::option::of(proptest::sample::subsequence(FILTERS.to_vec(), 0..3)),
        setting_bool,
        proptest::option::of(prop_oneof![
            (100u32..10_000).prop_map(Setting::Set),
            Just(Setting::Unset)
        ]),
        proptest::option::of(proptest::collection::vec("[A-Z]{1,3}", 0..3)),
    )
        .prop_map(|(secret, read, write, networks, filters, display, timeout, vars)| {
            UserSettings {
                secret,
                read,
                write,
                acl: networks
                    .map(|n| if n.is_empty() { Vec::new() } else { AclRule::only_from(&n) }),
                event_filters: filters
                    .map(|f| f.into_iter().map(|(k, v)| FilterLine::new(k, v)).collect()),
                display_connects: display,
                allow_multiple_login: None,
                write_timeout_ms: timeout,
                setvars: vars.map(|v| {
                    v.into_iter().map(|name| SetVar { name, value: "x".into() }).collect()
                }),
            }
        })
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    let name = proptest::sample::select(NAMES.to_vec()).prop_map(str::to_owned);
    prop_oneof![
        2 => (name.clone(), settings_strategy())
            .prop_map(|(name, settings)| Edit::AddUser { name, settings }),
        5 => (name.clone(), settings_strategy())
            .prop_map(|(name, settings)| Edit::UpdateUser { name, settings }),
        1 => (name.clone(), name.clone()).prop_map(|(from, to)| Edit::RenameUser { from, to }),
        1 => name.prop_map(|name| Edit::RemoveUser { name }),
        1 => any::<bool>().prop_map(Edit::SetEnabled),
    ]
}

/// What the test knows about a user: built from the first load, then changed only by the
/// test's own reading of each accepted edit.
#[derive(Clone, Debug, PartialEq)]
struct Model {
    name: String,
    secret: Option<String>,
    read: Privilege,
    write: Privilege,
    acl: String,
    filters: Vec<String>,
    display_connects: bool,
    write_timeout_ms: u32,
    setvars: Vec<(String, String)>,
}

fn model_of(u: &crate::config::User) -> Model {
    Model {
        name: u.name.clone(),
        secret: u.secret.clone(),
        read: u.read,
        write: u.write,
        acl: u.acl.to_string(),
        filters: u.filters.iter().map(ToString::to_string).collect(),
        display_connects: u.display_connects,
        write_timeout_ms: u.write_timeout_ms,
        setvars: u.setvars.clone(),
    }
}

fn models(config: &ManagerConfig) -> BTreeMap<String, Model> {
    config.users.iter().map(|u| (u.name.to_ascii_lowercase(), model_of(u))).collect()
}

/// The test's own reading of `s` applied to `m`.
fn apply(m: &mut Model, s: &UserSettings, general_display: bool) {
    match &s.secret {
        Some(Setting::Set(v)) => m.secret = Some(v.clone()),
        Some(Setting::Unset) => m.secret = None,
        None => {}
    }
    if let Some(p) = s.read {
        m.read = p;
    }
    if let Some(p) = s.write {
        m.write = p;
    }
    if let Some(rules) = &s.acl {
        let mut acl = AclList::default();
        for r in rules {
            acl.add_line(r.kind.key(), &r.value, &NamedAcls::default()).unwrap();
        }
        m.acl = acl.to_string();
    }
    if let Some(filters) = &s.event_filters {
        let mut set = FilterSet::default();
        for f in filters {
            set.add(EventFilter::parse(&f.key, &f.value).unwrap());
        }
        m.filters = set.iter().map(ToString::to_string).collect();
    }
    match s.display_connects {
        Some(Setting::Set(b)) => m.display_connects = b,
        Some(Setting::Unset) => m.display_connects = general_display,
        None => {}
    }
    match s.write_timeout_ms {
        Some(Setting::Set(ms)) => m.write_timeout_ms = ms,
        Some(Setting::Unset) => m.write_timeout_ms = 100,
        None => {}
    }
    if let Some(vars) = &s.setvars {
        m.setvars = vars.iter().rev().map(|v| (v.name.clone(), v.value.clone())).collect();
    }
}

fn lines(text: &str) -> Vec<&str> {
    text.split_terminator('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect()
}

/// The range of lines of `before` that differ from `after`, by common prefix and suffix
/// (empty at 0 when nothing differs).
fn window(before: &[&str], after: &[&str]) -> (usize, usize) {
    if before == after {
        return (0, 0);
    }
    let prefix = before.iter().zip(after).take_while(|(a, b)| a == b).count();
    let max_suffix = before.len().min(after.len()) - prefix;
    let suffix = before
        .iter()
        .rev()
        .zip(after.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    (prefix, before.len() - suffix)
}

/// The header line indices of section `name` (any case) in `lines`, and the next header after
/// each.
fn spans(lines: &[&str], name: &str) -> Vec<(usize, usize)> {
    let is_header = |l: &str| l.trim_start().starts_with('[');
    let named = |l: &str| {
        let t = l.trim_start();
        t.get(1..=name.len()).is_some_and(|n| n.eq_ignore_ascii_case(name))
            && t.get(name.len() + 1..).is_some_and(|r| r.starts_with(']'))
            && !t.contains("(!)")
    };
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if named(l) {
            let mut start = i;
            while start > 0 && lines[start - 1].trim_start().starts_with(';') {
                start -= 1;
            }
            let end = (i + 1..lines.len()).find(|&j| is_header(lines[j])).unwrap_or(lines.len());
            if end == lines.len() {
                while start > 0 && lines[start - 1].trim().is_empty() {
                    start -= 1;
                }
            }
            out.push((start, end));
        }
    }
    out
}

fn load(text: &str) -> ManagerConfig {
    match parse_manager_conf(text, &mut NoIncludes, &ConfigOptions::default()) {
        Ok(c) => c,
        Err(e) => panic!("the edited text does not load: {e}\n{text}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn edits_reload_to_the_model_and_touch_only_their_section(
        (text, _crlf) in config(),
        edits in proptest::collection::vec((edit_strategy(), proptest::option::of(0usize..8)), 1..7),
    ) {
        let Ok(mut e) = ConfigEditor::new(&text, &mut NoIncludes, EditOptions::default()) else {
            // A generated file Asterisk refuses (a block comment swallowing a header).
            return Ok(());
        };
        prop_assert_eq!(e.text(), text.clone());
        let mut model = models(e.config());
        let mut enabled = e.config().general.enabled;
        for (edit, pick) in &edits {
            // Most edits name an existing user (any case), the others a random name.
            let mut edit = edit.clone();
            let existing: Vec<String> = e.config().users.iter().map(|u| u.name.to_ascii_uppercase()).collect();
            if let (Some(i), false) = (pick, existing.is_empty()) {
                let name = existing[i % existing.len()].clone();
                match &mut edit {
                    Edit::UpdateUser { name: n, .. } | Edit::RemoveUser { name: n } => *n = name,
                    Edit::RenameUser { from, .. } => *from = name,
                    _ => {}
                }
            }
            let edit = &edit;
            let before = e.text();
            let general_display = e.config().general.display_connects;
            match e.apply(edit) {
                Err(err) => {
                    prop_assert_eq!(e.text(), before.clone(), "refused edit changed the text");
                    prop_assert!(
                        !matches!(
                            err,
                            EditError::WouldNotLoad(_)
                                | EditError::NotEffective { .. }
                                | EditError::SideEffect { .. }
                                | EditError::CheckFailed { .. }
                                | EditError::InvalidValue { .. }
                                | EditError::FileNotEditable { .. }
                        ),
                        "unexpected refusal {} of {:?} on\n{}", err, edit, before
                    );
                }
                Ok(report) => {
                    let after = e.text();
                    let (b, a) = (lines(&before), lines(&after));
                    let (start, end) = window(&b, &a);
                    let changed = before != after;
                    match edit {
                        Edit::AddUser { name, settings } => {
                            prop_assert!(start + 1 >= b.len() || b.is_empty(), "add changed line {start}");
                            let mut m = Model {
                                name: name.clone(),
                                secret: None,
                                read: Privilege::NONE,
                                write: Privilege::NONE,
                                acl: AclList::default().to_string(),
                                filters: Vec::new(),
                                display_connects: general_display,
                                write_timeout_ms: 100,
                                setvars: Vec::new(),
                            };
                            apply(&mut m, settings, general_display);
                            model.insert(name.to_ascii_lowercase(), m);
                        }
                        Edit::UpdateUser { name, settings } => {
                            let s = spans(&b, name);
                            prop_assert_eq!(s.len(), 1);
                            prop_assert!(!changed || (start >= s[0].0 && end <= s[0].1),
                                "lines {}..{} changed outside [{}] at {:?}", start, end, name, s);
                            let m = model.get_mut(&name.to_ascii_lowercase()).unwrap();
                            apply(m, settings, general_display);
                        }
                        Edit::RenameUser { from, to } => {
                            let s = spans(&b, from);
                            prop_assert_eq!(s.len(), 1);
                            prop_assert!(!changed || end - start == 1, "rename changed {start}..{end}");
                            let mut m = model.remove(&from.to_ascii_lowercase()).unwrap();
                            m.name = to.clone();
                            model.insert(to.to_ascii_lowercase(), m);
                        }
                        Edit::RemoveUser { name } => {
                            let s = spans(&b, name);
                            if s.len() == 1 {
                                prop_assert!(!changed || (start >= s[0].0 && end <= s[0].1));
                            }
                            model.remove(&name.to_ascii_lowercase());
                        }
                        Edit::SetEnabled(on) => {
                            let s = spans(&b, "general");
                            if let Some(&(h, n)) = s.first() {
                                prop_assert!(!changed || (start >= h && end <= n));
                            } else {
                                prop_assert_eq!(start, end, "only lines inserted");
                            }
                            enabled = *on;
                        }
                    }
                    // The plain loader agrees with the model on every user.
                    let config = load(&after);
                    prop_assert_eq!(models(&config), model.clone(), "after {:?}\n{}", edit, after);
                    prop_assert_eq!(config.general.enabled, enabled);
                    // Every line the editor does not list as changed is the original line.
                    let original = e.original_text(MANAGER_CONF).unwrap_or_default();
                    let changes = e.changes(MANAGER_CONF);
                    let old_touched: Vec<u32> = changes.iter().filter_map(|c| c.old_line).collect();
                    let new_touched: Vec<u32> = changes.iter().filter_map(|c| c.new_line).collect();
                    let kept_old: Vec<&str> = lines(&original).into_iter().enumerate()
                        .filter(|(i, _)| !old_touched.contains(&(*i as u32 + 1))).map(|(_, l)| l).collect();
                    let kept_new: Vec<&str> = a.iter().copied().enumerate()
                        .filter(|(i, _)| !new_touched.contains(&(*i as u32 + 1))).map(|(_, l)| l).collect();
                    prop_assert_eq!(kept_old, kept_new);
                    prop_assert!(report.files.iter().all(|f| f == MANAGER_CONF));
                }
            }
        }
    }
}
