//! Tests of the editor: round trips, each operation, each refusal, and property tests.

use super::*;
use crate::acl::NamedAcls;
use crate::config::{MemoryResolver, NoIncludes, parse_manager_conf};
use crate::perm::Privilege;

const CONFORMANCE: &str = include_str!("../../../tests/data/asterisk-22/manager.conf");

fn editor(text: &str) -> ConfigEditor {
    match ConfigEditor::new(text, &mut NoIncludes, EditOptions::default()) {
        Ok(e) => e,
        Err(e) => panic!("cannot edit: {e}"),
    }
}

fn settings() -> UserSettings {
    UserSettings::default()
}

fn secret(s: &str) -> Option<Setting<String>> {
    Some(Setting::Set(s.to_owned()))
}

/// Asserts that `edit` fails and changes nothing.
#[track_caller]
fn refused(e: &mut ConfigEditor, edit: Edit) -> EditError {
    let before = e.text();
    match e.apply(&edit) {
        Ok(r) => panic!("accepted: {edit:?} → {r:?}\n{}", e.text()),
        Err(err) => {
            assert_eq!(e.text(), before, "a refused edit changed the text");
            // Every error explains itself.
            assert!(err.to_string().len() > 20);
            err
        }
    }
}

#[track_caller]
fn ok(e: &mut ConfigEditor, edit: Edit) -> EditReport {
    match e.apply(&edit) {
        Ok(r) => r,
        Err(err) => panic!("refused: {err}\n{edit:?}\n{}", e.text()),
    }
}

fn update(name: &str, settings: UserSettings) -> Edit {
    Edit::UpdateUser { name: name.to_owned(), settings }
}

// ---------------------------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------------------------

/// Files that exercise every syntax the loader knows, unchanged by the editor.
const ODD_FILES: &[&str] = &[
    "",
    "\n",
    "[general]\r\nenabled = yes\r\n\r\n[a]\r\nsecret = x ; crlf\r\n",
    "[general]\nenabled=yes\n[a]\nsecret=x",
    "\u{feff}[general]\nenabled = yes\n",
    "; only a comment",
    "[tpl](!)\nread => call\nwrite => call\n[a](tpl) ; inherits\nsecret = p\\;w ; escaped\n",
    "[a]\nsecret = x ;-- block --; tail\n;-- multi\nline\n--;\nread = all\n",
    "[a]\n  \t secret\t=\tx  \n\n\n\n[b]\nsecret=y\n   ; indented comment\n",
    "[a]\nsecret = one\nsecret += two\n[a](+)\nread = all\n",
    "[a]\nx\n= y\n#foo bar\n#exec /bin/true\n[b] trailing text\n",
    "[general]\nenabled = yes\n[a]\nsecret = s\r\nread = call\nwrite = originate\r\n",
    "[a]\nsecret = x\n\0nul\n",
];

#[test]
fn round_trip_is_byte_identical() {
    let mut files = vec![CONFORMANCE.to_owned()];
    files.extend(ODD_FILES.iter().map(|s| (*s).to_owned()));
    files.push(format!("[a]\nx = {}\n", "y".repeat(9000)));
    for text in &files {
        let e = editor(text);
        assert_eq!(e.text(), *text);
        assert!(e.changed_files().is_empty());
        assert!(e.changes(MANAGER_CONF).is_empty());
        assert_eq!(e.original_text(MANAGER_CONF).as_deref(), Some(text.as_str()));
    }
}

#[test]
fn round_trip_with_includes() {
    let mut files = MemoryResolver::new();
    files.insert("users.conf", "[bob]\r\nsecret = b0b-Secret-99\r\n");
    files.insert("extra/one.conf", "read = call\n");
    let text =
        "[general]\nenabled = yes\n#include \"users.conf\"\n[carol]\n#include extra/*.conf\n";
    let e = ConfigEditor::new(text, &mut files, EditOptions::default()).unwrap();
    assert_eq!(e.text(), text);
    let names: Vec<&str> = e.file_names().collect();
    assert_eq!(names, ["manager.conf", "users.conf", "extra/one.conf"]);
    assert_eq!(e.file_text("users.conf").as_deref(), Some("[bob]\r\nsecret = b0b-Secret-99\r\n"));
    assert!(e.changed_files().is_empty());
}

#[test]
fn a_file_asterisk_refuses_cannot_be_edited() {
    let err = ConfigEditor::new("x = 1\n[a]\n", &mut NoIncludes, EditOptions::default())
        .err()
        .map(|e| e.to_string());
    assert!(err.is_some_and(|e| e.contains("manager.conf:1")));
}

// ---------------------------------------------------------------------------------------------
// Adding users
// ---------------------------------------------------------------------------------------------

