//! Deterministic generator of realistic Asterisk 22 AMI server-to-client traffic.
//!
//! The output is the exact byte stream an AMI client (logged in as a `read=all` user) would
//! read from an Asterisk 22.10.1 server (AMI 11.0.0): the banner, the login response,
//! `FullyBooted`/`SuccessfulAuth`, then a time-ordered interleaving of
//!
//! * full call lifecycles of several concurrent calls (internal PJSIP calls, outbound trunk
//!   calls, inbound trunk calls into queues with PJSIP or `Local/...;1`/`;2` members, calls
//!   originated through AMI) with the header sets, header order and value shapes Asterisk 22
//!   produces (channel snapshot blocks, `Dest*` blocks, bridge blocks, RTCP reports, Cdr, CEL);
//! * responses to the client's actions (Ping, Originate, Getvar, Setvar, QueuePause, Hangup,
//!   CoreStatus, CoreSettings, Command output, errors) and event lists (CoreShowChannels,
//!   Status, QueueStatus) built from the channels alive at that moment.
//!
//! Formats follow the captures in `conformance/` and `main/manager*.c`, `main/rtp_engine.c`,
//! `apps/app_queue.c`, `cdr/cdr_manager.c`, `cel/cel_manager.c` of Asterisk 22. Everything is
//! derived from [`CorpusConfig::seed`] through a built-in SplitMix64; there are no dependencies.
//!
//! Deliberate simplifications (each message is still byte-exact in shape):
//! * CEL is emitted for ~20% of calls and `ChanVariable(<chan>): k=v` only on
//!   `OriginateResponse`; on a real server both are global settings (`cel.conf`,
//!   `channelvars`), which would also add `ChanVariable: k=v` to every channel snapshot.
//! * `AgentComplete` comes both with and without the caller/agent snapshot blocks (Asterisk
//!   omits them when the channels are already gone, as in the `originate-queue` capture).
//! * The initial calls are already in progress when the session starts, so the first events of
//!   those calls are missing, as for a client connecting to a busy PBX.

#![forbid(unsafe_code)]

/// Banner sent by Asterisk 22 on connect (one line, no blank line after it).
pub const BANNER: &[u8] = b"Asterisk Call Manager/11.0.0\r\n";

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorpusConfig {
    /// Seed of the PRNG; the same seed always yields the same bytes.
    pub seed: u64,
    /// Generation stops at the first message boundary at or after this many bytes
    /// (lists are never cut: a list always ends with its `...Complete` event).
    pub target_bytes: usize,
}

/// A generated stream and its statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corpus {
    /// Banner followed by `messages` messages, each ending with `\r\n\r\n`.
    pub bytes: Vec<u8>,
    /// Number of messages after the banner (`events + responses + list_items`).
    pub messages: usize,
    /// Asynchronous events (`Event:` messages outside of action event lists).
    pub events: usize,
    /// `Response:` messages (including the `EventList: start` responses).
    pub responses: usize,
    /// `Event:` messages belonging to an action's event list: the items and the closing
    /// `...Complete` event.
    pub list_items: usize,
}

impl Corpus {
    /// Average message size in bytes (banner excluded).
    pub fn average_message_size(&self) -> f64 {
        if self.messages == 0 {
            return 0.0;
        }
        (self.bytes.len() - BANNER.len()) as f64 / self.messages as f64
    }
}

/// Generates the corpus described by `cfg`.
pub fn generate(cfg: &CorpusConfig) -> Corpus {
    Gen::new(cfg).run()
}

// ---------------------------------------------------------------------------------------------
// PRNG
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    fn pick<'a, T>(&mut self, s: &'a [T]) -> &'a T {
        &s[self.below(s.len() as u64) as usize]
    }
    fn u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
}

// ---------------------------------------------------------------------------------------------
// Low-level writers
// ---------------------------------------------------------------------------------------------

const CALL: &str = "call,all";
const DIALPLAN: &str = "dialplan,all";
const AGENT: &str = "agent,all";
const CDR: &str = "cdr,all";
const REPORTING: &str = "reporting,all";

fn push_u64(b: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    b.extend_from_slice(&tmp[i..]);
}

fn push_pad(b: &mut Vec<u8>, n: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let mut i = tmp.len();
    let mut n = n;
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let start = (tmp.len() - width).min(i);
    b.extend_from_slice(&tmp[start..]);
}

fn push_hex8(b: &mut Vec<u8>, n: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..8).rev() {
        b.push(HEX[((n >> (shift * 4)) & 0xf) as usize]);
    }
}

/// `Key: Value\r\n`
fn h(b: &mut Vec<u8>, k: &str, v: &str) {
    b.extend_from_slice(k.as_bytes());
    b.extend_from_slice(b": ");
    b.extend_from_slice(v.as_bytes());
    b.extend_from_slice(b"\r\n");
}

/// `Key: <number>\r\n`
fn hn(b: &mut Vec<u8>, k: &str, v: u64) {
    b.extend_from_slice(k.as_bytes());
    b.extend_from_slice(b": ");
    push_u64(b, v);
    b.extend_from_slice(b"\r\n");
}

/// `<prefix>Key: Value\r\n`
fn hp(b: &mut Vec<u8>, p: &str, k: &str, v: &str) {
    b.extend_from_slice(p.as_bytes());
    h(b, k, v);
}

/// `<prefix>Key: Value\r\n` with `<unknown>` for an empty value and C escaping (as
/// `ast_manager_build_channel_state_string_prefix` does for caller/connected names).
fn hp_cid(b: &mut Vec<u8>, p: &str, k: &str, v: &str, escape: bool) {
    b.extend_from_slice(p.as_bytes());
    b.extend_from_slice(k.as_bytes());
    b.extend_from_slice(b": ");
    if v.is_empty() {
        b.extend_from_slice(b"<unknown>");
    } else if escape {
        for &c in v.as_bytes() {
            match c {
                b'\'' | b'"' | b'\\' | b'?' => {
                    b.push(b'\\');
                    b.push(c);
                }
                _ => b.push(c),
            }
        }
    } else {
        b.extend_from_slice(v.as_bytes());
    }
    b.extend_from_slice(b"\r\n");
}

/// `Key: <sec>.<usec>\r\n`
fn h_tv(b: &mut Vec<u8>, k: &str, ms: u64, usec_extra: u64) {
    b.extend_from_slice(k.as_bytes());
    b.extend_from_slice(b": ");
    push_u64(b, ms / 1000);
    b.push(b'.');
    push_pad(b, (ms % 1000) * 1000 + usec_extra % 1000, 6);
    b.extend_from_slice(b"\r\n");
}

/// `Key: <int>.<4 decimals>\r\n` from a value in units of 1/10000 (`%4.4f`).
fn h_fix4(b: &mut Vec<u8>, k: &str, v: u64) {
    b.extend_from_slice(k.as_bytes());
    b.extend_from_slice(b": ");
    push_u64(b, v / 10_000);
    b.push(b'.');
    push_pad(b, v % 10_000, 4);
    b.extend_from_slice(b"\r\n");
}

fn end(b: &mut Vec<u8>) {
    b.extend_from_slice(b"\r\n");
}

/// Gregorian date from days since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u64, u64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u64;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u64;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), or with `iso` `YYYY-MM-DDTHH:MM:SS.mmm+0000`.
fn push_datetime(b: &mut Vec<u8>, ms: u64, iso: bool) {
    let secs = ms / 1000;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let sod = secs % 86_400;
    push_pad(b, y as u64, 4);
    b.push(b'-');
    push_pad(b, m, 2);
    b.push(b'-');
    push_pad(b, d, 2);
    b.push(if iso { b'T' } else { b' ' });
    push_pad(b, sod / 3600, 2);
    b.push(b':');
    push_pad(b, sod / 60 % 60, 2);
    b.push(b':');
    push_pad(b, sod % 60, 2);
    if iso {
        b.push(b'.');
        push_pad(b, ms % 1000, 3);
        b.extend_from_slice(b"+0000");
    }
}

fn h_date(b: &mut Vec<u8>, k: &str, ms: u64) {
    b.extend_from_slice(k.as_bytes());
    b.extend_from_slice(b": ");
    if ms != 0 {
        push_datetime(b, ms, false);
    }
    b.extend_from_slice(b"\r\n");
}

fn state_desc(s: u8) -> &'static str {
    match s {
        0 => "Down",
        1 => "Rsrvd",
        2 => "OffHook",
        3 => "Dialing",
        4 => "Ring",
        5 => "Ringing",
        6 => "Up",
        7 => "Busy",
        _ => "Unknown",
    }
}

fn cause_txt(c: u32) -> &'static str {
    match c {
        16 => "Normal Clearing",
        17 => "User busy",
        18 => "No user responding",
        19 => "User alerting, no answer",
        21 => "Call Rejected",
        34 => "Circuit/channel congestion",
        _ => "Unknown",
    }
}

// ---------------------------------------------------------------------------------------------
// Domain model
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Rtp {
    local_ssrc: u32,
    remote_ssrc: u32,
    local_addr: String,
    remote_addr: String,
    tx_seq: u32,
    rx_seq: u32,
    tx_ts: u32,
    rx_ts: u32,
    lost: u64,
    jitter: u64,
    rtt: u64,
    mes: u64,
}

#[derive(Debug, Clone)]
struct Chan {
    name: String,
    device: String,
    pjsip: bool,
    /// A PJSIP phone (not a trunk): its device state is published.
    phone: bool,
    state: u8,
    cid_num: String,
    cid_name: String,
    con_num: String,
    con_name: String,
    language: &'static str,
    account: String,
    context: String,
    exten: String,
    priority: u32,
    uniqueid: String,
    linkedid: String,
    app: String,
    appdata: String,
    bridge: String,
    dnid: String,
    created: u64,
    answered: u64,
    rtp: Option<Rtp>,
}

/// Channel snapshot block (`ast_manager_build_channel_state_string_prefix`).
fn snapshot(b: &mut Vec<u8>, c: &Chan, p: &str) {
    snapshot_state(b, c, p, c.state);
}

fn snapshot_state(b: &mut Vec<u8>, c: &Chan, p: &str, state: u8) {
    hp(b, p, "Channel", &c.name);
    b.extend_from_slice(p.as_bytes());
    hn(b, "ChannelState", u64::from(state));
    hp(b, p, "ChannelStateDesc", state_desc(state));
    hp_cid(b, p, "CallerIDNum", &c.cid_num, false);
    hp_cid(b, p, "CallerIDName", &c.cid_name, true);
    hp_cid(b, p, "ConnectedLineNum", &c.con_num, false);
    hp_cid(b, p, "ConnectedLineName", &c.con_name, true);
    hp(b, p, "Language", c.language);
    hp(b, p, "AccountCode", &c.account);
    hp(b, p, "Context", &c.context);
    hp(b, p, "Exten", &c.exten);
    b.extend_from_slice(p.as_bytes());
    hn(b, "Priority", u64::from(c.priority));
    hp(b, p, "Uniqueid", &c.uniqueid);
    hp(b, p, "Linkedid", &c.linkedid);
}

#[derive(Debug, Clone)]
struct Bridge {
    id: String,
    tech: &'static str,
    n: u64,
}

fn bridge_block(b: &mut Vec<u8>, br: &Bridge) {
    h(b, "BridgeUniqueid", &br.id);
    h(b, "BridgeType", "basic");
    h(b, "BridgeTechnology", br.tech);
    h(b, "BridgeCreator", "<unknown>");
    h(b, "BridgeName", "<unknown>");
    hn(b, "BridgeNumChannels", br.n);
    h(b, "BridgeVideoSourceMode", "none");
}

#[derive(Debug, Clone)]
struct Member {
    name: &'static str,
    ext: &'static str,
    interface: String,
    state_interface: String,
    local: bool,
    penalty: u64,
    calls: u64,
    last_call: u64,
    last_pause: u64,
    login_time: u64,
    in_call: bool,
    status: u64,
    paused: bool,
    reason: &'static str,
}

#[derive(Debug, Clone)]
struct Queue {
    name: &'static str,
    strategy: &'static str,
    members: Vec<Member>,
    completed: u64,
    abandoned: u64,
    holdtime: u64,
    talktime: u64,
}

/// `Membership` … `PausedReason`: the fields every queue member event and list item shares.
fn member_stats(b: &mut Vec<u8>, m: &Member) {
    h(b, "Membership", "static");
    hn(b, "Penalty", m.penalty);
    hn(b, "CallsTaken", m.calls);
    hn(b, "LastCall", m.last_call);
    hn(b, "LastPause", m.last_pause);
    hn(b, "LoginTime", m.login_time);
    hn(b, "InCall", u64::from(m.in_call));
    hn(b, "Status", m.status);
    hn(b, "Paused", u64::from(m.paused));
    h(b, "PausedReason", m.reason);
}

