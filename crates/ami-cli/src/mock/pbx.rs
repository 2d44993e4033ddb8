//! The simulated PBX behind `ami mock`: channels, calls and the actions that act on them.
//!
//! It only decides *what* happens; every byte on the wire, every permission check and the
//! fan-out of its events to sessions are the core's [`Server`]'s. Events follow Asterisk 22's
//! shapes (the channel snapshot block, `Dest…` prefixes, list completions).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use ami_proto::authority::event_category;
use ami_proto::encode::{Event, Response};
use ami_proto::perm::Privilege;
use ami_proto::server::{ActionRef, PublishedEvent, Server, SessionId};
use ami_proto::time::{Duration, Instant};

/// The Asterisk version the mock claims.
pub const ASTERISK_VERSION: &str = "22.10.1";

/// Actions the mock answers (besides those the core's server answers itself: Login, Logoff,
/// Challenge, Events, Filter, Ping, ListCommands, WaitEvent). Everything else is unknown, as on
/// an Asterisk without the module.
pub const MOCK_ACTIONS: &[&str] = &[
    "Login",
    "Logoff",
    "Challenge",
    "Events",
    "Filter",
    "Ping",
    "ListCommands",
    "WaitEvent",
    "CoreSettings",
    "CoreStatus",
    "Command",
    "Originate",
    "Hangup",
    "Status",
    "CoreShowChannels",
    "Getvar",
    "Setvar",
    "UserEvent",
    "Reload",
];

/// One channel.
#[derive(Clone, Debug)]
struct Channel {
    name: String,
    uniqueid: String,
    linkedid: String,
    state: u8,
    cid_num: String,
    cid_name: String,
    conn_num: String,
    conn_name: String,
    context: String,
    exten: String,
    priority: u32,
    app: String,
    app_data: String,
    vars: BTreeMap<String, String>,
    created: Instant,
    bridge: Option<String>,
}

fn state_desc(s: u8) -> &'static str {
    match s {
        0 => "Down",
        4 => "Ring",
        5 => "Ringing",
        6 => "Up",
        7 => "Busy",
        _ => "Unknown",
    }
}

/// What happens at a scheduled time.
#[derive(Clone, Debug)]
enum Step {
    /// The originated (or auto) caller channel answers.
    Answer { call: u64 },
    /// The callee leg is dialled.
    Dial { call: u64 },
    /// The callee answers and both legs are bridged.
    Connect { call: u64 },
    /// The call ends.
    Hangup { call: u64, cause: u32 },
    /// An originate that will fail (busy / no answer).
    Fail { call: u64, reason: u32 },
}

/// A call in progress: one or two channels.
#[derive(Debug)]
struct Call {
    a: String,
    b: Option<String>,
    /// Dialplan target (`Exten`@`Context`) or application.
    target: Target,
    /// The Originate to answer when the caller answers: sync (pending response) or async
    /// (`OriginateResponse` with its ActionID).
    originate: Option<Originate>,
    talk: Duration,
    bridge: Option<String>,
    answered_at: Option<Instant>,
}

#[derive(Clone, Debug)]
enum Target {
    Exten { context: String, exten: String },
    App { app: String, data: String },
}

#[derive(Debug)]
struct Originate {
    session: SessionId,
    action: ActionRef,
    is_async: bool,
    action_id: Option<String>,
}

/// The simulated PBX.
#[derive(Debug)]
pub struct Pbx {
    started: Instant,
    unix_offset_ms: i64,
    uid_base: u64,
    next_uid: u64,
    next_chan: u32,
    next_bridge: u32,
    channels: Vec<Channel>,
    globals: BTreeMap<String, String>,
    calls: BTreeMap<u64, Call>,
    next_call: u64,
    schedule: BinaryHeap<Reverse<(u64, u64, usize)>>,
    steps: Vec<Option<Step>>,
    seq: u64,
    processed_calls: u64,
    calls_per_second: f64,
    next_auto: Option<Instant>,
    rng: u64,
    published: u64,
}