#[test]
fn add_user_appends_a_section_with_exactly_the_asked_rights() {
    let mut e = editor(CONFORMANCE);
    let s = UserSettings {
        secret: secret("Rk8fQ2xWm9Lp4Tz7"),
        read: Some(Privilege::CALL | Privilege::CDR),
        write: Some(Privilege::ORIGINATE),
        acl: Some(AclRule::only_from(&["10.0.0.0/8", "192.0.2.0/24"])),
        event_filters: Some(vec![FilterLine::new("eventfilter(name(Hangup))", "")]),
        write_timeout_ms: Some(Setting::Set(250)),
        setvars: Some(vec![SetVar { name: "CRM".into(), value: "1".into() }]),
        ..settings()
    };
    let report = ok(&mut e, Edit::AddUser { name: "crm".into(), settings: s });
    assert_eq!(report.files, ["manager.conf"]);
    let expected_tail = "eventfilter = !UserEvent: Answered\n\n[crm]\nsecret = Rk8fQ2xWm9Lp4Tz7\n\
                         read = call,cdr\nwrite = originate\ndeny = 0.0.0.0/0\ndeny = ::/0\n\
                         permit = 10.0.0.0/8\npermit = 192.0.2.0/24\n\
                         eventfilter(name(Hangup)) =\nwritetimeout = 250\nsetvar = CRM=1\n";
    assert!(e.text().ends_with(expected_tail), "{}", e.text());
    assert!(e.text().starts_with(CONFORMANCE));
    // What Asterisk loads, independently of the editor.
    let config = parse_manager_conf(&e.text(), &mut NoIncludes, &ConfigOptions::default()).unwrap();
    let crm = config.user(b"CRM").unwrap();
    assert_eq!((crm.read, crm.write), (Privilege::CALL | Privilege::CDR, Privilege::ORIGINATE));
    assert!(crm.acl.permits("10.1.2.3".parse().unwrap()));
    assert!(!crm.acl.permits("127.0.0.1".parse().unwrap()));
    assert!(!crm.acl.permits("::1".parse().unwrap()));
    assert_eq!(crm.filters.len(), 1);
    assert_eq!(crm.write_timeout_ms, 250);
    assert_eq!(crm.setvars, [("CRM".to_owned(), "1".to_owned())]);
    // ami check's findings come back: originate is an escalation; nothing else is wrong.
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["originate-escalation"]);
    // Every original line is untouched: only insertions.
    assert!(e.changes(MANAGER_CONF).iter().all(|c| c.old_line.is_none()));
}

#[test]
fn new_users_always_get_explicit_read_and_write() {
    let mut e = editor("[general]\nenabled = yes\n");
    ok(&mut e, Edit::AddUser { name: "bare".into(), settings: settings() });
    assert_eq!(e.text(), "[general]\nenabled = yes\n\n[bare]\nread = none\nwrite = none\n");
    let report = ok(&mut e, Edit::AddUser { name: "x".into(), settings: settings() });
    // No secret: nobody can log in.
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["never-login"]);
    let s = UserSettings { secret: secret("Kq3x9Wm2Lr8Tz5Yp"), ..settings() };
    let report = ok(&mut e, Edit::AddUser { name: "y".into(), settings: s });
    // No ACL: every address may log in.
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["open-network"]);
}

#[test]
fn new_lines_follow_the_file_style() {
    let mut e = editor("[general]\r\nenabled = yes");
    ok(&mut e, Edit::AddUser { name: "a".into(), settings: settings() });
    assert_eq!(e.text(), "[general]\r\nenabled = yes\r\n\r\n[a]\r\nread = none\r\nwrite = none");
    let changes = e.changes(MANAGER_CONF);
    assert!(changes[0].ending_changed && changes[0].old_line == Some(2));
}

#[test]
fn names_are_checked() {
    let mut e = editor(
        "[general]\nenabled = yes\n[tpl](!)\nread = call\n[Bob]\nsecret = Qm4x8Kp2Wz6Rt9Ly\n",
    );
    for (name, check) in [
        ("", "empty"),
        ("general", "settings section"),
        ("GENERAL", "settings section"),
        ("a b", "' '"),
        ("a]b", "']'"),
        ("a;b", "';'"),
        ("é", "'é'"),
    ] {
        let err = refused(&mut e, Edit::AddUser { name: name.into(), settings: settings() });
        assert!(matches!(err, EditError::InvalidName { .. }), "{name}: {err}");
        assert!(err.to_string().contains(check), "{name}: {err}");
    }
    let err = refused(&mut e, Edit::AddUser { name: "n".repeat(80), settings: settings() });
    assert!(matches!(err, EditError::InvalidName { problem: NameProblem::TooLong, .. }));
    let err = refused(&mut e, Edit::AddUser { name: "bob".into(), settings: settings() });
    assert!(
        matches!(&err, EditError::NameTaken { at, .. } if at.line == 5),
        "names compare case-insensitively: {err}"
    );
    let err = refused(&mut e, Edit::AddUser { name: "TPL".into(), settings: settings() });
    assert!(matches!(&err, EditError::NameTaken { at, .. } if at.line == 3), "templates too");
    ok(&mut e, Edit::AddUser { name: "a-b_c.d@e+f9".into(), settings: settings() });
}

