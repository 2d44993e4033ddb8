//! The live Asterisk of libami's test suites.
//!
//! Every suite that checks libami against the real server (Rust, CLI, Python, C, Node) goes
//! through one harness, `tests/live/asterisk.sh`; this crate is its Rust face. An [`Asterisk`]
//! is a private instance: its own run directory (the conformance configs of
//! `crates/ami-proto/tests/data/asterisk-22`), a free loopback AMI port, stopped by its PID when
//! the value is dropped. If the test panicked, the tail of its log is printed first.
//!
//! ```no_run
//! use std::io::{BufRead, BufReader};
//!
//! let ast = ami_testkit::Asterisk::start();
//! let stream = std::net::TcpStream::connect(ast.addr()).unwrap();
//! let mut banner = String::new();
//! BufReader::new(stream).read_line(&mut banner).unwrap();
//! assert!(banner.starts_with("Asterisk Call Manager/"));
//! assert!(ast.cli("core show version").contains("Asterisk 22"));
//! ```
//!
//! Asterisk comes from `$LIBAMI_ASTERISK`, by default the cache prefix `make asterisk` builds
//! into; without it every test that asks for one fails, saying so (nothing is skipped).
//!
//! The users are those of the conformance `manager.conf`: [`ADMIN`], [`READER`], [`LIMITED`],
//! [`DENIED`], [`FILTERED`]; its dialplan context `amitest` places real calls on Local channels
//! (`Local/start@amitest` dials `Local/answer@amitest`: about 120 events per call).
//! [`record_call`] records the bytes one session receives during a call, for decoder tests.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

mod capture;
mod raw;

pub use capture::{NaiveLine, naive_decode, record_call};
pub use raw::{RawAmi, header};

/// A manager.conf user of the conformance configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct User {
    /// The user name.
    pub name: &'static str,
    /// Its secret.
    pub secret: &'static str,
}

/// `read = all`, `write = all`.
pub const ADMIN: User = User { name: "admin", secret: "admin123" };
/// `read = call,cdr,agent,user`, no write classes.
pub const READER: User = User { name: "reader", secret: "reader123" };
/// `read = system,call`, `write = originate,call`.
pub const LIMITED: User = User { name: "limited", secret: "limited123" };
/// Full rights, but its ACL permits only 10.0.0.0/8: refused from loopback.
pub const DENIED: User = User { name: "denied", secret: "denied123" };
/// Full rights with legacy and structured event filters.
pub const FILTERED: User = User { name: "filtered", secret: "filtered123" };

/// Why the harness could not do what was asked.
#[derive(Debug)]
pub enum HarnessError {
    /// The harness script could not be run.
    Spawn {
        /// What was run.
        command: String,
        /// The error.
        source: io::Error,
    },
    /// The harness script failed; `stderr` says why (Asterisk missing, start-up failed, ...).
    Failed {
        /// What was run.
        command: String,
        /// Its standard error (and the log tail it printed).
        stderr: String,
    },
    /// The script printed something that is not `PORT PID`.
    BadOutput {
        /// What it printed.
        stdout: String,
    },
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HarnessError::Spawn { command, source } => write!(f, "cannot run {command}: {source}"),
            HarnessError::Failed { command, stderr } => {
                write!(f, "{command} failed:\n{}", stderr.trim_end())
            }
            HarnessError::BadOutput { stdout } => {
                write!(f, "the harness printed {stdout:?} instead of `PORT PID`")
            }
        }
    }
}

impl std::error::Error for HarnessError {}

/// The harness script, `tests/live/asterisk.sh` of this repository.
pub fn harness_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/live/asterisk.sh")
}

/// The conformance configs (manager.conf, extensions.conf, queues.conf, confbridge.conf).
pub fn conformance_configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ami-proto/tests/data/asterisk-22")
}

