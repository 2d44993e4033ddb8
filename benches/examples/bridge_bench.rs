//! `ami bridge` throughput, latency and CPU: 1, 10 and 100 simulated PBXs through one bridge to
//! a JetStream consumer, on one machine, against a baseline of JetStream alone.
//!
//! `make bench-bridge` (or `cargo run --release -p ami-benches --example bridge_bench --
//! target/release/ami docs/bridge/nats-server.conf`). Starts nats-server (JetStream, file
//! store in a temporary directory). Per round, first two **baselines**: a publisher in this
//! process stores the same messages (same payload, same headers as the bridge sends) in the
//! same kind of stream with acknowledged publishes, a window of `in_flight` = 8192, and the same
//! consumer reads them: what JetStream on this machine stores and delivers without the bridge.
//! `JS raw` writes the NATS protocol by hand (one reply subject per message, one subscription
//! for the acknowledgements: the least a publisher can cost), and is then paced like the PBXs
//! below, so that JetStream's own latencies stand beside the bridge's; `JS a-nats` uses
//! async-nats's `send_publish`. Then for each PBX count: that many simulated PBXs (minimal AMI servers in this process:
//! banner, login, the bridge's anchor UserEvent, events), one bridge, one pull consumer, in two
//! phases:
//!
//! * **saturated**: the PBXs write `BENCH_EVENTS` events (default 200,000) as fast as the
//!   pipeline takes them, keeping at most `OUTSTANDING` events written but not yet received by
//!   the consumer. Without that bound the PBXs outrun the bridge, its bounded buffer overflows
//!   and the bridge (correctly) drops and announces events, so a saturated run would measure
//!   the buffer's size, not the pipeline's rate (the first version of this bench did; its
//!   consumer stopped at a 5 s silence without saying how many events it missed);
//! * **paced**: `BENCH_PACE` (default 0.5) times the saturated rate just measured, for 5 s in
//!   10 ms batches: p50/p99/max of the time from the PBX writing an event (its `BenchNs:`
//!   header) to the consumer receiving it, at a rate the pipeline sustains (offering more than
//!   it stores measures queueing, not latency).
//!
//! Every event carries its PBX and its number (`BenchPbx:`, `BenchSeq:`); the consumer checks
//! that each PBX's events arrive complete, once and in order, and the run fails otherwise. It
//! reads the role stream without a filter (`BENCH_FILTER` sets one): nats-server 2.9 delivers a
//! consumer filtered with a wildcard (`ami.ops.*.ev.Newchannel`) much more slowly once the
//! stream holds many subjects, which measured the filter, not the bridge.
//! CPU is reported per process (utime + stime from /proc over the phase): nats-server, the
//! bridge, and this process (the simulated PBXs, the consumer, the baseline publisher), in
//! cores, and the bridge's per 10k events/s.
//!
//! `BENCH_STORAGE` (`file`, the default, or `memory`) and `BENCH_DUPLICATE_WINDOW` (whole
//! seconds, at least 1; default 120, the bridge's default) set the streams of every run, the
//! baselines' and the bridge's (its `[nats]` `storage` and `duplicate_window`): whether
//! JetStream's limit here is its disk or its deduplication can be measured rather than guessed.
//!
//! `BENCH_ROUNDS` (default 3) rounds, then min/median/max of each figure over the rounds;
//! `BENCH_PBXS` (default `1,10,100`) picks the PBX counts, `BENCH_RATE` a fixed paced rate
//! (events/s, all PBXs together) instead of the fraction, for comparing binaries at one load.
//! The first argument may name several `ami` binaries, comma-separated: each round runs them
//! one after the other for every PBX count (before/after in one run, on the same server).

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ami_proto::{Decoder, Frame, Role};
use async_nats::HeaderMap;
use async_nats::jetstream::{self, consumer, stream};
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const PASSWORDS: [(&str, &str); 3] =
    [("BRIDGE_PASSWORD", "b"), ("OPS_PASSWORD", "o"), ("CRM_PASSWORD", "c")];