#[test]
fn values_asterisk_cannot_read_back_are_refused() {
    let mut e = editor(CONFORMANCE);
    let add = |s: UserSettings| Edit::AddUser { name: "n".into(), settings: s };
    let err = refused(&mut e, add(UserSettings { secret: secret(""), ..settings() }));
    assert!(matches!(err, EditError::InvalidValue { problem: ValueProblem::EmptySecret, .. }));
    for bad in [" lead", "trail ", "line\nbreak", "tab\there"] {
        let err = refused(&mut e, add(UserSettings { secret: secret(bad), ..settings() }));
        assert!(matches!(err, EditError::InvalidValue { .. }));
        assert!(!err.to_string().contains(bad), "the secret is never shown: {err}");
    }
    let err = refused(
        &mut e,
        add(UserSettings { read: Some(Privilege::from_bits(1 << 14)), ..settings() }),
    );
    assert!(matches!(err, EditError::InvalidValue { problem: ValueProblem::Unexpressible, .. }));
    let err = refused(
        &mut e,
        add(UserSettings { acl: Some(vec![AclRule::permit("10.0.0.1:5038")]), ..settings() }),
    );
    assert!(matches!(err, EditError::InvalidAclRule { .. }), "{err}");
    let err =
        refused(&mut e, add(UserSettings { acl: Some(vec![AclRule::deny("")]), ..settings() }));
    assert!(matches!(err, EditError::InvalidValue { problem: ValueProblem::Empty, .. }));
    let err = refused(
        &mut e,
        add(UserSettings { event_filters: Some(vec![FilterLine::legacy("(")]), ..settings() }),
    );
    assert!(matches!(err, EditError::InvalidEventFilter { .. }), "{err}");
    let err = refused(
        &mut e,
        add(UserSettings {
            event_filters: Some(vec![FilterLine::new("EventFilter", "x")]),
            ..settings()
        }),
    );
    assert!(matches!(err, EditError::InvalidValue { problem: ValueProblem::FilterKey, .. }));
    for ms in [99, u32::MAX] {
        let s = UserSettings { write_timeout_ms: Some(Setting::Set(ms)), ..settings() };
        let err = refused(&mut e, add(s));
        assert!(matches!(
            err,
            EditError::InvalidValue { problem: ValueProblem::WriteTimeoutRange, .. }
        ));
    }
    for (name, value) in [("", "x"), ("A=B", "x"), ("A", &"v".repeat(254)[..])] {
        let s = UserSettings {
            setvars: Some(vec![SetVar { name: name.into(), value: value.into() }]),
            ..settings()
        };
        let err = refused(&mut e, add(s));
        assert!(matches!(err, EditError::InvalidValue { problem: ValueProblem::Setvar, .. }));
    }
    let long = UserSettings { secret: secret(&"s".repeat(9000)), ..settings() };
    let err = refused(&mut e, add(long));
    assert!(matches!(err, EditError::InvalidValue { problem: ValueProblem::TooLong { .. }, .. }));
}

#[test]
fn semicolons_and_arrows_in_values_read_back_exactly() {
    let mut e = editor("[general]\nenabled = yes\n[a]\nsecret=old\n");
    let tricky = ["p;w;--d--;x", ">starts-with-arrow", "ends\\", "a\\;b", "x=y=z"];
    for value in tricky {
        ok(&mut e, update("a", UserSettings { secret: secret(value), ..settings() }));
        let config =
            parse_manager_conf(&e.text(), &mut NoIncludes, &ConfigOptions::default()).unwrap();
        assert_eq!(config.user(b"a").unwrap().secret.as_deref(), Some(value), "{}", e.text());
    }
    // A line whose code holds a backslash is rewritten in the canonical form.
    assert_eq!(e.text(), "[general]\nenabled = yes\n[a]\nsecret = x=y=z\n");
}

// ---------------------------------------------------------------------------------------------
// Changing users
// ---------------------------------------------------------------------------------------------

#[test]
fn update_changes_only_the_winning_line_and_keeps_its_comment() {
    let text = "[general]\nenabled = yes\n\n; the crm\n[crm]\n  secret =  old-Secret-42x  ; rotated in May\nread = all\nread=call\nwrite = call\n\n[other]\nread = all\n";
    let mut e = editor(text);
    let report = ok(
        &mut e,
        update(
            "CRM",
            UserSettings {
                secret: secret("new-Secret-42x9"),
                read: Some(Privilege::CALL | Privilege::CDR),
                ..settings()
            },
        ),
    );
    assert_eq!(
        e.text(),
        "[general]\nenabled = yes\n\n; the crm\n[crm]\n  secret =  new-Secret-42x9  ; rotated in May\nread=call,cdr\nwrite = call\n\n[other]\nread = all\n"
    );
    assert_eq!(report.notes, [EditNote::SessionsKeepRights { user: "crm".into() }]);
    let changes = e.changes(MANAGER_CONF);
    let touched: Vec<Option<u32>> = changes.iter().map(|c| c.old_line).collect();
    assert_eq!(touched, [Some(6), Some(7), Some(8)]);
}

#[test]
fn a_missing_key_goes_after_the_last_line_of_the_section() {
    let text = "[a]\nsecret = Kq3x9Wm2Lr8Tz5Yp\n; trailing comment of a\n\n[b]\nsecret = b\n";
    let mut e = editor(text);
    ok(&mut e, update("a", UserSettings { write: Some(Privilege::CALL), ..settings() }));
    assert_eq!(
        e.text(),
        "[a]\nsecret = Kq3x9Wm2Lr8Tz5Yp\nwrite = call\n; trailing comment of a\n\n[b]\nsecret = b\n"
    );
    let mut e = editor("[a]\n[b]\n");
    ok(&mut e, update("a", UserSettings { read: Some(Privilege::ALL), ..settings() }));
    assert_eq!(e.text(), "[a]\nread = all\n[b]\n");
}

