//! `Dial` (`app_dial.c`) and the basic two-party bridge it puts the answered call in.

use ami_proto::time::Instant;

use super::channel::{ChanId, NewChan, Owner, Party, Tech, snapshot};
use super::exec::{Block, Outcome, Resume, app_args};
use super::{Control, Job, Pbx};

/// One dialled destination.
#[derive(Clone, Debug)]
struct Leg {
    chan: ChanId,
    /// `DIALEDPEERNUMBER` (the resource dialled: `answer@amitest`, `101`).
    number: String,
    done: bool,
}

/// A Dial in progress on a caller's thread.
#[derive(Clone, Debug)]
pub(super) struct DialOp {
    caller: ChanId,
    legs: Vec<Leg>,
    /// `g`: the dialplan goes on when the called party hangs up.
    go_on: bool,
    started: Instant,
    ringing: Option<Instant>,
    answered: Option<(ChanId, Instant)>,
    bridge: Option<u64>,
    /// The timeout's scheduled job.
    timer: Option<u64>,
}

/// A basic bridge.
#[derive(Clone, Debug)]
pub(super) struct Bridge {
    uniqueid: String,
    members: Vec<ChanId>,
}

impl Bridge {
    /// Its `BridgeUniqueid`.
    pub fn uniqueid(&self) -> &str {
        &self.uniqueid
    }
}