/// Events written by the PBXs and not yet received by the consumer, at most (saturated phase).
/// Far below the bridge's buffer (100,000 events per PBX) and ami-tokio's event queue.
const OUTSTANDING: u64 = 40_000;

/// The bridge's (and the baseline's) window of unacknowledged publishes.
const IN_FLIGHT: usize = 8192;

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The streams' storage and deduplication window, the same for the baselines and the bridge
/// (`BENCH_STORAGE`, `BENCH_DUPLICATE_WINDOW`).
#[derive(Clone, Copy, Debug)]
struct Streams {
    memory: bool,
    duplicate_window: Duration,
}

impl Streams {
    fn from_env() -> Streams {
        let memory = match std::env::var("BENCH_STORAGE").as_deref() {
            Ok("memory") => true,
            Ok("file") | Err(_) => false,
            Ok(other) => panic!("BENCH_STORAGE must be file or memory, not {other:?}"),
        };
        Streams {
            memory,
            duplicate_window: Duration::from_secs(env_or("BENCH_DUPLICATE_WINDOW", 120)),
        }
    }

    fn storage(self) -> stream::StorageType {
        if self.memory { stream::StorageType::Memory } else { stream::StorageType::File }
    }

    /// The storage as the bridge's configuration names it.
    fn storage_name(self) -> &'static str {
        if self.memory { "memory" } else { "file" }
    }

    /// The same settings as lines of the bridge's `[nats]` section.
    fn bridge_conf(self) -> String {
        format!(
            "storage = {}\nduplicate_window = {}s\n",
            self.storage_name(),
            self.duplicate_window.as_secs()
        )
    }
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

/// The events one PBX should send: `(count, paced per-second rate or 0 for "as fast as the
/// pipeline takes them")`.
#[derive(Clone, Copy, Debug)]
struct Load {
    count: u64,
    per_second: u64,
}

/// Shared between the PBXs and the consumer: the bound on outstanding events.
#[derive(Default)]
struct Flow {
    written: AtomicU64,
    received: AtomicU64,
}

