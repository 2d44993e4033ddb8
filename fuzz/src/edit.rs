//! `config_edit`: the manager.conf editor on arbitrary text and arbitrary edit programs.
//!
//! Input: the manager.conf text, [`SEP`], then a program. Each step is an operation byte
//! (`% 5`: add, update, rename, remove, enable), a name choice byte (an existing user, in any
//! case, or one of [`NAMES`]), and for add/update a field mask byte followed by one choice
//! byte per field present. Includes resolve to a few fixed files.
//!
//! Asserted: the editor never panics; it loads exactly the files the loader loads; without an
//! edit the text is unchanged; a refused edit changes no file; an accepted one re-loads with
//! the plain loader to what was asked, and every line it does not list as changed is the
//! original line.

use ami_proto::acl::{AclList, NamedAcls};
use ami_proto::config::edit::{
    AclRule, ConfigEditor, Edit, EditOptions, FilterLine, SetVar, Setting, UserSettings,
};
use ami_proto::config::{ConfigOptions, ManagerConfig, MemoryResolver, User, parse_manager_conf};
use ami_proto::filter::{EventFilter, FilterSet};
use ami_proto::perm::Privilege;

use crate::input::{Input, SEP};

/// Names tried besides the existing users: new ones, odd ones and refused ones.
const NAMES: [&str; 8] = ["crm", "Admin", "general", "a b", "x;y", "", "bob", "n-_.@+9"];
const SECRETS: [&str; 6] =
    ["Fz8kQ2mW9xLp4Tr7", "p;w--;x;--y", ">arrow-Secret-1", " lead", "", "tab\there"];
const RULES: [(&str, &str); 7] = [
    ("deny", "0.0.0.0/0"),
    ("deny", "::/0"),
    ("permit", "10.0.0.0/8"),
    ("permit", "127.0.0.1:5038"),
    ("acl", "local"),
    ("permit", "::1,192.0.2.0/24"),
    ("deny", "!10.1.0.0/16"),
];
const FILTERS: [(&str, &str); 5] = [
    ("eventfilter", "Event: Newchannel"),
    ("eventfilter", "!Event: Hangup;x"),
    ("eventfilter(action(include),name(DialEnd))", ""),
    ("eventfilter", "("),
    ("EventFilter", "x"),
];

fn resolver() -> MemoryResolver {
    let mut files = MemoryResolver::new();
    files.insert("users.conf", "[bob]\nsecret = b0b-Secret-1234\nread = call\nwrite = originate\n");
    files.insert(
        "extra/filters.conf",
        "[carol]\r\nsecret = c\r\neventfilter = !Event: Newexten\r\n",
    );
    files.insert("extra/general.conf", "timestampevents = yes\n");
    files
}

/// The loader's view of the editor's current files.
fn reload(e: &ConfigEditor) -> ManagerConfig {
    let mut files = resolver();
    for f in e.changed_files() {
        files.insert(&f.name, &f.text);
    }
    match parse_manager_conf(&e.text(), &mut files, &ConfigOptions::default()) {
        Ok(c) => c,
        Err(err) => panic!("an accepted edit does not load: {err}"),
    }
}

fn settings(input: &mut Input<'_>) -> UserSettings {
    let mask = input.byte();
    let mut s = UserSettings::default();
    if mask & 1 != 0 {
        let b = input.byte();
        s.secret = Some(if b == 255 {
            Setting::Unset
        } else {
            Setting::Set(SECRETS[usize::from(b) % SECRETS.len()].to_owned())
        });
    }
    if mask & 2 != 0 {
        s.read = Some(Privilege::from_bits(u32::from(input.u16()) | u32::from(input.byte()) << 16));
    }
    if mask & 4 != 0 {
        s.write = Some(Privilege::from_bits(u32::from(input.u16())));
    }
    if mask & 8 != 0 {
        let n = usize::from(input.byte() % 4);
        s.acl = Some(
            (0..n)
                .map(|_| {
                    let (k, v) = input.pick(&RULES);
                    match k {
                        "deny" => AclRule::deny(v),
                        "permit" => AclRule::permit(v),
                        _ => AclRule::named(v),
                    }
                })
                .collect(),
        );
    }
    if mask & 16 != 0 {
        let n = usize::from(input.byte() % 3);
        s.event_filters = Some(
            (0..n)
                .map(|_| {
                    let (k, v) = input.pick(&FILTERS);
                    FilterLine::new(k, v)
                })
                .collect(),
        );
    }
    if mask & 32 != 0 {
        let b = input.byte();
        s.display_connects =
            Some(if b.is_multiple_of(3) { Setting::Unset } else { Setting::Set(b % 3 == 1) });
    }
    if mask & 64 != 0 {
        let v = input.u16();
        s.write_timeout_ms = Some(if v == 0 { Setting::Unset } else { Setting::Set(u32::from(v)) });
    }
    if mask & 128 != 0 {
        let n = usize::from(input.byte() % 3);
        s.setvars = Some(
            (0..n).map(|i| SetVar { name: format!("V{i}"), value: "a=b".to_owned() }).collect(),
        );
    }
    s
}