#[test]
fn lists_replace_every_own_line_where_the_first_one_was() {
    let text = "[a]\nsecret = Kq3x9Wm2Lr8Tz5Yp\ndeny = 0.0.0.0/0\nread = all\nPermit = 10.0.0.0/8\nEventFilter = Event: X\neventfilter = Event: Y\nsetvar = A=1\nsetvar = B=2\n";
    let mut e = editor(text);
    ok(
        &mut e,
        update(
            "a",
            UserSettings {
                acl: Some(AclRule::only_from(&["192.0.2.0/24"])),
                event_filters: Some(vec![]),
                setvars: Some(vec![SetVar { name: "C".into(), value: "3".into() }]),
                ..settings()
            },
        ),
    );
    assert_eq!(
        e.text(),
        "[a]\nsecret = Kq3x9Wm2Lr8Tz5Yp\ndeny = 0.0.0.0/0\ndeny = ::/0\npermit = 192.0.2.0/24\nread = all\nsetvar = C=3\n"
    );
    ok(&mut e, update("a", UserSettings { acl: Some(vec![]), ..settings() }));
    assert_eq!(e.text(), "[a]\nsecret = Kq3x9Wm2Lr8Tz5Yp\nread = all\nsetvar = C=3\n");
    assert!(e.config().user(b"a").unwrap().acl.is_empty());
}

#[test]
fn unset_removes_the_own_lines_and_warns_about_reload() {
    let text =
        "[a]\nsecret = Kq3x9Wm2Lr8Tz5Yp\ndisplayconnects = no\nwritetimeout = 500\nread = call\n";
    let mut e = editor(text);
    let report = ok(
        &mut e,
        update(
            "a",
            UserSettings {
                secret: Some(Setting::Unset),
                display_connects: Some(Setting::Unset),
                write_timeout_ms: Some(Setting::Unset),
                ..settings()
            },
        ),
    );
    assert_eq!(e.text(), "[a]\nread = call\n");
    let user = e.config().user(b"a").unwrap();
    assert_eq!(
        (user.secret.as_deref(), user.display_connects, user.write_timeout_ms),
        (None, true, 100)
    );
    let keys: Vec<&str> = report
        .notes
        .iter()
        .filter_map(|n| match n {
            EditNote::ReloadKeepsPrevious { key, .. } => Some(*key),
            _ => None,
        })
        .collect();
    assert_eq!(keys, ["secret", "displayconnects", "writetimeout"]);
    assert!(report.findings.iter().any(|f| f.code == "never-login"));
}

#[test]
fn templates_are_overridden_in_the_user_section_never_edited() {
    let text = "[tpl](!)\nsecret = shared-Secret-123\nread = all\npermit = 10.0.0.0/8\n[alice](tpl)\nwrite = call\n[bob](tpl)\n";
    let mut e = editor(text);
    let report = ok(
        &mut e,
        update(
            "alice",
            UserSettings {
                read: Some(Privilege::CALL),
                secret: secret("al1ce-Own-Secret"),
                ..settings()
            },
        ),
    );
    assert_eq!(
        e.text(),
        "[tpl](!)\nsecret = shared-Secret-123\nread = all\npermit = 10.0.0.0/8\n[alice](tpl)\nwrite = call\nsecret = al1ce-Own-Secret\nread = call\n[bob](tpl)\n"
    );
    assert!(report.notes.iter().any(|n| matches!(
        n,
        EditNote::OverridesInherited { key: "read", base, .. } if base == "tpl"
    )));
    assert_eq!(e.config().user(b"bob").unwrap().read, Privilege::ALL);
    // A list or a removal cannot be done for alice alone.
    let err = refused(&mut e, update("alice", UserSettings { acl: Some(vec![]), ..settings() }));
    assert!(
        matches!(&err, EditError::Inherited { base, at, .. } if base == "tpl" && at.line == 4),
        "{err}"
    );
    let err =
        refused(&mut e, update("bob", UserSettings { secret: Some(Setting::Unset), ..settings() }));
    assert!(matches!(err, EditError::Inherited { .. }));
}

#[test]
fn a_change_that_would_reach_another_user_is_refused() {
    // bob copies alice's lines, new ones included, when the loader reads `[bob](alice)`.
    let text = "[alice]\nsecret = Kq3x9Wm2Lr8Tz5Yp\nread = all\n[bob](alice)\n";
    let mut e = editor(text);
    let err = refused(
        &mut e,
        update("alice", UserSettings { read: Some(Privilege::CALL), ..settings() }),
    );
    assert!(
        matches!(&err, EditError::SideEffect { user, field: Field::Read } if user == "bob"),
        "{err}"
    );
    let err = refused(&mut e, Edit::RemoveUser { name: "alice".into() });
    assert!(matches!(&err, EditError::InheritedBy { heir, .. } if heir == "bob"));
    let err = refused(&mut e, Edit::RenameUser { from: "alice".into(), to: "carol".into() });
    assert!(matches!(err, EditError::InheritedBy { .. }));
    let err = refused(
        &mut e,
        update("alice", UserSettings { write: Some(Privilege::CALL), ..settings() }),
    );
    assert!(matches!(&err, EditError::SideEffect { field: Field::Write, .. }), "{err}");
    // Changing bob alone is fine: its own section overrides.
    ok(&mut e, update("bob", UserSettings { read: Some(Privilege::CALL), ..settings() }));
    assert_eq!(e.config().user(b"alice").unwrap().read, Privilege::ALL);
}