impl Flow {
    async fn wait_room(&self, n: u64) {
        while self.written.load(Ordering::Acquire) + n
            > self.received.load(Ordering::Acquire) + OUTSTANDING
        {
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
    }
}

/// One simulated event: `Newchannel` as Asterisk sends it, plus the bench's own headers.
fn event(text: &mut String, pbx: usize, seq: u64) {
    use std::fmt::Write as _;
    let _ = write!(
        text,
        "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/{pbx}-{seq:08x}\r\nChannelState: 4\r\n\
         ChannelStateDesc: Ring\r\nCallerIDNum: {pbx}\r\nContext: from-internal\r\nExten: 100\r\n\
         Uniqueid: 1700000000.{seq}\r\nLinkedid: 1700000000.{seq}\r\nBenchPbx: {pbx}\r\n\
         BenchSeq: {seq}\r\nBenchNs: {}\r\n\r\n",
        now_ns()
    );
}

/// A simulated PBX: serves every connection; the event session (the one that logs in without
/// `Events: call`) gets the events once `load` says so.
async fn pbx(
    listener: TcpListener,
    id: usize,
    load: watch::Receiver<Option<Load>>,
    flow: Arc<Flow>,
) {
    loop {
        let Ok((sock, _)) = listener.accept().await else { return };
        tokio::spawn(session(sock, id, load.clone(), Arc::clone(&flow)));
    }
}

async fn session(
    sock: TcpStream,
    id: usize,
    mut load: watch::Receiver<Option<Load>>,
    flow: Arc<Flow>,
) {
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
    loop {
        if load.changed().await.is_err() {
            return;
        }
        let Some(l) = *load.borrow_and_update() else { continue };
        let start = Instant::now();
        let batch = if l.per_second == 0 { 100 } else { (l.per_second / 100).max(1) };
        let mut sent = 0u64;
        let mut text = String::with_capacity(400 * batch as usize);
        while sent < l.count {
            text.clear();
            let n = batch.min(l.count - sent);
            if l.per_second == 0 {
                flow.wait_room(n).await;
            }
            for i in 1..=n {
                event(&mut text, id, sent + i);
            }
            flow.written.fetch_add(n, Ordering::AcqRel);
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

/// CPU time of the processes of the pipeline over a phase.
struct Cpu {
    pids: [u32; 3],
    ticks: [u64; 3],
    at: Instant,
}

impl Cpu {
    /// nats-server, the bridge (0: none), this process.
    fn start(nats: u32, bridge: u32) -> Cpu {
        let pids = [nats, bridge, std::process::id()];
        Cpu { pids, ticks: pids.map(|p| if p == 0 { 0 } else { cpu_ticks(p) }), at: Instant::now() }
    }

    /// Cores used by each since `start`.
    fn cores(&self) -> [f64; 3] {
        let wall = self.at.elapsed().as_secs_f64().max(1e-9);
        let mut out = [0.0; 3];
        for ((o, &pid), &ticks) in out.iter_mut().zip(&self.pids).zip(&self.ticks) {
            if pid != 0 {
                *o = cpu_ticks(pid).saturating_sub(ticks) as f64 / 100.0 / wall;
            }
        }
        out
    }
}

fn percentile(v: &[u64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i] as f64 / 1e6
}

fn field<'a>(payload: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let pos = memchr::memmem::find(payload, name)?;
    let rest = &payload[pos + name.len()..];
    let end = rest.iter().position(|&b| b == b'\r').unwrap_or(rest.len());
    Some(&rest[..end])
}

fn number(v: Option<&[u8]>) -> Option<u64> {
    std::str::from_utf8(v?).ok()?.parse().ok()
}

/// What the consumer saw in one phase.
struct Received {
    got: u64,
    /// When the last one came.
    last: Instant,
    lat: Vec<u64>,
}

impl Received {
    /// Events per second since `start`.
    fn rate(&self, start: Instant) -> f64 {
        self.got as f64 / self.last.duration_since(start).as_secs_f64().max(1e-9)
    }
}

/// Reads `pbxs × per` events (PBX i numbered 1..=per) and checks that each PBX's arrive
/// complete, once and in order; panics saying what is wrong otherwise.
async fn consume(
    url: &str,
    pbxs: usize,
    per: u64,
    flow: Arc<Flow>,
    ready: tokio::sync::oneshot::Sender<()>,
) -> Received {
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
            filter_subject: std::env::var("BENCH_FILTER").unwrap_or_default(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut msgs = c.stream().max_messages_per_batch(2000).messages().await.unwrap();
    let _ = ready.send(());
    let total = per * pbxs as u64;
    let mut next = vec![1u64; pbxs];
    let mut lat = Vec::with_capacity(total as usize);
    let mut got = 0u64;
    let mut last = Instant::now();
    while got < total {
        let m = match tokio::time::timeout(Duration::from_secs(20), msgs.next()).await {
            Ok(Some(Ok(m))) => m,
            other => panic!(
                "consumer: {got} of {total} events received, then {}",
                match other {
                    Err(_) => "20 s without any".to_owned(),
                    Ok(None) => "the stream ended".to_owned(),
                    Ok(Some(Err(e))) => format!("error {e}"),
                    Ok(Some(Ok(_))) => unreachable!(),
                }
            ),
        };
        let now = now_ns();
        if !m.subject.ends_with(".ev.Newchannel") {
            continue;
        }
        last = Instant::now();
        let p = &m.payload;
        let (Some(pbx), Some(seq), Some(sent)) = (
            number(field(p, b"BenchPbx: ")),
            number(field(p, b"BenchSeq: ")),
            number(field(p, b"BenchNs: ")),
        ) else {
            panic!(
                "consumer: an event without the bench's headers: {:?}",
                String::from_utf8_lossy(p)
            )
        };
        let Some(want) = next.get_mut(pbx as usize) else { panic!("consumer: PBX {pbx}?") };
        assert!(
            seq == *want,
            "consumer: PBX {pbx}: event {seq} where {want} was due ({})",
            if seq < *want { "a duplicate or out of order" } else { "events lost" }
        );
        *want += 1;
        got += 1;
        flow.received.fetch_add(1, Ordering::AcqRel);
        lat.push(now.saturating_sub(sent));
    }
    lat.sort_unstable();
    Received { got, last, lat }
}

/// One row of the table.
#[derive(Clone, Copy, Default)]
struct Outcome {
    rate: f64,
    paced_offered: f64,
    paced_rate: f64,
    p50: f64,
    p99: f64,
    max: f64,
    /// Saturated phase, cores: nats-server, bridge, this process.
    cpu: [f64; 3],
    /// Bridge cores per 10k events/s in the saturated phase.
    per_10k: f64,
}

impl Outcome {
    /// This saturated outcome with the paced phase that offered `offered` events/s from `t0`
    /// and was received as `p`.
    fn paced(self, offered: f64, t0: Instant, p: &Received) -> Outcome {
        Outcome {
            paced_offered: offered,
            paced_rate: p.rate(t0),
            p50: percentile(&p.lat, 0.5),
            p99: percentile(&p.lat, 0.99),
            max: percentile(&p.lat, 1.0),
            ..self
        }
    }
}

/// Events/s to offer in a paced phase: `BENCH_RATE` if set, else `pace` times the saturated
/// `rate` just measured.
fn paced_offer(rate: f64, pace: f64) -> f64 {
    match std::env::var("BENCH_RATE").ok().and_then(|v| v.parse::<f64>().ok()) {
        Some(fixed) => fixed,
        None => rate * pace,
    }
}

/// Deletes the last run's streams, then waits (at most 15 s) until nats-server is idle: under
/// 5% of a core over a quarter of a second. Removing a stream's file store and the rest of the
/// last run's work keep it busy for a while; a run started at once shared the machine with that
/// work (with 100 PBXs, the first binary after the baselines ran at half the rate of the
/// second, whichever binary it was).
async fn fresh_streams(js: &jetstream::Context, nats_pid: u32) {
    for s in ["AMI_OPS", "KV_AMI_LEASE", "KV_AMI_PROGRESS"] {
        let _ = js.delete_stream(s).await;
    }
    let until = Instant::now() + Duration::from_secs(15);
    while Instant::now() < until {
        let before = cpu_ticks(nats_pid);
        tokio::time::sleep(Duration::from_millis(250)).await;
        // Ticks are 1/100 s: one tick in a quarter of a second is 4% of a core.
        if cpu_ticks(nats_pid).saturating_sub(before) <= 1 {
            return;
        }
    }
    eprintln!("nats-server still busy 15 s after the last run; starting anyway");
}

async fn bridge_nats(url: &str) -> async_nats::Client {
    async_nats::ConnectOptions::new()
        .user_and_password("bridge".into(), "b".into())
        .client_capacity(65_536)
        .connect(url)
        .await
        .unwrap()
}

/// The headers the bridge sends with an event (as in crates/ami-cli/src/bridge/publisher.rs).
fn bridge_headers(seq: u64) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("Nats-Msg-Id", format!("base:0123456789abcdef:{seq}").as_str());
    h.insert("Ami-Kind", "event");
    h.insert("Ami-Pbx", "base");
    h.insert("Ami-Event", "Newchannel");
    h.insert("Ami-Class", "call");
    h.insert("Ami-Class-Bits", "2");
    h.insert("Ami-Uniqueid", format!("1700000000.{seq}").as_str());
    h.insert("Ami-Linkedid", format!("1700000000.{seq}").as_str());
    h.insert("Ami-Seq", format!("0123456789abcdef:{seq}").as_str());
    h.insert("Ami-Received", now_ns().to_string().as_str());
    h
}

/// A baseline's start: fresh streams, the one stream it publishes to, and a consumer of it,
/// subscribed, that checks `total` events of one PBX.
async fn baseline_consumer(
    url: &str,
    js: &jetstream::Context,
    nats_pid: u32,
    total: u64,
) -> tokio::task::JoinHandle<Received> {
    let streams = Streams::from_env();
    fresh_streams(js, nats_pid).await;
    js.create_stream(stream::Config {
        name: "AMI_OPS".into(),
        subjects: vec!["ami.ops.*.ev.>".into()],
        duplicate_window: streams.duplicate_window,
        storage: streams.storage(),
        allow_direct: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    let url = url.to_owned();
    let flow = Arc::new(Flow::default());
    let consumer = tokio::spawn(async move { consume(&url, 1, total, flow, ready_tx).await });
    ready.await.unwrap();
    consumer
}

/// What a baseline measured: the consumer's rate and latencies, nats-server's CPU.
fn baseline_outcome(r: Received, cpu: &Cpu) -> Outcome {
    Outcome {
        rate: r.rate(cpu.at),
        p50: percentile(&r.lat, 0.5),
        p99: percentile(&r.lat, 0.99),
        max: percentile(&r.lat, 1.0),
        cpu: cpu.cores(),
        ..Outcome::default()
    }
}

/// JetStream alone: `total` acknowledged publishes of bridge-shaped messages from this
/// process, a window of [`IN_FLIGHT`], read back by the same consumer.
async fn baseline(url: &str, nats_pid: u32, total: u64) -> Outcome {
    let nc = bridge_nats(url).await;
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(5))
        .max_ack_inflight(IN_FLIGHT)
        .build(nc);
    let consumer = baseline_consumer(url, &js, nats_pid, total).await;
    let cpu = Cpu::start(nats_pid, 0);
    let mut acks: FuturesOrdered<_> = FuturesOrdered::new();
    let mut text = String::with_capacity(512);
    for seq in 1..=total {
        text.clear();
        event(&mut text, 0, seq);
        let msg = jetstream::message::PublishMessage::build()
            .payload(bytes::Bytes::copy_from_slice(text.as_bytes()))
            .headers(bridge_headers(seq));
        while acks.len() >= IN_FLIGHT {
            let a: Result<jetstream::publish::PublishAck, _> = acks.next().await.unwrap();
            a.unwrap();
        }
        let ack = js.send_publish("ami.ops.base.ev.Newchannel", msg).await.unwrap();
        acks.push_back(ack.into_future());
    }
    while let Some(a) = acks.next().await {
        a.unwrap();
    }
    baseline_outcome(consumer.await.unwrap(), &cpu)
}

/// The bridge's headers as NATS header text; `phase` keeps the ids of the saturated and the
/// paced phase apart (both restart at 1, within the stream's duplicate window).
fn raw_headers(out: &mut Vec<u8>, phase: &str, seq: u64) {
    use std::io::Write as _;
    let _ = write!(
        out,
        "NATS/1.0\r\nNats-Msg-Id: {phase}:0123456789abcdef:{seq}\r\nAmi-Kind: event\r\nAmi-Pbx: base\r\n\
         Ami-Event: Newchannel\r\nAmi-Class: call\r\nAmi-Class-Bits: 2\r\nAmi-Uniqueid: 1700000000.{seq}\r\n\
         Ami-Linkedid: 1700000000.{seq}\r\nAmi-Seq: 0123456789abcdef:{seq}\r\nAmi-Received: {}\r\n\r\n",
        now_ns() / 1000
    );
}

/// Reads JetStream acknowledgements (`MSG` operations) from a raw NATS connection until
/// aborted, counting them in `acked`; panics on an error answer.
async fn raw_acks(mut rd: tokio::net::tcp::OwnedReadHalf, acked: Arc<AtomicU64>) {
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut chunk = vec![0u8; 1 << 16];
    let mut n_acked = 0u64;
    loop {
        let n = rd.read(&mut chunk).await.unwrap();
        assert!(n > 0, "nats-server closed the connection after {n_acked} acknowledgements");
        buf.extend_from_slice(&chunk[..n]);
        let mut at = 0;
        while let Some(eol) = memchr::memmem::find(&buf[at..], b"\r\n") {
            let line = &buf[at..at + eol];
            if let Some(rest) = line.strip_prefix(b"MSG ") {
                let len: usize = std::str::from_utf8(rest.rsplit(|&b| b == b' ').next().unwrap())
                    .unwrap()
                    .parse()
                    .unwrap();
                let body = at + eol + 2;
                if buf.len() < body + len + 2 {
                    break;
                }
                let ack = &buf[body..body + len];
                assert!(
                    memchr::memmem::find(ack, b"error").is_none(),
                    "JetStream: {}",
                    String::from_utf8_lossy(ack)
                );
                n_acked += 1;
                acked.store(n_acked, Ordering::Release);
                at = body + len + 2;
            } else {
                assert!(
                    !line.starts_with(b"-ERR"),
                    "nats-server: {}",
                    String::from_utf8_lossy(line)
                );
                at += eol + 2;
            }
        }
        buf.drain(..at);
    }
}

/// One HPUB of a bridge-shaped event, as the raw baseline sends it.
fn raw_publish(out: &mut Vec<u8>, text: &mut String, hdr: &mut Vec<u8>, phase: &str, seq: u64) {
    use std::io::Write as _;
    text.clear();
    event(text, 0, seq);
    hdr.clear();
    raw_headers(hdr, phase, seq);
    let _ = write!(
        out,
        "HPUB ami.ops.base.ev.Newchannel _INBOX.rawbench.{seq} {} {}\r\n",
        hdr.len(),
        hdr.len() + text.len()
    );
    out.extend_from_slice(hdr);
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// JetStream alone, the cheapest acknowledged publisher: the NATS protocol written by hand
/// (HPUB with a reply subject per message, one subscription for the acknowledgements), the
/// same messages and window as [`baseline`]. Saturated, then paced as [`run`] paces the
/// PBXs (`pace` times the saturated rate, or `BENCH_RATE`, for 5 s in 10 ms batches), so
/// that the bridge's latencies have JetStream's own beside them.
async fn raw_baseline(url: &str, nats_pid: u32, total: u64, pace: f64) -> Outcome {
    let js = jetstream::new(bridge_nats(url).await);
    let consumer = baseline_consumer(url, &js, nats_pid, total).await;
    let sock = TcpStream::connect(url.trim_start_matches("nats://")).await.unwrap();
    sock.set_nodelay(true).unwrap();
    let (mut rd, mut wr) = sock.into_split();
    let mut info = vec![0u8; 4096];
    let _ = rd.read(&mut info).await.unwrap();
    wr.write_all(
        b"CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"bridge\",\"pass\":\"b\",\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\nSUB _INBOX.rawbench.> 1\r\n",
    )
    .await
    .unwrap();
    let cpu = Cpu::start(nats_pid, 0);
    let acked = Arc::new(AtomicU64::new(0));
    let reader = tokio::spawn(raw_acks(rd, Arc::clone(&acked)));
    let mut out: Vec<u8> = Vec::with_capacity(1 << 20);
    let (mut text, mut hdr) = (String::with_capacity(512), Vec::with_capacity(512));
    for seq in 1..=total {
        while seq > acked.load(Ordering::Acquire) + IN_FLIGHT as u64 {
            if !out.is_empty() {
                wr.write_all(&out).await.unwrap();
                out.clear();
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        raw_publish(&mut out, &mut text, &mut hdr, "base", seq);
        if out.len() >= 64 << 10 {
            wr.write_all(&out).await.unwrap();
            out.clear();
        }
    }
    wr.write_all(&out).await.unwrap();
    out.clear();
    let saturated = baseline_outcome(consumer.await.unwrap(), &cpu);

    // Paced.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let per_second = paced_offer(saturated.rate, pace).max(1.0) as u64;
    let count = per_second * 5;
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    let url2 = url.to_owned();
    let flow = Arc::new(Flow::default());
    let consumer = tokio::spawn(async move { consume(&url2, 1, count, flow, ready_tx).await });
    ready.await.unwrap();
    let batch = (per_second / 100).max(1);
    let t0 = Instant::now();
    let mut sent = 0u64;
    while sent < count {
        let n = batch.min(count - sent);
        while total + sent + n > acked.load(Ordering::Acquire) + IN_FLIGHT as u64 {
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        for i in 1..=n {
            raw_publish(&mut out, &mut text, &mut hdr, "paced", sent + i);
        }
        wr.write_all(&out).await.unwrap();
        out.clear();
        sent += n;
        let due = t0 + Duration::from_secs_f64(sent as f64 / per_second as f64);
        tokio::time::sleep_until(due.into()).await;
    }
    let p = consumer.await.unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    while acked.load(Ordering::Acquire) < total + count {
        assert!(Instant::now() < end, "JetStream did not acknowledge every paced publish");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    reader.abort();
    saturated.paced(per_second as f64, t0, &p)
}

async fn run(
    ami: &str,
    dir: &Path,
    url: &str,
    nats_pid: u32,
    pbxs: usize,
    total: u64,
    pace: f64,
) -> Outcome {
    // Fresh streams for this run.
    let js = jetstream::new(bridge_nats(url).await);
    fresh_streams(&js, nats_pid).await;
    let flow = Arc::new(Flow::default());
    let (tx, rx) = watch::channel(None);
    let mut conf = format!(
        "[nats]\nservers = {url}\nuser = bridge\npassword_env = BRIDGE_PASSWORD\nsnapshot = none\nin_flight = {IN_FLIGHT}\nlease_ttl = 5s\n{}\n",
        Streams::from_env().bridge_conf()
    );
    for i in 0..pbxs {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(pbx(l, i, rx.clone(), Arc::clone(&flow)));
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

    // Saturated.
    let per = total / pbxs as u64;
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    let (url2, f2) = (url.to_owned(), Arc::clone(&flow));
    let consumer = tokio::spawn(async move { consume(&url2, pbxs, per, f2, ready_tx).await });
    ready.await.unwrap();
    let cpu = Cpu::start(nats_pid, pid);
    tx.send_replace(Some(Load { count: per, per_second: 0 }));
    let r = consumer.await.unwrap();
    let cores = cpu.cores();
    let rate = r.rate(cpu.at);

    // Paced, at a rate the pipeline sustains.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let offered = paced_offer(rate, pace).max(pbxs as f64);
    let per_pbx_rate = (offered / pbxs as f64).max(1.0) as u64;
    let per = per_pbx_rate * 5;
    flow.written.store(0, Ordering::Release);
    flow.received.store(0, Ordering::Release);
    let (ready_tx, ready) = tokio::sync::oneshot::channel();
    let (url2, f2) = (url.to_owned(), Arc::clone(&flow));
    let consumer = tokio::spawn(async move { consume(&url2, pbxs, per, f2, ready_tx).await });
    ready.await.unwrap();
    let t0 = Instant::now();
    tx.send_replace(Some(Load { count: per, per_second: per_pbx_rate }));
    let p = consumer.await.unwrap();
    let log = std::fs::read_to_string(dir.join(format!("bridge-{pbxs}.log"))).unwrap_or_default();
    assert!(
        !log.contains("BridgeGap") || !log.contains("buffer-full"),
        "the bridge dropped events:\n{log}"
    );
    drop(bridge);
    let saturated =
        Outcome { rate, cpu: cores, per_10k: cores[1] / (rate / 10_000.0), ..Outcome::default() };
    saturated.paced((per_pbx_rate * pbxs as u64) as f64, t0, &p)
}

fn row(label: &str, o: &Outcome) {
    println!(
        "{label:>16} | {:>9.0} | {:>9.0} | {:>9.0} | {:>8.1} | {:>8.1} | {:>8.1} | {:>5.2} {:>5.2} {:>5.2} | {:>6.2}",
        o.rate,
        o.paced_offered,
        o.paced_rate,
        o.p50,
        o.p99,
        o.max,
        o.cpu[0],
        o.cpu[1],
        o.cpu[2],
        o.per_10k
    );
    let _ = std::io::stdout().flush();
}

fn stats(label: &str, rows: &[Outcome], pick: impl Fn(&Outcome) -> f64) {
    let mut v: Vec<f64> = rows.iter().map(pick).collect();
    v.sort_by(f64::total_cmp);
    let med = if v.is_empty() { f64::NAN } else { v[v.len() / 2] };
    let (lo, hi) = (v.first().copied().unwrap_or(f64::NAN), v.last().copied().unwrap_or(f64::NAN));
    let digits = if hi < 10.0 { 2 } else { 0 };
    print!("  {label} {lo:.digits$}/{med:.digits$}/{hi:.digits$}");
}

fn main() {
    let mut args = std::env::args().skip(1);
    let amis: Vec<String> = args
        .next()
        .unwrap_or_else(|| "target/release/ami".into())
        .split(',')
        .map(str::to_owned)
        .collect();
    let conf = args.next().unwrap_or_else(|| "docs/bridge/nats-server.conf".into());
    let total: u64 = env_or("BENCH_EVENTS", 200_000);
    let rounds: usize = env_or("BENCH_ROUNDS", 3);
    let pace: f64 = env_or("BENCH_PACE", 0.5);
    let counts: Vec<usize> = std::env::var("BENCH_PBXS")
        .unwrap_or_else(|_| "1,10,100".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
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
    let nats = Killed(cmd.spawn().expect("nats-server (make nats-server)"));
    let nats_pid = nats.0.id();
    // Wait until it listens (slow on a loaded machine).
    let until = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "nats-server did not listen on port {port} within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let url = format!("nats://127.0.0.1:{port}");
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let streams = Streams::from_env();
    println!(
        "ami bridge: simulated PBXs -> bridge -> nats-server 2.9 (JetStream, {} store, deduplication window {} s) -> pull consumer\n\
         {total} events per saturated run, at most {OUTSTANDING} outstanding; paced at {pace} x the saturated rate for 5 s; \
         every event checked (complete, once, in order per PBX)\n\
         CPU in cores during the saturated phase: nats-server, bridge, bench (PBXs + consumer [+ baseline publisher])",
        streams.storage_name(),
        streams.duplicate_window.as_secs()
    );
    println!(
        "JS raw: JetStream alone, the NATS protocol written by hand; JS a-nats: JetStream alone through async-nats's send_publish"
    );
    println!(
        "{:>16} | {:>9} | {:>9} | {:>9} | {:>8} | {:>8} | {:>8} | {:>17} | {:>6}",
        "PBXs",
        "sat ev/s",
        "paced off",
        "paced ev/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "CPU nats brg bench",
        "brg/10k"
    );
    let mut results: Vec<(String, Vec<Outcome>)> = Vec::new();
    let mut record = |label: String, o: Outcome| match results.iter_mut().find(|(l, _)| *l == label)
    {
        Some((_, v)) => v.push(o),
        None => results.push((label, vec![o])),
    };
    for round in 1..=rounds {
        println!("round {round}");
        let o = rt.block_on(raw_baseline(&url, nats_pid, total, pace));
        row("JS raw", &o);
        record("JS raw".into(), o);
        let o = rt.block_on(baseline(&url, nats_pid, total));
        row("JS a-nats", &o);
        record("JS a-nats".into(), o);
        for &pbxs in &counts {
            for ami in &amis {
                let label = if amis.len() == 1 {
                    pbxs.to_string()
                } else {
                    let name = Path::new(ami)
                        .file_name()
                        .map_or(ami.clone(), |n| n.to_string_lossy().into_owned());
                    format!("{name} {pbxs}")
                };
                let o = rt.block_on(run(ami, &dir, &url, nats_pid, pbxs, total, pace));
                row(&label, &o);
                record(label, o);
            }
        }
    }
    println!("min/median/max over {rounds} rounds");
    for (label, rows) in &results {
        print!("{label:>16}:");
        stats("sat ev/s", rows, |o| o.rate);
        if label != "JS a-nats" {
            stats("paced ev/s", rows, |o| o.paced_rate);
            stats("p50 ms", rows, |o| o.p50);
            stats("p99 ms", rows, |o| o.p99);
            if !label.starts_with("JS ") {
                stats("brg cores/10k", rows, |o| o.per_10k);
            }
        }
        stats("nats cores", rows, |o| o.cpu[0]);
        println!();
    }
    drop(nats);
    let _ = std::fs::remove_dir_all(&dir);
}
