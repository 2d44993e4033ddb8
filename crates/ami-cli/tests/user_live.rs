//! `ami user` against the real Asterisk 22 (tests/live/asterisk.sh through ami-testkit): a user
//! added by the editor and applied with `--reload` gets exactly the rights asked for — the
//! actions ListCommands lists, a refused action, the classes of the events it receives —,
//! a reload keeps a removed secret (the note the editor prints says so), and once removed and
//! reloaded the user cannot log in.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use ami_proto::perm::Privilege;
use ami_testkit::{ADMIN, Asterisk, RawAmi, header};

const AMI: &str = env!("CARGO_BIN_EXE_ami");
const CRM_SECRET: &str = "Zk4hW9qLr2Vx7Tn3Pq8m";

/// Runs `ami user ARGS… --reload` against `ast` with the admin account.
fn user(ast: &Asterisk, args: &[&str]) -> Output {
    let target = format!("127.0.0.1:{}", ast.port());
    let conf = ast.manager_conf();
    let mut cmd = Command::new(AMI);
    cmd.arg("user")
        .arg(args[0])
        .arg(&conf)
        .args(&args[1..])
        .args(["--reload", &target, "--reload-user", ADMIN.name, "--reload-secret-env", "ADMIN"])
        .env("ADMIN", ADMIN.secret)
        .env("CRM", CRM_SECRET)
        .env_remove("AMI_SECRET")
        .stdin(Stdio::null());
    let out = cmd.output().expect("run ami user");
    assert!(
        out.status.success(),
        "ami user {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("reloaded the manager configuration (Module Reloaded)"),
        "not reloaded: {text}"
    );
    out
}

/// A plain Login as crm; returns the response.
fn login(ast: &Asterisk, secret: &str) -> (RawAmi, String) {
    let mut ami = ast.raw();
    let action =
        format!("Action: Login\r\nUsername: crm\r\nSecret: {secret}\r\nEvents: on\r\n\r\n");
    ami.send(action.as_bytes()).unwrap();
    let m = ami.read_until(Duration::from_secs(10), |m| m.starts_with("Response:")).unwrap();
    (ami, m.into_iter().last().unwrap_or_default())
}

/// The permission classes of a `Privilege:` or `(Priv: …)` text (`call,cdr,all`, `<none>`).
fn classes(text: &str) -> Privilege {
    text.split(',')
        .filter(|l| *l != "all")
        .filter_map(Privilege::from_label)
        .fold(Privilege::NONE, |a, b| a | b)
}

#[test]
fn a_user_added_by_the_editor_gets_exactly_its_rights_from_asterisk() {
    let ast = Asterisk::start();
    let add = user(
        &ast,
        &[
            "add",
            "crm",
            "--read",
            "call,cdr",
            "--write",
            "originate",
            "--permit",
            "127.0.0.1",
            "--secret-env",
            "CRM",
        ],
    );
    assert!(!String::from_utf8_lossy(&add.stdout).contains(CRM_SECRET));
    let shown = ast.cli("manager show user crm");
    let line = |key: &str| {
        shown.lines().find(|l| l.trim_start().starts_with(key)).unwrap_or_default().to_owned()
    };
    assert_eq!(
        classes(line("read perm:").split(':').nth(1).unwrap().trim()),
        Privilege::CALL | Privilege::CDR,
        "{shown}"
    );
    assert_eq!(
        classes(line("write perm:").split(':').nth(1).unwrap().trim()),
        Privilege::ORIGINATE,
        "{shown}"
    );

    let (mut crm, response) = login(&ast, CRM_SECRET);
    assert!(response.contains("Message: Authentication accepted"), "{response}");

    // ListCommands: exactly the actions whose authority is none or shares a class with
    // originate (Asterisk's rule, spec §4.4).
    crm.send(b"Action: ListCommands\r\nActionID: lc\r\n\r\n").unwrap();
    let listed = crm
        .read_until(Duration::from_secs(10), |m| header(m, "ActionID") == Some("lc"))
        .unwrap()
        .pop()
        .unwrap();
    let mut names = Vec::new();
    for l in listed.lines().filter(|l| l.contains("(Priv: ")) {
        let name = l.split(':').next().unwrap().to_owned();
        let privilege = l.rsplit("(Priv: ").next().unwrap().trim_end_matches(')');
        let authority = classes(privilege);
        assert!(
            authority.is_empty() || authority.intersects(Privilege::ORIGINATE),
            "{name} (Priv: {privilege}) listed for write=originate"
        );
        names.push(name);
    }
    assert!(names.iter().any(|n| n == "Originate"), "{listed}");
    assert!(!names.iter().any(|n| n == "Command" || n == "Reload" || n == "Hangup"), "{listed}");

    // An action of another class is refused.
    crm.send(b"Action: Command\r\nActionID: cmd\r\nCommand: core show version\r\n\r\n").unwrap();
    let refused =
        crm.read_until(Duration::from_secs(10), |m| header(m, "ActionID") == Some("cmd")).unwrap();
    assert!(refused.last().unwrap().contains("Message: Permission denied"), "{refused:?}");

    // A call placed by the admin: crm receives its call and cdr events and nothing else.
    let mut admin = ast.raw();
    admin.login(ADMIN, Some("off")).unwrap();
    admin
        .send(b"Action: Originate\r\nActionID: o\r\nChannel: Local/simple@amitest\r\nApplication: Wait\r\nData: 1\r\nAsync: true\r\n\r\n")
        .unwrap();
    let mut events =
        crm.read_until(Duration::from_secs(30), |m| header(m, "Event") == Some("Cdr")).unwrap();
    // The call's last channel ends around its Cdr: take what follows too.
    events.extend(crm.drain_for(Duration::from_secs(3)).unwrap());
    let events: Vec<&String> = events.iter().filter(|m| m.starts_with("Event:")).collect();
    for e in &events {
        let privilege = header(e, "Privilege").unwrap_or_default();
        assert!(
            (Privilege::CALL | Privilege::CDR).contains(classes(privilege)),
            "crm received an event of {privilege}: {e}"
        );
    }
    let seen = |name: &str| events.iter().any(|e| header(e, "Event") == Some(name));
    assert!(seen("Newchannel") && seen("Hangup") && seen("Cdr"), "{events:#?}");
    assert!(
        !seen("VarSet") && !seen("Newexten") && !seen("UserEvent"),
        "dialplan/user events: {events:#?}"
    );
    drop(crm);

    // Without its secret line the user cannot log in after a restart, but a reload keeps the
    // old secret — as the editor's note says.
    let unset = user(&ast, &["set", "crm", "--no-secret"]);
    assert!(
        String::from_utf8_lossy(&unset.stdout)
            .contains("`manager reload` keeps the previous `secret`")
    );
    let (_, response) = login(&ast, CRM_SECRET);
    assert!(response.contains("Authentication accepted"), "reload kept the secret: {response}");

    // Removed and reloaded: the login fails.
    user(&ast, &["remove", "crm"]);
    let (_, response) = login(&ast, CRM_SECRET);
    assert!(response.contains("Message: Authentication failed"), "{response}");
    assert!(ast.cli("manager show user crm").contains("There is no manager called crm"));
}
