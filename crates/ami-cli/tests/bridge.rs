//! `ami bridge` end to end: a real nats-server (Debian's 2.9, JetStream on a temporary store,
//! loopback, free ports, stopped by PID, configured with docs/bridge/nats-server.conf), `ami
//! mock` PBXs and the live Asterisk. Every event is accounted for across a bridge restart, a
//! NATS restart and an HA failover; a PBX restart yields a gap marker and a snapshot; a
//! call-only role never sees a cdr or system event; refused actions never reach the PBX; lists
//! and Command output come back whole.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;

const AMI: &str = env!("CARGO_BIN_EXE_ami");
const PASSWORDS: [(&str, &str); 3] =
    [("BRIDGE_PASSWORD", "bridge-pw"), ("OPS_PASSWORD", "ops-pw"), ("CRM_PASSWORD", "crm-pw")];

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ami-bridge-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_port(port: u16, within: Duration) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        thread::sleep(Duration::from_millis(50));
    }
    false
}

fn config_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/bridge").join(name)
}

/// Stops a child as a service manager would: SIGTERM, then SIGKILL if it has not exited
/// after 10 s; reaps it either way.
fn terminate(mut c: Child) {
    let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
    let end = Instant::now() + Duration::from_secs(10);
    while c.try_wait().ok().flatten().is_none() && Instant::now() < end {
        thread::sleep(Duration::from_millis(20));
    }
    let _ = c.kill();
    let _ = c.wait();
}

/// nats-server with JetStream on a temporary store.
struct Nats {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Nats {
    fn start(dir: &Path) -> Nats {
        let mut n = Nats { child: None, port: free_port(), dir: dir.to_owned() };
        n.spawn();
        n
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("nats-server");
        cmd.arg("-c")
            .arg(config_file("nats-server.conf"))
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(self.dir.join("js"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.join("nats.log")).unwrap());
        for (k, v) in PASSWORDS {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot run nats-server ({e}): install it with `make nats-server` (apt-get install nats-server, as root)")
        });
        self.child = Some(child);
        assert!(wait_port(self.port, Duration::from_secs(10)), "nats-server did not listen");
    }

