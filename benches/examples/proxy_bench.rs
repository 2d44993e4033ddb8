//! Throughput and latency of `ami proxy` against `ami mock` directly, in the same run.
//!
//! `make bench-proxy` (or `cargo run --release -p ami-benches --example proxy_bench --
//! target/release/ami`). Starts one `ami mock` and one `ami proxy` in front of it, then for
//! 1, 10 and 100 clients with mixed rights (half read `all`, a quarter `user`, a quarter `call`,
//! which does not receive the UserEvent flood) measures events delivered per second with the
//! clients straight on the mock and through the proxy, turn by turn for several rounds (min /
//! median / max of each side and of the rounds' ratios). The events come from a sender
//! connected to the mock in both cases that stays at most [`WINDOW`] events ahead of the
//! slowest receiver, so nothing is dropped for a slow consumer and every receiver is checked
//! to get every event exactly once. Then the p50/p99 round trip of sequential `Ping` (which
//! the proxy answers itself) and `Getvar` (which it forwards).
//!
//! Then tenant isolation against the real Asterisk (started with tests/live/asterisk.sh; `make
//! bench-proxy` builds it first): the round trip of another tenant's `Getvar` and `Ping`
//! through the proxy while one tenant keeps a synchronous `Originate` waiting (each waits 2 s
//! for `Local/delayed@amitest` to answer), against the same with no Originate, and against a
//! client that shares one Asterisk session directly (what every tenant of a single shared
//! upstream session would see).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use ami_proto::{Decoder, Frame, Role};

const USERS: &str = "\
[all]
secret = s
read = all
write = all

[user]
secret = s
read = user
write = user

[call]
secret = s
read = call
write = call
";

struct Proc(Child, SocketAddr);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(ami: &str, args: &[&str]) -> Proc {
    let mut child = Command::new(ami)
        .args(args)
        .env("PBX_SECRET", "s")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ami");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line
        .split_whitespace()
        .nth(4)
        .map(|a| a.trim_end_matches([';', ',']))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    Proc(child, addr)
}

fn login(addr: SocketAddr, user: &str) -> (TcpStream, Decoder) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(format!("Action: Login\r\nUsername: {user}\r\nSecret: s\r\n\r\n").as_bytes())
        .unwrap();
    let mut d = Decoder::new(Role::Client);
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed during login");
        d.feed(&buf[..n]);
        while let Some(f) = d.next_frame() {
            if let Ok(Frame::Message(m)) = f
                && m.response().is_some()
            {
                assert_eq!(m.get("Message"), Some(&b"Authentication accepted"[..]));
                return (s, d);
            }
        }
    }
}

/// Events the sender may be ahead of the slowest receiver (and of its own responses): small
/// enough that no queue on the way (the mock's 1 MiB per session, the kernel's socket buffers)
/// ever drops an event for a slow consumer, large enough that the figure is a throughput, not
/// the round trip of a stop-and-wait window (which would charge the proxy's extra hop once per
/// window).
const WINDOW: u64 = 1000;

/// Events written per `write`.
const BATCH: u64 = 100;