#[test]
fn several_sections_are_not_guessed() {
    for text in
        ["[a]\nread = all\n[A]\nwrite = all\n", "[a]\nread = all\n[b]\n[a](+)\nwrite = all\n"]
    {
        let mut e = editor(text);
        let err = refused(
            &mut e,
            update("a", UserSettings { read: Some(Privilege::CALL), ..settings() }),
        );
        assert!(
            matches!(&err, EditError::SeveralSections { sections, .. } if sections.len() == 2),
            "{err}"
        );
        // Removing takes every section.
        ok(&mut e, Edit::RemoveUser { name: "a".into() });
        assert!(e.config().user(b"a").is_none());
    }
}

#[test]
fn appended_values_and_block_comments_are_refused() {
    let mut e = editor("[a]\nsecret = one\nsecret += two\n");
    let err = refused(
        &mut e,
        update("a", UserSettings { secret: secret("x-Secret-9876543"), ..settings() }),
    );
    assert!(matches!(&err, EditError::AppendedValue { at, .. } if at.line == 3));
    let mut e = editor("[a]\nread = all ;-- open\n--; write = call\n");
    let err =
        refused(&mut e, update("a", UserSettings { read: Some(Privilege::CALL), ..settings() }));
    assert!(matches!(&err, EditError::LineNotEditable { at, .. } if at.line == 2), "{err}");
    let err =
        refused(&mut e, update("a", UserSettings { write: Some(Privilege::CDR), ..settings() }));
    assert!(matches!(&err, EditError::LineNotEditable { at, .. } if at.line == 3), "{err}");
    // A key the block comment does not touch is edited.
    ok(&mut e, update("a", UserSettings { secret: secret("x-Secret-9876543"), ..settings() }));
    assert_eq!(e.text(), "[a]\nread = all ;-- open\n--; write = call\nsecret = x-Secret-9876543\n");
    // New lines are never put where a block comment would swallow them.
    let mut e = editor("[a]\nread = all\n;-- never closed\n");
    ok(&mut e, update("a", UserSettings { write: Some(Privilege::CALL), ..settings() }));
    let mut e = editor("[a]\nread = all ;-- never closed\n");
    let err =
        refused(&mut e, update("a", UserSettings { write: Some(Privilege::CALL), ..settings() }));
    assert!(matches!(err, EditError::LineNotEditable { .. }));
    let err = refused(&mut e, Edit::AddUser { name: "b".into(), settings: settings() });
    assert!(matches!(err, EditError::LineNotEditable { .. }));
}

#[test]
fn escaped_lines_are_rewritten_keeping_indentation_and_comment() {
    let mut e = editor("[a]\n  secret = p\\;w  ; the old one\n");
    ok(&mut e, update("a", UserSettings { secret: secret("n;w-Secret-123"), ..settings() }));
    assert_eq!(e.text(), "[a]\n  secret = n\\;w-Secret-123  ; the old one\n");
}

#[test]
fn users_in_included_files_are_edited_there() {
    let mut files = MemoryResolver::new();
    files.insert(
        "/etc/asterisk/users.conf",
        "; users\n[bob]\r\nsecret = b0b-Secret-99x\r\nread = all\r\n",
    );
    let text = "[general]\nenabled = yes\n#include users.conf\n";
    let mut resolver = MappedResolver(files);
    let mut e = ConfigEditor::new(text, &mut resolver, EditOptions::default()).unwrap();
    let report = ok(
        &mut e,
        update(
            "bob",
            UserSettings {
                read: Some(Privilege::CALL),
                write: Some(Privilege::CALL),
                ..settings()
            },
        ),
    );
    assert_eq!(report.files, ["/etc/asterisk/users.conf"]);
    assert_eq!(e.text(), text);
    let changed = e.changed_files();
    assert_eq!(changed.len(), 1);
    assert_eq!(
        changed[0].text,
        "; users\n[bob]\r\nsecret = b0b-Secret-99x\r\nread = call\r\nwrite = call\r\n"
    );
    ok(&mut e, Edit::RemoveUser { name: "bob".into() });
    assert_eq!(e.file_text("/etc/asterisk/users.conf").as_deref(), Some(""));
}

/// Resolves `users.conf` to an absolute name, as a file-system resolver does.
struct MappedResolver(MemoryResolver);

impl IncludeResolver for MappedResolver {
    fn resolve(&mut self, path: &str) -> Result<Vec<(String, String)>, IncludeError> {
        self.0.resolve(&format!("/etc/asterisk/{path}"))
    }
}

#[test]
fn a_file_included_twice_is_not_edited() {
    let mut files = MemoryResolver::new();
    files.insert("common.conf", "read = call\n");
    let text = "[a]\nsecret = Kq3x9Wm2Lr8Tz5Yp\n#include common.conf\n[b]\n#include common.conf\n";
    let mut e = ConfigEditor::new(text, &mut files, EditOptions::default()).unwrap();
    let err =
        refused(&mut e, update("a", UserSettings { read: Some(Privilege::ALL), ..settings() }));
    assert!(
        matches!(
            err,
            EditError::FileNotEditable { problem: FileProblem::IncludedTwice { times: 2 }, .. }
        ),
        "{err}"
    );
}