fn member_blob(b: &mut Vec<u8>, q: &Queue, m: &Member) {
    h(b, "Queue", q.name);
    h(b, "MemberName", m.name);
    h(b, "Interface", &m.interface);
    h(b, "StateInterface", &m.state_interface);
    member_stats(b, m);
    hn(b, "Ringinuse", 1);
    hn(b, "Wrapuptime", 0);
}

/// Counters shared by all calls (Asterisk's global uniqueid counter, per-technology channel
/// name counters, ...).
#[derive(Debug)]
struct Ids {
    uniq: u64,
    pjsip: u32,
    local: u32,
    processed: u64,
    callid: u64,
}

/// A channel snapshot valid from `from` until the next snapshot of the same channel (`ci`)
/// or its hangup at `end`, for list actions (CoreShowChannels, Status, ...).
#[derive(Debug, Clone)]
struct LiveChan {
    ci: usize,
    c: Chan,
    from: u64,
    end: u64,
}

#[derive(Debug, Clone)]
struct QueueWait {
    queue: usize,
    join: u64,
    leave: u64,
    c: Chan,
}

/// One call, generated eagerly; its messages are merged into the stream by time.
#[derive(Debug, Default)]
struct Call {
    buf: Vec<u8>,
    /// (time in ms, end offset in `buf`) of each message.
    msgs: Vec<(u64, usize)>,
    next: usize,
    live: Vec<LiveChan>,
    waits: Vec<QueueWait>,
}

impl Call {
    fn next_time(&self) -> Option<u64> {
        self.msgs.get(self.next).map(|m| m.0)
    }
}

const NAMES: &[&str] = &[
    "Alice Johnson",
    "Bob Smith",
    "Carol White",
    "Dan O'Neil",
    "Eve Martinez",
    "Frank Miller",
    "Grace Lee",
    "Henry Brown",
    "Isabel Garc\u{ed}a",
    "Jack Wilson",
    "Karen Davis",
    "Liam \"Front Desk\"",
    "Mia Clark",
    "Noah Lewis",
    "Olivia Walker",
    "Paul Young",
];

const TRUNKS: &[&str] = &["flowroute", "twilio-us-east"];
const CNAM: &[&str] = &["WIRELESS CALLER", "SAN FRANCISCO CA", "ACME CORP", "", "", "JOHN DOE"];
const DIAL_CLEAR: &[&str] = &[
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Answer,
    NoAnswer,
    Cancel,
    Busy,
    Congestion,
}

impl Outcome {
    fn dialstatus(self) -> &'static str {
        match self {
            Outcome::Answer => "ANSWER",
            Outcome::NoAnswer => "NOANSWER",
            Outcome::Cancel => "CANCEL",
            Outcome::Busy => "BUSY",
            Outcome::Congestion => "CONGESTION",
        }
    }
    fn disposition(self) -> &'static str {
        match self {
            Outcome::Answer => "ANSWERED",
            Outcome::NoAnswer | Outcome::Cancel => "NO ANSWER",
            Outcome::Busy => "BUSY",
            Outcome::Congestion => "FAILED",
        }
    }
}

/// One `Cdr` record (`cdr/cdr_manager.c`).
struct CdrRec<'s> {
    dest: Option<usize>,
    app: &'s str,
    data: &'s str,
    start: u64,
    answer: u64,
    disposition: &'s str,
}

struct Dest {
    endpoint: String,
    dialstring: String,
    appdata: String,
    name: String,
    num: String,
}

/// Kinds of call scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Internal,
    Outbound,
    Queue,
    Originated,
}

// ---------------------------------------------------------------------------------------------
// Call generation
// ---------------------------------------------------------------------------------------------

struct CallGen<'a> {
    rng: Rng,
    t: u64,
    call: Call,
    chans: Vec<Chan>,
    cel: bool,
    ids: &'a mut Ids,
    queues: &'a mut [Queue],
}

