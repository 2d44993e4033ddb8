//! Integration tests of `ami user`: the binary on copies of the conformance manager.conf and on
//! crafted files, with `ami mock` as the server for `--reload`.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const AMI: &str = env!("CARGO_BIN_EXE_ami");

/// The conformance manager.conf recorded against Asterisk 22.
fn conformance() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../ami-proto/tests/data/asterisk-22/manager.conf");
    fs::read_to_string(path).expect("conformance manager.conf")
}

/// A fresh directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("ami-user-test-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("temp dir");
        Dir(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        fs::write(&p, text).expect("write");
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs `ami user ARGS…` with `env` set.
fn user(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(AMI);
    cmd.arg("user").args(args).env_remove("AMI_SECRET").stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run ami user")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exit code")
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", out(o), err(o)))
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

#[test]
fn help_has_examples_and_usage_errors_exit_2() {
    let o = Command::new(AMI).args(["user", "--help"]).output().unwrap();
    assert_eq!(code(&o), 0);
    for want in ["Examples:", "ami user add", "--reload", "manager reload", "Exit status"] {
        assert!(out(&o).contains(want), "{want}: {}", out(&o));
    }
    let o = Command::new(AMI).args(["user", "add", "--help"]).output().unwrap();
    for want in ["--generate-secret", "--secret-env", "--permit", "--dry-run", "--json"] {
        assert!(out(&o).contains(want), "{want}");
    }
    let dir = Dir::new("usage");
    let conf = dir.file("manager.conf", &conformance());
    for args in [
        vec!["add", p(&conf)],
        vec!["add", p(&conf), "x", "--bogus"],
        vec!["add", p(&conf), "x", "--read", "Call"],
        vec!["add", p(&conf), "x", "--read", ",call"],
        vec!["add", p(&conf), "x", "--show-secret"],
        vec!["add", p(&conf), "x", "--generate-secret", "--secret-env", "S"],
        vec!["set", p(&conf), "admin"],
        vec!["add", p(&conf), "x", "--reload", "127.0.0.1:1"],
    ] {
        let o = user(&args, &[]);
        assert_eq!(code(&o), 2, "{args:?}: {}{}", out(&o), err(&o));
    }
    assert_eq!(fs::read_to_string(&conf).unwrap(), conformance(), "usage errors write nothing");
}

#[test]
fn add_writes_the_section_keeps_everything_else_and_hides_the_secret() {
    let dir = Dir::new("add");
    let conf = dir.file("manager.conf", &conformance());
    fs::set_permissions(&conf, fs::Permissions::from_mode(0o640)).unwrap();
    let secret_file = dir.0.join("crm.secret");
    let o = user(
        &[
            "add",
            p(&conf),
            "crm",
            "--read",
            "call,cdr",
            "--write",
            "originate",
            "--permit",
            "10.0.0.0/8",
            "--generate-secret",
            "--secret-out",
            p(&secret_file),
        ],
        &[],
    );
    assert_eq!(code(&o), 0, "{}{}", out(&o), err(&o));
    let text = fs::read_to_string(&conf).unwrap();
    assert!(text.starts_with(&conformance()), "the original lines are kept");
    let secret = fs::read_to_string(&secret_file).unwrap();
    let secret = secret.trim_end();
    assert_eq!(secret.len(), 32);
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(
        &text[conformance().len()..],
        format!(
            "\n[crm]\nsecret = {secret}\nread = call,cdr\nwrite = originate\ndeny = 0.0.0.0/0\n\
             deny = ::/0\npermit = 10.0.0.0/8\n"
        )
    );
    assert_eq!(mode(&conf), 0o640, "the file keeps its mode");
    assert_eq!(mode(&secret_file), 0o600);
    let shown = out(&o) + &err(&o);
    assert!(!shown.contains(secret), "the secret is never printed: {shown}");
    for want in [
        "+[crm]",
        "+secret = <hidden>",
        "+read = call,cdr",
        "  read:    call,cdr",
        "  write:   originate (1 privileged action)",
        "  network: deny 0.0.0.0/0, deny ::/0, permit 10.0.0.0/8 (restricted)",
        "warning[originate-escalation]",
        "manager reload",
    ] {
        assert!(shown.contains(want), "{want:?} missing in {shown}");
    }
    // `ami check` agrees and finds no error.
    let o = Command::new(AMI).args(["check", "--json", p(&conf)]).output().unwrap();
    assert_eq!(code(&o), 0);
    let doc = json(&o);
    let crm = doc["users"].as_array().unwrap().iter().find(|u| u["name"] == "crm").unwrap();
    assert_eq!(crm["read"], serde_json::json!(["call", "cdr"]));
    assert_eq!(crm["write"], serde_json::json!(["originate"]));
}

#[test]
fn show_secret_json_and_secret_sources() {
    let dir = Dir::new("json");
    let conf = dir.file("manager.conf", "[general]\nenabled = yes\n");
    let o = user(
        &[
            "add",
            p(&conf),
            "a",
            "--generate-secret",
            "--secret-length",
            "20",
            "--show-secret",
            "--json",
        ],
        &[],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let doc = json(&o);
    let secret = doc["secret"].as_str().expect("shown when asked");
    assert_eq!(secret.len(), 20);
    assert!(fs::read_to_string(&conf).unwrap().contains(&format!("secret = {secret}\n")));
    assert!(!doc["changes"][0]["diff"].as_str().unwrap().contains(secret));
    assert_eq!(doc["user"]["read"], serde_json::json!([]));
    assert_eq!(doc["written"][0], p(&conf));
    // From an environment variable, with a `;` that must be escaped.
    let o = user(
        &["set", p(&conf), "A", "--secret-env", "NEW", "--json"],
        &[("NEW", "p;ss-Word-123456")],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(json(&o)["secret"].is_null());
    assert!(fs::read_to_string(&conf).unwrap().contains("secret = p\\;ss-Word-123456\n"));
    assert!(!out(&o).contains("p;ss") && !out(&o).contains("p\\;ss"));
    // From a file; a secret Asterisk would strip is refused with exit 1 and nothing written.
    let before = fs::read_to_string(&conf).unwrap();
    let bad = dir.file("bad.secret", " padded \n");
    let o = user(&["set", p(&conf), "a", "--secret-file", p(&bad)], &[]);
    assert_eq!(code(&o), 1, "{}", out(&o));
    assert!(err(&o).contains("blank") && !err(&o).contains("padded"), "{}", err(&o));
    assert_eq!(fs::read_to_string(&conf).unwrap(), before);
}

#[test]
fn dry_run_writes_nothing_and_refusals_exit_1() {
    let dir = Dir::new("dry");
    let conf = dir.file("manager.conf", &conformance());
    let o = user(&["set", p(&conf), "READER", "--read", "call", "--dry-run"], &[]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("-read = call,cdr,agent,user\n+read = call\n"), "{}", out(&o));
    assert!(out(&o).contains("dry run: nothing was written"));
    assert_eq!(fs::read_to_string(&conf).unwrap(), conformance());
    for (args, want) in [
        (vec!["add", p(&conf), "admin"], "already used by the section at"),
        (vec!["set", p(&conf), "nobody", "--read", "call"], "there is no user `nobody`"),
        (vec!["add", p(&conf), "general"], "settings section"),
        (vec!["set", p(&conf), "reader", "--permit", "10.0.0.1:5038"], "contains a port"),
        (vec!["add", p(&conf), "root", "--write", "system", "--strict"], "shell-write"),
    ] {
        let o = user(&args, &[]);
        assert_eq!(code(&o), 1, "{args:?}: {}", out(&o));
        assert!(err(&o).contains(want), "{args:?}: {}", err(&o));
        assert_eq!(fs::read_to_string(&conf).unwrap(), conformance());
    }
    // JSON refusals are documents too.
    let o = user(&["add", p(&conf), "admin", "--json"], &[]);
    assert_eq!(json(&o)["ok"], false);
}

#[test]
fn set_rename_remove_and_general() {
    let dir = Dir::new("set");
    let conf = dir.file("manager.conf", &conformance());
    let o = user(
        &[
            "set",
            p(&conf),
            "limited",
            "--write",
            "call",
            "--rename",
            "operator",
            "--eventfilter",
            "Event: Hangup",
            "--no-setvars",
        ],
        &[],
    );
    assert_eq!(code(&o), 0, "{}", err(&o));
    let text = fs::read_to_string(&conf).unwrap();
    assert!(text.contains("[operator]\nsecret = limited123\nread = system,call\nwrite = call\neventfilter = Event: Hangup\n"), "{text}");
    assert!(out(&o).contains("sessions already logged in as `limited`"));
    let o = user(&["remove", p(&conf), "operator"], &[]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("user `operator` removed"));
    assert!(!fs::read_to_string(&conf).unwrap().contains("[operator]"));
    let o = user(&["disable-ami", p(&conf)], &[]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert!(out(&o).contains("-enabled = yes\n+enabled = no\n"), "{}", out(&o));
    assert!(out(&o).contains("AMI is off"));
    // Later edits remind that nobody can log in.
    let o = user(&["set", p(&conf), "admin", "--read", "call"], &[]);
    assert!(out(&o).contains("note: AMI is off in this file"), "{}", out(&o));
    // Nothing to change is not an error.
    let o = user(&["disable-ami", p(&conf)], &[]);
    assert_eq!(code(&o), 0);
    assert!(out(&o).contains("nothing to change"));
}

#[test]
fn list_and_show() {
    let dir = Dir::new("list");
    let conf = dir.file(
        "manager.conf",
        &format!(
            "{}\n[broken]\nsecret = Broken-Secret-99\npermit = 10.0.0.1:5038\n",
            conformance()
        ),
    );
    let o = user(&["list", p(&conf)], &[]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let text = out(&o);
    assert!(text.contains("5 users; AMI enabled"), "{text}");
    assert!(text.contains("reader    weak") && text.contains("DELETED by Asterisk"), "{text}");
    let o = user(&["list", p(&conf), "--json"], &[]);
    let doc = json(&o);
    assert_eq!(doc["users"].as_array().unwrap().len(), 5);
    assert_eq!(doc["deleted_users"], serde_json::json!(["broken"]));
    let o = user(&["show", p(&conf), "DENIED"], &[]);
    assert!(out(&o).starts_with("[denied] ("), "{}", out(&o));
    assert!(out(&o).contains("network: deny 0.0.0.0/0, permit 10.0.0.0/8"));
    let o = user(&["show", p(&conf), "broken"], &[]);
    assert!(out(&o).contains("DELETED") && out(&o).contains("--permit"), "{}", out(&o));
    // Repaired by a new ACL.
    let o = user(&["set", p(&conf), "broken", "--permit", "10.0.0.1"], &[]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let o = user(&["show", p(&conf), "broken", "--json"], &[]);
    assert_eq!(
        json(&o)["acl"],
        serde_json::json!(["deny 0.0.0.0/0", "deny ::/0", "permit 10.0.0.1/32"])
    );
    let o = user(&["show", p(&conf), "nobody"], &[]);
    assert_eq!(code(&o), 1);
}

#[test]
fn users_in_included_files_are_edited_there() {
    let dir = Dir::new("include");
    let main = "[general]\nenabled = yes\n#include users.d/*.conf\n";
    let conf = dir.file("manager.conf", main);
    fs::create_dir_all(dir.0.join("users.d")).unwrap();
    let users = dir.file(
        "users.d/crm.conf",
        "; the CRM\r\n[crm]\r\nsecret = Crm-Secret-2024x\r\nread = all\r\n",
    );
    let o = user(&["set", p(&conf), "crm", "--read", "call"], &[]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    assert_eq!(fs::read_to_string(&conf).unwrap(), main);
    assert_eq!(
        fs::read_to_string(&users).unwrap(),
        "; the CRM\r\n[crm]\r\nsecret = Crm-Secret-2024x\r\nread = call\r\n"
    );
    assert!(out(&o).contains("users.d/crm.conf"), "{}", out(&o));
}

#[test]
fn a_file_that_is_not_utf8_is_not_edited() {
    let dir = Dir::new("latin1");
    let conf = dir.0.join("manager.conf");
    fs::write(&conf, b"; caf\xe9\n[general]\nenabled = yes\n").unwrap();
    let o = user(&["add", p(&conf), "x"], &[]);
    assert_eq!(code(&o), 1);
    assert!(err(&o).contains("not valid UTF-8"), "{}", err(&o));
}

/// A running `ami mock`; killed on drop.
struct Mock {
    child: Child,
    addr: String,
}

impl Mock {
    fn start(record: &Path) -> Mock {
        let mut child = Command::new(AMI)
            .args(["mock", "--listen", "127.0.0.1:0", "--quiet", "--record", p(record)])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ami mock");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line.split_whitespace().nth(4).unwrap_or_default().to_owned();
        Mock { child, addr }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn reload_sends_reload_module_manager() {
    let dir = Dir::new("reload");
    let conf = dir.file("manager.conf", "[general]\nenabled = yes\n");
    let record = dir.0.join("record.jsonl");
    let mock = Mock::start(&record);
    let o = user(
        &[
            "add",
            p(&conf),
            "crm",
            "--read",
            "call",
            "--reload",
            &mock.addr,
            "--reload-user",
            "operator",
            "--reload-secret-env",
            "OP",
        ],
        &[("OP", "operator-secret")],
    );
    assert_eq!(code(&o), 0, "{}{}", out(&o), err(&o));
    assert!(
        out(&o).contains(&format!(
            "Asterisk at {} reloaded the manager configuration (Module Reloaded)",
            mock.addr
        )),
        "{}",
        out(&o)
    );
    let recorded = fs::read_to_string(&record).unwrap();
    let headers: Vec<Value> = recorded
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["headers"].clone())
        .collect();
    let reload = headers
        .iter()
        .find(|h| h[0] == serde_json::json!(["Action", "Reload"]))
        .unwrap_or_else(|| panic!("no Reload in {recorded}"));
    assert!(reload.as_array().unwrap().contains(&serde_json::json!(["Module", "manager"])));
    // An account that may not reload: the file is written, the failure says why (exit 1).
    let o = user(
        &[
            "set",
            p(&conf),
            "crm",
            "--read",
            "cdr",
            "--reload",
            &mock.addr,
            "--reload-user",
            "monitor",
            "--reload-secret-env",
            "MON",
        ],
        &[("MON", "monitor-secret")],
    );
    assert_eq!(code(&o), 1, "{}", out(&o));
    assert!(
        err(&o).contains("Permission denied") && err(&o).contains("write `system` or `config`"),
        "{}",
        err(&o)
    );
    assert!(fs::read_to_string(&conf).unwrap().contains("read = cdr"));
    // --dry-run never reloads.
    let o = user(
        &[
            "set",
            p(&conf),
            "crm",
            "--read",
            "call",
            "--dry-run",
            "--reload",
            &mock.addr,
            "--reload-user",
            "operator",
            "--reload-secret-env",
            "OP",
        ],
        &[("OP", "operator-secret")],
    );
    assert_eq!(code(&o), 0);
    assert!(out(&o).contains("dry run"));
}