#[test]
fn a_user_deleted_by_asterisk_is_repaired_by_a_new_acl() {
    let text = "[general]\nenabled = yes\n[bob]\nsecret = Kq3x9Wm2Lr8Tz5Yp\npermit = 10.0.0.1:5038\nread = call\n";
    let mut e = editor(text);
    assert!(e.config().user(b"bob").is_none());
    assert!(e.check().count(findings::Severity::Error) > 0);
    let report = ok(
        &mut e,
        update("bob", UserSettings { acl: Some(AclRule::only_from(&["10.0.0.1"])), ..settings() }),
    );
    assert!(report.notes.is_empty(), "a deleted user has no session");
    let bob = e.config().user(b"bob").unwrap();
    assert!(bob.acl.permits("10.0.0.1".parse().unwrap()));
    assert_eq!(e.check().count(findings::Severity::Error), 0);
}

// ---------------------------------------------------------------------------------------------
// Renaming and removing
// ---------------------------------------------------------------------------------------------

#[test]
fn rename_changes_only_the_name_in_the_header() {
    let mut e =
        editor("[tpl](!)\nread = call\n  [bob](tpl) ; the bob\nsecret = Kq3x9Wm2Lr8Tz5Yp\n");
    let report = ok(&mut e, Edit::RenameUser { from: "BOB".into(), to: "robert".into() });
    assert_eq!(
        e.text(),
        "[tpl](!)\nread = call\n  [robert](tpl) ; the bob\nsecret = Kq3x9Wm2Lr8Tz5Yp\n"
    );
    assert_eq!(report.notes, [EditNote::SessionsKeepRights { user: "bob".into() }]);
    assert_eq!(e.config().user(b"robert").unwrap().read, Privilege::CALL);
    // A change of case only is a rename too.
    ok(&mut e, Edit::RenameUser { from: "robert".into(), to: "Robert".into() });
    assert_eq!(e.config().users[0].name, "Robert");
    let err = refused(&mut e, Edit::RenameUser { from: "robert".into(), to: "tpl".into() });
    assert!(matches!(err, EditError::NameTaken { .. }));
    let err = refused(&mut e, Edit::RenameUser { from: "nobody".into(), to: "x".into() });
    assert!(matches!(err, EditError::UnknownUser { .. }));
}

#[test]
fn remove_takes_the_section_its_comments_and_its_blank_lines() {
    let mut e = editor(CONFORMANCE);
    let report = ok(&mut e, Edit::RemoveUser { name: "reader".into() });
    assert_eq!(report.notes, [EditNote::SessionsKeepRights { user: "reader".into() }]);
    let expected = CONFORMANCE.replace(
        "; read-only-ish: sees call/cdr/agent/user events; may not run any\n\
         ; privileged action (write left empty = no write classes)\n\
         [reader]\nsecret = reader123\nread = call,cdr,agent,user\nwrite =\n\n",
        "",
    );
    assert_ne!(expected, CONFORMANCE);
    assert_eq!(e.text(), expected);
    // The last section: up to the end of the file, with the blank lines before it.
    ok(&mut e, Edit::RemoveUser { name: "filtered".into() });
    assert!(
        e.text().ends_with("permit = 10.0.0.0/255.0.0.0\nread = all\nwrite = all\n"),
        "{}",
        e.text()
    );
    let names: Vec<&str> = e.config().users.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["admin", "limited", "denied"]);
    // Adding and removing a user gives the original text back.
    let mut e = editor("; only a comment");
    ok(&mut e, Edit::AddUser { name: "tmp".into(), settings: settings() });
    ok(&mut e, Edit::RemoveUser { name: "tmp".into() });
    assert_eq!(e.text(), "; only a comment");
    assert!(e.changed_files().is_empty());
}

#[test]
fn remove_refuses_to_drop_a_directive() {
    let mut files = MemoryResolver::new();
    files.insert("x.conf", "read = call\n");
    let text = "[a]\nsecret = Kq3x9Wm2Lr8Tz5Yp\n#include x.conf\n";
    let mut e = ConfigEditor::new(text, &mut files, EditOptions::default()).unwrap();
    let err = refused(&mut e, Edit::RemoveUser { name: "a".into() });
    assert!(matches!(&err, EditError::SectionHasDirective { at, .. } if at.line == 3));
}

// ---------------------------------------------------------------------------------------------
// [general]
// ---------------------------------------------------------------------------------------------

#[test]
fn enabling_ami() {
    let mut e = editor("; manager.conf\n\n; admin\n[admin]\nsecret = Kq3x9Wm2Lr8Tz5Yp\n");
    ok(&mut e, Edit::SetEnabled(true));
    assert_eq!(
        e.text(),
        "; manager.conf\n\n[general]\nenabled = yes\n\n; admin\n[admin]\nsecret = Kq3x9Wm2Lr8Tz5Yp\n"
    );
    assert!(e.config().general.enabled);
    ok(&mut e, Edit::SetEnabled(false));
    assert!(e.text().contains("[general]\nenabled = no\n"));
    let mut e = editor("[general]\nport = 5038\n\n[a]\n");
    ok(&mut e, Edit::SetEnabled(true));
    assert_eq!(e.text(), "[general]\nport = 5038\nenabled = yes\n\n[a]\n");
    let mut e = editor("[general]\nenabled=no\nenabled = No ; off\n");
    ok(&mut e, Edit::SetEnabled(true));
    assert_eq!(e.text(), "[general]\nenabled = yes ; off\n");
    let mut e = editor("");
    ok(&mut e, Edit::SetEnabled(true));
    assert_eq!(e.text(), "[general]\nenabled = yes\n");
    // Only the first [general] counts.
    let mut e = editor("[general]\n[general]\nenabled = yes\n");
    ok(&mut e, Edit::SetEnabled(true));
    assert_eq!(e.text(), "[general]\nenabled = yes\n[general]\nenabled = yes\n");
}