    /// Stops it as a service manager would: SIGTERM, and SIGKILL only if it has not exited
    /// after 10 s. Not SIGKILL first: a single JetStream server acknowledges a publish once the
    /// message is in its file store's write cache, which it writes out shortly after, so
    /// killing it outright loses the last few milliseconds of acknowledged messages (seen here
    /// as 8–9 ticks missing after the restart, none of them announced: the bridge had been told
    /// they were stored). That is JetStream's durability on one node (replicas cover it), not
    /// the bridge's to detect; these tests are about NATS being unreachable.
    fn stop(&mut self) {
        if let Some(c) = self.child.take() {
            terminate(c);
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A child `ami` process, killed on drop; its standard error goes to a file.
struct Proc {
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    fn spawn(args: &[&str], log: PathBuf) -> Proc {
        let mut cmd = Command::new(AMI);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap());
        for (k, v) in PASSWORDS {
            cmd.env(k, v);
        }
        Proc { child: Some(cmd.spawn().expect("spawn ami")), log }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGTERM and wait (a clean stop).
    fn terminate(&mut self) {
        if let Some(c) = self.child.take() {
            terminate(c);
        }
    }

    /// SIGKILL (a crash).
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

fn mock(dir: &Path, name: &str, port: u16, calls: &str) -> Proc {
    let listen = format!("127.0.0.1:{port}");
    let record = dir.join(format!("{name}.record"));
    let p = Proc::spawn(
        &[
            "mock",
            "--listen",
            &listen,
            "-q",
            "--calls-per-second",
            calls,
            "--record",
            record.to_str().unwrap(),
        ],
        dir.join(format!("{name}.log")),
    );
    assert!(wait_port(port, Duration::from_secs(10)), "mock {name} did not listen");
    p
}

/// The bridge configuration: `pbxs` are (name, port, user, secret).
fn bridge_conf(
    dir: &Path,
    nats: &Nats,
    pbxs: &[(&str, u16, &str, &str)],
    snapshot: &str,
) -> PathBuf {
    let mut text = format!(
        "[nats]\nservers = {}\nuser = bridge\npassword_env = BRIDGE_PASSWORD\nstorage = file\n\
         lease_ttl = 2s\nduplicate_window = 2m\nsnapshot = {snapshot}\n\n",
        nats.url()
    );
    for (name, port, user, secret) in pbxs {
        text.push_str(&format!(
            "[upstream:{name}]\nhost = 127.0.0.1\nport = {port}\nusername = {user}\nsecret = {secret}\nauth = plain\n\n"
        ));
    }
    text.push_str(
        "[ops]\nread = all\nwrite = all\n\n[crm]\nread = call\nwrite = originate,reporting\n",
    );
    let path = dir.join("bridge.conf");
    std::fs::write(&path, text).unwrap();
    path
}

/// nats-server, one mock PBX `pbx1` placing `calls` calls a second, and the bridge's
/// configuration for it (no snapshot): what the single-PBX tests start from.
fn one_pbx(dir: &Path, calls: &str) -> (Nats, Proc, u16, PathBuf) {
    let nats = Nats::start(dir);
    let port = free_port();
    let pbx = mock(dir, "pbx1", port, calls);
    let conf = bridge_conf(dir, &nats, &[("pbx1", port, "operator", "operator-secret")], "none");
    (nats, pbx, port, conf)
}

fn bridge(dir: &Path, conf: &Path, name: &str) -> Proc {
    Proc::spawn(
        &[
            "bridge",
            "--config",
            conf.to_str().unwrap(),
            "--name",
            name,
            "--max-backoff",
            "0.5",
            "--log-format",
            "json",
        ],
        dir.join(format!("{name}.log")),
    )
}

/// Sends numbered `UserEvent: Tick` actions to one PBX until told to stop.
struct Ticker {
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Ticker {
    fn start(
        pbx: &'static str,
        addr: SocketAddr,
        user: &'static str,
        secret: &'static str,
        every: Duration,
    ) -> Ticker {
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&sent), Arc::clone(&stop));
        let thread = thread::spawn(move || {
            let mut sock = TcpStream::connect(addr).unwrap();
            let mut reader = BufReader::new(sock.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            write!(
                sock,
                "Action: Login\r\nUsername: {user}\r\nSecret: {secret}\r\nEvents: off\r\n\r\n"
            )
            .unwrap();
            // Drain everything the server says on another thread.
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while matches!(reader.read(&mut buf), Ok(n) if n > 0) {}
            });
            thread::sleep(Duration::from_millis(100));
            while !st.load(Ordering::SeqCst) {
                let n = s.load(Ordering::SeqCst) + 1;
                write!(
                    sock,
                    "Action: UserEvent\r\nUserEvent: Tick\r\nTickPbx: {pbx}\r\nN: {n}\r\n\r\n"
                )
                .unwrap();
                s.store(n, Ordering::SeqCst);
                thread::sleep(every);
            }
            let _ = write!(sock, "Action: Logoff\r\n\r\n");
        });
        Ticker { sent, stop, thread: Some(thread) }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        self.sent.load(Ordering::SeqCst)
    }
}

/// One stored message.
#[derive(Clone, Debug)]
struct Stored {
    subject: String,
    headers: HashMap<String, String>,
    body: String,
}

impl Stored {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.body
            .split("\r\n")
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(": ")))
    }
}