/// Events/s delivered to `clients` receivers (mixed rights) connected to `addr` while one
/// sender, connected straight to the mock at `source`, floods UserEvents, at most [`WINDOW`]
/// ahead of the slowest receiver. Panics if any receiver misses or repeats an event.
fn throughput(source: SocketAddr, addr: SocketAddr, clients: usize, events: u64) -> (f64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut counters = Vec::new();
    let mut handles = Vec::new();
    let mut receivers = 0;
    for i in 0..clients {
        let user = match i % 4 {
            0 | 1 => "all",
            2 => "user",
            _ => "call",
        };
        if user != "call" {
            receivers += 1;
        }
        let (s, d) = login(addr, user);
        let count = Arc::new(AtomicU64::new(0));
        counters.push((user, count.clone()));
        handles.push(reader(s, d, stop.clone(), count, Counting::Events));
    }
    let (sender, sd) = login(source, "all");
    let mut writer = sender.try_clone().unwrap();
    let answered = Arc::new(AtomicU64::new(0));
    let answers = reader(sender, sd, stop.clone(), answered.clone(), Counting::Responses);
    let pad = "p".repeat(200);
    let slowest = || {
        counters
            .iter()
            .filter(|(u, _)| *u != "call")
            .map(|(_, c)| c.load(Ordering::Relaxed))
            .min()
            .unwrap_or(u64::MAX)
            .min(answered.load(Ordering::Relaxed))
    };
    let wait_for = |want: u64| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while slowest() < want {
            assert!(Instant::now() < deadline, "receivers stalled below {want}");
            // Sleeping, not spinning: a spinning sender would take a core from the processes
            // measured (two cores here).
            thread::sleep(Duration::from_micros(100));
        }
    };
    let start = Instant::now();
    let mut sent = 0u64;
    let mut text = String::new();
    while sent < events {
        wait_for((sent + BATCH).saturating_sub(WINDOW));
        text.clear();
        for i in sent..(sent + BATCH).min(events) {
            text.push_str(&format!(
                "Action: UserEvent\r\nActionID: {i}\r\nUserEvent: Bench\r\nSeq: {i}\r\nPad: {pad}\r\n\r\n"
            ));
        }
        writer.write_all(text.as_bytes()).unwrap();
        sent = (sent + BATCH).min(events);
    }
    wait_for(events);
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    let _ = answers.join();
    let delivered: u64 = counters.iter().map(|(_, c)| c.load(Ordering::Relaxed)).sum();
    assert_eq!(
        delivered,
        events * receivers as u64,
        "events lost or duplicated: {:?}",
        counters.iter().map(|(u, c)| (*u, c.load(Ordering::Relaxed))).collect::<Vec<_>>()
    );
    (delivered as f64 / elapsed, delivered)
}

/// What a [`reader`] counts.
#[derive(Clone, Copy, PartialEq)]
enum Counting {
    /// `UserEvent: Bench` events.
    Events,
    /// Responses (the sender's).
    Responses,
}

/// A thread that reads `s` until `stop`, adding what it counts to `count`.
fn reader(
    mut s: TcpStream,
    mut d: Decoder,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
    what: Counting,
) -> thread::JoinHandle<()> {
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    thread::spawn(move || {
        let mut buf = vec![0u8; 256 * 1024];
        while !stop.load(Ordering::Relaxed) {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    d.feed(&buf[..n]);
                    let mut got = 0;
                    while let Some(f) = d.next_frame() {
                        if let Ok(Frame::Message(m)) = f {
                            let hit = match what {
                                Counting::Events => m.get("UserEvent") == Some(&b"Bench"[..]),
                                Counting::Responses => m.response().is_some(),
                            };
                            got += u64::from(hit);
                        }
                    }
                    count.fetch_add(got, Ordering::Relaxed);
                }
                Err(_) => {}
            }
        }
    })
}

/// `(min, median, max)` of `v`.
fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

/// Round-trip times of `n` sequential actions.
fn latency(addr: SocketAddr, action: &str, n: usize) -> (f64, f64) {
    let (mut s, mut d) = login(addr, "call");
    let mut buf = [0u8; 8192];
    let mut rtts = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        s.write_all(format!("{action}ActionID: l{i}\r\n\r\n").as_bytes()).unwrap();
        let want = format!("l{i}");
        'wait: loop {
            let k = s.read(&mut buf).unwrap();
            d.feed(&buf[..k]);
            while let Some(f) = d.next_frame() {
                if let Ok(Frame::Message(m)) = f
                    && m.get("ActionID") == Some(want.as_bytes())
                {
                    break 'wait;
                }
            }
        }
        rtts.push(t.elapsed().as_secs_f64() * 1e6);
    }
    rtts.sort_by(f64::total_cmp);
    (rtts[n / 2], rtts[n * 99 / 100])
}

