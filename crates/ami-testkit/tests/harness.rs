//! The harness itself against the real Asterisk: start, raw login, CLI, restart, stop by PID.

use std::time::Duration;

use ami_testkit::{ADMIN, Asterisk, DENIED, header};

#[test]
fn starts_answers_restarts_and_stops_by_pid() {
    let ast = Asterisk::start();
    let mut raw = ast.raw();
    assert_eq!(raw.banner(), "Asterisk Call Manager/11.0.0");
    let reply = raw.login(ADMIN, Some("off")).unwrap();
    assert_eq!(header(&reply, "Message"), Some("Authentication accepted"), "{reply}");
    // Asterisk's own view of the session, from its CLI.
    let connected = ast.cli("manager show connected");
    assert!(connected.contains("admin"), "{connected}");
    assert!(ast.cli("core show version").starts_with("Asterisk 22.10.1"));

    // A restart cuts the connection; the same port answers again with a new process.
    let before = ast.pid();
    ast.restart();
    assert_ne!(ast.pid(), before);
    assert_eq!(raw.read_message(Duration::from_secs(5)).unwrap(), None, "the old session ends");
    let mut again = ast.raw();
    let reply = again.login(ADMIN, None).unwrap();
    assert_eq!(header(&reply, "Response"), Some("Success"));

    // The ACL of `denied` refuses loopback, as the conformance capture shows.
    let mut denied = ast.raw();
    let reply = denied.login(DENIED, None).unwrap();
    assert_eq!(header(&reply, "Message"), Some("Authentication failed"), "{reply}");

    let (pid, dir) = (ast.pid(), ast.dir().to_owned());
    let addr = ast.addr();
    drop(ast);
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "stopped by its PID");
    assert!(!dir.exists(), "its run directory is removed after a passing test");
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn shared_instances_are_one_while_held() {
    let a = ami_testkit::shared();
    let b = ami_testkit::shared();
    assert_eq!(a.port(), b.port());
    assert_eq!(a.pid(), b.pid());
}