/// What the loader must say about the edited user after an accepted update.
fn holds(u: &User, s: &UserSettings) {
    match &s.secret {
        Some(Setting::Set(v)) => assert_eq!(u.secret.as_deref(), Some(v.as_str())),
        Some(Setting::Unset) => assert_eq!(u.secret, None),
        None => {}
    }
    if let Some(p) = s.read {
        assert_eq!(u.read, p);
    }
    if let Some(p) = s.write {
        assert_eq!(u.write, p);
    }
    if let Some(rules) = &s.acl {
        let mut acl = AclList::default();
        for r in rules {
            acl.add_line(r.kind.key(), &r.value, &NamedAcls::default()).expect("accepted rule");
        }
        assert_eq!(u.acl, acl);
    }
    if let Some(filters) = &s.event_filters {
        let mut set = FilterSet::default();
        for f in filters {
            set.add(EventFilter::parse(&f.key, &f.value).expect("accepted filter"));
        }
        let shown = |s: &FilterSet| s.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(shown(&u.filters), shown(&set));
    }
    if let Some(Setting::Set(ms)) = s.write_timeout_ms {
        assert_eq!(u.write_timeout_ms, ms);
    }
    if let Some(vars) = &s.setvars {
        assert_eq!(u.setvars.len(), vars.len());
    }
}

/// Lines of a text, without their endings.
fn lines(text: &str) -> Vec<&str> {
    text.split_terminator('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect()
}

/// Every line `changes` does not list is the original line, in order.
fn untouched_lines_are_kept(e: &ConfigEditor) {
    for name in e.file_names().map(str::to_owned).collect::<Vec<_>>() {
        let original = e.original_text(&name).unwrap_or_default();
        let now = e.file_text(&name).unwrap_or_default();
        let changes = e.changes(&name);
        let old: Vec<u32> = changes.iter().filter_map(|c| c.old_line).collect();
        let new: Vec<u32> = changes.iter().filter_map(|c| c.new_line).collect();
        let keep = |text: &str, touched: &[u32]| -> Vec<String> {
            lines(text)
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !touched.contains(&(*i as u32 + 1)))
                .map(|(_, l)| l.to_owned())
                .collect()
        };
        assert_eq!(keep(&original, &old), keep(&now, &new), "{name}");
    }
}

/// `config_edit` (see the module documentation).
pub fn config_edit(data: &[u8]) {
    let split = data.iter().position(|&b| b == SEP).unwrap_or(data.len());
    let text = String::from_utf8_lossy(&data[..split]).into_owned();
    let mut input = Input::new(data.get(split + 1..).unwrap_or_default());
    let plain = parse_manager_conf(&text, &mut resolver(), &ConfigOptions::default());
    let edited = ConfigEditor::new(&text, &mut resolver(), EditOptions::default());
    let mut e = match (plain, edited) {
        (Ok(_), Ok(e)) => e,
        (Err(_), Err(_)) => return,
        (p, e) => panic!("loader {:?}, editor {:?}", p.err(), e.err().map(|e| e.to_string())),
    };
    assert_eq!(e.text(), text);
    for _ in 0..8 {
        if input.is_empty() {
            break;
        }
        let op = input.byte() % 5;
        let choice = input.byte();
        let users: Vec<String> = e.config().users.iter().map(|u| u.name.clone()).collect();
        let name = if choice < 128 && !users.is_empty() {
            let n = users[usize::from(choice) % users.len()].clone();
            if choice.is_multiple_of(2) { n.to_ascii_uppercase() } else { n }
        } else {
            NAMES[usize::from(choice) % NAMES.len()].to_owned()
        };
        let edit = match op {
            0 => Edit::AddUser { name, settings: settings(&mut input) },
            1 => Edit::UpdateUser { name, settings: settings(&mut input) },
            2 => Edit::RenameUser { from: name, to: input.pick(&NAMES).to_owned() },
            3 => Edit::RemoveUser { name },
            _ => Edit::SetEnabled(input.byte().is_multiple_of(2)),
        };
        let before: Vec<Option<String>> =
            e.file_names().map(|n| e.file_text(n)).collect::<Vec<_>>();
        match e.apply(&edit) {
            Err(err) => {
                let after: Vec<Option<String>> = e.file_names().map(|n| e.file_text(n)).collect();
                assert_eq!(before, after, "refused edit changed a file: {err}");
                let _ = err.to_string();
            }
            Ok(report) => {
                let config = reload(&e);
                match &edit {
                    Edit::AddUser { name, settings } | Edit::UpdateUser { name, settings } => {
                        let user = config.user(name.as_bytes()).or_else(|| {
                            config.deleted_users.iter().find(|u| u.name.eq_ignore_ascii_case(name))
                        });
                        match user {
                            Some(u) => holds(u, settings),
                            None => panic!("user {name} missing after {edit:?}"),
                        }
                    }
                    Edit::RenameUser { from, to } => {
                        let has = |n: &str| {
                            config.user(n.as_bytes()).is_some()
                                || config
                                    .deleted_users
                                    .iter()
                                    .any(|u| u.name.eq_ignore_ascii_case(n))
                        };
                        assert!(has(to));
                        assert!(from.eq_ignore_ascii_case(to) || !has(from));
                    }
                    Edit::RemoveUser { name } => assert!(config.user(name.as_bytes()).is_none()),
                    Edit::SetEnabled(on) => assert_eq!(config.general.enabled, *on),
                }
                for f in &report.findings {
                    assert!(!f.message.is_empty());
                }
                untouched_lines_are_kept(&e);
            }
        }
    }
}
