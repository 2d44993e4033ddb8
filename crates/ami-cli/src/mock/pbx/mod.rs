//! The simulated PBX behind `ami mock`: channels that run a dialplan, Local channel pairs,
//! Dial and bridges, simulated PJSIP phones, and the actions that act on them.
//!
//! It decides *what* happens and *when*; every byte on the wire, every permission check and
//! the fan-out of its events to sessions are the core's [`Server`]'s. Its events follow what
//! a real Asterisk 22 publishes for the same dialplan (recorded live; see
//! `crates/ami-cli/tests/mock_calls.rs`): per channel the same kinds in the same order, with
//! Asterisk's channel names, snapshot blocks, CDRs and (with `--cel`) CEL.
//!
//! Time is simulated: every channel's "thread" (a dialplan, an Originate's application, a
//! Dial) is a state machine that runs until it waits (Wait, Playback, ringing, a bridge), and
//! a timer or another channel wakes it. Work that Asterisk does on other threads (a Local
//! channel's other half, a dialling channel) is queued and runs after the current step.

mod actions;
mod channel;
mod dial;
mod exec;
mod lists;
mod originate;
mod phones;
mod records;
mod unsupported;
mod vars;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use ami_proto::authority::event_category;
use ami_proto::perm::Privilege;
use ami_proto::server::{ActionRef, PublishedEvent, Server, SessionId};
use ami_proto::time::{Duration, Instant};

use super::dialplan::Dialplan;
use channel::{Chan, ChanId};
use dial::{Bridge, DialOp};
use originate::OriginateOp;

/// The Asterisk version the mock claims.
pub const ASTERISK_VERSION: &str = "22.10.1";

/// The modules whose actions the mock registers: those the live Asterisk of the test suites
/// (Asterisk 22.10.1 with every module it builds without extra libraries) registers, so that
/// ListCommands lists what it lists. The actions of these modules that the mock does not
/// simulate answer as that Asterisk does when it has nothing to act on (see `unsupported`).
pub const MODULES: &[&str] = &[
    "core",
    "app_confbridge",
    "app_controlplayback",
    "app_mf",
    "app_mixmonitor",
    "app_queue",
    "app_senddtmf",
    "app_voicemail",
    "pbx_config",
    "res_agi",
    "res_fax",
    "res_manager_devicestate",
    "res_manager_presencestate",
    "res_mutestream",
    "res_sorcery_memory_cache",
];

/// How a [`Pbx`] behaves.
#[derive(Clone, Debug)]
pub struct PbxOptions {
    /// The dialplan its channels run.
    pub dialplan: Dialplan,
    /// Random calls between simulated phones per second (0: only those Originate asks for).
    pub calls_per_second: f64,
    /// Seed of the simulation's randomness (ring and talk times, bridge ids).
    pub seed: u64,
    /// Publish CEL events (`cel.conf` `enable = yes`, `apps = all`, `events = ALL`).
    pub cel: bool,
}

/// Something to do at a time (or now, from the ready queue).
#[derive(Clone, Debug)]
enum Job {
    /// Run the channel's thread (its next step).
    Step(ChanId),
    /// A timer of the channel's thread (`token` tells a stale one from the current).
    Wake { chan: ChanId, token: u64 },
    /// A hangup request reaches whatever runs or holds the channel.
    HangupWake(ChanId),
    /// A control frame (answer, busy...) reaches whatever dials the channel.
    Control { chan: ChanId, control: Control },
    /// A simulated phone answers, reports busy, or hangs up.
    Phone { chan: ChanId, act: phones::PhoneAct },
    /// A Dial's timeout.
    DialTimeout { dial: u64 },
    /// An Originate's timeout.
    OriginateTimeout { op: u64 },
}

/// What a dialled channel tells whoever dials it (`AST_CONTROL_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Control {
    Answer,
    Ringing,
    Busy,
    Congestion,
    Hangup,
}