/// The variables Dial clears when it starts, in Asterisk's order.
const DIAL_VARS: [&str; 11] = [
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

impl Pbx {
    /// Requests an outgoing channel for `tech/resource` (a Local pair's `;1` or a phone),
    /// `None` for a technology the mock does not have.
    pub(super) fn request(
        &mut self,
        tech: &str,
        resource: &str,
        linkedid: Option<String>,
        ids: (Option<String>, Option<String>),
    ) -> Option<ChanId> {
        if self.chans.len() + 2 > super::MAX_CHANNELS {
            return None;
        }
        if tech.eq_ignore_ascii_case("Local") {
            // `exten@context[/options]`; without a context Asterisk uses `default`.
            let target = resource.split('/').next().unwrap_or(resource);
            let (exten, context) = target.split_once('@').unwrap_or((target, "default"));
            Some(self.local_pair(exten, context, linkedid, ids).0)
        } else if super::phones::PHONE_TECHS.iter().any(|t| t.eq_ignore_ascii_case(tech)) {
            let kind = super::phones::kind_of(resource);
            let name = format!("{tech}/{resource}-{}", self.name_suffix(tech));
            Some(self.new_chan(NewChan {
                name,
                state: super::channel::DOWN,
                caller: Party::default(),
                context: "default".to_owned(),
                exten: "s".to_owned(),
                linkedid,
                uniqueid: ids.0,
                tech: Tech::Phone(kind),
            }))
        } else {
            None
        }
    }

    /// `ast_call`: false if the call could not be placed (the channel is then hung up).
    pub(super) fn call(&mut self, id: ChanId) -> bool {
        match self.chans.get(&id).map(|c| c.tech.clone()) {
            Some(Tech::Local { .. }) => {
                let ok = self.local_call(id);
                if !ok {
                    if let Some(c) = self.chans.get_mut(&id) {
                        c.owner = Owner::None;
                    }
                    self.hangup(id);
                }
                ok
            }
            Some(Tech::Phone(_)) => {
                self.phone_call(id);
                true
            }
            None => false,
        }
    }

    /// Starts `Dial(targets[,timeout[,options]])` on `caller`.
    pub(super) fn dial_start(&mut self, caller: ChanId, data: &str) -> Outcome {
        let args = app_args(data);
        let targets = args.first().cloned().unwrap_or_default();
        let timeout = args.get(1).and_then(|t| t.trim().parse::<f64>().ok()).filter(|t| *t > 0.0);
        let go_on = args.get(2).is_some_and(|o| o.contains('g'));
        for v in DIAL_VARS {
            self.set_var(caller, v, "");
        }
        let op = self.op_id();
        let Some(c) = self.chans.get(&caller) else { return Outcome::Stop };
        let linkedid = c.linkedid.clone();
        let (context, exten) = (c.context.clone(), c.exten.clone());
        let who = Party {
            num: if c.caller.num.is_empty() { c.exten.clone() } else { c.caller.num.clone() },
            name: c.caller.name.clone(),
        };
        let mut legs = Vec::new();
        for target in targets.split('&').filter(|t| !t.trim().is_empty()) {
            let Some((tech, resource)) = target.trim().split_once('/') else { continue };
            let Some(out) = self.request(tech, resource, Some(linkedid.clone()), (None, None))
            else {
                continue;
            };
            // `app_dial`: the outgoing channel inherits the caller's place and number.
            self.set_var(out, "DIALEDPEERNUMBER", resource);
            if let Some(o) = self.chans.get_mut(&out) {
                o.context = context.clone();
                o.exten = exten.clone();
                o.base_app = ("AppDial".to_owned(), "(Outgoing Line)".to_owned());
                o.owner = Owner::Dial(op);
                o.cdr.enabled = false;
                o.caller = who.clone();
            }
            self.chan_event(
                "Newexten",
                out,
                &[
                    ("Extension", &exten),
                    ("Application", "AppDial"),
                    ("AppData", "(Outgoing Line)"),
                ],
            );
            self.chan_event(
                "NewCallerid",
                out,
                &[("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")],
            );
            if !self.call(out) {
                continue;
            }
            self.chans_event(
                "DialBegin",
                &[(caller, ""), (out, "Dest")],
                &[("DialString", resource)],
            );
            legs.push(Leg { chan: out, number: resource.to_owned(), done: false });
        }
        let started = self.now;
        self.dials.insert(
            op,
            DialOp {
                caller,
                legs,
                go_on,
                started,
                ringing: None,
                answered: None,
                bridge: None,
                timer: None,
            },
        );
        if self.dials.get(&op).is_some_and(|d| d.legs.is_empty()) {
            self.dials.remove(&op);
            self.dial_vars(caller, started, None, None, "CHANUNAVAIL");
            return Outcome::Continue;
        }
        if let Some(t) = timeout {
            let d = ami_proto::time::Duration::from_millis((t * 1000.0) as u64);
            let timer = self.after(d, Job::DialTimeout { dial: op });
            if let Some(d) = self.dials.get_mut(&op) {
                d.timer = Some(timer);
            }
        }
        Outcome::Block(Block::Dialing(op))
    }

    /// What Dial sets on the caller when it returns.
    fn dial_vars(
        &mut self,
        caller: ChanId,
        started: Instant,
        ringing: Option<Instant>,
        answered: Option<Instant>,
        status: &str,
    ) {
        let now = self.now;
        let ms = |from: Instant| now.saturating_duration_since(from).as_millis();
        if let Some(a) = answered {
            self.set_var(caller, "ANSWEREDTIME", &(ms(a) / 1000).to_string());
            self.set_var(caller, "ANSWEREDTIME_MS", &ms(a).to_string());
        }
        if let Some(r) = ringing.filter(|_| answered.is_none()) {
            self.set_var(caller, "RINGTIME", &(ms(r) / 1000).to_string());
            self.set_var(caller, "RINGTIME_MS", &ms(r).to_string());
        }
        self.set_var(caller, "DIALEDTIME", &(ms(started) / 1000).to_string());
        self.set_var(caller, "DIALEDTIME_MS", &ms(started).to_string());
        self.set_var(caller, "DIALSTATUS", status);
    }

    /// A dialled leg tells its Dial something.
    pub(super) fn dial_control(&mut self, op: u64, leg: ChanId, control: Control) {
        let Some(d) = self.dials.get(&op).cloned() else {
            // The Dial is over; the leg is on its own.
            if control == Control::Hangup {
                self.hangup(leg);
            }
            return;
        };
        if let Some((peer, _)) = d.answered {
            if control == Control::Hangup && leg == peer {
                self.bridge_dissolve(op, leg);
            }
            return;
        }
        let Some(l) = d.legs.iter().find(|l| l.chan == leg && !l.done).cloned() else { return };
        match control {
            Control::Ringing => {
                if let Some(d) = self.dials.get_mut(&op) {
                    d.ringing.get_or_insert(self.now);
                }
                self.chans_event(
                    "DialState",
                    &[(d.caller, ""), (leg, "Dest")],
                    &[("DialStatus", "RINGING")],
                );
            }
            Control::Answer => self.dial_answered(op, &l),
            Control::Busy | Control::Congestion | Control::Hangup => {
                let status = match control {
                    Control::Busy => "BUSY",
                    Control::Congestion => "CONGESTION",
                    _ => match self.chans.get(&leg).map(|c| c.cause) {
                        Some(17) => "BUSY",
                        Some(34) => "CONGESTION",
                        _ => "CHANUNAVAIL",
                    },
                };
                self.chans_event(
                    "DialEnd",
                    &[(d.caller, ""), (leg, "Dest")],
                    &[("DialStatus", status)],
                );
                self.drop_leg(op, leg);
                self.dial_maybe_over(op, status);
            }
        }
    }

    /// Hangs up a leg that is no longer wanted.
    fn drop_leg(&mut self, op: u64, leg: ChanId) {
        if let Some(d) = self.dials.get_mut(&op)
            && let Some(l) = d.legs.iter_mut().find(|l| l.chan == leg)
        {
            l.done = true;
        }
        if let Some(c) = self.chans.get_mut(&leg) {
            c.owner = Owner::None;
        }
        self.hangup(leg);
    }

    /// Ends an unanswered Dial whose legs have all failed.
    fn dial_maybe_over(&mut self, op: u64, status: &str) {
        let Some(d) = self.dials.get(&op) else { return };
        if d.legs.iter().any(|l| !l.done) {
            return;
        }
        let Some(d) = self.dials.remove(&op) else { return };
        self.cancel(d.timer);
        self.dial_vars(d.caller, d.started, d.ringing, None, status);
        self.resume(d.caller, Resume::Dial(Outcome::Continue));
    }

    /// The Dial's timeout: every leg still ringing is dropped (`NOANSWER`).
    pub(super) fn dial_timeout(&mut self, op: u64) {
        let Some(d) = self.dials.get(&op).cloned() else { return };
        if d.answered.is_some() {
            return;
        }
        for l in d.legs.iter().filter(|l| !l.done) {
            self.chans_event(
                "DialEnd",
                &[(d.caller, ""), (l.chan, "Dest")],
                &[("DialStatus", "NOANSWER")],
            );
            self.drop_leg(op, l.chan);
        }
        self.dial_maybe_over(op, "NOANSWER");
    }

    /// A leg answered: the others are cancelled and the caller and it are bridged.
    fn dial_answered(&mut self, op: u64, leg: &Leg) {
        let Some(d) = self.dials.get(&op).cloned() else { return };
        let caller = d.caller;
        let name = self.chans.get(&leg.chan).map(|c| c.name.clone()).unwrap_or_default();
        self.set_var(caller, "DIALSTATUS", "ANSWER");
        self.set_var(caller, "DIALEDPEERNAME", &name);
        self.set_var(caller, "DIALEDPEERNUMBER", &leg.number);
        if let Some(c) = self.chans.get_mut(&leg.chan) {
            c.exten.clear();
        }
        self.chans_event(
            "DialEnd",
            &[(caller, ""), (leg.chan, "Dest")],
            &[("DialStatus", "ANSWER")],
        );
        for other in d.legs.iter().filter(|l| l.chan != leg.chan && !l.done) {
            self.chans_event(
                "DialEnd",
                &[(caller, ""), (other.chan, "Dest")],
                &[("DialStatus", "CANCEL")],
            );
            if let Some(c) = self.chans.get_mut(&other.chan) {
                c.cause = 26;
            }
            self.drop_leg(op, other.chan);
        }
        let now = self.now;
        let timer = self.dials.get_mut(&op).and_then(|d| {
            d.answered = Some((leg.chan, now));
            d.timer.take()
        });
        self.cancel(timer);
        // The caller's record now has the called party (and is answered with it).
        self.cdr_answer(caller);
        if let Some(c) = self.chans.get_mut(&caller) {
            c.cdr.set_peer(&name);
        }
        let bridge = self.bridge_create();
        if let Some(d) = self.dials.get_mut(&op) {
            d.bridge = Some(bridge);
        }
        self.chan_event(
            "Newexten",
            leg.chan,
            &[("Extension", ""), ("Application", "AppDial"), ("AppData", "(Outgoing Line)")],
        );
        self.bridge_enter(bridge, leg.chan);
        self.bridge_enter(bridge, caller);
        let caller_name = self.chans.get(&caller).map(|c| c.name.clone()).unwrap_or_default();
        self.set_var(leg.chan, "BRIDGEPEER", &caller_name);
        self.set_var(caller, "BRIDGEPEER", &name);
    }

    /// The called party of a bridged Dial hung up: the bridge dissolves, the leg is hung
    /// up, and the caller's Dial returns.
    fn bridge_dissolve(&mut self, op: u64, leg: ChanId) {
        let Some(d) = self.dials.remove(&op) else { return };
        let caller = d.caller;
        let peer = self.chans.get(&leg).map(|c| c.name.clone()).unwrap_or_default();
        let cause = self.chans.get(&leg).map_or(16, |c| if c.cause == 0 { 16 } else { c.cause });
        if let Some(bridge) = d.bridge {
            self.set_var(leg, "BRIDGEPEER", "");
            self.set_var(caller, "BRIDGEPEER", "");
            self.bridge_leave(bridge, leg);
            if let Some(c) = self.chans.get_mut(&leg) {
                c.owner = Owner::None;
            }
            self.hangup(leg);
            self.bridge_leave(bridge, caller);
            self.bridge_destroy(bridge);
        } else {
            self.hangup(leg);
        }
        // The caller hangs up (or goes on) with the called party's cause.
        if let Some(c) = self.chans.get_mut(&caller)
            && c.cause == 0
        {
            c.cause = cause;
        }
        let answered = d.answered.map(|(_, at)| at);
        self.dial_vars(caller, d.started, d.ringing, answered, "ANSWER");
        let outcome = if d.go_on {
            self.cdr_after_dial(caller, &peer);
            Outcome::Continue
        } else {
            Outcome::Stop
        };
        self.resume(caller, Resume::Dial(outcome));
    }

    /// The caller of a Dial is hung up: ringing legs are cancelled, a bridged one is hung
    /// up; the Dial returns -1.
    pub(super) fn dial_caller_hangup(&mut self, op: u64) -> Outcome {
        let Some(d) = self.dials.remove(&op) else { return Outcome::Stop };
        self.cancel(d.timer);
        let caller = d.caller;
        match d.answered {
            Some((leg, at)) => {
                if let Some(bridge) = d.bridge {
                    self.set_var(caller, "BRIDGEPEER", "");
                    self.set_var(leg, "BRIDGEPEER", "");
                    self.bridge_leave(bridge, caller);
                    self.bridge_leave(bridge, leg);
                    self.bridge_destroy(bridge);
                }
                if let Some(c) = self.chans.get_mut(&leg) {
                    c.owner = Owner::None;
                    if c.cause == 0 {
                        c.cause = 16;
                    }
                }
                self.hangup(leg);
                self.dial_vars(caller, d.started, d.ringing, Some(at), "ANSWER");
            }
            None => {
                for l in d.legs.iter().filter(|l| !l.done) {
                    self.chans_event(
                        "DialEnd",
                        &[(caller, ""), (l.chan, "Dest")],
                        &[("DialStatus", "CANCEL")],
                    );
                    if let Some(c) = self.chans.get_mut(&l.chan) {
                        c.owner = Owner::None;
                    }
                    self.hangup(l.chan);
                }
                self.dial_vars(caller, d.started, d.ringing, None, "CANCEL");
            }
        }
        Outcome::Stop
    }

    // ---- bridges ----

    pub(super) fn bridge_fields(&self, bridge: u64) -> Vec<(String, String)> {
        let Some(b) = self.bridges.get(&bridge) else { return Vec::new() };
        [
            ("BridgeUniqueid", b.uniqueid.clone()),
            ("BridgeType", "basic".to_owned()),
            ("BridgeTechnology", "simple_bridge".to_owned()),
            ("BridgeCreator", "<unknown>".to_owned()),
            ("BridgeName", "<unknown>".to_owned()),
            ("BridgeNumChannels", b.members.len().to_string()),
            ("BridgeVideoSourceMode", "none".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    fn bridge_create(&mut self) -> u64 {
        let id = self.op_id();
        let (a, b, c) = (self.next_rand(), self.next_rand(), self.next_rand());
        let uniqueid = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            a & 0xffff,
            b & 0xfff,
            0x8000 | (b >> 16 & 0x3fff),
            c & 0xffff_ffff_ffff
        );
        self.bridges.insert(id, Bridge { uniqueid, members: Vec::new() });
        let f = self.bridge_fields(id);
        self.publish("BridgeCreate", &f);
        id
    }

    fn bridge_event(&mut self, name: &str, bridge: u64, chan: ChanId) {
        let mut f = self.bridge_fields(bridge);
        if let Some(c) = self.chans.get(&chan) {
            snapshot(&mut f, c, "");
        }
        self.publish(name, &f);
    }

    fn cel_bridge(&mut self, event: &str, bridge: u64, chan: ChanId) {
        let Some(b) = self.bridges.get(&bridge) else { return };
        let extra =
            format!("{{\"bridge_id\":\"{}\",\"bridge_technology\":\"simple_bridge\"}}", b.uniqueid);
        let peer: Vec<String> = b
            .members
            .iter()
            .filter(|m| **m != chan)
            .filter_map(|m| self.chans.get(m).map(|c| c.name.clone()))
            .collect();
        self.cel(chan, event, &peer.join(","), &extra);
    }

    fn bridge_enter(&mut self, bridge: u64, chan: ChanId) {
        if let Some(b) = self.bridges.get_mut(&bridge) {
            b.members.push(chan);
        }
        if let Some(c) = self.chans.get_mut(&chan) {
            c.bridge = Some(bridge);
        }
        self.cel_bridge("BRIDGE_ENTER", bridge, chan);
        self.bridge_event("BridgeEnter", bridge, chan);
    }

    fn bridge_leave(&mut self, bridge: u64, chan: ChanId) {
        if let Some(b) = self.bridges.get_mut(&bridge) {
            b.members.retain(|m| *m != chan);
        }
        if let Some(c) = self.chans.get_mut(&chan) {
            c.bridge = None;
        }
        self.bridge_event("BridgeLeave", bridge, chan);
        self.cel_bridge("BRIDGE_EXIT", bridge, chan);
    }

    fn bridge_destroy(&mut self, bridge: u64) {
        let f = self.bridge_fields(bridge);
        self.publish("BridgeDestroy", &f);
        self.bridges.remove(&bridge);
    }

    /// The bridge a channel is in, as `BridgeID` of Status.
    pub(super) fn bridge_uniqueid(&self, chan: ChanId) -> String {
        self.chans
            .get(&chan)
            .and_then(|c| c.bridge)
            .and_then(|b| self.bridges.get(&b))
            .map(|b| b.uniqueid.clone())
            .unwrap_or_default()
    }
}
