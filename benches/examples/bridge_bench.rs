//! `ami bridge` throughput, latency and CPU: 1, 10 and 100 simulated PBXs through one bridge to
//! a JetStream consumer, on one machine.
//!
//! `make bench-bridge` (or `cargo run --release -p ami-benches --example bridge_bench --
//! target/release/ami docs/bridge/nats-server.conf`). Starts nats-server (JetStream, file
//! store in a temporary directory), then for each PBX count: that many simulated PBXs (minimal
//! AMI servers in this process: banner, login, the bridge's anchor UserEvent, events), one
//! bridge, one pull consumer. Two phases per count:
//!
//! * saturation: every PBX writes its share of 300,000 events as fast as TCP lets it; events/s
//!   is what the consumer received per second;
//! * paced: 50,000 events/s for 4 s in 10 ms batches; p50/p99 of the time from the PBX writing
//!   an event (its `BenchNs:` header) to the consumer receiving it, and the bridge's CPU time
//!   (utime + stime from /proc) per 10k events/s.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ami_proto::{Decoder, Frame, Role};
use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const PASSWORDS: [(&str, &str); 3] =
    [("BRIDGE_PASSWORD", "b"), ("OPS_PASSWORD", "o"), ("CRM_PASSWORD", "c")];

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The events one PBX should send: `(count, paced per-second rate or 0 for "as fast as possible")`.
#[derive(Clone, Copy, Debug)]
struct Load {
    count: u64,
    per_second: u64,
}

/// A simulated PBX: serves every connection; the event session (the one that logs in without
/// `Events: call`) gets the events once `go` says so.
async fn pbx(listener: TcpListener, id: usize, load: watch::Receiver<Option<Load>>) {
    loop {
        let Ok((sock, _)) = listener.accept().await else { return };
        let load = load.clone();
        tokio::spawn(session(sock, id, load));
    }
}