/// What the PBX hands to the server when its current step is over.
#[derive(Debug)]
enum Out {
    Event(PublishedEvent),
    Ack { session: SessionId, action: ActionRef, message: &'static str },
    Error { session: SessionId, action: ActionRef, message: &'static str },
}

/// The simulated PBX.
#[derive(Debug)]
pub struct Pbx {
    started: Instant,
    unix_offset_ms: i64,
    now: Instant,
    dialplan: Dialplan,
    cel: bool,
    globals: BTreeMap<String, String>,
    chans: BTreeMap<ChanId, Chan>,
    next_chan_id: ChanId,
    bridges: BTreeMap<u64, Bridge>,
    dials: BTreeMap<u64, DialOp>,
    originates: BTreeMap<u64, OriginateOp>,
    next_op: u64,
    /// Local channel pairs: `exten@context` and whether its `;2` runs the dialplan.
    pairs: BTreeMap<u64, channel::LocalPair>,
    /// Device states as last published.
    devices: BTreeMap<String, &'static str>,
    timers: BinaryHeap<Reverse<(u64, u64)>>,
    /// Scheduled jobs by sequence number, with their due time (ms); cancelled ones are
    /// removed here and skipped when the heap reaches them.
    timer_jobs: BTreeMap<u64, (u64, Job)>,
    ready: VecDeque<Job>,
    seq: u64,
    next_uid: u64,
    next_local: u32,
    next_tech: BTreeMap<String, u32>,
    processed_calls: u64,
    calls_per_second: f64,
    next_auto: Option<Instant>,
    rng: u64,
    published: u64,
    out: Vec<Out>,
    /// The Asterisk database of the DB actions (`/family/key` → value).
    astdb: BTreeMap<String, String>,
    /// List answers being written.
    lists: Vec<lists::PendingList>,
}

/// Most variables of one channel, and most global variables and astdb entries: beyond, a
/// Setvar or DBPut fails as Asterisk's do when they cannot store (memory stays bounded
/// whatever clients send).
pub(super) const MAX_VARS: usize = 10_000;

/// Most channels at once: beyond, an Originate or a Dial cannot get a channel (like Asterisk
/// with `maxcalls`).
pub(super) const MAX_CHANNELS: usize = 10_000;

/// Most queued jobs run in one call of [`Pbx::tick`] (a dialplan that loops without waiting
/// cannot starve the server; the rest runs on the next tick).
const JOBS_PER_TICK: usize = 20_000;

impl Pbx {
    /// A PBX started at `now`.
    pub fn new(now: Instant, unix_offset_ms: i64, opts: PbxOptions) -> Pbx {
        let cps = if opts.calls_per_second.is_finite() && opts.calls_per_second > 0.0 {
            opts.calls_per_second
        } else {
            0.0
        };
        let globals = opts.dialplan.globals.iter().cloned().collect();
        let mut pbx = Pbx {
            started: now,
            unix_offset_ms,
            now,
            dialplan: opts.dialplan,
            cel: opts.cel,
            globals,
            chans: BTreeMap::new(),
            next_chan_id: 1,
            bridges: BTreeMap::new(),
            dials: BTreeMap::new(),
            originates: BTreeMap::new(),
            next_op: 1,
            pairs: BTreeMap::new(),
            devices: BTreeMap::new(),
            timers: BinaryHeap::new(),
            timer_jobs: BTreeMap::new(),
            ready: VecDeque::new(),
            seq: 0,
            next_uid: 0,
            next_local: 0,
            next_tech: BTreeMap::new(),
            processed_calls: 0,
            calls_per_second: cps,
            next_auto: (cps > 0.0).then(|| now + Duration::from_millis(300)),
            rng: opts.seed | 1,
            published: 0,
            out: Vec::new(),
            astdb: BTreeMap::new(),
            lists: Vec::new(),
        };
        // Asterisk keeps its system UUID there.
        let (a, b, c) = (pbx.next_rand(), pbx.next_rand(), pbx.next_rand());
        let uuid = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            a & 0xffff,
            b & 0xfff,
            0x8000 | (b >> 16 & 0x3fff),
            c & 0xffff_ffff_ffff
        );
        pbx.astdb.insert("/pbx/UUID".to_owned(), uuid);
        pbx
    }

    /// Events published so far.
    pub fn published(&self) -> u64 {
        self.published
    }

    /// When [`Pbx::tick`] must run next.
    pub fn next_due(&self) -> Option<Instant> {
        if !self.ready.is_empty() {
            return Some(self.now);
        }
        let timer = self.timers.peek().map(|Reverse((at, _))| Instant::from_millis(*at));
        let lists = self.lists.iter().map(lists::PendingList::deadline).min();
        [timer, self.next_auto, lists].into_iter().flatten().min()
    }

    /// Runs everything due at `now` and hands the results to `server`.
    pub fn tick(&mut self, server: &mut Server, now: Instant) {
        self.now = self.now.max(now);
        while let Some(&Reverse((at, seq))) = self.timers.peek() {
            if at > self.now.as_millis() {
                break;
            }
            self.timers.pop();
            if let Some((_, job)) = self.timer_jobs.remove(&seq) {
                self.ready.push_back(job);
            }
        }
        while let Some(at) = self.next_auto {
            if at > self.now {
                break;
            }
            self.auto_call();
            let gap = (1000.0 / self.calls_per_second * (0.5 + self.unit())) as u64;
            self.next_auto = Some(at + Duration::from_millis(gap.max(1)));
        }
        self.run_ready();
        self.flush(server);
        self.writable(server, now);
    }

    /// Answers an action the core handed over (one of [`MOCK_ACTIONS`] or another action of
    /// the registered [`MODULES`]).
    pub fn handle_action(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: ActionRef,
        now: Instant,
    ) {
        self.now = self.now.max(now);
        self.action(server, sid, action);
        self.run_ready();
        self.flush(server);
    }

    fn run_ready(&mut self) {
        let mut budget = JOBS_PER_TICK;
        while budget > 0 {
            let Some(job) = self.ready.pop_front() else { break };
            budget -= 1;
            self.run_job(job);
        }
    }

    fn run_job(&mut self, job: Job) {
        match job {
            Job::Step(chan) => self.step(chan),
            Job::Wake { chan, token } => self.wake(chan, token),
            Job::HangupWake(chan) => self.hangup_reaches(chan),
            Job::Control { chan, control } => self.control(chan, control),
            Job::Phone { chan, act } => self.phone(chan, act),
            Job::DialTimeout { dial } => self.dial_timeout(dial),
            Job::OriginateTimeout { op } => self.originate_timeout(op),
        }
    }

    fn flush(&mut self, server: &mut Server) {
        for out in std::mem::take(&mut self.out) {
            // The answering calls fail only when the session went away meanwhile.
            match out {
                Out::Event(ev) => {
                    server.publish(&ev);
                }
                Out::Ack { session, action, message } => {
                    let _ = server.ack(session, &action, message);
                }
                Out::Error { session, action, message } => {
                    let _ = server.error(session, &action, message);
                }
            }
        }
    }

    // ---- scheduling ----

    /// Schedules `job` at `at`; returns its number (for [`Pbx::cancel`]).
    fn schedule(&mut self, at: Instant, job: Job) -> u64 {
        self.seq += 1;
        self.timer_jobs.insert(self.seq, (at.as_millis(), job));
        self.timers.push(Reverse((at.as_millis(), self.seq)));
        self.seq
    }

    fn after(&mut self, delay: Duration, job: Job) -> u64 {
        let at = self.now + delay;
        self.schedule(at, job)
    }

    /// Cancels a scheduled job. The heap keeps its entry until it is due or until cancelled
    /// entries outnumber live ones, when it is rebuilt: memory follows the live timers.
    fn cancel(&mut self, timer: Option<u64>) {
        let Some(seq) = timer else { return };
        self.timer_jobs.remove(&seq);
        if self.timers.len() > 2 * self.timer_jobs.len() + 1024 {
            self.timers =
                self.timer_jobs.iter().map(|(seq, (at, _))| Reverse((*at, *seq))).collect();
        }
    }

    fn soon(&mut self, job: Job) {
        self.ready.push_back(job);
    }

    fn token(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn op_id(&mut self) -> u64 {
        self.next_op += 1;
        self.next_op
    }

    // ---- randomness (deterministic per seed: xorshift64*) ----

    fn next_rand(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next_rand() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_rand() % (hi - lo + 1)
    }

    // ---- events ----

    /// Queues an event (its category from the catalog, `call` if unknown).
    fn publish(&mut self, name: &str, fields: &[(String, String)]) {
        let category = event_category(name.as_bytes()).unwrap_or(Privilege::CALL);
        self.publish_as(name, category, fields);
    }

    fn publish_as(&mut self, name: &str, category: Privilege, fields: &[(String, String)]) {
        let Ok(mut ev) = PublishedEvent::new(name, category) else { return };
        for (k, v) in fields {
            if ev.header(k, v).is_err() {
                return;
            }
        }
        self.out.push(Out::Event(ev));
        self.published += 1;
    }

    /// Unix seconds at `at`.
    fn unix_secs(&self, at: Instant) -> i64 {
        (at.as_millis() as i64 + self.unix_offset_ms).div_euclid(1000)
    }

    /// `YYYY-MM-DD HH:MM:SS` (UTC) of an instant.
    fn wall(&self, at: Instant) -> String {
        civil(self.unix_secs(at))
    }
}

/// `Response: <status>`, ActionID, `Message: <message>`; a message with a line end inside
/// (Asterisk's `...\n`) is written as Asterisk writes it.
pub(super) fn reply(
    server: &mut Server,
    sid: SessionId,
    action: &ActionRef,
    status: &str,
    message: &str,
) {
    if !message.contains('\n') {
        let _ = if status == "Error" {
            server.error(sid, action, message)
        } else {
            server.ack(sid, action, message)
        };
        return;
    }
    let mut raw = format!("Response: {status}\r\n");
    if let Some(id) = action.action_id() {
        raw.push_str(&format!("ActionID: {}\r\n", String::from_utf8_lossy(id)));
    }
    raw.push_str(&format!("Message: {message}\r\n\r\n"));
    let _ = server.respond_raw(sid, action, raw.as_bytes());
}

/// `YYYY-MM-DD HH:MM:SS` of Unix seconds (UTC), by Howard Hinnant's civil-from-days.
fn civil(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", sod / 3600, sod / 60 % 60, sod % 60)
}

#[cfg(test)]
mod tests;