fn run_harness(args: &[&std::ffi::OsStr]) -> Result<Output, HarnessError> {
    let script = harness_script();
    let command = format!(
        "{} {}",
        script.display(),
        args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
    );
    let out = Command::new("bash")
        .arg(&script)
        .args(args)
        .env("LIBAMI_OWNER_PID", std::process::id().to_string())
        .output()
        .map_err(|source| HarnessError::Spawn { command: command.clone(), source })?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(HarnessError::Failed {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }
}

fn parse_started(out: &Output) -> Result<(u16, u32), HarnessError> {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut words = stdout.split_whitespace();
    match (words.next().map(str::parse), words.next().map(str::parse)) {
        (Some(Ok(port)), Some(Ok(pid))) => Ok((port, pid)),
        _ => Err(HarnessError::BadOutput { stdout }),
    }
}

/// A private Asterisk on loopback, stopped by its PID when dropped.
#[derive(Debug)]
pub struct Asterisk {
    dir: PathBuf,
    port: u16,
    pid: Mutex<u32>,
}

static NEXT_DIR: AtomicU32 = AtomicU32::new(1);

impl Asterisk {
    /// Starts one with the conformance configs; panics (failing the test) with the harness's
    /// explanation if it cannot.
    pub fn start() -> Asterisk {
        Asterisk::try_start().unwrap_or_else(|e| panic!("cannot start the live Asterisk: {e}"))
    }

    /// Starts one with the conformance configs.
    pub fn try_start() -> Result<Asterisk, HarnessError> {
        Asterisk::try_start_with(&conformance_configs())
    }

    /// Starts one whose manager.conf, extensions.conf, queues.conf and confbridge.conf come
    /// from `conf_dir`.
    pub fn try_start_with(conf_dir: &Path) -> Result<Asterisk, HarnessError> {
        // Short: Asterisk's control socket lives in <dir>/run (a 108-byte path limit).
        let dir = std::env::temp_dir().join(format!(
            "ami-live-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let out = run_harness(&["start".as_ref(), dir.as_os_str(), conf_dir.as_os_str()])?;
        let (port, pid) = parse_started(&out)?;
        Ok(Asterisk { dir, port, pid: Mutex::new(pid) })
    }

    /// The AMI address, `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The AMI port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The run directory (`etc/manager.conf` is the live configuration).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The process id of the running Asterisk.
    pub fn pid(&self) -> u32 {
        *self.pid.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The live manager.conf: edit it, then `cli("manager reload")`.
    pub fn manager_conf(&self) -> PathBuf {
        self.dir.join("etc/manager.conf")
    }

    /// Runs a CLI command in this instance (`asterisk -rx`) and returns what it printed; panics
    /// if it cannot be run.
    pub fn cli(&self, command: &str) -> String {
        let out = run_harness(&["cli".as_ref(), self.dir.as_os_str(), command.as_ref()])
            .unwrap_or_else(|e| panic!("asterisk -rx {command:?}: {e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Stops it and starts it again on the same port with the same files; returns when AMI
    /// answers. Connections are cut, as when a PBX restarts.
    pub fn restart(&self) {
        let out = run_harness(&["restart".as_ref(), self.dir.as_os_str()])
            .unwrap_or_else(|e| panic!("restarting the live Asterisk: {e}"));
        let (_, pid) =
            parse_started(&out).unwrap_or_else(|e| panic!("restarting the live Asterisk: {e}"));
        *self.pid.lock().unwrap_or_else(|e| e.into_inner()) = pid;
    }

    /// Stops it (SIGTERM, SIGKILL after 10 s) without removing its directory; [`restart`]
    /// starts it again.
    ///
    /// [`restart`]: Asterisk::restart
    pub fn stop(&self) {
        let _ = run_harness(&["stop".as_ref(), self.dir.as_os_str()]);
    }

    /// The last `lines` lines of its logs (messages.log and the console).
    pub fn log_tail(&self, lines: usize) -> String {
        let n = lines.to_string();
        match run_harness(&["log".as_ref(), self.dir.as_os_str(), n.as_ref()]) {
            Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
            Err(e) => format!("(no log: {e})"),
        }
    }

    /// Connects a raw AMI connection (banner read) to it.
    pub fn raw(&self) -> RawAmi {
        RawAmi::connect(self.addr())
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.addr()))
    }

    /// Waits until a TCP connection to the AMI port is refused (after [`stop`](Asterisk::stop)).
    pub fn wait_down(&self, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if TcpStream::connect_timeout(&self.addr(), Duration::from_millis(200)).is_err() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Asterisk {
    fn drop(&mut self) {
        let failed = std::thread::panicking();
        if failed {
            eprintln!(
                "---- the live Asterisk in {} (port {}), its log tail:\n{}",
                self.dir.display(),
                self.port,
                self.log_tail(60)
            );
        }
        self.stop();
        if !failed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// One Asterisk shared by the tests of a test binary that run at the same time: started by
/// the first caller, stopped when the last holder drops it (a later caller starts a new one).
/// Tests that restart or reconfigure Asterisk take a private one with [`Asterisk::start`].
pub fn shared() -> Arc<Asterisk> {
    static SHARED: Mutex<Weak<Asterisk>> = Mutex::new(Weak::new());
    let mut slot = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(ast) = slot.upgrade() {
        return ast;
    }
    let ast = Arc::new(Asterisk::start());
    *slot = Arc::downgrade(&ast);
    ast
}