impl Pbx {
    /// A PBX started at `now`, placing `calls_per_second` random internal calls (0: none).
    pub fn new(now: Instant, unix_offset_ms: i64, calls_per_second: f64, seed: u64) -> Pbx {
        let unix_secs =
            u64::try_from((now.as_millis() as i64 + unix_offset_ms) / 1000).unwrap_or(0);
        let cps = if calls_per_second.is_finite() && calls_per_second > 0.0 {
            calls_per_second
        } else {
            0.0
        };
        Pbx {
            started: now,
            unix_offset_ms,
            uid_base: unix_secs,
            next_uid: 1,
            next_chan: 1,
            next_bridge: 1,
            channels: Vec::new(),
            globals: BTreeMap::new(),
            calls: BTreeMap::new(),
            next_call: 1,
            schedule: BinaryHeap::new(),
            steps: Vec::new(),
            seq: 0,
            processed_calls: 0,
            calls_per_second: cps,
            next_auto: (cps > 0.0).then(|| now + Duration::from_millis(300)),
            rng: seed | 1,
            published: 0,
        }
    }

    /// Events published so far.
    pub fn published(&self) -> u64 {
        self.published
    }

    /// When [`Pbx::tick`] must run next.
    pub fn next_due(&self) -> Option<Instant> {
        let step = self.schedule.peek().map(|Reverse((at, _, _))| Instant::from_millis(*at));
        match (step, self.next_auto) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs everything due at `now`.
    pub fn tick(&mut self, server: &mut Server, now: Instant) {
        while let Some(&Reverse((at, _, idx))) = self.schedule.peek() {
            if at > now.as_millis() {
                break;
            }
            self.schedule.pop();
            if let Some(step) = self.steps.get_mut(idx).and_then(Option::take) {
                self.run_step(server, step, now);
            }
        }
        if self.steps.len() > 1024 && self.schedule.is_empty() {
            self.steps.clear();
        }
        while let Some(at) = self.next_auto {
            if at > now {
                break;
            }
            self.auto_call(server, now);
            let gap = (1000.0 / self.calls_per_second * (0.5 + self.unit())) as u64;
            self.next_auto = Some(at + Duration::from_millis(gap.max(1)));
        }
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

    fn at(&mut self, when: Instant, step: Step) {
        self.seq += 1;
        self.steps.push(Some(step));
        self.schedule.push(Reverse((when.as_millis(), self.seq, self.steps.len() - 1)));
    }

    // ---- channels and events ----

    fn uniqueid(&mut self) -> String {
        let id = format!("{}.{}", self.uid_base, self.next_uid);
        self.next_uid += 1;
        id
    }

    fn chan_mut(&mut self, name: &str) -> Option<&mut Channel> {
        self.channels.iter_mut().find(|c| c.name == name)
    }

    fn chan(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.name.eq_ignore_ascii_case(name))
    }

    fn snapshot(ev: &mut Vec<(String, String)>, c: &Channel, prefix: &str) {
        let mut h = |k: &str, v: &str| ev.push((format!("{prefix}{k}"), v.to_owned()));
        h("Channel", &c.name);
        h("ChannelState", &c.state.to_string());
        h("ChannelStateDesc", state_desc(c.state));
        h("CallerIDNum", &c.cid_num);
        h("CallerIDName", &c.cid_name);
        h("ConnectedLineNum", &c.conn_num);
        h("ConnectedLineName", &c.conn_name);
        h("Language", "en");
        h("AccountCode", "");
        h("Context", &c.context);
        h("Exten", &c.exten);
        h("Priority", &c.priority.to_string());
        h("Uniqueid", &c.uniqueid);
        h("Linkedid", &c.linkedid);
    }

    /// A list item named `name` that starts with the channel's snapshot block.
    fn snapshot_item(name: &str, c: &Channel) -> Event {
        let mut f = Vec::with_capacity(16);
        Self::snapshot(&mut f, c, "");
        let mut ev = Event::new(name);
        for (k, v) in f {
            ev.push(k, v);
        }
        ev
    }

    fn publish(&mut self, server: &mut Server, name: &str, fields: &[(String, String)]) {
        let category = event_category(name.as_bytes()).unwrap_or(Privilege::CALL);
        let Ok(mut ev) = PublishedEvent::new(name, category) else { return };
        for (k, v) in fields {
            if ev.header(k, v).is_err() {
                return;
            }
        }
        server.publish(&ev);
        self.published += 1;
    }

    fn chan_event(&mut self, server: &mut Server, name: &str, chan: &str, extra: &[(&str, &str)]) {
        self.snapshots_event(server, name, &[(chan, "")], extra);
    }

    /// An event with the snapshot block of each `(channel, prefix)`, then `extra`; nothing if
    /// a channel is gone.
    fn snapshots_event(
        &mut self,
        server: &mut Server,
        name: &str,
        chans: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) {
        let mut f = Vec::with_capacity(16 * chans.len() + extra.len());
        for (chan, prefix) in chans {
            let Some(c) = self.chan(chan) else { return };
            Self::snapshot(&mut f, c, prefix);
        }
        f.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        self.publish(server, name, &f);
    }

    fn new_channel(
        &mut self,
        server: &mut Server,
        base: &str,
        linkedid: Option<String>,
        cid: (&str, &str),
        (context, exten): (&str, &str),
        now: Instant,
    ) -> String {
        let name = format!("{base}-{:08x}", self.next_chan);
        self.next_chan += 1;
        let uniqueid = self.uniqueid();
        self.channels.push(Channel {
            name: name.clone(),
            linkedid: linkedid.unwrap_or_else(|| uniqueid.clone()),
            uniqueid,
            state: 0,
            cid_num: cid.0.to_owned(),
            cid_name: cid.1.to_owned(),
            conn_num: "<unknown>".to_owned(),
            conn_name: "<unknown>".to_owned(),
            context: context.to_owned(),
            exten: exten.to_owned(),
            priority: 1,
            app: String::new(),
            app_data: String::new(),
            vars: BTreeMap::new(),
            created: now,
            bridge: None,
        });
        self.chan_event(server, "Newchannel", &name, &[]);
        name
    }

    fn set_state(&mut self, server: &mut Server, chan: &str, state: u8) {
        let Some(c) = self.chan_mut(chan) else { return };
        c.state = state;
        self.chan_event(server, "Newstate", chan, &[]);
    }

    fn newexten(&mut self, server: &mut Server, chan: &str, app: &str, data: &str) {
        let Some(c) = self.chan_mut(chan) else { return };
        c.app = app.to_owned();
        c.app_data = data.to_owned();
        let exten = c.exten.clone();
        self.chan_event(
            server,
            "Newexten",
            chan,
            &[("Extension", &exten), ("Application", app), ("AppData", data)],
        );
        if let Some(c) = self.chan_mut(chan) {
            c.priority += 1;
        }
    }

    fn set_var(&mut self, server: &mut Server, chan: &str, var: &str, value: &str) {
        let Some(c) = self.chan_mut(chan) else { return };
        c.vars.insert(var.to_owned(), value.to_owned());
        self.chan_event(server, "VarSet", chan, &[("Variable", var), ("Value", value)]);
    }

    fn dial_pair(
        &mut self,
        server: &mut Server,
        name: &str,
        a: &str,
        b: &str,
        extra: &[(&str, &str)],
    ) {
        self.snapshots_event(server, name, &[(a, ""), (b, "Dest")], extra);
    }

    fn bridge_event(
        &mut self,
        server: &mut Server,
        name: &str,
        bridge: &str,
        chans: usize,
        chan: Option<&str>,
    ) {
        let mut f: Vec<(String, String)> = vec![
            ("BridgeUniqueid".into(), bridge.into()),
            ("BridgeType".into(), "basic".into()),
            ("BridgeTechnology".into(), "simple_bridge".into()),
            ("BridgeCreator".into(), "<unknown>".into()),
            ("BridgeName".into(), "<unknown>".into()),
            ("BridgeNumChannels".into(), chans.to_string()),
            ("BridgeVideoSourceMode".into(), "none".into()),
        ];
        if let Some(c) = chan.and_then(|c| self.chan(c)) {
            Self::snapshot(&mut f, c, "");
        }
        self.publish(server, name, &f);
    }

    fn hangup_channel(&mut self, server: &mut Server, chan: &str, cause: u32, now: Instant) {
        let Some(c) = self.chan(chan).cloned() else { return };
        let cause_txt = match cause {
            16 => "Normal Clearing",
            17 => "User busy",
            19 => "No user responding",
            _ => "Unknown",
        };
        let cause_s = cause.to_string();
        self.chan_event(server, "HangupRequest", chan, &[("Cause", &cause_s)]);
        self.chan_event(server, "Hangup", chan, &[("Cause", &cause_s), ("Cause-txt", cause_txt)]);
        let secs = now.saturating_duration_since(c.created).as_millis() / 1000;
        let start = self.wall(c.created);
        let end = self.wall(now);
        let disposition = if cause == 16 {
            "ANSWERED"
        } else if cause == 17 {
            "BUSY"
        } else {
            "NO ANSWER"
        };
        let f: Vec<(String, String)> = [
            ("AccountCode", ""),
            ("Source", c.cid_num.as_str()),
            ("Destination", c.exten.as_str()),
            ("DestinationContext", c.context.as_str()),
            ("CallerID", &format!("\"{}\" <{}>", c.cid_name, c.cid_num)),
            ("Channel", c.name.as_str()),
            ("DestinationChannel", ""),
            ("LastApplication", c.app.as_str()),
            ("LastData", c.app_data.as_str()),
            ("StartTime", start.as_str()),
            ("AnswerTime", if cause == 16 { start.as_str() } else { "" }),
            ("EndTime", end.as_str()),
            ("Duration", &secs.to_string()),
            ("BillableSeconds", &(if cause == 16 { secs } else { 0 }).to_string()),
            ("Disposition", disposition),
            ("AMAFlags", "DOCUMENTATION"),
            ("UniqueID", c.uniqueid.as_str()),
            ("UserField", ""),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        self.channels.retain(|x| x.name != chan);
        self.publish(server, "Cdr", &f);
    }

    /// `YYYY-MM-DD HH:MM:SS` (UTC) of an instant.
    fn wall(&self, at: Instant) -> String {
        let ms = at.as_millis() as i64 + self.unix_offset_ms;
        civil(ms.div_euclid(1000))
    }

    // ---- calls ----

    fn auto_call(&mut self, server: &mut Server, now: Instant) {
        let from = self.between(100, 119);
        let mut to = self.between(100, 119);
        if to == from {
            to = 100 + (to - 99) % 20;
        }
        let names = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi"];
        let who = names[(from % names.len() as u64) as usize];
        let a = self.new_channel(
            server,
            &format!("PJSIP/{from}"),
            None,
            (&from.to_string(), who),
            ("from-internal", &to.to_string()),
            now,
        );
        self.set_state(server, &a, 4);
        let talk = Duration::from_millis(self.between(1500, 6000));
        let call = self.add_call(Call {
            a,
            b: None,
            target: Target::Exten { context: "from-internal".into(), exten: to.to_string() },
            originate: None,
            talk,
            bridge: None,
            answered_at: Some(now),
        });
        let d = self.between(50, 300);
        self.at(now + Duration::from_millis(d), Step::Dial { call });
    }

    fn add_call(&mut self, call: Call) -> u64 {
        let id = self.next_call;
        self.next_call += 1;
        self.calls.insert(id, call);
        id
    }

    fn run_step(&mut self, server: &mut Server, step: Step, now: Instant) {
        match step {
            Step::Answer { call } => self.answer(server, call, now),
            Step::Dial { call } => self.dial(server, call, now),
            Step::Connect { call } => self.connect(server, call, now),
            Step::Hangup { call, cause } => self.end_call(server, call, cause, now),
            Step::Fail { call, reason } => self.fail(server, call, reason, now),
        }
    }

    /// The originated channel answered: report the Originate, then run its target.
    fn answer(&mut self, server: &mut Server, call: u64, now: Instant) {
        let Some(c) = self.calls.get_mut(&call) else { return };
        c.answered_at = Some(now);
        let a = c.a.clone();
        let target = c.target.clone();
        let originate = c.originate.take();
        self.set_state(server, &a, 6);
        if let Some(o) = originate {
            self.originate_result(server, &o, &a, &target, true, 4);
        }
        match target {
            Target::Exten { .. } => {
                let d = self.between(50, 200);
                self.at(now + Duration::from_millis(d), Step::Dial { call });
            }
            Target::App { app, data } => {
                self.newexten(server, &a, &app, &data);
                let talk = self.calls.get(&call).map_or(Duration::from_secs(2), |c| c.talk);
                self.at(now + talk, Step::Hangup { call, cause: 16 });
            }
        }
    }

    fn originate_result(
        &mut self,
        server: &mut Server,
        o: &Originate,
        chan: &str,
        target: &Target,
        ok: bool,
        reason: u32,
    ) {
        if o.is_async {
            let (context, exten) = match target {
                Target::Exten { context, exten } => (context.clone(), exten.clone()),
                Target::App { .. } => (String::new(), String::new()),
            };
            let (uid, num, name) = self
                .chan(chan)
                .map(|c| (c.uniqueid.clone(), c.cid_num.clone(), c.cid_name.clone()))
                .unwrap_or_else(|| ("<null>".into(), "<unknown>".into(), "<unknown>".into()));
            let mut f: Vec<(String, String)> = Vec::new();
            if let Some(id) = &o.action_id {
                f.push(("ActionID".into(), id.clone()));
            }
            for (k, v) in [
                ("Response", if ok { "Success" } else { "Failure" }),
                ("Channel", chan),
                ("Context", &context),
                ("Exten", &exten),
                ("Reason", &reason.to_string()),
                ("Uniqueid", &uid),
                ("CallerIDNum", &num),
                ("CallerIDName", &name),
            ] {
                f.push((k.into(), v.to_owned()));
            }
            self.publish(server, "OriginateResponse", &f);
        } else if ok {
            let _ = server.ack(o.session, &o.action, "Originate successfully queued");
        } else {
            let _ = server.error(o.session, &o.action, "Originate failed");
        }
    }

    fn dial(&mut self, server: &mut Server, call: u64, now: Instant) {
        let Some(c) = self.calls.get(&call) else { return };
        let Target::Exten { context, exten } = c.target.clone() else { return };
        let a = c.a.clone();
        let linked = self.chan(&a).map(|c| c.linkedid.clone());
        let (num, name) =
            self.chan(&a).map(|c| (c.cid_num.clone(), c.cid_name.clone())).unwrap_or_default();
        self.newexten(server, &a, "Dial", &format!("PJSIP/{exten},30"));
        self.set_var(server, &a, "DIALEDPEERNUMBER", &exten);
        let b = self.new_channel(
            server,
            &format!("PJSIP/{exten}"),
            linked,
            (&exten, &format!("Extension {exten}")),
            (&context, &exten),
            now,
        );
        if let Some(cb) = self.chan_mut(&b) {
            cb.conn_num = num.clone();
            cb.conn_name = name.clone();
        }
        self.dial_pair(server, "DialBegin", &a, &b, &[("DialString", &exten)]);
        self.set_state(server, &b, 5);
        if let Some(c) = self.calls.get_mut(&call) {
            c.b = Some(b);
        }
        let d = self.between(400, 1500);
        self.at(now + Duration::from_millis(d), Step::Connect { call });
    }

    fn connect(&mut self, server: &mut Server, call: u64, now: Instant) {
        let Some(c) = self.calls.get(&call) else { return };
        let (a, Some(b), talk) = (c.a.clone(), c.b.clone(), c.talk) else { return };
        self.set_state(server, &b, 6);
        self.dial_pair(server, "DialEnd", &a, &b, &[("DialStatus", "ANSWER")]);
        if self.chan(&a).is_some_and(|c| c.state != 6) {
            self.set_state(server, &a, 6);
        }
        let tail = self.next_rand() & 0xffff_ffff_ffff;
        let bridge = format!("{:08x}-0000-4000-8000-{tail:012x}", self.next_bridge);
        self.next_bridge += 1;
        self.bridge_event(server, "BridgeCreate", &bridge, 0, None);
        for (n, ch) in [(1, &a), (2, &b)] {
            if let Some(c) = self.chan_mut(ch) {
                c.bridge = Some(bridge.clone());
            }
            self.bridge_event(server, "BridgeEnter", &bridge, n, Some(ch));
        }
        if let Some(c) = self.calls.get_mut(&call) {
            c.bridge = Some(bridge);
        }
        self.at(now + talk, Step::Hangup { call, cause: 16 });
    }

    fn end_call(&mut self, server: &mut Server, call: u64, cause: u32, now: Instant) {
        let Some(c) = self.calls.remove(&call) else { return };
        if let Some(bridge) = &c.bridge {
            let mut left = usize::from(c.b.is_some()) + 1;
            for ch in std::iter::once(&c.a).chain(c.b.iter()) {
                left -= 1;
                self.bridge_event(server, "BridgeLeave", bridge, left, Some(ch));
            }
            self.bridge_event(server, "BridgeDestroy", bridge, 0, None);
        }
        for ch in std::iter::once(&c.a).chain(c.b.iter()) {
            self.hangup_channel(server, ch, cause, now);
        }
        if let Some(o) = c.originate {
            // Hung up before it answered.
            self.originate_result(server, &o, &c.a, &c.target, false, 1);
        }
        self.processed_calls += 1;
    }

    fn fail(&mut self, server: &mut Server, call: u64, reason: u32, now: Instant) {
        let Some(mut c) = self.calls.remove(&call) else { return };
        let cause = if reason == 5 { 17 } else { 19 };
        if let Some(o) = c.originate.take() {
            self.hangup_channel(server, &c.a, cause, now);
            self.originate_result(server, &o, &c.a, &c.target, false, reason);
        } else {
            self.hangup_channel(server, &c.a, cause, now);
        }
        self.processed_calls += 1;
    }

    // ---- actions ----

    /// Answers an action the core handed over (one of [`MOCK_ACTIONS`]).
    pub fn handle_action(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: ActionRef,
        now: Instant,
    ) {
        let text = |name: &str| {
            action.get(name).map(|v| String::from_utf8_lossy(v).into_owned()).unwrap_or_default()
        };
        let name = action.name();
        let result = match name {
            "CoreSettings" => {
                let r = Response::new("Success")
                    .with("AMIversion", "11.0.0")
                    .with("AsteriskVersion", ASTERISK_VERSION)
                    .with("SystemName", "")
                    .with("CoreMaxCalls", "0")
                    .with("CoreMaxLoadAvg", "0.000000")
                    .with("CoreRunUser", "")
                    .with("CoreRunGroup", "")
                    .with("CoreMaxFilehandles", "0")
                    .with("CoreRealTimeEnabled", "No")
                    .with("CoreCDRenabled", "Yes")
                    .with("CoreHTTPenabled", "No")
                    .with("SoundsSearchCustomDir", "No");
                server.respond(sid, &action, &r)
            }
            "CoreStatus" => {
                let started = self.wall(self.started);
                let (date, time) = started.split_once(' ').unwrap_or(("", ""));
                let r = Response::new("Success")
                    .with("CoreStartupDate", date)
                    .with("CoreStartupTime", time)
                    .with("CoreReloadDate", date)
                    .with("CoreReloadTime", time)
                    .with("CoreCurrentCalls", self.channels.len().to_string())
                    .with("CoreProcessedCalls", self.processed_calls.to_string());
                server.respond(sid, &action, &r)
            }
            "Command" => self.command(server, sid, &action, &text("Command"), now),
            "Originate" => {
                self.originate(server, sid, action, now);
                return;
            }
            "Hangup" => {
                let chan = text("Channel");
                if chan.is_empty() {
                    server.error(sid, &action, "No channel specified")
                } else if let Some(call) = self.call_of(&chan) {
                    let r = server.ack(sid, &action, "Channel Hungup");
                    self.end_call(server, call, 16, now);
                    r
                } else {
                    server.error(sid, &action, "No such channel")
                }
            }
            "Status" => self.status(server, sid, &action, &text("Channel"), now),
            "CoreShowChannels" => self.core_show_channels(server, sid, &action, now),
            "Getvar" => {
                let var = text("Variable");
                let chan = text("Channel");
                if let Some(refusal) = self.variable_refusal(&var, &chan) {
                    server.error(sid, &action, refusal)
                } else {
                    let value = if chan.is_empty() {
                        self.globals.get(&var).cloned()
                    } else {
                        self.chan(&chan).and_then(|c| c.vars.get(&var).cloned())
                    };
                    let r = Response::new("Success")
                        .with("Variable", var.as_str())
                        .with("Value", value.unwrap_or_default());
                    server.respond(sid, &action, &r)
                }
            }
            "Setvar" => {
                let var = text("Variable");
                let chan = text("Channel");
                if let Some(refusal) = self.variable_refusal(&var, &chan) {
                    server.error(sid, &action, refusal)
                } else {
                    let value = text("Value");
                    if chan.is_empty() {
                        self.globals.insert(var, value);
                    } else if let Some(real) = self.chan(&chan).map(|c| c.name.clone()) {
                        self.set_var(server, &real, &var, &value);
                    }
                    server.ack(sid, &action, "Variable Set")
                }
            }
            // Asterisk's answers; the mock's users stay those it started with.
            "Reload" => match text("Module").as_str() {
                "" | "manager" => server.ack(sid, &action, "Module Reloaded"),
                _ => server.error(sid, &action, "No such module"),
            },
            "UserEvent" => {
                let ev = text("UserEvent");
                let mut f: Vec<(String, String)> = vec![("UserEvent".into(), ev)];
                for h in action.message().iter() {
                    if h.is_bare() || h.is(b"Action") || h.is(b"UserEvent") {
                        continue;
                    }
                    f.push((
                        String::from_utf8_lossy(h.name()).into_owned(),
                        String::from_utf8_lossy(h.value()).into_owned(),
                    ));
                }
                let r = server.ack(sid, &action, "Event Sent");
                self.publish(server, "UserEvent", &f);
                r
            }
            _ => server.error(sid, &action, "Invalid/unknown command"),
        };
        if let Err(e) = result {
            // Only possible if the session went away meanwhile; nothing to answer then.
            let _ = e;
        }
    }

    /// Why a Getvar/Setvar of `var` (on `chan`, if not empty) is refused, if it is.
    fn variable_refusal(&self, var: &str, chan: &str) -> Option<&'static str> {
        if var.is_empty() {
            Some("No variable specified")
        } else if !chan.is_empty() && self.chan(chan).is_none() {
            Some("No such channel")
        } else {
            None
        }
    }

    fn call_of(&self, chan: &str) -> Option<u64> {
        self.calls
            .iter()
            .find(|(_, c)| {
                c.a.eq_ignore_ascii_case(chan)
                    || c.b.as_deref().is_some_and(|b| b.eq_ignore_ascii_case(chan))
            })
            .map(|(id, _)| *id)
    }

    fn originate(&mut self, server: &mut Server, sid: SessionId, action: ActionRef, now: Instant) {
        let text = |name: &str| action.get(name).map(|v| String::from_utf8_lossy(v).into_owned());
        let action_id = text("ActionID");
        let Some(channel) = text("Channel").filter(|c| !c.is_empty()) else {
            let _ = server.error(sid, &action, "Channel not specified");
            return;
        };
        let Some((tech, resource)) =
            channel.split_once('/').filter(|(t, r)| !t.is_empty() && !r.is_empty())
        else {
            let _ = server.error(sid, &action, "Invalid channel");
            return;
        };
        let target = if let Some(app) = text("Application").filter(|a| !a.is_empty()) {
            Target::App { app, data: text("Data").unwrap_or_default() }
        } else {
            let exten = text("Exten").unwrap_or_default();
            if exten.is_empty() {
                let _ = server.error(sid, &action, "Exten not specified");
                return;
            }
            Target::Exten { context: text("Context").unwrap_or_else(|| "default".into()), exten }
        };
        let is_async = text("Async").is_some_and(|v| ami_proto::config::ast_true(&v));
        let known_tech =
            ["PJSIP", "SIP", "IAX2", "DAHDI", "Local"].iter().any(|t| t.eq_ignore_ascii_case(tech));
        if !known_tech {
            // Asterisk fails the dial at once: sync → error; async → OriginateResponse Failure.
            if is_async {
                let _ = server.ack(sid, &action, "Originate successfully queued");
                let o = Originate { session: sid, action, is_async, action_id };
                self.originate_result(server, &o, &channel, &target, false, 0);
            } else {
                let _ = server.error(sid, &action, "Originate failed");
            }
            return;
        }
        let cid = text("CallerID").unwrap_or_default();
        let (cid_name, cid_num) = match cid.split_once('<') {
            Some((name, rest)) => {
                (name.trim().trim_matches('"').to_owned(), rest.trim_end_matches('>').to_owned())
            }
            None if !cid.is_empty() => (String::new(), cid.clone()),
            None => ("<unknown>".to_owned(), "<unknown>".to_owned()),
        };
        let (ctx, ext) = match &target {
            Target::Exten { context, exten } => (context.clone(), exten.clone()),
            Target::App { .. } => ("default".to_owned(), "s".to_owned()),
        };
        let a = self.new_channel(
            server,
            &format!("{tech}/{resource}"),
            None,
            (&cid_num, &cid_name),
            (&ctx, &ext),
            now,
        );
        for v in action.message().get_all(b"Variable") {
            let v = String::from_utf8_lossy(v);
            if let Some((k, val)) = v.split_once('=') {
                self.set_var(server, &a, k, val);
            }
        }
        self.set_state(server, &a, 5);
        let talk = Duration::from_millis(self.between(2000, 5000));
        let ring = Duration::from_millis(self.between(300, 900));
        let lower = resource.to_ascii_lowercase();
        let outcome = if lower.starts_with("busy") {
            Some(5)
        } else if lower.starts_with("noanswer") {
            Some(3)
        } else {
            None
        };
        if is_async {
            let _ = server.ack(sid, &action, "Originate successfully queued");
        }
        let call = self.add_call(Call {
            a,
            b: None,
            target,
            originate: Some(Originate { session: sid, action, is_async, action_id }),
            talk,
            bridge: None,
            answered_at: None,
        });
        match outcome {
            Some(reason) => self.at(now + ring, Step::Fail { call, reason }),
            None => self.at(now + ring, Step::Answer { call }),
        }
    }

    fn command(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: &ActionRef,
        cmd: &str,
        now: Instant,
    ) -> Result<(), ami_proto::server::ServerError> {
        let words: Vec<&str> = cmd.split_whitespace().collect();
        let norm = words.join(" ").to_ascii_lowercase();
        if words.is_empty() {
            return server.error(sid, action, "No command provided");
        }
        let output = match norm.as_str() {
            "core show version" => format!(
                "Asterisk {ASTERISK_VERSION} built by libami @ mock on a x86_64 running Linux (ami mock)\n"
            ),
            "core show uptime" => {
                let up = now.saturating_duration_since(self.started).as_millis() / 1000;
                format!("System uptime: {} seconds\nLast reload: {} seconds\n", up, up)
            }
            "core show channels" => {
                let mut out = format!(
                    "{:<20} {:<20} {:<15} {}\n",
                    "Channel", "Location", "State", "Application(Data)"
                );
                for c in &self.channels {
                    let loc = format!("{}@{}:{}", c.exten, c.context, c.priority);
                    let app = if c.app.is_empty() {
                        "(None)".to_owned()
                    } else {
                        format!("{}({})", c.app, c.app_data)
                    };
                    out.push_str(&format!(
                        "{:<20} {:<20} {:<15} {}\n",
                        c.name,
                        loc,
                        state_desc(c.state),
                        app
                    ));
                }
                let calls = self.calls.values().filter(|c| c.answered_at.is_some()).count();
                out.push_str(&format!(
                    "{} active channel{}\n{} active call{}\n{} call{} processed\n",
                    self.channels.len(),
                    if self.channels.len() == 1 { "" } else { "s" },
                    calls,
                    if calls == 1 { "" } else { "s" },
                    self.processed_calls,
                    if self.processed_calls == 1 { "" } else { "s" },
                ));
                out
            }
            _ => {
                let best = words.iter().take(2).copied().collect::<Vec<_>>().join(" ");
                let text = format!(
                    "No such command '{}' (type 'core show help {best}' for other possible commands)\n",
                    words.join(" ")
                );
                return server.command_output(sid, action, false, text.as_bytes());
            }
        };
        server.command_output(sid, action, true, output.as_bytes())
    }

    fn status(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: &ActionRef,
        only: &str,
        now: Instant,
    ) -> Result<(), ami_proto::server::ServerError> {
        if !only.is_empty() && self.chan(only).is_none() {
            return server.error(sid, action, "No such channel");
        }
        server.list_start(sid, action, "Channel status will follow")?;
        let mut n = 0;
        let chans: Vec<Channel> = self
            .channels
            .iter()
            .filter(|c| only.is_empty() || c.name.eq_ignore_ascii_case(only))
            .cloned()
            .collect();
        for c in &chans {
            let secs = now.saturating_duration_since(c.created).as_millis() / 1000;
            let mut ev = Self::snapshot_item("Status", c);
            ev.push("Type", c.name.split('/').next().unwrap_or(""));
            ev.push("DNID", "");
            ev.push("EffectiveConnectedLineNum", c.conn_num.as_str());
            ev.push("EffectiveConnectedLineName", c.conn_name.as_str());
            ev.push("TimeToHangup", "0");
            ev.push("BridgeID", c.bridge.clone().unwrap_or_default());
            ev.push("Application", c.app.as_str());
            ev.push("Data", c.app_data.as_str());
            ev.push("Nativeformats", "(ulaw)");
            ev.push("Readformat", "ulaw");
            ev.push("Writeformat", "ulaw");
            ev.push("Callgroup", "0");
            ev.push("Pickupgroup", "0");
            ev.push("Seconds", secs.to_string());
            if let Some(id) = action.action_id() {
                ev.push("ActionID", id);
            }
            server.list_item(sid, action, &ev)?;
            n += 1;
        }
        let items = n.to_string();
        server.list_complete(sid, action, "StatusComplete", n, &[("Items", &items)])
    }

    fn core_show_channels(
        &mut self,
        server: &mut Server,
        sid: SessionId,
        action: &ActionRef,
        now: Instant,
    ) -> Result<(), ami_proto::server::ServerError> {
        server.list_start(sid, action, "Channels will follow")?;
        let chans = self.channels.clone();
        for c in &chans {
            let mut ev = Self::snapshot_item("CoreShowChannel", c);
            let secs = now.saturating_duration_since(c.created).as_millis() / 1000;
            ev.push("BridgeId", c.bridge.clone().unwrap_or_default());
            ev.push("Application", c.app.as_str());
            ev.push("ApplicationData", c.app_data.as_str());
            ev.push(
                "Duration",
                format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60),
            );
            server.list_item(sid, action, &ev)?;
        }
        server.list_complete(sid, action, "CoreShowChannelsComplete", chans.len(), &[])
    }
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
mod tests {
    use super::civil;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), "1970-01-01 00:00:00");
        assert_eq!(civil(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(civil(1_795_380_045), "2026-11-22 20:40:45");
    }
}
