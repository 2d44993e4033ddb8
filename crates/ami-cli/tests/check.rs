//! Integration tests of `ami check`: the binary run on the conformance manager.conf and on
//! crafted dangerous configurations in `tests/data/check/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A file under `tests/data/check/`.
fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/check").join(name)
}

/// The conformance manager.conf recorded against Asterisk 22.
fn conformance() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../ami-proto/tests/data/asterisk-22/manager.conf")
}

/// Runs `ami check ARGS…`: (exit code, stdout, stderr).
fn ami(args: &[&str]) -> (i32, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_ami")).arg("check").args(args).output().expect("run ami");
    (
        out.status.code().expect("exit code"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
        String::from_utf8(out.stderr).expect("utf-8 stderr"),
    )
}

/// Runs `ami check --json [extra…] FILE` and parses the document.
fn json(file: &Path, extra: &[&str]) -> (i32, Value) {
    let path = file.to_str().expect("utf-8 path");
    let mut args = vec!["--json"];
    args.extend_from_slice(extra);
    args.push(path);
    let (code, stdout, stderr) = ami(&args);
    let doc = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("invalid JSON ({e}): {stdout}\nstderr: {stderr}"));
    (code, doc)
}

/// The user `name` of a JSON report.
fn user<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["users"]
        .as_array()
        .expect("users")
        .iter()
        .find(|u| u["name"] == name)
        .unwrap_or_else(|| panic!("no user {name} in {doc}"))
}

/// The finding codes of a JSON user (or deleted user).
fn codes(u: &Value) -> Vec<String> {
    u["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| f["code"].as_str().expect("code").to_owned())
        .collect()
}

/// The severity of the finding `code` of a JSON user.
fn severity(u: &Value, code: &str) -> String {
    u["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {u}"))["severity"]
        .as_str()
        .expect("severity")
        .to_owned()
}

/// A JSON array of strings as a Vec.
fn strings(v: &Value) -> Vec<&str> {
    v.as_array().expect("array").iter().map(|s| s.as_str().expect("string")).collect()
}

#[test]
fn conformance_config_reports_the_five_users_and_their_classes() {
    let (code, doc) = json(&conformance(), &[]);
    assert_eq!(code, 0, "{doc}");
    let names: Vec<&str> =
        doc["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "reader", "limited", "denied", "filtered"]);
    let classes = |name: &str| {
        let u = user(&doc, name);
        (strings(&u["read"]), strings(&u["write"]))
    };
    assert_eq!(classes("admin"), (vec!["all"], vec!["all"]));
    assert_eq!(classes("reader"), (vec!["call", "agent", "user", "cdr"], vec![]));
    assert_eq!(classes("limited"), (vec!["system", "call"], vec!["call", "originate"]));
    assert_eq!(classes("denied"), (vec!["all"], vec!["all"]));
    assert_eq!(classes("filtered"), (vec!["all"], vec!["all"]));
    assert_eq!(doc["general"]["enabled"], true);
    assert_eq!(doc["general"]["port"], 5038);
    assert_eq!(doc["general"]["bindaddr"], "127.0.0.1");
    assert_eq!(doc["errors"], 0);

    let denied = user(&doc, "denied");
    assert_eq!(strings(&denied["acl"]), ["deny 0.0.0.0/0", "permit 10.0.0.0/8"]);
    assert_eq!(denied["open_to_all"], false);
    // IPv6 is left open, but AMI only listens on 127.0.0.1.
    assert_eq!(severity(denied, "ipv6-open"), "info");
    assert_eq!(user(&doc, "admin")["open_to_all"], true);
    assert_eq!(severity(user(&doc, "admin"), "open-network"), "info");

    assert!(codes(user(&doc, "admin")).contains(&"shell-write".to_owned()));
    assert!(codes(user(&doc, "limited")).contains(&"originate-escalation".to_owned()));
    assert!(!codes(user(&doc, "reader")).contains(&"shell-write".to_owned()));
    let filters = strings(&user(&doc, "filtered")["filters"]);
    assert_eq!(filters.len(), 6, "{filters:?}");
    assert!(filters[4].starts_with("exclude name=\"Newchannel\" header=\"Channel:\""));
    assert!(user(&doc, "admin")["filters"].as_array().unwrap().is_empty());

    // --strict: write=all is shell access, an error now.
    let (code, doc) = json(&conformance(), &["--strict"]);
    assert_eq!(code, 1);
    assert_eq!(severity(user(&doc, "admin"), "shell-write"), "error");
    // An open ACL behind a loopback listener stays informational.
    assert_eq!(severity(user(&doc, "admin"), "open-network"), "info");
}

#[test]
fn conformance_config_human_report() {
    let path = conformance();
    let (code, stdout, stderr) = ami(&[path.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let header = stdout.lines().next().unwrap();
    assert!(header.ends_with("manager.conf: 5 users; AMI enabled on 127.0.0.1:5038"), "{header}");
    for name in ["admin", "reader", "limited", "denied", "filtered"] {
        assert!(stdout.contains(&format!("\n[{name}] (")), "{name} missing:\n{stdout}");
    }
    assert!(stdout.contains("  read:    call,agent,user,cdr\n"), "{stdout}");
    assert!(stdout.contains("  write:   call,originate ("), "{stdout}");
    assert!(stdout.contains("  network: deny 0.0.0.0/0, permit 10.0.0.0/8 (restricts IPv4"));
    assert!(stdout.contains("warning[shell-write]"));
    assert!(stdout.contains("manager.conf:13: user `admin` may write `system,command`"));
    assert!(stdout.contains("    hint: "));
    assert!(stdout.trim_end().ends_with("0 errors, 9 warnings"), "{stdout}");
    for secret in ["admin123", "reader123", "limited123", "denied123", "filtered123"] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret), "{secret} printed");
    }
}