// ---------------------------------------------------------------------------------------------
// ami check
// ---------------------------------------------------------------------------------------------

#[test]
fn strict_mode_refuses_dangerous_grants() {
    let options = EditOptions { strict: true, named_acls: NamedAcls::default() };
    let mut e = ConfigEditor::new("[general]\nenabled = yes\n", &mut NoIncludes, options).unwrap();
    let admin = UserSettings {
        secret: secret("Kq3x9Wm2Lr8Tz5Yp"),
        read: Some(Privilege::ALL),
        write: Some(Privilege::SYSTEM),
        acl: Some(AclRule::only_from(&["127.0.0.1"])),
        ..settings()
    };
    let err = refused(&mut e, Edit::AddUser { name: "root".into(), settings: admin });
    let EditError::CheckFailed { errors } = err else { panic!("{err}") };
    let codes: Vec<&str> = errors.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["shell-write"]);
    let weak = UserSettings {
        secret: secret("password"),
        acl: Some(AclRule::only_from(&["127.0.0.1"])),
        ..settings()
    };
    let err = refused(&mut e, Edit::AddUser { name: "w".into(), settings: weak });
    assert!(matches!(err, EditError::CheckFailed { .. }));
}

#[test]
fn existing_errors_do_not_block_other_edits() {
    // `empty` has an empty secret (an error of ami check): editing others still works.
    let mut e =
        editor("[general]\nenabled = yes\n[empty]\nsecret =\n[b]\nsecret = Kq3x9Wm2Lr8Tz5Yp\n");
    ok(&mut e, update("b", UserSettings { read: Some(Privilege::CALL), ..settings() }));
    ok(&mut e, update("empty", UserSettings { secret: secret("Kq3x9Wm2Lr8Tz5Yq"), ..settings() }));
    assert_eq!(e.check().count(findings::Severity::Error), 0);
}

#[test]
fn secrets_never_appear_in_debug_output_or_errors() {
    let s = UserSettings { secret: secret("hunter2-Secret"), ..settings() };
    assert!(!format!("{s:?}").contains("hunter2"));
    let edit = Edit::AddUser { name: "x".into(), settings: s };
    assert!(!format!("{edit:?}").contains("hunter2"));
}

// ---------------------------------------------------------------------------------------------
// The corpus: the spec's examples and odd files, each round-tripped and edited every way
// ---------------------------------------------------------------------------------------------

/// Every file of `tests/data/edit/`, by name, sorted.
fn corpus() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/edit");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            (name, std::fs::read_to_string(&path).unwrap())
        })
        .collect();
    files.sort();
    assert!(files.len() >= 20);
    files
}

/// A resolver serving the corpus, with the editor's current texts for the files it edits.
fn resolver_for(corpus: &[(String, String)], e: Option<&ConfigEditor>) -> MemoryResolver {
    let mut r = MemoryResolver::new();
    for (name, text) in corpus {
        r.insert(name, text);
    }
    if let Some(e) = e {
        for f in e.changed_files() {
            r.insert(&f.name, &f.text);
        }
    }
    r
}

/// The edits tried on every user of every corpus file, with what the plain loader must then
/// say about the user (`None`: the user is gone).
/// What must hold of the user (`None`: gone) once an edit of the battery is applied.
type Holds = fn(Option<&crate::config::User>) -> bool;

fn battery(user: &str) -> Vec<(Edit, Holds)> {
    let up = |s: UserSettings| Edit::UpdateUser { name: user.to_uppercase(), settings: s };
    vec![
        (up(UserSettings { read: Some(Privilege::CALL), ..settings() }), |u| {
            u.is_some_and(|u| u.read == Privilege::CALL)
        }),
        (up(UserSettings { write: Some(Privilege::NONE), ..settings() }), |u| {
            u.is_some_and(|u| u.write == Privilege::NONE)
        }),
        (up(UserSettings { secret: secret("Corpus-Secret-4711"), ..settings() }), |u| {
            u.is_some_and(|u| u.secret.as_deref() == Some("Corpus-Secret-4711"))
        }),
        (up(UserSettings { acl: Some(AclRule::only_from(&["10.0.0.0/8"])), ..settings() }), |u| {
            u.is_some_and(|u| {
                u.acl.permits("10.9.9.9".parse().unwrap()) && !u.acl.permits("::1".parse().unwrap())
            })
        }),
        (
            up(UserSettings {
                event_filters: Some(vec![FilterLine::legacy("Event: Hangup")]),
                ..settings()
            }),
            |u| u.is_some_and(|u| u.filters.len() == 1),
        ),
        (up(UserSettings { display_connects: Some(Setting::Unset), ..settings() }), |u| {
            u.is_some()
        }),
        (up(UserSettings { secret: Some(Setting::Unset), ..settings() }), |u| {
            u.is_some_and(|u| u.secret.is_none())
        }),
        (Edit::RenameUser { from: user.to_owned(), to: "renamed".into() }, |u| u.is_none()),
        (Edit::RemoveUser { name: user.to_owned() }, |u| u.is_none()),
    ]
}