/// Everything in stream `stream` (an ephemeral consumer, as `user`).
async fn read_all(url: &str, user: &str, password: &str, stream: &str) -> Vec<Stored> {
    let nc = async_nats::ConnectOptions::new()
        .user_and_password(user.into(), password.into())
        .custom_inbox_prefix(format!("_INBOX_{user}"))
        .connect(url)
        .await
        .unwrap();
    let js = jetstream::new(nc);
    // The bridge creates its streams when it starts: give it time.
    let end = Instant::now() + Duration::from_secs(15);
    let stream = loop {
        match js.get_stream(stream).await {
            Ok(s) => break s,
            Err(e) if Instant::now() > end => panic!("no stream {stream}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            ack_policy: consumer::AckPolicy::None,
            inactive_threshold: Duration::from_secs(30),
            ..Default::default()
        })
        .await
        .unwrap();
    let total = stream.cached_info().state.messages;
    let mut out = Vec::new();
    let mut messages = consumer.messages().await.unwrap();
    while (out.len() as u64) < total {
        let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(5), messages.next()).await
        else {
            break;
        };
        let headers = m
            .headers
            .as_ref()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| {
                        (
                            k.to_string(),
                            v.first().map(|v| v.as_str().to_owned()).unwrap_or_default(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Stored {
            subject: m.subject.to_string(),
            headers,
            body: String::from_utf8_lossy(&m.payload).into_owned(),
        });
    }
    out
}

/// The ticks of each PBX, in stream order.
fn ticks(stored: &[Stored]) -> BTreeMap<String, Vec<u64>> {
    let mut out: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for s in stored {
        if s.header("Ami-Event") == "UserEvent" && s.field("UserEvent") == Some("Tick") {
            let pbx = s.field("TickPbx").unwrap_or_default().to_owned();
            out.entry(pbx)
                .or_default()
                .push(s.field("N").and_then(|n| n.parse().ok()).unwrap_or(0));
        }
    }
    out
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Who holds the lease of `pbx` (the bridge's name), if anyone.
async fn holder(url: &str, pbx: &str) -> Option<String> {
    let nc = async_nats::ConnectOptions::new()
        .user_and_password("bridge".into(), "bridge-pw".into())
        .connect(url)
        .await
        .ok()?;
    let js = jetstream::new(nc);
    let kv = js.get_key_value("AMI_LEASE").await.ok()?;
    kv.get(pbx).await.ok()?.map(|v| String::from_utf8_lossy(&v).into_owned())
}

#[test]
fn every_event_once_across_restart_nats_restart_and_failover() {
    let dir = temp_dir("ha");
    let ast = ami_testkit::shared();
    let mut nats = Nats::start(&dir);
    let ports = [free_port(), free_port(), free_port()];
    let mut mocks: Vec<Proc> = ["pbx1", "pbx2", "pbx3"]
        .iter()
        .zip(ports)
        .map(|(name, port)| mock(&dir, name, port, "3"))
        .collect();
    let conf = bridge_conf(
        &dir,
        &nats,
        &[
            ("pbx1", ports[0], "operator", "operator-secret"),
            ("pbx2", ports[1], "operator", "operator-secret"),
            ("pbx3", ports[2], "operator", "operator-secret"),
            ("ast", ast.port(), ami_testkit::ADMIN.name, ami_testkit::ADMIN.secret),
        ],
        "CoreShowChannels",
    );
    let mut a = bridge(&dir, &conf, "bridge-a");
    let mut b = bridge(&dir, &conf, "bridge-b");
    let rt = runtime();
    let url = nats.url();
    // Both up, every PBX held by one of them.
    let end = Instant::now() + Duration::from_secs(20);
    while ["pbx1", "pbx2", "pbx3", "ast"].iter().any(|p| rt.block_on(holder(&url, p)).is_none()) {
        assert!(Instant::now() < end, "no lease taken:\n{}\n{}", a.log(), b.log());
        thread::sleep(Duration::from_millis(100));
    }
    let every = Duration::from_millis(25);
    let tickers = vec![
        Ticker::start(
            "pbx1",
            ([127, 0, 0, 1], ports[0]).into(),
            "operator",
            "operator-secret",
            every,
        ),
        Ticker::start(
            "pbx2",
            ([127, 0, 0, 1], ports[1]).into(),
            "operator",
            "operator-secret",
            every,
        ),
        Ticker::start(
            "pbx3",
            ([127, 0, 0, 1], ports[2]).into(),
            "operator",
            "operator-secret",
            every,
        ),
        Ticker::start("ast", ast.addr(), ami_testkit::ADMIN.name, ami_testkit::ADMIN.secret, every),
    ];
    thread::sleep(Duration::from_secs(2));
    // 1. A clean restart of bridge a: it stores what it has and hands its leases over.
    a.terminate();
    thread::sleep(Duration::from_millis(1500));
    a = bridge(&dir, &conf, "bridge-a");
    thread::sleep(Duration::from_secs(2));
    // 2. NATS restarts: the bridges keep the events and store them once it is back.
    nats.stop();
    thread::sleep(Duration::from_secs(2));
    nats.spawn();
    thread::sleep(Duration::from_secs(4));
    // 3. The bridge holding pbx1 crashes: the other takes over from its own buffer.
    let owner = rt.block_on(holder(&url, "pbx1")).unwrap_or_default();
    let (crashed, survivor) = if owner == "bridge-a" { (&mut a, &b) } else { (&mut b, &a) };
    let crashed_pid = crashed.pid();
    crashed.kill();
    thread::sleep(Duration::from_secs(5));
    let sent: Vec<u64> = tickers.into_iter().map(Ticker::finish).collect();
    // Everything stored, once, in order.
    let names = ["pbx1", "pbx2", "pbx3", "ast"];
    let mut stored = Vec::new();
    let mut got = BTreeMap::new();
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        stored = rt.block_on(read_all(&url, "ops", "ops-pw", "AMI_OPS"));
        got = ticks(&stored);
        if names.iter().zip(&sent).all(|(p, n)| got.get(*p).map_or(0, Vec::len) as u64 >= *n) {
            break;
        }
        thread::sleep(Duration::from_millis(300));
    }
    for (pbx, n) in names.iter().zip(&sent) {
        let want: Vec<u64> = (1..=*n).collect();
        let have = got.get(*pbx).cloned().unwrap_or_default();
        assert!(
            have == want,
            "{pbx}: sent 1..={n}, stored {} ticks (first differences: {:?}); crashed pid {crashed_pid}\nsurvivor log:\n{}",
            have.len(),
            have.iter()
                .zip(&want)
                .enumerate()
                .filter(|(_, (h, w))| h != w)
                .take(5)
                .collect::<Vec<_>>(),
            survivor.log()
        );
    }
    // Markers: a takeover was announced for pbx1.
    assert!(
        stored.iter().any(|s| s.header("Ami-Kind") == "gap"
            && s.header("Ami-Pbx") == "pbx1"
            && s.field("Reason") == Some("takeover")),
        "no takeover marker for pbx1"
    );
    // The call-only role: call events, never cdr, system or user (the ticks) ones.
    let crm = rt.block_on(read_all(&url, "crm", "crm-pw", "AMI_CRM"));
    let call = ami_proto::perm::Privilege::CALL.bits();
    let events: Vec<&Stored> = crm.iter().filter(|s| s.header("Ami-Kind") == "event").collect();
    assert!(events.len() > 20, "crm got {} events", events.len());
    for s in &events {
        let bits: u32 = s.header("Ami-Class-Bits").parse().unwrap();
        assert_eq!(
            bits & !call,
            0,
            "crm received {} ({})",
            s.header("Ami-Event"),
            s.header("Ami-Class")
        );
        assert!(s.subject.starts_with("ami.crm."), "{}", s.subject);
    }
    assert!(
        !events
            .iter()
            .any(|s| ["Cdr", "UserEvent", "FullyBooted"].contains(&s.header("Ami-Event")))
    );
    assert!(stored.iter().any(|s| s.header("Ami-Event") == "Cdr"), "the ops role sees Cdr events");
    // 4. A PBX restart: a gap marker, then a snapshot.
    let before = stored.len();
    mocks[1].kill();
    thread::sleep(Duration::from_millis(500));
    mocks[1] = mock(&dir, "pbx2-again", ports[1], "3");
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let all = rt.block_on(read_all(&url, "ops", "ops-pw", "AMI_OPS"));
        let new: Vec<&Stored> =
            all.iter().skip(before).filter(|s| s.header("Ami-Pbx") == "pbx2").collect();
        let gap = new.iter().position(|s| {
            s.header("Ami-Kind") == "gap" && s.field("Reason") == Some("reconnected")
        });
        let end_part = new.iter().position(|s| s.header("Ami-Snapshot-Part") == "end");
        if let (Some(g), Some(e)) = (gap, end_part) {
            assert!(g < e, "the marker comes before the snapshot");
            let start = new.iter().position(|s| s.header("Ami-Snapshot-Part") == "start").unwrap();
            assert!(g < start && start < e);
            assert!(new[e].subject.ends_with(".pbx2.snap.CoreShowChannels"), "{}", new[e].subject);
            break;
        }
        assert!(Instant::now() < end, "no gap marker and snapshot after the PBX restart");
        thread::sleep(Duration::from_millis(300));
    }
    a.terminate();
    b.terminate();
}

/// A NATS request as `user` (`None`: no reply, e.g. not permitted).
async fn request(nc: &async_nats::Client, subject: &str, body: &str) -> Option<(String, String)> {
    let reply = tokio::time::timeout(
        Duration::from_secs(10),
        nc.request(subject.to_owned(), body.to_owned().into()),
    )
    .await
    .ok()?
    .ok()?;
    let status = reply
        .headers
        .as_ref()
        .and_then(|h| h.get("Ami-Status"))
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default();
    Some((status, String::from_utf8_lossy(&reply.payload).into_owned()))
}

#[test]
fn actions_are_authorised_and_answered_whole() {
    let dir = temp_dir("actions");
    let nats = Nats::start(&dir);
    let port = free_port();
    let _pbx = mock(&dir, "pbx1", port, "20");
    let conf = bridge_conf(&dir, &nats, &[("pbx1", port, "operator", "operator-secret")], "none");
    let mut br = bridge(&dir, &conf, "bridge-x");
    let rt = runtime();
    let url = nats.url();
    rt.block_on(async {
        let connect = |user: &'static str, pw: &'static str| {
            async_nats::ConnectOptions::new()
                .user_and_password(user.into(), pw.into())
                .custom_inbox_prefix(format!("_INBOX_{user}"))
                .connect(url.clone())
        };
        let crm = connect("crm", "crm-pw").await.unwrap();
        let ops = connect("ops", "ops-pw").await.unwrap();
        // Wait until the bridge answers.
        let end = Instant::now() + Duration::from_secs(15);
        while request(&ops, "ami.ops.pbx1.act", "Action: Ping\r\n").await.is_none_or(|(s, _)| s != "ok") {
            assert!(Instant::now() < end, "the bridge does not answer:\n{}", br.log());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let (s, body) = request(&crm, "ami.crm.pbx1.act", "Action: Originate\r\nActionID: o1\r\nChannel: PJSIP/100\r\nApplication: System\r\nData: touch /tmp/x\r\n").await.unwrap();
        assert_eq!((s.as_str(), body.as_str()), ("refused", "Response: Error\r\nActionID: o1\r\nMessage: Originate Access Forbidden: app or data blacklisted\r\n\r\n"));
        let (s, body) = request(&crm, "ami.crm.pbx1.act", "Action: Command\r\nCommand: core show version\r\n").await.unwrap();
        assert_eq!((s.as_str(), body.as_str()), ("refused", "Response: Error\r\nMessage: Permission denied\r\n\r\n"));
        let (s, _) = request(&crm, "ami.crm.pbx1.act", "Action: Events\r\nEventMask: off\r\n").await.unwrap();
        assert_eq!(s, "refused");
        let (s, body) = request(&crm, "ami.crm.pbx1.act", r#"{"Action": "Ping", "ActionID": "j1"}"#).await.unwrap();
        assert_eq!(s, "ok");
        assert!(body.contains("ActionID: j1\r\n") && body.contains("Ping: Pong"), "{body}");
        // ListCommands: the role's, answered by the bridge.
        let (_, body) = request(&crm, "ami.crm.pbx1.act", "Action: ListCommands\r\n").await.unwrap();
        assert!(body.contains("Originate:") && !body.contains("Command:"), "{body}");
        // NATS keeps crm inside its tree: another role's actions and stream are out of reach.
        assert!(request(&crm, "ami.ops.pbx1.act", "Action: Ping\r\n").await.is_none());
        assert!(jetstream::new(crm.clone()).get_stream("AMI_OPS").await.is_err());
        // A list, whole: the start, every item, the end with its count.
        let (s, body) = request(&ops, "ami.ops.pbx1.act", "Action: CoreShowChannels\r\nActionID: l1\r\n").await.unwrap();
        assert_eq!(s, "ok");
        let items = body.matches("Event: CoreShowChannel\r\n").count();
        let listed: usize = body
            .split("\r\n")
            .find_map(|l| l.strip_prefix("ListItems: "))
            .and_then(|n| n.parse().ok())
            .unwrap_or(usize::MAX);
        assert!(body.starts_with("Response: Success\r\nActionID: l1\r\n"), "{body}");
        assert_eq!(items, listed, "{body}");
        assert!(body.contains("Event: CoreShowChannelsComplete\r\nActionID: l1\r\n"), "{body}");
        // Command output, whole.
        let (s, body) = request(&ops, "ami.ops.pbx1.act", "Action: Command\r\nActionID: c1\r\nCommand: core show channels\r\n").await.unwrap();
        assert_eq!(s, "ok");
        assert!(body.contains("ActionID: c1\r\n") && body.contains("active channel"), "{body}");
    });
    br.terminate();
    // From the PBX's side: no Originate, no Events, no `core show version` ever arrived.
    let record = std::fs::read_to_string(dir.join("pbx1.record")).unwrap();
    let actions: Vec<serde_json::Value> =
        record.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let value = |m: &serde_json::Value, h: &str| {
        m["headers"].as_array().and_then(|hs| {
            hs.iter()
                .find(|p| p[0].as_str().is_some_and(|n| n.eq_ignore_ascii_case(h)))
                .and_then(|p| p[1].as_str().map(str::to_owned))
        })
    };
    let names: Vec<String> = actions.iter().filter_map(|m| value(m, "Action")).collect();
    assert!(names.iter().any(|n| n == "CoreShowChannels"), "{names:?}");
    assert!(!names.iter().any(|n| n.eq_ignore_ascii_case("Originate")), "{names:?}");
    assert!(!names.iter().any(|n| n.eq_ignore_ascii_case("Events")), "{names:?}");
    let commands: Vec<String> = actions.iter().filter_map(|m| value(m, "Command")).collect();
    assert_eq!(commands, ["core show channels"]);
}

/// SIGTERM stops the bridge while NATS is unreachable: each step of the stop is bounded (it
/// used to wait for ever on its last flush, which waits for a connection).
#[test]
fn sigterm_stops_the_bridge_while_nats_is_down() {
    let dir = temp_dir("stop-without-nats");
    let (mut nats, _pbx, _, conf) = one_pbx(&dir, "5");
    let mut bridge = bridge(&dir, &conf, "bridge-a");
    let rt = runtime();
    let end = Instant::now() + Duration::from_secs(20);
    while rt.block_on(holder(&nats.url(), "pbx1")).is_none() {
        assert!(Instant::now() < end, "no lease taken:\n{}", bridge.log());
        thread::sleep(Duration::from_millis(100));
    }
    nats.stop();
    thread::sleep(Duration::from_millis(500));
    let mut child = bridge.child.take().unwrap();
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    // Generous: the stop takes the drain (5 s), 3 s for the lease, 3 s for the AMI session
    // and 2 s for the flush at most; this only tells "stops" from "never stops".
    let end = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the bridge did not stop within 60 s of SIGTERM:\n{}", bridge.log());
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}:\n{}", bridge.log());
    let log = bridge.log();
    assert!(log.contains("stopped without the last flush"), "{log}");
}

/// While NATS is unreachable a PBX's events wait in a bounded buffer; when it is full the
/// oldest are dropped, counted, and announced by a `BridgeGap` (Reason: buffer-full, Lost: N)
/// stored before the events that follow the hole. Nothing else is lost, and order holds.
#[test]
fn a_full_buffer_drops_the_oldest_and_says_how_many() {
    let dir = temp_dir("full");
    let (mut nats, _pbx, port, conf) = one_pbx(&dir, "0");
    let text = std::fs::read_to_string(&conf).unwrap();
    // A lease that outlives the outage: this bridge stays the active one throughout (a lease
    // that lapses is a takeover, which the failover test covers).
    let text = text.replacen("[nats]\n", "[nats]\nbuffer_events = 50\n", 1);
    std::fs::write(&conf, text.replacen("lease_ttl = 2s", "lease_ttl = 30s", 1)).unwrap();
    let bridge = bridge(&dir, &conf, "bridge-a");
    let rt = runtime();
    let url = nats.url();
    let stored_ticks = |rt: &tokio::runtime::Runtime| {
        let all = rt.block_on(read_all(&url, "ops", "ops-pw", "AMI_OPS"));
        let n = ticks(&all).remove("pbx1").unwrap_or_default();
        (all, n)
    };
    let ticker = Ticker::start(
        "pbx1",
        ([127, 0, 0, 1], port).into(),
        "operator",
        "operator-secret",
        Duration::from_millis(5),
    );
    let end = Instant::now() + Duration::from_secs(30);
    while stored_ticks(&rt).1.len() < 20 {
        assert!(Instant::now() < end, "no ticks stored: {}", bridge.log());
        thread::sleep(Duration::from_millis(200));
    }
    // NATS away long enough for far more than 50 events to arrive.
    nats.stop();
    let during = Instant::now();
    while ticker.sent.load(Ordering::SeqCst) < 400 || during.elapsed() < Duration::from_secs(2) {
        thread::sleep(Duration::from_millis(50));
    }
    nats.spawn();
    thread::sleep(Duration::from_millis(500));
    let sent = ticker.finish();
    let end = Instant::now() + Duration::from_secs(60);
    let (all, got) = loop {
        let (all, got) = stored_ticks(&rt);
        if got.last() == Some(&sent) {
            break (all, got);
        }
        assert!(Instant::now() < end, "tick {sent} never stored: {}", bridge.log());
        thread::sleep(Duration::from_millis(300));
    };
    // In order, none twice.
    assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    let gaps: Vec<&Stored> = all
        .iter()
        .filter(|s| s.header("Ami-Kind") == "gap" && s.field("Reason") == Some("buffer-full"))
        .collect();
    assert!(!gaps.is_empty(), "no buffer-full marker: {}", bridge.log());
    let field = |g: &Stored, name: &str| g.field(name).map_or(0, |n| n.parse::<u64>().unwrap());
    let lost: u64 = gaps.iter().map(|g| field(g, "Lost")).sum();
    let unconfirmed: u64 = gaps.iter().map(|g| field(g, "Unconfirmed")).sum();
    let missing = sent - got.len() as u64;
    assert!(missing > 0, "nothing was dropped: the test did not fill the buffer");
    // The ticks were the only events during the outage: every missing one was announced,
    // as lost (never sent) or unconfirmed (sent, its acknowledgement lost with the
    // connection: JetStream may hold it); no more than that.
    // Unless something else broke the flow too: a PBX connection that the mock closed (a
    // reader too slow on a loaded machine) or a lapsed lease is announced by its own marker,
    // whose losses are unknowable (no `Lost:`): then the count is a lower bound.
    let other: Vec<&str> = all
        .iter()
        .filter(|s| s.header("Ami-Kind") == "gap")
        .filter_map(|s| s.field("Reason"))
        .filter(|r| !matches!(*r, "connected" | "buffer-full"))
        .collect();
    if other.is_empty() {
        assert!(
            lost <= missing && missing <= lost + unconfirmed,
            "missing {missing}, announced lost {lost} + unconfirmed {unconfirmed}: {}",
            bridge.log()
        );
    } else {
        assert!(lost <= missing, "missing {missing}, announced lost {lost} (and gaps {other:?})");
    }
    // The marker precedes the first tick after the hole.
    let hole = got.windows(2).position(|w| w[1] != w[0] + 1).expect("a hole") + 1;
    let after = got[hole];
    let tick_at = all
        .iter()
        .position(|s| {
            s.field("UserEvent") == Some("Tick") && s.field("N") == Some(&after.to_string())
        })
        .unwrap();
    let gap_at = all.iter().position(|s| std::ptr::eq(s, gaps[0])).unwrap();
    assert!(gap_at < tick_at, "the marker comes after tick {after}");
}
