//! What the `ami` integration tests share: child processes, a blocking AMI client, the
//! mock's `--record` file, a proxy in front of a mock, and (for the tests that put `ami mock`
//! next to the live Asterisk) a mock with the conformance configuration and messages as ordered
//! header lists.
#![allow(dead_code)] // each test binary uses a part

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ami_proto::{Decoder, Frame, OwnedMessage, Role};

pub const AMI: &str = env!("CARGO_BIN_EXE_ami");

/// A child `ami` process (killed on drop) and the first address it printed.
pub struct Proc {
    pub child: Child,
    pub addr: SocketAddr,
    /// The TLS listener's address, if the line names one (`…, TLS on ADDR; …`).
    pub tls_addr: Option<SocketAddr>,
    /// The first line it printed (the listening line).
    pub line: String,
    stderr: Arc<Mutex<String>>,
}

impl Proc {
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(AMI);
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn ami");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        // "ami mock: listening on ADDR (…" / "ami proxy: listening on ADDR; …"
        let addr = line
            .split_whitespace()
            .nth(4)
            .map(|a| a.trim_end_matches([';', ',']))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        let tls_addr = line
            .split("TLS on ")
            .nth(1)
            .and_then(|rest| rest.split([';', ' ']).next())
            .and_then(|a| a.parse().ok());
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Proc { child, addr, tls_addr, line, stderr }
    }

    /// The metrics address of the listening line (`… metrics on http://ADDR/metrics`).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.line.split("http://").nth(1)?.split('/').next()?.parse().ok()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ami-proxy-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn start_mock(listen: &str, record: &Path) -> Proc {
    Proc::spawn(
        &["mock", "--listen", listen, "--seed", "5", "--record", record.to_str().unwrap()],
        &[],
    )
}

pub const USERS: &str = "\
[alice]
secret = alice-secret
read = call,user
write = call,originate,user

[bob]
secret = bob-secret
read = call,user
write = call,originate,user

[watch]
secret = watch-secret
read = user
write = user

[firehose]
secret = firehose-secret
read = all
write = user
";

pub fn start_proxy(dir: &std::path::Path, upstream: SocketAddr, extra: &[&str]) -> Proc {
    let conf = format!(
        "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nport = 5038\n\n\
         [upstream:pbx]\nhost = 127.0.0.1\nport = {}\nusername = operator\n\
         secret_env = PBX_SECRET\naction_timeout = 5\n\n{USERS}",
        upstream.port()
    );
    let path = dir.join("proxy.conf");
    std::fs::write(&path, conf).unwrap();
    let mut args = vec![
        "proxy",
        "--config",
        path.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--max-backoff",
        "0.3",
    ];
    args.extend_from_slice(extra);
    let p = Proc::spawn(&args, &[("PBX_SECRET", "operator-secret")]);
    // Wait until the upstream is logged in.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !p.stderr().contains("upstream pbx logged in") {
        assert!(Instant::now() < deadline, "proxy never logged in upstream: {}", p.stderr());
        thread::sleep(Duration::from_millis(20));
    }
    p
}

/// A blocking test client.
pub struct Client {
    pub stream: TcpStream,
    pub decoder: Decoder,
    pub got: Vec<OwnedMessage>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let mut c = Client { stream, decoder: Decoder::new(Role::Client), got: Vec::new() };
        c.wait_for(|_| true); // the banner arrives as a frame we skip
        c
    }

    pub fn login(addr: SocketAddr, user: &str, secret: &str) -> Client {
        let mut c = Client::connect(addr);
        c.send(&format!(
            "Action: Login\r\nActionID: login\r\nUsername: {user}\r\nSecret: {secret}\r\n\r\n"
        ));
        let r = c.response("login");
        assert_eq!(r.get("Message"), Some(&b"Authentication accepted"[..]), "{r:?}");
        c
    }

    pub fn send(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).unwrap();
    }

    /// Reads until `done` holds for the messages received so far (20 s at most).
    pub fn wait_for(&mut self, mut done: impl FnMut(&[OwnedMessage]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut buf = [0u8; 65536];
        let mut first = true;
        loop {
            while let Some(frame) = self.decoder.next_frame() {
                match frame {
                    Ok(Frame::Message(m)) => self.got.push(m.to_owned_message()),
                    Ok(Frame::Banner(_)) if first => return,
                    _ => {}
                }
            }
            first = false;
            if done(&self.got) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out; got {:#?}", self.got);
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    assert!(done(&self.got), "connection closed; got {:#?}", self.got);
                    return;
                }
                Ok(n) => self.decoder.feed(&buf[..n]),
                Err(_) => {}
            }
        }
    }

    /// Waits for and removes the response with this ActionID.
    pub fn response(&mut self, id: &str) -> OwnedMessage {
        self.wait_for(|got| {
            got.iter().any(|m| {
                m.get("ActionID") == Some(id.as_bytes()) && m.as_message().response().is_some()
            })
        });
        let i = self
            .got
            .iter()
            .position(|m| {
                m.get("ActionID") == Some(id.as_bytes()) && m.as_message().response().is_some()
            })
            .unwrap();
        self.got.remove(i)
    }

    pub fn events_named(&self, name: &str) -> Vec<&OwnedMessage> {
        self.got.iter().filter(|m| m.as_message().event() == Some(name.as_bytes())).collect()
    }

    /// Reads whatever arrives for `ms` milliseconds.
    pub fn settle(&mut self, ms: u64) {
        let until = Instant::now() + Duration::from_millis(ms);
        self.wait_for(|_| Instant::now() >= until);
    }
}

/// The actions the mock received, as `(action, headers)`.
pub fn recorded(path: &Path) -> Vec<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| (h[0].as_str().unwrap().to_owned(), h[1].as_str().unwrap().to_owned()))
                .collect()
        })
        .collect()
}

pub fn recorded_actions(path: &Path) -> Vec<String> {
    recorded(path)
        .iter()
        .filter_map(|hs| {
            hs.iter().find(|(k, _)| k.eq_ignore_ascii_case("Action")).map(|(_, v)| v.clone())
        })
        .collect()
}

pub fn text(v: Option<&[u8]>) -> String {
    String::from_utf8_lossy(v.unwrap_or_default()).into_owned()
}

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
        MockProc::start_on("127.0.0.1:0", args)
    }

    /// `ami mock --listen LISTEN --quiet` with `args` (e.g. a mock started again on the port
    /// of one that was stopped).
    pub fn start_on(listen: &str, args: &[&str]) -> MockProc {
        let mut child = Command::new(AMI)
            .args(["mock", "--listen", listen, "--quiet"])
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