async fn session(sock: TcpStream, id: usize, mut load: watch::Receiver<Option<Load>>) {
    let (mut rd, wr) = sock.into_split();
    let wr = Arc::new(tokio::sync::Mutex::new(wr));
    if wr.lock().await.write_all(b"Asterisk Call Manager/11.0.0\r\n").await.is_err() {
        return;
    }
    let events_session = Arc::new(AtomicBool::new(true));
    let (w2, es) = (Arc::clone(&wr), Arc::clone(&events_session));
    // Actions: Login, UserEvent (the anchor), anything else answered Success.
    tokio::spawn(async move {
        let mut dec = Decoder::new(Role::Server);
        let mut buf = vec![0u8; 16384];
        loop {
            let n = match rd.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            dec.feed(&buf[..n]);
            while let Some(Ok(Frame::Message(m))) = dec.next_frame() {
                let action =
                    String::from_utf8_lossy(m.action().unwrap_or_default()).to_ascii_lowercase();
                let id_line = m
                    .action_id()
                    .map(|i| format!("ActionID: {}\r\n", String::from_utf8_lossy(i)))
                    .unwrap_or_default();
                let mut out = format!("Response: Success\r\n{id_line}Message: ok\r\n\r\n");
                if action == "login" && m.get("Events").is_some_and(|e| e == b"call") {
                    es.store(false, Ordering::SeqCst);
                }
                if action == "userevent" {
                    out.push_str("Event: UserEvent\r\nPrivilege: user,all\r\n");
                    for h in m.iter() {
                        if !h.is(b"Action") && !h.is_bare() {
                            out.push_str(&format!(
                                "{}: {}\r\n",
                                String::from_utf8_lossy(h.name()),
                                String::from_utf8_lossy(h.value())
                            ));
                        }
                    }
                    out.push_str("\r\n");
                }
                if w2.lock().await.write_all(out.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    if !events_session.load(Ordering::SeqCst) {
        return;
    }
    let mut seq = 0u64;
    loop {
        if load.changed().await.is_err() {
            return;
        }
        let Some(l) = *load.borrow() else { continue };
        let start = Instant::now();
        let batch = if l.per_second == 0 { 200 } else { (l.per_second / 100).max(1) };
        let mut sent = 0u64;
        let mut text = String::with_capacity(300 * batch as usize);
        while sent < l.count {
            text.clear();
            let n = batch.min(l.count - sent);
            for _ in 0..n {
                seq += 1;
                text.push_str(&format!(
                    "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/{id}-{seq:08x}\r\nChannelState: 4\r\n\
                     ChannelStateDesc: Ring\r\nCallerIDNum: {id}\r\nContext: from-internal\r\nExten: 100\r\n\
                     Uniqueid: 1700000000.{seq}\r\nLinkedid: 1700000000.{seq}\r\nBenchNs: {}\r\n\r\n",
                    now_ns()
                ));
            }
            if wr.lock().await.write_all(text.as_bytes()).await.is_err() {
                return;
            }
            sent += n;
            if l.per_second > 0 {
                let due = start + Duration::from_secs_f64(sent as f64 / l.per_second as f64);
                tokio::time::sleep_until(due.into()).await;
            }
        }
    }
}

fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn percentile(v: &mut [u64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i] as f64 / 1e6
}

struct Outcome {
    rate: f64,
    p50: f64,
    p99: f64,
    paced_rate: f64,
    cpu_per_10k: f64,
}

async fn consume(url: &str, total: u64, within: Duration) -> (u64, Duration, Vec<u64>) {
    let nc = async_nats::ConnectOptions::new()
        .user_and_password("ops".into(), "o".into())
        .custom_inbox_prefix("_INBOX_ops")
        .connect(url)
        .await
        .unwrap();
    let js = jetstream::new(nc);
    let stream = js.get_stream("AMI_OPS").await.unwrap();
    let c = stream
        .create_consumer(consumer::pull::Config {
            ack_policy: consumer::AckPolicy::None,
            deliver_policy: consumer::DeliverPolicy::New,
            filter_subject: "ami.ops.*.ev.Newchannel".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = c.stream().max_messages_per_batch(2000).messages().await.unwrap();
    let mut lat = Vec::with_capacity(total as usize);
    let mut got = 0u64;
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    let deadline = Instant::now() + within;
    while got < total && Instant::now() < deadline {
        let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(5), msgs.next()).await
        else {
            break;
        };
        let now = now_ns();
        first.get_or_insert_with(Instant::now);
        last = Instant::now();
        got += 1;
        if let Some(pos) = m.payload.windows(9).position(|w| w == b"BenchNs: ") {
            let rest = &m.payload[pos + 9..];
            let end = rest.iter().position(|&b| b == b'\r').unwrap_or(rest.len());
            if let Some(sent) =
                std::str::from_utf8(&rest[..end]).ok().and_then(|s| s.parse::<u64>().ok())
            {
                lat.push(now.saturating_sub(sent));
            }
        }
    }
    (got, last.duration_since(first.unwrap_or(last)), lat)
}

async fn run(ami: &str, dir: &Path, url: &str, pbxs: usize) -> Outcome {
    // Fresh streams for this run.
    let nc = async_nats::ConnectOptions::new()
        .user_and_password("bridge".into(), "b".into())
        .connect(url)
        .await
        .unwrap();
    let js = jetstream::new(nc);
    for s in ["AMI_OPS", "KV_AMI_LEASE", "KV_AMI_PROGRESS"] {
        let _ = js.delete_stream(s).await;
    }
    let (tx, rx) = watch::channel(None);
    let mut conf = format!(
        "[nats]\nservers = {url}\nuser = bridge\npassword_env = BRIDGE_PASSWORD\nsnapshot = none\nin_flight = 8192\nlease_ttl = 5s\n\n"
    );
    for i in 0..pbxs {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(pbx(l, i, rx.clone()));
        conf.push_str(&format!("[upstream:p{i}]\nhost = 127.0.0.1\nport = {port}\nusername = u\nsecret = s\nauth = plain\n\n"));
    }
    conf.push_str("[ops]\nread = all\nwrite = all\n");
    let path = dir.join(format!("bridge-{pbxs}.conf"));
    std::fs::write(&path, conf).unwrap();
    let mut cmd = Command::new(ami);
    cmd.args(["bridge", "--config", path.to_str().unwrap(), "--name", "bench"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join(format!("bridge-{pbxs}.log"))).unwrap());
    for (k, v) in PASSWORDS {
        cmd.env(k, v);
    }
    let bridge = Killed(cmd.spawn().unwrap());
    let pid = bridge.0.id();
    // Wait for the stream and the leases.
    let end = Instant::now() + Duration::from_secs(30);
    while js.get_stream("AMI_OPS").await.is_err() {
        assert!(Instant::now() < end, "the bridge did not create its stream");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500) + Duration::from_millis(20 * pbxs as u64)).await;
    // Saturation.
    let total = 300_000u64;
    let per = total / pbxs as u64;
    let url2 = url.to_owned();
    let consumer =
        tokio::spawn(
            async move { consume(&url2, per * pbxs as u64, Duration::from_secs(60)).await },
        );
    tokio::time::sleep(Duration::from_millis(300)).await;
    tx.send_replace(Some(Load { count: per, per_second: 0 }));
    let (got, took, _) = consumer.await.unwrap();
    let rate = got as f64 / took.as_secs_f64().max(1e-9);
    // Paced.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let paced = 50_000u64;
    let secs = 4u64;
    let per = paced * secs / pbxs as u64;
    let url2 = url.to_owned();
    let consumer =
        tokio::spawn(
            async move { consume(&url2, per * pbxs as u64, Duration::from_secs(30)).await },
        );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cpu0 = cpu_ticks(pid);
    let t0 = Instant::now();
    tx.send_replace(Some(Load { count: per, per_second: paced / pbxs as u64 }));
    let (got_p, took_p, mut lat) = consumer.await.unwrap();
    let cpu = (cpu_ticks(pid) - cpu0) as f64 / 100.0;
    let wall = t0.elapsed().as_secs_f64();
    let paced_rate = got_p as f64 / took_p.as_secs_f64().max(1e-9);
    drop(bridge);
    Outcome {
        rate,
        p50: percentile(&mut lat, 0.5),
        p99: percentile(&mut lat, 0.99),
        paced_rate,
        cpu_per_10k: (cpu / wall) / (paced_rate / 10_000.0),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let ami = args.next().unwrap_or_else(|| "target/release/ami".into());
    let conf = args.next().unwrap_or_else(|| "docs/bridge/nats-server.conf".into());
    let dir = std::env::temp_dir().join(format!("ami-bridge-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let mut cmd = Command::new("nats-server");
    cmd.args(["-c", &conf, "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.join("js"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in PASSWORDS {
        cmd.env(k, v);
    }
    let _nats = Killed(cmd.spawn().expect("nats-server (make nats-server)"));
    std::thread::sleep(Duration::from_millis(500));
    let url = format!("nats://127.0.0.1:{port}");
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    println!(
        "ami bridge: simulated PBXs -> bridge -> nats-server 2.9 (JetStream, file store) -> pull consumer"
    );
    println!(
        "{:>5} | {:>16} | {:>14} | {:>9} | {:>9} | {:>14}",
        "PBXs", "saturated ev/s", "paced ev/s", "p50 ms", "p99 ms", "CPU/10k ev/s"
    );
    for pbxs in [1usize, 10, 100] {
        let o = rt.block_on(run(&ami, &dir, &url, pbxs));
        println!(
            "{pbxs:>5} | {:>16.0} | {:>14.0} | {:>9.2} | {:>9.2} | {:>13.2} core",
            o.rate, o.paced_rate, o.p50, o.p99, o.cpu_per_10k
        );
        let _ = std::io::stdout().flush();
    }
    let _ = std::fs::remove_dir_all(&dir);
}
