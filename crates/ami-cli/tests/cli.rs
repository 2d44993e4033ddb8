//! The `ami` binary over loopback TCP: `mock` as the server, `action` and `tail` as clients,
//! `demo` end to end.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

mod support;

use support::MockProc;

const AMI: &str = env!("CARGO_BIN_EXE_ami");
const OPERATOR_SECRET: &str = "operator-secret";
const MONITOR_SECRET: &str = "monitor-secret";

/// `ami mock` on `listen`, its calls seeded, with `extra` arguments.
fn mock_on(listen: &str, extra: &[&str]) -> MockProc {
    let mut args = vec!["--seed", "7"];
    args.extend_from_slice(extra);
    MockProc::start_on(listen, &args)
}

/// Runs `ami` with the secret in `$AMI_TEST_SECRET` (never on the command line).
fn ami(args: &[&str], secret: &str) -> Output {
    Command::new(AMI)
        .args(args)
        .env("AMI_TEST_SECRET", secret)
        .env_remove("AMI_SECRET")
        .stdin(Stdio::null())
        .output()
        .expect("run ami")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn action(mock: &MockProc, user: &str, secret: &str, rest: &[&str]) -> Output {
    let target = mock.addr().to_string();
    let mut args =
        vec!["action", target.as_str(), "--user", user, "--secret-env", "AMI_TEST_SECRET"];
    args.extend_from_slice(rest);
    ami(&args, secret)
}

#[test]
fn action_ping_list_command_and_refusals() {
    let mock = mock_on("127.0.0.1:0", &[]);

    let out = action(&mock, "operator", OPERATOR_SECRET, &["Ping"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("Response: Success\nActionID: ami-cli-"), "{stdout}");
    assert!(stdout.contains("\nPing: Pong\n"), "{stdout}");

    // The plain login works too.
    let out = action(&mock, "operator", OPERATOR_SECRET, &["--plain", "CoreSettings"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("AsteriskVersion: 22."), "{}", text(&out.stdout));

    // Command output: the lines of `core show version`.
    let out = action(&mock, "operator", OPERATOR_SECRET, &["Command", "Command=core show version"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Output: Asterisk 22."), "{}", text(&out.stdout));

    // A list, collected: one Status item per channel of a call placed by a sync Originate.
    let out = action(
        &mock,
        "operator",
        OPERATOR_SECRET,
        &["Originate", "Channel=PJSIP/300", "Application=Wait", "Data=30"],
    );
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("Message: Originate successfully queued"));
    let out = action(&mock, "operator", OPERATOR_SECRET, &["--json", "Status"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["response"]["EventList"], "start");
    let items = doc["items"].as_array().expect("items");
    assert!(
        items.iter().any(|i| i["Channel"].as_str().is_some_and(|c| c.starts_with("PJSIP/300-")))
    );
    assert_eq!(doc["complete"]["Event"], "StatusComplete");
    assert_eq!(doc["complete"]["ListItems"], items.len().to_string());

    // Refused by the core: the monitor may not Originate (write = reporting) → exit 1.
    let out =
        action(&mock, "monitor", MONITOR_SECRET, &["Originate", "Channel=PJSIP/1", "Exten=2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("Message: Permission denied"), "{}", text(&out.stdout));

    // Unknown to Asterisk 22 without app_agent_pool, so to the mock: Asterisk's answer.
    let out = action(&mock, "operator", OPERATOR_SECRET, &["Agents"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("Message: Invalid/unknown command: Agents."));

    // A field with CR/LF never reaches the wire.
    let out = action(&mock, "operator", OPERATOR_SECRET, &["Ping", "X=1\r\nAction: Logoff"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot send this action"), "{}", text(&out.stderr));
}

#[test]
fn login_failures_and_connection_errors_are_clear() {
    let mock = mock_on("127.0.0.1:0", &[]);
    let wrong = "not-the-secret-42";
    for method in [&["Ping"][..], &["--plain", "Ping"][..]] {
        let out = action(&mock, "operator", wrong, method);
        assert_eq!(out.status.code(), Some(1));
        let err = text(&out.stderr);
        assert!(err.contains("login as \"operator\""), "{err}");
        assert!(err.contains("refused: Authentication failed"), "{err}");
        assert!(!err.contains(wrong) && !text(&out.stdout).contains(wrong), "secret leaked");
    }
    let out = action(&mock, "nobody", wrong, &["Ping"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("Authentication failed"));

    // Nothing listening: a refused connection, with what to check.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let target = format!("127.0.0.1:{port}");
    let out =
        ami(&["action", &target, "-u", "operator", "--secret-env", "AMI_TEST_SECRET", "Ping"], "x");
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("cannot connect to {target}")), "{err}");
    assert!(err.contains("enabled = yes"), "{err}");

    // No secret source at all: refused before connecting, and it says how to give one.
    let out = Command::new(AMI)
        .args(["action", &target, "-u", "operator", "Ping"])
        .env_remove("AMI_SECRET")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--secret-env VAR or --secret-file FILE"));

    // A bad address is a usage error.
    let out = ami(
        &["action", "127.0.0.1:99999", "-u", "x", "--secret-env", "AMI_TEST_SECRET", "Ping"],
        "x",
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn secret_file_is_read_without_its_newline() {
    let mock = mock_on("127.0.0.1:0", &[]);
    let dir = std::env::temp_dir().join(format!("ami-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("secret");
    std::fs::write(&file, format!("{OPERATOR_SECRET}\n")).unwrap();
    let target = mock.addr().to_string();
    let out = ami(
        &["action", &target, "-u", "operator", "--secret-file", file.to_str().unwrap(), "Ping"],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Spawns `ami tail` and collects its standard output on a thread.
fn tail(target: &str, user: &str, secret: &str, extra: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(AMI)
        .args([
            "tail",
            target,
            "--user",
            user,
            "--secret-env",
            "AMI_TEST_SECRET",
            "--max-backoff",
            "0.5",
        ])
        .args(extra)
        .env("AMI_TEST_SECRET", secret)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ami tail");
    let (tx, rx) = mpsc::channel();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let tx2 = tx.clone();
    thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        let _ = tx.send(format!("OUT:{s}"));
    });
    thread::spawn(move || {
        for line in BufReader::new(&mut stderr).lines().map_while(Result::ok) {
            let _ = tx2.send(format!("ERR:{line}"));
        }
    });
    (child, rx)
}

/// Waits for a stderr line of `ami tail` containing `needle`.
fn wait_stderr(rx: &mpsc::Receiver<String>, needle: &str) {
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.starts_with("ERR:") && line.contains(needle) => return,
            Ok(line) => seen.push(line),
            Err(e) => panic!("no {needle:?} from ami tail ({e}); it said {seen:?}"),
        }
    }
}

fn wait_stdout(rx: &mpsc::Receiver<String>) -> String {
    loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.starts_with("OUT:") => return line[4..].to_owned(),
            Ok(_) => {}
            Err(e) => panic!("ami tail did not finish: {e}"),
        }
    }
}

#[test]
fn tail_filters_events_and_respects_read_rights() {
    let mock = mock_on("127.0.0.1:0", &[]);
    let target = mock.addr().to_string();
    let (mut op, op_rx) =
        tail(&target, "operator", OPERATOR_SECRET, &["--event", "user*", "--json", "--count", "2"]);
    let (mut mon, mon_rx) = tail(&target, "monitor", MONITOR_SECRET, &["--count", "1"]);
    wait_stderr(&op_rx, "connected to");
    wait_stderr(&mon_rx, "connected to");
    for stage in ["one", "two"] {
        let stage_field = format!("Stage={stage}");
        let out = action(
            &mock,
            "operator",
            OPERATOR_SECRET,
            &["UserEvent", "UserEvent=Test", &stage_field],
        );
        assert!(out.status.success());
    }
    let lines = wait_stdout(&op_rx);
    let events: Vec<serde_json::Value> =
        lines.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(events.len(), 2, "{lines}");
    assert_eq!(events[0]["Event"], "UserEvent");
    assert_eq!(events[0]["Stage"], "one");
    assert_eq!(events[1]["Stage"], "two");
    assert_eq!(events[1]["Privilege"], "user,all");
    assert!(op.wait().unwrap().success());

    // The monitor (read = call) saw neither UserEvent (class user); a call event reaches it.
    let out = action(
        &mock,
        "operator",
        OPERATOR_SECRET,
        &["Originate", "Channel=PJSIP/400", "Application=Wait"],
    );
    assert!(out.status.success());
    let block = wait_stdout(&mon_rx);
    assert!(
        block.starts_with("Event: Newchannel\nPrivilege: call,all\nChannel: PJSIP/400-"),
        "{block}"
    );
    assert!(mon.wait().unwrap().success());
}

#[test]
fn tail_reconnects_after_the_mock_restarts() {
    let first = mock_on("127.0.0.1:0", &[]);
    let target = first.addr().to_string();
    let (mut child, rx) =
        tail(&target, "operator", OPERATOR_SECRET, &["--event", "UserEvent", "--count", "1"]);
    wait_stderr(&rx, "connected to");
    drop(first); // the PBX goes away
    wait_stderr(&rx, "lost");
    let second = mock_on(&target, &[]);
    wait_stderr(&rx, "connected to"); // logged in again
    let out =
        action(&second, "operator", OPERATOR_SECRET, &["UserEvent", "UserEvent=AfterRestart"]);
    assert!(out.status.success());
    let block = wait_stdout(&rx);
    assert!(block.contains("UserEvent: AfterRestart"), "{block}");
    assert!(child.wait().unwrap().success());
}

#[test]
fn demo_shows_both_users_views_and_exits() {
    let out = Command::new(AMI)
        .args(["demo", "--duration", "3", "--width", "140"])
        .stdin(Stdio::null())
        .output()
        .expect("run ami demo");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert!(stdout.contains("OPERATOR sees (read = all)"), "{stdout}");
    assert!(stdout.contains("MONITOR sees (read = call)"), "{stdout}");
    assert!(stdout.contains("operator: Originate PJSIP/100 -> 200: accepted"), "{stdout}");
    assert!(
        stdout.contains("monitor:  Originate PJSIP/101 -> 200: refused: Permission denied"),
        "{stdout}"
    );
    assert!(stdout.contains("[withheld from monitor: "), "{stdout}");
    assert!(
        stdout.contains("withheld from monitor: ") && stdout.contains("UserEvent (user)"),
        "{stdout}"
    );
    // Every right-hand (monitor) line that shows an event is a call-class event.
    for line in stdout.lines().filter(|l| l.contains(" | ")) {
        let right = line.split(" | ").nth(1).unwrap_or("").trim();
        for forbidden in
            ["UserEvent", "VarSet", "Cdr ", "Newexten", "FullyBooted", "SuccessfulAuth"]
        {
            assert!(!right.contains(forbidden), "monitor saw {forbidden}: {line}");
        }
    }
    assert!(!stdout.contains(OPERATOR_SECRET) && !stdout.contains(MONITOR_SECRET));
}

#[test]
fn every_subcommand_has_help_with_examples() {
    for sub in ["demo", "mock", "tail", "action", "check", "proxy", "decode"] {
        let out = Command::new(AMI).args([sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "{sub}");
        let help = text(&out.stdout);
        assert!(help.contains("Examples:"), "{sub}: {help}");
        assert!(help.contains(&format!("ami {sub}")), "{sub}: {help}");
        assert!(!help.contains("--secret "), "{sub}: a plain --secret option exists");
    }
}

#[test]
fn a_bad_config_line_is_reported_with_its_file_and_line() {
    let dir = std::env::temp_dir().join(format!("ami-cli-badconf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("broken.conf");
    std::fs::write(&path, "[general]\nenabled = yes\n[broken\nsecret = x\n").unwrap();
    let out = Command::new(AMI)
        .args(["mock", "--listen", "127.0.0.1:0", "--config", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{}:3: no closing `]`", path.display())), "{err}");
    assert!(err.contains("ami check"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_closed_pipe_ends_quietly_with_status_0() {
    let mock = mock_on("127.0.0.1:0", &["--calls-per-second", "50"]);
    let target = mock.addr().to_string();
    let runs: [Vec<&str>; 2] = [
        vec!["demo", "--duration", "3"],
        vec!["tail", target.as_str(), "-u", "operator", "--secret-env", "AMI_TEST_SECRET"],
    ];
    for args in runs {
        let mut child = Command::new(AMI)
            .args(&args)
            .env("AMI_TEST_SECRET", OPERATOR_SECRET)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ami");
        // Like `| head -1`: read a line, then close the pipe.
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert!(!first.is_empty());
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn demo_reads_well_in_80_columns() {
    let out = Command::new(AMI)
        .args(["demo", "--duration", "3", "--width", "80"])
        .stdin(Stdio::null())
        .output()
        .expect("run ami demo");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    for line in stdout.lines() {
        assert!(line.chars().count() <= 80, "{} columns: {line:?}", line.chars().count());
    }
    // Nothing is cut: the words that matter appear whole, wrapped if need be.
    let flat = stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for word in ["accepted:", "refused:", "[withheld", "withheld from monitor:"] {
        assert!(flat.contains(word), "{word} missing from\n{stdout}");
    }
    assert!(!stdout.contains('~'), "a cut cell:\n{stdout}");
    // The summary wraps instead of running past the width.
    assert!(stdout.contains("Summary after"), "{stdout}");
}

#[test]
fn completions_and_the_manual_page() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ami(&["completions", shell], "");
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(script.contains("tail") && script.contains("secret-env"), "{shell}: {script}");
    }
    let out = ami(&["man"], "");
    assert!(out.status.success());
    let page = text(&out.stdout);
    assert!(page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH ami 1"), "{page}");
    // roff escapes dashes: `\-\-tls\-ca`.
    for section in ["AMI TAIL", "AMI ACTION", "AMI PROXY", "\\-\\-tls\\-ca", "\\-\\-secret\\-env"] {
        assert!(page.contains(section), "{section} missing from the man page");
    }
}
