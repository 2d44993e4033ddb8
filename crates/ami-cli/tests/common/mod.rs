//! What the tests that put `ami mock` next to the live Asterisk share: a mock process with
//! the conformance configuration, and messages as ordered header lists.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The `ami` binary under test.
pub const AMI: &str = env!("CARGO_BIN_EXE_ami");

/// The conformance manager.conf the live Asterisk runs with.
pub fn conformance_manager_conf() -> PathBuf {
    ami_testkit::conformance_configs().join("manager.conf")
}

/// A running `ami mock`, killed (by its PID) on drop.
#[derive(Debug)]
pub struct MockProc {
    child: Child,
    addr: SocketAddr,
}

impl MockProc {
    /// `ami mock --listen 127.0.0.1:0 --quiet` with `args`.
    pub fn start(args: &[&str]) -> MockProc {
        let mut child = Command::new(AMI)
            .args(["mock", "--listen", "127.0.0.1:0", "--quiet"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ami mock");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the listening line");
        // "ami mock: listening on 127.0.0.1:PORT (5 users from …)"
        let addr = line
            .split_whitespace()
            .nth(4)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        MockProc { child, addr }
    }

    /// The mock with the conformance manager.conf (and the built-in dialplan, the
    /// conformance extensions.conf), plus `args`.
    pub fn conformance(args: &[&str]) -> MockProc {
        let conf = conformance_manager_conf();
        let mut all = vec!["--config", conf.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        MockProc::start(&all)
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A raw connection to it (banner read).
    pub fn raw(&self) -> ami_testkit::RawAmi {
        ami_testkit::RawAmi::connect(self.addr).expect("connect to the mock")
    }
}

impl Drop for MockProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A message's headers in order (`Name: value`; a line without `": "` keeps its text as name).
pub fn headers(message: &str) -> Vec<(String, String)> {
    message
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(": ") {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => match l.strip_suffix(':') {
                Some(k) => (k.to_owned(), String::new()),
                None => (l.to_owned(), String::new()),
            },
        })
        .collect()
}

/// The first value of header `name`.
pub fn get<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Waits until Asterisk has loaded every module: the harness returns when AMI answers,
/// before the dialplan and most modules are loaded; Asterisk says `FullyBooted` when they are
/// (right after a login, or later).
pub fn fully_booted(ast: &ami_testkit::Asterisk) {
    let mut raw = ast.raw();
    let reply = raw.login(ami_testkit::ADMIN, Some("system")).expect("login");
    assert!(reply.contains("Authentication accepted"), "{reply}");
    raw.read_until(std::time::Duration::from_secs(60), |m| m.starts_with("Event: FullyBooted"))
        .expect("Asterisk did not say FullyBooted within 60 s");
}