#[test]
fn shell_equivalent_write_is_a_warning_and_an_error_when_strict() {
    let (code, doc) = json(&data("shell.conf"), &[]);
    assert_eq!(code, 0, "{doc}");
    for name in ["sysadmin", "cli"] {
        assert_eq!(severity(user(&doc, name), "shell-write"), "warning");
    }
    assert_eq!(strings(&user(&doc, "cli")["write"]), ["command"]);
    assert_eq!(doc["errors"], 0);
    let (code, doc) = json(&data("shell.conf"), &["--strict"]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(severity(user(&doc, "sysadmin"), "shell-write"), "error");
    assert_eq!(doc["errors"], 2);
}

#[test]
fn originate_escalation_is_explained() {
    let (code, doc) = json(&data("originate.conf"), &[]);
    assert_eq!(code, 0);
    let dialer = user(&doc, "dialer");
    assert_eq!(codes(dialer), ["originate-escalation"]);
    let message = dialer["findings"][0]["message"].as_str().unwrap();
    assert!(message.contains("Exten/Context is not checked"), "{message}");
    assert!(message.contains("ChanSpy"), "{message}");
    assert!(message.contains("only System is refused"), "{message}");
    let (code, _) = json(&data("originate.conf"), &["--strict"]);
    assert_eq!(code, 1);
}

#[test]
fn config_and_agi_writes_are_near_shell_access() {
    let (code, doc) = json(&data("originate.conf"), &[]);
    assert_eq!(code, 0);
    assert_eq!(codes(user(&doc, "configurator")), ["config-write"]);
    assert_eq!(codes(user(&doc, "asyncagi")), ["agi-write"]);
    let (_, doc) = json(&data("originate.conf"), &["--strict"]);
    assert_eq!(severity(user(&doc, "asyncagi"), "agi-write"), "error");
    assert_eq!(doc["errors"], 3);
}

#[test]
fn open_network_filters() {
    let (code, doc) = json(&data("open.conf"), &[]);
    assert_eq!(code, 0, "{doc}");
    for name in ["nofilter", "permitonly"] {
        let u = user(&doc, name);
        assert_eq!(u["open_to_all"], true, "{name}");
        assert_eq!(severity(u, "open-network"), "warning", "{name}");
    }
    let v4only = user(&doc, "v4only");
    assert_eq!(v4only["open_to_all"], false);
    assert_eq!(severity(v4only, "ipv6-open"), "warning");
    let locked = user(&doc, "locked");
    assert_eq!(locked["open_to_all"], false);
    assert_eq!(locked["admits_none"], false);
    assert!(codes(locked).is_empty(), "{locked}");
    assert_eq!(json(&data("open.conf"), &["--strict"]).0, 1);
}

#[test]
fn permission_quirks_are_reported_with_the_effective_classes() {
    let (code, doc) = json(&data("quirk.conf"), &[]);
    assert_eq!(code, 0);
    // `write = ,call`: the empty element grants everything.
    let lead = user(&doc, "leadingcomma");
    assert_eq!(strings(&lead["write"]), ["all"]);
    assert!(codes(lead).contains(&"perm-quirk".to_owned()));
    assert!(codes(lead).contains(&"shell-write".to_owned()));
    // `read = c,log`: `c` is a prefix of five classes.
    let prefix = user(&doc, "prefix");
    assert_eq!(strings(&prefix["read"]), ["call", "log", "command", "config", "cdr", "cc"]);
    assert_eq!(severity(prefix, "perm-quirk"), "warning");
    // `read = call, log`: ` log` grants nothing.
    let spaces = user(&doc, "spaces");
    assert_eq!(strings(&spaces["read"]), ["call"]);
    assert_eq!(codes(spaces), ["perm-ignored", "open-network"]);
    let (code, doc) = json(&data("quirk.conf"), &["--strict"]);
    assert_eq!(code, 1);
    assert_eq!(severity(user(&doc, "prefix"), "perm-quirk"), "error");
}

#[test]
fn users_who_can_never_log_in() {
    let (code, doc) = json(&data("nologin.conf"), &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(user(&doc, "nosecret")["secret"], "missing");
    for name in ["nosecret", "undefinedacl", "denyall"] {
        assert_eq!(severity(user(&doc, name), "never-login"), "warning", "{name}");
    }
    assert!(codes(user(&doc, "undefinedacl")).contains(&"undefined-acl".to_owned()));
    assert_eq!(user(&doc, "denyall")["admits_none"], true);
    assert_eq!(
        strings(&user(&doc, "undefinedacl")["acl"]),
        ["acl nosuch: undefined (denies everyone)"]
    );
}

#[test]
fn acl_error_deleting_a_user_fails_the_check() {
    let path = data("acl-delete.conf");
    let (code, doc) = json(&path, &[]);
    assert_eq!(code, 1, "{doc}");
    let names: Vec<&str> =
        doc["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fine"]);
    let deleted = &doc["deleted_users"][0];
    assert_eq!(deleted["name"], "ops");
    assert_eq!(codes(deleted), ["acl-deletes-user"]);
    assert_eq!(deleted["findings"][0]["line"], 9);
    assert_eq!(deleted["findings"][0]["severity"], "error");
    assert_eq!(doc["errors"], 1);
    let (code, stdout, _) = ami(&[path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stdout.contains("[ops] DELETED"), "{stdout}");
    assert!(stdout.lines().next().unwrap().contains(": 1 user (1 more deleted by Asterisk);"));
    assert!(stdout.contains("acl-delete.conf:9:"), "{stdout}");
}

#[test]
fn empty_secret_fails_the_check() {
    let (code, doc) = json(&data("empty-secret.conf"), &[]);
    assert_eq!(code, 1);
    let guest = user(&doc, "guest");
    assert_eq!(guest["secret"], "empty");
    assert_eq!(severity(guest, "empty-secret"), "error");
}

#[test]
fn weak_secrets_are_reported_without_printing_them() {
    let (code, doc) = json(&data("weak.conf"), &[]);
    assert_eq!(code, 0);
    for name in ["freepbx", "short", "samename"] {
        let u = user(&doc, name);
        assert_eq!(u["secret"], "weak", "{name}");
        assert_eq!(severity(u, "weak-secret"), "warning", "{name}");
    }
    let strong = user(&doc, "strong");
    assert_eq!(strong["secret"], "set");
    assert!(!codes(strong).contains(&"weak-secret".to_owned()));
    assert_eq!(json(&data("weak.conf"), &["--strict"]).0, 1);
    // `secret S3cr3t-…` (no `=`) is ignored; its text is not echoed.
    let ignored = &doc["findings"][0];
    assert_eq!(ignored["code"], "no-equals");
    assert_eq!(ignored["line"], 21);
}

#[test]
fn fatal_syntax_error_names_file_line_and_fix() {
    let path = data("syntax.conf");
    let (code, stdout, stderr) = ami(&[path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("syntax.conf:7: error: no closing `]`"), "{stderr}");
    assert!(stderr.contains("hint: close the section header with `]`"), "{stderr}");
    let (code, doc) = json(&path, &[]);
    assert_eq!(code, 1);
    assert_eq!(doc["loaded"], false);
    assert_eq!(doc["error"]["line"], 7);
}

#[test]
fn includes_are_read_relative_to_the_config_directory() {
    let (code, doc) = json(&data("include.conf"), &[]);
    assert_eq!(code, 0, "{doc}");
    let alice = user(&doc, "alice");
    assert!(alice["file"].as_str().unwrap().ends_with("manager.d/10-alice.conf"), "{alice}");
    assert_eq!(alice["line"], 1);
    assert!(codes(alice).contains(&"shell-write".to_owned()));
    assert_eq!(strings(&user(&doc, "bob")["read"]), ["call", "cdr"]);
}

#[test]
fn missing_include_is_fatal() {
    let path = data("include-missing.conf");
    let (code, _, stderr) = ami(&[path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stderr.contains("include-missing.conf:5: error:"), "{stderr}");
    assert!(stderr.contains("does-not-exist.conf"), "{stderr}");
    assert!(stderr.contains("#tryinclude"), "{stderr}");
}

#[test]
fn named_acls_come_from_acl_conf() {
    // acl.conf next to manager.conf is used by default.
    let (code, doc) = json(&data("named/manager.conf"), &[]);
    assert_eq!(code, 0, "{doc}");
    let office = user(&doc, "office");
    assert_eq!(
        strings(&office["acl"]),
        [
            "acl officenet: deny 0.0.0.0/0",
            "acl officenet: deny ::/0",
            "acl officenet: permit 192.0.2.0/24"
        ]
    );
    assert!(codes(office).is_empty(), "{office}");
    // --acl-conf replaces it; `officenet` is then undefined and denies everyone.
    let other = data("named/other-acl.conf");
    let (code, doc) = json(&data("named/manager.conf"), &["--acl-conf", other.to_str().unwrap()]);
    assert_eq!(code, 0);
    let office = user(&doc, "office");
    assert_eq!(office["admits_none"], true);
    assert!(codes(office).contains(&"never-login".to_owned()));
}

#[test]
fn secrets_never_appear_in_any_output() {
    let files = [
        "shell.conf",
        "originate.conf",
        "open.conf",
        "quirk.conf",
        "nologin.conf",
        "acl-delete.conf",
        "empty-secret.conf",
        "weak.conf",
        "syntax.conf",
        "include.conf",
        "named/manager.conf",
        "misc.conf",
        "family.conf",
    ];
    for file in files {
        let path = data(file);
        for extra in [&[][..], &["--json"][..], &["--strict"][..]] {
            let mut args = extra.to_vec();
            args.push(path.to_str().unwrap());
            let (_, stdout, stderr) = ami(&args);
            assert!(!stdout.is_empty() || !stderr.is_empty(), "{file}: no output");
            for secret in ["S3cr3t", "amp111", "x9!Q", "SameName"] {
                assert!(!stdout.contains(secret), "{file} {extra:?}: secret in stdout");
                assert!(!stderr.contains(secret), "{file} {extra:?}: secret in stderr");
            }
        }
    }
}

#[test]
fn help_has_examples_and_usage_errors_exit_2() {
    let (code, stdout, _) = ami(&["--help"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("Examples:"), "{stdout}");
    assert!(stdout.contains("ami check --json manager.conf"), "{stdout}");
    assert!(stdout.contains("--strict") && stdout.contains("--acl-conf"), "{stdout}");
    assert!(stdout.contains("Exit status: 0 = no errors"), "{stdout}");
    let (code, _, stderr) = ami(&[]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn unreadable_file_is_an_error() {
    let path = data("no-such-file.conf");
    let (code, stdout, stderr) = ami(&[path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(stderr.contains("cannot read") && stderr.contains("no-such-file.conf"), "{stderr}");
}

#[test]
fn forgiven_acl_error_invalid_port_and_latin1_bytes() {
    let (code, doc) = json(&data("misc.conf"), &[]);
    // The invalid port is an error: Asterisk would listen on an unpredictable port.
    assert_eq!(code, 1, "{doc}");
    let ops = user(&doc, "ops");
    assert_eq!(severity(ops, "acl-error-forgiven"), "warning");
    assert!(codes(ops).contains(&"duplicate-user".to_owned()));
    // The later section dropped the ACL: the user is open again.
    assert_eq!(ops["open_to_all"], true);
    assert!(doc["deleted_users"].as_array().unwrap().is_empty());
    let global: Vec<&str> =
        doc["findings"].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert_eq!(global, ["invalid-port", "not-utf8"]);
    assert_eq!(doc["findings"][0]["line"], 4);
}

#[test]
fn only_the_families_the_listener_accepts_count() {
    let (code, doc) = json(&data("family.conf"), &[]);
    assert_eq!(code, 0, "{doc}");
    // Only IPv6 permitted, AMI on 0.0.0.0: nobody can log in.
    let v6only = user(&doc, "v6only");
    assert_eq!(v6only["admits_none"], false);
    assert_eq!(severity(v6only, "never-login"), "warning");
    // Only IPv6 denied: every IPv4 client, i.e. every client, gets in.
    let v6denied = user(&doc, "v6denied");
    assert_eq!(v6denied["open_to_all"], false);
    assert_eq!(severity(v6denied, "open-network"), "warning");
    // IPv4 restricted, IPv6 open but unreachable: informational only.
    let v4locked = user(&doc, "v4locked");
    assert_eq!(codes(v4locked), ["ipv6-open"]);
    assert_eq!(severity(v4locked, "ipv6-open"), "info");
    assert_eq!(json(&data("family.conf"), &["--strict"]).0, 1);
}

#[test]
fn bridge_configurations_are_understood() {
    let path = data("bridge.conf");
    let (code, out, err) = ami(&[path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ami bridge configuration: NATS nats://127.0.0.1:4222"), "{out}");
    assert!(out.contains("role crm: stream AMI_CRM, events on ami.crm.<pbx>.ev.<Event>"), "{out}");
    // [nats] is not a user, a role needs no secret, `pbx =` is known, AMI needs no `enabled`.
    assert!(!out.contains("[nats]"), "{out}");
    assert!(
        !out.contains("no-secret") && !out.contains("ami-disabled") && !out.contains("unknown"),
        "{out}"
    );
    let (_, v) = json(&path, &[]);
    assert_eq!(v["users"].as_array().map(Vec::len), Some(1), "{v}");
    assert!(v["bridge"][1].as_str().unwrap().contains("AMI_CRM"), "{v}");
    // A broken [nats] section is an error with its line.
    let dir = std::env::temp_dir().join(format!("ami-check-bridge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.conf");
    let text =
        std::fs::read_to_string(&path).unwrap().replace("lease_ttl = 3s", "lease_ttl = soon");
    std::fs::write(&bad, text).unwrap();
    let (code, out, _) = ami(&[bad.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("error[bridge-config]") && out.contains(":5:"), "{out}");
}