impl CallGen<'_> {
    fn tick(&mut self) {
        self.t += self.rng.below(3);
    }
    fn wait(&mut self, lo: u64, hi: u64) {
        self.t += self.rng.range(lo, hi);
    }
    fn start(&mut self, name: &str, privilege: &str) {
        self.tick();
        h(&mut self.call.buf, "Event", name);
        h(&mut self.call.buf, "Privilege", privilege);
    }
    fn finish(&mut self) {
        end(&mut self.call.buf);
        self.call.msgs.push((self.t, self.call.buf.len()));
    }
    fn snap(&mut self, ci: usize, prefix: &str) {
        snapshot(&mut self.call.buf, &self.chans[ci], prefix);
    }
    fn b(&mut self) -> &mut Vec<u8> {
        &mut self.call.buf
    }

    fn uniqueid(&mut self) -> String {
        self.ids.uniq += 1;
        format!("{}.{}", self.t / 1000, self.ids.uniq)
    }

    fn rtp(&mut self, remote_ip: &str) -> Rtp {
        let lport = 10_000 + 2 * self.rng.below(5000);
        let rport = if remote_ip.starts_with("10.") {
            4000 + 2 * self.rng.below(1000)
        } else {
            16_384 + 2 * self.rng.below(8000)
        };
        Rtp {
            local_ssrc: self.rng.u32(),
            remote_ssrc: self.rng.u32(),
            local_addr: format!("10.10.0.5:{}", lport + 1),
            remote_addr: format!("{remote_ip}:{}", rport + 1),
            tx_seq: self.rng.below(60_000) as u32,
            rx_seq: self.rng.below(60_000) as u32,
            tx_ts: self.rng.u32(),
            rx_ts: self.rng.u32(),
            lost: 0,
            jitter: self.rng.range(0, 12),
            rtt: self.rng.range(3, 900),
            mes: self.rng.range(880, 1000),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn new_chan(
        &mut self,
        name: String,
        device: String,
        pjsip: bool,
        state: u8,
        context: &str,
        exten: &str,
        linkedid: Option<String>,
    ) -> usize {
        let uniqueid = self.uniqueid();
        let linkedid = linkedid.unwrap_or_else(|| uniqueid.clone());
        let language = if self.rng.chance(90) { "en" } else { "de" };
        let c = Chan {
            name,
            device,
            pjsip,
            phone: false,
            state,
            cid_num: String::new(),
            cid_name: String::new(),
            con_num: String::new(),
            con_name: String::new(),
            language,
            account: String::new(),
            context: context.to_string(),
            exten: exten.to_string(),
            priority: 1,
            uniqueid,
            linkedid,
            app: String::new(),
            appdata: String::new(),
            bridge: String::new(),
            dnid: String::new(),
            created: self.t,
            answered: 0,
            rtp: None,
        };
        self.chans.push(c);
        self.chans.len() - 1
    }

    fn new_pjsip(
        &mut self,
        endpoint: &str,
        state: u8,
        context: &str,
        exten: &str,
        linkedid: Option<String>,
    ) -> usize {
        let mut name = String::with_capacity(32);
        name.push_str("PJSIP/");
        name.push_str(endpoint);
        name.push('-');
        let mut hex = Vec::with_capacity(8);
        push_hex8(&mut hex, self.ids.pjsip);
        self.ids.pjsip = self.ids.pjsip.wrapping_add(1);
        name.push_str(std::str::from_utf8(&hex).unwrap_or("00000000"));
        let phone = endpoint.bytes().all(|c| c.is_ascii_digit());
        let remote_ip = if phone {
            format!("10.10.1.{}", 10 + endpoint.len() * 7 + (endpoint.as_bytes()[0] as usize % 50))
        } else {
            format!("203.0.113.{}", self.rng.range(10, 250))
        };
        let rtp = self.rtp(&remote_ip);
        let ci =
            self.new_chan(name, format!("PJSIP/{endpoint}"), true, state, context, exten, linkedid);
        self.chans[ci].rtp = Some(rtp);
        self.chans[ci].phone = phone;
        ci
    }

    fn new_local_pair(&mut self, exten: &str, context: &str, linkedid: String) -> (usize, usize) {
        let mut hex = Vec::with_capacity(8);
        push_hex8(&mut hex, self.ids.local);
        self.ids.local = self.ids.local.wrapping_add(1);
        let base =
            format!("Local/{exten}@{context}-{}", std::str::from_utf8(&hex).unwrap_or("00000000"));
        let device = format!("Local/{exten}@{context}");
        let one = self.new_chan(
            format!("{base};1"),
            device.clone(),
            false,
            0,
            context,
            exten,
            Some(linkedid.clone()),
        );
        let two =
            self.new_chan(format!("{base};2"), device, false, 4, context, exten, Some(linkedid));
        (one, two)
    }

    // --- events -------------------------------------------------------------------------------

    fn newchannel(&mut self, ci: usize) {
        self.start("Newchannel", CALL);
        self.snap(ci, "");
        self.finish();
        self.mark(ci);
        self.cel(ci, "CHAN_START", "", "");
    }

    fn newstate(&mut self, ci: usize, st: u8) {
        self.chans[ci].state = st;
        if st == 6 && self.chans[ci].answered == 0 {
            self.chans[ci].answered = self.t;
        }
        self.start("Newstate", CALL);
        self.snap(ci, "");
        self.finish();
        self.mark(ci);
        if st == 6 {
            self.cel(ci, "ANSWER", "", "");
        }
    }

    fn newexten(&mut self, ci: usize, prio: u32, app: &str, data: &str) {
        {
            let c = &mut self.chans[ci];
            c.priority = prio;
            c.app.clear();
            c.app.push_str(app);
            c.appdata.clear();
            c.appdata.push_str(data);
        }
        self.start("Newexten", DIALPLAN);
        self.snap(ci, "");
        let exten = self.chans[ci].exten.clone();
        let b = self.b();
        h(b, "Extension", &exten);
        h(b, "Application", app);
        h(b, "AppData", data);
        self.finish();
        self.mark(ci);
    }

    fn varset(&mut self, ci: usize, var: &str, val: &str) {
        self.start("VarSet", DIALPLAN);
        self.snap(ci, "");
        let b = self.b();
        h(b, "Variable", var);
        h(b, "Value", val);
        self.finish();
    }

    fn newcallerid(&mut self, ci: usize, num: &str, name: &str) {
        self.chans[ci].cid_num = num.to_string();
        self.chans[ci].cid_name = name.to_string();
        self.start("NewCallerid", CALL);
        self.snap(ci, "");
        h(self.b(), "CID-CallingPres", "0 (Presentation Allowed, Not Screened)");
        self.finish();
    }

    fn newconnectedline(&mut self, ci: usize, num: &str, name: &str) {
        self.chans[ci].con_num = num.to_string();
        self.chans[ci].con_name = name.to_string();
        self.start("NewConnectedLine", CALL);
        self.snap(ci, "");
        self.finish();
        self.mark(ci);
    }

    fn dial_event(&mut self, name: &str, caller: Option<usize>, dest: usize) {
        self.start(name, CALL);
        if let Some(a) = caller {
            self.snap(a, "");
        }
        self.snap(dest, "Dest");
    }

    fn dial_begin(&mut self, caller: Option<usize>, dest: usize, dialstring: &str) {
        self.dial_event("DialBegin", caller, dest);
        h(self.b(), "DialString", dialstring);
        self.finish();
    }

    fn dial_status(&mut self, caller: Option<usize>, dest: usize, status: &str) {
        let name = if status == "RINGING" || status == "PROGRESS" || status == "PROCEEDING" {
            "DialState"
        } else {
            "DialEnd"
        };
        self.dial_event(name, caller, dest);
        h(self.b(), "DialStatus", status);
        self.finish();
    }

    fn bridge_create(&mut self) -> Bridge {
        let mut id = String::with_capacity(36);
        let a = self.rng.next_u64();
        let c = self.rng.next_u64();
        let mut hex = Vec::with_capacity(32);
        push_hex8(&mut hex, (a >> 32) as u32);
        push_hex8(&mut hex, a as u32);
        push_hex8(&mut hex, (c >> 32) as u32);
        push_hex8(&mut hex, c as u32);
        hex[12] = b'4';
        hex[16] = b"89ab"[(c & 3) as usize];
        for (i, &x) in hex.iter().enumerate() {
            if i == 8 || i == 12 || i == 16 || i == 20 {
                id.push('-');
            }
            id.push(x as char);
        }
        let br = Bridge { id, tech: "simple_bridge", n: 0 };
        self.start("BridgeCreate", CALL);
        bridge_block(self.b(), &br);
        self.finish();
        br
    }

    fn bridge_enter(&mut self, br: &mut Bridge, ci: usize) {
        br.n += 1;
        self.chans[ci].bridge = br.id.clone();
        let extra =
            format!("{{\"bridge_id\":\"{}\",\"bridge_technology\":\"{}\"}}", br.id, br.tech);
        self.cel(ci, "BRIDGE_ENTER", "", &extra);
        self.start("BridgeEnter", CALL);
        bridge_block(self.b(), br);
        self.snap(ci, "");
        self.finish();
        self.mark(ci);
    }

    fn bridge_leave(&mut self, br: &mut Bridge, ci: usize) {
        br.n = br.n.saturating_sub(1);
        self.start("BridgeLeave", CALL);
        bridge_block(self.b(), br);
        self.snap(ci, "");
        self.finish();
        self.chans[ci].bridge.clear();
        self.mark(ci);
        let extra =
            format!("{{\"bridge_id\":\"{}\",\"bridge_technology\":\"{}\"}}", br.id, br.tech);
        self.cel(ci, "BRIDGE_EXIT", "", &extra);
    }

    fn bridge_destroy(&mut self, br: &Bridge) {
        self.start("BridgeDestroy", CALL);
        bridge_block(self.b(), br);
        self.finish();
    }

    fn bridge_peers(&mut self, x: usize, y: usize) {
        let (nx, ny) = (self.chans[x].name.clone(), self.chans[y].name.clone());
        self.varset(x, "BRIDGEPEER", &ny);
        self.varset(y, "BRIDGEPEER", &nx);
        if self.chans[x].pjsip && self.chans[y].pjsip {
            self.ids.callid += 1;
            let callid = format!(
                "{:08x}-{:04x}-4{:03x}@10.10.0.5",
                self.ids.callid.wrapping_mul(0x9E37_79B9) as u32,
                self.rng.below(0x10000),
                self.rng.below(0x1000)
            );
            self.varset(x, "BRIDGEPVTCALLID", &callid);
        }
    }

    fn hangup_request(&mut self, ci: usize, soft: bool, cause: u32) {
        self.start(if soft { "SoftHangupRequest" } else { "HangupRequest" }, CALL);
        self.snap(ci, "");
        hn(self.b(), "Cause", u64::from(cause));
        self.finish();
    }

    /// Records the channel's current snapshot for list actions.
    fn mark(&mut self, ci: usize) {
        self.call.live.push(LiveChan {
            ci,
            c: self.chans[ci].clone(),
            from: self.t,
            end: u64::MAX,
        });
    }

    fn hangup(&mut self, ci: usize, cause: u32, tech_cause: Option<u32>, dialstatus: &str) {
        self.tick();
        let t = self.t;
        for l in self.call.live.iter_mut().filter(|l| l.ci == ci) {
            l.end = t;
        }
        self.start("Hangup", CALL);
        self.snap(ci, "");
        let b = self.b();
        hn(b, "Cause", u64::from(cause));
        h(b, "Cause-txt", cause_txt(cause));
        if let Some(tc) = tech_cause {
            hn(b, "TechCause", u64::from(tc));
        }
        self.finish();
        if self.cel {
            let src = self.chans[ci].name.clone();
            let extra = format!(
                "{{\"hangupcause\":{cause},\"hangupsource\":\"{src}\",\"dialstatus\":\"{dialstatus}\"}}"
            );
            self.cel(ci, "HANGUP", "", &extra);
            self.cel(ci, "CHAN_END", "", "");
        }
        if self.chans[ci].phone {
            let dev = self.chans[ci].device.clone();
            self.devstate(&dev, "NOT_INUSE");
        }
    }

    fn devstate(&mut self, dev: &str, state: &str) {
        self.start("DeviceStateChange", CALL);
        let b = self.b();
        h(b, "Device", dev);
        h(b, "State", state);
        self.finish();
    }

    fn cel(&mut self, ci: usize, event: &str, peer: &str, extra: &str) {
        if !self.cel {
            return;
        }
        let t = self.t;
        self.start("CEL", CALL);
        let c = &self.chans[ci];
        let b = &mut self.call.buf;
        h(b, "EventName", event);
        h(b, "AccountCode", &c.account);
        h(b, "CallerIDnum", &c.cid_num);
        h(b, "CallerIDname", &c.cid_name);
        h(b, "CallerIDani", if event == "CHAN_START" { "" } else { &c.cid_num });
        h(b, "CallerIDrdnis", "");
        h(b, "CallerIDdnid", &c.dnid);
        h(b, "Exten", &c.exten);
        h(b, "Context", &c.context);
        h(b, "Channel", &c.name);
        h(b, "Application", &c.app);
        h(b, "AppData", &c.appdata);
        h_date(b, "EventTime", t);
        h(b, "AMAFlags", "DOCUMENTATION");
        h(b, "UniqueID", &c.uniqueid);
        h(b, "LinkedID", &c.linkedid);
        h(b, "Userfield", "");
        h(b, "Peer", peer);
        h(b, "PeerAccount", "");
        h(b, "Extra", extra);
        self.finish();
    }

    /// The end of a Dial that was never answered: the caller's CDR, then LINKEDID_END.
    fn unanswered_dial_end(&mut self, a: usize, b: usize, data: &str, disposition: &str) {
        let start = self.chans[a].created;
        let rec = CdrRec { dest: Some(b), app: "Dial", data, start, answer: 0, disposition };
        self.cdr(a, rec);
        self.cel(a, "LINKEDID_END", "", "");
    }

    fn cdr(&mut self, a: usize, r: CdrRec<'_>) {
        let t = self.t;
        self.start("Cdr", CDR);
        let c = &self.chans[a];
        let dest_name = r.dest.map(|d| self.chans[d].name.as_str()).unwrap_or("");
        let b = &mut self.call.buf;
        h(b, "AccountCode", &c.account);
        h(b, "Source", &c.cid_num);
        h(b, "Destination", &c.exten);
        h(b, "DestinationContext", &c.context);
        b.extend_from_slice(b"CallerID: ");
        match (c.cid_name.is_empty(), c.cid_num.is_empty()) {
            (false, false) => {
                b.push(b'"');
                b.extend_from_slice(c.cid_name.as_bytes());
                b.extend_from_slice(b"\" <");
                b.extend_from_slice(c.cid_num.as_bytes());
                b.push(b'>');
            }
            (true, false) => b.extend_from_slice(c.cid_num.as_bytes()),
            (false, true) => b.extend_from_slice(c.cid_name.as_bytes()),
            (true, true) => {}
        }
        b.extend_from_slice(b"\r\n");
        h(b, "Channel", &c.name);
        h(b, "DestinationChannel", dest_name);
        h(b, "LastApplication", r.app);
        h(b, "LastData", r.data);
        h_date(b, "StartTime", r.start);
        h_date(b, "AnswerTime", r.answer);
        h_date(b, "EndTime", t);
        hn(b, "Duration", (t - r.start) / 1000);
        hn(b, "BillableSeconds", if r.answer == 0 { 0 } else { (t - r.answer) / 1000 });
        h(b, "Disposition", r.disposition);
        h(b, "AMAFlags", "DOCUMENTATION");
        h(b, "UniqueID", &c.uniqueid);
        h(b, "UserField", "");
        self.finish();
    }

    fn rtcp(&mut self, ci: usize, sent: bool, first: bool) {
        let t = self.t;
        let elapsed = t.saturating_sub(self.chans[ci].answered);
        let packets = elapsed / 20;
        let Some(r) = self.chans[ci].rtp.clone() else {
            return;
        };
        let fraction = if self.rng.chance(90) { 0 } else { self.rng.range(1, 12) };
        let lost = r.lost + fraction * packets / 2048;
        let jitter = (r.jitter + self.rng.below(5)).saturating_sub(2);
        let dlsr = if first { 0 } else { self.rng.range(100, 49_990) };
        let lsr = if first {
            0
        } else {
            let ntp = (t / 1000 - 5).wrapping_add(2_208_988_800);
            ((ntp & 0xffff) << 16) | (self.rng.below(0x10000))
        };
        self.start(if sent { "RTCPSent" } else { "RTCPReceived" }, REPORTING);
        self.snap(ci, "");
        let b = &mut self.call.buf;
        let (to, from) =
            if sent { (&r.remote_addr, &r.local_addr) } else { (&r.local_addr, &r.remote_addr) };
        h(b, "To", to);
        h(b, "From", from);
        if !sent {
            h_fix4(b, "RTT", r.rtt);
        }
        b.extend_from_slice(b"MES: ");
        push_u64(b, r.mes / 10);
        b.push(b'.');
        push_u64(b, r.mes % 10);
        b.extend_from_slice(b"\r\n");
        let (ssrc, other, seq_base, ts_base) = if sent {
            (r.local_ssrc, r.remote_ssrc, r.rx_seq, r.tx_ts)
        } else {
            (r.remote_ssrc, r.local_ssrc, r.tx_seq, r.rx_ts)
        };
        b.extend_from_slice(b"SSRC: 0x");
        push_hex8(b, ssrc);
        b.extend_from_slice(b"\r\n");
        h(b, "PT", "200(SR)");
        hn(b, "ReportCount", 1);
        h_tv(b, "SentNTP", t, u64::from(ssrc));
        hn(b, "SentRTP", u64::from(ts_base.wrapping_add((elapsed * 8) as u32)));
        hn(b, "SentPackets", packets);
        hn(b, "SentOctets", packets * 160);
        b.extend_from_slice(b"Report0SourceSSRC: 0x");
        push_hex8(b, other);
        b.extend_from_slice(b"\r\n");
        hn(b, "Report0FractionLost", fraction);
        hn(b, "Report0CumulativeLost", lost);
        let ext_seq = u64::from(seq_base) + packets;
        hn(b, "Report0HighestSequence", ext_seq & 0xffff);
        hn(b, "Report0SequenceNumberCycles", ext_seq >> 16);
        hn(b, "Report0IAJitter", jitter);
        hn(b, "Report0LSR", lsr);
        h_fix4(b, "Report0DLSR", dlsr);
        self.finish();
        if let Some(rtp) = self.chans[ci].rtp.as_mut() {
            rtp.lost = lost;
        }
    }

    fn hold(&mut self, holder: usize, held: usize) {
        self.start("Hold", CALL);
        self.snap(holder, "");
        if self.rng.chance(30) {
            h(self.b(), "MusicClass", "default");
        }
        self.finish();
        let dev = self.chans[holder].device.clone();
        self.devstate(&dev, "ONHOLD");
        self.moh(held, true);
    }

    fn unhold(&mut self, holder: usize, held: usize) {
        self.moh(held, false);
        self.start("Unhold", CALL);
        self.snap(holder, "");
        self.finish();
        let dev = self.chans[holder].device.clone();
        self.devstate(&dev, "INUSE");
    }

    fn moh(&mut self, ci: usize, start: bool) {
        self.start(if start { "MusicOnHoldStart" } else { "MusicOnHoldStop" }, CALL);
        self.snap(ci, "");
        if start {
            h(self.b(), "Class", "default");
        }
        self.finish();
    }

    /// Talk phase: RTCP every ~5 s on each PJSIP party, sometimes a hold/unhold.
    fn talk(&mut self, parties: &[usize], dur: u64) {
        let end_t = self.t + dur;
        let hold = if parties.len() >= 2 && dur > 12_000 && self.rng.chance(18) {
            let at = self.t + self.rng.range(3_000, dur / 2);
            Some((at, at + self.rng.range(4_000, dur / 3)))
        } else {
            None
        };
        let (holder, held) = if parties.len() >= 2 {
            (parties[parties.len() - 1], parties[0])
        } else {
            (parties[0], parties[0])
        };
        let mut held_state = 0u8;
        let mut first = true;
        let mut next_rtcp = self.t + self.rng.range(4_800, 5_200);
        loop {
            let next_hold = match (hold, held_state) {
                (Some((a, _)), 0) => a,
                (Some((_, b)), 1) => b,
                _ => u64::MAX,
            };
            let next = next_rtcp.min(next_hold);
            if next >= end_t {
                break;
            }
            self.t = self.t.max(next);
            if next == next_hold {
                if held_state == 0 {
                    self.hold(holder, held);
                } else {
                    self.unhold(holder, held);
                }
                held_state += 1;
                continue;
            }
            for &p in parties {
                if self.chans[p].pjsip {
                    if self.rng.chance(50) {
                        self.rtcp(p, true, first);
                        self.rtcp(p, false, first);
                    } else {
                        self.rtcp(p, false, first);
                        self.rtcp(p, true, first);
                    }
                }
            }
            first = false;
            next_rtcp = self.t + self.rng.range(4_800, 5_200);
        }
        if held_state == 1 {
            self.unhold(holder, held);
        }
        self.t = self.t.max(end_t);
    }

    /// Variables `Dial()` sets when it returns (`ANSWEREDTIME*` only when answered at
    /// `answer`; `RINGTIME*` when the callee rang from `ring_start`).
    fn dial_post_vars(&mut self, a: usize, times: (u64, u64, u64), status: &str) {
        let (dial_start, ring_start, answer) = times;
        let now = self.t;
        if answer > 0 {
            let ans_ms = now.saturating_sub(answer);
            self.varset(a, "ANSWEREDTIME", &(ans_ms / 1000).to_string());
            self.varset(a, "ANSWEREDTIME_MS", &ans_ms.to_string());
        }
        let dialed = now - dial_start;
        self.varset(a, "DIALEDTIME", &(dialed / 1000).to_string());
        self.varset(a, "DIALEDTIME_MS", &dialed.to_string());
        if ring_start > 0 {
            let ring = if answer > 0 { answer } else { now }.saturating_sub(ring_start);
            self.varset(a, "RINGTIME", &(ring / 1000).to_string());
            self.varset(a, "RINGTIME_MS", &ring.to_string());
        }
        self.varset(a, "DIALSTATUS", status);
    }

    // --- scenarios ----------------------------------------------------------------------------

    fn pick_outcome(&mut self) -> Outcome {
        match self.rng.below(100) {
            0..=71 => Outcome::Answer,
            72..=79 => Outcome::NoAnswer,
            80..=89 => Outcome::Cancel,
            90..=97 => Outcome::Busy,
            _ => Outcome::Congestion,
        }
    }

    /// `a` is in the dialplan at priority `prio`, about to run `Dial()`.
    fn two_party(&mut self, a: usize, prio: u32, dest: &Dest) {
        let (a_ctx, a_exten, a_num, a_name, a_link) = {
            let c = &self.chans[a];
            (
                c.context.clone(),
                c.exten.clone(),
                c.cid_num.clone(),
                c.cid_name.clone(),
                c.linkedid.clone(),
            )
        };
        self.newexten(a, prio, "Dial", &dest.appdata);
        let dial_start = self.t;
        for v in DIAL_CLEAR {
            self.varset(a, v, "");
        }
        self.wait(1, 15);
        let b = self.new_pjsip(&dest.endpoint, 0, &a_ctx, &a_exten, Some(a_link));
        self.newchannel(b);
        self.varset(b, "DIALEDPEERNUMBER", &dest.dialstring);
        self.newexten(b, 1, "AppDial", "(Outgoing Line)");
        self.newcallerid(b, &a_exten, &a_name);
        self.newconnectedline(b, &a_num, &a_name);
        self.dial_begin(Some(a), b, &dest.dialstring);
        let outcome = self.pick_outcome();
        let b_dev = self.chans[b].device.clone();
        let internal_b = self.chans[b].phone;
        if outcome == Outcome::Congestion {
            self.wait(30, 600);
            self.dial_status(Some(a), b, "CONGESTION");
            self.hangup(b, 34, Some(503), "");
            self.dial_post_vars(a, (dial_start, 0, 0), "CONGESTION");
            self.newexten(a, prio + 1, "Hangup", "");
            self.hangup_request(a, true, 34);
            self.hangup(a, 34, None, "CONGESTION");
            self.unanswered_dial_end(a, b, &dest.appdata, outcome.disposition());
            return;
        }
        self.wait(60, 450);
        self.newstate(b, 5);
        if internal_b {
            self.devstate(&b_dev, "RINGING");
        }
        self.dial_status(Some(a), b, "RINGING");
        let ring_start = self.t;
        if self.chans[a].state != 6 {
            self.newstate(a, 5);
        }
        match outcome {
            Outcome::Answer => {
                self.wait(1_500, 14_000);
                self.newstate(b, 6);
                if internal_b {
                    self.devstate(&b_dev, "INUSE");
                }
                let b_name = self.chans[b].name.clone();
                self.varset(a, "DIALSTATUS", "ANSWER");
                self.varset(a, "DIALEDPEERNAME", &b_name);
                self.varset(a, "DIALEDPEERNUMBER", &dest.dialstring);
                self.dial_status(Some(a), b, "ANSWER");
                if self.chans[a].state != 6 {
                    self.newstate(a, 6);
                }
                self.newconnectedline(a, &dest.num, &dest.name);
                let mut br = self.bridge_create();
                self.bridge_enter(&mut br, b);
                self.bridge_enter(&mut br, a);
                self.bridge_peers(b, a);
                let dur = if self.rng.chance(85) {
                    self.rng.range(3_000, 35_000)
                } else {
                    self.rng.range(35_000, 120_000)
                };
                self.talk(&[a, b], dur);
                if self.rng.chance(30) {
                    br.tech = "native_rtp";
                }
                let answer_t = self.chans[b].answered;
                if self.rng.chance(55) {
                    // Callee hangs up.
                    self.hangup_request(b, false, 16);
                    self.varset(b, "BRIDGEPEER", "");
                    self.varset(a, "BRIDGEPEER", "");
                    self.bridge_leave(&mut br, b);
                    self.hangup(b, 16, None, "");
                    self.bridge_leave(&mut br, a);
                    let left = self.t;
                    self.dial_post_vars(a, (dial_start, ring_start, answer_t), "ANSWER");
                    self.bridge_destroy(&br);
                    self.newexten(a, prio + 1, "Hangup", "");
                    self.hangup_request(a, true, 16);
                    self.hangup(a, 16, None, "ANSWER");
                    let start = self.chans[a].created;
                    self.cdr(
                        a,
                        CdrRec {
                            dest: Some(b),
                            app: "Dial",
                            data: &dest.appdata,
                            start,
                            answer: answer_t,
                            disposition: outcome.disposition(),
                        },
                    );
                    // The dialplan after Dial() gets its own CDR.
                    self.cdr(
                        a,
                        CdrRec {
                            dest: None,
                            app: "Hangup",
                            data: "",
                            start: left,
                            answer: left,
                            disposition: "ANSWERED",
                        },
                    );
                    self.cel(a, "LINKEDID_END", "", "");
                } else {
                    // Caller hangs up.
                    self.hangup_request(a, false, 16);
                    self.varset(b, "BRIDGEPEER", "");
                    self.varset(a, "BRIDGEPEER", "");
                    self.bridge_leave(&mut br, a);
                    self.hangup_request(b, true, 16);
                    self.bridge_leave(&mut br, b);
                    self.bridge_destroy(&br);
                    self.hangup(b, 16, None, "");
                    self.dial_post_vars(a, (dial_start, ring_start, answer_t), "ANSWER");
                    self.hangup(a, 16, None, "ANSWER");
                    let start = self.chans[a].created;
                    self.cdr(
                        a,
                        CdrRec {
                            dest: Some(b),
                            app: "Dial",
                            data: &dest.appdata,
                            start,
                            answer: answer_t,
                            disposition: outcome.disposition(),
                        },
                    );
                    self.cel(b, "LINKEDID_END", "", "");
                }
            }
            Outcome::NoAnswer => {
                let secs = if dest.appdata.contains(",30") { 30 } else { 60 };
                self.t = ring_start + secs * 1000 - self.rng.range(0, 300);
                self.dial_status(Some(a), b, "NOANSWER");
                self.hangup(b, 16, Some(487), "");
                self.dial_post_vars(a, (dial_start, ring_start, 0), "NOANSWER");
                self.newexten(a, prio + 1, "Hangup", "");
                self.hangup_request(a, true, 16);
                self.hangup(a, 16, None, "NOANSWER");
                self.unanswered_dial_end(a, b, &dest.appdata, outcome.disposition());
            }
            Outcome::Cancel => {
                self.wait(2_000, 20_000);
                self.hangup_request(a, false, 16);
                self.dial_status(Some(a), b, "CANCEL");
                self.hangup(b, 16, Some(487), "");
                self.dial_post_vars(a, (dial_start, ring_start, 0), "CANCEL");
                self.hangup(a, 16, None, "CANCEL");
                self.unanswered_dial_end(a, b, &dest.appdata, outcome.disposition());
            }
            Outcome::Busy | Outcome::Congestion => {
                let st = outcome.dialstatus();
                self.wait(500, 6_000);
                self.newstate(b, 7);
                self.dial_status(Some(a), b, st);
                self.hangup(b, 17, Some(486), "");
                self.dial_post_vars(a, (dial_start, ring_start, 0), st);
                self.newexten(a, prio + 1, "Hangup", "");
                self.hangup_request(a, true, 17);
                self.hangup(a, 17, None, st);
                self.unanswered_dial_end(a, b, &dest.appdata, outcome.disposition());
            }
        }
    }

    fn internal_ext(&mut self) -> (String, &'static str) {
        let i = self.rng.below(40);
        (format!("{}", 100 + i), NAMES[(i as usize * 7) % NAMES.len()])
    }

    fn external_number(&mut self) -> String {
        let area = *self.rng.pick(&["415", "212", "646", "312", "206", "617"]);
        format!("1{area}555{:04}", self.rng.below(10_000))
    }

    fn scenario_internal(&mut self) {
        let (ext_a, name_a) = self.internal_ext();
        let (mut ext_b, mut name_b) = self.internal_ext();
        if ext_b == ext_a {
            ext_b = format!("{}", 140 + self.rng.below(10));
            name_b = "Conference Room";
        }
        let a = self.new_pjsip(&ext_a, 4, "from-internal", &ext_b, None);
        self.chans[a].cid_num = ext_a.clone();
        self.chans[a].cid_name = name_a.to_string();
        self.chans[a].dnid = ext_b.clone();
        self.newchannel(a);
        let dev = self.chans[a].device.clone();
        self.devstate(&dev, "INUSE");
        let data = format!("Internal call {ext_a} -> {ext_b}");
        self.newexten(a, 1, "NoOp", &data);
        self.newexten(a, 2, "Set", "__CALLTYPE=internal");
        self.varset(a, "__CALLTYPE", "internal");
        let dest = Dest {
            endpoint: ext_b.clone(),
            dialstring: ext_b.clone(),
            appdata: format!("PJSIP/{ext_b},30,tT"),
            name: name_b.to_string(),
            num: ext_b,
        };
        self.two_party(a, 3, &dest);
    }

    fn scenario_outbound(&mut self) {
        let (ext_a, name_a) = self.internal_ext();
        let number = self.external_number();
        let trunk = *self.rng.pick(TRUNKS);
        let a = self.new_pjsip(&ext_a, 4, "from-internal", &number, None);
        self.chans[a].cid_num = ext_a.clone();
        self.chans[a].cid_name = name_a.to_string();
        self.chans[a].dnid = number.clone();
        if self.rng.chance(20) {
            self.chans[a].account = "sales".to_string();
        }
        self.newchannel(a);
        let dev = self.chans[a].device.clone();
        self.devstate(&dev, "INUSE");
        self.newexten(a, 1, "NoOp", &format!("Outbound call to {number} via {trunk}"));
        self.newexten(a, 2, "Set", "CALLERID(num)=4155550100");
        self.newcallerid(a, "4155550100", name_a);
        let dest = Dest {
            endpoint: trunk.to_string(),
            dialstring: format!("{number}@{trunk}"),
            appdata: format!("PJSIP/{number}@{trunk},60,T"),
            name: String::new(),
            num: number,
        };
        self.two_party(a, 3, &dest);
    }

    fn queue_member_status(&mut self, q: usize, m: usize, event: &str) {
        self.start(event, AGENT);
        let qq = &self.queues[q];
        member_blob(&mut self.call.buf, qq, &qq.members[m]);
        self.finish();
    }

    fn queue_caller(&mut self, ci: usize, event: &str, q: usize, pos: u64, count: u64) {
        self.start(event, AGENT);
        self.snap(ci, "");
        let name = self.queues[q].name;
        let b = self.b();
        h(b, "Queue", name);
        hn(b, "Position", pos);
        hn(b, "Count", count);
        self.finish();
    }

    fn agent_event(&mut self, event: &str, a: usize, ag: Option<usize>, q: usize, m: usize) {
        self.start(event, AGENT);
        if let Some(ag) = ag {
            self.snap(a, "");
            self.snap(ag, "Dest");
        }
        let qq = &self.queues[q];
        let mm = &qq.members[m];
        let b = &mut self.call.buf;
        h(b, "Queue", qq.name);
        h(b, "Interface", &mm.interface);
        h(b, "MemberName", mm.name);
    }

    fn local_bridge(&mut self, one: usize, two: usize, opt: &str) {
        self.start("LocalBridge", CALL);
        self.snap(one, "LocalOne");
        self.snap(two, "LocalTwo");
        let (ctx, ext) = (self.chans[two].context.clone(), self.chans[two].exten.clone());
        let b = self.b();
        h(b, "Context", &ctx);
        h(b, "Exten", &ext);
        h(b, "LocalOptimization", opt);
        self.finish();
    }

    fn scenario_queue(&mut self) {
        let trunk = *self.rng.pick(TRUNKS);
        let did = format!("41555501{:02}", self.rng.below(4));
        let number = format!("+{}", self.external_number());
        let q = self.rng.below(self.queues.len() as u64) as usize;
        let qname = self.queues[q].name;
        let a = self.new_pjsip(trunk, 4, "from-trunk", &did, None);
        let cnam = *self.rng.pick(CNAM);
        self.chans[a].cid_num = number.clone();
        self.chans[a].cid_name = cnam.to_string();
        self.chans[a].dnid = did.clone();
        self.newchannel(a);
        self.newexten(a, 1, "NoOp", &format!("Inbound DID {did} from {number}"));
        let mut p = 2;
        if cnam.is_empty() && self.rng.chance(60) {
            self.newexten(a, p, "Set", "CALLERID(name)=Acme Corp");
            self.newcallerid(a, &number, "Acme Corp");
            p += 1;
        }
        self.newexten(a, p, "Answer", "");
        self.newstate(a, 6);
        p += 1;
        let qdata = format!("{qname},tT,,,300");
        self.newexten(a, p, "Queue", &qdata);
        for v in [
            "ANSWEREDTIME",
            "ANSWEREDTIME_MS",
            "DIALEDTIME",
            "DIALEDTIME_MS",
            "QUEUEWAIT",
            "QUEUEWAIT_MS",
        ] {
            self.varset(a, v, "");
        }
        let count = self.rng.range(1, 3);
        self.devstate(&format!("Queue:{qname}"), "RINGING");
        self.queue_caller(a, "QueueCallerJoin", q, count, count);
        self.moh(a, true);
        let join = self.t;
        let hold = if self.rng.chance(70) {
            self.rng.range(500, 12_000)
        } else {
            self.rng.range(12_000, 60_000)
        };
        self.wait(hold, hold);
        if self.rng.chance(8) {
            // Caller gives up.
            self.call.waits.push(QueueWait {
                queue: q,
                join,
                leave: self.t,
                c: self.chans[a].clone(),
            });
            self.hangup_request(a, false, 16);
            self.moh(a, false);
            self.start("QueueCallerAbandon", AGENT);
            self.snap(a, "");
            let b = self.b();
            h(b, "Queue", qname);
            hn(b, "Position", 1);
            hn(b, "OriginalPosition", count);
            hn(b, "HoldTime", hold / 1000);
            self.finish();
            self.queue_caller(a, "QueueCallerLeave", q, 1, count - 1);
            self.queues[q].abandoned += 1;
            let waited = (self.t - join).to_string();
            self.varset(a, "QUEUEWAIT_MS", &waited);
            self.hangup(a, 16, None, "");
            let ans = self.chans[a].answered;
            let start = self.chans[a].created;
            self.cdr(
                a,
                CdrRec {
                    dest: None,
                    app: "Queue",
                    data: &qdata,
                    start,
                    answer: ans,
                    disposition: "ANSWERED",
                },
            );
            self.cel(a, "LINKEDID_END", "", "");
            return;
        }
        // Pick a member (prefer unpaused, idle ones).
        let n = self.queues[q].members.len();
        let mut m = self.rng.below(n as u64) as usize;
        for k in 0..n {
            let mm = &self.queues[q].members[(m + k) % n];
            if !mm.paused && !mm.in_call {
                m = (m + k) % n;
                break;
            }
        }
        let (ext, mname, local) = {
            let mm = &self.queues[q].members[m];
            (mm.ext, mm.name, mm.local)
        };
        let (a_num, a_name, a_link) = {
            let c = &self.chans[a];
            (c.cid_num.clone(), c.cid_name.clone(), c.linkedid.clone())
        };
        // Agent leg: `ag` is the channel the queue dials, `ph` the agent's phone channel.
        let (ag, ph, l2);
        if local {
            let (one, two) = self.new_local_pair(ext, "agents", a_link.clone());
            self.newchannel(one);
            self.newchannel(two);
            self.newexten(one, 1, "AppQueue", "(Outgoing Line)");
            self.newcallerid(one, &a_num, &a_name);
            let ds = format!("{ext}@agents/n");
            self.varset(one, "DIALEDPEERNUMBER", &ds);
            self.varset(two, "DIALEDPEERNUMBER", &ds);
            self.newcallerid(two, &a_num, &a_name);
            self.newconnectedline(two, &a_num, &a_name);
            self.local_bridge(one, two, "No");
            self.agent_event("AgentCalled", a, Some(one), q, m);
            self.finish();
            self.dial_begin(Some(a), one, &ds);
            self.newexten(two, 1, "Dial", &format!("PJSIP/{ext},20"));
            for v in &DIAL_CLEAR[..3] {
                self.varset(two, v, "");
            }
            let p2 = self.new_pjsip(ext, 0, "agents", ext, Some(a_link));
            self.newchannel(p2);
            self.newexten(p2, 1, "AppDial", "(Outgoing Line)");
            self.newcallerid(p2, &a_num, &a_name);
            self.dial_begin(Some(two), p2, ext);
            self.wait(50, 300);
            self.newstate(p2, 5);
            self.devstate(&format!("PJSIP/{ext}"), "RINGING");
            self.dial_status(Some(two), p2, "RINGING");
            self.newstate(two, 5);
            self.newstate(one, 5);
            ag = one;
            ph = p2;
            l2 = Some(two);
        } else {
            let p2 = self.new_pjsip(ext, 0, "from-internal", ext, Some(a_link));
            self.newchannel(p2);
            self.newexten(p2, 1, "AppQueue", "(Outgoing Line)");
            self.newcallerid(p2, &a_num, &a_name);
            self.newconnectedline(p2, &a_num, &a_name);
            self.agent_event("AgentCalled", a, Some(p2), q, m);
            self.finish();
            self.dial_begin(Some(a), p2, ext);
            self.wait(50, 300);
            self.newstate(p2, 5);
            self.devstate(&format!("PJSIP/{ext}"), "RINGING");
            ag = p2;
            ph = p2;
            l2 = None;
        }
        self.queues[q].members[m].status = 6;
        self.queue_member_status(q, m, "QueueMemberStatus");
        let ring_start = self.t;
        self.wait(1_500, 9_000);
        self.newstate(ph, 6);
        self.devstate(&format!("PJSIP/{ext}"), "INUSE");
        let mut inner = None;
        if let Some(two) = l2 {
            let ph_name = self.chans[ph].name.clone();
            self.varset(two, "DIALSTATUS", "ANSWER");
            self.varset(two, "DIALEDPEERNAME", &ph_name);
            self.dial_status(Some(two), ph, "ANSWER");
            self.newstate(two, 6);
            self.newstate(ag, 6);
            let mut br = self.bridge_create();
            self.bridge_enter(&mut br, ph);
            self.bridge_enter(&mut br, two);
            self.bridge_peers(ph, two);
            inner = Some((br, two));
        }
        self.dial_status(Some(a), ag, "ANSWER");
        self.moh(a, false);
        self.devstate(&format!("Queue:{qname}"), "NOT_INUSE");
        self.queue_caller(a, "QueueCallerLeave", q, 1, count - 1);
        let wait_ms = self.t - join;
        self.call.waits.push(QueueWait { queue: q, join, leave: self.t, c: self.chans[a].clone() });
        self.varset(a, "QUEUEPOSITION", "1");
        self.varset(a, "QUEUEWAIT", &(wait_ms / 1000).to_string());
        self.varset(a, "QUEUEWAIT_MS", &wait_ms.to_string());
        let ring_s = (self.t - ring_start) / 1000;
        self.agent_event("AgentConnect", a, Some(ag), q, m);
        let b = self.b();
        hn(b, "HoldTime", wait_ms / 1000);
        hn(b, "RingTime", ring_s);
        self.finish();
        {
            let mm = &mut self.queues[q].members[m];
            mm.in_call = true;
            mm.status = 2;
        }
        self.queue_member_status(q, m, "QueueMemberStatus");
        self.newconnectedline(a, ext, mname);
        let mut br = self.bridge_create();
        self.bridge_enter(&mut br, ag);
        self.bridge_enter(&mut br, a);
        self.bridge_peers(ag, a);
        let connect = self.t;
        let dur = self.rng.range(6_000, 75_000);
        self.talk(&[a, ph], dur);
        let agent_hangs = self.rng.chance(55);
        if agent_hangs {
            self.hangup_request(ph, false, 16);
            if let Some((mut ibr, two)) = inner.take() {
                self.bridge_leave(&mut ibr, ph);
                self.hangup(ph, 16, None, "");
                self.bridge_leave(&mut ibr, two);
                self.bridge_destroy(&ibr);
                let answer = self.chans[ph].answered;
                self.dial_post_vars(two, (ring_start, ring_start, answer), "ANSWER");
                self.hangup_request(two, true, 16);
                self.hangup(two, 16, None, "ANSWER");
                self.hangup_request(ag, false, 16);
            }
            self.varset(ag, "BRIDGEPEER", "");
            self.varset(a, "BRIDGEPEER", "");
            self.bridge_leave(&mut br, ag);
            self.hangup(ag, 16, None, "");
            self.bridge_leave(&mut br, a);
            self.bridge_destroy(&br);
        } else {
            self.hangup_request(a, false, 16);
            self.varset(ag, "BRIDGEPEER", "");
            self.varset(a, "BRIDGEPEER", "");
            self.bridge_leave(&mut br, a);
            self.hangup_request(ag, true, 16);
            self.bridge_leave(&mut br, ag);
            self.bridge_destroy(&br);
        }
        let talk_s = (self.t - connect) / 1000;
        {
            let t_s = self.t / 1000;
            let qq = &mut self.queues[q];
            qq.completed += 1;
            qq.holdtime = (qq.holdtime * 3 + wait_ms / 1000) / 4;
            qq.talktime = (qq.talktime * 3 + talk_s) / 4;
            let mm = &mut qq.members[m];
            mm.in_call = false;
            mm.status = 1;
            mm.calls += 1;
            mm.last_call = t_s;
        }
        self.queue_member_status(q, m, "QueueMemberStatus");
        let full = self.rng.chance(40);
        self.agent_event("AgentComplete", a, if full { Some(ag) } else { None }, q, m);
        let b = self.b();
        hn(b, "HoldTime", wait_ms / 1000);
        hn(b, "TalkTime", talk_s);
        h(b, "Reason", if agent_hangs { "agent" } else { "caller" });
        self.finish();
        let answer_t = self.chans[a].answered;
        if agent_hangs {
            let ans_ms = self.t - connect;
            self.varset(a, "ANSWEREDTIME", &(ans_ms / 1000).to_string());
            self.varset(a, "ANSWEREDTIME_MS", &ans_ms.to_string());
            self.newexten(a, p + 1, "Hangup", "");
            self.hangup_request(a, true, 16);
            self.hangup(a, 16, None, "");
            let start = self.chans[a].created;
            self.cdr(
                a,
                CdrRec {
                    dest: Some(ag),
                    app: "Queue",
                    data: &qdata,
                    start,
                    answer: answer_t,
                    disposition: "ANSWERED",
                },
            );
        } else {
            self.hangup(a, 16, None, "");
            let start = self.chans[a].created;
            self.cdr(
                a,
                CdrRec {
                    dest: Some(ag),
                    app: "Queue",
                    data: &qdata,
                    start,
                    answer: answer_t,
                    disposition: "ANSWERED",
                },
            );
            if ag != ph {
                self.hangup(ag, 16, None, "");
            }
            if let Some((mut ibr, two)) = inner.take() {
                self.hangup_request(two, false, 16);
                self.bridge_leave(&mut ibr, two);
                self.hangup_request(ph, true, 16);
                self.bridge_leave(&mut ibr, ph);
                self.bridge_destroy(&ibr);
                self.hangup(ph, 16, None, "");
                self.hangup(two, 16, None, "ANSWER");
            } else {
                self.hangup(ph, 16, None, "");
            }
        }
        self.cel(a, "LINKEDID_END", "", "");
    }

    fn scenario_originated(&mut self, action_id: &str) {
        let (ext_a, _) = self.internal_ext();
        let to_trunk = self.rng.chance(50);
        let target =
            if to_trunk { self.external_number() } else { format!("{}", 100 + self.rng.below(40)) };
        let a = self.new_pjsip(&ext_a, 0, "from-internal", "s", None);
        self.newchannel(a);
        let cid_name = "Click2Call";
        self.newcallerid(a, &ext_a, cid_name);
        self.newconnectedline(a, &ext_a, cid_name);
        self.dial_begin(None, a, &ext_a);
        self.wait(60, 400);
        self.newstate(a, 5);
        let dev = self.chans[a].device.clone();
        self.devstate(&dev, "RINGING");
        let answered = self.rng.chance(85);
        self.wait(1_000, 8_000);
        let var_line = |b: &mut Vec<u8>, chan: &str, var: &str, val: &str| {
            b.extend_from_slice(b"ChanVariable(");
            b.extend_from_slice(chan.as_bytes());
            b.extend_from_slice(b"): ");
            b.extend_from_slice(var.as_bytes());
            b.push(b'=');
            b.extend_from_slice(val.as_bytes());
            b.extend_from_slice(b"\r\n");
        };
        let crm = format!("crm-{}", self.rng.range(100_000, 999_999));
        if !answered {
            self.t += 20_000;
            self.dial_status(None, a, "NOANSWER");
            self.hangup(a, 19, Some(408), "");
            // The channel is gone: Asterisk reports the requested channel, no ChanVariable.
            self.start("OriginateResponse", CALL);
            let b = self.b();
            h(b, "ActionID", action_id);
            h(b, "Response", "Failure");
            h(b, "Channel", &format!("PJSIP/{ext_a}"));
            h(b, "Context", "from-internal");
            h(b, "Exten", &target);
            hn(b, "Reason", 3);
            h(b, "Uniqueid", "<unknown>");
            h(b, "CallerIDNum", &ext_a);
            h(b, "CallerIDName", cid_name);
            self.finish();
            return;
        }
        self.newstate(a, 6);
        self.dial_status(None, a, "ANSWER");
        self.devstate(&dev, "INUSE");
        {
            let c = &mut self.chans[a];
            c.exten = target.clone();
            c.dnid = target.clone();
        }
        self.newexten(a, 1, "NoOp", &format!("Click-to-call {ext_a} -> {target}"));
        self.start("OriginateResponse", CALL);
        let (name, uid) = (self.chans[a].name.clone(), self.chans[a].uniqueid.clone());
        let b = self.b();
        h(b, "ActionID", action_id);
        h(b, "Response", "Success");
        h(b, "Channel", &name);
        h(b, "Context", "from-internal");
        h(b, "Exten", &target);
        hn(b, "Reason", 4);
        h(b, "Uniqueid", &uid);
        h(b, "CallerIDNum", &ext_a);
        h(b, "CallerIDName", cid_name);
        var_line(b, &name, "CRM_CALLID", &crm);
        var_line(b, &name, "CAMPAIGN", "");
        self.finish();
        self.newexten(a, 2, "Set", &format!("CRM_CALLID={crm}"));
        self.varset(a, "CRM_CALLID", &crm);
        let dest = if to_trunk {
            let trunk = *self.rng.pick(TRUNKS);
            Dest {
                endpoint: trunk.to_string(),
                dialstring: format!("{target}@{trunk}"),
                appdata: format!("PJSIP/{target}@{trunk},60,T"),
                name: String::new(),
                num: target,
            }
        } else {
            let name = NAMES[(target.len() * 3 + target.as_bytes()[2] as usize) % NAMES.len()];
            Dest {
                endpoint: target.clone(),
                dialstring: target.clone(),
                appdata: format!("PJSIP/{target},30,tT"),
                name: name.to_string(),
                num: target,
            }
        };
        self.two_party(a, 3, &dest);
    }
}

// ---------------------------------------------------------------------------------------------
// Stream generation (merge of calls, client actions and responses)
// ---------------------------------------------------------------------------------------------

const MAX_CALLS: usize = 40;

struct Gen {
    rng: Rng,
    target: usize,
    out: Vec<u8>,
    events: usize,
    responses: usize,
    list_items: usize,
    ids: Ids,
    queues: Vec<Queue>,
    calls: Vec<Call>,
    now: u64,
    boot: u64,
    next_arrival: u64,
    next_action: u64,
    next_misc: u64,
    action_seq: u64,
    pending_originates: Vec<(u64, String)>,
}

impl Gen {
    fn new(cfg: &CorpusConfig) -> Gen {
        let mut rng = Rng(cfg.seed ^ 0x5EED_A51E_C0DE_0022);
        // Somewhere in late 2025/2026 (ms since the epoch).
        let boot = (1_763_000_000 + rng.below(40_000_000)) * 1000;
        let now = boot + rng.range(600_000, 30 * 86_400_000);
        let login = (boot / 1000).saturating_sub(86_400);
        let mk = |name: &'static str, ext: &'static str, local: bool, rng: &mut Rng| Member {
            name,
            ext,
            interface: if local { format!("Local/{ext}@agents/n") } else { format!("PJSIP/{ext}") },
            state_interface: format!("PJSIP/{ext}"),
            local,
            penalty: rng.below(2),
            calls: rng.below(40),
            last_call: 0,
            last_pause: 0,
            login_time: login + rng.below(3600),
            in_call: false,
            status: 1,
            paused: false,
            reason: "",
        };
        let queues = vec![
            Queue {
                name: "support",
                strategy: "rrmemory",
                members: vec![
                    mk("Alice Agent", "201", true, &mut rng),
                    mk("Bruno Agent", "202", true, &mut rng),
                    mk("Chen Agent", "203", true, &mut rng),
                    mk("Dana Agent", "204", true, &mut rng),
                ],
                completed: rng.below(200),
                abandoned: rng.below(20),
                holdtime: rng.below(30),
                talktime: rng.range(30, 200),
            },
            Queue {
                name: "sales",
                strategy: "ringall",
                members: vec![
                    mk("Sam Sales", "301", false, &mut rng),
                    mk("Tina Sales", "302", false, &mut rng),
                    mk("Umar Sales", "303", false, &mut rng),
                ],
                completed: rng.below(200),
                abandoned: rng.below(20),
                holdtime: rng.below(30),
                talktime: rng.range(30, 200),
            },
        ];
        let ids = Ids {
            uniq: rng.range(20, 5_000),
            pjsip: rng.below(0x800) as u32,
            local: rng.below(0x100) as u32,
            processed: rng.range(100, 10_000),
            callid: rng.next_u64() & 0xffff,
        };
        Gen {
            target: cfg.target_bytes,
            out: Vec::with_capacity(cfg.target_bytes + 64 * 1024),
            events: 0,
            responses: 0,
            list_items: 0,
            ids,
            queues,
            calls: Vec::new(),
            next_arrival: now + rng.range(0, 500),
            next_action: now + rng.range(100, 1_000),
            next_misc: now + rng.range(10_000, 60_000),
            now,
            boot,
            action_seq: 1,
            pending_originates: Vec::new(),
            rng,
        }
    }

    fn action_id(&mut self) -> String {
        self.action_seq += 1;
        format!("libami-{}", self.action_seq)
    }

    fn run(mut self) -> Corpus {
        self.out.extend_from_slice(BANNER);
        self.login();
        // Start with a few calls in flight so the stream is interleaved from the start.
        for _ in 0..6 {
            let t = self.now.saturating_sub(self.rng.range(0, 20_000));
            self.spawn(None, t);
        }
        while self.out.len() < self.target {
            let mut best: Option<(u64, usize)> = None;
            for (i, c) in self.calls.iter().enumerate() {
                if let Some(t) = c.next_time()
                    && best.is_none_or(|(bt, _)| t < bt)
                {
                    best = Some((t, i));
                }
            }
            let call_t = best.map_or(u64::MAX, |b| b.0);
            let orig_t = self.pending_originates.first().map_or(u64::MAX, |p| p.0);
            let m =
                call_t.min(self.next_arrival).min(self.next_action).min(self.next_misc).min(orig_t);
            self.now = self.now.max(m);
            if m == orig_t {
                let (t, id) = self.pending_originates.remove(0);
                self.spawn(Some(&id), t);
            } else if m == self.next_arrival {
                if self.calls.len() < MAX_CALLS {
                    self.spawn(None, m);
                }
                self.next_arrival = m + self.rng.range(300, 5_000);
            } else if m == self.next_action {
                self.action();
                self.next_action = m + self.rng.range(100, 2_500);
            } else if m == self.next_misc {
                self.misc();
                self.next_misc = m + self.rng.range(15_000, 90_000);
            } else if let Some((_, i)) = best {
                let c = &mut self.calls[i];
                let start = if c.next == 0 { 0 } else { c.msgs[c.next - 1].1 };
                let stop = c.msgs[c.next].1;
                self.out.extend_from_slice(&c.buf[start..stop]);
                c.next += 1;
                self.events += 1;
                if c.next == c.msgs.len() {
                    self.calls.swap_remove(i);
                }
            }
        }
        Corpus {
            messages: self.events + self.responses + self.list_items,
            events: self.events,
            responses: self.responses,
            list_items: self.list_items,
            bytes: self.out,
        }
    }

    fn spawn(&mut self, action_id: Option<&str>, t: u64) {
        let seed = self.rng.next_u64();
        let scenario = match action_id {
            Some(_) => Scenario::Originated,
            None => match self.rng.below(100) {
                0..=44 => Scenario::Internal,
                45..=64 => Scenario::Outbound,
                _ => Scenario::Queue,
            },
        };
        let cel = self.rng.chance(20);
        self.ids.processed += 1;
        let mut g = CallGen {
            rng: Rng(seed),
            t,
            call: Call::default(),
            chans: Vec::with_capacity(6),
            cel,
            ids: &mut self.ids,
            queues: &mut self.queues,
        };
        match scenario {
            Scenario::Internal => g.scenario_internal(),
            Scenario::Outbound => g.scenario_outbound(),
            Scenario::Queue => g.scenario_queue(),
            Scenario::Originated => g.scenario_originated(action_id.unwrap_or("")),
        }
        let mut call = g.call;
        // Messages of calls started in the past (initial calls) are dropped up to `now`.
        while call.next < call.msgs.len() && call.msgs[call.next].0 < self.now {
            call.next += 1;
        }
        if call.next < call.msgs.len() {
            self.calls.push(call);
        }
    }

    // --- direct output ------------------------------------------------------------------------

    fn login(&mut self) {
        let id = self.action_id();
        let b = &mut self.out;
        h(b, "Response", "Success");
        h(b, "ActionID", &id);
        h(b, "Message", "Authentication accepted");
        end(b);
        self.responses += 1;
        let up = (self.now - self.boot) / 1000;
        h(b, "Event", "FullyBooted");
        h(b, "Privilege", "system,all");
        hn(b, "Uptime", up);
        hn(b, "LastReload", up);
        h(b, "Status", "Fully Booted");
        end(b);
        h(b, "Event", "SuccessfulAuth");
        h(b, "Privilege", "security,all");
        b.extend_from_slice(b"EventTV: ");
        push_datetime(b, self.now, true);
        b.extend_from_slice(b"\r\n");
        h(b, "Severity", "Informational");
        h(b, "Service", "AMI");
        hn(b, "EventVersion", 1);
        h(b, "AccountID", "libami");
        b.extend_from_slice(b"SessionID: 0x7f");
        push_hex8(b, self.rng.u32() & 0xffff_fff0);
        b.extend_from_slice(b"\r\n");
        h(b, "LocalAddress", "IPV4/TCP/10.10.0.5/5038");
        let port = self.rng.range(32_768, 60_999);
        h(b, "RemoteAddress", &format!("IPV4/TCP/10.10.0.20/{port}"));
        hn(b, "UsingPassword", 0);
        b.extend_from_slice(b"SessionTV: ");
        push_datetime(b, self.now, true);
        b.extend_from_slice(b"\r\n");
        end(b);
        self.events += 2;
    }

    /// Channels alive at `self.now` (their latest snapshot and hangup time), in creation order.
    fn live(&self) -> Vec<(Chan, u64)> {
        let t = self.now;
        let mut v: Vec<(Chan, u64)> = Vec::new();
        for call in &self.calls {
            let mut latest: Vec<Option<&LiveChan>> = Vec::new();
            for l in call.live.iter().filter(|l| l.from <= t && t < l.end) {
                if latest.len() <= l.ci {
                    latest.resize(l.ci + 1, None);
                }
                latest[l.ci] = Some(l);
            }
            v.extend(latest.into_iter().flatten().map(|l| (l.c.clone(), l.end)));
        }
        v.sort_by_key(|a| a.0.created);
        v
    }

    fn response(&mut self, status: &str, id: Option<&str>, msg: &str) {
        let b = &mut self.out;
        h(b, "Response", status);
        if let Some(id) = id {
            h(b, "ActionID", id);
        }
        h(b, "Message", msg);
        end(b);
        self.responses += 1;
    }

    fn list_start(&mut self, id: &str, msg: &str) {
        let b = &mut self.out;
        h(b, "Response", "Success");
        h(b, "ActionID", id);
        h(b, "EventList", "start");
        h(b, "Message", msg);
        end(b);
        self.responses += 1;
    }

    fn list_complete(&mut self, name: &str, id: &str, n: u64, items: bool) {
        let b = &mut self.out;
        h(b, "Event", name);
        h(b, "ActionID", id);
        h(b, "EventList", "Complete");
        hn(b, "ListItems", n);
        if items {
            hn(b, "Items", n);
        }
        end(b);
        self.list_items += 1;
    }

    fn action(&mut self) {
        let id = self.action_id();
        match self.rng.below(100) {
            0..=27 => {
                let b = &mut self.out;
                h(b, "Response", "Success");
                if self.rng.chance(90) {
                    h(b, "ActionID", &id);
                }
                h(b, "Ping", "Pong");
                let us = self.rng.below(1000);
                h_tv(b, "Timestamp", self.now, us);
                end(b);
                self.responses += 1;
            }
            28..=37 => self.core_show_channels(&id),
            38..=43 => self.status(&id),
            44..=49 => self.queue_status(&id),
            50..=59 => self.command(&id),
            60..=66 => {
                self.response("Success", Some(&id), "Originate successfully queued");
                let t = self.now + self.rng.range(2, 40);
                self.pending_originates.push((t, id));
            }
            67..=74 => self.getvar(&id),
            75..=78 => self.response("Success", Some(&id), "Variable Set"),
            79..=82 => self.queue_pause(Some(&id)),
            83..=86 => {
                let live = self.live();
                if live.iter().any(|(_, end)| *end < self.now + 1_500) {
                    self.response("Success", Some(&id), "Channel Hungup");
                } else {
                    self.response("Error", Some(&id), "No such channel");
                }
            }
            87..=89 => self.core_status(&id),
            90..=91 => self.core_settings(&id),
            92..=95 => {
                let name = *self.rng.pick(&["QueueStatuss", "SIPpeers", "ParkedCall", "Monitor"]);
                let msg = format!(
                    "Invalid/unknown command: {name}. Use Action: ListCommands to show available commands."
                );
                self.response("Error", Some(&id), &msg);
            }
            _ => self.response("Error", Some(&id), "Permission denied"),
        }
    }

    fn core_show_channels(&mut self, id: &str) {
        let live = self.live();
        self.list_start(id, "Channels will follow");
        let now = self.now;
        for (c, _) in &live {
            let b = &mut self.out;
            h(b, "Event", "CoreShowChannel");
            h(b, "ActionID", id);
            snapshot(b, c, "");
            h(b, "Application", &c.app);
            h(b, "ApplicationData", &c.appdata);
            let d = (now - c.created) / 1000;
            b.extend_from_slice(b"Duration: ");
            push_pad(b, d / 3600, 2);
            b.push(b':');
            push_pad(b, d / 60 % 60, 2);
            b.push(b':');
            push_pad(b, d % 60, 2);
            b.extend_from_slice(b"\r\n");
            h(b, "BridgeId", &c.bridge);
            end(b);
            self.list_items += 1;
        }
        self.list_complete("CoreShowChannelsComplete", id, live.len() as u64, false);
    }

    fn status(&mut self, id: &str) {
        let live = self.live();
        self.list_start(id, "Channel status will follow");
        let now = self.now;
        let with_vars = self.rng.chance(30);
        for (c, _) in &live {
            let b = &mut self.out;
            h(b, "Event", "Status");
            h(b, "Privilege", "Call");
            snapshot(b, c, "");
            h(b, "Type", if c.pjsip { "PJSIP" } else { "Local" });
            h(b, "DNID", &c.dnid);
            hp_cid(b, "", "EffectiveConnectedLineNum", &c.con_num, false);
            hp_cid(b, "", "EffectiveConnectedLineName", &c.con_name, true);
            hn(b, "TimeToHangup", 0);
            h(b, "BridgeID", &c.bridge);
            h(b, "Application", &c.app);
            h(b, "Data", &c.appdata);
            let fmt = if c.pjsip { "ulaw" } else { "slin" };
            h(b, "Nativeformats", &format!("({fmt})"));
            h(b, "Readformat", fmt);
            h(b, "Readtrans", "");
            h(b, "Writeformat", fmt);
            h(b, "Writetrans", "");
            hn(b, "Callgroup", 0);
            hn(b, "Pickupgroup", 0);
            hn(b, "Seconds", (now - c.created) / 1000);
            if with_vars {
                h(b, "Variable", "CALLTYPE=(null)");
                h(
                    b,
                    "Variable",
                    &format!("DIALSTATUS={}", if c.state == 6 { "ANSWER" } else { "" }),
                );
            }
            h(b, "ActionID", id);
            end(b);
            self.list_items += 1;
        }
        self.list_complete("StatusComplete", id, live.len() as u64, true);
    }

    fn queue_status(&mut self, id: &str) {
        let t = self.now;
        self.list_start(id, "Queue status will follow");
        let mut n = 0;
        let waits: Vec<QueueWait> = self
            .calls
            .iter()
            .flat_map(|c| c.waits.iter())
            .filter(|w| w.join <= t && t < w.leave)
            .cloned()
            .collect();
        for qi in 0..self.queues.len() {
            let q = &self.queues[qi];
            let waiting: Vec<&QueueWait> = waits.iter().filter(|w| w.queue == qi).collect();
            let b = &mut self.out;
            h(b, "Event", "QueueParams");
            h(b, "Queue", q.name);
            hn(b, "Max", 0);
            h(b, "Strategy", q.strategy);
            hn(b, "Calls", waiting.len() as u64);
            hn(b, "Holdtime", q.holdtime);
            hn(b, "TalkTime", q.talktime);
            hn(b, "Completed", q.completed);
            hn(b, "Abandoned", q.abandoned);
            hn(b, "ServiceLevel", 60);
            let total = q.completed + q.abandoned;
            let perf = (q.completed * 1000).checked_div(total).unwrap_or(0);
            let perf = format!("{}.{}", perf / 10, perf % 10);
            h(b, "ServicelevelPerf", &perf);
            h(b, "ServicelevelPerf2", &perf);
            hn(b, "Weight", 0);
            h(b, "ActionID", id);
            end(b);
            n += 1;
            for m in &q.members {
                h(b, "Event", "QueueMember");
                h(b, "Queue", q.name);
                h(b, "Name", m.name);
                h(b, "Location", &m.interface);
                h(b, "StateInterface", &m.state_interface);
                member_stats(b, m);
                hn(b, "Wrapuptime", 0);
                h(b, "ActionID", id);
                end(b);
                n += 1;
            }
            for (pos, w) in waiting.iter().enumerate() {
                h(b, "Event", "QueueEntry");
                h(b, "Queue", q.name);
                hn(b, "Position", pos as u64 + 1);
                h(b, "Channel", &w.c.name);
                h(b, "Uniqueid", &w.c.uniqueid);
                let or_unknown = |s: &str| if s.is_empty() { "unknown" } else { s }.to_string();
                h(b, "CallerIDNum", &or_unknown(&w.c.cid_num));
                h(b, "CallerIDName", &or_unknown(&w.c.cid_name));
                h(b, "ConnectedLineNum", &or_unknown(&w.c.con_num));
                h(b, "ConnectedLineName", &or_unknown(&w.c.con_name));
                hn(b, "Wait", (t - w.join) / 1000);
                hn(b, "Priority", 0);
                h(b, "ActionID", id);
                end(b);
                n += 1;
            }
        }
        self.list_items += n as usize;
        self.list_complete("QueueStatusComplete", id, n, false);
    }

    fn queue_pause(&mut self, id: Option<&str>) {
        let q = self.rng.below(self.queues.len() as u64) as usize;
        let m = self.rng.below(self.queues[q].members.len() as u64) as usize;
        let t = self.now / 1000;
        let pause = !self.queues[q].members[m].paused;
        {
            let reason = *self.rng.pick(&["Lunch", "Break", "Meeting", "Break: coffee", ""]);
            let mm = &mut self.queues[q].members[m];
            mm.paused = pause;
            mm.reason = if pause { reason } else { "" };
            if pause {
                mm.last_pause = t;
            }
        }
        if let Some(id) = id {
            let msg = if pause {
                "Interface paused successfully"
            } else {
                "Interface unpaused successfully"
            };
            self.response("Success", Some(id), msg);
        }
        let b = &mut self.out;
        h(b, "Event", "QueueMemberPause");
        h(b, "Privilege", AGENT);
        let qq = &self.queues[q];
        member_blob(b, qq, &qq.members[m]);
        end(b);
        self.events += 1;
    }

    fn misc(&mut self) {
        self.queue_pause(None);
    }

    fn getvar(&mut self, id: &str) {
        let live = self.live();
        if live.is_empty() || self.rng.chance(15) {
            let b = &mut self.out;
            h(b, "Response", "Success");
            h(b, "ActionID", id);
            h(b, "Variable", "TESTGLOBAL");
            h(b, "Value", "hello");
            end(b);
            self.responses += 1;
            return;
        }
        let (c, _) = &live[self.rng.below(live.len() as u64) as usize];
        let (var, val) = match self.rng.below(4) {
            0 => ("CALLERID(num)", c.cid_num.clone()),
            1 => ("CHANNEL(state)", state_desc(c.state).to_string()),
            2 => ("BRIDGEPEER", String::new()),
            _ => ("CDR(billsec)", ((self.now - c.created) / 1000).to_string()),
        };
        let b = &mut self.out;
        h(b, "Response", "Success");
        h(b, "ActionID", id);
        h(b, "Variable", var);
        h(b, "Value", &val);
        end(b);
        self.responses += 1;
    }

    fn core_status(&mut self, id: &str) {
        let calls = self.calls.len() as u64;
        let boot = self.boot;
        let processed = self.ids.processed;
        let b = &mut self.out;
        h(b, "Response", "Success");
        h(b, "ActionID", id);
        let mut date = Vec::new();
        push_datetime(&mut date, boot, false);
        let date = String::from_utf8(date).unwrap_or_default();
        let (d, t) = date.split_at(10);
        h(b, "CoreStartupDate", d);
        h(b, "CoreStartupTime", &t[1..]);
        h(b, "CoreReloadDate", d);
        h(b, "CoreReloadTime", &t[1..]);
        hn(b, "CoreCurrentCalls", calls);
        hn(b, "CoreProcessedCalls", processed);
        end(b);
        self.responses += 1;
    }

    fn core_settings(&mut self, id: &str) {
        let b = &mut self.out;
        h(b, "Response", "Success");
        h(b, "ActionID", id);
        h(b, "AMIversion", "11.0.0");
        h(b, "AsteriskVersion", "22.10.1");
        h(b, "SystemName", "");
        hn(b, "CoreMaxCalls", 0);
        h(b, "CoreMaxLoadAvg", "0.000000");
        h(b, "CoreRunUser", "asterisk");
        h(b, "CoreRunGroup", "asterisk");
        hn(b, "CoreMaxFilehandles", 0);
        h(b, "CoreRealTimeEnabled", "No");
        h(b, "CoreCDRenabled", "Yes");
        h(b, "CoreHTTPenabled", "No");
        h(b, "SoundsSearchCustomDir", "No");
        end(b);
        self.responses += 1;
    }

    fn command(&mut self, id: &str) {
        let mut lines: Vec<String> = Vec::new();
        let mut ok = true;
        match self.rng.below(7) {
            0 => {
                let live = self.live();
                lines.push(format!(
                    "{:<64.64} {:<32.32} {:<7.7} {:<30.30}",
                    "Channel", "Location", "State", "Application(Data)"
                ));
                for (c, _) in &live {
                    let loc = format!("{}@{}:{}", c.exten, c.context, c.priority);
                    let mut app = format!("{}({})", c.app, c.appdata);
                    app.truncate(39);
                    lines.push(format!(
                        "{:<64.64} {:<32.32} {:<7.7} {:<30.30}",
                        c.name,
                        loc,
                        state_desc(c.state),
                        app
                    ));
                }
                let n = live.len();
                let calls = self.calls.len();
                lines.push(format!("{n} active channel{}", if n == 1 { "" } else { "s" }));
                lines.push(format!("{calls} active call{}", if calls == 1 { "" } else { "s" }));
                lines.push(format!("{} calls processed", self.ids.processed));
            }
            1 => {
                let up = (self.now - self.boot) / 1000;
                let fmt = |s: u64| {
                    let (d, h, m, s) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
                    let mut out = String::new();
                    if d > 0 {
                        out.push_str(&format!("{d} day{}, ", if d == 1 { "" } else { "s" }));
                    }
                    if h > 0 {
                        out.push_str(&format!("{h} hour{}, ", if h == 1 { "" } else { "s" }));
                    }
                    if m > 0 {
                        out.push_str(&format!("{m} minute{}, ", if m == 1 { "" } else { "s" }));
                    }
                    out.push_str(&format!("{s} second{}", if s == 1 { "" } else { "s" }));
                    out
                };
                lines.push(format!("System uptime: {}", fmt(up)));
                lines.push(format!("Last reload: {}", fmt(up)));
            }
            2 => {
                lines.push(String::new());
                for l in [
                    "          username: libami",
                    "            secret: <Set>",
                    "               ACL: yes",
                    "         read perm: system,call,log,verbose,command,agent,user,config,dtmf,reporting,cdr,dialplan,originate,agi,cc,aoc,test,security,message,all",
                    "        write perm: system,call,originate,reporting,command,agent,all",
                    "   displayconnects: yes",
                    "allowmultiplelogin: yes",
                    "         Variables: ",
                ] {
                    lines.push(l.to_string());
                }
            }
            3 => {
                lines.push("[ Context 'from-internal' created by 'pbx_config' ]".to_string());
                lines.push("  '_1XX' =>         1. NoOp(Internal call ${CALLERID(num)} -> ${EXTEN}) [extensions.conf:21]".to_string());
                lines.push("                    2. Set(__CALLTYPE=internal)                   [extensions.conf:22]".to_string());
                lines.push("                    3. Dial(PJSIP/${EXTEN},30,tT)                 [extensions.conf:23]".to_string());
                lines.push("                    4. Hangup()                                   [extensions.conf:24]".to_string());
                lines.push(String::new());
                lines.push("-= 1 extension (4 priorities) in 1 context. =-".to_string());
            }
            4 => {
                lines.push("Asterisk 22.10.1 built by root @ pbx01 on a x86_64 running Linux on 2025-11-04 09:12:44 UTC".to_string());
            }
            5 => {
                let q = &self.queues[self.rng.below(2) as usize];
                lines.push(format!(
                    "{} has 0 calls (max unlimited) in '{}' strategy ({}s holdtime, {}s talktime), W:0, C:{}, A:{}, SL:0.0%, SL2:0.0% within 60s",
                    q.name, q.strategy, q.holdtime, q.talktime, q.completed, q.abandoned
                ));
                lines.push("   Members: ".to_string());
                for m in &q.members {
                    let st = match (m.paused, m.in_call) {
                        (true, _) => " (paused)",
                        (false, true) => " (In use)",
                        _ => " (Not in use)",
                    };
                    lines.push(format!(
                        "      {} ({} from {}) (ringinuse enabled){st} has taken {} calls (last was {} secs ago)",
                        m.name, m.interface, m.state_interface, m.calls, self.rng.range(5, 900)
                    ));
                }
                lines.push("   No Callers".to_string());
                lines.push(String::new());
            }
            _ => {
                ok = false;
                lines.push("No such command 'sip show peers' (type 'core show help sip' for other possible commands)".to_string());
            }
        }
        let b = &mut self.out;
        h(b, "Response", if ok { "Success" } else { "Error" });
        h(b, "ActionID", id);
        h(b, "Message", "Command output follows");
        for l in &lines {
            h(b, "Output", l);
        }
        end(b);
        self.responses += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1024 * 1024;

    fn gen_mib(seed: u64, mib: usize) -> Corpus {
        generate(&CorpusConfig { seed, target_bytes: mib * MIB })
    }

    /// Splits the stream (banner removed) into messages, each without its final `\r\n\r\n`.
    fn split(bytes: &[u8]) -> Vec<&[u8]> {
        let body = &bytes[BANNER.len()..];
        assert!(body.ends_with(b"\r\n\r\n"), "stream must end with a complete message");
        let mut out = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i + 4 <= body.len() {
            if &body[i..i + 4] == b"\r\n\r\n" {
                out.push(&body[start..i]);
                i += 4;
                start = i;
            } else {
                i += 1;
            }
        }
        assert_eq!(start, body.len());
        out
    }

    fn header<'a>(msg: &'a [u8], key: &str) -> Option<&'a [u8]> {
        msg.split(|&c| c == b'\n').find_map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            let k = key.as_bytes();
            if l.len() >= k.len() + 2 && &l[..k.len()] == k && &l[k.len()..k.len() + 2] == b": " {
                Some(&l[k.len() + 2..])
            } else {
                None
            }
        })
    }

    #[test]
    fn deterministic() {
        let a = gen_mib(42, 1);
        let b = gen_mib(42, 1);
        assert_eq!(a, b);
        let c = gen_mib(43, 1);
        assert_ne!(a.bytes, c.bytes);
    }

    #[test]
    fn starts_with_banner_then_login() {
        let c = gen_mib(7, 1);
        assert!(c.bytes.starts_with(BANNER));
        assert!(c.bytes[BANNER.len()..].starts_with(b"Response: Success\r\nActionID: "));
        assert!(c.bytes.len() >= MIB);
    }

    #[test]
    fn framing_is_strict() {
        for seed in [1, 2, 3] {
            let c = gen_mib(seed, 1);
            let msgs = split(&c.bytes);
            for m in &msgs {
                assert!(!m.is_empty());
                // Every LF is preceded by CR, no bare CR either.
                for (i, &x) in m.iter().enumerate() {
                    if x == b'\n' {
                        assert!(
                            i > 0 && m[i - 1] == b'\r',
                            "bare LF in {:?}",
                            String::from_utf8_lossy(m)
                        );
                    }
                    if x == b'\r' {
                        assert!(i + 1 < m.len() && m[i + 1] == b'\n', "bare CR");
                    }
                }
                let text = std::str::from_utf8(m).expect("generated text is UTF-8");
                for line in text.split("\r\n") {
                    assert!(!line.is_empty(), "empty line inside a message");
                    let (k, _v) =
                        line.split_once(": ").unwrap_or_else(|| panic!("no ': ' in line {line:?}"));
                    assert!(!k.is_empty(), "empty key in {line:?}");
                    assert!(!k.contains(' ') || k.starts_with("ChanVariable("), "key {k:?}");
                    assert!(!k.ends_with(':'));
                }
                let first = text.split("\r\n").next().unwrap_or("");
                assert!(first.starts_with("Event: ") || first.starts_with("Response: "));
            }
        }
    }

    #[test]
    fn counts_match_recount() {
        for seed in [5, 6] {
            let c = gen_mib(seed, 2);
            let msgs = split(&c.bytes);
            let (mut events, mut responses, mut items) = (0, 0, 0);
            let mut in_list: Option<Vec<u8>> = None;
            for m in &msgs {
                if m.starts_with(b"Response: ") {
                    assert!(in_list.is_none(), "response inside a list");
                    responses += 1;
                    if header(m, "EventList") == Some(b"start") {
                        in_list = Some(header(m, "ActionID").expect("list id").to_vec());
                    }
                } else if let Some(id) = &in_list {
                    assert!(m.starts_with(b"Event: "));
                    assert_eq!(header(m, "ActionID"), Some(id.as_slice()), "list item ActionID");
                    items += 1;
                    if header(m, "EventList") == Some(b"Complete") {
                        in_list = None;
                    }
                } else {
                    assert!(m.starts_with(b"Event: "));
                    let p = header(m, "Privilege").expect("async events carry Privilege");
                    assert!(p.ends_with(b"all"), "{}", String::from_utf8_lossy(p));
                    events += 1;
                }
            }
            assert!(in_list.is_none());
            assert_eq!(c.messages, msgs.len());
            assert_eq!(c.events, events);
            assert_eq!(c.responses, responses);
            assert_eq!(c.list_items, items);
            assert_eq!(c.messages, c.events + c.responses + c.list_items);
        }
    }

    #[test]
    fn list_item_counts_are_consistent() {
        let c = gen_mib(9, 2);
        let msgs = split(&c.bytes);
        let mut count = 0usize;
        let mut lists = 0;
        let mut inside = false;
        for m in &msgs {
            if m.starts_with(b"Response: ") && header(m, "EventList") == Some(b"start") {
                inside = true;
                count = 0;
            } else if inside {
                if header(m, "EventList") == Some(b"Complete") {
                    let n: usize = std::str::from_utf8(header(m, "ListItems").unwrap())
                        .unwrap()
                        .parse()
                        .unwrap();
                    assert_eq!(n, count);
                    inside = false;
                    lists += 1;
                } else {
                    count += 1;
                }
            }
        }
        assert!(lists > 10);
    }

    #[test]
    fn average_message_size_in_range() {
        for mib in [1, 16] {
            let c = gen_mib(2024, mib);
            let avg = c.average_message_size();
            println!(
                "{mib} MiB: {} messages, avg {avg:.1} B, events {} responses {} list_items {}",
                c.messages, c.events, c.responses, c.list_items
            );
            assert!((400.0..=600.0).contains(&avg), "average {avg}");
        }
    }

    #[test]
    fn content_mix() {
        let c = gen_mib(11, 4);
        let text = String::from_utf8(c.bytes.clone()).unwrap();
        for needle in [
            "Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/",
            "Event: Newstate\r\n",
            "Event: NewCallerid\r\n",
            "Event: VarSet\r\nPrivilege: dialplan,all\r\n",
            "Event: DialBegin\r\n",
            "Event: DialState\r\n",
            "Event: DialEnd\r\n",
            "Event: BridgeCreate\r\n",
            "Event: BridgeEnter\r\n",
            "Event: BridgeLeave\r\n",
            "Event: BridgeDestroy\r\n",
            "Event: RTCPSent\r\nPrivilege: reporting,all\r\n",
            "Event: RTCPReceived\r\n",
            "Report0DLSR: ",
            "Event: Hold\r\n",
            "Event: Unhold\r\n",
            "Event: HangupRequest\r\n",
            "Event: SoftHangupRequest\r\n",
            "Cause-txt: Normal Clearing\r\n",
            "TechCause: 486\r\n",
            "Event: Cdr\r\nPrivilege: cdr,all\r\n",
            "Event: CEL\r\n",
            "Event: QueueCallerJoin\r\nPrivilege: agent,all\r\n",
            "Event: QueueMemberStatus\r\n",
            "Event: AgentCalled\r\n",
            "Event: AgentConnect\r\n",
            "Event: AgentComplete\r\n",
            "Event: QueueCallerLeave\r\n",
            "Event: QueueMemberPause\r\n",
            "Event: LocalBridge\r\n",
            ";1\r\n",
            ";2\r\n",
            "Ping: Pong\r\nTimestamp: ",
            "EventList: start\r\n",
            "Event: CoreShowChannel\r\n",
            "Event: CoreShowChannelsComplete\r\n",
            "Event: Status\r\nPrivilege: Call\r\n",
            "Event: StatusComplete\r\n",
            "Event: QueueParams\r\n",
            "Event: QueueMember\r\n",
            "Event: QueueStatusComplete\r\n",
            "Message: Command output follows\r\nOutput: ",
            "\r\nOutput: \r\n",
            "Output: System uptime: ",
            "ChanVariable(PJSIP/",
            "Event: OriginateResponse\r\n",
            "Response: Error\r\n",
            "Name: Dan O\\'Neil\r\n",
        ] {
            assert!(text.contains(needle), "missing {needle:?}");
        }
    }

    #[test]
    fn value_shapes() {
        let c = gen_mib(13, 2);
        let text = std::str::from_utf8(&c.bytes).unwrap();
        let hex8 = |s: &str| s.len() == 8 && s.bytes().all(|b| b.is_ascii_hexdigit());
        for line in text.split("\r\n") {
            let Some((k, v)) = line.split_once(": ") else {
                continue;
            };
            let k = k
                .trim_start_matches("Dest")
                .trim_start_matches("LocalOne")
                .trim_start_matches("LocalTwo");
            match k {
                "Uniqueid" | "Linkedid" | "UniqueID" | "LinkedID" if v != "<unknown>" => {
                    let (sec, seq) = v.split_once('.').expect("uniqueid has a dot");
                    assert_eq!(sec.len(), 10, "{v}");
                    assert!(sec.bytes().chain(seq.bytes()).all(|b| b.is_ascii_digit()));
                }
                "Channel" if v.contains('-') => {
                    if let Some(rest) = v.strip_prefix("PJSIP/") {
                        let (_, suffix) = rest.rsplit_once('-').unwrap();
                        assert!(hex8(suffix), "{v}");
                    } else {
                        let rest = v.strip_prefix("Local/").expect(v);
                        let (body, half) = rest.rsplit_once(';').unwrap();
                        assert!(half == "1" || half == "2");
                        assert!(body.contains('@') && hex8(body.rsplit_once('-').unwrap().1));
                    }
                }
                "Privilege" => assert!(
                    [
                        "call,all",
                        "dialplan,all",
                        "agent,all",
                        "cdr,all",
                        "reporting,all",
                        "system,all",
                        "security,all",
                        "Call"
                    ]
                    .contains(&v),
                    "{v}"
                ),
                "ChannelStateDesc" => {
                    assert!(["Down", "Ring", "Ringing", "Up", "Busy"].contains(&v), "{v}")
                }
                _ => {}
            }
        }
    }

    #[test]
    fn timing_64_mib() {
        let t = std::time::Instant::now();
        let c = gen_mib(64, 64);
        let el = t.elapsed();
        println!(
            "64 MiB: {} bytes, {} messages in {:?} ({:.0} MiB/s), avg {:.1} B",
            c.bytes.len(),
            c.messages,
            el,
            c.bytes.len() as f64 / MIB as f64 / el.as_secs_f64(),
            c.average_message_size()
        );
        assert!(c.bytes.len() >= 64 * MIB);
    }
}