fn main() {
    let ami = std::env::args().nth(1).unwrap_or_else(|| "target/release/ami".to_owned());
    let dir = std::env::temp_dir().join(format!("ami-proxy-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mock_conf = dir.join("mock.conf");
    std::fs::write(
        &mock_conf,
        format!(
            "[general]\nenabled = yes\n\n[operator]\nsecret = s\nread = all\nwrite = all\n\n{USERS}"
        ),
    )
    .unwrap();
    let mock = spawn(
        &ami,
        &["mock", "--quiet", "--listen", "127.0.0.1:0", "--config", mock_conf.to_str().unwrap()],
    );
    let proxy_conf = dir.join("proxy.conf");
    std::fs::write(
        &proxy_conf,
        format!(
            "[general]\nenabled = yes\n\n[upstream:pbx]\nhost = 127.0.0.1\nport = {}\nusername = operator\nsecret_env = PBX_SECRET\n\n{USERS}",
            mock.1.port()
        ),
    )
    .unwrap();
    let proxy = spawn(
        &ami,
        &[
            "proxy",
            "--quiet",
            "--config",
            proxy_conf.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--max-queue",
            "16777216",
        ],
    );
    thread::sleep(Duration::from_millis(500)); // the proxy logs in upstream
    // Each round delivers about BENCH_DELIVERIES events in all (at least 50,000 sent), so that
    // a round lasts long enough (about a second) to be a throughput at any client count.
    let deliveries: u64 =
        std::env::var("BENCH_DELIVERIES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let rounds: usize =
        std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5).max(1);
    println!(
        "events/s delivered (UserEvent flood, about {deliveries} deliveries per round, the sender at most \
         {WINDOW} ahead of the slowest receiver; mixed rights: 1/2 all, 1/4 user, 1/4 call); \
         {rounds} rounds, direct and via proxy turn by turn; min / median / max"
    );
    println!("{:>8} {:>28} {:>28} {:>20}", "clients", "direct (mock)", "via proxy", "ratio");
    let counts: Vec<usize> = std::env::var("BENCH_CLIENTS")
        .ok()
        .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 10, 100]);
    for clients in counts {
        // 3 of every 4 clients receive the flood.
        let receivers = (clients - clients / 4).max(1) as u64;
        let events = (deliveries / receivers).max(50_000);
        let (mut direct, mut proxied, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (d, _) = throughput(mock.1, mock.1, clients, events);
            let (p, _) = throughput(mock.1, proxy.1, clients, events);
            direct.push(d);
            proxied.push(p);
            ratios.push(p / d);
        }
        let (d, p, r) = (spread(direct), spread(proxied), spread(ratios));
        println!(
            "{clients:>8} {:>8.0} {:>9.0} {:>9.0} {:>8.0} {:>9.0} {:>9.0} {:>6.2} {:>6.2} {:>6.2}",
            d.0, d.1, d.2, p.0, p.1, p.2, r.0, r.1, r.2
        );
    }
    let n = 2000;
    println!("\nround trip, {n} sequential actions (microseconds)");
    println!(
        "{:>10} {:>10} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "action", "direct p50", "p99", "proxy p50", "p99", "added p50", "added p99"
    );
    for (name, action) in
        [("Ping", "Action: Ping\r\n"), ("Getvar", "Action: Getvar\r\nVariable: X\r\n")]
    {
        let (d50, d99) = latency(mock.1, action, n);
        let (p50, p99) = latency(proxy.1, action, n);
        println!(
            "{name:>10} {d50:>10.0} {d99:>10.0} {p50:>10.0} {p99:>10.0} {:>12.0} {:>12.0}",
            p50 - d50,
            p99 - d99
        );
    }
    drop(proxy);
    drop(mock);
    isolation(&ami, &dir);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sorted round trips, in milliseconds: (p50, p99, max).
fn summary(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    (ms[n / 2], ms[(n * 99 / 100).min(n - 1)], ms[n - 1])
}

/// Sends `action` on `s` and waits for its answer; the round trip in milliseconds.
fn round_trip(s: &mut TcpStream, d: &mut Decoder, action: &str, id: &str) -> f64 {
    let mut buf = [0u8; 8192];
    let t = Instant::now();
    s.write_all(format!("{action}ActionID: {id}\r\n\r\n").as_bytes()).unwrap();
    loop {
        let k = s.read(&mut buf).unwrap();
        assert!(k > 0, "closed");
        d.feed(&buf[..k]);
        while let Some(f) = d.next_frame() {
            if let Ok(Frame::Message(m)) = f
                && m.get("ActionID") == Some(id.as_bytes())
                && m.response().is_some()
            {
                return t.elapsed().as_secs_f64() * 1e3;
            }
        }
    }
}

/// Another tenant's round trips (alternately Getvar and Ping), one every millisecond, for
/// `window`.
fn other_tenant(addr: SocketAddr, window: Duration) -> Vec<f64> {
    let (mut s, mut d) = login(addr, "boss");
    let end = Instant::now() + window;
    let mut rtts = Vec::new();
    let mut i = 0;
    while Instant::now() < end {
        let action = if i % 2 == 0 {
            "Action: Getvar\r\nVariable: TESTGLOBAL\r\n"
        } else {
            "Action: Ping\r\n"
        };
        rtts.push(round_trip(&mut s, &mut d, action, &format!("o{i}")));
        i += 1;
        thread::sleep(Duration::from_millis(1));
    }
    rtts
}

const SYNC_ORIGINATE: &str =
    "Action: Originate\r\nChannel: Local/delayed@amitest\r\nApplication: Wait\r\nData: 1\r\n";

fn isolation(ami: &str, dir: &std::path::Path) {
    let harness = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/live/asterisk.sh");
    let ast_dir = dir.join("ast");
    let out = Command::new("bash").arg(harness).arg("start").arg(&ast_dir).output().unwrap();
    assert!(
        out.status.success(),
        "cannot start Asterisk: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port: u16 =
        String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap().parse().unwrap();
    let conf = dir.join("isolation.conf");
    std::fs::write(
        &conf,
        format!(
            "[general]\nenabled = yes\n\n[upstream:pbx]\nhost = 127.0.0.1\nport = {port}\nusername = admin\n\
             secret_env = PBX_SECRET\n\n[boss]\nsecret = s\nread = all\nwrite = all\n"
        ),
    )
    .unwrap();
    let proxy = Command::new(ami)
        .args(["proxy", "--quiet", "--config", conf.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .env("PBX_SECRET", "admin123")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut proxy = proxy;
    let mut line = String::new();
    BufReader::new(proxy.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr: SocketAddr =
        line.split_whitespace().nth(4).unwrap().trim_end_matches([';', ',']).parse().unwrap();
    let proxy = Proc(proxy, addr);
    thread::sleep(Duration::from_millis(800)); // the pool logs in
    let window = Duration::from_secs(5);
    let quiet = other_tenant(addr, window);
    let quiet_n = quiet.len();
    let quiet = summary(quiet);
    // One tenant keeps synchronous Originates waiting while the other measures.
    let busy = Arc::new(AtomicBool::new(true));
    let originates = Arc::new(AtomicU64::new(0));
    let caller = {
        let (busy, originates) = (busy.clone(), originates.clone());
        thread::spawn(move || {
            let (mut s, mut d) = login(addr, "boss");
            let mut i = 0;
            while busy.load(Ordering::Relaxed) {
                round_trip(&mut s, &mut d, SYNC_ORIGINATE, &format!("c{i}"));
                originates.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        })
    };
    thread::sleep(Duration::from_millis(200));
    let loaded = other_tenant(addr, window);
    let loaded_n = loaded.len();
    let loaded = summary(loaded);
    busy.store(false, Ordering::Relaxed);
    caller.join().unwrap();
    // The same on one shared Asterisk session: the Getvar waits behind the Originate.
    let ast_addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect(ast_addr).unwrap();
    let mut d = Decoder::new(Role::Client);
    s.write_all(b"Action: Login\r\nActionID: l\r\nUsername: admin\r\nSecret: admin123\r\nEvents: off\r\n\r\n").unwrap();
    let mut buf = [0u8; 4096];
    'login: loop {
        let k = s.read(&mut buf).unwrap();
        d.feed(&buf[..k]);
        while let Some(f) = d.next_frame() {
            if let Ok(Frame::Message(m)) = f
                && m.response().is_some()
            {
                break 'login;
            }
        }
    }
    let mut shared = Vec::new();
    for i in 0..3 {
        s.write_all(format!("{SYNC_ORIGINATE}ActionID: so{i}\r\n\r\n").as_bytes()).unwrap();
        shared.push(round_trip(
            &mut s,
            &mut d,
            "Action: Getvar\r\nVariable: TESTGLOBAL\r\n",
            &format!("sg{i}"),
        ));
    }
    let shared = summary(shared);
    println!(
        "\ntenant isolation against Asterisk 22 (round trip of another tenant's Getvar/Ping, ms)"
    );
    println!("{:<58} {:>8} {:>8} {:>8}", "", "p50", "p99", "max");
    let row = |name: &str, (p50, p99, max): (f64, f64, f64)| {
        println!("{name:<58} {p50:>8.2} {p99:>8.2} {max:>8.2}");
    };
    row(&format!("via proxy, no Originate ({quiet_n} actions in 5 s)"), quiet);
    row(
        &format!(
            "via proxy, sync Originates waiting ({loaded_n} in 5 s, {} Originates)",
            originates.load(Ordering::Relaxed)
        ),
        loaded,
    );
    row("one shared Asterisk session, behind a sync Originate (3)", shared);
    drop(proxy);
    let _ = Command::new("bash").arg(harness).arg("stop").arg(&ast_dir).status();
}