#[test]
fn corpus_round_trips_and_every_edit_reloads_as_asked() {
    let corpus = corpus();
    let mut accepted = 0usize;
    let mut refusals: Vec<String> = Vec::new();
    for (name, text) in &corpus {
        let plain =
            parse_manager_conf(text, &mut resolver_for(&corpus, None), &ConfigOptions::default());
        let editor =
            ConfigEditor::new(text, &mut resolver_for(&corpus, None), EditOptions::default());
        let (config, e) = match (plain, editor) {
            (Err(_), Err(EditError::Load(_))) => continue,
            (Ok(c), Ok(e)) => (c, e),
            (p, e) => panic!("{name}: loader {:?} but editor {:?}", p.err(), e.err()),
        };
        assert_eq!(e.text(), *text, "{name}: round trip");
        for file in e.file_names().skip(1) {
            let original = corpus.iter().find(|(n, _)| n == file).map(|(_, t)| t.clone());
            assert_eq!(e.file_text(file), original, "{name}: {file} round trip");
        }
        let users: Vec<String> =
            config.users.iter().chain(&config.deleted_users).map(|u| u.name.clone()).collect();
        for user in users {
            for (edit, holds) in battery(&user) {
                let mut e = e.clone();
                match e.apply(&edit) {
                    Ok(_) => {
                        accepted += 1;
                        let top = e.text();
                        let after = parse_manager_conf(
                            &top,
                            &mut resolver_for(&corpus, Some(&e)),
                            &ConfigOptions::default(),
                        )
                        .unwrap_or_else(|err| panic!("{name}: {edit:?} does not load: {err}"));
                        let found = after.user(user.as_bytes()).or_else(|| {
                            after.deleted_users.iter().find(|u| u.name.eq_ignore_ascii_case(&user))
                        });
                        assert!(holds(found), "{name}: {edit:?} did not take effect:\n{top}");
                        if let Edit::RenameUser { .. } = edit {
                            let kept = after.user(b"renamed").is_some();
                            assert!(
                                kept || after.deleted_users.iter().any(|u| u.name == "renamed")
                            );
                        }
                    }
                    Err(err) => {
                        assert_eq!(e.text(), *text, "{name}: refused edit changed the text");
                        assert!(
                            !matches!(
                                err,
                                EditError::WouldNotLoad(_) | EditError::NotEffective { .. }
                            ),
                            "{name}: {edit:?}: {err}"
                        );
                        refusals.push(format!("{name} {user}: {err}"));
                    }
                }
            }
        }
        for edit in [
            Edit::SetEnabled(true),
            Edit::SetEnabled(false),
            Edit::AddUser { name: "fresh".into(), settings: settings() },
        ] {
            let mut e = e.clone();
            if let Err(err) = e.apply(&edit) {
                panic!("{name}: {edit:?}: {err}");
            }
            let after = parse_manager_conf(
                &e.text(),
                &mut resolver_for(&corpus, Some(&e)),
                &ConfigOptions::default(),
            )
            .unwrap();
            match edit {
                Edit::SetEnabled(on) => assert_eq!(after.general.enabled, on, "{name}"),
                _ => assert!(after.user(b"fresh").is_some(), "{name}"),
            }
        }
    }
    // Each refusal is one the editor documents, for a reason visible in the file.
    let expected = [
        "appends.conf a: user `a` is defined by 2 sections",
        "appends.conf b: `secret` of `b` is built with `+=`",
        "block-comments.conf a: manager.conf:8 cannot be changed",
        "duplicates.conf dup: user `dup` is defined by 2 sections",
        "templates.conf alice: section `[carol]` (manager.conf:17) inherits from `alice`",
        "templates.conf alice: user `alice` inherits `permit/deny/acl` from `[ops]`",
        "templates.conf alice: the edit would also change `read` of user `carol`",
        "includes-main.conf local: the section of `local` holds a directive at manager.conf:9",
    ];
    for want in expected {
        assert!(
            refusals.iter().any(|r| r.starts_with(want)),
            "no refusal {want:?} in {refusals:#?}"
        );
    }

    assert!(accepted > 100, "{accepted} edits accepted");
}

#[test]
fn a_byte_order_mark_stays() {
    let mut e = editor("\u{feff}[bob]\nsecret = Kq3x9Wm2Lr8Tz5Yp\n");
    ok(&mut e, Edit::RenameUser { from: "bob".into(), to: "robert".into() });
    assert_eq!(e.text(), "\u{feff}[robert]\nsecret = Kq3x9Wm2Lr8Tz5Yp\n");
    let mut files = MemoryResolver::new();
    files.insert("users.conf", "\u{feff}secret = p\\;w-Old-Secret-1\n");
    let text = "[bob]\n#include users.conf\n";
    let mut e = ConfigEditor::new(text, &mut files, EditOptions::default()).unwrap();
    ok(&mut e, update("bob", UserSettings { secret: secret("New-Secret-42xyz"), ..settings() }));
    assert_eq!(e.file_text("users.conf").as_deref(), Some("\u{feff}secret = New-Secret-42xyz\n"));
}
